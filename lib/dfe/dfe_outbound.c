/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_esp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_udp.h>

#include "dfe_priv.h"
#include "sg_fwd.h"
#include "sg_meta.h"

/* Bytes of ESP (and outer headers of a tunnel) for 'plen' protected bytes. */
static inline uint32_t
esp_len(const struct dfe_sa *sa, uint32_t plen)
{
	return sa->overhead + RTE_ALIGN_CEIL(plen + 2, sa->pad_align) - 2;
}

/*
 * Fragment an IPv4 packet (DF clear) before encryption so that each piece
 * fits the egress MTU once encapsulated (RFC 4301 8.1: fragment before
 * IPsec). The pieces are new, linear mbufs that keep the L2 header and the
 * metadata, so they go through the same path as any packet. Returns the
 * number of pieces in out[], 0 when it cannot (the caller drops).
 */
static unsigned
frag4(struct dfe *d, struct rte_mbuf *m, uint32_t max_ip, struct rte_mbuf *out[],
      unsigned cap)
{
	const uint8_t *src = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ipv4_hdr *ip = (const void *)(src + m->l2_len);
	uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	uint32_t chunk, payload = tot - ihl, off, k = 0;

	if (max_ip <= ihl + 8 || m->nb_segs != 1)
		return 0;
	chunk = (max_ip - ihl) & ~7u;
	if ((payload + chunk - 1) / chunk > cap)
		return 0;
	for (off = 0; off < payload; off += chunk) {
		uint32_t len = RTE_MIN(chunk, payload - off);
		struct rte_mbuf *f = rte_pktmbuf_alloc(d->c.pool);
		struct rte_ipv4_hdr *fip;
		uint8_t *p;
		uint16_t more;

		if (f == NULL || (p = (uint8_t *)rte_pktmbuf_append(f,
				m->l2_len + ihl + len)) == NULL) {
			rte_pktmbuf_free(f);
			rte_pktmbuf_free_bulk(out, k);
			return 0;
		}
		memcpy(p, src, m->l2_len + ihl);
		memcpy(p + m->l2_len + ihl, src + m->l2_len + ihl + off, len);
		fip = (struct rte_ipv4_hdr *)(p + m->l2_len);
		fip->total_length = rte_cpu_to_be_16(ihl + len);
		more = (off + len < payload || (fo & RTE_IPV4_HDR_MF_FLAG)) ?
			RTE_IPV4_HDR_MF_FLAG : 0;
		fip->fragment_offset = rte_cpu_to_be_16(
			((fo & RTE_IPV4_HDR_OFFSET_MASK) + off / 8) | more);
		fip->hdr_checksum = 0;
		fip->hdr_checksum = rte_ipv4_cksum(fip);
		f->l2_len = m->l2_len;
		f->l3_len = ihl;
		*sg_meta(f) = *sg_meta(m);
		out[k++] = f;
	}
	return k;
}

/*
 * CBC IVs. lib/ipsec encrypts CBC from the IV field on: the field holds a
 * seed (the sequence number) and the IV the receiver sees is
 * E_K(seed XOR operation IV). Its cpu-crypto path passes the seed itself as
 * the operation IV, so every packet carries E_K(0): one fixed IV for the
 * whole SA (measured; docs/architecture.md). Through the operation path with
 * a zero operation IV the transmitted IV is E_K(sequence number): unique,
 * and unpredictable without the key (NIST SP 800-38A, appendix C), as RFC
 * 3602 2.3 requires. Runs between prepare and enqueue.
 */
void
dfe_cbc_iv_fix(struct rte_crypto_op *cop[], uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		memset(rte_crypto_op_ctod_offset(cop[i], uint8_t *, DFE_IV_OFS),
		       0, 16);
}

/*
 * The checksum of a 20-byte IPv4 header given as five words read from it
 * (memory order), its checksum field ignored: as rte_ipv4_cksum() computes
 * it over the header with the field zero.
 */
