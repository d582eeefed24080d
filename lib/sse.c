/*
 * The SSE splitter used on streamed responses (workers) and recorded streams
 * (tollctl).  Lines end in LF, CRLF or CR, as the spec allows: a CR ends its
 * line at once, and an LF right after it, even in the next piece of input,
 * only completes that line end.
 */
#include <string.h>

#include "sse.h"

void
sse_init(struct sse *s)
{
	memset(s, 0, sizeof(*s));
}

void
sse_reset(struct sse *s)
{
	struct buf line = s->line, data = s->data;

	sse_init(s);
	s->line = line;
	s->data = data;
	s->line.len = s->data.len = 0;
}

void
sse_release(struct sse *s)
{
	buf_release(&s->line);
	buf_release(&s->data);
}

size_t
sse_settled(const struct sse *s)
{
	return s->event_line ? s->event_at : s->at;
}

static int
dispatch(struct sse *s, sse_event_fn fn, void *arg)
{
	int rc = 0;

	if (s->data.len > 0) {
		/* the data of an event never ends in the newline that joined it */
		s->data.len--;
		s->data.data[s->data.len] = '\0';
		rc = fn(arg, s->event, s->data.data, s->data.len, s->event_line);
	}
	s->data.len = 0;
	s->event[0] = '\0';
	s->event_line = 0;
	return rc;
}

/* One line l[0..n), which began at input offset line_at. */
static int
one_line(struct sse *s, const char *l, size_t n, size_t line_at, sse_event_fn fn, void *arg)
{
	const char *colon, *v;
	size_t flen, vlen;

	s->lineno++;
	if (n == 0)
		return dispatch(s, fn, arg);
	if (l[0] == ':')
		return 0;
	colon = memchr(l, ':', n);
	flen = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vlen = (size_t)(l + n - v);
	if (vlen && *v == ' ')
		v++, vlen--;
	if (s->event_line == 0) {
		s->event_line = s->lineno;
		s->event_at = line_at;
	}
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		if (buf_append(&s->data, v, vlen) < 0 || buf_append(&s->data, "\n", 1) < 0)
			return -1;
	} else if (flen == 5 && memcmp(l, "event", 5) == 0) {
		if (vlen >= sizeof(s->event))
			vlen = sizeof(s->event) - 1;
		memcpy(s->event, v, vlen);
		s->event[vlen] = '\0';
	}
	/* id, retry and unknown fields carry nothing tollgate needs */
	return 0;
}

int
sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg)
{
	const char *start = p, *end = p + n;
	size_t base = s->at + s->line.len;	/* input offset of p[0] */

	while (p < end) {
		const char *nl = p, *next;
		size_t line_at = s->at;

		if (s->cr && *p == '\n') {
			/* the LF of a CRLF whose CR ended the previous piece */
			s->cr = 0;
			s->at++;
			p++;
			continue;
		}
		s->cr = 0;
		while (nl < end && *nl != '\n' && *nl != '\r')
			nl++;
		if (nl == end)
			return buf_append(&s->line, p, (size_t)(end - p));
		next = nl + 1;
		if (*nl == '\r') {
			if (next < end && *next == '\n')
				next++;
			else if (next == end)
				s->cr = 1;
		}
		/* in the callback, at is the end of the line that ended the event */
		s->at = base + (size_t)(next - start);
		if (s->line.len) {
			if (buf_append(&s->line, p, (size_t)(nl - p)) < 0 ||
			    one_line(s, s->line.data, s->line.len, line_at, fn, arg) < 0)
				return -1;
			s->line.len = 0;
		} else if (one_line(s, p, (size_t)(nl - p), line_at, fn, arg) < 0)
			return -1;
		p = next;
	}
	return 0;
}

int
sse_finish(struct sse *s, sse_event_fn fn, void *arg)
{
	size_t line_at = s->at;

	if (s->line.len) {
		s->at += s->line.len;
		if (one_line(s, s->line.data, s->line.len, line_at, fn, arg) < 0)
			return -1;
		s->line.len = 0;
	}
	return dispatch(s, fn, arg);
}
