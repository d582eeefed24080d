/*
 * Reconciling the ledger with a provider's usage export.  Used by tollctl
 * reconcile (no daemon process runs it).  Three pieces: the export parsers,
 * which map each provider's columns onto tollgate's categories; the ledger
 * side, which sums records into the same categories; and the comparison,
 * which pairs models by name and judges each category against a threshold.
 * Every quantity is an integer: tokens int64, costs picodollars, percentages
 * tenths of a percent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "money.h"
#include "reconcile.h"
#include "timeparse.h"

#define CSV_MAX_FIELDS	64
#define NS_PER_SEC	1000000000LL

static const char *const cat_names[RECONCILE_CAT_COUNT] = {
	"requests", "input", "output", "cache_read", "cache_write", "cost_usd",
};

/* Copies src into dst (size len > 0), cut to fit: names are display text here. */
static void
copy_trunc(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

const char *
reconcile_cat_name(enum reconcile_cat c)
{
	return c < RECONCILE_CAT_COUNT ? cat_names[c] : "?";
}

const char *
reconcile_format_name(enum reconcile_format f)
{
	switch (f) {
	case RECONCILE_FMT_GENERIC:		return "generic";
	case RECONCILE_FMT_OPENAI_USAGE:	return "openai_usage";
	case RECONCILE_FMT_ANTHROPIC_USAGE:	return "anthropic_usage";
	}
	return "?";
}

void
reconcile_set_release(struct reconcile_set *s)
{
	free(s->m);
	s->m = NULL;
	s->n = s->cap = 0;
}

/* The entry for model, created empty when missing; NULL on ENOMEM. */
static struct reconcile_totals *
set_get(struct reconcile_set *s, const char *model)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->m[i].model, model) == 0)
			return &s->m[i];
	if (ARRAY_GROW(s->m, s->n, s->cap) < 0)
		return NULL;
	memset(&s->m[s->n], 0, sizeof(s->m[s->n]));
	copy_trunc(s->m[s->n].model, sizeof(s->m[s->n].model), model);
	return &s->m[s->n++];
}

/*
 * Adds without overflow: an export or a ledger holding more than 9.2e18
 * tokens is absurd, but must not be undefined behaviour; it saturates.
 */
static int64_t
sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void
totals_add(struct reconcile_totals *to, const struct reconcile_totals *from)
{
	int c;

	for (c = 0; c < RECONCILE_CAT_COUNT; c++)
		to->v[c] = sat_add(to->v[c], from->v[c]);
	to->have |= from->have;
	to->errors = sat_add(to->errors, from->errors);
}

/* --- CSV reading ------------------------------------------------------------ */

/*
 * A minimal RFC 4180 reader: delimiter ',' or TAB (spreadsheet copies of the
 * OpenAI export are TSV), fields optionally in double quotes with "" for a
 * quote, CRLF or LF line ends.  A quoted field may span lines.  Fields are
 * unquoted into scratch, NUL-terminated.
 */
struct csv {
	const char	*p, *end;
	char		 delim;
	size_t		 line;		/* line the current record started on */
	size_t		 next_line;
	struct buf	 scratch;
	size_t		 off[CSV_MAX_FIELDS];
	int		 nf;
};

/* 1 with a record, 0 at the end, -1 malformed (err set). */
static int
csv_next(struct csv *c, const char *name, char *err, size_t errlen)
{
	int quoted = 0, field_start = 1;

	if (c->p >= c->end)
		return 0;
	c->scratch.len = 0;
	c->nf = 0;
	c->line = c->next_line;
	c->off[c->nf++] = 0;
	while (c->p < c->end) {
		char ch = *c->p++;

		if (quoted) {
			if (ch == '"') {
				if (c->p < c->end && *c->p == '"') {
					c->p++;
					if (buf_append(&c->scratch, "\"", 1) < 0)
						goto oom;
				} else
					quoted = 0;
				continue;
			}
			if (ch == '\n')
				c->next_line++;
			if (buf_append(&c->scratch, &ch, 1) < 0)
				goto oom;
			continue;
		}
		if (ch == '"' && field_start) {
			quoted = 1;
			field_start = 0;
			continue;
		}
		field_start = 0;
		if (ch == '\r' && c->p < c->end && *c->p == '\n')
			continue;
		if (ch == '\n') {
			c->next_line++;
			break;
		}
		if (ch == c->delim) {
			if (c->nf == CSV_MAX_FIELDS) {
				snprintf(err, errlen, "%s:%zu: more than %d columns", name, c->line,
				    CSV_MAX_FIELDS);
				return -1;
			}
			if (buf_append(&c->scratch, "", 1) < 0)
				goto oom;
			c->off[c->nf++] = c->scratch.len;
			field_start = 1;
			continue;
		}
		if (buf_append(&c->scratch, &ch, 1) < 0)
			goto oom;
	}
	if (quoted) {
		snprintf(err, errlen, "%s:%zu: unterminated quoted field", name, c->line);
		return -1;
	}
	if (buf_append(&c->scratch, "", 1) < 0)
		goto oom;
	return 1;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
	return -1;
}

