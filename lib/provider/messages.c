/*
 * Anthropic Messages: the dialect (dialect.h: /v1/messages under the base,
 * the key in x-api-key from the catalogue, anthropic-version; a same-format
 * client's own version and betas go along, a translated request gets the
 * version its translation was written for), and its side of the
 * translation hub (xlate.h): requests
 * from an Anthropic client (Claude Code, @anthropic-ai/sdk) to OpenAI chat
 * and back, answers both ways, an Anthropic upstream's stream decoded into
 * chat chunks, and chat chunks encoded as Anthropic events for an Anthropic
 * client.  The mapping is shared/reference/translation.md's, after
 * LiteLLM.  Every tree comes from outside (a client or a provider): each
 * type is checked before it is read, and a shape that does not fit is a 400
 * naming the field's path (the client's) or a 502 (the provider's).
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
#include "route.h"


static const char to_chat_side[] = "OpenAI chat";
static const char to_messages_side[] = "Anthropic Messages";

/* One request translation: its options, its error, the tree being built. */
struct req {
	struct xt_req		 x;		/* its first member: what the field tables get */
	json_t			*msgs;		/* out's messages */
	json_t			*system;	/* chat -> messages: the system text blocks */
	json_int_t		 max_tokens;	/* chat -> messages: -1 when the client gave none */
	json_int_t		 budget;	/* chat -> messages: the thinking budget, or 0 */
	int			 parallel;	/* chat -> messages: parallel_tool_calls, -1 unset */
	json_t			*json_schema;	/* chat -> messages: a JSON answer by a forced tool */
};

/*
 * A JSON answer from a model without structured output of its own (the price
 * map's supports_native_structured_output) is asked for as a call of this
 * tool, forced, whose input is the answer; the answer's call of it comes back
 * as the message's text, streamed or not.  The name is tollgate's, so that no
 * client's tool is taken for it (a client's tool of that name is refused).
 */
#define JSON_TOOL	"tollgate_json"

/* Whether block b is a call of JSON_TOOL. */
static int
json_tool_call(json_t *b)
{
	return xt_str_is(b, "type", "tool_use") && xt_str_is(b, "name", JSON_TOOL);
}

/* The type of the block at path, or NULL with e set. */
static const char *
block_type(json_t *b, const char *path, struct xlate_error *e)
{
	char p[XT_PATHLEN];
	const char *t;

	if (!json_is_object(b)) {
		xlate_fail(e, 400, path, "'%s' must be an object", path);
		return NULL;
	}
	if ((t = json_string_value(json_object_get(b, "type"))) == NULL) {
		xt_at(p, "%s.type", path);
		xlate_fail(e, 400, p, "'%s' must be a string", p);
	}
	return t;
}

/* ---- Anthropic Messages request -> chat request -------------------------------- */

/* The text of text blocks (or a string) at path, joined by sep, or NULL with e set. */
static json_t *
m2c_texts(struct req *r, json_t *v, const char *path, const char *sep)
{
	struct buf b = { 0 };
	char p[XT_PATHLEN];
	const char *t;
	json_t *blk, *text, *s = NULL;
	size_t i;

	if (json_is_string(v))
		return json_incref(v);
	if (!json_is_array(v)) {
		xlate_fail(r->x.e, 400, path, "'%s' must be a string or an array of text blocks", path);
		return NULL;
	}
	json_array_foreach(v, i, blk) {
		xt_at(p, "%s[%zu]", path, i);
		if ((t = block_type(blk, p, r->x.e)) == NULL)
			goto out;
		if (strcmp(t, "text") != 0) {
			if (xt_no_equivalent(&r->x, p, "not a text block") < 0)
				goto out;
			continue;
		}
		if ((text = xt_need_string(blk, "text", p, r->x.e)) == NULL)
			goto out;
		if (xt_join(&b, text, sep) < 0) {
			xt_oom(r->x.e);
			goto out;
		}
	}
	if ((s = xt_buf_string(&b)) == NULL)
		xt_oom(r->x.e);
out:
	buf_release(&b);
	return s;
}

static int
m2c_system(struct req *r, json_t *sys)
{
	json_t *text;

	if (sys == NULL || json_is_null(sys))
		return 0;
	if ((text = m2c_texts(r, sys, "system", "\n")) == NULL)
		return -1;
	if (json_string_length(text) == 0) {
		json_decref(text);
		return 0;
	}
	if (json_array_append_new(r->msgs, json_pack("{s:s,s:o}", "role", "system",
	    "content", text)) < 0)
		return xt_oom(r->x.e);
	return 0;
}

/*
 * An image block -> an image_url part (base64 as a data: URL) in *part;
 * *part NULL when a source chat cannot take was dropped.  0 or -1.
 */
static int
m2c_image(struct req *r, json_t *blk, const char *path, json_t **part)
{
	json_t *src = json_object_get(blk, "source"), *url, *mt, *data;
	char p[XT_PATHLEN];
	const char *st;

	*part = NULL;
	xt_at(p, "%s.source", path);
	if ((st = block_type(src, p, r->x.e)) == NULL)
		return -1;
	if (strcmp(st, "url") == 0) {
		if ((url = xt_need_string(src, "url", p, r->x.e)) == NULL)
			return -1;
		*part = json_pack("{s:s,s:{s:O}}", "type", "image_url", "image_url", "url", url);
	} else if (strcmp(st, "base64") == 0) {
		if ((mt = xt_need_string(src, "media_type", p, r->x.e)) == NULL ||
		    (data = xt_need_string(src, "data", p, r->x.e)) == NULL)
			return -1;
		*part = json_pack("{s:s,s:{s:o}}", "type", "image_url", "image_url", "url",
		    json_sprintf("data:%s;base64,%s", json_string_value(mt), json_string_value(data)));
	} else
		return xt_no_equivalent(&r->x, p, "an image source other than base64 or url");
	return *part == NULL ? xt_oom(r->x.e) : 0;
}

/* A tool_result block -> a tool message, appended to the chat messages. */
static int
m2c_tool_result(struct req *r, json_t *blk, const char *path)
{
	json_t *id, *c = json_object_get(blk, "content"), *text, *msg;
	char p[XT_PATHLEN];

	if ((id = xt_need_string(blk, "tool_use_id", path, r->x.e)) == NULL)
		return -1;
	xt_at(p, "%s.content", path);
	if (c == NULL || json_is_null(c))
		text = json_string("");
	else if ((text = m2c_texts(r, c, p, "\n")) == NULL)
		return -1;
	/* chat has no error flag on a tool message: the model reads it in the text */
	if (json_is_true(json_object_get(blk, "is_error"))) {
		json_t *t = json_sprintf("Error: %s", json_string_value(text));

		json_decref(text);
		text = t;
	}
	msg = json_pack("{s:s,s:O,s:o}", "role", "tool", "tool_call_id", id, "content", text);
	if (json_array_append_new(r->msgs, msg) < 0)
		return xt_oom(r->x.e);
	return 0;
}

/* One block of a user message: a tool message now, or a part appended to parts. */
static int
m2c_user_block(struct req *r, json_t *blk, const char *path, json_t *parts)
{
	json_t *text, *part = NULL;
	const char *t;

	if ((t = block_type(blk, path, r->x.e)) == NULL)
		return -1;
	if (strcmp(t, "tool_result") == 0)
		return m2c_tool_result(r, blk, path);
	if (strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0)
		return 0;
	if (strcmp(t, "text") == 0) {
		if ((text = xt_need_string(blk, "text", path, r->x.e)) == NULL)
			return -1;
		if ((part = json_pack("{s:s,s:O}", "type", "text", "text", text)) == NULL)
			return xt_oom(r->x.e);
	} else if (strcmp(t, "image") == 0) {
		if (m2c_image(r, blk, path, &part) < 0)
			return -1;
	} else
		return xt_no_equivalent(&r->x, path, "a block of that type");
	if (part != NULL && json_array_append_new(parts, part) < 0)
		return xt_oom(r->x.e);
	return 0;
}

/*
 * A user message's blocks: tool results as tool messages, ahead of the
 * rest (chat wants the tool answers right after the calls).
 */
static int
m2c_user(struct req *r, json_t *content, const char *path)
{
	json_t *parts = json_array(), *blk, *first, *msg;
	char p[XT_PATHLEN];
	size_t i;

	if (parts == NULL)
		return xt_oom(r->x.e);
	json_array_foreach(content, i, blk) {
		xt_at(p, "%s[%zu]", path, i);
		if (m2c_user_block(r, blk, p, parts) < 0) {
			json_decref(parts);
			return -1;
		}
	}
	if (json_array_size(parts) == 0) {
		json_decref(parts);
		return 0;
	}
	/* one text part is a plain string: what every OpenAI-compatible server takes */
	first = json_array_get(parts, 0);
	if (json_array_size(parts) == 1 && json_is_string(json_object_get(first, "text")))
		msg = json_pack("{s:s,s:O}", "role", "user", "content", json_object_get(first, "text"));
	else
		msg = json_pack("{s:s,s:O}", "role", "user", "content", parts);
	json_decref(parts);
	if (json_array_append_new(r->msgs, msg) < 0)
		return xt_oom(r->x.e);
	return 0;
}

