/*
 * The accountant process.  It keeps the ledger healthy: it syncs committed
 * records to disk every ledger.sync_interval (workers commit with
 * MDB_NOSYNC, so this is what bounds the loss on a power failure), clears
 * reader slots left by dead processes, replays spilled records, and folds
 * new records into the spend aggregates (lib/aggregate.h) every
 * ACCOUNTANT_AGG_MS.  Every export.interval it exports the days whose
 * aggregates changed (files in export.dir, JSON POSTed to export.url through
 * the outbox, which retries), every ACCOUNTANT_PRUNE_S it deletes raw
 * records older than ledger.retention that are counted and exported
 * (lib/retention.h), and every ACCOUNTANT_ALERT_MS it raises the alerts of
 * accountant_alerts.c.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "aggregate.h"
#include "alerts.h"
#include "clock.h"
#include "export.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "outbox.h"
#include "retention.h"
#include "status.h"
#include "timeparse.h"
#include "tollgated.h"

#define ACCOUNTANT_AGG_MS	200
/*
 * Records per follow.  A follow reads and sums them without a lock, then holds
 * LMDB's single writer lock, which workers' appends wait for, only to write the
 * rows they touched (aggregate_follow() bounds those).  A follow that counted
 * anything is followed by the next at once, until one finds nothing.
 */
#define ACCOUNTANT_AGG_BATCH	4096
/* Changed days exported per turn: more wait for the next turn, a moment later. */
#define ACCOUNTANT_EXPORT_DAYS	16
/* Pruning: looked at hourly, deleted in batches as short as the aggregate ones. */
#define ACCOUNTANT_PRUNE_S	3600
#define ACCOUNTANT_PRUNE_BATCH	5000
#define ACCOUNTANT_ALERT_MS	1000
#define ACCOUNTANT_NICE		10
/* Kept up this long: the accountant steps down to SCHED_IDLE (see pace()). */
#define ACCOUNTANT_IDLE_AFTER_S	2
/*
 * ...unless records came faster than this in the last second: a gateway that
 * busy keeps its CPUs busy, and at SCHED_IDLE the accountant would not run at
 * all, not even to see that it has fallen behind.
 */
#define ACCOUNTANT_IDLE_RATE	8000
/*
 * More than a batch behind for this long at SCHED_IDLE: it is being starved.
 * Short, so that under a burst the aggregates stay within a second of the
 * ledger (a quarter of a second behind, then the catching up).
 */
#define ACCOUNTANT_BEHIND_MS	250
#define ACCOUNTANT_ALERT_BATCH	5000

