/*
 * Spend aggregates (see aggregate.h for the layout and the tag rule).  The
 * accountant runs aggregate_follow(); tollctl runs aggregate_scan() and,
 * for `tollctl aggregate --rebuild`, aggregate_reset() then the follow.
 *
 * Exactly once: the rows a batch adds and the position after it are written
 * in the same LMDB write transaction, so a follow that dies adds nothing and
 * the next one starts where the last commit left off.  The position is the
 * ledger key of the last record counted; a record committed later under a
 * lower key is not counted (aggregate.h, "Late records").
 *
 * Records are summed in memory first, by all their dimensions at once (raw
 * rows, raw_add()), then each raw row into the rows of every table, and each
 * row touched is written once per follow (lib/aggbatch.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "aggbatch.h"
#include "aggregate.h"
#include "bytes.h"
#include "clock.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "timeparse.h"

#define AGG_KEY_MAX	511
#define POS_LEN		8	/* a journal sequence, big endian */
#define AGG_LAYOUT	5	/* meta "agg_layout", 4 bytes big endian; 2: follows the journal,
				   3: with the model-day rollup, 4: and the one-dimension rollups,
				   5: model is the model requested, deployment and price entry
				   dimensions of their own */
#define AGG_LAYOUT_OLD	4	/* the layout the follow upgrades by itself (upgrade()) */
/* The most the dimensions before the model's take of a row key (row_key()). */
#define AGG_KEY_FIXED	(8 + sizeof(((struct record *)0)->key) + 3 * (AGG_DIM_MAX + 1) + \
			 AGG_DIM_MAX + 2 + sizeof(((struct record *)0)->provider))
_Static_assert(AGG_KEY_MAX - AGG_KEY_FIXED >= 3 * (AGG_MODEL_MIN + 1),
    "a row key has room for AGG_MODEL_MIN bytes of model, deployment and price entry");

static const MDB_val pos_key = { 8, "agg_jpos" };
static const MDB_val layout_key = { 10, "agg_layout" };
/*
 * Set by a reset of a pruned ledger: 8 bytes floor (a day start), 8 bytes
 * journal position.  Records that ended before the floor and were counted by
 * that position are in the day rows the reset kept: the follow passes them.
 */
static const MDB_val floor_key = { 9, "agg_floor" };
static const char dirty_name[] = "agg_dirty";
static const unsigned char layout[4] = { 0, 0, 0, AGG_LAYOUT };
static const unsigned char old_layout[4] = { 0, 0, 0, AGG_LAYOUT_OLD };

int
aggregate_is_error(const struct record *r)
{
	return r->status >= 400 || (r->flags & RECORD_FLAG_UPSTREAM_FAILED);
}

const char *
aggregate_model(const struct record *r)
{
	if (r->model_requested[0])
		return r->model_requested;
	if (r->deployment[0])
		return r->deployment;
	return r->priced_as;
}

void
aggregate_add(struct agg_value *v, const struct record *r)
{
	int i;

	/* an adjustment re-rates a request counted already: its cost only */
	if (!(r->flags & RECORD_FLAG_ADJUSTMENT)) {
		v->requests++;
		v->errors += aggregate_is_error(r);
	}
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		v->tokens[i] += r->tokens[i];
	for (i = 0; i < COST_PART_COUNT; i++)
		v->cost[i] += r->cost[i];
	v->total += r->total;
}

void
aggregate_value_add(struct agg_value *to, const struct agg_value *v)
{
	int i;

	to->requests += v->requests;
	to->errors += v->errors;
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		to->tokens[i] += v->tokens[i];
	for (i = 0; i < COST_PART_COUNT; i++)
		to->cost[i] += v->cost[i];
	to->total += v->total;
}

/* Appends s (at most max bytes of it) and its NUL at *p. */
static void
put_dim(unsigned char **p, const char *s, size_t len, size_t max)
{
	if (len > max)
		len = max;
	memcpy(*p, s, len);
	(*p)[len] = '\0';
	*p += len + 1;
}

/*
 * Cuts the lengths of model, deployment and price entry to fit room bytes
 * together: the longest first, down to the next longest, so that one long
 * name does not take the room of the others (aggregate.h, "Long names").
 */
static void
fit_models(size_t len[3], size_t room)
{
	size_t i, longest;

	while (len[0] + len[1] + len[2] > room) {
		for (longest = 0, i = 1; i < 3; i++)
			if (len[i] > len[longest])
				longest = i;
		len[longest]--;
	}
}

/*
 * What a row is keyed by: a record's dimensions, or those of a raw row read
 * back (follow_once()); NUL-terminated, at most as long as a record's fields.
 */
struct agg_dims {
	const char	*key, *user, *team, *customer, *tags;
	const char	*model, *deployment, *priced_as, *provider;
};

#define REC_MAX(field)	(sizeof(((struct record *)0)->field) - 1)
/* raw rows keep the dimensions as an array of them, in this order (raw_add()) */
_Static_assert(sizeof(struct agg_dims) == 9 * sizeof(const char *), "agg_dims: nine strings");

static void
record_dims(const struct record *r, struct agg_dims *d)
{
	d->key = r->key;
	d->user = r->user;
	d->team = r->team;
	d->customer = r->customer;
	d->tags = r->tags;
	d->model = aggregate_model(r);
	d->deployment = r->deployment;
	d->priced_as = r->priced_as;
	d->provider = r->provider;
}

