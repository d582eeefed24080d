/*
 * OpenAI Responses as a client format (xlate.h): a Responses request (the
 * OpenAI SDK's responses.create, the Agents SDK) to the chat hub, and the
 * hub's answers and streams back as Responses objects and events.  No
 * dialect speaks Responses upstream yet (OpenAI's own Responses API is
 * relayed as is), so the upstream directions refuse.  Every tree comes from
 * outside: types are checked before they are read.  Run by workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider/xlate.h"

#define PATHLEN	96

static json_t *
oom(struct xlate_error *e)
{
	return xlate_fail(e, 500, NULL, "out of memory translating the request");
}

/* Sets key to v (v's reference taken); 0 or -1. */
static int
put(json_t *o, const char *key, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(o, key, v);
}

/* A content part of an input message -> a chat part; NULL with e set. */
static json_t *
part_to_chat(json_t *p, const char *path, struct xlate_error *e)
{
	const char *t = json_string_value(json_object_get(p, "type"));
	json_t *url;

	if (t == NULL)
		return xlate_fail(e, 400, path, "'%s.type' must be a string", path);
	if (strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0 || strcmp(t, "text") == 0) {
		if (!json_is_string(json_object_get(p, "text")))
			return xlate_fail(e, 400, path, "'%s.text' must be a string", path);
		return json_pack("{s:s,s:O}", "type", "text", "text", json_object_get(p, "text"));
	}
	if (strcmp(t, "input_image") == 0 && json_is_string(url = json_object_get(p, "image_url")))
		return json_pack("{s:s,s:{s:O}}", "type", "image_url", "image_url", "url", url);
	return xlate_fail(e, 400, path, "'%s': a '%s' part has no equivalent for this model", path, t);
}

/* An input message item's content (a string or parts) -> chat content. */
static json_t *
content_to_chat(json_t *c, const char *path, struct xlate_error *e)
{
	char p[PATHLEN];
	json_t *parts, *part, *one;
	size_t i;

	if (json_is_string(c))
		return json_incref(c);
	if (!json_is_array(c))
		return xlate_fail(e, 400, path, "'%s' must be a string or an array of parts", path);
	if ((parts = json_array()) == NULL)
		return oom(e);
	json_array_foreach(c, i, part) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if ((one = part_to_chat(part, p, e)) == NULL || json_array_append_new(parts, one) < 0) {
			json_decref(parts);
			return one == NULL ? NULL : oom(e);
		}
	}
	return parts;
}

/* The last message of msgs when it is an assistant's with tool_calls, to add calls to. */
static json_t *
open_calls(json_t *msgs)
{
	json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);

	return json_is_array(json_object_get(last, "tool_calls")) ? last : NULL;
}

