/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame parser of the classifying element: Ethernet II with at most one
 * 802.1Q tag, IPv4 or IPv6, then ESP, ESP in UDP (RFC 3948), IKE, or clear
 * traffic with its ports. Runs once per received packet, so the common cases
 * (ESP, ESP in UDP, clear TCP/UDP without options or extension headers) are
 * tested before the cold ones and nothing loops over bytes except the IPv4
 * header checksum (5 to 15 32-bit words).
 *
 * Safety: every read is preceded by a bound check against the bytes that the
 * previous layer says exist (frame length for L2/L3, IP length for L4), so
 * the function is safe on any input; tests/unit/test_parse.c fuzzes it.
 *
 * Choices, for docs/:
 * - A second VLAN tag (QinQ, 0x8100 or 0x88a8 after the first) or an
 *   802.1ad outer tag is not IP for us: SG_DROP_NON_IP.
 * - ESP in UDP is recognised on destination port 4500 only. A NAT rewrites
 *   the peer's source port, never our destination port, so the source port
 *   says nothing; UDP from port 4500 to another port is clear traffic.
 * - UDP 500 in either direction is IKE.
 * - IPv6: hop-by-hop only as the first extension header, at most
 *   CFE_V6_MAX_EXT extension headers (bounds the walk on hostile input);
 *   otherwise SG_DROP_MALFORMED. AH (51) and no-next-header (59) end the walk
 *   and the packet is clear traffic with that protocol.
 * - Ports are extracted for TCP, UDP and SCTP (RFC 4301 selectors); ICMP and
 *   every other protocol have ports 0.
 */

#include <string.h>

#include <rte_branch_prediction.h>

#include "cfe_parse.h"

#define ETH_HLEN      14
#define VLAN_HLEN     4
#define ET_IPV4       0x0800
#define ET_IPV6       0x86dd
#define ET_VLAN       0x8100

#define PROTO_HOPOPTS  0
#define PROTO_TCP      6
#define PROTO_UDP      17
#define PROTO_ROUTING  43
#define PROTO_FRAGMENT 44
#define PROTO_ESP      50
#define PROTO_DSTOPTS  60
#define PROTO_SCTP     132

#define IPV4_HLEN     20
#define IPV6_HLEN     40
#define UDP_HLEN      8
#define ESP_HLEN      8     /* SPI + sequence number */
#define IKE_PORT      500
#define NATT_PORT     4500

#define CFE_V6_MAX_EXT 8

/* IPv6 next-header values that the walk handles (one shifted-mask test). */
#define V6_EXT_MASK (1ULL << PROTO_HOPOPTS | 1ULL << PROTO_ROUTING | \
		     1ULL << PROTO_FRAGMENT | 1ULL << PROTO_DSTOPTS)

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

static inline int
drop(struct cfe_pkt_info *info, enum sg_drop why)
{
	info->kind = CFE_KIND_DROP;
	info->drop = (uint8_t)why;
	return CFE_KIND_DROP;
}

/* Same, for the L3 helpers that return a header length (0 = dropped). */
static inline uint32_t
drop_hdr(struct cfe_pkt_info *info, enum sg_drop why)
{
	drop(info, why);
	return 0;
}

/*
 * Ones' complement sum of the IPv4 header (ihl bytes, a multiple of 4),
 * 32 bits at a time, folded to 16 bits. A header with a correct checksum
 * sums to 0xffff; since the test is against all ones, the host byte order
 * of the loads does not matter. At most 15 words: the 64-bit sum cannot
 * overflow and two folds at each width are enough.
 */
