/*
 * Rate selection and exact cost arithmetic.  Pure functions over a price
 * table; workers run them on every response, tollctl on demand.
 */
#include <string.h>

#include "cost.h"
#include "money.h"

static const char *const part_names[COST_PART_COUNT] = {
	"input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
	"reasoning", "audio_input", "audio_output", "image_input", "image_output",
	"tool_use_prompt", "search", "duration", "request",
};

const char *
cost_part_name(enum cost_part p)
{
	return (unsigned)p < COST_PART_COUNT ? part_names[p] : "?";
}

void
cost_options_init(struct cost_options *o)
{
	o->tier = -1;
	o->batch = 0;
	o->duration_ms = -1;
}

/* What rate selection needs to know about one request. */
struct pick {
	const struct price_table	*t;
	const struct price_entry	*e;
	const struct price_rate		*rates;
	int64_t				 input;		/* total input tokens */
	int				 tier;
	int				 batch;
	uint16_t			 range;		/* 0 or tiered_pricing index + 1 */
};

/* A rate found for a kind: value and the divisor it still needs (batch). */
struct found {
	int64_t		atto;
	int		den;
	int		kind;		/* the kind whose rate it is, after fallbacks */
};

/* The highest crossed threshold among fields of this kind, tier and range. */
static const struct price_rate *
find(const struct pick *p, int kind, int tier, int batch, uint16_t range)
{
	const struct price_rate *best = NULL;
	uint32_t i;

	for (i = 0; i < p->e->nrates; i++) {
		const struct price_rate *r = &p->rates[i];

		if (r->kind != kind || r->tier != tier || r->batch != batch || r->range != range)
			continue;
		/* all-or-nothing: strictly greater than the threshold */
		if (r->above != 0 && p->input <= (int64_t)r->above)
			continue;
		if (best == NULL || r->above > best->above)
			best = r;
	}
	return best;
}

static int
fallback_kind(int kind)
{
	switch (kind) {
	case PRICE_CACHE_READ:		return PRICE_CACHE_HIT;
	case PRICE_CACHE_HIT:		return PRICE_INPUT;
	case PRICE_CACHE_WRITE:		return PRICE_INPUT;
	case PRICE_CACHE_WRITE_1H:	return PRICE_CACHE_WRITE;
	case PRICE_REASONING:		return PRICE_OUTPUT;
	case PRICE_AUDIO_IN:		return PRICE_INPUT;
	case PRICE_AUDIO_OUT:		return PRICE_OUTPUT;
	case PRICE_IMAGE_IN:		return PRICE_INPUT;
	case PRICE_IMAGE_OUT:		return PRICE_OUTPUT;
	default:			return -1;
	}
}

static int
is_cache_kind(int kind)
{
	return kind == PRICE_CACHE_READ || kind == PRICE_CACHE_HIT ||
	    kind == PRICE_CACHE_WRITE || kind == PRICE_CACHE_WRITE_1H;
}

/*
 * The rate for one kind, without fallback to other kinds: the tiered_pricing
 * range first, then the entry's own fields in the served tier, then standard.
 */
static const struct price_rate *
find_own(const struct pick *p, int kind, uint32_t *flags)
{
	const struct price_rate *r = NULL;

	if (p->range) {
		if ((r = find(p, kind, p->tier, 0, p->range)) == NULL)
			r = find(p, kind, PRICE_TIER_STANDARD, 0, p->range);
		if (r == NULL && is_cache_kind(kind))
			return NULL;	/* the caller falls back to the tier's input */
		if (r != NULL)
			return r;
	}
	if ((r = find(p, kind, p->tier, 0, 0)) == NULL && p->tier != PRICE_TIER_STANDARD) {
		r = find(p, kind, PRICE_TIER_STANDARD, 0, 0);
		if (r != NULL && (kind == PRICE_INPUT || kind == PRICE_OUTPUT))
			*flags |= USAGE_FLAG_TIER_FALLBACK;
	}
	return r;
}

