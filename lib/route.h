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
#include "provider/catalogue.h"
#include "provider/gauth.h"
#include "usage.h"

/*
 * The longest name of a deployment's own price entry (routes_add_prices()):
 * a record's priced_as keeps it whole.
 */
#define ROUTE_PRICE_NAME_MAX	127

struct route_deployment {
	const struct config_deployment	*cfg;
	/* its catalogue row; NULL for a prefix tollgate does not know, served as an
	   OpenAI-compatible API at its api_base */
	const struct catalogue_entry	*entry;
	const struct dialect		*dialect;
	/*
	 * The dialect that relays a client format d->dialect does not speak,
	 * or NULL: Claude on Bedrock is Converse for every client but an
	 * Anthropic one, which InvokeModel serves as is (cache_control and
	 * thinking end to end), as LiteLLM does.
	 */
	const struct dialect		*relay;
	unsigned			 native;	/* 1u << enum endpoint_id relayed as is */
	char				 base[512];	/* URL base, no trailing '/' */
	char				 auth[1024];	/* the upstream auth header line, or "" */
	char				 model[256];	/* the model name sent upstream */
	char				 api_version[64]; /* Azure's, or "" */
	struct {			/* AWS's credentials (SigV4): the config's or the environment's */
		const char	*key_id, *secret, *token;	/* token NULL: long-term keys */
		char		 region[32];
	}				 aws;
	struct {			/* Google Cloud's (Vertex AI) */
		char		 project[128], location[64];
		int		 account;	/* its key in routes.accounts, or -1: no token */
	}				 gcp;
	int				 drop_params;	/* drop what has no equivalent in translation */
	enum usage_shape		 shape;
	char				 price_name[320]; /* the price-map entry to look up */
	int				 slot;		/* its state in the status file (router.h), -1: none */
	char				 model_id[40];	/* x-litellm-model-id: model_info.id, else a hash */
};

struct route_model {
	const char	*name;
	size_t		*deps;		/* indexes into routes.deps, file order */
	size_t		 ndeps;		/* 0: none servable, see why */
	unsigned	 next;		/* round-robin position (per process) */
	char		 why[512];	/* with no deployment: why its deployments were left out */
};

struct routes {
	struct route_deployment	*deps;
	size_t			 ndeps;
	struct route_model	*models;
	size_t			 nmodels;
	char			*warnings;	/* "file:line: ..." of deployments left out, or NULL */
	size_t			 nleft_out;
	/*
	 * The service accounts whose access tokens deployments send (Vertex
	 * AI), each once however many deployments share it: a worker keeps
	 * one token per account (worker_token.c).
	 */
	struct gauth_account	*accounts;
	size_t			 naccounts, accounts_cap;
};

/*
 * 0 and *out, or -1 with a message in err (out of memory).  A deployment
 * tollgate cannot serve (a provider it does not know without an api_base, or
 * one the catalogue says it cannot serve) is left out with a warning naming
 * its file:line; its model stays, answering why.
 */
int routes_build(const struct config *c, struct routes **out, char *err, size_t errlen);
void routes_free(struct routes *r);

/* The public model of that name, or NULL. */
struct route_model *routes_find(const struct routes *r, const char *name, size_t len);

/* How deployment d serves a client endpoint. */
enum route_plan {
	ROUTE_NATIVE,		/* relayed as is */
	ROUTE_TRANSLATE,	/* translated to d's dialect and back */
	ROUTE_NONE,		/* not at all */
};
enum route_plan route_plan(const struct route_deployment *d, const struct endpoint *ep);
/* The dialect that serves endpoint ep (a client's, or the upstream one) on d. */
const struct dialect *route_dialect(const struct route_deployment *d, const struct endpoint *ep);

/*
 * The upstream URL of endpoint ep on deployment d (for a translated
 * request, the endpoint of d's own format; stream: the client asked for a
 * stream, which some dialects say in the URL).  0, or -1 when d does not
 * serve it.
 */
int route_url(const struct route_deployment *d, const struct endpoint *ep, int stream,
    char *out, size_t outlen);

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

/*
 * Warnings, one "file:line: ..." line each, for the Bedrock deployments
 * whose model is an ARN that the compiled table t prices by nothing (an
 * application-inference-profile or provisioned-model ARN names no model;
 * an inference-profile ARN may name one the map lacks): their requests are
 * recorded unpriced until model_info.base_model says what they run.  A
 * malloc'd string the caller frees, or NULL when there is nothing to say
 * (or on ENOMEM).  Run by the master once the prices are compiled.
 */
char *routes_price_warnings(const struct routes *r, const struct price_table *t);

/*
 * An OpenAI or Azure deployment whose price-map entry has mode "responses"
 * (gpt-5-pro, the codex models: they speak only the Responses API) is
 * served in the Responses dialect, unless its model_info gives another
 * mode.  Run by the master once the prices are compiled.
 */
void routes_use_modes(struct routes *r, const struct price_table *t);

#endif
