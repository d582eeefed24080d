/*
 * Pruning of old raw records (see retention.h), run by the accountant.
 *
 * Deleting frees pages for LMDB to reuse; the file does not shrink, it stops
 * growing.  A batch holds the single writer lock that workers' appends wait
 * for, so the caller keeps batches small and runs them one loop turn apart.
 */
#include <errno.h>
#include <string.h>

#include <lmdb.h>

#include "aggregate.h"
#include "bytes.h"
#include "ledger.h"
#include "log.h"
#include "retention.h"
#include "timeparse.h"

/* Past this many uncounted records, the accountant is catching up: prune later. */
#define RETENTION_MAX_LAG	100000

/*
 * Lowers *cutoff below every record the aggregates have not counted yet (the
 * journal after their position): those must stay until they are counted.
 * 1 when there are too many to look at, else 0; or an LMDB rc.
 */
static int
below_uncounted(struct ledger *l, MDB_txn *txn, uint64_t pos, int64_t *cutoff)
{
	unsigned char next[8];
	MDB_cursor *cur;
	MDB_val k = { sizeof(next), next }, v;
	size_t n = 0;
	int rc;

	bytes_put_be64(next, pos + 1);
	if ((rc = mdb_cursor_open(txn, ledger_journal_dbi(l), &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (++n > RETENTION_MAX_LAG) {
			rc = 1;
			break;
		}
		if (v.mv_size >= 8 && (int64_t)bytes_get_be64(v.mv_data) < *cutoff)
			*cutoff = time_day_start((int64_t)bytes_get_be64(v.mv_data));
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Deletes up to max records that ended before cutoff; *reached: none is left. */
static int
delete_records(struct ledger *l, MDB_txn *txn, int64_t cutoff, size_t max,
    struct prune_result *res, int *reached, int64_t *last_end)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*reached = 0;
	*last_end = INT64_MIN;
	if ((rc = mdb_cursor_open(txn, ledger_records_dbi(l), &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size < 8 || (int64_t)bytes_get_be64(k.mv_data) >= cutoff) {
			*reached = 1;
			break;
		}
		if (res->records == max) {
			res->more = 1;
			break;
		}
		*last_end = (int64_t)bytes_get_be64(k.mv_data);
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		res->records++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		*reached = 1;
		rc = 0;
	}
	return rc;
}

/*
 * Deletes journal entries from the oldest while their record is gone and the
 * aggregates have passed them, up to max; never the newest entry.
 */
static int
delete_journal(struct ledger *l, MDB_txn *txn, uint64_t pos, size_t max, struct prune_result *res)
{
	MDB_cursor *cur;
	MDB_val k, v, rk, rv;
	uint64_t last;
	int rc;

	if ((rc = mdb_cursor_open(txn, ledger_journal_dbi(l), &cur)) != 0)
		return rc;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) != 0)
		goto out;
	last = bytes_get_be64(k.mv_data);
	while (res->journal < max && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		uint64_t seq = bytes_get_be64(k.mv_data);

		if (seq >= last || seq > pos)
			break;
		rk = v;
		if ((rc = mdb_get(txn, ledger_records_dbi(l), &rk, &rv)) != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		res->journal++;
	}
out:
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int
prune_txn(struct ledger *l, MDB_txn *txn, int64_t cutoff, int exported, const char *follower,
    size_t max, struct prune_result *res)
{
	int64_t first_dirty, horizon;
	unsigned char hv[8];
	MDB_val k = { sizeof(AGG_META_PRUNED) - 1, (void *)AGG_META_PRUNED }, v = { 8, hv };
	int64_t last_end;
	uint64_t pos;
	int rc, reached;

	cutoff = time_day_start(cutoff);
	if ((rc = aggregate_txn_pruned(txn, l, &horizon)) != 0 ||
	    (rc = aggregate_txn_position(txn, l, &pos)) != 0 ||
	    (rc = aggregate_txn_first_dirty(txn, &first_dirty)) != 0)
		return rc;
	if (follower != NULL) {
		uint64_t fpos;
		int found;

		/* the follower's records stay too until it has passed them */
		if ((rc = ledger_follow_txn_position(txn, l, follower, &fpos, &found)) != 0)
			return rc;
		if (fpos < pos)
			pos = found ? fpos : 0;
	}
	res->horizon_ns = horizon;
	if (exported && first_dirty < cutoff)
		cutoff = first_dirty;
	if ((rc = below_uncounted(l, txn, pos, &cutoff)) != 0)
		return rc == 1 ? 0 : rc;
	if ((rc = delete_records(l, txn, cutoff, max, res, &reached, &last_end)) != 0)
		return rc;
	/*
	 * The horizon moves with every batch, past the day of the last record
	 * deleted: a rebuild between batches keeps that day's rows, which hold
	 * every record of it, deleted or not (the floor skips the rest).
	 */
	if (!reached && last_end != INT64_MIN)
		cutoff = time_day_start(last_end) + 86400LL * 1000000000;
	if ((reached || last_end != INT64_MIN) && cutoff > horizon) {
		bytes_put_be64(hv, (uint64_t)cutoff);
		if ((rc = mdb_put(txn, ledger_meta_dbi(l), &k, &v, 0)) != 0)
			return rc;
		res->horizon_ns = cutoff;
	}
	if ((rc = delete_journal(l, txn, pos, max, res)) != 0)
		return rc;
	if (res->journal == max)
		res->more = 1;
	return 0;
}

int
retention_prune(struct ledger *l, int64_t cutoff_ns, int exported, const char *follower,
    size_t max,
    struct prune_result *res, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc;

	do {
		memset(res, 0, sizeof(*res));
		if ((rc = ledger_txn_begin(l, 1, &txn)) != 0) {
			if (rc < 0)
				rc = EACCES;
			break;
		}
		if ((rc = prune_txn(l, txn, cutoff_ns, exported, follower, max, res)) != 0)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	} while (rc == MDB_MAP_FULL && ledger_grow(l) == 0);
	if (rc == 0)
		return 0;
	memset(res, 0, sizeof(*res));
	log_into(err, errlen, "cannot prune ledger '%s': %s", ledger_dir(l),
	    rc == EACCES ? "not open for writing by this process" : mdb_strerror(rc));
	return -1;
}
