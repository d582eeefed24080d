/*
 * tollctl reconcile: the export parsers on small hand-made files (one per
 * format) and on the real provider samples in ../shared/data when present,
 * the model pairing and the threshold verdicts on hand-made totals, and the
 * command end to end against a ledger written in a scratch directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include "buf.h"
#include "ledger.h"
#include "reconcile.h"
#include "record.h"
#include "timeparse.h"
#include "tap.h"

/* The command itself: tollctl's objects are not in the library. */
#include "../../cmd/tollctl/reconcile.c"
#include "../../cmd/tollctl/reconcile_cost.c"
#include "../../cmd/tollctl/common.c"

#define DAY_NS		(86400LL * 1000000000LL)
#define NOV1_NS		1793491200000000000LL	/* 2026-11-01T00:00:00Z */
#define PICO		1000000000000LL

static char root[256];
static int run_gen;	/* bumped by every run(): captured() rereads after it */

static const char *
data_path(const char *file)
{
	static char path[4096];
	const char *src = getenv("TOLLGATE_SRC");

	snprintf(path, sizeof(path), "%s/tests/data/reconcile/%s", src ? src : ".", file);
	return path;
}

/* Parses a file; -1 with err, else the set and format. */
static int
parse_file(const char *path, int64_t since, int64_t until, struct reconcile_set *s,
    enum reconcile_format *fmt, char *err, size_t errlen)
{
	struct buf b = { 0 };
	int rc;

	if (buf_read_file(&b, path) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	rc = reconcile_parse_csv(path, b.data ? b.data : "", b.len, since, until, s, fmt, err,
	    errlen);
	buf_release(&b);
	return rc;
}

static int
parse_text(const char *text, int64_t since, int64_t until, struct reconcile_set *s,
    enum reconcile_format *fmt, char *err, size_t errlen)
{
	return reconcile_parse_csv("mem.csv", text, strlen(text), since, until, s, fmt, err,
	    errlen);
}

static const struct reconcile_totals *
find(const struct reconcile_set *s, const char *model)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->m[i].model, model) == 0)
			return &s->m[i];
	return NULL;
}

#define HAVE(t, c)	(((t)->have >> (c)) & 1)

static void
test_generic(void)
{
	struct reconcile_set s = { 0 };
	enum reconcile_format fmt = RECONCILE_FMT_OPENAI_USAGE;
	const struct reconcile_totals *t;
	char err[512];

	ok(parse_file(data_path("generic.csv"), NOV1_NS, NOV1_NS + 2 * DAY_NS, &s, &fmt, err,
	    sizeof(err)) == 0, "generic: parses (%s)", err);
	is_int(fmt, RECONCILE_FMT_GENERIC, "generic: detected");
	is_int((long long)s.n, 2, "generic: two models in the window");
	if ((t = find(&s, "gpt-4o")) == NULL) {
		ok(0, "generic: gpt-4o present");
		skip(6, "no gpt-4o");
	} else {
		ok(1, "generic: gpt-4o present");
		is_int(t->v[RECONCILE_REQUESTS], 3, "generic: requests summed over two days, "
		    "the day before the window left out");
		is_int(t->v[RECONCILE_INPUT], 1100, "generic: input");
		is_int(t->v[RECONCILE_OUTPUT], 220, "generic: output");
		is_int(t->v[RECONCILE_COST], 13500000000LL, "generic: cost 0.0125 + 0.001 USD exact");
		ok(!HAVE(t, RECONCILE_CACHE_WRITE), "generic: empty cache_write is not reported");
		ok(HAVE(t, RECONCILE_CACHE_READ), "generic: cache_read reported");
	}
	t = find(&s, "claude-sonnet-4-5-20250929");
	ok(t && t->v[RECONCILE_CACHE_WRITE] == 100 && !HAVE(t, RECONCILE_COST),
	    "generic: claude cache_write 100, no cost");
	reconcile_set_release(&s);

	ok(parse_file(data_path("generic.csv"), NOV1_NS + DAY_NS / 2, NOV1_NS + 2 * DAY_NS, &s,
	    &fmt, err, sizeof(err)) == 0, "generic: half-day window parses");
	t = find(&s, "gpt-4o");
	is_int(t ? t->v[RECONCILE_REQUESTS] : -1, 1,
	    "generic: a day starting before since is left out whole");
	reconcile_set_release(&s);
}

