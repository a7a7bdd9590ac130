/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CE_CONFIG_H
#define CE_CONFIG_H

/*
 * The deployment file (libconfig) and the policy database (YAML) parsed into
 * plain, validated structs. Nothing here touches DPDK: the loaders run before
 * EAL init (--check starts nothing) and in unit tests without EAL.
 *
 * Every problem is reported into a struct ce_diag as "PATH:LINE: message"
 * (one per line); loaders keep going after an error so that one run reports
 * every problem of a file.
 */

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include "sg_addr.h"

#define CE_NAME_MAX      32
#define CE_DEV_MAX       128
#define CE_MAX_PORTS     16
#define CE_MAX_PORT_ADDR 8
#define CE_MAX_LCORES    64
#define CE_MAX_CRYPTODEV 8
#define CE_KEY_MAX       64   /* bytes of key material */
#define CE_REPLAY_MAX    4096 /* largest replay_window accepted */
#define CE_MAX_SA_SELECTORS 16 /* inbound protect policies naming one SA */

/* ---- diagnostics ---- */
struct ce_diag {
	char *buf;        /* NUL-terminated, every message ends in '\n' */
	size_t len, cap;
	unsigned errors;  /* number of messages */
};

void ce_diag_init(struct ce_diag *d);
void ce_diag_fini(struct ce_diag *d);
/* "parent.key" (parent may be NULL) into buf of len bytes, cut to fit:
 * the key path in messages. */
