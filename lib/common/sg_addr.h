/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_ADDR_H
#define SG_ADDR_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>

/*
 * An IPv4 or IPv6 address in network byte order. IPv4 uses the first four
 * bytes of a[] and leaves the rest zero, so two sg_addr compare with memcmp.
 */
struct sg_addr {
	uint8_t family;  /* 4 or 6; 0 = unset */
	uint8_t a[16];
};

struct sg_prefix {
	struct sg_addr addr; /* host bits are zero */
	uint8_t len;         /* 0..32 or 0..128 */
};

/* Parse "192.0.2.1" / "2001:db8::1". Returns 0 or -EINVAL. */
int sg_addr_parse(const char *s, struct sg_addr *out);
/* Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (full length).
 * Host bits set beyond the length are an error (-EINVAL). */
int sg_prefix_parse(const char *s, struct sg_prefix *out);
/* Parse an interface address with its subnet length, "172.16.2.5/24": same
 * syntax as sg_prefix_parse() but host bits are kept as given (out->addr is
 * the interface's own address, out->len its subnet). Returns 0 or -EINVAL. */
int sg_ifaddr_parse(const char *s, struct sg_prefix *out);
/* Format into buf (at least 64 bytes); returns buf. */
const char *sg_addr_fmt(const struct sg_addr *a, char *buf, size_t len);
const char *sg_prefix_fmt(const struct sg_prefix *p, char *buf, size_t len);
/* true if a lies inside p (same family). Host bits of p->addr are ignored,
 * so this also answers "is a on the subnet of interface address p". */
/* Same family and address (unused bytes are zero, as everywhere). */
static inline bool
sg_addr_eq(const struct sg_addr *x, const struct sg_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}
bool sg_prefix_contains(const struct sg_prefix *p, const struct sg_addr *a);

/* First n bits of a 64-bit word in network byte order (n clamped to 0..64). */
static inline uint64_t
sg_prefix_mask64(int n)
{
	if (n <= 0)
		return 0;
	if (n >= 64)
		return UINT64_MAX;
	return htobe64(UINT64_MAX << (64 - n));
}

/*
 * sg_prefix_contains() for the data path (the selector check of every
 * decrypted packet): two masked 64-bit compares instead of a memcmp() call
 * of variable length. The _w form takes the address as two aligned words in
 * network byte order (unused bytes zero), as the DFE builds it in registers:
 * a tuple written byte-wise and read back as words stalls store forwarding.
 */
static inline bool
sg_prefix_match_w(const struct sg_prefix *p, uint8_t family,
		  const uint64_t a[2])
{
	uint64_t pa[2];

	if (p->addr.family != family || p->len > (family == 4 ? 32 : 128))
		return false;
	memcpy(pa, p->addr.a, 16);
	return (((pa[0] ^ a[0]) & sg_prefix_mask64(p->len)) |
		((pa[1] ^ a[1]) & sg_prefix_mask64(p->len - 64))) == 0;
}

static inline bool
sg_prefix_match(const struct sg_prefix *p, const struct sg_addr *a)
{
	uint64_t aa[2];

	memcpy(aa, a->a, 16);
	return sg_prefix_match_w(p, a->family, aa);
}

/* Parse "02:00:00:00:00:01". Returns 0 or -EINVAL. */
int sg_mac_parse(const char *s, uint8_t mac[6]);

#endif /* SG_ADDR_H */
