/*
 * Retention in a scratch ledger: records spread over twelve days, counted by
 * the aggregates.  Pruning deletes nothing while days wait for their export,
 * then exactly the records before the cut's day start; never a record the
 * aggregates have not counted; batches stop at their size; the day
 * aggregates are the same before and after, and after a rebuild (which keeps
 * pruned days and counts nothing twice); the journal shrinks and still
 * numbers new commits after the last; the export's changed-day marks are
 * cleared only when unchanged.
 */
#include <ftw.h>
#include <unistd.h>

#include "aggregate.h"
#include "clock.h"
#include "ledger.h"
#include "record.h"
#include "retention.h"
#include "timeparse.h"
#include "tap.h"

#define NS_DAY		(86400LL * 1000000000)
#define NDAYS		12
#define PER_DAY		50

static char root[256], dir[300];
static int64_t today;

static void
mkrec(struct record *r, int64_t end_ns, int i)
{
	memset(r, 0, sizeof(*r));
	r->end_ns = end_ns;
	r->start_ns = end_ns - 1000;
	r->worker = 1;
	r->status = 200;
	snprintf(r->key, sizeof(r->key), "key-%d", i % 3);
	snprintf(r->model_requested, sizeof(r->model_requested), "m-%d", i % 2);
	snprintf(r->provider, sizeof(r->provider), "openai");
	r->tokens[RECORD_TOK_INPUT] = 100 + i;
	r->cost[COST_INPUT] = 1000000LL * (i + 1);
	r->total = r->cost[COST_INPUT];
}

/* Requests and cost per day of the day table, all days in [0, NDAYS] back. */
struct days {
	int64_t		requests[NDAYS + 1];
	__int128	total[NDAYS + 1];
};

static int
day_visit(void *arg, const struct agg_row *row)
{
	struct days *d = arg;
	int64_t back = (today - row->bucket_ns) / NS_DAY;

	if (row->all_tags && back >= 0 && back <= NDAYS) {
		d->requests[back] += row->v->requests;
		d->total[back] += row->v->total;
	}
	return 0;
}

static void
read_days(struct ledger *l, struct days *d)
{
	char err[256];

	memset(d, 0, sizeof(*d));
	if (aggregate_scan(l, AGG_TABLE_DAY, 0, INT64_MAX, day_visit, d, err, sizeof(err)) < 0)
		diag("%s", err);
}

static int
pass_any(void *arg, const struct record *r, uint64_t seq)
{
	(void)arg, (void)r, (void)seq;
	return 0;
}

static size_t
follow_all(struct ledger *l)
{
	size_t done, all = 0;
	char err[256];

	do {
		if (aggregate_follow(l, INT64_MAX, 1000, &done, err, sizeof(err)) < 0) {
			diag("%s", err);
			break;
		}
		all += done;
	} while (done > 0);
	return all;
}

