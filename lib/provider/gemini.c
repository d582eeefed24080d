/*
 * Google's Gemini API (generateContent): the dialect (dialect.h: the model
 * in the URL, ":streamGenerateContent?alt=sse" for a stream, the key in
 * x-goog-api-key from the catalogue) and its side of the translation hub
 * (xlate.h).  No client speaks Gemini's format to tollgate, so only the
 * upstream half is here: a chat request to a generateContent body, its
 * answer and its stream (each event a whole GenerateContentResponse with
 * the parts made since the last; no end marker: the stream ends with its
 * body) back to chat.  Usage is the provider's usageMetadata, read on the
 * way by the usage tap and priced by lib/cost.c as for any Gemini answer.
 * The mapping is shared/reference/providers.md's and Google's API
 * reference.  Run by workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider/dialect.h"
#include "provider/xlate.h"
#include "provider/xlate_tree.h"
#include "route.h"

static const char to_gemini_side[] = "Gemini";

/* One request translation. */
struct req {
	struct xt_req	 x;		/* its first member: what the field tables get */
	json_t		*contents;	/* out's contents */
	json_t		*config;	/* out's generationConfig */
	json_t		*system;	/* systemInstruction's parts */
	json_t		*names;		/* tool_call_id -> the function's name, for its response */
};

/* ---- a chat request -> generateContent ---------------------------------------------- */

/* A data: URL as inlineData, any other as fileData; 0 or -1. */
static int
image_part(struct req *r, json_t *url, const char *path, json_t *parts)
{
	const char *u = json_string_value(url), *comma, *semi;
	json_t *p;

	if (u == NULL)
		return xt_bad(r->x.e, path, "'%s' must be a string", path);
	if (strncmp(u, "data:", 5) == 0 && (comma = strchr(u, ',')) != NULL &&
	    (semi = memchr(u, ';', (size_t)(comma - u))) != NULL && strncmp(semi, ";base64,", 8) == 0)
		p = json_pack("{s:{s:s%,s:s}}", "inlineData", "mimeType", u + 5, (size_t)(semi - u - 5),
		    "data", comma + 1);
	else
		p = json_pack("{s:{s:s}}", "fileData", "fileUri", u);
	return p != NULL && json_array_append_new(parts, p) == 0 ? 0 : xt_oom(r->x.e);
}

/* A message's content (a string or parts) as Gemini parts appended to parts; 0 or -1. */
static int
content_parts(struct req *r, json_t *content, const char *path, json_t *parts)
{
	char p[XT_PATHLEN];
	json_t *part, *text;
	const char *t;
	size_t i;

	if (json_is_null(content) || content == NULL)
		return 0;
	if (json_is_string(content))
		return json_string_length(content) == 0 ? 0 : json_array_append_new(parts,
		    json_pack("{s:O}", "text", content)) == 0 ? 0 : xt_oom(r->x.e);
	if (!json_is_array(content))
		return xt_bad(r->x.e, path, "'%s' must be a string or an array of parts", path);
	json_array_foreach(content, i, part) {
		xt_at(p, "%s[%zu]", path, i);
		t = xt_str(part, "type");
		if (t != NULL && strcmp(t, "text") == 0) {
			if ((text = xt_need_string(part, "text", p, r->x.e)) == NULL)
				return -1;
			if (json_string_length(text) > 0 && json_array_append_new(parts,
			    json_pack("{s:O}", "text", text)) < 0)
				return xt_oom(r->x.e);
		} else if (t != NULL && strcmp(t, "image_url") == 0) {
			xt_at(p, "%s[%zu].image_url.url", path, i);
			if (image_part(r, json_object_get(json_object_get(part, "image_url"), "url"), p,
			    parts) < 0)
				return -1;
		} else if (xt_no_equivalent(&r->x, p, "a part of that type") < 0)
			return -1;
	}
	return 0;
}

