/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the SPD (cfe_spd on rte_acl): argument checks, a table of
 * matching cases (priorities, file order, prefixes, ports, protocols, IPv6,
 * families, empty directions, default deny), rule binding, context names, a
 * randomized differential test against a linear reference, the lookup memo
 * (the same reference, pairs that differ in one word, a replaced SPD, the
 * pause when it misses), and a timing of the bulk lookup. Needs EAL
 * (--no-huge, one lcore).
 *
 * SPD_SEED=<n> reruns the randomized test with another seed; SPD_PERF_ITERS
 * sets the number of timed batches (valgrind: make it small).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "cfe_spd.h"
#include "sg_addr.h"
#include "sg_cls.h"

#define ANY -1

static struct sg_prefix
pfx(const char *s)
{
	struct sg_prefix p;

	assert_int_equal(sg_prefix_parse(s, &p), 0);
	return p;
}

static struct sg_addr
addr(const char *s)
{
	struct sg_addr a;

	assert_int_equal(sg_addr_parse(s, &a), 0);
	return a;
}

static struct cfe_spd_rule
rule(const char *src, const char *dst, int proto, uint16_t slo, uint16_t shi,
     uint16_t dlo, uint16_t dhi, uint32_t prio)
{
	struct cfe_spd_rule r;

	memset(&r, 0, sizeof(r));
	r.src = pfx(src);
	r.dst = pfx(dst);
	r.proto = (int16_t)proto;
	r.sport_lo = slo;
	r.sport_hi = shi;
	r.dport_lo = dlo;
	r.dport_hi = dhi;
	r.priority = prio;
	r.action = CFE_SPD_BYPASS;
	return r;
}

static struct cfe_spd_tuple
tuple(const char *src, const char *dst, uint8_t proto, uint16_t sport,
      uint16_t dport)
{
	struct cfe_spd_tuple t;

	memset(&t, 0xff, sizeof(t));  /* padding need not be zero */
	t.src = addr(src);
	t.dst = addr(dst);
	t.proto = proto;
	t.sport = sport;
	t.dport = dport;
	cfe_spd_tuple_pack(&t);
	return t;
}

/* One tuple through the bulk path. */
static const struct cfe_spd_rule *
bulk1(const struct cfe_spd *s, enum cfe_spd_dir dir,
      const struct cfe_spd_tuple *t)
{
	const struct cfe_spd_rule *r = (const void *)1;

	cfe_spd_lookup_bulk(s, dir, t->src.family, &t, 1, &r);
	return r;
}

/* ---------------------------------------------------------------------- */

