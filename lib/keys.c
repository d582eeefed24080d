/*
 * The virtual-key store (see keys.h): secrets, the encoding of a key and
 * the rules its attributes follow, over a backend that holds the bytes
 * (keystore.h; LMDB's in keystore_lmdb.c).  Workers call
 * keys_lookup_secret() per request; tollctl calls the rest.  The JSON forms
 * are in keys_json.c.
 *
 * A key is stored under the SHA-256 of its secret as this layout (integers
 * big endian):
 *
 *	1 byte	layout, KEYS_LAYOUT
 *	1 byte	flags: bit 0 revoked
 *	8 x 8	max_budget, soft_budget, rpm_limit, tpm_limit, expires,
 *		created, updated, revoked_at (INT64_MIN: none)
 *	7 strings	hint, alias, user_id, team_id, customer, budget_duration,
 *		metadata (compact JSON): each a 4-byte length, the bytes and a
 *		NUL (length 0: none)
 *	3 lists	models, tags, model budgets ("MODEL=USD[/DURATION]"): each a
 *		4-byte count and that many strings (layout 1 has the first two)
 *
 * The NULs let a decoded key point straight into one copy of the value.
 * Any other layout is refused (a newer tollgate wrote it) rather than
 * half-read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "keys.h"
#include "keystore.h"
#include "log.h"
#include "window.h"

#define KEYS_LAYOUT	2	/* 1: without model budgets, still read */
#define HEAD_LEN	(2 + 8 * NINT)
#define FLAG_REVOKED	0x01
#define MAX_MODELS	1000
#define MAX_TAGS	64
#define SECRET_RANDOM	32
#define SECRET_DIGITS	43	/* 62^43 > 2^256 */

/* Results of a change (besides KEYSTORE_FULL: the store grows and it runs again). */
#define RC_REFUSED	(-1)	/* err says why */
#define RC_ABSENT	(-2)	/* no such key */

enum { I_MAX, I_SOFT, I_RPM, I_TPM, I_EXPIRES, I_CREATED, I_UPDATED, I_REVOKED, NINT };
enum { S_HINT, S_ALIAS, S_USER, S_TEAM, S_CUSTOMER, S_DURATION, S_METADATA, NSTR };

struct keys {
	struct keystore	*store;
	const struct keystore_ops *ops;
	EVP_MD		*sha256;
	EVP_MD_CTX	*md;		/* reused: one digest context per store */
	struct buf	 scratch;	/* one encoded key */
};

static const char base62_digits[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* --- encoding ----------------------------------------------------------- */

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

static int
put_str(struct buf *b, const char *s)
{
	unsigned char len[4];
	size_t n = s ? strlen(s) : 0;

	put_be(len, n, 4);
	return buf_append(b, len, 4) < 0 || buf_append(b, s ? s : "", n + 1) < 0 ? -1 : 0;
}

/*
 * Metadata is stored without the whitespace between tokens, so that it
 * prints on one line; the tokens themselves (numbers above all) are kept
 * as they were written.  The text is valid JSON (keys_check_attrs()).
 */
static int
put_compact_json(struct buf *b, const char *s)
{
	size_t at = b->len, n;
	int in_string = 0, escaped = 0;

	if (buf_append(b, "\0\0\0\0", 4) < 0)
		return -1;
	for (; s && *s; s++) {
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (*s == '\\')
				escaped = 1;
			else if (*s == '"')
				in_string = 0;
		} else if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			continue;
		else if (*s == '"')
			in_string = 1;
		if (buf_append(b, s, 1) < 0)
			return -1;
	}
	n = b->len - at - 4;
	put_be((unsigned char *)b->data + at, n, 4);
	return buf_append(b, "", 1);
}

