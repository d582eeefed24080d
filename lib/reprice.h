/*
 * What-if re-pricing: recorded usage priced again as another price-map entry
 * (or at another tier), exactly, per group of records, beside what it was
 * recorded to cost.  A category the target prices at nothing after the usual
 * fallbacks is kept as a quantity, never counted as free.  Pure functions
 * over records and a price table: the spend API (/spend/whatif, in the
 * workers) adds the records of its window here.
 */
#ifndef TOLLGATE_REPRICE_H
#define TOLLGATE_REPRICE_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"
#include "record.h"

struct price_table;
struct price_entry;
struct usage;

enum reprice_by { REPRICE_BY_MODEL, REPRICE_BY_KEY, REPRICE_BY_TEAM, REPRICE_BY_USER,
	REPRICE_BY_CUSTOMER, REPRICE_BY_COUNT };

struct reprice_group {
	char		name[128];
	uint64_t	requests;	/* adjustments are not requests */
	money_sum	recorded;	/* what the records say, re-rating adjustments included */
	money_sum	as;		/* priced as the target */
	int64_t		unpriced[RECORD_TOKEN_COUNT];	/* quantities the target does not price */
};

struct reprice {
	/* the question: set by the caller before the first reprice_add() */
	const struct price_table	*table;
	const struct price_entry	*as;		/* the target entry, in table */
	const char			*model;		/* only this model's records; NULL: all */
	enum reprice_by			 by;
	int				 tier;		/* enum price_tier; -1: as served */
	int				 batch;		/* priced as batch requests */
	/* the answer, groups in the order first seen */
	struct reprice_group		*groups;
	size_t				 ngroups, cap;
};

/*
 * The usage a record keeps, as the cost engine takes it (the tier it was
 * served at; a duration only when it has one).
 */
void reprice_usage_of(const struct record *r, struct usage *u);

/* A grouping's name ("model", "key", "team", "user", "customer") and back: 0, or -1. */
const char *reprice_by_name(enum reprice_by by);
int reprice_by_from_name(const char *s, enum reprice_by *by);

/*
 * A target tier by name: standard, flex, priority (price_tier_from_name()'s
 * names) or batch (the standard tier's batch prices).  0 and *tier and
 * *batch, or -1.
 */
int reprice_tier_from_name(const char *s, int *tier, int *batch);

/* Counts r into its group (r outside the model asked for: nothing).  0, or -1 out of memory. */
int reprice_add(struct reprice *w, const struct record *r);

/* Frees the groups (w itself is the caller's). */
void reprice_release(struct reprice *w);

#endif
