/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routes and neighbours at runtime. The CE keeps its own lists (the file's
 * items first, then what the control socket added, in order); every change
 * builds a complete new forwarding table from the new lists and swaps it
 * in: rte_fib has no RCU protection for in-place deletes, so a table the
 * data lcores may read is never modified.
 *
 *   validate the whole new set -> build a new sg_route -> copy the lists
 *   -> publish (one pointer store, release) -> RCU grace period
 *   -> destroy the old table
 *
 * Readers (CFE bypass, DFE after decryption) load the published pointer
 * once per burst (acquire) and report quiescence at the end of each loop
 * iteration (ce_lcore_main), so after the grace period no lcore can hold
 * the old table. Until then both tables exist: DIR-24-8 with 2-byte next
 * hops (32 MiB) and the IPv6 trie (32 MiB) each, so a swap needs about
 * 64 MiB of free DPDK memory on top of the running table (docs/
 * architecture.md).
 *
 * Outbound SAs keep the egress they resolved at install (SA-pinned egress,
 * tunnel-routing-bypass): a route change reaches clear traffic at once and
 * SAs installed afterwards; ce_sa_pin_stale() tells which installed SAs
 * would now resolve elsewhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>

#include "ce_priv.h"

static int
port_by_name(const struct ce *ce, const char *name)
{
	unsigned i;

	for (i = 0; i < ce->dep->n_ports; i++)
		if (strcmp(ce->dep->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void __attribute__((format(printf, 3, 4)))
say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static bool
same_prefix(const struct sg_prefix *a, const struct sg_prefix *b)
{
	return a->len == b->len &&
		memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static bool
same_neigh(const struct ce_neigh_cfg *a, const struct ce_neigh_cfg *b)
{
	return strcmp(a->port, b->port) == 0 &&
		memcmp(&a->ip, &b->ip, sizeof(a->ip)) == 0;
}

/*
 * What only the parser checks within one file: no two routes to one
 * destination, no neighbour (ip, port) twice. Pairwise: route sets are
 * small, and this runs on the CE thread, off the data path.
 */
static int
check_dups(const struct ce_route_cfg *rt, unsigned nr,
	   const struct ce_neigh_cfg *nb, unsigned nn, char *err, size_t len)
{
	char a[64];
	unsigned i, j;

	for (i = 0; i < nr; i++)
		for (j = 0; j < i; j++)
			if (same_prefix(&rt[i].dst, &rt[j].dst)) {
				say(err, len, "duplicate route to %s",
				    sg_prefix_fmt(&rt[i].dst, a, sizeof(a)));
				return -EEXIST;
			}
	for (i = 0; i < nn; i++)
		for (j = 0; j < i; j++)
			if (same_neigh(&nb[i], &nb[j])) {
				say(err, len, "duplicate neighbor %s on port %s",
				    sg_addr_fmt(&nb[i].ip, a, sizeof(a)),
				    nb[i].port);
				return -EEXIST;
			}
	return 0;
}

/* ce_config_validate()'s messages without their "request:LINE: " head,
 * joined by '\n'. */
static void
diag_text(const struct ce_diag *d, char *err, size_t len)
{
	const char *p = d->buf != NULL ? d->buf : "invalid routes";
	size_t o = 0;

	if (err == NULL || len == 0)
		return;
	err[0] = '\0';
	while (*p != '\0' && o + 1 < len) {
		const char *nl = strchr(p, '\n'), *m = p;
		size_t l;

		if (nl == NULL)
			nl = p + strlen(p);
		if (strncmp(m, "request:", 8) == 0) {
			const char *q = m + 8 + strspn(m + 8, "0123456789");

			if (q > m + 8 && q[0] == ':')
				q++;
			if (q[0] == ' ')
				m = q + 1;
		}
		l = (size_t)(nl - m);
		if (o != 0 && o + 1 < len)
			err[o++] = '\n';
		if (l > len - o - 1)
			l = len - o - 1;
		memcpy(err + o, m, l);
		o += l;
		err[o] = '\0';
		p = *nl == '\n' ? nl + 1 : nl;
	}
}

/*
 * A complete forwarding table from lists already validated: neighbours
 * first, then the routes whose via they resolve. Its rte_fib, rte_fib6 and
 * rte_hash names carry a generation number: the old table still exists
 * while the new one is built, and DPDK refuses a name twice.
 */
static struct sg_route *
build(struct ce *ce, const struct ce_route_cfg *rt, unsigned nr,
      const struct ce_neigh_cfg *nb, unsigned nn, char *err, size_t len)
{
	char name[32], a[64];
	struct sg_route_conf rc = {
		.name = name,
		.socket = (int)rte_socket_id(),
		.max_routes = nr + 16,
		.max_neigh = nn + 16,
	};
	struct sg_route *r;
	unsigned i;
	int p, rv;

	snprintf(name, sizeof(name), "sgr%u", ce->route_gen++);
	r = sg_route_create(&rc);
	if (r == NULL) {
		say(err, len, "cannot create a forwarding table (%s): %s",
		    name, rte_strerror(rte_errno));
		return NULL;
	}
	for (i = 0; i < ce->n_ports; i++)
		sg_route_port_mac(r, ce->port_id[i], &ce->port_mac[i]);
	for (i = 0; i < nn; i++) {
		struct rte_ether_addr mac;

		p = port_by_name(ce, nb[i].port);
		if (p < 0 || (unsigned)p >= ce->n_ports) {
			say(err, len, "neighbor %s: no port %s",
			    sg_addr_fmt(&nb[i].ip, a, sizeof(a)), nb[i].port);
			goto fail;
		}
		memcpy(mac.addr_bytes, nb[i].mac, 6);
		rv = sg_route_neigh_add(r, &nb[i].ip, ce->port_id[p], &mac);
		if (rv != 0) {
			say(err, len, "neighbor %s: %s",
			    sg_addr_fmt(&nb[i].ip, a, sizeof(a)), strerror(-rv));
			goto fail;
		}
	}
	for (i = 0; i < nr; i++) {
		p = port_by_name(ce, rt[i].port);
		if (p < 0 || (unsigned)p >= ce->n_ports) {
			say(err, len, "route %s: no port %s",
			    sg_prefix_fmt(&rt[i].dst, a, sizeof(a)), rt[i].port);
			goto fail;
		}
		rv = sg_route_add(r, &rt[i].dst, ce->port_id[p],
				  rt[i].has_via ? &rt[i].via : NULL);
		if (rv != 0) {
			say(err, len, "route %s: %s%s",
			    sg_prefix_fmt(&rt[i].dst, a, sizeof(a)), strerror(-rv),
			    rv == -ENOSPC ? " (the forwarding table is full: "
			    "too many routes, or IPv4 prefixes longer than /24 in "
			    "more than 256 /24 networks)" : "");
			goto fail;
		}
	}
	return r;
fail:
	sg_route_destroy(r);
	return NULL;
}

/* Copies of the lists, for ce->routes / ce->nbrs (n may be 0). */
static int
dup_lists(const struct ce_route_cfg *rt, unsigned nr,
	  const struct ce_neigh_cfg *nb, unsigned nn,
	  struct ce_route_cfg **rto, struct ce_neigh_cfg **nbo)
{
	*rto = malloc(sizeof(**rto) * (nr + 1));
	*nbo = malloc(sizeof(**nbo) * (nn + 1));
	if (*rto == NULL || *nbo == NULL) {
		free(*rto);
		free(*nbo);
		return -ENOMEM;
	}
	if (nr != 0)
		memcpy(*rto, rt, sizeof(*rt) * nr);
	if (nn != 0)
		memcpy(*nbo, nb, sizeof(*nb) * nn);
	return 0;
}

int
ce_route_init(struct ce *ce)
{
	const struct ce_policydb *db = ce->db;
	char err[256];

	if (dup_lists(db->routes, db->n_routes, db->neighbors, db->n_neighbors,
		      &ce->routes, &ce->nbrs) != 0)
		return -ENOMEM;
	ce->n_routes = db->n_routes;
	ce->n_nbrs = db->n_neighbors;
	ce->route = build(ce, ce->routes, ce->n_routes, ce->nbrs, ce->n_nbrs,
			  err, sizeof(err));
	if (ce->route == NULL) {
		CE_LOG(ERR, "%s: %s", db->path, err);
		return -ENOMEM;
	}
	return 0;
}

void
ce_route_fini(struct ce *ce)
{
	sg_route_destroy(ce->route);
	ce->route = NULL;
	free(ce->routes);
	free(ce->nbrs);
	ce->routes = NULL;
	ce->nbrs = NULL;
	ce->n_routes = ce->n_nbrs = 0;
}

int
ce_routes_apply(struct ce *ce, struct ce_route_cfg *routes, unsigned nr,
		struct ce_neigh_cfg *nbr, unsigned nn, char *err, size_t errlen)
{
	struct ce_policydb only = { .path = "request" };
	struct ce_route_cfg *rto;
	struct ce_neigh_cfg *nbo;
	struct sg_route *nr_tbl, *old;
	struct ce_diag d;
	int rc;

	say(err, errlen, "%s", "");
	rc = check_dups(routes, nr, nbr, nn, err, errlen);
	if (rc != 0)
		return rc;
	/* the cross-checks of the files: ports exist, every via has its
	 * neighbour on the route's port */
	only.routes = routes;
	only.n_routes = nr;
	only.neighbors = nbr;
	only.n_neighbors = nn;
	ce_diag_init(&d);
	rc = ce_config_validate(ce->dep, &only, &d);
	if (rc != 0) {
		diag_text(&d, err, errlen);
		ce_diag_fini(&d);
		return -EINVAL;
	}
	ce_diag_fini(&d);

	nr_tbl = build(ce, routes, nr, nbr, nn, err, errlen);
	if (nr_tbl == NULL)
		return -ENOMEM;
	if (dup_lists(routes, nr, nbr, nn, &rto, &nbo) != 0) {
		sg_route_destroy(nr_tbl);
		say(err, errlen, "out of memory");
		return -ENOMEM;
	}

	/* a reader that loads the new pointer sees a complete table */
	old = ce->route;
	__atomic_store_n(&ce->route, nr_tbl, __ATOMIC_RELEASE);
	rte_rcu_qsbr_synchronize(ce->qsv, ce_rcu_self(ce));
	sg_route_destroy(old);

	free(ce->routes);
	free(ce->nbrs);
	ce->routes = rto;
	ce->nbrs = nbo;
	ce->n_routes = nr;
	ce->n_nbrs = nn;
	return 0;
}

bool
ce_sa_pin_stale(const struct ce *ce, const struct ce_sa *sa)
{
	struct rte_ether_hdr eth;
	uint16_t port;

	if (sa->cfg->dir != CE_DIR_OUT || sa->rt == NULL ||
	    (sa->state != CE_SA_INSTALLING && sa->state != CE_SA_INSTALLED))
		return false;
	if (sg_route_resolve(ce->route, &sa->cfg->remote, &port, &eth) != 0)
		return true;
	return port != sa->pin_port ||
		!rte_is_same_ether_addr(&eth.dst_addr, &sa->pin_eth.dst_addr) ||
		!rte_is_same_ether_addr(&eth.src_addr, &sa->pin_eth.src_addr);
}
