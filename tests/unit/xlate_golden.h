/*
 * The golden-file runner of the translators' unit tests (t_xlate_*.c):
 * each case is NAME.in.json (or NAME.sse for a stream from upstream) and
 * NAME.want.json in tests/data/xlate/GOLDEN_DIR/, compared as JSON trees
 * (json_equal), "created" and "created_at" left out since they are the
 * clock's.  A refusal is wanted as {"xlate_error": {"status", "param"}};
 * a decoded stream as {"rc": the last event's return, "chunks": [...]};
 * an encoded stream as {"out": [{"event", "data"}...], "tail": [...]} (no
 * "tail": the stream is not ended).  The including test defines F (its
 * struct xlate_format), GOLDEN_DIR and GOLDEN_INCLUDE_USAGE (what its
 * encoder is given), then lists its cases.  Only F's functions and
 * xlate_fail are called, so a test links without the glue.
 */
#ifndef TOLLGATE_TESTS_XLATE_GOLDEN_H
#define TOLLGATE_TESTS_XLATE_GOLDEN_H

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "provider/xlate.h"
#include "sse.h"
#include "tap.h"

enum kind { REQ_TO_CHAT, REQ_FROM_CHAT, RESP_TO_CHAT, RESP_FROM_CHAT, DECODE, ENCODE };

struct gcase {
	const char	*name;
	enum kind	 kind;
	int		 drop_params;
	int		 reasoning_model;
	int64_t		 max_tokens;
	int		 native_json;	/* xlate_opts.native_json */
};


static const char *
src_root(void)
{
	const char *root = getenv("TOLLGATE_SRC");

	return root ? root : ".";
}

static json_t *
load_json(const char *name, const char *ext)
{
	char path[4096];
	json_error_t err;
	json_t *v;

	snprintf(path, sizeof(path), "%s/tests/data/xlate/" GOLDEN_DIR "/%s%s", src_root(), name, ext);
	if ((v = json_load_file(path, 0, &err)) == NULL)
		diag("%s: line %d: %s", path, err.line, err.text);
	return v;
}

/* Drops "created" and "created_at" from v and all it holds: they are the clock's. */
static void
unclock(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	json_object_del(v, "created");
	json_object_del(v, "created_at");
	json_object_foreach(v, k, x)
		unclock(x);
	json_array_foreach(v, i, x)
		unclock(x);
}

static int
same(json_t *got, json_t *want, const char *name)
{
	char *g, *w;
	int eq;

	unclock(got);
	eq = ok(got != NULL && want != NULL && json_equal(got, want), "%s", name);
	if (!eq) {
		g = got ? json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
		w = want ? json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
		diag("got:\n%s", g ? g : "(null)");
		diag("want:\n%s", w ? w : "(null)");
		free(g);
		free(w);
	}
	return eq;
}

/* got NULL: the refusal e as the golden file has it. */
static json_t *
refusal(const struct xlate_error *e)
{
	return json_pack("{s:{s:i,s:s}}", "xlate_error", "status", e->status, "param", e->param);
}

static json_t *
run_tree(const struct gcase *c, json_t *in)
{
	struct xlate_opts o = { "up-model", c->drop_params, c->max_tokens, c->reasoning_model,
	    c->native_json };
	struct xlate_error e = { 0 };
	json_t *got = NULL;

	switch (c->kind) {
	case REQ_TO_CHAT: got = F->request_to_chat(in, &o, &e); break;
	case REQ_FROM_CHAT: got = F->request_from_chat(in, &o, &e); break;
	case RESP_TO_CHAT: got = F->response_to_chat(in, &e); break;
	case RESP_FROM_CHAT: got = F->response_from_chat(in, "client-model", &e); break;
	default: break;
	}
	if (got == NULL) {
		if (e.message[0] != '\0')
			diag("%s: %d %s: %s", c->name, e.status, e.param, e.message);
		return refusal(&e);
	}
	return got;
}

/* ---- streams ---------------------------------------------------------------- */

struct decoded {
	void	*st;
	json_t	*chunks;
	int	 rc;		/* the last event's */
	int	 events;
	int	 fail_at;	/* emit returns -1 on this chunk (1-based), 0: never */
};

static int
collect(void *arg, json_t *chunk)
{
	struct decoded *d = arg;

	json_array_append(d->chunks, chunk);
	return d->fail_at && (int)json_array_size(d->chunks) == d->fail_at ? -1 : 0;
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct decoded *d = arg;

	(void)line;
	if (d->rc != 0)
		return -1;	/* the stream ended: nothing after it is read */
	d->events++;
	d->rc = F->decoder_event(d->st, event, data, len, collect, d);
	return 0;
}

/* Feeds the SSE text through the decoder, cut every chunk bytes. */
static json_t *
decode_text(const char *text, size_t n, size_t cut, int fail_at, int *events)
{
	struct decoded d = { F->decoder_new(), json_array(), 0, 0, fail_at };
	struct sse p;
	size_t i;

	sse_init(&p);
	for (i = 0; i < n && d.rc == 0; i += cut)
		sse_feed(&p, text + i, i + cut > n ? n - i : cut, on_event, &d);
	if (d.rc == 0)
		sse_finish(&p, on_event, &d);
	/* a stream without an end marker ends with its body */
	if (d.rc == 0 && F->decoder_end != NULL)
		d.rc = F->decoder_end(d.st, collect, &d);
	sse_release(&p);
	F->decoder_free(d.st);
	if (events)
		*events = d.events;
	return json_pack("{s:i,s:o}", "rc", d.rc, "chunks", d.chunks);
}

