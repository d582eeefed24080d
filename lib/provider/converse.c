/*
 * AWS Bedrock's Converse API: the dialect (dialect.h: the model id,
 * percent-encoded, in the path; each request signed with SigV4, sigv4.c,
 * or a Bedrock API key as a bearer token; ConverseStream's answers are
 * event-stream frames, eventstream.c) and its side of the translation hub
 * (xlate.h), upstream only: a chat request to a Converse body, its answer
 * and its stream back to chat.  Usage is the answer's own usage object (inputTokens
 * without the cache, cacheReadInputTokens, cacheWriteInputTokens), read by
 * the usage tap and priced by lib/cost.c.  The mapping is
 * shared/reference/providers.md's and AWS's API reference.  Run by workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider/dialect.h"
#include "provider/sigv4.h"
#include "provider/xlate.h"
#include "provider/xlate_tree.h"
#include "route.h"

static const char to_converse_side[] = "Bedrock Converse";

struct req {
	struct xt_req	 x;		/* its first member: what the field tables get */
	json_t		*msgs;		/* out's messages */
	json_t		*system;	/* out's system blocks */
	json_t		*config;	/* out's inferenceConfig */
};

/* ---- a chat request -> Converse ------------------------------------------------------ */

static int
push(struct req *r, json_t *list, json_t *v)
{
	return v != NULL && json_array_append_new(list, v) == 0 ? 0 : xt_oom(r->x.e);
}

/* An image part: Converse takes the bytes only (a data: URL), in one of its formats. */
static int
image_block(struct req *r, json_t *part, const char *path, json_t *content)
{
	static const char *const formats[] = { "png", "jpeg", "gif", "webp" };
	const char *u = json_string_value(json_object_get(json_object_get(part, "image_url"), "url"));
	const char *comma;
	size_t i;

	if (u == NULL)
		return xt_bad(r->x.e, path, "'%s.image_url.url' must be a string", path);
	if (strncmp(u, "data:image/", 11) != 0 || (comma = strstr(u, ";base64,")) == NULL)
		return xt_no_equivalent(&r->x, path, "an image by URL: Converse takes its bytes");
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if ((size_t)(comma - u - 11) == strlen(formats[i]) &&
		    strncmp(u + 11, formats[i], strlen(formats[i])) == 0)
			return push(r, content, json_pack("{s:{s:s,s:{s:s}}}", "image", "format",
			    formats[i], "source", "bytes", comma + 8));
	return xt_no_equivalent(&r->x, path, "an image format other than png, jpeg, gif or webp");
}

/* A message's content (a string or parts) appended to content as Converse blocks. */
static int
blocks(struct req *r, json_t *c, const char *path, json_t *content)
{
	char p[XT_PATHLEN];
	json_t *part, *text;
	const char *t;
	size_t i;

	if (c == NULL || json_is_null(c))
		return 0;
	if (json_is_string(c))
		return json_string_length(c) == 0 ? 0 :
		    push(r, content, json_pack("{s:O}", "text", c));
	if (!json_is_array(c))
		return xt_bad(r->x.e, path, "'%s' must be a string or an array of parts", path);
	json_array_foreach(c, i, part) {
		xt_at(p, "%s[%zu]", path, i);
		t = xt_str(part, "type");
		if (t != NULL && strcmp(t, "text") == 0) {
			if ((text = xt_need_string(part, "text", p, r->x.e)) == NULL)
				return -1;
			if (json_string_length(text) > 0 &&
			    push(r, content, json_pack("{s:O}", "text", text)) < 0)
				return -1;
		} else if (t != NULL && strcmp(t, "image_url") == 0) {
			if (image_block(r, part, p, content) < 0)
				return -1;
		} else if (xt_no_equivalent(&r->x, p, "a part of that type") < 0)
			return -1;
	}
	return 0;
}