static int
resolve(const struct pick *p, int kind, struct found *f, uint32_t *flags)
{
	const struct price_rate *r;
	int k;

	for (k = kind; k >= 0; k = fallback_kind(k)) {
		if (p->batch) {
			/* *_batches when present (an explicit 0 is free), else half */
			if ((r = find(p, k, PRICE_TIER_STANDARD, 1, 0)) != NULL) {
				f->atto = r->atto;
				f->den = 1;
				f->kind = k;
				return 0;
			}
		}
		r = find_own(p, k, flags);
		if (r == NULL && p->range && is_cache_kind(k) && k != PRICE_CACHE_HIT)
			r = find_own(p, PRICE_INPUT, flags);	/* the tier's own input */
		if (r != NULL) {
			f->atto = r->atto;
			f->den = p->batch ? 2 : 1;
			f->kind = r->kind;
			return 0;
		}
	}
	return -1;
}

/* Whether tiered_pricing range (1-based) has an input rate: one without is no priced tier. */
static int
range_priced(const struct price_table *t, const struct price_entry *e, uint16_t range)
{
	const struct price_rate *r = price_entry_rates(t, e);
	uint32_t i;

	for (i = 0; i < e->nrates; i++)
		if (r[i].range == range && r[i].kind == PRICE_INPUT)
			return 1;
	return 0;
}

/*
 * The tiered_pricing range of n input tokens (lo < n <= hi, the first range
 * from 0), as LiteLLM's cost calculator chooses it; 0, the entry's flat
 * rates, when n falls in no priced range.
 */
static uint16_t
pick_range(const struct price_table *t, const struct price_entry *e, int64_t n)
{
	const struct price_range *ranges = price_entry_ranges(t, e);
	uint32_t i;

	for (i = 0; i < e->nranges; i++) {
		const struct price_range *g = &ranges[i];

		if (((int64_t)g->lo < n || (g->lo == 0 && n == 0)) && n <= (int64_t)g->hi &&
		    range_priced(t, e, (uint16_t)(i + 1)))
			return (uint16_t)(i + 1);
	}
	return 0;
}

/* round(qty * atto * mult / (10^6 * 10^6 * den * qty_den)) picodollars, saturating. */
static int64_t
amount(int64_t qty, int64_t atto, int64_t mult, int den, int qty_den)
{
	money_sum num, q;

	if (qty <= 0 || atto <= 0)
		return 0;
	/* the common case, no multiplier and no divisor, in 64 bits when it fits */
	if (mult == 1000000 && den == 1 && qty_den == 1) {
		int64_t prod, q64, r64;

		if (!__builtin_mul_overflow(qty, atto, &prod)) {
			q64 = prod / 1000000;
			r64 = prod % 1000000;
			if (r64 > 500000 || (r64 == 500000 && (q64 & 1)))
				q64++;
			return q64;
		}
	}
	num = (money_sum)qty * atto;
	num *= mult;
	q = money_div_round(num, (money_sum)1000000 * 1000000 * den * qty_den);
	return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}

static void
charge(const struct pick *p, struct cost *c, enum cost_part part, int kind,
    int64_t qty, int qty_den, int64_t mult)
{
	struct found f;

	if (qty <= 0)
		return;
	if (resolve(p, kind, &f, &c->flags) < 0)
		return;
	/* cached tokens are not free when no cache price is configured: say so */
	if (is_cache_kind(kind) && f.kind == PRICE_INPUT)
		c->flags |= USAGE_FLAG_NO_CACHE_PRICE;
	c->part[part] = amount(qty, f.atto, mult, f.den, qty_den);
	c->rate[part] = mult == 1000000 && f.den == 1 ? f.atto :
	    (int64_t)money_div_round((money_sum)f.atto * mult, (money_sum)1000000 * f.den);
}

