/*
 * Routes: provider prefixes to upstream URLs, auth headers, usage shapes and
 * the price-map entry, from a small config written here; the entries of
 * deployments with prices of their own keep their names when model_list is
 * reordered.
 */
#include <unistd.h>

#include "route.h"
#include "tap.h"

static const char cfg_text[] =
	"model_list:\n"
	"  - model_name: a\n"
	"    litellm_params: {model: openai/gpt-4o, api_key: sk-o}\n"
	"  - model_name: a\n"
	"    litellm_params: {model: gpt-4o-mini, api_base: 'http://10.0.0.1:8000/', api_key: k2}\n"
	"  - model_name: az\n"
	"    litellm_params: {model: azure/my-dep, api_base: 'https://x.openai.azure.com', api_key: azk, api_version: 2024-06-01}\n"
	"  - model_name: cl\n"
	"    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: ak}\n"
	"  - model_name: ds\n"
	"    litellm_params: {model: deepseek/deepseek-chat}\n"
	"  - model_name: vllm\n"
	"    litellm_params: {model: hosted_vllm/llama, api_base: 'http://gpu:8000/v1'}\n"
	"  - model_name: own\n"
	"    litellm_params: {model: openai/ft-1, api_base: 'http://h/v1'}\n"
	"    model_info: {input_cost_per_token: 1e-6, base_model: gpt-4o}\n";

/*
 * Deployments with prices of their own, loaded in this order and reversed;
 * their api_key says which is which (the names must not depend on it).
 */
static const char *const own[] = {
	"  - model_name: gpt-x\n"
	"    litellm_params: {model: openai/gpt-4o, api_key: k0}\n"
	"    model_info: {input_cost_per_token: 1e-6, output_cost_per_token: 4e-6}\n",
	"  - model_name: claude-x\n"
	"    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: k1}\n"
	"    model_info: {input_cost_per_token: 3e-6}\n",
	/* gpt-x/openai/gpt-4o again, priced alike (its fields in another order) */
	"  - model_name: gpt-x\n"
	"    litellm_params: {model: openai/gpt-4o, api_key: k2}\n"
	"    model_info: {output_cost_per_token: 4e-6, input_cost_per_token: 1e-6}\n",
	/* and priced otherwise */
	"  - model_name: gpt-x\n"
	"    litellm_params: {model: openai/gpt-4o, api_key: k3}\n"
	"    model_info: {input_cost_per_token: 2e-6, output_cost_per_token: 4e-6}\n",
	"  - model_name: az\n"
	"    litellm_params: {model: azure/my-dep, api_base: 'https://x.openai.azure.com', api_key: k4}\n"
	"    model_info: {base_model: azure/gpt-4o-2024-08-06}\n",
	/* two names past a record's room, alike but for their last byte */
	"  - model_name: long-a-long-a-long-a-long-a-long-a-long-a-long-a-long-a-long-a-long-a-1\n"
	"    litellm_params: {model: openai/long-b-long-b-long-b-long-b-long-b-long-b-long-b, api_key: k5}\n"
	"    model_info: {input_cost_per_token: 1e-6}\n",
	"  - model_name: long-a-long-a-long-a-long-a-long-a-long-a-long-a-long-a-long-a-long-a-2\n"
	"    litellm_params: {model: openai/long-b-long-b-long-b-long-b-long-b-long-b-long-b, api_key: k6}\n"
	"    model_info: {input_cost_per_token: 1e-6}\n",
};
#define NOWN	(sizeof(own) / sizeof(own[0]))

/* The routes of own[] in order (reversed: last first) into *c and *r; 0 or -1. */
static int
own_routes(const char *path, int reversed, struct config **c, struct routes **r)
{
	char err[512];
	FILE *f = fopen(path, "w");
	size_t i;

	if (f == NULL)
		return -1;
	fputs("model_list:\n", f);
	for (i = 0; i < NOWN; i++)
		fputs(own[reversed ? NOWN - 1 - i : i], f);
	fclose(f);
	*c = NULL;
	*r = NULL;
	if (config_load(path, c, err, sizeof(err)) < 0 || routes_build(*c, r, err, sizeof(err)) < 0) {
		diag("%s", err);
		return -1;
	}
	return 0;
}

/* The price entry of the deployment whose api_key is key, or "". */
static const char *
entry_of(const struct routes *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->ndeps; i++)
		if (strcmp(r->deps[i].cfg->api_key, key) == 0)
			return r->deps[i].price_name;
	return "";
}

