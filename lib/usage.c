/*
 * Usage collection (one pass over a body or an event, skipping everything
 * that is not usage) and normalisation per provider shape.  Pure functions,
 * run by workers on every response and by tollctl.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "money.h"
#include "pricemap.h"
#include "usage.h"

/* Raw fields, named after the provider's key (and its enclosing object). */
enum raw {
	R_PROMPT, R_COMPLETION, R_TOTAL, R_INPUT, R_OUTPUT,
	R_CACHE_READ_INPUT, R_CACHE_CREATION_INPUT, R_CACHE_CREATION_TOKENS,
	R_EPH_5M, R_EPH_1H,
	R_DET_CACHED, R_DET_CACHE_WRITE, R_DET_AUDIO_IN, R_DET_IMAGE_IN,
	R_DET_REASONING, R_DET_AUDIO_OUT, R_DET_IMAGE_OUT,
	R_TOP_CACHED, R_TOP_REASONING, R_XAI_CACHED, R_HIT, R_MISS,
	R_G_PROMPT, R_G_CANDIDATES, R_G_TOTAL, R_G_CACHED, R_G_THOUGHTS, R_G_TOOL,
	R_G_PROMPT_AUDIO, R_G_PROMPT_IMAGE, R_G_CACHE_AUDIO, R_G_CACHE_IMAGE,
	R_G_OUT_AUDIO, R_G_OUT_IMAGE,
	R_B_INPUT, R_B_OUTPUT, R_B_TOTAL, R_B_CACHE_READ, R_B_CACHE_WRITE,
	R_B_WRITE_5M, R_B_WRITE_1H,
	R_BILLED_IN, R_BILLED_OUT, R_SEARCH, R_DURATION_MS, R_ITERATIONS, R_G_GROUNDED,
	R_COUNT
};

_Static_assert(R_COUNT <= 56, "usage_raw.v is too small");

#define HAS(r, f)	(((r)->present >> (f)) & 1)
#define GET(r, f)	(HAS(r, f) ? (r)->v[f] : 0)

/* What a key means in its enclosing object. */
enum ctx { CTX_TOP, CTX_DET_IN, CTX_DET_OUT, CTX_CACHE_CREATION, CTX_SERVER_TOOL,
	CTX_BILLED, CTX_COUNT };

enum action {
	A_COUNT = 1,		/* a token count into field */
	A_OBJECT,		/* descend with another context (field holds it) */
	A_ENVELOPE,		/* descend with the same context (response, message, ...) */
	A_MODEL, A_TIER, A_TRAFFIC, A_TYPE, A_SPEED, A_GEO, A_COST, A_COST_TICKS, A_SECONDS, A_OUTPUT_ITEMS,
	A_MODALITY_PROMPT, A_MODALITY_CACHE, A_MODALITY_OUT, A_CACHE_DETAILS, A_ITERATIONS,
	A_CANDIDATES,
};

struct key_rule {
	uint8_t		ctx;
	uint8_t		action;
	uint8_t		field;
	const char	*name;
};

