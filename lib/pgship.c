/*
 * The fleet ledger in PostgreSQL (pgship.h): schema, migrations, batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "money.h"
#include "pgship.h"

/* Held while a schema is made or migrated: hosts starting together make it once. */
#define SCHEMA_LOCK	"7415021723"

struct pgship {
	PGconn	*conn;
};

/* Version 1. */
static const char *const migration_1[] = {
	"CREATE TABLE tollgate_spend ("
	" request_id text PRIMARY KEY,"
	" host_id text NOT NULL,"
	" start_time timestamptz NOT NULL,"
	" first_byte_time timestamptz,"
	" end_time timestamptz NOT NULL,"
	" worker integer NOT NULL,"
	" status integer NOT NULL,"
	" api_key text NOT NULL,"
	" user_id text NOT NULL,"
	" team_id text NOT NULL,"
	" customer text NOT NULL,"
	" tags text NOT NULL,"
	" endpoint text NOT NULL,"
	" upstream_endpoint text NOT NULL,"
	" model_requested text NOT NULL,"
	" deployment text NOT NULL,"
	" provider text NOT NULL,"
	" priced_as text NOT NULL,"
	" usage_shape text NOT NULL,"
	" service_tier text NOT NULL,"
	" price_generation bigint NOT NULL,"
	" prompt_tokens bigint NOT NULL,"
	" completion_tokens bigint NOT NULL,"
	" total_tokens bigint NOT NULL,"
	" tokens jsonb NOT NULL,"
	" cost_parts jsonb NOT NULL,"
	" spend numeric(38, 12) NOT NULL,"
	" spend_pico bigint NOT NULL,"
	" flags text[] NOT NULL,"
	" usage_flags integer NOT NULL,"
	" shipped_at timestamptz NOT NULL DEFAULT now())",
	"CREATE INDEX tollgate_spend_end_time ON tollgate_spend (end_time)",
	"CREATE INDEX tollgate_spend_key_time ON tollgate_spend (api_key, end_time)",
	"CREATE INDEX tollgate_spend_host_time ON tollgate_spend (host_id, end_time)",
	"CREATE VIEW tollgate_spend_daily AS SELECT"
	" (end_time AT TIME ZONE 'UTC')::date AS day, host_id, api_key, model_requested, team_id,"
	" user_id, customer, count(*) AS requests, sum(prompt_tokens) AS prompt_tokens,"
	" sum(completion_tokens) AS completion_tokens, sum(spend) AS spend,"
	" sum(spend_pico) AS spend_pico FROM tollgate_spend GROUP BY 1, 2, 3, 4, 5, 6, 7",
	NULL
};

/* LiteLLM's table, as a view of tollgate's (spend as LiteLLM types it; the exact one stays). */
static const char litellm_view[] =
	"CREATE VIEW \"LiteLLM_SpendLogs\" AS SELECT request_id,"
	" 'acompletion'::text AS call_type, api_key, spend::double precision AS spend,"
	" total_tokens::integer AS total_tokens, prompt_tokens::integer AS prompt_tokens,"
	" completion_tokens::integer AS completion_tokens, start_time AS \"startTime\","
	" end_time AS \"endTime\", first_byte_time AS \"completionStartTime\","
	" model_requested AS model, deployment AS model_id, model_requested AS model_group,"
	" provider AS custom_llm_provider, ''::text AS api_base, user_id AS \"user\","
	" jsonb_build_object('host_id', host_id, 'endpoint', endpoint, 'upstream_endpoint',"
	" upstream_endpoint, 'priced_as', priced_as, 'flags', to_jsonb(flags)) AS metadata,"
	" 'False'::text AS cache_hit, ''::text AS cache_key,"
	" to_jsonb(coalesce(string_to_array(nullif(tags, ''), ','), '{}'::text[])) AS request_tags,"
	" nullif(team_id, '') AS team_id, nullif(customer, '') AS end_user,"
	" CASE WHEN status BETWEEN 200 AND 399 THEN 'success' ELSE 'failure' END AS status"
	" FROM tollgate_spend";

