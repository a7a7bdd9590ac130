/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_META_H
#define SG_META_H

/*
 * Per-packet metadata, kept in the private area of every mbuf of spigate's
 * pools (priv_size = sizeof(struct sg_meta), rounded). The CFE writes it, the
 * DFE and the CE read it: nothing else travels with a packet between
 * elements. Offsets of the outer headers also go into mbuf->l2_len/l3_len, as
 * lib/ipsec wants them there.
 */

#include <stdint.h>
#include <rte_mbuf.h>

#define SG_META_REINJECT 0x01  /* held by the CE, released in order */
#define SG_META_MARKER   0x02  /* not a packet: "held packets of this SA done" */
#define SG_META_DF       0x04  /* DFE outbound: the inner IPv4 header had DF */

struct sg_meta {
	uint64_t cls;        /* classification value (cfe_table.h layout) */
	uint64_t tsc;        /* CE: arrival time (rte_rdtsc) when held;
			      * DFE outbound: protected (inner) bytes */
	uint64_t sqn;        /* DFE: full (ESN-reconstructed) sequence number */
	uint32_t spi;        /* host order */
	uint16_t port;       /* ingress port id */
	uint8_t kind;        /* enum cfe_kind */
	uint8_t flags;       /* SG_META_* */
	uint8_t ip_ver;      /* outer IP version */
	uint8_t l4_len;      /* UDP encapsulation header, 0 or 8 */
	uint8_t dst[16];     /* outer destination (SPI+dst classification) */
	uint8_t cfe;         /* CFE -> CE punt: the CFE that received it */
	uint32_t rule;       /* CFE -> CE punt of clear traffic: SPD rule position */
	uint64_t peer;       /* DFE: outer IPv4 source + UDP port (NAT-T) */
};

/* one cache line: a packet's data starts on a line boundary after it */
_Static_assert(sizeof(struct sg_meta) == 64, "sg_meta is one cache line");

#define SG_MBUF_PRIV_SIZE RTE_ALIGN(sizeof(struct sg_meta), RTE_MBUF_PRIV_ALIGN)

static inline struct sg_meta *
sg_meta(struct rte_mbuf *m)
{
	return (struct sg_meta *)rte_mbuf_to_priv(m);
}

#endif /* SG_META_H */