static void
test_openai(void)
{
	struct reconcile_set s = { 0 };
	enum reconcile_format fmt = RECONCILE_FMT_GENERIC;
	const struct reconcile_totals *t;
	char err[512];

	ok(parse_file(data_path("openai_usage.csv"), NOV1_NS, NOV1_NS + 7 * DAY_NS, &s, &fmt, err,
	    sizeof(err)) == 0, "openai: parses (%s)", err);
	is_int(fmt, RECONCILE_FMT_OPENAI_USAGE, "openai: detected");
	is_int((long long)s.n, 2, "openai: two snapshots, empty bucket skipped");
	t = find(&s, "gpt-4o-2024-08-06");
	ok(t != NULL, "openai: snapshot name kept");
	if (t) {
		is_int(t->v[RECONCILE_INPUT], 1000, "openai: input_tokens minus cached");
		is_int(t->v[RECONCILE_CACHE_READ], 300, "openai: cached -> cache_read");
		is_int(t->v[RECONCILE_REQUESTS], 3, "openai: \"3.0\" requests");
		ok(!HAVE(t, RECONCILE_COST), "openai: no cost in the usage export");
	} else
		skip(4, "no row");
	reconcile_set_release(&s);

	ok(parse_text("start_time,model,num_model_requests,input_tokens,output_tokens,"
	    "input_cached_tokens\n1793491200,gpt-4o,1.0,10.0,1.0,20.0\n", 0, INT64_MAX, &s, &fmt,
	    err, sizeof(err)) < 0 && strstr(err, "mem.csv:2:") && strstr(err, "input_tokens"),
	    "openai: cached above input is an error naming line and column (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("start_time,model,num_model_requests,input_tokens,output_tokens,"
	    "input_cached_tokens\n1793491200,gpt-4o,1.5,10.0,1.0,2.0\n", 0, INT64_MAX, &s, &fmt,
	    err, sizeof(err)) < 0 && strstr(err, "mem.csv:2:") &&
	    strstr(err, "'num_model_requests'"), "openai: fractional count rejected (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("start_time,model,num_model_requests,input_tokens,output_tokens,"
	    "input_cached_tokens\n1793491200,,1.0,10.0,1.0,2.0\n", 0, INT64_MAX, &s, &fmt,
	    err, sizeof(err)) < 0 && strstr(err, "grouped by model"),
	    "openai: usage without model is an error (%s)", err);
	reconcile_set_release(&s);
}

static void
test_anthropic(void)
{
	struct reconcile_set s = { 0 };
	enum reconcile_format fmt = RECONCILE_FMT_GENERIC;
	const struct reconcile_totals *t;
	char err[512];

	ok(parse_file(data_path("anthropic_usage.csv"), NOV1_NS, NOV1_NS + DAY_NS + 3 * 3600 *
	    1000000000LL, &s, &fmt, err, sizeof(err)) == 0, "anthropic: parses (%s)", err);
	is_int(fmt, RECONCILE_FMT_ANTHROPIC_USAGE, "anthropic: detected");
	t = find(&s, "claude-sonnet-4-5-20250929");
	ok(t != NULL, "anthropic: model_version is the model");
	if (t) {
		is_int(t->v[RECONCILE_INPUT], 500, "anthropic: hour row at until left out");
		is_int(t->v[RECONCILE_CACHE_WRITE], 100, "anthropic: 5m + 1h writes");
		ok(!HAVE(t, RECONCILE_REQUESTS) && !HAVE(t, RECONCILE_COST),
		    "anthropic: no requests, no cost");
	} else
		skip(3, "no row");
	reconcile_set_release(&s);
	ok(parse_file(data_path("anthropic_usage.csv"), NOV1_NS, NOV1_NS + 2 * DAY_NS, &s, &fmt,
	    err, sizeof(err)) == 0, "anthropic: quoted cell and hour row parse");
	t = find(&s, "claude-sonnet-4-5-20250929");
	ok(t && t->v[RECONCILE_INPUT] == 510 && t->v[RECONCILE_CACHE_READ] == 5,
	    "anthropic: hour row counted in a wider window");
	reconcile_set_release(&s);
}