static inline uint16_t
ipv4_cksum_words(const uint32_t w[5])
{
	uint64_t s = (uint64_t)w[0] + w[1] + w[3] + w[4];
	uint16_t f[2];

	/* word 2: TTL, protocol (kept), checksum (zero) */
	memcpy(f, &w[2], sizeof(f));
	s += f[0];
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* After the crypto: what ESP does not authenticate and lib/ipsec leaves to
 * us — outer DF, outer checksum, UDP length (NAT-T), transport L2. */
static int
fixup(struct dfe_sa *sa, struct rte_mbuf *m)
{
	uint8_t *p;

	if (sa->mode == DFE_MODE_TUNNEL) {
		p = rte_pktmbuf_mtod_offset(m, uint8_t *,
					    sizeof(struct rte_ether_hdr));
		if ((p[0] >> 4) == 4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
			uint32_t w[5];	/* the template's 20 bytes */

			/*
			 * The header is read once, before anything is
			 * written to it, and its checksum computed from the
			 * words in registers: zeroing the checksum field and
			 * summing the header back (rte_ipv4_cksum()) loaded
			 * across a store still in flight, a store-forwarding
			 * stall per packet (docs/PERFORMANCE.md, step 13).
			 */
			memcpy(w, ip, sizeof(w));
			if (sg_meta(m)->flags & SG_META_DF) {
				w[1] |= (uint32_t)rte_cpu_to_be_16(
					RTE_IPV4_HDR_DF_FLAG) << 16;
				ip->fragment_offset |=
					rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
			}
			if (sa->natt) {
				struct rte_udp_hdr *u = (void *)(ip + 1);
				uint64_t peer = __atomic_load_n(&sa->peer,
								__ATOMIC_ACQUIRE);

				/* NAT float: the peer's current mapping */
				if (peer != 0) {
					w[4] = (uint32_t)peer;
					ip->dst_addr = (uint32_t)peer;
					u->dst_port = (uint16_t)(peer >> 32);
				}
				u->dgram_len = rte_cpu_to_be_16(
					rte_be_to_cpu_16(ip->total_length) -
					sizeof(*ip));
				u->dgram_cksum = 0;
			}
			ip->hdr_checksum = ipv4_cksum_words(w);
		} else if (sa->natt) {
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;
			struct rte_udp_hdr *u = (void *)(ip6 + 1);
			const struct dfe_peer6 *pr = __atomic_load_n(&sa->out6,
							__ATOMIC_ACQUIRE);

			/* NAT float: the peer's current mapping */
			if (pr != NULL) {
				memcpy(ip6->dst_addr, pr->addr, 16);
				u->dst_port = pr->port_be;
			}
			u->dgram_len = ip6->payload_len;
			u->dgram_cksum = 0;
			u->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, u);
		}
		m->l2_len = sizeof(struct rte_ether_hdr);
		return 0;
	}

	/* transport: lib/ipsec kept the original L2 header; write ours */
	uint32_t l3 = m->l3_len;

	rte_pktmbuf_adj(m, m->l2_len);
	if (sa->natt) {
		/* ESP in UDP: open 8 bytes after the IP header */
		p = (uint8_t *)rte_pktmbuf_prepend(m, sizeof(struct rte_udp_hdr));
		if (p == NULL)
			return -1;
		memmove(p, p + sizeof(struct rte_udp_hdr), l3);
		struct rte_udp_hdr *u = (void *)(p + l3);

		u->src_port = rte_cpu_to_be_16(sa->encap_sport);
		u->dst_port = rte_cpu_to_be_16(sa->encap_dport);
		u->dgram_len = rte_cpu_to_be_16(m->pkt_len - l3);
		u->dgram_cksum = 0;
		if ((p[0] >> 4) == 4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

			ip->next_proto_id = IPPROTO_UDP;
			ip->total_length = rte_cpu_to_be_16(m->pkt_len);
		} else {
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

			if (l3 != sizeof(*ip6))
				return -1;
			ip6->proto = IPPROTO_UDP;
			ip6->payload_len = rte_cpu_to_be_16(m->pkt_len - l3);
			u->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, u);
		}
	}
	p = rte_pktmbuf_mtod(m, uint8_t *);
	if ((p[0] >> 4) == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	p = (uint8_t *)rte_pktmbuf_prepend(m, sizeof(struct rte_ether_hdr));
	if (p == NULL)
		return -1;
	memcpy(p, sa->hdr, sizeof(struct rte_ether_hdr));
	m->l2_len = sizeof(struct rte_ether_hdr);
	return 0;
}

