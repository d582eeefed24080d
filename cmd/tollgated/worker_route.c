/*
 * Routing in a worker (lib/router.h does the deciding): the order in which a
 * request tries its model group's deployments, what happens after an
 * attempt failed before any byte reached the client (a retry on another
 * deployment at once, the same one after a back-off, or a fallback to
 * another model group), the metering of failed attempts the provider
 * billed, and the headers LiteLLM's clients read.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "money.h"
#include "tollgated.h"
#include "worker.h"

static uint32_t
next_random(void)
{
	static uint32_t x;

	if (x == 0)
		x = (uint32_t)clock_now_ns() ^ (uint32_t)getpid() << 16 ^ 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static struct router_slot *
slot_of(const struct route_deployment *d)
{
	return d->slot >= 0 && heritage.status != NULL ? &heritage.status->dep[d->slot] : NULL;
}

/* A request's input tokens as enable_pre_call_checks counts them: four bytes of JSON a token. */
static int64_t
input_estimate(const struct exchange *ex)
{
	return (int64_t)ex->body.len / 4;
}

int64_t
route_estimate(const struct exchange *ex, const struct route_deployment *d, int64_t input,
    int64_t output, const struct price_entry **entry)
{
	const struct price_table *t = ex->view ? ex->view->table : NULL;
	const struct price_entry *e;
	struct cost_options o;
	struct usage u;
	struct cost c;

	*entry = e = t ? price_lookup(t, d->price_name, strlen(d->price_name)) : NULL;
	if (e == NULL)
		return 0;
	memset(&u, 0, sizeof(u));
	u.input = input;
	u.output = output;
	u.duration_ms = -1;
	cost_options_init(&o);
	o.tier = ex->request_tier;
	cost_compute(t, e, &u, &o, &c);
	return c.total;
}

size_t
route_prepare(struct exchange *ex, int64_t *soonest_ns)
{
	const struct config_router *rc = &heritage.config->router;
	const struct price_table *t = ex->view ? ex->view->table : NULL;
	struct route_model *m = ex->model;
	int64_t cost[ROUTER_CANDIDATES];
	uint8_t fits[ROUTER_CANDIDATES];
	struct router_ask ask = { 0 };
	size_t i, nd = m->ndeps < ROUTER_CANDIDATES ? m->ndeps : ROUTER_CANDIDATES;
	int any_fits = 0;

	ask.strategy = rc->strategy;
	ask.now_ns = clock_now_ns();
	ask.rr = m->next++;
	ask.random = next_random();
	ask.skip = ex->skip;
	ask.latency_buffer_milli = rc->latency_buffer_milli;
	if (t != NULL && (rc->strategy == CONFIG_ROUTE_COST || rc->pre_call_checks)) {
		for (i = 0; i < nd; i++) {
			const struct price_entry *e;
			int64_t input = input_estimate(ex), c;

			c = route_estimate(ex, &heritage.routes->deps[m->deps[i]], input, ex->est_output,
			    &e);
			/* an unpriced deployment is not the cheapest: it is the unknown */
			cost[i] = e != NULL ? c : INT64_MAX;
			fits[i] = e == NULL || e->max_input == 0 || input <= (int64_t)e->max_input;
			any_fits |= fits[i];
		}
		ask.cost = cost;
		/* none fits: let the provider judge, rather than refuse on an estimate */
		ask.fits = rc->pre_call_checks && any_fits ? fits : NULL;
		ex->too_long = rc->pre_call_checks && !any_fits;
	}
	ex->norder = router_order(heritage.status ? heritage.status->dep : NULL, heritage.routes, m,
	    &ask, ex->order, soonest_ns);
	ex->ordered = 1;
	return ex->norder;
}

void
route_use(struct exchange *ex, size_t k)
{
	ex->place = ex->order[k];
	ex->dep = &heritage.routes->deps[ex->model->deps[ex->place]];
}

/* ---- one attempt's state ------------------------------------------------------- */

void
route_attempt_begin(struct exchange *ex)
{
	ex->attempt_ns = clock_now_ns();
	ex->seen_first_byte = 0;
	ex->retry_after_ms = -1;
	ex->failed = 0;
	ex->slot = slot_of(ex->dep);
	router_attempt_begin(ex->slot, ex->attempt_ns);
}

void
route_first_byte(struct exchange *ex)
{
	if (ex->seen_first_byte || ex->attempt_ns == 0)
		return;
	ex->seen_first_byte = 1;
	router_first_byte(ex->slot, clock_now_ns() - ex->attempt_ns);
}

