/*
 * The accountant's alerts (lib/alerts.h): every ACCOUNTANT_ALERT_MS it reads
 * the budget counters the workers keep in shared memory and fires each
 * threshold a budget has crossed in its current window (and its soft
 * budget), looks at the records committed since for unpriced models and
 * usage anomalies (and, through alerts_cost_mismatches(), at the windows that
 * closed for cost mismatches), and once a day sends a summary of the day
 * before (UTC) when the gateway had begun by its end.
 */
#include <stdio.h>
#include <string.h>

#include "aggregate.h"
#include "alerts.h"
#include "buf.h"
#include "clock.h"
#include "json.h"
#include "keys.h"
#include "limitset.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"
#include "tollgated.h"

#define NS_DAY		(86400LL * 1000000000)

struct alert_ctx {
	struct ledger		*l;
	const char		*host;
	const struct config	*c;
};

/* "key key:0123 (alias 'ci')", "team research", "the gateway" */
static void
budget_name(struct buf *b, enum limit_kind kind, const char *name, const char *alias)
{
	if (kind == LIMIT_GLOBAL)
		buf_printf(b, "the gateway");
	else
		buf_printf(b, "%s %s", limitset_kind_name(kind), name);
	if (alias != NULL && *alias)
		buf_printf(b, " (alias '%s')", alias);
}

/* Fires the thresholds and soft budget counter id has crossed in its window. */
static void
check_budget(struct alert_ctx *x, const char *id, enum limit_kind kind, const char *name,
    const char *alias, int64_t max, int64_t soft)
{
	const struct config_tollgate *tg = &x->c->tollgate;
	struct buf who = { 0 }, subject = { 0 }, text = { 0 }, fields = { 0 }, aid = { 0 };
	char spent[MONEY_FORMAT_MAX], lim[MONEY_FORMAT_MAX], from[40], to[40], err[512];
	struct budget_reading r;
	size_t i;

	if (heritage.budgets->ops->read(heritage.budgets, id, clock_now_ns(), &r) != 0)
		return;
	budget_name(&who, kind, name, alias);
	if (r.window_start != INT64_MIN && r.window_end - r.window_start >= 3600LL * 1000000000) {
		/* each window's start (of an hour or more) is recorded: the reset is there to see */
		time_format(r.window_start, from, sizeof(from));
		aid.len = subject.len = 0;
		buf_printf(&aid, "window|%s|%lld", id, (long long)r.window_start);
		buf_printf(&subject, "budget window of %.*s began at %s", (int)who.len, who.data, from);
		if (aid.data && subject.data && alerts_note(x->l, aid.data, "budget_window",
		    subject.data, err, sizeof(err)) < 0)
			log_error("accountant: %s", err);
	}
	if (r.spent <= 0)
		goto out;
	money_format(r.spent, MONEY_COST_SCALE, spent);
	time_format(r.window_start == INT64_MIN ? 0 : r.window_start, from, sizeof(from));
	if (r.window_end == INT64_MAX)
		snprintf(to, sizeof(to), "never");
	else
		time_format(r.window_end, to, sizeof(to));
	for (i = 0; i <= tg->nalerts_thresholds; i++) {
		int64_t pct = i < tg->nalerts_thresholds ? tg->alerts_thresholds[i] : -1;
		int64_t limit = pct >= 0 ? max : soft;
		struct alert a;

		if (limit == BUDGET_NONE || limit <= 0 ||
		    (pct >= 0 ? (__int128)r.spent * 100 < (__int128)limit * pct : r.spent < limit))
			continue;
		money_format(limit, MONEY_COST_SCALE, lim);
		subject.len = text.len = fields.len = aid.len = 0;
		if (pct >= 0) {
			buf_printf(&aid, "budget|%s|%lld|%lld", id, (long long)r.window_start,
			    (long long)pct);
			buf_printf(&subject, "tollgate: budget of %.*s at %lld%%: $%s of $%s",
			    (int)who.len, who.data, (long long)pct, spent, lim);
		} else {
			buf_printf(&aid, "soft|%s|%lld", id, (long long)r.window_start);
			buf_printf(&subject, "tollgate: soft budget of %.*s reached: $%s of $%s",
			    (int)who.len, who.data, spent, lim);
		}
		buf_printf(&text, "Budget of %.*s: $%s spent of %s $%s in the window from %s; "
		    "it resets at %s.", (int)who.len, who.data, spent,
		    pct >= 0 ? "a max_budget of" : "a soft_budget of", lim, from, to);
		buf_printf(&fields, "\"budget\": ");
		json_write_string(&fields, id);
		buf_printf(&fields, ", \"scope\": \"%s\", \"name\": ", limitset_kind_name(kind));
		json_write_string(&fields, name);
		buf_printf(&fields, ", \"threshold_percent\": %lld, \"spent_usd\": %s, "
		    "\"limit_usd\": %s, \"window_start\": \"%s\", \"resets_at\": \"%s\"",
		    (long long)(pct >= 0 ? pct : 0), spent, lim, from, to);
		a.id = aid.data;
		a.kind = pct >= 0 ? "budget_threshold" : "soft_budget";
		a.subject = subject.data;
		a.text = text.data;
		a.fields = fields.data;
		a.info = 0;
		if (a.id != NULL && alerts_fire(x->l, tg, x->host, &a, err, sizeof(err)) < 0)
			log_error("accountant: %s", err);
	}
out:
	buf_release(&who);
	buf_release(&subject);
	buf_release(&text);
	buf_release(&fields);
	buf_release(&aid);
}

