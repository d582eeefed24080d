/*
 * Virtual keys: the API keys tollgate hands to applications, each with its
 * owner, allowed models, budgets and rate limits (LiteLLM's /key/generate
 * semantics).  Workers look a key up by its secret on every request;
 * tollctl creates, lists, changes and revokes keys.
 *
 * A secret is "sk-" and 43 base62 digits (32 random bytes).  It is returned
 * once, by keys_create(), and never stored: the "keys" database of the
 * ledger's LMDB environment maps the SHA-256 of the whole secret (32 bytes,
 * the key's token, shown as 64 hex digits) to the key's attributes.  Only a
 * hint ("sk-abcde...wxyz") is kept to tell keys apart.
 *
 * Every lookup reads a fresh transaction, so a change committed by one
 * process (tollctl) is seen by the next lookup in every other (the workers).
 * Changes are synced to disk before they return: a revocation must survive
 * a power loss.
 */
#ifndef TOLLGATE_KEYS_H
#define TOLLGATE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "window.h"

#define KEYS_UNSET		INT64_MIN	/* no limit, no expiry, not revoked */
#define KEYS_HASH_LEN		32
#define KEYS_HEX_LEN		64
#define KEYS_SECRET_LEN		46		/* "sk-" and 43 base62 digits */
#define KEYS_HINT_MAX		16		/* "sk-abcde...wxyz" and its NUL */
#define KEYS_NAME_MAX		127		/* alias, user_id, team_id, customer, a model */
#define KEYS_TAGS_MAX		255		/* all tags joined with commas */
#define KEYS_METADATA_MAX	65536

/* The attributes, as bits of keys_attrs.set. */
#define KEYS_F_ALIAS		(1u << 0)
#define KEYS_F_USER		(1u << 1)
#define KEYS_F_TEAM		(1u << 2)
#define KEYS_F_CUSTOMER		(1u << 3)
#define KEYS_F_MODELS		(1u << 4)
#define KEYS_F_TAGS		(1u << 5)
#define KEYS_F_MAX_BUDGET	(1u << 6)
#define KEYS_F_SOFT_BUDGET	(1u << 7)
#define KEYS_F_BUDGET_DURATION	(1u << 8)
#define KEYS_F_RPM		(1u << 9)
#define KEYS_F_TPM		(1u << 10)
#define KEYS_F_EXPIRES		(1u << 11)
#define KEYS_F_METADATA		(1u << 12)
#define KEYS_F_MODEL_BUDGETS	(1u << 13)
#define KEYS_F_ALL		((1u << 14) - 1)

/*
 * What a key may do.  Strings are NUL-terminated; NULL (or "") is none.
 * Limits and times are KEYS_UNSET when absent.  In a change (keys_update)
 * or a request (keys_from_json), set says which fields are given; a field
 * given as none removes it.  Decoded keys have every bit of set.
 */
struct keys_attrs {
	unsigned	  set;
	const char	 *alias;		/* unique among live keys; not "sk-...", not 64 hex */
	const char	 *user_id, *team_id;
	const char	 *customer;		/* the end user the key belongs to */
	const char	**models;		/* allowed model names; none: every model */
	size_t		  nmodels;
	const char	**tags;			/* no commas */
	size_t		  ntags;
	int64_t		  max_budget;		/* picodollars: refuse beyond it */
	int64_t		  soft_budget;		/* picodollars: warn beyond it, <= max_budget */
	const char	 *budget_duration;	/* "30d", "1mo": window.h; none: never resets */
	int64_t		  rpm_limit, tpm_limit;	/* requests, tokens per minute */
	int64_t		  expires_ns;		/* unix ns */
	const char	 *metadata;		/* a JSON object's text */
	const char	**model_budgets;	/* "MODEL=USD" or "MODEL=USD/DURATION": a budget of
						   the key's spend on one model (LiteLLM's
						   model_max_budget) */
	size_t		  nmodel_budgets;
};

/* One of a key's model budgets, parsed. */
struct keys_model_budget {
	char		model[KEYS_NAME_MAX + 1];
	int64_t		max_budget;	/* picodollars */
	int		has_window;	/* 0: never resets */
	struct window	window;
	char		duration[WINDOW_TEXT_MAX];
};