static int
tool_uses(struct req *r, json_t *calls, const char *path, json_t *content)
{
	char p[XT_PATHLEN];
	json_t *call, *fn, *id, *name, *input;
	const char *args;
	size_t i;

	json_array_foreach(calls, i, call) {
		xt_at(p, "%s[%zu]", path, i);
		fn = json_object_get(call, "function");
		if ((id = xt_need_string(call, "id", p, r->x.e)) == NULL)
			return -1;
		xt_at(p, "%s[%zu].function", path, i);
		if ((name = xt_need_string(fn, "name", p, r->x.e)) == NULL)
			return -1;
		args = xt_str(fn, "arguments");
		input = json_loads(args != NULL && *args != '\0' ? args : "{}", 0, NULL);
		if (!json_is_object(input)) {
			json_decref(input);
			xt_at(p, "%s[%zu].function.arguments", path, i);
			return xt_bad(r->x.e, p, "'%s' must be a JSON object in a string", p);
		}
		if (push(r, content, json_pack("{s:{s:O,s:O,s:o}}", "toolUse", "toolUseId", id, "name",
		    name, "input", input)) < 0)
			return -1;
	}
	return 0;
}

/* A tool message: a toolResult in the user turn that follows the call. */
static int
tool_result(struct req *r, json_t *m, const char *path)
{
	json_t *id = xt_need_string(m, "tool_call_id", path, r->x.e), *c = json_object_get(m, "content");
	json_t *content, *results;
	char p[XT_PATHLEN];

	if (id == NULL || (content = xt_turn(r->msgs, "user", "content")) == NULL)
		return id == NULL ? -1 : xt_oom(r->x.e);
	if ((results = json_array()) == NULL)
		return xt_oom(r->x.e);
	xt_at(p, "%s.content", path);
	if (blocks(r, c, p, results) < 0) {
		json_decref(results);
		return -1;
	}
	return push(r, content, json_pack("{s:{s:O,s:o}}", "toolResult", "toolUseId", id,
	    "content", results));
}

static int
one_message(struct req *r, json_t *m, size_t i)
{
	const char *role = xt_str(m, "role");
	char p[XT_PATHLEN], cp[XT_PATHLEN];
	json_t *content;

	xt_at(p, "messages[%zu]", i);
	xt_at(cp, "messages[%zu].content", i);
	if (!json_is_object(m) || role == NULL)
		return xt_bad(r->x.e, p, "'%s.role' must be a string", p);
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return blocks(r, json_object_get(m, "content"), cp, r->system);
	if (strcmp(role, "tool") == 0)
		return tool_result(r, m, p);
	if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
		return xt_bad(r->x.e, p, "'%s.role' must be system, developer, user, assistant or "
		    "tool", p);
	if ((content = xt_turn(r->msgs, role, "content")) == NULL)
		return xt_oom(r->x.e);
	if (blocks(r, json_object_get(m, "content"), cp, content) < 0)
		return -1;
	xt_at(p, "messages[%zu].tool_calls", i);
	if (json_is_array(json_object_get(m, "tool_calls")) &&
	    tool_uses(r, json_object_get(m, "tool_calls"), p, content) < 0)
		return -1;
	return 0;
}

static int
b_max_tokens(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return xt_bad(x->e, key, "'%s' must be a positive integer", key);
	return xt_put(((struct req *)x)->config, "maxTokens", json_incref(v)) < 0 ? xt_oom(x->e) : 0;
}

static int
b_number(struct xt_req *x, const char *key, json_t *v)
{
	if (!json_is_number(v))
		return xt_bad(x->e, key, "'%s' must be a number", key);
	return xt_put(((struct req *)x)->config, strcmp(key, "top_p") == 0 ? "topP" : key,
	    json_incref(v)) < 0 ? xt_oom(x->e) : 0;
}

static int
b_stop(struct xt_req *x, const char *key, json_t *v)
{
	json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v), *s;
	size_t i;

	json_array_foreach(list, i, s)
		if (!json_is_string(s))
			break;
	if (!json_is_array(list) || i < json_array_size(list)) {
		json_decref(list);
		return xt_bad(x->e, key, "'%s' must be a string or an array of strings", key);
	}
	return xt_put(((struct req *)x)->config, "stopSequences", list) < 0 ? xt_oom(x->e) : 0;
}

