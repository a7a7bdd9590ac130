/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "cfe_spd.h"

struct rules {
	unsigned n;
	struct cfe_spd_rule *r;
};

struct cfe_spd {
	struct rules dir[2];
};

/* Stable sort by priority, highest first (insertion sort: small lists). */
static void
sort_rules(struct cfe_spd_rule *r, unsigned n)
{
	unsigned i, j;

	for (i = 1; i < n; i++) {
		struct cfe_spd_rule x = r[i];

		for (j = i; j > 0 && r[j - 1].priority < x.priority; j--)
			r[j] = r[j - 1];
		r[j] = x;
	}
}

static int
copy_rules(struct rules *dst, const struct cfe_spd_rule *src, unsigned n,
	   int socket)
{
	dst->n = n;
	if (n == 0)
		return 0;
	dst->r = rte_malloc_socket("cfe_spd", sizeof(*src) * n, 0, socket);
	if (dst->r == NULL)
		return -ENOMEM;
	memcpy(dst->r, src, sizeof(*src) * n);
	sort_rules(dst->r, n);
	return 0;
}

struct cfe_spd *
cfe_spd_create(const struct cfe_spd_rule *in, unsigned n_in,
	       const struct cfe_spd_rule *out, unsigned n_out, int socket)
{
	struct cfe_spd *s;

	s = rte_zmalloc_socket("cfe_spd", sizeof(*s), 0, socket);
	if (s == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	if (copy_rules(&s->dir[CFE_SPD_IN], in, n_in, socket) != 0 ||
	    copy_rules(&s->dir[CFE_SPD_OUT], out, n_out, socket) != 0) {
		cfe_spd_destroy(s);
		rte_errno = ENOMEM;
		return NULL;
	}
	return s;
}

void
cfe_spd_destroy(struct cfe_spd *s)
{
	if (s == NULL)
		return;
	rte_free(s->dir[0].r);
	rte_free(s->dir[1].r);
	rte_free(s);
}

const struct cfe_spd_rule *
cfe_spd_lookup(const struct cfe_spd *s, enum cfe_spd_dir dir,
	       const struct cfe_spd_tuple *t)
{
	const struct rules *rs = &s->dir[dir];
	unsigned i;

	for (i = 0; i < rs->n; i++) {
		const struct cfe_spd_rule *r = &rs->r[i];

		if (r->proto >= 0 && r->proto != t->proto)
			continue;
		if (t->sport < r->sport_lo || t->sport > r->sport_hi ||
		    t->dport < r->dport_lo || t->dport > r->dport_hi)
			continue;
		if (!sg_prefix_contains(&r->src, &t->src) ||
		    !sg_prefix_contains(&r->dst, &t->dst))
			continue;
		return r;
	}
	return NULL;
}
