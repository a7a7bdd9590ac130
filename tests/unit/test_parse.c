/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of cfe_parse(): hand-built frames for every kind and every drop
 * reason, truncation at every byte, and a seeded random-mutation loop. No EAL.
 *
 * Every parsed frame is first copied into a heap buffer of exactly its
 * length, so that a read past len is caught by valgrind or ASan:
 *   valgrind --error-exitcode=1 build/tests/unit/test_parse
 *   SG_FUZZ_ITERS=100000 SG_FUZZ_SEED=7 build-asan/tests/unit/test_parse
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cfe_parse.h"
#include "sg_drop.h"
#include "test_bytes.h"

#define MAXF 2048

static const uint8_t MAC_US[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t V4_SRC[4] = { 172, 16, 1, 5 };
static const uint8_t V4_DST[4] = { 172, 16, 2, 5 };
static const uint8_t V6_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 5 };
static const uint8_t V6_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 5 };

/* ---------------------------------------------------------------------- */
/* Frame builders                                                          */

static void
v4_fix_csum(uint8_t *ip)
{
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;

	wr16(ip + 10, 0);
	wr16(ip + 10, csum16(ip, ihl));
}

/* What to build. Zero-initialised fields give a plain untagged frame. */
struct spec {
	int ver;             /* 4 or 6 */
	int tci;             /* >= 0: one 802.1Q tag with this TCI */
	const uint8_t *dmac; /* NULL: MAC_US */
	uint32_t v4_opt;     /* IPv4 option bytes (NOPs), multiple of 4 */
	int v6_ext;          /* IPv6: hop-by-hop, routing, dest-opts chain */
	uint8_t proto;       /* 50 ESP, 17 UDP, 6 TCP, 1 ICMP, other: raw */
	uint16_t sport, dport;
	uint32_t spi;        /* ESP SPI, or the first word of a UDP payload */
	uint32_t plen;       /* bytes after the ESP/UDP/TCP/ICMP header */
	const uint8_t *pl;   /* UDP payload (plen bytes); NULL: spi, seq, 0xa5.. */
	uint32_t pad;        /* Ethernet padding after the IP packet */
};

#define V6_EXT_LEN (8 + 16 + 8)

static uint32_t
l4_size(const struct spec *s)
{
	switch (s->proto) {
	case 50:
	case 17:
	case 1:
		return 8 + s->plen;
	case 6:
		return 20 + s->plen;
	default:
		return s->plen;
	}
}

/* Builds the frame into f (MAXF bytes); returns its length. */
static uint32_t
build(uint8_t *f, const struct spec *s)
{
	uint32_t off = 0, l4 = l4_size(s), ihl, i;
	uint8_t *ip, *p;

	memset(f, 0, MAXF);
	memcpy(f, s->dmac != NULL ? s->dmac : MAC_US, 6);
	memcpy(f + 6, (const uint8_t[]){ 0x02, 0, 0, 0, 0, 0x02 }, 6);
	off = 12;
	if (s->tci >= 0) {
		wr16(f + off, 0x8100);
		wr16(f + off + 2, (uint16_t)s->tci);
		off += 4;
	}
	wr16(f + off, s->ver == 6 ? 0x86dd : 0x0800);
	off += 2;

	ip = f + off;
	if (s->ver == 6) {
		uint32_t ext = s->v6_ext ? V6_EXT_LEN : 0;

		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)(ext + l4));
		ip[6] = s->v6_ext ? 0 : s->proto;
		ip[7] = 63;
		memcpy(ip + 8, V6_SRC, 16);
		memcpy(ip + 24, V6_DST, 16);
		off += 40;
		if (s->v6_ext) {
			/* hop-by-hop (8), routing (16), destination options (8) */
			f[off] = 43;
			f[off + 1] = 0;
			f[off + 2] = 1;  /* PadN filling the rest */
			f[off + 3] = 4;
			off += 8;
			f[off] = 60;
			f[off + 1] = 1;
			f[off + 3] = 0;  /* segments left 0 */
			off += 16;
			f[off] = s->proto;
			f[off + 1] = 0;
			f[off + 2] = 1;
			f[off + 3] = 4;
			off += 8;
		}
	} else {
		ihl = 20 + s->v4_opt;
		ip[0] = (uint8_t)(0x40 | ihl / 4);
		wr16(ip + 2, (uint16_t)(ihl + l4));
		wr16(ip + 4, 0x1234);
		wr16(ip + 6, 0x4000);  /* DF: not a fragment */
		ip[8] = 64;
		ip[9] = s->proto;
		memcpy(ip + 12, V4_SRC, 4);
		memcpy(ip + 16, V4_DST, 4);
		memset(ip + 20, 1, s->v4_opt);
		v4_fix_csum(ip);
		off += ihl;
	}

	p = f + off;
	switch (s->proto) {
	case 50:
		wr32(p, s->spi);
		wr32(p + 4, 1);
		memset(p + 8, 0xa5, s->plen);
		break;
	case 17:
		wr16(p, s->sport);
		wr16(p + 2, s->dport);
		wr16(p + 4, (uint16_t)(8 + s->plen));
		if (s->pl != NULL) {
			memcpy(p + 8, s->pl, s->plen);
		} else {
			uint8_t w[8];

			wr32(w, s->spi);
			wr32(w + 4, 1);
			for (i = 0; i < s->plen; i++)
				p[8 + i] = i < 8 ? w[i] : 0xa5;
		}
		break;
	case 6:
		wr16(p, s->sport);
		wr16(p + 2, s->dport);
		p[12] = 0x50;
		break;
	case 1:
		p[0] = 8;  /* echo request */
		break;
	default:
		memset(p, 0x5a, s->plen);
		break;
	}
	off += l4;
	memset(f + off, 0xee, s->pad);  /* padding is not zero on the wire */
	return off + s->pad;
}

