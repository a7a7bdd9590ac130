/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inbound ESP with AES-CBC and HMAC-SHA-1/256/384/512 (RFC 3602, 2404, 4868)
 * on intel-ipsec-mb's job API, for tunnel-mode SAs in cpu crypto mode: the
 * "direct CBC path".
 *
 * HMAC runs in intel-ipsec-mb's multi-buffer lanes (16 buffers at once for
 * SHA-256 on AVX-512) and computes only when the lanes are full or flushed.
 * lib/ipsec's cpu-crypto call hands over one SA's group and flushes, so a
 * burst spread over many SAs paid a 16-lane SHA-256 for each packet or two.
 * Here every packet, whatever its SA, goes into the DFE's one manager
 * (dfe_cbc_submit(), called per SA group by inbound()), and the jobs stay
 * there across bursts, as in the aesni_mb PMD: the manager returns them in
 * the order they were submitted, when their lanes have computed, and each
 * burst finishes the groups whose jobs have all come out (dfe_cbc_reap()).
 * A flush, which runs the lanes part empty, comes only when the DFE has no
 * new packets, when a group has waited DFE_CBC_AGE bursts, before a drain
 * the window needs (ESN, lifetimes) and when the manager is full
 * (dfe_cbc_flush()). Flushing at the end of every burst left the last 15 of
 * 32 SHA-256 jobs to the flush (docs/PERFORMANCE.md, step 30).
 *
 * An SA's jobs in the manager count in sa->inflight, as its operations in
 * a crypto device do: the CE frees an SA only once none is left, and an
 * ESN or lifetime-limited SA completes them before its next group. Each
 * group keeps its packets (d->job_m), so the caller's array is free when
 * dfe_cbc_submit() returns. Groups are finished in submission order, so each
 * SA still sees its packets in arrival order.
 *
 * What lib/ipsec checks, this checks, in the same order and with the same
 * drop reasons (the ciphertext a whole number of blocks: malformed before
 * the crypto; ICV; trailer, padding and next header: malformed; the replay
 * window). tests/functional/test_direct_cbc.py runs every kind of input
 * through both paths and compares.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <rte_cryptodev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dfe_fwd.h"
#include "dfe_priv.h"
#include "sg_meta.h"

#define ESP_HDR 8
#define CBC_IV 16
#define CBC_BLOCK 16

/*
 * Per SA: the line read per packet, then the HMAC pad hashes (one line
 * each) and the AES decryption key schedule; the encryption schedule last
 * (key expansion writes it; CBC decryption does not read it).
 */
struct dfe_cbc {
	uint8_t key_len;              /* AES key bytes: 16, 24, 32 */
	uint8_t icv_len;              /* truncated HMAC bytes */
	uint8_t next_proto;           /* IPPROTO_IPIP or IPPROTO_IPV6 */
	int hash;                     /* IMB_HASH_ALG */
	uint8_t ipad[64] __rte_cache_aligned; /* hash state after key ^ ipad */
	uint8_t opad[64] __rte_cache_aligned; /* ... after key ^ opad */
	uint8_t dec_keys[16 * 15] __rte_cache_aligned;
	uint8_t enc_keys[16 * 15] __rte_cache_aligned;
};

int
dfe_cbc_init(struct dfe *d)
{
	const char *e = getenv("SPIGATE_DIRECT_CBC");

	d->direct_cbc = d->imb != NULL && !(e != NULL && strcmp(e, "0") == 0);
	d->cbc_head = d->cbc_tail = 0;
	d->grp_head = d->grp_tail = 0;
	return 0;
}

/* RFC 2104: the hash states after the first block of key ^ ipad and of
 * key ^ opad (what intel-ipsec-mb's HMAC jobs start from). */
static int
hmac_pads(IMB_MGR *mb, int hash, const uint8_t *key, size_t len,
	  struct dfe_cbc *c)
{
	uint8_t k[128], ip[128], op[128];
	size_t bs = hash == IMB_AUTH_HMAC_SHA_384 ||
		hash == IMB_AUTH_HMAC_SHA_512 ? 128 : 64;
	size_t i;

