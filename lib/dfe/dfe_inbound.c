/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_esp.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "dfe_fwd.h"
#include "dfe_priv.h"
#include "sg_cls.h"
#include "sg_meta.h"

_Static_assert(SG_BURST <= 32, "finish(): one bit per packet of a batch");

/* Packets of one SA taken from one dequeued burst, in arrival order. */
struct grp {
	struct dfe_sa *sa;
	uint16_t n;
	struct rte_mbuf *m[SG_BURST];
};

static void inbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n);

/*
 * ESP in UDP, transport mode: lib/ipsec knows nothing of the UDP header, so
 * remove it first (slide the L2/L3 headers over it and patch the IP header),
 * leaving plain ESP. In tunnel mode the UDP header is simply counted in
 * l3_len: lib/ipsec cuts the whole outer header off.
 */
static int
natt_strip(struct rte_mbuf *m)
{
	uint32_t hl = m->l2_len + m->l3_len;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

	memmove(p + 8, p, hl);
	rte_pktmbuf_adj(m, 8);
	p += 8;
	if ((p[m->l2_len] >> 4) == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + m->l2_len);

		ip->next_proto_id = IPPROTO_ESP;
		ip->total_length = rte_cpu_to_be_16(
			rte_be_to_cpu_16(ip->total_length) - 8);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		return 0;
	}
	if (m->l3_len != sizeof(struct rte_ipv6_hdr))
		return -1;	/* extension headers before UDP: not supported */
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(p + m->l2_len);

	ip6->proto = IPPROTO_ESP;
	ip6->payload_len = rte_cpu_to_be_16(
		rte_be_to_cpu_16(ip6->payload_len) - 8);
	return 0;
}

/*
 * After the crypto: lib/ipsec checks padding and trailer and strips the
 * headers; then our window is updated with what authenticated, in order. A
 * failure is a replay when the window held its number before this batch
 * (enqueue/dequeue path: it passed the pre-check while an earlier packet
 * with that number was still in the device; with ESN its ICV then fails
 * too, being verified with the high half of the later number), an ICV
 * failure when the crypto flagged it, a replay when the window now holds
 * its number (a duplicate inside this burst), else the packet was
 * malformed (padding, next header, length).
 */
static void
finish(struct dfe *d, struct dfe_sa *sa, const struct rte_ipsec_session *ss,
       struct rte_mbuf *mb[], uint16_t n)
{
	struct dfe_bad bad;
	uint16_t g, i, k;
	uint64_t bytes = 0;
	uint32_t stale = 0;	/* bit i: mb[i] (a failure) was a replay */

	dfe_bad_init(&bad);
	g = rte_ipsec_pkt_process(ss, mb, n);
	if (unlikely(g < n))
		for (i = g; i < n; i++)
			if (dfe_replay_check(sa->replay,
					     sg_meta(mb[i])->sqn) != 0)
				stale |= UINT32_C(1) << i;

	for (i = 0, k = 0; i < g; i++) {
		if (dfe_replay_update(sa->replay, sg_meta(mb[i])->sqn) == 0) {
			/* authenticated and new: may move the NAT mapping */
			if (sa->natt && sg_meta(mb[i])->peer != 0)
				dfe_peer_seen(sa, sg_meta(mb[i]));
			mb[k++] = mb[i];
			bytes += mb[i]->pkt_len;
		} else {
			dfe_bad_put(&bad, mb[i], SG_DROP_REPLAY);
		}
	}
	for (i = g; i < n; i++) {
		struct rte_mbuf *m = mb[i];

		if (stale & (UINT32_C(1) << i))
			dfe_bad_put(&bad, m, SG_DROP_REPLAY);
		else if (m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED)
			dfe_bad_put(&bad, m, SG_DROP_AUTH_FAILED);
		else if (dfe_replay_check(sa->replay, sg_meta(m)->sqn) != 0)
			dfe_bad_put(&bad, m, SG_DROP_REPLAY);
		else
			dfe_bad_put(&bad, m, SG_DROP_MALFORMED);
	}
	dfe_in_done(d, sa, &bad, mb, k, bytes);
}

