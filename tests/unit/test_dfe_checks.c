/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The byte checks of the DFE's direct paths (lib/dfe/dfe_priv.h): the ESP
 * padding check (RFC 4303 2.4, eight bytes at a time) against a byte loop,
 * for every padding length, every wrong byte and every kind of byte after
 * the padding; the constant-time ICV compare for every ICV size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dfe_priv.h"

static bool
ref_pad_ok(const uint8_t *p, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)(i + 1))
			return false;
	return true;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t
rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)rng;
}

/*
 * Every length 0..255 at every alignment 0..7: the right padding passes
 * whatever the 10 bytes after it hold (the sequence continued, zeros, 0xff,
 * random); each byte changed to each of four wrong values fails. The buffer
 * ends 10 bytes after the padding, as the shortest trailer and ICV do.
 */
static void
test_pad_every_length(void **st)
{
	static const uint8_t wrong[] = { 0x00, 0xff, 0x80 };
	unsigned n, al, i, k, tail, checked = 0;

	(void)st;
	for (n = 0; n <= 255; n++)
		for (al = 0; al < 8; al++)
			for (tail = 0; tail < 4; tail++) {
				uint8_t *buf = malloc(al + n + 10), *p = buf + al;

				assert_non_null(buf);
				for (i = 0; i < n; i++)
					p[i] = (uint8_t)(i + 1);
				for (i = n; i < n + 10; i++)
					p[i] = tail == 0 ? (uint8_t)(i + 1) :
						tail == 1 ? 0 : tail == 2 ?
						0xff : rnd8();
				assert_true(dfe_pad_ok(p, n));
				for (i = 0; i < n && tail == 3; i++) {
					uint8_t keep = p[i];

					for (k = 0; k < RTE_DIM(wrong) + 1; k++) {
						p[i] = k < RTE_DIM(wrong) ?
							wrong[k] : (uint8_t)(keep + 1);
						if (p[i] == keep)
							continue;
						assert_false(dfe_pad_ok(p, n));
						checked++;
					}
					p[i] = keep;
				}
				free(buf);
			}
	print_message("%u wrong paddings refused\n", checked);
	assert_true(checked > 250 * 256 * 8);
}

/* Random bytes, mostly a right padding with one byte off: both agree. */
static void
test_pad_random(void **st)
{
	uint8_t buf[255 + 10];
	unsigned r, i, n, ok = 0;

	(void)st;
	for (r = 0; r < 200000; r++) {
		n = rnd8();
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = i < n && rnd8() % 64 != 0 ? (uint8_t)(i + 1) :
				rnd8();
		assert_int_equal(dfe_pad_ok(buf, n), ref_pad_ok(buf, n));
		ok += ref_pad_ok(buf, n);
	}
	/* both outcomes are frequent */
	assert_true(ok > 1000 && ok < 199000);
}

static void
test_icv_equal(void **st)
{
	static const unsigned lens[] = { 8, 12, 16, 24, 32 };
	uint8_t a[32], b[32];
	unsigned l, i, bit;

	(void)st;
	for (l = 0; l < RTE_DIM(lens); l++) {
		for (i = 0; i < 32; i++)
			a[i] = b[i] = rnd8();
		assert_true(dfe_icv_equal(a, b, lens[l]));
		for (i = 0; i < lens[l]; i++)
			for (bit = 0; bit < 8; bit++) {
				b[i] ^= (uint8_t)(1u << bit);
				assert_false(dfe_icv_equal(a, b, lens[l]));
				b[i] ^= (uint8_t)(1u << bit);
			}
		/* bytes past the ICV do not count */
		if (lens[l] < 32) {
			b[lens[l]] ^= 1;
			assert_true(dfe_icv_equal(a, b, lens[l]));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pad_every_length),
		cmocka_unit_test(test_pad_random),
		cmocka_unit_test(test_icv_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
