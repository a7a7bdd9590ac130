/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SG_ROUTE_H
#define SG_ROUTE_H

/*
 * Forwarding table shared by the elements that transmit clear packets (DFE
 * after decryption, CFE for bypass): longest-prefix match in rte_fib (IPv4,
 * DIR-24-8) and rte_fib6 (trie) to a next hop, whose Ethernet header is
 * resolved once, when the route or neighbour is added. On-link routes (no
 * via) resolve the packet's own destination in the neighbour hash.
 *
 * Built whole by the CE (ce_route.c) and then only read: a change of the
 * routes builds a new table, publishes it and frees the old one after an
 * RCU grace period. Each table's rte_fib / rte_fib6 / rte_hash names are
 * derived from sg_route_conf.name, which must be unique among the tables
 * that exist at once.
 */

#include <stdint.h>
#include <rte_ether.h>

#include "sg_addr.h"

struct sg_route;

struct sg_nh {
	uint16_t port;
	uint8_t onlink;          /* resolve the destination itself */
	uint8_t resolved;        /* eth header below is valid */
	struct rte_ether_hdr eth; /* dst = neighbour, src = port, type unset */
};

struct sg_route_conf {
	const char *name;
	int socket;
	uint32_t max_routes;     /* per family */
	uint32_t max_neigh;
};

struct sg_route *sg_route_create(const struct sg_route_conf *c);
void sg_route_destroy(struct sg_route *r);

/* The MAC every packet leaving 'port' carries as its source. */
int sg_route_port_mac(struct sg_route *r, uint16_t port,
		      const struct rte_ether_addr *mac);
/* Neighbours first, then routes whose 'via' they resolve. 0 or -errno. */
int sg_route_neigh_add(struct sg_route *r, const struct sg_addr *ip,
		       uint16_t port, const struct rte_ether_addr *mac);
/* via == NULL: on-link. -ENOENT when via has no neighbour entry. */
int sg_route_add(struct sg_route *r, const struct sg_prefix *dst,
		 uint16_t port, const struct sg_addr *via);

/*
 * Look up n (<= 64) destinations of one family (4: ip4[] host order; 6:
 * ip6[][16]). out[i] is the Ethernet header to prepend and *port_out[i] the
 * egress port, or out[i] == NULL when there is no route or no neighbour.
 */
void sg_route_lookup4(const struct sg_route *r, const uint32_t ip4[],
		      const struct rte_ether_hdr *out[], uint16_t port_out[],
		      unsigned n);
void sg_route_lookup6(const struct sg_route *r, const uint8_t ip6[][16],
		      const struct rte_ether_hdr *out[], uint16_t port_out[],
		      unsigned n);

/* Control plane: where a packet to 'dst' leaves (egress port and Ethernet
 * header). 0, or -ENOENT (no route or no neighbour). */
int sg_route_resolve(const struct sg_route *r, const struct sg_addr *dst,
		     uint16_t *port, struct rte_ether_hdr *eth);

#endif /* SG_ROUTE_H */
