/*
 * The pull scanner: walking, skipping, strings with escapes, numbers kept as
 * text, and errors with their line and column.
 */
#include "buf.h"
#include "json.h"
#include "tap.h"

static void
position_of_error(const char *doc, int want_line, int want_col, const char *what)
{
	struct json_scan s;
	int line, col;

	json_init(&s, doc, strlen(doc));
	ok(json_skip(&s) < 0 || json_at_end(&s) < 0, "%s: rejected", what);
	json_position(&s, &line, &col);
	ok(line == want_line && col == want_col, "%s: at %d:%d (got %d:%d, %s)", what, want_line,
	    want_col, line, col, s.error ? s.error : "no message");
}

/* The string "raw" (escapes kept) decoded into out[outlen]; its length or -1. */
static int
unescape(const char *raw, char *out, size_t outlen)
{
	struct json_text t = { raw, strlen(raw), strchr(raw, '\\') != NULL };

	return json_unescape(&t, out, outlen);
}

static void
test_unicode_escapes(void)
{
	char out[16];

	ok(unescape("a\\ud83d\\ude00b", out, sizeof(out)) == 6 &&
	    strcmp(out, "a\xf0\x9f\x98\x80" "b") == 0,
	    "a surrogate pair is one character, in 4 bytes of UTF-8");
	ok(unescape("\\ud83dx", out, sizeof(out)) == 4 && strcmp(out, "\xed\xa0\xbdx") == 0,
	    "a lone high surrogate is kept as its own code unit");
	ok(unescape("\\ud83d\\u0041", out, sizeof(out)) == 4 && strcmp(out, "\xed\xa0\xbd" "A") == 0,
	    "a high surrogate before a character that is no low one: two characters");
	ok(unescape("\\ude00", out, sizeof(out)) == 3 && strcmp(out, "\xed\xb8\x80") == 0,
	    "a lone low surrogate is kept too");
	is_int(unescape("\\ud83d\\ude00", out, 4), -1, "a pair that does not fit is refused, not cut");
	ok(unescape("x\\u0000y", out, sizeof(out)) == 3 && memcmp(out, "x\0y", 4) == 0,
	    "an escaped NUL is decoded: the length, not strlen, says where the string ends");
}

int
main(void)
{
	static const char doc[] =
	    "{\"id\": \"x\\\"y\", \"n\": -1.5e3, \"deep\": [[{\"a\": [true, false, null]}]],\n"
	    " \"usage\": {\"prompt_tokens\": 12}, \"s\": \"\\u00e9\\n\"}";
	struct json_scan s;
	struct json_text key, v;
	enum json_type t;
	char out[32];
	int r, seen = 0;

	json_init(&s, doc, strlen(doc));
	ok(json_object_begin(&s) == 0, "object begins");
	while ((r = json_next_key(&s, &key)) > 0) {
		if (json_text_is(&key, "n")) {
			ok(json_scalar(&s, &t, &v) == 0 && t == JSON_NUMBER && v.len == 6 &&
			    memcmp(v.ptr, "-1.5e3", 6) == 0, "number kept as its text");
			seen++;
		} else if (json_text_is(&key, "usage")) {
			ok(json_object_begin(&s) == 0 && json_next_key(&s, &key) == 1 &&
			    json_text_is(&key, "prompt_tokens") && json_scalar(&s, &t, &v) == 0 &&
			    json_next_key(&s, &key) == 0, "nested object walked");
			seen++;
		} else if (json_text_is(&key, "s")) {
			ok(json_scalar(&s, &t, &v) == 0 && v.escaped &&
			    json_unescape(&v, out, sizeof(out)) == 3 && strcmp(out, "\xc3\xa9\n") == 0,
			    "escapes decoded to UTF-8");
			seen++;
		} else
			ok(json_skip(&s) == 0, "skipped '%.*s'", (int)key.len, key.ptr);
	}
	ok(r == 0 && seen == 3, "object ends after every key");
	ok(json_at_end(&s) == 0, "nothing after it");

	position_of_error("{\"a\": 1,, }", 1, 9, "double comma");
	position_of_error("{\"a\": [1, 2}", 1, 12, "mismatched bracket");
	position_of_error("{\n  \"a\": tru\n}", 2, 8, "bad literal on line 2");
	position_of_error("{\"a\": \"unterminated", 1, 20, "unterminated string");
	position_of_error("{\"a\": 01}", 1, 8, "leading zero");
	position_of_error("{\"a\": 1} x", 1, 10, "trailing garbage");
	position_of_error("{\"a\": \"\\q\"}", 1, 8, "bad escape");
	position_of_error("[-]", 1, 2, "lone minus");

	{
		char deep[JSON_MAX_DEPTH * 2 + 8];
		int i, n = JSON_MAX_DEPTH + 2;

		for (i = 0; i < n; i++)
			deep[i] = '[';
		for (i = 0; i < n; i++)
			deep[n + i] = ']';
		json_init(&s, deep, (size_t)(2 * n));
		ok(json_skip(&s) < 0 && strcmp(s.error, "nesting too deep") == 0,
		    "nesting beyond %d is refused, not a stack overflow", JSON_MAX_DEPTH);
	}
	json_init(&s, "", 0);
	ok(json_peek(&s) == JSON_NONE && json_skip(&s) < 0, "empty input is an error");
	{
		struct buf b = { 0 };
		json_write_string(&b, "a\"b\\c\n\x01");
		is_str(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"", "strings are escaped on output");
		buf_release(&b);
	}
	test_unicode_escapes();
	return done_testing();
}
