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
#include "clock.h"
#include "record.h"
#include "timeparse.h"
#include "tollctl.h"
#include "usage.h"

#define LOGS_DEFAULT_LIMIT	20

static const char logs_help[] =
"usage: tollctl logs [--ledger DIR] [--limit N] [--json] [--key K] [--model M]\n"
"                    [--status S] [--flag F] [--since T] [--follow]\n"
"\n"
"Prints the newest spend records of the ledger, newest first.\n"
"\n"
"  --ledger DIR   the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                 " TOLLGATE_LEDGER ")\n"
"  --limit N      at most N records (default: 20)\n"
"  --json         one JSON object per record and line, every field, costs as\n"
"                 exact decimal USD\n"
"  --key K        only records of key id K (\"master\", \"key:...\")\n"
"  --model M      only records whose model asked for, deployment or price-map\n"
"                 entry is M\n"
"  --status S     only this HTTP status (200) or class (2xx, 4xx, 5xx)\n"
"  --flag F       only records carrying flag F (unpriced, client_aborted, ...)\n"
"  --since T      only records that ended at or after T (2026-11-23, 24h, 7d)\n"
"  --follow       then keep printing new records as they land, oldest first,\n"
"                 until interrupted\n"
"\n"
"The table has one line per record: the end time (UTC), the HTTP status, the\n"
"model requested and the price-map entry it was priced as (- unpriced), tokens\n"
"in (uncached input of every modality), from or into the cache, and out\n"
"(output and reasoning of every modality), the exact cost in USD, and the flags.\n"
"Exit status: 0 printed; 1 bad arguments or an unreadable ledger.\n";

/* What --key, --model, --status, --flag and --since ask for; empty matches all. */
struct logs_filter {
	const char	*key;
	const char	*model;
	int		 status;	/* exact, or 100 * class for "4xx"; 0 for any */
	int		 status_class;
	uint32_t	 usage_flag, record_flag;
	int64_t		 since_ns;
};

struct logs_list {
	struct record		*recs;
	size_t			 n;
	size_t			 cap;
	size_t			 limit;
	int			 oom;
	const struct logs_filter *f;
};

static int
matches(const struct logs_filter *f, const struct record *r)
{
	if (f->key && strcmp(f->key, r->key) != 0)
		return 0;
	if (f->model && strcmp(f->model, r->model_requested) != 0 &&
	    strcmp(f->model, r->deployment) != 0 && strcmp(f->model, r->priced_as) != 0)
		return 0;
	if (f->status && (f->status_class ? r->status / 100 != f->status / 100 : r->status != f->status))
		return 0;
	if ((f->usage_flag && !(r->usage_flags & f->usage_flag)) ||
	    (f->record_flag && !(r->flags & f->record_flag)))
		return 0;
	return 1;
}

/* Copies each matching record out: the read transaction ends before anything is printed. */
static int
collect(void *arg, const struct record *r)
{
	struct logs_list *list = arg;

	if (r->end_ns < list->f->since_ns)
		return 1;	/* newest first: everything after this is older still */
	if (!matches(list->f, r))
		return 0;
	if (ARRAY_GROW(list->recs, list->n, list->cap) < 0) {
		list->oom = 1;
		return 1;
	}
	list->recs[list->n++] = *r;
	return list->n >= list->limit;
}

static int
parse_filter_flag(const char *name, struct logs_filter *f)
{
	unsigned bit;

	for (bit = 0; usage_flag_name(bit); bit++)
		if (strcmp(name, usage_flag_name(bit)) == 0) {
			f->usage_flag = 1u << bit;
			return 0;
		}
	for (bit = 0; record_flag_name(bit); bit++)
		if (strcmp(name, record_flag_name(bit)) == 0) {
			f->record_flag = 1u << bit;
			return 0;
		}
	return -1;
}

static int
parse_status(const char *s, struct logs_filter *f)
{
	if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && strcmp(s + 1, "xx") == 0) {
		f->status = (s[0] - '0') * 100;
		f->status_class = 1;
		return 0;
	}
	if (strlen(s) == 3 && strspn(s, "0123456789") == 3 && s[0] >= '1' && s[0] <= '5') {
		f->status = atoi(s);
		return 0;
	}
	return -1;
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