	memset(k, 0, sizeof(k));
	if (len > bs) {
		/* a key longer than the block is hashed first */
		switch (hash) {
		case IMB_AUTH_HMAC_SHA_1:
			IMB_SHA1(mb, key, len, k);
			break;
		case IMB_AUTH_HMAC_SHA_256:
			IMB_SHA256(mb, key, len, k);
			break;
		case IMB_AUTH_HMAC_SHA_384:
			IMB_SHA384(mb, key, len, k);
			break;
		default:
			IMB_SHA512(mb, key, len, k);
			break;
		}
	} else {
		memcpy(k, key, len);
	}
	for (i = 0; i < bs; i++) {
		ip[i] = k[i] ^ 0x36;
		op[i] = k[i] ^ 0x5c;
	}
	switch (hash) {
	case IMB_AUTH_HMAC_SHA_1:
		IMB_SHA1_ONE_BLOCK(mb, ip, c->ipad);
		IMB_SHA1_ONE_BLOCK(mb, op, c->opad);
		break;
	case IMB_AUTH_HMAC_SHA_256:
		IMB_SHA256_ONE_BLOCK(mb, ip, c->ipad);
		IMB_SHA256_ONE_BLOCK(mb, op, c->opad);
		break;
	case IMB_AUTH_HMAC_SHA_384:
		IMB_SHA384_ONE_BLOCK(mb, ip, c->ipad);
		IMB_SHA384_ONE_BLOCK(mb, op, c->opad);
		break;
	default:
		IMB_SHA512_ONE_BLOCK(mb, ip, c->ipad);
		IMB_SHA512_ONE_BLOCK(mb, op, c->opad);
		break;
	}
	explicit_bzero(k, sizeof(k));
	explicit_bzero(ip, sizeof(ip));
	explicit_bzero(op, sizeof(op));
	return 0;
}

/*
 * Build the direct-path state of an inbound tunnel-mode AES-CBC + HMAC SA
 * (the inbound chain is auth (verify) -> cipher (decrypt)). Other SAs keep
 * sa->cbc NULL. 0, or -ENOMEM.
 */
int
dfe_cbc_sa_init(struct dfe *d, struct dfe_sa *sa, const struct dfe_sa_prm *p)
{
	const struct rte_crypto_sym_xform *a = p->xform, *x;
	struct dfe_cbc *c;
	int hash;

	sa->cbc = NULL;
	if (!d->direct_cbc || p->dir != DFE_DIR_IN ||
	    p->mode != DFE_MODE_TUNNEL || a == NULL ||
	    a->type != RTE_CRYPTO_SYM_XFORM_AUTH || (x = a->next) == NULL ||
	    x->next != NULL || x->type != RTE_CRYPTO_SYM_XFORM_CIPHER ||
	    x->cipher.algo != RTE_CRYPTO_CIPHER_AES_CBC ||
	    x->cipher.op != RTE_CRYPTO_CIPHER_OP_DECRYPT ||
	    a->auth.op != RTE_CRYPTO_AUTH_OP_VERIFY)
		return 0;
	switch (a->auth.algo) {
	case RTE_CRYPTO_AUTH_SHA1_HMAC:
		hash = IMB_AUTH_HMAC_SHA_1;
		break;
	case RTE_CRYPTO_AUTH_SHA256_HMAC:
		hash = IMB_AUTH_HMAC_SHA_256;
		break;
	case RTE_CRYPTO_AUTH_SHA384_HMAC:
		hash = IMB_AUTH_HMAC_SHA_384;
		break;
	case RTE_CRYPTO_AUTH_SHA512_HMAC:
		hash = IMB_AUTH_HMAC_SHA_512;
		break;
	default:
		return 0;
	}
	/* the ICVs of RFC 2404 and RFC 4868 (icv_copy()) */
	if ((a->auth.digest_length != 12 && a->auth.digest_length != 16 &&
	     a->auth.digest_length != 24 && a->auth.digest_length != 32) ||
	    (x->cipher.key.length != 16 && x->cipher.key.length != 24 &&
	     x->cipher.key.length != 32))
		return 0;
	c = rte_zmalloc_socket("dfe_cbc", sizeof(*c), RTE_CACHE_LINE_SIZE,
			       d->c.socket);
	if (c == NULL)
		return -ENOMEM;
	c->key_len = (uint8_t)x->cipher.key.length;
	c->icv_len = (uint8_t)a->auth.digest_length;
	c->next_proto = p->inner_family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	c->hash = hash;
	switch (c->key_len) {
	case 16:
		IMB_AES_KEYEXP_128(d->imb, x->cipher.key.data, c->enc_keys,
				   c->dec_keys);
		break;
	case 24:
		IMB_AES_KEYEXP_192(d->imb, x->cipher.key.data, c->enc_keys,
				   c->dec_keys);
		break;
	default:
		IMB_AES_KEYEXP_256(d->imb, x->cipher.key.data, c->enc_keys,
				   c->dec_keys);
		break;
	}
	hmac_pads(d->imb, hash, a->auth.key.data, a->auth.key.length, c);
	sa->cbc = c;
	/* header, ipad, opad, the decryption schedule */
	sa->cses_lines = (UINT32_C(1) << (offsetof(struct dfe_cbc, enc_keys) /
					  RTE_CACHE_LINE_SIZE)) - 1;
	return 0;
}