/* Lookaside: prepare a group of one SA and hand it to the device. */
void
dfe_lksd_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		uint16_t n)
{
	struct rte_crypto_op *cop[SG_BURST];
	uint16_t j;

	if (!dfe_cop_alloc(d, sa, cop, mb, n))
		return;
	j = rte_ipsec_pkt_crypto_prepare(dfe_sa_lss(sa), mb, cop, n);
	if (j < n) {
		rte_mempool_put_bulk(d->c.cop_pool, (void **)&cop[j], n - j);
		dfe_drop(d, sa, sa->dir == DFE_DIR_IN ? SG_DROP_MALFORMED :
			 SG_DROP_NO_MBUF, &mb[j], n - j);
	}
	if (j == 0)
		return;
	if (sa->iv_rand)
		dfe_cbc_iv_fix(cop, j);
	dfe_lksd_enqueue(d, sa, cop, j);
}

/*
 * Stage n prepared operations of one SA (each names its mbuf) for the
 * DFE's queue pair: they are enqueued together with the other groups' at
 * the end of the burst (dfe_lksd_flush()), or before any drain.
 */
void
dfe_lksd_enqueue(struct dfe *d, struct dfe_sa *sa, struct rte_crypto_op *cop[],
		 uint16_t n)
{
	if (d->n_lk + n > DFE_CRYPTO_MAX)
		dfe_lksd_flush(d);
	memcpy(&d->lk[d->n_lk], cop, n * sizeof(cop[0]));
	d->n_lk += n;
	__atomic_store_n(&sa->inflight, sa->inflight + n, __ATOMIC_RELEASE);
}

/* What the device does not take is dropped (ring_full). */
void
dfe_lksd_flush(struct dfe *d)
{
	unsigned e, i;

	if (d->n_lk == 0)
		return;
	e = rte_cryptodev_enqueue_burst(d->c.cdev_id, d->c.cdev_qp, d->lk,
					(uint16_t)d->n_lk);
	d->inflight += e;
	for (i = e; i < d->n_lk; i++) {
		struct rte_crypto_op *op = d->lk[i];
		struct rte_mbuf *m = op->sym->m_src;
		struct dfe_sa *sa = (struct dfe_sa *)(uintptr_t)
			rte_cryptodev_sym_session_opaque_data_get(
				op->sym->session);

		rte_mempool_put(d->c.cop_pool, op);
		d->st->drop[SG_DROP_RING_FULL]++;
		sa->drop[SG_DROP_RING_FULL]++;
		rte_pktmbuf_free(m);
		/* last: from here on the CE may free the SA */
		__atomic_store_n(&sa->inflight, sa->inflight - 1,
				 __ATOMIC_RELEASE);
	}
	d->n_lk = 0;
}

/*
 * Completed inbound operations of one SA on a lookaside path of the DFE's
 * own (dfe_gcm_lksd.c, dfe_cbc.c), in the order they were submitted
 * (rte_ipsec_pkt_crypto_group() flagged the failed ones); the payload
 * starts iv_len bytes after the ESP header. A failure counts as a replay
 * when the window held its number before this batch (it passed the
 * pre-check while its original was still in the device), else as an
 * authentication failure: as finish() does for lib/ipsec's operations.
 */
void
dfe_lksd_finish_in(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		   uint16_t n, uint8_t next_proto, uint32_t iv_len,
		   uint32_t icv_len)
{
	const struct dfe_selset *ss = __atomic_load_n(&sa->sel,
						      __ATOMIC_ACQUIRE);
	struct dfe_bad bad;
	struct sg_fwd_batch out;
	uint32_t stale = 0;	/* bit i: mb[i] failed and was a replay */
	uint64_t bytes = 0;
	unsigned i, k = 0;

	RTE_BUILD_BUG_ON(SG_BURST > 32);
	for (i = 0; i < n; i++)
		if (unlikely(mb[i]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED) &&
		    dfe_replay_check(sa->replay, sg_meta(mb[i])->sqn) != 0)
			stale |= UINT32_C(1) << i;
	sg_fwd_init(&out, sa->inner_family);
	dfe_bad_init(&bad);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint32_t pofs = m->l2_len + m->l3_len +
			sizeof(struct rte_esp_hdr) + iv_len;

		if (unlikely(m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED)) {
			dfe_bad_put(&bad, m, (stale >> i) & 1 ?
				    SG_DROP_REPLAY : SG_DROP_AUTH_FAILED);
			continue;
		}
		k += dfe_in_finish(sa, ss, &out, &bad, m, next_proto,
				   rte_pktmbuf_mtod_offset(m, const uint8_t *,
							   pofs),
				   (int32_t)(m->pkt_len - pofs - icv_len),
				   pofs, icv_len, &bytes);
	}
	dfe_in_done_fwd(d, sa, &bad, &out, k, bytes);
}

