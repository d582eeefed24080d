/*
 * tollctl spend: spend totals grouped by key, user, team, customer, tag,
 * model, provider, day or hour, read from the ledger's aggregates (never the
 * raw records).  tollctl aggregate --rebuild: recomputes the aggregates from
 * the raw records.  See lib/aggregate.h for what the aggregates hold.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate.h"
#include "buf.h"
#include "clock.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"
#include "tollctl.h"

#ifndef TOLLGATE_LEDGER
#define TOLLGATE_LEDGER "/var/lib/tollgate/ledger"
#endif

#define NS_PER_HOUR	3600000000000LL
#define NS_PER_DAY	(24 * NS_PER_HOUR)
#define SPEND_MAX_BY	9
#define REBUILD_BATCH	50000

static const char spend_help[] =
"usage: tollctl spend [--by DIM]... [--since T] [--until T] [--key K] [--model M]\n"
"                     [--format table|json|csv] [--ledger DIR]\n"
"\n"
"Prints spend totals from the ledger's aggregates, which the gateway's\n"
"accountant keeps up to date within a fraction of a second.\n"
"\n"
"  --by DIM       group by key, user, team, customer, tag, model, provider,\n"
"                 day or hour; repeat for several (default: one grand total)\n"
"  --since T      from T (RFC 3339, or 7d, 24h, ... back from now)\n"
"  --until T      up to T, excluded\n"
"  --key K        only the key K;  --model M  only the model M (the price-map\n"
"                 entry a request was priced as, else its deployment, else the\n"
"                 model requested)\n"
"  --format F     table (default), json (one object per line) or csv\n"
"  --ledger DIR   the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                 " TOLLGATE_LEDGER ")\n"
"\n"
"Granularity: daily aggregates cover whole UTC days, so --since and --until\n"
"inside a day include that whole day.  Hourly aggregates, kept for the last\n"
"7 days, are used for --by hour and when --since is within the last 7 days;\n"
"then --since and --until are taken to the whole UTC hour.\n"
"\n"
"Tags: a request with several tags counts in full under each of them, so\n"
"with --by tag the lines add up to more than the total; without --by tag\n"
"every request counts once.  Requests without tags are under the tag '-'.\n"
"\n"
"Columns: requests, errors (HTTP status >= 400 or no answer from upstream),\n"
"tokens of uncached input, cache read, cache write (5 minutes and 1 hour),\n"
"output, reasoning, and the exact cost in USD.\n"
"Exit status: 0 printed; 1 bad arguments or an unreadable ledger.\n";

static const char aggregate_help[] =
"usage: tollctl aggregate --rebuild [--ledger DIR]\n"
"\n"
"Drops the spend aggregates and recomputes them from the raw records of the\n"
"ledger.  Safe while the gateway runs: the accountant and this command take\n"
"turns at the ledger's single writer lock.\n"
"\n"
"  --ledger DIR   the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                 " TOLLGATE_LEDGER ")\n"
"Exit status: 0 rebuilt; 1 bad arguments or an unwritable ledger.\n";

enum by { BY_KEY, BY_USER, BY_TEAM, BY_CUSTOMER, BY_TAG, BY_MODEL, BY_PROVIDER, BY_DAY,
	BY_HOUR, BY_COUNT };

/* In enum agg_dim order, then day and hour. */
static const char *const by_names[BY_COUNT] = {
	"key", "user", "team", "customer", "tag", "model", "provider", "day", "hour"
};

struct group {
	char			*name;		/* the dimensions' values, '\x1f' between */
	struct agg_value	 v;
};

struct spend {
	enum by		 by[SPEND_MAX_BY];
	int		 nby, by_tag;
	const char	*key, *model;
	struct group	*g;
	size_t		 n, cap;
	int		 oom;
};

static void
bucket_text(int64_t ns, int hour, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;

	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(buf, len, hour ? "%Y-%m-%dT%H:00Z" : "%Y-%m-%d", &tm) == 0)
		snprintf(buf, len, "?");
}

