/*
 * Spend queries over the accountant's aggregates (lib/aggregate.h), shared by
 * tollctl spend and tollgated's spend API: group the rows of a window by some
 * dimensions (and the day or hour), keep those that match exact filters, and
 * add up each group.  The query picks the smallest table that answers it
 * (spendq_table()), so that a day-level question never reads the raw records
 * and, where it can, not the wide day rows either.
 */
#ifndef TOLLGATE_SPENDQ_H
#define TOLLGATE_SPENDQ_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "ledger.h"
#include "money.h"

/* Group-by values beyond enum agg_dim: the row's UTC day, its hour. */
#define SPENDQ_BY_DAY	AGG_DIM_COUNT
#define SPENDQ_BY_HOUR	(AGG_DIM_COUNT + 1)
#define SPENDQ_MAX_BY	11

struct spendq_group {
	char			*name;		/* the values grouped by, '\x1f' between */
	struct agg_value	 v;
};

/*
 * What to read: fill by, nby, filter, hour, since and until, then call
 * spendq_run(), which fills g and n (sorted by name).  keep, when set, is
 * asked for every row that passed the filters and may refuse it (return 0).
 */
struct spendq {
	int			 by[SPENDQ_MAX_BY];	/* enum agg_dim, SPENDQ_BY_DAY or _HOUR */
	int			 nby;
	const char		*filter[AGG_DIM_COUNT];	/* NULL: any value */
	int			 hour;		/* read the hourly rows */
	int64_t			 since, until;	/* bucket starts in [since, until) */
	int			(*keep)(void *arg, const struct agg_row *row);
	void			*keep_arg;
	size_t			 max_rows;	/* rows kept at most; 0: no limit */
	struct spendq_group	*g;
	size_t			 n, cap;
	/* set by spendq_run() */
	int			 per_tag;	/* the per-tag rows answer */
	int			 only_dim;	/* the one-dimension rows of this dimension; -1: other tables */
	int			 oom;
	int			 too_many;	/* max_rows was reached */
	int64_t			 text_bucket;	/* the bucket text holds, for text_by */
	int			 text_by;
	char			 text[32];
};

/*
 * The table that answers q: the hourly rows for hours; else the model-day
 * rollup when every grouping and filter is by model, provider, deployment,
 * priced_as or day; else
 * the one-dimension rollup when they are by day and one of key, user, team,
 * customer or tag; else the wide day rows.
 */
enum agg_table spendq_table(const struct spendq *q);

/*
 * Reads and groups q's rows in one read transaction of l.  Returns 0, 1 when
 * the ledger has no aggregates yet, SPENDQ_TOO_MANY when more than
 * q->max_rows rows passed the filters (the groups are then incomplete), or
 * -1 with err ("out of memory" too).  Rows are kept until they are grouped,
 * so that max_rows bounds the memory and the time a query takes.
 */
#define SPENDQ_TOO_MANY	2
int spendq_run(struct ledger *l, struct spendq *q, char *err, size_t errlen);

/* Frees the groups; q can be run again. */
void spendq_release(struct spendq *q);

/* The next value of a group name; cuts the name, moves *p past it. */
char *spendq_field(char **p);

/*
 * The cost columns after the total: one per cost part, except that cache
 * writes of both lifetimes share one, as they share a token column.  Each
 * part is in exactly one column, so that the columns add up to the total.
 */
struct spendq_cost_col {
	const char	*name;
	unsigned	 parts;		/* 1 << enum cost_part, for each part it sums */
};
extern const struct spendq_cost_col spendq_cost_cols[];
#define SPENDQ_NCOST_COLS	(COST_PART_COUNT - 1)
#define SPENDQ_NCOSTS		(1 + SPENDQ_NCOST_COLS)	/* the total, then the columns */
#define SPENDQ_NCOUNTS		7

/* "requests", "errors", "input", "cache_read", "cache_write", "output", "reasoning" */
extern const char *const spendq_count_names[SPENDQ_NCOUNTS];

/* A group's numbers as printed: its counts, then its costs as exact decimal text. */
struct spendq_line {
	long long	count[SPENDQ_NCOUNTS];
	char		cost[SPENDQ_NCOSTS][MONEY_FORMAT_MAX];
};
void spendq_line_of(const struct agg_value *v, struct spendq_line *ln);

/* ns as "YYYY-MM-DD" (hour: "YYYY-MM-DDTHH:00Z"), UTC. */
void spendq_bucket_text(int64_t ns, int hour, char *buf, size_t len);

#endif
