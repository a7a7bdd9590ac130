/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_STATS_H
#define SG_STATS_H

/*
 * Per-lcore counters. Each lcore writes only its own block (plain stores, no
 * atomics: 64-bit aligned stores are not torn on x86-64); readers (telemetry,
 * --stats-out) sum the blocks of all lcores and accept a slightly stale view.
 */

#include <stdint.h>
#include <rte_common.h>

#include "sg_drop.h"

enum sg_role {
	SG_ROLE_CFE = 1 << 0,
	SG_ROLE_DFE = 1 << 1,
	SG_ROLE_CE  = 1 << 2,
};

struct sg_lcore_stats {
	uint64_t rx;          /* packets received from ports */
	uint64_t tx;          /* packets handed to ports */
	uint64_t decrypted;
	uint64_t encrypted;
	uint64_t bypassed;
	uint64_t punted;      /* CFE -> CE */
	uint64_t held;        /* packets the CE held (or the DFE stashed) */
	uint64_t reinjected;  /* held packets released to a DFE */
	uint64_t ike;         /* IKE packets seen by the CE */
	uint64_t pkts;        /* packets this lcore worked on, any role */
	uint64_t busy_cycles; /* TSC cycles of loop iterations that did work */
	uint64_t idle_cycles; /* TSC cycles of empty iterations */
	uint64_t rx_waits;    /* CFE polls that received nothing because a
			       * DFE ring had no room (backpressure) */
	uint64_t drop[SG_DROP_MAX];
} __rte_cache_aligned;

/* Sum 'n' blocks into *out. */
static inline void
sg_stats_sum(const struct sg_lcore_stats *blocks, unsigned n,
	     struct sg_lcore_stats *out)
{
	const uint64_t *s;
	uint64_t *d = (uint64_t *)out;
	unsigned i, k;
	const unsigned words = offsetof(struct sg_lcore_stats, drop) /
		sizeof(uint64_t) + SG_DROP_MAX;

	for (k = 0; k < words; k++)
		d[k] = 0;
	for (i = 0; i < n; i++) {
		s = (const uint64_t *)&blocks[i];
		for (k = 0; k < words; k++)
			d[k] += s[k];
	}
}

#endif /* SG_STATS_H */
