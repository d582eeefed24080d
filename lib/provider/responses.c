/*
 * OpenAI Responses: the dialect of the models that speak only it (the
 * price map's mode "responses", a deployment's model_info.mode, LiteLLM's
 * "openai/responses/" prefix: dialect.h, at the end), and its side of the
 * translation hub (xlate.h): requests
 * from a Responses client (the openai SDKs' client.responses.create, the
 * OpenAI Agents SDK) to OpenAI chat and back, answers both ways, a
 * Responses upstream's stream decoded into chat chunks, and chat chunks
 * encoded as Responses events for a Responses client.  tollgate keeps no
 * responses, so what needs the provider to remember one (previous_response_id,
 * conversation, store, item_reference) is refused.  Every tree comes from
 * outside: each type is checked before it is read; a client's shape that
 * does not fit is a 400 naming its path, a provider's a 502.
 * Prefixes: q2c_ and c2q_ translate requests (Responses -> chat, chat ->
 * Responses), a2c_ and c2a_ answers, dec_ the decoder, enc_ the encoder.
 * Run by workers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider/dialect.h"
#include "provider/xlate.h"
#include "provider/xlate_tree.h"

static const char to_chat_side[] = "OpenAI chat";
static const char to_responses_side[] = "OpenAI Responses";

/* One request translation: its options, its error, the tree being built. */
struct req {
	struct xt_req		 x;		/* its first member: what the field tables get */
	json_t			*list;		/* out's messages (q2c) or input (c2q) */
	struct buf		 instr;		/* c2q: the leading system text */
	int			 later;		/* c2q: a message other than system was seen */
};

/* Refuses key: its meaning lives in responses the provider would have kept. */
static int
stateful(struct req *r, const char *key)
{
	return xt_bad(r->x.e, key, "'%s' is not supported for this model: the provider keeps no "
	    "responses (send the whole input)", key);
}

/* Appends v to the array a, v's reference taken; 0 or -1 with r's error set. */
static int
push(struct req *r, json_t *a, json_t *v)
{
	return json_array_append_new(a, v) < 0 ? xt_oom(r->x.e) : 0;
}

/* String key of o, at path, into *s; 0, or -1 with a 400 naming path.key. */
static int
need_text(struct req *r, json_t *o, const char *key, const char *path, const char **s)
{
	json_t *v = xt_need_string(o, key, path, r->x.e);

	*s = json_string_value(v);
	return v != NULL ? 0 : -1;
}

/* Copies key of from to to when it is there and not null, after checking its type; 0 or -1. */
static int
copy_opt(struct req *r, json_t *from, json_t *to, const char *key, int (*is)(const json_t *),
    const char *path, const char *what)
{
	json_t *v = json_object_get(from, key);
	char p[XT_PATHLEN];

	if (v == NULL || json_is_null(v))
		return 0;
	if (!is(v)) {
		xt_at(p, "%s.%s", path, key);
		return xt_bad(r->x.e, p, "'%s' must be %s", p, what);
	}
	return json_object_set(to, key, v) < 0 ? xt_oom(r->x.e) : 0;
}

/* jansson's type tests are macros; copy_opt wants functions. */
static int is_string(const json_t *v) { return json_is_string(v); }
static int is_object(const json_t *v) { return json_is_object(v); }
static int is_boolean(const json_t *v) { return json_is_boolean(v); }

/* ---- a Responses request -> chat ---------------------------------------------- */

/* Appends a chat message {role, content} (content's reference taken); 0 or -1. */
static int
q2c_push(struct req *r, const char *role, json_t *content)
{
	json_t *m = json_object();

	if (m == NULL || content == NULL || xt_put(m, "role", json_string(role)) < 0 ||
	    json_object_set(m, "content", content) < 0) {
		json_decref(m);
		json_decref(content);
		return xt_oom(r->x.e);
	}
	json_decref(content);
	return push(r, r->list, m);
}

/* An input_image part as chat's image_url part into *part (NULL: dropped); 0 or -1. */
static int
q2c_image(struct req *r, json_t *in, const char *path, json_t **part)
{
	json_t *url = json_object_get(in, "image_url"), *img;
	char p[XT_PATHLEN];

	if (!json_is_string(url)) {
		xt_at(p, "%s.file_id", path);
		if (json_is_string(json_object_get(in, "file_id")))
			return xt_no_equivalent(&r->x, p, "an image by file id");
		xt_at(p, "%s.image_url", path);
		return xt_bad(r->x.e, p, "'%s' must be a string (a URL or a data: URL)", p);
	}
	if ((img = json_pack("{s:O}", "url", url)) == NULL)
		return xt_oom(r->x.e);
	if (copy_opt(r, in, img, "detail", is_string, path, "a string") < 0) {
		json_decref(img);
		return -1;
	}
	*part = json_pack("{s:s,s:o}", "type", "image_url", "image_url", img);
	return *part ? 0 : xt_oom(r->x.e);
}

/* An input_file part as chat's file part into *part (NULL: dropped); 0 or -1. */
static int
q2c_file(struct req *r, json_t *in, const char *path, json_t **part)
{
	json_t *file = json_object();
	char p[XT_PATHLEN];

	if (file == NULL)
		return xt_oom(r->x.e);
	if (copy_opt(r, in, file, "file_id", is_string, path, "a string") < 0 ||
	    copy_opt(r, in, file, "file_data", is_string, path, "a string") < 0 ||
	    copy_opt(r, in, file, "filename", is_string, path, "a string") < 0) {
		json_decref(file);
		return -1;
	}
	if (json_object_get(file, "file_id") == NULL && json_object_get(file, "file_data") == NULL) {
		json_decref(file);
		xt_at(p, "%s.file_url", path);
		if (json_object_get(in, "file_url") != NULL)
			return xt_no_equivalent(&r->x, p, "a file by URL");
		return xt_bad(r->x.e, path, "'%s' must have a file_id or file_data", path);
	}
	if ((*part = json_pack("{s:s,s:o}", "type", "file", "file", file)) == NULL)
		return xt_oom(r->x.e);
	return 0;
}

/* One content part of a user, system or developer message as a chat part into *part. */
static int
q2c_part(struct req *r, json_t *in, const char *path, int media, json_t **part)
{
	char p[XT_PATHLEN];
	const char *t, *text;

	*part = NULL;
	if (!json_is_object(in))
		return xt_bad(r->x.e, path, "'%s' must be an object", path);
	xt_at(p, "%s.type", path);
	if ((t = xt_str(in, "type")) == NULL)
		return xt_bad(r->x.e, p, "'%s' must be a string", p);
	if (strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0) {
		if (need_text(r, in, "text", path, &text) < 0)
			return -1;
		*part = json_pack("{s:s,s:O}", "type", "text", "text", json_object_get(in, "text"));
		return *part ? 0 : xt_oom(r->x.e);
	}
	if (!media && (strcmp(t, "input_image") == 0 || strcmp(t, "input_file") == 0))
		return xt_bad(r->x.e, p, "'%s' must be input_text here: chat takes text alone", p);
	if (strcmp(t, "input_image") == 0)
		return q2c_image(r, in, path, part);
	if (strcmp(t, "input_file") == 0)
		return q2c_file(r, in, path, part);
	return xt_bad(r->x.e, p, "'%s' must be input_text, input_image or input_file", p);
}

/* Content (a string or parts) as chat content into *out; media: images and files allowed. */
static int
q2c_content(struct req *r, json_t *content, const char *path, int media, json_t **out)
{
	char p[XT_PATHLEN];
	json_t *part, *parts;
	size_t i;

	*out = NULL;
	if (json_is_string(content)) {
		*out = json_incref(content);
		return 0;
	}
	if (!json_is_array(content))
		return xt_bad(r->x.e, path, "'%s' must be a string or an array of parts", path);
	if ((parts = json_array()) == NULL)
		return xt_oom(r->x.e);
	for (i = 0; i < json_array_size(content); i++) {
		xt_at(p, "%s[%zu]", path, i);
		if (q2c_part(r, json_array_get(content, i), p, media, &part) < 0 ||
		    (part != NULL && push(r, parts, part) < 0)) {
			json_decref(parts);
			return -1;
		}
	}
	*out = parts;
	return 0;
}

/* An assistant message's content: its text joined into one string, refusals apart. */
static int
q2c_assistant(struct req *r, json_t *content, const char *path)
{
	struct buf text = { 0 }, refusal = { 0 };
	char p[XT_PATHLEN];
	json_t *part, *m = NULL;
	const char *t, *s;
	size_t i;
	int rc = -1;

	if (json_is_string(content) && xt_join(&text, content, "") < 0)
		goto nomem;
	if (!json_is_string(content) && !json_is_array(content)) {
		xt_at(p, "%s.content", path);
		(void)xlate_fail(r->x.e, 400, p, "'%s' must be a string or an array of parts", p);
		goto out;
	}
	json_array_foreach(content, i, part) {
		xt_at(p, "%s.content[%zu]", path, i);
		if (!json_is_object(part) || (t = xt_str(part, "type")) == NULL) {
			(void)xlate_fail(r->x.e, 400, p, "'%s' must be an object with a type", p);
			goto out;
		}
		if (strcmp(t, "refusal") == 0) {
			if (need_text(r, part, "refusal", p, &s) < 0)
				goto out;
			if (xt_join(&refusal, json_object_get(part, "refusal"), "") < 0)
				goto nomem;
		} else if (strcmp(t, "output_text") == 0 || strcmp(t, "input_text") == 0) {
			if (need_text(r, part, "text", p, &s) < 0)
				goto out;
			if (xt_join(&text, json_object_get(part, "text"), "") < 0)
				goto nomem;
		} else {
			xt_at(p, "%s.content[%zu].type", path, i);
			(void)xlate_fail(r->x.e, 400, p, "'%s' must be output_text or refusal", p);
			goto out;
		}
	}
	if ((m = json_pack("{s:s,s:o}", "role", "assistant", "content",
	    text.len || !refusal.len ? xt_buf_string(&text) : json_null())) == NULL ||
	    (refusal.len && xt_put(m, "refusal", xt_buf_string(&refusal)) < 0))
		goto nomem;
	rc = push(r, r->list, m);
	m = NULL;
	goto out;
nomem:
	xt_oom(r->x.e);
out:
	json_decref(m);
	buf_release(&text);
	buf_release(&refusal);
	return rc;
}

/* A message item: user, system and developer keep their role, assistant its text. */
static int
q2c_message(struct req *r, json_t *it, const char *path)
{
	json_t *content = json_object_get(it, "content"), *c;
	const char *role = xt_str(it, "role");
	char p[XT_PATHLEN];
	int media;

	xt_at(p, "%s.role", path);
	if (role == NULL)
		return xt_bad(r->x.e, p, "'%s' must be a string", p);
	if (strcmp(role, "assistant") == 0)
		return q2c_assistant(r, content, path);
	if (strcmp(role, "user") != 0 && strcmp(role, "system") != 0 &&
	    strcmp(role, "developer") != 0)
		return xt_bad(r->x.e, p, "'%s' must be user, assistant, system or developer", p);
	/* chat's system and developer messages take text alone */
	media = strcmp(role, "user") == 0;
	xt_at(p, "%s.content", path);
	if (q2c_content(r, content, p, media, &c) < 0)
		return -1;
	return q2c_push(r, role, c);
}

