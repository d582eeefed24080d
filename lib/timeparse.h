/*
 * Times on the command line: RFC 3339 dates and times ("2026-11-23",
 * "2026-11-23T19:31:06Z", "2026-11-23T19:31:06.5+01:00", "2026-11-23 19:31")
 * and relative forms counted back from now ("7d", "24h", "30m", "90s",
 * "2w").  Everything is UTC unless an offset says otherwise.
 */
#ifndef TOLLGATE_TIMEPARSE_H
#define TOLLGATE_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into unix nanoseconds.  0, or -1 with "what was expected" in err. */
int time_parse(const char *s, int64_t now_ns, int64_t *out_ns, char *err, size_t errlen);

/* Formats unix nanoseconds as "2026-11-23T19:31:06Z" (seconds precision). */
char *time_format(int64_t ns, char *buf, size_t len);

/* The start of the UTC day (and hour) holding ns. */
int64_t time_day_start(int64_t ns);
int64_t time_hour_start(int64_t ns);

#endif
