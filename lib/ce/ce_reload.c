/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reload: read the policy database again and apply only what changed in
 * the file since it was last loaded (at start or by the previous reload).
 *
 *   SAs, by key (dir, spi, and local address for inbound SAs; outbound SAs
 *   are found by SPI alone): unchanged in the file -> untouched, whatever
 *   happened to the running SA meanwhile (a deleted or expired SA is not
 *   brought back: its key must not encrypt again from sequence number 1);
 *   changed -> the running SA of that key removed, the new one added; new
 *   in the file -> added (an SA of that key added at runtime is a conflict:
 *   the reload is refused); gone from the file -> the running SA of that
 *   key removed.
 *   Policies: the file's policies, in file order, then those added at
 *   runtime, in their order. A policy equal (every key) to one of the
 *   previous file keeps its identity: its held packets stay held.
 *   Routes and neighbours: the file's, then those added at runtime (items
 *   not equal to one of the previous file); a new table is built and
 *   swapped in (ce_routes_apply()) only when the lists differ.
 *
 * The new file goes through the same loader and validator as at start,
 * and the result is checked against the SAs as the reload will leave them
 * before anything changes: a file with an error changes nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_errno.h>
#include <rte_hash.h>

#include "ce_priv.h"

/* Same SA: every key of the policy database equal (not the line). */
static bool
sa_cfg_eq(const struct ce_sa_cfg *a, const struct ce_sa_cfg *b)
{
	return a->spi == b->spi && a->dir == b->dir && a->mode == b->mode &&
		a->aead == b->aead && a->cipher == b->cipher &&
		a->auth == b->auth && a->key_len == b->key_len &&
		memcmp(a->key, b->key, a->key_len) == 0 &&
		a->cipher_key_len == b->cipher_key_len &&
		memcmp(a->cipher_key, b->cipher_key, a->cipher_key_len) == 0 &&
		a->auth_key_len == b->auth_key_len &&
		memcmp(a->auth_key, b->auth_key, a->auth_key_len) == 0 &&
		sg_addr_eq(&a->local, &b->local) &&
		sg_addr_eq(&a->remote, &b->remote) && a->encap == b->encap &&
		a->encap_sport == b->encap_sport &&
		a->encap_dport == b->encap_dport &&
		a->replay_window == b->replay_window && a->esn == b->esn &&
		a->soft.seconds == b->soft.seconds &&
		a->soft.bytes == b->soft.bytes &&
		a->soft.packets == b->soft.packets &&
		a->hard.seconds == b->hard.seconds &&
		a->hard.bytes == b->hard.bytes &&
		a->hard.packets == b->hard.packets &&
		a->install == b->install && a->has_replaces == b->has_replaces &&
		(!a->has_replaces || a->replaces == b->replaces);
}

/* Order of SA keys: dir, spi, then (inbound) the local address. */
static int
key_cmp(const struct ce_sa_cfg *x, const struct ce_sa_cfg *y)
{
	int c;

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->spi != y->spi)
		return x->spi < y->spi ? -1 : 1;
	if (x->dir == CE_DIR_OUT)
		return 0;
	if (x->local.family != y->local.family)
		return x->local.family < y->local.family ? -1 : 1;
	c = memcmp(x->local.a, y->local.a, 16);
	return c < 0 ? -1 : c > 0;
}

static int
idx_cmp(const void *a, const void *b, void *arg)
{
	const struct ce_sa_cfg *v = arg;

	return key_cmp(&v[*(const unsigned *)a], &v[*(const unsigned *)b]);
}

static int
cfg_cmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

/* The old file's SA with the key of c, by binary search in idx. */
static int
find_key(const struct ce_sa_cfg *v, const unsigned *idx, unsigned n,
	 const struct ce_sa_cfg *c)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (key_cmp(&v[idx[mid]], c) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && key_cmp(&v[idx[lo]], c) == 0 ? (int)idx[lo] : -1;
}

