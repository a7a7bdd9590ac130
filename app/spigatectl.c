/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spigatectl: the operator's front end to spigate's control socket
 * (docs/control.md). One request per run (one JSON line out, one JSON
 * line back), or the events stream until interrupted. Human output by
 * default, the daemon's reply lines untouched with --json.
 *
 * Exit status: 0 the daemon answered ok:true; 1 it answered ok:false (the
 * error on stderr) or something that is not a reply; 2 bad usage; 3 the
 * socket cannot be reached, or the connection broke or timed out.
 *
 * No DPDK: only libc and jansson, so it runs anywhere the socket is.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define EXIT_FAIL        1
#define EXIT_USAGE       2
#define EXIT_CONN        3
#define DEFAULT_SOCKET   "/run/spigate/control.sock"
#define DEFAULT_TIMEOUT  10          /* seconds to wait for a reply */
#define MAX_COLS         12

struct conn {
	int fd;
	const char *path;
	char *buf;                    /* received, not yet consumed */
	size_t len, cap;
};

static const char *prog = "spigatectl";
static bool opt_json;
static int opt_timeout = DEFAULT_TIMEOUT;
static volatile sig_atomic_t interrupted;
/* events: SIGINT/SIGTERM/SIGHUP are blocked except inside ppoll(), so one
 * that comes while an event is printed is not lost before the next wait */
static sigset_t wait_mask;
static bool wait_masked;
/* The request being built and sent: at file scope, so that an exit from
 * die() leaves nothing unreachable behind (leak checkers stay quiet). */
static json_t *the_req;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: spigatectl [-s SOCKET] [--json] [-t SECONDS] COMMAND\n"
"\n"
"commands:\n"
"  stats                      counters, and the drop reasons that are not zero\n"
"  sa list                    every SA: spi, dir, mode, state\n"
"  sa show SPI [in|out]       one SA (inbound first when no dir is given)\n"
"  sa add KEY=VALUE...        add an SA; keys of the policy database,\n"
"                             dotted for maps: encap.sport=4500\n"
"                             lifetime.hard.seconds=3600\n"
"  sa add -f FILE             add the SA of a JSON object in FILE (- = stdin)\n"
"  sa del SPI [in|out]        delete an SA\n"
"  policy list                the security policies, in order (INDEX first)\n"
"  policy add KEY=VALUE...    add a policy (after all others); keys of the\n"
"                             policy database: dir=out src=... dst=...\n"
"                             action=protect sa=0x2000 priority=100\n"
"  policy del INDEX           delete the policy at INDEX of policy list\n"
"  policy del KEY=VALUE...    delete the policy with exactly these keys\n"
"  route list                 the routes and the neighbours\n"
"  route add DST port=P [via=V]\n"
"                             add a route (DST a prefix; no via: on-link)\n"
"  route del DST              delete the route to DST\n"
"  neighbor add IP mac=M port=P\n"
"                             add a neighbour (a next hop's MAC address)\n"
"  neighbor del IP port=P     delete a neighbour\n"
"  reload                     read the policy file again, apply what changed\n"
"  events                     stream events until interrupted\n"
"  request JSON               send one raw request object, print the reply\n"
"\n"
"options (before the command):\n"
"  -s, --socket SOCKET   control socket (default: $SPIGATE_CONTROL, else\n"
"                        " DEFAULT_SOCKET ")\n"
"  -j, --json            print the daemon's JSON reply lines as they are\n"
"  -t, --timeout SECONDS wait at most this long for a reply (default %d)\n"
"  -h, --help            this text\n"
"\n"
"exit status: 0 ok, 1 the daemon refused the request, 2 bad usage,\n"
"3 the socket cannot be reached or the connection broke\n",
		DEFAULT_TIMEOUT);
}

static void __attribute__((format(printf, 2, 3), noreturn))
die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (status == EXIT_USAGE)
		fprintf(stderr, "Try 'spigatectl --help'.\n");
	exit(status);
}

/* stdout gone (spigatectl ... | head): stop quietly, nothing is wrong. */
static void
flush_out(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE)
			exit(0);
		die(EXIT_FAIL, "cannot write to stdout: %s", strerror(errno));
	}
}

static void
on_signal(int sig)
{
	interrupted = sig;
}

/* ------------------------------------------------------------------ */
/* transport                                                           */