void
cost_compute(const struct price_table *t, const struct price_entry *e,
    const struct usage *u, const struct cost_options *o, struct cost *c)
{
	struct pick p;
	struct found f;
	int64_t mult = 1000000, duration;
	int i;

	memset(c, 0, sizeof(*c));
	c->flags = u->flags;
	c->searches = u->search_queries;
	if (e == NULL) {
		c->flags |= USAGE_FLAG_UNPRICED;
		return;
	}
	p.t = t;
	p.e = e;
	p.rates = price_entry_rates(t, e);
	p.input = usage_total_input(u);
	/* the tier served, as the response says; else the one the request asked for */
	p.tier = u->tier_known ? u->tier : o->tier >= 0 ? o->tier : PRICE_TIER_STANDARD;
	p.batch = o->batch || u->batch;
	if (p.batch)
		p.tier = PRICE_TIER_STANDARD;
	p.range = pick_range(t, e, p.input);
	c->tier = (uint8_t)p.tier;
	c->batch = (uint8_t)p.batch;
	c->range = (int16_t)p.range;

	/* Anthropic's multipliers apply to every component, cache included. */
	if (u->geo_us && e->mult_us)
		mult = e->mult_us;
	if (u->speed_fast && e->mult_fast)
		mult = (int64_t)money_div_round((money_sum)mult * e->mult_fast, 1000000);
	if (mult > 1000 * 1000000LL)
		mult = 1000 * 1000000LL;

	charge(&p, c, COST_INPUT, PRICE_INPUT, u->input, 1, mult);
	charge(&p, c, COST_CACHE_READ, PRICE_CACHE_READ, u->cache_read, 1, mult);
	charge(&p, c, COST_CACHE_WRITE_5M, PRICE_CACHE_WRITE, u->cache_write_5m, 1, mult);
	charge(&p, c, COST_CACHE_WRITE_1H, PRICE_CACHE_WRITE_1H, u->cache_write_1h, 1, mult);
	charge(&p, c, COST_OUTPUT, PRICE_OUTPUT, u->output, 1, mult);
	charge(&p, c, COST_REASONING, PRICE_REASONING, u->reasoning, 1, mult);
	charge(&p, c, COST_AUDIO_IN, PRICE_AUDIO_IN, u->audio_in, 1, mult);
	charge(&p, c, COST_AUDIO_OUT, PRICE_AUDIO_OUT, u->audio_out, 1, mult);
	charge(&p, c, COST_IMAGE_IN, PRICE_IMAGE_IN, u->image_in, 1, mult);
	charge(&p, c, COST_IMAGE_OUT, PRICE_IMAGE_OUT, u->image_out, 1, mult);
	charge(&p, c, COST_TOOL_PROMPT, PRICE_INPUT, u->tool_prompt, 1, mult);

	/*
	 * Gemini's grounding is billed per grounded prompt, whatever it searched,
	 * unless the entry says per query (web_search_billing_unit, LiteLLM's
	 * name): Gemini 3 bills each query.
	 */
	if (u->grounded && !(e->flags & PRICE_SEARCH_PER_QUERY))
		c->searches = 1;
	if (c->searches > 0) {
		static const int sizes[] = { PRICE_SEARCH_MEDIUM, PRICE_SEARCH_LOW, PRICE_SEARCH_HIGH };
		for (i = 0; i < 3; i++)
			if (resolve(&p, sizes[i], &f, &c->flags) == 0) {
				charge(&p, c, COST_SEARCH, sizes[i], c->searches, 1, mult);
				break;
			}
	}

	/* Per-second prices bill the duration, input and output side alike. */
	duration = o->duration_ms >= 0 ? o->duration_ms : u->duration_ms;
	if (resolve(&p, PRICE_INPUT_PER_SECOND, &f, &c->flags) == 0 ||
	    resolve(&p, PRICE_OUTPUT_PER_SECOND, &f, &c->flags) == 0) {
		if (duration < 0)
			c->flags |= USAGE_FLAG_NO_DURATION;
		else {
			struct cost side = { 0 };
			charge(&p, &side, COST_DURATION, PRICE_INPUT_PER_SECOND, duration, 1000, mult);
			charge(&p, c, COST_DURATION, PRICE_OUTPUT_PER_SECOND, duration, 1000, mult);
			c->part[COST_DURATION] += side.part[COST_DURATION];
			c->rate[COST_DURATION] += side.rate[COST_DURATION];
		}
	}
	charge(&p, c, COST_REQUEST, PRICE_PER_REQUEST, 1, 1, mult);

	for (i = 0; i < COST_PART_COUNT; i++) {
		if (c->part[i] > INT64_MAX - c->total) {
			c->total = INT64_MAX;
			break;
		}
		c->total += c->part[i];
	}
}