static void
expect_einval(const struct cfe_spd_rule *r, unsigned n)
{
	rte_errno = 0;
	assert_null(cfe_spd_create("inval", r, n, NULL, 0, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
	/* the same rule in the other direction */
	rte_errno = 0;
	assert_null(cfe_spd_create("inval", NULL, 0, r, n, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
}

static void
test_invalid_args(void **state)
{
	struct cfe_spd_rule good = rule("10.0.0.0/8", "0.0.0.0/0", ANY, 0,
					65535, 0, 65535, 1), bad[2];
	struct cfe_spd_tuple t = tuple("10.0.0.1", "10.0.0.2", 6, 1, 2);
	const struct cfe_spd_tuple *tp[2] = { &t, &t };
	const struct cfe_spd_rule *res[2];
	struct cfe_spd *s;

	(void)state;
	rte_errno = 0;
	assert_null(cfe_spd_create(NULL, &good, 1, NULL, 0, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
	rte_errno = 0;
	assert_null(cfe_spd_create("inval", NULL, 1, NULL, 0, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
	rte_errno = 0;
	assert_null(cfe_spd_create("inval", NULL, 0, NULL, 2, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);

	/* family mix, unknown family, prefix too long */
	bad[0] = good;
	bad[0].dst = pfx("::/0");
	expect_einval(bad, 1);
	bad[0] = good;
	bad[0].src.addr.family = 0;
	bad[0].dst.addr.family = 0;
	expect_einval(bad, 1);
	bad[0] = good;
	bad[0].src.len = 33;
	expect_einval(bad, 1);
	bad[0] = rule("::/0", "2001:db8::/32", ANY, 0, 65535, 0, 65535, 1);
	bad[0].dst.len = 129;
	expect_einval(bad, 1);
	/* protocol, port ranges, action */
	bad[0] = good;
	bad[0].proto = 256;
	expect_einval(bad, 1);
	bad[0].proto = -2;
	expect_einval(bad, 1);
	bad[0] = good;
	bad[0].sport_lo = 10;
	bad[0].sport_hi = 9;
	expect_einval(bad, 1);
	bad[0] = good;
	bad[0].dport_lo = 65535;
	bad[0].dport_hi = 0;
	expect_einval(bad, 1);
	bad[0] = good;
	bad[0].action = CFE_SPD_DISCARD + 1;
	expect_einval(bad, 1);
	/* one bad rule after a good one fails the whole SPD */
	bad[0] = good;
	bad[1] = good;
	bad[1].dst = pfx("::/0");
	expect_einval(bad, 2);

	cfe_spd_destroy(NULL);

	/* no rules at all: valid, denies everything */
	s = cfe_spd_create("empty", NULL, 0, NULL, 0, SOCKET_ID_ANY);
	assert_non_null(s);
	assert_int_equal(cfe_spd_count(s, CFE_SPD_IN), 0);
	assert_int_equal(cfe_spd_count(s, CFE_SPD_OUT), 0);
	assert_null(cfe_spd_rule_at(s, CFE_SPD_IN, 0));
	assert_null(cfe_spd_lookup(s, CFE_SPD_IN, &t));
	assert_null(bulk1(s, CFE_SPD_OUT, &t));
	cfe_spd_bind(s, CFE_SPD_IN, 0, 1);  /* ignored */
	cfe_spd_destroy(s);

	s = cfe_spd_create("inval", &good, 1, &good, 1, SOCKET_ID_ANY);
	assert_non_null(s);
	assert_int_equal(cfe_spd_count(s, CFE_SPD_IN), 1);
	assert_int_equal(cfe_spd_count(s, (enum cfe_spd_dir)2), 0);
	assert_null(cfe_spd_rule_at(s, CFE_SPD_IN, 1));
	assert_null(cfe_spd_rule_at(s, (enum cfe_spd_dir)2, 0));
	assert_ptr_equal(cfe_spd_lookup(s, CFE_SPD_IN, &t),
			 cfe_spd_rule_at(s, CFE_SPD_IN, 0));
	/* out of range binds change nothing */
	cfe_spd_bind(s, CFE_SPD_IN, 1, 5);
	cfe_spd_bind(s, (enum cfe_spd_dir)2, 0, 5);
	assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s, CFE_SPD_IN, 0)),
			 0);
	/* unknown tuple family, families mixed inside a tuple */
	res[0] = res[1] = &good;
	cfe_spd_lookup_bulk(s, CFE_SPD_IN, 5, tp, 2, res);
	assert_null(res[0]);
	assert_null(res[1]);
	cfe_spd_lookup_bulk(s, CFE_SPD_IN, 4, tp, 0, res);  /* n = 0 */
	t.src.family = 0;
	assert_null(cfe_spd_lookup(s, CFE_SPD_IN, &t));
	t.src.family = 4;
	t.dst.family = 6;
	assert_null(cfe_spd_lookup(s, CFE_SPD_IN, &t));
	cfe_spd_destroy(s);
}

/* ---------------------------------------------------------------------- */

/* Matching cases: rules in file order, probes with the expected winner
 * (index into rules, -1 = default deny). */
struct rspec {
	const char *src, *dst;
	int proto;
	uint16_t slo, shi, dlo, dhi;
	uint32_t prio;
};

struct probe {
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport;
	int want;
};

struct spd_case {
	const char *name;
	struct rspec r[8];
	struct probe p[16];
};

#define ALLP 0, 65535, 0, 65535
#define V4ANY "0.0.0.0/0"
#define V6ANY "::/0"

static const struct spd_case cases[] = {
	{ "higher priority wins, listed first",
	  { { "10.1.0.0/16", V4ANY, ANY, ALLP, 20 },
	    { "10.0.0.0/8", V4ANY, ANY, ALLP, 10 },
	    { V4ANY, V4ANY, ANY, ALLP, 5 } },
	  { { "10.1.2.3", "1.1.1.1", 6, 1, 1, 0 },
	    { "10.2.0.1", "1.1.1.1", 6, 1, 1, 1 },
	    { "11.0.0.1", "1.1.1.1", 6, 1, 1, 2 } } },
	{ "higher priority wins, listed last",
	  { { V4ANY, V4ANY, ANY, ALLP, 5 },
	    { "10.0.0.0/8", V4ANY, ANY, ALLP, 10 },
	    { "10.1.0.0/16", V4ANY, ANY, ALLP, 20 } },
	  { { "10.1.2.3", "1.1.1.1", 6, 1, 1, 2 },
	    { "10.2.0.1", "1.1.1.1", 6, 1, 1, 1 },
	    { "11.0.0.1", "1.1.1.1", 6, 1, 1, 0 } } },
	{ "priority beats specificity",
	  { { "10.1.1.0/24", V4ANY, ANY, ALLP, 10 },
	    { "10.0.0.0/8", V4ANY, ANY, ALLP, 20 } },
	  { { "10.1.1.1", "1.1.1.1", 6, 1, 1, 1 } } },
	{ "extreme priorities",
	  { { V4ANY, V4ANY, ANY, ALLP, 0 },
	    { V4ANY, V4ANY, ANY, ALLP, UINT32_MAX },
	    { V4ANY, V4ANY, ANY, ALLP, UINT32_MAX - 1 } },
	  { { "1.2.3.4", "5.6.7.8", 17, 1, 1, 1 } } },
	{ "equal priority: first in file order",
	  { { "10.0.0.0/8", V4ANY, ANY, ALLP, 10 },
	    { "10.1.0.0/16", V4ANY, ANY, ALLP, 10 },
	    { "10.1.0.0/16", V4ANY, 6, ALLP, 10 } },
	  { { "10.1.2.3", "1.1.1.1", 6, 1, 1, 0 },
	    { "10.2.2.3", "1.1.1.1", 6, 1, 1, 0 } } },
	{ "equal priority: first in file order, reversed",
	  { { "10.1.0.0/16", V4ANY, 6, ALLP, 10 },
	    { "10.1.0.0/16", V4ANY, ANY, ALLP, 10 },
	    { "10.0.0.0/8", V4ANY, ANY, ALLP, 10 } },
	  { { "10.1.2.3", "1.1.1.1", 6, 1, 1, 0 },
	    { "10.1.2.3", "1.1.1.1", 17, 1, 1, 1 },
	    { "10.2.2.3", "1.1.1.1", 6, 1, 1, 2 } } },
	{ "overlapping src and dst prefixes",
	  { { "192.168.0.0/16", "10.0.0.0/8", ANY, ALLP, 30 },
	    { "192.168.1.0/24", V4ANY, ANY, ALLP, 20 },
	    { V4ANY, "10.10.0.0/16", ANY, ALLP, 10 } },
	  { { "192.168.1.1", "10.10.1.1", 6, 1, 1, 0 },
	    { "192.168.1.1", "11.0.0.1", 6, 1, 1, 1 },
	    { "192.169.1.1", "10.10.0.1", 6, 1, 1, 2 },
	    { "192.169.1.1", "10.11.0.1", 6, 1, 1, -1 } } },
	{ "/32 and /0",
	  { { "192.0.2.1/32", "198.51.100.7/32", ANY, ALLP, 10 },
	    { V4ANY, V4ANY, ANY, ALLP, 1 } },
	  { { "192.0.2.1", "198.51.100.7", 6, 1, 1, 0 },
	    { "192.0.2.0", "198.51.100.7", 6, 1, 1, 1 },
	    { "192.0.2.1", "198.51.100.6", 6, 1, 1, 1 },
	    { "192.0.2.1", "198.51.100.8", 6, 1, 1, 1 },
	    { "0.0.0.0", "255.255.255.255", 0, 0, 0, 1 } } },
	{ "odd IPv4 lengths",
	  { { "10.128.0.0/9", "192.0.2.128/25", ANY, ALLP, 10 },
	    { "0.0.0.0/1", "192.0.2.2/31", ANY, ALLP, 5 } },
	  { { "10.128.0.0", "192.0.2.128", 6, 1, 1, 0 },
	    { "10.255.255.255", "192.0.2.255", 6, 1, 1, 0 },
	    { "10.127.255.255", "192.0.2.128", 6, 1, 1, -1 },
	    { "10.128.0.0", "192.0.2.127", 6, 1, 1, -1 },
	    { "127.0.0.1", "192.0.2.3", 6, 1, 1, 1 },
	    { "127.0.0.1", "192.0.2.4", 6, 1, 1, -1 },
	    { "128.0.0.1", "192.0.2.2", 6, 1, 1, -1 } } },
	{ "port range edges",
	  { { V4ANY, V4ANY, 6, 1000, 2000, 443, 443, 10 } },
	  { { "1.1.1.1", "2.2.2.2", 6, 999, 443, -1 },
	    { "1.1.1.1", "2.2.2.2", 6, 1000, 443, 0 },
	    { "1.1.1.1", "2.2.2.2", 6, 1500, 443, 0 },
	    { "1.1.1.1", "2.2.2.2", 6, 2000, 443, 0 },
	    { "1.1.1.1", "2.2.2.2", 6, 2001, 443, -1 },
	    { "1.1.1.1", "2.2.2.2", 6, 1000, 442, -1 },
	    { "1.1.1.1", "2.2.2.2", 6, 1000, 444, -1 },
	    { "1.1.1.1", "2.2.2.2", 6, 0, 443, -1 },
	    { "1.1.1.1", "2.2.2.2", 6, 65535, 443, -1 } } },
	{ "port ranges touching 0 and 65535",
	  { { V4ANY, V4ANY, ANY, 0, 0, 65535, 65535, 10 },
	    { V4ANY, V4ANY, ANY, 65534, 65535, 0, 1, 10 },
	    { V4ANY, V4ANY, ANY, ALLP, 1 } },
	  { { "1.1.1.1", "2.2.2.2", 17, 0, 65535, 0 },
	    { "1.1.1.1", "2.2.2.2", 17, 1, 65535, 2 },
	    { "1.1.1.1", "2.2.2.2", 17, 0, 65534, 2 },
	    { "1.1.1.1", "2.2.2.2", 17, 65534, 1, 1 },
	    { "1.1.1.1", "2.2.2.2", 17, 65535, 0, 1 },
	    { "1.1.1.1", "2.2.2.2", 17, 65533, 0, 2 },
	    { "1.1.1.1", "2.2.2.2", 17, 65535, 2, 2 } } },
	{ "proto any vs exact",
	  { { V4ANY, V4ANY, 6, ALLP, 20 },
	    { V4ANY, V4ANY, 0, ALLP, 15 },
	    { V4ANY, V4ANY, 255, ALLP, 15 },
	    { V4ANY, V4ANY, ANY, ALLP, 10 } },
	  { { "1.1.1.1", "2.2.2.2", 6, 1, 1, 0 },
	    { "1.1.1.1", "2.2.2.2", 17, 1, 1, 3 },
	    { "1.1.1.1", "2.2.2.2", 0, 0, 0, 1 },
	    { "1.1.1.1", "2.2.2.2", 255, 0, 0, 2 },
	    { "1.1.1.1", "2.2.2.2", 7, 1, 1, 3 },
	    { "1.1.1.1", "2.2.2.2", 134, 1, 1, 3 } } },
	{ "proto exact only",
	  { { V4ANY, V4ANY, 50, ALLP, 1 } },
	  { { "1.1.1.1", "2.2.2.2", 50, 0, 0, 0 },
	    { "1.1.1.1", "2.2.2.2", 51, 0, 0, -1 },
	    { "1.1.1.1", "2.2.2.2", 178, 0, 0, -1 } } },
	{ "IPv6 prefixes off 32-bit boundaries",
	  { { "2001:db8:1:ff00::/56", V6ANY, ANY, ALLP, 40 },
	    { "2001:db8:1::/48", V6ANY, ANY, ALLP, 30 },
	    { "2001:db8::2/127", "2001:db8::1/128", ANY, ALLP, 20 },
	    { V6ANY, V6ANY, ANY, ALLP, 1 } },
	  { { "2001:db8:1:ff00::1", "::1", 6, 1, 1, 0 },
	    { "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "::1", 6, 1, 1, 0 },
	    { "2001:db8:1:fe00::", "::1", 6, 1, 1, 1 },
	    { "2001:db8:1:ffff::", "::1", 6, 1, 1, 0 },
	    { "2001:db8:1::", "::1", 6, 1, 1, 1 },
	    { "2001:db8:2::", "::1", 6, 1, 1, 3 },
	    { "2001:db8::2", "2001:db8::1", 6, 1, 1, 2 },
	    { "2001:db8::3", "2001:db8::1", 6, 1, 1, 2 },
	    { "2001:db8::1", "2001:db8::1", 6, 1, 1, 3 },
	    { "2001:db8::4", "2001:db8::1", 6, 1, 1, 3 },
	    { "2001:db8::2", "2001:db8::", 6, 1, 1, 3 },
	    { "2001:db8::2", "2001:db8::1:0:0:1", 6, 1, 1, 3 } } },
	{ "IPv6 lengths across every word",
	  { { "8000::/1", "2001:db8::/33", ANY, ALLP, 10 },
	    { "2001:db8:0:0:8000::/65", "2001:db8::/97", 58, ALLP, 10 } },
	  { { "8000::", "2001:db8::", 17, 1, 1, 0 },
	    { "ffff::", "2001:db8:7fff::", 17, 1, 1, 0 },
	    { "7fff::", "2001:db8::", 17, 1, 1, -1 },
	    { "8000::", "2001:db8:8000::", 17, 1, 1, -1 },
	    { "2001:db8::8000:0:0:0", "2001:db8::7fff:ffff", 58, 0, 0, 1 },
	    { "2001:db8::7fff:0:0:0", "2001:db8::", 58, 0, 0, -1 },
	    { "2001:db8::8000:0:0:0", "2001:db8::8000:0", 58, 0, 0, -1 } } },
	{ "IPv6 ports and proto",
	  { { "2001:db8::/32", "2001:db8::/32", 17, 500, 500, 4500, 4501,
	      10 } },
	  { { "2001:db8::1", "2001:db8::2", 17, 500, 4500, 0 },
	    { "2001:db8::1", "2001:db8::2", 17, 500, 4501, 0 },
	    { "2001:db8::1", "2001:db8::2", 17, 500, 4502, -1 },
	    { "2001:db8::1", "2001:db8::2", 17, 499, 4500, -1 },
	    { "2001:db8::1", "2001:db8::2", 6, 500, 4500, -1 } } },
	{ "a rule of the other family never matches",
	  { { V4ANY, V4ANY, ANY, ALLP, 100 },
	    { "2001:db8::/32", V6ANY, ANY, ALLP, 1 } },
	  { { "::", "::", 6, 1, 1, -1 },
	    { "::ffff:10.0.0.1", "::ffff:10.0.0.2", 6, 1, 1, -1 },
	    { "2001:db8::1", "::", 6, 1, 1, 1 },
	    { "32.1.13.184", "0.0.0.0", 6, 1, 1, 0 } } },
	{ "IPv4 only: IPv6 denied",
	  { { V4ANY, V4ANY, ANY, ALLP, 1 } },
	  { { "::1", "::2", 6, 1, 1, -1 },
	    { "1.1.1.1", "2.2.2.2", 6, 1, 1, 0 } } },
	{ "IPv6 only: IPv4 denied",
	  { { V6ANY, V6ANY, ANY, ALLP, 1 } },
	  { { "1.1.1.1", "2.2.2.2", 6, 1, 1, -1 },
	    { "::1", "::2", 6, 1, 1, 0 } } },
	{ "default deny",
	  { { "10.0.0.0/8", "10.0.0.0/8", 6, 1, 1023, 80, 80, 1 },
	    { "2001:db8::/32", "2001:db8::/32", 6, ALLP, 1 } },
	  { { "11.0.0.1", "10.0.0.1", 6, 5, 80, -1 },
	    { "10.0.0.1", "11.0.0.1", 6, 5, 80, -1 },
	    { "10.0.0.1", "10.0.0.1", 17, 5, 80, -1 },
	    { "10.0.0.1", "10.0.0.1", 6, 1024, 80, -1 },
	    { "10.0.0.1", "10.0.0.1", 6, 5, 81, -1 },
	    { "10.0.0.1", "10.0.0.1", 6, 5, 80, 0 },
	    { "2001:db9::1", "2001:db8::1", 6, 5, 80, -1 } } },
	{ "no rules", { { 0 } },
	  { { "1.1.1.1", "2.2.2.2", 6, 1, 1, -1 },
	    { "::1", "::2", 6, 1, 1, -1 } } },
};

static unsigned
case_rules(const struct spd_case *c, struct cfe_spd_rule *r)
{
	unsigned n;

	for (n = 0; n < RTE_DIM(c->r) && c->r[n].src != NULL; n++) {
		const struct rspec *x = &c->r[n];

		r[n] = rule(x->src, x->dst, x->proto, x->slo, x->shi, x->dlo,
			    x->dhi, x->prio);
		r[n].id = 100 + n;
		r[n].spi = 0x1000 + n;
		r[n].action = (uint8_t)(n % 3);
		r[n].cls = 0xdead;  /* ignored by create */
	}
	return n;
}

/* Each case with its rules in one direction and none in the other. */
static void
test_cases(void **state)
{
	unsigned c, d, i, n, np = 0;

	(void)state;
	for (c = 0; c < RTE_DIM(cases); c++) {
		const struct spd_case *k = &cases[c];
		struct cfe_spd_rule r[RTE_DIM(k->r)];

		n = case_rules(k, r);
		for (d = 0; d < 2; d++) {
			enum cfe_spd_dir dir = d ? CFE_SPD_OUT : CFE_SPD_IN;
			enum cfe_spd_dir other = d ? CFE_SPD_IN : CFE_SPD_OUT;
			struct cfe_spd *s;

			s = d ? cfe_spd_create("case", NULL, 0, r, n,
					       SOCKET_ID_ANY) :
				cfe_spd_create("case", r, n, NULL, 0,
					       SOCKET_ID_ANY);
			if (s == NULL)
				fail_msg("case '%s': create: %s", k->name,
					 rte_strerror(rte_errno));
			assert_int_equal(cfe_spd_count(s, dir), n);
			assert_int_equal(cfe_spd_count(s, other), 0);
			for (i = 0; i < n; i++) {
				const struct cfe_spd_rule *x;

				x = cfe_spd_rule_at(s, dir, i);
				assert_non_null(x);
				assert_int_equal(x->id, 100 + i);
				assert_int_equal(x->spi, 0x1000 + i);
				assert_int_equal(x->action, i % 3);
				assert_int_equal(cfe_spd_rule_cls(x), 0);
			}
			for (i = 0; i < RTE_DIM(k->p) && k->p[i].src; i++) {
				const struct probe *p = &k->p[i];
				struct cfe_spd_tuple t = tuple(p->src, p->dst,
					p->proto, p->sport, p->dport);
				const struct cfe_spd_rule *want, *got, *got1;

				want = p->want < 0 ? NULL :
					cfe_spd_rule_at(s, dir,
							(uint32_t)p->want);
				got = bulk1(s, dir, &t);
				got1 = cfe_spd_lookup(s, dir, &t);
				if (got != want || got1 != want)
					fail_msg("case '%s' probe %u: want %d,"
						 " bulk %ld, single %ld",
						 k->name, i, p->want,
						 got ? (long)got->id - 100 :
						 -1L,
						 got1 ? (long)got1->id - 100 :
						 -1L);
				assert_null(bulk1(s, other, &t));
				assert_null(cfe_spd_lookup(s, other, &t));
				np++;
			}
			cfe_spd_destroy(s);
		}
	}
	print_message("%u cases, %u probes (x2 directions)\n",
		      (unsigned)RTE_DIM(cases), np / 2);
}

/* The single lookup packs a copy: an unpacked tuple gives the same rule. */
static void
test_unpacked_single(void **state)
{
	struct cfe_spd_rule r = rule(V4ANY, V4ANY, 6, 80, 80, 443, 443, 1);
	struct cfe_spd_tuple t;
	struct cfe_spd *s;

	(void)state;
	s = cfe_spd_create("unpacked", &r, 1, NULL, 0, SOCKET_ID_ANY);
	assert_non_null(s);
	memset(&t, 0, sizeof(t));
	t.src = addr("1.2.3.4");
	t.dst = addr("5.6.7.8");
	t.proto = 6;
	t.sport = 80;
	t.dport = 443;
	assert_ptr_equal(cfe_spd_lookup(s, CFE_SPD_IN, &t),
			 cfe_spd_rule_at(s, CFE_SPD_IN, 0));
	assert_int_equal(t.sport_be, 0);  /* t itself untouched */
	t.dport = 444;
	assert_null(cfe_spd_lookup(s, CFE_SPD_IN, &t));
	cfe_spd_destroy(s);
}

/* ---------------------------------------------------------------------- */

static void
test_bind(void **state)
{
	struct cfe_spd_rule in[3], out[2];
	struct cfe_spd_tuple t = tuple("10.0.0.1", "10.0.0.2", 6, 1, 2);
	const struct cfe_spd_rule *x;
	uint64_t v1 = cfe_class_val(7, 3, 1, 0);
	uint64_t v2 = cfe_class_val(UINT32_MAX, UINT16_MAX, UINT8_MAX,
				    CFE_CLASS_F_BY_DST);
	struct cfe_spd *s;
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++) {
		in[i] = rule("10.0.0.0/8", V4ANY, ANY, ALLP, 10 - i);
		in[i].action = CFE_SPD_PROTECT;
		in[i].cls = 99;
	}
	out[0] = rule("::/0", "::/0", ANY, ALLP, 1);
	out[1] = rule(V4ANY, V4ANY, ANY, ALLP, 1);
	s = cfe_spd_create("bind", in, 3, out, 2, SOCKET_ID_ANY);
	assert_non_null(s);
	for (i = 0; i < 3; i++)
		assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s,
						  CFE_SPD_IN, i)), 0);

	cfe_spd_bind(s, CFE_SPD_IN, 0, v1);
	cfe_spd_bind(s, CFE_SPD_IN, 2, v2);
	cfe_spd_bind(s, CFE_SPD_OUT, 1, v2);
	x = cfe_spd_lookup(s, CFE_SPD_IN, &t);
	assert_ptr_equal(x, cfe_spd_rule_at(s, CFE_SPD_IN, 0));
	assert_int_equal(cfe_spd_rule_cls(x), v1);
	assert_int_equal(cfe_class_slot(cfe_spd_rule_cls(x)), 7);
	assert_int_equal(cfe_class_gen(cfe_spd_rule_cls(x)), 3);
	assert_int_equal(cfe_class_dfe(cfe_spd_rule_cls(x)), 1);
	assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s, CFE_SPD_IN, 1)),
			 0);
	assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s, CFE_SPD_IN, 2)),
			 v2);
	assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s, CFE_SPD_OUT, 0)),
			 0);
	x = cfe_spd_lookup(s, CFE_SPD_OUT, &t);
	assert_ptr_equal(x, cfe_spd_rule_at(s, CFE_SPD_OUT, 1));
	assert_int_equal(cfe_spd_rule_cls(x), v2);
	assert_int_equal(cfe_class_flags(cfe_spd_rule_cls(x)),
			 CFE_CLASS_F_BY_DST);

	/* rebind, unbind */
	cfe_spd_bind(s, CFE_SPD_IN, 0, v2);
	assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s, CFE_SPD_IN, 0)),
			 v2);
	cfe_spd_bind(s, CFE_SPD_IN, 0, 0);
	assert_int_equal(cfe_spd_rule_cls(cfe_spd_rule_at(s, CFE_SPD_IN, 0)),
			 0);
	/* the caller's array is a copy's source only */
	assert_int_equal(in[0].cls, 99);
	cfe_spd_destroy(s);
}