void ce_name_join(char *buf, size_t len, const char *parent, const char *key);
/* Append "PATH:LINE: message\n"; line 0 prints "PATH: message". */
void ce_diag_add(struct ce_diag *d, const char *path, int line,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- deployment file ---- */
enum ce_port_role { CE_PORT_UNPROTECTED, CE_PORT_PROTECTED };
enum ce_crypto_mode { CE_CRYPTO_CPU, CE_CRYPTO_LOOKASIDE };
/* lcores.sa_placement: which DFE a new SA goes to */
enum ce_placement {
	CE_PLACE_BALANCED,  /* the DFE with the fewest installed SAs */
	CE_PLACE_RX,        /* installed on a packet: the DFE on the lcore of
			     * the CFE that received it (balanced otherwise) */
};

struct ce_port_cfg {
	char name[CE_NAME_MAX];
	char device[CE_DEV_MAX];     /* DPDK device name or PCI address */
	enum ce_port_role role;
	bool has_mac;
	uint8_t mac[6];
	unsigned n_addrs;
	/* address = interface addr/len, host bits kept as written:
	 * addrs[i].addr is the port's own address, addrs[i].len its subnet
	 * (sg_prefix_contains() ignores host bits: "is X on-link"). A bare
	 * address is a /32 or /128. */
	struct sg_prefix addrs[CE_MAX_PORT_ADDR];
	uint16_t mtu;                /* extension: 0 = device default */
	int line;
};

struct ce_deploy {
	char path[PATH_MAX];          /* the file as given */
	int eal_argc;                 /* `eal` is optional: 0 when absent */
	char **eal_argv;              /* malloc'd strings, NULL-terminated; the
	                               * file's strings only, no program name;
	                               * NULL when `eal` is absent */
	unsigned n_ports;
	struct ce_port_cfg ports[CE_MAX_PORTS];
	unsigned n_cfe, n_dfe;
	unsigned cfe_lcores[CE_MAX_LCORES];
	unsigned dfe_lcores[CE_MAX_LCORES];
	unsigned ce_lcore;            /* lcore ids are < RTE_MAX_LCORE */
	enum ce_placement sa_placement; /* optional, default balanced */
	enum ce_crypto_mode crypto_mode; /* optional, default cpu */
	unsigned n_cryptodevs;
	char cryptodevs[CE_MAX_CRYPTODEV][CE_DEV_MAX];
	char policy_path[PATH_MAX];   /* resolved relative to the file's folder:
	                               * "dir/gw.conf" + "p.yaml" = "dir/p.yaml";
	                               * absolute paths are kept */
	bool telemetry;               /* default true */
	char control_path[PATH_MAX];  /* "" when absent; < 108 chars (sun_path) */
	/* extensions (docs/configuration.md), with defaults [accepted range] */
	uint32_t punt_rate;           /* punt = { rate = N; } packets/s per CFE; 10000 [1..] */
	uint32_t punt_burst;          /* punt = { burst = N; }; 512 [1..] */
	uint32_t hold_packets;        /* hold = { packets = N; } per SA; 256 [1..65536] */
	uint32_t hold_timeout_ms;     /* hold = { timeout_ms = N; }; 2000 [1..3600000] */
	uint32_t ring_size;           /* rings = { size = N; } power of 2; 4096 [64..2^28] */
	uint32_t rekey_switch_ms;     /* rekey = { switch_timeout_ms = N; } 2000:
					 * outbound moves to a replacing SA at
					 * latest this long after it is added */
	uint32_t sa_capacity;         /* sa_capacity = N; SAs configured + added
					 * at runtime; default max(2 x file, 4096) */
	uint32_t mbufs;               /* mbufs = N; one pool, main lcore socket; 16384 [1024..2^28] */
	/* where ce_config_validate() reports deployment problems: the source
	 * line of `ports`, `lcores` and `crypto` (0 when absent) */
	int ports_line, lcores_line, crypto_line;
};

/* Parse a deployment file. Initialises *out (the caller frees it with
 * ce_deploy_free(), also after errors) and fills it as far as it got.
 * Required: ports (each with name, device, role, address), lcores (cfe, dfe,
 * ce), crypto.devices, policy. Unknown keys and wrong types are errors.
 * Returns 0 when no error was added to *diag, -EINVAL otherwise (also for
 * NULL arguments, with nothing reported). */
int ce_deploy_load(const char *path, struct ce_deploy *out, struct ce_diag *diag);
/* Release what ce_deploy_load() allocated; d may be NULL. */
void ce_deploy_free(struct ce_deploy *d);

/* ---- policy database ---- */
enum ce_dir { CE_DIR_IN, CE_DIR_OUT };
enum ce_mode { CE_MODE_TUNNEL, CE_MODE_TRANSPORT };
enum ce_aead { CE_AEAD_NONE, CE_AEAD_AES128GCM, CE_AEAD_AES256GCM };
enum ce_cipher { CE_CIPHER_NULL, CE_CIPHER_AES128CBC, CE_CIPHER_AES256CBC,
		 CE_CIPHER_AES128CTR };
enum ce_auth { CE_AUTH_NULL, CE_AUTH_SHA256_128, CE_AUTH_SHA1_96,
	       CE_AUTH_SHA384_192, CE_AUTH_SHA512_256 };
enum ce_install { CE_INSTALL_LAZY, CE_INSTALL_EAGER };
enum ce_action { CE_ACT_PROTECT, CE_ACT_BYPASS, CE_ACT_DISCARD };

struct ce_lifetime {
	uint64_t seconds, bytes, packets; /* 0 = unlimited */
};

struct ce_sa_cfg {
	uint32_t spi;                 /* != 0; values 1..255 are reserved: error */
	enum ce_dir dir;
	enum ce_mode mode;
	enum ce_aead aead;            /* != NONE: cipher/auth unused */
	enum ce_cipher cipher;
	enum ce_auth auth;
	uint8_t key_len;              /* aead: key incl. 4-byte salt (20 or 36) */
	uint8_t key[CE_KEY_MAX];
	uint8_t cipher_key_len;       /* cbc 16/32, ctr: 16 + 4 nonce = 20 */
	uint8_t cipher_key[CE_KEY_MAX];
	uint8_t auth_key_len;         /* sha1 20, sha256 32, sha384 48, sha512 64 */
	uint8_t auth_key[CE_KEY_MAX];
	struct sg_addr local, remote; /* required for tunnel; optional transport */
	bool encap;
	uint16_t encap_sport, encap_dport;
	uint32_t replay_window;       /* default 64; 0..CE_REPLAY_MAX */
	bool esn;                     /* esn requires replay_window > 0 */
	struct ce_lifetime soft, hard;
	enum ce_install install;      /* default lazy */
	bool has_replaces;            /* extension: make-before-break rekey */
	uint32_t replaces;            /* the SPI of the SA this one succeeds */
	int line;
};

#define CE_ANY (-1)

struct ce_policy_cfg {
	enum ce_dir dir;
	struct sg_prefix src, dst;    /* same family */
	int proto;                    /* CE_ANY or 0..255 */
	uint16_t sport_lo, sport_hi;  /* any = 0..65535 */
	uint16_t dport_lo, dport_hi;
	enum ce_action action;
	bool has_sa;                  /* required for protect, refused otherwise */
	uint32_t sa_spi;
	uint32_t priority;            /* default 0; highest wins */
	int line;
};

struct ce_route_cfg {
	struct sg_prefix dst;
	char port[CE_NAME_MAX];
	bool has_via;                 /* absent: destination is on-link */
	struct sg_addr via;
	int line;
};

struct ce_neigh_cfg {
	struct sg_addr ip;
	uint8_t mac[6];
	char port[CE_NAME_MAX];
	int line;
};

struct ce_policydb {
	char path[PATH_MAX];
	unsigned n_sas, n_policies, n_routes, n_neighbors;
	struct ce_sa_cfg *sas;        /* malloc'd arrays */
	struct ce_policy_cfg *policies;
	struct ce_route_cfg *routes;
	struct ce_neigh_cfg *neighbors;
};

/* Parse a policy database. Same conventions as ce_deploy_load(). Checks
 * everything that needs only this file: field values, duplicate SAs (same
 * spi, dir and local address), protect policies naming an SA of their
 * direction, duplicate routes (same dst) and neighbours (same ip and port).
 * An empty file is an empty database. Items that had errors are still
 * stored (n_* counts every item of the file). */
int ce_policydb_load(const char *path, struct ce_policydb *out,
		     struct ce_diag *diag);
/* Release what ce_policydb_load() allocated; db may be NULL. */
/* The same from text in memory (a control request); 'name' is used as the
 * path in messages. */
int ce_policydb_parse(const char *name, const char *text, size_t len,
		      struct ce_policydb *out, struct ce_diag *diag);
/* The same, items checked on their own: a policy may name an SA that is
 * not in the text (a control request adding one policy). */
int ce_policydb_parse_items(const char *name, const char *text, size_t len,
			    struct ce_policydb *out, struct ce_diag *diag);
void ce_policydb_free(struct ce_policydb *db);

/* Cross-checks between the two files: route/neighbour ports exist, routes'
 * next hops have a neighbour, lcore lists are sane (CE lcore given, at least
 * one CFE and one DFE), ports have at least one of each role... Reports
 * against the policy file's lines. Returns 0 or -EINVAL. */
/* Exactly, on the deployment (against dep->path and its *_line fields):
 * at least one cfe and one dfe lcore, no lcore twice in the cfe list nor in
 * the dfe list (the same lcore in both, or as ce, is fine: roles share
 * lcores), at least one unprotected and one protected port, at least one
 * crypto device. On the policy database when db != NULL (against db->path
 * and the items' lines): every route and neighbour names a port of dep, and
 * a route with a next hop (via) has a neighbour for that address on the
 * route's port. Any thread; touches nothing but *diag. */
int ce_config_validate(const struct ce_deploy *dep, const struct ce_policydb *db,
		       struct ce_diag *diag);

#endif /* CE_CONFIG_H */