/* Lookaside: collect completed operations, grouped by SA. */
unsigned
dfe_lksd_drain(struct dfe *d)
{
	struct rte_crypto_op *cop[SG_BURST];
	struct rte_mbuf *mb[SG_BURST];
	struct rte_ipsec_group grp[SG_BURST];
	uint16_t n, ng, i, done = 0;

	dfe_lksd_flush(d);
	n = rte_cryptodev_dequeue_burst(d->c.cdev_id, d->c.cdev_qp, cop,
					SG_BURST);
	if (n == 0)
		return 0;
	d->inflight -= n;
	ng = rte_ipsec_pkt_crypto_group((const struct rte_crypto_op **)cop,
					mb, grp, n);
	for (i = 0; i < ng; i++) {
		struct dfe_sa *sa = (struct dfe_sa *)grp[i].id.ptr;

		if (sa->lksd == DFE_LKSD_GCM)
			dfe_gcm_lksd_finish(d, sa, grp[i].m, grp[i].cnt);
		else if (sa->lksd == DFE_LKSD_CBC)
			dfe_cbc_lksd_finish(d, sa, grp[i].m, grp[i].cnt);
		else if (sa->dir == DFE_DIR_IN)
			finish(d, sa, dfe_sa_lss(sa), grp[i].m, grp[i].cnt);
		else
			dfe_outbound_finish(d, sa, grp[i].m, grp[i].cnt);
		/* last: from here on the CE may free the SA (ce_sa_remove()
		 * waits for this count, after its grace periods, not for the
		 * lcore's next quiescent state) */
		__atomic_store_n(&sa->inflight, sa->inflight - grp[i].cnt,
				 __ATOMIC_RELEASE);
		done += grp[i].cnt;
	}
	/* ops with no session: cannot happen with our sessions; count it */
	if (done < n)
		dfe_drop(d, NULL, SG_DROP_CRYPTO_ERROR, &mb[done], n - done);
	/* only now, with every packet of the burst processed */
	rte_mempool_put_bulk(d->c.cop_pool, (void **)cop, n);
	return n;
}

void
dfe_settle(struct dfe *d)
{
	dfe_cbc_flush(d);
	dfe_lksd_flush(d);
	while (d->inflight != 0)
		dfe_lksd_drain(d);
}

/*
 * The crypto and what follows, for packets of one SA that passed the
 * pre-checks.
 *
 * A DFE_LKSD_SMALL SA (cpu crypto, HMAC) sends a group smaller than
 * DFE_MB_BATCH through the enqueue/dequeue path: one cpu-crypto call per
 * small group would flush intel-ipsec-mb's multi-buffer lanes for a packet
 * or two, where the queue pair's manager fills them across the groups of
 * a burst. While the SA has operations in the device, every group of it
 * takes that path too, whatever its size: the device completes a queue
 * pair's operations in order, so the SA's packets reach finish(), and its
 * replay window, in the order they arrived.
 */
static void
crypto(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t k)
{
	uint16_t n;

	if (sa->gcm != NULL) {
		if (sa->lksd == DFE_LKSD_GCM)	/* finished by dfe_lksd_drain() */
			dfe_gcm_lksd_submit(d, sa, mb, k);
		else
			dfe_gcm_inbound(d, sa, mb, k);
		return;
	}
	if (sa->cbc != NULL) {
		/* finished by dfe_lksd_drain(), or by dfe_cbc_reap() after
		 * this or a later burst */
		if (sa->lksd == DFE_LKSD_CBC)
			dfe_cbc_lksd_submit(d, sa, mb, k);
		else
			dfe_cbc_submit(d, sa, mb, k);
		return;
	}
	if (sa->lksd == DFE_LKSD_ALWAYS ||
	    (sa->lksd == DFE_LKSD_SMALL &&
	     (k < DFE_MB_BATCH || sa->inflight != 0))) {
		dfe_lksd_submit(d, sa, mb, k);
		return;
	}
	n = rte_ipsec_pkt_cpu_prepare(&sa->ss, mb, k);
	dfe_drop(d, sa, SG_DROP_MALFORMED, &mb[n], k - n);
	if (n != 0)
		finish(d, sa, &sa->ss, mb, n);
}

