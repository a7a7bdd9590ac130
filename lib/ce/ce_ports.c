/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "ce_priv.h"
#include "sg_meta.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define CRYPTO_DESC 2048
/* crypto sessions exist for installed SAs only (lazy install); this bounds
 * their memory (docs/configuration.md, sa_capacity) */
#define CE_MAX_SESSIONS (1u << 18)

/* lcores that transmit: every CFE (bypass) and DFE lcore, each once */
static unsigned
tx_lcores(const struct ce_deploy *dep, unsigned out[])
{
	unsigned i, j, n = 0;

	for (i = 0; i < dep->n_cfe + dep->n_dfe; i++) {
		unsigned l = i < dep->n_cfe ? dep->cfe_lcores[i] :
			dep->dfe_lcores[i - dep->n_cfe];

		for (j = 0; j < n && out[j] != l; j++)
			;
		if (j == n)
			out[n++] = l;
	}
	return n;
}

/* A device named in the deployment but not in the EAL arguments is probed
 * here: a PCI address or a virtual device name without arguments. */
static int
find_port(const char *dev, uint16_t *pid)
{
	if (rte_eth_dev_get_port_by_name(dev, pid) == 0)
		return 0;
	if (rte_dev_probe(dev) != 0)
		return -ENODEV;
	return rte_eth_dev_get_port_by_name(dev, pid) == 0 ? 0 : -ENODEV;
}

static int
port_init(struct ce *ce, unsigned i, unsigned ntx_want)
{
	const struct ce_port_cfg *pc = &ce->dep->ports[i];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t pid, nrx, ntx, q, nrxd = RX_DESC, ntxd = TX_DESC;
	int rc, socket;

	if (find_port(pc->device, &pid) != 0) {
		CE_LOG(ERR, "port %s: device %s not found", pc->name, pc->device);
		return -ENODEV;
	}
	if (pid >= SG_MAX_PORTS) {
		CE_LOG(ERR, "port %s: port id %u over the limit %u", pc->name,
		       pid, SG_MAX_PORTS);
		return -ENOSPC;
	}
	rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0)
		return rc;
	socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = 0;
	nrx = RTE_MIN(ce->dep->n_cfe, info.max_rx_queues);
	ntx = RTE_MIN(ntx_want, info.max_tx_queues);
	memset(&conf, 0, sizeof(conf));
	if (nrx > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		/* ESP by SPI where the NIC can: the SAs between two
		 * gateways (one address pair) then spread over the queues,
		 * each SA's packets on one (lcores.sa_placement = "rx") */
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP |
			RTE_ETH_RSS_ESP) & info.flow_type_rss_offloads;
	}
	/* the NIC checks the outer IPv4 header checksum where it can; the
	 * CFE then skips its own sum (cfe_rx.c, hw_csum()) */
	conf.rxmode.offloads = info.rx_offload_capa &
		RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (pc->mtu != 0)
		conf.rxmode.mtu = pc->mtu;
	rc = rte_eth_dev_configure(pid, nrx, ntx, &conf);
	if (rc != 0) {
		CE_LOG(ERR, "port %s: configure: %s", pc->name, strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd);
	for (q = 0; q < nrx; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, nrxd, socket, NULL, ce->pool);
		if (rc != 0)
			return rc;
	}
	for (q = 0; q < ntx; q++) {
		rc = rte_eth_tx_queue_setup(pid, q, ntxd, socket, NULL);
		if (rc != 0)
			return rc;
	}
	if (pc->has_mac) {
		memcpy(ce->port_mac[i].addr_bytes, pc->mac, 6);
		/* virtual devices may refuse; the address is ours anyway */
		rte_eth_dev_default_mac_addr_set(pid, &ce->port_mac[i]);
	} else {
		rte_eth_macaddr_get(pid, &ce->port_mac[i]);
	}
	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		CE_LOG(ERR, "port %s: start: %s", pc->name, strerror(-rc));
		return rc;
	}
	ce->port_id[i] = pid;
	ce->n_txq[i] = ntx;
	ce->n_rxq[i] = nrx;
	CE_LOG(INFO, "port %s (%s): id %u, %u RX / %u TX queues, %s",
	       pc->name, pc->device, pid, nrx, ntx,
	       pc->role == CE_PORT_PROTECTED ? "protected" : "unprotected");
	return 0;
}

int
ce_ports_init(struct ce *ce)
{
	unsigned txl[RTE_MAX_LCORE], ntx, i;
	int rc;

	ce->pool = rte_pktmbuf_pool_create("sg_mbuf", ce->dep->mbufs, 256,
					   SG_MBUF_PRIV_SIZE,
					   RTE_MBUF_DEFAULT_BUF_SIZE,
					   rte_socket_id());
	if (ce->pool == NULL) {
		CE_LOG(ERR, "mbuf pool of %u: %s", ce->dep->mbufs,
		       rte_strerror(rte_errno));
		return -ENOMEM;
	}
	ntx = tx_lcores(ce->dep, txl);
	for (i = 0; i < ce->dep->n_ports; i++) {
		rc = port_init(ce, i, ntx);
		if (rc != 0)
			return rc;
		ce->n_ports++;
	}
	return 0;
}

