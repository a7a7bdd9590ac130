/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The deployment file (libconfig syntax, CONTRACT.md "Deployment file").
 *
 * Like HAProxy's cfg_kws, every key has one parser listed in a table next to
 * the group it belongs to; walk_group() dispatches a group's settings to its
 * table, refuses keys the table does not list (a typo must not pass
 * silently) and reports required keys that are missing. Parsers report each
 * problem with the setting's line and keep going, so one run lists every
 * problem of the file. Cross-checks that need the policy database, or the
 * whole file, are in ce_validate.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libconfig.h>
#include <rte_config.h>

#include "ce_config.h"

#define NAME_LEN 96   /* "ports[15].address[7]" and the like */
#define KW_MAX   16   /* most keys in one group */
#define DIM(a)   (sizeof(a) / sizeof((a)[0]))

struct dctx {
	const char *path;       /* the file as given, for messages */
	struct ce_diag *diag;
	struct ce_deploy *d;    /* for checks across ports */
};

typedef int (*dparse_fn)(struct dctx *c, const config_setting_t *s,
			 const char *name, void *obj);

struct dkw {
	const char *name;
	dparse_fn parse;
	bool required;
};

/* "PATH:LINE: NAME: message", with the file and line of setting s. */
static void __attribute__((format(printf, 4, 5)))
err(struct dctx *c, const config_setting_t *s, const char *name,
    const char *fmt, ...)
{
	const char *file = s != NULL ? config_setting_source_file(s) : NULL;
	int line = s != NULL ? (int)config_setting_source_line(s) : 0;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (file == NULL)
		file = c->path;
	if (name != NULL)
		ce_diag_add(c->diag, file, line, "%s: %s", name, msg);
	else
		ce_diag_add(c->diag, file, line, "%s", msg);
}

/* ---- typed accessors: each reports a wrong type itself ---- */

static int get_string(struct dctx *c, const config_setting_t *s,
		      const char *name, const char **v)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err(c, s, name, "must be a string");
		return -EINVAL;
	}
	*v = config_setting_get_string(s);
	return 0;
}

/* A non-empty string that fits in cap bytes with its NUL. */
static int copy_string(struct dctx *c, const config_setting_t *s,
		       const char *name, char *dst, size_t cap)
{
	const char *v;

	if (get_string(c, s, name, &v) < 0)
		return -EINVAL;
	if (v[0] == '\0') {
		err(c, s, name, "must not be empty");
		return -EINVAL;
	}
	if (strlen(v) >= cap) {
		err(c, s, name, "longer than %zu characters", cap - 1);
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

/*
 * An integer in lo..hi. libconfig 1.5 stores literals above 2^31-1 without
 * the L suffix truncated to 32 bits; every range here stays below that.
 */
static int get_uint(struct dctx *c, const config_setting_t *s,
		    const char *name, long long lo, long long hi, long long *v)
{
	long long x;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		err(c, s, name, "must be an integer");
		return -EINVAL;
	}
	x = config_setting_get_int64(s);
	if (x < lo || x > hi) {
		err(c, s, name, "%lld out of range %lld..%lld", x, lo, hi);
		return -EINVAL;
	}
	*v = x;
	return 0;
}

static int get_u32(struct dctx *c, const config_setting_t *s,
		   const char *name, long long lo, long long hi, uint32_t *v)
{
	long long x;

	if (get_uint(c, s, name, lo, hi, &x) < 0)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static int get_bool(struct dctx *c, const config_setting_t *s,
		    const char *name, bool *v)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		err(c, s, name, "must be true or false");
		return -EINVAL;
	}
	*v = config_setting_get_bool(s) != 0;
	return 0;
}

static int want_group(struct dctx *c, const config_setting_t *s,
		      const char *name)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		err(c, s, name, "must be a group { ... }");
		return -EINVAL;
	}
	return 0;
}

