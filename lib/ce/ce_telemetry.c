/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_telemetry.h>
#include <rte_ethdev.h>
#include <netinet/in.h>

#include "ce_priv.h"

#define SG_VERSION "0.1.0"
#define SA_PAGE 100   /* SAs per /spigate/sa/list reply (16 KiB replies) */
#define EV_PAGE 48    /* events per /spigate/events reply */

/* The telemetry API of DPDK 22.11 passes no user argument to callbacks:
 * the CE they read, NULL once it is being destroyed (tel_dispatch()). */
static pthread_rwlock_t tel_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct ce *tel_ce;

/* The counters of /spigate/stats, in reply order (also the control
 * socket's "stats"). */
const struct ce_stat_field ce_stat_fields[] = {
	{ "rx", offsetof(struct sg_lcore_stats, rx) },
	{ "tx", offsetof(struct sg_lcore_stats, tx) },
	{ "decrypted", offsetof(struct sg_lcore_stats, decrypted) },
	{ "encrypted", offsetof(struct sg_lcore_stats, encrypted) },
	{ "bypassed", offsetof(struct sg_lcore_stats, bypassed) },
	{ "punted", offsetof(struct sg_lcore_stats, punted) },
	{ "held", offsetof(struct sg_lcore_stats, held) },
	{ "reinjected", offsetof(struct sg_lcore_stats, reinjected) },
	{ "ike", offsetof(struct sg_lcore_stats, ike) },
};
const unsigned ce_n_stat_fields = RTE_DIM(ce_stat_fields);

static inline uint64_t
field(const struct sg_lcore_stats *s, size_t off)
{
	return *(const uint64_t *)((const char *)s + off);
}

void
ce_stats_total(struct ce *ce, struct sg_lcore_stats *tot)
{
	struct sg_lcore_stats one;
	uint64_t *d = (uint64_t *)tot;
	const uint64_t *s;
	unsigned l, k;
	const unsigned words = sizeof(*tot) / sizeof(uint64_t);

	memset(tot, 0, sizeof(*tot));
	for (l = 0; l < RTE_MAX_LCORE; l++) {
		if (ce->lc[l] == NULL)
			continue;
		one = ce->stats[l];
		s = (const uint64_t *)&one;
		for (k = 0; k < words; k++)
			d[k] += s[k];
	}
}

static int
tel_stats(struct ce *ce, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	struct rte_tel_data *drop;
	struct sg_lcore_stats t;
	unsigned i;

	ce_stats_total(ce, &t);
	rte_tel_data_start_dict(d);
	for (i = 0; i < ce_n_stat_fields; i++)
		rte_tel_data_add_dict_u64(d, ce_stat_fields[i].name,
					  field(&t, ce_stat_fields[i].off));
	drop = rte_tel_data_alloc();
	if (drop == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(drop);
	for (i = 0; i < SG_DROP_MAX; i++)
		rte_tel_data_add_dict_u64(drop, sg_drop_names[i], t.drop[i]);
	rte_tel_data_add_dict_container(d, "drop", drop, 0);
	return 0;
}

static const char *
role_name(unsigned roles, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s",
		 roles & SG_ROLE_CFE ? "cfe" : "",
		 (roles & SG_ROLE_CFE) && (roles & (SG_ROLE_DFE | SG_ROLE_CE)) ?
		 "+" : "",
		 roles & SG_ROLE_DFE ? "dfe" : "",
		 (roles & SG_ROLE_DFE) && (roles & SG_ROLE_CE) ? "+" : "",
		 roles & SG_ROLE_CE ? "ce" : "");
	return buf;
}

