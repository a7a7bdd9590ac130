/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_PRIV_H
#define DFE_PRIV_H

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "dfe.h"
#include "dfe_replay.h"
#include "sg_common.h"
#include "sg_meta.h"

#define DFE_STASH_MAX 1024    /* packets behind gates, per DFE */
/* an SA whose last group is at most this many bursts old has its crypto
 * state in cache: see dfe_sa_prefetch_deps() */
#define DFE_HOT_BURSTS 256
#define DFE_CRYPTO_MAX (SG_BURST * 4)
#define DFE_IPSEC_SA_PF_LINES 4  /* lib/ipsec SA lines prefetched */
#define DFE_PF_AHEAD 4        /* groups: see run_groups() */
#define DFE_GRP_MAP 128       /* dispatch(): hash of a burst's groups */
/* cpu crypto, DFE_LKSD_SMALL SAs: groups smaller than this take the
 * enqueue/dequeue path (crypto() in dfe_inbound.c) */
#define DFE_MB_BATCH 16

/* sa->lksd: the crypto path of an SA's packets */
enum {
	DFE_LKSD_NEVER,   /* synchronous cpu crypto */
	DFE_LKSD_ALWAYS,  /* enqueue/dequeue (lookaside mode; CBC outbound
			   * off the direct CBC path, for its IVs) */
	DFE_LKSD_SMALL,   /* cpu crypto for groups of DFE_MB_BATCH or more,
			   * enqueue/dequeue for smaller ones and while the SA
			   * has operations in the device (sa->lss) */
	DFE_LKSD_GCM,     /* enqueue/dequeue of the DFE's own GCM operations
			   * (lookaside mode, tunnel AES-GCM SAs, sa->gcm
			   * without its key block: dfe_gcm_lksd.c); no
			   * lib/ipsec SA */
	DFE_LKSD_CBC,     /* the same for tunnel AES-CBC + HMAC SAs (sa->cbc
			   * without its keys: dfe_cbc.c) */
};

/*
 * The runtime SA: what the data path reads, compiled by dfe_sa_create().
 * 'ss' comes first so that a lib/ipsec session pointer is the SA pointer.
 * Written by the owning DFE only (counters, window, gate) once published.
 *
 * Laid out hot first (docs/PERFORMANCE.md, "per-SA state"): with many SAs
 * every packet of a burst may belong to another SA, and each line of SA
 * state is a cache miss. Line 0 is lib/ipsec's session (cache-aligned by
 * lib/ipsec), line 1 what inbound and outbound read for every packet and
 * the success counters beside it, line 2 the pointers to the other per-SA
 * objects (the selector set among them) and what outbound reads per
 * packet, line 3 the NAT-T peer and the loop guard's remote, line 4 the
 * enqueue/dequeue session of a DFE_LKSD_SMALL SA. Drop counters (written
 * only on a drop), the outbound template and the IPv6 NAT-T records come
 * after. The replay window is allocated in the same block, right after
 * this struct (dfe_sa_create()), so that its address is known without
 * reading the SA (dfe_sa_prefetch()).
 */