/*
 * Builds the row key of d for bucket and the tag slot (AGG_TAG_ALL, or "#"
 * and the tag of taglen bytes); returns its length, at most AGG_KEY_MAX
 * (see AGG_KEY_FIXED and fit_models()).
 */
static size_t
row_key(unsigned char *key, int64_t bucket, const struct agg_dims *d, const char *tag,
    size_t taglen, int all)
{
	const char *m[3] = { d->model, d->deployment, d->priced_as };
	size_t len[3], prov = strnlen(d->provider, REC_MAX(provider)), i;
	unsigned char *p = key + 8;

	bytes_put_be64(key, (uint64_t)bucket);
	put_dim(&p, d->key, strnlen(d->key, REC_MAX(key) + 1), REC_MAX(key));
	put_dim(&p, d->user, strnlen(d->user, REC_MAX(user) + 1), AGG_DIM_MAX);
	put_dim(&p, d->team, strnlen(d->team, REC_MAX(team) + 1), AGG_DIM_MAX);
	put_dim(&p, d->customer, strnlen(d->customer, REC_MAX(customer) + 1), AGG_DIM_MAX);
	if (all)
		put_dim(&p, AGG_TAG_ALL, strlen(AGG_TAG_ALL), AGG_DIM_MAX);
	else {
		*p++ = '#';
		put_dim(&p, tag, taglen, AGG_DIM_MAX);
	}
	for (i = 0; i < 3; i++)
		len[i] = strnlen(m[i], REC_MAX(priced_as));
	/* the room left: the provider and the four NULs after the others */
	fit_models(len, AGG_KEY_MAX - (size_t)(p - key) - prov - 4);
	put_dim(&p, m[0], len[0], len[0]);
	put_dim(&p, d->provider, prov, prov);
	put_dim(&p, m[1], len[1], len[1]);
	put_dim(&p, m[2], len[2], len[2]);
	return (size_t)(p - key);
}

