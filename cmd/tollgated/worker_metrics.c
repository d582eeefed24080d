/*
 * GET /metrics: Prometheus text format.  Spend, tokens and requests by model
 * (the model_name clients ask for, with provider, deployment and price-entry
 * labels), key and team come from the ledger's aggregates (so they equal what tollctl
 * spend says, a follow interval behind the ledger); answers by status, the
 * latency histograms and anomaly counts from the live counters (lib/metrics);
 * budgets from the shared counters the workers admit against.  Secrets never
 * appear: keys are named by their id ("key:" and 16 hex digits of the hash)
 * and alias.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "clock.h"
#include "keys.h"
#include "limitset.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "tollgated.h"
#include "worker.h"

/* The labels of the per-model series, in this order. */
static const int model_dims[] = { AGG_DIM_MODEL, AGG_DIM_PROVIDER, AGG_DIM_DEPLOYMENT,
	AGG_DIM_PRICED_AS };
#define NLABELS	(sizeof(model_dims) / sizeof(model_dims[0]))

/* Sums per label value, all days together. */
struct total {
	char			 label[NLABELS][AGG_DIM_MAX * 2 + 2];
	struct agg_value	 v;
};

struct totals {
	struct total	*t;
	size_t		 n, cap;
	int		 dim;	/* AGG_DIM_KEY, AGG_DIM_TEAM, or -1: model_dims */
};

static int
add_row(void *arg, const struct agg_row *row)
{
	struct totals *ts = arg;
	const char *l[NLABELS] = { "", "", "", "" };
	size_t i, j;

	if (ts->dim >= 0) {
		if (row->only_dim != ts->dim)
			return 0;
		l[0] = row->dim[ts->dim];
	} else
		for (j = 0; j < NLABELS; j++)
			l[j] = row->dim[model_dims[j]];
	for (i = 0; i < ts->n; i++) {
		for (j = 0; j < NLABELS && strcmp(ts->t[i].label[j], l[j]) == 0; j++)
			;
		if (j == NLABELS)
			break;
	}
	if (i == ts->n) {
		if (ARRAY_GROW(ts->t, ts->n, ts->cap) < 0)
			return -1;
		memset(&ts->t[i], 0, sizeof(ts->t[i]));
		for (j = 0; j < NLABELS; j++)
			buf_copy(ts->t[i].label[j], sizeof(ts->t[i].label[j]), l[j]);
		ts->n++;
	}
	aggregate_value_add(&ts->t[i].v, row->v);
	return 0;
}

static int
totals(enum agg_table table, int dim, struct totals *ts)
{
	char err[256];

	ts->dim = dim;
	if (worker.ledger == NULL)
		return 0;
	if (aggregate_scan(worker.ledger, table, INT64_MIN, INT64_MAX, add_row, ts, err,
	    sizeof(err)) < 0) {
		log_warn("worker %u: /metrics: %s", heritage.index, err);
		return -1;
	}
	return 0;
}

static void
usd(struct buf *out, __int128 pico)
{
	char text[MONEY_FORMAT_MAX];

	/* the exact decimal text: Prometheus reads it as a float, the ledger keeps it exact */
	money_format(pico, MONEY_COST_SCALE, text);
	buf_append(out, text, strlen(text));
}

/*
 * A sample's name and its model, provider, deployment and priced_as labels,
 * the label set left open.
 */
static void
model_sample(struct buf *out, const char *name, const struct total *t)
{
	static const char *const names[NLABELS] = { "model", "provider", "deployment", "priced_as" };
	size_t j;

	buf_printf(out, "%s{", name);
	for (j = 0; j < NLABELS; j++) {
		buf_printf(out, "%s%s=\"", j ? "," : "", names[j]);
		metrics_label(out, t->label[j]);
		buf_append(out, "\"", 1);
	}
}

