/*
 * tollctl reconcile --provider-cost: the records whose provider reported its
 * own cost (OpenRouter, xAI, DeepInfra), per UTC day and model: how many,
 * how many the gateway flagged cost_mismatch, and tollgate's cost against
 * the provider's, exactly.  Read from the ledger alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "costcheck.h"
#include "json.h"
#include "ledger.h"
#include "money.h"
#include "reconcile.h"
#include "timeparse.h"
#include "tollctl.h"

struct cost_row {
	int64_t			day;		/* its start, unix ns */
	char			model[128];
	struct costcheck_sum	sum;
};

struct cost_rows {
	struct cost_row	*v;
	size_t		 n, cap;
	const char	*model;		/* --model, or NULL */
	int		 oom;
};

static int
cost_visit(void *arg, const struct record *r)
{
	struct cost_rows *rows = arg;
	const char *model = r->priced_as[0] ? r->priced_as : r->deployment;
	int64_t day = time_day_start(r->end_ns);
	struct cost_row *row = NULL;
	size_t i;

	if (!(r->flags & RECORD_FLAG_PROVIDER_COST) ||
	    (rows->model && !reconcile_record_matches(r, rows->model)))
		return 0;
	for (i = rows->n; i > 0 && row == NULL; i--)
		if (rows->v[i - 1].day == day && strcmp(rows->v[i - 1].model, model) == 0)
			row = &rows->v[i - 1];
	if (row == NULL) {
		if (rows->n == rows->cap) {
			size_t cap = rows->cap ? rows->cap * 2 : 64;
			struct cost_row *v = realloc(rows->v, cap * sizeof(*v));

			if (v == NULL) {
				rows->oom = 1;
				return 1;
			}
			rows->v = v;
			rows->cap = cap;
		}
		row = &rows->v[rows->n++];
		memset(row, 0, sizeof(*row));
		row->day = day;
		snprintf(row->model, sizeof(row->model), "%s", model);
	}
	costcheck_add(&row->sum, r, 0);
	return 0;
}

static int
by_day_and_model(const void *a, const void *b)
{
	const struct cost_row *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->model, y->model);
}

/* The provider's figure over tollgate's, less one, in percent with one decimal ("-2.0"). */
static void
delta_pct(const struct cost_row *row, char *out, size_t len)
{
	money_sum d = row->sum.provider - row->sum.computed, tenths;

	if (row->sum.computed == 0) {
		snprintf(out, len, "%s", d == 0 ? "0.0" : "-");
		return;
	}
	tenths = d * 1000 / row->sum.computed;	/* truncated toward zero */
	snprintf(out, len, "%s%lld.%lld", tenths < 0 ? "-" : "",
	    (long long)((tenths < 0 ? -tenths : tenths) / 10),
	    (long long)((tenths < 0 ? -tenths : tenths) % 10));
}

static void
cost_table(const struct cost_rows *rows, struct buf *o)
{
	char day[40], a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX], d[MONEY_FORMAT_MAX], p[32];
	size_t i;

	if (rows->n == 0) {
		buf_printf(o, "no record in the window carries a cost reported by its provider\n");
		return;
	}
	buf_printf(o, "%-10s  %-32s  %8s  %10s  %16s  %16s  %16s  %7s\n", "DAY (UTC)", "MODEL",
	    "RECORDS", "MISMATCHED", "TOLLGATE USD", "PROVIDER USD", "DELTA USD", "DELTA %");
	for (i = 0; i < rows->n; i++) {
		const struct cost_row *r = &rows->v[i];

		time_format(r->day, day, sizeof(day));
		day[10] = '\0';
		delta_pct(r, p, sizeof(p));
		buf_printf(o, "%-10s  %-32s  %8llu  %10llu  %16s  %16s  %16s  %7s\n", day, r->model,
		    (unsigned long long)r->sum.records, (unsigned long long)r->sum.mismatches,
		    money_format(r->sum.computed, MONEY_COST_SCALE, a),
		    money_format(r->sum.provider, MONEY_COST_SCALE, b),
		    money_format(r->sum.provider - r->sum.computed, MONEY_COST_SCALE, d), p);
	}
}

static void
cost_json(const struct cost_rows *rows, struct buf *o)
{
	char day[40], a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX], d[MONEY_FORMAT_MAX];
	size_t i;

	buf_printf(o, "[");
	for (i = 0; i < rows->n; i++) {
		const struct cost_row *r = &rows->v[i];

		time_format(r->day, day, sizeof(day));
		day[10] = '\0';
		buf_printf(o, "%s{\"day\": \"%s\", \"model\": ", i ? ", " : "", day);
		json_write_string(o, r->model);
		buf_printf(o, ", \"records\": %llu, \"mismatches\": %llu, \"tollgate_cost_usd\": %s, "
		    "\"provider_cost_usd\": %s, \"delta_usd\": %s}",
		    (unsigned long long)r->sum.records, (unsigned long long)r->sum.mismatches,
		    money_format(r->sum.computed, MONEY_COST_SCALE, a),
		    money_format(r->sum.provider, MONEY_COST_SCALE, b),
		    money_format(r->sum.provider - r->sum.computed, MONEY_COST_SCALE, d));
	}
	buf_printf(o, "]\n");
}

int
reconcile_provider_cost(struct ledger *l, int64_t since, int64_t until, const char *model,
    int json, struct buf *o, int *any_mismatch)
{
	struct cost_rows rows = { 0 };
	size_t i;

	rows.model = model;
	if (ledger_range(l, since, until, cost_visit, &rows) < 0 || rows.oom) {
		free(rows.v);
		return -1;
	}
	if (rows.n > 1)
		qsort(rows.v, rows.n, sizeof(rows.v[0]), by_day_and_model);
	*any_mismatch = 0;
	for (i = 0; i < rows.n; i++)
		*any_mismatch |= rows.v[i].sum.mismatches > 0;
	if (json)
		cost_json(&rows, o);
	else
		cost_table(&rows, o);
	free(rows.v);
	return 0;
}
