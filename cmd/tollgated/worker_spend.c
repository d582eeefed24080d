/*
 * The spend API, compatible with LiteLLM's request parameters and response
 * fields: GET /spend/logs, GET /global/spend/report, GET /user/daily/activity,
 * /team/daily/activity and /tag/daily/activity.  The master key only.  Runs
 * in the workers.  Besides LiteLLM's, tollgate's own GET /spend/totals (the
 * window's totals by any one dimension) and GET /budget/list (the configured
 * budgets, spent and reserved), which the dashboard (/ui) reads, and the
 * answers of worker_spend_records.c (/spend/whatif, /spend/provider_cost).
 *
 * Day-level answers come from the accountant's aggregates through lib/spendq,
 * and only from its rollups (model x provider x deployment x price entry per
 * day, the model being the model_name asked for, and one dimension per
 * day), never from the raw records nor the wide day rows, whose size grows
 * with the traffic: each query is a few short read transactions over at most
 * some thousand rows per day.  The rollups do not say how one team's spend
 * splits by model or key, so those nested breakdowns are empty lists here
 * (tollctl spend --team T --by model answers them from the wide rows).  Only
 * /spend/logs for single requests reads raw records, newest first and at most
 * SPEND_LOGS_SCAN of them per call, so that the event loop never waits long.
 *
 * Token counts in LiteLLM's terms: prompt_tokens is every input token (uncached,
 * cache read, cache write, audio, image, tool-use prompt), completion_tokens
 * every output token (output, reasoning, audio, image); costs are exact
 * decimal numbers of USD, never floats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate.h"
#include "clock.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "money.h"
#include "spendq.h"
#include "spendq_pg.h"
#include "timeparse.h"
#include "tollgated.h"
#include "worker.h"

#define NS_PER_DAY		(86400LL * 1000000000)
#define SPEND_DAYS_MAX		3660	/* longest window: ten years of day rows */
#define SPEND_PAGE_SIZE		50
#define SPEND_PAGE_SIZE_MAX	1000
#define SPEND_LOGS_LIMIT	100
#define SPEND_LOGS_LIMIT_MAX	1000
#define SPEND_LOGS_SCAN		10000	/* raw records read per call at most */
/*
 * Aggregate rows one query keeps at most (some 400 bytes each until grouped,
 * and as much again in the reply): 30 days of 3,000 keys, customers or tags
 * a day.  Without it, 10 years by customer of a 1M-record ledger held 2 GB
 * and the event loop for 3 s.
 */
#define SPEND_ROWS_MAX		100000
#define SPEND_FILTER_MAX	32	/* values in a team_ids/tags/user_id list */
#define SPEND_PARAM_MAX		1024
#define SPEND_DATE_MAX_S	9214560000LL	/* 2261-12-31, the last date in ns range */

/* ---- parameters ------------------------------------------------------------ */

/*
 * The value of query parameter name into out: 1 found, 0 not, or -1 with the
 * 400 sent when it is there twice, too long for out, or holds a NUL byte:
 * taking the first of two values, a cut number or the date before a %00
 * would answer another question than the one asked.
 */
int
spend_param(struct hreq *req, const char *name, char *out, size_t len)
{
	int rc = http1_query_param_one(hreq_query(req), name, out, len);

	if (rc == HTTP1_QUERY_REPEATED)
		http_send_param_error(req, name, "%s: given more than once", name);
	else if (rc == HTTP1_QUERY_BAD_VALUE)
		http_send_param_error(req, name, "%s: longer than %zu bytes or holding a NUL byte",
		    name, len - 1);
	return rc < 0 ? -1 : rc;
}

/* "YYYY-MM-DD", a real calendar date, as the start of that UTC day: 0 or -1. */
static int
parse_date(const char *s, int64_t *ns)
{
	struct tm tm = { 0 };
	time_t t;
	int i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mday != atoi(s + 8) ||
	    tm.tm_mon != atoi(s + 5) - 1)
		return -1;	/* 2026-02-30 came back as March */
	if (t < 0 || t > SPEND_DATE_MAX_S)
		return -1;	/* its nanoseconds, and the day after, must fit an int64_t */
	*ns = (int64_t)t * 1000000000;
	return 0;
}

/*
 * start_date and end_date (inclusive) as [since, until) in whole UTC days.
 * required: both must be there.  A missing one leaves the window open on its
 * side.  0, or -1 with the 400 sent.
 */
int
spend_window(struct hreq *req, int required, int64_t *since, int64_t *until)
{
	static const char *const names[2] = { "start_date", "end_date" };
	char v[SPEND_PARAM_MAX];
	int64_t day[2] = { INT64_MIN, INT64_MAX };
	int i, rc;

	for (i = 0; i < 2; i++) {
		if ((rc = spend_param(req, names[i], v, sizeof(v))) < 0)
			return -1;
		if (rc == 0 || *v == '\0') {
			if (required) {
				http_send_param_error(req, names[i], "%s is required (YYYY-MM-DD, UTC)",
				    names[i]);
				return -1;
			}
			continue;
		}
		if (parse_date(v, &day[i]) < 0) {
			http_send_param_error(req, names[i], "%s: expected a date YYYY-MM-DD (UTC) "
			    "from 1970-01-01 to 2261-12-31, got '%s'", names[i], v);
			return -1;
		}
	}
	if (day[0] != INT64_MIN && day[1] != INT64_MAX) {
		if (day[1] < day[0]) {
			http_send_param_error(req, "end_date", "end_date is before start_date");
			return -1;
		}
		if ((day[1] - day[0]) / NS_PER_DAY >= SPEND_DAYS_MAX) {
			http_send_param_error(req, "end_date", "the window is longer than %d days",
			    SPEND_DAYS_MAX);
			return -1;
		}
	}
	*since = day[0];
	*until = day[1] == INT64_MAX ? INT64_MAX : day[1] + NS_PER_DAY;
	return 0;
}

/* An integer parameter in [lo, hi], def when absent: 0, or -1 with the 400 sent. */
static int
parse_count(struct hreq *req, const char *name, long lo, long hi, long def, long *out)
{
	char v[64], *end;
	int rc;

	*out = def;
	if ((rc = spend_param(req, name, v, sizeof(v))) <= 0)
		return rc;
	*out = strtol(v, &end, 10);
	/* digits only: strtol would also take " 5", "+5" and "-0" */
	if (strspn(v, "0123456789") != strlen(v) || *v == '\0' || *end != '\0' ||
	    *out < lo || *out > hi) {
		http_send_param_error(req, name, "%s: expected a whole number from %ld to %ld, "
		    "got '%s'", name, lo, hi, v);
		return -1;
	}
	return 0;
}

/* A parameter that would filter in a way the rollups cannot: 0 when absent, -1 with the 400. */
static int
refuse(struct hreq *req, const char *name, const char *instead)
{
	char v[SPEND_PARAM_MAX];
	int rc;

	if ((rc = spend_param(req, name, v, sizeof(v))) <= 0 || *v == '\0')
		return rc;
	http_send_param_error(req, name, "%s is not supported here (%s)", name, instead);
	return -1;
}

