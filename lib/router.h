/*
 * The router: which deployment of a model group a request tries, in what
 * order, and what a failed attempt means (LiteLLM's router_settings:
 * strategies, order, cooldowns, retries and fallbacks).
 *
 * What the workers of a host learn about a deployment (requests in flight,
 * time to first byte, failures this minute, cooldown) lives in one slot of
 * shared memory per deployment, inside the status file (lib/status.h), so
 * that every worker routes by what all of them saw and tollctl status shows
 * it.  The master writes a slot's identity when it builds a generation's
 * routes (router_assign()); workers count into the live fields with relaxed
 * atomics: no lock, and a decision that reads a value a moment old is still
 * a good one.  The rpm and tpm limits themselves are the budget counters'
 * (exact, and shared by a fleet through Redis); the minute counts here only
 * rank deployments for usage-based-routing.
 */
#ifndef TOLLGATE_ROUTER_H
#define TOLLGATE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ROUTER_SLOTS		1024	/* deployments a gateway tracks */
#define ROUTER_CANDIDATES	32	/* deployments of one group a request may try */

struct router_slot {
	uint64_t	seq;		/* odd while the master rewrites the identity */
	/* identity: the master's */
	uint64_t	key;		/* hash of group, provider, model and api_base; 0: free */
	uint64_t	generation;	/* the newest config generation that has it */
	char		group[112];	/* model_name */
	char		deployment[112];/* provider/model */
	char		id[40];		/* model_info.id, else 16 hex digits of key */
	/* live: every worker's, relaxed atomics */
	int64_t		in_flight;
	int64_t		ttfb_us;	/* moving average of the time to first byte; 0: none yet */
	int64_t		minute;		/* the minute (unix ns / 60 s) the counts below are for */
	int64_t		minute_requests, minute_tokens, minute_fails;
	int64_t		cooldown_until_ns;	/* 0 or past: not cooling */
	uint64_t	cooldowns;	/* times it was cooled */
	uint64_t	requests, failures;	/* attempts, and those that failed */
	uint32_t	last_failure;	/* enum config_failure of the last one */
	uint32_t	last_status;	/* its HTTP status, 0: no answer */
} __attribute__((aligned(64)));

struct routes;
struct route_model;
struct route_deployment;

/*
 * Master: gives every deployment of r its slot in slots[0..ROUTER_SLOTS)
 * (the one it had in the previous generation when group, provider, model
 * and api_base are the same, so a reload keeps what was learnt), writing
 * the identity of new ones; slots no generation since the previous one
 * uses are freed.  A deployment left without one (more than ROUTER_SLOTS)
 * has slot -1 and is routed without state.
 */
void router_assign(struct router_slot *slots, struct routes *r, uint64_t generation);

/* What a request asks of the router (one call per model group tried). */
struct router_ask {
	enum config_strategy	 strategy;
	int64_t			 now_ns;
	unsigned		 rr;		/* the caller's round-robin position */
	uint32_t		 random;	/* a random number, for shuffles */
	uint64_t		 skip;		/* places (bits) not to try: tried, or refused */
	int			 latency_buffer_milli;
	/* for cost-based-routing, and enable_pre_call_checks: per place */
	const int64_t		*cost;		/* the request's estimated cost there, or NULL */
	const uint8_t		*fits;		/* 0: it cannot take the request (NULL: all can) */
};

/*
 * The places (indexes into m->deps) to try for a request, best first, into
 * out[0..ROUTER_CANDIDATES): deployments cooling down and places in
 * ask->skip left out; by litellm_params.order (lower first, none last),
 * then by the strategy.  Returns the count; 0 with *soonest_ns the end of
 * the first cooldown to end when cooldowns left none (else INT64_MAX).
 */
size_t router_order(const struct router_slot *slots, const struct routes *r,
    const struct route_model *m, const struct router_ask *ask, uint8_t *out,
    int64_t *soonest_ns);

/*
 * What a failed attempt was: curl_timeout/curl_failed say there was no
 * answer (timed out, or refused, reset); else status and the provider's
 * error body.
 */
enum config_failure router_classify(int curl_timeout, int curl_failed, long status,
    const char *body, size_t len);
/* Its LiteLLM name ("RateLimitError"), for records and logs. */
const char *router_failure_name(enum config_failure f);

/* How many retries a failure of class f allows in its model group. */
int router_retries(const struct config_router *rc, enum config_failure f, int num_retries);
/* Whether a retry may go to the deployment that failed (when no other is left). */
int router_same_again(enum config_failure f);
/*
 * How long to wait before retrying the same deployment: the provider's
 * retry-after (retry_after_ms, -1: none) when it asks for at most a
 * minute, else an exponential back-off from 0.5 s (at most 8 s) for the
 * n-th retry; never less than router_settings.retry_after.
 */
int64_t router_backoff_ms(const struct config_router *rc, int64_t retry_after_ms, int n,
    uint32_t random);
/*
 * The fallback model groups for group after a failure of class f
 * (context_window_fallbacks, content_policy_fallbacks, fallbacks, then
 * default_fallbacks); NULL when there are none, else *n set.
 */
char *const *router_fallbacks(const struct config_router *rc, const char *group,
    enum config_failure f, size_t *n);

/* Worker: an attempt starts on slot s (NULL: none) / has its first byte / ended. */
void router_attempt_begin(struct router_slot *s, int64_t now_ns);
void router_first_byte(struct router_slot *s, int64_t elapsed_ns);
/*
 * The attempt ended: ok, or failed with class f and status.  A failure
 * counts towards allowed_fails (those that are the provider's: rate
 * limits, server errors, timeouts, auth, not found) and cools the
 * deployment when the minute's failures pass allowed_fails, or at once for
 * a 429 with retry-after (for that long), 401, 404 and 408, unless its
 * group has only one deployment or cooldowns are disabled.  tokens: what
 * the attempt consumed, for the minute's count.  Returns 1 when this
 * attempt put it in cooldown.
 */
int router_attempt_end(struct router_slot *s, const struct config_router *rc, int ok,
    enum config_failure f, long status, int64_t retry_after_ms, int64_t tokens, size_t group_size,
    int64_t now_ns);
/* Whether s is cooling down at now_ns. */
int router_cooling(const struct router_slot *s, int64_t now_ns);

/* Reader (tollctl, /metrics): a consistent copy of the slot's identity and counters; 1: free. */
int router_read_slot(const struct router_slot *s, struct router_slot *out);

#endif