static const struct key_rule key_rules[] = {
	{ CTX_TOP, A_OBJECT, CTX_TOP, "usage" },
	{ CTX_TOP, A_OBJECT, CTX_TOP, "usageMetadata" },
	{ CTX_TOP, A_OBJECT, CTX_TOP, "meta" },
	{ CTX_TOP, A_ENVELOPE, 0, "response" },
	{ CTX_TOP, A_ENVELOPE, 0, "message" },
	{ CTX_TOP, A_ENVELOPE, 0, "payload" },
	{ CTX_TOP, A_MODEL, 0, "model" },
	{ CTX_TOP, A_MODEL, 0, "modelVersion" },
	{ CTX_TOP, A_TIER, 0, "service_tier" },
	{ CTX_TOP, A_TIER, 0, "serviceTier" },
	{ CTX_TOP, A_TRAFFIC, 0, "trafficType" },
	{ CTX_TOP, A_TYPE, 0, "type" },
	{ CTX_TOP, A_SPEED, 0, "speed" },
	{ CTX_TOP, A_GEO, 0, "inference_geo" },
	/* what the provider says it charged: OpenRouter's usage.cost, DeepInfra's
	 * usage.estimated_cost (USD), xAI's usage.cost_in_usd_ticks (1e-10 USD) */
	{ CTX_TOP, A_COST, 0, "cost" },
	{ CTX_TOP, A_COST, 0, "estimated_cost" },
	{ CTX_TOP, A_COST_TICKS, 0, "cost_in_usd_ticks" },
	/* OpenAI Responses: each web_search_call item of output is a search billed per call */
	{ CTX_TOP, A_OUTPUT_ITEMS, 0, "output" },
	{ CTX_TOP, A_SECONDS, 0, "seconds" },
	/* OpenAI chat/completions and compatible */
	{ CTX_TOP, A_COUNT, R_PROMPT, "prompt_tokens" },
	{ CTX_TOP, A_COUNT, R_COMPLETION, "completion_tokens" },
	{ CTX_TOP, A_COUNT, R_TOTAL, "total_tokens" },
	{ CTX_TOP, A_OBJECT, CTX_DET_IN, "prompt_tokens_details" },
	{ CTX_TOP, A_OBJECT, CTX_DET_OUT, "completion_tokens_details" },
	{ CTX_TOP, A_COUNT, R_CACHE_CREATION_TOKENS, "cache_creation_tokens" },
	{ CTX_TOP, A_COUNT, R_TOP_CACHED, "cached_tokens" },
	{ CTX_TOP, A_COUNT, R_HIT, "prompt_cache_hit_tokens" },
	{ CTX_TOP, A_COUNT, R_MISS, "prompt_cache_miss_tokens" },
	{ CTX_TOP, A_COUNT, R_TOP_REASONING, "reasoning_tokens" },
	{ CTX_TOP, A_COUNT, R_XAI_CACHED, "cached_prompt_text_tokens" },
	/* Responses, Anthropic */
	{ CTX_TOP, A_COUNT, R_INPUT, "input_tokens" },
	{ CTX_TOP, A_COUNT, R_OUTPUT, "output_tokens" },
	{ CTX_TOP, A_OBJECT, CTX_DET_IN, "input_tokens_details" },
	{ CTX_TOP, A_OBJECT, CTX_DET_IN, "input_token_details" },
	{ CTX_TOP, A_OBJECT, CTX_DET_OUT, "output_tokens_details" },
	{ CTX_TOP, A_COUNT, R_CACHE_READ_INPUT, "cache_read_input_tokens" },
	{ CTX_TOP, A_COUNT, R_CACHE_CREATION_INPUT, "cache_creation_input_tokens" },
	{ CTX_TOP, A_OBJECT, CTX_CACHE_CREATION, "cache_creation" },
	{ CTX_TOP, A_OBJECT, CTX_SERVER_TOOL, "server_tool_use" },
	{ CTX_TOP, A_ITERATIONS, 0, "iterations" },
	/* Gemini */
	{ CTX_TOP, A_COUNT, R_G_PROMPT, "promptTokenCount" },
	{ CTX_TOP, A_COUNT, R_G_CANDIDATES, "candidatesTokenCount" },
	{ CTX_TOP, A_COUNT, R_G_TOTAL, "totalTokenCount" },
	{ CTX_TOP, A_COUNT, R_G_CACHED, "cachedContentTokenCount" },
	{ CTX_TOP, A_COUNT, R_G_THOUGHTS, "thoughtsTokenCount" },
	{ CTX_TOP, A_COUNT, R_G_TOOL, "toolUsePromptTokenCount" },
	{ CTX_TOP, A_MODALITY_PROMPT, 0, "promptTokensDetails" },
	{ CTX_TOP, A_MODALITY_CACHE, 0, "cacheTokensDetails" },
	{ CTX_TOP, A_MODALITY_OUT, 0, "candidatesTokensDetails" },
	{ CTX_TOP, A_CANDIDATES, 0, "candidates" },
	/* Bedrock Converse */
	{ CTX_TOP, A_COUNT, R_B_INPUT, "inputTokens" },
	{ CTX_TOP, A_COUNT, R_B_OUTPUT, "outputTokens" },
	{ CTX_TOP, A_COUNT, R_B_TOTAL, "totalTokens" },
	{ CTX_TOP, A_COUNT, R_B_CACHE_READ, "cacheReadInputTokens" },
	{ CTX_TOP, A_COUNT, R_B_CACHE_WRITE, "cacheWriteInputTokens" },
	{ CTX_TOP, A_CACHE_DETAILS, 0, "cacheDetails" },
	/* Cohere */
	{ CTX_TOP, A_OBJECT, CTX_BILLED, "billed_units" },
	{ CTX_BILLED, A_COUNT, R_BILLED_IN, "input_tokens" },
	{ CTX_BILLED, A_COUNT, R_BILLED_OUT, "output_tokens" },
	/* details objects */
	{ CTX_DET_IN, A_COUNT, R_DET_CACHED, "cached_tokens" },
	{ CTX_DET_IN, A_COUNT, R_DET_CACHE_WRITE, "cache_write_tokens" },
	{ CTX_DET_IN, A_COUNT, R_DET_CACHE_WRITE, "cache_creation_tokens" },
	{ CTX_DET_IN, A_COUNT, R_DET_AUDIO_IN, "audio_tokens" },
	{ CTX_DET_IN, A_COUNT, R_DET_IMAGE_IN, "image_tokens" },
	{ CTX_DET_OUT, A_COUNT, R_DET_REASONING, "reasoning_tokens" },
	{ CTX_DET_OUT, A_COUNT, R_DET_AUDIO_OUT, "audio_tokens" },
	{ CTX_DET_OUT, A_COUNT, R_DET_IMAGE_OUT, "image_tokens" },
	{ CTX_CACHE_CREATION, A_COUNT, R_EPH_5M, "ephemeral_5m_input_tokens" },
	{ CTX_CACHE_CREATION, A_COUNT, R_EPH_1H, "ephemeral_1h_input_tokens" },
	{ CTX_SERVER_TOOL, A_COUNT, R_SEARCH, "web_search_requests" },
};

#define RULE_SLOTS 256
static uint8_t rule_slot[RULE_SLOTS];	/* rule index + 1 */
static pthread_once_t rule_once = PTHREAD_ONCE_INIT;

/*
 * A hash of a key's length and three of its bytes: constant time, and the
 * table below stays free of long probe chains (the keys differ in those).
 */
static unsigned
rule_hash(unsigned ctx, const char *s, size_t n)
{
	unsigned h;

	if (n == 0)
		return ctx;
	h = (unsigned)n * 131u + (unsigned char)s[0] * 31u +
	    (unsigned char)s[n / 2] * 7u + (unsigned char)s[n - 1] + ctx * 97u;
	return (h ^ (h >> 7)) & (RULE_SLOTS - 1);
}

