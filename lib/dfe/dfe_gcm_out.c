/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound ESP with AES-GCM (RFC 4106) on intel-ipsec-mb's direct GCM API,
 * for tunnel-mode SAs in cpu crypto mode, or on the crypto device through
 * the DFE's own operations in lookaside mode (dfe_gcm_lksd.c); the SA
 * state is dfe_gcm.c's.
 *
 * The packet is the one lib/ipsec builds from the parameters fill_prm()
 * gives it (DPDK 22.11, esp_outb.c outb_tun_pkt_prepare() and iph.h
 * update_tun_outb_l3hdr()), byte for byte, and a packet fails where it
 * fails there, with the same drop reason: SPIGATE_DIRECT_GCM=0 runs a
 * capture through lib/ipsec and test_direct_gcm.py compares the two
 * (docs/architecture.md, "the direct GCM path"). What lib/ipsec leaves to
 * the DFE, outer DF, IPv4 checksum and NAT-T UDP, dfe_outbound_tx() does
 * after either.
 */
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dfe_gcm.h"
#include "dfe_priv.h"
#include "sg_meta.h"

/*
 * Tail room lib/ipsec wants beyond padding, trailer and ICV: while the
 * crypto runs its AAD (struct aead_gcm_aad, 16 bytes) sits after the ICV
 * and, with ESN, the high half of the sequence number between trailer and
 * ICV (taken out again afterwards). Without it the packet fails, -ENOSPC.
 */
#define AAD_ROOM 16
#define SQH_LEN 4

/*
 * Encapsulate and encrypt packets of one SA that passed dfe_outbound()
 * (data at the L2 header), numbered sa->out_sqn - n + 1 .. sa->out_sqn
 * (encrypt() advanced the counter), then hand them to dfe_outbound_tx().
 *
 * As lib/ipsec does: the L2 header is replaced by the SA's template
 * (Ethernet, outer IP, NAT-T UDP); the outer IPv4 total length and ID (low
 * 16 bits of the sequence number) or IPv6 payload length are set, DSCP and
 * ECN copied; SPI, the low 32 bits of the sequence number, the IV (the
 * whole 64-bit sequence number), padding 1, 2, 3, ... to 4 bytes, pad
 * length, next header; the AAD is SPI and sequence number (ESN: the high
 * half between SPI and low half). A packet without the head or tail room
 * lib/ipsec needs is no_mbuf. Multi-segment mbufs, which lib/ipsec would
 * take but the CFE lets through only as a frame whose Ethernet padding
 * spilled into a second buffer, are malformed here.
 */
