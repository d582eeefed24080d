/*
 * tollctl: the operator's command-line tool.  One table of commands; each
 * command parses its own options and prints its own --help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tollctl.h"

struct command {
	const char	*name;
	int		(*main)(int, char **);
	const char	*summary;
};

static const struct command commands[] = {
	{ "cost", cost_main, "price a response body, a recorded stream or a usage object" },
	{ "spend", spend_main, "spend totals grouped by key, user, team, customer, tag, model, provider, day, hour" },
	{ "aggregate", aggregate_main, "rebuild the spend aggregates from the raw records (--rebuild)" },
	{ "logs", logs_main, "the newest spend records of the ledger (--follow to tail)" },
	{ "stat", stat_main, "the ledger's size and records, the gateway's price generation" },
	{ "status", status_main, "the running gateway: workers and their load, in-flight requests, budgets" },
	{ "export", export_main, "raw records of a time window as CSV or JSON lines" },
	{ "reconcile", reconcile_main, "compare the ledger with a provider's usage export" },
	{ "rerate", rerate_main, "re-price recorded requests with corrected prices (--apply to adjust)" },
	{ "whatif", whatif_main, "what a window's recorded usage would have cost on another model or tier" },
	{ "prices", prices_main, "compare two price maps (diff), a model's price versions (show), install the community map (fetch)" },
	{ "keys", keys_main, "create, list, show, change and revoke virtual keys" },
	{ "alerts", alerts_main, "alerts fired and the outbox's deliveries (retries, failures)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: tollctl [-c FILE] COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n"
	    "  -c, --config FILE   the gateway's configuration: its ledger_path and run_dir\n"
	    "                      are where the commands look (a command's --ledger and\n"
	    "                      --run-dir still win).  Without it: $TOLLGATE_LEDGER and\n"
	    "                      $TOLLGATE_RUN_DIR, then " TOLLGATE_CONFIG " when\n"
	    "                      it can be read, then the defaults\n"
	    "\n'tollctl COMMAND --help' describes a command.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	log_init("tollctl", LOG_LEVEL_INFO);
	if (argc >= 2 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0 ||
	    strncmp(argv[1], "--config=", 9) == 0)) {
		int used = strncmp(argv[1], "--config=", 9) == 0 ? 1 : 2;
		const char *path = used == 1 ? argv[1] + 9 : argv[2];

		if (path == NULL || *path == '\0') {
			log_error("%s needs a file name (try 'tollctl --help')", argv[1]);
			return TOLLCTL_EXIT_ERROR;
		}
		if (tollctl_use_config(path) < 0)
			return TOLLCTL_EXIT_ERROR;
		argv[used] = argv[0];
		argc -= used;
		argv += used;
	}
	if (argc < 2) {
		usage(stderr);
		return TOLLCTL_EXIT_ERROR;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return TOLLCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("tollctl %s\n", TOLLGATE_VERSION);
		return TOLLCTL_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	log_error("unknown command '%s' (try 'tollctl --help')", argv[1]);
	return TOLLCTL_EXIT_ERROR;
}
