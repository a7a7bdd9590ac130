/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_FWD_H
#define DFE_FWD_H

/*
 * The way out of a decrypted packet: transport-mode header fix-up, inner
 * header check, selector check (RFC 4301 4.4.1), TTL, then the route lookup
 * and the TX buffer for the batch (sg_fwd.h). The direct crypto paths call
 * dfe_fwd_add() for each packet right after its decryption, while its
 * inner header is in L1 (a burst of large packets is more than L1 holds);
 * dfe_forward() does the same for a finished batch (lib/ipsec's paths).
 */

#include <stdbool.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dfe_priv.h"
#include "sg_fwd.h"

/* The 5-tuple of an inner packet, for the selector check; addresses as
 * words in network byte order (sg_prefix_match_w()). */
struct tuple {
	uint64_t src[2], dst[2];
	uint8_t family;
	uint8_t proto;
	uint8_t opaque_ports;  /* non-initial fragment: ports unknown */
	uint16_t sport, dport;
};

static inline bool
ports_any(uint16_t lo, uint16_t hi)
{
	return lo == 0 && hi == UINT16_MAX;
}

/* RFC 4301 4.4.1: the packet must fall inside one of the SA's selectors. */
static inline bool
sel_match(const struct dfe_selset *ss, const struct tuple *t)
{
	unsigned i;

	for (i = 0; i < ss->n; i++) {
		const struct dfe_sel *s = &ss->sel[i];

		if (s->proto >= 0 && s->proto != t->proto)
			continue;
		if (!sg_prefix_match_w(&s->src, t->family, t->src) ||
		    !sg_prefix_match_w(&s->dst, t->family, t->dst))
			continue;
		if (t->opaque_ports) {
			if (!ports_any(s->sport_lo, s->sport_hi) ||
			    !ports_any(s->dport_lo, s->dport_hi))
				continue;
		} else if (t->sport < s->sport_lo || t->sport > s->sport_hi ||
			   t->dport < s->dport_lo || t->dport > s->dport_hi) {
			continue;
		}
		return true;
	}
	return false;
}

static inline void
l4_ports(struct tuple *t, const uint8_t *l4, uint32_t avail)
{
	if ((t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP ||
	     t->proto == IPPROTO_SCTP) && avail >= 4) {
		t->sport = (uint16_t)(l4[0] << 8 | l4[1]);
		t->dport = (uint16_t)(l4[2] << 8 | l4[3]);
	}
}

/*
 * Validate the inner IP header against the mbuf, drop trailing TFC padding
 * (RFC 4303 2.4) and extract the tuple. -1: malformed.
 */
static inline int
inner_parse(struct rte_mbuf *m, uint8_t family, struct tuple *t)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = m->pkt_len;

	t->opaque_ports = 0;
	t->sport = t->dport = 0;
	if (unlikely(m->nb_segs != 1 || len < 1 || (p[0] >> 4) != family))
		return -1;
	if (family == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;
		uint32_t ihl, tot;

		if (len < sizeof(*ip))
			return -1;
		ihl = (ip->version_ihl & 0xf) * 4u;
		tot = rte_be_to_cpu_16(ip->total_length);
		if (ihl < sizeof(*ip) || tot < ihl || tot > len)
			return -1;
		if (tot < len)
			rte_pktmbuf_trim(m, len - tot);
		t->family = 4;
		/* the 4 bytes at the start of word 0, in memory order */
		t->src[0] = rte_cpu_to_le_64((uint64_t)
			rte_le_to_cpu_32(ip->src_addr));
		t->dst[0] = rte_cpu_to_le_64((uint64_t)
			rte_le_to_cpu_32(ip->dst_addr));
		t->src[1] = t->dst[1] = 0;
		t->proto = ip->next_proto_id;
		if (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK)
			t->opaque_ports = 1;
		else
			l4_ports(t, p + ihl, tot - ihl);
		return 0;
	}
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)p;
	uint32_t tot;

	if (len < sizeof(*ip6))
		return -1;
	tot = sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len);
	if (tot > len)
		return -1;
	if (tot < len)
		rte_pktmbuf_trim(m, len - tot);
	t->family = 6;
	memcpy(t->src, ip6->src_addr, 16);
	memcpy(t->dst, ip6->dst_addr, 16);
	t->proto = ip6->proto;
	l4_ports(t, p + sizeof(*ip6), tot - sizeof(*ip6));
	return 0;
}