/*
 * group_by, one of names (def when absent; NULL: required): its index, or -1
 * with the 400 sent, which lists the names.
 */
int
spend_group_by(struct hreq *req, const char *const *names, int n, const char *def)
{
	char by[64], list[256] = "";
	int i, rc;

	if ((rc = spend_param(req, "group_by", by, sizeof(by))) < 0)
		return -1;
	if (rc == 0)
		buf_copy(by, sizeof(by), def ? def : "");
	for (i = 0; i < n; i++)
		if (strcmp(by, names[i]) == 0)
			return i;
	for (i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		    i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
	http_send_param_error(req, "group_by", "group_by: expected %s, got '%s'", list, by);
	return -1;
}

/* ---- JSON -------------------------------------------------------------------- */

static long long
prompt_tokens(const struct agg_value *v)
{
	return v->tokens[RECORD_TOK_INPUT] + v->tokens[RECORD_TOK_CACHE_READ] +
	    v->tokens[RECORD_TOK_CACHE_WRITE_5M] + v->tokens[RECORD_TOK_CACHE_WRITE_1H] +
	    v->tokens[RECORD_TOK_AUDIO_IN] + v->tokens[RECORD_TOK_IMAGE_IN] +
	    v->tokens[RECORD_TOK_TOOL_PROMPT];
}

static long long
completion_tokens(const struct agg_value *v)
{
	return v->tokens[RECORD_TOK_OUTPUT] + v->tokens[RECORD_TOK_REASONING] +
	    v->tokens[RECORD_TOK_AUDIO_OUT] + v->tokens[RECORD_TOK_IMAGE_OUT];
}

void
spend_money(struct buf *o, __int128 pico)
{
	char text[MONEY_FORMAT_MAX];

	buf_printf(o, "%s", money_format(pico, MONEY_COST_SCALE, text));
}

/* Appends text, then n in decimal: printf's machinery is most of the cost of a long list. */
static void
put_int(struct buf *o, const char *text, long long n)
{
	char digits[24], *p = digits + sizeof(digits);
	unsigned long long u = n < 0 ? 0 - (unsigned long long)n : (unsigned long long)n;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (n < 0)
		*--p = '-';
	buf_append(o, text, strlen(text));
	buf_append(o, p, (size_t)(digits + sizeof(digits) - p));
}

/*
 * LiteLLM's SpendMetrics, and tollgate's own fields after them: the tokens of
 * each category and, in "cost", the cost of each category that cost anything
 * (input, cache_read, cache_write, output, reasoning, audio_input, ...: the
 * columns of tollctl spend), adding up to spend.
 */
static void
metrics_json(struct buf *o, const struct agg_value *v)
{
	char text[MONEY_FORMAT_MAX];
	long long in = prompt_tokens(v), out = completion_tokens(v);
	money_sum sum;
	size_t c;
	int p, first = 1;

	/* by hand, not printf: a month of breakdowns is tens of thousands of these */
	buf_append(o, "{\"spend\": ", 10);
	spend_money(o, v->total);
	put_int(o, ", \"prompt_tokens\": ", in);
	put_int(o, ", \"completion_tokens\": ", out);
	put_int(o, ", \"cache_read_input_tokens\": ", v->tokens[RECORD_TOK_CACHE_READ]);
	put_int(o, ", \"cache_creation_input_tokens\": ",
	    v->tokens[RECORD_TOK_CACHE_WRITE_5M] + v->tokens[RECORD_TOK_CACHE_WRITE_1H]);
	put_int(o, ", \"total_tokens\": ", in + out);
	put_int(o, ", \"api_requests\": ", v->requests);
	put_int(o, ", \"successful_requests\": ", v->requests - v->errors);
	put_int(o, ", \"failed_requests\": ", v->errors);
	put_int(o, ", \"input_tokens\": ", v->tokens[RECORD_TOK_INPUT]);
	put_int(o, ", \"output_tokens\": ", v->tokens[RECORD_TOK_OUTPUT]);
	put_int(o, ", \"reasoning_tokens\": ", v->tokens[RECORD_TOK_REASONING]);
	buf_append(o, ", \"cost\": {", 11);
	/* the categories that cost something: most are 0 on most rows */
	for (c = 0; c < SPENDQ_NCOST_COLS; c++) {
		for (sum = 0, p = 0; p < COST_PART_COUNT; p++)
			if (spendq_cost_cols[c].parts & 1u << p)
				sum += v->cost[p];
		if (sum == 0)
			continue;
		buf_printf(o, "%s\"%s\": %s", first ? "" : ", ", spendq_cost_cols[c].name,
		    money_format(sum, MONEY_COST_SCALE, text));
		first = 0;
	}
	buf_append(o, "}}", 2);
}

static void
str_json(struct buf *o, const char *s)
{
	json_write_string(o, s);
}

/* , "name": "value" */
static void
str_field(struct buf *o, const char *name, const char *value)
{
	buf_printf(o, ", \"%s\": ", name);
	json_write_string(o, value);
}

/* The n-th value of a group name ("day\x1fmodel\x1f..."), into out. */
static const char *
part(const char *name, int n, char *out, size_t len)
{
	size_t l;

	while (n-- > 0 && (name = strchr(name, '\x1f')) != NULL)
		name++;
	if (name == NULL) {
		*out = '\0';
		return out;
	}
	l = strcspn(name, "\x1f");
	if (l >= len)
		l = len - 1;
	memcpy(out, name, l);
	out[l] = '\0';
	return out;
}

/* Whether group g's name starts with day ("YYYY-MM-DD"). */
static int
of_day(const struct spendq_group *g, const char *day)
{
	return strncmp(g->name, day, 10) == 0;
}

/* ---- queries ------------------------------------------------------------------ */

/* A ?fleet=true answer being made (see fleet_serve()). */
#define FLEET_QUERIES	8

struct fleet {
	struct hreq		*req;		/* NULL once the client went */
	void			(*serve)(struct hreq *);
	const struct activity	*a;
	struct spendq		 got[FLEET_QUERIES];	/* the answers, in the endpoint's order */
	size_t			 ngot, used;
	struct spendq		 want;		/* the query the endpoint stopped at */
	char			*filters[AGG_DIM_COUNT];	/* want's, copied */
	int			 pending, answered;
};

static struct fleet *fleet_now;	/* the fleet answer being made, if one is */

/*
 * Runs q over the worker's ledger (or, for ?fleet=true, the fleet ledger:
 * fleet_run()): 0 (no aggregates yet counts as no rows), or -1 with the
 * 500 or 503 sent (or the fleet's query to make first).
 */
static int fleet_run(struct hreq *req, struct spendq *q);

static int
run(struct hreq *req, struct spendq *q)
{
	char err[256];
	int rc;

	if (fleet_now != NULL)
		return fleet_run(req, q);
	if (worker.ledger == NULL) {
		http_send_error(req, 503, "server_error", "ledger_unavailable",
		    "the ledger is not open (see the log)");
		return -1;
	}
	if ((rc = spendq_run(worker.ledger, q, err, sizeof(err))) == SPENDQ_TOO_MANY) {
		http_send_param_error(req, "start_date", "the window holds more than %d rows of "
		    "aggregates: ask for fewer days", SPEND_ROWS_MAX);
		return -1;
	}
	if (rc < 0) {
		log_warn("worker %u: %s: %s", heritage.index, hreq_path(req), err);
		http_send_error(req, 500, "server_error", "ledger_error", "%s", err);
		return -1;
	}
	return 0;
}

static void
query_init(struct spendq *q, int64_t since, int64_t until)
{
	memset(q, 0, sizeof(*q));
	q->since = since;
	q->until = until;
	q->max_rows = SPEND_ROWS_MAX;
}

/* A list of values (a comma-separated parameter) a row's dimension must be one of. */
struct one_of {
	int		 dim;
	char		 text[SPEND_PARAM_MAX];
	const char	*v[SPEND_FILTER_MAX];
	size_t		 n;
};

static int
in_list(void *arg, const struct agg_row *row)
{
	const struct one_of *f = arg;
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strncmp(row->dim[f->dim], f->v[i], AGG_DIM_MAX) == 0)
			return 1;
	return 0;
}