/* One input item appended to msgs as chat messages; 0 or -1 with e set. */
static int
item_to_chat(json_t *it, size_t i, json_t *msgs, struct xlate_error *e)
{
	const char *type = json_string_value(json_object_get(it, "type"));
	const char *role = json_string_value(json_object_get(it, "role"));
	char path[PATHLEN];
	json_t *m, *c, *call;

	snprintf(path, sizeof(path), "input[%zu]", i);
	if (!json_is_object(it))
		return xlate_fail(e, 400, path, "'%s' must be an object", path), -1;
	if (type == NULL || strcmp(type, "message") == 0) {
		if (role == NULL || (strcmp(role, "user") && strcmp(role, "assistant") &&
		    strcmp(role, "system") && strcmp(role, "developer")))
			return xlate_fail(e, 400, path, "'%s.role' must be user, assistant, system or "
			    "developer", path), -1;
		snprintf(path + strlen(path), sizeof(path) - strlen(path), ".content");
		if ((c = content_to_chat(json_object_get(it, "content"), path, e)) == NULL)
			return -1;
		m = json_pack("{s:s,s:o}", "role", role, "content", c);
		return m == NULL || json_array_append_new(msgs, m) < 0 ? (oom(e), -1) : 0;
	}
	if (strcmp(type, "function_call") == 0) {
		if (!json_is_string(json_object_get(it, "call_id")) ||
		    !json_is_string(json_object_get(it, "name")) ||
		    !json_is_string(json_object_get(it, "arguments")))
			return xlate_fail(e, 400, path, "'%s' needs call_id, name and arguments (strings)",
			    path), -1;
		call = json_pack("{s:O,s:s,s:{s:O,s:O}}", "id", json_object_get(it, "call_id"), "type",
		    "function", "function", "name", json_object_get(it, "name"), "arguments",
		    json_object_get(it, "arguments"));
		/* consecutive calls are one assistant turn */
		if ((m = open_calls(msgs)) != NULL)
			return json_array_append_new(json_object_get(m, "tool_calls"), call) < 0 ?
			    (oom(e), -1) : 0;
		m = json_pack("{s:s,s:n,s:[o]}", "role", "assistant", "content", "tool_calls", call);
		return m == NULL || json_array_append_new(msgs, m) < 0 ? (oom(e), -1) : 0;
	}
	if (strcmp(type, "function_call_output") == 0) {
		json_t *out = json_object_get(it, "output");

		if (!json_is_string(json_object_get(it, "call_id")))
			return xlate_fail(e, 400, path, "'%s.call_id' must be a string", path), -1;
		snprintf(path + strlen(path), sizeof(path) - strlen(path), ".output");
		if ((c = content_to_chat(out, path, e)) == NULL)
			return -1;
		m = json_pack("{s:s,s:O,s:o}", "role", "tool", "tool_call_id",
		    json_object_get(it, "call_id"), "content", c);
		return m == NULL || json_array_append_new(msgs, m) < 0 ? (oom(e), -1) : 0;
	}
	if (strcmp(type, "reasoning") == 0)
		return 0;	/* the model's own earlier thinking: nothing to send back */
	return xlate_fail(e, 400, path, "'%s': an item of type '%s' has no equivalent for this model",
	    path, type), -1;
}

/* tools[{type: function, name, description, parameters, strict}] -> chat's nested form. */
static json_t *
tools_to_chat(json_t *tools, struct xlate_error *e)
{
	char path[PATHLEN];
	json_t *out = json_array(), *t, *fn;
	size_t i;

	if (out == NULL)
		return oom(e);
	json_array_foreach(tools, i, t) {
		const char *type = json_string_value(json_object_get(t, "type"));

		snprintf(path, sizeof(path), "tools[%zu]", i);
		if (type == NULL || strcmp(type, "function") != 0 ||
		    !json_is_string(json_object_get(t, "name"))) {
			json_decref(out);
			return xlate_fail(e, 400, path, "'%s': only function tools have an equivalent for "
			    "this model (a built-in '%s' tool has none)", path, type ? type : "?");
		}
		fn = json_pack("{s:O}", "name", json_object_get(t, "name"));
		if (fn == NULL || (json_object_get(t, "description") &&
		    put(fn, "description", json_incref(json_object_get(t, "description"))) < 0) ||
		    (json_object_get(t, "parameters") &&
		    put(fn, "parameters", json_incref(json_object_get(t, "parameters"))) < 0) ||
		    json_array_append_new(out, json_pack("{s:s,s:o}", "type", "function", "function",
		    fn)) < 0) {
			json_decref(out);
			return oom(e);
		}
	}
	return out;
}

/* tool_choice: the strings are chat's own; {type: function, name} nests the name. */
static json_t *
tool_choice_to_chat(json_t *v, struct xlate_error *e)
{
	json_t *name = json_object_get(v, "name");

	if (json_is_string(v))
		return json_incref(v);
	if (json_is_string(name))
		return json_pack("{s:s,s:{s:O}}", "type", "function", "function", "name", name);
	return xlate_fail(e, 400, "tool_choice", "'tool_choice' must be auto, required, none or "
	    "{\"type\": \"function\", \"name\": ...}");
}