/*
 * One decrypted packet of 'sa' (starting at its inner IP header): true and
 * added to b (sg_fwd_init(b, sa->inner_family)), or false with the drop
 * reason in *why (the caller counts it and frees the packet).
 */
static inline bool
dfe_fwd_add(const struct dfe_sa *sa, const struct dfe_selset *ss,
	    struct sg_fwd_batch *b, struct rte_mbuf *m, enum sg_drop *why)
{
	struct tuple t;

	if (sa->mode == DFE_MODE_TRANSPORT) {
		/* lib/ipsec kept the L2 header in front */
		rte_pktmbuf_adj(m, m->l2_len);
		if (sa->inner_family == 4) {
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m,
				struct rte_ipv4_hdr *);

			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
	}
	if (inner_parse(m, sa->inner_family, &t) != 0) {
		*why = SG_DROP_MALFORMED;
		return false;
	}
	if (!sel_match(ss, &t)) {
		*why = SG_DROP_POLICY_MISMATCH;
		return false;
	}
	if (!sg_fwd_add(b, m)) {
		*why = SG_DROP_TTL_EXCEEDED;
		return false;
	}
	return true;
}

/* Send what dfe_fwd_add() collected; counts the SA's forwarded packets. */
static inline void
dfe_fwd_send(struct dfe *d, struct dfe_sa *sa, struct sg_fwd_batch *b)
{
	if (b->n != 0)
		sa->packets += sg_fwd_send(__atomic_load_n(d->c.route,
							   __ATOMIC_ACQUIRE),
					   b, d->c.txq, d->st, sa->drop);
}

/*
 * A direct path's inbound packet whose ICV verified, in lib/ipsec's order:
 * the trailer (pad length within the payload, pad bytes 1, 2, 3, ..., next
 * header = the SA's inner family: malformed), the replay window (replay),
 * then the strip (head: bytes up to the payload, pt / clen: the decrypted
 * payload with its trailer) and the way-out checks. true: the packet is
 * decrypted (counted so even when the way out then drops it), its inner
 * length added to *bytes; false: dropped into bad.
 */
static inline bool
dfe_in_finish(struct dfe_sa *sa, const struct dfe_selset *ss,
	      struct sg_fwd_batch *out, struct dfe_bad *bad,
	      struct rte_mbuf *m, uint8_t next_proto, const uint8_t *pt,
	      int32_t clen, uint32_t head, uint32_t icv_len, uint64_t *bytes)
{
	const struct sg_meta *meta = sg_meta(m);
	const unsigned pad = clen >= 2 ? pt[clen - 2] : 0;
	enum sg_drop why;

	if (unlikely(clen < 2 || (int32_t)pad + 2 > clen ||
		     pt[clen - 1] != next_proto ||
		     !dfe_pad_ok(pt + clen - 2 - pad, pad))) {
		dfe_bad_put(bad, m, SG_DROP_MALFORMED);
		return false;
	}
	if (unlikely(dfe_replay_update(sa->replay, meta->sqn) != 0)) {
		dfe_bad_put(bad, m, SG_DROP_REPLAY);
		return false;
	}
	*bytes += dfe_in_strip(sa, m, meta, head, pad + 2 + icv_len);
	if (unlikely(!dfe_fwd_add(sa, ss, out, m, &why)))
		dfe_bad_put(bad, m, why);
	return true;
}

/*
 * The end of a direct path's batch: its drops counted (the SA's and the
 * lcore's) and freed, k packets counted decrypted and their inner bytes
 * in the SA (its byte lifetime), what dfe_fwd_add() kept routed and sent.
 */
static inline void
dfe_in_done_fwd(struct dfe *d, struct dfe_sa *sa, struct dfe_bad *bad,
		struct sg_fwd_batch *out, unsigned k, uint64_t bytes)
{
	dfe_bad_flush(d, sa, bad);
	d->st->decrypted += k;
	sa->bytes += bytes;
	dfe_fwd_send(d, sa, out);
}

#endif /* DFE_FWD_H */
