/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "cfe_spd.h"

/*
 * rte_acl reads its input in groups of four bytes at the offsets of the
 * field definitions below, which are offsets into struct cfe_spd_tuple: the
 * addresses in place, the protocol (the one-byte first field), the two ports
 * of cfe_spd_tuple_pack() as one group. IPv4 uses the first word of each
 * address, IPv6 all four, so both families share one tuple layout and
 * packing is two byte swaps.
 */
_Static_assert(offsetof(struct cfe_spd_tuple, dport_be) ==
	       offsetof(struct cfe_spd_tuple, sport_be) + sizeof(uint16_t),
	       "the two ports form one 4-byte ACL input group");
_Static_assert(sizeof(((struct sg_addr *)0)->a) == 16, "sg_addr layout");

/*
 * Run-time memory one context may take before rte_acl_build() splits the
 * rules into more tries (each one more walk per tuple). With a limit the
 * builder starts from its largest tries and halves them until they fit;
 * without, it starts from the smallest: 100 IPv4 rules classify in 19 ns
 * instead of 39 for about 3 MB more. A rule set too big even for the
 * smallest tries within the limit is built again without it.
 */
#define ACL_MAX_SIZE ((size_t)8 << 20)

#define WORDS_MAX 4                     /* 32-bit words of an IPv6 address */
#define FIELDS_MAX (3 + 2 * WORDS_MAX)  /* proto, src, dst, sport, dport */

/* One ACL rule as rte_acl_add_rules() takes it, sized for IPv6; IPv4 rules
 * use the first five fields (the rule size given to rte_acl_create() is the
 * same for both families, unused fields are ignored). */
RTE_ACL_RULE_DEF(acl_rule, FIELDS_MAX);

struct spd_dir {
	struct cfe_spd_rule *rules;     /* input order; ACL userdata = pos + 1 */
	uint32_t n;
	struct rte_acl_ctx *acl[2];     /* IPv4, IPv6; NULL: no rule of it */
	/* per family (IPv4, IPv6): no rule of it names a protocol or
	 * narrows a port range, so the verdict is a function of the two
	 * addresses and cfe_spd_lookup_memo() may remember it */
	uint8_t addr_only[2];
};

struct cfe_spd {
	struct spd_dir dir[2];          /* enum cfe_spd_dir */
	uint64_t gen;                   /* unique in the process, never 0 */
};

/*
 * The memo: direct-mapped, one slot per hash of the address pair, a table
 * per family. A slot holds the verdict (the rule, or NULL for no match) with
 * the tag of the SPD and direction it was found in: gen * 2 + dir.
 * Generations are never reused, so a slot filled from an SPD that has since
 * been replaced (and freed) can never match again; its stale rule pointer is
 * never read.
 */
#define MEMO_SLOTS4 4096
#define MEMO_SLOTS6 2048

struct memo_slot4 {
	uint64_t pair;                  /* src (high) and dst words, as read */
	uint64_t tag;                   /* 0: empty */
	const struct cfe_spd_rule *rule;
	uint64_t pad;                   /* two slots per cache line */
};

struct memo_slot6 {
	uint64_t w[4];                  /* src, dst, as read */
	uint64_t tag;
	const struct cfe_spd_rule *rule;
	uint64_t pad[2];                /* one slot per cache line */
};

/*
 * A memo that mostly misses costs more than it saves: more live address
 * pairs than slots make every lookup a slot miss (a CRC, a cache line from
 * L2 or beyond, a write) on top of rte_acl, about 14 cycles a packet
 * (docs/PERFORMANCE.md, step 28). So each family's hit rate is measured
 * over windows of MEMO_WINDOW lookups; under one in three (a hit saves
 * about twice what a miss costs) the family skips the memo for the next
 * MEMO_OFF lookups, then measures again.
 */
#define MEMO_WINDOW 4096
#define MEMO_OFF (16 * MEMO_WINDOW)

struct memo_fam {
	uint32_t seen, hit;             /* this window */
	uint32_t off;                   /* lookups left to skip the memo */
};