struct accountant {
	struct event_base	*base;
	struct ledger		*ledger;
	struct outbox		*outbox;
	struct keys		*keys;
	struct event		*sync_ev, *health_ev, *agg_ev, *export_ev, *prune_ev, *alert_ev;
	struct event		*sig_term, *sig_int, *sig_usr1;
	struct export_day	 day;		/* reused by each export */
	struct buf		 body;
	size_t			 pruned;	/* records deleted by this round of pruning */
	int			 agg_failing;	/* the last follow failed: said once */
	int			 idle;		/* running at SCHED_IDLE */
	int64_t			 kept_up_since;	/* ns; 0: behind */
	int64_t			 behind_since;	/* ns; 0: keeping up */
	int64_t			 second_ns;	/* the second being counted... */
	size_t			 this_second;	/* ...its records so far */
	size_t			 last_second;	/* and the whole second before */
	int			 exit_status;
	char			 host[256];
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
 * The accountant's priority.  Its work can wait a moment and a client's
 * cannot: at niceness 10 it still took the CPU from a worker often enough
 * to add about 0.3 ms to p99 at c=1, so once it has kept up for a while,
 * with records arriving slower than ACCOUNTANT_IDLE_RATE, it runs at
 * SCHED_IDLE, which the kernel preempts as soon as a worker wakes.
 * A gateway that keeps its CPUs busy would then starve it: if it falls
 * behind, it asks for its normal priority back, and where the kernel refuses
 * that to an unprivileged process (RLIMIT_NICE) it exits with
 * ACCOUNTANT_EXIT_BEHIND for the master to start a new one, which begins at
 * normal priority.  Nothing is lost either way: the ledger holds the records.
 */
static void
pace(size_t done)
{
	int64_t now = clock_now_ns();
	struct sched_param sp = { 0 };
	uint64_t lag = 0;

	if (accountant.exit_status != 0)
		return;	/* on its way out */
	if (now - accountant.second_ns >= 1000000000) {
		accountant.last_second = now - accountant.second_ns < 2000000000 ?
		    accountant.this_second : 0;
		accountant.this_second = 0;
		accountant.second_ns = now;
	}
	accountant.this_second += done;
	/* a follow that found nothing has caught up */
	if (done > 0 && aggregate_lag(accountant.ledger, &lag) < 0)
		return;
	if (!accountant.agg_failing)	/* for tollctl status */
		status_set_lag(&heritage.status->slot[heritage.slot % STATUS_SLOTS], lag, now);
	if (lag <= ACCOUNTANT_AGG_BATCH) {
		accountant.behind_since = 0;
		if (accountant.kept_up_since == 0)
			accountant.kept_up_since = now;
		if (!accountant.idle && accountant.last_second < ACCOUNTANT_IDLE_RATE &&
		    accountant.this_second < ACCOUNTANT_IDLE_RATE &&
		    now - accountant.kept_up_since >= (int64_t)ACCOUNTANT_IDLE_AFTER_S * 1000000000 &&
		    sched_setscheduler(0, SCHED_IDLE, &sp) == 0) {
			accountant.idle = 1;
			log_debug("accountant: kept up for %d s: running at SCHED_IDLE",
			    ACCOUNTANT_IDLE_AFTER_S);
		}
		return;
	}
	accountant.kept_up_since = 0;
	if (accountant.behind_since == 0)
		accountant.behind_since = now;
	if (!accountant.idle ||
	    now - accountant.behind_since < (int64_t)ACCOUNTANT_BEHIND_MS * 1000000)
		return;
	if (sched_setscheduler(0, SCHED_OTHER, &sp) == 0) {
		accountant.idle = 0;
		log_info("accountant: %llu records behind: back to normal priority",
		    (unsigned long long)lag);
		return;
	}
	log_info("accountant: %llu records behind and not allowed its normal priority back "
	    "(%s): restarting to catch up", (unsigned long long)lag, strerror(errno));
	accountant.exit_status = ACCOUNTANT_EXIT_BEHIND;
	event_base_loopexit(accountant.base, NULL);
}

/*
 * Folds up to ACCOUNTANT_AGG_BATCH new records into the aggregates.  Having
 * found some means there may be more: the next follow runs as soon as the
 * loop has served its other events, so a long catch-up never holds up the sync.
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
	pace(done);
	event_add(accountant.agg_ev, done > 0 ? &now : &tv);
}

/* Exports one day: its files, and its document queued for export.url; 0 or -1. */
static int
export_one(int64_t day_ns)
{
	const struct config_tollgate *tg = &heritage.config->tollgate;
	struct outbox_item item = { .kind = OUTBOX_HTTP_POST, .content_type = "application/json" };
	char err[512], label[64], when[40];

	if (export_day_build(accountant.ledger, day_ns, &accountant.day, err, sizeof(err)) < 0 ||
	    (tg->export_dir != NULL &&
	    export_day_write(&accountant.day, tg->export_dir, err, sizeof(err)) < 0))
		goto fail;
	if (tg->export_url == NULL)
		return 0;
	export_day_json(&accountant.day, accountant.host, &accountant.body);
	time_format(day_ns, when, sizeof(when));
	when[10] = '\0';
	snprintf(label, sizeof(label), "export %s", when);
	item.url = tg->export_url;
	item.body = accountant.body.data;
	item.body_len = accountant.body.len;
	item.label = label;
	if (outbox_enqueue(accountant.ledger, &item, NULL, err, sizeof(err)) < 0)
		goto fail;
	outbox_kick(accountant.outbox);
	return 0;
fail:
	log_error("accountant: %s", err);
	return -1;
}

/*
 * Exports the days whose aggregates changed since their last export (a
 * re-rating or a late record of an old day included), and clears their
 * marks; a day that fails keeps its mark and is tried again next time.
 */
static void
on_export(evutil_socket_t fd, short what, void *arg)
{
	int64_t ems = heritage.config->tollgate.export_interval_ms;
	struct timeval interval = { ems / 1000, (ems % 1000) * 1000 }, soon = { 0, 100000 };
	struct agg_dirty days[ACCOUNTANT_EXPORT_DAYS];
	size_t n = 0, i, done = 0;

	(void)fd, (void)what, (void)arg;
	if (aggregate_dirty_days(accountant.ledger, days, ACCOUNTANT_EXPORT_DAYS, &n) < 0)
		log_error("accountant: cannot read the days to export");
	for (i = 0; i < n; i++)
		if (export_one(days[i].day_ns) == 0)
			days[done++] = days[i];
	if (aggregate_clear_dirty(accountant.ledger, days, done) < 0)
		log_error("accountant: cannot mark %zu exported day%s", done, done == 1 ? "" : "s");
	event_add(accountant.export_ev, n == ACCOUNTANT_EXPORT_DAYS && done == n ? &soon : &interval);
}

/*
 * Deletes one batch of raw records past ledger.retention; a full batch
 * means more, taken on the next loop turn so syncs and follows go between.
 */
static void
on_prune(evutil_socket_t fd, short what, void *arg)
{
	const struct config_tollgate *tg = &heritage.config->tollgate;
	struct timeval later = { ACCOUNTANT_PRUNE_S, 0 }, now = { 0, 0 };
	int64_t cutoff = clock_now_ns() - tg->ledger_retention_ms * 1000000;	/* capped by config */
	struct prune_result res;
	char err[512], when[40];

	(void)fd, (void)what, (void)arg;
	if (retention_prune(accountant.ledger, cutoff,
	    tg->export_dir != NULL || tg->export_url != NULL,
	    tg->postgres_dsn != NULL ? SHIPPER_FOLLOWER : NULL, ACCOUNTANT_PRUNE_BATCH, &res,
	    err, sizeof(err)) < 0)
		log_error("accountant: %s", err);
	accountant.pruned += res.records;
	if (res.more) {
		event_add(accountant.prune_ev, &now);
		return;
	}
	if (accountant.pruned > 0) {
		time_format(res.horizon_ns, when, sizeof(when));
		log_info("accountant: pruned %zu record%s that ended before %s (ledger.retention)",
		    accountant.pruned, accountant.pruned == 1 ? "" : "s", when);
	}
	accountant.pruned = 0;
	event_add(accountant.prune_ev, &later);
}

static void
on_alerts(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, ACCOUNTANT_ALERT_MS * 1000 }, now = { 0, 0 };
	char err[512];
	size_t done = 0;

