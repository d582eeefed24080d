/*
 * tollctl spend: spend totals grouped by key, user, team, customer, tag,
 * model, provider, deployment, price entry, day or hour, and filtered by any
 * but the last two, read
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
#include "spendq.h"
#include "timeparse.h"
#include "tollctl.h"

#define NS_PER_HOUR	3600000000000LL
#define NS_PER_DAY	(24 * NS_PER_HOUR)
#define REBUILD_BATCH	50000
#define OPT_FILTER	256	/* getopt value of --key ... --priced-as: plus their enum agg_dim */

static const char spend_help[] =
"usage: tollctl spend [--by DIM]... [--since T] [--until T] [--key K] [--user U]\n"
"                     [--team T] [--customer C] [--tag G] [--model M]\n"
"                     [--provider P] [--deployment D] [--priced-as E]\n"
"                     [--format table|json|csv] [--ledger DIR]\n"
"                     [--fleet [--dsn DSN]]\n"
"\n"
"Prints spend totals from the ledger's aggregates, which the gateway's\n"
"accountant keeps up to date within a fraction of a second.\n"
"\n"
"  --fleet        the totals of every host, from the fleet ledger in\n"
"                 PostgreSQL (tollgate.postgres.dsn of the config, else\n"
"                 $TOLLGATE_POSTGRES_DSN): the same columns and filters, a\n"
"                 shipping interval behind each host's ledger\n"
"  --dsn DSN      the fleet ledger's connection string (implies --fleet)\n"
"\n"
"  --by DIM       group by key, user, team, customer, tag, model, provider,\n"
"                 deployment, priced_as, day or hour; repeat for several\n"
"                 (default: one grand total).  model brings the deployment\n"
"                 and priced_as columns with it\n"
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
"  --model M      the model requested: a model_name of the config's model_list\n"
"  --provider P   the provider that served it (openai, anthropic, ...)\n"
"  --deployment D the provider's model (litellm_params.model without its\n"
"                 provider prefix)\n"
"  --priced-as E  the price-map entry it was priced as ('' unpriced); a\n"
"                 deployment with prices of its own in model_info is the\n"
"                 entry deployment:<model_name>/<provider>/<model>\n"
"The aggregates keep the first 64 bytes of a user, team, customer or tag, and\n"
"the filters compare those.\n"
"\n"
"Granularity: daily aggregates cover whole UTC days, so --since and --until\n"
"inside a day include that whole day.  Hourly aggregates, kept for the last\n"
"7 days, are used for --by hour and when --since is within the last 7 days;\n"
"then --since and --until are taken to the whole UTC hour.\n"
"\n"
"Models: a request counts under the model_name it asked for, whatever the\n"
"order of model_list; --by model prints one line per model, deployment and\n"
"price entry (two for a model served by two deployments).\n"
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

enum by { BY_KEY, BY_USER, BY_TEAM, BY_CUSTOMER, BY_TAG, BY_MODEL, BY_PROVIDER,
	BY_DEPLOYMENT, BY_PRICED_AS, BY_DAY, BY_HOUR, BY_COUNT };

/* In enum agg_dim order, then day and hour. */
static const char *const by_names[BY_COUNT] = {
	"key", "user", "team", "customer", "tag", "model", "provider", "deployment", "priced_as",
	"day", "hour"
};

/* The filters' options, in enum agg_dim order. */
static const char *const filter_names[AGG_DIM_COUNT] = {
	"key", "user", "team", "customer", "tag", "model", "provider", "deployment", "priced-as"
};

_Static_assert(BY_PRICED_AS == (int)AGG_DIM_PRICED_AS && BY_DAY == (int)SPENDQ_BY_DAY &&
    BY_HOUR == (int)SPENDQ_BY_HOUR,
    "a dimension's enum by is its enum agg_dim");
_Static_assert(SPENDQ_MAX_BY >= BY_COUNT, "room to group by every dimension once");

enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

/* What the command line asks for, and the groups found. */
struct spend {
	struct spendq	 q;		/* q.by holds enum by values */
	int		 have_since, have_until;
	enum format	 fmt;
	const char	*dir;
	int		 fleet;		/* from PostgreSQL... */
	const char	*dsn;		/* ...here */
};

