/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESP with AES-CBC and HMAC-SHA-1/256/384/512 (RFC 3602, 2404, 4868) on
 * intel-ipsec-mb's job API, for tunnel-mode SAs in cpu crypto mode, both
 * directions: the "direct CBC path". The same SAs in lookaside mode take
 * the DFE's own operations on the crypto device ("Lookaside mode" below),
 * with the same packets and checks.
 *
 * HMAC, and CBC encryption, run in intel-ipsec-mb's multi-buffer lanes
 * (16 buffers at once for SHA-256 on AVX-512) and compute only when the
 * lanes are full or flushed. lib/ipsec's cpu-crypto call hands over one
 * SA's group and flushes, so a burst spread over many SAs paid a 16-lane
 * SHA-256 for each packet or two. Here every packet, whatever its SA and
 * direction, goes into the DFE's one manager (dfe_cbc_submit(), called per
 * SA group by inbound(); dfe_cbc_outbound(), by dfe_outbound()'s
 * encrypt()), and the jobs stay there across bursts, as in the aesni_mb
 * PMD: the manager returns them in the order they were submitted, when
 * their lanes have computed, and each burst finishes the groups whose jobs
 * have all come out (dfe_cbc_reap()). A flush, which runs the lanes part
 * empty, comes only when the DFE has no new packets, after a burst that
 * submitted no job, when a group has waited DFE_CBC_AGE bursts, before a
 * drain the window needs (ESN, lifetimes) and when the manager is full
 * (dfe_cbc_flush()). Flushing at the end of every burst left the last 15 of
 * 32 SHA-256 jobs to the flush (docs/PERFORMANCE.md, step 30); flushing
 * after 2 bursts cost outbound IMIX, where a long packet holds back the
 * ones behind it for many bursts, 15% (step 31).
 *
 * An SA's jobs in the manager count in sa->inflight, as its operations in
 * a crypto device do: the CE frees an SA only once none is left, and an
 * ESN or lifetime-limited inbound SA completes them before its next group.
 * Each group keeps its packets (d->job_m), so the caller's array is free
 * when the submitting call returns. Groups are finished in submission
 * order, so each SA still sees its packets in arrival order.
 *
 * What lib/ipsec checks, this checks, in the same order and with the same
 * drop reasons (inbound: the ciphertext a whole number of blocks:
 * malformed before the crypto; ICV; trailer, padding and next header:
 * malformed; the replay window), and what lib/ipsec sends, this sends, byte
 * for byte (outbound: dfe_cbc_outbound()). tests/functional/
 * test_direct_cbc.py and test_direct_cbc_out.py run every kind of input
 * through both paths and compare.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <rte_common.h>
#include <rte_cryptodev.h>
#include <rte_cycles.h>
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
 * each) and the AES key schedules, decryption (inbound) and encryption
 * (outbound; key expansion writes both, each direction reads one).
 */
struct dfe_cbc {
	uint8_t key_len;              /* AES key bytes: 16, 24, 32 */
	uint8_t icv_len;              /* truncated HMAC bytes */
	uint8_t next_proto;           /* IPPROTO_IPIP or IPPROTO_IPV6 */
	int hash;                     /* IMB_HASH_ALG */
	IMB_MGR *mgr;                 /* cpu mode: the manager of its jobs */
	bool split;                   /* inbound, long packets: decryption
				       * on d->imb_dec (split_dec()) */
	uint8_t ipad[64] __rte_cache_aligned; /* hash state after key ^ ipad */
	uint8_t opad[64] __rte_cache_aligned; /* ... after key ^ opad */
	uint8_t dec_keys[16 * 15] __rte_cache_aligned;
	uint8_t enc_keys[16 * 15] __rte_cache_aligned;
};

/* lookaside mode: the keys are in the crypto session, the block ends
 * before them */
#define DFE_CBC_HEAD offsetof(struct dfe_cbc, ipad)

/* the manager holds every job the DFE keeps in it */
_Static_assert(DFE_CBC_MAX <= IMB_MAX_JOBS, "DFE_CBC_MAX above IMB_MAX_JOBS");

/* the cache line of a field of struct dfe_cbc; lines of a key schedule */
#define LINE(f) (offsetof(struct dfe_cbc, f) / RTE_CACHE_LINE_SIZE)
#define SCHED_LINES ((16 * 15 + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE)

static int sha_engine(struct dfe *d);
static int split_init(struct dfe *d);

/* inbound ciphertext bytes from which decryption is a job of its own
 * (split_init()) */
#define CBC_SPLIT 512

int
dfe_cbc_init(struct dfe *d)
{
	const char *e = getenv("SPIGATE_DIRECT_CBC");

	/* cpu mode: intel-ipsec-mb's manager (dfe_gcm_init()); lookaside
	 * mode: the device */
	d->direct_cbc = (d->imb != NULL ||
			 d->c.crypto == DFE_CRYPTO_LOOKASIDE) &&
		!(e != NULL && strcmp(e, "0") == 0);
	d->cbc_head = d->cbc_tail = d->cbc_mark = 0;
	d->grp_head = d->grp_tail = 0;
	d->imb_sha = d->imb;
	d->imb_dec = NULL;
	if (d->direct_cbc && d->imb != NULL)
		return sha_engine(d);
	return 0;
}

