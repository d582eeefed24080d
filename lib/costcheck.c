/*
 * The provider's cost against tollgate's (see costcheck.h).
 */
#include "costcheck.h"

int64_t
costcheck_computed(const struct record *r)
{
	int64_t c = 0;
	uint32_t i;

	for (i = 0; i < COST_PART_COUNT; i++)
		c += r->cost[i];
	for (i = 0; i < r->nattempts && i < RECORD_ATTEMPTS_MAX; i++)
		c -= r->attempts[i].total;
	return c;
}

int
costcheck_add(struct costcheck_sum *s, const struct record *r, int mismatched_only)
{
	int mismatched = (r->flags & RECORD_FLAG_COST_MISMATCH) != 0;

	if (!(r->flags & RECORD_FLAG_PROVIDER_COST) || (r->flags & RECORD_FLAG_ADJUSTMENT) ||
	    (mismatched_only && !mismatched))
		return 0;
	s->records++;
	s->mismatches += mismatched;
	s->computed += costcheck_computed(r);
	s->provider += r->provider_cost;
	return 1;
}
