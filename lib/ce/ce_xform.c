/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_crypto.h>

#include "ce_priv.h"

/*
 * The cryptodev transform chain of an SA, in the layout lib/ipsec expects:
 * the IV lives in the crypto op right after the symmetric op (lookaside),
 * AEAD gets an 8-byte AAD (12 with ESN), cipher+auth is verify-then-decrypt
 * inbound and encrypt-then-generate outbound. Keys point into the SA's configuration, which
 * outlives the session creation.
 */
int
ce_xform_inbound(const struct ce_sa_cfg *s, struct ce_xforms *x)
{
	return ce_xform(s, x, false);
}

/* Outbound: encrypt-then-authenticate (cipher, then auth generate). */
int
ce_xform_outbound(const struct ce_sa_cfg *s, struct ce_xforms *x)
{
	return ce_xform(s, x, true);
}

int
ce_xform(const struct ce_sa_cfg *s, struct ce_xforms *x, bool out)
{
	const uint16_t iv_ofs = sizeof(struct rte_crypto_op) +
		sizeof(struct rte_crypto_sym_op);
	struct rte_crypto_sym_xform *a = &x->x[0], *c = &x->x[1];

	memset(x, 0, sizeof(*x));
	x->salt = 0;
	if (s->aead != CE_AEAD_NONE) {
		a->type = RTE_CRYPTO_SYM_XFORM_AEAD;
		a->aead.op = out ? RTE_CRYPTO_AEAD_OP_ENCRYPT :
			RTE_CRYPTO_AEAD_OP_DECRYPT;
		a->aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
		a->aead.key.data = s->key;
		a->aead.key.length = s->key_len - 4;
		a->aead.iv.offset = iv_ofs;
		a->aead.iv.length = 12;
		a->aead.digest_length = 16;
		a->aead.aad_length = s->esn ? 12 : 8;
		memcpy(&x->salt, s->key + s->key_len - 4, 4);
		x->head = a;
		return 0;
	}

	a->type = RTE_CRYPTO_SYM_XFORM_AUTH;
	a->auth.op = out ? RTE_CRYPTO_AUTH_OP_GENERATE :
		RTE_CRYPTO_AUTH_OP_VERIFY;
	a->auth.key.data = (uint8_t *)(uintptr_t)s->auth_key;
	a->auth.key.length = s->auth_key_len;
	switch (s->auth) {
	case CE_AUTH_NULL:
		a->auth.algo = RTE_CRYPTO_AUTH_NULL;
		a->auth.digest_length = 0;
		break;
	case CE_AUTH_SHA256_128:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
		a->auth.digest_length = 16;
		break;
	case CE_AUTH_SHA1_96:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA1_HMAC;
		a->auth.digest_length = 12;
		break;
	case CE_AUTH_SHA384_192:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA384_HMAC;
		a->auth.digest_length = 24;
		break;
	case CE_AUTH_SHA512_256:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA512_HMAC;
		a->auth.digest_length = 32;
		break;
	default:
		return -EINVAL;
	}

	c->type = RTE_CRYPTO_SYM_XFORM_CIPHER;
	c->cipher.op = out ? RTE_CRYPTO_CIPHER_OP_ENCRYPT :
		RTE_CRYPTO_CIPHER_OP_DECRYPT;
	c->cipher.key.data = (uint8_t *)(uintptr_t)s->cipher_key;
	c->cipher.iv.offset = iv_ofs;
	switch (s->cipher) {
	case CE_CIPHER_NULL:
		c->cipher.algo = RTE_CRYPTO_CIPHER_NULL;
		c->cipher.key.length = 0;
		c->cipher.iv.length = 0;
		break;
	case CE_CIPHER_AES128CBC:
	case CE_CIPHER_AES256CBC:
		c->cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
		c->cipher.key.length = s->cipher_key_len;
		c->cipher.iv.length = 16;
		break;
	case CE_CIPHER_AES128CTR:
		c->cipher.algo = RTE_CRYPTO_CIPHER_AES_CTR;
		c->cipher.key.length = s->cipher_key_len - 4;
		c->cipher.iv.length = 16;
		memcpy(&x->salt, s->cipher_key + s->cipher_key_len - 4, 4);
		break;
	default:
		return -EINVAL;
	}
	if (out) {
		c->next = a;
		x->head = c;
	} else {
		a->next = c;
		x->head = a;
	}
	return 0;
}
