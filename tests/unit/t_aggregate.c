/*
 * The spend aggregates in a scratch ledger: a few thousand random records
 * appended in random batches with follows of random sizes in between must
 * give, to the exact integer, the sums computed straight from the records
 * (per model, day, key and tag, and the grand total); a follow with nothing
 * new adds nothing; a writer that dies inside its transaction, and closing
 * and reopening, count nothing twice; a rebuild equals the incremental
 * result field by field; `tollctl spend` (spend_main, compiled in here)
 * prints the same sums; and its error paths exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "aggregate.h"
#include "buf.h"
#include "bytes.h"
#include "clock.h"
#include "ledger.h"
#include "money.h"
#include "record.h"
#include "timeparse.h"
#include "tap.h"

#include "../../cmd/tollctl/spend.c"
#include "../../cmd/tollctl/common.c"
#include "../../cmd/tollctl/spend_fleet.c"

#define NREC		3000
#define MAP_SIZE	(64u << 20)
#define MAX_LABELS	64

static char root[256], dir[300];
static uint64_t rng = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const tagsets[] = { "", "a", "b", "a,b", "b,a,a", "c,,a", "prod" };
static const char *const models[] = { "gpt-x", "claude-y", "" };

static void
mkrec(struct record *r, int64_t now)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->end_ns = now - 60000000000LL - (int64_t)(rnd() % (5ULL * 86400 * 1000000000));
	r->start_ns = r->end_ns - 1000;
	r->worker = 1;
	r->status = (uint16_t[]){ 200, 200, 200, 429, 500, 502 }[rnd() % 6];
	r->flags = rnd() % 7 == 0 ? RECORD_FLAG_UPSTREAM_FAILED : 0;
	snprintf(r->key, sizeof(r->key), "key-%d", (int)(rnd() % 4));
	snprintf(r->user, sizeof(r->user), "user-%d", (int)(rnd() % 3));
	snprintf(r->team, sizeof(r->team), "team-%d", (int)(rnd() % 2));
	if (rnd() % 2)
		snprintf(r->customer, sizeof(r->customer), "cust-%d", (int)(rnd() % 2));
	snprintf(r->tags, sizeof(r->tags), "%s", tagsets[rnd() % 7]);
	/* now and then none (a record not written by the gateway): the deployment, else the entry */
	if (rnd() % 8)
		snprintf(r->model_requested, sizeof(r->model_requested), "req-%d", (int)(rnd() % 2));
	if (rnd() % 2)
		snprintf(r->deployment, sizeof(r->deployment), "dep-%d", (int)(rnd() % 2));
	snprintf(r->priced_as, sizeof(r->priced_as), "%s", models[rnd() % 3]);
	snprintf(r->provider, sizeof(r->provider), "%s", rnd() % 2 ? "openai" : "anthropic");
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		r->tokens[i] = rnd() % 4 ? (int64_t)(rnd() % 2000000) : 0;
	for (i = 0; i < COST_PART_COUNT; i++) {
		r->cost[i] = rnd() % 3 ? (int64_t)(rnd() % 5000000000000ULL) : 0;
		r->total += r->cost[i];
	}
}

static int
by_end(const void *a, const void *b)
{
	const struct record *x = a, *y = b;

	return x->end_ns < y->end_ns ? -1 : x->end_ns > y->end_ns;
}

/* Sums per label: a small table, found by linear search. */
struct marginal {
	char			label[MAX_LABELS][160];
	struct agg_value	v[MAX_LABELS];
	int			n;
};

static struct agg_value *
slot(struct marginal *m, const char *label)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->label[i], label) == 0)
			return &m->v[i];
	if (m->n == MAX_LABELS)
		abort();
	snprintf(m->label[m->n], sizeof(m->label[0]), "%s", label);
	memset(&m->v[m->n], 0, sizeof(m->v[0]));
	return &m->v[m->n++];
}

enum what { W_MODEL, W_DAY, W_KEY, W_TAG, W_TOTAL, W_MODELS, W_COUNT };
static const char *const what_name[] = { "model", "day", "key", "tag", "total",
	"model, deployment and priced_as" };

/* The model a record counts under, written out here: the model requested, else ... */
static const char *
model_of(const struct record *r)
{
	return r->model_requested[0] ? r->model_requested : r->deployment[0] ? r->deployment :
	    r->priced_as;
}