void
route_attempt_end(struct exchange *ex, int64_t tokens)
{
	int ok = !ex->failed;

	if (ex->slot == NULL)
		return;
	if (router_attempt_end(ex->slot, &heritage.config->router, ok, ex->failure, ex->status,
	    ex->retry_after_ms, tokens, ex->model->ndeps, clock_now_ns()))
		log_warn("model '%s': deployment '%s' cooling down (%s%s%ld)", ex->model->name,
		    ex->dep->cfg->model, router_failure_name(ex->failure), ex->status ? ", " : "",
		    ex->status);
	ex->slot = NULL;
}

/* ---- failed attempts ----------------------------------------------------------- */

/* A failed attempt, taken before routing moves on from its deployment. */
struct failed_attempt {
	struct record_attempt	 a;
	int64_t			 part[COST_PART_COUNT];
	int64_t			 tokens;
	size_t			 group_size;
};

/* ex's attempt as the record keeps it, priced from the usage its provider reported with the error. */
static void
take_attempt(const struct exchange *ex, struct failed_attempt *f)
{
	struct usage_raw raw = ex->raw;
	struct usage u;
	struct cost c;

	memset(f, 0, sizeof(*f));
	exchange_price(ex, &raw, &u, &c);
	/* an error without usage was not billed (not even a per-request price) */
	if (u.input <= 0 && u.output <= 0)
		memset(&c, 0, sizeof(c));
	memcpy(f->part, c.part, sizeof(f->part));
	buf_copy(f->a.deployment, sizeof(f->a.deployment), ex->dep->cfg->model);
	buf_copy(f->a.provider, sizeof(f->a.provider), ex->dep->cfg->provider);
	buf_copy(f->a.failure, sizeof(f->a.failure), router_failure_name(ex->failure));
	f->a.status = (uint16_t)ex->status;
	f->a.input = u.input;
	f->a.output = u.output;
	f->a.total = c.total;
	f->tokens = u.input + u.output;
	f->group_size = ex->model->ndeps;
}

/* Routing goes on past the failed attempt f: it joins the record, its answer is dropped. */
static void
keep_attempt(struct exchange *ex, const struct failed_attempt *f)
{
	struct record *r = &ex->rec;
	size_t i;

	for (i = 0; i < COST_PART_COUNT; i++)
		ex->extra_cost[i] += f->part[i];
	ex->extra_total += f->a.total;
	if (r->nattempts < RECORD_ATTEMPTS_MAX)
		r->attempts[r->nattempts] = f->a;
	r->nattempts++;
	ex->resp.len = 0;
	usage_raw_init(&ex->raw);
}

/* Which fallback list is in force (its index restarts when another one is). */
enum { LIST_NONE, LIST_CLIENT, LIST_ROUTER_GENERAL, LIST_ROUTER_CONTEXT, LIST_ROUTER_POLICY };

/* The next of the client's fallbacks (one a line) at *p: *name and its length; 0 past the last. */
static size_t
next_client_fallback(const char **p, const char **name)
{
	size_t len;

	while (**p == '\n')
		(*p)++;
	*name = *p;
	len = strcspn(*p, "\n");
	*p += len;
	return len;
}

/* Whether ex's key may not fall back to m (enforce_fallback_model_access). */
static int
route_denied(const struct exchange *ex, const struct route_model *m)
{
	size_t i;

	for (i = 0; i < ex->ndenied; i++)
		if (ex->denied[i] == m)
			return 1;
	return 0;
}

/* The fallback list in force for ex's failure, and its length. */
static size_t
fallback_list(struct exchange *ex, char names[][128], size_t max)
{
	const struct config_router *rc = &heritage.config->router;
	char *const *to;
	size_t n = 0, i;
	int kind;

	if (ex->client_fallbacks[0]) {
		/* the client's own list, as LiteLLM takes it: instead of the router's */
		const char *p = ex->client_fallbacks, *name;
		size_t len;

		while (n < max && (len = next_client_fallback(&p, &name)) > 0)
			snprintf(names[n++], 128, "%.*s", (int)len, name);
		kind = LIST_CLIENT;
	} else {
		/* the group the client asked for names the list, whichever group failed last */
		to = router_fallbacks(rc, ex->rec.model_requested, ex->failure, &n);
		for (i = 0; i < n && i < max; i++)
			snprintf(names[i], 128, "%s", to[i]);
		n = n < max ? n : max;
		kind = ex->failure == CONFIG_FAIL_CONTEXT_WINDOW ? LIST_ROUTER_CONTEXT :
		    ex->failure == CONFIG_FAIL_CONTENT_POLICY ? LIST_ROUTER_POLICY :
		    LIST_ROUTER_GENERAL;
	}
	if (kind != ex->fallback_kind) {
		ex->fallback_kind = kind;
		ex->fallback_at = 0;
	}
	return n;
}

