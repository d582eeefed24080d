/*
 * Command-line times: RFC 3339 forms, offsets, relative forms, and errors.
 */
#include "timeparse.h"
#include "tap.h"

#define NOW 1795452666000000000LL	/* 2026-11-23T16:51:06Z */

static void
parses(const char *s, long long want)
{
	int64_t v = 0;
	char err[256] = "";
	int rc = time_parse(s, NOW, &v, err, sizeof(err));

	ok(rc == 0 && v == want, "'%s' is %lld (got %lld %s)", s, want, (long long)v, err);
}

static void
rejects(const char *s)
{
	int64_t v;
	char err[256] = "";

	ok(time_parse(s, NOW, &v, err, sizeof(err)) < 0 && strstr(err, s) != NULL,
	    "'%s' is refused: %s", s, err);
}

int
main(void)
{
	char buf[64];

	parses("1970-01-01", 0);
	parses("2026-11-23", 1795392000000000000LL);
	parses("2026-11-23T16:51:06Z", NOW);
	parses("2026-11-23 16:51:06", NOW);
	parses("2026-11-23T17:51:06+01:00", NOW);
	parses("2026-11-23T16:51:06.5Z", NOW + 500000000LL);
	parses("2026-11-23T16:51", NOW - 6000000000LL);
	/* the ends of what int64_t nanoseconds hold; past them once overflowed (fuzz_keys) */
	parses("2261-12-31T23:59:59Z", 9214646399000000000LL);
	parses("1678-01-01", -9214560000000000000LL);
	rejects("2262-04-12");
	rejects("4054-01-01T00:00:00.5Z");
	rejects("9999-12-31T23:59:59Z");
	rejects("1677-01-01");
	rejects("0000-01-01");
	parses("2024-02-29", 1709164800000000000LL);
	parses("7d", NOW - 7LL * 86400 * 1000000000);
	parses("24h", NOW - 24LL * 3600 * 1000000000);
	parses("30m", NOW - 1800LL * 1000000000);
	parses("2w", NOW - 14LL * 86400 * 1000000000);
	rejects("yesterday");
	rejects("7y");
	rejects("2026-13-01");
	rejects("2025-02-29");
	rejects("2026-11-23T25:00");
	rejects("2026-11-23X");
	rejects("");
	is_str(time_format(NOW, buf, sizeof(buf)), "2026-11-23T16:51:06Z", "formats as RFC 3339");
	is_int(time_day_start(NOW), 1795392000000000000LL, "start of the UTC day");
	is_int(time_hour_start(NOW), NOW - (51 * 60 + 6) * 1000000000LL, "start of the hour");
	return done_testing();
}
