/*
 * Spend aggregates: running sums of the ledger's records per UTC day and per
 * UTC hour, kept in the ledger's own LMDB environment so that a report never
 * walks the raw records.  The accountant follows the ledger
 * (aggregate_follow()); tollctl reads (aggregate_scan()) and rebuilds.
 *
 * Databases:
 *   "agg_day", "agg_hour"  key: bucket start, unix ns, 8 bytes big endian,
 *       then the dimensions as NUL-terminated strings in this order: key,
 *       user, team, customer, tag slot, model, provider, deployment, priced_as.
 *       User, team, customer and tag are cut at AGG_DIM_MAX bytes so that a
 *       key stays under LMDB's 511-byte limit.
 *       value: struct agg_value, host byte order (the environment never leaves
 *       the machine that wrote it; "agg_layout" in meta says its version).
 *   "meta" "agg_pos"  the 16-byte ledger key of the last record counted.
 *
 * The model dimensions.  Model is the public model name the client asked
 * for (the record's model_requested: a model_name of model_list), which
 * neither a reorder of model_list nor a reload changes; a record without
 * one (written by something else than the gateway) falls back to its
 * deployment, else its price entry.  Deployment is the provider's model
 * (litellm_params.model after the provider prefix), which a provider's
 * usage export names; priced_as the price-map entry the request was priced
 * as ("" unpriced).
 *
 * Long names.  Model, deployment and priced_as are kept whole unless, with
 * the other dimensions near their own limits, the key would pass 511 bytes:
 * then the longest of the three are cut first, never below AGG_MODEL_MIN
 * bytes each, and a filter must name the value as cut.  The model-day
 * rollup, without key, user, team, customer and tags, always keeps them whole.
 *
 * Layouts.  The follow that finds aggregates of the previous layout (4: one
 * model dimension, the price entry when there was one) resets them and
 * counts the records again, as `tollctl aggregate --rebuild` does; rows of
 * days whose records retention has pruned keep their old model name, with
 * deployment and priced_as "".
 *
 * The tag rule.  A record adds one row with the tag slot "\x01*" (AGG_TAG_ALL:
 * the tag dimension collapsed), and one row with slot "#tag" for each
 * distinct tag of its comma-separated list ("#" alone for a record without
 * tags).  Totals not grouped by tag read only the AGG_TAG_ALL rows and are
 * exact; totals grouped by tag read only the "#" rows, so each tag's line is
 * exact, but a record with several tags is in several lines and the lines
 * do not add up to the total.
 *
 * Late records.  The follow reads the ledger's journal, which lists records
 * in commit order, not the records themselves, which sort by end time: a
 * record committed late (a retry, a replayed spill) is counted when it is
 * committed, exactly once.
 *
 * Hourly rows are kept for records that ended within AGG_HOUR_KEEP_NS of the
 * follow; older hourly rows are pruned.  Daily rows are kept for ever.
 */
#ifndef TOLLGATE_AGGREGATE_H
#define TOLLGATE_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "ledger.h"
#include "record.h"

#define AGG_DIM_MAX		64
#define AGG_MODEL_MIN		45	/* bytes of model, deployment or priced_as a key keeps at least */

/*
 * The tables: every dimension per UTC day, the same per hour (last 7 days),
 * the model-day rollup (day x model x provider x deployment x priced_as
 * only, tags collapsed), which
 * reports by model, provider and day read instead of the wide day rows, and
 * the one-dimension rollups "agg_dday" (day x key, day x user, day x team,
 * day x customer, day x tag: key bucket, the enum agg_dim number as one byte,
 * the value and a NUL), which reports by one of those read.
 */
enum agg_table {
	AGG_TABLE_DAY, AGG_TABLE_HOUR, AGG_TABLE_MODEL_DAY, AGG_TABLE_DIM_DAY, AGG_TABLE_COUNT
};
#define AGG_TAG_ALL		"\x01*"
#define AGG_HOUR_KEEP_NS	(7LL * 86400 * 1000000000)

enum agg_dim {
	AGG_DIM_KEY, AGG_DIM_USER, AGG_DIM_TEAM, AGG_DIM_CUSTOMER, AGG_DIM_TAG,
	AGG_DIM_MODEL, AGG_DIM_PROVIDER, AGG_DIM_DEPLOYMENT, AGG_DIM_PRICED_AS, AGG_DIM_COUNT
};

struct agg_value {
	int64_t		requests;
	int64_t		errors;		/* status >= 400, or the upstream failed */
	int64_t		tokens[RECORD_TOKEN_COUNT];
	__int128	cost[COST_PART_COUNT];	/* picodollars */
	__int128	total;
};

