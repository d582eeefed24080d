/*
 * Translation between the three API formats tollgate speaks, on either side
 * of it: OpenAI chat completions, OpenAI Responses and Anthropic Messages.
 * OpenAI chat is the hub: each other format translates to and from chat
 * (lib/provider/messages.c, lib/provider/responses.c), so Messages to
 * Responses is Messages -> chat -> Responses, and a new format is one file
 * with one struct xlate_format.  Requests and whole responses are JSON trees
 * (jansson); streams go event by event through a decoder (the upstream's
 * events -> chat chunks) and an encoder (chat chunks -> the client's events),
 * never buffered whole.  Same-format requests never come here: they stay
 * byte relays (lib/reqbody.c).
 *
 * Pure functions over data from outside (bodies from clients and providers);
 * the fuzz targets drive them.  Workers run them; nothing here crosses fork.
 *
 * Conventions of the hub (what decoders produce and encoders consume):
 * - a chat request as OpenAI documents it; "reasoning_effort" carries
 *   thinking; unknown fields of the source format never reach it silently
 *   (see xlate_opts.drop_params);
 * - a chat completion with "choices"[0] only; "message.reasoning_content"
 *   carries thinking text (LiteLLM's name); "usage" in LiteLLM's convention
 *   (prompt_tokens counts cached and cache-written tokens;
 *   prompt_tokens_details.cached_tokens the cache reads;
 *   cache_creation_input_tokens the cache writes, when the source had them);
 * - a stream as chat chunks: "choices"[0].delta with role, content,
 *   reasoning_content, tool_calls[{index, id, type, function{name,
 *   arguments}}] (index counts tool calls, from 0), a chunk whose
 *   finish_reason is set, then a usage chunk ("choices": [], "usage"), then
 *   the end; an error mid-stream is a chunk {"error": {"message", "type"}}.
 */
#ifndef TOLLGATE_PROVIDER_XLATE_H
#define TOLLGATE_PROVIDER_XLATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "provider/xlate_api.h"

/* Sets e and returns NULL (for "return xlate_fail(...)" in translators; xlate_err.c). */
void *xlate_fail(struct xlate_error *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Called by a decoder for each chat chunk it makes; 0, or -1 to stop. */
typedef int (*xlate_chunk_fn)(void *arg, json_t *chunk);

/*
 * One format's side of the hub.  Every function takes the tree it is given
 * without owning it and returns a new reference (the caller's), or NULL with
 * e set.  State objects are the format's own (void *), freed by its free.
 */
struct xlate_format {
	const char	*name;			/* "chat", "responses", "messages" */
	enum xlate_api	 api;
	/* a client's request in this format -> a chat request */
	json_t	*(*request_to_chat)(json_t *req, const struct xlate_opts *o, struct xlate_error *e);
	/* a chat request -> this format's request for upstream (o->model put in) */
	json_t	*(*request_from_chat)(json_t *chat, const struct xlate_opts *o, struct xlate_error *e);
	/* an upstream answer in this format -> a chat completion */
	json_t	*(*response_to_chat)(json_t *resp, struct xlate_error *e);
	/* a chat completion -> this format's answer (its "model", else model) */
	json_t	*(*response_from_chat)(json_t *chat, const char *model, struct xlate_error *e);

	/*
	 * Streams from upstream: decoder_new() for one stream, then each event
	 * (name "" when the SSE event had none; data its data) through
	 * decoder_event(), which calls emit for the chunks it makes; the last
	 * return 1 when the event was the stream's end, 0 to go on, -1 on error.
	 */
	void	*(*decoder_new)(void);
	int	 (*decoder_event)(void *st, const char *name, const char *data, size_t len,
		    xlate_chunk_fn emit, void *arg);
	/*
	 * For a stream that has no end marker (Gemini's ends with its body):
	 * its end, once the body ended whole: the last chunks (the usage), and
	 * 1.  NULL: a body that ends without the marker was cut.
	 */
	int	 (*decoder_end)(void *st, xlate_chunk_fn emit, void *arg);
	void	 (*decoder_free)(void *st);

	/*
	 * Streams to the client: encoder_new() (model: the name to report
	 * until a chunk names one; include_usage: a chat client's stream_options.include_usage),
	 * encoder_chunk() per chat chunk (complete SSE events appended to
	 * out->out), encoder_end() once the upstream stream ended whole (the
	 * events that close it: the last one, the end marker, to out->tail).
	 * 0 or -1 (ENOMEM).
	 */
	void	*(*encoder_new)(const char *model, int include_usage);
	int	 (*encoder_chunk)(void *st, json_t *chunk, struct xlate_out *out);
	int	 (*encoder_end)(void *st, struct xlate_out *out);
	void	 (*encoder_free)(void *st);

	/* An error body in this format (type: OpenAI's, e.g. "invalid_request_error"). */
	int	 (*error_body)(int status, const char *type, const char *message, const char *param,
		    struct buf *out);
	/* The message and type of an upstream error body in this format, into msg / type. */
	void	 (*error_parse)(json_t *body, char *msg, size_t msglen, char *type, size_t typelen);
	/* The error type this format's clients expect for an HTTP status (NULL: OpenAI's type as is). */
	const char *(*error_type)(int status, const char *type);
};

/*
 * error_parse for the formats whose errors are {"error": {"message", "type"}}
 * (OpenAI's and Anthropic's alike; "error": "text" too); chat.c.
 */
void xlate_parse_error(json_t *body, char *msg, size_t msglen, char *type, size_t typelen);

extern const struct xlate_format xlate_chat, xlate_responses, xlate_messages, xlate_gemini,
    xlate_converse;

/* The format of that api. */
const struct xlate_format *xlate_format_of(enum xlate_api api);

#endif