static void
rules_index(void)
{
	size_t i;

	for (i = 0; i < sizeof(key_rules) / sizeof(key_rules[0]); i++) {
		const struct key_rule *k = &key_rules[i];
		unsigned s = rule_hash(k->ctx, k->name, strlen(k->name));

		while (rule_slot[s])
			s = (s + 1) & (RULE_SLOTS - 1);
		rule_slot[s] = (uint8_t)(i + 1);
	}
}

static const struct key_rule *
rule_find(unsigned ctx, const struct json_text *key)
{
	unsigned s;

	if (key->escaped)
		return NULL;
	for (s = rule_hash(ctx, key->ptr, key->len); rule_slot[s];
	    s = (s + 1) & (RULE_SLOTS - 1)) {
		const struct key_rule *k = &key_rules[rule_slot[s] - 1];

		/* keys are bytes: a NUL inside one must not end the comparison */
		if (k->ctx == ctx && strlen(k->name) == key->len &&
		    memcmp(k->name, key->ptr, key->len) == 0)
			return k;
	}
	return NULL;
}

/* ---- names ---------------------------------------------------------------- */

static const char *const shape_names[USAGE_SHAPE_COUNT] = {
	"auto", "openai", "responses", "anthropic", "gemini", "bedrock", "deepseek",
	"xai", "cohere",
};

static const char *const flag_names[USAGE_FLAG_FLAG_COUNT] = {
	"usage_missing", "cache_exceeds_prompt", "reasoning_outside_completion",
	"negative_count", "fractional_count", "absurd_count", "bad_count",
	"details_exceed_total", "unpriced", "no_cache_price", "tier_fallback",
	"unknown_tier", "no_duration", "iterations_not_in_total",
};

const char *
usage_shape_name(enum usage_shape s)
{
	return (unsigned)s < USAGE_SHAPE_COUNT ? shape_names[s] : "?";
}

int
usage_shape_from_name(const char *name, enum usage_shape *out)
{
	int i;

	for (i = 0; i < USAGE_SHAPE_COUNT; i++)
		if (strcmp(name, shape_names[i]) == 0) {
			*out = (enum usage_shape)i;
			return 0;
		}
	return -1;
}

const char *
usage_flag_name(unsigned bit)
{
	return bit < USAGE_FLAG_FLAG_COUNT ? flag_names[bit] : NULL;
}

int64_t
usage_total_input(const struct usage *u)
{
	return u->input + u->cache_read + u->cache_write_5m + u->cache_write_1h +
	    u->audio_in + u->image_in + u->tool_prompt;
}

void
usage_raw_init(struct usage_raw *r)
{
	memset(r, 0, sizeof(*r));
	pthread_once(&rule_once, rules_index);
}

/* ---- collection ------------------------------------------------------------ */

struct collector {
	struct json_scan	 s;
	struct usage_raw	*r;
};

/* A count: integral, non-negative and plausible, else clamped and flagged. */
static int
read_count(struct collector *c, int64_t *out, int *present)
{
	struct json_text t;
	enum json_type type;
	int64_t v = 0;
	size_t i;

	*present = 0;
	type = json_peek(&c->s);
	if (type == JSON_OBJECT || type == JSON_ARRAY) {
		c->r->flags |= USAGE_FLAG_BAD_COUNT;
		return json_skip(&c->s);
	}
	if (json_scalar(&c->s, &type, &t) < 0)
		return -1;
	if (type == JSON_NULL)
		return 0;
	if (type != JSON_NUMBER && type != JSON_STRING) {
		c->r->flags |= USAGE_FLAG_BAD_COUNT;
		return 0;
	}
	for (i = 0; i < t.len && t.ptr[i] >= '0' && t.ptr[i] <= '9' && i < 18; i++)
		v = v * 10 + (t.ptr[i] - '0');
	if (i != t.len || i == 0) {
		int inexact = 0, neg = t.len > 0 && t.ptr[0] == '-';

		if (money_parse_decimal_ex(t.ptr, t.len, 0, 1, &v, &inexact) < 0) {
			/* a valid JSON number beyond int64; anything else is no count */
			if (type != JSON_NUMBER) {
				c->r->flags |= USAGE_FLAG_BAD_COUNT;
				return 0;
			}
			v = neg ? -1 : USAGE_MAX_COUNT + 1;
		}
		if (inexact)
			c->r->flags |= USAGE_FLAG_FRACTIONAL_COUNT;
		if (neg && inexact && v == 0)
			v = -1;		/* -0.5 is negative too */
	}
	if (v < 0) {
		c->r->flags |= USAGE_FLAG_NEGATIVE_COUNT;
		v = 0;
	}
	if (v > USAGE_MAX_COUNT) {
		c->r->flags |= USAGE_FLAG_ABSURD_COUNT;
		v = USAGE_MAX_COUNT;
	}
	*out = v;
	*present = 1;
	return 0;
}

static void
set_field(struct usage_raw *r, unsigned f, int64_t v)
{
	r->v[f] = v;
	r->present |= 1ULL << f;
}

static int
read_string(struct collector *c, char *dst, size_t dstlen)
{
	struct json_text t;
	enum json_type type;

	dst[0] = '\0';
	if (json_peek(&c->s) == JSON_OBJECT || json_peek(&c->s) == JSON_ARRAY)
		return json_skip(&c->s);
	if (json_scalar(&c->s, &type, &t) < 0)
		return -1;
	if (type != JSON_STRING)
		return 0;
	if (!t.escaped && t.len < dstlen) {
		memcpy(dst, t.ptr, t.len);
		dst[t.len] = '\0';
	} else if (json_unescape(&t, dst, dstlen) < 0)
		dst[0] = '\0';
	return 0;
}

