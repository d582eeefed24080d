/*
 * Price map loading (JSON and YAML front-ends sharing one builder), the
 * compiler to the flat table, and lookup.  Loading runs in the master (and
 * tollctl); lookup runs anywhere the table is mapped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yaml.h>

#include "buf.h"
#include "json.h"
#include "money.h"
#include "pricemap.h"
#include "timeparse.h"

struct bentry {
	uint32_t	name, base_model, provider, mode, source;
	uint32_t	rates, nrates, ranges, nranges;
	uint32_t	max_output, max_tokens;	/* max_output_tokens, max_tokens; 0: not given */
	uint32_t	max_input;	/* max_input_tokens; 0: not given */
	int64_t		mult_us, mult_fast;
	uint8_t		native_json;	/* supports_native_structured_output: 0 not given, 1 yes, 2 no */
	uint8_t		per_query;	/* web_search_billing_unit: per_query */
	uint8_t		dated;		/* effective_from given: */
	uint8_t		bad_date;	/* ...but not a date: the entry is dropped */
	int64_t		effective_s;
	uint32_t	older;		/* the version before it: entry index + 1, 0 none */
};

struct unknown_field {
	uint32_t	name;		/* field name, in strings */
	uint32_t	model;		/* first model that had it */
	uint32_t	source;
	uint32_t	count;
};

struct pricemap_builder {
	struct buf		 strings;	/* NUL-separated; offset 0 is "" */
	struct bentry		*entries;
	size_t			 nentries, capentries;
	uint32_t		*index;		/* entry + 1 by name hash */
	size_t			 nindex;	/* slots, power of two */
	size_t			 live;		/* models */
	size_t			 versions;	/* their versions, in all */
	struct price_rate	*rates;
	size_t			 nrates, caprates;
	struct price_range	*ranges;
	size_t			 nranges, capranges;
	struct unknown_field	*unknown;
	size_t			 nunknown, capunknown;
	struct buf		 warnings;	/* per-field findings */
	struct buf		 report;	/* warnings + unknown-field summary */
	/* the entry being built */
	struct bentry		 cur;
	uint32_t		 source;
	const char		*source_name;
};

/* ---- field names -------------------------------------------------------- */

static const char *const kind_field[PRICE_KIND_COUNT] = {
	[PRICE_INPUT]		  = "input_cost_per_token",
	[PRICE_OUTPUT]		  = "output_cost_per_token",
	[PRICE_CACHE_READ]	  = "cache_read_input_token_cost",
	[PRICE_CACHE_HIT]	  = "input_cost_per_token_cache_hit",
	[PRICE_CACHE_WRITE]	  = "cache_creation_input_token_cost",
	[PRICE_CACHE_WRITE_1H]	  = "cache_creation_input_token_cost_above_1hr",
	[PRICE_REASONING]	  = "output_cost_per_reasoning_token",
	[PRICE_AUDIO_IN]	  = "input_cost_per_audio_token",
	[PRICE_AUDIO_OUT]	  = "output_cost_per_audio_token",
	[PRICE_IMAGE_IN]	  = "input_cost_per_image_token",
	[PRICE_IMAGE_OUT]	  = "output_cost_per_image_token",
	[PRICE_INPUT_PER_SECOND]  = "input_cost_per_second",
	[PRICE_OUTPUT_PER_SECOND] = "output_cost_per_second",
	[PRICE_PER_REQUEST]	  = "input_cost_per_request",
	[PRICE_SEARCH_LOW]	  = "search_context_size_low",
	[PRICE_SEARCH_MEDIUM]	  = "search_context_size_medium",
	[PRICE_SEARCH_HIGH]	  = "search_context_size_high",
};

static const char *const tier_suffix[PRICE_TIER_COUNT] = {
	[PRICE_TIER_STANDARD]	= "",
	[PRICE_TIER_FLEX]	= "_flex",
	[PRICE_TIER_PRIORITY]	= "_priority",
	[PRICE_TIER_ULTRAFAST]	= "_ultrafast",
};

const char *
price_kind_name(enum price_kind k)
{
	return (unsigned)k < PRICE_KIND_COUNT ? kind_field[k] : "?";
}

const char *
price_tier_name(enum price_tier t)
{
	static const char *const names[] = { "standard", "flex", "priority", "ultrafast" };
	return (unsigned)t < PRICE_TIER_COUNT ? names[t] : "?";
}

int
price_tier_from_name(const char *name, int *tier)
{
	static const struct { const char *name; int tier; } tiers[] = {
		{ "standard", PRICE_TIER_STANDARD }, { "default", PRICE_TIER_STANDARD },
		{ "flex", PRICE_TIER_FLEX }, { "priority", PRICE_TIER_PRIORITY },
		{ "fast", PRICE_TIER_PRIORITY }, { "ultrafast", PRICE_TIER_ULTRAFAST },
	};
	size_t i;

	for (i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
		if (strcmp(name, tiers[i].name) == 0) {
			*tier = tiers[i].tier;
			return 0;
		}
	return -1;
}

/* Fields that are understood and deliberately not prices (capabilities, limits). */
static const char *const nonprice_field[] = {
	"bedrock_converse_supports_strict_tools", "bedrock_output_config_effort_ceiling",
	"comment", "deprecation_date", "gemini_audio_only_live", "gemini_native_audio",
	"max_input_tokens", "max_output_tokens", "max_tokens", "metadata",
	"output_vector_size", "prompt_cache_min_tokens", "rpm", "rules", "source",
	"tpm", "use_openai_responses_path", "uses_embed_content",
	"audio_transcription_config",
};

static int
has_suffix(const char *s, size_t n, const char *suf, size_t *rest)
{
	size_t m = strlen(suf);

	if (n < m || memcmp(s + n - m, suf, m) != 0)
		return 0;
	*rest = n - m;
	return 1;
}

/*
 * Splits a price field name into kind, tier, batch and threshold:
 *   <kind>[_above_<N>k_tokens][_flex|_priority|_ultrafast] or <kind>_batches.
 * Returns 0, or -1 when the name is not a price tollgate applies.
 */
static int
parse_price_field(const char *s, size_t n, struct price_rate *r)
{
	size_t rest;
	int t, k;

	memset(r, 0, sizeof(*r));
	if (has_suffix(s, n, "_batches", &rest)) {
		r->batch = 1;
		n = rest;
	} else {
		for (t = PRICE_TIER_COUNT - 1; t > 0; t--)
			if (has_suffix(s, n, tier_suffix[t], &rest)) {
				r->tier = (uint8_t)t;
				n = rest;
				break;
			}
	}
	if (has_suffix(s, n, "k_tokens", &rest)) {
		size_t i = rest;
		uint64_t v = 0, mul = 1;

		while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9' && mul < 100000000) {
			v += (uint64_t)(s[i - 1] - '0') * mul;
			mul *= 10;
			i--;
		}
		if (i == rest || i < 7 || memcmp(s + i - 7, "_above_", 7) != 0)
			return -1;
		r->above = (uint32_t)(v * 1000);
		n = i - 7;
	}
	for (k = 0; k < PRICE_SEARCH_LOW; k++)
		if (strlen(kind_field[k]) == n && memcmp(s, kind_field[k], n) == 0) {
			r->kind = (uint8_t)k;
			return 0;
		}
	return -1;
}

