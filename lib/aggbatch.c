/*
 * The in-memory batch of aggregate rows (see aggbatch.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "aggbatch.h"
#include "buf.h"

/*
 * The index is kept apart from the rows: probing reads 16-byte slots, not the
 * few hundred bytes of a row's sums (the rebuild spent a quarter of its time
 * in cache misses when they were together).
 */
struct aggbatch_slot {
	uint64_t		hash;		/* 0: empty */
	uint32_t		entry;
};

struct aggbatch_entry {
	uint32_t		off;		/* of the key in keys */
	uint32_t		slot;		/* its slot in the index, for aggbatch_clear() */
	uint16_t		len;
	uint8_t			table;
	struct agg_value	v;
};

static uint64_t
hash_of(int table, const unsigned char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL ^ (uint64_t)table;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return h | 1;
}

/* The slot of the row (table, key), or the empty slot where it goes. */
static struct aggbatch_slot *
probe(const struct aggbatch *b, uint64_t h, int table, const unsigned char *key, size_t len)
{
	size_t i = h & (b->cap - 1);

	for (;; i = (i + 1) & (b->cap - 1)) {
		struct aggbatch_slot *s = &b->index[i];
		const struct aggbatch_entry *e;

		if (s->hash == 0)
			return s;
		if (s->hash != h)
			continue;
		e = &b->entries[s->entry];
		if (e->table == table && e->len == len && memcmp(b->keys + e->off, key, len) == 0)
			return s;
	}
}

/* Doubles the index (or makes the first one); 0 or -1. */
static int
grow(struct aggbatch *b)
{
	struct aggbatch_slot *old = b->index, *s;
	size_t ocap = b->cap, i;

	b->cap = ocap ? ocap * 2 : 4096;
	if ((b->index = calloc(b->cap, sizeof(*b->index))) == NULL) {
		b->index = old;
		b->cap = ocap;
		return -1;
	}
	for (i = 0; i < ocap; i++)
		if (old[i].hash != 0) {
			const struct aggbatch_entry *e = &b->entries[old[i].entry];

			s = probe(b, old[i].hash, e->table, b->keys + e->off, e->len);
			*s = old[i];
			b->entries[old[i].entry].slot = (uint32_t)(s - b->index);
		}
	free(old);
	return 0;
}

/* The sums of the row (table, key), made empty when it is new; NULL on ENOMEM. */
static struct agg_value *
row(struct aggbatch *b, int table, const unsigned char *key, size_t len)
{
	uint64_t h = hash_of(table, key, len);
	struct aggbatch_entry *e;
	struct aggbatch_slot *s;

	if ((b->n + 1) * 2 > b->cap && grow(b) < 0)
		return NULL;
	s = probe(b, h, table, key, len);
	if (s->hash == 0) {
		if (b->klen + len > b->kcap) {
			size_t kcap = b->kcap ? b->kcap * 2 : 1 << 20;
			unsigned char *k;

			while (kcap < b->klen + len)
				kcap *= 2;
			if ((k = realloc(b->keys, kcap)) == NULL)
				return NULL;
			b->keys = k;
			b->kcap = kcap;
		}
		if (buf_grow_array((void **)&b->entries, &b->ecap, b->n, sizeof(*b->entries)) < 0)
			return NULL;
		e = &b->entries[b->n];
		memcpy(b->keys + b->klen, key, len);
		e->off = (uint32_t)b->klen;
		e->len = (uint16_t)len;
		e->table = (uint8_t)table;
		memset(&e->v, 0, sizeof(e->v));
		b->klen += len;
		e->slot = (uint32_t)(s - b->index);
		s->hash = h;
		s->entry = (uint32_t)b->n++;
	}
	return &b->entries[s->entry].v;
}

int
aggbatch_add(struct aggbatch *b, int table, const unsigned char *key, size_t len,
    const struct record *r)
{
	struct agg_value *v = row(b, table, key, len);

	if (v == NULL)
		return -1;
	aggregate_add(v, r);
	return 0;
}

int
aggbatch_add_value(struct aggbatch *b, int table, const unsigned char *key, size_t len,
    const struct agg_value *add)
{
	struct agg_value *v = row(b, table, key, len);

	if (v == NULL)
		return -1;
	aggregate_value_add(v, add);
	return 0;
}

int
aggbatch_each(const struct aggbatch *b, int (*fn)(void *arg, int table, const unsigned char *key,
    size_t len, const struct agg_value *v), void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < b->n; i++)
		if ((rc = fn(arg, b->entries[i].table, b->keys + b->entries[i].off,
		    b->entries[i].len, &b->entries[i].v)) != 0)
			return rc;
	return 0;
}

static const unsigned char *sort_keys;	/* for by_key: qsort has no argument */

static int
by_key(const void *a, const void *b)
{
	const struct aggbatch_entry *x = *(struct aggbatch_entry *const *)a;
	const struct aggbatch_entry *y = *(struct aggbatch_entry *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	if (x->table != y->table)
		return x->table - y->table;
	if ((c = memcmp(sort_keys + x->off, sort_keys + y->off, n)) != 0)
		return c;
	return (int)x->len - (int)y->len;
}

int
aggbatch_flush(struct aggbatch *b, struct MDB_txn *txn, const unsigned *dbi)
{
	struct aggbatch_entry **order;
	struct agg_value v;
	MDB_cursor *cur = NULL;
	size_t i;
	int rc = 0, cur_table = -1;

	if (b->n == 0)
		return 0;
	if ((order = malloc(b->n * sizeof(*order))) == NULL)
		return ENOMEM;
	for (i = 0; i < b->n; i++)
		order[i] = &b->entries[i];
	sort_keys = b->keys;
	qsort(order, b->n, sizeof(*order), by_key);
	/* one cursor a table: a row found is rewritten in place, without a second search */
	for (i = 0; i < b->n && rc == 0; i++) {
		MDB_val k = { order[i]->len, b->keys + order[i]->off }, d;
		int table = order[i]->table, found;

		if (cur == NULL || table != cur_table) {
			if (cur != NULL)
				mdb_cursor_close(cur);
			cur = NULL;
			if ((rc = mdb_cursor_open(txn, dbi[table], &cur)) != 0)
				break;
			cur_table = table;
		}
		rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
		if ((found = rc == 0) == 0 && rc != MDB_NOTFOUND)
			break;
		if (!found)
			memset(&v, 0, sizeof(v));
		else if (d.mv_size != sizeof(v)) {
			rc = MDB_CORRUPTED;
			break;
		} else
			memcpy(&v, d.mv_data, sizeof(v));	/* LMDB's data need not be aligned */
		aggregate_value_add(&v, &order[i]->v);
		d.mv_size = sizeof(v);
		d.mv_data = &v;
		rc = mdb_cursor_put(cur, &k, &d, found ? MDB_CURRENT : 0);
	}
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(order);
	aggbatch_clear(b);
	return rc;
}

void
aggbatch_clear(struct aggbatch *b)
{
	size_t i;

	/*
	 * The batch is kept from one follow to the next at the size the largest
	 * needed: a small one empties the slots it used, not the whole index
	 * (megabytes, for every follow of a few records).
	 */
	if (b->n * 8 < b->cap)
		for (i = 0; i < b->n; i++)
			b->index[b->entries[i].slot].hash = 0;
	else if (b->index != NULL)
		memset(b->index, 0, b->cap * sizeof(*b->index));
	b->n = 0;
	b->klen = 0;
}

void
aggbatch_release(struct aggbatch *b)
{
	free(b->index);
	free(b->entries);
	free(b->keys);
	memset(b, 0, sizeof(*b));
}