static int
ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* A served tier as providers name it ("default", "flex", "ON_DEMAND_FLEX", ...). */
static void
note_tier(struct usage_raw *r, const char *t)
{
	const char *suffix = strrchr(t, '_');

	if (*t == '\0')
		return;
	/* Gemini's trafficType: ON_DEMAND, ON_DEMAND_FLEX, ON_DEMAND_PRIORITY, ... */
	if (strncasecmp(t, "on_demand", 9) == 0 || strncasecmp(t, "provisioned", 11) == 0)
		t = strlen(t) > 9 && strncasecmp(t, "on_demand_", 10) == 0 && suffix ? suffix + 1 :
		    "standard";
	r->tier_known = 1;
	r->unknown_tier = 0;
	if (ieq(t, "default") || ieq(t, "auto") || ieq(t, "standard") || ieq(t, "scale") ||
	    ieq(t, "standard_only") || ieq(t, "on_demand"))
		r->tier = PRICE_TIER_STANDARD;
	else if (ieq(t, "flex"))
		r->tier = PRICE_TIER_FLEX;
	else if (ieq(t, "priority") || ieq(t, "fast"))
		r->tier = PRICE_TIER_PRIORITY;
	else if (ieq(t, "ultrafast"))
		r->tier = PRICE_TIER_ULTRAFAST;
	else if (ieq(t, "batch")) {
		r->tier = PRICE_TIER_STANDARD;
		r->batch = 1;
	} else {
		r->tier = PRICE_TIER_STANDARD;
		r->tier_known = 0;
		r->unknown_tier = 1;
	}
}

/*
 * A list of {label, count} objects summed into two fields by label: Gemini's
 * [{modality, tokenCount}] (AUDIO, IMAGE; other modalities stay text) and
 * Bedrock's cacheDetails [{ttl, inputTokens}] (5m, 1h; 5m when unsaid).
 * dflt is the bucket of an unknown or missing label, -1 for none.  Each list
 * restates the whole breakdown, so the fields are replaced, never added to.
 */
static int
collect_labelled(struct collector *c, const char *label_key, const char *count_key,
    const char *label0, const char *label1, int dflt, unsigned field0, unsigned field1)
{
	struct json_text key, v;
	enum json_type type;
	int64_t sums[2] = { 0, 0 };
	int r, present;

	if (json_peek(&c->s) != JSON_ARRAY)
		return json_skip(&c->s);
	if (json_array_begin(&c->s) < 0)
		return -1;
	while ((r = json_next_item(&c->s)) > 0) {
		int which = dflt;
		int64_t n = 0;

		if (json_peek(&c->s) != JSON_OBJECT) {
			if (json_skip(&c->s) < 0)
				return -1;
			continue;
		}
		if (json_object_begin(&c->s) < 0)
			return -1;
		while ((r = json_next_key(&c->s, &key)) > 0) {
			if (json_text_is(&key, label_key) && json_peek(&c->s) == JSON_STRING) {
				if (json_scalar(&c->s, &type, &v) < 0)
					return -1;
				which = json_text_is(&v, label0) ? 0 : json_text_is(&v, label1) ? 1 : dflt;
			} else if (json_text_is(&key, count_key)) {
				if (read_count(c, &n, &present) < 0)
					return -1;
			} else if (json_skip(&c->s) < 0)
				return -1;
		}
		if (r < 0)
			return -1;
		if (which >= 0)
			sums[which] += n;
	}
	if (r < 0)
		return -1;
	set_field(c->r, field0, sums[0]);
	set_field(c->r, field1, sums[1]);
	return 0;
}

/*
 * Walks an array of objects, calling fn for each key of each object with the
 * scanner at its value, which fn consumes (or skips); anything else in the
 * array is skipped.  0; 1 when the value was not an array (skipped); -1.
 */
static int
each_item_key(struct collector *c, int (*fn)(struct collector *, const struct json_text *, void *),
    void *arg)
{
	struct json_text key;
	int r;

	if (json_peek(&c->s) != JSON_ARRAY)
		return json_skip(&c->s) < 0 ? -1 : 1;
	if (json_array_begin(&c->s) < 0)
		return -1;
	while ((r = json_next_item(&c->s)) > 0) {
		if (json_peek(&c->s) != JSON_OBJECT) {
			if (json_skip(&c->s) < 0)
				return -1;
			continue;
		}
		if (json_object_begin(&c->s) < 0)
			return -1;
		while ((r = json_next_key(&c->s, &key)) > 0)
			if (fn(c, &key, arg) < 0)
				return -1;
		if (r < 0)
			return -1;
	}
	return r < 0 ? -1 : 0;
}

/* One key of a pass of usage.iterations: its counts added to *total. */
static int
iteration_key(struct collector *c, const struct json_text *key, void *arg)
{
	static const char *const keys[] = { "input_tokens", "output_tokens",
		"cache_read_input_tokens", "cache_creation_input_tokens" };
	int64_t *total = arg, n;
	int present;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_text_is(key, keys[i]))
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return json_skip_fast(&c->s);
	if (read_count(c, &n, &present) < 0)
		return -1;
	if (present)
		*total += n;
	return 0;
}

/*
 * Anthropic's usage.iterations: every model pass of the request (compaction,
 * advisor calls on other models, ...).  The top-level counts are what is
 * priced; the sum of all passes is kept to notice when it is larger, i.e.
 * when some pass is billed outside the top-level figures.
 */
