/*
 * tollctl spend: spend totals grouped by key, user, team, customer, tag,
 * model, provider, day or hour, and filtered by any of the first seven, read
 * from the ledger's aggregates (never the raw records).  tollctl aggregate
 * --rebuild: recomputes the aggregates from the raw records.  See
 * lib/aggregate.h for what the aggregates hold.
 */
#include <ctype.h>
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
#define OPT_FILTER	256	/* getopt value of --key ... --provider: plus their enum agg_dim */

static const char spend_help[] =
"usage: tollctl spend [--by DIM]... [--since T] [--until T] [--key K] [--user U]\n"
"                     [--team T] [--customer C] [--tag G] [--model M]\n"
"                     [--provider P] [--format table|json|csv] [--ledger DIR]\n"
"\n"
"Prints spend totals from the ledger's aggregates, which the gateway's\n"
"accountant keeps up to date within a fraction of a second.\n"
"\n"
"  --by DIM       group by key, user, team, customer, tag, model, provider,\n"
"                 day or hour; repeat for several (default: one grand total)\n"
"  --since T      from T (RFC 3339, or 7d, 24h, ... back from now)\n"
"  --until T      up to T, excluded\n"
"  --format F     table (default), json (one object per line) or csv\n"
"  --ledger DIR   the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                 " TOLLGATE_LEDGER ")\n"
"\n"
"Filters count only the requests with exactly that value; '' selects those\n"
"without one (--customer '').  Each is given at most once, and all must match.\n"
"  --key K        the key's id, as 'tollctl logs' shows it\n"
"  --user U, --team T, --customer C\n"
"  --tag G        one tag of the request's list (a request with several\n"
"                 counts once); --tag '' selects the requests without tags\n"
"  --model M      the price-map entry a request was priced as, else its\n"
"                 deployment, else the model requested\n"
"  --provider P   the provider that served it (openai, anthropic, ...)\n"
"The aggregates keep the first 64 bytes of a user, team, customer or tag, and\n"
"the filters compare those.\n"
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
"output, reasoning; the exact cost in USD (cost_usd), then the cost of each\n"
"category, which add up to it: input, cache_read, cache_write, output,\n"
"reasoning, audio_input, audio_output, image_input, image_output,\n"
"tool_use_prompt, search, duration and request (cost_input_usd, ...,\n"
"cost_request_usd).  csv and json always have every column, json costs as\n"
"exact decimal numbers; the table leaves out the categories that cost nothing\n"
"on every line.\n"
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

/* In enum agg_dim order, then day and hour; the first seven also name the filters. */
static const char *const by_names[BY_COUNT] = {
	"key", "user", "team", "customer", "tag", "model", "provider", "day", "hour"
};

_Static_assert(BY_PROVIDER == (int)AGG_DIM_PROVIDER && BY_DAY == (int)AGG_DIM_COUNT,
    "a dimension's enum by is its enum agg_dim");

enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

struct group {
	char			*name;		/* the dimensions' values, '\x1f' between */
	struct agg_value	 v;
};

/* What the command line asks for, and the groups found. */
struct spend {
	enum by		 by[SPEND_MAX_BY];
	int		 nby;
	const char	*filter[AGG_DIM_COUNT];	/* NULL: any value */
	int		 per_tag;	/* read the per-tag rows: by tag, or a tag filter */
	int		 hour;		/* read the hourly rows */
	int		 only_dim;	/* the one-dimension rows of this dimension; -1: others */
	int		 have_since, have_until;
	int64_t		 since, until;
	enum format	 fmt;
	const char	*dir;
	struct group	*g;
	size_t		 n, cap;
	int		 oom;
};

/*
 * The cost columns after the total: one per cost part, except that cache
 * writes of both lifetimes share one, as they share a token column.  Each
 * part is in exactly one column, so that the columns add up to the total.
 */