static int
on_key(void *arg, const struct keys_key *k)
{
	char id[BUDGET_ID_MAX], name[32], err[256], what[200];
	struct keys_model_budget mb;
	size_t i;

	snprintf(name, sizeof(name), "key:%02x%02x%02x%02x%02x%02x%02x%02x", k->hash[0], k->hash[1],
	    k->hash[2], k->hash[3], k->hash[4], k->hash[5], k->hash[6], k->hash[7]);
	if (k->a.max_budget != KEYS_UNSET || k->a.soft_budget != KEYS_UNSET) {
		struct window w = { 0 };
		int has_window = k->a.budget_duration != NULL && *k->a.budget_duration &&
		    window_parse(k->a.budget_duration, &w, err, sizeof(err)) == 0;

		limitset_key_id(name, has_window, &w, id, sizeof(id));
		check_budget(arg, id, LIMIT_KEY, name, k->a.alias,
		    k->a.max_budget != KEYS_UNSET ? k->a.max_budget : BUDGET_NONE,
		    k->a.soft_budget != KEYS_UNSET ? k->a.soft_budget : BUDGET_NONE);
	}
	for (i = 0; i < k->a.nmodel_budgets; i++) {
		if (keys_model_budget_parse(k->a.model_budgets[i], &mb, err, sizeof(err)) < 0)
			continue;
		limitset_model_id(name, mb.model, mb.has_window, &mb.window, id, sizeof(id));
		snprintf(what, sizeof(what), "%s on key %s", mb.model, name);
		check_budget(arg, id, LIMIT_KEY_MODEL, what, k->a.alias, mb.max_budget, BUDGET_NONE);
	}
	return 0;
}

void
alerts_check_budgets(struct ledger *l, struct keys *ks, const char *host)
{
	static const enum limit_kind kind[] = {
		LIMIT_GLOBAL, LIMIT_USER, LIMIT_TEAM, LIMIT_CUSTOMER, LIMIT_TAG };
	struct alert_ctx x = { l, host, heritage.config };
	const struct config_tollgate *tg = &heritage.config->tollgate;
	char id[BUDGET_ID_MAX], err[256];
	size_t i;

	if (heritage.budgets == NULL)
		return;
	for (i = 0; i < tg->nbudgets; i++) {
		const struct config_budget *b = &tg->budgets[i];

		limitset_budget_id(b, id, sizeof(id));
		check_budget(&x, id, kind[b->scope], b->name ? b->name : "", NULL, b->max_budget,
		    b->soft_budget);
	}
	if (ks != NULL && keys_list(ks, on_key, &x, err, sizeof(err)) < 0)
		log_error("accountant: %s", err);
}

/* ---- the daily summary --------------------------------------------------------- */

#define TOP		5
#define SUMMARY_LAG_MAX	1000	/* records not yet aggregated when the summary may go */

struct day_sum {
	__int128	total;
	int64_t		requests;
	struct { char model[128]; __int128 cost; int64_t requests; } top[TOP + 1];
	size_t		ntop;
};

