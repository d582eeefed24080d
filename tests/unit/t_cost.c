/*
 * Cost: every worked example of shared/reference/usage-and-pricing.md and the
 * boundary cases of rate selection, each against a small inline price map
 * and checked to the picodollar.
 */
#include "cost.h"
#include "money.h"
#include "pricemap.h"
#include "usage.h"
#include "tap.h"

static const char prices_yaml[] =
	"custom-4o:\n"
	"  input_cost_per_token: 2.5e-6\n"
	"  cache_read_input_token_cost: 2.5e-7\n"
	"  output_cost_per_token: 1.5e-5\n"
	"claude-like:\n"
	"  input_cost_per_token: 3e-6\n"
	"  cache_read_input_token_cost: 3e-7\n"
	"  cache_creation_input_token_cost: 3.75e-6\n"
	"  cache_creation_input_token_cost_above_1hr: 6e-6\n"
	"  output_cost_per_token: 1.5e-5\n"
	"  input_cost_per_token_above_200k_tokens: 6e-6\n"
	"  output_cost_per_token_above_200k_tokens: 2.25e-5\n"
	"  cache_read_input_token_cost_above_200k_tokens: 6e-7\n"
	"  provider_specific_entry: {us: 1.1, fast: 6.0}\n"
	"  search_context_cost_per_query: {search_context_size_low: 0.005, search_context_size_medium: 0.01}\n"
	"gemini-2-like:\n"
	"  input_cost_per_token: 3e-7\n"
	"  output_cost_per_token: 2.5e-6\n"
	"  search_context_cost_per_query: {search_context_size_low: 0.035, search_context_size_medium: 0.035,"
	" search_context_size_high: 0.035}\n"
	"gemini-3-like:\n"
	"  input_cost_per_token: 2e-6\n"
	"  output_cost_per_token: 1.2e-5\n"
	"  web_search_billing_unit: per_query\n"
	"  search_context_cost_per_query: {search_context_size_low: 0.014, search_context_size_medium: 0.014,"
	" search_context_size_high: 0.014}\n"
	"proxy-model:\n"
	"  input_cost_per_token: 5e-6\n"
	"  cache_read_input_token_cost: 5e-7\n"
	"  output_cost_per_token: 1e-5\n"
	"whisper-like:\n"
	"  input_cost_per_second: 0.00042\n"
	"  output_cost_per_second: 0\n"
	"plain:\n"
	"  input_cost_per_token: \"3e-5\"\n"
	"  output_cost_per_token: 0.00006\n"
	"no-cache-price:\n"
	"  input_cost_per_token: 1e-6\n"
	"  output_cost_per_token: 2e-6\n"
	"batchy:\n"
	"  input_cost_per_token: 2e-6\n"
	"  output_cost_per_token: 8e-6\n"
	"  cache_read_input_token_cost: 5e-7\n"
	"  input_cost_per_token_batches: 0\n"
	"tiered-service:\n"
	"  input_cost_per_token: 1.25e-6\n"
	"  output_cost_per_token: 1e-5\n"
	"  cache_read_input_token_cost: 1.25e-7\n"
	"  input_cost_per_token_priority: 2.5e-6\n"
	"  output_cost_per_token_priority: 2e-5\n"
	"  input_cost_per_token_above_272k_tokens: 2.5e-6\n"
	"  input_cost_per_token_above_272k_tokens_priority: 5e-6\n"
	"  input_cost_per_token_flex: 6.25e-7\n"
	"  output_cost_per_token_ultrafast: 4e-5\n"
	"ranged:\n"
	"  output_cost_per_token: 9e-6\n"
	"  tiered_pricing:\n"
	"    - {range: [0, 256000.0], input_cost_per_token: 4e-7, output_cost_per_token: 1.2e-6}\n"
	"    - {range: [256000.0, 1000000.0], input_cost_per_token: 1.2e-6, cache_read_input_token_cost: 3e-7}\n"
	"nulled:\n"
	"  input_cost_per_token: 1e-6\n"
	"  output_cost_per_token: 2e-6\n"
	"  cache_read_input_token_cost: null\n"
	"  output_cost_per_reasoning_token: ~\n"
	"gapped:\n"
	"  input_cost_per_token: 1e-6\n"
	"  output_cost_per_token: 3e-6\n"
	"  tiered_pricing:\n"
	"    - {range: [0, 1000], output_cost_per_token: 5e-6}\n"
	"    - {range: [1000, 2000], input_cost_per_token: 2e-6}\n"
	"reasoner:\n"
	"  input_cost_per_token: 1e-6\n"
	"  output_cost_per_token: 2e-6\n"
	"  output_cost_per_reasoning_token: 4e-6\n"
	"  input_cost_per_audio_token: 1e-5\n"
	"  input_cost_per_request: 0.01\n"
	"azure-alias:\n"
	"  base_model: plain\n";