static const int count_widths[SPENDQ_NCOUNTS] = { 10, 8, 12, 12, 12, 12, 12 };

/* The table's column widths; a cost column of width 0 is left out. */
struct table {
	int		dim[SPENDQ_MAX_BY];
	int		cost[SPENDQ_NCOSTS];
};

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
	snprintf(buf, len, "%s usd", c == 0 ? "cost" : spendq_cost_cols[c - 1].name);
}

/* Widths: the dimensions' widest value, the costs' too; cost columns of only zeros get 0. */
static void
table_widths(const struct spend *s, struct table *t)
{
	char title[32];
	const char *name;
	struct spendq_line ln;
	size_t gi, c, len;
	int i, zero[SPENDQ_NCOSTS];

	for (i = 0; i < s->q.nby; i++)
		t->dim[i] = (int)strlen(by_names[s->q.by[i]]);
	for (c = 0; c < SPENDQ_NCOSTS; c++) {
		cost_title(c, title, sizeof(title));
		t->cost[c] = (int)strlen(title);
		zero[c] = c > 0;
	}
	for (gi = 0; gi < s->q.n; gi++) {
		for (name = s->q.g[gi].name, i = 0; i < s->q.nby; i++) {
			len = strcspn(name, "\x1f");
			if ((int)len > t->dim[i])
				t->dim[i] = (int)len;
			name += len + (name[len] != '\0');
		}
		spendq_line_of(&s->q.g[gi].v, &ln);
		for (c = 0; c < SPENDQ_NCOSTS; c++) {
			if ((int)strlen(ln.cost[c]) > t->cost[c])
				t->cost[c] = (int)strlen(ln.cost[c]);
			zero[c] &= strcmp(ln.cost[c], "0") == 0;
		}
	}
	for (c = 0; c < SPENDQ_NCOSTS; c++)
		if (zero[c])
			t->cost[c] = 0;
}

static void
table_header(const struct spend *s, const struct table *t, struct buf *o)
{
	char title[32];
	size_t c;
	int i;

	for (i = 0; i < s->q.nby; i++) {
		put_upper(o, by_names[s->q.by[i]], -t->dim[i]);
		buf_printf(o, "  ");
	}
	for (i = 0; i < SPENDQ_NCOUNTS; i++) {
		buf_printf(o, "%s", i ? "  " : "");
		put_upper(o, spendq_count_names[i], count_widths[i]);
	}
	for (c = 0; c < SPENDQ_NCOSTS; c++)
		if (t->cost[c]) {
			cost_title(c, title, sizeof(title));
			buf_printf(o, "  ");
			put_upper(o, title, t->cost[c]);
		}
	buf_printf(o, "\n");
}

static void
table_line(const struct spend *s, const struct table *t, char *name, const struct spendq_line *ln,
    struct buf *o)
{
	char *f;
	size_t c;
	int i;

	for (i = 0; i < s->q.nby; i++) {
		f = spendq_field(&name);
		buf_printf(o, "%-*s  ", t->dim[i], *f ? f : "-");
	}
	for (i = 0; i < SPENDQ_NCOUNTS; i++)
		buf_printf(o, "%s%*lld", i ? "  " : "", count_widths[i], ln->count[i]);
	for (c = 0; c < SPENDQ_NCOSTS; c++)
		if (t->cost[c])
			buf_printf(o, "  %*s", t->cost[c], ln->cost[c]);
	buf_printf(o, "\n");
}

static void
csv_header(const struct spend *s, struct buf *o)
{
	size_t c;
	int i;

	for (i = 0; i < s->q.nby; i++)
		buf_printf(o, "%s,", by_names[s->q.by[i]]);
	for (i = 0; i < SPENDQ_NCOUNTS; i++)
		buf_printf(o, "%s,", spendq_count_names[i]);
	buf_printf(o, "cost_usd");
	for (c = 0; c < SPENDQ_NCOST_COLS; c++)
		buf_printf(o, ",cost_%s_usd", spendq_cost_cols[c].name);
	buf_printf(o, "\n");
}

