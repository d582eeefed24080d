/*
 * The endpoint table (endpoint.h).
 */
#include <string.h>

#include "provider/endpoint.h"

static const struct endpoint endpoints[ENDPOINT_COUNT] = {
	{ "/v1/chat/completions", ENDPOINT_CHAT, XLATE_CHAT, 1 },
	{ "/v1/completions", ENDPOINT_COMPLETIONS, -1, 1 },
	{ "/v1/embeddings", ENDPOINT_EMBEDDINGS, -1, 0 },
	{ "/v1/responses", ENDPOINT_RESPONSES, XLATE_RESPONSES, 0 },
	{ "/v1/messages", ENDPOINT_MESSAGES, XLATE_MESSAGES, 0 },
};

const struct endpoint *
endpoint_find(const char *path)
{
	const char *p = strncmp(path, "/v1/", 4) == 0 ? path + 3 : path;
	size_t i;

	for (i = 0; i < ENDPOINT_COUNT; i++)
		if (strcmp(endpoints[i].path + 3, p) == 0)
			return &endpoints[i];
	return NULL;
}

const struct endpoint *
endpoint_get(enum endpoint_id id)
{
	return (unsigned)id < ENDPOINT_COUNT ? &endpoints[id] : NULL;
}

/* Endpoints of the dialects no client speaks: named in records, never served. */
static const struct endpoint upstream_only[ENDPOINT_ALL - ENDPOINT_COUNT] = {
	{ "/v1beta/models:generateContent", ENDPOINT_GEMINI, XLATE_GEMINI, 0 },
	{ "/model:converse", ENDPOINT_CONVERSE, XLATE_CONVERSE, 0 },
};

const struct endpoint *
endpoint_of_api(enum xlate_api api)
{
	size_t i;

	for (i = 0; i < ENDPOINT_COUNT; i++)
		if (endpoints[i].api == (int)api)
			return &endpoints[i];
	for (i = 0; i < ENDPOINT_ALL - ENDPOINT_COUNT; i++)
		if (upstream_only[i].api == (int)api)
			return &upstream_only[i];
	return NULL;
}