struct dfe_sa {
	struct rte_ipsec_session ss;
	/* line 1: read for every packet */
	uint32_t spi;
	uint16_t gen;
	uint8_t dir;
	uint8_t lksd;                 /* DFE_LKSD_*: crypto path */
	uint8_t iv_rand;              /* CBC outbound: dfe_cbc_iv_fix() */
	uint8_t pad_align;
	uint8_t mode;
	uint8_t inner_family;
	uint8_t natt;
	uint8_t esn;
	volatile uint8_t gated;
	volatile uint8_t expired;     /* written by the CE */
	uint16_t stashed;             /* <= DFE_STASH_MAX */
	uint16_t seen;                /* d->tick of its last group */
	volatile uint32_t inflight;   /* ops in the crypto device */
	uint64_t hard_packets, hard_bytes;
	/* counters, single writer */
	uint64_t packets, bytes;
	uint64_t out_sqn;             /* outbound: sequence numbers handed out */
	/* line 2: the other per-SA objects (dfe_sa_prefetch_deps()), then
	 * what outbound reads per packet */
	struct dfe_replay *replay __rte_cache_aligned;
	/* inbound: the selectors in force (RCU: dfe_sa_swap_sel()) */
	const struct dfe_selset *volatile sel;
	struct rte_ipsec_sa *ipsec_sa;
	void *cses;
	struct dfe_gcm *gcm;          /* the direct paths (dfe_gcm.c, */
	struct dfe_cbc *cbc;          /* dfe_cbc.c), or NULL: lib/ipsec */
	uint32_t cses_lines;          /* bit i: prefetch line i of the crypto
				       * state: 'cbc' in cpu mode, else the
				       * crypto session (dfe_sa_create());
				       * 0 for 'gcm' in cpu mode
				       * (dfe_gcm_sa_init()) */
	uint8_t iv_len;
	uint8_t hdr_len;
	uint16_t egress_port;
	uint16_t mtu;
	uint16_t overhead;            /* ESP bytes added besides padding */
	uint16_t encap_sport, encap_dport;
	/* line 3: NAT-T SAs and the outbound loop guard */
	volatile uint64_t peer __rte_cache_aligned;       /* NAT-T: in: last authenticated source;
				       * out: destination override (CE) */
	struct sg_addr remote;
	/* line 4, DFE_LKSD_SMALL: a session of type NONE over the same
	 * lib/ipsec SA and crypto session as 'ss' (CPU_CRYPTO), for the
	 * enqueue/dequeue path (a lib/ipsec session's type is fixed when it
	 * is prepared) */
	struct rte_ipsec_session lss __rte_cache_aligned;
	/* cold: drop counters, outbound template, IPv6 NAT-T float (in: the
	 * last authenticated source, written by the DFE under seen6_seq, odd
	 * while writing; out: the destination override published by the CE,
	 * RCU) */
	uint64_t drop[SG_DROP_MAX] __rte_cache_aligned;
	uint8_t cdev_id;
	uint8_t hdr[DFE_HDR_MAX];
	volatile uint32_t seen6_seq;
	struct dfe_peer6 seen6;
	const struct dfe_peer6 *volatile out6;
} __rte_cache_aligned;

_Static_assert(DFE_STASH_MAX <= UINT16_MAX, "dfe_sa.stashed");
_Static_assert(offsetof(struct dfe_sa, spi) == RTE_CACHE_LINE_SIZE &&
	       offsetof(struct dfe_sa, out_sqn) + 8 <= 2 * RTE_CACHE_LINE_SIZE &&
	       offsetof(struct dfe_sa, replay) == 2 * RTE_CACHE_LINE_SIZE &&
	       offsetof(struct dfe_sa, sel) + 8 <= 3 * RTE_CACHE_LINE_SIZE &&
	       offsetof(struct dfe_sa, encap_dport) + 2 <= 3 * RTE_CACHE_LINE_SIZE,
	       "hot per-SA state: see the layout comment above");

/* The session of the SA's enqueue/dequeue path. */
static inline struct rte_ipsec_session *
dfe_sa_lss(struct dfe_sa *sa)
{
	return sa->lksd == DFE_LKSD_SMALL ? &sa->lss : &sa->ss;
}

/* The replay window, in the SA's own block. */
static inline struct dfe_replay *
dfe_sa_replay_at(const struct dfe_sa *sa)
{
	return (struct dfe_replay *)(uintptr_t)((const uint8_t *)sa +
						 sizeof(*sa));
}

/*
 * Staged prefetch of per-SA state for a burst whose packets may each
 * belong to another SA: first the lines of the SA itself (its address
 * comes from the slot table, its window sits right after it), then, once
 * those arrived, the objects the SA points to. Each stage is issued for the
 * whole burst before anything waits on it, so the misses overlap.
 */
