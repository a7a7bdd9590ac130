/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "ce_priv.h"
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "sg_cls.h"

_Static_assert(CE_MAX_SA_SELECTORS == DFE_MAX_SEL,
	       "the loader's limit is the DFE's");

const char *const ce_sa_state_names[] = {
	[CE_SA_CONFIGURED] = "configured",
	[CE_SA_INSTALLING] = "installing",
	[CE_SA_INSTALLED] = "installed",
	[CE_SA_EXPIRED] = "expired",
	[CE_SA_FAILED] = "failed",
};

/*
 * The inner IP family of a tunnel SA. lib/ipsec checks (and writes) the ESP
 * trailer's next header as one family per SA, so it is taken from the
 * protect policies of the SA's direction that name it (all of one family: the loader's check);
 * without any, the outer family.
 */
static uint32_t selector_spi(struct ce *ce, const struct ce_sa_cfg *s);

/* An IPv6 NAT-T SA's mapping is still the configured one. */
static bool
peer6_configured(const struct ce_sa *sa)
{
	return memcmp(sa->peer6.addr, sa->cfg->remote.a, 16) == 0 &&
		sa->peer6.port_be == rte_cpu_to_be_16(
			sa->cfg->dir == CE_DIR_IN ? sa->cfg->encap_sport :
			sa->cfg->encap_dport);
}
static void rekey_switch(struct ce *ce, struct ce_sa *sa, const char *why);

static uint8_t
inner_family(struct ce *ce, const struct ce_sa_cfg *s)
{
	int32_t i = ce_pol_first(ce->ps, s->dir, selector_spi(ce, s));

	if (i >= 0)
		return ce->ps->pol[i].src.addr.family;
	return s->local.family ? s->local.family : 4;
}

/*
 * A new SA in the database (from the file at start, or a control request):
 * indexed by SPI for the punt path, not yet in the data path.
 */