/*
 * Parse from a heap copy of exactly len bytes (reads past len are caught by
 * valgrind/ASan), into a struct pre-filled with garbage (fields the parser
 * forgets to set show up).
 */
static int
parse(const uint8_t *f, uint32_t len, struct cfe_pkt_info *info)
{
	uint8_t *b = malloc(len ? len : 1);
	int k;

	assert_non_null(b);
	memcpy(b, f, len);
	memset(info, 0xaa, sizeof(*info));
	k = cfe_parse(b, len, info);
	free(b);
	assert_int_equal(k, info->kind);
	return k;
}

/* The full result the parser must produce for a valid built frame. */
static void
expected(const struct spec *s, struct cfe_pkt_info *e)
{
	const uint8_t *dmac = s->dmac != NULL ? s->dmac : MAC_US;
	uint32_t l4 = l4_size(s);
	uint32_t w = s->spi;

	memset(e, 0, sizeof(*e));
	memcpy(e->dst_mac, dmac, 6);
	e->flags = (dmac[0] & 1) ? CFE_F_MCAST : 0;
	e->l2_len = 14;
	if (s->tci >= 0) {
		e->flags |= CFE_F_VLAN;
		e->vlan_tci = (uint16_t)s->tci;
		e->l2_len = 18;
	}
	e->ip_ver = (uint8_t)s->ver;
	e->proto = s->proto;
	if (s->ver == 6) {
		e->l3_len = 40 + (s->v6_ext ? V6_EXT_LEN : 0);
		e->ttl = 63;
		memcpy(e->src, V6_SRC, 16);
		memcpy(e->dst, V6_DST, 16);
	} else {
		e->l3_len = (uint16_t)(20 + s->v4_opt);
		e->ttl = 64;
		memcpy(e->src, V4_SRC, 4);
		memcpy(e->dst, V4_DST, 4);
	}
	e->ip_len = e->l3_len + l4;
	e->kind = CFE_KIND_CLEAR;
	switch (s->proto) {
	case 50:
		e->kind = CFE_KIND_ESP;
		e->spi = s->spi;
		break;
	case 17:
		e->sport = s->sport;
		e->dport = s->dport;
		if (s->pl != NULL && s->plen >= 4)
			w = (uint32_t)s->pl[0] << 24 | s->pl[1] << 16 |
				s->pl[2] << 8 | s->pl[3];
		if (s->dport == 4500) {
			e->l4_len = 8;
			if (s->plen >= 4 && w == 0) {
				e->kind = CFE_KIND_IKE;
			} else if (s->plen >= 8) {
				e->kind = CFE_KIND_ESP_UDP;
				e->spi = w;
			}
		} else if (s->dport == 500 || s->sport == 500) {
			e->l4_len = 8;
			e->kind = CFE_KIND_IKE;
		}
		break;
	case 6:
		e->sport = s->sport;
		e->dport = s->dport;
		break;
	}
}

/* Build, parse, and compare every field with expected(). */
static void
check_valid(const struct spec *s, int kind)
{
	uint8_t f[MAXF];
	struct cfe_pkt_info got, exp;
	uint32_t len = build(f, s);

	expected(s, &exp);
	assert_int_equal(exp.kind, kind);
	assert_int_equal(parse(f, len, &got), kind);
	assert_int_equal(got.ip_len, exp.ip_len);
	assert_int_equal(got.l3_len, exp.l3_len);
	assert_int_equal(got.spi, exp.spi);
	assert_memory_equal(&got, &exp, sizeof(got));
}

static void
check_drop(const uint8_t *f, uint32_t len, enum sg_drop why)
{
	struct cfe_pkt_info info;

	assert_int_equal(parse(f, len, &info), CFE_KIND_DROP);
	assert_int_equal(info.drop, why);
}

/* Templates (tci -1 means untagged; designated initialisers keep them short). */
#define ESP4   { .ver = 4, .tci = -1, .proto = 50, .spi = 0x1001, .plen = 40 }
#define ESP6   { .ver = 6, .tci = -1, .proto = 50, .spi = 0x2002, .plen = 40 }
#define NATT4  { .ver = 4, .tci = -1, .proto = 17, .sport = 33333, \
		 .dport = 4500, .spi = 0x3003, .plen = 40 }
#define NATT6  { .ver = 6, .tci = -1, .proto = 17, .sport = 4500, \
		 .dport = 4500, .spi = 0x4004, .plen = 40 }