/*
 * One row: the bucket, the dimensions (tag without its slot marker), the sums.
 * A row of AGG_TABLE_DIM_DAY has only one dimension, only_dim, set (the
 * others ""); it is a tag row when that is AGG_DIM_TAG, else all_tags.
 */
struct agg_row {
	int64_t			 bucket_ns;
	int			 only_dim;	/* -1: every dimension */
	int			 all_tags;	/* an AGG_TAG_ALL row */
	const char		*dim[AGG_DIM_COUNT];
	const struct agg_value	*v;
};

/* Whether r counts as an error, and the model it is aggregated under (see "The model dimensions"). */
int aggregate_is_error(const struct record *r);
const char *aggregate_model(const struct record *r);

/* Adds r into v; adds the sums v into to. */
void aggregate_add(struct agg_value *v, const struct record *r);
void aggregate_value_add(struct agg_value *to, const struct agg_value *v);

/*
 * Counts the records committed after the stored position (in commit order,
 * at most max_records, fewer when they touch many rows or days, stopping at
 * the first that ended at or after before_ns: pass INT64_MAX for all).  They
 * are read under a read transaction; the sums are written with the new
 * position in one write transaction: a crash loses the whole of it or
 * nothing.  l is LEDGER_WRITE.  Returns 0 with *done records counted (0:
 * caught up, or another writer is counting them), or -1 with err.
 */
int aggregate_follow(struct ledger *l, int64_t before_ns, size_t max_records, size_t *done,
    char *err, size_t errlen);

/*
 * Drops the aggregates, the position and the layout mark, in one
 * transaction; the next follow starts from the first record.  On a pruned
 * ledger (lib/retention.h) the rows of the days before the pruning horizon
 * are kept, since their raw records are gone, and the follow does not count
 * their records twice.  0 or -1 with err.
 */
int aggregate_reset(struct ledger *l, char *err, size_t errlen);

/*
 * Changed days.  The follow marks the UTC day of every record it counts in
 * "agg_dirty" (key: day start, 8 bytes big endian; value: the journal
 * position that changed it).  The export reads the marks, writes those days,
 * then clears each mark that did not change meanwhile.  Both return 0 or -1.
 */
struct agg_dirty {
	int64_t		day_ns;
	uint64_t	mark;
};
int aggregate_dirty_days(struct ledger *l, struct agg_dirty *days, size_t max, size_t *n);
int aggregate_clear_dirty(struct ledger *l, const struct agg_dirty *days, size_t n);

/*
 * For lib/retention.c, inside its write transaction (LMDB rcs): the follow's
 * journal position (0: none), the pruning horizon stored under
 * AGG_META_PRUNED in meta (0: never pruned), and the first day not exported
 * since it changed (INT64_MAX: none).
 */
#define AGG_META_PRUNED		"pruned_before"
/* The pruning horizon in a read transaction of its own: 0 or -1. */
int aggregate_pruned(struct ledger *l, int64_t *horizon);
struct MDB_txn;
int aggregate_txn_position(struct MDB_txn *txn, struct ledger *l, uint64_t *seq);
int aggregate_txn_pruned(struct MDB_txn *txn, struct ledger *l, int64_t *horizon);
int aggregate_txn_first_dirty(struct MDB_txn *txn, int64_t *day);

/*
 * How many committed records the aggregates have not counted yet (the
 * accountant's lag), read in a read-only transaction.  0, or -1.
 */
int aggregate_lag(struct ledger *l, uint64_t *pending);

/*
 * Visits the rows of one table (by day, by hour, or the model-day rollup) whose bucket
 * starts in [since_ns, until_ns), in one read transaction; fn must not call
 * into the ledger and stops the scan by returning non-zero.  Returns 0, 1
 * when there are no aggregates yet, or -1 with err.
 */
typedef int (*aggregate_visit_fn)(void *arg, const struct agg_row *row);
int aggregate_scan(struct ledger *l, enum agg_table table, int64_t since_ns, int64_t until_ns,
    aggregate_visit_fn fn, void *arg, char *err, size_t errlen);

/*
 * The same over the one-dimension rollup, visiting only the rows of dim (key,
 * user, team, customer or tag): the other dimensions' rows are skipped by
 * seeking, not read.
 */
int aggregate_scan_dim(struct ledger *l, int dim, int64_t since_ns, int64_t until_ns,
    aggregate_visit_fn fn, void *arg, char *err, size_t errlen);

#endif