void
dfe_cbc_fini(struct dfe *d)
{
	if (d->imb_sha != NULL && d->imb_sha != d->imb)
		free_mb_mgr(d->imb_sha);
	if (d->imb_dec != NULL)
		free_mb_mgr(d->imb_dec);
	d->imb_sha = d->imb_dec = NULL;
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

/* A job's fields for one ESP packet (submit(), and sha_engine()'s
 * timing): see submit(). */
static inline void
job_fill(IMB_JOB *j, const struct dfe_cbc *c, uint8_t *esp, uint32_t cofs,
	 uint32_t clen, const uint8_t *iv, uint32_t hlen, uint8_t *tag,
	 bool enc)
{
	j->enc_keys = c->enc_keys;
	j->dec_keys = c->dec_keys;
	j->key_len_in_bytes = c->key_len;
	j->src = esp;
	j->dst = esp + cofs;
	j->cipher_start_src_offset_in_bytes = cofs;
	j->msg_len_to_cipher_in_bytes = clen;
	j->hash_start_src_offset_in_bytes = 0;
	j->msg_len_to_hash_in_bytes = hlen;
	j->iv = iv;
	j->iv_len_in_bytes = CBC_IV;
	j->auth_tag_output = tag;
	j->auth_tag_output_len_in_bytes = c->icv_len;
	j->u.HMAC._hashed_auth_key_xor_ipad = c->ipad;
	j->u.HMAC._hashed_auth_key_xor_opad = c->opad;
	j->cipher_mode = IMB_CIPHER_CBC;
	j->cipher_direction = enc ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
	j->hash_alg = (IMB_HASH_ALG)c->hash;
	j->chain_order = enc ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
}

/* sha_engine()'s jobs: ESP packets of an IMIX (by count 7 x 64, 4 x 576,
 * 1 x 1,420 inner bytes), once decrypted and verified, once encrypted and
 * signed, AES-128-CBC and HMAC-SHA-256-128; CAL_PASSES times over, the
 * lanes flushed only at the end, as the direct CBC path keeps its jobs in
 * the lanes across bursts (a flush per 24 jobs would favour the SHA
 * extensions' two lanes over AVX-512's 16) */
static const uint16_t imix_len[] = {
	64, 576, 64, 64, 576, 64, 1420, 64, 576, 64, 64, 576
};
#define CAL_JOBS (2 * RTE_DIM(imix_len))
#define CAL_PASSES 8
#define CAL_BUF 1536
#define CAL_ROUNDS 16

/* The TSC cycles of one round of the timing jobs on manager m. */
static uint64_t
cal_round(IMB_MGR *m, const struct dfe_cbc *c, uint8_t *buf)
{
	uint64_t t = rte_rdtsc_precise();
	unsigned i;

	for (i = 0; i < CAL_PASSES * CAL_JOBS; i++) {
		unsigned k = i % CAL_JOBS;
		uint32_t clen = RTE_ALIGN_CEIL(imix_len[k % RTE_DIM(imix_len)] +
					       2u, CBC_BLOCK);
		uint8_t *esp = buf + k * CAL_BUF;
		IMB_JOB *j = IMB_GET_NEXT_JOB(m);

		job_fill(j, c, esp, ESP_HDR + CBC_IV, clen, esp + ESP_HDR,
			 ESP_HDR + CBC_IV + clen, esp + CAL_BUF - 32,
			 k >= RTE_DIM(imix_len));
		for (j = IMB_SUBMIT_JOB(m); j != NULL;
		     j = IMB_GET_COMPLETED_JOB(m))
			;
	}
	while (IMB_FLUSH_JOB(m) != NULL)
		;
	while (IMB_GET_COMPLETED_JOB(m) != NULL)
		;
	return rte_rdtsc_precise() - t;
}

/* the choice of the process's first DFE, for every DFE: -1 not made yet,
 * 0 d->imb, 1 the SSE manager; and its timing (0 if not timed) */
static int sha_sse = -1;
static uint64_t sha_cyc[2];

/*
 * The manager of the HMAC-SHA-1 and HMAC-SHA-256 jobs (d->imb_sha).
 * dfe_gcm_init()'s, chosen by init_mb_mgr_auto() (AVX-512 with VAES on a
 * CPU that has it), hashes 16 buffers at once in AVX-512 lanes;
 * intel-ipsec-mb 1.3 uses the CPU's SHA extensions only in its SSE
 * manager (two buffers interleaved, AES-NI 128 bits wide). Which is faster
 * depends on the core: on one that splits 512-bit operations in two the
 * SHA extensions win (docs/PERFORMANCE.md, step 35). So, on a CPU with
 * the SHA extensions, the process's first DFE times the same jobs on both
 * managers, the best of CAL_ROUNDS rounds each, alternated, and every DFE
 * takes the faster, as Linux chooses its RAID-6 code at boot (a few
 * milliseconds). Both produce the same bytes: only the speed differs.
 * SPIGATE_CBC_SHA=auto or sse sets the choice without timing. SHA-384 and
 * SHA-512 have no such instructions: their jobs stay on d->imb (their SAs
 * keep their manager in dfe_cbc.mgr, and each group's jobs are in one
 * manager, so reap()'s in-order test holds). 0, or -ENOMEM.
 */
static int
sha_engine(struct dfe *d)
{
	const char *e = getenv("SPIGATE_CBC_SHA");
	IMB_MGR *sse;

	if (sha_sse == 0 || !(d->imb->features & IMB_FEATURE_SHANI) ||
	    d->imb_arch == IMB_ARCH_SSE || (e != NULL && strcmp(e, "auto") == 0))
		return 0;
	sse = alloc_mb_mgr(0);
	if (sse == NULL)
		return -ENOMEM;
	init_mb_mgr_sse(sse);
	if (imb_get_errno(sse) != 0) {
		free_mb_mgr(sse);
		return 0;
	}
	if (sha_sse < 0 && e != NULL && strcmp(e, "sse") == 0) {
		sha_sse = 1;
	} else if (sha_sse < 0) {
		static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
		struct dfe_cbc c;
		uint8_t *buf = rte_zmalloc_socket("dfe_cal", CAL_JOBS * CAL_BUF,
						  RTE_CACHE_LINE_SIZE,
						  d->c.socket);
		unsigned r;

		if (buf == NULL) {
			free_mb_mgr(sse);
			return -ENOMEM;
		}
		memset(&c, 0, sizeof(c));
		c.key_len = 16;
		c.icv_len = 16;
		c.hash = IMB_AUTH_HMAC_SHA_256;
		IMB_AES_KEYEXP_128(d->imb, key, c.enc_keys, c.dec_keys);
		hmac_pads(d->imb, c.hash, key, sizeof(key), &c);
		/* a round each first, not counted: code and data in cache */
		cal_round(d->imb, &c, buf);
		cal_round(sse, &c, buf);
		sha_cyc[0] = sha_cyc[1] = UINT64_MAX;
		for (r = 0; r < CAL_ROUNDS; r++) {
			sha_cyc[0] = RTE_MIN(sha_cyc[0], cal_round(d->imb, &c,
								   buf));
			sha_cyc[1] = RTE_MIN(sha_cyc[1], cal_round(sse, &c,
								   buf));
		}
		rte_free(buf);
		sha_sse = sha_cyc[1] < sha_cyc[0];
	}
	if (sha_sse != 1) {
		free_mb_mgr(sse);
		return 0;
	}
	d->imb_sha = sse;
	return split_init(d);
}

/*
 * With the HMAC on the SSE manager, AES-CBC runs 128 bits wide there; on
 * AVX-512 with VAES it decrypts 4 blocks an instruction: for a 1,440-byte
 * ciphertext 181 cycles against 361 (intel-ipsec-mb 1.3, AMD family 25,
 * cipher-only jobs). So an inbound packet with at least CBC_SPLIT bytes of
 * ciphertext gets two jobs: its HMAC on the SSE manager, then, once that
 * has completed, its decryption on d->imb_dec, a manager of its own
 * (split_dec()). CBC decryption is not multi-buffer: that job completes
 * as it is submitted, so the packet is done when its HMAC is, in the SSE
 * manager's order, and reap()'s in-order test holds. Below CBC_SPLIT the
 * second job costs more than it saves (docs/PERFORMANCE.md, step 36).
 * Outbound, CBC encryption is multi-buffer (it waits for its lanes before
 * the HMAC could start): split that way it was slower (step 36), so it is
 * not split. SPIGATE_CBC_SPLIT=0 turns it off.
 * 0, or -ENOMEM.
 */
static int
split_init(struct dfe *d)
{
	const char *e = getenv("SPIGATE_CBC_SPLIT");

	if (d->imb_arch != IMB_ARCH_AVX512 ||
	    !(d->imb->features & IMB_FEATURE_VAES) ||
	    (e != NULL && strcmp(e, "0") == 0))
		return 0;
	d->imb_dec = alloc_mb_mgr(0);
	if (d->imb_dec == NULL)
		return -ENOMEM;
	init_mb_mgr_avx512(d->imb_dec);
	if (imb_get_errno(d->imb_dec) != 0) {
		free_mb_mgr(d->imb_dec);
		d->imb_dec = NULL;
	}
	return 0;
}

static const char *
arch_name(int arch)
{
	switch (arch) {
	case IMB_ARCH_SSE:
		return "sse";
	case IMB_ARCH_AVX:
		return "avx";
	case IMB_ARCH_AVX2:
		return "avx2";
	case IMB_ARCH_AVX512:
		return "avx512";
	default:
		return "none";
	}
}

void
dfe_engines(const struct dfe *d, struct dfe_engines *en)
{
	memset(en, 0, sizeof(*en));
	if (d->imb == NULL)
		return;
	en->aes = arch_name(d->imb_arch);
	en->sha = d->imb_sha != d->imb ? "sse" : en->aes;
	en->sha_ext = (d->imb->features & IMB_FEATURE_SHANI) &&
		(d->imb_sha != d->imb || d->imb_arch == IMB_ARCH_SSE);
	en->split = d->imb_dec != NULL ? CBC_SPLIT : 0;
	en->cycles[0] = sha_cyc[0];
	en->cycles[1] = sha_cyc[1];
}

/*
 * Build the direct-path state of a tunnel-mode AES-CBC + HMAC SA: inbound,
 * the chain auth (verify) -> cipher (decrypt); outbound, cipher (encrypt)
 * -> auth (generate). In cpu mode the keys for intel-ipsec-mb's jobs; in
 * lookaside mode the head only and sa->lksd = DFE_LKSD_CBC, the caller
 * then creating the crypto session (the DFE's own operations: "Lookaside
 * mode" below). Other SAs keep sa->cbc NULL. 0, or -ENOMEM.
 */
int
dfe_cbc_sa_init(struct dfe *d, struct dfe_sa *sa, const struct dfe_sa_prm *p)
{
	const bool in = p->dir == DFE_DIR_IN;
	const bool lksd = d->c.crypto == DFE_CRYPTO_LOOKASIDE;
	const struct rte_crypto_sym_xform *a, *x, *last;
	struct dfe_cbc *c;
	uint16_t icv;
	int hash;

	sa->cbc = NULL;
	if (!d->direct_cbc || p->mode != DFE_MODE_TUNNEL || p->xform == NULL ||
	    p->xform->next == NULL)
		return 0;
	a = in ? p->xform : p->xform->next;
	x = in ? p->xform->next : p->xform;
	last = p->xform->next;
	if (last->next != NULL || a->type != RTE_CRYPTO_SYM_XFORM_AUTH ||
	    x->type != RTE_CRYPTO_SYM_XFORM_CIPHER ||
	    x->cipher.algo != RTE_CRYPTO_CIPHER_AES_CBC ||
	    x->cipher.op != (in ? RTE_CRYPTO_CIPHER_OP_DECRYPT :
			     RTE_CRYPTO_CIPHER_OP_ENCRYPT) ||
	    a->auth.op != (in ? RTE_CRYPTO_AUTH_OP_VERIFY :
			   RTE_CRYPTO_AUTH_OP_GENERATE))
		return 0;
	/*
	 * Each HMAC with its ICV of RFC 2404 and RFC 4868 (icv_copy()), and
	 * the AES key sizes: the jobs go in unchecked (submit()), so the
	 * parameters intel-ipsec-mb would check are checked here, once.
	 * Anything else takes lib/ipsec's path.
	 */
	switch (a->auth.algo) {
	case RTE_CRYPTO_AUTH_SHA1_HMAC:
		hash = IMB_AUTH_HMAC_SHA_1;
		icv = 12;
		break;
	case RTE_CRYPTO_AUTH_SHA256_HMAC:
		hash = IMB_AUTH_HMAC_SHA_256;
		icv = 16;
		break;
	case RTE_CRYPTO_AUTH_SHA384_HMAC:
		hash = IMB_AUTH_HMAC_SHA_384;
		icv = 24;
		break;
	case RTE_CRYPTO_AUTH_SHA512_HMAC:
		hash = IMB_AUTH_HMAC_SHA_512;
		icv = 32;
		break;
	default:
		return 0;
	}
	if (a->auth.digest_length != icv ||
	    (x->cipher.key.length != 16 && x->cipher.key.length != 24 &&
	     x->cipher.key.length != 32))
		return 0;
	/* lookaside: the operations carry the IV where the session
	 * (ce_xform()) says */
	if (lksd && (x->cipher.iv.offset != DFE_IV_OFS ||
		     x->cipher.iv.length != CBC_IV))
		return 0;
	c = rte_zmalloc_socket("dfe_cbc", lksd ? DFE_CBC_HEAD : sizeof(*c),
			       RTE_CACHE_LINE_SIZE, d->c.socket);
	if (c == NULL)
		return -ENOMEM;
	c->key_len = (uint8_t)x->cipher.key.length;
	c->icv_len = (uint8_t)a->auth.digest_length;
	c->next_proto = p->inner_family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	c->hash = hash;
	sa->cbc = c;
	if (lksd) {
		sa->lksd = DFE_LKSD_CBC;
		return 0;
	}
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
	c->mgr = hash == IMB_AUTH_HMAC_SHA_1 || hash == IMB_AUTH_HMAC_SHA_256 ?
		d->imb_sha : d->imb;
	c->split = in && d->imb_dec != NULL && c->mgr == d->imb_sha;
	/* header, ipad and opad, then the key schedule of the direction */
	sa->cses_lines = ((UINT32_C(1) << LINE(dec_keys)) - 1) |
		(((UINT32_C(1) << SCHED_LINES) - 1) <<
		 (in ? LINE(dec_keys) : LINE(enc_keys)));
	return 0;
}

void
dfe_cbc_sa_free(struct dfe_sa *sa)
{
	dfe_key_free(sa->cbc, sa->lksd == DFE_LKSD_CBC ? DFE_CBC_HEAD :
		     sizeof(*sa->cbc));
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

/*
 * The decryption of a split packet whose HMAC job j has completed (the
 * only jobs without a cipher in the DFE's managers; split_init()): the
 * same cipher fields, now on d->imb_dec, where it completes as it is
 * submitted. It runs whatever the ICV, which finish_group() checks, as
 * in a chained job. The packet's status: 1 done, 2 failed.
 */
static uint8_t
split_dec(struct dfe *d, const IMB_JOB *j)
{
	IMB_MGR *m = d->imb_dec;
	IMB_JOB *x = IMB_GET_NEXT_JOB(m);

	x->enc_keys = j->enc_keys;
	x->dec_keys = j->dec_keys;
	x->key_len_in_bytes = j->key_len_in_bytes;
	x->src = j->src;
	x->dst = j->dst;
	x->cipher_start_src_offset_in_bytes =
		j->cipher_start_src_offset_in_bytes;
	x->msg_len_to_cipher_in_bytes = j->msg_len_to_cipher_in_bytes;
	x->iv = j->iv;
	x->iv_len_in_bytes = CBC_IV;
	x->cipher_mode = IMB_CIPHER_CBC;
	x->cipher_direction = IMB_DIR_DECRYPT;
	x->hash_alg = IMB_AUTH_NULL;
	x->chain_order = IMB_ORDER_HASH_CIPHER;
	x = IMB_SUBMIT_JOB_NOCHECK(m);
	if (unlikely(x == NULL))	/* not with intel-ipsec-mb 1.3 */
		x = IMB_FLUSH_JOB(m);
	return x != NULL && x->status == IMB_STATUS_COMPLETED ? 1 : 2;
}

/* A completed job: its status, by the job's slot in d->job_st; a split
 * packet's HMAC job first has its decryption run. */
static inline void
job_done(struct dfe *d, const IMB_JOB *j)
{
	uint8_t st = j->status == IMB_STATUS_COMPLETED ? 1 : 2;

	if (j->cipher_mode == IMB_CIPHER_NULL && st == 1)
		st = split_dec(d, j);
	d->job_st[(uintptr_t)j->user_data] = st;
}

/*
 * One packet's job into the manager, in the next slot (d->cbc_tail): the
 * cipher over clen bytes from esp + cofs, in place, from the IV at iv;
 * the HMAC over hlen bytes from esp, its ICV to tag; decryption after the
 * HMAC (from CBC_SPLIT bytes on, for an SA with c->split, a job of its
 * own: split_dec()), or encryption before it. The jobs the manager
 * returns are marked done (job_done()).
 *
 * Submitted without intel-ipsec-mb's parameter check (as the aesni_mb PMD
 * does; 6% of a 64-byte packet, docs/PERFORMANCE.md, step 32): what it
 * checks holds by construction. The algorithms, key and ICV sizes are
 * checked at install (dfe_cbc_sa_init()); the cipher length is a whole
 * number of blocks, not 0 (checked inbound before submit, padded so
 * outbound), the pointers are the packet's one buffer and the SA's.
 */
static inline void
submit(struct dfe *d, const struct dfe_cbc *c, struct rte_mbuf *m,
       uint8_t *esp, uint32_t cofs, uint32_t clen, const uint8_t *iv,
       uint32_t hlen, uint8_t *tag, bool enc)
{
	unsigned slot = d->cbc_tail % DFE_CBC_MAX;
	IMB_MGR *mgr = c->mgr;
	IMB_JOB *j = IMB_GET_NEXT_JOB(mgr);

	job_fill(j, c, esp, cofs, clen, iv, hlen, tag, enc);
	/* the HMAC only: decryption after it (split_dec()) */
	if (c->split && clen >= CBC_SPLIT)
		j->cipher_mode = IMB_CIPHER_NULL;
	j->user_data = (void *)(uintptr_t)slot;
	d->job_st[slot] = 0;
	d->job_m[slot] = m;
	d->cbc_tail++;
	for (j = IMB_SUBMIT_JOB_NOCHECK(mgr); j != NULL;
	     j = IMB_GET_COMPLETED_JOB(mgr))
		job_done(d, j);
}

/* A group of n jobs of one SA from 'first' on: in the manager, counted in
 * the SA's in-flight operations until finish_group(). */
static inline void
group_add(struct dfe *d, struct dfe_sa *sa, uint32_t first, unsigned n)
{
	struct dfe_defer *g = &d->defer[d->grp_tail % DFE_DEFER_MAX];

	g->sa = sa;
	g->first = first;
	g->n = (uint16_t)n;
	g->tick = d->tick;
	d->grp_tail++;
	__atomic_store_n(&sa->inflight, sa->inflight + n, __ATOMIC_RELEASE);
}

/*
 * An inbound packet (data at the L2 header, NAT-T UDP counted in l3_len):
 * its ESP header at *esp, and the bytes its HMAC covers (ESP header, IV,
 * ciphertext); 0 if lib/ipsec calls it malformed before the crypto: more
 * than one segment, no ciphertext, or not a whole number of blocks.
 */
static inline uint32_t
in_span(const struct dfe_cbc *c, struct rte_mbuf *m, uint8_t **esp)
{
	uint32_t hl = m->l2_len + m->l3_len;
	int32_t clen = (int32_t)m->pkt_len - (int32_t)hl -
		(ESP_HDR + CBC_IV) - (int32_t)c->icv_len;

	*esp = rte_pktmbuf_mtod_offset(m, uint8_t *, hl);
	if (unlikely(m->nb_segs != 1 || clen <= 0 ||
		     (clen & (CBC_BLOCK - 1)) != 0))
		return 0;
	return ESP_HDR + CBC_IV + (uint32_t)clen;
}

/*
 * Lookaside mode (sa->lksd DFE_LKSD_CBC): the DFE's own operations on the
 * crypto device, through the SA's session (the chain of dfe_cbc_sa_init()'s
 * comment), instead of lib/ipsec's: the same packets, checks and drop
 * reasons as the cpu-mode path above, without lib/ipsec's prepare and
 * process (about 40 cycles a packet on the lookaside GCM path, step 26 of
 * docs/PERFORMANCE.md). The device keeps the crypto and verifies the ICV;
 * the IV is in the operation's private area (DFE_IV_OFS), and an inbound
 * ESN packet's ICV after it. The completions come back through
 * dfe_lksd_drain(), grouped by SA, to dfe_cbc_lksd_finish().
 */
static inline uint8_t *
op_iv(struct rte_crypto_op *op)
{
	return rte_crypto_op_ctod_offset(op, uint8_t *, DFE_IV_OFS);
}

/* An operation over the ESP packet at esp_ofs: the cipher over clen bytes
 * from esp_ofs + cofs, the HMAC over hlen bytes from esp_ofs, its ICV at
 * icv (generated or verified, as the session says). */
static inline void
op_fill(struct rte_crypto_op *op, void *cses, struct rte_mbuf *m,
	uint32_t esp_ofs, uint32_t cofs, uint32_t clen, uint32_t hlen,
	uint8_t *icv, rte_iova_t icv_iova)
{
	struct rte_crypto_sym_op *sop = op->sym;

	rte_crypto_op_attach_sym_session(op, cses);
	sop->m_src = m;
	sop->cipher.data.offset = esp_ofs + cofs;
	sop->cipher.data.length = clen;
	sop->auth.data.offset = esp_ofs;
	sop->auth.data.length = hlen;
	sop->auth.digest.data = icv;
	sop->auth.digest.phys_addr = icv_iova;
}

_Static_assert(DFE_COP_PRIV >= CBC_IV + 32, "IV and ICV in the op");

/*
 * Inbound packets of one SA, pre-checked as for dfe_cbc_submit(), as one
 * operation each: the IV copied into the operation (as lib/ipsec does);
 * with ESN the ICV too, the high half written where it was.
 */
void
dfe_cbc_lksd_submit(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n)
{
	const struct dfe_cbc *c = sa->cbc;
	struct rte_crypto_op *cop[SG_BURST];
	struct rte_mbuf *bad[SG_BURST];
	unsigned i, j = 0, nb = 0;

	if (!dfe_cop_alloc(d, sa, cop, mb, n))
		return;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint32_t hl = m->l2_len + m->l3_len;
		uint8_t *esp, *iv = op_iv(cop[j]);
		uint32_t hlen = in_span(c, m, &esp), clen;

		if (unlikely(hlen == 0)) {
			bad[nb++] = m;
			continue;
		}
		clen = hlen - (ESP_HDR + CBC_IV);
		memcpy(iv, esp + ESP_HDR, CBC_IV);
		if (sa->esn) {
			uint32_t hi = rte_cpu_to_be_32(
				(uint32_t)(sg_meta(m)->sqn >> 32));

			icv_copy(iv + CBC_IV, esp + hlen, c->icv_len);
			memcpy(esp + hlen, &hi, 4);
			op_fill(cop[j], sa->cses, m, hl, ESP_HDR + CBC_IV,
				clen, hlen + 4, iv + CBC_IV,
				rte_crypto_op_ctophys_offset(cop[j],
						DFE_IV_OFS + CBC_IV));
		} else {
			op_fill(cop[j], sa->cses, m, hl, ESP_HDR + CBC_IV,
				clen, hlen, esp + hlen,
				rte_pktmbuf_iova_offset(m, hl + hlen));
		}
		mb[j++] = m;
	}
	if (unlikely(nb != 0)) {
		rte_mempool_put_bulk(d->c.cop_pool, (void **)&cop[j], n - j);
		dfe_drop(d, sa, SG_DROP_MALFORMED, bad, nb);
	}
	if (j != 0)
		dfe_lksd_enqueue(d, sa, cop, (uint16_t)j);
}

/*
 * Completed operations of one SA, in submission order (a failed one is
 * flagged RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED). Inbound as the lookaside GCM
 * path (dfe_lksd_finish_in()); outbound, with ESN the ICV moved over the
 * high half it covered, a failed operation crypto_error, then out.
 */
void
dfe_cbc_lksd_finish(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n)
{
	const unsigned icv_len = sa->cbc->icv_len;
	struct rte_mbuf *bad[SG_BURST];
	uint16_t i, k = 0, nb = 0;

	if (sa->dir == DFE_DIR_IN) {
		dfe_lksd_finish_in(d, sa, mb, n, sa->cbc->next_proto, CBC_IV,
				   icv_len);
		return;
	}
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];

		if (unlikely(m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED)) {
			bad[nb++] = m;
			continue;
		}
		if (sa->esn) {
			uint8_t *icv = rte_pktmbuf_mtod_offset(m, uint8_t *,
					m->data_len - icv_len);

			memmove(icv, icv + 4, icv_len);
		}
		mb[k++] = m;
	}
	dfe_drop(d, sa, SG_DROP_CRYPTO_ERROR, bad, nb);
	if (k != 0)
		dfe_outbound_tx(d, sa, mb, k);
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
	uint32_t first;
	unsigned i, k = 0, nb = 0;

	if (dfe_cbc_pending(d) + n > DFE_CBC_MAX)
		dfe_cbc_flush(d);
	first = d->cbc_tail;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		unsigned slot = d->cbc_tail % DFE_CBC_MAX;
		uint8_t *esp;
		uint32_t hlen = in_span(c, m, &esp);

		if (unlikely(hlen == 0)) {
			bad[nb++] = m;
			continue;
		}
		if (sa->esn) {
			/* RFC 4303 2.2.1: the high half is authenticated
			 * after the payload, in place of the ICV, which is
			 * kept aside (without ESN finish_group() reads it
			 * in the packet) */
			uint32_t hi = rte_cpu_to_be_32(
				(uint32_t)(sg_meta(m)->sqn >> 32));

			icv_copy(d->job_icv[slot], esp + hlen, c->icv_len);
			memcpy(esp + hlen, &hi, 4);
		}
		/* the IV is in the packet; HMAC, then decryption */
		submit(d, c, m, esp, ESP_HDR + CBC_IV,
		       hlen - (ESP_HDR + CBC_IV), esp + ESP_HDR,
		       hlen + (sa->esn ? 4 : 0), d->job_tag[slot], false);
		k++;
	}
	if (unlikely(nb != 0))
		dfe_drop(d, sa, SG_DROP_MALFORMED, bad, nb);
	if (k != 0)
		group_add(d, sa, first, k);
}