static json_t *
run_decode(const struct gcase *c)
{
	char path[4096];
	struct buf b = { 0 };
	json_t *got;

	snprintf(path, sizeof(path), "%s/tests/data/xlate/" GOLDEN_DIR "/%s.sse", src_root(), c->name);
	if (buf_read_file(&b, path) < 0) {
		diag("cannot read '%s'", path);
		return NULL;
	}
	got = decode_text(b.data, b.len, 7, 0, NULL);
	buf_release(&b);
	return got;
}

static int
on_encoded(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	json_t *list = arg, *v = json_loadb(data, len, 0, NULL);

	(void)line;
	json_array_append_new(list, json_pack("{s:s,s:o}", "event", event,
	    "data", v ? v : json_stringn(data, len)));
	return 0;
}

/* The SSE text in b as [{event, data}...]. */
static json_t *
events_of(const struct buf *b)
{
	json_t *list = json_array();
	struct sse p;

	sse_init(&p);
	sse_feed(&p, b->data ? b->data : "", b->len, on_encoded, list);
	sse_finish(&p, on_encoded, list);
	sse_release(&p);
	return list;
}

static json_t *
run_encode(const struct gcase *c, json_t *in, int end)
{
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *st = F->encoder_new("client-model", GOLDEN_INCLUDE_USAGE);
	json_t *chunk, *got;
	size_t i;
	int rc = 0;

	json_array_foreach(in, i, chunk)
		if (F->encoder_chunk(st, chunk, &xo) < 0)
			rc = -1;
	if (end && F->encoder_end(st, &xo) < 0)
		rc = -1;
	F->encoder_free(st);
	ok(rc == 0, "%s: encoder returns 0", c->name);
	got = json_pack("{s:o}", "out", events_of(&out));
	if (end)
		json_object_set_new(got, "tail", events_of(&tail));
	buf_release(&out);
	buf_release(&tail);
	return got;
}

static void
golden(const struct gcase *c)
{
	json_t *in = NULL, *want = load_json(c->name, ".want.json"), *got = NULL;

	if (c->kind != DECODE && (in = load_json(c->name, ".in.json")) == NULL) {
		ok(0, "%s: input", c->name);
		json_decref(want);
		return;
	}
	if (c->kind == DECODE)
		got = run_decode(c);
	else if (c->kind == ENCODE)
		got = run_encode(c, in, json_object_get(want, "tail") != NULL);
	else
		got = run_tree(c, in);
	same(got, want, c->name);
	json_decref(in);
	json_decref(want);
	json_decref(got);
}

/* A message that is not UTF-8 (a provider's bytes) still makes f's error body. */
__attribute__((unused)) static void
golden_error_body_bytes(const struct xlate_format *f)
{
	struct buf b = { 0 };
	json_t *v;

	is_int(f->error_body(502, NULL, "bad \xc3 byte", "p\xff", &b), 0,
	    "%s: error_body of bytes that are not UTF-8 returns 0", f->name);
	v = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	is_str(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
	    "bad ? byte", "%s: error_body: the bytes past ASCII are '?'", f->name);
	json_decref(v);
	buf_release(&b);
}

/* ---- malformed input ------------------------------------------------------------ */

/* Malformed trees through every tree function: a refusal with a status, or an object. */
static void
golden_malformed_trees(const char *const *garbage, size_t n)
{
	struct xlate_opts o = { NULL, 0, 0, 0, 0 };
	struct xlate_error e;
	json_t *in, *out;
	size_t i;
	int k, good = 1;

	for (i = 0; i < n; i++) {
		in = json_loads(garbage[i], JSON_DECODE_ANY, NULL);
		for (k = 0; k < 8; k++) {
			memset(&e, 0, sizeof(e));
			o.drop_params = k & 1;
			out = NULL;
			e.status = 400;	/* a side the format does not have (Gemini's client side) */
			switch (k >> 1) {
			case 0:
				if (F->request_to_chat)
					out = F->request_to_chat(in, &o, &e);
				break;
			case 1:
				if (F->request_from_chat)
					out = F->request_from_chat(in, &o, &e);
				break;
			case 2:
				if (F->response_to_chat)
					out = F->response_to_chat(in, &e);
				break;
			default:
				if (F->response_from_chat)
					out = F->response_from_chat(in, NULL, &e);
				break;
			}
			if (out == NULL ? e.status < 400 : !json_is_object(out)) {
				diag("input %zu, function %d: status %d", i, k >> 1, e.status);
				good = 0;
			}
			json_decref(out);
		}
		json_decref(in);
	}
	ok(good, "malformed trees: each refused with a status or translated to an object");
}

/*
 * Chunks of every wrong shape through the encoder, then its end: SSE that
 * parses, and a tail whose first event is tail_event.
 */
__attribute__((unused)) static void
golden_malformed_chunks(const char *const *chunks, size_t n, const char *tail_event)
{
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *st = F->encoder_new(NULL, 1);
	json_t *c, *ev, *x;
	size_t i;
	int rc = 0, parsed = 1;

	for (i = 0; i < n; i++) {
		c = json_loads(chunks[i], JSON_DECODE_ANY, NULL);
		rc |= F->encoder_chunk(st, c, &xo);
		json_decref(c);
	}
	rc |= F->encoder_end(st, &xo);
	F->encoder_free(st);
	is_int(rc, 0, "malformed chunks: the encoder goes on");
	ev = events_of(&out);
	json_array_foreach(ev, i, x)
		if (!json_is_object(json_object_get(x, "data")))
			parsed = 0;
	ok(parsed && json_array_size(ev) > 3, "malformed chunks: every event's data is JSON");
	json_decref(ev);
	ev = events_of(&tail);
	is_str(json_string_value(json_object_get(json_array_get(ev, 0), "event")), tail_event,
	    "malformed chunks: the tail is %s", tail_event);
	json_decref(ev);
	buf_release(&out);
	buf_release(&tail);
}

#endif
