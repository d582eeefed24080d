/*
 * Exact decimal parsing and formatting for prices and costs.  Pure functions,
 * used by every process.
 */
#include <string.h>

#include "money.h"

money_sum
money_div_round(money_sum num, money_sum den)
{
	money_sum q, r;
	int neg = num < 0;

	if (neg)
		num = -num;
	q = num / den;
	r = num % den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	return neg ? -q : q;
}

int
money_parse_decimal(const char *s, size_t len, int scale, int allow_negative,
    int64_t *out)
{
	return money_parse_decimal_ex(s, len, scale, allow_negative, out, NULL);
}

int
money_parse_decimal_ex(const char *s, size_t len, int scale, int allow_negative,
    int64_t *out, int *inexact)
{
	const char *p = s, *end = s + len;
	char digits[64];
	int ndigits = 0, seen_point = 0, neg = 0, dropped_nonzero = 0;
	int any = 0, intdigits = 0;
	long exp10 = 0;
	money_sum v = 0;
	int i, shift;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end)
		return -1;
	/* Mantissa: keep up to 60 significant digits, note the point. */
	for (; p < end && ((*p >= '0' && *p <= '9') || *p == '.'); p++) {
		if (*p == '.') {
			if (seen_point)
				return -1;
			seen_point = 1;
			continue;
		}
		any = 1;
		if (!seen_point)
			intdigits++;
		if (ndigits == 0 && *p == '0') {
			/* leading zero: contributes nothing but position */
			if (seen_point)
				exp10--;
			else
				intdigits--;
			continue;
		}
		if (ndigits < 60)
			digits[ndigits++] = *p;
		else if (*p != '0')
			dropped_nonzero = 1;	/* past 60 digits: only rounding */
	}
	if (!any)
		return -1;
	if (p < end && (*p == 'e' || *p == 'E')) {
		int eneg = 0, edigits = 0;
		long e = 0;
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++, edigits++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		if (!edigits)
			return -1;
		exp10 += eneg ? -e : e;
	}
	if (p != end)
		return -1;
	if (inexact)
		*inexact = dropped_nonzero;
	if (ndigits == 0) {
		*out = 0;
		return 0;
	}
	/*
	 * value = 0.d1d2...dn * 10^(intdigits + exp10) where intdigits counts
	 * significant digits before the point.  The scaled integer is
	 * d1...dn * 10^(intdigits + exp10 - n + scale).
	 */
	shift = (int)(intdigits + exp10 - ndigits + scale);
	if (intdigits + exp10 + scale > 19)
		return -1;
	if (shift >= 0) {
		for (i = 0; i < ndigits; i++)
			v = v * 10 + (digits[i] - '0');
		for (i = 0; i < shift; i++)
			v *= 10;
	} else {
		int keep = ndigits + shift;	/* digits at or above 10^-scale */
		int cut = -shift, sticky = dropped_nonzero;
		money_sum rest = 0, half = 5;

		if (keep < 0) {
			/* Far below one unit: rounds to zero. */
			if (inexact)
				*inexact = 1;
			*out = 0;
			return neg && !allow_negative ? -1 : 0;
		}
		for (i = 0; i < keep; i++)
			v = v * 10 + (digits[i] - '0');
		/* The first dropped digits against one half; the rest are sticky. */
		if (cut > 30)
			cut = 30;
		for (i = 0; i < cut; i++) {
			int k = keep + i;
			rest = rest * 10 + (k < ndigits ? digits[k] - '0' : 0);
			if (i > 0)
				half *= 10;
		}
		for (i = keep + cut; i < ndigits; i++)
			if (digits[i] != '0')
				sticky = 1;
		if (inexact)
			*inexact = rest != 0 || sticky;
		if (rest > half || (rest == half && (sticky || (v & 1))))
			v++;
	}
	if (v > INT64_MAX)
		return -1;
	if (neg && v != 0 && !allow_negative)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

char *
money_format(money_sum value, int scale, char *buf)
{
	char tmp[MONEY_FORMAT_MAX];
	int n = 0, neg = value < 0, i, o = 0;
	unsigned __int128 u = neg ? -(unsigned __int128)value : (unsigned __int128)value;

	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	while (n <= scale)
		tmp[n++] = '0';
	if (neg)
		buf[o++] = '-';
	for (i = n - 1; i >= scale; i--)
		buf[o++] = tmp[i];
	/* fractional digits without trailing zeros */
	int last = -1;
	for (i = scale - 1; i >= 0; i--)
		if (tmp[i] != '0')
			last = i;
	if (last >= 0) {
		buf[o++] = '.';
		for (i = scale - 1; i >= last; i--)
			buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}