static int
tel_info(struct ce *ce, const char *params __rte_unused,
	 struct rte_tel_data *d)
{
	struct rte_tel_data *roles;
	char key[16], buf[32];
	unsigned l;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", SG_VERSION);
	rte_tel_data_add_dict_u64(d, "uptime_s",
		(rte_rdtsc() - ce->start_tsc) / ce->hz);
	rte_tel_data_add_dict_string(d, "crypto_mode",
		ce->dep->crypto_mode == CE_CRYPTO_CPU ? "cpu" : "lookaside");
	rte_tel_data_add_dict_string(d, "sa_placement",
		ce->dep->sa_placement == CE_PLACE_RX ? "rx" : "balanced");
	if (ce->n_dfe != 0) {
		struct dfe_engines en;

		dfe_engines(ce->dfe[0], &en);
		if (en.aes != NULL) {
			rte_tel_data_add_dict_string(d, "cpu_crypto_aes",
						     en.aes);
			snprintf(buf, sizeof(buf), "%s%s", en.sha,
				 en.sha_ext ? "+sha-ext" : "");
			rte_tel_data_add_dict_string(d, "cpu_crypto_sha",
						     buf);
			rte_tel_data_add_dict_u64(d, "cpu_crypto_cbc_split",
						  en.split);
		}
	}
	roles = rte_tel_data_alloc();
	if (roles == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(roles);
	for (l = 0; l < RTE_MAX_LCORE; l++) {
		if (ce->lc[l] == NULL)
			continue;
		snprintf(key, sizeof(key), "%u", l);
		rte_tel_data_add_dict_string(roles, key,
			role_name(ce->lc[l]->roles, buf, sizeof(buf)));
	}
	rte_tel_data_add_dict_container(d, "lcores", roles, 0);
	return 0;
}

static int
tel_lcores(struct ce *ce, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	char key[16], buf[32];
	unsigned l, k;

	rte_tel_data_start_dict(d);
	for (l = 0; l < RTE_MAX_LCORE; l++) {
		const struct ce_lcore *lc = ce->lc[l];
		struct rte_tel_data *c;
		struct sg_lcore_stats s;

		if (lc == NULL)
			continue;
		s = ce->stats[l];
		c = rte_tel_data_alloc();
		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_string(c, "role",
					     role_name(lc->roles, buf, sizeof(buf)));
		rte_tel_data_add_dict_u64(c, "packets", s.pkts);
		rte_tel_data_add_dict_u64(c, "busy_cycles", s.busy_cycles);
		rte_tel_data_add_dict_u64(c, "idle_cycles", s.idle_cycles);
		rte_tel_data_add_dict_u64(c, "cycles_per_packet",
			s.pkts ? s.busy_cycles / s.pkts : 0);
		/* a CFE held back by full DFE rings: its idle cycles are
		 * waiting, not spare */
		if (lc->roles & SG_ROLE_CFE) {
			uint64_t hits, misses, skipped;

			rte_tel_data_add_dict_u64(c, "rx_waits", s.rx_waits);
			/* clear packets decided by the CFE's SPD memo, those
			 * that went to rte_acl through it, and those that
			 * skipped it while it was off */
			if (lc->cfe != NULL) {
				cfe_memo_counts(lc->cfe, &hits, &misses,
						&skipped);
				rte_tel_data_add_dict_u64(c, "spd_memo_hits",
							  hits);
				rte_tel_data_add_dict_u64(c, "spd_memo_misses",
							  misses);
				rte_tel_data_add_dict_u64(c, "spd_memo_skipped",
							  skipped);
			}
		}
		/* the DFE on this lcore and the SAs it owns (the spread
		 * lcores.sa_placement made) */
		for (k = 0; k < ce->n_dfe; k++) {
			if (ce->dep->dfe_lcores[k] != l)
				continue;
			rte_tel_data_add_dict_u64(c, "dfe", k);
			rte_tel_data_add_dict_u64(c, "sas",
				__atomic_load_n(&ce->slots[k].installed,
						__ATOMIC_RELAXED));
		}
		snprintf(key, sizeof(key), "%u", l);
		rte_tel_data_add_dict_container(d, key, c, 0);
	}
	return 0;
}

static void
spi_str(uint32_t spi, char *buf, size_t len)
{
	snprintf(buf, len, "0x%08x", spi);
}

/* A reply that says what is wrong instead of DPDK's bare null. */
static int
tel_error(struct rte_tel_data *d, const char *msg)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}