static inline void
dfe_sa_prefetch(const struct dfe_sa *sa)
{
	const uint8_t *p = (const uint8_t *)sa;

	rte_prefetch0(p);
	rte_prefetch0(p + RTE_CACHE_LINE_SIZE);
	rte_prefetch0(p + 2 * RTE_CACHE_LINE_SIZE);
	rte_prefetch0(dfe_sa_replay_at(sa));
}

/*
 * The second stage, a few groups ahead of the one processed (run_groups()):
 * the selectors, the outbound template, and the crypto state (lib/ipsec's
 * SA and the crypto session, or the direct CBC path's key block), which is
 * prefetched only when 'cold'.
 *
 * Cold: the SA's last group is more than DFE_HOT_BURSTS bursts old. The
 * crypto state of an SA seen that recently is still in L2 or L3, and the
 * prefetch of its 10 to 23 lines from there cost more than it saved: with
 * 1,000 SAs (each seen every 31 bursts) lookaside 480 -> 444 cycles a
 * packet without it, direct CBC 508 -> 495; with 100,000 SAs (each seen
 * every 3,000 bursts, from DRAM) the prefetch saves 220 and 90 cycles
 * (docs/PERFORMANCE.md, step 20).
 */
static inline void
dfe_sa_prefetch_deps(const struct dfe_sa *sa, bool cold)
{
	const uint8_t *is = (const uint8_t *)sa->ipsec_sa;
	const uint8_t *cs = (const uint8_t *)sa->cses;
	uint32_t m;
	unsigned i;

	rte_prefetch0(sa->sel);	/* n and the first selector */
	/* outbound direct paths: they copy the SA's own template */
	if (sa->dir == DFE_DIR_OUT && (sa->gcm != NULL || sa->cbc != NULL)) {
		rte_prefetch0(sa->hdr);
		rte_prefetch0(sa->hdr + DFE_HDR_MAX - 1);
	}
	if (sa->lksd == DFE_LKSD_SMALL)
		rte_prefetch0(&sa->lss);
	if (!cold)
		return;
	/* the direct paths read neither lib/ipsec's SA nor the session; the
	 * GCM one has no lines to prefetch (cses_lines 0, step 19); the
	 * lookaside CBC one reads its head, the device the session */
	if (sa->lksd == DFE_LKSD_CBC)
		rte_prefetch0(sa->cbc);
	else if (sa->cbc != NULL)
		cs = (const uint8_t *)sa->cbc;
	else if (sa->gcm == NULL && is != NULL)
		for (i = 0; i < DFE_IPSEC_SA_PF_LINES; i++)
			rte_prefetch0(is + i * RTE_CACHE_LINE_SIZE);
	for (m = sa->cses_lines; m != 0; m &= m - 1)
		rte_prefetch0(cs + __builtin_ctz(m) * RTE_CACHE_LINE_SIZE);
}

/* dfe_cbc.c: a group of one SA whose crypto is under way */
struct dfe_defer {
	struct dfe_sa *sa;
	uint32_t first;               /* its first job (d->cbc_tail then) */
	uint16_t n;
	uint16_t tick;                /* d->tick when it was submitted */
};

/*
 * The direct CBC path's jobs stay in intel-ipsec-mb's manager across
 * bursts (dfe_cbc.c): at most DFE_CBC_MAX at once, what the manager holds
 * (IMB_MAX_JOBS), in as many groups at most; 128 cost outbound IMIX 15%
 * (docs/PERFORMANCE.md, step 31). Powers of two: the job and group
 * counters run free and index the rings modulo their size.
 */
#define DFE_CBC_MAX 256
#define DFE_DEFER_MAX DFE_CBC_MAX
/* bursts a group may wait in the lanes, while jobs keep coming, before
 * they are flushed for it (dfe_cbc_reap()) */
#define DFE_CBC_AGE 16