static void
by_model(struct buf *out)
{
	static const char *const head =
	    "# HELP tollgate_requests_total Requests recorded in the ledger, by model_name, provider, deployment and price entry.\n"
	    "# TYPE tollgate_requests_total counter\n";
	struct totals ts = { 0 };
	size_t i, k;

	if (totals(AGG_TABLE_MODEL_DAY, -1, &ts) < 0)
		goto out;
	buf_append(out, head, strlen(head));
	for (i = 0; i < ts.n; i++) {
		model_sample(out, "tollgate_requests_total", &ts.t[i]);
		buf_printf(out, "} %lld\n", (long long)ts.t[i].v.requests);
	}
	buf_printf(out, "# HELP tollgate_request_errors_total Recorded requests that failed (status >= 400 or no answer).\n"
	    "# TYPE tollgate_request_errors_total counter\n");
	for (i = 0; i < ts.n; i++) {
		model_sample(out, "tollgate_request_errors_total", &ts.t[i]);
		buf_printf(out, "} %lld\n", (long long)ts.t[i].v.errors);
	}
	buf_printf(out, "# HELP tollgate_tokens_total Tokens recorded, by model_name, provider, deployment, price entry and category.\n"
	    "# TYPE tollgate_tokens_total counter\n");
	for (i = 0; i < ts.n; i++)
		for (k = 0; k < RECORD_TOKEN_COUNT; k++) {
			if (k == RECORD_TOK_DURATION_MS)
				continue;	/* not tokens */
			model_sample(out, "tollgate_tokens_total", &ts.t[i]);
			buf_printf(out, ",category=\"%s\"} %lld\n", record_token_name((unsigned)k),
			    (long long)ts.t[i].v.tokens[k]);
		}
	buf_printf(out, "# HELP tollgate_spend_usd_total Cost recorded, in USD, by model_name, provider, deployment and price entry.\n"
	    "# TYPE tollgate_spend_usd_total counter\n");
	for (i = 0; i < ts.n; i++) {
		model_sample(out, "tollgate_spend_usd_total", &ts.t[i]);
		buf_printf(out, "} ");
		usd(out, ts.t[i].v.total);
		buf_append(out, "\n", 1);
	}
out:
	free(ts.t);
}

/* Key ids ("key:" + 16 hex) and their aliases, for the labels. */
struct aliases {
	char	(*id)[24];
	char	(*alias)[KEYS_NAME_MAX + 1];
	size_t	  n, cap, acap;
};

static int
on_key(void *arg, const struct keys_key *k)
{
	struct aliases *a = arg;

	if (k->a.alias == NULL || *k->a.alias == '\0')
		return 0;
	if (ARRAY_GROW(a->id, a->n, a->cap) < 0 || ARRAY_GROW(a->alias, a->n, a->acap) < 0)
		return -1;
	memcpy(a->id[a->n], "key:", 4);
	buf_hex(a->id[a->n] + 4, k->hash, 8);
	buf_copy(a->alias[a->n], sizeof(a->alias[a->n]), k->a.alias);
	a->n++;
	return 0;
}

static const char *
alias_of(const struct aliases *a, const char *id)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->id[i], id) == 0)
			return a->alias[i];
	return "";
}

static void
by_dimension(struct buf *out, int dim)
{
	struct totals ts = { 0 };
	struct aliases al = { 0 };
	const char *name = dim == AGG_DIM_KEY ? "key" : "team";
	char err[256];
	size_t i;

	if (totals(AGG_TABLE_DIM_DAY, dim, &ts) < 0)
		goto out;
	if (dim == AGG_DIM_KEY && worker.keys != NULL &&
	    keys_list(worker.keys, on_key, &al, err, sizeof(err)) < 0)
		log_warn("worker %u: /metrics: %s", heritage.index, err);
	buf_printf(out, "# HELP tollgate_%s_spend_usd_total Cost recorded, in USD, by %s.\n"
	    "# TYPE tollgate_%s_spend_usd_total counter\n", name,
	    dim == AGG_DIM_KEY ? "key (its id and alias)" : "team", name);
	for (i = 0; i < ts.n; i++) {
		buf_printf(out, "tollgate_%s_spend_usd_total{%s=\"", name, name);
		metrics_label(out, ts.t[i].label[0]);
		if (dim == AGG_DIM_KEY) {
			buf_printf(out, "\",alias=\"");
			metrics_label(out, alias_of(&al, ts.t[i].label[0]));
		}
		buf_printf(out, "\"} ");
		usd(out, ts.t[i].v.total);
		buf_append(out, "\n", 1);
	}
out:
	free(ts.t);
	free(al.id);
	free(al.alias);
}

static const char *const scope_names[] = { "global", "user", "team", "customer", "tag" };

/* A configured budget's limit and what is left of it in the current window. */
static void
budgets(struct buf *out)
{
	const struct config *c = heritage.config;
	struct budget_store *store = heritage.budgets;
	struct budget_reading r;
	int64_t now = clock_now_ns();
	size_t i, pass;

	if (store == NULL || c->tollgate.nbudgets == 0)
		return;
	for (pass = 0; pass < 2; pass++) {
		buf_printf(out, pass == 0 ?
		    "# HELP tollgate_budget_limit_usd A configured budget's max_budget, in USD.\n"
		    "# TYPE tollgate_budget_limit_usd gauge\n" :
		    "# HELP tollgate_budget_remaining_usd What is left of it in the current window (spent and reserved taken off).\n"
		    "# TYPE tollgate_budget_remaining_usd gauge\n");
		for (i = 0; i < c->tollgate.nbudgets; i++) {
			const struct config_budget *b = &c->tollgate.budgets[i];

			if (b->max_budget == BUDGET_NONE)
				continue;
			if (store->ops->read(store, b->counter, now, &r) != 0)
				r.spent = r.reserved = 0;
			buf_printf(out, "%s{scope=\"%s\",name=\"", pass == 0 ? "tollgate_budget_limit_usd" :
			    "tollgate_budget_remaining_usd", scope_names[b->scope]);
			metrics_label(out, b->name ? b->name : "");
			buf_printf(out, "\",window=\"%s\"} ", b->has_window ? b->duration : "");
			usd(out, pass == 0 ? b->max_budget :
			    (__int128)b->max_budget - r.spent - r.reserved);
			buf_append(out, "\n", 1);
		}
	}
}

