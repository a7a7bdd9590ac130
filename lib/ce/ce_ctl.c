/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket (docs/control.md): a UNIX stream socket, one JSON
 * request per line, one JSON reply per request; "events" turns the
 * connection into a stream of events. Served by the CE thread between
 * polls, non-blocking: no client, however slow, broken or hostile, can stop
 * the CE or the data path. Requests that change the SA database go through
 * the policy-database parser and validators (ce_policydb_parse()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_malloc.h>

#include "ce_priv.h"

#define CTL_LINE_MAX   (64 * 1024)   /* longest request */
#define CTL_OUT_MAX    (4 << 20)     /* unsent reply bytes before a drop */
#define CTL_CLIENTS    128
#define CTL_BACKLOG    (256 * 1024)  /* unsent bytes that pause reading */
#define CTL_OPS_POLL   64            /* requests handled per client per poll */

struct ctl_client {
	int fd;
	bool events;                  /* streaming events */
	bool closing;                 /* close once out[] is sent */
	uint64_t ev_next;             /* next event sequence to send */
	size_t in_len, out_len, out_off;
	char in[CTL_LINE_MAX + 1];
	char *out;
	size_t out_cap;
};

struct ce_ctl {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned n;
	struct ctl_client *cl[CTL_CLIENTS];
};

static void
out_add(struct ctl_client *c, const char *s, size_t len)
{
	if (c->closing && c->out_len == 0)
		return;		/* dropped: nothing more goes out */
	if (c->out_len + len > CTL_OUT_MAX) {
		/* a reader that does not read: let it go */
		c->closing = true;
		c->out_len = c->out_off = 0;
		return;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = RTE_MAX(c->out_cap * 2, c->out_len + len + 4096);
		char *o = realloc(c->out, cap);

		if (o == NULL) {
			c->closing = true;
			return;
		}
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
}

static void
send_json(struct ctl_client *c, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (s == NULL) {
		c->closing = true;
		return;
	}
	out_add(c, s, strlen(s));
	out_add(c, "\n", 1);
	free(s);
}

static json_t *
ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static json_t *
fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static void
spi_str(uint32_t spi, char *buf, size_t len)
{
	snprintf(buf, len, "0x%08x", spi);
}

/* "0x1001", "4097" or 4097 */
static int
get_spi(json_t *req, uint32_t *spi)
{
	json_t *v = json_object_get(req, "spi");
	unsigned long long x;
	char *end;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT32_MAX)
			return -1;
		*spi = (uint32_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	{
		const char *t = json_string_value(v);
		int hex = t[0] == '0' && (t[1] == 'x' || t[1] == 'X');

		errno = 0;
		x = strtoull(t, &end, hex ? 16 : 10);
		if (errno != 0 || *end != '\0' || end == t || t[0] == '-' ||
		    t[0] == '+' || x > UINT32_MAX)
			return -1;
	}
	*spi = (uint32_t)x;
	return 0;
}

/* "in" / "out"; absent: *dir = -1 */
static int
get_dir(json_t *req, int *dir)
{
	json_t *v = json_object_get(req, "dir");

	*dir = -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return -1;
	if (strcmp(json_string_value(v), "in") == 0)
		*dir = CE_DIR_IN;
	else if (strcmp(json_string_value(v), "out") == 0)
		*dir = CE_DIR_OUT;
	else
		return -1;
	return 0;
}

static json_t *
stats_json(struct ce *ce)
{
	struct sg_lcore_stats t;
	json_t *s, *drop;
	unsigned i;

	ce_stats_total(ce, &t);
	s = json_object();
	for (i = 0; i < ce_n_stat_fields; i++)
		json_object_set_new(s, ce_stat_fields[i].name, json_integer(
			(json_int_t)*(const uint64_t *)((const char *)&t +
			ce_stat_fields[i].off)));
	drop = json_object();
	for (i = 0; i < SG_DROP_MAX; i++)
		json_object_set_new(drop, sg_drop_names[i],
				    json_integer((json_int_t)t.drop[i]));
	json_object_set_new(s, "drop", drop);
	return s;
}

static json_t *
op_stats(struct ce *ce, json_t *req)
{
	json_t *r = ok();

	(void)req;
	json_object_set_new(r, "stats", stats_json(ce));
	return r;
}

static json_t *
sa_brief(const struct ce_sa *sa)
{
	char buf[16];

	spi_str(sa->cfg->spi, buf, sizeof(buf));
	return json_pack("{s:s,s:s,s:s,s:s}", "spi", buf,
			 "dir", sa->cfg->dir == CE_DIR_IN ? "in" : "out",
			 "mode", sa->cfg->mode == CE_MODE_TUNNEL ? "tunnel" :
			 "transport", "state", ce_sa_state_names[sa->state]);
}

static json_t *
op_sa_list(struct ce *ce, json_t *req)
{
	json_t *r = ok(), *a = json_array();
	unsigned i;

	(void)req;
	for (i = 0; i < ce->n_sa; i++)
		json_array_append_new(a, sa_brief(ce->sa[i]));
	json_object_set_new(r, "sas", a);
	return r;
}

static struct ce_sa *
find_sa(struct ce *ce, json_t *req, json_t **err)
{
	uint32_t spi;
	int dir;
	struct ce_sa *sa;

	if (get_spi(req, &spi) != 0) {
		*err = fail("\"spi\": a number or a string like \"0x1001\"");
		return NULL;
	}
	if (get_dir(req, &dir) != 0) {
		*err = fail("\"dir\": \"in\" or \"out\"");
		return NULL;
	}
	sa = ce_sa_find(ce, spi, dir < 0 ? CE_DIR_IN : dir);
	if (sa == NULL && dir < 0)
		sa = ce_sa_find(ce, spi, CE_DIR_OUT);
	if (sa == NULL)
		*err = fail("no SA with spi 0x%x%s%s", spi, dir < 0 ? "" : " dir ",
			    dir < 0 ? "" : dir == CE_DIR_IN ? "in" : "out");
	return sa;
}

static json_t *
op_sa_show(struct ce *ce, json_t *req)
{
	struct dfe_sa_stats s;
	json_t *err = NULL, *r, *j, *drop, *left;
	struct ce_sa *sa = find_sa(ce, req, &err);
	const struct ce_lifetime *h;
	uint64_t age;
	unsigned i;

	if (sa == NULL)
		return err;
	memset(&s, 0, sizeof(s));
	if (sa->rt != NULL)
		dfe_sa_stats(sa->rt, &s);
	j = sa_brief(sa);
	if (sa->rt != NULL) {
		json_object_set_new(j, "dfe", json_integer(sa->dfe));
		json_object_set_new(j, "dfe_lcore",
				    json_integer(ce->dep->dfe_lcores[sa->dfe]));
		json_object_set_new(j, "crypto", json_string(s.crypto));
	}
	json_object_set_new(j, "packets", json_integer((json_int_t)s.packets));
	json_object_set_new(j, "bytes", json_integer((json_int_t)s.bytes));
	json_object_set_new(j, sa->cfg->dir == CE_DIR_IN ? "last_seq" : "seq",
			    json_integer((json_int_t)s.last_sqn));
	json_object_set_new(j, "held", json_integer(sa->n_hold));
	drop = json_object();
	for (i = 0; i < SG_DROP_MAX; i++)
		if (s.drop[i] != 0)
			json_object_set_new(drop, sg_drop_names[i],
					    json_integer((json_int_t)s.drop[i]));
	json_object_set_new(j, "drop", drop);
	h = &sa->cfg->hard;
	left = json_object();
	age = sa->rt != NULL ? (rte_rdtsc() - sa->install_tsc) / ce->hz : 0;
	if (h->seconds != 0)
		json_object_set_new(left, "seconds", json_integer(
			(json_int_t)(h->seconds > age ? h->seconds - age : 0)));
	if (h->bytes != 0)
		json_object_set_new(left, "bytes", json_integer((json_int_t)
			(h->bytes > s.bytes ? h->bytes - s.bytes : 0)));
	if (h->packets != 0)
		json_object_set_new(left, "packets", json_integer((json_int_t)
			(h->packets > s.packets ? h->packets - s.packets : 0)));
	json_object_set_new(j, "lifetime_left", left);
	r = ok();
	json_object_set_new(r, "sa", j);
	return r;
}

/*
 * Messages of the policy-database parser or the validators about item
 * 'idx' of 'list' ("routes[3].via: ...", "request:1: routes[0]: missing
 * 'port'") read as the request's: "route.via: ...", "route: missing
 * 'port'". One message per line.
 */
static json_t *
fail_item(const char *msg, const char *list, unsigned idx, const char *item)
{
	char pat[48], out[1024];
	const char *p = msg;
	size_t o = 0, pl;

	snprintf(pat, sizeof(pat), "%s[%u]", list, idx);
	pl = strlen(pat);
	while (*p != '\0' && o + 1 < sizeof(out)) {
		const char *nl = strchr(p, '\n');
		size_t l;

		if (nl == NULL)
			nl = p + strlen(p);
		if (strncmp(p, "request:", 8) == 0) {
			const char *q = p + 8 + strspn(p + 8, "0123456789");

			if (q[0] == ':' && q[1] == ' ')
				p = q + 2;
		}
		if (strncmp(p, pat, pl) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", item);
			p += pl;
		}
		l = (size_t)(nl - p);
		if (o + l + 2 > sizeof(out))
			l = sizeof(out) - o - 2;
		memcpy(out + o, p, l);
		o += l;
		p = *nl == '\n' ? nl + 1 : nl;
		out[o++] = *p != '\0' ? '\n' : '\0';
	}
	out[o < sizeof(out) ? o : sizeof(out) - 1] = '\0';
	return fail("%s", out);
}

/*
 * One item of a control request through the policy-database parser, as
 * the file's items are: JSON is YAML flow syntax, so the object becomes
 * "LIST: [ <object> ]", with the same keys, checks and messages as the
 * file (items only: a policy may name an SA the request does not carry).
 * 'fill_key', when the object lacks it, is added with 'fill_val' (the
 * deletions name an item by its key alone). The parser's messages read as
 * the request's (fail_item()): every one, or only the first.
 * NULL and *db filled with one item, or the error reply.
 */
static json_t *
parse_req(json_t *o, const char *list, const char *item,
	  const char *fill_key, const char *fill_val, bool all,
	  struct ce_policydb *db)
{
	struct ce_diag diag;
	json_t *c = json_deep_copy(o), *r = NULL;
	char *text, *doc;
	size_t len;
	int rc;

	memset(db, 0, sizeof(*db));
	if (c == NULL)
		return fail("out of memory");
	if (fill_key != NULL && json_object_get(c, fill_key) == NULL)
		json_object_set_new(c, fill_key, json_string(fill_val));
	text = json_dumps(c, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(c);
	if (text == NULL)
		return fail("out of memory");
	len = strlen(text) + strlen(list) + 16;
	doc = malloc(len);
	if (doc == NULL) {
		free(text);
		return fail("out of memory");
	}
	snprintf(doc, len, "%s: [ %s ]\n", list, text);
	free(text);
	ce_diag_init(&diag);
	rc = ce_policydb_parse_items("request", doc, strlen(doc), db, &diag);
	free(doc);
	if (rc != 0 || db->n_sas + db->n_policies + db->n_routes +
	    db->n_neighbors != 1) {
		char *m = diag.buf != NULL ? diag.buf : (char *)"invalid item";
		char *nl = strchr(m, '\n');

		if (nl != NULL && (!all || nl[1] == '\0'))
			*nl = '\0';
		r = fail_item(m, list, 0, item);
		ce_policydb_free(db);
	}
	ce_diag_fini(&diag);
	return r;
}

/*
 * sa-add: {"op":"sa-add","sa":{ ...the keys of an SA in the policy
 * database... }}. JSON is YAML flow syntax, so the SA object is handed to
 * the policy-database parser as "sas: [ <object> ]": the same keys, the
 * same checks, the same messages as the file.
 */
static json_t *
op_sa_add(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "sa"), *r;
	struct ce_policydb db;
	struct ce_sa *sa;

	if (!json_is_object(o))
		return fail("\"sa\": an object with the keys of an SA "
			    "(spi, dir, mode, aead/cipher/auth, keys, local, remote, ...)");
	r = parse_req(o, "sas", "sa", NULL, NULL, true, &db);
	if (r != NULL)
		return r;
	pthread_mutex_lock(&ce->lock);
	if (ce_sa_find(ce, db.sas[0].spi, (int)db.sas[0].dir) != NULL &&
	    (db.sas[0].dir == CE_DIR_OUT ||
	     ce_sa_find_in(ce, db.sas[0].spi, db.sas[0].local.a,
			   db.sas[0].local.family) != NULL)) {
		pthread_mutex_unlock(&ce->lock);
		r = fail("SA 0x%x dir %s exists: delete it first", db.sas[0].spi,
			 db.sas[0].dir == CE_DIR_IN ? "in" : "out");
		goto out;
	}
	if (db.sas[0].has_replaces &&
	    ce_sa_find(ce, db.sas[0].replaces, (int)db.sas[0].dir) == NULL) {
		pthread_mutex_unlock(&ce->lock);
		r = fail("sa.replaces: no dir %s SA with spi 0x%x",
			 db.sas[0].dir == CE_DIR_IN ? "in" : "out",
			 db.sas[0].replaces);
		goto out;
	}
	sa = ce_sa_new(ce, &db.sas[0]);
	if (sa == NULL) {
		pthread_mutex_unlock(&ce->lock);
		r = fail("cannot add: %s (sa_capacity %u)",
			 rte_strerror(rte_errno), ce->cap_sa);
		goto out;
	}
	ce_sa_adopt_held(ce, sa);
	/* a replacing SA is ready before it is needed: no first-packet wait */
	if (sa->state == CE_SA_CONFIGURED &&
	    (sa->cfg->install == CE_INSTALL_EAGER || sa->cfg->has_replaces))
		ce_sa_install(ce, sa, false, -1);
	r = ok();
	json_object_set_new(r, "sa", sa_brief(sa));
	pthread_mutex_unlock(&ce->lock);
	{
		struct ce_event e = { .type = "sa-added", .spi = sa->cfg->spi,
				      .policy = -1 };

		ce_event_add(ce, &e);
	}
out:
	ce_policydb_free(&db);
	return r;
}

static json_t *
op_sa_del(struct ce *ce, json_t *req)
{
	json_t *err = NULL;
	struct ce_sa *sa;

	pthread_mutex_lock(&ce->lock);
	sa = find_sa(ce, req, &err);
	if (sa != NULL)
		ce_sa_remove(ce, sa);
	pthread_mutex_unlock(&ce->lock);
	return sa == NULL ? err : ok();
}

static json_t *
prefix_json(const struct sg_prefix *p)
{
	char buf[64];

	return json_string(sg_prefix_fmt(p, buf, sizeof(buf)));
}

static json_t *
ports_json(uint16_t lo, uint16_t hi)
{
	char buf[16];

	if (lo == 0 && hi == UINT16_MAX)
		return json_string("any");
	if (lo == hi)
		return json_integer(lo);
	snprintf(buf, sizeof(buf), "%u-%u", lo, hi);
	return json_string(buf);
}

static json_t *
policy_json(const struct ce_policy_cfg *p)
{
	static const char *const act[] = { "protect", "bypass", "discard" };
	json_t *o = json_object();
	char buf[16];

	json_object_set_new(o, "dir", json_string(p->dir == CE_DIR_IN ?
						  "in" : "out"));
	json_object_set_new(o, "src", prefix_json(&p->src));
	json_object_set_new(o, "dst", prefix_json(&p->dst));
	json_object_set_new(o, "proto", p->proto == CE_ANY ?
			    json_string("any") : json_integer(p->proto));
	json_object_set_new(o, "sport", ports_json(p->sport_lo, p->sport_hi));
	json_object_set_new(o, "dport", ports_json(p->dport_lo, p->dport_hi));
	json_object_set_new(o, "action", json_string(act[p->action]));
	if (p->has_sa) {
		spi_str(p->sa_spi, buf, sizeof(buf));
		json_object_set_new(o, "sa", json_string(buf));
	}
	json_object_set_new(o, "priority", json_integer(p->priority));
	return o;
}

static json_t *
op_policy_list(struct ce *ce, json_t *req)
{
	json_t *r = ok(), *a = json_array();
	unsigned i;

	(void)req;
	for (i = 0; i < ce->ps->n; i++)
		json_array_append_new(a, policy_json(&ce->ps->pol[i]));
	json_object_set_new(r, "policies", a);
	return r;
}

static bool
prefix_eq(const struct sg_prefix *a, const struct sg_prefix *b)
{
	return a->len == b->len && sg_addr_eq(&a->addr, &b->addr);
}

/* Same policy: every key of policy-list equal. */
bool
ce_policy_eq(const struct ce_policy_cfg *a, const struct ce_policy_cfg *b)
{
	return a->dir == b->dir && prefix_eq(&a->src, &b->src) &&
		prefix_eq(&a->dst, &b->dst) && a->proto == b->proto &&
		a->sport_lo == b->sport_lo && a->sport_hi == b->sport_hi &&
		a->dport_lo == b->dport_lo && a->dport_hi == b->dport_hi &&
		a->action == b->action && a->has_sa == b->has_sa &&
		(!a->has_sa || a->sa_spi == b->sa_spi) &&
		a->priority == b->priority;
}

/*
 * The policies in force with the one at 'del' left out (-1: none) and
 * 'add' appended (NULL: none), checked, compiled and published
 * (ce_policies_apply()). CE thread, ce->lock held.
 */
static int
pol_change(struct ce *ce, const struct ce_policy_cfg *add, int del,
	   char *err, size_t len)
{
	const struct ce_pset *ps = ce->ps;
	struct ce_policy_cfg *pol = malloc(sizeof(*pol) * (ps->n + 1));
	uint32_t *uid = malloc(sizeof(*uid) * (ps->n + 1));
	unsigned i, n = 0;
	int rc = -ENOMEM;

	if (pol == NULL || uid == NULL) {
		snprintf(err, len, "out of memory");
		goto out;
	}
	for (i = 0; i < ps->n; i++) {
		if ((int)i == del)
			continue;
		pol[n] = ps->pol[i];
		uid[n++] = ps->uid[i];
	}
	if (add != NULL) {
		pol[n] = *add;
		pol[n].line = 0;	/* not from the file */
		uid[n++] = ce->next_pol_uid + 1;
	}
	rc = ce_policies_apply(ce, pol, uid, n, err, len);
	if (rc == 0 && add != NULL)
		ce->next_pol_uid++;
out:
	free(pol);
	free(uid);
	return rc;
}

/*
 * policy-add: the policy goes after every policy in force (it loses ties
 * of priority to them), compiled into a new SPD published under RCU.
 */
static json_t *
op_policy_add(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "policy"), *r = NULL;
	struct ce_policydb db;
	char err[256];

	if (!json_is_object(o))
		return fail("\"policy\": an object with the keys of a policy "
			    "(dir, src, dst, proto, sport, dport, action, sa, "
			    "priority)");
	if ((r = parse_req(o, "policies", "policy", NULL, NULL, false,
			   &db)) != NULL)
		return r;
	pthread_mutex_lock(&ce->lock);
	if (pol_change(ce, &db.policies[0], -1, err, sizeof(err)) != 0) {
		r = fail("%s", err);
	} else {
		r = ok();
		json_object_set_new(r, "index", json_integer(ce->ps->n - 1));
		json_object_set_new(r, "policy",
				    policy_json(&ce->ps->pol[ce->ps->n - 1]));
	}
	pthread_mutex_unlock(&ce->lock);
	ce_policydb_free(&db);
	return r;
}

/*
 * policy-del: by "index" (as in policy-list), or by "policy", the keys
 * policy-list shows (the first policy equal in every key goes).
 */
static json_t *
op_policy_del(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "policy"), *ix = json_object_get(req,
									"index");
	json_t *r = NULL, *gone;
	const struct ce_pset *ps;
	struct ce_policydb db = { .n_policies = 0 };
	char err[256];
	unsigned n, k;

	if ((o == NULL) == (ix == NULL))
		return fail("give \"policy\" (its keys, as policy-list shows "
			    "them) or \"index\" (its place in policy-list)");
	if (ix != NULL && !json_is_integer(ix))
		return fail("index: must be an integer");
	if (o != NULL && !json_is_object(o))
		return fail("\"policy\": an object with the keys of a policy");
	if (o != NULL && (r = parse_req(o, "policies", "policy", NULL, NULL,
					 false, &db)) != NULL)
		return r;
	pthread_mutex_lock(&ce->lock);
	ps = ce->ps;
	n = ps->n;
	if (ix != NULL) {
		json_int_t v = json_integer_value(ix);

		if (v < 0 || v >= (json_int_t)n) {
			r = fail("index: %lld is not a policy (there are %u)",
				 (long long)v, n);
			goto out;
		}
		k = (unsigned)v;
	} else {
		for (k = 0; k < n && !ce_policy_eq(&ps->pol[k],
						   &db.policies[0]); k++)
			;
		if (k == n) {
			r = fail("no such policy (policy-list shows them; every "
				 "key must match)");
			goto out;
		}
	}
	gone = policy_json(&ps->pol[k]);	/* the set is freed on success */
	if (pol_change(ce, NULL, (int)k, err, sizeof(err)) != 0) {
		json_decref(gone);
		r = fail("%s", err);
	} else {
		r = ok();
		json_object_set_new(r, "index", json_integer(k));
		json_object_set_new(r, "policy", gone);
	}
out:
	pthread_mutex_unlock(&ce->lock);
	ce_policydb_free(&db);
	return r;
}

