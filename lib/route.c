/*
 * Route building (master) and URL construction (workers).  The provider
 * table says, for each LiteLLM provider prefix, which API it speaks, where
 * it lives by default, and how its usage is shaped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "route.h"

_Static_assert(ROUTE_PRICE_NAME_MAX < sizeof(((struct record *)0)->priced_as) &&
    ROUTE_PRICE_NAME_MAX < sizeof(((struct route_deployment *)0)->price_name),
    "a record keeps the name of a deployment's own entry whole");

struct provider {
	const char	*name;
	enum route_api	 api;
	const char	*base;		/* NULL: api_base is required */
	enum usage_shape shape;
};

static const struct provider providers[] = {
	{ "anthropic",	 ROUTE_API_ANTHROPIC, "https://api.anthropic.com", USAGE_SHAPE_ANTHROPIC },
	{ "azure",	 ROUTE_API_AZURE, NULL, USAGE_SHAPE_AUTO },
	{ "azure_ai",	 ROUTE_API_OPENAI, NULL, USAGE_SHAPE_AUTO },
	{ "deepseek",	 ROUTE_API_OPENAI, "https://api.deepseek.com/v1", USAGE_SHAPE_DEEPSEEK },
	{ "groq",	 ROUTE_API_OPENAI, "https://api.groq.com/openai/v1", USAGE_SHAPE_AUTO },
	{ "hosted_vllm", ROUTE_API_OPENAI, NULL, USAGE_SHAPE_AUTO },
	{ "mistral",	 ROUTE_API_OPENAI, "https://api.mistral.ai/v1", USAGE_SHAPE_AUTO },
	{ "moonshot",	 ROUTE_API_OPENAI, "https://api.moonshot.ai/v1", USAGE_SHAPE_AUTO },
	{ "ollama_chat", ROUTE_API_OPENAI, "http://127.0.0.1:11434/v1", USAGE_SHAPE_AUTO },
	{ "openai",	 ROUTE_API_OPENAI, "https://api.openai.com/v1", USAGE_SHAPE_AUTO },
	{ "openrouter",	 ROUTE_API_OPENAI, "https://openrouter.ai/api/v1", USAGE_SHAPE_AUTO },
	{ "text-completion-openai", ROUTE_API_OPENAI, "https://api.openai.com/v1", USAGE_SHAPE_AUTO },
	{ "xai",	 ROUTE_API_OPENAI, "https://api.x.ai/v1", USAGE_SHAPE_AUTO },
};

static const struct provider *
provider_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}

/* Trims trailing slashes; a base with no path at all gets "/v1" for OpenAI-style APIs. */
static void
set_base(struct route_deployment *d, const char *base)
{
	size_t n;
	const char *scheme_end = strstr(base, "://");
	const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;

	snprintf(d->base, sizeof(d->base), "%s", base);
	n = strlen(d->base);
	while (n > 0 && d->base[n - 1] == '/')
		d->base[--n] = '\0';
	if (d->api == ROUTE_API_OPENAI && (path == NULL || path[1] == '\0') && n + 3 < sizeof(d->base))
		strcat(d->base, "/v1");
}

/* Whether d has prices or a base_model of its own: then it is an entry of its own. */
static int
own_prices(const struct config_deployment *d)
{
	return d->nprices > 0 || d->base_model != NULL;
}

/* Whether two deployments are priced alike: the same base_model and price fields, in any order. */
static int
same_prices(const struct config_deployment *a, const struct config_deployment *b)
{
	size_t i, j;

	if ((a->base_model == NULL) != (b->base_model == NULL) ||
	    (a->base_model != NULL && strcmp(a->base_model, b->base_model) != 0) ||
	    a->nprices != b->nprices)
		return 0;
	for (i = 0; i < a->nprices; i++) {
		for (j = 0; j < b->nprices && strcmp(a->prices[i].key, b->prices[j].key) != 0; j++)
			;
		if (j == b->nprices || strcmp(a->prices[i].value, b->prices[j].value) != 0)
			return 0;
	}
	return 1;
}