static int
is_nonprice_field(const char *s, size_t n)
{
	size_t i;

	if ((n > 9 && memcmp(s, "supports_", 9) == 0) ||
	    (n > 10 && memcmp(s, "supported_", 10) == 0))
		return 1;
	for (i = 0; i < sizeof(nonprice_field) / sizeof(nonprice_field[0]); i++)
		if (strlen(nonprice_field[i]) == n && memcmp(s, nonprice_field[i], n) == 0)
			return 1;
	return 0;
}

/* ---- strings and the name index ---------------------------------------- */

static uint64_t
hash_name(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static int
intern(struct pricemap_builder *b, const char *s, size_t n, uint32_t *off)
{
	if (n == 0) {
		*off = 0;
		return 0;
	}
	if (b->strings.len + n + 1 > UINT32_MAX)
		return -1;
	*off = (uint32_t)b->strings.len;
	if (buf_append(&b->strings, s, n) < 0 || buf_append(&b->strings, "", 1) < 0)
		return -1;
	return 0;
}

static const char *
bstr(const struct pricemap_builder *b, uint32_t off)
{
	return b->strings.data + off;
}

static uint32_t *
index_slot(struct pricemap_builder *b, const char *name, size_t n)
{
	size_t mask = b->nindex - 1, i = hash_name(name, n) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t e = b->index[i];
		const char *en;

		if (e == 0)
			return &b->index[i];
		en = bstr(b, b->entries[e - 1].name);
		if (strlen(en) == n && memcmp(en, name, n) == 0)
			return &b->index[i];
	}
}

static int
index_grow(struct pricemap_builder *b)
{
	uint32_t *old = b->index;
	size_t oldn = b->nindex, i;

	b->nindex = oldn ? oldn * 2 : 1024;
	if ((b->index = calloc(b->nindex, sizeof(*b->index))) == NULL) {
		b->index = old;
		b->nindex = oldn;
		return -1;
	}
	for (i = 0; i < oldn; i++)
		if (old[i]) {
			const char *n = bstr(b, b->entries[old[i] - 1].name);
			*index_slot(b, n, strlen(n)) = old[i];
		}
	free(old);
	return 0;
}

struct pricemap_builder *
pricemap_builder_new(void)
{
	struct pricemap_builder *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	if (buf_append(&b->strings, "", 1) < 0 || index_grow(b) < 0) {
		pricemap_builder_free(b);
		return NULL;
	}
	return b;
}

void
pricemap_builder_free(struct pricemap_builder *b)
{
	if (b == NULL)
		return;
	buf_release(&b->strings);
	buf_release(&b->warnings);
	buf_release(&b->report);
	free(b->entries);
	free(b->index);
	free(b->rates);
	free(b->ranges);
	free(b->unknown);
	free(b);
}

size_t
pricemap_count(const struct pricemap_builder *b)
{
	return b->live;
}

/* ---- building one entry ------------------------------------------------- */

static int
entry_begin(struct pricemap_builder *b, const char *name, size_t n)
{
	memset(&b->cur, 0, sizeof(b->cur));
	b->cur.rates = (uint32_t)b->nrates;
	b->cur.ranges = (uint32_t)b->nranges;
	b->cur.source = b->source;
	return intern(b, name, n, &b->cur.name);
}

/* Whether version a comes into force after version b (an undated one: from the start). */
static int
later(const struct bentry *a, const struct bentry *b)
{
	return a->dated && (!b->dated || a->effective_s > b->effective_s);
}

/*
 * Commits the entry being built.  Its model's versions are chained newest
 * first from the index; one of the same date (or undated, as it) is
 * replaced, any other kept.
 */
static int
entry_end(struct pricemap_builder *b)
{
	const char *name = bstr(b, b->cur.name);
	uint32_t *slot, *link, self;

	if (b->cur.bad_date) {	/* its rates go with it */
		b->nrates = b->cur.rates;
		b->nranges = b->cur.ranges;
		return 0;
	}
	if ((b->live + 1) * 2 > b->nindex && index_grow(b) < 0)
		return -1;
	if (ARRAY_GROW(b->entries, b->nentries, b->capentries) < 0)
		return -1;
	self = (uint32_t)b->nentries + 1;
	b->entries[b->nentries++] = b->cur;
	slot = index_slot(b, name, strlen(name));
	if (*slot == 0)
		b->live++;
	for (link = slot; *link != 0; link = &b->entries[*link - 1].older) {
		struct bentry *o = &b->entries[*link - 1];

		if (o->dated == b->cur.dated && (!o->dated || o->effective_s == b->cur.effective_s)) {
			b->entries[self - 1].older = o->older;	/* the same version: replaced */
			*link = self;
			return 0;
		}
		if (later(&b->cur, o))
			break;
	}
	b->entries[self - 1].older = *link;
	*link = self;
	b->versions++;
	return 0;
}

static int
add_rate(struct pricemap_builder *b, const struct price_rate *r)
{
	uint32_t i;

	/* the same field twice in one entry (a duplicate key, a merge): the last wins */
	for (i = 0; i < b->cur.nrates; i++) {
		struct price_rate *o = &b->rates[b->cur.rates + i];

		if (o->kind == r->kind && o->tier == r->tier && o->batch == r->batch &&
		    o->above == r->above && o->range == r->range) {
			*o = *r;
			return 0;
		}
	}
	if (ARRAY_GROW(b->rates, b->nrates, b->caprates) < 0)
		return -1;
	b->rates[b->nrates++] = *r;
	b->cur.nrates++;
	return 0;
}

