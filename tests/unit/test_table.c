/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the classification table (cfe_table on rte_hash): argument
 * checks, add/replace/delete/lookup, bulk lookup, key families, capacity,
 * RCU reclamation of deleted slots, and one reader lcore against the writer.
 * Needs EAL (--no-huge, two lcores for the concurrent case).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "cfe_table.h"

static struct cfe_class_key
key_spi(uint32_t spi)
{
	struct cfe_class_key k;

	memset(&k, 0, sizeof(k));
	k.spi = spi;
	return k;
}

static struct cfe_class_key
key_v4(uint32_t spi, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct cfe_class_key k = key_spi(spi);

	k.family = 4;
	k.dst[0] = a;
	k.dst[1] = b;
	k.dst[2] = c;
	k.dst[3] = d;
	return k;
}

static struct cfe_class_key
key_v6(uint32_t spi, uint8_t last)
{
	struct cfe_class_key k = key_spi(spi);

	k.family = 6;
	k.dst[0] = 0x20;
	k.dst[1] = 0x01;
	k.dst[2] = 0x0d;
	k.dst[3] = 0xb8;
	k.dst[15] = last;
	return k;
}

/* A qsbr variable for max_threads readers (freed with rte_free). */
static struct rte_rcu_qsbr *
qsv_new(uint32_t max_threads)
{
	struct rte_rcu_qsbr *v;

	v = rte_zmalloc(NULL, rte_rcu_qsbr_get_memsize(max_threads),
			RTE_CACHE_LINE_SIZE);
	assert_non_null(v);
	assert_int_equal(rte_rcu_qsbr_init(v, max_threads), 0);
	return v;
}

/* ---------------------------------------------------------------------- */

static void
test_invalid_args(void **state)
{
	struct cfe_class_key k = key_spi(1), bad;
	const struct cfe_class_key *kp[1] = { &k };
	struct rte_rcu_qsbr *v = qsv_new(1);
	struct cfe_table *t, *t2;
	uint64_t val, vals[1];

	(void)state;
	rte_errno = 0;
	assert_null(cfe_table_create(NULL, 64, SOCKET_ID_ANY, NULL));
	assert_int_equal(rte_errno, EINVAL);
	rte_errno = 0;
	assert_null(cfe_table_create("t_inval", 0, SOCKET_ID_ANY, NULL));
	assert_int_equal(rte_errno, EINVAL);
	rte_errno = 0;
	assert_null(cfe_table_create("t_inval", (1u << 30) + 1, SOCKET_ID_ANY,
				     NULL));
	assert_int_equal(rte_errno, EINVAL);
	rte_errno = 0;
	assert_null(cfe_table_create("t_name_of_20_chars__", 64, SOCKET_ID_ANY,
				     v));
	assert_int_equal(rte_errno, ENAMETOOLONG);

	/* the longest names fit every DPDK object behind the table, and two
	 * of them differing in the last character do not collide */
	t = cfe_table_create("t_name_of_19_chars1", 64, SOCKET_ID_ANY, v);
	assert_non_null(t);
	t2 = cfe_table_create("t_name_of_19_chars2", 64, SOCKET_ID_ANY, v);
	assert_non_null(t2);
	cfe_table_destroy(t2);
	rte_errno = 0;
	assert_null(cfe_table_create("t_name_of_19_chars1", 64, SOCKET_ID_ANY,
				     NULL));
	assert_int_equal(rte_errno, EEXIST);

	assert_int_equal(cfe_table_add(NULL, &k, 1), -EINVAL);
	assert_int_equal(cfe_table_add(t, NULL, 1), -EINVAL);
	assert_int_equal(cfe_table_del(NULL, &k), -EINVAL);
	assert_int_equal(cfe_table_del(t, NULL), -EINVAL);
	assert_int_equal(cfe_table_lookup(NULL, &k, &val), -EINVAL);
	assert_int_equal(cfe_table_lookup(t, NULL, &val), -EINVAL);
	assert_int_equal(cfe_table_lookup(t, &k, NULL), -EINVAL);
	assert_int_equal(cfe_table_count(NULL), 0);
	cfe_table_destroy(NULL);

	/* keys with garbage in unused bytes would never match the data path */
	bad = k;
	bad.pad[1] = 1;
	assert_int_equal(cfe_table_add(t, &bad, 1), -EINVAL);
	bad = k;
	bad.dst[15] = 1;  /* SPI-only key with a destination */
	assert_int_equal(cfe_table_add(t, &bad, 1), -EINVAL);
	bad = key_v4(1, 10, 0, 0, 1);
	bad.dst[4] = 1;   /* IPv4 key with bytes past the address */
	assert_int_equal(cfe_table_add(t, &bad, 1), -EINVAL);
	bad = key_v6(1, 1);
	bad.family = 5;
	assert_int_equal(cfe_table_add(t, &bad, 1), -EINVAL);
	assert_int_equal(cfe_table_count(t), 0);

	/* bulk sizes outside 1..64 find nothing */
	assert_int_equal(cfe_table_add(t, &k, 7), 0);
	assert_int_equal(cfe_table_lookup_bulk(t, kp, 0, vals), 0);
	assert_int_equal(cfe_table_lookup_bulk(t, kp, 65, vals), 0);
	assert_int_equal(cfe_table_lookup_bulk(t, kp, 1, vals), 1);
	assert_int_equal(vals[0], 7);

	cfe_table_destroy(t);
	rte_free(v);
}