/* A tool_use block -> a tool call (arguments: the input serialised). */
static json_t *
m2c_tool_use(struct req *r, json_t *blk, const char *path)
{
	json_t *id, *name, *input = json_object_get(blk, "input"), *call;
	char p[XT_PATHLEN], *args;

	if ((id = xt_need_string(blk, "id", path, r->x.e)) == NULL ||
	    (name = xt_need_string(blk, "name", path, r->x.e)) == NULL)
		return NULL;
	if (!json_is_object(input)) {
		xt_at(p, "%s.input", path);
		xlate_fail(r->x.e, 400, p, "'%s' must be an object", p);
		return NULL;
	}
	if ((args = json_dumps(input, JSON_COMPACT)) == NULL) {
		xt_oom(r->x.e);
		return NULL;
	}
	call = json_pack("{s:O,s:s,s:{s:O,s:s}}", "id", id, "type", "function", "function",
	    "name", name, "arguments", args);
	free(args);
	if (call == NULL)
		xt_oom(r->x.e);
	return call;
}

/* One block of an assistant message: text into text, a tool_use into calls. */
static int
m2c_assistant_block(struct req *r, json_t *blk, const char *path, struct buf *text,
    json_t *calls)
{
	const char *t;
	json_t *v;

	if ((t = block_type(blk, path, r->x.e)) == NULL)
		return -1;
	if (strcmp(t, "text") == 0) {
		if ((v = xt_need_string(blk, "text", path, r->x.e)) == NULL)
			return -1;
		return xt_join(text, v, "") < 0 ? xt_oom(r->x.e) : 0;
	}
	if (strcmp(t, "tool_use") == 0) {
		if ((v = m2c_tool_use(r, blk, path)) == NULL)
			return -1;
		return json_array_append_new(calls, v) < 0 ? xt_oom(r->x.e) : 0;
	}
	/* thinking is the model's own and signed for Anthropic: no other model takes it */
	if (strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0)
		return 0;
	return xt_no_equivalent(&r->x, path, "a block of that type");
}

/* An assistant message's blocks: text joined, tool_use as tool_calls. */
static int
m2c_assistant(struct req *r, json_t *content, const char *path)
{
	struct buf text = { 0 };
	json_t *calls = json_array(), *blk, *msg = NULL;
	char p[XT_PATHLEN];
	size_t i;
	int rc = -1;

	if (calls == NULL)
		return xt_oom(r->x.e);
	json_array_foreach(content, i, blk) {
		xt_at(p, "%s[%zu]", path, i);
		if (m2c_assistant_block(r, blk, p, &text, calls) < 0)
			goto out;
	}
	/* content is null beside tool calls when there was no text, as OpenAI sends it */
	msg = json_pack("{s:s,s:o}", "role", "assistant", "content",
	    text.len == 0 && json_array_size(calls) > 0 ? json_null() : xt_buf_string(&text));
	if (msg == NULL ||
	    (json_array_size(calls) > 0 && xt_put(msg, "tool_calls", json_incref(calls)) < 0) ||
	    json_array_append(r->msgs, msg) < 0)
		xt_oom(r->x.e);
	else
		rc = 0;
out:
	buf_release(&text);
	json_decref(calls);
	json_decref(msg);
	return rc;
}

static int
m2c_message(struct req *r, json_t *m, size_t i)
{
	json_t *content = json_object_get(m, "content");
	char p[XT_PATHLEN];
	const char *role;

	xt_at(p, "messages[%zu]", i);
	if (!json_is_object(m))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	xt_at(p, "messages[%zu].role", i);
	role = json_string_value(json_object_get(m, "role"));
	if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
		return xt_bad(r->x.e, p, "'%s' must be \"user\" or \"assistant\"", p);
	xt_at(p, "messages[%zu].content", i);
	if (json_is_string(content)) {
		if (json_array_append_new(r->msgs, json_pack("{s:s,s:O}", "role", role,
		    "content", content)) < 0)
			return xt_oom(r->x.e);
		return 0;
	}
	if (!json_is_array(content))
		return xt_bad(r->x.e, p, "'%s' must be a string or an array of blocks", p);
	return strcmp(role, "user") == 0 ? m2c_user(r, content, p) : m2c_assistant(r, content, p);
}

/* Each message of msgs through one, in order. */
static int
map_messages(struct req *r, json_t *msgs, int (*one)(struct req *, json_t *, size_t))
{
	json_t *m;
	size_t i;

	if (!json_is_array(msgs))
		return xt_bad(r->x.e, "messages", "'messages' must be an array of messages");
	json_array_foreach(msgs, i, m)
		if (one(r, m, i) < 0)
			return -1;
	return 0;
}

static int
m2c_messages(struct req *r, json_t *msgs)
{
	return map_messages(r, msgs, m2c_message);
}

static int
m2c_max_tokens(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return xt_bad(x->e, key, "'%s' must be a positive integer", key);
	/* OpenAI's reasoning models refuse max_tokens */
	return xt_put(x->out, x->o->reasoning_model ? "max_completion_tokens" : "max_tokens",
	    json_incref(v)) < 0 ? xt_oom(x->e) : 0;
}

static int
string_array(json_t *v)
{
	json_t *s;
	size_t i;

	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, s)
		if (!json_is_string(s))
			return 0;
	return 1;
}

static int
m2c_stop(struct xt_req *x, const char *key, json_t *v)
{
	if (!string_array(v))
		return xt_bad(x->e, key, "'%s' must be an array of strings", key);
	if (json_array_size(v) == 0)
		return 0;
	return xt_put(x->out, "stop", json_incref(v)) < 0 ? xt_oom(x->e) : 0;
}

static int
m2c_stream(struct xt_req *x, const char *key, json_t *v)
{
	if (xt_pass_bool(x, key, v) < 0)
		return -1;
	/* the cost is read from the usage, which a chat stream carries only when asked */
	if (json_is_true(v) && xt_put(x->out, "stream_options", json_pack("{s:b}", "include_usage", 1)) < 0)
		return xt_oom(x->e);
	return 0;
}

static int
m2c_metadata(struct xt_req *x, const char *key, json_t *v)
{
	json_t *user = json_object_get(v, "user_id");

	if (!json_is_object(v))
		return xt_bad(x->e, key, "'%s' must be an object", key);
	if (json_is_string(user) && xt_put(x->out, "user", json_incref(user)) < 0)
		return xt_oom(x->e);
	return 0;
}

/* Anthropic's budget in tokens -> OpenAI's effort, at LiteLLM's thresholds. */
static int
m2c_thinking(struct xt_req *x, const char *key, json_t *v)
{
	const char *t = json_string_value(json_object_get(v, "type"));
	json_t *budget = json_object_get(v, "budget_tokens");
	json_int_t n;

	if (!json_is_object(v) || t == NULL)
		return xt_bad(x->e, key, "'%s' must be an object with a type", key);
	if (strcmp(t, "disabled") == 0)
		return 0;
	if (strcmp(t, "enabled") != 0)
		return xt_no_equivalent(x, "thinking.type", "other than enabled or disabled");
	if (!json_is_integer(budget))
		return xt_bad(x->e, "thinking.budget_tokens", "'thinking.budget_tokens' must be an integer");
	n = json_integer_value(budget);
	return xt_put(x->out, "reasoning_effort",
	    json_string(n <= 1024 ? "low" : n <= 2048 ? "medium" : "high")) < 0 ? xt_oom(x->e) : 0;
}

/* One tool -> a chat function; server tools (web search, code execution) have none. */
static int
m2c_tool(struct xt_req *x, json_t *tool, json_t *tools, size_t i)
{
	struct req *r = (struct req *)x;
	const char *t = json_string_value(json_object_get(tool, "type"));
	json_t *name, *desc, *schema, *strict, *fn;
	char p[XT_PATHLEN];

	xt_at(p, "tools[%zu]", i);
	if (!json_is_object(tool))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if (t != NULL && strcmp(t, "custom") != 0)
		return xt_no_equivalent(&r->x, p, "a server tool");
	if ((name = xt_need_string(tool, "name", p, r->x.e)) == NULL)
		return -1;
	schema = json_object_get(tool, "input_schema");
	if (!json_is_object(schema)) {
		xt_at(p, "tools[%zu].input_schema", i);
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	}
	if ((fn = json_pack("{s:O,s:O}", "name", name, "parameters", schema)) == NULL)
		return xt_oom(r->x.e);
	desc = json_object_get(tool, "description");
	strict = json_object_get(tool, "strict");
	if ((json_is_string(desc) && xt_put(fn, "description", json_incref(desc)) < 0) ||
	    (json_is_boolean(strict) && xt_put(fn, "strict", json_incref(strict)) < 0) ||
	    json_array_append_new(tools, json_pack("{s:s,s:o}", "type", "function",
	    "function", fn)) < 0)
		return xt_oom(r->x.e);
	return 0;
}

static int
m2c_tools(struct xt_req *x, const char *key, json_t *v)
{
	return xt_map_tools(x, key, v, m2c_tool);
}

static int
m2c_tool_choice(struct xt_req *x, const char *key, json_t *v)
{
	const char *t = json_string_value(json_object_get(v, "type"));
	json_t *name, *c;

	if (!json_is_object(v) || t == NULL)
		return xt_bad(x->e, key, "'%s' must be an object with a type", key);
	if (strcmp(t, "auto") == 0)
		c = json_string("auto");
	else if (strcmp(t, "any") == 0)
		c = json_string("required");
	else if (strcmp(t, "none") == 0)
		c = json_string("none");
	else if (strcmp(t, "tool") == 0) {
		if ((name = xt_need_string(v, "name", key, x->e)) == NULL)
			return -1;
		c = json_pack("{s:s,s:{s:O}}", "type", "function", "function", "name", name);
	} else
		return xt_bad(x->e, "tool_choice.type", "'tool_choice.type' must be auto, any, none or tool");
	if (xt_put(x->out, "tool_choice", c) < 0)
		return xt_oom(x->e);
	if (json_is_true(json_object_get(v, "disable_parallel_tool_use")) &&
	    xt_put(x->out, "parallel_tool_calls", json_false()) < 0)
		return xt_oom(x->e);
	return 0;
}