static int
collect(void *arg, const struct agg_row *row)
{
	struct spend *s = arg;
	struct buf name = { 0 };
	char when[32];
	int i;

	if (row->all_tags == s->by_tag)
		return 0;
	if ((s->key && strcmp(row->dim[AGG_DIM_KEY], s->key) != 0) ||
	    (s->model && strcmp(row->dim[AGG_DIM_MODEL], s->model) != 0))
		return 0;
	for (i = 0; i < s->nby; i++) {
		if (i)
			buf_append(&name, "\x1f", 1);
		if (s->by[i] == BY_DAY || s->by[i] == BY_HOUR) {
			bucket_text(s->by[i] == BY_DAY ? time_day_start(row->bucket_ns) :
			    row->bucket_ns, s->by[i] == BY_HOUR, when, sizeof(when));
			buf_printf(&name, "%s", when);
		} else
			buf_printf(&name, "%s", row->dim[s->by[i]]);
	}
	if (buf_append(&name, "", 1) < 0 || ARRAY_GROW(s->g, s->n, s->cap) < 0) {
		buf_release(&name);
		s->oom = 1;
		return 1;
	}
	s->g[s->n].name = name.data;
	s->g[s->n].v = *row->v;
	s->n++;
	return 0;
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct group *)a)->name, ((const struct group *)b)->name);
}

static void
value_add(struct agg_value *to, const struct agg_value *v)
{
	int i;

	to->requests += v->requests;
	to->errors += v->errors;
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		to->tokens[i] += v->tokens[i];
	for (i = 0; i < COST_PART_COUNT; i++)
		to->cost[i] += v->cost[i];
	to->total += v->total;
}

/* Sorts the rows by group and adds up each group's rows into its first. */
static void
merge(struct spend *s)
{
	size_t i, j = 0;

	if (s->n == 0)
		return;
	qsort(s->g, s->n, sizeof(*s->g), group_cmp);
	for (i = 1; i < s->n; i++) {
		if (strcmp(s->g[i].name, s->g[j].name) == 0) {
			value_add(&s->g[j].v, &s->g[i].v);
			free(s->g[i].name);
		} else
			s->g[++j] = s->g[i];
	}
	s->n = j + 1;
}

static const char *const col_names[] = {
	"requests", "errors", "input", "cache_read", "cache_write", "output", "reasoning", "cost_usd"
};

/* The seven counts of a group, in col_names order. */
static void
counts(const struct agg_value *v, long long c[7])
{
	c[0] = v->requests;
	c[1] = v->errors;
	c[2] = v->tokens[RECORD_TOK_INPUT];
	c[3] = v->tokens[RECORD_TOK_CACHE_READ];
	c[4] = v->tokens[RECORD_TOK_CACHE_WRITE_5M] + v->tokens[RECORD_TOK_CACHE_WRITE_1H];
	c[5] = v->tokens[RECORD_TOK_OUTPUT];
	c[6] = v->tokens[RECORD_TOK_REASONING];
}

/* The i-th dimension value of a group name (points into name, which it cuts). */
static char *
field(char **p)
{
	char *f = *p, *sep = strchr(f, '\x1f');

	if (sep) {
		*sep = '\0';
		*p = sep + 1;
	} else
		*p = f + strlen(f);
	return f;
}

enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

