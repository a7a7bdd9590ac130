/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the CFE's hand-off to the DFE rings (cfe_rx.c): ESP frames
 * received on a net_ring port with two RX queues, classified by SPI to one
 * DFE whose ring is smaller than what the two queues bring in one poll.
 * What the ring cannot take stays staged, in order, and leaves on the next
 * polls; nothing is received while it waits; nothing is dropped; packets of
 * an unknown SPI still go to the CE. And the NIC's checksum verdict on the
 * outer IPv4 header. Needs EAL (--no-huge).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "cfe.h"
#include "cfe_spd.h"
#include "cfe_table.h"
#include "sg_drop.h"
#include "sg_meta.h"
#include "sg_route.h"
#include "test_bytes.h"

#define SPI_KNOWN   0x1000
#define SPI_UNKNOWN 0x2000
#define DFE_RING    16      /* holds 15 */
#define SLOT        5
#define GEN         1

static struct rte_mempool *pool;
static const uint8_t SRC_MAC[6] = { 0x02, 0, 0, 0, 0, 0x09 };

struct rig {
	struct rte_ring *rxr[2], *txr, *dfe_ring, *punt_ring;
	uint16_t port;
	struct rte_ether_addr mac;
	struct cfe_table *table;
	struct cfe_spd *spd;
	struct sg_route *route;
	struct sg_txq txq[SG_MAX_PORTS];
	struct sg_lcore_stats *st;
	int stop;
	struct cfe *cfe;
};

/* Ethernet + IPv4 172.16.1.5 -> 172.16.2.5 + ESP (spi, seq) + 32 bytes */
static struct rte_mbuf *
esp_frame(const struct rte_ether_addr *dst, uint32_t spi, uint32_t seq)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	const uint32_t ip_len = 20 + 8 + 32;
	uint8_t *f, *ip;

	assert_non_null(m);
	f = (uint8_t *)rte_pktmbuf_append(m, 14 + ip_len);
	assert_non_null(f);
	memset(f, 0xa5, 14 + ip_len);
	memcpy(f, dst->addr_bytes, 6);
	memcpy(f + 6, SRC_MAC, 6);
	wr16(f + 12, 0x0800);
	ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)ip_len);
	ip[8] = 64;
	ip[9] = 50;
	memcpy(ip + 12, "\xac\x10\x01\x05", 4);
	memcpy(ip + 16, "\xac\x10\x02\x05", 4);
	wr16(ip + 10, csum16(ip, 20));
	wr32(ip + 20, spi);
	wr32(ip + 24, seq);
	return m;
}

