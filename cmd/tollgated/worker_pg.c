/*
 * One query to PostgreSQL on the worker's event loop, never blocking it:
 * libpq's non-blocking connection (PQconnectStart, PQconnectPoll) and
 * query (PQsendQueryParams, PQconsumeInput), each step woken by an event on
 * libpq's socket, the whole bounded by a timeout.  A connection a query:
 * what asks (the spend API's fleet answers) is rare, and a worker keeps no
 * connection open to the database for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "tollgated.h"
#include "worker.h"

#define PG_TIMEOUT_S	10

struct pgq {
	PGconn		*conn;
	struct event	*io, *timer;
	int		 sent;
	char		*sql;
	int		 np;
	char		**params;
	PGresult	*result;
	pgq_done_fn	 done;
	void		*arg;
};

static void step(evutil_socket_t fd, short what, void *arg);

static void
pgq_free(struct pgq *q)
{
	int i;

	PQclear(q->result);
	if (q->io)
		event_free(q->io);
	if (q->timer)
		event_free(q->timer);
	PQfinish(q->conn);
	for (i = 0; q->params != NULL && i < q->np; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

static void
finish(struct pgq *q, const char *why)
{
	char err[512];
	size_t n;

	if (why != NULL) {
		snprintf(err, sizeof(err), "%s", why);
		n = strlen(err);
		while (n > 0 && err[n - 1] == '\n')	/* libpq's messages end in one */
			err[--n] = '\0';
	}
	q->done(q->arg, why == NULL ? q->result : NULL, why == NULL ? NULL : err);
	pgq_free(q);
}

/* Waits for libpq's socket (which may change while connecting) to be ready for what. */
static int
wait_for(struct pgq *q, short what)
{
	if (q->io)
		event_free(q->io);
	q->io = event_new(worker.base, PQsocket(q->conn), what, step, q);
	return q->io == NULL || event_add(q->io, NULL) < 0 ? -1 : 0;
}

static void
step(evutil_socket_t fd, short what, void *arg)
{
	struct pgq *q = arg;
	PGresult *r;

	(void)fd;
	if (what & EV_TIMEOUT) {
		finish(q, "the fleet ledger did not answer in time");
		return;
	}
	if (!q->sent) {
		switch (PQconnectPoll(q->conn)) {
		case PGRES_POLLING_READING:
			if (wait_for(q, EV_READ) < 0)
				finish(q, "out of memory");
			return;
		case PGRES_POLLING_WRITING:
			if (wait_for(q, EV_WRITE) < 0)
				finish(q, "out of memory");
			return;
		case PGRES_POLLING_FAILED:
			finish(q, PQerrorMessage(q->conn));
			return;
		default:
			break;
		}
		if (!PQsendQueryParams(q->conn, q->sql, q->np, NULL, (const char *const *)q->params,
		    NULL, NULL, 0)) {
			finish(q, PQerrorMessage(q->conn));
			return;
		}
		q->sent = 1;
	}
	if (PQflush(q->conn) == 1) {
		if (wait_for(q, EV_WRITE) < 0)
			finish(q, "out of memory");
		return;
	}
	if ((what & EV_READ) && !PQconsumeInput(q->conn)) {
		finish(q, PQerrorMessage(q->conn));
		return;
	}
	while (!PQisBusy(q->conn)) {
		if ((r = PQgetResult(q->conn)) == NULL) {
			if (q->result == NULL || PQresultStatus(q->result) != PGRES_TUPLES_OK)
				finish(q, q->result ? PQresultErrorMessage(q->result) : "no answer");
			else
				finish(q, NULL);
			return;
		}
		if (q->result == NULL)
			q->result = r;	/* one statement: one result */
		else
			PQclear(r);
	}
	if (wait_for(q, EV_READ) < 0)
		finish(q, "out of memory");
}

int
pgq_start(const char *dsn, const char *sql, int np, const char *const *params, pgq_done_fn done,
    void *arg)
{
	struct timeval tv = { PG_TIMEOUT_S, 0 };
	struct pgq *q = calloc(1, sizeof(*q));

	if (q == NULL || (q->sql = strdup(sql)) == NULL ||
	    (q->params = calloc((size_t)(np > 0 ? np : 1), sizeof(char *))) == NULL)
		goto fail;
	for (q->np = 0; q->np < np; q->np++)
		if ((q->params[q->np] = strdup(params[q->np])) == NULL)
			goto fail;
	q->done = done;
	q->arg = arg;
	if ((q->conn = PQconnectStart(dsn)) == NULL || PQstatus(q->conn) == CONNECTION_BAD ||
	    PQsetnonblocking(q->conn, 1) != 0 ||
	    (q->timer = evtimer_new(worker.base, step, q)) == NULL || evtimer_add(q->timer, &tv) < 0 ||
	    wait_for(q, EV_WRITE) < 0)
		goto fail;
	return 0;
fail:
	if (q != NULL)
		pgq_free(q);
	return -1;
}
