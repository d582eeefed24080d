/*
 * tollctl stat and tollctl export: the state of the ledger and the live
 * gateway, and raw records of a time window as CSV or JSON lines.  Both read
 * the ledger read-only while the gateway writes.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "record.h"
#include "shm.h"
#include "timeparse.h"
#include "tollctl.h"
#include "usage.h"

/* ---- stat ------------------------------------------------------------------ */

static const char stat_help[] =
"usage: tollctl stat [--ledger DIR] [--run-dir DIR]\n"
"\n"
"Prints the state of the ledger (records, size, map use, bytes per record,\n"
"oldest and newest record, how far retention has pruned, the accountant's lag:\n"
"records not yet in the aggregates, the last 24 hours' records whose provider\n"
"stated its own cost and those flagged cost_mismatch) and of the running gateway\n"
"(the price-map generation in use and when it was published).\n"
"\n"
"  --ledger DIR    the ledger (default: $TOLLGATE_LEDGER, else " TOLLGATE_LEDGER ")\n"
"  --run-dir DIR   the gateway's run directory (default: $TOLLGATE_RUN_DIR, else\n"
"                  " TOLLGATE_RUN_DIR ")\n";

static int
first_record(void *arg, const struct record *r)
{
	*(int64_t *)arg = r->end_ns;
	return 1;
}

/* Counts [0] the records with the provider's own cost, [1] those flagged cost_mismatch. */
static int
count_provider_costs(void *arg, const struct record *r)
{
	uint64_t *n = arg;

	n[0] += (r->flags & RECORD_FLAG_PROVIDER_COST) != 0;
	n[1] += (r->flags & RECORD_FLAG_COST_MISMATCH) != 0;
	return 0;
}

int
stat_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir();
	const char *run = tollctl_run_dir();
	uint64_t records, used, map, lag = 0, costs[2] = { 0, 0 };
	struct timespec now;
	int64_t oldest = 0, newest = 0, horizon = 0;
	struct ledger *l = NULL;
	struct shm *shm = NULL;
	struct shm_header h;
	char err[PATH_MAX + 256], t1[40], t2[40];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:r:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': dir = optarg; break;
		case 'r': run = optarg; break;
		case 'h': fputs(stat_help, stdout); return TOLLCTL_EXIT_OK;
		default: fputs(stat_help, stderr); return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl stat --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	if (ledger_stat(l, &records, &used, &map) < 0 ||
	    ledger_range(l, 0, INT64_MAX, first_record, &oldest) < 0) {
		log_error("cannot read ledger '%s'", dir);
		ledger_close(l);
		return TOLLCTL_EXIT_ERROR;
	}
	ledger_newest(l, 1, first_record, &newest);
	clock_gettime(CLOCK_REALTIME, &now);
	ledger_range(l, ((int64_t)now.tv_sec - 86400) * 1000000000LL, INT64_MAX,
	    count_provider_costs, costs);
	if (aggregate_lag(l, &lag) < 0)
		lag = UINT64_MAX;
	aggregate_pruned(l, &horizon);
	ledger_close(l);
	printf("ledger            %s\n", dir);
	printf("records           %llu\n", (unsigned long long)records);
	printf("bytes in use      %llu of a %llu-byte map (%.1f%%)\n", (unsigned long long)used,
	    (unsigned long long)map, map ? 100.0 * (double)used / (double)map : 0.0);
	if (records)
		printf("bytes per record  %llu\n", (unsigned long long)(used / records));
	printf("oldest record     %s\n", records ? time_format(oldest, t1, sizeof(t1)) : "-");
	printf("newest record     %s\n", records ? time_format(newest, t2, sizeof(t2)) : "-");
	if (horizon > 0)
		printf("pruned before     %s (ledger.retention; the aggregates keep those days)\n",
		    time_format(horizon, t1, sizeof(t1)));
	if (lag == UINT64_MAX)
		printf("accountant lag    unknown\n");
	else
		printf("accountant lag    %llu record%s not yet in the aggregates\n",
		    (unsigned long long)lag, lag == 1 ? "" : "s");
	printf("provider costs    %llu record%s in the last 24 h stated by the provider, "
	    "%llu cost_mismatch\n", (unsigned long long)costs[0], costs[0] == 1 ? "" : "s",
	    (unsigned long long)costs[1]);
	if (shm_attach(run, &shm, err, sizeof(err)) == 0) {
		shm_read_header(shm, &h);
		printf("gateway           master pid %llu, price-map generation %llu (published %s)\n",
		    (unsigned long long)h.master_pid, (unsigned long long)h.generation,
		    time_format(h.published_ns, t1, sizeof(t1)));
		shm_detach(shm);
	} else
		printf("gateway           not running here (%s)\n", err);
	return TOLLCTL_EXIT_OK;
}