struct ce_sa *
ce_sa_new(struct ce *ce, const struct ce_sa_cfg *cfg)
{
	struct ce_sa *sa;
	void *head = NULL;

	if (ce->n_sa == ce->cap_sa) {
		rte_errno = ENOSPC;
		return NULL;
	}
	sa = rte_zmalloc("ce_sa", sizeof(*sa), 0);
	if (sa == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	sa->cfg_store = *cfg;
	sa->cfg = &sa->cfg_store;
	sa->state = CE_SA_CONFIGURED;
	sa->added_tsc = rte_rdtsc();
	sa->sel_spi = selector_spi(ce, sa->cfg);
	sa->inner_family = sa->cfg->mode == CE_MODE_TUNNEL ?
		inner_family(ce, sa->cfg) :
		(sa->cfg->local.family ? sa->cfg->local.family : 4);
	if (sa->cfg->dir != CE_DIR_IN) {
		if (rte_hash_add_key_data(ce->by_spi_out, &sa->cfg->spi, sa) != 0)
			goto nomem;
	} else if (rte_hash_lookup_data(ce->by_spi, &sa->cfg->spi, &head) >= 0) {
		struct ce_sa *h = head;

		sa->next_spi = h->next_spi;
		h->next_spi = sa;
		for (; h != NULL; h = h->next_spi)
			h->shared_spi = true;
	} else if (rte_hash_add_key_data(ce->by_spi, &sa->cfg->spi, sa) != 0) {
		goto nomem;
	}
	if (sa->cfg->encap && sa->cfg->remote.family == 4) {
		/* inbound: the port the peer sends from; outbound: its port */
		sa->peer = dfe_peer_pack(sa->cfg->remote.a,
			sa->cfg->dir == CE_DIR_IN ? sa->cfg->encap_sport :
			sa->cfg->encap_dport);
		ce->n_natt++;
	} else if (sa->cfg->encap && sa->cfg->remote.family == 6) {
		sa->natt6 = true;
		memcpy(sa->peer6.addr, sa->cfg->remote.a, 16);
		sa->peer6.port_be = rte_cpu_to_be_16(
			sa->cfg->dir == CE_DIR_IN ? sa->cfg->encap_sport :
			sa->cfg->encap_dport);
		ce->n_natt++;
	}
	if (sa->cfg->dir == CE_DIR_OUT && sa->cfg->has_replaces) {
		sa->awaiting_switch = true;
		ce->n_awaiting++;
	}
	if (sa->cfg->hard.seconds || sa->cfg->hard.bytes ||
	    sa->cfg->hard.packets || sa->cfg->soft.seconds ||
	    sa->cfg->soft.bytes || sa->cfg->soft.packets)
		ce->timed[ce->n_timed++] = sa;
	sa->idx = ce->n_sa;
	ce->sa[ce->n_sa++] = sa;
	return sa;
nomem:
	rte_free(sa);
	rte_errno = ENOMEM;
	return NULL;
}

int
ce_sadb_init(struct ce *ce)
{
	const struct ce_policydb *db = ce->db;
	struct rte_hash_parameters hp = { 0 };
	unsigned i, d;

	ce->sa = rte_zmalloc("ce_sa", sizeof(*ce->sa) * (ce->cap_sa + 1), 0);
	ce->pending = rte_zmalloc("ce_pending",
				  sizeof(*ce->pending) * (ce->cap_sa + 1), 0);
	ce->timed = rte_zmalloc("ce_timed",
				sizeof(*ce->timed) * (ce->cap_sa + 1), 0);
	if (ce->sa == NULL || ce->pending == NULL || ce->timed == NULL)
		return -ENOMEM;
	hp.name = "ce_by_spi";
	hp.entries = RTE_MAX(ce->cap_sa, 64u);
	hp.key_len = sizeof(uint32_t);
	hp.hash_func = rte_jhash;
	hp.socket_id = rte_socket_id();
	ce->by_spi = rte_hash_create(&hp);
	hp.name = "ce_by_spi_out";
	ce->by_spi_out = rte_hash_create(&hp);
	hp.name = "ce_out_alias";
	ce->out_alias = rte_hash_create(&hp);
	if (ce->by_spi == NULL || ce->by_spi_out == NULL || ce->out_alias == NULL)
		return -ENOMEM;

	for (i = 0; i < db->n_sas; i++)
		if (ce_sa_new(ce, &db->sas[i]) == NULL)
			return -rte_errno;

	for (d = 0; d < ce->n_dfe; d++) {
		struct ce_dfe_slots *s = &ce->slots[d];
		uint32_t max = ce->cap_sa + 1, k;

		s->free = rte_malloc("ce_slots", sizeof(uint32_t) * max, 0);
		s->gen = rte_zmalloc("ce_gen", sizeof(uint16_t) * max, 0);
		if (s->free == NULL || s->gen == NULL)
			return -ENOMEM;
		for (k = 0; k < max; k++)
			s->free[k] = max - 1 - k;
		s->n_free = max;
	}
	return 0;
}

static void
hold_flush(struct ce *ce, struct ce_sa *sa, enum sg_drop why)
{
	while (sa->n_hold != 0) {
		rte_pktmbuf_free(sa->hold[sa->hold_head]);
		ce->st->drop[why]++;
		sa->hold_head = (sa->hold_head + 1) % ce->dep->hold_packets;
		sa->n_hold--;
	}
}

/*
 * A hold queue is needed only while its SA installs; 100,000 lazy SAs
 * keeping theirs would keep 200 MB (256 slots). Given back, it waits here
 * for the next SA. With rte_free() instead, lazy installs fell from
 * 216,000 to 11,600 SAs/s: the freed blocks fragment the DPDK heap, and
 * each rte_malloc() of an SA walked its free list (76% of the CE's
 * samples in one function of librte_eal checking an element's size). The
 * list is as long as the most SAs ever installing at once.
 */
static struct rte_mbuf **
hold_pop(struct ce *ce)
{
	struct rte_mbuf **h = ce->hold_free;

	if (h != NULL)
		ce->hold_free = (struct rte_mbuf **)(void *)h[0];
	return h;
}

struct rte_mbuf **
ce_hold_get(struct ce *ce)
{
	struct rte_mbuf **h = hold_pop(ce);

	if (h != NULL)
		return h;
	return rte_malloc("ce_hold", sizeof(*h) * ce->dep->hold_packets, 0);
}

void
ce_hold_put(struct ce *ce, struct rte_mbuf **h)
{
	if (h == NULL)
		return;
	h[0] = (struct rte_mbuf *)(void *)ce->hold_free;
	ce->hold_free = h;
}

void
ce_sadb_fini(struct ce *ce)
{
	unsigned i, d;

	for (i = 0; i < ce->n_sa; i++) {
		struct ce_sa *sa = ce->sa[i];

		hold_flush(ce, sa, SG_DROP_UNKNOWN_SPI);
		rte_free(sa->hold);
		if (sa->rt != NULL) {
			dfe_sa_unpublish(ce->dfe[sa->dfe], sa->slot);
			dfe_sa_free(sa->rt);
		}
		rte_free(sa);
	}
	for (d = 0; d < ce->n_dfe; d++) {
		rte_free(ce->slots[d].free);
		rte_free(ce->slots[d].gen);
	}
	rte_hash_free(ce->by_spi);
	rte_hash_free(ce->by_spi_out);
	rte_hash_free(ce->out_alias);
	rte_free(ce->pending);
	rte_free(ce->timed);
	rte_free(ce->sa);
	while (ce->hold_free != NULL)
		rte_free(hold_pop(ce));
}

/* The inbound SA a punted packet belongs to: by SPI, and by outer
 * destination among SAs that share the SPI. */
struct ce_sa *
ce_sa_find_in(struct ce *ce, uint32_t spi, const uint8_t *dst, uint8_t family)
{
	struct ce_sa *sa;
	void *head;

	if (rte_hash_lookup_data(ce->by_spi, &spi, &head) < 0)
		return NULL;
	for (sa = head; sa != NULL; sa = sa->next_spi) {
		if (!sa->shared_spi)
			return sa;
		if (sa->cfg->local.family == family &&
		    memcmp(sa->cfg->local.a, dst, 16) == 0)
			return sa;
	}
	return NULL;
}

struct ce_sa *
ce_sa_find_out(struct ce *ce, uint32_t spi)
{
	void *sa;

	return rte_hash_lookup_data(ce->by_spi_out, &spi, &sa) < 0 ? NULL : sa;
}

/*
 * The SA an outbound policy naming 'spi' encrypts into now: the SA with
 * that SPI, or the one that replaced it (rekey), following successors and
 * the aliases removed SAs leave behind.
 */
struct ce_sa *
ce_sa_resolve_out(struct ce *ce, uint32_t spi)
{
	struct ce_sa *sa = NULL;
	unsigned hops;
	void *d;

	for (hops = 0; hops < 16; hops++) {
		sa = ce_sa_find_out(ce, spi);
		if (sa != NULL)
			break;
		if (rte_hash_lookup_data(ce->out_alias, &spi, &d) < 0)
			return NULL;
		spi = (uint32_t)(uintptr_t)d;
	}
	while (sa != NULL && sa->succ != NULL)
		sa = sa->succ;
	return sa;
}

struct ce_sa *
ce_sa_find(struct ce *ce, uint32_t spi, int dir)
{
	unsigned i;

	for (i = 0; i < ce->n_sa; i++)
		if (ce->sa[i]->cfg->spi == spi &&
		    (dir < 0 || (int)ce->sa[i]->cfg->dir == dir))
			return ce->sa[i];
	return NULL;
}

unsigned
ce_sadb_held(const struct ce *ce)
{
	unsigned i, n = 0;

	for (i = 0; i < ce->n_pending; i++)
		n += ce->pending[i]->n_hold;
	return n;
}


/*
 * The SPI whose protect policies give an SA its selectors (and inner
 * family): its own when a policy names it; for an SA that replaces another
 * (rekey), the replaced SA's, fixed when the SA is created (the replaced SA
 * may be gone later).
 */
static uint32_t
selector_spi(struct ce *ce, const struct ce_sa_cfg *s)
{
	const struct ce_sa *old;

	if (ce_pol_first(ce->ps, s->dir, s->spi) >= 0 || !s->has_replaces)
		return s->spi;
	old = ce_sa_find(ce, s->replaces, (int)s->dir);
	return old != NULL ? old->sel_spi : s->replaces;
}

/*
 * The DFE of a new SA: with lcores.sa_placement = "rx", 'near' (the DFE on
 * the lcore that received the SA's first packet: with a NIC that steers
 * the SA's packets to one queue, its packets then never cross cores);
 * otherwise, or when 'near' is none or full, the DFE with the fewest
 * installed SAs (and a free slot).
 */
static int
pick_dfe(struct ce *ce, int near)
{
	unsigned d, best = 0;
	int found = -1;

	if (ce->dep->sa_placement == CE_PLACE_RX && near >= 0 &&
	    (unsigned)near < ce->n_dfe && ce->slots[near].n_free != 0)
		return near;
	for (d = 0; d < ce->n_dfe; d++) {
		if (ce->slots[d].n_free == 0)
			continue;
		if (found < 0 || ce->slots[d].installed < best) {
			best = ce->slots[d].installed;
			found = (int)d;
		}
	}
	return found;
}

static int
write_keys(struct ce *ce, struct ce_sa *sa, uint64_t val)
{
	struct cfe_class_key k;
	int rc;

	memset(&k, 0, sizeof(k));
	k.spi = sa->cfg->spi;
	if (!sa->shared_spi)
		return cfe_table_add(ce->table, &k, val);
	/* the SPI-only entry only says: ask again with the destination */
	rc = cfe_table_add(ce->table, &k,
			   cfe_class_val(0, 0, 0, CFE_CLASS_F_BY_DST));
	if (rc != 0)
		return rc;
	k.family = sa->cfg->local.family;
	memcpy(k.dst, sa->cfg->local.a, 16);
	return cfe_table_add(ce->table, &k, val);
}

static bool
port_has_addr(const struct ce_port_cfg *pc, const struct sg_addr *a)
{
	unsigned i;

	for (i = 0; i < pc->n_addrs; i++)
		if (memcmp(&pc->addrs[i].addr, a, sizeof(*a)) == 0)
			return true;
	return false;
}

static int
port_index(const struct ce *ce, uint16_t pid)
{
	unsigned i;

	for (i = 0; i < ce->n_ports; i++)
		if (ce->port_id[i] == pid)
			return (int)i;
	return -1;
}

/*
 * The frame head of a tunnel SA's packets: Ethernet toward the next hop
 * that reaches the peer, outer IP (lengths, ID, DSCP/ECN filled per packet by
 * lib/ipsec, DF and checksum by the DFE), UDP for NAT-T.
 */
static uint8_t
build_template(const struct ce_sa_cfg *c, const struct rte_ether_hdr *eth,
	       uint8_t *hdr)
{
	struct rte_ether_hdr *e = (struct rte_ether_hdr *)hdr;
	uint8_t *l3 = hdr + sizeof(*e), proto;
	uint8_t len = sizeof(*e);

	*e = *eth;
	proto = c->encap ? IPPROTO_UDP : IPPROTO_ESP;
	if (c->remote.family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;

		e->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->time_to_live = 64;
		ip->next_proto_id = proto;
		memcpy(&ip->src_addr, c->local.a, 4);
		memcpy(&ip->dst_addr, c->remote.a, 4);
		len += sizeof(*ip);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)l3;

		e->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
		memset(ip6, 0, sizeof(*ip6));
		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip6->proto = proto;
		ip6->hop_limits = 64;
		memcpy(ip6->src_addr, c->local.a, 16);
		memcpy(ip6->dst_addr, c->remote.a, 16);
		len += sizeof(*ip6);
	}
	if (c->encap) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(hdr + len);

		u->src_port = rte_cpu_to_be_16(c->encap_sport);
		u->dst_port = rte_cpu_to_be_16(c->encap_dport);
		u->dgram_len = 0;
		u->dgram_cksum = 0;
		len += sizeof(*u);
	}
	return len;
}