/* Equal names do not share contexts; any name length works. */
static void
test_names(void **state)
{
	struct cfe_spd_rule a = rule("10.0.0.0/8", V4ANY, ANY, ALLP, 1);
	struct cfe_spd_rule b = rule("11.0.0.0/8", V4ANY, ANY, ALLP, 1);
	struct cfe_spd_tuple ta = tuple("10.0.0.1", "1.1.1.1", 6, 1, 1);
	struct cfe_spd_tuple tb = tuple("11.0.0.1", "1.1.1.1", 6, 1, 1);
	char longname[200];
	struct cfe_spd *s1, *s2, *s3;

	(void)state;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	s1 = cfe_spd_create("same", &a, 1, &a, 1, SOCKET_ID_ANY);
	s2 = cfe_spd_create("same", &b, 1, &b, 1, SOCKET_ID_ANY);
	s3 = cfe_spd_create(longname, &a, 1, &b, 1, SOCKET_ID_ANY);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_non_null(s3);
	assert_non_null(cfe_spd_lookup(s1, CFE_SPD_IN, &ta));
	assert_null(cfe_spd_lookup(s1, CFE_SPD_IN, &tb));
	assert_null(cfe_spd_lookup(s2, CFE_SPD_OUT, &ta));
	assert_non_null(cfe_spd_lookup(s2, CFE_SPD_OUT, &tb));
	assert_non_null(cfe_spd_lookup(s3, CFE_SPD_IN, &ta));
	assert_non_null(cfe_spd_lookup(s3, CFE_SPD_OUT, &tb));
	assert_null(cfe_spd_lookup(s3, CFE_SPD_OUT, &ta));
	cfe_spd_destroy(s1);
	/* s2 still works after s1's contexts are gone */
	assert_non_null(cfe_spd_lookup(s2, CFE_SPD_IN, &tb));
	cfe_spd_destroy(s2);
	cfe_spd_destroy(s3);
	s1 = cfe_spd_create("same", &a, 1, NULL, 0, SOCKET_ID_ANY);
	assert_non_null(s1);
	cfe_spd_destroy(s1);
}