static void
test_errors(void)
{
	struct reconcile_set s = { 0 };
	enum reconcile_format fmt;
	char err[512];

	ok(parse_file(data_path("bad_number.csv"), 0, INT64_MAX, &s, &fmt, err, sizeof(err)) < 0 &&
	    strstr(err, "bad_number.csv:2:") && strstr(err, "column 'output'") &&
	    strstr(err, "'2x0'"), "bad number: file:line and column (%s)", err);
	reconcile_set_release(&s);
	ok(parse_file(data_path("bad_header.csv"), 0, INT64_MAX, &s, &fmt, err, sizeof(err)) < 0 &&
	    strstr(err, "bad_header.csv:1: unrecognised header"), "bad header (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("", 0, INT64_MAX, &s, &fmt, err, sizeof(err)) < 0 &&
	    strstr(err, "empty file"), "empty file (%s)", err);
	ok(parse_text("date,model,cost\n2026-13-01,x,1\n", 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) < 0 && strstr(err, "mem.csv:2: column 'date'"), "bad date (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("date,model,cost\r\n2026-11-01,x,abc\r\n", 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) < 0 && strstr(err, "mem.csv:2: column 'cost'"), "bad cost (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("date,model,cost\n2026-11-01,\"x,\n", 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) < 0 && strstr(err, "unterminated"), "unterminated quote (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("usage_date_utc,model_version,usage_input_tokens_no_cache\n", 0, INT64_MAX,
	    &s, &fmt, err, sizeof(err)) < 0 && strstr(err, "'usage_input_tokens_cache_read'"),
	    "missing required column named (%s)", err);
	ok(parse_text("\xef\xbb\xbf" "date,model,input\n2026-11-01,m,1\n", 0, INT64_MAX, &s, &fmt,
	    err, sizeof(err)) == 0 && fmt == RECONCILE_FMT_GENERIC && s.n == 1,
	    "byte order mark before the header (%s)", err);
	reconcile_set_release(&s);
	ok(parse_text("date,model,input\n2026-11-01,m,9223372036854775807\n2026-11-02,m,5\n", 0,
	    INT64_MAX, &s, &fmt, err, sizeof(err)) == 0 && s.n == 1 &&
	    s.m[0].v[RECONCILE_INPUT] == INT64_MAX, "absurd totals saturate");
	reconcile_set_release(&s);
	ok(parse_text("date,model,cost\r\n\"2026-11-01\",\"a \"\"b\"\"\",\"1.5\"\r\n\r\n", 0,
	    INT64_MAX, &s, &fmt, err, sizeof(err)) == 0 && find(&s, "a \"b\"") &&
	    find(&s, "a \"b\"")->v[RECONCILE_COST] == 3 * PICO / 2, "quotes and CRLF");
	reconcile_set_release(&s);
}