/* Under a routed request's line: each failed attempt, then who answered after how many. */
static void
attempts_text(const struct record *r, struct buf *o)
{
	char cost[MONEY_FORMAT_MAX];
	uint32_t i;

	for (i = 0; i < r->nattempts && i < RECORD_ATTEMPTS_MAX; i++) {
		const struct record_attempt *a = &r->attempts[i];

		buf_printf(o, "    attempt %u  %s/%s  %s", i + 1, a->provider, a->deployment, a->failure);
		if (a->status)
			buf_printf(o, " %u", a->status);
		buf_printf(o, "  in %lld out %lld  %s\n", (long long)a->input, (long long)a->output,
		    money_format(a->total, MONEY_COST_SCALE, cost));
	}
	if (r->retries || r->fallbacks)
		buf_printf(o, "    answered by %s/%s of %s after %u retr%s, %u fallback%s\n",
		    r->provider[0] ? r->provider : "-", r->deployment[0] ? r->deployment : "-",
		    r->group[0] ? r->group : r->model_requested, r->retries,
		    r->retries == 1 ? "y" : "ies", r->fallbacks, r->fallbacks == 1 ? "" : "s");
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
		attempts_text(r, o);
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

/* Records that landed since the last look, oldest first, for --follow. */
struct follow_state {
	struct logs_list	*list;
	int64_t			 last_ns;	/* end time of the newest record shown */
	char			 (*seen)[40];	/* ids shown that ended at last_ns */
	size_t			 nseen, capseen;
};

static int
collect_new(void *arg, const struct record *r)
{
	struct follow_state *st = arg;
	size_t i;

	if (r->end_ns == st->last_ns)
		for (i = 0; i < st->nseen; i++)
			if (strcmp(st->seen[i], r->id) == 0)
				return 0;
	if (!matches(st->list->f, r))
		return 0;
	if (ARRAY_GROW(st->list->recs, st->list->n, st->list->cap) < 0) {
		st->list->oom = 1;
		return 1;
	}
	st->list->recs[st->list->n++] = *r;
	return 0;
}

/* Polls the ledger every 200 ms and prints what is new; runs until interrupted. */
static int
follow_ledger(struct ledger *l, struct logs_list *list, int json)
{
	struct follow_state st = { .list = list, .last_ns = list->f->since_ns };
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	size_t i;

	for (;;) {
		struct buf o = { 0 };

		if (list->n) {
			/* the ids shown at the newest end time, so that they are not shown twice */
			for (i = 0; i < list->n; i++)
				if (list->recs[i].end_ns > st.last_ns) {
					st.last_ns = list->recs[i].end_ns;
					st.nseen = 0;
				}
			for (i = 0; i < list->n; i++)
				if (list->recs[i].end_ns == st.last_ns &&
				    ARRAY_GROW(st.seen, st.nseen, st.capseen) == 0)
					snprintf(st.seen[st.nseen++], sizeof(st.seen[0]), "%s",
					    list->recs[i].id);
		}
		list->n = 0;
		if (ledger_range(l, st.last_ns, INT64_MAX, collect_new, &st) < 0 || list->oom) {
			log_error("cannot read the ledger");
			free(st.seen);
			return TOLLCTL_EXIT_ERROR;
		}
		for (i = 0; json && i < list->n; i++)
			if (record_to_json(&list->recs[i], &o) == 0)
				buf_append(&o, "\n", 1);
		if (!json && list->n)
			print_table(list, &o);
		if (o.len) {
			fwrite(o.data, 1, o.len, stdout);
			fflush(stdout);
		}
		buf_release(&o);
		if (list->n == 0)
			nanosleep(&pause, NULL);
	}
}

int
logs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "model", required_argument, NULL, 'm' },
		{ "status", required_argument, NULL, 's' },
		{ "flag", required_argument, NULL, 'F' },
		{ "since", required_argument, NULL, 'S' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir();
	struct logs_filter f = { 0 };
	struct logs_list list = { .f = &f };
	struct ledger *l = NULL;
	struct buf o = { 0 };
	char err[PATH_MAX + 256];
	size_t limit = LOGS_DEFAULT_LIMIT;
	int json = 0, follow = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:n:jk:m:s:F:S:fh", opts, NULL)) != -1) {
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
		case 'k':
			f.key = optarg;
			break;
		case 'm':
			f.model = optarg;
			break;
		case 's':
			if (parse_status(optarg, &f) < 0) {
				log_error("--status: '%s' is not an HTTP status (200) or class (4xx)", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'F':
			if (parse_filter_flag(optarg, &f) < 0) {
				log_error("--flag: unknown flag '%s' (see 'tollctl logs --json' output for names)",
				    optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'S':
			if (time_parse(optarg, clock_now_ns(), &f.since_ns, err, sizeof(err)) < 0) {
				log_error("--since: %s", err);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'f':
			follow = 1;
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
	list.limit = limit;
	if (ledger_newest(l, SIZE_MAX, collect, &list) < 0 || list.oom) {
		log_error("cannot read ledger '%s'%s", dir, list.oom ? ": out of memory" : "");
		goto out;
	}
	if (!follow) {
		ledger_close(l);
		l = NULL;
	}
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
	fflush(stdout);
	rc = follow ? follow_ledger(l, &list, json) : TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	free(list.recs);
	buf_release(&o);
	return rc;
}
