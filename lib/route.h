/*
 * Routes: the config's model_list turned into what a worker needs per
 * request: for a public model name, its deployments in order, each with the
 * upstream URL base, the auth header, the usage shape and the price-map
 * entry to price it by.  Built by the master at load and reload (validation
 * errors name the deployment's file:line); read by workers after fork.
 */
#ifndef TOLLGATE_ROUTE_H
#define TOLLGATE_ROUTE_H

#include <stddef.h>

#include "config.h"
#include "pricemap.h"
#include "usage.h"

enum route_api {
	ROUTE_API_OPENAI,	/* OpenAI and every OpenAI-compatible API */
	ROUTE_API_AZURE,	/* OpenAI on Azure: deployment URL, api-key, api-version */
	ROUTE_API_ANTHROPIC,	/* Anthropic Messages */
};

/*
 * The longest name of a deployment's own price entry (routes_add_prices()):
 * a record's priced_as keeps it whole.
 */
#define ROUTE_PRICE_NAME_MAX	127

struct route_deployment {
	const struct config_deployment	*cfg;
	enum route_api			 api;
	char				 base[512];	/* URL base, no trailing '/' */
	char				 auth[1024];	/* the upstream auth header line, or "" */
	enum usage_shape		 shape;
	char				 price_name[320]; /* the price-map entry to look up */
};

struct route_model {
	const char	*name;
	size_t		*deps;		/* indexes into routes.deps, file order */
	size_t		 ndeps;
	unsigned	 next;		/* round-robin position (per process) */
};

struct routes {
	struct route_deployment	*deps;
	size_t			 ndeps;
	struct route_model	*models;
	size_t			 nmodels;
};

/* 0 and *out, or -1 with "file:line: ..." in err (e.g. an unknown provider without api_base). */
int routes_build(const struct config *c, struct routes **out, char *err, size_t errlen);
void routes_free(struct routes *r);

/* The public model of that name, or NULL. */
struct route_model *routes_find(const struct routes *r, const char *name, size_t len);

/*
 * The upstream URL of endpoint ("/v1/chat/completions", "/v1/messages", ...)
 * on deployment d.  Returns 0, or -1 when d's API does not serve endpoint.
 */
int route_url(const struct route_deployment *d, const char *endpoint, char *out, size_t outlen);

/*
 * Adds every deployment that has prices or a base_model of its own to the
 * price-map builder, as entries named after the deployment, never after its
 * place in model_list: "deployment:<model_name>/<provider>/<model>" (the
 * names in route_deployment.price_name).  Deployments of one such name
 * priced alike share one entry; priced otherwise, each name ends in "#" and
 * 16 hex digits of its prices.  Names past ROUTE_PRICE_NAME_MAX bytes are cut
 * and end in "~" and 16 hex digits of the whole.  0, or -1 on ENOMEM.
 */
int routes_add_prices(const struct routes *r, struct pricemap_builder *b);

#endif