struct dfe {
	struct dfe_conf c;
	struct dfe_sa *volatile *sa;  /* [max_sa] published SAs */
	struct sg_lcore_stats *st;
	struct IMB_MGR *imb;          /* direct GCM path: function table, or
				       * NULL (dfe_gcm.c) */
	struct IMB_MGR *imb_sha;      /* direct CBC path's HMAC-SHA-1/256
				       * jobs: imb, or the SSE manager
				       * (dfe_cbc.c, sha_engine()) */
	struct IMB_MGR *imb_dec;      /* its inbound AES-CBC of long packets
				       * apart from the HMAC, or NULL
				       * (dfe_cbc.c, split_dec()) */
	int imb_arch;                 /* IMB_ARCH of imb */
	unsigned inflight;            /* lookaside ops in the device */
	uint16_t tick;                /* bursts run (dfe_sa.seen), wraps */
	bool direct_gcm, direct_cbc;  /* SPIGATE_DIRECT_GCM, _CBC != "0" */
	bool lk_full;                 /* dfe_poll(): its last drain after the
				       * burst took SG_BURST completions */
	/* the direct CBC path: jobs [cbc_head, cbc_tail) and groups
	 * [grp_head, grp_tail) submitted and not finished yet, by slot
	 * (counter % DFE_CBC_MAX) */
	uint32_t cbc_head, cbc_tail, grp_head, grp_tail;
	uint32_t cbc_mark;            /* cbc_tail at the last dfe_cbc_reap() */
	struct dfe_defer defer[DFE_DEFER_MAX];
	struct rte_mbuf *job_m[DFE_CBC_MAX];
	uint8_t job_st[DFE_CBC_MAX];  /* 0 under way, 1 done, 2 failed */
	uint8_t job_tag[DFE_CBC_MAX][32];  /* computed ICV */
	uint8_t job_icv[DFE_CBC_MAX][32];  /* received ICV (ESN SAs) */
	unsigned n_stash;
	unsigned n_lk;                /* operations staged for the device;
				       * none outside dispatch(): run_groups()
				       * flushes them */
	struct rte_crypto_op *lk[DFE_CRYPTO_MAX];
	unsigned n_ahead;             /* dequeued, processed next poll */
	struct rte_mbuf *ahead[SG_BURST];
	struct rte_mbuf *stash[DFE_STASH_MAX];
} __rte_cache_aligned;

void dfe_forward(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		 uint16_t n);
/* dfe_outbound.c */
void dfe_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		  uint16_t n);
void dfe_outbound_finish(struct dfe *d, struct dfe_sa *sa,
			 struct rte_mbuf *mb[], uint16_t n);
void dfe_outbound_tx(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		     uint16_t n);
void dfe_cbc_iv_fix(struct rte_crypto_op *cop[], uint16_t n);

/*
 * Outer DSCP and ECN from the inner header. fill_prm() asks lib/ipsec for
 * both (copy_dscp, ecn), so its mask is the whole byte: the outer TOS or
 * traffic class becomes the inner one, ECN CE included (RFC 6040 normal
 * mode); an IPv6 outer header keeps the template's version and flow label.
 */
static inline void
dfe_tos_copy(uint8_t *outer, const uint8_t *inner, bool inner4)
{
	uint8_t tos = inner4 ? inner[1] :
		(uint8_t)(inner[0] << 4 | inner[1] >> 4);

	if ((outer[0] >> 4) == 4) {
		outer[1] = tos;
	} else {
		outer[0] = (uint8_t)((outer[0] & 0xf0) | tos >> 4);
		outer[1] = (uint8_t)((outer[1] & 0x0f) | tos << 4);
	}
}

/*
 * Room for a direct path's outbound tunnel packet (dfe_gcm_out.c,
 * dfe_cbc.c) in its one mbuf, as lib/ipsec makes it: 'head' bytes before
 * the inner packet (template, ESP header, IV: where the L2 header was, and
 * more), 'tail' bytes after it (padding, trailer, ICV), if the tail room
 * also holds 'extra' bytes beyond them (what lib/ipsec keeps there while
 * the crypto runs). Returns the packet's new start with *t at the old
 * end, or NULL (no_mbuf) with the mbuf as it was.
 */
