/*
 * libFuzzer target: a client's request body as a worker reads and rewrites
 * it (lib/reqbody.c).  Besides no crash and no undefined behaviour: the
 * spans lie inside the body, and a body that parses is rewritten into one
 * that parses again with the deployment's model, usage asked for when it
 * was, and every other field it read unchanged -- what the provider gets is
 * what tollgate priced.  And a string tollgate read (model, user,
 * service_tier, metadata.tags), read again here on its own, is the whole
 * decoded value, never a strict prefix of it: "gpt-x\u0000evil" is refused,
 * not read as "gpt-x".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "reqbody.h"

/* A deployment model with a quote and a backslash, to exercise the escaping. */
static const char dep_model[] = "dep/\"m\\1\"";

static void
check_spans(const struct reqbody *f, const uint8_t *data, size_t size)
{
	const struct reqbody_spans *sp = &f->spans;

	if (sp->model_len && (sp->model_at + sp->model_len > size || sp->model_len < 2 ||
	    data[sp->model_at] != '"' || data[sp->model_at + sp->model_len - 1] != '"'))
		abort();
	if (sp->so_len && sp->so_at + sp->so_len > size)
		abort();
	if (sp->model_len && sp->so_len && sp->model_at < sp->so_at + sp->so_len &&
	    sp->so_at < sp->model_at + sp->model_len)
		abort();
}

static void
check_rewrite(const struct reqbody *f, const uint8_t *data, size_t size, int usage_on)
{
	struct buf out = { 0 };
	struct reqbody g;
	char err[160];

	if (reqbody_rewrite((const char *)data, size, &f->spans, dep_model, usage_on, &out) < 0)
		abort();
	if (reqbody_parse(out.data ? out.data : "", out.len, &g, err, sizeof(err)) < 0)
		abort();
	if (f->spans.model_len && strcmp(g.model, dep_model) != 0)
		abort();
	if (!f->spans.model_len && g.spans.model_len)
		abort();
	if (usage_on ? !g.include_usage || !g.spans.so_len : g.include_usage != f->include_usage)
		abort();
	if (g.stream != f->stream || g.max_tokens != f->max_tokens ||
	    strcmp(g.user, f->user) != 0 || strcmp(g.tags, f->tags) != 0 ||
	    strcmp(g.tier, f->tier) != 0)
		abort();
	buf_release(&out);
}

/* Whether key, decoded, is lit: the whole of it. */
static int
key_is(const struct json_text *key, const char *lit)
{
	char k[64];
	int n = json_unescape(key, k, sizeof(k));

	return n == (int)strlen(lit) && memcmp(k, lit, (size_t)n) == 0;
}

/*
 * String v decoded must hold no NUL; read (what reqbody_parse made of it,
 * or NULL) must be all of it, unless it was left empty (too long to keep).
 */
static void
check_whole(const struct json_text *v, const char *read)
{
	char *full = malloc(v->len + 1);
	int n;

	if (full == NULL)
		abort();
	if ((n = json_unescape(v, full, v->len + 1)) < 0 || memchr(full, '\0', (size_t)n) != NULL)
		abort();
	if (read != NULL && read[0] != '\0' &&
	    (strlen(read) != (size_t)n || memcmp(read, full, (size_t)n) != 0))
		abort();
	free(full);
}

/* metadata.tags: each string holds no NUL.  -1 where the scanner stops. */
static int
check_tags(struct json_scan *s)
{
	struct json_text key, v;
	enum json_type type;
	int r;

	if (json_peek(s) != JSON_OBJECT)
		return json_skip_fast(s);
	if (json_object_begin(s) < 0)
		return -1;
	while ((r = json_next_key(s, &key)) > 0) {
		if (!key_is(&key, "tags") || json_peek(s) != JSON_ARRAY) {
			if (json_skip_fast(s) < 0)
				return -1;
			continue;
		}
		if (json_array_begin(s) < 0)
			return -1;
		while ((r = json_next_item(s)) > 0) {
			if (json_peek(s) != JSON_STRING) {
				if (json_skip_fast(s) < 0)
					return -1;
			} else if (json_scalar(s, &type, &v) < 0)
				return -1;
			else
				check_whole(&v, NULL);
		}
		if (r < 0)
			return -1;
	}
	return r;
}

/*
 * The strings tollgate read from a body that parsed, read again with the
 * scanner alone, skipping what reqbody_parse skips as it does (fast).
 */
static void
check_strings(const struct reqbody *f, const uint8_t *data, size_t size)
{
	struct json_scan s;
	struct json_text key, v;
	enum json_type type;
	const char *read;
	int r = 0;

	json_init(&s, (const char *)data, size);
	if (json_object_begin(&s) < 0)
		abort();
	while (r >= 0 && json_next_key(&s, &key) > 0) {
		read = key_is(&key, "model") ? f->model : key_is(&key, "user") ? f->user :
		    key_is(&key, "service_tier") ? f->tier : NULL;
		if (key_is(&key, "metadata"))
			r = check_tags(&s);
		else if (read == NULL || json_peek(&s) != JSON_STRING)
			r = json_skip_fast(&s);
		else if ((r = json_scalar(&s, &type, &v)) == 0)
			check_whole(&v, read);
	}
	/* the body parsed: a scanner reading it as reqbody_parse does never stops early */
	if (r < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqbody f;
	char err[160];

	if (reqbody_parse((const char *)data, size, &f, err, sizeof(err)) < 0) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
		return 0;
	}
	if (strlen(f.model) >= sizeof(f.model) || strlen(f.tags) >= sizeof(f.tags))
		abort();
	check_spans(&f, data, size);
	check_strings(&f, data, size);
	check_rewrite(&f, data, size, 0);
	check_rewrite(&f, data, size, 1);
	return 0;
}