static const char *
csv_field(const struct csv *c, int i)
{
	return i >= 0 && i < c->nf ? c->scratch.data + c->off[i] : "";
}

/* --- formats -------------------------------------------------------------------- */

enum col_role {
	COL_DATE,		/* "2026-03-22" or "2026-03-31 02:00": the bucket's UTC start */
	COL_UNIX,		/* unix seconds: the bucket's start */
	COL_MODEL,
	COL_NUM,		/* a count added to cat */
	COL_COST,		/* USD, decimal text */
	COL_OPENAI_INPUT,	/* OpenAI input_tokens: cached and cache writes included */
};

struct col_spec {
	const char	*name;
	enum col_role	 role;
	int		 cat;		/* COL_NUM, COL_COST */
	int		 required;
};

/*
 * OpenAI usage dashboard export (completions_usage_<from>_<to>.csv), columns
 * mapped by name because the header grew over time:
 *   num_model_requests        -> requests
 *   input_tokens              -> input, minus input_cached_tokens and
 *                                input_cache_write_tokens: OpenAI's input
 *                                INCLUDES both (the README's 59200 = 5760 +
 *                                53440), tollgate's input is the uncached part;
 *                                audio and image input are inside it, as they
 *                                are inside tollgate's input
 *   output_tokens             -> output (already includes reasoning and audio)
 *   input_cached_tokens       -> cache_read
 *   input_cache_write_tokens  -> cache_write (absent before mid-2026: then not
 *                                compared)
 * The dashboard export carries no cost; the cost export has no model column,
 * so it cannot be compared per model.  Numbers are written as floats
 * ("31422.0"): a fractional part other than zeros is an error.
 */
static const struct col_spec openai_cols[] = {
	{ "start_time", COL_UNIX, 0, 1 },
	{ "model", COL_MODEL, 0, 1 },
	{ "num_model_requests", COL_NUM, RECONCILE_REQUESTS, 1 },
	{ "input_tokens", COL_OPENAI_INPUT, RECONCILE_INPUT, 1 },
	{ "output_tokens", COL_NUM, RECONCILE_OUTPUT, 1 },
	{ "input_cached_tokens", COL_NUM, RECONCILE_CACHE_READ, 1 },
	{ "input_cache_write_tokens", COL_NUM, RECONCILE_CACHE_WRITE, 0 },
	{ NULL, 0, 0, 0 },
};

/*
 * Anthropic Console usage export (claude_api_tokens_*.csv), day or hour rows.
 * Anthropic's input categories are disjoint (total input = uncached + cache
 * read + both cache writes), so they map one to one:
 *   usage_input_tokens_no_cache                    -> input
 *   usage_input_tokens_cache_read                  -> cache_read
 *   usage_input_tokens_cache_write_5m + _1h        -> cache_write
 *   usage_output_tokens                            -> output (includes thinking)
 * The export has no request count and no cost (the cost export names models
 * by display name, "Claude Sonnet 4.5", which cannot be paired reliably), so
 * requests and cost are not compared.  web_search_count is not compared.
 */
static const struct col_spec anthropic_cols[] = {
	{ "usage_date_utc", COL_DATE, 0, 1 },
	{ "model_version", COL_MODEL, 0, 1 },
	{ "usage_input_tokens_no_cache", COL_NUM, RECONCILE_INPUT, 1 },
	{ "usage_input_tokens_cache_read", COL_NUM, RECONCILE_CACHE_READ, 1 },
	{ "usage_input_tokens_cache_write_5m", COL_NUM, RECONCILE_CACHE_WRITE, 0 },
	{ "usage_input_tokens_cache_write_1h", COL_NUM, RECONCILE_CACHE_WRITE, 0 },
	{ "usage_output_tokens", COL_NUM, RECONCILE_OUTPUT, 1 },
	{ NULL, 0, 0, 0 },
};

