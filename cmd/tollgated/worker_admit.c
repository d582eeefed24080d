/*
 * Admission, in a worker: a virtual key's state and allowed models, then a
 * reservation of the request's largest possible cost on every budget that
 * applies and a count on its rate limits (lib/limitset.h, lib/budget.h), all
 * or nothing; settled to the actual cost once the record is committed.  No
 * ledger read or write happens here: the counters live in shared memory.
 *
 * The largest possible cost: the body's length in bytes as input tokens (a
 * token is at least one byte of the JSON text that carries it) plus the
 * request's max_tokens (or max_completion_tokens, max_output_tokens; else
 * tollgate.default_max_tokens) as output tokens, priced at the model's
 * dearest deployment.  When every request states its maximum, concurrent
 * requests cannot together pass a budget; a request that states none may
 * pass it by what it outputs beyond default_max_tokens.
 */
#include <stdio.h>
#include <string.h>


#include "clock.h"
#include "keys.h"
#include "limitset.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"
#include "tollgated.h"
#include "worker.h"

/* A max_tokens beyond any model's (a client's absurd one) reserves this much. */
#define MAX_TOKENS_CAP	100000000LL

/*
 * The key's limits as lib/limitset.h takes them, with its budget for model;
 * 0, or -1 for a bad duration.
 */
static int
key_limits(const struct keys_key *k, const char *model, struct limitset_key *out)
{
	struct keys_model_budget mb;
	char err[128];

	out->model_budget = BUDGET_NONE;
	if (keys_model_budget_find(k, model, &mb)) {
		out->model_budget = mb.max_budget;
		out->model_has_window = mb.has_window;
		out->model_window = mb.window;
	}
	out->max_budget = k->a.max_budget != KEYS_UNSET ? k->a.max_budget : BUDGET_NONE;
	out->soft_budget = k->a.soft_budget != KEYS_UNSET ? k->a.soft_budget : BUDGET_NONE;
	out->rpm = k->a.rpm_limit != KEYS_UNSET ? k->a.rpm_limit : BUDGET_NONE;
	out->tpm = k->a.tpm_limit != KEYS_UNSET ? k->a.tpm_limit : BUDGET_NONE;
	out->has_window = k->a.budget_duration != NULL && k->a.budget_duration[0] != '\0';
	if (out->has_window && window_parse(k->a.budget_duration, &out->window, err,
	    sizeof(err)) < 0)
		return -1;
	return 0;
}

static int
model_allowed(const struct keys_key *k, const char *model)
{
	size_t i;

	if (k->a.nmodels == 0)
		return 1;
	for (i = 0; i < k->a.nmodels; i++)
		if (strcmp(k->a.models[i], model) == 0 || strcmp(k->a.models[i], "*") == 0)
			return 1;
	return 0;
}

int
admit_fallbacks(struct exchange *ex, const struct keys_key *k)
{
	const struct route_model *groups[ROUTE_FALLBACKS_MAX];
	size_t n, i;

	if (k == NULL || k->a.nmodels == 0)
		return 0;
	n = route_fallback_models(ex, groups);
	for (i = 0; i < n; i++) {
		if (model_allowed(k, groups[i]->name))
			continue;
		if (ex->client_fallbacks[0]) {
			http_send_error(ex->req, 403, "permission_error", "model_not_allowed",
			    "this key may not use model '%s', one of the request's fallbacks",
			    groups[i]->name);
			return -1;
		}
		if (heritage.config->router.fallback_access)
			ex->denied[ex->ndenied++] = groups[i];
	}
	return 0;
}

/*
 * The request's largest possible cost, in picodollars (see the top of this
 * file), over its model group and every group it may fall back to.
 */
static int64_t
largest_cost(const struct exchange *ex, int64_t max_tokens)
{
	const struct price_table *t = ex->view ? ex->view->table : NULL;
	const struct route_model *groups[1 + ROUTE_FALLBACKS_MAX];
	size_t ng, g, i;
	int64_t most = 0;

	if (t == NULL)
		return 0;
	groups[0] = ex->model;
	ng = 1 + route_fallback_models(ex, groups + 1);
	for (g = 0; g < ng; g++)
	for (i = 0; i < groups[g]->ndeps; i++) {
		const struct price_entry *e;
		/* a byte of the body a token: more than any tokenizer makes of it */
		int64_t c = route_estimate(ex, &heritage.routes->deps[groups[g]->deps[i]],
		    (int64_t)ex->body.len, max_tokens, &e);

		if (c > most)
			most = c;
	}
	return most;
}