/* text.format -> response_format; {type: text} is chat's default. */
static int
format_to_chat(json_t *chat, json_t *text, struct xlate_error *e)
{
	json_t *f = json_object_get(text, "format");
	const char *t = json_string_value(json_object_get(f, "type"));
	json_t *js;

	if (f == NULL || (t != NULL && strcmp(t, "text") == 0))
		return 0;
	if (t != NULL && strcmp(t, "json_object") == 0)
		return put(chat, "response_format", json_pack("{s:s}", "type", "json_object")) < 0 ?
		    (oom(e), -1) : 0;
	if (t == NULL || strcmp(t, "json_schema") != 0)
		return xlate_fail(e, 400, "text.format", "'text.format.type' must be text, "
		    "json_object or json_schema"), -1;
	if ((js = json_object()) == NULL)
		return oom(e), -1;
	json_object_set(js, "name", json_object_get(f, "name") ? json_object_get(f, "name") :
	    json_string("output"));
	if (json_object_get(f, "schema"))
		json_object_set(js, "schema", json_object_get(f, "schema"));
	if (json_object_get(f, "strict"))
		json_object_set(js, "strict", json_object_get(f, "strict"));
	return put(chat, "response_format", json_pack("{s:s,s:o}", "type", "json_schema",
	    "json_schema", js)) < 0 ? (oom(e), -1) : 0;
}

/* Fields read below; anything else has no equivalent. */
static const char *const known[] = {
	"model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls",
	"max_output_tokens", "temperature", "top_p", "user", "metadata", "service_tier",
	"reasoning", "text", "stream", "store", "previous_response_id", "conversation",
	"stream_options", "safety_identifier", "prompt_cache_key",
};

static int
is_known(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], k) == 0)
			return 1;
	return 0;
}

/* The fields that pass as they are, and the ones that need state or have no peer. */
static int
simple_fields(json_t *req, json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	static const char *const same[] = { "temperature", "top_p", "user", "metadata",
		"service_tier", "parallel_tool_calls" };
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(req, k, v) {
		if (json_is_null(v) || is_known(k))
			continue;
		if (!o->drop_params)
			return xlate_fail(e, 400, k, "'%s' has no equivalent for this model (set "
			    "drop_params to drop it)", k), -1;
	}
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		if ((v = json_object_get(req, same[i])) != NULL && !json_is_null(v) &&
		    put(chat, same[i], json_incref(v)) < 0)
			return oom(e), -1;
	if (json_is_true(json_object_get(req, "store")) && !o->drop_params)
		return xlate_fail(e, 400, "store", "'store': true needs a provider that keeps "
		    "responses; this one keeps none (set drop_params to drop it)"), -1;
	return 0;
}

static json_t *
responses_request_to_chat(json_t *req, const struct xlate_opts *o, struct xlate_error *e)
{
	json_t *chat, *msgs, *in = json_object_get(req, "input"), *v, *it;
	const char *sys = json_string_value(json_object_get(req, "instructions"));
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *k = i ? "conversation" : "previous_response_id";

		if ((v = json_object_get(req, k)) != NULL && !json_is_null(v))
			return xlate_fail(e, 400, k, "'%s' is not supported for this model: the provider "
			    "keeps no responses (send the whole input)", k);
	}
	if ((chat = json_object()) == NULL || (msgs = json_array()) == NULL ||
	    json_object_set_new(chat, "messages", msgs) < 0) {
		json_decref(chat);
		return oom(e);
	}
	if (sys != NULL && json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system",
	    "content", sys)) < 0)
		goto nomem;
	if (json_is_string(in)) {
		if (json_array_append_new(msgs, json_pack("{s:s,s:O}", "role", "user", "content",
		    in)) < 0)
			goto nomem;
	} else if (json_is_array(in)) {
		json_array_foreach(in, i, it)
			if (item_to_chat(it, i, msgs, e) < 0)
				goto fail;
	} else {
		xlate_fail(e, 400, "input", "'input' must be a string or an array of items");
		goto fail;
	}
	if (simple_fields(req, chat, o, e) < 0 || format_to_chat(chat, json_object_get(req, "text"), e) < 0)
		goto fail;
	if ((v = json_object_get(req, "tools")) != NULL && json_is_array(v) && json_array_size(v) &&
	    put(chat, "tools", tools_to_chat(v, e)) < 0)
		goto fail_or_nomem;
	if ((v = json_object_get(req, "tool_choice")) != NULL && !json_is_null(v) &&
	    put(chat, "tool_choice", tool_choice_to_chat(v, e)) < 0)
		goto fail_or_nomem;
	if ((v = json_object_get(req, "max_output_tokens")) != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			xlate_fail(e, 400, "max_output_tokens", "'max_output_tokens' must be a positive "
			    "integer");
			goto fail;
		}
		if (put(chat, o->reasoning_model ? "max_completion_tokens" : "max_tokens",
		    json_incref(v)) < 0)
			goto nomem;
	}
	v = json_object_get(json_object_get(req, "reasoning"), "effort");
	if (json_is_string(v) && put(chat, "reasoning_effort", json_incref(v)) < 0)
		goto nomem;
	if (json_is_true(json_object_get(req, "stream")) &&
	    (put(chat, "stream", json_true()) < 0 || put(chat, "stream_options",
	    json_pack("{s:b}", "include_usage", 1)) < 0))
		goto nomem;
	return chat;
