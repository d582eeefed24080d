/*
 * The router's decisions: slots kept across generations, each strategy's
 * order, litellm_params.order, cooldowns left out, the failure classes the
 * providers' own error bodies fall in, retries, back-off and fallback lists.
 */
#include <unistd.h>

#include "route.h"
#include "router.h"
#include "tap.h"

static const char cfg_text[] =
	"model_list:\n"
	"  - model_name: g\n"
	"    litellm_params: {model: openai/a, api_base: 'http://h1/v1', weight: 1}\n"
	"  - model_name: g\n"
	"    litellm_params: {model: openai/b, api_base: 'http://h2/v1', weight: 1000, order: 2}\n"
	"  - model_name: g\n"
	"    litellm_params: {model: openai/c, api_base: 'http://h3/v1', order: 1}\n"
	"    model_info: {id: my-c}\n"
	"  - model_name: one\n"
	"    litellm_params: {model: openai/a, api_base: 'http://h1/v1'}\n"
	"router_settings:\n"
	"  allowed_fails: 2\n"
	"  cooldown_time: 4\n"
	"  fallbacks: [{g: [one]}, {'*': [g]}]\n"
	"  context_window_fallbacks: [{g: [big]}]\n"
	"  default_fallbacks: [one]\n"
	"  retry_policy: {RateLimitErrorRetries: 5}\n";

static struct router_slot slots[ROUTER_SLOTS];

static int
load(struct config **c, struct routes **r)
{
	char path[] = "/tmp/t_router.XXXXXX", err[512];
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, cfg_text, sizeof(cfg_text) - 1) != (ssize_t)(sizeof(cfg_text) - 1))
		return -1;
	close(fd);
	if (config_load(path, c, err, sizeof(err)) < 0 || routes_build(*c, r, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		unlink(path);
		return -1;
	}
	unlink(path);
	return 0;
}

static size_t
order_of(const struct routes *r, const struct route_model *m, enum config_strategy s,
    uint64_t skip, const int64_t *cost, uint8_t *out, int64_t now)
{
	struct router_ask ask = { 0 };
	int64_t soonest;

	ask.strategy = s;
	ask.now_ns = now;
	ask.skip = skip;
	ask.cost = cost;
	ask.random = 12345;
	return router_order(slots, r, m, &ask, out, &soonest);
}