/* A sequence: libconfig array [ ... ] or list ( ... ). */
static int want_list(struct dctx *c, const config_setting_t *s,
		     const char *name)
{
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		err(c, s, name, "must be a list [ ... ]");
		return -EINVAL;
	}
	return 0;
}

/* One of names[]; *v gets its index. */
static int get_enum(struct dctx *c, const config_setting_t *s,
		    const char *name, const char *const names[], unsigned n,
		    unsigned *v)
{
	char choices[128] = "";
	const char *x;
	unsigned i;

	if (get_string(c, s, name, &x) < 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (strcmp(x, names[i]) == 0) {
			*v = i;
			return 0;
		}
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices),
			 "%s\"%s\"", i == 0 ? "" : i + 1 == n ? " or " : ", ",
			 names[i]);
	}
	err(c, s, name, "\"%s\" is not %s", x, choices);
	return -EINVAL;
}

static void join(char *buf, const char *parent, const char *key)
{
	ce_name_join(buf, NAME_LEN, parent, key);
}
static void index_name(char *buf, const char *parent, unsigned i)
{
	int n = snprintf(buf, NAME_LEN, "%s[%u]", parent, i);

	(void)n;
}

/*
 * Hand every setting of group g to its keyword's parser. Unknown keys and
 * missing required keys are errors; g's name is gname (NULL for the root,
 * whose line is 0: "PATH: missing ..."). libconfig itself refuses a key
 * given twice in one group.
 */
static int walk_group(struct dctx *c, const config_setting_t *g,
		      const char *gname, const struct dkw *kws, unsigned n,
		      void *obj)
{
	bool seen[KW_MAX] = { false };
	char name[NAME_LEN];
	int i, len, rc = 0;
	unsigned k;

	len = config_setting_length(g);
	for (i = 0; i < len; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *key = config_setting_name(s);

		join(name, gname, key);
		for (k = 0; k < n; k++)
			if (strcmp(kws[k].name, key) == 0)
				break;
		if (k == n) {
			err(c, s, name, "unknown key");
			rc = -EINVAL;
			continue;
		}
		seen[k] = true;
		if (kws[k].parse(c, s, name, obj) < 0)
			rc = -EINVAL;
	}
	for (k = 0; k < n; k++) {
		if (kws[k].required && !seen[k]) {
			err(c, g, gname, "missing '%s'", kws[k].name);
			rc = -EINVAL;
		}
	}
	return rc;
}

/* ---- eal ---- */

