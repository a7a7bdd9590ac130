/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "cfe.h"
#include "cfe_parse.h"
#include "cfe_spd.h"
#include "cfe_table.h"
#include "sg_fwd.h"
#include "sg_meta.h"

/* Per-destination staging of one RX burst, flushed once per burst. */
struct stage {
	uint16_t n;
	struct rte_mbuf *m[SG_BURST];
};

struct cfe {
	struct cfe_conf c;
	struct sg_lcore_stats *st;
	/* punt token bucket, in TSC units: one token = tsc_per_punt cycles */
	uint64_t tsc_per_punt;
	uint64_t bucket_cap;          /* punt_burst * tsc_per_punt */
	uint64_t bucket;              /* accumulated cycles (tokens) */
	uint64_t last_tsc;
	/* packets staged for DFEs whose rings could not take them yet: they
	 * go first on the next poll, and nothing is received until they are
	 * gone (flush_dfes()); read by the CE when it drains (cfe_staged()) */
	uint32_t left;
	struct cfe_spd_memo *memo;    /* verdicts of recent clear address pairs */
	struct stage dfe[SG_MAX_DFE];
	struct stage punt;
} __rte_cache_aligned;

/*
 * Filling the DFE stages packet by packet: the count of the stage being
 * filled stays in a register (here, in the caller's stack frame, which the
 * compiler keeps in registers) and is written back when another stage or
 * the end comes. An increment in memory per packet, read back by the next
 * packet's store, is a store-forwarding chain (docs/PERFORMANCE.md, steps
 * 18 and 21).
 */
struct stager {
	struct stage *s;
	unsigned d, n;
};

static inline void
stager_init(struct cfe *f, struct stager *st)
{
	st->d = 0;
	st->s = &f->dfe[0];
	st->n = st->s->n;
}

static inline void
stager_put(struct cfe *f, struct stager *st, unsigned dfe, struct rte_mbuf *m)
{
	if (dfe != st->d) {
		st->s->n = (uint16_t)st->n;
		st->d = dfe;
		st->s = &f->dfe[dfe];
		st->n = st->s->n;
	}
	st->s->m[st->n++] = m;
}

static inline void
stager_done(struct stager *st)
{
	st->s->n = (uint16_t)st->n;
}

struct cfe *
cfe_create(const struct cfe_conf *c)
{
	struct cfe *f;

	if (c == NULL || c->table == NULL || c->spd == NULL || *c->spd == NULL ||
	    c->route == NULL || c->punt_ring == NULL || c->n_dfe == 0 ||
	    c->n_dfe > SG_MAX_DFE || c->txq == NULL || c->stats == NULL ||
	    c->punt_rate == 0 || c->punt_burst == 0) {
		rte_errno = EINVAL;
		return NULL;
	}
	f = rte_zmalloc_socket("cfe", sizeof(*f), RTE_CACHE_LINE_SIZE,
			       c->socket);
	if (f == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	f->memo = cfe_spd_memo_create(c->socket);
	if (f->memo == NULL) {
		rte_free(f);
		rte_errno = ENOMEM;
		return NULL;
	}
	f->c = *c;
	f->st = c->stats;
	f->tsc_per_punt = rte_get_tsc_hz() / c->punt_rate;
	if (f->tsc_per_punt == 0)
		f->tsc_per_punt = 1;
	f->bucket_cap = f->tsc_per_punt * c->punt_burst;
	f->bucket = f->bucket_cap;
	f->last_tsc = rte_rdtsc();
	return f;
}

void
cfe_destroy(struct cfe *c)
{
	unsigned d;

	if (c == NULL)
		return;
	/* only when the drain gave up on a DFE that took nothing more */
	for (d = 0; d < c->c.n_dfe; d++)
		rte_pktmbuf_free_bulk(c->dfe[d].m, c->dfe[d].n);
	cfe_spd_memo_free(c->memo);
	rte_free(c);
}

void
cfe_memo_counts(const struct cfe *c, uint64_t *hits, uint64_t *misses,
		uint64_t *skipped)
{
	cfe_spd_memo_stats(c->memo, hits, misses, skipped);
}

unsigned
cfe_staged(const struct cfe *c)
{
	return __atomic_load_n(&c->left, __ATOMIC_RELAXED);
}

/*
 * The NIC's verdict on the outer IPv4 checksum, where the port offers
 * RTE_ETH_RX_OFFLOAD_IPV4_CKSUM (ce_ports.c asks for it): NONE means the
 * header was verified although the sum in the packet is not right (DPDK's
 * definition), so it counts as good. Devices without the offload (the
 * virtual ones) leave UNKNOWN: the parser sums in software.
 */
static inline enum cfe_csum
hw_csum(const struct rte_mbuf *m)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
	case RTE_MBUF_F_RX_IP_CKSUM_NONE:
		return CFE_CSUM_GOOD;
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:
		return CFE_CSUM_BAD;
	default:
		return CFE_CSUM_UNKNOWN;
	}
}

