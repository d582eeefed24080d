/*
 * The JSON forms of a virtual key (see keys.h): LiteLLM's /key/generate
 * request in, its response out, and the exact reading of amounts of money
 * and counts that tollctl's options share.  Pure functions.
 *
 * Money stays exact because the request is read with tollgate's own
 * scanner (json.h), which hands a number over as its text: "10.5" becomes
 * 10500000000000 picodollars digit by digit, and no double is ever formed.
 * jansson only validates the metadata object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"
#include "window.h"

#define NS_PER_SEC	1000000000LL
#define NONE		((size_t)-1)	/* an offset of no string */
#define SHORT_MAX	128		/* amounts, times, durations */

int
keys_parse_money(const char *s, size_t len, int64_t *out, char *err, size_t errlen)
{
	int64_t whole;
	int inexact = 0;

	if (len > 0 && s[0] == '-') {
		log_into(err, errlen, "'%.*s' is negative", (int)len, s);
		return -1;
	}
	if (money_parse_decimal_ex(s, len, MONEY_COST_SCALE, 0, out, &inexact) < 0) {
		/* a number that only fails at picodollar scale is too large */
		if (money_parse_decimal(s, len, 0, 0, &whole) == 0)
			log_into(err, errlen, "'%.*s' is too large (at most 9223372 USD)", (int)len, s);
		else
			log_into(err, errlen, "'%.*s' is not an amount of USD (10, 10.50, 0.0001)",
			    (int)len, s);
		return -1;
	}
	if (inexact) {
		log_into(err, errlen, "'%.*s' is finer than a picodollar (12 decimal places)",
		    (int)len, s);
		return -1;
	}
	return 0;
}

int
keys_parse_count(const char *s, size_t len, int64_t *out, char *err, size_t errlen)
{
	int inexact = 0;

	if (len > 0 && s[0] == '-') {
		log_into(err, errlen, "'%.*s' is negative", (int)len, s);
		return -1;
	}
	if (money_parse_decimal_ex(s, len, 0, 0, out, &inexact) < 0 || inexact) {
		log_into(err, errlen, "'%.*s' is not a whole number", (int)len, s);
		return -1;
	}
	return 0;
}

/* --- the request ------------------------------------------------------------ */

enum kind {
	K_STRING, K_WINDOW, K_LIST, K_MONEY, K_COUNT, K_EXPIRES, K_DURATION, K_METADATA,
	K_OUTPUT,	/* a response field: ignored */
	K_FALSE,	/* a response flag: false or null */
	K_SECRET,	/* "key": a chosen secret, refused */
	K_MODEL_BUDGETS,	/* {"MODEL": {"budget_limit": USD, "time_period": "1d"}} */
};

static const struct field {
	const char	*name;
	unsigned	 bit;
	enum kind	 kind;
} fields[] = {
	{ "key_alias", KEYS_F_ALIAS, K_STRING },
	{ "user_id", KEYS_F_USER, K_STRING },
	{ "team_id", KEYS_F_TEAM, K_STRING },
	{ "customer", KEYS_F_CUSTOMER, K_STRING },
	{ "models", KEYS_F_MODELS, K_LIST },
	{ "tags", KEYS_F_TAGS, K_LIST },
	{ "max_budget", KEYS_F_MAX_BUDGET, K_MONEY },
	{ "soft_budget", KEYS_F_SOFT_BUDGET, K_MONEY },
	{ "budget_duration", KEYS_F_BUDGET_DURATION, K_WINDOW },
	{ "rpm_limit", KEYS_F_RPM, K_COUNT },
	{ "tpm_limit", KEYS_F_TPM, K_COUNT },
	{ "expires", KEYS_F_EXPIRES, K_EXPIRES },
	{ "duration", KEYS_F_EXPIRES, K_DURATION },
	{ "metadata", KEYS_F_METADATA, K_METADATA },
	{ "model_max_budget", KEYS_F_MODEL_BUDGETS, K_MODEL_BUDGETS },
	{ "token", 0, K_OUTPUT },
	{ "key_name", 0, K_OUTPUT },
	{ "created_at", 0, K_OUTPUT },
	{ "updated_at", 0, K_OUTPUT },
	{ "revoked_at", 0, K_OUTPUT },
	{ "spend", 0, K_OUTPUT },
	{ "blocked", 0, K_FALSE },
	{ "revoked", 0, K_FALSE },
	{ "key", 0, K_SECRET },
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/* A request being read: its strings in one buffer, by offset until the end. */
struct req {
	struct json_scan	 s;
	struct keys_attrs	 a;		/* numbers and set; strings below */
	struct buf		 text;		/* every string, each with its NUL */
	size_t			 str[5];	/* alias, user_id, team_id, customer, budget_duration */
	size_t			 meta;
	size_t			*list[3];	/* models, tags, model budgets */
	size_t			 n[3], cap[3];
	int64_t			 now_ns;
	char			*err;
	size_t			 errlen;
};

static int
fail(struct req *r, const char *field, const char *fmt, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, what);
	log_into(r->err, r->errlen, "%s: %s", field, msg);
	return -1;
}

