/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "sg_addr.h"

int sg_addr_parse(const char *s, struct sg_addr *out)
{
	struct sg_addr a;

	if (s == NULL || out == NULL)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	/* inet_pton() is strict: no octal, no short IPv4 forms, no zone ids */
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, a.a) != 1)
			return -EINVAL;
		a.family = 6;
	} else {
		if (inet_pton(AF_INET, s, a.a) != 1)
			return -EINVAL;
		a.family = 4;
	}
	*out = a;
	return 0;
}

static unsigned addr_bits(const struct sg_addr *a)
{
	return a->family == 4 ? 32 : 128;
}

/* Bits of a beyond len are all zero. */
static int host_bits_zero(const struct sg_addr *a, unsigned len)
{
	unsigned i, nbytes = addr_bits(a) / 8;

	for (i = len / 8; i < nbytes; i++) {
		uint8_t mask = i == len / 8 ? (uint8_t)(0xff >> (len % 8)) : 0xff;

		if (a->a[i] & mask)
			return 0;
	}
	return 1;
}

/*
 * "ADDR[/LEN]": the address part goes through sg_addr_parse(); the length is
 * one to three decimal digits, at most the family's width. A missing length
 * means a host (32 or 128).
 */
static int prefix_parse(const char *s, struct sg_prefix *out, int keep_host)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct sg_prefix p;
	const char *slash;
	unsigned len = 0;
	size_t n;

	if (s == NULL || out == NULL)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	slash = strchr(s, '/');
	n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (sg_addr_parse(buf, &p.addr) < 0)
		return -EINVAL;
	if (slash == NULL) {
		len = addr_bits(&p.addr);
	} else {
		const char *d = slash + 1;

		if (*d == '\0' || strlen(d) > 3)
			return -EINVAL;
		for (; *d != '\0'; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			len = len * 10 + (unsigned)(*d - '0');
		}
		if (len > addr_bits(&p.addr))
			return -EINVAL;
	}
	if (!keep_host && !host_bits_zero(&p.addr, len))
		return -EINVAL;
	p.len = (uint8_t)len;
	*out = p;
	return 0;
}

int sg_prefix_parse(const char *s, struct sg_prefix *out)
{
	return prefix_parse(s, out, 0);
}

int sg_ifaddr_parse(const char *s, struct sg_prefix *out)
{
	return prefix_parse(s, out, 1);
}

const char *sg_addr_fmt(const struct sg_addr *a, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	if (a == NULL || (a->family != 4 && a->family != 6)) {
		snprintf(buf, len, "unset");
		return buf;
	}
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, buf,
		      (socklen_t)len) == NULL)
		buf[0] = '\0';
	return buf;
}

const char *sg_prefix_fmt(const struct sg_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (buf == NULL || len == 0)
		return buf;
	if (p == NULL) {
		snprintf(buf, len, "unset");
		return buf;
	}
	snprintf(buf, len, "%s/%u", sg_addr_fmt(&p->addr, a, sizeof(a)),
		 (unsigned)p->len);
	return buf;
}

bool sg_prefix_contains(const struct sg_prefix *p, const struct sg_addr *a)
{
	unsigned full, rest;

	if (p == NULL || a == NULL || p->addr.family != a->family ||
	    p->len > addr_bits(a))
		return false;
	full = p->len / 8;
	rest = p->len % 8;
	if (memcmp(p->addr.a, a->a, full) != 0)
		return false;
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((p->addr.a[full] & mask) != (a->a[full] & mask))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sg_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	int i;

	if (s == NULL || mac == NULL || strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, 6);
	return 0;
}
