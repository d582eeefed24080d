/*
 * The Gemini side of the translation hub (lib/provider/gemini.c), upstream
 * only: chat requests to generateContent bodies, its answers and streams
 * back to chat, driven by the golden files of tests/data/xlate/gemini/ (the
 * runner and their form: xlate_golden.h).  Inline: the dialect's URLs, the
 * error parse, the stream's end with its body, and malformed input through
 * every function Gemini has.
 */
#define GOLDEN_DIR	"gemini"
#define GOLDEN_INCLUDE_USAGE	1
#define F	(&xlate_gemini)

#include "xlate_golden.h"
#include "provider/dialect.h"
#include "route.h"

static const struct gcase cases[] = {
	{ "c2g_basic", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2g_tools", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2g_refused", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2g_dropped", REQ_FROM_CHAT, 1, 0, 0, 0 },
	{ "c2g_unknown_call", REQ_FROM_CHAT, 1, 0, 0, 0 },
	{ "g2c_text", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "g2c_calls", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "g2c_blocked", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "g2c_max_tokens", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "dec_text", DECODE, 0, 0, 0, 0 },
	{ "dec_calls", DECODE, 0, 0, 0, 0 },
	{ "dec_error", DECODE, 0, 0, 0, 0 },
};

/* Garbage of every shape through every function Gemini has. */
static const char *const garbage[] = {
	"1", "[]", "{}", "null", "{\"messages\":7}", "{\"messages\":[1,{\"role\":3}]}",
	"{\"messages\":[{\"role\":\"tool\"}]}", "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[1,"
	    "{\"function\":{\"name\":\"f\",\"arguments\":\"[\"},\"id\":\"x\"}]}]}",
	"{\"messages\":[],\"tools\":[{\"type\":\"function\"}],\"tool_choice\":{\"function\":7}}",
	"{\"messages\":[],\"stop\":[1],\"max_tokens\":-1,\"response_format\":{\"type\":\"json_schema\"}}",
	"{\"candidates\":7}", "{\"candidates\":[{\"content\":{\"parts\":[1,{\"functionCall\":7},"
	    "{\"functionCall\":{\"name\":5}},{\"text\":[]}]}}],\"usageMetadata\":[]}",
};

static void
urls(void)
{
	struct route_deployment d;
	char out[512];

	memset(&d, 0, sizeof(d));
	snprintf(d.base, sizeof(d.base), "https://generativelanguage.googleapis.com");
	snprintf(d.model, sizeof(d.model), "gemini-2.5-flash");
	ok(dialect_gemini.url(&d, ENDPOINT_GEMINI, 0, out, sizeof(out)) == 0 && strcmp(out,
	    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")
	    == 0, "url: generateContent, the model in the path: %s", out);
	ok(dialect_gemini.url(&d, ENDPOINT_GEMINI, 1, out, sizeof(out)) == 0 && strcmp(out,
	    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:"
	    "streamGenerateContent?alt=sse") == 0, "url: a stream, as SSE: %s", out);
	snprintf(d.base, sizeof(d.base), "http://127.0.0.1:9/v1beta");
	ok(dialect_gemini.url(&d, ENDPOINT_GEMINI, 0, out, sizeof(out)) == 0 && strcmp(out,
	    "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent") == 0,
	    "url: a base that ends in /v1beta keeps one: %s", out);
	ok(dialect_gemini.url(&d, ENDPOINT_CHAT, 0, out, sizeof(out)) < 0, "url: no chat endpoint");
}

static void
errors(void)
{
	json_t *b = json_loads("{\"error\":{\"code\":429,\"message\":\"Quota exceeded\","
	    "\"status\":\"RESOURCE_EXHAUSTED\"}}", 0, NULL);
	char msg[64], type[32];

	F->error_parse(b, msg, sizeof(msg), type, sizeof(type));
	is_str(msg, "Quota exceeded", "error_parse: the message");
	is_str(type, "rate_limit_error", "error_parse: RESOURCE_EXHAUSTED is a rate limit");
	json_decref(b);
	ok(F->request_to_chat == NULL && F->encoder_new == NULL,
	    "no client side: no client speaks Gemini's format");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		golden(&cases[i]);
	golden_malformed_trees(garbage, sizeof(garbage) / sizeof(garbage[0]));
	urls();
	errors();
	return done_testing();
}
