/*
 * mockprovider: a fake LLM provider that tollgate's integration tests and
 * benchmarks talk to instead of OpenAI or Anthropic.  One process, one libevent
 * evhttp server on loopback.  It answers the OpenAI (chat, completions,
 * embeddings, responses) and Anthropic (messages) endpoints with fixed text and
 * the usage the caller asks for, and can be told, per request, to be slow, to
 * fail, to answer with tool calls, or to break the connection in the ways
 * real providers do.  It can judge each request by its provider's rules
 * (judge.c) and refuse what the provider would.  GET /mock/last and
 * /mock/stats let a test see what the gateway sent upstream, and the verdict;
 * POST /mock/defaults changes the command line's defaults while it runs.
 *
 * It is the floor of every gateway benchmark, so the common path allocates
 * nothing of its own: bodies are formatted into one reused buffer, and only a
 * delayed or streamed answer gets a small state object (struct pending).
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "mockprovider.h"

#define PUT(b, lit)	buf_append((b), (lit), sizeof(lit) - 1)

#define MAX_BODY	(64 * 1024 * 1024)
#define SLOW_HEADERS_MS	30000
#define FAIL_EVERY_MAX	1000000000L

/* Largest value each knob takes; the smallest is 0 (status: 0 or 200..599). */
static const long knob_max[MOCK_NKNOBS] = {
	[MOCK_PROMPT_TOKENS] = 1000000000000L,
	[MOCK_COMPLETION_TOKENS] = 1000000000000L,
	[MOCK_CACHED_TOKENS] = 1000000000000L,
	[MOCK_REASONING_TOKENS] = 1000000000000L,
	[MOCK_CACHE_WRITE_TOKENS] = 1000000000000L,
	[MOCK_CACHE_WRITE_1H_TOKENS] = 1000000000000L,
	[MOCK_CHUNKS] = 100000,
	[MOCK_CHUNK_DELAY_MS] = 3600000,
	[MOCK_LATENCY_MS] = 3600000,
	[MOCK_STATUS] = 599,
	[MOCK_TOOL_CALLS] = 16,
	[MOCK_STRICT] = 1,
	[MOCK_AUDIO_TOKENS] = 1000000000000L,
	[MOCK_IMAGE_TOKENS] = 1000000000000L,
	[MOCK_CACHED_AUDIO_TOKENS] = 1000000000000L,
	[MOCK_IMAGE_OUT_TOKENS] = 1000000000000L,
	[MOCK_RETRY_AFTER] = 86400,
	[MOCK_RETRY_AFTER_MS] = 86400000,
	[MOCK_RETRY_AFTER_DATE] = 1,
	[MOCK_COST_FORM] = 3,
	[MOCK_PROVIDER_COST] = 1000000000000000L,
};

static struct {
	struct event_base	*base;
	struct mock_call	 defaults;	/* knobs from the command line */
	long			 fail_every;	/* every Nth POST answers 503; 0 never */
	int			 quiet;
	int			 judge;		/* --judge: every request judged, verdict kept */
	unsigned long		 refusable;	/* judged requests the provider would refuse */
	unsigned long		 requests;	/* POSTs to the provider endpoints */
	unsigned long		 failed;	/* of those, answered with an error status */
	struct buf		 out;		/* the body being written, reused */
	struct buf		 last;		/* the /mock/last document */
	struct evbuffer		*chunk;		/* one stream event on its way */
} mp;

/*
 * An answer that waits: for latency_ms, between stream events, or for a fault
 * to strike.  It lives from the request callback until the reply ends or the
 * connection goes away (pending_closed()); its steps run only from its timer,
 * outside evhttp's callbacks, so a step may free the connection.
 */
struct pending {
	unsigned		 magic;
#define PENDING_MAGIC	0x6d6f636bU
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	struct event		 timer;
	int			 status;	/* answer with this error instead */
	const char		*why;		/* and this message */
	int			 started;	/* headers are out */
	int			 partial;	/* a whole body, cut by a fault */
	int			 writing;	/* an event is on its way */
	int			 frame;		/* the next event to send */
	int			 nframes;
	int			 stop_at;	/* the event where the fault strikes, or -1 */
	struct mock_call	 call;
};

enum route_kind { R_API, R_MODELS, R_HEALTH, R_LAST, R_STATS, R_RESET };

static const struct route {
	const char		*path;		/* with or without a leading /v1 */
	enum evhttp_cmd_type	 method;
	enum route_kind		 kind;
	enum mock_shape		 shape;
} routes[] = {
	{ "/chat/completions",	EVHTTP_REQ_POST, R_API,	   MOCK_CHAT },
	{ "/completions",	EVHTTP_REQ_POST, R_API,	   MOCK_COMPLETIONS },
	{ "/embeddings",	EVHTTP_REQ_POST, R_API,	   MOCK_EMBEDDINGS },
	{ "/responses",		EVHTTP_REQ_POST, R_API,	   MOCK_RESPONSES },
	{ "/messages",		EVHTTP_REQ_POST, R_API,	   MOCK_MESSAGES },
	{ "/models",		EVHTTP_REQ_GET,	 R_MODELS, MOCK_CHAT },
	{ "/health",		EVHTTP_REQ_GET,	 R_HEALTH, MOCK_CHAT },
	{ "/mock/last",		EVHTTP_REQ_GET,	 R_LAST,   MOCK_CHAT },
	{ "/mock/stats",	EVHTTP_REQ_GET,	 R_STATS,  MOCK_CHAT },
	{ "/mock/reset",	EVHTTP_REQ_POST, R_RESET,  MOCK_CHAT },
};

/* ---- replies ------------------------------------------------------------------ */

/* Reason phrases that libevent does not know; NULL lets it pick. */
static const char *
reason(int status)
{
	switch (status) {
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 529: return "Overloaded";		/* Anthropic's */
	default:  return NULL;
	}
}

/* Sends mp.out as the whole body. */
static void
reply_out(struct evhttp_request *req, int status)
{
	evbuffer_add(evhttp_request_get_output_buffer(req), mp.out.data, mp.out.len);
	evhttp_send_reply(req, status, reason(status), NULL);
}

