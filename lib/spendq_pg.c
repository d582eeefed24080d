/*
 * Spend queries from the fleet ledger in PostgreSQL (spendq_pg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cost.h"
#include "record.h"
#include "spendq_pg.h"

/* The column of each enum agg_dim, then the day's and the hour's. */
static const char *const columns[] = {
	"api_key", "user_id", "team_id", "customer", "tag", "model_requested", "provider",
	"deployment", "priced_as",
	"to_char(end_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
	"to_char(end_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":00Z\"')",
};

_Static_assert(sizeof(columns) / sizeof(columns[0]) == SPENDQ_BY_HOUR + 1,
    "a column for every dimension, the day and the hour");

/* Decimal integer text (what sum()::text printed) as a 128-bit integer. */
static __int128
wide(const char *s)
{
	__int128 v = 0;
	int neg = *s == '-';

	for (s += neg; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spendq_group *)a)->name, ((const struct spendq_group *)b)->name);
}

int
spendq_pg_build(const struct spendq *q, struct spendq_pg *p)
{
	struct buf *sql = &p->sql;
	int i, tag = 0;
	unsigned t;

	p->np = 0;
	sql->len = 0;
	for (i = 0; i < q->nby; i++)
		tag |= q->by[i] == AGG_DIM_TAG;
	tag |= q->filter[AGG_DIM_TAG] != NULL;
	buf_printf(sql, "SELECT ");
	for (i = 0; i < q->nby; i++)
		buf_printf(sql, "%s::text, ", columns[q->by[i]]);
	buf_printf(sql, "count(*), count(*) FILTER (WHERE status >= 400 OR 'upstream_failed' = "
	    "ANY(flags))");
	for (t = 0; t < RECORD_TOKEN_COUNT; t++)
		buf_printf(sql, ", coalesce(sum((tokens->>'%s')::bigint), 0)", record_token_name(t));
	for (t = 0; t < COST_PART_COUNT; t++)
		buf_printf(sql, ", coalesce(sum((cost_parts->>'%s')::numeric * 1000000000000), 0)"
		    "::numeric(40, 0)::text", cost_part_name((enum cost_part)t));
	buf_printf(sql, ", coalesce(sum(spend_pico), 0)::text FROM tollgate_spend");
	/* a request counts under each of its tags, and those without under '-' */
	if (tag)
		buf_printf(sql, " CROSS JOIN LATERAL unnest(coalesce(nullif(string_to_array(tags, "
		    "','), '{}'), '{-}')) AS tag");
	snprintf(p->since, sizeof(p->since), "%lld", (long long)(q->since / 1000));
	snprintf(p->until, sizeof(p->until), "%lld", (long long)(q->until == INT64_MAX ?
	    INT64_MAX / 1000 : q->until / 1000));
	p->params[p->np++] = p->since;
	p->params[p->np++] = p->until;
	buf_printf(sql, " WHERE end_time >= to_timestamp($1::bigint / 1e6) AND end_time < "
	    "to_timestamp(least($2::bigint, 9e15) / 1e6)");
	for (i = 0; i < AGG_DIM_COUNT; i++)
		if (q->filter[i] != NULL) {
			p->params[p->np++] = q->filter[i];
			buf_printf(sql, " AND %s = $%d", columns[i], p->np);
		}
	if (q->nby > 0) {
		buf_printf(sql, " GROUP BY ");
		for (i = 0; i < q->nby; i++)
			buf_printf(sql, "%s%d", i ? ", " : "", i + 1);
	}
	return sql->data == NULL ? -1 : 0;
}

void
spendq_pg_release(struct spendq_pg *p)
{
	buf_release(&p->sql);
}

int
spendq_pg_groups(struct spendq *q, const PGresult *r, char *err, size_t errlen)
{
	int i, row, col;
	unsigned t;

	for (row = 0; row < PQntuples(r); row++) {
		struct spendq_group *g;
		struct buf name = { 0 };

		if (ARRAY_GROW(q->g, q->n, q->cap) < 0)
			goto nomem;
		g = &q->g[q->n];
		memset(g, 0, sizeof(*g));
		for (i = 0; i < q->nby; i++) {
			if (i)
				buf_append(&name, "\x1f", 1);
			buf_printf(&name, "%s", PQgetvalue(r, row, i));
		}
		if ((g->name = name.data ? name.data : strdup("")) == NULL)
			goto nomem;
		q->n++;
		col = q->nby;
		g->v.requests = strtoll(PQgetvalue(r, row, col++), NULL, 10);
		g->v.errors = strtoll(PQgetvalue(r, row, col++), NULL, 10);
		for (t = 0; t < RECORD_TOKEN_COUNT; t++)
			g->v.tokens[t] = strtoll(PQgetvalue(r, row, col++), NULL, 10);
		for (t = 0; t < COST_PART_COUNT; t++)
			g->v.cost[t] = wide(PQgetvalue(r, row, col++));
		g->v.total = wide(PQgetvalue(r, row, col));
	}
	if (q->nby == 0 && q->n == 1 && q->g[0].v.requests == 0) {
		free(q->g[0].name);	/* no request: as the local total of nothing is */
		q->n = 0;
	}
	qsort(q->g, q->n, sizeof(*q->g), group_cmp);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}