fail_or_nomem:
	if (e->status == 0)
		goto nomem;
	goto fail;
nomem:
	oom(e);
fail:
	json_decref(chat);
	return NULL;
}

/* ---- the upstream directions: no dialect speaks Responses upstream yet --------- */

static json_t *
responses_request_from_chat(json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	(void)chat, (void)o;
	return xlate_fail(e, 400, NULL, "no provider is reached through OpenAI Responses here");
}

static json_t *
responses_response_to_chat(json_t *resp, struct xlate_error *e)
{
	(void)resp;
	return xlate_fail(e, 502, NULL, "no provider is reached through OpenAI Responses here");
}

static void *
responses_decoder_new(void)
{
	return NULL;	/* xlate_stream_new() then refuses the stream */
}

static int
responses_decoder_event(void *st, const char *name, const char *data, size_t len,
    xlate_chunk_fn emit, void *arg)
{
	(void)st, (void)name, (void)data, (void)len, (void)emit, (void)arg;
	return -1;
}

static void
responses_decoder_free(void *st)
{
	(void)st;
}

/* ---- answers to a Responses client ------------------------------------------------ */

/* The Responses usage of a hub usage (LiteLLM's convention: prompt includes the cache). */
static json_t *
usage_of(json_t *u)
{
	json_int_t in = json_integer_value(json_object_get(u, "prompt_tokens"));
	json_int_t out = json_integer_value(json_object_get(u, "completion_tokens"));
	json_int_t cached = json_integer_value(json_object_get(json_object_get(u,
	    "prompt_tokens_details"), "cached_tokens"));
	json_int_t reasoning = json_integer_value(json_object_get(json_object_get(u,
	    "completion_tokens_details"), "reasoning_tokens"));

	return json_pack("{s:I,s:{s:I},s:I,s:{s:I},s:I}", "input_tokens", in,
	    "input_tokens_details", "cached_tokens", cached, "output_tokens", out,
	    "output_tokens_details", "reasoning_tokens", reasoning, "total_tokens", in + out);
}

/* A message item holding text. */
static json_t *
message_item(const char *id, const char *text, const char *status)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:[]}]}", "type", "message", "id", id,
	    "status", status, "role", "assistant", "content", "type", "output_text", "text", text,
	    "annotations");
}

static json_t *
call_item(const char *id, const char *call_id, const char *name, const char *args,
    const char *status)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "function_call", "id", id, "call_id",
	    call_id, "name", name, "arguments", args, "status", status);
}

