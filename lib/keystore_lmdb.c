/*
 * The key store in LMDB (keystore.h): the "keys" database of the ledger,
 * hash -> encoded key.  A reader of a ledger no writer has given a keys
 * database yet reads it as empty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "keys.h"
#include "keystore.h"
#include "ledger.h"
#include "log.h"

#define KEYS_DB		"keys"

struct keystore_txn {
	struct lmdb_store	*s;
	MDB_txn			*txn;
	int			 write;
	int			 opened;	/* the database handle was opened in this one */
};

struct lmdb_store {
	struct keystore		 base;
	struct ledger		*l;
	MDB_dbi			 dbi;
	int			 have_dbi;	/* dbi is open */
	struct keystore_txn	 t;		/* the one transaction */
};

static void
failed(struct lmdb_store *s, int write, int rc, char *err, size_t errlen)
{
	log_into(err, errlen, "cannot %s the keys of ledger '%s': %s", write ? "change" : "read",
	    ledger_dir(s->l), rc == -1 ? (write ? "opened read-only" : "opened by another process") :
	    mdb_strerror(rc));
}

static int
lmdb_begin(struct keystore *ks, int write, struct keystore_txn **out, char *err, size_t errlen)
{
	struct lmdb_store *s = (struct lmdb_store *)ks;
	struct keystore_txn *t = &s->t;
	int rc;

	t->s = s;
	t->write = write;
	t->opened = 0;
	if ((rc = ledger_txn_begin(s->l, write, &t->txn)) != 0) {
		failed(s, write, rc < 0 ? -1 : rc, err, errlen);
		return -1;
	}
	if (!s->have_dbi) {
		if ((rc = mdb_dbi_open(t->txn, KEYS_DB, write ? MDB_CREATE : 0, &s->dbi)) != 0) {
			mdb_txn_abort(t->txn);
			if (rc == MDB_NOTFOUND && !write)
				return KEYSTORE_ABSENT;
			failed(s, write, rc, err, errlen);
			return -1;
		}
		s->have_dbi = t->opened = 1;
	}
	*out = t;
	return 0;
}

static int
lmdb_get(struct keystore_txn *t, const unsigned char *hash, const void **value, size_t *len,
    char *err, size_t errlen)
{
	MDB_val k = { KEYS_HASH_LEN, (void *)hash }, v;
	int rc;

	if ((rc = mdb_get(t->txn, t->s->dbi, &k, &v)) == MDB_NOTFOUND)
		return KEYSTORE_ABSENT;
	if (rc != 0) {
		failed(t->s, 0, rc, err, errlen);
		return -1;
	}
	*value = v.mv_data;
	*len = v.mv_size;
	return 0;
}

static int
lmdb_put(struct keystore_txn *t, const unsigned char *hash, const void *value, size_t len,
    int only_new, char *err, size_t errlen)
{
	MDB_val k = { KEYS_HASH_LEN, (void *)hash }, v = { len, (void *)value };
	int rc;

	if ((rc = mdb_put(t->txn, t->s->dbi, &k, &v, only_new ? MDB_NOOVERWRITE : 0)) == 0)
		return 0;
	if (rc == MDB_KEYEXIST)
		return KEYSTORE_EXISTS;
	if (rc == MDB_MAP_FULL)
		return KEYSTORE_FULL;
	failed(t->s, 1, rc, err, errlen);
	return -1;
}

static int
lmdb_each(struct keystore_txn *t, keystore_each_fn fn, void *arg, char *err, size_t errlen)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->s->dbi, &cur)) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
			if (k.mv_size == KEYS_HASH_LEN && fn(arg, k.mv_data, v.mv_data, v.mv_size) != 0)
				break;
		mdb_cursor_close(cur);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		failed(t->s, 0, rc, err, errlen);
		return -1;
	}
	return 0;
}

static void
lmdb_abort(struct keystore_txn *t)
{
	/* ending a reader by commit keeps a handle it opened for the next ones */
	if (!t->write && t->opened) {
		if (mdb_txn_commit(t->txn) != 0)
			t->s->have_dbi = 0;
		return;
	}
	mdb_txn_abort(t->txn);
	if (t->opened)
		t->s->have_dbi = 0;	/* an aborted transaction takes the handles it opened along */
}

static int
lmdb_commit(struct keystore_txn *t, char *err, size_t errlen)
{
	int rc;

	if (!t->write) {
		lmdb_abort(t);
		return 0;
	}
	if ((rc = mdb_txn_commit(t->txn)) != 0) {
		if (t->opened)
			t->s->have_dbi = 0;
		if (rc == MDB_MAP_FULL)
			return KEYSTORE_FULL;
		failed(t->s, 1, rc, err, errlen);
		return -1;
	}
	if (ledger_sync(t->s->l) < 0) {
		log_into(err, errlen, "cannot sync ledger '%s'", ledger_dir(t->s->l));
		return -1;
	}
	return 0;
}

static int
lmdb_grow(struct keystore *ks)
{
	return ledger_grow(((struct lmdb_store *)ks)->l);
}

static void
lmdb_close(struct keystore *ks)
{
	free(ks);
}

static const struct keystore_ops lmdb_ops = {
	.begin = lmdb_begin, .get = lmdb_get, .put = lmdb_put, .each = lmdb_each,
	.commit = lmdb_commit, .abort = lmdb_abort, .grow = lmdb_grow, .close = lmdb_close,
};

int
keystore_lmdb_open(struct ledger *l, struct keystore **out, char *err, size_t errlen)
{
	struct lmdb_store *s = calloc(1, sizeof(*s));
	struct keystore_txn *t;
	MDB_txn *probe;
	int rc;

	*out = NULL;
	if (s == NULL) {
		log_into(err, errlen, "cannot open the keys of ledger '%s': %s", ledger_dir(l),
		    strerror(errno));
		return -1;
	}
	s->base.ops = &lmdb_ops;
	s->l = l;
	/*
	 * A writer creates the database, so that readers find it; a reader
	 * finds it, or reads as empty until a writer has.  The probe tells the
	 * two apart: only a writer can begin a write transaction.
	 */
	if (ledger_txn_begin(l, 1, &probe) == 0) {
		mdb_txn_abort(probe);
		do {
			if ((rc = lmdb_begin(&s->base, 1, &t, err, errlen)) == 0)
				rc = lmdb_commit(t, err, errlen);
		} while (rc == KEYSTORE_FULL && ledger_grow(l) == 0);
		if (rc == KEYSTORE_FULL)
			failed(s, 1, MDB_MAP_FULL, err, errlen);
	} else if ((rc = lmdb_begin(&s->base, 0, &t, err, errlen)) == 0)
		lmdb_abort(t);
	if (rc < 0 || rc == KEYSTORE_FULL) {
		free(s);
		return -1;
	}
	*out = &s->base;
	return 0;
}