/* Version 2: the fleet's virtual keys. */
static const char *const migration_2[] = {
	"CREATE SEQUENCE tollgate_keys_change",
	"CREATE TABLE tollgate_keys ("
	" hash bytea PRIMARY KEY,"
	" value bytea NOT NULL,"
	" updated_ns bigint NOT NULL,"
	" host_id text NOT NULL,"
	" change bigint NOT NULL DEFAULT nextval('tollgate_keys_change'),"
	" changed_at timestamptz NOT NULL DEFAULT now())",
	"CREATE INDEX tollgate_keys_by_change ON tollgate_keys (change)",
	NULL
};

static const char *const *const migrations[PGSHIP_SCHEMA_VERSION] = { migration_1, migration_2 };

/* libpq's message, its last newline dropped. */
static void
pq_error(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, errlen, "PostgreSQL: %s: %s", what, msg && *msg ? msg : "(no message)");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == '\r'))
		err[--n] = '\0';
}

/* Runs sql with no result wanted; 0, or -1 with why. */
static int
exec(struct pgship *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->conn, sql);
	int ok = r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);

	if (!ok)
		pq_error(err, errlen, what, r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
	PQclear(r);
	return ok ? 0 : -1;
}

/* The schema's version (0: none yet), read inside the caller's transaction. */
static int
schema_version(struct pgship *s, int *version, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM tollgate_schema");
	int ok = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

	if (ok)
		*version = atoi(PQgetvalue(r, 0, 0));
	else
		pq_error(err, errlen, "reading the schema version", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(s->conn));
	PQclear(r);
	return ok ? 0 : -1;
}

static int
migrate(struct pgship *s, char *err, size_t errlen)
{
	char sql[128];
	PGresult *r;
	int version, v, i, free_name;

	if (exec(s, "BEGIN", "starting the schema's transaction", err, errlen) < 0)
		return -1;
	if (exec(s, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", "locking the schema", err,
	    errlen) < 0 ||
	    exec(s, "CREATE TABLE IF NOT EXISTS tollgate_schema (version integer PRIMARY KEY,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", "creating tollgate_schema", err,
	    errlen) < 0 || schema_version(s, &version, err, errlen) < 0)
		goto fail;
	if (version > PGSHIP_SCHEMA_VERSION) {
		snprintf(err, errlen, "PostgreSQL: the database's tollgate schema is version %d, newer "
		    "than this tollgate's (%d): upgrade tollgate", version, PGSHIP_SCHEMA_VERSION);
		goto fail;
	}
	for (v = version + 1; v <= PGSHIP_SCHEMA_VERSION; v++) {
		for (i = 0; migrations[v - 1][i] != NULL; i++)
			if (exec(s, migrations[v - 1][i], "migrating the schema", err, errlen) < 0)
				goto fail;
		snprintf(sql, sizeof(sql), "INSERT INTO tollgate_schema (version) VALUES (%d)", v);
		if (exec(s, sql, "recording the schema version", err, errlen) < 0)
			goto fail;
	}
	/* LiteLLM's names, unless its own table is there */
	r = PQexec(s->conn, "SELECT to_regclass('\"LiteLLM_SpendLogs\"') IS NULL");
	free_name = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (free_name && exec(s, litellm_view, "creating the LiteLLM_SpendLogs view", err,
	    errlen) < 0)
		goto fail;
	return exec(s, "COMMIT", "committing the schema", err, errlen);
fail:
	PQclear(PQexec(s->conn, "ROLLBACK"));
	return -1;
}