/* 429 naming the counter, what it holds, its limit and when it starts again. */
static void
refuse(struct exchange *ex, const struct limitset_entry *what, const struct budget_refusal *why)
{
	char used[MONEY_FORMAT_MAX], max[MONEY_FORMAT_MAX], at[40], retry[32];
	int64_t now = clock_now_ns(), wait_s;
	const char *kind = limitset_kind_name(what->kind);

	admit_headers(ex);
	wait_s = why->window_end == INT64_MAX ? -1 : (why->window_end - now + 999999999) / 1000000000;
	if (wait_s >= 0) {
		snprintf(retry, sizeof(retry), "%lld", (long long)(wait_s > 0 ? wait_s : 1));
		hreq_add_header(ex->req, "Retry-After", retry);
		time_format(why->window_end, at, sizeof(at));
	} else
		snprintf(at, sizeof(at), "never (no budget_duration)");
	if (what->kind == LIMIT_RPM || what->kind == LIMIT_TPM) {
		http_send_error(ex->req, 429, "rate_limit_exceeded", "rate_limit_exceeded",
		    "%s limit of %s reached: %lld of %lld used this minute; resets at %s",
		    kind, ex->rec.key, (long long)why->used, (long long)why->max, at);
		return;
	}
	money_format(why->used, MONEY_COST_SCALE, used);
	money_format(why->max, MONEY_COST_SCALE, max);
	http_send_error(ex->req, 429, "budget_exceeded", "budget_exceeded",
	    "%s budget%s%s exceeded: spent $%s of $%s (this request may cost up to the rest); "
	    "resets at %s", kind, what->kind == LIMIT_GLOBAL ? "" : " of ",
	    what->kind == LIMIT_GLOBAL ? "" : what->name, used, max, at);
}

/*
 * Appends deployment d's rpm and tpm counters (litellm_params rpm, tpm) at
 * limits[n]; returns the new count.  d is named by its model group and its
 * place in it.
 */
static size_t
deployment_limits(const struct route_deployment *d, size_t place, struct budget_limit *limits,
    struct limitset_entry *what, int64_t *amount, size_t n, size_t cap)
{
	const char *kind[2] = { "drpm", "dtpm" };
	int64_t max[2] = { d->cfg->rpm, d->cfg->tpm };
	int i;

	for (i = 0; i < 2 && n < cap; i++) {
		if (max[i] <= 0)
			continue;
		memset(&limits[n], 0, sizeof(limits[n]));
		snprintf(limits[n].id, sizeof(limits[n].id), "%s|%s|%zu", kind[i], d->cfg->model_name,
		    place);
		limits[n].max = max[i];
		limits[n].has_window = 1;
		limits[n].window = limitset_minute;
		what[n].kind = i == 0 ? LIMIT_RPM : LIMIT_TPM;
		what[n].soft = BUDGET_NONE;
		what[n].name = d->cfg->model_name;
		amount[n++] = 1;
	}
	return n;
}

/* 429: every deployment of the model is at its rpm or tpm this minute. */
static void
refuse_deployments(struct exchange *ex, int64_t soonest)
{
	int64_t wait_s = (soonest - clock_now_ns() + 999999999) / 1000000000;
	char retry[32];

	admit_headers(ex);
	snprintf(retry, sizeof(retry), "%lld", (long long)(wait_s > 0 ? wait_s : 1));
	hreq_add_header(ex->req, "Retry-After", retry);
	http_send_error(ex->req, 429, "rate_limit_exceeded", "rate_limit_exceeded",
	    "every deployment of model '%s' is at its rpm or tpm limit this minute",
	    ex->rec.model_requested);
}

/*
 * The same through Redis, shared by the fleet: limits[0..n), then each
 * deployment's in the router's order, in one script that picks the first
 * with room.  1 (asked: admit_answered() goes on), or -1 with the 503 sent
 * (Redis unreachable, on_failure: closed).
 */
#define REMOTE_CANDIDATES	(BUDGET_HOLD_MAX * 3)