static json_t *
route_json(const struct ce_route_cfg *rt)
{
	char buf[64];
	json_t *o = json_pack("{s:o,s:s}", "dst", prefix_json(&rt->dst),
			      "port", rt->port);

	if (rt->has_via)
		json_object_set_new(o, "via", json_string(
			sg_addr_fmt(&rt->via, buf, sizeof(buf))));
	return o;
}

static json_t *
neigh_json(const struct ce_neigh_cfg *n)
{
	char ip[64], mac[24];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
		 n->mac[5]);
	return json_pack("{s:s,s:s,s:s}", "ip", sg_addr_fmt(&n->ip, ip,
			 sizeof(ip)), "mac", mac, "port", n->port);
}

/* The CE's lists: the file's items first, then those added at runtime. */
static json_t *
op_route_list(struct ce *ce, json_t *req)
{
	json_t *r = ok(), *a = json_array(), *nb = json_array();
	unsigned i;

	(void)req;
	for (i = 0; i < ce->n_routes; i++)
		json_array_append_new(a, route_json(&ce->routes[i]));
	for (i = 0; i < ce->n_nbrs; i++)
		json_array_append_new(nb, neigh_json(&ce->nbrs[i]));
	json_object_set_new(r, "routes", a);
	json_object_set_new(r, "neighbors", nb);
	return r;
}