/* true if sqn is already among the first k packets of this batch */
static inline bool
in_batch(struct rte_mbuf *mb[], uint16_t k, uint64_t sqn)
{
	uint16_t i;

	for (i = 0; i < k; i++)
		if (sg_meta(mb[i])->sqn == sqn)
			return true;
	return false;
}

/*
 * ESP processing of packets of one SA: outer-header bookkeeping, sequence
 * numbers and the cheap replay reject, then the crypto.
 *
 * The window moves during a burst: sequence numbers are reconstructed
 * against the highest one seen so far in it, and duplicates inside the
 * burst are caught here, before the crypto. lib/ipsec, however, derives the
 * ESN high half it authenticates from its window as it was before the
 * batch; where the two would differ (a burst crossing a 2^32 boundary) the
 * batch is cut and the first part completed first, so that lib/ipsec sees
 * the moved window.
 */
static void
inbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t n)
{
	struct rte_mbuf *rej[SG_BURST], *mal[SG_BURST], *exp[SG_BURST];
	uint16_t i, k = 0, nr = 0, nm = 0, ne = 0, done = 0;
	uint64_t left = UINT64_MAX, base, run;

	/*
	 * Packets of this SA still in the device (or the direct CBC path's
	 * manager) are not in the window yet: an ESN SA would reconstruct the
	 * high half against a stale top (and lib/ipsec likewise), and the
	 * lifetime would count without them. Complete them first (in order:
	 * one queue pair, one manager).
	 */
	if (unlikely(sa->inflight != 0 && (sa->esn || sa->hard_packets != 0 ||
					   sa->hard_bytes != 0))) {
		dfe_cbc_flush(d);
		while (sa->inflight != 0)
			dfe_lksd_drain(d);
	}
	if (unlikely(sa->expired ||
		     (sa->hard_bytes != 0 && sa->bytes >= sa->hard_bytes))) {
		dfe_drop(d, sa, SG_DROP_LIFETIME_EXPIRED, mb, n);
		return;
	}
	if (sa->hard_packets != 0)
		left = sa->hard_packets > sa->packets ?
			sa->hard_packets - sa->packets : 0;
	base = run = sa->replay->top;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		struct sg_meta *meta = sg_meta(m);
		const struct rte_esp_hdr *esp;
		uint32_t seq;
		uint64_t sqn;

		if (unlikely(done + k >= left)) {
			exp[ne++] = m;
			continue;
		}
		if (meta->l4_len != 0) {
			if (meta->ip_ver == 4) {
				const struct rte_ipv4_hdr *oh =
					rte_pktmbuf_mtod_offset(m,
					const struct rte_ipv4_hdr *, m->l2_len);
				const struct rte_udp_hdr *uh =
					rte_pktmbuf_mtod_offset(m,
					const struct rte_udp_hdr *,
					m->l2_len + m->l3_len);

				meta->peer = (uint64_t)oh->src_addr |
					(uint64_t)uh->src_port << 32;
			} else {
				const struct rte_ipv6_hdr *oh6 =
					rte_pktmbuf_mtod_offset(m,
					const struct rte_ipv6_hdr *, m->l2_len);
				const struct rte_udp_hdr *uh =
					rte_pktmbuf_mtod_offset(m,
					const struct rte_udp_hdr *,
					m->l2_len + m->l3_len);

				/* the outer source does not fit 'peer': it
				 * goes where the outer destination was (the
				 * CE is done with it); 'peer' keeps the port
				 * and says "IPv6" in its low bit */
				memcpy(meta->dst, oh6->src_addr, 16);
				meta->peer = (uint64_t)uh->src_port << 32 | 1;
			}
			if (sa->mode == DFE_MODE_TUNNEL) {
				m->l3_len += meta->l4_len;
			} else if (natt_strip(m) != 0) {
				mal[nm++] = m;
				continue;
			}
			meta->l4_len = 0;
		}
		esp = rte_pktmbuf_mtod_offset(m, const struct rte_esp_hdr *,
					      m->l2_len + m->l3_len);
		seq = rte_be_to_cpu_32(esp->seq);
		sqn = seq;
		if (sa->esn) {
			sqn = dfe_replay_esn_at(run, sa->replay->win, seq);
			if (unlikely((sqn >> 32) != (dfe_replay_esn_at(base,
					sa->replay->win, seq) >> 32)) && k != 0) {
				crypto(d, sa, mb, k);
				dfe_cbc_flush(d);
				dfe_lksd_flush(d);
				while (d->inflight != 0)
					dfe_lksd_drain(d);
				done += k;
				k = 0;
				/* only what authenticated moves the window: a
				 * packet of the first part that failed must not
				 * decide this one's high half */
				base = run = sa->replay->top;
				sqn = dfe_replay_esn_at(run, sa->replay->win, seq);
			}
		}
		meta->sqn = sqn;
		if (dfe_replay_check(sa->replay, sqn) != 0 ||
		    (sqn <= run && sa->replay->win != 0 && in_batch(mb, k, sqn))) {
			rej[nr++] = m;
			continue;
		}
		if (sqn > run)
			run = sqn;
		mb[k++] = m;
	}
	dfe_drop(d, sa, SG_DROP_REPLAY, rej, nr);
	dfe_drop(d, sa, SG_DROP_MALFORMED, mal, nm);
	dfe_drop(d, sa, SG_DROP_LIFETIME_EXPIRED, exp, ne);
	if (k != 0)
		crypto(d, sa, mb, k);
}