static const struct cost_col {
	const char	*name;
	unsigned	 parts;		/* 1 << enum cost_part, for each part it sums */
} cost_cols[] = {
	{ "input", 1u << COST_INPUT },
	{ "cache_read", 1u << COST_CACHE_READ },
	{ "cache_write", 1u << COST_CACHE_WRITE_5M | 1u << COST_CACHE_WRITE_1H },
	{ "output", 1u << COST_OUTPUT },
	{ "reasoning", 1u << COST_REASONING },
	{ "audio_input", 1u << COST_AUDIO_IN },
	{ "audio_output", 1u << COST_AUDIO_OUT },
	{ "image_input", 1u << COST_IMAGE_IN },
	{ "image_output", 1u << COST_IMAGE_OUT },
	{ "tool_use_prompt", 1u << COST_TOOL_PROMPT },
	{ "search", 1u << COST_SEARCH },
	{ "duration", 1u << COST_DURATION },
	{ "request", 1u << COST_REQUEST },
};

#define NCOST_COLS	(sizeof(cost_cols) / sizeof(cost_cols[0]))
#define NCOSTS		(1 + NCOST_COLS)	/* the total, then the cost columns */
#define NCOUNTS		7

_Static_assert(NCOST_COLS == COST_PART_COUNT - 1, "a cost column for every cost part");

static const char *const count_names[NCOUNTS] = {
	"requests", "errors", "input", "cache_read", "cache_write", "output", "reasoning"
};
static const int count_widths[NCOUNTS] = { 10, 8, 12, 12, 12, 12, 12 };

/* One group's numbers as printed: its counts, then its costs as exact decimal text. */
struct line {
	long long	count[NCOUNTS];
	char		cost[NCOSTS][MONEY_FORMAT_MAX];
};

/* The table's column widths; a cost column of width 0 is left out. */
struct table {
	int		dim[SPEND_MAX_BY];
	int		cost[NCOSTS];
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

/*
 * Whether row holds every filter's value.  User, team, customer and tag are
 * compared on their first AGG_DIM_MAX bytes, all that the aggregates keep of
 * them, so that a longer value still finds the group --by shows for it.
 */
static int
matches(const struct spend *s, const struct agg_row *row)
{
	int d, cut;

	for (d = 0; d < AGG_DIM_COUNT; d++) {
		if (s->filter[d] == NULL)
			continue;
		cut = d == AGG_DIM_USER || d == AGG_DIM_TEAM || d == AGG_DIM_CUSTOMER ||
		    d == AGG_DIM_TAG;
		if ((cut ? strncmp(row->dim[d], s->filter[d], AGG_DIM_MAX) :
		    strcmp(row->dim[d], s->filter[d])) != 0)
			return 0;
	}
	return 1;
}

static int
collect(void *arg, const struct agg_row *row)
{
	struct spend *s = arg;
	struct buf name = { 0 };
	char when[32];
	int i;

	if (row->all_tags == s->per_tag || row->only_dim != s->only_dim || !matches(s, row))
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
			aggregate_value_add(&s->g[j].v, &s->g[i].v);
			free(s->g[i].name);
		} else
			s->g[++j] = s->g[i];
	}
	s->n = j + 1;
}

/* The numbers of v as printed: cache writes of both lifetimes in one column. */
static void
line_of(const struct agg_value *v, struct line *ln)
{
	money_sum sum;
	size_t c;
	int p;

	ln->count[0] = v->requests;
	ln->count[1] = v->errors;
	ln->count[2] = v->tokens[RECORD_TOK_INPUT];
	ln->count[3] = v->tokens[RECORD_TOK_CACHE_READ];
	ln->count[4] = v->tokens[RECORD_TOK_CACHE_WRITE_5M] + v->tokens[RECORD_TOK_CACHE_WRITE_1H];
	ln->count[5] = v->tokens[RECORD_TOK_OUTPUT];
	ln->count[6] = v->tokens[RECORD_TOK_REASONING];
	money_format(v->total, MONEY_COST_SCALE, ln->cost[0]);
	for (c = 0; c < NCOST_COLS; c++) {
		for (sum = 0, p = 0; p < COST_PART_COUNT; p++)
			if (cost_cols[c].parts & 1u << p)
				sum += v->cost[p];
		money_format(sum, MONEY_COST_SCALE, ln->cost[1 + c]);
	}
}

