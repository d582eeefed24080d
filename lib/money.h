/*
 * Exact money.  Amounts are integers:
 *   - a cost is int64_t picodollars (1e-12 USD), at most about 9.2 million USD
 *     per record;
 *   - a price is int64_t attodollars (1e-18 USD) per unit (token, second,
 *     request, query), at most about 9.2 USD per unit;
 *   - a sum of costs is __int128 picodollars, which cannot overflow below
 *     10^26 USD.
 * Decimal text is parsed digit by digit, never through a double.
 */
#ifndef TOLLGATE_MONEY_H
#define TOLLGATE_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define MONEY_PICO_PER_USD	1000000000000LL
#define PRICE_ATTO_PER_USD	1000000000000000000LL
#define MONEY_PRICE_SCALE	18	/* decimal digits of a price */
#define MONEY_COST_SCALE	12	/* decimal digits of a cost */
#define MONEY_MULT_SCALE	6	/* decimal digits of a multiplier */
#define MONEY_FORMAT_MAX	48	/* buffer size for any formatted amount */

typedef __int128 money_sum;

/*
 * Parses decimal text ("3e-7", "0.000003", "1.5E+2", "256000.0") into an
 * integer scaled by 10^scale, rounding half to even past the last kept digit.
 * Returns 0, or -1 when the text is not a number, is negative and negative is
 * not allowed, or does not fit in int64.  The text need not be NUL-terminated.
 */
int money_parse_decimal(const char *s, size_t len, int scale, int allow_negative,
    int64_t *out);

/* The same, and *inexact (when not NULL) says whether rounding dropped a nonzero digit. */
int money_parse_decimal_ex(const char *s, size_t len, int scale, int allow_negative,
    int64_t *out, int *inexact);

/*
 * Formats value / 10^scale as exact decimal text without trailing zeros
 * ("0.011684", "12", "-0.5").  buf holds at least MONEY_FORMAT_MAX bytes.
 * Returns buf.
 */
char *money_format(money_sum value, int scale, char *buf);

/*
 * Rounds num / den to the nearest integer, half to even; den > 0.
 */
money_sum money_div_round(money_sum num, money_sum den);

#endif