/*
 * The generic export, for any other provider (convert its bill to this):
 * date,model,requests,input,output,cache_read,cache_write,cost already in
 * tollgate's meaning (input uncached, output with reasoning, cost in USD as
 * decimal text).  Any cell may be empty: a category with no value in any row
 * of a model is not compared for that model.
 */
static const struct col_spec generic_cols[] = {
	{ "date", COL_DATE, 0, 1 },
	{ "model", COL_MODEL, 0, 1 },
	{ "requests", COL_NUM, RECONCILE_REQUESTS, 0 },
	{ "input", COL_NUM, RECONCILE_INPUT, 0 },
	{ "output", COL_NUM, RECONCILE_OUTPUT, 0 },
	{ "cache_read", COL_NUM, RECONCILE_CACHE_READ, 0 },
	{ "cache_write", COL_NUM, RECONCILE_CACHE_WRITE, 0 },
	{ "cost", COL_COST, RECONCILE_COST, 0 },
	{ NULL, 0, 0, 0 },
};

static int
header_index(const struct csv *c, const char *col)
{
	int i;

	for (i = 0; i < c->nf; i++)
		if (strcmp(csv_field(c, i), col) == 0)
			return i;
	return -1;
}

/* Trims blanks and a UTF-8 byte order mark from each header cell, in place. */
static void
trim_header(struct csv *c)
{
	int i;

	for (i = 0; i < c->nf; i++) {
		char *s = c->scratch.data + c->off[i];
		size_t n;

		if (i == 0 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
			memmove(s, s + 3, strlen(s + 3) + 1);
		while (*s == ' ')
			memmove(s, s + 1, strlen(s));
		n = strlen(s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
			s[--n] = '\0';
	}
}

static int
detect(const char *name, const struct csv *c, enum reconcile_format *fmt, char *err,
    size_t errlen)
{
	if (header_index(c, "num_model_requests") >= 0 && header_index(c, "input_tokens") >= 0)
		*fmt = RECONCILE_FMT_OPENAI_USAGE;
	else if (header_index(c, "usage_input_tokens_no_cache") >= 0)
		*fmt = RECONCILE_FMT_ANTHROPIC_USAGE;
	else if (c->nf > 1 && strcmp(csv_field(c, 0), "date") == 0 &&
	    header_index(c, "model") >= 0)
		*fmt = RECONCILE_FMT_GENERIC;
	else if (header_index(c, "amount_value") >= 0) {
		snprintf(err, errlen, "%s:%zu: this is OpenAI's cost export, which has no model "
		    "column: export the usage page (completions_usage_*.csv) instead", name,
		    c->line);
		return -1;
	} else if (header_index(c, "token_type") >= 0 && header_index(c, "cost_usd") >= 0) {
		snprintf(err, errlen, "%s:%zu: this is Anthropic's cost export, which names "
		    "models by display name: export usage (claude_api_tokens_*.csv) instead",
		    name, c->line);
		return -1;
	} else {
		snprintf(err, errlen, "%s:%zu: unrecognised header: expected OpenAI's usage "
		    "export (num_model_requests, input_tokens, ...), Anthropic's console usage "
		    "export (usage_date_utc, model_version, usage_input_tokens_no_cache, ...) or "
		    "date,model,requests,input,output,cache_read,cache_write,cost", name,
		    c->line);
		return -1;
	}
	return 0;
}

static int
parse_count(const char *s, int64_t *out)
{
	int inexact = 0;

	if (money_parse_decimal_ex(s, strlen(s), 0, 0, out, &inexact) < 0 || inexact)
		return -1;
	return 0;
}

/* A row's bucket start: "2026-03-22", "2026-03-31 02:00" or RFC 3339. */
static int
parse_day(const char *s, int64_t *ns)
{
	char msg[160];

	if (strlen(s) < 10 || s[4] != '-')
		return -1;
	return time_parse(s, 0, ns, msg, sizeof(msg));
}

static int
parse_unix(const char *s, int64_t *ns)
{
	int64_t sec;

	if (parse_count(s, &sec) < 0 || sec > INT64_MAX / NS_PER_SEC)
		return -1;
	*ns = sec * NS_PER_SEC;
	return 0;
}

int
reconcile_parse_csv(const char *name, const char *buf, size_t len, int64_t since_ns,
    int64_t until_ns, struct reconcile_set *out, enum reconcile_format *fmt, char *err,
    size_t errlen)
{
	const struct col_spec *spec;
	struct csv c;
	const char *nl;
	int idx[16], i, rc, ret = -1;

	memset(&c, 0, sizeof(c));
	c.p = buf;
	c.end = buf + len;
	c.next_line = 1;
	nl = memchr(buf, '\n', len);
	c.delim = memchr(buf, '\t', nl ? (size_t)(nl - buf) : len) ? '\t' : ',';
	if ((rc = csv_next(&c, name, err, errlen)) <= 0) {
		if (rc == 0)
			snprintf(err, errlen, "%s: empty file: expected a header line", name);
		goto out;
	}
	trim_header(&c);
	if (detect(name, &c, fmt, err, errlen) < 0)
		goto out;
	spec = *fmt == RECONCILE_FMT_OPENAI_USAGE ? openai_cols :
	    *fmt == RECONCILE_FMT_ANTHROPIC_USAGE ? anthropic_cols : generic_cols;
	for (i = 0; spec[i].name; i++) {
		idx[i] = header_index(&c, spec[i].name);
		if (idx[i] < 0 && spec[i].required) {
			snprintf(err, errlen, "%s:%zu: column '%s' is missing from the %s header",
			    name, c.line, spec[i].name, reconcile_format_name(*fmt));
			goto out;
		}
	}

	while ((rc = csv_next(&c, name, err, errlen)) == 1) {
		struct reconcile_totals row, *t;
		const char *model = NULL;
		int64_t start = 0, v, openai_input = -1;
		int have_start = 0, blank = 1;

		memset(&row, 0, sizeof(row));
		for (i = 0; i < c.nf; i++)
			if (csv_field(&c, i)[0] != '\0')
				blank = 0;
		if (blank)
			continue;
		for (i = 0; spec[i].name; i++) {
			const char *f = csv_field(&c, idx[i]);

			if (idx[i] < 0)
				continue;
			if (spec[i].role == COL_MODEL) {
				model = f;
				continue;
			}
			if (f[0] == '\0')
				continue;
			switch (spec[i].role) {
			case COL_DATE:
			case COL_UNIX:
				if ((spec[i].role == COL_DATE ? parse_day(f, &start) :
				    parse_unix(f, &start)) < 0) {
					snprintf(err, errlen, "%s:%zu: column '%s': '%s' is not %s",
					    name, c.line, spec[i].name, f, spec[i].role == COL_DATE ?
					    "a UTC date (2026-03-22 or 2026-03-31 02:00)" :
					    "a unix time in seconds");
					goto out;
				}
				have_start = 1;
				break;
			case COL_COST:
				if (money_parse_decimal(f, strlen(f), MONEY_COST_SCALE, 0, &v) < 0) {
					snprintf(err, errlen, "%s:%zu: column '%s': '%s' is not an "
					    "amount in USD", name, c.line, spec[i].name, f);
					goto out;
				}
				row.v[spec[i].cat] = sat_add(row.v[spec[i].cat], v);
				row.have |= 1u << spec[i].cat;
				break;
			case COL_NUM:
			case COL_OPENAI_INPUT:
				if (parse_count(f, &v) < 0) {
					snprintf(err, errlen, "%s:%zu: column '%s': '%s' is not a "
					    "whole non-negative number", name, c.line, spec[i].name, f);
					goto out;
				}
				if (spec[i].role == COL_OPENAI_INPUT) {
					openai_input = v;
					break;
				}
				row.v[spec[i].cat] = sat_add(row.v[spec[i].cat], v);
				row.have |= 1u << spec[i].cat;
				break;
			case COL_MODEL:
				break;
			}
		}
		/* OpenAI writes an empty bucket as a row with only its times */
		if ((model == NULL || model[0] == '\0') && row.have == 0 && openai_input < 0)
			continue;
		if (!have_start) {
			snprintf(err, errlen, "%s:%zu: column '%s' is empty", name, c.line,
			    spec[0].name);
			goto out;
		}
		if (model == NULL || model[0] == '\0') {
			snprintf(err, errlen, "%s:%zu: column '%s' is empty: export the usage "
			    "grouped by model", name, c.line, *fmt == RECONCILE_FMT_ANTHROPIC_USAGE ?
			    "model_version" : "model");
			goto out;
		}
		if (strlen(model) >= RECONCILE_MODEL_MAX) {
			snprintf(err, errlen, "%s:%zu: model name longer than %d bytes", name,
			    c.line, RECONCILE_MODEL_MAX - 1);
			goto out;
		}
		if (openai_input >= 0) {
			int64_t cached = sat_add(row.v[RECONCILE_CACHE_READ],
			    row.v[RECONCILE_CACHE_WRITE]);

			if (openai_input < cached) {
				snprintf(err, errlen, "%s:%zu: column 'input_tokens': %lld is less "
				    "than input_cached_tokens + input_cache_write_tokens (%lld), which "
				    "it includes", name, c.line, (long long)openai_input,
				    (long long)cached);
				goto out;
			}
			row.v[RECONCILE_INPUT] = openai_input - cached;
			row.have |= 1u << RECONCILE_INPUT;
		}
		/*
		 * Exports bucket by UTC day (Anthropic's also by hour) and a bucket
		 * cannot be split: a row counts when its start is in [since, until).
		 */
		if (start < since_ns || start >= until_ns)
			continue;
		if ((t = set_get(out, model)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", name);
			goto out;
		}
		totals_add(t, &row);
	}
	if (rc == 0)
		ret = 0;
out:
	buf_release(&c.scratch);
	return ret;
}

/* --- tollgate's side ------------------------------------------------------------- */

int
reconcile_add_record(struct reconcile_set *out, const struct record *r)
{
	const int64_t *k = r->tokens;
	struct reconcile_totals *t, add;
	/* the provider's own name for it, which its export uses */
	const char *model = r->deployment[0] ? r->deployment :
	    r->priced_as[0] ? r->priced_as : r->model_requested;

	if ((t = set_get(out, model)) == NULL)
		return -1;
	memset(&add, 0, sizeof(add));
	add.have = (1u << RECONCILE_CAT_COUNT) - 1;
	if (r->flags & RECORD_FLAG_ADJUSTMENT)
		;	/* a re-rating of a request counted already: its cost only */
	else if (r->status >= 200 && r->status <= 299)
		add.v[RECONCILE_REQUESTS] = 1;
	else
		add.errors = 1;
	add.v[RECONCILE_INPUT] = sat_add(sat_add(k[RECORD_TOK_INPUT], k[RECORD_TOK_AUDIO_IN]),
	    sat_add(k[RECORD_TOK_IMAGE_IN], k[RECORD_TOK_TOOL_PROMPT]));
	add.v[RECONCILE_OUTPUT] = sat_add(sat_add(k[RECORD_TOK_OUTPUT], k[RECORD_TOK_REASONING]),
	    sat_add(k[RECORD_TOK_AUDIO_OUT], k[RECORD_TOK_IMAGE_OUT]));
	add.v[RECONCILE_CACHE_READ] = k[RECORD_TOK_CACHE_READ];
	add.v[RECONCILE_CACHE_WRITE] = sat_add(k[RECORD_TOK_CACHE_WRITE_5M],
	    k[RECORD_TOK_CACHE_WRITE_1H]);
	add.v[RECONCILE_COST] = r->total;
	totals_add(t, &add);
	return 0;
}

void
reconcile_model_key(const char *model, char *dst)
{
	const char *slash = strrchr(model, '/');
	size_t n, i;

	if (slash)
		model = slash + 1;
	copy_trunc(dst, RECONCILE_MODEL_MAX, model);
	n = strlen(dst);
	/* -YYYYMMDD */
	if (n > 9 && dst[n - 9] == '-') {
		for (i = n - 8; i < n && dst[i] >= '0' && dst[i] <= '9'; i++)
			;
		if (i == n) {
			dst[n - 9] = '\0';
			return;
		}
	}
	/* -YYYY-MM-DD */
	if (n > 11 && dst[n - 11] == '-' && dst[n - 6] == '-' && dst[n - 3] == '-') {
		for (i = n - 10; i < n; i++)
			if (i != n - 6 && i != n - 3 && (dst[i] < '0' || dst[i] > '9'))
				return;
		dst[n - 11] = '\0';
	}
}

static int
name_matches(const char *name, const char *model)
{
	char a[RECONCILE_MODEL_MAX], b[RECONCILE_MODEL_MAX];

	if (name[0] == '\0')
		return 0;
	if (strcmp(name, model) == 0)
		return 1;
	reconcile_model_key(name, a);
	reconcile_model_key(model, b);
	return strcmp(a, b) == 0;
}

int
reconcile_record_matches(const struct record *r, const char *model)
{
	return name_matches(r->model_requested, model) || name_matches(r->deployment, model) ||
	    name_matches(r->priced_as, model);
}

/* --- comparison ------------------------------------------------------------------ */

static void
append_name(char *dst, size_t len, const char *name)
{
	size_t n = strlen(dst);

	if (n)
		copy_trunc(dst + n, len - n, ", ");
	n = strlen(dst);
	copy_trunc(dst + n, len - n, name);
}

static struct reconcile_row *
report_add(struct reconcile_report *r)
{
	if (ARRAY_GROW(r->rows, r->n, r->cap) < 0)
		return NULL;
	memset(&r->rows[r->n], 0, sizeof(r->rows[r->n]));
	return &r->rows[r->n++];
}

static void
judge(struct reconcile_row *row, int64_t threshold10)
{
	uint32_t quantities = ((1u << RECONCILE_CAT_COUNT) - 1) & ~(1u << RECONCILE_COST);
	int c;

	if (row->gate.model[0] && row->prov.model[0])
		row->side = RECONCILE_BOTH;
	else
		row->side = row->gate.model[0] ? RECONCILE_ONLY_TOLLGATE : RECONCILE_ONLY_PROVIDER;
	for (c = 0; c < RECONCILE_CAT_COUNT; c++) {
		int64_t g = row->gate.v[c], p = row->prov.v[c];
		money_sum d = (money_sum)g - p, ad = d < 0 ? -d : d;

		if (row->side != RECONCILE_BOTH) {
			const struct reconcile_totals *t = row->side == RECONCILE_ONLY_TOLLGATE ?
			    &row->gate : &row->prov;

			if ((t->have & (1u << c)) && t->v[c] != 0)
				row->beyond |= 1u << c;
			continue;
		}
		if (!(row->gate.have & row->prov.have & (1u << c)))
			continue;
		row->compared |= 1u << c;
		row->delta[c] = (int64_t)d;
		row->pct10[c] = p ? (int64_t)money_div_round(d * 1000, p) : 0;
		if (p == 0 ? g != 0 : ad * 1000 > (money_sum)threshold10 * p)
			row->beyond |= 1u << c;
	}
	if (row->side != RECONCILE_BOTH)
		row->verdict = RECONCILE_ONE_SIDE;
	else if (row->beyond & quantities)
		row->verdict = RECONCILE_QUANTITIES_DIFFER;
	else if (row->beyond)
		row->verdict = RECONCILE_COST_DIFFERS;
	else
		row->verdict = RECONCILE_OK;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct reconcile_row *x = a, *y = b;

	return strcmp(x->model[0] ? x->model : x->provider_model,
	    y->model[0] ? y->model : y->provider_model);
}

int
reconcile_compare(const struct reconcile_set *gate, const struct reconcile_set *prov,
    int64_t threshold10, struct reconcile_report *out)
{
	char (*keys)[RECONCILE_MODEL_MAX] = NULL, key[RECONCILE_MODEL_MAX];
	unsigned char *gused = NULL, *pused = NULL;
	size_t i, j, first_keyed;
	struct reconcile_row *row;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	gused = calloc(gate->n + 1, 1);
	pused = calloc(prov->n + 1, 1);
	keys = calloc(gate->n + prov->n + 1, sizeof(*keys));
	if (gused == NULL || pused == NULL || keys == NULL)
		goto out;
	/* first the names both sides spell the same */
	for (i = 0; i < prov->n; i++)
		for (j = 0; j < gate->n; j++)
			if (!gused[j] && strcmp(prov->m[i].model, gate->m[j].model) == 0) {
				if ((row = report_add(out)) == NULL)
					goto out;
				row->gate = gate->m[j];
				row->prov = prov->m[i];
				append_name(row->model, sizeof(row->model), gate->m[j].model);
				append_name(row->provider_model, sizeof(row->provider_model),
				    prov->m[i].model);
				gused[j] = pused[i] = 1;
				break;
			}
	/* then by key: every snapshot of a model is summed into one row */
	first_keyed = out->n;
	for (j = 0; j < gate->n + prov->n; j++) {
		int is_gate = j < gate->n;
		const struct reconcile_totals *t = is_gate ? &gate->m[j] : &prov->m[j - gate->n];
		size_t k;

		if (is_gate ? gused[j] : pused[j - gate->n])
			continue;
		reconcile_model_key(t->model, key);
		for (k = first_keyed; k < out->n; k++)
			if (strcmp(keys[k - first_keyed], key) == 0)
				break;
		if (k == out->n) {
			if ((row = report_add(out)) == NULL)
				goto out;
			copy_trunc(keys[k - first_keyed], sizeof(keys[0]), key);
		}
		row = &out->rows[k];
		if (is_gate) {
			totals_add(&row->gate, t);
			copy_trunc(row->gate.model, sizeof(row->gate.model), key);
			append_name(row->model, sizeof(row->model), t->model);
		} else {
			totals_add(&row->prov, t);
			copy_trunc(row->prov.model, sizeof(row->prov.model), key);
			append_name(row->provider_model, sizeof(row->provider_model), t->model);
		}
	}
	for (i = 0; i < out->n; i++) {
		judge(&out->rows[i], threshold10);
		if (out->rows[i].beyond)
			out->any_beyond = 1;
	}
	if (out->n > 1)		/* no rows: no array, and qsort() must not get NULL */
		qsort(out->rows, out->n, sizeof(out->rows[0]), row_cmp);
	ret = 0;
out:
	if (ret < 0)
		reconcile_report_release(out);
	free(gused);
	free(pused);
	free(keys);
	return ret;
}

void
reconcile_report_release(struct reconcile_report *r)
{
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

const char *
reconcile_verdict_text(const struct reconcile_row *row, char *buf, size_t len)
{
	size_t n;
	int c;

	switch (row->verdict) {
	case RECONCILE_OK:
		snprintf(buf, len, "ok");
		break;
	case RECONCILE_QUANTITIES_DIFFER:
		snprintf(buf, len, "quantities differ:");
		for (c = 0; c < RECONCILE_COST; c++)
			if (row->beyond & (1u << c)) {
				n = strlen(buf);
				snprintf(buf + n, len - n, "%s %s", buf[n - 1] == ':' ? "" : ",",
				    cat_names[c]);
			}
		n = strlen(buf);
		snprintf(buf + n, len - n, " (ingestion: tokens missing or categorised "
		    "differently)");
		break;
	case RECONCILE_COST_DIFFERS:
		snprintf(buf, len, "quantities match, cost differs (price map or formula: run "
		    "tollctl rerate with the provider's prices)");
		break;
	case RECONCILE_ONE_SIDE:
		snprintf(buf, len, row->side == RECONCILE_ONLY_TOLLGATE ? "only in tollgate" :
		    "only in provider export");
		break;
	}
	return buf;
}

/* --- output ---------------------------------------------------------------------- */

static char *
value_text(const struct reconcile_totals *t, int c, char *buf)
{
	if (!t->model[0] || !(t->have & (1u << c)))
		return strcpy(buf, "-");
	if (c == RECONCILE_COST)
		return money_format(t->v[c], MONEY_COST_SCALE, buf);
	snprintf(buf, MONEY_FORMAT_MAX, "%lld", (long long)t->v[c]);
	return buf;
}

/* Tenths of a percent as "12.3", "-0.5". */
static char *
tenths_text(int64_t v, char *buf)
{
	unsigned long long a = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	snprintf(buf, MONEY_FORMAT_MAX, "%s%llu.%llu", v < 0 ? "-" : "", a / 10, a % 10);
	return buf;
}

static void
delta_text(const struct reconcile_row *row, int c, char *delta, char *pct)
{
	if (!(row->compared & (1u << c))) {
		strcpy(delta, "-");
		strcpy(pct, "-");
		return;
	}
	if (c == RECONCILE_COST)
		money_format(row->delta[c], MONEY_COST_SCALE, delta);
	else
		snprintf(delta, MONEY_FORMAT_MAX, "%lld", (long long)row->delta[c]);
	if (row->prov.v[c] == 0 && row->gate.v[c] != 0)
		strcpy(pct, "n/a");
	else {
		tenths_text(row->pct10[c], pct);
		strcat(pct, "%");
	}
}

int
reconcile_write_table(const struct reconcile_report *r, int64_t threshold10, struct buf *o)
{
	char g[MONEY_FORMAT_MAX], p[MONEY_FORMAT_MAX], d[MONEY_FORMAT_MAX], pc[MONEY_FORMAT_MAX + 1];
	char verdict[256];
	int wm = (int)strlen("MODEL"), wp = (int)strlen("PROVIDER MODEL"), w, c;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if ((w = (int)strlen(r->rows[i].model)) > wm)
			wm = w;
		if ((w = (int)strlen(r->rows[i].provider_model)) > wp)
			wp = w;
	}
	buf_printf(o, "%-*s  %-*s  %-11s  %16s  %16s  %16s  %8s\n", wm, "MODEL", wp,
	    "PROVIDER MODEL", "CATEGORY", "TOLLGATE", "PROVIDER", "DELTA", "DELTA %");
	for (i = 0; i < r->n; i++) {
		const struct reconcile_row *row = &r->rows[i];
		const char *m = row->model[0] ? row->model : "-";
		const char *pm = row->provider_model[0] ? row->provider_model : "-";

		for (c = 0; c < RECONCILE_CAT_COUNT; c++) {
			delta_text(row, c, d, pc);
			buf_printf(o, "%-*s  %-*s  %-11s  %16s  %16s  %16s  %8s%s\n", wm, m, wp, pm,
			    cat_names[c], value_text(&row->gate, c, g),
			    value_text(&row->prov, c, p), d, pc,
			    row->beyond & (1u << c) ? "  !" : "");
		}
		if (row->gate.errors)
			buf_printf(o, "%-*s  %-*s  %-11s  %16lld  %16s  %16s  %8s\n", wm, m, wp, pm,
			    "errors", (long long)row->gate.errors, "-", "-", "-");
	}
	buf_printf(o, "\nthreshold %s%%; ! marks a delta beyond it\n", tenths_text(threshold10, g));
	for (i = 0; i < r->n; i++) {
		const struct reconcile_row *row = &r->rows[i];

		buf_printf(o, "%s: %s\n", row->model[0] ? row->model : row->provider_model,
		    reconcile_verdict_text(row, verdict, sizeof(verdict)));
	}
	if (r->n == 0)
		buf_printf(o, "no usage on either side in the window\n");
	return o->data == NULL ? -1 : 0;
}

static const char *const verdict_names[] = {
	"ok", "quantities_differ", "cost_differs", "one_side",
};

static const char *const side_names[] = {
	"both", "only_tollgate", "only_provider",
};

int
reconcile_write_json(const struct reconcile_report *r, int64_t since_ns, int64_t until_ns,
    enum reconcile_format fmt, int64_t threshold10, struct buf *o)
{
	char a[MONEY_FORMAT_MAX + 1], b[MONEY_FORMAT_MAX], verdict[256];
	size_t i;
	int c;

	buf_printf(o, "{\"since\": \"%s\"", time_format(since_ns, a, sizeof(a)));
	buf_printf(o, ", \"until\": \"%s\", \"format\": \"%s\", \"threshold_pct\": %s",
	    time_format(until_ns, a, sizeof(a)), reconcile_format_name(fmt),
	    tenths_text(threshold10, b));
	buf_printf(o, ", \"beyond_threshold\": %s, \"models\": [", r->any_beyond ? "true" : "false");
	for (i = 0; i < r->n; i++) {
		const struct reconcile_row *row = &r->rows[i];

		buf_printf(o, "%s{\"model\": ", i ? ", " : "");
		if (row->model[0])
			json_write_string(o, row->model);
		else
			buf_printf(o, "null");
		buf_printf(o, ", \"provider_model\": ");
		if (row->provider_model[0])
			json_write_string(o, row->provider_model);
		else
			buf_printf(o, "null");
		buf_printf(o, ", \"side\": \"%s\", \"verdict\": \"%s\", \"verdict_text\": ",
		    side_names[row->side], verdict_names[row->verdict]);
		json_write_string(o, reconcile_verdict_text(row, verdict, sizeof(verdict)));
		buf_printf(o, ", \"errors\": %lld, \"categories\": {", (long long)row->gate.errors);
		for (c = 0; c < RECONCILE_CAT_COUNT; c++) {
			/* a side that lacks a category has null, never value_text()'s "-" */
			buf_printf(o, "%s\"%s\": {\"tollgate\": %s", c ? ", " : "", cat_names[c],
			    row->gate.model[0] && (row->gate.have & (1u << c)) ?
			    value_text(&row->gate, c, a) : "null");
			buf_printf(o, ", \"provider\": %s", row->prov.model[0] &&
			    (row->prov.have & (1u << c)) ? value_text(&row->prov, c, a) : "null");
			if (row->compared & (1u << c)) {
				delta_text(row, c, a, b);
				buf_printf(o, ", \"delta\": %s, \"delta_pct\": ", a);
				if (row->prov.v[c] == 0 && row->gate.v[c] != 0)
					buf_printf(o, "null");
				else
					buf_printf(o, "%s", tenths_text(row->pct10[c], b));
			} else
				buf_printf(o, ", \"delta\": null, \"delta_pct\": null");
			buf_printf(o, ", \"beyond\": %s}", row->beyond & (1u << c) ? "true" : "false");
		}
		buf_printf(o, "}}");
	}
	buf_printf(o, "]}\n");
	return o->data == NULL ? -1 : 0;
}