/* Whether the tag tag[0..len) appears in list before position end. */
static int
tag_seen(const char *list, const char *end, const char *tag, size_t len)
{
	const char *p = list, *q;

	while (p < end) {
		for (q = p; q < end && *q != ','; q++)
			;
		/* as stored: two tags alike in their first AGG_DIM_MAX bytes are one */
		if (((size_t)(q - p) == len || ((size_t)(q - p) >= AGG_DIM_MAX && len >= AGG_DIM_MAX)) &&
		    memcmp(p, tag, len < AGG_DIM_MAX ? len : AGG_DIM_MAX) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}

/* Where next_tag() is in a record's tags. */
struct tag_walk {
	size_t	at;	/* the offset to look from */
	int	any;	/* a tag was returned */
};

/*
 * The distinct tags of a tags list, one per call: *tag and *len, 1; then 0.
 * A list without any has one, "".  w starts zeroed.
 */
static int
next_tag(const char *tags, struct tag_walk *w, const char **tag, size_t *len)
{
	const char *end = tags + strnlen(tags, REC_MAX(tags) + 1), *p, *q;

	for (p = tags + w->at; p < end; p = q + 1) {
		for (q = p; q < end && *q != ','; q++)
			;
		w->at = (size_t)(q - tags) + 1;
		if (q == p || tag_seen(tags, p, p, (size_t)(q - p)))
			continue;
		w->any = 1;
		*tag = p;
		*len = (size_t)(q - p);
		return 1;
	}
	if (w->any)
		return 0;
	w->any = 1;
	w->at = (size_t)(end - tags);
	*tag = "";
	*len = 0;
	return 1;
}

/*
 * Adds v, counted under d, to the rows of one table and bucket: the row with
 * tags collapsed, and one per distinct tag (aggregate.h, "The tag rule").
 * 0, or -1 on ENOMEM.
 */
static int
add_row(struct aggbatch *batch, int table, int64_t bucket, const struct agg_dims *d,
    const struct agg_value *v)
{
	unsigned char key[AGG_KEY_MAX];
	struct tag_walk w = { 0, 0 };
	const char *tag;
	size_t len, taglen;
	int rc;

	len = row_key(key, bucket, d, NULL, 0, 1);
	if ((rc = aggbatch_add_value(batch, table, key, len, v)) != 0)
		return rc;
	while (next_tag(d->tags, &w, &tag, &taglen)) {
		len = row_key(key, bucket, d, tag, taglen, 0);
		if ((rc = aggbatch_add_value(batch, table, key, len, v)) != 0)
			return rc;
	}
	return 0;
}

/* Deletes hourly rows whose bucket starts before cutoff; an LMDB rc. */
static int
prune_hours(MDB_txn *txn, MDB_dbi dbi, int64_t cutoff)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		if ((int64_t)bytes_get_be64(k.mv_data) >= cutoff)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The names of enum agg_table's databases. */
static const char *const table_names[] = { "agg_day", "agg_hour", "agg_mday", "agg_dday" };

static int
open_aggs(MDB_txn *txn, unsigned flags, MDB_dbi dbi[AGG_TABLE_COUNT])
{
	int rc = 0, t;

	for (t = 0; t < AGG_TABLE_COUNT && rc == 0; t++)
		rc = mdb_dbi_open(txn, table_names[t], flags, &dbi[t]);
	return rc;
}

/*
 * The model-day rollup: r counted under its day, model, provider, deployment
 * and price entry only (the other dimensions and the tags left empty), so
 * that a report by those or by day reads one row per model and day instead
 * of one per key, user, team and customer.
 */
static int
add_model_day(struct aggbatch *batch, int64_t bucket, const struct agg_dims *d,
    const struct agg_value *v)
{
	unsigned char key[AGG_KEY_MAX];
	struct agg_dims narrow = *d;
	size_t len;

	narrow.key = narrow.user = narrow.team = narrow.customer = narrow.tags = "";
	len = row_key(key, bucket, &narrow, NULL, 0, 1);
	return aggbatch_add_value(batch, AGG_TABLE_MODEL_DAY, key, len, v);
}

/* A one-dimension day row: bucket, the dimension's number, its value and a NUL. */
static int
add_dim(struct aggbatch *batch, int64_t bucket, int dim, const char *value, size_t len,
    const struct agg_value *v)
{
	unsigned char key[8 + 1 + AGG_DIM_MAX + 1 + 8];

	if (len > (dim == AGG_DIM_KEY ? REC_MAX(key) : AGG_DIM_MAX))
		len = dim == AGG_DIM_KEY ? REC_MAX(key) : AGG_DIM_MAX;
	bytes_put_be64(key, (uint64_t)bucket);
	key[8] = (unsigned char)dim;
	memcpy(key + 9, value, len);
	key[9 + len] = '\0';
	return aggbatch_add_value(batch, AGG_TABLE_DIM_DAY, key, 10 + len, v);
}

/*
 * The one-dimension rollups: r counted under its day and its key, user, team
 * and customer, and under each distinct tag ("" when it has none), so that a
 * report by one of them over a long window reads one row per value and day.
 */
static int
add_dims(struct aggbatch *batch, int64_t bucket, const struct agg_dims *d,
    const struct agg_value *v)
{
	const char *one[4] = { d->key, d->user, d->team, d->customer };
	const int dim[4] = { AGG_DIM_KEY, AGG_DIM_USER, AGG_DIM_TEAM, AGG_DIM_CUSTOMER };
	struct tag_walk w = { 0, 0 };
	const char *tag;
	size_t taglen, i;
	int rc;

	for (i = 0; i < 4; i++)
		if ((rc = add_dim(batch, bucket, dim[i], one[i], strlen(one[i]), v)) != 0)
			return rc;
	while (next_tag(d->tags, &w, &tag, &taglen))
		if ((rc = add_dim(batch, bucket, AGG_DIM_TAG, tag, taglen, v)) != 0)
			return rc;
	return 0;
}

/*
 * Records are first summed by every dimension at once, in raw rows (one per
 * record and bucket at most; a day's and, while it is kept, an hour's), and
 * only each raw row is then counted into the rows of every table: a batch of
 * a gateway's records, many alike, costs one row update per record instead
 * of nine.  A raw key: the bucket, its kind, then every dimension whole.
 */
enum { RAW_DAY, RAW_HOUR };
#define RAW_DIMS	9
#define RAW_KEY_MAX	(9 + REC_MAX(key) + REC_MAX(user) + REC_MAX(team) + REC_MAX(customer) + \
			 REC_MAX(tags) + 3 * REC_MAX(priced_as) + REC_MAX(provider) + RAW_DIMS)

static int
raw_add(struct aggbatch *raw, int kind, int64_t bucket, const struct record *r)
{
	unsigned char key[RAW_KEY_MAX], *p = key + 9;
	struct agg_dims d;
	const char *dims[RAW_DIMS];
	size_t i;

	record_dims(r, &d);
	memcpy(dims, &d, sizeof(dims));
	bytes_put_be64(key, (uint64_t)bucket);
	key[8] = (unsigned char)kind;
	for (i = 0; i < RAW_DIMS; i++)
		put_dim(&p, dims[i], strnlen(dims[i], REC_MAX(tags)), REC_MAX(tags));
	return aggbatch_add(raw, kind, key, (size_t)(p - key), r);
}

/* One raw row counted into the rows of its tables (aggbatch_each()'s fn). */
static int
raw_expand(void *arg, int kind, const unsigned char *key, size_t len, const struct agg_value *v)
{
	struct aggbatch *rows = arg;
	const char *dims[RAW_DIMS], *p = (const char *)key + 9, *end = (const char *)key + len;
	int64_t bucket = (int64_t)bytes_get_be64(key);
	struct agg_dims d;
	size_t i;
	int rc;

	for (i = 0; i < RAW_DIMS && p < end; i++, p += strlen(p) + 1)
		dims[i] = p;
	if (i < RAW_DIMS)
		return -1;	/* not a key raw_add() made */
	memcpy(&d, dims, sizeof(dims));
	if (kind == RAW_HOUR)
		return add_row(rows, AGG_TABLE_HOUR, bucket, &d, v);
	if ((rc = add_row(rows, AGG_TABLE_DAY, bucket, &d, v)) != 0 ||
	    (rc = add_model_day(rows, bucket, &d, v)) != 0)
		return rc;
	return add_dims(rows, bucket, &d, v);
}

/*
 * One follow transaction: the journal entries after the stored position, in
 * commit order, each looked up in the records.  An LMDB rc; *done set only
 * when it committed.
 */
/* The reset's floor (see floor_key): none is floor 0. */
static int
read_floor(MDB_txn *txn, MDB_dbi meta, int64_t *floor_ns, uint64_t *floor_pos)
{
	MDB_val k = floor_key, v;
	int rc;

	*floor_ns = 0;
	*floor_pos = 0;
	if ((rc = mdb_get(txn, meta, &k, &v)) == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && v.mv_size == 16) {
		*floor_ns = (int64_t)bytes_get_be64(v.mv_data);
		*floor_pos = bytes_get_be64((const unsigned char *)v.mv_data + 8);
	}
	return rc;
}

/*
 * Marks day as changed since its last export, with the follow's generation
 * (meta "agg_gen", one more every follow transaction, never reset, so a mark
 * is never written twice with the same value): an export clears the mark
 * only if it is still the one it read (aggregate_clear_dirty()).
 */
static const MDB_val gen_key = { 7, "agg_gen" };

static int
mark_dirty(MDB_txn *txn, MDB_dbi dirty, int64_t day, const unsigned char *gen)
{
	unsigned char key[8];
	MDB_val k = { sizeof(key), key }, v = { 8, (void *)gen };

	bytes_put_be64(key, (uint64_t)day);
	return mdb_put(txn, dirty, &k, &v, 0);
}

/* The next generation into gen (8 bytes), stored; an LMDB rc. */
static int
next_generation(MDB_txn *txn, MDB_dbi meta, unsigned char *gen)
{
	MDB_val k = gen_key, v;
	uint64_t g = 0;
	int rc;

	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == 8)
		g = bytes_get_be64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	bytes_put_be64(gen, g + 1);
	v.mv_size = 8;
	v.mv_data = gen;
	return mdb_put(txn, meta, &k, &v, 0);
}

