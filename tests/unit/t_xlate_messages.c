/*
 * The Anthropic Messages side of the translation hub (lib/provider/messages.c),
 * driven by golden files in tests/data/xlate/messages/: NAME.in.json (or
 * NAME.sse for a stream from upstream) and NAME.want.json, compared as JSON
 * trees (json_equal), "created" left out since it is the clock's.  A
 * refusal is wanted as {"xlate_error": {"status", "param"}}; a decoded
 * stream as {"rc": the last event's return, "chunks": [...]}; an encoded
 * stream as {"out": [{"event", "data"}...], "tail": [...]} (no "tail": the
 * stream is not ended).  Inline: the error bodies, the decoder's return
 * values, malformed input through every function, and the recorded
 * Anthropic streams of shared/data/usage_samples (skipped when absent).
 * Only xlate_messages's functions and xlate_fail are called, so this links
 * without the glue.
 */
#include <stdint.h>

#include "buf.h"
#include "provider/xlate.h"
#include "sse.h"
#include "tap.h"

#define F	(&xlate_messages)

enum kind { REQ_TO_CHAT, REQ_FROM_CHAT, RESP_TO_CHAT, RESP_FROM_CHAT, DECODE, ENCODE };

struct gcase {
	const char	*name;
	enum kind	 kind;
	int		 drop_params;
	int		 reasoning_model;
	int64_t		 max_tokens;
};