/* Reads parameter name as a list into f: 0 (f->n 0: absent), or -1 with the 400 sent. */
static int
parse_list(struct hreq *req, const char *name, int dim, struct one_of *f)
{
	char *p, *save = NULL;
	int rc;

	f->dim = dim;
	f->n = 0;
	if ((rc = spend_param(req, name, f->text, sizeof(f->text))) <= 0 || *f->text == '\0')
		return rc;
	for (p = strtok_r(f->text, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		if (f->n == SPEND_FILTER_MAX) {
			http_send_param_error(req, name, "%s: at most %d values", name,
			    SPEND_FILTER_MAX);
			return -1;
		}
		f->v[f->n++] = p;
	}
	if (f->n == 0) {
		/* "," named no one: answering for everyone would be another question */
		http_send_param_error(req, name, "%s: expected a value or a comma-separated list",
		    name);
		return -1;
	}
	return 0;
}

static int
on_key(void *arg, const struct keys_key *k)
{
	struct key_names *kn = arg;
	struct key_name *e;

	if (ARRAY_GROW(kn->k, kn->n, kn->cap) < 0)
		return -1;
	e = &kn->k[kn->n++];
	memcpy(e->id, "key:", 4);
	buf_hex(e->id + 4, k->hash, 8);
	buf_copy(e->alias, sizeof(e->alias), k->a.alias ? k->a.alias : "");
	buf_copy(e->team, sizeof(e->team), k->a.team_id ? k->a.team_id : "");
	return 0;
}

static int
key_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key_name *)a)->id, ((const struct key_name *)b)->id);
}

/* Every key, sorted by id: a month by key asks for one name per key and day. */
void
spend_key_names_load(struct key_names *kn)
{
	char err[256];

	if (worker.keys != NULL && keys_list(worker.keys, on_key, kn, err, sizeof(err)) < 0)
		log_warn("worker %u: spend API: %s", heritage.index, err);
	if (kn->n > 1)
		qsort(kn->k, kn->n, sizeof(*kn->k), key_name_cmp);
}

const struct key_name *
spend_key_name_of(const struct key_names *kn, const char *id)
{
	struct key_name want;

	if (kn->n == 0 || strlen(id) >= sizeof(want.id))
		return NULL;	/* no key id, and the cut would find another */
	memcpy(want.id, id, strlen(id) + 1);
	return bsearch(&want, kn->k, kn->n, sizeof(*kn->k), key_name_cmp);
}

/* "key_alias" and "team_id" of a key id, null when unknown. */
static void
key_meta_json(struct buf *o, const struct key_names *kn, const char *id)
{
	const struct key_name *k = spend_key_name_of(kn, id);

	buf_printf(o, "{\"key_alias\": ");
	if (k != NULL && *k->alias)
		str_json(o, k->alias);
	else
		buf_printf(o, "null");
	buf_printf(o, ", \"team_id\": ");
	if (k != NULL && *k->team)
		str_json(o, k->team);
	else
		buf_printf(o, "null");
	buf_printf(o, "}");
}

void
spend_reply(struct hreq *req, struct buf *o)
{
	hreq_add_header(req, "Content-Type", "application/json");
	hreq_add_header(req, "Cache-Control", "no-store");
	hreq_reply(req, 200, o->data ? o->data : "", o->len);
}

/*
 * Appends {"name": {"metrics": ..., "metadata": {}}, ...} for the groups of
 * q on day [*i, ...) whose value n (after the day) is the map key; rows with
 * the same value (a model under two providers) are added up.  Moves *i past
 * the day.  keys: the map is of key ids, whose metadata names alias and team.
 */
static void
breakdown_json(struct buf *o, const struct spendq *q, size_t *i, const char *day, int n,
    const struct key_names *keys)
{
	char name[AGG_DIM_MAX * 2 + 2], next[sizeof(name)];
	struct agg_value v;
	int first = 1;

	buf_printf(o, "{");
	while (*i < q->n && of_day(&q->g[*i], day)) {
		part(q->g[*i].name, n, name, sizeof(name));
		v = q->g[*i].v;
		for ((*i)++; *i < q->n && of_day(&q->g[*i], day) &&
		    strcmp(part(q->g[*i].name, n, next, sizeof(next)), name) == 0; (*i)++)
			aggregate_value_add(&v, &q->g[*i].v);
		buf_printf(o, "%s", first ? "" : ", ");
		first = 0;
		str_json(o, name);
		buf_printf(o, ": {\"metrics\": ");
		metrics_json(o, &v);
		buf_printf(o, ", \"metadata\": ");
		if (keys != NULL)
			key_meta_json(o, keys, name);
		else
			buf_printf(o, "{}");
		buf_printf(o, "}");
	}
	buf_printf(o, "}");
}

/* Skips the groups of q before day (days are sorted, so a cursor only moves on). */
static void
seek_day(const struct spendq *q, size_t *i, const char *day)
{
	while (*i < q->n && strncmp(q->g[*i].name, day, 10) < 0)
		(*i)++;
}

/* ---- /user, /team, /tag daily activity ------------------------------------------- */

struct activity {
	const char	*path;
	const char	*list_param;	/* the entities asked for */
	int		 dim;
};

static const struct activity activities[] = {
	{ "/user/daily/activity", "user_id", AGG_DIM_USER },
	{ "/team/daily/activity", "team_ids", AGG_DIM_TEAM },
	{ "/tag/daily/activity", "tags", AGG_DIM_TAG },
};

