/*
 * Live counters for GET /metrics: what the ledger's aggregates cannot say
 * (answers by endpoint and status, latency histograms, anomalies seen, child
 * restarts), kept in one shared anonymous mapping made by the master before
 * it forks.  Each worker adds to its own slot with relaxed atomic adds; a
 * scrape sums the slots.  Counters only grow, as Prometheus expects.
 */
#ifndef TOLLGATE_METRICS_H
#define TOLLGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "usage.h"

#define METRICS_SLOTS		1024	/* worker indexes; tollgate.workers is at most 1024 */
#define METRICS_BUCKETS		15	/* finite histogram buckets; +Inf is the count */

enum metrics_hist { METRICS_UPSTREAM, METRICS_TTFB, METRICS_COMMIT, METRICS_HIST_COUNT };

/* The endpoints counted one by one; everything else is "other". */
#define METRICS_ENDPOINTS	6
/* The statuses counted one by one (23), then the rest by class ("1xx" to "5xx"). */
#define METRICS_STATUSES	28

struct metrics_slot {
	uint64_t	hist[METRICS_HIST_COUNT][METRICS_BUCKETS + 1];	/* per bucket, last: over */
	uint64_t	hist_sum_us[METRICS_HIST_COUNT];
	uint64_t	responses[METRICS_ENDPOINTS][METRICS_STATUSES];
	uint64_t	usage_flags[USAGE_FLAG_FLAG_COUNT];
	uint64_t	records, records_unwritten;
	uint64_t	provider_costs, cost_mismatches;	/* answers with the provider's cost; differing */
};

struct metrics {
	uint64_t		worker_restarts, accountant_restarts;	/* the master's */
	uint64_t		prices_loaded_unix_ns;	/* when the price generation in use was made */
	uint64_t		prices_load_us;		/* and how long that took */
	struct metrics_slot	slot[METRICS_SLOTS];
};

/* The shared mapping (before fork); NULL when it cannot be made. */
struct metrics *metrics_create(void);

/* The endpoint's number for responses[] (0 .. METRICS_ENDPOINTS - 1). */
int metrics_endpoint(const char *path);

void metrics_observe(struct metrics_slot *s, enum metrics_hist h, int64_t ns);
void metrics_response(struct metrics_slot *s, int endpoint, int status);
void metrics_usage_flags(struct metrics_slot *s, uint32_t flags);
void metrics_add(uint64_t *counter, uint64_t n);

/* The live metrics in Prometheus text format (0.0.4), summed over the slots. */
int metrics_write(const struct metrics *m, struct buf *out);

/*
 * Helpers for the rest of a scrape: a label value escaped as the format
 * wants (backslash, quote, line feed), and a sample line.
 */
int metrics_label(struct buf *out, const char *value);

#endif
