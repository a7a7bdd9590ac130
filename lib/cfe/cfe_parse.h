/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CFE_PARSE_H
#define CFE_PARSE_H

/*
 * Frame parser of the classifying element. Pure function over a contiguous
 * buffer (the first mbuf segment): no DPDK state, no allocation, so it runs in
 * unit tests without EAL. It never reads past len.
 */

#include <stdint.h>

#include "sg_drop.h"

enum cfe_kind {
	CFE_KIND_ESP,       /* IP protocol 50 */
	CFE_KIND_ESP_UDP,   /* ESP in UDP (RFC 3948): dport 4500, non-zero word */
	CFE_KIND_IKE,       /* UDP 500, or UDP 4500 with the zero non-ESP marker */
	CFE_KIND_CLEAR,     /* any other IPv4/IPv6 packet */
	CFE_KIND_DROP,      /* drop with info->drop as the reason */
};

#define CFE_F_VLAN      0x01
#define CFE_F_MCAST     0x02  /* destination MAC multicast/broadcast */

struct cfe_pkt_info {
	uint8_t kind;        /* enum cfe_kind */
	uint8_t drop;        /* enum sg_drop when kind == CFE_KIND_DROP */
	uint8_t flags;       /* CFE_F_* */
	uint8_t ip_ver;      /* 4 or 6 */
	uint16_t l2_len;     /* Ethernet (+ 802.1Q) header */
	uint16_t l3_len;     /* IPv4 header with options / IPv6 + ext. headers */
	uint16_t l4_len;     /* UDP header (8) for ESP_UDP/IKE-over-UDP, else 0 */
	uint16_t vlan_tci;
	uint32_t ip_len;     /* bytes from the IP header to the IP payload's end
			      * (total length / 40 + payload length); the frame
			      * may be longer (Ethernet padding): trim to
			      * l2_len + ip_len */
	uint8_t proto;       /* final upper-layer protocol (after ext headers) */
	uint8_t ttl;         /* TTL / hop limit */
	uint16_t sport, dport; /* host order; 0 when no ports */
	uint32_t spi;        /* host order; ESP kinds only */
	uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint8_t dst_mac[6];
};

/*
 * Parse one frame. Returns info->kind. Drops reported:
 * SG_DROP_MALFORMED (truncated or inconsistent headers, bad IPv4 checksum,
 *   SPI 0, ESP shorter than its 8-byte header (SPI + sequence number), UDP
 *   length wrong, more than 8 IPv6 extension headers),
 * SG_DROP_NON_IP (ethertype not IPv4/IPv6 after at most one 802.1Q tag),
 * SG_DROP_FRAGMENT (IPv4 MF/offset, IPv6 fragment header),
 * SG_DROP_NAT_KEEPALIVE (UDP 4500 carrying the single byte 0xFF).
 * The destination MAC check (SG_DROP_NOT_FOR_US) is the caller's: it knows the
 * port's address. On a drop, fields after the failing check are zero;
 * dst_mac and flags are set whenever the frame has 14 bytes.
 * Any thread; reentrant.
 */
int cfe_parse(const uint8_t *frame, uint32_t len, struct cfe_pkt_info *info);

/*
 * The outer IPv4 header checksum as the NIC found it (the mbuf's
 * RTE_MBUF_F_RX_IP_CKSUM_* flags, hw_csum() in cfe_rx.c): GOOD skips the software
 * sum, BAD drops the frame as malformed (after the header's other checks,
 * as a wrong sum would), UNKNOWN sums in software, as cfe_parse() does.
 */
enum cfe_csum { CFE_CSUM_UNKNOWN, CFE_CSUM_GOOD, CFE_CSUM_BAD };

int cfe_parse_hw(const uint8_t *frame, uint32_t len, enum cfe_csum hw,
		 struct cfe_pkt_info *info);

#endif /* CFE_PARSE_H */