/* LiteLLM's DailySpendMetadata totals over the whole window. */
static void
activity_metadata(struct buf *o, const struct agg_value *t, long page, long pages)
{
	struct spendq_line ln;

	spendq_line_of(t, &ln);
	buf_printf(o, "\"metadata\": {\"total_spend\": %s, \"total_prompt_tokens\": %lld, "
	    "\"total_completion_tokens\": %lld, \"total_tokens\": %lld, "
	    "\"total_api_requests\": %lld, \"total_successful_requests\": %lld, "
	    "\"total_failed_requests\": %lld, \"total_cache_read_input_tokens\": %lld, "
	    "\"total_cache_creation_input_tokens\": %lld, \"page\": %ld, \"total_pages\": %ld, "
	    "\"has_more\": %s}", ln.cost[0], prompt_tokens(t), completion_tokens(t),
	    prompt_tokens(t) + completion_tokens(t), ln.count[0], ln.count[0] - ln.count[1],
	    ln.count[1], ln.count[3], ln.count[4], page, pages, page < pages ? "true" : "false");
}

/*
 * The days with spend, and each day's totals: from the model rollup when no
 * entity is asked for (each request once, whatever its tags), else from the
 * entities' own rows.
 */
struct day_total {
	char			day[11];
	struct agg_value	v;
};

static int
day_totals(const struct spendq *q, struct day_total **days, size_t *n)
{
	size_t i, cap = 0;

	*days = NULL;
	*n = 0;
	for (i = 0; i < q->n; i++) {
		if (*n == 0 || !of_day(&q->g[i], (*days)[*n - 1].day)) {
			if (ARRAY_GROW(*days, *n, cap) < 0)
				return -1;
			memcpy((*days)[*n].day, q->g[i].name, 10);
			(*days)[*n].day[10] = '\0';
			memset(&(*days)[*n].v, 0, sizeof((*days)[*n].v));
			(*n)++;
		}
		aggregate_value_add(&(*days)[*n - 1].v, &q->g[i].v);
	}
	return 0;
}

static void
serve_activity(struct hreq *req, const struct activity *a)
{
	struct spendq qm, qp, qk, qe;
	struct one_of only;
	struct key_names kn = { 0 };
	struct day_total *days = NULL;
	struct agg_value total;
	struct buf o = { 0 };
	int64_t since, until;
	long page, size, pages;
	size_t ndays = 0, d, im = 0, ip = 0, ik = 0, ie = 0;

	query_init(&qm, 0, 0);
	query_init(&qp, 0, 0);
	query_init(&qk, 0, 0);
	query_init(&qe, 0, 0);
	if (spend_window(req, 1, &since, &until) < 0 ||
	    parse_count(req, "page", 1, 1000000, 1, &page) < 0 ||
	    parse_count(req, "page_size", 1, SPEND_PAGE_SIZE_MAX, SPEND_PAGE_SIZE, &size) < 0 ||
	    parse_list(req, a->list_param, a->dim, &only) < 0 ||
	    refuse(req, "api_key", "the aggregates split spend by key or by entity, not both: "
	    "see breakdown.api_keys, or /spend/logs?api_key=") < 0 ||
	    refuse(req, "model", "see breakdown.models") < 0)
		goto out;
	/* the entities, each day */
	query_init(&qe, since, until);
	qe.by[0] = SPENDQ_BY_DAY;
	qe.by[1] = a->dim;
	qe.nby = 2;
	if (only.n > 0) {
		qe.keep = in_list;
		qe.keep_arg = &only;
	}
	if (run(req, &qe) < 0)
		goto out;
	if (only.n == 0) {
		/* by model and provider (and the days' totals), by key */
		query_init(&qm, since, until);
		qm.by[0] = SPENDQ_BY_DAY;
		qm.by[1] = AGG_DIM_MODEL;
		qm.by[2] = AGG_DIM_PROVIDER;
		qm.nby = 3;
		query_init(&qp, since, until);
		qp.by[0] = SPENDQ_BY_DAY;
		qp.by[1] = AGG_DIM_PROVIDER;
		qp.nby = 2;
		query_init(&qk, since, until);
		qk.by[0] = SPENDQ_BY_DAY;
		qk.by[1] = AGG_DIM_KEY;
		qk.nby = 2;
		if (run(req, &qm) < 0 || run(req, &qp) < 0 || run(req, &qk) < 0)
			goto out;
		spend_key_names_load(&kn);
	}
	if (day_totals(only.n ? &qe : &qm, &days, &ndays) < 0) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		goto out;
	}
	memset(&total, 0, sizeof(total));
	for (d = 0; d < ndays; d++)
		aggregate_value_add(&total, &days[d].v);
	pages = ndays ? (long)((ndays + (size_t)size - 1) / (size_t)size) : 1;
	buf_printf(&o, "{\"results\": [");
	for (d = (size_t)(page - 1) * (size_t)size; d < ndays && d < (size_t)(page * size); d++) {
		const char *day = days[d].day;

		buf_printf(&o, "%s{\"date\": \"%s\", \"metrics\": ", d % (size_t)size ? ", " : "",
		    day);
		metrics_json(&o, &days[d].v);
		buf_printf(&o, ", \"breakdown\": {\"models\": ");
		seek_day(&qm, &im, day);
		breakdown_json(&o, &qm, &im, day, 1, NULL);
		buf_printf(&o, ", \"providers\": ");
		seek_day(&qp, &ip, day);
		breakdown_json(&o, &qp, &ip, day, 1, NULL);
		buf_printf(&o, ", \"api_keys\": ");
		seek_day(&qk, &ik, day);
		breakdown_json(&o, &qk, &ik, day, 1, &kn);
		buf_printf(&o, ", \"entities\": ");
		seek_day(&qe, &ie, day);
		breakdown_json(&o, &qe, &ie, day, 1, NULL);
		buf_printf(&o, "}}");
	}
	buf_printf(&o, "], ");
	activity_metadata(&o, &total, page, pages);
	buf_printf(&o, "}\n");
	spend_reply(req, &o);
out:
	spendq_release(&qm);
	spendq_release(&qp);
	spendq_release(&qk);
	spendq_release(&qe);
	free(days);
	free(kn.k);
	buf_release(&o);
}

/* ---- /global/spend/report ------------------------------------------------------------ */