static void
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->path = path;
	if (strlen(path) >= sizeof(sa.sun_path))
		die(EXIT_CONN, "cannot connect to %s: path longer than %zu "
		    "characters", path, sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die(EXIT_CONN, "socket: %s", strerror(errno));
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EINTR && !interrupted)
			continue;
		die(EXIT_CONN, "cannot connect to %s: %s%s", path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (is spigate running with `control` set to this path?)" :
		    "");
	}
}

/* The request, compact, on one line. The socket never raises SIGPIPE. */
static void
conn_send(struct conn *c, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	size_t len, off = 0;

	if (s == NULL)
		die(EXIT_FAIL, "out of memory");
	len = strlen(s);
	s[len++] = '\n';              /* json_dumps left room for its NUL */
	while (off < len) {
		ssize_t w = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR && !interrupted)
				continue;
			die(EXIT_CONN, "%s: cannot send the request: %s", c->path,
			    strerror(errno));
		}
		off += (size_t)w;
	}
	free(s);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The next line from the daemon, without its newline, in a buffer that
 * grows as needed (a reply may span many reads). NULL: the daemon closed
 * the connection cleanly with nothing pending, or a signal interrupted an
 * unbounded wait (timeout_s < 0). Dies on errors and on timeout.
 */
static char *
conn_line(struct conn *c, int timeout_s)
{
	long long deadline = timeout_s < 0 ? 0 : now_ms() + timeout_s * 1000LL;
	static char *line;
	static size_t line_cap;
	bool watch = timeout_s < 0;
	char *nl;

	for (;;) {
		/* unbounded waits (events) also watch stdout: a pipe whose
		 * reader left (| head -3) reports POLLERR, so we stop at once
		 * instead of at the next event */
		struct pollfd pf[2] = { { .fd = c->fd, .events = POLLIN },
					{ .fd = STDOUT_FILENO, .events = 0 } };
		int wait_ms = -1, rc;
		ssize_t r;

		nl = c->len != 0 ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl != NULL)
			break;
		if (timeout_s < 0 && interrupted)
			return NULL;	/* came before the wait (events) */
		if (timeout_s >= 0) {
			long long left = deadline - now_ms();

			if (left <= 0)
				die(EXIT_CONN, "%s: no reply within %d s", c->path,
				    timeout_s);
			wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		{
			struct timespec ts = { .tv_sec = wait_ms / 1000,
				.tv_nsec = (long)(wait_ms % 1000) * 1000000L };

			rc = ppoll(pf, watch ? 2 : 1, wait_ms < 0 ? NULL : &ts,
				   wait_masked ? &wait_mask : NULL);
		}
		if (rc < 0) {
			if (errno != EINTR)
				die(EXIT_CONN, "poll: %s", strerror(errno));
			if (interrupted)
				return NULL;
			continue;
		}
		if (watch && (pf[1].revents & (POLLERR | POLLHUP)))
			exit(0);
		if (watch && (pf[1].revents & POLLNVAL))
			watch = false;      /* stdout closed: nothing to watch */
		if (rc == 0 || pf[0].revents == 0)
			continue;
		if (c->cap - c->len < 4096) {
			size_t cap = c->cap == 0 ? 65536 : c->cap * 2;
			char *b = realloc(c->buf, cap);

			if (b == NULL)
				die(EXIT_FAIL, "out of memory");
			c->buf = b;
			c->cap = cap;
		}
		r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r < 0) {
			if (errno == EINTR) {
				if (interrupted)
					return NULL;
				continue;
			}
			die(EXIT_CONN, "%s: connection lost: %s", c->path,
			    strerror(errno));
		}
		if (r == 0) {
			if (c->len != 0)
				die(EXIT_CONN, "%s: connection closed in the middle "
				    "of a reply", c->path);
			return NULL;
		}
		c->len += (size_t)r;
	}
	{
		size_t l = (size_t)(nl - c->buf);

		if (l + 1 > line_cap) {
			char *b = realloc(line, l + 1);

			if (b == NULL)
				die(EXIT_FAIL, "out of memory");
			line = b;
			line_cap = l + 1;
		}
		memcpy(line, c->buf, l);
		line[l] = '\0';
		memmove(c->buf, nl + 1, c->len - l - 1);
		c->len -= l + 1;
	}
	return line;
}

/* Parse one reply line; anything but an object with a boolean "ok" is a
 * protocol error. */
static json_t *
parse_reply(const struct conn *c, const char *line)
{
	json_error_t err;
	json_t *r = json_loads(line, 0, &err);

	if (r == NULL || !json_is_object(r) ||
	    !json_is_boolean(json_object_get(r, "ok")))
		die(EXIT_FAIL, "%s: not a reply: %.200s", c->path, line);
	return r;
}

