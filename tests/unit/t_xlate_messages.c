/*
 * The Anthropic Messages side of the translation hub (lib/provider/messages.c),
 * driven by the golden files of tests/data/xlate/messages/ (the runner and
 * their form: xlate_golden.h).  Inline: the error bodies, the decoder's return
 * values, malformed input through every function, and the recorded
 * Anthropic streams of shared/data/usage_samples (skipped when absent).
 */
#define GOLDEN_DIR	"messages"
#define GOLDEN_INCLUDE_USAGE	0
#define F	(&xlate_messages)

#include "xlate_golden.h"

static const struct gcase cases[] = {
	{ "m2c_basic", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_system_blocks", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_images", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_tools", REQ_TO_CHAT, 0, 1, 0, 0 },
	{ "m2c_tool_choice_any", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_top_k_refused", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_dropped", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "m2c_server_tool_refused", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_block_without_type", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "m2c_messages_not_array", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "m2c_tool_use_input", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "c2m_basic", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_tools", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_images", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_reasoning", REQ_FROM_CHAT, 0, 0, 1000, 1 },
	{ "c2m_json_tool_thinking", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_json_schema_tool", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_reserved_tool", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_default_max_tokens", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2m_logit_bias_refused", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_dropped", REQ_FROM_CHAT, 1, 0, 1000, 0 },
	{ "c2m_bad_arguments", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_json_object", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_tool_choice_function", REQ_FROM_CHAT, 0, 0, 1000, 0 },
	{ "c2m_bad_role", REQ_FROM_CHAT, 1, 0, 1000, 0 },
	{ "r2c_json_tool", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_tool_use", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_end_turn", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_max_tokens", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_stop_sequence", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_refusal", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_pause_turn", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "r2c_no_content", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "c2r_tool_calls", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2r_stop", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2r_length", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2r_content_filter", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2r_no_choices", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "dec_json_tool", DECODE, 0, 0, 0, 0 },
	{ "dec_tools", DECODE, 0, 0, 0, 0 },
	{ "dec_thinking", DECODE, 0, 0, 0, 0 },
	{ "dec_error", DECODE, 0, 0, 0, 0 },
	{ "enc_tools", ENCODE, 0, 0, 0, 0 },
	{ "enc_reasoning", ENCODE, 0, 0, 0, 0 },
	{ "enc_error", ENCODE, 0, 0, 0, 0 },
};

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

/* Chunks of every wrong shape, for the encoder (golden_malformed_chunks). */
static const char *const bad_chunks[] = {
	"1", "[]", "{}", "{\"choices\":7}", "{\"choices\":[1,null]}",
	"{\"choices\":[{\"delta\":\"x\"}]}", "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"no\"}}]}",
	"{\"choices\":[{\"delta\":{\"content\":5,\"tool_calls\":7}}]}",
	"{\"choices\":[{\"delta\":{\"tool_calls\":[1,{\"index\":\"a\"},{\"function\":[]}]}}]}",
	"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"{\"}}]}}]}",
	"{\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":7}],\"usage\":[]}",
	"{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1e3}}",
};

/*
 * A provider's error mid-stream (a Bedrock exception frame, an OpenAI error
 * chunk): event: error is the stream's last, as Anthropic's own streams end;
 * no message_delta says end_turn after it, and what follows is dropped.
 */
static void
error_ends_stream(void)
{
	static const char *const chunks[] = {
		"{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}",
		"{\"error\":{\"message\":\"Too many tokens\",\"type\":\"rate_limit_error\"}}",
		"{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}",
	};
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *st = F->encoder_new("m", 1);
	json_t *c, *ev, *last;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		c = json_loads(chunks[i], 0, NULL);
		rc |= F->encoder_chunk(st, c, &xo);
		json_decref(c);
	}
	rc |= F->encoder_end(st, &xo);
	F->encoder_free(st);
	ev = events_of(&out);
	last = json_array_get(ev, json_array_size(ev) - 1);
	ok(rc == 0 && strcmp(json_string_value(json_object_get(last, "event")), "error") == 0 &&
	    strcmp(json_string_value(json_object_get(json_object_get(json_object_get(last, "data"),
	    "error"), "type")), "rate_limit_error") == 0 && tail.len == 0 &&
	    strstr(out.data, "late") == NULL && strstr(out.data, "message_delta") == NULL,
	    "an error chunk: event: error ends the stream, nothing closes the message after it");
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
	golden_error_body_bytes(F);
	golden_malformed_trees(garbage, sizeof(garbage) / sizeof(garbage[0]));
	golden_malformed_chunks(bad_chunks, sizeof(bad_chunks) / sizeof(bad_chunks[0]), "message_stop");
	error_ends_stream();
	shared_streams();
	return done_testing();
}