static void
test_add_replace_delete(void **state)
{
	struct cfe_table *t = cfe_table_create("t_basic", 64, SOCKET_ID_ANY,
					       NULL);
	struct cfe_class_key k = key_spi(0x1001), k2 = key_spi(0x1002);
	uint64_t val, v1 = cfe_class_val(5, 1, 2, 0);

	(void)state;
	assert_non_null(t);
	assert_int_equal(cfe_table_lookup(t, &k, &val), -ENOENT);
	assert_int_equal(cfe_table_add(t, &k, v1), 0);
	assert_int_equal(cfe_table_count(t), 1);
	assert_int_equal(cfe_table_lookup(t, &k, &val), 0);
	assert_int_equal(val, v1);
	assert_int_equal(cfe_class_slot(val), 5);
	assert_int_equal(cfe_class_dfe(val), 2);

	/* replace: same key, new value, no new entry */
	assert_int_equal(cfe_table_add(t, &k, cfe_class_val(6, 2, 3, 0)), 0);
	assert_int_equal(cfe_table_count(t), 1);
	assert_int_equal(cfe_table_lookup(t, &k, &val), 0);
	assert_int_equal(cfe_class_gen(val), 2);

	/* the value travels in the data pointer: 0 and all ones both work */
	assert_int_equal(cfe_table_add(t, &k2, 0), 0);
	assert_int_equal(cfe_table_lookup(t, &k2, &val), 0);
	assert_int_equal(val, 0);
	assert_int_equal(cfe_table_add(t, &k2, UINT64_MAX), 0);
	assert_int_equal(cfe_table_lookup(t, &k2, &val), 0);
	assert_true(val == UINT64_MAX);
	assert_int_equal(cfe_table_count(t), 2);

	assert_int_equal(cfe_table_del(t, &k), 0);
	assert_int_equal(cfe_table_count(t), 1);
	assert_int_equal(cfe_table_lookup(t, &k, &val), -ENOENT);
	assert_int_equal(cfe_table_del(t, &k), -ENOENT);
	assert_int_equal(cfe_table_lookup(t, &k2, &val), 0);
	assert_int_equal(cfe_table_del(t, &k2), 0);
	assert_int_equal(cfe_table_count(t), 0);
	cfe_table_destroy(t);
}