/* One request, one reply. With --json the reply line is printed as is.
 * ok:false ends the program (status 1) after printing the error. */
static json_t *
transact(struct conn *c, json_t *req)
{
	const char *line;
	json_t *r;

	conn_send(c, req);
	line = conn_line(c, opt_timeout);
	if (line == NULL)
		die(EXIT_CONN, "%s: connection closed before the reply", c->path);
	r = parse_reply(c, line);
	if (opt_json) {
		puts(line);
		flush_out();
	}
	if (!json_is_true(json_object_get(r, "ok"))) {
		const char *e = json_string_value(json_object_get(r, "error"));

		if (!opt_json)
			fprintf(stderr, "%s: %s\n", prog,
				e != NULL ? e : "request refused (no error text)");
		json_decref(r);
		exit(EXIT_FAIL);
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* human output                                                        */

/* A scalar as text: strings as they are, numbers, true/false, "-". */
static const char *
scalar(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	if (v == NULL || json_is_null(v))
		return "-";
	{
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(buf, len, "%s", s != NULL ? s : "?");
		free(s);
		return buf;
	}
}

struct column {
	const char *head;
	const char *key;
};

/* An array of objects as an aligned table, one column per key. */
static void
table(const json_t *rows, const struct column *col, unsigned ncol)
{
	size_t w[MAX_COLS];
	char buf[256];
	size_t i;
	unsigned k;

	for (k = 0; k < ncol; k++)
		w[k] = strlen(col[k].head);
	for (i = 0; i < json_array_size(rows); i++)
		for (k = 0; k < ncol; k++) {
			const char *s = scalar(json_object_get(json_array_get(rows, i),
						  col[k].key), buf, sizeof(buf));

			if (strlen(s) > w[k])
				w[k] = strlen(s);
		}
	for (k = 0; k < ncol; k++)
		printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, col[k].head,
		       k + 1 < ncol ? "  " : "\n");
	for (i = 0; i < json_array_size(rows); i++)
		for (k = 0; k < ncol; k++)
			printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0,
			       scalar(json_object_get(json_array_get(rows, i),
						      col[k].key), buf, sizeof(buf)),
			       k + 1 < ncol ? "  " : "\n");
}

/* {"a":1,"b":2} -> "a=1 b=2", or `none` when empty */
static void
print_map(const json_t *m, const char *none)
{
	const char *k;
	json_t *v;
	char buf[64];
	bool first = true;

	json_object_foreach((json_t *)(uintptr_t)m, k, v) {
		printf("%s%s=%s", first ? "" : " ", k, scalar(v, buf, sizeof(buf)));
		first = false;
	}
	if (first)
		fputs(none, stdout);
	putchar('\n');
}

static void
show_stats(const json_t *s)
{
	const json_t *drop = json_object_get(s, "drop");
	const char *k;
	json_t *v;
	char buf[64];
	size_t w = strlen("drops");
	bool any = false;

	json_object_foreach((json_t *)(uintptr_t)s, k, v)
		if (strlen(k) > w && !json_is_object(v))
			w = strlen(k);
	json_object_foreach((json_t *)(uintptr_t)drop, k, v)
		if (json_integer_value(v) != 0 && strlen(k) + 2 > w)
			w = strlen(k) + 2;
	json_object_foreach((json_t *)(uintptr_t)s, k, v)
		if (!json_is_object(v))
			printf("%-*s  %s\n", (int)w, k, scalar(v, buf, sizeof(buf)));
	json_object_foreach((json_t *)(uintptr_t)drop, k, v)
		any |= json_integer_value(v) != 0;
	printf("%-*s%s\n", any ? 0 : (int)w, "drops", any ? "" : "  none");
	json_object_foreach((json_t *)(uintptr_t)drop, k, v)
		if (json_integer_value(v) != 0)
			printf("  %-*s  %s\n", (int)w - 2, k,
			       scalar(v, buf, sizeof(buf)));
}

static void
show_sa(const json_t *sa)
{
	const char *k;
	json_t *v;
	char buf[64];
	size_t w = 0;

	json_object_foreach((json_t *)(uintptr_t)sa, k, v)
		if (strlen(k) > w)
			w = strlen(k);
	json_object_foreach((json_t *)(uintptr_t)sa, k, v) {
		printf("%-*s  ", (int)w, k);
		if (json_is_object(v))
			print_map(v, strcmp(k, "lifetime_left") == 0 ?
				  "unlimited" : "none");
		else
			printf("%s\n", scalar(v, buf, sizeof(buf)));
	}
}

