/*
 * The fleet ledger in PostgreSQL: the schema tollgate creates and migrates
 * (versioned, in tollgate_schema), and batches of records written there in
 * one transaction each, idempotent by request id (ON CONFLICT DO NOTHING),
 * so that a batch sent twice (a crash between PostgreSQL's commit and the
 * local position's) is counted once.  The shipper process (shipper.c) calls
 * it; libpq, blocking, in that process only.
 *
 * Tables: tollgate_spend (a row per record, with the host it came from;
 * amounts exact: spend numeric and spend_pico, integer picodollars);
 * views: tollgate_spend_daily (the day aggregates, per host, key, model,
 * team, user and customer, summed from the rows, so that they cannot
 * disagree with them) and "LiteLLM_SpendLogs" (LiteLLM's column names, for
 * the SQL and dashboards written against LiteLLM's table; made only where
 * no relation of that name exists, as in LiteLLM's own database).
 */
#ifndef TOLLGATE_PGSHIP_H
#define TOLLGATE_PGSHIP_H

#include <stddef.h>

#include "record.h"

#define PGSHIP_SCHEMA_VERSION	2	/* 2: tollgate_keys */

struct pgship;

/*
 * Connects with dsn and brings the schema to PGSHIP_SCHEMA_VERSION (a
 * database of a newer version is refused).  0 and *out, or -1 with why in
 * err (libpq's words: they never hold the password).
 */
int pgship_open(const char *dsn, struct pgship **out, char *err, size_t errlen);
void pgship_close(struct pgship *s);

/*
 * Writes n records of host in one transaction; *added: the rows that were
 * new (the rest were there already).  0, or -1 with why (the connection is
 * then to be closed and opened again).
 */
int pgship_send(struct pgship *s, const char *host, const struct record *recs, size_t n,
    size_t *added, char *err, size_t errlen);

/*
 * The fleet's virtual keys (tollgate_keys: the key as a host stores it, by
 * the hash of its secret, never the secret; each change numbered by a
 * sequence of the database's, so that no host's clock decides what is
 * new).  pgship_key_put() writes a host's key unless the database has it
 * as new or newer; pgship_keys_after() visits the keys changed after
 * change number *seq and moves *seq past them.  0, or -1 with why.
 */
int pgship_key_put(struct pgship *s, const char *host, const unsigned char *hash, size_t hashlen,
    const void *value, size_t len, int64_t updated_ns, char *err, size_t errlen);
typedef int (*pgship_key_fn)(void *arg, const unsigned char *hash, size_t hashlen,
    const void *value, size_t len);
int pgship_keys_after(struct pgship *s, int64_t *seq, pgship_key_fn fn, void *arg, char *err,
    size_t errlen);

#endif
