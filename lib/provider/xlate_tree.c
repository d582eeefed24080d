/*
 * Helpers the translators share (xlate_tree.h).  Run by workers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/xlate_tree.h"

int
xt_oom(struct xlate_error *e)
{
	xlate_fail(e, 500, NULL, "out of memory translating the request");
	return -1;
}

int
xt_no_equivalent(struct xt_req *x, const char *path, const char *what)
{
	if (x->o->drop_params)
		return 0;
	return xt_bad(x->e, path, "'%s'%s%s%s has no equivalent in %s (set drop_params to drop it)",
	    path, what ? " (" : "", what ? what : "", what ? ")" : "", x->side);
}

int
xt_fields(struct xt_req *x, json_t *req, const struct xt_field *table)
{
	const struct xt_field *f;
	const char *key;
	json_t *v;

	json_object_foreach(req, key, v) {
		if (json_is_null(v))
			continue;	/* "x": null is the field left out, as the SDKs send it */
		for (f = table; f->name != NULL && strcmp(f->name, key) != 0; f++)
			;
		if (f->name == NULL ? xt_no_equivalent(x, key, NULL) < 0 :
		    f->fn != NULL && f->fn(x, key, v) < 0)
			return -1;
	}
	return 0;
}

int
xt_map_tools(struct xt_req *x, const char *key, json_t *v, xt_tool_fn one)
{
	json_t *tools, *tool;
	size_t i;

	if (!json_is_array(v))
		return xt_bad(x->e, key, "'%s' must be an array", key);
	if ((tools = json_array()) == NULL)
		return xt_oom(x->e);
	json_array_foreach(v, i, tool)
		if (one(x, tool, tools, i) < 0) {
			json_decref(tools);
			return -1;
		}
	if (json_array_size(tools) == 0) {
		json_decref(tools);
		return 0;
	}
	return xt_put(x->out, "tools", tools) < 0 ? xt_oom(x->e) : 0;
}

int
xt_chat_function(struct xt_req *x, json_t *tool, size_t i, json_t **name, json_t **params,
    json_t **desc)
{
	json_t *fn = json_object_get(tool, "function");
	char p[XT_PATHLEN];

	xt_at(p, "tools[%zu]", i);
	if (!xt_str_is(tool, "type", "function"))
		return xt_no_equivalent(x, p, "not a function tool") < 0 ? -1 : 1;
	xt_at(p, "tools[%zu].function", i);
	if ((*name = xt_need_string(fn, "name", p, x->e)) == NULL)
		return -1;
	*params = json_object_get(fn, "parameters");
	*desc = json_object_get(fn, "description");
	return 0;
}

/* v under key in x->out when is(v), else a 400 saying it must be what. */
static int
pass(struct xt_req *x, const char *key, json_t *v, int ok, const char *what)
{
	if (!ok)
		return xt_bad(x->e, key, "'%s' must be %s", key, what);
	return xt_put(x->out, key, json_incref(v)) < 0 ? xt_oom(x->e) : 0;
}

int
xt_pass_number(struct xt_req *x, const char *key, json_t *v)
{
	return pass(x, key, v, json_is_number(v), "a number");
}

int
xt_pass_string(struct xt_req *x, const char *key, json_t *v)
{
	return pass(x, key, v, json_is_string(v), "a string");
}

int
xt_pass_bool(struct xt_req *x, const char *key, json_t *v)
{
	return pass(x, key, v, json_is_boolean(v), "true or false");
}

int
xt_pass_object(struct xt_req *x, const char *key, json_t *v)
{
	return pass(x, key, v, json_is_object(v), "an object");
}

void
xt_at(char *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, XT_PATHLEN, fmt, ap);
	va_end(ap);
}

int
xt_str_is(json_t *o, const char *key, const char *s)
{
	const char *v = xt_str(o, key);

	return v != NULL && strcmp(v, s) == 0;
}

json_t *
xt_need_string(json_t *o, const char *key, const char *path, struct xlate_error *e)
{
	json_t *v = json_object_get(o, key);
	char p[XT_PATHLEN];

	if (json_is_string(v))
		return v;
	xt_at(p, "%s.%s", path, key);
	xlate_fail(e, 400, p, "'%s' must be a string", p);
	return NULL;
}

json_int_t
xt_tok(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;

	return n < 0 ? 0 : n > XT_TOKENS_MAX ? XT_TOKENS_MAX : n;
}

json_t *
xt_buf_string(const struct buf *b)
{
	return json_stringn(b->data ? b->data : "", b->len);
}

int
xt_join(struct buf *b, json_t *s, const char *sep)
{
	if (b->len > 0 && buf_append(b, sep, strlen(sep)) < 0)
		return -1;
	return buf_append(b, json_string_value(s), json_string_length(s));
}

json_t *
xt_turn(json_t *msgs, const char *role, const char *key)
{
	json_t *last = json_array_get(msgs, json_array_size(msgs) - 1), *m;

	if (last != NULL && xt_str_is(last, "role", role))
		return json_object_get(last, key);
	m = json_pack("{s:s,s:[]}", "role", role, key);
	if (m == NULL || json_array_append_new(msgs, m) < 0)
		return NULL;
	return json_object_get(m, key);
}

void
xt_keep_string(json_t **slot, json_t *v)
{
	if (json_is_string(v)) {
		json_decref(*slot);
		*slot = json_incref(v);
	}
}

json_t *
xt_any_string(const char *s)
{
	json_t *v = json_string(s);
	char *t, *c;

	if (v != NULL || (t = strdup(s)) == NULL)
		return v;
	for (c = t; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	v = json_string(t);
	free(t);
	return v;
}

void
xt_copy_text(char *dst, size_t len, const char *s)
{
	size_t n, i, need;
	unsigned char c;

	if (len == 0)
		return;
	n = buf_copy(dst, len, s);
	/* back over the continuation bytes at the cut, then check their lead had them all */
	for (i = n; i > 0 && n - i < 4 && ((unsigned char)dst[i - 1] & 0xc0) == 0x80; i--)
		;
	if (i == 0 || ((c = (unsigned char)dst[i - 1]) & 0x80) == 0)
		return;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < need)
		dst[i - 1] = '\0';
}

int
xt_emit_chunk(json_t *id, json_t *model, json_int_t created, json_t *delta, const char *finish,
    xlate_chunk_fn emit, void *arg)
{
	json_t *c = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o}]}", "id",
	    json_is_string(id) ? json_string_value(id) : "", "object", "chat.completion.chunk",
	    "created", created, "model", json_is_string(model) ? json_string_value(model) : "",
	    "choices", "index", 0, "delta", delta, "finish_reason",
	    finish ? json_string(finish) : json_null());
	int rc;

	if (c == NULL)
		return -1;
	rc = emit(arg, c);
	json_decref(c);
	return rc < 0 ? -1 : 0;
}

int
xt_sse(struct buf *b, const char *name, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	int rc;

	if (text == NULL)
		return -1;
	rc = name ? buf_printf(b, "event: %s\ndata: %s\n\n", name, text) :
	    buf_printf(b, "data: %s\n\n", text);
	free(text);
	return rc;
}
