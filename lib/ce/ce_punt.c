/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include <rte_ip.h>

#include "ce_priv.h"
#include "cfe_parse.h"
#include "sg_cls.h"
#include "sg_meta.h"

static inline void
drop(struct ce *ce, struct rte_mbuf *m, enum sg_drop why)
{
	ce->st->drop[why]++;
	rte_pktmbuf_free(m);
}

/* Unknown SPIs are counted always, logged at most once a second. */
static void
unknown_spi(struct ce *ce, const struct sg_meta *meta, uint64_t now)
{
	if (now - ce->unknown_log_tsc < ce->hz) {
		ce->unknown_suppressed++;
		return;
	}
	CE_LOG(NOTICE, "unknown SPI 0x%08x on port %u (%" PRIu64
	       " more not logged)", meta->spi, meta->port,
	       ce->unknown_suppressed);
	ce->unknown_log_tsc = now;
	ce->unknown_suppressed = 0;
}

/* Bounded FIFO per SA, in arrival order. */
static void
hold(struct ce *ce, struct ce_sa *sa, struct rte_mbuf *m, uint64_t now)
{
	uint32_t cap = ce->dep->hold_packets;

	if (sa->hold == NULL) {
		sa->hold = ce_hold_get(ce);
		if (sa->hold == NULL) {
			drop(ce, m, SG_DROP_NO_MBUF);
			return;
		}
	}
	if (sa->n_hold == cap) {
		drop(ce, m, SG_DROP_HOLD_OVERFLOW);
		return;
	}
	sg_meta(m)->tsc = now;
	sa->hold[(sa->hold_head + sa->n_hold) % cap] = m;
	sa->n_hold++;
	ce->st->held++;
}

static inline uint64_t
sa_cls(const struct ce_sa *sa)
{
	return cfe_class_val(sa->slot, sa->gen, (uint8_t)sa->dfe, 0);
}

