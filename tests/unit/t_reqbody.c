/*
 * The request body a worker reads and rewrites: the fields, the spans,
 * the rewrite for upstream, and the bodies that would make tollgate and
 * the provider read different requests (a field given twice, an escaped
 * key, a stream_options that is not an object), which the fuzz target's
 * round trip (tests/fuzz/fuzz_reqbody.c) checks on arbitrary bytes.
 */
#include <stdint.h>

#include "buf.h"
#include "reqbody.h"
#include "tap.h"

static int
parse(const char *body, struct reqbody *f, char *err, size_t errlen)
{
	return reqbody_parse(body, strlen(body), f, err, errlen);
}

/* The body rewritten for deployment model m, usage asked for or not. */
static const char *
rewrite(const char *body, const char *m, int usage_on)
{
	static struct buf out;
	struct reqbody f;
	char err[160];

	if (parse(body, &f, err, sizeof(err)) < 0 ||
	    reqbody_rewrite(body, strlen(body), &f.spans, m, usage_on, &out) < 0 ||
	    buf_append(&out, "", 1) < 0)
		return "(failed)";
	return out.data;
}

static void
test_fields(void)
{
	struct reqbody f;
	char err[160];

	is_int(parse("{\"model\": \"gpt-4o\", \"stream\": true, \"user\": \"u1\", "
	    "\"service_tier\": \"flex\", \"max_tokens\": 512, \"metadata\": {\"tags\": [\"a\", 3, "
	    "\"b\"]}, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", &f, err,
	    sizeof(err)), 0, "a chat request parses");
	is_str(f.model, "gpt-4o", "model");
	is_int(f.stream, 1, "stream");
	is_str(f.user, "u1", "user");
	is_str(f.tier, "flex", "service_tier");
	is_int(f.max_tokens, 512, "max_tokens");
	is_str(f.tags, "a,b", "metadata.tags, strings only");
	is_int(f.spans.model_at, 10, "the model span starts at its quote");
	is_int(f.spans.model_len, 8, "and covers both quotes");

	parse("{\"model\": \"m\", \"max_completion_tokens\": 1e9}", &f, err, sizeof(err));
	is_int(f.max_tokens, INT64_MAX, "1e9 tokens reserve as the largest, not as 1");
	parse("{\"model\": \"m\", \"max_output_tokens\": 2.5}", &f, err, sizeof(err));
	is_int(f.max_tokens, INT64_MAX, "2.5 tokens too");
	parse("{\"model\": \"m\", \"max_tokens\": -3}", &f, err, sizeof(err));
	is_int(f.max_tokens, -3, "a negative count is left to admission");
	parse("{\"model\": \"m\", \"max_tokens\": 123456789012345678901234567890}", &f, err,
	    sizeof(err));
	is_int(f.max_tokens, INT64_MAX, "a count past int64 is the largest");
}

static void
test_ambiguous(void)
{
	struct reqbody f;
	char err[160];

	is_int(parse("{\"model\": \"cheap\", \"model\": \"dear\"}", &f, err, sizeof(err)), -1,
	    "model given twice is refused");
	ok(strstr(err, "'model' is given twice") != NULL, "and the message says so: %s", err);
	is_int(parse("{\"model\": \"cheap\", \"mod\\u0065l\": \"dear\"}", &f, err, sizeof(err)),
	    -1, "model given twice, once with an escaped key, is refused");
	is_int(parse("{\"mod\\u0065l\": \"gpt-4o\"}", &f, err, sizeof(err)), 0,
	    "an escaped key alone parses");
	is_str(f.model, "gpt-4o", "and is read as the model");
	is_int(parse("{\"model\": \"m\", \"max_tokens\": 10, \"max_completion_tokens\": 99999}",
	    &f, err, sizeof(err)), -1, "two names of the output limit are refused");
	is_int(parse("{\"model\": \"m\", \"stream\": false, \"stream\": true}", &f, err,
	    sizeof(err)), -1, "stream given twice is refused");
	is_int(parse("{\"model\": \"m\", \"stream\": true, \"stream_options\": {\"include_usage\": "
	    "true, \"include_usage\": false}}", &f, err, sizeof(err)), -1,
	    "include_usage given twice is refused");
	is_int(parse("{\"model\": \"m\", \"stream_options\": {\"include_\\u0075sage\": true}}", &f,
	    err, sizeof(err)), 0, "an escaped include_usage parses");
	is_int(f.include_usage, 1, "and counts");
	is_int(parse("{\"model\": \"m\", \"other\": 1, \"other\": 2}", &f, err, sizeof(err)), 0,
	    "fields tollgate does not read may repeat");
	is_int(parse("[1]", &f, err, sizeof(err)), -1, "an array is refused");
	ok(strncmp(err, "line 1, column 1: ", 18) == 0, "with its position: %s", err);
	is_int(parse("{\"model\": \"m\"} x", &f, err, sizeof(err)), -1, "trailing bytes refused");
}