void
ce_ports_fini(struct ce *ce)
{
	unsigned i;

	for (i = 0; i < ce->n_ports; i++) {
		rte_eth_dev_stop(ce->port_id[i]);
		rte_eth_dev_close(ce->port_id[i]);
	}
	ce->n_ports = 0;
	rte_mempool_free(ce->pool);
	ce->pool = NULL;
}

static int
cdev_find(const char *name, uint8_t *id)
{
	int d = rte_cryptodev_get_dev_id(name);

	if (d < 0) {
		if (rte_dev_probe(name) != 0)
			return -ENODEV;
		d = rte_cryptodev_get_dev_id(name);
		if (d < 0)
			return -ENODEV;
	}
	*id = (uint8_t)d;
	return 0;
}

/*
 * Crypto devices: DFE i uses device i % n, on its own queue pair. CPU
 * crypto needs a device that has it (aesni_mb); lookaside works with any.
 */
int
ce_crypto_init(struct ce *ce)
{
	const struct ce_deploy *dep = ce->dep;
	unsigned i, nsess = RTE_MIN(ce->cap_sa, CE_MAX_SESSIONS) + 64;
	int rc;

	ce->n_cdev = dep->n_cryptodevs;
	for (i = 0; i < ce->n_cdev; i++) {
		struct rte_cryptodev_info info;
		struct rte_cryptodev_config cc = { 0 };
		struct rte_cryptodev_qp_conf qc = { 0 };
		unsigned nqp = 0, q, k;
		char name[RTE_MEMPOOL_NAMESIZE];

		if (cdev_find(dep->cryptodevs[i], &ce->cdev[i]) != 0) {
			CE_LOG(ERR, "crypto device %s not found",
			       dep->cryptodevs[i]);
			return -ENODEV;
		}
		rte_cryptodev_info_get(ce->cdev[i], &info);
		if (dep->crypto_mode == CE_CRYPTO_CPU &&
		    !(info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO)) {
			CE_LOG(ERR, "crypto device %s has no CPU crypto: use "
			       "crypto.mode = \"lookaside\"", dep->cryptodevs[i]);
			return -ENOTSUP;
		}
		for (k = 0; k < dep->n_dfe; k++)
			if (k % ce->n_cdev == i)
				nqp++;
		if (nqp == 0)
			nqp = 1;
		if (nqp > info.max_nb_queue_pairs) {
			CE_LOG(ERR, "crypto device %s: %u DFEs need %u queue "
			       "pairs, it has %u", dep->cryptodevs[i], nqp, nqp,
			       info.max_nb_queue_pairs);
			return -ENOSPC;
		}
		snprintf(name, sizeof(name), "sg_sess%u", i);
		ce->sess_pool[i] = rte_cryptodev_sym_session_pool_create(name,
			nsess, rte_cryptodev_sym_get_private_session_size(
				ce->cdev[i]), 0, 0, rte_socket_id());
		if (ce->sess_pool[i] == NULL)
			return -ENOMEM;
		cc.socket_id = rte_socket_id();
		cc.nb_queue_pairs = nqp;
		cc.ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO |
			RTE_CRYPTODEV_FF_SECURITY;
		rc = rte_cryptodev_configure(ce->cdev[i], &cc);
		if (rc != 0)
			return rc;
		qc.nb_descriptors = CRYPTO_DESC;
		qc.mp_session = ce->sess_pool[i];
		for (q = 0; q < nqp; q++) {
			rc = rte_cryptodev_queue_pair_setup(ce->cdev[i], q, &qc,
							    rte_socket_id());
			if (rc != 0)
				return rc;
		}
		rc = rte_cryptodev_start(ce->cdev[i]);
		if (rc != 0)
			return rc;
	}
	/* lookaside mode, and CBC outbound in any mode (dfe_outbound.c) */
	ce->cop_pool = rte_crypto_op_pool_create("sg_cop",
		RTE_CRYPTO_OP_TYPE_SYMMETRIC, 16384, 128, DFE_COP_PRIV,
		rte_socket_id());
	if (ce->cop_pool == NULL)
		return -ENOMEM;
	return 0;
}

void
ce_crypto_fini(struct ce *ce)
{
	unsigned i;

	for (i = 0; i < ce->n_cdev; i++) {
		rte_cryptodev_stop(ce->cdev[i]);
		rte_mempool_free(ce->sess_pool[i]);
	}
	rte_mempool_free(ce->cop_pool);
}
