/*
 * Command-line times for tollctl's reports (see timeparse.h).  Pure
 * functions; no locale, no time zone database: UTC and explicit offsets only.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeparse.h"

#define NS_PER_SEC	1000000000LL

static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static int
parse_relative(const char *s, int64_t now_ns, int64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	int64_t n = 0, unit;

	while (isdigit((unsigned char)*p) && n < 100000000)
		n = n * 10 + (*p++ - '0');
	if (p == s)
		return -1;
	if (strcmp(p, "s") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0)
		unit = 60;
	else if (strcmp(p, "h") == 0)
		unit = 3600;
	else if (strcmp(p, "d") == 0)
		unit = 86400;
	else if (strcmp(p, "w") == 0)
		unit = 7 * 86400;
	else {
		snprintf(err, errlen, "'%s': a relative time is a number and s, m, h, d or w (7d, 24h)", s);
		return -2;
	}
	if (n > 100000LL * 86400 / unit) {
		snprintf(err, errlen, "'%s' reaches too far back", s);
		return -2;
	}
	*out = now_ns - n * unit * NS_PER_SEC;
	return 0;
}

int
time_parse(const char *s, int64_t now_ns, int64_t *out_ns, char *err, size_t errlen)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0, rc;
	int64_t frac = 0, scale = NS_PER_SEC, t;
	size_t len = strlen(s);
	const char *p;

	if (s[0] == '\0') {
		snprintf(err, errlen, "empty time: expected a date like 2026-11-23 or a relative time like 7d");
		return -1;
	}
	if (len < 10 || s[4] != '-') {
		rc = parse_relative(s, now_ns, out_ns, err, errlen);
		if (rc == 0)
			return 0;
		if (rc == -1)
			snprintf(err, errlen, "'%s' is not a time: expected RFC 3339 (2026-11-23, "
			    "2026-11-23T19:31:06Z) or a relative time (7d, 24h, 30m)", s);
		return -1;
	}
	if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &d) < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		goto bad;
	p = s + 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(p, 2, &h) < 0 || p[2] != ':' || digits(p + 3, 2, &mi) < 0 || h > 23 || mi > 59)
			goto bad;
		p += 5;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec) < 0 || sec > 60)
				goto bad;
			p += 3;
			if (*p == '.') {
				for (p++; isdigit((unsigned char)*p); p++)
					if (scale > 1) {
						scale /= 10;
						frac += (*p - '0') * scale;
					}
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			int oh, om, sign = *p == '-' ? -1 : 1;

			if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 ||
			    oh > 23 || om > 59)
				goto bad;
			off = sign * (oh * 3600 + om * 60);
			p += 6;
		}
	}
	if (*p != '\0')
		goto bad;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	/* nanoseconds in an int64_t hold 1677-09-21 to 2262-04-11; a second short of each end */
	if (t >= INT64_MAX / NS_PER_SEC || t <= INT64_MIN / NS_PER_SEC) {
		snprintf(err, errlen, "'%s' is out of range: times are between 1677-09-22 "
		    "and 2262-04-11", s);
		return -1;
	}
	*out_ns = t * NS_PER_SEC + frac;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a valid RFC 3339 date or time "
	    "(2026-11-23, 2026-11-23T19:31:06Z, 2026-11-23T19:31:06+01:00)", s);
	return -1;
}

char *
time_format(int64_t ns, char *buf, size_t len)
{
	/* rounded down, without the overflow ns - NS_PER_SEC + 1 has near INT64_MIN */
	time_t secs = (time_t)(ns / NS_PER_SEC - (ns % NS_PER_SEC < 0));
	struct tm tm;

	/* a time past struct tm's years (from a damaged file, say) has no date to show */
	if (gmtime_r(&secs, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

int64_t
time_day_start(int64_t ns)
{
	int64_t day = 86400 * NS_PER_SEC;

	return (ns >= 0 ? ns / day : (ns - day + 1) / day) * day;
}

int64_t
time_hour_start(int64_t ns)
{
	int64_t hour = 3600 * NS_PER_SEC;

	return (ns >= 0 ? ns / hour : (ns - hour + 1) / hour) * hour;
}
