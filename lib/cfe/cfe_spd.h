/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CFE_SPD_H
#define CFE_SPD_H

/*
 * Security policy database for clear traffic, as the CFE consults it:
 * inbound rules for clear packets arriving on unprotected ports (bypass or
 * discard; a clear packet matching a protect rule should have come
 * encrypted), outbound rules for packets from protected ports.
 *
 * Matching: src and dst prefixes of the tuple's family (a rule of the other
 * family never matches), proto exact or any, port ranges inclusive. Of the
 * matching rules the highest priority wins; equal priorities: the earliest
 * in the array given to cfe_spd_create() (the file order). No match: NULL,
 * default deny.
 *
 * Engine: rte_acl, one context per direction and family, built once at
 * create. Rules are kept in their input order; a rule's position in that
 * array (rule_pos) names it in cfe_spd_bind() and cfe_spd_rule_at().
 */

#include <stdint.h>

#include <rte_byteorder.h>

#include "sg_addr.h"

enum cfe_spd_action { CFE_SPD_PROTECT, CFE_SPD_BYPASS, CFE_SPD_DISCARD };
enum cfe_spd_dir { CFE_SPD_IN, CFE_SPD_OUT };

/* Most tuples one cfe_spd_lookup_bulk() classifies with one rte_acl call. */
#define CFE_SPD_BULK_MAX 64

struct cfe_spd_rule {
	uint32_t id;                 /* caller's index, kept as given (the
				      * SPD itself does not use it) */
	struct sg_prefix src, dst;   /* same family, 4 or 6 */
	int16_t proto;               /* -1 any, else 0..255 */
	uint16_t sport_lo, sport_hi; /* inclusive; 0..65535 = any */
	uint16_t dport_lo, dport_hi;
	uint32_t priority;           /* the highest matching priority wins */
	uint8_t action;              /* enum cfe_spd_action */
	uint32_t spi;                /* protect: the SA */
	/* Protect: classification value of the SA (sg_cls.h), 0 = SA not
	 * installed. Ignored by cfe_spd_create() (starts at 0); written with
	 * cfe_spd_bind(), read with cfe_spd_rule_cls(). */
	volatile uint64_t cls;
};

/*
 * A packet's selectors. The caller fills src, dst, proto, sport, dport
 * (unused bytes of the addresses zero, as sg_addr requires), then calls
 * cfe_spd_tuple_pack() before cfe_spd_lookup_bulk(). The structure is itself
 * the rte_acl input buffer: the addresses are read in place (network order
 * already), pack only adds the ports in network order.
 */
struct cfe_spd_tuple {
	struct sg_addr src, dst;
	uint8_t proto;
	uint16_t sport, dport;       /* host order */
	uint16_t sport_be, dport_be; /* written by cfe_spd_tuple_pack() */
};

static inline void
cfe_spd_tuple_pack(struct cfe_spd_tuple *t)
{
	t->sport_be = rte_cpu_to_be_16(t->sport);
	t->dport_be = rte_cpu_to_be_16(t->dport);
}

struct cfe_spd;

/*
 * Build the SPD from the inbound and outbound rules (copied; either array
 * may be empty and then NULL). name prefixes the names of the rte_acl
 * contexts; any length, made unique per process. Memory on 'socket'.
 * Control plane only (allocates, builds the tries, may log on failure).
 * Returns NULL with rte_errno: EINVAL (NULL name, NULL array with a non-zero
 * count, a rule with an unknown family, src and dst of different families,
 * a prefix length beyond the family, proto outside -1..255, a port range
 * with lo > hi, an unknown action, too many rules), ENOMEM, or the error of
 * rte_acl_build().
 */
struct cfe_spd *cfe_spd_create(const char *name,
			       const struct cfe_spd_rule *in, unsigned n_in,
			       const struct cfe_spd_rule *out, unsigned n_out,
			       int socket);
/* Free everything; NULL is a no-op. No reader may use s any more. */
void cfe_spd_destroy(struct cfe_spd *s);

