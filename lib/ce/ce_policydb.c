/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy database (YAML, CONTRACT.md "Policy database"), read with
 * libyaml's document API: the whole file becomes a node tree whose nodes
 * carry their line (start_mark.line + 1), so each problem is reported where
 * it is, whatever the style (block or flow).
 *
 * As in ce_deploy.c every key has one parser in a table per item kind;
 * walk_map() dispatches, refuses unknown and repeated keys, and notes the
 * line of each key in a struct seen. Once an item's keys are parsed, its
 * *_check() function applies the rules that involve several keys (key
 * lengths against the algorithm, required keys, families), using those
 * lines. Rules spanning items (duplicate SAs, policies naming SAs) run last.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "ce_config.h"

#define NAME_LEN 96
#define KW_MAX   20
#define DIM(a)   (sizeof(a) / sizeof((a)[0]))

struct yctx {
	const char *path;
	struct ce_diag *diag;
	yaml_document_t *doc;
	struct ce_policydb *db;
	bool *sa_ok;         /* per SA: spi, dir and local parsed */
	int *sa_spi_line;    /* per SA: line of its 'spi' key */
	unsigned *by_spi;    /* indexes of the sa_ok SAs, sorted (sa_sort) */
	unsigned n_by_spi;
	int *pol_sa_line;    /* per policy: line of its 'sa' key */
	bool no_refs;        /* items only: policies may name SAs elsewhere */
};

/* Keys met in one mapping: line of each (0: absent), and those refused. */
struct seen {
	int line[KW_MAX];
	uint32_t bad;
};

typedef int (*yparse_fn)(struct yctx *c, yaml_node_t *v, const char *name,
			 void *obj);

struct ykw {
	const char *name;
	yparse_fn parse;
};

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static bool have(const struct seen *s, unsigned k)
{
	return s->line[k] != 0 && (s->bad & (1u << k)) == 0;
}

static bool absent(const struct seen *s, unsigned k)
{
	return s->line[k] == 0;
}

/* "PATH:LINE: NAME: message" */
static void __attribute__((format(printf, 4, 5)))
err(struct yctx *c, int line, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (name != NULL)
		ce_diag_add(c->diag, c->path, line, "%s: %s", name, msg);
	else
		ce_diag_add(c->diag, c->path, line, "%s", msg);
}

static void join(char *buf, const char *parent, const char *key)
{
	ce_name_join(buf, NAME_LEN, parent, key);
}
/* ---- scalars: each reports its own format error ---- */

static const char *scalar(struct yctx *c, const yaml_node_t *v,
			  const char *name)
{
	const char *s;

	if (v->type != YAML_SCALAR_NODE) {
		err(c, line_of(v), name, "must be a single value");
		return NULL;
	}
	s = (const char *)v->data.scalar.value;
	if (strlen(s) != v->data.scalar.length) {
		err(c, line_of(v), name, "contains a NUL character");
		return NULL;
	}
	return s;
}

/* YAML's null: an empty plain scalar, ~ or null. */
static bool is_null(const yaml_node_t *v)
{
	const char *s = (const char *)v->data.scalar.value;

	return v->type == YAML_SCALAR_NODE &&
	       v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

static int get_enum(struct yctx *c, yaml_node_t *v, const char *name,
		    const char *const names[], unsigned n, unsigned *out)
{
	char choices[160] = "";
	const char *s = scalar(c, v, name);
	unsigned i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices),
			 "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	}
	err(c, line_of(v), name, "'%s' is not %s", s, choices);
	return -EINVAL;
}

/* Decimal or 0x hexadecimal, no sign, no spaces. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int get_u64(struct yctx *c, yaml_node_t *v, const char *name,
		   uint64_t lo, uint64_t hi, uint64_t *out)
{
	const char *s = scalar(c, v, name);
	uint64_t x;
	int rc;

	if (s == NULL)
		return -EINVAL;
	rc = parse_u64(s, &x);
	if (rc == -EINVAL) {
		err(c, line_of(v), name, "'%s' is not a number", s);
		return -EINVAL;
	}
	if (rc < 0 || x < lo || x > hi) {
		err(c, line_of(v), name, "%s out of range %llu..%llu", s,
		    (unsigned long long)lo, (unsigned long long)hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int get_u32(struct yctx *c, yaml_node_t *v, const char *name,
		   uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t x;

	if (get_u64(c, v, name, lo, hi, &x) < 0)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static int get_bool(struct yctx *c, yaml_node_t *v, const char *name,
		    bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	const char *s = scalar(c, v, name);
	unsigned i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < DIM(yes); i++) {
		if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
			*out = strcmp(s, yes[i]) == 0;
			return 0;
		}
	}
	err(c, line_of(v), name, "'%s' is not true or false", s);
	return -EINVAL;
}

static int get_addr(struct yctx *c, yaml_node_t *v, const char *name,
		    struct sg_addr *out)
{
	const char *s = scalar(c, v, name);

	if (s == NULL)
		return -EINVAL;
	if (sg_addr_parse(s, out) < 0) {
		err(c, line_of(v), name, "'%s' is not an IPv4 or IPv6 address", s);
		return -EINVAL;
	}
	return 0;
}

static int get_prefix(struct yctx *c, yaml_node_t *v, const char *name,
		      struct sg_prefix *out)
{
	const char *s = scalar(c, v, name);
	struct sg_prefix p;

	if (s == NULL)
		return -EINVAL;
	if (sg_prefix_parse(s, out) == 0)
		return 0;
	if (sg_ifaddr_parse(s, &p) == 0)
		err(c, line_of(v), name, "'%s' has bits set beyond /%u", s,
		    (unsigned)p.len);
	else
		err(c, line_of(v), name, "'%s' is not an IPv4 or IPv6 prefix", s);
	return -EINVAL;
}

/* "0x" and an even number of hex digits, at most CE_KEY_MAX bytes. An empty
 * value (or bare "0x") is an empty key, for the null algorithms. */
static int get_hex(struct yctx *c, yaml_node_t *v, const char *name,
		   uint8_t *key, uint8_t *len)
{
	const char *s = scalar(c, v, name), *h;
	size_t n, i;

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '\0') {
		*len = 0;
		return 0;
	}
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
		err(c, line_of(v), name, "key must be hex digits after 0x");
		return -EINVAL;
	}
	h = s + 2;
	n = strlen(h);
	for (i = 0; i < n; i++) {
		char x = h[i];

		if (!((x >= '0' && x <= '9') || (x >= 'a' && x <= 'f') ||
		      (x >= 'A' && x <= 'F'))) {
			err(c, line_of(v), name, "'%c' is not a hex digit", x);
			return -EINVAL;
		}
	}
	if (n % 2 != 0) {
		err(c, line_of(v), name, "odd number of hex digits (%zu)", n);
		return -EINVAL;
	}
	if (n / 2 > CE_KEY_MAX) {
		err(c, line_of(v), name, "key longer than %d bytes", CE_KEY_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n / 2; i++) {
		unsigned b;

		sscanf(h + 2 * i, "%2x", &b);
		key[i] = (uint8_t)b;
	}
	*len = (uint8_t)(n / 2);
	return 0;
}

