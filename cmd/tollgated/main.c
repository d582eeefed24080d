/*
 * tollgated: the LLM API gateway daemon.  Parses the command line and hands
 * over to the master (master.c), or checks a configuration with -t.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tollgated.h"

#ifndef TOLLGATE_VERSION
#define TOLLGATE_VERSION "unknown"
#endif
#ifndef TOLLGATE_CONFIG
#define TOLLGATE_CONFIG "/etc/tollgate/tollgate.yaml"
#endif

static const char usage_text[] =
"usage: tollgated [-f] [-t [--strict]] [-c FILE] [--ledger DIR] [--run-dir DIR] [--ui-dir DIR]\n"
"\n"
"  -c, --config FILE   the configuration (default: " TOLLGATE_CONFIG ")\n"
"  -f, --foreground    stay in the foreground (default: become a daemon)\n"
"  -t, --test          check the configuration and the price files, then exit\n"
"      --strict        with -t: the configuration's warnings (a deployment left out,\n"
"                      a key not implemented) are errors, for CI pipelines\n"
"      --ledger DIR    the ledger directory, instead of tollgate.ledger_path\n"
"      --run-dir DIR   the run directory, instead of tollgate.run_dir\n"
"      --ui-dir DIR    the dashboard's files, instead of tollgate.ui_dir\n"
"  -V, --version       print the version\n"
"\n"
"Signals: HUP reloads the configuration and prices, TERM and INT drain and stop,\n"
"USR1 reopens the log file.\n";

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "test", no_argument, NULL, 't' },
		{ "strict", no_argument, NULL, 'S' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "ui-dir", required_argument, NULL, 'U' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .config_path = TOLLGATE_CONFIG };
	struct config *c;
	struct routes *r;
	struct price_table *t;
	SSL_CTX *tls;
	char err[1024];
	int ch;

	log_init("tollgated", LOG_LEVEL_INFO);
	while ((ch = getopt_long(argc, argv, "c:ftVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.config_path = optarg; break;
		case 'f': o.foreground = 1; break;
		case 't': o.check_only = 1; break;
		case 'S': o.strict = 1; break;
		case 'L': o.ledger_dir = optarg; break;
		case 'R': o.run_dir = optarg; break;
		case 'U': o.ui_dir = optarg; break;
		case 'V':
			printf("tollgated %s\n", TOLLGATE_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fputs(usage_text, stderr);
		return 1;
	}
	if (o.check_only) {
		if (master_load(&o, &c, &r, &t, &tls, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return 1;
		}
		printf("tollgated: configuration '%s' is valid\n", o.config_path);
		free(t);
		SSL_CTX_free(tls);
		routes_free(r);
		config_free(c);
		return 0;
	}
	return master_main(&o);
}
