/*
 * tollctl spend --fleet: the same totals as tollctl spend, for every host
 * of the fleet, read from the fleet ledger in PostgreSQL (lib/pgship.h's
 * tollgate_spend) instead of this host's aggregates: one GROUP BY query,
 * its sums exact (numeric, as integer picodollars), into the groups that
 * tollctl spend prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "cost.h"
#include "record.h"
#include "spendq.h"
#include "tollctl.h"

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
spend_fleet_run(const char *dsn, struct spendq *q, char *err, size_t errlen)
{
	struct buf sql = { 0 };
	const char *params[AGG_DIM_COUNT + 2];
	char since[32], until[32];
	PGconn *conn = NULL;
	PGresult *r = NULL;
	int i, np = 0, rc = -1, tag = 0, row, col;
	unsigned t;

	for (i = 0; i < q->nby; i++)
		tag |= q->by[i] == AGG_DIM_TAG;
	tag |= q->filter[AGG_DIM_TAG] != NULL;
	buf_printf(&sql, "SELECT ");
	for (i = 0; i < q->nby; i++)
		buf_printf(&sql, "%s::text, ", columns[q->by[i]]);
	buf_printf(&sql, "count(*), count(*) FILTER (WHERE status >= 400 OR 'upstream_failed' = "
	    "ANY(flags))");
	for (t = 0; t < RECORD_TOKEN_COUNT; t++)
		buf_printf(&sql, ", coalesce(sum((tokens->>'%s')::bigint), 0)", record_token_name(t));
	for (t = 0; t < COST_PART_COUNT; t++)
		buf_printf(&sql, ", coalesce(sum((cost_parts->>'%s')::numeric * 1000000000000), 0)"
		    "::numeric(40, 0)::text", cost_part_name((enum cost_part)t));
	buf_printf(&sql, ", coalesce(sum(spend_pico), 0)::text FROM tollgate_spend");
	/* a request counts under each of its tags, and those without under '-' */
	if (tag)
		buf_printf(&sql, " CROSS JOIN LATERAL unnest(coalesce(nullif(string_to_array(tags, "
		    "','), '{}'), '{-}')) AS tag");
	snprintf(since, sizeof(since), "%lld", (long long)(q->since / 1000));
	snprintf(until, sizeof(until), "%lld", (long long)(q->until == INT64_MAX ? INT64_MAX / 1000 :
	    q->until / 1000));
	params[np++] = since;
	params[np++] = until;
	buf_printf(&sql, " WHERE end_time >= to_timestamp($1::bigint / 1e6) AND end_time < "
	    "to_timestamp(least($2::bigint, 9e15) / 1e6)");
	for (i = 0; i < AGG_DIM_COUNT; i++)
		if (q->filter[i] != NULL) {
			params[np++] = q->filter[i];
			buf_printf(&sql, " AND %s = $%d", columns[i], np);
		}
	if (q->nby > 0) {
		buf_printf(&sql, " GROUP BY ");
		for (i = 0; i < q->nby; i++)
			buf_printf(&sql, "%s%d", i ? ", " : "", i + 1);
	}
	if (sql.data == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	conn = PQconnectdb(dsn);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "the fleet ledger: cannot connect: %s", PQerrorMessage(conn));
		goto out;
	}
	r = PQexecParams(conn, sql.data, np, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "the fleet ledger: %s", PQresultErrorMessage(r));
		goto out;
	}
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
		free(q->g[0].name);	/* no request: printed as the local total of nothing is */
		q->n = 0;
	}
	qsort(q->g, q->n, sizeof(*q->g), group_cmp);
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	if (rc < 0) {	/* libpq's messages end in a newline */
		size_t k = strlen(err);

		while (k > 0 && err[k - 1] == '\n')
			err[--k] = '\0';
	}
	PQclear(r);
	PQfinish(conn);
	buf_release(&sql);
	return rc;
}
