/*
 * The SSE splitter used on streamed responses (workers) and recorded streams
 * (tollctl).  Lines end in LF, CRLF or CR, as the spec allows.
 */
#include <string.h>

#include "sse.h"

void
sse_init(struct sse *s)
{
	memset(s, 0, sizeof(*s));
}

void
sse_release(struct sse *s)
{
	buf_release(&s->line);
	buf_release(&s->data);
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

static int
one_line(struct sse *s, const char *l, size_t n, sse_event_fn fn, void *arg)
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
	if (s->event_line == 0)
		s->event_line = s->lineno;
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
	const char *end = p + n;

	while (p < end) {
		const char *nl = p;

		if (s->cr && *p == '\n') {
			/* the LF of a CRLF whose CR ended the previous chunk */
			s->cr = 0;
			p++;
			continue;
		}
		s->cr = 0;
		while (nl < end && *nl != '\n' && *nl != '\r')
			nl++;
		if (nl == end) {
			return buf_append(&s->line, p, (size_t)(end - p));
		}
		if (s->line.len) {
			if (buf_append(&s->line, p, (size_t)(nl - p)) < 0 ||
			    one_line(s, s->line.data, s->line.len, fn, arg) < 0)
				return -1;
			s->line.len = 0;
		} else if (one_line(s, p, (size_t)(nl - p), fn, arg) < 0)
			return -1;
		if (*nl == '\r') {
			if (nl + 1 < end && nl[1] == '\n')
				nl++;
			else if (nl + 1 == end)
				s->cr = 1;
		}
		p = nl + 1;
	}
	return 0;
}

int
sse_finish(struct sse *s, sse_event_fn fn, void *arg)
{
	if (s->line.len) {
		if (one_line(s, s->line.data, s->line.len, fn, arg) < 0)
			return -1;
		s->line.len = 0;
	}
	return dispatch(s, fn, arg);
}