static int p_eal(struct dctx *c, const config_setting_t *s, const char *name,
		 void *obj)
{
	struct ce_deploy *d = obj;
	char ename[NAME_LEN];
	int i, n, rc = 0;

	if (want_list(c, s, name) < 0)
		return -EINVAL;
	n = config_setting_length(s);
	d->eal_argv = calloc((size_t)n + 1, sizeof(*d->eal_argv));
	if (d->eal_argv == NULL) {
		err(c, s, name, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v;

		index_name(ename, name, (unsigned)i);
		if (get_string(c, e, ename, &v) < 0) {
			rc = -EINVAL;
			continue;
		}
		d->eal_argv[d->eal_argc] = strdup(v);
		if (d->eal_argv[d->eal_argc] == NULL) {
			err(c, e, ename, "out of memory");
			return -ENOMEM;
		}
		d->eal_argc++;
	}
	return rc;
}

/* ---- ports ---- */

static int p_port_name(struct dctx *c, const config_setting_t *s,
		       const char *name, void *obj)
{
	struct ce_port_cfg *p = obj;
	char v[CE_NAME_MAX];
	const char *x;
	unsigned i;

	if (copy_string(c, s, name, v, sizeof(v)) < 0)
		return -EINVAL;
	/* routes and neighbours name ports as plain YAML scalars */
	for (x = v; *x != '\0'; x++) {
		if (!((*x >= 'a' && *x <= 'z') || (*x >= 'A' && *x <= 'Z') ||
		      (*x >= '0' && *x <= '9') || *x == '_' || *x == '-' ||
		      *x == '.')) {
			err(c, s, name, "\"%s\": use letters, digits, '_', '-', '.'",
			    v);
			return -EINVAL;
		}
	}
	/* ports before this one: d->ports[0 .. n_ports - 1] */
	for (i = 0; i < c->d->n_ports; i++) {
		if (strcmp(c->d->ports[i].name, v) == 0) {
			err(c, s, name, "port name \"%s\" already used at line %d",
			    v, c->d->ports[i].line);
			return -EINVAL;
		}
	}
	strcpy(p->name, v);
	return 0;
}

static int p_port_device(struct dctx *c, const config_setting_t *s,
			 const char *name, void *obj)
{
	struct ce_port_cfg *p = obj;
	unsigned i;

	if (copy_string(c, s, name, p->device, sizeof(p->device)) < 0)
		return -EINVAL;
	for (i = 0; i < c->d->n_ports; i++) {
		if (strcmp(c->d->ports[i].device, p->device) == 0) {
			err(c, s, name, "device \"%s\" already used at line %d",
			    p->device, c->d->ports[i].line);
			p->device[0] = '\0';
			return -EINVAL;
		}
	}
	return 0;
}

static int p_port_role(struct dctx *c, const config_setting_t *s,
		       const char *name, void *obj)
{
	static const char *const roles[] = {
		[CE_PORT_UNPROTECTED] = "unprotected",
		[CE_PORT_PROTECTED] = "protected",
	};
	struct ce_port_cfg *p = obj;
	unsigned v;

	if (get_enum(c, s, name, roles, 2, &v) < 0)
		return -EINVAL;
	p->role = (enum ce_port_role)v;
	return 0;
}

static int port_addr1(struct dctx *c, const config_setting_t *s,
		      const char *name, struct ce_port_cfg *p)
{
	char buf[64];
	const char *v;
	unsigned i;

	if (get_string(c, s, name, &v) < 0)
		return -EINVAL;
	if (p->n_addrs == CE_MAX_PORT_ADDR) {
		err(c, s, name, "more than %d addresses", CE_MAX_PORT_ADDR);
		return -EINVAL;
	}
	if (sg_ifaddr_parse(v, &p->addrs[p->n_addrs]) < 0) {
		err(c, s, name, "\"%s\" is not an IPv4 or IPv6 address/length", v);
		return -EINVAL;
	}
	/* one address, one port: the gateway must know which port owns it
	 * (p is d->ports[n_ports], its own earlier addresses included) */
	for (i = 0; i <= c->d->n_ports; i++) {
		const struct ce_port_cfg *q = &c->d->ports[i];
		unsigned b;

		for (b = 0; b < q->n_addrs; b++) {
			if (memcmp(&q->addrs[b].addr, &p->addrs[p->n_addrs].addr,
				   sizeof(struct sg_addr)) != 0)
				continue;
			err(c, s, name, "address %s already used at line %d",
			    sg_addr_fmt(&q->addrs[b].addr, buf, sizeof(buf)),
			    q->line);
			return -EINVAL;
		}
	}
	p->n_addrs++;
	return 0;
}

/* address = "a/len"; or address = [ "a/len", ... ]; */
static int p_port_address(struct dctx *c, const config_setting_t *s,
			  const char *name, void *obj)
{
	struct ce_port_cfg *p = obj;
	char ename[NAME_LEN];
	int i, n, rc = 0;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return port_addr1(c, s, name, p);
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		err(c, s, name, "must be a string or a list of strings");
		return -EINVAL;
	}
	n = config_setting_length(s);
	if (n == 0) {
		err(c, s, name, "must not be empty");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		index_name(ename, name, (unsigned)i);
		if (port_addr1(c, config_setting_get_elem(s, (unsigned)i), ename,
			       p) < 0)
			rc = -EINVAL;
	}
	return rc;
}