/* The running SA with the key of c, or NULL. */
static struct ce_sa *
running(struct ce *ce, const struct ce_sa_cfg *c)
{
	struct ce_sa *sa;
	void *d;

	if (c->dir == CE_DIR_OUT)
		return ce_sa_find_out(ce, c->spi);
	if (rte_hash_lookup_data(ce->by_spi, &c->spi, &d) < 0)
		return NULL;
	for (sa = d; sa != NULL; sa = sa->next_spi)
		if (key_cmp(sa->cfg, c) == 0)
			return sa;
	return NULL;
}

static json_t *
spi_item(const struct ce_sa_cfg *c)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%08x", c->spi);
	return json_pack("{s:s,s:s}", "spi", buf, "dir",
			 c->dir == CE_DIR_IN ? "in" : "out");
}

static json_t *
fail(const char *fmt, ...)
{
	char buf[PATH_MAX + 1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:b,s:s}", "ok", 0, "error", buf);
}

enum { SA_SAME, SA_CHANGED, SA_NEW };

static bool
route_eq(const struct ce_route_cfg *a, const struct ce_route_cfg *b)
{
	return a->dst.len == b->dst.len && sg_addr_eq(&a->dst.addr, &b->dst.addr) &&
		strcmp(a->port, b->port) == 0 && a->has_via == b->has_via &&
		(!a->has_via || sg_addr_eq(&a->via, &b->via));
}

static bool
neigh_eq(const struct ce_neigh_cfg *a, const struct ce_neigh_cfg *b)
{
	return sg_addr_eq(&a->ip, &b->ip) && memcmp(a->mac, b->mac, 6) == 0 &&
		strcmp(a->port, b->port) == 0;
}

struct plan {
	uint8_t *kind;                /* per new SA */
	bool *kept;                   /* per old SA: still in the new file */
	struct ce_sa **gone;          /* running SAs to remove */
	unsigned n_gone;
	struct ce_sa_cfg *added;      /* to add, sorted by key (the view) */
	unsigned n_added;
	struct ce_policy_cfg *pol;    /* the new policy list */
	uint32_t *uid;
	uint32_t *file_uid;           /* of the new file's policies */
	unsigned n_pol;
	unsigned pol_kept, pol_new, pol_runtime;
	struct ce_route_cfg *rt;      /* the new route and neighbour lists */
	unsigned n_rt, rt_runtime;
	struct ce_neigh_cfg *nb;
	unsigned n_nb, nb_runtime;
	bool rt_changed;
};

static void
plan_free(struct plan *p)
{
	free(p->kind);
	free(p->kept);
	free(p->gone);
	free(p->added);
	free(p->pol);
	free(p->uid);
	free(p->file_uid);
	free(p->rt);
	free(p->nb);
}

/* Routes and neighbours: the new file's, then the runtime ones. */
static int
plan_routes(struct ce *ce, const struct ce_policydb *old,
	    const struct ce_policydb *nd, struct plan *p, char *err, size_t len)
{
	unsigned i, j;

	p->rt = calloc(nd->n_routes + ce->n_routes + 1, sizeof(*p->rt));
	p->nb = calloc(nd->n_neighbors + ce->n_nbrs + 1, sizeof(*p->nb));
	if (p->rt == NULL || p->nb == NULL) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < nd->n_routes; i++)
		p->rt[p->n_rt++] = nd->routes[i];
	for (i = 0; i < ce->n_routes; i++) {
		for (j = 0; j < old->n_routes &&
		     !route_eq(&ce->routes[i], &old->routes[j]); j++)
			;
		if (j == old->n_routes) {
			p->rt[p->n_rt++] = ce->routes[i];
			p->rt_runtime++;
		}
	}
	for (i = 0; i < nd->n_neighbors; i++)
		p->nb[p->n_nb++] = nd->neighbors[i];
	for (i = 0; i < ce->n_nbrs; i++) {
		for (j = 0; j < old->n_neighbors &&
		     !neigh_eq(&ce->nbrs[i], &old->neighbors[j]); j++)
			;
		if (j == old->n_neighbors) {
			p->nb[p->n_nb++] = ce->nbrs[i];
			p->nb_runtime++;
		}
	}
	p->rt_changed = p->n_rt != ce->n_routes || p->n_nb != ce->n_nbrs;
	for (i = 0; i < p->n_rt && !p->rt_changed; i++)
		p->rt_changed = !route_eq(&p->rt[i], &ce->routes[i]);
	for (i = 0; i < p->n_nb && !p->rt_changed; i++)
		p->rt_changed = !neigh_eq(&p->nb[i], &ce->nbrs[i]);
	return 0;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* SAs: what to remove and add. 0, or -errno and err. */
