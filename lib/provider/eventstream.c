/*
 * The event-stream decoder (eventstream.h).  Run by workers.
 */
#include <stdio.h>
#include <string.h>

#include "provider/eventstream.h"

#define PRELUDE	12	/* total length, headers length, prelude CRC */
#define TRAILER	4	/* the message's CRC */

uint32_t
eventstream_crc32(uint32_t crc, const void *p, size_t n)
{
	static uint32_t table[256];
	const unsigned char *b = p;
	size_t i;
	int k;

	if (table[1] == 0)
		for (i = 0; i < 256; i++) {
			uint32_t c = (uint32_t)i;

			for (k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	crc = ~crc;
	for (i = 0; i < n; i++)
		crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
eventstream_init(struct eventstream *s)
{
	memset(s, 0, sizeof(*s));
}

void
eventstream_release(struct eventstream *s)
{
	buf_release(&s->pending);
}

int
eventstream_partial(const struct eventstream *s)
{
	return s->pending.len > 0;
}

static int
corrupt(struct eventstream *s, const char *why)
{
	s->failed = 1;
	snprintf(s->error, sizeof(s->error), "%s", why);
	return -1;
}

/* The value's size of a header of type t at p (n bytes left); -1 when it does not fit. */
static long
value_size(unsigned t, const unsigned char *p, size_t n)
{
	static const int fixed[] = { 0, 0, 1, 2, 4, 8, -1, -1, 8, 16 };

	if (t > 9)
		return -1;
	if (fixed[t] >= 0)
		return (size_t)fixed[t] <= n ? fixed[t] : -1;
	if (n < 2)
		return -1;	/* bytes and strings: a u16 length first */
	return (size_t)(2 + (p[0] << 8 | p[1])) <= n ? 2 + (p[0] << 8 | p[1]) : -1;
}

/* The headers of one message into m; 0, or -1 (corrupt). */
static int
headers(struct eventstream *s, const unsigned char *p, size_t n, struct es_message *m)
{
	static const struct {
		const char	*name;
		size_t		 off, len;
	} wanted[] = {
		{ ":message-type", offsetof(struct es_message, message_type),
		  offsetof(struct es_message, message_type_len) },
		{ ":event-type", offsetof(struct es_message, event_type),
		  offsetof(struct es_message, event_type_len) },
		{ ":exception-type", offsetof(struct es_message, exception_type),
		  offsetof(struct es_message, exception_type_len) },
	};
	size_t at = 0, nl, i;
	long vs;

	while (at < n) {
		nl = p[at];
		if (nl == 0 || at + 1 + nl + 1 > n)
			return corrupt(s, "a header's name runs past the headers");
		if ((vs = value_size(p[at + 1 + nl], p + at + 2 + nl, n - at - 2 - nl)) < 0)
			return corrupt(s, "a header's value runs past the headers, or has no type");
		for (i = 0; p[at + 1 + nl] == 7 && i < sizeof(wanted) / sizeof(wanted[0]); i++)
			if (strlen(wanted[i].name) == nl && memcmp(p + at + 1, wanted[i].name, nl) == 0) {
				*(const char **)((char *)m + wanted[i].off) = (const char *)p + at + 4 + nl;
				*(size_t *)((char *)m + wanted[i].len) = (size_t)vs - 2;
			}
		at += 2 + nl + (size_t)vs;
	}
	return 0;
}

/* One whole message at p (total bytes); 0 or what fn returned, or -1. */
static int
message(struct eventstream *s, const unsigned char *p, size_t total, es_message_fn fn, void *arg)
{
	uint32_t hlen = be32(p + 4);
	struct es_message m = { "", 0, "", 0, "", 0, NULL, 0 };

	if (eventstream_crc32(0, p, total - TRAILER) != be32(p + total - TRAILER))
		return corrupt(s, "a message's CRC does not match");
	if (headers(s, p + PRELUDE, hlen, &m) < 0)
		return -1;
	m.payload = p + PRELUDE + hlen;
	m.payload_len = total - PRELUDE - hlen - TRAILER;
	return fn(arg, &m);
}

/* The length of the message at p (n bytes there, at least a prelude), or 0 when corrupt. */
static uint32_t
prelude(struct eventstream *s, const unsigned char *p)
{
	uint32_t total = be32(p), hlen = be32(p + 4);

	if (eventstream_crc32(0, p, 8) != be32(p + 8))
		return corrupt(s, "a message's prelude CRC does not match"), 0;
	if (total < PRELUDE + TRAILER || total > EVENTSTREAM_MAX || hlen > total - PRELUDE - TRAILER)
		return corrupt(s, "a message's lengths cannot be"), 0;
	return total;
}

int
eventstream_feed(struct eventstream *s, const void *data, size_t n, es_message_fn fn, void *arg)
{
	const unsigned char *p = data;
	uint32_t total = 0;
	size_t need;
	int rc;

	if (s->failed)
		return -1;
	/* finish the message begun in an earlier piece */
	while (s->pending.len > 0 && n > 0) {
		need = s->pending.len < PRELUDE ? PRELUDE - s->pending.len : 0;
		if (need == 0) {
			if ((total = prelude(s, (const unsigned char *)s->pending.data)) == 0)
				return -1;
			need = total - s->pending.len;
		}
		if (need > n)
			need = n;
		if (buf_append(&s->pending, p, need) < 0)
			return corrupt(s, "out of memory");
		p += need;
		n -= need;
		if (s->pending.len >= PRELUDE && (total = prelude(s,
		    (const unsigned char *)s->pending.data)) == 0)
			return -1;
		if (s->pending.len >= PRELUDE && s->pending.len == total) {
			rc = message(s, (const unsigned char *)s->pending.data, total, fn, arg);
			s->pending.len = 0;
			if (rc != 0)
				return rc;
		}
	}
	/* whole messages straight from the piece, the rest kept */
	while (n >= PRELUDE) {
		if ((total = prelude(s, p)) == 0)
			return -1;
		if (total > n)
			break;
		if ((rc = message(s, p, total, fn, arg)) != 0)
			return rc;
		p += total;
		n -= total;
	}
	if (n > 0 && buf_append(&s->pending, p, n) < 0)
		return corrupt(s, "out of memory");
	return 0;
}
