/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inbound ESP with AES-GCM (RFC 4106) on intel-ipsec-mb's direct GCM API,
 * for tunnel-mode SAs in cpu crypto mode; the SA state of both directions
 * (outbound: dfe_gcm_out.c).
 *
 * The same library the aesni_mb PMD wraps, called without the layers in
 * between: lib/ipsec's cpu-crypto prepare (IV and AAD vectors), the PMD's
 * job submission and its digest compare, and lib/ipsec's post-processing.
 * Those cost about as much as the decryption of a 64-byte packet
 * (docs/PERFORMANCE.md, optimisation log, step 6). What lib/ipsec checks,
 * this checks, in the same order and with the same drop reasons:
 * docs/architecture.md, "the direct GCM path".
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_esp.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dfe_fwd.h"
#include "dfe_gcm.h"
#include "dfe_priv.h"
#include "sg_meta.h"

int
dfe_gcm_init(struct dfe *d)
{
	const char *e = getenv("SPIGATE_DIRECT_GCM");
	IMB_ARCH arch = IMB_ARCH_NONE;

	/* the manager serves both direct paths (dfe_cbc.c): each has its
	 * own switch */
	d->imb = NULL;
	d->direct_gcm = e == NULL || strcmp(e, "0") != 0;
	if (d->c.crypto != DFE_CRYPTO_CPU)
		return 0;
	d->imb = alloc_mb_mgr(0);
	if (d->imb == NULL)
		return -ENOMEM;
	/* AVX-512 with VAES where the CPU has it: its GCM beats the AVX2
	 * one for 64-byte packets on both CPUs of the rig
	 * (docs/PERFORMANCE.md, steps 6 and 35) */
	init_mb_mgr_auto(d->imb, &arch);
	d->imb_arch = arch;
	if (imb_get_errno(d->imb) != 0) {
		free_mb_mgr(d->imb);
		d->imb = NULL;
		return -ENOTSUP;
	}
	return 0;
}

void
dfe_gcm_fini(struct dfe *d)
{
	if (d->imb != NULL)
		free_mb_mgr(d->imb);
	d->imb = NULL;
}

/*
 * Build the direct-path state of a tunnel-mode AES-GCM SA, inbound or
 * outbound: in cpu mode the key block for intel-ipsec-mb's GCM API, in
 * lookaside mode the head only (salt, ICV length, next header) and
 * sa->lksd = DFE_LKSD_GCM (dfe_gcm_lksd.c), the caller then creating the
 * crypto session. Other SAs (and every SA with SPIGATE_DIRECT_GCM=0) keep
 * sa->gcm NULL and go through lib/ipsec, for their whole life: lib/ipsec
 * numbers an outbound SA's packets itself, so an SA never changes path.
 * 0, or -ENOMEM.
 */
int
dfe_gcm_sa_init(struct dfe *d, struct dfe_sa *sa, const struct dfe_sa_prm *p)
{
	const struct rte_crypto_sym_xform *x = p->xform;
	const bool lksd = d->c.crypto == DFE_CRYPTO_LOOKASIDE;
	struct dfe_gcm *g;
	uint16_t icv;

	sa->gcm = NULL;
	if ((d->imb == NULL && !lksd) || !d->direct_gcm ||
	    p->mode != DFE_MODE_TUNNEL || x == NULL || x->next != NULL ||
	    x->type != RTE_CRYPTO_SYM_XFORM_AEAD ||
	    x->aead.algo != RTE_CRYPTO_AEAD_AES_GCM)
		return 0;
	icv = x->aead.digest_length;
	if (icv != 8 && icv != 12 && icv != 16)
		return 0;
	/* lookaside: the operations carry the nonce and the AAD where the
	 * session (ce_xform()) says */
	if (lksd && (x->aead.iv.offset != DFE_IV_OFS ||
		     x->aead.iv.length != 12 ||
		     x->aead.aad_length != (p->esn ? 12 : 8)))
		return 0;
	g = rte_zmalloc_socket("dfe_gcm", lksd ? DFE_GCM_HEAD : sizeof(*g),
			       RTE_CACHE_LINE_SIZE, d->c.socket);
	if (g == NULL)
		return -ENOMEM;
	g->salt = p->salt;
	g->icv_len = (uint8_t)icv;
	g->next_proto = p->inner_family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	sa->gcm = g;
	if (lksd) {
		sa->lksd = DFE_LKSD_GCM;
		return 0;
	}
	switch (x->aead.key.length) {
	case 16:
		g->dec = d->imb->gcm128_dec;
		g->enc = d->imb->gcm128_enc;
		IMB_AES128_GCM_PRE(d->imb, x->aead.key.data, &g->key);
		break;
	case 24:
		g->dec = d->imb->gcm192_dec;
		g->enc = d->imb->gcm192_enc;
		IMB_AES192_GCM_PRE(d->imb, x->aead.key.data, &g->key);
		break;
	case 32:
		g->dec = d->imb->gcm256_dec;
		g->enc = d->imb->gcm256_enc;
		IMB_AES256_GCM_PRE(d->imb, x->aead.key.data, &g->key);
		break;
	default:
		rte_free(g);
		sa->gcm = NULL;
		return 0;
	}
	/*
	 * No prefetch of the key block (dfe_sa_prefetch_deps()): the
	 * decryption reads it right after the prefetch would have been
	 * issued, a few groups earlier, and the prefetches of the lines it
	 * reads (the key schedule and the last GHASH keys, 9 lines) cost more
	 * than they saved: alternated runs, 64 B, 1,000 SAs 304 -> 294
	 * cycles, 100,000 SAs 482 -> 456 (docs/PERFORMANCE.md, step 19).
	 * The CBC path, whose jobs wait in the manager's lanes, keeps its.
	 */
	sa->cses_lines = 0;
	return 0;
}

