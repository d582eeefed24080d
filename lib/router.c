/*
 * The router (see router.h): the order in which a request tries a model
 * group's deployments, what a failure was, and the state shared by a
 * host's workers per deployment.  Written by the master (identities) and
 * the workers (live counters); read by tollctl and /metrics.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "route.h"
#include "router.h"
#include "seqlock.h"

#define MINUTE_NS	(60LL * 1000000000)

/* ---- identities (master) ---------------------------------------------------- */

/* FNV-1a over the fields that make a deployment the same one across reloads. */
static uint64_t
identity(const struct route_deployment *d)
{
	const char *parts[4] = { d->cfg->model_name, d->cfg->provider, d->cfg->model, d->base };
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 4; i++) {
		const unsigned char *p = (const unsigned char *)(parts[i] ? parts[i] : "");

		for (; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;	/* a separator no text holds */
	}
	return h ? h : 1;
}

void
router_assign(struct router_slot *slots, struct routes *r, uint64_t generation)
{
	size_t i, j;

	for (i = 0; i < r->ndeps; i++) {
		struct route_deployment *d = &r->deps[i];
		uint64_t k = identity(d);
		size_t at = (size_t)(k % ROUTER_SLOTS), free_at = ROUTER_SLOTS;

		d->slot = -1;
		for (j = 0; j < ROUTER_SLOTS; j++) {
			struct router_slot *s = &slots[(at + j) % ROUTER_SLOTS];

			if (s->key == k) {
				d->slot = (int)((at + j) % ROUTER_SLOTS);
				break;
			}
			if (free_at == ROUTER_SLOTS && (s->key == 0 || s->generation + 1 < generation))
				free_at = (at + j) % ROUTER_SLOTS;
		}
		if (d->slot < 0 && free_at < ROUTER_SLOTS) {
			struct router_slot *s = &slots[free_at];

			seqlock_write_begin(&s->seq);
			memset((char *)s + sizeof(s->seq), 0, sizeof(*s) - sizeof(s->seq));
			s->key = k;
			snprintf(s->group, sizeof(s->group), "%s", d->cfg->model_name);
			snprintf(s->deployment, sizeof(s->deployment), "%s/%s", d->cfg->provider,
			    d->cfg->model);
			if (d->cfg->model_id != NULL)
				snprintf(s->id, sizeof(s->id), "%s", d->cfg->model_id);
			else
				snprintf(s->id, sizeof(s->id), "%016llx", (unsigned long long)k);
			seqlock_write_end(&s->seq);
			d->slot = (int)free_at;
		}
		if (d->slot >= 0) {
			__atomic_store_n(&slots[d->slot].generation, generation, __ATOMIC_RELAXED);
			snprintf(d->model_id, sizeof(d->model_id), "%s", slots[d->slot].id);
		} else
			snprintf(d->model_id, sizeof(d->model_id), "%016llx", (unsigned long long)k);
	}
	/* what neither this generation nor the last uses is free again */
	for (j = 0; j < ROUTER_SLOTS; j++)
		if (slots[j].key != 0 && slots[j].generation + 1 < generation) {
			seqlock_write_begin(&slots[j].seq);
			slots[j].key = 0;
			seqlock_write_end(&slots[j].seq);
		}
}

int
router_read_slot(const struct router_slot *s, struct router_slot *out)
{
	seqlock_read(&s->seq, out, s, sizeof(*out));
	out->group[sizeof(out->group) - 1] = '\0';
	out->deployment[sizeof(out->deployment) - 1] = '\0';
	out->id[sizeof(out->id) - 1] = '\0';
	return out->key == 0;
}

/* ---- the order of a request's candidates -------------------------------------- */