static inline uint8_t *
dfe_out_room(struct rte_mbuf *m, uint32_t head, uint32_t tail, uint32_t extra,
	     uint8_t **t)
{
	uint8_t *h;

	if (unlikely(tail + extra > rte_pktmbuf_tailroom(m)))
		return NULL;
	h = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)(head - m->l2_len));
	if (unlikely(h == NULL))
		return NULL;
	*t = h + m->data_len;
	m->data_len += tail;
	m->pkt_len += tail;
	return h;
}

/*
 * The direct paths' outbound tunnel packet (dfe_gcm_out.c, dfe_cbc.c), its
 * headers as lib/ipsec writes them (esp_outb.c outb_tun_pkt_prepare(),
 * iph.h update_tun_outb_l3hdr()): the SA's template (Ethernet, outer IP,
 * NAT-T UDP) at h, the packet's new start; the outer IPv4 total length and
 * ID (low 16 bits of the sequence number sqn) or IPv6 payload length from
 * m's final length; DSCP and ECN from the inner header at 'inner'; the
 * template's L2 and L3 as the mbuf's (lib/ipsec's tx_offload).
 */
static inline void
dfe_out_tun_hdr(const struct dfe_sa *sa, struct rte_mbuf *m, uint8_t *h,
		const uint8_t *inner, uint64_t sqn, bool out4, bool in4)
{
	uint8_t *l3 = h + RTE_ETHER_HDR_LEN;

	memcpy(h, sa->hdr, sa->hdr_len);
	if (out4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;

		ip->packet_id = rte_cpu_to_be_16((uint16_t)sqn);
		ip->total_length = rte_cpu_to_be_16(m->pkt_len -
						    RTE_ETHER_HDR_LEN);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)l3;

		ip6->payload_len = rte_cpu_to_be_16(m->pkt_len -
			RTE_ETHER_HDR_LEN - sizeof(*ip6));
	}
	dfe_tos_copy(l3, inner, in4);
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = sa->hdr_len - RTE_ETHER_HDR_LEN;
}
/* dfe_inbound.c: the enqueue/dequeue crypto path, both directions */
void dfe_lksd_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		     uint16_t n);
void dfe_lksd_enqueue(struct dfe *d, struct dfe_sa *sa,
		      struct rte_crypto_op *cop[], uint16_t n);
unsigned dfe_lksd_drain(struct dfe *d);
void dfe_lksd_flush(struct dfe *d);
void dfe_lksd_finish_in(struct dfe *d, struct dfe_sa *sa,
			struct rte_mbuf *mb[], uint16_t n, uint8_t next_proto,
			uint32_t iv_len, uint32_t icv_len);