/*
 * A decoded key.  Its strings and lists live in mem, which the next decode
 * into the same struct reuses (it only grows), so a worker that keeps one
 * struct for its lookups does no allocation once warm.  Zero it before its
 * first use; keys_key_release() frees mem.
 */
struct keys_key {
	unsigned char	  hash[KEYS_HASH_LEN];
	char		  hint[KEYS_HINT_MAX];
	struct keys_attrs a;
	int64_t		  created_ns, updated_ns;
	int		  revoked;
	int64_t		  revoked_ns;
	char		 *mem;
	size_t		  memcap;
};

enum keys_state { KEYS_ACTIVE, KEYS_REVOKED, KEYS_EXPIRED };

/*
 * Parses "MODEL=USD" or "MODEL=USD/DURATION" (the last '=' splits) into out.
 * 0, or -1 with "model_max_budget: ..." in err.
 */
int keys_model_budget_parse(const char *text, struct keys_model_budget *out, char *err,
    size_t errlen);
/* k's budget for model into out: 1, or 0 when it has none. */
int keys_model_budget_find(const struct keys_key *k, const char *model,
    struct keys_model_budget *out);

struct keys;
struct ledger;
struct buf;

/* Every field none, set empty. */
void keys_attrs_init(struct keys_attrs *a);

/*
 * Opens the key store in l's environment.  With a ledger opened LEDGER_WRITE
 * the "keys" database is created; with LEDGER_READ the store reads as empty
 * until a writer creates it.  l must outlive the store.  Returns 0 and *out,
 * or -1 with why in err.
 */
int keys_open(struct ledger *l, struct keys **out, char *err, size_t errlen);
void keys_close(struct keys *ks);

/*
 * Creates a key with the attributes of a (fields outside a->set are none)
 * at now_ns.  Fills secret (KEYS_SECRET_LEN + 1 bytes): the only copy there
 * will ever be.  out, when not NULL, receives the key as stored.  Returns 0,
 * or -1 with why in err (a message naming the field when an attribute is
 * refused).  Needs a ledger opened LEDGER_WRITE.
 */
int keys_create(struct keys *ks, const struct keys_attrs *a, int64_t now_ns,
    char secret[KEYS_SECRET_LEN + 1], struct keys_key *out, char *err, size_t errlen);

/*
 * The key whose secret is the len bytes at secret, into out (revoked and
 * expired keys too: see keys_state()).  The request path: one hash, one
 * read transaction, no allocation of its own once out is warm.  Returns 0,
 * 1 when no key has that secret, or -1 with why in err.
 */
int keys_lookup_secret(struct keys *ks, const char *secret, size_t len, struct keys_key *out,
    char *err, size_t errlen);

/*
 * The key named by ref: its token (64 hex digits), its secret ("sk-..."),
 * or its alias (a live key's first, else the newest revoked one).  Returns
 * 0, 1 when there is none, or -1 with why in err.
 */
int keys_get(struct keys *ks, const char *ref, struct keys_key *out, char *err, size_t errlen);

/*
 * Changes the fields of changes->set of the key with token hash, at now_ns;
 * the others are kept.  out, when not NULL, receives the key as stored.
 * Returns 0, 1 when there is no such key, or -1 with why in err (also when
 * the key is revoked).
 */
int keys_update(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN],
    const struct keys_attrs *changes, int64_t now_ns, struct keys_key *out, char *err,
    size_t errlen);

/*
 * Revokes the key with token hash at now_ns: lookups still find it, and
 * keys_state() says KEYS_REVOKED.  Revoking a revoked key keeps its first
 * time.  Returns 0, 1 when there is no such key, or -1 with why in err.
 */
int keys_revoke(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN], int64_t now_ns,
    char *err, size_t errlen);

/*
 * Visits every key, oldest first, in one read transaction; stops when fn
 * returns non-zero.  k is valid during the call only, and fn must not call
 * into the store.  Returns 0, or -1 with why in err.
 */
typedef int (*keys_visit_fn)(void *arg, const struct keys_key *k);
int keys_list(struct keys *ks, keys_visit_fn fn, void *arg, char *err, size_t errlen);