/* FNV-1a of s (with its NUL, so that "ab" "c" and "a" "bc" differ) on from h. */
static uint64_t
fnv(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++);
	return h;
}

#define FNV_BASIS	0xcbf29ce484222325ULL

/* A hash of d's prices, whatever the order of its fields (same_prices() alike, equal hash). */
static uint64_t
prices_hash(const struct config_deployment *d)
{
	uint64_t h = fnv(FNV_BASIS, d->base_model ? d->base_model : "");
	size_t i;

	for (i = 0; i < d->nprices; i++)
		h += fnv(fnv(FNV_BASIS, d->prices[i].key), d->prices[i].value);
	return h;
}

/* Whether deployments a and b would have the same base name (own_price_name()). */
static int
same_base(const struct config_deployment *a, const struct config_deployment *b)
{
	return strcmp(a->model_name, b->model_name) == 0 && strcmp(a->provider, b->provider) == 0 &&
	    strcmp(a->model, b->model) == 0;
}

/*
 * Names the entry of deployment i, which has prices or a base_model of its
 * own, from what it is and never from where it is, so that neither a
 * reorder of model_list nor a reload renames it and yesterday's records
 * line up with today's: "deployment:<model_name>/<provider>/<model>".
 * Deployments of one such name priced alike share the entry; when they are
 * priced otherwise, each name gets "#" and 16 hex digits of its prices.  A
 * name longer than a record's priced_as keeps (ROUTE_PRICE_NAME_MAX) is cut,
 * and ends in "~" and 16 hex digits of the whole name, so that two long
 * names stay two.
 */
static void
own_price_name(const struct config *c, size_t i, char *out, size_t len)
{
	const struct config_deployment *cd = &c->deployments[i], *o;
	uint64_t h = 0;
	size_t j, n;

	for (j = 0; j < c->ndeployments; j++) {
		o = &c->deployments[j];
		if (j != i && own_prices(o) && same_base(o, cd) && !same_prices(o, cd)) {
			h = prices_hash(cd);
			break;
		}
	}
	n = (size_t)snprintf(out, len, "deployment:%s/%s/%s", cd->model_name, cd->provider,
	    cd->model);
	if (j < c->ndeployments && n < len)
		n += (size_t)snprintf(out + n, len - n, "#%016llx", (unsigned long long)h);
	if (n > ROUTE_PRICE_NAME_MAX) {
		/* the whole name, which snprintf may have cut at len, hashed from its parts */
		h += fnv(fnv(fnv(FNV_BASIS, cd->model_name), cd->provider), cd->model);
		snprintf(out + ROUTE_PRICE_NAME_MAX - 17, len - (ROUTE_PRICE_NAME_MAX - 17),
		    "~%016llx", (unsigned long long)h);
	}
}

