/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The deployment file, the policy database and their cross-checks
 * (lib/ce/ce_deploy.c, ce_policydb.c, ce_validate.c, lib/common/sg_addr.c).
 *
 * One table of cases, invalid arguments first. A case is a deployment file
 * and a policy database written to a fresh temporary folder (gw.conf and
 * policy.yaml), loaded as spigate --check would: deployment, then the
 * policy database it names, then ce_config_validate() when both loaded
 * cleanly. The expected errors sit on the lines they are about:
 *
 *     "    dir: inn  #! is not in or out\n"
 *
 * expects exactly one message "PATH:LINE: ..." containing "is not in or out"
 * for that line of that file (several #! on a line: several messages).
 * Errors without a line ("PATH: message") are listed in .dep0 / .pol0 in
 * the same "#! text" form. A case passes when the messages are exactly the
 * expected ones; a case expecting none may also check the parsed values.
 * "@DIR@" in a text is replaced by the temporary folder.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ce_config.h"
#include "sg_addr.h"

#define DIM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_EXPECT 32

/* ---- key material: N bytes as hex digits ---- */
#define HEX4  "a0a1a2a3"
#define HEX16 "000102030405060708090a0b0c0d0e0f"
#define K16 HEX16
#define K20 HEX16 HEX4
#define K32 HEX16 HEX16
#define K36 K32 HEX4
#define K48 K32 HEX16
#define K64 K32 K32

/* ---- deployment file pieces, one line each ---- */
#define D_WAN "{ name = \"wan0\"; device = \"net_pcap0\"; role = \"unprotected\"; " \
	      "address = \"172.16.2.5/24\"; }"
#define D_LAN "{ name = \"lan0\"; device = \"net_pcap1\"; role = \"protected\"; " \
	      "address = \"192.168.105.1/24\"; }"
#define D_PORTS  "ports = ( " D_WAN ", " D_LAN " );\n"
#define D_LCORES "lcores = { cfe = [ 1 ]; dfe = [ 1 ]; ce = 0; };\n"
#define D_CRYPTO "crypto = { devices = [ \"crypto_aesni_mb0\" ]; };\n"
#define D_POLICY "policy = \"policy.yaml\";\n"
#define D_REST   D_LCORES D_CRYPTO D_POLICY
#define DEP_OK   D_PORTS D_REST
/* ports = ( LAN, { fields } ); on one line, without its newline */
#define PORT(f) "ports = ( " D_LAN ", { " f " } );"

/* ---- policy database pieces ---- */
#define SA_HEAD "sas:\n  - spi: 0x1001\n    dir: in\n    mode: tunnel\n" \
		"    local: 172.16.2.5\n    remote: 172.16.1.5\n"
#define SA_GCM  "    aead: aes-128-gcm\n    key: 0x" K20 "\n"
#define SA_CBC  "    cipher: aes-128-cbc\n    cipher_key: 0x" K16 "\n" \
		"    auth: hmac-sha256-128\n    auth_key: 0x" K32 "\n"
#define SA_OK   SA_HEAD SA_GCM
/* one flow-style GCM SA line */
#define SA1(spi, dir, local) "  - { spi: " spi ", dir: " dir ", mode: tunnel, " \
	"aead: aes-128-gcm, key: 0x" K20 ", local: " local ", remote: 172.16.1.5 }"
#define POL1(f) "  - { dir: out, src: 10.0.0.0/8, dst: 10.1.0.0/16, " f " }"

struct tctx {
	const struct tcase *tc;
	char dir[64];
	char cwd[PATH_MAX];
	char dep_path[PATH_MAX];  /* as given to ce_deploy_load() */
	char pol_path[PATH_MAX];  /* as given to ce_policydb_load() */
	struct ce_diag diag;
	struct ce_deploy dep;
	struct ce_policydb db;
	int rc_dep, rc_pol, rc_val;
};

struct tcase {
	const char *name;
	void (*run)(struct tctx *t);   /* own test body; NULL: generic runner */
	const char *dep;               /* deployment file; NULL: DEP_OK */
	const char *pol;               /* policy database; NULL: empty */
	const char *pol_name;          /* where pol goes; NULL: policy.yaml */
	const char *dep0, *pol0;       /* expected errors without a line */
	bool in_dir;                   /* chdir to the folder, load "gw.conf" */
	void (*check)(struct tctx *t); /* when no error is expected */
};

/* ================= helpers ================= */

static void subst_dir(const struct tctx *t, const char *in, char *out,
		      size_t cap)
{
	const char *at;
	size_t n = 0;

	while ((at = strstr(in, "@DIR@")) != NULL) {
		n += (size_t)snprintf(out + n, cap - n, "%.*s%s",
				      (int)(at - in), in, t->dir);
		in = at + 5;
		assert_true(n < cap);
	}
	snprintf(out + n, cap - n, "%s", in);
}

static void write_file(const struct tctx *t, const char *name, const char *text)
{
	static char buf[65536];
	char path[PATH_MAX], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	slash = strrchr(path, '/');
	if (slash > path + strlen(t->dir)) {
		*slash = '\0';
		assert_int_equal(mkdir(path, 0700), 0);
		*slash = '/';
	}
	subst_dir(t, text, buf, sizeof(buf));
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(buf, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

struct expect {
	const char *path;
	int line;
	char text[160];
	bool hit;
};

/* Each "#! text" of one line (no newline), up to the next "#!". */
static unsigned parse_marks(const char *s, const char *path, int line,
			    struct expect *e, unsigned n)
{
	const char *m = strstr(s, "#!");

	while (m != NULL) {
		const char *next = strstr(m + 2, "#!");
		size_t len;

		m += 2;
		while (*m == ' ')
			m++;
		len = next != NULL ? (size_t)(next - m) : strlen(m);
		while (len > 0 && m[len - 1] == ' ')
			len--;
		assert_true(n < MAX_EXPECT && len < sizeof(e[n].text));
		e[n].path = path;
		e[n].line = line;
		memcpy(e[n].text, m, len);
		e[n].text[len] = '\0';
		e[n].hit = false;
		n++;
		m = next;
	}
	return n;
}

static unsigned expect_file(const char *text, const char *path,
			    struct expect *e, unsigned n)
{
	int line = 1;

	while (text != NULL && *text != '\0') {
		const char *eol = strchr(text, '\n');
		char one[4096];
		size_t len = eol != NULL ? (size_t)(eol - text) : strlen(text);

		assert_true(len < sizeof(one));
		memcpy(one, text, len);
		one[len] = '\0';
		n = parse_marks(one, path, line, e, n);
		line++;
		text = eol != NULL ? eol + 1 : text + len;
	}
	return n;
}

/*
 * The messages in t->diag are exactly the expected ones: same count, and
 * each expectation matched by its own message starting "PATH:LINE: " (or
 * "PATH: " for line 0) and containing the expected text.
 */
static void assert_messages(struct tctx *t, struct expect *e, unsigned n)
{
	char *buf = t->diag.buf != NULL ? strdup(t->diag.buf) : strdup("");
	char *msg[64], *save = NULL, *l;
	bool used[64] = { false };
	unsigned n_msg = 0, i, j;
	bool ok = true;

	assert_non_null(buf);
	for (l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		assert_true(n_msg < DIM(msg));
		msg[n_msg++] = l;
	}
	if (n_msg != t->diag.errors || n_msg != n)
		ok = false;
	for (i = 0; i < n; i++) {
		char head[PATH_MAX + 16];

		if (e[i].line > 0)
			snprintf(head, sizeof(head), "%s:%d: ", e[i].path, e[i].line);
		else
			snprintf(head, sizeof(head), "%s: ", e[i].path);
		for (j = 0; j < n_msg; j++) {
			if (used[j] || strncmp(msg[j], head, strlen(head)) != 0 ||
			    strstr(msg[j] + strlen(head), e[i].text) == NULL)
				continue;
			used[j] = e[i].hit = true;
			break;
		}
		ok &= e[i].hit;
	}
	if (!ok) {
		print_error("expected %u message(s):\n", n);
		for (i = 0; i < n; i++)
			print_error("  %s %s:%d: ...%s...\n", e[i].hit ? "  " : "NO",
				    e[i].path, e[i].line, e[i].text);
		print_error("got %u (errors = %u):\n%s", n_msg, t->diag.errors,
			    t->diag.buf != NULL ? t->diag.buf : "");
	}
	free(buf);
	assert_true(ok);
}

/* Loads t's two files as spigate --check does. */
static void load_all(struct tctx *t)
{
	t->rc_dep = ce_deploy_load(t->dep_path, &t->dep, &t->diag);
	if (t->dep.policy_path[0] != '\0')
		snprintf(t->pol_path, sizeof(t->pol_path), "%s",
			 t->dep.policy_path);
	t->rc_pol = ce_policydb_load(t->pol_path, &t->db, &t->diag);
	t->rc_val = -1;
	if (t->rc_dep == 0 && t->rc_pol == 0)
		t->rc_val = ce_config_validate(&t->dep, &t->db, &t->diag);
}

static void run_generic(struct tctx *t)
{
	const struct tcase *tc = t->tc;
	struct expect e[MAX_EXPECT];
	const char *dep = tc->dep != NULL ? tc->dep : DEP_OK;
	const char *pol = tc->pol != NULL ? tc->pol : "";
	const char *pname = tc->pol_name != NULL ? tc->pol_name : "policy.yaml";
	unsigned n;

	write_file(t, "gw.conf", dep);
	write_file(t, pname, pol);
	if (tc->in_dir) {
		assert_int_equal(chdir(t->dir), 0);
		snprintf(t->dep_path, sizeof(t->dep_path), "gw.conf");
		snprintf(t->pol_path, sizeof(t->pol_path), "%s", pname);
	} else {
		snprintf(t->dep_path, sizeof(t->dep_path), "%s/gw.conf", t->dir);
		snprintf(t->pol_path, sizeof(t->pol_path), "%s/%s", t->dir, pname);
	}
	load_all(t);

	n = expect_file(dep, t->dep_path, e, 0);
	n = expect_file(pol, t->pol_path, e, n);
	if (tc->dep0 != NULL)
		n = parse_marks(tc->dep0, t->dep_path, 0, e, n);
	if (tc->pol0 != NULL)
		n = parse_marks(tc->pol0, t->pol_path, 0, e, n);
	assert_messages(t, e, n);
	if (n == 0) {
		assert_int_equal(t->rc_dep, 0);
		assert_int_equal(t->rc_pol, 0);
		assert_int_equal(t->rc_val, 0);
		if (tc->check != NULL)
			tc->check(t);
	} else {
		assert_true(t->rc_dep == -EINVAL || t->rc_pol == -EINVAL ||
			    t->rc_val == -EINVAL);
	}
}

static void run_case(void **state)
{
	struct tctx *t = *state;

	if (t->tc->run != NULL)
		t->tc->run(t);
	else
		run_generic(t);
}

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	t->tc = *state;
	snprintf(t->dir, sizeof(t->dir), "/tmp/sg_test_config.XXXXXX");
	if (mkdtemp(t->dir) == NULL || getcwd(t->cwd, sizeof(t->cwd)) == NULL) {
		free(t);
		return -1;
	}
	ce_diag_init(&t->diag);
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct tctx *t = *state;
	int rc;

	ce_deploy_free(&t->dep);
	ce_policydb_free(&t->db);
	ce_diag_fini(&t->diag);
	rc = chdir(t->cwd);
	rc |= nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(t);
	return rc;
}

static void assert_addr(const struct sg_addr *a, const char *want)
{
	char buf[64];

	assert_string_equal(sg_addr_fmt(a, buf, sizeof(buf)), want);
}

static void assert_prefix(const struct sg_prefix *p, const char *want)
{
	char buf[80];

	assert_string_equal(sg_prefix_fmt(p, buf, sizeof(buf)), want);
}

static void assert_hex(const uint8_t *key, unsigned len, unsigned want_len,
		       unsigned first)
{
	unsigned i;

	assert_int_equal(len, want_len);
	for (i = 0; i < len; i++)
		assert_int_equal(key[i], (first + i) & 0xff);
}

/* ================= custom cases ================= */

static void t_args_deploy(struct tctx *t)
{
	struct ce_deploy d;

	assert_int_equal(ce_deploy_load(NULL, &d, &t->diag), -EINVAL);
	assert_int_equal(ce_deploy_load("x.conf", NULL, &t->diag), -EINVAL);
	memset(&d, 0, sizeof(d));
	assert_int_equal(ce_deploy_load("x.conf", &d, NULL), -EINVAL);
	assert_int_equal(t->diag.errors, 0);
	ce_deploy_free(NULL);
}

static void t_args_policydb(struct tctx *t)
{
	struct ce_policydb db;

	assert_int_equal(ce_policydb_load(NULL, &db, &t->diag), -EINVAL);
	assert_int_equal(ce_policydb_load("x.yaml", NULL, &t->diag), -EINVAL);
	memset(&db, 0, sizeof(db));
	assert_int_equal(ce_policydb_load("x.yaml", &db, NULL), -EINVAL);
	assert_int_equal(t->diag.errors, 0);
	ce_policydb_free(NULL);
}

static void t_args_validate(struct tctx *t)
{
	struct ce_deploy d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(ce_config_validate(NULL, NULL, &t->diag), -EINVAL);
	assert_int_equal(ce_config_validate(&d, NULL, NULL), -EINVAL);
	assert_int_equal(t->diag.errors, 0);
}

static void t_diag(struct tctx *t)
{
	unsigned i;

	ce_diag_add(NULL, "x", 1, "nothing");
	ce_diag_init(NULL);
	ce_diag_fini(NULL);
	ce_diag_add(&t->diag, "a.conf", 3, "bad %s", "thing");
	ce_diag_add(&t->diag, "a.conf", 0, "no line");
	assert_int_equal(t->diag.errors, 2);
	assert_string_equal(t->diag.buf, "a.conf:3: bad thing\na.conf: no line\n");
	/* grows past its first allocation */
	for (i = 0; i < 200; i++)
		ce_diag_add(&t->diag, "b.yaml", (int)i + 1, "%0100d", 0);
	assert_int_equal(t->diag.errors, 202);
	assert_int_equal(strlen(t->diag.buf), t->diag.len);
	assert_non_null(strstr(t->diag.buf, "b.yaml:200: 000"));
	ce_diag_fini(&t->diag);
	assert_null(t->diag.buf);
	assert_int_equal(t->diag.errors, 0);
}

static void t_sg_addr(struct tctx *t)
{
	static const char *const bad_addr[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4x", " 1.2.3.4",
		"1.2.3.4/8", "2001:db8:::1", "fe80::1%eth0", "::g", "abc",
	};
	static const char *const bad_prefix[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x",
		"10.0.0.0/-1", "10.0.0.0/0008", "10.0.0.1/8", "::1/129",
		"2001:db8::1/32", "10.0.0.0 /8",
	};
	struct sg_prefix p;
	struct sg_addr a;
	uint8_t mac[6];
	char buf[64];
	unsigned i;

	(void)t;
	assert_int_equal(sg_addr_parse(NULL, &a), -EINVAL);
	assert_int_equal(sg_addr_parse("1.2.3.4", NULL), -EINVAL);
	assert_int_equal(sg_prefix_parse(NULL, &p), -EINVAL);
	assert_int_equal(sg_ifaddr_parse("1.2.3.4", NULL), -EINVAL);
	assert_int_equal(sg_mac_parse(NULL, mac), -EINVAL);
	assert_false(sg_prefix_contains(NULL, &a));
	for (i = 0; i < DIM(bad_addr); i++)
		assert_int_equal(sg_addr_parse(bad_addr[i], &a), -EINVAL);
	for (i = 0; i < DIM(bad_prefix); i++)
		assert_int_equal(sg_prefix_parse(bad_prefix[i], &p), -EINVAL);

	assert_int_equal(sg_addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(a.family, 4);
	assert_memory_equal(a.a, ((uint8_t[16]){ 192, 0, 2, 1 }), 16);
	assert_int_equal(sg_addr_parse("2001:DB8::1", &a), 0);
	assert_int_equal(a.family, 6);
	assert_string_equal(sg_addr_fmt(&a, buf, sizeof(buf)), "2001:db8::1");
	memset(&a, 0, sizeof(a));
	assert_string_equal(sg_addr_fmt(&a, buf, sizeof(buf)), "unset");

	assert_int_equal(sg_prefix_parse("10.0.0.0/8", &p), 0);
	assert_prefix(&p, "10.0.0.0/8");
	assert_int_equal(sg_prefix_parse("10.0.0.1", &p), 0);
	assert_prefix(&p, "10.0.0.1/32");
	assert_int_equal(sg_prefix_parse("0.0.0.0/0", &p), 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(sg_prefix_parse("2001:db8::/32", &p), 0);
	assert_prefix(&p, "2001:db8::/32");
	assert_int_equal(sg_prefix_parse("2001:db8::1", &p), 0);
	assert_int_equal(p.len, 128);
	assert_int_equal(sg_prefix_parse("10.128.0.0/9", &p), 0);

	/* interface addresses keep their host bits */
	assert_int_equal(sg_ifaddr_parse("172.16.2.5/24", &p), 0);
	assert_prefix(&p, "172.16.2.5/24");
	assert_int_equal(sg_ifaddr_parse("2001:db8::5/64", &p), 0);
	assert_prefix(&p, "2001:db8::5/64");
	assert_int_equal(sg_ifaddr_parse("172.16.2.5/33", &p), -EINVAL);
	assert_int_equal(sg_ifaddr_parse("172.16.2.5", &p), 0);
	assert_int_equal(p.len, 32);

	/* contains: ignores p's host bits, compares partial bytes */
	assert_int_equal(sg_ifaddr_parse("172.16.2.5/23", &p), 0);
	assert_int_equal(sg_addr_parse("172.16.3.200", &a), 0);
	assert_true(sg_prefix_contains(&p, &a));
	assert_int_equal(sg_addr_parse("172.16.4.1", &a), 0);
	assert_false(sg_prefix_contains(&p, &a));
	assert_int_equal(sg_addr_parse("::1", &a), 0);
	assert_false(sg_prefix_contains(&p, &a));
	assert_int_equal(sg_prefix_parse("0.0.0.0/0", &p), 0);
	assert_int_equal(sg_addr_parse("8.8.8.8", &a), 0);
	assert_true(sg_prefix_contains(&p, &a));
	assert_int_equal(sg_prefix_parse("2001:db8::/33", &p), 0);
	assert_int_equal(sg_addr_parse("2001:db8:7fff::1", &a), 0);
	assert_true(sg_prefix_contains(&p, &a));
	assert_int_equal(sg_addr_parse("2001:db8:8000::1", &a), 0);
	assert_false(sg_prefix_contains(&p, &a));

	assert_int_equal(sg_mac_parse("02:00:0a:FF:00:01", mac), 0);
	assert_memory_equal(mac, ((uint8_t[6]){ 2, 0, 0x0a, 0xff, 0, 1 }), 6);
	assert_int_equal(sg_mac_parse("02:00:0a:ff:00", mac), -EINVAL);
	assert_int_equal(sg_mac_parse("02-00-0a-ff-00-01", mac), -EINVAL);
	assert_int_equal(sg_mac_parse("02:00:0a:ff:00:0g", mac), -EINVAL);
	assert_int_equal(sg_mac_parse("02:00:0a:ff:00:011", mac), -EINVAL);
}

/*
 * The data path's masked compare (sg_prefix_match) against the reference
 * (sg_prefix_contains): both families, every prefix length, addresses that
 * differ from the prefix in one bit at every position, host bits set in the
 * prefix, families crossed, lengths past the family's.
 */
static void t_prefix_match(struct tctx *t)
{
	struct sg_prefix p;
	struct sg_addr a;
	unsigned fam, len, bit, trial, bits;
	uint64_t r = 0x9e3779b97f4a7c15ULL;

	(void)t;
	for (trial = 0; trial < 64; trial++) {
		for (fam = 4; fam <= 6; fam += 2) {
			bits = fam == 4 ? 32 : 128;
			for (len = 0; len <= bits + 1; len++) {
				memset(&p, 0, sizeof(p));
				p.addr.family = (uint8_t)fam;
				p.len = (uint8_t)len;
				for (bit = 0; bit < bits / 8; bit++) {
					r ^= r << 13; r ^= r >> 7; r ^= r << 17;
					p.addr.a[bit] = (uint8_t)r;
				}
				for (bit = 0; bit <= bits; bit++) {
					a = p.addr;
					if (bit < bits)
						a.a[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
					assert_int_equal(sg_prefix_match(&p, &a),
							 sg_prefix_contains(&p, &a));
					a.family = (uint8_t)(10 - fam);
					assert_false(sg_prefix_match(&p, &a));
				}
			}
		}
	}
	/* a differing bit inside the prefix: no; in the host part: yes */
	assert_int_equal(sg_prefix_parse("10.128.0.0/9", &p), 0);
	assert_int_equal(sg_addr_parse("10.255.1.2", &a), 0);
	assert_true(sg_prefix_match(&p, &a));
	assert_int_equal(sg_addr_parse("10.127.1.2", &a), 0);
	assert_false(sg_prefix_match(&p, &a));
	assert_int_equal(sg_prefix_parse("2001:db8::/65", &p), 0);
	assert_int_equal(sg_addr_parse("2001:db8::7fff:0:0:1", &a), 0);
	assert_true(sg_prefix_match(&p, &a));
	assert_int_equal(sg_addr_parse("2001:db8::8000:0:0:1", &a), 0);
	assert_false(sg_prefix_match(&p, &a));
}

static void t_missing_files(struct tctx *t)
{
	char path[PATH_MAX], want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/nope.conf", t->dir);
	assert_int_equal(ce_deploy_load(path, &t->dep, &t->diag), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot open: %s\n", path,
		 strerror(ENOENT));
	assert_string_equal(t->diag.buf, want);
	ce_diag_fini(&t->diag);

	snprintf(path, sizeof(path), "%s/nope.yaml", t->dir);
	assert_int_equal(ce_policydb_load(path, &t->db, &t->diag), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot open: %s\n", path,
		 strerror(ENOENT));
	assert_string_equal(t->diag.buf, want);
	ce_diag_fini(&t->diag);

	/* a folder is not a file */
	assert_int_equal(ce_deploy_load(t->dir, &t->dep, &t->diag), -EINVAL);
	assert_int_equal(ce_policydb_load(t->dir, &t->db, &t->diag), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot open: %s\n%s: cannot open: %s\n",
		 t->dir, strerror(EISDIR), t->dir, strerror(EISDIR));
	assert_string_equal(t->diag.buf, want);
}

/* Every key of tests/unit/data/gateway.conf and policy.yaml. */
static void t_data_example(struct tctx *t)
{
	const struct ce_deploy *d = &t->dep;
	const struct ce_policydb *db = &t->db;
	const struct ce_sa_cfg *sa;
	const struct ce_policy_cfg *p;
	static const char *const eal[] = {
		"-l", "0-3", "--no-huge", "-m", "1024", "--no-pci", "--vdev",
		"net_pcap0,rx_pcap=in.pcap", "--vdev", "net_pcap1,tx_pcap=out.pcap",
	};
	unsigned i;

	snprintf(t->dep_path, sizeof(t->dep_path), "%s", SG_TEST_DATA "/gateway.conf");
	load_all(t);
	if (t->diag.errors != 0)
		print_error("%s", t->diag.buf);
	assert_int_equal(t->diag.errors, 0);
	assert_int_equal(t->rc_val, 0);
	assert_string_equal(d->path, SG_TEST_DATA "/gateway.conf");
	assert_string_equal(d->policy_path, SG_TEST_DATA "/policy.yaml");
	assert_string_equal(db->path, SG_TEST_DATA "/policy.yaml");

	assert_int_equal(d->eal_argc, DIM(eal));
	for (i = 0; i < DIM(eal); i++)
		assert_string_equal(d->eal_argv[i], eal[i]);
	assert_null(d->eal_argv[DIM(eal)]);

	assert_int_equal(d->n_ports, 3);
	assert_int_equal(d->ports_line, 6);
	assert_string_equal(d->ports[0].name, "wan0");
	assert_string_equal(d->ports[0].device, "net_pcap0");
	assert_int_equal(d->ports[0].role, CE_PORT_UNPROTECTED);
	assert_int_equal(d->ports[0].n_addrs, 2);
	assert_prefix(&d->ports[0].addrs[0], "172.16.2.5/24");
	assert_prefix(&d->ports[0].addrs[1], "2001:db8:2::5/64");
	assert_true(d->ports[0].has_mac);
	assert_memory_equal(d->ports[0].mac, ((uint8_t[6]){ 2, 0, 0, 0, 0, 1 }), 6);
	assert_int_equal(d->ports[0].mtu, 1500);
	assert_int_equal(d->ports[0].line, 7);
	assert_string_equal(d->ports[1].name, "lan0");
	assert_int_equal(d->ports[1].role, CE_PORT_PROTECTED);
	assert_int_equal(d->ports[1].n_addrs, 1);
	assert_prefix(&d->ports[1].addrs[0], "192.168.105.1/24");
	assert_false(d->ports[1].has_mac);
	assert_int_equal(d->ports[1].mtu, 0);
	assert_int_equal(d->ports[1].line, 10);
	assert_string_equal(d->ports[2].device, "0000:03:00.0");
	assert_prefix(&d->ports[2].addrs[0], "fd00:105::1/64");
	assert_int_equal(d->ports[2].mtu, 9000);
	assert_int_equal(d->ports[2].mac[5], 3);

	assert_int_equal(d->n_cfe, 2);
	assert_int_equal(d->cfe_lcores[0], 1);
	assert_int_equal(d->cfe_lcores[1], 2);
	assert_int_equal(d->n_dfe, 2);
	assert_int_equal(d->dfe_lcores[0], 2);
	assert_int_equal(d->dfe_lcores[1], 3);
	assert_int_equal(d->ce_lcore, 0);
	assert_int_equal(d->sa_placement, CE_PLACE_RX);
	assert_int_equal(d->lcores_line, 15);
	assert_int_equal(d->crypto_mode, CE_CRYPTO_LOOKASIDE);
	assert_int_equal(d->n_cryptodevs, 2);
	assert_string_equal(d->cryptodevs[0], "crypto_aesni_mb0");
	assert_string_equal(d->cryptodevs[1], "crypto_aesni_gcm0");
	assert_int_equal(d->crypto_line, 16);
	assert_false(d->telemetry);
	assert_string_equal(d->control_path, "/run/spigate/control.sock");
	assert_int_equal(d->punt_rate, 20000);
	assert_int_equal(d->punt_burst, 64);
	assert_int_equal(d->hold_packets, 128);
	assert_int_equal(d->hold_timeout_ms, 500);
	assert_int_equal(d->ring_size, 1024);
	assert_int_equal(d->mbufs, 32768);

	assert_int_equal(db->n_sas, 7);
	sa = &db->sas[0];
	assert_int_equal(sa->line, 5);
	assert_int_equal(sa->spi, 0x1001);
	assert_int_equal(sa->dir, CE_DIR_IN);
	assert_int_equal(sa->mode, CE_MODE_TUNNEL);
	assert_int_equal(sa->aead, CE_AEAD_AES128GCM);
	assert_hex(sa->key, sa->key_len, 20, 0x01);
	assert_addr(&sa->local, "172.16.2.5");
	assert_addr(&sa->remote, "172.16.1.5");
	assert_true(sa->encap);
	assert_int_equal(sa->encap_sport, 4500);
	assert_int_equal(sa->encap_dport, 4501);
	assert_int_equal(sa->replay_window, 128);
	assert_true(sa->esn);
	assert_int_equal(sa->soft.seconds, 3000);
	assert_int_equal(sa->soft.bytes, 1000000);
	assert_int_equal(sa->soft.packets, 1000);
	assert_int_equal(sa->hard.seconds, 3600);
	assert_int_equal(sa->hard.bytes, 2000000);
	assert_int_equal(sa->hard.packets, 2000);
	assert_int_equal(sa->install, CE_INSTALL_EAGER);
	sa = &db->sas[1];
	assert_int_equal(sa->line, 18);
	assert_int_equal(sa->spi, 4098);
	assert_int_equal(sa->dir, CE_DIR_OUT);
	assert_int_equal(sa->aead, CE_AEAD_AES256GCM);
	assert_hex(sa->key, sa->key_len, 36, 0x21);
	assert_false(sa->encap);
	assert_int_equal(sa->replay_window, 64);
	assert_false(sa->esn);
	assert_int_equal(sa->hard.seconds, 0);
	assert_int_equal(sa->install, CE_INSTALL_LAZY);
	sa = &db->sas[2];
	assert_int_equal(sa->aead, CE_AEAD_NONE);
	assert_int_equal(sa->cipher, CE_CIPHER_AES128CBC);
	assert_hex(sa->cipher_key, sa->cipher_key_len, 16, 0x41);
	assert_int_equal(sa->auth, CE_AUTH_SHA256_128);
	assert_hex(sa->auth_key, sa->auth_key_len, 32, 0x51);
	assert_addr(&sa->local, "2001:db8:2::5");
	assert_addr(&sa->remote, "2001:db8:1::5");
	assert_int_equal(sa->replay_window, 0);
	sa = &db->sas[3];
	assert_int_equal(sa->mode, CE_MODE_TRANSPORT);
	assert_int_equal(sa->cipher, CE_CIPHER_AES128CTR);
	assert_hex(sa->cipher_key, sa->cipher_key_len, 20, 0x61);
	assert_int_equal(sa->auth, CE_AUTH_SHA1_96);
	assert_hex(sa->auth_key, sa->auth_key_len, 20, 0x71);
	assert_int_equal(sa->local.family, 0);
	sa = &db->sas[4];
	assert_int_equal(sa->cipher, CE_CIPHER_AES256CBC);
	assert_hex(sa->cipher_key, sa->cipher_key_len, 32, 0x81);
	assert_int_equal(sa->auth, CE_AUTH_SHA384_192);
	assert_hex(sa->auth_key, sa->auth_key_len, 48, 0x91);
	assert_addr(&sa->remote, "172.16.1.7");
	sa = &db->sas[5];
	assert_int_equal(sa->spi, 0xffffffff);
	assert_int_equal(sa->cipher, CE_CIPHER_NULL);
	assert_int_equal(sa->cipher_key_len, 0);
	assert_int_equal(sa->auth, CE_AUTH_SHA512_256);
	assert_hex(sa->auth_key, sa->auth_key_len, 64, 0xa1);
	sa = &db->sas[6];
	assert_int_equal(sa->spi, 256);
	assert_int_equal(sa->auth, CE_AUTH_NULL);
	assert_int_equal(sa->auth_key_len, 0);

	assert_int_equal(db->n_policies, 6);
	p = &db->policies[0];
	assert_int_equal(p->line, 62);
	assert_int_equal(p->dir, CE_DIR_IN);
	assert_prefix(&p->src, "192.168.1.0/24");
	assert_prefix(&p->dst, "192.168.105.0/24");
	assert_int_equal(p->proto, CE_ANY);
	assert_int_equal(p->sport_lo, 0);
	assert_int_equal(p->sport_hi, 65535);
	assert_int_equal(p->dport_lo, 0);
	assert_int_equal(p->dport_hi, 65535);
	assert_int_equal(p->action, CE_ACT_PROTECT);
	assert_true(p->has_sa);
	assert_int_equal(p->sa_spi, 0x1001);
	assert_int_equal(p->priority, 100);
	p = &db->policies[1];
	assert_int_equal(p->line, 71);
	assert_int_equal(p->dir, CE_DIR_OUT);
	assert_int_equal(p->proto, 6);
	assert_int_equal(p->sport_lo, 1024);
	assert_int_equal(p->sport_hi, 65535);
	assert_int_equal(p->dport_lo, 443);
	assert_int_equal(p->dport_hi, 443);
	assert_int_equal(p->sa_spi, 4098);
	assert_int_equal(p->priority, 90);
	p = &db->policies[2];
	assert_prefix(&p->src, "192.168.105.7/32");
	assert_int_equal(p->proto, 17);
	assert_int_equal(p->dport_lo, 53);
	assert_int_equal(p->action, CE_ACT_BYPASS);
	assert_false(p->has_sa);
	assert_int_equal(p->priority, 0);
	p = &db->policies[3];
	assert_prefix(&p->src, "2001:db8:1::/48");
	assert_prefix(&p->dst, "fd00:105::/64");
	assert_int_equal(p->proto, 58);
	assert_int_equal(p->priority, 4294967295u);
	p = &db->policies[4];
	assert_int_equal(p->proto, 1);
	assert_int_equal(p->action, CE_ACT_DISCARD);
	assert_prefix(&p->dst, "0.0.0.0/0");
	assert_int_equal(db->policies[5].proto, 47);

	assert_int_equal(db->n_routes, 3);
	assert_int_equal(db->routes[0].line, 80);
	assert_prefix(&db->routes[0].dst, "192.168.1.0/24");
	assert_string_equal(db->routes[0].port, "lan0");
	assert_true(db->routes[0].has_via);
	assert_addr(&db->routes[0].via, "192.168.105.2");
	assert_false(db->routes[1].has_via);
	assert_string_equal(db->routes[1].port, "wan0");
	assert_prefix(&db->routes[2].dst, "2001:db8:1::/48");
	assert_addr(&db->routes[2].via, "2001:db8:2::1");
	assert_int_equal(db->routes[2].line, 82);

	assert_int_equal(db->n_neighbors, 2);
	assert_int_equal(db->neighbors[0].line, 86);
	assert_addr(&db->neighbors[0].ip, "192.168.105.2");
	assert_memory_equal(db->neighbors[0].mac,
			    ((uint8_t[6]){ 2, 0, 0, 0, 1, 2 }), 6);
	assert_string_equal(db->neighbors[0].port, "lan0");
	assert_addr(&db->neighbors[1].ip, "2001:db8:2::1");
	assert_string_equal(db->neighbors[1].port, "wan0");
	assert_int_equal(db->neighbors[1].line, 87);
}

/* The same deployment, loaded twice into one struct after a free: nothing
 * of the first load survives (no stale eal strings, ports or defaults). */
static void t_reload(struct tctx *t)
{
	write_file(t, "gw.conf", "eal = [ \"-l\", \"1\" ];\nmbufs = 2048;\n" DEP_OK);
	write_file(t, "b.conf", DEP_OK);
	write_file(t, "policy.yaml", "");
	snprintf(t->dep_path, sizeof(t->dep_path), "%s/gw.conf", t->dir);
	assert_int_equal(ce_deploy_load(t->dep_path, &t->dep, &t->diag), 0);
	assert_int_equal(t->dep.eal_argc, 2);
	assert_int_equal(t->dep.mbufs, 2048);
	ce_deploy_free(&t->dep);
	assert_null(t->dep.eal_argv);
	snprintf(t->dep_path, sizeof(t->dep_path), "%s/b.conf", t->dir);
	assert_int_equal(ce_deploy_load(t->dep_path, &t->dep, &t->diag), 0);
	assert_int_equal(t->dep.eal_argc, 0);
	assert_int_equal(t->dep.mbufs, 16384);
	assert_int_equal(t->dep.n_ports, 2);
	/* validate without a policy database: deployment checks only */
	assert_int_equal(ce_config_validate(&t->dep, NULL, &t->diag), 0);
	assert_int_equal(t->diag.errors, 0);
}

/*
 * The policy database's own YAML composer (ce_policydb.c load_doc(), which
 * replaces yaml_parser_load() and its 22-million-node limit): anchors and
 * aliases resolve to the same node, an undefined alias is a YAML error at
 * its line, a second document is refused, an empty text is an empty
 * database, and a large file (20,000 SAs and policies, ~700,000 nodes,
 * past several doublings of every array) loads item by item.
 */
static void t_yaml_composer(struct tctx *t)
{
	static const char *anchors =
		"sas:\n"
		"  - &sa { spi: 0x1000, dir: in, mode: tunnel, aead: aes-128-gcm,\n"
		"          key: &k 0x0102030405060708090a0b0c0d0e0f1011121314,\n"
		"          local: 192.0.2.1, remote: 192.0.2.2 }\n"
		"  - { spi: 0x1001, dir: in, mode: tunnel, aead: aes-128-gcm,\n"
		"      key: *k, local: 192.0.2.1, remote: 192.0.2.3 }\n"
		"policies:\n"
		"  - { dir: in, src: &net 10.0.0.0/8, dst: 10.1.0.0/16,\n"
		"      action: protect, sa: 0x1000 }\n"
		"  - { dir: out, src: 10.1.0.0/16, dst: *net, action: bypass }\n";
	struct ce_policydb db;
	char *big, *p;
	size_t cap = 20000 * 400 + 64;
	unsigned i;

	assert_int_equal(ce_policydb_parse("a.yaml", anchors, strlen(anchors),
					   &db, &t->diag), 0);
	assert_int_equal(db.n_sas, 2);
	assert_memory_equal(db.sas[0].key, db.sas[1].key, 20);
	assert_int_equal(db.sas[1].key[19], 0x14);
	assert_prefix(&db.policies[0].src, "10.0.0.0/8");
	assert_prefix(&db.policies[1].dst, "10.0.0.0/8");
	ce_policydb_free(&db);

	assert_int_equal(ce_policydb_parse("b.yaml", "sas: [ *nope ]\n", 15,
					   &db, &t->diag), -EINVAL);
	assert_string_equal(t->diag.buf, "b.yaml:1: found undefined alias\n");
	ce_policydb_free(&db);
	ce_diag_fini(&t->diag);
	ce_diag_init(&t->diag);

	assert_int_equal(ce_policydb_parse("c.yaml", "sas: []\n---\nsas: []\n",
					   20, &db, &t->diag), -EINVAL);
	assert_string_equal(t->diag.buf,
			    "c.yaml:3: only one YAML document allowed\n");
	ce_policydb_free(&db);
	ce_diag_fini(&t->diag);
	ce_diag_init(&t->diag);

	assert_int_equal(ce_policydb_parse("d.yaml", "", 0, &db, &t->diag), 0);
	assert_int_equal(db.n_sas + db.n_policies, 0);
	ce_policydb_free(&db);

	big = malloc(cap);
	assert_non_null(big);
	p = big + sprintf(big, "sas:\n");
	for (i = 0; i < 20000; i++)
		p += sprintf(p, "  - { spi: %u, dir: in, mode: tunnel, aead: "
			     "aes-128-gcm, key: 0x%040x, local: 192.0.2.1, "
			     "remote: 192.0.2.2 }\n", 0x1000 + i, i);
	p += sprintf(p, "policies:\n");
	for (i = 0; i < 20000; i++)
		p += sprintf(p, "  - { dir: in, src: 10.%u.%u.0/24, dst: "
			     "10.200.0.0/16, action: protect, sa: %u }\n",
			     i / 256, i % 256, 0x1000 + i);
	assert_true((size_t)(p - big) < cap);
	assert_int_equal(ce_policydb_parse("e.yaml", big, (size_t)(p - big),
					   &db, &t->diag), 0);
	assert_int_equal(db.n_sas, 20000);
	assert_int_equal(db.n_policies, 20000);
	assert_int_equal(db.sas[19999].spi, 0x1000 + 19999);
	assert_int_equal(db.sas[19999].key[19], 19999 & 0xff);
	assert_int_equal(db.sas[19999].line, 20001);
	assert_int_equal(db.policies[19999].line, 40002);
	assert_prefix(&db.policies[19999].src, "10.78.31.0/24");
	ce_policydb_free(&db);
	free(big);
}

/* ================= checks of valid cases ================= */

static void c_defaults(struct tctx *t)
{
	const struct ce_deploy *d = &t->dep;
	char want[PATH_MAX];

	assert_int_equal(d->eal_argc, 0);
	assert_int_equal(d->n_ports, 2);
	assert_int_equal(d->ports_line, 1);
	assert_int_equal(d->ports[0].line, 1);
	assert_prefix(&d->ports[0].addrs[0], "172.16.2.5/24");
	assert_false(d->ports[0].has_mac);
	assert_int_equal(d->ports[0].mtu, 0);
	assert_int_equal(d->n_cfe, 1);
	assert_int_equal(d->n_dfe, 1);
	assert_int_equal(d->cfe_lcores[0], 1);
	assert_int_equal(d->dfe_lcores[0], 1);
	assert_int_equal(d->ce_lcore, 0);
	assert_int_equal(d->sa_placement, CE_PLACE_BALANCED);
	assert_int_equal(d->lcores_line, 2);
	assert_int_equal(d->crypto_mode, CE_CRYPTO_CPU);
	assert_int_equal(d->n_cryptodevs, 1);
	assert_int_equal(d->crypto_line, 3);
	assert_true(d->telemetry);
	assert_string_equal(d->control_path, "");
	assert_int_equal(d->punt_rate, 10000);
	assert_int_equal(d->punt_burst, 512);
	assert_int_equal(d->hold_packets, 256);
	assert_int_equal(d->hold_timeout_ms, 2000);
	assert_int_equal(d->ring_size, 4096);
	assert_int_equal(d->mbufs, 16384);
	/* relative to the deployment file's folder */
	snprintf(want, sizeof(want), "%s/policy.yaml", t->dir);
	assert_string_equal(d->policy_path, want);
	/* an empty policy database is a valid, empty one */
	assert_int_equal(t->db.n_sas + t->db.n_policies + t->db.n_routes +
			 t->db.n_neighbors, 0);
	assert_null(t->db.sas);
}

static void c_contract(struct tctx *t)
{
	const struct ce_deploy *d = &t->dep;

	assert_int_equal(d->eal_argc, 10);
	assert_string_equal(d->eal_argv[9], "net_pcap1,tx_pcap=out.pcap");
	assert_prefix(&d->ports[0].addrs[0], "172.16.2.5/24");
	assert_string_equal(d->control_path, "/run/spigate/control.sock");
	assert_int_equal(t->db.n_sas, 1);
	assert_int_equal(t->db.sas[0].line, 2);
	assert_int_equal(t->db.sas[0].soft.seconds, 3000);
	assert_int_equal(t->db.sas[0].hard.seconds, 3600);
	assert_int_equal(t->db.n_policies, 1);
	assert_int_equal(t->db.n_routes, 1);
	assert_int_equal(t->db.routes[0].line, 26);
	assert_int_equal(t->db.n_neighbors, 1);
}

static void c_policy_subdir(struct tctx *t)
{
	char want[PATH_MAX];

	snprintf(want, sizeof(want), "%s/sub/p.yaml", t->dir);
	assert_string_equal(t->dep.policy_path, want);
	assert_int_equal(t->db.n_routes, 1);
}

static void c_policy_abs(struct tctx *t)
{
	char want[PATH_MAX];

	snprintf(want, sizeof(want), "%s/abs.yaml", t->dir);
	assert_string_equal(t->dep.policy_path, want);
}

static void c_policy_cwd(struct tctx *t)
{
	assert_string_equal(t->dep.path, "gw.conf");
	assert_string_equal(t->dep.policy_path, "policy.yaml");
	assert_string_equal(t->db.path, "policy.yaml");
}

static void c_ports_v6(struct tctx *t)
{
	const struct ce_port_cfg *p = &t->dep.ports[1];

	assert_int_equal(t->dep.ports[1].line, 2);
	assert_int_equal(p->n_addrs, 3);
	assert_prefix(&p->addrs[0], "10.1.2.3/8");
	assert_prefix(&p->addrs[1], "2001:db8::5/64");
	assert_prefix(&p->addrs[2], "10.9.9.9/32");
	assert_true(p->has_mac);
	assert_memory_equal(p->mac, ((uint8_t[6]){ 2, 0xab, 0, 0, 0, 0xff }), 6);
	assert_int_equal(p->mtu, 68);
}

static void c_lcores_shared(struct tctx *t)
{
	assert_int_equal(t->dep.n_cfe, 2);
	assert_int_equal(t->dep.n_dfe, 2);
	assert_int_equal(t->dep.ce_lcore, 1);
	assert_int_equal(t->dep.sa_placement, CE_PLACE_BALANCED);
}

static void c_ext_edges(struct tctx *t)
{
	assert_int_equal(t->dep.punt_rate, 1);
	assert_int_equal(t->dep.punt_burst, 1);
	assert_int_equal(t->dep.hold_packets, 1);
	assert_int_equal(t->dep.hold_timeout_ms, 3600000);
	assert_int_equal(t->dep.ring_size, 64);
	assert_int_equal(t->dep.mbufs, 1 << 28);
	assert_int_equal(t->dep.eal_argc, 0);
	assert_non_null(t->dep.eal_argv);
}

static void c_sa_block_defaults(struct tctx *t)
{
	const struct ce_sa_cfg *sa = &t->db.sas[0];

	assert_int_equal(t->db.n_sas, 1);
	assert_int_equal(sa->line, 2);
	assert_int_equal(sa->spi, 0x1001);
	assert_int_equal(sa->aead, CE_AEAD_AES128GCM);
	assert_int_equal(sa->key_len, 20);
	assert_int_equal(sa->key[0], 0x00);
	assert_int_equal(sa->key[16], 0xa0);
	assert_int_equal(sa->replay_window, 64);
	assert_false(sa->esn);
	assert_false(sa->encap);
	assert_int_equal(sa->install, CE_INSTALL_LAZY);
	assert_int_equal(sa->soft.seconds + sa->soft.bytes + sa->soft.packets +
			 sa->hard.seconds + sa->hard.bytes + sa->hard.packets, 0);
}

static void c_spi_forms(struct tctx *t)
{
	assert_int_equal(t->db.n_sas, 4);
	assert_int_equal(t->db.sas[0].spi, 256);
	assert_int_equal(t->db.sas[1].spi, 0xffffffff);
	assert_int_equal(t->db.sas[2].spi, 0x1001);
	assert_int_equal(t->db.sas[3].spi, 0x1001);
	assert_int_equal(t->db.sas[3].dir, CE_DIR_OUT);
	assert_int_equal(t->db.sas[3].line, 5);
}

static void c_null_cipher(struct tctx *t)
{
	assert_int_equal(t->db.sas[0].cipher, CE_CIPHER_NULL);
	assert_int_equal(t->db.sas[0].cipher_key_len, 0);
	assert_int_equal(t->db.sas[0].auth, CE_AUTH_SHA1_96);
	assert_int_equal(t->db.sas[1].auth, CE_AUTH_NULL);
	assert_int_equal(t->db.sas[1].cipher, CE_CIPHER_AES128CTR);
}

static void c_transport(struct tctx *t)
{
	assert_int_equal(t->db.sas[0].mode, CE_MODE_TRANSPORT);
	assert_int_equal(t->db.sas[0].local.family, 0);
	assert_int_equal(t->db.sas[0].esn, true);
	assert_int_equal(t->db.sas[0].replay_window, CE_REPLAY_MAX);
}

static void c_policy_forms(struct tctx *t)
{
	const struct ce_policy_cfg *p = t->db.policies;

	assert_int_equal(t->db.n_policies, 4);
	assert_prefix(&p[0].src, "2001:db8::1/128");
	assert_prefix(&p[0].dst, "::/0");
	assert_int_equal(p[0].proto, 6);
	assert_int_equal(p[0].sport_lo, 0);
	assert_int_equal(p[0].sport_hi, 0);
	assert_int_equal(p[0].dport_lo, 65535);
	assert_int_equal(p[1].proto, 0);
	assert_int_equal(p[1].sport_lo, 0);
	assert_int_equal(p[1].sport_hi, 65535);
	assert_int_equal(p[2].proto, 255);
	assert_int_equal(p[3].proto, CE_ANY);
	assert_int_equal(p[3].dport_lo, 10);
	assert_int_equal(p[3].dport_hi, 20);
	assert_int_equal(p[3].line, 5);
}

static void c_empty_sections(struct tctx *t)
{
	assert_int_equal(t->db.n_sas + t->db.n_policies + t->db.n_routes +
			 t->db.n_neighbors, 0);
}

/* ================= the table ================= */

static const struct tcase cases[] = {
	/* ---- invalid arguments, missing files, helpers ---- */
	{ "args: ce_deploy_load", .run = t_args_deploy },
	{ "args: ce_policydb_load", .run = t_args_policydb },
	{ "args: ce_config_validate", .run = t_args_validate },
	{ "ce_diag: format and growth", .run = t_diag },
	{ "sg_addr: parse, format, contains, mac", .run = t_sg_addr },
	{ "sg_prefix_match: as sg_prefix_contains, every length", .run = t_prefix_match },
	{ "files: missing, folder", .run = t_missing_files },

	/* ---- valid files ---- */
	{ "valid: data/gateway.conf + policy.yaml, every key", .run = t_data_example },
	{ "valid: reload after free, validate without db", .run = t_reload },
	{ "yaml composer: anchors, aliases, documents, size", .run = t_yaml_composer },
	{ "valid: minimal files, defaults", .check = c_defaults },
	{ "valid: CONTRACT.md example",
	  .dep =
	  "eal      = [ \"-l\", \"0-1\", \"--no-huge\", \"-m\", \"1024\", \"--no-pci\",\n"
	  "             \"--vdev\", \"net_pcap0,rx_pcap=in.pcap\",\n"
	  "             \"--vdev\", \"net_pcap1,tx_pcap=out.pcap\" ];\n"
	  "ports    = ( { name = \"wan0\"; device = \"net_pcap0\"; role = \"unprotected\";\n"
	  "               address = \"172.16.2.5/24\"; },\n"
	  "             { name = \"lan0\"; device = \"net_pcap1\"; role = \"protected\";\n"
	  "               address = \"192.168.105.1/24\"; } );\n"
	  "lcores   = { cfe = [ 1 ]; dfe = [ 1 ]; ce = 0; };   # roles may share an lcore\n"
	  "crypto   = { mode = \"cpu\"; devices = [ \"crypto_aesni_mb0\" ]; };\n"
	  "                                      # mode: \"cpu\" | \"lookaside\"\n"
	  "policy   = \"policy.yaml\";             # relative to this file\n"
	  "telemetry = true;                     # DPDK telemetry socket\n"
	  "control  = \"/run/spigate/control.sock\";\n",
	  .pol =
	  "sas:\n"
	  "  - spi: 0x1001\n"
	  "    dir: in                 # in | out\n"
	  "    mode: tunnel            # tunnel | transport\n"
	  "    aead: aes-128-gcm       # aes-128-gcm | aes-256-gcm\n"
	  "    key: 0x" K20 "\n"
	  "    local: 172.16.2.5       # tunnel endpoints, this gateway's side\n"
	  "    remote: 172.16.1.5      #   and the peer's (IPv4 or IPv6)\n"
	  "    encap: { sport: 4500, dport: 4500 }       # optional: ESP in UDP (RFC 3948)\n"
	  "    replay_window: 64       # packets; 0 disables anti-replay\n"
	  "    esn: false\n"
	  "    lifetime: { soft: { seconds: 3000 }, hard: { seconds: 3600, bytes: 0,\n"
	  "                packets: 0 } }                # 0 = unlimited\n"
	  "    install: lazy           # lazy: on its first packet (default) | eager\n"
	  "policies:\n"
	  "  - dir: in                 # in: what may arrive (after decryption for protect)\n"
	  "    src: 192.168.1.0/24     # out: what leaves the protected side\n"
	  "    dst: 192.168.105.0/24\n"
	  "    proto: any              # any | tcp | udp | icmp | icmp6 | <number>\n"
	  "    sport: any              # any | N | N-M\n"
	  "    dport: any\n"
	  "    action: protect         # protect | bypass | discard\n"
	  "    sa: 0x1001              # protect: the SA (out) / the SA it must come through (in)\n"
	  "    priority: 100           # the highest matching priority wins\n"
	  "routes:\n"
	  "  - { dst: 192.168.1.0/24, port: lan0, via: 192.168.105.2 }\n"
	  "neighbors:\n"
	  "  - { ip: 192.168.105.2, mac: \"02:00:00:00:01:02\", port: lan0 }\n",
	  .check = c_contract },

	/* ---- deployment: the policy path ---- */
	{ "policy path: relative with a folder", .pol_name = "sub/p.yaml",
	  .dep = D_PORTS D_LCORES D_CRYPTO "policy = \"sub/p.yaml\";\n",
	  .pol = "routes:\n  - { dst: 10.0.0.0/8, port: lan0 }\n",
	  .check = c_policy_subdir },
	{ "policy path: absolute", .pol_name = "abs.yaml",
	  .dep = D_PORTS D_LCORES D_CRYPTO "policy = \"@DIR@/abs.yaml\";\n",
	  .check = c_policy_abs },
	{ "policy path: deployment in the current folder", .in_dir = true,
	  .check = c_policy_cwd },
	{ "policy path: names a missing file",
	  .dep = D_PORTS D_LCORES D_CRYPTO "policy = \"nothere.yaml\";\n",
	  .pol0 = "#! cannot open" },
	{ "policy path: wrong type",
	  .dep = D_PORTS D_LCORES D_CRYPTO "policy = [ \"p.yaml\" ];  #! policy: must be a string\n" },
	{ "policy path: empty",
	  .dep = D_PORTS D_LCORES D_CRYPTO "policy = \"\";  #! policy: must not be empty\n" },

	/* ---- deployment: syntax and structure ---- */
	{ "deploy: syntax error",
	  .dep = D_PORTS "lcores = { cfe = [ 1 ]; = 2; };  #! syntax error\n" D_CRYPTO D_POLICY },
	{ "deploy: unterminated string (reported where libconfig stops)",
	  .dep = D_PORTS "policy = \"policy.yaml;\n" D_LCORES "\n#! syntax error" },
	{ "deploy: mixed types in an array",
	  .dep = "eal = [ \"-l\", 1 ];  #! mismatched element type\n" DEP_OK },
	{ "deploy: key given twice",
	  .dep = DEP_OK "policy = \"other.yaml\";  #! duplicate setting\n" },
	{ "deploy: empty file", .dep = "",
	  .dep0 = "#! missing 'ports' #! missing 'lcores' #! missing 'crypto' "
		  "#! missing 'policy'" },
	{ "deploy: unknown top-level key (typo)",
	  .dep = D_PORTS D_LCORES D_CRYPTO "polcy = \"policy.yaml\";  #! polcy: unknown key\n",
	  .dep0 = "#! missing 'policy'" },
	{ "deploy: several errors in one run",
	  .dep = "eal = 5;  #! eal: must be a list\n"
		 "telemetry = 1;  #! telemetry: must be true or false\n"
		 D_PORTS D_REST
		 "mbufs = 1.5;  #! mbufs: must be an integer\n"
		 "rings = [ 1 ];  #! rings: must be a group\n" },
	{ "deploy: eal element not a string",
	  .dep = "eal = ( \"-l\", 1 );  #! eal[1]: must be a string\n" DEP_OK },

	/* ---- deployment: ports ---- */
	{ "ports: not a list", .dep = "ports = { name = \"wan0\"; };  #! ports: must be a list\n" D_REST },
	{ "ports: item not a group",
	  .dep = "ports = ( " D_LAN ", \"wan0\" );  #! ports[1]: must be a group\n" D_REST },
	{ "ports: unknown key",
	  .dep = PORT("name = \"wan0\"; device = \"d\"; role = \"unprotected\"; "
		      "adress = \"1.2.3.4/24\";") "  #! ports[1].adress: unknown key "
		 "#! ports[1]: missing 'address'\n" D_REST },
	{ "ports: missing keys",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"wan0\"; } );  #! missing 'device' #! missing 'role' #! missing 'address'\n"
		 D_REST },
	{ "ports: name wrong type",
	  .dep = PORT("name = 1; device = \"d\"; role = \"unprotected\"; address = \"1.2.3.4/24\";")
		 "  #! ports[1].name: must be a string\n" D_REST },
	{ "ports: name empty",
	  .dep = PORT("name = \"\"; device = \"d\"; role = \"unprotected\"; address = \"1.2.3.4/24\";")
		 "  #! ports[1].name: must not be empty\n" D_REST },
	{ "ports: name too long",
	  .dep = PORT("name = \"abcdefghijabcdefghijabcdefghijab\"; device = \"d\"; "
		      "role = \"unprotected\"; address = \"1.2.3.4/24\";")
		 "  #! ports[1].name: longer than 31\n" D_REST },
	{ "ports: name with a space",
	  .dep = PORT("name = \"wan 0\"; device = \"d\"; role = \"unprotected\"; address = \"1.2.3.4/24\";")
		 "  #! ports[1].name: \"wan 0\": use letters\n" D_REST },
	{ "ports: device wrong type, too long",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"wan0\"; device = 0; role = \"unprotected\"; address = \"1.2.3.4/24\"; },  #! device: must be a string\n"
		 "  { name = \"wan1\"; device = \"" K64 "\"; role = \"unprotected\"; address = \"1.2.3.5/24\"; } );  #! device: longer than 127\n"
		 D_REST },
	{ "ports: role invalid",
	  .dep = PORT("name = \"wan0\"; device = \"d\"; role = \"wan\"; address = \"1.2.3.4/24\";")
		 "  #! ports[1].role: \"wan\" is not \"unprotected\" or \"protected\"\n" D_REST },
	{ "ports: address invalid, prefix too long, wrong type",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"wan0\"; device = \"d0\"; role = \"unprotected\"; address = \"1.2.3/24\"; },  #! address: \"1.2.3/24\" is not\n"
		 "  { name = \"wan1\"; device = \"d1\"; role = \"unprotected\"; address = \"1.2.3.4/33\"; },  #! address: \"1.2.3.4/33\" is not\n"
		 "  { name = \"wan2\"; device = \"d2\"; role = \"unprotected\"; address = 5; },  #! address: must be a string or a list\n"
		 "  { name = \"wan3\"; device = \"d3\"; role = \"unprotected\"; address = [ ]; },  #! address: must not be empty\n"
		 "  { name = \"wan4\"; device = \"d4\"; role = \"unprotected\";\n"
		 "    address = ( \"1.2.3.4/24\",\n"
		 "                7 ); } );  #! ports[5].address[1]: must be a string\n"
		 D_REST },
	{ "ports: too many addresses",
	  .dep = PORT("name = \"wan0\"; device = \"d\"; role = \"unprotected\"; address = [ "
		      "\"10.0.0.1/24\", \"10.0.1.1/24\", \"10.0.2.1/24\", \"10.0.3.1/24\", "
		      "\"10.0.4.1/24\", \"10.0.5.1/24\", \"10.0.6.1/24\", \"10.0.7.1/24\", "
		      "\"10.0.8.1/24\" ];") "  #! address[8]: more than 8 addresses\n" D_REST },
	{ "ports: address list, IPv6, host bits kept, mac, mtu",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"wan0\"; device = \"d\"; role = \"unprotected\"; mtu = 68;\n"
		 "    address = ( \"10.1.2.3/8\", \"2001:db8::5/64\", \"10.9.9.9\" ); mac = \"02:AB:00:00:00:ff\"; } );\n"
		 D_REST, .check = c_ports_v6 },
	{ "ports: mac invalid, multicast, zero, wrong type",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"wan0\"; device = \"d0\"; role = \"unprotected\"; address = \"1.2.3.4/24\"; mac = \"02:00:00:00:01\"; },  #! mac: \"02:00:00:00:01\" is not a MAC\n"
		 "  { name = \"wan1\"; device = \"d1\"; role = \"unprotected\"; address = \"1.2.3.5/24\"; mac = \"01:00:5e:00:00:01\"; },  #! mac: 01:00:5e:00:00:01 is not a unicast\n"
		 "  { name = \"wan2\"; device = \"d2\"; role = \"unprotected\"; address = \"1.2.3.6/24\"; mac = \"00:00:00:00:00:00\"; },  #! not a unicast\n"
		 "  { name = \"wan3\"; device = \"d3\"; role = \"unprotected\"; address = \"1.2.3.7/24\"; mac = 2; } );  #! mac: must be a string\n"
		 D_REST },
	{ "ports: mtu out of range, wrong type",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"wan0\"; device = \"d0\"; role = \"unprotected\"; address = \"1.2.3.4/24\"; mtu = 67; },  #! mtu: 67 out of range 68..65535\n"
		 "  { name = \"wan1\"; device = \"d1\"; role = \"unprotected\"; address = \"1.2.3.5/24\"; mtu = 65536; },  #! mtu: 65536 out of range\n"
		 "  { name = \"wan2\"; device = \"d2\"; role = \"unprotected\"; address = \"1.2.3.6/24\"; mtu = \"1500\"; } );  #! mtu: must be an integer\n"
		 D_REST },
	{ "ports: duplicate name, device, address",
	  .dep = "ports = ( " D_LAN ",\n"
		 "  { name = \"lan0\"; device = \"net_pcap1\"; role = \"unprotected\";  "
		 "#! ports[1].name: port name \"lan0\" already used at line 1 "
		 "#! ports[1].device: device \"net_pcap1\" already used at line 1\n"
		 "    address = [ \"172.16.2.5/24\",\n"
		 "                \"192.168.105.1/16\",  #! ports[1].address[1]: address 192.168.105.1 already used at line 1\n"
		 "                \"172.16.2.5/16\" ]; } );  #! ports[1].address[2]: address 172.16.2.5 already used at line 2\n"
		 D_REST },
	{ "ports: too many",
	  .dep = "ports = (  #! ports: more than 16 ports\n"
		 D_LAN ", " D_WAN ",\n"
		 "{ name = \"p2\"; device = \"d2\"; role = \"protected\"; address = \"10.0.2.1/24\"; },\n"
		 "{ name = \"p3\"; device = \"d3\"; role = \"protected\"; address = \"10.0.3.1/24\"; },\n"
		 "{ name = \"p4\"; device = \"d4\"; role = \"protected\"; address = \"10.0.4.1/24\"; },\n"
		 "{ name = \"p5\"; device = \"d5\"; role = \"protected\"; address = \"10.0.5.1/24\"; },\n"
		 "{ name = \"p6\"; device = \"d6\"; role = \"protected\"; address = \"10.0.6.1/24\"; },\n"
		 "{ name = \"p7\"; device = \"d7\"; role = \"protected\"; address = \"10.0.7.1/24\"; },\n"
		 "{ name = \"p8\"; device = \"d8\"; role = \"protected\"; address = \"10.0.8.1/24\"; },\n"
		 "{ name = \"p9\"; device = \"d9\"; role = \"protected\"; address = \"10.0.9.1/24\"; },\n"
		 "{ name = \"p10\"; device = \"d10\"; role = \"protected\"; address = \"10.0.10.1/24\"; },\n"
		 "{ name = \"p11\"; device = \"d11\"; role = \"protected\"; address = \"10.0.11.1/24\"; },\n"
		 "{ name = \"p12\"; device = \"d12\"; role = \"protected\"; address = \"10.0.12.1/24\"; },\n"
		 "{ name = \"p13\"; device = \"d13\"; role = \"protected\"; address = \"10.0.13.1/24\"; },\n"
		 "{ name = \"p14\"; device = \"d14\"; role = \"protected\"; address = \"10.0.14.1/24\"; },\n"
		 "{ name = \"p15\"; device = \"d15\"; role = \"protected\"; address = \"10.0.15.1/24\"; },\n"
		 "{ name = \"p16\"; device = \"d16\"; role = \"protected\"; address = \"10.0.16.1/24\"; } );\n"
		 D_REST },

	/* ---- deployment: lcores ---- */
	{ "lcores: not a group",
	  .dep = D_PORTS D_CRYPTO D_POLICY "lcores = [ 1 ];  #! lcores: must be a group\n" },
	{ "lcores: unknown key, missing keys",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = [ 1 ]; cef = [ 2 ]; };  #! lcores.cef: unknown key "
		 "#! lcores: missing 'dfe' #! lcores: missing 'ce'\n" },
	{ "lcores: wrong types",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = 1;  #! lcores.cfe: must be a list\n"
		 "  dfe = [ \"1\" ];  #! lcores.dfe[0]: must be an integer\n"
		 "  ce = \"0\"; };  #! lcores.ce: must be an integer\n" },
	{ "lcores: out of range",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = [ 1, -1 ];  #! lcores.cfe[1]: -1 out of range 0..\n"
		 "  dfe = [ 100000 ];  #! lcores.dfe[0]: 100000 out of range\n"
		 "  ce = 100000; };  #! lcores.ce: 100000 out of range\n" },
	{ "lcores: sa_placement not one of the two, or not a string",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = [ 1 ]; dfe = [ 1 ]; ce = 0;\n"
		 "  sa_placement = \"local\"; };  #! lcores.sa_placement: \"local\" is not \"balanced\" or \"rx\"\n" },
	{ "lcores: sa_placement wrong type",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = [ 1 ]; dfe = [ 1 ]; ce = 0;\n"
		 "  sa_placement = 1; };  #! lcores.sa_placement: must be a string\n" },
	{ "lcores: shared between roles is fine",
	  .dep = D_PORTS D_CRYPTO D_POLICY "lcores = { cfe = [ 1, 2 ]; dfe = [ 2, 1 ]; ce = 1; };\n",
	  .check = c_lcores_shared },

	/* ---- deployment: crypto ---- */
	{ "crypto: not a group",
	  .dep = D_PORTS D_LCORES D_POLICY "crypto = \"cpu\";  #! crypto: must be a group\n" },
	{ "crypto: mode invalid, devices missing",
	  .dep = D_PORTS D_LCORES D_POLICY
		 "crypto = { mode = \"gpu\"; };  #! crypto.mode: \"gpu\" is not \"cpu\" or \"lookaside\" "
		 "#! crypto: missing 'devices'\n" },
	{ "crypto: devices wrong type, extensions set",
	  .dep = D_PORTS D_LCORES D_POLICY
		 "crypto = { devices = \"x\"; };  #! crypto.devices: must be a list\n"
		 "hold = { packets = 1; };\n"
		 "punt = { rate = 1; };\n"
		 "rings = { size = 64; };\n"
		 "mbufs = 1024;\n",
	},
	{ "crypto: device names",
	  .dep = D_PORTS D_LCORES D_POLICY
		 "crypto = { devices = [ \"a\",\n"
		 "  \"\",  #! crypto.devices[1]: must not be empty\n"
		 "  \"a\" ];  #! crypto.devices[2]: \"a\" listed twice\n"
		 "  speed = 1; };  #! crypto.speed: unknown key\n" },
	{ "crypto: too many devices",
	  .dep = D_PORTS D_LCORES D_POLICY
		 "crypto = { devices = [ \"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\" ]; };"
		 "  #! more than 8 devices\n" },

	/* ---- deployment: telemetry, control ---- */
	{ "telemetry: wrong type",
	  .dep = DEP_OK "telemetry = \"yes\";  #! telemetry: must be true or false\n" },
	{ "control: wrong type",
	  .dep = DEP_OK "control = 1;  #! control: must be a string\n" },
	{ "control: longer than a unix socket path",
	  .dep = DEP_OK "control = \"/run/" K64 "\";  #! control: longer than 107\n" },

	/* ---- deployment: extensions ---- */
	{ "extensions: out of range",
	  .dep = DEP_OK
		 "punt = { rate = 0;  #! punt.rate: 0 out of range 1..\n"
		 "  burst = 0; };  #! punt.burst: 0 out of range 1..\n"
		 "hold = { packets = 65537;  #! hold.packets: 65537 out of range 1..65536\n"
		 "  timeout_ms = 0; };  #! hold.timeout_ms: 0 out of range 1..3600000\n"
		 "rings = { size = 32; };  #! rings.size: 32 out of range 64..\n"
		 "mbufs = 1023;  #! mbufs: 1023 out of range 1024..\n" },
	{ "extensions: ring size not a power of two",
	  .dep = DEP_OK "rings = { size = 1000; };  #! rings.size: 1000 is not a power of two\n" },
	{ "extensions: unknown keys, wrong types",
	  .dep = DEP_OK
		 "punt = { rate = 1; bursts = 2; };  #! punt.bursts: unknown key\n"
		 "hold = { packets = true; };  #! hold.packets: must be an integer\n"
		 "rings = { count = 64; };  #! rings.count: unknown key\n"
		 "mbufs = \"many\";  #! mbufs: must be an integer\n" },
	{ "extensions: edges of the ranges, 64-bit literal, empty eal",
	  .dep = DEP_OK
		 "punt = { rate = 1; burst = 1; };\n"
		 "hold = { packets = 1; timeout_ms = 3600000; };\n"
		 "rings = { size = 64; };\n"
		 "mbufs = 268435456L;\n"
		 "eal = [ ];\n",
	  .check = c_ext_edges },

	/* ---- cross-checks of the deployment ---- */
	{ "validate: no cfe, no dfe lcore",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = [ ]; dfe = [ ]; ce = 0; };  #! lcores.cfe: at least one "
		 "#! lcores.dfe: at least one\n" },
	{ "validate: lcore twice in a list",
	  .dep = D_PORTS D_CRYPTO D_POLICY
		 "lcores = { cfe = [ 1, 2, 1 ]; dfe = [ 3, 3 ]; ce = 0; };  #! lcores.cfe: lcore 1 listed twice "
		 "#! lcores.dfe: lcore 3 listed twice\n" },
	{ "validate: no protected port",
	  .dep = "ports = ( " D_WAN " );  #! no port with role \"protected\"\n" D_REST },
	{ "validate: no unprotected port",
	  .dep = "ports = ( " D_LAN " );  #! no port with role \"unprotected\"\n" D_REST },
	{ "validate: no crypto device",
	  .dep = D_PORTS D_LCORES D_POLICY
		 "crypto = { devices = [ ]; };  #! crypto.devices: at least one device\n" },
	{ "validate: route and neighbour ports exist, next hops resolve",
	  .pol = "routes:\n"
		 "  - { dst: 10.0.0.0/8, port: lan0, via: 192.168.105.2 }\n"
		 "  - { dst: 10.1.0.0/16, port: lan9 }  #! routes[1].port: no port named \"lan9\"\n"
		 "  - { dst: 10.2.0.0/16, port: lan0, via: 192.168.105.3 }  #! routes[2].via: no neighbor 192.168.105.3 on port lan0\n"
		 "  - { dst: 10.3.0.0/16, port: wan0, via: 192.168.105.2 }  #! routes[3].via: no neighbor 192.168.105.2 on port wan0\n"
		 "  - { dst: 10.4.0.0/16, port: wan0 }\n"
		 "neighbors:\n"
		 "  - { ip: 192.168.105.2, mac: \"02:00:00:00:01:02\", port: lan0 }\n"
		 "  - { ip: 192.168.105.9, mac: \"02:00:00:00:01:09\", port: lan7 }  #! neighbors[1].port: no port named \"lan7\"\n" },
	{ "validate: one inner family per tunnel SA, at most 16 selectors",
	  .pol = SA_OK
		 "policies:\n"
		 "  - { dir: in, src: 192.168.1.0/24, dst: 192.168.105.0/24, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: \"2001:db8:1::/48\", dst: \"2001:db8:105::/48\", action: protect, sa: 0x1001 }  #! policies[1]: SA 0x1001 carries IPv4 traffic (policy at line 10); a tunnel SA carries one inner IP family\n"
		 "  - { dir: in, src: 10.0.1.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.2.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.3.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.4.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.5.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.6.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.7.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.8.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.9.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.10.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.11.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.12.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.13.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.14.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }\n"
		 "  - { dir: in, src: 10.0.15.0/24, dst: 10.9.0.0/16, action: protect, sa: 0x1001 }  #! policies[16]: SA 0x1001 is named by more than 16 inbound protect policies\n" },
	{ "validate: one inner family per outbound tunnel SA too",
	  .pol = "sas:\n" SA1("0x2001", "out", "172.16.2.5") "\n"
		 "policies:\n"
		 "  - { dir: out, src: 192.168.105.0/24, dst: 192.168.1.0/24, action: protect, sa: 0x2001 }\n"
		 "  - { dir: out, src: \"2001:db8:105::/48\", dst: \"2001:db8:1::/48\", action: protect, sa: 0x2001 }  #! policies[1]: SA 0x2001 carries IPv4 traffic (policy at line 4); a tunnel SA carries one inner IP family\n" },
	{ "validate: outbound SPIs are unique",
	  .pol = "sas:\n" SA1("0x2001", "out", "172.16.2.5") "\n"
		 SA1("0x2001", "out", "172.16.2.6") "  #! sas[1]: outbound spi 0x2001 already at line 2\n" },
	{ "validate: the same neighbour address on two ports",
	  .pol = "routes:\n"
		 "  - { dst: \"2001:db8:1::/48\", port: lan0, via: \"fe80::1\" }\n"
		 "  - { dst: \"2001:db8:2::/48\", port: wan0, via: \"fe80::1\" }\n"
		 "neighbors:\n"
		 "  - { ip: \"fe80::1\", mac: \"02:00:00:00:01:02\", port: lan0 }\n"
		 "  - { ip: \"fe80::1\", mac: \"02:00:00:00:01:03\", port: wan0 }\n" },

	/* ---- policy database: syntax and structure ---- */
	{ "yaml: syntax error (indentation)",
	  .pol = "sas:\n  - spi: 0x1001\n    dir: in\n   mode: tunnel  #! did not find expected\n" },
	{ "yaml: syntax error (unclosed flow mapping)",
	  .pol = "routes:\n  - { dst: 10.0.0.0/8, port: lan0\n"
		 "neighbors: []  #! did not find expected ',' or '}'\n" },
	{ "yaml: top level not a mapping",
	  .pol = "- sas  #! must be a mapping of sas, policies, routes, neighbors\n- policies\n" },
	{ "yaml: unknown and repeated top-level keys",
	  .pol = "sas: []\n"
		 "policy: []  #! policy: unknown key\n"
		 "sas: []  #! sas: key given twice (first at line 1)\n" },
	{ "yaml: sections not lists, items not mappings",
	  .pol = "sas: 5  #! sas: must be a list\n"
		 "policies: { dir: in }  #! policies: must be a list\n"
		 "routes:\n"
		 "  - 10.0.0.0/8  #! routes[0]: must be a mapping\n"
		 "neighbors:\n"
		 "  - [ 1, 2 ]  #! neighbors[0]: must be a mapping\n" },
	{ "yaml: two documents",
	  .pol = "sas: []\n---\npolicies: []  #! only one YAML document\n" },
	{ "yaml: empty sections",
	  .pol = "sas:\npolicies: []\nroutes: ~\nneighbors: null\n",
	  .check = c_empty_sections },
	{ "yaml: a key that is not a word",
	  .pol = "routes:\n  - { [a]: 1, dst: 10.0.0.0/8, port: lan0 }  #! keys must be plain words\n" },

	/* ---- SAs ---- */
	{ "sa: block style, defaults", .pol = SA_OK, .check = c_sa_block_defaults },
	{ "sa: spi forms",
	  .pol = "sas:\n"
		 SA1("256", "in", "172.16.2.5") "\n"
		 SA1("0XFFFFFFFF", "in", "172.16.2.5") "\n"
		 SA1("4097", "in", "172.16.2.5") "\n"
		 SA1("0x1001", "out", "172.16.2.5") "\n",
	  .check = c_spi_forms },
	{ "sa: spi reserved, out of range, not a number",
	  .pol = "sas:\n"
		 SA1("0", "in", "1.1.1.1") "  #! sas[0].spi: spi 0 is reserved\n"
		 SA1("255", "in", "1.1.1.2") "  #! sas[1].spi: spi 255 is reserved\n"
		 SA1("0x100000000", "in", "1.1.1.3") "  #! sas[2].spi: 0x100000000 out of range 0..4294967295\n"
		 SA1("99999999999999999999999", "in", "1.1.1.3") "  #! out of range\n"
		 SA1("12ab", "in", "1.1.1.4") "  #! sas[4].spi: '12ab' is not a number\n"
		 SA1("-5", "in", "1.1.1.4") "  #! sas[5].spi: '-5' is not a number\n"
		 SA1("[1]", "in", "1.1.1.4") "  #! sas[6].spi: must be a single value\n" },
	{ "sa: dir, mode, install invalid",
	  .pol = "sas:\n  - spi: 0x1001\n"
		 "    dir: inn  #! sas[0].dir: 'inn' is not in or out\n"
		 "    mode: tunel  #! sas[0].mode: 'tunel' is not tunnel or transport\n"
		 "    install: now  #! sas[0].install: 'now' is not lazy or eager\n"
		 SA_GCM "    local: 172.16.2.5\n    remote: 172.16.1.5\n" },
	{ "sa: missing spi, dir, mode, algorithm",
	  .pol = "sas:\n"
		 "  - local: 172.16.2.5  #! missing 'spi' #! missing 'dir' #! missing 'mode' "
		 "#! missing 'aead', or 'cipher' and 'auth'\n" },
	{ "sa: unknown key, key twice",
	  .pol = SA_OK
		 "    lifetim: { hard: { seconds: 10 } }  #! sas[0].lifetim: unknown key\n"
		 "    dir: out  #! sas[0].dir: key given twice (first at line 3)\n" },
	{ "sa: aead invalid",
	  .pol = SA_HEAD "    aead: aes-128-ccm  #! sas[0].aead: 'aes-128-ccm' is not aes-128-gcm or aes-256-gcm\n"
		 "    key: 0x" K20 "\n" },
	{ "sa: aead key: odd length, not hex, no 0x, too long",
	  .pol = "sas:\n"
		 "  - { spi: 256, dir: in, mode: transport, aead: aes-128-gcm, key: 0x" K16 "123 }  #! sas[0].key: odd number of hex digits (35)\n"
		 "  - { spi: 257, dir: in, mode: transport, aead: aes-128-gcm, key: 0x" K16 "012x }  #! sas[1].key: 'x' is not a hex digit\n"
		 "  - { spi: 258, dir: in, mode: transport, aead: aes-128-gcm, key: " K20 " }  #! sas[2].key: key must be hex digits after 0x\n"
		 "  - { spi: 259, dir: in, mode: transport, aead: aes-128-gcm, key: 0x" K64 "00 }  #! sas[3].key: key longer than 64 bytes\n" },
	{ "sa: aead key: wrong length for the algorithm",
	  .pol = "sas:\n"
		 "  - spi: 256\n    dir: in\n    mode: transport\n    aead: aes-128-gcm\n"
		 "    key: 0x" K16 "  #! sas[0].key: aes-128-gcm needs a 20-byte key (with its 4-byte salt), got 16\n"
		 "  - { spi: 257, dir: in, mode: transport, key: 0x" K20 ", aead: aes-256-gcm }  #! aes-256-gcm needs a 36-byte key\n" },
	{ "sa: aead without key, mixed with cipher/auth",
	  .pol = "sas:\n"
		 "  - spi: 256  #! sas[0]: missing 'key' (aead)\n"
		 "    dir: in\n    mode: transport\n    aead: aes-256-gcm\n"
		 "    cipher: aes-128-cbc  #! sas[0].cipher: not allowed with aead\n"
		 "    cipher_key: 0x" K16 "  #! sas[0].cipher_key: not allowed with aead\n"
		 "    auth: null  #! sas[0].auth: not allowed with aead\n"
		 "    auth_key: 0x  #! sas[0].auth_key: not allowed with aead\n" },
	{ "sa: key with cipher and auth",
	  .pol = SA_HEAD SA_CBC "    key: 0x" K20 "  #! sas[0].key: key goes with aead\n" },
	{ "sa: cipher, auth invalid",
	  .pol = SA_HEAD
		 "    cipher: aes-192-cbc  #! sas[0].cipher: 'aes-192-cbc' is not null, aes-128-cbc, aes-256-cbc or aes-128-ctr\n"
		 "    cipher_key: 0x" K16 "\n"
		 "    auth: hmac-md5  #! sas[0].auth: 'hmac-md5' is not null, hmac-sha256-128\n"
		 "    auth_key: 0x" K16 "\n" },
	{ "sa: cipher keys of the wrong length",
	  .pol = "sas:\n"
		 "  - { spi: 256, dir: in, mode: transport, auth: hmac-sha256-128, auth_key: 0x" K32 ",\n"
		 "      cipher: aes-128-cbc, cipher_key: 0x" K20 " }  #! sas[0].cipher_key: aes-128-cbc needs a 16-byte key, got 20\n"
		 "  - { spi: 257, dir: in, mode: transport, auth: hmac-sha256-128, auth_key: 0x" K32 ",\n"
		 "      cipher: aes-256-cbc, cipher_key: 0x" K16 " }  #! aes-256-cbc needs a 32-byte key\n"
		 "  - { spi: 258, dir: in, mode: transport, auth: hmac-sha256-128, auth_key: 0x" K32 ",\n"
		 "      cipher: aes-128-ctr, cipher_key: 0x" K16 " }  #! aes-128-ctr needs a 20-byte key (with its 4-byte nonce), got 16\n"
		 "  - { spi: 259, dir: in, mode: transport, auth: hmac-sha256-128, auth_key: 0x" K32 ",\n"
		 "      cipher: null, cipher_key: 0x" K16 " }  #! sas[3].cipher_key: null takes no key\n" },
	{ "sa: auth keys of the wrong length",
	  .pol = "sas:\n"
		 "  - { spi: 256, dir: in, mode: transport, cipher: null, auth: hmac-sha256-128,\n"
		 "      auth_key: 0x" K20 " }  #! sas[0].auth_key: hmac-sha256-128 needs a 32-byte key, got 20\n"
		 "  - { spi: 257, dir: in, mode: transport, cipher: null, auth: hmac-sha1-96,\n"
		 "      auth_key: 0x" K32 " }  #! hmac-sha1-96 needs a 20-byte key\n"
		 "  - { spi: 258, dir: in, mode: transport, cipher: null, auth: hmac-sha384-192,\n"
		 "      auth_key: 0x" K64 " }  #! hmac-sha384-192 needs a 48-byte key\n"
		 "  - { spi: 259, dir: in, mode: transport, cipher: null, auth: hmac-sha512-256,\n"
		 "      auth_key: 0x" K48 " }  #! hmac-sha512-256 needs a 64-byte key\n"
		 "  - { spi: 260, dir: in, mode: transport, cipher: aes-128-cbc, cipher_key: 0x" K16 ",\n"
		 "      auth: null, auth_key: 0x" K20 " }  #! sas[4].auth_key: null takes no key\n" },
	{ "sa: null cipher (empty key) with auth, cipher with null auth",
	  .pol = "sas:\n"
		 "  - { spi: 256, dir: in, mode: transport, cipher: null, cipher_key: \"\",\n"
		 "      auth: hmac-sha1-96, auth_key: 0x" K20 " }\n"
		 "  - { spi: 257, dir: in, mode: transport, cipher: aes-128-ctr,\n"
		 "      cipher_key: 0x" K20 ", auth: null }\n",
	  .check = c_null_cipher },
	{ "sa: cipher and auth both null",
	  .pol = "sas:\n  - spi: 256\n    dir: in\n    mode: transport\n    cipher: null\n"
		 "    auth: null  #! sas[0].auth: cipher and auth both null\n" },
	{ "sa: cipher without auth, auth without cipher, keys missing",
	  .pol = "sas:\n"
		 "  - { spi: 256, dir: in, mode: transport, cipher: aes-128-cbc }  "
		 "#! sas[0]: missing 'auth' (may be null) #! sas[0]: missing 'cipher_key'\n"
		 "  - { spi: 257, dir: in, mode: transport, auth: hmac-sha1-96 }  "
		 "#! sas[1]: missing 'cipher' (may be null) #! sas[1]: missing 'auth_key'\n" },
	{ "sa: tunnel needs local and remote",
	  .pol = "sas:\n  - spi: 0x1001  #! missing 'local' (tunnel mode) #! missing 'remote' (tunnel mode)\n"
		 "    dir: in\n    mode: tunnel\n" SA_GCM },
	{ "sa: transport without addresses, esn, largest window",
	  .pol = "sas:\n  - { spi: 0x1001, dir: in, mode: transport, esn: True,\n"
		 "      replay_window: 4096, aead: aes-128-gcm, key: 0x" K20 " }\n",
	  .check = c_transport },
	{ "sa: addresses invalid, families differ",
	  .pol = "sas:\n  - spi: 0x1001\n    dir: in\n    mode: tunnel\n" SA_GCM
		 "    local: 172.16.2.300  #! sas[0].local: '172.16.2.300' is not an IPv4 or IPv6 address\n"
		 "    remote: 172.16.1.0/24  #! sas[0].remote: '172.16.1.0/24' is not an IPv4\n"
		 "  - spi: 0x1002\n    dir: in\n    mode: transport\n" SA_GCM
		 "    local: 172.16.2.5\n"
		 "    remote: 2001:db8::1  #! sas[1].remote: IPv6 address, local is IPv4\n" },
	{ "sa: encap",
	  .pol = "sas:\n"
		 SA1("256", "in", "1.1.1.1") "\n"
		 "  - spi: 257\n    dir: in\n    mode: transport\n" SA_GCM
		 "    encap: { sport: 0, dport: 65536 }  #! encap.sport: 0 out of range 1..65535 "
		 "#! encap.dport: 65536 out of range\n"
		 "  - spi: 258\n    dir: in\n    mode: transport\n" SA_GCM
		 "    encap: { sport: 4500 }  #! sas[2].encap: missing 'dport'\n"
		 "  - spi: 259\n    dir: in\n    mode: transport\n" SA_GCM
		 "    encap: { sport: 4500, dport: 4500, port: 1 }  #! sas[3].encap.port: unknown key\n"
		 "  - spi: 260\n    dir: in\n    mode: transport\n" SA_GCM
		 "    encap: 4500  #! sas[4].encap: must be a mapping\n" },
	{ "sa: replay window, esn",
	  .pol = "sas:\n"
		 "  - spi: 256\n    dir: in\n    mode: transport\n" SA_GCM
		 "    replay_window: 4097  #! sas[0].replay_window: 4097 out of range 0..4096\n"
		 "    esn: yes  #! sas[0].esn: 'yes' is not true or false\n"
		 "  - spi: 257\n    dir: in\n    mode: transport\n" SA_GCM
		 "    replay_window: 0\n"
		 "    esn: true  #! sas[1].esn: esn needs anti-replay\n" },
	{ "sa: lifetimes",
	  .pol = "sas:\n"
		 "  - spi: 256\n    dir: in\n    mode: transport\n" SA_GCM
		 "    lifetime:\n"
		 "      soft: { seconds: 3600, bytes: 10, packets: 0 }  #! lifetime: soft seconds (3600) must be below hard (3600) "
		 "#! soft bytes (10) must be below hard (5)\n"
		 "      hard: { seconds: 3600, bytes: 5, packets: 7 }\n"
		 "  - spi: 257\n    dir: in\n    mode: transport\n" SA_GCM
		 "    lifetime: { soft: { second: 5 } }  #! sas[1].lifetime.soft.second: unknown key\n"
		 "  - spi: 258\n    dir: in\n    mode: transport\n" SA_GCM
		 "    lifetime: { hard: { packets: -1 } }  #! sas[2].lifetime.hard.packets: '-1' is not a number\n"
		 "  - spi: 259\n    dir: in\n    mode: transport\n" SA_GCM
		 "    lifetime: { hard: { bytes: 18446744073709551616 } }  #! out of range 0..18446744073709551615\n"
		 "  - spi: 260\n    dir: in\n    mode: transport\n" SA_GCM
		 "    lifetime: 3600  #! sas[4].lifetime: must be a mapping\n" },
	{ "sa: duplicates",
	  .pol = "sas:\n"
		 SA1("0x1001", "in", "172.16.2.5") "\n"
		 SA1("0x1001", "out", "172.16.2.5") "\n"
		 SA1("0x1001", "in", "172.16.2.6") "\n"
		 SA1("4097", "in", "172.16.2.5") "  #! sas[3].spi: duplicate SA: spi 0x1001 dir in local 172.16.2.5 already at line 2\n"
		 "  - { spi: 0x2001, dir: in, mode: transport, aead: aes-128-gcm, key: 0x" K20 " }\n"
		 "  - { spi: 0x2001, dir: in, mode: transport, aead: aes-128-gcm, key: 0x" K20 " }  #! duplicate SA: spi 0x2001 dir in local any\n" },

	/* ---- policies ---- */
	{ "policy: forms of src, dst, proto, ports",
	  .pol = "policies:\n"
		 "  - { dir: in, src: \"2001:db8::1\", dst: \"::/0\", proto: tcp, sport: 0, dport: 65535, action: discard }\n"
		 "  - { dir: in, src: 0.0.0.0/0, dst: 10.0.0.0/8, proto: 0, action: bypass }\n"
		 "  - { dir: in, src: 0.0.0.0/0, dst: 10.0.0.0/8, proto: 255, sport: any, action: bypass }\n"
		 "  - dir: out\n    src: 0.0.0.0/0\n    dst: 10.0.0.0/8\n    dport: 10-20\n    action: bypass\n",
	  .check = c_policy_forms },
	{ "policy: dir, action invalid, missing keys",
	  .pol = "policies:\n"
		 POL1("action: protect, dir: both") "  #! policies[0].dir: key given twice "
		 "#! policies[0]: missing 'sa' (action protect)\n"
		 "  - { dir: both, action: drop }  #! policies[1].dir: 'both' is not in or out "
		 "#! policies[1].action: 'drop' is not protect, bypass or discard "
		 "#! missing 'src' #! missing 'dst'\n"
		 "  - { src: 10.0.0.0/8 }  #! policies[2]: missing 'dir' #! policies[2]: missing 'dst' "
		 "#! policies[2]: missing 'action'\n" },
	{ "policy: prefixes invalid, host bits, families differ",
	  .pol = "policies:\n"
		 "  - { dir: in, src: 10.0.0.1/8, dst: 10.0.0.0/8, action: discard }  #! policies[0].src: '10.0.0.1/8' has bits set beyond /8\n"
		 "  - { dir: in, src: 10.0.0.0/8, dst: 10.0.0.0/40, action: discard }  #! policies[1].dst: '10.0.0.0/40' is not an IPv4 or IPv6 prefix\n"
		 "  - { dir: in, src: 10.0.0.0/8, dst: \"2001:db8::/32\", action: discard }  #! policies[2].dst: IPv6 prefix, src is IPv4\n"
		 "  - { dir: in, src: any, dst: 10.0.0.0/8, action: discard }  #! policies[3].src: 'any' is not\n" },
	{ "policy: proto invalid, icmp families",
	  .pol = "policies:\n"
		 POL1("proto: 256, action: discard") "  #! policies[0].proto: '256' is not any, tcp, udp, icmp, icmp6 or 0..255\n"
		 POL1("proto: gre, action: discard") "  #! policies[1].proto: 'gre' is not\n"
		 POL1("proto: icmp6, action: discard") "  #! policies[2].proto: icmp6 with IPv4 addresses\n"
		 "  - { dir: out, src: \"::/0\", dst: \"::/0\", proto: icmp, action: discard }  #! policies[3].proto: icmp with IPv6 addresses\n"
		 "  - { dir: out, src: \"::/0\", dst: \"::/0\", proto: icmp6, action: discard }\n" },
	{ "policy: port ranges",
	  .pol = "policies:\n"
		 POL1("proto: tcp, sport: 20-10, action: discard") "  #! policies[0].sport: range 20-10 is reversed\n"
		 POL1("proto: udp, dport: 65536, action: discard") "  #! policies[1].dport: '65536' is not any, a port or a range\n"
		 POL1("proto: tcp, dport: 10-, action: discard") "  #! policies[2].dport: '10-' is not\n"
		 POL1("proto: tcp, dport: \"1 - 2\", action: discard") "  #! policies[3].dport: '1 - 2' is not\n"
		 POL1("proto: icmp, sport: 1, action: discard") "  #! policies[4].sport: ports need proto tcp or udp\n"
		 POL1("proto: 50, dport: 1-2, action: discard") "  #! policies[5].dport: ports need proto tcp or udp\n"
		 POL1("proto: 6, sport: 1-2, dport: 3, action: discard") "\n"
		 POL1("proto: icmp, sport: any, dport: 0-65535, action: discard") "\n" },
	{ "policy: inbound protect names an inbound SA; outbound may name one not configured yet",
	  .pol = SA_OK
		 "  - { spi: 0x2001, dir: out, mode: tunnel, aead: aes-128-gcm, key: 0x" K20 ", local: 172.16.2.5, remote: 172.16.1.5 }\n"
		 "policies:\n"
		 "  - { dir: in, src: 10.0.0.0/8, dst: 10.1.0.0/16, action: protect, sa: 4097 }\n"
		 POL1("action: protect, sa: 0x1001") "\n"
		 POL1("action: protect, sa: 0x1002") "\n"
		 "  - { dir: in, src: 10.0.0.0/8, dst: 10.1.0.0/16, action: protect, sa: 0x1003 }  #! policies[3].sa: no SA with spi 0x1003\n"
		 "  - { dir: in, src: 10.0.0.0/8, dst: 10.1.0.0/16, action: protect, sa: 0x2001 }  #! policies[4].sa: SA 0x2001 is not a dir in SA\n"
		 POL1("action: protect") "  #! policies[5]: missing 'sa' (action protect)\n"
		 POL1("action: bypass, sa: 0x1001") "  #! policies[6].sa: only protect policies name an SA\n"
		 POL1("action: discard, sa: 0x1001") "  #! policies[7].sa: only protect policies name an SA\n"
		 POL1("action: protect, sa: x") "  #! policies[8].sa: 'x' is not a number\n" },
	{ "policy: SAs may come after the policies",
	  .pol = "policies:\n  - { dir: in, src: 10.0.0.0/8, dst: 10.1.0.0/16, action: protect, sa: 0x1001 }\n"
		 SA_OK },
	{ "policy: priority",
	  .pol = "policies:\n"
		 POL1("action: discard, priority: 4294967296") "  #! policies[0].priority: 4294967296 out of range 0..4294967295\n"
		 POL1("action: discard, priority: -1") "  #! policies[1].priority: '-1' is not a number\n"
		 POL1("action: discard, priority: 0x10") "\n" },
	{ "policy: unknown key",
	  .pol = "policies:\n" POL1("action: discard, prio: 1") "  #! policies[0].prio: unknown key\n" },

	/* ---- routes, neighbours ---- */
	{ "route: invalid values, missing keys, duplicates",
	  .pol = "routes:\n"
		 "  - { dst: 10.0.0.0/33, port: lan0 }  #! routes[0].dst: '10.0.0.0/33' is not an IPv4 or IPv6 prefix\n"
		 "  - { dst: 10.0.0.0/8, port: lan0, via: 10.0.0.256 }  #! routes[1].via: '10.0.0.256' is not an IPv4 or IPv6 address\n"
		 "  - { dst: 10.1.0.0/16, port: lan0, via: \"2001:db8::1\" }  #! routes[2].via: IPv6 next hop for an IPv4 dst\n"
		 "  - { port: lan0 }  #! routes[3]: missing 'dst'\n"
		 "  - { dst: 10.2.0.0/16 }  #! routes[4]: missing 'port'\n"
		 "  - { dst: 10.3.0.0/16, port: \"" K16 "\" }  #! routes[5].port: port name must be 1 to 31 characters\n"
		 "  - { dst: 10.0.0.0/8, port: wan0 }  #! routes[6].dst: duplicate route to 10.0.0.0/8 (line 3)\n"
		 "  - { dst: 10.0.0.0/8, port: wan0, gw: 1.2.3.4 }  #! routes[7].gw: unknown key #! routes[7].dst: duplicate route\n" },
	{ "neighbor: invalid values, missing keys, duplicates",
	  .pol = "neighbors:\n"
		 "  - { ip: 192.168.105.2, mac: \"02:00:00:00:01:02\", port: lan0 }\n"
		 "  - { ip: 192.168.105.2, mac: \"02:00:00:00:01:02\", port: wan0 }\n"
		 "  - { ip: 192.168.105.2, mac: \"02:00:00:00:01:03\", port: lan0 }  #! neighbors[2].ip: 192.168.105.2 on lan0 already at line 2\n"
		 "  - { ip: 192.168.105.0/24, mac: \"02:00:00:00:01:02\", port: lan0 }  #! neighbors[3].ip: '192.168.105.0/24' is not an IPv4\n"
		 "  - { ip: 192.168.105.4, mac: \"02:00:00:00:01\", port: lan0 }  #! neighbors[4].mac: '02:00:00:00:01' is not a MAC address\n"
		 "  - { ip: 192.168.105.5, mac: \"ff:ff:ff:ff:ff:ff\", port: lan0 }  #! neighbors[5].mac: ff:ff:ff:ff:ff:ff is not a unicast MAC address\n"
		 "  - { ip: 192.168.105.6 }  #! neighbors[6]: missing 'mac' #! neighbors[6]: missing 'port'\n"
		 "  - { mac: 02:00:00:00:01:02, port: lan0, dev: x }  #! neighbors[7].dev: unknown key #! neighbors[7]: missing 'ip'\n" },
	{ "neighbor, route: IPv6, block style",
	  .pol = "routes:\n"
		 "  - dst: \"2001:db8:1::/48\"\n    port: lan0\n    via: \"fe80::1\"\n"
		 "neighbors:\n"
		 "  - ip: \"fe80::1\"\n    mac: \"02:00:00:00:01:02\"\n    port: lan0\n" },
};

int main(void)
{
	struct CMUnitTest *tests = calloc(DIM(cases), sizeof(*tests));
	unsigned i;
	int rc;

	if (tests == NULL)
		return 1;
	for (i = 0; i < DIM(cases); i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].setup_func = setup;
		tests[i].teardown_func = teardown;
		tests[i].initial_state = (void *)&cases[i];
	}
	rc = _cmocka_run_group_tests("config", tests, DIM(cases), NULL, NULL);
	free(tests);
	return rc;
}
