/*
 * Server-sent events split incrementally: bytes go in as they arrive, each
 * complete event comes out through a callback with its name and its data
 * (data lines joined with '\n').  Comments and blank events are dropped.
 */
#ifndef TOLLGATE_SSE_H
#define TOLLGATE_SSE_H

#include <stddef.h>

#include "buf.h"

struct sse {
	struct buf	line;		/* the unfinished line */
	struct buf	data;		/* data of the event being read */
	char		event[64];
	size_t		lineno;		/* lines seen, for messages */
	size_t		event_line;	/* line where the current event began */
	int		cr;		/* last byte was '\r' */
};

/* Returns 0 to go on, -1 to stop; sse_feed then returns -1. */
typedef int (*sse_event_fn)(void *arg, const char *event, const char *data,
    size_t len, size_t line);

void sse_init(struct sse *s);
int sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg);
/* Delivers a last event that was not followed by a blank line. */
int sse_finish(struct sse *s, sse_event_fn fn, void *arg);
void sse_release(struct sse *s);

#endif
