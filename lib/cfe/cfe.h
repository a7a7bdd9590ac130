/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CFE_H
#define CFE_H

/*
 * Classifying forwarding element. Polls the RX queues it owns, parses each
 * frame, classifies ESP by SPI (and outer destination where SPIs are shared)
 * in one bulk lookup per burst, and hands the hits to the owning DFE's ring.
 * Misses and IKE go to the CE over the punt ring, policed by a token bucket.
 * Clear packets are checked against the SPD: bypass is routed and sent by the
 * CFE itself, the rest is dropped with its reason. It never decrypts.
 *
 * Threads: cfe_poll() on the CFE's lcore only.
 */

#include <stdint.h>

#include <rte_ether.h>

#include "sg_common.h"
#include "sg_stats.h"
#include "sg_tx.h"

struct rte_ring;
struct cfe_table;
struct cfe_spd;
struct sg_route;
struct cfe;

enum cfe_port_role { CFE_PORT_UNPROTECTED, CFE_PORT_PROTECTED };

struct cfe_rxq {
	uint16_t port;
	uint16_t queue;
	uint8_t role;                 /* enum cfe_port_role */
	struct rte_ether_addr mac;    /* the port's address */
};

struct cfe_conf {
	unsigned id;
	int socket;
	unsigned n_rxq;
	struct cfe_rxq rxq[SG_MAX_PORTS];
	const struct cfe_table *table;
	/* the SPD in force, published by the CE (one atomic store); read
	 * once per burst, never kept across iterations of the lcore loop */
	struct cfe_spd *const *spd;
	struct sg_route *const *route; /* the CE's published table: loaded once
					* per burst (acquire), never kept across
					* loop iterations (RCU, ce_route.c) */
	unsigned n_dfe;
	struct rte_ring *dfe_ring[SG_MAX_DFE];
	struct rte_ring *punt_ring;   /* to the CE, MP/SC */
	uint32_t punt_rate;           /* packets per second */
	uint32_t punt_burst;          /* bucket depth */
	const volatile int *rx_stop;  /* non-zero: stop receiving (drain) */
	struct sg_txq *txq;           /* [SG_MAX_PORTS]: the lcore's TX buffers */
	struct sg_lcore_stats *stats; /* the lcore's counters */
};

struct cfe *cfe_create(const struct cfe_conf *c);
void cfe_destroy(struct cfe *c);
/* One iteration over the CFE's RX queues. Returns packets received. */
unsigned cfe_poll(struct cfe *c);
/* Packets classified to a DFE whose ring could not take them yet; they
 * leave on the CFE's next polls, before it receives anything else. Any
 * thread (a relaxed read, for the CE's drain). */
unsigned cfe_staged(const struct cfe *c);
/* The CFE's SPD memo: clear packets whose verdict came from it, those it
 * sent to the SPD's rte_acl, those that skipped it while it was off
 * (cfe_spd.h). Any thread (relaxed reads). */
void cfe_memo_counts(const struct cfe *c, uint64_t *hits, uint64_t *misses,
		     uint64_t *skipped);

#endif /* CFE_H */