/* Structured output {type: json_schema, schema} -> response_format json_schema. */
static int
m2c_format(struct xt_req *x, const char *key, json_t *v)
{
	const char *t = json_string_value(json_object_get(v, "type"));
	json_t *schema = json_object_get(v, "schema");

	if (!json_is_object(v) || t == NULL || strcmp(t, "json_schema") != 0 || !json_is_object(schema))
		return xt_bad(x->e, key, "'%s' must be {\"type\": \"json_schema\", \"schema\": {...}}", key);
	/* OpenAI requires a name; Anthropic has none to give */
	if (xt_put(x->out, "response_format", json_pack("{s:s,s:{s:s,s:O,s:b}}", "type", "json_schema",
	    "json_schema", "name", "output", "schema", schema, "strict", 1)) < 0)
		return xt_oom(x->e);
	return 0;
}

/* output_config: the newer home of the format (and of effort, which chat has as reasoning). */
static int
m2c_output_config(struct xt_req *x, const char *key, json_t *v)
{
	const char *k;
	json_t *item;

	if (!json_is_object(v))
		return xt_bad(x->e, key, "'%s' must be an object", key);
	json_object_foreach(v, k, item) {
		if (strcmp(k, "format") == 0) {
			if (!json_is_null(item) && m2c_format(x, "output_config.format", item) < 0)
				return -1;
		} else if (strcmp(k, "effort") == 0 && json_is_string(item)) {
			if (xt_put(x->out, "reasoning_effort", json_incref(item)) < 0)
				return xt_oom(x->e);
		} else if (xt_no_equivalent(x, "output_config", NULL) < 0)
			return -1;
	}
	return 0;
}

/* Anthropic's "standard_only" is OpenAI's "default"; "auto" is both's. */
static int
m2c_service_tier(struct xt_req *x, const char *key, json_t *v)
{
	const char *t = json_string_value(v);

	if (t == NULL)
		return xt_bad(x->e, key, "'%s' must be a string", key);
	return xt_put(x->out, key, json_string(strcmp(t, "standard_only") == 0 ? "default" : t)) < 0 ?
	    xt_oom(x->e) : 0;
}

static const struct xt_field m2c_fields[] = {
	{ "model", NULL },		/* o->model instead */
	{ "messages", NULL },		/* done first, after system */
	{ "system", NULL },
	{ "cache_control", NULL },	/* OpenAI caches by itself */
	{ "max_tokens", m2c_max_tokens },
	{ "stop_sequences", m2c_stop },
	{ "temperature", xt_pass_number },
	{ "top_p", xt_pass_number },
	{ "stream", m2c_stream },
	{ "metadata", m2c_metadata },
	{ "thinking", m2c_thinking },
	{ "tools", m2c_tools },
	{ "tool_choice", m2c_tool_choice },
	{ "output_format", m2c_format },
	{ "output_config", m2c_output_config },
	{ "service_tier", m2c_service_tier },
	{ NULL, NULL }
};

static json_t *
messages_request_to_chat(json_t *req, const struct xlate_opts *o, struct xlate_error *e)
{
	struct req r = { .x = { .o = o, .e = e, .side = to_chat_side } };

	if (!json_is_object(req))
		return xlate_fail(e, 400, NULL, "the request body must be a JSON object");
	r.x.out = json_pack("{s:s,s:[]}", "model", o->model ? o->model : "", "messages");
	if (r.x.out == NULL) {
		xt_oom(e);
		return NULL;
	}
	r.msgs = json_object_get(r.x.out, "messages");
	if (m2c_system(&r, json_object_get(req, "system")) < 0 ||
	    m2c_messages(&r, json_object_get(req, "messages")) < 0 ||
	    xt_fields(&r.x, req, m2c_fields) < 0) {
		json_decref(r.x.out);
		return NULL;
	}
	/* every tool dropped: a choice among none would be refused */
	if (json_object_get(r.x.out, "tools") == NULL) {
		json_object_del(r.x.out, "tool_choice");
		json_object_del(r.x.out, "parallel_tool_calls");
	}
	return r.x.out;
}

/* ---- chat request -> Anthropic Messages request -------------------------------- */

/* Appends a text block to blocks unless text is empty (Anthropic refuses empty ones). */
static int
text_block(json_t *blocks, json_t *text)
{
	if (json_string_length(text) == 0)
		return 0;
	return json_array_append_new(blocks, json_pack("{s:s,s:O}", "type", "text", "text", text));
}

/* An image_url part -> an image block appended: a data: URL as base64, else a url source. */
static int
c2m_image(struct req *r, json_t *part, const char *path, json_t *blocks)
{
	json_t *iu = json_object_get(part, "image_url");
	json_t *u = json_is_object(iu) ? json_object_get(iu, "url") : iu;
	const char *url = json_string_value(u), *semi, *b64;
	char p[XT_PATHLEN];
	json_t *img;

	xt_at(p, "%s.image_url.url", path);
	if (url == NULL)
		return xt_bad(r->x.e, p, "'%s' must be a string", p);
	if (strncmp(url, "data:", 5) != 0)
		img = json_pack("{s:s,s:{s:s,s:s}}", "type", "image", "source", "type", "url",
		    "url", url);
	else {
		semi = strchr(url + 5, ';');
		if (semi == NULL || (b64 = strstr(url + 5, ";base64,")) == NULL)
			return xt_bad(r->x.e, p, "'%s' must be a base64 data: URL or an http(s) URL", p);
		img = json_pack("{s:s,s:{s:s,s:s%,s:s}}", "type", "image", "source", "type",
		    "base64", "media_type", url + 5, (size_t)(semi - url - 5), "data", b64 + 8);
	}
	return json_array_append_new(blocks, img) < 0 ? xt_oom(r->x.e) : 0;
}

/* Content (null, a string or parts) at path -> blocks appended to blocks. */
static int
c2m_parts(struct req *r, json_t *content, const char *path, json_t *blocks)
{
	json_t *part, *text;
	char p[XT_PATHLEN];
	const char *t;
	size_t i;

	if (content == NULL || json_is_null(content))
		return 0;
	if (json_is_string(content))
		return text_block(blocks, content) < 0 ? xt_oom(r->x.e) : 0;
	if (!json_is_array(content))
		return xt_bad(r->x.e, path, "'%s' must be a string or an array of parts", path);
	json_array_foreach(content, i, part) {
		xt_at(p, "%s[%zu]", path, i);
		if ((t = block_type(part, p, r->x.e)) == NULL)
			return -1;
		if (strcmp(t, "text") == 0 || strcmp(t, "refusal") == 0) {
			if ((text = xt_need_string(part, t, p, r->x.e)) == NULL)
				return -1;
			if (text_block(blocks, text) < 0)
				return xt_oom(r->x.e);
		} else if (strcmp(t, "image_url") == 0) {
			if (c2m_image(r, part, p, blocks) < 0)
				return -1;
		} else if (xt_no_equivalent(&r->x, p, "a part of that type") < 0)
			return -1;
	}
	return 0;
}

/* Text blocks joined into one string, or NULL when a block is not text (or ENOMEM). */
static json_t *
blocks_text(json_t *blocks)
{
	struct buf text = { 0 };
	json_t *b, *t, *s = NULL;
	size_t i;

	json_array_foreach(blocks, i, b)
		if (!json_is_string(t = json_object_get(b, "text")) || xt_join(&text, t, "\n") < 0)
			goto out;
	s = xt_buf_string(&text);
out:
	buf_release(&text);
	return s;
}

/*
 * Appends blocks (reference taken) as a message of role, merged into the
 * last one when it has that role: Anthropic wants the roles alternating.
 */
static int
c2m_push(struct req *r, const char *role, json_t *blocks)
{
	json_t *last = json_array_get(r->msgs, json_array_size(r->msgs) - 1);
	const char *lrole = json_string_value(json_object_get(last, "role"));
	int rc;

	if (json_array_size(blocks) == 0) {
		json_decref(blocks);
		return 0;
	}
	if (lrole != NULL && strcmp(lrole, role) == 0)
		rc = json_array_extend(json_object_get(last, "content"), blocks);
	else
		rc = json_array_append_new(r->msgs, json_pack("{s:s,s:O}", "role", role,
		    "content", blocks));
	json_decref(blocks);
	return rc < 0 ? xt_oom(r->x.e) : 0;
}

/*
 * A tool call's arguments -> the input object.  "" is taken as {}: some
 * clients stream nothing for a tool without parameters.
 */
static json_t *
c2m_arguments(struct req *r, json_t *args, const char *path)
{
	const char *s = json_string_value(args);
	json_t *input;

	if (s != NULL && s[strspn(s, " \t\r\n")] == '\0')
		return json_object();
	if (s == NULL || (input = json_loads(s, 0, NULL)) == NULL || !json_is_object(input)) {
		if (s != NULL)
			json_decref(input);	/* NULL, or a JSON value other than an object */
		xlate_fail(r->x.e, 400, path, "'%s' must be a JSON object in a string", path);
		return NULL;
	}
	return input;
}

