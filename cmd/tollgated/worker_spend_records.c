/*
 * The spend API's answers that only the raw records hold, for the dashboard
 * (/ui) and scripts; run in the workers, behind the master key like the rest
 * of the spend API (spend_serve() routes here):
 *
 *   GET /spend/whatif?start_date=&end_date=&as=MODEL[&model=M][&tier=T][&group_by=G]
 *	the window's recorded usage priced again as MODEL (lib/reprice.h), per
 *	group (dearest first), beside its recorded cost, exactly as `tollctl
 *	whatif` computes it from the same records and prices (the gateway's
 *	price map, model_list prices included);
 *   GET /spend/provider_cost?start_date=&end_date=
 *	per model, the records whose provider reported its own cost, how many
 *	were flagged cost_mismatch, tollgate's total against the provider's
 *	(lib/costcheck.h, as `tollctl reconcile --provider-cost`).
 *
 * The aggregates keep neither a record's token counts per request (which
 * tiered prices need) nor the provider's figure, so these read the records
 * of the window, oldest first, in one read transaction.  To keep the event
 * loop from waiting long, a window of more than SPEND_RECORDS_SCAN records
 * is refused (400) rather than answered in part: narrow it, or ask tollctl.
 * Raw records past ledger.retention are gone, and so are their answers.
 */
#include <stdlib.h>
#include <string.h>

#include "costcheck.h"
#include "json.h"
#include "ledger.h"
#include "pricemap.h"
#include "reprice.h"
#include "shm.h"
#include "tollgated.h"
#include "worker.h"

#define SPEND_RECORDS_SCAN	50000
#define SPEND_MODEL_MAX		128

/* Counts the records read: a window of more than SPEND_RECORDS_SCAN stops the scan. */
struct scan {
	size_t	read;
	int	too_many;
	int	oom;
};

/* 1 when the scan must stop at r (the window is too long); counts r otherwise. */
static int
scan_full(struct scan *s)
{
	if (++s->read <= SPEND_RECORDS_SCAN)
		return 0;
	s->too_many = 1;
	return 1;
}

/*
 * Visits the records of [since, until) with fn, whose arg begins with a
 * struct scan.  0, or -1 with the error sent (no ledger, a read error, out
 * of memory, or too many records).
 */
static int
scan_window(struct hreq *req, int64_t since, int64_t until, ledger_visit_fn fn, struct scan *s,
    const char *cli)
{
	if (worker.ledger == NULL) {
		http_send_error(req, 503, "server_error", "ledger_unavailable",
		    "the ledger is not open (see the log)");
		return -1;
	}
	if (ledger_range(worker.ledger, since, until, fn, s) < 0) {
		http_send_error(req, 500, "server_error", "ledger_error", "cannot read the ledger");
		return -1;
	}
	if (s->oom) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		return -1;
	}
	if (s->too_many) {
		http_send_param_error(req, "start_date", "the window holds more than %d records, "
		    "more than this endpoint reads in one call: narrow it, or use %s",
		    SPEND_RECORDS_SCAN, cli);
		return -1;
	}
	return 0;
}

/* ---- /spend/whatif ---------------------------------------------------------------- */

struct whatif_scan {
	struct scan	s;	/* first: scan_window() hands it out */
	struct reprice	w;
};

static int
whatif_visit(void *arg, const struct record *r)
{
	struct whatif_scan *ws = arg;

	if (scan_full(&ws->s))
		return 1;
	if (reprice_add(&ws->w, r) < 0) {
		ws->s.oom = 1;
		return 1;
	}
	return 0;
}

/* {"audio_in": 120, ...}: the quantities of each category the target does not price. */
static void
not_priced_json(struct buf *o, const struct reprice_group *g)
{
	int i, first = 1;

	buf_printf(o, "{");
	for (i = 0; i < RECORD_TOKEN_COUNT; i++) {
		if (g->unpriced[i] == 0)
			continue;
		buf_printf(o, "%s\"%s\": %lld", first ? "" : ", ", record_token_name(i),
		    (long long)g->unpriced[i]);
		first = 0;
	}
	buf_printf(o, "}");
}