static inline int
v4_csum_ok(const uint8_t *h, uint32_t ihl)
{
	uint64_t s = 0;
	uint32_t i, w;

	for (i = 0; i < ihl; i += 4) {
		memcpy(&w, h + i, sizeof(w));
		s += w;
	}
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

/*
 * IPv4 header at ip with rem bytes of frame behind it. Returns the header
 * length (with options) and sets ip_len, or 0 after recording a drop.
 * Fragments are reported only for otherwise valid headers.
 */
static inline uint32_t
parse_v4(const uint8_t *ip, uint32_t rem, enum cfe_csum hw,
	 struct cfe_pkt_info *info)
{
	uint32_t ihl, tot;

	info->ip_ver = 4;
	if (unlikely(rem < IPV4_HLEN || (ip[0] >> 4) != 4))
		return drop_hdr(info, SG_DROP_MALFORMED);
	ihl = (uint32_t)(ip[0] & 0x0f) << 2;
	tot = rd16(ip + 2);
	if (unlikely(ihl < IPV4_HLEN || tot < ihl || tot > rem))
		return drop_hdr(info, SG_DROP_MALFORMED);
	if (unlikely(hw == CFE_CSUM_BAD ||
		     (hw == CFE_CSUM_UNKNOWN && !v4_csum_ok(ip, ihl))))
		return drop_hdr(info, SG_DROP_MALFORMED);
	if (unlikely(rd16(ip + 6) & 0x3fff))  /* MF or fragment offset */
		return drop_hdr(info, SG_DROP_FRAGMENT);

	info->ip_len = tot;
	info->ttl = ip[8];
	info->proto = ip[9];
	memcpy(info->src, ip + 12, 4);
	memcpy(info->dst, ip + 16, 4);
	return ihl;
}

/*
 * IPv6 header at ip with rem bytes of frame behind it. Walks hop-by-hop,
 * routing and destination-options headers inside the payload length (each
 * is (hdr_ext_len + 1) * 8 bytes), stops at the first upper-layer header.
 * Returns the length up to that header and sets ip_len, or 0 after
 * recording a drop.
 */
static inline uint32_t
parse_v6(const uint8_t *ip, uint32_t rem, struct cfe_pkt_info *info)
{
	uint32_t ip_len, off = IPV6_HLEN, hl, n = 0;
	uint8_t nh;

	info->ip_ver = 6;
	if (unlikely(rem < IPV6_HLEN || (ip[0] >> 4) != 6))
		return drop_hdr(info, SG_DROP_MALFORMED);
	ip_len = IPV6_HLEN + (uint32_t)rd16(ip + 4);
	if (unlikely(ip_len > rem))
		return drop_hdr(info, SG_DROP_MALFORMED);

	nh = ip[6];
	while (unlikely(nh < 64 && (V6_EXT_MASK >> nh) & 1)) {
		if (nh == PROTO_FRAGMENT)
			return drop_hdr(info, SG_DROP_FRAGMENT);
		if ((nh == PROTO_HOPOPTS && off != IPV6_HLEN) ||
		    ++n > CFE_V6_MAX_EXT || off + 8 > ip_len)
			return drop_hdr(info, SG_DROP_MALFORMED);
		hl = ((uint32_t)ip[off + 1] + 1) << 3;
		if (off + hl > ip_len)
			return drop_hdr(info, SG_DROP_MALFORMED);
		nh = ip[off];
		off += hl;
	}

	info->ip_len = ip_len;
	info->ttl = ip[7];
	info->proto = nh;
	memcpy(info->src, ip + 8, 16);
	memcpy(info->dst, ip + 24, 16);
	return off;
}

/*
 * UDP at l4 with rem bytes of IP payload. Port 4500 follows RFC 3948 2.2:
 * a single 0xff byte is a NAT keepalive, a zero first word is the non-ESP
 * marker in front of IKE, anything else is ESP, which needs its 8-byte
 * header.
 */
static inline int
parse_udp(const uint8_t *l4, uint32_t rem, struct cfe_pkt_info *info)
{
	uint32_t ulen, plen, spi;
	const uint8_t *pl = l4 + UDP_HLEN;

	if (unlikely(rem < UDP_HLEN))
		return drop(info, SG_DROP_MALFORMED);
	ulen = rd16(l4 + 4);
	if (unlikely(ulen < UDP_HLEN || ulen > rem))
		return drop(info, SG_DROP_MALFORMED);
	info->sport = rd16(l4);
	info->dport = rd16(l4 + 2);
	plen = ulen - UDP_HLEN;

	if (info->dport == NATT_PORT) {
		info->l4_len = UDP_HLEN;
		if (likely(plen >= ESP_HLEN)) {
			spi = rd32(pl);
			if (likely(spi != 0)) {
				info->spi = spi;
				info->kind = CFE_KIND_ESP_UDP;
				return CFE_KIND_ESP_UDP;
			}
			info->kind = CFE_KIND_IKE;
			return CFE_KIND_IKE;
		}
		if (plen >= 4 && rd32(pl) == 0) {
			info->kind = CFE_KIND_IKE;
			return CFE_KIND_IKE;
		}
		if (plen == 1 && pl[0] == 0xff)
			return drop(info, SG_DROP_NAT_KEEPALIVE);
		return drop(info, SG_DROP_MALFORMED);
	}
	if (unlikely(info->dport == IKE_PORT || info->sport == IKE_PORT)) {
		info->l4_len = UDP_HLEN;
		info->kind = CFE_KIND_IKE;
		return CFE_KIND_IKE;
	}
	info->kind = CFE_KIND_CLEAR;
	return CFE_KIND_CLEAR;
}

/* Upper layer at l4 with rem bytes of IP payload (not of frame). */
static inline int
parse_l4(const uint8_t *l4, uint32_t rem, struct cfe_pkt_info *info)
{
	uint32_t spi;

	switch (info->proto) {
	case PROTO_ESP:
		if (unlikely(rem < ESP_HLEN))
			return drop(info, SG_DROP_MALFORMED);
		spi = rd32(l4);
		if (unlikely(spi == 0))
			return drop(info, SG_DROP_MALFORMED);
		info->spi = spi;
		info->kind = CFE_KIND_ESP;
		return CFE_KIND_ESP;
	case PROTO_UDP:
		return parse_udp(l4, rem, info);
	case PROTO_TCP:
	case PROTO_SCTP:
		if (unlikely(rem < 4))
			return drop(info, SG_DROP_MALFORMED);
		info->sport = rd16(l4);
		info->dport = rd16(l4 + 2);
		break;
	default:
		break;
	}
	info->kind = CFE_KIND_CLEAR;
	return CFE_KIND_CLEAR;
}

int
cfe_parse(const uint8_t *frame, uint32_t len, struct cfe_pkt_info *info)
{
	return cfe_parse_hw(frame, len, CFE_CSUM_UNKNOWN, info);
}

int
cfe_parse_hw(const uint8_t *frame, uint32_t len, enum cfe_csum hw,
	     struct cfe_pkt_info *info)
{
	uint32_t l2 = ETH_HLEN, l3;
	uint16_t et;

	memset(info, 0, sizeof(*info));
	if (unlikely(len < ETH_HLEN))
		return drop(info, SG_DROP_MALFORMED);
	memcpy(info->dst_mac, frame, sizeof(info->dst_mac));
	info->flags = (frame[0] & 0x01) ? CFE_F_MCAST : 0;
	et = rd16(frame + 12);
	if (et == ET_VLAN) {
		if (unlikely(len < ETH_HLEN + VLAN_HLEN))
			return drop(info, SG_DROP_MALFORMED);
		info->flags |= CFE_F_VLAN;
		info->vlan_tci = rd16(frame + 14);
		et = rd16(frame + 16);
		l2 += VLAN_HLEN;
	}
	info->l2_len = (uint16_t)l2;

	if (likely(et == ET_IPV4))
		l3 = parse_v4(frame + l2, len - l2, hw, info);
	else if (likely(et == ET_IPV6))
		l3 = parse_v6(frame + l2, len - l2, info);
	else
		return drop(info, SG_DROP_NON_IP);
	if (unlikely(l3 == 0))
		return CFE_KIND_DROP;
	info->l3_len = (uint16_t)l3;

	return parse_l4(frame + l2 + l3, info->ip_len - l3, info);
}