static int
on_model_row(void *arg, const struct agg_row *row)
{
	struct day_sum *s = arg;
	const char *model = row->dim[AGG_DIM_MODEL];
	size_t i, j;

	s->total += row->v->total;
	s->requests += row->v->requests;
	for (i = 0; i < s->ntop && strcmp(s->top[i].model, model) != 0; i++)
		;
	if (i == s->ntop) {
		if (s->ntop <= TOP)
			s->ntop++;
		i = s->ntop - 1;
		snprintf(s->top[i].model, sizeof(s->top[i].model), "%s", model);
		s->top[i].cost = 0;
		s->top[i].requests = 0;
	}
	s->top[i].cost += row->v->total;
	s->top[i].requests += row->v->requests;
	for (j = i; j > 0 && s->top[j].cost > s->top[j - 1].cost; j--) {
		__typeof__(s->top[0]) t = s->top[j];

		s->top[j] = s->top[j - 1];
		s->top[j - 1] = t;
	}
	return 0;
}

void
alerts_daily_summary(struct ledger *l, const char *host)
{
	const struct config_tollgate *tg = &heritage.config->tollgate;
	int64_t now = clock_now_ns(), today = time_day_start(now), yday = today - NS_DAY, since;
	struct buf id = { 0 }, subject = { 0 }, text = { 0 }, fields = { 0 };
	char day[40], began[40], cost[MONEY_FORMAT_MAX], err[512];
	uint64_t lag = UINT64_MAX;
	struct day_sum s;
	struct alert a;
	size_t i;

	/*
	 * Asked before the configuration, so that the first start is kept even
	 * while summaries are off.  A day that ended before the gateway began is
	 * none of its business; one it ran in with no requests is summarised.
	 */
	if (alerts_since(l, now, &since, err, sizeof(err)) < 0) {
		log_error("accountant: %s", err);
		return;
	}
	/*
	 * After a restart yesterday's records may still be on their way into the
	 * aggregates: wait for the follow to catch up (a few in flight are today's).
	 */
	if (!tg->alerts_daily_summary || since >= today || aggregate_lag(l, &lag) < 0 ||
	    lag > SUMMARY_LAG_MAX)
		return;
	memset(&s, 0, sizeof(s));
	if (aggregate_scan(l, AGG_TABLE_MODEL_DAY, yday, today, on_model_row, &s, err,
	    sizeof(err)) < 0) {
		log_error("accountant: %s", err);
		return;
	}
	time_format(yday, day, sizeof(day));
	day[10] = '\0';
	money_format(s.total, MONEY_COST_SCALE, cost);
	buf_printf(&id, "summary|%s", day);
	buf_printf(&subject, "tollgate: spend on %s: $%s in %lld requests", day, cost,
	    (long long)s.requests);
	if (since > yday) {
		/* the day the gateway began: the hours before it are no lull */
		buf_printf(&text, "Spend on %s (UTC) since the gateway began at %s: $%s in %lld "
		    "requests.", day, time_format(since, began, sizeof(began)), cost,
		    (long long)s.requests);
	} else
		buf_printf(&text, "Spend on %s (UTC): $%s in %lld requests.", day, cost,
		    (long long)s.requests);
	buf_printf(&fields, "\"day\": \"%s\", \"cost_usd\": %s, \"requests\": %lld, \"models\": [",
	    day, cost, (long long)s.requests);
	for (i = 0; i < s.ntop && i < TOP; i++) {
		money_format(s.top[i].cost, MONEY_COST_SCALE, cost);
		buf_printf(&text, "\n  %s: $%s in %lld requests", s.top[i].model, cost,
		    (long long)s.top[i].requests);
		buf_printf(&fields, "%s{\"model\": ", i ? ", " : "");
		json_write_string(&fields, s.top[i].model);
		buf_printf(&fields, ", \"cost_usd\": %s, \"requests\": %lld}", cost,
		    (long long)s.top[i].requests);
	}
	buf_printf(&fields, "]");
	a.id = id.data;
	a.kind = "daily_summary";
	a.subject = subject.data;
	a.text = text.data;
	a.fields = fields.data;
	a.info = 1;	/* a summary crosses no threshold: not a warning */
	if (alerts_fire(l, tg, host, &a, err, sizeof(err)) < 0)
		log_error("accountant: %s", err);
	buf_release(&id);
	buf_release(&subject);
	buf_release(&text);
	buf_release(&fields);
}
