/*
 * Alerts in a scratch ledger: when the gateway began (alerts_since), kept
 * across restarts and taken from the oldest record of a ledger that has
 * some, and never listed as an alert; and the level an alert is logged at:
 * a threshold crossed is a warning, an informational alert (the daily
 * summary) is logged at info level and queued for the channels all the same;
 * and the cost mismatch alerts: one per model per closed window, with the
 * flagged records' count and totals, none for a window still open or in its
 * grace period, none twice.
 */
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts.h"
#include "buf.h"
#include "config.h"
#include "ledger.h"
#include "log.h"
#include "outbox.h"
#include "record.h"
#include "timeparse.h"
#include "tap.h"

#define NS_HOUR		(3600LL * 1000000000)
#define NS_DAY		(24 * NS_HOUR)
#define DAY1		1795392000000000000LL	/* 2026-11-23T00:00:00Z */
#define DAY2		(DAY1 + NS_DAY)
#define DAY3		(DAY2 + NS_DAY)
#define MAP_SIZE	(8u << 20)

static char root[256];

static char *
path_in(const char *name)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", root, name);
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static struct ledger *
open_ledger(const char *name)
{
	struct ledger *l;
	char err[512];

	if (ledger_open(path_in(name), LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) < 0) {
		diag("%s", err);
		return NULL;
	}
	return l;
}

static int
append_at(struct ledger *l, int64_t end_ns)
{
	struct record r;
	char err[512];

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "req-%lld", (long long)end_ns);
	r.start_ns = r.first_byte_ns = r.end_ns = end_ns;
	r.status = 200;
	snprintf(r.endpoint, sizeof(r.endpoint), "/v1/chat/completions");
	snprintf(r.model_requested, sizeof(r.model_requested), "m");
	return ledger_append(l, &r, 1, err, sizeof(err));
}

/* As the accountant decides: the summary of the day ending at day_end is due. */
static int
due(int64_t since, int64_t day_end)
{
	return since < day_end;
}

static int
count_alert(void *arg, const char *id, int64_t fired_ns, const char *kind, const char *subject)
{
	(void)id, (void)fired_ns, (void)kind, (void)subject;
	(*(int *)arg)++;
	return 0;
}

static void
test_since_fresh(void)
{
	int64_t first = DAY2 + 10 * NS_HOUR, since = 0;
	struct ledger *l = open_ledger("fresh");
	char err[512];
	int n = 0;

	if (!ok(l != NULL, "a fresh ledger opens"))
		return;
	ok(alerts_since(l, first, &since, err, sizeof(err)) == 0, "alerts_since on a fresh ledger");
	is_int(since, first, "a fresh ledger's gateway began now (first start, day 2 10:00)");
	ok(!due(since, DAY2), "so day 1, which ended before it, gets no summary");
	since = 0;
	ok(alerts_since(l, DAY2 + 11 * NS_HOUR, &since, err, sizeof(err)) == 0 && since == first,
	    "asked again an hour later, the first start stands");
	ok(alerts_scan(l, count_alert, &n, err, sizeof(err)) == 0 && n == 0,
	    "the stored start is not listed as an alert (tollctl alerts)");
	ledger_close(l);

	if ((l = open_ledger("fresh")) == NULL)
		return;
	since = 0;
	ok(alerts_since(l, DAY3 + 9 * NS_HOUR, &since, err, sizeof(err)) == 0, "after a restart on day 3");
	is_int(since, first, "the gateway still began on day 2 (kept in the ledger)");
	ok(due(since, DAY3), "so day 2, which it ran in with no requests, gets its summary");
	ledger_close(l);
}

static void
test_since_records(void)
{
	int64_t old = DAY1 + 5 * NS_HOUR, now = DAY3 + NS_HOUR, since = 0;
	struct ledger *l = open_ledger("older");
	char err[512];

	if (!ok(l != NULL, "a ledger with records opens"))
		return;
	ok(append_at(l, old) == 0 && append_at(l, DAY2 + NS_HOUR) == 0,
	    "records on day 1 and day 2, before anything was stored");
	ok(alerts_since(l, now, &since, err, sizeof(err)) == 0, "alerts_since");
	is_int(since, old, "the gateway began no later than its oldest record");
	ok(due(since, DAY2), "so day 1 gets its summary");
	ledger_close(l);

	if ((l = open_ledger("skewed")) == NULL)
		return;
	since = 0;
	ok(append_at(l, now + NS_DAY) == 0 && alerts_since(l, now, &since, err, sizeof(err)) == 0 &&
	    since == now, "a record from a clock ahead of now does not move the start past now");
	ledger_close(l);
}

struct found {
	int	 n;
	char	 label[64];
	int	 has_kind;
};