/*
 * Encrypted packets of one SA, lib/ipsec's or a direct path's: the
 * fixup, then out of the SA's egress port; counted as encrypted, in the
 * SA's packets and in its protected bytes (the lifetime).
 */
void
dfe_outbound_tx(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		uint16_t n)
{
	struct sg_txq *q = &d->c.txq[sa->egress_port];
	uint16_t i, k = 0;
	uint64_t bytes = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];

		if (unlikely(fixup(sa, m) != 0)) {
			dfe_drop(d, sa, SG_DROP_NO_MBUF, &m, 1);
			continue;
		}
		m->ol_flags = 0;
		bytes += sg_meta(m)->tsc;
		k++;
		sg_txq_put(q, m, d->st);
	}
	d->st->encrypted += k;
	sa->packets += k;
	sa->bytes += bytes;
}

void
dfe_outbound_finish(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[],
		    uint16_t n)
{
	uint16_t g;

	g = rte_ipsec_pkt_process(&sa->ss, mb, n);
	dfe_drop(d, sa, SG_DROP_CRYPTO_ERROR, &mb[g], n - g);
	dfe_outbound_tx(d, sa, mb, g);
}

/* The crypto for at most SG_BURST packets of one outbound SA. */
static void
encrypt(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t k)
{
	/* the highest sequence number: 2^32 - 1, or 2^64 - 1 with ESN */
	uint64_t avail = (sa->esn ? UINT64_MAX : UINT32_MAX) - sa->out_sqn;
	uint16_t j;

	/* hard lifetime in packets; bytes are checked per burst */
	if (sa->hard_packets != 0)
		avail = RTE_MIN(avail, sa->hard_packets > sa->out_sqn ?
				sa->hard_packets - sa->out_sqn : 0);

	/* sequence numbers never wrap (RFC 4303 3.3.3): the SA expires */
	if (unlikely(k > avail)) {
		dfe_drop(d, sa, SG_DROP_LIFETIME_EXPIRED, &mb[avail], k - avail);
		k = (uint16_t)avail;
		sa->expired = 1;
	}
	if (k == 0)
		return;
	sa->out_sqn += k;
	if (sa->gcm != NULL) {
		/* numbers out_sqn - k + 1 .. out_sqn, as lib/ipsec's */
		dfe_gcm_outbound(d, sa, mb, k);
		return;
	}
	if (sa->cbc != NULL) {
		/* sent by dfe_cbc_reap() after this or a later burst */
		dfe_cbc_outbound(d, sa, mb, k);
		return;
	}
	if (sa->lksd == DFE_LKSD_ALWAYS) {
		/* completed by dfe_poll(), in the SA's order (one queue
		 * pair); in cpu mode too: draining each SA's group at once
		 * flushed intel-ipsec-mb's lanes for one packet per SA */
		dfe_lksd_submit(d, sa, mb, k);
		return;
	}
	j = rte_ipsec_pkt_cpu_prepare(&sa->ss, mb, k);
	dfe_drop(d, sa, SG_DROP_NO_MBUF, &mb[j], k - j);
	if (j != 0)
		dfe_outbound_finish(d, sa, mb, j);
}

/*
 * Outbound packets of one SA, as the CFE classified them (data at the L2
 * header): the router hop (TTL), the loop guard, the egress MTU
 * (fragmenting IPv4 without DF before encryption, dropping the rest), then
 * the crypto in batches.
 */
