/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_TX_H
#define SG_TX_H

/*
 * TX buffering: every lcore that transmits owns one sg_txq per port, filled a
 * packet at a time and flushed once per loop iteration with one
 * rte_eth_tx_burst(). When the device has a TX queue for every transmitting
 * lcore (a NIC), the queue is the lcore's alone and 'lock' is NULL. When it has
 * fewer (net_pcap has one), the lcores sharing a queue serialise on its
 * spinlock, taken once per burst, never per packet (docs/architecture.md).
 */

#include <stdint.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "sg_common.h"
#include "sg_stats.h"

#define SG_TXQ_CAP (SG_BURST * 2)

struct sg_txq {
	uint16_t port;
	uint16_t queue;
	uint16_t n;
	uint8_t enabled;
	rte_spinlock_t *lock;
	struct rte_mbuf *pkts[SG_TXQ_CAP];
};

static inline void
sg_txq_flush(struct sg_txq *q, struct sg_lcore_stats *st)
{
	uint16_t sent;

	if (q->n == 0)
		return;
	if (q->lock != NULL)
		rte_spinlock_lock(q->lock);
	sent = rte_eth_tx_burst(q->port, q->queue, q->pkts, q->n);
	if (q->lock != NULL)
		rte_spinlock_unlock(q->lock);
	st->tx += sent;
	if (unlikely(sent < q->n)) {
		st->drop[SG_DROP_RING_FULL] += q->n - sent;
		rte_pktmbuf_free_bulk(&q->pkts[sent], q->n - sent);
	}
	q->n = 0;
}

static inline void
sg_txq_put(struct sg_txq *q, struct rte_mbuf *m, struct sg_lcore_stats *st)
{
	if (unlikely(q->n == SG_TXQ_CAP))
		sg_txq_flush(q, st);
	q->pkts[q->n++] = m;
}

#endif /* SG_TX_H */
