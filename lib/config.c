/*
 * The gateway configuration (config.h): a LiteLLM proxy config.yaml read
 * through libyaml's document API, plus what LiteLLM's own loader (PyYAML,
 * YAML 1.1) gives its users and libyaml leaves to us: merge keys, YAML 1.1
 * integers and nulls, os.environ/NAME references and include: files.  Runs in
 * the master (at start and on SIGHUP, into a fresh struct config) and in
 * `tollgated -t`; never while serving.
 *
 * Loading is two passes.  The first reads the file and its includes into
 * libyaml documents and notes, per top-level key, which node holds it: a
 * later duplicate or an included file replaces an earlier one, except that
 * model_list nodes are collected in order, the parent's before its includes'.
 * The second pass interprets those nodes into struct config.  The documents
 * live until the end, so every message can name a file and a line.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <libpq-fe.h>

#include "budget_redis.h"
#include "buf.h"
#include "config.h"
#include "limitset.h"
#include "money.h"
#include "pricefile.h"

#ifndef TOLLGATE_PRICES
#define TOLLGATE_PRICES		"/etc/tollgate/prices.yaml"
#endif

#define INCLUDE_DEPTH	8	/* include: levels below the main file */
#define MERGE_DEPTH	8	/* merge keys within merge keys; deeper is an alias loop */
#define DAY_MS		86400000LL

/* A loaded file. */
struct doc {
	yaml_document_t	 y;
	const char	*file;		/* points into config->files */
};

/* A key and its value in a mapping, merge keys resolved. */
struct pair {
	const char	*key;		/* the key's text, NUL-terminated by libyaml */
	yaml_node_t	*k, *v;
};

/* A Redis as LiteLLM names one: router_settings' redis_*, cache_params' host/port/password. */
struct litellm_redis {
	char		 host[256], port[16], password[256];
	struct config_at at;
};

struct pairs {
	struct pair	*v;
	size_t		 n, cap;
};

/* A top-level key as last written: a section, or one file's model_list. */
struct top {
	const char	*name;
	struct doc	*d;
	yaml_node_t	*k, *v;
};

struct loader {
	struct config	*c;
	char		*err;
	size_t		 errlen;
	struct buf	 warnings;
	char		**reported;	/* what warn_once() has reported */
	size_t		 nreported, capreported;
	struct doc	**docs;
	size_t		 ndocs, capdocs;
	struct top	*sections;	/* in order of first appearance */
	size_t		 nsections, capsections;
	struct top	*lists;		/* model_list of each file, in load order */
	size_t		 nlists, caplists;
	struct stat	 stack[INCLUDE_DEPTH + 1];	/* files being loaded: cycles */
	int		 depth;
	size_t		 capfiles, capdeployments;
	struct top	 master_general, master_litellm;	/* master_key nodes */
	struct litellm_redis router, cache;	/* router_settings', litellm_settings.cache_params' */
	unsigned	 router_says;	/* bits (by rt_keys[] index) of what router_settings sets */
	struct config_at default_fallbacks_at;	/* for check_fallbacks() */
};

/* A scalar's value. */
struct sval {
	const char	*s;		/* the text, environment substituted; "" for null */
	size_t		 len;
	int		 null;		/* YAML null: a plain ~, null or empty value */
	const char	*var;		/* the os.environ/ variable it named, or NULL */
};

/* ---- messages --------------------------------------------------------------- */

static int
line_of(const yaml_node_t *n)
{
	return n != NULL ? (int)n->start_mark.line + 1 : 0;
}

static int fail(struct loader *l, const struct doc *d, const yaml_node_t *n,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Sets the error, "file:line: message" when d is given; returns -1. */
static int
fail(struct loader *l, const struct doc *d, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d != NULL)
		snprintf(l->err, l->errlen, "%s:%d: %s", d->file, line_of(n), msg);
	else
		snprintf(l->err, l->errlen, "%s", msg);
	return -1;
}

static int
nomem(struct loader *l)
{
	return fail(l, NULL, NULL, "out of memory");
}