void
dfe_cbc_sa_free(struct dfe_sa *sa)
{
	dfe_key_free(sa->cbc, sizeof(*sa->cbc));
	sa->cbc = NULL;
}

/* The ICV sizes of the HMACs (12, 16, 24, 32): fixed-size copies, not a
 * call to memcpy() per packet. */
static inline void
icv_copy(uint8_t *dst, const uint8_t *src, unsigned len)
{
	switch (len) {
	case 12:
		memcpy(dst, src, 12);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	case 24:
		memcpy(dst, src, 24);
		break;
	default:	/* 32: dfe_cbc_sa_init() admits no other */
		memcpy(dst, src, 32);
		break;
	}
}

/* A completed job: its status, by the job's slot in d->job_st. */
static inline void
job_done(struct dfe *d, const IMB_JOB *j)
{
	d->job_st[(uintptr_t)j->user_data] =
		j->status == IMB_STATUS_COMPLETED ? 1 : 2;
}

/*
 * Queue the packets of one SA (pre-checked by inbound(): meta->sqn set,
 * NAT-T UDP counted in l3_len) into the DFE's manager. They are finished by
 * dfe_cbc_reap() or dfe_cbc_flush(); mb[] is free again on return. A
 * ciphertext that is not a whole number of blocks is malformed before the
 * crypto, as in lib/ipsec.
 */
void
dfe_cbc_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
	       uint16_t n)
{
	const struct dfe_cbc *c = sa->cbc;
	struct rte_mbuf *bad[SG_BURST];
	struct dfe_defer *g;
	unsigned i, k = 0, nb = 0;

	if (dfe_cbc_pending(d) + n > DFE_CBC_MAX)
		dfe_cbc_flush(d);
	g = &d->defer[d->grp_tail % DFE_DEFER_MAX];
	g->sa = sa;
	g->first = d->cbc_tail;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint32_t hl = m->l2_len + m->l3_len;
		uint8_t *esp = rte_pktmbuf_mtod_offset(m, uint8_t *, hl);
		int32_t clen = (int32_t)m->pkt_len - (int32_t)hl -
			(ESP_HDR + CBC_IV) - (int32_t)c->icv_len;
		unsigned slot = d->cbc_tail % DFE_CBC_MAX;
		uint32_t hlen;
		IMB_JOB *j;

		if (unlikely(m->nb_segs != 1 || clen <= 0 ||
			     (clen & (CBC_BLOCK - 1)) != 0)) {
			bad[nb++] = m;
			continue;
		}
		hlen = ESP_HDR + CBC_IV + (uint32_t)clen;
		if (sa->esn) {
			/* RFC 4303 2.2.1: the high half is authenticated
			 * after the payload, in place of the ICV, which is
			 * kept aside (without ESN finish_group() reads it
			 * in the packet) */
			uint32_t hi = rte_cpu_to_be_32(
				(uint32_t)(sg_meta(m)->sqn >> 32));

			icv_copy(d->job_icv[slot], esp + hlen, c->icv_len);
			memcpy(esp + hlen, &hi, 4);
			hlen += 4;
		}
		j = IMB_GET_NEXT_JOB(d->imb);
		j->enc_keys = c->enc_keys;
		j->dec_keys = c->dec_keys;
		j->key_len_in_bytes = c->key_len;
		j->src = esp;
		j->dst = esp + ESP_HDR + CBC_IV;
		j->cipher_start_src_offset_in_bytes = ESP_HDR + CBC_IV;
		j->msg_len_to_cipher_in_bytes = (uint64_t)clen;
		j->hash_start_src_offset_in_bytes = 0;
		j->msg_len_to_hash_in_bytes = hlen;
		j->iv = esp + ESP_HDR;
		j->iv_len_in_bytes = CBC_IV;
		j->auth_tag_output = d->job_tag[slot];
		j->auth_tag_output_len_in_bytes = c->icv_len;
		j->u.HMAC._hashed_auth_key_xor_ipad = c->ipad;
		j->u.HMAC._hashed_auth_key_xor_opad = c->opad;
		j->cipher_mode = IMB_CIPHER_CBC;
		j->cipher_direction = IMB_DIR_DECRYPT;
		j->hash_alg = (IMB_HASH_ALG)c->hash;
		j->chain_order = IMB_ORDER_HASH_CIPHER;
		j->user_data = (void *)(uintptr_t)slot;
		d->job_st[slot] = 0;
		d->job_m[slot] = m;
		d->cbc_tail++;
		k++;
		for (j = IMB_SUBMIT_JOB(d->imb); j != NULL;
		     j = IMB_GET_COMPLETED_JOB(d->imb))
			job_done(d, j);
	}
	if (unlikely(nb != 0))
		dfe_drop(d, sa, SG_DROP_MALFORMED, bad, nb);
	if (k == 0)
		return;
	g->n = (uint16_t)k;
	g->tick = d->tick;
	d->grp_tail++;
	__atomic_store_n(&sa->inflight, sa->inflight + k, __ATOMIC_RELEASE);
}

