/*
 * The LMDB ledger of spend records.  Workers append (one write transaction per
 * batch: group commit), the accountant keeps the environment healthy, tollctl
 * reads.  An environment is opened after fork, never inherited (LMDB forbids
 * using one across fork).
 *
 * Records live in the "records" database keyed by 16 bytes: the end time in
 * unix nanoseconds and the worker number and a per-process sequence, big
 * endian, so keys sort by time and never collide.  The environment is opened
 * with MDB_NOSYNC: a commit reaches the OS (surviving kill -9 of any process)
 * and ledger_sync(), called every ledger.sync_interval by the accountant,
 * puts it on the disk.
 */
#ifndef TOLLGATE_LEDGER_H
#define TOLLGATE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct ledger;

enum ledger_mode { LEDGER_READ, LEDGER_WRITE };

/*
 * Opens (creating the directory and environment for LEDGER_WRITE) the ledger
 * at dir with a map of map_size bytes (0: the size the environment has, the
 * usual choice of a reader).  worker is stamped into keys.  Call it after
 * fork, in the process that uses the ledger; use the ledger from one thread,
 * and open a directory once per process (LMDB's rule: closing a second
 * handle would drop the first one's locks).  Returns 0 and *out, or -1 with
 * "cannot open ledger 'dir': why" in err.
 */
int ledger_open(const char *dir, enum ledger_mode mode, size_t map_size,
    uint32_t worker, struct ledger **out, char *err, size_t errlen);
/* Closes l (NULL is fine); in a child that inherited l, only frees the memory. */
void ledger_close(struct ledger *l);

/*
 * Appends n records in one transaction.  On MDB_MAP_FULL the map is grown
 * (doubling, up to 64 times the configured size) and the write retried.  When
 * the records still cannot be written, they are appended to the spill file
 * (dir/spill.msgpack, fsync'd) and replayed into the ledger by
 * ledger_replay_spill().  Returns 0 (committed), 1 (spilled: safe, not yet in
 * the ledger; err says why, for the log), or -1 (neither: err says why; the
 * caller must keep them).
 */
int ledger_append(struct ledger *l, const struct record *recs, size_t n,
    char *err, size_t errlen);

/*
 * Moves spilled records into the ledger, flagged RECORD_FLAG_REPLAYED, under
 * the keys they were spilled with: a record already there is not added twice.
 * Returns how many were added, or -1 with err (the spill file is kept).
 */
int ledger_replay_spill(struct ledger *l, char *err, size_t errlen);

/* Flushes committed data to disk (mdb_env_sync). */
int ledger_sync(struct ledger *l);

/* Clears reader slots of dead processes; returns how many, or -1. */
int ledger_reader_check(struct ledger *l);

/*
 * Visits up to limit records, newest first; stops early when fn returns
 * non-zero.  Records this build cannot decode (a newer schema) are skipped.
 * fn runs inside a read transaction: it should be quick and must not call
 * into the ledger.  Returns 0, or -1.
 */
typedef int (*ledger_visit_fn)(void *arg, const struct record *r);
int ledger_newest(struct ledger *l, size_t limit, ledger_visit_fn fn, void *arg);

/*
 * Visits the records that ended in [since_ns, until_ns), oldest first, in one
 * read transaction; stops early when fn returns non-zero.  0 or -1.
 */
int ledger_range(struct ledger *l, int64_t since_ns, int64_t until_ns, ledger_visit_fn fn,
    void *arg);

/*
 * Visits up to limit records that ended in [since_ns, until_ns), newest
 * first, in one read transaction; stops early when fn returns non-zero.
 * limit bounds the time the transaction stays open.  0 or -1.
 */
int ledger_range_newest(struct ledger *l, int64_t since_ns, int64_t until_ns, size_t limit,
    ledger_visit_fn fn, void *arg);
/* Number of records, and the bytes in use and the map size; 0 or -1. */
int ledger_stat(struct ledger *l, uint64_t *records, uint64_t *used, uint64_t *map_size);

/* Non-zero while the last append failed or spilled, or the spill file holds
 * records not yet replayed (for /health). */
int ledger_degraded(const struct ledger *l);

/*
 * For modules that keep their own databases in the ledger's environment
 * (lib/aggregate.c).  ledger_txn_begin() begins a transaction (write: only
 * through a ledger opened LEDGER_WRITE by this process), adopting a map
 * another process has grown; the caller commits or aborts it and must not
 * return with it open.  Returns 0 or an LMDB error (-1: wrong process or
 * mode).  ledger_records_dbi() is the "records" database, ledger_meta_dbi()
 * "meta".  ledger_grow() doubles the map after MDB_MAP_FULL, with no
 * transaction open: 0, or -1 when it may grow no more.
 */
struct MDB_txn;
int ledger_txn_begin(struct ledger *l, int write, struct MDB_txn **txn);
unsigned ledger_records_dbi(const struct ledger *l);
unsigned ledger_meta_dbi(const struct ledger *l);
/*
 * The "journal" database: every committed record's 16-byte key under an
 * 8-byte big-endian sequence, in commit order (LMDB's single writer makes the
 * order total).  Followers read it instead of the records, which sort by end
 * time, so a record committed late is never passed over.
 */
unsigned ledger_journal_dbi(const struct ledger *l);
int ledger_grow(struct ledger *l);
/*
 * Followers of the journal other than the aggregates (the shipper), each
 * with its position under a name of its own in "meta".  ledger_follow()
 * visits, in one read transaction, up to max records committed after the
 * position, in commit order, fn(arg, record, its journal sequence) each;
 * records pruned since, or of a newer schema, are passed over; fn returning
 * non-zero stops before that record.  *last: the sequence of the last entry
 * visited or passed over (the position, when none), for
 * ledger_follow_commit(), which stores it; *behind (NULL: not wanted): the
 * journal entries after *last.  0 or -1.
 * ledger_follow_txn_position() reads a position inside a transaction
 * (lib/retention.c): *found 0 when the follower has none.  An LMDB rc.
 */
typedef int (*ledger_follow_fn)(void *arg, const struct record *r, uint64_t seq);
int ledger_follow(struct ledger *l, const char *name, size_t max, ledger_follow_fn fn, void *arg,
    uint64_t *last, uint64_t *behind);
int ledger_follow_commit(struct ledger *l, const char *name, uint64_t seq);
int ledger_follow_txn_position(struct MDB_txn *txn, struct ledger *l, const char *name,
    uint64_t *seq, int *found);
const char *ledger_dir(const struct ledger *l);

#endif