/* An error answer's Retry-After and retry-after-ms, when the knobs ask for them. */
static void
retry_headers(struct evhttp_request *req, const struct mock_call *c)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char v[32];

	if (c->knob[MOCK_RETRY_AFTER]) {
		time_t at = time(NULL) + c->knob[MOCK_RETRY_AFTER];
		struct tm tm;

		/* RFC 9110's other form: the date after which to come back */
		if (!c->knob[MOCK_RETRY_AFTER_DATE] || gmtime_r(&at, &tm) == NULL ||
		    strftime(v, sizeof(v), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
			snprintf(v, sizeof(v), "%ld", c->knob[MOCK_RETRY_AFTER]);
		evhttp_add_header(h, "Retry-After", v);
	}
	if (c->knob[MOCK_RETRY_AFTER_MS]) {
		snprintf(v, sizeof(v), "%ld", c->knob[MOCK_RETRY_AFTER_MS]);
		evhttp_add_header(h, "retry-after-ms", v);
	}
}

static void
reply_error(struct evhttp_request *req, int status, const char *msg)
{
	mp.out.len = 0;
	if (mock_error_body(&mp.out, status, msg) < 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	reply_out(req, status);
}

/* A Bedrock error's type header, as AWS writes it ("ThrottlingException:http://..."). */
static void
bedrock_error_type(struct evhttp_request *req, int status)
{
	char type[128];

	snprintf(type, sizeof(type), "%s:http://internal.amazon.com/coral/com.amazon.bedrock/",
	    mock_bedrock_error_type(status));
	evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-ErrorType", type);
}

/* Bedrock's error: {"message"}, and its type in x-amzn-ErrorType. */
static void
reply_bedrock_error(struct evhttp_request *req, int status, const char *msg)
{
	mp.out.len = 0;
	if (mock_bedrock_error_body(&mp.out, msg) < 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	bedrock_error_type(req, status);
	reply_out(req, status);
}

/* A request the provider would refuse: a 400 in its own error format. */
static void
reply_refusal(struct evhttp_request *req, enum mock_shape shape, const char *msg)
{
	if (shape == MOCK_BEDROCK) {
		reply_bedrock_error(req, 400, msg);
		return;
	}
	mp.out.len = 0;
	if ((shape == MOCK_MESSAGES ? mock_anthropic_error_body(&mp.out, msg) :
	    mock_error_body(&mp.out, 400, msg)) < 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	reply_out(req, 400);
}

/*
 * The error of a fault (context_length, content_policy, error_usage) in its
 * provider's own words (shapes.c); Bedrock's with its x-amzn-ErrorType.
 */
static void
reply_fault(struct evhttp_request *req, const struct mock_call *c, int status)
{
	mp.out.len = 0;
	if (mock_fault_body(&mp.out, c) < 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (c->shape == MOCK_BEDROCK || c->host == MOCK_HOST_BEDROCK)
		bedrock_error_type(req, status);
	reply_out(req, status);
}

/*
 * A whole answer at once: an error, a malformed body, or a normal body.  An
 * error is the status knob's or --fail-every's (why says which), or, when
 * c->fault is an error fault, that fault's; each counts as failed and
 * carries the retry headers the knobs ask for.
 */
static void
answer(struct evhttp_request *req, const struct mock_call *c, int status, const char *why)
{
	int r;

	if (status) {
		mp.failed++;
		retry_headers(req, c);
		if (mock_fault_status(c->fault))
			reply_fault(req, c, status);
		else if (c->shape == MOCK_BEDROCK || c->host == MOCK_HOST_BEDROCK)
			reply_bedrock_error(req, status, why);
		else
			reply_error(req, status, why);
		return;
	}
	mp.out.len = 0;
	if (c->fault == MOCK_FAULT_MALFORMED) {
		r = mock_malformed_body(&mp.out, c);
		if (c->stream)
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			    "text/event-stream");
	} else
		r = mock_body(&mp.out, c);
	if (r < 0) {
		reply_error(req, 500, "mockprovider is out of memory");
		return;
	}
	reply_out(req, 200);
}

/* ---- answers that wait ---------------------------------------------------------- */

static void pending_step(evutil_socket_t, short, void *);

static void
pending_free(struct pending *p)
{
	assert(p->magic == PENDING_MAGIC);
	evtimer_del(&p->timer);
	p->magic = 0;
	free(p);
}

/*
 * The connection went away under us.  A request that evhttp unhooked from its
 * failed connection (req->evcon is NULL) is ours to free; one still queued on
 * it is freed with the connection.
 */
static void
pending_closed(struct evhttp_connection *evcon, void *arg)
{
	struct pending *p = arg;

	assert(p->magic == PENDING_MAGIC && p->evcon == evcon);
	if (!mp.quiet)
		log_info("connection closed before the answer to request %lu ended", p->call.seq);
	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	pending_free(p);
}

/* Ends the pending state before the last reply call, which may free the connection. */
static void
pending_done(struct pending *p)
{
	evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	pending_free(p);
}

static void
pending_arm(struct pending *p, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(&p->timer, &tv);
}

/*
 * Closes the connection without finishing the reply.  evhttp_connection_free()
 * shuts the socket down before closing it, so the client reads an end of file
 * (curl: "Empty reply from server", or a transfer cut short), not a reset.
 */
static void
pending_abort(struct pending *p)
{
	struct evhttp_connection *evcon = p->evcon;

	pending_done(p);
	evhttp_connection_free(evcon);
}

/* evhttp has written an event to the socket: the next step comes after the delay. */
static void
pending_written(struct evhttp_connection *evcon, void *arg)
{
	struct pending *p = arg;

	(void)evcon;
	assert(p->magic == PENDING_MAGIC);
	if (!p->writing)
		return;
	p->writing = 0;
	pending_arm(p, p->partial ? 0 : p->call.knob[MOCK_CHUNK_DELAY_MS]);
}

/* Sends mp.out as the next piece of the reply. */
static void
pending_send(struct pending *p, const char *data, size_t len)
{
	evbuffer_add(mp.chunk, data, len);
	p->writing = 1;
	evhttp_send_reply_chunk_with_cb(p->req, mp.chunk, pending_written, p);
	p->frame++;
}

/*
 * Headers, then one stream event per step.  A body cut by a fault is one
 * "event": the first half of the real body, under a Content-Length that
 * promises all of it.
 */
static int
pending_start(struct pending *p)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
	char len[32];

	mp.out.len = 0;
	if (p->partial) {
		if (mock_body(&mp.out, &p->call) < 0)
			return -1;
		snprintf(len, sizeof(len), "%zu", mp.out.len);
		evhttp_add_header(h, "Content-Length", len);
	} else {
		evhttp_add_header(h, "Content-Type", p->call.shape == MOCK_BEDROCK ||
		    p->call.host == MOCK_HOST_BEDROCK ?
		    "application/vnd.amazon.eventstream" : "text/event-stream");
		evhttp_add_header(h, "Cache-Control", "no-cache");
	}
	evhttp_send_reply_start(p->req, 200, NULL);
	p->started = 1;
	if (p->partial)
		pending_send(p, mp.out.data, mp.out.len / 2);
	return 0;
}

static void
pending_step(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct evhttp_request *req = p->req;

	(void)fd;
	(void)what;
	assert(p->magic == PENDING_MAGIC);
	if (!p->started) {
		if (p->status == 0 && p->call.fault == MOCK_FAULT_RESET) {
			pending_abort(p);
			return;
		}
		if (p->nframes == 0) {
			/* a whole answer, after latency_ms */
			struct mock_call c = p->call;
			int status = p->status;
			const char *why = p->why;

			pending_done(p);
			answer(req, &c, status, why);
			return;
		}
		if (pending_start(p) < 0)
			goto oom;
		if (p->partial)
			return;
	}
	if (p->frame == p->stop_at) {
		if (p->call.fault == MOCK_FAULT_RESET_MID_STREAM)
			pending_abort(p);
		/* else silence: wait until the client gives up (pending_closed()) */
		return;
	}
	mp.out.len = 0;
	if (mock_stream_frame(&mp.out, &p->call, p->frame) < 0)
		goto oom;
	pending_send(p, mp.out.data, mp.out.len);
	if (p->frame == p->nframes) {
		/* the end of the chunked body leaves with the last event */
		pending_done(p);
		evhttp_send_reply_end(req);
	}
	return;
oom:
	log_warn("out of memory in the answer to request %lu", p->call.seq);
	pending_abort(p);
}

/* A Bedrock stream's malformed answer is its frames, one with a bad CRC (shapes.c). */
static int
framed_malformed(const struct mock_call *c)
{
	return (c->shape == MOCK_BEDROCK || c->host == MOCK_HOST_BEDROCK) && c->stream &&
	    c->fault == MOCK_FAULT_MALFORMED;
}

/*
 * Takes over req for an answer that waits.  Returns 0, or -1 on ENOMEM (req is
 * then still the caller's to answer).
 */
static int
pending_new(struct evhttp_request *req, const struct mock_call *c, int status, const char *why,
    long delay_ms)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->magic = PENDING_MAGIC;
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->call = *c;
	p->status = status;
	p->why = why;
	p->stop_at = -1;
	/* no frames: one whole answer (or the reset) once the delay is over */
	if (status == 0 && (c->fault == MOCK_FAULT_RESET_MID_STREAM ||
	    c->fault == MOCK_FAULT_SILENCE_MID_STREAM)) {
		p->partial = !c->stream;
		p->nframes = c->stream ? mock_stream_frames(c) : 2;
		if (c->fault == MOCK_FAULT_RESET_MID_STREAM)
			p->stop_at = p->nframes / 2;
		else	/* two events, but never the whole stream */
			p->stop_at = p->nframes > 3 ? 2 : p->nframes - 1;
	} else if (status == 0 && c->stream && (c->fault != MOCK_FAULT_MALFORMED ||
	    framed_malformed(c)) && c->fault != MOCK_FAULT_RESET)
		p->nframes = mock_stream_frames(c);
	evtimer_assign(&p->timer, mp.base, pending_step, p);
	evhttp_connection_set_closecb(p->evcon, pending_closed, p);
	pending_arm(p, delay_ms);
	return 0;
}

/* ---- knobs ----------------------------------------------------------------------- */

/* Names match with '-' for '_' and in any case: headers say X-Mock-Prompt-Tokens. */
static int
name_is(const char *want, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char a = want[i], b = s[i];

		if (a == '\0')
			return 0;
		if (b == '-')
			b = '_';
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return want[n] == '\0';
}

/*
 * Sets knob name (n bytes) from the text v (vn bytes).  Returns 0, or -1 with
 * a message for the client in err.
 */
static int
set_knob(struct mock_call *c, const char *name, size_t n, const char *v, size_t vn,
    char *err, size_t errlen)
{
	long x = 0;
	size_t i;
	int k;

	if (name_is("fault", name, n)) {
		for (k = 0; k < MOCK_NFAULTS; k++)
			if (name_is(mock_fault_names[k], v, vn)) {
				c->fault = (enum mock_fault)k;
				return 0;
			}
		snprintf(err, errlen, "unknown mock fault '%.*s' (none, reset, reset_mid_stream, "
		    "slow_headers, malformed, no_usage, silence_mid_stream, throttled_mid_stream, "
		    "exception_mid_stream, context_length, content_policy, error_usage)",
		    (int)(vn > 64 ? 64 : vn), v);
		return -1;
	}
	for (k = 0; k < MOCK_NKNOBS; k++)
		if (name_is(mock_knob_names[k], name, n))
			break;
	if (k == MOCK_NKNOBS) {
		snprintf(err, errlen, "unknown mock knob '%.*s'", (int)(n > 64 ? 64 : n), name);
		return -1;
	}
	for (i = 0; i < vn && v[i] >= '0' && v[i] <= '9' && x <= knob_max[k]; i++)
		x = x * 10 + (v[i] - '0');
	if (vn == 0 || i < vn || x > knob_max[k] ||
	    (k == MOCK_STATUS && x != 0 && x < 200)) {
		snprintf(err, errlen, "mock knob '%s' must be an integer from %d to %ld",
		    mock_knob_names[k], k == MOCK_STATUS ? 200 : 0, knob_max[k]);
		return -1;
	}
	c->knob[k] = x;
	return 0;
}

/* X-Mock-<knob>: <value> headers, for clients that cannot change the body. */
static int
knobs_from_headers(struct evhttp_request *req, struct mock_call *c, char *err, size_t errlen)
{
	static const char prefix[] = "x-mock-";
	struct evkeyval *h;

	TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next) {
		if (strncasecmp(h->key, prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (set_knob(c, h->key + sizeof(prefix) - 1, strlen(h->key + sizeof(prefix) - 1),
		    h->value, strlen(h->value), err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int
body_error(struct json_scan *s, char *err, size_t errlen)
{
	int line, col;

	json_position(s, &line, &col);
	snprintf(err, errlen, "request body is not valid JSON: %d:%d: %s", line, col,
	    s->error ? s->error : "unexpected value");
	return -1;
}

/* The "mock" object: knobs as numbers, or strings of digits, or the fault's name. */
static int
knobs_from_body(struct json_scan *s, struct mock_call *c, char *err, size_t errlen)
{
	struct json_text key, v;
	enum json_type t;
	int r;

	if (json_object_begin(s) < 0)
		return body_error(s, err, errlen);
	while ((r = json_next_key(s, &key)) > 0) {
		if (json_scalar(s, &t, &v) < 0)
			return body_error(s, err, errlen);
		if ((t != JSON_NUMBER && t != JSON_STRING) || v.escaped) {
			snprintf(err, errlen, "mock knob '%.*s' must be a number or a plain string",
			    (int)(key.len > 64 ? 64 : key.len), key.ptr);
			return -1;
		}
		if (set_knob(c, key.ptr, key.len, v.ptr, v.len, err, errlen) < 0)
			return -1;
	}
	return r < 0 ? body_error(s, err, errlen) : 0;
}

/*
 * The tool a tool_choice object forces: Anthropic's {"type": "tool", "name"},
 * Responses' {"type": "function", "name"}, chat's {"type": "function",
 * "function": {"name"}}.  0, or -1 on a body that does not scan.
 */
static int
forced_tool(struct json_scan *s, struct mock_call *c)
{
	struct json_text key, v, name = { NULL, 0, 0 };
	enum json_type t;
	int r, forces = 0;

	if (json_object_begin(s) < 0)
		return -1;
	while ((r = json_next_key(s, &key)) > 0) {
		if (json_text_is(&key, "function") && json_peek(s) == JSON_OBJECT) {
			if (json_object_begin(s) < 0)
				return -1;
			while ((r = json_next_key(s, &key)) > 0)
				if (!json_text_is(&key, "name") ? json_skip(s) < 0 :
				    json_scalar(s, &t, &name) < 0)
					return -1;
			if (r < 0)
				return -1;
		} else if (json_text_is(&key, "type") || json_text_is(&key, "name")) {
			int is_type = json_text_is(&key, "type");

			if (json_scalar(s, &t, &v) < 0)
				return -1;
			if (is_type)
				forces = json_text_is(&v, "tool") || json_text_is(&v, "function");
			else
				name = v;
		} else if (json_skip(s) < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (forces && name.ptr != NULL && name.len < MOCK_MODEL_MAX && !name.escaped) {
		memcpy(c->forced, name.ptr, name.len);
		c->forced_len = name.len;
	}
	return 0;
}

/*
 * Reads what the answer depends on from a request body: model, stream,
 * stream_options.include_usage, the tool tool_choice forces and the "mock"
 * knobs.  Everything else is skipped unread.  Returns 0, or -1 with a message in err.
 */
static int
parse_body(const char *body, size_t len, struct mock_call *c, char *err, size_t errlen)
{
	struct json_scan s;
	struct json_text key, v;
	enum json_type t;
	int r;

	json_init(&s, body ? body : "", len);
	if (json_peek(&s) != JSON_OBJECT) {
		snprintf(err, errlen, "request body must be a JSON object");
		return -1;
	}
	if (json_object_begin(&s) < 0)
		return body_error(&s, err, errlen);
	while ((r = json_next_key(&s, &key)) > 0) {
		if (json_text_is(&key, "model")) {
			if (json_scalar(&s, &t, &v) < 0)
				return body_error(&s, err, errlen);
			if (t != JSON_STRING || v.len >= MOCK_MODEL_MAX) {
				snprintf(err, errlen, "'model' must be a string shorter than %d bytes",
				    MOCK_MODEL_MAX);
				return -1;
			}
			memcpy(c->model, v.ptr, v.len);
			c->model_len = v.len;
		} else if (json_text_is(&key, "stream")) {
			if (json_scalar(&s, &t, &v) < 0)
				return body_error(&s, err, errlen);
			c->stream = t == JSON_TRUE;
		} else if (json_text_is(&key, "stream_options") && json_peek(&s) == JSON_OBJECT) {
			if (json_object_begin(&s) < 0)
				return body_error(&s, err, errlen);
			while ((r = json_next_key(&s, &key)) > 0) {
				if (!json_text_is(&key, "include_usage")) {
					if (json_skip(&s) < 0)
						return body_error(&s, err, errlen);
				} else if (json_scalar(&s, &t, &v) < 0)
					return body_error(&s, err, errlen);
				else
					c->include_usage = t == JSON_TRUE;
			}
			if (r < 0)
				return body_error(&s, err, errlen);
		} else if (json_text_is(&key, "tool_choice") && json_peek(&s) == JSON_OBJECT) {
			if (forced_tool(&s, c) < 0)
				return body_error(&s, err, errlen);
		} else if (json_text_is(&key, "mock")) {
			if (json_peek(&s) != JSON_OBJECT) {
				snprintf(err, errlen, "'mock' must be an object of knobs");
				return -1;
			}
			if (knobs_from_body(&s, c, err, errlen) < 0)
				return -1;
		} else if (json_skip_fast(&s) < 0)
			return body_error(&s, err, errlen);
	}
	if (r < 0 || json_at_end(&s) < 0)
		return body_error(&s, err, errlen);
	return 0;
}

/* ---- the endpoints ------------------------------------------------------------------ */

/*
 * Keeps the request as the /mock/last document, with the judge's verdict
 * when it was judged (NULL: not judged; "ok", or what is wrong); on ENOMEM
 * there is none.
 */
static void
record_last(struct evhttp_request *req, const char *body, size_t len, const char *verdict)
{
	struct buf *b = &mp.last;
	struct evkeyval *h;
	const char *uri = evhttp_request_get_uri(req);
	int r, first = 1;

	b->len = 0;
	r = PUT(b, "{\"method\":\"POST\",\"path\":\"");
	r |= mock_json_escape(b, uri, strlen(uri));
	r |= PUT(b, "\",\"headers\":{");
	TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next) {
		r |= first ? PUT(b, "\"") : PUT(b, ",\"");
		first = 0;
		r |= mock_json_escape(b, h->key, strlen(h->key));
		r |= PUT(b, "\":\"");
		r |= mock_json_escape(b, h->value, strlen(h->value));
		r |= PUT(b, "\"");
	}
	r |= PUT(b, "},\"body\":\"");
	r |= mock_json_escape(b, body, len);
	if (verdict != NULL) {
		r |= PUT(b, "\",\"verdict\":\"");
		r |= mock_json_escape(b, verdict, strlen(verdict));
	}
	r |= PUT(b, "\"}");
	if (r < 0)
		b->len = 0;
}

/* Whether the answer is one piece that can go out from the request callback. */
static int
answers_at_once(const struct mock_call *c, int status)
{
	if (status || (c->fault == MOCK_FAULT_MALFORMED && !framed_malformed(c)))
		return 1;
	if (c->fault != MOCK_FAULT_NONE && c->fault != MOCK_FAULT_NO_USAGE &&
	    !framed_malformed(c))
		return 0;
	return !c->stream;
}

/*
 * Gemini's path says the model and whether to stream:
 * /v1beta/models/M:generateContent, /v1beta/models/M:streamGenerateContent.
 */
static int
gemini_path(const char *uri, struct mock_call *c)
{
	const char *m = uri + strlen("/v1beta/models/"), *colon = strchr(m, ':');
	size_t n = strcspn(colon ? colon : "", "?");

	if (colon == NULL || (size_t)(colon - m) >= MOCK_MODEL_MAX || colon == m ||
	    memchr(m, '"', (size_t)(colon - m)) || memchr(m, '\\', (size_t)(colon - m)))
		return -1;
	if (n == 16 && strncmp(colon, ":generateContent", 16) == 0)
		c->stream = 0;
	else if (n == 22 && strncmp(colon, ":streamGenerateContent", 22) == 0)
		c->stream = 1;
	else
		return -1;
	c->model_len = (size_t)(colon - m);
	memcpy(c->model, m, c->model_len);
	return 0;
}

/*
 * Vertex AI's model paths (the model and the stream are the URL's) and its
 * bearer: a token that the mock's /token issued and that has not expired,
 * else Google's 401.  1 when refused (answered), else 0.
 */
static int
vertex_refused(struct evhttp_request *req, struct mock_call *c, const char *body, size_t len)
{
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");

	if (mock_vertex_path(evhttp_request_get_uri(req), c) < 0) {
		record_last(req, body, len, "no such Vertex AI path");
		reply_error(req, 404, "no such Vertex AI method in mockprovider");
		return 1;
	}
	if (mock_token_valid(auth))
		return 0;
	record_last(req, body, len, "no valid bearer token");
	mp.out.len = 0;
	if (PUT(&mp.out, "{\"error\":{\"code\":401,\"message\":\"Request had invalid "
	    "authentication credentials. Expected OAuth 2 access token.\",\"status\":"
	    "\"UNAUTHENTICATED\"}}") < 0) {
		evhttp_send_error(req, 500, NULL);
		return 1;
	}
	reply_out(req, 401);
	return 1;
}

/*
 * /model/ID/invoke and /model/ID/invoke-with-response-stream: the model is
 * the path's (percent-decoded), and so is the stream.  0, or -1.
 */
static int
invoke_path(const char *uri, struct mock_call *c)
{
	const char *id = uri + 7, *end = strstr(id, "/invoke");
	size_t n = 0;
	unsigned v;

	if (end == NULL || (strcmp(end, "/invoke") != 0 &&
	    strcmp(end, "/invoke-with-response-stream") != 0))
		return -1;
	for (; id < end && n + 1 < MOCK_MODEL_MAX; id++) {
		if (*id == '%' && end - id > 2 && sscanf(id + 1, "%2x", &v) == 1) {
			c->model[n++] = (char)v;
			id += 2;
		} else
			c->model[n++] = *id;
		if (c->model[n - 1] == '"' || c->model[n - 1] == '\\')
			return -1;
	}
	c->model_len = n;
	c->host = MOCK_HOST_BEDROCK;
	c->stream = end[7] != '\0';
	return 0;
}

static void
serve_api(struct evhttp_request *req, enum mock_shape shape)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : NULL;
	struct mock_call c = mp.defaults;
	const char *why = NULL;
	char err[512], why_not[384];
	long delay;
	int status = 0;

	c.seq = ++mp.requests;
	c.shape = shape;
	c.created = time(NULL);
	if (knobs_from_headers(req, &c, err, sizeof(err)) < 0 ||
	    parse_body(body, len, &c, err, sizeof(err)) < 0) {
		record_last(req, body, len, NULL);
		if (!mp.quiet)
			log_info("request %lu: %s", c.seq, err);
		reply_error(req, 400, err);
		return;
	}
	if (strncmp(evhttp_request_get_uri(req), "/v1/projects/", 13) == 0 &&
	    vertex_refused(req, &c, body, len))
		return;
	if (shape == MOCK_MESSAGES && strncmp(evhttp_request_get_uri(req), "/model/", 7) == 0 &&
	    invoke_path(evhttp_request_get_uri(req), &c) < 0) {
		record_last(req, body, len, NULL);
		reply_error(req, 404, "no such InvokeModel path in mockprovider");
		return;
	}
	if (mp.judge || c.knob[MOCK_STRICT]) {
		int valid = mock_judge(shape, c.host, body, len, why_not, sizeof(why_not));

		record_last(req, body, len, valid ? "ok" : why_not);
		mp.refusable += !valid;
		if (!valid && c.knob[MOCK_STRICT]) {
			if (!mp.quiet)
				log_info("request %lu: refused: %s", c.seq, why_not);
			snprintf(err, sizeof(err), "mockprovider (strict): %s", why_not);
			/* InvokeModel refuses as Bedrock does, whatever the model's format */
			reply_refusal(req, c.host == MOCK_HOST_BEDROCK ? MOCK_BEDROCK : shape, err);
			return;
		}
	} else
		record_last(req, body, len, NULL);
	if (shape == MOCK_EMBEDDINGS)
		c.stream = 0;
	if (shape == MOCK_BEDROCK)	/* the path says it: .../converse-stream, .../invoke-with-response-stream */
		c.stream = strstr(evhttp_request_get_uri(req), "-stream") != NULL;
	if (shape == MOCK_GEMINI && gemini_path(evhttp_request_get_uri(req), &c) < 0) {
		reply_error(req, 404, "no such Gemini method in mockprovider (generateContent, "
		    "streamGenerateContent)");
		return;
	}
	if ((c.fault == MOCK_FAULT_THROTTLED_MID_STREAM || c.fault == MOCK_FAULT_EXCEPTION_MID_STREAM) &&
	    ((shape != MOCK_BEDROCK && c.host != MOCK_HOST_BEDROCK) || !c.stream)) {
		reply_error(req, 400, "mock faults throttled_mid_stream and exception_mid_stream are "
		    "Bedrock streams' (POST /model/ID/converse-stream, invoke-with-response-stream)");
		return;
	}
	/* the status and --fail-every take precedence over any fault */
	if (mp.fail_every && c.seq % (unsigned long)mp.fail_every == 0) {
		status = 503;
		why = "mockprovider fails every so many requests (--fail-every)";
		c.fault = MOCK_FAULT_NONE;
	} else if (c.knob[MOCK_STATUS]) {
		status = (int)c.knob[MOCK_STATUS];
		why = "mockprovider was asked for this status (mock knob 'status')";
		c.fault = MOCK_FAULT_NONE;
	} else
		status = mock_fault_status(c.fault);
	delay = c.knob[MOCK_LATENCY_MS];
	if (status == 0 && c.fault == MOCK_FAULT_SLOW_HEADERS && delay < SLOW_HEADERS_MS)
		delay = SLOW_HEADERS_MS;
	if (!mp.quiet)
		log_info("request %lu: POST %s%s%s%s status %d", c.seq, evhttp_request_get_uri(req),
		    c.stream ? " stream" : "", c.fault ? " fault " : "",
		    c.fault ? mock_fault_names[c.fault] : "", status ? status : 200);

	if (delay == 0 && answers_at_once(&c, status)) {
		answer(req, &c, status, why);
		return;
	}
	if (pending_new(req, &c, status, why, delay) < 0)
		reply_error(req, 500, "mockprovider is out of memory");
}

/* Google's token endpoint (POST /token), and the test's view of it (/mock/token). */
static void
serve_token(struct evhttp_request *req, const char *uri)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char err[160];
	int status = 200;

	mp.out.len = 0;
	if (strcmp(uri, "/token") == 0 && method == EVHTTP_REQ_POST)
		status = mock_token_exchange(body, len, &mp.out);
	else if (method == EVHTTP_REQ_GET)
		status = mock_token_stats(&mp.out) < 0 ? -1 : 200;
	else if (mock_token_configure(body, len, err, sizeof(err)) < 0) {
		reply_error(req, 400, err);
		return;
	} else
		status = PUT(&mp.out, "{\"status\":\"ok\"}") < 0 ? -1 : 200;
	if (status < 0) {
		reply_error(req, 500, "mockprovider is out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	reply_out(req, status);
}

/* The endpoints that are not a provider's: health, models and the /mock/ ones. */
static void
serve_local(struct evhttp_request *req, enum route_kind kind)
{
	int r = 0;

	mp.out.len = 0;
	switch (kind) {
	case R_MODELS:
		r = mock_models_body(&mp.out, 1700000000);
		break;
	case R_HEALTH:
		r = PUT(&mp.out, "{\"status\":\"ok\"}");
		break;
	case R_LAST:
		if (mp.last.len == 0) {
			reply_error(req, 404, "no POST request received yet");
			return;
		}
		r = buf_append(&mp.out, mp.last.data, mp.last.len);
		break;
	case R_STATS:
		r = buf_printf(&mp.out, "{\"requests\":%lu,\"refusable\":%lu,\"failed\":%lu}",
		    mp.requests, mp.refusable, mp.failed);
		break;
	case R_RESET:
		mp.requests = 0;
		mp.refusable = 0;
		mp.failed = 0;
		mp.last.len = 0;
		r = PUT(&mp.out, "{\"status\":\"ok\"}");
		break;
	case R_API:
		break;
	}
	if (r < 0) {
		reply_error(req, 500, "mockprovider is out of memory");
		return;
	}
	reply_out(req, 200);
}

/* The defaults as JSON into mp.out. */
static int
defaults_json(void)
{
	int k, r;

	mp.out.len = 0;
	r = buf_printf(&mp.out, "{\"fault\":\"%s\",\"fail_every\":%ld",
	    mock_fault_names[mp.defaults.fault], mp.fail_every);
	for (k = 0; k < MOCK_NKNOBS; k++)
		r |= buf_printf(&mp.out, ",\"%s\":%ld", mock_knob_names[k], mp.defaults.knob[k]);
	return r | PUT(&mp.out, "}");
}

/*
 * GET /mock/defaults: the knobs' defaults; POST: changes them (an object of
 * knobs, fault and fail_every, named as in the "mock" object), all or
 * nothing, so that a test can make a deployment fail and heal while it runs.
 * Answers the defaults now in force, or a 400 naming the bad knob.
 */
static void
serve_defaults(struct evhttp_request *req, enum evhttp_cmd_type method)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct mock_call c = mp.defaults;
	long fail_every = mp.fail_every;
	struct json_scan s;
	struct json_text key, v;
	enum json_type t;
	char err[256];
	int r;

	if (method == EVHTTP_REQ_POST) {
		json_init(&s, body, len);
		if (json_peek(&s) != JSON_OBJECT || json_object_begin(&s) < 0) {
			reply_error(req, 400, "POST /mock/defaults takes a JSON object of knobs");
			return;
		}
		while ((r = json_next_key(&s, &key)) > 0) {
			if (json_scalar(&s, &t, &v) < 0 || (t != JSON_NUMBER && t != JSON_STRING) ||
			    v.escaped) {
				snprintf(err, sizeof(err), "mock knob '%.*s' must be a number or a plain "
				    "string", (int)(key.len > 64 ? 64 : key.len), key.ptr);
				reply_error(req, 400, err);
				return;
			}
			if (name_is("fail_every", key.ptr, key.len)) {
				size_t i;

				for (i = 0, fail_every = 0; i < v.len && v.ptr[i] >= '0' &&
				    v.ptr[i] <= '9' && fail_every <= FAIL_EVERY_MAX; i++)
					fail_every = fail_every * 10 + (v.ptr[i] - '0');
				if (v.len == 0 || i < v.len || fail_every > FAIL_EVERY_MAX) {
					snprintf(err, sizeof(err), "mock knob 'fail_every' must be an "
					    "integer from 0 to %ld", FAIL_EVERY_MAX);
					reply_error(req, 400, err);
					return;
				}
			} else if (set_knob(&c, key.ptr, key.len, v.ptr, v.len, err, sizeof(err)) < 0) {
				reply_error(req, 400, err);
				return;
			}
		}
		if (r < 0 || json_at_end(&s) < 0) {
			reply_error(req, 400, "POST /mock/defaults: the body is not valid JSON");
			return;
		}
		mp.defaults = c;
		mp.fail_every = fail_every;
	} else if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, POST");
		reply_error(req, 405, "method not allowed for this endpoint");
		return;
	}
	if (defaults_json() < 0) {
		reply_error(req, 500, "mockprovider is out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	reply_out(req, 200);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req), *path = uri;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	size_t n = strcspn(uri, "?"), i;
	const struct route *rt = NULL;

	(void)arg;
	if (n >= 4 && strncmp(path, "/v1/", 4) == 0) {
		path += 3;
		n -= 3;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == n && strncmp(routes[i].path, path, n) == 0) {
			rt = &routes[i];
			break;
		}
	if (rt == NULL && n == 14 && strncmp(path, "/mock/defaults", 14) == 0) {
		serve_defaults(req, method);
		return;
	}
	if (rt == NULL && (strcmp(uri, "/token") == 0 || strcmp(uri, "/mock/token") == 0)) {
		serve_token(req, uri);
		return;
	}
	if (rt == NULL && method == EVHTTP_REQ_POST && strncmp(uri, "/v1/projects/", 13) == 0) {
		serve_api(req, strstr(uri, "/publishers/anthropic/") ? MOCK_MESSAGES : MOCK_GEMINI);
		return;
	}
	if (rt == NULL && method == EVHTTP_REQ_POST && strncmp(uri, "/v1beta/models/", 15) == 0) {
		serve_api(req, MOCK_GEMINI);
		return;
	}
	if (rt == NULL && method == EVHTTP_REQ_POST && strncmp(uri, "/model/", 7) == 0) {
		/* InvokeModel answers in the model's own format: Claude's, here */
		serve_api(req, strstr(uri, "/invoke") ? MOCK_MESSAGES : MOCK_BEDROCK);
		return;
	}
	if (rt == NULL) {
		reply_error(req, 404, "no such endpoint in mockprovider");
		return;
	}
	if (method != rt->method && !(method == EVHTTP_REQ_HEAD && rt->method == EVHTTP_REQ_GET)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
		    rt->method == EVHTTP_REQ_GET ? "GET, HEAD" : "POST");
		reply_error(req, 405, "method not allowed for this endpoint");
		return;
	}
	if (rt->kind == R_API)
		serve_api(req, rt->shape);
	else
		serve_local(req, rt->kind);
}

/* ---- start-up --------------------------------------------------------------------------- */

/*
 * Opens the listening socket.  TCP_NODELAY set here is inherited by every
 * accepted socket on Linux, which spares a setsockopt() per connection; stream
 * events are small writes that Nagle would otherwise hold back.
 */
static evutil_socket_t
listen_on(const char *addr, const char *port, char *name, size_t namelen)
{
	struct addrinfo hints, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(addr, port, &hints, &ai)) != 0)
		fatal("cannot resolve '%s': %s", addr, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("cannot create a socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
		fatal("cannot listen on '%s:%s': %s", addr, port, strerror(errno));
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		fatal("cannot name the listening socket: %s", strerror(errno));
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(name, namelen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(name, namelen, "%s:%u", host, ntohs(s4->sin_port));
	}
	return fd;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("caught signal %d, exiting", (int)sig);
	event_base_loopbreak(mp.base);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mockprovider [-q] [--judge] [-l ADDR] [-p PORT] [--fail-every K] [--fault NAME]\n"
	    "                    [--prompt-tokens N] [--completion-tokens N] [--cached-tokens N]\n"
	    "                    [--reasoning-tokens N] [--cache-write-tokens N]\n"
	    "                    [--cache-write-1h-tokens N] [--chunks N] [--chunk-delay-ms N]\n"
	    "                    [--latency-ms N] [--status N] [--tool-calls N]\n"
	    "                    [--retry-after S] [--retry-after-ms MS]\n"
	    "Defaults: -l 127.0.0.1 -p 4001 (0 picks a free port).  Requests override the\n"
	    "knobs with a \"mock\" object in the body or X-Mock-<knob> headers.\n"
	    "--judge checks every request against its provider's rules (the verdict is in\n"
	    "GET /mock/last, the count of refusable ones in /mock/stats); the knob strict=1\n"
	    "refuses such a request with a 400, as the provider would.\n"
	    "POST /mock/defaults changes the defaults while it runs; GET shows them.\n");
}

/* Long options name knobs by their index: the option's val is OPT_KNOB + knob. */
enum { OPT_FAIL_EVERY = 256, OPT_FAULT, OPT_JUDGE, OPT_KNOB };

static const struct option options[] = {
	{ "fail-every",		  required_argument, NULL, OPT_FAIL_EVERY },
	{ "fault",		  required_argument, NULL, OPT_FAULT },
	{ "prompt-tokens",	  required_argument, NULL, OPT_KNOB + MOCK_PROMPT_TOKENS },
	{ "completion-tokens",	  required_argument, NULL, OPT_KNOB + MOCK_COMPLETION_TOKENS },
	{ "cached-tokens",	  required_argument, NULL, OPT_KNOB + MOCK_CACHED_TOKENS },
	{ "reasoning-tokens",	  required_argument, NULL, OPT_KNOB + MOCK_REASONING_TOKENS },
	{ "cache-write-tokens",	  required_argument, NULL, OPT_KNOB + MOCK_CACHE_WRITE_TOKENS },
	{ "cache-write-1h-tokens", required_argument, NULL, OPT_KNOB + MOCK_CACHE_WRITE_1H_TOKENS },
	{ "chunks",		  required_argument, NULL, OPT_KNOB + MOCK_CHUNKS },
	{ "chunk-delay-ms",	  required_argument, NULL, OPT_KNOB + MOCK_CHUNK_DELAY_MS },
	{ "latency-ms",		  required_argument, NULL, OPT_KNOB + MOCK_LATENCY_MS },
	{ "status",		  required_argument, NULL, OPT_KNOB + MOCK_STATUS },
	{ "tool-calls",		  required_argument, NULL, OPT_KNOB + MOCK_TOOL_CALLS },
	{ "retry-after",	  required_argument, NULL, OPT_KNOB + MOCK_RETRY_AFTER },
	{ "retry-after-ms",	  required_argument, NULL, OPT_KNOB + MOCK_RETRY_AFTER_MS },
	{ "judge",		  no_argument,	     NULL, OPT_JUDGE },
	{ "help",		  no_argument,	     NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct event *sigterm, *sigint;
	struct evhttp *http;
	const char *addr = "127.0.0.1", *port = "4001";
	char name[INET6_ADDRSTRLEN + 16], err[256], *end;
	evutil_socket_t fd;
	pid_t parent;
	long n;
	int ch;

	log_init("mockprovider", LOG_LEVEL_INFO);
	/*
	 * A mock belongs to the test or benchmark that started it: if that dies,
	 * however it dies, the mock goes too, rather than holding its port and the
	 * test runner's pipe open.  The second getppid() catches a parent that died
	 * before the prctl.
	 */
	parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		return 1;
	mp.defaults.knob[MOCK_PROMPT_TOKENS] = 1000;
	mp.defaults.knob[MOCK_COMPLETION_TOKENS] = 50;
	mp.defaults.knob[MOCK_CHUNKS] = 50;
	mp.defaults.model_len = strlen("mock-model");
	memcpy(mp.defaults.model, "mock-model", mp.defaults.model_len);
	while ((ch = getopt_long(argc, argv, "hl:p:q", options, NULL)) != -1) {
		switch (ch) {
		case 'l':
			addr = optarg;
			break;
		case 'p':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 0 || n > 65535)
				fatal("bad port '%s'", optarg);
			port = optarg;
			break;
		case 'q':
			mp.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_FAIL_EVERY:
			mp.fail_every = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || mp.fail_every < 0 ||
			    mp.fail_every > FAIL_EVERY_MAX)
				fatal("bad --fail-every '%s'", optarg);
			break;
		case OPT_JUDGE:
			mp.judge = 1;
			break;
		case OPT_FAULT:
			if (set_knob(&mp.defaults, "fault", 5, optarg, strlen(optarg), err,
			    sizeof(err)) < 0)
				fatal("%s", err);
			break;
		default:
			if (ch < OPT_KNOB || ch >= OPT_KNOB + MOCK_NKNOBS) {
				usage(stderr);
				return 2;
			}
			if (set_knob(&mp.defaults, mock_knob_names[ch - OPT_KNOB],
			    strlen(mock_knob_names[ch - OPT_KNOB]), optarg, strlen(optarg), err,
			    sizeof(err)) < 0)
				fatal("%s", err);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* a client that hangs up must cost an EPIPE, not the process */
	signal(SIGPIPE, SIG_IGN);
	if (mock_shapes_init() < 0 || (mp.chunk = evbuffer_new()) == NULL)
		fatal("out of memory");
	if ((mp.base = event_base_new()) == NULL || (http = evhttp_new(mp.base)) == NULL)
		fatal("cannot set up libevent");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(http, "application/json");
	evhttp_set_max_body_size(http, MAX_BODY);
	evhttp_set_gencb(http, on_request, NULL);
	fd = listen_on(addr, port, name, sizeof(name));
	if (evhttp_accept_socket_with_handle(http, fd) == NULL)
		fatal("cannot accept on %s", name);
	sigterm = evsignal_new(mp.base, SIGTERM, on_signal, NULL);
	sigint = evsignal_new(mp.base, SIGINT, on_signal, NULL);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0)
		fatal("cannot catch signals");
	log_info("listening on %s", name);

	event_base_dispatch(mp.base);

	/* freeing the server closes its connections; pending_closed() frees their answers */
	evhttp_free(http);
	event_free(sigterm);
	event_free(sigint);
	evbuffer_free(mp.chunk);
	event_base_free(mp.base);
	buf_release(&mp.out);
	buf_release(&mp.last);
	mock_shapes_release();
	return 0;
}