static int
warn(struct pricemap_builder *b, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
warn(struct pricemap_builder *b, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return buf_printf(&b->warnings, "%s:%d: %s\n", b->source_name, line, msg);
}

static int
note_unknown(struct pricemap_builder *b, const char *key, size_t n)
{
	size_t i;

	for (i = 0; i < b->nunknown; i++) {
		const char *u = bstr(b, b->unknown[i].name);
		if (strlen(u) == n && memcmp(u, key, n) == 0) {
			b->unknown[i].count++;
			return 0;
		}
	}
	if (ARRAY_GROW(b->unknown, b->nunknown, b->capunknown) < 0)
		return -1;
	b->unknown[b->nunknown].count = 1;
	b->unknown[b->nunknown].model = b->cur.name;
	b->unknown[b->nunknown].source = b->source;
	return intern(b, key, n, &b->unknown[b->nunknown++].name);
}

/* A token limit (a whole number; anything else is left unknown, as 0). */
static int
entry_limit(struct pricemap_builder *b, uint32_t *dst, const char *val, size_t vlen)
{
	uint64_t x = 0;
	size_t i;

	(void)b;
	for (i = 0; i < vlen && val[i] >= '0' && val[i] <= '9' && x <= UINT32_MAX; i++)
		x = x * 10 + (uint64_t)(val[i] - '0');
	if (vlen > 0 && i == vlen && x <= UINT32_MAX)
		*dst = (uint32_t)x;
	return 0;
}

/* effective_from: a date or date-time (UTC unless it says), never a span back from now. */
static int
entry_effective(struct pricemap_builder *b, const char *val, size_t vlen, int line)
{
	char text[64], err[128];
	int64_t ns;

	if (vlen >= sizeof(text) || vlen < 10 || val[4] != '-')
		goto bad;
	memcpy(text, val, vlen);
	text[vlen] = '\0';
	if (time_parse(text, 0, &ns, err, sizeof(err)) < 0 || ns <= 0)
		goto bad;
	b->cur.dated = 1;
	b->cur.effective_s = ns / 1000000000;
	return 0;
bad:
	b->cur.bad_date = 1;
	return warn(b, line, "model '%s': effective_from '%.*s' is not a date like 2026-01-31 or "
	    "2026-01-31T12:00:00Z (entry ignored)", bstr(b, b->cur.name), (int)(vlen > 40 ? 40 : vlen),
	    val);
}

/*
 * One scalar field of an entry (or of a tiered_pricing range when range > 0).
 * is_string tells a quoted value from a bare one.  Returns -1 only on ENOMEM.
 */
static int
entry_field(struct pricemap_builder *b, const char *key, size_t klen,
    const char *val, size_t vlen, int is_null, uint16_t range, int line)
{
	struct price_rate r;
	uint32_t *strfield = NULL;

	if (klen == 10 && memcmp(key, "base_model", 10) == 0)
		strfield = &b->cur.base_model;
	else if (klen == 16 && memcmp(key, "litellm_provider", 16) == 0)
		strfield = &b->cur.provider;
	else if (klen == 4 && memcmp(key, "mode", 4) == 0)
		strfield = &b->cur.mode;
	if (strfield != NULL)
		return is_null ? 0 : intern(b, val, vlen, strfield);
	if (!range && klen == 33 && memcmp(key, "supports_native_structured_output", 33) == 0) {
		/* whether a JSON answer can be asked for as such, or needs a forced tool */
		b->cur.native_json = is_null ? 0 : (vlen == 4 && strncasecmp(val, "true", 4) == 0) ||
		    (vlen == 3 && strncasecmp(val, "yes", 3) == 0) ? 1 : 2;
		return 0;
	}
	if (!range && klen == 14 && memcmp(key, "effective_from", 14) == 0)
		return is_null ? 0 : entry_effective(b, val, vlen, line);
	if (!range && klen == 23 && memcmp(key, "web_search_billing_unit", 23) == 0) {
		b->cur.per_query = !is_null && vlen == 9 && memcmp(val, "per_query", 9) == 0;
		return 0;
	}
	if (!range && !is_null && klen == 16 && memcmp(key, "max_input_tokens", 16) == 0)
		return entry_limit(b, &b->cur.max_input, val, vlen);
	if (!range && !is_null && ((klen == 17 && memcmp(key, "max_output_tokens", 17) == 0) ||
	    (klen == 10 && memcmp(key, "max_tokens", 10) == 0)))
		return entry_limit(b, klen == 10 ? &b->cur.max_tokens : &b->cur.max_output, val, vlen);
	if (parse_price_field(key, klen, &r) < 0) {
		if (range && klen == 5 && memcmp(key, "range", 5) == 0)
			return 0;
		if (is_nonprice_field(key, klen))
			return 0;
		return note_unknown(b, key, klen);
	}
	if (is_null)
		return 0;
	if (money_parse_decimal(val, vlen, MONEY_PRICE_SCALE, 0, &r.atto) < 0)
		return warn(b, line, "model '%s': field '%.*s': not a price: '%.*s' (ignored)",
		    bstr(b, b->cur.name), (int)klen, key, (int)(vlen > 40 ? 40 : vlen), val);
	r.range = range;
	return add_rate(b, &r);
}

static int
entry_search_price(struct pricemap_builder *b, const char *key, size_t klen,
    const char *val, size_t vlen, int line)
{
	struct price_rate r;
	int k;

	memset(&r, 0, sizeof(r));
	for (k = PRICE_SEARCH_LOW; k <= PRICE_SEARCH_HIGH; k++)
		if (strlen(kind_field[k]) == klen && memcmp(key, kind_field[k], klen) == 0)
			break;
	if (k > PRICE_SEARCH_HIGH)
		return note_unknown(b, key, klen);
	if (money_parse_decimal(val, vlen, MONEY_PRICE_SCALE, 0, &r.atto) < 0)
		return warn(b, line, "model '%s': search price '%.*s' is not a number (ignored)",
		    bstr(b, b->cur.name), (int)klen, key);
	r.kind = (uint8_t)k;
	return add_rate(b, &r);
}

static int
entry_multiplier(struct pricemap_builder *b, const char *key, size_t klen,
    const char *val, size_t vlen, int line)
{
	int64_t *m = NULL, v;

	if (klen == 2 && memcmp(key, "us", 2) == 0)
		m = &b->cur.mult_us;
	else if (klen == 4 && memcmp(key, "fast", 4) == 0)
		m = &b->cur.mult_fast;
	if (m == NULL)
		return 0;	/* other provider-specific settings do not price */
	if (money_parse_decimal(val, vlen, MONEY_MULT_SCALE, 0, &v) < 0 || v <= 0 ||
	    v > 1000 * 1000000LL)
		return warn(b, line, "model '%s': multiplier '%.*s' must be a number in (0, 1000] (ignored)",
		    bstr(b, b->cur.name), (int)klen, key);
	*m = v;
	return 0;
}

static int
entry_range(struct pricemap_builder *b, const char *lo, size_t lolen,
    const char *hi, size_t hilen, int line, uint16_t *range)
{
	int64_t l, h;

	if (money_parse_decimal(lo, lolen, 0, 0, &l) < 0 ||
	    money_parse_decimal(hi, hilen, 0, 0, &h) < 0 || h < l) {
		*range = 0;
		return warn(b, line, "model '%s': tiered_pricing range is not [lo, hi] (tier ignored)",
		    bstr(b, b->cur.name));
	}
	if (ARRAY_GROW(b->ranges, b->nranges, b->capranges) < 0)
		return -1;
	b->ranges[b->nranges].lo = (uint64_t)l;
	b->ranges[b->nranges].hi = (uint64_t)h;
	b->nranges++;
	b->cur.nranges++;
	*range = (uint16_t)b->cur.nranges;
	return 0;
}

/*
 * Ends one tiered_pricing tier: its rates, added since first_rate, belong to
 * range; a tier without a valid range is dropped whole.
 */
static void
entry_range_end(struct pricemap_builder *b, size_t first_rate, uint16_t range)
{
	size_t i;

	if (range == 0) {
		b->cur.nrates -= (uint32_t)(b->nrates - first_rate);
		b->nrates = first_rate;
		return;
	}
	for (i = first_rate; i < b->nrates; i++)
		b->rates[i].range = range;
}

/* ---- JSON front-end ------------------------------------------------------ */

struct json_ctx {
	struct pricemap_builder	*b;
	struct json_scan	 s;
	const char		*counted;	/* line counting is incremental */
	int			 line;
};

static int
json_line(struct json_ctx *c)
{
	for (; c->counted < c->s.p; c->counted++)
		if (*c->counted == '\n')
			c->line++;
	return c->line;
}

/* Reads a scalar for a field; containers are skipped and reported. */
static int
json_field_value(struct json_ctx *c, struct json_text *v, int *is_null, int *skip)
{
	enum json_type t = json_peek(&c->s);

	*skip = 0;
	if (t == JSON_OBJECT || t == JSON_ARRAY) {
		*skip = 1;
		return json_skip(&c->s);
	}
	if (json_scalar(&c->s, &t, v) < 0)
		return -1;
	*is_null = t == JSON_NULL;
	return 0;
}

static int
json_tier_list(struct json_ctx *c)
{
	struct pricemap_builder *b = c->b;
	struct json_text key, v, lo, hi;
	enum json_type t;
	int r, is_null, skip;

	if (json_array_begin(&c->s) < 0)
		return -1;
	while ((r = json_next_item(&c->s)) > 0) {
		size_t first_rate = b->nrates;
		uint16_t range = 0;
		int line = json_line(c);

		if (json_peek(&c->s) != JSON_OBJECT) {
			if (json_skip(&c->s) < 0)
				return -1;
			continue;
		}
		/* Fields are attached to a provisional range and fixed up below. */
		if (json_object_begin(&c->s) < 0)
			return -1;
		while ((r = json_next_key(&c->s, &key)) > 0) {
			if (json_text_is(&key, "range") && json_peek(&c->s) == JSON_ARRAY) {
				if (json_array_begin(&c->s) < 0 || json_next_item(&c->s) != 1 ||
				    json_scalar(&c->s, &t, &lo) < 0 || json_next_item(&c->s) != 1 ||
				    json_scalar(&c->s, &t, &hi) < 0 || json_next_item(&c->s) != 0)
					return json_fail(&c->s, "tiered_pricing range must be [lo, hi]");
				if (entry_range(b, lo.ptr, lo.len, hi.ptr, hi.len, line, &range) < 0)
					return -1;
				continue;
			}
			if (json_field_value(c, &v, &is_null, &skip) < 0)
				return -1;
			if (!skip && entry_field(b, key.ptr, key.len, v.ptr, v.len, is_null,
			    UINT16_MAX, json_line(c)) < 0)
				return -1;
		}
		if (r < 0)
			return -1;
		entry_range_end(b, first_rate, range);
	}
	return r;
}

static int
json_pairs(struct json_ctx *c, int (*fn)(struct pricemap_builder *, const char *,
    size_t, const char *, size_t, int))
{
	struct json_text key, v;
	int r, is_null, skip;

	if (json_object_begin(&c->s) < 0)
		return -1;
	while ((r = json_next_key(&c->s, &key)) > 0) {
		if (json_field_value(c, &v, &is_null, &skip) < 0)
			return -1;
		if (!skip && !is_null &&
		    fn(c->b, key.ptr, key.len, v.ptr, v.len, json_line(c)) < 0)
			return -1;
	}
	return r;
}

static int
json_entry(struct json_ctx *c, const struct json_text *name)
{
	struct pricemap_builder *b = c->b;
	struct json_text key, v;
	int r, is_null, skip;

	if (entry_begin(b, name->ptr, name->len) < 0 || json_object_begin(&c->s) < 0)
		return -1;
	while ((r = json_next_key(&c->s, &key)) > 0) {
		enum json_type t = json_peek(&c->s);

		if (json_text_is(&key, "tiered_pricing") && t == JSON_ARRAY)
			r = json_tier_list(c);
		else if (json_text_is(&key, "search_context_cost_per_query") && t == JSON_OBJECT)
			r = json_pairs(c, entry_search_price);
		else if (json_text_is(&key, "provider_specific_entry") && t == JSON_OBJECT)
			r = json_pairs(c, entry_multiplier);
		else if (json_field_value(c, &v, &is_null, &skip) < 0)
			r = -1;
		else if (skip)
			r = is_nonprice_field(key.ptr, key.len) ? 0 : note_unknown(b, key.ptr, key.len);
		else
			r = entry_field(b, key.ptr, key.len, v.ptr, v.len, is_null, 0, json_line(c));
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	return entry_end(b);
}

/* A model's versions: a list of entries under its name. */
static int
json_versions(struct json_ctx *c, const struct json_text *name)
{
	int r;

	if (json_array_begin(&c->s) < 0)
		return -1;
	while ((r = json_next_item(&c->s)) > 0) {
		if (json_peek(&c->s) != JSON_OBJECT) {
			/* not a version: said, and the rest of the map still loads */
			warn(c->b, json_line(c), "model '%.*s': a version that is not an object (ignored)",
			    (int)(name->len > 100 ? 100 : name->len), name->ptr);
			if (json_skip(&c->s) < 0)
				return -1;
			continue;
		}
		if (json_entry(c, name) < 0)
			return -1;
	}
	return r;
}

static int
set_source(struct pricemap_builder *b, const char *name)
{
	b->source_name = name;
	return intern(b, name, strlen(name), &b->source);
}

int
pricemap_load_json(struct pricemap_builder *b, const char *name, const char *buf,
    size_t len, char *err, size_t errlen)
{
	struct json_ctx c = { .b = b, .line = 1 };
	struct json_text key;
	int r, line, col;

	if (set_source(b, name) < 0)
		goto nomem;
	json_init(&c.s, buf, len);
	c.counted = buf;
	if (json_peek(&c.s) != JSON_OBJECT) {
		json_fail(&c.s, "a price map is a JSON object of models");
		goto bad;
	}
	if (json_object_begin(&c.s) < 0)
		goto bad;
	while ((r = json_next_key(&c.s, &key)) > 0) {
		enum json_type t = json_peek(&c.s);

		/* LiteLLM's map documents its own fields in a sample entry */
		if (json_text_is(&key, "sample_spec") || (t != JSON_OBJECT && t != JSON_ARRAY)) {
			if (json_skip(&c.s) < 0)
				goto bad;
			continue;
		}
		if (key.escaped) {
			if (json_skip(&c.s) < 0)
				goto bad;
			warn(b, json_line(&c), "model name with escapes skipped");
			continue;
		}
		if ((t == JSON_ARRAY ? json_versions(&c, &key) : json_entry(&c, &key)) < 0) {
			if (c.s.error == NULL)
				goto nomem;
			goto bad;
		}
	}
	if (r < 0 || json_at_end(&c.s) < 0)
		goto bad;
	return 0;
bad:
	json_position(&c.s, &line, &col);
	snprintf(err, errlen, "%s:%d:%d: %s", name, line, col,
	    c.s.error ? c.s.error : "invalid price map");
	return -1;
nomem:
	snprintf(err, errlen, "%s: out of memory", name);
	return -1;
}

/* ---- YAML front-end ------------------------------------------------------ */

struct yaml_ctx {
	struct pricemap_builder	*b;
	yaml_document_t		 doc;
};

static int
yaml_scalar(yaml_node_t *n, const char **s, size_t *len, int *is_null)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return -1;
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	/* A plain ~, null or empty value is YAML's null; quoted "null" is text. */
	*is_null = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (*len == 0 || (*len == 1 && **s == '~') ||
	    (*len == 4 && (memcmp(*s, "null", 4) == 0 || memcmp(*s, "Null", 4) == 0 ||
	    memcmp(*s, "NULL", 4) == 0)));
	return 0;
}

static int
yaml_line(yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static int
yaml_pairs(struct yaml_ctx *c, yaml_node_t *map, int (*fn)(struct pricemap_builder *,
    const char *, size_t, const char *, size_t, int))
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
		const char *ks, *vs;
		size_t kl, vl;
		int kn, vn;

		if (yaml_scalar(k, &ks, &kl, &kn) < 0 || yaml_scalar(v, &vs, &vl, &vn) < 0 || vn)
			continue;
		if (fn(c->b, ks, kl, vs, vl, yaml_line(v)) < 0)
			return -1;
	}
	return 0;
}

