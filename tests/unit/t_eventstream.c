/*
 * The event-stream decoder (lib/provider/eventstream.c) on four messages
 * whose bytes and CRCs were made by Python's struct and zlib, not by this
 * code: an event with string headers, one with a boolean and an integer
 * header too, an exception, and an empty message; fed whole, byte by byte
 * and cut at every place; then with a byte changed in each part (a CRC
 * that does not match ends the stream for good), impossible lengths, and a
 * stop asked for by the callback.
 */
#include <string.h>

#include "provider/eventstream.h"
#include "tap.h"

/* 118 + 131 + 111 + 16 bytes */
static const char frames[] =
    "\x00\x00\x00\x76\x00\x00\x00\x52\x96\xd5\xfa\xde\x0b\x3a\x65\x76\x65\x6e"
    "\x74\x2d\x74\x79\x70\x65\x07\x00\x0c\x6d\x65\x73\x73\x61\x67\x65\x53\x74"
    "\x61\x72\x74\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74\x2d\x74\x79\x70\x65\x07"
    "\x00\x10\x61\x70\x70\x6c\x69\x63\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e"
    "\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70\x65\x07\x00\x05\x65"
    "\x76\x65\x6e\x74\x7b\x22\x72\x6f\x6c\x65\x22\x3a\x22\x61\x73\x73\x69\x73"
    "\x74\x61\x6e\x74\x22\x7d\x6f\xa8\xc5\x99\x00\x00\x00\x83\x00\x00\x00\x46"
    "\x0c\xdb\xf1\x8e\x04\x66\x6c\x61\x67\x00\x04\x3a\x73\x65\x71\x04\x00\x00"
    "\x00\x07\x0b\x3a\x65\x76\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x11\x63"
    "\x6f\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x44\x65\x6c\x74\x61\x0d\x3a"
    "\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70\x65\x07\x00\x05\x65\x76\x65"
    "\x6e\x74\x7b\x22\x63\x6f\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x49\x6e"
    "\x64\x65\x78\x22\x3a\x30\x2c\x22\x64\x65\x6c\x74\x61\x22\x3a\x7b\x22\x74"
    "\x65\x78\x74\x22\x3a\x22\x48\x69\x22\x7d\x7d\x63\x42\x07\x6d\x00\x00\x00"
    "\x6f\x00\x00\x00\x40\x08\x9c\x7e\x65\x0f\x3a\x65\x78\x63\x65\x70\x74\x69"
    "\x6f\x6e\x2d\x74\x79\x70\x65\x07\x00\x13\x74\x68\x72\x6f\x74\x74\x6c\x69"
    "\x6e\x67\x45\x78\x63\x65\x70\x74\x69\x6f\x6e\x0d\x3a\x6d\x65\x73\x73\x61"
    "\x67\x65\x2d\x74\x79\x70\x65\x07\x00\x09\x65\x78\x63\x65\x70\x74\x69\x6f"
    "\x6e\x7b\x22\x6d\x65\x73\x73\x61\x67\x65\x22\x3a\x22\x54\x6f\x6f\x20\x6d"
    "\x61\x6e\x79\x20\x72\x65\x71\x75\x65\x73\x74\x73\x22\x7d\xcc\x21\x1b\x78"
    "\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff"
    ;
#define NFRAMES	(sizeof(frames) - 1)
#define FIRST	118

struct seen {
	int	n;
	char	log[1024];	/* "type/event/exception:payload;" per message */
	int	stop_at;	/* return 7 on this message (1-based), 0: never */
};

static int
on_message(void *arg, const struct es_message *m)
{
	struct seen *s = arg;
	size_t len = strlen(s->log);

	snprintf(s->log + len, sizeof(s->log) - len, "%.*s/%.*s/%.*s:%.*s;",
	    (int)m->message_type_len, m->message_type, (int)m->event_type_len, m->event_type,
	    (int)m->exception_type_len, m->exception_type, (int)m->payload_len,
	    (const char *)m->payload);
	return ++s->n == s->stop_at ? 7 : 0;
}

static const char want[] =
    "event/messageStart/:{\"role\":\"assistant\"};"
    "event/contentBlockDelta/:{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}};"
    "exception//throttlingException:{\"message\":\"Too many requests\"};"
    "//:;";