/* An assistant's tool calls as functionCall parts; their names kept for the responses. */
static int
call_parts(struct req *r, json_t *calls, const char *path, json_t *parts)
{
	char p[XT_PATHLEN];
	json_t *call, *fn, *name, *args, *id;
	json_error_t jerr;
	const char *text;
	size_t i;
	int rc;

	json_array_foreach(calls, i, call) {
		xt_at(p, "%s[%zu].function", path, i);
		fn = json_object_get(call, "function");
		if ((name = xt_need_string(fn, "name", p, r->x.e)) == NULL ||
		    (id = xt_need_string(call, "id", p, r->x.e)) == NULL)
			return -1;
		text = json_string_value(json_object_get(fn, "arguments"));
		/* no arguments (absent, or "" as some clients send them) are none */
		args = json_loads(text != NULL && *text != '\0' ? text : "{}", 0, &jerr);
		if (!json_is_object(args)) {
			json_decref(args);
			xt_at(p, "%s[%zu].function.arguments", path, i);
			return xt_bad(r->x.e, p, "'%s' must be a JSON object in a string", p);
		}
		rc = json_array_append_new(parts, json_pack("{s:{s:O,s:O,s:o}}", "functionCall",
		    "id", id, "name", name, "args", args));
		if (rc < 0 || json_object_set(r->names, json_string_value(id), name) < 0)
			return xt_oom(r->x.e);
	}
	return 0;
}

/* A tool message: a functionResponse of the call it answers. */
static int
tool_part(struct req *r, json_t *m, const char *path)
{
	json_t *id = xt_need_string(m, "tool_call_id", path, r->x.e), *content, *name, *parts;
	struct buf text = { 0 };
	json_t *part;
	size_t i;
	int rc;

	if (id == NULL)
		return -1;
	if ((name = json_object_get(r->names, json_string_value(id))) == NULL)
		return xt_bad(r->x.e, path, "'%s.tool_call_id' answers no tool call before it", path);
	content = json_object_get(m, "content");
	if (json_is_string(content))
		rc = xt_join(&text, content, "");
	else {
		rc = 0;
		json_array_foreach(content, i, part)
			if (json_is_string(json_object_get(part, "text")))
				rc |= xt_join(&text, json_object_get(part, "text"), "\n");
	}
	parts = xt_turn(r->contents, "user", "parts");
	rc = rc < 0 || parts == NULL ? -1 : json_array_append_new(parts, json_pack(
	    "{s:{s:O,s:O,s:{s:o}}}", "functionResponse", "id", id, "name", name, "response",
	    "content", xt_buf_string(&text)));
	buf_release(&text);
	return rc < 0 ? xt_oom(r->x.e) : 0;
}

static int
one_message(struct req *r, json_t *m, size_t i)
{
	const char *role = xt_str(m, "role");
	char p[XT_PATHLEN];
	json_t *parts;

	xt_at(p, "messages[%zu]", i);
	if (!json_is_object(m) || role == NULL)
		return xt_bad(r->x.e, p, "'%s.role' must be a string", p);
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
		xt_at(p, "messages[%zu].content", i);
		return content_parts(r, json_object_get(m, "content"), p, r->system);
	}
	if (strcmp(role, "tool") == 0)
		return tool_part(r, m, p);
	if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
		return xt_bad(r->x.e, p, "'%s.role' must be system, developer, user, assistant or "
		    "tool", p);
	if ((parts = xt_turn(r->contents, strcmp(role, "user") == 0 ? "user" : "model",
	    "parts")) == NULL)
		return xt_oom(r->x.e);
	xt_at(p, "messages[%zu].content", i);
	if (content_parts(r, json_object_get(m, "content"), p, parts) < 0)
		return -1;
	xt_at(p, "messages[%zu].tool_calls", i);
	if (json_is_array(json_object_get(m, "tool_calls")) &&
	    call_parts(r, json_object_get(m, "tool_calls"), p, parts) < 0)
		return -1;
	return 0;
}

static int
config_set(struct req *r, const char *key, json_t *v)
{
	return xt_put(r->config, key, v) < 0 ? xt_oom(r->x.e) : 0;
}