/* Where an authenticated NAT-T packet came from (the CE polls it). */
static inline void
dfe_peer_seen(struct dfe_sa *sa, const struct sg_meta *meta)
{
	uint16_t port;
	uint32_t seq;

	if (meta->ip_ver == 4) {
		if (meta->peer != sa->peer)
			__atomic_store_n(&sa->peer, meta->peer,
					 __ATOMIC_RELEASE);
		return;
	}
	port = (uint16_t)(meta->peer >> 32);
	if (sa->seen6_seq != 0 && sa->seen6.port_be == port &&
	    memcmp(sa->seen6.addr, meta->dst, 16) == 0)
		return;
	/* single writer: odd while the 18 bytes change */
	seq = sa->seen6_seq;
	__atomic_store_n(&sa->seen6_seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(sa->seen6.addr, meta->dst, 16);
	sa->seen6.port_be = port;
	__atomic_store_n(&sa->seen6_seq, seq + 2, __ATOMIC_RELEASE);
}

/*
 * The packets an inbound batch drops after its crypto, with their reasons.
 * dfe_in_done() frees them and counts them (the SA's drop counters are
 * cold: touched only on a drop), then counts and forwards the good ones.
 */
struct dfe_bad {
	uint16_t n;
	uint16_t cnt[SG_DROP_MAX];
	struct rte_mbuf *m[SG_BURST];
};

static inline void
dfe_bad_init(struct dfe_bad *b)
{
	b->n = 0;
	memset(b->cnt, 0, sizeof(b->cnt));
}

static inline void
dfe_bad_put(struct dfe_bad *b, struct rte_mbuf *m, enum sg_drop why)
{
	b->m[b->n++] = m;
	b->cnt[why]++;
}

static inline void
dfe_bad_flush(struct dfe *d, struct dfe_sa *sa, struct dfe_bad *b)
{
	unsigned i;

	if (likely(b->n == 0))
		return;
	for (i = 0; i < SG_DROP_MAX; i++) {
		d->st->drop[i] += b->cnt[i];
		sa->drop[i] += b->cnt[i];
	}
	rte_pktmbuf_free_bulk(b->m, b->n);
	b->n = 0;
}

static inline void
dfe_in_done(struct dfe *d, struct dfe_sa *sa, struct dfe_bad *b,
	    struct rte_mbuf *mb[], uint16_t k, uint64_t bytes)
{
	dfe_bad_flush(d, sa, b);
	d->st->decrypted += k;
	sa->bytes += bytes;
	if (k != 0)
		dfe_forward(d, sa, mb, k);
}

/* Constant time: an ICV compare must not say how many bytes matched.
 * len: a multiple of 4 (every ICV of the product: 12 to 32 bytes). */
static inline bool
dfe_icv_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	uint64_t x = 0, u, v;
	uint32_t s, t;

	for (; len >= 8; len -= 8, a += 8, b += 8) {
		memcpy(&u, a, 8);
		memcpy(&v, b, 8);
		x |= u ^ v;
	}
	if (len != 0) {
		memcpy(&s, a, 4);
		memcpy(&t, b, 4);
		x |= s ^ t;
	}
	return x == 0;
}

/*
 * RFC 4303 2.4: padding bytes are 1, 2, 3, ... (n <= 255). Eight bytes at a
 * time against the sequence computed in a word (bytes o + 1 .. o + 8 at
 * offset o, little-endian order); of the last word only the bytes of the
 * padding count. A byte loop was 14 of the direct CBC path's cycles with 64
 * B packets (14 bytes of padding; docs/PERFORMANCE.md, step 29). Reads up to
 * 7 bytes past the padding: the caller's packet has the pad length, the
 * next header and the ICV there (at least 10 bytes, contiguous).
 */
static inline bool
dfe_pad_ok(const uint8_t *p, unsigned n)
{
	const uint64_t seq = UINT64_C(0x0807060504030201);
	const uint64_t step = UINT64_C(0x0101010101010101);
	uint64_t x = 0, w;
	unsigned o;

	for (o = 0; o + 8 <= n; o += 8) {
		memcpy(&w, p + o, 8);
		x |= rte_le_to_cpu_64(w) ^ (seq + o * step);
	}
	if (o < n) {
		/* carries of the bytes beyond the padding go up, into bytes
		 * the mask drops */
		memcpy(&w, p + o, 8);
		x |= (rte_le_to_cpu_64(w) ^ (seq + o * step)) &
			((UINT64_C(1) << (8 * (n - o))) - 1);
	}
	return x == 0;
}

/*
 * A direct path's packet that authenticated, had a good trailer and was
 * new to the window: note its NAT-T source, cut the outer headers, ESP
 * header and IV (head bytes) and the padding, trailer and ICV (tail
 * bytes), and leave the mbuf as lib/ipsec does (at the inner IP header).
 * Returns the inner length.
 */