struct cfe_spd_memo {
	uint64_t hits, misses, skipped;
	struct memo_fam fam[2];         /* IPv4, IPv6 */
	struct memo_slot4 s4[MEMO_SLOTS4] __rte_cache_aligned;
	struct memo_slot6 s6[MEMO_SLOTS6] __rte_cache_aligned;
};

/* Process-wide sequence making context names unique: rte_acl_create()
 * returns the existing context when the name is taken. */
static uint32_t name_seq;
/* Generations of SPDs (cfe_spd.gen), from 1. */
static uint64_t gen_seq;

static unsigned
fam_words(unsigned fi)
{
	return fi == 0 ? 1 : WORDS_MAX;
}

/* Field definitions of a family (fi 0: IPv4, 1: IPv6); returns how many. */
static unsigned
field_defs(unsigned fi, struct rte_acl_field_def *d)
{
	unsigned w = fam_words(fi), i, n = 0;
	uint32_t src = offsetof(struct cfe_spd_tuple, src.a);
	uint32_t dst = offsetof(struct cfe_spd_tuple, dst.a);

	d[n] = (struct rte_acl_field_def){
		.type = RTE_ACL_FIELD_TYPE_BITMASK, .size = sizeof(uint8_t),
		.field_index = n, .input_index = 0,
		.offset = offsetof(struct cfe_spd_tuple, proto) };
	n++;
	for (i = 0; i < 2 * w; i++, n++)
		d[n] = (struct rte_acl_field_def){
			.type = RTE_ACL_FIELD_TYPE_MASK,
			.size = sizeof(uint32_t),
			.field_index = n, .input_index = n,
			.offset = (i < w ? src : dst) +
				  (i % w) * sizeof(uint32_t) };
	d[n] = (struct rte_acl_field_def){
		.type = RTE_ACL_FIELD_TYPE_RANGE, .size = sizeof(uint16_t),
		.field_index = n, .input_index = n,
		.offset = offsetof(struct cfe_spd_tuple, sport_be) };
	d[n + 1] = d[n];
	d[n + 1].field_index = n + 1;
	d[n + 1].offset = offsetof(struct cfe_spd_tuple, dport_be);
	return n + 2;
}

static int
rule_valid(const struct cfe_spd_rule *r)
{
	unsigned bits;

	if (r->src.addr.family != 4 && r->src.addr.family != 6)
		return 0;
	if (r->dst.addr.family != r->src.addr.family)
		return 0;
	bits = r->src.addr.family == 4 ? 32 : 128;
	return r->src.len <= bits && r->dst.len <= bits &&
		r->proto >= -1 && r->proto <= 255 &&
		r->sport_lo <= r->sport_hi && r->dport_lo <= r->dport_hi &&
		r->action <= CFE_SPD_DISCARD;
}

/* The w words of prefix p as MASK fields: value in host order with the
 * host bits cleared, mask_range = how many of the word's bits count. */
static void
prefix_fields(const struct sg_prefix *p, unsigned w, struct rte_acl_field *f)
{
	unsigned i;

	for (i = 0; i < w; i++) {
		uint32_t v, bits;
		int left = (int)p->len - 32 * (int)i;

		bits = left <= 0 ? 0 : left >= 32 ? 32 : (uint32_t)left;
		memcpy(&v, &p->addr.a[4 * i], sizeof(v));
		v = rte_be_to_cpu_32(v);
		f[i].value.u32 = v & RTE_ACL_MASKLEN_TO_BITMASK(bits,
								sizeof(v));
		f[i].mask_range.u32 = bits;
	}
}

struct rank {
	uint32_t prio, pos;
};

/* Priority descending, then position ascending: the SPD's order. */
static int
rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * rte_acl breaks ties between priorities in no defined order and limits
 * their range, so the SPD order is encoded in the ACL priority itself: the
 * k-th rule of that order (k from 0) gets priority cnt - k, all distinct.
 * Returns 0, or -ENOMEM.
 */