/* ---------------------------------------------------------------------- */
/* Cases                                                                   */

static void
test_invalid_short(void **state)
{
	uint8_t f[MAXF];
	struct cfe_pkt_info info;
	uint32_t len;

	(void)state;
	/* len 0 never touches the buffer, even a NULL one */
	memset(&info, 0xaa, sizeof(info));
	assert_int_equal(cfe_parse(NULL, 0, &info), CFE_KIND_DROP);
	assert_int_equal(info.drop, SG_DROP_MALFORMED);
	build(f, &(struct spec)ESP4);
	for (len = 0; len < 14; len++)
		check_drop(f, len, SG_DROP_MALFORMED);
}

static void
test_esp_v4(void **state)
{
	(void)state;
	check_valid(&(struct spec)ESP4, CFE_KIND_ESP);
	/* the ESP header alone (no payload) is enough for the CFE */
	check_valid(&(struct spec){ .ver = 4, .tci = -1, .proto = 50,
				    .spi = 0xffffffff, .plen = 0 },
		    CFE_KIND_ESP);
}

static void
test_esp_v4_vlan(void **state)
{
	struct spec s = ESP4;
	uint8_t f[MAXF];
	struct cfe_pkt_info info;

	(void)state;
	s.tci = 0x2064;  /* PCP 1, VID 100 */
	check_valid(&s, CFE_KIND_ESP);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.l2_len, 18);
	assert_int_equal(info.vlan_tci, 0x2064);
	assert_true(info.flags & CFE_F_VLAN);
}

static void
test_esp_v4_options(void **state)
{
	struct spec s = ESP4;

	(void)state;
	s.v4_opt = 4;
	check_valid(&s, CFE_KIND_ESP);
	s.v4_opt = 40;  /* IHL 15, the maximum */
	s.tci = 7;
	check_valid(&s, CFE_KIND_ESP);
}

static void
test_esp_v6(void **state)
{
	struct spec s = ESP6;

	(void)state;
	check_valid(&s, CFE_KIND_ESP);
	s.tci = 100;
	check_valid(&s, CFE_KIND_ESP);
}

static void
test_esp_v6_ext_chain(void **state)
{
	struct spec s = ESP6;
	uint8_t f[MAXF];
	struct cfe_pkt_info info;

	(void)state;
	s.v6_ext = 1;
	check_valid(&s, CFE_KIND_ESP);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.l3_len, 40 + 8 + 16 + 8);
	assert_int_equal(info.proto, 50);
	s = (struct spec)NATT6;
	s.v6_ext = 1;
	check_valid(&s, CFE_KIND_ESP_UDP);
}

/* IPv6 extension header errors: fragment, misplaced hop-by-hop, overruns. */
static void
test_v6_ext_errors(void **state)
{
	struct spec s = ESP6;
	uint8_t f[MAXF], *ip;
	uint32_t len, i;
	struct cfe_pkt_info info;

	(void)state;
	s.v6_ext = 1;
	len = build(f, &s);
	ip = f + 14;

	/* fragment header first, or after hop-by-hop */
	ip[6] = 44;
	check_drop(f, len, SG_DROP_FRAGMENT);
	ip[6] = 0;
	ip[40] = 44;
	check_drop(f, len, SG_DROP_FRAGMENT);
	ip[40] = 43;

	/* hop-by-hop after the routing header */
	ip[48] = 0;
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[48] = 60;

	/* extension header longer than the payload length */
	ip[49] = 200;
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[49] = 1;
	/* payload length ending inside the chain */
	wr16(ip + 4, 12);
	check_drop(f, 14 + 40 + 12, SG_DROP_MALFORMED);
	wr16(ip + 4, (uint16_t)(V6_EXT_LEN + 48));
	assert_int_equal(parse(f, len, &info), CFE_KIND_ESP);

	/* eight destination-options headers pass, nine do not */
	memset(f, 0, sizeof(f));
	len = build(f, &(struct spec){ .ver = 6, .tci = -1, .proto = 60,
				       .plen = 8 * 9 + 8 });
	ip = f + 14;
	for (i = 0; i < 9; i++) {
		ip[40 + 8 * i] = i < 8 ? 60 : 50;
		ip[40 + 8 * i + 1] = 0;
	}
	wr32(ip + 40 + 72, 0x5005);
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[40 + 8 * 7] = 50;  /* chain of 8: the 8th names ESP */
	wr32(ip + 40 + 64, 0x5005);
	assert_int_equal(parse(f, len, &info), CFE_KIND_ESP);
	assert_int_equal(info.spi, 0x5005);
	assert_int_equal(info.l3_len, 40 + 64);
}

static void
test_v6_ah_nonext(void **state)
{
	struct spec s = { .ver = 6, .tci = -1, .proto = 51, .plen = 24 };
	struct cfe_pkt_info info;
	uint8_t f[MAXF];

	(void)state;
	check_valid(&s, CFE_KIND_CLEAR);
	s.proto = 59;
	s.plen = 0;
	check_valid(&s, CFE_KIND_CLEAR);
	s.v6_ext = 1;
	check_valid(&s, CFE_KIND_CLEAR);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.proto, 59);
	assert_int_equal(info.sport, 0);
}