static int
yaml_tier_list(struct yaml_ctx *c, yaml_node_t *seq)
{
	struct pricemap_builder *b = c->b;
	yaml_node_item_t *it;

	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *tier = yaml_document_get_node(&c->doc, *it);
		size_t first_rate = b->nrates;
		uint16_t range = 0;
		yaml_node_pair_t *p;

		if (tier == NULL || tier->type != YAML_MAPPING_NODE)
			continue;
		for (p = tier->data.mapping.pairs.start; p < tier->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
			const char *ks, *vs;
			size_t kl, vl;
			int kn, vn;

			if (yaml_scalar(k, &ks, &kl, &kn) < 0 || v == NULL)
				continue;
			if (kl == 5 && memcmp(ks, "range", 5) == 0) {
				yaml_node_t *lo = NULL, *hi = NULL;
				const char *los, *his;
				size_t lol, hil;
				int ln, hn;

				if (v->type == YAML_SEQUENCE_NODE &&
				    v->data.sequence.items.top - v->data.sequence.items.start == 2) {
					lo = yaml_document_get_node(&c->doc, v->data.sequence.items.start[0]);
					hi = yaml_document_get_node(&c->doc, v->data.sequence.items.start[1]);
				}
				if (yaml_scalar(lo, &los, &lol, &ln) < 0 ||
				    yaml_scalar(hi, &his, &hil, &hn) < 0) {
					los = his = "";
					lol = hil = 0;
				}
				if (entry_range(b, los, lol, his, hil, yaml_line(v), &range) < 0)
					return -1;
				continue;
			}
			if (yaml_scalar(v, &vs, &vl, &vn) < 0)
				continue;
			if (entry_field(b, ks, kl, vs, vl, vn, UINT16_MAX, yaml_line(v)) < 0)
				return -1;
		}
		entry_range_end(b, first_rate, range);
	}
	return 0;
}