/*
 * SA-pinned egress (tunnel-routing-bypass seed): an outbound SA resolves
 * once, here, the port and next hop that reach its peer; its packets never
 * look the outer header up again. A tunnel SA whose local address is not an
 * address of that port is refused.
 */
static int
prm_outbound(struct ce *ce, struct ce_sa *sa, struct dfe_sa_prm *p)
{
	const struct ce_sa_cfg *c = sa->cfg;
	struct rte_ether_hdr eth;
	char a[64], b[64];
	uint16_t port;
	int pi;

	sa->fail_drop = SG_DROP_NO_ROUTE;
	if (c->remote.family == 0) {
		CE_LOG(ERR, "%s:%d: SA 0x%x: an outbound SA needs 'remote'",
		       ce->db->path, c->line, c->spi);
		return -EINVAL;
	}
	if (sg_route_resolve(ce->route, &c->remote, &port, &eth) != 0 ||
	    (pi = port_index(ce, port)) < 0) {
		CE_LOG(ERR, "%s:%d: SA 0x%x: no route or neighbour toward %s",
		       ce->db->path, c->line, c->spi,
		       sg_addr_fmt(&c->remote, a, sizeof(a)));
		return -ENOENT;
	}
	if (c->mode == CE_MODE_TUNNEL &&
	    !port_has_addr(&ce->dep->ports[pi], &c->local)) {
		CE_LOG(ERR, "%s:%d: SA 0x%x: local %s is not an address of "
		       "port %s, the egress toward %s", ce->db->path, c->line,
		       c->spi, sg_addr_fmt(&c->local, a, sizeof(a)),
		       ce->dep->ports[pi].name,
		       sg_addr_fmt(&c->remote, b, sizeof(b)));
		return -EADDRNOTAVAIL;
	}
	/* kept to tell when a route change leaves it stale (ce_route.c) */
	sa->pin_port = port;
	sa->pin_eth = eth;
	p->dir = DFE_DIR_OUT;
	p->outer_family = c->remote.family;
	p->egress_port = port;
	p->mtu = ce->dep->ports[pi].mtu ? ce->dep->ports[pi].mtu : 1500;
	p->remote = c->remote;
	p->encap_sport = c->encap_sport;
	p->encap_dport = c->encap_dport;
	if (c->mode == CE_MODE_TUNNEL) {
		p->hdr_len = build_template(c, &eth, p->hdr);
	} else {
		eth.ether_type = rte_cpu_to_be_16(sa->inner_family == 4 ?
			RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
		memcpy(p->hdr, &eth, sizeof(eth));
		p->hdr_len = sizeof(eth);
	}
	return 0;
}

/* Outbound: the SA is reached through the SPD rules that protect into it
 * (those whose named SPI resolves to it). */
static void
bind_rules(struct ce *ce, const struct ce_sa *sa, uint64_t cls)
{
	unsigned i;

	const struct ce_pset *ps = ce->ps;

	for (i = 0; i < ps->n_out; i++) {
		const struct ce_policy_cfg *pc = &ps->pol[ps->out_policy[i]];

		if (pc->action == CE_ACT_PROTECT &&
		    ce_sa_resolve_out(ce, pc->sa_spi) == sa)
			cfe_spd_bind(ps->spd, CFE_SPD_OUT, i, cls);
	}
}

/*
 * Install an SA: pick a DFE, compile and publish the runtime SA, and only
 * then make it reachable (inbound: the classification key; outbound: the
 * SPD rules' binding), so a CFE that finds it finds a complete SA. A lazily
 * installed SA starts gated: the DFE holds what arrives directly until the
 * CE has re-injected the packets punted before (ce_punt.c), so none
 * overtakes another.
 */
int
ce_sa_install(struct ce *ce, struct ce_sa *sa, bool gated, int near)
{
	const struct ce_sa_cfg *c = sa->cfg;
	struct ce_dfe_slots *sl;
	struct dfe_sa_prm p;
	struct ce_xforms x;
	uint64_t cls;
	int d, rc;

	memset(&p, 0, sizeof(p));
	sa->fail_drop = SG_DROP_CRYPTO_ERROR;
	if (c->dir == CE_DIR_OUT) {
		rc = prm_outbound(ce, sa, &p);
		if (rc == 0) {
			sa->fail_drop = SG_DROP_CRYPTO_ERROR;
			rc = ce_xform_outbound(c, &x);
		}
	} else {
		p.dir = DFE_DIR_IN;
		p.outer_family = c->local.family ? c->local.family :
			sa->inner_family;
		rc = ce_xform_inbound(c, &x);
		p.n_sel = ce_pol_selectors(ce->ps, sa->sel_spi, p.sel);
	}
	if (rc != 0) {
		sa->state = CE_SA_FAILED;
		return rc;
	}
	d = pick_dfe(ce, near);
	if (d < 0)
		return -ENOSPC;
	sl = &ce->slots[d];

	p.spi = c->spi;
	p.mode = c->mode == CE_MODE_TUNNEL ? DFE_MODE_TUNNEL :
		DFE_MODE_TRANSPORT;
	p.inner_family = sa->inner_family;
	p.natt = c->encap;
	p.esn = c->esn;
	p.replay_window = c->replay_window;
	p.salt = x.salt;
	p.xform = x.head;
	p.gated = gated;
	p.hard_packets = c->hard.packets;
	p.hard_bytes = c->hard.bytes;

	sa->slot = sl->free[sl->n_free - 1];
	p.gen = ++sl->gen[sa->slot];
	sa->rt = dfe_sa_create(ce->dfe[d], &p,
			       ce->sess_pool[d % ce->n_cdev]);
	if (sa->rt == NULL) {
		rc = -rte_errno;
		CE_LOG(ERR, "SA 0x%x: cannot create: %s", c->spi,
		       rte_strerror(rte_errno));
		sa->state = CE_SA_FAILED;
		return rc;
	}
	sl->n_free--;
	sa->dfe = (unsigned)d;
	sa->gen = p.gen;
	cls = cfe_class_val(sa->slot, sa->gen, (uint8_t)d, 0);
	rc = dfe_sa_publish(ce->dfe[d], sa->slot, sa->rt);
	if (rc == 0 && c->dir == CE_DIR_IN)
		rc = write_keys(ce, sa, cls);
	if (rc != 0) {
		CE_LOG(ERR, "SA 0x%x: cannot publish: %s", c->spi,
		       strerror(-rc));
		dfe_sa_unpublish(ce->dfe[d], sa->slot);
		/* never reachable by a reader: no key was written */
		dfe_sa_free(sa->rt);
		sa->rt = NULL;
		sl->free[sl->n_free++] = sa->slot;
		sa->state = CE_SA_FAILED;
		return rc;
	}
	if (c->dir == CE_DIR_OUT && !sa->awaiting_switch)
		bind_rules(ce, sa, cls);
	if (c->dir == CE_DIR_OUT && sa->peer != 0)
		dfe_sa_set_peer(sa->rt, sa->peer);
	if (c->dir == CE_DIR_OUT && sa->natt6 && !peer6_configured(sa))
		dfe_sa_set_peer6(sa->rt, &sa->peer6);	/* floated before */
	sl->installed++;
	ce->n_installed++;
	sa->install_tsc = rte_rdtsc();
	if (gated) {
		sa->state = CE_SA_INSTALLING;
		sa->rcu_token = rte_rcu_qsbr_start(ce->qsv);
		sa->token_passed = false;
		sa->pending_idx = ce->n_pending;
		ce->pending[ce->n_pending++] = sa;
	} else {
		sa->state = CE_SA_INSTALLED;
	}
	{
		struct ce_event e = { .type = "sa-installed", .spi = c->spi,
				      .policy = -1 };

		ce_event_add(ce, &e);
	}
	CE_LOG(DEBUG, "SA 0x%x (%s) installed on DFE %d slot %u", c->spi,
	       c->dir == CE_DIR_IN ? "in" : "out", d, sa->slot);
	return 0;
}

static void
del_keys(struct ce *ce, struct ce_sa *sa)
{
	struct cfe_class_key k;
	const struct ce_sa *o;
	void *head;

	memset(&k, 0, sizeof(k));
	k.spi = sa->cfg->spi;
	if (!sa->shared_spi) {
		cfe_table_del(ce->table, &k);
		return;
	}
	k.family = sa->cfg->local.family;
	memcpy(k.dst, sa->cfg->local.a, 16);
	cfe_table_del(ce->table, &k);
	/* the SPI-only entry stays while another SA of the SPI is reachable */
	if (rte_hash_lookup_data(ce->by_spi, &sa->cfg->spi, &head) < 0)
		return;
	for (o = head; o != NULL; o = o->next_spi)
		if (o != sa && o->rt != NULL)
			return;
	memset(&k, 0, sizeof(k));
	k.spi = sa->cfg->spi;
	cfe_table_del(ce->table, &k);
}

/*
 * Aliases stay one hop deep: the SPI of a removed, replaced SA, and every
 * SPI that already led to it, lead to its successor; when an SA with no
 * successor goes, the aliases that led to it go too.
 */
static void
alias_update(struct ce *ce, const struct ce_sa *sa)
{
	uint32_t from[64];
	const void *key;
	void *data;
	uint32_t it = 0;
	unsigned n = 0, i;

	while (n < RTE_DIM(from) &&
	       rte_hash_iterate(ce->out_alias, &key, &data, &it) >= 0)
		if ((uint32_t)(uintptr_t)data == sa->cfg->spi)
			from[n++] = *(const uint32_t *)key;
	for (i = 0; i < n; i++) {
		if (sa->succ != NULL)
			rte_hash_add_key_data(ce->out_alias, &from[i],
				(void *)(uintptr_t)sa->succ->cfg->spi);
		else
			rte_hash_del_key(ce->out_alias, &from[i]);
	}
	if (sa->succ != NULL &&
	    rte_hash_add_key_data(ce->out_alias, &sa->cfg->spi,
			(void *)(uintptr_t)sa->succ->cfg->spi) != 0)
		CE_LOG(ERR, "SA 0x%x: alias table full: policies naming it "
		       "lose their SA", sa->cfg->spi);
}

static void
unindex(struct ce *ce, struct ce_sa *sa)
{
	struct ce_sa *h, **pp;
	void *head;
	unsigned i;

	if (sa->cfg->dir != CE_DIR_IN) {
		rte_hash_del_key(ce->by_spi_out, &sa->cfg->spi);
	} else if (rte_hash_lookup_data(ce->by_spi, &sa->cfg->spi, &head) >= 0) {
		h = head;
		if (h == sa) {
			if (sa->next_spi != NULL)
				rte_hash_add_key_data(ce->by_spi, &sa->cfg->spi,
						      sa->next_spi);
			else
				rte_hash_del_key(ce->by_spi, &sa->cfg->spi);
		} else {
			for (pp = &h->next_spi; *pp != NULL; pp = &(*pp)->next_spi)
				if (*pp == sa) {
					*pp = sa->next_spi;
					break;
				}
		}
	}
	for (i = 0; i < ce->n_timed; i++)
		if (ce->timed[i] == sa) {
			ce->timed[i] = ce->timed[--ce->n_timed];
			break;
		}
	ce->sa[sa->idx] = ce->sa[--ce->n_sa];
	ce->sa[sa->idx]->idx = sa->idx;
}

/*
 * Remove an SA while traffic flows: first nothing may reach it (its
 * classification key or SPD binding goes), then, after a grace period, its
 * DFE slot is emptied; after a second grace period and once the crypto
 * device has returned its operations, nothing can hold it and it is freed.
 * Packets of it still queued in rings meet an empty slot or, once the slot
 * is reused, another generation: they count as unknown_spi. CE thread,
 * with ce->lock held.
 */
void
ce_sa_remove(struct ce *ce, struct ce_sa *sa)
{
	const struct ce_lcore *lc = ce->lc[ce->ce_lcore];
	unsigned self = lc->roles & (SG_ROLE_CFE | SG_ROLE_DFE) ?
		ce->ce_lcore : RTE_QSBR_THRID_INVALID;
	struct ce_event e = { .type = "sa-removed", .spi = sa->cfg->spi,
			      .policy = -1 };

	/* an outbound SA leaving before its successor took over: hand its
	 * policies over now, or they would lose their SA */
	if (sa->cfg->dir == CE_DIR_OUT && sa->succ == NULL && ce->n_awaiting) {
		unsigned i;

		for (i = 0; i < ce->n_sa; i++) {
			struct ce_sa *x = ce->sa[i];

			if (x->awaiting_switch &&
			    ce_sa_resolve_out(ce, x->cfg->replaces) == sa) {
				rekey_switch(ce, x, "replaced-sa-removed");
				break;
			}
		}
	}
	if (sa->rt != NULL) {
		struct ce_dfe_slots *sl = &ce->slots[sa->dfe];
		bool own;

		if (sa->cfg->dir == CE_DIR_IN)
			del_keys(ce, sa);
		else if (sa->succ == NULL)
			bind_rules(ce, sa, 0);
		rte_rcu_qsbr_synchronize(ce->qsv, self);
		dfe_sa_unpublish(ce->dfe[sa->dfe], sa->slot);
		rte_rcu_qsbr_synchronize(ce->qsv, self);
		/* a DFE on this lcore completes them only if asked */
		own = lc->dfe == ce->dfe[sa->dfe];
		while (dfe_sa_inflight(sa->rt) != 0) {
			if (own)
				dfe_settle(ce->dfe[sa->dfe]);
			else
				rte_pause();
		}
		dfe_sa_free(sa->rt);
		sa->rt = NULL;
		sl->free[sl->n_free++] = sa->slot;
		sl->installed--;
		if (sa->state == CE_SA_INSTALLING) {
			struct ce_sa *last = ce->pending[--ce->n_pending];

			ce->pending[sa->pending_idx] = last;
			last->pending_idx = sa->pending_idx;
		}
		if (sa->state == CE_SA_INSTALLING || sa->state == CE_SA_INSTALLED)
			ce->n_installed--;
	}
	hold_flush(ce, sa, SG_DROP_UNKNOWN_SPI);
	ce_hold_put(ce, sa->hold);
	sa->hold = NULL;
	if (sa->awaiting_switch)
		ce->n_awaiting--;
	if (sa->peer != 0 || sa->natt6)
		ce->n_natt--;
	if (sa->cfg->dir == CE_DIR_OUT)
		alias_update(ce, sa);
	for (unsigned i = 0; i < ce->n_sa; i++)
		if (ce->sa[i]->succ == sa)
			ce->sa[i]->succ = sa->succ;
	unindex(ce, sa);
	ce_event_add(ce, &e);
	rte_free(sa);
}

/*
 * An outbound SA that appears (added at runtime) while its policies hold
 * traffic: install it gated and move what the policies held into its own
 * queue, in order, so the held packets leave first, then new ones (the
 * hold idea of sa-establishment-hold.txt).
 */
void
ce_sa_adopt_held(struct ce *ce, struct ce_sa *sa)
{
	uint32_t cap = ce->dep->hold_packets;
	unsigned i;
	bool any = false;

	if (sa->cfg->dir != CE_DIR_OUT)
		return;
	const struct ce_pset *ps = ce->ps;

	for (i = 0; i < ps->n_out && !any; i++)
		any = ps->phold[i].n != 0 &&
			ps->pol[ps->out_policy[i]].sa_spi == sa->cfg->spi;
	if (!any || (sa->state == CE_SA_CONFIGURED &&
		     ce_sa_install(ce, sa, true, -1) != 0))
		return;
	if (sa->hold == NULL)
		sa->hold = ce_hold_get(ce);
	for (i = 0; i < ps->n_out; i++) {
		struct ce_phold *h = &ps->phold[i];

		if (ps->pol[ps->out_policy[i]].sa_spi != sa->cfg->spi)
			continue;
		while (h->n != 0) {
			struct rte_mbuf *m = h->q[h->head];

			h->head = (h->head + 1) % cap;
			h->n--;
			ce->n_held_policy--;
			if (sa->hold == NULL || sa->n_hold == cap) {
				rte_pktmbuf_free(m);
				ce->st->drop[SG_DROP_HOLD_OVERFLOW]++;
				continue;
			}
			sa->hold[(sa->hold_head + sa->n_hold) % cap] = m;
			sa->n_hold++;
		}
		h->acquired = false;
	}
}

/* Move the policies of the SA 'sa' replaces over to it (event rekey-switch). */
static void
rekey_switch(struct ce *ce, struct ce_sa *sa, const char *why)
{
	struct ce_sa *old = ce_sa_resolve_out(ce, sa->cfg->replaces);
	struct ce_event e = { .type = "rekey-switch", .spi = sa->cfg->spi,
			      .detail = why, .policy = -1 };

	sa->awaiting_switch = false;
	ce->n_awaiting--;
	if (sa->rt == NULL && ce_sa_install(ce, sa, false, -1) != 0)
		why = "install-failed";
	if (old != NULL && old != sa && sa->rt != NULL) {
		/* the rules that reach the old SA now reach the new one */
		bind_rules(ce, old, cfe_class_val(sa->slot, sa->gen,
						  (uint8_t)sa->dfe, 0));
		old->succ = sa;
	}
	ce_event_add(ce, &e);
	CE_LOG(INFO, "SA 0x%x takes over from 0x%x (%s)", sa->cfg->spi,
	       sa->cfg->replaces, why);
}

/*
 * Make-before-break (nat-esp-rekey-epochs seed): an outbound SA that
 * replaces another starts installed but unused; it takes over when the
 * peer shows it has the new pair (the first packet authenticated on a new
 * inbound SA from the same peer), or after rekey.switch_timeout_ms.
 */
void
ce_rekey_poll(struct ce *ce, uint64_t now)
{
	unsigned i, j;

	for (i = 0; i < ce->n_sa && ce->n_awaiting != 0; i++) {
		struct ce_sa *sa = ce->sa[i];
		const struct ce_sa *old;
		const char *why = NULL;
		uint64_t since;

		if (!sa->awaiting_switch)
			continue;
		/* the new inbound SA of this generation: added after the
		 * outbound SA being replaced (not a previous rekey's) */
		old = ce_sa_find_out(ce, sa->cfg->replaces);
		since = old != NULL ? old->added_tsc : 0;
		for (j = 0; j < ce->n_sa && why == NULL; j++) {
			const struct ce_sa *in = ce->sa[j];
			struct dfe_sa_stats s;

			if (in->cfg->dir != CE_DIR_IN || !in->cfg->has_replaces ||
			    in->rt == NULL || in->added_tsc <= since ||
			    memcmp(&in->cfg->remote, &sa->cfg->remote,
				   sizeof(sa->cfg->remote)) != 0)
				continue;
			dfe_sa_stats(in->rt, &s);
			if (s.packets != 0)
				why = "peer-uses-new-sa";
		}
		if (why == NULL && now - sa->added_tsc >=
		    (uint64_t)ce->dep->rekey_switch_ms * ce->hz / 1000)
			why = "timeout";
		if (why != NULL) {
			pthread_mutex_lock(&ce->lock);
			rekey_switch(ce, sa, why);
			pthread_mutex_unlock(&ce->lock);
		}
	}
}

/*
 * NAT mapping float: an authenticated packet of an inbound NAT-T SA came
 * from another address or port than the peer's known mapping (its NAT
 * rebooted or rebound). The outbound SAs toward that peer follow, so
 * replies reach it (event nat-float). Only packets that passed the ICV and
 * the replay window are ever recorded by the DFE, so nothing forged moves
 * anything.
 */
/* IPv6 NAT-T: the inbound SAs' mappings as the DFEs saw them. */
static void
natt6_poll(struct ce *ce, struct ce_sa *in)
{
	const struct dfe_peer6 **old = NULL;
	struct dfe_peer6 seen;
	unsigned j, n_old = 0;

	if (!dfe_sa_peer6_seen(in->rt, &seen) ||
	    memcmp(&seen, &in->peer6, sizeof(seen)) == 0)
		return;
	old = calloc(ce->n_sa + 1, sizeof(*old));
	if (old == NULL)
		return;		/* next poll */
	for (j = 0; j < ce->n_sa; j++) {
		struct ce_sa *out = ce->sa[j];

		if (out->cfg->dir != CE_DIR_OUT || !out->natt6 ||
		    !sg_addr_eq(&out->cfg->remote, &in->cfg->remote))
			continue;
		out->peer6 = seen;
		if (out->rt != NULL)
			old[n_old++] = dfe_sa_set_peer6(out->rt, &seen);
	}
	if (n_old != 0) {
		rte_rcu_qsbr_synchronize(ce->qsv, ce_rcu_self(ce));
		while (n_old != 0)
			dfe_peer6_free(old[--n_old]);
	}
	free(old);
	{
		struct ce_event e = { .type = "nat-float", .spi = in->cfg->spi,
				      .policy = -1, .proto = IPPROTO_UDP };

		e.src.family = e.dst.family = 6;
		memcpy(e.src.a, seen.addr, 16);
		memcpy(e.dst.a, in->cfg->local.a, 16);
		e.sport = rte_be_to_cpu_16(seen.port_be);
		e.dport = in->cfg->encap_dport;
		ce_event_add(ce, &e);
	}
	CE_LOG(INFO, "SA 0x%x: peer moved to a new NAT mapping", in->cfg->spi);
	in->peer6 = seen;
}

void
ce_natt_poll(struct ce *ce)
{
	unsigned i, j;

	for (i = 0; i < ce->n_sa && ce->n_natt != 0; i++) {
		struct ce_sa *in = ce->sa[i];
		uint64_t seen;

		if (in->cfg->dir != CE_DIR_IN || in->rt == NULL)
			continue;
		if (in->natt6) {
			natt6_poll(ce, in);
			continue;
		}
		if (in->peer == 0)
			continue;
		seen = dfe_sa_peer_seen(in->rt);
		if (seen == 0 || seen == in->peer)
			continue;
		for (j = 0; j < ce->n_sa; j++) {
			struct ce_sa *out = ce->sa[j];

			if (out->cfg->dir != CE_DIR_OUT || out->peer == 0 ||
			    memcmp(&out->cfg->remote, &in->cfg->remote,
				   sizeof(in->cfg->remote)) != 0)
				continue;
			out->peer = seen;
			if (out->rt != NULL)
				dfe_sa_set_peer(out->rt, seen);
		}
		{
			struct ce_event e = { .type = "nat-float",
					      .spi = in->cfg->spi, .policy = -1,
					      .proto = IPPROTO_UDP };

			e.src.family = e.dst.family = 4;
			memcpy(e.src.a, &seen, 4);
			memcpy(e.dst.a, in->cfg->local.a, 4);
			e.sport = rte_be_to_cpu_16((uint16_t)(seen >> 32));
			e.dport = in->cfg->encap_dport;
			ce_event_add(ce, &e);
		}
		CE_LOG(INFO, "SA 0x%x: peer moved to a new NAT mapping",
		       in->cfg->spi);
		in->peer = seen;
	}
}