/* SPI-only, SPI + IPv4 and SPI + IPv6 keys of one SPI are distinct. */
static void
test_key_families(void **state)
{
	struct cfe_table *t = cfe_table_create("t_family", 64, SOCKET_ID_ANY,
					       NULL);
	struct cfe_class_key k[6] = {
		key_spi(0x4242),
		key_v4(0x4242, 172, 16, 2, 5),
		key_v4(0x4242, 172, 16, 2, 6),
		key_v6(0x4242, 5),
		key_v6(0x4242, 6),
		key_spi(0x4243),
	};
	struct cfe_class_key v4_as_v6 = key_spi(0x4242);
	uint64_t val;
	unsigned int i;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 6; i++)
		assert_int_equal(cfe_table_add(t, &k[i], 100 + i), 0);
	assert_int_equal(cfe_table_count(t), 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(cfe_table_lookup(t, &k[i], &val), 0);
		assert_int_equal(val, 100 + i);
	}
	/* the same 4 bytes under family 6 are another key */
	v4_as_v6.family = 6;
	memcpy(v4_as_v6.dst, k[1].dst, 4);
	assert_int_equal(cfe_table_lookup(t, &v4_as_v6, &val), -ENOENT);

	/* deleting the SPI-only key leaves the SPI + dst keys */
	assert_int_equal(cfe_table_del(t, &k[0]), 0);
	assert_int_equal(cfe_table_lookup(t, &k[1], &val), 0);
	assert_int_equal(cfe_table_lookup(t, &k[3], &val), 0);
	assert_int_equal(cfe_table_lookup(t, &k[0], &val), -ENOENT);
	cfe_table_destroy(t);
}

/* 64 keys in one call, odd ones present; then shorter bursts. */
static void
test_lookup_bulk(void **state)
{
	struct cfe_table *t = cfe_table_create("t_bulk", 256, SOCKET_ID_ANY,
					       NULL);
	struct cfe_class_key k[64];
	const struct cfe_class_key *kp[64];
	uint64_t vals[64], hits, want = 0;
	unsigned int i;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 64; i++) {
		k[i] = (i % 3 == 0) ? key_v4(0x100 + i, 10, 0, 0, (uint8_t)i) :
			(i % 3 == 1) ? key_v6(0x100 + i, (uint8_t)i) :
			key_spi(0x100 + i);
		kp[i] = &k[i];
		if (i & 1) {
			assert_int_equal(cfe_table_add(t, &k[i],
				cfe_class_val(i, (uint16_t)i, i & 7, 0)), 0);
			want |= 1ULL << i;
		}
	}
	memset(vals, 0xee, sizeof(vals));
	hits = cfe_table_lookup_bulk(t, kp, 64, vals);
	assert_true(hits == want);
	for (i = 1; i < 64; i += 2) {
		assert_int_equal(cfe_class_slot(vals[i]), i);
		assert_int_equal(cfe_class_gen(vals[i]), i);
	}
	/* all misses, all hits, and a short burst from an offset */
	for (i = 0; i < 64; i++)
		kp[i] = &k[(i * 2) % 64];
	assert_true(cfe_table_lookup_bulk(t, kp, 32, vals) == 0);
	for (i = 0; i < 32; i++)
		kp[i] = &k[i * 2 + 1];
	assert_true(cfe_table_lookup_bulk(t, kp, 32, vals) == 0xffffffffULL);
	assert_int_equal(cfe_class_slot(vals[31]), 63);
	for (i = 0; i < 17; i++)
		kp[i] = &k[i + 10];
	hits = cfe_table_lookup_bulk(t, kp, 17, vals);
	assert_true(hits == ((want >> 10) & 0x1ffff));
	assert_int_equal(cfe_class_slot(vals[1]), 11);
	cfe_table_destroy(t);
}

/*
 * Capacity is exact (extendable buckets): 'entries' keys fit, one more is
 * -ENOSPC, a replace still works, and without RCU a delete frees the slot at
 * once.
 */
