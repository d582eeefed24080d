/*
 * Reconciling the ledger with a provider's usage export (tollctl reconcile):
 * read the provider's CSV into per-model totals, sum the ledger's records
 * into the same categories, pair the models, and compare category by
 * category against a threshold.  Pure functions over memory; tollctl does
 * the file and ledger I/O.  See shared/reference/usage-and-pricing.md,
 * section 5.
 */
#ifndef TOLLGATE_RECONCILE_H
#define TOLLGATE_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct buf;

/* The categories both sides are compared in.  Tokens are counts, cost picodollars. */
enum reconcile_cat {
	RECONCILE_REQUESTS,	/* requests answered 2xx */
	RECONCILE_INPUT,	/* uncached input of every modality */
	RECONCILE_OUTPUT,	/* output including reasoning, of every modality */
	RECONCILE_CACHE_READ,
	RECONCILE_CACHE_WRITE,	/* 5-minute and 1-hour writes together */
	RECONCILE_COST,		/* picodollars */
	RECONCILE_CAT_COUNT
};

enum reconcile_format {
	RECONCILE_FMT_GENERIC,		/* date,model,requests,input,output,cache_read,cache_write,cost */
	RECONCILE_FMT_OPENAI_USAGE,	/* OpenAI usage dashboard export (CSV or TSV) */
	RECONCILE_FMT_ANTHROPIC_USAGE,	/* Anthropic Console usage export */
};

#define RECONCILE_MODEL_MAX	128

/* One model's totals on one side. */
struct reconcile_totals {
	char		model[RECONCILE_MODEL_MAX];
	int64_t		v[RECONCILE_CAT_COUNT];
	uint32_t	have;		/* bit c: the side reported category c */
	int64_t		errors;		/* tollgate: records answered outside 2xx */
};

/* A growable list of per-model totals, one entry per distinct name. */
struct reconcile_set {
	struct reconcile_totals	*m;
	size_t			 n;
	size_t			 cap;
};

void reconcile_set_release(struct reconcile_set *s);

/*
 * Parses a provider export (buf, len; name is used in messages) and adds the
 * rows whose UTC day (or hour) starts in [since_ns, until_ns) to out, per
 * model.  The format is detected from the header and stored in *fmt.
 * Returns 0, or -1 with "name:line: ..." naming the column in err.
 */
int reconcile_parse_csv(const char *name, const char *buf, size_t len, int64_t since_ns,
    int64_t until_ns, struct reconcile_set *out, enum reconcile_format *fmt, char *err,
    size_t errlen);

const char *reconcile_format_name(enum reconcile_format f);
const char *reconcile_cat_name(enum reconcile_cat c);

/*
 * tollgate's side: adds one ledger record to out under its model: the
 * deployment (the provider's model, as its export names it), else priced_as,
 * else model_requested.  0, or -1 on ENOMEM.
 */
int reconcile_add_record(struct reconcile_set *out, const struct record *r);

/* 1 when r names model as its model_requested, deployment or priced_as. */
int reconcile_record_matches(const struct record *r, const char *model);

/*
 * The model-name rule used to pair the sides: the name without a provider
 * prefix (up to the last '/') and without a trailing snapshot date
 * (-YYYYMMDD or -YYYY-MM-DD), written to dst (size RECONCILE_MODEL_MAX).
 */
void reconcile_model_key(const char *model, char *dst);

enum reconcile_side { RECONCILE_BOTH, RECONCILE_ONLY_TOLLGATE, RECONCILE_ONLY_PROVIDER };

enum reconcile_verdict {
	RECONCILE_OK,
	RECONCILE_QUANTITIES_DIFFER,
	RECONCILE_COST_DIFFERS,
	RECONCILE_ONE_SIDE,		/* the model is only on one side */
};

/* One compared model: the sides summed, each category's verdict. */
struct reconcile_row {
	char			model[RECONCILE_MODEL_MAX];		/* tollgate's name(s) */
	char			provider_model[2 * RECONCILE_MODEL_MAX];	/* the export's name(s) */
	enum reconcile_side	side;
	struct reconcile_totals	gate, prov;
	int64_t			delta[RECONCILE_CAT_COUNT];	/* gate - prov, when compared */
	int64_t			pct10[RECONCILE_CAT_COUNT];	/* delta in tenths of a percent */
	uint32_t		compared;	/* bit c: both sides have c */
	uint32_t		beyond;		/* bit c: |delta| beyond the threshold */
	enum reconcile_verdict	verdict;
};

struct reconcile_report {
	struct reconcile_row	*rows;
	size_t			 n;
	size_t			 cap;
	int			 any_beyond;
};

/*
 * Pairs gate and prov by model name (exact, then by reconcile_model_key(),
 * summing the entries that share a key) and compares them; threshold10 is
 * the threshold in tenths of a percent.  A category is beyond it when
 * |delta| * 1000 > threshold10 * |provider| (a provider value of 0 and a
 * non-zero tollgate value is always beyond).  A model only on one side is
 * beyond when it has any non-zero value.  0, or -1 on ENOMEM.
 */
int reconcile_compare(const struct reconcile_set *gate, const struct reconcile_set *prov,
    int64_t threshold10, struct reconcile_report *out);
void reconcile_report_release(struct reconcile_report *r);

/* The verdict text of a row, as the table prints it. */
const char *reconcile_verdict_text(const struct reconcile_row *row, char *buf, size_t len);

/* Appends the report as a table, or as one JSON object; 0 or -1 on ENOMEM. */
int reconcile_write_table(const struct reconcile_report *r, int64_t threshold10, struct buf *o);
int reconcile_write_json(const struct reconcile_report *r, int64_t since_ns, int64_t until_ns,
    enum reconcile_format fmt, int64_t threshold10, struct buf *o);

#endif
