/*
 * Money: decimal text to scaled integers (never through a double), rounding
 * half to even, exact formatting, and sums far past 10^12 USD.
 */
#include "money.h"
#include "tap.h"

static void
parses(const char *text, int scale, long long want)
{
	int64_t v = -12345;
	int rc = money_parse_decimal(text, strlen(text), scale, 1, &v);

	ok(rc == 0 && v == want, "'%s' at 10^-%d is %lld (got rc %d, %lld)", text, scale, want, rc,
	    (long long)v);
}

static void
rejects(const char *text, int scale, int allow_negative)
{
	int64_t v;

	ok(money_parse_decimal(text, strlen(text), scale, allow_negative, &v) < 0,
	    "'%s' is rejected", text);
}

static void
formats(money_sum v, int scale, const char *want)
{
	char buf[MONEY_FORMAT_MAX];

	is_str(money_format(v, scale, buf), want, "format %s", want);
}

int
main(void)
{
	money_sum sum = 0;
	char buf[MONEY_FORMAT_MAX];
	int i;

	parses("3e-7", 18, 300000000000LL);
	parses("3E-07", 18, 300000000000LL);
	parses("0.000003", 18, 3000000000000LL);
	parses("2.5e-06", 18, 2500000000000LL);
	parses("6.25e-8", 18, 62500000000LL);
	parses("0", 18, 0);
	parses("0.0", 18, 0);
	parses("1", 12, 1000000000000LL);
	parses("256000.0", 0, 256000);
	parses("1.5E+2", 0, 150);
	parses("-0.5", 1, -5);
	parses("+7", 0, 7);
	/* binary-float artefacts in the community map round away at 1e-18 */
	parses("2.5000010000000002e-05", 18, 25000010000000LL);
	parses("1.9999700000000004e-06", 18, 1999970000000LL);
	/* half to even at the last kept digit */
	parses("0.5", 0, 0);
	parses("1.5", 0, 2);
	parses("2.5", 0, 2);
	parses("2.5000001", 0, 3);
	parses("0.4999999999999999999999999999999999999", 0, 0);
	parses("1e-30", 18, 0);
	parses("9.223372036854775807", 18, 9223372036854775807LL);
	rejects("9.3", 18, 0);
	rejects("", 0, 1);
	rejects("abc", 0, 1);
	rejects("1.2.3", 0, 1);
	rejects("1e", 0, 1);
	rejects("-1", 0, 0);
	rejects("1e999", 0, 1);
	rejects("0x10", 0, 1);
	rejects(".", 0, 1);

	{
		int64_t v;
		int inexact = -1;

		ok(money_parse_decimal_ex("12.0001", 7, 0, 1, &v, &inexact) == 0 && v == 12 &&
		    inexact == 1, "12.0001 at 10^0 is 12, inexact");
		ok(money_parse_decimal_ex("1.5e3", 5, 0, 1, &v, &inexact) == 0 && v == 1500 &&
		    inexact == 0, "1.5e3 is exactly 1500");
		ok(money_parse_decimal_ex("1e-19", 5, 0, 1, &v, &inexact) == 0 && v == 0 &&
		    inexact == 1, "1e-19 rounds to 0, inexact");
	}
	formats(11684000000LL, 12, "0.011684");
	formats(0, 12, "0");
	formats(1, 12, "0.000000000001");
	formats(-5, 1, "-0.5");
	formats((money_sum)12 * 1000000000000LL, 12, "12");
	formats(300000000000LL, 18, "0.0000003");

	is_int((long long)money_div_round(5, 2), 2, "5/2 rounds half to even");
	is_int((long long)money_div_round(7, 2), 4, "7/2 rounds half to even");
	is_int((long long)money_div_round(-7, 2), -4, "-7/2 rounds symmetrically");
	is_int((long long)money_div_round(10, 3), 3, "10/3");

	/* A million records of a $9M maximum each: 9.2e12 USD, still exact. */
	for (i = 0; i < 1000000; i++)
		sum += INT64_MAX;
	is_str(money_format(sum, 12, buf), "9223372036854.775807", "sum of a million maximal costs (9.2e12 USD) is exact");
	sum = (money_sum)1000000000000LL * MONEY_PICO_PER_USD;	/* 10^12 USD */
	sum += 1;
	is_str(money_format(sum, 12, buf), "1000000000000.000000000001",
	    "10^12 USD plus one picodollar is exact");
	return done_testing();
}
