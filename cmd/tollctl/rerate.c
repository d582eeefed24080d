/*
 * tollctl rerate: recomputes the cost of recorded requests with a corrected
 * price map (the stale-price case of a reconciliation) and reports old and
 * new totals per model.  With --apply it appends adjustment records, never
 * rewriting history: each carries the cost difference (possibly negative)
 * under the id "adj_<original id>", no tokens, and the flag adjustment, so
 * aggregates, spend and reconcile include it without counting a request
 * twice.  Running it again with the same prices adds nothing.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "cost.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "pricemap.h"
#include "record.h"
#include "timeparse.h"
#include "tollctl.h"

static const char rerate_help[] =
"usage: tollctl rerate --prices FILE [--prices FILE ...] --since T --until T\n"
"                      [--model M] [--as-of T] [--apply] [--ledger DIR]\n"
"\n"
"Prices the recorded requests of [since, until) again with the given price\n"
"files, from the token counts in their records, and prints per model the\n"
"requests, the cost as recorded (adjustments included), the new cost and the\n"
"difference.  Unpriced records are priced if the new map knows their model.\n"
"Each request is priced at its model's version in force when it started (the\n"
"map's effective_from dates), as the gateway prices it: a version dated later\n"
"changes nothing before its date, a correction dated in the past re-rates\n"
"exactly the requests from that date on.\n"
"\n"
"  --as-of T price every request at the versions in force at T instead (now:\n"
"            the current prices)\n"
"  --apply   append one adjustment record per request whose cost changes:\n"
"            id adj_<id>, the cost difference per category, no tokens, flag\n"
"            adjustment.  History is never rewritten; aggregates, spend and\n"
"            reconcile include adjustments, and counting them as requests is\n"
"            avoided.  Running again with the same prices adds nothing.\n"
"\n"
"Re-rating uses what records keep: token counts per category, the tier, the\n"
"duration.  Anthropic's speed and region multipliers are not kept in records and\n"
"are not applied.  Exit status: 0; 1 on errors.\n";

/* One original record and what has been adjusted on it so far. */
struct item {
	struct record	 rec;
	int64_t		 adjusted[COST_PART_COUNT];
	int64_t		 adjusted_total;
	int		 has_rec;
};

struct model_sum {
	char		name[128];
	uint64_t	requests;
	money_sum	before, after;
};

struct rerate {
	const char		*model;
	struct item		*items;
	size_t			 n, cap;
	int			 oom;
};

static struct item *
item_for(struct rerate *x, const char *id)
{
	size_t i;

	for (i = x->n; i > 0; i--)
		if (strcmp(x->items[i - 1].rec.id, id) == 0)
			return &x->items[i - 1];
	if (ARRAY_GROW(x->items, x->n, x->cap) < 0)
		return NULL;
	memset(&x->items[x->n], 0, sizeof(x->items[0]));
	snprintf(x->items[x->n].rec.id, sizeof(x->items[0].rec.id), "%s", id);
	return &x->items[x->n++];
}

static int
collect(void *arg, const struct record *r)
{
	struct rerate *x = arg;
	struct item *it;
	int i;

	if (x->model && strcmp(x->model, r->model_requested) != 0 &&
	    strcmp(x->model, r->deployment) != 0 && strcmp(x->model, r->priced_as) != 0)
		return 0;
	if (r->flags & RECORD_FLAG_ADJUSTMENT) {
		if (strncmp(r->id, "adj_", 4) != 0 || (it = item_for(x, r->id + 4)) == NULL)
			return (x->oom = strncmp(r->id, "adj_", 4) == 0);
		for (i = 0; i < COST_PART_COUNT; i++)
			it->adjusted[i] += r->cost[i];
		it->adjusted_total += r->total;
		return 0;
	}
	if ((it = item_for(x, r->id)) == NULL) {
		x->oom = 1;
		return 1;
	}
	it->rec = *r;
	it->has_rec = 1;
	return 0;
}

/* The entry to re-rate with, at_s's version: the one it was priced as, else its deployment or model. */
static const struct price_entry *
entry_for(const struct price_table *t, const struct record *r, int64_t at_s)
{
	const char *names[] = { r->priced_as, r->deployment, r->model_requested };
	char qualified[300];
	const struct price_entry *e;
	size_t i;

	for (i = 0; i < 3; i++) {
		if (names[i][0] == '\0')
			continue;
		if (i == 1 && r->provider[0]) {
			snprintf(qualified, sizeof(qualified), "%s/%s", r->provider, names[i]);
			if ((e = price_lookup_at(t, qualified, strlen(qualified), at_s)) != NULL)
				return e;
		}
		if ((e = price_lookup_at(t, names[i], strlen(names[i]), at_s)) != NULL)
			return e;
	}
	return NULL;
}

static struct model_sum *
sum_for(struct model_sum **sums, size_t *n, size_t *cap, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*sums)[i].name, name) == 0)
			return &(*sums)[i];
	if (ARRAY_GROW(*sums, *n, *cap) < 0)
		return NULL;
	memset(&(*sums)[*n], 0, sizeof((*sums)[0]));
	snprintf((*sums)[*n].name, sizeof((*sums)[0].name), "%s", name);
	return &(*sums)[(*n)++];
}