void
dfe_gcm_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		 uint16_t n)
{
	const struct dfe_gcm *g = sa->gcm;
	const uint32_t hl = sa->hdr_len, icv_len = g->icv_len;
	const uint32_t extra = AAD_ROOM + (sa->esn ? SQH_LEN : 0);
	const uint32_t spi = rte_cpu_to_be_32(sa->spi);
	const bool in4 = sa->inner_family == 4;
	const bool out4 = (sa->hdr[RTE_ETHER_HDR_LEN] >> 4) == 4;
	const bool lksd = sa->lksd == DFE_LKSD_GCM;
	struct rte_mbuf *nom[SG_BURST], *mal[SG_BURST];
	struct rte_crypto_op *cop[SG_BURST];
	struct gcm_context_data ctx;
	struct {
		uint8_t *in, *tag;
		uint32_t clen;
		uint8_t iv[16], aad[16];
	} job[SG_BURST];
	uint64_t sqn = sa->out_sqn - n;
	unsigned i, j, k = 0, no = 0, nm = 0;

	/* lib/ipsec hands out numbers below 2^32 - 1 only without ESN (its
	 * counter holds the next one, which must fit): the packet that would
	 * carry 2^32 - 1 fails with the others it cannot number, no_mbuf */
	if (unlikely(!sa->esn && sa->out_sqn == UINT32_MAX))
		nom[no++] = mb[--n];
	/* lookaside: an operation per packet, or the batch is no_mbuf (as
	 * on lib/ipsec's path, dfe_lksd_submit()) */
	if (lksd && n != 0 && !dfe_cop_alloc(d, sa, cop, mb, n))
		n = 0;
	/*
	 * Two passes: every packet is built first, then encrypted. The
	 * encryption reads what the build just wrote (ESP header as AAD, the
	 * trailer in the last block) with wide loads, which the narrow stores
	 * of the build cannot forward; a burst later those stores are in L1.
	 */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint32_t plen = m->pkt_len - m->l2_len;
		uint32_t clen = RTE_ALIGN_CEIL(plen + 2, 4);
		uint32_t pad = clen - plen - 2;
		uint32_t lo = rte_cpu_to_be_32((uint32_t)++sqn);
		uint64_t be = rte_cpu_to_be_64(sqn);
		uint8_t *h, *esp, *in, *t;

		if (unlikely(m->nb_segs != 1)) {
			mal[nm++] = m;
			continue;
		}
		h = dfe_out_room(m, hl + ESP_HDR + GCM_IV, pad + 2 + icv_len,
				 extra, &t);
		if (unlikely(h == NULL)) {
			nom[no++] = m;
			continue;
		}
		esp = h + hl;
		in = esp + ESP_HDR + GCM_IV;
		dfe_out_tun_hdr(sa, m, h, in, sqn, out4, in4);
		/* SPI, low half, IV = the whole sequence number */
		dfe_gcm_store16(esp, (uint64_t)spi | (uint64_t)lo << 32, be);
		for (j = 0; j < pad; j++)
			t[j] = (uint8_t)(j + 1);
		t[pad] = (uint8_t)pad;
		t[pad + 1] = g->next_proto;
		dfe_gcm_nonce(lksd ? dfe_gcm_op_iv(cop[k]) : job[k].iv,
			      g->salt, esp + ESP_HDR);
		/* ESN: SPI, then the whole sequence number (RFC 4106 5); in
		 * lookaside mode the AAD is in the op in either case */
		if (sa->esn)
			dfe_gcm_store16(lksd ? dfe_gcm_op_aad(cop[k]) :
					job[k].aad, (uint64_t)spi | be << 32,
					be >> 32);
		else if (lksd)
			dfe_gcm_store16(dfe_gcm_op_aad(cop[k]), (uint64_t)spi |
					(uint64_t)lo << 32, 0);
		job[k].in = in;
		job[k].tag = t + pad + 2;
		job[k].clen = clen;
		mb[k++] = m;
	}
	if (lksd) {
		/* encrypted by the device, sent by dfe_gcm_lksd_finish() */
		for (i = 0; i < k; i++) {
			const uint8_t *p = rte_pktmbuf_mtod(mb[i],
							    const uint8_t *);

			dfe_gcm_op_fill(cop[i], sa->cses, mb[i],
					(uint32_t)(job[i].in - p), job[i].clen,
					(uint32_t)(job[i].tag - p));
		}
		if (k < n)
			rte_mempool_put_bulk(d->c.cop_pool, (void **)&cop[k],
					     n - k);
		dfe_drop(d, sa, SG_DROP_MALFORMED, mal, nm);
		dfe_drop(d, sa, SG_DROP_NO_MBUF, nom, no);
		if (k != 0)
			dfe_lksd_enqueue(d, sa, cop, (uint16_t)k);
		return;
	}
	for (i = 0; i < k; i++) {
		uint8_t *in = job[i].in;

		if (sa->esn)
			g->enc(&g->key, &ctx, in, in, job[i].clen, job[i].iv,
			       job[i].aad, 12, job[i].tag, icv_len);
		else
			g->enc(&g->key, &ctx, in, in, job[i].clen, job[i].iv,
			       in - ESP_HDR - GCM_IV, 8, job[i].tag, icv_len);
	}
	dfe_drop(d, sa, SG_DROP_MALFORMED, mal, nm);
	dfe_drop(d, sa, SG_DROP_NO_MBUF, nom, no);
	if (k != 0)
		dfe_outbound_tx(d, sa, mb, k);
}
