/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checks that need the whole deployment, or both files. What each loader
 * can see on its own (types, ranges, required keys, duplicates within a
 * list of items) is checked there. Here, and nothing more:
 *
 * deployment (reported against dep->path, at the line of the group):
 *   - lcores: at least one cfe and one dfe lcore; no lcore twice in the cfe
 *     list nor in the dfe list. An lcore in both lists, or the ce lcore in
 *     either, is fine: roles may share an lcore (CONTRACT.md).
 *   - ports: at least one unprotected and one protected port.
 *   - crypto: at least one device.
 * policy database (reported against db->path, at the item's line):
 *   - every route and neighbour names a port of the deployment;
 *   - a route with a next hop (via) has a neighbour entry for that address
 *     on the route's port (spigate does not resolve addresses itself);
 *   - the inbound protect policies naming one SA are at most
 *     CE_MAX_SA_SELECTORS (they become its selectors); the protect policies
 *     naming a tunnel SA (either direction) are all of one IP family:
 *     lib/ipsec handles one inner family per SA.
 *
 * Not checked: whether a tunnel SA's local address is one of the
 * unprotected ports' addresses (there is no warning channel, and an
 * address may be added later).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ce_config.h"

static int lcore_dups(const struct ce_deploy *dep, struct ce_diag *diag,
		      const char *list, const unsigned *ids, unsigned n)
{
	unsigned i, j;
	int rc = 0;

	if (n == 0) {
		ce_diag_add(diag, dep->path, dep->lcores_line,
			    "lcores.%s: at least one lcore is needed", list);
		return -EINVAL;
	}
	for (i = 1; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (ids[i] != ids[j])
				continue;
			ce_diag_add(diag, dep->path, dep->lcores_line,
				    "lcores.%s: lcore %u listed twice", list,
				    ids[i]);
			rc = -EINVAL;
			break;
		}
	}
	return rc;
}

static int check_deploy(const struct ce_deploy *dep, struct ce_diag *diag)
{
	unsigned i, n_prot = 0, n_unprot = 0;
	int rc = 0;

	if (lcore_dups(dep, diag, "cfe", dep->cfe_lcores, dep->n_cfe) < 0)
		rc = -EINVAL;
	if (lcore_dups(dep, diag, "dfe", dep->dfe_lcores, dep->n_dfe) < 0)
		rc = -EINVAL;
	for (i = 0; i < dep->n_ports; i++) {
		if (dep->ports[i].role == CE_PORT_PROTECTED)
			n_prot++;
		else
			n_unprot++;
	}
	if (n_unprot == 0) {
		ce_diag_add(diag, dep->path, dep->ports_line,
			    "ports: no port with role \"unprotected\"");
		rc = -EINVAL;
	}
	if (n_prot == 0) {
		ce_diag_add(diag, dep->path, dep->ports_line,
			    "ports: no port with role \"protected\"");
		rc = -EINVAL;
	}
	if (dep->n_cryptodevs == 0) {
		ce_diag_add(diag, dep->path, dep->crypto_line,
			    "crypto.devices: at least one device is needed");
		rc = -EINVAL;
	}
	return rc;
}

static const struct ce_port_cfg *find_port(const struct ce_deploy *dep,
					   const char *name)
{
	unsigned i;

	for (i = 0; i < dep->n_ports; i++)
		if (strcmp(dep->ports[i].name, name) == 0)
			return &dep->ports[i];
	return NULL;
}

static int check_db(const struct ce_deploy *dep, const struct ce_policydb *db,
		    struct ce_diag *diag)
{
	char buf[64];
	unsigned i, j;
	int rc = 0;

	for (i = 0; i < db->n_neighbors; i++) {
		const struct ce_neigh_cfg *n = &db->neighbors[i];

		if (find_port(dep, n->port) == NULL) {
			ce_diag_add(diag, db->path, n->line,
				    "neighbors[%u].port: no port named \"%s\" in %s",
				    i, n->port, dep->path);
			rc = -EINVAL;
		}
	}
	for (i = 0; i < db->n_routes; i++) {
		const struct ce_route_cfg *r = &db->routes[i];

		if (find_port(dep, r->port) == NULL) {
			ce_diag_add(diag, db->path, r->line,
				    "routes[%u].port: no port named \"%s\" in %s",
				    i, r->port, dep->path);
			rc = -EINVAL;
			continue;
		}
		if (!r->has_via)
			continue;
		for (j = 0; j < db->n_neighbors; j++) {
			const struct ce_neigh_cfg *n = &db->neighbors[j];

			if (strcmp(n->port, r->port) == 0 &&
			    memcmp(&n->ip, &r->via, sizeof(r->via)) == 0)
				break;
		}
		if (j == db->n_neighbors) {
			ce_diag_add(diag, db->path, r->line,
				    "routes[%u].via: no neighbor %s on port %s",
				    i, sg_addr_fmt(&r->via, buf, sizeof(buf)),
				    r->port);
			rc = -EINVAL;
		}
	}
	return rc;
}

/* Sort helpers: protect policies by (dir, spi, position); SAs by
 * (dir, spi, position). qsort_r with the database as the argument. */