/*
 * The first of ex->order whose deployment takes one more attempt on its rpm
 * and tpm (admit_attempt()), the ones at their limit skipped from now on;
 * norder when none does.
 */
static size_t
first_with_room(struct exchange *ex, int64_t tokens_before)
{
	size_t k;

	for (k = 0; k < ex->norder; k++) {
		if (admit_attempt(ex, ex->order[k], tokens_before) == 0)
			break;
		ex->skip |= 1ULL << ex->order[k];
	}
	return k;
}

/*
 * The next fallback group that has a deployment to try now: ex->model,
 * its order and ex->dep set, 1; 0 when none is left (or max_fallbacks were
 * tried), ex unchanged.  After a failed attempt (counted: admission has
 * counted the first) its deployment is counted here.
 */
static int
route_fallback(struct exchange *ex, int counted, int64_t tokens_before)
{
	const struct config_router *rc = &heritage.config->router;
	struct route_model *was = ex->model;
	uint64_t skip = ex->skip;
	char names[ROUTE_FALLBACKS_MAX][128];
	size_t n = fallback_list(ex, names, ROUTE_FALLBACKS_MAX), k = 0;
	int64_t soonest;

	while (ex->fallback_at < n && (int)ex->rec.fallbacks < rc->max_fallbacks) {
		const char *name = names[ex->fallback_at++];
		struct route_model *m = routes_find(heritage.routes, name, strlen(name));

		if (m == NULL || m->ndeps == 0 || m == was) {
			log_warn("model '%s': fallback '%s' has no deployment to try", was->name, name);
			continue;
		}
		if (route_denied(ex, m))
			continue;	/* enforce_fallback_model_access: not this key's */
		ex->model = m;
		ex->skip = 0;
		if (route_prepare(ex, &soonest) == 0)
			continue;	/* all of it cooling down: the next one */
		if (counted && (k = first_with_room(ex, tokens_before)) == ex->norder)
			continue;	/* all of it at its rpm or tpm */
		log_info("request %s: model '%s' falls back to '%s' (%s)", ex->rec.id, was->name,
		    name, router_failure_name(ex->failure));
		ex->group_retries = 0;
		ex->rec.fallbacks++;
		buf_copy(ex->rec.group, sizeof(ex->rec.group), m->name);
		route_use(ex, k);
		return 1;
	}
	ex->model = was;
	ex->skip = skip;
	return 0;
}

static void
on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *ex = arg;

	(void)fd;
	(void)what;
	if (ex->magic != EXCHANGE_MAGIC)
		return;
	ex->backing_off = 0;
	if (upstream_start(ex) < 0)
		upstream_failed(ex);
}

/* Sends ex's next attempt, its deployment chosen: 1 (sent, or its failure handled). */
static int
go_on(struct exchange *ex)
{
	if (upstream_start(ex) < 0)
		upstream_failed(ex);
	return 1;
}

int
route_after_failure(struct exchange *ex)
{
	const struct config_router *rc = &heritage.config->router;
	int allowed = router_retries(rc, ex->failure, ex->num_retries >= 0 ? ex->num_retries :
	    rc->num_retries);
	struct failed_attempt f;
	struct router_slot *was = ex->slot;
	size_t failed = ex->place;
	int64_t soonest, ms;
	struct timeval tv;
	size_t k;

	if (ex->started || ex->req == NULL || ex->dep == NULL)
		return 0;
	take_attempt(ex, &f);
	if (ex->rec.nattempts == 0)
		ex->first_tokens = f.tokens;	/* its deployment's tpm counts these */
	/* the attempt is over whatever comes next: its cooldown, if any, counts for the choice */
	route_attempt_end(ex, f.tokens);
	if (ex->group_retries < allowed) {
		ex->skip |= 1ULL << failed;
		if (route_prepare(ex, &soonest) > 0 && (k = first_with_room(ex, f.tokens)) < ex->norder) {
			/* another deployment, at once */
			ex->group_retries++;
			ex->rec.retries++;
			keep_attempt(ex, &f);
			route_use(ex, k);
			return go_on(ex);
		}
		ex->skip &= ~(1ULL << failed);
		/* none left but the one that failed: again, after a while, if it may pass */
		if (router_same_again(ex->failure) && (was == NULL ||
		    ex->model->ndeps < 2 || !router_cooling(was, clock_now_ns())) &&
		    admit_attempt(ex, failed, f.tokens) == 0) {
			ms = router_backoff_ms(rc, ex->retry_after_ms, ex->group_retries,
			    next_random());
			if (ex->backoff == NULL &&
			    (ex->backoff = evtimer_new(ex->w->base, on_backoff, ex)) == NULL)
				return 0;
			ex->group_retries++;
			ex->rec.retries++;
			keep_attempt(ex, &f);
			tv.tv_sec = (time_t)(ms / 1000);
			tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
			ex->backing_off = 1;
			evtimer_add(ex->backoff, &tv);
			return 1;
		}
	}
	if (route_fallback(ex, 1, f.tokens)) {
		keep_attempt(ex, &f);
		return go_on(ex);
	}
	return 0;
}