static int
plan_sas(struct ce *ce, const struct ce_policydb *old,
	 const struct ce_policydb *nd, struct plan *p, char *err, size_t len)
{
	unsigned *idx = malloc(sizeof(*idx) * (old->n_sas + 1));
	unsigned i;

	p->kind = calloc(nd->n_sas + 1, 1);
	p->kept = calloc(old->n_sas + 1, sizeof(*p->kept));
	p->gone = calloc(old->n_sas + nd->n_sas + 1, sizeof(*p->gone));
	p->added = calloc(nd->n_sas + 1, sizeof(*p->added));
	if (idx == NULL || p->kind == NULL || p->kept == NULL ||
	    p->gone == NULL || p->added == NULL) {
		free(idx);
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < old->n_sas; i++)
		idx[i] = i;
	qsort_r(idx, old->n_sas, sizeof(*idx), idx_cmp, old->sas);
	for (i = 0; i < nd->n_sas; i++) {
		const struct ce_sa_cfg *c = &nd->sas[i];
		int o = find_key(old->sas, idx, old->n_sas, c);
		struct ce_sa *sa = running(ce, c);

		if (o >= 0)
			p->kept[o] = true;
		if (o >= 0 && sa_cfg_eq(&old->sas[o], c)) {
			p->kind[i] = SA_SAME;
			continue;
		}
		if (o < 0 && sa != NULL) {
			free(idx);
			snprintf(err, len, "%s:%d: SA 0x%x dir %s was added at "
				 "runtime; delete it first (sa-del) or leave "
				 "it out of the file", nd->path, c->line, c->spi,
				 c->dir == CE_DIR_IN ? "in" : "out");
			return -EEXIST;
		}
		p->kind[i] = o >= 0 ? SA_CHANGED : SA_NEW;
		if (sa != NULL)
			p->gone[p->n_gone++] = sa;
		p->added[p->n_added++] = *c;
	}
	for (i = 0; i < old->n_sas; i++) {
		struct ce_sa *sa;

		if (p->kept[i] || (sa = running(ce, &old->sas[i])) == NULL)
			continue;
		p->gone[p->n_gone++] = sa;
	}
	free(idx);
	if (ce->n_sa - p->n_gone + p->n_added > ce->cap_sa) {
		snprintf(err, len, "%u SAs after the reload: more than "
			 "sa_capacity %u", ce->n_sa - p->n_gone + p->n_added,
			 ce->cap_sa);
		return -ENOSPC;
	}
	qsort(p->gone, p->n_gone, sizeof(*p->gone), ce_ptr_cmp);
	qsort(p->added, p->n_added, sizeof(*p->added), cfg_cmp);
	return 0;
}

/* Policies: the new file's (known ones keep their uid), then the runtime
 * ones in force. */