static int
g_max_tokens(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return xt_bad(x->e, key, "'%s' must be a positive integer", key);
	return config_set((struct req *)x, "maxOutputTokens", json_incref(v));
}

/* Same meaning, Gemini's name, in generationConfig. */
static int
g_number(struct xt_req *x, const char *key, json_t *v)
{
	static const struct { const char *chat, *gemini; } names[] = {
		{ "temperature", "temperature" }, { "top_p", "topP" }, { "seed", "seed" },
		{ "presence_penalty", "presencePenalty" }, { "frequency_penalty", "frequencyPenalty" },
	};
	size_t i;

	if (!json_is_number(v))
		return xt_bad(x->e, key, "'%s' must be a number", key);
	for (i = 0; strcmp(names[i].chat, key) != 0; i++)
		;
	return config_set((struct req *)x, names[i].gemini, json_incref(v));
}

static int
g_stop(struct xt_req *x, const char *key, json_t *v)
{
	json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
	size_t i;

	for (i = 0; json_is_array(list) && i < json_array_size(list); i++)
		if (!json_is_string(json_array_get(list, i)))
			break;
	if (!json_is_array(list) || i < json_array_size(list)) {
		json_decref(list);
		return xt_bad(x->e, key, "'%s' must be a string or an array of strings", key);
	}
	return config_set((struct req *)x, "stopSequences", list);
}

static int
g_n(struct xt_req *x, const char *key, json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) == 1)
		return 0;
	return xt_no_equivalent(x, key, "other than 1");
}

/* OpenAI's effort -> a thinking budget, at LiteLLM's figures; none and minimal: no thinking. */
static int
g_reasoning(struct xt_req *x, const char *key, json_t *v)
{
	static const struct { const char *effort; int budget; } t[] = {
		{ "none", 0 }, { "minimal", 0 }, { "low", 1024 }, { "medium", 2048 }, { "high", 4096 },
	};
	const char *s = json_string_value(v);
	size_t i;

	for (i = 0; s != NULL && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].effort) == 0)
			return config_set((struct req *)x, "thinkingConfig", json_pack("{s:i,s:b}",
			    "thinkingBudget", t[i].budget, "includeThoughts", t[i].budget > 0));
	return xt_bad(x->e, key, "'%s' must be none, minimal, low, medium or high", key);
}

static int
g_response_format(struct xt_req *x, const char *key, json_t *v)
{
	const char *t = xt_str(v, "type");
	json_t *schema = json_object_get(json_object_get(v, "json_schema"), "schema");

	if (t == NULL)
		return xt_bad(x->e, key, "'%s' must be an object with a type", key);
	if (strcmp(t, "text") == 0)
		return 0;
	if (strcmp(t, "json_schema") == 0 && !json_is_object(schema))
		return xt_bad(x->e, "response_format.json_schema.schema",
		    "'response_format.json_schema.schema' must be an object");
	if (strcmp(t, "json_object") != 0 && strcmp(t, "json_schema") != 0)
		return xt_bad(x->e, "response_format.type", "'response_format.type' must be text, "
		    "json_object or json_schema");
	if (config_set((struct req *)x, "responseMimeType", json_string("application/json")) < 0)
		return -1;
	return schema ? config_set((struct req *)x, "responseJsonSchema", json_incref(schema)) : 0;
}

static int
g_tool(struct xt_req *x, json_t *tool, json_t *tools, size_t i)
{
	json_t *name, *decl, *params, *desc;
	int rc = xt_chat_function(x, tool, i, &name, &params, &desc);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	decl = json_pack("{s:O}", "name", name);
	if (decl == NULL || (json_is_object(params) && json_object_size(params) > 0 &&
	    xt_put(decl, "parameters", json_incref(params)) < 0) ||
	    (json_is_string(desc) && xt_put(decl, "description", json_incref(desc)) < 0) ||
	    json_array_append_new(tools, decl) < 0)
		return xt_oom(x->e);
	return 0;
}