static void
test_esp_udp(void **state)
{
	struct spec s = NATT4;

	(void)state;
	check_valid(&s, CFE_KIND_ESP_UDP);
	s.tci = 1;
	s.v4_opt = 8;
	check_valid(&s, CFE_KIND_ESP_UDP);
	s = (struct spec)NATT6;
	check_valid(&s, CFE_KIND_ESP_UDP);
	/* exactly the ESP header */
	s.plen = 8;
	check_valid(&s, CFE_KIND_ESP_UDP);
}

static void
test_ike_500(void **state)
{
	struct spec s = { .ver = 4, .tci = -1, .proto = 17, .sport = 500,
			  .dport = 500, .spi = 0x11223344, .plen = 28 };

	(void)state;
	check_valid(&s, CFE_KIND_IKE);
	s.sport = 40000;  /* initiator behind a NAT */
	check_valid(&s, CFE_KIND_IKE);
	s.sport = 500;
	s.dport = 40000;
	check_valid(&s, CFE_KIND_IKE);
	s.ver = 6;
	check_valid(&s, CFE_KIND_IKE);
}

static void
test_ike_marker_4500(void **state)
{
	static const uint8_t ike[32] = { 0, 0, 0, 0, 0x11, 0x22 };
	struct spec s = { .ver = 4, .tci = -1, .proto = 17, .sport = 4500,
			  .dport = 4500, .pl = ike, .plen = sizeof(ike) };
	struct cfe_pkt_info info;
	uint8_t f[MAXF];

	(void)state;
	check_valid(&s, CFE_KIND_IKE);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.l4_len, 8);
	assert_int_equal(info.spi, 0);
	/* the marker alone, and marker + 3 bytes, are still the marker */
	s.plen = 4;
	check_valid(&s, CFE_KIND_IKE);
	s.plen = 7;
	check_valid(&s, CFE_KIND_IKE);
	s.ver = 6;
	check_valid(&s, CFE_KIND_IKE);
}

/* RFC 3948 keepalive, and the short payloads around it. */
static void
test_nat_keepalive(void **state)
{
	static const uint8_t ff[2] = { 0xff, 0xff };
	static const uint8_t zero[1] = { 0 };
	static const uint8_t seven[7] = { 0, 0, 0, 1, 2, 3, 4 };
	struct spec s = { .ver = 4, .tci = -1, .proto = 17, .sport = 4500,
			  .dport = 4500, .pl = ff, .plen = 1 };
	uint8_t f[MAXF];

	(void)state;
	check_drop(f, build(f, &s), SG_DROP_NAT_KEEPALIVE);
	s.ver = 6;
	check_drop(f, build(f, &s), SG_DROP_NAT_KEEPALIVE);
	s.ver = 4;
	s.plen = 2;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	s.pl = zero;
	s.plen = 1;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	s.plen = 0;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	s.pl = seven;  /* non-zero first word, shorter than an ESP header */
	s.plen = 7;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	s.pl = NULL;
	s.spi = 0x1234;
	s.plen = 4;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	/* padding behind a keepalive does not make it a longer payload */
	s.pl = ff;
	s.plen = 1;
	s.pad = 17;
	check_drop(f, build(f, &s), SG_DROP_NAT_KEEPALIVE);
}

static void
test_udp_length(void **state)
{
	struct spec s = NATT4;
	uint8_t f[MAXF], *udp;
	uint32_t len;
	struct cfe_pkt_info info;

	(void)state;
	len = build(f, &s);
	udp = f + 14 + 20;
	wr16(udp + 4, 7);
	check_drop(f, len, SG_DROP_MALFORMED);
	wr16(udp + 4, 0);
	check_drop(f, len, SG_DROP_MALFORMED);
	wr16(udp + 4, 8 + 40 + 1);  /* one byte past the IP payload */
	check_drop(f, len, SG_DROP_MALFORMED);
	/* a UDP length shorter than the IP payload decides the payload */
	wr16(udp + 4, 8 + 1);
	udp[8] = 0xff;
	check_drop(f, len, SG_DROP_NAT_KEEPALIVE);
	/* IP payload shorter than a UDP header */
	s.plen = 0;
	len = build(f, &s);
	wr16(f + 14 + 2, 20 + 7);
	v4_fix_csum(f + 14);
	check_drop(f, len, SG_DROP_MALFORMED);
	/* UDP from 4500 to another port is clear traffic */
	s = (struct spec)NATT4;
	s.sport = 4500;
	s.dport = 12345;
	check_valid(&s, CFE_KIND_CLEAR);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.l4_len, 0);
	assert_int_equal(info.spi, 0);
}

