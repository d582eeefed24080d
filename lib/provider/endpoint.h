/*
 * The API endpoints tollgate serves, in one table: the client format each
 * speaks (for translation), and its name in /metrics.  Read by workers and
 * by lib/metrics.c; constant data.
 */
#ifndef TOLLGATE_PROVIDER_ENDPOINT_H
#define TOLLGATE_PROVIDER_ENDPOINT_H

#include "provider/xlate_api.h"

enum endpoint_id {
	ENDPOINT_CHAT,		/* /v1/chat/completions */
	ENDPOINT_COMPLETIONS,	/* /v1/completions */
	ENDPOINT_EMBEDDINGS,	/* /v1/embeddings */
	ENDPOINT_RESPONSES,	/* /v1/responses */
	ENDPOINT_MESSAGES,	/* /v1/messages */
	ENDPOINT_COUNT,		/* the endpoints clients call; those after are upstream only */
	ENDPOINT_GEMINI = ENDPOINT_COUNT,	/* generateContent (Gemini, Vertex) */
	ENDPOINT_CONVERSE,	/* Bedrock's /model/ID/converse */
	ENDPOINT_ALL
};

struct endpoint {
	const char	*path;		/* "/v1/chat/completions" */
	enum endpoint_id id;
	int		 api;		/* enum xlate_api it speaks, or -1: not translated */
	int		 openai_stream;	/* an OpenAI stream: usage comes only when asked for */
};

/* The endpoint of a path, with or without "/v1" ("/chat/completions" alike); NULL for none. */
const struct endpoint *endpoint_find(const char *path);
const struct endpoint *endpoint_get(enum endpoint_id id);
/* The endpoint that speaks api natively (upstream-only ones included). */
const struct endpoint *endpoint_of_api(enum xlate_api api);

#endif