/* Installed outbound SAs that keep an egress the new table would not give
 * them (SA-pinned egress): the operator rekeys them to move them. */
static json_t *
stale_json(struct ce *ce)
{
	json_t *a = json_array();
	char buf[16];
	unsigned i;

	for (i = 0; i < ce->n_sa; i++)
		if (ce_sa_pin_stale(ce, ce->sa[i])) {
			spi_str(ce->sa[i]->cfg->spi, buf, sizeof(buf));
			json_array_append_new(a, json_string(buf));
		}
	return a;
}

static int
find_route(const struct ce *ce, const struct sg_prefix *dst)
{
	unsigned i;

	for (i = 0; i < ce->n_routes; i++)
		if (prefix_eq(&ce->routes[i].dst, dst))
			return (int)i;
	return -1;
}

static int
find_neigh(const struct ce *ce, const struct sg_addr *ip, const char *port)
{
	unsigned i;

	for (i = 0; i < ce->n_nbrs; i++)
		if (sg_addr_eq(&ce->nbrs[i].ip, ip) &&
		    strcmp(ce->nbrs[i].port, port) == 0)
			return (int)i;
	return -1;
}

/*
 * Apply the CE's lists with one item added (add: item at the end) or one
 * removed (del >= 0), then reply with 'key': the item, and pinned_stale.
 */