static int yaml_entry_fields(struct yaml_ctx *c, yaml_node_t *map, int depth);

/* The mappings of a merge key (<<: *a or <<: [*a, *b]), applied before the entry's own keys. */
static int
yaml_merge(struct yaml_ctx *c, yaml_node_t *v, int depth)
{
	yaml_node_item_t *it;

	if (depth > 8)
		return 0;	/* a merge loop: libyaml allows it, a price file does not need it */
	if (v->type == YAML_MAPPING_NODE)
		return yaml_entry_fields(c, v, depth + 1);
	if (v->type != YAML_SEQUENCE_NODE)
		return 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *m = yaml_document_get_node(&c->doc, *it);

		if (m != NULL && m->type == YAML_MAPPING_NODE && yaml_entry_fields(c, m, depth + 1) < 0)
			return -1;
	}
	return 0;
}

static int
yaml_entry_fields(struct yaml_ctx *c, yaml_node_t *map, int depth)
{
	struct pricemap_builder *b = c->b;
	yaml_node_pair_t *p;
	int pass;

	/* merged keys first, so that the entry's own keys override them */
	for (pass = 0; pass < 2; pass++)
		for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
			const char *ks, *vs;
			size_t kl, vl;
			int kn, vn, r, merge;

			if (yaml_scalar(k, &ks, &kl, &kn) < 0 || v == NULL)
				continue;
			merge = kl == 2 && memcmp(ks, "<<", 2) == 0;
			if (merge != (pass == 0))
				continue;
			if (merge)
				r = yaml_merge(c, v, depth);
			else if (kl == 14 && memcmp(ks, "tiered_pricing", kl) == 0 &&
			    v->type == YAML_SEQUENCE_NODE)
				r = yaml_tier_list(c, v);
			else if (kl == 29 && memcmp(ks, "search_context_cost_per_query", kl) == 0 &&
			    v->type == YAML_MAPPING_NODE)
				r = yaml_pairs(c, v, entry_search_price);
			else if (kl == 23 && memcmp(ks, "provider_specific_entry", kl) == 0 &&
			    v->type == YAML_MAPPING_NODE)
				r = yaml_pairs(c, v, entry_multiplier);
			else if (yaml_scalar(v, &vs, &vl, &vn) < 0)
				r = is_nonprice_field(ks, kl) ? 0 : note_unknown(b, ks, kl);
			else
				r = entry_field(b, ks, kl, vs, vl, vn, 0, yaml_line(v));
			if (r < 0)
				return -1;
		}
	return 0;
}