/* The ESP sequence number of a frame built above. */
static uint32_t
seq_of(struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod_offset(m, const uint8_t *, 14 + 24);

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

/* n frames of spi on RX queue q, sequence numbers first.. */
static void
feed(struct rig *r, unsigned q, uint32_t spi, uint32_t first, unsigned n)
{
	struct rte_mbuf *m[64];
	unsigned i;

	assert_true(n <= RTE_DIM(m));
	for (i = 0; i < n; i++)
		m[i] = esp_frame(&r->mac, spi, first + i);
	assert_int_equal(rte_ring_enqueue_burst(r->rxr[q], (void **)m, n,
						NULL), n);
}

/* Take up to max packets from ring; check they are sequence numbers
 * first.., in order, each classified as want_cls (0: not checked); return
 * the count. */
static unsigned
take_n(struct rte_ring *ring, uint32_t first, uint64_t want_cls, unsigned max)
{
	struct rte_mbuf *m[64];
	unsigned n, i;

	n = rte_ring_dequeue_burst(ring, (void **)m, RTE_MIN(max, 64u), NULL);
	for (i = 0; i < n; i++) {
		assert_int_equal(seq_of(m[i]), first + i);
		if (want_cls != 0)
			assert_true(sg_meta(m[i])->cls == want_cls);
	}
	rte_pktmbuf_free_bulk(m, n);
	return n;
}

static unsigned
take(struct rte_ring *ring, uint32_t first, uint64_t want_cls)
{
	return take_n(ring, first, want_cls, 64);
}

static uint64_t
drops(const struct rig *r)
{
	uint64_t s = 0;
	unsigned i;

	for (i = 0; i < SG_DROP_MAX; i++)
		s += r->st->drop[i];
	return s;
}

static struct rig rig;

/* The port, rings and tables, once for every test (a net_ring device keeps
 * its name after it is closed). */
static void
rig_once(struct rig *r)
{
	struct rte_eth_conf ec;
	struct sg_route_conf rc = { .name = "cfe_rx_rt", .socket = 0,
				    .max_routes = 16, .max_neigh = 16 };
	struct cfe_class_key k;
	unsigned q;
	int port;

	memset(r, 0, sizeof(*r));
	r->rxr[0] = rte_ring_create("rx0", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	r->rxr[1] = rte_ring_create("rx1", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	r->txr = rte_ring_create("tx0", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	r->dfe_ring = rte_ring_create("dfe0", DFE_RING, 0, RING_F_SC_DEQ);
	r->punt_ring = rte_ring_create("punt", 64, 0, RING_F_SC_DEQ);
	assert_non_null(r->rxr[0]);
	assert_non_null(r->rxr[1]);
	assert_non_null(r->txr);
	assert_non_null(r->dfe_ring);
	assert_non_null(r->punt_ring);
	port = rte_eth_from_rings("net_cfe_rx", r->rxr, 2, &r->txr, 1, 0);
	assert_true(port >= 0);
	r->port = (uint16_t)port;
	memset(&ec, 0, sizeof(ec));
	assert_int_equal(rte_eth_dev_configure(r->port, 2, 1, &ec), 0);
	for (q = 0; q < 2; q++)
		assert_int_equal(rte_eth_rx_queue_setup(r->port, (uint16_t)q,
							64, 0, NULL, pool), 0);
	assert_int_equal(rte_eth_tx_queue_setup(r->port, 0, 64, 0, NULL), 0);
	assert_int_equal(rte_eth_dev_start(r->port), 0);
	assert_int_equal(rte_eth_macaddr_get(r->port, &r->mac), 0);

	r->table = cfe_table_create("cfe_rx_t", 64, 0, NULL);
	assert_non_null(r->table);
	memset(&k, 0, sizeof(k));
	k.spi = SPI_KNOWN;
	assert_int_equal(cfe_table_add(r->table, &k,
				       cfe_class_val(SLOT, GEN, 0, 0)), 0);
	r->spd = cfe_spd_create("cfe_rx_spd", NULL, 0, NULL, 0, 0);
	assert_non_null(r->spd);
	r->route = sg_route_create(&rc);
	assert_non_null(r->route);
	r->st = rte_zmalloc("st", sizeof(*r->st), RTE_CACHE_LINE_SIZE);
	assert_non_null(r->st);
}

/* A CFE on the rig, with fresh counters. */
static struct cfe *
cfe_up(struct rig *r)
{
	struct cfe_conf c;
	unsigned q;

	memset(r->st, 0, sizeof(*r->st));
	r->stop = 0;
	memset(&c, 0, sizeof(c));
	c.id = 0;
	c.socket = 0;
	c.n_rxq = 2;
	for (q = 0; q < 2; q++) {
		c.rxq[q].port = r->port;
		c.rxq[q].queue = (uint16_t)q;
		c.rxq[q].role = CFE_PORT_UNPROTECTED;
		c.rxq[q].mac = r->mac;
	}
	c.table = r->table;
	c.spd = &r->spd;
	c.route = &r->route;
	c.n_dfe = 1;
	c.dfe_ring[0] = r->dfe_ring;
	c.punt_ring = r->punt_ring;
	c.punt_rate = 1000000;
	c.punt_burst = 1000;
	c.rx_stop = &r->stop;
	c.txq = r->txq;
	c.stats = r->st;
	return cfe_create(&c);
}

static void
empty(struct rte_ring *ring)
{
	struct rte_mbuf *m[64];
	unsigned n;

	while ((n = rte_ring_dequeue_burst(ring, (void **)m, 64, NULL)) != 0)
		rte_pktmbuf_free_bulk(m, n);
}

static int
rig_up(void **state)
{
	rig.cfe = cfe_up(&rig);
	*state = &rig;
	return rig.cfe == NULL ? -1 : 0;
}

static int
rig_down(void **state)
{
	struct rig *r = *state;

	cfe_destroy(r->cfe);
	r->cfe = NULL;
	empty(r->rxr[0]);
	empty(r->rxr[1]);
	empty(r->dfe_ring);
	empty(r->punt_ring);
	return 0;
}

/*
 * Two queues of 15 packets each, a ring that holds 15: the first queue
 * fills the ring, the second queue's burst stays staged (it was dropped as
 * ring_full before). While it waits, the CFE receives nothing; once the
 * DFE has taken the first 15, the next poll hands over the staged ones,
 * in order, and receives again.
 */
static void
test_staged_not_dropped(void **state)
{
	struct rig *r = *state;
	uint64_t want = cfe_class_val(SLOT, GEN, 0, 0);

	feed(r, 0, SPI_KNOWN, 100, 15);
	feed(r, 1, SPI_KNOWN, 200, 15);
	assert_int_equal(cfe_poll(r->cfe), 30);
	assert_int_equal(rte_ring_count(r->dfe_ring), 15);
	assert_int_equal(cfe_staged(r->cfe), 15);
	assert_int_equal(drops(r), 0);

	/* more arrives; the ring is still full: nothing received, and the
	 * wait is counted */
	assert_int_equal(r->st->rx_waits, 0);
	feed(r, 0, SPI_KNOWN, 300, 4);
	assert_int_equal(cfe_poll(r->cfe), 0);
	assert_int_equal(rte_ring_count(r->rxr[0]), 4);
	assert_int_equal(cfe_staged(r->cfe), 15);
	assert_int_equal(r->st->rx_waits, 1);

	/* the DFE drains: the staged packets go first, then the new ones */
	assert_int_equal(take(r->dfe_ring, 100, want), 15);
	assert_int_equal(cfe_poll(r->cfe), 0);      /* hands over, no RX */
	assert_int_equal(cfe_staged(r->cfe), 0);
	assert_int_equal(r->st->rx_waits, 2);       /* the ring was full again */
	assert_int_equal(take(r->dfe_ring, 200, want), 15);
	assert_int_equal(cfe_poll(r->cfe), 4);
	assert_int_equal(take(r->dfe_ring, 300, want), 4);

	assert_int_equal(drops(r), 0);
	assert_int_equal(r->st->rx, 34);
	assert_int_equal(r->st->punted, 0);
}

/* A ring with part of its room taken: only that part leaves, the rest
 * stays staged in order; then a partial drain takes part of the rest. */
static void
test_partial(void **state)
{
	struct rig *r = *state;
	uint64_t want = cfe_class_val(SLOT, GEN, 0, 0);

	feed(r, 0, SPI_KNOWN, 1000, 10);
	feed(r, 1, SPI_KNOWN, 2000, 10);
	/* rx_room() lets 15 in per queue: 10 + 5 enqueued, 5 staged */
	assert_int_equal(cfe_poll(r->cfe), 20);
	assert_int_equal(cfe_staged(r->cfe), 5);
	{
		struct rte_mbuf *m[3];
		unsigned i;

		/* the DFE takes three of them */
		assert_int_equal(rte_ring_dequeue_burst(r->dfe_ring,
							(void **)m, 3, NULL),
				 3);
		for (i = 0; i < 3; i++)
			assert_int_equal(seq_of(m[i]), 1000 + i);
		rte_pktmbuf_free_bulk(m, 3);
	}
	assert_int_equal(cfe_poll(r->cfe), 0);
	assert_int_equal(cfe_staged(r->cfe), 2);
	assert_int_equal(take_n(r->dfe_ring, 1003, want, 7), 7);
	assert_int_equal(take_n(r->dfe_ring, 2000, want, 8), 8);
	assert_int_equal(cfe_poll(r->cfe), 0);
	assert_int_equal(cfe_staged(r->cfe), 0);
	assert_int_equal(take(r->dfe_ring, 2008, want), 2);
	assert_int_equal(drops(r), 0);
}

/* Unknown SPIs still go to the CE while the DFE ring is full, and packets
 * staged at a drain (rx_stop) still leave, but nothing new is received. */
static void
test_punt_and_drain(void **state)
{
	struct rig *r = *state;
	uint64_t want = cfe_class_val(SLOT, GEN, 0, 0);
	uint64_t rx0 = r->st->rx;

	feed(r, 0, SPI_KNOWN, 10, 15);
	feed(r, 1, SPI_KNOWN, 30, 3);
	feed(r, 1, SPI_UNKNOWN, 50, 2);
	assert_int_equal(cfe_poll(r->cfe), 20);
	assert_int_equal(cfe_staged(r->cfe), 3);
	assert_int_equal(take(r->punt_ring, 50, 0), 2);
	assert_int_equal(r->st->punted, 2);

	r->stop = 1;
	feed(r, 0, SPI_KNOWN, 60, 1);
	assert_int_equal(take(r->dfe_ring, 10, want), 15);
	assert_int_equal(cfe_poll(r->cfe), 0);
	assert_int_equal(cfe_staged(r->cfe), 0);
	assert_int_equal(take(r->dfe_ring, 30, want), 3);
	assert_int_equal(cfe_poll(r->cfe), 0);
	assert_int_equal(rte_ring_count(r->rxr[0]), 1);
	assert_int_equal(r->st->rx - rx0, 20);
	assert_int_equal(drops(r), 0);
	r->stop = 0;
	assert_int_equal(cfe_poll(r->cfe), 1);
	assert_int_equal(take(r->dfe_ring, 60, want), 1);
}

/* cfe_destroy() frees what is still staged (a drain that gave up). */
static void
test_destroy_staged(void **state)
{
	struct rig *r = *state;
	unsigned avail = rte_mempool_avail_count(pool);

	feed(r, 0, SPI_KNOWN, 1, 15);
	feed(r, 1, SPI_KNOWN, 16, 15);
	assert_int_equal(cfe_poll(r->cfe), 30);
	assert_int_equal(cfe_staged(r->cfe), 15);
	assert_int_equal(take(r->dfe_ring, 1, 0), 15);
	cfe_destroy(r->cfe);
	r->cfe = NULL;
	assert_int_equal(rte_mempool_avail_count(pool), avail);
}

/*
 * The NIC's verdict on the outer IPv4 checksum (mbuf ol_flags, kept by
 * net_ring): GOOD and NONE are believed without a software sum, BAD drops
 * the frame as malformed, no verdict sums in software.
 */
static void
test_hw_csum(void **state)
{
	static const struct {
		uint64_t flags;
		int corrupt;     /* a wrong sum in the header */
		int pass;
	} c[] = {
		{ 0, 0, 1 },
		{ 0, 1, 0 },
		{ RTE_MBUF_F_RX_IP_CKSUM_GOOD, 1, 1 },
		{ RTE_MBUF_F_RX_IP_CKSUM_NONE, 1, 1 },
		{ RTE_MBUF_F_RX_IP_CKSUM_BAD, 0, 0 },
		{ RTE_MBUF_F_RX_IP_CKSUM_GOOD, 0, 1 },
	};
	struct rig *r = *state;
	uint64_t want = cfe_class_val(SLOT, GEN, 0, 0);
	unsigned i;

	for (i = 0; i < RTE_DIM(c); i++) {
		struct rte_mbuf *m = esp_frame(&r->mac, SPI_KNOWN, 500 + i);
		uint64_t bad0 = r->st->drop[SG_DROP_MALFORMED];

		if (c[i].corrupt)
			rte_pktmbuf_mtod(m, uint8_t *)[14 + 10] ^= 0x5a;
		m->ol_flags |= c[i].flags;
		assert_int_equal(rte_ring_enqueue(r->rxr[0], m), 0);
		assert_int_equal(cfe_poll(r->cfe), 1);
		if (c[i].pass) {
			assert_int_equal(take(r->dfe_ring, 500 + i, want), 1);
			assert_int_equal(r->st->drop[SG_DROP_MALFORMED], bad0);
		} else {
			assert_int_equal(rte_ring_count(r->dfe_ring), 0);
			assert_int_equal(r->st->drop[SG_DROP_MALFORMED],
					 bad0 + 1);
		}
	}
}

static int
eal_setup(void **state)
{
	char *argv[] = { "test_cfe_rx", "--no-huge", "-m", "256", "--no-pci",
			 "--no-shconf", "--log-level=error",
			 "--file-prefix=test_cfe_rx", "-l", "0" };

	(void)state;
	if (rte_eal_init(RTE_DIM(argv), argv) < 0)
		return -1;
	pool = rte_pktmbuf_pool_create("cfe_rx_pool", 1023, 0,
				       SG_MBUF_PRIV_SIZE,
				       RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return -1;
	rig_once(&rig);
	return 0;
}

static int
eal_teardown(void **state)
{
	(void)state;
	rte_eth_dev_stop(rig.port);
	rte_eth_dev_close(rig.port);
	sg_route_destroy(rig.route);
	cfe_spd_destroy(rig.spd);
	cfe_table_destroy(rig.table);
	rte_free(rig.st);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_staged_not_dropped,
						rig_up, rig_down),
		cmocka_unit_test_setup_teardown(test_partial, rig_up,
						rig_down),
		cmocka_unit_test_setup_teardown(test_punt_and_drain, rig_up,
						rig_down),
		cmocka_unit_test_setup_teardown(test_destroy_staged, rig_up,
						rig_down),
		cmocka_unit_test_setup_teardown(test_hw_csum, rig_up,
						rig_down),
	};

	return cmocka_run_group_tests(tests, eal_setup, eal_teardown);
}