static void
test_capacity(void **state)
{
	static const uint32_t sizes[] = { 100, 1024, 3 };
	struct cfe_class_key k, extra = key_spi(0xfffff);
	struct cfe_table *t;
	uint32_t s, i, n;
	uint64_t val;

	(void)state;
	for (s = 0; s < 3; s++) {
		n = sizes[s] < 8 ? 8 : sizes[s];  /* at least 8 allocated */
		t = cfe_table_create("t_cap", sizes[s], SOCKET_ID_ANY, NULL);
		assert_non_null(t);
		for (i = 0; i < n; i++) {
			k = (i & 1) ? key_v6(i, (uint8_t)i) : key_spi(i);
			assert_int_equal(cfe_table_add(t, &k, i), 0);
		}
		assert_int_equal(cfe_table_count(t), n);
		assert_int_equal(cfe_table_add(t, &extra, 1), -ENOSPC);
		k = key_spi(0);
		assert_int_equal(cfe_table_add(t, &k, 77), 0);  /* replace */
		assert_int_equal(cfe_table_lookup(t, &k, &val), 0);
		assert_int_equal(val, 77);
		assert_int_equal(cfe_table_del(t, &k), 0);
		assert_int_equal(cfe_table_add(t, &extra, 1), 0);
		assert_int_equal(cfe_table_add(t, &k, 1), -ENOSPC);
		for (i = 1; i < n; i++) {
			k = (i & 1) ? key_v6(i, (uint8_t)i) : key_spi(i);
			assert_int_equal(cfe_table_lookup(t, &k, &val), 0);
			assert_int_equal(val, i);
		}
		cfe_table_destroy(t);
	}
}

/*
 * What rte_hash's DQ mode (22.11) guarantees: a deleted key's slot goes to
 * the defer queue and returns to the free list only once every online
 * reader has reported a quiescent state after the delete. Reclamation is
 * tried on delete and, when no free slot is left, on add. So in a full
 * table, an add after a delete fails with -ENOSPC until the reader passes
 * a quiescent state (or goes offline), then succeeds.
 */
static void
test_rcu_reclaim(void **state)
{
	struct rte_rcu_qsbr *v = qsv_new(1);
	struct cfe_table *t;
	struct cfe_class_key k, a = key_spi(0), b = key_spi(0x777),
		c = key_spi(1), d = key_spi(0x778);
	uint64_t val;
	uint32_t i;

	(void)state;
	/* this thread plays the reader: thread id 0, online */
	assert_int_equal(rte_rcu_qsbr_thread_register(v, 0), 0);
	rte_rcu_qsbr_thread_online(v, 0);

	t = cfe_table_create("t_rcu", 16, SOCKET_ID_ANY, v);
	assert_non_null(t);
	for (i = 0; i < 16; i++) {
		k = key_spi(i);
		assert_int_equal(cfe_table_add(t, &k, i), 0);
	}
	assert_int_equal(cfe_table_add(t, &b, 1), -ENOSPC);

	/* delete: gone for lookups at once, but the slot is not reusable */
	assert_int_equal(cfe_table_del(t, &a), 0);
	assert_int_equal(cfe_table_lookup(t, &a, &val), -ENOENT);
	assert_int_equal(cfe_table_count(t), 15);
	assert_int_equal(cfe_table_add(t, &b, 1), -ENOSPC);
	assert_int_equal(cfe_table_add(t, &b, 1), -ENOSPC);
	/* a replace needs no slot */
	k = key_spi(5);
	assert_int_equal(cfe_table_add(t, &k, 55), 0);

	/* the reader passes a quiescent state: the slot comes back */
	rte_rcu_qsbr_quiescent(v, 0);
	assert_int_equal(cfe_table_add(t, &b, 1), 0);
	assert_int_equal(cfe_table_count(t), 16);
	assert_int_equal(cfe_table_add(t, &a, 1), -ENOSPC);

	/* a quiescent report before the delete does not count */
	rte_rcu_qsbr_quiescent(v, 0);
	assert_int_equal(cfe_table_del(t, &c), 0);
	assert_int_equal(cfe_table_add(t, &d, 1), -ENOSPC);

	/* an offline reader holds nothing back */
	rte_rcu_qsbr_thread_offline(v, 0);
	assert_int_equal(cfe_table_add(t, &d, 1), 0);
	assert_int_equal(cfe_table_lookup(t, &d, &val), 0);
	assert_int_equal(cfe_table_count(t), 16);

	/* several pending deletes are released by one quiescent report */
	rte_rcu_qsbr_thread_online(v, 0);
	for (i = 2; i < 6; i++) {
		k = key_spi(i);
		assert_int_equal(cfe_table_del(t, &k), 0);
	}
	k = key_spi(0x1000);
	assert_int_equal(cfe_table_add(t, &k, 1), -ENOSPC);
	rte_rcu_qsbr_quiescent(v, 0);
	for (i = 0; i < 4; i++) {
		k = key_spi(0x1000 + i);
		assert_int_equal(cfe_table_add(t, &k, i), 0);
	}
	k = key_spi(0x1004);
	assert_int_equal(cfe_table_add(t, &k, 1), -ENOSPC);

	rte_rcu_qsbr_thread_offline(v, 0);
	rte_rcu_qsbr_thread_unregister(v, 0);
	cfe_table_destroy(t);
	rte_free(v);
}

