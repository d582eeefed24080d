/*
 * Live counters for GET /metrics (see metrics.h).
 */
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"
#include "provider/endpoint.h"

/* Upper bounds of the histogram buckets, in microseconds: 50 µs to 5 minutes. */
static const uint64_t bucket_us[METRICS_BUCKETS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000, 500000, 1000000,
	5000000, 30000000, 300000000
};

static const int statuses[] = {
	200, 201, 204, 400, 401, 402, 403, 404, 405, 408, 409, 413, 414, 415, 422, 429, 431,
	500, 501, 502, 503, 504, 505
};
#define NSTATUSES	(sizeof(statuses) / sizeof(statuses[0]))

_Static_assert(METRICS_ENDPOINTS == ENDPOINT_COUNT + 1, "one count per endpoint, and other");

static const struct {
	const char	*name, *help;
} hist_names[METRICS_HIST_COUNT] = {
	{ "tollgate_upstream_seconds", "Time from a request's arrival to the end of the provider's answer." },
	{ "tollgate_time_to_first_byte_seconds", "Time from a request's arrival to the first byte sent back." },
	{ "tollgate_ledger_commit_seconds", "Time a worker's ledger commit (one per loop turn) took." },
};

struct metrics *
metrics_create(void)
{
	void *p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;	/* zeroed by the kernel */
}

void
metrics_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* A counter of every worker's slot summed: the one at byte offset off in struct metrics_slot. */
static uint64_t
slots_sum(const struct metrics *m, size_t off)
{
	uint64_t total = 0;
	size_t w;

	for (w = 0; w < METRICS_SLOTS; w++)
		total += get((const uint64_t *)((const char *)&m->slot[w] + off));
	return total;
}

#define SLOTS_SUM(m, field)	slots_sum(m, offsetof(struct metrics_slot, field))

int
metrics_endpoint(const char *path)
{
	const struct endpoint *e = endpoint_find(path);

	return e != NULL ? (int)e->id : METRICS_ENDPOINTS - 1;
}

/* The endpoint's label: its path, or "other". */
static const char *
endpoint_name(size_t i)
{
	const struct endpoint *e = endpoint_get((enum endpoint_id)i);

	return e != NULL ? e->path : "other";
}

void
metrics_observe(struct metrics_slot *s, enum metrics_hist h, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
	size_t i;

	for (i = 0; i < METRICS_BUCKETS && us > bucket_us[i]; i++)
		;
	metrics_add(&s->hist[h][i], 1);
	metrics_add(&s->hist_sum_us[h], us);
}

void
metrics_response(struct metrics_slot *s, int endpoint, int status)
{
	size_t i;

	if (endpoint < 0 || endpoint >= METRICS_ENDPOINTS)
		endpoint = METRICS_ENDPOINTS - 1;
	for (i = 0; i < NSTATUSES && statuses[i] != status; i++)
		;
	if (i == NSTATUSES)	/* by class: 1xx .. 5xx */
		i = NSTATUSES + (size_t)(status >= 100 && status < 600 ? status / 100 - 1 : 4);
	metrics_add(&s->responses[endpoint][i], 1);
}

void
metrics_usage_flags(struct metrics_slot *s, uint32_t flags)
{
	unsigned bit;

	for (bit = 0; bit < USAGE_FLAG_FLAG_COUNT; bit++)
		if (flags & (1u << bit))
			metrics_add(&s->usage_flags[bit], 1);
}

int
metrics_label(struct buf *out, const char *value)
{
	const char *p;

	for (p = value; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;

		if ((esc ? buf_append(out, esc, 2) : buf_append(out, p, 1)) < 0)
			return -1;
	}
	return 0;
}

static void
status_label(size_t i, char out[8])
{
	if (i < NSTATUSES) {
		out[0] = (char)('0' + statuses[i] / 100);
		out[1] = (char)('0' + statuses[i] / 10 % 10);
		out[2] = (char)('0' + statuses[i] % 10);
	} else {
		out[0] = (char)('1' + (i - NSTATUSES));
		out[1] = out[2] = 'x';
	}
	out[3] = '\0';
}