static const struct gcase cases[] = {
	{ "m2c_basic", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_system_blocks", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_images", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_tools", REQ_TO_CHAT, 0, 1, 0 },
	{ "m2c_tool_choice_any", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_top_k_refused", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_dropped", REQ_TO_CHAT, 1, 0, 0 },
	{ "m2c_server_tool_refused", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_block_without_type", REQ_TO_CHAT, 0, 0, 0 },
	{ "m2c_messages_not_array", REQ_TO_CHAT, 1, 0, 0 },
	{ "m2c_tool_use_input", REQ_TO_CHAT, 0, 0, 0 },
	{ "c2m_basic", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_tools", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_images", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_reasoning", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_default_max_tokens", REQ_FROM_CHAT, 0, 0, 0 },
	{ "c2m_logit_bias_refused", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_dropped", REQ_FROM_CHAT, 1, 0, 1000 },
	{ "c2m_bad_arguments", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_json_object_refused", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_tool_choice_function", REQ_FROM_CHAT, 0, 0, 1000 },
	{ "c2m_bad_role", REQ_FROM_CHAT, 1, 0, 1000 },
	{ "r2c_tool_use", RESP_TO_CHAT, 0, 0, 0 },
	{ "r2c_end_turn", RESP_TO_CHAT, 0, 0, 0 },
	{ "r2c_max_tokens", RESP_TO_CHAT, 0, 0, 0 },
	{ "r2c_stop_sequence", RESP_TO_CHAT, 0, 0, 0 },
	{ "r2c_refusal", RESP_TO_CHAT, 0, 0, 0 },
	{ "r2c_pause_turn", RESP_TO_CHAT, 0, 0, 0 },
	{ "r2c_no_content", RESP_TO_CHAT, 0, 0, 0 },
	{ "c2r_tool_calls", RESP_FROM_CHAT, 0, 0, 0 },
	{ "c2r_stop", RESP_FROM_CHAT, 0, 0, 0 },
	{ "c2r_length", RESP_FROM_CHAT, 0, 0, 0 },
	{ "c2r_content_filter", RESP_FROM_CHAT, 0, 0, 0 },
	{ "c2r_no_choices", RESP_FROM_CHAT, 0, 0, 0 },
	{ "dec_tools", DECODE, 0, 0, 0 },
	{ "dec_thinking", DECODE, 0, 0, 0 },
	{ "dec_error", DECODE, 0, 0, 0 },
	{ "enc_tools", ENCODE, 0, 0, 0 },
	{ "enc_reasoning", ENCODE, 0, 0, 0 },
	{ "enc_error", ENCODE, 0, 0, 0 },
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

	snprintf(path, sizeof(path), "%s/tests/data/xlate/messages/%s%s", src_root(), name, ext);
	if ((v = json_load_file(path, 0, &err)) == NULL)
		diag("%s: line %d: %s", path, err.line, err.text);
	return v;
}

/* Drops "created" from v and all it holds: it is the clock's. */
static void
unclock(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	json_object_del(v, "created");
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
	struct xlate_opts o = { "up-model", c->drop_params, c->max_tokens, c->reasoning_model };
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

	snprintf(path, sizeof(path), "%s/tests/data/xlate/messages/%s.sse", src_root(), c->name);
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
	void *st = F->encoder_new("client-model", 0);
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

/* ---- inline cases ------------------------------------------------------------ */

static void
error_bodies(void)
{
	static const struct { int status; const char *type, *want; } t[] = {
		{ 400, "invalid_request_error", "invalid_request_error" },
		{ 401, "x", "authentication_error" },
		{ 403, "x", "permission_error" },
		{ 404, "x", "not_found_error" },
		{ 413, "x", "request_too_large" },
		{ 429, "x", "rate_limit_error" },
		{ 529, "x", "overloaded_error" },
		{ 500, "x", "api_error" },
		{ 503, "x", "api_error" },
		{ 418, "teapot_error", "teapot_error" },
		{ 422, NULL, "invalid_request_error" },
	};
	struct buf b = { 0 };
	json_t *v, *want;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b.len = 0;
		is_int(F->error_body(t[i].status, t[i].type, "it \"broke\"", "model", &b), 0,
		    "error_body %d returns 0", t[i].status);
		v = json_loadb(b.data, b.len, 0, NULL);
		want = json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", t[i].want,
		    "message", "it \"broke\"");
		ok(v != NULL && json_equal(v, want), "error_body %d is Anthropic's, type %s",
		    t[i].status, t[i].want);
		json_decref(v);
		json_decref(want);
	}
	buf_release(&b);
}

static void
error_parses(void)
{
	static const struct { const char *body, *msg, *type; } t[] = {
		{ "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
		  "Overloaded", "overloaded_error" },
		{ "{\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}", "", "api_error" },
		{ "{\"error\":\"text\"}", "text", "" },	/* some providers answer so */
		{ "[1,2]", "", "" },
		{ "{\"error\":{\"message\":7,\"type\":null}}", "", "" },
	};
	char msg[16], type[32];
	json_t *body;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		body = json_loads(t[i].body, 0, NULL);
		memset(msg, 'x', sizeof(msg));
		memset(type, 'x', sizeof(type));
		F->error_parse(body, msg, sizeof(msg), type, sizeof(type));
		is_str(msg, t[i].msg, "error_parse %zu: message", i);
		is_str(type, t[i].type, "error_parse %zu: type", i);
		json_decref(body);
	}
	/* a long message is cut to the buffer, NUL-terminated */
	body = json_loads("{\"error\":{\"message\":\"0123456789abcdefXYZ\",\"type\":\"t\"}}", 0, NULL);
	F->error_parse(body, msg, sizeof(msg), type, sizeof(type));
	is_str(msg, "0123456789abcde", "error_parse cuts a long message to its buffer");
	json_decref(body);
}

static int
count_chunks(void *arg, json_t *chunk)
{
	(void)chunk;
	++*(int *)arg;
	return 0;
}

static void
decoder_returns(void)
{
	void *st = F->decoder_new();
	int n = 0;

	is_int(F->decoder_event(st, "message_start", "{nope", 5, count_chunks, &n), -1,
	    "decoder: data that does not parse is -1");
	is_int(F->decoder_event(st, "ping", "[1]", 3, count_chunks, &n), -1,
	    "decoder: data that is not an object is -1");
	is_int(F->decoder_event(st, "", "", 0, count_chunks, &n), 0, "decoder: empty data is 0");
	is_int(F->decoder_event(st, "future_event", "{\"type\":\"future_event\"}", 23,
	    count_chunks, &n), 0, "decoder: an unknown event is 0");
	is_int(F->decoder_event(st, "", "{\"type\":\"message_stop\"}", 23, count_chunks, &n), 1,
	    "decoder: message_stop named by its data's type ends the stream");
	is_int(n, 1, "decoder: only the usage chunk came");
	F->decoder_free(st);
}

/* The emit callback's -1 stops the decoder with -1. */
static void
decoder_stopped(void)
{
	static const char text[] =
	    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	json_t *got = decode_text(text, sizeof(text) - 1, sizeof(text), 1, NULL);

	is_int(json_integer_value(json_object_get(got, "rc")), -1,
	    "decoder: an emit that fails makes the event -1");
	json_decref(got);
}

static const char *const garbage[] = {
	"{}", "[]", "null", "1", "\"s\"", "{\"messages\":null}", "{\"messages\":[1,null,\"x\"]}",
	"{\"messages\":[{\"role\":\"user\"}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{}]}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\"}]}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\"}}]}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:x\"}}]}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":7}]}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"content\":[1]}]}]}",
	"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":1}]}]}",
	"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
	"{\"messages\":[{\"role\":\"tool\",\"content\":[]}]}",
	"{\"messages\":[],\"tools\":[{\"type\":\"function\"}],\"tool_choice\":{\"type\":\"tool\"}}",
	"{\"messages\":[],\"tools\":7,\"thinking\":{\"type\":\"enabled\"},\"stop\":[1],\"max_tokens\":-1}",
	"{\"messages\":[],\"reasoning_effort\":\"huge\",\"response_format\":{\"type\":\"json_schema\"}}",
	"{\"messages\":[],\"system\":[{\"type\":\"text\"}],\"metadata\":1,\"output_config\":[]}",
	"{\"content\":7,\"usage\":[]}", "{\"content\":[1,{\"type\":\"tool_use\"}],\"usage\":{\"input_tokens\":-5}}",
	"{\"content\":[],\"usage\":{\"input_tokens\":9223372036854775807,\"output_tokens\":9223372036854775807,"
	    "\"cache_read_input_tokens\":9223372036854775807}}",
	"{\"choices\":[]}", "{\"choices\":[{\"message\":[]}]}",
	"{\"choices\":[{\"message\":{\"content\":[1,{\"text\":2}],\"tool_calls\":[1,{\"function\":7}]}}],"
	    "\"usage\":{\"prompt_tokens\":\"x\",\"prompt_tokens_details\":[]}}",
};