static inline void
drop1(struct cfe *f, struct rte_mbuf *m, enum sg_drop why)
{
	f->st->drop[why]++;
	rte_pktmbuf_free(m);
}

/*
 * Token bucket in front of the CE: a flood of unknown SPIs or IKE must not
 * starve the CE nor fill the punt ring the forwarding depends on.
 */
static inline void
punt(struct cfe *f, struct rte_mbuf *m, uint64_t now)
{
	f->bucket += now - f->last_tsc;
	f->last_tsc = now;
	if (f->bucket > f->bucket_cap)
		f->bucket = f->bucket_cap;
	if (f->bucket < f->tsc_per_punt) {
		drop1(f, m, SG_DROP_PUNT_POLICED);
		return;
	}
	f->bucket -= f->tsc_per_punt;
	sg_meta(m)->cfe = (uint8_t)f->c.id;
	f->punt.m[f->punt.n++] = m;
}

/* The punt stage: what the punt ring cannot take is dropped (ring_full), so
 * that a CE falling behind never stops the forwarding. */
static inline void
flush_punts(struct cfe *f)
{
	struct stage *s = &f->punt;
	unsigned k;

	if (s->n == 0)
		return;
	k = rte_ring_enqueue_burst(f->c.punt_ring, (void **)s->m, s->n, NULL);
	f->st->punted += k;
	if (unlikely(k < s->n)) {
		f->st->drop[SG_DROP_RING_FULL] += s->n - k;
		rte_pktmbuf_free_bulk(&s->m[k], s->n - k);
	}
	s->n = 0;
}

/*
 * The DFE stages: what a ring cannot take stays staged, in order, and
 * cfe_poll() receives nothing until it is gone. rx_room() keeps one CFE
 * from receiving more than the rings can take, but a ring that several
 * CFEs feed (two workers, packets of SAs owned by the other lcore) can
 * fill between its free count and the enqueue: those packets were dropped
 * as ring_full (0.1% of them in the bench's two-worker outbound row).
 */
static void
flush_dfes(struct cfe *f)
{
	unsigned d, k, left = 0;

	for (d = 0; d < f->c.n_dfe; d++) {
		struct stage *s = &f->dfe[d];

		if (s->n == 0)
			continue;
		k = rte_ring_enqueue_burst(f->c.dfe_ring[d], (void **)s->m,
					   s->n, NULL);
		if (likely(k == s->n)) {
			s->n = 0;
			continue;
		}
		memmove(s->m, &s->m[k], (s->n - k) * sizeof(s->m[0]));
		s->n = (uint16_t)(s->n - k);
		left += s->n;
	}
	if (unlikely(left != f->left))
		__atomic_store_n(&f->left, left, __ATOMIC_RELAXED);
}

/*
 * Clear traffic: one SPD classification per family of the burst. Inbound
 * (unprotected port): bypass or drop; a protect rule means the packet should
 * have come encrypted. Outbound (protected port): protect goes to the DFE
 * that owns the rule's SA, or to the CE to be held while that SA is not
 * installed; bypass is routed and sent by the CFE itself.
 */
