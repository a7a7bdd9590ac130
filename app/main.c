/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spigate: parse arguments, load the config, create the elements, launch
 * the lcores, tear down. Command line and exit statuses: CONTRACT.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "ce.h"
#include "ce_config.h"

#define EXIT_USAGE 2

struct args {
	const char *file;
	const char *stats_out;
	int check;
	int progress;
	uint32_t exit_idle_ms;
	int eal_argc;                 /* EAL options given before "--" */
	char **eal_argv;
};

static struct ce *the_ce;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: spigate [EAL options --] -f FILE [--check] [--exit-idle MS]\n"
"               [--stats-out PATH] [--progress]\n"
"  -f FILE           the deployment file (libconfig)\n"
"  --check           validate FILE and its policy database, start nothing\n"
"  --exit-idle MS    stop once MS ms pass with no packet and nothing queued\n"
"  --stats-out PATH  on exit, write the final /spigate/stats reply to PATH\n"
"  --progress        print a status line every second\n"
"EAL options before \"--\" are added after those of the file's `eal`.\n");
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "exit-idle", required_argument, NULL, 'i' },
		{ "stats-out", required_argument, NULL, 's' },
		{ "progress", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int i, c, first = 1;
	char *end;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			a->eal_argc = i - 1;
			a->eal_argv = &argv[1];
			first = i + 1;
			break;
		}
	}
	/* our options: argv[0] followed by what comes after "--" */
	static char *ov[256];
	int oc = 0;

	ov[oc++] = argv[0];
	for (i = first; i < argc && oc < 255; i++)
		ov[oc++] = argv[i];
	ov[oc] = NULL;
	argc = oc;
	argv = ov;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			a->file = optarg;
			break;
		case 'c':
			a->check = 1;
			break;
		case 'p':
			a->progress = 1;
			break;
		case 'i':
			errno = 0;
			a->exit_idle_ms = (uint32_t)strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg) {
				fprintf(stderr, "spigate: --exit-idle: not a "
					"number of milliseconds: %s\n", optarg);
				return -1;
			}
			break;
		case 's':
			a->stats_out = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spigate: unexpected argument: %s\n",
			argv[optind]);
		return -1;
	}
	if (a->file == NULL) {
		fprintf(stderr, "spigate: -f FILE is required\n");
		return -1;
	}
	return 0;
}

static int
load(const struct args *a, struct ce_deploy *dep, struct ce_policydb *db)
{
	struct ce_diag diag;
	int bad;

	ce_diag_init(&diag);
	ce_deploy_load(a->file, dep, &diag);
	if (diag.errors == 0)
		ce_policydb_load(dep->policy_path, db, &diag);
	if (diag.errors == 0)
		ce_config_validate(dep, db, &diag);
	bad = diag.errors != 0;
	if (bad)
		fputs(diag.buf, stderr);
	ce_diag_fini(&diag);
	return bad ? -1 : 0;
}

/* argv for rte_eal_init: the file's `eal`, then the command line's. */
static char **
eal_args(const struct args *a, const struct ce_deploy *dep, char *prog,
	 int *argc)
{
	char **v = calloc(dep->eal_argc + a->eal_argc + 3, sizeof(*v));
	int i, n = 0;

	if (v == NULL)
		return NULL;
	v[n++] = prog;
	for (i = 0; i < dep->eal_argc; i++)
		v[n++] = dep->eal_argv[i];
	for (i = 0; i < a->eal_argc; i++)
		v[n++] = a->eal_argv[i];
	if (!dep->telemetry)
		v[n++] = (char *)(uintptr_t)"--no-telemetry";
	v[n] = NULL;
	*argc = n;
	return v;
}

static void
on_signal(int sig)
{
	(void)sig;
	if (the_ce != NULL)
		ce_stop(the_ce);
}

int
main(int argc, char **argv)
{
	struct ce_deploy dep;
	struct ce_policydb db;
	struct ce_opts opts = { 0 };
	struct args a;
	char **ev;
	int ec, rc = 0;
	unsigned l;
	void *arg;

	if (parse_args(argc, argv, &a) != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	memset(&dep, 0, sizeof(dep));
	memset(&db, 0, sizeof(db));
	if (load(&a, &dep, &db) != 0) {
		ce_policydb_free(&db);
		ce_deploy_free(&dep);
		return EXIT_USAGE;
	}
	if (a.check) {
		printf("%s: valid: %u ports, %u SAs, %u policies, %u routes, "
		       "%u neighbours\n", a.file, dep.n_ports, db.n_sas,
		       db.n_policies, db.n_routes, db.n_neighbors);
		ce_policydb_free(&db);
		ce_deploy_free(&dep);
		return 0;
	}

	ev = eal_args(&a, &dep, argv[0], &ec);
	if (ev == NULL || rte_eal_init(ec, ev) < 0) {
		fprintf(stderr, "spigate: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		free(ev);
		return 1;
	}
	opts.exit_idle_ms = a.exit_idle_ms;
	opts.progress = a.progress;
	the_ce = ce_create(&dep, &db, &opts);
	if (the_ce == NULL) {
		fprintf(stderr, "spigate: cannot start the deployment of %s "
			"(reason above)\n", a.file);
		rte_eal_cleanup();
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	RTE_LCORE_FOREACH_WORKER(l) {
		arg = ce_lcore_arg(the_ce, l);
		if (arg != NULL)
			rte_eal_remote_launch(ce_lcore_main, arg, l);
	}
	ce_lcore_main(ce_lcore_arg(the_ce, rte_get_main_lcore()));
	rte_eal_mp_wait_lcore();

	ce_stats_print(the_ce, stdout);
	if (a.stats_out != NULL) {
		FILE *f = fopen(a.stats_out, "w");

		if (f == NULL || ce_stats_write_json(the_ce, f) != 0) {
			fprintf(stderr, "spigate: %s: %s\n", a.stats_out,
				strerror(errno));
			rc = 1;
		}
		if (f != NULL)
			fclose(f);
	}
	ce_destroy(the_ce);
	the_ce = NULL;
	rte_eal_cleanup();
	free(ev);
	ce_policydb_free(&db);
	ce_deploy_free(&dep);
	return rc;
}