static void
run_sa(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t n)
{
	if (sa->dir == DFE_DIR_IN)
		inbound(d, sa, mb, n);
	else
		dfe_outbound(d, sa, mb, n);
}

/*
 * Run the groups of a burst in order. What each SA points to (selectors;
 * lib/ipsec SA and crypto session, or the direct CBC key block, when the
 * SA was not seen in the last DFE_HOT_BURSTS bursts) is prefetched
 * DFE_PF_AHEAD groups ahead: far enough for the lines to arrive while the
 * groups before are processed, near enough that they are not evicted by the
 * lines of later groups before they are used (a whole burst of 32 SAs is
 * about 1,000 lines, more than L1).
 */
static inline void
prefetch_deps(struct dfe *d, struct dfe_sa *sa)
{
	uint16_t age = (uint16_t)(d->tick - sa->seen);

	dfe_sa_prefetch_deps(sa, age > DFE_HOT_BURSTS);
	sa->seen = d->tick;
}

static void
run_groups(struct dfe *d, struct grp *g, unsigned ng)
{
	unsigned i;

	d->tick++;
	for (i = 0; i < ng && i < DFE_PF_AHEAD; i++)
		prefetch_deps(d, g[i].sa);
	for (i = 0; i < ng; i++) {
		if (i + DFE_PF_AHEAD < ng)
			prefetch_deps(d, g[i + DFE_PF_AHEAD].sa);
		if (g[i].sa->dir == DFE_DIR_IN)
			inbound(d, g[i].sa, g[i].m, g[i].n);
		else
			dfe_outbound(d, g[i].sa, g[i].m, g[i].n);
	}
	/* the direct CBC groups whose jobs came out of the manager */
	dfe_cbc_reap(d);
	dfe_lksd_flush(d);
}

/*
 * The CE's marker: every packet it held for this SA has been re-injected
 * ahead of it. Open the gate, then process what arrived directly from the
 * CFEs meanwhile, in arrival order.
 */
static void
gate_open(struct dfe *d, struct dfe_sa *sa)
{
	struct rte_mbuf *run[SG_BURST];
	unsigned i, keep = 0, nr = 0;
	uint64_t cls;

	sa->gated = 0;
	if (sa->stashed == 0)
		return;
	for (i = 0; i < d->n_stash; i++) {
		struct rte_mbuf *m = d->stash[i];

		cls = sg_meta(m)->cls;
		if (d->sa[cfe_class_slot(cls)] == sa &&
		    cfe_class_gen(cls) == sa->gen) {
			run[nr++] = m;
			if (nr == SG_BURST) {
				run_sa(d, sa, run, nr);
				nr = 0;
			}
		} else {
			d->stash[keep++] = m;
		}
	}
	if (nr != 0)
		run_sa(d, sa, run, nr);
	d->n_stash = keep;
	sa->stashed = 0;
}