/* The router's view of each deployment this generation routes to (lib/router.h). */
static void
deployments(struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} series[] = {
		{ "tollgate_deployment_cooling", "gauge", "1 while the deployment is cooling down after failures." },
		{ "tollgate_deployment_cooldown_remaining_seconds", "gauge", "Seconds of cooldown left." },
		{ "tollgate_deployment_cooldowns_total", "counter", "Times the deployment was put in cooldown." },
		{ "tollgate_deployment_in_flight", "gauge", "Attempts in flight to the deployment, all workers." },
		{ "tollgate_deployment_ttfb_seconds", "gauge", "Moving average of its time to first byte." },
		{ "tollgate_deployment_attempts_total", "counter", "Attempts sent to the deployment." },
		{ "tollgate_deployment_failures_total", "counter", "Attempts that failed on the deployment's side." },
	};
	const struct routes *r = heritage.routes;
	int64_t now = clock_now_ns();
	struct router_slot d;
	size_t k, i;

	if (heritage.status == NULL)
		return;
	for (k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", series[k].name, series[k].help,
		    series[k].name, series[k].type);
		for (i = 0; i < r->ndeps; i++) {
			int64_t left;

			if (r->deps[i].slot < 0 ||
			    router_read_slot(&heritage.status->dep[r->deps[i].slot], &d) != 0)
				continue;
			left = d.cooldown_until_ns > now ? d.cooldown_until_ns - now : 0;
			buf_printf(out, "%s{model_group=\"", series[k].name);
			metrics_label(out, d.group);
			buf_printf(out, "\",deployment=\"");
			metrics_label(out, d.deployment);
			buf_printf(out, "\",model_id=\"");
			metrics_label(out, d.id);
			buf_printf(out, "\"} ");
			switch (k) {
			case 0: buf_printf(out, "%d\n", left > 0); break;
			case 1: buf_printf(out, "%lld.%03lld\n", (long long)(left / 1000000000),
			    (long long)(left % 1000000000 / 1000000)); break;
			case 2: buf_printf(out, "%llu\n", (unsigned long long)d.cooldowns); break;
			case 3: buf_printf(out, "%lld\n", (long long)d.in_flight); break;
			case 4: buf_printf(out, "%lld.%06lld\n", (long long)(d.ttfb_us / 1000000),
			    (long long)(d.ttfb_us % 1000000)); break;
			case 5: buf_printf(out, "%llu\n", (unsigned long long)d.requests); break;
			default: buf_printf(out, "%llu\n", (unsigned long long)d.failures); break;
			}
		}
	}
}

void
metrics_serve(struct hreq *req)
{
	struct buf out = { 0 };
	uint64_t lag = 0;

	if (heritage.metrics != NULL)
		metrics_write(heritage.metrics, &out);
	by_model(&out);
	by_dimension(&out, AGG_DIM_KEY);
	by_dimension(&out, AGG_DIM_TEAM);
	budgets(&out);
	deployments(&out);
	if (worker.ledger != NULL && aggregate_lag(worker.ledger, &lag) == 0)
		buf_printf(&out, "# HELP tollgate_ledger_lag_records Records committed that the aggregates do not count yet.\n"
		    "# TYPE tollgate_ledger_lag_records gauge\n"
		    "tollgate_ledger_lag_records %llu\n", (unsigned long long)lag);
	buf_printf(&out, "# HELP tollgate_price_map_generation The price-map generation this worker uses.\n"
	    "# TYPE tollgate_price_map_generation gauge\n"
	    "tollgate_price_map_generation %llu\n",
	    (unsigned long long)(worker.prices ? worker.prices->generation : 0));
	/* which host this is, for a fleet's dashboards */
	buf_printf(&out, "# HELP tollgate_info This gateway: its host_id and version.\n"
	    "# TYPE tollgate_info gauge\ntollgate_info{host_id=\"");
	metrics_label(&out, config_host_id(&heritage.config->tollgate));
	buf_printf(&out, "\",version=\"%s\"} 1\n", TOLLGATE_VERSION);
	hreq_add_header(req, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	hreq_reply(req, 200, out.data ? out.data : "", out.len);
	buf_release(&out);
}