int
rerate_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prices", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "model", required_argument, NULL, 'm' },
		{ "as-of", required_argument, NULL, 'o' },
		{ "apply", no_argument, NULL, 'a' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prices[TOLLCTL_PRICE_FILES], *since = NULL, *until = NULL, *as_of = NULL;
	const char *dir = tollctl_ledger_dir();
	struct rerate x = { 0 };
	struct model_sum *sums = NULL;
	struct record *adj = NULL;
	struct price_table *t = NULL;
	struct ledger *l = NULL;
	size_t nsums = 0, capsums = 0, nadj = 0, capadj = 0, i;
	int64_t since_ns, until_ns, as_of_ns = 0, now = clock_now_ns();
	char err[PATH_MAX + 256], a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX], d[MONEY_FORMAT_MAX];
	int nprices = 0, apply = 0, ch, k, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:s:u:m:o:al:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (tollctl_add_price_file(prices, &nprices, optarg) < 0)
				return TOLLCTL_EXIT_ERROR;
			break;
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'm': x.model = optarg; break;
		case 'o': as_of = optarg; break;
		case 'a': apply = 1; break;
		case 'l': dir = optarg; break;
		case 'h': fputs(rerate_help, stdout); return TOLLCTL_EXIT_OK;
		default: fputs(rerate_help, stderr); return TOLLCTL_EXIT_ERROR;
		}
	}
	if (nprices == 0 || since == NULL || until == NULL) {
		log_error("rerate needs --prices, --since and --until (try 'tollctl rerate --help')");
		return TOLLCTL_EXIT_ERROR;
	}
	if (time_parse(since, now, &since_ns, err, sizeof(err)) < 0 ||
	    time_parse(until, now, &until_ns, err, sizeof(err)) < 0 ||
	    (as_of != NULL && strcmp(as_of, "now") != 0 &&
	    time_parse(as_of, now, &as_of_ns, err, sizeof(err)) < 0)) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	if ((t = tollctl_load_prices(prices, nprices, 1)) == NULL)
		return TOLLCTL_EXIT_ERROR;
	if (ledger_open(dir, apply ? LEDGER_WRITE : LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (ledger_range(l, since_ns, until_ns, collect, &x) < 0 || x.oom) {
		log_error("cannot read ledger '%s'%s", dir, x.oom ? ": out of memory" : "");
		goto out;
	}
	for (i = 0; i < x.n; i++) {
		struct item *it = &x.items[i];
		const struct record *r = &it->rec;
		const struct price_entry *e;
		struct cost_options o;
		struct model_sum *m;
		struct usage u;
		struct cost c;
		int64_t delta;

		if (!it->has_rec)
			continue;	/* an adjustment whose request is outside the window */
		tollctl_record_usage(r, &u);
		cost_options_init(&o);
		e = entry_for(t, r, (as_of == NULL ? r->start_ns : as_of_ns ? as_of_ns : now) /
		    1000000000);
		cost_compute(t, e, &u, &o, &c);
		if (e == NULL)
			c.total = r->total + it->adjusted_total;	/* nothing better to say: unchanged */
		if ((m = sum_for(&sums, &nsums, &capsums, e ? price_str(t, e->name) :
		    r->priced_as[0] ? r->priced_as : r->model_requested)) == NULL)
			goto nomem;
		m->requests++;
		m->before += r->total + it->adjusted_total;
		m->after += c.total;
		delta = c.total - (r->total + it->adjusted_total);
		if (!apply || delta == 0 || e == NULL)
			continue;
		if (ARRAY_GROW(adj, nadj, capadj) < 0)
			goto nomem;
		adj[nadj] = *r;
		snprintf(adj[nadj].id, sizeof(adj[nadj].id), "adj_%.35s", r->id);
		memset(adj[nadj].tokens, 0, sizeof(adj[nadj].tokens));
		for (k = 0; k < COST_PART_COUNT; k++)
			adj[nadj].cost[k] = c.part[k] - r->cost[k] - it->adjusted[k];
		adj[nadj].total = delta;
		adj[nadj].flags = RECORD_FLAG_ADJUSTMENT;
		adj[nadj].usage_flags = c.flags & ~(uint32_t)USAGE_FLAG_UNPRICED;
		snprintf(adj[nadj].priced_as, sizeof(adj[nadj].priced_as), "%s", price_str(t, e->name));
		adj[nadj].price_from = (e->flags & PRICE_DATED) ? e->effective_s : 0;
		nadj++;
	}
	printf("%-32s %10s %20s %20s %20s\n", "MODEL", "REQUESTS", "RECORDED USD", "RERATED USD",
	    "DIFFERENCE USD");
	for (i = 0; i < nsums; i++)
		printf("%-32s %10llu %20s %20s %20s\n", sums[i].name,
		    (unsigned long long)sums[i].requests, money_format(sums[i].before, MONEY_COST_SCALE, a),
		    money_format(sums[i].after, MONEY_COST_SCALE, b),
		    money_format(sums[i].after - sums[i].before, MONEY_COST_SCALE, d));
	if (apply) {
		if (nadj && ledger_append(l, adj, nadj, err, sizeof(err)) != 0) {
			log_error("%s", err);
			goto out;
		}
		printf("%zu adjustment record%s appended\n", nadj, nadj == 1 ? "" : "s");
	}
	rc = TOLLCTL_EXIT_OK;
	goto out;
nomem:
	log_error("out of memory");
out:
	ledger_close(l);
	free(t);
	free(x.items);
	free(sums);
	free(adj);
	return rc;
}
