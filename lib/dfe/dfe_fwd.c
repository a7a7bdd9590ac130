/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_ip.h>
#include <rte_ether.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dfe_priv.h"
#include "sg_fwd.h"

/* The 5-tuple of an inner packet, for the selector check. */
struct tuple {
	struct sg_addr src, dst;
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
static bool
sel_match(const struct dfe_selset *ss, const struct tuple *t)
{
	unsigned i;

	for (i = 0; i < ss->n; i++) {
		const struct dfe_sel *s = &ss->sel[i];

		if (s->proto >= 0 && s->proto != t->proto)
			continue;
		if (!sg_prefix_match(&s->src, &t->src) ||
		    !sg_prefix_match(&s->dst, &t->dst))
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
static int
inner_parse(struct rte_mbuf *m, uint8_t family, struct tuple *t)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = m->pkt_len;

	memset(t, 0, sizeof(*t));
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
		t->src.family = t->dst.family = 4;
		memcpy(t->src.a, &ip->src_addr, 4);
		memcpy(t->dst.a, &ip->dst_addr, 4);
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
	t->src.family = t->dst.family = 6;
	memcpy(t->src.a, ip6->src_addr, 16);
	memcpy(t->dst.a, ip6->dst_addr, 16);
	t->proto = ip6->proto;
	l4_ports(t, p + sizeof(*ip6), tot - sizeof(*ip6));
	return 0;
}

/*
 * Forward decrypted packets of one SA: transport-mode header fix-up,
 * selector check, TTL, route lookup (one bulk lookup per family, in the
 * table the CE published, loaded once for the burst), Ethernet header, TX
 * buffer. Every packet ends in a TX buffer or a counted drop.
 */
void
dfe_forward(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t n)
{
	const struct dfe_selset *ss = __atomic_load_n(&sa->sel,
						      __ATOMIC_ACQUIRE);
	struct rte_mbuf *ok[SG_BURST];
	unsigned i, k = 0;
	struct tuple t;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];

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
			dfe_drop(d, sa, SG_DROP_MALFORMED, &m, 1);
			continue;
		}
		if (!sel_match(ss, &t)) {
			dfe_drop(d, sa, SG_DROP_POLICY_MISMATCH, &m, 1);
			continue;
		}
		ok[k++] = m;
	}
	if (k != 0)
		sa->packets += sg_fwd(__atomic_load_n(d->c.route,
						      __ATOMIC_ACQUIRE),
				      sa->inner_family, ok, k, d->c.txq, d->st,
				      sa->drop);
}