static int
reserve_remote(struct exchange *ex, const struct budget_limit *limits,
    const struct limitset_entry *what, const int64_t *amount, size_t n)
{
	static struct budget_limit all[REMOTE_CANDIDATES];
	static struct limitset_entry w[REMOTE_CANDIDATES];
	static int64_t amt[REMOTE_CANDIDATES];
	const struct route_model *m = ex->model;
	size_t sizes[60], ng = 0, total = n, before, i, any = 0;

	ex->dep_from = n;
	memcpy(all, limits, n * sizeof(*all));
	memcpy(w, what, n * sizeof(*w));
	memcpy(amt, amount, n * sizeof(*amt));
	for (i = 0; i < ex->norder && ng < sizeof(sizes) / sizeof(sizes[0]); i++) {
		before = total;
		total = deployment_limits(&heritage.routes->deps[m->deps[ex->order[i]]],
		    ex->order[i], all, w, amt, total, REMOTE_CANDIDATES);
		sizes[ng++] = total - before;
		any |= total != before;
	}
	if (n == 0 && !any)
		return 0;	/* nothing to count */
	if (redis_reserve(ex, all, w, amt, n, sizes, any ? ng : 0) == 0)
		return 1;
	http_send_error(ex->req, 503, "api_error", "budgets_unavailable", "%s", ex->fail_why);
	return -1;
}

/* The integer a script answered as decimal text (what Redis printed). */
static int64_t
decimal(const char *s)
{
	int64_t v = 0;

	for (; *s >= '0' && *s <= '9' && v < INT64_MAX / 10; s++)
		v = v * 10 + (*s - '0');
	return v;
}

void
admit_answered(struct exchange *ex, int status, size_t index, const char *used, size_t group)
{
	const struct budget_limit *l = redis_limit(ex, index);
	struct budget_refusal why;
	int64_t start;

	ex->admitting = 0;
	if (status == 0) {
		redis_chosen(ex, group);
		for (size_t k = 0; k < group && k < ex->norder; k++)
			ex->skip |= 1ULL << ex->order[k];	/* at their limit */
		if (group < ex->norder)
			route_use(ex, group);
		ex->held = 1;
	}
	if (ex->req == NULL) {	/* the client went meanwhile: what was reserved goes */
		exchange_free(ex);
		return;
	}
	if (status == 0) {
		http_admitted(ex);
		return;
	}
	if (status == 1 && l != NULL && redis_what(ex, index) != NULL) {
		why.index = index;
		why.used = decimal(used);
		why.max = l->max;
		why.window_end = INT64_MAX;
		if (l->has_window)
			window_bounds(&l->window, clock_now_ns(), &start, &why.window_end);
		refuse(ex, redis_what(ex, index), &why);
	} else if (status == 2) {
		window_bounds(&limitset_minute, clock_now_ns(), &start, &why.window_end);
		refuse_deployments(ex, why.window_end);
	} else
		http_send_error(ex->req, 503, "api_error", "budgets_unavailable", "%s",
		    ex->fail_why[0] ? ex->fail_why : "budgets are shared through Redis, which did not "
		    "answer");
	exchange_free(ex);
}

/*
 * Reserves limits[0..n) and, in the router's order, the rate limits of the
 * first deployment with room, all at once; that deployment is the one
 * tried first (the ones before it are skipped by retries: at their limit).  0 (held or, the store full, let through),
 * or -1 with the 429 sent.
 */