/* Unescapes the string t into r->text; *off is where it starts. */
static int
take_string(struct req *r, const char *field, const struct json_text *t, size_t *off)
{
	int n;

	if (buf_reserve(&r->text, t->len + 1) < 0)
		return fail(r, field, "%s", "out of memory");
	*off = r->text.len;
	n = json_unescape(t, r->text.data + r->text.len, t->len + 1);
	if (n < 0)
		return fail(r, field, "%s", "a malformed string");
	if (memchr(r->text.data + r->text.len, '\0', (size_t)n) != NULL)
		return fail(r, field, "%s", "a string holding a NUL character");
	r->text.len += (size_t)n + 1;
	return 0;
}

/* A short string (amount, time, duration) into buf; -1 with err when it is not one. */
static int
short_string(struct req *r, const char *field, const struct json_text *t, char *buf)
{
	int n;

	if (t->len >= SHORT_MAX || (n = json_unescape(t, buf, SHORT_MAX)) < 0 ||
	    strlen(buf) != (size_t)n)
		return fail(r, field, "%s", "a string too long, malformed or holding a NUL");
	return 0;
}

/*
 * One model's budget of model_max_budget, {"budget_limit": USD,
 * "time_period": "1d" or null} (or just the amount), as "MODEL=USD[/1d]".
 */
static int
read_model_budget(struct req *r, const char *field, const struct json_text *model)
{
	char amount[SHORT_MAX] = "", period[SHORT_MAX] = "", why[256];
	enum json_type type = json_peek(&r->s);
	struct json_text k, t;
	int64_t pico;
	size_t item;
	int more;

	if (type == JSON_NUMBER || type == JSON_STRING) {
		if (json_scalar(&r->s, &type, &t) < 0 || short_string(r, field, &t, amount) < 0)
			return -1;
	} else if (type == JSON_OBJECT) {
		if (json_object_begin(&r->s) < 0)
			return -1;
		while ((more = json_next_key(&r->s, &k)) > 0) {
			char *dst = json_text_is(&k, "budget_limit") ? amount :
			    json_text_is(&k, "time_period") ? period : NULL;

			type = json_peek(&r->s);
			if (dst == NULL)
				return fail(r, field, "%s", "a model's budget takes budget_limit and "
				    "time_period");
			if (json_scalar(&r->s, &type, &t) < 0)
				return -1;
			if (type == JSON_NULL)
				continue;
			if ((type != JSON_STRING && (dst == period || type != JSON_NUMBER)) ||
			    short_string(r, field, &t, dst) < 0)
				return fail(r, field, "%s", "budget_limit is an amount of USD, "
				    "time_period a duration such as 1d");
		}
		if (more < 0)
			return -1;
	} else
		return fail(r, field, "%s", "expected an object of models");
	if (keys_parse_money(amount, strlen(amount), &pico, why, sizeof(why)) < 0)
		return fail(r, field, "%s", why);
	if (buf_reserve(&r->text, model->len + strlen(amount) + strlen(period) + 4) < 0 ||
	    take_string(r, field, model, &item) < 0)
		return fail(r, field, "%s", "out of memory");
	/* the model's NUL becomes the '=' */
	r->text.len--;
	buf_printf(&r->text, "=%s%s%s", amount, period[0] ? "/" : "", period);
	if (buf_append(&r->text, "", 1) < 0 || ARRAY_GROW(r->list[2], r->n[2], r->cap[2]) < 0)
		return fail(r, field, "%s", "out of memory");
	r->list[2][r->n[2]++] = item;
	return 0;
}

