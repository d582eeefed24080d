/*
 * Budget windows: the periods after which a key's budget starts again
 * ("30s", "15m", "1h", "1d", "7d", "1mo"), aligned to calendar boundaries in
 * one time zone that the process sets once at start-up.  Workers ask for the
 * window holding a request; tollctl validates durations.
 *
 * A duration is a positive number followed by s, m, h, d or mo.  The window
 * holding an instant follows these rules, all in local time:
 *
 *   N mo	months counted from January 1970, from the 1st at 00:00 to the
 *		1st at 00:00: 1mo is a calendar month, 3mo a quarter (January,
 *		April, July, October), 12mo a calendar year.
 *   N d	days counted from Monday 1970-01-05, from 00:00 to 00:00: 1d is
 *		a calendar day, 7d a week from Monday to Monday, 14d two such
 *		weeks.  A day is as long as the calendar says: 23 or 25 hours
 *		across a DST change.
 *   N s/m/h	up to 24 hours: windows of exactly that length counted from
 *		local midnight; the last one of a day ends at the next local
 *		midnight (7h: 00-07, 07-14, 14-21, 21-24), so every day starts a
 *		fresh window.  Lengths are elapsed time: on a DST day, 1h windows
 *		still start on the hour, and a 6h window after the change starts
 *		at 05:00 or 07:00 wall-clock time (24h on a 25-hour day leaves a
 *		last window of one hour: write 1d for calendar days).
 *   N s/m/h	over 24 hours ("36h"): windows of exactly that length counted
 *		from the Unix epoch, with no calendar; write days ("2d") to
 *		follow the calendar.
 *
 * Local midnight is the first instant of a local date, also when a DST
 * change skips 00:00.
 */
#ifndef TOLLGATE_WINDOW_H
#define TOLLGATE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define WINDOW_TEXT_MAX	16	/* longest duration text accepted, NUL included */

enum window_unit { WINDOW_SECONDS, WINDOW_DAYS, WINDOW_MONTHS };

struct window {
	enum window_unit unit;
	int64_t		 n;	/* seconds, days or months */
};

/*
 * Parses a duration ("30s", "15m", "1h", "1d", "7d", "1mo").  Returns 0, or
 * -1 with "'text' is not a duration: ..." in err.
 */
int window_parse(const char *text, struct window *w, char *err, size_t errlen);

/*
 * Whether w is a window window_parse() can make: a known unit and a length
 * from 1 to its 100 years.  The other functions assume one; a window read
 * from outside (a file) is checked with this first.
 */
int window_valid(const struct window *w);

/*
 * Makes tz ("UTC", "Europe/Berlin") the process's time zone for every
 * window; call it once at start-up, before any window_bounds().  A zone
 * other than UTC must exist in the zone database ($TZDIR, else
 * /usr/share/zoneinfo).  Returns 0, or -1 with why in err (the time zone is
 * then unchanged).  Without a call, the zone is the process's TZ.
 */
int window_set_timezone(const char *tz, char *err, size_t errlen);

/*
 * The window of w holding now_ns (unix nanoseconds): [*start_ns, *end_ns),
 * with *start_ns <= now_ns < *end_ns.  It costs a few calls into the C
 * library's time zone code; callers that ask often can keep the bounds and
 * ask again once now reaches *end_ns.
 */
void window_bounds(const struct window *w, int64_t now_ns, int64_t *start_ns, int64_t *end_ns);

/*
 * t_ns moved forward by the duration w, the way a person would count it:
 * N s/m/h exactly, N d to the same local time N days later, N mo to the
 * same day N months later (the month's last day when it is shorter: January
 * 31 plus 1mo is the last day of February).  For expiry times ("30d").
 */
int64_t window_advance(const struct window *w, int64_t t_ns);

#endif