static inline uint32_t
dfe_in_strip(struct dfe_sa *sa, struct rte_mbuf *m, const struct sg_meta *meta,
	     uint32_t head, uint32_t tail)
{
	if (sa->natt && meta->peer != 0)
		dfe_peer_seen(sa, meta);
	rte_pktmbuf_adj(m, (uint16_t)head);
	rte_pktmbuf_trim(m, (uint16_t)tail);
	m->packet_type = RTE_PTYPE_UNKNOWN;
	m->l2_len = 0;
	m->l3_len = 0;
	m->ol_flags &= ~RTE_MBUF_F_RX_SEC_OFFLOAD;
	return m->pkt_len;
}

/* A direct path's per-SA key block: wiped, then freed (NULL: nothing). */
static inline void
dfe_key_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	rte_free(p);
}

/* dfe_gcm.c: the direct GCM path */
int dfe_gcm_init(struct dfe *d);
void dfe_gcm_fini(struct dfe *d);
int dfe_gcm_sa_init(struct dfe *d, struct dfe_sa *sa,
		    const struct dfe_sa_prm *p);
void dfe_gcm_sa_free(struct dfe_sa *sa);
void dfe_gcm_inbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		     uint16_t n);
/* dfe_cbc.c: the direct CBC path */
int dfe_cbc_init(struct dfe *d);
void dfe_cbc_fini(struct dfe *d);
int dfe_cbc_sa_init(struct dfe *d, struct dfe_sa *sa,
		    const struct dfe_sa_prm *p);
void dfe_cbc_sa_free(struct dfe_sa *sa);
void dfe_cbc_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n);
void dfe_cbc_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		      uint16_t n);
/* the lookaside CBC path (sa->lksd DFE_LKSD_CBC): inbound operations
 * submitted by dfe_cbc_lksd_submit(), outbound ones by dfe_cbc_outbound(),
 * both finished by dfe_cbc_lksd_finish() */
void dfe_cbc_lksd_submit(struct dfe *d, struct dfe_sa *sa,
			 struct rte_mbuf *mb[], uint16_t n);
void dfe_cbc_lksd_finish(struct dfe *d, struct dfe_sa *sa,
			 struct rte_mbuf *mb[], uint16_t n);
unsigned dfe_cbc_reap(struct dfe *d);
unsigned dfe_cbc_flush(struct dfe *d);

/* Jobs of the direct CBC path in the manager. */
static inline unsigned
dfe_cbc_pending(const struct dfe *d)
{
	return d->cbc_tail - d->cbc_head;
}
/* dfe_gcm_lksd.c: the lookaside GCM path (outbound: dfe_gcm_outbound()
 * builds the packets, dfe_gcm_lksd_finish() sends them) */
void dfe_gcm_lksd_submit(struct dfe *d, struct dfe_sa *sa,
			 struct rte_mbuf *mb[], uint16_t n);
void dfe_gcm_lksd_finish(struct dfe *d, struct dfe_sa *sa,
			 struct rte_mbuf *mb[], uint16_t n);
/* dfe_gcm_out.c */
void dfe_gcm_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		      uint16_t n);

static inline void
dfe_drop(struct dfe *d, struct dfe_sa *sa, enum sg_drop why,
	 struct rte_mbuf *mb[], uint16_t n)
{
	if (n == 0)
		return;
	d->st->drop[why] += n;
	if (sa != NULL)
		sa->drop[why] += n;
	rte_pktmbuf_free_bulk(mb, n);
}

/* An operation from the DFE's pool for each of the n packets of one SA
 * (true), or the n packets dropped as no_mbuf, as lib/ipsec's path does
 * (false). */
static inline bool
dfe_cop_alloc(struct dfe *d, struct dfe_sa *sa, struct rte_crypto_op *cop[],
	      struct rte_mbuf *mb[], uint16_t n)
{
	if (rte_crypto_op_bulk_alloc(d->c.cop_pool,
				     RTE_CRYPTO_OP_TYPE_SYMMETRIC, cop, n) != 0)
		return true;
	dfe_drop(d, sa, SG_DROP_NO_MBUF, mb, n);
	return false;
}

#endif /* DFE_PRIV_H */
