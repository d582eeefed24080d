/*
 * Budget windows: duration parsing and its errors, time zone selection, the
 * window holding an instant in UTC, in Europe/Berlin across both DST
 * changes and in America/Santiago (where a DST change skips midnight),
 * month ends and leap years, sub-day windows, and expiry arithmetic.  A
 * sweep checks the contract on many instants: start <= now < end, and the
 * windows tile time without gaps or overlaps.
 */
#include "timeparse.h"
#include "window.h"
#include "tap.h"

#define NS	1000000000LL

static int64_t
at(const char *rfc3339)
{
	int64_t ns = 0;
	char err[256];

	if (time_parse(rfc3339, 0, &ns, err, sizeof(err)) < 0) {
		printf("Bail out! bad time in the test: %s\n", err);
		exit(1);
	}
	return ns;
}

static struct window
win(const char *text)
{
	struct window w = { 0 };
	char err[256];

	if (window_parse(text, &w, err, sizeof(err)) < 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return w;
}

static void
parses(const char *text, enum window_unit unit, int64_t n)
{
	struct window w = { 0 };
	char err[256] = "";
	int rc = window_parse(text, &w, err, sizeof(err));

	ok(rc == 0 && w.unit == unit && w.n == n, "'%s' parses to unit %d, n %lld (got %d %lld %s)",
	    text, unit, (long long)n, w.unit, (long long)w.n, err);
}

static void
rejects(const char *text, const char *why)
{
	struct window w;
	char err[256] = "", quoted[64];
	int rc = window_parse(text, &w, err, sizeof(err));

	snprintf(quoted, sizeof(quoted), "'%s'", text);
	ok(rc < 0 && strstr(err, quoted) != NULL && strstr(err, why) != NULL,
	    "'%s' is refused, naming it and saying '%s': %s", text, why, err);
}

/* The window of text holding now is [from, to), both RFC 3339. */
static void
bounds(const char *text, const char *now, const char *from, const char *to)
{
	struct window w = win(text);
	int64_t start, end;
	char a[40], b[40];

	window_bounds(&w, at(now), &start, &end);
	ok(start == at(from) && end == at(to), "%s at %s: [%s, %s) (got [%s, %s))", text, now,
	    from, to, time_format(start, a, sizeof(a)), time_format(end, b, sizeof(b)));
}

static void
lasts(const char *text, const char *now, int64_t hours)
{
	struct window w = win(text);
	int64_t start, end;

	window_bounds(&w, at(now), &start, &end);
	is_int((end - start) / (3600 * NS), hours, "%s at %s lasts %lld hours", text, now,
	    (long long)hours);
}

static void
advances(const char *text, const char *from, const char *to)
{
	struct window w = win(text);
	char got[40];
	int64_t t = window_advance(&w, at(from));

	ok(t == at(to), "%s after %s is %s (got %s)", text, from, to, time_format(t, got,
	    sizeof(got)));
}

static void
zone(const char *tz)
{
	char err[256] = "";

	if (!ok(window_set_timezone(tz, err, sizeof(err)) == 0, "time zone %s: %s", tz, err))
		exit(done_testing());
}

/*
 * Every window of every duration over two years, stepping by odd amounts:
 * now lies inside its window, the window before ends where it starts, and
 * the next starts where it ends.
 */
static void
sweep(const char *tz)
{
	static const char *const texts[] = { "30s", "15m", "1h", "6h", "7h", "24h", "36h", "1d",
	    "2d", "7d", "1mo", "3mo" };
	int64_t t, start, end, s2, e2, step = 7 * 3600 * NS + 13 * 60 * NS + 17 * NS + 123;
	size_t i;
	int bad = 0, checked = 0;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct window w = win(texts[i]);

		for (t = at("2024-01-01T00:00:00Z"); t < at("2026-01-01T00:00:00Z"); t += step) {
			window_bounds(&w, t, &start, &end);
			bad += !(start <= t && t < end);
			window_bounds(&w, start - 1, &s2, &e2);
			bad += e2 != start;
			window_bounds(&w, end, &s2, &e2);
			bad += s2 != end;
			checked++;
		}
	}
	is_int(bad, 0, "%s: %d windows contain their instant and tile time", tz, checked);
}