/* ---------------------------------------------------------------------- */
/* One reader lcore, bulk lookups in a loop, against the writer.          */

#define N_STABLE 32
#define N_CHURN  256
#define W_OPS    100000

struct rd_ctx {
	struct cfe_table *t;
	struct rte_rcu_qsbr *v;
	volatile int stop;
	uint64_t loops, wrong, churn_hits;
};

static struct cfe_class_key
stable_key(uint32_t i)
{
	return (i % 3 == 0) ? key_spi(0x10000 + i) :
		(i % 3 == 1) ? key_v4(0x10000 + i, 10, 1, 0, (uint8_t)i) :
		key_v6(0x10000 + i, (uint8_t)i);
}

/* The two values the writer alternates for a stable key. */
static uint64_t
stable_val(uint32_t i, uint32_t which)
{
	return cfe_class_val(i, (uint16_t)(which + 1), (uint8_t)i, 0);
}

static struct cfe_class_key
churn_key(uint32_t j)
{
	return (j & 1) ? key_v6(0x20000 + j, (uint8_t)j) : key_spi(0x20000 + j);
}

static uint64_t
churn_val(uint32_t j)
{
	return cfe_class_val(0x20000 + j, (uint16_t)(j * 7), (uint8_t)j, 1);
}

static int
reader(void *arg)
{
	struct rd_ctx *c = arg;
	unsigned int id = rte_lcore_id();
	struct cfe_class_key k[64];
	const struct cfe_class_key *kp[64];
	uint64_t vals[64], hits;
	uint32_t i, j, base = 0;

	rte_rcu_qsbr_thread_register(c->v, id);
	rte_rcu_qsbr_thread_online(c->v, id);
	for (i = 0; i < N_STABLE; i++)
		k[i] = stable_key(i);
	for (i = 0; i < 64; i++)
		kp[i] = &k[i];
	while (!c->stop) {
		for (i = N_STABLE; i < 64; i++)
			k[i] = churn_key((base + i) % N_CHURN);
		hits = cfe_table_lookup_bulk(c->t, kp, 64, vals);
		for (i = 0; i < N_STABLE; i++)
			if (!(hits >> i & 1) || (vals[i] != stable_val(i, 0) &&
						 vals[i] != stable_val(i, 1)))
				c->wrong++;
		for (i = N_STABLE; i < 64; i++) {
			if (!(hits >> i & 1))
				continue;
			j = (base + i) % N_CHURN;
			c->churn_hits++;
			if (vals[i] != churn_val(j))
				c->wrong++;
		}
		base += 7;
		c->loops++;
		rte_rcu_qsbr_quiescent(c->v, id);
	}
	rte_rcu_qsbr_thread_offline(c->v, id);
	rte_rcu_qsbr_thread_unregister(c->v, id);
	return 0;
}

