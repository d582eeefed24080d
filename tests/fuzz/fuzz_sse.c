/*
 * libFuzzer target: server-sent events split from arbitrary bytes
 * (lib/sse.c).  Besides no crash and no undefined behaviour: the events are
 * the same whether the bytes arrive at once or in pieces of any size (the
 * piece sizes come from the input's first byte), and an event's name and
 * data are what the callback was told they are.  And the offsets a relay
 * passes the stream's own bytes on by (the worker's relay_events()): an
 * event's bytes [event_at, at) lie in the input after the last event's and
 * before sse_settled(), and split again on their own give that one event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"

struct run {
	struct sse	 s;
	const char	*in;		/* the input, offset 0 */
	size_t		 fed;		/* bytes fed so far */
	size_t		 last;		/* where the last event's bytes ended */
	struct buf	*log;
};

static int
one_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct buf *log = arg;

	(void)line;
	return buf_printf(log, "%s%c%zu:", event, 0, len) < 0 || buf_append(log, data, len) < 0 ||
	    buf_append(log, "\n", 1) < 0 ? -1 : 0;
}

/* Every event as "name\0len:data\n", to compare two runs byte for byte. */
static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct run *r = arg;
	struct buf again = { 0 }, want = { 0 };
	struct sse s2;

	if (event == NULL || strlen(event) >= sizeof(((struct sse *)0)->event) || line == 0)
		abort();
	if (len && data == NULL)
		abort();
	if (r->s.event_at < r->last || r->s.event_at >= r->s.at || r->s.at > r->fed)
		abort();
	r->last = r->s.at;
	/* the event's own bytes give it again, and nothing else */
	sse_init(&s2);
	if (sse_feed(&s2, r->in + r->s.event_at, r->s.at - r->s.event_at, one_event, &again) < 0 ||
	    sse_finish(&s2, one_event, &again) < 0 || one_event(&want, event, data, len, line) < 0)
		abort();
	if (again.len != want.len || memcmp(again.data, want.data, want.len) != 0)
		abort();
	sse_release(&s2);
	buf_release(&again);
	buf_release(&want);
	return one_event(r->log, event, data, len, line);
}

static void
split(const char *p, size_t n, size_t piece, struct buf *log)
{
	struct run r = { .in = p, .log = log };
	size_t k;

	sse_init(&r.s);
	for (r.fed = 0; r.fed < n; ) {
		k = n - r.fed < piece ? n - r.fed : piece;
		r.fed += k;
		if (sse_feed(&r.s, p + r.fed - k, k, on_event, &r) < 0)
			abort();
		if (sse_settled(&r.s) < r.last || sse_settled(&r.s) > r.fed)
			abort();
	}
	if (sse_finish(&r.s, on_event, &r) < 0 || r.s.at != n)
		abort();
	sse_release(&r.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = { 0 }, pieces = { 0 }, bytes = { 0 };
	size_t piece;

	if (size == 0)
		return 0;
	piece = 1 + data[0] % 17;
	data++, size--;
	split((const char *)data, size, size ? size : 1, &whole);
	split((const char *)data, size, piece, &pieces);
	split((const char *)data, size, 1, &bytes);
	if (whole.len != pieces.len || whole.len != bytes.len ||
	    (whole.len && (memcmp(whole.data, pieces.data, whole.len) != 0 ||
	    memcmp(whole.data, bytes.data, whole.len) != 0)))
		abort();
	buf_release(&whole);
	buf_release(&pieces);
	buf_release(&bytes);
	return 0;
}