static json_t *
routes_change(struct ce *ce, const struct ce_route_cfg *add_rt, int del_rt,
	      const struct ce_neigh_cfg *add_nb, int del_nb, const char *key,
	      json_t *item)
{
	unsigned nr = ce->n_routes, nn = ce->n_nbrs;
	struct ce_route_cfg *rt = malloc(sizeof(*rt) * (nr + 1));
	struct ce_neigh_cfg *nb = malloc(sizeof(*nb) * (nn + 1));
	char err[1024];
	json_t *r;
	int rc;

	if (rt == NULL || nb == NULL) {
		free(rt);
		free(nb);
		json_decref(item);
		return fail("out of memory");
	}
	memcpy(rt, ce->routes, sizeof(*rt) * nr);
	memcpy(nb, ce->nbrs, sizeof(*nb) * nn);
	if (add_rt != NULL) {
		rt[nr] = *add_rt;
		rt[nr++].line = 0;
	}
	if (del_rt >= 0)
		memmove(&rt[del_rt], &rt[del_rt + 1],
			sizeof(*rt) * (--nr - (unsigned)del_rt));
	if (add_nb != NULL) {
		nb[nn] = *add_nb;
		nb[nn++].line = 0;
	}
	if (del_nb >= 0)
		memmove(&nb[del_nb], &nb[del_nb + 1],
			sizeof(*nb) * (--nn - (unsigned)del_nb));
	rc = ce_routes_apply(ce, rt, nr, nb, nn, err, sizeof(err));
	free(rt);
	free(nb);
	if (rc != 0) {
		json_decref(item);
		if (add_rt != NULL)
			return fail_item(err, "routes", nr - 1, "route");
		if (add_nb != NULL)
			return fail_item(err, "neighbors", nn - 1, "neighbor");
		return fail("%s", err);
	}
	r = ok();
	json_object_set_new(r, key, item);
	json_object_set_new(r, "pinned_stale", stale_json(ce));
	return r;
}

