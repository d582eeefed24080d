/*
 * The request body a worker reads (see reqbody.h).  It is read with the
 * zero-copy scanner and never rebuilt: the body sent upstream is the
 * client's bytes with two spans replaced.
 *
 * What tollgate reads must be what the provider reads, or a client could
 * be routed, priced and admitted on one model while the provider serves
 * another, or have the usage tollgate asked for switched off.  So a key is
 * compared after its escapes are decoded ("mod\u0065l" is "model"), a
 * field tollgate reads may not appear twice (providers' parsers disagree
 * on which of two wins), and a string it reads may not hold a NUL: as a C
 * string "gpt-x\u0000evil" would be read as "gpt-x".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "reqbody.h"

/* The fields read, by bit in the duplicate check. */
enum field {
	F_MODEL, F_STREAM, F_STREAM_OPTIONS, F_USER, F_MAX_TOKENS, F_SERVICE_TIER, F_METADATA,
	F_FALLBACKS, F_NUM_RETRIES, F_OTHER
};

static const char *const field_names[F_OTHER] = {
	[F_MODEL] = "model", [F_STREAM] = "stream", [F_STREAM_OPTIONS] = "stream_options",
	[F_USER] = "user", [F_MAX_TOKENS] = "max_tokens", [F_SERVICE_TIER] = "service_tier",
	[F_METADATA] = "metadata", [F_FALLBACKS] = "fallbacks", [F_NUM_RETRIES] = "num_retries",
};

/* Whether key, its escapes decoded, is lit ("model\u0000" is not "model"). */
static int
key_is(const struct json_text *key, const char *lit)
{
	char k[64];
	size_t n = strlen(lit);

	if (!key->escaped)
		return json_text_is(key, lit);
	return json_unescape(key, k, sizeof(k)) == (int)n && memcmp(k, lit, n) == 0;
}

