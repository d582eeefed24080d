/*
 * The OpenAI Responses side of the translation hub (lib/provider/responses.c),
 * driven by the golden files of tests/data/xlate/responses/ (the runner and
 * their form: xlate_golden.h).  Inline: the error bodies, the decoder's return
 * values, the encoder's sequence numbers, and malformed input through
 * every function.
 */
#define GOLDEN_DIR	"responses"
#define GOLDEN_INCLUDE_USAGE	1
#define F	(&xlate_responses)

#include "xlate_golden.h"

static const struct gcase cases[] = {
	{ "q2c_string_input", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "q2c_items", REQ_TO_CHAT, 0, 1, 0, 0 },
	{ "q2c_formats", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "q2c_text_format_text", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "q2c_previous_response_id", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_conversation", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_item_reference", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_store_true", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "q2c_store_true_dropped", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_include_refused", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "q2c_builtin_tool_refused", REQ_TO_CHAT, 0, 0, 0, 0 },
	{ "q2c_dropped", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_bad_part_type", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_bad_call", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "q2c_input_missing", REQ_TO_CHAT, 1, 0, 0, 0 },
	{ "c2q_basic", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2q_tools", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2q_json_object", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2q_stop_refused", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2q_dropped", REQ_FROM_CHAT, 1, 0, 0, 0 },
	{ "c2q_bad_tool_call", REQ_FROM_CHAT, 1, 0, 0, 0 },
	{ "a2c_text", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "a2c_calls", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "a2c_length", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "a2c_content_filter", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "a2c_failed", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "a2c_no_output", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "c2a_text", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2a_tool_calls", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2a_length", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2a_content_filter", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2a_no_choices", RESP_FROM_CHAT, 0, 0, 0, 0 },
	{ "dec_text_tools", DECODE, 0, 0, 0, 0 },
	{ "dec_incomplete", DECODE, 0, 0, 0, 0 },
	{ "dec_failed", DECODE, 0, 0, 0, 0 },
	{ "dec_error", DECODE, 0, 0, 0, 0 },
	{ "enc_text_tools", ENCODE, 0, 0, 0, 0 },
	{ "enc_length", ENCODE, 0, 0, 0, 0 },
	{ "enc_error", ENCODE, 0, 0, 0, 0 },
	{ "enc_open", ENCODE, 0, 0, 0, 0 },
};

/* ---- inline cases ------------------------------------------------------------ */

static void
error_bodies(void)
{
	static const struct { int status; const char *type, *param, *want; } t[] = {
		{ 400, "invalid_request_error", "input[3].type", "invalid_request_error" },
		{ 429, "rate_limit_error", NULL, "rate_limit_error" },
		{ 401, NULL, "", "invalid_request_error" },
		{ 502, "", NULL, "server_error" },
	};
	struct buf b = { 0 };
	json_t *v, *want;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b.len = 0;
		is_int(F->error_body(t[i].status, t[i].type, "it \"broke\"", t[i].param, &b), 0,
		    "error_body %d returns 0", t[i].status);
		v = json_loadb(b.data, b.len, 0, NULL);
		want = json_pack("{s:{s:s,s:s,s:s?,s:n}}", "error", "message", "it \"broke\"",
		    "type", t[i].want, "param", t[i].param && t[i].param[0] ? t[i].param : NULL,
		    "code");
		ok(v != NULL && json_equal(v, want), "error_body %d is OpenAI's, type %s",
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
		{ "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,"
		  "\"code\":\"rate_limit_exceeded\"}}", "Rate li", "requests" },
		{ "{\"error\":{\"type\":\"server_error\"}}", "", "server_error" },
		{ "{\"error\":\"text\"}", "text", "" },	/* some providers: "error": "text" */
		{ "[1,2]", "", "" },
		{ "{\"error\":{\"message\":7,\"type\":null}}", "", "" },
	};
	char msg[8], type[32];
	json_t *body;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		body = json_loads(t[i].body, 0, NULL);
		memset(msg, 'x', sizeof(msg));
		memset(type, 'x', sizeof(type));
		F->error_parse(body, msg, sizeof(msg), type, sizeof(type));
		is_str(msg, t[i].msg, "error_parse %zu: message (cut to its buffer)", i);
		is_str(type, t[i].type, "error_parse %zu: type", i);
		json_decref(body);
	}
	/* a message cut to its buffer is cut before a character, never inside one */
	body = json_loads("{\"error\":{\"message\":\"abcdef\u00e9!\"}}", 0, NULL);
	F->error_parse(body, msg, sizeof(msg), type, sizeof(type));
	is_str(msg, "abcdef", "error_parse cuts a message before a character cut short");
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
	static const char done[] = "{\"type\":\"response.completed\",\"response\":{}}";
	void *st = F->decoder_new();
	int n = 0;

	is_int(F->decoder_event(st, "response.created", "{nope", 5, count_chunks, &n), -1,
	    "decoder: data that does not parse is -1");
	is_int(F->decoder_event(st, "response.created", "[1]", 3, count_chunks, &n), -1,
	    "decoder: data that is not an object is -1");
	is_int(F->decoder_event(st, "", "[DONE]", 6, count_chunks, &n), -1,
	    "decoder: [DONE] before the end is a broken stream");
	is_int(F->decoder_event(st, "", "", 0, count_chunks, &n), 0, "decoder: empty data is 0");
	is_int(F->decoder_event(st, "response.future", "{\"type\":\"response.future\"}", 26,
	    count_chunks, &n), 0, "decoder: an unknown event is 0");
	is_int(n, 0, "decoder: nothing came of them");
	is_int(F->decoder_event(st, "", done, sizeof(done) - 1, count_chunks, &n), 1,
	    "decoder: response.completed named by its data's type ends the stream");
	is_int(n, 3, "decoder: the role, finish and usage chunks came");
	F->decoder_free(st);
	st = F->decoder_new();
	n = 0;
	is_int(F->decoder_event(st, "response.completed", "{\"response\":7}", 14, count_chunks, &n),
	    1, "decoder: an event without a type is read by its SSE name");
	F->decoder_free(st);
}

