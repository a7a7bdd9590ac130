/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "sg_common.h"
#include "sg_route.h"

#define NH_NONE 0	/* fib default: no route */

/* A neighbour is an address on a link: the same address (an IPv6
 * link-local one, typically) may live on several ports. */
struct nb_key {
	struct sg_addr ip;
	uint8_t pad;
	uint16_t port;
};

struct sg_route {
	struct rte_fib *fib4;
	struct rte_fib6 *fib6;
	struct rte_hash *neigh;        /* sg_addr -> index in nbr[] */
	struct sg_nh *nh;              /* next hops, [0] unused */
	uint32_t n_nh, max_nh;
	struct sg_nh *nbr;             /* resolved neighbours */
	struct nb_key *nbr_key;        /* their addresses, same index */
	uint32_t n_nbr, max_nbr;
	struct rte_ether_addr port_mac[SG_MAX_PORTS];
};

struct sg_route *
sg_route_create(const struct sg_route_conf *c)
{
	struct rte_fib_conf f4 = { 0 };
	struct rte_fib6_conf f6 = { 0 };
	struct rte_hash_parameters hp = { 0 };
	struct sg_route *r;
	char name[64];

	r = rte_zmalloc_socket("sg_route", sizeof(*r), RTE_CACHE_LINE_SIZE,
			       c->socket);
	if (r == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	/* routes, plus a host route per neighbour under an on-link route */
	r->max_nh = c->max_routes * 2 + c->max_neigh + 1;
	r->max_nbr = c->max_neigh;
	r->nh = rte_zmalloc_socket("sg_nh", sizeof(*r->nh) * r->max_nh, 0,
				   c->socket);
	r->nbr = rte_zmalloc_socket("sg_nbr", sizeof(*r->nbr) * r->max_nbr, 0,
				    c->socket);
	r->nbr_key = rte_zmalloc_socket("sg_nbr_key",
					sizeof(*r->nbr_key) * r->max_nbr, 0,
					c->socket);
	if (r->nh == NULL || r->nbr == NULL || r->nbr_key == NULL)
		goto fail;
	r->n_nh = 1;

	f4.type = RTE_FIB_DIR24_8;
	f4.default_nh = NH_NONE;
	f4.max_routes = c->max_routes;
	f4.dir24_8.nh_sz = RTE_FIB_DIR24_8_2B;
	f4.dir24_8.num_tbl8 = 256;
	snprintf(name, sizeof(name), "%s_4", c->name);
	r->fib4 = rte_fib_create(name, c->socket, &f4);
	if (r->fib4 == NULL)
		goto fail;

	f6.type = RTE_FIB6_TRIE;
	f6.default_nh = NH_NONE;
	f6.max_routes = c->max_routes;
	f6.trie.nh_sz = RTE_FIB6_TRIE_2B;
	f6.trie.num_tbl8 = 512;
	snprintf(name, sizeof(name), "%s_6", c->name);
	r->fib6 = rte_fib6_create(name, c->socket, &f6);
	if (r->fib6 == NULL)
		goto fail;

	snprintf(name, sizeof(name), "%s_nb", c->name);
	hp.name = name;
	hp.entries = RTE_MAX(c->max_neigh, 8u);
	hp.key_len = sizeof(struct nb_key);
	hp.hash_func = rte_jhash;
	hp.socket_id = c->socket;
	r->neigh = rte_hash_create(&hp);
	if (r->neigh == NULL)
		goto fail;
	return r;
fail:
	sg_route_destroy(r);
	rte_errno = ENOMEM;
	return NULL;
}

void
sg_route_destroy(struct sg_route *r)
{
	if (r == NULL)
		return;
	rte_fib_free(r->fib4);
	rte_fib6_free(r->fib6);
	rte_hash_free(r->neigh);
	rte_free(r->nh);
	rte_free(r->nbr);
	rte_free(r->nbr_key);
	rte_free(r);
}

int
sg_route_port_mac(struct sg_route *r, uint16_t port,
		  const struct rte_ether_addr *mac)
{
	if (port >= SG_MAX_PORTS)
		return -EINVAL;
	r->port_mac[port] = *mac;
	return 0;
}

static void
nh_fill(struct sg_route *r, struct sg_nh *nh, uint16_t port,
	const struct rte_ether_addr *dst)
{
	nh->port = port;
	nh->resolved = 1;
	nh->eth.dst_addr = *dst;
	nh->eth.src_addr = r->port_mac[port];
}

int
sg_route_neigh_add(struct sg_route *r, const struct sg_addr *ip,
		   uint16_t port, const struct rte_ether_addr *mac)
{
	struct nb_key key;
	int32_t idx;

	if (port >= SG_MAX_PORTS)
		return -EINVAL;
	memset(&key, 0, sizeof(key));
	key.ip = *ip;
	key.port = port;
	idx = rte_hash_lookup(r->neigh, &key);
	if (idx < 0) {
		if (r->n_nbr == r->max_nbr)
			return -ENOSPC;
		idx = r->n_nbr++;
		if (rte_hash_add_key_data(r->neigh, &key,
					  (void *)(uintptr_t)idx) != 0)
			return -ENOSPC;
	} else {
		void *d;

		rte_hash_lookup_data(r->neigh, &key, &d);
		idx = (int32_t)(uintptr_t)d;
	}
	nh_fill(r, &r->nbr[idx], port, mac);
	r->nbr_key[idx] = key;
	return 0;
}

static const struct sg_nh *
neigh_find(const struct sg_route *r, const struct sg_addr *ip, uint16_t port)
{
	struct nb_key key;
	void *d;

	memset(&key, 0, sizeof(key));
	key.ip = *ip;
	key.port = port;
	if (rte_hash_lookup_data(r->neigh, &key, &d) < 0)
		return NULL;
	return &r->nbr[(uintptr_t)d];
}

static int
fib_add(struct sg_route *r, const struct sg_addr *a, uint8_t len, uint32_t id)
{
	uint32_t ip;

	if (a->family == 4) {
		memcpy(&ip, a->a, 4);
		return rte_fib_add(r->fib4, rte_be_to_cpu_32(ip), len, id);
	}
	return rte_fib6_add(r->fib6, a->a, len, id);
}

/*
 * An on-link route would resolve each packet's destination in the
 * neighbour hash (a jhash and a key compare per packet). Instead, every
 * known neighbour it covers gets a host route with its Ethernet header
 * ready; only destinations with no neighbour entry take the slow path.
 */
static int
host_routes(struct sg_route *r, const struct sg_prefix *dst, uint16_t port)
{
	uint32_t i;
	int rc;

	for (i = 0; i < r->n_nbr; i++) {
		const struct nb_key *k = &r->nbr_key[i];

		if (k->port != port || !sg_prefix_contains(dst, &k->ip))
			continue;
		if (r->n_nh == r->max_nh)
			return -ENOSPC;
		r->nh[r->n_nh] = r->nbr[i];
		rc = fib_add(r, &k->ip, k->ip.family == 4 ? 32 : 128, r->n_nh);
		if (rc != 0)
			return rc;
		r->n_nh++;
	}
	return 0;
}

int
sg_route_add(struct sg_route *r, const struct sg_prefix *dst, uint16_t port,
	     const struct sg_addr *via)
{
	struct sg_nh *nh;
	uint32_t id;
	int rc;

	if (port >= SG_MAX_PORTS || r->n_nh == r->max_nh)
		return -ENOSPC;
	id = r->n_nh;
	nh = &r->nh[id];
	if (via != NULL) {
		const struct sg_nh *nb = neigh_find(r, via, port);

		if (nb == NULL)
			return -ENOENT;
		*nh = *nb;
	} else {
		nh->port = port;
		nh->onlink = 1;
	}
	rc = fib_add(r, &dst->addr, dst->len, id);
	if (rc != 0)
		return rc;
	r->n_nh++;
	return via == NULL ? host_routes(r, dst, port) : 0;
}

/* Resolve a fib result: a gateway route is ready; an on-link route needs the
 * destination's own neighbour entry. */
static inline const struct rte_ether_hdr *
resolve(const struct sg_route *r, uint64_t id, const struct sg_addr *dst,
	uint16_t *port)
{
	const struct sg_nh *nh;

	if (id == NH_NONE)
		return NULL;
	nh = &r->nh[id];
	if (unlikely(nh->onlink)) {
		nh = neigh_find(r, dst, nh->port);
		if (nh == NULL)
			return NULL;
	}
	*port = nh->port;
	return &nh->eth;
}

void
sg_route_lookup4(const struct sg_route *r, const uint32_t ip4[],
		 const struct rte_ether_hdr *out[], uint16_t port_out[],
		 unsigned n)
{
	uint64_t nh[64];
	struct sg_addr a = { .family = 4 };
	unsigned i;

	rte_fib_lookup_bulk(r->fib4, (uint32_t *)(uintptr_t)ip4, nh, n);
	for (i = 0; i < n; i++) {
		uint32_t be = rte_cpu_to_be_32(ip4[i]);

		memcpy(a.a, &be, 4);
		out[i] = resolve(r, nh[i], &a, &port_out[i]);
	}
}

void
sg_route_lookup6(const struct sg_route *r, const uint8_t ip6[][16],
		 const struct rte_ether_hdr *out[], uint16_t port_out[],
		 unsigned n)
{
	uint64_t nh[64];
	struct sg_addr a = { .family = 6 };
	unsigned i;

	rte_fib6_lookup_bulk(r->fib6, (uint8_t (*)[16])(uintptr_t)ip6, nh, n);
	for (i = 0; i < n; i++) {
		memcpy(a.a, ip6[i], 16);
		out[i] = resolve(r, nh[i], &a, &port_out[i]);
	}
}

int
sg_route_resolve(const struct sg_route *r, const struct sg_addr *dst,
		 uint16_t *port, struct rte_ether_hdr *eth)
{
	const struct rte_ether_hdr *eh[1];
	uint16_t p[1];

	if (dst->family == 4) {
		uint32_t be, ip;

		memcpy(&be, dst->a, 4);
		ip = rte_be_to_cpu_32(be);
		sg_route_lookup4(r, &ip, eh, p, 1);
	} else {
		sg_route_lookup6(r, (const uint8_t (*)[16])dst->a, eh, p, 1);
	}
	if (eh[0] == NULL)
		return -ENOENT;
	*port = p[0];
	*eth = *eh[0];
	return 0;
}