static int vwarn(struct loader *l, const struct doc *d, const yaml_node_t *n,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int vwarn_at(struct loader *l, const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int
vwarn_at(struct loader *l, const char *file, int line, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (buf_printf(&l->warnings, "%s:%d: %s\n", file, line, msg) < 0)
		return nomem(l);
	return 0;
}

static int
vwarn(struct loader *l, const struct doc *d, const yaml_node_t *n, const char *fmt, va_list ap)
{
	return vwarn_at(l, d->file, line_of(n), fmt, ap);
}

static int warn_at(struct loader *l, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A warning at a place kept from an earlier pass (the documents' nodes are not at hand). */
static int
warn_at(struct loader *l, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vwarn_at(l, file, line, fmt, ap);
	va_end(ap);
	return rc;
}

static int warn(struct loader *l, const struct doc *d, const yaml_node_t *n,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
warn(struct loader *l, const struct doc *d, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vwarn(l, d, n, fmt, ap);
	va_end(ap);
	return rc;
}

static int warn_once(struct loader *l, const struct doc *d, const yaml_node_t *n,
    const char *id, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A warning given only the first time id comes up: one line per distinct key. */
static int
warn_once(struct loader *l, const struct doc *d, const yaml_node_t *n, const char *id,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;
	int rc;

	for (i = 0; i < l->nreported; i++)
		if (strcmp(l->reported[i], id) == 0)
			return 0;
	if (ARRAY_GROW(l->reported, l->nreported, l->capreported) < 0 ||
	    (l->reported[l->nreported] = strdup(id)) == NULL)
		return nomem(l);
	l->nreported++;
	va_start(ap, fmt);
	rc = vwarn(l, d, n, fmt, ap);
	va_end(ap);
	return rc;
}

/* "a list", "a mapping" or the quoted text, for "expected X, got Y". */
static const char *
got(const yaml_node_t *n, const struct sval *v, char *buf, size_t size)
{
	if (n != NULL && n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n != NULL && n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (v->null)
		return "nothing";
	snprintf(buf, size, "'%.*s'", v->len > 60 ? 60 : (int)v->len, v->s);
	return buf;
}

/* ---- scalars ----------------------------------------------------------------- */

/*
 * The value of scalar n, os.environ/NAME replaced by the variable's value
 * (quoted or not, as LiteLLM does).  Returns 0; 1 when the variable is not
 * set (v->var names it); -1 when n is not a scalar.  Whether a missing
 * variable is an error is the caller's call: only it knows whether the value
 * is needed.
 */
static int
scalar(const yaml_node_t *n, struct sval *v)
{
	const char *s;
	size_t len;

	memset(v, 0, sizeof(*v));
	v->s = "";
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return -1;
	s = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	/* YAML 1.1 null; a quoted "null" is text */
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (len == 0 || (len == 1 && *s == '~') ||
	    (len == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
	    memcmp(s, "NULL", 4) == 0)))) {
		v->null = 1;
		return 0;
	}
	if (len > 11 && memcmp(s, "os.environ/", 11) == 0) {
		v->var = s + 11;	/* libyaml NUL-terminates the value */
		if ((s = getenv(v->var)) == NULL)
			return 1;
		len = strlen(s);
	}
	v->s = s;
	v->len = len;
	return 0;
}

/* A scalar whose value is needed: 0, or -1 naming path when it is missing or not a scalar. */
static int
need_scalar(struct loader *l, struct doc *d, yaml_node_t *n, const char *path,
    const char *expect, struct sval *v)
{
	char g[80];

	switch (scalar(n, v)) {
	case 0:
		return 0;
	case 1:
		return fail(l, d, n, "%s: environment variable %s is not set", path, v->var);
	default:
		return fail(l, d, n, "%s: expected %s, got %s", path, expect, got(n, v, g, sizeof(g)));
	}
}

/* Replaces *dst with a copy of the value, or NULL for null; 0 or -1. */
static int
set_text(struct loader *l, char **dst, const struct sval *v)
{
	char *s = NULL;

	if (!v->null && (s = strndup(v->s, v->len)) == NULL)
		return nomem(l);
	free(*dst);
	*dst = s;
	return 0;
}

/* A YAML 1.1 decimal integer: digits with '_' between them ("20_000"), optional sign. */
static int
parse_int(const char *s, size_t len, int64_t *out)
{
	const char *end = s + len;
	uint64_t v = 0;
	int neg = 0, any = 0;

	if (s < end && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	for (; s < end; s++) {
		if (*s == '_' && any)
			continue;
		if (*s < '0' || *s > '9' || v > ((uint64_t)INT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		any = 1;
	}
	if (!any)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

struct unit {
	const char	*name;		/* matched without regard to case */
	int64_t		 size;
};

/* Durations in milliseconds: a bare number is milliseconds. */
static const struct unit duration_units[] = {
	{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	{ "d", 86400000 }, { NULL, 0 },
};

/*
 * Sizes in bytes.  KB, MB, GB are powers of ten, KiB, MiB, GiB and the bare
 * letters (nginx's 10m) powers of two.
 */
static const struct unit size_units[] = {
	{ "", 1 }, { "b", 1 },
	{ "k", 1LL << 10 }, { "kib", 1LL << 10 }, { "kb", 1000LL },
	{ "m", 1LL << 20 }, { "mib", 1LL << 20 }, { "mb", 1000000LL },
	{ "g", 1LL << 30 }, { "gib", 1LL << 30 }, { "gb", 1000000000LL },
	{ "t", 1LL << 40 }, { "tib", 1LL << 40 }, { "tb", 1000000000000LL },
	{ NULL, 0 },
};

/* LiteLLM's timeouts: seconds, decimals allowed (and so any decimal into thousandths). */
static const struct unit second_units[] = { { "", 1000 }, { NULL, 0 } };

/*
 * "<decimal>[ ]<unit>" ("500ms", "1.5 GiB", "20_000") into a whole count of
 * the units' base (a fraction of it rounds up).  0, or -1 when the text is
 * not such a quantity or does not fit in int64.
 */
static int
parse_quantity(const char *s, size_t len, const struct unit *units, int64_t *out)
{
	const char *p = s, *end = s + len;
	__int128 whole = 0, frac = 0, scale = 1, v;
	int any = 0;

	for (; p < end && ((*p >= '0' && *p <= '9') || (*p == '_' && any)); p++) {
		if (*p == '_')
			continue;
		whole = whole * 10 + (*p - '0');
		if (whole > INT64_MAX)
			return -1;
		any = 1;
	}
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			any = 1;
			if (scale < 1000000000000000000LL) {	/* later digits cannot matter */
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	if (!any)
		return -1;
	while (p < end && *p == ' ')
		p++;
	for (; units->name != NULL; units++)
		if (strlen(units->name) == (size_t)(end - p) &&
		    strncasecmp(units->name, p, (size_t)(end - p)) == 0)
			break;
	if (units->name == NULL)
		return -1;
	v = whole * units->size + (frac * units->size + scale - 1) / scale;
	if (v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* ---- mappings ------------------------------------------------------------------ */

static int
node_is(const yaml_node_t *n, yaml_node_type_t type)
{
	return n != NULL && n->type == type;
}

static int
is_null(const yaml_node_t *n)
{
	struct sval v;

	return n == NULL || (scalar(n, &v) == 0 && v.null);
}

/* Adds a pair; a key already there takes the new value (duplicates: the last wins). */
static int
pairs_add(struct loader *l, struct pairs *ps, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].key, key) == 0) {
			ps->v[i].k = k;
			ps->v[i].v = v;
			return 0;
		}
	if (ARRAY_GROW(ps->v, ps->n, ps->cap) < 0)
		return nomem(l);
	ps->v[ps->n].key = key;
	ps->v[ps->n].k = k;
	ps->v[ps->n].v = v;
	ps->n++;
	return 0;
}

static int
is_merge_key(const yaml_node_t *k)
{
	return node_is(k, YAML_SCALAR_NODE) && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    k->data.scalar.length == 2 && memcmp(k->data.scalar.value, "<<", 2) == 0;
}

/*
 * The pairs of mapping map with YAML merge keys applied, which libyaml leaves
 * to us: <<: *a or <<: [*a, *b] brings in the keys of those mappings unless
 * map has them itself; in a list, an earlier mapping wins over a later one.
 */
static int
pairs_collect(struct loader *l, struct doc *d, yaml_node_t *map, struct pairs *ps, int depth)
{
	yaml_node_pair_t *p;
	char g[80];
	struct sval v;

	if (depth > MERGE_DEPTH)
		return fail(l, d, map, "merge keys (<<) nested deeper than %d: an alias loop?",
		    MERGE_DEPTH);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->y, p->key);
		yaml_node_t *m = yaml_document_get_node(&d->y, p->value);
		yaml_node_item_t *it;

		if (!is_merge_key(k))
			continue;
		if (node_is(m, YAML_MAPPING_NODE)) {
			if (pairs_collect(l, d, m, ps, depth + 1) < 0)
				return -1;
			continue;
		}
		if (!node_is(m, YAML_SEQUENCE_NODE)) {
			scalar(m, &v);
			return fail(l, d, m, "<<: expected an alias of a mapping (or a list of them) "
			    "to merge, got %s", got(m, &v, g, sizeof(g)));
		}
		/* the first mapping of the list wins, so it is applied last */
		for (it = m->data.sequence.items.top; it > m->data.sequence.items.start; it--) {
			yaml_node_t *item = yaml_document_get_node(&d->y, it[-1]);

			if (!node_is(item, YAML_MAPPING_NODE)) {
				scalar(item, &v);
				return fail(l, d, item, "<<: expected an alias of a mapping to merge, got %s",
				    got(item, &v, g, sizeof(g)));
			}
			if (pairs_collect(l, d, item, ps, depth + 1) < 0)
				return -1;
		}
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->y, p->key);
		yaml_node_t *val = yaml_document_get_node(&d->y, p->value);

		if (is_merge_key(k))
			continue;
		if (!node_is(k, YAML_SCALAR_NODE)) {
			scalar(k, &v);
			return fail(l, d, k, "expected a key name, got %s", got(k, &v, g, sizeof(g)));
		}
		if (pairs_add(l, ps, (const char *)k->data.scalar.value, k, val) < 0)
			return -1;
	}
	return 0;
}

/* The pairs of n for section path; null is an empty mapping, another scalar or a list an error. */
static int
pairs_of(struct loader *l, struct doc *d, yaml_node_t *n, const char *path, struct pairs *ps)
{
	struct sval v;
	char g[80];

	memset(ps, 0, sizeof(*ps));
	if (is_null(n))
		return 0;
	if (!node_is(n, YAML_MAPPING_NODE)) {
		scalar(n, &v);
		return fail(l, d, n, "%s: expected a mapping, got %s", path, got(n, &v, g, sizeof(g)));
	}
	if (pairs_collect(l, d, n, ps, 0) < 0) {
		free(ps->v);
		ps->v = NULL;
		return -1;
	}
	return 0;
}

/* ---- the tollgate: section ----------------------------------------------------- */

struct tg_key;
typedef int tg_setter(struct loader *, const struct tg_key *, struct doc *, yaml_node_t *);

/*
 * One tollgate: key.  A setter given no node (or a null one) applies the
 * default, which is written as a user would write it and parsed like one.
 */
struct tg_key {
	const char		*name;
	yaml_node_type_t	 type;		/* SEQUENCE: a list, or one scalar */
	tg_setter		*set;
	size_t			 off;		/* the field in struct config_tollgate */
	size_t			 noff;		/* a list's count */
	int64_t			 min, max;
	const char		*def;		/* NULL: none */
	const char		*expect;	/* for "expected ..., got ..." */
};

static tg_setter tg_dsn, tg_redis, tg_failure, tg_provider_cost, tg_share, tg_channels, tg_thresholds, tg_bool, tg_int64, tg_budgets, tg_timezone, tg_string, tg_url, tg_int, tg_workers, tg_size, tg_duration, tg_retention, tg_paths,
    tg_keys, tg_file, tg_address, tg_tls_version;

#define TG(f)		offsetof(struct config_tollgate, f)
#define DURATION	"a duration such as 500ms, 30s or 2m (a bare number is milliseconds)"
#define SIZE		"a size in bytes such as 512MiB or 1GiB"

/* Sorted by name: looked up with bsearch(). */
static const struct tg_key tg_keys_table[] = {
	{ "access_log", YAML_SCALAR_NODE, tg_string, TG(access_log), 0,
	  0, 0, NULL, "a file name, or - for standard error" },
	{ "alerts_channels", YAML_SEQUENCE_NODE, tg_channels, TG(alerts_channels),
	  TG(nalerts_channels), 0, 0, NULL, "a list of alert channels" },
	{ "alerts_cost_mismatch_window", YAML_SCALAR_NODE, tg_duration,
	  TG(alerts_cost_mismatch_window_ms), 0, 1000, DAY_MS, "1h", DURATION " from 1s to 24h" },
	{ "alerts_daily_summary", YAML_SCALAR_NODE, tg_bool, TG(alerts_daily_summary), 0,
	  0, 0, "true", "true or false" },
	{ "alerts_thresholds", YAML_SEQUENCE_NODE, tg_thresholds, TG(alerts_thresholds),
	  TG(nalerts_thresholds), 1, 1000, "50", "a list of percentages such as [50, 80, 100]" },
	{ "budget_timezone", YAML_SCALAR_NODE, tg_timezone, TG(budget_timezone), 0,
	  0, 0, "UTC", "a time zone such as UTC or Europe/Berlin" },
	{ "budgets", YAML_SEQUENCE_NODE, tg_budgets, TG(budgets), TG(nbudgets),
	  0, 0, NULL, "a list of budgets" },
	{ "client_timeout", YAML_SCALAR_NODE, tg_duration, TG(client_timeout_ms), 0,
	  1, DAY_MS, "60s", DURATION " from 1ms to 24h" },
	{ "cost_mismatch_threshold", YAML_SCALAR_NODE, tg_share, TG(cost_mismatch_ppm), 0,
	  0, 1000000, "1%", "a share such as 1% or 0.01 (0 to 100%)" },
	{ "default_max_tokens", YAML_SCALAR_NODE, tg_int64, TG(default_max_tokens), 0,
	  1, 100000000, "4096", "an integer from 1" },
	{ "export_dir", YAML_SCALAR_NODE, tg_string, TG(export_dir), 0,
	  0, 0, NULL, "a directory" },
	{ "export_interval", YAML_SCALAR_NODE, tg_duration, TG(export_interval_ms), 0,
	  1000, DAY_MS, "60s", DURATION " from 1s to 24h" },
	{ "export_url", YAML_SCALAR_NODE, tg_url, TG(export_url), 0,
	  0, 0, NULL, "an http:// or https:// URL" },
	{ "host_id", YAML_SCALAR_NODE, tg_string, TG(host_id), 0,
	  0, 0, NULL, "a name for this host" },
	{ "keys", YAML_SEQUENCE_NODE, tg_keys, TG(keys), TG(nkeys),
	  0, 0, NULL, "a list of client keys" },
	{ "ledger_map_size", YAML_SCALAR_NODE, tg_size, TG(ledger_map_size), 0,
	  1LL << 20, INT64_MAX, "1GiB", SIZE " of at least 1MiB" },
	{ "ledger_path", YAML_SCALAR_NODE, tg_string, TG(ledger_path), 0,
	  0, 0, "/var/lib/tollgate/ledger", "a directory" },
	{ "ledger_retention", YAML_SCALAR_NODE, tg_retention, TG(ledger_retention_ms), 0,
	  DAY_MS, 36500 * DAY_MS, "90d",
	  "0 (keep for ever) or a duration from 1d to 36500d, such as 90d" },
	{ "ledger_sync_interval", YAML_SCALAR_NODE, tg_duration, TG(ledger_sync_interval_ms), 0,
	  0, DAY_MS, "1s", DURATION " up to 24h" },
	{ "listen", YAML_SCALAR_NODE, tg_string, TG(listen), 0,
	  0, 0, "127.0.0.1", "an address" },
	{ "log_file", YAML_SCALAR_NODE, tg_string, TG(log_file), 0,
	  0, 0, NULL, "a file name" },
	{ "max_body_bytes", YAML_SCALAR_NODE, tg_size, TG(max_body_bytes), 0,
	  1, INT64_MAX, "10MiB", SIZE },
	{ "metrics_auth", YAML_SCALAR_NODE, tg_bool, TG(metrics_auth), 0,
	  0, 1, "false", "true or false" },
	{ "metrics_listen", YAML_SCALAR_NODE, tg_address, TG(metrics_listen), TG(metrics_port),
	  1, 65535, NULL, "a port, or an address and a port such as 10.0.0.5:9464 or [::1]:9464" },
	{ "port", YAML_SCALAR_NODE, tg_int, TG(port), 0,
	  0, 65535, "4000", "an integer 0-65535 (0: any free port)" },
	{ "postgres_dsn", YAML_SCALAR_NODE, tg_dsn, TG(postgres_dsn), TG(postgres_at),
	  0, 0, NULL, "a PostgreSQL connection string (postgresql://user@host/db, or "
	  "host=... dbname=...)" },
	{ "price_files", YAML_SEQUENCE_NODE, tg_paths, TG(price_files), TG(nprice_files),
	  0, 0, TOLLGATE_PRICES, "a list of file names" },
	{ "provider_cost", YAML_SCALAR_NODE, tg_provider_cost, TG(provider_cost_prefer), 0,
	  0, 0, "compare", "compare (flag a difference) or prefer (bill the provider's figure)" },
	{ "redis_on_failure", YAML_SCALAR_NODE, tg_failure, TG(redis_fail_open), 0,
	  0, 0, "closed", "closed (refuse, 503) or open (each host counts alone)" },
	{ "redis_url", YAML_SCALAR_NODE, tg_redis, TG(redis_url), TG(redis_at),
	  0, 0, NULL, "a redis://[[user]:password@]host[:port][/db] URL" },
	{ "run_dir", YAML_SCALAR_NODE, tg_string, TG(run_dir), 0,
	  0, 0, TOLLGATE_RUN_DIR, "a directory" },
	{ "shutdown_timeout", YAML_SCALAR_NODE, tg_duration, TG(shutdown_timeout_ms), 0,
	  0, DAY_MS, "30s", DURATION " up to 24h" },
	{ "tls_cert_file", YAML_SCALAR_NODE, tg_file, TG(tls_cert_file), TG(tls_cert_at),
	  0, 0, NULL, "a file name" },
	{ "tls_key_file", YAML_SCALAR_NODE, tg_file, TG(tls_key_file), TG(tls_key_at),
	  0, 0, NULL, "a file name" },
	{ "tls_min_version", YAML_SCALAR_NODE, tg_tls_version, TG(tls_min_version), 0,
	  2, 3, "TLSv1.2", "TLSv1.2 or TLSv1.3" },
	{ "ui_chartjs", YAML_SCALAR_NODE, tg_string, TG(ui_chartjs), 0,
	  0, 0, TOLLGATE_CHARTJS, "a file name" },
	{ "ui_dir", YAML_SCALAR_NODE, tg_string, TG(ui_dir), 0,
	  0, 0, TOLLGATE_UI_DIR, "a directory" },
	{ "upstream_connect_timeout", YAML_SCALAR_NODE, tg_duration,
	  TG(upstream_connect_timeout_ms), 0, 1, DAY_MS, "10s", DURATION " from 1ms to 24h" },
	{ "upstream_timeout", YAML_SCALAR_NODE, tg_duration, TG(upstream_timeout_ms), 0,
	  1, DAY_MS, "600s", DURATION " from 1ms to 24h" },
	{ "user", YAML_SCALAR_NODE, tg_string, TG(user), 0,
	  0, 0, NULL, "a user name" },
	{ "workers", YAML_SCALAR_NODE, tg_workers, TG(workers), 0,
	  1, 1024, "auto", "'auto' or an integer 1-1024" },
};

#define TG_NKEYS	(sizeof(tg_keys_table) / sizeof(tg_keys_table[0]))

static void *
tg_field(struct loader *l, size_t off)
{
	return (char *)&l->c->tollgate + off;
}

/* The text a scalar setting is given: the node's, or the default. */
static int
tg_text(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n, struct sval *v)
{
	char path[64];

	if (n != NULL) {
		snprintf(path, sizeof(path), "tollgate.%s", e->name);
		if (need_scalar(l, d, n, path, e->expect, v) < 0)
			return -1;
		if (!v->null)
			return 0;
	}
	memset(v, 0, sizeof(*v));
	v->s = e->def != NULL ? e->def : "";
	v->len = strlen(v->s);
	v->null = e->def == NULL;
	return 0;
}

static int
tg_bad(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n,
    const struct sval *v)
{
	char g[80];

	return fail(l, n != NULL ? d : NULL, n, "tollgate.%s: expected %s, got %s", e->name,
	    e->expect, got(NULL, v, g, sizeof(g)));
}

static int
tg_string(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	return set_text(l, tg_field(l, e->off), &v);
}

static int
tg_url(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (!v.null && strncasecmp(v.s, "http://", 7) != 0 && strncasecmp(v.s, "https://", 8) != 0)
		return tg_bad(l, e, d, n, &v);
	return set_text(l, tg_field(l, e->off), &v);
}

static int
tg_int(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;
	int64_t x;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (parse_int(v.s, v.len, &x) < 0 || x < e->min || x > e->max)
		return tg_bad(l, e, d, n, &v);
	*(int *)tg_field(l, e->off) = (int)x;
	return 0;
}

static int
tg_int64(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;
	int64_t x;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (parse_int(v.s, v.len, &x) < 0 || x < e->min || x > e->max)
		return tg_bad(l, e, d, n, &v);
	*(int64_t *)tg_field(l, e->off) = x;
	return 0;
}

/* YAML 1.1 booleans: true/false, yes/no, on/off, in any case. */
static int
tg_bool(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	static const char *const yes[] = { "true", "yes", "on", "y" }, *const no[] = {
		"false", "no", "off", "n" };
	struct sval v;
	size_t i;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	for (i = 0; i < 4; i++) {
		if (v.len == strlen(yes[i]) && strncasecmp(v.s, yes[i], v.len) == 0) {
			*(int *)tg_field(l, e->off) = 1;
			return 0;
		}
		if (v.len == strlen(no[i]) && strncasecmp(v.s, no[i], v.len) == 0) {
			*(int *)tg_field(l, e->off) = 0;
			return 0;
		}
	}
	return tg_bad(l, e, d, n, &v);
}

/* "auto" is 0: the master counts the CPUs. */
static int
tg_workers(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.len == 4 && strncasecmp(v.s, "auto", 4) == 0) {
		*(int *)tg_field(l, e->off) = 0;
		return 0;
	}
	return tg_int(l, e, d, n);
}

static int
tg_quantity(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n,
    const struct unit *units)
{
	struct sval v;
	int64_t x;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (parse_quantity(v.s, v.len, units, &x) < 0 || x < e->min || x > e->max)
		return tg_bad(l, e, d, n, &v);
	*(int64_t *)tg_field(l, e->off) = x;
	return 0;
}

static int
tg_size(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	return tg_quantity(l, e, d, n, size_units);
}

static int
tg_duration(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	return tg_quantity(l, e, d, n, duration_units);
}

/* A zone the C library knows: checked here, made the process's by the master. */
static int
tg_timezone(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	const char *dir = getenv("TZDIR") ? getenv("TZDIR") : "/usr/share/zoneinfo";
	char path[1024];
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%.*s", dir, (int)v.len, v.s);
	if (v.null || v.len == 0 || memmem(v.s, v.len, "..", 2) != NULL ||
	    ((v.len != 3 || memcmp(v.s, "UTC", 3) != 0) && access(path, R_OK) != 0))
		return tg_bad(l, e, d, n, &v);
	return set_text(l, tg_field(l, e->off), &v);
}

/* 0 turns pruning off; anything else is a duration of at least a day. */
static int
tg_retention(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.len == 1 && v.s[0] == '0') {
		*(int64_t *)tg_field(l, e->off) = 0;
		return 0;
	}
	return tg_duration(l, e, d, n);
}

static void
strv_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* name relative to the directory of file unless absolute; malloc'd, or NULL. */
static char *
path_beside(const char *file, const char *name, size_t len)
{
	const char *slash = strrchr(file, '/');
	size_t dlen = slash != NULL && name[0] != '/' ? (size_t)(slash - file) + 1 : 0;
	char *p;

	if ((p = malloc(dlen + len + 1)) == NULL)
		return NULL;
	memcpy(p, file, dlen);
	memcpy(p + dlen, name, len);
	p[dlen + len] = '\0';
	return p;
}

/*
 * A file name, relative to the file that says it, and where it was said:
 * the file is read later (by the master), and what is wrong with it is
 * reported at this line.
 */
static int
tg_file(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct config_at *at = tg_field(l, e->noff);
	char **dst = tg_field(l, e->off), *path = NULL;
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (!v.null && v.len == 0)
		return tg_bad(l, e, d, n, &v);
	if (!v.null && (path = path_beside(d->file, v.s, v.len)) == NULL)
		return nomem(l);
	free(*dst);
	*dst = path;
	at->file = n != NULL ? d->file : NULL;
	at->line = line_of(n);
	return 0;
}

/*
 * "port", "address:port" or "[v6 address]:port": the address (NULL for a
 * port alone) into the field, the port into the one at noff.
 */
static int
tg_address(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	char **dst = tg_field(l, e->off), *host = NULL;
	int *port = tg_field(l, e->noff);
	const char *p, *hs;
	size_t hlen = 0;
	struct sval v;
	int64_t x;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.null) {
		free(*dst);
		*dst = NULL;
		*port = 0;
		return 0;
	}
	p = memrchr(v.s, ':', v.len);
	hs = v.s;
	if (p != NULL) {
		hlen = (size_t)(p - v.s);
		if (hlen >= 2 && hs[0] == '[' && hs[hlen - 1] == ']') {
			hs++;
			hlen -= 2;
		} else if (memchr(hs, ':', hlen) != NULL || memchr(hs, '[', hlen) != NULL)
			return tg_bad(l, e, d, n, &v);	/* an IPv6 address needs its brackets */
		if (hlen == 0)
			return tg_bad(l, e, d, n, &v);
		p++;
	} else
		p = v.s;
	if (parse_int(p, v.len - (size_t)(p - v.s), &x) < 0 || x < e->min || x > e->max)
		return tg_bad(l, e, d, n, &v);
	if (hlen > 0 && (host = strndup(hs, hlen)) == NULL)
		return nomem(l);
	free(*dst);
	*dst = host;
	*port = (int)x;
	return 0;
}

/*
 * A PostgreSQL connection string, checked with libpq's own parser so that
 * one it would refuse is this file's error at load, not the shipper's later:
 * 0, or -1 with the error naming what (its text may hold a password: only
 * libpq's reason is given).
 */
static int
dsn_check(struct loader *l, struct doc *d, yaml_node_t *n, const char *what, const char *dsn)
{
	PQconninfoOption *o;
	char *why = NULL;
	size_t k;

	if ((o = PQconninfoParse(dsn, &why)) != NULL) {
		PQconninfoFree(o);
		return 0;
	}
	for (k = why ? strlen(why) : 0; k > 0 && why[k - 1] == '\n'; )
		why[--k] = '\0';
	fail(l, d, n, "%s: not a PostgreSQL connection string (%s)", what, why ? why : "out of memory");
	PQfreemem(why);
	return -1;
}

/* tollgate.postgres.dsn (dsn_check()). */
static int
tg_dsn(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct config_at *at = (struct config_at *)tg_field(l, e->noff);
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.null)
		return 0;
	if (dsn_check(l, d, n, "tollgate.postgres.dsn", v.s) < 0)
		return -1;
	at->file = d->file;
	at->line = line_of(n);
	return set_text(l, tg_field(l, e->off), &v);
}

/* A Redis URL, read as the workers will (lib/budget_redis.c): a bad one is this line's error. */
static int
tg_redis(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct config_at *at = (struct config_at *)tg_field(l, e->noff);
	struct redis_addr a;
	struct sval v;
	char why[256];

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.null)
		return 0;
	if (redis_url_parse(v.s, &a, why, sizeof(why)) < 0)
		return fail(l, d, n, "tollgate.redis.url: %s", why);
	at->file = d->file;
	at->line = line_of(n);
	return set_text(l, tg_field(l, e->off), &v);
}

static int
tg_failure(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.len == 6 && strncmp(v.s, "closed", 6) == 0)
		*(int *)tg_field(l, e->off) = 0;
	else if (v.len == 4 && strncmp(v.s, "open", 4) == 0)
		*(int *)tg_field(l, e->off) = 1;
	else
		return tg_bad(l, e, d, n, &v);
	return 0;
}

/* A cost the provider reports: compared with tollgate's (0), or billed (1). */
static int
tg_provider_cost(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	if (v.len == 7 && strncmp(v.s, "compare", 7) == 0)
		*(int *)tg_field(l, e->off) = 0;
	else if (v.len == 6 && strncmp(v.s, "prefer", 6) == 0)
		*(int *)tg_field(l, e->off) = 1;
	else
		return tg_bad(l, e, d, n, &v);
	return 0;
}

/* A share, "1%" or "0.01", in millionths (exact: parsed from the decimal text). */
static int
tg_share(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;
	int percent;
	int64_t x;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	percent = v.len > 1 && v.s[v.len - 1] == '%';
	if (money_parse_decimal(v.s, v.len - (size_t)percent, percent ? 4 : 6, 0, &x) < 0 ||
	    x < e->min || x > e->max)
		return tg_bad(l, e, d, n, &v);
	*(int64_t *)tg_field(l, e->off) = x;
	return 0;
}

/* "TLSv1.2" or "TLSv1.3" (or "1.2", "1.3"): the minor version. */
static int
tg_tls_version(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct sval v;
	const char *s;
	size_t len;

	if (tg_text(l, e, d, n, &v) < 0)
		return -1;
	s = v.s;
	len = v.len;
	if (len > 4 && strncasecmp(s, "TLSv", 4) == 0) {
		s += 4;
		len -= 4;
	}
	if (len != 3 || s[0] != '1' || s[1] != '.' || s[2] < '0' + e->min || s[2] > '0' + e->max)
		return tg_bad(l, e, d, n, &v);
	*(int *)tg_field(l, e->off) = s[2] - '0';
	return 0;
}

/*
 * A list of strings (one scalar is a list of one).  File names are relative
 * to the file that says them.  A client key naming an unset variable is left
 * out with a warning: clients holding it are refused, which fails safe, and
 * one missing key should not keep the others from working.  Any other unset
 * variable, or an empty key, is an error.
 */
static int
tg_list(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n, int paths)
{
	char ***dst = tg_field(l, e->off), **list = NULL, path[64], g[80];
	size_t *ndst = tg_field(l, e->noff), nlist = 0, cap = 0, nitems, i;
	yaml_node_item_t *items = NULL;
	struct sval v;
	int rc = -1;

	snprintf(path, sizeof(path), "tollgate.%s", e->name);
	if (n != NULL && node_is(n, YAML_SEQUENCE_NODE)) {
		items = n->data.sequence.items.start;
		nitems = (size_t)(n->data.sequence.items.top - items);
	} else
		nitems = is_null(n) ? (e->def != NULL) : 1;
	for (i = 0; i < nitems; i++) {
		yaml_node_t *item = items != NULL ? yaml_document_get_node(&d->y, items[i]) : n;
		char *s;

		if (is_null(n))
			/* price_files, the one list of paths with a default: see pricefile.c */
			s = paths ? pricefile_default() : strdup(e->def);
		else {
			switch (scalar(item, &v)) {
			case 1:
				if (!paths) {
					if (warn(l, d, item, "%s: environment variable %s is not set, "
					    "key left out", path, v.var) < 0)
						goto out;
					continue;
				}
				fail(l, d, item, "%s: environment variable %s is not set", path, v.var);
				goto out;
			case -1:
				fail(l, d, item, "%s: expected %s, got %s in it", path, e->expect,
				    got(item, &v, g, sizeof(g)));
				goto out;
			}
			if (v.null || v.len == 0) {
				fail(l, d, item, "%s: expected %s, got an empty one", path, e->expect);
				goto out;
			}
			s = paths ? path_beside(d->file, v.s, v.len) : strndup(v.s, v.len);
		}
		if (s == NULL || ARRAY_GROW(list, nlist, cap) < 0) {
			free(s);
			nomem(l);
			goto out;
		}
		list[nlist++] = s;
	}
	strv_free(*dst, *ndst);
	*dst = list;
	*ndst = nlist;
	if (paths)
		l->c->tollgate.price_files_named = !is_null(n);
	list = NULL;
	nlist = 0;
	rc = 0;
out:
	strv_free(list, nlist);
	return rc;
}

static int
tg_paths(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	return tg_list(l, e, d, n, 1);
}

static int
tg_keys(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	return tg_list(l, e, d, n, 0);
}

/*
 * A list of mappings (budgets, alert channels): entry parses item idx into
 * its slot (and leaves it releasable when it fails), release frees n of them.
 */
typedef int mapping_entry(struct loader *, struct doc *, yaml_node_t *, size_t, void *);
typedef void mapping_release(void *, size_t);

static int
tg_mappings(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n,
    const char *path, const char *what, size_t size, mapping_entry *entry,
    mapping_release *release)
{
	void **dst = tg_field(l, e->off), *list = NULL;
	size_t *ndst = tg_field(l, e->noff), nlist = 0, cap = 0, nitems, i;
	yaml_node_item_t *items;
	struct sval v;
	char g[80];

	if (n == NULL || is_null(n))
		return 0;
	if (!node_is(n, YAML_SEQUENCE_NODE)) {
		scalar(n, &v);
		return fail(l, d, n, "%s: expected a list of %s, got %s", path, what,
		    got(n, &v, g, sizeof(g)));
	}
	items = n->data.sequence.items.start;
	nitems = (size_t)(n->data.sequence.items.top - items);
	for (i = 0; i < nitems; i++) {
		if (buf_grow_array(&list, &cap, nlist, size) < 0) {
			release(list, nlist);
			return nomem(l);
		}
		if (entry(l, d, yaml_document_get_node(&d->y, items[i]), i,
		    (char *)list + nlist * size) < 0) {
			release(list, nlist + 1);
			return -1;
		}
		nlist++;
	}
	release(*dst, *ndst);
	*dst = list;
	*ndst = nlist;
	return 0;
}

static const char *const budget_scopes[] = {
	[CONFIG_BUDGET_GLOBAL] = "global", [CONFIG_BUDGET_USER] = "user",
	[CONFIG_BUDGET_TEAM] = "team", [CONFIG_BUDGET_CUSTOMER] = "customer",
	[CONFIG_BUDGET_TAG] = "tag",
};

/* An amount of dollars as decimal text ("100", "12.50"), exactly; 0 or -1. */
static int
budget_amount(struct loader *l, struct doc *d, yaml_node_t *n, const char *path, int64_t *out)
{
	struct sval v;
	char g[80];

	if (need_scalar(l, d, n, path, "an amount of dollars such as 100 or 12.50", &v) < 0)
		return -1;
	char text[64];
	size_t i, len = 0;

	if (v.null) {
		*out = INT64_MAX;
		return 0;
	}
	/* YAML 1.1 allows digit separators: 1_000 */
	for (i = 0; i < v.len && len < sizeof(text); i++)
		if (v.s[i] != '_' || i == 0)
			text[len++] = v.s[i];
	if (v.len >= sizeof(text) ||
	    money_parse_decimal(text, len, MONEY_COST_SCALE, 0, out) < 0 || *out == INT64_MAX)
		return fail(l, d, n, "%s: expected an amount of dollars such as 100 or 12.50, got %s",
		    path, got(n, &v, g, sizeof(g)));
	return 0;
}

/* One budgets: entry {scope, name, max_budget, soft_budget, budget_duration}. */
static int
budget_entry(struct loader *l, struct doc *d, yaml_node_t *item, size_t idx, void *slot)
{
	struct config_budget *b = slot;
	struct pairs ps;
	char path[96], err[160], g[80];
	struct sval v;
	size_t i, k;
	int rc = 0, have_scope = 0;

	memset(b, 0, sizeof(*b));
	b->max_budget = b->soft_budget = INT64_MAX;
	b->file = d->file;
	b->line = line_of(item);
	snprintf(path, sizeof(path), "tollgate.budgets[%zu]", idx);
	if (!node_is(item, YAML_MAPPING_NODE)) {
		scalar(item, &v);
		return fail(l, d, item, "%s: expected a mapping with scope, name and max_budget, got %s",
		    path, got(item, &v, g, sizeof(g)));
	}
	if (pairs_of(l, d, item, path, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		const struct pair *p = &ps.v[i];
		char sub[128];

		snprintf(sub, sizeof(sub), "%s.%s", path, p->key);
		if (strcmp(p->key, "scope") == 0) {
			if ((rc = need_scalar(l, d, p->v, sub, "a scope", &v)) < 0)
				break;
			for (k = 0; k < sizeof(budget_scopes) / sizeof(budget_scopes[0]); k++)
				if (v.len == strlen(budget_scopes[k]) &&
				    memcmp(v.s, budget_scopes[k], v.len) == 0)
					break;
			if (k == sizeof(budget_scopes) / sizeof(budget_scopes[0]))
				rc = fail(l, d, p->v, "%s: expected global, user, team, customer or tag, "
				    "got %s", sub, got(p->v, &v, g, sizeof(g)));
			b->scope = (enum config_budget_scope)k;
			have_scope = 1;
		} else if (strcmp(p->key, "name") == 0) {
			/* the aggregates the counters are filled from keep 64 bytes of a name */
			if ((rc = need_scalar(l, d, p->v, sub, "a name", &v)) == 0 &&
			    (v.null || v.len == 0 || v.len > 64))
				rc = fail(l, d, p->v, "%s: expected a name of 1 to 64 bytes", sub);
			if (rc == 0)
				rc = set_text(l, &b->name, &v);
		} else if (strcmp(p->key, "max_budget") == 0)
			rc = budget_amount(l, d, p->v, sub, &b->max_budget);
		else if (strcmp(p->key, "soft_budget") == 0)
			rc = budget_amount(l, d, p->v, sub, &b->soft_budget);
		else if (strcmp(p->key, "budget_duration") == 0) {
			if ((rc = need_scalar(l, d, p->v, sub, "a duration such as 1d or 1mo", &v)) < 0)
				break;
			if (v.null)
				continue;
			snprintf(b->duration, sizeof(b->duration), "%.*s", (int)v.len, v.s);
			if (v.len >= sizeof(b->duration) || window_parse(b->duration, &b->window,
			    err, sizeof(err)) < 0)
				rc = fail(l, d, p->v, "%s: expected a duration such as 30s, 15m, 1h, 1d, "
				    "7d or 1mo, got %s", sub, got(p->v, &v, g, sizeof(g)));
			b->has_window = 1;
		} else
			rc = warn_once(l, d, p->k, sub, "unknown key '%s', ignored", sub);
	}
	free(ps.v);
	if (rc < 0)
		return -1;
	if (!have_scope)
		return fail(l, d, item, "%s: missing scope (global, user, team, customer or tag)", path);
	if ((b->scope == CONFIG_BUDGET_GLOBAL) != (b->name == NULL))
		return fail(l, d, item, b->name == NULL ? "%s: a %s budget needs a name" :
		    "%s: a global budget takes no name", path, budget_scopes[b->scope]);
	if (b->max_budget == INT64_MAX && b->soft_budget == INT64_MAX)
		return fail(l, d, item, "%s: missing max_budget (or soft_budget)", path);
	return 0;
}

static void
budgets_release(void *list, size_t n)
{
	struct config_budget *b = list;

	while (n > 0)
		free(b[--n].name);
	free(b);
}

/* Two budgets of one scope, name and window would be one counter: refused. */
static int
tg_budgets(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	struct config_budget *b;
	size_t i, j, nb;

	if (tg_mappings(l, e, d, n, "tollgate.budgets", "budgets", sizeof(struct config_budget),
	    budget_entry, budgets_release) < 0)
		return -1;
	b = *(struct config_budget **)tg_field(l, e->off);
	nb = *(size_t *)tg_field(l, e->noff);
	for (i = 0; i < nb; i++)
		limitset_budget_id(&b[i], b[i].counter, sizeof(b[i].counter));
	for (i = 0; i < nb; i++)
		for (j = 0; j < i; j++)
			if (b[i].scope == b[j].scope && strcmp(b[i].name ? b[i].name : "",
			    b[j].name ? b[j].name : "") == 0 && b[i].has_window == b[j].has_window &&
			    (!b[i].has_window || (b[i].window.unit == b[j].window.unit &&
			    b[i].window.n == b[j].window.n)))
				return fail(l, d, n, "tollgate.budgets[%zu]: the same budget as "
				    "tollgate.budgets[%zu] (scope, name and budget_duration)", i, j);
	return 0;
}

/* Percentages of a budget, 1 to 1000, sorted; the default is 50, 80 and 100. */
static int
tg_thresholds(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	int64_t *dst = tg_field(l, e->off), x;
	size_t *ndst = tg_field(l, e->noff), nitems, i, j;
	yaml_node_item_t *items;
	struct sval v;
	char g[80];

	if (n == NULL || is_null(n)) {
		dst[0] = 50;
		dst[1] = 80;
		dst[2] = 100;
		*ndst = 3;
		return 0;
	}
	if (!node_is(n, YAML_SEQUENCE_NODE)) {
		scalar(n, &v);
		return fail(l, d, n, "tollgate.%s: expected %s, got %s", e->name, e->expect,
		    got(n, &v, g, sizeof(g)));
	}
	items = n->data.sequence.items.start;
	nitems = (size_t)(n->data.sequence.items.top - items);
	if (nitems == 0 || nitems > CONFIG_THRESHOLDS_MAX)
		return fail(l, d, n, "tollgate.%s: expected 1 to %d percentages", e->name,
		    CONFIG_THRESHOLDS_MAX);
	for (i = 0; i < nitems; i++) {
		yaml_node_t *item = yaml_document_get_node(&d->y, items[i]);

		if (scalar(item, &v) != 0 || parse_int(v.s, v.len, &x) < 0 || x < e->min || x > e->max)
			return fail(l, d, item, "tollgate.%s: expected %s, got %s in it", e->name,
			    e->expect, got(item, &v, g, sizeof(g)));
		for (j = i; j > 0 && dst[j - 1] > x; j--)
			dst[j] = dst[j - 1];
		dst[j] = x;
	}
	*ndst = nitems;
	return 0;
}

static const char *const channel_types[] = {
	[CONFIG_CHANNEL_SLACK] = "slack", [CONFIG_CHANNEL_WEBHOOK] = "webhook",
	[CONFIG_CHANNEL_EMAIL] = "email",
};

static void
channels_release(void *list, size_t n)
{
	struct config_channel *c = list;

	while (n > 0) {
		n--;
		free(c[n].url);
		free(c[n].from);
		strv_free(c[n].to, c[n].nto);
	}
	free(c);
}

/* The to: of an email channel: one address or a list. */
static int
channel_to(struct loader *l, struct doc *d, yaml_node_t *n, const char *path,
    struct config_channel *c)
{
	yaml_node_item_t *items = NULL;
	size_t nitems = 1, i, cap = 0;
	struct sval v;
	char g[80];

	if (node_is(n, YAML_SEQUENCE_NODE)) {
		items = n->data.sequence.items.start;
		nitems = (size_t)(n->data.sequence.items.top - items);
	}
	for (i = 0; i < nitems; i++) {
		yaml_node_t *item = items ? yaml_document_get_node(&d->y, items[i]) : n;
		char *s;

		if (need_scalar(l, d, item, path, "an email address", &v) < 0)
			return -1;
		if (v.null || memchr(v.s, '@', v.len) == NULL)
			return fail(l, d, item, "%s: expected an email address, got %s", path,
			    got(item, &v, g, sizeof(g)));
		if ((s = strndup(v.s, v.len)) == NULL || ARRAY_GROW(c->to, c->nto, cap) < 0) {
			free(s);
			return nomem(l);
		}
		c->to[c->nto++] = s;
	}
	return 0;
}

/* One channel: {type: slack|webhook, url} or {type: email, url: smtp://..., from, to}. */
static int
channel_entry(struct loader *l, struct doc *d, yaml_node_t *item, size_t idx, void *slot)
{
	struct config_channel *c = slot;
	struct pairs ps;
	char path[96], sub[160], g[80];
	struct sval v;
	size_t i, k;
	int rc = 0, have_type = 0;

	memset(c, 0, sizeof(*c));
	c->file = d->file;
	c->line = line_of(item);
	snprintf(path, sizeof(path), "tollgate.alerts.channels[%zu]", idx);
	if (!node_is(item, YAML_MAPPING_NODE)) {
		scalar(item, &v);
		return fail(l, d, item, "%s: expected a mapping with type and url, got %s", path,
		    got(item, &v, g, sizeof(g)));
	}
	if (pairs_of(l, d, item, path, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		const struct pair *p = &ps.v[i];

		snprintf(sub, sizeof(sub), "%s.%s", path, p->key);
		if (strcmp(p->key, "type") == 0) {
			if ((rc = need_scalar(l, d, p->v, sub, "slack, webhook or email", &v)) < 0)
				break;
			for (k = 0; k < 3; k++)
				if (v.len == strlen(channel_types[k]) &&
				    memcmp(v.s, channel_types[k], v.len) == 0)
					break;
			if (k == 3)
				rc = fail(l, d, p->v, "%s: expected slack, webhook or email, got %s", sub,
				    got(p->v, &v, g, sizeof(g)));
			c->type = (enum config_channel_type)k;
			have_type = 1;
		} else if (strcmp(p->key, "url") == 0) {
			if ((rc = need_scalar(l, d, p->v, sub, "a URL", &v)) == 0)
				rc = set_text(l, &c->url, &v);
		} else if (strcmp(p->key, "from") == 0) {
			if ((rc = need_scalar(l, d, p->v, sub, "an email address", &v)) == 0)
				rc = set_text(l, &c->from, &v);
		} else if (strcmp(p->key, "to") == 0)
			rc = channel_to(l, d, p->v, sub, c);
		else
			rc = warn_once(l, d, p->k, sub, "unknown key '%s', ignored", sub);
	}
	free(ps.v);
	if (rc < 0)
		return -1;
	if (!have_type)
		return fail(l, d, item, "%s: missing type (slack, webhook or email)", path);
	if (c->url == NULL)
		return fail(l, d, item, "%s: missing url", path);
	if (c->type == CONFIG_CHANNEL_EMAIL) {
		if (strncasecmp(c->url, "smtp://", 7) != 0 && strncasecmp(c->url, "smtps://", 8) != 0)
			return fail(l, d, item, "%s.url: expected smtp:// or smtps://, got '%s'", path,
			    c->url);
		if (c->from == NULL || c->nto == 0)
			return fail(l, d, item, "%s: an email channel needs from and to", path);
	} else if (strncasecmp(c->url, "http://", 7) != 0 && strncasecmp(c->url, "https://", 8) != 0)
		return fail(l, d, item, "%s.url: expected http:// or https://, got '%s'", path, c->url);
	return 0;
}

static int
tg_channels(struct loader *l, const struct tg_key *e, struct doc *d, yaml_node_t *n)
{
	return tg_mappings(l, e, d, n, "tollgate.alerts.channels", "alert channels",
	    sizeof(struct config_channel), channel_entry, channels_release);
}

static int
tg_key_cmp(const void *key, const void *entry)
{
	return strcmp(key, ((const struct tg_key *)entry)->name);
}

static int
tollgate_defaults(struct loader *l)
{
	size_t i;

	for (i = 0; i < TG_NKEYS; i++)
		if (tg_keys_table[i].set(l, &tg_keys_table[i], NULL, NULL) < 0)
			return -1;
	return 0;
}

/* One key of tollgate: (or of one of its groups, as group_key); unknown ones are warned of. */
static int
tollgate_pair(struct loader *l, struct doc *d, const char *name, yaml_node_t *k, yaml_node_t *val)
{
	const struct tg_key *e = bsearch(name, tg_keys_table, TG_NKEYS, sizeof(tg_keys_table[0]),
	    tg_key_cmp);
	char id[128], g[80];
	struct sval v;

	if (e == NULL) {
		snprintf(id, sizeof(id), "tollgate.%s", name);
		return warn_once(l, d, k, id, "unknown key '%s', ignored", id);
	}
	if (node_is(val, YAML_MAPPING_NODE) ||
	    (e->type == YAML_SCALAR_NODE && node_is(val, YAML_SEQUENCE_NODE))) {
		scalar(val, &v);
		return fail(l, d, val, "tollgate.%s: expected %s, got %s", e->name, e->expect,
		    got(val, &v, g, sizeof(g)));
	}
	return e->set(l, e, d, val);
}

/*
 * Groups: "export: {dir: ...}" is another way to write "export_dir: ...", and
 * likewise for ledger:, so that both the flat and the nested spelling work.
 */
static const char *const tg_groups[] = { "alerts", "export", "ledger", "metrics", "postgres", "redis",
	"tls" };

static int
tollgate_group(struct loader *l, struct doc *d, const char *group, yaml_node_t *map)
{
	struct pairs ps;
	char path[64], name[128];
	size_t i;
	int rc = 0;

	snprintf(path, sizeof(path), "tollgate.%s", group);
	if (pairs_of(l, d, map, path, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		snprintf(name, sizeof(name), "%s_%s", group, ps.v[i].key);
		rc = tollgate_pair(l, d, name, ps.v[i].k, ps.v[i].v);
	}
	free(ps.v);
	return rc;
}

/* A certificate needs its key and a key its certificate. */
static int
tls_pair(struct loader *l)
{
	const struct config_tollgate *t = &l->c->tollgate;
	const struct config_at *at = t->tls_cert_file != NULL ? &t->tls_cert_at : &t->tls_key_at;

	if ((t->tls_cert_file == NULL) == (t->tls_key_file == NULL))
		return 0;
	snprintf(l->err, l->errlen, "%s:%d: tollgate.%s is set but tollgate.%s is not: TLS "
	    "needs both", at->file, at->line, t->tls_cert_file ? "tls_cert_file" : "tls_key_file",
	    t->tls_cert_file ? "tls_key_file" : "tls_cert_file");
	return -1;
}

static int
load_tollgate(struct loader *l, const struct top *t)
{
	struct pairs ps;
	size_t i, g;
	int rc = 0;

	if (pairs_of(l, t->d, t->v, "tollgate", &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		const struct pair *p = &ps.v[i];

		for (g = 0; g < sizeof(tg_groups) / sizeof(tg_groups[0]); g++)
			if (strcmp(p->key, tg_groups[g]) == 0)
				break;
		if (g < sizeof(tg_groups) / sizeof(tg_groups[0]))
			rc = tollgate_group(l, t->d, tg_groups[g], p->v);
		else
			rc = tollgate_pair(l, t->d, p->key, p->k, p->v);
	}
	free(ps.v);
	if (rc == 0)
		rc = tls_pair(l);
	return rc;
}

/* ---- LiteLLM's settings --------------------------------------------------------- */

/*
 * A LiteLLM switch such as drop_params: a YAML 1.1 boolean at n into *out.
 * Anything else (real configs hold lists there) is a warning naming path,
 * and *out keeps its value.  0, or -1 (out of memory).
 */
static int
read_switch(struct loader *l, struct doc *d, yaml_node_t *n, const char *path, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "y" }, *const no[] = {
		"false", "no", "off", "n" };
	struct sval v;
	char g[80];
	size_t i;

	if (scalar(n, &v) == 0 && !v.null)
		for (i = 0; i < 4; i++) {
			if (v.len == strlen(yes[i]) && strncasecmp(v.s, yes[i], v.len) == 0) {
				*out = 1;
				return 0;
			}
			if (v.len == strlen(no[i]) && strncasecmp(v.s, no[i], v.len) == 0) {
				*out = 0;
				return 0;
			}
		}
	return warn(l, d, n, "%s: expected true or false, got %s; ignored", path,
	    got(n, &v, g, sizeof(g)));
}

/* A section tollgate has no use for: each of its keys is reported once. */
static int
load_ignored(struct loader *l, const struct top *t)
{
	yaml_node_pair_t *p;
	char id[128];

	if (is_null(t->v))
		return 0;
	if (!node_is(t->v, YAML_MAPPING_NODE))
		return warn_once(l, t->d, t->k, t->name, "%s is not implemented by tollgate, ignored",
		    t->name);
	/* no merge resolution: nothing is read here, the keys are only named */
	for (p = t->v->data.mapping.pairs.start; p < t->v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&t->d->y, p->key);

		if (!node_is(k, YAML_SCALAR_NODE) || is_merge_key(k))
			continue;
		snprintf(id, sizeof(id), "%s.%s", t->name, (const char *)k->data.scalar.value);
		if (warn_once(l, t->d, k, id, "%s is not implemented by tollgate, ignored", id) < 0)
			return -1;
	}
	return 0;
}

/*
 * general_settings.database_url, LiteLLM's PostgreSQL: the fleet ledger's,
 * unless tollgate.postgres.dsn names another (interpret() decides).  An
 * unset variable is a warning: the ledger stays local.
 */
static int
database_url(struct loader *l, struct doc *d, yaml_node_t *n)
{
	struct sval v;

	switch (scalar(n, &v)) {
	case 1:
		return warn(l, d, n, "general_settings.database_url: environment variable %s is not "
		    "set; records are not shipped to PostgreSQL", v.var);
	case -1:
		return need_scalar(l, d, n, "general_settings.database_url", "a connection string",
		    &v);
	}
	if (v.null)
		return 0;
	if (dsn_check(l, d, n, "general_settings.database_url", v.s) < 0)
		return -1;
	l->c->database_at.file = d->file;
	l->c->database_at.line = line_of(n);
	return set_text(l, &l->c->database_url, &v);
}

/*
 * The host, port and password of a Redis from ps (named prefix + "host",
 * ...); type: the key that must say "redis" for the rest to count (NULL:
 * none; any other value: the mapping is not a Redis, and ignored).  The rest
 * is reported as not implemented.  0, or -1 with the error set.
 */
static int
litellm_redis(struct loader *l, struct doc *d, const struct pairs *ps, const char *path,
    const char *prefix, const char *type, struct litellm_redis *r)
{
	static const char *const names[] = { "host", "port", "password" };
	char id[160], key[64];
	struct sval v;
	size_t i, j, len;
	char *dst;

	for (i = 0; type != NULL && i < ps->n; i++)
		if (strcmp(ps->v[i].key, type) == 0 && scalar(ps->v[i].v, &v) == 0 &&
		    (v.len != 5 || strncmp(v.s, "redis", 5) != 0))
			return warn_once(l, d, ps->v[i].v, path, "%s.%s: '%.*s' is not a Redis: tollgate "
			    "does not cache answers, ignored", path, type, (int)v.len, v.s);
	for (i = 0; i < ps->n; i++) {
		const char *k = ps->v[i].key;

		dst = NULL;
		for (j = 0; j < 3; j++) {
			snprintf(key, sizeof(key), "%s%s", prefix, names[j]);
			if (strcmp(k, key) == 0)
				dst = j == 0 ? r->host : j == 1 ? r->port : r->password;
		}
		if (type != NULL && strcmp(k, type) == 0)
			continue;
		if (dst == NULL) {
			snprintf(id, sizeof(id), "%s.%s", path, k);
			if (warn_once(l, d, ps->v[i].k, id, "%s is not implemented by tollgate, ignored",
			    id) < 0)
				return -1;
			continue;
		}
		len = dst == r->port ? sizeof(r->port) : sizeof(r->host);
		switch (scalar(ps->v[i].v, &v)) {
		case 1:
			if (warn(l, d, ps->v[i].v, "%s.%s: environment variable %s is not set", path, k,
			    v.var) < 0)
				return -1;
			continue;
		case -1:
			need_scalar(l, d, ps->v[i].v, k, "a string", &v);
			return -1;
		}
		if (v.len >= len) {
			fail(l, d, ps->v[i].v, "%s.%s: too long", path, k);
			return -1;
		}
		memcpy(dst, v.s, v.len);
		dst[v.len] = '\0';
		if (dst == r->host) {
			r->at.file = d->file;
			r->at.line = line_of(ps->v[i].v);
		}
	}
	return 0;
}

/* ---- router_settings ------------------------------------------------------------ */

/*
 * LiteLLM's router (lib/router.h follows it): how a deployment of a model
 * group is chosen, retried, cooled down and fallen back from.
 * litellm_settings may say num_retries and the fallback lists too; where
 * router_settings says them it wins, whichever section the file has first
 * (litellm_router() applies litellm_settings' once every section is read).
 * A value that does not read is a warning and the default stays: a routing
 * setting changes which deployment serves a request, never whether the
 * gateway can start.
 */

struct rt_key;
typedef int rt_setter(struct loader *, const struct rt_key *, struct doc *, yaml_node_t *,
    const char *);

/* One router_settings key; its setter gets a non-null node and the path to name. */
struct rt_key {
	const char	*name;
	rt_setter	*set;
	size_t		 off;		/* the field in struct config_router */
	size_t		 noff;		/* a list's count */
	int64_t		 min, max;
	const char	*expect;	/* for "expected ..., got ..." */
	int		 litellm;	/* litellm_settings may say it too */
};

static rt_setter rt_int, rt_seconds, rt_switch, rt_strategy, rt_policy, rt_strategy_args,
    rt_fallbacks, rt_models;

#define RT(f)		offsetof(struct config_router, f)
#define RT_COUNT	"a whole number from 0"
#define RT_SECONDS	"a number of seconds such as 5 or 0.5, up to a day"
#define RT_FALLBACKS	"a list of {model: [models]}"
#define RT_MODELS	"a model name or a list of them"

/* Sorted by name: looked up with bsearch(). */
static const struct rt_key rt_keys[] = {
	{ "allowed_fails", rt_int, RT(allowed_fails), 0, 0, INT_MAX, RT_COUNT, 0 },
	{ "content_policy_fallbacks", rt_fallbacks, RT(policy_fallbacks), RT(npolicy_fallbacks),
	  0, 0, RT_FALLBACKS, 1 },
	{ "context_window_fallbacks", rt_fallbacks, RT(context_fallbacks), RT(ncontext_fallbacks),
	  0, 0, RT_FALLBACKS, 1 },
	{ "cooldown_time", rt_seconds, RT(cooldown_ms), 0, 0, DAY_MS, RT_SECONDS, 0 },
	{ "default_fallbacks", rt_models, RT(default_fallbacks), RT(ndefault_fallbacks),
	  0, 0, RT_MODELS, 1 },
	{ "disable_cooldowns", rt_switch, RT(disable_cooldowns), 0, 0, 0, "true or false", 0 },
	{ "enable_pre_call_checks", rt_switch, RT(pre_call_checks), 0, 0, 0, "true or false", 0 },
	{ "fallbacks", rt_fallbacks, RT(fallbacks), RT(nfallbacks), 0, 0, RT_FALLBACKS, 1 },
	{ "max_fallbacks", rt_int, RT(max_fallbacks), 0, 0, INT_MAX, RT_COUNT, 0 },
	{ "num_retries", rt_int, RT(num_retries), 0, 0, INT_MAX, RT_COUNT, 1 },
	{ "retry_after", rt_seconds, RT(retry_after_ms), 0, 0, DAY_MS, RT_SECONDS, 0 },
	{ "retry_policy", rt_policy, RT(retry_policy), 0, 0, INT_MAX,
	  "a mapping such as {RateLimitErrorRetries: 3}", 0 },
	{ "routing_strategy", rt_strategy, RT(strategy), 0, 0, 0, NULL, 0 },
	{ "routing_strategy_args", rt_strategy_args, RT(latency_buffer_milli), 0, 0, INT_MAX,
	  "a mapping such as {lowest_latency_buffer: 0.5}", 0 },
};

#define RT_NKEYS	(sizeof(rt_keys) / sizeof(rt_keys[0]))

_Static_assert(RT_NKEYS <= 32, "loader.router_says has a bit per router key");

/* retry_policy's keys (LiteLLM's RetryPolicy), by failure class; NULL: no key. */
static const char *const policy_names[CONFIG_FAIL_COUNT] = {
	[CONFIG_FAIL_TIMEOUT] = "TimeoutErrorRetries",
	[CONFIG_FAIL_RATE_LIMIT] = "RateLimitErrorRetries",
	[CONFIG_FAIL_SERVER] = "InternalServerErrorRetries",
	[CONFIG_FAIL_CONTENT_POLICY] = "ContentPolicyViolationErrorRetries",
	[CONFIG_FAIL_AUTH] = "AuthenticationErrorRetries",
	[CONFIG_FAIL_BAD_REQUEST] = "BadRequestErrorRetries",
};

static const struct {
	const char		*name;
	enum config_strategy	 strategy;
} strategies[] = {
	{ "simple-shuffle", CONFIG_ROUTE_SHUFFLE },
	{ "least-busy", CONFIG_ROUTE_LEAST_BUSY },
	{ "latency-based-routing", CONFIG_ROUTE_LATENCY },
	{ "usage-based-routing", CONFIG_ROUTE_USAGE },
	{ "usage-based-routing-v2", CONFIG_ROUTE_USAGE },
	{ "cost-based-routing", CONFIG_ROUTE_COST },
};

/* LiteLLM's defaults: a config without router_settings routes as LiteLLM would. */
static void
router_defaults(struct config_router *rc)
{
	size_t i;

	rc->strategy = CONFIG_ROUTE_SHUFFLE;
	rc->num_retries = 2;
	for (i = 0; i < CONFIG_FAIL_COUNT; i++)
		rc->retry_policy[i] = -1;
	rc->retry_after_ms = 0;
	rc->allowed_fails = 3;
	rc->cooldown_ms = 5000;
	rc->disable_cooldowns = 0;
	rc->pre_call_checks = 0;
	rc->max_fallbacks = 5;
	rc->latency_buffer_milli = 0;
}

static void
fallbacks_free(struct config_fallback *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].model);
		strv_free(f[i].to, f[i].nto);
	}
	free(f);
}