/*
 * The assistant message a function call joins: the last message when it is
 * the assistant's (consecutive calls, and the text that preceded them, are
 * one chat turn), else a new one.  NULL on ENOMEM.
 */
static json_t *
q2c_turn(struct req *r)
{
	json_t *last = json_array_get(r->list, json_array_size(r->list) - 1), *calls;

	if (!xt_str_is(last, "role", "assistant") &&
	    ((last = json_pack("{s:s,s:n}", "role", "assistant", "content")) == NULL ||
	    json_array_append_new(r->list, last) < 0))
		return NULL;
	if ((calls = json_object_get(last, "tool_calls")) == NULL &&
	    xt_put(last, "tool_calls", calls = json_array()) < 0)
		return NULL;
	return calls;
}

static int
q2c_call(struct req *r, json_t *it, const char *path)
{
	const char *id, *name, *args;
	json_t *calls, *call;

	if (need_text(r, it, "call_id", path, &id) < 0 ||
	    need_text(r, it, "name", path, &name) < 0 ||
	    need_text(r, it, "arguments", path, &args) < 0)
		return -1;
	if ((calls = q2c_turn(r)) == NULL)
		return xt_oom(r->x.e);
	call = json_pack("{s:O,s:s,s:{s:O,s:O}}", "id", json_object_get(it, "call_id"),
	    "type", "function", "function", "name", json_object_get(it, "name"),
	    "arguments", json_object_get(it, "arguments"));
	return push(r, calls, call);
}

/* A function call's output as a tool message: a string, or its text parts. */
static int
q2c_call_output(struct req *r, json_t *it, const char *path)
{
	json_t *out = json_object_get(it, "output"), *c, *m;
	const char *id;
	char p[XT_PATHLEN];

	if (need_text(r, it, "call_id", path, &id) < 0)
		return -1;
	xt_at(p, "%s.output", path);
	if (q2c_content(r, out, p, 0, &c) < 0)
		return -1;
	if ((m = json_pack("{s:s,s:O,s:o}", "role", "tool", "tool_call_id",
	    json_object_get(it, "call_id"), "content", c)) == NULL)
		return xt_oom(r->x.e);
	return push(r, r->list, m);
}

static int
q2c_item(struct req *r, json_t *it, size_t i)
{
	char p[XT_PATHLEN], pt[XT_PATHLEN];
	json_t *type;
	const char *t;

	xt_at(p, "input[%zu]", i);
	xt_at(pt, "input[%zu].type", i);
	if (!json_is_object(it))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	/* an item without a type is a message (the SDKs' EasyInputMessage) */
	type = json_object_get(it, "type");
	if (type == NULL || json_is_null(type))
		t = "message";
	else if ((t = json_string_value(type)) == NULL)
		return xt_bad(r->x.e, pt, "'%s' must be a string", pt);
	if (strcmp(t, "message") == 0)
		return q2c_message(r, it, p);
	if (strcmp(t, "function_call") == 0)
		return q2c_call(r, it, p);
	if (strcmp(t, "function_call_output") == 0)
		return q2c_call_output(r, it, p);
	/* the model's own reasoning, opaque and the provider's: chat takes none back */
	if (strcmp(t, "reasoning") == 0)
		return 0;
	if (strcmp(t, "item_reference") == 0)
		return stateful(r, p);
	return xt_no_equivalent(&r->x, pt, t);
}

static int
q2c_input(struct req *r, json_t *in)
{
	size_t i;

	if (in == NULL || json_is_null(in))
		return xt_bad(r->x.e, "input", "'input' is required (a string or an array of items)");
	if (json_is_string(in))
		return q2c_push(r, "user", json_incref(in));
	if (!json_is_array(in))
		return xt_bad(r->x.e, "input", "'input' must be a string or an array of items");
	for (i = 0; i < json_array_size(in); i++)
		if (q2c_item(r, json_array_get(in, i), i) < 0)
			return -1;
	return 0;
}

static int
q2c_instructions(struct req *r, json_t *v)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return xt_bad(r->x.e, "instructions", "'instructions' must be a string");
	return q2c_push(r, "system", json_incref(v));
}

static int
q2c_tool(struct xt_req *x, json_t *t, json_t *tools, size_t i)
{
	struct req *r = (struct req *)x;
	char p[XT_PATHLEN], pt[XT_PATHLEN];
	const char *type, *name;
	json_t *fn;

	xt_at(p, "tools[%zu]", i);
	xt_at(pt, "tools[%zu].type", i);
	if (!json_is_object(t))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if ((type = xt_str(t, "type")) == NULL)
		return xt_bad(r->x.e, pt, "'%s' must be a string", pt);
	/* web_search, file_search, computer_use, code_interpreter, mcp, ...: run by OpenAI alone */
	if (strcmp(type, "function") != 0)
		return xt_no_equivalent(&r->x, pt, type);
	if (need_text(r, t, "name", p, &name) < 0)
		return -1;
	if ((fn = json_pack("{s:O}", "name", json_object_get(t, "name"))) == NULL)
		return xt_oom(r->x.e);
	if (copy_opt(r, t, fn, "description", is_string, p, "a string") < 0 ||
	    copy_opt(r, t, fn, "parameters", is_object, p, "an object") < 0 ||
	    copy_opt(r, t, fn, "strict", is_boolean, p, "a boolean") < 0) {
		json_decref(fn);
		return -1;
	}
	return push(r, tools, json_pack("{s:s,s:o}", "type", "function", "function", fn));
}

static int
q2c_tools(struct xt_req *x, const char *key, json_t *v)
{
	return xt_map_tools(x, key, v, q2c_tool);
}

static int
q2c_tool_choice(struct xt_req *x, const char *key, json_t *v)
{
	const char *s = json_string_value(v), *type;

	if (s != NULL) {
		if (strcmp(s, "auto") && strcmp(s, "required") && strcmp(s, "none"))
			return xt_bad(x->e, key, "'%s' must be auto, required, none or an object", key);
		return xt_put(x->out, key, json_copy(v)) < 0 ? xt_oom(x->e) : 0;
	}
	if (!json_is_object(v) || (type = xt_str(v, "type")) == NULL)
		return xt_bad(x->e, key, "'%s' must be a string or an object with a type", key);
	if (strcmp(type, "function") != 0)
		return xt_no_equivalent(x, "tool_choice.type", type);
	if (!json_is_string(json_object_get(v, "name")))
		return xt_bad(x->e, "tool_choice.name", "'tool_choice.name' must be a string");
	return xt_put(x->out, key, json_pack("{s:s,s:{s:O}}", "type", "function", "function",
	    "name", json_object_get(v, "name"))) < 0 ? xt_oom(x->e) : 0;
}

/* OpenAI's reasoning models take max_completion_tokens, and refuse max_tokens. */
static int
q2c_max_tokens(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return xt_bad(x->e, key, "'%s' must be a non-negative integer", key);
	return xt_put(x->out, x->o->reasoning_model ? "max_completion_tokens" : "max_tokens",
	    json_copy(v)) < 0 ? xt_oom(x->e) : 0;
}

/* The effort alone: chat has no place for a summary of the reasoning. */
static int
q2c_reasoning(struct xt_req *x, const char *key, json_t *v)
{
	json_t *effort = json_object_get(v, "effort");

	if (!json_is_object(v))
		return xt_bad(x->e, key, "'%s' must be an object", key);
	if (effort == NULL || json_is_null(effort))
		return 0;
	if (!json_is_string(effort))
		return xt_bad(x->e, "reasoning.effort", "'reasoning.effort' must be a string");
	return xt_put(x->out, "reasoning_effort", json_copy(effort)) < 0 ? xt_oom(x->e) : 0;
}

/* text.format as chat's response_format. */
static int
q2c_format(struct req *r, json_t *f)
{
	const char *type = xt_str(f, "type"), *name;
	json_t *js;

	if (!json_is_object(f) || type == NULL)
		return xt_bad(r->x.e, "text.format.type", "'text.format.type' must be a string");
	if (strcmp(type, "text") == 0)
		return 0;
	if (strcmp(type, "json_object") == 0)
		return xt_put(r->x.out, "response_format", json_pack("{s:s}", "type", "json_object")) < 0 ?
		    xt_oom(r->x.e) : 0;
	if (strcmp(type, "json_schema") != 0)
		return xt_bad(r->x.e, "text.format.type",
		    "'text.format.type' must be text, json_object or json_schema");
	if (need_text(r, f, "name", "text.format", &name) < 0)
		return -1;
	if (!json_is_object(json_object_get(f, "schema")))
		return xt_bad(r->x.e, "text.format.schema", "'text.format.schema' must be an object");
	if ((js = json_pack("{s:O,s:O}", "name", json_object_get(f, "name"), "schema",
	    json_object_get(f, "schema"))) == NULL)
		return xt_oom(r->x.e);
	if (copy_opt(r, f, js, "strict", is_boolean, "text.format", "a boolean") < 0 ||
	    copy_opt(r, f, js, "description", is_string, "text.format", "a string") < 0) {
		json_decref(js);
		return -1;
	}
	return xt_put(r->x.out, "response_format", json_pack("{s:s,s:o}", "type", "json_schema",
	    "json_schema", js)) < 0 ? xt_oom(r->x.e) : 0;
}

static int
q2c_text(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	json_t *f = json_object_get(v, "format"), *verb = json_object_get(v, "verbosity");

	if (!json_is_object(v))
		return xt_bad(x->e, key, "'%s' must be an object", key);
	if (f != NULL && !json_is_null(f) && q2c_format(r, f) < 0)
		return -1;
	if (verb == NULL || json_is_null(verb))
		return 0;
	if (!json_is_string(verb))
		return xt_bad(x->e, "text.verbosity", "'text.verbosity' must be a string");
	return xt_put(x->out, "verbosity", json_copy(verb)) < 0 ? xt_oom(x->e) : 0;
}

/* A stream's cost is read from its usage, which chat sends only when asked. */
static int
q2c_stream(struct xt_req *x, const char *key, json_t *v)
{
	if (xt_pass_bool(x, key, v) < 0)
		return -1;
	if (json_is_true(v) &&
	    xt_put(x->out, "stream_options", json_pack("{s:b}", "include_usage", 1)) < 0)
		return xt_oom(x->e);
	return 0;
}

static int
q2c_stateful(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	(void)v;
	return stateful(r, key);
}