/* The 5-tuple of a clear packet (data at L2), for an ACQUIRE event. */
static void
tuple_of(struct rte_mbuf *m, struct ce_event *e)
{
	const uint8_t *p = rte_pktmbuf_mtod_offset(m, const uint8_t *, m->l2_len);
	const uint8_t *l4 = p + m->l3_len;
	uint32_t avail = m->pkt_len - m->l2_len - m->l3_len;

	if ((p[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *ip = (const void *)p;

		e->src.family = e->dst.family = 4;
		memcpy(e->src.a, &ip->src_addr, 4);
		memcpy(e->dst.a, &ip->dst_addr, 4);
		e->proto = ip->next_proto_id;
	} else {
		const struct rte_ipv6_hdr *ip6 = (const void *)p;

		e->src.family = e->dst.family = 6;
		memcpy(e->src.a, ip6->src_addr, 16);
		memcpy(e->dst.a, ip6->dst_addr, 16);
		e->proto = ip6->proto;
	}
	if ((e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) && avail >= 4) {
		e->sport = (uint16_t)(l4[0] << 8 | l4[1]);
		e->dport = (uint16_t)(l4[2] << 8 | l4[3]);
	}
}

/*
 * Outbound traffic of a protect policy whose SA is not configured: hold it
 * (bounded, timed) and ask for the SA once (ACQUIRE) — what IKE would
 * negotiate; the control socket can add it meanwhile.
 */
static void
hold_policy(struct ce *ce, uint32_t pos, struct rte_mbuf *m, uint64_t now)
{
	struct ce_phold *h = &ce->ps->phold[pos];
	uint32_t cap = ce->dep->hold_packets;

	if (!h->acquired) {
		const struct ce_policy_cfg *pc =
			&ce->ps->pol[ce->ps->out_policy[pos]];
		struct ce_event e = { .type = "acquire", .spi = pc->sa_spi,
				      .policy = (int)ce->ps->out_policy[pos],
				      .line = pc->line };

		tuple_of(m, &e);
		ce_event_add(ce, &e);
		h->acquired = true;
	}
	if (h->q == NULL) {
		h->q = rte_malloc("ce_phold", sizeof(*h->q) * cap, 0);
		if (h->q == NULL) {
			drop(ce, m, SG_DROP_NO_MBUF);
			return;
		}
	}
	if (h->n == cap) {
		drop(ce, m, SG_DROP_HOLD_OVERFLOW);
		return;
	}
	sg_meta(m)->tsc = now;
	h->q[(h->head + h->n) % cap] = m;
	h->n++;
	ce->n_held_policy++;
	ce->st->held++;
}

static void
punt_one(struct ce *ce, struct rte_mbuf *m, uint64_t now)
{
	struct sg_meta *meta = sg_meta(m);
	struct ce_sa *sa;
	int i;

	if (meta->kind == CFE_KIND_IKE) {
		ce->st->ike++;
		drop(ce, m, SG_DROP_IKE);
		return;
	}
	if (meta->kind == CFE_KIND_CLEAR) {
		/* outbound protect, SA not (yet) reachable from the SPD */
		/* the punt names the policy by uid: it may have been
		 * removed (or moved) by a policy change since */
		int pos = ce_pol_out_pos(ce->ps, meta->rule);

		if (pos < 0) {
			drop(ce, m, SG_DROP_NO_POLICY);
			return;
		}
		sa = ce_sa_resolve_out(ce,
			ce->ps->pol[ce->ps->out_policy[pos]].sa_spi);
		if (sa == NULL) {
			hold_policy(ce, (uint32_t)pos, m, now);
			return;
		}
	} else {
		sa = ce_sa_find_in(ce, meta->spi, meta->dst, meta->ip_ver);
		if (sa == NULL) {
			unknown_spi(ce, meta, now);
			drop(ce, m, SG_DROP_UNKNOWN_SPI);
			return;
		}
	}
	switch (sa->state) {
	case CE_SA_CONFIGURED:
		pthread_mutex_lock(&ce->lock);
		i = ce_sa_install(ce, sa, true, meta->cfe < ce->n_cfe ?
				  ce->cfe_dfe[meta->cfe] : -1);
		pthread_mutex_unlock(&ce->lock);
		if (i != 0) {
			drop(ce, m, sa->state == CE_SA_FAILED ? sa->fail_drop :
			     SG_DROP_NO_MBUF);
			return;
		}
		/* fall through */
	case CE_SA_INSTALLING:
		hold(ce, sa, m, now);
		return;
	case CE_SA_INSTALLED:
		/* punted before the key was visible, released after the
		 * marker: late but not lost */
		meta->cls = sa_cls(sa);
		meta->flags = SG_META_REINJECT;
		if (rte_ring_enqueue(ce->dfe_ring[sa->dfe], m) != 0) {
			drop(ce, m, SG_DROP_RING_FULL);
			return;
		}
		ce->st->reinjected++;
		return;
	case CE_SA_EXPIRED:
		drop(ce, m, SG_DROP_LIFETIME_EXPIRED);
		return;
	case CE_SA_FAILED:
		drop(ce, m, sa->fail_drop);
		return;
	}
}

/* max == 0: until the ring is empty */
static unsigned
drain_punts(struct ce *ce, uint64_t now, unsigned max)
{
	struct rte_mbuf *m[SG_BURST];
	unsigned n, i, total = 0;

	do {
		n = rte_ring_dequeue_burst(ce->punt_ring, (void **)m, SG_BURST,
					   NULL);
		for (i = 0; i < n; i++)
			punt_one(ce, m[i], now);
		total += n;
	} while (n != 0 && (max == 0 || total < max));
	/* a CFE on this lcore counted them at RX already */
	if (!(ce->lc[ce->ce_lcore]->roles & SG_ROLE_CFE))
		ce->st->pkts += total;
	return total;
}

static void
pending_remove(struct ce *ce, struct ce_sa *sa)
{
	struct ce_sa *last = ce->pending[--ce->n_pending];

	ce->pending[sa->pending_idx] = last;
	last->pending_idx = sa->pending_idx;
}

/*
 * Re-inject an SA's held packets, then the marker that opens its gate in
 * the DFE. Called once every CFE passed a quiescent state after the key was
 * written and the punt ring was drained since: no packet of the SA can still
 * be on its way to the CE. What does not fit in the ring waits for the next
 * round; the marker goes last.
 */
static void
release(struct ce *ce, struct ce_sa *sa)
{
	uint32_t cap = ce->dep->hold_packets;
	struct rte_ring *r = ce->dfe_ring[sa->dfe];
	struct rte_mbuf *mk;

	while (sa->n_hold != 0) {
		struct rte_mbuf *m = sa->hold[sa->hold_head];
		struct sg_meta *meta = sg_meta(m);

		meta->cls = sa_cls(sa);
		meta->flags = SG_META_REINJECT;
		if (rte_ring_enqueue(r, m) != 0)
			return;
		sa->hold_head = (sa->hold_head + 1) % cap;
		sa->n_hold--;
		ce->st->reinjected++;
	}
	mk = rte_pktmbuf_alloc(ce->pool);
	if (mk == NULL)
		return;
	sg_meta(mk)->cls = sa_cls(sa);
	sg_meta(mk)->flags = SG_META_MARKER;
	if (rte_ring_enqueue(r, mk) != 0) {
		rte_pktmbuf_free(mk);
		return;
	}
	sa->state = CE_SA_INSTALLED;
	pending_remove(ce, sa);
	/* its hold queue, for the next SA installing (ce_hold_get()) */
	ce_hold_put(ce, sa->hold);
	sa->hold = NULL;
	sa->hold_head = 0;
}

static void
hold_expire(struct ce *ce, struct ce_sa *sa, uint64_t now)
{
	uint32_t cap = ce->dep->hold_packets;
	uint64_t limit = ce->dep->hold_timeout_ms * ce->hz / 1000;

	while (sa->n_hold != 0) {
		struct rte_mbuf *m = sa->hold[sa->hold_head];

		if (now - sg_meta(m)->tsc <= limit)
			break;
		drop(ce, m, SG_DROP_HOLD_TIMEOUT);
		sa->hold_head = (sa->hold_head + 1) % cap;
		sa->n_hold--;
	}
}

/* Policy holds past hold.timeout_ms. */
static void
phold_expire(struct ce *ce, uint64_t now)
{
	uint64_t limit = ce->dep->hold_timeout_ms * ce->hz / 1000;
	uint32_t cap = ce->dep->hold_packets;
	unsigned i;

	for (i = 0; i < ce->ps->n_out && ce->n_held_policy != 0; i++) {
		struct ce_phold *h = &ce->ps->phold[i];

		while (h->n != 0) {
			struct rte_mbuf *m = h->q[h->head];

			if (now - sg_meta(m)->tsc <= limit)
				break;
			drop(ce, m, SG_DROP_HOLD_TIMEOUT);
			h->head = (h->head + 1) % cap;
			h->n--;
			ce->n_held_policy--;
		}
		if (h->n == 0)
			h->acquired = false;
	}
}

/* Which limit of l the SA has reached, or NULL. */
static const char *
limit_reached(const struct ce_lifetime *l, uint64_t age,
	      const struct dfe_sa_stats *s)
{
	if (l->seconds != 0 && age >= l->seconds)
		return "seconds";
	if (l->bytes != 0 && s->bytes >= l->bytes)
		return "bytes";
	if (l->packets != 0 && s->packets >= l->packets)
		return "packets";
	return NULL;
}

/*
 * Lifetimes (RFC 4301 4.4.2.1): the CE checks time and reads the DFE's
 * counters (which the DFE also enforces at once for the hard byte and packet
 * limits and for sequence-number exhaustion). Soft: one soft-expire event,
 * the signal to rekey. Hard: the SA stops (its packets count as
 * lifetime_expired) and is removed (then they count as unknown_spi, or are
 * held for a new SA outbound).
 */
static void
lifetimes(struct ce *ce, uint64_t now)
{
	unsigned i = 0;

	while (i < ce->n_timed) {
		struct ce_sa *sa = ce->timed[i];
		struct dfe_sa_stats s;
		const char *why;
		uint64_t age;
		struct ce_event e = { .spi = sa->cfg->spi, .policy = -1 };

		if (sa->rt == NULL) {
			i++;
			continue;
		}
		dfe_sa_stats(sa->rt, &s);
		if (sa->cfg->dir == CE_DIR_OUT)
			s.packets = s.last_sqn;	/* sequence numbers used */
		/* installed during this poll, after 'now' was read */
		age = now > sa->install_tsc ? (now - sa->install_tsc) / ce->hz : 0;
		if (!sa->soft_done &&
		    (why = limit_reached(&sa->cfg->soft, age, &s)) != NULL) {
			e.type = "soft-expire";
			e.detail = why;
			sa->soft_done = true;
			ce_event_add(ce, &e);
			CE_LOG(INFO, "SA 0x%x: soft lifetime reached (%s)",
			       sa->cfg->spi, why);
		}
		why = limit_reached(&sa->cfg->hard, age, &s);
		if (why == NULL && s.expired)
			why = "sequence";
		if (why != NULL) {
			e.type = "hard-expire";
			e.detail = why;
			CE_LOG(NOTICE, "SA 0x%x (%s): hard lifetime reached (%s): "
			       "removed", sa->cfg->spi,
			       sa->cfg->dir == CE_DIR_IN ? "in" : "out", why);
			pthread_mutex_lock(&ce->lock);
			dfe_sa_expire(sa->rt);
			ce_event_add(ce, &e);
			ce_sa_remove(ce, sa);	/* takes sa out of timed[] */
			pthread_mutex_unlock(&ce->lock);
			continue;
		}
		i++;
	}
}

static bool
quiet(struct ce *ce)
{
	unsigned d;

	if (!rte_ring_empty(ce->punt_ring) || ce->n_pending != 0 ||
	    ce->n_held_policy != 0)
		return false;
	for (d = 0; d < ce->n_dfe; d++)
		if (!rte_ring_empty(ce->dfe_ring[d]) ||
		    dfe_pending(ce->dfe[d]) != 0)
			return false;
	for (d = 0; d < ce->n_cfe; d++)
		if (cfe_staged(ce->cfe[d]) != 0)
			return false;
	return true;
}

/* --progress: one line a second, for demos and long replays. */
static void
progress(struct ce *ce, uint64_t now)
{
	struct sg_lcore_stats t;
	uint64_t drops = 0;
	unsigned i, inst = 0;

	if (!ce->opts.progress || now < ce->next_progress_tsc)
		return;
	ce->next_progress_tsc = now + ce->hz;
	ce_stats_total(ce, &t);
	for (i = 0; i < SG_DROP_MAX; i++)
		drops += t.drop[i];
	inst = ce->n_installed;
	printf("[%4" PRIu64 " s] rx %" PRIu64 "  decrypted %" PRIu64
	       "  encrypted %" PRIu64 "  tx %" PRIu64 "  SAs installed %u/%u"
	       "  dropped %" PRIu64 "\n", (now - ce->start_tsc) / ce->hz, t.rx,
	       t.decrypted, t.encrypted, t.tx, inst, ce->n_sa, drops);
	fflush(stdout);
}

/* --exit-idle, signals, and the drain before stopping. */
static void
life_cycle(struct ce *ce, uint64_t now)
{
	uint64_t rx = 0;
	unsigned l;

	/*
	 * The RX counters sit on the line every worker writes each burst:
	 * each read here makes the worker's next write a coherence miss.
	 * Read them only for --exit-idle, and once a millisecond.
	 */
	if (ce->opts.exit_idle_ms != 0 && now >= ce->next_idle_tsc) {
		ce->next_idle_tsc = now + ce->hz / 1000;
		for (l = 0; l < RTE_MAX_LCORE; l++)
			if (ce->lc[l] != NULL)
				rx += ce->stats[l].rx;
		if (rx != ce->last_rx) {
			ce->last_rx = rx;
			ce->last_rx_tsc = now;
		}
	}
	if (ce->opts.exit_idle_ms != 0 && ce->last_rx != 0 && !ce->stop_req &&
	    now - ce->last_rx_tsc >= ce->opts.exit_idle_ms * ce->hz / 1000 &&
	    quiet(ce))
		ce->stop_req = 1;
	if (ce->stop_req && !ce->rx_stop) {
		ce->rx_stop = 1;
		ce->drain_start = now;
		/* a CFE may be mid-burst: quiet() counts only once every
		 * reader has passed a quiescent state after rx_stop */
		ce->drain_token = rte_rcu_qsbr_start(ce->qsv);
	}
	if (ce->rx_stop && !ce->quit &&
	    ((rte_rcu_qsbr_check(ce->qsv, ce->drain_token, false) == 1 &&
	      quiet(ce)) || now - ce->drain_start > 2 * ce->hz))
		ce->quit = 1;
}

unsigned
ce_poll(struct ce *ce)
{
	uint64_t now = rte_rdtsc();
	bool ready = false;
	unsigned i, n;

	for (i = 0; i < ce->n_pending; i++) {
		struct ce_sa *sa = ce->pending[i];

		if (!sa->token_passed &&
		    rte_rcu_qsbr_check(ce->qsv, sa->rcu_token, false) == 1)
			sa->token_passed = true;
		ready |= sa->token_passed;
	}
	n = drain_punts(ce, now, ready ? 0 : 4 * SG_BURST);
	for (i = 0; i < ce->n_pending; ) {
		struct ce_sa *sa = ce->pending[i];

		hold_expire(ce, sa, now);
		if (sa->token_passed)
			release(ce, sa);
		if (i < ce->n_pending && ce->pending[i] == sa)
			i++;
	}
	if (now >= ce->next_life_tsc) {
		lifetimes(ce, now);
		phold_expire(ce, now);
		ce_rekey_poll(ce, now);
		ce_natt_poll(ce);
		ce->next_life_tsc = now + ce->hz / 50;
	}
	if (ce->ctl != NULL && now >= ce->next_ctl_tsc) {
		ce_ctl_poll(ce);
		ce->next_ctl_tsc = now + ce->hz / 1000;
	}
	progress(ce, now);
	life_cycle(ce, now);
	return n;
}
