/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DFE_H
#define DFE_H

/*
 * Decrypting forwarding element. A DFE owns the SAs the CE publishes to it:
 * it is the only writer of their sequence numbers, replay windows and
 * counters. It dequeues classified packets from its ring, runs ESP through
 * lib/ipsec over cryptodev (synchronous CPU crypto, or lookaside
 * enqueue/dequeue), checks the inner packet against the SA's selectors,
 * routes it and transmits it on the lcore's own TX buffers.
 *
 * Threads: dfe_poll() on the DFE's lcore only. dfe_sa_create(),
 * dfe_sa_publish(), dfe_sa_unpublish() and dfe_sa_free() on the CE thread
 * only. dfe_sa_stats() anywhere.
 */

#include <stdbool.h>
#include <stdint.h>

#include <string.h>

#include <rte_byteorder.h>
#include <rte_crypto.h>

#include "sg_addr.h"
#include "sg_stats.h"
#include "sg_tx.h"

struct rte_ring;
struct rte_mempool;
struct sg_route;
struct dfe;
struct dfe_sa;

enum dfe_crypto { DFE_CRYPTO_CPU, DFE_CRYPTO_LOOKASIDE };

struct dfe_conf {
	unsigned id;                  /* DFE index */
	int socket;
	struct rte_ring *ring;        /* input, MP/SC */
	enum dfe_crypto crypto;
	uint8_t cdev_id;
	uint16_t cdev_qp;             /* lookaside: this DFE's queue pair */
	struct rte_mempool *cop_pool; /* crypto ops (lookaside, CBC outbound) */
	struct rte_mempool *pool;     /* mbufs, for fragments */
	struct sg_route *const *route; /* the CE's published table: loaded once
					* per burst (acquire), never kept across
					* loop iterations (RCU, ce_route.c) */
	struct sg_txq *txq;           /* [SG_MAX_PORTS]: the lcore's TX buffers */
	struct sg_lcore_stats *stats; /* the lcore's counters */
	uint32_t max_sa;              /* SA slots */
	uint32_t stash_per_sa;        /* packets held per gated SA */
	bool count_pkts;              /* count dequeued packets in stats->pkts
					 * (false when a CFE on the same lcore
					 * counted them at RX already) */
};

struct dfe *dfe_create(const struct dfe_conf *c);
void dfe_destroy(struct dfe *d);
uint8_t dfe_cdev(const struct dfe *d);

/* What runs the crypto in cpu mode: intel-ipsec-mb's code (its manager's
 * architecture, "sse" .. "avx512") for AES-GCM and AES-CBC (aes), for the
 * HMAC-SHA-1 and HMAC-SHA-256 jobs of the direct CBC path (sha), whether
 * those use the CPU's SHA extensions (sha_ext), and the cycles of the
 * timing that chose sha (its own manager, the SSE one; 0 when not timed).
 * All NULL and 0 in lookaside mode. */
struct dfe_engines {
	const char *aes, *sha;
	bool sha_ext;
	unsigned split;       /* inbound AES-CBC from this many ciphertext
			       * bytes on aes's manager, apart from the
			       * HMAC on sha's; 0: never */
	uint64_t cycles[2];
};
void dfe_engines(const struct dfe *d, struct dfe_engines *en);

/* One iteration: ring -> ESP -> forward, and crypto completions. Returns the
 * number of packets handled (0: idle). */
unsigned dfe_poll(struct dfe *d);
/* Packets inside the DFE (stashed behind a gate, or in the crypto device or
 * the direct CBC path's manager). */
unsigned dfe_pending(const struct dfe *d);
/* Complete now every packet of the DFE in the crypto device or the direct
 * CBC path's manager: for the CE when it runs on the DFE's lcore, where
 * nothing else would while it waits (ce_sa_remove()). The DFE's lcore
 * thread only, between dfe_poll() calls. */
void dfe_settle(struct dfe *d);

/* ---- SAs ---- */
enum dfe_mode { DFE_MODE_TUNNEL, DFE_MODE_TRANSPORT };
enum dfe_dir { DFE_DIR_IN, DFE_DIR_OUT };

#define DFE_HDR_MAX 80  /* Ethernet + IPv6 + UDP = 70 */
/* where lib/ipsec and the transforms keep the IV inside a crypto op */
#define DFE_IV_OFS (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))
/* the private area a crypto op needs behind DFE_IV_OFS: the IV (16 bytes,
 * the 12-byte GCM nonce padded), then, for the lookaside GCM path
 * (dfe_gcm_lksd.c), the AAD (16: SPI, sequence number, zero-padded), or
 * for the lookaside CBC path (dfe_cbc.c) an inbound ESN packet's ICV (up to
 * 32: the high half of the sequence number is authenticated where it was) */
#define DFE_COP_PRIV 48

/* An inbound traffic selector (RFC 4301 4.4.1), from an inbound protect
 * policy that names the SA. */
struct dfe_sel {
	struct sg_prefix src, dst;
	int16_t proto;                /* -1 any */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
};

#define DFE_MAX_SEL 16

/* The selectors of an inbound SA as the DFE reads them: immutable once
 * published; a policy change publishes a new set (dfe_sa_swap_sel()). */
struct dfe_selset {
	unsigned n;
	struct dfe_sel sel[DFE_MAX_SEL];
};