/* The response object around output (taken), with status from finish_reason. */
static json_t *
response_object(const char *id, const char *model, const char *finish, json_t *output,
    json_t *usage, int64_t created)
{
	const char *reason = finish == NULL ? NULL : strcmp(finish, "length") == 0 ?
	    "max_output_tokens" : strcmp(finish, "content_filter") == 0 ? "content_filter" : NULL;

	return json_pack("{s:s,s:s,s:I,s:s,s:s,s:o,s:o,s:n,s:o,s:b,s:s,s:[],s:{s:{s:s}},s:o}",
	    "id", id, "object", "response", "created_at", (json_int_t)created, "status",
	    reason ? "incomplete" : "completed", "model", model, "output", output,
	    "incomplete_details", reason ? json_pack("{s:s}", "reason", reason) : json_null(),
	    "error", "usage", usage ? usage : json_null(), "parallel_tool_calls", 1,
	    "tool_choice", "auto", "tools", "text", "format", "type", "text",
	    "output_text", json_string(""));
}

static json_t *
responses_response_from_chat(json_t *chat, const char *model, struct xlate_error *e)
{
	json_t *c0 = json_array_get(json_object_get(chat, "choices"), 0);
	json_t *msg = json_object_get(c0, "message"), *calls = json_object_get(msg, "tool_calls");
	const char *text = json_string_value(json_object_get(msg, "content"));
	const char *m = json_string_value(json_object_get(chat, "model"));
	const char *cid = json_string_value(json_object_get(chat, "id"));
	json_t *output = json_array(), *r, *tc;
	char id[160];
	size_t i;

	if (output == NULL)
		return oom(e);
	snprintf(id, sizeof(id), "resp_%s", cid ? cid : "tollgate");
	if (text != NULL && *text && json_array_append_new(output, message_item("msg_0", text,
	    "completed")) < 0)
		goto nomem;
	json_array_foreach(calls, i, tc) {
		json_t *fn = json_object_get(tc, "function");
		const char *a = json_string_value(json_object_get(fn, "arguments"));
		char fid[32];

		snprintf(fid, sizeof(fid), "fc_%zu", i);
		if (json_array_append_new(output, call_item(fid,
		    json_string_value(json_object_get(tc, "id")) ?: fid,
		    json_string_value(json_object_get(fn, "name")) ?: "", a ? a : "{}",
		    "completed")) < 0)
			goto nomem;
	}
	r = response_object(id, m ? m : model ? model : "", json_string_value(json_object_get(c0,
	    "finish_reason")), output, usage_of(json_object_get(chat, "usage")), time(NULL));
	if (r == NULL)
		return oom(e);
	if (text != NULL)
		json_object_set_new(r, "output_text", json_string(text));
	return r;
nomem:
	json_decref(output);
	return oom(e);
}

/* ---- streams to a Responses client ------------------------------------------------- */

struct call {
	char	*id, *name;
	struct buf args;
	int	 item;		/* its output_index */
};

struct enc {
	char		 model[128], id[160];
	int		 seq, started, items;
	int		 text_item;	/* output_index of the open message item, or -1 */
	struct buf	 text;
	struct call	*calls;
	size_t		 ncalls, capcalls;
	char		 finish[32];
	json_t		*usage;
	json_t		*done;		/* the finished items, in order */
	int64_t		 created;
};

static void *
responses_encoder_new(const char *model, int include_usage)
{
	struct enc *s = calloc(1, sizeof(*s));

	(void)include_usage;	/* response.completed always carries it */
	if (s == NULL || (s->done = json_array()) == NULL) {
		free(s);
		return NULL;
	}
	snprintf(s->model, sizeof(s->model), "%s", model ? model : "");
	s->text_item = -1;
	s->created = time(NULL);
	return s;
}

/* One event: its type and sequence number put in, serialised to out. */
static int
event(struct enc *s, struct buf *out, const char *type, json_t *ev)
{
	char *text;
	int rc;

	if (ev == NULL || json_object_set_new(ev, "type", json_string(type)) < 0 ||
	    json_object_set_new(ev, "sequence_number", json_integer(s->seq++)) < 0) {
		json_decref(ev);
		return -1;
	}
	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (text == NULL)
		return -1;
	rc = buf_printf(out, "event: %s\ndata: %s\n\n", type, text);
	free(text);
	return rc;
}

