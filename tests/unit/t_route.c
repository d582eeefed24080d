/*
 * Routes: provider prefixes to upstream URLs, auth headers, usage shapes and
 * the price-map entry, from a small config written here.
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
	is_str(r->deps[6].price_name, "deployment:6", "a deployment with its own prices is its own entry");
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
	unlink(path);
	return done_testing();
}