static int p_port_mac(struct dctx *c, const config_setting_t *s,
		      const char *name, void *obj)
{
	static const uint8_t zero[6];
	struct ce_port_cfg *p = obj;
	const char *v;

	if (get_string(c, s, name, &v) < 0)
		return -EINVAL;
	if (sg_mac_parse(v, p->mac) < 0) {
		err(c, s, name, "\"%s\" is not a MAC address (02:00:00:00:00:01)",
		    v);
		return -EINVAL;
	}
	if ((p->mac[0] & 1) != 0 || memcmp(p->mac, zero, 6) == 0) {
		err(c, s, name, "%s is not a unicast MAC address", v);
		return -EINVAL;
	}
	p->has_mac = true;
	return 0;
}

static int p_port_mtu(struct dctx *c, const config_setting_t *s,
		      const char *name, void *obj)
{
	struct ce_port_cfg *p = obj;
	uint32_t v;

	if (get_u32(c, s, name, 68, 65535, &v) < 0)
		return -EINVAL;
	p->mtu = (uint16_t)v;
	return 0;
}

static const struct dkw port_kws[] = {
	{ "name", p_port_name, true },
	{ "device", p_port_device, true },
	{ "role", p_port_role, true },
	{ "address", p_port_address, true },
	{ "mac", p_port_mac, false },
	{ "mtu", p_port_mtu, false },
};

static int p_ports(struct dctx *c, const config_setting_t *s, const char *name,
		   void *obj)
{
	struct ce_deploy *d = obj;
	char ename[NAME_LEN];
	int i, n, rc = 0;

	d->ports_line = (int)config_setting_source_line(s);
	if (want_list(c, s, name) < 0)
		return -EINVAL;
	n = config_setting_length(s);
	if (n > CE_MAX_PORTS) {
		err(c, s, name, "more than %d ports", CE_MAX_PORTS);
		rc = -EINVAL;
		n = CE_MAX_PORTS;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct ce_port_cfg *p = &d->ports[d->n_ports];

		index_name(ename, name, (unsigned)i);
		if (want_group(c, e, ename) < 0) {
			rc = -EINVAL;
			continue;
		}
		p->line = (int)config_setting_source_line(e);
		if (walk_group(c, e, ename, port_kws, DIM(port_kws), p) < 0)
			rc = -EINVAL;
		d->n_ports++;
	}
	return rc;
}

/* ---- lcores ---- */

static int lcore_list(struct dctx *c, const config_setting_t *s,
		      const char *name, unsigned *ids, unsigned *n_ids)
{
	char ename[NAME_LEN];
	int i, n, rc = 0;

	if (want_list(c, s, name) < 0)
		return -EINVAL;
	n = config_setting_length(s);
	if (n > CE_MAX_LCORES) {
		err(c, s, name, "more than %d lcores", CE_MAX_LCORES);
		rc = -EINVAL;
		n = CE_MAX_LCORES;
	}
	for (i = 0; i < n; i++) {
		long long v;

		index_name(ename, name, (unsigned)i);
		if (get_uint(c, config_setting_get_elem(s, (unsigned)i), ename,
			     0, RTE_MAX_LCORE - 1, &v) < 0) {
			rc = -EINVAL;
			continue;
		}
		ids[(*n_ids)++] = (unsigned)v;
	}
	return rc;
}

static int p_lc_cfe(struct dctx *c, const config_setting_t *s,
		    const char *name, void *obj)
{
	struct ce_deploy *d = obj;

	return lcore_list(c, s, name, d->cfe_lcores, &d->n_cfe);
}

static int p_lc_dfe(struct dctx *c, const config_setting_t *s,
		    const char *name, void *obj)
{
	struct ce_deploy *d = obj;

	return lcore_list(c, s, name, d->dfe_lcores, &d->n_dfe);
}

static int p_lc_ce(struct dctx *c, const config_setting_t *s,
		   const char *name, void *obj)
{
	struct ce_deploy *d = obj;
	long long v;

	if (get_uint(c, s, name, 0, RTE_MAX_LCORE - 1, &v) < 0)
		return -EINVAL;
	d->ce_lcore = (unsigned)v;
	return 0;
}