/*
 * DPDK 22.11 telemetry renders a dict inside a dict, but not an array of
 * dicts inside a dict: the reply is a dict keyed by "<spi>/<dir>", beside
 * "total" and, when more SAs follow, "next" (the index to ask for).
 */
static int
tel_sa_list(struct ce *ce, const char *params, struct rte_tel_data *d)
{
	unsigned i, start = 0, n = 0;
	char buf[16], key[24];
	char *end;

	if (params != NULL && *params != '\0') {
		start = (unsigned)strtoul(params, &end, 0);
		if (*end != '\0')
			return tel_error(d, "parameter: the index of the first SA");
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "total", ce->n_sa);
	pthread_mutex_lock(&ce->lock);
	for (i = start; i < ce->n_sa && n < SA_PAGE; i++, n++) {
		const struct ce_sa *sa = ce->sa[i];
		struct rte_tel_data *c = rte_tel_data_alloc();
		const char *dir = sa->cfg->dir == CE_DIR_IN ? "in" : "out";

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		spi_str(sa->cfg->spi, buf, sizeof(buf));
		rte_tel_data_add_dict_string(c, "spi", buf);
		rte_tel_data_add_dict_string(c, "dir", dir);
		rte_tel_data_add_dict_string(c, "state",
			ce_sa_state_names[sa->state]);
		snprintf(key, sizeof(key), "%s/%s", buf, dir);
		rte_tel_data_add_dict_container(d, key, c, 0);
	}
	pthread_mutex_unlock(&ce->lock);
	if (i < ce->n_sa)
		rte_tel_data_add_dict_u64(d, "next", i);
	return 0;
}

static void
lifetime_left(struct rte_tel_data *c, const struct ce *ce,
	      const struct ce_sa *sa, const struct dfe_sa_stats *s)
{
	const struct ce_lifetime *h = &sa->cfg->hard;
	struct rte_tel_data *l = rte_tel_data_alloc();
	uint64_t age;

	if (l == NULL)
		return;
	rte_tel_data_start_dict(l);
	age = sa->rt != NULL ? (rte_rdtsc() - sa->install_tsc) / ce->hz : 0;
	if (h->seconds != 0)
		rte_tel_data_add_dict_u64(l, "seconds",
					  h->seconds > age ? h->seconds - age : 0);
	if (h->bytes != 0)
		rte_tel_data_add_dict_u64(l, "bytes",
			h->bytes > s->bytes ? h->bytes - s->bytes : 0);
	if (h->packets != 0)
		rte_tel_data_add_dict_u64(l, "packets",
			h->packets > s->packets ? h->packets - s->packets : 0);
	rte_tel_data_add_dict_container(c, "lifetime_left", l, 0);
}