/* A NUL in a string tollgate reads: "gpt-x\u0000evil" must not be read as "gpt-x". */
static void
test_nul(void)
{
	static const struct {
		const char	*body;
		const char	*field;
	} refused[] = {
		{ "{\"model\": \"gpt-x\\u0000evil\"}", "model" },
		{ "{\"model\": \"\\u0000\"}", "model" },
		{ "{\"model\": \"m\", \"user\": \"u\\u0000v\"}", "user" },
		{ "{\"model\": \"m\", \"service_tier\": \"flex\\u0000\"}", "service_tier" },
		{ "{\"model\": \"m\", \"metadata\": {\"tags\": [\"a\", \"b\\u0000c\"]}}", "metadata.tags" },
	};
	struct reqbody f;
	char err[160], want[64];
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		is_int(parse(refused[i].body, &f, err, sizeof(err)), -1, "%s refused", refused[i].body);
		ok(f.bad_field != NULL && strcmp(f.bad_field, refused[i].field) == 0,
		    "the field is named: %s", f.bad_field ? f.bad_field : "(none)");
		snprintf(want, sizeof(want), "'%s' holds a NUL character", refused[i].field);
		ok(strncmp(err, "line 1, column ", 15) == 0 && strstr(err, want) != NULL,
		    "and the message says so: %s", err);
	}
	is_int(parse("{\"model\": \"m\\\\u0000\"}", &f, err, sizeof(err)), 0,
	    "an escaped backslash before u0000 is no NUL");
	is_str(f.model, "m\\u0000", "and is read as the text it is");
	ok(parse("{\"model\": \"m\", \"messages\": [{\"content\": \"a\\u0000b\"}]}", &f, err,
	    sizeof(err)) == 0 && f.bad_field == NULL, "a NUL where tollgate reads nothing is the provider's");
	ok(parse("{\"model\": \"m\", \"model\\u0000\": \"x\"}", &f, err, sizeof(err)) == 0 &&
	    strcmp(f.model, "m") == 0, "a key with a NUL in it is another key, not the model");
	is_int(parse("{\"model\": \"a\\u00e9\\ud83d\\ude00\"}", &f, err, sizeof(err)), 0,
	    "escaped characters other than NUL parse");
	is_str(f.model, "a\xc3\xa9\xf0\x9f\x98\x80", "as UTF-8, the pair as one character");
	is_int(parse("{\"model\": \"m\", \"metadata\": {\"tags\": [\"a\"], \"tags\": [\"b\"]}}", &f,
	    err, sizeof(err)), -1, "metadata.tags given twice is refused");
	ok(f.bad_field == NULL && strstr(err, "'tags' is given twice") != NULL,
	    "as a malformed body: %s", err);
}

static void
test_rewrite(void)
{
	is_str(rewrite("{\"model\": \"demo\", \"messages\": []}", "gpt-4o", 0),
	    "{\"model\": \"gpt-4o\", \"messages\": []}", "the model is replaced");
	is_str(rewrite("{\"model\": \"demo\", \"stream\": true}", "d\"q", 1),
	    "{\"stream_options\": {\"include_usage\": true}, \"model\": \"d\\\"q\", \"stream\": true}",
	    "usage added first, the model escaped");
	is_str(rewrite("{\"stream\": true, \"stream_options\": {\"include_usage\": false}, "
	    "\"model\": \"x\"}", "y", 1), "{\"stream\": true, \"stream_options\": "
	    "{\"include_usage\": true}, \"model\": \"y\"}", "stream_options before the model");
	is_str(rewrite("{\"model\": \"x\", \"stream\": true, \"stream_options\": null}", "y", 1),
	    "{\"model\": \"y\", \"stream\": true, \"stream_options\": {\"include_usage\": true}}",
	    "a null stream_options is replaced, not followed by a second");
	is_str(rewrite("{ }", "y", 1), "{\"stream_options\": {\"include_usage\": true} }",
	    "an empty object gets no dangling comma");
	is_str(rewrite("{\"stream_options\": {\"x\": 1}, \"model\": \"x\"}", "y", 0),
	    "{\"stream_options\": {\"x\": 1}, \"model\": \"y\"}",
	    "stream_options kept when usage is not asked for");
}

int
main(void)
{
	test_fields();
	test_ambiguous();
	test_nul();
	test_rewrite();
	return done_testing();
}