static int
g_tools(struct xt_req *x, const char *key, json_t *v)
{
	json_t *decls;

	if (xt_map_tools(x, key, v, g_tool) < 0)
		return -1;
	/* Gemini's tools are groups: one of function declarations */
	if ((decls = json_object_get(x->out, "tools")) == NULL)
		return 0;
	return xt_put(x->out, "tools", json_pack("[{s:O}]", "functionDeclarations", decls)) < 0 ?
	    xt_oom(x->e) : 0;
}

static int
g_tool_choice(struct xt_req *x, const char *key, json_t *v)
{
	const char *s = json_string_value(v), *mode;
	json_t *name = json_object_get(json_object_get(v, "function"), "name"), *cfg;

	if (s != NULL && strcmp(s, "auto") == 0)
		mode = "AUTO";
	else if (s != NULL && strcmp(s, "none") == 0)
		mode = "NONE";
	else if (s != NULL && strcmp(s, "required") == 0)
		mode = "ANY";
	else if (json_is_string(name))
		mode = "ANY";
	else
		return xt_bad(x->e, key, "'%s' must be auto, none, required or a function", key);
	cfg = json_pack("{s:{s:s}}", "functionCallingConfig", "mode", mode);
	if (cfg != NULL && json_is_string(name) && s == NULL)
		json_object_set_new(json_object_get(cfg, "functionCallingConfig"),
		    "allowedFunctionNames", json_pack("[O]", name));
	return cfg != NULL && xt_put(x->out, "toolConfig", cfg) == 0 ? 0 : xt_oom(x->e);
}

static const struct xt_field c2g_fields[] = {
	{ "model", NULL },		/* in the URL */
	{ "messages", NULL },		/* done first */
	{ "stream", NULL },		/* in the URL */
	{ "stream_options", NULL },	/* Gemini always reports usage */
	{ "user", NULL },		/* an end user's id for OpenAI's abuse checks: Gemini has none */
	{ "metadata", NULL },		/* OpenAI's stored-completion tags */
	{ "store", NULL },
	{ "service_tier", NULL },
	{ "parallel_tool_calls", NULL },
	{ "prompt_cache_key", NULL },
	{ "max_tokens", g_max_tokens },
	{ "max_completion_tokens", g_max_tokens },
	{ "temperature", g_number },
	{ "top_p", g_number },
	{ "seed", g_number },
	{ "presence_penalty", g_number },
	{ "frequency_penalty", g_number },
	{ "stop", g_stop },
	{ "n", g_n },
	{ "reasoning_effort", g_reasoning },
	{ "response_format", g_response_format },
	{ "tools", g_tools },
	{ "tool_choice", g_tool_choice },
	{ NULL, NULL }
};

static json_t *
gemini_request_from_chat(json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	struct req r = { .x = { .o = o, .e = e, .side = to_gemini_side } };
	json_t *msgs = json_object_get(chat, "messages"), *m;
	size_t i;

	if (!json_is_array(msgs))
		return xlate_fail(e, 400, "messages", "'messages' must be an array of messages");
	r.x.out = json_pack("{s:[],s:{}}", "contents", "generationConfig");
	r.system = json_array();
	r.names = json_object();
	if (r.x.out == NULL || r.system == NULL || r.names == NULL) {
		xt_oom(e);
		goto fail;
	}
	r.contents = json_object_get(r.x.out, "contents");
	r.config = json_object_get(r.x.out, "generationConfig");
	json_array_foreach(msgs, i, m)
		if (one_message(&r, m, i) < 0)
			goto fail;
	if (xt_fields(&r.x, chat, c2g_fields) < 0)
		goto fail;
	if (json_array_size(r.system) > 0 && xt_put(r.x.out, "systemInstruction",
	    json_pack("{s:O}", "parts", r.system)) < 0) {
		xt_oom(e);
		goto fail;
	}
	if (json_object_size(r.config) == 0)
		json_object_del(r.x.out, "generationConfig");
	json_decref(r.system);
	json_decref(r.names);
	return r.x.out;
fail:
	json_decref(r.system);
	json_decref(r.names);
	json_decref(r.x.out);
	return NULL;
}

