/*
 * The pull scanner behind every JSON read in tollgate: response bodies, SSE
 * event data, price maps.  Pure functions over a caller's buffer.
 */
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "json.h"

void
json_init(struct json_scan *s, const char *buf, size_t len)
{
	s->start = s->p = buf;
	s->end = buf + len;
	s->depth = 0;
	memset(s->fresh, 0, sizeof(s->fresh));
	s->error = NULL;
	s->error_at = 0;
}

int
json_fail(struct json_scan *s, const char *msg)
{
	if (s->error == NULL) {
		s->error = msg;
		s->error_at = (size_t)(s->p - s->start);
	}
	return -1;
}

static inline void
skip_ws(struct json_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' ||
	    *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

enum json_type
json_peek(struct json_scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return JSON_NONE;
	switch (*s->p) {
	case '{': return JSON_OBJECT;
	case '[': return JSON_ARRAY;
	case '"': return JSON_STRING;
	case 't': return JSON_TRUE;
	case 'f': return JSON_FALSE;
	case 'n': return JSON_NULL;
	case '-': return JSON_NUMBER;
	default:
		return *s->p >= '0' && *s->p <= '9' ? JSON_NUMBER : JSON_BAD;
	}
}

/* The next '"' or '\\' in [p, end), 16 bytes at a time where SSE2 is there. */
static inline const char *
find_quote_or_backslash(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
		    _mm_cmpeq_epi8(v, backslash)));

		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (*p == '"' || *p == '\\')
			return p;
	return NULL;
}

/*
 * One pass to the closing quote, validating each escape on the way.  Raw
 * control characters inside strings are tolerated: rejecting them would cost
 * a look at every byte and protects nothing tollgate reads.
 */
static int
scan_string(struct json_scan *s, struct json_text *out)
{
	const char *body = s->p + 1, *q = body, *hit;

	out->escaped = 0;
	for (;;) {
		if ((hit = find_quote_or_backslash(q, s->end)) == NULL) {
			s->p = s->end;
			return json_fail(s, "unterminated string");
		}
		if (*hit == '"')
			break;
		out->escaped = 1;
		switch (hit + 1 < s->end ? hit[1] : '\0') {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			q = hit + 2;
			break;
		case 'u':
			for (int i = 2; i < 6; i++) {
				char h = hit + i < s->end ? hit[i] : '"';
				if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
				    (h >= 'A' && h <= 'F'))) {
					s->p = hit;
					return json_fail(s, "bad \\u escape");
				}
			}
			q = hit + 6;
			break;
		default:
			s->p = hit;
			return json_fail(s, hit + 1 < s->end ? "bad escape in string" :
			    "unterminated string");
		}
	}
	out->ptr = body;
	out->len = (size_t)(hit - body);
	s->p = hit + 1;
	return 0;
}

static int
scan_number(struct json_scan *s, struct json_text *out)
{
	const char *p = s->p, *e = s->end;

	if (p < e && *p == '-')
		p++;
	if (p < e && *p == '0')
		p++;
	else if (p < e && *p >= '1' && *p <= '9')
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	else
		return json_fail(s, "bad number");
	if (p < e && *p == '.') {
		const char *d = ++p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == d) {
			s->p = p;
			return json_fail(s, "bad number");
		}
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		const char *d;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		d = p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == d) {
			s->p = p;
			return json_fail(s, "bad number");
		}
	}
	out->ptr = s->p;
	out->len = (size_t)(p - s->p);
	out->escaped = 0;
	s->p = p;
	return 0;
}

static int
scan_literal(struct json_scan *s, const char *lit, struct json_text *out)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return json_fail(s, "unexpected character");
	out->ptr = s->p;
	out->len = n;
	out->escaped = 0;
	s->p += n;
	return 0;
}