static int
yaml_entry(struct yaml_ctx *c, const char *name, size_t nlen, yaml_node_t *map)
{
	if (entry_begin(c->b, name, nlen) < 0 || yaml_entry_fields(c, map, 0) < 0)
		return -1;
	return entry_end(c->b);
}

/* A model's versions: a sequence of mappings under its name.  0, or -1 with err set. */
static int
yaml_versions(struct yaml_ctx *c, const char *name, size_t nlen, yaml_node_t *seq, char *err,
    size_t errlen)
{
	yaml_node_item_t *it;

	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = yaml_document_get_node(&c->doc, *it);

		if (v == NULL || v->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "%s:%d: model '%.*s': each version is a mapping of price "
			    "fields", c->b->source_name, v ? yaml_line(v) : yaml_line(seq), (int)nlen,
			    name);
			return -1;
		}
		if (yaml_entry(c, name, nlen, v) < 0) {
			snprintf(err, errlen, "%s: out of memory", c->b->source_name);
			return -1;
		}
	}
	return 0;
}

int
pricemap_load_yaml(struct pricemap_builder *b, const char *name, const char *buf,
    size_t len, char *err, size_t errlen)
{
	struct yaml_ctx c = { .b = b };
	yaml_parser_t parser;
	yaml_node_t *root;
	yaml_node_pair_t *p;
	int rc = -1;

	if (set_source(b, name) < 0) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", name,
		    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "invalid YAML",
		    parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&c.doc);
	if (root == NULL) {
		rc = 0;		/* an empty file adds nothing */
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s:%d:%d: a price file is a mapping of model names to prices",
		    name, yaml_line(root), (int)root->start_mark.column + 1);
		goto out;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&c.doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&c.doc, p->value);
		const char *ks;
		size_t kl;
		int kn;

		if (yaml_scalar(k, &ks, &kl, &kn) < 0 || kn) {
			snprintf(err, errlen, "%s:%d: model name must be a string", name,
			    k ? yaml_line(k) : 0);
			goto out;
		}
		if (kl == 11 && memcmp(ks, "sample_spec", 11) == 0)
			continue;
		if (v != NULL && v->type == YAML_SEQUENCE_NODE) {
			if (yaml_versions(&c, ks, kl, v, err, errlen) < 0)
				goto out;
			continue;
		}
		if (v == NULL || v->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "%s:%d: model '%.*s': expected a mapping of price fields "
			    "(or a list of them, its versions)", name, v ? yaml_line(v) : yaml_line(k),
			    (int)kl, ks);
			goto out;
		}
		if (yaml_entry(&c, ks, kl, v) < 0) {
			snprintf(err, errlen, "%s: out of memory", name);
			goto out;
		}
	}
	rc = 0;
out:
	yaml_document_delete(&c.doc);
	yaml_parser_delete(&parser);
	return rc;
}

int
pricemap_load_file(struct pricemap_builder *b, const char *path, char *err,
    size_t errlen)
{
	struct buf data = { 0 };
	size_t i;
	int rc;

	if (buf_read_file(&data, path) < 0) {
		snprintf(err, errlen, "cannot read price file '%s': %s", path, strerror(errno));
		buf_release(&data);
		return -1;
	}
	for (i = 0; i < data.len && strchr(" \t\r\n", data.data[i]); i++)
		;
	if (i < data.len && data.data[i] == '{')
		rc = pricemap_load_json(b, path, data.data, data.len, err, errlen);
	else
		rc = pricemap_load_yaml(b, path, data.data ? data.data : "", data.len, err, errlen);
	buf_release(&data);
	return rc;
}