/* Feeds frames cut at a and b (a <= b): the messages, in order, whatever the cuts. */
static int
cut_feed(size_t a, size_t b, struct seen *s)
{
	struct eventstream es;
	int rc;

	eventstream_init(&es);
	rc = eventstream_feed(&es, frames, a, on_message, s);
	rc |= eventstream_feed(&es, frames + a, b - a, on_message, s);
	rc |= eventstream_feed(&es, frames + b, NFRAMES - b, on_message, s);
	rc |= eventstream_partial(&es);
	eventstream_release(&es);
	return rc;
}

int
main(void)
{
	struct eventstream es;
	struct seen s;
	char bad[sizeof(frames)];
	size_t a, b, i;
	int good = 1, rc;

	is_int(eventstream_crc32(0, "123456789", 9), 0xcbf43926, "CRC-32 check value");
	memset(&s, 0, sizeof(s));
	ok(cut_feed(NFRAMES, NFRAMES, &s) == 0 && s.n == 4, "whole: four messages, nothing left");
	is_str(s.log, want, "their types, event types, exception types and payloads");

	memset(&s, 0, sizeof(s));
	eventstream_init(&es);
	for (rc = 0, i = 0; i < NFRAMES; i++)
		rc |= eventstream_feed(&es, frames + i, 1, on_message, &s);
	ok(rc == 0 && s.n == 4 && strcmp(s.log, want) == 0, "byte by byte: the same");
	eventstream_release(&es);

	for (a = 0; a <= NFRAMES; a += 3)
		for (b = a; b <= NFRAMES; b += 5) {
			memset(&s, 0, sizeof(s));
			if (cut_feed(a, b, &s) != 0 || strcmp(s.log, want) != 0) {
				diag("cut at %zu and %zu: %s", a, b, s.log);
				good = 0;
			}
		}
	ok(good, "cut at every pair of places (steps 3 and 5): the same");

	memset(&s, 0, sizeof(s));
	eventstream_init(&es);
	ok(eventstream_feed(&es, frames, 50, on_message, &s) == 0 && eventstream_partial(&es),
	    "half a message: kept, and said to be unfinished");
	eventstream_release(&es);

	/* a byte changed in the prelude, the headers, the payload, the CRC of each part */
	{
		static const size_t at[] = { 2, 9, 20, 100, 116, FIRST + 60 };
		static const char *const why[] = { "prelude CRC", "prelude CRC", "message's CRC",
			"message's CRC", "message's CRC", "message's CRC" };

		for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			memcpy(bad, frames, sizeof(frames));
			bad[at[i]] ^= 0x20;
			memset(&s, 0, sizeof(s));
			eventstream_init(&es);
			rc = eventstream_feed(&es, bad, NFRAMES, on_message, &s);
			ok(rc == -1 && strstr(es.error, why[i]) != NULL && s.n == (at[i] < FIRST ? 0 : 1),
			    "byte %zu changed: -1, '%s', and only the messages before it", at[i], es.error);
			ok(eventstream_feed(&es, frames, NFRAMES, on_message, &s) == -1,
			    "  and nothing is read after it");
			eventstream_release(&es);
		}
	}

	/* lengths that cannot be, under a prelude CRC that matches */
	{
		unsigned char p[16] = { 0, 0, 0, 8, 0, 0, 0, 0 };
		uint32_t c = eventstream_crc32(0, p, 8);

		p[8] = c >> 24, p[9] = c >> 16, p[10] = c >> 8, p[11] = c;
		eventstream_init(&es);
		ok(eventstream_feed(&es, p, sizeof(p), on_message, &s) == -1 &&
		    strstr(es.error, "lengths") != NULL, "a total shorter than a prelude: %s", es.error);
		eventstream_release(&es);
		memset(p, 0, sizeof(p));
		p[0] = 0x7f, p[3] = 0x10, p[7] = 0x01;
		c = eventstream_crc32(0, p, 8);
		p[8] = c >> 24, p[9] = c >> 16, p[10] = c >> 8, p[11] = c;
		eventstream_init(&es);
		ok(eventstream_feed(&es, p, 12, on_message, &s) == -1, "a total past 16 MiB: %s", es.error);
		eventstream_release(&es);
	}

	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	eventstream_init(&es);
	ok(eventstream_feed(&es, frames, NFRAMES, on_message, &s) == 7 && s.n == 2,
	    "a callback's stop: returned, nothing after it handed on");
	eventstream_release(&es);
	return done_testing();
}