/* Adds r straight from its fields, written without the aggregate module's help. */
static void
direct_add(struct marginal *m, enum what w, const struct record *r)
{
	char label[160], tags[256], *save = NULL, *t;
	const char *model = model_of(r);
	char seen[8][64];
	int nseen = 0, i, dup;

	switch (w) {
	case W_MODEL:
		snprintf(label, sizeof(label), "%s", model);
		break;
	case W_MODELS:
		snprintf(label, sizeof(label), "%.50s,%.50s,%.50s", model, r->deployment,
		    r->priced_as);
		break;
	case W_DAY:
		snprintf(label, sizeof(label), "%lld",
		    (long long)(r->end_ns / (86400LL * 1000000000) * 86400));
		break;
	case W_KEY:
		snprintf(label, sizeof(label), "%s", r->key);
		break;
	case W_TOTAL:
		label[0] = '\0';
		break;
	case W_TAG:
		snprintf(tags, sizeof(tags), "%s", r->tags);
		for (t = strtok_r(tags, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			for (dup = 0, i = 0; i < nseen; i++)
				dup |= strcmp(seen[i], t) == 0;
			if (dup)
				continue;
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", t);
		}
		if (nseen == 0)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", "");
		for (i = 0; i < nseen; i++) {
			struct agg_value *v = slot(m, seen[i]);
			int k;

			v->requests++;
			v->errors += r->status >= 400 || (r->flags & RECORD_FLAG_UPSTREAM_FAILED);
			for (k = 0; k < RECORD_TOKEN_COUNT; k++)
				v->tokens[k] += r->tokens[k];
			for (k = 0; k < COST_PART_COUNT; k++)
				v->cost[k] += r->cost[k];
			v->total += r->total;
		}
		return;
	default:
		abort();
	}
	{
		struct agg_value *v = slot(m, label);
		int k;

		v->requests++;
		v->errors += r->status >= 400 || (r->flags & RECORD_FLAG_UPSTREAM_FAILED);
		for (k = 0; k < RECORD_TOKEN_COUNT; k++)
			v->tokens[k] += r->tokens[k];
		for (k = 0; k < COST_PART_COUNT; k++)
			v->cost[k] += r->cost[k];
		v->total += r->total;
	}
}

struct from_agg {
	struct marginal	m[W_COUNT];
};

static void
value_into(struct agg_value *to, const struct agg_value *v)
{
	int k;

	to->requests += v->requests;
	to->errors += v->errors;
	for (k = 0; k < RECORD_TOKEN_COUNT; k++)
		to->tokens[k] += v->tokens[k];
	for (k = 0; k < COST_PART_COUNT; k++)
		to->cost[k] += v->cost[k];
	to->total += v->total;
}

static int
agg_visit(void *arg, const struct agg_row *row)
{
	struct from_agg *f = arg;
	char day[32], three[160];

	if (!row->all_tags) {
		value_into(slot(&f->m[W_TAG], row->dim[AGG_DIM_TAG]), row->v);
		return 0;
	}
	snprintf(day, sizeof(day), "%lld", (long long)(time_day_start(row->bucket_ns) / 1000000000));
	snprintf(three, sizeof(three), "%.50s,%.50s,%.50s", row->dim[AGG_DIM_MODEL],
	    row->dim[AGG_DIM_DEPLOYMENT], row->dim[AGG_DIM_PRICED_AS]);
	value_into(slot(&f->m[W_MODEL], row->dim[AGG_DIM_MODEL]), row->v);
	value_into(slot(&f->m[W_MODELS], three), row->v);
	value_into(slot(&f->m[W_DAY], day), row->v);
	value_into(slot(&f->m[W_KEY], row->dim[AGG_DIM_KEY]), row->v);
	value_into(slot(&f->m[W_TOTAL], ""), row->v);
	return 0;
}

/* One-dimension rows: the key rows (each request once) and the tag rows. */
static int
dim_visit(void *arg, const struct agg_row *row)
{
	struct from_agg *f = arg;
	char day[32];

	if (row->only_dim == AGG_DIM_TAG) {
		value_into(slot(&f->m[W_TAG], row->dim[AGG_DIM_TAG]), row->v);
		return 0;
	}
	if (row->only_dim != AGG_DIM_KEY)
		return 0;
	snprintf(day, sizeof(day), "%lld", (long long)(time_day_start(row->bucket_ns) / 1000000000));
	value_into(slot(&f->m[W_DAY], day), row->v);
	value_into(slot(&f->m[W_KEY], row->dim[AGG_DIM_KEY]), row->v);
	return 0;
}

/* Whether two marginals hold the same labels with the same sums, every field. */
static int
same_marginal(const struct marginal *a, const struct marginal *b)
{
	int i, j, found;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		for (found = 0, j = 0; j < b->n; j++)
			if (strcmp(a->label[i], b->label[j]) == 0) {
				found = memcmp(&a->v[i], &b->v[j], sizeof(a->v[i])) == 0;
				break;
			}
		if (!found)
			return 0;
	}
	return 1;
}

static struct marginal direct[W_COUNT];

static void
check_against_direct(struct ledger *l, const char *when)
{
	struct from_agg *f = calloc(1, sizeof(*f));
	char err[512];
	int w;

	ok(aggregate_scan(l, 0, 0, INT64_MAX, agg_visit, f, err, sizeof(err)) == 0,
	    "%s: day rows scanned", when);
	for (w = 0; w < W_COUNT; w++)
		ok(same_marginal(&f->m[w], &direct[w]), "%s: per %s sums exact (%d groups)", when,
		    what_name[w], direct[w].n);
	memset(f, 0, sizeof(*f));
	ok(aggregate_scan(l, 1, 0, INT64_MAX, agg_visit, f, err, sizeof(err)) == 0 &&
	    same_marginal(&f->m[W_MODEL], &direct[W_MODEL]) &&
	    same_marginal(&f->m[W_TAG], &direct[W_TAG]) && same_marginal(&f->m[W_DAY], &direct[W_DAY]) &&
	    same_marginal(&f->m[W_TOTAL], &direct[W_TOTAL]),
	    "%s: hour rows give the same per model, per tag and total sums", when);
	memset(f, 0, sizeof(*f));
	ok(aggregate_scan(l, AGG_TABLE_MODEL_DAY, 0, INT64_MAX, agg_visit, f, err, sizeof(err)) == 0 &&
	    same_marginal(&f->m[W_MODEL], &direct[W_MODEL]) && same_marginal(&f->m[W_DAY], &direct[W_DAY]) &&
	    same_marginal(&f->m[W_TOTAL], &direct[W_TOTAL]) &&
	    same_marginal(&f->m[W_MODELS], &direct[W_MODELS]),
	    "%s: the model-day rollup gives the same per model (with its deployment and entry), "
	    "per day and total sums", when);
	memset(f, 0, sizeof(*f));
	ok(aggregate_scan(l, AGG_TABLE_DIM_DAY, 0, INT64_MAX, dim_visit, f, err, sizeof(err)) == 0 &&
	    same_marginal(&f->m[W_KEY], &direct[W_KEY]) && same_marginal(&f->m[W_TAG], &direct[W_TAG]) &&
	    same_marginal(&f->m[W_DAY], &direct[W_DAY]),
	    "%s: the one-dimension rollups give the same per key, per tag and per day sums", when);
	free(f);
}

static int
dump_row(void *arg, const struct agg_row *row)
{
	struct buf *b = arg;
	int i;

	buf_printf(b, "%lld|%d", (long long)row->bucket_ns, row->all_tags);
	for (i = 0; i < AGG_DIM_COUNT; i++)
		buf_printf(b, "|%s", row->dim[i]);
	buf_append(b, "|", 1);
	buf_append(b, row->v, sizeof(*row->v));
	return 0;
}