static size_t
heap_used(int socket)
{
	struct rte_malloc_socket_stats st;

	assert_int_equal(rte_malloc_get_socket_stats(socket, &st), 0);
	return st.heap_allocsz_bytes;
}

/* Everything lives on the given socket and destroy returns all of it. */
static void
test_memory(void **state)
{
	struct cfe_spd_rule r[4];
	int socket = (int)rte_socket_id();
	size_t before, during;
	struct cfe_spd *s;
	unsigned i;

	(void)state;
	r[0] = rule("10.0.0.0/8", V4ANY, ANY, ALLP, 1);
	r[1] = rule("2001:db8::/32", V6ANY, 6, 1, 2, 3, 4, 2);
	r[2] = rule("10.1.0.0/16", "10.2.0.0/16", 17, ALLP, 3);
	r[3] = rule(V6ANY, "2001:db8::1/128", ANY, ALLP, 4);
	/* warm up: rte_acl may allocate once per process */
	s = cfe_spd_create("mem", r, 4, r, 2, socket);
	assert_non_null(s);
	cfe_spd_destroy(s);
	before = heap_used(socket);
	for (i = 0; i < 8; i++) {
		s = cfe_spd_create("mem", r, 4 - i % 4, r + i % 4, 4 - i % 4,
				   socket);
		assert_non_null(s);
		during = heap_used(socket);
		assert_true(during > before);
		cfe_spd_destroy(s);
		assert_int_equal(heap_used(socket), before);
	}
	/* a failed create frees what it allocated */
	r[3].dst.len = 129;
	assert_null(cfe_spd_create("mem", r, 4, r, 3, socket));
	assert_null(cfe_spd_create("mem", r, 3, r, 4, socket));
	assert_int_equal(heap_used(socket), before);
}