/* The emit callback's -1 stops the decoder with -1. */
static void
decoder_stopped(void)
{
	static const char text[] =
	    "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n"
	    "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n";
	json_t *got = decode_text(text, sizeof(text) - 1, sizeof(text), 1, NULL);

	is_int(json_integer_value(json_object_get(got, "rc")), -1,
	    "decoder: an emit that fails makes the event -1");
	json_decref(got);
}

/* Events of every wrong shape: no crash, and the stream still ends at response.completed. */
static void
decoder_garbage(void)
{
	static const char *const ev[] = {
		"{\"type\":\"response.created\",\"response\":[]}",
		"{\"type\":\"response.created\",\"response\":{\"id\":7,\"model\":null}}",
		"{\"type\":\"response.output_text.delta\",\"delta\":7}",
		"{\"type\":\"response.output_text.delta\"}",
		"{\"type\":\"response.output_item.added\",\"item\":7}",
		"{\"type\":\"response.output_item.added\",\"item\":{\"type\":\"function_call\"}}",
		"{\"type\":\"response.output_item.added\",\"item\":{\"type\":\"function_call\",\"call_id\":\"c\","
		    "\"name\":\"f\",\"arguments\":\"{}\"},\"output_index\":\"x\"}",
		"{\"type\":\"response.function_call_arguments.delta\",\"item_id\":[],\"delta\":\"{\"}",
		"{\"type\":\"response.function_call_arguments.delta\",\"output_index\":-1,\"delta\":\"{\"}",
		"{\"type\":\"response.function_call_arguments.done\",\"output_index\":99}",
		"{\"type\":\"response.reasoning_text.delta\",\"delta\":\"\"}",
		"{\"type\":7}",
	};
	static const char done[] = "{\"type\":\"response.completed\",\"response\":{\"status\":\"incomplete\","
	    "\"incomplete_details\":7,\"usage\":{\"input_tokens\":-3,\"output_tokens\":9223372036854775807}}}";
	void *st = F->decoder_new();
	size_t i;
	int n = 0, rc = 0;

	for (i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		rc |= F->decoder_event(st, "", ev[i], strlen(ev[i]), count_chunks, &n);
	is_int(rc, 0, "decoder: events of wrong shapes go on");
	is_int(F->decoder_event(st, "", done, sizeof(done) - 1, count_chunks, &n), 1,
	    "decoder: then response.completed ends the stream");
	is_int(n, 4, "decoder: the role chunk, one tool call, the finish and the usage");
	F->decoder_free(st);
}

/* Every event of an encoded stream, out then tail, numbered 0, 1, 2, ... */
static void
sequence_numbers(void)
{
	static const char *const chunks[] = {
		"{\"id\":\"chatcmpl-s\",\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"a\"}}]}",
		"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}",
		"{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
	};
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *st = F->encoder_new("m", 0);
	json_t *c, *ev, *x;
	size_t i, n = 0;
	int good = 1;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		c = json_loads(chunks[i], 0, NULL);
		F->encoder_chunk(st, c, &xo);
		json_decref(c);
	}
	F->encoder_end(st, &xo);
	F->encoder_free(st);
	if (buf_append(&out, tail.data, tail.len) < 0)
		good = 0;
	ev = events_of(&out);
	json_array_foreach(ev, i, x) {
		if (json_integer_value(json_object_get(json_object_get(x, "data"),
		    "sequence_number")) != (json_int_t)n++ ||
		    !json_equal(json_object_get(x, "event"),
		    json_object_get(json_object_get(x, "data"), "type")))
			good = 0;
	}
	ok(good && n > 10, "encoder: %zu events numbered from 0, each named by its type", n);
	json_decref(ev);
	buf_release(&out);
	buf_release(&tail);
}