/* Every row of both databases, every field, as bytes. */
static void
dump(struct ledger *l, struct buf *b)
{
	b->len = 0;
	aggregate_scan(l, 0, 0, INT64_MAX, dump_row, b, NULL, 0);
	buf_append(b, "--", 2);
	aggregate_scan(l, 1, 0, INT64_MAX, dump_row, b, NULL, 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Runs main with stdout (and stderr) sent to out (NULL: /dev/null); its exit status. */
static int
run(int (*fn)(int, char **), const char *out, int argc, char **argv)
{
	int o, e, fd, rc;

	fflush(stdout);
	fflush(stderr);
	o = dup(1);
	e = dup(2);
	fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(o, 1);
	dup2(e, 2);
	close(o);
	close(e);
	return rc;
}

/* The first line of path, into line ("" when there is none). */
static void
f_line(const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "r");

	line[0] = '\0';
	if (f && fgets(line, (int)len, f) == NULL)
		line[0] = '\0';
	if (f)
		fclose(f);
	line[strcspn(line, "\n")] = '\0';
}

static double
secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * What a spend csv line holds after its dimensions, from sums: the counts, the
 * total cost, then each category's cost, cache writes of both lifetimes in
 * one; written out here, not taken from spend.c.
 */
static void
csv_values(const struct agg_value *v, char *out, size_t len)
{
	static const int cols[][2] = {	/* the parts each cost column sums, -1: none */
		{ COST_INPUT, -1 }, { COST_CACHE_READ, -1 },
		{ COST_CACHE_WRITE_5M, COST_CACHE_WRITE_1H }, { COST_OUTPUT, -1 },
		{ COST_REASONING, -1 }, { COST_AUDIO_IN, -1 }, { COST_AUDIO_OUT, -1 },
		{ COST_IMAGE_IN, -1 }, { COST_IMAGE_OUT, -1 }, { COST_TOOL_PROMPT, -1 },
		{ COST_SEARCH, -1 }, { COST_DURATION, -1 }, { COST_REQUEST, -1 },
	};
	char cost[MONEY_FORMAT_MAX];
	size_t c, n;

	n = (size_t)snprintf(out, len, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%s",
	    (long long)v->requests, (long long)v->errors, (long long)v->tokens[RECORD_TOK_INPUT],
	    (long long)v->tokens[RECORD_TOK_CACHE_READ],
	    (long long)(v->tokens[RECORD_TOK_CACHE_WRITE_5M] + v->tokens[RECORD_TOK_CACHE_WRITE_1H]),
	    (long long)v->tokens[RECORD_TOK_OUTPUT], (long long)v->tokens[RECORD_TOK_REASONING],
	    money_format(v->total, MONEY_COST_SCALE, cost));
	for (c = 0; c < sizeof(cols) / sizeof(cols[0]) && n < len; c++)
		n += (size_t)snprintf(out + n, len - n, ",%s", money_format(v->cost[cols[c][0]] +
		    (cols[c][1] < 0 ? 0 : v->cost[cols[c][1]]), MONEY_COST_SCALE, cost));
	if (n < len)
		snprintf(out + n, len - n, "\n");
}

/*
 * The csv of `spend --by model` against the direct sums per model, deployment
 * and price entry: the columns --by model brings with it.
 */
static void
check_spend_csv(const char *path)
{
	char line[1024], want[1024];
	FILE *f = fopen(path, "r");
	int lines = 0, matched = 0, i;

	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		ok(0, "spend csv readable");
		if (f)
			fclose(f);
		return;
	}
	is_str(line, "model,deployment,priced_as,requests,errors,input,cache_read,cache_write,output,reasoning,"
	    "cost_usd,cost_input_usd,cost_cache_read_usd,cost_cache_write_usd,cost_output_usd,"
	    "cost_reasoning_usd,cost_audio_input_usd,cost_audio_output_usd,cost_image_input_usd,"
	    "cost_image_output_usd,cost_tool_use_prompt_usd,cost_search_usd,cost_duration_usd,"
	    "cost_request_usd\n", "spend csv header");
	while (fgets(line, sizeof(line), f)) {
		lines++;
		for (i = 0; i < direct[W_MODELS].n; i++) {
			size_t n = (size_t)snprintf(want, sizeof(want), "%.150s,",
			    direct[W_MODELS].label[i]);

			csv_values(&direct[W_MODELS].v[i], want + n, sizeof(want) - n);
			if (strcmp(line, want) == 0)
				matched++;
		}
	}
	fclose(f);
	is_int(lines, direct[W_MODELS].n, "spend csv: one line per model, deployment and entry");
	is_int(matched, direct[W_MODELS].n, "spend csv: every line equals the direct sums");
}

/* Whether `spend --tag tag` selects r: one of its tags, or '' for none. */
static int
has_tag(const struct record *r, const char *tag)
{
	char list[sizeof(r->tags)], *save = NULL, *t;
	int any = 0;

	snprintf(list, sizeof(list), "%s", r->tags);
	for (t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, tag) == 0)
			return 1;
		any = 1;
	}
	return !any && tag[0] == '\0';
}

/* Whether r has value in dimension d, as the spend filter of d reads it. */
static int
selects(const struct record *r, int d, const char *value)
{
	switch (d) {
	case AGG_DIM_KEY:
		return strcmp(r->key, value) == 0;
	case AGG_DIM_USER:
		return strcmp(r->user, value) == 0;
	case AGG_DIM_TEAM:
		return strcmp(r->team, value) == 0;
	case AGG_DIM_CUSTOMER:
		return strcmp(r->customer, value) == 0;
	case AGG_DIM_TAG:
		return has_tag(r, value);
	case AGG_DIM_MODEL:
		return strcmp(model_of(r), value) == 0;
	case AGG_DIM_DEPLOYMENT:
		return strcmp(r->deployment, value) == 0;
	case AGG_DIM_PRICED_AS:
		return strcmp(r->priced_as, value) == 0;
	default:
		return strcmp(r->provider, value) == 0;
	}
}

/* Whether the cost columns of a spend csv line (after the counts) add up to its cost_usd. */
static int
costs_add_up(const char *line)
{
	const char *p = line, *end;
	int64_t total = 0, sum = 0, x;
	int i;

	for (i = 0; i < 7 && p; i++)
		p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
	for (i = 0; p && *p; i++, p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",\n");
		if (money_parse_decimal(p, (size_t)(end - p), MONEY_COST_SCALE, 1, &x) < 0)
			return 0;
		if (i == 0)
			total = x;
		else
			sum += x;
	}
	return i == 14 && sum == total;
}

/*
 * `spend --format csv` with each filter (and one combination), from the day
 * rows, the model-day rollup and the hour rows (--since 6d): the grand total
 * equals the direct sums of the records the filters select, and its cost
 * columns add up to its cost.
 */