static int
put_list(struct buf *b, const char *const *v, size_t n)
{
	unsigned char count[4];
	size_t i;

	put_be(count, n, 4);
	if (buf_append(b, count, 4) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (put_str(b, v[i]) < 0)
			return -1;
	return 0;
}

/* Encodes k into b (emptied first); 0 or -1 on ENOMEM. */
static int
encode(const struct keys_key *k, struct buf *b)
{
	const struct keys_attrs *a = &k->a;
	const int64_t ints[NINT] = {
		[I_MAX] = a->max_budget, [I_SOFT] = a->soft_budget,
		[I_RPM] = a->rpm_limit, [I_TPM] = a->tpm_limit, [I_EXPIRES] = a->expires_ns,
		[I_CREATED] = k->created_ns, [I_UPDATED] = k->updated_ns,
		[I_REVOKED] = k->revoked ? k->revoked_ns : KEYS_UNSET,
	};
	unsigned char head[HEAD_LEN];
	int i;

	b->len = 0;
	/* layout 1 while there are no model budgets: an older tollgate still reads the key */
	head[0] = a->nmodel_budgets ? KEYS_LAYOUT : 1;
	head[1] = k->revoked ? FLAG_REVOKED : 0;
	for (i = 0; i < NINT; i++)
		put_be(head + 2 + 8 * i, (uint64_t)ints[i], 8);
	if (buf_append(b, head, sizeof(head)) < 0 || put_str(b, k->hint) < 0 ||
	    put_str(b, a->alias) < 0 || put_str(b, a->user_id) < 0 ||
	    put_str(b, a->team_id) < 0 || put_str(b, a->customer) < 0 ||
	    put_str(b, a->budget_duration) < 0 || put_compact_json(b, a->metadata) < 0 ||
	    put_list(b, a->models, a->nmodels) < 0 || put_list(b, a->tags, a->ntags) < 0 ||
	    (a->nmodel_budgets && put_list(b, a->model_budgets, a->nmodel_budgets) < 0))
		return -1;
	return 0;
}

/* Reads the string at *off; NULL for an empty one.  0, or -1 when malformed. */
static int
get_str(const unsigned char *p, size_t len, size_t *off, const char **s)
{
	size_t n;

	if (len - *off < 4)
		return -1;
	n = (size_t)get_be(p + *off, 4);
	*off += 4;
	if (len - *off < n + 1 || p[*off + n] != '\0' || memchr(p + *off, '\0', n) != NULL)
		return -1;
	*s = n ? (const char *)p + *off : NULL;
	*off += n + 1;
	return 0;
}

/*
 * Walks an encoded key.  Counting (k NULL): checks the layout and sets
 * *nlist to the number of list items.  Filling: points k's strings into p
 * and its lists into ptrs.  0, -1 when malformed, -2 for another layout.
 */
static int
walk(const unsigned char *p, size_t len, struct keys_key *k, const char **ptrs, size_t *nlist)
{
	const char *s[NSTR], *item;
	size_t off = HEAD_LEN, n, i, used = 0;
	int j, list;

	if (len < HEAD_LEN)
		return -1;
	if (p[0] != KEYS_LAYOUT && p[0] != 1)
		return -2;
	for (j = 0; j < NSTR; j++)
		if (get_str(p, len, &off, &s[j]) < 0)
			return -1;
	if (s[S_HINT] == NULL || strlen(s[S_HINT]) >= KEYS_HINT_MAX)
		return -1;
	if (k) {
		k->a.model_budgets = NULL;
		k->a.nmodel_budgets = 0;
	}
	for (list = 0; list < (p[0] == 1 ? 2 : 3); list++) {
		if (len - off < 4)
			return -1;
		n = (size_t)get_be(p + off, 4);
		off += 4;
		if (k) {
			const char ***v = list == 0 ? &k->a.models : list == 1 ? &k->a.tags :
			    &k->a.model_budgets;
			size_t *nv = list == 0 ? &k->a.nmodels : list == 1 ? &k->a.ntags :
			    &k->a.nmodel_budgets;

			*v = n ? ptrs + used : NULL;
			*nv = n;
		}
		for (i = 0; i < n; i++) {
			if (get_str(p, len, &off, &item) < 0 || item == NULL)
				return -1;
			if (k)
				ptrs[used] = item;
			used++;
		}
	}
	if (off != len)
		return -1;
	*nlist = used;
	if (k == NULL)
		return 0;
	k->a.set = KEYS_F_ALL;
	snprintf(k->hint, sizeof(k->hint), "%s", s[S_HINT]);
	k->a.alias = s[S_ALIAS];
	k->a.user_id = s[S_USER];
	k->a.team_id = s[S_TEAM];
	k->a.customer = s[S_CUSTOMER];
	k->a.budget_duration = s[S_DURATION];
	k->a.metadata = s[S_METADATA];
	k->a.max_budget = (int64_t)get_be(p + 2 + 8 * I_MAX, 8);
	k->a.soft_budget = (int64_t)get_be(p + 2 + 8 * I_SOFT, 8);
	k->a.rpm_limit = (int64_t)get_be(p + 2 + 8 * I_RPM, 8);
	k->a.tpm_limit = (int64_t)get_be(p + 2 + 8 * I_TPM, 8);
	k->a.expires_ns = (int64_t)get_be(p + 2 + 8 * I_EXPIRES, 8);
	k->created_ns = (int64_t)get_be(p + 2 + 8 * I_CREATED, 8);
	k->updated_ns = (int64_t)get_be(p + 2 + 8 * I_UPDATED, 8);
	k->revoked_ns = (int64_t)get_be(p + 2 + 8 * I_REVOKED, 8);
	k->revoked = (p[1] & FLAG_REVOKED) != 0;
	return 0;
}

/*
 * Decodes the value at p into k: one copy into k->mem, the list pointers
 * ahead of it.  0, -1 when malformed, -2 for another layout.
 */
static int
decode(const void *p, size_t len, const unsigned char hash[KEYS_HASH_LEN], struct keys_key *k)
{
	size_t nlist, need;
	char *mem;
	int rc;

	if ((rc = walk(p, len, NULL, NULL, &nlist)) < 0)
		return rc;
	need = nlist * sizeof(char *) + len;
	if (need > k->memcap) {
		if ((mem = malloc(need)) == NULL)
			return -1;
		free(k->mem);
		k->mem = mem;
		k->memcap = need;
	}
	memcpy(k->mem + nlist * sizeof(char *), p, len);
	memcpy(k->hash, hash, KEYS_HASH_LEN);
	return walk((unsigned char *)k->mem + nlist * sizeof(char *), len, k,
	    (const char **)(void *)k->mem, &nlist);
}

/* The message for decode()'s failure rc. */
static void
decode_error(int rc, char *err, size_t errlen)
{
	log_into(err, errlen, rc == -2 ? "cannot read a stored key: written by a newer tollgate" :
	    "cannot read a stored key: malformed, or out of memory");
}

/* --- attributes ----------------------------------------------------------- */

static int check_name(const char *field, const char *s, size_t max, char *err, size_t errlen);

int
keys_model_budget_parse(const char *text, struct keys_model_budget *out, char *err,
    size_t errlen)
{
	const char *eq = strrchr(text, '='), *slash;
	char why[160];
	size_t mlen;

	memset(out, 0, sizeof(*out));
	if (eq == NULL || eq == text) {
		log_into(err, errlen, "model_max_budget: '%s' is not MODEL=USD or "
		    "MODEL=USD/DURATION", text);
		return -1;
	}
	mlen = (size_t)(eq - text);
	if (mlen > KEYS_NAME_MAX) {
		log_into(err, errlen, "model_max_budget: a model name longer than %d bytes",
		    KEYS_NAME_MAX);
		return -1;
	}
	memcpy(out->model, text, mlen);
	out->model[mlen] = '\0';
	if (check_name("model_max_budget", out->model, KEYS_NAME_MAX, err, errlen) < 0)
		return -1;
	slash = strchr(eq + 1, '/');
	if (keys_parse_money(eq + 1, slash ? (size_t)(slash - eq - 1) : strlen(eq + 1),
	    &out->max_budget, why, sizeof(why)) < 0) {
		log_into(err, errlen, "model_max_budget: %s: %s", out->model, why);
		return -1;
	}
	if (slash != NULL) {
		if (strlen(slash + 1) >= sizeof(out->duration) ||
		    window_parse(slash + 1, &out->window, why, sizeof(why)) < 0) {
			log_into(err, errlen, "model_max_budget: %s: '%s' is not a duration such as "
			    "1d or 1mo", out->model, slash + 1);
			return -1;
		}
		snprintf(out->duration, sizeof(out->duration), "%s", slash + 1);
		out->has_window = 1;
	}
	return 0;
}

int
keys_model_budget_find(const struct keys_key *k, const char *model,
    struct keys_model_budget *out)
{
	size_t i, n = strlen(model);
	char err[256];

	for (i = 0; i < k->a.nmodel_budgets; i++) {
		const char *eq = strrchr(k->a.model_budgets[i], '=');

		if (eq != NULL && (size_t)(eq - k->a.model_budgets[i]) == n &&
		    memcmp(k->a.model_budgets[i], model, n) == 0)
			return keys_model_budget_parse(k->a.model_budgets[i], out, err,
			    sizeof(err)) == 0;
	}
	return 0;
}

void
keys_attrs_init(struct keys_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->max_budget = a->soft_budget = KEYS_UNSET;
	a->rpm_limit = a->tpm_limit = a->expires_ns = KEYS_UNSET;
}

/* Takes the fields of ch->set from ch into to (pointers, not copies). */
static void
merge(struct keys_attrs *to, const struct keys_attrs *ch)
{
	if (ch->set & KEYS_F_ALIAS)
		to->alias = ch->alias;
	if (ch->set & KEYS_F_USER)
		to->user_id = ch->user_id;
	if (ch->set & KEYS_F_TEAM)
		to->team_id = ch->team_id;
	if (ch->set & KEYS_F_CUSTOMER)
		to->customer = ch->customer;
	if (ch->set & KEYS_F_MODELS) {
		to->models = ch->models;
		to->nmodels = ch->nmodels;
	}
	if (ch->set & KEYS_F_TAGS) {
		to->tags = ch->tags;
		to->ntags = ch->ntags;
	}
	if (ch->set & KEYS_F_MAX_BUDGET)
		to->max_budget = ch->max_budget;
	if (ch->set & KEYS_F_SOFT_BUDGET)
		to->soft_budget = ch->soft_budget;
	if (ch->set & KEYS_F_BUDGET_DURATION)
		to->budget_duration = ch->budget_duration;
	if (ch->set & KEYS_F_RPM)
		to->rpm_limit = ch->rpm_limit;
	if (ch->set & KEYS_F_TPM)
		to->tpm_limit = ch->tpm_limit;
	if (ch->set & KEYS_F_EXPIRES)
		to->expires_ns = ch->expires_ns;
	if (ch->set & KEYS_F_METADATA)
		to->metadata = ch->metadata;
	if (ch->set & KEYS_F_MODEL_BUDGETS) {
		to->model_budgets = ch->model_budgets;
		to->nmodel_budgets = ch->nmodel_budgets;
	}
}

/* A name (alias, user_id, a model, ...): at most max bytes, no control characters. */
static int
check_name(const char *field, const char *s, size_t max, char *err, size_t errlen)
{
	const unsigned char *p;

	if (strlen(s) > max) {
		log_into(err, errlen, "%s: '%.32s...' is longer than %zu bytes", field, s, max);
		return -1;
	}
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			log_into(err, errlen, "%s: '%s' holds a control character", field, s);
			return -1;
		}
	return 0;
}