static int64_t
load64(const int64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

int
router_cooling(const struct router_slot *s, int64_t now_ns)
{
	return s != NULL && load64(&s->cooldown_until_ns) > now_ns;
}

/* The minute's count at p, 0 when the slot's minute is an older one. */
static int64_t
this_minute(const struct router_slot *s, const int64_t *p, int64_t now_ns)
{
	return load64(&s->minute) == now_ns / MINUTE_NS ? load64(p) : 0;
}

/* The weight simple-shuffle gives d: weight, else rpm, else tpm, else 1. */
static int64_t
weight_of(const struct route_deployment *d)
{
	const struct config_deployment *c = d->cfg;

	return c->weight > 0 ? c->weight : c->rpm > 0 ? c->rpm : c->tpm > 0 ? c->tpm : 1;
}

struct candidate {
	uint8_t		place;
	int		order;		/* litellm_params.order; none: after every order */
	int64_t		rank;		/* the strategy's: lower first */
	unsigned	tie;		/* then this: round-robin or random */
};

static int
before(const struct candidate *a, const struct candidate *b)
{
	if (a->order != b->order)
		return a->order < b->order;
	if (a->rank != b->rank)
		return a->rank < b->rank;
	return a->tie < b->tie;
}

/* A cheap generator for the tie-breaks of one decision (xorshift32). */
static uint32_t
next_random(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

size_t
router_order(const struct router_slot *slots, const struct routes *r,
    const struct route_model *m, const struct router_ask *ask, uint8_t *out,
    int64_t *soonest_ns)
{
	struct candidate c[ROUTER_CANDIDATES], t;
	size_t n = 0, i, j, nd = m->ndeps < ROUTER_CANDIDATES ? m->ndeps : ROUTER_CANDIDATES;
	uint32_t rnd = ask->random ? ask->random : 0x9e3779b9u;
	int64_t lowest = INT64_MAX, total_weight = 0, pick;
	int first_order = 0x7fffffff;

	*soonest_ns = INT64_MAX;
	for (i = 0; i < nd; i++) {
		const struct route_deployment *d = &r->deps[m->deps[i]];
		const struct router_slot *s = d->slot >= 0 && slots ? &slots[d->slot] : NULL;
		int64_t until;

		if (ask->skip & (1ULL << i) || (ask->fits != NULL && !ask->fits[i]))
			continue;
		if (s != NULL && (until = load64(&s->cooldown_until_ns)) > ask->now_ns) {
			if (until < *soonest_ns)
				*soonest_ns = until;
			continue;
		}
		c[n].place = (uint8_t)i;
		c[n].order = d->cfg->order > 0 ? d->cfg->order : 0x7fffffff;
		c[n].tie = (unsigned)((i + nd - ask->rr % nd) % nd);
		c[n].rank = 0;
		switch (ask->strategy) {
		case CONFIG_ROUTE_LEAST_BUSY:
			c[n].rank = s ? load64(&s->in_flight) : 0;
			break;
		case CONFIG_ROUTE_LATENCY:
			/* never measured: tried first, so that it gets measured */
			c[n].rank = s ? load64(&s->ttfb_us) : 0;
			break;
		case CONFIG_ROUTE_USAGE:
			c[n].rank = s ? this_minute(s, &s->minute_tokens, ask->now_ns) * 1024 +
			    this_minute(s, &s->minute_requests, ask->now_ns) : 0;
			break;
		case CONFIG_ROUTE_COST:
			c[n].rank = ask->cost != NULL ? ask->cost[i] : 0;
			break;
		case CONFIG_ROUTE_SHUFFLE:
			break;
		}
		if (c[n].order < first_order)
			first_order = c[n].order;
		n++;
	}
	if (n == 0)
		return 0;
	if (ask->strategy == CONFIG_ROUTE_SHUFFLE) {
		/* one deployment of the first order drawn by weight; the rest in turn after it */
		for (i = 0; i < n; i++)
			if (c[i].order == first_order)
				total_weight += weight_of(&r->deps[m->deps[c[i].place]]);
		pick = (int64_t)(next_random(&rnd) % (uint64_t)total_weight);
		for (i = 0; i < n; i++) {
			if (c[i].order != first_order)
				continue;
			pick -= weight_of(&r->deps[m->deps[c[i].place]]);
			c[i].rank = pick < 0 ? 0 : 1;
			if (pick < 0)
				pick = INT64_MAX;
		}
	} else if (ask->strategy == CONFIG_ROUTE_LATENCY) {
		/* those within lowest_latency_buffer of the fastest are alike: drawn at random */
		for (i = 0; i < n; i++)
			if (c[i].order == first_order && c[i].rank < lowest)
				lowest = c[i].rank;
		for (i = 0; i < n; i++)
			if (c[i].order == first_order && c[i].rank <= lowest + lowest *
			    ask->latency_buffer_milli / 1000) {
				c[i].rank = lowest;
				if (ask->latency_buffer_milli > 0)
					c[i].tie = next_random(&rnd);
			}
	}
	for (i = 1; i < n; i++) {
		t = c[i];
		for (j = i; j > 0 && before(&t, &c[j - 1]); j--)
			c[j] = c[j - 1];
		c[j] = t;
	}
	for (i = 0; i < n; i++)
		out[i] = c[i].place;
	return n;
}

/* ---- failures -------------------------------------------------------------------- */

static int
mentions(const char *body, size_t len, const char *const *words)
{
	size_t i;

	for (i = 0; words[i] != NULL; i++)
		if (body != NULL && memmem(body, len, words[i], strlen(words[i])) != NULL)
			return 1;
	return 0;
}

/* The words providers use for these two refusals (their bodies, lower case as sent). */
static const char *const context_words[] = {
	"context_length_exceeded", "maximum context length", "prompt is too long",
	"Input is too long", "input is too long", "exceeds the maximum number of tokens",
	"too many tokens", "context window", NULL
};
static const char *const policy_words[] = {
	"content_policy_violation", "content_filter", "content filtering", "content filters",
	"safety system", "safety settings", "ResponsibleAIPolicyViolation", NULL
};

enum config_failure
router_classify(int curl_timeout, int curl_failed, long status, const char *body, size_t len)
{
	if (curl_timeout)
		return CONFIG_FAIL_TIMEOUT;
	if (curl_failed)
		return CONFIG_FAIL_SERVER;
	switch (status) {
	case 408:
		return CONFIG_FAIL_TIMEOUT;
	case 429:
		return CONFIG_FAIL_RATE_LIMIT;
	case 401:
	case 403:
		return CONFIG_FAIL_AUTH;
	case 404:
		return CONFIG_FAIL_NOT_FOUND;
	case 413:
		return CONFIG_FAIL_CONTEXT_WINDOW;
	}
	if (status >= 500)
		return CONFIG_FAIL_SERVER;
	if (mentions(body, len, context_words))
		return CONFIG_FAIL_CONTEXT_WINDOW;
	if (mentions(body, len, policy_words))
		return CONFIG_FAIL_CONTENT_POLICY;
	return CONFIG_FAIL_BAD_REQUEST;
}

const char *
router_failure_name(enum config_failure f)
{
	static const char *const names[CONFIG_FAIL_COUNT] = {
		[CONFIG_FAIL_TIMEOUT] = "Timeout",
		[CONFIG_FAIL_RATE_LIMIT] = "RateLimitError",
		[CONFIG_FAIL_SERVER] = "InternalServerError",
		[CONFIG_FAIL_CONTENT_POLICY] = "ContentPolicyViolationError",
		[CONFIG_FAIL_AUTH] = "AuthenticationError",
		[CONFIG_FAIL_BAD_REQUEST] = "BadRequestError",
		[CONFIG_FAIL_CONTEXT_WINDOW] = "ContextWindowExceededError",
		[CONFIG_FAIL_NOT_FOUND] = "NotFoundError",
	};

	return (unsigned)f < CONFIG_FAIL_COUNT ? names[f] : "Error";
}

int
router_retries(const struct config_router *rc, enum config_failure f, int num_retries)
{
	if ((unsigned)f < CONFIG_FAIL_COUNT && rc->retry_policy[f] >= 0)
		return rc->retry_policy[f];
	switch (f) {
	case CONFIG_FAIL_TIMEOUT:
	case CONFIG_FAIL_RATE_LIMIT:
	case CONFIG_FAIL_SERVER:
	case CONFIG_FAIL_AUTH:
	case CONFIG_FAIL_NOT_FOUND:
		return num_retries;
	default:
		/* the request's own fault: another deployment would refuse it too */
		return 0;
	}
}

int
router_same_again(enum config_failure f)
{
	/* a bad key or a missing model stays so; the rest may pass */
	return f == CONFIG_FAIL_TIMEOUT || f == CONFIG_FAIL_RATE_LIMIT || f == CONFIG_FAIL_SERVER;
}

int64_t
router_backoff_ms(const struct config_router *rc, int64_t retry_after_ms, int n,
    uint32_t random)
{
	int64_t ms;

	if (retry_after_ms >= 0 && retry_after_ms <= 60000)
		ms = retry_after_ms;
	else {
		ms = 500LL << (n < 4 ? n : 4);
		if (ms > 8000)
			ms = 8000;
		ms += (int64_t)(random % (uint32_t)(ms / 4 + 1));	/* jitter: clients apart */
	}
	return ms < rc->retry_after_ms ? rc->retry_after_ms : ms;
}

static char *const *
lookup(const struct config_fallback *list, size_t n, const char *group, size_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].model, group) == 0) {
			*out = list[i].nto;
			return list[i].to;
		}
	for (i = 0; i < n; i++)
		if (strcmp(list[i].model, "*") == 0) {
			*out = list[i].nto;
			return list[i].to;
		}
	return NULL;
}