static void *
rt_field(struct loader *l, size_t off)
{
	return (char *)&l->c->router + off;
}

/* The warning for a value not taken: "path: expected ..., got ...; ignored". 0 or -1. */
static int
rt_bad(struct loader *l, struct doc *d, yaml_node_t *n, const char *path, const char *expect)
{
	struct sval v;
	char g[80];

	if (scalar(n, &v) == 1)
		return warn(l, d, n, "%s: environment variable %s is not set; ignored", path, v.var);
	return warn(l, d, n, "%s: expected %s, got %s; ignored", path, expect,
	    got(n, &v, g, sizeof(g)));
}

static int
rt_int(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n, const char *path)
{
	struct sval v;
	int64_t x;

	if (scalar(n, &v) != 0 || parse_int(v.s, v.len, &x) < 0 || x < e->min || x > e->max)
		return rt_bad(l, d, n, path, e->expect);
	*(int *)rt_field(l, e->off) = (int)x;
	return 0;
}

/* LiteLLM's seconds (decimals allowed), into milliseconds. */
static int
rt_seconds(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	struct sval v;
	int64_t ms;

	if (scalar(n, &v) != 0 || parse_quantity(v.s, v.len, second_units, &ms) < 0 ||
	    ms < e->min || ms > e->max)
		return rt_bad(l, d, n, path, e->expect);
	*(int64_t *)rt_field(l, e->off) = ms;
	return 0;
}