static int
read_model_budgets(struct req *r, const char *field)
{
	struct json_text model;
	int more;

	if (json_object_begin(&r->s) < 0)
		return -1;
	while ((more = json_next_key(&r->s, &model)) > 0)
		if (read_model_budget(r, field, &model) < 0)
			return -1;
	return more;
}

static int
read_value(struct req *r, const struct field *f)
{
	static const char *const str_fields[] = { "key_alias", "user_id", "team_id", "customer",
	    "budget_duration" };
	struct json_text t;
	enum json_type type = json_peek(&r->s);
	char buf[SHORT_MAX], why[256];
	struct window w;
	const char *start;
	int64_t *dst;
	size_t slot = 0, item;
	int li, more;

	if (f->kind == K_SECRET && type != JSON_NULL)
		return fail(r, f->name, "%s", "a key's secret is always generated, never chosen");
	if (f->kind == K_STRING || f->kind == K_WINDOW)
		for (slot = 0; strcmp(str_fields[slot], f->name) != 0; slot++)
			;
	if (type == JSON_OBJECT || type == JSON_ARRAY) {
		if (f->kind == K_METADATA && type == JSON_OBJECT) {
			start = r->s.p;
			if (json_skip(&r->s) < 0)
				return -1;
			r->meta = r->text.len;
			if (buf_append(&r->text, start, (size_t)(r->s.p - start)) < 0 ||
			    buf_append(&r->text, "", 1) < 0)
				return fail(r, f->name, "%s", "out of memory");
			return 0;
		}
		if (f->kind == K_LIST && type == JSON_ARRAY) {
			li = f->bit == KEYS_F_TAGS;
			if (json_array_begin(&r->s) < 0)
				return -1;
			while ((more = json_next_item(&r->s)) == 1) {
				if (json_peek(&r->s) != JSON_STRING)
					return fail(r, f->name, "%s", "expected an array of strings");
				if (json_scalar(&r->s, &type, &t) < 0 ||
				    take_string(r, f->name, &t, &item) < 0)
					return -1;
				if (ARRAY_GROW(r->list[li], r->n[li], r->cap[li]) < 0)
					return fail(r, f->name, "%s", "out of memory");
				r->list[li][r->n[li]++] = item;
			}
			return more;
		}
		if (f->kind == K_MODEL_BUDGETS && type == JSON_OBJECT)
			return read_model_budgets(r, f->name);
		if (f->kind == K_OUTPUT)
			return json_skip(&r->s);
		goto wrong_type;
	}
	if (json_scalar(&r->s, &type, &t) < 0)
		return -1;
	if (f->kind == K_OUTPUT)
		return 0;
	if (type == JSON_NULL) {
		/* none: the defaults of struct req */
		return 0;
	}
	switch (f->kind) {
	case K_STRING:
	case K_WINDOW:
		if (type != JSON_STRING)
			goto wrong_type;
		if (take_string(r, f->name, &t, &r->str[slot]) < 0)
			return -1;
		/* "" is none */
		if (r->text.data[r->str[slot]] == '\0')
			r->str[slot] = NONE;
		else if (f->kind == K_WINDOW &&
		    window_parse(r->text.data + r->str[slot], &w, why, sizeof(why)) < 0)
			return fail(r, f->name, "%s", why);
		return 0;
	case K_MONEY:
	case K_COUNT:
		dst = f->bit == KEYS_F_MAX_BUDGET ? &r->a.max_budget :
		    f->bit == KEYS_F_SOFT_BUDGET ? &r->a.soft_budget :
		    f->bit == KEYS_F_RPM ? &r->a.rpm_limit : &r->a.tpm_limit;
		if (type == JSON_STRING && f->kind == K_MONEY) {
			if (short_string(r, f->name, &t, buf) < 0)
				return -1;
			t.ptr = buf;
			t.len = strlen(buf);
		} else if (type != JSON_NUMBER)
			goto wrong_type;
		if ((f->kind == K_MONEY ? keys_parse_money : keys_parse_count)(t.ptr, t.len, dst,
		    why, sizeof(why)) < 0)
			return fail(r, f->name, "%s", why);
		return 0;
	case K_EXPIRES:
		if (type != JSON_STRING)
			goto wrong_type;
		if (short_string(r, f->name, &t, buf) < 0)
			return -1;
		/* a date, never time_parse()'s relative forms, which count backwards */
		if (strlen(buf) < 10 || buf[4] != '-' ||
		    time_parse(buf, r->now_ns, &r->a.expires_ns, why, sizeof(why)) < 0)
			return fail(r, f->name, "'%s' is not an RFC 3339 time (2026-12-31T00:00:00Z)",
			    buf);
		return 0;
	case K_DURATION:
		if (type != JSON_STRING)
			goto wrong_type;
		if (short_string(r, f->name, &t, buf) < 0)
			return -1;
		if (window_parse(buf, &w, why, sizeof(why)) < 0)
			return fail(r, f->name, "%s", why);
		r->a.expires_ns = window_advance(&w, r->now_ns);
		return 0;
	case K_FALSE:
		if (type == JSON_FALSE)
			return 0;
		if (type == JSON_TRUE)
			return fail(r, f->name, "%s", "true is not taken here: revoke the key instead");
		goto wrong_type;
	default:
		goto wrong_type;
	}
wrong_type:
	switch (f->kind) {
	case K_STRING:
	case K_WINDOW:
	case K_EXPIRES:
	case K_DURATION:
		return fail(r, f->name, "%s", "expected a string or null");
	case K_LIST:
		return fail(r, f->name, "%s", "expected an array of strings or null");
	case K_MONEY:
		return fail(r, f->name, "%s", "expected an amount of USD (a number or a string) "
		    "or null");
	case K_COUNT:
		return fail(r, f->name, "%s", "expected a whole number or null");
	case K_METADATA:
	case K_MODEL_BUDGETS:
		return fail(r, f->name, "%s", "expected an object or null");
	default:
		return fail(r, f->name, "%s", "expected false or null");
	}
}