int
main(void)
{
	struct config *c;
	struct routes *r;
	struct route_model *g;
	struct config_router *rc;
	uint8_t out[ROUTER_CANDIDATES];
	int64_t now = 1000LL * 1000000000, cost[3] = { 30, 10, 20 };
	size_t n, i, firsts[3] = { 0 };
	int slot_b;
	char *const *to;

	if (!ok(load(&c, &r) == 0, "config and routes load"))
		return 1;
	rc = &c->router;
	g = routes_find(r, "g", 1);
	router_assign(slots, r, 1);
	ok(r->deps[0].slot >= 0 && r->deps[1].slot >= 0 && r->deps[0].slot != r->deps[1].slot &&
	    r->deps[0].slot != r->deps[3].slot, "every deployment has a slot of its own (same model, "
	    "another group: another slot)");
	is_str(r->deps[2].model_id, "my-c", "model_info.id is the model id");
	is_int((long long)strlen(r->deps[0].model_id), 16, "else 16 hex digits of the identity");
	slot_b = r->deps[1].slot;
	slots[slot_b].ttfb_us = 777;
	{
		struct config *c2;
		struct routes *r2;

		load(&c2, &r2);
		router_assign(slots, r2, 2);
		is_int(r2->deps[1].slot, slot_b, "a reload keeps a deployment's slot");
		is_int(slots[r2->deps[1].slot].ttfb_us, 777, "and what was learnt");
		routes_free(r2);
		config_free(c2);
	}

	/* order: c (order 1) first, then b (order 2), then a (no order) */
	n = order_of(r, g, CONFIG_ROUTE_SHUFFLE, 0, NULL, out, now);
	is_int((long long)n, 3, "three candidates");
	ok(out[0] == 2 && out[1] == 1 && out[2] == 0, "litellm_params.order: lower first, none last "
	    "(%u %u %u)", out[0], out[1], out[2]);
	slots[r->deps[2].slot].cooldown_until_ns = now + 1;
	n = order_of(r, g, CONFIG_ROUTE_SHUFFLE, 0, NULL, out, now);
	ok(n == 2 && out[0] == 1, "order 1 cooling: order 2 first, the cooling one left out");
	slots[r->deps[2].slot].cooldown_until_ns = 0;

	/* the strategies, with the orders off */
	((struct config_deployment *)r->deps[1].cfg)->order = 0;
	((struct config_deployment *)r->deps[2].cfg)->order = 0;
	for (i = 0; i < 2000; i++) {
		struct router_ask ask = { 0 };
		int64_t soonest;

		ask.strategy = CONFIG_ROUTE_SHUFFLE;
		ask.now_ns = now;
		ask.random = (uint32_t)(i * 2654435761u + 1);
		router_order(slots, r, g, &ask, out, &soonest);
		firsts[out[0]]++;
	}
	ok(firsts[1] > 1900, "simple-shuffle by weight: b (weight 1000 of 1002) first %zu times of 2000",
	    firsts[1]);
	slots[r->deps[0].slot].in_flight = 3;
	slots[r->deps[1].slot].in_flight = 1;
	slots[r->deps[2].slot].in_flight = 2;
	n = order_of(r, g, CONFIG_ROUTE_LEAST_BUSY, 0, NULL, out, now);
	ok(out[0] == 1 && out[1] == 2 && out[2] == 0, "least-busy: fewest in flight first");
	slots[r->deps[0].slot].ttfb_us = 500;
	slots[r->deps[1].slot].ttfb_us = 900;
	slots[r->deps[2].slot].ttfb_us = 0;
	n = order_of(r, g, CONFIG_ROUTE_LATENCY, 0, NULL, out, now);
	ok(out[0] == 2 && out[1] == 0 && out[2] == 1, "latency-based: never measured first, then fastest");
	n = order_of(r, g, CONFIG_ROUTE_COST, 0, cost, out, now);
	ok(out[0] == 1 && out[1] == 2 && out[2] == 0, "cost-based: cheapest first");
	n = order_of(r, g, CONFIG_ROUTE_COST, 1u << 1, cost, out, now);
	ok(n == 2 && out[0] == 2, "skipped places are left out");
	slots[r->deps[0].slot].minute = now / 60000000000LL;
	slots[r->deps[0].slot].minute_tokens = 10;
	slots[r->deps[1].slot].minute = now / 60000000000LL;
	slots[r->deps[1].slot].minute_tokens = 5;
	slots[r->deps[2].slot].minute = now / 60000000000LL - 1;	/* last minute's: none now */
	slots[r->deps[2].slot].minute_tokens = 99;
	n = order_of(r, g, CONFIG_ROUTE_USAGE, 0, NULL, out, now);
	ok(out[0] == 2 && out[1] == 1 && out[2] == 0, "usage-based: fewest tokens this minute first");

	/* failures */
	is_int(router_classify(1, 1, 0, NULL, 0), CONFIG_FAIL_TIMEOUT, "a timeout");
	is_int(router_classify(0, 1, 0, NULL, 0), CONFIG_FAIL_SERVER, "refused: a server error");
	is_int(router_classify(0, 0, 429, "", 0), CONFIG_FAIL_RATE_LIMIT, "429");
	is_int(router_classify(0, 0, 401, "", 0), CONFIG_FAIL_AUTH, "401");
	{
		static const char oai[] = "{\"error\": {\"code\": \"context_length_exceeded\"}}";
		static const char ant[] = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
		    "\"message\":\"prompt is too long: 200000 tokens > 199999 maximum\"}}";
		static const char pol[] = "{\"error\": {\"code\": \"content_policy_violation\"}}";
		static const char bad[] = "{\"error\": {\"message\": \"temperature too high\"}}";

		is_int(router_classify(0, 0, 400, oai, sizeof(oai) - 1), CONFIG_FAIL_CONTEXT_WINDOW,
		    "OpenAI's context_length_exceeded");
		is_int(router_classify(0, 0, 400, ant, sizeof(ant) - 1), CONFIG_FAIL_CONTEXT_WINDOW,
		    "Anthropic's prompt is too long");
		is_int(router_classify(0, 0, 400, pol, sizeof(pol) - 1), CONFIG_FAIL_CONTENT_POLICY,
		    "content_policy_violation");
		is_int(router_classify(0, 0, 400, bad, sizeof(bad) - 1), CONFIG_FAIL_BAD_REQUEST,
		    "any other 400: a bad request");
	}
	is_int(router_retries(rc, CONFIG_FAIL_RATE_LIMIT, 2), 5, "retry_policy: RateLimitErrorRetries");
	is_int(router_retries(rc, CONFIG_FAIL_SERVER, 2), 2, "else num_retries");
	is_int(router_retries(rc, CONFIG_FAIL_BAD_REQUEST, 2), 0, "a bad request is never retried");
	is_int(router_backoff_ms(rc, 1500, 0, 0), 1500, "back-off: the provider's retry-after");
	ok(router_backoff_ms(rc, -1, 0, 7) >= 500 && router_backoff_ms(rc, -1, 0, 7) <= 625,
	    "else 0.5 s and jitter");
	ok(router_backoff_ms(rc, -1, 9, 7) >= 8000 && router_backoff_ms(rc, -1, 9, 7) <= 10000,
	    "at most 8 s and jitter");
	to = router_fallbacks(rc, "g", CONFIG_FAIL_SERVER, &n);
	ok(to != NULL && n == 1 && strcmp(to[0], "one") == 0, "fallbacks for g");
	to = router_fallbacks(rc, "g", CONFIG_FAIL_CONTEXT_WINDOW, &n);
	ok(to != NULL && n == 1 && strcmp(to[0], "big") == 0, "context_window_fallbacks for g");
	to = router_fallbacks(rc, "other", CONFIG_FAIL_TIMEOUT, &n);
	ok(to != NULL && strcmp(to[0], "g") == 0, "'*' for a group with none of its own");
	to = router_fallbacks(rc, "g", CONFIG_FAIL_BAD_REQUEST, &n);
	ok(to == NULL, "a bad request falls back nowhere");

	/* cooldowns: allowed_fails 2 (the third failure in a minute), a 429's retry-after */
	{
		struct router_slot *s = &slots[r->deps[0].slot];

		s->minute_fails = 0;
		s->cooldown_until_ns = 0;
		s->in_flight = 0;
		router_attempt_begin(s, now);
		ok(!router_attempt_end(s, rc, 0, CONFIG_FAIL_SERVER, 500, -1, 0, 3, now), "first failure");
		router_attempt_begin(s, now);
		ok(!router_attempt_end(s, rc, 0, CONFIG_FAIL_SERVER, 500, -1, 0, 3, now), "second");
		router_attempt_begin(s, now);
		ok(router_attempt_end(s, rc, 0, CONFIG_FAIL_SERVER, 500, -1, 0, 3, now),
		    "the third passes allowed_fails: cooled");
		is_int(s->cooldown_until_ns, now + 4000000000LL, "for cooldown_time");
		ok(router_cooling(s, now + 3999999999LL) && !router_cooling(s, now + 4000000000LL),
		    "cooling until then, not after");
		router_attempt_begin(s, now + 5000000000LL);
		ok(router_attempt_end(s, rc, 0, CONFIG_FAIL_RATE_LIMIT, 429, 7000, 0, 3,
		    now + 5000000000LL), "a 429 cools at once");
		is_int(s->cooldown_until_ns, now + 12000000000LL, "for its retry-after");
		s->cooldown_until_ns = 0;
		router_attempt_begin(s, now);
		ok(!router_attempt_end(s, rc, 0, CONFIG_FAIL_RATE_LIMIT, 429, -1, 0, 1, now) &&
		    s->cooldown_until_ns == 0, "the only deployment of its group is never cooled");
		router_attempt_begin(s, now);
		ok(!router_attempt_end(s, rc, 0, CONFIG_FAIL_BAD_REQUEST, 400, -1, 0, 3, now),
		    "a bad request is the client's: not counted");
		is_int(s->in_flight, 0, "in flight back to 0");
	}
	routes_free(r);
	config_free(c);
	return done_testing();
}
