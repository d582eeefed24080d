/*
 * Where virtual keys are kept: a map from a key's hash (the SHA-256 of its
 * secret) to its encoded value (keys.c's layout), read and changed in
 * transactions.  keys.c holds the rules (aliases, checks, the encoding);
 * a backend behind this table holds the bytes, the way budget.h's
 * budget_store_ops hides where counters live.
 *
 * The backend is LMDB, in the ledger (keystore_lmdb.c): workers read it per
 * request, so it must answer from this host without a round trip.  With
 * PostgreSQL configured the fleet's copy is kept there by the shipper,
 * through keys_each_stored() and keys_put_stored(), and each host serves from
 * its own store: a host that cannot reach the database keeps its keys.
 */
#ifndef TOLLGATE_KEYSTORE_H
#define TOLLGATE_KEYSTORE_H

#include <stddef.h>

/* Besides 0 and -1 (with err): */
#define KEYSTORE_ABSENT	1	/* get: no such key; begin (reading): nothing stored yet */
#define KEYSTORE_EXISTS	2	/* put with only_new: the hash is taken */
#define KEYSTORE_FULL	3	/* put, commit: no room; grow() and run the change again */

struct keystore;
struct keystore_txn;

/* Each stored entry: nonzero stops the walk. */
typedef int (*keystore_each_fn)(void *arg, const unsigned char *hash, const void *value,
    size_t len);

struct keystore_ops {
	/* One transaction at a time per store; a reading one sees one moment of the store. */
	int	(*begin)(struct keystore *s, int write, struct keystore_txn **t, char *err,
		    size_t errlen);
	/* *value stays valid until the transaction ends. */
	int	(*get)(struct keystore_txn *t, const unsigned char *hash, const void **value,
		    size_t *len, char *err, size_t errlen);
	int	(*put)(struct keystore_txn *t, const unsigned char *hash, const void *value,
		    size_t len, int only_new, char *err, size_t errlen);
	/* In hash order. */
	int	(*each)(struct keystore_txn *t, keystore_each_fn fn, void *arg, char *err,
		    size_t errlen);
	/* Commits a change durably (synced); ends a reading transaction.  The transaction is gone. */
	int	(*commit)(struct keystore_txn *t, char *err, size_t errlen);
	void	(*abort)(struct keystore_txn *t);
	int	(*grow)(struct keystore *s);
	void	(*close)(struct keystore *s);
};

struct keystore {
	const struct keystore_ops	*ops;
};

struct ledger;
/* The keys of ledger l (created when l is open for writing): 0, or -1 with err. */
int keystore_lmdb_open(struct ledger *l, struct keystore **out, char *err, size_t errlen);

#endif
