/*
 * The accountant process.  For now it keeps the ledger healthy: it syncs
 * committed records to disk every ledger.sync_interval (workers commit with
 * MDB_NOSYNC, so this is what bounds the loss on a power failure), clears
 * reader slots left by dead processes, replays spilled records, and folds
 * new records into the spend aggregates (lib/aggregate.h) every
 * ACCOUNTANT_AGG_MS.  Budgets, alerts and exports come later.
 */
#include <signal.h>
#include <stdlib.h>

#include <event2/event.h>

#include "aggregate.h"
#include "clock.h"
#include "export.h"
#include "ledger.h"
#include "log.h"
#include "timeparse.h"
#include "tollgated.h"

#define ACCOUNTANT_AGG_MS	200
/*
 * Records per aggregate transaction.  The follow holds LMDB's single writer
 * lock, which workers' appends wait for: at the 100,000 records/s or so it
 * manages, 5,000 keep that under about 50 ms even while catching up.
 */
#define ACCOUNTANT_AGG_BATCH	5000

struct accountant {
	struct event_base	*base;
	struct ledger		*ledger;
	struct event		*sync_ev, *health_ev, *agg_ev, *export_ev, *sig_term, *sig_int, *sig_usr1;
	int			 agg_failing;	/* the last follow failed: said once */
};

static struct accountant accountant;

static void
on_sync(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (ledger_sync(accountant.ledger) < 0)
		log_error("accountant: cannot sync the ledger to disk");
}

/*
 * Folds up to ACCOUNTANT_AGG_BATCH new records into the aggregates.  A full
 * batch means there may be more: the next one runs as soon as the loop has
 * served its other events, so a long catch-up never holds up the sync.
 */
static void
on_aggregate(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, ACCOUNTANT_AGG_MS * 1000 }, now = { 0, 0 };
	char err[512];
	size_t done = 0;

	(void)fd, (void)what, (void)arg;
	if (aggregate_follow(accountant.ledger, INT64_MAX,
	    ACCOUNTANT_AGG_BATCH, &done, err, sizeof(err)) < 0) {
		if (!accountant.agg_failing)
			log_error("accountant: %s", err);
		accountant.agg_failing = 1;
	} else if (accountant.agg_failing) {
		log_info("accountant: aggregating the ledger again");
		accountant.agg_failing = 0;
	}
	event_add(accountant.agg_ev, done == ACCOUNTANT_AGG_BATCH ? &now : &tv);
}

/*
 * Rewrites the export files of yesterday and today (UTC): the days whose
 * aggregates still change.  A re-rating of an older day shows in its files
 * after 'tollctl aggregate --rebuild' and the next export of that day.
 */
static void
on_export(evutil_socket_t fd, short what, void *arg)
{
	int64_t today = time_day_start(clock_now_ns()), day = 86400LL * 1000000000;
	char err[512];

	(void)fd, (void)what, (void)arg;
	if (export_days(accountant.ledger, heritage.config->tollgate.export_dir, today - day,
	    today + day, err, sizeof(err)) < 0)
		log_error("accountant: %s", err);
}

static void
on_health(evutil_socket_t fd, short what, void *arg)
{
	char err[512];
	int n;

	(void)fd, (void)what, (void)arg;
	if ((n = ledger_reader_check(accountant.ledger)) > 0)
		log_info("accountant: cleared %d reader slot%s of dead processes", n, n == 1 ? "" : "s");
	if ((n = ledger_replay_spill(accountant.ledger, err, sizeof(err))) > 0)
		log_info("accountant: replayed %d spilled record%s into the ledger", n, n == 1 ? "" : "s");
	else if (n < 0)
		log_error("accountant: cannot replay spilled records: %s", err);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what, (void)arg;
	event_base_loopexit(accountant.base, NULL);
}

static void
on_usr1(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what, (void)arg;
	log_reopen();
}

int
accountant_main(void)
{
	const struct config *c = heritage.config;
	int64_t ms = c->tollgate.ledger_sync_interval_ms;
	struct timeval sync_tv = { ms / 1000, (ms % 1000) * 1000 }, health_tv = { 5, 0 };
	char err[512];

	log_set_prefix("accountant");
	if ((accountant.base = event_base_new()) == NULL)
		fatal("accountant: cannot create the event loop");
	if (ledger_open(heritage.ledger_dir, LEDGER_WRITE, (size_t)c->tollgate.ledger_map_size, 0,
	    &accountant.ledger, err, sizeof(err)) < 0)
		fatal("accountant: %s", err);
	accountant.sync_ev = event_new(accountant.base, -1, EV_PERSIST, on_sync, NULL);
	accountant.health_ev = event_new(accountant.base, -1, EV_PERSIST, on_health, NULL);
	accountant.agg_ev = event_new(accountant.base, -1, 0, on_aggregate, NULL);
	accountant.sig_term = evsignal_new(accountant.base, SIGTERM, on_term, NULL);
	accountant.sig_int = evsignal_new(accountant.base, SIGINT, on_term, NULL);
	accountant.sig_usr1 = evsignal_new(accountant.base, SIGUSR1, on_usr1, NULL);
	event_add(accountant.sync_ev, &sync_tv);
	event_add(accountant.health_ev, &health_tv);
	event_add(accountant.sig_term, NULL);
	event_add(accountant.sig_int, NULL);
	event_add(accountant.sig_usr1, NULL);
	if (c->tollgate.export_dir != NULL) {
		int64_t ems = c->tollgate.export_interval_ms;
		struct timeval export_tv = { ems / 1000, (ems % 1000) * 1000 };

		accountant.export_ev = event_new(accountant.base, -1, EV_PERSIST, on_export, NULL);
		event_add(accountant.export_ev, &export_tv);
	}
	on_health(-1, 0, NULL);
	on_aggregate(-1, 0, NULL);
	event_base_dispatch(accountant.base);
	/* workers have flushed by now (the master stops them first): count and sync the last */
	on_aggregate(-1, 0, NULL);
	if (accountant.export_ev != NULL)
		on_export(-1, 0, NULL);
	ledger_sync(accountant.ledger);
	ledger_close(accountant.ledger);
	return 0;
}
