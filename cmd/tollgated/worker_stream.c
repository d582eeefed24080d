/*
 * A streamed answer's way through a worker, as a chain of stages
 * (lib/provider/stage.h), each taking what the one before it pushed:
 *
 *   libcurl's bytes -> sse | eventstream [-> unwrap] -> usage tap -> relay | translate -> client
 *
 * sse cuts the provider's bytes into events (lib/sse.c, as tollctl cuts
 * recorded streams), keeping each event's bytes as they came (eventstream
 * does the same for Bedrock's binary frames, lib/provider/eventstream.c;
 * unwrap turns InvokeModel's frames, each an Anthropic event in base64,
 * into that event as Anthropic's SSE would carry it); the tap
 * reads usage from the provider's own events, before anything is changed,
 * so a translated stream is priced as the native one; relay passes a
 * same-format stream on byte for byte, holding back its end marker (the
 * dialect's: [DONE], message_stop, response.completed) until the record is
 * committed and dropping the usage chunk that tollgate asked for; translate
 * decodes the events into chat chunks and encodes those in the client's
 * format (lib/provider/xlate.c), its closing events held likewise; client
 * hands the bytes to the HTTP side once per delivery.  State lives in the
 * exchange.  Run by workers.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "log.h"
#include "tollgated.h"
#include "worker.h"
#include "provider/dialect.h"

static struct buf out;	/* the client's bytes of one delivery: scratch, kept between calls */

/* ---- sse: the provider's bytes into events ---------------------------------- */

/*
 * One delivery being split: ex->resp holds the bytes taken and not yet
 * passed on, from stream offset ex->resp_at; sent is the offset up to which
 * they were pushed on (as an event, or as the bytes between events).
 */
struct split {
	const struct stage_chain	*c;
	size_t				 at;	/* the sse stage's place in c */
	struct exchange			*ex;
	size_t				 sent;
};

/* The bytes from sent to offset to (comments, blank lines, an event without data) go on. */
static inline int
between(struct split *s, size_t to)
{
	struct exchange *ex = s->ex;
	struct stage_item it = { STAGE_BYTES, NULL, NULL, 0, NULL, 0, 0 };

	if (to == s->sent)
		return 0;
	it.data = ex->resp.data + (s->sent - ex->resp_at);
	it.len = to - s->sent;
	s->sent = to;
	return stage_push(s->c, s->at + 1, &it);
}

static int
on_event(void *arg, const char *name, const char *data, size_t len, size_t line)
{
	struct split *s = arg;
	struct exchange *ex = s->ex;
	size_t from = ex->sse.event_at;
	struct stage_item it = { STAGE_EVENT, name, data, len,
	    ex->resp.data + (from - ex->resp_at), ex->sse.at - from, 0 };

	(void)line;
	if (between(s, from) < 0)
		return -1;
	s->sent = ex->sse.at;
	return stage_push(s->c, s->at + 1, &it);
}

static int
sse_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	struct exchange *ex = c->arg;
	struct split s = { c, at, ex, ex->resp_at };
	size_t used;
	int rc, end = it->what == STAGE_END || it->what == STAGE_CUT;

	if (it->what == STAGE_BYTES && buf_append(&ex->resp, it->data, it->len) < 0)
		return -1;
	if (ex->drop_lf && !end && it->len > 0 && ex->resp.len == it->len && it->data[0] == '\n')
		s.sent++;
	ex->drop_lf = 0;
	rc = end ? sse_finish(&ex->sse, on_event, &s) :
	    sse_feed(&ex->sse, it->data, it->len, on_event, &s);
	if (rc == 0)
		rc = between(&s, end ? ex->resp_at + ex->resp.len : sse_settled(&ex->sse));
	if ((used = s.sent - ex->resp_at) > 0) {
		memmove(ex->resp.data, ex->resp.data + used, ex->resp.len - used);
		ex->resp.len -= used;
		ex->resp_at = s.sent;
	}
	/* what was made goes to the client even when the rest failed (it is done with: reused) */
	if (end && stage_push(c, at + 1, it) < 0)
		return -1;
	it->what = STAGE_FLUSH;
	return stage_push(c, at + 1, it) < 0 ? -1 : rc;
}

