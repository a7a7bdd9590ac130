/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "ce_priv.h"

RTE_LOG_REGISTER(ce_logtype, spigate.ce, INFO);

static int
has_lcore(const unsigned *list, unsigned n, unsigned l)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (list[i] == l)
			return 1;
	return 0;
}

/*
 * Contexts of the lcores with a role, and their TX buffers: one TX queue
 * per transmitting lcore where the device has enough, else shared queues
 * behind a spinlock (sg_tx.h).
 */
static int
lcores_init(struct ce *ce)
{
	const struct ce_deploy *dep = ce->dep;
	unsigned l, p, txi = 0;

	for (l = 0; l < RTE_MAX_LCORE; l++) {
		unsigned roles = 0;
		struct ce_lcore *lc;

		if (has_lcore(dep->cfe_lcores, dep->n_cfe, l))
			roles |= SG_ROLE_CFE;
		if (has_lcore(dep->dfe_lcores, dep->n_dfe, l))
			roles |= SG_ROLE_DFE;
		if (dep->ce_lcore == l)
			roles |= SG_ROLE_CE;
		if (roles == 0)
			continue;
		if (!rte_lcore_is_enabled(l)) {
			CE_LOG(ERR, "lcore %u has a role but is not in the EAL "
			       "lcore list (-l / --lcores)", l);
			return -EINVAL;
		}
		lc = rte_zmalloc("ce_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE);
		if (lc == NULL)
			return -ENOMEM;
		lc->lcore = l;
		lc->roles = roles;
		lc->qsv = ce->qsv;
		lc->quit = &ce->quit;
		lc->st = &ce->stats[l];
		if (roles & SG_ROLE_CE)
			lc->ce = ce;
		if (roles & (SG_ROLE_CFE | SG_ROLE_DFE)) {
			for (p = 0; p < ce->n_ports; p++) {
				uint16_t pid = ce->port_id[p];
				struct sg_txq *q = &lc->txq[pid];

				if (ce->n_txq[p] == 0)
					continue;
				q->port = pid;
				q->queue = txi % ce->n_txq[p];
				q->enabled = 1;
				if (ce->n_txq[p] < ce->n_tx_lcores) {
					q->lock = &ce->txq_lock[pid][q->queue];
					rte_spinlock_init(q->lock);
				}
			}
			txi++;
		}
		ce->lc[l] = lc;
	}
	ce->st = &ce->stats[dep->ce_lcore];
	return 0;
}

static int
elements_init(struct ce *ce)
{
	const struct ce_deploy *dep = ce->dep;
	char name[RTE_RING_NAMESIZE];
	unsigned i, p, q;

	ce->punt_ring = rte_ring_create("sg_punt", dep->ring_size,
					rte_socket_id(), RING_F_SC_DEQ);
	if (ce->punt_ring == NULL)
		return -ENOMEM;
	ce->n_dfe = dep->n_dfe;
	ce->n_cfe = dep->n_cfe;
	for (i = 0; i < ce->n_dfe; i++) {
		struct ce_lcore *lc = ce->lc[dep->dfe_lcores[i]];
		struct dfe_conf dc = {
			.id = i,
			.socket = rte_socket_id(),
			.crypto = dep->crypto_mode == CE_CRYPTO_CPU ?
				DFE_CRYPTO_CPU : DFE_CRYPTO_LOOKASIDE,
			.cdev_id = ce->cdev[i % ce->n_cdev],
			.cdev_qp = (uint16_t)(i / ce->n_cdev),
			.cop_pool = ce->cop_pool,
			.pool = ce->pool,
			.route = &ce->route,
			.txq = lc->txq,
			.stats = lc->st,
			.max_sa = ce->cap_sa + 1,
			.stash_per_sa = dep->hold_packets,
			.count_pkts = !(lc->roles & SG_ROLE_CFE),
		};

		snprintf(name, sizeof(name), "sg_dfe%u", i);
		ce->dfe_ring[i] = rte_ring_create(name, dep->ring_size,
						  rte_socket_id(), RING_F_SC_DEQ);
		if (ce->dfe_ring[i] == NULL)
			return -ENOMEM;
		dc.ring = ce->dfe_ring[i];
		ce->dfe[i] = dfe_create(&dc);
		if (ce->dfe[i] == NULL)
			return -rte_errno;
		lc->dfe = ce->dfe[i];
	}
	if (ce->n_dfe != 0) {
		struct dfe_engines en;
		char timed[96] = "", split[96] = "";

		dfe_engines(ce->dfe[0], &en);
		if (en.cycles[0] != 0)
			snprintf(timed, sizeof(timed), " (timed: %" PRIu64
				 " cycles on %s, %" PRIu64 " on sse with the "
				 "SHA extensions)", en.cycles[0], en.aes,
				 en.cycles[1]);
		if (en.split != 0)
			snprintf(split, sizeof(split), "; inbound AES-CBC of "
				 "%u bytes or more on %s, after the HMAC",
				 en.split, en.aes);
		if (en.aes != NULL)
			CE_LOG(INFO, "cpu crypto: intel-ipsec-mb %s; HMAC-SHA-1/256 "
			       "on %s%s%s%s", en.aes, en.sha, en.sha_ext ?
			       " with the SHA extensions" : "", timed, split);
	}
	for (i = 0; i < ce->n_cfe; i++) {
		struct ce_lcore *lc = ce->lc[dep->cfe_lcores[i]];
		struct cfe_conf cc = {
			.id = i,
			.socket = rte_socket_id(),
			.table = ce->table,
			.spd = &ce->spd_pub,
			.route = &ce->route,
			.n_dfe = ce->n_dfe,
			.punt_ring = ce->punt_ring,
			.punt_rate = dep->punt_rate,
			.punt_burst = dep->punt_burst,
			.rx_stop = &ce->rx_stop,
			.txq = lc->txq,
			.stats = lc->st,
		};

		memcpy(cc.dfe_ring, ce->dfe_ring, sizeof(cc.dfe_ring));
		for (p = 0; p < ce->n_ports; p++) {
			for (q = i; q < ce->n_rxq[p]; q += ce->n_cfe) {
				struct cfe_rxq *rq = &cc.rxq[cc.n_rxq++];

				rq->port = ce->port_id[p];
				rq->queue = q;
				rq->role = dep->ports[p].role == CE_PORT_PROTECTED ?
					CFE_PORT_PROTECTED : CFE_PORT_UNPROTECTED;
				rq->mac = ce->port_mac[p];
			}
		}
		ce->cfe[i] = cfe_create(&cc);
		if (ce->cfe[i] == NULL)
			return -rte_errno;
		lc->cfe = ce->cfe[i];
		ce->cfe_dfe[i] = -1;
		for (p = 0; p < ce->n_dfe; p++)
			if (dep->dfe_lcores[p] == dep->cfe_lcores[i])
				ce->cfe_dfe[i] = (int)p;
	}
	return 0;
}

static int
eager_install(struct ce *ce)
{
	unsigned i, n = 0;
	int rc;

	for (i = 0; i < ce->n_sa; i++) {
		struct ce_sa *sa = ce->sa[i];

		if (sa->cfg->install != CE_INSTALL_EAGER)
			continue;
		/* a refused SA stays 'failed' (its packets are counted
		 * against it); the gateway serves the others */
		rc = ce_sa_install(ce, sa, false, -1);
		if (rc != 0) {
			CE_LOG(ERR, "%s:%d: SA 0x%x: eager install failed: %s",
			       ce->db->path, sa->cfg->line, sa->cfg->spi,
			       strerror(-rc));
			if (rc == -ENOSPC)
				return rc;
			continue;
		}
		n++;
	}
	if (n != 0)
		CE_LOG(INFO, "%u SAs installed at start", n);
	return 0;
}

struct ce *
ce_create(const struct ce_deploy *dep, const struct ce_policydb *db,
	  const struct ce_opts *o)
{
	struct ce *ce;
	size_t sz;
	int rc;

	ce = rte_zmalloc("ce", sizeof(*ce), RTE_CACHE_LINE_SIZE);
	if (ce == NULL)
		return NULL;
	ce->dep = dep;
	ce->db = db;
	ce->opts = *o;
	ce->hz = rte_get_tsc_hz();
	ce->start_tsc = rte_rdtsc();
	ce->ce_lcore = dep->ce_lcore;
	/* room for SAs added at runtime: the configured capacity, or twice the
	 * file's SAs (at least 4096) */
	ce->cap_sa = dep->sa_capacity != 0 ? dep->sa_capacity :
		RTE_MAX(db->n_sas * 2, 4096u);
	if (ce->cap_sa < db->n_sas)
		ce->cap_sa = db->n_sas;
	pthread_mutex_init(&ce->lock, NULL);
	rte_spinlock_init(&ce->ev_lock);
	if (dep->ce_lcore != rte_get_main_lcore()) {
		CE_LOG(ERR, "lcores.ce = %u: the CE runs on the main lcore, "
		       "which is %u (the first of -l)", dep->ce_lcore,
		       rte_get_main_lcore());
		goto fail;
	}
	ce->stats = rte_zmalloc("sg_stats",
				sizeof(*ce->stats) * RTE_MAX_LCORE,
				RTE_CACHE_LINE_SIZE);
	sz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	ce->qsv = rte_zmalloc("sg_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (ce->stats == NULL || ce->qsv == NULL ||
	    rte_rcu_qsbr_init(ce->qsv, RTE_MAX_LCORE) != 0)
		goto fail;
	ce->n_tx_lcores = 0;
	{
		unsigned l;

		for (l = 0; l < RTE_MAX_LCORE; l++)
			if (has_lcore(dep->cfe_lcores, dep->n_cfe, l) ||
			    has_lcore(dep->dfe_lcores, dep->n_dfe, l))
				ce->n_tx_lcores++;
	}
	if ((rc = ce_ports_init(ce)) != 0 || (rc = ce_crypto_init(ce)) != 0)
		goto fail;
	ce->table = cfe_table_create("sg_cls", RTE_MAX(ce->cap_sa * 2, 1024u),
				     rte_socket_id(), ce->qsv);
	if (ce->table == NULL) {
		CE_LOG(ERR, "classification table: %s", rte_strerror(rte_errno));
		goto fail;
	}
	if ((rc = ce_route_init(ce)) != 0 || (rc = ce_policy_init(ce)) != 0 ||
	    (rc = lcores_init(ce)) != 0 || (rc = elements_init(ce)) != 0 ||
	    (rc = ce_sadb_init(ce)) != 0 || (rc = eager_install(ce)) != 0)
		goto fail;
	if (dep->telemetry && ce_telemetry_init(ce) != 0)
		goto fail;
	if (ce_ctl_init(ce) != 0)
		goto fail;
	return ce;
fail:
	ce_destroy(ce);
	return NULL;
}

static void
ring_free_all(struct rte_ring *r)
{
	struct rte_mbuf *m;

	if (r == NULL)
		return;
	while (rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r);
}

void
ce_destroy(struct ce *ce)
{
	unsigned i;

	if (ce == NULL)
		return;
	ce_telemetry_fini(ce);
	ce_ctl_fini(ce);
	if (ce->sa != NULL)
		ce_sadb_fini(ce);
	for (i = 0; i < ce->n_cfe; i++)
		cfe_destroy(ce->cfe[i]);
	for (i = 0; i < ce->n_dfe; i++) {
		dfe_destroy(ce->dfe[i]);
		ring_free_all(ce->dfe_ring[i]);
	}
	ring_free_all(ce->punt_ring);
	for (i = 0; i < RTE_MAX_LCORE; i++)
		rte_free(ce->lc[i]);
	ce_policy_fini(ce);
	ce_route_fini(ce);
	cfe_table_destroy(ce->table);
	ce_crypto_fini(ce);
	ce_ports_fini(ce);
	rte_free(ce->qsv);
	rte_free(ce->stats);
	rte_free(ce);
}

void *
ce_lcore_arg(struct ce *ce, unsigned lcore)
{
	return lcore < RTE_MAX_LCORE ? ce->lc[lcore] : NULL;
}

void
ce_stop(struct ce *ce)
{
	ce->stop_req = 1;
}

/*
 * While it has nothing to do, the CE is polled at most every CE_IDLE_POLL_US
 * (measured: an idle ce_poll() costs about 300 cycles). Two reasons:
 * - sharing its lcore with a CFE or DFE, it would otherwise take those
 *   cycles from every data-path iteration;
 * - on an lcore of its own it would re-read every lcore's counter block
 *   (the RX counters, for --exit-idle) millions of times a second, and each
 *   read takes the line away from the worker that writes it: the worker's
 *   next counter update became a cache miss (a stall on every per-SA batch
 *   with many SAs, docs/PERFORMANCE.md).
 * While it handles punts or has SAs being installed it is polled on every
 * iteration; an idle CE adds at most CE_IDLE_POLL_US to a punt's latency.
 */
#define CE_IDLE_POLL_US 5

/*
 * The loop of every lcore: the roles it has, one pass each, then the TX
 * buffers, then a quiescent-state report (nothing of the tables is held
 * across iterations). Busy and idle cycles feed /spigate/lcores.
 */
int
ce_lcore_main(void *arg)
{
	struct ce_lcore *lc = arg;
	struct sg_lcore_stats *st = lc->st;
	bool reader = lc->roles & (SG_ROLE_CFE | SG_ROLE_DFE);
	uint64_t ce_gap = rte_get_tsc_hz() / 1000000 * CE_IDLE_POLL_US;
	uint64_t t0, t1, ce_next = 0;
	unsigned n, p, k;

	if (reader) {
		rte_rcu_qsbr_thread_register(lc->qsv, lc->lcore);
		rte_rcu_qsbr_thread_online(lc->qsv, lc->lcore);
	}
	t0 = rte_rdtsc();
	while (!*lc->quit) {
		n = 0;
		if (lc->cfe != NULL)
			n += cfe_poll(lc->cfe);
		if (lc->dfe != NULL)
			n += dfe_poll(lc->dfe);
		if (lc->ce != NULL && t0 >= ce_next) {
			k = ce_poll(lc->ce);
			n += k;
			ce_next = k != 0 || lc->ce->n_pending != 0 ? 0 :
				t0 + ce_gap;
		}
		if (reader) {
			for (p = 0; p < SG_MAX_PORTS; p++)
				if (lc->txq[p].n != 0)
					sg_txq_flush(&lc->txq[p], st);
			rte_rcu_qsbr_quiescent(lc->qsv, lc->lcore);
		}
		t1 = rte_rdtsc();
		if (n != 0)
			st->busy_cycles += t1 - t0;
		else
			st->idle_cycles += t1 - t0;
		t0 = t1;
	}
	if (reader) {
		for (p = 0; p < SG_MAX_PORTS; p++)
			sg_txq_flush(&lc->txq[p], st);
		rte_rcu_qsbr_thread_offline(lc->qsv, lc->lcore);
		rte_rcu_qsbr_thread_unregister(lc->qsv, lc->lcore);
	}
	return 0;
}
