/*
 * Usage normalisation (lib/usage.c) against the rules of
 * shared/reference/usage-and-pricing.md, sections 1 and 2:
 *
 *   - every recorded sample in shared/data/usage_samples/, fed the way a
 *     caller feeds it (a body once, an SSE stream event by event through
 *     lib/sse.h, a JSON-lines stream line by line), with the shape, every
 *     canonical count, the flags, the served tier, the provider cost and the
 *     model computed by hand from the sample and the spec;
 *   - anomalies built inline: cache above the prompt, negative, fractional,
 *     absurd and non-numeric counts, missing usage, forced shapes, the
 *     Anthropic write split billed when the total says 0, LiteLLM-shaped
 *     usage, malformed JSON and its error offset;
 *   - on every normalised usage, no count category is ever negative.
 *
 * Without the shared data, the sample tests are skipped with the same count.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "pricemap.h"
#include "sse.h"
#include "usage.h"
#include "tap.h"

/* What one normalised usage must be; zero-initialised fields mean 0 / absent. */
struct expect {
	const char	*file;		/* sample name, or a label for inline cases */
	enum usage_shape shape;
	int64_t		input;
	int64_t		cache_read;
	int64_t		cw5m;
	int64_t		cw1h;
	int64_t		output;
	int64_t		reasoning;
	int64_t		audio_in;
	int64_t		audio_out;
	int64_t		image_in;
	int64_t		image_out;
	int64_t		tool_prompt;
	int64_t		search;
	int		has_duration;	/* else duration_ms must be -1 */
	int64_t		duration_ms;
	uint32_t	flags;		/* exactly these */
	int		tier_known;
	int		tier;		/* enum price_tier */
	int		has_cost;
	int64_t		cost;		/* picodollars */
	const char	*model;		/* NULL: "" */
};

/* Assertions made by check_usage(); a skipped sample skips this many plus one. */
#define EXPECT_CHECKS	21

#define MISSING		USAGE_FLAG_USAGE_MISSING
#define CACHE_EXCEEDS	USAGE_FLAG_CACHE_EXCEEDS_PROMPT
#define REASONING_OUT	USAGE_FLAG_REASONING_OUTSIDE_COMPLETION

/* ---- the recorded samples -------------------------------------------------- */