static int
acl_rules(const struct spd_dir *d, unsigned fi, uint8_t family,
	  struct acl_rule **out, uint32_t *cnt)
{
	struct rank *rk;
	struct acl_rule *ar;
	unsigned w = fam_words(fi);
	uint32_t i, k, n = 0;

	for (i = 0; i < d->n; i++)
		n += d->rules[i].src.addr.family == family;
	*cnt = n;
	*out = NULL;
	if (n == 0)
		return 0;
	rk = malloc(sizeof(*rk) * n);
	ar = calloc(n, sizeof(*ar));
	if (rk == NULL || ar == NULL) {
		free(rk);
		free(ar);
		return -ENOMEM;
	}
	for (i = 0, k = 0; i < d->n; i++)
		if (d->rules[i].src.addr.family == family)
			rk[k++] = (struct rank){ d->rules[i].priority, i };
	qsort(rk, n, sizeof(*rk), rank_cmp);
	for (k = 0; k < n; k++) {
		const struct cfe_spd_rule *r = &d->rules[rk[k].pos];
		struct rte_acl_field *f = ar[k].field;

		ar[k].data.category_mask = 1;
		ar[k].data.priority = (int32_t)(n - k);
		ar[k].data.userdata = rk[k].pos + 1;
		if (r->proto >= 0) {
			f[0].value.u8 = (uint8_t)r->proto;
			f[0].mask_range.u8 = 0xff;
		}
		prefix_fields(&r->src, w, &f[1]);
		prefix_fields(&r->dst, w, &f[1 + w]);
		f[1 + 2 * w].value.u16 = r->sport_lo;
		f[1 + 2 * w].mask_range.u16 = r->sport_hi;
		f[2 + 2 * w].value.u16 = r->dport_lo;
		f[2 + 2 * w].mask_range.u16 = r->dport_hi;
	}
	free(rk);
	*out = ar;
	return 0;
}

/* "<prefix>-<i|o><4|6>-<seq>", the prefix cut to fit RTE_ACL_NAMESIZE, with
 * a sequence number no existing context uses. */
static int
acl_name(char name[RTE_ACL_NAMESIZE], const char *prefix, unsigned dir,
	 unsigned fi)
{
	char sfx[16];
	unsigned tries;

	for (tries = 0; tries < 1024; tries++) {
		uint32_t seq = __atomic_fetch_add(&name_seq, 1,
						  __ATOMIC_RELAXED);
		int n = snprintf(sfx, sizeof(sfx), "-%c%c-%x",
				 dir == CFE_SPD_OUT ? 'o' : 'i',
				 fi ? '6' : '4', seq);
		size_t p = strnlen(prefix, RTE_ACL_NAMESIZE - 1 - (size_t)n);

		memcpy(name, prefix, p);
		memcpy(name + p, sfx, (size_t)n + 1);
		if (rte_acl_find_existing(name) == NULL)
			return 0;
	}
	return -EEXIST;
}

/* The ACL context of one direction and family; *ctx stays NULL when the
 * direction has no rule of the family. Returns 0 or -errno. */
static int
acl_make(const struct spd_dir *d, const char *prefix, unsigned dir,
	 unsigned fi, int socket, struct rte_acl_ctx **ctx)
{
	char name[RTE_ACL_NAMESIZE];
	struct rte_acl_param prm;
	struct rte_acl_config cfg;
	struct acl_rule *ar;
	uint32_t n;
	int rc;

	*ctx = NULL;
	rc = acl_rules(d, fi, fi ? 6 : 4, &ar, &n);
	if (rc != 0 || n == 0)
		return rc;
	rc = acl_name(name, prefix, dir, fi);
	if (rc != 0)
		goto out;
	memset(&prm, 0, sizeof(prm));
	prm.name = name;
	prm.socket_id = socket;
	prm.rule_size = sizeof(struct acl_rule);
	prm.max_rule_num = n;
	*ctx = rte_acl_create(&prm);
	if (*ctx == NULL) {
		rc = -(rte_errno != 0 ? rte_errno : ENOMEM);
		goto out;
	}
	rc = rte_acl_add_rules(*ctx, (const struct rte_acl_rule *)ar, n);
	if (rc == 0) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.num_categories = 1;
		cfg.num_fields = field_defs(fi, cfg.defs);
		cfg.max_size = ACL_MAX_SIZE;
		rc = rte_acl_build(*ctx, &cfg);
		if (rc == -ERANGE) {
			cfg.max_size = 0;
			rc = rte_acl_build(*ctx, &cfg);
		}
	}
	if (rc != 0) {
		rte_acl_free(*ctx);
		*ctx = NULL;
	}