static int
c2m_tool_call(struct req *r, json_t *call, const char *path, json_t *blocks)
{
	json_t *fn = json_object_get(call, "function"), *id, *name, *input;
	char p[XT_PATHLEN];

	if (!json_is_object(call))
		return xt_bad(r->x.e, path, "'%s' must be an object", path);
	xt_at(p, "%s.function", path);
	if ((id = xt_need_string(call, "id", path, r->x.e)) == NULL ||
	    (name = xt_need_string(fn, "name", p, r->x.e)) == NULL)
		return -1;
	xt_at(p, "%s.function.arguments", path);
	if ((input = c2m_arguments(r, json_object_get(fn, "arguments"), p)) == NULL)
		return -1;
	if (json_array_append_new(blocks, json_pack("{s:s,s:O,s:O,s:o}", "type", "tool_use",
	    "id", id, "name", name, "input", input)) < 0)
		return xt_oom(r->x.e);
	return 0;
}

static int
c2m_assistant(struct req *r, json_t *m, const char *path)
{
	json_t *blocks = json_array(), *calls = json_object_get(m, "tool_calls"), *call;
	char p[XT_PATHLEN];
	size_t j;

	if (blocks == NULL)
		return xt_oom(r->x.e);
	xt_at(p, "%s.content", path);
	if (c2m_parts(r, json_object_get(m, "content"), p, blocks) < 0)
		goto fail;
	if (calls != NULL && !json_is_null(calls) && !json_is_array(calls)) {
		xt_at(p, "%s.tool_calls", path);
		xlate_fail(r->x.e, 400, p, "'%s' must be an array", p);
		goto fail;
	}
	json_array_foreach(calls, j, call) {
		xt_at(p, "%s.tool_calls[%zu]", path, j);
		if (c2m_tool_call(r, call, p, blocks) < 0)
			goto fail;
	}
	return c2m_push(r, "assistant", blocks);
fail:
	json_decref(blocks);
	return -1;
}

/* A tool message -> a tool_result block: its text, or its blocks when it holds images. */
static int
c2m_tool(struct req *r, json_t *m, const char *path)
{
	json_t *id, *blocks, *content;
	char p[XT_PATHLEN];

	if ((id = xt_need_string(m, "tool_call_id", path, r->x.e)) == NULL)
		return -1;
	if ((blocks = json_array()) == NULL)
		return xt_oom(r->x.e);
	xt_at(p, "%s.content", path);
	if (c2m_parts(r, json_object_get(m, "content"), p, blocks) < 0) {
		json_decref(blocks);
		return -1;
	}
	if ((content = blocks_text(blocks)) == NULL)
		content = json_incref(blocks);
	json_decref(blocks);
	return c2m_push(r, "user", json_pack("[{s:s,s:O,s:o}]", "type", "tool_result",
	    "tool_use_id", id, "content", content));
}

/* System and developer messages, wherever they are, into the system blocks. */
static int
c2m_system(struct req *r, json_t *m, const char *path)
{
	json_t *blocks = json_array(), *b;
	char p[XT_PATHLEN];
	size_t i;
	int rc = -1;

	if (blocks == NULL)
		return xt_oom(r->x.e);
	xt_at(p, "%s.content", path);
	if (c2m_parts(r, json_object_get(m, "content"), p, blocks) < 0)
		goto out;
	json_array_foreach(blocks, i, b) {
		if (!json_is_string(json_object_get(b, "text"))) {
			if (xt_no_equivalent(&r->x, p, "an image in a system message") < 0)
				goto out;
		} else if (json_array_append(r->system, b) < 0) {
			xt_oom(r->x.e);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(blocks);
	return rc;
}

static int
c2m_message(struct req *r, json_t *m, size_t i)
{
	json_t *blocks;
	char path[XT_PATHLEN], p[XT_PATHLEN];
	const char *role;

	xt_at(path, "messages[%zu]", i);
	if (!json_is_object(m))
		return xt_bad(r->x.e, path, "'%s' must be an object", path);
	xt_at(p, "%s.role", path);
	if ((role = json_string_value(json_object_get(m, "role"))) == NULL)
		return xt_bad(r->x.e, p, "'%s' must be a string", p);
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return c2m_system(r, m, path);
	if (strcmp(role, "assistant") == 0)
		return c2m_assistant(r, m, path);
	if (strcmp(role, "tool") == 0)
		return c2m_tool(r, m, path);
	if (strcmp(role, "user") != 0)
		return xt_bad(r->x.e, p, "'%s' must be system, developer, user, assistant or tool", p);
	if ((blocks = json_array()) == NULL)
		return xt_oom(r->x.e);
	xt_at(p, "%s.content", path);
	if (c2m_parts(r, json_object_get(m, "content"), p, blocks) < 0) {
		json_decref(blocks);
		return -1;
	}
	return c2m_push(r, "user", blocks);
}

static int
c2m_messages(struct req *r, json_t *msgs)
{
	return map_messages(r, msgs, c2m_message);
}

static int
c2m_max_tokens(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return xt_bad(x->e, key, "'%s' must be a positive integer", key);
	/* max_completion_tokens is the newer name: it wins over max_tokens */
	if (r->max_tokens < 0 || strcmp(key, "max_completion_tokens") == 0)
		r->max_tokens = json_integer_value(v);
	return 0;
}

static int
c2m_stop(struct xt_req *x, const char *key, json_t *v)
{
	json_t *list;

	if (json_is_string(v))
		list = json_pack("[O]", v);
	else if (string_array(v))
		list = json_incref(v);
	else
		return xt_bad(x->e, key, "'%s' must be a string or an array of strings", key);
	if (list != NULL && json_array_size(list) == 0) {
		json_decref(list);
		return 0;
	}
	return xt_put(x->out, "stop_sequences", list) < 0 ? xt_oom(x->e) : 0;
}

static int
c2m_user(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_string(v))
		return xt_bad(x->e, key, "'%s' must be a string", key);
	return xt_put(x->out, "metadata", json_pack("{s:O}", "user_id", v)) < 0 ? xt_oom(x->e) : 0;
}

/* OpenAI's effort -> Anthropic's budget, LiteLLM's numbers (1024 is Anthropic's least). */
static int
c2m_reasoning(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	const char *s = json_string_value(v);

	if (s == NULL)
		return xt_bad(x->e, key, "'%s' must be a string", key);
	if (strcmp(s, "none") == 0)
		r->budget = 0;
	else if (strcmp(s, "minimal") == 0 || strcmp(s, "low") == 0)
		r->budget = 1024;
	else if (strcmp(s, "medium") == 0)
		r->budget = 2048;
	else if (strcmp(s, "high") == 0)
		r->budget = 4096;
	else
		return xt_bad(x->e, key, "'%s' must be none, minimal, low, medium or high", key);
	return 0;
}

static int
c2m_response_format(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	const char *t = json_string_value(json_object_get(v, "type"));
	json_t *schema = json_object_get(json_object_get(v, "json_schema"), "schema");

	if (!json_is_object(v) || t == NULL)
		return xt_bad(x->e, key, "'%s' must be an object with a type", key);
	if (strcmp(t, "text") == 0)
		return 0;
	if (strcmp(t, "json_object") == 0)
		schema = NULL;	/* any object: the forced tool's input */
	else if (strcmp(t, "json_schema") != 0)
		return xt_bad(x->e, "response_format.type", "'response_format.type' must be text, "
		    "json_object or json_schema");
	else if (!json_is_object(schema))
		return xt_bad(x->e, "response_format.json_schema.schema",
		    "'response_format.json_schema.schema' must be an object");
	if (schema != NULL && x->o->native_json)
		return xt_put(x->out, "output_format", json_pack("{s:s,s:O}", "type", "json_schema",
		    "schema", schema)) < 0 ? xt_oom(x->e) : 0;
	json_decref(r->json_schema);
	r->json_schema = schema ? json_incref(schema) : json_pack("{s:s}", "type", "object");
	return r->json_schema != NULL ? 0 : xt_oom(x->e);
}

static int
c2m_tool_def(struct xt_req *x, json_t *tool, json_t *tools, size_t i)
{
	struct req *r = (struct req *)x;
	const char *t = json_string_value(json_object_get(tool, "type"));
	json_t *fn = json_object_get(tool, "function"), *name, *desc, *params, *strict, *out;
	char p[XT_PATHLEN];

	xt_at(p, "tools[%zu]", i);
	if (!json_is_object(tool))
		return xt_bad(r->x.e, p, "'%s' must be an object", p);
	if (t == NULL || strcmp(t, "function") != 0)
		return xt_no_equivalent(&r->x, p, "not a function tool");
	xt_at(p, "tools[%zu].function", i);
	if ((name = xt_need_string(fn, "name", p, r->x.e)) == NULL)
		return -1;
	if (strcmp(json_string_value(name), JSON_TOOL) == 0)
		return xt_bad(r->x.e, p, "'%s.name': '" JSON_TOOL "' is the name tollgate gives a "
		    "JSON answer's tool: name the tool otherwise", p);
	params = json_object_get(fn, "parameters");
	desc = json_object_get(fn, "description");
	strict = json_object_get(fn, "strict");
	/* a function without parameters takes none; Anthropic wants that said */
	out = json_pack("{s:O,s:o}", "name", name, "input_schema", json_is_object(params) ?
	    json_incref(params) : json_pack("{s:s,s:{}}", "type", "object", "properties"));
	if (out == NULL || (json_is_string(desc) && xt_put(out, "description", json_incref(desc)) < 0) ||
	    (json_is_boolean(strict) && xt_put(out, "strict", json_incref(strict)) < 0) ||
	    json_array_append(tools, out) < 0) {
		json_decref(out);
		return xt_oom(r->x.e);
	}
	json_decref(out);
	return 0;
}

static int
c2m_tools(struct xt_req *x, const char *key, json_t *v)
{
	return xt_map_tools(x, key, v, c2m_tool_def);
}

static int
c2m_tool_choice(struct xt_req *x, const char *key, json_t *v)
{
	const char *s = json_string_value(v);
	json_t *name = json_object_get(json_object_get(v, "function"), "name"), *c;

	if (s != NULL && strcmp(s, "auto") == 0)
		c = json_pack("{s:s}", "type", "auto");
	else if (s != NULL && strcmp(s, "required") == 0)
		c = json_pack("{s:s}", "type", "any");
	else if (s != NULL && strcmp(s, "none") == 0)
		c = json_pack("{s:s}", "type", "none");
	else if (json_is_object(v) && json_is_string(name))
		c = json_pack("{s:s,s:O}", "type", "tool", "name", name);
	else
		return xt_bad(x->e, key, "'%s' must be auto, required, none or "
		    "{\"type\": \"function\", \"function\": {\"name\": ...}}", key);
	return xt_put(x->out, "tool_choice", c) < 0 ? xt_oom(x->e) : 0;
}

static int
c2m_parallel(struct xt_req *x, const char *key, json_t *v)
{
	struct req *r = (struct req *)x;
	if (!json_is_boolean(v))
		return xt_bad(x->e, key, "'%s' must be true or false", key);
	r->parallel = json_is_true(v);
	return 0;
}

static int
c2m_n(struct xt_req *x, const char *key, json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) == 1)
		return 0;
	return xt_no_equivalent(x, key, "other than 1");
}