static const struct expect samples[] = {
	/* -- Anthropic: input_tokens EXCLUDES cache read and cache creation -- */
	{ .file = "anthropic_messages_nonstream_cache_read_and_5m_write.json",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-sonnet-4-5-20250929",
	  .input = 3,			/* input_tokens 3, cache outside it */
	  .cache_read = 1111,		/* cache_read_input_tokens */
	  .cw5m = 418,			/* ephemeral_5m 418 (of creation 418) */
	  .cw1h = 0,			/* ephemeral_1h 0 */
	  .output = 33,
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },	/* service_tier "standard" */
	{ .file = "anthropic_messages_nonstream_cache_read_only.json",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-sonnet-4-5-20250929",
	  .input = 3, .cache_read = 1111,	/* creation 0, ephemeral 0 / 0 */
	  .output = 406,
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },
	{ .file = "anthropic_messages_usage_cache_write_5m_1h_and_read.json",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-haiku-4-5-20251001",
	  .input = 3, .cache_read = 9511,
	  .cw5m = 1956, .cw1h = 0,	/* creation 1956 = 5m 1956 + 1h 0 */
	  .output = 44 },		/* no service_tier in this body */
	{ .file = "anthropic_messages_usage_iterations.json",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-sonnet-5",	/* not the advisor's */
	  .input = 2390,		/* top-level input_tokens (1128 + 1262 of the two "message" iterations) */
	  .output = 121,		/* output_tokens, includes the 28 thinking tokens */
	  .reasoning = 0,		/* the spec bills Anthropic output_tokens whole as output */
	  .search = 0,			/* web_search_requests 0 */
	  /* iterations 1128+110 + 2518+22 (advisor) + 1262+11 = 5051 > 2390 + 121 */
	  .flags = USAGE_FLAG_ITERATIONS_NOT_IN_TOTAL,
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },
	{ .file = "anthropic_messages_usage_server_tool_use_web_search.json",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-sonnet-4-6",
	  .input = 10809, .output = 644,
	  .search = 1,			/* server_tool_use.web_search_requests 1 */
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },
	/* Anthropic streams: message_start, then message_delta (cumulative, latest wins) */
	{ .file = "anthropic_messages_stream_thinking.sse",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-sonnet-4-20250514",
	  .input = 43,			/* start 43, delta restates 43 */
	  .output = 282,		/* start placeholder 1, delta 282 cumulative: 282, not 283 */
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },
	{ .file = "anthropic_messages_stream_with_cache.sse",
	  .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-sonnet-4-6",
	  .input = 181,			/* start 100, delta restates 181: latest */
	  .cache_read = 0,		/* start 55096, delta restates 0: latest */
	  .output = 8,			/* start 7, delta 8 cumulative */
	  /* iterations: compaction 100+83+55096, message 181+8 = 55468 > 181 + 8 */
	  .flags = USAGE_FLAG_ITERATIONS_NOT_IN_TOTAL,
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },

	/* -- Bedrock Converse: inputTokens EXCLUDES cache; cacheDetails ttl splits -- */
	{ .file = "bedrock_converse_moonshot_kimi_usage.json",
	  .shape = USAGE_SHAPE_BEDROCK,
	  .input = 92, .output = 75 },	/* total 167 = 92 + 75 */
	{ .file = "bedrock_converse_stream_metadata_event.jsonl",
	  .shape = USAGE_SHAPE_BEDROCK,
	  .input = 13, .output = 82 },	/* final metadata event; total 95 = 13 + 82 */
	{ .file = "bedrock_converse_usage_cacheDetails_ttl.json",
	  .shape = USAGE_SHAPE_BEDROCK,
	  .input = 3,
	  .cw5m = 2074, .cw1h = 0,	/* cacheDetails [{2074, "5m"}] */
	  .output = 288 },		/* total 2365 = 3 + 2074 + 288 */
	{ .file = "bedrock_converse_usage_cache_read.json",
	  .shape = USAGE_SHAPE_BEDROCK,
	  .input = 22, .cache_read = 2492,
	  .output = 13 },		/* total 2527 = 22 + 2492 + 13 */
	{ .file = "bedrock_converse_usage_cache_write.json",
	  .shape = USAGE_SHAPE_BEDROCK,
	  .input = 22, .cw5m = 2492,	/* write without cacheDetails: the 5m default */
	  .output = 13 },		/* total 2527 = 22 + 2492 + 13 */
	{ .file = "bedrock_converse_usage_serverToolUsage.json",
	  .shape = USAGE_SHAPE_BEDROCK,
	  .input = 22, .cw5m = 2492, .output = 13 },	/* serverToolUsage {} bills nothing */

	/* -- OpenAI Responses: input_tokens INCLUDES cached, output INCLUDES reasoning -- */
	{ .file = "bedrock_mantle_responses_usage.json",
	  .shape = USAGE_SHAPE_RESPONSES, .model = "openai.gpt-oss-120b",
	  .input = 72,			/* 72 input - 0 cached */
	  .output = 45 },		/* 45 - 0 reasoning; total 117 = 72 + 45 */
	{ .file = "openai_responses_stream_response_completed_usage.sse",
	  .shape = USAGE_SHAPE_RESPONSES, .model = "gpt-5-2025-08-07",
	  .input = 53,			/* 53 input - 0 cached */
	  .output = 21,			/* 469 output - 448 reasoning */
	  .reasoning = 448,		/* total 522 = 53 + 469 */
	  .tier_known = 1, .tier = PRICE_TIER_FLEX },	/* service_tier "flex" */
	{ .file = "openai_responses_usage_cache_write_tokens.json",
	  .shape = USAGE_SHAPE_RESPONSES, .model = "openai/gpt-5.6-sol",
	  .input = 8,			/* 4020 input - 4012 cache write - 0 cached */
	  .cw5m = 4012,
	  .output = 5,			/* 5 - 0 reasoning; total 4025 = 4020 + 5 */
	  .has_cost = 1, .cost = 25265000000LL },	/* cost 0.025265 USD * 1e12 */
	{ .file = "openai_responses_usage_cached_reasoning.json",
	  .shape = USAGE_SHAPE_RESPONSES, .model = "gpt-5-2025-08-07",
	  .input = 1127,		/* 9703 input - 8576 cached */
	  .cache_read = 8576,
	  .output = 62,			/* 638 output - 576 reasoning */
	  .reasoning = 576 },		/* total 10341 = 9703 + 638 */

	/* -- OpenAI chat and compatible: prompt INCLUDES cache, completion INCLUDES reasoning -- */
	{ .file = "cerebras_chat_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "gpt-oss-120b",
	  .input = 79,			/* 79 prompt - 0 cached */
	  .output = 12,			/* 37 completion - 25 reasoning */
	  .reasoning = 25 },		/* total 116 = 79 + 37 */
	{ .file = "groq_chat_usage_timing.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "meta-llama/llama-4-scout-17b-16e-instruct",
	  .input = 779, .output = 65 },	/* total 844 = 779 + 65; *_time are not counts */
	{ .file = "groq_chat_usage_timing_cached.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "openai/gpt-oss-120b",
	  .input = 80,			/* 336 prompt - 256 cached */
	  .cache_read = 256,
	  .output = 37,			/* 96 completion - 59 reasoning */
	  .reasoning = 59 },		/* total 432 = 336 + 96 */
	{ .file = "huggingface_chat_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "deepseek-ai/DeepSeek-R1",
	  .input = 19,			/* 19 prompt - 0 top-level cached_tokens */
	  .output = 29 },		/* total 48 = 19 + 29 */
	{ .file = "mistral_chat_usage_cached.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "mistral-large-latest",
	  .input = 44,			/* 268 prompt - 224 cached */
	  .cache_read = 224,
	  .output = 5 },		/* total 273 = 268 + 5 */
	{ .file = "mistral_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "mistral-large-latest",
	  .input = 49, .output = 69 },	/* 49 - 0 cached; total 118 */
	{ .file = "moonshot_v1_chat_usage_basic.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "moonshot-v1-8k",
	  .input = 81, .output = 26 },	/* total 107 = 81 + 26 */
	{ .file = "ollama_chat_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "qwen3:0.6b",
	  .input = 136, .output = 15 },	/* total 151 = 136 + 15 */
	{ .file = "openai_chat_usage_cache_write_tokens.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "gpt-5.6-sol",
	  .input = 8,			/* 4020 prompt - 4012 cache write - 0 cached */
	  .cw5m = 4012,
	  .output = 4 },		/* 4 - 0 reasoning - 0 audio; total 4024 */
	{ .file = "openai_chat_usage_docs_prompt_caching_example.json",
	  .shape = USAGE_SHAPE_OPENAI,
	  .input = 86,			/* 2006 prompt - 1920 cached */
	  .cache_read = 1920,
	  .output = 300 },		/* 300 - 0 reasoning; total 2306 = 2006 + 300 */
	{ .file = "openai_chat_usage_text_image_tokens_details.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "gpt-4o-audio-preview-2024-12-17",
	  .input = 12,			/* 81 prompt - 69 audio - 0 image - 0 cached (= text 12) */
	  .audio_in = 69,
	  .output = 72 },		/* 72 - 0 reasoning - 0 audio; total 153 = 81 + 72 */
	{ .file = "openai_compat_proxy_gemini_completion_excludes_reasoning.json",
	  .shape = USAGE_SHAPE_OPENAI,
	  .input = 7,			/* 7 prompt - 0 cached */
	  .output = 124,		/* total 1228 = 7 + 124 + 1097: reasoning is NOT in 124 */
	  .reasoning = 1097,		/* billed on top */
	  .flags = REASONING_OUT },
	{ .file = "openai_embeddings_response_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "text-embedding-3-small",
	  .input = 4 },			/* prompt 4, total 4, no completion */
	{ .file = "openai_embeddings_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "text-embedding-3-small",
	  .input = 4 },
	{ .file = "openai_chat_stream_include_usage_final_chunk.sse",
	  .shape = USAGE_SHAPE_OPENAI, .model = "gpt-4o-mini-2024-07-18",
	  .input = 53,			/* last chunk: 53 prompt - 0 cached */
	  .output = 15,			/* 15 - 0 reasoning; total 68 = 53 + 15 */
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },	/* service_tier "default" */
	{ .file = "openrouter_chat_usage_cost.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "anthropic/claude-4.5-sonnet-20250929",
	  .input = 14,			/* 14 - 0 cached - 0 written */
	  .output = 4,			/* total 18 = 14 + 4 */
	  .has_cost = 1, .cost = 102000000LL },		/* 0.000102 USD * 1e12 */
	{ .file = "openrouter_chat_usage_cost_cache_write.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "anthropic/claude-4.6-sonnet-20260217",
	  .input = 3,			/* 3214 prompt - 3211 cache write - 0 cached */
	  .cw5m = 3211,
	  .output = 100,		/* total 3314 = 3214 + 100 */
	  .has_cost = 1, .cost = 13550250000LL },	/* 0.01355025 USD * 1e12 */
	{ .file = "openrouter_chat_usage_cost_cached.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "anthropic/claude-4.6-sonnet-20260217",
	  .input = 3,			/* 3329 prompt - 3211 cached - 115 cache write */
	  .cache_read = 3211, .cw5m = 115,
	  .output = 53,			/* total 3382 = 3329 + 53 */
	  .has_cost = 1, .cost = 2198550000LL },	/* 0.00219855 USD * 1e12 */
	{ .file = "pydantic_ai_gateway_cost_estimate.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "gpt-5-2025-08-07",
	  .input = 13, .output = 11 },	/* total 24; a gateway's cost_estimate is no provider cost */
	{ .file = "zai_glm_chat_usage.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "glm-4.7",
	  .input = 13,			/* 13 prompt - 0 cached */
	  .output = 3,			/* 369 completion - 366 reasoning */
	  .reasoning = 366 },		/* total 382 = 13 + 369 */
	{ .file = "zai_glm_chat_usage_cached.json",
	  .shape = USAGE_SHAPE_OPENAI, .model = "glm-4.6v",
	  .input = 431,			/* 435 prompt - 4 cached */
	  .cache_read = 4,
	  .output = 17,			/* 73 completion - 56 reasoning */
	  .reasoning = 56 },		/* total 508 = 435 + 73 */

	/* -- DeepSeek: prompt = hit + miss, reasoning inside completion -- */
	{ .file = "deepseek_chat_usage_prompt_cache_hit_miss.json",
	  .shape = USAGE_SHAPE_DEEPSEEK, .model = "deepseek-v4-flash",
	  .input = 51,			/* 563 prompt = 512 hit + 51 miss */
	  .cache_read = 512,
	  .output = 56,			/* 116 completion - 60 reasoning */
	  .reasoning = 60 },		/* total 679 = 563 + 116 */
	{ .file = "deepseek_chat_usage_reasoning.json",
	  .shape = USAGE_SHAPE_DEEPSEEK, .model = "deepseek-v4-flash",
	  .input = 51, .cache_read = 512,	/* 512 hit + 51 miss */
	  .output = 56, .reasoning = 60 },	/* 116 - 60 */
	{ .file = "deepseek_reasoner_stream_final_usage_chunk.sse",
	  .shape = USAGE_SHAPE_DEEPSEEK, .model = "deepseek-reasoner",
	  .input = 6,			/* 6 prompt = 0 hit + 6 miss */
	  .output = 14,			/* 212 completion - 198 reasoning */
	  .reasoning = 198 },		/* total 218 = 6 + 212 */

	/* -- xAI native: reasoning OUTSIDE completion, no flag -- */
	{ .file = "xai_sdk_grpc_usage_reasoning_separate_cached.json",
	  .shape = USAGE_SHAPE_XAI, .model = "grok-4-fast-reasoning",
	  .input = 792,			/* 2332 prompt - 1540 cached_prompt_text_tokens */
	  .cache_read = 1540,
	  .output = 38,			/* completion 38 excludes reasoning */
	  .reasoning = 310 },		/* total 2680 = 2332 + 38 + 310 */

	/* -- Gemini: prompt INCLUDES cached, thoughts outside candidates, tool prompt extra -- */
	{ .file = "gemini_embed_usageMetadata.json",
	  .shape = USAGE_SHAPE_GEMINI,
	  .input = 7 },			/* promptTokenCount 7, no candidates */
	{ .file = "gemini_usageMetadata_cacheTokensDetails.json",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-2.5-flash",
	  .input = 115,			/* 345 prompt - 230 cached (TEXT/DOCUMENT, no audio or image) */
	  .cache_read = 230,
	  .output = 51 },		/* total 396 = 345 + 51 */
	{ .file = "gemini_usageMetadata_cached_thoughts.json",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-2.5-flash",
	  .input = 52,			/* TEXT 115 prompt - 63 cached */
	  .image_in = 117,		/* IMAGE 258 prompt - 141 cached; 52 + 117 = 373 - 204 */
	  .cache_read = 204,
	  .output = 89,			/* candidates 89 */
	  .reasoning = 167 },		/* thoughts; total 629 = 373 + 89 + 167 */
	{ .file = "gemini_usageMetadata_serviceTier.json",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-2.5-flash",
	  .input = 13, .output = 10,
	  .reasoning = 61,		/* total 84 = 13 + 10 + 61 */
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },	/* serviceTier "standard" */
	{ .file = "gemini_usageMetadata_thoughts_trafficType.json",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-2.5-flash",
	  .input = 6, .output = 1,
	  .reasoning = 23,		/* total 30 = 6 + 1 + 23 */
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },	/* trafficType ON_DEMAND */
	{ .file = "gemini_usageMetadata_toolUsePromptTokenCount.json",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-2.5-pro",
	  .input = 17,			/* promptTokenCount, tool prompt not in it */
	  .tool_prompt = 119,		/* toolUsePromptTokenCount, extra input */
	  .output = 201,
	  .reasoning = 213 },		/* total 550 = 17 + 119 + 201 + 213 */
	{ .file = "gemini_vertex_generateContent_trafficType_flex.json",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-3-flash-preview",
	  .input = 5, .output = 1,
	  .reasoning = 51,		/* total 57 = 5 + 1 + 51 */
	  .tier_known = 1, .tier = PRICE_TIER_FLEX },	/* trafficType ON_DEMAND_FLEX */
	{ .file = "gemini_stream_usageMetadata_per_chunk.sse",
	  .shape = USAGE_SHAPE_GEMINI, .model = "gemini-2.5-flash",
	  .input = 18,			/* cumulative per chunk: the last, not 3 * 18 */
	  .output = 80,			/* 31, 79, 80: the last */
	  .reasoning = 35,		/* total 133 = 18 + 80 + 35 */
	  .tier_known = 1, .tier = PRICE_TIER_STANDARD },

	/* -- Cohere: billed_units, not tokens -- */
	{ .file = "cohere_embed_meta_billed_units.json",
	  .shape = USAGE_SHAPE_COHERE,
	  .input = 4 },			/* meta.billed_units.input_tokens */
	{ .file = "cohere_v2_chat_usage_billed_units.json",
	  .shape = USAGE_SHAPE_COHERE,
	  .input = 431, .output = 661 },	/* billed_units, not tokens 2190 / 1257 */
};