static void
test_concurrent(void **state)
{
	struct rd_ctx c = { 0 };
	struct cfe_class_key k;
	unsigned int rd_lcore;
	uint8_t present[N_CHURN] = { 0 };
	uint32_t n, i, j, live = N_STABLE, enospc = 0;
	uint64_t val;
	int ret;

	(void)state;
	rd_lcore = rte_get_next_lcore(-1, 1, 0);
	if (rd_lcore >= RTE_MAX_LCORE)
		skip();  /* needs -l 0-1 */
	c.v = qsv_new(RTE_MAX_LCORE);
	/* room for everything plus a few grace periods' worth of deletes */
	c.t = cfe_table_create("t_conc", N_STABLE + N_CHURN + 64,
			       SOCKET_ID_ANY, c.v);
	assert_non_null(c.t);
	for (i = 0; i < N_STABLE; i++) {
		k = stable_key(i);
		assert_int_equal(cfe_table_add(c.t, &k, stable_val(i, 0)), 0);
	}
	assert_int_equal(rte_eal_remote_launch(reader, &c, rd_lcore), 0);

	for (n = 0; n < W_OPS; n++) {
		j = (n * 37) % N_CHURN;
		k = churn_key(j);
		if (present[j]) {
			assert_int_equal(cfe_table_del(c.t, &k), 0);
			present[j] = 0;
			live--;
		} else {
			/* slots of deleted keys wait for the reader */
			while ((ret = cfe_table_add(c.t, &k, churn_val(j))) ==
			       -ENOSPC) {
				enospc++;
				rte_pause();
			}
			assert_int_equal(ret, 0);
			present[j] = 1;
			live++;
		}
		if (n % 16 == 0) {  /* replace a stable value in place */
			i = (n / 16) % N_STABLE;
			k = stable_key(i);
			assert_int_equal(cfe_table_add(c.t, &k,
					 stable_val(i, (n / 16 / N_STABLE) & 1)),
					 0);
		}
	}
	c.stop = 1;
	assert_int_equal(rte_eal_wait_lcore(rd_lcore), 0);

	print_message("concurrent: %u writer ops, %" PRIu64 " reader bursts, "
		      "%" PRIu64 " churn hits, %u ENOSPC retries\n", W_OPS,
		      c.loops, c.churn_hits, enospc);
	assert_int_equal(c.wrong, 0);
	assert_true(c.loops > 0);
	assert_int_equal(cfe_table_count(c.t), live);
	for (j = 0; j < N_CHURN; j++) {
		k = churn_key(j);
		assert_int_equal(cfe_table_lookup(c.t, &k, &val),
				 present[j] ? 0 : -ENOENT);
	}
	cfe_table_destroy(c.t);
	rte_free(c.v);
}

/* ---------------------------------------------------------------------- */

/*
 * Two lcores for the concurrent case, on the first two CPUs this process
 * may run on (not necessarily 0 and 1 in a container); both on one CPU when
 * there is only one.
 */
static int
eal_setup(void **state)
{
	char lcores[64];
	char *argv[] = { "test_table", "--lcores", lcores, "--no-huge", "-m",
			 "256", "--no-pci", "--no-shconf", "--log-level=error",
			 "--file-prefix=test_table" };
	int cpu[2] = { -1, -1 }, n = 0, i;
	cpu_set_t set;

	(void)state;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[n++] = i;
	if (n == 0)
		return -1;
	snprintf(lcores, sizeof(lcores), "0@%d,1@%d", cpu[0],
		 n > 1 ? cpu[1] : cpu[0]);
	return rte_eal_init(RTE_DIM(argv), argv) < 0 ? -1 : 0;
}

static int
eal_teardown(void **state)
{
	(void)state;
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_add_replace_delete),
		cmocka_unit_test(test_key_families),
		cmocka_unit_test(test_lookup_bulk),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_rcu_reclaim),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests_name("cfe_table", tests, eal_setup,
					   eal_teardown);
}
