/*
 * The master fills the budget counters from the ledger: at start, before any
 * worker admits a request, so a restart never forgets spend; and at a reload
 * for budgets the new config adds.  Only budgets with a limit or a key's
 * spend are counted, each within its current window.
 *
 * Whole UTC days come from the day aggregates (which also hold the days
 * retention has pruned), after a follow brings them up to date; today and
 * the part of a window's first day before the next UTC midnight come from
 * the raw records.  With budget_timezone UTC every daily and monthly window
 * starts at a UTC midnight, so the raw records read are today's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "buf.h"
#include "clock.h"
#include "keys.h"
#include "ledger.h"
#include "limitset.h"
#include "log.h"
#include "timeparse.h"
#include "tollgated.h"

#define NS_DAY		(86400LL * 1000000000)

/* A counter to fill: its limit, its window, and what the ledger says it holds. */
struct target {
	struct budget_limit	limit;
	int64_t			start, end;	/* the window now */
	int64_t			first_day;	/* the first UTC day wholly inside it */
	__int128		sum;
};

/* A virtual key's limits, by its record id. */
struct key_entry {
	char			id[32];
	struct limitset_key	lk;
};

/* A key's model budget: who it counts, under which counter. */
struct model_target {
	char			key[32];
	char			model[KEYS_NAME_MAX + 1];
	char			id[BUDGET_ID_MAX];
};

struct rebuild {
	const struct config	*c;
	struct target		*t;
	size_t			 nt, capt;
	struct model_target	*m;
	size_t			 nm, capm;
	struct key_entry	*k;
	size_t			 nk, capk;
	int64_t			 now, today;
	int			 only_new;
};

static int
target_cmp(const void *a, const void *b)
{
	return strcmp(((const struct target *)a)->limit.id, ((const struct target *)b)->limit.id);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key_entry *)a)->id, ((const struct key_entry *)b)->id);
}

/* Adds the counter of l to fill; the target, or NULL when it is not to be filled. */
static struct target *
add_target(struct rebuild *rb, const struct budget_limit *l)
{
	struct budget_reading r;
	struct target *t;

	if (rb->only_new && heritage.budgets->ops->read(heritage.budgets, l->id, rb->now, &r) == 0)
		return NULL;
	if (ARRAY_GROW(rb->t, rb->nt, rb->capt) < 0)
		return NULL;
	t = &rb->t[rb->nt++];
	memset(t, 0, sizeof(*t));
	t->limit = *l;
	if (l->has_window)
		window_bounds(&l->window, rb->now, &t->start, &t->end);
	else {
		t->start = INT64_MIN;
		t->end = INT64_MAX;
	}
	t->first_day = t->start == INT64_MIN || time_day_start(t->start) == t->start ?
	    t->start : time_day_start(t->start) + NS_DAY;
	return t;
}

/*
 * A key's model budgets: counted from the raw records only, which name the
 * model requested (the aggregates name the price-map entry).
 */
static void
add_model_targets(struct rebuild *rb, const char *id, const struct keys_key *k)
{
	struct keys_model_budget mb;
	struct budget_limit bl;
	struct target *t;
	char err[256];
	size_t i;

	for (i = 0; i < k->a.nmodel_budgets; i++) {
		if (keys_model_budget_parse(k->a.model_budgets[i], &mb, err, sizeof(err)) < 0)
			continue;
		memset(&bl, 0, sizeof(bl));
		limitset_model_id(id, mb.model, mb.has_window, &mb.window, bl.id, sizeof(bl.id));
		bl.max = mb.max_budget;
		bl.has_window = mb.has_window;
		bl.window = mb.window;
		if ((t = add_target(rb, &bl)) == NULL || ARRAY_GROW(rb->m, rb->nm, rb->capm) < 0)
			continue;
		t->first_day = INT64_MAX;
		snprintf(rb->m[rb->nm].key, sizeof(rb->m[0].key), "%s", id);
		snprintf(rb->m[rb->nm].model, sizeof(rb->m[0].model), "%s", mb.model);
		memcpy(rb->m[rb->nm].id, bl.id, sizeof(bl.id));
		rb->nm++;
	}
}