#define ROUTE_OBJ "an object with the keys of a route (dst, port, via)"
#define NEIGH_OBJ "an object with the keys of a neighbor (ip, mac, port)"

static json_t *
op_route_add(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "route"), *r;
	struct ce_policydb db;
	char a[64];

	if (!json_is_object(o))
		return fail("\"route\": " ROUTE_OBJ);
	r = parse_req(o, "routes", "route", NULL, NULL, true, &db);
	if (r != NULL)
		return r;
	if (find_route(ce, &db.routes[0].dst) >= 0)
		r = fail("route to %s exists: delete it first",
			 sg_prefix_fmt(&db.routes[0].dst, a, sizeof(a)));
	else
		r = routes_change(ce, &db.routes[0], -1, NULL, -1, "route",
				  route_json(&db.routes[0]));
	ce_policydb_free(&db);
	return r;
}

/* {"route": {"dst": ...}}; port and via, when given, must be the route's */
static json_t *
op_route_del(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "route"), *r;
	const struct ce_route_cfg *x, *have;
	struct ce_policydb db;
	char a[64], b[64], c[64];
	int i;

	if (!json_is_object(o))
		return fail("\"route\": an object with the dst of a route");
	r = parse_req(o, "routes", "route", "port", "-", true, &db);
	if (r != NULL)
		return r;
	x = &db.routes[0];
	sg_prefix_fmt(&x->dst, a, sizeof(a));
	i = find_route(ce, &x->dst);
	have = i >= 0 ? &ce->routes[i] : NULL;
	if (have == NULL)
		r = fail("no route to %s", a);
	else if (json_object_get(o, "port") != NULL &&
		 strcmp(have->port, x->port) != 0)
		r = fail("route to %s is on port %s, not %s", a, have->port,
			 x->port);
	else if (x->has_via && (!have->has_via ||
				!sg_addr_eq(&have->via, &x->via)))
		r = fail("route to %s has %s%s, not via %s", a,
			 have->has_via ? "via " : "no via",
			 have->has_via ? sg_addr_fmt(&have->via, b, sizeof(b)) :
			 "", sg_addr_fmt(&x->via, c, sizeof(c)));
	else
		r = routes_change(ce, NULL, i, NULL, -1, "route",
				  route_json(have));
	ce_policydb_free(&db);
	return r;
}

