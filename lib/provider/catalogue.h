/*
 * The catalogue: every provider tollgate knows by its LiteLLM prefix, as
 * data.  A provider that speaks a dialect tollgate has is one row here;
 * a row with a reason instead of a dialect is known and left out with that
 * reason (a config naming it still loads).  Constant data.
 */
#ifndef TOLLGATE_PROVIDER_CATALOGUE_H
#define TOLLGATE_PROVIDER_CATALOGUE_H

#include "provider/dialect.h"

/* Where the key goes. */
enum catalogue_auth {
	CATALOGUE_BEARER,	/* Authorization: Bearer KEY */
	CATALOGUE_API_KEY,	/* api-key: KEY (Azure) */
	CATALOGUE_X_API_KEY,	/* x-api-key: KEY (Anthropic) */
	CATALOGUE_GOOG_API_KEY,	/* x-goog-api-key: KEY (Gemini) */
	CATALOGUE_SIGV4,	/* AWS's SigV4 per request, or a Bedrock API key as a bearer */
	CATALOGUE_GOOGLE_OAUTH,	/* a service account's access token as a bearer (Vertex AI) */
};

enum catalogue_quirk {
	CATALOGUE_AZURE		= 1u << 0,	/* deployment URL, ?api-version= */
	CATALOGUE_NO_V1		= 1u << 1,	/* a base without a path gets no "/v1" */
	CATALOGUE_FIREWORKS	= 1u << 2,	/* a model without '/' is accounts/fireworks/models/M */
	CATALOGUE_RESPONSES	= 1u << 3,	/* serves /v1/responses as is (OpenAI's own) */
	CATALOGUE_EMBEDDINGS	= 1u << 4,	/* embeddings only */
	CATALOGUE_AWS_REGION	= 1u << 5,	/* base from the region: "%s" in base is it */
	CATALOGUE_VERTEX	= 1u << 6,	/* project, location and key: base from the location */
};

struct catalogue_entry {
	const char		*prefix;	/* "mistral" */
	const struct dialect	*dialect;	/* NULL: not servable, see unservable */
	const char		*base;		/* default api_base; NULL: api_base required */
	enum catalogue_auth	 auth;
	const char		*key_env;	/* the key's variable when the config has none */
	const char		*base_env;	/* the base's variable, or NULL */
	unsigned		 quirks;
	enum usage_shape	 shape;		/* AUTO: the dialect's */
	const char		*unservable;	/* why tollgate cannot serve it, or NULL */
};

/* The row of a LiteLLM prefix, or NULL for a prefix tollgate does not know. */
const struct catalogue_entry *catalogue_find(const char *prefix);

#endif