int
pricemap_add_entry(struct pricemap_builder *b, const char *source, const char *name,
    const char *base_model, const struct pricemap_field *fields, size_t n)
{
	size_t i;

	if (set_source(b, source) < 0 || entry_begin(b, name, strlen(name)) < 0)
		return -1;
	if (base_model != NULL && intern(b, base_model, strlen(base_model), &b->cur.base_model) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (entry_field(b, fields[i].key, strlen(fields[i].key), fields[i].value,
		    strlen(fields[i].value), 0, 0, fields[i].line) < 0)
			return -1;
	return entry_end(b);
}

const char *
pricemap_line_warnings(struct pricemap_builder *b)
{
	return b->warnings.len ? b->warnings.data : NULL;	/* kept NUL-terminated */
}

const char *
pricemap_warnings(struct pricemap_builder *b)
{
	size_t i;

	b->report.len = 0;
	if (b->warnings.len)
		buf_append(&b->report, b->warnings.data, b->warnings.len);
	if (b->nunknown) {
		buf_printf(&b->report, "%zu price-map field%s not used for pricing, ignored:",
		    b->nunknown, b->nunknown == 1 ? "" : "s");
		for (i = 0; i < b->nunknown; i++)
			buf_printf(&b->report, "%s '%s' (%u model%s, first '%s' in '%s')",
			    i ? "," : "", bstr(b, b->unknown[i].name), b->unknown[i].count,
			    b->unknown[i].count == 1 ? "" : "s", bstr(b, b->unknown[i].model),
			    bstr(b, b->unknown[i].source));
		buf_append(&b->report, "\n", 1);
	}
	return b->report.len ? b->report.data : NULL;
}

/* ---- compiling and lookup ----------------------------------------------- */

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * The entry an entry with prices of its own inherits from: its base_model,
 * found exactly or without provider prefixes, in the version in force when
 * e comes into force (an undated e: the base's oldest).  NULL when it has
 * none.
 */
static const struct bentry *
builder_base(const struct pricemap_builder *b, const struct bentry *e)
{
	const struct bentry *v;
	const char *name, *slash;
	uint32_t slot;

	if (e->base_model == 0 || e->nrates == 0)
		return NULL;
	for (name = bstr(b, e->base_model); *name; name = slash + 1) {
		slot = *index_slot((struct pricemap_builder *)b, name, strlen(name));
		if (slot && strcmp(bstr(b, b->entries[slot - 1].name), bstr(b, e->name)) != 0) {
			for (v = &b->entries[slot - 1]; v->older && (!e->dated || later(v, e)); )
				v = &b->entries[v->older - 1];
			return v;
		}
		if ((slash = strchr(name, '/')) == NULL)
			break;
	}
	return NULL;
}

/* Whether e sets the field that base rate r stands for. */
static int
overrides(const struct pricemap_builder *b, const struct bentry *e, const struct price_rate *r)
{
	uint32_t i;

	for (i = 0; i < e->nrates; i++) {
		const struct price_rate *o = &b->rates[e->rates + i];
		if (o->kind == r->kind && o->tier == r->tier && o->batch == r->batch &&
		    o->above == r->above)
			return 1;
	}
	return 0;
}

/*
 * Calls fn for every rate e ends up with: its own, then the base model's
 * plain (untiered) rates it does not override.  Returns the count.
 */
static size_t
each_rate(const struct pricemap_builder *b, const struct bentry *e, struct price_rate *out)
{
	const struct bentry *base = builder_base(b, e);
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < e->nrates; i++, n++)
		if (out)
			out[n] = b->rates[e->rates + i];
	if (base != NULL)
		for (i = 0; i < base->nrates; i++) {
			const struct price_rate *r = &b->rates[base->rates + i];

			if (r->range || overrides(b, e, r))
				continue;
			if (out)
				out[n] = *r;
			n++;
		}
	return n;
}

/* An entry's own fields, and what it inherits from its base model, but its rates. */
static void
compile_entry(const struct pricemap_builder *b, const struct bentry *be, struct price_entry *e)
{
	const struct bentry *base;

	e->name = be->name;
	e->base_model = be->base_model;
	e->provider = be->provider;
	e->mode = be->mode;
	e->source = be->source;
	e->mult_us = be->mult_us;
	e->mult_fast = be->mult_fast;
	e->max_output = be->max_output ? be->max_output : be->max_tokens;
	e->max_input = be->max_input;
	e->flags = (be->native_json == 1 ? PRICE_NATIVE_JSON : 0) | (be->dated ? PRICE_DATED : 0) |
	    (be->per_query ? PRICE_SEARCH_PER_QUERY : 0);
	e->effective_s = be->effective_s;
	if ((base = builder_base(b, be)) == NULL)
		return;
	if (e->max_output == 0)
		e->max_output = base->max_output ? base->max_output : base->max_tokens;
	if (e->max_input == 0)
		e->max_input = base->max_input;
	if (be->native_json == 0 && base->native_json == 1)
		e->flags |= PRICE_NATIVE_JSON;
	if (base->per_query)
		e->flags |= PRICE_SEARCH_PER_QUERY;
	if (e->mult_us == 0)
		e->mult_us = base->mult_us;
	if (e->mult_fast == 0)
		e->mult_fast = base->mult_fast;
}

struct price_table *
pricemap_compile(const struct pricemap_builder *b)
{
	struct price_table *t;
	struct price_entry *entries;
	struct price_rate *rates;
	struct price_range *ranges;
	uint32_t *slots;
	size_t nslots = 16, nrates = 0, nranges = 0, i, n = 0, size;

	size_t nversions = 0;
	const struct bentry *be;

	while (nslots < b->live * 2)
		nslots *= 2;
	for (i = 0; i < b->nindex; i++)
		for (be = b->index[i] ? &b->entries[b->index[i] - 1] : NULL; be != NULL;
		    be = be->older ? &b->entries[be->older - 1] : NULL) {
			nrates += each_rate(b, be, NULL);
			nranges += be->nranges;
			nversions++;
		}
	size = align8(sizeof(*t));
	size_t entries_off = size;	size += align8(nversions * sizeof(*entries));
	size_t slots_off = size;	size += align8(nslots * sizeof(*slots));
	size_t rates_off = size;	size += align8(nrates * sizeof(*rates));
	size_t ranges_off = size;	size += align8(nranges * sizeof(*ranges));
	size_t strings_off = size;	size += align8(b->strings.len);
	if (size > UINT32_MAX || (t = calloc(1, size)) == NULL)
		return NULL;
	t->magic = PRICE_TABLE_MAGIC;
	t->version = PRICE_TABLE_VERSION;
	t->size = size;
	t->nentries = (uint32_t)nversions;
	t->nmodels = (uint32_t)b->live;
	t->nslots = (uint32_t)nslots;
	t->entries_off = (uint32_t)entries_off;
	t->slots_off = (uint32_t)slots_off;
	t->rates_off = (uint32_t)rates_off;
	t->ranges_off = (uint32_t)ranges_off;
	t->strings_off = (uint32_t)strings_off;
	t->strings_len = (uint32_t)b->strings.len;
	entries = (struct price_entry *)((char *)t + entries_off);
	slots = (uint32_t *)((char *)t + slots_off);
	rates = (struct price_rate *)((char *)t + rates_off);
	ranges = (struct price_range *)((char *)t + ranges_off);
	memcpy((char *)t + strings_off, b->strings.data, b->strings.len);
	nrates = nranges = 0;
	for (i = 0; i < b->nindex; i++) {
		const struct bentry *head;
		struct price_entry *e;
		const char *name;
		size_t s;

		if (b->index[i] == 0)
			continue;
		head = &b->entries[b->index[i] - 1];
		name = bstr(b, head->name);
		for (s = hash_name(name, strlen(name)) & (nslots - 1); slots[s];
		    s = (s + 1) & (nslots - 1))
			;
		slots[s] = (uint32_t)n + 1;	/* the newest version; the others chained from it */
		for (be = head; be != NULL; be = be->older ? &b->entries[be->older - 1] : NULL) {
			e = &entries[n];
			compile_entry(b, be, e);
			if (be != head)
				e->flags |= PRICE_SUPERSEDED;
			e->older = be->older ? (uint32_t)n + 2 : 0;	/* emitted next */
			e->rates = (uint32_t)nrates;
			e->nrates = (uint32_t)each_rate(b, be, rates + nrates);
			nrates += e->nrates;
			e->ranges = (uint32_t)nranges;
			e->nranges = be->nranges;
			if (be->nranges)
				memcpy(ranges + nranges, b->ranges + be->ranges,
				    be->nranges * sizeof(*ranges));
			nranges += be->nranges;
			n++;
		}
	}
	return t;
}

const char *
price_str(const struct price_table *t, uint32_t off)
{
	return (const char *)t + t->strings_off + off;
}

const struct price_rate *
price_entry_rates(const struct price_table *t, const struct price_entry *e)
{
	return (const struct price_rate *)((const char *)t + t->rates_off) + e->rates;
}

const struct price_range *
price_entry_ranges(const struct price_table *t, const struct price_entry *e)
{
	return (const struct price_range *)((const char *)t + t->ranges_off) + e->ranges;
}

static const struct price_entry *
find_exact(const struct price_table *t, const char *name, size_t len)
{
	const uint32_t *slots = (const uint32_t *)((const char *)t + t->slots_off);
	const struct price_entry *entries =
	    (const struct price_entry *)((const char *)t + t->entries_off);
	size_t mask = t->nslots - 1, s;

	for (s = hash_name(name, len) & mask; slots[s]; s = (s + 1) & mask) {
		const struct price_entry *e = &entries[slots[s] - 1];
		const char *en = price_str(t, e->name);

		if (strlen(en) == len && memcmp(en, name, len) == 0)
			return e;
	}
	return NULL;
}

/* Exact name, then the name without each leading provider prefix. */
static const struct price_entry *
find_unprefixed(const struct price_table *t, const char *name, size_t len)
{
	const char *p = name, *end = name + len, *slash;
	const struct price_entry *e;

	for (;;) {
		if ((e = find_exact(t, p, (size_t)(end - p))) != NULL)
			return e;
		if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
			return NULL;
		p = slash + 1;
	}
}

/*
 * Length of name without a trailing -YYYYMMDD or -YYYY-MM-DD snapshot date
 * (or Vertex AI's @YYYYMMDD), or 0.
 */
static size_t
undated_length(const char *name, size_t len)
{
	static const char *const forms[] = { "-dddddddd", "-dddd-dd-dd", "@dddddddd" };
	size_t f, i, n;

	for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		n = strlen(forms[f]);
		if (len <= n)
			continue;
		for (i = 0; i < n; i++) {
			char c = name[len - n + i];
			if (forms[f][i] == 'd' ? !(c >= '0' && c <= '9') : c != forms[f][i])
				break;
		}
		if (i == n)
			return len - n;
	}
	return 0;
}