static void
print(struct spend *s, enum format fmt, struct buf *o)
{
	char cost[MONEY_FORMAT_MAX], *p, *f;
	int w[SPEND_MAX_BY], i, len;
	long long c[7];
	size_t gi;

	if (fmt == FMT_CSV) {
		for (i = 0; i < s->nby; i++)
			buf_printf(o, "%s,", by_names[s->by[i]]);
		for (i = 0; i < 8; i++)
			buf_printf(o, "%s%s", col_names[i], i < 7 ? "," : "\n");
	}
	if (fmt == FMT_TABLE) {
		for (i = 0; i < s->nby; i++)
			w[i] = (int)strlen(by_names[s->by[i]]);
		for (gi = 0; gi < s->n; gi++) {
			char *name = strdup(s->g[gi].name);

			for (p = name, i = 0; name && i < s->nby; i++)
				if ((len = (int)strlen(field(&p))) > w[i])
					w[i] = len;
			free(name);
		}
		for (i = 0; i < s->nby; i++) {
			const char *b = by_names[s->by[i]];
			int j;

			for (j = 0; b[j]; j++)
				buf_printf(o, "%c", b[j] - 'a' + 'A');
			buf_printf(o, "%*s  ", w[i] - j, "");
		}
		buf_printf(o, "%10s  %8s  %12s  %12s  %12s  %12s  %12s  %16s\n", "REQUESTS", "ERRORS",
		    "INPUT", "CACHE_READ", "CACHE_WRITE", "OUTPUT", "REASONING", "COST USD");
	}
	for (gi = 0; gi < s->n; gi++) {
		p = s->g[gi].name;
		counts(&s->g[gi].v, c);
		money_format(s->g[gi].v.total, MONEY_COST_SCALE, cost);
		if (fmt == FMT_JSON)
			buf_printf(o, "{");
		for (i = 0; i < s->nby; i++) {
			f = field(&p);
			switch (fmt) {
			case FMT_TABLE:
				buf_printf(o, "%-*s  ", w[i], *f ? f : "-");
				break;
			case FMT_CSV:
				buf_csv_field(o, f);
				buf_printf(o, ",");
				break;
			case FMT_JSON:
				buf_printf(o, "\"%s\":", by_names[s->by[i]]);
				json_write_string(o, f);
				buf_printf(o, ",");
				break;
			}
		}
		switch (fmt) {
		case FMT_TABLE:
			buf_printf(o, "%10lld  %8lld  %12lld  %12lld  %12lld  %12lld  %12lld  %16s\n",
			    c[0], c[1], c[2], c[3], c[4], c[5], c[6], cost);
			break;
		case FMT_CSV:
			for (i = 0; i < 7; i++)
				buf_printf(o, "%lld,", c[i]);
			buf_printf(o, "%s\n", cost);
			break;
		case FMT_JSON:
			for (i = 0; i < 7; i++)
				buf_printf(o, "\"%s\":%lld,", col_names[i], c[i]);
			buf_printf(o, "\"cost_usd\":\"%s\"}\n", cost);
			break;
		}
	}
}

