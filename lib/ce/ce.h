/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CE_H
#define CE_H

/*
 * Control element: the authority. Built from the validated deployment and
 * policy database, it sets up ports, crypto devices, rings and tables,
 * creates the CFEs and DFEs of the deployment, installs SAs (eagerly at start
 * or lazily on their first punted packet), holds and re-injects packets that
 * arrived before their SA, and answers telemetry.
 *
 * Threads: everything here on the main lcore, except ce_stop() (any thread,
 * async-signal-safe) and ce_lcore_main() (the launch function of every
 * lcore, the main one included).
 */

#include <stdint.h>
#include <stdio.h>

#include "ce_config.h"

struct ce;

struct ce_opts {
	uint32_t exit_idle_ms;        /* 0: run until ce_stop() */
	int progress;                 /* a status line every second */
};

/* After rte_eal_init(). NULL on failure, with the reason logged. The two
 * config structs must outlive the CE. */
struct ce *ce_create(const struct ce_deploy *dep, const struct ce_policydb *db,
		     const struct ce_opts *o);
void ce_destroy(struct ce *ce);

/* The argument to pass to ce_lcore_main() for 'lcore', or NULL when the
 * deployment gives that lcore no role. */
void *ce_lcore_arg(struct ce *ce, unsigned lcore);
int ce_lcore_main(void *arg);

/* Ask every lcore to stop: receive no more, drain, return. */
void ce_stop(struct ce *ce);

/* Final counters, as /spigate/stats answers them. */
int ce_stats_write_json(struct ce *ce, FILE *f);
void ce_stats_print(struct ce *ce, FILE *f);

#endif /* CE_H */
