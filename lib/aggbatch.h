/*
 * A batch of aggregate row deltas, for lib/aggregate.c: the rows a follow
 * transaction touches are summed in memory first and each is then read and
 * written once, in key order.  Rollup rows (a model's day, a key's day) are
 * touched by thousands of records in a batch and cost one LMDB update; the
 * key order keeps the updates of the wide rows on neighbouring pages.
 */
#ifndef TOLLGATE_AGGBATCH_H
#define TOLLGATE_AGGBATCH_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"

struct aggbatch_entry;
struct aggbatch_slot;

struct aggbatch {
	struct aggbatch_slot	*index;		/* open addressing, cap a power of two */
	size_t			 cap;
	struct aggbatch_entry	*entries;	/* the rows, in the order first added */
	size_t			 n, ecap;
	unsigned char		*keys;		/* the keys' bytes, back to back */
	size_t			 klen, kcap;
};

/* Adds r into the row key (len bytes) of table; 0, or -1 on ENOMEM. */
int aggbatch_add(struct aggbatch *b, int table, const unsigned char *key, size_t len,
    const struct record *r);
/* The same with sums already made. */
int aggbatch_add_value(struct aggbatch *b, int table, const unsigned char *key, size_t len,
    const struct agg_value *v);
/* Calls fn for each row, in the order first added, until one returns non-zero (returned). */
int aggbatch_each(const struct aggbatch *b, int (*fn)(void *arg, int table,
    const unsigned char *key, size_t len, const struct agg_value *v), void *arg);

/*
 * Writes every row into its table (dbi[table]), adding to what is stored, in
 * key order; then empties the batch (its memory is kept for the next).  An
 * LMDB rc.
 */
struct MDB_txn;
int aggbatch_flush(struct aggbatch *b, struct MDB_txn *txn, const unsigned *dbi);

/* Empties the batch without writing it (its transaction was aborted). */
void aggbatch_clear(struct aggbatch *b);
void aggbatch_release(struct aggbatch *b);

#endif