#define NSAMPLES	(sizeof(samples) / sizeof(samples[0]))

/* ---- checks ------------------------------------------------------------------ */

/* Every count category is >= 0, whatever the input was: one assertion. */
static void
check_nonneg(const struct usage *u, const char *what)
{
	const struct {
		const char	*name;
		int64_t		 v;
	} c[] = {
		{ "input", u->input }, { "cache_read", u->cache_read },
		{ "cache_write_5m", u->cache_write_5m }, { "cache_write_1h", u->cache_write_1h },
		{ "output", u->output }, { "reasoning", u->reasoning },
		{ "audio_in", u->audio_in }, { "audio_out", u->audio_out },
		{ "image_in", u->image_in }, { "image_out", u->image_out },
		{ "tool_prompt", u->tool_prompt }, { "search_queries", u->search_queries },
	};
	size_t i;
	int good = 1;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].v < 0) {
			diag("%s: %s is %" PRId64, what, c[i].name, c[i].v);
			good = 0;
		}
	ok(good, "%s: no count category is negative", what);
}

static void
diag_flags(const char *what, uint32_t flags)
{
	char names[512] = "";
	unsigned bit;

	for (bit = 0; usage_flag_name(bit) != NULL; bit++)
		if (flags & (1u << bit)) {
			size_t n = strlen(names);

			snprintf(names + n, sizeof(names) - n, "%s%s", n ? "," : "",
			    usage_flag_name(bit));
		}
	diag("%s: flags are {%s}", what, names);
}