static int
on_key(void *arg, const struct keys_key *k)
{
	struct rebuild *rb = arg;
	struct key_entry *e;
	char err[128];

	if (ARRAY_GROW(rb->k, rb->nk, rb->capk) < 0)
		return 1;
	e = &rb->k[rb->nk];
	snprintf(e->id, sizeof(e->id), "key:%02x%02x%02x%02x%02x%02x%02x%02x", k->hash[0],
	    k->hash[1], k->hash[2], k->hash[3], k->hash[4], k->hash[5], k->hash[6], k->hash[7]);
	e->lk.max_budget = k->a.max_budget != KEYS_UNSET ? k->a.max_budget : BUDGET_NONE;
	e->lk.soft_budget = k->a.soft_budget != KEYS_UNSET ? k->a.soft_budget : BUDGET_NONE;
	e->lk.rpm = e->lk.tpm = BUDGET_NONE;	/* minute windows start at 0 */
	e->lk.has_window = k->a.budget_duration != NULL && k->a.budget_duration[0] &&
	    window_parse(k->a.budget_duration, &e->lk.window, err, sizeof(err)) == 0;
	e->lk.model_budget = BUDGET_NONE;	/* model targets: add_model_targets() */
	add_model_targets(rb, e->id, k);
	rb->nk++;
	return 0;
}

static const struct limitset_key *
key_limits(const struct rebuild *rb, const char *id)
{
	struct key_entry want, *e;

	snprintf(want.id, sizeof(want.id), "%s", id);
	e = bsearch(&want, rb->k, rb->nk, sizeof(*e), key_cmp);
	return e ? &e->lk : NULL;
}

/* Adds amount, spent at when, to the targets who counts against; tags: which rows. */
static void
count(struct rebuild *rb, const struct limitset_who *who, int64_t when, __int128 amount,
    int whole_day, int tag_row)
{
	struct budget_limit limits[BUDGET_HOLD_MAX];
	struct limitset_entry what[BUDGET_HOLD_MAX];
	size_t n, i;

	n = limitset_for(&rb->c->tollgate, who, key_limits(rb, who->key), limits, what,
	    BUDGET_HOLD_MAX);
	for (i = 0; i < n; i++) {
		struct target key, *t;

		/* a day row with tags collapsed counts all but tag budgets; a tag row only those */
		if ((what[i].kind == LIMIT_TAG) != tag_row)
			continue;
		memcpy(key.limit.id, limits[i].id, sizeof(key.limit.id));
		if ((t = bsearch(&key, rb->t, rb->nt, sizeof(*t), target_cmp)) == NULL)
			continue;
		if (whole_day ? when >= t->first_day && when < rb->today :
		    when >= t->start && when < t->end && (when >= rb->today || when < t->first_day))
			t->sum += amount;
	}
	for (i = 0; !whole_day && !tag_row && who->model != NULL && i < rb->nm; i++) {
		struct target key, *t;

		if (strcmp(rb->m[i].key, who->key) != 0 || strcmp(rb->m[i].model, who->model) != 0)
			continue;
		memcpy(key.limit.id, rb->m[i].id, sizeof(key.limit.id));
		if ((t = bsearch(&key, rb->t, rb->nt, sizeof(*t), target_cmp)) != NULL &&
		    when >= t->start && when < t->end)
			t->sum += amount;
	}
}

static int
on_day_row(void *arg, const struct agg_row *row)
{
	struct limitset_who who = {
		row->dim[AGG_DIM_KEY], row->dim[AGG_DIM_USER], row->dim[AGG_DIM_TEAM],
		row->dim[AGG_DIM_CUSTOMER], row->all_tags ? "" : row->dim[AGG_DIM_TAG], NULL,
	};

	count(arg, &who, row->bucket_ns, row->v->total, 1, !row->all_tags);
	return 0;
}

static int
on_record(void *arg, const struct record *r)
{
	struct limitset_who who = { r->key, r->user, r->team, r->customer, "", r->model_requested };
	char tags[sizeof(r->tags) + 1], *seen[64], *p, *q;
	size_t nseen = 0, i;

	count(arg, &who, r->end_ns, r->total, 0, 0);
	/* each distinct tag once, as the aggregates count them */
	snprintf(tags, sizeof(tags), "%s", r->tags);
	for (p = tags; *p && nseen < 64; p = q) {
		if ((q = strchr(p, ',')) != NULL)
			*q++ = '\0';
		else
			q = p + strlen(p);
		for (i = 0; i < nseen && strcmp(seen[i], p) != 0; i++)
			;
		if (*p == '\0' || i < nseen)
			continue;
		seen[nseen++] = p;
		who.tags = p;
		who.model = NULL;
		count(arg, &who, r->end_ns, r->total, 0, 1);
	}
	return 0;
}