/* Bounds of one follow: distinct days it may mark, rows it may hold in memory. */
#define FOLLOW_DAYS	16
#define FOLLOW_ROWS	8192
/* follow_once(): the aggregates are of AGG_LAYOUT_OLD, to be upgraded first (not an LMDB rc) */
#define FOLLOW_UPGRADE	(-1)

/*
 * One follow, in two transactions.  The records are read and summed under a
 * read transaction, which holds no lock; only the sums are then written, with
 * the new position, in a write transaction whose length depends on the rows
 * touched, not on the records read.  Workers' appends wait for that one (LMDB
 * has one writer), so it is kept short: p99 at c=1 fell by about half.  If the
 * position moved in between (a reset, a rebuild), nothing is written.
 * An LMDB rc; *done set only when it committed.
 */
/*
 * The record under key *k, by the records' cursor: journal order is mostly
 * key order (records end in time order), so the cursor's next record is
 * looked at first, and only when it is not the one is the key searched.
 * An LMDB rc.
 */
static int
record_at(MDB_cursor *rcur, MDB_val *k, MDB_val *data)
{
	MDB_val nk, at = *k, ignored;
	int rc;

	if (mdb_cursor_get(rcur, &nk, data, MDB_NEXT) == 0 && nk.mv_size == k->mv_size &&
	    memcmp(nk.mv_data, k->mv_data, k->mv_size) == 0)
		return 0;
	if ((rc = mdb_cursor_get(rcur, k, data, MDB_SET_KEY)) == MDB_NOTFOUND)
		/* near where the next records are, for the MDB_NEXT of the next call */
		mdb_cursor_get(rcur, &at, &ignored, MDB_SET_RANGE);
	return rc;
}

/* A follow's batches: raw rows as records are read, then the rows they count into. */
struct follow_batch {
	struct aggbatch	raw, rows;
};

static void
follow_clear(struct follow_batch *fb)
{
	aggbatch_clear(&fb->raw);
	aggbatch_clear(&fb->rows);
}

static int
follow_once(struct ledger *l, int64_t before_ns, size_t max_records, size_t *done,
    struct follow_batch *fb)
{
	unsigned char pos[POS_LEN] = { 0 }, next[POS_LEN], gen[8];
	int64_t floor_ns, days[FOLLOW_DAYS];
	uint64_t floor_pos;
	MDB_dbi dirty;
	int64_t cutoff = clock_now_ns() - AGG_HOUR_KEEP_NS;
	MDB_dbi recs = ledger_records_dbi(l), meta = ledger_meta_dbi(l), jrnl = ledger_journal_dbi(l);
	MDB_dbi aggs[AGG_TABLE_COUNT];
	MDB_cursor *cur = NULL, *rcur = NULL;
	MDB_txn *txn;
	MDB_val k, v, rk, rv;
	struct record r;
	uint64_t seq = 0;
	size_t n = 0, ndays = 0, i;
	int rc;

