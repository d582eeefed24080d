/*
 * tollctl reconcile: compares the ledger's totals for a window with a
 * provider's usage export for the same window, per model and category, and
 * says which side of the pipeline to suspect.  Opens the ledger read-only;
 * the gateway may be writing to it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "reconcile.h"
#include "timeparse.h"
#include "tollctl.h"

#define RECONCILE_DEFAULT_THRESHOLD10	100	/* 10.0% */

static const char reconcile_help[] =
"usage: tollctl reconcile --provider-csv FILE --since T --until T [--model M]\n"
"                         [--ledger DIR] [--threshold PCT] [--format table|json]\n"
"       tollctl reconcile --provider-cost --since T --until T [--model M]\n"
"                         [--ledger DIR] [--format table|json]\n"
"\n"
"With --provider-cost: the records whose provider reported its own cost in the\n"
"answer (OpenRouter, xAI, DeepInfra), per UTC day and model (the price-map entry,\n"
"else the deployment): how many, how many the gateway flagged cost_mismatch\n"
"(tollgate.cost_mismatch_threshold), tollgate's cost and the provider's, and the\n"
"difference; exit status 3 when any was flagged.\n"
"\n"
"Compares tollgate's spend records with a provider's usage export for the same\n"
"window: per model, requests, input (uncached), output (with reasoning), cache\n"
"read, cache write (5m + 1h) and cost, with the delta and delta %.\n"
"\n"
"  --provider-csv FILE  the provider's export; the format is read from the header:\n"
"                       OpenAI's usage dashboard export (CSV or TSV; input_tokens\n"
"                       minus its cached and cache-write parts is compared as input),\n"
"                       Anthropic's console usage export (no requests, no cost), or\n"
"                       date,model,requests,input,output,cache_read,cache_write,cost\n"
"                       (tollgate's meanings, cost in USD; any cell may be empty:\n"
"                       then that category is not compared)\n"
"  --since T, --until T the window [since, until): RFC 3339 (2026-11-01) or relative\n"
"                       (7d); records count by their end time, export rows by the\n"
"                       start of their UTC day (or hour)\n"
"  --model M            only this model: its requested name, deployment or price-map\n"
"                       entry, also matched without prefix and snapshot date\n"
"  --ledger DIR         the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                       " TOLLGATE_LEDGER ")\n"
"  --threshold PCT      the delta that counts as a mismatch (default: 10)\n"
"  --format F           table (default) or json\n"
"\n"
"Day boundaries: provider exports bucket usage by UTC day, and a day's row is\n"
"counted whole when the day starts in [since, until).  Pass day-aligned times\n"
"(--since 2026-11-01 --until 2026-11-08); a window that cuts a day in half\n"
"compares part of tollgate's day with the provider's whole day and shows a delta.\n"
"\n"
"Models are paired by name: tollgate's name is the deployment, the provider's\n"
"model (litellm_params.model without its provider prefix; else the price-map\n"
"entry, else the model requested); an exact match first, then the names\n"
"without a provider prefix (openai/) and a trailing snapshot date (-20251001,\n"
"-2024-07-18), summing every snapshot of a model.\n"
"\n"
"Verdicts per model: ok; quantities differ (ingestion: tokens missing or\n"
"categorised differently); quantities match, cost differs (price map or\n"
"formula); only in tollgate; only in provider export.\n"
"Exit status: 0 every category within the threshold; 3 some category beyond it\n"
"(or a model with usage on one side only); 1 bad arguments, an unreadable or\n"
"malformed export, or an unreadable ledger.\n";

struct gate_visit {
	struct reconcile_set	*set;
	const char		*model;
	int			 oom;
};

static int
visit(void *arg, const struct record *r)
{
	struct gate_visit *v = arg;

	if (v->model && !reconcile_record_matches(r, v->model))
		return 0;
	if (reconcile_add_record(v->set, r) < 0) {
		v->oom = 1;
		return 1;
	}
	return 0;
}

/* Keeps the provider's models that match --model by the same rule as records. */
static void
filter_provider(struct reconcile_set *s, const char *model)
{
	char a[RECONCILE_MODEL_MAX], b[RECONCILE_MODEL_MAX];
	size_t i, n = 0;

	reconcile_model_key(model, b);
	for (i = 0; i < s->n; i++) {
		reconcile_model_key(s->m[i].model, a);
		if (strcmp(s->m[i].model, model) == 0 || strcmp(a, b) == 0)
			s->m[n++] = s->m[i];
	}
	s->n = n;
}

