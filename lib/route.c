/*
 * Route building (master) and the plan of a request (workers).  Each
 * deployment is placed by its provider's catalogue row
 * (lib/provider/catalogue.c): its dialect, base, auth and quirks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "record.h"
#include "route.h"

_Static_assert(ROUTE_PRICE_NAME_MAX < sizeof(((struct record *)0)->priced_as) &&
    ROUTE_PRICE_NAME_MAX < sizeof(((struct route_deployment *)0)->price_name),
    "a record keeps the name of a deployment's own entry whole");

/* The first variable of the list "A:B:C" that is set and not empty, or NULL. */
static const char *
env_first(const char *names)
{
	char name[64];
	const char *v;
	size_t n;

	while (names != NULL && *names) {
		n = strcspn(names, ":");
		if (n < sizeof(name)) {
			memcpy(name, names, n);
			name[n] = '\0';
			if ((v = getenv(name)) != NULL && *v)
				return v;
		}
		names += n + (names[n] == ':');
	}
	return NULL;
}

/*
 * Trims trailing slashes; an OpenAI-style base with no path at all gets
 * "/v1" (LiteLLM's habit), unless the provider serves at its root.
 */
static void
set_base(struct route_deployment *d, const char *base)
{
	size_t n;
	const char *scheme_end = strstr(base, "://");
	const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
	int root = d->entry != NULL && (d->entry->quirks & (CATALOGUE_NO_V1 | CATALOGUE_AZURE));

	snprintf(d->base, sizeof(d->base), "%s", base);
	n = strlen(d->base);
	while (n > 0 && d->base[n - 1] == '/')
		d->base[--n] = '\0';
	if (d->dialect == &dialect_openai && !root && (path == NULL || path[1] == '\0') &&
	    n + 3 < sizeof(d->base))
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

/* What d relays as is: its dialect's endpoints, as its row narrows or widens them. */
static unsigned
native_endpoints(const struct route_deployment *d)
{
	unsigned q = d->entry ? d->entry->quirks : CATALOGUE_RESPONSES;

	if (q & CATALOGUE_EMBEDDINGS)
		return 1u << ENDPOINT_EMBEDDINGS;
	return d->dialect->native | (d->relay ? d->relay->native : 0) |
	    (q & CATALOGUE_RESPONSES ? 1u << ENDPOINT_RESPONSES : 0);
}

/*
 * AWS's region and credentials for d: the deployment's (LiteLLM's aws_*),
 * else the standard variables; a Bedrock API key (api_key, or
 * AWS_BEARER_TOKEN_BEDROCK) instead of keys is set_auth()'s.  0, or -1 with
 * why.  need_region: the base is made from the region.
 */
static int
aws_place(const struct config_deployment *cd, struct route_deployment *d, int need_region,
    char *why, size_t len)
{
	const char *region = cd->aws_region_name ? cd->aws_region_name :
	    env_first("AWS_REGION:AWS_DEFAULT_REGION");

	snprintf(d->aws.region, sizeof(d->aws.region), "%s", region ? region : "");
	d->aws.key_id = cd->aws_access_key_id ? cd->aws_access_key_id : getenv("AWS_ACCESS_KEY_ID");
	d->aws.secret = cd->aws_secret_access_key ? cd->aws_secret_access_key :
	    getenv("AWS_SECRET_ACCESS_KEY");
	d->aws.token = cd->aws_session_token ? cd->aws_session_token :
	    (cd->aws_access_key_id ? NULL : getenv("AWS_SESSION_TOKEN"));
	if (d->aws.token != NULL && *d->aws.token == '\0')
		d->aws.token = NULL;
	if (region == NULL || *region == '\0' || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-")
	    != strlen(region)) {
		snprintf(why, len, "provider '%s' needs aws_region_name (or $AWS_REGION)%s",
		    cd->provider, need_region ? "" : " to sign its requests");
		return -1;
	}
	if ((d->aws.key_id == NULL || d->aws.secret == NULL) && cd->api_key == NULL &&
	    env_first("AWS_BEARER_TOKEN_BEDROCK") == NULL) {
		snprintf(why, len, "provider '%s' needs AWS credentials: aws_access_key_id and "
		    "aws_secret_access_key (or $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY), or a "
		    "Bedrock API key ($AWS_BEARER_TOKEN_BEDROCK)", cd->provider);
		return -1;
	}
	return 0;
}

/* Whether s is not empty and every byte of it is in set. */
static int
all_of(const char *s, const char *set)
{
	return s != NULL && *s && strspn(s, set) == strlen(s);
}

/* The index of account a in r->accounts, added when new (a is then r's); -1 on ENOMEM. */
static int
account_index(struct routes *r, struct gauth_account *a)
{
	size_t i;

	for (i = 0; i < r->naccounts; i++)
		if (gauth_same(&r->accounts[i], a)) {
			gauth_release(a);
			return (int)i;
		}
	if (ARRAY_GROW(r->accounts, r->naccounts, r->accounts_cap) < 0) {
		gauth_release(a);
		return -1;
	}
	r->accounts[r->naccounts] = *a;
	return (int)r->naccounts++;
}

/*
 * Google Cloud's place of d (Vertex AI): the service-account key
 * (vertex_credentials, else $GOOGLE_APPLICATION_CREDENTIALS), the project
 * (vertex_project, $VERTEXAI_PROJECT, else the key's), the location
 * (vertex_location, $VERTEXAI_LOCATION, else us-central1), and the format
 * the model speaks: Claude's rawPredict for claude-*, Gemini's otherwise.
 * 0, or -1 with why.
 */
static int
vertex_place(const struct config_deployment *cd, struct route_deployment *d, struct routes *r,
    char *why, size_t len)
{
	const char *creds = cd->vertex_credentials ? cd->vertex_credentials :
	    env_first("GOOGLE_APPLICATION_CREDENTIALS:VERTEXAI_CREDENTIALS");
	const char *project = cd->vertex_project ? cd->vertex_project :
	    env_first("VERTEXAI_PROJECT:VERTEX_PROJECT:GOOGLE_CLOUD_PROJECT");
	const char *location = cd->vertex_location ? cd->vertex_location :
	    env_first("VERTEXAI_LOCATION:VERTEX_LOCATION");
	struct gauth_account a;
	char err[384];

	if (strncmp(cd->model, "claude", 6) == 0)
		d->dialect = &dialect_vertex_anthropic;
	else if (strncmp(cd->model, "gemini", 6) != 0 && strncmp(cd->model, "gemma", 5) != 0) {
		snprintf(why, len, "provider '%s': model '%s' is neither Gemini nor Claude, the two "
		    "tollgate serves on Vertex AI", cd->provider, cd->model);
		return -1;
	}
	if (creds == NULL) {
		snprintf(why, len, "provider '%s' needs vertex_credentials (a service-account key "
		    "file, or its JSON) or $GOOGLE_APPLICATION_CREDENTIALS", cd->provider);
		return -1;
	}
	if (gauth_load(creds, &a, err, sizeof(err)) < 0) {
		snprintf(why, len, "provider '%s': %s", cd->provider, err);
		return -1;
	}
	if (project == NULL)
		project = a.project_id;
	snprintf(d->gcp.project, sizeof(d->gcp.project), "%s", project ? project : "");
	snprintf(d->gcp.location, sizeof(d->gcp.location), "%s", location ? location : "us-central1");
	if (!all_of(d->gcp.project, "abcdefghijklmnopqrstuvwxyz0123456789-.:"))
		snprintf(why, len, "provider '%s' needs vertex_project (or $VERTEXAI_PROJECT, or a key "
		    "with project_id)%s", cd->provider, project ? ": it is not a project id" : "");
	else if (!all_of(d->gcp.location, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		snprintf(why, len, "provider '%s': vertex_location '%s' is not a location (us-central1, "
		    "europe-west4, global)", cd->provider, d->gcp.location);
	else if ((d->gcp.account = account_index(r, &a)) < 0)
		snprintf(why, len, "out of memory");
	else
		return 0;
	gauth_release(&a);	/* not kept (released already when account_index() failed) */
	return -1;
}

/*
 * Bedrock's routes, as LiteLLM names them: "converse/M" is Converse for
 * every client; "invoke/M" InvokeModel for every client (Claude's format;
 * others' bodies differ per model family and are not served); a Claude id
 * alone (anthropic.*, an inference profile or ARN of one) is Converse, with
 * an Anthropic client relayed through InvokeModel; any other id Converse.
 * *model loses the route word.  0, or -1 with why.
 */
static int
bedrock_route(const char **model, struct route_deployment *d, char *why, size_t len)
{
	if (strncmp(*model, "converse/", 9) == 0) {
		*model += 9;
		return 0;
	}
	if (strncmp(*model, "invoke/", 7) == 0) {
		*model += 7;
		if (strstr(*model, "anthropic.") == NULL) {
			snprintf(why, len, "provider 'bedrock': InvokeModel (invoke/) is served for Claude "
			    "(anthropic.* ids); '%s' is served through Converse (converse/, or no route)",
			    *model);
			return -1;
		}
		d->dialect = &dialect_bedrock_invoke;
		return 0;
	}
	if (strstr(*model, "anthropic.") != NULL)
		d->relay = &dialect_bedrock_invoke;
	return 0;
}

/* The base of a provider whose host is named by its region or location ("%s" in the row's). */
static void
regional_base(struct route_deployment *d, const char *place)
{
	char regional[sizeof(d->base)];

	/* Vertex AI's global location has no prefix: aiplatform.googleapis.com */
	if ((d->entry->quirks & CATALOGUE_VERTEX) && strcmp(place, "global") == 0)
		snprintf(regional, sizeof(regional), "https://aiplatform.googleapis.com");
	else
		snprintf(regional, sizeof(regional), d->entry->base, place);
	set_base(d, regional);
}

/*
 * Why config deployment cd cannot be served, into why; 0 when it can, and
 * then d's dialect, base and model are set.
 */
static int
place(const struct config_deployment *cd, struct route_deployment *d, struct routes *r, char *why,
    size_t len)
{
	const struct catalogue_entry *e = catalogue_find(cd->provider);
	const char *base = cd->api_base;
	const char *model = cd->model;

	d->cfg = cd;
	d->entry = e;
	d->gcp.account = -1;
	if (e != NULL && e->dialect == NULL) {
		snprintf(why, len, "provider '%s' %s", cd->provider, e->unservable);
		return -1;
	}
	d->dialect = e ? e->dialect : &dialect_openai;
	if (base == NULL && e != NULL && (base = env_first(e->base_env)) == NULL)
		base = e->base;
	if (base == NULL) {
		if (e == NULL)
			snprintf(why, len, "provider '%s' is not one tollgate knows; with an api_base "
			    "it is served as an OpenAI-compatible API", cd->provider);
		else
			snprintf(why, len, "provider '%s' needs an api_base%s%s", cd->provider,
			    e->base_env ? " (or $" : "", e->base_env ? e->base_env : "");
		if (e != NULL && e->base_env)
			strncat(why, ")", len - strlen(why) - 1);
		return -1;
	}
	if (e != NULL && (e->quirks & CATALOGUE_AWS_REGION) && aws_place(cd, d, base == e->base, why,
	    len) < 0)
		return -1;
	if (e != NULL && (e->quirks & CATALOGUE_VERTEX) && vertex_place(cd, d, r, why, len) < 0)
		return -1;
	if (e != NULL && base == e->base && (e->quirks & (CATALOGUE_AWS_REGION | CATALOGUE_VERTEX)))
		regional_base(d, e->quirks & CATALOGUE_VERTEX ? d->gcp.location : d->aws.region);
	else
		set_base(d, base);
	/* LiteLLM's "openai/responses/M", and model_info.mode: a model that speaks only Responses */
	if (e != NULL && (e->quirks & CATALOGUE_RESPONSES) && strncmp(model, "responses/", 10) == 0) {
		model += 10;
		d->dialect = &dialect_responses;
	} else if (d->dialect == &dialect_openai && cd->mode != NULL &&
	    strcmp(cd->mode, "responses") == 0)
		d->dialect = &dialect_responses;
	if (e != NULL && (e->quirks & CATALOGUE_AWS_REGION) && bedrock_route(&model, d, why, len) < 0)
		return -1;
	if (e != NULL && (e->quirks & CATALOGUE_FIREWORKS) && strchr(model, '/') == NULL)
		snprintf(d->model, sizeof(d->model), "accounts/fireworks/models/%s", model);
	else
		snprintf(d->model, sizeof(d->model), "%s", model);
	d->native = native_endpoints(d);
	d->shape = e && e->shape != USAGE_SHAPE_AUTO ? e->shape : d->dialect->shape;
	return 0;
}

/* The auth header line of d: the config's key, else the row's variable. */
static void
set_auth(const struct config *c, struct route_deployment *d)
{
	const char *key = d->cfg->api_key, *v;
	enum catalogue_auth how = d->entry ? d->entry->auth : CATALOGUE_BEARER;

	(void)c;
	if (key == NULL && d->entry != NULL)
		key = env_first(d->entry->key_env);
	if (how == CATALOGUE_SIGV4 && key != NULL && d->cfg->api_key == NULL &&
	    d->aws.key_id != NULL && d->aws.secret != NULL)
		key = NULL;	/* keys of the deployment's own sign, over the variable's API key */
	if (how == CATALOGUE_GOOGLE_OAUTH)
		key = NULL;	/* the worker's token for the account is the bearer */
	if (key != NULL)
		snprintf(d->auth, sizeof(d->auth), how == CATALOGUE_X_API_KEY ? "x-api-key: %s" :
		    how == CATALOGUE_API_KEY ? "api-key: %s" : how == CATALOGUE_GOOG_API_KEY ?
		    "x-goog-api-key: %s" : "Authorization: Bearer %s", key);
	if (d->entry != NULL && (d->entry->quirks & CATALOGUE_AZURE)) {
		v = d->cfg->api_version ? d->cfg->api_version : getenv("AZURE_API_VERSION");
		snprintf(d->api_version, sizeof(d->api_version), "%s", v && *v ? v : "2024-10-21");
	}
}

/* Adds deployment text to r's warnings, and to its model's reason when it has none yet. */
static int
left_out(struct routes *r, struct route_model *m, const struct config_deployment *cd,
    const char *why, struct buf *w)
{
	r->nleft_out++;
	if (m->why[0] == '\0')
		buf_copy(m->why, sizeof(m->why), why);
	return buf_printf(w, "%s:%d: model '%s': %s; left out\n", cd->file, cd->line,
	    cd->model_name, why);
}

int
routes_build(const struct config *c, struct routes **out, char *err, size_t errlen)
{
	struct routes *r = calloc(1, sizeof(*r));
	struct buf w = { 0 };
	char why[640];
	size_t i, j;

	if (r == NULL || (c->ndeployments &&
	    ((r->deps = calloc(c->ndeployments, sizeof(*r->deps))) == NULL ||
	    (r->models = calloc(c->ndeployments, sizeof(*r->models))) == NULL)))
		goto nomem;
	for (i = 0; i < c->ndeployments; i++) {
		const struct config_deployment *cd = &c->deployments[i];
		struct route_deployment *d = &r->deps[r->ndeps];
		struct route_model *m = NULL;

		for (j = 0; j < r->nmodels; j++)
			if (strcmp(r->models[j].name, cd->model_name) == 0)
				m = &r->models[j];
		if (m == NULL) {
			m = &r->models[r->nmodels++];
			m->name = cd->model_name;
			if ((m->deps = calloc(c->ndeployments, sizeof(*m->deps))) == NULL)
				goto nomem;
		}
		if (place(cd, d, r, why, sizeof(why)) < 0) {
			memset(d, 0, sizeof(*d));
			if (left_out(r, m, cd, why, &w) < 0)
				goto nomem;
			continue;
		}
		set_auth(c, d);
		d->slot = -1;	/* until the master gives it one (router_assign()) */
		d->drop_params = cd->drop_params >= 0 ? cd->drop_params : c->drop_params;
		/*
		 * The deployment's own prices, else its base_model, else provider/model;
		 * Bedrock's as "bedrock/REGION/ID", which is the map's name for a price
		 * of that region alone (us-gov-east-1's), else stands for "ID" itself
		 * (price_lookup() drops the prefixes, then a profile's geo prefix)
		 */
		if (own_prices(cd))
			own_price_name(c, i, d->price_name, sizeof(d->price_name));
		else if (d->entry != NULL && (d->entry->quirks & CATALOGUE_AWS_REGION))
			snprintf(d->price_name, sizeof(d->price_name), "%s/%s/%s", cd->provider,
			    d->aws.region, d->model);
		else
			snprintf(d->price_name, sizeof(d->price_name), "%s/%s", cd->provider, cd->model);
		m->deps[m->ndeps++] = r->ndeps++;
	}
	r->warnings = w.data;
	*out = r;
	return 0;
nomem:
	buf_release(&w);
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
	for (i = 0; i < r->naccounts; i++)
		gauth_release(&r->accounts[i]);
	free(r->accounts);
	free(r->models);
	free(r->deps);
	free(r->warnings);
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

enum route_plan
route_plan(const struct route_deployment *d, const struct endpoint *ep)
{
	if (d->native & (1u << ep->id))
		return ROUTE_NATIVE;
	/* a format translates to another; embeddings and completions have no peer */
	if (ep->api >= 0 && !(d->entry && (d->entry->quirks & CATALOGUE_EMBEDDINGS)))
		return ROUTE_TRANSLATE;
	return ROUTE_NONE;
}

const struct dialect *
route_dialect(const struct route_deployment *d, const struct endpoint *ep)
{
	return d->relay && (d->relay->native & (1u << ep->id)) ? d->relay : d->dialect;
}

int
route_url(const struct route_deployment *d, const struct endpoint *ep, int stream, char *out,
    size_t outlen)
{
	return route_dialect(d, ep)->url(d, ep->id, stream, out, outlen);
}

void
routes_use_modes(struct routes *r, const struct price_table *t)
{
	const struct price_entry *pe;
	const char *mode;
	size_t i;

	for (i = 0; i < r->ndeps; i++) {
		struct route_deployment *d = &r->deps[i];

		if (d->dialect != &dialect_openai || d->entry == NULL ||
		    !(d->entry->quirks & CATALOGUE_RESPONSES) || (d->cfg->mode != NULL &&
		    strcmp(d->cfg->mode, "responses") != 0))
			continue;	/* a mode the config gives wins over the map's */
		pe = price_lookup(t, d->price_name, strlen(d->price_name));
		mode = pe ? price_str(t, pe->mode) : NULL;
		if (mode != NULL && strcmp(mode, "responses") == 0) {
			d->dialect = &dialect_responses;
			d->native = native_endpoints(d);
			if (d->entry->shape == USAGE_SHAPE_AUTO)
				d->shape = d->dialect->shape;
		}
	}
}

/*
 * The resource of a Bedrock ARN, "arn:aws:bedrock:REGION:ACCOUNT:TYPE/ID"
 * (any partition: aws-us-gov, aws-cn), or NULL when model is not an ARN.
 */
static const char *
arn_resource(const char *model)
{
	const char *p = model;
	int colons;

	if (strncmp(model, "arn:", 4) != 0)
		return NULL;
	for (colons = 0; colons < 5 && (p = strchr(p, ':')) != NULL; colons++)
		p++;
	return p;
}

char *
routes_price_warnings(const struct routes *r, const struct price_table *t)
{
	struct buf w = { 0 };
	const char *res;
	size_t i;

	for (i = 0; i < r->ndeps; i++) {
		const struct route_deployment *d = &r->deps[i];
		const struct config_deployment *cd = d->cfg;

		if (d->entry == NULL || !(d->entry->quirks & CATALOGUE_AWS_REGION) ||
		    (res = arn_resource(d->model)) == NULL ||
		    price_lookup(t, d->price_name, strlen(d->price_name)) != NULL)
			continue;
		if (buf_printf(&w, "%s:%d: model '%s': no price for the Bedrock ARN '%s'%s; its "
		    "requests are recorded unpriced: give model_info.base_model, the model it runs "
		    "(e.g. base_model: anthropic.claude-sonnet-4-5-20250929-v1:0)\n", cd->file,
		    cd->line, cd->model_name, d->model, strncmp(res, "inference-profile/", 18) == 0 ?
		    " (its profile id is not in the price map)" : " (an ARN of that kind names no model)")
		    < 0) {
			buf_release(&w);
			return NULL;
		}
	}
	return w.data;
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
