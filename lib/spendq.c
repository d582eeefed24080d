/*
 * Spend queries over the aggregates: see spendq.h.  Runs in tollctl and in
 * tollgated's workers (the spend API), each query in one short read
 * transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "spendq.h"
#include "timeparse.h"

const struct spendq_cost_col spendq_cost_cols[] = {
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

_Static_assert(sizeof(spendq_cost_cols) / sizeof(spendq_cost_cols[0]) == SPENDQ_NCOST_COLS,
    "a cost column for every cost part");

const char *const spendq_count_names[SPENDQ_NCOUNTS] = {
	"requests", "errors", "input", "cache_read", "cache_write", "output", "reasoning"
};

void
spendq_bucket_text(int64_t ns, int hour, char *buf, size_t len)
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
 * them, so that a longer value still finds the group a grouping shows for it.
 */
static int
matches(const struct spendq *q, const struct agg_row *row)
{
	int d, cut;

	for (d = 0; d < AGG_DIM_COUNT; d++) {
		if (q->filter[d] == NULL)
			continue;
		cut = d == AGG_DIM_USER || d == AGG_DIM_TEAM || d == AGG_DIM_CUSTOMER ||
		    d == AGG_DIM_TAG;
		if ((cut ? strncmp(row->dim[d], q->filter[d], AGG_DIM_MAX) :
		    strcmp(row->dim[d], q->filter[d])) != 0)
			return 0;
	}
	return 1;
}

static int
collect(void *arg, const struct agg_row *row)
{
	struct spendq *q = arg;
	struct buf name = { 0 };
	int i;

	if (row->all_tags == q->per_tag || row->only_dim != q->only_dim || !matches(q, row) ||
	    (q->keep != NULL && !q->keep(q->keep_arg, row)))
		return 0;
	if (q->max_rows > 0 && q->n == q->max_rows) {
		q->too_many = 1;
		return 1;
	}
	for (i = 0; i < q->nby; i++) {
		if (i)
			buf_append(&name, "\x1f", 1);
		if (q->by[i] == SPENDQ_BY_DAY || q->by[i] == SPENDQ_BY_HOUR) {
			/* rows come in bucket order: format each bucket once */
			if (row->bucket_ns != q->text_bucket || q->by[i] != q->text_by) {
				spendq_bucket_text(q->by[i] == SPENDQ_BY_DAY ?
				    time_day_start(row->bucket_ns) : row->bucket_ns,
				    q->by[i] == SPENDQ_BY_HOUR, q->text, sizeof(q->text));
				q->text_bucket = row->bucket_ns;
				q->text_by = q->by[i];
			}
			buf_append(&name, q->text, strlen(q->text));
		} else
			buf_append(&name, row->dim[q->by[i]], strlen(row->dim[q->by[i]]));
	}
	if (buf_append(&name, "", 1) < 0 || ARRAY_GROW(q->g, q->n, q->cap) < 0) {
		buf_release(&name);
		q->oom = 1;
		return 1;
	}
	q->g[q->n].name = name.data;
	q->g[q->n].v = *row->v;
	q->n++;
	return 0;
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spendq_group *)a)->name,
	    ((const struct spendq_group *)b)->name);
}

/* Sorts the rows by group and adds up each group's rows into its first. */
static void
merge(struct spendq *q)
{
	size_t i, j = 0;

	if (q->n == 0)
		return;
	qsort(q->g, q->n, sizeof(*q->g), group_cmp);
	for (i = 1; i < q->n; i++) {
		if (strcmp(q->g[i].name, q->g[j].name) == 0) {
			aggregate_value_add(&q->g[j].v, &q->g[i].v);
			free(q->g[i].name);
		} else
			q->g[++j] = q->g[i];
	}
	q->n = j + 1;
}

/* Whether d is one of the model-day rollup's: model, provider, deployment, priced_as. */
static int
model_dim(int d)
{
	return d == AGG_DIM_MODEL || d == AGG_DIM_PROVIDER || d == AGG_DIM_DEPLOYMENT ||
	    d == AGG_DIM_PRICED_AS;
}

/*
 * The one dimension other than the model-day rollup's and day that q groups
 * or filters by, if it is the only one: its enum agg_dim; -1 when there are
 * none or several, or when one of the rollup's is among them.
 */
static int
only_dim(const struct spendq *q)
{
	int i, d = -1;

	for (i = 0; i < q->nby + AGG_DIM_COUNT; i++) {
		int x = i < q->nby ? q->by[i] : q->filter[i - q->nby] ? i - q->nby : -1;

		if (x < 0 || x == SPENDQ_BY_DAY || x == SPENDQ_BY_HOUR)
			continue;
		if (model_dim(x) || (d >= 0 && d != x))
			return -1;
		d = x;
	}
	return d;
}

enum agg_table
spendq_table(const struct spendq *q)
{
	int i;

	if (q->hour)
		return AGG_TABLE_HOUR;
	if (only_dim(q) >= 0)
		return AGG_TABLE_DIM_DAY;
	for (i = 0; i < q->nby; i++)
		if (!model_dim(q->by[i]) && q->by[i] != SPENDQ_BY_DAY)
			return AGG_TABLE_DAY;
	for (i = 0; i < AGG_DIM_COUNT; i++)
		if (q->filter[i] != NULL && !model_dim(i))
			return AGG_TABLE_DAY;
	return AGG_TABLE_MODEL_DAY;
}

int
spendq_run(struct ledger *l, struct spendq *q, char *err, size_t errlen)
{
	enum agg_table table = spendq_table(q);
	int i, rc;

	q->per_tag = q->filter[AGG_DIM_TAG] != NULL;
	for (i = 0; i < q->nby; i++)
		q->per_tag |= q->by[i] == AGG_DIM_TAG;
	q->only_dim = table == AGG_TABLE_DIM_DAY ? only_dim(q) : -1;
	q->oom = 0;
	q->too_many = 0;
	q->text_by = -1;
	rc = q->only_dim >= 0 ?
	    aggregate_scan_dim(l, q->only_dim, q->since, q->until, collect, q, err, errlen) :
	    aggregate_scan(l, table, q->since, q->until, collect, q, err, errlen);
	if (rc == 0 && q->oom) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0 && q->too_many)
		return SPENDQ_TOO_MANY;
	if (rc == 0)
		merge(q);
	return rc;
}

void
spendq_release(struct spendq *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		free(q->g[i].name);
	free(q->g);
	q->g = NULL;
	q->n = q->cap = 0;
}

char *
spendq_field(char **p)
{
	char *f = *p, *sep = strchr(f, '\x1f');

	if (sep) {
		*sep = '\0';
		*p = sep + 1;
	} else
		*p = f + strlen(f);
	return f;
}

void
spendq_line_of(const struct agg_value *v, struct spendq_line *ln)
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
	for (c = 0; c < SPENDQ_NCOST_COLS; c++) {
		for (sum = 0, p = 0; p < COST_PART_COUNT; p++)
			if (spendq_cost_cols[c].parts & 1u << p)
				sum += v->cost[p];
		money_format(sum, MONEY_COST_SCALE, ln->cost[1 + c]);
	}
}