static int p_lc_placement(struct dctx *c, const config_setting_t *s,
			  const char *name, void *obj)
{
	static const char *const places[] = {
		[CE_PLACE_BALANCED] = "balanced",
		[CE_PLACE_RX] = "rx",
	};
	struct ce_deploy *d = obj;
	unsigned v;

	if (get_enum(c, s, name, places, DIM(places), &v) < 0)
		return -EINVAL;
	d->sa_placement = (enum ce_placement)v;
	return 0;
}

static const struct dkw lcore_kws[] = {
	{ "cfe", p_lc_cfe, true },
	{ "dfe", p_lc_dfe, true },
	{ "ce", p_lc_ce, true },
	{ "sa_placement", p_lc_placement, false },
};

static int p_lcores(struct dctx *c, const config_setting_t *s,
		    const char *name, void *obj)
{
	struct ce_deploy *d = obj;

	d->lcores_line = (int)config_setting_source_line(s);
	if (want_group(c, s, name) < 0)
		return -EINVAL;
	return walk_group(c, s, name, lcore_kws, DIM(lcore_kws), obj);
}

/* ---- crypto ---- */

static int p_cr_mode(struct dctx *c, const config_setting_t *s,
		     const char *name, void *obj)
{
	static const char *const modes[] = {
		[CE_CRYPTO_CPU] = "cpu",
		[CE_CRYPTO_LOOKASIDE] = "lookaside",
	};
	struct ce_deploy *d = obj;
	unsigned v;

	if (get_enum(c, s, name, modes, 2, &v) < 0)
		return -EINVAL;
	d->crypto_mode = (enum ce_crypto_mode)v;
	return 0;
}

static int p_cr_devices(struct dctx *c, const config_setting_t *s,
			const char *name, void *obj)
{
	struct ce_deploy *d = obj;
	char ename[NAME_LEN];
	int i, n, rc = 0;
	unsigned j;

	if (want_list(c, s, name) < 0)
		return -EINVAL;
	n = config_setting_length(s);
	if (n > CE_MAX_CRYPTODEV) {
		err(c, s, name, "more than %d devices", CE_MAX_CRYPTODEV);
		rc = -EINVAL;
		n = CE_MAX_CRYPTODEV;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char *dev = d->cryptodevs[d->n_cryptodevs];

		index_name(ename, name, (unsigned)i);
		if (copy_string(c, e, ename, dev, CE_DEV_MAX) < 0) {
			rc = -EINVAL;
			continue;
		}
		for (j = 0; j < d->n_cryptodevs; j++)
			if (strcmp(d->cryptodevs[j], dev) == 0)
				break;
		if (j < d->n_cryptodevs) {
			err(c, e, ename, "\"%s\" listed twice", dev);
			rc = -EINVAL;
			continue;
		}
		d->n_cryptodevs++;
	}
	return rc;
}

static const struct dkw crypto_kws[] = {
	{ "mode", p_cr_mode, false },
	{ "devices", p_cr_devices, true },
};

static int p_crypto(struct dctx *c, const config_setting_t *s,
		    const char *name, void *obj)
{
	struct ce_deploy *d = obj;

	d->crypto_line = (int)config_setting_source_line(s);
	if (want_group(c, s, name) < 0)
		return -EINVAL;
	return walk_group(c, s, name, crypto_kws, DIM(crypto_kws), obj);
}

/* ---- policy, telemetry, control ---- */

/* A relative policy path is relative to the deployment file's folder. */
static int p_policy(struct dctx *c, const config_setting_t *s,
		    const char *name, void *obj)
{
	struct ce_deploy *d = obj;
	const char *v, *slash;
	int dirlen = 0, n;

	if (get_string(c, s, name, &v) < 0)
		return -EINVAL;
	if (v[0] == '\0') {
		err(c, s, name, "must not be empty");
		return -EINVAL;
	}
	slash = strrchr(d->path, '/');
	if (v[0] != '/' && slash != NULL)
		dirlen = (int)(slash - d->path) + 1;
	n = snprintf(d->policy_path, sizeof(d->policy_path), "%.*s%s", dirlen,
		     d->path, v);
	if (n < 0 || (size_t)n >= sizeof(d->policy_path)) {
		d->policy_path[0] = '\0';
		err(c, s, name, "path too long");
		return -EINVAL;
	}
	return 0;
}

