/*
 * libFuzzer target: usage collection, normalisation and pricing on arbitrary
 * bytes, read both as one body and as an SSE stream.  Whatever the input, no
 * crash, no undefined behaviour, and no negative count or cost.
 */
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "pricemap.h"
#include "sse.h"
#include "usage.h"

static struct price_table *table;

static const char prices[] =
	"m:\n  input_cost_per_token: 3e-6\n  output_cost_per_token: 1.5e-5\n"
	"  cache_read_input_token_cost: 3e-7\n  input_cost_per_token_above_200k_tokens: 6e-6\n"
	"  input_cost_per_token_batches: 0\n  output_cost_per_token_priority: 3e-5\n"
	"  input_cost_per_second: 0.0001\n  provider_specific_entry: {us: 1.1, fast: 6}\n"
	"  tiered_pricing:\n    - {range: [0, 1000], input_cost_per_token: 1e-6}\n";

static void
check(const struct usage *u, const struct cost *c)
{
	const int64_t counts[] = { u->input, u->cache_read, u->cache_write_5m, u->cache_write_1h,
		u->output, u->reasoning, u->audio_in, u->audio_out, u->image_in, u->image_out,
		u->tool_prompt, u->search_queries };
	size_t i;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (counts[i] < 0)
			abort();
	for (i = 0; i < COST_PART_COUNT; i++)
		if (c->part[i] < 0)
			abort();
	if (c->total < 0)
		abort();
}

static void
price_all(const struct usage_raw *raw)
{
	const struct price_entry *e = price_lookup(table, "m", 1);
	struct cost_options o;
	struct usage u;
	struct cost c;
	int shape;

	for (shape = 0; shape < USAGE_SHAPE_COUNT; shape++) {
		usage_normalise(raw, (enum usage_shape)shape, &u);
		cost_options_init(&o);
		o.batch = shape & 1;
		o.duration_ms = shape * 1000;
		cost_compute(table, e, &u, &o, &c);
		check(&u, &c);
	}
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	(void)event, (void)line;
	usage_collect(arg, data, len, NULL, 0, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usage_raw raw;
	struct sse sse;
	char err[128];
	size_t at;

	if (table == NULL) {
		struct pricemap_builder *b = pricemap_builder_new();
		pricemap_load_yaml(b, "fuzz", prices, strlen(prices), err, sizeof(err));
		table = pricemap_compile(b);
		pricemap_builder_free(b);
	}
	usage_raw_init(&raw);
	usage_collect(&raw, (const char *)data, size, err, sizeof(err), &at);
	price_all(&raw);

	usage_raw_init(&raw);
	sse_init(&sse);
	sse_feed(&sse, (const char *)data, size / 2, on_event, &raw);
	sse_feed(&sse, (const char *)data + size / 2, size - size / 2, on_event, &raw);
	sse_finish(&sse, on_event, &raw);
	sse_release(&sse);
	price_all(&raw);
	return 0;
}
