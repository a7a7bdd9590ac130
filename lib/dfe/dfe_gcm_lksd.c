/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESP with AES-GCM (RFC 4106) in lookaside mode, for tunnel-mode SAs: the
 * DFE builds the crypto operations itself and finishes the completed ones
 * itself, without lib/ipsec. Inbound here; outbound, dfe_gcm_outbound()
 * builds the packets as in cpu mode and hands them to the device, and
 * dfe_gcm_lksd_finish() sends them. The crypto stays on the device
 * (aesni_mb here, QAT on hardware), through the SA's crypto session.
 *
 * lib/ipsec's prepare and process cost about 40 cycles a packet of the 340
 * of a 64-byte packet on this path (docs/PERFORMANCE.md, step 26), and on a
 * device that does the crypto off the CPU they are most of what is left on
 * it. What lib/ipsec checks, this checks, in the same order and with the
 * same drop reasons, as the direct GCM path does (dfe_gcm.c): a payload
 * that is not a whole number of 4-byte words is malformed before the
 * crypto; the device's verdict on the ICV; then trailer, padding and next
 * header (malformed), the replay window, the strip and the way out
 * (dfe_lksd_finish_in() in dfe_inbound.c, which the lookaside CBC path of
 * dfe_cbc.c shares).
 *
 * The operation: IV and AAD in the op's private area (DFE_IV_OFS, 16 bytes
 * each; the pool's DFE_COP_PRIV), the ICV read where it is in the packet,
 * decryption in place. The SA keeps its crypto session's 'opaque data'
 * pointing at itself, so dfe_lksd_drain() groups the completions by SA as
 * it does lib/ipsec's.
 */
#include <stdbool.h>
#include <string.h>

#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_mbuf.h>

#include "dfe_fwd.h"
#include "dfe_gcm.h"
#include "dfe_priv.h"
#include "sg_meta.h"

_Static_assert(DFE_COP_PRIV >= 32, "IV and AAD in the op's private area");

/*
 * Inbound packets of one SA that passed the pre-checks of inbound()
 * (sequence number reconstructed into meta->sqn, NAT-T UDP header counted
 * in l3_len): one operation each, handed to the DFE's queue pair.
 */
void
dfe_gcm_lksd_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n)
{
	const struct dfe_gcm *g = sa->gcm;
	const int32_t icv_len = g->icv_len;
	struct rte_crypto_op *cop[SG_BURST];
	struct rte_mbuf *mal[SG_BURST];
	uint16_t i, j = 0, nm = 0;

	if (!dfe_cop_alloc(d, sa, cop, mb, n))
		return;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint32_t hl = m->l2_len + m->l3_len;
		uint32_t pofs = hl + ESP_HDR + GCM_IV;
		const uint8_t *esp = rte_pktmbuf_mtod_offset(m, const uint8_t *,
							     hl);
		int32_t clen = (int32_t)m->pkt_len - (int32_t)pofs - icv_len;

		if (unlikely(m->nb_segs != 1 || clen < 0 || (clen & 3) != 0)) {
			mal[nm++] = m;
			continue;
		}
		dfe_gcm_nonce(dfe_gcm_op_iv(cop[j]), g->salt, esp + ESP_HDR);
		dfe_gcm_aad_in(dfe_gcm_op_aad(cop[j]), esp, sa->esn,
			       sg_meta(m)->sqn);
		dfe_gcm_op_fill(cop[j], sa->cses, m, pofs, (uint32_t)clen,
				pofs + (uint32_t)clen);
		mb[j++] = m;
	}
	if (unlikely(nm != 0)) {
		rte_mempool_put_bulk(d->c.cop_pool, (void **)&cop[j], n - j);
		dfe_drop(d, sa, SG_DROP_MALFORMED, mal, nm);
	}
	if (j != 0)
		dfe_lksd_enqueue(d, sa, cop, j);
}

/*
 * Completed operations of one SA (dfe_lksd_drain()). Outbound, the packets
 * dfe_gcm_outbound() built and this path encrypted: a failed operation is
 * crypto_error, as after lib/ipsec's; the others go to the fix-ups and out
 * (dfe_outbound_tx()).
 */
void
dfe_gcm_lksd_finish(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n)
{
	struct rte_mbuf *bad[SG_BURST];
	uint16_t i, k = 0, nb = 0;

	if (sa->dir == DFE_DIR_IN) {
		dfe_lksd_finish_in(d, sa, mb, n, sa->gcm->next_proto, GCM_IV,
				   sa->gcm->icv_len);
		return;
	}
	for (i = 0; i < n; i++) {
		if (unlikely(mb[i]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED))
			bad[nb++] = mb[i];
		else
			mb[k++] = mb[i];
	}
	dfe_drop(d, sa, SG_DROP_CRYPTO_ERROR, bad, nb);
	if (k != 0)
		dfe_outbound_tx(d, sa, mb, k);
}
