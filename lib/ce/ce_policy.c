/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The security policies in force, and how they change while traffic flows.
 *
 * A policy set (struct ce_pset) is the list of policies in evaluation order
 * (ties by position), compiled: the CFEs' SPD (rte_acl, cfe_spd.h), the
 * SPD-out position -> policy map, the per-policy hold queues, and the index
 * of protect policies by (direction, SPI). It is never modified once built,
 * except for the SA binding of its outbound protect rules
 * (cfe_spd_bind(), one atomic store each).
 *
 * A change (policy-add, policy-del, reload) builds a complete new set,
 * checks it, binds its protect rules to the SAs installed now, carries the
 * held packets of the policies that stay over, publishes the new SPD to
 * the CFEs with one atomic store, gives the inbound SAs whose selectors
 * changed their new selectors (dfe_sa_swap_sel()), waits for one RCU grace
 * period and only then frees the old SPD and selectors: a CFE that read
 * the old SPD pointer finishes its burst with it.
 *
 * Policies have a stable identity, their uid: the SPD rule id that a punt
 * carries to the CE. A punt that names a policy removed meanwhile is
 * dropped as no_policy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "ce_priv.h"

static uint32_t pset_seq;

int
ce_ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}    /* unique names of the sets' hashes and SPDs */

/* Free a set; ce (for the hold queue size) only when packets may be held
 * in it. */
static void
pset_free(struct ce *ce, struct ce_pset *ps)
{
	unsigned i;

	if (ps == NULL)
		return;
	if (ps->phold != NULL) {
		for (i = 0; i < ps->n_out; i++) {
			struct ce_phold *h = &ps->phold[i];

			while (h->n != 0) {
				rte_pktmbuf_free(h->q[h->head]);
				h->head = (h->head + 1) % ce->dep->hold_packets;
				h->n--;
			}
			rte_free(h->q);
		}
	}
	cfe_spd_destroy(ps->spd);
	rte_hash_free(ps->by_uid);
	rte_hash_free(ps->by_spi);
	free(ps->pol);
	free(ps->uid);
	free(ps->next);
	free(ps->out_policy);
	free(ps->phold);
	free(ps);
}

int32_t
ce_pol_first(const struct ce_pset *ps, enum ce_dir dir, uint32_t spi)
{
	uint64_t key = (uint64_t)dir << 32 | spi;
	void *d;

	if (rte_hash_lookup_data(ps->by_spi, &key, &d) < 0)
		return -1;
	return (int32_t)(uintptr_t)d;
}

int
ce_pol_out_pos(const struct ce_pset *ps, uint32_t uid)
{
	void *d;

	if (rte_hash_lookup_data(ps->by_uid, &uid, &d) < 0)
		return -1;
	return (int)(uintptr_t)d;
}