static const char *const garbage[] = {
	"{}", "[]", "null", "1", "\"s\"", "{\"input\":null}", "{\"input\":7}",
	"{\"input\":[1,null,\"x\"]}", "{\"input\":[{}]}", "{\"input\":[{\"role\":7}]}",
	"{\"input\":[{\"role\":\"user\"}]}", "{\"input\":[{\"role\":\"user\",\"content\":[{}]}]}",
	"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\"}]}]}",
	"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"u\",\"detail\":1}]}]}",
	"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\"}]}]}",
	"{\"input\":[{\"role\":\"system\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"u\"}]}]}",
	"{\"input\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\"}]}]}",
	"{\"input\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":[]}]}]}",
	"{\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\"}]}",
	"{\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":{}}]}",
	"{\"input\":[{\"type\":7}]}", "{\"input\":[{\"type\":\"computer_call\"}]}",
	"{\"input\":\"x\",\"tools\":[1,{\"type\":\"function\"},{\"type\":\"function\",\"name\":\"f\",\"parameters\":[]}]}",
	"{\"input\":\"x\",\"tool_choice\":{\"type\":\"function\"},\"text\":{\"format\":{\"type\":\"json_schema\"}}}",
	"{\"input\":\"x\",\"reasoning\":{\"effort\":5},\"max_output_tokens\":-1,\"store\":\"yes\"}",
	"{\"input\":\"x\",\"text\":{\"format\":7,\"verbosity\":2},\"metadata\":[],\"stream\":1}",
	"{\"messages\":null}", "{\"messages\":[1,{\"role\":\"tool\"},{\"role\":\"assistant\",\"tool_calls\":7}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":7}]}]}",
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":3}}]}]}",
	"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\"},7],\"tool_calls\":[{\"id\":1}]}]}",
	"{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}],\"tools\":[{\"function\":1}]}",
	"{\"messages\":[],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":1}}}",
	"{\"messages\":[],\"tool_choice\":{\"type\":\"function\",\"function\":[]},\"max_tokens\":1.5}",
	"{\"output\":7}", "{\"output\":[1,{\"type\":\"message\",\"content\":7},{\"type\":\"function_call\",\"call_id\":1}],"
	    "\"usage\":{\"input_tokens\":\"x\",\"input_tokens_details\":[]}}",
	"{\"output\":[{\"type\":\"reasoning\",\"summary\":[1,{\"text\":2}]}],\"status\":\"failed\",\"error\":7}",
	"{\"output\":[],\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":9},\"created_at\":\"x\"}",
	"{\"choices\":[]}", "{\"choices\":[{\"message\":[]}]}",
	"{\"choices\":[{\"message\":{\"content\":[1,{\"text\":2}],\"tool_calls\":[1,{\"function\":7}]},"
	    "\"finish_reason\":3}],\"usage\":{\"prompt_tokens\":\"x\",\"prompt_tokens_details\":[]}}",
};

/* Chunks of every wrong shape, for the encoder (golden_malformed_chunks). */
static const char *const bad_chunks[] = {
	"1", "[]", "{}", "{\"choices\":7}", "{\"choices\":[1,null]}",
	"{\"choices\":[{\"delta\":\"x\"}]}", "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"no\"}}]}",
	"{\"choices\":[{\"delta\":{\"content\":5,\"tool_calls\":7}}]}",
	"{\"choices\":[{\"delta\":{\"tool_calls\":[1,{\"index\":\"a\"},{\"function\":[]}]}}]}",
	"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"{\"}}]}}]}",
	"{\"choices\":[{\"delta\":{\"reasoning_content\":\"r\",\"content\":\"c\"}}]}",
	"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"late\"}}]}}]}",
	"{\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":7}],\"usage\":[]}",
	"{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1e3}}",
	"{\"error\":\"plain\"}",
};

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		golden(&cases[i]);
	error_bodies();
	error_parses();
	golden_error_body_bytes(F);
	golden_error_body_bytes(&xlate_chat);
	decoder_returns();
	decoder_stopped();
	decoder_garbage();
	sequence_numbers();
	golden_malformed_trees(garbage, sizeof(garbage) / sizeof(garbage[0]));
	golden_malformed_chunks(bad_chunks, sizeof(bad_chunks) / sizeof(bad_chunks[0]), "response.failed");
	return done_testing();
}