int
pgship_open(const char *dsn, struct pgship **out, char *err, size_t errlen)
{
	struct pgship *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "PostgreSQL: out of memory");
		return -1;
	}
	s->conn = PQconnectdb(dsn);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		pq_error(err, errlen, "cannot connect", s->conn ? PQerrorMessage(s->conn) :
		    "out of memory");
		pgship_close(s);
		return -1;
	}
	PQclear(PQexec(s->conn, "SET client_min_messages = warning"));
	if (migrate(s, err, errlen) < 0) {
		pgship_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
pgship_close(struct pgship *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	free(s);
}

/* ---- rows ------------------------------------------------------------------------ */

#define COLUMNS	30

/*
 * Appends the first n bytes of s (NUL-terminated within them) as text
 * PostgreSQL takes: valid UTF-8 kept, any other byte a '?', so that one
 * client's odd header can never make a batch unsendable for ever.
 */
static int
put_text(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, k, len;
	const unsigned char *u = (const unsigned char *)s;

	n = strnlen(s, n);
	while (i < n) {
		len = u[i] < 0x80 ? 1 : (u[i] & 0xe0) == 0xc0 ? 2 : (u[i] & 0xf0) == 0xe0 ? 3 :
		    (u[i] & 0xf8) == 0xf0 ? 4 : 0;
		for (k = 1; len > 1 && k < len; k++)
			if (i + k >= n || (u[i + k] & 0xc0) != 0x80)
				len = 0;
		if (len == 2 && u[i] < 0xc2)
			len = 0;	/* overlong */
		if (len == 0) {
			if (buf_append(b, "?", 1) < 0)
				return -1;
			i++;
			continue;
		}
		if (buf_append(b, s + i, len) < 0)
			return -1;
		i += len;
	}
	return buf_append(b, "", 1);	/* the value's NUL: values are read from offsets */
}

static int
put_time(struct buf *b, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char s[64];

	gmtime_r(&t, &tm);
	strftime(s, 32, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(s + strlen(s), sizeof(s) - strlen(s), ".%06lld+00",
	    (long long)(ns % 1000000000 / 1000));
	return buf_append(b, s, strlen(s) + 1);
}

static int
put_int(struct buf *b, long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", v);
	return buf_append(b, s, strlen(s) + 1);
}

/* The row of r: COLUMNS values at b, each NUL-terminated; a NULL is marked in nulls. */
static int
put_row(struct buf *b, const char *host, const struct record *r, unsigned char *nulls)
{
	static const int prompt[] = { RECORD_TOK_INPUT, RECORD_TOK_CACHE_READ,
		RECORD_TOK_CACHE_WRITE_5M, RECORD_TOK_CACHE_WRITE_1H, RECORD_TOK_AUDIO_IN,
		RECORD_TOK_IMAGE_IN, RECORD_TOK_TOOL_PROMPT };
	static const int completion[] = { RECORD_TOK_OUTPUT, RECORD_TOK_REASONING,
		RECORD_TOK_AUDIO_OUT, RECORD_TOK_IMAGE_OUT };
	char money[MONEY_FORMAT_MAX];
	long long p = 0, c = 0;
	unsigned i, first;
	int rc = 0;

	for (i = 0; i < sizeof(prompt) / sizeof(prompt[0]); i++)
		p += r->tokens[prompt[i]];
	for (i = 0; i < sizeof(completion) / sizeof(completion[0]); i++)
		c += r->tokens[completion[i]];
	memset(nulls, 0, COLUMNS);
	rc |= put_text(b, r->id, sizeof(r->id));
	/* the host that served it, else (a record from before records said) the shipper's */
	if (r->host[0] != '\0')
		host = r->host;
	rc |= put_text(b, host, strlen(host) + 1);
	rc |= put_time(b, r->start_ns);
	nulls[3] = r->first_byte_ns == 0;
	rc |= r->first_byte_ns ? put_time(b, r->first_byte_ns) : buf_append(b, "", 1);
	rc |= put_time(b, r->end_ns);
	rc |= put_int(b, r->worker);
	rc |= put_int(b, r->status);
	rc |= put_text(b, r->key, sizeof(r->key));
	rc |= put_text(b, r->user, sizeof(r->user));
	rc |= put_text(b, r->team, sizeof(r->team));
	rc |= put_text(b, r->customer, sizeof(r->customer));
	rc |= put_text(b, r->tags, sizeof(r->tags));
	rc |= put_text(b, r->endpoint, sizeof(r->endpoint));
	rc |= put_text(b, r->upstream, sizeof(r->upstream));
	rc |= put_text(b, r->model_requested, sizeof(r->model_requested));
	rc |= put_text(b, r->deployment, sizeof(r->deployment));
	rc |= put_text(b, r->provider, sizeof(r->provider));
	rc |= put_text(b, r->priced_as, sizeof(r->priced_as));
	rc |= put_text(b, r->shape, sizeof(r->shape));
	rc |= put_text(b, r->tier, sizeof(r->tier));
	rc |= put_int(b, (long long)r->generation);
	rc |= put_int(b, p);
	rc |= put_int(b, c);
	rc |= put_int(b, p + c);
	rc |= buf_append(b, "{", 1);
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		rc |= buf_printf(b, "%s\"%s\": %lld", i ? ", " : "", record_token_name(i),
		    (long long)r->tokens[i]);
	rc |= buf_append(b, "}", 2);
	rc |= buf_append(b, "{", 1);
	for (i = 0; i < COST_PART_COUNT; i++)
		rc |= buf_printf(b, "%s\"%s\": %s", i ? ", " : "", cost_part_name((enum cost_part)i),
		    money_format(r->cost[i], MONEY_COST_SCALE, money));
	rc |= buf_append(b, "}", 2);
	rc |= buf_printf(b, "%s", money_format(r->total, MONEY_COST_SCALE, money));
	rc |= buf_append(b, "", 1);
	rc |= put_int(b, (long long)r->total);
	rc |= buf_append(b, "{", 1);
	for (i = 0, first = 1; i < RECORD_FLAG_COUNT; i++)
		if (r->flags & (1u << i)) {
			rc |= buf_printf(b, "%s%s", first ? "" : ",", record_flag_name(i));
			first = 0;
		}
	rc |= buf_append(b, "}", 2);
	rc |= put_int(b, r->usage_flags);
	return rc;
}

#define COLUMN_LIST "request_id, host_id, start_time, first_byte_time, end_time, worker, status," \
	" api_key, user_id, team_id, customer, tags, endpoint, upstream_endpoint, model_requested," \
	" deployment, provider, priced_as, usage_shape, service_tier, price_generation, prompt_tokens," \
	" completion_tokens, total_tokens, tokens, cost_parts, spend, spend_pico, flags, usage_flags"

/*
 * Appends the COLUMNS NUL-terminated values at v (nulls marking NULLs) as
 * one line of COPY's text format: tab-separated, \N for NULL, backslash,
 * tab, newline and carriage return escaped.
 */
static void
copy_line(struct buf *out, const char *v, const unsigned char *nulls, int *rc)
{
	const char *p = v;
	size_t j;

	for (j = 0; j < COLUMNS; j++) {
		if (j)
			*rc |= buf_append(out, "\t", 1);
		if (nulls[j])
			*rc |= buf_append(out, "\\N", 2);
		for (; !nulls[j] && *p; p++) {
			const char *e = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ?
			    "\\n" : *p == '\r' ? "\\r" : NULL;

			*rc |= e ? buf_append(out, e, 2) : buf_append(out, p, 1);
		}
		p += strlen(p) + 1;
	}
	*rc |= buf_append(out, "\n", 1);
}

/*
 * One batch: COPY into a temporary table (COPY is several times faster
 * than an INSERT of as many rows), then moved into tollgate_spend, rows
 * already there left as they are, all in one transaction.
 */
int
pgship_send(struct pgship *s, const char *host, const struct record *recs, size_t n,
    size_t *added, char *err, size_t errlen)
{
	struct buf vals = { 0 }, lines = { 0 };
	unsigned char nulls[COLUMNS];
	PGresult *r = NULL;
	size_t i;
	int rc = 0;

	*added = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n && rc == 0; i++) {
		vals.len = 0;
		rc |= put_row(&vals, host, &recs[i], nulls);
		copy_line(&lines, vals.data, nulls, &rc);
	}
	buf_release(&vals);
	if (rc != 0) {
		buf_release(&lines);
		snprintf(err, errlen, "PostgreSQL: out of memory building a batch");
		return -1;
	}
	rc = -1;
	if (exec(s, "BEGIN", "starting a batch", err, errlen) < 0 ||
	    exec(s, "CREATE TEMP TABLE IF NOT EXISTS tollgate_incoming"
	    " (LIKE tollgate_spend INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
	    "making the batch's table", err, errlen) < 0)
		goto out;
	r = PQexec(s->conn, "COPY tollgate_incoming (" COLUMN_LIST ") FROM STDIN");
	if (r == NULL || PQresultStatus(r) != PGRES_COPY_IN) {
		pq_error(err, errlen, "copying records", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(s->conn));
		goto out;
	}
	PQclear(r);
	r = NULL;
	if (PQputCopyData(s->conn, lines.data, (int)lines.len) != 1 ||
	    PQputCopyEnd(s->conn, NULL) != 1) {
		pq_error(err, errlen, "copying records", PQerrorMessage(s->conn));
		goto out;
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		int bad = PQresultStatus(r) != PGRES_COMMAND_OK;

		if (bad)
			pq_error(err, errlen, "copying records", PQresultErrorMessage(r));
		PQclear(r);
		r = NULL;
		if (bad)
			goto out;
	}
	r = PQexec(s->conn, "INSERT INTO tollgate_spend (" COLUMN_LIST ") SELECT " COLUMN_LIST
	    " FROM tollgate_incoming ON CONFLICT (request_id) DO NOTHING");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pq_error(err, errlen, "writing records", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(s->conn));
		goto out;
	}
	*added = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
	if (exec(s, "COMMIT", "committing a batch", err, errlen) < 0)
		goto out;
	rc = 0;
out:
	PQclear(r);
	if (rc < 0)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	buf_release(&lines);
	return rc;
}