/* Whether s is prefix, "#" and 16 lower-case hex digits. */
static int
hashed(const char *s, const char *prefix, char mark)
{
	size_t n = strlen(prefix), i;

	if (strncmp(s, prefix, n) != 0 || s[n] != mark || strlen(s + n + 1) != 16)
		return 0;
	for (i = n + 1; s[i]; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static void
check_own_names(const char *path)
{
	static const char *const keys[NOWN] = { "k0", "k1", "k2", "k3", "k4", "k5", "k6" };
	struct config *c, *rc;
	struct routes *r, *rr;
	struct pricemap_builder *b;
	const char *gpt = "deployment:gpt-x/openai/gpt-4o";
	char want[256];
	size_t i;

	if (!ok(own_routes(path, 0, &c, &r) == 0 && own_routes(path, 1, &rc, &rr) == 0,
	    "own prices: the config and its reverse load")) {
		routes_free(r);
		config_free(c);
		return;
	}
	is_str(entry_of(r, "k1"), "deployment:claude-x/anthropic/claude-sonnet-4-5",
	    "own prices: named deployment:<model_name>/<provider>/<model>");
	is_str(entry_of(r, "k4"), "deployment:az/azure/my-dep", "a base_model alone: the same");
	ok(hashed(entry_of(r, "k0"), gpt, '#') && hashed(entry_of(r, "k3"), gpt, '#'),
	    "one name priced two ways: each ends in # and 16 hex digits (%s, %s)",
	    entry_of(r, "k0"), entry_of(r, "k3"));
	is_str(entry_of(r, "k2"), entry_of(r, "k0"), "  those priced alike, fields in any order, share one");
	ok(strcmp(entry_of(r, "k3"), entry_of(r, "k0")) != 0, "  the one priced otherwise has its own");
	/* the whole name's first bytes, then the mark and the hash: 127 in all */
	snprintf(want, sizeof(want), "deployment:%s/openai/%s", r->deps[5].cfg->model_name,
	    r->deps[5].cfg->model);
	want[ROUTE_PRICE_NAME_MAX - 17] = '\0';
	ok(strlen(entry_of(r, "k5")) == ROUTE_PRICE_NAME_MAX &&
	    hashed(entry_of(r, "k5"), want, '~'),
	    "a name past %d bytes is cut and ends in ~ and 16 hex digits: %s", ROUTE_PRICE_NAME_MAX,
	    entry_of(r, "k5"));
	ok(strlen(entry_of(r, "k6")) == ROUTE_PRICE_NAME_MAX &&
	    strcmp(entry_of(r, "k5"), entry_of(r, "k6")) != 0, "  two such names stay two: %s",
	    entry_of(r, "k6"));
	for (i = 0; i < NOWN; i++)
		is_str(entry_of(rr, keys[i]), entry_of(r, keys[i]),
		    "model_list reversed: the deployment of %s keeps its entry", keys[i]);
	b = pricemap_builder_new();
	ok(b && routes_add_prices(r, b) == 0 && pricemap_count(b) == NOWN - 1,
	    "one entry a name: %zu for %zu deployments", b ? pricemap_count(b) : 0, NOWN);
	pricemap_builder_free(b);
	routes_free(r);
	routes_free(rr);
	config_free(c);
	config_free(rc);
}

int
main(void)
{
	char path[] = "/tmp/t_route.XXXXXX", err[512], url[1024];
	struct config *c = NULL;
	struct routes *r = NULL;
	struct route_model *m;
	FILE *f;
	int fd = mkstemp(path);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		printf("Bail out! cannot write a scratch config\n");
		return 1;
	}
	fputs(cfg_text, f);
	fclose(f);
	ok(config_load(path, &c, err, sizeof(err)) == 0, "config loads: %s", err);
	ok(c && routes_build(c, &r, err, sizeof(err)) == 0, "routes build: %s", err);
	if (r == NULL) {
		unlink(path);
		return done_testing();
	}
	is_int((long long)r->ndeps, 7, "every deployment");
	m = routes_find(r, "a", 1);
	ok(m && m->ndeps == 2, "two deployments under one name");
	ok(routes_find(r, "nope", 4) == NULL, "unknown names are not found");

	ok(route_url(&r->deps[0], "/v1/chat/completions", url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.openai.com/v1/chat/completions") == 0, "openai default base: %s", url);
	is_str(r->deps[0].auth, "Authorization: Bearer sk-o", "openai auth header");
	ok(route_url(&r->deps[1], "/v1/embeddings", url, sizeof(url)) == 0 &&
	    strcmp(url, "http://10.0.0.1:8000/v1/embeddings") == 0, "a base without a path gets /v1: %s", url);
	ok(route_url(&r->deps[2], "/v1/chat/completions", url, sizeof(url)) == 0 &&
	    strcmp(url, "https://x.openai.azure.com/openai/deployments/my-dep/chat/completions?api-version=2024-06-01") == 0,
	    "azure deployment URL and api-version: %s", url);
	is_str(r->deps[2].auth, "api-key: azk", "azure auth header");
	ok(route_url(&r->deps[3], "/v1/messages", url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.anthropic.com/v1/messages") == 0, "anthropic messages: %s", url);
	is_str(r->deps[3].auth, "x-api-key: ak", "anthropic auth header");
	ok(r->deps[3].shape == USAGE_SHAPE_ANTHROPIC, "anthropic usage shape");
	ok(route_url(&r->deps[3], "/v1/chat/completions", url, sizeof(url)) < 0,
	    "anthropic does not serve chat/completions");
	ok(route_url(&r->deps[0], "/v1/messages", url, sizeof(url)) < 0, "openai does not serve messages");
	ok(route_url(&r->deps[4], "/v1/chat/completions", url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.deepseek.com/v1/chat/completions") == 0 &&
	    r->deps[4].auth[0] == '\0' && r->deps[4].shape == USAGE_SHAPE_DEEPSEEK,
	    "deepseek: default base, no key, its usage shape");
	ok(route_url(&r->deps[5], "/v1/completions", url, sizeof(url)) == 0 &&
	    strcmp(url, "http://gpu:8000/v1/completions") == 0, "hosted_vllm with its api_base: %s", url);
	is_str(r->deps[0].price_name, "openai/gpt-4o", "priced as provider/model");
	is_str(r->deps[6].price_name, "deployment:own/openai/ft-1",
	    "a deployment with its own prices is its own entry, named after it");
	routes_free(r);
	config_free(c);

	f = fopen(path, "w");
	fputs("model_list:\n  - model_name: x\n    litellm_params: {model: hosted_vllm/llama}\n", f);
	fclose(f);
	c = NULL;
	ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) < 0 &&
	    strstr(err, ":2: model 'x': provider 'hosted_vllm' needs an api_base"),
	    "a provider without a default base needs api_base: %s", err);
	config_free(c);
	check_own_names(path);
	unlink(path);
	return done_testing();
}
