/*
 * libFuzzer target: server-sent events split from arbitrary bytes
 * (lib/sse.c).  Besides no crash and no undefined behaviour: the events are
 * the same whether the bytes arrive at once or in pieces of any size (the
 * piece sizes come from the input's first byte), and an event's name and
 * data are what the callback was told they are.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"

/* Every event as "name\0len:data\n", to compare two runs byte for byte. */
static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct buf *log = arg;

	if (event == NULL || strlen(event) >= sizeof(((struct sse *)0)->event) || line == 0)
		abort();
	if (len && data == NULL)
		abort();
	if (buf_printf(log, "%s%c%zu:", event, 0, len) < 0 || buf_append(log, data, len) < 0 ||
	    buf_append(log, "\n", 1) < 0)
		abort();
	return 0;
}

static void
split(const char *p, size_t n, size_t piece, struct buf *log)
{
	struct sse s;
	size_t at, k;

	sse_init(&s);
	for (at = 0; at < n; at += k) {
		k = n - at < piece ? n - at : piece;
		if (sse_feed(&s, p + at, k, on_event, log) < 0)
			abort();
	}
	if (sse_finish(&s, on_event, log) < 0)
		abort();
	sse_release(&s);
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