/* EXPECT_CHECKS assertions. */
static void
check_usage(const struct usage *u, const struct expect *e, const char *what)
{
	is_str(usage_shape_name(u->shape), usage_shape_name(e->shape), "%s: shape", what);
	is_int(u->input, e->input, "%s: input", what);
	is_int(u->cache_read, e->cache_read, "%s: cache_read", what);
	is_int(u->cache_write_5m, e->cw5m, "%s: cache_write_5m", what);
	is_int(u->cache_write_1h, e->cw1h, "%s: cache_write_1h", what);
	is_int(u->output, e->output, "%s: output", what);
	is_int(u->reasoning, e->reasoning, "%s: reasoning", what);
	is_int(u->audio_in, e->audio_in, "%s: audio_in", what);
	is_int(u->audio_out, e->audio_out, "%s: audio_out", what);
	is_int(u->image_in, e->image_in, "%s: image_in", what);
	is_int(u->image_out, e->image_out, "%s: image_out", what);
	is_int(u->tool_prompt, e->tool_prompt, "%s: tool_prompt", what);
	is_int(u->search_queries, e->search, "%s: search_queries", what);
	is_int(u->duration_ms, e->has_duration ? e->duration_ms : -1, "%s: duration_ms", what);
	if (!is_int(u->flags, e->flags, "%s: flags", what))
		diag_flags(what, u->flags);
	is_int(u->tier_known, e->tier_known, "%s: tier_known", what);
	is_int(u->tier, e->tier, "%s: tier", what);
	is_int(u->has_provider_cost, e->has_cost, "%s: has_provider_cost", what);
	is_int(u->provider_cost, e->cost, "%s: provider_cost (picodollars)", what);
	is_str(u->model, e->model ? e->model : "", "%s: model", what);
	check_nonneg(u, what);
}

/* ---- feeding, the way a caller does --------------------------------------- */

struct feed {
	struct usage_raw	*r;
	const char		*what;
	int			 bad;		/* usage_collect calls that failed */
	int			 events;	/* events collected */
	int			 filtered;	/* as the worker relays: usage_maybe_in */
};

static int
collect_text(struct feed *f, const char *p, size_t n)
{
	char err[160];
	size_t at = 0;

	f->events++;
	if (usage_collect(f->r, p, n, err, sizeof(err), &at) < 0) {
		diag("%s: event %d: %s at byte %zu", f->what, f->events, err, at);
		f->bad++;
		return -1;
	}
	return 0;
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct feed *f = arg;

	(void)event, (void)line;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
		return 0;
	if (f->filtered && f->events > 0 && !usage_maybe_in(data, len))
		return 0;
	collect_text(f, data, len);
	return 0;
}

/* An SSE stream, in uneven pieces as a socket would hand them over. */
static void
feed_sse(struct feed *f, const char *text, size_t n)
{
	struct sse s;
	size_t i, piece;

	sse_init(&s);
	for (i = 0; i < n; i += piece) {
		piece = 1 + (i * 7 + 61) % 97;
		if (piece > n - i)
			piece = n - i;
		if (sse_feed(&s, text + i, piece, on_event, f) < 0)
			f->bad++;
	}
	if (sse_finish(&s, on_event, f) < 0)
		f->bad++;
	sse_release(&s);
}

static void
feed_jsonl(struct feed *f, const char *text, size_t n)
{
	const char *p = text, *end = text + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		const char *q = p;

		while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < stop)
			collect_text(f, p, (size_t)(stop - p));
		p = nl ? nl + 1 : end;
	}
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(fp);
	return buf;
}

/* One sample: 1 + EXPECT_CHECKS assertions, or as many skips. */
static void
test_sample(const char *dir, const struct expect *e)
{
	char path[8192];
	struct usage_raw raw;
	struct usage u;
	struct feed f;
	char *text;
	size_t len = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->file) >= sizeof(path))
		path[0] = '\0';	/* unreadable, below */
	if ((text = read_file(path, &len)) == NULL) {
		ok(0, "%s: read (%s)", e->file, strerror(errno));
		skip(EXPECT_CHECKS, "sample unreadable");
		return;
	}
	usage_raw_init(&raw);
	memset(&f, 0, sizeof(f));
	f.r = &raw;
	f.what = e->file;
	if (ends_with(e->file, ".sse"))
		feed_sse(&f, text, len);
	else if (ends_with(e->file, ".jsonl"))
		feed_jsonl(&f, text, len);
	else
		collect_text(&f, text, len);
	ok(f.bad == 0 && f.events > 0, "%s: %d event(s) collected without error", e->file,
	    f.events);
	usage_normalise(&raw, USAGE_SHAPE_AUTO, &u);
	check_usage(&u, e, e->file);
	free(text);
}

/*
 * The worker parses only the first event of a stream and those where
 * usage_maybe_in() says usage may be: for every recorded stream that must
 * give the usage of parsing them all.  1 assertion per .sse sample.
 */
static void
test_filtered_stream(const char *dir, const struct expect *e)
{
	char path[8192];
	struct usage_raw all, some;
	struct usage ua, us;
	struct feed fa, fs;
	char *text;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, e->file);
	if ((text = read_file(path, &len)) == NULL) {
		ok(0, "%s: read (%s)", e->file, strerror(errno));
		return;
	}
	usage_raw_init(&all);
	usage_raw_init(&some);
	memset(&fa, 0, sizeof(fa));
	memset(&fs, 0, sizeof(fs));
	fa.r = &all, fa.what = fs.what = e->file;
	fs.r = &some, fs.filtered = 1;
	feed_sse(&fa, text, len);
	feed_sse(&fs, text, len);
	memset(&ua, 0, sizeof(ua));
	memset(&us, 0, sizeof(us));
	usage_normalise(&all, USAGE_SHAPE_AUTO, &ua);
	usage_normalise(&some, USAGE_SHAPE_AUTO, &us);
	/* the model is compared as a string: bytes past its end are anybody's */
	ok(memcmp(&ua, &us, offsetof(struct usage, model)) == 0 && strcmp(ua.model, us.model) == 0 &&
	    fs.events <= fa.events,
	    "%s: %d of %d events parsed give the same usage", e->file, fs.events, fa.events);
	free(text);
}