/* /spigate/sa/info,<spi>[,in|out]: the inbound SA unless out is asked. */
static int
tel_sa_info(struct ce *ce, const char *params, struct rte_tel_data *d)
{
	struct dfe_sa_stats s;
	struct rte_tel_data *drop;
	const struct ce_sa *sa;
	char *end, buf[16];
	unsigned long spi;
	int dir = -1;
	unsigned i;

	if (params == NULL || *params == '\0')
		return tel_error(d, "usage: /spigate/sa/info,<spi>[,in|out]");
	errno = 0;
	spi = strtoul(params, &end, 0);
	if (errno != 0 || end == params || spi > UINT32_MAX)
		return tel_error(d, "not an SPI (0x1001 or 4097)");
	if (*end == ',') {
		if (strcmp(end + 1, "in") == 0)
			dir = CE_DIR_IN;
		else if (strcmp(end + 1, "out") == 0)
			dir = CE_DIR_OUT;
		else
			return tel_error(d, "direction: in or out");
	} else if (*end != '\0') {
		return tel_error(d, "usage: /spigate/sa/info,<spi>[,in|out]");
	}
	pthread_mutex_lock(&ce->lock);
	sa = ce_sa_find(ce, (uint32_t)spi, dir < 0 ? CE_DIR_IN : dir);
	if (sa == NULL && dir < 0)
		sa = ce_sa_find(ce, (uint32_t)spi, CE_DIR_OUT);
	if (sa == NULL) {
		pthread_mutex_unlock(&ce->lock);
		return tel_error(d, "no such SA");
	}
	memset(&s, 0, sizeof(s));
	if (sa->rt != NULL)
		dfe_sa_stats(sa->rt, &s);
	rte_tel_data_start_dict(d);
	spi_str(sa->cfg->spi, buf, sizeof(buf));
	rte_tel_data_add_dict_string(d, "spi", buf);
	rte_tel_data_add_dict_string(d, "dir",
				     sa->cfg->dir == CE_DIR_IN ? "in" : "out");
	rte_tel_data_add_dict_string(d, "mode",
		sa->cfg->mode == CE_MODE_TUNNEL ? "tunnel" : "transport");
	rte_tel_data_add_dict_string(d, "state", ce_sa_state_names[sa->state]);
	if (sa->rt != NULL) {
		rte_tel_data_add_dict_u64(d, "dfe", sa->dfe);
		rte_tel_data_add_dict_u64(d, "dfe_lcore",
					  ce->dep->dfe_lcores[sa->dfe]);
		rte_tel_data_add_dict_string(d, "crypto", s.crypto);
	}
	rte_tel_data_add_dict_u64(d, "packets", s.packets);
	rte_tel_data_add_dict_u64(d, "bytes", s.bytes);
	rte_tel_data_add_dict_u64(d, sa->cfg->dir == CE_DIR_IN ? "last_seq" :
				  "seq", s.last_sqn);
	rte_tel_data_add_dict_u64(d, "held", sa->n_hold);
	drop = rte_tel_data_alloc();
	if (drop != NULL) {
		rte_tel_data_start_dict(drop);
		for (i = 0; i < SG_DROP_MAX; i++)
			if (s.drop[i] != 0)
				rte_tel_data_add_dict_u64(drop, sg_drop_names[i],
							  s.drop[i]);
		rte_tel_data_add_dict_container(d, "drop", drop, 0);
	}
	lifetime_left(d, ce, sa, &s);
	pthread_mutex_unlock(&ce->lock);
	return 0;
}

/* Record an event; the oldest of CE_EVENTS is overwritten. CE thread. */
void
ce_event_add(struct ce *ce, const struct ce_event *e)
{
	rte_spinlock_lock(&ce->ev_lock);
	ce->events[ce->n_events % CE_EVENTS] = *e;
	ce->events[ce->n_events % CE_EVENTS].tsc = rte_rdtsc();
	ce->n_events++;
	rte_spinlock_unlock(&ce->ev_lock);
}

static const char *const proto_names[256] = {
	[IPPROTO_TCP] = "tcp", [IPPROTO_UDP] = "udp", [IPPROTO_ICMP] = "icmp",
	[IPPROTO_ICMPV6] = "icmp6", [IPPROTO_ESP] = "esp",
};

/*
 * /spigate/events[,<first>]: events kept (the last CE_EVENTS), oldest first,
 * EV_PAGE a reply, each keyed by its sequence number (a dict of dicts: what
 * 22.11 telemetry can render); "total" = events ever recorded, "next" = the
 * first of the following page.
 */