static int
parse_time_opt(const char *opt, const char *s, int64_t now, int64_t *out)
{
	char err[256];

	if (time_parse(s, now, out, err, sizeof(err)) < 0) {
		log_error("%s: %s", opt, err);
		return -1;
	}
	return 0;
}

int
reconcile_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "provider-csv", required_argument, NULL, 'p' },
		{ "provider-cost", no_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "model", required_argument, NULL, 'm' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "threshold", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir(), *csv = NULL, *since_s = NULL;
	const char *until_s = NULL, *model = NULL;
	struct reconcile_set gate = { 0 }, prov = { 0 };
	struct reconcile_report report = { 0 };
	enum reconcile_format fmt = RECONCILE_FMT_GENERIC;
	struct gate_visit gv;
	struct ledger *l = NULL;
	struct buf data = { 0 }, o = { 0 };
	char err[PATH_MAX + 512];
	int64_t since, until, threshold10 = RECONCILE_DEFAULT_THRESHOLD10, now;
	struct timespec ts;
	int json = 0, by_cost = 0, mismatch = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:cs:u:m:l:t:f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			by_cost = 1;
			break;
		case 'p':
			csv = optarg;
			break;
		case 's':
			since_s = optarg;
			break;
		case 'u':
			until_s = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		case 'l':
			dir = optarg;
			break;
		case 't':
			if (money_parse_decimal(optarg, strlen(optarg), 1, 0, &threshold10) < 0) {
				log_error("--threshold: '%s' is not a percentage (e.g. 10 or 2.5)",
				    optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "table") == 0)
				json = 0;
			else {
				log_error("--format: '%s' is not table or json", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'h':
			fputs(reconcile_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(reconcile_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl reconcile --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if ((csv == NULL && !by_cost) || since_s == NULL || until_s == NULL) {
		log_error("--%s is required (try 'tollctl reconcile --help')",
		    csv == NULL && !by_cost ? "provider-csv or --provider-cost" :
		    since_s == NULL ? "since" : "until");
		return TOLLCTL_EXIT_ERROR;
	}
	if (csv != NULL && by_cost) {
		log_error("--provider-csv and --provider-cost are two reports: one at a time");
		return TOLLCTL_EXIT_ERROR;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (parse_time_opt("--since", since_s, now, &since) < 0 ||
	    parse_time_opt("--until", until_s, now, &until) < 0)
		return TOLLCTL_EXIT_ERROR;
	if (since >= until) {
		log_error("--since '%s' is not before --until '%s'", since_s, until_s);
		return TOLLCTL_EXIT_ERROR;
	}
	if (by_cost) {
		if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
			log_error("%s", err);
			goto out;
		}
		if (reconcile_provider_cost(l, since, until, model, json, &o, &mismatch) < 0) {
			log_error("cannot read ledger '%s'", dir);
			goto out;
		}
		if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len) {
			log_error("cannot write the report: %s", strerror(errno));
			goto out;
		}
		rc = mismatch ? TOLLCTL_EXIT_BEYOND : TOLLCTL_EXIT_OK;
		goto out;
	}
	if (time_day_start(since) != since || time_day_start(until) != until)
		log_warn("the window does not start and end at 00:00 UTC: provider exports "
		    "bucket by UTC day, so the days it cuts will show a delta");

	if (buf_read_file(&data, csv) < 0) {
		log_error("cannot read '%s': %s", csv, strerror(errno));
		goto out;
	}
	if (reconcile_parse_csv(csv, data.data ? data.data : "", data.len, since, until, &prov,
	    &fmt, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (model)
		filter_provider(&prov, model);

	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	gv.set = &gate;
	gv.model = model;
	gv.oom = 0;
	if (ledger_range(l, since, until, visit, &gv) < 0 || gv.oom) {
		log_error("cannot read ledger '%s'%s", dir, gv.oom ? ": out of memory" : "");
		goto out;
	}
	ledger_close(l);
	l = NULL;

	if (reconcile_compare(&gate, &prov, threshold10, &report) < 0 ||
	    (json ? reconcile_write_json(&report, since, until, fmt, threshold10, &o) :
	    reconcile_write_table(&report, threshold10, &o)) < 0) {
		log_error("out of memory");
		goto out;
	}
	if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len) {
		log_error("cannot write the report: %s", strerror(errno));
		goto out;
	}
	fflush(stdout);
	rc = report.any_beyond ? TOLLCTL_EXIT_BEYOND : TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	reconcile_report_release(&report);
	reconcile_set_release(&gate);
	reconcile_set_release(&prov);
	buf_release(&data);
	buf_release(&o);
	return rc;
}
