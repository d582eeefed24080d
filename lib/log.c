/*
 * Logging to stderr (the daemon's supervisor, systemd or a terminal, owns the
 * stream).  Used by every process and by tollctl.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static const char *log_progname = "tollgate";
static enum log_level log_threshold = LOG_LEVEL_INFO;

void
log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_threshold = level;
}

static void
log_emit(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];

	if (level > log_threshold)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: %s%s\n", log_progname, prefix, line);
}

#define LOG_FN(name, level, prefix)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_emit(level, prefix, fmt, ap);		\
	va_end(ap);					\
}

LOG_FN(log_error, LOG_LEVEL_ERROR, "error: ")
LOG_FN(log_warn, LOG_LEVEL_WARN, "warning: ")
LOG_FN(log_info, LOG_LEVEL_INFO, "")
LOG_FN(log_debug, LOG_LEVEL_DEBUG, "debug: ")

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}