static void
check_spend_filters(const struct record *recs, size_t nrec, const char *out)
{
	static const char *const opt[AGG_DIM_COUNT] = {
		"--key", "--user", "--team", "--customer", "--tag", "--model", "--provider",
		"--deployment", "--priced-as"
	};
	static const struct { int d; const char *v; } cases[][3] = {
		{ { AGG_DIM_USER, "user-1" }, { -1, NULL } },
		{ { AGG_DIM_TEAM, "team-0" }, { -1, NULL } },
		{ { AGG_DIM_CUSTOMER, "cust-1" }, { -1, NULL } },
		{ { AGG_DIM_CUSTOMER, "" }, { -1, NULL } },
		{ { AGG_DIM_TAG, "a" }, { -1, NULL } },
		{ { AGG_DIM_TAG, "" }, { -1, NULL } },
		{ { AGG_DIM_KEY, "key-2" }, { -1, NULL } },
		{ { AGG_DIM_PROVIDER, "anthropic" }, { -1, NULL } },
		{ { AGG_DIM_MODEL, "req-1" }, { AGG_DIM_PROVIDER, "openai" }, { -1, NULL } },
		{ { AGG_DIM_MODEL, "dep-0" }, { -1, NULL } },
		{ { AGG_DIM_DEPLOYMENT, "dep-1" }, { -1, NULL } },
		{ { AGG_DIM_DEPLOYMENT, "" }, { AGG_DIM_PRICED_AS, "gpt-x" }, { -1, NULL } },
		{ { AGG_DIM_PRICED_AS, "" }, { AGG_DIM_USER, "user-0" }, { -1, NULL } },
		{ { AGG_DIM_TEAM, "team-1" }, { AGG_DIM_TAG, "b" }, { AGG_DIM_USER, "user-2" } },
	};
	char header[1024], line[1024], want[1024], what[160];
	size_t c, i;
	int hour, j, argc, added_up = 0, n = 0;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (hour = 0; hour < 2; hour++) {
			char *argv[16] = { "spend", "--format", "csv", "--ledger", dir };
			struct agg_value v = { 0 };
			FILE *f;

			argc = 5;
			what[0] = '\0';
			for (j = 0; j < 3 && cases[c][j].d >= 0; j++) {
				argv[argc++] = (char *)opt[cases[c][j].d];
				argv[argc++] = (char *)cases[c][j].v;
				snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s '%s'",
				    opt[cases[c][j].d], cases[c][j].v);
			}
			if (hour) {
				argv[argc++] = "--since";
				argv[argc++] = "6d";
			}
			for (i = 0; i < nrec; i++) {
				for (j = 0; j < 3 && cases[c][j].d >= 0; j++)
					if (!selects(&recs[i], cases[c][j].d, cases[c][j].v))
						break;
				if (j < 3 && cases[c][j].d >= 0)
					continue;
				v.requests++;
				v.errors += recs[i].status >= 400 ||
				    (recs[i].flags & RECORD_FLAG_UPSTREAM_FAILED);
				for (j = 0; j < RECORD_TOKEN_COUNT; j++)
					v.tokens[j] += recs[i].tokens[j];
				for (j = 0; j < COST_PART_COUNT; j++)
					v.cost[j] += recs[i].cost[j];
				v.total += recs[i].total;
			}
			csv_values(&v, want, sizeof(want));
			line[0] = '\0';
			is_int(run(spend_main, out, argc, argv), 0, "spend%s%s", what,
			    hour ? " --since 6d" : "");
			f = fopen(out, "r");
			ok(f && fgets(header, sizeof(header), f) && fgets(line, sizeof(line), f) &&
			    strcmp(line, want) == 0, "  selects %lld requests, their exact sums",
			    (long long)v.requests);
			if (f)
				fclose(f);
			added_up += costs_add_up(line);
			n++;
		}
	is_int(added_up, n, "spend: the category costs add up to cost_usd on every filter");
}

/* Which aggregates answer: the model-day rollup only for model, provider and day. */
/* The rows of one dimension of the one-dimension rollup, as a full scan finds them. */
struct dim_rows {
	struct buf	b;
	int		dim;
	int		other;	/* rows of another dimension seen */
};

static int
dim_rows_visit(void *arg, const struct agg_row *row)
{
	struct dim_rows *d = arg;

	if (row->only_dim != d->dim)
		return 0;
	return dump_row(&d->b, row);
}

static int
dim_only_visit(void *arg, const struct agg_row *row)
{
	struct dim_rows *d = arg;

	d->other += row->only_dim != d->dim;
	return dump_row(&d->b, row);
}