static int
by_recorded_desc(const void *a, const void *b)
{
	const struct reprice_group *x = a, *y = b;

	if (x->recorded != y->recorded)
		return x->recorded > y->recorded ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * The groups dearest first (as recorded); by key, each group's "key_alias"
 * too (null: none), as /spend/totals has it.
 */
static void
whatif_json(struct buf *o, struct reprice *w, const char *as, const char *tier)
{
	struct key_names kn = { 0 };
	size_t i;

	if (w->by == REPRICE_BY_KEY)
		spend_key_names_load(&kn);
	if (w->ngroups > 1)
		qsort(w->groups, w->ngroups, sizeof(w->groups[0]), by_recorded_desc);

	buf_printf(o, "{\"as\": ");
	json_write_string(o, as);
	buf_printf(o, ", \"tier\": ");
	if (tier != NULL)
		json_write_string(o, tier);
	else
		buf_printf(o, "null");
	buf_printf(o, ", \"group_by\": \"%s\", \"groups\": [", reprice_by_name(w->by));
	for (i = 0; i < w->ngroups; i++) {
		const struct reprice_group *g = &w->groups[i];

		buf_printf(o, "%s{\"group\": ", i ? ", " : "");
		json_write_string(o, g->name);
		if (w->by == REPRICE_BY_KEY) {
			const struct key_name *k = spend_key_name_of(&kn, g->name);

			buf_printf(o, ", \"key_alias\": ");
			if (k != NULL && *k->alias)
				json_write_string(o, k->alias);
			else
				buf_printf(o, "null");
		}
		buf_printf(o, ", \"requests\": %llu, \"recorded_usd\": ",
		    (unsigned long long)g->requests);
		spend_money(o, g->recorded);
		buf_printf(o, ", \"as_usd\": ");
		spend_money(o, g->as);
		buf_printf(o, ", \"difference_usd\": ");
		spend_money(o, g->as - g->recorded);
		buf_printf(o, ", \"not_priced\": ");
		not_priced_json(o, g);
		buf_printf(o, "}");
	}
	buf_printf(o, "]}\n");
	free(kn.k);
}

/* The what-if question's parameters into ws->w (the table is v's); 0, or -1 with the 400 sent. */
static int
whatif_question(struct hreq *req, const struct price_view *v, struct whatif_scan *ws,
    char *model, char *tier, const char **tier_asked)
{
	const char *by[REPRICE_BY_COUNT];
	char as[SPEND_MODEL_MAX];
	int rc, g;

	for (g = 0; g < REPRICE_BY_COUNT; g++)
		by[g] = reprice_by_name((enum reprice_by)g);
	if ((rc = spend_param(req, "as", as, sizeof(as))) < 0)
		return -1;
	if (rc == 0 || *as == '\0') {
		http_send_param_error(req, "as", "as is required: the price-map entry to price at");
		return -1;
	}
	if ((ws->w.as = price_lookup(v->table, as, strlen(as))) == NULL) {
		http_send_param_error(req, "as", "as: model '%s' is not in the price map", as);
		return -1;
	}
	ws->w.table = v->table;
	if ((rc = spend_param(req, "model", model, SPEND_MODEL_MAX)) < 0)
		return -1;
	ws->w.model = rc && *model ? model : NULL;
	ws->w.tier = -1;
	*tier_asked = NULL;
	if ((rc = spend_param(req, "tier", tier, SPEND_MODEL_MAX)) < 0)
		return -1;
	if (rc && *tier) {
		if (reprice_tier_from_name(tier, &ws->w.tier, &ws->w.batch) < 0) {
			http_send_param_error(req, "tier", "tier: expected standard, batch, flex or "
			    "priority, got '%s'", tier);
			return -1;
		}
		*tier_asked = tier;
	}
	if ((g = spend_group_by(req, (const char *const *)by, REPRICE_BY_COUNT, "model")) < 0)
		return -1;
	ws->w.by = (enum reprice_by)g;
	return 0;
}

void
spend_serve_whatif(struct hreq *req)
{
	struct price_view *v = worker_prices();
	char model[SPEND_MODEL_MAX], tier[SPEND_MODEL_MAX];
	struct whatif_scan ws = { { 0 }, { 0 } };
	const char *tier_asked;
	struct buf o = { 0 };
	int64_t since, until;

	if (v == NULL) {
		http_send_error(req, 503, "server_error", "prices_unavailable",
		    "no price table is loaded (see the log)");
		return;
	}
	if (spend_window(req, 1, &since, &until) == 0 &&
	    whatif_question(req, v, &ws, model, tier, &tier_asked) == 0 &&
	    scan_window(req, since, until, whatif_visit, &ws.s, "tollctl whatif") == 0) {
		whatif_json(&o, &ws.w, price_str(v->table, ws.w.as->name), tier_asked);
		spend_reply(req, &o);
	}
	reprice_release(&ws.w);
	buf_release(&o);
	worker_release_prices(v);
}

/* ---- /spend/provider_cost ------------------------------------------------------------- */

struct model_check {
	char			model[128];
	struct costcheck_sum	sum;
};

struct check_scan {
	struct scan		 s;	/* first: scan_window() hands it out */
	struct model_check	*v;
	size_t			 n, cap;
};

static int
check_visit(void *arg, const struct record *r)
{
	struct check_scan *cs = arg;
	/* the model as tollctl reconcile --provider-cost and the alerts name it */
	const char *model = r->priced_as[0] ? r->priced_as : r->deployment;
	size_t i;

	if (scan_full(&cs->s))
		return 1;
	if (!(r->flags & RECORD_FLAG_PROVIDER_COST))
		return 0;
	for (i = 0; i < cs->n && strcmp(cs->v[i].model, model) != 0; i++)
		;
	if (i == cs->n) {
		if (ARRAY_GROW(cs->v, cs->n, cs->cap) < 0) {
			cs->s.oom = 1;
			return 1;
		}
		memset(&cs->v[i], 0, sizeof(cs->v[i]));
		buf_copy(cs->v[i].model, sizeof(cs->v[i].model), model);
		cs->n++;
	}
	costcheck_add(&cs->v[i].sum, r, 0);
	return 0;
}

/* The members of a model's (or the window's) figures. */
static void
check_json(struct buf *o, const struct costcheck_sum *s)
{
	buf_printf(o, "\"records\": %llu, \"mismatches\": %llu, \"tollgate_cost_usd\": ",
	    (unsigned long long)s->records, (unsigned long long)s->mismatches);
	spend_money(o, s->computed);
	buf_printf(o, ", \"provider_cost_usd\": ");
	spend_money(o, s->provider);
	buf_printf(o, ", \"delta_usd\": ");
	spend_money(o, s->provider - s->computed);
}

static int
by_mismatches_desc(const void *a, const void *b)
{
	const struct model_check *x = a, *y = b;

	if (x->sum.mismatches != y->sum.mismatches)
		return x->sum.mismatches > y->sum.mismatches ? -1 : 1;
	return strcmp(x->model, y->model);
}

void
spend_serve_provider_cost(struct hreq *req)
{
	struct check_scan cs = { { 0 }, NULL, 0, 0 };
	struct costcheck_sum total = { 0 };
	struct buf o = { 0 };
	int64_t since, until;
	size_t i;

	if (spend_window(req, 1, &since, &until) < 0 ||
	    scan_window(req, since, until, check_visit, &cs.s,
	    "tollctl reconcile --provider-cost") < 0) {
		free(cs.v);
		return;
	}
	if (cs.n > 1)
		qsort(cs.v, cs.n, sizeof(cs.v[0]), by_mismatches_desc);
	buf_printf(&o, "{\"models\": [");
	for (i = 0; i < cs.n; i++) {
		buf_printf(&o, "%s{\"model\": ", i ? ", " : "");
		json_write_string(&o, cs.v[i].model);
		buf_printf(&o, ", ");
		check_json(&o, &cs.v[i].sum);
		buf_printf(&o, "}");
		total.records += cs.v[i].sum.records;
		total.mismatches += cs.v[i].sum.mismatches;
		total.computed += cs.v[i].sum.computed;
		total.provider += cs.v[i].sum.provider;
	}
	buf_printf(&o, "], \"total\": {");
	check_json(&o, &total);
	buf_printf(&o, "}}\n");
	spend_reply(req, &o);
	free(cs.v);
	buf_release(&o);
}
