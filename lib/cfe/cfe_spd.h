/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CFE_SPD_H
#define CFE_SPD_H

/*
 * Security policy database for clear traffic, as the CFE consults it:
 * inbound rules for clear packets arriving on unprotected ports (bypass or
 * discard; a clear packet matching a protect rule should have come
 * encrypted), outbound rules for packets from protected ports. The highest
 * priority matching rule wins; equal priorities: the first in the file.
 * No match: default deny.
 *
 * This build evaluates the rules linearly (sorted once, at create): fine for
 * the tens of rules of a branch gateway. The rte_acl engine of the outbound
 * work replaces it behind this interface.
 */

#include <stdint.h>

#include "sg_addr.h"

enum cfe_spd_action { CFE_SPD_PROTECT, CFE_SPD_BYPASS, CFE_SPD_DISCARD };
enum cfe_spd_dir { CFE_SPD_IN, CFE_SPD_OUT };

struct cfe_spd_rule {
	struct sg_prefix src, dst;
	int16_t proto;               /* -1 any */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint32_t priority;
	uint8_t action;              /* enum cfe_spd_action */
	uint32_t spi;                /* protect: the SA */
};

struct cfe_spd_tuple {
	struct sg_addr src, dst;
	uint8_t proto;
	uint16_t sport, dport;
};

struct cfe_spd;

/* Rules are copied. NULL with rte_errno on failure. */
struct cfe_spd *cfe_spd_create(const struct cfe_spd_rule *in, unsigned n_in,
			       const struct cfe_spd_rule *out, unsigned n_out,
			       int socket);
void cfe_spd_destroy(struct cfe_spd *s);
/* The matching rule, or NULL (default deny). Any lcore. */
const struct cfe_spd_rule *cfe_spd_lookup(const struct cfe_spd *s,
					  enum cfe_spd_dir dir,
					  const struct cfe_spd_tuple *t);

#endif /* CFE_SPD_H */