static int
rt_switch(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	return read_switch(l, d, n, path, rt_field(l, e->off));
}

/* An unknown strategy routes as the default does, simple-shuffle. */
static int
rt_strategy(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	enum config_strategy *dst = rt_field(l, e->off);
	struct sval v;
	char g[80];
	size_t i;

	if (scalar(n, &v) == 0)
		for (i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++)
			if (v.len == strlen(strategies[i].name) &&
			    memcmp(v.s, strategies[i].name, v.len) == 0) {
				*dst = strategies[i].strategy;
				return 0;
			}
	*dst = CONFIG_ROUTE_SHUFFLE;
	if (scalar(n, &v) == 1)
		return warn(l, d, n, "%s: environment variable %s is not set; simple-shuffle is used",
		    path, v.var);
	return warn(l, d, n, "%s: expected simple-shuffle, least-busy, latency-based-routing, "
	    "usage-based-routing, usage-based-routing-v2 or cost-based-routing, got %s; "
	    "simple-shuffle is used", path, got(n, &v, g, sizeof(g)));
}

/* retry_policy: {TimeoutErrorRetries: 1, ...}; null: num_retries's rule for that class. */
static int
rt_policy(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	int *policy = rt_field(l, e->off);
	struct pairs ps;
	char sub[200];
	struct sval v;
	size_t i, f;
	int64_t x;
	int rc = 0;

	if (!node_is(n, YAML_MAPPING_NODE))
		return rt_bad(l, d, n, path, e->expect);
	if (pairs_of(l, d, n, path, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		const struct pair *p = &ps.v[i];

		snprintf(sub, sizeof(sub), "%s.%s", path, p->key);
		for (f = 0; f < CONFIG_FAIL_COUNT; f++)
			if (policy_names[f] != NULL && strcmp(policy_names[f], p->key) == 0)
				break;
		if (f == CONFIG_FAIL_COUNT)
			rc = warn_once(l, d, p->k, sub, "unknown key '%s', ignored", sub);
		else if (is_null(p->v))
			policy[f] = -1;
		else if (scalar(p->v, &v) != 0 || parse_int(v.s, v.len, &x) < 0 || x < e->min ||
		    x > e->max)
			rc = rt_bad(l, d, p->v, sub, RT_COUNT);
		else
			policy[f] = (int)x;
	}
	free(ps.v);
	return rc;
}

/*
 * routing_strategy_args: lowest_latency_buffer (latency-based-routing's
 * "within this fraction of the fastest is as fast"), read exactly into
 * thousandths; LiteLLM's others (ttl, ...) are reported.
 */
static int
rt_strategy_args(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	int *dst = rt_field(l, e->off);
	struct pairs ps;
	char sub[200];
	struct sval v;
	size_t i;
	int64_t milli;
	int rc = 0;

	if (!node_is(n, YAML_MAPPING_NODE))
		return rt_bad(l, d, n, path, e->expect);
	if (pairs_of(l, d, n, path, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		const struct pair *p = &ps.v[i];

		snprintf(sub, sizeof(sub), "%s.%s", path, p->key);
		if (strcmp(p->key, "lowest_latency_buffer") != 0)
			rc = warn_once(l, d, p->k, sub, "%s is not implemented by tollgate, ignored", sub);
		else if (is_null(p->v))
			*dst = 0;
		else if (scalar(p->v, &v) != 0 ||
		    parse_quantity(v.s, v.len, second_units, &milli) < 0 || milli > e->max)
			rc = rt_bad(l, d, p->v, sub, "a fraction such as 0.5");
		else
			*dst = (int)milli;
	}
	free(ps.v);
	return rc;
}

/*
 * A model name or a list of them, appended to *to and *nto: an item that is
 * not a name is a warning naming path[i], and left out.  0; 1 (warned)
 * when n is neither a name nor a list; -1 out of memory (what was
 * appended stays for the caller to free).
 */
static int
model_names(struct loader *l, struct doc *d, yaml_node_t *n, const char *path, char ***to,
    size_t *nto)
{
	yaml_node_item_t *items = NULL;
	size_t nitems = 1, i, cap = *nto;
	struct sval v;
	char at[240];

	if (node_is(n, YAML_SEQUENCE_NODE)) {
		items = n->data.sequence.items.start;
		nitems = (size_t)(n->data.sequence.items.top - items);
	} else if (!node_is(n, YAML_SCALAR_NODE))
		return rt_bad(l, d, n, path, RT_MODELS) < 0 ? -1 : 1;
	for (i = 0; i < nitems; i++) {
		yaml_node_t *item = items != NULL ? yaml_document_get_node(&d->y, items[i]) : n;
		char *s;

		if (items != NULL)
			snprintf(at, sizeof(at), "%s[%zu]", path, i);
		else
			snprintf(at, sizeof(at), "%s", path);
		if (scalar(item, &v) != 0 || v.null || v.len == 0) {
			if (rt_bad(l, d, item, at, "a model name") < 0)
				return -1;
			continue;
		}
		if ((s = strndup(v.s, v.len)) == NULL || ARRAY_GROW(*to, *nto, cap) < 0) {
			free(s);
			return nomem(l);
		}
		(*to)[(*nto)++] = s;
	}
	return 0;
}

/* default_fallbacks: groups to try after any model's own fallbacks. */
static int
rt_models(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	char ***dst = rt_field(l, e->off), **list = NULL;
	size_t *ndst = rt_field(l, e->noff), nlist = 0;
	int rc;

	if ((rc = model_names(l, d, n, path, &list, &nlist)) != 0) {
		strv_free(list, nlist);
		return rc < 0 ? -1 : 0;
	}
	strv_free(*dst, *ndst);
	*dst = list;
	*ndst = nlist;
	l->default_fallbacks_at.file = d->file;
	l->default_fallbacks_at.line = line_of(n);
	return 0;
}

/*
 * fallbacks, context_window_fallbacks, content_policy_fallbacks: LiteLLM's
 * list of one-key mappings [{model: [to, ...]}], a mapping of several keys
 * being several entries and one name a list of one.  An entry that is not
 * so is a warning naming it, and left out.
 */
static int
rt_fallbacks(struct loader *l, const struct rt_key *e, struct doc *d, yaml_node_t *n,
    const char *path)
{
	struct config_fallback **dst = rt_field(l, e->off), *list = NULL, *f;
	size_t *ndst = rt_field(l, e->noff), nlist = 0, cap = 0, nitems, i, j;
	yaml_node_item_t *items;
	char at[200], sub[320];
	int rc = -1, r;

	if (!node_is(n, YAML_SEQUENCE_NODE))
		return rt_bad(l, d, n, path, e->expect);
	items = n->data.sequence.items.start;
	nitems = (size_t)(n->data.sequence.items.top - items);
	for (i = 0; i < nitems; i++) {
		yaml_node_t *item = yaml_document_get_node(&d->y, items[i]);
		struct pairs ps;

		snprintf(at, sizeof(at), "%s[%zu]", path, i);
		if (!node_is(item, YAML_MAPPING_NODE)) {
			if (rt_bad(l, d, item, at, "a map of model to list of models") < 0)
				goto out;
			continue;
		}
		if (pairs_of(l, d, item, at, &ps) < 0)
			goto out;
		for (j = 0, r = 0; j < ps.n && r >= 0; j++) {
			if (ARRAY_GROW(list, nlist, cap) < 0) {
				r = nomem(l);
				break;
			}
			f = &list[nlist++];
			memset(f, 0, sizeof(*f));
			f->file = d->file;
			f->line = line_of(ps.v[j].k);
			snprintf(sub, sizeof(sub), "%s.%s", at, ps.v[j].key);
			if ((f->model = strdup(ps.v[j].key)) == NULL)
				r = nomem(l);
			else
				r = model_names(l, d, ps.v[j].v, sub, &f->to, &f->nto);
			if (r == 1) {		/* warned: the entry is left out */
				free(f->model);
				strv_free(f->to, f->nto);
				nlist--;
			}
		}
		free(ps.v);
		if (r < 0)
			goto out;
	}
	fallbacks_free(*dst, *ndst);
	*dst = list;
	*ndst = nlist;
	list = NULL;
	nlist = 0;
	rc = 0;
out:
	fallbacks_free(list, nlist);
	return rc;
}

static int
rt_key_cmp(const void *key, const void *entry)
{
	return strcmp(key, ((const struct rt_key *)entry)->name);
}

static const struct rt_key *
rt_key_find(const char *name)
{
	return bsearch(name, rt_keys, RT_NKEYS, sizeof(rt_keys[0]), rt_key_cmp);
}

/*
 * router_settings: the router's keys, and LiteLLM's Redis (redis_host,
 * redis_port, redis_password), the fleet's counters unless
 * tollgate.redis.url names one; the rest (model_group_alias, timeout, ...)
 * is reported as not implemented.  A null value is LiteLLM's None: the
 * default, and litellm_settings' say where it has the key.
 */
static int
load_router(struct loader *l, const struct top *t)
{
	struct pairs ps, rest = { 0 };
	const struct rt_key *e;
	char path[160];
	size_t i;
	int rc = -1;

	if (pairs_of(l, t->d, t->v, t->name, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n; i++) {
		const struct pair *p = &ps.v[i];

		if ((e = rt_key_find(p->key)) == NULL) {
			if (pairs_add(l, &rest, p->key, p->k, p->v) < 0)
				goto out;
			continue;
		}
		if (is_null(p->v))
			continue;
		l->router_says |= 1u << (e - rt_keys);
		snprintf(path, sizeof(path), "%s.%s", t->name, p->key);
		if (e->set(l, e, t->d, p->v, path) < 0)
			goto out;
	}
	rc = litellm_redis(l, t->d, &rest, t->name, "redis_", NULL, &l->router);
out:
	free(rest.v);
	free(ps.v);
	return rc;
}

/* Whether key is a router key litellm_settings may say (litellm_router() reads it). */
static int
is_litellm_router_key(const char *key)
{
	const struct rt_key *e = rt_key_find(key);

	return e != NULL && e->litellm;
}

/*
 * litellm_settings' num_retries and fallback lists, where router_settings
 * does not say them: after every section, so that router_settings wins
 * wherever it is in the file.
 */
static int
litellm_router(struct loader *l)
{
	const struct rt_key *e;
	const struct top *t = NULL;
	struct pairs ps;
	char path[160];
	size_t i;
	int rc = 0;

	for (i = 0; i < l->nsections && t == NULL; i++)
		if (strcmp(l->sections[i].name, "litellm_settings") == 0)
			t = &l->sections[i];
	if (t == NULL)
		return 0;
	if (pairs_of(l, t->d, t->v, t->name, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n && rc == 0; i++) {
		const struct pair *p = &ps.v[i];

		if ((e = rt_key_find(p->key)) == NULL || !e->litellm || is_null(p->v) ||
		    (l->router_says & (1u << (e - rt_keys))))
			continue;
		snprintf(path, sizeof(path), "%s.%s", t->name, p->key);
		rc = e->set(l, e, t->d, p->v, path);
	}
	free(ps.v);
	return rc;
}

/* Whether name is a model group of model_list ("*" in a fallbacks key is every group). */
static int
is_group(const struct config *c, const char *name)
{
	const struct config_deployment *found;

	return config_find_model(c, name, &found, 1) > 0;
}

/*
 * Once model_list is read: a fallback naming a group it does not have is a
 * warning, and kept (the router skips a group with no deployment).
 */
static int
check_fallbacks(struct loader *l)
{
	const struct config_router *rc = &l->c->router;
	size_t i, j, k;

	for (i = 0; i < RT_NKEYS; i++) {
		const struct rt_key *e = &rt_keys[i];
		const char *section = l->router_says & (1u << i) ? "router_settings" :
		    "litellm_settings";

		if (e->set == rt_fallbacks) {
			const struct config_fallback *f =
			    *(struct config_fallback *const *)((const char *)rc + e->off);
			size_t n = *(const size_t *)((const char *)rc + e->noff);

			for (j = 0; j < n; j++) {
				if (strcmp(f[j].model, "*") != 0 && !is_group(l->c, f[j].model) &&
				    warn_at(l, f[j].file, f[j].line, "%s.%s: '%s' names no model in "
				    "model_list", section, e->name, f[j].model) < 0)
					return -1;
				for (k = 0; k < f[j].nto; k++)
					if (!is_group(l->c, f[j].to[k]) && warn_at(l, f[j].file,
					    f[j].line, "%s.%s: '%s' names no model in model_list", section,
					    e->name, f[j].to[k]) < 0)
						return -1;
			}
		} else if (e->set == rt_models)
			for (k = 0; k < rc->ndefault_fallbacks; k++)
				if (!is_group(l->c, rc->default_fallbacks[k]) &&
				    warn_at(l, l->default_fallbacks_at.file, l->default_fallbacks_at.line,
				    "%s.%s: '%s' names no model in model_list", section, e->name,
				    rc->default_fallbacks[k]) < 0)
					return -1;
	}
	return 0;
}

/*
 * general_settings and litellm_settings: master_key is read (and
 * litellm_settings' drop_params, cache_params and router keys, general_settings'
 * database_url and enforce_fallback_model_access), the rest reported.
 */
static int
load_settings(struct loader *l, const struct top *t, struct top *master)
{
	struct pairs ps;
	char id[128];
	size_t i;
	int rc = -1;

	if (pairs_of(l, t->d, t->v, t->name, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n; i++) {
		if (master == &l->master_litellm && strcmp(ps.v[i].key, "drop_params") == 0) {
			snprintf(id, sizeof(id), "%s.drop_params", t->name);
			if (read_switch(l, t->d, ps.v[i].v, id, &l->c->drop_params) < 0)
				goto out;
			continue;
		}
		if (master == &l->master_litellm && strcmp(ps.v[i].key, "cache_params") == 0) {
			struct pairs cp;
			int bad;

			/* LiteLLM's cache: its Redis counts the fleet's when nothing else names one */
			if (pairs_of(l, t->d, ps.v[i].v, "litellm_settings.cache_params", &cp) < 0)
				goto out;
			bad = litellm_redis(l, t->d, &cp, "litellm_settings.cache_params", "", "type",
			    &l->cache);
			free(cp.v);
			if (bad < 0)
				goto out;
			continue;
		}
		if (master == &l->master_litellm && is_litellm_router_key(ps.v[i].key))
			continue;	/* litellm_router() reads it */
		if (master == &l->master_general &&
		    strcmp(ps.v[i].key, "enforce_fallback_model_access") == 0) {
			if (read_switch(l, t->d, ps.v[i].v, "general_settings.enforce_fallback_model_access",
			    &l->c->router.fallback_access) < 0)
				goto out;
			continue;
		}
		if (master == &l->master_general && strcmp(ps.v[i].key, "database_url") == 0) {
			if (database_url(l, t->d, ps.v[i].v) < 0)
				goto out;
			continue;
		}
		if (strcmp(ps.v[i].key, "master_key") == 0) {
			master->name = t->name;
			master->d = t->d;
			master->k = ps.v[i].k;
			master->v = ps.v[i].v;
			continue;
		}
		snprintf(id, sizeof(id), "%s.%s", t->name, ps.v[i].key);
		if (warn_once(l, t->d, ps.v[i].k, id, "%s is not implemented by tollgate, ignored",
		    id) < 0)
			goto out;
	}
	rc = 0;
out:
	free(ps.v);
	return rc;
}

static int
load_general(struct loader *l, const struct top *t)
{
	return load_settings(l, t, &l->master_general);
}

static int
load_litellm(struct loader *l, const struct top *t)
{
	return load_settings(l, t, &l->master_litellm);
}

/*
 * The master key: general_settings', else litellm_settings' (with a warning).
 * Unlike an upstream key, it is needed: a missing variable or an empty key is
 * an error, since starting without it would open the gateway.
 */
static int
load_master_key(struct loader *l)
{
	struct top *m = &l->master_general;
	char path[64];
	struct sval v;

	if (m->v == NULL && l->master_litellm.v != NULL) {
		m = &l->master_litellm;
		if (warn(l, m->d, m->k, "litellm_settings.master_key: master_key belongs under "
		    "general_settings; used anyway") < 0)
			return -1;
	} else if (m->v != NULL && l->master_litellm.v != NULL &&
	    warn(l, l->master_litellm.d, l->master_litellm.k, "litellm_settings.master_key is "
	    "ignored: general_settings.master_key is set") < 0)
		return -1;
	if (m->v == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s.master_key", m->name);
	if (need_scalar(l, m->d, m->v, path, "a string", &v) < 0)
		return -1;
	if (!v.null && v.len == 0)
		return fail(l, m->d, m->v, "%s: expected a key, got an empty one", path);
	return set_text(l, &l->c->master_key, &v);
}

/* ---- credential_list ------------------------------------------------------------ */

/* credential_values: api_key (an unset variable is a warning, as for a deployment), api_base, api_version. */
static int
credential_values(struct loader *l, struct doc *d, yaml_node_t *n, const char *where,
    struct config_credential *cr)
{
	struct pairs ps;
	char path[192];
	struct sval v;
	size_t i;
	int rc = -1;

	if (pairs_of(l, d, n, where, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n; i++) {
		const struct pair *p = &ps.v[i];
		char **dst = strcmp(p->key, "api_key") == 0 ? &cr->api_key :
		    strcmp(p->key, "api_base") == 0 ? &cr->api_base :
		    strcmp(p->key, "api_version") == 0 ? &cr->api_version : NULL;

		snprintf(path, sizeof(path), "%.90s.%.90s", where, p->key);
		if (dst == NULL) {
			if (warn_once(l, d, p->k, "credential_values", "%s is not implemented by "
			    "tollgate, ignored", path) < 0)
				goto out;
			continue;
		}
		if (dst == &cr->api_key && scalar(p->v, &v) == 1) {
			if (warn(l, d, p->v, "%s: environment variable %s is not set; its deployments "
			    "are called without a key", path, v.var) < 0)
				goto out;
			continue;
		}
		if (need_scalar(l, d, p->v, path, "a string", &v) < 0)
			goto out;
		if (!v.null && v.len > 0 && set_text(l, dst, &v) < 0)
			goto out;
	}
	rc = 0;
out:
	free(ps.v);
	return rc;
}

static void
credential_release(struct config_credential *cr)
{
	free(cr->name);
	free(cr->api_key);
	free(cr->api_base);
	free(cr->api_version);
}

/* credential_list: [{credential_name, credential_values: {...}, credential_info}] */
static int
load_credentials(struct loader *l, const struct top *t)
{
	yaml_node_item_t *it;
	size_t cap = l->c->ncredentials;	/* full: the next one grows it */
	char where[64], g[80];
	struct sval v;

	if (is_null(t->v))
		return 0;
	if (!node_is(t->v, YAML_SEQUENCE_NODE)) {
		scalar(t->v, &v);
		return fail(l, t->d, t->v, "credential_list: expected a list of credentials, got %s",
		    got(t->v, &v, g, sizeof(g)));
	}
	for (it = t->v->data.sequence.items.start; it < t->v->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&t->d->y, *it);
		struct config_credential cr = { .file = t->d->file, .line = line_of(n) };
		struct pairs ps;
		size_t i;
		int rc = 0;

		snprintf(where, sizeof(where), "credential_list[%zu]",
		    (size_t)(it - t->v->data.sequence.items.start));
		if (pairs_of(l, t->d, n, where, &ps) < 0)
			return -1;
		for (i = 0; i < ps.n && rc == 0; i++) {
			char path[96];

			snprintf(path, sizeof(path), "%s.%s", where, ps.v[i].key);
			if (strcmp(ps.v[i].key, "credential_name") == 0)
				rc = need_scalar(l, t->d, ps.v[i].v, path, "a name", &v) < 0 ||
				    set_text(l, &cr.name, &v) < 0 ? -1 : 0;
			else if (strcmp(ps.v[i].key, "credential_values") == 0)
				rc = credential_values(l, t->d, ps.v[i].v, path, &cr);
			/* credential_info is a description, for people */
		}
		free(ps.v);
		if (rc == 0 && cr.name == NULL)
			rc = fail(l, t->d, n, "%s: credential_name is required", where);
		if (rc == 0 && ARRAY_GROW(l->c->credentials, l->c->ncredentials, cap) < 0)
			rc = nomem(l);
		if (rc < 0) {
			credential_release(&cr);
			return -1;
		}
		l->c->credentials[l->c->ncredentials++] = cr;
	}
	return 0;
}

/* Copies src to *dst when *dst is unset; 0 or -1. */
static int
inherit(struct loader *l, char **dst, const char *src)
{
	if (*dst != NULL || src == NULL)
		return 0;
	return (*dst = strdup(src)) == NULL ? nomem(l) : 0;
}

/* A deployment's litellm_credential_name: what it does not say itself, the credential says. */
static int
resolve_credential(struct loader *l, struct config_deployment *dep, struct doc *d, yaml_node_t *n)
{
	const struct config_credential *cr = NULL;
	size_t i;

	if (dep->credential == NULL)
		return 0;
	for (i = 0; i < l->c->ncredentials && cr == NULL; i++)
		if (strcmp(l->c->credentials[i].name, dep->credential) == 0)
			cr = &l->c->credentials[i];
	if (cr == NULL)
		return fail(l, d, n, "model '%s': litellm_credential_name '%s' is not in "
		    "credential_list", dep->model_name, dep->credential);
	if (inherit(l, &dep->api_key, cr->api_key) < 0 || inherit(l, &dep->api_base, cr->api_base) < 0 ||
	    inherit(l, &dep->api_version, cr->api_version) < 0)
		return -1;
	return 0;
}

/* ---- model_list ---------------------------------------------------------------- */

/* litellm_params tollgate accepts without using them: request defaults and
   routing hints that real configs carry (the compat survey's common ones). */
static const char *const quiet_params[] = {
	"extra_body", "max_tokens",
	"reasoning_effort", "temperature",
};

static int
is_quiet_param(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(quiet_params) / sizeof(quiet_params[0]); i++)
		if (strcmp(quiet_params[i], key) == 0)
			return 1;
	return 0;
}

/*
 * LiteLLM's price fields: input_cost_per_token, cache_read_input_token_cost,
 * output_cost_per_token_batches, ...  "_cost" covers every one of them.
 */
static int
is_price_key(const char *key)
{
	return strstr(key, "_cost") != NULL;
}

/* Sets key in a kv list, replacing an entry of the same key (any case when icase). */
static int
kv_set(struct loader *l, struct config_kv **kv, size_t *n, const char *key,
    const struct sval *v, struct doc *d, yaml_node_t *at, int icase)
{
	struct config_kv *nkv, *e = NULL;
	char *value;
	size_t i;

	for (i = 0; i < *n && e == NULL; i++)
		if ((icase ? strcasecmp : strcmp)((*kv)[i].key, key) == 0)
			e = &(*kv)[i];
	if ((value = strndup(v->s, v->len)) == NULL)
		return nomem(l);
	if (e == NULL) {
		if ((nkv = realloc(*kv, (*n + 1) * sizeof(**kv))) == NULL) {
			free(value);
			return nomem(l);
		}
		*kv = nkv;
		e = &nkv[(*n)++];
		e->value = NULL;
		if ((e->key = strdup(key)) == NULL) {
			(*n)--;
			free(value);
			return nomem(l);
		}
	}
	free(e->value);
	e->value = value;
	e->file = d->file;
	e->line = line_of(at);
	return 0;
}

/*
 * A price field: kept as the text written (after os.environ/), never through
 * a double, so that what is billed is what the operator wrote.  It must still
 * read as a decimal: a price that would not parse later is better refused now,
 * with its line.
 */
static int
dep_price(struct loader *l, struct config_deployment *dep, struct doc *d,
    const struct pair *p, const char *path)
{
	struct sval v;
	int64_t atto;

	switch (scalar(p->v, &v)) {
	case 1:
		return fail(l, d, p->v, "%s: environment variable %s is not set", path, v.var);
	case -1:
		return warn(l, d, p->k, "%s: only a plain price is read from a config, ignored", path);
	}
	if (v.null)
		return 0;
	if (money_parse_decimal(v.s, v.len, MONEY_PRICE_SCALE, 0, &atto) < 0)
		return fail(l, d, p->v, "%s: expected a decimal price such as 3e-07, got '%.*s'",
		    path, v.len > 60 ? 60 : (int)v.len, v.s);
	return kv_set(l, &dep->prices, &dep->nprices, p->key, &v, d, p->v, 0);
}

/* model_info, at the entry's level or inside litellm_params: base_model, mode and prices. */
static int
dep_info(struct loader *l, struct config_deployment *dep, struct doc *d, yaml_node_t *n,
    const char *where)
{
	struct pairs ps;
	char path[192];
	struct sval v;
	size_t i;
	int rc = -1;

	if (pairs_of(l, d, n, where, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n; i++) {
		const struct pair *p = &ps.v[i];

		snprintf(path, sizeof(path), "%.90s.%.90s", where, p->key);
		if (strcmp(p->key, "base_model") == 0) {
			if (need_scalar(l, d, p->v, path, "a model name", &v) < 0 ||
			    set_text(l, &dep->base_model, &v) < 0)
				goto out;
		} else if (strcmp(p->key, "mode") == 0) {
			/* "responses": a model that speaks only OpenAI's Responses API */
			if (need_scalar(l, d, p->v, path, "a mode such as chat or responses", &v) < 0 ||
			    set_text(l, &dep->mode, &v) < 0)
				goto out;
		} else if (strcmp(p->key, "id") == 0) {
			/* the deployment's name to the router and in x-litellm-model-id */
			if (scalar(p->v, &v) != 0) {
				if (rt_bad(l, d, p->v, path, "a string") < 0)
					goto out;
				continue;
			}
			if (v.len == 0)
				v.null = 1;
			if (set_text(l, &dep->model_id, &v) < 0)
				goto out;
		} else if (is_price_key(p->key)) {
			if (dep_price(l, dep, d, p, path) < 0)
				goto out;
		}
		/* the rest (description, max_tokens, supports_*) is LiteLLM's metadata */
	}
	rc = 0;
out:
	free(ps.v);
	return rc;
}

static int
dep_headers(struct loader *l, struct config_deployment *dep, struct doc *d, yaml_node_t *n,
    const char *where)
{
	struct pairs ps;
	char path[192];
	struct sval v;
	size_t i;
	int rc = -1;

	if (pairs_of(l, d, n, where, &ps) < 0)
		return -1;
	for (i = 0; i < ps.n; i++) {
		snprintf(path, sizeof(path), "%.90s.%.90s", where, ps.v[i].key);
		if (need_scalar(l, d, ps.v[i].v, path, "a header value", &v) < 0)
			goto out;
		if (!v.null && kv_set(l, &dep->headers, &dep->nheaders, ps.v[i].key, &v, d,
		    ps.v[i].v, 1) < 0)
			goto out;
	}
	rc = 0;
out:
	free(ps.v);
	return rc;
}

/* litellm_params.model: "provider/name" split at the first '/', no '/' is OpenAI. */
static int
dep_model(struct loader *l, struct config_deployment *dep, struct doc *d, yaml_node_t *n,
    const char *path)
{
	const char *slash;
	struct sval v;
	char *provider, *model;

	if (need_scalar(l, d, n, path, "a model such as openai/gpt-4o", &v) < 0)
		return -1;
	slash = memchr(v.s, '/', v.len);
	if (v.null || v.len == 0 || slash == v.s || slash == v.s + v.len - 1)
		return fail(l, d, n, "%s: expected a model such as openai/gpt-4o, got '%.*s'", path,
		    v.len > 60 ? 60 : (int)v.len, v.s);
	if (slash == NULL) {
		provider = strdup("openai");
		model = strndup(v.s, v.len);
	} else {
		provider = strndup(v.s, (size_t)(slash - v.s));
		model = strndup(slash + 1, v.len - (size_t)(slash - v.s) - 1);
	}
	if (provider == NULL || model == NULL) {
		free(provider);
		free(model);
		return nomem(l);
	}
	free(dep->provider);
	free(dep->model);
	dep->provider = provider;
	dep->model = model;
	return 0;
}

/*
 * litellm_params (n; at is its key, for a missing model).  An api_key naming
 * an unset variable is a warning and no key: the provider answers 401 for that
 * deployment while the others serve, rather than one absent secret stopping
 * the whole gateway.  Every other variable here is needed.
 */
/* The field of a cloud provider's parameter (LiteLLM's names, AWS's and Google's), or NULL. */
static char **
cloud_param(struct config_deployment *dep, const char *key)
{
	return strcmp(key, "aws_access_key_id") == 0 ? &dep->aws_access_key_id :
	    strcmp(key, "aws_secret_access_key") == 0 ? &dep->aws_secret_access_key :
	    strcmp(key, "aws_session_token") == 0 ? &dep->aws_session_token :
	    strcmp(key, "aws_region_name") == 0 ? &dep->aws_region_name :
	    strcmp(key, "vertex_project") == 0 || strcmp(key, "vertex_ai_project") == 0 ?
	    &dep->vertex_project :
	    strcmp(key, "vertex_location") == 0 || strcmp(key, "vertex_ai_location") == 0 ?
	    &dep->vertex_location :
	    strcmp(key, "vertex_credentials") == 0 || strcmp(key, "vertex_ai_credentials") == 0 ?
	    &dep->vertex_credentials : NULL;
}

static int
dep_params(struct loader *l, struct config_deployment *dep, struct doc *d, yaml_node_t *at,
    yaml_node_t *n, const char *where)
{
	struct pairs ps;
	char path[192], id[128];
	struct sval v;
	size_t i;
	int rc = -1, pass;

	if (pairs_of(l, d, n, where, &ps) < 0)
		return -1;
	/* model_info first, so that prices written directly in litellm_params win */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < ps.n; i++) {
			const struct pair *p = &ps.v[i];
			const char *k = p->key;

			if ((strcmp(k, "model_info") == 0) != (pass == 0))
				continue;
			snprintf(path, sizeof(path), "%.90s.%.90s", where, k);
			if (pass == 0) {
				if (dep_info(l, dep, d, p->v, path) < 0)
					goto out;
			} else if (strcmp(k, "model") == 0) {
				if (dep_model(l, dep, d, p->v, path) < 0)
					goto out;
			} else if (strcmp(k, "api_base") == 0) {
				if (need_scalar(l, d, p->v, path, "a URL", &v) < 0 ||
				    set_text(l, &dep->api_base, &v) < 0)
					goto out;
			} else if (cloud_param(dep, k) != NULL) {
				switch (scalar(p->v, &v)) {
				case 1:
					if (warn(l, d, p->v, "%s: environment variable %s is not set", path,
					    v.var) < 0)
						goto out;
					v.null = 1;
					break;
				case -1:
					need_scalar(l, d, p->v, path, "a string", &v);
					goto out;
				}
				if (set_text(l, cloud_param(dep, k), &v) < 0)
					goto out;
			} else if (strcmp(k, "api_version") == 0) {
				if (need_scalar(l, d, p->v, path, "a version", &v) < 0 ||
				    set_text(l, &dep->api_version, &v) < 0)
					goto out;
			} else if (strcmp(k, "api_key") == 0) {
				switch (scalar(p->v, &v)) {
				case 1:
					if (warn(l, d, p->v, "%s: environment variable %s is not set; "
					    "'%s' is called without a key", path, v.var,
					    dep->model_name) < 0)
						goto out;
					v.null = 1;
					break;
				case -1:
					need_scalar(l, d, p->v, path, "a key", &v);
					goto out;
				}
				if (v.len == 0)
					v.null = 1;
				if (set_text(l, &dep->api_key, &v) < 0)
					goto out;
			} else if (strcmp(k, "timeout") == 0) {
				if (need_scalar(l, d, p->v, path, "a number of seconds", &v) < 0)
					goto out;
				if (v.null)
					dep->timeout_ms = 0;
				else if (parse_quantity(v.s, v.len, second_units, &dep->timeout_ms) < 0) {
					fail(l, d, p->v, "%s: expected a number of seconds, got '%.*s'",
					    path, v.len > 60 ? 60 : (int)v.len, v.s);
					goto out;
				}
			} else if (strcmp(k, "rpm") == 0 || strcmp(k, "tpm") == 0) {
				int64_t *dst = k[0] == 'r' ? &dep->rpm : &dep->tpm;

				if (need_scalar(l, d, p->v, path, "a whole number per minute", &v) < 0)
					goto out;
				if (v.null)
					*dst = 0;
				else if (parse_int(v.s, v.len, dst) < 0 || *dst < 0) {
					fail(l, d, p->v, "%s: expected a whole number per minute, got '%.*s'",
					    path, v.len > 60 ? 60 : (int)v.len, v.s);
					goto out;
				}
			} else if (strcmp(k, "weight") == 0 || strcmp(k, "order") == 0) {
				/* routing hints: a bad one is warned of, and the deployment serves
				   without it */
				int weight = k[0] == 'w';
				int64_t x = 0;

				if (is_null(p->v))
					x = 0;
				else if (scalar(p->v, &v) != 0 || parse_int(v.s, v.len, &x) < 0 ||
				    x < (weight ? 0 : 1) || x > INT_MAX) {
					if (rt_bad(l, d, p->v, path, weight ? "a whole number from 0" :
					    "a whole number from 1") < 0)
						goto out;
					continue;
				}
				if (weight)
					dep->weight = x;
				else
					dep->order = (int)x;
			} else if (strcmp(k, "drop_params") == 0) {
				if (read_switch(l, d, p->v, path, &dep->drop_params) < 0)
					goto out;
			} else if (strcmp(k, "litellm_credential_name") == 0) {
				if (need_scalar(l, d, p->v, path, "a credential_name of credential_list",
				    &v) < 0 || set_text(l, &dep->credential, &v) < 0)
					goto out;
			} else if (strcmp(k, "extra_headers") == 0 || strcmp(k, "headers") == 0) {
				if (dep_headers(l, dep, d, p->v, path) < 0)
					goto out;
			} else if (is_price_key(k)) {
				if (dep_price(l, dep, d, p, path) < 0)
					goto out;
			} else if (!is_quiet_param(k)) {
				snprintf(id, sizeof(id), "litellm_params.%s", k);
				if (warn_once(l, d, p->k, id, "%s is not implemented by tollgate, ignored",
				    id) < 0)
					goto out;
			}
		}
	if (dep->model == NULL) {
		fail(l, d, at, "%s.model is required", where);
		goto out;
	}
	rc = 0;
out:
	free(ps.v);
	return rc;
}

static void
kv_free(struct config_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void
deployment_release(struct config_deployment *dep)
{
	free(dep->model_name);
	free(dep->model_id);
	free(dep->provider);
	free(dep->model);
	free(dep->api_base);
	free(dep->api_key);
	free(dep->api_version);
	free(dep->aws_access_key_id);
	free(dep->aws_secret_access_key);
	free(dep->aws_session_token);
	free(dep->aws_region_name);
	free(dep->vertex_project);
	free(dep->vertex_location);
	if (dep->vertex_credentials)	/* it may be the key itself */
		explicit_bzero(dep->vertex_credentials, strlen(dep->vertex_credentials));
	free(dep->vertex_credentials);
	kv_free(dep->headers, dep->nheaders);
	free(dep->base_model);
	free(dep->mode);
	kv_free(dep->prices, dep->nprices);
	free(dep->credential);
}

/* One model_list entry; index is its place in its file's list, for messages. */
static int
load_deployment(struct loader *l, struct doc *d, yaml_node_t *n, size_t index)
{
	struct config_deployment dep;
	yaml_node_t *name = NULL, *params_key = NULL, *params = NULL, *info = NULL;
	struct pairs ps = { 0 };
	char where[32], path[64], id[128], g[80];
	struct sval v;
	size_t i;
	int rc = -1;

	memset(&dep, 0, sizeof(dep));
	dep.drop_params = -1;
	dep.file = d->file;
	dep.line = line_of(n);
	snprintf(where, sizeof(where), "model_list[%zu]", index);
	if (!node_is(n, YAML_MAPPING_NODE)) {
		scalar(n, &v);
		fail(l, d, n, "%s: expected a mapping with model_name and litellm_params, got %s",
		    where, got(n, &v, g, sizeof(g)));
		goto out;
	}
	if (pairs_of(l, d, n, where, &ps) < 0)
		goto out;
	for (i = 0; i < ps.n; i++) {
		if (strcmp(ps.v[i].key, "model_name") == 0)
			name = ps.v[i].v;
		else if (strcmp(ps.v[i].key, "litellm_params") == 0) {
			params_key = ps.v[i].k;
			params = ps.v[i].v;
		}
		else if (strcmp(ps.v[i].key, "model_info") == 0)
			info = ps.v[i].v;
		else {
			snprintf(id, sizeof(id), "model_list.%s", ps.v[i].key);
			if (warn_once(l, d, ps.v[i].k, id, "%s is not implemented by tollgate, ignored",
			    id) < 0)
				goto out;
		}
	}
	if (name == NULL) {
		fail(l, d, n, "%s: model_name is required", where);
		goto out;
	}
	snprintf(path, sizeof(path), "%s.model_name", where);
	if (need_scalar(l, d, name, path, "a model name", &v) < 0)
		goto out;
	if (v.null || v.len == 0) {
		fail(l, d, name, "%s: expected a model name, got nothing", path);
		goto out;
	}
	if (set_text(l, &dep.model_name, &v) < 0)
		goto out;
	if (is_null(params)) {
		fail(l, d, n, "%s: litellm_params.model is required", where);
		goto out;
	}
	snprintf(path, sizeof(path), "%s.model_info", where);
	if (info != NULL && dep_info(l, &dep, d, info, path) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s.litellm_params", where);
	if (dep_params(l, &dep, d, params_key, params, path) < 0 ||
	    resolve_credential(l, &dep, d, params) < 0)
		goto out;
	if (ARRAY_GROW(l->c->deployments, l->c->ndeployments, l->capdeployments) < 0) {
		nomem(l);
		goto out;
	}
	l->c->deployments[l->c->ndeployments++] = dep;
	memset(&dep, 0, sizeof(dep));
	rc = 0;
out:
	deployment_release(&dep);
	free(ps.v);
	return rc;
}

static int
load_model_list(struct loader *l, const struct top *t)
{
	yaml_node_item_t *it;
	struct sval v;
	char g[80];

	if (is_null(t->v))
		return 0;	/* "model_list:" with nothing under it yet */
	if (!node_is(t->v, YAML_SEQUENCE_NODE)) {
		scalar(t->v, &v);
		return fail(l, t->d, t->v, "model_list: expected a list of deployments, got %s",
		    got(t->v, &v, g, sizeof(g)));
	}
	for (it = t->v->data.sequence.items.start; it < t->v->data.sequence.items.top; it++)
		if (load_deployment(l, t->d, yaml_document_get_node(&t->d->y, *it),
		    (size_t)(it - t->v->data.sequence.items.start)) < 0)
			return -1;
	return 0;
}

/* ---- files ------------------------------------------------------------------------ */

/* What tollgate knows at the top level; sorted.  NULL: handled while reading. */
static const struct top_key {
	const char	*name;
	int		(*load)(struct loader *, const struct top *);
} top_keys[] = {
	{ "credential_list",		load_credentials },
	{ "environment_variables",	load_ignored },
	{ "files_settings",		load_ignored },
	{ "finetune_settings",		load_ignored },
	{ "general_settings",		load_general },
	{ "include",			NULL },
	{ "litellm_settings",		load_litellm },
	{ "model_list",			NULL },
	{ "router_settings",		load_router },
	{ "tollgate",			load_tollgate },
};

static int
top_key_cmp(const void *key, const void *entry)
{
	return strcmp(key, ((const struct top_key *)entry)->name);
}

static const struct top_key *
top_key_find(const char *name)
{
	return bsearch(name, top_keys, sizeof(top_keys) / sizeof(top_keys[0]),
	    sizeof(top_keys[0]), top_key_cmp);
}

/* Records a section; one of the same name written earlier (or by a parent) is replaced. */
static int
set_section(struct loader *l, struct doc *d, const struct pair *p)
{
	size_t i;

	for (i = 0; i < l->nsections; i++)
		if (strcmp(l->sections[i].name, p->key) == 0)
			break;
	if (i == l->nsections) {
		if (ARRAY_GROW(l->sections, l->nsections, l->capsections) < 0)
			return nomem(l);
		l->nsections++;
	}
	l->sections[i].name = p->key;
	l->sections[i].d = d;
	l->sections[i].k = p->k;
	l->sections[i].v = p->v;
	return 0;
}

/* Adds path to config->files (once) and returns the stored copy, or NULL. */
static const char *
add_file(struct loader *l, const char *path)
{
	struct config *c = l->c;
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i], path) == 0)
			return c->files[i];
	if (ARRAY_GROW(c->files, c->nfiles, l->capfiles) < 0 ||
	    (c->files[c->nfiles] = strdup(path)) == NULL)
		return NULL;
	return c->files[c->nfiles++];
}

/* Parses text into a struct doc the loader keeps until the end; NULL with err on failure. */
static struct doc *
parse(struct loader *l, const char *file, const struct buf *text)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	struct doc *d = NULL;
	int second;

	if (!yaml_parser_initialize(&parser)) {
		nomem(l);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(text->data ? text->data : ""),
	    text->len);
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    ARRAY_GROW(l->docs, l->ndocs, l->capdocs) < 0) {
		nomem(l);
		goto fail;
	}
	d->file = file;
	if (!yaml_parser_load(&parser, &d->y))
		goto syntax;
	l->docs[l->ndocs++] = d;	/* the loader frees it from here on */
	d = NULL;
	/* PyYAML's safe_load, and so LiteLLM, refuses a second document too */
	if (!yaml_parser_load(&parser, &extra))
		goto syntax;
	second = yaml_document_get_root_node(&extra) != NULL ? (int)extra.start_mark.line + 1 : 0;
	yaml_document_delete(&extra);
	if (second) {
		fail(l, NULL, NULL, "%s:%d: expected one YAML document, found a second one", file,
		    second);
		goto fail;
	}
	yaml_parser_delete(&parser);
	return l->docs[l->ndocs - 1];
syntax:
	fail(l, NULL, NULL, "%s:%zu:%zu: %s%s%s", file, parser.problem_mark.line + 1,
	    parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML",
	    parser.context ? " " : "", parser.context ? parser.context : "");
fail:
	free(d);
	yaml_parser_delete(&parser);
	return NULL;
}

static int load_file(struct loader *l, const char *path, struct doc *from, yaml_node_t *at);

/* The include: list of d: each file relative to d's directory, in order. */
static int
load_includes(struct loader *l, struct doc *d, yaml_node_t *n)
{
	yaml_node_item_t *items = NULL;
	size_t nitems = 1, i;
	struct sval v;
	char g[80], *path;
	int rc;

	if (is_null(n))
		return 0;
	if (node_is(n, YAML_SEQUENCE_NODE)) {
		items = n->data.sequence.items.start;
		nitems = (size_t)(n->data.sequence.items.top - items);
	}
	for (i = 0; i < nitems; i++) {
		yaml_node_t *item = items != NULL ? yaml_document_get_node(&d->y, items[i]) : n;

		if (need_scalar(l, d, item, "include", "a file name", &v) < 0)
			return -1;
		if (v.null || v.len == 0)
			return fail(l, d, item, "include: expected a file name, got %s",
			    got(item, &v, g, sizeof(g)));
		if ((path = path_beside(d->file, v.s, v.len)) == NULL)
			return nomem(l);
		rc = load_file(l, path, d, item);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/*
 * Reads path (from is the including document, at the include: item, or NULL
 * for the main file): its top-level keys, then its includes, so that what an
 * include says replaces what its parent said.
 */
static int
load_file(struct loader *l, const char *path, struct doc *from, yaml_node_t *at)
{
	struct buf text = { 0 };
	struct pairs ps = { 0 };
	yaml_node_t *root, *include = NULL;
	struct stat st;
	struct doc *d;
	const char *file;
	size_t i;
	int rc = -1, j;

	if (stat(path, &st) < 0 || buf_read_file(&text, path) < 0) {
		if (from == NULL)
			fail(l, NULL, NULL, "cannot read config '%s': %s", path, strerror(errno));
		else
			fail(l, from, at, "cannot read include '%s': %s", path, strerror(errno));
		goto out;
	}
	for (j = 0; j < l->depth; j++)
		if (l->stack[j].st_dev == st.st_dev && l->stack[j].st_ino == st.st_ino) {
			fail(l, from, at, "include '%s': include cycle, the file is already being "
			    "loaded", path);
			goto out;
		}
	if (l->depth > INCLUDE_DEPTH) {
		fail(l, from, at, "include '%s': includes nested deeper than %d", path, INCLUDE_DEPTH);
		goto out;
	}
	if ((file = add_file(l, path)) == NULL) {
		nomem(l);
		goto out;
	}
	if ((d = parse(l, file, &text)) == NULL)
		goto out;
	if ((root = yaml_document_get_root_node(&d->y)) == NULL) {
		rc = 0;		/* an empty file is an empty mapping */
		goto out;
	}
	if (!node_is(root, YAML_MAPPING_NODE)) {
		fail(l, d, root, "expected a mapping of settings (model_list:, general_settings:, "
		    "...) at the top level");
		goto out;
	}
	if (pairs_collect(l, d, root, &ps, 0) < 0)
		goto out;
	for (i = 0; i < ps.n; i++) {
		const struct pair *p = &ps.v[i];
		const struct top_key *tk;
		char id[128];

		if (strncmp(p->key, "x-", 2) == 0)
			continue;	/* docker-compose style holders of anchors */
		if ((tk = top_key_find(p->key)) == NULL) {
			snprintf(id, sizeof(id), "top.%s", p->key);
			if (warn_once(l, d, p->k, id, "unknown top-level key '%s', ignored", p->key) < 0)
				goto out;
		} else if (strcmp(p->key, "include") == 0)
			include = p->v;
		else if (strcmp(p->key, "model_list") == 0) {
			if (ARRAY_GROW(l->lists, l->nlists, l->caplists) < 0) {
				nomem(l);
				goto out;
			}
			l->lists[l->nlists].name = p->key;
			l->lists[l->nlists].d = d;
			l->lists[l->nlists].k = p->k;
			l->lists[l->nlists++].v = p->v;
		} else if (set_section(l, d, p) < 0)
			goto out;
	}
	l->stack[l->depth++] = st;
	rc = load_includes(l, d, include);
	l->depth--;
out:
	free(ps.v);
	buf_release(&text);
	return rc;
}

/* ---- the whole --------------------------------------------------------------------- */

static int
interpret(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->nsections; i++)
		if (top_key_find(l->sections[i].name)->load(l, &l->sections[i]) < 0)
			return -1;
	if (litellm_router(l) < 0)
		return -1;
	if (load_master_key(l) < 0)
		return -1;
	if (l->c->tollgate.redis_url == NULL && (l->router.host[0] != '\0' || l->cache.host[0] != '\0')) {
		const struct litellm_redis *r = l->router.host[0] != '\0' ? &l->router : &l->cache;
		struct buf u = { 0 };
		struct redis_addr a;
		char why[256];

		if (buf_printf(&u, "redis://%s%s%s%s:%s", r->password[0] ? ":" : "", r->password,
		    r->password[0] ? "@" : "", r->host, r->port[0] ? r->port : "6379") < 0)
			return nomem(l);
		if (redis_url_parse(u.data, &a, why, sizeof(why)) < 0) {
			buf_release(&u);
			snprintf(l->err, l->errlen, "%s:%d: %s: %s", r->at.file, r->at.line,
			    r == &l->router ? "router_settings: redis_host and redis_port" :
			    "litellm_settings.cache_params: host and port", why);
			return -1;
		}
		l->c->tollgate.redis_url = u.data;
		l->c->tollgate.redis_at = r->at;
	}
	if (l->c->tollgate.postgres_dsn == NULL && l->c->database_url != NULL) {
		if ((l->c->tollgate.postgres_dsn = strdup(l->c->database_url)) == NULL)
			return nomem(l);
		l->c->tollgate.postgres_at = l->c->database_at;
	}
	for (i = 0; i < l->nlists; i++)
		if (load_model_list(l, &l->lists[i]) < 0)
			return -1;
	if (check_fallbacks(l) < 0)
		return -1;
	if (l->c->ndeployments > 0)
		return 0;
	/* on the first model_list: when there is one, else on the main file's first line */
	if (l->nlists > 0)
		return warn(l, l->lists[0].d, l->lists[0].k, "no models configured");
	if (buf_printf(&l->warnings, "%s:1: no models configured\n", l->c->files[0]) < 0)
		return nomem(l);
	return 0;
}

static void
loader_release(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->ndocs; i++) {
		yaml_document_delete(&l->docs[i]->y);
		free(l->docs[i]);
	}
	free(l->docs);
	strv_free(l->reported, l->nreported);
	free(l->sections);
	free(l->lists);
	buf_release(&l->warnings);
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct loader l;
	struct config *c;
	int rc = -1;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	l.err = err;
	l.errlen = errlen;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return nomem(&l);
	l.c = c;
	router_defaults(&c->router);
	if (tollgate_defaults(&l) < 0 || load_file(&l, path, NULL, NULL) < 0 ||
	    interpret(&l) < 0)
		goto out;
	if (l.warnings.len > 0) {
		c->warnings = l.warnings.data;	/* the config takes the buffer */
		memset(&l.warnings, 0, sizeof(l.warnings));
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	config_free(c);
	loader_release(&l);
	return rc;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->tollgate.listen);
	free(c->tollgate.ledger_path);
	free(c->tollgate.run_dir);
	strv_free(c->tollgate.price_files, c->tollgate.nprice_files);
	strv_free(c->tollgate.keys, c->tollgate.nkeys);
	free(c->tollgate.log_file);
	free(c->tollgate.access_log);
	free(c->tollgate.ui_dir);
	free(c->tollgate.ui_chartjs);
	free(c->tollgate.user);
	free(c->tollgate.export_dir);
	free(c->tollgate.export_url);
	free(c->tollgate.host_id);
	free(c->tollgate.postgres_dsn);
	free(c->tollgate.redis_url);
	free(c->database_url);
	free(c->tollgate.budget_timezone);
	free(c->tollgate.metrics_listen);
	free(c->tollgate.tls_cert_file);
	free(c->tollgate.tls_key_file);
	budgets_release(c->tollgate.budgets, c->tollgate.nbudgets);
	channels_release(c->tollgate.alerts_channels, c->tollgate.nalerts_channels);
	fallbacks_free(c->router.fallbacks, c->router.nfallbacks);
	fallbacks_free(c->router.context_fallbacks, c->router.ncontext_fallbacks);
	fallbacks_free(c->router.policy_fallbacks, c->router.npolicy_fallbacks);
	strv_free(c->router.default_fallbacks, c->router.ndefault_fallbacks);
	for (i = 0; i < c->ndeployments; i++)
		deployment_release(&c->deployments[i]);
	free(c->deployments);
	free(c->master_key);
	for (i = 0; i < c->ncredentials; i++)
		credential_release(&c->credentials[i]);
	free(c->credentials);
	strv_free(c->files, c->nfiles);
	free(c->warnings);
	free(c);
}

size_t
config_find_model(const struct config *c, const char *model_name,
    const struct config_deployment **found, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < c->ndeployments && n < max; i++)
		if (strcmp(c->deployments[i].model_name, model_name) == 0)
			found[n++] = &c->deployments[i];
	return n;
}

const char *
config_host_id(const struct config_tollgate *tg)
{
	static char host[256];

	if (tg->host_id != NULL)
		return tg->host_id;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	return host;
}