static json_t *
op_neighbor_add(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "neighbor"), *r;
	struct ce_policydb db;
	char a[64];

	if (!json_is_object(o))
		return fail("\"neighbor\": " NEIGH_OBJ);
	r = parse_req(o, "neighbors", "neighbor", NULL, NULL, true, &db);
	if (r != NULL)
		return r;
	if (find_neigh(ce, &db.neighbors[0].ip, db.neighbors[0].port) >= 0)
		r = fail("neighbor %s on port %s exists: delete it first",
			 sg_addr_fmt(&db.neighbors[0].ip, a, sizeof(a)),
			 db.neighbors[0].port);
	else
		r = routes_change(ce, NULL, -1, &db.neighbors[0], -1,
				  "neighbor", neigh_json(&db.neighbors[0]));
	ce_policydb_free(&db);
	return r;
}

/* {"neighbor": {"ip": ..., "port": ...}}; mac, when given, must be its */
static json_t *
op_neighbor_del(struct ce *ce, json_t *req)
{
	json_t *o = json_object_get(req, "neighbor"), *r = NULL;
	const struct ce_neigh_cfg *x, *have;
	struct ce_policydb db;
	char a[64], b[64];
	unsigned k;
	int i;

	if (!json_is_object(o))
		return fail("\"neighbor\": an object with the ip and port of "
			    "a neighbor");
	r = parse_req(o, "neighbors", "neighbor", "mac", "02:00:00:00:00:00",
		      true, &db);
	if (r != NULL)
		return r;
	x = &db.neighbors[0];
	sg_addr_fmt(&x->ip, a, sizeof(a));
	i = find_neigh(ce, &x->ip, x->port);
	have = i >= 0 ? &ce->nbrs[i] : NULL;
	if (have == NULL) {
		r = fail("no neighbor %s on port %s", a, x->port);
		goto out;
	}
	if (json_object_get(o, "mac") != NULL &&
	    memcmp(have->mac, x->mac, 6) != 0) {
		r = fail("neighbor %s on port %s has another mac", a, x->port);
		goto out;
	}
	/* a route's next hop stays resolvable: the route goes first */
	for (k = 0; k < ce->n_routes; k++) {
		const struct ce_route_cfg *rt = &ce->routes[k];

		if (rt->has_via && sg_addr_eq(&rt->via, &x->ip) &&
		    strcmp(rt->port, x->port) == 0) {
			r = fail("neighbor %s on port %s is the next hop of the "
				 "route to %s: delete or change that route first",
				 a, x->port, sg_prefix_fmt(&rt->dst, b, sizeof(b)));
			goto out;
		}
	}
	r = routes_change(ce, NULL, -1, NULL, i, "neighbor", neigh_json(have));
out:
	ce_policydb_free(&db);
	return r;
}