/* store: false is what tollgate does anyway; true asks the provider to keep the response. */
static int
q2c_store(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	if (!json_is_boolean(v))
		return xt_bad(x->e, key, "'%s' must be a boolean", key);
	if (json_is_false(v) || x->o->drop_params)
		return 0;
	return stateful(r, key);
}

/* Fields whose default value changes nothing: only another value has no equivalent. */
static int
q2c_default_only(struct xt_req *x, const char *key, json_t *v)
{
	if ((strcmp(key, "truncation") == 0 && json_is_string(v) &&
	    strcmp(json_string_value(v), "disabled") == 0) ||
	    (strcmp(key, "background") == 0 && json_is_false(v)) ||
	    (strcmp(key, "include") == 0 && json_is_array(v) && json_array_size(v) == 0))
		return 0;
	return xt_no_equivalent(x, key, NULL);
}

static const struct xt_field q2c_fields[] = {
	{ "background", q2c_default_only },
	{ "conversation", q2c_stateful },
	{ "include", q2c_default_only },
	{ "input", NULL },		/* read first, after instructions */
	{ "instructions", NULL },
	{ "max_output_tokens", q2c_max_tokens },
	{ "metadata", xt_pass_object },
	{ "model", NULL },		/* o->model instead */
	{ "parallel_tool_calls", xt_pass_bool },
	{ "previous_response_id", q2c_stateful },
	{ "prompt_cache_key", xt_pass_string },
	{ "reasoning", q2c_reasoning },
	{ "safety_identifier", xt_pass_string },
	{ "service_tier", xt_pass_string },
	{ "store", q2c_store },
	{ "stream", q2c_stream },
	/* its one option (include_obfuscation) shapes events chat never sends */
	{ "stream_options", NULL },
	{ "temperature", xt_pass_number },
	{ "text", q2c_text },
	{ "tool_choice", q2c_tool_choice },
	{ "tools", q2c_tools },
	{ "top_p", xt_pass_number },
	{ "truncation", q2c_default_only },
	{ "user", xt_pass_string },
	{ NULL, NULL },
};

/*
 * Both APIs refuse an empty tools list, and tool_choice or
 * parallel_tool_calls without tools (all of them dropped, say).
 */
static void
lone_tool_fields(json_t *out)
{
	if (json_array_size(json_object_get(out, "tools")) > 0)
		return;
	json_object_del(out, "tools");
	json_object_del(out, "tool_choice");
	json_object_del(out, "parallel_tool_calls");
}

static json_t *
responses_request_to_chat(json_t *req, const struct xlate_opts *o, struct xlate_error *e)
{
	struct req r = { .x = { .o = o, .e = e, .side = to_chat_side } };

	if (!json_is_object(req))
		return xlate_fail(e, 400, NULL, "the request body must be a JSON object");
	if ((r.x.out = json_object()) == NULL || xt_put(r.x.out, "messages", r.list = json_array()) < 0 ||
	    (o->model != NULL && xt_put(r.x.out, "model", json_string(o->model)) < 0)) {
		xt_oom(e);
		goto fail;
	}
	if (q2c_instructions(&r, json_object_get(req, "instructions")) < 0 ||
	    q2c_input(&r, json_object_get(req, "input")) < 0 || xt_fields(&r.x, req, q2c_fields) < 0)
		goto fail;
	lone_tool_fields(r.x.out);
	return r.x.out;
fail:
	json_decref(r.x.out);
	return NULL;
}

/* ---- a chat request -> Responses ---------------------------------------------- */

/* The text of chat content (a string, or parts of which only text is allowed) into b. */
static int
c2q_text(struct req *r, json_t *content, const char *path, struct buf *b)
{
	char p[XT_PATHLEN];
	json_t *part;
	size_t i;

	if (content == NULL || json_is_null(content))
		return 0;
	if (json_is_string(content))
		return xt_join(b, content, "") < 0 ? xt_oom(r->x.e) : 0;
	if (!json_is_array(content))
		return xt_bad(r->x.e, path, "'%s' must be a string or an array of parts", path);
	json_array_foreach(content, i, part) {
		xt_at(p, "%s[%zu]", path, i);
		if (!xt_str_is(part, "type", "text") || !json_is_string(json_object_get(part, "text")))
			return xt_bad(r->x.e, p, "'%s' must be a text part {type: text, text}", p);
		if (xt_join(b, json_object_get(part, "text"), "") < 0)
			return xt_oom(r->x.e);
	}
	return 0;
}

/* Appends an input message item {type: message, role, content: parts} (parts taken). */
static int
c2q_push(struct req *r, const char *role, json_t *parts)
{
	if (parts == NULL)
		return xt_oom(r->x.e);
	return push(r, r->list, json_pack("{s:s,s:s,s:o}", "type", "message", "role", role,
	    "content", parts));
}