static void
test_clear(void **state)
{
	struct spec s = { .ver = 4, .tci = -1, .proto = 6, .sport = 443,
			  .dport = 51000, .plen = 100 };
	struct cfe_pkt_info info;
	uint8_t f[MAXF];

	(void)state;
	check_valid(&s, CFE_KIND_CLEAR);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.sport, 443);
	assert_int_equal(info.dport, 51000);
	s.ver = 6;
	s.v6_ext = 1;
	check_valid(&s, CFE_KIND_CLEAR);
	s = (struct spec){ .ver = 4, .tci = 5, .proto = 17, .sport = 53,
			   .dport = 1053, .plen = 30 };
	check_valid(&s, CFE_KIND_CLEAR);
	s.ver = 6;
	check_valid(&s, CFE_KIND_CLEAR);
	s = (struct spec){ .ver = 4, .tci = -1, .proto = 1, .plen = 56 };
	check_valid(&s, CFE_KIND_CLEAR);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.sport, 0);
	assert_int_equal(info.dport, 0);
	s = (struct spec){ .ver = 6, .tci = -1, .proto = 58, .plen = 8 };
	check_valid(&s, CFE_KIND_CLEAR);
	/* SCTP: ports like TCP */
	s = (struct spec){ .ver = 4, .tci = -1, .proto = 132, .plen = 12 };
	parse(f, build(f, &s), &info);
	assert_int_equal(info.kind, CFE_KIND_CLEAR);
	assert_int_equal(info.sport, 0x5a5a);
	/* AH over IPv4: clear traffic with protocol 51 */
	s = (struct spec){ .ver = 4, .tci = -1, .proto = 51, .plen = 24 };
	check_valid(&s, CFE_KIND_CLEAR);
}

/* TCP/UDP need their ports inside the IP payload; padding does not count. */
static void
test_clear_truncated_l4(void **state)
{
	struct spec s = { .ver = 4, .tci = -1, .proto = 6, .sport = 1,
			  .dport = 2 };
	uint8_t f[MAXF];
	uint32_t len, n;

	(void)state;
	len = build(f, &s);
	for (n = 0; n < 4; n++) {
		wr16(f + 14 + 2, (uint16_t)(20 + n));
		v4_fix_csum(f + 14);
		check_drop(f, len, SG_DROP_MALFORMED);
	}
	wr16(f + 14 + 2, 20 + 4);
	v4_fix_csum(f + 14);
	assert_int_equal(parse(f, len, &(struct cfe_pkt_info){ 0 }),
			 CFE_KIND_CLEAR);
	/* IPv6 with 3 bytes of UDP */
	s = (struct spec){ .ver = 6, .tci = -1, .proto = 17, .sport = 1,
			   .dport = 2 };
	len = build(f, &s);
	wr16(f + 14 + 4, 3);
	check_drop(f, len, SG_DROP_MALFORMED);
}

static void
test_v4_header_errors(void **state)
{
	struct spec s = ESP4;
	uint8_t f[MAXF], *ip;
	uint32_t len;

	(void)state;
	len = build(f, &s);
	ip = f + 14;

	ip[10] ^= 0x01;  /* bad checksum */
	check_drop(f, len, SG_DROP_MALFORMED);
	v4_fix_csum(ip);
	assert_int_equal(parse(f, len, &(struct cfe_pkt_info){ 0 }),
			 CFE_KIND_ESP);

	ip[0] = 0x44;  /* IHL 4 (checksum fixed: the length must decide) */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[0] = 0x40;
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[0] = 0x65;  /* version 6 behind ethertype IPv4 */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[0] = 0x45;

	wr16(ip + 2, (uint16_t)(len - 14 + 1));  /* total length > frame */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_MALFORMED);
	wr16(ip + 2, 19);  /* total length < header */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_MALFORMED);
	ip[0] = 0x46;      /* IHL 24 > total length 20 */
	wr16(ip + 2, 20);
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_MALFORMED);
	/* IHL past the end of the frame */
	ip[0] = 0x4f;
	v4_fix_csum(ip);
	check_drop(f, 14 + 40, SG_DROP_MALFORMED);
}

/* Ethernet padding: the IP length decides, not the frame length. */
static void
test_padding(void **state)
{
	struct spec s = ESP4;
	uint8_t f[MAXF];
	uint32_t len;
	struct cfe_pkt_info info;

	(void)state;
	s.plen = 0;   /* 14 + 20 + 8 = 42: padded to 60 by the sender */
	s.pad = 18;
	check_valid(&s, CFE_KIND_ESP);
	len = build(f, &s);
	assert_int_equal(len, 60);
	parse(f, len, &info);
	assert_int_equal(info.ip_len, 28);
	assert_int_equal(info.l2_len + info.ip_len, 42);

	s = (struct spec)NATT6;
	s.pad = 100;
	check_valid(&s, CFE_KIND_ESP_UDP);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.ip_len, 40 + 8 + 40);  /* UDP + ESP header + 32 */

	/* ESP header only in the padding: IP says 4 bytes of ESP */
	s = (struct spec)ESP4;
	len = build(f, &s);
	wr16(f + 14 + 2, 20 + 4);
	v4_fix_csum(f + 14);
	check_drop(f, len, SG_DROP_MALFORMED);
}