static json_t *
op_reload(struct ce *ce, json_t *req)
{
	(void)req;
	return ce_reload(ce);
}

struct ctl_op {
	const char *name;
	json_t *(*fn)(struct ce *ce, json_t *req);
};

static const struct ctl_op ops[] = {
	{ "stats", op_stats },
	{ "sa-list", op_sa_list },
	{ "sa-show", op_sa_show },
	{ "sa-add", op_sa_add },
	{ "sa-del", op_sa_del },
	{ "policy-list", op_policy_list },
	{ "route-list", op_route_list },
	{ "policy-add", op_policy_add },
	{ "policy-del", op_policy_del },
	{ "route-add", op_route_add },
	{ "route-del", op_route_del },
	{ "neighbor-add", op_neighbor_add },
	{ "neighbor-del", op_neighbor_del },
	{ "reload", op_reload },
};

static json_t *
event_json(const struct ce *ce, const struct ce_event *e, uint64_t seq)
{
	char buf[64];
	json_t *o = json_object();

	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "type", json_string(e->type));
	if (e->detail != NULL)
		json_object_set_new(o, "detail", json_string(e->detail));
	json_object_set_new(o, "time_ms", json_integer((json_int_t)
		((e->tsc - ce->start_tsc) * 1000 / ce->hz)));
	spi_str(e->spi, buf, sizeof(buf));
	json_object_set_new(o, "spi", json_string(buf));
	if (e->policy >= 0) {
		json_object_set_new(o, "policy", json_integer(e->policy));
		json_object_set_new(o, "line", json_integer(e->line));
	}
	if (e->src.family != 0) {
		json_object_set_new(o, "src", json_string(
			sg_addr_fmt(&e->src, buf, sizeof(buf))));
		json_object_set_new(o, "dst", json_string(
			sg_addr_fmt(&e->dst, buf, sizeof(buf))));
		json_object_set_new(o, "proto", json_integer(e->proto));
		json_object_set_new(o, "sport", json_integer(e->sport));
		json_object_set_new(o, "dport", json_integer(e->dport));
	}
	return o;
}

static void
handle(struct ce *ce, struct ctl_client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *rep = NULL, *op;
	unsigned i;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		send_json(c, fail("bad JSON at column %d: %s", jerr.column,
				  jerr.text));
		return;
	}
	op = json_object_get(req, "op");
	if (!json_is_object(req) || !json_is_string(op)) {
		send_json(c, fail("a request is an object with \"op\""));
		json_decref(req);
		return;
	}
	if (strcmp(json_string_value(op), "events") == 0) {
		c->events = true;
		c->ev_next = ce->n_events > CE_EVENTS ?
			ce->n_events - CE_EVENTS : 0;
		rep = ok();
		json_object_set_new(rep, "stream", json_string("events"));
	}
	for (i = 0; rep == NULL && i < RTE_DIM(ops); i++)
		if (strcmp(ops[i].name, json_string_value(op)) == 0)
			rep = ops[i].fn(ce, req);
	if (rep == NULL)
		rep = fail("unknown op \"%s\"", json_string_value(op));
	send_json(c, rep);
	json_decref(req);
}

