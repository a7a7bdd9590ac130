/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CE_PRIV_H
#define CE_PRIV_H

#include <pthread.h>
#include <stdbool.h>

#include <rte_crypto.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>

#include "ce.h"
#include "ce_config.h"
#include "cfe.h"
#include "cfe_spd.h"
#include "cfe_table.h"
#include "dfe.h"
#include "sg_common.h"
#include "sg_route.h"
#include "sg_stats.h"
#include "sg_tx.h"

extern int ce_logtype;
#define CE_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, ce_logtype, "spigate: " fmt "\n", ##__VA_ARGS__)

struct ce_xforms {
	struct rte_crypto_sym_xform x[2];
	struct rte_crypto_sym_xform *head;
	uint32_t salt;                /* as it appears in the key material */
};
int ce_xform(const struct ce_sa_cfg *s, struct ce_xforms *x, bool out);
int ce_xform_inbound(const struct ce_sa_cfg *s, struct ce_xforms *x);
int ce_xform_outbound(const struct ce_sa_cfg *s, struct ce_xforms *x);

enum ce_sa_state {
	CE_SA_CONFIGURED,             /* known, not in the data path */
	CE_SA_INSTALLING,             /* published, key written, gate closed */
	CE_SA_INSTALLED,
	CE_SA_EXPIRED,
	CE_SA_FAILED,                 /* the crypto device refused it */
};
extern const char *const ce_sa_state_names[];

/* The CE's full SA: configuration, placement, and held packets. */
struct ce_sa {
	struct ce_sa_cfg cfg_store;   /* own copy: outlives the file or request */
	const struct ce_sa_cfg *cfg;  /* = &cfg_store */
	unsigned idx;                 /* in ce->sa[] */
	enum ce_sa_state state;
	uint8_t inner_family;
	bool shared_spi;              /* another inbound SA has this SPI */
	unsigned dfe;
	uint32_t slot;
	uint16_t gen;
	struct dfe_sa *rt;
	uint64_t install_tsc;
	uint64_t rcu_token;
	bool token_passed;
	uint32_t n_hold, hold_head;   /* FIFO of held packets */
	struct rte_mbuf **hold;
	struct ce_sa *next_spi;       /* chain of SAs with the same SPI */
	unsigned pending_idx;         /* in ce->pending[] while INSTALLING */
	enum sg_drop fail_drop;       /* FAILED: what its packets count as */
	bool soft_done;               /* soft-expire event sent */
	/* make-before-break rekey (outbound) */
	struct ce_sa *succ;           /* the SA that took over its policies */
	bool awaiting_switch;         /* replaces another, not switched yet */
	uint64_t peer;                /* NAT-T: the peer's mapping now (dfe.h) */
	bool natt6;                   /* IPv6 NAT-T: the mapping is peer6 */
	struct dfe_peer6 peer6;
	uint64_t added_tsc;
	uint32_t sel_spi;              /* whose protect policies are its selectors */
	/* outbound: the egress resolved at install (SA-pinned egress) */
	uint16_t pin_port;
	struct rte_ether_hdr pin_eth;
};

/* Packets of an outbound protect policy whose SA is not configured (yet):
 * held until it appears or they time out, with one ACQUIRE event. */
struct ce_phold {
	uint32_t n, head;
	struct rte_mbuf **q;
	bool acquired;
};

/*
 * The security policies in force, compiled (ce_policy.c): never modified
 * once published, except the SA binding of its outbound protect rules.
 */
struct ce_pset {
	unsigned n;
	struct ce_policy_cfg *pol;    /* evaluation (tie-break) order */
	uint32_t *uid;                /* stable identity: SPD rule id, punts */
	int32_t *next;                /* next protect policy of the same
				       * (dir, SPI), -1 */
	struct rte_hash *by_spi;      /* (dir, spi) -> first protect policy */
	struct rte_hash *by_uid;      /* uid -> SPD out position */
	struct cfe_spd *spd;
	unsigned n_out;               /* SPD out positions */
	uint32_t *out_policy;         /* SPD out position -> index in pol */
	struct ce_phold *phold;       /* per SPD out position */
};