static void
csv_line(const struct spend *s, char *name, const struct spendq_line *ln, struct buf *o)
{
	size_t c;
	int i;

	for (i = 0; i < s->q.nby; i++) {
		buf_csv_field(o, spendq_field(&name));
		buf_printf(o, ",");
	}
	for (i = 0; i < SPENDQ_NCOUNTS; i++)
		buf_printf(o, "%lld,", ln->count[i]);
	for (c = 0; c < SPENDQ_NCOSTS; c++)
		buf_printf(o, "%s%s", c ? "," : "", ln->cost[c]);
	buf_printf(o, "\n");
}

/* One object: costs are bare JSON numbers, exact decimal text as `tollctl cost` writes them. */
static void
json_line(const struct spend *s, char *name, const struct spendq_line *ln, struct buf *o)
{
	size_t c;
	int i;

	buf_printf(o, "{");
	for (i = 0; i < s->q.nby; i++) {
		buf_printf(o, "\"%s\":", by_names[s->q.by[i]]);
		json_write_string(o, spendq_field(&name));
		buf_printf(o, ",");
	}
	for (i = 0; i < SPENDQ_NCOUNTS; i++)
		buf_printf(o, "\"%s\":%lld,", spendq_count_names[i], ln->count[i]);
	buf_printf(o, "\"cost_usd\":%s", ln->cost[0]);
	for (c = 0; c < SPENDQ_NCOST_COLS; c++)
		buf_printf(o, ",\"cost_%s_usd\":%s", spendq_cost_cols[c].name, ln->cost[1 + c]);
	buf_printf(o, "}\n");
}

/* Prints the groups; cuts their names. */
static void
print(struct spend *s, struct buf *o)
{
	struct table t;
	struct spendq_line ln;
	size_t gi;

	if (s->fmt == FMT_TABLE) {
		table_widths(s, &t);
		table_header(s, &t, o);
	} else if (s->fmt == FMT_CSV)
		csv_header(s, o);
	for (gi = 0; gi < s->q.n; gi++) {
		spendq_line_of(&s->q.g[gi].v, &ln);
		switch (s->fmt) {
		case FMT_TABLE:
			table_line(s, &t, s->q.g[gi].name, &ln, o);
			break;
		case FMT_CSV:
			csv_line(s, s->q.g[gi].name, &ln, o);
			break;
		case FMT_JSON:
			json_line(s, s->q.g[gi].name, &ln, o);
			break;
		}
	}
}

/* Adds the grouping by b, unless it is there already (twice would print it twice). */
static void
add_by(struct spend *s, int b)
{
	int i;

	for (i = 0; i < s->q.nby; i++)
		if (s->q.by[i] == b)
			return;
	s->q.by[s->q.nby++] = b;
}

static int
parse_by(struct spend *s, const char *arg)
{
	int i;

	for (i = 0; i < BY_COUNT && strcmp(arg, by_names[i]) != 0; i++)
		;
	if (i == BY_COUNT) {
		log_error("--by: unknown dimension '%s' (key, user, team, customer, tag, model, "
		    "provider, deployment, priced_as, day or hour)", arg);
		return -1;
	}
	add_by(s, i);
	/* the public name, then what it is matched with: the provider's model, the price entry */
	if (i == BY_MODEL) {
		add_by(s, BY_DEPLOYMENT);
		add_by(s, BY_PRICED_AS);
	}
	s->q.hour |= i == BY_HOUR;
	return 0;
}

/*
 * A second value would have to mean either "or" or "and", and a tag list
 * either of them too: refused, rather than guessed at.
 */