/*
 * Data path, any lcore. Classify n tuples, all of family 'family' (4 or 6),
 * each packed with cfe_spd_tuple_pack(): rule[i] = the winning rule or NULL
 * (default deny; also every result for a family other than 4 and 6, or a
 * direction without a rule of that family). One rte_acl_classify() per
 * CFE_SPD_BULK_MAX tuples. Tuples of another family give undefined results:
 * split a burst by family first.
 */
void cfe_spd_lookup_bulk(const struct cfe_spd *s, enum cfe_spd_dir dir,
			 uint8_t family,
			 const struct cfe_spd_tuple *const t[], unsigned n,
			 const struct cfe_spd_rule *rule[]);

/*
 * A lookup memo, one per lcore (never shared): the verdicts of recent
 * address pairs, direct-mapped by a CRC of the pair, 4096 IPv4 and 2048 IPv6
 * slots (256 KiB). Used only where the verdict depends on the addresses
 * alone: a family in a direction whose rules of that family all match any
 * protocol and every port (the usual site-to-site SPD). Elsewhere
 * cfe_spd_lookup_memo() is cfe_spd_lookup_bulk(). A family whose hit rate
 * falls under one in three over 4096 lookups (more live pairs than slots)
 * skips the memo for the next 65,536, then tries again. A replaced SPD
 * needs no flush: slots carry the SPD's generation, unique in the process.
 * Control plane: create, free. NULL with rte_errno ENOMEM.
 */
struct cfe_spd_memo;

struct cfe_spd_memo *cfe_spd_memo_create(int socket);
void cfe_spd_memo_free(struct cfe_spd_memo *m);
/* Tuples answered from the memo, tuples it had to send to rte_acl, and
 * tuples sent straight to rte_acl while the memo was off for missing too
 * often (only tuples of SPDs it applies to). Any thread (relaxed loads). */
void cfe_spd_memo_stats(const struct cfe_spd_memo *m, uint64_t *hits,
			uint64_t *misses, uint64_t *skipped);
/* cfe_spd_lookup_bulk() through the memo m (NULL: none); same contract and
 * same results. The lcore that owns m. */
void cfe_spd_lookup_memo(const struct cfe_spd *s, struct cfe_spd_memo *m,
			 enum cfe_spd_dir dir, uint8_t family,
			 const struct cfe_spd_tuple *const t[], unsigned n,
			 const struct cfe_spd_rule *rule[]);

/* One tuple (family: t->src.family), for the control plane or a single
 * packet. t need not be packed (a packed copy is classified). Any lcore. */
const struct cfe_spd_rule *cfe_spd_lookup(const struct cfe_spd *s,
					  enum cfe_spd_dir dir,
					  const struct cfe_spd_tuple *t);

/*
 * Bind the rule at rule_pos of direction dir (its position in the array given
 * to cfe_spd_create()) to the classification value of its SA (sg_cls.h);
 * 0 unbinds (SA not installed: the CFE punts the packet to be held). The CE
 * thread only; release store, so whatever the value names, published before,
 * is visible to a CFE that reads the value. An out of range rule_pos is
 * ignored.
 */
void cfe_spd_bind(struct cfe_spd *s, enum cfe_spd_dir dir, uint32_t rule_pos,
		  uint64_t cls);
/* The rule's classification value (acquire load). Any lcore. */
static inline uint64_t
cfe_spd_rule_cls(const struct cfe_spd_rule *r)
{
	return __atomic_load_n(&r->cls, __ATOMIC_ACQUIRE);
}

/* Rules of a direction. */
unsigned cfe_spd_count(const struct cfe_spd *s, enum cfe_spd_dir dir);
/* The rule at rule_pos of a direction (input order), or NULL if out of
 * range. Its address is the one lookups return. */
const struct cfe_spd_rule *cfe_spd_rule_at(const struct cfe_spd *s,
					   enum cfe_spd_dir dir,
					   uint32_t pos);

#endif /* CFE_SPD_H */