static int get_port_name(struct yctx *c, yaml_node_t *v, const char *name,
			 char *out)
{
	const char *s = scalar(c, v, name);

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '\0' || strlen(s) >= CE_NAME_MAX) {
		err(c, line_of(v), name, "port name must be 1 to %d characters",
		    CE_NAME_MAX - 1);
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

/*
 * Hand every pair of mapping m to its keyword's parser, noting each key's
 * line in *s. Unknown keys and keys given twice are errors (libyaml accepts
 * both; a typo must not pass silently).
 */
static int walk_map(struct yctx *c, yaml_node_t *m, const char *mname,
		    const struct ykw *kws, unsigned n, void *obj,
		    struct seen *s)
{
	yaml_node_pair_t *pair;
	char name[NAME_LEN];
	int rc = 0;
	unsigned k;

	memset(s, 0, sizeof(*s));
	if (m->type != YAML_MAPPING_NODE) {
		err(c, line_of(m), mname, "must be a mapping (key: value)");
		return -EINVAL;
	}
	for (pair = m->data.mapping.pairs.start;
	     pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, pair->value);
		const char *key;

		if (kn->type != YAML_SCALAR_NODE) {
			err(c, line_of(kn), mname, "keys must be plain words");
			rc = -EINVAL;
			continue;
		}
		key = (const char *)kn->data.scalar.value;
		join(name, mname, key);
		for (k = 0; k < n; k++)
			if (strcmp(kws[k].name, key) == 0)
				break;
		if (k == n) {
			err(c, line_of(kn), name, "unknown key");
			rc = -EINVAL;
			continue;
		}
		if (s->line[k] != 0) {
			err(c, line_of(kn), name, "key given twice (first at line %d)",
			    s->line[k]);
			rc = -EINVAL;
			continue;
		}
		s->line[k] = line_of(kn);
		if (kws[k].parse(c, vn, name, obj) < 0) {
			s->bad |= 1u << k;
			rc = -EINVAL;
		}
	}
	return rc;
}

/* "missing 'key'" for each required key absent from an item. */
static int require(struct yctx *c, const struct seen *s, int line,
		   const char *name, const struct ykw *kws,
		   const unsigned *req, unsigned n)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		if (absent(s, req[i])) {
			err(c, line, name, "missing '%s'", kws[req[i]].name);
			rc = -EINVAL;
		}
	}
	return rc;
}

/* ==== sas ==== */

static const char *const dir_names[] = { [CE_DIR_IN] = "in", [CE_DIR_OUT] = "out" };

static int sa_spi(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_sa_cfg *sa = obj;
	uint64_t x;

	if (get_u64(c, v, name, 0, UINT32_MAX, &x) < 0)
		return -EINVAL;
	/* RFC 4303 2.1: 0 is never sent, 1..255 are reserved by IANA */
	if (x < 256) {
		err(c, line_of(v), name, "spi %llu is reserved (0..255)",
		    (unsigned long long)x);
		return -EINVAL;
	}
	sa->spi = (uint32_t)x;
	return 0;
}

/* replaces: the SPI of the SA this one succeeds (make-before-break rekey) */
static int sa_replaces(struct yctx *c, yaml_node_t *v, const char *name,
		       void *obj)
{
	struct ce_sa_cfg *sa = obj;
	uint64_t x;

	if (get_u64(c, v, name, 256, UINT32_MAX, &x) < 0)
		return -EINVAL;
	sa->has_replaces = true;
	sa->replaces = (uint32_t)x;
	return 0;
}

static int sa_dir(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_sa_cfg *sa = obj;
	unsigned x;

	if (get_enum(c, v, name, dir_names, 2, &x) < 0)
		return -EINVAL;
	sa->dir = (enum ce_dir)x;
	return 0;
}

static int sa_mode(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	static const char *const modes[] = {
		[CE_MODE_TUNNEL] = "tunnel", [CE_MODE_TRANSPORT] = "transport",
	};
	struct ce_sa_cfg *sa = obj;
	unsigned x;

	if (get_enum(c, v, name, modes, 2, &x) < 0)
		return -EINVAL;
	sa->mode = (enum ce_mode)x;
	return 0;
}

static const char *const aead_names[] = {
	[CE_AEAD_AES128GCM - 1] = "aes-128-gcm",
	[CE_AEAD_AES256GCM - 1] = "aes-256-gcm",
};
static const char *const cipher_names[] = {
	[CE_CIPHER_NULL] = "null",
	[CE_CIPHER_AES128CBC] = "aes-128-cbc",
	[CE_CIPHER_AES256CBC] = "aes-256-cbc",
	[CE_CIPHER_AES128CTR] = "aes-128-ctr",
};
static const char *const auth_names[] = {
	[CE_AUTH_NULL] = "null",
	[CE_AUTH_SHA256_128] = "hmac-sha256-128",
	[CE_AUTH_SHA1_96] = "hmac-sha1-96",
	[CE_AUTH_SHA384_192] = "hmac-sha384-192",
	[CE_AUTH_SHA512_256] = "hmac-sha512-256",
};
/* key bytes each algorithm needs (RFC 4106 salt, RFC 3686 nonce included) */
static const uint8_t aead_klen[] = {
	[CE_AEAD_AES128GCM] = 16 + 4, [CE_AEAD_AES256GCM] = 32 + 4,
};
static const uint8_t cipher_klen[] = {
	[CE_CIPHER_NULL] = 0, [CE_CIPHER_AES128CBC] = 16,
	[CE_CIPHER_AES256CBC] = 32, [CE_CIPHER_AES128CTR] = 16 + 4,
};
static const uint8_t auth_klen[] = {
	[CE_AUTH_NULL] = 0, [CE_AUTH_SHA256_128] = 32, [CE_AUTH_SHA1_96] = 20,
	[CE_AUTH_SHA384_192] = 48, [CE_AUTH_SHA512_256] = 64,
};

static int sa_aead(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_sa_cfg *sa = obj;
	unsigned x;

	if (get_enum(c, v, name, aead_names, DIM(aead_names), &x) < 0)
		return -EINVAL;
	sa->aead = (enum ce_aead)(x + 1);
	return 0;
}

static int sa_key(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_sa_cfg *sa = obj;

	return get_hex(c, v, name, sa->key, &sa->key_len);
}

static int sa_cipher(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	struct ce_sa_cfg *sa = obj;
	unsigned x;

	if (get_enum(c, v, name, cipher_names, DIM(cipher_names), &x) < 0)
		return -EINVAL;
	sa->cipher = (enum ce_cipher)x;
	return 0;
}

static int sa_cipher_key(struct yctx *c, yaml_node_t *v, const char *name,
			 void *obj)
{
	struct ce_sa_cfg *sa = obj;

	return get_hex(c, v, name, sa->cipher_key, &sa->cipher_key_len);
}

static int sa_auth(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_sa_cfg *sa = obj;
	unsigned x;

	if (get_enum(c, v, name, auth_names, DIM(auth_names), &x) < 0)
		return -EINVAL;
	sa->auth = (enum ce_auth)x;
	return 0;
}

static int sa_auth_key(struct yctx *c, yaml_node_t *v, const char *name,
		       void *obj)
{
	struct ce_sa_cfg *sa = obj;

	return get_hex(c, v, name, sa->auth_key, &sa->auth_key_len);
}

static int sa_local(struct yctx *c, yaml_node_t *v, const char *name,
		    void *obj)
{
	return get_addr(c, v, name, &((struct ce_sa_cfg *)obj)->local);
}

static int sa_remote(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	return get_addr(c, v, name, &((struct ce_sa_cfg *)obj)->remote);
}

static int udp_port(struct yctx *c, yaml_node_t *v, const char *name,
		    uint16_t *out)
{
	uint32_t x;

	if (get_u32(c, v, name, 1, 65535, &x) < 0)
		return -EINVAL;
	*out = (uint16_t)x;
	return 0;
}

static int enc_sport(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	return udp_port(c, v, name, &((struct ce_sa_cfg *)obj)->encap_sport);
}

static int enc_dport(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	return udp_port(c, v, name, &((struct ce_sa_cfg *)obj)->encap_dport);
}