static void
clear_path(struct cfe *f, const struct cfe_rxq *q, struct rte_mbuf *m[],
	   const struct cfe_pkt_info *const inf[], unsigned n, uint64_t now)
{
	struct cfe_spd_tuple tup[SG_BURST];
	const struct cfe_spd_tuple *tp[2][SG_BURST];
	const struct cfe_spd_rule *rule[SG_BURST];
	const struct sg_route *rt;
	struct rte_mbuf *fw[2][SG_BURST];
	unsigned idx[2][SG_BURST], nt[2] = { 0, 0 }, nf[2] = { 0, 0 }, i, k, v;
	enum cfe_spd_dir dir = q->role == CFE_PORT_PROTECTED ? CFE_SPD_OUT :
		CFE_SPD_IN;
	const struct cfe_spd *spd = __atomic_load_n(f->c.spd, __ATOMIC_ACQUIRE);
	struct stager st;

	for (i = 0; i < n; i++) {
		const struct cfe_pkt_info *p = inf[i];
		struct cfe_spd_tuple *t = &tup[i];

		v = p->ip_ver == 6;
		t->src.family = t->dst.family = p->ip_ver;
		memcpy(t->src.a, p->src, 16);
		memcpy(t->dst.a, p->dst, 16);
		t->proto = p->proto;
		t->sport = p->sport;
		t->dport = p->dport;
		cfe_spd_tuple_pack(t);
		tp[v][nt[v]] = t;
		idx[v][nt[v]++] = i;
	}
	stager_init(f, &st);
	for (v = 0; v < 2; v++) {
		if (nt[v] == 0)
			continue;
		cfe_spd_lookup_memo(spd, f->memo, dir, v ? 6 : 4, tp[v], nt[v],
				    rule);
		for (k = 0; k < nt[v]; k++) {
			const struct cfe_spd_rule *r = rule[k];
			struct rte_mbuf *pm = m[idx[v][k]];
			uint64_t cls;
			uint8_t dfe;

			if (r == NULL) {
				drop1(f, pm, SG_DROP_NO_POLICY);
			} else if (r->action == CFE_SPD_DISCARD) {
				drop1(f, pm, SG_DROP_DISCARD);
			} else if (r->action == CFE_SPD_BYPASS) {
				rte_pktmbuf_adj(pm, pm->l2_len);
				fw[v][nf[v]++] = pm;
			} else if (dir == CFE_SPD_IN) {
				drop1(f, pm, SG_DROP_POLICY_MISMATCH);
			} else if ((cls = cfe_spd_rule_cls(r)) == 0) {
				sg_meta(pm)->rule = r->id;
				punt(f, pm, now);
			} else if ((dfe = cfe_class_dfe(cls)) >= f->c.n_dfe) {
				drop1(f, pm, SG_DROP_NO_SA);
			} else {
				sg_meta(pm)->cls = cls;
				stager_put(f, &st, dfe, pm);
			}
		}
	}
	stager_done(&st);
	rt = __atomic_load_n(f->c.route, __ATOMIC_ACQUIRE);
	for (v = 0; v < 2; v++)
		if (nf[v] != 0)
			f->st->bypassed += sg_fwd(rt, v ? 6 : 4, fw[v],
						  nf[v], f->c.txq, f->st, NULL);
}

/*
 * One RX burst. Pass one parses every frame and sorts it: ESP to classify,
 * IKE to punt, clear to the SPD, the rest dropped. Pass two classifies the
 * ESP frames with one bulk lookup (a second one, by destination, only for
 * SPIs the CE marked as shared) and stages them per DFE.
 */
