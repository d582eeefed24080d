/*
 * The translation as workers call it: the formats, the options of a
 * request's translation, and the glue functions of lib/provider/xlate.c
 * (no JSON library here: workers also include lib/json.h, whose names
 * jansson's would clash with).  The formats themselves: xlate.h.
 */
#ifndef TOLLGATE_PROVIDER_XLATE_API_H
#define TOLLGATE_PROVIDER_XLATE_API_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum xlate_api {
	XLATE_CHAT,		/* /v1/chat/completions */
	XLATE_RESPONSES,	/* /v1/responses */
	XLATE_MESSAGES,		/* /v1/messages */
	XLATE_GEMINI,		/* Gemini's generateContent: upstream only, no client speaks it */
	XLATE_CONVERSE,		/* Bedrock's Converse: upstream only */
	XLATE_API_COUNT
};

/* What a request translation needs to know beyond the body. */
struct xlate_opts {
	const char	*model;		/* the upstream model name to send */
	int		 drop_params;	/* drop a field with no equivalent, else refuse it */
	int64_t		 max_tokens;	/* for a format that requires a limit and got none */
	int		 reasoning_model; /* OpenAI's o-series and the like: max_completion_tokens */
	int		 native_json;	/* the model answers in JSON when asked to; else a forced tool */
};

/* Why a translation refused: an error for the client, in its format. */
struct xlate_error {
	int	status;		/* 400 for the client's fault, 502 for the provider's */
	char	param[64];	/* the field refused, or "" */
	char	message[256];
};

/* A stream's encoder writes its events here. */
struct xlate_out {
	struct buf	*out;	/* events for the client now */
	struct buf	*tail;	/* the end marker ([DONE], message_stop, response.completed),
				   held by the worker until the record is committed */
};

/*
 * The request body for upstream: body[0..len) of format from, translated
 * to format to, appended to out (emptied first).  0, or -1 with e set (400
 * for a body the translation refuses, naming the field in e->param).
 */
int xlate_request(enum xlate_api from, enum xlate_api to, const char *body, size_t len,
    const struct xlate_opts *o, struct buf *out, struct xlate_error *e);

/*
 * An upstream answer of format from, with its status, for a client of
 * format to: a success translated, an error (status >= 400) rewritten as an
 * error of the client's format with the provider's message.  model: what
 * the client asked for.  0, or -1 with e set (502: an answer that does not
 * parse).
 */
int xlate_response(enum xlate_api from, enum xlate_api to, long status, const char *body,
    size_t len, const char *model, struct buf *out, struct xlate_error *e);

/* One stream: a decoder of from, an encoder of to. */
struct xlate_stream;
struct xlate_stream *xlate_stream_new(enum xlate_api from, enum xlate_api to, const char *model,
    int include_usage);
/*
 * One upstream event.  Returns 1 when it ended the stream (the closing
 * events are then in out->tail), 0 to go on, -1 on error (ENOMEM, or an
 * event that does not parse: the stream is then cut, as a provider's broken
 * stream is).
 */
int xlate_stream_event(struct xlate_stream *s, const char *name, const char *data, size_t len,
    struct xlate_out *out);
/*
 * The upstream body ended whole: for a dialect without an end marker, its
 * end (the closing events to out->tail).  0 (nothing to do, or done), or -1.
 */
int xlate_stream_finish(struct xlate_stream *s, struct xlate_out *out);
void xlate_stream_free(struct xlate_stream *s);

/*
 * Whether an OpenAI model takes max_completion_tokens rather than
 * max_tokens (its reasoning models: o1, o3, o4-mini, gpt-5, ...).
 */
int xlate_reasoning_model(const char *model);

/* The error type a client of api expects for an HTTP status, given OpenAI's type. */
const char *xlate_error_type(enum xlate_api api, int status, const char *type);

/* An error body of api's format; 0 or -1. */
int xlate_error_body(enum xlate_api api, int status, const char *type, const char *message,
    const char *param, struct buf *out);

#endif