static int
parse_filter(struct spend *s, enum agg_dim d, const char *arg)
{
	if (s->q.filter[d] != NULL) {
		log_error("--%s: given twice ('%s', '%s'); one value per filter", filter_names[d],
		    s->q.filter[d], arg);
		return -1;
	}
	if (d == AGG_DIM_TAG && strchr(arg, ',') != NULL) {
		log_error("--tag: '%s' is a list; give one tag", arg);
		return -1;
	}
	s->q.filter[d] = arg;
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
		{ "fleet", no_argument, NULL, 'F' },
		{ "dsn", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, OPT_FILTER + AGG_DIM_KEY },
		{ "user", required_argument, NULL, OPT_FILTER + AGG_DIM_USER },
		{ "team", required_argument, NULL, OPT_FILTER + AGG_DIM_TEAM },
		{ "customer", required_argument, NULL, OPT_FILTER + AGG_DIM_CUSTOMER },
		{ "tag", required_argument, NULL, OPT_FILTER + AGG_DIM_TAG },
		{ "model", required_argument, NULL, OPT_FILTER + AGG_DIM_MODEL },
		{ "provider", required_argument, NULL, OPT_FILTER + AGG_DIM_PROVIDER },
		{ "deployment", required_argument, NULL, OPT_FILTER + AGG_DIM_DEPLOYMENT },
		{ "priced-as", required_argument, NULL, OPT_FILTER + AGG_DIM_PRICED_AS },
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
			if ((rc = time_parse(optarg, now, ch == 's' ? &s->q.since : &s->q.until, err,
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
		case 'F':
			s->fleet = 1;
			break;
		case 'D':
			s->fleet = 1;
			s->dsn = optarg;
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
	if (s->have_since && s->have_until && s->q.until <= s->q.since) {
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

	if (s->q.hour && !s->have_since)
		s->q.since = first_hour;
	else if (s->q.hour && s->q.since < first_hour) {
		log_error("--by hour: hourly aggregates cover only the last 7 days "
		    "(--since %s or later)", time_format(first_hour, when, sizeof(when)));
		return -1;
	}
	s->q.hour |= s->have_since && s->q.since >= first_hour;
	if (s->q.hour) {
		s->q.since = time_hour_start(s->q.since);
		if (s->have_until && time_hour_start(s->q.until) != s->q.until)
			s->q.until = time_hour_start(s->q.until) + NS_PER_HOUR;
	} else {
		s->q.since = time_day_start(s->q.since);
		if (s->have_until && time_day_start(s->q.until) != s->q.until)
			s->q.until = time_day_start(s->q.until) + NS_PER_DAY;
	}
	return 0;
}

/* Reads the groups of s from the ledger's aggregates; 0, or -1 after saying why not. */
static int
spend_read(struct spend *s)
{
	struct ledger *l = NULL;
	char err[PATH_MAX + 256];
	int rc;

	if (s->fleet) {
		const char *dsn = s->dsn ? s->dsn : tollctl_postgres_dsn();

		if (dsn == NULL) {
			log_error("--fleet: no fleet ledger: the config has no tollgate.postgres.dsn "
			    "(give --dsn, or $TOLLGATE_POSTGRES_DSN)");
			return -1;
		}
		if (spend_fleet_run(dsn, &s->q, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -1;
		}
		return 0;
	}
	if (ledger_open(s->dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	rc = spendq_run(l, &s->q, err, sizeof(err));
	ledger_close(l);
	if (rc < 0)
		log_error("%s", err);
	else if (rc == 1)
		log_error("ledger '%s' has no aggregates yet (the gateway's accountant writes "
		    "them; or run 'tollctl aggregate --rebuild')", s->dir);
	return rc == 0 ? 0 : -1;
}

int
spend_main(int argc, char **argv)
{
	int64_t now = clock_now_ns();
	struct spend s = { .q.until = INT64_MAX, .fmt = FMT_TABLE, .dir = tollctl_ledger_dir() };
	struct buf o = { 0 };
	int rc = TOLLCTL_EXIT_ERROR;

	switch (spend_args(&s, argc, argv, now)) {
	case 1:
		return TOLLCTL_EXIT_OK;
	case -1:
		return TOLLCTL_EXIT_ERROR;
	}
	if (spend_window(&s, now) < 0 || spend_read(&s) < 0)
		goto out;
	if (s.q.nby == 0 && s.q.n == 0 && s.fmt != FMT_CSV) {
		/* a grand total of nothing is still a line */
		if (ARRAY_GROW(s.q.g, s.q.n, s.q.cap) < 0 || (s.q.g[0].name = strdup("")) == NULL) {
			log_error("out of memory");
			goto out;
		}
		memset(&s.q.g[0].v, 0, sizeof(s.q.g[0].v));
		s.q.n = 1;
	}
	print(&s, &o);
	if ((o.len && fwrite(o.data, 1, o.len, stdout) != o.len) || fflush(stdout) != 0) {
		log_error("cannot write the totals: %s", strerror(errno));
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
	spendq_release(&s.q);
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
