/*
 * tollctl status: the running gateway as it is now, read from the files its
 * master keeps in the run directory (lib/status.h: the processes and their
 * load; lib/budget.h: the budget counters workers admit against).  Nothing
 * is asked of the gateway and nothing is locked; keys appear by their id,
 * never their secret.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "json.h"
#include "limitset.h"
#include "log.h"
#include "money.h"
#include "router.h"
#include "status.h"
#include "timeparse.h"
#include "tollctl.h"
#include "window.h"

static const char status_help[] =
"usage: tollctl status [--run-dir DIR] [--json]\n"
"\n"
"Shows the running gateway from its shared memory: the master (pid, uptime,\n"
"config generation, the price-map generation and when it was published), the\n"
"accountant (pid, records behind the ledger), every worker (pid, generation,\n"
"serving or draining, open connections, requests in flight and served,\n"
"start), and every budget with a limit (scope, name, window, spent, reserved\n"
"by requests in flight, limit, remaining, next reset).  Amounts in USD.\n"
"Exits 1 when no gateway runs in the run directory.\n"
"\n"
"  --run-dir DIR   the gateway's run directory (default: $TOLLGATE_RUN_DIR, else\n"
"                  " TOLLGATE_RUN_DIR ")\n"
"  --json          one JSON object, for scripts\n";

/* A budget counter to show, its window taken to now. */
struct row {
	enum limit_kind		 kind;
	char			 name[BUDGET_ID_MAX];
	char			 window[16];
	int64_t			 spent, reserved, max, resets;	/* resets: INT64_MAX never */
};

struct rows {
	struct row	*r;
	size_t		 n, cap;
	int64_t		 now;
	int		 tz_set;
	const char	*tz;
};

static const char *
scope_name(enum limit_kind k)
{
	static const char *const names[] = {
		[LIMIT_KEY] = "key", [LIMIT_KEY_MODEL] = "key-model", [LIMIT_GLOBAL] = "global",
		[LIMIT_USER] = "user", [LIMIT_TEAM] = "team", [LIMIT_CUSTOMER] = "customer",
		[LIMIT_TAG] = "tag", [LIMIT_RPM] = "rpm", [LIMIT_TPM] = "tpm",
	};

	return names[k];
}

static int
on_counter(void *arg, const struct budget_counter *c)
{
	struct rows *rs = arg;
	struct row *r;
	enum limit_kind kind;
	char name[BUDGET_ID_MAX], err[256];
	int64_t start, end;

	/* budgets only: rate limits count requests and tokens, and unlimited keys just spend */
	if (c->max == BUDGET_NONE ||
	    limitset_describe(c->id, c->has_window, &c->window, &kind, name, sizeof(name)) < 0 ||
	    kind == LIMIT_RPM || kind == LIMIT_TPM)
		return 0;
	if (ARRAY_GROW(rs->r, rs->n, rs->cap) < 0)
		return -1;
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	memcpy(r->name, name, sizeof(r->name));
	limitset_window_text(c->has_window, &c->window, r->window, sizeof(r->window));
	r->spent = c->spent;
	r->reserved = c->reserved;
	r->max = c->max;
	r->resets = c->has_window ? c->window_end : INT64_MAX;
	if (c->has_window && rs->now >= c->window_end) {
		/* its window ended since it last counted: this one has spent nothing yet */
		if (!rs->tz_set && window_set_timezone(rs->tz, err, sizeof(err)) < 0)
			log_warn("budget_timezone: %s (next resets in the local time zone)", err);
		rs->tz_set = 1;
		window_bounds(&c->window, rs->now, &start, &end);
		r->spent = 0;
		r->resets = end;
	}
	return 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->kind != y->kind)
		return strcmp(scope_name(x->kind), scope_name(y->kind));
	if (strcmp(x->name, y->name) != 0)
		return strcmp(x->name, y->name);
	return strcmp(x->window, y->window);
}

/* Deployments by group, then as model_list names them. */
static int
dep_cmp(const void *a, const void *b)
{
	const struct router_slot *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	return c ? c : strcmp(x->deployment, y->deployment);
}