/* ---- answers ------------------------------------------------------------------------ */

static const char *
finish_of(const char *reason, int calls)
{
	static const char *const filtered[] = { "SAFETY", "RECITATION", "BLOCKLIST",
		"PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", NULL };
	size_t i;

	if (reason == NULL)
		return NULL;
	if (strcmp(reason, "MAX_TOKENS") == 0)
		return "length";
	for (i = 0; filtered[i] != NULL; i++)
		if (strcmp(reason, filtered[i]) == 0)
			return "content_filter";
	return calls ? "tool_calls" : "stop";
}

/* usageMetadata in chat's convention (thoughts are output; the cache is part of the prompt). */
static json_t *
usage_chat(json_t *u)
{
	json_int_t prompt = xt_tok(u, "promptTokenCount") + xt_tok(u, "toolUsePromptTokenCount");
	json_int_t thoughts = xt_tok(u, "thoughtsTokenCount");
	json_int_t out = xt_tok(u, "candidatesTokenCount") + thoughts;

	return json_pack("{s:I,s:I,s:I,s:{s:I},s:{s:I}}", "prompt_tokens", prompt,
	    "completion_tokens", out, "total_tokens", prompt + out, "prompt_tokens_details",
	    "cached_tokens", xt_tok(u, "cachedContentTokenCount"), "completion_tokens_details",
	    "reasoning_tokens", thoughts);
}

/* A functionCall part as a chat tool call (k: its place, for an id when Gemini gives none). */
static json_t *
tool_call(json_t *call, const char *rid, int k)
{
	json_t *args = json_object_get(call, "args"), *id = json_object_get(call, "id");
	char *text = args ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
	char made[96];
	json_t *tc;

	if (text == NULL)
		return NULL;
	snprintf(made, sizeof(made), "call_%.64s_%d", rid ? rid : "", k);
	tc = json_pack("{s:o,s:s,s:{s:O,s:s}}", "id", json_is_string(id) ? json_incref(id) :
	    json_string(made), "type", "function", "function", "name",
	    json_object_get(call, "name"), "arguments", text);
	free(text);
	return tc;
}

/* The parts of a candidate into text, thoughts and tool calls (calls counts them on). */
static int
gather(json_t *parts, const char *rid, struct buf *text, struct buf *thought, json_t *calls,
    int *ncalls)
{
	json_t *part, *v;
	size_t i;

	json_array_foreach(parts, i, part) {
		if (json_is_object(v = json_object_get(part, "functionCall")) &&
		    json_is_string(json_object_get(v, "name"))) {
			if (json_array_append_new(calls, tool_call(v, rid, (*ncalls)++)) < 0)
				return -1;
		} else if (json_is_string(v = json_object_get(part, "text")) &&
		    xt_join(json_is_true(json_object_get(part, "thought")) ? thought : text, v, "") < 0)
			return -1;
	}
	return 0;
}