static struct rte_hash *
hash_new(const char *what, uint32_t entries, uint32_t key_len)
{
	struct rte_hash_parameters hp = {
		.entries = RTE_MAX(entries, 64u),
		.key_len = key_len,
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	char name[RTE_HASH_NAMESIZE];

	snprintf(name, sizeof(name), "%s%u", what, pset_seq);
	hp.name = name;
	return rte_hash_create(&hp);
}

/* Protect policies by (dir, SPI), in list order: first in the hash, the
 * rest chained through next[]. */
static int
index_protect(struct ce_pset *ps)
{
	int32_t *last = calloc(ps->n + 1, sizeof(*last));
	unsigned i;

	if (last == NULL)
		return -ENOMEM;
	for (i = 0; i < ps->n; i++) {
		const struct ce_policy_cfg *p = &ps->pol[i];
		uint64_t key = (uint64_t)p->dir << 32 | p->sa_spi;
		int32_t head;

		ps->next[i] = -1;
		if (p->action != CE_ACT_PROTECT || !p->has_sa)
			continue;
		head = ce_pol_first(ps, p->dir, p->sa_spi);
		if (head < 0) {
			if (rte_hash_add_key_data(ps->by_spi, &key,
						  (void *)(uintptr_t)i) != 0) {
				free(last);
				return -ENOMEM;
			}
		} else {
			ps->next[last[head]] = (int32_t)i;
		}
		last[head < 0 ? i : (unsigned)head] = (int32_t)i;
	}
	free(last);
	return 0;
}

/* Compile n policies (copied) with their uids into a new set. */
static struct ce_pset *
pset_build(const struct ce_policy_cfg *pol, const uint32_t *uid, unsigned n)
{
	struct ce_pset *ps = calloc(1, sizeof(*ps));
	struct cfe_spd_rule *r[2] = { NULL, NULL };
	unsigned nr[2] = { 0, 0 }, i;
	char name[32];

	if (ps == NULL)
		return NULL;
	pset_seq++;
	ps->n = n;
	ps->pol = malloc(sizeof(*pol) * (n + 1));
	ps->uid = malloc(sizeof(*uid) * (n + 1));
	ps->next = malloc(sizeof(*ps->next) * (n + 1));
	ps->out_policy = malloc(sizeof(*ps->out_policy) * (n + 1));
	ps->phold = calloc(n + 1, sizeof(*ps->phold));
	r[0] = calloc(n + 1, sizeof(**r));
	r[1] = calloc(n + 1, sizeof(**r));
	ps->by_spi = hash_new("ce_pspi", n, sizeof(uint64_t));
	ps->by_uid = hash_new("ce_puid", n, sizeof(uint32_t));
	if (ps->pol == NULL || ps->uid == NULL || ps->next == NULL ||
	    ps->out_policy == NULL || ps->phold == NULL || r[0] == NULL ||
	    r[1] == NULL || ps->by_spi == NULL || ps->by_uid == NULL)
		goto fail;
	if (n != 0) {
		memcpy(ps->pol, pol, sizeof(*pol) * n);
		memcpy(ps->uid, uid, sizeof(*uid) * n);
	}
	for (i = 0; i < n; i++) {
		const struct ce_policy_cfg *p = &pol[i];
		int d = p->dir == CE_DIR_OUT;
		struct cfe_spd_rule *x = &r[d][nr[d]];

		if (d) {
			ps->out_policy[nr[d]] = i;
			if (rte_hash_add_key_data(ps->by_uid, &uid[i],
					(void *)(uintptr_t)nr[d]) != 0)
				goto fail;
		}
		nr[d]++;
		x->id = uid[i];		/* the punt names the policy by it */
		x->src = p->src;
		x->dst = p->dst;
		x->proto = p->proto == CE_ANY ? -1 : p->proto;
		x->sport_lo = p->sport_lo;
		x->sport_hi = p->sport_hi;
		x->dport_lo = p->dport_lo;
		x->dport_hi = p->dport_hi;
		x->priority = p->priority;
		x->action = p->action == CE_ACT_PROTECT ? CFE_SPD_PROTECT :
			p->action == CE_ACT_BYPASS ? CFE_SPD_BYPASS :
			CFE_SPD_DISCARD;
		x->spi = p->sa_spi;
	}
	ps->n_out = nr[1];
	if (index_protect(ps) != 0)
		goto fail;
	snprintf(name, sizeof(name), "sg_spd%u", pset_seq);
	ps->spd = cfe_spd_create(name, r[0], nr[0], r[1], nr[1],
				 rte_socket_id());
	if (ps->spd == NULL)
		goto fail;
	free(r[0]);
	free(r[1]);
	return ps;
fail:
	free(r[0]);
	free(r[1]);
	pset_free(NULL, ps);	/* no packet is held in a set being built */
	return NULL;
}

int
ce_policy_init(struct ce *ce)
{
	const struct ce_policydb *db = ce->db;
	uint32_t *uid = malloc(sizeof(*uid) * (db->n_policies + 1));
	unsigned i;

	if (uid == NULL)
		return -ENOMEM;
	for (i = 0; i < db->n_policies; i++)
		uid[i] = ++ce->next_pol_uid;
	ce->ps = pset_build(db->policies, uid, db->n_policies);
	if (ce->ps == NULL) {
		free(uid);
		return -ENOMEM;
	}
	ce->file = db;
	ce->file_uid = uid;	/* the file's policies: uids 1..n */
	ce->spd_pub = ce->ps->spd;
	return 0;
}

void
ce_policy_fini(struct ce *ce)
{
	pset_free(ce, ce->ps);
	ce->ps = NULL;
	ce->spd_pub = NULL;
	free(ce->file_uid);
	ce->file_uid = NULL;
	if (ce->file_owned != NULL) {
		ce_policydb_free(ce->file_owned);
		free(ce->file_owned);
		ce->file_owned = NULL;
	}
	ce->file = NULL;
}

/* The classification value an outbound protect rule naming 'spi' gets in
 * the data path now: that of the SA it resolves to, 0 when that SA is not
 * installed (its packets are punted: install or hold). */
static uint64_t
out_cls(struct ce *ce, uint32_t spi)
{
	struct ce_sa *sa = ce_sa_resolve_out(ce, spi);

	if (sa == NULL || sa->rt == NULL || sa->awaiting_switch)
		return 0;
	return cfe_class_val(sa->slot, sa->gen, (uint8_t)sa->dfe, 0);
}

/* The selectors an inbound SA gets from a set: the inbound protect
 * policies naming its selector SPI, in order. */
unsigned
ce_pol_selectors(const struct ce_pset *ps, uint32_t spi, struct dfe_sel *sel)
{
	unsigned n = 0;
	int32_t i;

	for (i = ce_pol_first(ps, CE_DIR_IN, spi); i >= 0 && n < DFE_MAX_SEL;
	     i = ps->next[i]) {
		const struct ce_policy_cfg *pc = &ps->pol[i];
		struct dfe_sel *s = &sel[n++];

		memset(s, 0, sizeof(*s));
		s->src = pc->src;
		s->dst = pc->dst;
		s->proto = pc->proto == CE_ANY ? -1 : pc->proto;
		s->sport_lo = pc->sport_lo;
		s->sport_hi = pc->sport_hi;
		s->dport_lo = pc->dport_lo;
		s->dport_hi = pc->dport_hi;
	}
	return n;
}

/* The SA of (dir, spi) as the set will see it: in view->added (present,
 * not installed), else the running one unless it is in view->gone. */
static const struct ce_sa_cfg *
view_sa(struct ce *ce, const struct ce_sa_view *view, enum ce_dir dir,
	uint32_t spi, const struct ce_sa **running)
{
	struct ce_sa *sa = NULL;
	void *d;

	*running = NULL;
	if (view != NULL && view->n_added != 0) {
		unsigned lo = 0, hi = view->n_added;

		while (lo < hi) {	/* added[] is sorted by (dir, spi) */
			unsigned mid = (lo + hi) / 2;
			const struct ce_sa_cfg *m = &view->added[mid];

			if (m->dir < dir || (m->dir == dir && m->spi < spi))
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < view->n_added && view->added[lo].dir == dir &&
		    view->added[lo].spi == spi)
			return &view->added[lo];
	}
	if (dir == CE_DIR_OUT)
		sa = ce_sa_find_out(ce, spi);
	else if (rte_hash_lookup_data(ce->by_spi, &spi, &d) >= 0)
		sa = d;
	for (; sa != NULL; sa = dir == CE_DIR_IN ? sa->next_spi : NULL) {
		if (view != NULL && view->n_gone != 0 &&
		    bsearch(&sa, view->gone, view->n_gone, sizeof(sa),
			    ce_ptr_cmp) != NULL)
			continue;	/* gone[] is sorted by address */
		*running = sa;
		return sa->cfg;
	}
	return NULL;
}

/*
 * What the set must satisfy beyond each policy's own fields (the file's
 * rules, ce_validate.c, applied to the SAs as they are now, or as a reload
 * will leave them: view): at most CE_MAX_SA_SELECTORS inbound protect
 * policies per SA; the protect policies of a tunnel SA all of one family,
 * that of the SA if it is installed; an inbound protect policy names an
 * inbound SA that exists (an outbound one may name an SA not configured
 * yet: its traffic is held, ACQUIRE).
 */
static int
pset_check(struct ce *ce, const struct ce_pset *ps,
	   const struct ce_sa_view *view, char *err, size_t len)
{
	unsigned i;

	for (i = 0; i < ps->n; i++) {
		const struct ce_policy_cfg *p = &ps->pol[i];
		const struct ce_sa_cfg *sc;
		const struct ce_sa *sa;
		unsigned n = 0;
		int32_t k;

		if (p->action != CE_ACT_PROTECT || !p->has_sa)
			continue;
		k = ce_pol_first(ps, p->dir, p->sa_spi);
		if ((unsigned)k != i)
			continue;	/* each (dir, spi) group once */
		sc = view_sa(ce, view, p->dir, p->sa_spi, &sa);
		if (sc == NULL && p->dir == CE_DIR_IN) {
			snprintf(err, len, "policy %u: no dir in SA with spi "
				 "0x%x (add the SA first)", i, p->sa_spi);
			return -EINVAL;
		}
		for (; k >= 0; k = ps->next[k], n++) {
			const struct ce_policy_cfg *q = &ps->pol[k];
			bool inst = sa != NULL && sa->rt != NULL;

			if (p->dir == CE_DIR_IN && n == CE_MAX_SA_SELECTORS) {
				snprintf(err, len, "policy %d: SA 0x%x is named "
					 "by more than %u inbound protect "
					 "policies", k, p->sa_spi,
					 CE_MAX_SA_SELECTORS);
				return -EINVAL;
			}
			if (sc == NULL || sc->mode != CE_MODE_TUNNEL)
				continue;
			if (q->src.addr.family != p->src.addr.family ||
			    (inst && q->src.addr.family != sa->inner_family)) {
				snprintf(err, len, "policy %d: SA 0x%x carries "
					 "IPv%u traffic; a tunnel SA carries one "
					 "inner IP family", k, p->sa_spi,
					 inst ? sa->inner_family :
					 p->src.addr.family);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Held packets of the policies that stay move to their new position;
 * those of removed policies are dropped as no_policy. */
static void
carry_holds(struct ce *ce, struct ce_pset *old, struct ce_pset *nw)
{
	unsigned i;

	for (i = 0; i < old->n_out; i++) {
		struct ce_phold *h = &old->phold[i];
		int j;

		if (h->q == NULL)
			continue;
		j = ce_pol_out_pos(nw, old->uid[old->out_policy[i]]);
		if (j >= 0) {
			nw->phold[j] = *h;
			memset(h, 0, sizeof(*h));
			continue;
		}
		while (h->n != 0) {
			rte_pktmbuf_free(h->q[h->head]);
			ce->st->drop[SG_DROP_NO_POLICY]++;
			h->head = (h->head + 1) % ce->dep->hold_packets;
			h->n--;
			ce->n_held_policy--;
		}
		rte_free(h->q);
		memset(h, 0, sizeof(*h));
	}
}

struct sel_swap {
	struct ce_sa *sa;
	const struct dfe_selset *set;
};

struct ce_pset *
ce_pset_prepare(struct ce *ce, const struct ce_policy_cfg *pol,
		const uint32_t *uid, unsigned n, const struct ce_sa_view *view,
		char *err, size_t len)
{
	struct ce_pset *nw = pset_build(pol, uid, n);

	if (nw == NULL) {
		snprintf(err, len, "cannot build the policy set: %s",
			 rte_strerror(rte_errno ? rte_errno : ENOMEM));
		return NULL;
	}
	if (pset_check(ce, nw, view, err, len) != 0) {
		pset_free(ce, nw);
		return NULL;
	}
	return nw;
}

void
ce_pset_discard(struct ce *ce, struct ce_pset *ps)
{
	pset_free(ce, ps);
}

int
ce_pset_commit(struct ce *ce, struct ce_pset *nw, char *err, size_t len)
{
	struct ce_pset *old = ce->ps;
	struct sel_swap *sw;
	unsigned i, n_sw = 0;

	/* inbound SAs in the data path whose selectors change */
	sw = calloc(ce->n_sa + 1, sizeof(*sw));
	if (sw == NULL)
		goto nomem;
	for (i = 0; i < ce->n_sa; i++) {
		struct ce_sa *sa = ce->sa[i];
		struct dfe_sel sel[DFE_MAX_SEL];
		const struct dfe_selset *cur;
		unsigned k;

		if (sa->cfg->dir != CE_DIR_IN || sa->rt == NULL)
			continue;
		memset(sel, 0, sizeof(sel));
		k = ce_pol_selectors(nw, sa->sel_spi, sel);
		cur = dfe_sa_sel(sa->rt);
		if (cur->n == k && memcmp(cur->sel, sel, sizeof(*sel) * k) == 0)
			continue;
		sw[n_sw].sa = sa;
		sw[n_sw].set = dfe_selset_new(sel, k, (int)rte_socket_id());
		if (sw[n_sw++].set == NULL) {
			while (n_sw != 0)
				dfe_selset_free(sw[--n_sw].set);
			free(sw);
			goto nomem;
		}
	}
	/* from here on nothing fails */
	for (i = 0; i < nw->n_out; i++) {
		const struct ce_policy_cfg *p = &nw->pol[nw->out_policy[i]];

		if (p->action == CE_ACT_PROTECT)
			cfe_spd_bind(nw->spd, CFE_SPD_OUT, i, out_cls(ce, p->sa_spi));
	}
	carry_holds(ce, old, nw);
	ce->ps = nw;
	__atomic_store_n(&ce->spd_pub, nw->spd, __ATOMIC_RELEASE);
	for (i = 0; i < n_sw; i++)
		sw[i].set = dfe_sa_swap_sel(sw[i].sa->rt, sw[i].set);
	rte_rcu_qsbr_synchronize(ce->qsv, ce_rcu_self(ce));
	for (i = 0; i < n_sw; i++)
		dfe_selset_free(sw[i].set);
	free(sw);
	pset_free(ce, old);
	return 0;
nomem:
	pset_free(ce, nw);
	snprintf(err, len, "out of memory");
	return -ENOMEM;
}

int
ce_policies_apply(struct ce *ce, const struct ce_policy_cfg *pol,
		  const uint32_t *uid, unsigned n, char *err, size_t len)
{
	struct ce_pset *nw = ce_pset_prepare(ce, pol, uid, n, NULL, err, len);

	if (nw == NULL)
		return -EINVAL;
	return ce_pset_commit(ce, nw, err, len);
}