static json_t *
text_part(const char *type, const struct buf *b)
{
	json_t *p = json_pack("{s:s,s:o}", "type", type, "text", xt_buf_string(b));

	if (p != NULL && strcmp(type, "output_text") == 0 &&
	    xt_put(p, "annotations", json_array()) < 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* A system or developer message: instructions at the start, a developer message later. */
static int
c2q_system(struct req *r, json_t *m, const char *path)
{
	struct buf text = { 0 };
	char p[XT_PATHLEN];
	int rc;

	xt_at(p, "%s.content", path);
	if (c2q_text(r, json_object_get(m, "content"), p, &text) < 0) {
		buf_release(&text);
		return -1;
	}
	if (!r->later) {
		rc = 0;
		if ((r->instr.len > 0 && buf_append(&r->instr, "\n\n", 2) < 0) ||
		    buf_append(&r->instr, text.data ? text.data : "", text.len) < 0)
			rc = xt_oom(r->x.e);
	} else
		rc = c2q_push(r, "developer", json_pack("[o]", text_part("input_text", &text)));
	buf_release(&text);
	return rc;
}

static int
c2q_image(struct req *r, json_t *part, const char *path, json_t **out)
{
	json_t *img = json_object_get(part, "image_url"), *url = json_object_get(img, "url");
	json_t *detail = json_object_get(img, "detail");
	char p[XT_PATHLEN];

	xt_at(p, "%s.image_url.url", path);
	if (!json_is_string(url))
		return xt_bad(r->x.e, p, "'%s' must be a string", p);
	/* Responses requires a detail; chat's default is auto */
	*out = json_pack("{s:s,s:O,s:o}", "type", "input_image", "image_url", url, "detail",
	    json_is_string(detail) ? json_incref(detail) : json_string("auto"));
	return *out ? 0 : xt_oom(r->x.e);
}

static int
c2q_file(struct req *r, json_t *part, const char *path, json_t **out)
{
	json_t *file = json_object_get(part, "file");
	char p[XT_PATHLEN];

	xt_at(p, "%s.file", path);
	if (!json_is_object(file))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if ((*out = json_pack("{s:s}", "type", "input_file")) == NULL)
		return xt_oom(r->x.e);
	if (copy_opt(r, file, *out, "file_id", is_string, p, "a string") < 0 ||
	    copy_opt(r, file, *out, "file_data", is_string, p, "a string") < 0 ||
	    copy_opt(r, file, *out, "filename", is_string, p, "a string") < 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* One part of a user message as an input part into *out (NULL: dropped). */
static int
c2q_part(struct req *r, json_t *part, const char *path, json_t **out)
{
	char p[XT_PATHLEN];
	const char *t;

	*out = NULL;
	xt_at(p, "%s.type", path);
	if (!json_is_object(part) || (t = xt_str(part, "type")) == NULL)
		return xt_bad(r->x.e, p, "'%s' must be a string", p);
	if (strcmp(t, "text") == 0) {
		xt_at(p, "%s.text", path);
		if (!json_is_string(json_object_get(part, "text")))
			return xt_bad(r->x.e, p, "'%s' must be a string", p);
		*out = json_pack("{s:s,s:O}", "type", "input_text", "text",
		    json_object_get(part, "text"));
		return *out ? 0 : xt_oom(r->x.e);
	}
	if (strcmp(t, "image_url") == 0)
		return c2q_image(r, part, path, out);
	if (strcmp(t, "file") == 0)
		return c2q_file(r, part, path, out);
	return xt_no_equivalent(&r->x, p, t);
}

static int
c2q_user(struct req *r, json_t *m, const char *path)
{
	json_t *content = json_object_get(m, "content"), *parts, *part;
	char p[XT_PATHLEN];
	size_t i;

	xt_at(p, "%s.content", path);
	if (json_is_string(content))
		return c2q_push(r, "user", json_pack("[{s:s,s:O}]", "type", "input_text", "text",
		    content));
	if (!json_is_array(content))
		return xt_bad(r->x.e, p, "'%s' must be a string or an array of parts", p);
	if ((parts = json_array()) == NULL)
		return xt_oom(r->x.e);
	for (i = 0; i < json_array_size(content); i++) {
		xt_at(p, "%s.content[%zu]", path, i);
		if (c2q_part(r, json_array_get(content, i), p, &part) < 0 ||
		    (part != NULL && push(r, parts, part) < 0)) {
			json_decref(parts);
			return -1;
		}
	}
	return c2q_push(r, "user", parts);
}

static int
c2q_tool_call(struct req *r, json_t *call, const char *path)
{
	json_t *fn = json_object_get(call, "function");
	const char *s;
	char p[XT_PATHLEN];

	if (!json_is_object(call))
		return xt_bad(r->x.e, path, "'%s' must be an object", path);
	xt_at(p, "%s.type", path);
	if (json_object_get(call, "type") != NULL && !xt_str_is(call, "type", "function"))
		return xt_no_equivalent(&r->x, p, xt_str(call, "type"));
	xt_at(p, "%s.function", path);
	if (need_text(r, call, "id", path, &s) < 0)
		return -1;
	if (!json_is_object(fn))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if (need_text(r, fn, "name", p, &s) < 0 || need_text(r, fn, "arguments", p, &s) < 0)
		return -1;
	return push(r, r->list, json_pack("{s:s,s:O,s:O,s:O}", "type", "function_call",
	    "call_id", json_object_get(call, "id"), "name", json_object_get(fn, "name"),
	    "arguments", json_object_get(fn, "arguments")));
}

/* The text of an assistant message and its refusal, as one message item, when it has any. */
static int
c2q_assistant_text(struct req *r, json_t *m, const char *path, int calls)
{
	struct buf text = { 0 }, refusal = { 0 };
	json_t *content = json_object_get(m, "content"), *parts = NULL, *part;
	char p[XT_PATHLEN];
	size_t i;
	int rc = -1;

	xt_at(p, "%s.content", path);
	if (json_is_array(content)) {
		/* refusal parts apart, text parts joined */
		json_array_foreach(content, i, part)
			if (xt_str_is(part, "type", "refusal") &&
			    json_is_string(json_object_get(part, "refusal")) &&
			    xt_join(&refusal, json_object_get(part, "refusal"), "") < 0)
				goto nomem;
		if ((parts = json_array()) == NULL)
			goto nomem;
		json_array_foreach(content, i, part)
			if (!xt_str_is(part, "type", "refusal") && push(r, parts, json_incref(part)) < 0)
				goto out;
		content = parts;
	}
	if (c2q_text(r, content, p, &text) < 0)
		goto out;
	if (json_is_string(json_object_get(m, "refusal")) &&
	    xt_join(&refusal, json_object_get(m, "refusal"), "") < 0)
		goto nomem;
	rc = 0;
	if (text.len == 0 && refusal.len == 0 && calls)
		goto out;
	if ((part = json_array()) == NULL || c2q_push(r, "assistant", part) < 0)
		goto nomem;
	if (text.len > 0 || refusal.len == 0)
		rc = push(r, part, text_part("output_text", &text));
	if (rc == 0 && refusal.len > 0)
		rc = push(r, part, json_pack("{s:s,s:o}", "type", "refusal", "refusal",
		    xt_buf_string(&refusal)));
	goto out;
nomem:
	rc = xt_oom(r->x.e);
out:
	json_decref(parts);
	buf_release(&text);
	buf_release(&refusal);
	return rc;
}

/* An assistant message: its text as a message item, then a function_call item per call. */
static int
c2q_assistant(struct req *r, json_t *m, const char *path)
{
	json_t *calls = json_object_get(m, "tool_calls");
	char p[XT_PATHLEN];
	size_t i;

	xt_at(p, "%s.tool_calls", path);
	if (calls != NULL && !json_is_null(calls) && !json_is_array(calls))
		return xt_bad(r->x.e, p, "'%s' must be an array", p);
	if (c2q_assistant_text(r, m, path, json_array_size(calls) > 0) < 0)
		return -1;
	for (i = 0; i < json_array_size(calls); i++) {
		xt_at(p, "%s.tool_calls[%zu]", path, i);
		if (c2q_tool_call(r, json_array_get(calls, i), p) < 0)
			return -1;
	}
	return 0;
}

static int
c2q_tool(struct req *r, json_t *m, const char *path)
{
	struct buf text = { 0 };
	const char *id;
	char p[XT_PATHLEN];
	int rc;

	if (need_text(r, m, "tool_call_id", path, &id) < 0)
		return -1;
	xt_at(p, "%s.content", path);
	if (c2q_text(r, json_object_get(m, "content"), p, &text) < 0) {
		buf_release(&text);
		return -1;
	}
	rc = push(r, r->list, json_pack("{s:s,s:O,s:o}", "type", "function_call_output",
	    "call_id", json_object_get(m, "tool_call_id"), "output", xt_buf_string(&text)));
	buf_release(&text);
	return rc;
}

static int
c2q_message(struct req *r, json_t *m, size_t i)
{
	char p[XT_PATHLEN], pr[XT_PATHLEN];
	const char *role;

	xt_at(p, "messages[%zu]", i);
	xt_at(pr, "messages[%zu].role", i);
	if (!json_is_object(m))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if ((role = xt_str(m, "role")) == NULL)
		return xt_bad(r->x.e, pr, "'%s' must be a string", pr);
	if (json_object_get(m, "name") != NULL && !json_is_null(json_object_get(m, "name"))) {
		xt_at(pr, "messages[%zu].name", i);
		if (xt_no_equivalent(&r->x, pr, NULL) < 0)
			return -1;
	}
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return c2q_system(r, m, p);
	r->later = 1;
	/*
	 * An assistant's reasoning_content (the hub's thinking) is dropped:
	 * Responses takes reasoning back only as the provider's own items.
	 */
	if (strcmp(role, "user") == 0)
		return c2q_user(r, m, p);
	if (strcmp(role, "assistant") == 0)
		return c2q_assistant(r, m, p);
	if (strcmp(role, "tool") == 0)
		return c2q_tool(r, m, p);
	return xt_bad(r->x.e, pr, "'%s' must be system, developer, user, assistant or tool", pr);
}

static int
c2q_messages(struct req *r, json_t *msgs)
{
	size_t i;

	if (!json_is_array(msgs))
		return xt_bad(r->x.e, "messages", "'messages' must be an array of messages");
	for (i = 0; i < json_array_size(msgs); i++)
		if (c2q_message(r, json_array_get(msgs, i), i) < 0)
			return -1;
	if (r->instr.len > 0 && xt_put(r->x.out, "instructions", xt_buf_string(&r->instr)) < 0)
		return xt_oom(r->x.e);
	return 0;
}

static int
c2q_tool_def(struct xt_req *x, json_t *t, json_t *tools, size_t i)
{
	struct req *r = (struct req *)x;
	char p[XT_PATHLEN], pf[XT_PATHLEN];
	json_t *fn = json_object_get(t, "function"), *flat;
	const char *name;

	xt_at(p, "tools[%zu]", i);
	xt_at(pf, "tools[%zu].function", i);
	if (!json_is_object(t))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if (!xt_str_is(t, "type", "function")) {
		xt_at(p, "tools[%zu].type", i);
		return json_is_string(json_object_get(t, "type")) ?
		    xt_no_equivalent(&r->x, p, xt_str(t, "type")) : xt_bad(r->x.e, p, "'%s' must be a string", p);
	}
	if (!json_is_object(fn))
		return xt_bad(r->x.e, pf, "'%s' must be an object", pf);
	if (need_text(r, fn, "name", pf, &name) < 0)
		return -1;
	if ((flat = json_pack("{s:s,s:O}", "type", "function", "name",
	    json_object_get(fn, "name"))) == NULL)
		return xt_oom(r->x.e);
	if (copy_opt(r, fn, flat, "description", is_string, pf, "a string") < 0 ||
	    copy_opt(r, fn, flat, "parameters", is_object, pf, "an object") < 0 ||
	    copy_opt(r, fn, flat, "strict", is_boolean, pf, "a boolean") < 0) {
		json_decref(flat);
		return -1;
	}
	return push(r, tools, flat);
}

static int
c2q_tools(struct xt_req *x, const char *key, json_t *v)
{
	return xt_map_tools(x, key, v, c2q_tool_def);
}

static int
c2q_tool_choice(struct xt_req *x, const char *key, json_t *v)
{
	const char *s = json_string_value(v);
	json_t *name = json_object_get(json_object_get(v, "function"), "name");

	if (s != NULL) {
		if (strcmp(s, "auto") && strcmp(s, "required") && strcmp(s, "none"))
			return xt_bad(x->e, key, "'%s' must be auto, required, none or an object", key);
		return xt_put(x->out, key, json_copy(v)) < 0 ? xt_oom(x->e) : 0;
	}
	if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")))
		return xt_bad(x->e, key, "'%s' must be a string or an object with a type", key);
	if (!xt_str_is(v, "type", "function"))
		return xt_no_equivalent(x, "tool_choice.type", xt_str(v, "type"));
	if (!json_is_string(name))
		return xt_bad(x->e, "tool_choice.function.name",
		    "'tool_choice.function.name' must be a string");
	return xt_put(x->out, key, json_pack("{s:s,s:O}", "type", "function", "name", name)) < 0 ?
	    xt_oom(x->e) : 0;
}

/* Both limits mean max_output_tokens; max_completion_tokens, the newer, wins. */
static int
c2q_max_tokens(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return xt_bad(x->e, key, "'%s' must be a non-negative integer", key);
	if (strcmp(key, "max_tokens") == 0 && json_object_get(x->out, "max_output_tokens") != NULL)
		return 0;
	return xt_put(x->out, "max_output_tokens", json_copy(v)) < 0 ? xt_oom(x->e) : 0;
}

static int
c2q_reasoning(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_string(v))
		return xt_bad(x->e, key, "'%s' must be a string", key);
	return xt_put(x->out, "reasoning", json_pack("{s:O}", "effort", v)) < 0 ? xt_oom(x->e) : 0;
}

/* The "text" object of out, made when absent; NULL on ENOMEM. */
static json_t *
c2q_text_obj(struct req *r)
{
	json_t *t = json_object_get(r->x.out, "text");

	if (t == NULL && xt_put(r->x.out, "text", t = json_object()) < 0)
		return NULL;
	return t;
}

static int
c2q_response_format(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	json_t *js = json_object_get(v, "json_schema"), *f, *t;
	const char *name;

	if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")))
		return xt_bad(x->e, "response_format.type", "'response_format.type' must be a string");
	if (xt_str_is(v, "type", "text") || xt_str_is(v, "type", "json_object"))
		f = json_pack("{s:O}", "type", json_object_get(v, "type"));
	else if (!xt_str_is(v, "type", "json_schema"))
		return xt_bad(x->e, "response_format.type",
		    "'response_format.type' must be text, json_object or json_schema");
	else if (!json_is_object(js))
		return xt_bad(x->e, "response_format.json_schema",
		    "'response_format.json_schema' must be an object");
	else if (need_text(r, js, "name", "response_format.json_schema", &name) < 0)
		return -1;
	else if ((f = json_pack("{s:s,s:O}", "type", "json_schema", "name",
	    json_object_get(js, "name"))) != NULL &&
	    (copy_opt(r, js, f, "schema", is_object, "response_format.json_schema", "an object") < 0 ||
	    copy_opt(r, js, f, "strict", is_boolean, "response_format.json_schema", "a boolean") < 0 ||
	    copy_opt(r, js, f, "description", is_string, "response_format.json_schema",
	    "a string") < 0)) {
		json_decref(f);
		return -1;
	}
	(void)key;
	if (f == NULL || (t = c2q_text_obj(r)) == NULL || xt_put(t, "format", f) < 0)
		return xt_oom(x->e);
	return 0;
}

static int
c2q_verbosity(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	json_t *t;

	if (!json_is_string(v))
		return xt_bad(x->e, key, "'%s' must be a string", key);
	if ((t = c2q_text_obj(r)) == NULL || xt_put(t, "verbosity", json_copy(v)) < 0)
		return xt_oom(x->e);
	return 0;
}

/* n, logprobs: only their default values have an equivalent. */
static int
c2q_default_only(struct xt_req *x, const char *key, json_t *v)
{
	if ((strcmp(key, "n") == 0 && json_is_integer(v) && json_integer_value(v) == 1) ||
	    (strcmp(key, "logprobs") == 0 && json_is_false(v)))
		return 0;
	return xt_no_equivalent(x, key, NULL);
}

static const struct xt_field c2q_fields[] = {
	{ "logprobs", c2q_default_only },
	{ "max_completion_tokens", c2q_max_tokens },
	{ "max_tokens", c2q_max_tokens },
	{ "messages", NULL },		/* read first */
	{ "metadata", xt_pass_object },
	{ "model", NULL },		/* o->model instead */
	{ "n", c2q_default_only },
	{ "parallel_tool_calls", xt_pass_bool },
	{ "prompt_cache_key", xt_pass_string },
	{ "reasoning_effort", c2q_reasoning },
	{ "response_format", c2q_response_format },
	{ "safety_identifier", xt_pass_string },
	{ "service_tier", xt_pass_string },
	{ "store", NULL },		/* always false: tollgate keeps nothing */
	{ "stream", xt_pass_bool },
	{ "stream_options", NULL },	/* Responses streams always end with their usage */
	{ "temperature", xt_pass_number },
	{ "tool_choice", c2q_tool_choice },
	{ "tools", c2q_tools },
	{ "top_p", xt_pass_number },
	{ "user", xt_pass_string },
	{ "verbosity", c2q_verbosity },
	{ NULL, NULL },
};

static json_t *
responses_request_from_chat(json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	struct req r = { .x = { .o = o, .e = e, .side = to_responses_side } };

	if (!json_is_object(chat))
		return xlate_fail(e, 400, NULL, "the request body must be a JSON object");
	if ((r.x.out = json_object()) == NULL || xt_put(r.x.out, "input", r.list = json_array()) < 0 ||
	    (o->model != NULL && xt_put(r.x.out, "model", json_string(o->model)) < 0) ||
	    xt_put(r.x.out, "store", json_false()) < 0) {
		xt_oom(e);
		goto fail;
	}
	if (c2q_messages(&r, json_object_get(chat, "messages")) < 0 ||
	    xt_fields(&r.x, chat, c2q_fields) < 0)
		goto fail;
	lone_tool_fields(r.x.out);
	buf_release(&r.instr);
	return r.x.out;
fail:
	buf_release(&r.instr);
	json_decref(r.x.out);
	return NULL;
}

/* ---- usage, both conventions -------------------------------------------------- */

/* Responses usage -> the hub's (prompt_tokens counts the cached ones in both). */
static json_t *
usage_to_chat(json_t *u)
{
	json_int_t in = xt_tok(u, "input_tokens"), out = xt_tok(u, "output_tokens");
	json_int_t total = json_is_integer(json_object_get(u, "total_tokens")) ?
	    xt_tok(u, "total_tokens") : in + out;

	return json_pack("{s:I,s:I,s:I,s:{s:I},s:{s:I}}", "prompt_tokens", in,
	    "completion_tokens", out, "total_tokens", total,
	    "prompt_tokens_details", "cached_tokens",
	    xt_tok(json_object_get(u, "input_tokens_details"), "cached_tokens"),
	    "completion_tokens_details", "reasoning_tokens",
	    xt_tok(json_object_get(u, "output_tokens_details"), "reasoning_tokens"));
}

/* The hub's usage -> Responses'. */
static json_t *
usage_from_chat(json_t *u)
{
	json_int_t in = xt_tok(u, "prompt_tokens"), out = xt_tok(u, "completion_tokens");
	json_int_t total = json_is_integer(json_object_get(u, "total_tokens")) ?
	    xt_tok(u, "total_tokens") : in + out;

	return json_pack("{s:I,s:{s:I},s:I,s:{s:I},s:I}", "input_tokens", in,
	    "input_tokens_details", "cached_tokens",
	    xt_tok(json_object_get(u, "prompt_tokens_details"), "cached_tokens"),
	    "output_tokens", out, "output_tokens_details", "reasoning_tokens",
	    xt_tok(json_object_get(u, "completion_tokens_details"), "reasoning_tokens"),
	    "total_tokens", total);
}

/* chat's finish_reason for a Responses status; calls: whether it called functions. */
static const char *
finish_of(json_t *resp, int calls)
{
	const char *why = xt_str(json_object_get(resp, "incomplete_details"), "reason");

	if (calls)
		return "tool_calls";
	if (xt_str_is(resp, "status", "incomplete") && why != NULL) {
		if (strcmp(why, "max_output_tokens") == 0)
			return "length";
		if (strcmp(why, "content_filter") == 0)
			return "content_filter";
	}
	return "stop";
}

/* ---- a Responses answer -> chat ----------------------------------------------- */

/* What the output items say, gathered. */
struct gathered {
	struct buf	text, refusal, reasoning;
	json_t		*calls;
};

static int
a2c_message(struct gathered *g, json_t *item)
{
	json_t *part;
	size_t i;

	json_array_foreach(json_object_get(item, "content"), i, part) {
		if (xt_str_is(part, "type", "output_text") &&
		    json_is_string(json_object_get(part, "text")) &&
		    xt_join(&g->text, json_object_get(part, "text"), "") < 0)
			return -1;
		if (xt_str_is(part, "type", "refusal") &&
		    json_is_string(json_object_get(part, "refusal")) &&
		    xt_join(&g->refusal, json_object_get(part, "refusal"), "") < 0)
			return -1;
	}
	return 0;
}

/* A reasoning item's summary, else its full text when the provider shows it. */
static int
a2c_reasoning(struct gathered *g, json_t *item)
{
	json_t *part, *list = json_object_get(item, "summary");
	size_t i;

	if (json_array_size(list) == 0)
		list = json_object_get(item, "content");
	json_array_foreach(list, i, part)
		if (json_is_string(json_object_get(part, "text")) &&
		    xt_join(&g->reasoning, json_object_get(part, "text"), "\n\n") < 0)
			return -1;
	return 0;
}

static int
a2c_call(struct gathered *g, json_t *item)
{
	json_t *id = json_object_get(item, "call_id"), *args = json_object_get(item, "arguments");

	if (!json_is_string(id))
		id = json_object_get(item, "id");
	/* a call without an id or a name could not be answered: it is not the client's */
	if (!json_is_string(id) || !json_is_string(json_object_get(item, "name")))
		return 0;
	return json_array_append_new(g->calls, json_pack("{s:O,s:s,s:{s:O,s:o}}", "id", id,
	    "type", "function", "function", "name", json_object_get(item, "name"),
	    "arguments", json_is_string(args) ? json_incref(args) : json_string("")));
}

static int
a2c_gather(struct gathered *g, json_t *output)
{
	json_t *item;
	size_t i;
	int rc = 0;

	json_array_foreach(output, i, item) {
		if (xt_str_is(item, "type", "message"))
			rc = a2c_message(g, item);
		else if (xt_str_is(item, "type", "reasoning"))
			rc = a2c_reasoning(g, item);
		else if (xt_str_is(item, "type", "function_call"))
			rc = a2c_call(g, item);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static json_t *
a2c_message_of(struct gathered *g)
{
	json_t *m = json_pack("{s:s,s:o}", "role", "assistant", "content",
	    g->text.len ? xt_buf_string(&g->text) : json_null());

	if (m == NULL ||
	    (g->reasoning.len && xt_put(m, "reasoning_content", xt_buf_string(&g->reasoning)) < 0) ||
	    (g->refusal.len && xt_put(m, "refusal", xt_buf_string(&g->refusal)) < 0) ||
	    (json_array_size(g->calls) && json_object_set(m, "tool_calls", g->calls) < 0)) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* A Responses object's fields around its output as a chat completion's. */
static json_t *
a2c_completion(json_t *resp, json_t *msg, const char *finish)
{
	json_t *c, *created = json_object_get(resp, "created_at");

	c = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s,s:n}]}",
	    "id", xt_str(resp, "id") ? xt_str(resp, "id") : "",
	    "object", "chat.completion",
	    "created", json_is_integer(created) ? json_integer_value(created) : (json_int_t)time(NULL),
	    "model", xt_str(resp, "model") ? xt_str(resp, "model") : "",
	    "choices", "index", 0, "message", msg, "finish_reason", finish, "logprobs");
	if (c != NULL && json_is_object(json_object_get(resp, "usage")) &&
	    xt_put(c, "usage", usage_to_chat(json_object_get(resp, "usage"))) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *
responses_response_to_chat(json_t *resp, struct xlate_error *e)
{
	struct gathered g = { { 0 }, { 0 }, { 0 }, json_array() };
	json_t *output = json_object_get(resp, "output"), *msg, *c = NULL;
	const char *why;

	if (!json_is_object(resp) || !json_is_array(output)) {
		json_decref(g.calls);
		return xlate_fail(e, 502, NULL, "the provider's response has no output");
	}
	if (xt_str_is(resp, "status", "failed")) {
		json_decref(g.calls);
		why = xt_str(json_object_get(resp, "error"), "message");
		return xlate_fail(e, 502, NULL, "the provider's response failed: %s",
		    why ? why : "no reason given");
	}
	if (g.calls != NULL && a2c_gather(&g, output) == 0 && (msg = a2c_message_of(&g)) != NULL)
		c = a2c_completion(resp, msg, finish_of(resp, json_array_size(g.calls) > 0));
	if (c == NULL)
		xlate_fail(e, 500, NULL, "out of memory translating the answer");
	json_decref(g.calls);
	buf_release(&g.text);
	buf_release(&g.refusal);
	buf_release(&g.reasoning);
	return c;
}

/* ---- a chat answer -> Responses ----------------------------------------------- */

/* An id's own part: a chat id without "chatcmpl-", a call id without "call_". */
static const char *
id_suffix(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);

	if (id == NULL || id[0] == '\0')
		return "tollgate";
	return strncmp(id, prefix, n) == 0 && id[n] != '\0' ? id + n : id;
}

/* Output items in their final form (the json_t arguments taken); NULL on ENOMEM. */
static json_t *
item_message(json_t *id, json_t *text, const char *status)
{
	return json_pack("{s:s,s:o,s:s,s:s,s:[{s:s,s:o,s:[]}]}", "type", "message", "id", id,
	    "status", status, "role", "assistant", "content", "type", "output_text", "text", text,
	    "annotations");
}

static json_t *
item_reasoning(json_t *id, json_t *text)
{
	return json_pack("{s:s,s:o,s:[{s:s,s:o}]}", "type", "reasoning", "id", id, "summary",
	    "type", "summary_text", "text", text);
}

static json_t *
item_call(json_t *id, json_t *call_id, json_t *name, json_t *args, const char *status)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:s}", "type", "function_call", "id", id,
	    "call_id", call_id, "name", name, "arguments", args, "status", status);
}