static int
collect_iterations(struct collector *c)
{
	int64_t total = 0;
	int rc = each_item_key(c, iteration_key, &total);

	if (rc == 0)
		set_field(c->r, R_ITERATIONS, total);
	return rc < 0 ? -1 : 0;
}

/* One key of an output item: a web_search_call type counted in *searches. */
static int
output_item_key(struct collector *c, const struct json_text *key, void *arg)
{
	int64_t *searches = arg;
	char type[32];

	if (!json_text_is(key, "type"))
		return json_skip_fast(&c->s);
	if (read_string(c, type, sizeof(type)) < 0)
		return -1;
	*searches += strcmp(type, "web_search_call") == 0;
	return 0;
}

/*
 * OpenAI Responses' output items: the web_search_call ones counted as search
 * queries (another key's "output", an object or a string, is not this).
 */
/*
 * Gemini's grounding with Google Search: a candidate's groundingMetadata,
 * with the queries it ran in webSearchQueries.  Billed per grounded prompt
 * or per query, as the price entry says (cost.c); counted here as the
 * queries, and the answer marked grounded.
 */
static int
grounding_key(struct collector *c, const struct json_text *key, void *arg)
{
	struct json_text k;
	int64_t *queries = arg;
	int r;

	if (!json_text_is(key, "groundingMetadata") || json_peek(&c->s) != JSON_OBJECT)
		return json_skip(&c->s);
	if (json_object_begin(&c->s) < 0)
		return -1;
	set_field(c->r, R_G_GROUNDED, 1);
	while ((r = json_next_key(&c->s, &k)) > 0) {
		if (!json_text_is(&k, "webSearchQueries") || json_peek(&c->s) != JSON_ARRAY) {
			if (json_skip(&c->s) < 0)
				return -1;
			continue;
		}
		if (json_array_begin(&c->s) < 0)
			return -1;
		while ((r = json_next_item(&c->s)) > 0) {
			if (json_skip(&c->s) < 0)
				return -1;
			(*queries)++;
		}
		if (r < 0)
			return -1;
	}
	return r;
}

static int
collect_candidates(struct collector *c)
{
	int64_t queries = 0;
	int rc = each_item_key(c, grounding_key, &queries);

	if (rc == 0 && HAS(c->r, R_G_GROUNDED))
		set_field(c->r, R_SEARCH, queries);
	return rc < 0 ? -1 : 0;
}

static int
collect_output_items(struct collector *c)
{
	int64_t searches = 0;
	int rc = each_item_key(c, output_item_key, &searches);

	if (rc == 0 && searches > 0)
		set_field(c->r, R_SEARCH, searches);
	return rc < 0 ? -1 : 0;
}

static int
collect_object(struct collector *c, unsigned ctx, int depth)
{
	struct usage_raw *r = c->r;
	struct json_text key, t;
	enum json_type type;
	char text[sizeof(((struct usage_raw *)0)->model)];
	int rc, present;
	int64_t v;

	if (json_peek(&c->s) != JSON_OBJECT)
		return json_skip(&c->s);	/* "usage": null and the like */
	if (json_object_begin(&c->s) < 0)
		return -1;
	while ((rc = json_next_key(&c->s, &key)) > 0) {
		const struct key_rule *k = rule_find(ctx, &key);

		if (k == NULL) {
			if (json_skip_fast(&c->s) < 0)
				return -1;
			continue;
		}
		switch (k->action) {
		case A_COUNT:
			if (read_count(c, &v, &present) < 0)
				return -1;
			if (present)
				set_field(r, k->field, v);
			break;
		case A_OBJECT:
			if (collect_object(c, k->field, depth + 1) < 0)
				return -1;
			break;
		case A_OUTPUT_ITEMS:
			if (collect_output_items(c) < 0)
				return -1;
			break;
		case A_ENVELOPE:
			if (depth >= 4) {
				if (json_skip(&c->s) < 0)
					return -1;
			} else if (collect_object(c, ctx, depth + 1) < 0)
				return -1;
			break;
		case A_MODEL:
			if (read_string(c, text, sizeof(text)) < 0)
				return -1;
			if (text[0])
				memcpy(r->model, text, sizeof(text));
			break;
		case A_TIER:
		case A_TRAFFIC:
			if (read_string(c, text, sizeof(text)) < 0)
				return -1;
			note_tier(r, text);
			break;
		case A_TYPE:
			if (read_string(c, text, sizeof(text)) < 0)
				return -1;
			if (strncmp(text, "message", 7) == 0)
				r->hint = USAGE_SHAPE_ANTHROPIC;
			else if (strncmp(text, "response.", 9) == 0 ||
			    strcmp(text, "tokens") == 0 || strcmp(text, "duration") == 0)
				r->hint = USAGE_SHAPE_RESPONSES;
			break;
		case A_SPEED:
			if (read_string(c, text, sizeof(text)) < 0)
				return -1;
			r->speed_fast = strcmp(text, "fast") == 0;
			break;
		case A_GEO:
			if (read_string(c, text, sizeof(text)) < 0)
				return -1;
			r->geo_us = strcmp(text, "us") == 0;
			break;
		case A_COST:
		case A_COST_TICKS:
		case A_SECONDS:
			if (json_peek(&c->s) != JSON_NUMBER) {
				if (json_skip(&c->s) < 0)
					return -1;
				break;
			}
			if (json_scalar(&c->s, &type, &t) < 0)
				return -1;
			if (k->action == A_COST || k->action == A_COST_TICKS) {
				/* a tick is 100 picodollars */
				if (money_parse_decimal(t.ptr, t.len, k->action == A_COST ?
				    MONEY_COST_SCALE : MONEY_COST_SCALE - 10, 0, &v) == 0 && v >= 0) {
					r->cost = v;
					r->has_cost = 1;
				}
			} else if (money_parse_decimal(t.ptr, t.len, 3, 0, &v) == 0) {
				set_field(r, R_DURATION_MS, v);
			} else
				r->flags |= USAGE_FLAG_BAD_COUNT;
			break;
		case A_MODALITY_PROMPT:
		case A_MODALITY_CACHE:
		case A_MODALITY_OUT: {
			static const unsigned fields[][2] = {
				[A_MODALITY_PROMPT - A_MODALITY_PROMPT] = { R_G_PROMPT_AUDIO, R_G_PROMPT_IMAGE },
				[A_MODALITY_CACHE - A_MODALITY_PROMPT] = { R_G_CACHE_AUDIO, R_G_CACHE_IMAGE },
				[A_MODALITY_OUT - A_MODALITY_PROMPT] = { R_G_OUT_AUDIO, R_G_OUT_IMAGE },
			};
			const unsigned *f = fields[k->action - A_MODALITY_PROMPT];

			if (collect_labelled(c, "modality", "tokenCount", "AUDIO", "IMAGE", -1,
			    f[0], f[1]) < 0)
				return -1;
			break;
		}
		case A_ITERATIONS:
			if (collect_iterations(c) < 0)
				return -1;
			break;
		case A_CANDIDATES:
			if (collect_candidates(c) < 0)
				return -1;
			break;
		case A_CACHE_DETAILS:
			if (collect_labelled(c, "ttl", "inputTokens", "5m", "1h", 0,
			    R_B_WRITE_5M, R_B_WRITE_1H) < 0)
				return -1;
			break;
		}
	}
	return rc;
}