/* ---------------------------------------------------------------------- */
/* Randomized differential test against a linear reference. */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t
rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static bool
ref_prefix(const struct sg_prefix *p, const struct sg_addr *a)
{
	unsigned i;

	if (p->addr.family != a->family)
		return false;
	for (i = 0; i < p->len; i++) {
		unsigned m = 0x80u >> (i % 8);

		if ((p->addr.a[i / 8] & m) != (a->a[i / 8] & m))
			return false;
	}
	return true;
}

/* Linear reference: highest priority, first in array order on ties.
 * *nm: how many rules match; *tie: another matching rule has the winner's
 * priority (the file order decided). */
static int
ref_lookup2(const struct cfe_spd_rule *r, unsigned n,
	    const struct cfe_spd_tuple *t, unsigned *nm, bool *tie)
{
	int best = -1;
	unsigned i;

	*nm = 0;
	*tie = false;

	for (i = 0; i < n; i++) {
		const struct cfe_spd_rule *x = &r[i];

		if (x->proto != -1 && x->proto != t->proto)
			continue;
		if (t->sport < x->sport_lo || t->sport > x->sport_hi ||
		    t->dport < x->dport_lo || t->dport > x->dport_hi)
			continue;
		if (!ref_prefix(&x->src, &t->src) ||
		    !ref_prefix(&x->dst, &t->dst))
			continue;
		(*nm)++;
		if (best >= 0 && x->priority == r[best].priority)
			*tie = true;
		if (best < 0 || x->priority > r[best].priority) {
			best = (int)i;
			*tie = false;
		}
	}
	return best;
}

static int
ref_lookup(const struct cfe_spd_rule *r, unsigned n,
	   const struct cfe_spd_tuple *t)
{
	unsigned nm;
	bool tie;

	return ref_lookup2(r, n, t, &nm, &tie);
}

#define NBASE 6

/* Base addresses rules and tuples are drawn around, so that they overlap. */
static struct sg_addr base[2][NBASE];

static void
clear_host_bits(struct sg_addr *a, unsigned len)
{
	unsigned i, bytes = a->family == 4 ? 4 : 16;

	for (i = 0; i < bytes; i++) {
		unsigned lo = i * 8;

		if (len <= lo)
			a->a[i] = 0;
		else if (len < lo + 8)
			a->a[i] &= (uint8_t)(0xff << (lo + 8 - len));
	}
}

static struct sg_addr
rnd_addr(unsigned fi)
{
	struct sg_addr a = base[fi][rndn(NBASE)];
	unsigned i, bytes = fi ? 16 : 4, keep;

	/* two in three: the base itself; else keep a random number of
	 * leading bits of the base and randomize the rest */
	keep = rndn(3) ? bytes * 8 : rndn(bytes * 8 + 1);
	for (i = 0; i < bytes; i++) {
		uint8_t r = (uint8_t)rnd();
		unsigned lo = i * 8;

		if (keep <= lo)
			a.a[i] = r;
		else if (keep < lo + 8) {
			uint8_t m = (uint8_t)(0xff << (lo + 8 - keep));

			a.a[i] = (uint8_t)((a.a[i] & m) | (r & ~m));
		}
	}
	return a;
}

static uint8_t
rnd_len(unsigned fi)
{
	static const uint8_t l4[] = { 0, 1, 8, 16, 24, 31, 32 };
	static const uint8_t l6[] = { 0, 1, 31, 32, 33, 48, 56, 64, 65, 96,
				      127, 128 };

	if (rndn(2))
		return (uint8_t)rndn(fi ? 129 : 33);
	return fi ? l6[rndn(RTE_DIM(l6))] : l4[rndn(RTE_DIM(l4))];
}

static struct sg_prefix
rnd_prefix(unsigned fi)
{
	struct sg_prefix p;

	p.addr = rnd_addr(fi);
	p.len = rnd_len(fi);
	clear_host_bits(&p.addr, p.len);
	return p;
}

static uint16_t
rnd_port(void)
{
	static const uint16_t common[] = { 0, 1, 53, 80, 443, 500, 4500,
					   65534, 65535 };

	return rndn(2) ? common[rndn(RTE_DIM(common))] : (uint16_t)rnd();
}

static void
rnd_range(uint16_t *lo, uint16_t *hi)
{
	uint16_t a, b;

	switch (rndn(4)) {
	case 0:
	case 1:
		*lo = 0;
		*hi = 65535;
		return;
	case 2:
		*lo = *hi = rnd_port();
		return;
	default:
		a = rnd_port();
		b = rndn(2) ? (uint16_t)(a + rndn(2000)) : rnd_port();
		if (b < a) {
			uint16_t x = a;

			a = b;
			b = x;
		}
		*lo = a;
		*hi = b;
	}
}

static const uint8_t protos[] = { 0, 1, 6, 17, 50, 58, 132, 255 };

static struct cfe_spd_rule
rnd_rule(uint32_t pos, int family)
{
	struct cfe_spd_rule r;
	unsigned fi = family == 4 ? 0 : family == 6 ? 1 : rndn(2);

	memset(&r, 0, sizeof(r));
	r.id = pos;
	r.src = rnd_prefix(fi);
	r.dst = rnd_prefix(fi);
	r.proto = rndn(5) < 2 ? -1 : rndn(4) ? protos[rndn(RTE_DIM(protos))] :
		(int16_t)rndn(256);
	rnd_range(&r.sport_lo, &r.sport_hi);
	rnd_range(&r.dport_lo, &r.dport_hi);
	switch (rndn(10)) {
	case 0:
		r.priority = (uint32_t)rnd();
		break;
	case 1:
		r.priority = rndn(2) ? UINT32_MAX : 0;
		break;
	default:
		r.priority = rndn(4);  /* many ties */
	}
	r.action = (uint8_t)rndn(3);
	r.spi = (uint32_t)rnd();
	return r;
}

