/*
 * Periodic export of the day aggregates, run by the accountant: one CSV and
 * one JSON Lines file per UTC day in export_dir, each written to a temporary
 * name and renamed, so a reader never sees half a file.
 */
#ifndef TOLLGATE_EXPORT_H
#define TOLLGATE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct ledger;

/*
 * Writes dir/spend-YYYY-MM-DD.csv and .jsonl for every UTC day starting in
 * [since_ns, until_ns) that has aggregate rows (one line per key, user,
 * team, customer, model and provider; tags collapsed, so lines add up to the
 * day's total).  Returns the number of days written, or -1 with err.
 */
int export_days(struct ledger *l, const char *dir, int64_t since_ns, int64_t until_ns,
    char *err, size_t errlen);

#endif