static void
client_close(struct ce_ctl *x, unsigned i)
{
	struct ctl_client *c = x->cl[i];

	close(c->fd);
	free(c->out);
	free(c);
	x->cl[i] = x->cl[--x->n];
}

/* Read what is there; handle complete lines. -1: close the client now;
 * at end of input (the client half-closed) the replies still go out. */
static int
client_read(struct ce *ce, struct ctl_client *c)
{
	ssize_t r;
	char *nl;

	unsigned ops = 0;

	for (;;) {
		/* backpressure: a client that does not read its replies (or
		 * pipelines a flood) waits; so does a long run of requests */
		while ((nl = memchr(c->in, '\n', c->in_len)) != NULL &&
		       c->out_len < CTL_BACKLOG && ops < CTL_OPS_POLL) {
			size_t l = (size_t)(nl - c->in);

			if (!c->events && !c->closing)
				handle(ce, c, c->in, l);
			memmove(c->in, nl + 1, c->in_len - l - 1);
			c->in_len -= l + 1;
			ops++;
		}
		if (nl != NULL || c->in_len == CTL_LINE_MAX) {
			if (nl == NULL) {
				send_json(c, fail("request longer than %u bytes",
						  CTL_LINE_MAX));
				c->closing = true;
				c->in_len = 0;
			}
			return 0;
		}
		r = recv(c->fd, c->in + c->in_len, CTL_LINE_MAX - c->in_len, 0);
		if (r == 0) {
			c->closing = true;
			return 0;
		}
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->in_len += (size_t)r;
	}
}

static int
client_write(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
	return c->closing ? -1 : 0;
}

static void
stream_events(struct ce *ce, struct ctl_client *c)
{
	uint64_t n, oldest;

	rte_spinlock_lock(&ce->ev_lock);
	n = ce->n_events;
	oldest = n > CE_EVENTS ? n - CE_EVENTS : 0;
	if (c->ev_next < oldest) {
		json_t *j = json_pack("{s:I}", "lost", (json_int_t)(oldest -
							   c->ev_next));

		send_json(c, json_pack("{s:o}", "event", j));
		c->ev_next = oldest;
	}
	for (; c->ev_next < n && !c->closing; c->ev_next++)
		send_json(c, json_pack("{s:o}", "event", event_json(ce,
			&ce->events[c->ev_next % CE_EVENTS], c->ev_next)));
	rte_spinlock_unlock(&ce->ev_lock);
}

int
ce_ctl_init(struct ce *ce)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = ce->dep->control_path;
	struct ce_ctl *x;

	if (path[0] == '\0')
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		CE_LOG(ERR, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	strcpy(sa.sun_path, path);
	strcpy(x->path, path);
	x->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(path);
	if (x->lfd < 0 || bind(x->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0 || listen(x->lfd, 64) != 0) {
		int e = errno;

		CE_LOG(ERR, "control socket %s: %s", path, strerror(e));
		if (x->lfd >= 0)
			close(x->lfd);
		free(x);
		return -e;
	}
	ce->ctl = x;
	CE_LOG(INFO, "control socket %s", path);
	return 0;
}

void
ce_ctl_fini(struct ce *ce)
{
	struct ce_ctl *x = ce->ctl;

	if (x == NULL)
		return;
	while (x->n != 0)
		client_close(x, 0);
	close(x->lfd);
	unlink(x->path);
	free(x);
	ce->ctl = NULL;
}

/* Accept, read, answer, write: a few microseconds when nothing happens. */
void
ce_ctl_poll(struct ce *ce)
{
	struct ce_ctl *x = ce->ctl;
	struct pollfd pf[CTL_CLIENTS + 1];
	unsigned i;
	int fd;

	if (x == NULL)
		return;
	while ((fd = accept4(x->lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct ctl_client *c;

		if (x->n == CTL_CLIENTS ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			static const char busy[] =
				"{\"ok\":false,\"error\":\"too many clients\"}\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
				CE_LOG(DEBUG, "control: client gone");
			close(fd);
			continue;
		}
		c->fd = fd;
		x->cl[x->n++] = c;
	}
	for (i = 0; i < x->n; i++) {
		pf[i].fd = x->cl[i]->fd;
		pf[i].events = POLLIN | (x->cl[i]->out_len ? POLLOUT : 0);
		pf[i].revents = 0;
	}
	if (x->n == 0 || poll(pf, x->n, 0) < 0)
		return;
	for (i = x->n; i-- > 0; ) {
		struct ctl_client *c = x->cl[i];
		int bad = 0;

		if (((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
		     memchr(c->in, '\n', c->in_len) != NULL) && !c->closing)
			bad = client_read(ce, c);
		if (!bad && c->events)
			stream_events(ce, c);
		if (!bad && (c->out_len != 0 || c->closing))
			bad = client_write(c);
		if (bad)
			client_close(x, i);
	}
}