/* The next dimension value of a group name; cuts the name, moves *p past it. */
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

/* Appends text in upper case, right-aligned in width (left-aligned if negative). */
static void
put_upper(struct buf *o, const char *text, int width)
{
	char up[64];
	size_t i;

	for (i = 0; text[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)text[i]);
	up[i] = '\0';
	buf_printf(o, "%*s", width, up);
}

/* The table's title of cost column c: "cost usd" for the total, else "input usd", ... */
static void
cost_title(size_t c, char *buf, size_t len)
{
	snprintf(buf, len, "%s usd", c == 0 ? "cost" : cost_cols[c - 1].name);
}

/* Widths: the dimensions' widest value, the costs' too; cost columns of only zeros get 0. */
static void
table_widths(const struct spend *s, struct table *t)
{
	char title[32];
	const char *name;
	struct line ln;
	size_t gi, c, len;
	int i, zero[NCOSTS];

	for (i = 0; i < s->nby; i++)
		t->dim[i] = (int)strlen(by_names[s->by[i]]);
	for (c = 0; c < NCOSTS; c++) {
		cost_title(c, title, sizeof(title));
		t->cost[c] = (int)strlen(title);
		zero[c] = c > 0;
	}
	for (gi = 0; gi < s->n; gi++) {
		for (name = s->g[gi].name, i = 0; i < s->nby; i++) {
			len = strcspn(name, "\x1f");
			if ((int)len > t->dim[i])
				t->dim[i] = (int)len;
			name += len + (name[len] != '\0');
		}
		line_of(&s->g[gi].v, &ln);
		for (c = 0; c < NCOSTS; c++) {
			if ((int)strlen(ln.cost[c]) > t->cost[c])
				t->cost[c] = (int)strlen(ln.cost[c]);
			zero[c] &= strcmp(ln.cost[c], "0") == 0;
		}
	}
	for (c = 0; c < NCOSTS; c++)
		if (zero[c])
			t->cost[c] = 0;
}

static void
table_header(const struct spend *s, const struct table *t, struct buf *o)
{
	char title[32];
	size_t c;
	int i;

	for (i = 0; i < s->nby; i++) {
		put_upper(o, by_names[s->by[i]], -t->dim[i]);
		buf_printf(o, "  ");
	}
	for (i = 0; i < NCOUNTS; i++) {
		buf_printf(o, "%s", i ? "  " : "");
		put_upper(o, count_names[i], count_widths[i]);
	}
	for (c = 0; c < NCOSTS; c++)
		if (t->cost[c]) {
			cost_title(c, title, sizeof(title));
			buf_printf(o, "  ");
			put_upper(o, title, t->cost[c]);
		}
	buf_printf(o, "\n");
}

static void
table_line(const struct spend *s, const struct table *t, char *name, const struct line *ln,
    struct buf *o)
{
	char *f;
	size_t c;
	int i;

	for (i = 0; i < s->nby; i++) {
		f = field(&name);
		buf_printf(o, "%-*s  ", t->dim[i], *f ? f : "-");
	}
	for (i = 0; i < NCOUNTS; i++)
		buf_printf(o, "%s%*lld", i ? "  " : "", count_widths[i], ln->count[i]);
	for (c = 0; c < NCOSTS; c++)
		if (t->cost[c])
			buf_printf(o, "  %*s", t->cost[c], ln->cost[c]);
	buf_printf(o, "\n");
}