static int
c2m_logprobs(struct xt_req *x, const char *key, json_t *v)
{
	if (json_is_false(v))
		return 0;
	return xt_no_equivalent(x, key, NULL);
}

static const struct xt_field c2m_fields[] = {
	{ "model", NULL },		/* o->model instead */
	{ "messages", NULL },		/* done first */
	{ "metadata", NULL },		/* OpenAI's stored-completion tags */
	{ "store", NULL },
	{ "service_tier", NULL },
	{ "stream_options", NULL },	/* Anthropic always reports usage */
	{ "prompt_cache_key", NULL },
	{ "max_tokens", c2m_max_tokens },
	{ "max_completion_tokens", c2m_max_tokens },
	{ "stop", c2m_stop },
	{ "temperature", xt_pass_number },
	{ "top_p", xt_pass_number },
	{ "stream", xt_pass_bool },
	{ "user", c2m_user },
	{ "reasoning_effort", c2m_reasoning },
	{ "response_format", c2m_response_format },
	{ "tools", c2m_tools },
	{ "tool_choice", c2m_tool_choice },
	{ "parallel_tool_calls", c2m_parallel },
	{ "n", c2m_n },
	{ "logprobs", c2m_logprobs },
	{ NULL, NULL }
};

/*
 * A JSON answer by a forced call of JSON_TOOL, beside the client's tools:
 * forced, as no other call is wanted; only offered when thinking is on,
 * which Anthropic does not let a forced tool share.
 */
static int
c2m_json_tool(struct req *r)
{
	json_t *tools = json_object_get(r->x.out, "tools");

	if (tools == NULL && xt_put(r->x.out, "tools", tools = json_array()) < 0)
		return xt_oom(r->x.e);
	if (json_array_append_new(tools, json_pack("{s:s,s:s,s:O}", "name", JSON_TOOL,
	    "description", "The answer, as a JSON value that follows this schema.",
	    "input_schema", r->json_schema)) < 0 ||
	    xt_put(r->x.out, "tool_choice", r->budget > 0 ? json_pack("{s:s}", "type", "auto") :
	    json_pack("{s:s,s:s}", "type", "tool", "name", JSON_TOOL)) < 0)
		return xt_oom(r->x.e);
	return 0;
}

/* What depends on several fields: system, max_tokens against thinking, parallel calls. */
static int
c2m_finish(struct req *r)
{
	json_int_t max = r->max_tokens >= 0 ? r->max_tokens :
	    r->x.o->max_tokens > 0 ? r->x.o->max_tokens : 4096;
	json_t *choice, *tools = json_object_get(r->x.out, "tools");
	const char *ct;

	if (json_array_size(r->system) > 0 && json_object_set(r->x.out, "system",
	    json_array_size(r->system) == 1 ?
	    json_object_get(json_array_get(r->system, 0), "text") : r->system) < 0)
		return xt_oom(r->x.e);
	if (r->budget > 0) {
		/* Anthropic counts the thinking in max_tokens and wants room after it */
		if (max <= r->budget)
			max += r->budget;
		if (xt_put(r->x.out, "thinking", json_pack("{s:s,s:I}", "type", "enabled",
		    "budget_tokens", r->budget)) < 0)
			return xt_oom(r->x.e);
	}
	if (xt_put(r->x.out, "max_tokens", json_integer(max)) < 0)
		return xt_oom(r->x.e);
	if (r->json_schema != NULL)
		return c2m_json_tool(r);
	if (tools == NULL) {
		/* a choice among no tools is refused */
		json_object_del(r->x.out, "tool_choice");
		return 0;
	}
	if (r->parallel != 0)
		return 0;
	if ((choice = json_object_get(r->x.out, "tool_choice")) == NULL) {
		if (xt_put(r->x.out, "tool_choice", json_pack("{s:s}", "type", "auto")) < 0)
			return xt_oom(r->x.e);
		choice = json_object_get(r->x.out, "tool_choice");
	}
	ct = json_string_value(json_object_get(choice, "type"));
	if (ct != NULL && strcmp(ct, "none") != 0 &&
	    xt_put(choice, "disable_parallel_tool_use", json_true()) < 0)
		return xt_oom(r->x.e);
	return 0;
}

static json_t *
messages_request_from_chat(json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	struct req r = { .x = { .o = o, .e = e, .side = to_messages_side }, .max_tokens = -1,
	    .parallel = -1 };

	if (!json_is_object(chat))
		return xlate_fail(e, 400, NULL, "the request body must be a JSON object");
	r.x.out = json_pack("{s:s,s:[]}", "model", o->model ? o->model : "", "messages");
	r.system = json_array();
	if (r.x.out == NULL || r.system == NULL) {
		xt_oom(e);
		goto fail;
	}
	r.msgs = json_object_get(r.x.out, "messages");
	if (c2m_messages(&r, json_object_get(chat, "messages")) < 0 ||
	    xt_fields(&r.x, chat, c2m_fields) < 0 || c2m_finish(&r) < 0)
		goto fail;
	json_decref(r.system);
	json_decref(r.json_schema);
	return r.x.out;
fail:
	json_decref(r.system);
	json_decref(r.json_schema);
	json_decref(r.x.out);
	return NULL;
}

/* ---- answers -------------------------------------------------------------------- */

static const char *
finish_of(const char *stop_reason)
{
	if (stop_reason == NULL)
		return "stop";
	if (strcmp(stop_reason, "max_tokens") == 0)
		return "length";
	if (strcmp(stop_reason, "tool_use") == 0)
		return "tool_calls";
	if (strcmp(stop_reason, "refusal") == 0)
		return "content_filter";
	return "stop";	/* end_turn, stop_sequence, pause_turn and whatever comes next */
}

static const char *
stop_reason_of(const char *finish)
{
	if (finish == NULL)
		return "end_turn";
	if (strcmp(finish, "length") == 0)
		return "max_tokens";
	if (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0)
		return "tool_use";
	if (strcmp(finish, "content_filter") == 0)
		return "refusal";
	return "end_turn";
}

/* Anthropic's token counts, as the hub has them. */
struct counts {
	json_int_t	input, output, cache_read, cache_write;
	int		has_read, has_write;	/* the source named them */
};

static void
counts_read(struct counts *c, json_t *usage)
{
	if (!json_is_object(usage))
		return;
	/* later values win: message_delta repeats (and may correct) message_start's */
	if (json_object_get(usage, "input_tokens") != NULL)
		c->input = xt_tok(usage, "input_tokens");
	if (json_object_get(usage, "output_tokens") != NULL)
		c->output = xt_tok(usage, "output_tokens");
	if (json_object_get(usage, "cache_read_input_tokens") != NULL) {
		c->cache_read = xt_tok(usage, "cache_read_input_tokens");
		c->has_read = 1;
	}
	if (json_object_get(usage, "cache_creation_input_tokens") != NULL) {
		c->cache_write = xt_tok(usage, "cache_creation_input_tokens");
		c->has_write = 1;
	}
}

/* The hub's usage (LiteLLM's convention: the prompt counts cache reads and writes). */
static json_t *
counts_chat(const struct counts *c)
{
	json_int_t prompt = c->input + c->cache_read + c->cache_write;
	json_t *u = json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", prompt,
	    "completion_tokens", c->output, "total_tokens", prompt + c->output,
	    "prompt_tokens_details", "cached_tokens", c->cache_read);

	if (u != NULL && ((c->has_write && xt_put(u, "cache_creation_input_tokens",
	    json_integer(c->cache_write)) < 0) || (c->has_read &&
	    xt_put(u, "cache_read_input_tokens", json_integer(c->cache_read)) < 0))) {
		json_decref(u);
		return NULL;
	}
	return u;
}