/*
 * A whole response object, as the openai SDKs parse it (the fields their
 * Response type declares required are present, null where unknown).
 * output, usage and error are taken (usage, error: NULL for null).
 */
static json_t *
response_object(const char *id, json_int_t created, const char *model, const char *status,
    const char *reason, json_t *output, json_t *usage, json_t *error)
{
	return json_pack("{s:s,s:s,s:I,s:s,s:b,s:o,s:o,s:n,s:n,s:s,s:o,s:b,s:n,"
	    "s:{s:n,s:n},s:b,s:n,s:{s:{s:s}},s:s,s:[],s:n,s:s,s:o,s:n,s:{}}",
	    "id", id, "object", "response", "created_at", created, "status", status,
	    "background", 0, "error", error ? error : json_null(),
	    "incomplete_details", reason ? json_pack("{s:s}", "reason", reason) : json_null(),
	    "instructions", "max_output_tokens", "model", model ? model : "",
	    "output", output, "parallel_tool_calls", 1, "previous_response_id",
	    "reasoning", "effort", "summary", "store", 0, "temperature",
	    "text", "format", "type", "text", "tool_choice", "auto", "tools", "top_p",
	    "truncation", "disabled", "usage", usage ? usage : json_null(), "user", "metadata");
}

/* Status and incomplete reason of a chat finish_reason. */
static const char *
status_of(const char *finish, const char **reason)
{
	*reason = NULL;
	if (finish != NULL && strcmp(finish, "length") == 0)
		*reason = "max_output_tokens";
	else if (finish != NULL && strcmp(finish, "content_filter") == 0)
		*reason = "content_filter";
	return *reason ? "incomplete" : "completed";
}