/* Malformed trees through every tree function: a refusal with a status, or an object. */
static void
malformed(void)
{
	struct xlate_opts o = { NULL, 0, 0, 0 };
	struct xlate_error e;
	json_t *in, *out;
	size_t i;
	int k, good = 1;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		in = json_loads(garbage[i], JSON_DECODE_ANY, NULL);
		for (k = 0; k < 8; k++) {
			memset(&e, 0, sizeof(e));
			o.drop_params = k & 1;
			switch (k >> 1) {
			case 0: out = F->request_to_chat(in, &o, &e); break;
			case 1: out = F->request_from_chat(in, &o, &e); break;
			case 2: out = F->response_to_chat(in, &e); break;
			default: out = F->response_from_chat(in, NULL, &e); break;
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

/* Chunks of every wrong shape through the encoder, then its end: SSE that parses. */
static void
malformed_chunks(void)
{
	static const char *const chunks[] = {
		"1", "[]", "{}", "{\"choices\":7}", "{\"choices\":[1,null]}",
		"{\"choices\":[{\"delta\":\"x\"}]}", "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"no\"}}]}",
		"{\"choices\":[{\"delta\":{\"content\":5,\"tool_calls\":7}}]}",
		"{\"choices\":[{\"delta\":{\"tool_calls\":[1,{\"index\":\"a\"},{\"function\":[]}]}}]}",
		"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"{\"}}]}}]}",
		"{\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":7}],\"usage\":[]}",
		"{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1e3}}",
		"{\"error\":\"plain\"}",
	};
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *st = F->encoder_new(NULL, 1);
	json_t *c, *ev, *x;
	size_t i;
	int rc = 0, parsed = 1;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
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
	is_str(json_string_value(json_object_get(json_array_get(ev, 0), "event")), "message_stop",
	    "malformed chunks: the tail is message_stop");
	json_decref(ev);
	buf_release(&out);
	buf_release(&tail);
}

/* A recorded Anthropic stream decoded: the usage chunk's numbers, computed by hand. */
static void
shared_stream(const char *data, const char *file, long prompt, long cached, long completion)
{
	char path[4096];
	struct buf b = { 0 };
	json_t *got, *last, *u;

	snprintf(path, sizeof(path), "%s/usage_samples/%s", data, file);
	if (buf_read_file(&b, path) < 0) {
		skip(4, "sample absent");
		return;
	}
	got = decode_text(b.data, b.len, 13, 0, NULL);
	last = json_array_get(json_object_get(got, "chunks"),
	    json_array_size(json_object_get(got, "chunks")) - 1);
	u = json_object_get(last, "usage");
	is_int(json_integer_value(json_object_get(got, "rc")), 1, "%s: ends at message_stop", file);
	is_int(json_integer_value(json_object_get(u, "prompt_tokens")), prompt, "%s: prompt", file);
	is_int(json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"),
	    "cached_tokens")), cached, "%s: cached", file);
	is_int(json_integer_value(json_object_get(u, "completion_tokens")), completion,
	    "%s: completion", file);
	json_decref(got);
	buf_release(&b);
}

static void
shared_streams(void)
{
	const char *data = shared_data();

	if (data == NULL) {
		skip(8, "no shared data");
		return;
	}
	shared_stream(data, "anthropic_messages_stream_thinking.sse", 43, 0, 282);
	/* message_delta repeats the counts, and its later values win */
	shared_stream(data, "anthropic_messages_stream_with_cache.sse", 181, 0, 8);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		golden(&cases[i]);
	error_bodies();
	error_parses();
	decoder_returns();
	decoder_stopped();
	malformed();
	malformed_chunks();
	shared_streams();
	return done_testing();
}