/*
 * One event, one line:
 *     12.345 s  #7  acquire  spi 0x00009001  policy 1 (line 23)
 *               192.168.105.20:40000 > 10.100.0.1:53 proto 17
 * Keys this version does not know are appended as key=value.
 */
static void
show_event(const json_t *e)
{
	static const char *const known[] = { "seq", "type", "time_ms", "spi",
		"policy", "line", "src", "dst", "proto", "sport", "dport" };
	const json_t *t = json_object_get(e, "time_ms");
	const char *k;
	json_t *v;
	char b1[64], b2[64];
	unsigned i;

	if (json_object_get(e, "lost") != NULL) {
		printf("(%s events lost: this client fell behind)\n",
		       scalar(json_object_get(e, "lost"), b1, sizeof(b1)));
		return;
	}
	if (json_is_integer(t))
		printf("%10.3f s", (double)json_integer_value(t) / 1000.0);
	else
		printf("%12s", "-");
	printf("  #%-4s %-13s", scalar(json_object_get(e, "seq"), b1, sizeof(b1)),
	       scalar(json_object_get(e, "type"), b2, sizeof(b2)));
	if (json_object_get(e, "spi") != NULL)
		printf("  spi %s", scalar(json_object_get(e, "spi"), b1, sizeof(b1)));
	if (json_object_get(e, "policy") != NULL) {
		printf("  policy %s", scalar(json_object_get(e, "policy"), b1,
					     sizeof(b1)));
		if (json_object_get(e, "line") != NULL)
			printf(" (line %s)", scalar(json_object_get(e, "line"), b1,
						   sizeof(b1)));
	}
	if (json_object_get(e, "src") != NULL) {
		printf("  %s:%s", scalar(json_object_get(e, "src"), b1, sizeof(b1)),
		       scalar(json_object_get(e, "sport"), b2, sizeof(b2)));
		printf(" > %s:%s", scalar(json_object_get(e, "dst"), b1, sizeof(b1)),
		       scalar(json_object_get(e, "dport"), b2, sizeof(b2)));
		printf(" proto %s", scalar(json_object_get(e, "proto"), b1,
					  sizeof(b1)));
	}
	json_object_foreach((json_t *)(uintptr_t)e, k, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			printf("  %s=%s", k, scalar(v, b1, sizeof(b1)));
	}
	putchar('\n');
}

/* ------------------------------------------------------------------ */
/* arguments                                                           */

/* "0x1001" or "4097" -> "0x1001": decimal or 0x hex, 32 bits; no octal. */
static json_t *
spi_arg(const char *s)
{
	unsigned long long x;
	char *end;
	char buf[16];
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *d = hex ? s + 2 : s;

	if (*d == '\0' || strspn(d, hex ? "0123456789abcdefABCDEF" :
				 "0123456789") != strlen(d))
		die(EXIT_USAGE, "'%s' is not an SPI (4097 or 0x1001)", s);
	errno = 0;
	x = strtoull(d, &end, hex ? 16 : 10);
	if (errno != 0 || x > UINT32_MAX)
		die(EXIT_USAGE, "SPI %s is larger than 32 bits", s);
	snprintf(buf, sizeof(buf), "0x%x", (unsigned)x);
	return json_string(buf);
}

/* {"op": op, "spi": ..., "dir": ...} from "SPI [in|out]" */
static json_t *
spi_request(const char *op, int argc, char **argv)
{
	json_t *req, *spi;

	if (argc < 1 || argc > 2)
		die(EXIT_USAGE, "%s: SPI [in|out] expected", op);
	if (argc == 2 && strcmp(argv[1], "in") != 0 && strcmp(argv[1], "out") != 0)
		die(EXIT_USAGE, "direction '%s': in or out", argv[1]);
	spi = spi_arg(argv[0]);
	req = json_pack("{s:s,s:o}", "op", op, "spi", spi);
	if (argc == 2)
		json_object_set_new(req, "dir", json_string(argv[1]));
	return req;
}

/*
 * A command-line value as JSON: true/false, a decimal integer without
 * leading zeros, or else a string. Hex stays a string ("0x1001",
 * "0xabcd..." keys): the policy-database parser reads hex strings, and
 * a key must never turn into a number.
 */