static int
reserve(struct exchange *ex, struct budget_limit *limits, struct limitset_entry *what,
    int64_t *amount, size_t n)
{
	struct budget_store *store = heritage.budgets;
	const struct route_model *m = ex->model;
	int64_t soonest = INT64_MAX;
	struct budget_refusal why;
	size_t i, all, place;
	int rc = 0;

	int shared = heritage.config->tollgate.redis_url != NULL;

	if (shared && (redis_reachable() || !heritage.config->tollgate.redis_fail_open))
		return reserve_remote(ex, limits, what, amount, n);
	ex->dep_from = n;
	if (shared)	/* Redis is away, on_failure: open */
		redis_open_share(limits, 0, n);
	for (i = 0; i < ex->norder; i++) {
		place = ex->order[i];
		all = deployment_limits(&heritage.routes->deps[m->deps[place]], place, limits, what,
		    amount, n, BUDGET_HOLD_MAX);
		if (shared)
			redis_open_share(limits, n, all);
		rc = store->ops->admit(store, limits, amount, all, clock_now_ns(), &ex->hold, &why);
		if (rc != 1 || why.index < n)
			break;
		if (why.window_end < soonest)
			soonest = why.window_end;
		ex->skip |= 1ULL << place;	/* at its limit: no retry goes there either */
	}
	if (rc == 1 && why.index < n) {
		refuse(ex, &what[why.index], &why);
		return -1;
	}
	if (rc == 1) {
		refuse_deployments(ex, soonest);
		return -1;
	}
	if (i < ex->norder)
		route_use(ex, i);
	if (rc < 0) {
		static int64_t said_ns;
		int64_t now = clock_now_ns();

		/* a full table must not stop the gateway: admitted, uncounted, and said (a minute apart) */
		if (now - said_ns > 60LL * 1000000000) {
			log_error("worker %u: budget counters full: requests admitted without a "
			    "reservation (request %s)", heritage.index, ex->rec.id);
			said_ns = now;
		}
		return 0;
	}
	for (i = 0; i < ex->hold.n; i++)
		ex->hold_kind[i] = (uint8_t)what[i].kind;
	ex->held = 1;
	ex->local_hold = 1;
	/* admitted here while Redis is away (on_failure: open): its spend reaches Redis later */
	if (heritage.config->tollgate.redis_url != NULL)
		redis_remember(ex, limits, ex->hold.n);
	return 0;
}

int
admit_request(struct exchange *ex, const struct keys_key *k, int64_t max_tokens)
{
	struct limitset_key kl;
	struct limitset_entry what[BUDGET_HOLD_MAX];
	struct budget_limit limits[BUDGET_HOLD_MAX];
	struct limitset_who who;
	int64_t amount[BUDGET_HOLD_MAX], cost;
	size_t n, i;

	if (k != NULL && !model_allowed(k, ex->rec.model_requested)) {
		http_send_error(ex->req, 403, "permission_error", "model_not_allowed",
		    "this key may not use model '%s'", ex->rec.model_requested);
		return -1;
	}
	if (heritage.budgets == NULL)
		return 0;
	if (k != NULL && key_limits(k, ex->rec.model_requested, &kl) < 0) {
		http_send_error(ex->req, 500, "server_error", "bad_key",
		    "this key's budget_duration '%s' is not valid", k->a.budget_duration);
		return -1;
	}
	who.key = ex->rec.key;
	who.user = ex->rec.user;
	who.team = ex->rec.team;
	who.customer = ex->rec.customer;
	who.tags = ex->rec.tags;
	who.model = ex->rec.model_requested;
	/* room for a deployment's rpm and tpm after them */
	n = limitset_for(&heritage.config->tollgate, &who, k ? &kl : NULL, limits, what,
	    BUDGET_HOLD_MAX - 2);
	if (n > BUDGET_HOLD_MAX - 2) {
		/* never drop a budget that applies: refuse (tags choose some of them) */
		http_send_error(ex->req, 400, "invalid_request_error", "too_many_budgets",
		    "more than %d budgets apply to this request (its tags?)", BUDGET_HOLD_MAX - 2);
		return -1;
	}
	if (max_tokens <= 0 || max_tokens > MAX_TOKENS_CAP)
		max_tokens = max_tokens > MAX_TOKENS_CAP ? MAX_TOKENS_CAP :
		    heritage.config->tollgate.default_max_tokens;
	cost = largest_cost(ex, max_tokens);
	for (i = 0; i < n; i++)
		amount[i] = what[i].kind == LIMIT_RPM ? 1 : what[i].kind == LIMIT_TPM ?
		    (int64_t)ex->body.len + max_tokens : cost;
	ex->key_max = limits[0].max;
	snprintf(ex->key_counter, sizeof(ex->key_counter), "%s", limits[0].id);
	return reserve(ex, limits, what, amount, n);
}

