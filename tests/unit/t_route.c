/*
 * Routes: provider prefixes to upstream URLs, auth headers, usage shapes and
 * the price-map entry, from a small config written here; the entries of
 * deployments with prices of their own keep their names when model_list is
 * reordered.
 */
#include <unistd.h>

#include "route.h"
#include "tap.h"

#define EP(id)	endpoint_get(id)

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

/* The catalogue: sorted (it is searched by halves), and the rows the issue names. */
static void
check_catalogue(const char *path)
{
	static const char *const prefixes[] = { "ollama", "ollama_chat", "hosted_vllm", "voyage",
		"openrouter", "deepseek", "xai", "together_ai", "fireworks_ai", "cerebras",
		"perplexity", "deepinfra", "nvidia_nim", "github", "mistral", "groq", "anthropic",
		"azure", "openai", "codestral", "sambanova", "nebius", "lm_studio" };
	struct config *c = NULL;
	struct routes *r = NULL;
	char err[512], url[1024];
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		ok(catalogue_find(prefixes[i]) && catalogue_find(prefixes[i])->dialect,
		    "catalogue serves %s/", prefixes[i]);
	ok(catalogue_find("nosuch") == NULL && catalogue_find("") == NULL, "unknown prefixes are not found");
	setenv("TOGETHER_API_KEY", "tk-env", 1);
	unsetenv("TOGETHERAI_API_KEY");
	f = fopen(path, "w");
	fputs("model_list:\n"
	    "  - model_name: f\n    litellm_params: {model: fireworks_ai/llama-v3p1-8b-instruct}\n"
	    "  - model_name: t\n    litellm_params: {model: together_ai/meta-llama/Llama-3-8b}\n"
	    "  - model_name: p\n    litellm_params: {model: perplexity/sonar}\n"
	    "  - model_name: o\n    litellm_params: {model: ollama/llama3}\n"
	    "  - model_name: v\n    litellm_params: {model: voyage/voyage-3}\n", f);
	fclose(f);
	if (config_load(path, &c, err, sizeof(err)) < 0 || routes_build(c, &r, err, sizeof(err)) < 0) {
		ok(0, "catalogue config: %s", err);
		config_free(c);
		return;
	}
	is_str(r->deps[0].model, "accounts/fireworks/models/llama-v3p1-8b-instruct",
	    "fireworks: a bare model name gains its account path");
	is_str(r->deps[1].model, "meta-llama/Llama-3-8b", "together: the model as written");
	is_str(r->deps[1].auth, "Authorization: Bearer tk-env", "the key from the row's second variable");
	ok(route_url(&r->deps[2], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.perplexity.ai/chat/completions") == 0, "perplexity at its root: %s", url);
	ok(route_url(&r->deps[3], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "http://localhost:11434/v1/chat/completions") == 0 && r->deps[3].auth[0] == '\0',
	    "ollama: OpenAI's API at /v1, no key: %s", url);
	ok(route_plan(&r->deps[4], EP(ENDPOINT_EMBEDDINGS)) == ROUTE_NATIVE &&
	    route_plan(&r->deps[4], EP(ENDPOINT_CHAT)) == ROUTE_NONE, "voyage: embeddings only");
	routes_free(r);
	config_free(c);
}

/* Real configs' providers (tests/data/config/litellm-providers.yaml) load and place. */
static void
check_litellm_providers(void)
{
	const char *root = getenv("TOLLGATE_SRC");
	struct config *c = NULL;
	struct routes *r = NULL;
	char path[1024], err[512], url[1024];
	struct route_model *m;

	snprintf(path, sizeof(path), "%s/tests/data/config/litellm-providers.yaml", root ? root : ".");
	setenv("TG_TEST_AZURE_KEY", "az-secret", 1);
	setenv("TG_TEST_MISTRAL_KEY", "mi-secret", 1);
	setenv("TG_TEST_GEMINI_KEY", "ge-secret", 1);
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("VERTEXAI_CREDENTIALS");
	if (!ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0,
	    "litellm-providers.yaml loads: %s", err)) {
		config_free(c);
		return;
	}
	is_int((long long)r->nleft_out, 4, "bedrock and vertex_ai (no credentials), sagemaker, github_copilot left out");
	is_int((long long)r->ndeps, 17, "the other 17 served");
	ok(c->drop_params == 1, "litellm_settings.drop_params read");
	m = routes_find(r, "fireworks-llama", 15);
	ok(m && m->ndeps == 1 && r->deps[m->deps[0]].drop_params == 0,
	    "a deployment's drop_params wins over litellm_settings'");
	m = routes_find(r, "llama3", 6);
	ok(m && m->ndeps == 1 && r->deps[m->deps[0]].drop_params == 1, "litellm_settings' drop_params inherited");
	m = routes_find(r, "gpt-4o-azure", 12);
	ok(m && m->ndeps == 1 && route_url(&r->deps[m->deps[0]], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://example-eu.openai.azure.com/openai/deployments/gpt-4o-eu/chat/completions"
	    "?api-version=2024-06-01") == 0, "azure takes api_base and api_version from its credential: %s", url);
	ok(m && m->ndeps == 1 && strcmp(r->deps[m->deps[0]].auth, "api-key: az-secret") == 0,
	    "...and its key");
	m = routes_find(r, "copilot", 7);
	ok(m && m->ndeps == 0 && strstr(m->why, "device-flow"), "copilot answers why it is not served");
	m = routes_find(r, "gemini-flash", 12);
	ok(m && m->ndeps == 1 && r->deps[m->deps[0]].dialect == &dialect_gemini &&
	    strcmp(r->deps[m->deps[0]].auth, "x-goog-api-key: ge-secret") == 0 &&
	    route_plan(&r->deps[m->deps[0]], EP(ENDPOINT_CHAT)) == ROUTE_TRANSLATE &&
	    route_plan(&r->deps[m->deps[0]], EP(ENDPOINT_EMBEDDINGS)) == ROUTE_NONE,
	    "gemini: Gemini's dialect, its key in x-goog-api-key, every client format translated");
	ok(m && m->ndeps == 1 && route_url(&r->deps[m->deps[0]], endpoint_of_api(XLATE_GEMINI), 1, url,
	    sizeof(url)) == 0 && strcmp(url, "https://generativelanguage.googleapis.com/v1beta/models/"
	    "gemini-2.5-flash:streamGenerateContent?alt=sse") == 0, "  at its default base: %s", url);
	m = routes_find(r, "claude-bedrock", 14);
	ok(m && m->ndeps == 0 && strstr(m->why, "needs AWS credentials"),
	    "bedrock without credentials: left out, saying which are needed: %s", m ? m->why : "");
	m = routes_find(r, "gemini-vertex", 13);
	ok(m && m->ndeps == 0 && strstr(m->why, "needs vertex_credentials"),
	    "vertex_ai without a service-account key: left out, saying what to give: %s", m ? m->why : "");
	m = routes_find(r, "llama3-chat", 11);
	ok(m && route_url(&r->deps[m->deps[0]], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "http://gpu-box:11434/v1/chat/completions") == 0, "ollama_chat at its api_base: %s", url);
	routes_free(r);
	config_free(c);
	unsetenv("TG_TEST_AZURE_KEY");
}

/*
 * The models that speak only Responses: LiteLLM's "openai/responses/" prefix,
 * model_info.mode, and the price map's mode; chat and Messages clients to
 * them are translated, Responses clients relayed; Azure serves them in v1.
 */
static void
check_responses_only(const char *path)
{
	static const char prices[] = "{\"gpt-5-pro\": {\"mode\": \"responses\", "
	    "\"input_cost_per_token\": 1.5e-05},\n \"gpt-4o\": {\"mode\": \"chat\"}}\n";
	struct config *c = NULL;
	struct routes *r = NULL;
	struct pricemap_builder *b = NULL;
	struct price_table *t = NULL;
	char err[512], url[1024];
	FILE *f = fopen(path, "w");

	fputs("model_list:\n"
	    "  - model_name: a\n    litellm_params: {model: openai/responses/o3-pro, api_key: k}\n"
	    "  - model_name: b\n    litellm_params: {model: openai/my-pro, api_key: k}\n"
	    "    model_info: {mode: responses}\n"
	    "  - model_name: c\n    litellm_params: {model: openai/gpt-5-pro, api_key: k}\n"
	    "  - model_name: d\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n"
	    "  - model_name: e\n    litellm_params: {model: azure/pro-dep, api_key: k,\n"
	    "      api_base: https://x.openai.azure.com}\n    model_info: {mode: responses}\n"
	    "  - model_name: f\n    litellm_params: {model: openai/gpt-5-pro, api_key: k}\n"
	    "    model_info: {mode: chat}\n", f);
	fclose(f);
	if (!ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0,
	    "responses-only config loads: %s", err)) {
		config_free(c);
		return;
	}
	ok(r->deps[0].dialect == &dialect_responses && strcmp(r->deps[0].model, "o3-pro") == 0,
	    "openai/responses/M: the Responses dialect, model M (%s)", r->deps[0].model);
	ok(route_plan(&r->deps[0], EP(ENDPOINT_RESPONSES)) == ROUTE_NATIVE &&
	    route_plan(&r->deps[0], EP(ENDPOINT_CHAT)) == ROUTE_TRANSLATE &&
	    route_plan(&r->deps[0], EP(ENDPOINT_MESSAGES)) == ROUTE_TRANSLATE,
	    "  Responses relayed; chat and Messages translated");
	ok(route_url(&r->deps[0], EP(ENDPOINT_RESPONSES), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.openai.com/v1/responses") == 0, "  at %s", url);
	ok(r->deps[1].dialect == &dialect_responses, "model_info.mode responses: the Responses dialect");
	ok(r->deps[2].dialect == &dialect_openai, "before the prices: gpt-5-pro is chat");
	ok(r->deps[4].dialect == &dialect_responses &&
	    route_url(&r->deps[4], EP(ENDPOINT_RESPONSES), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://x.openai.azure.com/openai/v1/responses") == 0,
	    "azure: Responses in its v1 API: %s", url);
	b = pricemap_builder_new();
	if (b == NULL || pricemap_load_json(b, "modes.json", prices, strlen(prices), err,
	    sizeof(err)) < 0 || (t = pricemap_compile(b)) == NULL) {
		ok(0, "modes.json: %s", err);
	} else {
		routes_use_modes(r, t);
		ok(r->deps[2].dialect == &dialect_responses && r->deps[2].shape == USAGE_SHAPE_RESPONSES &&
		    route_plan(&r->deps[2], EP(ENDPOINT_CHAT)) == ROUTE_TRANSLATE,
		    "the price map's mode responses: gpt-5-pro speaks Responses, chat is translated");
		ok(r->deps[3].dialect == &dialect_openai &&
		    route_plan(&r->deps[3], EP(ENDPOINT_CHAT)) == ROUTE_NATIVE, "gpt-4o (mode chat) stays chat");
		ok(r->deps[5].dialect == &dialect_openai, "model_info.mode chat wins over the map's responses");
	}
	free(t);
	pricemap_builder_free(b);
	routes_free(r);
	config_free(c);
}

/* Bedrock: the base from the region, the model id encoded in the path, credentials from the variables. */
static void
check_bedrock(const char *path)
{
	struct config *c = NULL;
	struct routes *r = NULL;
	char err[512], url[1024];
	FILE *f = fopen(path, "w");

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
	setenv("AWS_SESSION_TOKEN", "token-env", 1);
	unsetenv("AWS_REGION");
	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	unsetenv("AWS_BEARER_TOKEN_BEDROCK");
	fputs("model_list:\n"
	    "  - model_name: b\n    litellm_params: {model: bedrock/eu.anthropic.claude-sonnet-4-5-v1:0}\n"
	    "  - model_name: k\n    litellm_params: {model: bedrock/amazon.nova-lite-v1:0,\n"
	    "      aws_access_key_id: AKIDCFG, aws_secret_access_key: s, aws_region_name: us-west-2}\n"
	    "  - model_name: bad\n    litellm_params: {model: bedrock/m, aws_region_name: 'us east'}\n", f);
	fclose(f);
	if (!ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0,
	    "bedrock config loads: %s", err)) {
		config_free(c);
		return;
	}
	ok(r->ndeps == 2 && r->deps[0].dialect == &dialect_bedrock && strcmp(r->deps[0].aws.region,
	    "eu-west-3") == 0 && strcmp(r->deps[0].aws.key_id, "AKIDENV") == 0 &&
	    r->deps[0].aws.token != NULL && strcmp(r->deps[0].aws.token, "token-env") == 0,
	    "bedrock: region and keys from the AWS_* variables");
	ok(route_url(&r->deps[0], endpoint_of_api(XLATE_CONVERSE), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://bedrock-runtime.eu-west-3.amazonaws.com/model/"
	    "eu.anthropic.claude-sonnet-4-5-v1%3A0/converse") == 0, "  the regional base, the id encoded: %s",
	    url);
	ok(strcmp(r->deps[1].aws.key_id, "AKIDCFG") == 0 && r->deps[1].aws.token == NULL &&
	    strcmp(r->deps[1].aws.region, "us-west-2") == 0 && r->deps[1].auth[0] == '\0',
	    "  the deployment's own keys win, with no session token from the environment");
	ok(r->nleft_out == 1 && strstr(r->models[2].why, "aws_region_name"),
	    "  a region that is not one: left out, saying so");
	routes_free(r);
	config_free(c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_DEFAULT_REGION");
}

/* Bedrock's routes: Claude relayed through InvokeModel to an Anthropic client, invoke/ and converse/. */
static void
check_bedrock_routes(const char *path)
{
	struct config *c = NULL;
	struct routes *r = NULL;
	char err[512], url[1024];
	const struct route_deployment *d;
	FILE *f = fopen(path, "w");

	fputs("model_list:\n"
	    "  - model_name: a\n    litellm_params: {model: bedrock/us.anthropic.claude-sonnet-4-5-v1:0,\n"
	    "      aws_access_key_id: K, aws_secret_access_key: S, aws_region_name: us-east-1}\n"
	    "  - model_name: i\n    litellm_params: {model: bedrock/invoke/anthropic.claude-3-haiku-v1:0,\n"
	    "      aws_access_key_id: K, aws_secret_access_key: S, aws_region_name: us-east-1}\n"
	    "  - model_name: c\n    litellm_params: {model: bedrock/converse/anthropic.claude-3-haiku-v1:0,\n"
	    "      aws_access_key_id: K, aws_secret_access_key: S, aws_region_name: us-east-1}\n"
	    "  - model_name: n\n    litellm_params: {model: bedrock/invoke/amazon.nova-lite-v1:0,\n"
	    "      aws_access_key_id: K, aws_secret_access_key: S, aws_region_name: us-east-1}\n", f);
	fclose(f);
	if (!ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0 &&
	    r->ndeps == 3, "bedrock routes load: %s", err)) {
		routes_free(r);
		config_free(c);
		return;
	}
	d = &r->deps[0];
	ok(d->dialect == &dialect_bedrock && d->relay == &dialect_bedrock_invoke &&
	    route_plan(d, EP(ENDPOINT_MESSAGES)) == ROUTE_NATIVE &&
	    route_plan(d, EP(ENDPOINT_CHAT)) == ROUTE_TRANSLATE &&
	    route_dialect(d, EP(ENDPOINT_MESSAGES)) == &dialect_bedrock_invoke &&
	    route_dialect(d, endpoint_of_api(XLATE_CONVERSE)) == &dialect_bedrock,
	    "a Claude id: Converse, an Anthropic client relayed through InvokeModel");
	ok(route_url(d, EP(ENDPOINT_MESSAGES), 1, url, sizeof(url)) == 0 && strcmp(url,
	    "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-v1%3A0/"
	    "invoke-with-response-stream") == 0, "  its stream at invoke-with-response-stream: %s", url);
	d = &r->deps[1];
	ok(d->dialect == &dialect_bedrock_invoke && d->relay == NULL && d->shape == USAGE_SHAPE_ANTHROPIC &&
	    strcmp(d->model, "anthropic.claude-3-haiku-v1:0") == 0 &&
	    route_plan(d, EP(ENDPOINT_CHAT)) == ROUTE_TRANSLATE,
	    "invoke/: InvokeModel for every client, Anthropic's usage, the route word not sent");
	d = &r->deps[2];
	ok(d->dialect == &dialect_bedrock && d->relay == NULL && d->shape == USAGE_SHAPE_BEDROCK &&
	    strcmp(d->model, "anthropic.claude-3-haiku-v1:0") == 0 &&
	    route_plan(d, EP(ENDPOINT_MESSAGES)) == ROUTE_TRANSLATE, "converse/: Converse for every client");
	ok(r->nleft_out == 1 && strstr(r->models[3].why, "served for Claude"),
	    "invoke/ with another model: left out, saying so: %s", r->models[3].why);
	routes_free(r);
	config_free(c);
}

/* Bedrock deployments as LiteLLM names them, priced by the community map (shared_data()). */
static const char bedrock_prices_cfg[] =
	"x-aws: &aws {aws_access_key_id: AKID, aws_secret_access_key: s, aws_region_name: us-east-1}\n"
	"model_list:\n"
	"  - model_name: conv\n"
	"    litellm_params: {<<: *aws, model: bedrock/converse/anthropic.claude-sonnet-4-5-20250929-v1:0}\n"
	"  - model_name: inv\n"
	"    litellm_params: {<<: *aws, model: bedrock/invoke/anthropic.claude-sonnet-4-5-20250929-v1:0}\n"
	"  - model_name: gov\n"
	"    litellm_params: {<<: *aws, model: bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0,\n"
	"      aws_region_name: us-gov-east-1}\n"
	"  - model_name: us\n"
	"    litellm_params: {<<: *aws, model: bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0}\n"
	"  - model_name: jp\n"
	"    litellm_params: {<<: *aws, model: bedrock/jp.amazon.nova-pro-v1:0}\n"
	"  - model_name: gov-profile\n"
	"    litellm_params: {<<: *aws, model: bedrock/us-gov.anthropic.claude-haiku-4-5-20251001-v1:0,\n"
	"      aws_region_name: us-gov-west-1}\n"
	"  - model_name: arn\n"
	"    litellm_params: {<<: *aws, model: 'bedrock/arn:aws:bedrock:us-east-1:123456789012:"
	"inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0'}\n"
	"  - model_name: app\n"
	"    litellm_params: {<<: *aws, model: 'bedrock/arn:aws:bedrock:us-east-1:123456789012:"
	"application-inference-profile/a1b2c3'}\n"
	"  - model_name: app-based\n"
	"    litellm_params: {<<: *aws, model: 'bedrock/arn:aws:bedrock:us-east-1:123456789012:"
	"application-inference-profile/d4e5f6'}\n"
	"    model_info: {base_model: anthropic.claude-sonnet-4-5-20250929-v1:0}\n";

/* The input rate that deployment i is priced at, in attodollars; -1 when it is unpriced. */
static long long
input_rate(const struct price_table *t, const struct routes *r, size_t i)
{
	const struct route_deployment *d = &r->deps[i];
	const struct price_entry *e = price_lookup(t, d->price_name, strlen(d->price_name));
	const struct price_rate *rt = e ? price_entry_rates(t, e) : NULL;
	uint32_t k;

	for (k = 0; e != NULL && k < e->nrates; k++)
		if (rt[k].kind == PRICE_INPUT && rt[k].tier == PRICE_TIER_STANDARD && !rt[k].above &&
		    !rt[k].batch && !rt[k].range)
			return rt[k].atto;
	return -1;
}

/* The entry deployment i is priced as, or "". */
static const char *
priced_as(const struct price_table *t, const struct routes *r, size_t i)
{
	const struct price_entry *e = price_lookup(t, r->deps[i].price_name,
	    strlen(r->deps[i].price_name));

	return e ? price_str(t, e->name) : "";
}

static void
check_bedrock_prices(const char *path)
{
	const char *data = shared_data();
	struct pricemap_builder *b = NULL;
	struct price_table *t = NULL;
	struct config *c = NULL;
	struct routes *r = NULL;
	char err[512], map[4200], *w = NULL;
	FILE *f = fopen(path, "w");

	fputs(bedrock_prices_cfg, f);
	fclose(f);
	if (!ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0 &&
	    r->ndeps == 9, "bedrock's route words, regions, profiles and ARNs load: %s", err)) {
		config_free(c);
		return;
	}
	ok(strcmp(r->deps[0].model, "anthropic.claude-sonnet-4-5-20250929-v1:0") == 0 &&
	    r->deps[0].dialect == &dialect_bedrock && r->deps[0].relay == NULL,
	    "bedrock/converse/ID: ID is sent, without the route word");
	ok(strcmp(r->deps[1].model, "anthropic.claude-sonnet-4-5-20250929-v1:0") == 0 &&
	    r->deps[1].dialect == &dialect_bedrock_invoke,
	    "bedrock/invoke/ID: ID is sent, through InvokeModel");
	is_str(r->deps[0].price_name, "bedrock/us-east-1/anthropic.claude-sonnet-4-5-20250929-v1:0",
	    "  priced by the id, in its region");
	is_str(r->deps[2].price_name, "bedrock/us-gov-east-1/anthropic.claude-sonnet-4-5-20250929-v1:0",
	    "  the region is the deployment's");
	if (data == NULL) {
		skip(10, "shared data absent");
		goto out;
	}
	snprintf(map, sizeof(map), "%s/litellm_model_prices.json", data);
	b = pricemap_builder_new();
	if (!ok(pricemap_load_file(b, map, err, sizeof(err)) == 0 && routes_add_prices(r, b) == 0 &&
	    (t = pricemap_compile(b)) != NULL, "the community map and the deployments' own: %s", err)) {
		skip(9, "no price table");
		goto out;
	}
	ok(input_rate(t, r, 0) == 3000000000000LL && input_rate(t, r, 1) == 3000000000000LL &&
	    strcmp(priced_as(t, r, 0), "anthropic.claude-sonnet-4-5-20250929-v1:0") == 0,
	    "converse/ and invoke/ price as the id: 3e-6 (%s)", priced_as(t, r, 0));
	ok(input_rate(t, r, 2) == 3600000000000LL, "us-gov-east-1 has its own entry, and it wins: 3.6e-6 (%s)",
	    priced_as(t, r, 2));
	ok(input_rate(t, r, 3) == 3300000000000LL && strcmp(priced_as(t, r, 3),
	    "us.anthropic.claude-sonnet-4-5-20250929-v1:0") == 0,
	    "a cross-region profile the map prices: its own rate, 3.3e-6 (%s)", priced_as(t, r, 3));
	ok(input_rate(t, r, 4) == 800000000000LL && strcmp(priced_as(t, r, 4), "amazon.nova-pro-v1:0") == 0,
	    "a profile the map lacks: priced as its model, 8e-7 (%s)", priced_as(t, r, 4));
	ok(input_rate(t, r, 5) == 1200000000000LL && strcmp(priced_as(t, r, 5),
	    "bedrock/us-gov-west-1/anthropic.claude-haiku-4-5-20251001-v1:0") == 0,
	    "  and in a region that prices that model apart, the region's: 1.2e-6 (%s)", priced_as(t, r, 5));
	ok(input_rate(t, r, 6) == 3300000000000LL, "an inference-profile ARN: priced by its profile id (%s)",
	    priced_as(t, r, 6));
	ok(input_rate(t, r, 7) == -1, "an application-inference-profile ARN alone: unpriced");
	ok(input_rate(t, r, 8) == 3000000000000LL, "  with model_info.base_model: priced by it (%s)",
	    priced_as(t, r, 8));
	w = routes_price_warnings(r, t);
	ok(w != NULL && strstr(w, ":19: model 'app': no price for the Bedrock ARN "
	    "'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3'") != NULL &&
	    strstr(w, "base_model") != NULL && strchr(w, '\n') == w + strlen(w) - 1,
	    "the unpriced ARN, and only it, is a warning naming its file:line and base_model: %s",
	    w ? w : "(none)");
out:
	free(w);
	free(t);
	pricemap_builder_free(b);
	routes_free(r);
	config_free(c);
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

	ok(route_url(&r->deps[0], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.openai.com/v1/chat/completions") == 0, "openai default base: %s", url);
	is_str(r->deps[0].auth, "Authorization: Bearer sk-o", "openai auth header");
	ok(route_url(&r->deps[1], EP(ENDPOINT_EMBEDDINGS), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "http://10.0.0.1:8000/v1/embeddings") == 0, "a base without a path gets /v1: %s", url);
	ok(route_url(&r->deps[2], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://x.openai.azure.com/openai/deployments/my-dep/chat/completions?api-version=2024-06-01") == 0,
	    "azure deployment URL and api-version: %s", url);
	is_str(r->deps[2].auth, "api-key: azk", "azure auth header");
	ok(route_url(&r->deps[3], EP(ENDPOINT_MESSAGES), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.anthropic.com/v1/messages") == 0, "anthropic messages: %s", url);
	is_str(r->deps[3].auth, "x-api-key: ak", "anthropic auth header");
	ok(r->deps[3].shape == USAGE_SHAPE_ANTHROPIC, "anthropic usage shape");
	ok(route_url(&r->deps[3], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) < 0,
	    "anthropic has no chat/completions URL");
	ok(route_url(&r->deps[0], EP(ENDPOINT_MESSAGES), 0, url, sizeof(url)) < 0, "openai has no messages URL");
	ok(route_plan(&r->deps[3], EP(ENDPOINT_CHAT)) == ROUTE_TRANSLATE &&
	    route_plan(&r->deps[3], EP(ENDPOINT_RESPONSES)) == ROUTE_TRANSLATE &&
	    route_plan(&r->deps[3], EP(ENDPOINT_MESSAGES)) == ROUTE_NATIVE &&
	    route_plan(&r->deps[3], EP(ENDPOINT_EMBEDDINGS)) == ROUTE_NONE,
	    "anthropic: messages as is, chat and responses translated, no embeddings");
	ok(route_plan(&r->deps[0], EP(ENDPOINT_MESSAGES)) == ROUTE_TRANSLATE &&
	    route_plan(&r->deps[0], EP(ENDPOINT_RESPONSES)) == ROUTE_NATIVE &&
	    route_plan(&r->deps[0], EP(ENDPOINT_CHAT)) == ROUTE_NATIVE,
	    "openai: chat and responses as is, messages translated");
	ok(route_plan(&r->deps[4], EP(ENDPOINT_RESPONSES)) == ROUTE_TRANSLATE,
	    "deepseek has no Responses API: translated to chat");
	ok(route_url(&r->deps[4], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "https://api.deepseek.com/beta/chat/completions") == 0 &&
	    r->deps[4].auth[0] == '\0' && r->deps[4].shape == USAGE_SHAPE_DEEPSEEK,
	    "deepseek: default base, no key, its usage shape");
	ok(route_url(&r->deps[5], EP(ENDPOINT_COMPLETIONS), 0, url, sizeof(url)) == 0 &&
	    strcmp(url, "http://gpu:8000/v1/completions") == 0, "hosted_vllm with its api_base: %s", url);
	is_str(r->deps[0].price_name, "openai/gpt-4o", "priced as provider/model");
	is_str(r->deps[6].price_name, "deployment:own/openai/ft-1",
	    "a deployment with its own prices is its own entry, named after it");
	routes_free(r);
	config_free(c);

	f = fopen(path, "w");
	fputs("model_list:\n  - model_name: x\n    litellm_params: {model: hosted_vllm/llama}\n"
	    "  - model_name: y\n    litellm_params: {model: github_copilot/gpt-4o}\n"
	    "  - model_name: y\n    litellm_params: {model: mistral/mistral-large-latest}\n"
	    "  - model_name: z\n    litellm_params: {model: nosuch/thing}\n", f);
	fclose(f);
	c = NULL;
	ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0,
	    "deployments tollgate cannot serve do not stop the config: %s", err);
	if (r != NULL) {
		is_int((long long)r->ndeps, 1, "one deployment served");
		is_int((long long)r->nleft_out, 3, "three left out");
		ok(r->warnings && strstr(r->warnings, ":2: model 'x': provider 'hosted_vllm' needs an api_base"),
		    "a provider without a default base needs api_base");
		ok(r->warnings && strstr(r->warnings, ":4: model 'y': provider 'github_copilot' needs "
		    "GitHub's device-flow login"), "github_copilot is left out, saying why");
		ok(r->warnings && strstr(r->warnings, ":8: model 'z': provider 'nosuch' is not one tollgate knows"),
		    "an unknown provider without api_base is left out");
		m = routes_find(r, "y", 1);
		ok(m && m->ndeps == 1, "the model keeps its servable deployment");
		m = routes_find(r, "x", 1);
		ok(m && m->ndeps == 0 && strstr(m->why, "needs an api_base"),
		    "a model with none says why: %s", m ? m->why : "");
		ok(route_url(&r->deps[0], EP(ENDPOINT_CHAT), 0, url, sizeof(url)) == 0 &&
		    strcmp(url, "https://api.mistral.ai/v1/chat/completions") == 0, "mistral's default base");
		routes_free(r);
	}
	config_free(c);
	check_catalogue(path);
	check_responses_only(path);
	check_bedrock(path);
	check_bedrock_routes(path);
	check_bedrock_prices(path);
	check_litellm_providers();
	check_own_names(path);
	unlink(path);
	return done_testing();
}
