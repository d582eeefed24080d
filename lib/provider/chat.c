/*
 * OpenAI chat completions: the dialect of OpenAI and of every
 * OpenAI-compatible API (dialect.h), and the hub of the translation
 * (xlate.h), whose side of each translation is nearly the identity.  What it adds: the upstream
 * model name, usage asked for on streams (the cost is read from it), and,
 * for a chat client, the usage chunk only when the client asked for it.
 * Run by workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/dialect.h"
#include "provider/xlate.h"
#include "provider/xlate_tree.h"
#include "route.h"

/* A copy of o with key set to v (v's reference taken), or NULL. */
static json_t *
with(json_t *o, const char *key, json_t *v)
{
	json_t *c = json_copy(o);

	if (c == NULL || v == NULL || json_object_set_new(c, key, v) < 0) {
		json_decref(c);
		json_decref(v);
		return NULL;
	}
	return c;
}

static json_t *
nomem(struct xlate_error *e)
{
	return xlate_fail(e, 500, NULL, "out of memory translating the request");
}

static json_t *
chat_request_to_chat(json_t *req, const struct xlate_opts *o, struct xlate_error *e)
{
	(void)o;
	if (!json_is_array(json_object_get(req, "messages")))
		return xlate_fail(e, 400, "messages", "'messages' must be an array of messages");
	return json_incref(req);
}

static json_t *
chat_request_from_chat(json_t *chat, const struct xlate_opts *o, struct xlate_error *e)
{
	json_t *c = with(chat, "model", json_string(o->model));

	if (c == NULL)
		return nomem(e);
	/* the usage of a stream comes only when asked for, and the cost is read from it */
	if (json_is_true(json_object_get(c, "stream")) &&
	    json_object_set_new(c, "stream_options", json_pack("{s:b}", "include_usage", 1)) < 0) {
		json_decref(c);
		return nomem(e);
	}
	return c;
}

static json_t *
chat_response_to_chat(json_t *resp, struct xlate_error *e)
{
	if (!json_is_array(json_object_get(resp, "choices")))
		return xlate_fail(e, 502, NULL, "the provider's answer has no 'choices'");
	return json_incref(resp);
}

static json_t *
chat_response_from_chat(json_t *chat, const char *model, struct xlate_error *e)
{
	json_t *c;

	if (json_is_string(json_object_get(chat, "model")) || model == NULL)
		return json_incref(chat);
	if ((c = with(chat, "model", json_string(model))) == NULL)
		return nomem(e);
	return c;
}

/* ---- streams ------------------------------------------------------------------ */

static void *
chat_decoder_new(void)
{
	static int none;

	return &none;	/* a chat stream's chunks are the hub's: no state */
}

static int
chat_decoder_event(void *st, const char *name, const char *data, size_t len,
    xlate_chunk_fn emit, void *arg)
{
	json_t *chunk;
	int rc;

	(void)st, (void)name;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
		return 1;
	if (len == 0)
		return 0;
	if ((chunk = json_loadb(data, len, 0, NULL)) == NULL || !json_is_object(chunk)) {
		json_decref(chunk);
		return -1;
	}
	rc = emit(arg, chunk);
	json_decref(chunk);
	return rc < 0 ? -1 : 0;
}

static void
chat_decoder_free(void *st)
{
	(void)st;
}

struct chat_encoder {
	int	include_usage;
};

static void *
chat_encoder_new(const char *model, int include_usage)
{
	struct chat_encoder *s = calloc(1, sizeof(*s));

	(void)model;
	if (s != NULL)
		s->include_usage = include_usage;
	return s;
}

static int
put_data(struct buf *b, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	int rc;

	if (text == NULL)
		return -1;
	rc = buf_printf(b, "data: %s\n\n", text);
	free(text);
	return rc;
}

static int
chat_encoder_chunk(void *st, json_t *chunk, struct xlate_out *out)
{
	struct chat_encoder *s = st;
	json_t *choices = json_object_get(chunk, "choices"), *c;
	int rc;

	if (s->include_usage || json_object_get(chunk, "usage") == NULL)
		return put_data(out->out, chunk);
	/* usage the client did not ask for: a usage chunk goes, a chunk with choices loses it */
	if (json_is_array(choices) && json_array_size(choices) == 0)
		return 0;
	if ((c = json_copy(chunk)) == NULL)
		return -1;
	json_object_del(c, "usage");
	rc = put_data(out->out, c);
	json_decref(c);
	return rc;
}

static int
chat_encoder_end(void *st, struct xlate_out *out)
{
	(void)st;
	return buf_append(out->tail, "data: [DONE]\n\n", 14);
}