static json_t *
gemini_response_to_chat(json_t *resp, struct xlate_error *e)
{
	json_t *cand = json_array_get(json_object_get(resp, "candidates"), 0), *calls, *msg, *out;
	const char *rid = xt_str(resp, "responseId"), *finish;
	struct buf text = { 0 }, thought = { 0 };
	int n = 0;

	if (!json_is_object(resp))
		return xlate_fail(e, 502, NULL, "the provider's answer is not an object");
	if ((calls = json_array()) == NULL || gather(json_object_get(json_object_get(cand,
	    "content"), "parts"), rid, &text, &thought, calls, &n) < 0)
		goto nomem;
	/* a prompt blocked before any candidate: an empty answer, filtered */
	finish = cand == NULL ? "content_filter" : finish_of(xt_str(cand, "finishReason"), n);
	msg = json_pack("{s:s,s:o}", "role", "assistant", "content",
	    text.len || n == 0 ? xt_buf_string(&text) : json_null());
	if (msg == NULL || (thought.len && xt_put(msg, "reasoning_content",
	    xt_buf_string(&thought)) < 0) || (n && xt_put(msg, "tool_calls", json_incref(calls)) < 0))
		goto nomem_msg;
	out = json_pack("{s:s,s:s,s:I,s:o,s:[{s:i,s:o,s:s,s:n}],s:o}", "id", rid ? rid : "",
	    "object", "chat.completion", "created", (json_int_t)time(NULL), "model",
	    json_is_string(json_object_get(resp, "modelVersion")) ?
	    json_incref(json_object_get(resp, "modelVersion")) : json_string(""), "choices", "index",
	    0, "message", msg, "finish_reason", finish ? finish : "stop", "logprobs", "usage",
	    usage_chat(json_object_get(resp, "usageMetadata")));
	json_decref(calls);
	buf_release(&text);
	buf_release(&thought);
	return out ? out : xlate_fail(e, 500, NULL, "out of memory translating the answer");
nomem_msg:
	json_decref(msg);
nomem:
	json_decref(calls);
	buf_release(&text);
	buf_release(&thought);
	return xlate_fail(e, 500, NULL, "out of memory translating the answer");
}

/* ---- a Gemini stream -> chat chunks --------------------------------------------------- */

struct decoder {
	json_t		*id, *model, *usage;	/* the last usageMetadata: the totals */
	time_t		 created;
	int		 started, ncalls, finished;
};

static void *
gemini_decoder_new(void)
{
	struct decoder *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->created = time(NULL);
	return s;
}

/* A chunk of delta (taken) and finish (or NULL); 0 or -1. */
static int
emit_chunk(struct decoder *s, json_t *delta, const char *finish, xlate_chunk_fn emit, void *arg)
{
	return xt_emit_chunk(s->id, s->model, (json_int_t)s->created, delta, finish, emit, arg);
}

static int
gemini_decoder_event(void *st, const char *name, const char *data, size_t len,
    xlate_chunk_fn emit, void *arg)
{
	struct decoder *s = st;
	json_t *ev = json_loadb(data, len, 0, NULL), *cand, *part, *v, *tc;
	const char *reason;
	size_t i;
	int rc = 0;

	(void)name;
	if (!json_is_object(ev)) {
		json_decref(ev);
		return 0;	/* not an answer of Gemini's: nothing to say */
	}
	if (json_is_object(json_object_get(ev, "error"))) {
		/* an error mid-stream: the hub's error chunk, then the end */
		v = json_pack("{s:{s:O?,s:s}}", "error", "message", json_object_get(
		    json_object_get(ev, "error"), "message"), "type", "api_error");
		rc = v == NULL || emit(arg, v) < 0 ? -1 : 1;
		json_decref(v);
		json_decref(ev);
		return rc;
	}
	xt_keep_string(&s->id, json_object_get(ev, "responseId"));
	xt_keep_string(&s->model, json_object_get(ev, "modelVersion"));
	if (json_is_object(v = json_object_get(ev, "usageMetadata"))) {
		json_decref(s->usage);
		s->usage = json_incref(v);
	}
	if (!s->started) {
		s->started = 1;
		rc = emit_chunk(s, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL,
		    emit, arg);
	}
	cand = json_array_get(json_object_get(ev, "candidates"), 0);
	json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, part) {
		if (rc < 0)
			break;
		if (json_is_object(v = json_object_get(part, "functionCall")) &&
		    json_is_string(json_object_get(v, "name"))) {
			/* a call comes whole in one part: its start and all its arguments */
			tc = tool_call(v, json_string_value(s->id), s->ncalls);
			if (tc != NULL)
				json_object_set_new(tc, "index", json_integer(s->ncalls++));
			rc = tc ? emit_chunk(s, json_pack("{s:[o]}", "tool_calls", tc), NULL, emit, arg) : -1;
		} else if (json_is_string(v = json_object_get(part, "text")) && json_string_length(v))
			rc = emit_chunk(s, json_pack("{s:O}", json_is_true(json_object_get(part,
			    "thought")) ? "reasoning_content" : "content", v), NULL, emit, arg);
	}
	if (rc >= 0 && !s->finished && (reason = xt_str(cand, "finishReason")) != NULL) {
		s->finished = 1;
		rc = emit_chunk(s, json_object(), finish_of(reason, s->ncalls), emit, arg);
	}
	json_decref(ev);
	return rc < 0 ? -1 : 0;
}