	/* reading and summing: no lock held */
	if ((rc = ledger_txn_begin(l, 0, &txn)) != 0)
		return rc < 0 ? EACCES : rc;
	k = layout_key;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == sizeof(old_layout) &&
	    memcmp(v.mv_data, old_layout, sizeof(old_layout)) == 0) {
		mdb_txn_abort(txn);
		return FOLLOW_UPGRADE;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	if ((rc = read_floor(txn, meta, &floor_ns, &floor_pos)) != 0)
		goto abort;
	k = pos_key;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == POS_LEN)
		seq = bytes_get_be64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	if ((rc = mdb_cursor_open(txn, jrnl, &cur)) != 0 ||
	    (rc = mdb_cursor_open(txn, recs, &rcur)) != 0)
		goto abort;
	bytes_put_be64(next, seq + 1);
	k.mv_size = POS_LEN;
	k.mv_data = next;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < max_records &&
	    fb->raw.n < FOLLOW_ROWS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != POS_LEN)
			continue;
		rk = v;
		/* a record pruned since it was journalled has nothing left to count */
		if ((rc = record_at(rcur, &rk, &rv)) == MDB_NOTFOUND) {
			memcpy(pos, k.mv_data, POS_LEN);
			n++;
			continue;
		}
		if (rc != 0)
			goto abort;
		/* a record this build cannot read (a newer schema) is passed over */
		if (record_decode(rv.mv_data, rv.mv_size, &r) == 0 &&
		    !(r.end_ns < floor_ns && bytes_get_be64(k.mv_data) <= floor_pos)) {
			int64_t day = time_day_start(r.end_ns);

			if (r.end_ns >= before_ns)
				break;	/* the horizon: this one and all after it wait */
			for (i = 0; i < ndays && days[i] != day; i++)
				;
			if (i == ndays) {
				if (ndays == FOLLOW_DAYS)
					break;	/* the next follow takes it */
				days[ndays++] = day;
			}
			if (raw_add(&fb->raw, RAW_DAY, day, &r) != 0 ||
			    (r.end_ns >= cutoff && raw_add(&fb->raw, RAW_HOUR,
			    time_hour_start(r.end_ns), &r) != 0)) {
				rc = ENOMEM;
				goto abort;
			}
		}
		memcpy(pos, k.mv_data, POS_LEN);
		n++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	mdb_cursor_close(cur);
	mdb_cursor_close(rcur);
	cur = rcur = NULL;
	mdb_txn_abort(txn);
	if (n == 0) {
		follow_clear(fb);
		*done = 0;
		return 0;
	}
	/* still without a lock: the raw rows counted into every table's rows */
	if (aggbatch_each(&fb->raw, raw_expand, &fb->rows) != 0) {
		follow_clear(fb);
		return ENOMEM;
	}

	/* writing the sums: the position must still be where the reading began */
	if ((rc = ledger_txn_begin(l, 1, &txn)) != 0) {
		follow_clear(fb);
		return rc < 0 ? EACCES : rc;
	}
	if ((rc = open_aggs(txn, MDB_CREATE, aggs)) != 0 ||
	    (rc = mdb_dbi_open(txn, dirty_name, MDB_CREATE, &dirty)) != 0 ||
	    (rc = next_generation(txn, meta, gen)) != 0)
		goto abort;
	k = layout_key;
	if ((rc = mdb_get(txn, meta, &k, &v)) == MDB_NOTFOUND) {
		v.mv_size = sizeof(layout);
		v.mv_data = (void *)layout;
		rc = mdb_put(txn, meta, &k, &v, 0);
	} else if (rc == 0 && (v.mv_size != sizeof(layout) ||
	    memcmp(v.mv_data, layout, sizeof(layout)) != 0))
		rc = MDB_VERSION_MISMATCH;
	if (rc != 0)
		goto abort;
	k = pos_key;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == POS_LEN)
		rc = bytes_get_be64(v.mv_data) == seq ? 0 : MDB_NOTFOUND;
	else if (rc == MDB_NOTFOUND)
		rc = seq == 0 ? 0 : MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND) {
		/* moved by someone else: this batch is stale, read again */
		follow_clear(fb);
		mdb_txn_abort(txn);
		return EAGAIN;
	}
	if (rc != 0)
		goto abort;
	for (i = 0; i < ndays; i++)
		if ((rc = mark_dirty(txn, dirty, days[i], gen)) != 0)
			goto abort;
	if ((rc = aggbatch_flush(&fb->rows, txn, aggs)) != 0)
		goto abort;
	aggbatch_clear(&fb->raw);
	k = pos_key;
	v.mv_size = POS_LEN;
	v.mv_data = pos;
	if ((rc = mdb_put(txn, meta, &k, &v, 0)) != 0)
		goto abort;
	if ((rc = prune_hours(txn, aggs[AGG_TABLE_HOUR], time_hour_start(cutoff))) != 0)
		goto abort;
	if ((rc = mdb_txn_commit(txn)) == 0)
		*done = n;
	return rc;
abort:
	if (cur)
		mdb_cursor_close(cur);
	if (rcur)
		mdb_cursor_close(rcur);
	follow_clear(fb);
	mdb_txn_abort(txn);
	return rc;
}

int
aggregate_lag(struct ledger *l, uint64_t *pending)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k = pos_key, v, jk, jv;
	uint64_t pos = 0, last = 0;
	int rc;

	if (ledger_txn_begin(l, 0, &txn) != 0)
		return -1;
	if ((rc = mdb_get(txn, ledger_meta_dbi(l), &k, &v)) == 0)
		pos = v.mv_size == 8 ? bytes_get_be64(v.mv_data) : 0;
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_cursor_open(txn, ledger_journal_dbi(l), &cur);
	if (rc == 0) {
		if ((rc = mdb_cursor_get(cur, &jk, &jv, MDB_LAST)) == 0)
			last = jk.mv_size == 8 ? bytes_get_be64(jk.mv_data) : 0;
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return -1;
	*pending = last > pos ? last - pos : 0;
	return 0;
}

static int reset_txn(struct ledger *l, MDB_txn *txn);

/*
 * Aggregates of AGG_LAYOUT_OLD, found by a follow: reset as by `tollctl
 * aggregate --rebuild`, so that the follows that come next count every
 * record again into AGG_LAYOUT's rows.  An LMDB rc.
 */