static json_t *
value_json(const char *v)
{
	size_t n = strlen(v);

	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	if (n != 0 && n <= 18 && strspn(v, "0123456789") == n &&
	    (v[0] != '0' || n == 1))
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	return json_string(v);
}

/* KEY=VALUE with dotted keys for nested maps, into obj. */
static void
set_dotted(json_t *obj, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char path[256], *key, *dot;
	json_t *o = obj;

	if (eq == NULL || eq == arg)
		die(EXIT_USAGE, "sa add: '%s' is not KEY=VALUE", arg);
	if ((size_t)(eq - arg) >= sizeof(path))
		die(EXIT_USAGE, "sa add: key too long: %.40s...", arg);
	memcpy(path, arg, (size_t)(eq - arg));
	path[eq - arg] = '\0';
	key = path;
	while ((dot = strchr(key, '.')) != NULL) {
		json_t *sub;

		*dot = '\0';
		if (*key == '\0')
			die(EXIT_USAGE, "sa add: empty key part in '%s'", arg);
		sub = json_object_get(o, key);
		if (sub == NULL) {
			sub = json_object();
			json_object_set_new(o, key, sub);
		} else if (!json_is_object(sub)) {
			die(EXIT_USAGE, "sa add: '%s' is both a value and a map", key);
		}
		o = sub;
		key = dot + 1;
	}
	if (*key == '\0')
		die(EXIT_USAGE, "sa add: empty key part in '%s'", arg);
	if (json_object_get(o, key) != NULL)
		die(EXIT_USAGE, "sa add: '%.*s' given twice (or both a value and "
		    "a map)", (int)(eq - arg), arg);
	json_object_set_new(o, key, value_json(eq + 1));
}

static json_t *
sa_from_file(const char *file)
{
	json_error_t err;
	json_t *sa;

	if (strcmp(file, "-") == 0)
		sa = json_loadf(stdin, 0, &err);
	else
		sa = json_load_file(file, 0, &err);
	if (sa == NULL)
		die(EXIT_USAGE, "%s:%d:%d: %s", strcmp(file, "-") == 0 ? "stdin" :
		    file, err.line, err.column, err.text);
	if (!json_is_object(sa)) {
		json_decref(sa);
		die(EXIT_USAGE, "%s: the SA must be a JSON object", file);
	}
	return sa;
}

static json_t *
sa_add_request(int argc, char **argv)
{
	json_t *sa;
	int i;

	if (argc < 1)
		die(EXIT_USAGE, "sa add: KEY=VALUE... or -f FILE expected");
	if (strcmp(argv[0], "-f") == 0) {
		if (argc != 2)
			die(EXIT_USAGE, "sa add -f: one FILE expected");
		return json_pack("{s:s,s:o}", "op", "sa-add", "sa",
				 sa_from_file(argv[1]));
	}
	/* built in place: set_dotted() may die() half-way */
	the_req = json_pack("{s:s,s:o}", "op", "sa-add", "sa", json_object());
	sa = json_object_get(the_req, "sa");
	for (i = 0; i < argc; i++)
		set_dotted(sa, argv[i]);
	return the_req;
}

/*
 * route add DST port=P [via=V], route del DST, neighbor add IP mac=M
 * port=P, neighbor del IP port=P: {"op": op, key: {first: ARG, k: v...}}.
 * Values stay strings (port names, addresses, MACs); the daemon checks
 * the keys, as for the file.
 */
static json_t *
item_request(const char *op, const char *key, const char *first,
	     const char *what, int argc, char **argv)
{
	json_t *o;
	int i;

	if (argc < 1 || strchr(argv[0], '=') != NULL)
		die(EXIT_USAGE, "%s: %s expected", what, first[0] == 'd' ?
		    "DST (a prefix)" : "IP (an address)");
	the_req = json_pack("{s:s,s:o}", "op", op, key, json_object());
	o = json_object_get(the_req, key);
	json_object_set_new(o, first, json_string(argv[0]));
	for (i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char k[64];

		if (eq == NULL || eq == argv[i])
			die(EXIT_USAGE, "%s: '%s' is not KEY=VALUE", what, argv[i]);
		if ((size_t)(eq - argv[i]) >= sizeof(k))
			die(EXIT_USAGE, "%s: key too long: %.40s...", what, argv[i]);
		memcpy(k, argv[i], (size_t)(eq - argv[i]));
		k[eq - argv[i]] = '\0';
		if (json_object_get(o, k) != NULL)
			die(EXIT_USAGE, "%s: '%s' given twice", what, k);
		json_object_set_new(o, k, json_string(eq + 1));
	}
	return the_req;
}

