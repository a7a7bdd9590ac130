/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_REPLAY_H
#define DFE_REPLAY_H

/*
 * Anti-replay window (RFC 4303 3.4.3 and appendix A, bitmap as in RFC 6479).
 *
 * spigate keeps its own window instead of trusting lib/ipsec's: DPDK 22.11
 * stores a 64-bit window bit in a 32-bit variable (esn_inb_update_sqn()), so
 * replays whose sequence number modulo 64 is 32 or more are accepted again
 * (DEPENDENCY-NOTES.md). This window is checked before the crypto (cheap
 * reject) and updated after the ICV verified, so that forged packets never
 * move it. Single writer: the owning DFE. Pure logic, unit-tested without EAL.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dfe_replay {
	uint64_t top;        /* highest sequence number accepted; 0 = none */
	uint32_t win;        /* window size in packets; 0 = anti-replay off */
	uint32_t mask;       /* words - 1 */
	uint64_t bits[];     /* bit (sqn & 63) of word (sqn >> 6) & mask */
};

static inline uint32_t
dfe_replay_words(uint32_t win)
{
	uint32_t need = win / 64 + 2, w = 2;

	while (w < need)
		w <<= 1;
	return w;
}

static inline size_t
dfe_replay_size(uint32_t win)
{
	return sizeof(struct dfe_replay) + dfe_replay_words(win) * sizeof(uint64_t);
}

static inline void
dfe_replay_init(struct dfe_replay *r, uint32_t win)
{
	uint32_t i, w = dfe_replay_words(win);

	r->top = 0;
	r->win = win;
	r->mask = w - 1;
	for (i = 0; i < w; i++)
		r->bits[i] = 0;
}

/*
 * The full 64-bit sequence number of a packet carrying the low 32 bits 'seq'
 * when the highest number seen is 'top' (RFC 4303 A.2.2).
 */
static inline uint64_t
dfe_replay_esn_at(uint64_t top, uint32_t win, uint32_t seq)
{
	uint32_t tl, th, bl;

	tl = (uint32_t)top;
	th = (uint32_t)(top >> 32);
	bl = tl - win + 1;
	if (tl >= win - 1) {
		/* window within one subspace: below it means the next one */
		if (seq < bl)
			th++;
	} else if (th != 0 && seq >= bl) {
		/* window spans two subspaces: high part belongs to the last */
		th--;
	}
	return (uint64_t)th << 32 | seq;
}

/* The same against the window's state. Without ESN: the 32-bit number. */
static inline uint64_t
dfe_replay_esn(const struct dfe_replay *r, uint32_t seq, bool esn)
{
	return esn ? dfe_replay_esn_at(r->top, r->win, seq) : seq;
}

/* 0 if sqn may be new, -1 if it is a replay (seen, zero, or too old). */
static inline int
dfe_replay_check(const struct dfe_replay *r, uint64_t sqn)
{
	if (r->win == 0)
		return 0;
	if (sqn == 0)
		return -1;
	if (sqn > r->top)
		return 0;
	if (sqn + r->win <= r->top)
		return -1;
	return (r->bits[(sqn >> 6) & r->mask] >> (sqn & 63)) & 1 ? -1 : 0;
}

/* Record an authenticated sqn. -1 if it turned out to be a replay. */
static inline int
dfe_replay_update(struct dfe_replay *r, uint64_t sqn)
{
	uint64_t w, last, bit;

	if (r->win == 0) {
		if (sqn > r->top)
			r->top = sqn;
		return 0;
	}
	if (dfe_replay_check(r, sqn) != 0)
		return -1;
	if (sqn > r->top) {
		/* clear the words the window slides over */
		last = r->top >> 6;
		w = sqn >> 6;
		if (w - last > r->mask)
			last = w - r->mask - 1;
		while (last < w) {
			last++;
			r->bits[last & r->mask] = 0;
		}
		r->top = sqn;
	}
	bit = (uint64_t)1 << (sqn & 63);
	r->bits[(sqn >> 6) & r->mask] |= bit;
	return 0;
}

#endif /* DFE_REPLAY_H */
