/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_DROP_H
#define SG_DROP_H

/*
 * Every packet spigate drops has exactly one reason. The names are part of
 * the contract (CONTRACT.md, "Drop reasons"): telemetry and --stats-out print
 * them as written in sg_drop_names[]. Append new reasons; never rename.
 */
enum sg_drop {
	SG_DROP_UNKNOWN_SPI,      /* no SA with this SPI (and destination) */
	SG_DROP_AUTH_FAILED,      /* ICV check failed */
	SG_DROP_REPLAY,           /* sequence number seen, 0, or left of the window */
	SG_DROP_MALFORMED,        /* truncated, bad lengths, bad padding, bad trailer */
	SG_DROP_POLICY_MISMATCH,  /* decrypted packet outside the SA's selectors */
	SG_DROP_NO_POLICY,        /* clear packet matching no policy (default deny) */
	SG_DROP_DISCARD,          /* matched a discard policy */
	SG_DROP_NO_ROUTE,         /* no route or no neighbour for the destination */
	SG_DROP_TTL_EXCEEDED,     /* TTL / hop limit would reach 0 */
	SG_DROP_PUNT_POLICED,     /* punt to the CE over its rate */
	SG_DROP_RING_FULL,        /* an inter-element ring or TX queue was full */
	SG_DROP_HOLD_OVERFLOW,    /* held packets over the per-SA bound */
	SG_DROP_HOLD_TIMEOUT,     /* held longer than the hold time */
	SG_DROP_LIFETIME_EXPIRED, /* SA past its hard lifetime */
	SG_DROP_LOOP,             /* would be routed back into the same SA */
	SG_DROP_MTU_EXCEEDED,     /* too big for the egress after encapsulation */
	/* spigate extensions (docs/telemetry.md) */
	SG_DROP_NOT_FOR_US,       /* unicast frame for another MAC address */
	SG_DROP_NON_IP,           /* not IPv4/IPv6 (ARP, LLDP, ...) */
	SG_DROP_FRAGMENT,         /* outer IP fragment: reassembly not supported */
	SG_DROP_NAT_KEEPALIVE,    /* RFC 3948 NAT keepalive (consumed) */
	SG_DROP_IKE,              /* IKE packet: no IKE daemon attached yet */
	SG_DROP_NO_SA,            /* protect rule bound to no existing DFE */
	SG_DROP_CRYPTO_ERROR,     /* the crypto device failed the operation */
	SG_DROP_NO_MBUF,          /* mbuf or crypto-op pool exhausted */
	SG_DROP_MAX
};

extern const char *const sg_drop_names[SG_DROP_MAX];
extern const char *const sg_drop_descr[SG_DROP_MAX];

#endif /* SG_DROP_H */