static int
b_n(struct xt_req *x, const char *key, json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) == 1)
		return 0;
	return xt_no_equivalent(x, key, "other than 1");
}

static int
b_tool(struct xt_req *x, json_t *tool, json_t *tools, size_t i)
{
	json_t *name, *params, *desc, *spec;
	int rc = xt_chat_function(x, tool, i, &name, &params, &desc);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	/* a function without parameters takes none: Converse wants that said */
	spec = json_pack("{s:O,s:{s:o}}", "name", name, "inputSchema", "json",
	    json_is_object(params) ? json_incref(params) : json_pack("{s:s,s:{}}", "type", "object",
	    "properties"));
	if (spec == NULL || (json_is_string(desc) && xt_put(spec, "description",
	    json_incref(desc)) < 0) || json_array_append_new(tools, json_pack("{s:o}", "toolSpec",
	    spec)) < 0)
		return xt_oom(x->e);
	return 0;
}

static int
b_tools(struct xt_req *x, const char *key, json_t *v)
{
	json_t *tools;

	if (xt_map_tools(x, key, v, b_tool) < 0)
		return -1;
	if ((tools = json_object_get(x->out, "tools")) == NULL)
		return 0;
	/* Converse keeps tools (and the choice, b_finish) in toolConfig */
	if (xt_put(x->out, "toolConfig", json_pack("{s:O}", "tools", tools)) < 0)
		return xt_oom(x->e);
	json_object_del(x->out, "tools");
	return 0;
}

static const struct xt_field c2b_fields[] = {
	{ "model", NULL },		/* in the path */
	{ "messages", NULL },		/* done first */
	{ "stream", NULL },		/* the path says it */
	{ "stream_options", NULL },	/* Bedrock always reports usage */
	{ "user", NULL },		/* an end user's id for OpenAI's abuse checks */
	{ "metadata", NULL },
	{ "store", NULL },
	{ "service_tier", NULL },
	{ "parallel_tool_calls", NULL },
	{ "prompt_cache_key", NULL },
	{ "tool_choice", NULL },	/* with the tools: b_finish */
	{ "max_tokens", b_max_tokens },
	{ "max_completion_tokens", b_max_tokens },
	{ "temperature", b_number },
	{ "top_p", b_number },
	{ "stop", b_stop },
	{ "n", b_n },
	{ "tools", b_tools },
	{ NULL, NULL }
};

/* tool_choice: auto, required (any) or a function (tool); none leaves the tools unused. */
static int
b_finish(struct req *r, json_t *chat)
{
	json_t *v = json_object_get(chat, "tool_choice"), *cfg = json_object_get(r->x.out,
	    "toolConfig"), *name = json_object_get(json_object_get(v, "function"), "name"), *choice;
	const char *s = json_string_value(v);

	if (v == NULL || json_is_null(v) || cfg == NULL)
		return 0;
	if (s != NULL && strcmp(s, "auto") == 0)
		choice = json_pack("{s:{}}", "auto");
	else if (s != NULL && strcmp(s, "required") == 0)
		choice = json_pack("{s:{}}", "any");
	else if (s != NULL && strcmp(s, "none") == 0)
		return xt_no_equivalent(&r->x, "tool_choice", "none: Converse cannot forbid calls");
	else if (json_is_string(name))
		choice = json_pack("{s:{s:O}}", "tool", "name", name);
	else
		return xt_bad(r->x.e, "tool_choice", "'tool_choice' must be auto, none, required or a "
		    "function");
	return choice != NULL && xt_put(cfg, "toolChoice", choice) == 0 ? 0 : xt_oom(r->x.e);
}

