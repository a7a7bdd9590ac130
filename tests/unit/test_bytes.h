/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TEST_BYTES_H
#define TEST_BYTES_H

/*
 * Frame-building helpers of the unit tests: big-endian stores and the
 * Internet checksum, written independently of the code under test.
 */

#include <stdint.h>

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Internet checksum, by big-endian 16-bit words (RFC 1071), independent of
 * the parser's 32-bit implementation. */
static inline uint16_t
csum16(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0, i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif /* TEST_BYTES_H */