/* usage_maybe_in on its own: 12 assertions. */
static void
test_maybe_in(void)
{
	static const struct { const char *json; int want; } t[] = {
		{ "{\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}", 0 },
		{ "{\"usage\" :\n null, \"model\":\"m\"}", 0 },
		{ "{\"usage\":null,\"x\":{\"usage\":null}}", 0 },
		{ "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}", 1 },
		{ "{\"usage\":null,\"usage\":{\"prompt_tokens\":1}}", 1 },
		{ "{\"usageMetadata\":{\"promptTokenCount\":3}}", 1 },
		{ "{\"type\":\"message_start\",\"message\":{}}", 1 },
		{ "{\"meta\":{\"billed_units\":{\"input_tokens\":2}}}", 1 },
		{ "{\"usage\":nul", 1 },
		{ "{\"usage\":", 1 },
		{ "{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"x\"}}", 0 },
		{ "sag", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(usage_maybe_in(t[i].json, strlen(t[i].json)), t[i].want, "usage_maybe_in(%s)",
		    t[i].json);
}

/* The table names every sample of the directory, and nothing else: 1 assertion. */
static void
test_sample_list(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int seen = 0, unknown = 0;
	size_t i;

	if (d == NULL) {
		ok(0, "usage_samples: opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README.md") == 0)
			continue;
		seen++;
		for (i = 0; i < NSAMPLES; i++)
			if (strcmp(samples[i].file, de->d_name) == 0)
				break;
		if (i == NSAMPLES) {
			diag("sample without expectations: %s", de->d_name);
			unknown++;
		}
	}
	closedir(d);
	ok(seen == (int)NSAMPLES && unknown == 0 && NSAMPLES == 52,
	    "usage_samples: %d files, %zu expected, all covered", seen, NSAMPLES);
}

/* ---- inline cases ------------------------------------------------------------ */

/* Collects each JSON text in turn (NULL-terminated), then normalises. */
static int
normalise_texts(const char *const *texts, enum usage_shape shape, struct usage *u)
{
	struct usage_raw raw;
	int rc = 0;

	usage_raw_init(&raw);
	for (; *texts; texts++)
		if (usage_collect(&raw, *texts, strlen(*texts), NULL, 0, NULL) < 0) {
			diag("test JSON rejected: %s", *texts);
			rc = -1;
		}
	usage_normalise(&raw, shape, u);
	return rc;
}

/* 1 + EXPECT_CHECKS assertions. */
static void
expect_json(const char *json, enum usage_shape shape, const struct expect *e)
{
	const char *texts[] = { json, NULL };
	struct usage u;

	ok(normalise_texts(texts, shape, &u) == 0, "%s: collected", e->file);
	check_usage(&u, e, e->file);
}

static void
expect_stream(const char *const *events, const struct expect *e)
{
	struct usage u;

	ok(normalise_texts(events, USAGE_SHAPE_AUTO, &u) == 0, "%s: collected", e->file);
	check_usage(&u, e, e->file);
}

static void
test_cache_anomalies(void)
{
	/* spec 2: the proxy that reports prompt without its cache */
	expect_json("{\"usage\": {\"prompt_tokens\": 1678, \"completion_tokens\": 370,"
	    " \"total_tokens\": 2048, \"prompt_tokens_details\": {\"cached_tokens\": 105530}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "cached 105530 > prompt 1678",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 1678,		/* prompt taken as the uncached part */
	    .cache_read = 105530,
	    .output = 370,		/* total 2048 = 1678 + 370 */
	    .flags = CACHE_EXCEEDS });
	/* cached + cache_write > prompt, though each alone fits */
	expect_json("{\"usage\": {\"prompt_tokens\": 100, \"completion_tokens\": 1,"
	    " \"prompt_tokens_details\": {\"cached_tokens\": 60, \"cache_write_tokens\": 50}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "cached 60 + write 50 > prompt 100",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 100, .cache_read = 60, .cw5m = 50,	/* 110 > 100: prompt is uncached */
	    .output = 1, .flags = CACHE_EXCEEDS });
	/* cached == prompt is no anomaly */
	expect_json("{\"usage\": {\"prompt_tokens\": 500, \"completion_tokens\": 2,"
	    " \"prompt_tokens_details\": {\"cached_tokens\": 500}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "cached 500 == prompt 500",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 0, .cache_read = 500,	/* 500 - 500 */
	    .output = 2 });
}

static void
test_litellm(void)
{
	/* LiteLLM: OpenAI shape with Anthropic-style top-level cache counts, inside prompt */
	expect_json("{\"usage\": {\"prompt_tokens\": 1000, \"completion_tokens\": 50,"
	    " \"total_tokens\": 1050, \"cache_read_input_tokens\": 600,"
	    " \"cache_creation_input_tokens\": 100}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "litellm top-level cache counts",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 300,		/* 1000 prompt - 600 read - 100 write */
	    .cache_read = 600, .cw5m = 100,
	    .output = 50 });
	/* the same read stated twice (details and top level) counts once */
	expect_json("{\"usage\": {\"prompt_tokens\": 1000, \"completion_tokens\": 50,"
	    " \"prompt_tokens_details\": {\"cached_tokens\": 600},"
	    " \"cache_read_input_tokens\": 600, \"cache_creation_input_tokens\": 100}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "litellm cache read stated twice",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 300,		/* 1000 - 600 - 100, the 600 once */
	    .cache_read = 600, .cw5m = 100, .output = 50 });
	/* Moonshot / Kimi: a top-level cached_tokens; compatible cache_creation_tokens */
	expect_json("{\"usage\": {\"prompt_tokens\": 200, \"completion_tokens\": 5,"
	    " \"cached_tokens\": 100, \"cache_creation_tokens\": 50}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "top-level cached_tokens and writes",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 50,		/* 200 prompt - 100 cached - 50 written */
	    .cache_read = 100, .cw5m = 50, .output = 5 });
	/* ... unless the cache counts exceed it: then prompt is the uncached part */
	expect_json("{\"usage\": {\"prompt_tokens\": 20, \"completion_tokens\": 5,"
	    " \"cache_read_input_tokens\": 5000, \"cache_creation_input_tokens\": 300}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "litellm cache above prompt",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 20,		/* 5000 + 300 > 20 */
	    .cache_read = 5000, .cw5m = 300, .output = 5, .flags = CACHE_EXCEEDS });
}

/*
 * A non-integral prompt count of 12.x: flagged fractional_count; whether it
 * becomes 12 or 13 the spec leaves open.  6 assertions.
 */
static void
expect_fractional_prompt(const char *count)
{
	char json[128], what[64];
	const char *texts[] = { json, NULL };
	struct usage u;

	snprintf(json, sizeof(json), "{\"usage\": {\"prompt_tokens\": %s,"
	    " \"completion_tokens\": 3}}", count);
	snprintf(what, sizeof(what), "prompt %s", count);
	ok(normalise_texts(texts, USAGE_SHAPE_AUTO, &u) == 0, "%s: collected", what);
	is_str(usage_shape_name(u.shape), "openai", "%s: shape", what);
	ok(u.input == 12 || u.input == 13, "%s: input 12 or 13 (got %" PRId64 ")", what,
	    u.input);
	is_int(u.output, 3, "%s: output", what);
	if (!is_int(u.flags, USAGE_FLAG_FRACTIONAL_COUNT, "%s: flags fractional_count", what))
		diag_flags(what, u.flags);
	check_nonneg(&u, what);
}