/* "added route 10.1.0.0/16 port lan0 via 192.168.105.2", then the SAs
 * that keep their old egress (pinned_stale), if any. */
static void
show_item(const char *verb, const char *what, const json_t *r)
{
	const json_t *o = json_object_get(r, what), *st;
	const char *k;
	json_t *v;
	char buf[64];
	size_t i;

	printf("%s %s", verb, what);
	json_object_foreach((json_t *)(uintptr_t)o, k, v) {
		if (strcmp(k, "dst") == 0 || strcmp(k, "ip") == 0)
			printf(" %s", scalar(v, buf, sizeof(buf)));
		else
			printf(" %s %s", k, scalar(v, buf, sizeof(buf)));
	}
	putchar('\n');
	st = json_object_get(r, "pinned_stale");
	if (json_array_size(st) == 0)
		return;
	printf("outbound SAs keeping the egress pinned at their install "
	       "(rekey to move them):");
	for (i = 0; i < json_array_size(st); i++)
		printf(" %s", scalar(json_array_get(st, i), buf, sizeof(buf)));
	putchar('\n');
}

/* "SPI dir, SPI dir" of a reload reply list, or "none". */
static void
spi_list(const char *what, json_t *a)
{
	json_t *x;
	size_t i;

	printf("%-9s", what);
	if (json_array_size(a) == 0)
		printf(" none");
	json_array_foreach(a, i, x)
		printf("%s %s %s", i != 0 ? "," : "",
		       json_string_value(json_object_get(x, "spi")),
		       json_string_value(json_object_get(x, "dir")));
	putchar('\n');
}

static void
show_reload(json_t *r)
{
	json_t *s = json_object_get(r, "sas"), *p = json_object_get(r, "policies");

	printf("SAs: %lld unchanged\n",
	       (long long)json_integer_value(json_object_get(s, "unchanged")));
	spi_list("added", json_object_get(s, "added"));
	spi_list("replaced", json_object_get(s, "replaced"));
	spi_list("removed", json_object_get(s, "removed"));
	printf("policies: %lld before, %lld after: %lld unchanged, %lld new "
	       "from the file, %lld added at runtime (kept)\n",
	       (long long)json_integer_value(json_object_get(p, "before")),
	       (long long)json_integer_value(json_object_get(p, "after")),
	       (long long)json_integer_value(json_object_get(p, "unchanged")),
	       (long long)json_integer_value(json_object_get(p, "new")),
	       (long long)json_integer_value(json_object_get(p, "runtime")));
	p = json_object_get(r, "routes");
	printf("routes: %lld before, %lld after (%lld added at runtime, kept); "
	       "neighbors: %lld before, %lld after (%lld at runtime); table %s\n",
	       (long long)json_integer_value(json_object_get(p, "before")),
	       (long long)json_integer_value(json_object_get(p, "after")),
	       (long long)json_integer_value(json_object_get(p, "runtime")),
	       (long long)json_integer_value(json_object_get(p, "neighbors_before")),
	       (long long)json_integer_value(json_object_get(p, "neighbors_after")),
	       (long long)json_integer_value(json_object_get(p, "neighbors_runtime")),
	       json_is_true(json_object_get(p, "rebuilt")) ? "rebuilt" :
	       "not rebuilt");
	spi_list("stale pin", json_object_get(r, "pinned_stale"));
}

/* {"op": OP, MEMBER: {KEY: VALUE...}} from KEY=VALUE arguments. */
static json_t *
kv_request(const char *op, const char *member, int argc, char **argv)
{
	json_t *o;
	int i;

	if (argc < 1)
		die(EXIT_USAGE, "%s: KEY=VALUE... expected", op);
	the_req = json_pack("{s:s,s:o}", "op", op, member, json_object());
	o = json_object_get(the_req, member);
	for (i = 0; i < argc; i++)
		set_dotted(o, argv[i]);
	return the_req;
}

/* policy del INDEX | policy del KEY=VALUE... */
static json_t *
policy_del_request(int argc, char **argv)
{
	char *end;
	long v;

	if (argc == 1 && strchr(argv[0], '=') == NULL) {
		errno = 0;
		v = strtol(argv[0], &end, 10);
		if (errno != 0 || *end != '\0' || end == argv[0] || v < 0 ||
		    v > INT32_MAX)
			die(EXIT_USAGE, "policy del: '%s' is not an index "
			    "(policy list shows them)", argv[0]);
		return json_pack("{s:s,s:I}", "op", "policy-del", "index",
				 (json_int_t)v);
	}
	return kv_request("policy-del", "policy", argc, argv);
}

