/*
 * libFuzzer target: AWS event-stream framing decoded from arbitrary bytes
 * (lib/provider/eventstream.c).  Besides no crash and no undefined
 * behaviour: the messages and the verdict are the same whether the bytes
 * arrive at once or in pieces of any size (from the input's first byte),
 * and every message handed on lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "provider/eventstream.h"

struct run {
	const unsigned char	*in;
	size_t			 n;
	struct buf		*log;
};

static int
inside(const struct run *r, const void *p, size_t len)
{
	const unsigned char *c = p;

	return len == 0 || (c >= r->in && c + len <= r->in + r->n);
}

static int
on_message(void *arg, const struct es_message *m)
{
	struct run *r = arg;

	return buf_printf(r->log, "%zu:%zu:%zu:%zu;", m->message_type_len, m->event_type_len,
	    m->exception_type_len, m->payload_len) < 0 ||
	    buf_append(r->log, m->payload, m->payload_len) < 0 ? -1 : 0;
}

/* Messages handed on in one piece must point into the input itself. */
static int
on_whole(void *arg, const struct es_message *m)
{
	struct run *r = arg;

	if (!inside(r, m->payload, m->payload_len) || !inside(r, m->event_type, m->event_type_len))
		abort();
	return on_message(arg, m);
}

static int
split(const unsigned char *p, size_t n, size_t piece, struct buf *log)
{
	struct run r = { p, n, log };
	struct eventstream es;
	size_t at, k;
	int rc = 0;

	eventstream_init(&es);
	for (at = 0; at < n && rc == 0; at += k) {
		k = n - at < piece ? n - at : piece;
		rc = eventstream_feed(&es, p + at, k, piece >= n ? on_whole : on_message, &r);
	}
	rc = rc ? rc : eventstream_partial(&es) ? 2 : 0;
	eventstream_release(&es);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = { 0 }, b = { 0 };
	size_t piece;
	int ra, rb;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 17 + 1;
	ra = split(data + 1, size - 1, size, &a);
	rb = split(data + 1, size - 1, piece, &b);
	if (ra != rb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	buf_release(&a);
	buf_release(&b);
	return 0;
}