/* RFC 4303 2.4's default padding, 1, 2, 3, ..., as lib/ipsec writes it */
static const uint8_t esp_pad[CBC_BLOCK] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* lib/ipsec's CBC IV (below): the seed is encrypted from a zero IV */
static const uint8_t zero_iv[CBC_IV] __rte_aligned(16);

/*
 * Encapsulate packets of one outbound SA that passed dfe_outbound() (data
 * at the L2 header), numbered sa->out_sqn - n + 1 .. sa->out_sqn, and
 * queue their encryption and HMAC into the DFE's manager; finish_out()
 * sends them (lookaside mode: one operation each on the device, sent by
 * dfe_cbc_lksd_finish()). The packet is the one lib/ipsec builds (DPDK 22.11
 * esp_outb.c, outb_tun_pkt_prepare() and outb_pkt_xprepare()), byte for
 * byte, with the drop reasons of the enqueue/dequeue path it took before
 * (tests/functional/test_direct_cbc_out.py compares the two):
 *
 * - the IV field holds a seed, the 64-bit sequence number then 8 zero
 *   bytes (gen_iv()), and the cipher runs from the IV field on with a zero
 *   IV (dfe_cbc_iv_fix()): the IV on the wire is E_K(seed), unique per
 *   packet and unpredictable without the key (RFC 3602 2.3), and the
 *   payload is CBC-encrypted from it;
 * - padding 1, 2, 3, ... to 16 bytes, pad length, next header; the HMAC
 *   over ESP header, IV and ciphertext, with ESN the high half of the
 *   sequence number after them (RFC 4303 2.2.1: written where the ICV
 *   goes, the ICV computed aside and copied over it once done);
 * - the tail room lib/ipsec wants: padding, trailer, ICV and with ESN the
 *   high half; without it the packet is no_mbuf, as is the packet that
 *   would carry 2^32 - 1 without ESN. Multi-segment mbufs are malformed,
 *   as on the direct GCM path.
 */