static json_t *
converse_request_from_chat(json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	struct req r = { .x = { .o = o, .e = e, .side = to_converse_side } };
	json_t *msgs = json_object_get(chat, "messages"), *m;
	size_t i;

	if (!json_is_array(msgs))
		return xlate_fail(e, 400, "messages", "'messages' must be an array of messages");
	if ((r.x.out = json_pack("{s:[],s:[],s:{}}", "messages", "system", "inferenceConfig")) == NULL)
		return xlate_fail(e, 500, NULL, "out of memory translating the request");
	r.msgs = json_object_get(r.x.out, "messages");
	r.system = json_object_get(r.x.out, "system");
	r.config = json_object_get(r.x.out, "inferenceConfig");
	json_array_foreach(msgs, i, m)
		if (one_message(&r, m, i) < 0)
			goto fail;
	if (xt_fields(&r.x, chat, c2b_fields) < 0 || b_finish(&r, chat) < 0)
		goto fail;
	if (json_array_size(r.system) == 0)
		json_object_del(r.x.out, "system");
	if (json_object_size(r.config) == 0)
		json_object_del(r.x.out, "inferenceConfig");
	return r.x.out;
fail:
	json_decref(r.x.out);
	return NULL;
}

/* ---- answers ---------------------------------------------------------------------------- */

static const char *
finish_of(const char *reason)
{
	if (reason == NULL)
		return "stop";
	if (strcmp(reason, "max_tokens") == 0)
		return "length";
	if (strcmp(reason, "tool_use") == 0)
		return "tool_calls";
	if (strcmp(reason, "guardrail_intervened") == 0 || strcmp(reason, "content_filtered") == 0)
		return "content_filter";
	return "stop";	/* end_turn, stop_sequence */
}

/*
 * The chat id of an answer: Converse's have none, and clients need one (the
 * openai SDK's stream helper takes a later chunk's usage only from a chunk
 * with an id), as the Messages side's "msg_tollgate".
 */
#define ANSWER_ID	"chatcmpl-bedrock"

/* Converse's usage in chat's convention: the prompt counts the cache read and written. */
static json_t *
usage_chat(json_t *u)
{
	json_int_t read = xt_tok(u, "cacheReadInputTokens"), write = xt_tok(u, "cacheWriteInputTokens");
	json_int_t prompt = xt_tok(u, "inputTokens") + read + write, out = xt_tok(u, "outputTokens");

	return json_pack("{s:I,s:I,s:I,s:{s:I},s:I}", "prompt_tokens", prompt, "completion_tokens",
	    out, "total_tokens", prompt + out, "prompt_tokens_details", "cached_tokens", read,
	    "cache_creation_input_tokens", write);
}

static json_t *
converse_response_to_chat(json_t *resp, struct xlate_error *e)
{
	json_t *content = json_object_get(json_object_get(json_object_get(resp, "output"), "message"),
	    "content"), *b, *v, *calls = json_array(), *msg = NULL, *out = NULL;
	struct buf text = { 0 }, thinking = { 0 };
	char *args;
	size_t i;

	if (!json_is_object(resp) || !json_is_array(content)) {
		json_decref(calls);
		return xlate_fail(e, 502, NULL, "the provider's answer has no 'output.message.content'");
	}
	json_array_foreach(content, i, b) {
		if (json_is_string(v = json_object_get(b, "text"))) {
			if (xt_join(&text, v, "") < 0)
				goto out;
		} else if (json_is_string(v = json_object_get(json_object_get(json_object_get(b,
		    "reasoningContent"), "reasoningText"), "text"))) {
			if (xt_join(&thinking, v, "") < 0)
				goto out;
		} else if (json_is_object(v = json_object_get(b, "toolUse")) &&
		    json_is_string(json_object_get(v, "toolUseId")) &&
		    json_is_string(json_object_get(v, "name"))) {
			args = json_object_get(v, "input") ? json_dumps(json_object_get(v, "input"),
			    JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
			if (args == NULL || json_array_append_new(calls, json_pack("{s:O,s:s,s:{s:O,s:s}}",
			    "id", json_object_get(v, "toolUseId"), "type", "function", "function", "name",
			    json_object_get(v, "name"), "arguments", args)) < 0) {
				free(args);
				goto out;
			}
			free(args);
		}
	}
	msg = json_pack("{s:s,s:o}", "role", "assistant", "content", text.len || !json_array_size(calls) ?
	    xt_buf_string(&text) : json_null());
	if (msg == NULL || (thinking.len && xt_put(msg, "reasoning_content",
	    xt_buf_string(&thinking)) < 0) || (json_array_size(calls) && xt_put(msg, "tool_calls",
	    json_incref(calls)) < 0))
		goto out;
	out = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:O,s:s,s:n}],s:o}", "id", ANSWER_ID,
	    "object", "chat.completion", "created", (json_int_t)time(NULL), "model", "", "choices", "index", 0,
	    "message", msg, "finish_reason", finish_of(xt_str(resp, "stopReason")), "logprobs",
	    "usage", usage_chat(json_object_get(resp, "usage")));