static void
test_bad_counts(void)
{
	struct usage u;
	const char *huge_neg[] = { "{\"usage\": {\"prompt_tokens\":"
		" -123456789012345678901234567890, \"completion_tokens\": 3}}", NULL };

	/* negative: clamped to 0, flagged */
	expect_json("{\"usage\": {\"prompt_tokens\": -5, \"completion_tokens\": 10}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "negative prompt",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 0,			/* -5 clamped */
	    .output = 10, .flags = USAGE_FLAG_NEGATIVE_COUNT });
	expect_json("{\"usage\": {\"prompt_tokens\": 100, \"completion_tokens\": 10,"
	    " \"prompt_tokens_details\": {\"cached_tokens\": -20}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "negative cached",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 100,		/* 100 - 0 (cached -20 clamped to 0) */
	    .output = 10, .flags = USAGE_FLAG_NEGATIVE_COUNT });
	expect_json("{\"type\": \"message\", \"usage\": {\"input_tokens\": 10,"
	    " \"output_tokens\": -1}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "negative anthropic output",
	    .shape = USAGE_SHAPE_ANTHROPIC,
	    .input = 10, .output = 0,	/* -1 clamped */
	    .flags = USAGE_FLAG_NEGATIVE_COUNT });

	/* fractional: flagged, however fine the fraction */
	expect_fractional_prompt("12.5");
	expect_fractional_prompt("12.0001");	/* below a thousandth */
	expect_fractional_prompt("12.9999");
	/* an integral value written with a fraction or an exponent is no anomaly */
	expect_json("{\"usage\": {\"prompt_tokens\": 12.0, \"completion_tokens\": 1e3}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "counts 12.0 and 1e3",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 12,		/* 12.0 */
	    .output = 1000 });		/* 1e3 */

	/* absurd: clamped to USAGE_MAX_COUNT, flagged */
	expect_json("{\"usage\": {\"prompt_tokens\": 1e15, \"completion_tokens\": 3}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "prompt 1e15",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = USAGE_MAX_COUNT,	/* 1e15 > 1e9 */
	    .output = 3, .flags = USAGE_FLAG_ABSURD_COUNT });
	expect_json("{\"usage\": {\"prompt_tokens\": 7, \"completion_tokens\":"
	    " 123456789012345678901234567890}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "completion beyond int64",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 7, .output = USAGE_MAX_COUNT, .flags = USAGE_FLAG_ABSURD_COUNT });
	expect_json("{\"type\": \"message\", \"usage\": {\"input_tokens\": 1000000000,"
	    " \"output_tokens\": 1000000001}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "counts at and past the bound",
	    .shape = USAGE_SHAPE_ANTHROPIC,
	    .input = USAGE_MAX_COUNT,	/* exactly the bound: kept */
	    .output = USAGE_MAX_COUNT,	/* one past: clamped */
	    .flags = USAGE_FLAG_ABSURD_COUNT });

	/* a negative count too large for int64 is still a negative count */
	ok(normalise_texts(huge_neg, USAGE_SHAPE_AUTO, &u) == 0, "prompt -1.2e29: collected");
	is_int(u.input, 0, "prompt -1.2e29: input clamped to 0");
	is_int(u.output, 3, "prompt -1.2e29: output");
	if (!ok(u.flags & USAGE_FLAG_NEGATIVE_COUNT, "prompt -1.2e29: flag negative_count"))
		diag_flags("prompt -1.2e29", u.flags);
	check_nonneg(&u, "prompt -1.2e29");

	/* not a number at all */
	expect_json("{\"usage\": {\"prompt_tokens\": \"lots\", \"completion_tokens\": 7}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "prompt \"lots\"",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 0, .output = 7, .flags = USAGE_FLAG_BAD_COUNT });
	expect_json("{\"usage\": {\"prompt_tokens\": true, \"completion_tokens\": {\"n\": 2}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "counts true and an object",
	    .shape = USAGE_SHAPE_AUTO,	/* neither count is there */
	    .flags = USAGE_FLAG_BAD_COUNT | MISSING });
}

static void
test_missing(void)
{
	static const char stream_null[] =
	    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],"
	    "\"usage\":null}\n\n"
	    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
	    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
	    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
	    "\"usage\":null}\n\n"
	    "data: [DONE]\n\n";
	struct usage_raw raw;
	struct usage u;
	struct feed f;

	expect_json("{}", USAGE_SHAPE_AUTO, &(struct expect){ .file = "empty object",
	    .shape = USAGE_SHAPE_AUTO, .flags = MISSING });
	expect_json("{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\","
	    " \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\","
	    " \"content\": \"hi\"}, \"finish_reason\": \"stop\"}]}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "body without usage",
	    .shape = USAGE_SHAPE_AUTO, .flags = MISSING });
	expect_json("{\"usage\": null}", USAGE_SHAPE_AUTO, &(struct expect){
	    .file = "usage null", .shape = USAGE_SHAPE_AUTO, .flags = MISSING });

	/* a stream that ended without its usage chunk */
	usage_raw_init(&raw);
	memset(&f, 0, sizeof(f));
	f.r = &raw;
	f.what = "stream of usage:null chunks";
	feed_sse(&f, stream_null, sizeof(stream_null) - 1);
	ok(f.bad == 0 && f.events == 3, "%s: 3 events collected", f.what);
	usage_normalise(&raw, USAGE_SHAPE_AUTO, &u);
	check_usage(&u, &(struct expect){ .file = f.what, .shape = USAGE_SHAPE_AUTO,
	    .model = "gpt-4o", .flags = MISSING }, f.what);

	/* a forced shape that does not match the object: missing, never a crash */
	expect_json("{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 5}}",
	    USAGE_SHAPE_ANTHROPIC, &(struct expect){ .file = "openai usage forced anthropic",
	    .shape = USAGE_SHAPE_ANTHROPIC, .flags = MISSING });
	expect_json("{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 5}}",
	    USAGE_SHAPE_GEMINI, &(struct expect){ .file = "openai usage forced gemini",
	    .shape = USAGE_SHAPE_GEMINI, .flags = MISSING });
	expect_json("{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 5}}",
	    USAGE_SHAPE_BEDROCK, &(struct expect){ .file = "openai usage forced bedrock",
	    .shape = USAGE_SHAPE_BEDROCK, .flags = MISSING });
	expect_json("{\"usage\": {\"prompt_tokens\": 10, \"completion_tokens\": 5}}",
	    USAGE_SHAPE_COHERE, &(struct expect){ .file = "openai usage forced cohere",
	    .shape = USAGE_SHAPE_COHERE, .flags = MISSING });
	expect_json("{\"type\": \"message\", \"usage\": {\"input_tokens\": 10,"
	    " \"output_tokens\": 5}}",
	    USAGE_SHAPE_OPENAI, &(struct expect){ .file = "anthropic usage forced openai",
	    .shape = USAGE_SHAPE_OPENAI, .flags = MISSING });
}

static void
test_anthropic(void)
{
	static const char *const stream[] = {
		"{\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":"
		"{\"input_tokens\":50,\"cache_read_input_tokens\":20,"
		"\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}",
		"{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":30}}",
		"{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":120}}",
		"{\"type\":\"message_stop\"}",
		NULL
	};

	/* the split is billed even when cache_creation_input_tokens says 0 */
	expect_json("{\"input_tokens\":10,\"cache_creation_input_tokens\":0,"
	    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
	    "\"ephemeral_1h_input_tokens\":300},\"output_tokens\":5}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "anthropic split over a 0 total",
	    .shape = USAGE_SHAPE_ANTHROPIC,
	    .input = 10, .cw5m = 0,
	    .cw1h = 300,		/* ephemeral_1h 300, though creation says 0 */
	    .output = 5 });
	expect_json("{\"type\":\"message\",\"usage\":{\"input_tokens\":4,"
	    "\"cache_read_input_tokens\":1000,\"cache_creation_input_tokens\":300,"
	    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":100,"
	    "\"ephemeral_1h_input_tokens\":200},\"output_tokens\":9}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "anthropic 5m and 1h writes",
	    .shape = USAGE_SHAPE_ANTHROPIC,
	    .input = 4, .cache_read = 1000,
	    .cw5m = 100, .cw1h = 200,	/* creation 300 = 100 + 200 */
	    .output = 9 });
	/* Anthropic multipliers named in the usage object (spec 3.7) */
	{
		const char *fast[] = { "{\"type\":\"message\",\"usage\":{\"input_tokens\":1,"
			"\"output_tokens\":1,\"speed\":\"fast\",\"inference_geo\":\"us\"}}", NULL };
		struct usage u;

		normalise_texts(fast, USAGE_SHAPE_AUTO, &u);
		is_int(u.speed_fast, 1, "anthropic speed fast");
		is_int(u.geo_us, 1, "anthropic inference_geo us");
	}
	/* cumulative output: the last message_delta, never a sum */
	expect_stream(stream, &(struct expect){ .file = "anthropic stream, two deltas",
	    .shape = USAGE_SHAPE_ANTHROPIC, .model = "claude-x",
	    .input = 50, .cache_read = 20,	/* from message_start, not restated */
	    .output = 120 });			/* 1, 30, 120: the last, not 151 */
}