static void
stash(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *m)
{
	if (d->n_stash == DFE_STASH_MAX || sa->stashed >= d->c.stash_per_sa) {
		dfe_drop(d, sa, SG_DROP_HOLD_OVERFLOW, &m, 1);
		return;
	}
	d->stash[d->n_stash++] = m;
	sa->stashed++;
	d->st->held++;
}

/*
 * Sort a dequeued burst into per-SA groups (stable: per-SA order is kept),
 * so that each SA's packets meet the crypto as one batch.
 *
 * With many SAs each packet of a burst may belong to another SA whose state
 * is in no cache. The burst is therefore walked in stages, each issuing its
 * prefetches for the whole burst before anything waits on them: the slot
 * table entries, then the SAs' hot lines (and replay windows); what each SA
 * points to is prefetched a few groups ahead by run_groups(). The misses of
 * a burst overlap instead of adding up.
 */
static void
dispatch(struct dfe *d, struct rte_mbuf *in[], unsigned n)
{
	struct grp g[SG_BURST];
	struct dfe_sa *sav[SG_BURST];
	uint32_t slot[SG_BURST];
	/* a packet's group: map[slot % DFE_GRP_MAP] is the group (+1) of the
	 * first SA of the burst with that hash, 0 none; only another SA with
	 * the same hash takes the linear search (with one packet per SA it
	 * cost about 16 compares a packet: docs/PERFORMANCE.md, step 22) */
	uint8_t map[DFE_GRP_MAP];
	unsigned i, j, h, ng = 0;

	/* packets a CFE on another lcore received: their lines are in its
	 * cache, not ours */
	for (i = 0; i < n; i++) {
		rte_prefetch0(in[i]);
		rte_prefetch0(sg_meta(in[i]));
	}
	/*
	 * A DFE alone on its lcore: every packet's data was written by the
	 * CFE's core and is in that core's cache. The header lines are
	 * prefetched below; the rest of each packet (a 1420-byte packet is 23
	 * lines, which the crypto would fetch across cores one after the
	 * other) into L2 for the whole burst now.
	 */
	if (d->c.count_pkts)
		for (i = 0; i < n; i++) {
			const uint8_t *p = rte_pktmbuf_mtod(in[i],
							    const uint8_t *);
			uint32_t o, len = rte_pktmbuf_data_len(in[i]);

			for (o = 2 * RTE_CACHE_LINE_SIZE; o < len;
			     o += RTE_CACHE_LINE_SIZE)
				rte_prefetch1(p + o);
		}
	for (i = 0; i < n; i++) {
		slot[i] = cfe_class_slot(sg_meta(in[i])->cls);
		if (likely(slot[i] < d->c.max_sa))
			rte_prefetch0((const void *)&d->sa[slot[i]]);
		rte_prefetch0(rte_pktmbuf_mtod(in[i], const uint8_t *) +
			      in[i]->l2_len + in[i]->l3_len);
	}
	for (i = 0; i < n; i++) {
		sav[i] = NULL;
		if (likely(slot[i] < d->c.max_sa)) {
			sav[i] = __atomic_load_n(&d->sa[slot[i]],
						 __ATOMIC_ACQUIRE);
			if (likely(sav[i] != NULL))
				dfe_sa_prefetch(sav[i]);
		}
	}
	memset(map, 0, sizeof(map));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];
		struct sg_meta *meta = sg_meta(m);
		struct dfe_sa *sa = sav[i];

		if (unlikely(sa == NULL || sa->gen != cfe_class_gen(meta->cls))) {
			/* the SA went away while the packet was queued; a
			 * marker is no packet and counts nowhere */
			if (meta->flags & SG_META_MARKER)
				rte_pktmbuf_free(m);
			else
				dfe_drop(d, NULL, SG_DROP_UNKNOWN_SPI, &m, 1);
			continue;
		}
		if (unlikely(meta->flags & SG_META_MARKER)) {
			run_groups(d, g, ng);
			ng = 0;
			memset(map, 0, sizeof(map));
			rte_pktmbuf_free(m);
			gate_open(d, sa);
			continue;
		}
		if (unlikely(sa->gated) && !(meta->flags & SG_META_REINJECT)) {
			stash(d, sa, m);
			continue;
		}
		meta->flags = 0;
		h = slot[i] % DFE_GRP_MAP;
		j = map[h];
		if (ng != 0 && g[ng - 1].sa == sa) {
			/* a run of one SA's packets */
			j = ng - 1;
		} else if (j == 0) {
			/* no SA of this hash yet: a new group */
			j = ng++;
			g[j].sa = sa;
			g[j].n = 0;
			map[h] = (uint8_t)ng;
		} else if (g[j - 1].sa == sa) {
			j--;
		} else {
			for (j = ng; j > 0 && g[j - 1].sa != sa; j--)
				;
			if (j == 0) {
				j = ng++;
				g[j].sa = sa;
				g[j].n = 0;
			} else {
				j--;
			}
		}
		g[j].m[g[j].n++] = m;
	}
	run_groups(d, g, ng);
}