static const struct stage_ops sse_stage = { "sse", STAGE_TAKES(STAGE_BYTES) |
	STAGE_TAKES(STAGE_END) | STAGE_TAKES(STAGE_CUT), NULL, sse_push, NULL };

/* ---- eventstream: AWS's binary frames into events --------------------------------------- */

struct frames {
	const struct stage_chain	*c;
	size_t				 at;
};

/*
 * A frame as an event named by its :event-type (an exception's: "exception",
 * its payload the provider's message), its payload the data; the frames are
 * never relayed as they came (no client speaks them), so no raw bytes.
 */
static int
on_frame(void *arg, const struct es_message *m)
{
	struct frames *f = arg;
	char name[64];
	int exception = m->message_type_len != 5 || memcmp(m->message_type, "event", 5) != 0;
	struct stage_item it = { STAGE_EVENT, name, (const char *)m->payload, m->payload_len, NULL, 0,
	    0 };

	snprintf(name, sizeof(name), "%.*s", exception ? 9 : (int)m->event_type_len,
	    exception ? "exception" : m->event_type);
	if (exception)	/* the provider's error, and the stream's end before its usage */
		((struct exchange *)f->c->arg)->rec.flags |= RECORD_FLAG_UPSTREAM_ERROR |
		    RECORD_FLAG_STREAM_INCOMPLETE;
	return stage_push(f->c, f->at + 1, &it) < 0 ? -1 : 0;
}

static int
es_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	struct exchange *ex = c->arg;
	struct frames f = { c, at };
	char msg[192];
	int rc = 0;

	if (it->what == STAGE_BYTES && (rc = eventstream_feed(&ex->es, it->data, it->len, on_frame,
	    &f)) < 0 && ex->es.failed) {
		/* a corrupt frame: the client hears so, and nothing after it is read */
		struct stage_item err = { STAGE_EVENT, "exception", msg, 0, NULL, 0, 0 };

		log_warn("request %s: the provider's event stream is corrupt: %s", ex->rec.id,
		    ex->es.error);
		err.len = (size_t)snprintf(msg, sizeof(msg), "{\"message\":\"the provider's event "
		    "stream is corrupt: %s\"}", ex->es.error);
		stage_push(c, at + 1, &err);
	}
	if (it->what != STAGE_BYTES && stage_push(c, at + 1, it) < 0)
		return -1;
	it->what = STAGE_FLUSH;
	return stage_push(c, at + 1, it) < 0 ? -1 : rc;
}

static const struct stage_ops es_stage = { "eventstream", STAGE_TAKES(STAGE_BYTES) |
	STAGE_TAKES(STAGE_END) | STAGE_TAKES(STAGE_CUT), NULL, es_push, NULL };

/* ---- unwrap: frames that carry another format's events ----------------------------------- */

/* The string value of "key" in a flat JSON object as AWS writes it (no escapes), or NULL. */
static const char *
plain_string(const char *json, size_t len, const char *key, size_t *n)
{
	char pat[32];
	const char *p, *end = json + len, *q;
	size_t pl = (size_t)snprintf(pat, sizeof(pat), "\"%s\":\"", key);

	if ((p = memmem(json, len, pat, pl)) == NULL)
		return NULL;
	p += pl;
	if ((q = memchr(p, '"', (size_t)(end - p))) == NULL || memchr(p, '\\', (size_t)(q - p)))
		return NULL;
	*n = (size_t)(q - p);
	return p;
}

/*
 * A frame's {"bytes": base64} as the event it carries, named by its "type"
 * and written as SSE (the raw bytes a same-format client is relayed); an
 * exception frame as the format's error event.  A frame that is neither is
 * an error event too: nothing is passed on that the client cannot read.
 */
