/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CFE_TABLE_H
#define CFE_TABLE_H

/*
 * The classification table: classification key (SPI, or SPI + outer
 * destination, RFC 4301 4.4.2) -> classification value (owning DFE, SA slot,
 * generation). Written by the CE alone, read lock-free by every CFE lcore
 * (rte_hash with RW_CONCURRENCY_LF). Deleted keys' slots are reclaimed after
 * an RCU QSBR grace period of the readers registered on the qsbr variable.
 */

#include <stdint.h>

struct rte_rcu_qsbr;
struct cfe_table;

/* Key layout is hashed as raw bytes: always zero unused fields. */
struct cfe_class_key {
	uint32_t spi;       /* host order */
	uint8_t family;     /* 0 = SPI only, 4 or 6 = SPI + destination */
	uint8_t pad[3];
	uint8_t dst[16];
	uint8_t tail[8];    /* zero: rte_hash compares 32-byte keys with vector
			     * instructions, 24-byte ones with memcmp() */
};

_Static_assert(sizeof(struct cfe_class_key) == 32, "see 'tail'");

/* Values: see sg_cls.h (cfe_class_val() and its decoders). */
#include "sg_cls.h"

/* Longest table name + 1: the name also prefixes the hash's rings and its
 * RCU defer queue, whose names DPDK limits. */
#define CFE_TABLE_NAMESIZE 20

/* Create a table for up to 'entries' keys on 'socket' (at least 8 are
 * allocated). name must be unique and shorter than CFE_TABLE_NAMESIZE. qsv
 * may be NULL (no reclamation needed: single-threaded use). A deleted key's
 * slot counts against 'entries' until its grace period ends. Returns NULL,
 * rte_errno set (EINVAL, ENAMETOOLONG, EEXIST, ENOMEM). */
struct cfe_table *cfe_table_create(const char *name, uint32_t entries,
				   int socket, struct rte_rcu_qsbr *qsv);
/* Waits (at most 1 s) for a grace period of qsv, so call it from a thread
 * that is not an online reader, once no reader uses the table. */
void cfe_table_destroy(struct cfe_table *t);

/* Writer side (the CE thread only). Add or replace: 0 or -errno (-ENOSPC;
 * -EINVAL for a NULL argument or a key with non-zero unused bytes). */
int cfe_table_add(struct cfe_table *t, const struct cfe_class_key *k,
		  uint64_t val);
/* 0, or -ENOENT. The key's slot is reused only after a grace period. */
int cfe_table_del(struct cfe_table *t, const struct cfe_class_key *k);
/* Single lookup for the control plane: 0 and *val, or -ENOENT. */
int cfe_table_lookup(const struct cfe_table *t, const struct cfe_class_key *k,
		     uint64_t *val);
/* Keys present (deleted keys whose slot awaits reclamation excluded). */
uint32_t cfe_table_count(const struct cfe_table *t);

/*
 * Reader side (any lcore registered with the qsbr variable). Looks up n keys
 * (n <= 64) in one bulk operation; vals[i] is valid where bit i of the
 * returned mask is set.
 */
uint64_t cfe_table_lookup_bulk(const struct cfe_table *t,
			       const struct cfe_class_key *keys[], uint32_t n,
			       uint64_t vals[]);

#endif /* CFE_TABLE_H */