static int
c2a_calls(json_t *output, json_t *calls)
{
	json_t *c, *fn, *id, *args;
	size_t i;

	json_array_foreach(calls, i, c) {
		fn = json_object_get(c, "function");
		id = json_object_get(c, "id");
		args = json_object_get(fn, "arguments");
		if (!json_is_string(id) || !json_is_string(json_object_get(fn, "name")))
			continue;	/* nothing a client could answer */
		if (json_array_append_new(output, item_call(json_sprintf("fc_%s",
		    id_suffix(json_string_value(id), "call_")), json_incref(id),
		    json_incref(json_object_get(fn, "name")),
		    json_is_string(args) ? json_incref(args) : json_string(""), "completed")) < 0)
			return -1;
	}
	return 0;
}

/* The message's text: a string, or text parts joined. */
static int
c2a_text(json_t *content, struct buf *b)
{
	json_t *part;
	size_t i;

	if (json_is_string(content))
		return xt_join(b, content, "");
	json_array_foreach(content, i, part)
		if (json_is_string(json_object_get(part, "text")) &&
		    xt_join(b, json_object_get(part, "text"), "") < 0)
			return -1;
	return 0;
}

static json_t *
c2a_output(json_t *msg, const char *sfx, const char *status)
{
	json_t *out = json_array(), *rc = json_object_get(msg, "reasoning_content");
	struct buf text = { 0 };

	if (out == NULL || c2a_text(json_object_get(msg, "content"), &text) < 0)
		goto fail;
	if (json_is_string(rc) && json_string_length(rc) > 0 &&
	    json_array_append_new(out, item_reasoning(json_sprintf("rs_%s", sfx),
	    json_incref(rc))) < 0)
		goto fail;
	if (text.len > 0 && json_array_append_new(out, item_message(json_sprintf("msg_%s", sfx),
	    xt_buf_string(&text), status)) < 0)
		goto fail;
	if (c2a_calls(out, json_object_get(msg, "tool_calls")) < 0)
		goto fail;
	buf_release(&text);
	return out;
fail:
	buf_release(&text);
	json_decref(out);
	return NULL;
}

static json_t *
responses_response_from_chat(json_t *chat, const char *model, struct xlate_error *e)
{
	json_t *choice = json_array_get(json_object_get(chat, "choices"), 0), *out, *r, *id;
	json_t *msg = json_object_get(choice, "message"), *created = json_object_get(chat, "created");
	const char *sfx = id_suffix(xt_str(chat, "id"), "chatcmpl-"), *status, *reason;

	if (!json_is_object(msg))
		return xlate_fail(e, 502, NULL, "the provider's answer has no message");
	status = status_of(xt_str(choice, "finish_reason"), &reason);
	if ((out = c2a_output(msg, sfx, status)) == NULL || (id = json_sprintf("resp_%s", sfx)) == NULL) {
		json_decref(out);
		return xlate_fail(e, 500, NULL, "out of memory translating the answer");
	}
	r = response_object(json_string_value(id),
	    json_is_integer(created) ? json_integer_value(created) : (json_int_t)time(NULL),
	    xt_str(chat, "model") ? xt_str(chat, "model") : model, status, reason, out,
	    json_is_object(json_object_get(chat, "usage")) ?
	    usage_from_chat(json_object_get(chat, "usage")) : NULL, NULL);
	json_decref(id);
	if (r != NULL && json_is_string(json_object_get(chat, "service_tier")))
		json_object_set(r, "service_tier", json_object_get(chat, "service_tier"));
	return r ? r : xlate_fail(e, 500, NULL, "out of memory translating the answer");
}

/* ---- a Responses stream -> chat chunks ---------------------------------------- */

/* A function call of the stream: its output item, and its chat tool call index. */
struct dcall {
	json_t		*item_id;	/* or NULL */
	json_int_t	 output_index;	/* or -1 */
	int		 args;		/* its arguments came as deltas */
};

struct decoder {
	json_t		*id, *model;
	json_int_t	 created;
	int		 started;
	struct dcall	*calls;		/* [k]: the call of tool call index k */
	size_t		 ncalls, capcalls;
};

static void *
responses_decoder_new(void)
{
	struct decoder *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->created = (json_int_t)time(NULL);
	/* until response.created names them */
	if ((s->id = json_string("")) == NULL || (s->model = json_string("")) == NULL) {
		json_decref(s->id);
		free(s);
		return NULL;
	}
	return s;
}

/* A chunk of delta (taken) and finish (or NULL); 0 or -1. */
static int
dec_emit(struct decoder *s, json_t *delta, const char *finish, xlate_chunk_fn emit, void *arg)
{
	return xt_emit_chunk(s->id, s->model, (json_int_t)s->created, delta, finish, emit, arg);
}

/* The role chunk, once, before anything else; 0 or -1. */
static int
dec_start(struct decoder *s, json_t *resp, xlate_chunk_fn emit, void *arg)
{
	json_t *created = json_object_get(resp, "created_at");

	if (s->started)
		return 0;
	s->started = 1;
	xt_keep_string(&s->id, json_object_get(resp, "id"));
	xt_keep_string(&s->model, json_object_get(resp, "model"));
	if (json_is_integer(created))
		s->created = json_integer_value(created);
	return dec_emit(s, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL,
	    emit, arg);
}

/* A delta {key: the event's "delta" string}; events without one carry nothing. */
static int
dec_text(struct decoder *s, json_t *ev, const char *key, xlate_chunk_fn emit, void *arg)
{
	json_t *d = json_object_get(ev, "delta");

	if (!json_is_string(d) || json_string_length(d) == 0)
		return 0;
	if (dec_start(s, NULL, emit, arg) < 0)
		return -1;
	return dec_emit(s, json_pack("{s:O}", key, d), NULL, emit, arg);
}

/* A summary's parts after the first are set apart, as response_to_chat joins them. */
static int
dec_summary_part(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *idx = json_object_get(ev, "summary_index");

	if (!json_is_integer(idx) || json_integer_value(idx) <= 0)
		return 0;
	if (dec_start(s, NULL, emit, arg) < 0)
		return -1;
	return dec_emit(s, json_pack("{s:s}", "reasoning_content", "\n\n"), NULL, emit, arg);
}

/* The tool call index of the event's item (by item_id, else output_index), or -1. */
static json_int_t
dec_find(struct decoder *s, json_t *ev)
{
	json_t *id = json_object_get(ev, "item_id"), *oi = json_object_get(ev, "output_index");
	size_t k;

	for (k = 0; k < s->ncalls; k++) {
		if (json_is_string(id) && s->calls[k].item_id != NULL) {
			if (json_equal(s->calls[k].item_id, id))
				return (json_int_t)k;
		} else if (json_is_integer(oi) && s->calls[k].output_index >= 0 &&
		    s->calls[k].output_index == json_integer_value(oi))
			return (json_int_t)k;
	}
	return -1;
}

/*
 * A tool call's piece: {index, id, type, function: {name, arguments}} for
 * its start (item given), {index, function: {arguments}} after.
 */
static int
dec_call_delta(struct decoder *s, json_int_t k, json_t *item, json_t *args, xlate_chunk_fn emit,
    void *arg)
{
	json_t *tc;

	if (item != NULL)
		tc = json_pack("{s:I,s:O,s:s,s:{s:O,s:O}}", "index", k, "id",
		    json_object_get(item, "call_id"), "type", "function", "function", "name",
		    json_object_get(item, "name"), "arguments", args);
	else
		tc = json_pack("{s:I,s:{s:O}}", "index", k, "function", "arguments", args);
	return dec_emit(s, json_pack("{s:[o]}", "tool_calls", tc), NULL, emit, arg);
}

/* A function call's output item begins: the next tool call index. */
static int
dec_call_added(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *item = json_object_get(ev, "item"), *oi = json_object_get(ev, "output_index");
	json_t *args = json_object_get(item, "arguments"), *empty;
	struct dcall *c;
	int rc;

	if (!json_is_string(json_object_get(item, "call_id")) ||
	    !json_is_string(json_object_get(item, "name")))
		return 0;	/* no call a client could answer */
	if (dec_start(s, NULL, emit, arg) < 0 || ARRAY_GROW(s->calls, s->ncalls, s->capcalls) < 0)
		return -1;
	c = &s->calls[s->ncalls++];
	c->item_id = json_is_string(json_object_get(item, "id")) ?
	    json_incref(json_object_get(item, "id")) : NULL;
	c->output_index = json_is_integer(oi) ? json_integer_value(oi) : -1;
	/* some providers put the whole arguments in the item at once */
	c->args = json_is_string(args) && json_string_length(args) > 0;
	if ((empty = json_string("")) == NULL)
		return -1;
	rc = dec_call_delta(s, (json_int_t)s->ncalls - 1, item, c->args ? args : empty, emit, arg);
	json_decref(empty);
	return rc;
}

static int
dec_item_added(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	if (xt_str_is(json_object_get(ev, "item"), "type", "function_call"))
		return dec_call_added(s, ev, emit, arg);
	return 0;
}

static int
dec_args_delta(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_int_t k = dec_find(s, ev);
	json_t *d = json_object_get(ev, "delta");

	if (k < 0 || !json_is_string(d) || json_string_length(d) == 0)
		return 0;
	s->calls[k].args = 1;
	return dec_call_delta(s, k, NULL, d, emit, arg);
}

/* The arguments whole, when no delta brought them (some providers send only .done). */
static int
dec_args_done(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_int_t k = dec_find(s, ev);
	json_t *a = json_object_get(ev, "arguments");

	if (k < 0 || s->calls[k].args || !json_is_string(a) || json_string_length(a) == 0)
		return 0;
	s->calls[k].args = 1;
	return dec_call_delta(s, k, NULL, a, emit, arg);
}

/* response.completed / .incomplete: the finish chunk, then the usage chunk. */
static int
dec_end(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *resp = json_object_get(ev, "response"), *u, *c;
	int rc;

	if (dec_start(s, resp, emit, arg) < 0 ||
	    dec_emit(s, json_object(), finish_of(resp, s->ncalls > 0), emit, arg) < 0)
		return -1;
	/* no usage from the provider reads as none: nothing is invented */
	u = usage_to_chat(json_is_object(json_object_get(resp, "usage")) ?
	    json_object_get(resp, "usage") : NULL);
	c = json_pack("{s:O,s:s,s:I,s:O,s:[],s:o}", "id", s->id, "object",
	    "chat.completion.chunk", "created", s->created, "model", s->model, "choices",
	    "usage", u);
	if (c == NULL)
		return -1;
	rc = emit(arg, c);
	json_decref(c);
	return rc < 0 ? -1 : 1;
}