static int
unwrap_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	static struct buf ev, raw;	/* scratch, kept between calls */
	const char *b64, *type = NULL;
	size_t n = 0, tn = 0;
	int len;

	ev.len = raw.len = 0;
	if (strcmp(it->name, "chunk") == 0 &&
	    (b64 = plain_string(it->data, it->len, "bytes", &n)) != NULL && n % 4 == 0 &&
	    buf_reserve(&ev, n / 4 * 3 + 1) == 0 &&
	    (len = EVP_DecodeBlock((unsigned char *)ev.data, (const unsigned char *)b64, (int)n)) >= 0) {
		/* EVP_DecodeBlock counts padding as bytes */
		ev.len = (size_t)len - (n > 0 && b64[n - 1] == '=') - (n > 1 && b64[n - 2] == '=');
		ev.data[ev.len] = '\0';
		type = plain_string(ev.data, ev.len, "type", &tn);
	}
	if (type == NULL) {
		/* an exception (or a frame that is not a chunk): Anthropic's error event */
		json_t *o = json_loadb(it->data, it->len, 0, NULL), *e;
		const char *m = json_string_value(json_object_get(o, "message"));
		char *text;

		e = json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", "api_error",
		    "message", m ? m : "the provider's stream failed");
		text = e ? json_dumps(e, JSON_COMPACT) : NULL;
		ev.len = 0;
		if (text == NULL || buf_append(&ev, text, strlen(text)) < 0) {
			free(text);
			json_decref(e);
			json_decref(o);
			return -1;
		}
		free(text);
		json_decref(e);
		json_decref(o);
		type = "error";
		tn = 5;
	}
	if (buf_printf(&raw, "event: %.*s\ndata: ", (int)tn, type) < 0)
		return -1;
	{
		size_t data_at = raw.len;
		char name[64];
		struct stage_item out_it = { STAGE_EVENT, name, NULL, ev.len, NULL, 0, 0 };

		if (buf_append(&raw, ev.data, ev.len) < 0 || buf_append(&raw, "\n\n", 2) < 0)
			return -1;
		snprintf(name, sizeof(name), "%.*s", (int)tn, type);
		out_it.data = raw.data + data_at;
		out_it.raw = raw.data;
		out_it.rawlen = raw.len;
		return stage_push(c, at + 1, &out_it);
	}
}

static const struct stage_ops unwrap_stage = { "unwrap", STAGE_TAKES(STAGE_EVENT), NULL,
	unwrap_push, NULL };

/* ---- the usage tap ----------------------------------------------------------------- */

/*
 * Usage is read from the provider's own events.  Of the events with no
 * usage in them only the first is parsed, for the model and service tier;
 * later ones say the same (the last chunk repeats them with the usage).
 */
static int
tap_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	struct exchange *ex = c->arg;

	if (it->len != 0) {
		it->usage = usage_maybe_in(it->data, it->len);
		if (it->usage || ex->events_read == 0)
			usage_collect(&ex->raw, it->data, it->len, NULL, 0, NULL);
		ex->events_read++;
	}
	return stage_push(c, at + 1, it);
}

static const struct stage_ops tap_stage = { "usage-tap", STAGE_TAKES(STAGE_EVENT), NULL, tap_push,
	NULL };

/* ---- relay: a same-format stream, byte for byte ---------------------------------- */

/*
 * Once the end marker is held (ex->tail), everything after it goes after
 * it, so that nothing overtakes it.
 */
static int
relay_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	struct exchange *ex = c->arg;

	(void)at;
	if (it->what == STAGE_BYTES)
		return buf_append(ex->tail.len ? &ex->tail : &out, it->data, it->len);
	if (ex->tail.len || ex->dialect->stream_end(it->name, it->data, it->len))
		return buf_append(&ex->tail, it->raw, it->rawlen);
	if (ex->strip_usage && it->usage && ex->dialect->usage_chunk(it->data, it->len)) {
		/* its blank line's CR ended the piece: an LF starting the next is dropped with it */
		ex->drop_lf = ex->sse.cr;
		return 0;
	}
	return buf_append(&out, it->raw, it->rawlen);
}

static const struct stage_ops relay_stage = { "relay", STAGE_TAKES(STAGE_BYTES) |
	STAGE_TAKES(STAGE_EVENT), NULL, relay_push, NULL };

/* ---- translate: the provider's events to the client's ------------------------------ */