/* Seconds from microseconds, as exact decimal text. */
static void
seconds(struct buf *out, uint64_t us)
{
	buf_printf(out, "%llu.%06llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

int
metrics_write(const struct metrics *m, struct buf *out)
{
	uint64_t sum[METRICS_BUCKETS + 1], total, cum;
	size_t h, i, j, w;
	char code[8];

	buf_printf(out, "# HELP tollgate_responses_total Answers sent, by endpoint and HTTP status.\n"
	    "# TYPE tollgate_responses_total counter\n");
	for (i = 0; i < METRICS_ENDPOINTS; i++)
		for (j = 0; j < METRICS_STATUSES; j++) {
			if ((total = SLOTS_SUM(m, responses[i][j])) == 0)
				continue;
			status_label(j, code);
			buf_printf(out, "tollgate_responses_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
			    endpoint_name(i), code, (unsigned long long)total);
		}
	for (h = 0; h < METRICS_HIST_COUNT; h++) {
		uint64_t us = 0;

		memset(sum, 0, sizeof(sum));
		for (w = 0; w < METRICS_SLOTS; w++) {
			for (i = 0; i <= METRICS_BUCKETS; i++)
				sum[i] += get(&m->slot[w].hist[h][i]);
			us += get(&m->slot[w].hist_sum_us[h]);
		}
		buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", hist_names[h].name,
		    hist_names[h].help, hist_names[h].name);
		for (cum = 0, i = 0; i < METRICS_BUCKETS; i++) {
			cum += sum[i];
			buf_printf(out, "%s_bucket{le=\"", hist_names[h].name);
			seconds(out, bucket_us[i]);
			buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
		}
		cum += sum[METRICS_BUCKETS];
		buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", hist_names[h].name,
		    (unsigned long long)cum, hist_names[h].name);
		seconds(out, us);
		buf_printf(out, "\n%s_count %llu\n", hist_names[h].name, (unsigned long long)cum);
	}
	buf_printf(out, "# HELP tollgate_usage_anomalies_total Records whose usage carried the flag.\n"
	    "# TYPE tollgate_usage_anomalies_total counter\n");
	for (i = 0; i < USAGE_FLAG_FLAG_COUNT; i++)
		buf_printf(out, "tollgate_usage_anomalies_total{flag=\"%s\"} %llu\n",
		    usage_flag_name((unsigned)i), (unsigned long long)SLOTS_SUM(m, usage_flags[i]));
	total = SLOTS_SUM(m, provider_costs);
	cum = SLOTS_SUM(m, cost_mismatches);
	buf_printf(out, "# HELP tollgate_provider_costs_total Records whose provider reported its own cost.\n"
	    "# TYPE tollgate_provider_costs_total counter\n"
	    "tollgate_provider_costs_total %llu\n"
	    "# HELP tollgate_cost_mismatches_total Of those, the ones whose cost differs from tollgate's by more than cost_mismatch_threshold.\n"
	    "# TYPE tollgate_cost_mismatches_total counter\n"
	    "tollgate_cost_mismatches_total %llu\n", (unsigned long long)total,
	    (unsigned long long)cum);
	total = SLOTS_SUM(m, records);
	cum = SLOTS_SUM(m, records_unwritten);
	buf_printf(out, "# HELP tollgate_records_committed_total Spend records committed to the ledger by workers.\n"
	    "# TYPE tollgate_records_committed_total counter\n"
	    "tollgate_records_committed_total %llu\n"
	    "# HELP tollgate_records_spilled_total Records a commit could not take, kept in the spill file.\n"
	    "# TYPE tollgate_records_spilled_total counter\n"
	    "tollgate_records_spilled_total %llu\n"
	    "# HELP tollgate_restarts_total Children respawned after they died.\n"
	    "# TYPE tollgate_restarts_total counter\n"
	    "tollgate_restarts_total{role=\"worker\"} %llu\n"
	    "tollgate_restarts_total{role=\"accountant\"} %llu\n",
	    (unsigned long long)total, (unsigned long long)cum,
	    (unsigned long long)get(&m->worker_restarts),
	    (unsigned long long)get(&m->accountant_restarts));
	buf_printf(out, "# HELP tollgate_price_map_loaded_timestamp_seconds When the price table in use was made.\n"
	    "# TYPE tollgate_price_map_loaded_timestamp_seconds gauge\n"
	    "tollgate_price_map_loaded_timestamp_seconds %llu\n"
	    "# HELP tollgate_price_map_load_seconds How long making the price table in use took.\n"
	    "# TYPE tollgate_price_map_load_seconds gauge\n"
	    "tollgate_price_map_load_seconds ",
	    (unsigned long long)(get(&m->prices_loaded_unix_ns) / 1000000000));
	seconds(out, get(&m->prices_load_us));
	return buf_append(out, "\n", 1);
}