/* A chat usage -> Anthropic's counts: input excludes what the cache read or wrote. */
static void
counts_from_chat(struct counts *c, json_t *usage)
{
	json_int_t prompt = xt_tok(usage, "prompt_tokens");
	json_t *details = json_object_get(usage, "prompt_tokens_details");

	c->cache_read = json_object_get(details, "cached_tokens") != NULL ?
	    xt_tok(details, "cached_tokens") : xt_tok(usage, "cache_read_input_tokens");
	c->cache_write = xt_tok(usage, "cache_creation_input_tokens");
	c->input = prompt - c->cache_read - c->cache_write;
	if (c->input < 0)
		c->input = 0;
	c->output = xt_tok(usage, "completion_tokens");
}

static json_t *
counts_messages(const struct counts *c)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", c->input,
	    "cache_creation_input_tokens", c->cache_write, "cache_read_input_tokens", c->cache_read,
	    "output_tokens", c->output);
}

/* Folds one content block of an answer into text, reasoning and tool calls. */
static int
r2c_block(json_t *b, struct buf *text, struct buf *thinking, json_t *calls)
{
	const char *t = json_string_value(json_object_get(b, "type"));
	json_t *v, *id, *name, *input;
	char *args;
	int rc;

	if (t == NULL)
		return 0;
	if (strcmp(t, "text") == 0 && json_is_string(v = json_object_get(b, "text")))
		return xt_join(text, v, "");
	if (strcmp(t, "thinking") == 0 && json_is_string(v = json_object_get(b, "thinking")))
		return xt_join(thinking, v, "");
	if (strcmp(t, "tool_use") != 0)
		return 0;	/* server tool blocks and the like: nothing chat can say */
	if (json_tool_call(b)) {
		/* the JSON answer asked for: the text */
		args = json_dumps(json_object_get(b, "input"), JSON_COMPACT | JSON_ENCODE_ANY);
		rc = args ? buf_append(text, args, strlen(args)) : -1;
		free(args);
		return rc;
	}
	id = json_object_get(b, "id");
	name = json_object_get(b, "name");
	input = json_object_get(b, "input");
	if (!json_is_string(id) || !json_is_string(name))
		return 0;
	args = input != NULL ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
	if (args == NULL)
		return -1;
	rc = json_array_append_new(calls, json_pack("{s:O,s:s,s:{s:O,s:s}}", "id", id, "type",
	    "function", "function", "name", name, "arguments", args));
	free(args);
	return rc;
}

/* The assistant message of an answer's content blocks. */
static json_t *
r2c_message(json_t *content)
{
	struct buf text = { 0 }, thinking = { 0 };
	json_t *calls = json_array(), *b, *m = NULL;
	size_t i;

	if (calls == NULL)
		return NULL;
	json_array_foreach(content, i, b)
		if (r2c_block(b, &text, &thinking, calls) < 0)
			goto out;
	m = json_pack("{s:s,s:o}", "role", "assistant", "content",
	    text.len > 0 ? xt_buf_string(&text) : json_null());
	if (m != NULL && ((thinking.len > 0 && xt_put(m, "reasoning_content", xt_buf_string(&thinking)) < 0) ||
	    (json_array_size(calls) > 0 && xt_put(m, "tool_calls", json_incref(calls)) < 0))) {
		json_decref(m);
		m = NULL;
	}
out:
	buf_release(&text);
	buf_release(&thinking);
	json_decref(calls);
	return m;
}

static json_t *
messages_response_to_chat(json_t *resp, struct xlate_error *e)
{
	json_t *content = json_object_get(resp, "content"), *msg, *usage, *out;
	json_t *id = json_object_get(resp, "id"), *model = json_object_get(resp, "model");
	struct counts c = { 0 };
	const char *finish;

	if (!json_is_object(resp) || !json_is_array(content))
		return xlate_fail(e, 502, NULL, "the provider's answer has no 'content'");
	counts_read(&c, json_object_get(resp, "usage"));
	msg = r2c_message(content);
	usage = counts_chat(&c);
	finish = finish_of(json_string_value(json_object_get(resp, "stop_reason")));
	if (strcmp(finish, "tool_calls") == 0 && json_object_get(msg, "tool_calls") == NULL)
		finish = "stop";	/* the call was JSON_TOOL's: the answer */
	out = json_pack("{s:o,s:s,s:I,s:o,s:[{s:i,s:o,s:s,s:n}],s:o}",
	    "id", json_is_string(id) ? json_incref(id) : json_string(""), "object", "chat.completion",
	    "created", (json_int_t)time(NULL),
	    "model", json_is_string(model) ? json_incref(model) : json_string(""),
	    "choices", "index", 0, "message", msg, "finish_reason", finish, "logprobs",
	    "usage", usage);
	if (out == NULL)
		return xlate_fail(e, 500, NULL, "out of memory translating the answer");
	return out;
}

/* A tool call -> a tool_use block; arguments that do not parse go as the string. */
static json_t *
c2r_tool_use(json_t *call)
{
	json_t *fn = json_object_get(call, "function"), *id = json_object_get(call, "id");
	json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
	json_t *input = NULL;

	if (json_is_string(args) && (input = json_loads(json_string_value(args), 0, NULL)) != NULL &&
	    !json_is_object(input)) {
		json_decref(input);
		input = NULL;
	}
	if (input == NULL)
		input = json_is_string(args) && json_string_length(args) > 0 ? json_incref(args) :
		    json_object();
	return json_pack("{s:s,s:o,s:o,s:o}", "type", "tool_use",
	    "id", json_is_string(id) ? json_incref(id) : json_string("toolu_tollgate"),
	    "name", json_is_string(name) ? json_incref(name) : json_string(""), "input", input);
}

/* The chat message's content as a string: a string, or text parts joined. */
static json_t *
c2r_text(json_t *content)
{
	struct buf b = { 0 };
	json_t *part, *t, *s;
	size_t i;

	if (json_is_string(content))
		return json_incref(content);
	json_array_foreach(content, i, part)
		if (json_is_string(t = json_object_get(part, "text")) && xt_join(&b, t, "") < 0) {
			buf_release(&b);
			return NULL;
		}
	s = xt_buf_string(&b);
	buf_release(&b);
	return s;
}

static json_t *
c2r_content(json_t *msg)
{
	json_t *blocks = json_array(), *reason = json_object_get(msg, "reasoning_content");
	json_t *calls = json_object_get(msg, "tool_calls"), *text, *call;
	size_t i;

	if (blocks == NULL)
		return NULL;
	if (json_is_string(reason) && json_string_length(reason) > 0 &&
	    json_array_append_new(blocks, json_pack("{s:s,s:O,s:s}", "type", "thinking",
	    "thinking", reason, "signature", "")) < 0)
		goto fail;
	if ((text = c2r_text(json_object_get(msg, "content"))) == NULL)
		goto fail;
	if (text_block(blocks, text) < 0) {
		json_decref(text);
		goto fail;
	}
	json_decref(text);
	json_array_foreach(calls, i, call)
		if (json_is_object(call) && json_array_append_new(blocks, c2r_tool_use(call)) < 0)
			goto fail;
	return blocks;
fail:
	json_decref(blocks);
	return NULL;
}

/* Anthropic's message id: the chat id, prefixed msg_ unless it is one already. */
static json_t *
message_id(json_t *id)
{
	const char *s = json_string_value(id);

	if (s == NULL || *s == '\0')
		return json_string("msg_tollgate");
	if (strncmp(s, "msg_", 4) == 0)
		return json_incref(id);
	return json_sprintf("msg_%s", s);
}

static json_t *
messages_response_from_chat(json_t *chat, const char *model, struct xlate_error *e)
{
	json_t *choice = json_array_get(json_object_get(chat, "choices"), 0), *msg, *m, *out;
	struct counts c = { 0 };

	msg = json_object_get(choice, "message");
	if (!json_is_object(chat) || !json_is_object(msg))
		return xlate_fail(e, 502, NULL, "the provider's answer has no 'choices[0].message'");
	counts_from_chat(&c, json_object_get(chat, "usage"));
	m = json_object_get(chat, "model");
	out = json_pack("{s:o,s:s,s:s,s:o,s:o,s:s,s:n,s:o}", "id",
	    message_id(json_object_get(chat, "id")), "type", "message", "role", "assistant",
	    "model", json_is_string(m) ? json_incref(m) : json_string(model ? model : ""),
	    "content", c2r_content(msg), "stop_reason",
	    stop_reason_of(json_string_value(json_object_get(choice, "finish_reason"))),
	    "stop_sequence", "usage", counts_messages(&c));
	if (out == NULL)
		return xlate_fail(e, 500, NULL, "out of memory translating the answer");
	return out;
}

/* ---- an Anthropic stream -> chat chunks ------------------------------------------ */

/* A tool_use block of the stream and its OpenAI index. */
struct tool_at {
	json_int_t	block;
	int		index;		/* the OpenAI index; -1: JSON_TOOL's, its input the text */
};

struct decoder {
	json_t		*id, *model;
	time_t		 created;
	struct counts	 usage;
	struct tool_at	*tools;
	size_t		 ntools, captools;
	int		 ncalls;	/* tool calls told the client (JSON_TOOL's is not one) */
};