/* ------------------------------------------------------------------ */
/* commands                                                            */

static int
cmd_events(struct conn *c)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *line;

	sigset_t block;

	/* no SA_RESTART: the signal must interrupt the wait */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	wait_masked = true;
	the_req = json_pack("{s:s}", "op", "events");
	json_decref(transact(c, the_req));
	for (;;) {
		json_t *e, *ev;

		line = conn_line(c, -1);
		if (line == NULL) {
			if (interrupted) {
				close(c->fd);
				free(c->buf);
				json_decref(the_req);
				return 0;
			}
			die(EXIT_CONN, "%s: the daemon closed the events stream",
			    c->path);
		}
		if (opt_json) {
			puts(line);
			flush_out();
			continue;
		}
		e = json_loads(line, 0, NULL);
		ev = json_object_get(e, "event");
		if (json_is_object(ev))
			show_event(ev);
		else
			printf("%s\n", line);
		json_decref(e);
		flush_out();
	}
}

static const struct column sa_cols[] = {
	{ "SPI", "spi" }, { "DIR", "dir" }, { "MODE", "mode" },
	{ "STATE", "state" },
};
static const struct column policy_cols[] = {
	{ "INDEX", "index" }, { "DIR", "dir" }, { "SRC", "src" }, { "DST", "dst" },
	{ "PROTO", "proto" }, { "SPORT", "sport" }, { "DPORT", "dport" },
	{ "ACTION", "action" }, { "SA", "sa" }, { "PRIORITY", "priority" },
};
static const struct column route_cols[] = {
	{ "DST", "dst" }, { "PORT", "port" }, { "VIA", "via" },
};
static const struct column neigh_cols[] = {
	{ "NEIGHBOR", "ip" }, { "MAC", "mac" }, { "PORT", "port" },
};