/* The real exports in ../shared/data/provider_exports. */
#define REAL_TESTS 14
static void
test_real(void)
{
	const char *shared = shared_data();
	struct reconcile_set s = { 0 };
	enum reconcile_format fmt;
	const struct reconcile_totals *t;
	char path[4200], err[512];

	if (shared == NULL) {
		skip(REAL_TESTS, "../shared/data is absent");
		return;
	}
#define REAL(f) (snprintf(path, sizeof(path), "%s/provider_exports/%s", shared, f), path)
	ok(parse_file(REAL("openai_usage_dashboard.csv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) == 0 && fmt == RECONCILE_FMT_OPENAI_USAGE, "real openai csv (%s)", err);
	t = find(&s, "gpt-4o-mini-2024-07-18");
	ok(t && t->v[RECONCILE_REQUESTS] == 4 && t->v[RECONCILE_INPUT] == 31422 &&
	    t->v[RECONCILE_OUTPUT] == 29 && t->v[RECONCILE_CACHE_READ] == 0 &&
	    HAVE(t, RECONCILE_CACHE_WRITE), "real openai csv: values");
	is_int((long long)s.n, 1, "real openai csv: empty bucket skipped");
	reconcile_set_release(&s);

	ok(parse_file(REAL("openai_usage_dashboard_2025-10.tsv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) == 0, "real openai tsv (%s)", err);
	t = find(&s, "gpt-4o-2024-08-06");
	ok(t && t->v[RECONCILE_REQUESTS] == 10 && t->v[RECONCILE_INPUT] == 53440 &&
	    t->v[RECONCILE_CACHE_READ] == 5760 && t->v[RECONCILE_OUTPUT] == 10646 &&
	    !HAVE(t, RECONCILE_CACHE_WRITE), "real openai tsv: 59200 = 5760 cached + 53440");
	t = find(&s, "gpt-5-2025-08-07");
	ok(t && t->v[RECONCILE_INPUT] == 38072 && t->v[RECONCILE_CACHE_READ] == 8192,
	    "real openai tsv: gpt-5 row");
	reconcile_set_release(&s);

	ok(parse_file(REAL("anthropic_console_usage.csv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) == 0 && fmt == RECONCILE_FMT_ANTHROPIC_USAGE,
	    "real anthropic hourly csv (%s)", err);
	t = find(&s, "claude-haiku-4-5-20251001");
	ok(t && t->v[RECONCILE_INPUT] == 1124832 + 506280 &&
	    t->v[RECONCILE_OUTPUT] == 254558 + 117816, "real anthropic: hours summed");
	reconcile_set_release(&s);

	ok(parse_file(REAL("anthropic_console_usage_daily_fixture.csv"), 0, INT64_MAX, &s, &fmt,
	    err, sizeof(err)) == 0, "anthropic daily fixture (%s)", err);
	t = find(&s, "fixture-anthropic-v1");
	ok(t && t->v[RECONCILE_INPUT] == 199 && t->v[RECONCILE_CACHE_WRITE] == 61624 &&
	    t->v[RECONCILE_CACHE_READ] == 61624 && t->v[RECONCILE_OUTPUT] == 680,
	    "anthropic daily fixture: values");
	reconcile_set_release(&s);

	ok(parse_file(REAL("anthropic_console_usage_2025-06.csv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) == 0 && (t = find(&s, "claude-3-5-haiku-20241022")) &&
	    t->v[RECONCILE_INPUT] == 8 && t->v[RECONCILE_OUTPUT] == 1,
	    "anthropic 2025 header without context_window (%s)", err);
	reconcile_set_release(&s);

	ok(parse_file(REAL("openai_cost_dashboard.csv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) < 0 && strstr(err, "OpenAI's cost export"), "openai cost export: told (%s)",
	    err);
	reconcile_set_release(&s);
	ok(parse_file(REAL("anthropic_console_cost.csv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) < 0 && strstr(err, "Anthropic's cost export"),
	    "anthropic cost export: told (%s)", err);
	reconcile_set_release(&s);
	ok(parse_file(REAL("openrouter_activity_daily.csv"), 0, INT64_MAX, &s, &fmt, err,
	    sizeof(err)) < 0 && strstr(err, ":1: unrecognised header"),
	    "openrouter export: unrecognised (%s)", err);
	reconcile_set_release(&s);
#undef REAL
}

static struct reconcile_totals *
add(struct reconcile_set *s, const char *model, int64_t req, int64_t in, int64_t out,
    int64_t cr, int64_t cw, int64_t cost)
{
	struct reconcile_totals *t;

	if (ARRAY_GROW(s->m, s->n, s->cap) < 0)
		abort();
	t = &s->m[s->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->model, sizeof(t->model), "%s", model);
	t->v[RECONCILE_REQUESTS] = req;
	t->v[RECONCILE_INPUT] = in;
	t->v[RECONCILE_OUTPUT] = out;
	t->v[RECONCILE_CACHE_READ] = cr;
	t->v[RECONCILE_CACHE_WRITE] = cw;
	t->v[RECONCILE_COST] = cost;
	t->have = (1u << RECONCILE_CAT_COUNT) - 1;
	return t;
}

static const struct reconcile_row *
row_of(const struct reconcile_report *r, const char *model)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->rows[i].model[0] ? r->rows[i].model : r->rows[i].provider_model,
		    model) == 0)
			return &r->rows[i];
	return NULL;
}

static void
test_compare(void)
{
	struct reconcile_set g = { 0 }, p = { 0 };
	struct reconcile_report r;
	const struct reconcile_row *row;
	char key[RECONCILE_MODEL_MAX], text[256];
	struct buf o = { 0 };

	reconcile_model_key("openai/gpt-4o-2024-08-06", key);
	is_str(key, "gpt-4o", "key: prefix and dashed date dropped");
	reconcile_model_key("claude-haiku-4-5-20251001", key);
	is_str(key, "claude-haiku-4-5", "key: compact date dropped");
	reconcile_model_key("gpt-4-0613", key);
	is_str(key, "gpt-4-0613", "key: a 4-digit suffix is not a date");
	{
		struct record rec;

		memset(&rec, 0, sizeof(rec));
		snprintf(rec.model_requested, sizeof(rec.model_requested), "fast");
		snprintf(rec.deployment, sizeof(rec.deployment), "azure/gpt-4o-2024-08-06");
		ok(reconcile_record_matches(&rec, "fast") && reconcile_record_matches(&rec, "gpt-4o") &&
		    !reconcile_record_matches(&rec, "gpt-4o-mini") &&
		    !reconcile_record_matches(&rec, ""), "--model matches requested name or deployment key");
		rec.status = 429;
		rec.tokens[RECORD_TOK_IMAGE_IN] = 7;
		rec.tokens[RECORD_TOK_TOOL_PROMPT] = 1;
		rec.tokens[RECORD_TOK_IMAGE_OUT] = 3;
		ok(reconcile_add_record(&g, &rec) == 0 && g.n == 1 &&
		    strcmp(g.m[0].model, "azure/gpt-4o-2024-08-06") == 0 &&
		    g.m[0].v[RECONCILE_REQUESTS] == 0 && g.m[0].errors == 1 &&
		    g.m[0].v[RECONCILE_INPUT] == 8 && g.m[0].v[RECONCILE_OUTPUT] == 3,
		    "record: deployment names it, 429 counted as error, modalities summed");
		g.n = 0;
	}

	/* within 10%: 5% off on input, cost 9.9% off */
	add(&g, "gpt-4o", 100, 1050, 500, 0, 0, 990 * PICO / 100);
	add(&p, "gpt-4o-2024-08-06", 60, 600, 300, 0, 0, 6 * PICO);
	add(&p, "gpt-4o-2024-11-20", 40, 400, 200, 0, 0, 5 * PICO);
	/* quantities differ: cache read missing */
	add(&g, "claude-sonnet-4-5", 10, 1000, 100, 0, 0, 1 * PICO);
	add(&p, "claude-sonnet-4-5", 10, 1000, 100, 5000, 0, 1 * PICO);
	/* quantities match, cost differs */
	add(&g, "anthropic/claude-haiku-4-5", 10, 1000, 100, 0, 0, 2 * PICO);
	add(&p, "claude-haiku-4-5-20251001", 10, 1010, 100, 0, 0, 1 * PICO);
	/* one side each */
	add(&g, "mistral-large", 1, 10, 10, 0, 0, 1);
	add(&p, "gemini-2.5-pro", 1, 10, 10, 0, 0, 1);
	p.m[p.n - 1].have &= ~(1u << RECONCILE_COST);

	ok(reconcile_compare(&g, &p, 100, &r) == 0, "compare runs");
	is_int((long long)r.n, 5, "five rows: snapshots summed into one");
	row = row_of(&r, "gpt-4o");
	ok(row && row->verdict == RECONCILE_OK && row->prov.v[RECONCILE_REQUESTS] == 100 &&
	    row->pct10[RECONCILE_INPUT] == 50 && row->pct10[RECONCILE_COST] == -100 &&
	    row->beyond == 0, "within threshold: ok, 5.0%% and -10.0%% (boundary within)");
	ok(row && strstr(row->provider_model, "gpt-4o-2024-08-06") &&
	    strstr(row->provider_model, "gpt-4o-2024-11-20"), "both snapshots named");
	row = row_of(&r, "claude-sonnet-4-5");
	ok(row && row->verdict == RECONCILE_QUANTITIES_DIFFER &&
	    row->beyond == 1u << RECONCILE_CACHE_READ, "cache read missing: quantities differ");
	is_str(row ? reconcile_verdict_text(row, text, sizeof(text)) : "", "quantities differ: "
	    "cache_read (ingestion: tokens missing or categorised differently)", "verdict text");
	row = row_of(&r, "anthropic/claude-haiku-4-5");
	ok(row && row->verdict == RECONCILE_COST_DIFFERS &&
	    row->beyond == 1u << RECONCILE_COST && row->pct10[RECONCILE_COST] == 1000 &&
	    row->pct10[RECONCILE_INPUT] == -10, "cost doubled: cost differs, +100.0%%");
	is_str(row ? reconcile_verdict_text(row, text, sizeof(text)) : "", "quantities match, "
	    "cost differs (price map or formula: run tollctl rerate with the provider's prices)",
	    "cost verdict text");
	row = row_of(&r, "mistral-large");
	ok(row && row->side == RECONCILE_ONLY_TOLLGATE && row->verdict == RECONCILE_ONE_SIDE,
	    "only in tollgate");
	row = row_of(&r, "gemini-2.5-pro");
	ok(row && row->side == RECONCILE_ONLY_PROVIDER && !(row->beyond & (1u << RECONCILE_COST)),
	    "only in provider; unreported cost not marked");
	ok(r.any_beyond, "report beyond threshold");

	ok(reconcile_write_table(&r, 100, &o) == 0 && o.data &&
	    strstr(o.data, "gemini-2.5-pro: only in provider export") &&
	    strstr(o.data, "mistral-large: only in tollgate") &&
	    strstr(o.data, "gpt-4o: ok") && strstr(o.data, "100.0%  !"),
	    "table has verdicts and marks");
	o.len = 0;
	ok(reconcile_write_json(&r, NOV1_NS, NOV1_NS + DAY_NS, RECONCILE_FMT_GENERIC, 100, &o) == 0 &&
	    strstr(o.data, "\"beyond_threshold\": true") &&
	    strstr(o.data, "\"verdict\": \"cost_differs\"") &&
	    strstr(o.data, "\"cost_usd\": {\"tollgate\": 2, \"provider\": 1, \"delta\": 1, "
	    "\"delta_pct\": 100.0, \"beyond\": true}") &&
	    strstr(o.data, "{\"model\": null, \"provider_model\": \"gemini-2.5-pro\", "
	    "\"side\": \"only_provider\""), "json output");
	buf_release(&o);
	reconcile_report_release(&r);

	/* a threshold of 1% turns the 5% input into a quantity difference */
	ok(reconcile_compare(&g, &p, 10, &r) == 0 && (row = row_of(&r, "gpt-4o")) &&
	    row->verdict == RECONCILE_QUANTITIES_DIFFER, "1%% threshold: gpt-4o differs");
	reconcile_report_release(&r);

	/* provider 0, tollgate not: always beyond */
	g.n = p.n = 0;
	add(&g, "m", 1, 5, 0, 0, 0, 0);
	add(&p, "m", 1, 0, 0, 0, 0, 0);
	ok(reconcile_compare(&g, &p, 1000, &r) == 0 && r.n == 1 &&
	    r.rows[0].beyond == 1u << RECONCILE_INPUT && r.any_beyond, "0 vs 5 is beyond any threshold");
	reconcile_report_release(&r);
	reconcile_set_release(&g);
	reconcile_set_release(&p);
}

/* --- the command against a ledger -------------------------------------------------- */

static void
mkrec(struct record *r, int i, const char *priced, int64_t end_ns, int status)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "req-%d", i);
	r->start_ns = end_ns - 1000000;
	r->end_ns = end_ns;
	r->worker = 1;
	r->status = (uint16_t)status;
	snprintf(r->model_requested, sizeof(r->model_requested), "alias-%d", i);
	snprintf(r->priced_as, sizeof(r->priced_as), "%s", priced);
}

static int
write_ledger(const char *dir)
{
	struct record r[6];
	struct ledger *l;
	char err[512];
	int rc;

	/* gpt-4o: 3 answered, 1 failed; input 600 + 500, output 200 + 20 */
	mkrec(&r[0], 0, "gpt-4o", NOV1_NS + 3600LL * 1000000000, 200);
	r[0].tokens[RECORD_TOK_INPUT] = 500;
	r[0].tokens[RECORD_TOK_AUDIO_IN] = 100;
	r[0].tokens[RECORD_TOK_OUTPUT] = 150;
	r[0].tokens[RECORD_TOK_REASONING] = 20;
	r[0].tokens[RECORD_TOK_CACHE_READ] = 300;
	r[0].total = 12500000000LL;
	mkrec(&r[1], 1, "gpt-4o", NOV1_NS + 7200LL * 1000000000, 200);
	r[1].tokens[RECORD_TOK_INPUT] = 400;
	r[1].tokens[RECORD_TOK_OUTPUT] = 25;
	mkrec(&r[2], 2, "gpt-4o", NOV1_NS + DAY_NS + 60LL * 1000000000, 200);
	r[2].tokens[RECORD_TOK_INPUT] = 100;
	r[2].tokens[RECORD_TOK_OUTPUT] = 25;
	r[2].total = 1000000000LL;
	mkrec(&r[3], 3, "gpt-4o", NOV1_NS + DAY_NS + 120LL * 1000000000, 502);
	/* claude: priced under the undated name, exported with its snapshot */
	mkrec(&r[4], 4, "claude-sonnet-4-5", NOV1_NS + 600LL * 1000000000, 200);
	r[4].tokens[RECORD_TOK_INPUT] = 500;
	r[4].tokens[RECORD_TOK_OUTPUT] = 50;
	r[4].tokens[RECORD_TOK_CACHE_WRITE_5M] = 60;
	r[4].tokens[RECORD_TOK_CACHE_WRITE_1H] = 40;
	r[4].total = 7 * PICO;
	/* after the window */
	mkrec(&r[5], 5, "gpt-4o", NOV1_NS + 2 * DAY_NS, 200);
	r[5].tokens[RECORD_TOK_INPUT] = 1000000;

	if (ledger_open(dir, LEDGER_WRITE, 1 << 20, 1, &l, err, sizeof(err)) < 0) {
		diag("%s", err);
		return -1;
	}
	rc = ledger_append(l, r, 6, err, sizeof(err));
	ledger_close(l);
	return rc;
}

/* Runs reconcile_main with stdout and stderr in files under root; returns its status. */
static int
run(const char **args)
{
	char *argv[32], out[300], errp[300];
	int argc = 0, so, se, fo, fe, rc;

	argv[argc++] = (char *)"reconcile";
	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	snprintf(out, sizeof(out), "%s/out", root);
	snprintf(errp, sizeof(errp), "%s/err", root);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fo, 1);
	dup2(fe, 2);
	close(fo);
	close(fe);
	rc = reconcile_main(argc, argv);
	run_gen++;
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	return rc;
}

/*
 * The captured output ("out" or "err") of the last run, NUL-terminated; it
 * stays valid until the next run() (NULL frees both).
 */
static const char *
captured(const char *which)
{
	static struct buf b[2];
	static int gen[2] = { -1, -1 };
	char path[300];
	int i;

	if (which == NULL) {
		buf_release(&b[0]);
		buf_release(&b[1]);
		return NULL;
	}
	i = strcmp(which, "err") == 0;
	if (gen[i] != run_gen) {
		buf_release(&b[i]);
		snprintf(path, sizeof(path), "%s/%s", root, which);
		if (buf_read_file(&b[i], path) < 0)
			buf_release(&b[i]);
		gen[i] = run_gen;
		while (b[i].len > 0 && b[i].data[b[i].len - 1] == '\n')
			b[i].data[--b[i].len] = '\0';
	}
	return b[i].data ? b[i].data : "";
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
test_cli(void)
{
	char ledger[300], csv[300], costcsv[300], gen[4096];
	int rc;

	snprintf(gen, sizeof(gen), "%s", data_path("generic.csv"));

	snprintf(ledger, sizeof(ledger), "%s/ledger", root);
	snprintf(csv, sizeof(csv), "%s/gpt.csv", root);
	snprintf(costcsv, sizeof(costcsv), "%s/cost.csv", root);
	if (!ok(write_ledger(ledger) == 0, "ledger written")) {
		skip(21, "no ledger");
		return;
	}

	rc = run((const char *[]){ "--provider-csv", gen, "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", ledger, NULL });
	is_int(rc, 0, "cli: matching totals exit 0 (stderr: %s)", captured("err"));
	ok(strstr(captured("out"), "gpt-4o: ok") != NULL, "cli: gpt-4o ok");
	ok(strstr(captured("out"), "claude-sonnet-4-5: ok") != NULL,
	    "cli: claude paired with its snapshot name");
	ok(strstr(captured("out"), "errors") != NULL, "cli: the failed request shown apart");
	ok(strstr(captured("out"), "0.0135") != NULL, "cli: exact cost printed");

	rc = run((const char *[]){ "--provider-csv", gen, "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", ledger, "--format", "json", NULL });
	is_int(rc, 0, "cli json: exit 0");
	ok(strstr(captured("out"), "\"beyond_threshold\": false") &&
	    strstr(captured("out"), "\"requests\": {\"tollgate\": 3, \"provider\": 3, \"delta\": 0"),
	    "cli json: requests compared");

	write_file(costcsv, "date,model,requests,input,output,cache_read,cache_write,cost\n"
	    "2026-11-01,gpt-4o,3,1100,220,300,0,0.02\n");
	rc = run((const char *[]){ "--provider-csv", costcsv, "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", ledger, "--model", "gpt-4o", NULL });
	is_int(rc, 3, "cli: cost beyond threshold exits 3");
	ok(strstr(captured("out"), "gpt-4o: quantities match, cost differs") != NULL,
	    "cli: cost verdict");
	ok(strstr(captured("out"), "claude") == NULL, "cli: --model keeps one model");

	write_file(csv, "date,model,requests,input,output,cache_read,cache_write,cost\n"
	    "2026-11-01,gpt-4o-2024-08-06,3,1100,220,0,0,0.0135\n");
	rc = run((const char *[]){ "--provider-csv", csv, "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", ledger, NULL });
	is_int(rc, 3, "cli: quantities beyond threshold exit 3");
	ok(strstr(captured("out"), "gpt-4o: quantities differ: cache_read") &&
	    strstr(captured("out"), "claude-sonnet-4-5: only in tollgate"),
	    "cli: quantity verdict and one-sided model");

	rc = run((const char *[]){ "--provider-csv", gen, "--since", "2026-11-01",
	    "--until", "2026-11-02T12:00:00Z", "--ledger", ledger, NULL });
	ok(strstr(captured("err"), "00:00 UTC") != NULL, "cli: half-day window warned");

	rc = run((const char *[]){ "--help", NULL });
	ok(rc == 0 && strstr(captured("out"), "Day boundaries"), "cli: --help");

	rc = run((const char *[]){ "--provider-csv", "/nonexistent.csv", "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", ledger, NULL });
	ok(rc == 1 && strstr(captured("err"), "cannot read '/nonexistent.csv'"),
	    "cli: missing file (%s)", captured("err"));
	rc = run((const char *[]){ "--provider-csv", data_path("bad_header.csv"), "--since",
	    "2026-11-01", "--until", "2026-11-03", "--ledger", ledger, NULL });
	ok(rc == 1 && strstr(captured("err"), "bad_header.csv:1: unrecognised header"),
	    "cli: bad header (%s)", captured("err"));
	rc = run((const char *[]){ "--provider-csv", data_path("bad_number.csv"), "--since",
	    "2026-11-01", "--until", "2026-11-03", "--ledger", ledger, NULL });
	ok(rc == 1 && strstr(captured("err"), "bad_number.csv:2: column 'output'"),
	    "cli: bad number (%s)", captured("err"));
	rc = run((const char *[]){ "--provider-csv", gen, "--since", "yesterday",
	    "--until", "2026-11-03", "--ledger", ledger, NULL });
	ok(rc == 1 && strstr(captured("err"), "--since: 'yesterday'"), "cli: bad --since (%s)",
	    captured("err"));
	rc = run((const char *[]){ "--provider-csv", gen, "--since", "2026-11-03",
	    "--until", "2026-11-01", "--ledger", ledger, NULL });
	ok(rc == 1 && strstr(captured("err"), "not before"), "cli: since after until");
	rc = run((const char *[]){ "--since", "2026-11-01", "--until", "2026-11-03", NULL });
	ok(rc == 1 && strstr(captured("err"), "--provider-csv or --provider-cost is required"),
	    "cli: --provider-csv (or --provider-cost) required");
	rc = run((const char *[]){ "--provider-csv", gen, "--provider-cost", "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", ledger, NULL });
	ok(rc == 1 && strstr(captured("err"), "one at a time"), "cli: --provider-csv and --provider-cost "
	    "together refused");
	rc = run((const char *[]){ "--provider-cost", "--since", "2026-11-01", "--until", "2026-11-03",
	    "--ledger", ledger, NULL });
	ok(rc == 0 && strstr(captured("out"), "no record in the window carries a cost"),
	    "cli: --provider-cost on records without one: says so, exit 0");
	rc = run((const char *[]){ "--provider-csv", gen, "--since", "2026-11-01",
	    "--until", "2026-11-03", "--ledger", "/nonexistent/ledger", NULL });
	ok(rc == 1 && strstr(captured("err"), "/nonexistent/ledger"), "cli: missing ledger (%s)",
	    captured("err"));
	captured(NULL);
}

int
main(void)
{
	snprintf(root, sizeof(root), "/tmp/t_reconcile.XXXXXX");
	if (mkdtemp(root) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_generic();
	test_openai();
	test_anthropic();
	test_errors();
	test_real();
	test_compare();
	test_cli();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
