/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_GCM_H
#define DFE_GCM_H

/* The direct GCM path's per-SA state: dfe_gcm.c (inbound, and the SA
 * state of both directions) and dfe_gcm_out.c (outbound). */

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

#endif /* DFE_GCM_H */
