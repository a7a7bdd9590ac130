/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_FWD_H
#define SG_FWD_H

/*
 * Forwarding of clear IP packets, shared by the DFE (after decryption) and
 * the CFE (bypass): TTL / hop-limit check and decrement, one bulk route
 * lookup per family, Ethernet header from the next hop, TX buffer. Packets
 * start at their IP header and are all of one family. Every packet ends in
 * a TX buffer or a counted drop (also in sa_drop[] when not NULL). Returns
 * the number queued for TX.
 */

#include <stdbool.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "sg_common.h"
#include "sg_route.h"
#include "sg_stats.h"
#include "sg_tx.h"

static inline void
sg_fwd_drop(struct rte_mbuf *m, enum sg_drop why, struct sg_lcore_stats *st,
	    uint64_t *sa_drop)
{
	st->drop[why]++;
	if (sa_drop != NULL)
		sa_drop[why]++;
	rte_pktmbuf_free(m);
}

/* Decrement the TTL with the incremental checksum update of RFC 1624. */
static inline void
sg_ttl_dec4(struct rte_ipv4_hdr *ip)
{
	uint32_t c = ip->hdr_checksum;

	c += rte_cpu_to_be_16(0x0100);
	ip->hdr_checksum = (uint16_t)(c + (c >= 0xffff));
	ip->time_to_live--;
}

/*
 * A batch of packets of one family on their way out: checked (TTL), their
 * destination noted for the route lookup. Filled a packet at a time by
 * sg_fwd_add(), sent by sg_fwd_send().
 */
struct sg_fwd_batch {
	unsigned n;
	uint8_t family;
	struct rte_mbuf *m[SG_BURST];
	union {
		uint32_t a4[SG_BURST];
		uint8_t a6[SG_BURST][16];
	};
};

static inline void
sg_fwd_init(struct sg_fwd_batch *b, uint8_t family)
{
	b->n = 0;
	b->family = family;
}

/* The TTL / hop-limit check: true and the packet added, or false: the
 * caller drops it as SG_DROP_TTL_EXCEEDED. */
static inline bool
sg_fwd_add(struct sg_fwd_batch *b, struct rte_mbuf *m)
{
	if (b->family == 4) {
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m,
			const struct rte_ipv4_hdr *);

		if (ip->time_to_live <= 1)
			return false;
		b->a4[b->n] = rte_be_to_cpu_32(ip->dst_addr);
	} else {
		const struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m,
			const struct rte_ipv6_hdr *);

		if (ip6->hop_limits <= 1)
			return false;
		memcpy(b->a6[b->n], ip6->dst_addr, 16);
	}
	b->m[b->n++] = m;
	return true;
}

/* One bulk route lookup, TTL decrement, Ethernet header, TX buffer. */
static inline unsigned
sg_fwd_send(const struct sg_route *r, struct sg_fwd_batch *b,
	    struct sg_txq *txq, struct sg_lcore_stats *st, uint64_t *sa_drop)
{
	const struct rte_ether_hdr *eh[SG_BURST];
	uint16_t port[SG_BURST];
	const uint8_t family = b->family;
	unsigned i, k = b->n, sent = 0;

	if (k == 0)
		return 0;
	b->n = 0;
	if (family == 4)
		sg_route_lookup4(r, b->a4, eh, port, k);
	else
		sg_route_lookup6(r, (const uint8_t (*)[16])b->a6, eh, port, k);

	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = b->m[i];
		struct rte_ether_hdr *e;

		if (eh[i] == NULL) {
			sg_fwd_drop(m, SG_DROP_NO_ROUTE, st, sa_drop);
			continue;
		}
		if (family == 4)
			sg_ttl_dec4(rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *));
		else
			rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *)->hop_limits--;
		e = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*e));
		if (unlikely(e == NULL)) {
			sg_fwd_drop(m, SG_DROP_NO_MBUF, st, sa_drop);
			continue;
		}
		*e = *eh[i];
		e->ether_type = rte_cpu_to_be_16(family == 4 ?
			RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
		m->l2_len = sizeof(*e);
		m->ol_flags = 0;
		sg_txq_put(&txq[port[i]], m, st);
		sent++;
	}
	return sent;
}

static inline unsigned
sg_fwd(const struct sg_route *r, uint8_t family, struct rte_mbuf *mb[],
       unsigned n, struct sg_txq *txq, struct sg_lcore_stats *st,
       uint64_t *sa_drop)
{
	struct sg_fwd_batch b;
	unsigned i;

	sg_fwd_init(&b, family);
	for (i = 0; i < n; i++)
		if (!sg_fwd_add(&b, mb[i]))
			sg_fwd_drop(mb[i], SG_DROP_TTL_EXCEEDED, st, sa_drop);
	return sg_fwd_send(r, &b, txq, st, sa_drop);
}

#endif /* SG_FWD_H */
