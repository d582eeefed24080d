/*
 * Pricing micro benchmarks (make bench): normalise + price a typical 2 KB
 * chat completion, the same for a streamed response fed event by event, and
 * the time to load and compile price maps.  Prints figures; asserts nothing.
 * Usage: bench_pricing [COMMUNITY_MAP_JSON] [CURATED_YAML]
 * BENCH_ITERS in the environment sets bodies per round (default 200000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cost.h"
#include "pricemap.h"
#include "sse.h"
#include "usage.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A chat completion of about 2 KB, usage last, as OpenAI sends it. */
static void
make_body(struct buf *b)
{
	int i;

	buf_printf(b, "{\"id\": \"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\", \"object\": \"chat.completion\", "
	    "\"created\": 1741570283, \"model\": \"gpt-4o-2024-08-06\", \"choices\": [{\"index\": 0, "
	    "\"message\": {\"role\": \"assistant\", \"content\": \"");
	for (i = 0; i < 26; i++)
		buf_printf(b, "The quick brown fox jumps over the lazy dog \\\"%02d\\\". ", i);
	buf_printf(b, "\", \"refusal\": null, \"annotations\": []}, \"logprobs\": null, "
	    "\"finish_reason\": \"stop\"}], \"usage\": {\"prompt_tokens\": 1117, \"completion_tokens\": 46, "
	    "\"total_tokens\": 1163, \"prompt_tokens_details\": {\"cached_tokens\": 1024, "
	    "\"audio_tokens\": 0}, \"completion_tokens_details\": {\"reasoning_tokens\": 0, "
	    "\"audio_tokens\": 0, \"accepted_prediction_tokens\": 0, \"rejected_prediction_tokens\": 0}}, "
	    "\"service_tier\": \"default\", \"system_fingerprint\": \"fp_fc9f1d7035\"}");
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	(void)event, (void)line;
	if (len && data[0] == '{')
		usage_collect(arg, data, len, NULL, 0, NULL);
	return 0;
}

static struct price_table *
load(const char **files, int n, double *ms)
{
	struct pricemap_builder *b = pricemap_builder_new();
	struct price_table *t = NULL;
	char err[512];
	double t0 = now();
	int i;

	for (i = 0; i < n; i++)
		if (pricemap_load_file(b, files[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "bench: %s\n", err);
			pricemap_builder_free(b);
			return NULL;
		}
	t = pricemap_compile(b);
	*ms = (now() - t0) * 1000;
	pricemap_builder_free(b);
	return t;
}

int
main(int argc, char **argv)
{
	const char *community = argc > 1 ? argv[1] : NULL;
	const char *curated = argc > 2 ? argv[2] : "etc/prices.yaml";
	const int rounds = 7;
	const int iters = getenv("BENCH_ITERS") ? atoi(getenv("BENCH_ITERS")) : 200000;
	double samples[7], ms;
	struct buf body = { 0 }, stream = { 0 };
	struct price_table *t;
	struct cost_options o;
	int64_t sink = 0;
	int r, i;

	cost_options_init(&o);
	make_body(&body);

	/* price-map loads */
	if (community != NULL) {
		for (r = 0; r < rounds; r++) {
			t = load(&community, 1, &samples[r]);
			if (t == NULL)
				return 1;
			free(t);
		}
		printf("map_load_community_ms %.1f\n", median(samples, rounds));
	}
	for (r = 0; r < rounds; r++) {
		if ((t = load(&curated, 1, &samples[r])) == NULL)
			return 1;
		free(t);
	}
	printf("map_load_curated_ms %.2f\n", median(samples, rounds));
	t = community ? load((const char *[]){ community, curated }, 2, &ms) : load(&curated, 1, &ms);
	if (t == NULL)
		return 1;

	/* one 2 KB body: collect, normalise, look up, price */
	for (r = 0; r < rounds; r++) {
		double t0 = now();
		for (i = 0; i < iters; i++) {
			struct usage_raw raw;
			struct usage u;
			struct cost c;

			usage_raw_init(&raw);
			usage_collect(&raw, body.data, body.len, NULL, 0, NULL);
			usage_normalise(&raw, USAGE_SHAPE_AUTO, &u);
			cost_compute(t, price_lookup(t, u.model, strlen(u.model)), &u, &o, &c);
			sink += c.total;
		}
		samples[r] = (now() - t0) * 1e9 / iters;
	}
	printf("body_bytes %zu\n", body.len);
	printf("price_body_ns %.0f\n", median(samples, rounds));

	/* a 50-chunk stream with a final usage chunk, split and fed event by event */
	for (i = 0; i < 50; i++)
		buf_printf(&stream, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
		    "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
		    "\"token %d \"},\"finish_reason\":null}],\"usage\":null}\n\n", i);
	buf_printf(&stream, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
	    "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":1117,"
	    "\"completion_tokens\":46,\"total_tokens\":1163,\"prompt_tokens_details\":"
	    "{\"cached_tokens\":1024}}}\n\ndata: [DONE]\n\n");
	for (r = 0; r < rounds; r++) {
		double t0 = now();
		for (i = 0; i < iters / 10; i++) {
			struct usage_raw raw;
			struct usage u;
			struct cost c;
			struct sse sse;

			usage_raw_init(&raw);
			sse_init(&sse);
			sse_feed(&sse, stream.data, stream.len, on_event, &raw);
			sse_finish(&sse, on_event, &raw);
			sse_release(&sse);
			usage_normalise(&raw, USAGE_SHAPE_AUTO, &u);
			cost_compute(t, price_lookup(t, u.model, strlen(u.model)), &u, &o, &c);
			sink += c.total;
		}
		samples[r] = (now() - t0) * 1e9 / (iters / 10);
	}
	printf("stream_bytes %zu\n", stream.len);
	printf("price_stream_ns %.0f\n", median(samples, rounds));
	printf("checksum %lld\n", (long long)sink);
	free(t);
	buf_release(&body);
	buf_release(&stream);
	return 0;
}