/* find_unprefixed(), then a dated snapshot of a model priced only under its plain name. */
static const struct price_entry *
find_named(const struct price_table *t, const char *name, size_t len)
{
	const struct price_entry *e = find_unprefixed(t, name, len);
	size_t undated;

	if (e == NULL && (undated = undated_length(name, len)) > 0)
		e = find_unprefixed(t, name, undated);
	return e;
}

/*
 * Bedrock's cross-region inference profiles: "us.anthropic.claude-..." runs
 * "anthropic.claude-..." wherever AWS routes it.  The map prices many
 * profiles apart (some cost more than the model in one region); one it does
 * not is priced as its model.  name without the geo prefix of its last
 * segment ("bedrock/us-east-1/us.X" -> "bedrock/us-east-1/X") into out, and
 * its length; 0 when it has none.  The rest must be "vendor.model", so that
 * a model of another provider whose name merely starts with "eu." is left be.
 */
static size_t
without_geo(const char *name, size_t len, char *out, size_t outlen)
{
	static const char *const geo[] = { "us.", "eu.", "apac.", "global.", "jp.", "au.",
		"us-gov.", "ca." };
	const char *seg = name + len, *rest;
	size_t i, g;

	while (seg > name && seg[-1] != '/')
		seg--;
	for (i = 0; i < sizeof(geo) / sizeof(geo[0]); i++) {
		g = strlen(geo[i]);
		rest = seg + g;
		if ((size_t)(name + len - seg) <= g || strncmp(seg, geo[i], g) != 0 ||
		    memchr(rest, '.', (size_t)(name + len - rest)) == NULL || len - g >= outlen)
			continue;
		memcpy(out, name, (size_t)(seg - name));
		memcpy(out + (seg - name), rest, (size_t)(name + len - rest));
		return len - g;
	}
	return 0;
}

const struct price_entry *
price_older(const struct price_table *t, const struct price_entry *e)
{
	const struct price_entry *entries =
	    (const struct price_entry *)((const char *)t + t->entries_off);

	return e->older ? &entries[e->older - 1] : NULL;
}

const struct price_entry *
price_version_at(const struct price_table *t, const struct price_entry *newest, int64_t at_s)
{
	const struct price_entry *e = newest, *o;

	while ((e->flags & PRICE_DATED) && e->effective_s > at_s && (o = price_older(t, e)) != NULL)
		e = o;
	return e;
}

const struct price_entry *
price_lookup_at(const struct price_table *t, const char *name, size_t len, int64_t at_s)
{
	const struct price_entry *e = find_named(t, name, len);
	char bare[512];
	size_t n;
	int hops;

	if (e == NULL && (n = without_geo(name, len, bare, sizeof(bare))) > 0)
		e = find_named(t, bare, n);
	if (e != NULL)
		e = price_version_at(t, e, at_s);

	/* An entry without prices of its own stands for its base model. */
	for (hops = 0; e != NULL && e->nrates == 0 && e->base_model && hops < 8; hops++) {
		const char *bm = price_str(t, e->base_model);
		const struct price_entry *next = find_unprefixed(t, bm, strlen(bm));

		if (next == NULL)
			break;
		e = price_version_at(t, next, at_s);
	}
	return e;
}

const struct price_entry *
price_lookup(const struct price_table *t, const char *name, size_t len)
{
	return price_lookup_at(t, name, len, (int64_t)time(NULL));
}