static int
on_item(void *arg, const struct outbox_item *it)
{
	struct found *f = arg;

	f->n++;
	snprintf(f->label, sizeof(f->label), "%s", it->label ? it->label : "");
	f->has_kind = it->body != NULL && memmem(it->body, it->body_len,
	    "\"type\": \"daily_summary\"", strlen("\"type\": \"daily_summary\"")) != NULL;
	return 0;
}

/* The log file's text; "" when it cannot be read. */
static const char *
log_text(const char *path)
{
	static char text[8192];
	size_t n = 0;
	FILE *f;

	fflush(stderr);
	text[0] = '\0';
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

static void
test_levels(void)
{
	struct config_channel hook = { CONFIG_CHANNEL_WEBHOOK, "http://127.0.0.1:9/hook", NULL, NULL,
	    0, NULL, 0 };
	struct config_tollgate tg;
	struct alert summary = { "summary|2026-11-23", "daily_summary",
	    "tollgate: spend on 2026-11-23: $0 in 0 requests",
	    "Spend on 2026-11-23 (UTC): $0 in 0 requests.", "\"requests\": 0", 1 };
	struct alert budget = { "budget|g|0|80", "budget_threshold",
	    "tollgate: budget of the gateway at 80%: $8 of $10", "Budget of the gateway.", NULL, 0 };
	struct ledger *l = open_ledger("levels");
	const char *log = path_in("alerts.log"), *text;
	struct found f = { 0 };
	char err[512];

	if (!ok(l != NULL, "a ledger for firing opens"))
		return;
	memset(&tg, 0, sizeof(tg));
	tg.alerts_channels = &hook;
	tg.nalerts_channels = 1;
	if (!ok(log_open(log) == 0, "the log goes to a file")) {
		ledger_close(l);
		return;
	}
	ok(alerts_fire(l, &tg, "host", &summary, err, sizeof(err)) == 0, "the summary fires");
	text = log_text(log);
	ok(strstr(text, ": alert: tollgate: spend on 2026-11-23: $0 in 0 requests\n") != NULL,
	    "the summary is logged");
	ok(strstr(text, "warning:") == NULL, "at info level, not as a warning");
	ok(outbox_scan(l, on_item, &f, err, sizeof(err)) == 0 && f.n == 1 &&
	    strcmp(f.label, "summary|2026-11-23") == 0 && f.has_kind,
	    "and is queued for the channel all the same");
	ok(alerts_fire(l, &tg, "host", &summary, err, sizeof(err)) == 1, "it fires once");

	ok(alerts_fire(l, &tg, "host", &budget, err, sizeof(err)) == 0, "a budget threshold fires");
	text = log_text(log);
	ok(strstr(text, ": warning: alert: tollgate: budget of the gateway at 80%: $8 of $10\n") != NULL,
	    "logged as a warning");
	log_open(NULL);
	ledger_close(l);
}

/* A record of model at end_ns whose provider reported pc against tollgate's computed. */
static int
append_priced(struct ledger *l, int64_t end_ns, const char *model, int64_t computed, int64_t pc,
    unsigned flags)
{
	static int seq;
	struct record r;
	char err[512];

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "req-pc-%d", ++seq);
	r.start_ns = r.first_byte_ns = r.end_ns = end_ns;
	r.status = 200;
	snprintf(r.model_requested, sizeof(r.model_requested), "public-%s", model);
	snprintf(r.priced_as, sizeof(r.priced_as), "%s", model);
	r.cost[COST_INPUT] = computed / 2;
	r.cost[COST_OUTPUT] = computed - computed / 2;
	r.total = computed;
	r.provider_cost = pc;
	r.flags = flags;
	return ledger_append(l, &r, 1, err, sizeof(err));
}

struct mismatch_items {
	int	 n;
	char	 bodies[4][1024];
};

static int
on_mismatch_item(void *arg, const struct outbox_item *it)
{
	struct mismatch_items *m = arg;

	if (it->body == NULL || memmem(it->body, it->body_len, "\"type\": \"cost_mismatch\"",
	    strlen("\"type\": \"cost_mismatch\"")) == NULL)
		return 0;
	if (m->n < 4)
		snprintf(m->bodies[m->n], sizeof(m->bodies[0]), "%.*s", (int)it->body_len, it->body);
	m->n++;
	return 0;
}

/* The body among m's that names model and window start from, or NULL. */
static const char *
mismatch_body(const struct mismatch_items *m, const char *model, const char *from)
{
	char want_model[64], want_from[64];
	int i;

	snprintf(want_model, sizeof(want_model), "\"model\": \"%s\"", model);
	snprintf(want_from, sizeof(want_from), "\"window_start\": \"%s\"", from);
	for (i = 0; i < m->n && i < 4; i++)
		if (strstr(m->bodies[i], want_model) && strstr(m->bodies[i], want_from))
			return m->bodies[i];
	return NULL;
}