static int p_telemetry(struct dctx *c, const config_setting_t *s,
		       const char *name, void *obj)
{
	struct ce_deploy *d = obj;

	return get_bool(c, s, name, &d->telemetry);
}

/* A unix socket path: it must fit in sockaddr_un.sun_path (108 bytes). */
static int p_control(struct dctx *c, const config_setting_t *s,
		     const char *name, void *obj)
{
	struct ce_deploy *d = obj;

	return copy_string(c, s, name, d->control_path, 108);
}

/* ---- extensions ---- */

static int p_punt_rate(struct dctx *c, const config_setting_t *s,
		       const char *name, void *obj)
{
	return get_u32(c, s, name, 1, INT32_MAX,
		       &((struct ce_deploy *)obj)->punt_rate);
}

static int p_punt_burst(struct dctx *c, const config_setting_t *s,
			const char *name, void *obj)
{
	return get_u32(c, s, name, 1, INT32_MAX,
		       &((struct ce_deploy *)obj)->punt_burst);
}

static int p_hold_packets(struct dctx *c, const config_setting_t *s,
			  const char *name, void *obj)
{
	/* at least 1: the CE's hold queue is a ring of this size */
	return get_u32(c, s, name, 1, 65536,
		       &((struct ce_deploy *)obj)->hold_packets);
}

static int p_hold_timeout(struct dctx *c, const config_setting_t *s,
			  const char *name, void *obj)
{
	return get_u32(c, s, name, 1, 3600000,
		       &((struct ce_deploy *)obj)->hold_timeout_ms);
}

static int p_ring_size(struct dctx *c, const config_setting_t *s,
		       const char *name, void *obj)
{
	uint32_t v;

	if (get_u32(c, s, name, 64, 1 << 28, &v) < 0)
		return -EINVAL;
	if ((v & (v - 1)) != 0) {
		err(c, s, name, "%u is not a power of two", v);
		return -EINVAL;
	}
	((struct ce_deploy *)obj)->ring_size = v;
	return 0;
}

static int p_mbufs(struct dctx *c, const config_setting_t *s,
		   const char *name, void *obj)
{
	return get_u32(c, s, name, 1024, 1 << 28,
		       &((struct ce_deploy *)obj)->mbufs);
}

static int p_sa_capacity(struct dctx *c, const config_setting_t *s,
			 const char *name, void *obj)
{
	return get_u32(c, s, name, 1, 1 << 24,
		       &((struct ce_deploy *)obj)->sa_capacity);
}

static const struct dkw punt_kws[] = {
	{ "rate", p_punt_rate, false },
	{ "burst", p_punt_burst, false },
};

static const struct dkw hold_kws[] = {
	{ "packets", p_hold_packets, false },
	{ "timeout_ms", p_hold_timeout, false },
};

static int p_rekey_switch(struct dctx *c, const config_setting_t *s,
			  const char *name, void *obj)
{
	return get_u32(c, s, name, 0, 3600000,
		       &((struct ce_deploy *)obj)->rekey_switch_ms);
}

static const struct dkw rekey_kws[] = {
	{ "switch_timeout_ms", p_rekey_switch, false },
};

static int p_rekey(struct dctx *c, const config_setting_t *s, const char *name,
		   void *obj)
{
	if (want_group(c, s, name) < 0)
		return -EINVAL;
	return walk_group(c, s, name, rekey_kws, DIM(rekey_kws), obj);
}

static const struct dkw rings_kws[] = {
	{ "size", p_ring_size, false },
};

