/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_GCM_H
#define DFE_GCM_H

/* The direct GCM path's per-SA state: dfe_gcm.c (inbound, and the SA
 * state of both directions) and dfe_gcm_out.c (outbound). */

#include <string.h>
#include <immintrin.h>
#include <intel-ipsec-mb.h>
#include <rte_common.h>

#define ESP_HDR 8             /* SPI, sequence number */
#define GCM_IV 8              /* RFC 4106 explicit IV */

/*
 * Per SA, in one block: the line read per packet first, then the key
 * schedule and the GHASH keys (intel-ipsec-mb's layout, 64-byte aligned).
 * 'dec' serves an inbound SA, 'enc' an outbound one.
 */
struct dfe_gcm {
	aes_gcm_enc_dec_t dec;
	aes_gcm_enc_dec_t enc;
	uint32_t salt;                /* nonce bytes 0..3, as in the packet */
	uint8_t icv_len;
	uint8_t next_proto;           /* tunnel: IPPROTO_IPIP or IPPROTO_IPV6 */
	struct gcm_key_data key __rte_cache_aligned;
};

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

#endif /* DFE_GCM_H */