static void
test_mismatches(void)
{
	struct config_channel hook = { CONFIG_CHANNEL_WEBHOOK, "http://127.0.0.1:9/hook", NULL, NULL,
	    0, NULL, 0 };
	unsigned both = RECORD_FLAG_PROVIDER_COST | RECORD_FLAG_COST_MISMATCH;
	struct ledger *l = open_ledger("mismatch");
	struct mismatch_items m = { 0 };
	struct config_tollgate tg;
	const char *b;
	char err[512];

	if (!ok(l != NULL, "a ledger for cost mismatches opens"))
		return;
	memset(&tg, 0, sizeof(tg));
	tg.alerts_channels = &hook;
	tg.nalerts_channels = 1;
	tg.alerts_cost_mismatch_window_ms = 3600 * 1000;
	ok(append_priced(l, DAY1 - NS_HOUR, "a", 100, 200, both) == 0,
	    "a mismatch before the first look");
	ok(alerts_cost_mismatches(l, &tg, "host", DAY1 + 60LL * 1000000000, err, sizeof(err)) == 0,
	    "the first look, at 00:01, starts at the hour it is in");
	ok(append_priced(l, DAY1 + 10 * 60 * 1000000000LL, "a", 1000000, 1100000, both) == 0 &&
	    append_priced(l, DAY1 + 20 * 60 * 1000000000LL, "a", 2000000, 2300001, both) == 0 &&
	    append_priced(l, DAY1 + 30 * 60 * 1000000000LL, "a", 500, 500, RECORD_FLAG_PROVIDER_COST) == 0 &&
	    append_priced(l, DAY1 + 40 * 60 * 1000000000LL, "b", 7000, 3000, both) == 0 &&
	    append_priced(l, DAY1 + 50 * 60 * 1000000000LL, "c", 9000, 9000, 0) == 0 &&
	    append_priced(l, DAY1 + 70 * 60 * 1000000000LL, "a", 10, 20, both) == 0,
	    "hour 0: two of a flagged and one not, one of b flagged, c without a provider cost; "
	    "hour 1: one of a flagged");
	ok(alerts_cost_mismatches(l, &tg, "host", DAY1 + NS_HOUR + 2000000000LL, err,
	    sizeof(err)) == 0 && outbox_scan(l, on_mismatch_item, &m, err, sizeof(err)) == 0 &&
	    m.n == 0, "two seconds after hour 0 ended, in its grace period: no alert yet");
	m.n = 0;
	ok(alerts_cost_mismatches(l, &tg, "host", DAY1 + NS_HOUR + 60000000000LL, err,
	    sizeof(err)) == 0 && outbox_scan(l, on_mismatch_item, &m, err, sizeof(err)) == 0,
	    "a minute after hour 0 ended");
	is_int(m.n, 2, "one alert for a and one for b, none for the hour before the first look");
	b = mismatch_body(&m, "a", "2026-11-23T00:00:00Z");
	ok(b != NULL && strstr(b, "\"mismatches\": 2,") && strstr(b, "\"tollgate_cost_usd\": 0.000003,") &&
	    strstr(b, "\"provider_cost_usd\": 0.000003400001,") && strstr(b, "\"delta_usd\": 0.000000400001") &&
	    strstr(b, "\"window_end\": \"2026-11-23T01:00:00Z\""),
	    "a's: the two flagged records, their exact totals and difference, the window: %s", b ? b : "");
	ok(b != NULL && strstr(b, "\"id\": \"mismatch|a|1795392000000000000\""), "its id names the model and window");
	b = mismatch_body(&m, "b", "2026-11-23T00:00:00Z");
	ok(b != NULL && strstr(b, "\"mismatches\": 1,") && strstr(b, "\"delta_usd\": -0.000000004"),
	    "b's: one, the provider below tollgate: %s", b ? b : "");
	m.n = 0;
	ok(alerts_cost_mismatches(l, &tg, "host", DAY1 + NS_HOUR + 120000000000LL, err,
	    sizeof(err)) == 0 && outbox_scan(l, on_mismatch_item, &m, err, sizeof(err)) == 0 &&
	    m.n == 2, "looked at again: nothing more");
	ledger_close(l);
	if ((l = open_ledger("mismatch")) == NULL)
		return;
	m.n = 0;
	ok(alerts_cost_mismatches(l, &tg, "host", DAY1 + 3 * NS_HOUR, err, sizeof(err)) == 0 &&
	    outbox_scan(l, on_mismatch_item, &m, err, sizeof(err)) == 0 && m.n == 3 &&
	    mismatch_body(&m, "a", "2026-11-23T01:00:00Z") != NULL,
	    "after a restart, hour 1 raises a's one alert and hour 0 none again");
	ledger_close(l);
}

int
main(void)
{
	umask(022);
	log_init("t_alerts", LOG_LEVEL_INFO);
	snprintf(root, sizeof(root), "/tmp/t_alerts.XXXXXX");
	if (mkdtemp(root) == NULL) {
		ok(0, "a scratch directory");
		return done_testing();
	}
	test_since_fresh();
	test_since_records();
	test_levels();
	test_mismatches();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