static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < KEYS_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[KEYS_HEX_LEN] == '\0';
}

static int
check_list(const char *field, const char *const *v, size_t n, size_t max_items,
    char *err, size_t errlen)
{
	size_t i, joined = 0;

	if (n > max_items) {
		log_into(err, errlen, "%s: more than %zu", field, max_items);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (v[i] == NULL || v[i][0] == '\0') {
			log_into(err, errlen, "%s: an empty name", field);
			return -1;
		}
		if (check_name(field, v[i], KEYS_NAME_MAX, err, errlen) < 0)
			return -1;
		joined += strlen(v[i]) + (i > 0);
	}
	/* tags travel in spend records joined with commas */
	if (strcmp(field, "tags") == 0) {
		for (i = 0; i < n; i++)
			if (strchr(v[i], ',') != NULL) {
				log_into(err, errlen, "tags: '%s' holds a comma", v[i]);
				return -1;
			}
		if (joined > KEYS_TAGS_MAX) {
			log_into(err, errlen, "tags: longer than %d bytes together", KEYS_TAGS_MAX);
			return -1;
		}
	}
	return 0;
}

int
keys_check_attrs(const struct keys_attrs *a, char *err, size_t errlen)
{
	const struct { const char *field; int64_t v; } limits[] = {
		{ "max_budget", a->max_budget }, { "soft_budget", a->soft_budget },
		{ "rpm_limit", a->rpm_limit }, { "tpm_limit", a->tpm_limit },
	};
	struct window w;
	json_error_t jerr;
	json_t *meta;
	char why[160];
	size_t i;

	if (a->alias && *a->alias) {
		if (check_name("key_alias", a->alias, KEYS_NAME_MAX, err, errlen) < 0)
			return -1;
		/* a reference to a key is then never ambiguous (keys_get()) */
		if (strncmp(a->alias, "sk-", 3) == 0 || is_hex64(a->alias)) {
			log_into(err, errlen, "key_alias: '%s' would read as a %s", a->alias,
			    is_hex64(a->alias) ? "token (64 hex digits)" : "secret (sk-...)");
			return -1;
		}
	}
	if ((a->user_id && check_name("user_id", a->user_id, KEYS_NAME_MAX, err, errlen) < 0) ||
	    (a->team_id && check_name("team_id", a->team_id, KEYS_NAME_MAX, err, errlen) < 0) ||
	    (a->customer && check_name("customer", a->customer, KEYS_NAME_MAX, err, errlen) < 0) ||
	    check_list("models", a->models, a->nmodels, MAX_MODELS, err, errlen) < 0 ||
	    check_list("tags", a->tags, a->ntags, MAX_TAGS, err, errlen) < 0)
		return -1;
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (limits[i].v < 0 && limits[i].v != KEYS_UNSET) {
			log_into(err, errlen, "%s: must not be negative", limits[i].field);
			return -1;
		}
	for (i = 0; i < a->nmodel_budgets; i++) {
		struct keys_model_budget mb, other;
		size_t j;

		if (a->model_budgets[i] == NULL ||
		    keys_model_budget_parse(a->model_budgets[i], &mb, err, errlen) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (keys_model_budget_parse(a->model_budgets[j], &other, err, errlen) == 0 &&
			    strcmp(mb.model, other.model) == 0) {
				log_into(err, errlen, "model_max_budget: model '%s' given twice",
				    mb.model);
				return -1;
			}
	}
	if (a->nmodel_budgets > MAX_MODELS) {
		log_into(err, errlen, "model_max_budget: more than %d models", MAX_MODELS);
		return -1;
	}
	if (a->max_budget != KEYS_UNSET && a->soft_budget != KEYS_UNSET &&
	    a->soft_budget > a->max_budget) {
		log_into(err, errlen, "soft_budget: more than max_budget (a soft budget warns "
		    "before the max budget refuses)");
		return -1;
	}
	if (a->budget_duration && *a->budget_duration &&
	    window_parse(a->budget_duration, &w, why, sizeof(why)) < 0) {
		log_into(err, errlen, "budget_duration: %s", why);
		return -1;
	}
	if (a->metadata && *a->metadata) {
		if (strlen(a->metadata) > KEYS_METADATA_MAX) {
			log_into(err, errlen, "metadata: longer than %d bytes", KEYS_METADATA_MAX);
			return -1;
		}
		meta = json_loads(a->metadata, JSON_REJECT_DUPLICATES, &jerr);
		if (meta == NULL || !json_is_object(meta)) {
			if (meta)
				log_into(err, errlen, "metadata: expected a JSON object");
			else
				log_into(err, errlen, "metadata: malformed JSON at %d:%d: %s", jerr.line,
				    jerr.column, jerr.text);
			json_decref(meta);
			return -1;
		}
		json_decref(meta);
	}
	return 0;
}

/* --- the store ------------------------------------------------------------ */

static int
hash_secret(struct keys *ks, const char *s, size_t len, unsigned char out[KEYS_HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex2(ks->md, ks->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(ks->md, s, len) != 1 || EVP_DigestFinal_ex(ks->md, out, &n) != 1)
		return -1;
	return n == KEYS_HASH_LEN ? 0 : -1;
}

/*
 * One change, in a write transaction of the store: fn returns 0 (commit),
 * RC_ABSENT, RC_REFUSED (err set) or KEYSTORE_FULL (the store is grown and
 * fn run again).  Returns 0 (committed, durably), 1 (RC_ABSENT), or -1 with
 * err.
 */
typedef int (*write_fn)(struct keys *ks, struct keystore_txn *t, void *arg, char *err,
    size_t errlen);

static int
write_txn(struct keys *ks, write_fn fn, void *arg, char *err, size_t errlen)
{
	struct keystore_txn *t;
	int rc;

	for (;;) {
		if (ks->ops->begin(ks->store, 1, &t, err, errlen) != 0)
			return -1;
		if ((rc = fn(ks, t, arg, err, errlen)) == 0)
			rc = ks->ops->commit(t, err, errlen);
		else
			ks->ops->abort(t);
		if (rc != KEYSTORE_FULL)
			break;
		if (ks->ops->grow(ks->store) < 0) {
			log_into(err, errlen, "the ledger is full and cannot grow: the key is not changed");
			return -1;
		}
	}
	return rc == 0 ? 0 : rc == RC_ABSENT ? 1 : -1;
}

int
keys_open(struct ledger *l, struct keys **out, char *err, size_t errlen)
{
	struct keys *ks;

	*out = NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL ||
	    (ks->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (ks->md = EVP_MD_CTX_new()) == NULL) {
		log_into(err, errlen, "cannot open the key store: %s",
		    ks ? "no SHA-256 in libcrypto" : strerror(errno));
		keys_close(ks);
		return -1;
	}
	if (keystore_lmdb_open(l, &ks->store, err, errlen) < 0) {
		keys_close(ks);
		return -1;
	}
	ks->ops = ks->store->ops;
	*out = ks;
	return 0;
}

void
keys_close(struct keys *ks)
{
	if (ks == NULL)
		return;
	if (ks->store != NULL)
		ks->store->ops->close(ks->store);
	EVP_MD_CTX_free(ks->md);
	EVP_MD_free(ks->sha256);
	buf_release(&ks->scratch);
	free(ks);
}

void
keys_key_release(struct keys_key *k)
{
	free(k->mem);
	k->mem = NULL;
	k->memcap = 0;
}

void
keys_hash_hex(const unsigned char hash[KEYS_HASH_LEN], char hex[KEYS_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < KEYS_HASH_LEN; i++) {
		hex[2 * i] = digits[hash[i] >> 4];
		hex[2 * i + 1] = digits[hash[i] & 15];
	}
	hex[KEYS_HEX_LEN] = '\0';
}

enum keys_state
keys_state(const struct keys_key *k, int64_t now_ns)
{
	if (k->revoked)
		return KEYS_REVOKED;
	if (k->a.expires_ns != KEYS_UNSET && now_ns >= k->a.expires_ns)
		return KEYS_EXPIRED;
	return KEYS_ACTIVE;
}

const char *
keys_state_name(enum keys_state s)
{
	return s == KEYS_REVOKED ? "revoked" : s == KEYS_EXPIRED ? "expired" : "active";
}

/* The get of one key by hash in t into out: 0, RC_ABSENT, or RC_REFUSED with err. */
static int
get_in(struct keys *ks, struct keystore_txn *t, const unsigned char hash[KEYS_HASH_LEN],
    struct keys_key *out, char *err, size_t errlen)
{
	const void *v;
	size_t len;
	int rc;

	if ((rc = ks->ops->get(t, hash, &v, &len, err, errlen)) == KEYSTORE_ABSENT)
		return RC_ABSENT;
	if (rc != 0)
		return RC_REFUSED;
	if ((rc = decode(v, len, hash, out)) < 0) {
		decode_error(rc, err, errlen);
		return RC_REFUSED;
	}
	return 0;
}

/* keys_get() by token: 0, 1, or -1. */
static int
get_by_hash(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN], struct keys_key *out,
    char *err, size_t errlen)
{
	struct keystore_txn *t;
	int rc;

	if ((rc = ks->ops->begin(ks->store, 0, &t, err, errlen)) != 0)
		return rc == KEYSTORE_ABSENT ? 1 : -1;
	rc = get_in(ks, t, hash, out, err, errlen);
	ks->ops->abort(t);
	return rc == 0 ? 0 : rc == RC_ABSENT ? 1 : -1;
}

int
keys_lookup_secret(struct keys *ks, const char *secret, size_t len, struct keys_key *out,
    char *err, size_t errlen)
{
	unsigned char hash[KEYS_HASH_LEN];

	if (hash_secret(ks, secret, len, hash) < 0) {
		log_into(err, errlen, "cannot hash a secret: SHA-256 failed");
		return -1;
	}
	return get_by_hash(ks, hash, out, err, errlen);
}

/* The alias and revoked flag of an encoded key, without decoding the rest; 0 or -1. */
static int
peek_alias(const void *v, size_t len, const char **alias, int *revoked)
{
	const unsigned char *p = v;
	const char *hint;
	size_t off = HEAD_LEN;

	if (len < HEAD_LEN || (p[0] != KEYS_LAYOUT && p[0] != 1) ||
	    get_str(p, len, &off, &hint) < 0 || get_str(p, len, &off, alias) < 0)
		return -1;
	*revoked = (p[1] & FLAG_REVOKED) != 0;
	return 0;
}

struct alias_search {
	const char		*alias;
	const unsigned char	*self;
	unsigned char		*hash;
	int			*found, *found_live;
	int64_t			 newest;
};

static int
alias_one(void *arg, const unsigned char *hash, const void *v, size_t len)
{
	struct alias_search *q = arg;
	const char *a;
	int64_t created;
	int revoked;

	if (peek_alias(v, len, &a, &revoked) < 0 || a == NULL || strcmp(a, q->alias) != 0 ||
	    (q->self && memcmp(hash, q->self, KEYS_HASH_LEN) == 0))
		return 0;
	created = (int64_t)get_be((const unsigned char *)v + 2 + 8 * I_CREATED, 8);
	if (!revoked || (!*q->found_live && created >= q->newest)) {
		memcpy(q->hash, hash, KEYS_HASH_LEN);
		q->newest = created;
		*q->found = 1;
		*q->found_live = !revoked;
	}
	return !revoked;	/* a live one: there is one at most */
}

/*
 * Finds alias among the keys in t: a live key's token (there is one at
 * most, but for self), else the newest revoked one's.  0 with *found set,
 * or RC_REFUSED with err.
 */
static int
find_alias(struct keys *ks, struct keystore_txn *t, const char *alias, const unsigned char *self,
    unsigned char hash[KEYS_HASH_LEN], int *found, int *found_live, char *err, size_t errlen)
{
	struct alias_search q = { alias, self, hash, found, found_live, INT64_MIN };

	*found = *found_live = 0;
	return ks->ops->each(t, alias_one, &q, err, errlen) == 0 ? 0 : RC_REFUSED;
}

/* RC_REFUSED with err when another live key has k's alias (or the store fails); else 0. */
static int
alias_free(struct keys *ks, struct keystore_txn *t, const struct keys_key *k, char *err,
    size_t errlen)
{
	unsigned char other[KEYS_HASH_LEN];
	int rc, found, live;

	if (k->revoked || k->a.alias == NULL || *k->a.alias == '\0')
		return 0;
	if ((rc = find_alias(ks, t, k->a.alias, k->hash, other, &found, &live, err, errlen)) != 0)
		return rc;
	if (live) {
		char hex[KEYS_HEX_LEN + 1];

		keys_hash_hex(other, hex);
		log_into(err, errlen, "key_alias: '%s' is taken by the live key %.16s...",
		    k->a.alias, hex);
		return RC_REFUSED;
	}
	return 0;
}

int
keys_get(struct keys *ks, const char *ref, struct keys_key *out, char *err, size_t errlen)
{
	unsigned char hash[KEYS_HASH_LEN];
	struct keystore_txn *t;
	int rc, found, live, i;

	if (is_hex64(ref)) {
		for (i = 0; i < KEYS_HASH_LEN; i++) {
			unsigned hi = (unsigned char)ref[2 * i], lo = (unsigned char)ref[2 * i + 1];

			hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
			lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
			hash[i] = (unsigned char)(hi << 4 | lo);
		}
		return get_by_hash(ks, hash, out, err, errlen);
	}
	if (strncmp(ref, "sk-", 3) == 0)
		return keys_lookup_secret(ks, ref, strlen(ref), out, err, errlen);
	if ((rc = ks->ops->begin(ks->store, 0, &t, err, errlen)) != 0)
		return rc == KEYSTORE_ABSENT ? 1 : -1;
	if ((rc = find_alias(ks, t, ref, NULL, hash, &found, &live, err, errlen)) == 0)
		rc = found ? get_in(ks, t, hash, out, err, errlen) : RC_ABSENT;
	ks->ops->abort(t);
	return rc == 0 ? 0 : rc == RC_ABSENT ? 1 : -1;
}

/* Encodes k and puts it, then decodes what was stored into out (when given). */
static int
put_key(struct keys *ks, struct keystore_txn *t, const struct keys_key *k, int only_new,
    struct keys_key *out, char *err, size_t errlen)
{
	int rc;

	if ((rc = alias_free(ks, t, k, err, errlen)) != 0)
		return rc;
	if (encode(k, &ks->scratch) < 0) {
		log_into(err, errlen, "cannot encode a key: out of memory");
		return RC_REFUSED;
	}
	if ((rc = ks->ops->put(t, k->hash, ks->scratch.data, ks->scratch.len, only_new, err,
	    errlen)) != 0)
		return rc == KEYSTORE_FULL || rc == KEYSTORE_EXISTS ? rc : RC_REFUSED;
	if (out && decode(ks->scratch.data, ks->scratch.len, k->hash, out) < 0) {
		log_into(err, errlen, "cannot decode a key: out of memory");
		return RC_REFUSED;
	}
	return 0;
}

struct change {
	const struct keys_key	*key;		/* create: the key to store */
	const struct keys_attrs	*changes;	/* update */
	const unsigned char	*hash;		/* update, revoke */
	int64_t			 now_ns;
	struct keys_key		 cur;		/* the key as it was */
	struct keys_key		*out;
};

static int
create_fn(struct keys *ks, struct keystore_txn *t, void *arg, char *err, size_t errlen)
{
	struct change *c = arg;
	int rc;

	/* a collision of 256 random bits would be a broken random source */
	if ((rc = put_key(ks, t, c->key, 1, c->out, err, errlen)) == KEYSTORE_EXISTS) {
		log_into(err, errlen, "a new key collides with an existing one: is the random "
		    "source broken?");
		return RC_REFUSED;
	}
	return rc;
}

int
keys_create(struct keys *ks, const struct keys_attrs *a, int64_t now_ns,
    char secret[KEYS_SECRET_LEN + 1], struct keys_key *out, char *err, size_t errlen)
{
	unsigned char raw[SECRET_RANDOM], num[SECRET_RANDOM];
	struct keys_key k = { .created_ns = now_ns, .updated_ns = now_ns };
	struct change c = { .key = &k, .out = out };
	size_t got = 0;
	ssize_t n;
	int i, j, rc;

	keys_attrs_init(&k.a);
	merge(&k.a, a);
	k.revoked_ns = KEYS_UNSET;
	if (keys_check_attrs(&k.a, err, errlen) < 0)
		return -1;
	while (got < sizeof(raw)) {
		if ((n = getrandom(raw + got, sizeof(raw) - got, 0)) < 0) {
			if (errno == EINTR)
				continue;
			log_into(err, errlen, "cannot make a secret: getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	/* base62 of the 256-bit number raw, most significant digit first */
	memcpy(num, raw, sizeof(num));
	memcpy(secret, "sk-", 3);
	for (i = SECRET_DIGITS - 1; i >= 0; i--) {
		unsigned rem = 0, cur;

		for (j = 0; j < SECRET_RANDOM; j++) {
			cur = rem << 8 | num[j];
			num[j] = (unsigned char)(cur / 62);
			rem = cur % 62;
		}
		secret[3 + i] = base62_digits[rem];
	}
	secret[KEYS_SECRET_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	snprintf(k.hint, sizeof(k.hint), "%.8s...%s", secret, secret + KEYS_SECRET_LEN - 4);
	if (hash_secret(ks, secret, KEYS_SECRET_LEN, k.hash) < 0) {
		log_into(err, errlen, "cannot hash a secret: SHA-256 failed");
		rc = -1;
	} else
		rc = write_txn(ks, create_fn, &c, err, errlen);
	if (rc != 0)
		explicit_bzero(secret, KEYS_SECRET_LEN + 1);
	return rc == 0 ? 0 : -1;
}

static int
update_fn(struct keys *ks, struct keystore_txn *t, void *arg, char *err, size_t errlen)
{
	struct change *c = arg;
	int rc;

	if ((rc = get_in(ks, t, c->hash, &c->cur, err, errlen)) != 0)
		return rc;
	if (c->changes) {
		if (c->cur.revoked) {
			log_into(err, errlen, "it is revoked and cannot change");
			return RC_REFUSED;
		}
		merge(&c->cur.a, c->changes);
		if (keys_check_attrs(&c->cur.a, err, errlen) < 0)
			return RC_REFUSED;
	} else if (!c->cur.revoked) {
		c->cur.revoked = 1;
		c->cur.revoked_ns = c->now_ns;
	}
	c->cur.updated_ns = c->now_ns;
	return put_key(ks, t, &c->cur, 0, c->out, err, errlen);
}

int
keys_update(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN],
    const struct keys_attrs *changes, int64_t now_ns, struct keys_key *out, char *err,
    size_t errlen)
{
	struct change c = { .changes = changes, .hash = hash, .now_ns = now_ns, .out = out };
	int rc;

	rc = write_txn(ks, update_fn, &c, err, errlen);
	keys_key_release(&c.cur);
	return rc;
}

int
keys_revoke(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN], int64_t now_ns,
    char *err, size_t errlen)
{
	struct change c = { .hash = hash, .now_ns = now_ns };
	int rc;

	rc = write_txn(ks, update_fn, &c, err, errlen);
	keys_key_release(&c.cur);
	return rc;
}

struct entry {
	int64_t		created_ns;
	unsigned char	hash[KEYS_HASH_LEN];
};

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return memcmp(x->hash, y->hash, KEYS_HASH_LEN);
}

struct entries {
	struct entry	*e;
	size_t		 n, cap;
	int		 full;
};

static int
entry_one(void *arg, const unsigned char *hash, const void *v, size_t len)
{
	struct entries *es = arg;

	if (len < HEAD_LEN)
		return 0;
	if (ARRAY_GROW(es->e, es->n, es->cap) < 0) {
		es->full = 1;
		return 1;
	}
	es->e[es->n].created_ns = (int64_t)get_be((const unsigned char *)v + 2 + 8 * I_CREATED, 8);
	memcpy(es->e[es->n++].hash, hash, KEYS_HASH_LEN);
	return 0;
}

int
keys_list(struct keys *ks, keys_visit_fn fn, void *arg, char *err, size_t errlen)
{
	struct keys_key k = { 0 };
	struct entries es = { 0 };
	struct keystore_txn *t;
	const void *v;
	size_t i, len;
	int rc;

	if ((rc = ks->ops->begin(ks->store, 0, &t, err, errlen)) != 0)
		return rc == KEYSTORE_ABSENT ? 0 : -1;
	/* the store is in token order: sort by creation first */
	if ((rc = ks->ops->each(t, entry_one, &es, err, errlen)) == 0 && es.full) {
		log_into(err, errlen, "cannot list the keys: out of memory");
		rc = -1;
	}
	if (rc == 0 && es.n > 1)
		qsort(es.e, es.n, sizeof(*es.e), entry_cmp);
	for (i = 0; rc == 0 && i < es.n; i++) {
		if ((rc = ks->ops->get(t, es.e[i].hash, &v, &len, err, errlen)) != 0)
			break;
		/* a key a newer tollgate wrote is passed over, as the ledger's records are */
		if ((rc = decode(v, len, es.e[i].hash, &k)) == -2) {
			rc = 0;
			continue;
		}
		if (rc < 0) {
			decode_error(rc, err, errlen);
			break;
		}
		if (fn(arg, &k) != 0)
			break;
	}
	ks->ops->abort(t);
	free(es.e);
	keys_key_release(&k);
	return rc == 0 ? 0 : -1;
}

/* ---- the fleet's copy (the shipper's key sync) -------------------------------------- */

/* A stored key's updated time, or INT64_MIN for a value that is not a key. */
static int64_t
updated_of(const void *p, size_t len)
{
	return len < HEAD_LEN ? INT64_MIN : (int64_t)get_be((const unsigned char *)p + 2 +
	    8 * I_UPDATED, 8);
}

struct since {
	int64_t		 since_ns;
	keys_stored_fn	 fn;
	void		*arg;
};

static int
stored_one(void *arg, const unsigned char *hash, const void *v, size_t len)
{
	struct since *q = arg;
	int64_t updated = updated_of(v, len);

	return updated > q->since_ns && q->fn(q->arg, hash, v, len, updated) != 0;
}

int
keys_each_stored(struct keys *ks, int64_t since_ns, keys_stored_fn fn, void *arg, char *err,
    size_t errlen)
{
	struct since q = { since_ns, fn, arg };
	struct keystore_txn *t;
	int rc;

	if ((rc = ks->ops->begin(ks->store, 0, &t, err, errlen)) != 0)
		return rc == KEYSTORE_ABSENT ? 0 : -1;
	rc = ks->ops->each(t, stored_one, &q, err, errlen);
	ks->ops->abort(t);
	return rc;
}

struct stored {
	const unsigned char	*hash;
	const void		*value;
	size_t			 len;
};

/* The newer of the two wins; one this build cannot read is refused, never half-kept. */
static int
put_stored_fn(struct keys *ks, struct keystore_txn *t, void *arg, char *err, size_t errlen)
{
	struct stored *s = arg;
	struct keys_key k = { 0 };
	const void *v;
	size_t len;
	int rc;

	if (decode(s->value, s->len, s->hash, &k) < 0) {
		log_into(err, errlen, "a key from the fleet that this tollgate cannot read");
		return RC_REFUSED;
	}
	keys_key_release(&k);
	if ((rc = ks->ops->get(t, s->hash, &v, &len, err, errlen)) == 0 &&
	    updated_of(v, len) >= updated_of(s->value, s->len))
		return RC_ABSENT;	/* ours is as new or newer: kept */
	if (rc != 0 && rc != KEYSTORE_ABSENT)
		return RC_REFUSED;
	rc = ks->ops->put(t, s->hash, s->value, s->len, 0, err, errlen);
	return rc == 0 || rc == KEYSTORE_FULL ? rc : RC_REFUSED;
}

int
keys_put_stored(struct keys *ks, const unsigned char hash[KEYS_HASH_LEN], const void *value,
    size_t len, char *err, size_t errlen)
{
	struct stored s = { hash, value, len };

	return write_txn(ks, put_stored_fn, &s, err, errlen);
}
