/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_ipsec.h>
#include <rte_malloc.h>
#include <rte_esp.h>
#include <rte_ether.h>
#include <rte_udp.h>

#include "dfe_priv.h"

/* The private bytes behind each crypto op of a pool
 * (rte_crypto_op_pool_create()'s priv_size). */
static uint16_t
cop_priv(struct rte_mempool *mp)
{
	const struct rte_crypto_op_pool_private *pp = rte_mempool_get_priv(mp);

	return mp->private_data_size < sizeof(*pp) ? 0 : pp->priv_size;
}

struct dfe *
dfe_create(const struct dfe_conf *c)
{
	struct dfe *d;
	int rc;

	if (c == NULL || c->ring == NULL || c->route == NULL ||
	    c->txq == NULL || c->stats == NULL || c->max_sa == 0 ||
	    (c->crypto == DFE_CRYPTO_LOOKASIDE && c->cop_pool == NULL) ||
	    (c->cop_pool != NULL && cop_priv(c->cop_pool) < DFE_COP_PRIV)) {
		rte_errno = EINVAL;
		return NULL;
	}
	d = rte_zmalloc_socket("dfe", sizeof(*d), RTE_CACHE_LINE_SIZE,
			       c->socket);
	if (d == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	d->c = *c;
	d->st = c->stats;
	d->sa = rte_zmalloc_socket("dfe_sa_tbl", sizeof(*d->sa) * c->max_sa,
				   RTE_CACHE_LINE_SIZE, c->socket);
	rc = d->sa == NULL ? -ENOMEM : dfe_gcm_init(d);
	if (rc == 0)
		rc = dfe_cbc_init(d);
	if (rc != 0) {
		/* the CBC managers first: dfe_cbc_fini() tells d->imb's */
		dfe_cbc_fini(d);
		dfe_gcm_fini(d);
		rte_free((void *)d->sa);
		rte_free(d);
		rte_errno = -rc;
		return NULL;
	}
	return d;
}

void
dfe_destroy(struct dfe *d)
{
	if (d == NULL)
		return;
	rte_pktmbuf_free_bulk(d->ahead, d->n_ahead);
	rte_pktmbuf_free_bulk(d->stash, d->n_stash);
	dfe_cbc_fini(d);
	dfe_gcm_fini(d);
	rte_free((void *)d->sa);
	rte_free(d);
}

uint8_t
dfe_cdev(const struct dfe *d)
{
	return d->c.cdev_id;
}

unsigned
dfe_pending(const struct dfe *d)
{
	return d->n_stash + d->inflight + d->n_ahead + dfe_cbc_pending(d);
}

/*
 * lib/ipsec parameters of an inbound SA. Its own anti-replay window is kept
 * (same size as ours) because it reconstructs the ESN high bits from it; ours
 * decides (dfe_replay.h).
 */
static void
fill_prm(struct rte_ipsec_sa_prm *prm, const struct dfe_sa_prm *p,
	 struct dfe_sa *sa)
{
	memset(prm, 0, sizeof(*prm));
	prm->userdata = (uintptr_t)sa;
	prm->ipsec_xform.spi = p->spi;
	prm->ipsec_xform.salt = p->salt;
	prm->ipsec_xform.direction = p->dir == DFE_DIR_IN ?
		RTE_SECURITY_IPSEC_SA_DIR_INGRESS :
		RTE_SECURITY_IPSEC_SA_DIR_EGRESS;
	prm->ipsec_xform.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
	prm->ipsec_xform.replay_win_sz = p->dir == DFE_DIR_IN ?
		p->replay_window : 0;
	prm->ipsec_xform.options.esn = p->esn;
	prm->crypto_xform = p->xform;
	if (p->dir == DFE_DIR_OUT && p->mode == DFE_MODE_TUNNEL) {
		/*
		 * The template is the whole frame head: Ethernet of the pinned
		 * next hop, outer IP, and UDP for NAT-T. lib/ipsec's own UDP
		 * encapsulation is not used (it mis-places the UDP length in
		 * some 22.11 builds); the UDP length is set after the crypto,
		 * outside what ESP authenticates. Outer DSCP and ECN are
		 * copied from the inner header (RFC 4301 5.1.2.1).
		 */
		prm->ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
		prm->ipsec_xform.tunnel.type = p->outer_family == 4 ?
			RTE_SECURITY_IPSEC_TUNNEL_IPV4 :
			RTE_SECURITY_IPSEC_TUNNEL_IPV6;
		prm->ipsec_xform.options.copy_dscp = 1;
		prm->ipsec_xform.options.ecn = 1;
		prm->tun.hdr = p->hdr;
		prm->tun.hdr_len = p->hdr_len;
		prm->tun.hdr_l3_off = sizeof(struct rte_ether_hdr);
		prm->tun.next_proto = p->inner_family == 4 ? IPPROTO_IPIP :
			IPPROTO_IPV6;
	} else if (p->mode == DFE_MODE_TUNNEL) {
		prm->ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
		prm->ipsec_xform.tunnel.type = p->outer_family == 4 ?
			RTE_SECURITY_IPSEC_TUNNEL_IPV4 :
			RTE_SECURITY_IPSEC_TUNNEL_IPV6;
		prm->tun.next_proto = p->inner_family == 4 ? IPPROTO_IPIP :
			IPPROTO_IPV6;
	} else {
		prm->ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT;
		prm->trs.proto = p->outer_family == 4 ? IPPROTO_IPIP :
			IPPROTO_IPV6;
	}
}

/*
 * Outbound sizes: IV, ICV and padding boundary of the transform, for the
 * MTU check. CBC is marked for the IV fix of dfe_outbound.c.
 */
static int
xform_sizes(struct dfe_sa *sa, const struct rte_crypto_sym_xform *x)
{
	uint16_t icv = 0;

	sa->pad_align = 4;
	for (; x != NULL; x = x->next) {
		if (x->type == RTE_CRYPTO_SYM_XFORM_AEAD) {
			sa->iv_len = 8;
			icv = x->aead.digest_length;
		} else if (x->type == RTE_CRYPTO_SYM_XFORM_AUTH) {
			icv = x->auth.digest_length;
		} else if (x->cipher.algo == RTE_CRYPTO_CIPHER_AES_CBC) {
			sa->iv_len = 16;
			sa->pad_align = 16;
			sa->iv_rand = 1;
		} else if (x->cipher.algo == RTE_CRYPTO_CIPHER_AES_CTR) {
			sa->iv_len = 8;
		} else if (x->cipher.algo != RTE_CRYPTO_CIPHER_NULL) {
			return -ENOTSUP;
		}
	}
	sa->overhead = sizeof(struct rte_esp_hdr) + sa->iv_len + icv +
		sizeof(struct rte_esp_tail);
	return 0;
}

/*
 * Whether the transform's crypto runs in intel-ipsec-mb's multi-buffer
 * lanes: HMAC (and the AES MACs) authenticate several buffers at once and
 * compute only when the lanes are full or flushed, so a cpu-crypto call
 * with one packet pays a whole flush (16 lanes of SHA-256 on AVX-512 for
 * one buffer: docs/PERFORMANCE.md, optimisation log). Such SAs send small
 * groups through the enqueue/dequeue path, where the queue pair's manager
 * fills its lanes across the groups of a burst. AEAD (GCM) is one buffer
 * at a time and does not gain.
 */
static bool
mb_batched(const struct rte_crypto_sym_xform *x)
{
	for (; x != NULL; x = x->next)
		if (x->type == RTE_CRYPTO_SYM_XFORM_AUTH)
			switch (x->auth.algo) {
			case RTE_CRYPTO_AUTH_MD5_HMAC:
			case RTE_CRYPTO_AUTH_SHA1_HMAC:
			case RTE_CRYPTO_AUTH_SHA224_HMAC:
			case RTE_CRYPTO_AUTH_SHA256_HMAC:
			case RTE_CRYPTO_AUTH_SHA384_HMAC:
			case RTE_CRYPTO_AUTH_SHA512_HMAC:
			case RTE_CRYPTO_AUTH_AES_XCBC_MAC:
			case RTE_CRYPTO_AUTH_AES_CMAC:
				return true;
			default:
				break;
			}
	return false;
}

/*
 * The lines of the crypto session prefetched by dfe_sa_prefetch_deps(): the
 * whole session object (aesni_mb: 23 lines, job template, key schedule and
 * GHASH keys; the PMD's layout is private, so all of it, at most 32 lines).
 */
static void
cses_prefetch_lines(struct dfe_sa *sa)
{
	struct rte_mempool *mp = rte_mempool_from_obj(sa->cses);
	unsigned n;

	n = mp != NULL ? (mp->elt_size + RTE_CACHE_LINE_SIZE - 1) /
		RTE_CACHE_LINE_SIZE : 1;
	sa->cses_lines = n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

struct dfe_sa *
dfe_sa_create(struct dfe *d, const struct dfe_sa_prm *p,
	      struct rte_mempool *sess_pool)
{
	struct rte_ipsec_sa_prm prm;
	struct dfe_sa *sa;
	int sz, rc;

	if (d == NULL || p == NULL || sess_pool == NULL || p->xform == NULL ||
	    p->n_sel > DFE_MAX_SEL) {
		rte_errno = EINVAL;
		return NULL;
	}
	/* the replay window shares the SA's block (dfe_sa_prefetch()) */
	sa = rte_zmalloc_socket("dfe_sa", sizeof(*sa) +
				dfe_replay_size(p->replay_window),
				RTE_CACHE_LINE_SIZE, d->c.socket);
	if (sa == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	sa->spi = p->spi;
	sa->gen = p->gen;
	sa->dir = p->dir;
	sa->mode = p->mode;
	sa->inner_family = p->mode == DFE_MODE_TUNNEL ? p->inner_family :
		p->outer_family;
	sa->natt = p->natt;
	sa->esn = p->esn;
	sa->gated = p->gated;
	sa->hard_packets = p->hard_packets;
	sa->hard_bytes = p->hard_bytes;
	sa->sel = dfe_selset_new(p->sel, p->n_sel, d->c.socket);
	if (sa->sel == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	sa->cdev_id = d->c.cdev_id;
	if (p->dir == DFE_DIR_OUT && xform_sizes(sa, p->xform) != 0) {
		rc = -EINVAL;
		goto fail;
	}
	sa->lksd = d->c.crypto == DFE_CRYPTO_LOOKASIDE || sa->iv_rand ?
		DFE_LKSD_ALWAYS : DFE_LKSD_NEVER;
	if (sa->lksd == DFE_LKSD_NEVER && p->dir == DFE_DIR_IN &&
	    d->c.cop_pool != NULL && mb_batched(p->xform))
		sa->lksd = DFE_LKSD_SMALL;
	if (sa->lksd == DFE_LKSD_ALWAYS && d->c.cop_pool == NULL) {
		rc = -EINVAL;
		goto fail;
	}
	if (p->dir == DFE_DIR_OUT) {
		sa->egress_port = p->egress_port;
		sa->mtu = p->mtu;
		sa->hdr_len = p->hdr_len;
		memcpy(sa->hdr, p->hdr, sizeof(sa->hdr));
		sa->remote = p->remote;
		sa->encap_sport = p->encap_sport;
		sa->encap_dport = p->encap_dport;
		sa->overhead += p->mode == DFE_MODE_TUNNEL ?
			p->hdr_len - sizeof(struct rte_ether_hdr) : 0;
		if (p->mode == DFE_MODE_TRANSPORT && p->natt)
			sa->overhead += sizeof(struct rte_udp_hdr);
	}

	sa->replay = dfe_sa_replay_at(sa);
	dfe_replay_init(sa->replay, p->replay_window);

	/*
	 * The direct paths (docs/architecture.md) need neither a lib/ipsec SA
	 * nor a crypto session: an SA keeps its path for life, so none is
	 * created (1.5 KB of session and the lib/ipsec SA saved per SA).
	 */
	rc = dfe_gcm_sa_init(d, sa, p);
	if (rc == 0)
		rc = dfe_cbc_sa_init(d, sa, p);
	if (rc != 0)
		goto fail;
	/* the lookaside GCM and CBC paths: a crypto session, no lib/ipsec
	 * SA */
	if (sa->lksd == DFE_LKSD_GCM || sa->lksd == DFE_LKSD_CBC)
		goto session;
	if (sa->gcm != NULL || sa->cbc != NULL) {
		sa->lksd = DFE_LKSD_NEVER;
		return sa;
	}

	fill_prm(&prm, p, sa);
	sz = rte_ipsec_sa_size(&prm);
	if (sz < 0) {
		rc = sz;
		goto fail;
	}
	sa->ipsec_sa = rte_zmalloc_socket("ipsec_sa", sz, RTE_CACHE_LINE_SIZE,
					  d->c.socket);
	if (sa->ipsec_sa == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = rte_ipsec_sa_init(sa->ipsec_sa, &prm, sz);
	if (rc < 0)
		goto fail;

session:
	sa->cses = rte_cryptodev_sym_session_create(d->c.cdev_id, p->xform,
						    sess_pool);
	if (sa->cses == NULL) {
		rc = -(rte_errno ? rte_errno : ENOTSUP);
		goto fail;
	}
	if (sa->lksd == DFE_LKSD_GCM || sa->lksd == DFE_LKSD_CBC)
		goto done;
	sa->ss.sa = sa->ipsec_sa;
	sa->ss.type = sa->lksd == DFE_LKSD_ALWAYS ?
		RTE_SECURITY_ACTION_TYPE_NONE :
		RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO;
	sa->ss.crypto.ses = sa->cses;
	sa->ss.crypto.dev_id = d->c.cdev_id;
	rc = rte_ipsec_session_prepare(&sa->ss);
	if (rc != 0)
		goto fail;
	if (sa->lksd == DFE_LKSD_SMALL) {
		sa->lss = sa->ss;
		sa->lss.type = RTE_SECURITY_ACTION_TYPE_NONE;
		rc = rte_ipsec_session_prepare(&sa->lss);
		if (rc != 0)
			goto fail;
	}
done:
	cses_prefetch_lines(sa);
	/* lookaside completions find the SA from the crypto session */
	rte_cryptodev_sym_session_opaque_data_set(sa->cses,
						  (uint64_t)(uintptr_t)&sa->ss);
	return sa;
fail:
	dfe_sa_free(sa);
	rte_errno = -rc;
	return NULL;
}

void
dfe_sa_free(struct dfe_sa *sa)
{
	if (sa == NULL)
		return;
	if (sa->cses != NULL)
		rte_cryptodev_sym_session_free(sa->cdev_id, sa->cses);
	dfe_gcm_sa_free(sa);
	dfe_cbc_sa_free(sa);
	rte_free(sa->ipsec_sa);
	/* the replay window lives in the SA's block */
	dfe_selset_free(sa->sel);
	dfe_peer6_free(sa->out6);
	rte_free(sa);
}

bool
dfe_sa_peer6_seen(const struct dfe_sa *sa, struct dfe_peer6 *out)
{
	uint32_t s1, s2;

	do {
		s1 = __atomic_load_n(&sa->seen6_seq, __ATOMIC_ACQUIRE);
		memcpy(out, (const void *)&sa->seen6, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&sa->seen6_seq, __ATOMIC_RELAXED);
	} while ((s1 & 1) != 0 || s1 != s2);
	return s1 != 0;
}

const struct dfe_peer6 *
dfe_sa_set_peer6(struct dfe_sa *sa, const struct dfe_peer6 *p)
{
	struct dfe_peer6 *c = NULL;

	if (p != NULL) {
		c = rte_malloc("dfe_peer6", sizeof(*c), 0);
		if (c == NULL)
			return NULL;	/* keeps the current one */
		*c = *p;
	}
	return __atomic_exchange_n(&sa->out6, c, __ATOMIC_ACQ_REL);
}

void
dfe_peer6_free(const struct dfe_peer6 *p)
{
	rte_free((void *)(uintptr_t)p);
}

struct dfe_selset *
dfe_selset_new(const struct dfe_sel *sel, unsigned n, int socket)
{
	struct dfe_selset *ss;

	if (n > DFE_MAX_SEL || (n != 0 && sel == NULL)) {
		rte_errno = EINVAL;
		return NULL;
	}
	ss = rte_zmalloc_socket("dfe_selset", sizeof(*ss), RTE_CACHE_LINE_SIZE,
				socket);
	if (ss == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ss->n = n;
	if (n != 0)
		memcpy(ss->sel, sel, sizeof(*sel) * n);
	return ss;
}

const struct dfe_selset *
dfe_sa_swap_sel(struct dfe_sa *sa, const struct dfe_selset *set)
{
	return __atomic_exchange_n(&sa->sel, set, __ATOMIC_ACQ_REL);
}

const struct dfe_selset *
dfe_sa_sel(const struct dfe_sa *sa)
{
	return __atomic_load_n(&sa->sel, __ATOMIC_ACQUIRE);
}

void
dfe_selset_free(const struct dfe_selset *set)
{
	rte_free((void *)(uintptr_t)set);
}

int
dfe_sa_publish(struct dfe *d, uint32_t slot, struct dfe_sa *sa)
{
	if (slot >= d->c.max_sa || sa == NULL)
		return -EINVAL;
	if (d->sa[slot] != NULL)
		return -EBUSY;
	__atomic_store_n(&d->sa[slot], sa, __ATOMIC_RELEASE);
	return 0;
}

struct dfe_sa *
dfe_sa_unpublish(struct dfe *d, uint32_t slot)
{
	struct dfe_sa *sa;

	if (slot >= d->c.max_sa)
		return NULL;
	sa = d->sa[slot];
	__atomic_store_n(&d->sa[slot], NULL, __ATOMIC_RELEASE);
	return sa;
}

void
dfe_sa_stats(const struct dfe_sa *sa, struct dfe_sa_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->packets = sa->packets;
	out->bytes = sa->bytes;
	memcpy(out->drop, sa->drop, sizeof(out->drop));
	out->last_sqn = sa->dir == DFE_DIR_IN ? sa->replay->top : sa->out_sqn;
	out->gated = sa->gated;
	out->expired = sa->expired;
	out->crypto = sa->lksd == DFE_LKSD_GCM ? "lookaside-gcm" :
		sa->lksd == DFE_LKSD_CBC ? "lookaside-cbc" :
		sa->gcm != NULL ? "direct-gcm" :
		sa->cbc != NULL ? "direct-cbc" :
		sa->lksd == DFE_LKSD_NEVER ? "cpu" :
		sa->lksd == DFE_LKSD_SMALL ? "cpu+lookaside" : "lookaside";
}

uint64_t
dfe_sa_peer_seen(const struct dfe_sa *sa)
{
	return __atomic_load_n(&sa->peer, __ATOMIC_ACQUIRE);
}

void
dfe_sa_set_peer(struct dfe_sa *sa, uint64_t peer)
{
	__atomic_store_n(&sa->peer, peer, __ATOMIC_RELEASE);
}

unsigned
dfe_sa_inflight(const struct dfe_sa *sa)
{
	return __atomic_load_n(&sa->inflight, __ATOMIC_ACQUIRE);
}

void
dfe_sa_expire(struct dfe_sa *sa)
{
	__atomic_store_n(&sa->expired, 1, __ATOMIC_RELEASE);
}