int
json_scalar(struct json_scan *s, enum json_type *type, struct json_text *out)
{
	enum json_type t = json_peek(s);

	*type = t;
	switch (t) {
	case JSON_STRING: return scan_string(s, out);
	case JSON_NUMBER: return scan_number(s, out);
	case JSON_TRUE:   return scan_literal(s, "true", out);
	case JSON_FALSE:  return scan_literal(s, "false", out);
	case JSON_NULL:   return scan_literal(s, "null", out);
	case JSON_NONE:   return json_fail(s, "unexpected end of input");
	case JSON_OBJECT:
	case JSON_ARRAY:  return json_fail(s, "expected a scalar");
	default:          return json_fail(s, "unexpected character");
	}
}

static int
open_container(struct json_scan *s, char c)
{
	skip_ws(s);
	if (s->p >= s->end)
		return json_fail(s, "unexpected end of input");
	if (*s->p != c)
		return json_fail(s, c == '{' ? "expected an object" : "expected an array");
	if (s->depth >= JSON_MAX_DEPTH)
		return json_fail(s, "nesting too deep");
	s->depth++;
	s->p++;
	s->fresh[(s->depth - 1) / 64] |= 1ULL << ((s->depth - 1) % 64);
	return 0;
}

/* Whether the container being read has had no member yet (and from now on has). */
static int
first_member(struct json_scan *s)
{
	uint64_t *w = &s->fresh[(s->depth - 1) / 64], bit = 1ULL << ((s->depth - 1) % 64);
	int first = (*w & bit) != 0;

	*w &= ~bit;
	return first;
}

int
json_object_begin(struct json_scan *s)
{
	return open_container(s, '{');
}

int
json_next_key(struct json_scan *s, struct json_text *key)
{
	skip_ws(s);
	if (s->p >= s->end)
		return json_fail(s, "unexpected end of input in object");
	if (*s->p == '}') {
		s->p++;
		s->depth--;
		return 0;
	}
	if (!first_member(s)) {
		if (*s->p != ',')
			return json_fail(s, "expected ',' or '}'");
		s->p++;
		skip_ws(s);
	}
	if (s->p >= s->end || *s->p != '"')
		return json_fail(s, "expected a key");
	if (scan_string(s, key) < 0)
		return -1;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return json_fail(s, "expected ':'");
	s->p++;
	return 1;
}

int
json_array_begin(struct json_scan *s)
{
	return open_container(s, '[');
}

int
json_next_item(struct json_scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return json_fail(s, "unexpected end of input in array");
	if (*s->p == ']') {
		s->p++;
		s->depth--;
		return 0;
	}
	if (!first_member(s)) {
		if (*s->p != ',')
			return json_fail(s, "expected ',' or ']'");
		s->p++;
	}
	return 1;
}

int
json_skip(struct json_scan *s)
{
	struct json_text t, key;
	enum json_type type;
	int r;

	switch (json_peek(s)) {
	case JSON_OBJECT:
		if (json_object_begin(s) < 0)
			return -1;
		while ((r = json_next_key(s, &key)) > 0)
			if (json_skip(s) < 0)
				return -1;
		return r;
	case JSON_ARRAY:
		if (json_array_begin(s) < 0)
			return -1;
		while ((r = json_next_item(s)) > 0)
			if (json_skip(s) < 0)
				return -1;
		return r;
	default:
		return json_scalar(s, &type, &t);
	}
}

/* The next '"', '{', '}', '[' or ']' in [p, end), 16 bytes at a time where SSE2 is there. */
static inline const char *
find_structural(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i q = _mm_set1_epi8('"'), ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}');
	const __m128i os = _mm_set1_epi8('['), cs = _mm_set1_epi8(']');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, ob)),
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cb), _mm_cmpeq_epi8(v, os)),
		    _mm_cmpeq_epi8(v, cs)));
		int m = _mm_movemask_epi8(hit);

		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (*p == '"' || *p == '{' || *p == '}' || *p == '[' || *p == ']')
			return p;
	return NULL;
}

/* The next '"' in [p, end). */
static inline const char *
find_quote(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i q = _mm_set1_epi8('"');

	while (end - p >= 16) {
		int m = _mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)p), q));

		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (*p == '"')
			return p;
	return NULL;
}