/* An address inside p, or (sometimes) just outside its boundary bit. */
static struct sg_addr
addr_near(const struct sg_prefix *p)
{
	unsigned fi = p->addr.family == 6, i;
	struct sg_addr a = rnd_addr(fi);

	/* the host bits mostly from a base inside p: the address then falls
	 * into the other rules nested around that base too */
	for (i = 0; i < NBASE; i++)
		if (rndn(4) != 0 && ref_prefix(p, &base[fi][i])) {
			a = base[fi][i];
			break;
		}

	for (i = 0; i < p->len; i++) {
		unsigned m = 0x80u >> (i % 8);

		a.a[i / 8] = (uint8_t)((a.a[i / 8] & ~m) |
				       (p->addr.a[i / 8] & m));
	}
	if (p->len > 0 && rndn(8) == 0) {
		i = p->len - 1;
		a.a[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
	}
	return a;
}

static uint16_t
port_near(uint16_t lo, uint16_t hi)
{
	switch (rndn(6)) {
	case 0:
		return (uint16_t)(lo - 1);
	case 1:
		return lo;
	case 2:
		return hi;
	case 3:
		return (uint16_t)(hi + 1);
	default:
		return (uint16_t)(lo + rndn((uint32_t)(hi - lo) + 1));
	}
}

/* Three in four tuples are built around a rule (of either direction). */
static struct cfe_spd_tuple
rnd_tuple(const struct cfe_spd_rule *r, unsigned n)
{
	struct cfe_spd_tuple t;

	/* garbage in the padding: the CFE does not clear its tuples */
	memset(&t, 0xa5, sizeof(t));
	if (rndn(4) != 0) {
		const struct cfe_spd_rule *x = &r[rndn(n)];

		t.src = addr_near(&x->src);
		t.dst = addr_near(&x->dst);
		t.proto = x->proto >= 0 && rndn(8) ? (uint8_t)x->proto :
			protos[rndn(RTE_DIM(protos))];
		t.sport = port_near(x->sport_lo, x->sport_hi);
		t.dport = port_near(x->dport_lo, x->dport_hi);
	} else {
		unsigned fi = rndn(2);

		t.src = rnd_addr(fi);
		t.dst = rnd_addr(fi);
		t.proto = rndn(2) ? protos[rndn(RTE_DIM(protos))] :
			(uint8_t)rnd();
		t.sport = rnd_port();
		t.dport = rnd_port();
	}
	cfe_spd_tuple_pack(&t);
	return t;
}

#define NRULES 200
#define NTUPLES 20000

static void
test_random(void **state)
{
	static struct cfe_spd_tuple tup[NTUPLES];
	static const struct cfe_spd_tuple *grp[2][NTUPLES];
	static const struct cfe_spd_rule *res[NTUPLES];
	struct cfe_spd_rule rules[2][NRULES], all[2 * NRULES];
	unsigned ng[2] = { 0, 0 }, fi, d, i, k, m, hits = 0, checked = 0;
	unsigned batches = 0, multi = 0, ties = 0;
	const char *env = getenv("SPD_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : 0x5eed5bd;
	struct cfe_spd *s;

	(void)state;
	rng_state = seed;
	print_message("seed 0x%" PRIx64 " (SPD_SEED to change)\n", seed);
	for (fi = 0; fi < 2; fi++)
		for (i = 0; i < NBASE; i++) {
			struct sg_addr *a = &base[fi][i];

			memset(a, 0, sizeof(*a));
			a->family = fi ? 6 : 4;
			for (k = 0; k < (fi ? 16u : 4u); k++)
				a->a[k] = (uint8_t)rnd();
		}
	for (d = 0; d < 2; d++)
		for (i = 0; i < NRULES; i++) {
			rules[d][i] = rnd_rule(i, 0);
			all[d * NRULES + i] = rules[d][i];
		}
	s = cfe_spd_create("rand", rules[0], NRULES, rules[1], NRULES,
			   SOCKET_ID_ANY);
	if (s == NULL)
		fail_msg("create: %s", rte_strerror(rte_errno));

	for (i = 0; i < NTUPLES; i++) {
		tup[i] = rnd_tuple(all, 2 * NRULES);
		fi = tup[i].src.family == 6;
		grp[fi][ng[fi]++] = &tup[i];
	}
	for (d = 0; d < 2; d++) {
		enum cfe_spd_dir dir = d ? CFE_SPD_OUT : CFE_SPD_IN;

		for (fi = 0; fi < 2; fi++) {
			/* batches of 1..64 tuples of one family */
			for (k = 0; k < ng[fi]; k += m) {
				m = RTE_MIN(ng[fi] - k, 1 + rndn(64));
				cfe_spd_lookup_bulk(s, dir, fi ? 6 : 4,
						    &grp[fi][k], m, &res[k]);
				batches++;
			}
			for (k = 0; k < ng[fi]; k++) {
				const struct cfe_spd_tuple *t = grp[fi][k];
				unsigned nm;
				bool tie;
				int want = ref_lookup2(rules[d], NRULES, t,
						       &nm, &tie);
				const struct cfe_spd_rule *w = want < 0 ?
					NULL : cfe_spd_rule_at(s, dir,
							       (uint32_t)want);

				if (res[k] != w || cfe_spd_lookup(s, dir, t) != w)
					fail_msg("dir %u family %u tuple %u: "
						 "want rule %d, got %d", d,
						 fi ? 6 : 4, k, want,
						 res[k] ? (int)res[k]->id : -1);
				hits += w != NULL;
				multi += nm > 1;
				ties += tie;
				checked++;
			}
			/* one call over everything: classified 64 at a time */
			cfe_spd_lookup_bulk(s, dir, fi ? 6 : 4, grp[fi],
					    ng[fi], res);
			for (k = 0; k < ng[fi]; k++) {
				int want = ref_lookup(rules[d], NRULES,
						      grp[fi][k]);

				assert_ptr_equal(res[k], want < 0 ? NULL :
					cfe_spd_rule_at(s, dir,
							(uint32_t)want));
			}
		}
	}
	print_message("%u rules per direction, %u tuples (%u IPv4, %u IPv6), "
		      "%u results checked in %u batches: %u matched a rule, "
		      "%u several rules, %u decided by file order\n",
		      NRULES, NTUPLES, ng[0], ng[1], checked, batches, hits,
		      multi, ties);
	/* the bias towards rules must make the test meaningful */
	assert_true(hits > checked / 4);
	assert_true(hits < checked - checked / 20);
	assert_true(multi > checked / 20);
	assert_true(ties > checked / 200);
	cfe_spd_destroy(s);
}

/* ---------------------------------------------------------------------- */

#define MEMO_POOL 6000	/* distinct tuples, more than the memo's slots */
#define MEMO_LOOKUPS 40000

/* The rules of rnd_rule() with any protocol and every port: the SPD the
 * memo applies to. */
static struct cfe_spd_rule
rnd_addr_rule(uint32_t pos)
{
	struct cfe_spd_rule r = rnd_rule(pos, 0);

	r.proto = ANY;
	r.sport_lo = r.dport_lo = 0;
	r.sport_hi = r.dport_hi = 65535;
	return r;
}

static uint64_t
memo_skipped(const struct cfe_spd_memo *m)
{
	uint64_t h, mi, sk;

	cfe_spd_memo_stats(m, &h, &mi, &sk);
	return sk;
}

static uint64_t
memo_total(const struct cfe_spd_memo *m, uint64_t *hits)
{
	uint64_t h, mi, sk;

	cfe_spd_memo_stats(m, &h, &mi, &sk);
	if (hits != NULL)
		*hits = h;
	return h + mi + sk;
}

/*
 * The memo against the linear reference: address-only rules of both
 * families in both directions, one memo for both directions, tuples drawn
 * again and again from a pool larger than the memo (evictions, slots that
 * collide), with protocol and ports changed at every draw (the memo must
 * not care). Then a direction whose IPv4 rules name a port: the memo stands
 * aside there (its counters do not move) and the other direction still
 * uses it.
 */
static void
test_memo(void **state)
{
	static struct cfe_spd_tuple pool[MEMO_POOL], tup[64];
	const struct cfe_spd_tuple *tp[64];
	const struct cfe_spd_rule *res[64];
	struct cfe_spd_rule rules[2][NRULES], all[2 * NRULES];
	struct cfe_spd_memo *m;
	struct cfe_spd *s;
	uint64_t hits, before;
	unsigned d, fam, i, k, n, checked = 0;

	(void)state;
	rng_state = 0x3e30;
	for (d = 0; d < 2; d++)
		for (i = 0; i < NRULES; i++) {
			rules[d][i] = rnd_addr_rule(i);
			all[d * NRULES + i] = rules[d][i];
		}
	s = cfe_spd_create("memo", rules[0], NRULES, rules[1], NRULES,
			   SOCKET_ID_ANY);
	m = cfe_spd_memo_create(SOCKET_ID_ANY);
	assert_non_null(s);
	assert_non_null(m);
	for (i = 0; i < MEMO_POOL; i++)
		pool[i] = rnd_tuple(all, 2 * NRULES);
	for (k = 0; k < MEMO_LOOKUPS; k += n) {
		fam = rndn(2) ? 4 : 6;
		d = rndn(2);
		n = 1 + rndn(64);
		for (i = 0; i < n; i++) {
			/* one in two from a small corner of the pool: hits */
			do
				tup[i] = pool[rndn(2) ? rndn(64) :
					      rndn(MEMO_POOL)];
			while (tup[i].src.family != fam);
			tup[i].proto = protos[rndn(RTE_DIM(protos))];
			tup[i].sport = rnd_port();
			tup[i].dport = rnd_port();
			cfe_spd_tuple_pack(&tup[i]);
			tp[i] = &tup[i];
		}
		cfe_spd_lookup_memo(s, m, d ? CFE_SPD_OUT : CFE_SPD_IN, fam,
				    tp, n, res);
		for (i = 0; i < n; i++) {
			int want = ref_lookup(rules[d], NRULES, tp[i]);

			if (res[i] != (want < 0 ? NULL :
				       cfe_spd_rule_at(s, d ? CFE_SPD_OUT :
						       CFE_SPD_IN,
						       (uint32_t)want)))
				fail_msg("lookup %u: dir %u family %u: want "
					 "rule %d, got %d", k + i, d, fam,
					 want, res[i] ? (int)res[i]->id : -1);
			checked++;
		}
	}
	/* every tuple went through the memo, none skipped it */
	assert_int_equal(memo_total(m, &hits), checked);
	assert_int_equal(memo_skipped(m), 0);
	print_message("%u results checked, %" PRIu64 " answered by the memo\n",
		      checked, hits);
	assert_true(hits > checked / 4);
	assert_true(hits < checked);
	cfe_spd_destroy(s);

	/* a port in one IPv4 rule of OUT: IPv4 of OUT bypasses the memo,
	 * IPv6 of OUT and both families of IN still use it */
	rules[1][7].src = pfx("10.0.0.0/8");
	rules[1][7].dst = pfx("0.0.0.0/0");
	rules[1][7].dport_lo = rules[1][7].dport_hi = 443;
	s = cfe_spd_create("memo2", rules[0], NRULES, rules[1], NRULES,
			   SOCKET_ID_ANY);
	assert_non_null(s);
	for (d = 0; d < 2; d++)
		for (fam = 4; fam <= 6; fam += 2) {
			before = memo_total(m, NULL);
			for (i = 0; i < 64; i++) {
				do
					tup[i] = pool[rndn(MEMO_POOL)];
				while (tup[i].src.family != fam);
				tup[i].dport = i % 2 ? 443 : 80;
				cfe_spd_tuple_pack(&tup[i]);
				tp[i] = &tup[i];
			}
			cfe_spd_lookup_memo(s, m, d ? CFE_SPD_OUT : CFE_SPD_IN,
					    fam, tp, 64, res);
			for (i = 0; i < 64; i++) {
				int want = ref_lookup(rules[d], NRULES, tp[i]);

				assert_ptr_equal(res[i], want < 0 ? NULL :
					cfe_spd_rule_at(s, d ? CFE_SPD_OUT :
							CFE_SPD_IN,
							(uint32_t)want));
			}
			assert_int_equal(memo_total(m, NULL) - before,
					 d == 1 && fam == 4 ? 0 : 64);
		}
	cfe_spd_destroy(s);
	cfe_spd_memo_free(m);
	cfe_spd_memo_free(NULL);
}

/*
 * IPv6 pairs that differ in one 64-bit word only (each of the four in turn:
 * source high and low, destination high and low), the verdict set by that
 * word's top bit: 20,000 of them through 2,048 slots, so slots are reused
 * all the time by pairs equal but for that word. A slot compare that missed
 * a word would answer another pair's verdict.
 */
static void
test_memo_v6_words(void **state)
{
	struct cfe_spd_memo *m = cfe_spd_memo_create(SOCKET_ID_ANY);
	struct cfe_spd_rule r[2];
	struct cfe_spd_tuple t = tuple("2001:db8:1:2:3:4:5:6",
				       "2001:db8:a:b:c:d:e:f", 6, 1, 2);
	const struct cfe_spd_tuple *tp = &t;
	const struct cfe_spd_rule *res;
	struct cfe_spd *s;
	unsigned q, i;

	(void)state;
	assert_non_null(m);
	for (q = 0; q < 4; q++) {
		struct sg_prefix *p = q < 2 ? &r[0].src : &r[0].dst;
		struct cfe_spd_tuple b = t;
		uint8_t *word = (q < 2 ? b.src.a : b.dst.a) + 8 * (q % 2);

		r[0] = rule("::/0", "::/0", ANY, 0, 65535, 0, 65535, 2);
		r[0].action = CFE_SPD_DISCARD;
		r[1] = rule("::/0", "::/0", ANY, 0, 65535, 0, 65535, 1);
		/* the base address with the word's top bit set, up to it */
		p->addr = q < 2 ? t.src : t.dst;
		p->addr.a[8 * (q % 2)] |= 0x80;
		p->len = (uint8_t)(64 * (q % 2) + 1);
		clear_host_bits(&p->addr, p->len);
		s = cfe_spd_create("memo6", NULL, 0, r, 2, SOCKET_ID_ANY);
		assert_non_null(s);
		for (i = 0; i < 20000; i++) {
			unsigned k;

			for (k = 0; k < 8; k++)
				word[k] = (uint8_t)rnd();
			t = b;
			cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 6, &tp, 1, &res);
			assert_ptr_equal(res, cfe_spd_rule_at(s, CFE_SPD_OUT,
							      word[0] & 0x80 ?
							      0 : 1));
			/* and again: from the memo now */
			cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 6, &tp, 1, &res);
			assert_ptr_equal(res, cfe_spd_rule_at(s, CFE_SPD_OUT,
							      word[0] & 0x80 ?
							      0 : 1));
		}
		t = b;
		cfe_spd_destroy(s);
	}
	/* every second lookup a hit: the memo never went off */
	assert_int_equal(memo_skipped(m), 0);
	cfe_spd_memo_free(m);
}