static void
test_fragments(void **state)
{
	struct spec s = ESP4;
	uint8_t f[MAXF], *ip;
	uint32_t len;

	(void)state;
	len = build(f, &s);
	ip = f + 14;
	wr16(ip + 6, 0x2000);  /* MF, offset 0 */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_FRAGMENT);
	wr16(ip + 6, 0x00b9);  /* last fragment, offset 185 * 8 */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_FRAGMENT);
	wr16(ip + 6, 0x4001);  /* DF with a (bogus) offset */
	v4_fix_csum(ip);
	check_drop(f, len, SG_DROP_FRAGMENT);
	wr16(ip + 6, 0x8000);  /* reserved bit alone: not a fragment */
	v4_fix_csum(ip);
	assert_int_equal(parse(f, len, &(struct cfe_pkt_info){ 0 }),
			 CFE_KIND_ESP);
	/* a fragment with a bad checksum is malformed first */
	wr16(ip + 6, 0x2000);
	check_drop(f, len, SG_DROP_MALFORMED);

	/* IPv6 fragment header, with and without a VLAN tag */
	s = (struct spec){ .ver = 6, .tci = -1, .proto = 44, .plen = 8 + 40 };
	check_drop(f, build(f, &s), SG_DROP_FRAGMENT);
	s.tci = 9;
	check_drop(f, build(f, &s), SG_DROP_FRAGMENT);
}

static void
test_spi_zero(void **state)
{
	struct spec s = ESP4;
	uint8_t f[MAXF];
	uint32_t len;

	(void)state;
	s.spi = 0;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	s.ver = 6;
	check_drop(f, build(f, &s), SG_DROP_MALFORMED);
	/* 7 bytes of ESP */
	s = (struct spec)ESP6;
	s.plen = 0;
	len = build(f, &s);
	wr16(f + 14 + 4, 7);
	check_drop(f, len - 1, SG_DROP_MALFORMED);
}

static void
test_non_ip(void **state)
{
	uint8_t f[MAXF];
	struct cfe_pkt_info info;
	uint32_t len;

	(void)state;
	/* ARP request, broadcast */
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	wr16(f + 12, 0x0806);
	parse(f, 60, &info);
	assert_int_equal(info.kind, CFE_KIND_DROP);
	assert_int_equal(info.drop, SG_DROP_NON_IP);
	assert_true(info.flags & CFE_F_MCAST);
	assert_memory_equal(info.dst_mac, f, 6);

	/* QinQ: 802.1ad outer tag, or two 802.1Q tags */
	len = build(f, &(struct spec)ESP4);
	memmove(f + 16, f + 12, len - 12);
	wr16(f + 12, 0x88a8);
	wr16(f + 14, 10);
	check_drop(f, len + 4, SG_DROP_NON_IP);
	wr16(f + 12, 0x8100);
	memmove(f + 20, f + 16, len - 12);
	wr16(f + 16, 0x8100);
	wr16(f + 18, 20);
	check_drop(f, len + 8, SG_DROP_NON_IP);
	wr16(f + 16, 0x88a8);
	check_drop(f, len + 8, SG_DROP_NON_IP);

	/* a tag cut short */
	len = build(f, &(struct spec){ .ver = 4, .tci = 3, .proto = 50,
				       .spi = 1, .plen = 8 });
	for (uint32_t n = 14; n < 18; n++)
		check_drop(f, n, SG_DROP_MALFORMED);
	/* IPv6 ethertype, nothing behind it */
	len = build(f, &(struct spec)ESP6);
	check_drop(f, 14, SG_DROP_MALFORMED);
	check_drop(f, 14 + 39, SG_DROP_MALFORMED);
	f[14] = 0x45;  /* version 4 behind ethertype IPv6 */
	check_drop(f, len, SG_DROP_MALFORMED);
}