static void
test_other_shapes(void)
{
	static const char *const gemini[] = {
		"{\"usageMetadata\":{\"promptTokenCount\":100,\"candidatesTokenCount\":5,"
		"\"cachedContentTokenCount\":40}}",
		"{\"usageMetadata\":{\"promptTokenCount\":100,\"candidatesTokenCount\":12,"
		"\"cachedContentTokenCount\":40,\"thoughtsTokenCount\":7,"
		"\"trafficType\":\"ON_DEMAND_FLEX\"}}",
		NULL
	};

	/* Bedrock: cacheDetails ttl splits the writes */
	expect_json("{\"usage\":{\"inputTokens\":5,\"outputTokens\":2,"
	    "\"cacheReadInputTokens\":7,\"cacheWriteInputTokens\":300,\"cacheDetails\":["
	    "{\"inputTokens\":100,\"ttl\":\"5m\"},{\"inputTokens\":200,\"ttl\":\"1h\"}]}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "bedrock 5m and 1h writes",
	    .shape = USAGE_SHAPE_BEDROCK,
	    .input = 5, .cache_read = 7,
	    .cw5m = 100, .cw1h = 200,	/* 300 written = 100 (5m) + 200 (1h) */
	    .output = 2 });
	/* Gemini stream: cumulative, the last chunk; flex from trafficType */
	expect_stream(gemini, &(struct expect){ .file = "gemini stream, flex",
	    .shape = USAGE_SHAPE_GEMINI,
	    .input = 60,		/* 100 prompt - 40 cached */
	    .cache_read = 40,
	    .output = 12,		/* 5, then 12: the last */
	    .reasoning = 7,
	    .tier_known = 1, .tier = PRICE_TIER_FLEX });
	/* DeepSeek without prompt_tokens: prompt = hit + miss */
	expect_json("{\"usage\":{\"prompt_cache_hit_tokens\":512,"
	    "\"prompt_cache_miss_tokens\":51,\"completion_tokens\":10}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "deepseek hit + miss only",
	    .shape = USAGE_SHAPE_DEEPSEEK,
	    .input = 51, .cache_read = 512,	/* 563 = 512 + 51 */
	    .output = 10 });
	/* xAI native usage keeps reasoning outside completion, with or without a total */
	expect_json("{\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,"
	    "\"reasoning_tokens\":5}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "xai reasoning, no total",
	    .shape = USAGE_SHAPE_XAI,
	    .input = 100, .output = 20,	/* completion 20 excludes reasoning */
	    .reasoning = 5 });
	/* a proxy leaving reasoning out, smaller than completion, proven by the total */
	expect_json("{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":124,"
	    "\"total_tokens\":231,\"completion_tokens_details\":{\"reasoning_tokens\":100}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "proxy reasoning outside, by total",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 7, .output = 124,	/* total 231 = 7 + 124 + 100 */
	    .reasoning = 100, .flags = REASONING_OUT });
	/* OpenRouter bring-your-own-key: the provider's charge is an explicit 0 */
	expect_json("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
	    "\"cost\":0,\"is_byok\":true}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "openrouter byok cost 0",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 10, .output = 2, .has_cost = 1, .cost = 0 });
	/* OpenRouter cost written with an exponent */
	expect_json("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
	    "\"cost\":6e-05}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "openrouter cost 6e-05",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 10, .output = 2, .has_cost = 1,
	    .cost = 60000000LL });	/* 0.00006 USD * 1e12 */
	/* xAI: the charge in ticks, 1e-10 USD each (docs.x.ai cost tracking: 37756000 ticks is $0.0037756) */
	expect_json("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
	    "\"cost_in_usd_ticks\":37756000}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "xai cost_in_usd_ticks",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 10, .output = 2, .has_cost = 1,
	    .cost = 3775600000LL });	/* 0.0037756 USD * 1e12 */
	/* DeepInfra: usage.estimated_cost in USD */
	expect_json("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
	    "\"estimated_cost\":0.00000117}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "deepinfra estimated_cost",
	    .shape = USAGE_SHAPE_OPENAI,
	    .input = 10, .output = 2, .has_cost = 1, .cost = 1170000LL });
	/* OpenAI Responses with the web_search tool: one web_search_call output item per search */
	expect_json("{\"object\":\"response\",\"output\":["
	    "{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\","
	    "\"action\":{\"type\":\"search\",\"query\":\"tollgate\"}},"
	    "{\"type\":\"web_search_call\",\"id\":\"ws_2\",\"status\":\"completed\"},"
	    "{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"web_search_call\"}]}],"
	    "\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
	    "\"input_tokens_details\":{\"cached_tokens\":0},"
	    "\"output_tokens_details\":{\"reasoning_tokens\":0}}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "responses web_search_call x2",
	    .shape = USAGE_SHAPE_RESPONSES, .input = 100, .output = 20, .search = 2 });
	/* Gemini grounded with Google Search: the queries of its groundingMetadata */
	expect_json("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"webSearchQueries\"}]},"
	    "\"groundingMetadata\":{\"webSearchQueries\":[\"tollgate gateway\",\"llm cost\",\"x\"],"
	    "\"searchEntryPoint\":{\"renderedContent\":\"<div/>\"},\"groundingChunks\":[{\"web\":{}}]}}],"
	    "\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":2,"
	    "\"totalTokenCount\":12}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "gemini groundingMetadata x3",
	    .shape = USAGE_SHAPE_GEMINI, .input = 10, .output = 2, .search = 3 });
	/* Converse's output is an object: not output items */
	expect_json("{\"output\":{\"message\":{\"role\":\"assistant\"}},"
	    "\"usage\":{\"inputTokens\":10,\"outputTokens\":2}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "converse output object",
	    .shape = USAGE_SHAPE_BEDROCK, .input = 10, .output = 2 });
	/* a cost that is not a number, or is negative, is not the provider's word */
	expect_json("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
	    "\"cost\":\"0.5\"}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "cost as a string",
	    .shape = USAGE_SHAPE_OPENAI, .input = 10, .output = 2 });
	expect_json("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
	    "\"cost\":-0.5}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "negative cost",
	    .shape = USAGE_SHAPE_OPENAI, .input = 10, .output = 2 });
	/* a served tier on an OpenAI chat body */
	expect_json("{\"service_tier\":\"priority\",\"usage\":{\"prompt_tokens\":10,"
	    "\"completion_tokens\":2}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "openai service_tier priority",
	    .shape = USAGE_SHAPE_OPENAI, .input = 10, .output = 2,
	    .tier_known = 1, .tier = PRICE_TIER_PRIORITY });
	/* Gemini: cacheTokensDetails subtracted per modality */
	expect_json("{\"usageMetadata\":{\"promptTokenCount\":100,\"promptTokensDetails\":["
	    "{\"modality\":\"TEXT\",\"tokenCount\":60},{\"modality\":\"AUDIO\",\"tokenCount\":40}],"
	    "\"cachedContentTokenCount\":30,\"cacheTokensDetails\":["
	    "{\"modality\":\"TEXT\",\"tokenCount\":20},{\"modality\":\"AUDIO\",\"tokenCount\":10}],"
	    "\"candidatesTokenCount\":3}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "gemini audio per modality",
	    .shape = USAGE_SHAPE_GEMINI,
	    .input = 40,		/* TEXT 60 - 20 cached */
	    .audio_in = 30,		/* AUDIO 40 - 10 cached; 40 + 30 = 100 - 30 */
	    .cache_read = 30, .output = 3 });
	/* OpenAI transcription, token usage: audio at the audio rate */
	expect_json("{\"usage\":{\"type\":\"tokens\",\"input_tokens\":100,"
	    "\"input_token_details\":{\"audio_tokens\":80,\"text_tokens\":20},"
	    "\"output_tokens\":30,\"total_tokens\":130}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "transcription tokens",
	    .shape = USAGE_SHAPE_RESPONSES,
	    .input = 20,		/* 100 - 80 audio */
	    .audio_in = 80, .output = 30 });
	/* OpenAI transcription, duration usage: per second */
	expect_json("{\"usage\":{\"type\":\"duration\",\"seconds\":5}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "transcription duration",
	    .shape = USAGE_SHAPE_RESPONSES,
	    .has_duration = 1, .duration_ms = 5000 });	/* 5 s */
	/* OpenAI images: image tokens in and out at their own rates */
	expect_json("{\"usage\":{\"input_tokens\":50,\"input_tokens_details\":"
	    "{\"text_tokens\":10,\"image_tokens\":40},\"output_tokens\":4160,"
	    "\"output_tokens_details\":{\"image_tokens\":4160},\"total_tokens\":4210}}",
	    USAGE_SHAPE_AUTO, &(struct expect){ .file = "images",
	    .shape = USAGE_SHAPE_RESPONSES,
	    .input = 10, .image_in = 40,	/* 50 = 10 text + 40 image */
	    .image_out = 4160, .output = 0 });	/* 4160 - 4160 image */
}