static void
csv_header(const struct spend *s, struct buf *o)
{
	size_t c;
	int i;

	for (i = 0; i < s->nby; i++)
		buf_printf(o, "%s,", by_names[s->by[i]]);
	for (i = 0; i < NCOUNTS; i++)
		buf_printf(o, "%s,", count_names[i]);
	buf_printf(o, "cost_usd");
	for (c = 0; c < NCOST_COLS; c++)
		buf_printf(o, ",cost_%s_usd", cost_cols[c].name);
	buf_printf(o, "\n");
}

static void
csv_line(const struct spend *s, char *name, const struct line *ln, struct buf *o)
{
	size_t c;
	int i;

	for (i = 0; i < s->nby; i++) {
		buf_csv_field(o, field(&name));
		buf_printf(o, ",");
	}
	for (i = 0; i < NCOUNTS; i++)
		buf_printf(o, "%lld,", ln->count[i]);
	for (c = 0; c < NCOSTS; c++)
		buf_printf(o, "%s%s", c ? "," : "", ln->cost[c]);
	buf_printf(o, "\n");
}

/* One object: costs are bare JSON numbers, exact decimal text as `tollctl cost` writes them. */
static void
json_line(const struct spend *s, char *name, const struct line *ln, struct buf *o)
{
	size_t c;
	int i;

	buf_printf(o, "{");
	for (i = 0; i < s->nby; i++) {
		buf_printf(o, "\"%s\":", by_names[s->by[i]]);
		json_write_string(o, field(&name));
		buf_printf(o, ",");
	}
	for (i = 0; i < NCOUNTS; i++)
		buf_printf(o, "\"%s\":%lld,", count_names[i], ln->count[i]);
	buf_printf(o, "\"cost_usd\":%s", ln->cost[0]);
	for (c = 0; c < NCOST_COLS; c++)
		buf_printf(o, ",\"cost_%s_usd\":%s", cost_cols[c].name, ln->cost[1 + c]);
	buf_printf(o, "}\n");
}

/* Prints the groups; cuts their names. */
static void
print(struct spend *s, struct buf *o)
{
	struct table t;
	struct line ln;
	size_t gi;

	if (s->fmt == FMT_TABLE) {
		table_widths(s, &t);
		table_header(s, &t, o);
	} else if (s->fmt == FMT_CSV)
		csv_header(s, o);
	for (gi = 0; gi < s->n; gi++) {
		line_of(&s->g[gi].v, &ln);
		switch (s->fmt) {
		case FMT_TABLE:
			table_line(s, &t, s->g[gi].name, &ln, o);
			break;
		case FMT_CSV:
			csv_line(s, s->g[gi].name, &ln, o);
			break;
		case FMT_JSON:
			json_line(s, s->g[gi].name, &ln, o);
			break;
		}
	}
}

static int
parse_by(struct spend *s, const char *arg)
{
	int i;

	for (i = 0; i < BY_COUNT && strcmp(arg, by_names[i]) != 0; i++)
		;
	if (i == BY_COUNT) {
		log_error("--by: unknown dimension '%s' (key, user, team, customer, tag, model, "
		    "provider, day or hour)", arg);
		return -1;
	}
	if (s->nby == SPEND_MAX_BY) {
		log_error("--by: at most %d dimensions", SPEND_MAX_BY);
		return -1;
	}
	s->by[s->nby++] = (enum by)i;
	s->per_tag |= i == BY_TAG;
	s->hour |= i == BY_HOUR;
	return 0;
}

/*
 * A second value would have to mean either "or" or "and", and a tag list
 * either of them too: refused, rather than guessed at.
 */
static int
parse_filter(struct spend *s, enum agg_dim d, const char *arg)
{
	if (s->filter[d] != NULL) {
		log_error("--%s: given twice ('%s', '%s'); one value per filter", by_names[d],
		    s->filter[d], arg);
		return -1;
	}
	if (d == AGG_DIM_TAG && strchr(arg, ',') != NULL) {
		log_error("--tag: '%s' is a list; give one tag", arg);
		return -1;
	}
	s->filter[d] = arg;
	s->per_tag |= d == AGG_DIM_TAG;
	return 0;
}