static int
tel_events(struct ce *ce, const char *params, struct rte_tel_data *d)
{
	uint64_t first = 0, i, n;
	unsigned k;
	char key[24], buf[64];

	if (params != NULL && *params != '\0')
		first = strtoull(params, NULL, 0);
	rte_tel_data_start_dict(d);
	rte_spinlock_lock(&ce->ev_lock);
	n = ce->n_events;
	rte_tel_data_add_dict_u64(d, "total", n);
	i = n > CE_EVENTS ? n - CE_EVENTS : 0;
	if (first > i)
		i = first;
	for (k = 0; i < n && k < EV_PAGE; i++, k++) {
		const struct ce_event *e = &ce->events[i % CE_EVENTS];
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_string(c, "type", e->type);
		if (e->detail != NULL)
			rte_tel_data_add_dict_string(c, "detail", e->detail);
		rte_tel_data_add_dict_u64(c, "time_ms",
			(e->tsc - ce->start_tsc) * 1000 / ce->hz);
		spi_str(e->spi, buf, sizeof(buf));
		rte_tel_data_add_dict_string(c, "spi", buf);
		if (e->policy >= 0) {
			rte_tel_data_add_dict_u64(c, "policy", (uint64_t)e->policy);
			rte_tel_data_add_dict_u64(c, "line", (uint64_t)e->line);
		}
		if (e->src.family != 0) {
			rte_tel_data_add_dict_string(c, "src",
				sg_addr_fmt(&e->src, buf, sizeof(buf)));
			rte_tel_data_add_dict_string(c, "dst",
				sg_addr_fmt(&e->dst, buf, sizeof(buf)));
			if (proto_names[e->proto] != NULL)
				rte_tel_data_add_dict_string(c, "proto",
							     proto_names[e->proto]);
			else
				rte_tel_data_add_dict_u64(c, "proto", e->proto);
			rte_tel_data_add_dict_u64(c, "sport", e->sport);
			rte_tel_data_add_dict_u64(c, "dport", e->dport);
		}
		snprintf(key, sizeof(key), "%" PRIu64, i);
		rte_tel_data_add_dict_container(d, key, c, 0);
	}
	if (i < n)
		rte_tel_data_add_dict_u64(d, "next", i);
	rte_spinlock_unlock(&ce->ev_lock);
	return 0;
}

/* /spigate/ports: per port, the device's counters and spigate's view. */
static int
tel_ports(struct ce *ce, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	unsigned i;

	rte_tel_data_start_dict(d);
	for (i = 0; i < ce->n_ports; i++) {
		const struct ce_port_cfg *pc = &ce->dep->ports[i];
		struct rte_eth_stats es;
		struct rte_tel_data *c = rte_tel_data_alloc();
		char mac[RTE_ETHER_ADDR_FMT_SIZE];

		if (c == NULL)
			return -ENOMEM;
		memset(&es, 0, sizeof(es));
		rte_eth_stats_get(ce->port_id[i], &es);
		rte_ether_format_addr(mac, sizeof(mac), &ce->port_mac[i]);
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_string(c, "device", pc->device);
		rte_tel_data_add_dict_string(c, "role",
			pc->role == CE_PORT_PROTECTED ? "protected" : "unprotected");
		rte_tel_data_add_dict_string(c, "mac", mac);
		rte_tel_data_add_dict_u64(c, "port_id", ce->port_id[i]);
		rte_tel_data_add_dict_u64(c, "rx_queues", ce->n_rxq[i]);
		rte_tel_data_add_dict_u64(c, "tx_queues", ce->n_txq[i]);
		rte_tel_data_add_dict_u64(c, "rx_packets", es.ipackets);
		rte_tel_data_add_dict_u64(c, "rx_bytes", es.ibytes);
		rte_tel_data_add_dict_u64(c, "rx_missed", es.imissed);
		rte_tel_data_add_dict_u64(c, "rx_errors", es.ierrors);
		rte_tel_data_add_dict_u64(c, "rx_nombuf", es.rx_nombuf);
		rte_tel_data_add_dict_u64(c, "tx_packets", es.opackets);
		rte_tel_data_add_dict_u64(c, "tx_bytes", es.obytes);
		rte_tel_data_add_dict_u64(c, "tx_errors", es.oerrors);
		rte_tel_data_add_dict_container(d, pc->name, c, 0);
	}
	return 0;
}