static int
by_spend_desc(const void *a, const void *b)
{
	const struct spendq_group *x = a, *y = b;

	if (x->v.total != y->v.total)
		return x->v.total > y->v.total ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * One entry of a day's list: {"team_name": ..., "total_spend": ..., "metadata": []}
 * and the counts (only the total is money: the entries are many, and each
 * decimal costs its formatting).
 */
static void
report_entry(struct buf *o, const char *field, const char *name, const struct agg_value *v)
{
	buf_printf(o, "{\"%s\": ", field);
	str_json(o, name);
	buf_printf(o, ", \"total_spend\": ");
	spend_money(o, v->total);
	put_int(o, ", \"metadata\": [], \"api_requests\": ", v->requests);
	put_int(o, ", \"failed_requests\": ", v->errors);
	put_int(o, ", \"prompt_tokens\": ", prompt_tokens(v));
	put_int(o, ", \"completion_tokens\": ", completion_tokens(v));
	put_int(o, ", \"cache_read_input_tokens\": ", v->tokens[RECORD_TOK_CACHE_READ]);
	put_int(o, ", \"cache_creation_input_tokens\": ",
	    v->tokens[RECORD_TOK_CACHE_WRITE_5M] + v->tokens[RECORD_TOK_CACHE_WRITE_1H]);
	buf_append(o, "}", 1);
}

/*
 * group_by team, customer or tag: per day, the day's entities, dearest first
 * (LiteLLM's shape: [{"group_by_day", "teams": [{"team_name", "total_spend",
 * "metadata"}]}]).  metadata, the split by model and key, is empty: the
 * rollups do not hold it.
 */
static void
report_by_day(struct hreq *req, struct buf *o, int dim, int64_t since, int64_t until)
{
	static const char *const lists[AGG_DIM_COUNT] = {
		[AGG_DIM_TEAM] = "teams", [AGG_DIM_CUSTOMER] = "customers", [AGG_DIM_TAG] = "tags"
	};
	static const char *const fields[AGG_DIM_COUNT] = {
		[AGG_DIM_TEAM] = "team_name", [AGG_DIM_CUSTOMER] = "customer", [AGG_DIM_TAG] = "tag"
	};
	struct spendq q;
	char name[AGG_DIM_MAX + 1];
	size_t i = 0, j, start;

	query_init(&q, since, until);
	q.by[0] = SPENDQ_BY_DAY;
	q.by[1] = dim;
	q.nby = 2;
	if (run(req, &q) < 0)
		return;
	buf_printf(o, "[");
	while (i < q.n) {
		/* the day's groups are [start, i): ordered by spend among themselves */
		for (start = i; i < q.n && strncmp(q.g[i].name, q.g[start].name, 10) == 0; i++)
			;
		qsort(q.g + start, i - start, sizeof(*q.g), by_spend_desc);
		buf_printf(o, "%s{\"group_by_day\": \"%.10sT00:00:00+00:00\", \"%s\": [",
		    start ? ", " : "", q.g[start].name, lists[dim]);
		for (j = start; j < i; j++) {
			buf_printf(o, "%s", j > start ? ", " : "");
			report_entry(o, fields[dim], part(q.g[j].name, 1, name, sizeof(name)),
			    &q.g[j].v);
		}
		buf_printf(o, "]}");
	}
	buf_printf(o, "]\n");
	spend_reply(req, o);
	spendq_release(&q);
}

/*
 * , "deployments": [{"provider", "deployment", "priced_as", "metrics"}, ...]:
 * the lines of qd (by model, provider, deployment and priced_as, dearest
 * first) whose model is model: what a model_name was served by and priced as.
 */
static void
deployments_json(struct buf *o, const struct spendq *qd, const char *model)
{
	static const char *const fields[] = { "provider", "deployment", "priced_as" };
	char v[AGG_DIM_MAX * 2 + 2];
	size_t i, n;
	int first = 1;

	buf_printf(o, ", \"deployments\": [");
	for (i = 0; i < qd->n; i++) {
		if (strcmp(part(qd->g[i].name, 0, v, sizeof(v)), model) != 0)
			continue;
		buf_printf(o, "%s{", first ? "" : ", ");
		first = 0;
		for (n = 0; n < 3; n++) {
			buf_printf(o, "%s\"%s\": ", n ? ", " : "", fields[n]);
			str_json(o, part(qd->g[i].name, (int)n + 1, v, sizeof(v)));
		}
		buf_printf(o, ", \"metrics\": ");
		metrics_json(o, &qd->g[i].v);
		buf_printf(o, "}");
	}
	buf_printf(o, "]");
}

/*
 * Totals over the window by dim, dearest first.  litellm (group_by api_key or
 * model): LiteLLM's shape, [{"api_key", "total_cost", "total_input_tokens",
 * "total_output_tokens", "model_details"}], model_details empty as above;
 * else tollgate's /spend/totals: [{"group", "metrics"}].  Keys carry their
 * alias either way.
 */
static void
report_totals(struct hreq *req, struct buf *o, int dim, int64_t since, int64_t until, int litellm)
{
	struct key_names kn = { 0 };
	struct spendq q, qd;
	int deps = dim == AGG_DIM_MODEL && !litellm;
	size_t i;

	query_init(&q, since, until);
	query_init(&qd, since, until);
	q.by[0] = dim;
	q.nby = 1;
	if (run(req, &q) < 0)
		return;
	if (deps) {
		/* the model's lines: by model, provider, deployment and price entry */
		qd.by[0] = AGG_DIM_MODEL;
		qd.by[1] = AGG_DIM_PROVIDER;
		qd.by[2] = AGG_DIM_DEPLOYMENT;
		qd.by[3] = AGG_DIM_PRICED_AS;
		qd.nby = 4;
		if (run(req, &qd) < 0) {
			spendq_release(&q);
			spendq_release(&qd);
			return;
		}
		qsort(qd.g, qd.n, sizeof(*qd.g), by_spend_desc);
	}
	qsort(q.g, q.n, sizeof(*q.g), by_spend_desc);
	if (dim == AGG_DIM_KEY)
		spend_key_names_load(&kn);
	buf_printf(o, "[");
	for (i = 0; i < q.n; i++) {
		buf_printf(o, "%s{\"%s\": ", i ? ", " : "",
		    !litellm ? "group" : dim == AGG_DIM_KEY ? "api_key" : "model");
		str_json(o, q.g[i].name);
		if (dim == AGG_DIM_KEY) {
			const struct key_name *k = spend_key_name_of(&kn, q.g[i].name);

			buf_printf(o, ", \"key_alias\": ");
			if (k != NULL && *k->alias)
				str_json(o, k->alias);
			else
				buf_printf(o, "null");
		}
		if (litellm) {
			buf_printf(o, ", \"total_cost\": ");
			spend_money(o, q.g[i].v.total);
			buf_printf(o, ", \"total_input_tokens\": %lld, \"total_output_tokens\": %lld, "
			    "\"%s\": []", prompt_tokens(&q.g[i].v), completion_tokens(&q.g[i].v),
			    dim == AGG_DIM_KEY ? "model_details" : "api_key_details");
		}
		buf_printf(o, ", \"metrics\": ");
		metrics_json(o, &q.g[i].v);
		if (deps)
			deployments_json(o, &qd, q.g[i].name);
		buf_printf(o, "}");
	}
	buf_printf(o, "]\n");
	spend_reply(req, o);
	spendq_release(&q);
	spendq_release(&qd);
	free(kn.k);
}

/*
 * GET /spend/totals (tollgate's own): the window's totals by key, user, team,
 * customer, tag, model (the model_name asked for), provider, deployment (the
 * provider's model) or priced_as (the price-map entry), dearest first, every
 * token category and cost in "metrics".  Tags: each tag's line is exact, and
 * a request with several tags is in each.
 */
static void
serve_totals(struct hreq *req)
{
	static const char *const names[AGG_DIM_COUNT] = {
		"key", "user", "team", "customer", "tag", "model", "provider", "deployment",
		"priced_as"
	};
	struct buf o = { 0 };
	int64_t since, until;
	int d;

	if (spend_window(req, 1, &since, &until) < 0 ||
	    (d = spend_group_by(req, names, AGG_DIM_COUNT, NULL)) < 0)
		return;
	report_totals(req, &o, d, since, until, 0);
	buf_release(&o);
}

/*
 * GET /budget/list: the budgets of tollgate.budgets with what they have spent
 * and hold reserved in the current window, and when it ends (the keys'
 * budgets are in /key/list?return_full_object=true and /key/info).
 */
static void
serve_budgets(struct hreq *req)
{
	static const char *const scopes[] = { "global", "user", "team", "customer", "tag" };
	const struct config *c = heritage.config;
	struct budget_store *store = heritage.budgets;
	struct budget_reading r;
	int64_t now = clock_now_ns();
	struct buf o = { 0 };
	char when[64];
	size_t i;

	buf_printf(&o, "{\"budgets\": [");
	for (i = 0; i < c->tollgate.nbudgets; i++) {
		const struct config_budget *b = &c->tollgate.budgets[i];

		if (store == NULL || store->ops->read(store, b->counter, now, &r) != 0)
			memset(&r, 0, sizeof(r));
		buf_printf(&o, "%s{\"budget_id\": ", i ? ", " : "");
		str_json(&o, b->counter);
		buf_printf(&o, ", \"scope\": \"%s\", \"name\": ", scopes[b->scope]);
		if (b->name != NULL)
			str_json(&o, b->name);
		else
			buf_printf(&o, "null");
		buf_printf(&o, ", \"max_budget\": ");
		if (b->max_budget == BUDGET_NONE)
			buf_printf(&o, "null");
		else
			spend_money(&o, b->max_budget);
		buf_printf(&o, ", \"soft_budget\": ");
		if (b->soft_budget == BUDGET_NONE)
			buf_printf(&o, "null");
		else
			spend_money(&o, b->soft_budget);
		buf_printf(&o, ", \"budget_duration\": ");
		if (b->has_window)
			str_json(&o, b->duration);
		else
			buf_printf(&o, "null");
		buf_printf(&o, ", \"spend\": ");
		spend_money(&o, r.spent);
		buf_printf(&o, ", \"reserved\": ");
		spend_money(&o, r.reserved);
		buf_printf(&o, ", \"budget_reset_at\": ");
		if (b->has_window && r.window_end > 0)
			buf_printf(&o, "\"%s\"}", time_format(r.window_end, when, sizeof(when)));
		else
			buf_printf(&o, "null}");
	}
	buf_printf(&o, "]}\n");
	spend_reply(req, &o);
	buf_release(&o);
}

static void
serve_report(struct hreq *req)
{
	static const char *const names[] = { "team", "customer", "api_key", "model", "tag" };
	static const int dims[] = {
		AGG_DIM_TEAM, AGG_DIM_CUSTOMER, AGG_DIM_KEY, AGG_DIM_MODEL, AGG_DIM_TAG
	};
	struct buf o = { 0 };
	int64_t since, until;
	int i;

	if (spend_window(req, 1, &since, &until) < 0 ||
	    (i = spend_group_by(req, names, sizeof(names) / sizeof(names[0]), "team")) < 0)
		return;
	if (refuse(req, "api_key", "the report covers every key") < 0 ||
	    refuse(req, "internal_user_id", "see /user/daily/activity?user_id=") < 0)
		return;
	if (dims[i] == AGG_DIM_KEY || dims[i] == AGG_DIM_MODEL)
		report_totals(req, &o, dims[i], since, until, 1);
	else
		report_by_day(req, &o, dims[i], since, until);
	buf_release(&o);
}

/* ---- /spend/logs ------------------------------------------------------------------------ */

/* {"value": spend, ...} for q's groups of day from *i on; moves *i past them. */
static void
day_spend_map(struct buf *o, const struct spendq *q, size_t *i, const char *day)
{
	char name[AGG_DIM_MAX * 2 + 2];
	size_t first;

	seek_day(q, i, day);
	buf_printf(o, "{");
	for (first = *i; *i < q->n && of_day(&q->g[*i], day); (*i)++) {
		buf_printf(o, "%s", *i > first ? ", " : "");
		str_json(o, part(q->g[*i].name, 1, name, sizeof(name)));
		buf_printf(o, ": ");
		spend_money(o, q->g[*i].v.total);
	}
	buf_printf(o, "}");
}

/*
 * Per day (LiteLLM's summary: [{"startTime", "spend", "users", "models",
 * and the spend of each key under its own name}]), plus "api_keys", the same
 * by key in one map, and "metrics".
 */
static void
logs_summary(struct hreq *req, int64_t since, int64_t until)
{
	struct spendq qm, qu, qk;
	struct day_total *days = NULL;
	struct buf o = { 0 };
	size_t ndays = 0, d, im = 0, iu = 0, ik = 0, j;
	int dims[3] = { AGG_DIM_MODEL, AGG_DIM_USER, AGG_DIM_KEY };
	struct spendq *qs[3] = { &qm, &qu, &qk };

	for (j = 0; j < 3; j++) {
		query_init(qs[j], since, until);
		qs[j]->by[0] = SPENDQ_BY_DAY;
		qs[j]->by[1] = dims[j];
		qs[j]->nby = 2;
	}
	for (j = 0; j < 3; j++)
		if (run(req, qs[j]) < 0)
			goto out;
	if (day_totals(&qm, &days, &ndays) < 0) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		goto out;
	}
	buf_printf(&o, "[");
	for (d = 0; d < ndays; d++) {
		const char *day = days[d].day;
		size_t k;

		buf_printf(&o, "%s{\"startTime\": \"%s\", \"spend\": ", d ? ", " : "", day);
		spend_money(&o, days[d].v.total);
		buf_printf(&o, ", \"users\": ");
		day_spend_map(&o, &qu, &iu, day);
		buf_printf(&o, ", \"models\": ");
		day_spend_map(&o, &qm, &im, day);
		buf_printf(&o, ", \"api_keys\": ");
		seek_day(&qk, &ik, day);
		k = ik;
		day_spend_map(&o, &qk, &ik, day);
		/* LiteLLM puts each key's spend at the top level too */
		for (ik = k; ik < qk.n && of_day(&qk.g[ik], day); ik++) {
			char name[AGG_DIM_MAX * 2 + 2];

			part(qk.g[ik].name, 1, name, sizeof(name));
			if (strcmp(name, "startTime") == 0 || strcmp(name, "spend") == 0 ||
			    strcmp(name, "users") == 0 || strcmp(name, "models") == 0 ||
			    strcmp(name, "api_keys") == 0 || strcmp(name, "metrics") == 0)
				continue;
			buf_printf(&o, ", ");
			str_json(&o, name);
			buf_printf(&o, ": ");
			spend_money(&o, qk.g[ik].v.total);
		}
		buf_printf(&o, ", \"metrics\": ");
		metrics_json(&o, &days[d].v);
		buf_printf(&o, "}");
	}
	buf_printf(&o, "]\n");
	spend_reply(req, &o);
out:
	for (j = 0; j < 3; j++)
		spendq_release(qs[j]);
	free(days);
	buf_release(&o);
}

