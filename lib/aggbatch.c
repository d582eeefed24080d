/*
 * The in-memory batch of aggregate rows (see aggbatch.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "aggbatch.h"

struct aggbatch_entry {
	uint64_t		hash;		/* 0: empty */
	uint32_t		off;		/* of the key in keys */
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

static struct aggbatch_entry *
probe(struct aggbatch_entry *slots, size_t cap, uint64_t h, int table, const unsigned char *keys,
    const unsigned char *key, size_t len)
{
	size_t i = h & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		struct aggbatch_entry *e = &slots[i];

		if (e->hash == 0 || (e->hash == h && e->table == table && e->len == len &&
		    memcmp(keys + e->off, key, len) == 0))
			return e;
	}
}

/* Doubles the table (or makes the first one); 0 or -1. */
static int
grow(struct aggbatch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 4096, i;
	struct aggbatch_entry *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (i = 0; i < b->cap; i++)
		if (b->slots[i].hash != 0)
			*probe(slots, cap, b->slots[i].hash, b->slots[i].table, b->keys,
			    b->keys + b->slots[i].off, b->slots[i].len) = b->slots[i];
	free(b->slots);
	b->slots = slots;
	b->cap = cap;
	return 0;
}

int
aggbatch_add(struct aggbatch *b, int table, const unsigned char *key, size_t len,
    const struct record *r)
{
	uint64_t h = hash_of(table, key, len);
	struct aggbatch_entry *e;

	if ((b->n + 1) * 2 > b->cap && grow(b) < 0)
		return -1;
	e = probe(b->slots, b->cap, h, table, b->keys, key, len);
	if (e->hash == 0) {
		if (b->klen + len > b->kcap) {
			size_t kcap = b->kcap ? b->kcap * 2 : 1 << 20;
			unsigned char *k;

			while (kcap < b->klen + len)
				kcap *= 2;
			if ((k = realloc(b->keys, kcap)) == NULL)
				return -1;
			b->keys = k;
			b->kcap = kcap;
		}
		memcpy(b->keys + b->klen, key, len);
		e->hash = h;
		e->off = (uint32_t)b->klen;
		e->len = (uint16_t)len;
		e->table = (uint8_t)table;
		memset(&e->v, 0, sizeof(e->v));
		b->klen += len;
		b->n++;
	}
	aggregate_add(&e->v, r);
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
	size_t i, n = 0;
	int rc = 0;

	if (b->n == 0)
		return 0;
	if ((order = malloc(b->n * sizeof(*order))) == NULL)
		return ENOMEM;
	for (i = 0; i < b->cap; i++)
		if (b->slots[i].hash != 0)
			order[n++] = &b->slots[i];
	sort_keys = b->keys;
	qsort(order, n, sizeof(*order), by_key);
	for (i = 0; i < n && rc == 0; i++) {
		MDB_val k = { order[i]->len, b->keys + order[i]->off }, d;

		rc = mdb_get(txn, dbi[order[i]->table], &k, &d);
		if (rc == MDB_NOTFOUND)
			memset(&v, 0, sizeof(v));
		else if (rc != 0)
			break;
		else if (d.mv_size != sizeof(v)) {
			rc = MDB_CORRUPTED;
			break;
		} else
			memcpy(&v, d.mv_data, sizeof(v));	/* LMDB's data need not be aligned */
		aggregate_value_add(&v, &order[i]->v);
		d.mv_size = sizeof(v);
		d.mv_data = &v;
		rc = mdb_put(txn, dbi[order[i]->table], &k, &d, 0);
	}
	for (i = 0; i < n; i++)
		order[i]->hash = 0;
	free(order);
	b->n = 0;
	b->klen = 0;
	return rc;
}

void
aggbatch_clear(struct aggbatch *b)
{
	if (b->slots != NULL)
		memset(b->slots, 0, b->cap * sizeof(*b->slots));
	b->n = 0;
	b->klen = 0;
}

void
aggbatch_release(struct aggbatch *b)
{
	free(b->slots);
	free(b->keys);
	memset(b, 0, sizeof(*b));
}