static int pol_cmp(const void *a, const void *b, void *arg)
{
	const struct ce_policy_cfg *v = arg;
	const struct ce_policy_cfg *x = &v[*(const unsigned *)a];
	const struct ce_policy_cfg *y = &v[*(const unsigned *)b];

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->sa_spi != y->sa_spi)
		return x->sa_spi < y->sa_spi ? -1 : 1;
	return *(const unsigned *)a < *(const unsigned *)b ? -1 : 1;
}

static int sa_cmp(const void *a, const void *b, void *arg)
{
	const struct ce_sa_cfg *v = arg;
	const struct ce_sa_cfg *x = &v[*(const unsigned *)a];
	const struct ce_sa_cfg *y = &v[*(const unsigned *)b];

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->spi != y->spi)
		return x->spi < y->spi ? -1 : 1;
	return *(const unsigned *)a < *(const unsigned *)b ? -1 : 1;
}

/* The SA of (dir, spi) in the sorted index, or NULL. */
static const struct ce_sa_cfg *find_sa(const struct ce_policydb *db,
				       const unsigned *idx, unsigned n,
				       enum ce_dir dir, uint32_t spi)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct ce_sa_cfg *m = &db->sas[idx[mid]];

		if (m->dir < dir || (m->dir == dir && m->spi < spi))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && db->sas[idx[lo]].dir == dir && db->sas[idx[lo]].spi == spi)
		return &db->sas[idx[lo]];
	return NULL;
}

/*
 * The protect policies that name an SA: at most CE_MAX_SA_SELECTORS
 * inbound (they become its selectors); all of one IP family for a tunnel
 * SA, either direction. Outbound SAs are found by SPI alone: unique SPIs.
 * Sorted indexes keep this linear-logarithmic for large databases.
 */
static int check_sas_policies(const struct ce_policydb *db,
			      struct ce_diag *diag)
{
	unsigned *pi = malloc(sizeof(unsigned) * (db->n_policies + 1));
	unsigned *si = malloc(sizeof(unsigned) * (db->n_sas + 1));
	unsigned i, np = 0, run, n;
	int rc = 0;

	if (pi == NULL || si == NULL) {
		free(pi);
		free(si);
		return -ENOMEM;
	}
	for (i = 0; i < db->n_policies; i++)
		if (db->policies[i].action == CE_ACT_PROTECT &&
		    db->policies[i].has_sa)
			pi[np++] = i;
	for (i = 0; i < db->n_sas; i++)
		si[i] = i;
	qsort_r(pi, np, sizeof(*pi), pol_cmp, db->policies);
	qsort_r(si, db->n_sas, sizeof(*si), sa_cmp, db->sas);

	for (i = 1; i < db->n_sas; i++) {
		const struct ce_sa_cfg *x = &db->sas[si[i - 1]];
		const struct ce_sa_cfg *y = &db->sas[si[i]];

		if (y->dir != CE_DIR_OUT || x->dir != CE_DIR_OUT ||
		    x->spi != y->spi)
			continue;
		ce_diag_add(diag, db->path, y->line,
			    "sas[%u]: outbound spi 0x%x already at line %d "
			    "(outbound SAs are found by SPI alone)", si[i],
			    y->spi, x->line);
		rc = -EINVAL;
	}

	for (run = 0; run < np; run = i) {
		const struct ce_policy_cfg *first = &db->policies[pi[run]];
		const struct ce_sa_cfg *sa = find_sa(db, si, db->n_sas,
						     first->dir, first->sa_spi);

		for (i = run, n = 0; i < np &&
		     db->policies[pi[i]].dir == first->dir &&
		     db->policies[pi[i]].sa_spi == first->sa_spi; i++, n++) {
			const struct ce_policy_cfg *p = &db->policies[pi[i]];

			if (sa == NULL)
				continue;
			if (n == CE_MAX_SA_SELECTORS && p->dir == CE_DIR_IN) {
				ce_diag_add(diag, db->path, p->line,
					    "policies[%u]: SA 0x%x is named by more "
					    "than %u inbound protect policies", pi[i],
					    sa->spi, CE_MAX_SA_SELECTORS);
				rc = -EINVAL;
			}
			if (n > 0 && sa->mode == CE_MODE_TUNNEL &&
			    p->src.addr.family != first->src.addr.family) {
				ce_diag_add(diag, db->path, p->line,
					    "policies[%u]: SA 0x%x carries IPv%u "
					    "traffic (policy at line %d); a tunnel SA "
					    "carries one inner IP family", pi[i],
					    sa->spi, first->src.addr.family,
					    first->line);
				rc = -EINVAL;
			}
		}
	}
	free(pi);
	free(si);
	return rc;
}

int ce_config_validate(const struct ce_deploy *dep, const struct ce_policydb *db,
		       struct ce_diag *diag)
{
	int rc;

	if (dep == NULL || diag == NULL)
		return -EINVAL;
	rc = check_deploy(dep, diag);
	if (db != NULL && check_db(dep, db, diag) < 0)
		rc = -EINVAL;
	if (db != NULL && check_sas_policies(db, diag) < 0)
		rc = -EINVAL;
	return rc;
}