int
main(void)
{
	struct window w;
	int64_t start, end;
	char err[256];

	parses("30s", WINDOW_SECONDS, 30);
	parses("15m", WINDOW_SECONDS, 900);
	parses("1h", WINDOW_SECONDS, 3600);
	parses("36h", WINDOW_SECONDS, 36 * 3600);
	parses("1d", WINDOW_DAYS, 1);
	parses("7d", WINDOW_DAYS, 7);
	parses("1mo", WINDOW_MONTHS, 1);
	parses("12mo", WINDOW_MONTHS, 12);
	rejects("", "expected a number");
	rejects("d", "expected a number");
	rejects("-1d", "expected a number");
	rejects("1.5h", "unknown unit '.5h'");
	rejects("1w", "unknown unit 'w'");
	rejects("1D", "unknown unit 'D'");
	rejects("1 d", "unknown unit ' d'");
	rejects("1d ", "unknown unit 'd '");
	rejects("1", "unknown unit ''");
	rejects("1mon", "unknown unit 'mon'");
	rejects("0d", "longer than zero");
	rejects("0s", "longer than zero");
	rejects("1201mo", "longer than 100 years");
	rejects("99999999999999999999999s", "longer than 100 years");

	/* what a file may hold: only what window_parse() makes is valid */
	{
		static const char *const made[] = { "1s", "100s", "1d", "1200mo", "36500d" };
		struct window v;
		size_t i;
		int all = 1;

		for (i = 0; i < sizeof(made) / sizeof(made[0]); i++)
			all &= window_parse(made[i], &v, err, sizeof(err)) == 0 && window_valid(&v);
		ok(all, "every window window_parse() makes is valid");
		v = (struct window){ WINDOW_SECONDS, (int64_t)1 << 62 };
		ok(!window_valid(&v), "2^62 seconds is not (its nanoseconds overflow to 0)");
		v = (struct window){ WINDOW_MONTHS, 1201 };
		ok(!window_valid(&v), "nor 1201 months");
		v = (struct window){ WINDOW_DAYS, 0 };
		ok(!window_valid(&v), "nor 0 days");
		v = (struct window){ WINDOW_DAYS, -7 };
		ok(!window_valid(&v), "nor -7 days");
		memset(&v, 0xff, sizeof(v));
		ok(!window_valid(&v), "nor an unknown unit");
	}

	ok(window_set_timezone("Mars/Olympus_Mons", err, sizeof(err)) < 0 &&
	    strstr(err, "unknown time zone 'Mars/Olympus_Mons'") != NULL,
	    "an unknown zone is refused: %s", err);
	ok(window_set_timezone("../../etc/passwd", err, sizeof(err)) < 0 &&
	    strstr(err, "'../../etc/passwd'") != NULL, "a path out of the zone database is refused: %s",
	    err);
	ok(window_set_timezone("", err, sizeof(err)) < 0 && strstr(err, "empty time zone"),
	    "an empty zone is refused: %s", err);
	ok(window_set_timezone("zone.tab", err, sizeof(err)) < 0 && strstr(err, "not a zone file"),
	    "a file that is not a zone is refused: %s", err);

	zone("UTC");
	bounds("1d", "2026-11-23T16:51:06Z", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z");
	bounds("1d", "2026-11-23T00:00:00Z", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z");
	bounds("1d", "1969-12-31T23:59:59.5Z", "1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z");
	/* 2026-11-23 is a Monday, 2026-11-29 a Sunday */
	bounds("7d", "2026-11-23T00:00:00Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z");
	bounds("7d", "2026-11-29T23:59:59Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z");
	bounds("7d", "1970-01-01T12:00:00Z", "1969-12-29T00:00:00Z", "1970-01-05T00:00:00Z");
	bounds("2d", "1970-01-06T12:00:00Z", "1970-01-05T00:00:00Z", "1970-01-07T00:00:00Z");
	bounds("1mo", "2026-11-23T16:51:06Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
	bounds("3mo", "2026-11-23T16:51:06Z", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z");
	bounds("12mo", "2026-11-23T16:51:06Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
	bounds("30s", "2026-11-23T16:51:06Z", "2026-11-23T16:51:00Z", "2026-11-23T16:51:30Z");
	bounds("30s", "2026-11-23T16:51:30Z", "2026-11-23T16:51:30Z", "2026-11-23T16:52:00Z");
	bounds("30s", "2026-11-23T16:51:59.999999999Z", "2026-11-23T16:51:30Z",
	    "2026-11-23T16:52:00Z");
	bounds("30s", "2026-11-23T23:59:45Z", "2026-11-23T23:59:30Z", "2026-11-24T00:00:00Z");
	bounds("15m", "2026-11-23T16:51:06Z", "2026-11-23T16:45:00Z", "2026-11-23T17:00:00Z");
	bounds("1h", "2026-11-23T16:51:06Z", "2026-11-23T16:00:00Z", "2026-11-23T17:00:00Z");
	bounds("7h", "2026-11-23T16:51:06Z", "2026-11-23T14:00:00Z", "2026-11-23T21:00:00Z");
	bounds("7h", "2026-11-23T22:00:00Z", "2026-11-23T21:00:00Z", "2026-11-24T00:00:00Z");
	bounds("24h", "2026-11-23T16:51:06Z", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z");
	/* 36h windows count from the epoch: 1970-01-01T00, 1970-01-02T12, ... */
	bounds("36h", "1970-01-02T13:00:00Z", "1970-01-02T12:00:00Z", "1970-01-04T00:00:00Z");

	/* month ends and leap years */
	bounds("1mo", "2024-01-31T23:59:59.999999999Z", "2024-01-01T00:00:00Z",
	    "2024-02-01T00:00:00Z");
	bounds("1mo", "2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z");
	lasts("1mo", "2024-02-29T12:00:00Z", 29 * 24);
	lasts("1mo", "2023-02-28T12:00:00Z", 28 * 24);
	lasts("1mo", "2100-02-15T12:00:00Z", 28 * 24);
	lasts("1mo", "2000-02-15T12:00:00Z", 29 * 24);
	bounds("1mo", "2024-12-31T23:59:59Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z");
	bounds("1d", "2024-02-28T23:00:00Z", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z");
	bounds("1d", "2024-02-29T23:00:00Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z");

	advances("90s", "2026-11-23T16:51:06Z", "2026-11-23T16:52:36Z");
	advances("30d", "2026-11-23T16:51:06.25Z", "2026-12-23T16:51:06.25Z");
	advances("1mo", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z");
	advances("1mo", "2024-01-31T10:00:00Z", "2024-02-29T10:00:00Z");
	advances("1mo", "2024-12-15T10:00:00Z", "2025-01-15T10:00:00Z");
	advances("12mo", "2024-02-29T10:00:00Z", "2025-02-28T10:00:00Z");
	sweep("UTC");

	zone("Europe/Berlin");
	/* 2025-03-30: 02:00 CET becomes 03:00 CEST; 2025-10-26: 03:00 CEST becomes 02:00 CET */
	bounds("1d", "2025-03-30T12:00:00Z", "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z");
	lasts("1d", "2025-03-30T12:00:00Z", 23);
	bounds("1d", "2025-10-26T12:00:00Z", "2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z");
	lasts("1d", "2025-10-26T12:00:00Z", 25);
	lasts("1d", "2025-10-27T12:00:00Z", 24);
	bounds("1d", "2025-03-29T23:00:00Z", "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z");
	bounds("1d", "2025-03-29T22:59:59Z", "2025-03-28T23:00:00Z", "2025-03-29T23:00:00Z");
	/* the hour after the jump starts on the hour, local and UTC */
	bounds("1h", "2025-03-30T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-30T02:00:00Z");
	bounds("1h", "2025-10-26T01:30:00Z", "2025-10-26T01:00:00Z", "2025-10-26T02:00:00Z");
	/* 6h windows count elapsed time from midnight: 00:00 CET, 07:00 CEST, 13:00, 19:00 */
	bounds("6h", "2025-03-30T10:00:00Z", "2025-03-30T05:00:00Z", "2025-03-30T11:00:00Z");
	bounds("6h", "2025-03-30T21:30:00Z", "2025-03-30T17:00:00Z", "2025-03-30T22:00:00Z");
	bounds("7d", "2025-03-27T12:00:00Z", "2025-03-23T23:00:00Z", "2025-03-30T22:00:00Z");
	lasts("7d", "2025-03-27T12:00:00Z", 7 * 24 - 1);
	bounds("1mo", "2025-03-15T12:00:00Z", "2025-02-28T23:00:00Z", "2025-03-31T22:00:00Z");
	bounds("1mo", "2025-10-31T23:30:00Z", "2025-10-31T23:00:00Z", "2025-11-30T23:00:00Z");
	bounds("1mo", "2025-10-31T22:30:00Z", "2025-09-30T22:00:00Z", "2025-10-31T23:00:00Z");
	bounds("30s", "2025-03-30T01:00:10Z", "2025-03-30T01:00:00Z", "2025-03-30T01:00:30Z");
	bounds("30s", "2025-03-29T22:59:45Z", "2025-03-29T22:59:30Z", "2025-03-29T23:00:00Z");
	/* 30 days after noon CET is noon CEST: one hour less of elapsed time */
	advances("30d", "2025-03-15T11:00:00Z", "2025-04-14T10:00:00Z");
	advances("1d", "2025-10-25T10:00:00Z", "2025-10-26T11:00:00Z");
	sweep("Europe/Berlin");

	/* America/Santiago 2024-09-08: 00:00 -04 becomes 01:00 -03, the day starts at 01:00 */
	zone("America/Santiago");
	bounds("1d", "2024-09-07T12:00:00Z", "2024-09-07T04:00:00Z", "2024-09-08T04:00:00Z");
	bounds("1d", "2024-09-08T12:00:00Z", "2024-09-08T04:00:00Z", "2024-09-09T03:00:00Z");
	bounds("1h", "2024-09-08T04:30:00Z", "2024-09-08T04:00:00Z", "2024-09-08T05:00:00Z");
	sweep("America/Santiago");

	/* a refused zone leaves the one in force */
	window_set_timezone("Nowhere/Atlantis", err, sizeof(err));
	w = win("1d");
	window_bounds(&w, at("2024-09-08T12:00:00Z"), &start, &end);
	is_int(start, at("2024-09-08T04:00:00Z"), "a refused zone leaves America/Santiago in force");

	return done_testing();
}
