/*
 * tollctl logs: the newest spend records of the ledger, as a table or as
 * JSON lines.  Opens the ledger read-only; the gateway may be writing to it.
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
#include "record.h"
#include "tollctl.h"
#include "usage.h"

#ifndef TOLLGATE_LEDGER
#define TOLLGATE_LEDGER "/var/lib/tollgate/ledger"
#endif

#define LOGS_DEFAULT_LIMIT	20

static const char logs_help[] =
"usage: tollctl logs [--ledger DIR] [--limit N] [--json]\n"
"\n"
"Prints the newest spend records of the ledger, newest first.\n"
"\n"
"  --ledger DIR   the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                 " TOLLGATE_LEDGER ")\n"
"  --limit N      at most N records (default: 20)\n"
"  --json         one JSON object per record and line, every field, costs as\n"
"                 exact decimal USD\n"
"\n"
"The table has one line per record: the end time (UTC), the HTTP status, the\n"
"model requested and the price-map entry it was priced as (- unpriced), tokens\n"
"in (uncached input of every modality), from or into the cache, and out\n"
"(output and reasoning of every modality), the exact cost in USD, and the flags.\n"
"Exit status: 0 printed; 1 bad arguments or an unreadable ledger.\n";

struct logs_list {
	struct record	*recs;
	size_t		 n;
	size_t		 cap;
	int		 oom;
};

/* Copies each record out: the read transaction ends before anything is printed. */
static int
collect(void *arg, const struct record *r)
{
	struct logs_list *list = arg;

	if (ARRAY_GROW(list->recs, list->n, list->cap) < 0) {
		list->oom = 1;
		return 1;
	}
	list->recs[list->n++] = *r;
	return 0;
}

static void
flags_text(const struct record *r, struct buf *o)
{
	size_t mark = o->len;
	unsigned bit;

	for (bit = 0; usage_flag_name(bit); bit++)
		if (r->usage_flags & (1u << bit))
			buf_printf(o, "%s%s", o->len > mark ? "," : "", usage_flag_name(bit));
	for (bit = 0; record_flag_name(bit); bit++)
		if (r->flags & (1u << bit))
			buf_printf(o, "%s%s", o->len > mark ? "," : "", record_flag_name(bit));
	if (o->len == mark)
		buf_printf(o, "-");
}

static void
print_table(const struct logs_list *list, struct buf *o)
{
	const int64_t *t;
	char when[32], cost[MONEY_FORMAT_MAX];
	int wm = (int)strlen("MODEL"), wp = (int)strlen("PRICED AS"), w;
	struct tm tm;
	time_t sec;
	size_t i;

	for (i = 0; i < list->n; i++) {
		if ((w = (int)strlen(list->recs[i].model_requested)) > wm)
			wm = w;
		if ((w = (int)strlen(list->recs[i].priced_as)) > wp)
			wp = w;
	}
	buf_printf(o, "%-19s  %6s  %-*s  %-*s  %9s  %9s  %9s  %14s  %s\n", "TIME (UTC)", "STATUS",
	    wm, "MODEL", wp, "PRICED AS", "IN", "CACHE", "OUT", "COST USD", "FLAGS");
	for (i = 0; i < list->n; i++) {
		const struct record *r = &list->recs[i];

		t = r->tokens;
		sec = (time_t)(r->end_ns / 1000000000);
		if (gmtime_r(&sec, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) == 0)
			snprintf(when, sizeof(when), "?");
		buf_printf(o, "%-19s  %6u  %-*s  %-*s  %9lld  %9lld  %9lld  %14s  ", when,
		    r->status, wm, r->model_requested, wp, r->priced_as[0] ? r->priced_as : "-",
		    (long long)(t[RECORD_TOK_INPUT] + t[RECORD_TOK_AUDIO_IN] +
		    t[RECORD_TOK_IMAGE_IN] + t[RECORD_TOK_TOOL_PROMPT]),
		    (long long)(t[RECORD_TOK_CACHE_READ] + t[RECORD_TOK_CACHE_WRITE_5M] +
		    t[RECORD_TOK_CACHE_WRITE_1H]),
		    (long long)(t[RECORD_TOK_OUTPUT] + t[RECORD_TOK_REASONING] +
		    t[RECORD_TOK_AUDIO_OUT] + t[RECORD_TOK_IMAGE_OUT]),
		    money_format(r->total, MONEY_COST_SCALE, cost));
		flags_text(r, o);
		buf_printf(o, "\n");
	}
}

static int
print_json(const struct logs_list *list, struct buf *o)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (record_to_json(&list->recs[i], o) < 0 || buf_append(o, "\n", 1) < 0)
			return -1;
	return 0;
}

int
logs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = getenv("TOLLGATE_LEDGER");
	struct logs_list list = { 0 };
	struct ledger *l = NULL;
	struct buf o = { 0 };
	char err[PATH_MAX + 256];
	size_t limit = LOGS_DEFAULT_LIMIT;
	int json = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	if (dir == NULL || *dir == '\0')
		dir = TOLLGATE_LEDGER;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:n:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			dir = optarg;
			break;
		case 'n': {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || optarg[0] == '-') {
				log_error("--limit: '%s' is not a positive number", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			limit = (size_t)v;
			break;
		}
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(logs_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(logs_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl logs --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}

	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (ledger_newest(l, limit, collect, &list) < 0 || list.oom) {
		log_error("cannot read ledger '%s'%s", dir, list.oom ? ": out of memory" : "");
		goto out;
	}
	ledger_close(l);
	l = NULL;
	if (json) {
		if (print_json(&list, &o) < 0) {
			log_error("out of memory");
			goto out;
		}
	} else
		print_table(&list, &o);
	if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len) {
		log_error("cannot write the records: %s", strerror(errno));
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	free(list.recs);
	buf_release(&o);
	return rc;
}
