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
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "pricemap.h"
#include "record.h"
#include "reprice.h"
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

/* The question and its answer (lib/reprice.h, which the spend API's /spend/whatif shares). */
struct whatif {
	struct reprice	 r;
	int		 oom;
};

static int
visit(void *arg, const struct record *r)
{
	struct whatif *w = arg;

	if (reprice_add(&w->r, r) < 0) {
		w->oom = 1;
		return 1;
	}
	return 0;
}

static void
unpriced_text(const struct reprice_group *g, struct buf *o, int json)
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
	for (i = 0; i < w->r.ngroups; i++) {
		const struct reprice_group *g = &w->r.groups[i];

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

	w.r.tier = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:u:a:m:t:b:p:l:f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'a': as = optarg; break;
		case 'm': w.r.model = optarg; break;
		case 'l': dir = optarg; break;
		case 't':
			if (reprice_tier_from_name(optarg, &w.r.tier, &w.r.batch) < 0) {
				log_error("--tier: '%s' is not standard, batch, flex or priority", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'b':
			if (reprice_by_from_name(optarg, &w.r.by) < 0) {
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
	w.r.table = t;
	if ((w.r.as = price_lookup(t, as, strlen(as))) == NULL) {
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
	write_report(&w, price_str(t, w.r.as->name), json, &o);
	if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len) {
		log_error("cannot write the report");
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
	ledger_close(l);
	free(t);
	reprice_release(&w.r);
	buf_release(&o);
	return rc;
}