int
spend_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "key", required_argument, NULL, 'k' },
		{ "model", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'f' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir();
	int64_t now = clock_now_ns(), since = 0, until = INT64_MAX;
	int have_since = 0, have_until = 0, hour = 0, ch, i, rc = TOLLCTL_EXIT_ERROR;
	enum agg_table table;
	enum format fmt = FMT_TABLE;
	struct spend s = { .nby = 0 };
	struct ledger *l = NULL;
	struct buf o = { 0 };
	char err[PATH_MAX + 256];
	size_t gi;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "b:s:u:k:m:f:l:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			for (i = 0; i < BY_COUNT && strcmp(optarg, by_names[i]) != 0; i++)
				;
			if (i == BY_COUNT) {
				log_error("--by: unknown dimension '%s' (key, user, team, customer, "
				    "tag, model, provider, day or hour)", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			if (s.nby == SPEND_MAX_BY) {
				log_error("--by: at most %d dimensions", SPEND_MAX_BY);
				return TOLLCTL_EXIT_ERROR;
			}
			s.by[s.nby++] = (enum by)i;
			s.by_tag |= i == BY_TAG;
			hour |= i == BY_HOUR;
			break;
		case 's':
		case 'u':
			if (time_parse(optarg, now, ch == 's' ? &since : &until, err,
			    sizeof(err)) < 0) {
				log_error("--%s: %s", ch == 's' ? "since" : "until", err);
				return TOLLCTL_EXIT_ERROR;
			}
			have_since |= ch == 's';
			have_until |= ch == 'u';
			break;
		case 'k':
			s.key = optarg;
			break;
		case 'm':
			s.model = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0)
				fmt = FMT_TABLE;
			else if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				fmt = FMT_CSV;
			else {
				log_error("--format: unknown format '%s' (table, json or csv)", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'l':
			dir = optarg;
			break;
		case 'h':
			fputs(spend_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(spend_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl spend --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (have_since && have_until && until <= since) {
		log_error("--until must be later than --since");
		return TOLLCTL_EXIT_ERROR;
	}
	/* the first hour still complete in the hourly aggregates */
	{
		int64_t first_hour = time_hour_start(now - AGG_HOUR_KEEP_NS) + NS_PER_HOUR;

		if (hour && !have_since)
			since = first_hour;
		else if (hour && since < first_hour) {
			log_error("--by hour: hourly aggregates cover only the last 7 days "
			    "(--since %s or later)", time_format(first_hour, err, sizeof(err)));
			return TOLLCTL_EXIT_ERROR;
		}
		hour |= have_since && since >= first_hour;
	}
	if (hour) {
		since = time_hour_start(since);
		if (have_until && time_hour_start(until) != until)
			until = time_hour_start(until) + NS_PER_HOUR;
	} else {
		since = time_day_start(since);
		if (have_until && time_day_start(until) != until)
			until = time_day_start(until) + NS_PER_DAY;
	}

	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	/* by model, provider and day only, with no key filter: the narrow rollup answers */
	table = hour ? AGG_TABLE_HOUR : AGG_TABLE_MODEL_DAY;
	for (i = 0; i < s.nby; i++)
		if (s.by[i] != BY_MODEL && s.by[i] != BY_PROVIDER && s.by[i] != BY_DAY)
			table = hour ? AGG_TABLE_HOUR : AGG_TABLE_DAY;
	if (s.key != NULL && table == AGG_TABLE_MODEL_DAY)
		table = AGG_TABLE_DAY;
	switch (aggregate_scan(l, table, since, until, collect, &s, err, sizeof(err))) {
	case -1:
		log_error("%s", err);
		goto out;
	case 1:
		log_error("ledger '%s' has no aggregates yet (the gateway's accountant writes "
		    "them; or run 'tollctl aggregate --rebuild')", dir);
		goto out;
	}
	ledger_close(l);
	l = NULL;
	if (s.oom) {
		log_error("out of memory");
		goto out;
	}
	merge(&s);
	if (s.nby == 0 && s.n == 0 && fmt != FMT_CSV) {
		/* a grand total of nothing is still a line */
		if (ARRAY_GROW(s.g, s.n, s.cap) < 0 || (s.g[0].name = strdup("")) == NULL) {
			log_error("out of memory");
			goto out;
		}
		memset(&s.g[0].v, 0, sizeof(s.g[0].v));
		s.n = 1;
	}
	print(&s, fmt, &o);
	if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len) {
		log_error("cannot write the totals: %s", strerror(errno));
		goto out;
	}
	if (fflush(stdout) != 0) {
		log_error("cannot write the totals: %s", strerror(errno));
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	for (gi = 0; gi < s.n; gi++)
		free(s.g[gi].name);
	free(s.g);
	buf_release(&o);
	return rc;
}

int
aggregate_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rebuild", no_argument, NULL, 'r' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir();
	struct ledger *l = NULL;
	char err[PATH_MAX + 256];
	size_t done, total = 0;
	int rebuild = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "rl:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			rebuild = 1;
			break;
		case 'l':
			dir = optarg;
			break;
		case 'h':
			fputs(aggregate_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(aggregate_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl aggregate --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (!rebuild) {
		log_error("nothing to do (try 'tollctl aggregate --rebuild')");
		return TOLLCTL_EXIT_ERROR;
	}
	/* LEDGER_READ first: LEDGER_WRITE would create a ledger in any directory */
	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	ledger_close(l);
	if (ledger_open(dir, LEDGER_WRITE, 0, 0, &l, err, sizeof(err)) < 0 ||
	    aggregate_reset(l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	/* the whole journal, in commit order; the accountant takes over from here */
	do {
		if (aggregate_follow(l, INT64_MAX, REBUILD_BATCH, &done, err, sizeof(err)) < 0) {
			log_error("%s", err);
			goto out;
		}
		total += done;
	} while (done == REBUILD_BATCH);
	printf("rebuilt the aggregates of '%s' from %zu record%s\n", dir, total,
	    total == 1 ? "" : "s");
	fflush(stdout);
	rc = TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	return rc;
}
