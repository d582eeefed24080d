/*
 * The translation's glue: the table of formats, and requests, answers and
 * streams taken from one format to another through the hub (OpenAI chat):
 * from -> chat -> to.  Run by workers, for requests whose client format is
 * not the upstream's; see xlate.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/xlate.h"

static const struct xlate_format *const formats[XLATE_API_COUNT] = {
	[XLATE_CHAT] = &xlate_chat,
	[XLATE_RESPONSES] = &xlate_responses,
	[XLATE_MESSAGES] = &xlate_messages,
	[XLATE_GEMINI] = &xlate_gemini,
	[XLATE_CONVERSE] = &xlate_converse,
};

const struct xlate_format *
xlate_format_of(enum xlate_api api)
{
	return (unsigned)api < XLATE_API_COUNT ? formats[api] : NULL;
}

/* Appends v's compact text to out; 0 or -1. */
static int
dump(json_t *v, struct buf *out)
{
	char *text = json_dumps(v, JSON_COMPACT);
	int rc;

	if (text == NULL)
		return -1;
	rc = buf_append(out, text, strlen(text));
	free(text);
	return rc;
}

int
xlate_request(enum xlate_api from, enum xlate_api to, const char *body, size_t len,
    const struct xlate_opts *o, struct buf *out, struct xlate_error *e)
{
	const struct xlate_format *f = xlate_format_of(from), *t = xlate_format_of(to);
	json_error_t jerr;
	json_t *req, *chat = NULL, *up = NULL;
	int rc = -1;

	out->len = 0;
	/* a format only providers speak (Gemini's) has no client side */
	if (f == NULL || t == NULL || f->request_to_chat == NULL || t->request_from_chat == NULL) {
		xlate_fail(e, 400, NULL, "this translation is not available");
		return -1;
	}
	if ((req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		xlate_fail(e, 400, NULL, "the request body is not valid JSON (line %d, column %d: %s)",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(req))
		xlate_fail(e, 400, NULL, "the request body must be a JSON object");
	else if ((chat = f->request_to_chat(req, o, e)) != NULL &&
	    (up = t->request_from_chat(chat, o, e)) != NULL) {
		if ((rc = dump(up, out)) < 0)
			xlate_fail(e, 500, NULL, "out of memory translating the request");
	}
	json_decref(up);
	json_decref(chat);
	json_decref(req);
	return rc;
}

/*
 * The error type of a status, for a provider whose error body has none
 * (OpenAI's names, which Anthropic's share for these); "" leaves the
 * client's format to choose.
 */
static const char *
status_type(long status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 429: return "rate_limit_error";
	default:  return "";
	}
}

/* The provider's error, in the client's format, with the provider's own words. */
static int
error_for(const struct xlate_format *f, const struct xlate_format *t, long status,
    const char *body, size_t len, struct buf *out)
{
	char msg[1024] = "", type[64] = "";
	json_t *j = json_loadb(body, len, 0, NULL);

	if (json_is_object(j))
		f->error_parse(j, msg, sizeof(msg), type, sizeof(type));
	json_decref(j);
	if (type[0] == '\0')	/* Bedrock's body is a message alone: the status says what it is */
		snprintf(type, sizeof(type), "%s", status_type(status));
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "the provider answered HTTP %ld: %.*s", status,
		    (int)(len > 512 ? 512 : len), body);
	return t->error_body((int)status, type, msg, NULL, out);
}

int
xlate_response(enum xlate_api from, enum xlate_api to, long status, const char *body,
    size_t len, const char *model, struct buf *out, struct xlate_error *e)
{
	const struct xlate_format *f = xlate_format_of(from), *t = xlate_format_of(to);
	json_t *resp, *chat = NULL, *back = NULL;
	int rc = -1;

	out->len = 0;
	if (f == NULL || t == NULL || f->response_to_chat == NULL || t->response_from_chat == NULL)
		return xlate_fail(e, 502, NULL, "this translation is not available"), -1;
	if (status >= 400)
		return error_for(f, t, status, body, len, out);
	if ((resp = json_loadb(body, len, 0, NULL)) == NULL || !json_is_object(resp)) {
		json_decref(resp);
		xlate_fail(e, 502, NULL, "the provider's answer is not a JSON object");
		return -1;
	}
	if ((chat = f->response_to_chat(resp, e)) != NULL &&
	    (back = t->response_from_chat(chat, model, e)) != NULL) {
		if ((rc = dump(back, out)) < 0)
			xlate_fail(e, 500, NULL, "out of memory translating the answer");
		else
			rc = buf_append(out, "\n", 1);
	}
	json_decref(back);
	json_decref(chat);
	json_decref(resp);
	return rc;
}

int
xlate_reasoning_model(const char *model)
{
	const char *m = strrchr(model, '/');

	m = m ? m + 1 : model;
	return (m[0] == 'o' && m[1] >= '1' && m[1] <= '9') || strncmp(m, "gpt-5", 5) == 0;
}

const char *
xlate_error_type(enum xlate_api api, int status, const char *type)
{
	const struct xlate_format *f = xlate_format_of(api);

	return f != NULL && f->error_type != NULL ? f->error_type(status, type) : type;
}

int
xlate_error_body(enum xlate_api api, int status, const char *type, const char *message,
    const char *param, struct buf *out)
{
	const struct xlate_format *f = xlate_format_of(api);

	return f != NULL ? f->error_body(status, type, message, param, out) : -1;
}

/* ---- streams ------------------------------------------------------------------ */

struct xlate_stream {
	const struct xlate_format	*from, *to;
	void				*dec, *enc;
	struct xlate_out		*out;	/* during one event */
	int				 ended;
};

struct xlate_stream *
xlate_stream_new(enum xlate_api from, enum xlate_api to, const char *model, int include_usage)
{
	struct xlate_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->from = xlate_format_of(from);
	s->to = xlate_format_of(to);
	if (s->from == NULL || s->to == NULL || s->from->decoder_new == NULL ||
	    s->to->encoder_new == NULL || (s->dec = s->from->decoder_new()) == NULL ||
	    (s->enc = s->to->encoder_new(model, include_usage)) == NULL) {
		xlate_stream_free(s);
		return NULL;
	}
	return s;
}

static int
on_chunk(void *arg, json_t *chunk)
{
	struct xlate_stream *s = arg;

	return s->to->encoder_chunk(s->enc, chunk, s->out);
}

int
xlate_stream_event(struct xlate_stream *s, const char *name, const char *data, size_t len,
    struct xlate_out *out)
{
	int rc;

	if (s->ended)
		return 1;	/* what follows the end is not the client's */
	s->out = out;
	rc = s->from->decoder_event(s->dec, name, data, len, on_chunk, s);
	if (rc == 1) {
		s->ended = 1;
		if (s->to->encoder_end(s->enc, out) < 0)
			rc = -1;
	}
	s->out = NULL;
	return rc;
}

int
xlate_stream_finish(struct xlate_stream *s, struct xlate_out *out)
{
	int rc;

	if (s->ended || s->from->decoder_end == NULL)
		return 0;
	s->out = out;
	rc = s->from->decoder_end(s->dec, on_chunk, s);
	if (rc == 1) {
		s->ended = 1;
		rc = s->to->encoder_end(s->enc, out) < 0 ? -1 : 0;
	}
	s->out = NULL;
	return rc < 0 ? -1 : 0;
}

void
xlate_stream_free(struct xlate_stream *s)
{
	if (s == NULL)
		return;
	if (s->dec != NULL)
		s->from->decoder_free(s->dec);
	if (s->enc != NULL)
		s->to->encoder_free(s->enc);
	free(s);
}