void keys_key_release(struct keys_key *k);

/*
 * The fleet's copy of the key store (the shipper keeps one in PostgreSQL):
 * keys as stored, by the hash of their secret (never the secret).
 * keys_each_stored() visits those updated after since_ns (fn non-zero
 * stops); keys_put_stored() writes one unless the one here is as new or
 * newer (returns 1 then), so that every host ends with each key's latest
 * change, a revocation included.  0, or -1 with err.
 */
typedef int (*keys_stored_fn)(void *arg, const unsigned char *hash, const void *value,
    size_t len, int64_t updated_ns);
int keys_each_stored(struct keys *ks, int64_t since_ns, keys_stored_fn fn, void *arg, char *err,
    size_t errlen);
int keys_put_stored(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN], const void *value,
    size_t len, char *err, size_t errlen);

/*
 * Checks attributes against the rules above (lengths, no control
 * characters, aliases that cannot be read as a token or secret, tags
 * without commas, soft_budget <= max_budget, a budget_duration that
 * window_parse() takes, metadata that jansson reads as an object).  Every
 * field is checked, whether in a->set or not: start from keys_attrs_init().
 * keys_create() and keys_update() check the resulting key themselves; this
 * lets a caller report errors before it opens anything.  Returns 0, or -1
 * with "field: why" in err.
 */
int keys_check_attrs(const struct keys_attrs *a, char *err, size_t errlen);

/* Whether k may be used at now_ns: revoked wins over expired. */
enum keys_state keys_state(const struct keys_key *k, int64_t now_ns);
const char *keys_state_name(enum keys_state s);

/* The token as 64 lower-case hex digits and a NUL. */
void keys_hash_hex(const unsigned char hash[KEYS_HASH_LEN], char hex[KEYS_HEX_LEN + 1]);

/*
 * Amounts of USD as decimal text ("10", "10.50", "0.0001", "1e-4") into
 * picodollars, exactly: never through a double; an amount with a non-zero
 * digit beyond the twelfth decimal place is refused rather than rounded,
 * and so is a negative one.  Counts (rpm, tpm) are whole numbers >= 0.
 * Returns 0, or -1 with "'text' ..." in err.
 */
int keys_parse_money(const char *s, size_t len, int64_t *out, char *err, size_t errlen);
int keys_parse_count(const char *s, size_t len, int64_t *out, char *err, size_t errlen);

/*
 * Parses a LiteLLM /key/generate or /key/update request object into out
 * (out->a.set: the fields given): key_alias, user_id, team_id, customer,
 * models, tags, max_budget, soft_budget, budget_duration, rpm_limit,
 * tpm_limit, expires (RFC 3339) or duration ("30d": expires that long after
 * now_ns, window_advance()), metadata (an object).  null gives a field as
 * none.  Money is a JSON number or a string, read from its text exactly
 * (keys_parse_money), never through a double.  The response fields
 * keys_to_json() writes are ignored, so a key's JSON can be sent back;
 * blocked and revoked must then be false.  Any other field is refused
 * unless it is null, and so are a wrong type or value, with a message
 * naming the field.  Returns 0, or -1 with why in err.
 */
int keys_from_json(const char *json, size_t len, int64_t now_ns, struct keys_key *out,
    char *err, size_t errlen);
/* The same for a /key/update body, whose "key" names the key to change and is skipped. */
int keys_update_from_json(const char *json, size_t len, int64_t now_ns, struct keys_key *out,
    char *err, size_t errlen);

/*
 * Appends k as a LiteLLM /key/generate response object: key (only when
 * secret is given, right after creation), token, key_alias, key_name (the
 * hint), user_id, team_id, customer, models, tags, max_budget, soft_budget
 * (exact decimal numbers of USD), budget_duration, rpm_limit, tpm_limit,
 * expires, metadata, created_at, updated_at, blocked, revoked, revoked_at;
 * times in RFC 3339 UTC, absent values null.  Returns 0, or -1 on ENOMEM.
 */
int keys_to_json(const struct keys_key *k, const char *secret, struct buf *out);

#endif