static void *
messages_decoder_new(void)
{
	struct decoder *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->id = json_string("");
	s->model = json_string("");
	s->created = time(NULL);
	if (s->id == NULL || s->model == NULL) {
		json_decref(s->id);
		json_decref(s->model);
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

static int
dec_message_start(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *m = json_object_get(ev, "message");

	xt_keep_string(&s->id, json_object_get(m, "id"));
	xt_keep_string(&s->model, json_object_get(m, "model"));
	counts_read(&s->usage, json_object_get(m, "usage"));
	return dec_emit(s, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL,
	    emit, arg);
}

static int
dec_block_start(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *b = json_object_get(ev, "content_block"), *idx = json_object_get(ev, "index");
	const char *t = json_string_value(json_object_get(b, "type"));
	json_t *id = json_object_get(b, "id"), *name = json_object_get(b, "name");
	int k = (int)s->ncalls;

	if (t == NULL || strcmp(t, "tool_use") != 0)
		return 0;	/* text and thinking blocks open empty: their deltas follow */
	if (ARRAY_GROW(s->tools, s->ntools, s->captools) < 0)
		return -1;
	s->tools[s->ntools].block = json_is_integer(idx) ? json_integer_value(idx) : -1;
	s->tools[s->ntools++].index = json_tool_call(b) ? -1 : k;
	if (json_tool_call(b))
		return 0;	/* its input_json_delta pieces are the text */
	s->ncalls++;
	return dec_emit(s, json_pack("{s:[{s:i,s:o,s:s,s:{s:o,s:s}}]}", "tool_calls", "index", k,
	    "id", json_is_string(id) ? json_incref(id) : json_string(""), "type", "function",
	    "function", "name", json_is_string(name) ? json_incref(name) : json_string(""),
	    "arguments", ""), NULL, emit, arg);
}

/* The tool_use block of index idx: the last one when unnamed; NULL for none. */
static const struct tool_at *
dec_tool(struct decoder *s, json_t *idx)
{
	size_t i;

	for (i = s->ntools; i-- > 0;)
		if (!json_is_integer(idx) || s->tools[i].block == json_integer_value(idx))
			return &s->tools[i];
	return NULL;
}

static int
dec_block_delta(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *d = json_object_get(ev, "delta"), *v;
	const char *t = json_string_value(json_object_get(d, "type"));
	const struct tool_at *k;

	if (t == NULL)
		return 0;
	if (strcmp(t, "text_delta") == 0 && json_is_string(v = json_object_get(d, "text")))
		return dec_emit(s, json_pack("{s:O}", "content", v), NULL, emit, arg);
	if (strcmp(t, "thinking_delta") == 0 && json_is_string(v = json_object_get(d, "thinking")))
		return dec_emit(s, json_pack("{s:O}", "reasoning_content", v), NULL, emit, arg);
	if (strcmp(t, "input_json_delta") != 0 || !json_is_string(v = json_object_get(d,
	    "partial_json")) || (k = dec_tool(s, json_object_get(ev, "index"))) == NULL)
		return 0;	/* signature_delta, citations_delta: nothing chat carries */
	if (k->index < 0)	/* JSON_TOOL's input: the answer's text */
		return dec_emit(s, json_pack("{s:O}", "content", v), NULL, emit, arg);
	return dec_emit(s, json_pack("{s:[{s:i,s:{s:O}}]}", "tool_calls", "index", k->index,
	    "function", "arguments", v), NULL, emit, arg);
}

static int
dec_message_delta(struct decoder *s, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *d = json_object_get(ev, "delta");
	const char *finish = finish_of(json_string_value(json_object_get(d, "stop_reason")));

	counts_read(&s->usage, json_object_get(ev, "usage"));
	if (strcmp(finish, "tool_calls") == 0 && s->ncalls == 0)
		finish = "stop";	/* the call was JSON_TOOL's: the answer */
	return dec_emit(s, json_object(), finish, emit, arg);
}

static int
dec_message_stop(struct decoder *s, xlate_chunk_fn emit, void *arg)
{
	json_t *chunk = json_pack("{s:O,s:s,s:I,s:O,s:[],s:o}", "id", s->id, "object",
	    "chat.completion.chunk", "created", (json_int_t)s->created, "model", s->model,
	    "choices", "usage", counts_chat(&s->usage));
	int rc;

	if (chunk == NULL)
		return -1;
	rc = emit(arg, chunk);
	json_decref(chunk);
	return rc < 0 ? -1 : 1;
}

static int
dec_error(json_t *ev, xlate_chunk_fn emit, void *arg)
{
	json_t *err = json_object_get(ev, "error"), *chunk;
	const char *m = json_string_value(json_object_get(err, "message"));
	const char *t = json_string_value(json_object_get(err, "type"));
	int rc;

	chunk = json_pack("{s:{s:s,s:s}}", "error", "message", m ? m : "the provider's stream failed",
	    "type", t ? t : "api_error");
	if (chunk == NULL)
		return -1;
	rc = emit(arg, chunk);
	json_decref(chunk);
	return rc < 0 ? -1 : 1;
}

static int
dec_dispatch(struct decoder *s, const char *t, json_t *ev, xlate_chunk_fn emit, void *arg)
{
	if (strcmp(t, "message_start") == 0)
		return dec_message_start(s, ev, emit, arg);
	if (strcmp(t, "content_block_start") == 0)
		return dec_block_start(s, ev, emit, arg);
	if (strcmp(t, "content_block_delta") == 0)
		return dec_block_delta(s, ev, emit, arg);
	if (strcmp(t, "message_delta") == 0)
		return dec_message_delta(s, ev, emit, arg);
	if (strcmp(t, "message_stop") == 0)
		return dec_message_stop(s, emit, arg);
	if (strcmp(t, "error") == 0)
		return dec_error(ev, emit, arg);
	return 0;	/* ping, content_block_stop, and event types still to come */
}

static int
messages_decoder_event(void *st, const char *name, const char *data, size_t len,
    xlate_chunk_fn emit, void *arg)
{
	struct decoder *s = st;
	const char *t;
	json_t *ev;
	int rc;

	if (len == 0 || data == NULL)
		return 0;
	if ((ev = json_loadb(data, len, 0, NULL)) == NULL || !json_is_object(ev)) {
		json_decref(ev);
		return -1;
	}
	/* the SSE event name says it; the data's type says it again when there is none */
	t = name != NULL && *name != '\0' ? name : json_string_value(json_object_get(ev, "type"));
	rc = t != NULL ? dec_dispatch(s, t, ev, emit, arg) : 0;
	json_decref(ev);
	return rc;
}

static void
messages_decoder_free(void *st)
{
	struct decoder *s = st;

	if (s == NULL)
		return;
	json_decref(s->id);
	json_decref(s->model);
	free(s->tools);
	free(s);
}

/* ---- chat chunks -> an Anthropic stream ------------------------------------------- */

enum block { BLOCK_NONE, BLOCK_TEXT, BLOCK_THINKING, BLOCK_TOOL };

struct encoder {
	json_t		*model;
	int		 started;	/* message_start sent */
	enum block	 open;
	int		 index;		/* the open block's, or the next one's */
	json_int_t	 tool;		/* the OpenAI index of the open tool block */
	json_t		*tool_id;	/* and its id */
	const char	*stop_reason;
	struct counts	 usage;
	int		 failed;	/* an error event sent: the stream's last */
};

static void *
messages_encoder_new(const char *model, int include_usage)
{
	struct encoder *s = calloc(1, sizeof(*s));

	(void)include_usage;	/* an Anthropic stream always ends with its usage */
	if (s == NULL)
		return NULL;
	if ((s->model = json_string(model ? model : "")) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/* Appends event name with data v (reference taken) to b; 0 or -1. */
static int
sse(struct buf *b, const char *name, json_t *v)
{
	int rc = xt_sse(b, name, v);

	json_decref(v);
	return rc;
}

static int
enc_start(struct encoder *s, json_t *chunk, struct buf *b)
{
	json_t *id;

	if (s->started)
		return 0;
	s->started = 1;
	xt_keep_string(&s->model, json_object_get(chunk, "model"));
	if ((id = message_id(json_object_get(chunk, "id"))) == NULL)
		return -1;
	return sse(b, "message_start", json_pack("{s:s,s:{s:o,s:s,s:s,s:O,s:[],s:n,s:n,s:{s:i,s:i}}}",
	    "type", "message_start", "message", "id", id, "type", "message", "role", "assistant",
	    "model", s->model, "content", "stop_reason", "stop_sequence", "usage",
	    "input_tokens", 0, "output_tokens", 0));
}

static int
enc_close(struct encoder *s, struct buf *b)
{
	if (s->open == BLOCK_NONE)
		return 0;
	s->open = BLOCK_NONE;
	json_decref(s->tool_id);
	s->tool_id = NULL;
	return sse(b, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop",
	    "index", s->index++));
}

/* Opens a block of kind, described by cb (reference taken), closing the open one. */
static int
enc_open(struct encoder *s, enum block kind, json_t *cb, struct buf *b)
{
	if (enc_close(s, b) < 0) {
		json_decref(cb);
		return -1;
	}
	s->open = kind;
	return sse(b, "content_block_start", json_pack("{s:s,s:i,s:o}", "type",
	    "content_block_start", "index", s->index, "content_block", cb));
}

/* A delta of the open block: {type, key: v}. */
static int
enc_delta(struct encoder *s, const char *type, const char *key, json_t *v, struct buf *b)
{
	return sse(b, "content_block_delta", json_pack("{s:s,s:i,s:{s:s,s:O}}", "type",
	    "content_block_delta", "index", s->index, "delta", "type", type, key, v));
}

/* Text or thinking: into the open block of that kind, opened when it is not. */
static int
enc_text(struct encoder *s, enum block kind, json_t *v, struct buf *b)
{
	int think = kind == BLOCK_THINKING;

	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	if (s->open != kind && enc_open(s, kind, think ?
	    json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", "", "signature", "") :
	    json_pack("{s:s,s:s}", "type", "text", "text", ""), b) < 0)
		return -1;
	return enc_delta(s, think ? "thinking_delta" : "text_delta", think ? "thinking" : "text",
	    v, b);
}

static int
enc_tool_open(struct encoder *s, json_int_t k, json_t *id, json_t *name, struct buf *b)
{
	json_t *cb, *tid;

	tid = json_is_string(id) ? json_incref(id) : json_sprintf("toolu_tollgate_%lld",
	    (long long)k);
	cb = json_pack("{s:s,s:O,s:o,s:{}}", "type", "tool_use", "id", tid, "name",
	    json_is_string(name) ? json_incref(name) : json_string(""), "input");
	if (enc_open(s, BLOCK_TOOL, cb, b) < 0) {
		json_decref(tid);
		return -1;
	}
	s->tool = k;
	s->tool_id = tid;
	return 0;
}

/*
 * One tool call delta.  A call starts when an id or a name comes for an
 * index other than the open block's (or a new id for the same index, as
 * some providers send every call at index 0).  Arguments for a call whose
 * block was closed cannot go back into it: they open a block of their own.
 */
static int
enc_tool(struct encoder *s, json_t *tc, size_t pos, struct buf *b)
{
	json_t *fn = json_object_get(tc, "function"), *id = json_object_get(tc, "id");
	json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
	json_t *idx = json_object_get(tc, "index");
	json_int_t k = json_is_integer(idx) ? json_integer_value(idx) : (json_int_t)pos;
	int same = s->open == BLOCK_TOOL && s->tool == k;

	if (!json_is_object(tc))
		return 0;
	if (same && json_is_string(id) && !json_equal(id, s->tool_id))
		same = 0;
	if ((!same && (json_is_string(id) || json_is_string(name) ||
	    (json_is_string(args) && json_string_length(args) > 0))) &&
	    enc_tool_open(s, k, id, name, b) < 0)
		return -1;
	if (!json_is_string(args) || json_string_length(args) == 0)
		return 0;
	return enc_delta(s, "input_json_delta", "partial_json", args, b);
}

static int
enc_choice(struct encoder *s, json_t *choice, struct buf *b)
{
	json_t *delta = json_object_get(choice, "delta"), *tcs, *tc;
	const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
	size_t i;

	if (finish != NULL)
		s->stop_reason = stop_reason_of(finish);
	if (!json_is_object(delta))
		return 0;
	if (enc_text(s, BLOCK_THINKING, json_object_get(delta, "reasoning_content"), b) < 0 ||
	    enc_text(s, BLOCK_TEXT, json_object_get(delta, "content"), b) < 0)
		return -1;
	tcs = json_object_get(delta, "tool_calls");
	json_array_foreach(tcs, i, tc)
		if (enc_tool(s, tc, i, b) < 0)
			return -1;
	return 0;
}

static int
enc_error(json_t *err, struct buf *b)
{
	const char *m = json_string_value(json_object_get(err, "message"));
	const char *t = json_string_value(json_object_get(err, "type"));

	if (m == NULL)
		m = json_is_string(err) ? json_string_value(err) : "the provider's stream failed";
	return sse(b, "error", json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error",
	    "type", t ? t : "api_error", "message", m));
}

static int
messages_encoder_chunk(void *st, json_t *chunk, struct xlate_out *out)
{
	struct encoder *s = st;
	json_t *choices = json_object_get(chunk, "choices"), *c, *usage, *err;
	size_t i;

	if (!json_is_object(chunk))
		return 0;
	if (s->failed)
		return 0;
	if ((err = json_object_get(chunk, "error")) != NULL) {
		s->failed = 1;
		return enc_error(err, out->out);
	}
	if (enc_start(s, chunk, out->out) < 0)
		return -1;
	/* an Anthropic message is one choice: the first (index 0) */
	json_array_foreach(choices, i, c) {
		json_t *ci = json_object_get(c, "index");

		if (json_is_object(c) && (ci == NULL || json_integer_value(ci) == 0)) {
			if (enc_choice(s, c, out->out) < 0)
				return -1;
			break;
		}
	}
	if (json_is_object(usage = json_object_get(chunk, "usage")))
		counts_from_chat(&s->usage, usage);
	return 0;
}

static int
messages_encoder_end(void *st, struct xlate_out *out)
{
	struct encoder *s = st;
	json_t *u = json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", s->usage.input,
	    "output_tokens", s->usage.output, "cache_read_input_tokens", s->usage.cache_read,
	    "cache_creation_input_tokens", s->usage.cache_write);

	if (s->failed) {
		/* Anthropic's stream ends at its error event: nothing closes a failed message */
		json_decref(u);
		return 0;
	}
	if (u == NULL)
		return -1;
	if (enc_start(s, NULL, out->out) < 0 || enc_close(s, out->out) < 0) {
		json_decref(u);
		return -1;
	}
	if (sse(out->out, "message_delta", json_pack("{s:s,s:{s:s,s:n},s:o}", "type",
	    "message_delta", "delta", "stop_reason", s->stop_reason ? s->stop_reason : "end_turn",
	    "stop_sequence", "usage", u)) < 0)
		return -1;
	return sse(out->tail, "message_stop", json_pack("{s:s}", "type", "message_stop"));
}

static void
messages_encoder_free(void *st)
{
	struct encoder *s = st;

	if (s == NULL)
		return;
	json_decref(s->model);
	json_decref(s->tool_id);
	free(s);
}

/* ---- errors ----------------------------------------------------------------------- */

/* Anthropic's error type for an HTTP status (its SDKs go by the status). */
static const char *
error_type(int status, const char *type)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 529: return "overloaded_error";
	default:
		if (status >= 500)
			return "api_error";
		return type != NULL && *type ? type : "invalid_request_error";
	}
}

