/*
 * AWS's event-stream framing (application/vnd.amazon.eventstream), as
 * Bedrock's ConverseStream and InvokeModelWithResponseStream send it: binary
 * messages of a prelude (total length and headers length, big-endian u32,
 * and the prelude's CRC32), typed headers, a payload and the message's
 * CRC32.  The decoder is incremental, for libcurl's pieces cut anywhere: it
 * keeps what does not make a whole message yet, checks both CRCs, and hands
 * each message on.  A corrupt stream (a CRC that does not match, lengths
 * that cannot be) stops it for good, saying why; nothing is read past the
 * damage.  Run by workers (the framing stage of the Bedrock dialect).
 */
#ifndef TOLLGATE_PROVIDER_EVENTSTREAM_H
#define TOLLGATE_PROVIDER_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define EVENTSTREAM_MAX	(16u * 1024 * 1024)	/* a message beyond this is not Bedrock's */

/* One message: the string headers that matter, and the payload (not NUL-terminated). */
struct es_message {
	const char	*message_type;	/* ":message-type": "event", "exception", "error"; or "" */
	size_t		 message_type_len;
	const char	*event_type;	/* ":event-type" ("contentBlockDelta", "chunk", ...) */
	size_t		 event_type_len;
	const char	*exception_type; /* ":exception-type" ("throttlingException", ...) */
	size_t		 exception_type_len;
	const unsigned char *payload;
	size_t		 payload_len;
};

struct eventstream {
	struct buf	 pending;	/* bytes of a message not yet whole */
	int		 failed;	/* corrupt: nothing more is read */
	char		 error[128];	/* why */
};

/* Called per message; 0 to go on, else the feed stops and returns it. */
typedef int (*es_message_fn)(void *arg, const struct es_message *m);

void eventstream_init(struct eventstream *s);
void eventstream_release(struct eventstream *s);

/*
 * Takes n more bytes: 0 when all whole messages were handed on, what fn
 * returned when it stopped, or -1 when the stream is corrupt (s->error says
 * why; every later feed returns -1 too) or out of memory.
 */
int eventstream_feed(struct eventstream *s, const void *p, size_t n, es_message_fn fn, void *arg);

/* Whether bytes of an unfinished message remain (a stream cut short). */
int eventstream_partial(const struct eventstream *s);

/* The CRC-32 (IEEE 802.3, as zlib's) of n bytes, continuing from crc (0 to start). */
uint32_t eventstream_crc32(uint32_t crc, const void *p, size_t n);

#endif