int
routes_build(const struct config *c, struct routes **out, char *err, size_t errlen)
{
	struct routes *r = calloc(1, sizeof(*r));
	size_t i, j;

	if (r == NULL || (c->ndeployments &&
	    ((r->deps = calloc(c->ndeployments, sizeof(*r->deps))) == NULL ||
	    (r->models = calloc(c->ndeployments, sizeof(*r->models))) == NULL)))
		goto nomem;
	for (i = 0; i < c->ndeployments; i++) {
		const struct config_deployment *cd = &c->deployments[i];
		struct route_deployment *d = &r->deps[i];
		const struct provider *p = provider_find(cd->provider);
		struct route_model *m = NULL;

		d->cfg = cd;
		d->api = p ? p->api : ROUTE_API_OPENAI;
		d->shape = p ? p->shape : USAGE_SHAPE_AUTO;
		if (cd->api_base != NULL)
			set_base(d, cd->api_base);
		else if (p != NULL && p->base != NULL)
			set_base(d, p->base);
		else {
			snprintf(err, errlen, "%s:%d: model '%s': provider '%s' needs an api_base",
			    cd->file, cd->line, cd->model_name, cd->provider);
			routes_free(r);
			return -1;
		}
		if (d->api == ROUTE_API_AZURE && cd->api_base == NULL) {
			snprintf(err, errlen, "%s:%d: model '%s': azure needs api_base", cd->file,
			    cd->line, cd->model_name);
			routes_free(r);
			return -1;
		}
		if (cd->api_key != NULL) {
			const char *fmt = d->api == ROUTE_API_ANTHROPIC ? "x-api-key: %s" :
			    d->api == ROUTE_API_AZURE ? "api-key: %s" : "Authorization: Bearer %s";
			snprintf(d->auth, sizeof(d->auth), fmt, cd->api_key);
		}
		/* the deployment's own prices, else its base_model, else provider/model */
		if (own_prices(cd))
			own_price_name(c, i, d->price_name, sizeof(d->price_name));
		else
			snprintf(d->price_name, sizeof(d->price_name), "%s/%s", cd->provider, cd->model);

		for (j = 0; j < r->nmodels; j++)
			if (strcmp(r->models[j].name, cd->model_name) == 0)
				m = &r->models[j];
		if (m == NULL) {
			m = &r->models[r->nmodels++];
			m->name = cd->model_name;
			if ((m->deps = calloc(c->ndeployments, sizeof(*m->deps))) == NULL)
				goto nomem;
		}
		m->deps[m->ndeps++] = i;
	}
	r->ndeps = c->ndeployments;
	*out = r;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory building routes");
	routes_free(r);
	return -1;
}

void
routes_free(struct routes *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nmodels; i++)
		free(r->models[i].deps);
	free(r->models);
	free(r->deps);
	free(r);
}

struct route_model *
routes_find(const struct routes *r, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < r->nmodels; i++)
		if (strlen(r->models[i].name) == len && memcmp(r->models[i].name, name, len) == 0)
			return &r->models[i];
	return NULL;
}

int
route_url(const struct route_deployment *d, const char *endpoint, char *out, size_t outlen)
{
	const char *tail = strncmp(endpoint, "/v1/", 4) == 0 ? endpoint + 3 : endpoint;
	int anthropic_endpoint = strcmp(tail, "/messages") == 0;
	size_t n;
	int w;

	switch (d->api) {
	case ROUTE_API_ANTHROPIC:
		if (!anthropic_endpoint)
			return -1;
		n = strlen(d->base);
		/* "https://api.anthropic.com" or a base that already ends in /v1 */
		w = snprintf(out, outlen, "%s%s", d->base,
		    n >= 3 && strcmp(d->base + n - 3, "/v1") == 0 ? "/messages" : "/v1/messages");
		break;
	case ROUTE_API_AZURE:
		if (anthropic_endpoint)
			return -1;
		w = snprintf(out, outlen, "%s/openai/deployments/%s%s?api-version=%s", d->base,
		    d->cfg->model, tail, d->cfg->api_version ? d->cfg->api_version : "2024-10-21");
		break;
	default:
		if (anthropic_endpoint)
			return -1;
		w = snprintf(out, outlen, "%s%s", d->base, tail);
		break;
	}
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

int
routes_add_prices(const struct routes *r, struct pricemap_builder *b)
{
	struct pricemap_field *f = NULL;
	size_t i, j;
	int rc = 0;

	for (i = 0; i < r->ndeps && rc == 0; i++) {
		const struct config_deployment *cd = r->deps[i].cfg;

		if (strncmp(r->deps[i].price_name, "deployment:", 11) != 0)
			continue;
		for (j = 0; j < i && strcmp(r->deps[j].price_name, r->deps[i].price_name) != 0; j++)
			;
		if (j < i)
			continue;	/* shared with an earlier one priced alike: added once */
		free(f);
		if ((f = calloc(cd->nprices + 1, sizeof(*f))) == NULL)
			return -1;
		for (j = 0; j < cd->nprices; j++) {
			f[j].key = cd->prices[j].key;
			f[j].value = cd->prices[j].value;
			f[j].line = cd->prices[j].line;
		}
		rc = pricemap_add_entry(b, cd->file, r->deps[i].price_name, cd->base_model, f,
		    cd->nprices);
	}
	free(f);
	return rc;
}