static int
messages_error_body(int status, const char *type, const char *message, const char *param,
    struct buf *out)
{
	/* a message may quote a provider's bytes that are not UTF-8: an error has a body still */
	json_t *e = json_pack("{s:s,s:{s:o,s:o}}", "type", "error", "error",
	    "type", xt_any_string(error_type(status, type)), "message",
	    xt_any_string(message ? message : ""));
	char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	int rc = text ? buf_printf(out, "%s\n", text) : -1;

	(void)param;	/* Anthropic's errors have no place for it; the message names it */
	free(text);
	json_decref(e);
	return rc;
}

const struct xlate_format xlate_messages = {
	.name = "messages",
	.api = XLATE_MESSAGES,
	.request_to_chat = messages_request_to_chat,
	.request_from_chat = messages_request_from_chat,
	.response_to_chat = messages_response_to_chat,
	.response_from_chat = messages_response_from_chat,
	.decoder_new = messages_decoder_new,
	.decoder_event = messages_decoder_event,
	.decoder_free = messages_decoder_free,
	.encoder_new = messages_encoder_new,
	.encoder_chunk = messages_encoder_chunk,
	.encoder_end = messages_encoder_end,
	.encoder_free = messages_encoder_free,
	.error_body = messages_error_body,
	.error_parse = xlate_parse_error,	/* error.message, error.type: as OpenAI's */
	.error_type = error_type,
};

/* ---- the dialect ---------------------------------------------------------------- */

#define ANTHROPIC_VERSION	"2023-06-01"

static int
anthropic_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	size_t n = strlen(d->base);
	int w;

	(void)stream;	/* the body says it */
	if (ep != ENDPOINT_MESSAGES)
		return -1;
	/* "https://api.anthropic.com", or a base that already ends in /v1 */
	w = snprintf(out, outlen, "%s%s", d->base,
	    n >= 3 && strcmp(d->base + n - 3, "/v1") == 0 ? "/messages" : "/v1/messages");
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

static struct curl_slist *
add(struct curl_slist *l, const char *name, const char *value)
{
	char line[1024];

	if (l == NULL)
		return NULL;
	snprintf(line, sizeof(line), "%s: %s", name, value);
	return curl_slist_append(l, line) ? l : NULL;
}

static struct curl_slist *
anthropic_headers(struct curl_slist *l, dialect_header_fn client, void *arg)
{
	const char *v = client ? client(arg, "anthropic-version") : NULL;

	l = add(l, "anthropic-version", v ? v : ANTHROPIC_VERSION);
	if (client != NULL && (v = client(arg, "anthropic-beta")) != NULL)
		l = add(l, "anthropic-beta", v);
	return l;
}

int
anthropic_stream_end(const char *name, const char *data, size_t len)
{
	(void)data, (void)len;
	return strcmp(name, "message_stop") == 0;
}

int
anthropic_usage_chunk(const char *data, size_t len)
{
	(void)data, (void)len;
	return 0;	/* Anthropic always sends usage: tollgate never asks for it */
}

int
anthropic_cloud_body(struct buf *b, const char *version, int keep_stream)
{
	json_t *o = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	char *s;
	int rc = -1;

	if (!json_is_object(o))
		goto out;
	json_object_del(o, "model");
	if (!keep_stream)
		json_object_del(o, "stream");
	if (json_object_get(o, "anthropic_version") == NULL &&
	    json_object_set_new(o, "anthropic_version", json_string(version)) < 0)
		goto out;
	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	b->len = 0;
	rc = buf_append(b, s, strlen(s));
	free(s);
out:
	json_decref(o);
	return rc;
}

const struct dialect dialect_anthropic = {
	.name = "anthropic",
	.api = XLATE_MESSAGES,
	.shape = USAGE_SHAPE_ANTHROPIC,
	.native = 1u << ENDPOINT_MESSAGES,
	.url = anthropic_url,
	.headers = anthropic_headers,
	.client_headers = 1,
	.needs_max_tokens = 1,
	.stream_end = anthropic_stream_end,
	.usage_chunk = anthropic_usage_chunk,
};