/* ---- export ------------------------------------------------------------------ */

static const char export_help[] =
"usage: tollctl export --since T --until T [--format csv|jsonl] [--ledger DIR]\n"
"\n"
"Writes the raw records that ended in [since, until) to standard output, oldest\n"
"first: CSV with a header line (the default), or JSON lines (every field, as\n"
"'tollctl logs --json').  T is an RFC 3339 date or time (2026-11-23,\n"
"2026-11-23T12:00:00Z) or a relative time (24h, 7d).  Costs are exact decimal USD.\n";

static const char *const csv_tokens[] = {
	"input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning",
	"audio_input", "audio_output", "image_input", "image_output", "tool_use_prompt",
	"search_queries", "duration_ms",
};

_Static_assert(sizeof(csv_tokens) / sizeof(csv_tokens[0]) == RECORD_TOKEN_COUNT,
    "one CSV column per token category");

struct export_ctx {
	struct buf	o;
	int		csv;
	int		oom;
};

static int
export_record(void *arg, const struct record *r)
{
	struct export_ctx *x = arg;
	char t[40], num[MONEY_FORMAT_MAX];
	const char *fields[] = { r->id, NULL, NULL, NULL, r->key, r->user, r->team, r->customer,
		r->tags, r->endpoint, r->model_requested, r->deployment, r->provider, r->priced_as };
	unsigned bit;
	size_t i, mark;

	if (!x->csv) {
		if (record_to_json(r, &x->o) < 0 || buf_append(&x->o, "\n", 1) < 0)
			x->oom = 1;
		return x->oom;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (i)
			buf_append(&x->o, ",", 1);
		if (i == 1)
			buf_printf(&x->o, "%s", time_format(r->start_ns, t, sizeof(t)));
		else if (i == 2)
			buf_printf(&x->o, "%s", time_format(r->end_ns, t, sizeof(t)));
		else if (i == 3)
			buf_printf(&x->o, "%u", r->status);
		else
			buf_csv_field(&x->o, fields[i]);
	}
	buf_printf(&x->o, ",%llu", (unsigned long long)r->generation);
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		buf_printf(&x->o, ",%lld", (long long)r->tokens[i]);
	buf_printf(&x->o, ",%s,", money_format(r->total, MONEY_COST_SCALE, num));
	mark = x->o.len;
	for (bit = 0; usage_flag_name(bit); bit++)
		if (r->usage_flags & (1u << bit))
			buf_printf(&x->o, "%s%s", x->o.len > mark ? " " : "", usage_flag_name(bit));
	for (bit = 0; record_flag_name(bit); bit++)
		if (r->flags & (1u << bit))
			buf_printf(&x->o, "%s%s", x->o.len > mark ? " " : "", record_flag_name(bit));
	buf_append(&x->o, "\n", 1);
	/* write as we go: an export of millions of records must not sit in memory */
	if (x->o.len > (1 << 20)) {
		fwrite(x->o.data, 1, x->o.len, stdout);
		x->o.len = 0;
	}
	return 0;
}

int
export_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir();
	const char *since = NULL, *until = NULL;
	struct export_ctx x = { .csv = 1 };
	int64_t since_ns, until_ns, now = clock_now_ns();
	struct ledger *l = NULL;
	char err[PATH_MAX + 256];
	size_t i;
	int ch, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:s:u:f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': dir = optarg; break;
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'f':
			if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0) {
				log_error("--format: '%s' is not csv or jsonl", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			x.csv = strcmp(optarg, "csv") == 0;
			break;
		case 'h': fputs(export_help, stdout); return TOLLCTL_EXIT_OK;
		default: fputs(export_help, stderr); return TOLLCTL_EXIT_ERROR;
		}
	}
	if (since == NULL || until == NULL) {
		log_error("export needs --since and --until (try 'tollctl export --help')");
		return TOLLCTL_EXIT_ERROR;
	}
	if (time_parse(since, now, &since_ns, err, sizeof(err)) < 0 ||
	    time_parse(until, now, &until_ns, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	if (x.csv) {
		buf_printf(&x.o, "id,start,end,status,key,user,team,customer,tags,endpoint,"
		    "model_requested,deployment,provider,priced_as,generation");
		for (i = 0; i < RECORD_TOKEN_COUNT; i++)
			buf_printf(&x.o, ",%s", csv_tokens[i]);
		buf_printf(&x.o, ",cost_usd,flags\n");
	}
	if (ledger_range(l, since_ns, until_ns, export_record, &x) < 0 || x.oom)
		log_error("cannot read ledger '%s'%s", dir, x.oom ? ": out of memory" : "");
	else
		rc = TOLLCTL_EXIT_OK;
	if (x.o.len)
		fwrite(x.o.data, 1, x.o.len, stdout);
	buf_release(&x.o);
	ledger_close(l);
	return rc;
}
