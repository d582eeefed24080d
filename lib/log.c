/*
 * Logging to stderr (the daemon's supervisor, systemd or a terminal, owns the
 * stream).  Used by every process and by tollctl.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "tollgate";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static char log_role[64];
static char log_path[4096];

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
	if (log_role[0])
		fprintf(stderr, "%s[%s %ld]: %s%s\n", log_progname, log_role, (long)getpid(),
		    prefix, line);
	else
		fprintf(stderr, "%s: %s%s\n", log_progname, prefix, line);
}

void
log_set_prefix(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

static int
log_attach(void)
{
	if (freopen(log_path, "a", stderr) == NULL)
		return -1;
	setvbuf(stderr, NULL, _IOLBF, 0);
	return 0;
}

int
log_open(const char *path)
{
	if (path == NULL) {
		log_path[0] = '\0';
		return 0;
	}
	snprintf(log_path, sizeof(log_path), "%s", path);
	return log_attach();
}

void
log_reopen(void)
{
	if (log_path[0])
		log_attach();
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
log_into(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}