static json_t *
snapshot(struct enc *s, const char *status)
{
	json_t *r = response_object(s->id, s->model, NULL, json_array(), NULL, s->created);

	if (r != NULL)
		json_object_set_new(r, "status", json_string(status));
	return r;
}

static int
start(struct enc *s, json_t *chunk, struct buf *out)
{
	const char *m = json_string_value(json_object_get(chunk, "model"));
	const char *id = json_string_value(json_object_get(chunk, "id"));

	if (m != NULL && *m)
		snprintf(s->model, sizeof(s->model), "%s", m);
	snprintf(s->id, sizeof(s->id), "resp_%s", id ? id : "tollgate");
	s->started = 1;
	return event(s, out, "response.created", json_pack("{s:o}", "response",
	    snapshot(s, "in_progress"))) | event(s, out, "response.in_progress",
	    json_pack("{s:o}", "response", snapshot(s, "in_progress")));
}

/* Closes the open message item: its .done events, the item kept for response.completed. */
static int
close_text(struct enc *s, struct buf *out)
{
	const char *t = s->text.data ? s->text.data : "";
	json_t *item;
	int i = s->text_item, rc;

	if (i < 0)
		return 0;
	s->text_item = -1;
	rc = event(s, out, "response.output_text.done", json_pack("{s:s,s:i,s:i,s:s}", "item_id",
	    "msg_0", "output_index", i, "content_index", 0, "text", t));
	rc |= event(s, out, "response.content_part.done", json_pack("{s:s,s:i,s:i,s:{s:s,s:s,s:[]}}",
	    "item_id", "msg_0", "output_index", i, "content_index", 0, "part", "type", "output_text",
	    "text", t, "annotations"));
	item = message_item("msg_0", t, "completed");
	rc |= event(s, out, "response.output_item.done", json_pack("{s:i,s:O}", "output_index", i,
	    "item", item));
	rc |= json_array_append_new(s->done, item);
	return rc;
}

static int
text_delta(struct enc *s, const char *d, struct buf *out)
{
	int rc = 0;

	if (s->text_item < 0) {
		s->text_item = s->items++;
		s->text.len = 0;
		rc |= event(s, out, "response.output_item.added", json_pack("{s:i,s:o}",
		    "output_index", s->text_item, "item", json_pack("{s:s,s:s,s:s,s:s,s:[]}", "type",
		    "message", "id", "msg_0", "status", "in_progress", "role", "assistant",
		    "content")));	/* its part comes with content_part.added */
		rc |= event(s, out, "response.content_part.added", json_pack(
		    "{s:s,s:i,s:i,s:{s:s,s:s,s:[]}}", "item_id", "msg_0", "output_index",
		    s->text_item, "content_index", 0, "part", "type", "output_text", "text", "",
		    "annotations"));
	}
	rc |= buf_append(&s->text, d, strlen(d));
	return rc | event(s, out, "response.output_text.delta", json_pack("{s:s,s:i,s:i,s:s}",
	    "item_id", "msg_0", "output_index", s->text_item, "content_index", 0, "delta", d));
}

