/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classification table on rte_hash: lock-free readers
 * (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), a single writer (the CE). The
 * 64-bit classification value is stored in the hash's data pointer itself,
 * so a bulk lookup returns it with no pointer chase.
 *
 * Capacity: the extendable bucket table (RTE_HASH_EXTRA_FLAGS_EXT_TABLE) is
 * on, so exactly 'entries' keys fit whatever their hashes (plain cuckoo
 * buckets can refuse a key before the table is full). A lookup walks the
 * extension only for keys that missed both cuckoo buckets, and only when an
 * extension bucket is linked there.
 *
 * Reclamation: with a qsbr variable, rte_hash's defer queue (DQ mode) holds
 * the key slot of a deleted key until every registered reader has reported
 * a quiescent state; it is retried on each delete and, when no free slot is
 * left, on add. Until then the slot counts against 'entries': an add into a
 * table whose free slots all wait for a grace period fails with -ENOSPC.
 * Without a qsbr variable the slot is freed at once (single-threaded use).
 */

#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "cfe_table.h"

_Static_assert(sizeof(void *) >= sizeof(uint64_t),
	       "the classification value is stored in the data pointer");

#define MIN_ENTRIES     8        /* rte_hash's minimum: one bucket */
#define DESTROY_WAIT_US 1000000  /* bound on the grace period at destroy */

struct cfe_table {
	struct rte_hash *h;
	struct rte_rcu_qsbr *qsv;
	uint32_t entries;
	uint32_t live;  /* keys present; written by the writer only */
};

struct cfe_table *
cfe_table_create(const char *name, uint32_t entries, int socket,
		 struct rte_rcu_qsbr *qsv)
{
	struct rte_hash_parameters p = {
		.name = name,
		.entries = RTE_MAX(entries, (uint32_t)MIN_ENTRIES),
		.key_len = sizeof(struct cfe_class_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct rte_hash_rcu_config rcu = {
		.v = qsv,
		.mode = RTE_HASH_QSBR_MODE_DQ,
	};
	struct cfe_table *t;
	int err;

	if (name == NULL || entries == 0 || entries > RTE_HASH_ENTRIES_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (strlen(name) >= CFE_TABLE_NAMESIZE) {
		rte_errno = ENAMETOOLONG;
		return NULL;
	}
	/* rte_hash would find out too, but only after logging errors */
	if (rte_hash_find_existing(name) != NULL) {
		rte_errno = EEXIST;
		return NULL;
	}
	t = rte_zmalloc_socket("cfe_table", sizeof(*t), RTE_CACHE_LINE_SIZE,
			       socket);
	if (t == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	rte_errno = 0;
	t->h = rte_hash_create(&p);
	if (t->h == NULL) {
		err = rte_errno != 0 ? rte_errno : ENOMEM;
		goto fail;
	}
	if (qsv != NULL && rte_hash_rcu_qsbr_add(t->h, &rcu) != 0) {
		err = rte_errno != 0 ? rte_errno : ENOMEM;
		goto fail;
	}
	t->qsv = qsv;
	t->entries = p.entries;
	return t;
fail:
	rte_hash_free(t->h);
	rte_free(t);
	rte_errno = err;
	return NULL;
}

/*
 * The defer queue can only be deleted once its pending slots are reclaimed,
 * so wait (bounded) for one grace period first. A reader that stopped
 * without going offline would otherwise hang the teardown.
 */
void
cfe_table_destroy(struct cfe_table *t)
{
	uint64_t token;
	uint32_t us;

	if (t == NULL)
		return;
	if (t->qsv != NULL) {
		token = rte_rcu_qsbr_start(t->qsv);
		for (us = 0; us < DESTROY_WAIT_US &&
		     rte_rcu_qsbr_check(t->qsv, token, false) == 0; us += 100)
			rte_delay_us_sleep(100);
	}
	rte_hash_free(t->h);
	rte_free(t);
}

/*
 * Keys are compared as raw bytes, so a key with garbage in an unused field
 * would never match the data path's zeroed keys. Refuse it on the writer
 * side, where it is a bug in the caller.
 */
static int
key_ok(const struct cfe_class_key *k)
{
	static const uint8_t zero[16];
	size_t used;

	if (memcmp(k->pad, zero, sizeof(k->pad)) != 0 ||
	    memcmp(k->tail, zero, sizeof(k->tail)) != 0)
		return 0;
	switch (k->family) {
	case 0:
		used = 0;
		break;
	case 4:
		used = 4;
		break;
	case 6:
		used = 16;
		break;
	default:
		return 0;
	}
	return memcmp(k->dst + used, zero, sizeof(k->dst) - used) == 0;
}

int
cfe_table_add(struct cfe_table *t, const struct cfe_class_key *k,
	      uint64_t val)
{
	hash_sig_t sig;
	int present, ret;

	if (t == NULL || k == NULL || !key_ok(k))
		return -EINVAL;
	sig = rte_hash_hash(t->h, k);
	present = rte_hash_lookup_with_hash(t->h, k, sig) >= 0;
	ret = rte_hash_add_key_with_hash_data(t->h, k, sig,
					      (void *)(uintptr_t)val);
	if (ret < 0)
		return ret;
	if (!present)
		__atomic_store_n(&t->live, t->live + 1, __ATOMIC_RELAXED);
	return 0;
}

int
cfe_table_del(struct cfe_table *t, const struct cfe_class_key *k)
{
	int32_t pos;

	if (t == NULL || k == NULL)
		return -EINVAL;
	pos = rte_hash_del_key(t->h, k);
	if (pos < 0)
		return pos;
	/* LF mode never frees on delete; with RCU the defer queue does it. */
	if (t->qsv == NULL)
		rte_hash_free_key_with_position(t->h, pos);
	__atomic_store_n(&t->live, t->live - 1, __ATOMIC_RELAXED);
	return 0;
}

int
cfe_table_lookup(const struct cfe_table *t, const struct cfe_class_key *k,
		 uint64_t *val)
{
	void *d;
	int ret;

	if (t == NULL || k == NULL || val == NULL)
		return -EINVAL;
	ret = rte_hash_lookup_data(t->h, k, &d);
	if (ret < 0)
		return ret;
	*val = (uintptr_t)d;
	return 0;
}

uint32_t
cfe_table_count(const struct cfe_table *t)
{
	if (t == NULL)
		return 0;
	return __atomic_load_n(&t->live, __ATOMIC_RELAXED);
}

uint64_t
cfe_table_lookup_bulk(const struct cfe_table *t,
		      const struct cfe_class_key *keys[], uint32_t n,
		      uint64_t vals[])
{
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0, m;

	if (unlikely(n == 0 || n > RTE_HASH_LOOKUP_BULK_MAX))
		return 0;
	rte_hash_lookup_bulk_data(t->h, (const void **)keys, n, &hits, data);
	for (m = hits; m != 0; m &= m - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(m);

		vals[i] = (uintptr_t)data[i];
	}
	return hits;
}