static void
chat_encoder_free(void *st)
{
	free(st);
}

/* ---- errors ------------------------------------------------------------------- */

static int
chat_error_body(int status, const char *type, const char *message, const char *param,
    struct buf *out)
{
	/* a message may quote a provider's bytes that are not UTF-8: an error has a body still */
	json_t *e = json_pack("{s:{s:o,s:o,s:o,s:o}}", "error", "message",
	    xt_any_string(message ? message : ""), "type", xt_any_string(type != NULL && *type ? type :
	    status >= 500 ? "api_error" : "invalid_request_error"), "param", param != NULL && *param ?
	    xt_any_string(param) : json_null(), "code", json_null());
	char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	int rc = text ? buf_printf(out, "%s\n", text) : -1;

	free(text);
	json_decref(e);
	return rc;
}

void
xlate_parse_error(json_t *body, char *msg, size_t msglen, char *type, size_t typelen)
{
	json_t *err = json_object_get(body, "error");
	const char *m = json_string_value(json_object_get(err, "message"));
	const char *t = json_string_value(json_object_get(err, "type"));

	if (m == NULL)
		m = json_string_value(err);	/* some providers: "error": "text" */
	xt_copy_text(msg, msglen, m ? m : "");
	xt_copy_text(type, typelen, t ? t : "");
}

const struct xlate_format xlate_chat = {
	.name = "chat",
	.api = XLATE_CHAT,
	.request_to_chat = chat_request_to_chat,
	.request_from_chat = chat_request_from_chat,
	.response_to_chat = chat_response_to_chat,
	.response_from_chat = chat_response_from_chat,
	.decoder_new = chat_decoder_new,
	.decoder_event = chat_decoder_event,
	.decoder_free = chat_decoder_free,
	.encoder_new = chat_encoder_new,
	.encoder_chunk = chat_encoder_chunk,
	.encoder_end = chat_encoder_end,
	.encoder_free = chat_encoder_free,
	.error_body = chat_error_body,
	.error_parse = xlate_parse_error,
};

/* ---- the dialect: OpenAI and every OpenAI-compatible API ---------------------- */

/*
 * Azure puts the deployment in the path and the API version in the query
 * (catalogue quirk), but serves Responses only in its v1 API, the model in
 * the body; everyone else serves the endpoint under the base.
 */
int
openai_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	const struct endpoint *e = endpoint_get(ep);
	const char *tail;
	int w;

	(void)stream;	/* the body says it */
	if (e == NULL || ep == ENDPOINT_MESSAGES)
		return -1;
	tail = e->path + 3;	/* "/chat/completions": the base ends in its version */
	if (d->entry != NULL && (d->entry->quirks & CATALOGUE_AZURE) && ep == ENDPOINT_RESPONSES)
		w = snprintf(out, outlen, "%s/openai/v1%s", d->base, tail);
	else if (d->entry != NULL && (d->entry->quirks & CATALOGUE_AZURE))
		w = snprintf(out, outlen, "%s/openai/deployments/%s%s?api-version=%s", d->base,
		    d->model, tail, d->api_version);
	else
		w = snprintf(out, outlen, "%s%s", d->base, tail);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

struct curl_slist *
openai_headers(struct curl_slist *l, dialect_header_fn client, void *arg)
{
	(void)client, (void)arg;
	return l;
}

static int
openai_stream_end(const char *name, const char *data, size_t len)
{
	(void)name;
	return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

/* The chunk that stream_options.include_usage adds: no choices, and the usage. */
static int
openai_usage_chunk(const char *data, size_t len)
{
	return memmem(data, len, "\"choices\":[]", 12) != NULL ||
	    memmem(data, len, "\"choices\": []", 13) != NULL;
}

int
dialect_no_stream_end(const char *name, const char *data, size_t len)
{
	(void)name, (void)data, (void)len;
	return 0;
}

struct curl_slist *
dialect_no_headers(struct curl_slist *l, dialect_header_fn client, void *arg)
{
	(void)client, (void)arg;
	return l;
}

int
dialect_no_usage_chunk(const char *data, size_t len)
{
	(void)data, (void)len;
	return 0;
}

const struct dialect dialect_openai = {
	.name = "openai",
	.api = XLATE_CHAT,
	.shape = USAGE_SHAPE_AUTO,
	.native = 1u << ENDPOINT_CHAT | 1u << ENDPOINT_COMPLETIONS | 1u << ENDPOINT_EMBEDDINGS,
	.url = openai_url,
	.headers = openai_headers,
	.stream_end = openai_stream_end,
	.usage_chunk = openai_usage_chunk,
};
