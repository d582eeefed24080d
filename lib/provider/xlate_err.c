/*
 * The refusal of a translation, kept apart from the glue (xlate.c) so that
 * a format's unit test links that format alone.
 */
#include <stdarg.h>
#include <stdio.h>

#include "provider/xlate.h"

void *
xlate_fail(struct xlate_error *e, int status, const char *param, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return NULL;
}