#define CE_EVENTS 256

struct ce_event {
	uint64_t tsc;
	const char *type;             /* "acquire", "sa-installed", ... */
	const char *detail;           /* e.g. the limit that expired; NULL */
	uint32_t spi;
	int policy;                   /* index in the policy database, -1 */
	int line;
	struct sg_addr src, dst;
	uint8_t proto;
	uint16_t sport, dport;
};
void ce_event_add(struct ce *ce, const struct ce_event *e);

/* Per-lcore context: the launch argument of ce_lcore_main(). */
struct ce_lcore {
	unsigned lcore;
	unsigned roles;               /* SG_ROLE_* */
	struct cfe *cfe;
	struct dfe *dfe;
	struct ce *ce;                /* set on the CE's lcore */
	struct rte_rcu_qsbr *qsv;     /* data lcores report quiescence */
	const volatile int *quit;
	unsigned n_ports;
	struct sg_txq txq[SG_MAX_PORTS];
	struct sg_lcore_stats *st;
} __rte_cache_aligned;

struct ce_dfe_slots {
	uint32_t n_free;
	uint32_t *free;               /* stack of free slots */
	uint16_t *gen;                /* generation per slot */
	unsigned installed;
};

struct ce {
	const struct ce_deploy *dep;
	const struct ce_policydb *db;
	struct ce_opts opts;
	uint64_t start_tsc, hz;

	/* ports */
	unsigned n_ports;
	uint16_t port_id[SG_MAX_PORTS];
	struct rte_ether_addr port_mac[SG_MAX_PORTS];
	uint16_t n_txq[SG_MAX_PORTS], n_rxq[SG_MAX_PORTS];
	rte_spinlock_t txq_lock[SG_MAX_PORTS][RTE_MAX_LCORE];
	struct rte_mempool *pool;

	/* crypto */
	uint8_t cdev[CE_MAX_CRYPTODEV];
	unsigned n_cdev;
	struct rte_mempool *sess_pool[CE_MAX_CRYPTODEV];
	struct rte_mempool *cop_pool;

	/* elements */
	struct rte_rcu_qsbr *qsv;
	struct cfe_table *table;
	struct ce_pset *ps;            /* the policies in force */
	struct cfe_spd *spd_pub;       /* = ps->spd, as the CFEs read it */
	uint32_t next_pol_uid;
	/* reload (ce_reload.c): the policy file as last loaded (= db at
	 * start, owned after a reload) and the uids of its policies */
	const struct ce_policydb *file;
	struct ce_policydb *file_owned;
	uint32_t *file_uid;
	struct sg_route *route;        /* published: data lcores load it (acquire);
					* the CE alone stores it (ce_route.c) */
	uint32_t route_gen;            /* names of the tables built so far */
	unsigned n_routes, n_nbrs;     /* the file's, then runtime changes */
	struct ce_route_cfg *routes;   /* what ce->route was built from */
	struct ce_neigh_cfg *nbrs;
	struct rte_ring *punt_ring;
	unsigned n_dfe, n_cfe;
	struct rte_ring *dfe_ring[SG_MAX_DFE];
	struct dfe *dfe[SG_MAX_DFE];
	struct cfe *cfe[SG_MAX_CFE];
	int cfe_dfe[SG_MAX_CFE];       /* the DFE on CFE i's lcore, -1 none */
	struct ce_dfe_slots slots[SG_MAX_DFE];
	struct ce_lcore *lc[RTE_MAX_LCORE];
	struct sg_lcore_stats *stats;  /* [RTE_MAX_LCORE] */
	struct sg_lcore_stats *st;     /* the CE's own block */
	unsigned ce_lcore;
	unsigned n_tx_lcores;