void
dfe_cbc_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		 uint16_t n)
{
	const struct dfe_cbc *c = sa->cbc;
	const uint32_t hl = sa->hdr_len, icv_len = c->icv_len;
	const uint32_t sqh = sa->esn ? 4 : 0;
	const uint32_t spi = rte_cpu_to_be_32(sa->spi);
	const bool in4 = sa->inner_family == 4;
	const bool out4 = (sa->hdr[RTE_ETHER_HDR_LEN] >> 4) == 4;
	const bool lksd = sa->lksd == DFE_LKSD_CBC;
	struct rte_mbuf *nom[SG_BURST], *mal[SG_BURST];
	struct rte_crypto_op *cop[SG_BURST];
	uint64_t sqn = sa->out_sqn - n;
	uint32_t first;
	unsigned i, k = 0, no = 0, nm = 0;

	/* as on the direct GCM path (dfe_gcm_outbound()) */
	if (unlikely(!sa->esn && sa->out_sqn == UINT32_MAX))
		nom[no++] = mb[--n];
	/* lookaside: an operation per packet, or the batch is no_mbuf (as
	 * on lib/ipsec's path, dfe_lksd_submit()) */
	if (lksd && n != 0 && !dfe_cop_alloc(d, sa, cop, mb, n))
		n = 0;
	if (!lksd && dfe_cbc_pending(d) + n > DFE_CBC_MAX)
		dfe_cbc_flush(d);
	first = d->cbc_tail;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint32_t plen = m->pkt_len - m->l2_len;
		uint32_t clen = RTE_ALIGN_CEIL(plen + 2, CBC_BLOCK);
		uint32_t pad = clen - plen - 2;
		uint32_t lo = rte_cpu_to_be_32((uint32_t)++sqn);
		uint32_t hi = rte_cpu_to_be_32((uint32_t)(sqn >> 32));
		uint8_t *h, *esp, *t;

		if (unlikely(m->nb_segs != 1)) {
			mal[nm++] = m;
			continue;
		}
		h = dfe_out_room(m, hl + ESP_HDR + CBC_IV, pad + 2 + icv_len, sqh,
				 &t);
		if (unlikely(h == NULL)) {
			nom[no++] = m;
			continue;
		}
		esp = h + hl;
		dfe_out_tun_hdr(sa, m, h, esp + ESP_HDR + CBC_IV, sqn, out4,
				in4);
		/* SPI, low half, the seed: sequence number, 8 zero bytes */
		memcpy(esp, &spi, 4);
		memcpy(esp + 4, &lo, 4);
		*(unaligned_uint64_t *)(esp + 8) = rte_cpu_to_be_64(sqn);
		*(unaligned_uint64_t *)(esp + 16) = 0;
		/* the padding in 8-byte copies, then the pad length and next
		 * header over it: the bytes past the padding are the
		 * trailer's and the ICV's (at least 12) */
		memcpy(t, esp_pad, 8);
		if (pad > 6)
			memcpy(t + 8, esp_pad + 8, 8);
		t[pad] = (uint8_t)pad;
		t[pad + 1] = c->next_proto;
		if (sa->esn)
			memcpy(t + pad + 2, &hi, 4);
		if (lksd) {
			/* the ICV after the high half, moved over it by
			 * dfe_cbc_lksd_finish(), as lib/ipsec does */
			uint8_t *icv = t + pad + 2 + sqh;

			memset(op_iv(cop[k]), 0, CBC_IV);
			op_fill(cop[k], sa->cses, m, (uint32_t)(esp - h),
				ESP_HDR, CBC_IV + clen,
				ESP_HDR + CBC_IV + clen + sqh, icv,
				rte_pktmbuf_iova_offset(m, (uint32_t)(icv - h)));
			mb[k++] = m;
			continue;
		}
		submit(d, c, m, esp, ESP_HDR, CBC_IV + clen, zero_iv,
		       ESP_HDR + CBC_IV + clen + sqh,
		       sa->esn ? d->job_tag[d->cbc_tail % DFE_CBC_MAX] :
		       t + pad + 2, true);
		k++;
	}
	dfe_drop(d, sa, SG_DROP_MALFORMED, mal, nm);
	dfe_drop(d, sa, SG_DROP_NO_MBUF, nom, no);
	if (lksd) {
		/* encrypted by the device, sent by dfe_cbc_lksd_finish() */
		if (k < n)
			rte_mempool_put_bulk(d->c.cop_pool, (void **)&cop[k],
					     n - k);
		if (k != 0)
			dfe_lksd_enqueue(d, sa, cop, (uint16_t)k);
		return;
	}
	if (k != 0)
		group_add(d, sa, first, k);
}

