/*
 * The provider seam.  A dialect is one wire format as providers speak it:
 * the URL of each endpoint, the headers of its own, how a stream ends, and
 * (through its format's struct xlate_format, xlate.h) the translation from
 * and to the other formats.  One file per dialect fills one struct dialect: chat.c (OpenAI
 * and every OpenAI-compatible API), responses.c (OpenAI Responses, for
 * the models that speak only it), messages.c (Anthropic Messages),
 * gemini.c (Google's generateContent), converse.c (AWS Bedrock's Converse),
 * invoke.c (Claude through Bedrock's InvokeModel), vertex.c (Gemini and
 * Claude on Google's Vertex AI: their formats at Vertex's URLs).
 * Providers that speak a dialect are rows of data in the catalogue
 * (catalogue.c): prefix, default base, auth header, key variable, quirks.
 * The worker's data path calls these tables and never names a provider.
 * Constant data, read by the master (routes) and by workers.
 */
#ifndef TOLLGATE_PROVIDER_DIALECT_H
#define TOLLGATE_PROVIDER_DIALECT_H

#include <stddef.h>

#include <curl/curl.h>

#include "usage.h"
#include "provider/endpoint.h"
#include "provider/xlate_api.h"

struct buf;
struct route_deployment;

/* A client header, for the few a dialect passes on from a same-format client. */
typedef const char *(*dialect_header_fn)(void *arg, const char *name);

struct dialect {
	const char			*name;		/* "openai", "anthropic" */
	enum xlate_api			 api;		/* its wire format (xlate_format_of()) */
	enum usage_shape		 shape;		/* how its usage reads, unless the row says */
	unsigned			 native;	/* 1u << enum endpoint_id it relays as is */
	/* the upstream URL of endpoint ep on d (stream: the client asked for one); 0, or -1 */
	int	(*url)(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
		    size_t outlen);
	/*
	 * Appends the dialect's own headers to l (the list, or NULL out of
	 * memory); client is NULL on a translated request, else the client's
	 * headers, for the ones a same-format client chooses (API versions).
	 */
	struct curl_slist *(*headers)(struct curl_slist *l, dialect_header_fn client, void *arg);
	int	 client_headers;	/* headers() reads the client's: no list shared */
	/*
	 * Signs one request (SigV4): appends to l the headers that sign a POST
	 * of body to url; NULL there is freed and means it could not.  NULL
	 * hook: the deployment's fixed auth header is all.
	 */
	struct curl_slist *(*sign)(const struct route_deployment *d, const char *url,
	    const char *body, size_t len, struct curl_slist *l);
	/*
	 * Rewrites the body made for upstream, in place (Claude on a cloud:
	 * the model goes in the URL, the API version in the body); stream: the
	 * client asked for one.  NULL: sent as made.  0, or -1 (not JSON, ENOMEM).
	 */
	int	(*body)(const struct route_deployment *d, int stream, struct buf *b);
	/*
	 * Rewrites an error answer from its host's form into its format's, in
	 * place (InvokeModel's {"message"} into Anthropic's).  NULL: the
	 * format's already.  0, or -1 (ENOMEM).
	 */
	int	(*error)(long status, struct buf *body);
	int	 eventstream;		/* its streams are AWS event-stream frames, not SSE... */
	int	 wrapped;		/* ...each an event of its format, base64 in {"bytes"} */
	int	 needs_max_tokens;	/* a request must state its output limit */
	/* Whether a stream event is the stream's end marker (held until the commit). */
	int	(*stream_end)(const char *name, const char *data, size_t len);
	/* Whether an event holding usage is only the usage tollgate asked for (dropped). */
	int	(*usage_chunk)(const char *data, size_t len);
};

extern const struct dialect dialect_openai, dialect_responses, dialect_anthropic, dialect_gemini,
    dialect_bedrock, dialect_bedrock_invoke, dialect_vertex_gemini, dialect_vertex_anthropic;

/*
 * For dialects no client speaks (chat.c): no end marker to hold (their
 * translated streams end by the decoder), no usage-only chunk, no headers
 * of their own.
 */
int dialect_no_stream_end(const char *name, const char *data, size_t len);
int dialect_no_usage_chunk(const char *data, size_t len);
struct curl_slist *dialect_no_headers(struct curl_slist *l, dialect_header_fn client, void *arg);

/*
 * Anthropic's stream end and usage (messages.c), which Claude on the clouds
 * shares, and its body as a cloud takes it: without the model, with the
 * cloud's anthropic_version, "stream" kept or not.  0, or -1.
 */
int anthropic_stream_end(const char *name, const char *data, size_t len);
int anthropic_usage_chunk(const char *data, size_t len);
int anthropic_cloud_body(struct buf *b, const char *version, int keep_stream);

/*
 * Bedrock's (converse.c), which InvokeModel shares: the URL of a method of
 * d's model, {base}/model/{id, percent-encoded}/{method}, and the request
 * signed (SigV4, unless d has a Bedrock API key).
 */
int bedrock_model_url(const struct route_deployment *d, const char *method, char *out,
    size_t outlen);
struct curl_slist *bedrock_sign(const struct route_deployment *d, const char *url,
    const char *body, size_t len, struct curl_slist *l);

/* OpenAI's URLs and headers (chat.c), which its Responses dialect shares. */
int openai_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen);
struct curl_slist *openai_headers(struct curl_slist *l, dialect_header_fn client, void *arg);

#endif