static int
translate_init(const struct stage_chain *c)
{
	struct exchange *ex = c->arg;

	ex->xs = xlate_stream_new(ex->dialect->api, (enum xlate_api)ex->ep->api,
	    ex->rec.model_requested, ex->include_usage);
	return ex->xs != NULL ? 0 : -1;
}

/* After the end, what the provider still sends is not the client's (xlate_stream_event). */
static int
translate_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	struct exchange *ex = c->arg;
	struct xlate_out xo = { &out, &ex->tail };

	(void)at;
	if (it->what == STAGE_END)	/* a dialect whose stream ends with its body: its end */
		return xlate_stream_finish(ex->xs, &xo);
	if (it->what == STAGE_BYTES || it->len == 0)
		return 0;	/* only the translation's events go */
	if (xlate_stream_event(ex->xs, it->name, it->data, it->len, &xo) < 0) {
		log_warn("request %s: a stream event of '%s' does not translate; the stream is cut",
		    ex->rec.id, ex->dep->cfg->model);
		return -1;
	}
	return 0;
}

static void
translate_fini(const struct stage_chain *c)
{
	struct exchange *ex = c->arg;

	xlate_stream_free(ex->xs);
	ex->xs = NULL;
}

static const struct stage_ops translate_stage = { "translate", STAGE_TAKES(STAGE_BYTES) |
	STAGE_TAKES(STAGE_EVENT) | STAGE_TAKES(STAGE_END), translate_init, translate_push,
	translate_fini };

/* ---- client ------------------------------------------------------------------------- */

static int
client_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	(void)at, (void)it;
	if (out.len) {
		http_stream(c->arg, out.data, out.len);
		out.len = 0;
		if (out.cap > 64 * 1024)
			buf_release(&out);
	}
	return 0;
}

static const struct stage_ops client_stage = { "client", STAGE_TAKES(STAGE_FLUSH), NULL, client_push,
	NULL };

/* ---- the chains ----------------------------------------------------------------------- */

static const struct stage_ops *const relayed[] = { &sse_stage, &tap_stage, &relay_stage,
	&client_stage, NULL };
static const struct stage_ops *const translated[] = { &sse_stage, &tap_stage, &translate_stage,
	&client_stage, NULL };
static const struct stage_ops *const translated_frames[] = { &es_stage, &tap_stage,
	&translate_stage, &client_stage, NULL };
static const struct stage_ops *const relayed_wrapped[] = { &es_stage, &unwrap_stage, &tap_stage,
	&relay_stage, &client_stage, NULL };
static const struct stage_ops *const translated_wrapped[] = { &es_stage, &unwrap_stage,
	&tap_stage, &translate_stage, &client_stage, NULL };

int
stream_start(struct exchange *ex)
{
	if (ex->chain.stages != NULL)
		return 0;
	if (ex->dialect->wrapped)
		ex->chain.stages = ex->plan != ROUTE_TRANSLATE ? relayed_wrapped : translated_wrapped;
	else
		ex->chain.stages = ex->plan != ROUTE_TRANSLATE ? relayed : ex->dialect->eventstream ?
		    translated_frames : translated;
	if (ex->dialect->eventstream) {
		eventstream_release(&ex->es);
		eventstream_init(&ex->es);
	}
	ex->chain.arg = ex;
	if (stage_init(&ex->chain) < 0) {
		ex->chain.stages = NULL;
		return -1;
	}
	return 0;
}

int
stream_bytes(struct exchange *ex, const char *p, size_t n)
{
	struct stage_item it = { STAGE_BYTES, NULL, p, n, NULL, 0, 0 };

	return stage_push(&ex->chain, 0, &it);
}

void
stream_end(struct exchange *ex, int whole)
{
	struct stage_item it = { whole ? STAGE_END : STAGE_CUT, NULL, NULL, 0, NULL, 0, 0 };

	if (ex->chain.stages != NULL)
		stage_push(&ex->chain, 0, &it);
}

void
stream_stop(struct exchange *ex)
{
	if (ex->chain.stages != NULL)
		stage_fini(&ex->chain);
	ex->chain.stages = NULL;
	eventstream_release(&ex->es);	/* its buffer, when a Bedrock stream had one */
	eventstream_init(&ex->es);
}