/* ---- the fleet's keys ------------------------------------------------------------ */

static void
be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

int
pgship_key_put(struct pgship *s, const char *host, const unsigned char *hash, size_t hashlen,
    const void *value, size_t len, int64_t updated_ns, char *err, size_t errlen)
{
	unsigned char upd[8];
	const char *params[4] = { (const char *)hash, value, (const char *)upd, host };
	int lens[4] = { (int)hashlen, (int)len, 8, 0 }, formats[4] = { 1, 1, 1, 0 };
	Oid types[4] = { 17, 17, 20, 25 };	/* bytea, bytea, int8, text */
	PGresult *r;
	int rc = 0;

	be64(upd, (uint64_t)updated_ns);
	r = PQexecParams(s->conn, "INSERT INTO tollgate_keys (hash, value, updated_ns, host_id) "
	    "VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO UPDATE SET value = EXCLUDED.value, "
	    "updated_ns = EXCLUDED.updated_ns, host_id = EXCLUDED.host_id, "
	    "change = nextval('tollgate_keys_change'), changed_at = now() "
	    "WHERE tollgate_keys.updated_ns < EXCLUDED.updated_ns", 4, types, params, lens, formats, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pq_error(err, errlen, "writing a key", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(s->conn));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int
pgship_keys_after(struct pgship *s, int64_t *seq, pgship_key_fn fn, void *arg, char *err,
    size_t errlen)
{
	char after[24];
	const char *params[1] = { after };
	PGresult *r;
	int i, rc = 0;

	snprintf(after, sizeof(after), "%lld", (long long)*seq);
	/* in change order, binary: the values as stored */
	r = PQexecParams(s->conn, "SELECT hash, value, change FROM tollgate_keys WHERE change > "
	    "$1::bigint ORDER BY change", 1, NULL, params, NULL, NULL, 1);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		pq_error(err, errlen, "reading the fleet's keys", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(s->conn));
		PQclear(r);
		return -1;
	}
	for (i = 0; i < PQntuples(r) && rc == 0; i++) {
		const unsigned char *c = (const unsigned char *)PQgetvalue(r, i, 2);
		uint64_t v = 0;
		int k;

		for (k = 0; k < 8 && PQgetlength(r, i, 2) == 8; k++)
			v = v << 8 | c[k];
		if (fn(arg, (const unsigned char *)PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0),
		    PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1)) != 0)
			rc = -1;
		else
			*seq = (int64_t)v;
	}
	if (rc < 0)
		snprintf(err, errlen, "a key of the fleet could not be kept here");
	PQclear(r);
	return rc;
}