/* encap: { sport: N, dport: N }, both given: ESP in UDP (RFC 3948). */
static int sa_encap(struct yctx *c, yaml_node_t *v, const char *name,
		    void *obj)
{
	static const struct ykw kws[] = {
		{ "sport", enc_sport }, { "dport", enc_dport },
	};
	static const unsigned req[] = { 0, 1 };
	struct ce_sa_cfg *sa = obj;
	struct seen s;
	int rc;

	rc = walk_map(c, v, name, kws, DIM(kws), obj, &s);
	if (v->type != YAML_MAPPING_NODE)
		return rc;
	if (require(c, &s, line_of(v), name, kws, req, DIM(req)) < 0)
		rc = -EINVAL;
	sa->encap = rc == 0;
	return rc;
}

static int sa_replay(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	return get_u32(c, v, name, 0, CE_REPLAY_MAX,
		       &((struct ce_sa_cfg *)obj)->replay_window);
}

static int sa_esn(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_bool(c, v, name, &((struct ce_sa_cfg *)obj)->esn);
}

static int lt_u64(struct yctx *c, yaml_node_t *v, const char *name,
		  uint64_t *out)
{
	return get_u64(c, v, name, 0, UINT64_MAX, out);
}

static int lt_seconds(struct yctx *c, yaml_node_t *v, const char *name,
		      void *obj)
{
	return lt_u64(c, v, name, &((struct ce_lifetime *)obj)->seconds);
}

static int lt_bytes(struct yctx *c, yaml_node_t *v, const char *name,
		    void *obj)
{
	return lt_u64(c, v, name, &((struct ce_lifetime *)obj)->bytes);
}

static int lt_packets(struct yctx *c, yaml_node_t *v, const char *name,
		      void *obj)
{
	return lt_u64(c, v, name, &((struct ce_lifetime *)obj)->packets);
}

static const struct ykw limit_kws[] = {
	{ "seconds", lt_seconds },
	{ "bytes", lt_bytes },
	{ "packets", lt_packets },
};

static int lt_soft(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct seen s;

	return walk_map(c, v, name, limit_kws, DIM(limit_kws),
			&((struct ce_sa_cfg *)obj)->soft, &s);
}

static int lt_hard(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct seen s;

	return walk_map(c, v, name, limit_kws, DIM(limit_kws),
			&((struct ce_sa_cfg *)obj)->hard, &s);
}

/* The soft limit warns before the hard one ends the SA: it must come first
 * for every limit both set (0 = unlimited). */
static int sa_lifetime(struct yctx *c, yaml_node_t *v, const char *name,
		       void *obj)
{
	static const struct ykw kws[] = { { "soft", lt_soft }, { "hard", lt_hard } };
	struct ce_sa_cfg *sa = obj;
	struct seen s;
	unsigned i;
	int rc;

	rc = walk_map(c, v, name, kws, DIM(kws), obj, &s);
	if (rc < 0)
		return rc;
	for (i = 0; i < 3; i++) {
		uint64_t sv = i == 0 ? sa->soft.seconds : i == 1 ?
			sa->soft.bytes : sa->soft.packets;
		uint64_t hv = i == 0 ? sa->hard.seconds : i == 1 ?
			sa->hard.bytes : sa->hard.packets;

		if (sv != 0 && hv != 0 && sv >= hv) {
			err(c, s.line[0], name, "soft %s (%llu) must be below hard (%llu)",
			    limit_kws[i].name, (unsigned long long)sv,
			    (unsigned long long)hv);
			rc = -EINVAL;
		}
	}
	return rc;
}

static int sa_install(struct yctx *c, yaml_node_t *v, const char *name,
		      void *obj)
{
	static const char *const modes[] = {
		[CE_INSTALL_LAZY] = "lazy", [CE_INSTALL_EAGER] = "eager",
	};
	struct ce_sa_cfg *sa = obj;
	unsigned x;

	if (get_enum(c, v, name, modes, 2, &x) < 0)
		return -EINVAL;
	sa->install = (enum ce_install)x;
	return 0;
}

enum {
	SA_SPI, SA_DIR, SA_MODE, SA_AEAD, SA_KEY, SA_CIPHER, SA_CIPHER_KEY,
	SA_AUTH, SA_AUTH_KEY, SA_LOCAL, SA_REMOTE, SA_ENCAP, SA_REPLAY,
	SA_ESN, SA_LIFETIME, SA_INSTALL, SA_REPLACES, SA_NKW
};

static const struct ykw sa_kws[SA_NKW] = {
	[SA_SPI] = { "spi", sa_spi },
	[SA_DIR] = { "dir", sa_dir },
	[SA_MODE] = { "mode", sa_mode },
	[SA_AEAD] = { "aead", sa_aead },
	[SA_KEY] = { "key", sa_key },
	[SA_CIPHER] = { "cipher", sa_cipher },
	[SA_CIPHER_KEY] = { "cipher_key", sa_cipher_key },
	[SA_AUTH] = { "auth", sa_auth },
	[SA_AUTH_KEY] = { "auth_key", sa_auth_key },
	[SA_LOCAL] = { "local", sa_local },
	[SA_REMOTE] = { "remote", sa_remote },
	[SA_ENCAP] = { "encap", sa_encap },
	[SA_REPLAY] = { "replay_window", sa_replay },
	[SA_ESN] = { "esn", sa_esn },
	[SA_LIFETIME] = { "lifetime", sa_lifetime },
	[SA_INSTALL] = { "install", sa_install },
	[SA_REPLACES] = { "replaces", sa_replaces },
};
_Static_assert(SA_NKW <= KW_MAX && KW_MAX <= 32, "struct seen too small");

static void sub_name(char *buf, const char *item, unsigned k,
		     const struct ykw *kws)
{
	join(buf, item, kws[k].name);
}

/* A key of the SA of length got, where the algorithm needs want bytes. */
static int key_len_check(struct yctx *c, const struct seen *s, unsigned k,
			 const char *name, const char *alg, unsigned want,
			 unsigned got, const char *how)
{
	char sub[NAME_LEN];

	if (want == got)
		return 0;
	sub_name(sub, name, k, sa_kws);
	if (want == 0)
		err(c, s->line[k], sub, "%s takes no key", alg);
	else
		err(c, s->line[k], sub, "%s needs a %u-byte key%s, got %u bytes",
		    alg, want, how, got);
	return -EINVAL;
}

/*
 * The algorithm keys: aead with key, or cipher and auth (both explicit, not
 * both null) with their keys; never a mix. Key lengths are checked against
 * the algorithm once both are known, whatever their order in the file.
 */