	/* SA database */
	pthread_mutex_t lock;          /* CE thread vs telemetry thread */
	unsigned n_sa, cap_sa;         /* cap_sa: SA slots (config + runtime) */
	struct ce_sa **sa;             /* one per configured SA */
	struct rte_hash *by_spi;       /* inbound SPI -> first ce_sa */
	unsigned n_installed;          /* SAs in the data path */
	unsigned n_timed;
	struct ce_sa **timed;          /* SAs with a lifetime limit */
	unsigned n_pending;
	struct ce_sa **pending;        /* INSTALLING, waiting for the gate */
	struct rte_mbuf **hold_free;   /* hold queues of installed SAs, for the
					* next (a list through their slot 0) */
	struct rte_hash *by_spi_out;   /* outbound SPI -> ce_sa */
	struct rte_hash *out_alias;    /* removed replaced SPI -> successor SPI */
	unsigned n_awaiting;           /* outbound SAs waiting to switch */
	unsigned n_natt;               /* NAT-T SAs (either direction) */
	unsigned n_held_policy;        /* packets in ps->phold[] */
	rte_spinlock_t ev_lock;        /* CE thread vs telemetry thread */
	uint64_t n_events;
	struct ce_event events[CE_EVENTS];
	struct ce_ctl *ctl;            /* control socket, NULL without */
	uint64_t next_ctl_tsc;
	uint64_t unknown_log_tsc;
	uint64_t unknown_suppressed;

	/* life cycle; rx_stop and quit are read by every worker every
	 * iteration: a line of their own, which the CE writes only to stop */
	volatile int rx_stop __rte_cache_aligned;
	volatile int quit;
	volatile int stop_req __rte_cache_aligned;
	uint64_t drain_start;
	uint64_t drain_token;
	uint64_t last_rx, last_rx_tsc, next_idle_tsc;
	uint64_t next_life_tsc;
	uint64_t next_progress_tsc;
};

/* ce_ports.c */
int ce_ports_init(struct ce *ce);
void ce_ports_fini(struct ce *ce);
int ce_crypto_init(struct ce *ce);
void ce_crypto_fini(struct ce *ce);

/* ce_sadb.c */
/* An SA's hold queue (hold.packets slots): from those given back by SAs
 * done with theirs, else allocated (NULL if that fails). */
struct rte_mbuf **ce_hold_get(struct ce *ce);
void ce_hold_put(struct ce *ce, struct rte_mbuf **h);
int ce_sadb_init(struct ce *ce);
void ce_sadb_fini(struct ce *ce);
/* near: the DFE lcores.sa_placement = "rx" prefers (the one on the lcore
 * whose CFE received the packet that asks for the SA), -1 none */
int ce_sa_install(struct ce *ce, struct ce_sa *sa, bool gated, int near);
struct ce_sa *ce_sa_new(struct ce *ce, const struct ce_sa_cfg *cfg);
void ce_sa_remove(struct ce *ce, struct ce_sa *sa);
void ce_sa_adopt_held(struct ce *ce, struct ce_sa *sa);
struct ce_sa *ce_sa_find_in(struct ce *ce, uint32_t spi, const uint8_t *dst,
			    uint8_t family);
struct ce_sa *ce_sa_find(struct ce *ce, uint32_t spi, int dir);
struct ce_sa *ce_sa_find_out(struct ce *ce, uint32_t spi);
struct ce_sa *ce_sa_resolve_out(struct ce *ce, uint32_t spi);
void ce_rekey_poll(struct ce *ce, uint64_t now);
void ce_natt_poll(struct ce *ce);
unsigned ce_sadb_held(const struct ce *ce);

/* The RCU thread id of the CE's own lcore when it is also a data lcore
 * (its grace periods must not wait for itself), else none. */
static inline unsigned
ce_rcu_self(const struct ce *ce)
{
	const struct ce_lcore *lc = ce->lc[ce->ce_lcore];

	return lc != NULL && (lc->roles & (SG_ROLE_CFE | SG_ROLE_DFE)) ?
		ce->ce_lcore : RTE_QSBR_THRID_INVALID;
}