/* Moves the strings of r into out->mem, the list pointers ahead of them. */
static int
finish(struct req *r, struct keys_key *out)
{
	size_t nptr = r->n[0] + r->n[1] + r->n[2], need = nptr * sizeof(char *) + r->text.len + 1, i;
	const char **ptrs;
	char *text, *mem;

	if (need > out->memcap) {
		if ((mem = malloc(need)) == NULL)
			return -1;
		free(out->mem);
		out->mem = mem;
		out->memcap = need;
	}
	ptrs = (const char **)(void *)out->mem;
	text = out->mem + nptr * sizeof(char *);
	if (r->text.len)
		memcpy(text, r->text.data, r->text.len);
	for (i = 0; i < r->n[0]; i++)
		ptrs[i] = text + r->list[0][i];
	for (i = 0; i < r->n[1]; i++)
		ptrs[r->n[0] + i] = text + r->list[1][i];
	for (i = 0; i < r->n[2]; i++)
		ptrs[r->n[0] + r->n[1] + i] = text + r->list[2][i];
	memset(out->hash, 0, sizeof(out->hash));
	out->hint[0] = '\0';
	out->created_ns = out->updated_ns = 0;
	out->revoked = 0;
	out->revoked_ns = KEYS_UNSET;
	out->a = r->a;
	out->a.alias = r->str[0] == NONE ? NULL : text + r->str[0];
	out->a.user_id = r->str[1] == NONE ? NULL : text + r->str[1];
	out->a.team_id = r->str[2] == NONE ? NULL : text + r->str[2];
	out->a.customer = r->str[3] == NONE ? NULL : text + r->str[3];
	out->a.budget_duration = r->str[4] == NONE ? NULL : text + r->str[4];
	out->a.metadata = r->meta == NONE ? NULL : text + r->meta;
	out->a.models = r->n[0] ? ptrs : NULL;
	out->a.nmodels = r->n[0];
	out->a.tags = r->n[1] ? ptrs + r->n[0] : NULL;
	out->a.ntags = r->n[1];
	out->a.model_budgets = r->n[2] ? ptrs + r->n[0] + r->n[1] : NULL;
	out->a.nmodel_budgets = r->n[2];
	return 0;
}

static int from_json(const char *json, size_t len, int64_t now_ns, int update,
    struct keys_key *out, char *err, size_t errlen);

int
keys_from_json(const char *json, size_t len, int64_t now_ns, struct keys_key *out,
    char *err, size_t errlen)
{
	return from_json(json, len, now_ns, 0, out, err, errlen);
}