int
json_skip_fast(struct json_scan *s)
{
	char stack[JSON_MAX_DEPTH];
	const char *p, *end = s->end;
	int depth = 0;
	enum json_type t = json_peek(s);

	if (t != JSON_OBJECT && t != JSON_ARRAY)
		return json_skip(s);
	for (p = s->p; (p = find_structural(p, end)) != NULL; p++) {
		switch (*p) {
		case '"': {
			/* the closing quote is the first one after an even run of backslashes */
			const char *open = p, *b;

			for (p++;; p++) {
				if ((p = find_quote(p, end)) == NULL) {
					s->p = end;
					return json_fail(s, "unterminated string");
				}
				for (b = p; b > open + 1 && b[-1] == '\\'; b--)
					;
				if (((p - b) & 1) == 0)
					break;
			}
			break;
		}
		case '{':
		case '[':
			if (depth == JSON_MAX_DEPTH) {
				s->p = p;
				return json_fail(s, "nesting too deep");
			}
			stack[depth++] = *p == '{' ? '}' : ']';
			break;
		default:	/* '}' or ']' */
			if (*p != stack[--depth]) {
				s->p = p;
				return json_fail(s, "mismatched bracket");
			}
			if (depth == 0) {
				s->p = p + 1;
				return 0;
			}
			break;
		}
	}
	s->p = end;
	return json_fail(s, "unexpected end of input");
}

int
json_at_end(struct json_scan *s)
{
	skip_ws(s);
	return s->p >= s->end ? 0 : json_fail(s, "trailing characters after JSON value");
}

int
json_text_is(const struct json_text *t, const char *lit)
{
	size_t n = strlen(lit);

	return t->len == n && !t->escaped && memcmp(t->ptr, lit, n) == 0;
}

void
json_position(const struct json_scan *s, int *line, int *col)
{
	size_t at = s->error ? s->error_at : (size_t)(s->p - s->start);
	const char *q, *linestart = s->start;
	int l = 1;

	if (at > (size_t)(s->end - s->start))
		at = (size_t)(s->end - s->start);
	for (q = s->start; q < s->start + at; q++)
		if (*q == '\n') {
			l++;
			linestart = q + 1;
		}
	*line = l;
	*col = (int)(s->start + at - linestart) + 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return c - 'A' + 10;
}

/* The four hex digits at p (checked by the scanner) as a number. */
static unsigned
hex4(const char *p)
{
	return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

int
json_unescape(const struct json_text *t, char *dst, size_t dstlen)
{
	size_t i, o = 0;

	for (i = 0; i < t->len; i++) {
		unsigned cp;
		char c = t->ptr[i];

		if (c != '\\') {
			if (o + 1 >= dstlen)
				return -1;
			dst[o++] = c;
			continue;
		}
		if (++i >= t->len)
			return -1;
		switch (t->ptr[i]) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (i + 4 >= t->len)
				return -1;
			cp = hex4(t->ptr + i + 1);
			i += 4;
			/*
			 * A surrogate pair is one character, as every other parser
			 * reads it; a lone surrogate is kept as its own code unit.
			 */
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < t->len && t->ptr[i + 1] == '\\' &&
			    t->ptr[i + 2] == 'u') {
				unsigned lo = hex4(t->ptr + i + 3);

				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp < 0x80) {
				if (o + 1 >= dstlen) return -1;
				dst[o++] = (char)cp;
			} else if (cp < 0x800) {
				if (o + 2 >= dstlen) return -1;
				dst[o++] = (char)(0xc0 | cp >> 6);
				dst[o++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				if (o + 3 >= dstlen) return -1;
				dst[o++] = (char)(0xe0 | cp >> 12);
				dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				dst[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				if (o + 4 >= dstlen) return -1;
				dst[o++] = (char)(0xf0 | cp >> 18);
				dst[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				dst[o++] = (char)(0x80 | (cp & 0x3f));
			}
			continue;
		default: c = t->ptr[i]; break;
		}
		if (o + 1 >= dstlen)
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return (int)o;
}

int
json_write_string(struct buf *out, const char *s)
{
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			if (buf_append(out, esc, 2) < 0)
				return -1;
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			if (buf_append(out, esc, 6) < 0)
				return -1;
		} else if (buf_append(out, s, 1) < 0)
			return -1;
	}
	return buf_append(out, "\"", 1);
}