/* ce_policy.c */
int ce_policy_init(struct ce *ce);
void ce_policy_fini(struct ce *ce);
int32_t ce_pol_first(const struct ce_pset *ps, enum ce_dir dir, uint32_t spi);
int ce_pol_out_pos(const struct ce_pset *ps, uint32_t uid);
unsigned ce_pol_selectors(const struct ce_pset *ps, uint32_t spi,
			  struct dfe_sel *sel);
/* Replace the policies in force by n policies (copied) with their uids
 * (kept: the uid of a policy that stays; new: ++ce->next_pol_uid).
 * Checked, compiled, published under RCU; on error nothing changed and
 * err says why. CE thread, ce->lock held. */
int ce_policies_apply(struct ce *ce, const struct ce_policy_cfg *pol,
		      const uint32_t *uid, unsigned n, char *err, size_t len);
/* The same in two steps, for a reload that changes SAs in between:
 * prepare builds and checks the set against the SAs as they will be
 * (view: running SAs in 'gone' count as absent, 'added' as present and
 * not installed; NULL: as they are); NULL and err on error. commit
 * publishes it (or frees it and fails, out of memory only). */
struct ce_sa_view {
	struct ce_sa *const *gone;    /* sorted by address (ce_ptr_cmp) */
	unsigned n_gone;
	const struct ce_sa_cfg *added; /* sorted by (dir, spi) */
	unsigned n_added;
};
int ce_ptr_cmp(const void *a, const void *b);
struct ce_pset *ce_pset_prepare(struct ce *ce, const struct ce_policy_cfg *pol,
				const uint32_t *uid, unsigned n,
				const struct ce_sa_view *view, char *err,
				size_t len);
int ce_pset_commit(struct ce *ce, struct ce_pset *nw, char *err, size_t len);
void ce_pset_discard(struct ce *ce, struct ce_pset *ps);

/* Same policy: every key of policy-list equal (not the line). */
bool ce_policy_eq(const struct ce_policy_cfg *a, const struct ce_policy_cfg *b);

/* ce_reload.c: the control request `reload`; returns its reply (jansson
 * json_t *). CE thread. */
void *ce_reload(struct ce *ce);

/* ce_route.c */
int ce_route_init(struct ce *ce);
void ce_route_fini(struct ce *ce);
/*
 * Replace every route and neighbour with the given lists (copied): check
 * the whole set (ports exist, each via has a neighbour on the route's port,
 * no route destination or neighbour (ip, port) twice), build a new table,
 * publish it, wait for an RCU grace period, destroy the old one. 0, or
 * -errno with err saying what and why; then nothing changed. CE thread
 * only (it may be a data lcore too).
 */
int ce_routes_apply(struct ce *ce, struct ce_route_cfg *routes, unsigned nr,
		    struct ce_neigh_cfg *nbr, unsigned nn, char *err,
		    size_t errlen);
/* An installed outbound SA whose remote now resolves to another port or
 * next hop than the one pinned at its install, or to nothing. CE thread. */
bool ce_sa_pin_stale(const struct ce *ce, const struct ce_sa *sa);

/* ce_punt.c */
unsigned ce_poll(struct ce *ce);

/* ce_ctl.c */
int ce_ctl_init(struct ce *ce);
void ce_ctl_fini(struct ce *ce);
void ce_ctl_poll(struct ce *ce);

/* ce_telemetry.c */
struct ce_stat_field {
	const char *name;
	size_t off;
};
extern const struct ce_stat_field ce_stat_fields[];
extern const unsigned ce_n_stat_fields;
int ce_telemetry_init(struct ce *ce);
/* The telemetry commands stop reading ce (they answer that spigate is
 * stopping); waits for those that are reading it. ce_destroy() calls it
 * first. */
void ce_telemetry_fini(struct ce *ce);
void ce_stats_total(struct ce *ce, struct sg_lcore_stats *tot);

#endif /* CE_PRIV_H */