static void
test_mcast(void **state)
{
	static const uint8_t mc4[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x05 };
	static const uint8_t mc6[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct spec s = ESP4;
	struct cfe_pkt_info info;
	uint8_t f[MAXF];

	(void)state;
	s.dmac = mc4;
	check_valid(&s, CFE_KIND_ESP);
	s.dmac = mc6;
	s.ver = 6;
	check_valid(&s, CFE_KIND_ESP);
	s.dmac = bc;
	check_valid(&s, CFE_KIND_ESP);
	parse(f, build(f, &s), &info);
	assert_int_equal(info.flags, CFE_F_MCAST);
	/* locally administered unicast: bit 1 set, group bit clear */
	s.dmac = (const uint8_t[6]){ 0x02, 0xaa, 0, 0, 0, 1 };
	parse(f, build(f, &s), &info);
	assert_int_equal(info.flags, 0);
	assert_memory_equal(info.dst_mac, s.dmac, 6);
}

/* A drop leaves nothing from the garbage parse() pre-fills. */
static void
test_drop_fields(void **state)
{
	struct spec s = ESP4;
	struct cfe_pkt_info info, exp;
	uint8_t f[MAXF];
	uint32_t len;

	(void)state;
	s.tci = 12;
	len = build(f, &s);
	wr16(f + 18 + 6, 0x2000);
	v4_fix_csum(f + 18);
	parse(f, len, &info);
	memset(&exp, 0, sizeof(exp));
	exp.kind = CFE_KIND_DROP;
	exp.drop = SG_DROP_FRAGMENT;
	exp.flags = CFE_F_VLAN;
	exp.vlan_tci = 12;
	exp.l2_len = 18;
	exp.ip_ver = 4;
	memcpy(exp.dst_mac, MAC_US, 6);
	assert_memory_equal(&info, &exp, sizeof(info));
}

/* Every truncation of a valid frame is malformed, and never read past. */
static const struct spec templates[] = {
	ESP4,
	{ .ver = 4, .tci = 77, .v4_opt = 12, .proto = 50, .spi = 9, .plen = 16 },
	ESP6,
	{ .ver = 6, .tci = 1, .v6_ext = 1, .proto = 50, .spi = 7, .plen = 16 },
	NATT4,
	NATT6,
	{ .ver = 6, .tci = -1, .v6_ext = 1, .proto = 17, .sport = 4500,
	  .dport = 4500, .spi = 0x77, .plen = 24 },
	{ .ver = 4, .tci = -1, .proto = 17, .sport = 500, .dport = 500,
	  .spi = 0x1234, .plen = 28 },
	{ .ver = 4, .tci = -1, .proto = 17, .sport = 4500, .dport = 4500,
	  .spi = 0, .plen = 28 },
	{ .ver = 4, .tci = -1, .proto = 6, .sport = 22, .dport = 40000,
	  .plen = 10 },
	{ .ver = 6, .tci = 3, .proto = 17, .sport = 53, .dport = 53,
	  .plen = 10 },
	{ .ver = 4, .tci = -1, .proto = 1, .plen = 8 },
	{ .ver = 4, .tci = -1, .proto = 17, .sport = 4500, .dport = 4500,
	  .pl = (const uint8_t[]){ 0xff }, .plen = 1 },
};
#define N_TEMPLATES (sizeof(templates) / sizeof(templates[0]))

static void
test_truncation(void **state)
{
	uint8_t f[MAXF];
	struct cfe_pkt_info info;
	uint32_t t, len, n;

	(void)state;
	for (t = 0; t < N_TEMPLATES; t++) {
		len = build(f, &templates[t]);
		parse(f, len, &info);
		assert_true(info.kind != CFE_KIND_DROP ||
			    info.drop == SG_DROP_NAT_KEEPALIVE);
		for (n = 0; n < len; n++) {
			parse(f, n, &info);
			if (info.kind != CFE_KIND_DROP ||
			    info.drop != SG_DROP_MALFORMED)
				fail_msg("template %u cut at %u: kind %u drop %u",
					 t, n, info.kind, info.drop);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Random mutation                                                         */

static uint64_t rng;

static uint64_t
rnd(void)
{
	/* xorshift64*: fixed seed, same sequence on every run */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned long
env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoul(v, NULL, 0) : def;
}

/* What any result must satisfy, whatever the input. */
static void
check_sane(const struct cfe_pkt_info *i, uint32_t len)
{
	uint32_t min_l3;

	if (i->kind == CFE_KIND_DROP) {
		assert_true(i->drop == SG_DROP_MALFORMED ||
			    i->drop == SG_DROP_NON_IP ||
			    i->drop == SG_DROP_FRAGMENT ||
			    i->drop == SG_DROP_NAT_KEEPALIVE);
		return;
	}
	assert_true(i->kind <= CFE_KIND_CLEAR);
	assert_true(i->ip_ver == 4 || i->ip_ver == 6);
	assert_true(i->l2_len == 14 || i->l2_len == 18);
	assert_int_equal(!!(i->flags & CFE_F_VLAN), i->l2_len == 18);
	min_l3 = i->ip_ver == 4 ? 20 : 40;
	assert_true(i->l3_len >= min_l3);
	assert_true((uint32_t)i->l2_len + i->ip_len <= len);
	assert_true((uint32_t)i->l3_len + i->l4_len <= i->ip_len);
	switch (i->kind) {
	case CFE_KIND_ESP:
		assert_int_equal(i->proto, 50);
		assert_int_not_equal(i->spi, 0);
		assert_int_equal(i->l4_len, 0);
		assert_true(i->l3_len + 8u <= i->ip_len);
		break;
	case CFE_KIND_ESP_UDP:
		assert_int_equal(i->proto, 17);
		assert_int_equal(i->dport, 4500);
		assert_int_not_equal(i->spi, 0);
		assert_int_equal(i->l4_len, 8);
		assert_true(i->l3_len + 16u <= i->ip_len);
		break;
	case CFE_KIND_IKE:
		assert_int_equal(i->proto, 17);
		assert_int_equal(i->l4_len, 8);
		assert_int_equal(i->spi, 0);
		break;
	default:
		assert_int_equal(i->spi, 0);
		assert_int_equal(i->l4_len, 0);
		break;
	}
}

/* One random edit; header bytes (the first 120) are hit most often. */
static void
mutate(uint8_t *f, uint32_t *len)
{
	static const uint16_t v16[] = { 0, 1, 7, 8, 0x14, 0x28, 0x45, 0xff,
		0x0800, 0x86dd, 0x8100, 0x88a8, 0x2000, 0x3fff, 0x7fff, 0xffff,
		500, 4500 };
	uint32_t n = *len, pos, r = (uint32_t)rnd();

	pos = n == 0 ? 0 : (r & 0x300) ? (uint32_t)(rnd() % (n < 120 ? n : 120))
				       : (uint32_t)(rnd() % n);
	switch (r % 8) {
	case 0:
	case 1:
		if (n > 0)
			f[pos] = (uint8_t)rnd();
		break;
	case 2:
		if (n > 0)
			f[pos] ^= (uint8_t)(1u << (rnd() % 8));
		break;
	case 3:
		if (pos + 2 <= n)
			wr16(f + pos, v16[rnd() % (sizeof(v16) / 2)]);
		break;
	case 4:
		*len = (uint32_t)(rnd() % (n + 1));
		break;
	case 5:
		*len = n + (uint32_t)(rnd() % 64);
		if (*len > MAXF)
			*len = MAXF;
		for (; n < *len; n++)
			f[n] = (uint8_t)rnd();
		break;
	case 6:
		/* next-header / protocol / IHL positions of the usual offsets */
		if (n > 14 + 40 + 1) {
			static const uint32_t at[] = { 14, 18, 14 + 6, 18 + 6,
				14 + 9, 18 + 9, 14 + 40, 18 + 40, 14 + 41 };
			f[at[rnd() % 9]] = (uint8_t)rnd();
		}
		break;
	default:
		/* keep IPv4 checksums valid so mutations reach deeper */
		if (n >= 14 + 20 && f[12] == 0x08 && f[13] == 0x00 &&
		    (f[14] & 0x0f) * 4u <= n - 14)
			v4_fix_csum(f + 14);
		else if (n >= 18 + 20 && f[16] == 0x08 && f[17] == 0x00 &&
			 (f[18] & 0x0f) * 4u <= n - 18)
			v4_fix_csum(f + 18);
		break;
	}
}

static void
test_fuzz(void **state)
{
	unsigned long iters = env_ul("SG_FUZZ_ITERS", 20000), it;
	uint32_t seen[CFE_KIND_DROP + 1] = { 0 };
	uint32_t drops[SG_DROP_MAX] = { 0 };
	uint8_t f[MAXF];
	struct cfe_pkt_info a, b;
	uint32_t len, k, nmut;

	(void)state;
	rng = (uint64_t)env_ul("SG_FUZZ_SEED", 0x5eed5eedUL) * 0x9e3779b97f4a7c15ULL | 1;
	for (it = 0; it < iters; it++) {
		len = build(f, &templates[rnd() % N_TEMPLATES]);
		nmut = 1 + (uint32_t)(rnd() % 6);
		for (k = 0; k < nmut; k++)
			mutate(f, &len);
		if ((rnd() & 7) == 0)  /* end on a valid checksum */
			mutate(f, &len);
		parse(f, len, &a);
		check_sane(&a, len);
		/* deterministic: no dependence on uninitialised state */
		parse(f, len, &b);
		assert_memory_equal(&a, &b, sizeof(a));
		seen[a.kind]++;
		if (a.kind == CFE_KIND_DROP)
			drops[a.drop]++;
	}
	print_message("fuzz: %lu frames: esp %u esp_udp %u ike %u clear %u "
		      "drop %u (malformed %u non_ip %u fragment %u "
		      "keepalive %u)\n", iters, seen[CFE_KIND_ESP],
		      seen[CFE_KIND_ESP_UDP], seen[CFE_KIND_IKE],
		      seen[CFE_KIND_CLEAR], seen[CFE_KIND_DROP],
		      drops[SG_DROP_MALFORMED], drops[SG_DROP_NON_IP],
		      drops[SG_DROP_FRAGMENT], drops[SG_DROP_NAT_KEEPALIVE]);
	/* the mutations must reach every outcome, or they test little */
	if (iters >= 20000) {
		for (k = 0; k <= CFE_KIND_DROP; k++)
			assert_true(seen[k] > 0);
		assert_true(drops[SG_DROP_NON_IP] > 0);
		assert_true(drops[SG_DROP_FRAGMENT] > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_short),
		cmocka_unit_test(test_esp_v4),
		cmocka_unit_test(test_esp_v4_vlan),
		cmocka_unit_test(test_esp_v4_options),
		cmocka_unit_test(test_esp_v6),
		cmocka_unit_test(test_esp_v6_ext_chain),
		cmocka_unit_test(test_v6_ext_errors),
		cmocka_unit_test(test_v6_ah_nonext),
		cmocka_unit_test(test_esp_udp),
		cmocka_unit_test(test_ike_500),
		cmocka_unit_test(test_ike_marker_4500),
		cmocka_unit_test(test_nat_keepalive),
		cmocka_unit_test(test_udp_length),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_clear_truncated_l4),
		cmocka_unit_test(test_v4_header_errors),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_spi_zero),
		cmocka_unit_test(test_non_ip),
		cmocka_unit_test(test_mcast),
		cmocka_unit_test(test_drop_fields),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests_name("cfe_parse", tests, NULL, NULL);
}