static struct price_table *table;

static int64_t
pico(const char *usd)
{
	int64_t v = -1;

	money_parse_decimal(usd, strlen(usd), MONEY_COST_SCALE, 0, &v);
	return v;
}

/* Prices a usage JSON against a model of the inline map. */
static void
price(const char *model, const char *json, const struct cost_options *o, struct cost *c,
    struct usage *u)
{
	struct usage_raw raw;
	struct cost_options def;
	const struct price_entry *e = price_lookup(table, model, strlen(model));

	usage_raw_init(&raw);
	if (usage_collect(&raw, json, strlen(json), NULL, 0, NULL) < 0)
		diag("bad test JSON: %s", json);
	usage_normalise(&raw, USAGE_SHAPE_AUTO, u);
	if (o == NULL) {
		cost_options_init(&def);
		o = &def;
	}
	cost_compute(table, e, u, o, c);
}

static void
expect(const char *model, const char *json, const char *usd, const char *what)
{
	struct cost c;
	struct usage u;

	price(model, json, NULL, &c, &u);
	is_int(c.total, pico(usd), "%s: %s USD", what, usd);
}

int
main(void)
{
	struct pricemap_builder *b = pricemap_builder_new();
	struct cost_options o;
	struct cost c;
	struct usage u;
	char err[256];

	ok(pricemap_load_yaml(b, "inline", prices_yaml, strlen(prices_yaml), err, sizeof(err)) == 0,
	    "inline price map loads");
	table = pricemap_compile(b);
	ok(table != NULL, "compiles");

	/* The reference's worked examples (section 4). */
	price("custom-4o", "{\"usage\": {\"prompt_tokens\": 6074, \"completion_tokens\": 285, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 3456}}}", NULL, &c, &u);
	is_int(c.total, pico("0.011684"), "OpenAI cache read with custom pricing: 0.011684, not 0.01946");
	is_int(c.part[COST_INPUT], pico("0.006545"), "  uncached input (6074-3456)*2.5e-6");
	is_int(c.part[COST_CACHE_READ], pico("0.000864"), "  cache read 3456*2.5e-7");
	is_int(c.part[COST_OUTPUT], pico("0.004275"), "  output 285*1.5e-5");

	expect("claude-like", "{\"usage\": {\"input_tokens\": 1000, \"cache_read_input_tokens\": 5000, "
	    "\"output_tokens\": 500}}", "0.012", "Anthropic-style cache");

	price("proxy-model", "{\"usage\": {\"prompt_tokens\": 1678, \"completion_tokens\": 370, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 105530}}}", NULL, &c, &u);
	is_int(c.part[COST_INPUT] + c.part[COST_CACHE_READ], pico("0.061155"),
	    "proxy reporting prompt without cache: input side 0.061155");
	is_int(c.total, pico("0.064855"), "  plus output 370*1e-5, never negative");
	ok(c.flags & USAGE_FLAG_CACHE_EXCEEDS_PROMPT, "  flagged cache_exceeds_prompt");

	cost_options_init(&o);
	o.duration_ms = 5000;
	price("whisper-like", "{}", &o, &c, &u);
	is_int(c.total, pico("0.0021"), "per-second: 5 s at 0.00042 = 0.0021");
	o.duration_ms = -1;
	price("whisper-like", "{\"usage\": {\"type\": \"duration\", \"seconds\": 5}}", &o, &c, &u);
	is_int(c.total, pico("0.0021"), "per-second from a transcription's own duration");
	price("whisper-like", "{}", NULL, &c, &u);
	ok(c.total == 0 && (c.flags & USAGE_FLAG_NO_DURATION), "per-second without a duration is flagged");

	expect("plain", "{\"usage\": {\"input_tokens\": 1000, \"output_tokens\": 500}}", "0.06",
	    "plain per-token");

	/* Long context: all-or-nothing, strictly greater than the threshold. */
	expect("claude-like", "{\"usage\": {\"input_tokens\": 200000, \"output_tokens\": 10}}",
	    "0.60015", "exactly 200000 input tokens stays at the base rate");
	expect("claude-like", "{\"usage\": {\"input_tokens\": 200001, \"output_tokens\": 10}}",
	    "1.200231", "200001 input tokens: the whole request at the long-context rate");
	expect("claude-like", "{\"usage\": {\"input_tokens\": 100000, \"cache_read_input_tokens\": 100001, "
	    "\"output_tokens\": 0}}", "0.6600006", "cache reads count toward the threshold (100000*6e-6 + 100001*6e-7)");

	/* Zero tokens. */
	price("claude-like", "{\"usage\": {\"input_tokens\": 0, \"output_tokens\": 0}}", NULL, &c, &u);
	ok(c.total == 0 && c.flags == 0, "0 tokens cost 0, no flags");

	/* No cache price configured: cached tokens are not free. */
	price("no-cache-price", "{\"usage\": {\"prompt_tokens\": 1000, \"completion_tokens\": 0, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 400, \"cache_write_tokens\": 100}}}", NULL, &c, &u);
	is_int(c.part[COST_CACHE_READ], pico("0.0004"), "no cache read price: input rate");
	is_int(c.part[COST_CACHE_WRITE_5M], pico("0.0001"), "no cache write price: input rate");
	ok(c.flags & USAGE_FLAG_NO_CACHE_PRICE, "  flagged no_cache_price");

	/* 1h writes fall back to the 5m write rate only when they have no rate of their own. */
	price("claude-like", "{\"usage\": {\"input_tokens\": 0, \"output_tokens\": 0, "
	    "\"cache_creation\": {\"ephemeral_5m_input_tokens\": 1000, \"ephemeral_1h_input_tokens\": 1000}}}",
	    NULL, &c, &u);
	is_int(c.part[COST_CACHE_WRITE_5M], pico("0.00375"), "5m write at its rate");
	is_int(c.part[COST_CACHE_WRITE_1H], pico("0.006"), "1h write at its own rate");

	/* Batch: *_batches when present (explicit 0 is free), else half of every rate. */
	cost_options_init(&o);
	o.batch = 1;
	price("batchy", "{\"usage\": {\"prompt_tokens\": 1000, \"completion_tokens\": 1000, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 200}}}", &o, &c, &u);
	is_int(c.part[COST_INPUT], 0, "explicit 0 batch input price: free");
	is_int(c.part[COST_OUTPUT], pico("0.004"), "no batch output price: half of 8e-6 per token");
	is_int(c.part[COST_CACHE_READ], pico("0.00005"), "cache reads at half their rate too");
	price("batchy", "{\"usage\": {\"input_tokens\": 10, \"output_tokens\": 1, \"service_tier\": \"batch\"}}",
	    NULL, &c, &u);
	is_int(c.part[COST_OUTPUT], pico("0.000004"), "a response that says batch is billed as one");

	/* Service tiers. */
	cost_options_init(&o);
	o.tier = PRICE_TIER_PRIORITY;
	price("tiered-service", "{\"usage\": {\"prompt_tokens\": 1000, \"completion_tokens\": 100, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 0}}}", &o, &c, &u);
	is_int(c.total, pico("0.0045"), "priority rates (1000*2.5e-6 + 100*2e-5)");
	price("tiered-service", "{\"service_tier\": \"priority\", \"usage\": {\"prompt_tokens\": 1000, "
	    "\"completion_tokens\": 100}}", NULL, &c, &u);
	is_int(c.total, pico("0.0045"), "the served tier in the response picks the rates");
	o.tier = PRICE_TIER_PRIORITY;
	price("tiered-service", "{\"service_tier\": \"default\", \"usage\": {\"prompt_tokens\": 1000, "
	    "\"completion_tokens\": 100}}", &o, &c, &u);
	is_int(c.total, pico("0.00225"), "the tier served wins over the tier asked for");
	price("tiered-service", "{\"service_tier\": \"flex\", \"usage\": {\"prompt_tokens\": 1000, "
	    "\"completion_tokens\": 100}}", NULL, &c, &u);
	is_int(c.total, pico("0.001625"), "flex input at its rate, flex output falls back to standard");
	ok(c.flags & USAGE_FLAG_TIER_FALLBACK, "  flagged tier_fallback");
	o.tier = PRICE_TIER_PRIORITY;
	price("tiered-service", "{\"usage\": {\"prompt_tokens\": 300000, \"completion_tokens\": 0}}",
	    &o, &c, &u);
	is_int(c.total, pico("1.5"), "threshold combined with tier: above_272k_tokens_priority");
	o.tier = PRICE_TIER_STANDARD;
	price("tiered-service", "{\"usage\": {\"prompt_tokens\": 300000, \"completion_tokens\": 0}}",
	    &o, &c, &u);
	is_int(c.total, pico("0.75"), "threshold at standard tier");
	o.tier = PRICE_TIER_ULTRAFAST;
	price("tiered-service", "{\"usage\": {\"prompt_tokens\": 0, \"completion_tokens\": 10}}",
	    &o, &c, &u);
	is_int(c.total, pico("0.0004"), "ultrafast output rate");

	/* tiered_pricing: lo < n <= hi, all-or-nothing; fallbacks inside a tier. */
	price("ranged", "{\"usage\": {\"prompt_tokens\": 256000, \"completion_tokens\": 1000}}", NULL, &c, &u);
	is_int(c.total, pico("0.1036"), "256000 tokens: first range (256000*4e-7 + 1000*1.2e-6)");
	price("ranged", "{\"usage\": {\"prompt_tokens\": 256001, \"completion_tokens\": 1000, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 1}}}", NULL, &c, &u);
	is_int(c.part[COST_INPUT], pico("0.3072"), "256001 tokens: second range input (256000*1.2e-6)");
	is_int(c.part[COST_CACHE_READ], pico("0.0000003"), "  the range's own cache rate");
	is_int(c.part[COST_OUTPUT], pico("0.009"), "  no output rate in the range: the model's");
	price("ranged", "{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 0, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 5}}}", NULL, &c, &u);
	is_int(c.part[COST_CACHE_READ], pico("0.000002"), "no cache rate in the range: the range's input rate");
	price("ranged", "{\"usage\": {\"prompt_tokens\": 2000000, \"completion_tokens\": 1000}}", NULL,
	    &c, &u);
	ok(c.part[COST_INPUT] == 0 && c.part[COST_OUTPUT] == pico("0.009"),
	    "2,000,000 tokens, past every range: the flat rates (no flat input rate: 0; output 1000*9e-6)");
	price("nulled", "{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 10, "
	    "\"prompt_tokens_details\": {\"cached_tokens\": 4}, "
	    "\"completion_tokens_details\": {\"reasoning_tokens\": 5}}}", NULL, &c, &u);
	ok(c.part[COST_CACHE_READ] == pico("0.000004") && c.part[COST_REASONING] == pico("0.00001"),
	    "a rate set to null is absent: cache read at the input rate, reasoning at the output rate");
	price("gapped", "{\"usage\": {\"prompt_tokens\": 500, \"completion_tokens\": 100}}", NULL, &c, &u);
	ok(c.part[COST_INPUT] == pico("0.0005") && c.part[COST_OUTPUT] == pico("0.0003"),
	    "a range without an input rate is no priced tier: 500 tokens at the flat rates (500*1e-6, 100*3e-6)");
	price("gapped", "{\"usage\": {\"prompt_tokens\": 1500, \"completion_tokens\": 100}}", NULL, &c, &u);
	ok(c.part[COST_INPUT] == pico("0.003") && c.part[COST_OUTPUT] == pico("0.0003"),
	    "1500 tokens: the second range's input (1500*2e-6), the model's output");

	/* Anthropic multipliers: every component, cache included. */
	price("claude-like", "{\"usage\": {\"input_tokens\": 1000, \"cache_read_input_tokens\": 1000, "
	    "\"output_tokens\": 0, \"inference_geo\": \"us\", \"speed\": \"fast\"}}", NULL, &c, &u);
	is_int(c.total, pico("0.02178"), "us x fast = 6.6 on input and cache (3.3e-3 * 6.6)");
	price("claude-like", "{\"usage\": {\"input_tokens\": 1000, \"output_tokens\": 0, "
	    "\"inference_geo\": \"us\"}}", NULL, &c, &u);
	is_int(c.total, pico("0.0033"), "us alone: 1.1");

	/* Reasoning, audio, per-request and search prices. */
	price("reasoner", "{\"usage\": {\"prompt_tokens\": 100, \"completion_tokens\": 100, "
	    "\"prompt_tokens_details\": {\"audio_tokens\": 50}, "
	    "\"completion_tokens_details\": {\"reasoning_tokens\": 60}}}", NULL, &c, &u);
	is_int(c.part[COST_REASONING], pico("0.00024"), "reasoning at its own rate");
	is_int(c.part[COST_OUTPUT], pico("0.00008"), "output excludes reasoning");
	is_int(c.part[COST_AUDIO_IN], pico("0.0005"), "audio input at the audio rate");
	is_int(c.part[COST_INPUT], pico("0.00005"), "text input excludes audio");
	is_int(c.part[COST_REQUEST], pico("0.01"), "per-request price");
	price("claude-like", "{\"usage\": {\"input_tokens\": 0, \"output_tokens\": 0, "
	    "\"server_tool_use\": {\"web_search_requests\": 3}}}", NULL, &c, &u);
	is_int(c.part[COST_SEARCH], pico("0.03"), "search queries at the medium context price");
	/*
	 * Grounding with Google Search: Gemini 2.x bills $35 per 1,000 grounded
	 * prompts, however many queries they ran; Gemini 3 $14 per 1,000 queries.
	 */
	{
		static const char grounded[] = "{\"candidates\": [{\"groundingMetadata\": "
		    "{\"webSearchQueries\": [\"a\", \"b\", \"c\"]}}], \"usageMetadata\": "
		    "{\"promptTokenCount\": 0, \"candidatesTokenCount\": 0}}";

		price("gemini-2-like", grounded, NULL, &c, &u);
		is_int(c.part[COST_SEARCH], pico("0.035"), "Gemini 2: one grounded prompt, three queries");
		is_int(c.searches, 1, "  billed (and recorded) as one");
		price("gemini-3-like", grounded, NULL, &c, &u);
		is_int(c.part[COST_SEARCH], pico("0.042"), "Gemini 3 (per_query): each of the three queries");
		is_int(c.searches, 3, "  billed as three");
	}
	price("plain", "{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 10, "
	    "\"completion_tokens_details\": {\"reasoning_tokens\": 5}}}", NULL, &c, &u);
	is_int(c.part[COST_REASONING], pico("0.0003"), "no reasoning rate: output rate");

	/* Unknown model: cost 0 and the flag, never a silent 0. */
	price("no-such-model", "{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 10}}", NULL, &c, &u);
	ok(c.total == 0 && (c.flags & USAGE_FLAG_UNPRICED), "unknown model: 0 and flagged unpriced");

	/* Lookup: provider prefixes and base_model. */
	expect("azure/plain", "{\"usage\": {\"input_tokens\": 1000, \"output_tokens\": 500}}", "0.06",
	    "azure/plain is priced as plain");
	expect("azure-alias", "{\"usage\": {\"input_tokens\": 1000, \"output_tokens\": 500}}", "0.06",
	    "an entry with only base_model prices as its base");
	expect("openrouter/azure/plain", "{\"usage\": {\"input_tokens\": 1000, \"output_tokens\": 500}}", "0.06",
	    "several prefixes are stripped one by one");

	/* Absurd counts are clamped, so the cost stays bounded and positive. */
	price("plain", "{\"usage\": {\"prompt_tokens\": 1e30, \"completion_tokens\": -5}}", NULL, &c, &u);
	ok(c.total > 0 && c.total <= pico("30000") && (c.flags & USAGE_FLAG_ABSURD_COUNT) &&
	    (c.flags & USAGE_FLAG_NEGATIVE_COUNT), "absurd and negative counts: bounded, flagged");

	free(table);
	pricemap_builder_free(b);
	return done_testing();
}