/* The body ended: the finish if none came, then the usage of the last usageMetadata. */
static int
gemini_decoder_end(void *st, xlate_chunk_fn emit, void *arg)
{
	struct decoder *s = st;
	json_t *c;
	int rc = 0;

	if (!s->finished && s->started)
		rc = emit_chunk(s, json_object(), s->ncalls ? "tool_calls" : "stop", emit, arg);
	if (rc < 0)
		return -1;
	c = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", s->id ? json_string_value(s->id) : "",
	    "object", "chat.completion.chunk", "created", (json_int_t)s->created, "model",
	    s->model ? json_string_value(s->model) : "", "choices", "usage", usage_chat(s->usage));
	if (c == NULL)
		return -1;
	rc = emit(arg, c);
	json_decref(c);
	return rc < 0 ? -1 : 1;
}

static void
gemini_decoder_free(void *st)
{
	struct decoder *s = st;

	if (s == NULL)
		return;
	json_decref(s->id);
	json_decref(s->model);
	json_decref(s->usage);
	free(s);
}

/* ---- errors ----------------------------------------------------------------------------- */

/* {"error": {"code", "message", "status"}}: the message, and OpenAI's type for the status. */
static void
gemini_error_parse(json_t *body, char *msg, size_t msglen, char *type, size_t typelen)
{
	static const struct { const char *status, *type; } t[] = {
		{ "INVALID_ARGUMENT", "invalid_request_error" }, { "FAILED_PRECONDITION",
		"invalid_request_error" }, { "NOT_FOUND", "not_found_error" }, { "PERMISSION_DENIED",
		"permission_error" }, { "UNAUTHENTICATED", "authentication_error" },
		{ "RESOURCE_EXHAUSTED", "rate_limit_error" },
	};
	json_t *err = json_object_get(body, "error");
	const char *status = xt_str(err, "status");
	size_t i;

	xlate_parse_error(body, msg, msglen, type, typelen);
	for (i = 0; status != NULL && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(status, t[i].status) == 0)
			xt_copy_text(type, typelen, t[i].type);
}

/* No client speaks Gemini's format: the client side is left out (xlate.c checks). */
const struct xlate_format xlate_gemini = {
	.name = "gemini",
	.api = XLATE_GEMINI,
	.request_from_chat = gemini_request_from_chat,
	.response_to_chat = gemini_response_to_chat,
	.decoder_new = gemini_decoder_new,
	.decoder_event = gemini_decoder_event,
	.decoder_end = gemini_decoder_end,
	.decoder_free = gemini_decoder_free,
	.error_parse = gemini_error_parse,
};

/* ---- the dialect ------------------------------------------------------------------------ */

/* {base}/v1beta/models/{model}:generateContent, or :streamGenerateContent?alt=sse (SSE). */
static int
gemini_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	size_t n = strlen(d->base);
	int w;

	if (ep != ENDPOINT_GEMINI)
		return -1;
	w = snprintf(out, outlen, "%s%s/models/%s:%s", d->base,
	    n >= 7 && strcmp(d->base + n - 7, "/v1beta") == 0 ? "" : "/v1beta", d->model,
	    stream ? "streamGenerateContent?alt=sse" : "generateContent");
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

const struct dialect dialect_gemini = {
	.name = "gemini",
	.api = XLATE_GEMINI,
	.shape = USAGE_SHAPE_GEMINI,
	.native = 0,
	.url = gemini_url,
	.headers = dialect_no_headers,
	.stream_end = dialect_no_stream_end,
	.usage_chunk = dialect_no_usage_chunk,	/* every event may carry usageMetadata */
};