static int sa_check_algs(struct yctx *c, struct ce_sa_cfg *sa,
			 const struct seen *s, const char *name)
{
	static const unsigned plain[] = { SA_CIPHER, SA_CIPHER_KEY, SA_AUTH,
					  SA_AUTH_KEY };
	char sub[NAME_LEN];
	unsigned i;
	int rc = 0;

	if (!absent(s, SA_AEAD)) {
		for (i = 0; i < DIM(plain); i++) {
			if (absent(s, plain[i]))
				continue;
			sub_name(sub, name, plain[i], sa_kws);
			err(c, s->line[plain[i]], sub, "not allowed with aead");
			rc = -EINVAL;
		}
		if (absent(s, SA_KEY)) {
			err(c, sa->line, name, "missing 'key' (aead)");
			rc = -EINVAL;
		} else if (have(s, SA_AEAD) && have(s, SA_KEY)) {
			rc |= key_len_check(c, s, SA_KEY, name,
					    aead_names[sa->aead - 1],
					    aead_klen[sa->aead], sa->key_len,
					    " (with its 4-byte salt)");
		}
		return rc < 0 ? -EINVAL : 0;
	}
	if (absent(s, SA_CIPHER) && absent(s, SA_AUTH)) {
		err(c, sa->line, name, "missing 'aead', or 'cipher' and 'auth'");
		return -EINVAL;
	}
	if (!absent(s, SA_KEY)) {
		sub_name(sub, name, SA_KEY, sa_kws);
		err(c, s->line[SA_KEY], sub,
		    "key goes with aead; use cipher_key and auth_key");
		rc = -EINVAL;
	}
	if (absent(s, SA_CIPHER)) {
		err(c, sa->line, name, "missing 'cipher' (may be null)");
		rc = -EINVAL;
	} else if (have(s, SA_CIPHER)) {
		if (sa->cipher != CE_CIPHER_NULL && absent(s, SA_CIPHER_KEY)) {
			err(c, sa->line, name, "missing 'cipher_key'");
			rc = -EINVAL;
		} else if (have(s, SA_CIPHER_KEY)) {
			rc |= key_len_check(c, s, SA_CIPHER_KEY, name,
					    cipher_names[sa->cipher],
					    cipher_klen[sa->cipher],
					    sa->cipher_key_len,
					    sa->cipher == CE_CIPHER_AES128CTR ?
					    " (with its 4-byte nonce)" : "");
		}
	}
	if (absent(s, SA_AUTH)) {
		err(c, sa->line, name, "missing 'auth' (may be null)");
		rc = -EINVAL;
	} else if (have(s, SA_AUTH)) {
		if (sa->auth != CE_AUTH_NULL && absent(s, SA_AUTH_KEY)) {
			err(c, sa->line, name, "missing 'auth_key'");
			rc = -EINVAL;
		} else if (have(s, SA_AUTH_KEY)) {
			rc |= key_len_check(c, s, SA_AUTH_KEY, name,
					    auth_names[sa->auth],
					    auth_klen[sa->auth],
					    sa->auth_key_len, "");
		}
	}
	if (have(s, SA_CIPHER) && have(s, SA_AUTH) &&
	    sa->cipher == CE_CIPHER_NULL && sa->auth == CE_AUTH_NULL) {
		sub_name(sub, name, SA_AUTH, sa_kws);
		err(c, s->line[SA_AUTH], sub,
		    "cipher and auth both null: the SA would protect nothing");
		rc = -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}

static int sa_check(struct yctx *c, struct ce_sa_cfg *sa, const struct seen *s,
		    const char *name, unsigned idx)
{
	static const unsigned req[] = { SA_SPI, SA_DIR, SA_MODE };
	char sub[NAME_LEN];
	int rc;

	rc = require(c, s, sa->line, name, sa_kws, req, DIM(req));
	if (sa_check_algs(c, sa, s, name) < 0)
		rc = -EINVAL;
	if (have(s, SA_MODE) && sa->mode == CE_MODE_TUNNEL) {
		if (absent(s, SA_LOCAL)) {
			err(c, sa->line, name, "missing 'local' (tunnel mode)");
			rc = -EINVAL;
		}
		if (absent(s, SA_REMOTE)) {
			err(c, sa->line, name, "missing 'remote' (tunnel mode)");
			rc = -EINVAL;
		}
	}
	if (have(s, SA_LOCAL) && have(s, SA_REMOTE) &&
	    sa->local.family != sa->remote.family) {
		sub_name(sub, name, SA_REMOTE, sa_kws);
		err(c, s->line[SA_REMOTE], sub, "IPv%u address, local is IPv%u",
		    sa->remote.family, sa->local.family);
		rc = -EINVAL;
	}
	if (have(s, SA_ESN) && have(s, SA_REPLAY) && sa->esn &&
	    sa->replay_window == 0) {
		sub_name(sub, name, SA_ESN, sa_kws);
		err(c, s->line[SA_ESN], sub, "esn needs anti-replay (replay_window > 0)");
		rc = -EINVAL;
	}
	/* one SA per (spi, dir, local): checked by sa_dups() over a sorted
	 * index once all are read (a pairwise check was quadratic) */
	c->sa_ok[idx] = have(s, SA_SPI) && have(s, SA_DIR) &&
			(s->bad & (1u << SA_LOCAL)) == 0;
	c->sa_spi_line[idx] = s->line[SA_SPI];
	return rc;
}

static int parse_sa(struct yctx *c, yaml_node_t *m, const char *name,
		    unsigned idx)
{
	struct ce_sa_cfg *sa = &c->db->sas[idx];
	struct seen s;
	int rc;

	sa->line = line_of(m);
	sa->replay_window = 64;
	sa->install = CE_INSTALL_LAZY;
	rc = walk_map(c, m, name, sa_kws, SA_NKW, sa, &s);
	if (m->type != YAML_MAPPING_NODE)
		return rc;
	if (sa_check(c, sa, &s, name, idx) < 0)
		rc = -EINVAL;
	return rc;
}

/* ==== policies ==== */

static int pol_dir(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_policy_cfg *p = obj;
	unsigned x;

	if (get_enum(c, v, name, dir_names, 2, &x) < 0)
		return -EINVAL;
	p->dir = (enum ce_dir)x;
	return 0;
}

static int pol_src(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_prefix(c, v, name, &((struct ce_policy_cfg *)obj)->src);
}

static int pol_dst(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_prefix(c, v, name, &((struct ce_policy_cfg *)obj)->dst);
}

#define PROTO_ICMP  1
#define PROTO_TCP   6
#define PROTO_UDP   17
#define PROTO_ICMP6 58

static int pol_proto(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	static const struct { const char *name; int proto; } names[] = {
		{ "any", CE_ANY }, { "tcp", PROTO_TCP }, { "udp", PROTO_UDP },
		{ "icmp", PROTO_ICMP }, { "icmp6", PROTO_ICMP6 },
	};
	struct ce_policy_cfg *p = obj;
	const char *s = scalar(c, v, name);
	uint64_t x;
	unsigned i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < DIM(names); i++) {
		if (strcmp(s, names[i].name) == 0) {
			p->proto = names[i].proto;
			return 0;
		}
	}
	if (parse_u64(s, &x) < 0 || x > 255) {
		err(c, line_of(v), name,
		    "'%s' is not any, tcp, udp, icmp, icmp6 or 0..255", s);
		return -EINVAL;
	}
	p->proto = (int)x;
	return 0;
}

/* any | N | N-M, 0..65535, N <= M. */
static int port_range(struct yctx *c, yaml_node_t *v, const char *name,
		      uint16_t *lo, uint16_t *hi)
{
	const char *s = scalar(c, v, name), *dash;
	char a[16];
	uint64_t x, y;

	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "any") == 0) {
		*lo = 0;
		*hi = 65535;
		return 0;
	}
	dash = strchr(s, '-');
	if (dash == NULL) {
		if (parse_u64(s, &x) < 0 || x > 65535)
			goto bad;
		y = x;
	} else {
		if ((size_t)(dash - s) >= sizeof(a))
			goto bad;
		memcpy(a, s, (size_t)(dash - s));
		a[dash - s] = '\0';
		if (parse_u64(a, &x) < 0 || parse_u64(dash + 1, &y) < 0 ||
		    x > 65535 || y > 65535)
			goto bad;
		if (x > y) {
			err(c, line_of(v), name, "range %s is reversed (%llu > %llu)",
			    s, (unsigned long long)x, (unsigned long long)y);
			return -EINVAL;
		}
	}
	*lo = (uint16_t)x;
	*hi = (uint16_t)y;
	return 0;
bad:
	err(c, line_of(v), name, "'%s' is not any, a port or a range N-M (0..65535)",
	    s);
	return -EINVAL;
}

static int pol_sport(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	struct ce_policy_cfg *p = obj;

	return port_range(c, v, name, &p->sport_lo, &p->sport_hi);
}

static int pol_dport(struct yctx *c, yaml_node_t *v, const char *name,
		     void *obj)
{
	struct ce_policy_cfg *p = obj;

	return port_range(c, v, name, &p->dport_lo, &p->dport_hi);
}

