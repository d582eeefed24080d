/*
 * Alerts, raised by the accountant: a budget crossing a threshold or its soft
 * budget, an unpriced model or a usage anomaly seen for the first time, the
 * cost mismatches of a model in a window, and a daily spend summary.  Each
 * alert has an id that says when it is the same alert ("budget|t|research|
 * <window start>|80"); the "alerts" database of the ledger's environment
 * remembers the ids that fired, so an alert fires once, even across restarts.  Firing queues one outbox item per configured
 * channel (lib/outbox.h: retried with back-off, failures kept for `tollctl
 * alerts`) and logs the alert: as a warning, or at info level when it is
 * informational (the daily summary crosses no threshold).
 *
 * Delivery is at least once: the items are queued, then the id is marked; a
 * process that dies in between fires the alert again when it restarts.
 */
#ifndef TOLLGATE_ALERTS_H
#define TOLLGATE_ALERTS_H

#include <stddef.h>
#include <stdint.h>

struct ledger;
struct config_tollgate;

struct alert {
	const char	*id;		/* what makes it the same alert */
	const char	*kind;		/* "budget_threshold", "soft_budget", "unpriced_model",
					   "usage_anomaly", "cost_mismatch", "daily_summary" */
	const char	*subject;	/* one line */
	const char	*text;		/* the whole message, plain text */
	const char	*fields;	/* JSON members for webhooks ("\"a\": 1, ..."), or NULL */
	int		 info;		/* informational: logged at info level, not as a
					   warning (sent the same) */
};

/*
 * Fires a unless its id has fired: queues it for every channel of tg and
 * marks the id.  l is LEDGER_WRITE.  Returns 0 (fired now), 1 (had fired),
 * or -1 with err.
 */
int alerts_fire(struct ledger *l, const struct config_tollgate *tg, const char *host,
    const struct alert *a, char *err, size_t errlen);

/*
 * Records an event under id once, like an alert but sent nowhere (kept for
 * `tollctl alerts` and logged): a budget window that began.  0 (recorded
 * now), 1 (had been), or -1 with err.
 */
int alerts_note(struct ledger *l, const char *id, const char *kind, const char *subject,
    char *err, size_t errlen);

/*
 * When the gateway of this ledger began, in unix ns: stored at the first call
 * (so a restart keeps it) as the earlier of now and the end of the ledger's
 * oldest record (a ledger written before this was stored, or records put
 * there first).  A daily summary is due only for a day that ended after it.
 * l is LEDGER_WRITE.  0 and *since, or -1 with err.
 */
int alerts_since(struct ledger *l, int64_t now, int64_t *since, char *err, size_t errlen);

/*
 * Visits the alerts that fired, oldest id first (ids sort by kind); fn gets
 * the id, when it fired, its kind and subject.  0, or -1 with err.
 */
typedef int (*alerts_visit_fn)(void *arg, const char *id, int64_t fired_ns, const char *kind,
    const char *subject);
int alerts_scan(struct ledger *l, alerts_visit_fn fn, void *arg, char *err, size_t errlen);

/*
 * Reads the records committed since the last call (the first call starts at
 * the end of the journal: history raises nothing), at most max, and fires
 * "unpriced|MODEL" and "anomaly|FLAG|MODEL" for flags seen for the first
 * time.  *done: records read.  0, or -1 with err.
 */
int alerts_follow(struct ledger *l, const struct config_tollgate *tg, const char *host,
    size_t max, size_t *done, char *err, size_t errlen);

/*
 * Looks at the windows of tg->alerts_cost_mismatch_window_ms (counted from
 * the epoch, so an hour is a UTC hour) that closed since the last call, a
 * grace period after their end for the records still on their way, and
 * fires "mismatch|MODEL|<window start>" (kind "cost_mismatch") for each model
 * whose records that ended in one were flagged cost_mismatch: one alert per
 * model per window, with how many and tollgate's and the provider's totals
 * of them.  The model is the price-map entry, as in tollctl reconcile
 * --provider-cost.  The first call starts at the window holding now (history
 * raises nothing); a record written after its window was looked at (replayed
 * from the spill file) raises none.  l is LEDGER_WRITE.  0, or -1 with err
 * (the windows are looked at again next time; what fired does not fire twice).
 */
int alerts_cost_mismatches(struct ledger *l, const struct config_tollgate *tg, const char *host,
    int64_t now, char *err, size_t errlen);

#endif