out:
	free(ar);
	return rc;
}

/* Copy one direction's rules (cls cleared); 0 or -errno. */
static int
dir_init(struct spd_dir *d, const struct cfe_spd_rule *r, unsigned n,
	 int socket)
{
	unsigned i;

	if (n == 0)
		return 0;
	if (r == NULL || n > RTE_ACL_MAX_PRIORITY)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!rule_valid(&r[i]))
			return -EINVAL;
	d->rules = rte_malloc_socket("cfe_spd_rules", sizeof(*r) * n,
				     RTE_CACHE_LINE_SIZE, socket);
	if (d->rules == NULL)
		return -ENOMEM;
	memcpy(d->rules, r, sizeof(*r) * n);
	d->addr_only[0] = d->addr_only[1] = 1;
	for (i = 0; i < n; i++) {
		const struct cfe_spd_rule *x = &d->rules[i];

		d->rules[i].cls = 0;
		if (x->proto >= 0 || x->sport_lo != 0 ||
		    x->sport_hi != UINT16_MAX || x->dport_lo != 0 ||
		    x->dport_hi != UINT16_MAX)
			d->addr_only[x->src.addr.family == 6] = 0;
	}
	d->n = n;
	return 0;
}

struct cfe_spd *
cfe_spd_create(const char *name, const struct cfe_spd_rule *in, unsigned n_in,
	       const struct cfe_spd_rule *out, unsigned n_out, int socket)
{
	struct cfe_spd *s;
	unsigned d, fi;
	int rc;

	if (name == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	s = rte_zmalloc_socket("cfe_spd", sizeof(*s), RTE_CACHE_LINE_SIZE,
			       socket);
	if (s == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	s->gen = __atomic_add_fetch(&gen_seq, 1, __ATOMIC_RELAXED);
	rc = dir_init(&s->dir[CFE_SPD_IN], in, n_in, socket);
	if (rc == 0)
		rc = dir_init(&s->dir[CFE_SPD_OUT], out, n_out, socket);
	for (d = 0; d < 2 && rc == 0; d++)
		for (fi = 0; fi < 2 && rc == 0; fi++) {
			rc = acl_make(&s->dir[d], name, d, fi, socket,
				      &s->dir[d].acl[fi]);
			/* no rule of the family: every verdict is NULL at no
			 * cost, nothing to remember */
			if (s->dir[d].acl[fi] == NULL)
				s->dir[d].addr_only[fi] = 0;
		}
	if (rc != 0) {
		cfe_spd_destroy(s);
		rte_errno = -rc;
		return NULL;
	}
	return s;
}

void
cfe_spd_destroy(struct cfe_spd *s)
{
	unsigned d;

	if (s == NULL)
		return;
	for (d = 0; d < 2; d++) {
		rte_acl_free(s->dir[d].acl[0]);
		rte_acl_free(s->dir[d].acl[1]);
		rte_free(s->dir[d].rules);
	}
	rte_free(s);
}

void
cfe_spd_lookup_bulk(const struct cfe_spd *s, enum cfe_spd_dir dir,
		    uint8_t family, const struct cfe_spd_tuple *const t[],
		    unsigned n, const struct cfe_spd_rule *rule[])
{
	const struct spd_dir *d = &s->dir[dir];
	const struct rte_acl_ctx *acl;
	const uint8_t *data[CFE_SPD_BULK_MAX];
	uint32_t res[CFE_SPD_BULK_MAX];
	unsigned i, k, m;

	acl = family == 4 ? d->acl[0] : family == 6 ? d->acl[1] : NULL;
	if (acl == NULL) {
		for (i = 0; i < n; i++)
			rule[i] = NULL;
		return;
	}
	for (k = 0; k < n; k += m) {
		m = RTE_MIN(n - k, (unsigned)CFE_SPD_BULK_MAX);
		for (i = 0; i < m; i++)
			data[i] = (const uint8_t *)t[k + i];
		rte_acl_classify(acl, data, res, m, 1);
		for (i = 0; i < m; i++)
			rule[k + i] = res[i] != 0 ? &d->rules[res[i] - 1] :
				NULL;
	}
}

struct cfe_spd_memo *
cfe_spd_memo_create(int socket)
{
	struct cfe_spd_memo *m;

	m = rte_zmalloc_socket("cfe_spd_memo", sizeof(*m), RTE_CACHE_LINE_SIZE,
			       socket);
	if (m == NULL)
		rte_errno = ENOMEM;
	return m;
}

void
cfe_spd_memo_free(struct cfe_spd_memo *m)
{
	rte_free(m);
}

void
cfe_spd_memo_stats(const struct cfe_spd_memo *m, uint64_t *hits,
		   uint64_t *misses, uint64_t *skipped)
{
	*hits = __atomic_load_n(&m->hits, __ATOMIC_RELAXED);
	*misses = __atomic_load_n(&m->misses, __ATOMIC_RELAXED);
	*skipped = __atomic_load_n(&m->skipped, __ATOMIC_RELAXED);
}

/* The slot of an address pair and whether it holds the pair's verdict
 * (tag: of the SPD and direction asked); the pair's words in w. */
static inline void *
memo_slot(struct cfe_spd_memo *m, const struct cfe_spd_tuple *x,
	  uint8_t family, uint32_t dir, uint64_t tag, uint64_t w[4], bool *hit)
{
	if (family == 4) {
		struct memo_slot4 *sl;
		uint32_t a, b;

		memcpy(&a, x->src.a, sizeof(a));
		memcpy(&b, x->dst.a, sizeof(b));
		w[0] = (uint64_t)a << 32 | b;
		sl = &m->s4[rte_hash_crc_8byte(w[0], dir) & (MEMO_SLOTS4 - 1)];
		*hit = sl->pair == w[0] && sl->tag == tag;
		return sl;
	} else {
		struct memo_slot6 *sl;
		uint32_t h;

		memcpy(&w[0], x->src.a, 16);
		memcpy(&w[2], x->dst.a, 16);
		h = rte_hash_crc_8byte(w[0], dir);
		h = rte_hash_crc_8byte(w[1], h);
		h = rte_hash_crc_8byte(w[2], h);
		h = rte_hash_crc_8byte(w[3], h);
		sl = &m->s6[h & (MEMO_SLOTS6 - 1)];
		*hit = ((sl->w[0] ^ w[0]) | (sl->w[1] ^ w[1]) |
			(sl->w[2] ^ w[2]) | (sl->w[3] ^ w[3])) == 0 &&
			sl->tag == tag;
		return sl;
	}
}

static inline void
memo_fill(void *slot, uint8_t family, const uint64_t w[4], uint64_t tag,
	  const struct cfe_spd_rule *r)
{
	if (family == 4) {
		struct memo_slot4 *sl = slot;

		sl->pair = w[0];
		sl->tag = tag;
		sl->rule = r;
	} else {
		struct memo_slot6 *sl = slot;

		memcpy(sl->w, w, sizeof(sl->w));
		sl->tag = tag;
		sl->rule = r;
	}
}

/*
 * Pass one looks every pair up in the memo; the misses go to rte_acl in one
 * call per CFE_SPD_BULK_MAX (through cfe_spd_lookup_bulk()) and fill their
 * slots. Two misses of one burst on the same slot: the later one stays.
 */
void
cfe_spd_lookup_memo(const struct cfe_spd *s, struct cfe_spd_memo *m,
		    enum cfe_spd_dir dir, uint8_t family,
		    const struct cfe_spd_tuple *const t[], unsigned n,
		    const struct cfe_spd_rule *rule[])
{
	const struct cfe_spd_tuple *mt[CFE_SPD_BULK_MAX];
	const struct cfe_spd_rule *mr[CFE_SPD_BULK_MAX];
	uint64_t w[CFE_SPD_BULK_MAX][4], tag;
	void *ms[CFE_SPD_BULK_MAX];
	struct memo_fam *mf;
	unsigned at[CFE_SPD_BULK_MAX], i, k, c, nm;

	if (m == NULL || (family != 4 && family != 6) ||
	    !s->dir[dir].addr_only[family == 6]) {
		cfe_spd_lookup_bulk(s, dir, family, t, n, rule);
		return;
	}
	mf = &m->fam[family == 6];
	if (mf->off != 0) {
		/* one writer (the memo's lcore); telemetry reads them */
		__atomic_store_n(&m->skipped, m->skipped + n, __ATOMIC_RELAXED);
		mf->off = mf->off > n ? mf->off - n : 0;
		cfe_spd_lookup_bulk(s, dir, family, t, n, rule);
		return;
	}
	tag = s->gen * 2 + (unsigned)dir;
	mf->seen += n;
	for (k = 0; k < n; k += c) {
		c = RTE_MIN(n - k, (unsigned)CFE_SPD_BULK_MAX);
		nm = 0;
		for (i = 0; i < c; i++) {
			bool hit;
			void *sl = memo_slot(m, t[k + i], family, dir, tag,
					     w[nm], &hit);

			if (hit) {
				rule[k + i] = family == 4 ?
					((struct memo_slot4 *)sl)->rule :
					((struct memo_slot6 *)sl)->rule;
				continue;
			}
			ms[nm] = sl;
			mt[nm] = t[k + i];
			at[nm++] = k + i;
		}
		__atomic_store_n(&m->hits, m->hits + c - nm, __ATOMIC_RELAXED);
		mf->hit += c - nm;
		if (nm == 0)
			continue;
		__atomic_store_n(&m->misses, m->misses + nm, __ATOMIC_RELAXED);
		cfe_spd_lookup_bulk(s, dir, family, mt, nm, mr);
		for (i = 0; i < nm; i++) {
			memo_fill(ms[i], family, w[i], tag, mr[i]);
			rule[at[i]] = mr[i];
		}
	}
	if (mf->seen >= MEMO_WINDOW) {
		if (mf->hit * 3 < mf->seen)
			mf->off = MEMO_OFF;
		mf->seen = 0;
		mf->hit = 0;
	}
}

const struct cfe_spd_rule *
cfe_spd_lookup(const struct cfe_spd *s, enum cfe_spd_dir dir,
	       const struct cfe_spd_tuple *t)
{
	struct cfe_spd_tuple c = *t;
	const struct cfe_spd_tuple *tp = &c;
	const struct cfe_spd_rule *r;

	if (t->src.family != t->dst.family)
		return NULL;
	cfe_spd_tuple_pack(&c);
	cfe_spd_lookup_bulk(s, dir, t->src.family, &tp, 1, &r);
	return r;
}

void
cfe_spd_bind(struct cfe_spd *s, enum cfe_spd_dir dir, uint32_t rule_pos,
	     uint64_t cls)
{
	if ((unsigned)dir > CFE_SPD_OUT || rule_pos >= s->dir[dir].n)
		return;
	__atomic_store_n(&s->dir[dir].rules[rule_pos].cls, cls,
			 __ATOMIC_RELEASE);
}

unsigned
cfe_spd_count(const struct cfe_spd *s, enum cfe_spd_dir dir)
{
	return (unsigned)dir > CFE_SPD_OUT ? 0 : s->dir[dir].n;
}

const struct cfe_spd_rule *
cfe_spd_rule_at(const struct cfe_spd *s, enum cfe_spd_dir dir, uint32_t pos)
{
	if ((unsigned)dir > CFE_SPD_OUT || pos >= s->dir[dir].n)
		return NULL;
	return &s->dir[dir].rules[pos];
}