int
usage_collect(struct usage_raw *r, const char *json, size_t len, char *err,
    size_t errlen, size_t *err_at)
{
	struct collector c = { .r = r };

	json_init(&c.s, json, len);
	if (json_peek(&c.s) != JSON_OBJECT) {
		json_fail(&c.s, "expected a JSON object");
		goto bad;
	}
	if (collect_object(&c, CTX_TOP, 0) < 0 || json_at_end(&c.s) < 0)
		goto bad;
	return 0;
bad:
	if (err)
		snprintf(err, errlen, "%s", c.s.error ? c.s.error : "malformed JSON");
	if (err_at)
		*err_at = c.s.error_at;
	return -1;
}

/* Whether the "sage" at hit is the key "usage" with the value null. */
static int
usage_is_null_at(const char *json, const char *hit, const char *end)
{
	const char *p = hit + 4;

	if (hit - json < 2 || hit[-1] != 'u' || hit[-2] != '"' || p >= end || *p++ != '"')
		return 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != ':')
		return 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return end - p >= 4 && memcmp(p, "null", 4) == 0;
}

/*
 * memmem for the few needles below, by memchr of one of their rarer bytes
 * (pivot): glibc's memmem costs about ten instructions a byte on a chunk.
 */
static const char *
find_by(const char *p, const char *end, const char *needle, size_t n, size_t pivot)
{
	const char *c = p + pivot;

	while (c < end && (c = memchr(c, needle[pivot], (size_t)(end - c))) != NULL) {
		const char *at = c - pivot;

		if ((size_t)(end - at) < n)
			return NULL;
		if (memcmp(at, needle, n) == 0)
			return at;
		c++;
	}
	return NULL;
}

int
usage_maybe_in(const char *json, size_t len)
{
	const char *p = json, *end = json + len, *hit;

	/* "sage": usage, usageMetadata, and the "message" envelope around one */
	while ((hit = find_by(p, end, "sage", 4, 2)) != NULL) {
		if (!usage_is_null_at(json, hit, end))
			return 1;
		p = hit + 4;
	}
	return find_by(json, end, "billed_units", 12, 0) != NULL;
}

/* ---- normalisation -------------------------------------------------------- */

static enum usage_shape
detect(const struct usage_raw *r)
{
	const uint64_t gemini = 1ULL << R_G_PROMPT | 1ULL << R_G_CANDIDATES |
	    1ULL << R_G_TOTAL | 1ULL << R_G_CACHED | 1ULL << R_G_THOUGHTS | 1ULL << R_G_TOOL;
	const uint64_t bedrock = 1ULL << R_B_INPUT | 1ULL << R_B_OUTPUT |
	    1ULL << R_B_TOTAL | 1ULL << R_B_CACHE_READ | 1ULL << R_B_CACHE_WRITE;
	const uint64_t responses = 1ULL << R_DET_CACHED | 1ULL << R_DET_CACHE_WRITE |
	    1ULL << R_DET_AUDIO_IN | 1ULL << R_DET_IMAGE_IN | 1ULL << R_DET_REASONING |
	    1ULL << R_DET_AUDIO_OUT | 1ULL << R_DET_IMAGE_OUT | 1ULL << R_TOTAL |
	    1ULL << R_DURATION_MS;

	if (r->present & gemini)
		return USAGE_SHAPE_GEMINI;
	if (HAS(r, R_BILLED_IN) || HAS(r, R_BILLED_OUT))
		return USAGE_SHAPE_COHERE;
	if (r->present & bedrock)
		return USAGE_SHAPE_BEDROCK;
	if (HAS(r, R_HIT) || HAS(r, R_MISS))
		return USAGE_SHAPE_DEEPSEEK;
	if (HAS(r, R_TOP_REASONING) || HAS(r, R_XAI_CACHED))
		return USAGE_SHAPE_XAI;
	if (HAS(r, R_PROMPT) || HAS(r, R_COMPLETION))
		return USAGE_SHAPE_OPENAI;
	if (HAS(r, R_INPUT) || HAS(r, R_OUTPUT) || HAS(r, R_DURATION_MS)) {
		if (r->hint == USAGE_SHAPE_ANTHROPIC || r->hint == USAGE_SHAPE_RESPONSES)
			return (enum usage_shape)r->hint;
		return (r->present & responses) ? USAGE_SHAPE_RESPONSES : USAGE_SHAPE_ANTHROPIC;
	}
	return USAGE_SHAPE_AUTO;
}