static int
upgrade(struct ledger *l)
{
	MDB_txn *txn;
	MDB_val k = layout_key, v;
	int rc;

	if ((rc = ledger_txn_begin(l, 1, &txn)) != 0)
		return rc < 0 ? EACCES : rc;
	/* under the writer lock: another process may have done it meanwhile */
	if ((rc = mdb_get(txn, ledger_meta_dbi(l), &k, &v)) != 0 ||
	    v.mv_size != sizeof(old_layout) || memcmp(v.mv_data, old_layout, sizeof(old_layout)) != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if ((rc = reset_txn(l, txn)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return rc;
	log_info("the aggregates of '%s' were of layout %d: counting the records again into "
	    "layout %d", ledger_dir(l), AGG_LAYOUT_OLD, AGG_LAYOUT);
	return 0;
}

int
aggregate_follow(struct ledger *l, int64_t before_ns, size_t max_records, size_t *done,
    char *err, size_t errlen)
{
	/* kept from one follow to the next: their memory is grown once, not for every follow */
	static struct follow_batch batch;
	int rc, stale = 0, upgraded = 0;

	*done = 0;
	follow_clear(&batch);
	while ((rc = follow_once(l, before_ns, max_records, done, &batch)) == MDB_MAP_FULL ||
	    (rc == EAGAIN && ++stale < 3) || (rc == FOLLOW_UPGRADE && !upgraded++)) {
		if (rc == FOLLOW_UPGRADE && (rc = upgrade(l)) != 0)
			break;
		if (rc == MDB_MAP_FULL && ledger_grow(l) < 0)
			break;
	}
	if (rc == FOLLOW_UPGRADE)
		rc = MDB_VERSION_MISMATCH;
	if (rc == EAGAIN)
		rc = 0;	/* another writer keeps moving it: it is being counted */
	follow_clear(&batch);
	if (rc == 0)
		return 0;
	if (rc == EACCES)
		log_into(err, errlen, "cannot aggregate ledger '%s': not open for writing by this process",
		    ledger_dir(l));
	else
		log_into(err, errlen, "cannot aggregate ledger '%s': %s", ledger_dir(l), mdb_strerror(rc));
	return -1;
}

/* Deletes the rows of dbi whose bucket starts at or after from; an LMDB rc. */
static int
drop_from(MDB_txn *txn, MDB_dbi dbi, int64_t from)
{
	unsigned char start[8];
	MDB_cursor *cur;
	MDB_val k = { sizeof(start), start }, v;
	int rc;

	if (from <= 0)
		return mdb_drop(txn, dbi, 0);
	bytes_put_be64(start, (uint64_t)from);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Rewrites the rows of dbi written in AGG_LAYOUT_OLD, whose keys end at the
 * provider, into AGG_LAYOUT: deployment and price entry "" after it (what
 * those rows counted under their model is all that is known of them).  An
 * LMDB rc.
 */
static int
upgrade_rows(MDB_txn *txn, MDB_dbi dbi)
{
	unsigned char key[AGG_KEY_MAX];
	struct agg_value val;
	MDB_cursor *cur;
	MDB_val k, v, nk = { 0, key }, nv = { sizeof(val), &val };
	size_t i, nuls;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		for (nuls = 0, i = 8; i < k.mv_size; i++)
			nuls += ((const unsigned char *)k.mv_data)[i] == '\0';
		if (nuls == AGG_DIM_COUNT)
			continue;	/* rewritten already */
		if (nuls != AGG_DIM_COUNT - 2 || k.mv_size + 2 > sizeof(key) ||
		    v.mv_size != sizeof(val)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = key[k.mv_size + 1] = '\0';
		nk.mv_size = k.mv_size + 2;
		memcpy(&val, v.mv_data, sizeof(val));
		/* the new key sorts right after the old one: the cursor goes on from it */
		if ((rc = mdb_cursor_del(cur, 0)) != 0 || (rc = mdb_cursor_put(cur, &nk, &nv, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Days before the ledger's pruning horizon have no raw records left to count
 * again: their rows are kept (rewritten into this layout if they are of
 * AGG_LAYOUT_OLD), and the floor tells the follow which records they
 * already hold.
 */
static int
reset_txn(struct ledger *l, MDB_txn *txn)
{
	static const int wide[] = { AGG_TABLE_DAY, AGG_TABLE_HOUR, AGG_TABLE_MODEL_DAY };
	MDB_dbi aggs[AGG_TABLE_COUNT], meta = ledger_meta_dbi(l);
	MDB_val k = pos_key, v;
	unsigned char fl[16];
	int64_t horizon = 0, floor_ns;
	uint64_t pos = 0, floor_pos;
	int rc, t;

	if ((rc = open_aggs(txn, MDB_CREATE, aggs)) != 0 ||
	    (rc = aggregate_txn_position(txn, l, &pos)) != 0 ||
	    (rc = aggregate_txn_pruned(txn, l, &horizon)) != 0)
		return rc;
	for (t = 0; t < AGG_TABLE_COUNT && rc == 0; t++)
		rc = drop_from(txn, aggs[t], horizon);
	if (rc != 0 || ((rc = mdb_del(txn, meta, &k, NULL)) != 0 && rc != MDB_NOTFOUND))
		return rc;
	k = floor_key;
	if (horizon <= 0) {
		rc = mdb_del(txn, meta, &k, NULL);
		k = layout_key;
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_del(txn, meta, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	k = layout_key;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == sizeof(old_layout) &&
	    memcmp(v.mv_data, old_layout, sizeof(old_layout)) == 0) {
		for (t = 0; t < (int)(sizeof(wide) / sizeof(wide[0])) && rc == 0; t++)
			rc = upgrade_rows(txn, aggs[wide[t]]);
		v.mv_size = sizeof(layout);
		v.mv_data = (void *)layout;
		if (rc != 0 || (rc = mdb_put(txn, meta, &k, &v, 0)) != 0)
			return rc;
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	k = floor_key;
	/* a second reset before the follow caught up: what the kept rows hold is the older floor's */
	if ((rc = read_floor(txn, meta, &floor_ns, &floor_pos)) != 0)
		return rc;
	bytes_put_be64(fl, (uint64_t)horizon);
	bytes_put_be64(fl + 8, floor_pos > pos ? floor_pos : pos);
	v.mv_size = sizeof(fl);
	v.mv_data = fl;
	return mdb_put(txn, meta, &k, &v, 0);
}

int
aggregate_reset(struct ledger *l, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc;

	if ((rc = ledger_txn_begin(l, 1, &txn)) != 0) {
		log_into(err, errlen, "cannot reset the aggregates of '%s': %s", ledger_dir(l),
		    rc < 0 ? "not open for writing by this process" : mdb_strerror(rc));
		return -1;
	}
	if ((rc = reset_txn(l, txn)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
fail:
	log_into(err, errlen, "cannot reset the aggregates of '%s': %s", ledger_dir(l),
	    mdb_strerror(rc));
	return -1;
}

int
aggregate_txn_position(struct MDB_txn *txn, struct ledger *l, uint64_t *seq)
{
	MDB_val k = pos_key, v;
	int rc;

	*seq = 0;
	if ((rc = mdb_get(txn, ledger_meta_dbi(l), &k, &v)) == 0 && v.mv_size == POS_LEN)
		*seq = bytes_get_be64(v.mv_data);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
aggregate_txn_pruned(struct MDB_txn *txn, struct ledger *l, int64_t *horizon)
{
	MDB_val k = { sizeof(AGG_META_PRUNED) - 1, (void *)AGG_META_PRUNED }, v;
	int rc;

	*horizon = 0;
	if ((rc = mdb_get(txn, ledger_meta_dbi(l), &k, &v)) == 0 && v.mv_size == 8)
		*horizon = (int64_t)bytes_get_be64(v.mv_data);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
aggregate_pruned(struct ledger *l, int64_t *horizon)
{
	MDB_txn *txn;
	int rc;

	if (ledger_txn_begin(l, 0, &txn) != 0)
		return -1;
	rc = aggregate_txn_pruned(txn, l, horizon);
	mdb_txn_abort(txn);
	return rc == 0 ? 0 : -1;
}

int
aggregate_txn_first_dirty(struct MDB_txn *txn, int64_t *day)
{
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v;
	int rc;

	*day = INT64_MAX;
	if ((rc = mdb_dbi_open(txn, dirty_name, 0, &dbi)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0 || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 8)
		*day = (int64_t)bytes_get_be64(k.mv_data);
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
aggregate_dirty_days(struct ledger *l, struct agg_dirty *days, size_t max, size_t *n)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	int rc;

	*n = 0;
	if (ledger_txn_begin(l, 0, &txn) != 0)
		return -1;
	if ((rc = mdb_dbi_open(txn, dirty_name, 0, &dbi)) == 0 &&
	    (rc = mdb_cursor_open(txn, dbi, &cur)) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && *n < max;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 8 || v.mv_size != POS_LEN)
				continue;
			days[*n].day_ns = (int64_t)bytes_get_be64(k.mv_data);
			days[*n].mark = bytes_get_be64(v.mv_data);
			(*n)++;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

int
aggregate_clear_dirty(struct ledger *l, const struct agg_dirty *days, size_t n)
{
	unsigned char key[8];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { sizeof(key), key }, v;
	size_t i;
	int rc;

	if (ledger_txn_begin(l, 1, &txn) != 0)
		return -1;
	if ((rc = mdb_dbi_open(txn, dirty_name, MDB_CREATE, &dbi)) != 0)
		goto out;
	for (i = 0; i < n && rc == 0; i++) {
		bytes_put_be64(key, (uint64_t)days[i].day_ns);
		/* changed again since it was read: the next export takes it */
		if ((rc = mdb_get(txn, dbi, &k, &v)) == 0 && v.mv_size == POS_LEN &&
		    bytes_get_be64(v.mv_data) == days[i].mark)
			rc = mdb_del(txn, dbi, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
out:
	if (rc != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

/* Splits a one-dimension row key into row; -1 when it is malformed. */
static int
parse_dim_row(const MDB_val *k, const MDB_val *v, struct agg_row *row)
{
	const char *p = (const char *)k->mv_data + 9, *end = (const char *)k->mv_data + k->mv_size;
	int i, d;

	if (k->mv_size < 10 || v->mv_size != sizeof(struct agg_value) || end[-1] != '\0' ||
	    (d = ((const unsigned char *)k->mv_data)[8]) > AGG_DIM_TAG || d == AGG_DIM_MODEL ||
	    strlen(p) + 1 != (size_t)(end - p))
		return -1;
	row->bucket_ns = (int64_t)bytes_get_be64(k->mv_data);
	for (i = 0; i < AGG_DIM_COUNT; i++)
		row->dim[i] = "";
	row->dim[d] = p;
	row->only_dim = d;
	row->all_tags = d != AGG_DIM_TAG;
	row->v = v->mv_data;
	return 0;
}

/* Splits a row key into row; -1 when it is malformed. */
static int
parse_row(const MDB_val *k, const MDB_val *v, struct agg_row *row)
{
	const char *p = (const char *)k->mv_data + 8, *end = (const char *)k->mv_data + k->mv_size;
	int i;

	if (k->mv_size < 8 + AGG_DIM_COUNT || v->mv_size != sizeof(struct agg_value) ||
	    end[-1] != '\0')
		return -1;
	row->bucket_ns = (int64_t)bytes_get_be64(k->mv_data);
	row->only_dim = -1;
	for (i = 0; i < AGG_DIM_COUNT; i++) {
		if (p >= end)
			return -1;
		row->dim[i] = p;
		p += strlen(p) + 1;
	}
	if (p != end)
		return -1;
	row->all_tags = strcmp(row->dim[AGG_DIM_TAG], AGG_TAG_ALL) == 0;
	if (!row->all_tags) {
		if (row->dim[AGG_DIM_TAG][0] != '#')
			return -1;
		row->dim[AGG_DIM_TAG]++;
	}
	row->v = v->mv_data;
	return 0;
}

/*
 * The scan of aggregate_scan() and aggregate_scan_dim(): only_dim >= 0 (the
 * one-dimension rollup only) skips the other dimensions' rows with a seek
 * per day, rather than reading them.
 */
static int
scan(struct ledger *l, enum agg_table table, int only_dim, int64_t since_ns, int64_t until_ns,
    aggregate_visit_fn fn, void *arg, char *err, size_t errlen)
{
	unsigned char start[9];
	uint64_t since = since_ns > 0 ? (uint64_t)since_ns : 0;
	struct agg_value val;
	struct agg_row row;
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = ledger_txn_begin(l, 0, &txn)) != 0) {
		log_into(err, errlen, "cannot read ledger '%s': %s", ledger_dir(l),
		    rc < 0 ? "opened by another process" : mdb_strerror(rc));
		return -1;
	}
	rc = mdb_dbi_open(txn, table_names[table], 0, &dbi);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 1;
	}
	k = layout_key;
	if (rc == 0 && mdb_get(txn, ledger_meta_dbi(l), &k, &v) == 0 &&
	    (v.mv_size != 4 || memcmp(v.mv_data, layout, 4) != 0)) {
		int old = v.mv_size == 4 && memcmp(v.mv_data, old_layout, 4) == 0;

		mdb_txn_abort(txn);
		log_into(err, errlen, "cannot read the aggregates of '%s': written by %s version of "
		    "tollgate (%s)", ledger_dir(l), old ? "an older" : "another", old ?
		    "the gateway's accountant counts the records again when it starts; or run "
		    "'tollctl aggregate --rebuild'" : "run 'tollctl aggregate --rebuild'");
		return -1;
	}
	if (rc != 0 || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		log_into(err, errlen, "cannot read the aggregates of '%s': %s", ledger_dir(l),
		    mdb_strerror(rc));
		return -1;
	}
	bytes_put_be64(start, since);
	start[8] = only_dim >= 0 ? (unsigned char)only_dim : 0;
	k.mv_size = only_dim >= 0 ? 9 : 8;
	k.mv_data = start;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((table == AGG_TABLE_DIM_DAY ? parse_dim_row(&k, &v, &row) :
		    parse_row(&k, &v, &row)) < 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (row.bucket_ns >= until_ns)
			break;
		if (only_dim >= 0 && row.only_dim != only_dim) {
			/* keys sort by day, then dimension: on to this day's rows of it, or the next day's */
			bytes_put_be64(start, (uint64_t)row.bucket_ns + (row.only_dim > only_dim));
			k.mv_size = 9;
			k.mv_data = start;
			if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
				break;
			if ((rc = parse_dim_row(&k, &v, &row)) < 0) {
				rc = MDB_CORRUPTED;
				break;
			}
			if (row.bucket_ns >= until_ns)
				break;
			if (row.only_dim != only_dim) {
				/* none of it that day: the next key is the next day's first */
				if ((rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) != 0)
					break;
				continue;
			}
		}
		/* LMDB's data need not be aligned for __int128 */
		memcpy(&val, v.mv_data, sizeof(val));
		row.v = &val;
		if (fn(arg, &row) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_into(err, errlen, "cannot read the aggregates of '%s': %s", ledger_dir(l),
		    mdb_strerror(rc));
		return -1;
	}
	return 0;
}

int
aggregate_scan(struct ledger *l, enum agg_table table, int64_t since_ns, int64_t until_ns,
    aggregate_visit_fn fn, void *arg, char *err, size_t errlen)
{
	return scan(l, table, -1, since_ns, until_ns, fn, arg, err, errlen);
}

int
aggregate_scan_dim(struct ledger *l, int dim, int64_t since_ns, int64_t until_ns,
    aggregate_visit_fn fn, void *arg, char *err, size_t errlen)
{
	return scan(l, AGG_TABLE_DIM_DAY, dim, since_ns, until_ns, fn, arg, err, errlen);
}