static int
parse_format(struct spend *s, const char *arg)
{
	if (strcmp(arg, "table") == 0)
		s->fmt = FMT_TABLE;
	else if (strcmp(arg, "json") == 0)
		s->fmt = FMT_JSON;
	else if (strcmp(arg, "csv") == 0)
		s->fmt = FMT_CSV;
	else {
		log_error("--format: unknown format '%s' (table, json or csv)", arg);
		return -1;
	}
	return 0;
}

/* Reads the command line into s: 0, 1 when it printed the help, or -1 after saying why not. */
static int
spend_args(struct spend *s, int argc, char **argv, int64_t now)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'f' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "key", required_argument, NULL, OPT_FILTER + AGG_DIM_KEY },
		{ "user", required_argument, NULL, OPT_FILTER + AGG_DIM_USER },
		{ "team", required_argument, NULL, OPT_FILTER + AGG_DIM_TEAM },
		{ "customer", required_argument, NULL, OPT_FILTER + AGG_DIM_CUSTOMER },
		{ "tag", required_argument, NULL, OPT_FILTER + AGG_DIM_TAG },
		{ "model", required_argument, NULL, OPT_FILTER + AGG_DIM_MODEL },
		{ "provider", required_argument, NULL, OPT_FILTER + AGG_DIM_PROVIDER },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	int ch, rc = 0;

	optind = 1;
	while (rc == 0 && (ch = getopt_long(argc, argv, "b:s:u:f:l:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			rc = parse_by(s, optarg);
			break;
		case 's':
		case 'u':
			if ((rc = time_parse(optarg, now, ch == 's' ? &s->since : &s->until, err,
			    sizeof(err))) < 0)
				log_error("--%s: %s", ch == 's' ? "since" : "until", err);
			s->have_since |= ch == 's';
			s->have_until |= ch == 'u';
			break;
		case 'f':
			rc = parse_format(s, optarg);
			break;
		case 'l':
			s->dir = optarg;
			break;
		case 'h':
			fputs(spend_help, stdout);
			return 1;
		default:
			if (ch >= OPT_FILTER && ch < OPT_FILTER + AGG_DIM_COUNT) {
				rc = parse_filter(s, (enum agg_dim)(ch - OPT_FILTER), optarg);
				break;
			}
			fputs(spend_help, stderr);
			return -1;
		}
	}
	if (rc < 0)
		return -1;
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl spend --help')", argv[optind]);
		return -1;
	}
	if (s->have_since && s->have_until && s->until <= s->since) {
		log_error("--until must be later than --since");
		return -1;
	}
	return 0;
}

/*
 * Takes the window out to whole buckets: hours when the hourly rows answer
 * (--by hour, or --since within their 7 days), else days.  0, or -1 when
 * --by hour asks for hours no longer kept.
 */
static int
spend_window(struct spend *s, int64_t now)
{
	/* the first hour still complete in the hourly aggregates */
	int64_t first_hour = time_hour_start(now - AGG_HOUR_KEEP_NS) + NS_PER_HOUR;
	char when[64];

	if (s->hour && !s->have_since)
		s->since = first_hour;
	else if (s->hour && s->since < first_hour) {
		log_error("--by hour: hourly aggregates cover only the last 7 days "
		    "(--since %s or later)", time_format(first_hour, when, sizeof(when)));
		return -1;
	}
	s->hour |= s->have_since && s->since >= first_hour;
	if (s->hour) {
		s->since = time_hour_start(s->since);
		if (s->have_until && time_hour_start(s->until) != s->until)
			s->until = time_hour_start(s->until) + NS_PER_HOUR;
	} else {
		s->since = time_day_start(s->since);
		if (s->have_until && time_day_start(s->until) != s->until)
			s->until = time_day_start(s->until) + NS_PER_DAY;
	}
	return 0;
}

/*
 * The one dimension other than model, provider and day that s groups or
 * filters by, if it is the only one: its enum agg_dim; -1 when there are
 * none or several, or when model or provider is among them.
 */
