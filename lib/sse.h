/*
 * Server-sent events split incrementally: bytes go in as they arrive, each
 * complete event comes out through a callback with its name and its data
 * (data lines joined with '\n').  Lines end in LF, CRLF or a lone CR, as
 * the WHATWG event-stream format has it, wherever the bytes are cut.
 * Comments and blank events are dropped.
 *
 * A relay that passes the stream's own bytes on reads two offsets into the
 * input (bytes fed since sse_init): in a callback, the event's bytes are
 * [event_at, at), its first field line to the end of the blank line that
 * ended it; between calls, the input before sse_settled() belongs to no
 * event still being read.
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
	size_t		event_line;	/* line where the current event began; 0: none */
	int		cr;		/* last byte was '\r' */
	size_t		at;		/* input taken in whole lines, line ends included */
	size_t		event_at;	/* input before the current event's first line */
};

/* Returns 0 to go on, -1 to stop; sse_feed then returns -1. */
typedef int (*sse_event_fn)(void *arg, const char *event, const char *data,
    size_t len, size_t line);

void sse_init(struct sse *s);
/* Starts a new stream, keeping the buffers' memory. */
void sse_reset(struct sse *s);
int sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg);
/* Delivers a last event that was not followed by a blank line. */
int sse_finish(struct sse *s, sse_event_fn fn, void *arg);
/* The input before the event being read, or all whole lines when none is. */
size_t sse_settled(const struct sse *s);
void sse_release(struct sse *s);

#endif