struct dfe_sa_prm {
	uint32_t spi;
	enum dfe_dir dir;
	enum dfe_mode mode;
	uint8_t outer_family;         /* 4 or 6 */
	uint8_t inner_family;         /* tunnel: 4 or 6 (one per SA, lib/ipsec) */
	bool natt;                    /* arrives in UDP (RFC 3948) */
	bool esn;
	uint32_t replay_window;
	uint32_t salt;                /* GCM salt / CTR nonce, as in the packet */
	struct rte_crypto_sym_xform *xform; /* inbound chain, copied */
	uint16_t gen;                 /* generation of its slot */
	bool gated;                   /* hold its packets until the CE's marker */
	uint64_t hard_packets, hard_bytes; /* 0 = unlimited */
	unsigned n_sel;
	struct dfe_sel sel[DFE_MAX_SEL];
	/* outbound: the egress pinned at install (tunnel-routing-bypass) */
	uint16_t egress_port;
	uint16_t mtu;                 /* of the egress port */
	uint8_t hdr_len;              /* tunnel: Ethernet + outer IP (+ UDP) */
	uint8_t hdr[DFE_HDR_MAX];     /* template, lengths patched per packet;
				       * transport: the Ethernet header */
	struct sg_addr remote;        /* loop guard */
	uint16_t encap_sport, encap_dport; /* NAT-T, host order */
};

struct dfe_sa_stats {
	uint64_t packets, bytes;      /* decrypted and forwarded */
	uint64_t drop[SG_DROP_MAX];
	uint64_t last_sqn;            /* in: highest authenticated; out: last sent */
	bool gated;
	bool expired;
	const char *crypto;           /* the SA's crypto path: "direct-gcm"
				       * (intel-ipsec-mb's GCM API, dfe_gcm.c,
				       * dfe_gcm_out.c), "lookaside-gcm" (the
				       * DFE's own GCM operations on the
				       * device, dfe_gcm_lksd.c),
				       * "cpu" (lib/ipsec cpu crypto),
				       * "cpu+lookaside" (small groups through
				       * the queue pair), "lookaside" */
};

/* Build a runtime SA for DFE d: crypto session on d's device, lib/ipsec SA,
 * replay window. NULL with rte_errno on failure. */
struct dfe_sa *dfe_sa_create(struct dfe *d, const struct dfe_sa_prm *p,
			     struct rte_mempool *sess_pool);
/* Make sa visible in 'slot' (must be empty). Release ordering: a reader that
 * sees the pointer sees a complete SA. */
int dfe_sa_publish(struct dfe *d, uint32_t slot, struct dfe_sa *sa);
/* Empty 'slot'; the SA may be read until a grace period has passed. */
struct dfe_sa *dfe_sa_unpublish(struct dfe *d, uint32_t slot);
/* Free an unpublished SA once no reader can hold it. */
void dfe_sa_free(struct dfe_sa *sa);
void dfe_sa_stats(const struct dfe_sa *sa, struct dfe_sa_stats *out);
/* Past its hard lifetime (decided by the CE): every packet is dropped as
 * lifetime_expired from now on. */
void dfe_sa_expire(struct dfe_sa *sa);
/*
 * NAT mapping float (RFC 7296 2.23 behaviour), IPv4 NAT-T. A peer is
 * packed in 64 bits: IPv4 address (network order) in the low 32 bits, UDP
 * port (network order) above. dfe_sa_peer_seen(): where the last
 * authenticated packet of an inbound NAT-T SA came from (0: nothing yet).
 * dfe_sa_set_peer(): where an outbound NAT-T SA sends from now on (0: its
 * configured remote). Any thread.
 */
uint64_t dfe_sa_peer_seen(const struct dfe_sa *sa);
void dfe_sa_set_peer(struct dfe_sa *sa, uint64_t peer);
static inline uint64_t
dfe_peer_pack(const uint8_t addr4[4], uint16_t port_host)
{
	uint32_t a;

	memcpy(&a, addr4, 4);
	return (uint64_t)a | (uint64_t)rte_cpu_to_be_16(port_host) << 32;
}

/*
 * Selectors of an inbound SA, replaced while it runs (a policy added or
 * removed): dfe_selset_new() copies n (<= DFE_MAX_SEL) selectors,
 * dfe_sa_swap_sel() publishes the set (release) and returns the previous
 * one, which the DFE may read until a grace period has passed; then
 * dfe_selset_free() it. dfe_sa_sel() reads the set in force (CE thread).
 */
struct dfe_selset *dfe_selset_new(const struct dfe_sel *sel, unsigned n,
				  int socket);
const struct dfe_selset *dfe_sa_swap_sel(struct dfe_sa *sa,
					 const struct dfe_selset *set);
const struct dfe_selset *dfe_sa_sel(const struct dfe_sa *sa);
void dfe_selset_free(const struct dfe_selset *set);

/*
 * The same for IPv6 NAT-T tunnel SAs, whose peer does not fit 64 bits.
 * dfe_sa_peer6_seen(): where the last authenticated packet of an inbound
 * SA came from over IPv6; false when none yet (any thread; the DFE writes
 * it under a sequence counter). dfe_sa_set_peer6(): where an outbound SA
 * sends from now on (a copy of *p, NULL: its configured remote); returns
 * the previous one, which the DFE may read until a grace period has
 * passed, then dfe_peer6_free() it. CE thread.
 */
struct dfe_peer6 {
	uint8_t addr[16];
	uint16_t port_be;             /* UDP port, network order */
};
bool dfe_sa_peer6_seen(const struct dfe_sa *sa, struct dfe_peer6 *out);
const struct dfe_peer6 *dfe_sa_set_peer6(struct dfe_sa *sa,
					 const struct dfe_peer6 *p);
void dfe_peer6_free(const struct dfe_peer6 *p);

/* Packets of this SA still in the crypto device (lookaside) or the direct
 * CBC path's manager: an SA is freed only once this is 0. Any thread. */
unsigned dfe_sa_inflight(const struct dfe_sa *sa);

#endif /* DFE_H */