/*
 * After the crypto of an outbound group: with ESN, the ICV over the high
 * half it covered; then out (dfe_outbound_tx()). A job that failed (none
 * should: intel-ipsec-mb fails only on bad parameters) is crypto_error.
 */
static void
finish_out(struct dfe *d, const struct dfe_defer *g)
{
	struct dfe_sa *sa = g->sa;
	const unsigned icv_len = sa->cbc->icv_len;
	struct rte_mbuf *ok[SG_BURST], *bad[SG_BURST];
	unsigned i, k = 0, nb = 0;

	for (i = 0; i < g->n; i++) {
		unsigned slot = (g->first + i) % DFE_CBC_MAX;
		struct rte_mbuf *m = d->job_m[slot];

		if (unlikely(d->job_st[slot] != 1)) {
			bad[nb++] = m;
			continue;
		}
		if (sa->esn)
			icv_copy(rte_pktmbuf_mtod_offset(m, uint8_t *,
				m->data_len - icv_len), d->job_tag[slot],
				 icv_len);
		ok[k++] = m;
	}
	dfe_drop(d, sa, SG_DROP_CRYPTO_ERROR, bad, (uint16_t)nb);
	if (k != 0)
		dfe_outbound_tx(d, sa, ok, (uint16_t)k);
	/* last: from here on the CE may free the SA */
	__atomic_store_n(&sa->inflight, sa->inflight - g->n, __ATOMIC_RELEASE);
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
		if (g->sa->dir == DFE_DIR_IN)
			finish_group(d, g);
		else
			finish_out(d, g);
		d->cbc_head = g->first + g->n;
		d->grp_head++;
		done += g->n;
	}
	return done;
}

/*
 * After a burst: finish, in submission order, the groups whose jobs have
 * all come out of the manager; the others wait for later jobs to fill the
 * lanes, as long as jobs keep coming, but no more than DFE_CBC_AGE bursts.
 * A burst that submitted no job flushes them: with few CBC packets among
 * other traffic the lanes would not fill for long, and the ring never
 * empties (which flushes them too, dfe_poll()). Returns the packets
 * finished.
 */
unsigned
dfe_cbc_reap(struct dfe *d)
{
	unsigned done = reap(d);

	if (d->grp_head != d->grp_tail && (d->cbc_tail == d->cbc_mark ||
	    (uint16_t)(d->tick - d->defer[d->grp_head % DFE_DEFER_MAX].tick) >=
	    DFE_CBC_AGE))
		done += dfe_cbc_flush(d);
	d->cbc_mark = d->cbc_tail;
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
	if (d->imb_sha != d->imb)
		while ((j = IMB_FLUSH_JOB(d->imb_sha)) != NULL)
			job_done(d, j);
	done = reap(d);
	RTE_ASSERT(d->grp_head == d->grp_tail && d->cbc_head == d->cbc_tail);
	return done;
}