	(void)fd, (void)what, (void)arg;
	if (alerts_follow(accountant.ledger, &heritage.config->tollgate, accountant.host,
	    ACCOUNTANT_ALERT_BATCH, &done, err, sizeof(err)) < 0) {
		log_error("accountant: %s", err);
		done = 0;	/* the next try waits the interval */
	}
	if (alerts_cost_mismatches(accountant.ledger, &heritage.config->tollgate, accountant.host,
	    clock_now_ns(), err, sizeof(err)) < 0)
		log_error("accountant: %s", err);
	alerts_check_budgets(accountant.ledger, accountant.keys, accountant.host);
	alerts_daily_summary(accountant.ledger, accountant.host);
	if (accountant.outbox != NULL)
		outbox_kick(accountant.outbox);
	event_add(accountant.alert_ev, done == ACCOUNTANT_ALERT_BATCH ? &now : &tv);
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
	/* 0: as often as the loop can (libevent never re-arms a persistent timer of 0) */
	struct timeval sync_tv = { ms / 1000, ms > 0 ? (ms % 1000) * 1000 : 1000 },
	    health_tv = { 5, 0 };
	char err[512];

	log_set_prefix("accountant");
	/* below the workers from the start; lower still once it keeps up (pace()) */
	if (setpriority(PRIO_PROCESS, 0, ACCOUNTANT_NICE) < 0)
		log_warn("accountant: cannot lower its priority: %s", strerror(errno));
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
	snprintf(accountant.host, sizeof(accountant.host), "%s", config_host_id(&c->tollgate));
	if ((c->tollgate.export_url != NULL || c->tollgate.nalerts_channels > 0) &&
	    outbox_start(accountant.base, accountant.ledger, NULL, &accountant.outbox,
	    err, sizeof(err)) < 0)
		fatal("accountant: %s", err);
	if (keys_open(accountant.ledger, &accountant.keys, err, sizeof(err)) < 0)
		log_error("accountant: %s (keys' budgets raise no alerts)", err);
	accountant.alert_ev = event_new(accountant.base, -1, 0, on_alerts, NULL);
	if (c->tollgate.export_dir != NULL || c->tollgate.export_url != NULL) {
		int64_t ems = c->tollgate.export_interval_ms;
		struct timeval export_tv = { ems / 1000, (ems % 1000) * 1000 };

		accountant.export_ev = event_new(accountant.base, -1, 0, on_export, NULL);
		event_add(accountant.export_ev, &export_tv);
	}
	if (c->tollgate.ledger_retention_ms > 0) {
		struct timeval first = { 5, 0 };	/* after the first catch-up and export */

		accountant.prune_ev = event_new(accountant.base, -1, 0, on_prune, NULL);
		event_add(accountant.prune_ev, &first);
	}
	on_health(-1, 0, NULL);
	on_aggregate(-1, 0, NULL);
	on_alerts(-1, 0, NULL);
	event_base_dispatch(accountant.base);
	/* workers have flushed by now (the master stops them first): count and sync the last */
	on_aggregate(-1, 0, NULL);
	if (accountant.export_ev != NULL)
		on_export(-1, 0, NULL);
	outbox_free(accountant.outbox);
	keys_close(accountant.keys);
	export_day_release(&accountant.day);
	buf_release(&accountant.body);
	ledger_sync(accountant.ledger);
	ledger_close(accountant.ledger);
	return accountant.exit_status;
}