static enum field
field_of(const struct json_text *key)
{
	int i;

	/* the three names of the output limit are one field: two of them are ambiguous */
	if (key_is(key, "max_completion_tokens") || key_is(key, "max_output_tokens"))
		return F_MAX_TOKENS;
	for (i = 0; i < F_OTHER; i++)
		if (key_is(key, field_names[i]))
			return (enum field)i;
	return F_OTHER;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether string t holds a NUL, raw or escaped, wherever it stands. */
static int
has_nul(const struct json_text *t)
{
	size_t i;

	if (memchr(t->ptr, '\0', t->len) != NULL)
		return 1;
	for (i = 0; t->escaped && i + 1 < t->len; i++) {
		if (t->ptr[i] != '\\')
			continue;
		/* the scanner checked every escape: a 'u' has its four hex digits */
		if (t->ptr[i + 1] == 'u' && memcmp(t->ptr + i + 2, "0000", 4) == 0)
			return 1;
		i++;
	}
	return 0;
}

/*
 * String t decoded into dst[n]: "" when it does not fit.  A string holding
 * a NUL is refused (the error names field), not cut short at it.
 */
static int
text_into(struct json_scan *s, const struct json_text *t, char *dst, size_t n,
    const char *field, struct reqbody *f)
{
	if (has_nul(t)) {
		f->bad_field = field;
		return json_fail(s, "a NUL character");
	}
	if (!t->escaped && t->len < n) {
		memcpy(dst, t->ptr, t->len);
		dst[t->len] = '\0';
	} else if (json_unescape(t, dst, n) < 0)
		dst[0] = '\0';
	return 0;
}

/* metadata.tags, given once: ["a", "b"] -> "a,b" */
static int
read_tags(struct json_scan *s, struct reqbody *f)
{
	char *tags = f->tags;
	size_t n = sizeof(f->tags);
	struct json_text key, v;
	enum json_type type;
	int r, seen = 0;

	if (json_peek(s) != JSON_OBJECT)
		return json_skip(s);
	if (json_object_begin(s) < 0)
		return -1;
	while ((r = json_next_key(s, &key)) > 0) {
		if (key_is(&key, "tags") && seen++)
			return json_fail(s, "'tags' is given twice");
		if (!key_is(&key, "tags") || json_peek(s) != JSON_ARRAY) {
			if (json_skip(s) < 0)
				return -1;
			continue;
		}
		if (json_array_begin(s) < 0)
			return -1;
		while ((r = json_next_item(s)) > 0) {
			char tag[128];
			size_t used = strlen(tags);

			if (json_peek(s) != JSON_STRING) {
				if (json_skip(s) < 0)
					return -1;
				continue;
			}
			if (json_scalar(s, &type, &v) < 0 ||
			    text_into(s, &v, tag, sizeof(tag), "metadata.tags", f) < 0)
				return -1;
			if (tag[0] && used + strlen(tag) + 2 < n)
				snprintf(tags + used, n - used, "%s%s", used ? "," : "", tag);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

/* fallbacks: ["model", ...] -> one name a line; anything else is refused */
static int
read_fallbacks(struct json_scan *s, struct reqbody *f)
{
	struct json_text v;
	enum json_type type;
	char name[128];
	size_t used;
	int r;

	if (json_peek(s) != JSON_ARRAY) {
		f->bad_field = "fallbacks";
		return json_fail(s, "'fallbacks' must be a list of model names");
	}
	if (json_array_begin(s) < 0)
		return -1;
	while ((r = json_next_item(s)) > 0) {
		if (json_peek(s) != JSON_STRING) {
			f->bad_field = "fallbacks";
			return json_fail(s, "'fallbacks' must be a list of model names");
		}
		if (json_scalar(s, &type, &v) < 0 ||
		    text_into(s, &v, name, sizeof(name), "fallbacks", f) < 0)
			return -1;
		used = strlen(f->fallbacks);
		if (name[0] && used + strlen(name) + 2 < sizeof(f->fallbacks))
			snprintf(f->fallbacks + used, sizeof(f->fallbacks) - used, "%s%s",
			    used ? "\n" : "", name);
	}
	return r;
}

/*
 * stream_options: the span of its value, whatever its type (a null one is
 * replaced too, not followed by a second), and include_usage, given once.
 */
static int
read_stream_options(struct json_scan *s, const char *body, struct reqbody *f)
{
	struct json_text key, v;
	enum json_type type;
	const char *start;
	int r, seen = 0;

	for (start = s->p; start < s->end && is_space(*start); start++)
		;
	f->spans.so_at = (size_t)(start - body);
	if (json_peek(s) != JSON_OBJECT) {
		r = json_skip(s);
		goto out;
	}
	if (json_object_begin(s) < 0)
		return -1;
	while ((r = json_next_key(s, &key)) > 0) {
		if (!key_is(&key, "include_usage")) {
			if (json_skip(s) < 0)
				return -1;
			continue;
		}
		if (seen++)
			return json_fail(s, "'include_usage' is given twice");
		if (json_peek(s) == JSON_OBJECT || json_peek(s) == JSON_ARRAY) {
			if (json_skip(s) < 0)
				return -1;
			continue;
		}
		if (json_scalar(s, &type, &v) < 0)
			return -1;
		f->include_usage = type == JSON_TRUE;
	}
out:
	if (r < 0)
		return -1;
	f->spans.so_len = (size_t)(s->p - body) - f->spans.so_at;
	return 0;
}

/* A whole number of tokens; anything else (1e9, 2.5) reserves as the largest. */
static int64_t
token_count(const struct json_text *v)
{
	char num[24];
	size_t i;

	if (v->len >= sizeof(num))
		return v->ptr[0] == '-' ? -1 : INT64_MAX;
	for (i = v->ptr[0] == '-'; i < v->len; i++)
		if (v->ptr[i] < '0' || v->ptr[i] > '9')
			return INT64_MAX;
	memcpy(num, v->ptr, v->len);
	num[v->len] = '\0';
	return strtoll(num, NULL, 10);
}

static int
read_field(struct json_scan *s, const char *body, enum field fld, struct reqbody *f)
{
	enum json_type type = json_peek(s);
	struct json_text v;

	switch (fld) {
	case F_METADATA:
		return read_tags(s, f);
	case F_STREAM_OPTIONS:
		return read_stream_options(s, body, f);
	case F_FALLBACKS:
		return read_fallbacks(s, f);
	case F_OTHER:
		return json_skip_fast(s);
	default:
		break;
	}
	if (type == JSON_OBJECT || type == JSON_ARRAY)
		return json_skip_fast(s);
	if (json_scalar(s, &type, &v) < 0)
		return -1;
	switch (fld) {
	case F_MODEL:
		if (type != JSON_STRING)
			break;
		f->spans.model_at = (size_t)(v.ptr - 1 - body);
		f->spans.model_len = v.len + 2;
		return text_into(s, &v, f->model, sizeof(f->model), "model", f);
	case F_STREAM:
		f->stream = type == JSON_TRUE;
		break;
	case F_USER:
		if (type == JSON_STRING)
			return text_into(s, &v, f->user, sizeof(f->user), "user", f);
		break;
	case F_MAX_TOKENS:
		if (type == JSON_NUMBER)
			f->max_tokens = token_count(&v);
		break;
	case F_SERVICE_TIER:
		if (type == JSON_STRING)
			return text_into(s, &v, f->tier, sizeof(f->tier), "service_tier", f);
		break;
	case F_NUM_RETRIES:
		f->num_retries = type == JSON_NUMBER ? (int)token_count(&v) : -2;
		if (f->num_retries < 0 || f->num_retries > 100) {
			f->bad_field = "num_retries";
			return json_fail(s, "'num_retries' must be a whole number from 0 to 100");
		}
		break;
	default:
		break;
	}
	return 0;
}

int
reqbody_parse(const char *body, size_t len, struct reqbody *f, char *err, size_t errlen)
{
	struct json_scan s;
	struct json_text key;
	enum field fld;
	unsigned seen = 0;
	char what[64] = "";
	int r, line, col;

	memset(f, 0, sizeof(*f));
	f->num_retries = -1;
	json_init(&s, body, len);
	if (json_peek(&s) != JSON_OBJECT) {
		json_fail(&s, "the body must be a JSON object");
		goto bad;
	}
	if (json_object_begin(&s) < 0)
		goto bad;
	while ((r = json_next_key(&s, &key)) > 0) {
		fld = field_of(&key);
		if (fld != F_OTHER && (seen & 1u << fld)) {
			json_fail(&s, "a field tollgate reads is given twice");
			snprintf(what, sizeof(what), "'%s' is given twice", field_names[fld]);
			goto bad;
		}
		seen |= 1u << fld;
		if (read_field(&s, body, fld, f) < 0)
			goto bad;
		if (fld == F_FALLBACKS || fld == F_NUM_RETRIES) {
			int i = fld == F_NUM_RETRIES;

			f->routing_at[i] = (size_t)(key.ptr - 1 - body);
			f->routing_len[i] = (size_t)(s.p - body) - f->routing_at[i];
		}
	}
	if (r < 0 || json_at_end(&s) < 0)
		goto bad;
	return 0;
bad:
	json_position(&s, &line, &col);
	if (f->bad_field != NULL && s.error != NULL && strcmp(s.error, "a NUL character") == 0)
		snprintf(what, sizeof(what), "'%s' holds a NUL character (\\u0000)", f->bad_field);
	snprintf(err, errlen, "line %d, column %d: %s", line, col,
	    what[0] ? what : s.error ? s.error : "malformed");
	return -1;
}

int
reqbody_rewrite(const char *body, size_t len, const struct reqbody_spans *sp,
    const char *model, int usage_on, struct buf *out)
{
	static const char usage_json[] = "{\"include_usage\": true}";
	struct cut { size_t at, len; const char *with; } cuts[2], tmp;
	struct buf quoted = { 0 };
	const char *brace;
	size_t n = 0, at = 0, i;
	int rc = -1;

	out->len = 0;
	if (json_write_string(&quoted, model) < 0)
		goto out;
	if (sp->model_len)
		cuts[n++] = (struct cut){ sp->model_at, sp->model_len, quoted.data };
	if (usage_on && sp->so_len)
		cuts[n++] = (struct cut){ sp->so_at, sp->so_len, usage_json };
	if (n == 2 && cuts[0].at > cuts[1].at) {
		tmp = cuts[0];
		cuts[0] = cuts[1];
		cuts[1] = tmp;
	}
	if (usage_on && !sp->so_len && (brace = memchr(body, '{', len)) != NULL) {
		/* no stream_options at all: add them right after the opening brace */
		at = (size_t)(brace - body) + 1;
		for (i = at; i < len && is_space(body[i]); i++)
			;
		if (buf_append(out, body, at) < 0 || buf_printf(out, "\"stream_options\": %s%s",
		    usage_json, i < len && body[i] != '}' ? ", " : "") < 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (buf_append(out, body + at, cuts[i].at - at) < 0 ||
		    buf_append(out, cuts[i].with, strlen(cuts[i].with)) < 0)
			goto out;
		at = cuts[i].at + cuts[i].len;
	}
	rc = buf_append(out, body + at, len - at);
out:
	buf_release(&quoted);
	return rc;
}

/* Cuts [at, at+n) and one comma beside it (the one after, else the one before). */
static size_t
cut_member(char *body, size_t len, size_t at, size_t n)
{
	size_t end = at + n, i;

	for (i = end; i < len && is_space(body[i]); i++)
		;
	if (i < len && body[i] == ',')
		end = i + 1;
	else {
		for (i = at; i > 0 && is_space(body[i - 1]); i--)
			;
		if (i > 0 && body[i - 1] == ',')
			at = i - 1;
	}
	memmove(body + at, body + end, len - end);
	return len - (end - at);
}

int
reqbody_cut_routing(char *body, size_t *len, const struct reqbody *f)
{
	int later = f->routing_at[1] > f->routing_at[0], cut = 0;
	int order[2] = { later ? 1 : 0, later ? 0 : 1 };
	size_t k;

	/* the later member first: the earlier one's offsets stay true */
	for (k = 0; k < 2; k++) {
		int i = order[k];

		if (f->routing_len[i] == 0)
			continue;
		*len = cut_member(body, *len, f->routing_at[i], f->routing_len[i]);
		cut = 1;
	}
	body[*len] = '\0';
	return cut;
}