struct logs_query {
	const char	*request_id, *api_key, *user_id;	/* NULL: any */
	size_t		 limit, found;
	struct buf	*o;
};

static void
time_json(struct buf *o, int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char text[40];

	if (ns <= 0 || gmtime_r(&sec, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf_printf(o, "null");
		return;
	}
	buf_printf(o, "\"%s.%03dZ\"", text, (int)(ns % 1000000000 / 1000000));
}

/* One record as LiteLLM's SpendLogs row; "metadata" is tollgate's whole record. */
static int
on_record(void *arg, const struct record *r)
{
	struct logs_query *lq = arg;
	struct buf *o = lq->o;
	struct agg_value v = { 0 };
	char tags[sizeof(r->tags)], *t, *save = NULL;
	int first = 1;

	if ((lq->request_id && strcmp(r->id, lq->request_id) != 0) ||
	    (lq->api_key && strcmp(r->key, lq->api_key) != 0) ||
	    (lq->user_id && strcmp(r->user, lq->user_id) != 0))
		return 0;
	aggregate_add(&v, r);
	buf_printf(o, "%s{\"request_id\": ", lq->found ? ", " : "");
	str_json(o, r->id);
	str_field(o, "call_type", r->endpoint);
	str_field(o, "api_key", r->key);
	buf_printf(o, ", \"spend\": ");
	spend_money(o, r->total);
	buf_printf(o, ", \"total_tokens\": %lld, \"prompt_tokens\": %lld, "
	    "\"completion_tokens\": %lld, \"cache_read_input_tokens\": %lld, "
	    "\"cache_creation_input_tokens\": %lld, \"startTime\": ",
	    prompt_tokens(&v) + completion_tokens(&v), prompt_tokens(&v), completion_tokens(&v),
	    (long long)r->tokens[RECORD_TOK_CACHE_READ],
	    (long long)(r->tokens[RECORD_TOK_CACHE_WRITE_5M] + r->tokens[RECORD_TOK_CACHE_WRITE_1H]));
	time_json(o, r->start_ns);
	buf_printf(o, ", \"endTime\": ");
	time_json(o, r->end_ns);
	buf_printf(o, ", \"completionStartTime\": ");
	time_json(o, r->first_byte_ns);
	str_field(o, "model", *r->deployment ? r->deployment : r->model_requested);
	str_field(o, "model_group", r->model_requested);
	str_field(o, "custom_llm_provider", r->provider);
	str_field(o, "user", r->user);
	str_field(o, "team_id", r->team);
	str_field(o, "end_user", r->customer);
	buf_printf(o, ", \"request_tags\": [");
	buf_copy(tags, sizeof(tags), r->tags);
	for (t = strtok_r(tags, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		buf_printf(o, "%s", first ? "" : ", ");
		str_json(o, t);
		first = 0;
	}
	buf_printf(o, "], \"status\": \"%s\", \"metadata\": ",
	    aggregate_is_error(r) ? "failure" : "success");
	record_to_json(r, o);
	buf_printf(o, "}");
	return ++lq->found >= lq->limit;
}

/*
 * api_key as the records name keys: a virtual key's secret, token or alias
 * becomes its id ("key:" and 16 hex digits); anything else is taken as an id.
 */
static void
key_ref_to_id(const char *ref, char *id, size_t len)
{
	struct keys_key k = { 0 };
	char err[256];

	if (worker.keys != NULL && keys_get(worker.keys, ref, &k, err, sizeof(err)) == 0 &&
	    len > 20) {
		memcpy(id, "key:", 4);
		buf_hex(id + 4, k.hash, 8);
	} else
		buf_copy(id, len, ref);
	keys_key_release(&k);
}

static void
serve_logs(struct hreq *req)
{
	char request_id[SPEND_PARAM_MAX], api_key[SPEND_PARAM_MAX], key_id[SPEND_PARAM_MAX];
	char user_id[SPEND_PARAM_MAX], summarize[16] = "true", scan[32];
	struct logs_query lq = { 0 };
	struct buf o = { 0 };
	int64_t since, until;
	long limit;
	int summary, rc[3];

	if (spend_window(req, 0, &since, &until) < 0 ||
	    parse_count(req, "limit", 1, SPEND_LOGS_LIMIT_MAX, SPEND_LOGS_LIMIT, &limit) < 0)
		return;
	if (spend_param(req, "summarize", summarize, sizeof(summarize)) < 0)
		return;
	if (strcmp(summarize, "true") != 0 && strcmp(summarize, "false") != 0) {
		http_send_param_error(req, "summarize", "summarize: expected true or false, got '%s'",
		    summarize);
		return;
	}
	if ((rc[0] = spend_param(req, "request_id", request_id, sizeof(request_id))) < 0 ||
	    (rc[1] = spend_param(req, "api_key", api_key, sizeof(api_key))) < 0 ||
	    (rc[2] = spend_param(req, "user_id", user_id, sizeof(user_id))) < 0)
		return;
	if (rc[0] && *request_id)
		lq.request_id = request_id;
	if (rc[1] && *api_key) {
		key_ref_to_id(api_key, key_id, sizeof(key_id));
		lq.api_key = key_id;
	}
	if (rc[2] && *user_id)
		lq.user_id = user_id;
	/* LiteLLM: a window without filters is summarized per day unless summarize=false */
	summary = since != INT64_MIN && until != INT64_MAX && strcmp(summarize, "true") == 0 &&
	    lq.request_id == NULL && lq.api_key == NULL && lq.user_id == NULL;
	if (summary) {
		logs_summary(req, since, until);
		return;
	}
	if (fleet_now != NULL) {
		/* single requests are read from this host's raw records only */
		http_send_param_error(req, "fleet", "fleet=true: /spend/logs answers for the fleet with "
		    "its day summary (both dates, no filter), single requests for its own host only");
		fleet_now->answered = 1;
		return;
	}
	if (worker.ledger == NULL) {
		http_send_error(req, 503, "server_error", "ledger_unavailable",
		    "the ledger is not open (see the log)");
		return;
	}
	lq.limit = (size_t)limit;
	lq.o = &o;
	buf_printf(&o, "[");
	if (ledger_range_newest(worker.ledger, since, until, SPEND_LOGS_SCAN, on_record, &lq) < 0) {
		http_send_error(req, 500, "server_error", "ledger_error", "cannot read the ledger");
		buf_release(&o);
		return;
	}
	buf_printf(&o, "]\n");
	/* how deep the search went: a client that found too little can narrow the window */
	snprintf(scan, sizeof(scan), "%d", SPEND_LOGS_SCAN);
	hreq_add_header(req, "x-tollgate-scan-limit", scan);
	spend_reply(req, &o);
	buf_release(&o);
}

/* ---- the fleet's answers ------------------------------------------------------------------ */

/*
 * ?fleet=true answers from the fleet ledger in PostgreSQL instead of this
 * host's aggregates, in the same shapes.  The endpoint runs as it would, and
 * each query it makes is answered from PostgreSQL without blocking the
 * worker: the first time the endpoint asks one it has no answer for, it
 * stops there (fleet_run() returns -1, nothing sent), the query goes to
 * PostgreSQL on the worker's loop (worker_pg.c), and with the answer the
 * endpoint runs again from the start, its earlier queries answered from
 * what came back, until it has all it asks and replies.
 */
static void fleet_pass(struct fleet *f);

static void
fleet_free(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->ngot; i++)
		spendq_release(&f->got[i]);
	for (i = 0; i < AGG_DIM_COUNT; i++)
		free(f->filters[i]);
	free(f);
}

static void
fleet_client_gone(struct hreq *req, void *arg)
{
	(void)req;
	((struct fleet *)arg)->req = NULL;
}

/* q's groups, a copy of src's. */
static int
groups_copy(struct spendq *q, const struct spendq *src)
{
	size_t i;

	for (i = 0; i < src->n; i++) {
		if (ARRAY_GROW(q->g, q->n, q->cap) < 0 ||
		    (q->g[q->n].name = strdup(src->g[i].name)) == NULL)
			return -1;
		q->g[q->n].v = src->g[i].v;
		q->n++;
	}
	return 0;
}

static int
fleet_run(struct hreq *req, struct spendq *q)
{
	struct fleet *f = fleet_now;
	int i;

	if (q->keep != NULL) {
		http_send_param_error(req, "fleet", "fleet=true: not with a list of values to match");
		f->answered = 1;
		return -1;
	}
	if (f->used < f->ngot) {
		if (groups_copy(q, &f->got[f->used++]) < 0) {
			spendq_release(q);
			http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
			f->answered = 1;
			return -1;
		}
		return 0;
	}
	if (f->ngot == FLEET_QUERIES) {
		http_send_error(req, 500, "server_error", "fleet_error", "too many queries");
		f->answered = 1;
		return -1;
	}
	f->want = *q;
	f->want.g = NULL;
	f->want.n = f->want.cap = 0;
	for (i = 0; i < AGG_DIM_COUNT; i++) {
		free(f->filters[i]);
		f->filters[i] = q->filter[i] ? strdup(q->filter[i]) : NULL;
		f->want.filter[i] = f->filters[i];
	}
	f->pending = 1;
	return -1;
}

static void
fleet_answer(void *arg, const struct pg_result *r, const char *err)
{
	struct fleet *f = arg;
	struct spendq *q = &f->got[f->ngot];
	char why[256];

	if (f->req == NULL) {
		fleet_free(f);
		return;
	}
	*q = f->want;
	q->g = NULL;
	q->n = q->cap = 0;
	/* the request is answered now, or runs again: the client's going no longer matters */
	hreq_set_closecb(f->req, NULL, NULL);
	if (err != NULL || spendq_pg_groups(q, r, why, sizeof(why)) < 0) {
		log_warn("worker %u: %s?fleet=true: the fleet ledger: %s", heritage.index,
		    hreq_path(f->req), err ? err : why);
		http_send_error(f->req, 503, "server_error", "fleet_ledger_unavailable",
		    "the fleet ledger (PostgreSQL) cannot answer: %s", err ? err : why);
		spendq_release(q);
		fleet_free(f);
		return;
	}
	f->ngot++;
	fleet_pass(f);
}

/* The endpoint, once more, with the answers so far. */
static void
fleet_pass(struct fleet *f)
{
	struct spendq_pg p = { 0 };

	f->used = 0;
	f->pending = 0;
	fleet_now = f;
	if (f->serve != NULL)
		f->serve(f->req);
	else
		serve_activity(f->req, f->a);
	fleet_now = NULL;
	if (!f->pending || f->answered) {
		fleet_free(f);	/* replied (the request may already be the connection's next one) */
		return;
	}
	if (spendq_pg_build(&f->want, &p) < 0 || pgq_start(heritage.config->tollgate.postgres_dsn,
	    p.sql.data, p.np, p.params, fleet_answer, f) < 0) {
		http_send_error(f->req, 503, "server_error", "fleet_ledger_unavailable",
		    "the fleet ledger (PostgreSQL) cannot be asked");
		fleet_free(f);
	} else
		hreq_set_closecb(f->req, fleet_client_gone, f);	/* while PostgreSQL answers */
	spendq_pg_release(&p);
}

/* ?fleet=true: 1 (the answer is on its way, or a refusal sent), or 0 (this host's). */
static int
fleet_serve(struct hreq *req, const char *path, void (*serve)(struct hreq *),
    const struct activity *a)
{
	char v[8];
	struct fleet *f;
	int rc = spend_param(req, "fleet", v, sizeof(v));

	if (rc < 0)
		return 1;
	if (rc == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "true") != 0 && strcmp(v, "1") != 0) {
		http_send_param_error(req, "fleet", "fleet: true or false");
		return 1;
	}
	if (heritage.config->tollgate.postgres_dsn == NULL) {
		http_send_param_error(req, "fleet", "fleet=true: no fleet ledger is configured "
		    "(tollgate.postgres.dsn)");
		return 1;
	}
	if (serve == serve_budgets || serve == spend_serve_whatif ||
	    serve == spend_serve_provider_cost) {
		http_send_param_error(req, "fleet", "fleet=true: %s answers for this host only", path);
		return 1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		return 1;
	}
	f->req = req;
	f->serve = serve;
	f->a = a;
	fleet_pass(f);
	return 1;
}

