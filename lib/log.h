/*
 * One logging family for every process and tool: messages go to stderr with
 * the program name, lower case, subject quoted, like git's.  fatal() is for
 * start-up only; nothing that serves requests may call it.
 */
#ifndef TOLLGATE_LOG_H
#define TOLLGATE_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *progname, enum log_level level);
/* Names the process's role in every line: "tollgated[worker 1234]: ...". */
void log_set_prefix(const char *role);
/* Sends the log to path (appending), or back to stderr for NULL; 0 or -1. */
int log_open(const char *path);
/* Reopens the log file (SIGUSR1, after rotation); nothing for stderr. */
void log_reopen(void);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Writes a message into a caller's error buffer (err may be NULL): how
 * library functions return "what went wrong" to whoever logs it.
 */
void log_into(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