/*
 * A replaced SPD: the memo remembers A's verdicts for a pair; A is
 * destroyed and B created (perhaps at A's very address), with another
 * verdict for the same pair. The memo must answer B's, in the direction
 * asked: a verdict of one direction is never the other's.
 */
static void
test_memo_replaced(void **state)
{
	struct cfe_spd_rule a[2], b[2];
	struct cfe_spd_tuple t = tuple("10.1.2.3", "172.16.0.9", 17, 1, 2), six;
	const struct cfe_spd_tuple *tp = &t, *sp = &six;
	const struct cfe_spd_rule *r;
	struct cfe_spd_memo *m = cfe_spd_memo_create(SOCKET_ID_ANY);
	struct cfe_spd *s;
	uint64_t hits;
	unsigned i;

	(void)state;
	assert_non_null(m);
	a[0] = rule("10.0.0.0/8", "172.16.0.0/12", ANY, 0, 65535, 0, 65535, 1);
	a[1] = rule("0.0.0.0/0", "0.0.0.0/0", ANY, 0, 65535, 0, 65535, 0);
	a[1].action = CFE_SPD_DISCARD;
	s = cfe_spd_create("memoA", a, 1, a, 2, SOCKET_ID_ANY);
	assert_non_null(s);
	for (i = 0; i < 3; i++) {
		cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 4, &tp, 1, &r);
		assert_ptr_equal(r, cfe_spd_rule_at(s, CFE_SPD_OUT, 0));
	}
	memo_total(m, &hits);
	assert_int_equal(hits, 2);
	cfe_spd_destroy(s);

	/* B: OUT has the pair in its discard rule, IN no rule for it (no
	 * match is remembered too) */
	b[0] = rule("10.1.2.0/24", "0.0.0.0/0", ANY, 0, 65535, 0, 65535, 5);
	b[0].action = CFE_SPD_DISCARD;
	b[1] = rule("192.168.0.0/16", "0.0.0.0/0", ANY, 0, 65535, 0, 65535, 5);
	s = cfe_spd_create("memoB", &b[1], 1, b, 1, SOCKET_ID_ANY);
	assert_non_null(s);
	for (i = 0; i < 2; i++) {
		cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 4, &tp, 1, &r);
		assert_ptr_equal(r, cfe_spd_rule_at(s, CFE_SPD_OUT, 0));
		assert_int_equal(r->action, CFE_SPD_DISCARD);
		cfe_spd_lookup_memo(s, m, CFE_SPD_IN, 4, &tp, 1, &r);
		assert_null(r);
	}
	/* after the first round of each direction, hits */
	memo_total(m, &hits);
	assert_int_equal(hits, 4);
	/* IPv6: no rule of the family in either direction, no match at no
	 * cost: the memo is not asked */
	six = tuple("2001:db8::1", "2001:db8:1::1", 17, 1, 2);
	cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 6, &sp, 1, &r);
	assert_null(r);
	assert_int_equal(memo_total(m, NULL), 3 + 4);
	cfe_spd_destroy(s);

	/* every pair: OUT discards, IN bypasses; each pair asked OUT, IN,
	 * OUT, IN right away (the last two from the memo), 50,000 pairs
	 * (more than the slots): the memo keeps the two directions' verdicts
	 * apart (the direction seeds the slot's hash and is in its tag;
	 * without both, this fails) */
	a[0].action = CFE_SPD_BYPASS;
	a[1].action = CFE_SPD_DISCARD;
	s = cfe_spd_create("memoC", a, 1, &a[1], 1, SOCKET_ID_ANY);
	assert_non_null(s);
	for (i = 0; i < 4 * 50000; i++) {
		uint32_t src = rte_cpu_to_be_32(0x0a000000u | i / 4);
		enum cfe_spd_dir dir = i % 2 ? CFE_SPD_IN : CFE_SPD_OUT;

		memcpy(t.src.a, &src, sizeof(src));
		cfe_spd_lookup_memo(s, m, dir, 4, &tp, 1, &r);
		assert_ptr_equal(r, cfe_spd_rule_at(s, dir, 0));
	}
	/* half of them hits: the memo never went off */
	assert_int_equal(memo_skipped(m), 0);
	cfe_spd_destroy(s);
	cfe_spd_memo_free(m);
}

