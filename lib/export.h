/*
 * Export of the day aggregates, run by the accountant for the days that
 * changed since their last export: one CSV and one JSON Lines file per UTC
 * day in export.dir, each written to a temporary name and renamed, so a
 * reader never sees half a file; and a JSON document per day for export.url.
 */
#ifndef TOLLGATE_EXPORT_H
#define TOLLGATE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct ledger;

/*
 * One UTC day's aggregates as export text: one line per key, user, team,
 * customer, model (the model_name asked for), provider, deployment (the
 * provider's model) and priced_as (the price-map entry), tags collapsed, so
 * the lines add up to the day's total.  csv starts with its header line.
 */
struct export_day {
	int64_t		day_ns;
	size_t		rows;
	struct buf	csv, jsonl;
};

/* Fills x (zeroed, or reused) with the day holding day_ns; 0 or -1 with err. */
int export_day_build(struct ledger *l, int64_t day_ns, struct export_day *x, char *err,
    size_t errlen);
/* Writes dir/spend-YYYY-MM-DD.csv and .jsonl, each atomically; 0 or -1 with err. */
int export_day_write(const struct export_day *x, const char *dir, char *err, size_t errlen);
/*
 * The JSON document POSTed to export.url: {"object": "tollgate.spend.day",
 * "day", "generated_at", "host", "rows": [the JSON Lines objects]}.
 */
void export_day_json(const struct export_day *x, const char *host, struct buf *body);
void export_day_release(struct export_day *x);

#endif
