/*
 * tollctl whatif: the recorded usage of a window priced again as another
 * model (or tier), exactly, beside what it was recorded to cost.  "What
 * would this month have cost on gpt-5-mini?"  Reads the ledger only; the
 * same engine and price map the gateway uses, from the token counts the
 * records keep.  A category the target has no price for (after the usual
 * fallbacks) is listed, never silently counted as free.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "cost.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "pricemap.h"
#include "reconcile.h"
#include "record.h"
#include "timeparse.h"
#include "tollctl.h"


static const char whatif_help[] =
"usage: tollctl whatif --since T [--until T] --as MODEL [--model M]\n"
"                      [--tier standard|batch|flex|priority] [--by key|team|user|customer|model]\n"
"                      [--prices FILE ...] [--ledger DIR] [--format table|json]\n"
"\n"
"Prices the usage recorded in [since, until) (until: now) again as MODEL, a\n"
"price-map entry, and prints per group (--by, default model) the requests, the\n"
"cost as recorded (re-rating adjustments included), the cost as MODEL and the\n"
"difference, exactly.  --model keeps only the records of one model (its requested\n"
"name, deployment or price-map entry); --tier prices at that tier instead of the\n"
"one each request was served at (batch: the *_batches prices, else half).\n"
"Usage MODEL has no price for, after the usual fallbacks (cache to input, audio\n"
"and image to text, reasoning to output), is listed per category with its\n"
"quantity: it is not counted as free.  --prices as for tollctl cost (default: the\n"
"installed price map).  Exit status: 0; 1 on errors, or when MODEL is not in the\n"
"price map.\n";

enum whatif_by { BY_MODEL, BY_KEY, BY_TEAM, BY_USER, BY_CUSTOMER };

struct group {
	char		name[128];
	uint64_t	requests;
	money_sum	recorded, as;
	int64_t		unpriced[RECORD_TOKEN_COUNT];	/* quantities the target does not price */
};

struct whatif {
	const struct price_table	*t;
	const struct price_entry	*as;
	const char			*model;
	enum whatif_by			 by;
	int				 tier;		/* -1: as served */
	int				 batch;
	struct group			*g;
	size_t				 n, cap;
	int				 oom;
};

static const char *
group_name(const struct whatif *w, const struct record *r)
{
	switch (w->by) {
	case BY_KEY:
		return r->key;
	case BY_TEAM:
		return r->team;
	case BY_USER:
		return r->user;
	case BY_CUSTOMER:
		return r->customer;
	case BY_MODEL:
		break;
	}
	return r->priced_as[0] ? r->priced_as : r->model_requested;
}

static struct group *
group_for(struct whatif *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->g[i].name, name) == 0)
			return &w->g[i];
	if (ARRAY_GROW(w->g, w->n, w->cap) < 0)
		return NULL;
	memset(&w->g[w->n], 0, sizeof(w->g[0]));
	snprintf(w->g[w->n].name, sizeof(w->g[0].name), "%s", name);
	return &w->g[w->n++];
}

/* The cost part that prices token category i (the two enums share their first 13 places). */
_Static_assert((int)RECORD_TOK_SEARCH == (int)COST_SEARCH &&
    (int)RECORD_TOK_DURATION_MS == (int)COST_DURATION && (int)RECORD_TOKEN_COUNT == (int)COST_REQUEST,
    "record token categories and cost parts line up");

static int
visit(void *arg, const struct record *r)
{
	struct whatif *w = arg;
	struct cost_options o;
	struct group *g;
	struct usage u;
	struct cost c;
	int i;

	if (w->model && !reconcile_record_matches(r, w->model))
		return 0;
	if ((g = group_for(w, group_name(w, r))) == NULL) {
		w->oom = 1;
		return 1;
	}
	g->recorded += r->total;
	if (r->flags & RECORD_FLAG_ADJUSTMENT)
		return 0;	/* a re-rating of a request counted here already */
	g->requests++;
	tollctl_record_usage(r, &u);
	cost_options_init(&o);
	if (w->tier >= 0)
		u.tier = (uint8_t)w->tier;
	o.batch = w->batch;
	cost_compute(w->t, w->as, &u, &o, &c);
	g->as += c.total;
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		if (r->tokens[i] > 0 && c.part[i] == 0 && i != RECORD_TOK_DURATION_MS)
			g->unpriced[i] += r->tokens[i];
	return 0;
}

static void
unpriced_text(const struct group *g, struct buf *o, int json)
{
	size_t mark = o->len;
	int i;

	for (i = 0; i < RECORD_TOKEN_COUNT; i++) {
		if (g->unpriced[i] == 0)
			continue;
		if (json)
			buf_printf(o, "%s\"%s\": %lld", o->len > mark ? ", " : "", record_token_name(i),
			    (long long)g->unpriced[i]);
		else
			buf_printf(o, "%s%s %lld", o->len > mark ? ", " : "", record_token_name(i),
			    (long long)g->unpriced[i]);
	}
	if (!json && o->len == mark)
		buf_printf(o, "-");
}