#define NCOLS(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("SPIGATE_CONTROL");
	const char *cmd, *sub;
	json_t *r;
	struct conn c;
	char *end;
	int o;

	if (path == NULL || path[0] == '\0')
		path = DEFAULT_SOCKET;
	/* a vanished reader (| head) shows as EPIPE on stdout; the socket
	 * uses MSG_NOSIGNAL anyway */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+s:jt:h", lopts, NULL)) != -1) {
		switch (o) {
		case 's':
			path = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 't':
			errno = 0;
			opt_timeout = (int)strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    opt_timeout < 1 || opt_timeout > 86400)
				die(EXIT_USAGE, "--timeout '%s': seconds, 1..86400",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt != 0 && strchr("st", optopt) != NULL)
				die(EXIT_USAGE, "option -%c needs a value", optopt);
			die(EXIT_USAGE, "unknown option '%s'", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[0];
	sub = argc > 1 ? argv[1] : NULL;
	if (path[0] == '\0')
		die(EXIT_USAGE, "empty socket path");

	/* Build the request before connecting: bad usage never touches the
	 * socket. */
	if (is(cmd, "stats") && argc == 1) {
		the_req = json_pack("{s:s}", "op", "stats");
	} else if (is(cmd, "sa") && is(sub, "list") && argc == 2) {
		the_req = json_pack("{s:s}", "op", "sa-list");
	} else if (is(cmd, "sa") && is(sub, "show")) {
		the_req = spi_request("sa-show", argc - 2, argv + 2);
	} else if (is(cmd, "sa") && is(sub, "del")) {
		the_req = spi_request("sa-del", argc - 2, argv + 2);
	} else if (is(cmd, "sa") && is(sub, "add")) {
		the_req = sa_add_request(argc - 2, argv + 2);
	} else if (is(cmd, "policy") && is(sub, "list") && argc == 2) {
		the_req = json_pack("{s:s}", "op", "policy-list");
	} else if (is(cmd, "policy") && is(sub, "add")) {
		the_req = kv_request("policy-add", "policy", argc - 2, argv + 2);
	} else if (is(cmd, "policy") && is(sub, "del")) {
		the_req = policy_del_request(argc - 2, argv + 2);
	} else if (is(cmd, "route") && is(sub, "list") && argc == 2) {
		the_req = json_pack("{s:s}", "op", "route-list");
	} else if (is(cmd, "route") && is(sub, "add")) {
		item_request("route-add", "route", "dst", "route add",
			     argc - 2, argv + 2);
	} else if (is(cmd, "route") && is(sub, "del")) {
		if (argc != 3)
			die(EXIT_USAGE, "route del: DST (a prefix) expected");
		item_request("route-del", "route", "dst", "route del",
			     argc - 2, argv + 2);
	} else if (is(cmd, "neighbor") && is(sub, "add")) {
		item_request("neighbor-add", "neighbor", "ip", "neighbor add",
			     argc - 2, argv + 2);
	} else if (is(cmd, "neighbor") && is(sub, "del")) {
		item_request("neighbor-del", "neighbor", "ip", "neighbor del",
			     argc - 2, argv + 2);
	} else if (is(cmd, "reload") && argc == 1) {
		the_req = json_pack("{s:s}", "op", "reload");
	} else if (is(cmd, "request") && argc == 2) {
		json_error_t err;

		the_req = json_loads(sub, 0, &err);
		if (!json_is_object(the_req) ||
		    !json_is_string(json_object_get(the_req, "op")))
			die(EXIT_USAGE, "request: a JSON object with \"op\" expected%s%s",
			    the_req == NULL ? ": " : "", the_req == NULL ? err.text : "");
	} else if (is(cmd, "events") && argc == 1) {
		conn_open(&c, path);
		return cmd_events(&c);
	} else {
		die(EXIT_USAGE, "unknown command or wrong arguments: '%s%s%s'",
		    cmd, sub != NULL ? " " : "", sub != NULL ? sub : "");
	}

	conn_open(&c, path);
	r = transact(&c, the_req);
	close(c.fd);
	free(c.buf);
	if (opt_json)
		goto done;

	if (is(cmd, "stats")) {
		show_stats(json_object_get(r, "stats"));
	} else if (is(sub, "list") && is(cmd, "sa")) {
		table(json_object_get(r, "sas"), sa_cols, NCOLS(sa_cols));
	} else if (is(sub, "show")) {
		show_sa(json_object_get(r, "sa"));
	} else if ((is(cmd, "route") || is(cmd, "neighbor")) &&
		   (is(sub, "add") || is(sub, "del"))) {
		show_item(is(sub, "add") ? "added" : "deleted", cmd, r);
	} else if (is(cmd, "reload")) {
		show_reload(r);
	} else if (is(cmd, "policy") && (is(sub, "add") || is(sub, "del"))) {
		json_t *one = json_array();

		printf("%s policy %lld:\n", is(sub, "add") ? "added" : "deleted",
		       (long long)json_integer_value(json_object_get(r, "index")));
		json_object_set(json_object_get(r, "policy"), "index",
				json_object_get(r, "index"));
		json_array_append(one, json_object_get(r, "policy"));
		table(one, policy_cols, NCOLS(policy_cols));
		json_decref(one);
	} else if (is(sub, "add")) {
		json_t *sa = json_object_get(r, "sa");
		char b[4][64];

		printf("added SA %s (%s, %s): %s\n",
		       scalar(json_object_get(sa, "spi"), b[0], sizeof(b[0])),
		       scalar(json_object_get(sa, "dir"), b[1], sizeof(b[1])),
		       scalar(json_object_get(sa, "mode"), b[2], sizeof(b[2])),
		       scalar(json_object_get(sa, "state"), b[3], sizeof(b[3])));
	} else if (is(sub, "del")) {
		json_t *d = json_object_get(the_req, "dir");

		printf("deleted SA %s%s%s\n",
		       json_string_value(json_object_get(the_req, "spi")),
		       d != NULL ? " " : "", d != NULL ? json_string_value(d) : "");
	} else if (is(cmd, "policy")) {
		json_t *a = json_object_get(r, "policies"), *p;
		size_t i;

		json_array_foreach(a, i, p)
			json_object_set_new(p, "index", json_integer((json_int_t)i));
		table(a, policy_cols, NCOLS(policy_cols));
	} else if (is(cmd, "route")) {
		table(json_object_get(r, "routes"), route_cols, NCOLS(route_cols));
		putchar('\n');
		table(json_object_get(r, "neighbors"), neigh_cols,
		      NCOLS(neigh_cols));
	} else {
		char *s;

		json_object_del(r, "ok");
		s = json_dumps(r, JSON_INDENT(2));
		if (s != NULL && json_object_size(r) != 0)
			puts(s);
		else
			puts("ok");
		free(s);
	}
	flush_out();
done:
	json_decref(r);
	json_decref(the_req);
	return 0;
}