/*
 * After the crypto of one group: ICV, trailer, window, strip, forward. A
 * packet that failed whose number the window holds by now is a replay: it
 * passed the pre-check while the packet it repeats was still in the
 * manager (with ESN its ICV fails too: it was verified with the high half
 * of the later number), as on the enqueue/dequeue path (finish() in
 * dfe_inbound.c).
 */
static void
finish_group(struct dfe *d, const struct dfe_defer *g)
{
	struct dfe_sa *sa = g->sa;
	const struct dfe_cbc *c = sa->cbc;
	const struct dfe_selset *ss = __atomic_load_n(&sa->sel,
						      __ATOMIC_ACQUIRE);
	struct dfe_bad bad;
	struct sg_fwd_batch out;
	unsigned i, k = 0;
	uint64_t bytes = 0;

	sg_fwd_init(&out, sa->inner_family);
	dfe_bad_init(&bad);
	for (i = 0; i < g->n; i++) {
		unsigned slot = (g->first + i) % DFE_CBC_MAX;
		struct rte_mbuf *m = d->job_m[slot];
		uint32_t hl = m->l2_len + m->l3_len;
		uint8_t *pt = rte_pktmbuf_mtod_offset(m, uint8_t *,
						      hl + ESP_HDR + CBC_IV);
		uint32_t clen = m->pkt_len - hl - (ESP_HDR + CBC_IV) -
			c->icv_len;

		if (unlikely(d->job_st[slot] != 1 ||
			     !dfe_icv_equal(d->job_tag[slot], sa->esn ?
					    d->job_icv[slot] : pt + clen,
					    c->icv_len))) {
			enum sg_drop why = d->job_st[slot] != 1 ?
				SG_DROP_CRYPTO_ERROR : SG_DROP_AUTH_FAILED;

			if (dfe_replay_check(sa->replay, sg_meta(m)->sqn) != 0)
				why = SG_DROP_REPLAY;
			dfe_bad_put(&bad, m, why);
			continue;
		}
		k += dfe_in_finish(sa, ss, &out, &bad, m, c->next_proto, pt,
				   (int32_t)clen, hl + ESP_HDR + CBC_IV,
				   c->icv_len, &bytes);
	}
	dfe_in_done_fwd(d, sa, &bad, &out, k, bytes);
	/* last: from here on the CE may free the SA */
	__atomic_store_n(&sa->inflight, sa->inflight - g->n, __ATOMIC_RELEASE);
}

/* The groups whose jobs have all come out of the manager, in order. */
static unsigned
reap(struct dfe *d)
{
	unsigned done = 0;

	while (d->grp_head != d->grp_tail) {
		const struct dfe_defer *g = &d->defer[d->grp_head %
						      DFE_DEFER_MAX];

		/* in order: the group's last job out means all of it */
		if (d->job_st[(g->first + g->n - 1) % DFE_CBC_MAX] == 0)
			break;
		finish_group(d, g);
		d->cbc_head = g->first + g->n;
		d->grp_head++;
		done += g->n;
	}
	return done;
}

/*
 * After a burst: finish, in submission order, the groups whose jobs have
 * all come out of the manager; the others wait for later bursts' jobs to
 * fill the lanes, but no more than DFE_CBC_AGE bursts: with few CBC
 * packets among other traffic the lanes would not fill for long, and the
 * ring never empties (which flushes them too, dfe_poll()). Returns the
 * packets finished.
 */
unsigned
dfe_cbc_reap(struct dfe *d)
{
	unsigned done = reap(d);

	if (d->grp_head != d->grp_tail &&
	    (uint16_t)(d->tick - d->defer[d->grp_head % DFE_DEFER_MAX].tick) >=
	    DFE_CBC_AGE)
		done += dfe_cbc_flush(d);
	return done;
}

/* Flush the lanes, then finish every group. Returns the packets finished. */
unsigned
dfe_cbc_flush(struct dfe *d)
{
	const IMB_JOB *j;
	unsigned done;

	if (d->grp_head == d->grp_tail)
		return 0;
	while ((j = IMB_FLUSH_JOB(d->imb)) != NULL)
		job_done(d, j);
	done = reap(d);
	RTE_ASSERT(d->grp_head == d->grp_tail && d->cbc_head == d->cbc_tail);
	return done;
}
