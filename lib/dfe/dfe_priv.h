/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_PRIV_H
#define DFE_PRIV_H

#include <rte_ipsec.h>
#include <rte_mbuf.h>

#include "dfe.h"
#include "dfe_replay.h"
#include "sg_common.h"

#define DFE_STASH_MAX 1024    /* packets behind gates, per DFE */
#define DFE_CRYPTO_MAX (SG_BURST * 4)

/*
 * The runtime SA: what the data path reads, compiled by dfe_sa_create().
 * 'ss' comes first so that a lib/ipsec session pointer is the SA pointer.
 * Written by the owning DFE only (counters, window, gate) once published.
 */
struct dfe_sa {
	struct rte_ipsec_session ss;
	uint32_t spi;
	uint16_t gen;
	uint8_t dir;
	uint8_t lksd;                 /* enqueue/dequeue path for this SA */
	uint8_t iv_rand;              /* CBC outbound: dfe_cbc_iv_fix() */
	uint8_t pad_align;
	uint8_t mode;
	uint8_t inner_family;
	uint8_t natt;
	uint8_t esn;
	volatile uint8_t gated;
	volatile uint8_t expired;     /* written by the CE */
	uint32_t stashed;
	volatile uint32_t inflight;   /* ops in the crypto device */
	volatile uint64_t peer;       /* NAT-T: in: last authenticated source;
				       * out: destination override (CE) */
	uint64_t hard_packets, hard_bytes;
	/* counters, single writer */
	uint64_t packets, bytes;
	uint64_t drop[SG_DROP_MAX];
	/* inbound: the selectors in force (RCU: dfe_sa_swap_sel()) */
	const struct dfe_selset *volatile sel;
	/* owned memory, released by dfe_sa_free() */
	struct rte_ipsec_sa *ipsec_sa;
	void *cses;
	uint8_t cdev_id;
	struct dfe_replay *replay;
	/* outbound */
	uint64_t out_sqn;             /* sequence numbers handed out */
	uint64_t sqn_max;
	uint16_t egress_port;
	uint16_t mtu;
	uint16_t overhead;            /* ESP bytes added besides padding */
	uint8_t iv_len;
	uint8_t hdr_len;
	uint8_t hdr[DFE_HDR_MAX];
	struct sg_addr remote;
	uint16_t encap_sport, encap_dport;
} __rte_cache_aligned;

struct dfe {
	struct dfe_conf c;
	struct dfe_sa *volatile *sa;  /* [max_sa] published SAs */
	struct sg_lcore_stats *st;
	unsigned inflight;            /* lookaside ops in the device */
	unsigned n_stash;
	struct rte_mbuf *stash[DFE_STASH_MAX];
} __rte_cache_aligned;

void dfe_forward(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		 uint16_t n);
/* dfe_outbound.c */
void dfe_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		  uint16_t n);
void dfe_outbound_finish(struct dfe *d, struct dfe_sa *sa,
			 struct rte_mbuf *mb[], uint16_t n);
void dfe_cbc_iv_fix(struct rte_crypto_op *cop[], uint16_t n);
/* dfe_inbound.c: the enqueue/dequeue crypto path, both directions */
void dfe_lksd_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		     uint16_t n);
unsigned dfe_lksd_drain(struct dfe *d);

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

#endif /* DFE_PRIV_H */
