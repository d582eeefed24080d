/*
 * Retention: the accountant deletes raw records older than
 * ledger.retention, but only records the aggregates have counted and, when
 * exports are configured, only days exported since they last changed.  The
 * aggregates of pruned days stay for ever; `tollctl aggregate --rebuild`
 * keeps them (lib/aggregate.h).
 *
 * Records are cut at UTC day starts, so that a day is either whole in the raw
 * records or gone from them; the first day still whole is the pruning
 * horizon, kept in meta under AGG_META_PRUNED.
 */
#ifndef TOLLGATE_RETENTION_H
#define TOLLGATE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

struct ledger;

struct prune_result {
	size_t		records;	/* raw records deleted */
	size_t		journal;	/* journal entries deleted */
	int64_t		horizon_ns;	/* records that ended before it are gone */
	int		more;		/* the batch was full: call again */
};

/*
 * Deletes, in one write transaction, up to max records that ended before
 * cutoff_ns (taken down to its UTC day start) and before the first day with
 * records not yet counted by the aggregates, and, when exported is set,
 * before the first day not exported since it changed; then the journal
 * entries of deleted records (the newest entry always stays: it numbers the
 * next commit).  follower: a journal follower (ledger_follow()) whose records
 * must stay until it has passed them too (the shipper's), or NULL; one with
 * no position yet keeps them all.  l is LEDGER_WRITE.  0 with *res, or -1
 * with err.
 */
int retention_prune(struct ledger *l, int64_t cutoff_ns, int exported, const char *follower,
    size_t max,
    struct prune_result *res, char *err, size_t errlen);

#endif