static int64_t
first_of(const struct usage_raw *r, const unsigned *fields, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (HAS(r, fields[i]))
			return r->v[fields[i]];
	return 0;
}

/* min(a, b) that also reports when a did not fit. */
static int64_t
take(int64_t want, int64_t *avail, uint32_t *flags)
{
	if (want > *avail) {
		*flags |= USAGE_FLAG_DETAILS_EXCEED_TOTAL;
		want = *avail;
	}
	*avail -= want;
	return want;
}

/*
 * OpenAI-style accounting: the prompt includes cache reads, cache writes and
 * audio/image tokens; the completion includes reasoning and audio/image
 * output -- unless the numbers prove a provider left them out.
 */
static void
normalise_inclusive(const struct usage_raw *r, enum usage_shape shape,
    int64_t prompt, int64_t completion, struct usage *u)
{
	static const unsigned cached_keys[] = { R_DET_CACHED, R_CACHE_READ_INPUT,
		R_TOP_CACHED, R_HIT, R_XAI_CACHED };
	static const unsigned write_keys[] = { R_DET_CACHE_WRITE,
		R_CACHE_CREATION_TOKENS, R_CACHE_CREATION_INPUT };
	static const unsigned deepseek_cached[] = { R_HIT, R_DET_CACHED };
	static const unsigned xai_cached[] = { R_XAI_CACHED, R_DET_CACHED };
	int64_t cached, write, uncached, reasoning, total, rest;
	int outside = 0;

	if (shape == USAGE_SHAPE_DEEPSEEK)
		cached = first_of(r, deepseek_cached, 2);
	else if (shape == USAGE_SHAPE_XAI)
		cached = first_of(r, xai_cached, 2);
	else
		cached = first_of(r, cached_keys, sizeof(cached_keys) / sizeof(cached_keys[0]));
	write = first_of(r, write_keys, sizeof(write_keys) / sizeof(write_keys[0]));

	if (cached + write > prompt) {
		/* the prompt was reported without its cache: it is the uncached part */
		u->flags |= USAGE_FLAG_CACHE_EXCEEDS_PROMPT;
		uncached = prompt;
	} else
		uncached = prompt - cached - write;
	u->cache_read = cached;
	if (HAS(r, R_EPH_1H) && r->v[R_EPH_1H] <= write) {
		u->cache_write_1h = r->v[R_EPH_1H];
		u->cache_write_5m = write - u->cache_write_1h;
	} else
		u->cache_write_5m = write;
	u->audio_in = take(GET(r, R_DET_AUDIO_IN), &uncached, &u->flags);
	u->image_in = take(GET(r, R_DET_IMAGE_IN), &uncached, &u->flags);
	u->input = uncached;

	reasoning = HAS(r, R_DET_REASONING) ? r->v[R_DET_REASONING] : GET(r, R_TOP_REASONING);
	total = HAS(r, R_TOTAL) ? r->v[R_TOTAL] : -1;
	if (reasoning > 0) {
		if (total >= 0 && total == prompt + completion + reasoning &&
		    total != prompt + completion)
			outside = 1;
		else if (reasoning > completion)
			outside = 1;
		else if (shape == USAGE_SHAPE_XAI && HAS(r, R_TOP_REASONING) &&
		    !HAS(r, R_DET_REASONING) && total < 0)
			outside = 1;	/* xAI's native usage keeps reasoning apart */
	}
	if (outside && shape != USAGE_SHAPE_XAI)
		u->flags |= USAGE_FLAG_REASONING_OUTSIDE_COMPLETION;
	rest = completion;
	u->reasoning = outside ? reasoning : take(reasoning, &rest, &u->flags);
	u->audio_out = take(GET(r, R_DET_AUDIO_OUT), &rest, &u->flags);
	u->image_out = take(GET(r, R_DET_IMAGE_OUT), &rest, &u->flags);
	u->output = rest;
}

/* Anthropic and Bedrock: input excludes cache reads and writes. */
static void
normalise_exclusive(int64_t input, int64_t read, int64_t write, int has_split,
    int64_t w5, int64_t w1, int64_t output, struct usage *u)
{
	u->input = input;
	u->cache_read = read;
	if (has_split) {
		/* bill the split even when the total says 0; never less than the total */
		u->cache_write_5m = w5;
		u->cache_write_1h = w1;
		if (write > w5 + w1)
			u->cache_write_5m += write - (w5 + w1);
	} else
		u->cache_write_5m = write;
	u->output = output;
}