char *const *
router_fallbacks(const struct config_router *rc, const char *group, enum config_failure f,
    size_t *n)
{
	char *const *to = NULL;

	*n = 0;
	switch (f) {
	case CONFIG_FAIL_CONTEXT_WINDOW:
		return lookup(rc->context_fallbacks, rc->ncontext_fallbacks, group, n);
	case CONFIG_FAIL_CONTENT_POLICY:
		return lookup(rc->policy_fallbacks, rc->npolicy_fallbacks, group, n);
	case CONFIG_FAIL_BAD_REQUEST:
		return NULL;	/* the request itself is wrong: any model would say so */
	default:
		break;
	}
	if ((to = lookup(rc->fallbacks, rc->nfallbacks, group, n)) != NULL)
		return to;
	if (rc->ndefault_fallbacks > 0) {
		*n = rc->ndefault_fallbacks;
		return rc->default_fallbacks;
	}
	return NULL;
}

/* ---- the live counters (workers) ----------------------------------------------- */

void
router_attempt_begin(struct router_slot *s, int64_t now_ns)
{
	int64_t minute = now_ns / MINUTE_NS, was;

	if (s == NULL)
		return;
	__atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->requests, 1, __ATOMIC_RELAXED);
	was = load64(&s->minute);
	if (was != minute && __atomic_compare_exchange_n(&s->minute, &was, minute, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		/* a new minute: whoever moved it on starts its counts afresh */
		__atomic_store_n(&s->minute_requests, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->minute_tokens, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->minute_fails, 0, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&s->minute_requests, 1, __ATOMIC_RELAXED);
}

void
router_first_byte(struct router_slot *s, int64_t elapsed_ns)
{
	int64_t us = elapsed_ns / 1000, avg;

	if (s == NULL)
		return;
	if (us <= 0)
		us = 1;
	/* a moving average, the newest an eighth (a lost update among racing workers is harmless) */
	avg = load64(&s->ttfb_us);
	__atomic_store_n(&s->ttfb_us, avg == 0 ? us : avg + (us - avg) / 8, __ATOMIC_RELAXED);
}

/* Whether a failure of class f says something about the deployment rather than the request. */
static int
counts_against(enum config_failure f)
{
	return f == CONFIG_FAIL_TIMEOUT || f == CONFIG_FAIL_RATE_LIMIT || f == CONFIG_FAIL_SERVER ||
	    f == CONFIG_FAIL_AUTH || f == CONFIG_FAIL_NOT_FOUND;
}

int
router_attempt_end(struct router_slot *s, const struct config_router *rc, int ok,
    enum config_failure f, long status, int64_t retry_after_ms, int64_t tokens, size_t group_size,
    int64_t now_ns)
{
	int64_t fails, until = 0, was;

	if (s == NULL)
		return 0;
	__atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
	if (tokens > 0)
		__atomic_add_fetch(&s->minute_tokens, tokens, __ATOMIC_RELAXED);
	if (ok || !counts_against(f))
		return 0;
	__atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->last_failure, (uint32_t)f, __ATOMIC_RELAXED);
	__atomic_store_n(&s->last_status, (uint32_t)status, __ATOMIC_RELAXED);
	fails = __atomic_add_fetch(&s->minute_fails, 1, __ATOMIC_RELAXED);
	/* the only deployment of its group is never cooled: nothing would serve it */
	if (rc->disable_cooldowns || group_size < 2)
		return 0;
	if (status == 429 && retry_after_ms > 0)
		until = now_ns + retry_after_ms * 1000000;
	else if (status == 429 || status == 401 || status == 404 || status == 408 ||
	    fails > rc->allowed_fails)
		until = now_ns + rc->cooldown_ms * 1000000;
	if (until == 0)
		return 0;
	was = load64(&s->cooldown_until_ns);
	if (was >= until)
		return 0;
	__atomic_store_n(&s->cooldown_until_ns, until, __ATOMIC_RELAXED);
	if (was > now_ns)
		return 0;	/* it was cooling already: longer now */
	__atomic_add_fetch(&s->cooldowns, 1, __ATOMIC_RELAXED);
	/* a fresh start once it is back: the failures that cooled it are spent */
	__atomic_store_n(&s->minute_fails, 0, __ATOMIC_RELAXED);
	return 1;
}