static int pol_action(struct yctx *c, yaml_node_t *v, const char *name,
		      void *obj)
{
	static const char *const acts[] = {
		[CE_ACT_PROTECT] = "protect", [CE_ACT_BYPASS] = "bypass",
		[CE_ACT_DISCARD] = "discard",
	};
	struct ce_policy_cfg *p = obj;
	unsigned x;

	if (get_enum(c, v, name, acts, 3, &x) < 0)
		return -EINVAL;
	p->action = (enum ce_action)x;
	return 0;
}

static int pol_sa(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_policy_cfg *p = obj;

	if (get_u32(c, v, name, 0, UINT32_MAX, &p->sa_spi) < 0)
		return -EINVAL;
	p->has_sa = true;
	return 0;
}

static int pol_priority(struct yctx *c, yaml_node_t *v, const char *name,
			void *obj)
{
	return get_u32(c, v, name, 0, UINT32_MAX,
		       &((struct ce_policy_cfg *)obj)->priority);
}

enum {
	P_DIR, P_SRC, P_DST, P_PROTO, P_SPORT, P_DPORT, P_ACTION, P_SA,
	P_PRIORITY, P_NKW
};

static const struct ykw pol_kws[P_NKW] = {
	[P_DIR] = { "dir", pol_dir },
	[P_SRC] = { "src", pol_src },
	[P_DST] = { "dst", pol_dst },
	[P_PROTO] = { "proto", pol_proto },
	[P_SPORT] = { "sport", pol_sport },
	[P_DPORT] = { "dport", pol_dport },
	[P_ACTION] = { "action", pol_action },
	[P_SA] = { "sa", pol_sa },
	[P_PRIORITY] = { "priority", pol_priority },
};

static int pol_check(struct yctx *c, struct ce_policy_cfg *p,
		     const struct seen *s, const char *name)
{
	static const unsigned req[] = { P_DIR, P_SRC, P_DST, P_ACTION };
	char sub[NAME_LEN];
	int rc;

	rc = require(c, s, p->line, name, pol_kws, req, DIM(req));
	if (have(s, P_SRC) && have(s, P_DST) &&
	    p->src.addr.family != p->dst.addr.family) {
		sub_name(sub, name, P_DST, pol_kws);
		err(c, s->line[P_DST], sub, "IPv%u prefix, src is IPv%u",
		    p->dst.addr.family, p->src.addr.family);
		rc = -EINVAL;
	}
	if (have(s, P_PROTO) && have(s, P_DST) &&
	    ((p->proto == PROTO_ICMP && p->dst.addr.family == 6) ||
	     (p->proto == PROTO_ICMP6 && p->dst.addr.family == 4))) {
		sub_name(sub, name, P_PROTO, pol_kws);
		err(c, s->line[P_PROTO], sub, "%s with IPv%u addresses",
		    p->proto == PROTO_ICMP ? "icmp" : "icmp6",
		    p->dst.addr.family);
		rc = -EINVAL;
	}
	if (have(s, P_PROTO) && p->proto != CE_ANY && p->proto != PROTO_TCP &&
	    p->proto != PROTO_UDP) {
		if (have(s, P_SPORT) && (p->sport_lo != 0 || p->sport_hi != 65535)) {
			sub_name(sub, name, P_SPORT, pol_kws);
			err(c, s->line[P_SPORT], sub, "ports need proto tcp or udp");
			rc = -EINVAL;
		}
		if (have(s, P_DPORT) && (p->dport_lo != 0 || p->dport_hi != 65535)) {
			sub_name(sub, name, P_DPORT, pol_kws);
			err(c, s->line[P_DPORT], sub, "ports need proto tcp or udp");
			rc = -EINVAL;
		}
	}
	if (have(s, P_ACTION)) {
		if (p->action == CE_ACT_PROTECT && absent(s, P_SA)) {
			err(c, p->line, name, "missing 'sa' (action protect)");
			rc = -EINVAL;
		} else if (p->action != CE_ACT_PROTECT && !absent(s, P_SA)) {
			sub_name(sub, name, P_SA, pol_kws);
			err(c, s->line[P_SA], sub, "only protect policies name an SA");
			rc = -EINVAL;
		}
	}
	return rc;
}

static int parse_policy(struct yctx *c, yaml_node_t *m, const char *name,
			unsigned idx)
{
	struct ce_policy_cfg *p = &c->db->policies[idx];
	struct seen s;
	int rc;

	p->line = line_of(m);
	p->proto = CE_ANY;
	p->sport_hi = 65535;
	p->dport_hi = 65535;
	rc = walk_map(c, m, name, pol_kws, P_NKW, p, &s);
	if (m->type != YAML_MAPPING_NODE)
		return rc;
	if (have(&s, P_SA) && have(&s, P_DIR) && have(&s, P_ACTION) &&
	    p->action == CE_ACT_PROTECT)
		c->pol_sa_line[idx] = s.line[P_SA];
	if (pol_check(c, p, &s, name) < 0)
		rc = -EINVAL;
	return rc;
}

/*
 * A protect policy names an SA of its own direction. Checked once the whole
 * file is read: sas may come after policies. When an SA's spi or dir could
 * not be read, a reference that finds nothing is not reported again.
 */
/* Order SAs by (spi, dir, local, position). */
static int sa_cmp(const void *a, const void *b, void *arg)
{
	const struct ce_sa_cfg *sas = arg;
	const struct ce_sa_cfg *x = &sas[*(const unsigned *)a];
	const struct ce_sa_cfg *y = &sas[*(const unsigned *)b];
	int r;

	if (x->spi != y->spi)
		return x->spi < y->spi ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	r = memcmp(&x->local, &y->local, sizeof(x->local));
	if (r != 0)
		return r;
	return *(const unsigned *)a < *(const unsigned *)b ? -1 : 1;
}

/* The sorted index of the SAs whose spi, dir and local were read. */
static int sa_sort(struct yctx *c)
{
	struct ce_policydb *db = c->db;
	unsigned i;

	c->by_spi = malloc(sizeof(*c->by_spi) * (db->n_sas + 1));
	if (c->by_spi == NULL)
		return -ENOMEM;
	c->n_by_spi = 0;
	for (i = 0; i < db->n_sas; i++)
		if (c->sa_ok != NULL && c->sa_ok[i])
			c->by_spi[c->n_by_spi++] = i;
	qsort_r(c->by_spi, c->n_by_spi, sizeof(*c->by_spi), sa_cmp, db->sas);
	return 0;
}

static bool same_key(const struct ce_sa_cfg *x, const struct ce_sa_cfg *y)
{
	return x->spi == y->spi && x->dir == y->dir &&
		memcmp(&x->local, &y->local, sizeof(x->local)) == 0;
}

/* Duplicates are neighbours in the sorted index: each later one is
 * reported against the first of its run. */
static int sa_dups(struct yctx *c)
{
	struct ce_policydb *db = c->db;
	char buf[64], name[NAME_LEN];
	unsigned k, run = 0;
	int rc = 0;

	for (k = 1; k < c->n_by_spi; k++) {
		const struct ce_sa_cfg *o = &db->sas[c->by_spi[run]];
		unsigned i = c->by_spi[k];
		const struct ce_sa_cfg *sa = &db->sas[i];

		if (!same_key(o, sa)) {
			run = k;
			continue;
		}
		snprintf(name, sizeof(name), "sas[%u].spi", i);
		err(c, c->sa_spi_line[i], name,
		    "duplicate SA: spi 0x%x dir %s local %s already at line %d",
		    sa->spi, dir_names[sa->dir],
		    sa->local.family != 0 ?
		    sg_addr_fmt(&sa->local, buf, sizeof(buf)) : "any", o->line);
		rc = -EINVAL;
	}
	return rc;
}