static void
normalise_gemini(const struct usage_raw *r, struct usage *u)
{
	int64_t prompt = GET(r, R_G_PROMPT), cached = GET(r, R_G_CACHED), uncached, rest;
	int64_t audio, image;

	if (cached > prompt) {
		u->flags |= USAGE_FLAG_CACHE_EXCEEDS_PROMPT;
		uncached = prompt;
	} else
		uncached = prompt - cached;
	/* per modality, what was not served from cache; never below 0 */
	audio = GET(r, R_G_PROMPT_AUDIO) - GET(r, R_G_CACHE_AUDIO);
	image = GET(r, R_G_PROMPT_IMAGE) - GET(r, R_G_CACHE_IMAGE);
	u->audio_in = take(audio > 0 ? audio : 0, &uncached, &u->flags);
	u->image_in = take(image > 0 ? image : 0, &uncached, &u->flags);
	u->input = uncached;
	u->cache_read = cached;
	u->tool_prompt = GET(r, R_G_TOOL);
	rest = GET(r, R_G_CANDIDATES);
	u->audio_out = take(GET(r, R_G_OUT_AUDIO), &rest, &u->flags);
	u->image_out = take(GET(r, R_G_OUT_IMAGE), &rest, &u->flags);
	u->output = rest;
	u->reasoning = GET(r, R_G_THOUGHTS);	/* outside candidates, billed as output */
}

void
usage_normalise(const struct usage_raw *r, enum usage_shape shape, struct usage *u)
{
	int64_t prompt;

	memset(u, 0, sizeof(*u));
	u->duration_ms = HAS(r, R_DURATION_MS) ? r->v[R_DURATION_MS] : -1;
	u->flags = r->flags;
	u->tier = r->tier;
	u->tier_known = r->tier_known;
	u->batch = r->batch;
	u->speed_fast = r->speed_fast;
	u->geo_us = r->geo_us;
	u->has_provider_cost = r->has_cost;
	u->provider_cost = r->cost;
	if (r->unknown_tier)
		u->flags |= USAGE_FLAG_UNKNOWN_TIER;
	memcpy(u->model, r->model, sizeof(u->model));
	if (shape == USAGE_SHAPE_AUTO)
		shape = detect(r);
	u->shape = shape;
	u->search_queries = GET(r, R_SEARCH);
	u->grounded = HAS(r, R_G_GROUNDED);

	switch (shape) {
	case USAGE_SHAPE_AUTO:
		u->flags |= USAGE_FLAG_USAGE_MISSING;
		break;
	case USAGE_SHAPE_OPENAI:
	case USAGE_SHAPE_XAI:
	case USAGE_SHAPE_DEEPSEEK:
		prompt = GET(r, R_PROMPT);
		if (!HAS(r, R_PROMPT) && (HAS(r, R_HIT) || HAS(r, R_MISS)))
			prompt = GET(r, R_HIT) + GET(r, R_MISS);
		if (!HAS(r, R_PROMPT) && !HAS(r, R_COMPLETION) && !HAS(r, R_HIT))
			u->flags |= USAGE_FLAG_USAGE_MISSING;
		normalise_inclusive(r, shape, prompt, GET(r, R_COMPLETION), u);
		break;
	case USAGE_SHAPE_RESPONSES:
		if (!HAS(r, R_INPUT) && !HAS(r, R_OUTPUT) && !HAS(r, R_DURATION_MS))
			u->flags |= USAGE_FLAG_USAGE_MISSING;
		normalise_inclusive(r, shape, GET(r, R_INPUT), GET(r, R_OUTPUT), u);
		break;
	case USAGE_SHAPE_ANTHROPIC:
		if (!HAS(r, R_INPUT) && !HAS(r, R_OUTPUT))
			u->flags |= USAGE_FLAG_USAGE_MISSING;
		normalise_exclusive(GET(r, R_INPUT), GET(r, R_CACHE_READ_INPUT),
		    GET(r, R_CACHE_CREATION_INPUT), HAS(r, R_EPH_5M) || HAS(r, R_EPH_1H),
		    GET(r, R_EPH_5M), GET(r, R_EPH_1H), GET(r, R_OUTPUT), u);
		/* passes (compaction, advisors) that the top-level counts leave out */
		if (GET(r, R_ITERATIONS) > u->input + u->cache_read + u->cache_write_5m +
		    u->cache_write_1h + u->output)
			u->flags |= USAGE_FLAG_ITERATIONS_NOT_IN_TOTAL;
		break;
	case USAGE_SHAPE_BEDROCK:
		if (!HAS(r, R_B_INPUT) && !HAS(r, R_B_OUTPUT))
			u->flags |= USAGE_FLAG_USAGE_MISSING;
		normalise_exclusive(GET(r, R_B_INPUT), GET(r, R_B_CACHE_READ),
		    GET(r, R_B_CACHE_WRITE), HAS(r, R_B_WRITE_5M) || HAS(r, R_B_WRITE_1H),
		    GET(r, R_B_WRITE_5M), GET(r, R_B_WRITE_1H), GET(r, R_B_OUTPUT), u);
		break;
	case USAGE_SHAPE_GEMINI:
		if (!HAS(r, R_G_PROMPT) && !HAS(r, R_G_CANDIDATES))
			u->flags |= USAGE_FLAG_USAGE_MISSING;
		normalise_gemini(r, u);
		break;
	case USAGE_SHAPE_COHERE:
		if (!HAS(r, R_BILLED_IN) && !HAS(r, R_BILLED_OUT))
			u->flags |= USAGE_FLAG_USAGE_MISSING;
		u->input = GET(r, R_BILLED_IN);
		u->output = GET(r, R_BILLED_OUT);
		break;
	case USAGE_SHAPE_COUNT:
		break;
	}
}