static int
slot_cmp(const void *a, const void *b)
{
	const struct status_slot *x = a, *y = b;

	if (x->generation != y->generation)
		return x->generation < y->generation ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * a - b, held at the ends of int64_t: the counters and times come from a
 * file, whose values need not be any this gateway could have written.
 */
static int64_t
minus(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* What a budget has left: its limit less spent and reserved. */
static int64_t
remaining(const struct row *r)
{
	return minus(minus(r->max, r->spent), r->reserved);
}

static const char *
usd(int64_t pico, char *out)
{
	return money_format(pico, MONEY_COST_SCALE, out);
}

/* "3d 04h", "2h 05m", "4m 10s", "12s" */
static const char *
duration(int64_t ns, char *out, size_t n)
{
	long long s = ns > 0 ? ns / 1000000000 : 0;

	if (s >= 86400)
		snprintf(out, n, "%lldd %02lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, n, "%lldh %02lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, n, "%lldm %02llds", s / 60, s % 60);
	else
		snprintf(out, n, "%llds", s);
	return out;
}

static void
json_time(struct buf *b, int64_t ns)
{
	char t[40];

	if (ns <= 0 || ns == INT64_MAX)
		buf_printf(b, "null");
	else
		buf_printf(b, "\"%s\"", time_format(ns, t, sizeof(t)));
}

/* The deployments the router tracks: their slots in use, copied. */
struct deps {
	struct router_slot	*d;
	size_t			 n;
};

/* Seconds of cooldown left at now, 0 when not cooling. */
static long long
cooling_s(const struct router_slot *d, int64_t now)
{
	return d->cooldown_until_ns > now ? (d->cooldown_until_ns - now + 999999999) / 1000000000 : 0;
}

static void
json_deployments(struct buf *b, const struct deps *ds, int64_t now)
{
	size_t i;

	buf_printf(b, ", \"deployments\": [");
	for (i = 0; i < ds->n; i++) {
		const struct router_slot *d = &ds->d[i];

		buf_printf(b, "%s{\"model_group\": ", i ? ", " : "");
		json_write_string(b, d->group);
		buf_printf(b, ", \"deployment\": ");
		json_write_string(b, d->deployment);
		buf_printf(b, ", \"model_id\": ");
		json_write_string(b, d->id);
		buf_printf(b, ", \"cooling\": %s, \"cooldown_remaining_s\": %lld, \"cooldowns\": %llu, "
		    "\"in_flight\": %lld, \"ttfb_ms\": %lld.%03lld, \"requests\": %llu, "
		    "\"failures\": %llu, \"last_failure\": ", cooling_s(d, now) ? "true" : "false",
		    cooling_s(d, now), (unsigned long long)d->cooldowns, (long long)d->in_flight,
		    (long long)(d->ttfb_us / 1000), (long long)(d->ttfb_us % 1000),
		    (unsigned long long)d->requests, (unsigned long long)d->failures);
		if (d->failures)
			json_write_string(b, router_failure_name((enum config_failure)d->last_failure));
		else
			buf_printf(b, "null");
		buf_printf(b, "}");
	}
	buf_printf(b, "]");
}

static void
print_json(const char *run_dir, const struct status_header *h, const struct status_slot *acc,
    const struct status_slot *w, size_t nw, const struct rows *rs, const struct deps *ds)
{
	struct buf b = { 0 };
	char m[4][MONEY_FORMAT_MAX];
	size_t i;

	buf_printf(&b, "{\"run_dir\": ");
	json_write_string(&b, run_dir);
	buf_printf(&b, ", \"master\": {\"pid\": %lld, \"started\": ", (long long)h->master_pid);
	json_time(&b, h->started_ns);
	buf_printf(&b, ", \"uptime_s\": %lld, \"generation\": %llu, \"generation_since\": ",
	    (long long)(minus(rs->now, h->started_ns) / 1000000000), (unsigned long long)h->generation);
	json_time(&b, h->generation_ns);
	buf_printf(&b, ", \"price_generation\": %llu, \"prices_published\": ",
	    (unsigned long long)h->prices_generation);
	json_time(&b, h->prices_ns);
	buf_printf(&b, ", \"prices_load_ms\": %llu.%03llu}, \"accountant\": ",
	    (unsigned long long)(h->prices_load_us / 1000), (unsigned long long)(h->prices_load_us % 1000));
	if (acc == NULL)
		buf_printf(&b, "null");
	else {
		buf_printf(&b, "{\"pid\": %lld, \"started\": ", (long long)acc->pid);
		json_time(&b, acc->started_ns);
		if (acc->lag_ns > 0) {
			buf_printf(&b, ", \"lag_records\": %llu, \"lag_measured\": ",
			    (unsigned long long)acc->lag);
			json_time(&b, acc->lag_ns);
		} else
			buf_printf(&b, ", \"lag_records\": null, \"lag_measured\": null");
		buf_printf(&b, "}");
	}
	buf_printf(&b, ", \"workers\": [");
	for (i = 0; i < nw; i++) {
		buf_printf(&b, "%s{\"index\": %u, \"pid\": %lld, \"generation\": %llu, "
		    "\"state\": \"%s\", \"connections\": %llu, \"in_flight\": %llu, "
		    "\"served\": %llu, \"started\": ", i ? ", " : "", w[i].index,
		    (long long)w[i].pid, (unsigned long long)w[i].generation,
		    w[i].state == STATUS_DRAINING ? "draining" : "serving",
		    (unsigned long long)w[i].connections, (unsigned long long)w[i].in_flight,
		    (unsigned long long)w[i].requests);
		json_time(&b, w[i].started_ns);
		buf_printf(&b, "}");
	}
	buf_printf(&b, "], \"budgets\": [");
	for (i = 0; i < rs->n; i++) {
		const struct row *r = &rs->r[i];

		buf_printf(&b, "%s{\"scope\": \"%s\", \"name\": ", i ? ", " : "", scope_name(r->kind));
		json_write_string(&b, r->name);
		buf_printf(&b, ", \"window\": ");
		if (r->window[0])
			json_write_string(&b, r->window);
		else
			buf_printf(&b, "null");
		/* exact decimals, as tollctl spend writes them */
		buf_printf(&b, ", \"spent_usd\": %s, \"reserved_usd\": %s, \"limit_usd\": %s, "
		    "\"remaining_usd\": %s, \"resets\": ", usd(r->spent, m[0]), usd(r->reserved, m[1]),
		    usd(r->max, m[2]), usd(remaining(r), m[3]));
		json_time(&b, r->resets);
		buf_printf(&b, "}");
	}
	buf_printf(&b, "]");
	json_deployments(&b, ds, rs->now);
	buf_printf(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

static void
table_deployments(const struct deps *ds, int64_t now)
{
	char state[40];
	size_t i;

	if (ds->n == 0)
		return;
	printf("\n%-20s %-32s %-14s %9s %9s %9s %9s  %s\n", "MODEL GROUP", "DEPLOYMENT", "STATE",
	    "IN-FLIGHT", "TTFB-MS", "REQUESTS", "FAILURES", "LAST FAILURE");
	for (i = 0; i < ds->n; i++) {
		const struct router_slot *d = &ds->d[i];

		if (cooling_s(d, now))
			snprintf(state, sizeof(state), "cooling %llds", cooling_s(d, now));
		else
			snprintf(state, sizeof(state), "ready");
		printf("%-20s %-32s %-14s %9lld %9lld %9llu %9llu  %s\n", d->group, d->deployment,
		    state, (long long)d->in_flight, (long long)(d->ttfb_us / 1000),
		    (unsigned long long)d->requests, (unsigned long long)d->failures,
		    d->failures ? router_failure_name((enum config_failure)d->last_failure) : "-");
	}
}

static void
print_table(const char *run_dir, const struct status_header *h, const struct status_slot *acc,
    const struct status_slot *w, size_t nw, const struct rows *rs, const struct deps *ds)
{
	char t[40], d[40], m[4][MONEY_FORMAT_MAX];
	size_t i;

	printf("tollgate running in %s\n", run_dir);
	printf("master      pid %lld, up %s (since %s)\n", (long long)h->master_pid,
	    duration(minus(rs->now, h->started_ns), d, sizeof(d)), time_format(h->started_ns, t, sizeof(t)));
	printf("generation  %llu (since %s)\n", (unsigned long long)h->generation,
	    time_format(h->generation_ns, t, sizeof(t)));
	printf("prices      generation %llu, published %s (made in %llu.%03llu ms)\n",
	    (unsigned long long)h->prices_generation, time_format(h->prices_ns, t, sizeof(t)),
	    (unsigned long long)(h->prices_load_us / 1000), (unsigned long long)(h->prices_load_us % 1000));
	if (acc == NULL)
		printf("accountant  not running\n");
	else if (acc->lag_ns > 0)
		printf("accountant  pid %lld, %llu record%s behind the ledger (%s ago)\n",
		    (long long)acc->pid, (unsigned long long)acc->lag, acc->lag == 1 ? "" : "s",
		    duration(minus(rs->now, acc->lag_ns), d, sizeof(d)));
	else
		printf("accountant  pid %lld, lag not measured yet\n", (long long)acc->pid);

	printf("\n%-6s %-8s %-4s %-9s %6s %10s %10s  %s\n", "WORKER", "PID", "GEN", "STATE",
	    "CONNS", "IN-FLIGHT", "SERVED", "STARTED");
	for (i = 0; i < nw; i++)
		printf("%-6u %-8lld %-4llu %-9s %6llu %10llu %10llu  %s\n", w[i].index,
		    (long long)w[i].pid, (unsigned long long)w[i].generation,
		    w[i].state == STATUS_DRAINING ? "draining" : "serving",
		    (unsigned long long)w[i].connections, (unsigned long long)w[i].in_flight,
		    (unsigned long long)w[i].requests, time_format(w[i].started_ns, t, sizeof(t)));
	table_deployments(ds, rs->now);
	if (rs->n == 0) {
		printf("\nno budgets with a limit\n");
		return;
	}
	printf("\n%-9s %-24s %-6s %14s %14s %14s %14s  %s\n", "SCOPE", "NAME", "WINDOW", "SPENT",
	    "RESERVED", "LIMIT", "REMAINING", "RESETS");
	for (i = 0; i < rs->n; i++) {
		const struct row *r = &rs->r[i];

		printf("%-9s %-24s %-6s %14s %14s %14s %14s  %s\n", scope_name(r->kind),
		    r->name[0] ? r->name : "-",
		    r->window[0] ? r->window : "-", usd(r->spent, m[0]), usd(r->reserved, m[1]),
		    usd(r->max, m[2]), usd(remaining(r), m[3]),
		    r->resets == INT64_MAX ? "never" : time_format(r->resets, t, sizeof(t)));
	}
}

int
status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run = tollctl_run_dir();
	const struct status *st = NULL;
	struct budget_file *bf = NULL;
	struct status_slot *w = NULL, s;
	struct status_slot acc;
	struct status_header h;
	struct rows rs = { 0 };
	struct deps ds = { 0 };
	enum status_problem why;
	char err[PATH_MAX + 256], path[PATH_MAX];
	int ch, json = 0, have_acc = 0, rc = TOLLCTL_EXIT_ERROR;
	int64_t owner;
	size_t i, nw = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "r:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': run = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(status_help, stdout); return TOLLCTL_EXIT_OK;
		default: fputs(status_help, stderr); return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl status --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (status_open(run, &st, &why, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	status_read_header(st, &h);
	rs.now = clock_now_ns();
	rs.tz = h.timezone[0] ? h.timezone : "UTC";
	if ((w = calloc(STATUS_SLOTS, sizeof(*w))) == NULL) {
		log_error("out of memory");
		goto out;
	}
	for (i = 0; i < STATUS_SLOTS; i++) {
		if (status_read_slot(st, i, &s) != 0)
			continue;
		if (s.role == STATUS_WORKER)
			w[nw++] = s;
		else if (s.role == STATUS_ACCOUNTANT && (!have_acc || acc.state == STATUS_DRAINING)) {
			acc = s;	/* the serving one, when an old one is still finishing */
			have_acc = 1;
		}
	}
	if (nw > 1)
		qsort(w, nw, sizeof(*w), slot_cmp);
	if ((ds.d = calloc(ROUTER_SLOTS, sizeof(*ds.d))) == NULL) {
		log_error("out of memory");
		goto out;
	}
	for (i = 0; i < ROUTER_SLOTS; i++)
		if (router_read_slot(&st->dep[i], &ds.d[ds.n]) == 0)
			ds.n++;
	if (ds.n > 1)
		qsort(ds.d, ds.n, sizeof(*ds.d), dep_cmp);
	snprintf(path, sizeof(path), "%s/%s", run, BUDGET_FILE);
	if (budget_file_open(path, &bf, &owner, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (owner != h.master_pid) {
		log_error("'%s' belongs to another gateway (pid %lld, not %lld)", path,
		    (long long)owner, (long long)h.master_pid);
		goto out;
	}
	if (budget_file_each(bf, on_counter, &rs) != 0) {
		log_error("out of memory");
		goto out;
	}
	if (rs.n > 1)
		qsort(rs.r, rs.n, sizeof(*rs.r), row_cmp);
	if (json)
		print_json(run, &h, have_acc ? &acc : NULL, w, nw, &rs, &ds);
	else
		print_table(run, &h, have_acc ? &acc : NULL, w, nw, &rs, &ds);
	rc = fflush(stdout) == 0 ? TOLLCTL_EXIT_OK : TOLLCTL_EXIT_ERROR;
out:
	budget_file_close(bf);
	status_close(st);
	free(w);
	free(ds.d);
	free(rs.r);
	return rc;
}
