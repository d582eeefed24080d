/*
 * The provider's word against tollgate's.  For the records whose provider
 * reported its own cost (RECORD_FLAG_PROVIDER_COST): how many, how many the
 * gateway flagged cost_mismatch, and the two figures summed exactly.  One
 * definition for tollctl reconcile --provider-cost, the accountant's
 * cost_mismatch alerts and the spend API's /spend/provider_cost, so that
 * the three agree to the picodollar.  Pure functions: any process.
 */
#ifndef TOLLGATE_COSTCHECK_H
#define TOLLGATE_COSTCHECK_H

#include <stdint.h>

#include "money.h"
#include "record.h"

struct costcheck_sum {
	uint64_t	records;	/* with a provider cost */
	uint64_t	mismatches;	/* of those, flagged cost_mismatch */
	money_sum	computed;	/* tollgate's figure, picodollars */
	money_sum	provider;	/* the provider's, picodollars */
};

/*
 * What tollgate computed for r's answer: its cost categories, less the
 * failed attempts' (the provider's figure is for the answer alone).  Under
 * provider_cost: prefer this is not r->total, which is the provider's.
 */
int64_t costcheck_computed(const struct record *r);

/*
 * Counts r into s when its provider reported a cost; mismatched_only: only
 * when r is also flagged cost_mismatch.  Re-rating adjustments are never
 * counted (their provider said nothing).  1 when counted, 0 when not.
 */
int costcheck_add(struct costcheck_sum *s, const struct record *r, int mismatched_only);

#endif