/* aggregate_scan_dim() finds exactly the rows of its dimension, in any window. */
static void
check_scan_dim(struct ledger *l, int64_t now)
{
	int64_t day = 86400LL * 1000000000, today = time_day_start(now);
	int64_t windows[][2] = { { 0, INT64_MAX }, { today - 2 * day, today }, { today, today + day },
	    { today - 40 * day, today - 39 * day } };
	struct dim_rows full, only;
	char err[512];
	size_t w;
	int d, same = 1, others = 0, rows = 0;

	for (w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
		for (d = AGG_DIM_KEY; d <= AGG_DIM_TAG; d++) {
			memset(&full, 0, sizeof(full));
			memset(&only, 0, sizeof(only));
			full.dim = only.dim = d;
			if (aggregate_scan(l, AGG_TABLE_DIM_DAY, windows[w][0], windows[w][1],
			    dim_rows_visit, &full, err, sizeof(err)) != 0 ||
			    aggregate_scan_dim(l, d, windows[w][0], windows[w][1], dim_only_visit, &only,
			    err, sizeof(err)) != 0 || full.b.len != only.b.len ||
			    (full.b.len && memcmp(full.b.data, only.b.data, full.b.len) != 0))
				same = 0;
			others += only.other;
			rows += full.b.len > 0;
			buf_release(&full.b);
			buf_release(&only.b);
		}
	ok(same, "aggregate_scan_dim: the same rows as a full scan, per dimension and window");
	is_int(others, 0, "aggregate_scan_dim: no row of another dimension");
	ok(rows >= 5, "aggregate_scan_dim: the windows hold rows (%d of 20)", rows);
}

static int
count_rows(void *arg, const struct agg_row *row)
{
	(void)row;
	(*(size_t *)arg)++;
	return 1;
}

/* max_rows: a query that would keep one row more stops and says so; one that fits is whole. */
static void
check_spendq_max_rows(struct ledger *l)
{
	struct spendq q = { .nby = 1, .by = { AGG_DIM_KEY }, .until = INT64_MAX };
	char err[512];
	size_t rows = 0, groups;
	__int128 total = 0;
	int rc;

	q.keep = count_rows;
	q.keep_arg = &rows;
	rc = spendq_run(l, &q, err, sizeof(err));
	groups = q.n;
	for (size_t i = 0; i < q.n; i++)
		total += q.g[i].v.total;
	spendq_release(&q);
	ok(rc == 0 && rows > groups && groups > 1, "spendq by key: %zu rows make %zu groups", rows,
	    groups);
	q.keep = NULL;
	q.max_rows = rows;
	rc = spendq_run(l, &q, err, sizeof(err));
	for (size_t i = 0; i < q.n; i++)
		total -= q.g[i].v.total;
	ok(rc == 0 && q.n == groups && total == 0, "max_rows = the rows: the whole answer (rc %d)", rc);
	spendq_release(&q);
	q.max_rows = rows - 1;
	is_int(spendq_run(l, &q, err, sizeof(err)), SPENDQ_TOO_MANY, "max_rows = the rows - 1: too many");
	spendq_release(&q);
	q.max_rows = 1;
	is_int(spendq_run(l, &q, err, sizeof(err)), SPENDQ_TOO_MANY, "max_rows = 1: too many");
	spendq_release(&q);
}

static void
check_spend_table(void)
{
	struct spendq s = { .nby = 2, .by = { BY_MODEL, BY_DAY } };
	struct spendq t;
	int d;

	is_int(spendq_table(&s), AGG_TABLE_MODEL_DAY, "spend --by model --by day: the rollup");
	s.filter[AGG_DIM_MODEL] = "gpt-x";
	s.filter[AGG_DIM_PROVIDER] = "openai";
	is_int(spendq_table(&s), AGG_TABLE_MODEL_DAY, "  and with --model and --provider filters");
	for (d = 0; d < AGG_DIM_COUNT; d++) {
		if (d == AGG_DIM_MODEL || d == AGG_DIM_PROVIDER || d == AGG_DIM_DEPLOYMENT ||
		    d == AGG_DIM_PRICED_AS)
			continue;
		t = s;
		t.filter[d] = "x";
		is_int(spendq_table(&t), AGG_TABLE_DAY, "  a %s filter needs the day rows",
		    by_names[d]);
		memset(&t, 0, sizeof(t));
		t.nby = 2;
		t.by[0] = d;
		t.by[1] = BY_DAY;
		t.filter[d] = "x";
		is_int(spendq_table(&t), AGG_TABLE_DIM_DAY, "  --by %s --by day --%s x: the "
		    "one-dimension rollup", by_names[d], by_names[d]);
		t.filter[d == AGG_DIM_KEY ? AGG_DIM_USER : AGG_DIM_KEY] = "y";
		is_int(spendq_table(&t), AGG_TABLE_DAY, "  and with a second dimension, the day rows");
	}
	memset(&t, 0, sizeof(t));
	t.nby = 3;
	t.by[0] = BY_DEPLOYMENT;
	t.by[1] = BY_PRICED_AS;
	t.by[2] = BY_DAY;
	t.filter[AGG_DIM_DEPLOYMENT] = "gpt-4o";
	is_int(spendq_table(&t), AGG_TABLE_MODEL_DAY, "  --by deployment --by priced_as --by day "
	    "--deployment: the rollup");
	t = s;
	t.hour = 1;
	is_int(spendq_table(&t), AGG_TABLE_HOUR, "  hours come from the hour rows");
	t = s;
	t.by[t.nby++] = BY_TEAM;
	is_int(spendq_table(&t), AGG_TABLE_DAY, "  --by team needs the day rows");
}

/* Runs spend with args (NULL-terminated) on d into out; its exit status. */
static int
spend_on(const char *d, const char *out, const char *const *args)
{
	char *argv[16] = { "spend", "--ledger", (char *)d };
	int argc = 3;

	while (*args && argc < 15)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return run(spend_main, out, argc, argv);
}

/* Whether a line of path starts with prefix. */
static int
has_line(const char *path, const char *prefix)
{
	char line[2048];
	FILE *f = fopen(path, "r");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strncmp(line, prefix, strlen(prefix)) == 0;
	if (f)
		fclose(f);
	return found;
}

/*
 * Names at their limits: every row key fits LMDB's, the model-day rollup
 * keeps model, deployment and entry whole, and the wide rows keep at least
 * AGG_MODEL_MIN bytes of each.
 */
static int
min_models(void *arg, const struct agg_row *row)
{
	size_t *least = arg, i;
	int d[3] = { AGG_DIM_MODEL, AGG_DIM_DEPLOYMENT, AGG_DIM_PRICED_AS };

	for (i = 0; i < 3; i++)
		if (strlen(row->dim[d[i]]) < *least)
			*least = strlen(row->dim[d[i]]);
	return 0;
}

static void
check_long_names(int64_t now)
{
	char d[400], err[512];
	struct ledger *l;
	struct record r;
	size_t done, least;

	snprintf(d, sizeof(d), "%s/long", root);
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "long-one");
	r.end_ns = now - 1000000000;
	r.start_ns = r.end_ns - 1000;
	r.status = 200;
	memset(r.key, 'k', sizeof(r.key) - 1);
	memset(r.user, 'u', sizeof(r.user) - 1);
	memset(r.team, 't', sizeof(r.team) - 1);
	memset(r.customer, 'c', sizeof(r.customer) - 1);
	memset(r.tags, 'g', 100);
	memset(r.model_requested, 'm', sizeof(r.model_requested) - 1);
	memset(r.deployment, 'd', sizeof(r.deployment) - 1);
	memset(r.priced_as, 'p', sizeof(r.priced_as) - 1);
	memset(r.provider, 'v', sizeof(r.provider) - 1);
	r.total = r.cost[COST_INPUT] = 123456789;
	ok(ledger_open(d, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) == 0 &&
	    ledger_append(l, &r, 1, err, sizeof(err)) == 0 &&
	    aggregate_follow(l, INT64_MAX, 10, &done, err, sizeof(err)) == 0 && done == 1,
	    "long names: a record with every dimension at its limit is counted (%s)", err);
	least = SIZE_MAX;
	ok(aggregate_scan(l, AGG_TABLE_MODEL_DAY, 0, INT64_MAX, min_models, &least, err,
	    sizeof(err)) == 0 && least == sizeof(r.priced_as) - 1,
	    "  the model-day rollup keeps model, deployment and entry whole (%zu)", least);
	least = SIZE_MAX;
	ok(aggregate_scan(l, AGG_TABLE_DAY, 0, INT64_MAX, min_models, &least, err,
	    sizeof(err)) == 0 && least == AGG_MODEL_MIN, "  the day rows keep %d bytes of each (%zu)",
	    AGG_MODEL_MIN, least);
	least = SIZE_MAX;
	ok(aggregate_scan(l, AGG_TABLE_HOUR, 0, INT64_MAX, min_models, &least, err,
	    sizeof(err)) == 0 && least == AGG_MODEL_MIN, "  and the hour rows (%zu)", least);
	ledger_close(l);
}

/*
 * Rewrites the wide rows of ledger d as layout 4 wrote them: one model
 * dimension, the price entry, else the deployment, else the model
 * requested, and none after the provider; marks the layout 4 and, if
 * pruned, a pruning horizon.  0 or -1.
 */