static int
call_delta(struct enc *s, json_t *tc, struct buf *out)
{
	json_t *fn = json_object_get(tc, "function");
	const char *id = json_string_value(json_object_get(tc, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const char *a = json_string_value(json_object_get(fn, "arguments"));
	json_int_t k = json_integer_value(json_object_get(tc, "index"));
	struct call *c;
	char fid[32];
	int rc = 0;

	if (k < 0 || k > 64)
		return 0;
	if ((size_t)k >= s->ncalls) {
		if (id == NULL || (size_t)k != s->ncalls || ARRAY_GROW(s->calls, s->ncalls,
		    s->capcalls) < 0)
			return id == NULL ? 0 : -1;
		rc |= close_text(s, out);
		c = &s->calls[s->ncalls++];
		memset(c, 0, sizeof(*c));
		c->id = strdup(id);
		c->name = strdup(name ? name : "");
		c->item = s->items++;
		snprintf(fid, sizeof(fid), "fc_%lld", (long long)k);
		rc |= event(s, out, "response.output_item.added", json_pack("{s:i,s:o}",
		    "output_index", c->item, "item", call_item(fid, id, c->name, "", "in_progress")));
	}
	c = &s->calls[k];
	if (a == NULL || *a == '\0')
		return rc;
	snprintf(fid, sizeof(fid), "fc_%lld", (long long)k);
	rc |= buf_append(&c->args, a, strlen(a));
	return rc | event(s, out, "response.function_call_arguments.delta", json_pack(
	    "{s:s,s:i,s:s}", "item_id", fid, "output_index", c->item, "delta", a));
}

static int
responses_encoder_chunk(void *st, json_t *chunk, struct xlate_out *out)
{
	struct enc *s = st;
	json_t *err = json_object_get(chunk, "error"), *c0, *d, *tc;
	const char *f, *t;
	size_t i;
	int rc = 0;

	if (!s->started && start(s, chunk, out->out) < 0)
		return -1;
	if (json_is_object(err))
		return event(s, out->out, "error", json_pack("{s:s,s:s,s:n}", "code",
		    json_string_value(json_object_get(err, "type")) ?: "api_error", "message",
		    json_string_value(json_object_get(err, "message")) ?: "", "param"));
	if (json_is_object(json_object_get(chunk, "usage"))) {
		json_decref(s->usage);
		s->usage = usage_of(json_object_get(chunk, "usage"));
	}
	c0 = json_array_get(json_object_get(chunk, "choices"), 0);
	d = json_object_get(c0, "delta");
	if ((t = json_string_value(json_object_get(d, "content"))) != NULL && *t)
		rc |= text_delta(s, t, out->out);
	json_array_foreach(json_object_get(d, "tool_calls"), i, tc)
		rc |= call_delta(s, tc, out->out);
	if ((f = json_string_value(json_object_get(c0, "finish_reason"))) != NULL)
		snprintf(s->finish, sizeof(s->finish), "%s", f);
	return rc < 0 ? -1 : 0;
}

static int
responses_encoder_end(void *st, struct xlate_out *out)
{
	struct enc *s = st;
	json_t *r, *item;
	size_t i;
	int rc = 0;
	char fid[32];

	if (!s->started && start(s, NULL, out->out) < 0)
		return -1;
	rc |= close_text(s, out->out);
	for (i = 0; i < s->ncalls; i++) {
		struct call *c = &s->calls[i];
		const char *a = c->args.data ? c->args.data : "";

		snprintf(fid, sizeof(fid), "fc_%zu", i);
		rc |= event(s, out->out, "response.function_call_arguments.done", json_pack(
		    "{s:s,s:i,s:s}", "item_id", fid, "output_index", c->item, "arguments", a));
		item = call_item(fid, c->id ? c->id : fid, c->name ? c->name : "", a, "completed");
		rc |= event(s, out->out, "response.output_item.done", json_pack("{s:i,s:O}",
		    "output_index", c->item, "item", item));
		rc |= json_array_append_new(s->done, item);
	}
	r = response_object(s->id, s->model, s->finish[0] ? s->finish : NULL, json_incref(s->done),
	    s->usage ? json_incref(s->usage) : NULL, s->created);
	if (r != NULL)	/* the SDKs' convenience, the text of the message */
		json_object_set_new(r, "output_text", json_string(s->text.data ? s->text.data : ""));
	return rc | event(s, out->tail, "response.completed", json_pack("{s:o}", "response", r));
}

static void
responses_encoder_free(void *st)
{
	struct enc *s = st;
	size_t i;

	for (i = 0; i < s->ncalls; i++) {
		free(s->calls[i].id);
		free(s->calls[i].name);
		buf_release(&s->calls[i].args);
	}
	free(s->calls);
	buf_release(&s->text);
	json_decref(s->usage);
	json_decref(s->done);
	free(s);
}

/* Responses clients take OpenAI's error shape. */
static int
responses_error_body(int status, const char *type, const char *message, const char *param,
    struct buf *out)
{
	return xlate_chat.error_body(status, type, message, param, out);
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