int
route_first(struct exchange *ex)
{
	int64_t soonest = INT64_MAX, wait_s;
	char retry[24];

	route_prepare(ex, &soonest);
	if (ex->too_long) {
		/* enable_pre_call_checks: no deployment of the group can take it */
		ex->failure = CONFIG_FAIL_CONTEXT_WINDOW;
		if (route_fallback(ex, 0, 0))
			return 0;
	}
	if (ex->norder > 0) {
		route_use(ex, 0);
		return 0;
	}
	/* every deployment cooling down: as a rate limit, its fallbacks, else a 429 */
	ex->failure = CONFIG_FAIL_RATE_LIMIT;
	if (route_fallback(ex, 0, 0))
		return 0;
	wait_s = soonest == INT64_MAX ? 1 : (soonest - clock_now_ns() + 999999999) / 1000000000;
	snprintf(retry, sizeof(retry), "%lld", (long long)(wait_s > 0 ? wait_s : 1));
	hreq_add_header(ex->req, "Retry-After", retry);
	http_send_error(ex->req, 429, "rate_limit_exceeded", "no_deployments_available",
	    "no deployment of model '%s' is available: every one is cooling down after "
	    "failures; try again in %s s", ex->model->name, retry);
	return -1;
}

/* Adds group name[0..len) to out[0..*n) unless unknown, denied to the key, or there already. */
static void
add_group(const struct exchange *ex, const char *name, size_t len, const struct route_model **out,
    size_t *n)
{
	const struct route_model *m = routes_find(heritage.routes, name, len);
	size_t j;

	if (m == NULL || route_denied(ex, m) || *n == ROUTE_FALLBACKS_MAX)
		return;
	for (j = 0; j < *n; j++)
		if (out[j] == m)
			return;
	out[(*n)++] = m;
}

size_t
route_fallback_models(const struct exchange *ex, const struct route_model **out)
{
	const struct config_router *rc = &heritage.config->router;
	const enum config_failure kinds[] = { CONFIG_FAIL_SERVER, CONFIG_FAIL_CONTEXT_WINDOW,
		CONFIG_FAIL_CONTENT_POLICY };
	const char *p = ex->client_fallbacks, *name;
	size_t n = 0, i, k, nto, len;
	char *const *to;

	if (ex->client_fallbacks[0]) {
		while ((len = next_client_fallback(&p, &name)) > 0)
			add_group(ex, name, len, out, &n);
		return n;
	}
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		to = router_fallbacks(rc, ex->rec.model_requested, kinds[k], &nto);
		for (i = 0; to != NULL && i < nto; i++)
			add_group(ex, to[i], strlen(to[i]), out, &n);
	}
	return n;
}

/* ---- the answer's headers ------------------------------------------------------ */

void
route_headers(struct exchange *ex, int with_cost)
{
	char n[24], cost[MONEY_FORMAT_MAX];

	if (ex->req == NULL || ex->dep == NULL)
		return;
	hreq_add_header(ex->req, "x-litellm-model-id", ex->dep->model_id);
	hreq_add_header(ex->req, "x-litellm-model-group", ex->model->name);
	snprintf(n, sizeof(n), "%u", ex->rec.retries);
	hreq_add_header(ex->req, "x-litellm-attempted-retries", n);
	snprintf(n, sizeof(n), "%u", ex->rec.fallbacks);
	hreq_add_header(ex->req, "x-litellm-attempted-fallbacks", n);
	if (with_cost)
		hreq_add_header(ex->req, "x-litellm-response-cost",
		    money_format(ex->rec.total, MONEY_COST_SCALE, cost));
}