static int
make_layout4(const char *d, int64_t pruned)
{
	static const char *const tables[] = { "agg_day", "agg_hour", "agg_mday" };
	static const unsigned char four[4] = { 0, 0, 0, 4 };
	unsigned char horizon[8], key[512];
	struct ledger *l;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v, mk = { 10, "agg_layout" }, mv = { 4, (void *)four };
	MDB_val pk = { sizeof(AGG_META_PRUNED) - 1, AGG_META_PRUNED }, pv = { 8, horizon };
	struct buf keys = { 0 }, vals = { 0 };
	size_t t, off, voff, n, i;
	int rc = 0;

	if (ledger_open(d, LEDGER_WRITE, MAP_SIZE, 1, &l, NULL, 0) < 0)
		return -1;
	if (ledger_txn_begin(l, 1, &txn) != 0) {
		ledger_close(l);
		return -1;
	}
	for (t = 0; t < 3 && rc == 0; t++) {
		keys.len = vals.len = 0;
		if ((rc = mdb_dbi_open(txn, tables[t], 0, &dbi)) != 0 ||
		    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
			break;
		for (n = 0; mdb_cursor_get(cur, &k, &v, n ? MDB_NEXT : MDB_FIRST) == 0; n++) {
			const char *f[AGG_DIM_COUNT], *p = (const char *)k.mv_data + 8;
			unsigned char *q = key + 8;
			uint16_t len;

			for (i = 0; i < AGG_DIM_COUNT; i++, p += strlen(p) + 1)
				f[i] = p;
			memcpy(key, k.mv_data, 8);
			for (i = 0; i <= AGG_DIM_PROVIDER; i++) {
				const char *x = i != AGG_DIM_MODEL ? f[i] : *f[AGG_DIM_PRICED_AS] ?
				    f[AGG_DIM_PRICED_AS] : *f[AGG_DIM_DEPLOYMENT] ? f[AGG_DIM_DEPLOYMENT] :
				    f[AGG_DIM_MODEL];

				memcpy(q, x, strlen(x) + 1);
				q += strlen(x) + 1;
			}
			len = (uint16_t)(q - key);
			buf_append(&keys, &len, sizeof(len));
			buf_append(&keys, key, len);
			buf_append(&vals, v.mv_data, v.mv_size);
		}
		mdb_cursor_close(cur);
		if ((rc = mdb_drop(txn, dbi, 0)) != 0)
			break;
		for (off = voff = 0; off < keys.len && rc == 0; off += 2 + k.mv_size) {
			uint16_t len;
			struct agg_value val;

			memcpy(&len, keys.data + off, sizeof(len));
			k.mv_size = len;
			k.mv_data = keys.data + off + 2;
			memcpy(&val, vals.data + voff, sizeof(val));
			voff += sizeof(val);
			v.mv_size = sizeof(val);
			v.mv_data = &val;
			/* several rows of the new layout may make one of the old: added up */
			{
				MDB_val old;
				struct agg_value sum;

				if (mdb_get(txn, dbi, &k, &old) == 0) {
					memcpy(&sum, old.mv_data, sizeof(sum));
					value_into(&sum, &val);
					val = sum;
				}
			}
			rc = mdb_put(txn, dbi, &k, &v, 0);
		}
	}
	bytes_put_be64(horizon, (uint64_t)pruned);
	if (rc == 0)
		rc = mdb_put(txn, ledger_meta_dbi(l), &mk, &mv, 0);
	if (rc == 0)
		rc = pruned ? mdb_put(txn, ledger_meta_dbi(l), &pk, &pv, 0) :
		    mdb_del(txn, ledger_meta_dbi(l), &pk, NULL);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	ledger_close(l);
	buf_release(&keys);
	buf_release(&vals);
	return rc == 0 ? 0 : -1;
}

/*
 * Aggregates of layout 4, where a deployment with prices of its own counted
 * under its price entry ("deployment:0"): a report refuses them and says how
 * to go on; the accountant's follow counts the records again by model_name
 * by itself; `tollctl aggregate --rebuild` regroups them too; and a rebuild
 * of a pruned ledger keeps the days before the horizon, rewritten, under
 * their old names.
 */
static void
check_old_layout(int64_t now)
{
	static const char *const by_model[] = { "--by", "model", "--format", "csv", NULL };
	char d[400], out[400], err[512], line[1024];
	struct record r[4];
	struct ledger *l;
	size_t i, done, total = 0;
	int rc;

	snprintf(d, sizeof(d), "%s/old", root);
	snprintf(out, sizeof(out), "%s/old.out", root);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		snprintf(r[i].id, sizeof(r[i].id), "old-%zu", i);
		r[i].end_ns = now - (int64_t)(4 - i) * 1000000000;
		r[i].start_ns = r[i].end_ns - 1000;
		r[i].status = 200;
		snprintf(r[i].model_requested, sizeof(r[i].model_requested), "%s",
		    i % 2 ? "claude-x" : "gpt-x");
		snprintf(r[i].deployment, sizeof(r[i].deployment), "%s",
		    i % 2 ? "claude-sonnet-4-5" : "gpt-4o");
		snprintf(r[i].provider, sizeof(r[i].provider), "%s", i % 2 ? "anthropic" : "openai");
		snprintf(r[i].priced_as, sizeof(r[i].priced_as), "deployment:%zu", i % 2);
		r[i].tokens[RECORD_TOK_INPUT] = 1000;
		r[i].cost[COST_INPUT] = r[i].total = (int64_t)(i % 2 ? 3000000000LL : 1000000000LL);
	}
	ok(ledger_open(d, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) == 0 &&
	    ledger_append(l, r, 4, err, sizeof(err)) == 0 &&
	    aggregate_follow(l, INT64_MAX, 100, &done, err, sizeof(err)) == 0 && done == 4,
	    "old layout: four records counted");
	ledger_close(l);
	ok(make_layout4(d, 0) == 0, "  their rows rewritten as layout 4 wrote them");
	is_int(spend_on(d, out, by_model), 1, "  spend refuses aggregates of layout 4");
	f_line(out, line, sizeof(line));
	ok(strstr(line, "older version") && strstr(line, "aggregate --rebuild"),
	    "  and says what to do: %s", line);
	is_int(spend_on(d, out, by_model), 1, "  (still, until a follow)");

	/* the accountant's follow: reset, then every record again */
	ok(ledger_open(d, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) == 0, "  reopened");
	do {
		rc = aggregate_follow(l, INT64_MAX, 3, &done, err, sizeof(err));
		total += done;
	} while (rc == 0 && done > 0);
	ledger_close(l);
	ok(rc == 0 && total == 4, "  a follow upgrades them itself and counts the 4 again (%zu: %s)",
	    total, rc ? err : "");
	is_int(spend_on(d, out, by_model), 0, "  spend --by model reads them");
	ok(has_line(out, "gpt-x,gpt-4o,deployment:0,2,0,2000,") &&
	    has_line(out, "claude-x,claude-sonnet-4-5,deployment:1,2,0,2000,0,0,0,0,0.006,"),
	    "  grouped by model_name, deployment and entry as further columns");

	/* tollctl aggregate --rebuild of layout 4 */
	ok(make_layout4(d, 0) == 0, "  layout 4 again");
	{
		char *argv[] = { "aggregate", "--rebuild", "--ledger", d, NULL };

		is_int(run(aggregate_main, out, 4, argv), 0, "  tollctl aggregate --rebuild");
	}
	is_int(spend_on(d, out, by_model), 0, "  spend --by model");
	ok(has_line(out, "gpt-x,gpt-4o,deployment:0,2,0,2000,0,0,0,0,0.002,") &&
	    has_line(out, "claude-x,claude-sonnet-4-5,deployment:1,2,"),
	    "  the rebuild regroups them by model_name");

	/* pruned past every record: nothing to count again, the rows kept and rewritten */
	ok(make_layout4(d, time_day_start(now) + 86400LL * 1000000000) == 0,
	    "  layout 4, pruned past every record");
	{
		char *argv[] = { "aggregate", "--rebuild", "--ledger", d, NULL };

		is_int(run(aggregate_main, out, 4, argv), 0, "  tollctl aggregate --rebuild");
		ok(has_line(out, "rebuilt the aggregates of"), "  says so");
	}
	is_int(spend_on(d, out, by_model), 0, "  spend --by model reads the kept rows");
	ok(has_line(out, "deployment:0,,,2,0,2000,0,0,0,0,0.002,") &&
	    has_line(out, "deployment:1,,,2,0,2000,0,0,0,0,0.006,"),
	    "  the pruned days keep their totals under the old name, deployment and entry ''");
}

