/*
 * ledgergen: fills a ledger with synthetic spend records, for benchmarks of
 * the ledger, the accountant and tollctl's reports at realistic sizes.
 * Usage: ledgergen DIR COUNT [DAYS [MIX]]
 * Records end in time order (as a gateway writes them) over the last DAYS
 * days (default 30), spread
 * over 50 models, 200 keys, 20 teams, 1,000 customers and 10 tags, with
 * realistic token counts including cache reads and writes.  MIX "independent"
 * (the default) draws each dimension apart, the worst case for the
 * aggregates (nearly every record a row of its own); "keyed" is a gateway's:
 * a key belongs to one user, team and customer, uses three models and one
 * tag.  Deterministic: the same arguments give the same records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ledger.h"

#define BATCH 10000

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
fill(struct record *r, uint64_t i, uint64_t count, int64_t now, int days, int keyed)
{
	static const char *const providers[] = { "openai", "anthropic", "gemini", "deepseek", "xai" };
	static const uint64_t uses[3] = { 0, 7, 19 };	/* a key's models, apart */
	int64_t span = (int64_t)days * 86400 * 1000000000LL;
	uint64_t m = next() % 50, key = next() % 200, k;

	memset(r, 0, sizeof(*r));
	r->end_ns = now - span + (int64_t)((__int128)span * (__int128)i / (__int128)count);
	r->start_ns = r->end_ns - (int64_t)(next() % 5000000000ULL);
	r->first_byte_ns = r->start_ns + (int64_t)(next() % 500000000ULL);
	r->status = next() % 50 ? 200 : 429 + (next() % 2) * 71;
	snprintf(r->id, sizeof(r->id), "req_gen%016llx", (unsigned long long)i);
	snprintf(r->key, sizeof(r->key), "key:%08llx", (unsigned long long)key);
	if (keyed) {
		m = (key + uses[next() % 3]) % 50;
		snprintf(r->user, sizeof(r->user), "user-%llu", (unsigned long long)key);
		snprintf(r->team, sizeof(r->team), "team-%llu", (unsigned long long)(key % 20));
		snprintf(r->customer, sizeof(r->customer), "cust-%llu", (unsigned long long)(key * 5));
		if (key % 3)
			snprintf(r->tags, sizeof(r->tags), "tag-%llu", (unsigned long long)(key % 10));
	} else {
		snprintf(r->team, sizeof(r->team), "team-%llu", (unsigned long long)(next() % 20));
		snprintf(r->customer, sizeof(r->customer), "cust-%llu",
		    (unsigned long long)(next() % 1000));
		if (next() % 3)
			snprintf(r->tags, sizeof(r->tags), "tag-%llu", (unsigned long long)(next() % 10));
	}
	snprintf(r->endpoint, sizeof(r->endpoint), "/v1/chat/completions");
	snprintf(r->model_requested, sizeof(r->model_requested), "model-%02llu", (unsigned long long)m);
	snprintf(r->deployment, sizeof(r->deployment), "model-%02llu", (unsigned long long)m);
	snprintf(r->priced_as, sizeof(r->priced_as), "model-%02llu", (unsigned long long)m);
	snprintf(r->provider, sizeof(r->provider), "%s", providers[m % 5]);
	snprintf(r->shape, sizeof(r->shape), "openai");
	snprintf(r->tier, sizeof(r->tier), "standard");
	r->generation = 1;
	r->tokens[RECORD_TOK_INPUT] = (int64_t)(next() % 4000);
	r->tokens[RECORD_TOK_CACHE_READ] = (int64_t)(next() % 3 ? 0 : next() % 20000);
	r->tokens[RECORD_TOK_CACHE_WRITE_5M] = (int64_t)(next() % 5 ? 0 : next() % 5000);
	r->tokens[RECORD_TOK_OUTPUT] = (int64_t)(next() % 1000);
	r->tokens[RECORD_TOK_REASONING] = (int64_t)(next() % 4 ? 0 : next() % 2000);
	r->cost[COST_INPUT] = r->tokens[RECORD_TOK_INPUT] * 2500000;
	r->cost[COST_CACHE_READ] = r->tokens[RECORD_TOK_CACHE_READ] * 250000;
	r->cost[COST_CACHE_WRITE_5M] = r->tokens[RECORD_TOK_CACHE_WRITE_5M] * 3125000;
	r->cost[COST_OUTPUT] = r->tokens[RECORD_TOK_OUTPUT] * 10000000;
	r->cost[COST_REASONING] = r->tokens[RECORD_TOK_REASONING] * 10000000;
	for (k = 0; k < COST_PART_COUNT; k++)
		r->total += r->cost[k];
}

int
main(int argc, char **argv)
{
	struct ledger *l;
	struct record *batch;
	char err[1024];
	uint64_t count, i;
	int64_t now = clock_now_ns();
	int days = argc > 3 ? atoi(argv[3]) : 30;
	int keyed = argc > 4 && strcmp(argv[4], "keyed") == 0;
	size_t n = 0;

	if (argc < 3 || (count = strtoull(argv[2], NULL, 10)) == 0 || days <= 0 ||
	    (argc > 4 && !keyed && strcmp(argv[4], "independent") != 0)) {
		fprintf(stderr, "usage: ledgergen DIR COUNT [DAYS [independent|keyed]]\n");
		return 1;
	}
	if (ledger_open(argv[1], LEDGER_WRITE, (size_t)8 << 30, 1, &l, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgergen: %s\n", err);
		return 1;
	}
	if ((batch = calloc(BATCH, sizeof(*batch))) == NULL)
		return 1;
	for (i = 0; i < count; i++) {
		fill(&batch[n++], i, count, now, days, keyed);
		if (n == BATCH || i + 1 == count) {
			if (ledger_append(l, batch, n, err, sizeof(err)) != 0) {
				fprintf(stderr, "ledgergen: %s\n", err);
				return 1;
			}
			n = 0;
		}
	}
	ledger_sync(l);
	ledger_close(l);
	free(batch);
	return 0;
}