void
dfe_outbound(struct dfe *d, struct dfe_sa *sa, struct rte_mbuf *mb[], uint16_t n)
{
	struct rte_mbuf *ok[SG_BURST];
	uint16_t i, k = 0;

	if (unlikely(sa->expired ||
		     (sa->hard_bytes != 0 && sa->bytes >= sa->hard_bytes))) {
		dfe_drop(d, sa, SG_DROP_LIFETIME_EXPIRED, mb, n);
		return;
	}
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		struct sg_meta *meta = sg_meta(m);
		uint8_t *p = rte_pktmbuf_mtod_offset(m, uint8_t *, m->l2_len);
		uint32_t plen = m->pkt_len - m->l2_len, out;
		bool df, loop;

		meta->flags &= ~SG_META_DF;
		if ((p[0] >> 4) != sa->inner_family) {
			dfe_drop(d, sa, SG_DROP_POLICY_MISMATCH, &m, 1);
			continue;
		}
		if (sa->inner_family == 4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

			if (ip->time_to_live <= 1) {
				dfe_drop(d, sa, SG_DROP_TTL_EXCEEDED, &m, 1);
				continue;
			}
			df = ip->fragment_offset &
				rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
			loop = sa->mode == DFE_MODE_TUNNEL &&
				sa->remote.family == 4 &&
				memcmp(&ip->dst_addr, sa->remote.a, 4) == 0;
			if (!loop)
				sg_ttl_dec4(ip);
		} else {
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

			if (ip6->hop_limits <= 1) {
				dfe_drop(d, sa, SG_DROP_TTL_EXCEEDED, &m, 1);
				continue;
			}
			df = true;	/* IPv6 is never fragmented en route */
			loop = sa->mode == DFE_MODE_TUNNEL &&
				sa->remote.family == 6 &&
				memcmp(ip6->dst_addr, sa->remote.a, 16) == 0;
			if (!loop)
				ip6->hop_limits--;
		}
		if (unlikely(loop)) {
			/* routed back into its own tunnel */
			dfe_drop(d, sa, SG_DROP_LOOP, &m, 1);
			continue;
		}
		out = sa->mode == DFE_MODE_TUNNEL ? esp_len(sa, plen) :
			m->l3_len + esp_len(sa, plen - m->l3_len);
		if (unlikely(out > sa->mtu)) {
			struct rte_mbuf *fr[SG_BURST];
			uint32_t room;
			unsigned nf, f;

			/* transport-mode ESP never goes on a fragment
			 * (RFC 4303 3.3.4): only tunnels pre-fragment */
			if (df || sa->inner_family != 4 ||
			    sa->mode != DFE_MODE_TUNNEL) {
				dfe_drop(d, sa, SG_DROP_MTU_EXCEEDED, &m, 1);
				continue;
			}
			/* largest protected length that still fits */
			room = sa->mtu - (sa->overhead - 2);
			room = (room & ~(uint32_t)(sa->pad_align - 1)) - 2;
			nf = frag4(d, m, room, fr, SG_BURST);
			rte_pktmbuf_free(m);
			if (nf == 0) {
				d->st->drop[SG_DROP_MTU_EXCEEDED]++;
				sa->drop[SG_DROP_MTU_EXCEEDED]++;
				continue;
			}
			for (f = 0; f < nf; f++) {
				if (k == SG_BURST) {
					encrypt(d, sa, ok, k);
					k = 0;
				}
				sg_meta(fr[f])->tsc = fr[f]->pkt_len - fr[f]->l2_len;
				ok[k++] = fr[f];
			}
			continue;
		}
		if (df && sa->inner_family == 4)
			meta->flags |= SG_META_DF;
		meta->tsc = plen;	/* protected bytes, for the lifetime */
		ok[k++] = m;
	}
	if (k != 0)
		encrypt(d, sa, ok, k);
}