/* The later attempt's deployment counters settle: one request, and the tokens it used. */
static void
attempt_settle(struct exchange *ex, int64_t tokens)
{
	int64_t actual[2];
	size_t i;

	if (ex->nattempt == 0)
		return;
	for (i = 0; i < ex->nattempt; i++)
		actual[i] = ex->attempt_kind[i] == LIMIT_RPM ? 1 : tokens;
	if (ex->attempt_local)
		heritage.budgets->ops->settle(heritage.budgets, &ex->attempt_hold, actual,
		    clock_now_ns());
	if (heritage.config->tollgate.redis_url != NULL)
		redis_count(ex->attempt_limits, actual, ex->nattempt);
	ex->nattempt = 0;
	ex->attempt_local = 0;
}

/*
 * Through Redis the attempt is checked against the fleet's count as last
 * read (a second old at most, with this host's spend since) and this host's
 * own counters, then counted in both: a retry is rare and must not wait on
 * a round trip, so the fleet may pass a deployment's limit by the retries
 * of that second, never more.
 */
int
admit_attempt(struct exchange *ex, size_t place, int64_t tokens_before)
{
	struct budget_store *store = heritage.budgets;
	struct limitset_entry what[2];
	struct budget_refusal why;
	int64_t amount[2], used, now;
	size_t n, i;
	int shared = heritage.config->tollgate.redis_url != NULL;

	attempt_settle(ex, tokens_before);
	if (store == NULL || !ex->held)
		return 0;	/* nothing counted for this request: nor for its attempts */
	n = deployment_limits(&heritage.routes->deps[ex->model->deps[place]], place,
	    ex->attempt_limits, what, amount, 0, 2);
	if (n == 0)
		return 0;
	for (i = 0; shared && i < n; i++)
		if ((used = redis_fleet_used(&ex->attempt_limits[i])) >= 0 &&
		    used + amount[i] > ex->attempt_limits[i].max)
			return 1;
	now = clock_now_ns();
	switch (store->ops->admit(store, ex->attempt_limits, amount, n, now, &ex->attempt_hold,
	    &why)) {
	case 1:
		return 1;
	case 0:
		ex->attempt_local = 1;
		break;
	default:
		break;	/* the table full: as admission, let through (counted in Redis, if any) */
	}
	for (i = 0; i < n; i++)
		ex->attempt_kind[i] = (uint8_t)what[i].kind;
	ex->nattempt = n;
	return 0;
}

void
admit_settle(struct exchange *ex, int spent)
{
	struct budget_store *store = heritage.budgets;
	int64_t actual[BUDGET_HOLD_MAX], tokens = 0;
	size_t i;

	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		tokens += ex->rec.tokens[i];
	attempt_settle(ex, spent ? tokens : 0);
	if (!ex->held || (store == NULL && ex->remote == NULL)) {
		redis_hold_release(ex);
		return;
	}
	for (i = 0; i < (ex->remote ? BUDGET_HOLD_MAX : ex->hold.n); i++) {
		switch (ex->hold_kind[i]) {
		case LIMIT_RPM:
			actual[i] = 1;
			break;
		case LIMIT_TPM:
			/* the first deployment's, when another answered: what its attempt used */
			actual[i] = i >= ex->dep_from && ex->rec.nattempts > 0 ? ex->first_tokens :
			    spent ? tokens : 0;
			break;
		default:
			actual[i] = spent ? ex->rec.total : 0;
		}
	}
	if (ex->remote != NULL)
		redis_settle(ex, actual);
	if (ex->local_hold && store != NULL)
		store->ops->settle(store, &ex->hold, actual, clock_now_ns());
	ex->local_hold = 0;
	redis_hold_release(ex);
	ex->held = 0;
	ex->settled = 1;
}

void
admit_headers(struct exchange *ex)
{
	struct budget_store *store = heritage.budgets;
	struct budget_reading r;
	char amount[MONEY_FORMAT_MAX];

	if (store == NULL || ex->key_counter[0] == '\0')
		return;
	if (store->ops->read(store, ex->key_counter, clock_now_ns(), &r) != 0)
		return;
	money_format(r.spent, MONEY_COST_SCALE, amount);
	hreq_add_header(ex->req, "x-tollgate-key-spend", amount);
	if (ex->key_max != BUDGET_NONE) {
		money_format(ex->key_max, MONEY_COST_SCALE, amount);
		hreq_add_header(ex->req, "x-tollgate-key-max-budget", amount);
	}
}
