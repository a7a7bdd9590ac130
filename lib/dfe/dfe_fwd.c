/* SPDX-License-Identifier: BSD-3-Clause */
#include "dfe_fwd.h"

/*
 * Forward decrypted packets of one SA (lib/ipsec's paths and the direct
 * CBC path, after the batch): dfe_fwd_add() for each, then one route lookup
 * (in the table the CE published, loaded once for the burst), Ethernet
 * header, TX buffer. Every packet ends in a TX buffer or a counted drop.
 */
void
dfe_forward(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t n)
{
	const struct dfe_selset *ss = __atomic_load_n(&sa->sel,
						      __ATOMIC_ACQUIRE);
	struct sg_fwd_batch b;
	enum sg_drop why;
	unsigned i;

	sg_fwd_init(&b, sa->inner_family);
	for (i = 0; i < n; i++)
		if (!dfe_fwd_add(sa, ss, &b, mb[i], &why))
			dfe_drop(d, sa, why, &mb[i], 1);
	dfe_fwd_send(d, sa, &b);
}