void
dfe_gcm_sa_free(struct dfe_sa *sa)
{
	dfe_key_free(sa->gcm, sa->lksd == DFE_LKSD_GCM ? DFE_GCM_HEAD :
		     sizeof(*sa->gcm));
	sa->gcm = NULL;
}

/*
 * Decrypt, authenticate and strip packets of one SA that passed the
 * pre-checks of inbound() (sequence number reconstructed into meta->sqn,
 * NAT-T UDP header counted in l3_len). The checks and their drop reasons
 * are lib/ipsec's: a payload that is not a whole number of 4-byte words is
 * malformed before the crypto; a wrong ICV fails authentication; then
 * trailer, padding and next header (malformed); then the replay window.
 * What passes is counted decrypted and goes on at once, starting at the
 * inner IP header, to the checks of the way out (dfe_fwd_add(): inner
 * header, selectors, TTL) while its lines are in L1; the batch is routed
 * and sent at the end.
 */
void
dfe_gcm_inbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		uint16_t n)
{
	const struct dfe_gcm *g = sa->gcm;
	const struct dfe_selset *ss = __atomic_load_n(&sa->sel,
						      __ATOMIC_ACQUIRE);
	const unsigned icv_len = g->icv_len;
	struct dfe_bad bad;
	struct sg_fwd_batch out;
	struct gcm_context_data ctx;
	uint8_t iv[16], aad[16], tag[16];
	unsigned i, k = 0;
	uint64_t bytes = 0;

	sg_fwd_init(&out, sa->inner_family);
	dfe_bad_init(&bad);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		struct sg_meta *meta = sg_meta(m);
		uint32_t hl = m->l2_len + m->l3_len;
		uint8_t *esp = rte_pktmbuf_mtod_offset(m, uint8_t *, hl);
		uint8_t *ct = esp + ESP_HDR + GCM_IV;
		int32_t clen = (int32_t)m->pkt_len - (int32_t)hl -
			(ESP_HDR + GCM_IV) - (int32_t)icv_len;

		if (unlikely(m->nb_segs != 1 || clen < 0 || (clen & 3) != 0)) {
			dfe_bad_put(&bad, m, SG_DROP_MALFORMED);
			continue;
		}
		dfe_gcm_nonce(iv, g->salt, esp + ESP_HDR);
		if (sa->esn) {
			/* SPI, high half, low half (RFC 4106 5); without ESN
			 * the AAD is the ESP header itself */
			dfe_gcm_aad_in(aad, esp, true, meta->sqn);
			g->dec(&g->key, &ctx, ct, ct, (uint64_t)clen, iv, aad,
			       12, tag, icv_len);
		} else {
			g->dec(&g->key, &ctx, ct, ct, (uint64_t)clen, iv, esp,
			       8, tag, icv_len);
		}
		if (unlikely(!dfe_icv_equal(tag, ct + clen, icv_len))) {
			dfe_bad_put(&bad, m, SG_DROP_AUTH_FAILED);
			continue;
		}
		k += dfe_in_finish(sa, ss, &out, &bad, m, g->next_proto, ct,
				   clen, hl + ESP_HDR + GCM_IV, icv_len, &bytes);
	}
	dfe_in_done_fwd(d, sa, &bad, &out, k, bytes);
}