/* The commands: /spigate/<name>, their handler and help text. */
static const struct {
	const char *name;
	int (*fn)(struct ce *ce, const char *params, struct rte_tel_data *d);
	const char *help;
} tel_cmds[] = {
	{ "/spigate/info", tel_info,
	  "Version, uptime and the role of every lcore." },
	{ "/spigate/stats", tel_stats,
	  "Totals: rx, tx, decrypted, ... and drop = {reason: count}." },
	{ "/spigate/lcores", tel_lcores,
	  "Per lcore: role, packets, busy/idle cycles, cycles per packet." },
	{ "/spigate/sa/list", tel_sa_list,
	  "SAs with spi, dir, state; 100 per reply. Parameter: first index." },
	{ "/spigate/sa/info", tel_sa_info,
	  "One SA. Parameters: spi[,in|out]." },
	{ "/spigate/ports", tel_ports,
	  "Per port: device, role, MAC, queues, device counters." },
	{ "/spigate/events", tel_events,
	  "Last events (acquire, sa-installed, ...). Parameter: first sequence number." },
};

/*
 * Every command comes through here, on one of DPDK's telemetry threads
 * (one per client). The read lock keeps the CE alive while a handler reads
 * it: ce_telemetry_fini(), the first step of ce_destroy(), takes the write
 * lock, so it waits for the handlers running and the ones after it answer
 * that spigate is stopping instead of reading what is being freed. DPDK
 * 22.11 has no way to unregister a command, and its socket stays open until
 * the process exits.
 */
static int
tel_dispatch(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned i;
	int rc;

	for (i = 0; i < RTE_DIM(tel_cmds); i++)
		if (strcmp(cmd, tel_cmds[i].name) == 0)
			break;
	if (i == RTE_DIM(tel_cmds))
		return -EINVAL;
	pthread_rwlock_rdlock(&tel_lock);
	if (tel_ce == NULL)
		rc = tel_error(d, "spigate is stopping");
	else
		rc = tel_cmds[i].fn(tel_ce, params, d);
	pthread_rwlock_unlock(&tel_lock);
	return rc;
}

int
ce_telemetry_init(struct ce *ce)
{
	unsigned i;

	pthread_rwlock_wrlock(&tel_lock);
	tel_ce = ce;
	pthread_rwlock_unlock(&tel_lock);
	for (i = 0; i < RTE_DIM(tel_cmds); i++) {
		if (rte_telemetry_register_cmd(tel_cmds[i].name, tel_dispatch,
					       tel_cmds[i].help) != 0) {
			CE_LOG(ERR, "cannot register telemetry command %s",
			       tel_cmds[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

void
ce_telemetry_fini(struct ce *ce)
{
	pthread_rwlock_wrlock(&tel_lock);
	if (tel_ce == ce)
		tel_ce = NULL;
	pthread_rwlock_unlock(&tel_lock);
}

int
ce_stats_write_json(struct ce *ce, FILE *f)
{
	struct sg_lcore_stats t;
	unsigned i;

	ce_stats_total(ce, &t);
	fputc('{', f);
	for (i = 0; i < ce_n_stat_fields; i++)
		fprintf(f, "\"%s\":%" PRIu64 ",", ce_stat_fields[i].name,
			field(&t, ce_stat_fields[i].off));
	fputs("\"drop\":{", f);
	for (i = 0; i < SG_DROP_MAX; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", sg_drop_names[i],
			t.drop[i]);
	fputs("}}\n", f);
	return ferror(f) ? -EIO : 0;
}

void
ce_stats_print(struct ce *ce, FILE *f)
{
	struct sg_lcore_stats t;
	unsigned i, n = 0;

	ce_stats_total(ce, &t);
	fprintf(f, "spigate: rx %" PRIu64 " tx %" PRIu64 " decrypted %" PRIu64
		" bypassed %" PRIu64 " punted %" PRIu64 " held %" PRIu64
		" reinjected %" PRIu64 " encrypted %" PRIu64 "\n", t.rx, t.tx,
		t.decrypted, t.bypassed, t.punted, t.held, t.reinjected,
		t.encrypted);
	fprintf(f, "spigate: drops:");
	for (i = 0; i < SG_DROP_MAX; i++) {
		if (t.drop[i] == 0)
			continue;
		fprintf(f, " %s %" PRIu64, sg_drop_names[i], t.drop[i]);
		n++;
	}
	fprintf(f, "%s\n", n ? "" : " none");
}
