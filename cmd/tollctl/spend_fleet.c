/*
 * tollctl spend --fleet: the same totals as tollctl spend, for every host
 * of the fleet, read from the fleet ledger in PostgreSQL (lib/spendq_pg.h):
 * one GROUP BY query into the groups that tollctl spend prints.
 */
#include <stdio.h>
#include <string.h>

#include "spendq_pg.h"
#include "tollctl.h"

int
spend_fleet_run(const char *dsn, struct spendq *q, char *err, size_t errlen)
{
	struct spendq_pg p = { 0 };
	PGconn *conn = NULL;
	PGresult *r = NULL;
	int rc = -1;

	if (spendq_pg_build(q, &p) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	conn = PQconnectdb(dsn);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "the fleet ledger: cannot connect: %s", PQerrorMessage(conn));
		goto out;
	}
	r = PQexecParams(conn, p.sql.data, p.np, NULL, p.params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "the fleet ledger: %s", PQresultErrorMessage(r));
		goto out;
	}
	rc = spendq_pg_groups(q, r, err, errlen);
out:
	if (rc < 0) {	/* libpq's messages end in a newline */
		size_t k = strlen(err);

		while (k > 0 && err[k - 1] == '\n')
			err[--k] = '\0';
	}
	PQclear(r);
	PQfinish(conn);
	spendq_pg_release(&p);
	return rc;
}