static int
spend_only_dim(const struct spend *s)
{
	int i, d = -1;

	for (i = 0; i < s->nby + AGG_DIM_COUNT; i++) {
		int x = i < s->nby ? (int)s->by[i] : s->filter[i - s->nby] ? i - s->nby : -1;

		if (x < 0 || x == BY_DAY || x == BY_HOUR)
			continue;
		if (x == AGG_DIM_MODEL || x == AGG_DIM_PROVIDER || (d >= 0 && d != x))
			return -1;
		d = x;
	}
	return d;
}

/*
 * The table that answers: the hourly rows for hours; else the model-day
 * rollup, much smaller, when every grouping and every filter is by model,
 * provider or day, all that it holds; else the one-dimension rollup when
 * they are by day and one of key, user, team, customer or tag; else the day
 * rows.
 */
static enum agg_table
spend_table(const struct spend *s)
{
	int i;

	if (s->hour)
		return AGG_TABLE_HOUR;
	if (spend_only_dim(s) >= 0)
		return AGG_TABLE_DIM_DAY;
	for (i = 0; i < s->nby; i++)
		if (s->by[i] != BY_MODEL && s->by[i] != BY_PROVIDER && s->by[i] != BY_DAY)
			return AGG_TABLE_DAY;
	for (i = 0; i < AGG_DIM_COUNT; i++)
		if (s->filter[i] != NULL && i != AGG_DIM_MODEL && i != AGG_DIM_PROVIDER)
			return AGG_TABLE_DAY;
	return AGG_TABLE_MODEL_DAY;
}

/* Reads the groups of s from the ledger's aggregates; 0, or -1 after saying why not. */
static int
spend_read(struct spend *s)
{
	struct ledger *l = NULL;
	char err[PATH_MAX + 256];
	int rc;

	if (ledger_open(s->dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	s->only_dim = spend_table(s) == AGG_TABLE_DIM_DAY ? spend_only_dim(s) : -1;
	rc = aggregate_scan(l, spend_table(s), s->since, s->until, collect, s, err, sizeof(err));
	ledger_close(l);
	if (rc < 0)
		log_error("%s", err);
	else if (rc == 1)
		log_error("ledger '%s' has no aggregates yet (the gateway's accountant writes "
		    "them; or run 'tollctl aggregate --rebuild')", s->dir);
	else if (s->oom)
		log_error("out of memory");
	return rc == 0 && !s->oom ? 0 : -1;
}

int
spend_main(int argc, char **argv)
{
	int64_t now = clock_now_ns();
	struct spend s = { .until = INT64_MAX, .fmt = FMT_TABLE, .dir = tollctl_ledger_dir() };
	struct buf o = { 0 };
	int rc = TOLLCTL_EXIT_ERROR;
	size_t gi;

	switch (spend_args(&s, argc, argv, now)) {
	case 1:
		return TOLLCTL_EXIT_OK;
	case -1:
		return TOLLCTL_EXIT_ERROR;
	}
	if (spend_window(&s, now) < 0 || spend_read(&s) < 0)
		goto out;
	merge(&s);
	if (s.nby == 0 && s.n == 0 && s.fmt != FMT_CSV) {
		/* a grand total of nothing is still a line */
		if (ARRAY_GROW(s.g, s.n, s.cap) < 0 || (s.g[0].name = strdup("")) == NULL) {
			log_error("out of memory");
			goto out;
		}
		memset(&s.g[0].v, 0, sizeof(s.g[0].v));
		s.n = 1;
	}
	print(&s, &o);
	if ((o.len && fwrite(o.data, 1, o.len, stdout) != o.len) || fflush(stdout) != 0) {
		log_error("cannot write the totals: %s", strerror(errno));
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
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
	} while (done > 0);
	printf("rebuilt the aggregates of '%s' from %zu record%s\n", dir, total,
	    total == 1 ? "" : "s");
	fflush(stdout);
	rc = TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	return rc;
}