/*
 * More live pairs than slots: 20,000 IPv4 pairs in turn, in bursts of 32.
 * The first window of 4096 lookups nearly all miss, so IPv4 skips the memo
 * for exactly the next 65,536 lookups (counted as skipped), with the same
 * verdicts. Then one pair again and again: the memo is back and answers
 * it. IPv6, one pair asked once per burst all along, is measured on its
 * own and never skips.
 */
static void
test_memo_thrash(void **state)
{
	static struct cfe_spd_tuple tup[32];
	const struct cfe_spd_tuple *tp[32];
	const struct cfe_spd_rule *res[32];
	struct cfe_spd_memo *m = cfe_spd_memo_create(SOCKET_ID_ANY);
	struct cfe_spd_rule r[3];
	struct cfe_spd_tuple six = tuple("2001:db8::1", "2001:db8:1::1", 17, 1,
					 2);
	const struct cfe_spd_tuple *sp = &six;
	uint64_t hits, h0;
	struct cfe_spd *s;
	unsigned call, i, x = 0;

	(void)state;
	assert_non_null(m);
	r[0] = rule("10.0.0.0/9", "0.0.0.0/0", ANY, 0, 65535, 0, 65535, 1);
	r[1] = rule("10.128.0.0/9", "0.0.0.0/0", ANY, 0, 65535, 0, 65535, 1);
	r[1].action = CFE_SPD_DISCARD;
	r[2] = rule("2001:db8::/32", "::/0", ANY, 0, 65535, 0, 65535, 1);
	s = cfe_spd_create("thrash", NULL, 0, r, 3, SOCKET_ID_ANY);
	assert_non_null(s);
	/* 128 calls: one window; then 2048 calls: the pause */
	for (call = 0; call < 128 + 2048; call++) {
		for (i = 0; i < 32; i++, x++) {
			/* 20,000 distinct pairs (an odd multiplier is a
			 * bijection of 24 bits); the top bit of the second
			 * byte picks the rule */
			uint32_t a = rte_cpu_to_be_32(0x0a000000u |
				((x % 20000) * 0x9e3779u & 0xffffffu));

			tup[i] = tuple("10.0.0.1", "192.0.2.1", 6, 1, 2);
			memcpy(tup[i].src.a, &a, 4);
			tp[i] = &tup[i];
		}
		cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 4, tp, 32, res);
		for (i = 0; i < 32; i++)
			assert_ptr_equal(res[i], cfe_spd_rule_at(s, CFE_SPD_OUT,
				tup[i].src.a[1] & 0x80 ? 1 : 0));
		cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 6, &sp, 1, res);
		assert_ptr_equal(res[0], cfe_spd_rule_at(s, CFE_SPD_OUT, 2));
		if (call == 127)
			assert_int_equal(memo_skipped(m), 0);
	}
	memo_total(m, &hits);
	print_message("20,000 pairs: %" PRIu64 " hits (IPv6 %u), %" PRIu64
		      " skipped\n", hits, call - 1, memo_skipped(m));
	assert_int_equal(memo_skipped(m), 65536);
	assert_true(hits <= call - 1 + 10);	/* IPv6's, a few IPv4 */
	/* one pair: the memo is on again */
	h0 = hits;
	for (call = 0; call < 256; call++) {
		for (i = 0; i < 32; i++) {
			tup[i] = tuple("10.200.0.1", "192.0.2.1", 6, 1, 2);
			tp[i] = &tup[i];
		}
		cfe_spd_lookup_memo(s, m, CFE_SPD_OUT, 4, tp, 32, res);
		for (i = 0; i < 32; i++)
			assert_ptr_equal(res[i], cfe_spd_rule_at(s, CFE_SPD_OUT,
								 1));
	}
	memo_total(m, &hits);
	assert_int_equal(memo_skipped(m), 65536);
	assert_int_equal(hits - h0, 256 * 32 - 32);
	cfe_spd_destroy(s);
	cfe_spd_memo_free(m);
}

/* ---------------------------------------------------------------------- */

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * Not a pass/fail test: ns per tuple of 64-tuple batches against 100 rules
 * of the tuples' family (and 100 of the other family in the same
 * direction); the best of 5 rounds, as other processes share the CPU.
 */
static void
test_perf(void **state)
{
	enum { NR = 100, NT = 64 * 16, ROUNDS = 5 };
	static struct cfe_spd_tuple tup[2][NT];
	static const struct cfe_spd_tuple *tp[2][NT];
	struct cfe_spd_rule r[2 * NR];
	const struct cfe_spd_rule *res[64];
	const char *env = getenv("SPD_PERF_ITERS");
	unsigned iters = env != NULL ? (unsigned)atoi(env) : 100000;
	unsigned fi, i, k, n[2] = { 0, 0 }, hits, round;
	volatile uintptr_t sink = 0;
	struct cfe_spd *s;
	double t0, ns, best;

	(void)state;
	rng_state = 42;
	for (i = 0; i < 2 * NR; i++)
		r[i] = rnd_rule(i, i % 2 ? 6 : 4);
	s = cfe_spd_create("perf", r, 2 * NR, NULL, 0, SOCKET_ID_ANY);
	assert_non_null(s);
	while (n[0] < NT || n[1] < NT) {
		struct cfe_spd_tuple t = rnd_tuple(r, 2 * NR);

		fi = t.src.family == 6;
		if (n[fi] < NT) {
			tup[fi][n[fi]] = t;
			tp[fi][n[fi]] = &tup[fi][n[fi]];
			n[fi]++;
		}
	}
	for (fi = 0; fi < 2; fi++) {
		best = 1e30;
		for (round = 0; round < ROUNDS; round++) {
			t0 = now_ns();
			for (i = 0; i < iters / ROUNDS; i++) {
				k = (i % (NT / 64)) * 64;
				cfe_spd_lookup_bulk(s, CFE_SPD_IN, fi ? 6 : 4,
						    &tp[fi][k], 64, res);
				sink += (uintptr_t)res[i % 64];
			}
			ns = (now_ns() - t0) / ((double)(iters / ROUNDS) * 64);
			best = RTE_MIN(best, ns);
		}
		hits = 0;
		for (k = 0; k < NT; k += 64) {
			cfe_spd_lookup_bulk(s, CFE_SPD_IN, fi ? 6 : 4,
					    &tp[fi][k], 64, res);
			for (i = 0; i < 64; i++)
				hits += res[i] != NULL;
		}
		print_message("IPv%u: %.1f ns per tuple (64-tuple batches, "
			      "%u rules of the family, %u%% of tuples "
			      "matched)\n", fi ? 6 : 4, best, NR,
			      hits * 100 / NT);
	}
	(void)sink;
	cfe_spd_destroy(s);
}

/* ---------------------------------------------------------------------- */

static int
eal_setup(void **state)
{
	char *argv[] = { "test_spd", "--no-huge", "-m", "256", "--no-pci",
			 "--no-shconf", "--log-level=error",
			 "--file-prefix=test_spd", "-l", "0" };

	(void)state;
	return rte_eal_init(RTE_DIM(argv), argv) < 0 ? -1 : 0;
}

static int
eal_teardown(void **state)
{
	(void)state;
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_unpacked_single),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_memo_v6_words),
		cmocka_unit_test(test_memo_replaced),
		cmocka_unit_test(test_memo_thrash),
		cmocka_unit_test(test_perf),
	};

	return cmocka_run_group_tests_name("cfe_spd", tests, eal_setup,
					   eal_teardown);
}