static void
rx_burst(struct cfe *f, const struct cfe_rxq *q, struct rte_mbuf *pkts[],
	 unsigned n)
{
	/* by the frame's place in the burst; the ESP frames' and the clear
	 * ones' are found through ei[] and cinf[]: a copy of a frame's info
	 * right after cfe_parse() wrote it was a store-forwarding stall of
	 * about 20 cycles a clear packet (docs/PERFORMANCE.md, step 21) */
	struct cfe_pkt_info inf[SG_BURST];
	const struct cfe_pkt_info *cinf[SG_BURST];
	uint8_t ei[SG_BURST];
	struct cfe_class_key keys[SG_BURST], dkeys[SG_BURST];
	const struct cfe_class_key *kp[SG_BURST];
	struct rte_mbuf *esp[SG_BURST], *clr[SG_BURST];
	uint64_t vals[SG_BURST], uvals[SG_BURST], hit, uhit;
	unsigned i, ne = 0, nc = 0, nd = 0, nu = 0;
	uint64_t now = rte_rdtsc();
	unsigned by_dst[SG_BURST];
	uint8_t u[SG_BURST];	/* ESP packet -> its key in keys[] */

	for (i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct cfe_pkt_info *p = &inf[i];
		struct sg_meta *meta;
		int kind;

		kind = cfe_parse_hw(rte_pktmbuf_mtod(m, const uint8_t *),
				    rte_pktmbuf_data_len(m), hw_csum(m), p);
		if (!(p->flags & CFE_F_MCAST) && kind != CFE_KIND_DROP &&
		    !rte_is_same_ether_addr((const struct rte_ether_addr *)
					    p->dst_mac, &q->mac)) {
			drop1(f, m, SG_DROP_NOT_FOR_US);
			continue;
		}
		if (kind == CFE_KIND_DROP) {
			drop1(f, m, p->drop);
			continue;
		}
		/* Ethernet padding of short frames is not ours to decrypt */
		if (m->pkt_len > p->l2_len + p->ip_len)
			rte_pktmbuf_trim(m, m->pkt_len - p->l2_len - p->ip_len);
		m->l2_len = p->l2_len;
		m->l3_len = p->l3_len;
		meta = sg_meta(m);
		meta->flags = 0;
		meta->port = q->port;
		meta->kind = kind;
		meta->ip_ver = p->ip_ver;
		meta->l4_len = p->l4_len;
		meta->spi = p->spi;

		if (kind == CFE_KIND_IKE) {
			punt(f, m, now);
		} else if ((kind == CFE_KIND_ESP || kind == CFE_KIND_ESP_UDP) &&
			   q->role == CFE_PORT_UNPROTECTED) {
			/* one key per run of one SA's packets; the outer
			 * destination goes to the metadata only where it is
			 * read (by-destination keys, punts to the CE) */
			if (nu == 0 || keys[nu - 1].spi != p->spi) {
				memset(&keys[nu], 0, sizeof(keys[nu]));
				keys[nu].spi = p->spi;
				kp[nu] = &keys[nu];
				nu++;
			}
			u[ne] = (uint8_t)(nu - 1);
			ei[ne] = (uint8_t)i;
			esp[ne++] = m;
		} else {
			cinf[nc] = p;
			clr[nc++] = m;
		}
	}

	if (ne != 0) {
		uhit = cfe_table_lookup_bulk(f->c.table, kp, nu, uvals);
		hit = 0;
		for (i = 0; i < ne; i++) {
			if (!((uhit >> u[i]) & 1))
				continue;
			vals[i] = uvals[u[i]];
			if (likely(!(cfe_class_flags(vals[i]) &
				     CFE_CLASS_F_BY_DST))) {
				hit |= 1ULL << i;
				continue;
			}
			/* SPI + destination: a key per packet */
			struct cfe_class_key *k = &dkeys[nd];

			memset(k, 0, sizeof(*k));
			k->spi = inf[ei[i]].spi;
			k->family = inf[ei[i]].ip_ver;
			memcpy(k->dst, inf[ei[i]].dst, 16);
			kp[nd] = k;
			by_dst[nd++] = i;
		}
		if (nd != 0) {
			uint64_t v2[SG_BURST], h2;

			h2 = cfe_table_lookup_bulk(f->c.table, kp, nd, v2);
			for (i = 0; i < nd; i++) {
				if ((h2 >> i) & 1) {
					vals[by_dst[i]] = v2[i];
					hit |= 1ULL << by_dst[i];
				}
			}
		}
		struct stager st;

		stager_init(f, &st);

		for (i = 0; i < ne; i++) {
			struct rte_mbuf *m = esp[i];
			uint8_t dfe;

			if (!((hit >> i) & 1)) {
				memcpy(sg_meta(m)->dst, inf[ei[i]].dst, 16);
				punt(f, m, now);
				continue;
			}
			sg_meta(m)->cls = vals[i];
			dfe = cfe_class_dfe(vals[i]);
			if (unlikely(dfe >= f->c.n_dfe)) {
				drop1(f, m, SG_DROP_UNKNOWN_SPI);
				continue;
			}
			stager_put(f, &st, dfe, m);
		}
		stager_done(&st);
	}
	if (nc != 0)
		clear_path(f, q, clr, cinf, nc, now);

	flush_dfes(f);
	flush_punts(f);
}

/*
 * Backpressure: receive no more than the fullest DFE ring can take. When a
 * DFE on another lcore falls behind, packets then wait in (or are dropped
 * by) the device, which costs no CPU, instead of being received, parsed and
 * classified only to be dropped as ring_full: on an lcore that also runs a
 * DFE, that wasted work came out of the DFE's cycles.
 */
static inline unsigned
rx_room(const struct cfe *f)
{
	unsigned d, room = SG_BURST, r;

	for (d = 0; d < f->c.n_dfe; d++) {
		r = rte_ring_free_count(f->c.dfe_ring[d]);
		if (r < room)
			room = r;
	}
	return room;
}

unsigned
cfe_poll(struct cfe *f)
{
	struct rte_mbuf *pkts[SG_BURST];
	unsigned i, n, room, total = 0;

	if (unlikely(f->left != 0)) {
		/* also while draining (rx_stop): the CE waits for them */
		flush_dfes(f);
		if (f->left != 0) {
			f->st->rx_waits++;
			return 0;
		}
	}
	if (unlikely(*f->c.rx_stop))
		return 0;
	room = rx_room(f);
	if (unlikely(room == 0)) {
		f->st->rx_waits++;
		return 0;
	}
	for (i = 0; i < f->c.n_rxq; i++) {
		const struct cfe_rxq *q = &f->c.rxq[i];

		n = rte_eth_rx_burst(q->port, q->queue, pkts, room);
		if (n == 0)
			continue;
		f->st->rx += n;
		f->st->pkts += n;
		rx_burst(f, q, pkts, n);
		total += n;
		/* a stage holds one burst: the next queue waits */
		if (unlikely(f->left != 0))
			break;
	}
	return total;
}
