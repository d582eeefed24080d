/*
 * An entry's rates as lines named like the map's fields
 * ("tiered_pricing[0, 200000].input_cost_per_token_priority"), for the
 * diff and show of tollctl prices.  Values stay exact integers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "money.h"
#include "pricemap.h"
#include "tollctl.h"

static void
rate_field(const struct price_table *t, const struct price_entry *e, const struct price_rate *r,
    char *buf, size_t len)
{
	char range[64] = "", above[32] = "";

	if (r->range > 0 && r->range <= e->nranges) {
		const struct price_range *g = &price_entry_ranges(t, e)[r->range - 1];

		snprintf(range, sizeof(range), "tiered_pricing[%llu, %llu].",
		    (unsigned long long)g->lo, (unsigned long long)g->hi);
	}
	if (r->kind >= PRICE_SEARCH_LOW) {
		snprintf(buf, len, "%ssearch_context_cost_per_query.%s", range,
		    price_kind_name(r->kind));
		return;
	}
	if (r->above > 0)
		snprintf(above, sizeof(above), "_above_%uk_tokens", r->above / 1000);
	snprintf(buf, len, "%s%s%s%s%s%s", range, price_kind_name(r->kind), above,
	    r->tier != PRICE_TIER_STANDARD ? "_" : "",
	    r->tier != PRICE_TIER_STANDARD ? price_tier_name(r->tier) : "",
	    r->batch ? "_batches" : "");
}

static int
add_line(struct rate_lines *l, const char *field, int64_t value, int scale, int plain)
{
	struct rate_line *x;

	if (ARRAY_GROW(l->v, l->n, l->cap) < 0)
		return -1;
	x = &l->v[l->n++];
	buf_copy(x->field, sizeof(x->field), field);
	x->value = value;
	x->scale = scale;
	x->plain = plain;
	return 0;
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rate_line *)a)->field, ((const struct rate_line *)b)->field);
}

int
tollctl_entry_lines(const struct price_table *t, const struct price_entry *e, struct rate_lines *l)
{
	const struct price_rate *r = price_entry_rates(t, e);
	char field[PRICE_FIELD_MAX];
	uint32_t i;

	l->n = 0;
	for (i = 0; i < e->nrates; i++) {
		rate_field(t, e, &r[i], field, sizeof(field));
		if (add_line(l, field, r[i].atto, MONEY_PRICE_SCALE, r[i].range == 0 &&
		    r[i].above == 0 && r[i].tier == PRICE_TIER_STANDARD && !r[i].batch) < 0)
			return -1;
	}
	if (e->mult_us && add_line(l, "provider_specific_entry.us", e->mult_us,
	    MONEY_MULT_SCALE, 0) < 0)
		return -1;
	if (e->mult_fast && add_line(l, "provider_specific_entry.fast", e->mult_fast,
	    MONEY_MULT_SCALE, 0) < 0)
		return -1;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), line_cmp);
	return 0;
}