/* Collects the counters to fill: every configured budget and every key. */
static int
collect(struct rebuild *rb, struct ledger *l, char *err, size_t errlen)
{
	struct budget_limit limits[BUDGET_HOLD_MAX];
	struct limitset_entry what[BUDGET_HOLD_MAX];
	struct keys *ks;
	size_t i;

	if (keys_open(l, &ks, err, errlen) < 0)
		return -1;
	if (keys_list(ks, on_key, rb, err, errlen) < 0) {
		keys_close(ks);
		return -1;
	}
	keys_close(ks);
	qsort(rb->k, rb->nk, sizeof(*rb->k), key_cmp);
	for (i = 0; i < rb->nk; i++) {
		struct limitset_who who = { rb->k[i].id, "", "", "", "", NULL };

		/*
		 * The key's own counter only, which comes first (configured budgets
		 * are added below): past max, limitset_for returns max + 1 with
		 * nothing more filled in.
		 */
		if (limitset_for(&rb->c->tollgate, &who, &rb->k[i].lk, limits, what, 1) > 0)
			add_target(rb, &limits[0]);
	}
	for (i = 0; i < rb->c->tollgate.nbudgets; i++) {
		const struct config_budget *b = &rb->c->tollgate.budgets[i];
		struct budget_limit bl;

		memset(&bl, 0, sizeof(bl));
		limitset_budget_id(b, bl.id, sizeof(bl.id));
		bl.max = b->max_budget;
		bl.has_window = b->has_window;
		bl.window = b->window;
		add_target(rb, &bl);
	}
	qsort(rb->t, rb->nt, sizeof(*rb->t), target_cmp);
	return 0;
}

int
counters_rebuild(const struct config *c, int only_new, char *err, size_t errlen)
{
	struct rebuild rb = { .c = c, .only_new = only_new };
	int64_t first = INT64_MAX, raw_from;
	struct ledger *l;
	size_t i, done;
	int rc = -1;

	rb.now = clock_now_ns();
	rb.today = time_day_start(rb.now);
	raw_from = rb.today;
	if (ledger_open(heritage.ledger_dir, LEDGER_WRITE, (size_t)c->tollgate.ledger_map_size, 0,
	    &l, err, errlen) < 0)
		return -1;
	if (collect(&rb, l, err, errlen) < 0)
		goto out;
	if (rb.nt == 0) {
		rc = 0;
		goto out;
	}
	do {
		if (aggregate_follow(l, INT64_MAX, 50000, &done, err, errlen) < 0)
			goto out;
	} while (done > 0);
	for (i = 0; i < rb.nt; i++) {
		if (rb.t[i].first_day < first)
			first = rb.t[i].first_day;
		if (rb.t[i].start != rb.t[i].first_day && rb.t[i].start < raw_from)
			raw_from = rb.t[i].start;
	}
	if (first < rb.today &&
	    aggregate_scan(l, AGG_TABLE_DAY, first, rb.today, on_day_row, &rb, err, errlen) < 0)
		goto out;
	if (ledger_range(l, raw_from, INT64_MAX, on_record, &rb) < 0) {
		log_into(err, errlen, "cannot read ledger '%s'", heritage.ledger_dir);
		goto out;
	}
	for (i = 0; i < rb.nt; i++) {
		int64_t sum = rb.t[i].sum > INT64_MAX ? INT64_MAX : (int64_t)rb.t[i].sum;

		/* also at 0: the counter, its limit and window are there for tollctl status */
		if (heritage.budgets->ops->add(heritage.budgets, &rb.t[i].limit, sum,
		    rb.now, rb.now) < 0) {
			log_into(err, errlen, "the budget counters are full");
			goto out;
		}
	}
	log_info("budget counters: %zu filled from the ledger", rb.nt);
	rc = 0;
out:
	ledger_close(l);
	free(rb.t);
	free(rb.k);
	free(rb.m);
	return rc;
}