/* First position in the sorted index with an spi >= spi. */
static unsigned spi_lower(const struct yctx *c, uint32_t spi)
{
	unsigned lo = 0, hi = c->n_by_spi;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (c->db->sas[c->by_spi[mid]].spi < spi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int pol_refs(struct yctx *c)
{
	struct ce_policydb *db = c->db;
	bool broken = false;
	unsigned i, j, k;
	int rc = 0;

	for (j = 0; j < db->n_sas; j++)
		broken |= !c->sa_ok[j];
	for (i = 0; i < db->n_policies; i++) {
		const struct ce_policy_cfg *p = &db->policies[i];
		bool other = false;
		char name[NAME_LEN];

		/* an outbound protect policy may name an SA that is not
		 * configured yet: its traffic is held, an ACQUIRE raised */
		if (c->pol_sa_line[i] == 0 || p->dir == CE_DIR_OUT)
			continue;
		for (k = spi_lower(c, p->sa_spi); k < c->n_by_spi &&
		     db->sas[c->by_spi[k]].spi == p->sa_spi; k++) {
			if (db->sas[c->by_spi[k]].dir == p->dir)
				break;
			other = true;
		}
		if ((k < c->n_by_spi && db->sas[c->by_spi[k]].spi == p->sa_spi &&
		     db->sas[c->by_spi[k]].dir == p->dir) || broken)
			continue;
		snprintf(name, sizeof(name), "policies[%u].sa", i);
		if (other)
			err(c, c->pol_sa_line[i], name,
			    "SA 0x%x is not a dir %s SA", p->sa_spi,
			    dir_names[p->dir]);
		else
			err(c, c->pol_sa_line[i], name, "no SA with spi 0x%x",
			    p->sa_spi);
		rc = -EINVAL;
	}
	return rc;
}

/* ==== routes ==== */

static int rt_dst(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_prefix(c, v, name, &((struct ce_route_cfg *)obj)->dst);
}

static int rt_port(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_port_name(c, v, name, ((struct ce_route_cfg *)obj)->port);
}

static int rt_via(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_route_cfg *r = obj;

	if (get_addr(c, v, name, &r->via) < 0)
		return -EINVAL;
	r->has_via = true;
	return 0;
}

enum { R_DST, R_PORT, R_VIA, R_NKW };

static const struct ykw route_kws[R_NKW] = {
	[R_DST] = { "dst", rt_dst },
	[R_PORT] = { "port", rt_port },
	[R_VIA] = { "via", rt_via },
};

static int parse_route(struct yctx *c, yaml_node_t *m, const char *name,
		       unsigned idx)
{
	static const unsigned req[] = { R_DST, R_PORT };
	struct ce_route_cfg *r = &c->db->routes[idx];
	char sub[NAME_LEN], buf[64];
	struct seen s;
	unsigned i;
	int rc;

	r->line = line_of(m);
	rc = walk_map(c, m, name, route_kws, R_NKW, r, &s);
	if (m->type != YAML_MAPPING_NODE)
		return rc;
	if (require(c, &s, r->line, name, route_kws, req, DIM(req)) < 0)
		rc = -EINVAL;
	if (have(&s, R_DST) && have(&s, R_VIA) &&
	    r->dst.addr.family != r->via.family) {
		sub_name(sub, name, R_VIA, route_kws);
		err(c, s.line[R_VIA], sub, "IPv%u next hop for an IPv%u dst",
		    r->via.family, r->dst.addr.family);
		rc = -EINVAL;
	}
	if (!have(&s, R_DST))
		return rc;
	for (i = 0; i < idx; i++) {
		const struct ce_route_cfg *o = &c->db->routes[i];

		if (o->dst.len != r->dst.len ||
		    memcmp(&o->dst.addr, &r->dst.addr, sizeof(r->dst.addr)) != 0)
			continue;
		sub_name(sub, name, R_DST, route_kws);
		err(c, s.line[R_DST], sub, "duplicate route to %s (line %d)",
		    sg_prefix_fmt(&r->dst, buf, sizeof(buf)), o->line);
		rc = -EINVAL;
		break;
	}
	return rc;
}

/* ==== neighbors ==== */

static int nb_ip(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_addr(c, v, name, &((struct ce_neigh_cfg *)obj)->ip);
}

static int nb_mac(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	static const uint8_t zero[6];
	struct ce_neigh_cfg *n = obj;
	const char *s = scalar(c, v, name);

	if (s == NULL)
		return -EINVAL;
	if (sg_mac_parse(s, n->mac) < 0) {
		err(c, line_of(v), name,
		    "'%s' is not a MAC address (\"02:00:00:00:00:01\")", s);
		return -EINVAL;
	}
	if ((n->mac[0] & 1) != 0 || memcmp(n->mac, zero, 6) == 0) {
		err(c, line_of(v), name, "%s is not a unicast MAC address", s);
		return -EINVAL;
	}
	return 0;
}

static int nb_port(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	return get_port_name(c, v, name, ((struct ce_neigh_cfg *)obj)->port);
}

enum { N_IP, N_MAC, N_PORT, N_NKW };

static const struct ykw neigh_kws[N_NKW] = {
	[N_IP] = { "ip", nb_ip },
	[N_MAC] = { "mac", nb_mac },
	[N_PORT] = { "port", nb_port },
};

static int parse_neighbor(struct yctx *c, yaml_node_t *m, const char *name,
			  unsigned idx)
{
	static const unsigned req[] = { N_IP, N_MAC, N_PORT };
	struct ce_neigh_cfg *n = &c->db->neighbors[idx];
	char sub[NAME_LEN], buf[64];
	struct seen s;
	unsigned i;
	int rc;

	n->line = line_of(m);
	rc = walk_map(c, m, name, neigh_kws, N_NKW, n, &s);
	if (m->type != YAML_MAPPING_NODE)
		return rc;
	if (require(c, &s, n->line, name, neigh_kws, req, DIM(req)) < 0)
		rc = -EINVAL;
	if (!have(&s, N_IP) || !have(&s, N_PORT))
		return rc;
	for (i = 0; i < idx; i++) {
		const struct ce_neigh_cfg *o = &c->db->neighbors[i];

		if (memcmp(&o->ip, &n->ip, sizeof(n->ip)) != 0 ||
		    strcmp(o->port, n->port) != 0)
			continue;
		sub_name(sub, name, N_IP, neigh_kws);
		err(c, s.line[N_IP], sub, "%s on %s already at line %d",
		    sg_addr_fmt(&n->ip, buf, sizeof(buf)), n->port, o->line);
		rc = -EINVAL;
		break;
	}
	return rc;
}

/* ==== top level ==== */

typedef int (*item_fn)(struct yctx *c, yaml_node_t *m, const char *name,
		       unsigned idx);

/* Allocate the section's array for every item of sequence v and parse each
 * item; *n counts them all, including those with errors. */
static int section(struct yctx *c, yaml_node_t *v, const char *sname,
		   void **arr, size_t size, unsigned *n, item_fn parse)
{
	yaml_node_item_t *it;
	char name[NAME_LEN];
	size_t len;
	int rc = 0;

	if (is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE) {
		err(c, line_of(v), sname, "must be a list (- item)");
		return -EINVAL;
	}
	len = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (len == 0)
		return 0;
	*arr = calloc(len, size);
	if (*arr == NULL) {
		err(c, line_of(v), sname, "out of memory");
		return -ENOMEM;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		snprintf(name, sizeof(name), "%s[%u]", sname, *n);
		(*n)++;
		if (parse(c, yaml_document_get_node(c->doc, *it), name,
			  *n - 1) < 0)
			rc = -EINVAL;
	}
	return rc;
}

static int top_sas(struct yctx *c, yaml_node_t *v, const char *name, void *obj)
{
	struct ce_policydb *db = obj;
	size_t len = v->type == YAML_SEQUENCE_NODE ?
		(size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 0;

	c->sa_ok = calloc(len + 1, sizeof(*c->sa_ok));
	c->sa_spi_line = calloc(len + 1, sizeof(*c->sa_spi_line));
	if (c->sa_ok == NULL || c->sa_spi_line == NULL) {
		err(c, line_of(v), name, "out of memory");
		return -ENOMEM;
	}
	return section(c, v, name, (void **)&db->sas, sizeof(*db->sas),
		       &db->n_sas, parse_sa);
}

static int top_policies(struct yctx *c, yaml_node_t *v, const char *name,
			void *obj)
{
	struct ce_policydb *db = obj;
	size_t len = v->type == YAML_SEQUENCE_NODE ?
		(size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 0;

	c->pol_sa_line = calloc(len + 1, sizeof(*c->pol_sa_line));
	if (c->pol_sa_line == NULL) {
		err(c, line_of(v), name, "out of memory");
		return -ENOMEM;
	}
	return section(c, v, name, (void **)&db->policies,
		       sizeof(*db->policies), &db->n_policies, parse_policy);
}

static int top_routes(struct yctx *c, yaml_node_t *v, const char *name,
		      void *obj)
{
	struct ce_policydb *db = obj;

	return section(c, v, name, (void **)&db->routes, sizeof(*db->routes),
		       &db->n_routes, parse_route);
}

static int top_neighbors(struct yctx *c, yaml_node_t *v, const char *name,
			 void *obj)
{
	struct ce_policydb *db = obj;

	return section(c, v, name, (void **)&db->neighbors,
		       sizeof(*db->neighbors), &db->n_neighbors, parse_neighbor);
}

static const struct ykw top_kws[] = {
	{ "sas", top_sas },
	{ "policies", top_policies },
	{ "routes", top_routes },
	{ "neighbors", top_neighbors },
};

/* libyaml's own words for a syntax error, at the line it points to. */
static void syntax_error(struct yctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "cannot parse";

	if (p->error == YAML_MEMORY_ERROR)
		err(c, 0, NULL, "out of memory");
	else if (p->error == YAML_READER_ERROR)
		err(c, 0, NULL, "%s at byte %zu", problem, p->problem_offset);
	else if (p->context != NULL)
		err(c, (int)p->problem_mark.line + 1, NULL, "%s %s (from line %d)",
		    problem, p->context, (int)p->context_mark.line + 1);
	else
		err(c, (int)p->problem_mark.line + 1, NULL, "%s", problem);
}

static int open_file(struct yctx *c, FILE **f)
{
	struct stat st;

	*f = fopen(c->path, "rb");
	if (*f == NULL) {
		int e = errno;

		err(c, 0, NULL, "cannot open: %s", strerror(e));
		return -e;
	}
	if (fstat(fileno(*f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(*f);
		*f = NULL;
		err(c, 0, NULL, "cannot open: %s", strerror(EISDIR));
		return -EISDIR;
	}
	return 0;
}

/*
 * yaml_parser_load() without its size limit: libyaml grows a document's
 * node list by doubling and refuses to pass INT_MAX / 2 bytes
 * (yaml_stack_extend), about 22 million nodes: a policy file of some
 * 650,000 SAs failed with "out of memory" on a machine with room to
 * spare. This composer builds the same yaml_document_t from the parser's
 * events with its own arrays (malloc'd, so yaml_document_delete() frees
 * them): nodes, sequence items and mapping pairs, anchors and aliases.
 * Tags are not kept (nothing here reads them). Returns 1 (an empty
 * document at the end of the stream), or 0 with parser->error set.
 */
struct anchor {
	char *name;
	int node;
};

struct composer {
	yaml_parser_t *p;
	yaml_document_t *d;
	size_t cap;                   /* of d->nodes */
	int *open;                    /* containers not closed yet */
	size_t n_open, cap_open;
	struct anchor *anc;
	size_t n_anc, cap_anc;
};

static int grow(void **a, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *x;

	if (n < *cap)
		return 0;
	while (c <= n)
		c *= 2;
	x = realloc(*a, c * size);
	if (x == NULL)
		return -1;
	*a = x;
	*cap = c;
	return 0;
}

static int comp_fail(struct composer *k, yaml_error_type_t e,
		     const char *problem, yaml_mark_t mark)
{
	k->p->error = e;
	k->p->problem = problem;
	k->p->problem_mark = mark;
	k->p->context = NULL;
	return -1;
}

/* Append a node; its index (from 1) or -1. */
static int comp_node(struct composer *k, const yaml_node_t *n)
{
	yaml_document_t *d = k->d;
	size_t used = (size_t)(d->nodes.top - d->nodes.start);
	void *start = d->nodes.start;

	if (used >= (size_t)INT32_MAX - 1 ||
	    grow(&start, &k->cap, used, sizeof(*n)) != 0)
		return comp_fail(k, YAML_MEMORY_ERROR, NULL, n->start_mark);
	d->nodes.start = start;
	d->nodes.top = d->nodes.start + used;
	d->nodes.end = d->nodes.start + k->cap;
	*d->nodes.top++ = *n;
	return (int)used + 1;
}

/* Hang node 'idx' under the innermost open container. */
static int comp_attach(struct composer *k, int idx, yaml_mark_t mark)
{
	yaml_node_t *c;

	if (k->n_open == 0)
		return 0;	/* the root */
	c = k->d->nodes.start + k->open[k->n_open - 1] - 1;
	if (c->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(c->data.sequence.items.top -
				    c->data.sequence.items.start);
		size_t cap = (size_t)(c->data.sequence.items.end -
				      c->data.sequence.items.start);
		void *a = c->data.sequence.items.start;

		if (grow(&a, &cap, n, sizeof(yaml_node_item_t)) != 0)
			return comp_fail(k, YAML_MEMORY_ERROR, NULL, mark);
		c->data.sequence.items.start = a;
		c->data.sequence.items.top = c->data.sequence.items.start + n;
		c->data.sequence.items.end = c->data.sequence.items.start + cap;
		*c->data.sequence.items.top++ = idx;
		return 0;
	} else {
		yaml_node_pair_t *last = c->data.mapping.pairs.top;
		size_t n = (size_t)(c->data.mapping.pairs.top -
				    c->data.mapping.pairs.start);
		size_t cap = (size_t)(c->data.mapping.pairs.end -
				      c->data.mapping.pairs.start);
		void *a = c->data.mapping.pairs.start;

		if (n != 0 && last[-1].value == 0) {
			last[-1].value = idx;
			return 0;
		}
		if (grow(&a, &cap, n, sizeof(yaml_node_pair_t)) != 0)
			return comp_fail(k, YAML_MEMORY_ERROR, NULL, mark);
		c->data.mapping.pairs.start = a;
		c->data.mapping.pairs.top = c->data.mapping.pairs.start + n;
		c->data.mapping.pairs.end = c->data.mapping.pairs.start + cap;
		c->data.mapping.pairs.top->key = idx;
		c->data.mapping.pairs.top->value = 0;
		c->data.mapping.pairs.top++;
		return 0;
	}
}

static int comp_anchor(struct composer *k, yaml_char_t **name, int idx,
		       yaml_mark_t mark)
{
	if (*name == NULL)
		return 0;
	if (grow((void **)&k->anc, &k->cap_anc, k->n_anc, sizeof(*k->anc)) != 0)
		return comp_fail(k, YAML_MEMORY_ERROR, NULL, mark);
	k->anc[k->n_anc].name = (char *)*name;	/* taken from the event */
	k->anc[k->n_anc++].node = idx;
	*name = NULL;
	return 0;
}

/* One event of a document's body; 1 when the document ended. */
static int comp_event(struct composer *k, yaml_event_t *ev)
{
	yaml_node_t n;
	int idx;
	size_t i;

	memset(&n, 0, sizeof(n));
	n.start_mark = ev->start_mark;
	n.end_mark = ev->end_mark;
	switch (ev->type) {
	case YAML_DOCUMENT_END_EVENT:
		k->d->end_implicit = ev->data.document_end.implicit;
		k->d->end_mark = ev->end_mark;
		return 1;
	case YAML_ALIAS_EVENT:
		for (i = k->n_anc; i > 0; i--)
			if (strcmp(k->anc[i - 1].name,
				   (const char *)ev->data.alias.anchor) == 0)
				return comp_attach(k, k->anc[i - 1].node,
						   ev->start_mark);
		return comp_fail(k, YAML_COMPOSER_ERROR, "found undefined alias",
				 ev->start_mark);
	case YAML_SCALAR_EVENT:
		n.type = YAML_SCALAR_NODE;
		n.data.scalar.value = ev->data.scalar.value;
		n.data.scalar.length = ev->data.scalar.length;
		n.data.scalar.style = ev->data.scalar.style;
		if ((idx = comp_node(k, &n)) < 0)
			return -1;
		ev->data.scalar.value = NULL;	/* the node has it now */
		if (comp_anchor(k, &ev->data.scalar.anchor, idx, n.start_mark) ||
		    comp_attach(k, idx, n.start_mark))
			return -1;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			n.type = YAML_SEQUENCE_NODE;
			n.data.sequence.style = ev->data.sequence_start.style;
		} else {
			n.type = YAML_MAPPING_NODE;
			n.data.mapping.style = ev->data.mapping_start.style;
		}
		if ((idx = comp_node(k, &n)) < 0 ||
		    comp_anchor(k, ev->type == YAML_SEQUENCE_START_EVENT ?
				&ev->data.sequence_start.anchor :
				&ev->data.mapping_start.anchor, idx,
				n.start_mark) ||
		    comp_attach(k, idx, n.start_mark) ||
		    grow((void **)&k->open, &k->cap_open, k->n_open,
			 sizeof(*k->open)) != 0)
			return k->p->error ? -1 :
				comp_fail(k, YAML_MEMORY_ERROR, NULL, n.start_mark);
		k->open[k->n_open++] = idx;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (k->n_open != 0)
			k->d->nodes.start[k->open[--k->n_open] - 1].end_mark =
				ev->end_mark;
		return 0;
	default:
		return 0;
	}
}

static int load_doc(yaml_parser_t *p, yaml_document_t *d)
{
	struct composer k = { .p = p, .d = d };
	yaml_event_t ev;
	int r = 0;
	size_t i;

	memset(d, 0, sizeof(*d));
	if (!p->stream_start_produced) {
		if (!yaml_parser_parse(p, &ev))
			return 0;
		yaml_event_delete(&ev);	/* STREAM-START */
	}
	if (p->stream_end_produced)
		return 1;
	if (!yaml_parser_parse(p, &ev))
		return 0;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 1;
	}
	/* DOCUMENT-START */
	d->start_implicit = ev.data.document_start.implicit;
	d->start_mark = ev.start_mark;
	yaml_event_delete(&ev);
	for (;;) {
		if (!yaml_parser_parse(p, &ev)) {
			r = -1;
			break;
		}
		r = comp_event(&k, &ev);
		yaml_event_delete(&ev);
		if (r != 0)
			break;
	}
	for (i = 0; i < k.n_anc; i++)
		free(k.anc[i].name);
	free(k.anc);
	free(k.open);
	if (r < 0) {
		yaml_document_delete(d);
		memset(d, 0, sizeof(*d));
		return 0;
	}
	return 1;
}

static void parse_doc(struct yctx *c, yaml_parser_t *parser)
{
	yaml_document_t doc, more;
	yaml_node_t *root, *next;
	struct seen s;

	if (load_doc(parser, &doc) == 0) {
		syntax_error(c, parser);
		return;
	}
	c->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			err(c, line_of(root), NULL,
			    "must be a mapping of sas, policies, routes, neighbors");
		else
			walk_map(c, root, NULL, top_kws, DIM(top_kws), c->db, &s);
		if (sa_sort(c) == 0) {
			sa_dups(c);
			if (!c->no_refs)
				pol_refs(c);
		} else {
			err(c, 0, NULL, "out of memory");
		}
	}
	/* a second document would silently be ignored */
	if (load_doc(parser, &more) == 0) {
		syntax_error(c, parser);
	} else {
		next = yaml_document_get_root_node(&more);
		if (next != NULL)
			err(c, line_of(next), NULL, "only one YAML document allowed");
		yaml_document_delete(&more);
	}
	yaml_document_delete(&doc);
	c->doc = NULL;
}

/* The same parser over text in memory: control-socket requests are checked
 * by exactly the code that checks the file. 'name' stands for the path in
 * messages. */
static int parse_text(const char *name, const char *text, size_t len,
		      struct ce_policydb *out, struct ce_diag *diag, bool refs)
{
	struct yctx c = { .path = name, .diag = diag, .db = out,
			  .no_refs = !refs };
	yaml_parser_t parser;
	unsigned errors;

	if (name == NULL || text == NULL || out == NULL || diag == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	errors = diag->errors;
	snprintf(out->path, sizeof(out->path), "%s", name);
	if (yaml_parser_initialize(&parser) == 0) {
		err(&c, 0, NULL, "out of memory");
		return -EINVAL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	parse_doc(&c, &parser);
	yaml_parser_delete(&parser);
	free(c.sa_ok);
	free(c.sa_spi_line);
	free(c.by_spi);
	free(c.pol_sa_line);
	return diag->errors == errors ? 0 : -EINVAL;
}

int ce_policydb_parse(const char *name, const char *text, size_t len,
		      struct ce_policydb *out, struct ce_diag *diag)
{
	return parse_text(name, text, len, out, diag, true);
}

int ce_policydb_parse_items(const char *name, const char *text, size_t len,
			    struct ce_policydb *out, struct ce_diag *diag)
{
	return parse_text(name, text, len, out, diag, false);
}

int ce_policydb_load(const char *path, struct ce_policydb *out,
		     struct ce_diag *diag)
{
	struct yctx c = { .path = path, .diag = diag, .db = out };
	yaml_parser_t parser;
	unsigned errors;
	FILE *f;

	if (path == NULL || out == NULL || diag == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	errors = diag->errors;
	if (strlen(path) >= sizeof(out->path)) {
		ce_diag_add(diag, path, 0, "path too long");
		return -EINVAL;
	}
	strcpy(out->path, path);
	if (open_file(&c, &f) < 0)
		return -EINVAL;
	if (yaml_parser_initialize(&parser) == 0) {
		fclose(f);
		err(&c, 0, NULL, "out of memory");
		return -EINVAL;
	}
	yaml_parser_set_input_file(&parser, f);
	parse_doc(&c, &parser);
	yaml_parser_delete(&parser);
	fclose(f);
	free(c.sa_ok);
	free(c.sa_spi_line);
	free(c.by_spi);
	free(c.pol_sa_line);
	return diag->errors == errors ? 0 : -EINVAL;
}

void ce_policydb_free(struct ce_policydb *db)
{
	if (db == NULL)
		return;
	free(db->sas);
	free(db->policies);
	free(db->routes);
	free(db->neighbors);
	db->sas = NULL;
	db->policies = NULL;
	db->routes = NULL;
	db->neighbors = NULL;
	db->n_sas = db->n_policies = db->n_routes = db->n_neighbors = 0;
}
