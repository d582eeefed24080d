/*
 * Cost: a canonical usage priced against one price-map entry, category by
 * category, in exact picodollars.  Rate selection follows
 * shared/reference/usage-and-pricing.md section 3: long-context thresholds,
 * tiered_pricing, service tiers, batches, cache and modality fallbacks,
 * Anthropic multipliers, per-second and per-request prices.
 */
#ifndef TOLLGATE_COST_H
#define TOLLGATE_COST_H

#include <stdint.h>

#include "pricemap.h"
#include "usage.h"

enum cost_part {
	COST_INPUT,
	COST_CACHE_READ,
	COST_CACHE_WRITE_5M,
	COST_CACHE_WRITE_1H,
	COST_OUTPUT,
	COST_REASONING,
	COST_AUDIO_IN,
	COST_AUDIO_OUT,
	COST_IMAGE_IN,
	COST_IMAGE_OUT,
	COST_TOOL_PROMPT,
	COST_SEARCH,
	COST_DURATION,
	COST_REQUEST,
	COST_PART_COUNT
};

struct cost_options {
	int		tier;		/* the tier the request asked for (enum price_tier), or -1;
				   the tier the response says it served wins */
	int		batch;		/* 1: a batch request */
	int64_t		duration_ms;	/* -1: as the response says */
};

struct cost {
	int64_t		part[COST_PART_COUNT];	/* picodollars */
	int64_t		rate[COST_PART_COUNT];	/* attodollars per unit used, after batch and multipliers */
	int64_t		total;			/* picodollars */
	uint32_t	flags;			/* usage flags plus pricing findings */
	uint8_t		tier;			/* enum price_tier priced at */
	uint8_t		batch;			/* priced as a batch request */
	int16_t		range;			/* tiered_pricing range used, 0 for none */
	int64_t		searches;		/* server-side searches billed (what records keep) */
};

void cost_options_init(struct cost_options *o);

/*
 * Prices u against e (NULL: unpriced, cost 0 and the flag).  Never fails and
 * never yields a negative amount.
 */
void cost_compute(const struct price_table *t, const struct price_entry *e,
    const struct usage *u, const struct cost_options *o, struct cost *out);

const char *cost_part_name(enum cost_part p);

#endif