out:
	json_decref(msg);
	json_decref(calls);
	buf_release(&text);
	buf_release(&thinking);
	return out ? out : xlate_fail(e, 500, NULL, "out of memory translating the answer");
}

/* ---- a ConverseStream -> chat chunks ---------------------------------------------------- */

/*
 * Events by their :event-type (the framing's name): messageStart,
 * contentBlockStart (a tool call's id and name), contentBlockDelta (text,
 * reasoning, a tool call's input in pieces), contentBlockStop, messageStop
 * (the stop reason), metadata (the usage: the stream's end); an exception
 * frame ("exception") is an error, and the end.
 */
struct decoder {
	time_t		 created;
	json_int_t	 blocks[64];	/* a tool call's content block index, by its chat index */
	int		 ncalls, started;
};

static void *
converse_decoder_new(void)
{
	struct decoder *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->created = time(NULL);
	return s;
}

static int
chunk(struct decoder *s, json_t *delta, const char *finish, xlate_chunk_fn emit, void *arg)
{
	json_t *id = json_string(ANSWER_ID);
	int rc = id ? xt_emit_chunk(id, NULL, (json_int_t)s->created, delta, finish, emit, arg) : -1;

	json_decref(id);
	return rc;
}

/* The chat index of the tool call in content block idx, or -1. */
static int
call_index(struct decoder *s, json_t *idx)
{
	int k;

	for (k = s->ncalls; k-- > 0;)
		if (json_is_integer(idx) && s->blocks[k] == json_integer_value(idx))
			return k;
	return -1;
}

static int
converse_decoder_event(void *st, const char *name, const char *data, size_t len,
    xlate_chunk_fn emit, void *arg)
{
	struct decoder *s = st;
	json_t *ev = json_loadb(data, len, 0, NULL), *d, *v, *tu, *c;
	int rc = 0, k;

	if (!json_is_object(ev)) {
		json_decref(ev);
		return strcmp(name, "exception") == 0 ? -1 : 0;
	}
	if (!s->started && strcmp(name, "exception") != 0) {
		s->started = 1;
		rc = chunk(s, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL, emit, arg);
	}
	d = json_object_get(ev, "delta");
	if (rc < 0)
		;
	else if (strcmp(name, "exception") == 0) {
		c = json_pack("{s:{s:O?,s:s}}", "error", "message", json_object_get(ev, "message"),
		    "type", "api_error");
		rc = c == NULL || emit(arg, c) < 0 ? -1 : 1;
		json_decref(c);
	} else if (strcmp(name, "contentBlockStart") == 0 &&
	    json_is_object(tu = json_object_get(json_object_get(ev, "start"), "toolUse")) &&
	    s->ncalls < (int)(sizeof(s->blocks) / sizeof(s->blocks[0]))) {
		k = s->ncalls;
		s->blocks[s->ncalls++] = json_integer_value(json_object_get(ev, "contentBlockIndex"));
		rc = chunk(s, json_pack("{s:[{s:i,s:O?,s:s,s:{s:O?,s:s}}]}", "tool_calls", "index", k,
		    "id", json_object_get(tu, "toolUseId"), "type", "function", "function", "name",
		    json_object_get(tu, "name"), "arguments", ""), NULL, emit, arg);
	} else if (strcmp(name, "contentBlockDelta") == 0) {
		if (json_is_string(v = json_object_get(d, "text")))
			rc = chunk(s, json_pack("{s:O}", "content", v), NULL, emit, arg);
		else if (json_is_string(v = json_object_get(json_object_get(d, "reasoningContent"),
		    "text")))
			rc = chunk(s, json_pack("{s:O}", "reasoning_content", v), NULL, emit, arg);
		else if (json_is_string(v = json_object_get(json_object_get(d, "toolUse"), "input")) &&
		    (k = call_index(s, json_object_get(ev, "contentBlockIndex"))) >= 0)
			rc = chunk(s, json_pack("{s:[{s:i,s:{s:O}}]}", "tool_calls", "index", k,
			    "function", "arguments", v), NULL, emit, arg);
	} else if (strcmp(name, "messageStop") == 0)
		rc = chunk(s, json_object(), finish_of(xt_str(ev, "stopReason")), emit, arg);
	else if (strcmp(name, "metadata") == 0) {
		c = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", ANSWER_ID, "object", "chat.completion.chunk",
		    "created", (json_int_t)s->created, "model", "", "choices", "usage",
		    usage_chat(json_object_get(ev, "usage")));
		rc = c == NULL || emit(arg, c) < 0 ? -1 : 1;
		json_decref(c);
	}
	json_decref(ev);
	return rc < 0 ? -1 : rc;
}