/* ---- routing ---------------------------------------------------------------------------- */

int
spend_serve(struct hreq *req, const char *path)
{
	size_t i;
	void (*serve)(struct hreq *) = NULL;
	const struct activity *a = NULL;

	if (strcmp(path, "/spend/logs") == 0)
		serve = serve_logs;
	else if (strcmp(path, "/global/spend/report") == 0)
		serve = serve_report;
	else if (strcmp(path, "/spend/totals") == 0)
		serve = serve_totals;
	else if (strcmp(path, "/budget/list") == 0)
		serve = serve_budgets;
	else if (strcmp(path, "/spend/whatif") == 0)
		serve = spend_serve_whatif;
	else if (strcmp(path, "/spend/provider_cost") == 0)
		serve = spend_serve_provider_cost;
	for (i = 0; i < sizeof(activities) / sizeof(activities[0]); i++)
		if (strcmp(path, activities[i].path) == 0)
			a = &activities[i];
	if (serve == NULL && a == NULL)
		return 0;
	if (hreq_method(req) != HTTP1_GET)
		http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
		    "%s takes GET", path);
	else if (admin_master_only(req, "the spend API") == 0 && !fleet_serve(req, path, serve, a)) {
		if (serve != NULL)
			serve(req);
		else
			serve_activity(req, a);
	}
	return 1;
}
