/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_GCM_H
#define DFE_GCM_H

/* The direct GCM path's per-SA state: dfe_gcm.c (inbound, and the SA
 * state of both directions) and dfe_gcm_out.c (outbound). */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <immintrin.h>
#include <intel-ipsec-mb.h>
#include <rte_common.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_mbuf.h>

#include "dfe.h"

#define ESP_HDR 8             /* SPI, sequence number */
#define GCM_IV 8              /* RFC 4106 explicit IV */

/*
 * Per SA, in one block: the line read per packet first, then the key
 * schedule and the GHASH keys (intel-ipsec-mb's layout, 64-byte aligned).
 * 'dec' serves an inbound SA, 'enc' an outbound one. In lookaside mode
 * (dfe_gcm_lksd.c) the keys are in the crypto session: the block ends
 * before 'key' (DFE_GCM_HEAD) and 'dec' and 'enc' are NULL.
 */
struct dfe_gcm {
	aes_gcm_enc_dec_t dec;
	aes_gcm_enc_dec_t enc;
	uint32_t salt;                /* nonce bytes 0..3, as in the packet */
	uint8_t icv_len;
	uint8_t next_proto;           /* tunnel: IPPROTO_IPIP or IPPROTO_IPV6 */
	struct gcm_key_data key __rte_cache_aligned;
};

#define DFE_GCM_HEAD offsetof(struct dfe_gcm, key)

/*
 * Write 16 bytes, a then b (each in memory order), with one store.
 * intel-ipsec-mb reads its nonce and AAD back at once with a single load;
 * had they been written in pieces (salt, then IV), the load could not be
 * forwarded from the store buffer and would wait for the stores to reach
 * L1: about 20 cycles a packet (docs/PERFORMANCE.md, step 13).
 */
static inline void
dfe_gcm_store16(void *dst, uint64_t a, uint64_t b)
{
	_mm_storeu_si128((__m128i *)dst, _mm_set_epi64x((long long)b,
							(long long)a));
}

/* The 12-byte nonce: salt, then the packet's 8-byte IV (RFC 4106 4). */
static inline void
dfe_gcm_nonce(uint8_t nonce[16], uint32_t salt, const uint8_t *iv8)
{
	uint64_t v;

	memcpy(&v, iv8, 8);
	dfe_gcm_store16(nonce, (uint64_t)salt | v << 32, v >> 32);
}

/*
 * The AAD of an inbound packet, from its ESP header (esp) and, with ESN, the
 * high half of its reconstructed sequence number (sqn): SPI and sequence
 * number, with ESN the high half between the SPI and the low half (RFC 4106
 * 5), zero-padded to 16 bytes.
 */
static inline void
dfe_gcm_aad_in(uint8_t aad[16], const uint8_t *esp, bool esn, uint64_t sqn)
{
	uint32_t spi, lo, hi;

	memcpy(&spi, esp, 4);
	memcpy(&lo, esp + 4, 4);
	if (esn) {
		hi = rte_cpu_to_be_32((uint32_t)(sqn >> 32));
		dfe_gcm_store16(aad, (uint64_t)spi | (uint64_t)hi << 32, lo);
	} else {
		dfe_gcm_store16(aad, (uint64_t)spi | (uint64_t)lo << 32, 0);
	}
}

/*
 * The lookaside path's operation for one packet (op from the DFE's pool,
 * DFE_COP_PRIV private bytes): the SA's session, decryption or encryption
 * in place of the len bytes at ofs (from the packet's start), the ICV at
 * icv_ofs. The caller writes the nonce at dfe_gcm_op_iv() and the AAD at
 * dfe_gcm_op_aad(): the AAD is always in the op (16 bytes, zero-padded),
 * as lib/ipsec keeps it in a 16-byte buffer of its own, never in the
 * packet's ESP header, for devices that read it with its own alignment.
 */
static inline uint8_t *
dfe_gcm_op_iv(struct rte_crypto_op *op)
{
	return rte_crypto_op_ctod_offset(op, uint8_t *, DFE_IV_OFS);
}

static inline uint8_t *
dfe_gcm_op_aad(struct rte_crypto_op *op)
{
	return rte_crypto_op_ctod_offset(op, uint8_t *, DFE_IV_OFS + 16);
}

static inline void
dfe_gcm_op_fill(struct rte_crypto_op *op, void *cses, struct rte_mbuf *m,
		uint32_t ofs, uint32_t len, uint32_t icv_ofs)
{
	struct rte_crypto_sym_op *sop = op->sym;

	rte_crypto_op_attach_sym_session(op, cses);
	sop->m_src = m;
	sop->aead.data.offset = ofs;
	sop->aead.data.length = len;
	sop->aead.digest.data = rte_pktmbuf_mtod_offset(m, uint8_t *, icv_ofs);
	sop->aead.digest.phys_addr = rte_pktmbuf_iova_offset(m, icv_ofs);
	sop->aead.aad.data = dfe_gcm_op_aad(op);
	sop->aead.aad.phys_addr = rte_crypto_op_ctophys_offset(op,
							DFE_IV_OFS + 16);
}

#endif /* DFE_GCM_H */