int
keys_update_from_json(const char *json, size_t len, int64_t now_ns, struct keys_key *out,
    char *err, size_t errlen)
{
	return from_json(json, len, now_ns, 1, out, err, errlen);
}

/* update: "key" names the key to change (read by the caller), not a chosen secret. */
static int
from_json(const char *json, size_t len, int64_t now_ns, int update, struct keys_key *out,
    char *err, size_t errlen)
{
	struct req r = { .meta = NONE, .now_ns = now_ns, .err = err, .errlen = errlen };
	struct json_text key;
	uint32_t seen = 0;
	size_t i;
	int rc = -1, more, line, col;

	for (i = 0; i < 5; i++)
		r.str[i] = NONE;
	keys_attrs_init(&r.a);
	json_init(&r.s, json, len);
	if (json_peek(&r.s) != JSON_OBJECT) {
		log_into(err, errlen, "expected a JSON object");
		goto out;
	}
	if (json_object_begin(&r.s) < 0)
		goto malformed;
	while ((more = json_next_key(&r.s, &key)) > 0) {
		for (i = 0; i < NFIELDS && !json_text_is(&key, fields[i].name); i++)
			;
		if (i == NFIELDS) {
			/* clients send null for what they leave out */
			if (json_peek(&r.s) == JSON_NULL) {
				if (json_skip(&r.s) < 0)
					goto malformed;
				continue;
			}
			log_into(err, errlen, "unknown field '%.*s' (not supported by tollgate)",
			    (int)key.len, key.ptr);
			goto out;
		}
		if (seen & (1u << i)) {
			log_into(err, errlen, "%s: given twice", fields[i].name);
			goto out;
		}
		seen |= 1u << i;
		if (update && fields[i].kind == K_SECRET) {
			if (json_skip(&r.s) < 0)
				goto malformed;
			continue;
		}
		if (fields[i].kind == K_EXPIRES || fields[i].kind == K_DURATION) {
			if (r.a.set & KEYS_F_EXPIRES) {
				log_into(err, errlen, "duration, expires: give one of them");
				goto out;
			}
		}
		r.a.set |= fields[i].bit;
		if (read_value(&r, &fields[i]) < 0) {
			if (r.s.error)
				goto malformed;
			goto out;
		}
	}
	if (more < 0 || json_at_end(&r.s) < 0)
		goto malformed;
	if (finish(&r, out) < 0) {
		log_into(err, errlen, "out of memory");
		goto out;
	}
	rc = keys_check_attrs(&out->a, err, errlen);
	goto out;
malformed:
	json_position(&r.s, &line, &col);
	log_into(err, errlen, "malformed JSON at %d:%d: %s", line, col,
	    r.s.error ? r.s.error : "trailing characters");
out:
	buf_release(&r.text);
	free(r.list[0]);
	free(r.list[1]);
	free(r.list[2]);
	return rc;
}

/* --- the response ------------------------------------------------------------- */

/* Appends `"name": ` with the separator before it. */
static int
put_name(struct buf *o, const char *name)
{
	return buf_printf(o, "%s\"%s\": ", o->len && o->data[o->len - 1] != '{' ? ", " : "", name);
}

static int
put_string(struct buf *o, const char *name, const char *s)
{
	if (put_name(o, name) < 0)
		return -1;
	return s && *s ? json_write_string(o, s) : buf_append(o, "null", 4);
}

static int
put_money(struct buf *o, const char *name, int64_t v)
{
	char m[MONEY_FORMAT_MAX];

	if (put_name(o, name) < 0)
		return -1;
	return v == KEYS_UNSET ? buf_append(o, "null", 4) :
	    buf_printf(o, "%s", money_format(v, MONEY_COST_SCALE, m));
}

static int
put_count(struct buf *o, const char *name, int64_t v)
{
	if (put_name(o, name) < 0)
		return -1;
	return v == KEYS_UNSET ? buf_append(o, "null", 4) : buf_printf(o, "%lld", (long long)v);
}