static int
plan_policies(struct ce *ce, const struct ce_policydb *old,
	      const struct ce_policydb *nd, struct plan *p, char *err,
	      size_t len)
{
	const struct ce_pset *ps = ce->ps;
	uint32_t *in_force = malloc(sizeof(uint32_t) * (ps->n + 1));
	uint32_t *fsorted = malloc(sizeof(uint32_t) * (old->n_policies + 1));
	bool *used = calloc(old->n_policies + 1, sizeof(bool));
	unsigned i, j, n = 0;
	uint32_t next = ce->next_pol_uid;

	p->pol = malloc(sizeof(*p->pol) * (nd->n_policies + ps->n + 1));
	p->uid = malloc(sizeof(*p->uid) * (nd->n_policies + ps->n + 1));
	p->file_uid = malloc(sizeof(*p->file_uid) * (nd->n_policies + 1));
	if (in_force == NULL || fsorted == NULL || used == NULL ||
	    p->pol == NULL || p->uid == NULL || p->file_uid == NULL) {
		free(in_force);
		free(fsorted);
		free(used);
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	memcpy(in_force, ps->uid, sizeof(uint32_t) * ps->n);
	qsort(in_force, ps->n, sizeof(uint32_t), u32_cmp);
	memcpy(fsorted, ce->file_uid, sizeof(uint32_t) * old->n_policies);
	qsort(fsorted, old->n_policies, sizeof(uint32_t), u32_cmp);
	for (i = 0; i < nd->n_policies; i++) {
		const struct ce_policy_cfg *c = &nd->policies[i];
		uint32_t u = 0;

		/* linear per policy: equal policies are found among those of
		 * the previous file that are still in force */
		for (j = 0; j < old->n_policies && u == 0; j++) {
			if (used[j] || !ce_policy_eq(&old->policies[j], c) ||
			    bsearch(&ce->file_uid[j], in_force, ps->n,
				    sizeof(uint32_t), u32_cmp) == NULL)
				continue;
			used[j] = true;
			u = ce->file_uid[j];
		}
		if (u == 0) {
			u = ++next;
			p->pol_new++;
		} else {
			p->pol_kept++;
		}
		p->pol[n] = *c;
		p->uid[n++] = u;
		p->file_uid[i] = u;
	}
	for (i = 0; i < ps->n; i++) {
		if (bsearch(&ps->uid[i], fsorted, old->n_policies,
			    sizeof(uint32_t), u32_cmp) != NULL)
			continue;	/* of the previous file */
		p->pol[n] = ps->pol[i];
		p->uid[n++] = ps->uid[i];
		p->pol_runtime++;
	}
	p->n_pol = n;
	free(in_force);
	free(fsorted);
	free(used);
	return 0;
}

void *
ce_reload(struct ce *ce)
{
	struct ce_policydb *nd = calloc(1, sizeof(*nd));
	const struct ce_policydb *old;
	struct ce_pset *nw = NULL;
	struct plan p = { 0 };
	struct ce_sa_view view;
	json_t *r = NULL, *added, *removed, *replaced, *stale;
	unsigned n_rt_old, n_nb_old;
	struct ce_diag diag;
	char err[PATH_MAX + 512];
	unsigned i, n_same = 0, n_pol_old;
	int rc;

	if (nd == NULL)
		return fail("reload: out of memory");
	ce_diag_init(&diag);
	rc = ce_policydb_load(ce->dep->policy_path, nd, &diag);
	if (rc == 0)
		rc = ce_config_validate(ce->dep, nd, &diag);
	if (rc != 0) {
		size_t l = diag.buf != NULL ? strlen(diag.buf) : 0;

		if (l > 0 && diag.buf[l - 1] == '\n')
			diag.buf[l - 1] = '\0';
		r = fail("reload: %s", l > 0 ? diag.buf : "invalid file");
		ce_diag_fini(&diag);
		ce_policydb_free(nd);
		free(nd);
		return r;
	}
	ce_diag_fini(&diag);

	pthread_mutex_lock(&ce->lock);
	old = ce->file;
	n_pol_old = ce->ps->n;
	n_rt_old = ce->n_routes;
	n_nb_old = ce->n_nbrs;
	if (plan_sas(ce, old, nd, &p, err, sizeof(err)) != 0 ||
	    plan_policies(ce, old, nd, &p, err, sizeof(err)) != 0 ||
	    plan_routes(ce, old, nd, &p, err, sizeof(err)) != 0)
		goto refuse;
	view = (struct ce_sa_view){ .gone = p.gone, .n_gone = p.n_gone,
				    .added = p.added, .n_added = p.n_added };
	nw = ce_pset_prepare(ce, p.pol, p.uid, p.n_pol, &view, err, sizeof(err));
	if (nw == NULL)
		goto refuse;
	/* the routes first: SAs added below pin their egress on them; a
	 * route set that fails its checks still changes nothing */
	if (p.rt_changed && ce_routes_apply(ce, p.rt, p.n_rt, p.nb, p.n_nb,
					    err, sizeof(err)) != 0) {
		ce_pset_discard(ce, nw);
		goto refuse;
	}

	/* checked: apply. SAs first out, the policies, then SAs in (their
	 * inner family and selectors come from the new policies). */
	added = json_array();
	removed = json_array();
	replaced = json_array();
	for (i = 0; i < p.n_gone; i++) {
		bool repl = false;
		unsigned k;

		for (k = 0; k < nd->n_sas && !repl; k++)
			repl = p.kind[k] == SA_CHANGED &&
				key_cmp(&nd->sas[k], p.gone[i]->cfg) == 0;
		if (!repl)
			json_array_append_new(removed, spi_item(p.gone[i]->cfg));
		ce_sa_remove(ce, p.gone[i]);
	}
	rc = ce_pset_commit(ce, nw, err, sizeof(err));
	if (rc != 0)
		CE_LOG(ERR, "reload: policies not applied: %s", err);
	ce->next_pol_uid += p.pol_new;
	for (i = 0; i < nd->n_sas; i++) {
		struct ce_sa *sa;
		struct ce_event e = { .type = "sa-added", .spi = nd->sas[i].spi,
				      .policy = -1 };

		if (p.kind[i] == SA_SAME) {
			n_same++;
			continue;
		}
		sa = ce_sa_new(ce, &nd->sas[i]);
		if (sa == NULL) {
			CE_LOG(ERR, "%s:%d: reload: SA 0x%x: %s", nd->path,
			       nd->sas[i].line, nd->sas[i].spi,
			       rte_strerror(rte_errno));
			continue;
		}
		json_array_append_new(p.kind[i] == SA_CHANGED ? replaced : added,
				      spi_item(sa->cfg));
		ce_sa_adopt_held(ce, sa);
		if (sa->state == CE_SA_CONFIGURED &&
		    (sa->cfg->install == CE_INSTALL_EAGER ||
		     sa->cfg->has_replaces))
			ce_sa_install(ce, sa, false, -1);
		ce_event_add(ce, &e);
	}
	stale = json_array();
	for (i = 0; i < ce->n_sa; i++)
		if (ce_sa_pin_stale(ce, ce->sa[i]))
			json_array_append_new(stale, spi_item(ce->sa[i]->cfg));
	/* the file is now this one */
	free(ce->file_uid);
	ce->file_uid = p.file_uid;
	p.file_uid = NULL;
	if (ce->file_owned != NULL) {
		ce_policydb_free(ce->file_owned);
		free(ce->file_owned);
	}
	ce->file = ce->file_owned = nd;
	nd = NULL;
	pthread_mutex_unlock(&ce->lock);

	r = json_pack("{s:b,s:{s:o,s:o,s:o,s:i},s:{s:i,s:i,s:i,s:i,s:i},"
		      "s:{s:i,s:i,s:i,s:i,s:i,s:i,s:b},s:o}",
		      "ok", rc == 0,
		      "sas", "added", added, "removed", removed,
		      "replaced", replaced, "unchanged", n_same,
		      "policies", "before", n_pol_old, "after",
		      rc == 0 ? p.n_pol : n_pol_old, "unchanged", p.pol_kept,
		      "new", p.pol_new, "runtime", p.pol_runtime,
		      "routes", "before", n_rt_old, "after", p.n_rt,
		      "runtime", p.rt_runtime, "neighbors_before", n_nb_old,
		      "neighbors_after", p.n_nb, "neighbors_runtime",
		      p.nb_runtime, "rebuilt", p.rt_changed,
		      "pinned_stale", stale);
	if (rc != 0)
		json_object_set_new(r, "error", json_string(err));
	plan_free(&p);
	return r;
refuse:
	pthread_mutex_unlock(&ce->lock);
	plan_free(&p);
	ce_policydb_free(nd);
	free(nd);
	return fail("reload: %s", err);
}