static void
write_report(const struct whatif *w, const char *as, int json, struct buf *o)
{
	char a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX], d[MONEY_FORMAT_MAX];
	size_t i;

	if (json)
		buf_printf(o, "[");
	else
		buf_printf(o, "%-32s %10s %20s %20s %20s  %s\n", "GROUP", "REQUESTS", "RECORDED USD",
		    "AS TARGET USD", "DIFFERENCE USD", "NOT PRICED BY TARGET");
	for (i = 0; i < w->n; i++) {
		const struct group *g = &w->g[i];

		money_format(g->recorded, MONEY_COST_SCALE, a);
		money_format(g->as, MONEY_COST_SCALE, b);
		money_format(g->as - g->recorded, MONEY_COST_SCALE, d);
		if (json) {
			buf_printf(o, "%s{\"group\": ", i ? ", " : "");
			json_write_string(o, g->name);
			buf_printf(o, ", \"as\": ");
			json_write_string(o, as);
			buf_printf(o, ", \"requests\": %llu, \"recorded_usd\": %s, \"as_usd\": %s, "
			    "\"difference_usd\": %s, \"not_priced\": {", (unsigned long long)g->requests,
			    a, b, d);
			unpriced_text(g, o, 1);
			buf_printf(o, "}}");
		} else {
			buf_printf(o, "%-32s %10llu %20s %20s %20s  ", g->name[0] ? g->name : "-",
			    (unsigned long long)g->requests, a, b, d);
			unpriced_text(g, o, 0);
			buf_printf(o, "\n");
		}
	}
	buf_printf(o, json ? "]\n" : "");
}

static int
by_from_name(const char *s, enum whatif_by *out)
{
	static const char *const names[] = { "model", "key", "team", "user", "customer" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum whatif_by)i;
			return 0;
		}
	return -1;
}

int
whatif_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "as", required_argument, NULL, 'a' },
		{ "model", required_argument, NULL, 'm' },
		{ "tier", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },
		{ "prices", required_argument, NULL, 'p' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prices[TOLLCTL_PRICE_FILES], *since = NULL, *until = NULL, *as = NULL;
	const char *dir = tollctl_ledger_dir();
	char err[PATH_MAX + 256];
	struct whatif w = { 0 };
	struct price_table *t = NULL;
	struct ledger *l = NULL;
	struct buf o = { 0 };
	int64_t since_ns, until_ns, now = clock_now_ns();
	int nprices = 0, json = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	w.tier = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:u:a:m:t:b:p:l:f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'a': as = optarg; break;
		case 'm': w.model = optarg; break;
		case 'l': dir = optarg; break;
		case 't':
			if (strcmp(optarg, "batch") == 0) {
				w.batch = 1;
				w.tier = PRICE_TIER_STANDARD;
			} else if (price_tier_from_name(optarg, &w.tier) < 0) {
				log_error("--tier: '%s' is not standard, batch, flex or priority", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'b':
			if (by_from_name(optarg, &w.by) < 0) {
				log_error("--by: '%s' is not key, team, user, customer or model", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'p':
			if (tollctl_add_price_file(prices, &nprices, optarg) < 0)
				return TOLLCTL_EXIT_ERROR;
			break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
				log_error("--format: '%s' is not table or json", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			json = strcmp(optarg, "json") == 0;
			break;
		case 'h': fputs(whatif_help, stdout); return TOLLCTL_EXIT_OK;
		default: fputs(whatif_help, stderr); return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl whatif --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (since == NULL || as == NULL) {
		log_error("whatif needs --since and --as (try 'tollctl whatif --help')");
		return TOLLCTL_EXIT_ERROR;
	}
	if (time_parse(since, now, &since_ns, err, sizeof(err)) < 0 ||
	    (until != NULL && time_parse(until, now, &until_ns, err, sizeof(err)) < 0)) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	if (until == NULL)
		until_ns = now;
	if (since_ns >= until_ns) {
		log_error("--since is not before --until");
		return TOLLCTL_EXIT_ERROR;
	}
	if ((t = tollctl_load_prices(prices, nprices, 1)) == NULL)
		goto out;
	w.t = t;
	if ((w.as = price_lookup(t, as, strlen(as))) == NULL) {
		log_error("--as: model '%s' is not in the price map", as);
		goto out;
	}
	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (ledger_range(l, since_ns, until_ns, visit, &w) < 0 || w.oom) {
		log_error("cannot read ledger '%s'%s", dir, w.oom ? ": out of memory" : "");
		goto out;
	}
	write_report(&w, price_str(t, w.as->name), json, &o);
	if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len) {
		log_error("cannot write the report");
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	free(t);
	free(w.g);
	buf_release(&o);
	return rc;
}