/*
 * A DFE alone on its lcore (every packet from a CFE on another lcore, whose
 * cache holds the mbuf's two lines and the metadata) works one burst
 * behind: the burst just dequeued is only prefetched, and the burst
 * dequeued by the previous call is processed. The lines then have a whole
 * burst's processing time to arrive instead of a few packets'. When the
 * ring is empty the held burst is processed at once, so a packet waits at
 * most one loop iteration. Measured (docs/PERFORMANCE.md, step 10): with
 * the CFE and the DFE on two lcores, 1 SA, 4.7-5.0 -> 7.8-9.8 Mpps; on an
 * lcore that also runs the CFE the lines are local and it cost 2-3%, so
 * there the burst is processed at once.
 *
 * When nothing new arrives, the direct CBC path's jobs still in
 * intel-ipsec-mb's lanes are flushed (dfe_cbc.c).
 */
unsigned
dfe_poll(struct dfe *d)
{
	struct rte_mbuf *in[SG_BURST];
	unsigned n, i, prev, done = 0;

	if (d->inflight != 0 && (d->c.count_pkts || d->lk_full))
		done = dfe_lksd_drain(d);
	n = rte_ring_dequeue_burst(d->c.ring, (void **)in, SG_BURST, NULL);
	if (!d->c.count_pkts) {
		/* a CFE on this lcore counted them at RX */
		if (n != 0)
			dispatch(d, in, n);
		else if (dfe_cbc_pending(d) != 0)
			done += dfe_cbc_flush(d);
		/*
		 * Lookaside: what the device completed of this burst is
		 * finished in this poll, not after the CFE's next burst: a
		 * software device (aesni_mb) does the crypto in the dequeue,
		 * and the packets' lines are still in cache (with two
		 * workers -6% to -7% a packet, docs/PERFORMANCE.md, step 34).
		 * The drain before the burst (above) runs only when this one
		 * took a whole burst, and more may be done: a dequeue with no
		 * new operation behind it has aesni_mb flush its multi-buffer
		 * lanes part empty (HMAC jobs of mixed lengths leave some in
		 * them after this drain), which cost a CBC IMIX packet 10-17%
		 * (docs/PERFORMANCE.md, step 35b); what is left waits for the
		 * next poll's drain, after that poll's burst.
		 */
		if (d->inflight != 0) {
			unsigned k = dfe_lksd_drain(d);

			d->lk_full = k == SG_BURST;
			done += k;
		}
		return done + n;
	}
	for (i = 0; i < n; i++) {
		rte_prefetch0(in[i]);
		rte_prefetch0((const uint8_t *)in[i] + RTE_CACHE_LINE_SIZE);
		rte_prefetch0(sg_meta(in[i]));
	}
	prev = d->n_ahead;
	if (prev != 0) {
		d->n_ahead = 0;
		dispatch(d, d->ahead, prev);
	}
	if (n != 0) {
		d->st->pkts += n;
		memcpy(d->ahead, in, n * sizeof(in[0]));
		d->n_ahead = n;
	} else if (prev == 0 && dfe_cbc_pending(d) != 0) {
		done += dfe_cbc_flush(d);
	}
	return done + n + prev;
}
