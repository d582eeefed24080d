/*
 * Budget windows (see window.h for the alignment rules).  Used by workers,
 * per request, and by tollctl; the time zone is the process's (TZ), set
 * once by window_set_timezone() before anything else runs.
 *
 * Dates are reckoned as day numbers since 1970-01-01 on the local calendar,
 * converted with Howard Hinnant's civil algorithms, so no window arithmetic
 * ever passes through a wall-clock time that may not exist.  Only the first
 * instant of a date goes through mktime(), and that answer is checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "window.h"

#define NS_PER_SEC	1000000000LL
#define SECS_PER_DAY	86400LL
#define MONDAY_DAY	4	/* 1970-01-05, the first Monday after the epoch */
#define MAX_YEARS	100	/* the longest duration accepted */
#define TZDIR_DEFAULT	"/usr/share/zoneinfo"

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* The local calendar day number of t, and (when tm is given) its broken-down time. */
static int64_t
local_day(time_t t, struct tm *tm)
{
	struct tm local;

	if (tm == NULL)
		tm = &local;
	localtime_r(&t, tm);
	return days_from_civil((int64_t)tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
}

/*
 * The first second of local day number day.  mktime() answers for 00:00;
 * when that time does not exist (a DST change at midnight) the answer may
 * belong to the day before, and the first second is found by bisection
 * between two instants known to lie on either side.
 */
static time_t
day_start(int64_t day)
{
	struct tm tm = { 0 };
	time_t t, lo, hi, mid;
	int64_t y;
	int m, d;

	civil_from_days(day, &y, &m, &d);
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (local_day(t, &tm) == day && tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0)
		return t;
	/* no zone's offset is a day away from UTC: the day begins within these */
	lo = (time_t)(day * SECS_PER_DAY - 2 * SECS_PER_DAY);
	hi = (time_t)(day * SECS_PER_DAY + 2 * SECS_PER_DAY);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (local_day(mid, NULL) >= day)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* The longest window of a unit, in its own count (seconds, days, months). */
static int64_t
unit_max(enum window_unit unit)
{
	switch (unit) {
	case WINDOW_SECONDS:
		return MAX_YEARS * 366 * SECS_PER_DAY;
	case WINDOW_DAYS:
		return MAX_YEARS * 366;
	case WINDOW_MONTHS:
		return MAX_YEARS * 12;
	}
	return 0;
}

int
window_parse(const char *text, struct window *w, char *err, size_t errlen)
{
	const char *p = text;
	int64_t n = 0, max;

	/* saturates past any limit below, which then reports it */
	for (; *p >= '0' && *p <= '9'; p++)
		if (n <= MAX_YEARS * 366 * SECS_PER_DAY)
			n = n * 10 + (*p - '0');
	if (p == text) {
		log_into(err, errlen, "'%s' is not a duration: expected a number and s, m, h, d or "
		    "mo (30s, 15m, 1h, 1d, 7d, 1mo)", text);
		return -1;
	}
	if (strcmp(p, "s") == 0 || strcmp(p, "m") == 0 || strcmp(p, "h") == 0) {
		w->unit = WINDOW_SECONDS;
		n *= *p == 's' ? 1 : *p == 'm' ? 60 : 3600;
	} else if (strcmp(p, "d") == 0) {
		w->unit = WINDOW_DAYS;
	} else if (strcmp(p, "mo") == 0) {
		w->unit = WINDOW_MONTHS;
	} else {
		log_into(err, errlen, "'%s' is not a duration: unknown unit '%s' (expected s, m, h, "
		    "d or mo)", text, p);
		return -1;
	}
	max = unit_max(w->unit);
	if (n == 0 || n > max) {
		log_into(err, errlen, "'%s' is not a duration: %s", text,
		    n == 0 ? "it must be longer than zero" : "longer than 100 years");
		return -1;
	}
	w->n = n;
	return 0;
}

/* Whether name is a zone file under the zone database: a TZif file. */
static int
zone_exists(const char *name, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX], magic[4];
	FILE *f;
	size_t n;

	if (dir == NULL || *dir == '\0')
		dir = TZDIR_DEFAULT;
	/* a zone name, never a path that leaves the database */
	if (name[0] == '/' || strstr(name, "..") != NULL || strchr(name, ',') != NULL) {
		log_into(err, errlen, "unknown time zone '%s': expected a zone name such as "
		    "'Europe/Berlin' or 'UTC'", name);
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		log_into(err, errlen, "unknown time zone '%s': %s", name, strerror(ENAMETOOLONG));
		return -1;
	}
	if ((f = fopen(path, "re")) == NULL) {
		log_into(err, errlen, "unknown time zone '%s': cannot open '%s': %s", name, path,
		    strerror(errno));
		return -1;
	}
	n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (n != sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
		log_into(err, errlen, "unknown time zone '%s': '%s' is not a zone file", name, path);
		return -1;
	}
	return 0;
}

int
window_valid(const struct window *w)
{
	/* an enum read from a file may hold any value: compare it as a number */
	switch ((int)w->unit) {
	case WINDOW_SECONDS:
	case WINDOW_DAYS:
	case WINDOW_MONTHS:
		return w->n >= 1 && w->n <= unit_max(w->unit);
	}
	return 0;
}

int
window_set_timezone(const char *tz, char *err, size_t errlen)
{
	if (tz == NULL || *tz == '\0') {
		log_into(err, errlen, "empty time zone: expected a zone name such as 'UTC' or "
		    "'Europe/Berlin'");
		return -1;
	}
	/* the POSIX form of UTC needs no zone database */
	if (strcmp(tz, "UTC") == 0)
		tz = "UTC0";
	else if (zone_exists(tz, err, errlen) < 0)
		return -1;
	if (setenv("TZ", tz, 1) < 0) {
		log_into(err, errlen, "cannot set the time zone '%s': %s", tz, strerror(errno));
		return -1;
	}
	tzset();
	return 0;
}

void
window_bounds(const struct window *w, int64_t now_ns, int64_t *start_ns, int64_t *end_ns)
{
	time_t now = (time_t)floor_div(now_ns, NS_PER_SEC);
	int64_t day, first, y, len, midnight, next;
	struct tm tm;
	int m;

	if (w->unit == WINDOW_SECONDS && w->n > SECS_PER_DAY) {
		len = w->n * NS_PER_SEC;
		*start_ns = floor_div(now_ns, len) * len;
		*end_ns = *start_ns + len;
		return;
	}
	day = local_day(now, &tm);
	switch (w->unit) {
	case WINDOW_SECONDS:
		midnight = (int64_t)day_start(day) * NS_PER_SEC;
		next = (int64_t)day_start(day + 1) * NS_PER_SEC;
		len = w->n * NS_PER_SEC;
		*start_ns = midnight + floor_div(now_ns - midnight, len) * len;
		*end_ns = *start_ns + len < next ? *start_ns + len : next;
		break;
	case WINDOW_DAYS:
		first = MONDAY_DAY + floor_div(day - MONDAY_DAY, w->n) * w->n;
		*start_ns = (int64_t)day_start(first) * NS_PER_SEC;
		*end_ns = (int64_t)day_start(first + w->n) * NS_PER_SEC;
		break;
	case WINDOW_MONTHS:
		/* months since January 1970, rounded down to a multiple of n */
		first = ((int64_t)tm.tm_year - 70) * 12 + tm.tm_mon;
		first = floor_div(first, w->n) * w->n;
		y = 1970 + floor_div(first, 12);
		m = (int)(first - floor_div(first, 12) * 12) + 1;
		*start_ns = (int64_t)day_start(days_from_civil(y, m, 1)) * NS_PER_SEC;
		first += w->n;
		y = 1970 + floor_div(first, 12);
		m = (int)(first - floor_div(first, 12) * 12) + 1;
		*end_ns = (int64_t)day_start(days_from_civil(y, m, 1)) * NS_PER_SEC;
		break;
	}
	/*
	 * Only a zone whose clocks go back across midnight (the date repeats)
	 * can put now outside its day's bounds; keep the contract regardless.
	 */
	if (*start_ns > now_ns)
		*start_ns = now_ns;
	if (*end_ns <= now_ns)
		*end_ns = now_ns + 1;
}

int64_t
window_advance(const struct window *w, int64_t t_ns)
{
	time_t t = (time_t)floor_div(t_ns, NS_PER_SEC);
	int64_t frac = t_ns - (int64_t)t * NS_PER_SEC, y, months;
	struct tm tm;
	int m, dim;

	if (w->unit == WINDOW_SECONDS)
		return t_ns + w->n * NS_PER_SEC;
	localtime_r(&t, &tm);
	if (w->unit == WINDOW_DAYS) {
		tm.tm_mday += (int)w->n;
	} else {
		months = (int64_t)tm.tm_year * 12 + tm.tm_mon + w->n;
		y = floor_div(months, 12);
		m = (int)(months - y * 12);
		dim = days_in_month(y + 1900, m + 1);
		tm.tm_year = (int)y;
		tm.tm_mon = m;
		if (tm.tm_mday > dim)
			tm.tm_mday = dim;
	}
	/* the same wall-clock time; mktime() settles whether DST is then in force */
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * NS_PER_SEC + frac;
}