/* An "error" event ({code, message}) or response.failed (response.error): an error chunk, the end. */
static int
dec_error(json_t *err, xlate_chunk_fn emit, void *arg)
{
	const char *msg = xt_str(err, "message"), *type = xt_str(err, "type");
	json_t *c;
	int rc;

	if (type == NULL || strcmp(type, "error") == 0)
		type = xt_str(err, "code");
	c = json_pack("{s:{s:s,s:s}}", "error", "message",
	    msg ? msg : "the provider's stream failed", "type", type ? type : "api_error");
	if (c == NULL)
		return -1;
	rc = emit(arg, c);
	json_decref(c);
	return rc < 0 ? -1 : 1;
}

static int
dec_dispatch(struct decoder *s, const char *t, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *err = json_object_get(ev, "error");

	if (strcmp(t, "response.created") == 0)
		return dec_start(s, json_object_get(ev, "response"), emit, arg);
	if (strcmp(t, "response.output_text.delta") == 0)
		return dec_text(s, ev, "content", emit, arg);
	if (strcmp(t, "response.refusal.delta") == 0)
		return dec_text(s, ev, "refusal", emit, arg);
	if (strcmp(t, "response.reasoning_summary_text.delta") == 0 ||
	    strcmp(t, "response.reasoning_text.delta") == 0)
		return dec_text(s, ev, "reasoning_content", emit, arg);
	if (strcmp(t, "response.reasoning_summary_part.added") == 0)
		return dec_summary_part(s, ev, emit, arg);
	if (strcmp(t, "response.output_item.added") == 0)
		return dec_item_added(s, ev, emit, arg);
	if (strcmp(t, "response.function_call_arguments.delta") == 0)
		return dec_args_delta(s, ev, emit, arg);
	if (strcmp(t, "response.function_call_arguments.done") == 0)
		return dec_args_done(s, ev, emit, arg);
	if (strcmp(t, "response.completed") == 0 || strcmp(t, "response.incomplete") == 0)
		return dec_end(s, ev, emit, arg);
	if (strcmp(t, "response.failed") == 0)
		return dec_error(json_object_get(json_object_get(ev, "response"), "error"), emit, arg);
	if (strcmp(t, "error") == 0)
		return dec_error(json_is_object(err) ? err : ev, emit, arg);
	return 0;
}

static int
responses_decoder_event(void *st, const char *name, const char *data, size_t len,
    xlate_chunk_fn emit, void *arg)
{
	struct decoder *s = st;
	const char *t;
	json_t *ev;
	int rc;

	if (len == 0)
		return 0;
	if ((ev = json_loadb(data, len, 0, NULL)) == NULL || !json_is_object(ev)) {
		json_decref(ev);
		return -1;
	}
	/* the data's type is the event's name, also when the SSE event line was left out */
	if ((t = xt_str(ev, "type")) == NULL)
		t = name ? name : "";
	rc = dec_dispatch(s, t, ev, emit, arg);
	json_decref(ev);
	return rc < 0 ? -1 : rc;
}

static void
responses_decoder_free(void *st)
{
	struct decoder *s = st;
	size_t k;

	if (s == NULL)
		return;
	for (k = 0; k < s->ncalls; k++)
		json_decref(s->calls[k].item_id);
	free(s->calls);
	json_decref(s->id);
	json_decref(s->model);
	free(s);
}

/* ---- chat chunks -> a Responses stream ---------------------------------------- */

enum kind { ITEM_MESSAGE, ITEM_REASONING, ITEM_CALL };

/* One output item of the response being streamed, in output order. */
struct item {
	enum kind	 kind;
	json_t		*id;
	json_t		*call_id, *name;	/* ITEM_CALL */
	json_int_t	 index;			/* ITEM_CALL: its chat tool call index */
	struct buf	 text;			/* text, summary or arguments so far */
	int		 done;
};

struct encoder {
	json_t		*model, *id;
	char		*sfx;		/* the ids' common part */
	json_int_t	 created, seq;
	int		 started;
	struct item	*items;		/* only the last one can be open */
	size_t		 n, cap;
	json_t		*usage;		/* the hub's, from the usage chunk */
	char		 finish[32];
	json_t		*error;		/* {code, message} of an error chunk */
};

static void *
responses_encoder_new(const char *model, int include_usage)
{
	struct encoder *s = calloc(1, sizeof(*s));

	(void)include_usage;	/* a Responses stream always ends with its usage */
	if (s == NULL)
		return NULL;
	s->created = (json_int_t)time(NULL);
	if ((s->model = json_string(model ? model : "")) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/* Appends an event (ev taken; its "type" names it) with the next sequence number; 0 or -1. */
static int
enc_event(struct encoder *s, struct buf *b, json_t *ev)
{
	int rc = -1;

	if (ev != NULL && xt_put(ev, "sequence_number", json_integer(s->seq++)) == 0)
		rc = xt_sse(b, xt_str(ev, "type"), ev);
	json_decref(ev);
	return rc;
}

static void
item_free(struct item *it)
{
	json_decref(it->id);
	json_decref(it->call_id);
	json_decref(it->name);
	buf_release(&it->text);
}

/* The item in its final form, status given. */
static json_t *
enc_item_json(const struct item *it, const char *status)
{
	switch (it->kind) {
	case ITEM_MESSAGE:
		return item_message(json_incref(it->id), xt_buf_string(&it->text), status);
	case ITEM_REASONING:
		return item_reasoning(json_incref(it->id), xt_buf_string(&it->text));
	default:
		return item_call(json_incref(it->id), json_incref(it->call_id),
		    json_incref(it->name), xt_buf_string(&it->text), status);
	}
}

/* The response object with the output so far (every item when final). */
static json_t *
enc_response(struct encoder *s, const char *status, const char *reason, int final)
{
	json_t *out = json_array(), *err = NULL;
	size_t i;

	for (i = 0; final && out != NULL && i < s->n; i++)
		if (json_array_append_new(out, enc_item_json(&s->items[i],
		    reason ? "incomplete" : "completed")) < 0) {
			json_decref(out);
			return NULL;
		}
	if (final && s->error != NULL)
		err = json_incref(s->error);
	return response_object(json_string_value(s->id), s->created, json_string_value(s->model),
	    status, reason, out, final && s->usage ? usage_from_chat(s->usage) : NULL, err);
}

/* response.created and response.in_progress, before the first output; 0 or -1. */
static int
enc_start(struct encoder *s, json_t *chunk, struct buf *b)
{
	json_t *created = json_object_get(chunk, "created");

	if (s->started)
		return 0;
	s->started = 1;
	xt_keep_string(&s->model, json_object_get(chunk, "model"));
	if (json_is_integer(created))
		s->created = json_integer_value(created);
	if ((s->sfx = strdup(id_suffix(xt_str(chunk, "id"), "chatcmpl-"))) == NULL ||
	    (s->id = json_sprintf("resp_%s", s->sfx)) == NULL)
		return -1;
	if (enc_event(s, b, json_pack("{s:s,s:o}", "type", "response.created", "response",
	    enc_response(s, "in_progress", NULL, 0))) < 0)
		return -1;
	return enc_event(s, b, json_pack("{s:s,s:o}", "type", "response.in_progress", "response",
	    enc_response(s, "in_progress", NULL, 0)));
}

/* The open item, or NULL. */
static struct item *
enc_open_item(struct encoder *s)
{
	return s->n > 0 && !s->items[s->n - 1].done ? &s->items[s->n - 1] : NULL;
}

/* An event about item it at output index oi: {type, item_id, output_index, ...more}. */
static json_t *
enc_about(const char *type, const struct item *it, size_t oi)
{
	return json_pack("{s:s,s:O,s:I}", "type", type, "item_id", it->id, "output_index",
	    (json_int_t)oi);
}

/* Adds key: v (taken) to ev; ev NULL on failure. */
static json_t *
with(json_t *ev, const char *key, json_t *v)
{
	if (ev != NULL && xt_put(ev, key, v) < 0) {
		json_decref(ev);
		return NULL;
	}
	if (ev == NULL)
		json_decref(v);
	return ev;
}

/* The .done events of the open item's text part; 0 or -1. */
static int
enc_close_part(struct encoder *s, struct item *it, size_t oi, struct buf *b)
{
	json_t *ev;

	if (it->kind == ITEM_MESSAGE) {
		ev = with(with(enc_about("response.output_text.done", it, oi), "content_index",
		    json_integer(0)), "text", xt_buf_string(&it->text));
		if (enc_event(s, b, with(ev, "logprobs", json_array())) < 0)
			return -1;
		ev = with(enc_about("response.content_part.done", it, oi), "content_index",
		    json_integer(0));
		return enc_event(s, b, with(ev, "part", json_pack("{s:s,s:o,s:[]}", "type",
		    "output_text", "text", xt_buf_string(&it->text), "annotations")));
	}
	if (it->kind == ITEM_REASONING) {
		ev = with(with(enc_about("response.reasoning_summary_text.done", it, oi),
		    "summary_index", json_integer(0)), "text", xt_buf_string(&it->text));
		if (enc_event(s, b, ev) < 0)
			return -1;
		ev = with(enc_about("response.reasoning_summary_part.done", it, oi),
		    "summary_index", json_integer(0));
		return enc_event(s, b, with(ev, "part", json_pack("{s:s,s:o}", "type",
		    "summary_text", "text", xt_buf_string(&it->text))));
	}
	ev = with(with(enc_about("response.function_call_arguments.done", it, oi), "name",
	    json_incref(it->name)), "arguments", xt_buf_string(&it->text));
	return enc_event(s, b, ev);
}

/* Closes the open item, if any: its .done events with the whole text; 0 or -1. */
static int
enc_close(struct encoder *s, struct buf *b)
{
	struct item *it = enc_open_item(s);
	size_t oi = s->n - 1;
	const char *reason;

	if (it == NULL)
		return 0;
	it->done = 1;
	/* an item still open at the end ends with the response, cut short or not */
	status_of(s->finish, &reason);
	if (enc_close_part(s, it, oi, b) < 0)
		return -1;
	return enc_event(s, b, json_pack("{s:s,s:I,s:o}", "type", "response.output_item.done",
	    "output_index", (json_int_t)oi, "item", enc_item_json(it,
	    reason ? "incomplete" : "completed")));
}

/* The item as response.output_item.added shows it: empty, in progress. */
static json_t *
enc_item_added(const struct item *it)
{
	switch (it->kind) {
	case ITEM_MESSAGE:
		return json_pack("{s:s,s:O,s:s,s:s,s:[]}", "type", "message", "id", it->id,
		    "status", "in_progress", "role", "assistant", "content");
	case ITEM_REASONING:
		return json_pack("{s:s,s:O,s:[]}", "type", "reasoning", "id", it->id, "summary");
	default:
		return json_pack("{s:s,s:O,s:O,s:O,s:s,s:s}", "type", "function_call", "id",
		    it->id, "call_id", it->call_id, "name", it->name, "arguments", "",
		    "status", "in_progress");
	}
}

/* Opens a new item of kind (closing the open one): its .added events; the item, or NULL. */
static struct item *
enc_open(struct encoder *s, enum kind kind, json_t *call_id, json_t *name, json_int_t index,
    struct buf *b)
{
	static const char *const prefix[] = { "msg", "rs", "fc" };
	struct item *it;
	size_t oi;
	json_t *ev;

	if (enc_close(s, b) < 0 || ARRAY_GROW(s->items, s->n, s->cap) < 0)
		return NULL;
	oi = s->n++;
	it = &s->items[oi];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->index = index;
	it->call_id = json_incref(call_id);
	it->name = json_incref(name);
	if ((it->id = json_sprintf("%s_%s_%zu", prefix[kind], s->sfx, oi)) == NULL ||
	    enc_event(s, b, json_pack("{s:s,s:I,s:o}", "type", "response.output_item.added",
	    "output_index", (json_int_t)oi, "item", enc_item_added(it))) < 0)
		return NULL;
	if (kind == ITEM_MESSAGE) {
		ev = with(enc_about("response.content_part.added", it, oi), "content_index",
		    json_integer(0));
		ev = with(ev, "part", json_pack("{s:s,s:s,s:[]}", "type", "output_text", "text", "",
		    "annotations"));
	} else if (kind == ITEM_REASONING) {
		ev = with(enc_about("response.reasoning_summary_part.added", it, oi),
		    "summary_index", json_integer(0));
		ev = with(ev, "part", json_pack("{s:s,s:s}", "type", "summary_text", "text", ""));
	} else
		return it;
	return enc_event(s, b, ev) < 0 ? NULL : it;
}

/* Text or reasoning: into the open item of that kind, opened when another is. */
static int
enc_text(struct encoder *s, enum kind kind, json_t *v, struct buf *b)
{
	struct item *it = enc_open_item(s);
	json_t *ev;

	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	if ((it == NULL || it->kind != kind) &&
	    (it = enc_open(s, kind, NULL, NULL, -1, b)) == NULL)
		return -1;
	if (xt_join(&it->text, v, "") < 0)
		return -1;
	if (kind == ITEM_MESSAGE)
		ev = with(with(with(enc_about("response.output_text.delta", it, s->n - 1),
		    "content_index", json_integer(0)), "delta", json_incref(v)), "logprobs",
		    json_array());
	else
		ev = with(with(enc_about("response.reasoning_summary_text.delta", it, s->n - 1),
		    "summary_index", json_integer(0)), "delta", json_incref(v));
	return enc_event(s, b, ev);
}

/* The function call of tool call index k, and its output index, or NULL. */
static struct item *
enc_call(struct encoder *s, json_int_t k, size_t *oi)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->items[i].kind == ITEM_CALL && s->items[i].index == k) {
			*oi = i;
			return &s->items[i];
		}
	return NULL;
}