static uint64_t
count_records(struct ledger *l)
{
	uint64_t n = 0, used, map;

	ledger_stat(l, &n, &used, &map);
	return n;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Marks every changed day as exported, as the accountant does after writing them. */
static size_t
export_all(struct ledger *l)
{
	struct agg_dirty days[64];
	size_t n = 0;

	if (aggregate_dirty_days(l, days, 64, &n) < 0 || aggregate_clear_dirty(l, days, n) < 0)
		diag("cannot clear the changed-day marks");
	return n;
}

static int
same_days(const struct days *a, const struct days *b)
{
	int i;

	for (i = 0; i <= NDAYS; i++)
		if (a->requests[i] != b->requests[i] || a->total[i] != b->total[i])
			return 0;
	return 1;
}

int
main(void)
{
	struct record recs[PER_DAY], late;
	struct days before, after;
	struct prune_result res;
	struct ledger *l;
	struct agg_dirty marks[64];
	char err[512];
	size_t n, i;
	int d;

	today = time_day_start(clock_now_ns());
	snprintf(root, sizeof(root), "/tmp/t_retention.XXXXXX");
	if (mkdtemp(root) == NULL)
		return printf("Bail out! mkdtemp\n"), 1;
	snprintf(dir, sizeof(dir), "%s/ledger", root);
	if (ledger_open(dir, LEDGER_WRITE, 64u << 20, 1, &l, err, sizeof(err)) < 0)
		return printf("Bail out! %s\n", err), 1;

	/* PER_DAY records in each of the days 1..NDAYS back, at noon */
	for (d = 1; d <= NDAYS; d++) {
		for (i = 0; i < PER_DAY; i++)
			mkrec(&recs[i], today - d * NS_DAY + NS_DAY / 2 + (int64_t)i, (int)i + d);
		if (ledger_append(l, recs, PER_DAY, err, sizeof(err)) != 0)
			diag("append: %s", err);
	}
	is_int((long long)follow_all(l), NDAYS * PER_DAY, "the aggregates count every record");
	read_days(l, &before);
	is_int(before.requests[3], PER_DAY, "day 3 has its records");

	/* every day is changed and not exported yet: nothing may go */
	ok(retention_prune(l, today - 5 * NS_DAY, 1, NULL, 100000, &res, err, sizeof(err)) == 0,
	    "prune waiting for exports");
	is_int((long long)res.records, 0, "no record pruned before its day is exported");
	is_int((long long)count_records(l), NDAYS * PER_DAY, "all records still there");
	is_int((long long)export_all(l), NDAYS, "twelve changed days exported");

	/* a record counted into day 9 after the export: day 9 changed again */
	mkrec(&late, today - 9 * NS_DAY + 1000, 7);
	ledger_append(l, &late, 1, err, sizeof(err));
	is_int((long long)follow_all(l), 1, "the late record is counted");
	ok(retention_prune(l, today - 5 * NS_DAY - 1, 1, NULL, 100000, &res, err, sizeof(err)) == 0,
	    "prune with day 9 changed");
	is_int((long long)res.records, 3 * PER_DAY, "days 10 to 12 pruned, day 9 waits");
	is_int(res.horizon_ns, today - 9 * NS_DAY, "horizon: day 9");
	export_all(l);

	/* batches */
	ok(retention_prune(l, today - 5 * NS_DAY, 1, NULL, 30, &res, err, sizeof(err)) == 0 &&
	    res.records == 30 && res.more, "a batch stops at its size and says there is more");
	is_int(res.horizon_ns, today - 8 * NS_DAY,
	    "horizon: past the day of the last record deleted (a rebuild now keeps that day's rows)");
	{
		/* a rebuild between batches keeps the half-pruned day whole */
		struct days mid;

		ok(aggregate_reset(l, err, sizeof(err)) == 0, "reset between batches");
		follow_all(l);
		read_days(l, &mid);
		ok(mid.requests[9] == before.requests[9] + 1 && mid.requests[8] == before.requests[8],
		    "day 9, half pruned, and day 8 are whole after it (%lld, %lld)",
		    (long long)mid.requests[9], (long long)mid.requests[8]);
		ok(aggregate_reset(l, err, sizeof(err)) == 0, "a second reset");
		follow_all(l);
		read_days(l, &mid);
		ok(mid.requests[9] == before.requests[9] + 1 && mid.requests[5] == before.requests[5],
		    "counts nothing twice");
		export_all(l);
	}
	n = 0;
	do {
		if (retention_prune(l, today - 5 * NS_DAY, 1, NULL, 30, &res, err, sizeof(err)) < 0)
			break;
		n += res.records;
	} while (res.more);
	is_int((long long)n, 4 * PER_DAY + 1 - 30, "the rest of days 6 to 9 in batches");
	is_int(res.horizon_ns, today - 5 * NS_DAY, "horizon: the cut's day start");
	is_int((long long)count_records(l), 5 * PER_DAY, "days 1 to 5 remain");
	read_days(l, &after);
	before.requests[9]++;
	before.total[9] += late.total;
	ok(same_days(&before, &after), "day aggregates unchanged by pruning");

	/* an uncounted old record holds the cut below its day */
	mkrec(&late, today - 4 * NS_DAY + 5, 3);
	ledger_append(l, &late, 1, err, sizeof(err));
	ok(retention_prune(l, today - 2 * NS_DAY, 0, NULL, 100000, &res, err, sizeof(err)) == 0,
	    "prune with an uncounted record of day 4");
	is_int((long long)res.records, PER_DAY, "only day 5 goes");
	is_int(res.horizon_ns, today - 4 * NS_DAY, "horizon: the uncounted record's day");
	follow_all(l);
	before.requests[4]++;
	before.total[4] += late.total;

	/* a record of a pruned day arrives late (a replayed spill) and is counted */
	mkrec(&late, today - 8 * NS_DAY + 11, 4);
	ledger_append(l, &late, 1, err, sizeof(err));
	follow_all(l);
	before.requests[8]++;
	before.total[8] += late.total;

	/* rebuild: pruned days kept, nothing counted twice */
	ok(aggregate_reset(l, err, sizeof(err)) == 0, "reset of a pruned ledger");
	/* committed after the reset, before the follow: counted, though below the horizon */
	mkrec(&late, today - 7 * NS_DAY + 13, 5);
	ledger_append(l, &late, 1, err, sizeof(err));
	before.requests[7]++;
	before.total[7] += late.total;
	follow_all(l);
	read_days(l, &after);
	ok(same_days(&before, &after), "rebuild equals the aggregates before it, pruned days too");
	for (d = 0; d <= NDAYS; d++)
		if (before.requests[d] != after.requests[d])
			diag("day %d: %lld before, %lld after", d, (long long)before.requests[d],
			    (long long)after.requests[d]);

	/* marks: a day changed after it was read is not cleared */
	mkrec(&late, today - 1 * NS_DAY + 7, 1);
	ledger_append(l, &late, 1, err, sizeof(err));
	follow_all(l);
	aggregate_dirty_days(l, marks, 64, &n);
	mkrec(&late, today - 1 * NS_DAY + 9, 2);
	ledger_append(l, &late, 1, err, sizeof(err));
	follow_all(l);
	aggregate_clear_dirty(l, marks, n);
	aggregate_dirty_days(l, marks, 64, &n);
	ok(n == 1 && marks[0].day_ns == today - NS_DAY, "a day changed after the read stays marked");

	/* the journal: pruned entries gone, the newest kept, new commits after it */
	{
		uint64_t pending = 1;

		export_all(l);
		/* a journal follower (the shipper) with no position yet holds every record */
		ok(retention_prune(l, today, 1, "ship", 100000, &res, err, sizeof(err)) == 0 &&
		    res.records == 0, "a follower with no position: nothing pruned");
		ok(ledger_follow(l, "ship", 1000000, pass_any, NULL, &pending, NULL) == 0 &&
		    ledger_follow_commit(l, "ship", pending) == 0, "the follower passes them all");
		retention_prune(l, today, 1, "ship", 100000, &res, err, sizeof(err));
		ok(res.journal > 0, "journal entries of pruned records deleted (%zu)", res.journal);
		is_int((long long)count_records(l), 0, "every record before today pruned");
		mkrec(&late, today + 5, 1);
		ledger_append(l, &late, 1, err, sizeof(err));
		aggregate_lag(l, &pending);
		is_int((long long)pending, 1, "a commit after pruning is one new for the follow");
		is_int((long long)follow_all(l), 1, "and is counted");
	}

	ledger_close(l);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