static void
test_malformed(void)
{
	static const char bad[] = "{\"usage\": {\"prompt_tokens\": 12,, }}";
	static const char cut[] = "{\"usage\": {\"prompt_tokens\": 12";
	struct usage_raw raw;
	char err[160], deep[3400];
	size_t at, i;

	/*                 0         1         2         3
	 *                 0123456789012345678901234567890123
	 *                 {"usage": {"prompt_tokens": 12,, }}   the second ',' is byte 31 */
	usage_raw_init(&raw);
	err[0] = '\0';
	at = (size_t)-1;
	is_int(usage_collect(&raw, bad, sizeof(bad) - 1, err, sizeof(err), &at), -1,
	    "double comma: -1");
	ok(err[0] != '\0', "double comma: error message (%s)", err);
	is_int((long long)at, 31, "double comma: offset of the second ','");

	usage_raw_init(&raw);
	err[0] = '\0';
	at = (size_t)-1;
	is_int(usage_collect(&raw, cut, sizeof(cut) - 1, err, sizeof(err), &at), -1,
	    "truncated: -1");
	ok(err[0] != '\0', "truncated: error message (%s)", err);
	ok(at >= 28 && at <= sizeof(cut) - 1, "truncated: offset %zu within the last count"
	    " or at the end (%zu)", at, sizeof(cut) - 1);

	usage_raw_init(&raw);
	err[0] = '\0';
	at = (size_t)-1;
	is_int(usage_collect(&raw, "[1, 2]", 6, err, sizeof(err), &at), -1, "array: -1");
	ok(err[0] != '\0', "array: error message (%s)", err);
	is_int((long long)at, 0, "array: offset 0");

	usage_raw_init(&raw);
	err[0] = '\0';
	is_int(usage_collect(&raw, "", 0, err, sizeof(err), NULL), -1, "empty text: -1");
	ok(err[0] != '\0', "empty text: error message (%s)", err);

	/* nesting deeper than any parser stack: an error, never a crash */
	memset(deep, 0, sizeof(deep));
	for (i = 0; i < 300; i++)
		memcpy(deep + i * 10, "{\"usage\": ", 10);
	memset(deep + 3000, '}', 300);
	usage_raw_init(&raw);
	err[0] = '\0';
	is_int(usage_collect(&raw, deep, 3300, err, sizeof(err), NULL), -1,
	    "300 nested usage objects: -1");
	ok(err[0] != '\0', "300 nested usage objects: error message (%s)", err);
}

/*
 * Inputs the fuzzer once crashed on (tests/data/regressions/usage_*): each
 * must be collected without a memory error (the sanitizer build checks) and
 * give no negative count.
 */
static void
test_regressions(void)
{
	static const char *const files[] = { "usage_nul_in_key.json" };
	const char *root = getenv("TOLLGATE_SRC");
	char path[4200];
	size_t i, len = 0;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct usage_raw raw;
		struct usage u;
		char *buf;

		snprintf(path, sizeof(path), "%s/tests/data/regressions/%s", root ? root : ".", files[i]);
		if ((buf = read_file(path, &len)) == NULL) {
			ok(0, "regression %s: cannot read '%s'", files[i], path);
			continue;
		}
		usage_raw_init(&raw);
		usage_collect(&raw, buf, len, NULL, 0, NULL);
		usage_normalise(&raw, USAGE_SHAPE_AUTO, &u);
		ok(u.input >= 0 && u.output >= 0 && u.provider_cost == 2198550000LL,
		    "regression %s: a key with a NUL inside is no known key (cost stays 0.00219855)", files[i]);
		free(buf);
	}
}

int
main(void)
{
	const char *data = shared_data();
	char dir[4200];
	size_t i;

	if (data == NULL) {
		skip(1, "shared data absent");
		for (i = 0; i < NSAMPLES; i++)
			skip(1 + EXPECT_CHECKS + ends_with(samples[i].file, ".sse"),
			    "shared data absent");
	} else {
		snprintf(dir, sizeof(dir), "%s/usage_samples", data);
		test_sample_list(dir);
		for (i = 0; i < NSAMPLES; i++) {
			test_sample(dir, &samples[i]);
			if (ends_with(samples[i].file, ".sse"))
				test_filtered_stream(dir, &samples[i]);
		}
	}
	test_maybe_in();
	test_cache_anomalies();
	test_litellm();
	test_bad_counts();
	test_missing();
	test_anthropic();
	test_other_shapes();
	test_malformed();
	test_regressions();
	return done_testing();
}