/* Opens the function call of tool call index k; its id and name when the chunk has none. */
static struct item *
enc_call_open(struct encoder *s, json_t *tc, json_int_t k, struct buf *b)
{
	json_t *id = json_object_get(tc, "id");
	json_t *name = json_object_get(json_object_get(tc, "function"), "name");
	json_t *cid = json_is_string(id) ? json_incref(id) :
	    json_sprintf("call_%s_%lld", s->sfx, (long long)k);
	json_t *nm = json_is_string(name) ? json_incref(name) : json_string("");
	struct item *it = NULL;

	if (cid != NULL && nm != NULL)
		it = enc_open(s, ITEM_CALL, cid, nm, k, b);
	json_decref(cid);
	json_decref(nm);
	return it;
}

/*
 * A tool call's piece.  A call's arguments after another item began are
 * kept for response.completed but have no delta event: their item is done.
 */
static int
enc_tool(struct encoder *s, json_t *tc, size_t pos, struct buf *b)
{
	json_t *idx = json_object_get(tc, "index");
	json_t *args = json_object_get(json_object_get(tc, "function"), "arguments");
	json_int_t k = json_is_integer(idx) ? json_integer_value(idx) : (json_int_t)pos;
	struct item *it;
	size_t oi;

	if (!json_is_object(tc))
		return 0;
	if ((it = enc_call(s, k, &oi)) == NULL) {
		if ((it = enc_call_open(s, tc, k, b)) == NULL)
			return -1;
		oi = s->n - 1;
	}
	if (!json_is_string(args) || json_string_length(args) == 0)
		return 0;
	if (xt_join(&it->text, args, "") < 0)
		return -1;
	if (it->done)
		return 0;
	return enc_event(s, b, with(enc_about("response.function_call_arguments.delta", it, oi),
	    "delta", json_incref(args)));
}

static int
enc_choice(struct encoder *s, json_t *choice, struct buf *b)
{
	json_t *delta = json_object_get(choice, "delta"), *idx = json_object_get(choice, "index");
	json_t *calls = json_object_get(delta, "tool_calls"), *tc;
	const char *finish = xt_str(choice, "finish_reason");
	size_t i;

	if (!json_is_object(choice) || (json_is_integer(idx) && json_integer_value(idx) != 0))
		return 0;	/* the hub has one choice */
	if (finish != NULL)
		snprintf(s->finish, sizeof(s->finish), "%s", finish);
	if (enc_text(s, ITEM_REASONING, json_object_get(delta, "reasoning_content"), b) < 0 ||
	    enc_text(s, ITEM_MESSAGE, json_object_get(delta, "content"), b) < 0)
		return -1;
	json_array_foreach(calls, i, tc)
		if (enc_tool(s, tc, i, b) < 0)
			return -1;
	return 0;
}

/* An error chunk: an error event now, response.failed at the end. */
static int
enc_error(struct encoder *s, json_t *err, struct buf *b)
{
	const char *msg = xt_str(err, "message"), *type = xt_str(err, "code");

	if (type == NULL)
		type = xt_str(err, "type");
	json_decref(s->error);
	if ((s->error = json_pack("{s:s,s:s}", "code", type ? type : "server_error", "message",
	    msg ? msg : "the provider's stream failed")) == NULL)
		return -1;
	return enc_event(s, b, json_pack("{s:s,s:O,s:O,s:n}", "type", "error", "code",
	    json_object_get(s->error, "code"), "message", json_object_get(s->error, "message"),
	    "param"));
}

static int
responses_encoder_chunk(void *st, json_t *chunk, struct xlate_out *out)
{
	struct encoder *s = st;
	json_t *usage = json_object_get(chunk, "usage");

	if (!json_is_object(chunk))
		return 0;
	if (json_object_get(chunk, "error") != NULL)
		return enc_error(s, json_object_get(chunk, "error"), out->out);
	if (enc_start(s, chunk, out->out) < 0)
		return -1;
	if (json_is_object(usage)) {
		json_decref(s->usage);
		s->usage = json_incref(usage);
	}
	return enc_choice(s, json_array_get(json_object_get(chunk, "choices"), 0), out->out);
}

/* The open item closed, then the end: completed, incomplete or failed, with the whole response. */
static int
responses_encoder_end(void *st, struct xlate_out *out)
{
	struct encoder *s = st;
	const char *reason, *status = status_of(s->finish, &reason), *type;

	if (enc_start(s, NULL, out->out) < 0 || enc_close(s, out->out) < 0)
		return -1;
	if (s->error != NULL) {
		status = "failed";
		reason = NULL;
	}
	type = s->error ? "response.failed" : reason ? "response.incomplete" : "response.completed";
	return enc_event(s, out->tail, json_pack("{s:s,s:o}", "type", type, "response",
	    enc_response(s, status, reason, 1)));
}

static void
responses_encoder_free(void *st)
{
	struct encoder *s = st;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		item_free(&s->items[i]);
	free(s->items);
	free(s->sfx);
	json_decref(s->model);
	json_decref(s->id);
	json_decref(s->usage);
	json_decref(s->error);
	free(s);
}

/* ---- errors ------------------------------------------------------------------- */

static int
responses_error_body(int status, const char *type, const char *message, const char *param,
    struct buf *out)
{
	json_t *e;
	char *text;
	int rc;

	if (type == NULL || type[0] == '\0')
		type = status >= 500 ? "server_error" : "invalid_request_error";
	e = json_pack("{s:{s:o,s:o,s:o,s:n}}", "error", "message", xt_any_string(message ? message : ""),
	    "type", xt_any_string(type), "param", param && param[0] ? xt_any_string(param) : json_null(),
	    "code");
	text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	rc = text ? buf_printf(out, "%s\n", text) : -1;
	free(text);
	json_decref(e);
	return rc;
}

const struct xlate_format xlate_responses = {
	.name = "responses",
	.api = XLATE_RESPONSES,
	.request_to_chat = responses_request_to_chat,
	.request_from_chat = responses_request_from_chat,
	.response_to_chat = responses_response_to_chat,
	.response_from_chat = responses_response_from_chat,
	.decoder_new = responses_decoder_new,
	.decoder_event = responses_decoder_event,
	.decoder_free = responses_decoder_free,
	.encoder_new = responses_encoder_new,
	.encoder_chunk = responses_encoder_chunk,
	.encoder_end = responses_encoder_end,
	.encoder_free = responses_encoder_free,
	.error_body = responses_error_body,
	.error_parse = xlate_parse_error,
};

/* ---- the dialect: OpenAI's Responses API, for the models that speak only it ---- */

/* The terminal events of a Responses stream; each carries the whole response and its usage. */
static const char *const ends[] = { "response.completed", "response.incomplete", "response.failed" };

static int
responses_stream_end(const char *name, const char *data, size_t len)
{
	char type[64];
	size_t i, n;
	const char *t;

	if (name[0] == '\0') {
		/* no event: line: the type is the data's, which leads with it */
		n = len < 96 ? len : 96;
		if ((t = memmem(data, n, "\"type\":\"", 8)) == NULL)
			return 0;
		t += 8;
		for (i = 0; i + 1 < sizeof(type) && t + i < data + n && t[i] != '"'; i++)
			type[i] = t[i];
		type[i] = '\0';
		name = type;
	}
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (strcmp(name, ends[i]) == 0)
			return 1;
	return 0;
}

const struct dialect dialect_responses = {
	.name = "openai",
	.api = XLATE_RESPONSES,
	.shape = USAGE_SHAPE_RESPONSES,
	.native = 1u << ENDPOINT_RESPONSES,
	.url = openai_url,
	.headers = openai_headers,
	.stream_end = responses_stream_end,
	.usage_chunk = dialect_no_usage_chunk,	/* usage comes on the end event */
};
