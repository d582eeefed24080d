/*
 * Spend queries (spendq.h) answered from the fleet ledger in PostgreSQL
 * (lib/pgship.h's tollgate_spend) instead of this host's aggregates: one
 * GROUP BY query, its sums exact (numeric, as integer picodollars), into
 * the groups a local query fills.  tollctl spend --fleet sends it and waits;
 * a worker sends it on its event loop (cmd/tollgated/worker_pg.c).
 */
#ifndef TOLLGATE_SPENDQ_PG_H
#define TOLLGATE_SPENDQ_PG_H

#include <libpq-fe.h>

#include "buf.h"
#include "spendq.h"

#define SPENDQ_PG_PARAMS	(AGG_DIM_COUNT + 2)

/* The SQL of q and its np parameters (pointing into q, since and until): 0, or -1 (out of memory). */
struct spendq_pg {
	struct buf	 sql;
	const char	*params[SPENDQ_PG_PARAMS];
	int		 np;
	char		 since[32], until[32];
};
int spendq_pg_build(const struct spendq *q, struct spendq_pg *out);
void spendq_pg_release(struct spendq_pg *p);

/* Fills q's groups (sorted by name) from the query's result: 0, or -1 with err. */
int spendq_pg_groups(struct spendq *q, const PGresult *r, char *err, size_t errlen);

#endif