static int p_punt(struct dctx *c, const config_setting_t *s, const char *name,
		  void *obj)
{
	if (want_group(c, s, name) < 0)
		return -EINVAL;
	return walk_group(c, s, name, punt_kws, DIM(punt_kws), obj);
}

static int p_hold(struct dctx *c, const config_setting_t *s, const char *name,
		  void *obj)
{
	if (want_group(c, s, name) < 0)
		return -EINVAL;
	return walk_group(c, s, name, hold_kws, DIM(hold_kws), obj);
}

static int p_rings(struct dctx *c, const config_setting_t *s, const char *name,
		   void *obj)
{
	if (want_group(c, s, name) < 0)
		return -EINVAL;
	return walk_group(c, s, name, rings_kws, DIM(rings_kws), obj);
}

static const struct dkw top_kws[] = {
	{ "eal", p_eal, false },
	{ "ports", p_ports, true },
	{ "lcores", p_lcores, true },
	{ "crypto", p_crypto, true },
	{ "policy", p_policy, true },
	{ "telemetry", p_telemetry, false },
	{ "control", p_control, false },
	/* extensions */
	{ "punt", p_punt, false },
	{ "rekey", p_rekey, false },
	{ "hold", p_hold, false },
	{ "rings", p_rings, false },
	{ "mbufs", p_mbufs, false },
	{ "sa_capacity", p_sa_capacity, false },
};
_Static_assert(DIM(top_kws) <= KW_MAX, "walk_group() seen[] too small");

static void set_defaults(struct ce_deploy *d)
{
	memset(d, 0, sizeof(*d));
	d->crypto_mode = CE_CRYPTO_CPU;
	d->sa_placement = CE_PLACE_BALANCED;
	d->telemetry = true;
	d->punt_rate = 10000;
	d->punt_burst = 512;
	d->hold_packets = 256;
	d->hold_timeout_ms = 2000;
	d->ring_size = 4096;
	d->mbufs = 16384;
	d->rekey_switch_ms = 2000;
}

/* "PATH: cannot open: reason" for what libconfig would only call an I/O
 * error (missing file, no permission, a directory). */
static int check_readable(struct dctx *c)
{
	struct stat st;
	FILE *f;

	f = fopen(c->path, "r");
	if (f == NULL) {
		int e = errno;

		ce_diag_add(c->diag, c->path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		ce_diag_add(c->diag, c->path, 0, "cannot open: %s",
			    strerror(EISDIR));
		return -EISDIR;
	}
	fclose(f);
	return 0;
}

int ce_deploy_load(const char *path, struct ce_deploy *out, struct ce_diag *diag)
{
	struct dctx c = { .path = path, .diag = diag, .d = out };
	unsigned errors;
	config_t cfg;

	if (path == NULL || out == NULL || diag == NULL)
		return -EINVAL;
	set_defaults(out);
	errors = diag->errors;
	if (strlen(path) >= sizeof(out->path)) {
		ce_diag_add(diag, path, 0, "path too long");
		return -EINVAL;
	}
	strcpy(out->path, path);
	if (check_readable(&c) < 0)
		return -EINVAL;

	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		const char *file = config_error_file(&cfg);

		ce_diag_add(diag, file != NULL ? file : path,
			    config_error_line(&cfg), "%s",
			    config_error_text(&cfg) != NULL ?
			    config_error_text(&cfg) : "cannot read");
	} else {
		walk_group(&c, config_root_setting(&cfg), NULL, top_kws,
			   DIM(top_kws), out);
	}
	config_destroy(&cfg);
	return diag->errors == errors ? 0 : -EINVAL;
}

void ce_deploy_free(struct ce_deploy *d)
{
	int i;

	if (d == NULL)
		return;
	if (d->eal_argv != NULL) {
		for (i = 0; i < d->eal_argc; i++)
			free(d->eal_argv[i]);
		free(d->eal_argv);
	}
	d->eal_argv = NULL;
	d->eal_argc = 0;
}