/* RFC 3339 UTC, with the fraction of a second when there is one. */
static int
put_time(struct buf *o, const char *name, int64_t ns)
{
	int64_t frac = ns % NS_PER_SEC;
	char t[48], digits[16];
	size_t n;

	if (put_name(o, name) < 0)
		return -1;
	if (ns == KEYS_UNSET)
		return buf_append(o, "null", 4);
	if (frac < 0)
		frac += NS_PER_SEC;
	time_format(ns, t, sizeof(t));
	if (frac == 0)
		return buf_printf(o, "\"%s\"", t);
	snprintf(digits, sizeof(digits), "%09lld", (long long)frac);
	for (n = strlen(digits); digits[n - 1] == '0'; n--)
		;
	/* "2026-11-23T19:31:06" + ".25" + "Z" */
	return buf_printf(o, "\"%.*s.%.*sZ\"", (int)strlen(t) - 1, t, (int)n, digits);
}

static int
put_list(struct buf *o, const char *name, const char *const *v, size_t n)
{
	size_t i;

	if (put_name(o, name) < 0 || buf_append(o, "[", 1) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if ((i && buf_append(o, ", ", 2) < 0) || json_write_string(o, v[i]) < 0)
			return -1;
	return buf_append(o, "]", 1);
}

/* model_max_budget as LiteLLM writes it: {"MODEL": {"budget_limit", "time_period"}}. */
static int
put_model_budgets(struct buf *o, const struct keys_attrs *a)
{
	struct keys_model_budget mb;
	char m[MONEY_FORMAT_MAX], err[256];
	size_t i;

	if (put_name(o, "model_max_budget") < 0 || buf_append(o, "{", 1) < 0)
		return -1;
	for (i = 0; i < a->nmodel_budgets; i++) {
		if (keys_model_budget_parse(a->model_budgets[i], &mb, err, sizeof(err)) < 0)
			continue;
		if ((i && buf_append(o, ", ", 2) < 0) || json_write_string(o, mb.model) < 0 ||
		    buf_printf(o, ": {\"budget_limit\": %s, \"time_period\": ",
		    money_format(mb.max_budget, MONEY_COST_SCALE, m)) < 0 ||
		    (mb.has_window ? buf_printf(o, "\"%s\"}", mb.duration) :
		    buf_append(o, "null}", 5)) < 0)
			return -1;
	}
	return buf_append(o, "}", 1);
}

int
keys_to_json(const struct keys_key *k, const char *secret, struct buf *o)
{
	const struct keys_attrs *a = &k->a;
	char hex[KEYS_HEX_LEN + 1];
	size_t start = o->len;

	keys_hash_hex(k->hash, hex);
	if (buf_append(o, "{", 1) < 0 ||
	    (secret && put_string(o, "key", secret) < 0) ||
	    put_string(o, "token", hex) < 0 ||
	    put_string(o, "key_alias", a->alias) < 0 ||
	    put_string(o, "key_name", k->hint) < 0 ||
	    put_string(o, "user_id", a->user_id) < 0 ||
	    put_string(o, "team_id", a->team_id) < 0 ||
	    put_string(o, "customer", a->customer) < 0 ||
	    put_list(o, "models", a->models, a->nmodels) < 0 ||
	    put_list(o, "tags", a->tags, a->ntags) < 0 ||
	    put_money(o, "max_budget", a->max_budget) < 0 ||
	    put_money(o, "soft_budget", a->soft_budget) < 0 ||
	    put_string(o, "budget_duration", a->budget_duration) < 0 ||
	    put_count(o, "rpm_limit", a->rpm_limit) < 0 ||
	    put_count(o, "tpm_limit", a->tpm_limit) < 0 ||
	    put_time(o, "expires", a->expires_ns) < 0 ||
	    put_model_budgets(o, a) < 0 ||
	    put_name(o, "metadata") < 0 ||
	    buf_printf(o, "%s", a->metadata && *a->metadata ? a->metadata : "{}") < 0 ||
	    put_time(o, "created_at", k->created_ns) < 0 ||
	    put_time(o, "updated_at", k->updated_ns) < 0 ||
	    buf_printf(o, ", \"blocked\": %s, \"revoked\": %s", k->revoked ? "true" : "false",
	    k->revoked ? "true" : "false") < 0 ||
	    put_time(o, "revoked_at", k->revoked ? k->revoked_ns : KEYS_UNSET) < 0 ||
	    buf_append(o, "}", 1) < 0) {
		o->len = start;
		return -1;
	}
	return 0;
}
