/*
 * Usage normalisation: every provider's token accounting, in a response body
 * or fed one stream event at a time, turned into one canonical usage whose
 * categories never overlap (each token is counted once, in the category it
 * is billed in).  The conventions follow shared/reference/usage-and-pricing.md.
 */
#ifndef TOLLGATE_USAGE_H
#define TOLLGATE_USAGE_H

#include <stddef.h>
#include <stdint.h>

enum usage_shape {
	USAGE_SHAPE_AUTO,	/* detect from the object */
	USAGE_SHAPE_OPENAI,	/* chat and completions, embeddings, OpenAI-compatible */
	USAGE_SHAPE_RESPONSES,	/* OpenAI Responses, transcription, images */
	USAGE_SHAPE_ANTHROPIC,
	USAGE_SHAPE_GEMINI,
	USAGE_SHAPE_BEDROCK,	/* Converse */
	USAGE_SHAPE_DEEPSEEK,
	USAGE_SHAPE_XAI,
	USAGE_SHAPE_COHERE,
	USAGE_SHAPE_COUNT
};

/* Why a record needs a second look; it is still priced, the safe way. */
enum usage_flag {
	USAGE_FLAG_USAGE_MISSING		= 1u << 0,
	USAGE_FLAG_CACHE_EXCEEDS_PROMPT		= 1u << 1,
	USAGE_FLAG_REASONING_OUTSIDE_COMPLETION	= 1u << 2,
	USAGE_FLAG_NEGATIVE_COUNT		= 1u << 3,
	USAGE_FLAG_FRACTIONAL_COUNT		= 1u << 4,
	USAGE_FLAG_ABSURD_COUNT			= 1u << 5,
	USAGE_FLAG_BAD_COUNT			= 1u << 6,
	USAGE_FLAG_DETAILS_EXCEED_TOTAL		= 1u << 7,
	USAGE_FLAG_UNPRICED			= 1u << 8,
	USAGE_FLAG_NO_CACHE_PRICE		= 1u << 9,
	USAGE_FLAG_TIER_FALLBACK		= 1u << 10,
	USAGE_FLAG_UNKNOWN_TIER			= 1u << 11,
	USAGE_FLAG_NO_DURATION			= 1u << 12,
	USAGE_FLAG_ITERATIONS_NOT_IN_TOTAL	= 1u << 13,
	USAGE_FLAG_FLAG_COUNT			= 14
};

/* Counts above this are not plausible for one request: clamped and flagged. */
#define USAGE_MAX_COUNT	1000000000LL

struct usage {
	/* Tokens, each in exactly one category. */
	int64_t		input;		/* uncached text input */
	int64_t		cache_read;
	int64_t		cache_write_5m;
	int64_t		cache_write_1h;
	int64_t		output;		/* text output, reasoning excluded */
	int64_t		reasoning;
	int64_t		audio_in;
	int64_t		audio_out;
	int64_t		image_in;
	int64_t		image_out;
	int64_t		tool_prompt;	/* Gemini toolUsePromptTokenCount */
	int64_t		search_queries;
	int64_t		duration_ms;	/* -1 when the response does not say */
	enum usage_shape shape;		/* detected or forced */
	uint8_t		tier;		/* enum price_tier served */
	uint8_t		tier_known;	/* the response named its tier */
	uint8_t		batch;		/* the response says it was a batch */
	uint8_t		speed_fast;	/* Anthropic speed: "fast" */
	uint8_t		geo_us;		/* Anthropic inference_geo: "us" */
	uint8_t		grounded;	/* Gemini answered with Google Search (search_queries: its queries) */
	uint8_t		has_provider_cost;
	uint32_t	flags;		/* enum usage_flag */
	int64_t		provider_cost;	/* picodollars, e.g. OpenRouter usage.cost */
	char		model[128];	/* as the response names it, may be empty */
};

const char *usage_shape_name(enum usage_shape s);
/* 0 and *out set, or -1 for an unknown name. */
int usage_shape_from_name(const char *name, enum usage_shape *out);
/* The flag's record name ("cache_exceeds_prompt"), NULL past the last. */
const char *usage_flag_name(unsigned bit);
/* Total input-side tokens, the figure thresholds and tiers are chosen by. */
int64_t usage_total_input(const struct usage *u);

/*
 * The raw counts of a response or stream, as the provider named them.  Fill
 * it with usage_collect() (once for a body, once per event for a stream:
 * later values replace earlier ones field by field, which is what every
 * provider's stream means), then usage_normalise().
 */
struct usage_raw {
	uint64_t	present;
	int64_t		v[56];
	uint32_t	flags;
	uint8_t		hint;		/* shape implied by an event type, or AUTO */
	uint8_t		tier;
	uint8_t		tier_known;
	uint8_t		batch;
	uint8_t		speed_fast;
	uint8_t		geo_us;
	uint8_t		has_cost;
	uint8_t		unknown_tier;
	int64_t		cost;
	char		model[128];
};

void usage_raw_init(struct usage_raw *r);

/*
 * Collects one JSON object: a whole response body, one stream event's data,
 * or a bare usage object.  Returns 0, or -1 with a message and the byte
 * offset of the problem in err / *err_at for malformed JSON.
 */
int usage_collect(struct usage_raw *r, const char *json, size_t len,
    char *err, size_t errlen, size_t *err_at);

/*
 * Whether a stream event's data may hold usage worth collecting: 0 only when
 * it certainly holds none, because no key in it names usage ("usage",
 * "usageMetadata", "billed_units") or every such key is "usage": null, as in
 * all but the last chunk of an OpenAI stream.  A cheap test, so that a
 * stream's chunks are not parsed one by one for nothing.
 */
int usage_maybe_in(const char *json, size_t len);

/* Builds the canonical usage from what was collected; shape AUTO detects it. */
void usage_normalise(const struct usage_raw *r, enum usage_shape shape,
    struct usage *out);

#endif