static void
converse_decoder_free(void *st)
{
	free(st);
}

/* Bedrock's errors: {"message": "..."} (the type is the status's). */
static void
converse_error_parse(json_t *body, char *msg, size_t msglen, char *type, size_t typelen)
{
	const char *m = xt_str(body, "message") ? xt_str(body, "message") : xt_str(body, "Message");

	xlate_parse_error(body, msg, msglen, type, typelen);
	if (m != NULL)
		xt_copy_text(msg, msglen, m);
}

/* No client speaks Converse to tollgate: the upstream side only. */
const struct xlate_format xlate_converse = {
	.name = "converse",
	.api = XLATE_CONVERSE,
	.request_from_chat = converse_request_from_chat,
	.response_to_chat = converse_response_to_chat,
	.decoder_new = converse_decoder_new,
	.decoder_event = converse_decoder_event,
	.decoder_free = converse_decoder_free,
	.error_parse = converse_error_parse,
};

/* ---- the dialect ------------------------------------------------------------------------- */

int
bedrock_model_url(const struct route_deployment *d, const char *method, char *out, size_t outlen)
{
	char id[768];
	int w;

	if (sigv4_encode(d->model, strlen(d->model), id, sizeof(id)) < 0)
		return -1;
	w = snprintf(out, outlen, "%s/model/%s/%s", d->base, id, method);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

/* {base}/model/{id, percent-encoded}/converse (or converse-stream). */
static int
bedrock_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	if (ep != ENDPOINT_CONVERSE)
		return -1;
	return bedrock_model_url(d, stream ? "converse-stream" : "converse", out, outlen);
}

/* SigV4 over what is sent, unless the deployment has a Bedrock API key (a bearer, in d->auth). */
struct curl_slist *
bedrock_sign(const struct route_deployment *d, const char *url, const char *body, size_t len,
    struct curl_slist *l)
{
	struct sigv4_key k = { d->aws.key_id, d->aws.secret, d->aws.token, d->aws.region, "bedrock" };

	if (d->auth[0] != '\0')
		return l;
	return sigv4_sign(l, &k, "POST", url, "application/json", body, len, time(NULL));
}

const struct dialect dialect_bedrock = {
	.name = "bedrock",
	.api = XLATE_CONVERSE,
	.shape = USAGE_SHAPE_BEDROCK,
	.native = 0,
	.url = bedrock_url,
	.headers = dialect_no_headers,
	.sign = bedrock_sign,
	.eventstream = 1,
	.stream_end = dialect_no_stream_end,
	.usage_chunk = dialect_no_usage_chunk,
};
