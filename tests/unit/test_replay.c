/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DFE's anti-replay window (lib/dfe/dfe_replay.h) against RFC 4303 and a
 * reference model. The case DPDK 22.11's lib/ipsec gets wrong (sequence
 * numbers with (sqn & 63) >= 32 accepted twice) is covered explicitly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dfe_replay.h"

static struct dfe_replay *
mk(uint32_t win)
{
	struct dfe_replay *r = calloc(1, dfe_replay_size(win));

	assert_non_null(r);
	dfe_replay_init(r, win);
	return r;
}

static void
test_zero_is_never_valid(void **st)
{
	struct dfe_replay *r = mk(64);

	(void)st;
	assert_int_equal(dfe_replay_check(r, 0), -1);
	assert_int_equal(dfe_replay_update(r, 0), -1);
	free(r);
}

static void
test_disabled_accepts_all(void **st)
{
	struct dfe_replay *r = mk(0);

	(void)st;
	assert_int_equal(dfe_replay_update(r, 5), 0);
	assert_int_equal(dfe_replay_update(r, 5), 0);
	assert_int_equal(dfe_replay_check(r, 1), 0);
	free(r);
}

/* Every number of a run, replayed, is rejected: bits 32..63 included. */
static void
test_replay_every_bit(void **st)
{
	static const uint32_t wins[] = { 32, 64, 128, 1024, 4096 };
	unsigned w;
	uint64_t s;

	(void)st;
	for (w = 0; w < sizeof(wins) / sizeof(wins[0]); w++) {
		struct dfe_replay *r = mk(wins[w]);

		for (s = 1; s <= 1000; s++)
			assert_int_equal(dfe_replay_update(r, s), 0);
		for (s = 1; s <= 1000; s++) {
			assert_int_equal(dfe_replay_check(r, s), -1);
			assert_int_equal(dfe_replay_update(r, s), -1);
		}
		free(r);
	}
}

static void
test_window_edges(void **st)
{
	struct dfe_replay *r = mk(64);

	(void)st;
	assert_int_equal(dfe_replay_update(r, 100), 0);
	/* window = [37, 100] */
	assert_int_equal(dfe_replay_check(r, 36), -1);
	assert_int_equal(dfe_replay_check(r, 37), 0);
	assert_int_equal(dfe_replay_update(r, 37), 0);
	assert_int_equal(dfe_replay_update(r, 37), -1);
	assert_int_equal(dfe_replay_update(r, 99), 0);
	/* a jump far ahead forgets the whole window */
	assert_int_equal(dfe_replay_update(r, 100000), 0);
	assert_int_equal(dfe_replay_check(r, 99990), 0);
	assert_int_equal(dfe_replay_check(r, 100000 - 64), -1);
	free(r);
}

/* Random traffic against a model that remembers every accepted number. */
static void
test_against_model(void **st)
{
	const uint32_t win = 128;
	struct dfe_replay *r = mk(win);
	static uint8_t seen[1 << 16];
	uint64_t top = 0;
	unsigned i;

	(void)st;
	srand(12345);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 200000; i++) {
		uint64_t s;
		int want, got;

		/* mostly near the top, sometimes behind it, sometimes ahead */
		s = top + (uint64_t)(rand() % 300) - 200;
		if ((int64_t)s < 0)
			s = rand() % 50;
		if (s >= sizeof(seen))
			break;
		want = (s == 0 || seen[s] || (s + win <= top)) ? -1 : 0;
		got = dfe_replay_update(r, s);
		assert_int_equal(got, want);
		if (got == 0) {
			seen[s] = 1;
			if (s > top)
				top = s;
		}
	}
	free(r);
}

/* RFC 4303 A.2.2: the high 32 bits are inferred from the window. */
static void
test_esn_reconstruction(void **st)
{
	struct dfe_replay *r = mk(64);

	(void)st;
	assert_int_equal(dfe_replay_esn(r, 7, false), 7);
	/* case A: window within one subspace; a low number means next one */
	r->top = 0x00000001fffffff0ULL;
	assert_true(dfe_replay_esn(r, 0xfffffff5, true) == 0x00000001fffffff5ULL);
	assert_true(dfe_replay_esn(r, 0x00000003, true) == 0x0000000200000003ULL);
	/* case B: window spans two subspaces */
	r->top = 0x0000000200000010ULL;
	assert_true(dfe_replay_esn(r, 0xfffffff0, true) == 0x00000001fffffff0ULL);
	assert_true(dfe_replay_esn(r, 0x00000020, true) == 0x0000000200000020ULL);
	free(r);
}

/* Crossing 2^32 with ESN: every number once, replays rejected. */
static void
test_esn_wrap(void **st)
{
	struct dfe_replay *r = mk(64);
	uint64_t s;

	(void)st;
	r->top = 0xffffff00ULL;
	for (s = 0xffffff01ULL; s <= 0x100000100ULL; s++) {
		uint64_t full = dfe_replay_esn(r, (uint32_t)s, true);

		assert_true(full == s);
		assert_int_equal(dfe_replay_update(r, full), 0);
	}
	assert_int_equal(dfe_replay_update(r,
		dfe_replay_esn(r, 0x000000f0, true)), -1);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_is_never_valid),
		cmocka_unit_test(test_disabled_accepts_all),
		cmocka_unit_test(test_replay_every_bit),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_esn_reconstruction),
		cmocka_unit_test(test_esn_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