int
main(void)
{
	int64_t now = clock_now_ns();
	struct record *recs = calloc(NREC, sizeof(*recs));
	struct buf before = { 0 }, after = { 0 };
	struct ledger *l = NULL;
	char err[512], out[400], empty[400], line[2048];
	size_t i, done, total, n, first;
	double t0, dt;
	pid_t pid;
	int status, w, rc;

	snprintf(root, sizeof(root), "%s/t_aggregate.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
	    "/tmp");
	if (mkdtemp(root) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/ledger", root);
	snprintf(out, sizeof(out), "%s/out", root);
	snprintf(empty, sizeof(empty), "%s/empty", root);

	for (i = 0; i < NREC; i++)
		mkrec(&recs[i], now);
	/* the ledger's keys sort by end time: append in that order, as workers do */
	qsort(recs, NREC, sizeof(*recs), by_end);
	rc = ledger_open(dir, LEDGER_WRITE, MAP_SIZE, 3, &l, err, sizeof(err));
	if (!ok(rc == 0, "ledger opened")) {
		diag("%s", err);
		return done_testing();
	}

	/* records in random batches, follows of random sizes in between */
	first = 2 * NREC / 3;
	total = 0;
	for (i = 0; i < first; i += n) {
		n = 1 + rnd() % 150;
		if (n > first - i)
			n = first - i;
		if (ledger_append(l, recs + i, n, err, sizeof(err)) != 0)
			break;
		for (w = 0; w < W_COUNT; w++)
			for (size_t j = i; j < i + n; j++)
				direct_add(&direct[w], (enum what)w, &recs[j]);
		if (rnd() % 3 == 0)
			continue;
		if (aggregate_follow(l, INT64_MAX, 1 + rnd() % 400, &done, err, sizeof(err)) < 0)
			break;
		total += done;
	}
	is_int((long long)i, (long long)first, "batches appended and followed");
	do {
		rc = aggregate_follow(l, INT64_MAX, 500, &done, err, sizeof(err));
		total += done;
	} while (rc == 0 && done > 0);
	is_int((long long)total, (long long)first, "every record counted once");
	check_against_direct(l, "incremental");
	check_scan_dim(l, now);
	check_spendq_max_rows(l);

	dump(l, &before);
	ok(aggregate_follow(l, INT64_MAX, 1000, &done, err, sizeof(err)) == 0 && done == 0,
	    "a follow with nothing new counts nothing");
	dump(l, &after);
	ok(before.len > 0 && before.len == after.len &&
	    memcmp(before.data, after.data, before.len) == 0, "and changes no row");

	/* a writer that dies inside its transaction: nothing of it stays */
	ok(ledger_append(l, recs + first, NREC / 6, err, sizeof(err)) == 0, "more records");
	for (w = 0; w < W_COUNT; w++)
		for (i = first; i < first + NREC / 6; i++)
			direct_add(&direct[w], (enum what)w, &recs[i]);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct ledger *c;
		MDB_txn *txn;
		MDB_dbi day;
		MDB_val k = { 7, "agg_pos" }, v = { 4, "junk" };

		if (ledger_open(dir, LEDGER_WRITE, MAP_SIZE, 4, &c, NULL, 0) < 0 ||
		    aggregate_follow(c, INT64_MAX, 7, &done, NULL, 0) < 0 ||
		    ledger_txn_begin(c, 1, &txn) != 0 ||
		    mdb_dbi_open(txn, "agg_day", 0, &day) != 0 ||
		    mdb_drop(txn, day, 0) != 0 ||
		    mdb_put(txn, ledger_meta_dbi(c), &k, &v, 0) != 0)
			_exit(1);
		_exit(0);		/* without a commit, holding the writer lock */
	}
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a child followed 7 records, then died mid-transaction");
	ledger_reader_check(l);
	total = 7;
	do {
		rc = aggregate_follow(l, INT64_MAX, 13, &done, err, sizeof(err));
		total += done;
	} while (rc == 0 && done > 0);
	ok(rc == 0, "the follow goes on after the dead writer");
	is_int((long long)total, NREC / 6, "the child's committed part is not counted again");
	check_against_direct(l, "after a dead writer");

	/* close and reopen between appends and follows */
	ok(ledger_append(l, recs + first + NREC / 6, NREC - first - NREC / 6, err,
	    sizeof(err)) == 0, "the last records");
	for (w = 0; w < W_COUNT; w++)
		for (i = first + NREC / 6; i < NREC; i++)
			direct_add(&direct[w], (enum what)w, &recs[i]);
	ok(aggregate_follow(l, INT64_MAX, 100, &done, err, sizeof(err)) == 0 && done == 100,
	    "a follow part way");
	ledger_close(l);
	ok(ledger_open(dir, LEDGER_WRITE, MAP_SIZE, 3, &l, err, sizeof(err)) == 0, "reopened");
	total = 100;
	do {
		rc = aggregate_follow(l, INT64_MAX, 50000, &done, err, sizeof(err));
		total += done;
	} while (rc == 0 && done > 0);
	is_int((long long)total, NREC - first - NREC / 6, "after a reopen, only the rest counted");
	check_against_direct(l, "after a reopen");
	dump(l, &before);

	/* rebuild equals incremental, and its speed */
	ok(aggregate_reset(l, err, sizeof(err)) == 0, "aggregates dropped");
	dump(l, &after);
	is_int((long long)after.len, 2, "no rows left");
	t0 = secs();
	total = 0;
	do {
		rc = aggregate_follow(l, INT64_MAX, 50000, &done, err, sizeof(err));
		total += done;
	} while (rc == 0 && done > 0);
	dt = secs() - t0;
	is_int((long long)total, NREC, "rebuilt from every record");
	diag("follow: %zu records in %.3f s, %.0f records/s", total, dt, dt > 0 ? total / dt : 0);
	dump(l, &after);
	ok(before.len == after.len && memcmp(before.data, after.data, before.len) == 0,
	    "rebuilt rows equal the incremental ones, field by field");
	ledger_close(l);
	l = NULL;

	/* the commands, with this process's handle closed (one per directory) */
	{
		char *argv[] = { "aggregate", "--rebuild", "--ledger", dir, NULL };

		is_int(run(aggregate_main, out, 4, argv), 0, "tollctl aggregate --rebuild");
	}
	ok(ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) == 0, "reopened to read");
	dump(l, &after);
	ok(before.len == after.len && memcmp(before.data, after.data, before.len) == 0,
	    "the command's rebuild equals the incremental rows");
	ledger_close(l);
	l = NULL;
	{
		char *argv[] = { "spend", "--by", "model", "--format", "csv", "--ledger", dir, NULL };

		is_int(run(spend_main, out, 7, argv), 0, "spend --by model --format csv");
		check_spend_csv(out);
	}
	{
		char *argv[] = { "spend", "--format", "json", "--ledger", dir, NULL };
		char cost[MONEY_FORMAT_MAX], want[512];
		const struct agg_value *v = &direct[W_TOTAL].v[0];
		FILE *f;

		is_int(run(spend_main, out, 5, argv), 0, "spend --format json (grand total)");
		snprintf(want, sizeof(want), "{\"requests\":%lld,\"errors\":%lld,", (long long)
		    v->requests, (long long)v->errors);
		f = fopen(out, "r");
		ok(f && fgets(line, sizeof(line), f) && strncmp(line, want, strlen(want)) == 0 &&
		    strstr(line, money_format(v->total, MONEY_COST_SCALE, cost)) != NULL,
		    "the grand total's requests, errors and cost");
		if (f)
			fclose(f);
	}
	{
		char *argv[] = { "spend", "--by", "tag", "--by", "hour", "--format", "table",
		    "--ledger", dir, NULL };

		is_int(run(spend_main, out, 9, argv), 0, "spend --by tag --by hour (table)");
	}

	/* error paths: one line, exit 1 */
	{
		char *a1[] = { "spend", "--by", "colour", "--ledger", dir, NULL };
		char *a2[] = { "spend", "--since", "yesterday-ish", "--ledger", dir, NULL };
		char *a3[] = { "spend", "--ledger", empty, NULL };
		char *a4[] = { "spend", "--by", "hour", "--since", "30d", "--ledger", dir, NULL };
		char *a5[] = { "spend", "--format", "xml", "--ledger", dir, NULL };
		char *a6[] = { "aggregate", "--ledger", dir, NULL };
		char *a7[] = { "aggregate", "--rebuild", "--ledger", empty, NULL };
		char *a8[] = { "spend", "--ledger", root, NULL };
		struct stat st;

		is_int(run(spend_main, out, 5, a1), 1, "spend: unknown --by");
		is_int(run(spend_main, out, 5, a2), 1, "spend: a bad --since");
		is_int(run(spend_main, out, 3, a3), 1, "spend: no ledger there");
		is_int(run(spend_main, out, 7, a4), 1, "spend: --by hour beyond 7 days");
		is_int(run(spend_main, out, 5, a5), 1, "spend: unknown --format");
		is_int(run(aggregate_main, out, 3, a6), 1, "aggregate: without --rebuild");
		is_int(run(aggregate_main, out, 4, a7), 1, "aggregate: no ledger there");
		ok(stat(empty, &st) < 0, "and no ledger was created by it");
		is_int(run(spend_main, out, 3, a8), 1, "spend: not a ledger directory");
	}
	{
		/* a ledger whose accountant never ran */
		char fresh[400];
		char *argv[] = { "spend", "--ledger", fresh, NULL };

		snprintf(fresh, sizeof(fresh), "%s/fresh", root);
		ok(ledger_open(fresh, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) == 0 &&
		    ledger_append(l, recs, 3, err, sizeof(err)) == 0, "a ledger without aggregates");
		ledger_close(l);
		l = NULL;
		is_int(run(spend_main, out, 3, argv), 1, "spend: no aggregates yet");
		f_line(out, line, sizeof(line));
		ok(strstr(line, "no aggregates yet") != NULL, "says so: %s", line);
	}

	{
		/* the settle horizon: only records that ended before it, the rest later */
		char late[400];

		snprintf(late, sizeof(late), "%s/late", root);
		ok(ledger_open(late, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) == 0 &&
		    ledger_append(l, recs, 10, err, sizeof(err)) == 0, "a ledger of ten records");
		ok(aggregate_follow(l, recs[6].end_ns, 100, &done, err, sizeof(err)) == 0 &&
		    done == 6, "a follow before the seventh's end counts six");
		ok(aggregate_follow(l, recs[6].end_ns, 100, &done, err, sizeof(err)) == 0 &&
		    done == 0, "and again, none");
		ok(aggregate_follow(l, INT64_MAX, 100, &done, err, sizeof(err)) == 0 &&
		    done == 4, "past it, the other four");
		{
			/* a record committed late, ending before everything counted so far */
			struct record old = recs[0];

			snprintf(old.id, sizeof(old.id), "late-one");
			old.end_ns = recs[0].end_ns - 1000;
			old.total = 777;
			ok(ledger_append(l, &old, 1, err, sizeof(err)) == 0 &&
			    aggregate_follow(l, INT64_MAX, 100, &done, err, sizeof(err)) == 0 && done == 1,
			    "a record committed after the follow passed its end time is still counted");
			ok(aggregate_follow(l, INT64_MAX, 100, &done, err, sizeof(err)) == 0 && done == 0,
			    "once");
		}
		ledger_close(l);
		l = NULL;
	}

	check_spend_filters(recs, NREC, out);
	check_spend_table();
	check_long_names(now);
	check_old_layout(now);

	buf_release(&before);
	buf_release(&after);
	free(recs);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
