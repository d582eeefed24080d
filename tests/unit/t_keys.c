/*
 * Virtual keys in a scratch ledger: a created key's secret has the promised
 * form and is found by lookup while a wrong one is not; the database file
 * holds the secret's hash and hint but never the secret; keys_get() by token,
 * alias and secret; partial updates, alias uniqueness among live keys,
 * revocation and expiry; list order; a key a newer tollgate wrote; another
 * process sees each change at its next lookup, also when it opened the
 * store before any key existed.  Then the JSON forms: a LiteLLM request
 * with exact money, the response, a round trip, and one refused request
 * per kind of mistake, each naming its field.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "buf.h"
#include "keys.h"
#include "ledger.h"
#include "money.h"
#include "window.h"
#include "tap.h"

#define PICO		1000000000000LL
#define NS		1000000000LL
#define NOW		1795452666000000000LL	/* 2026-11-23T16:51:06Z */
#define MAP_SIZE	(8u << 20)

static char root[256];

static void
bail(const char *what, const char *err)
{
	printf("Bail out! %s: %s\n", what, err);
	exit(1);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Empties err for the call it is passed to, so that a message shown after it is its own. */
static char *
fresh(char *err)
{
	err[0] = '\0';
	return err;
}

/* Whether the file at path holds the n bytes at p. */
static int
file_has(const char *path, const void *p, size_t n)
{
	struct buf b = { 0 };
	int found;

	if (buf_read_file(&b, path) < 0)
		bail("cannot read", path);
	found = memmem(b.data, b.len, p, n) != NULL;
	buf_release(&b);
	return found;
}

static void
test_money(void)
{
	static const struct { const char *text; int64_t pico; } good[] = {
		{ "1.00", PICO }, { "10.5", 10 * PICO + PICO / 2 }, { "0.0001", PICO / 10000 },
		{ "1e-4", PICO / 10000 }, { "1E+2", 100 * PICO }, { "0.1", PICO / 10 },
		{ "0.3", 3 * PICO / 10 }, { "0.000000000001", 1 }, { "0", 0 },
		{ "9223372", 9223372 * PICO },
	};
	static const struct { const char *text, *why; } bad[] = {
		{ "-1", "negative" }, { "0.0000000000001", "finer than a picodollar" },
		{ "0.30000000000000004", "finer than a picodollar" },
		{ "9223373", "too large" }, { "ten", "not an amount" }, { "", "not an amount" },
		{ "1.2.3", "not an amount" },
	};
	char err[256];
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		ok(keys_parse_money(good[i].text, strlen(good[i].text), &v, err, sizeof(err)) == 0 &&
		    v == good[i].pico, "money '%s' is exactly %lld picodollars (got %lld)",
		    good[i].text, (long long)good[i].pico, (long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(keys_parse_money(bad[i].text, strlen(bad[i].text), &v, err, sizeof(err)) < 0 &&
		    strstr(err, bad[i].why) != NULL, "money '%s' is refused: %s", bad[i].text, err);
	}
	ok(keys_parse_count("1000", 4, &v, err, sizeof(err)) == 0 && v == 1000, "count 1000");
	ok(keys_parse_count("1e3", 3, &v, err, sizeof(err)) == 0 && v == 1000, "count 1e3");
	ok(keys_parse_count("1.5", 3, &v, err, sizeof(err)) < 0 && strstr(err, "whole number"),
	    "count 1.5 is refused: %s", err);
}

/* A key with every attribute, as a worker would see it. */
static void
full_attrs(struct keys_attrs *a, const char **models, const char **tags)
{
	keys_attrs_init(a);
	a->set = KEYS_F_ALL;
	a->alias = "prod-app";
	a->user_id = "alice";
	a->team_id = "research";
	a->customer = "acme";
	a->models = models;
	a->nmodels = 2;
	a->tags = tags;
	a->ntags = 2;
	a->max_budget = 10 * PICO + PICO / 2;
	a->soft_budget = 8 * PICO;
	a->budget_duration = "1mo";
	a->rpm_limit = 100;
	a->tpm_limit = 50000;
	a->expires_ns = NOW + 30 * 86400 * NS;
	a->metadata = "{ \"owner\" : \"alice smith\",\n  \"cost_center\": 1.10 }";
}

static int
same_attrs(const struct keys_attrs *x, const struct keys_attrs *y)
{
	size_t i;

#define SAME_STR(f) ((x->f == NULL) == (y->f == NULL) && (!x->f || strcmp(x->f, y->f) == 0))
	if (!SAME_STR(alias) || !SAME_STR(user_id) || !SAME_STR(team_id) || !SAME_STR(customer) ||
	    !SAME_STR(budget_duration) || x->nmodels != y->nmodels || x->ntags != y->ntags ||
	    x->max_budget != y->max_budget || x->soft_budget != y->soft_budget ||
	    x->rpm_limit != y->rpm_limit || x->tpm_limit != y->tpm_limit ||
	    x->expires_ns != y->expires_ns)
		return 0;
#undef SAME_STR
	for (i = 0; i < x->nmodels; i++)
		if (strcmp(x->models[i], y->models[i]) != 0)
			return 0;
	for (i = 0; i < x->ntags; i++)
		if (strcmp(x->tags[i], y->tags[i]) != 0)
			return 0;
	return 1;
}

struct seen {
	int	n;
	int64_t	last_created;
	int	ordered;
	int	stop_after;
};

static int
count_key(void *arg, const struct keys_key *k)
{
	struct seen *s = arg;

	if (s->n && k->created_ns < s->last_created)
		s->ordered = 0;
	s->last_created = k->created_ns;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static int
key_count(struct keys *ks)
{
	struct seen s = { .ordered = 1 };
	char err[512];

	if (keys_list(ks, count_key, &s, fresh(err), sizeof(err)) < 0)
		bail("keys_list", err);
	return s.n;
}

/*
 * A child process that opens the ledger itself and answers each secret
 * written to its pipe with one lookup: 'a' active, 'r' revoked, 'n' none,
 * 'e' error, then the max budget in USD.
 */
static void
lookup_child(const char *dir, int in, int out)
{
	struct keys_key k = { 0 };
	struct ledger *l;
	struct keys *ks;
	char err[512], secret[KEYS_SECRET_LEN], line[64];
	int rc;

	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0 ||
	    keys_open(l, &ks, err, sizeof(err)) < 0)
		_exit(2);
	while (read(in, secret, sizeof(secret)) == (ssize_t)sizeof(secret)) {
		rc = keys_lookup_secret(ks, secret, sizeof(secret), &k, fresh(err), sizeof(err));
		snprintf(line, sizeof(line), "%c %lld\n", rc < 0 ? 'e' : rc ? 'n' : k.revoked ? 'r' :
		    'a', rc == 0 ? (long long)(k.a.max_budget / PICO) : -1LL);
		if (write(out, line, strlen(line)) < 0)
			_exit(2);
	}
	keys_key_release(&k);
	keys_close(ks);
	ledger_close(l);
	_exit(0);
}

struct child {
	pid_t	pid;
	int	to, from;
};

/* Starts lookup_child() on dir: it has its store open when this returns. */
static void
child_start(struct child *c, const char *dir)
{
	int to[2], from[2];
	char answer[64];
	ssize_t n;

	if (pipe(to) < 0 || pipe(from) < 0)
		bail("pipe", strerror(errno));
	if ((c->pid = fork()) < 0)
		bail("fork", strerror(errno));
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		lookup_child(dir, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	c->to = to[1];
	c->from = from[0];
	/* one lookup answered: the store is open */
	if (write(c->to, "sk-000000000000000000000000000000000000000000x", KEYS_SECRET_LEN) !=
	    KEYS_SECRET_LEN || (n = read(c->from, answer, sizeof(answer) - 1)) <= 0)
		bail("child", "does not answer");
	answer[n] = '\0';
	is_str(answer, "n -1\n", "the other process finds no key for an unknown secret");
}

/* The child's answer for secret. */
static const char *
ask(struct child *c, const char *secret, char *answer, size_t len)
{
	ssize_t n;

	if (write(c->to, secret, KEYS_SECRET_LEN) != KEYS_SECRET_LEN ||
	    (n = read(c->from, answer, len - 1)) <= 0)
		bail("child", "no answer");
	answer[n] = '\0';
	return answer;
}

static void
child_stop(struct child *c)
{
	int status;

	close(c->to);
	close(c->from);
	waitpid(c->pid, &status, 0);
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "the other process closed cleanly");
}

/*
 * Another process sees a key, then each change, at its next lookup.  With
 * ks NULL the child opens its store before the keys database exists, and
 * this process opens it only then.
 */
static void
test_other_process(const char *dir, struct ledger *l, struct keys *ks)
{
	char secret[KEYS_SECRET_LEN + 1], err[512], answer[64];
	struct keys_attrs a;
	struct keys_key k = { 0 };
	struct child c;
	int late = ks == NULL;

	child_start(&c, dir);
	if (late && keys_open(l, &ks, err, sizeof(err)) < 0)
		bail("keys_open", err);
	keys_attrs_init(&a);
	a.set = KEYS_F_MAX_BUDGET;
	a.max_budget = 5 * PICO;
	if (keys_create(ks, &a, NOW, secret, &k, fresh(err), sizeof(err)) < 0)
		bail("keys_create", err);
	is_str(ask(&c, secret, answer, sizeof(answer)), "a 5\n", late ?
	    "a process that opened the store before the keys database existed finds a new key" :
	    "another process finds a new key");
	a.max_budget = 7 * PICO;
	if (keys_update(ks, k.hash, &a, NOW + NS, NULL, fresh(err), sizeof(err)) != 0)
		bail("keys_update", err);
	is_str(ask(&c, secret, answer, sizeof(answer)), "a 7\n",
	    "its next lookup sees the new max budget");
	if (keys_revoke(ks, k.hash, NOW + 2 * NS, fresh(err), sizeof(err)) != 0)
		bail("keys_revoke", err);
	is_str(ask(&c, secret, answer, sizeof(answer)), "r 7\n",
	    "and the one after that sees it revoked");
	child_stop(&c);
	keys_key_release(&k);
	if (late)
		keys_close(ks);
}

/* A value of layout 3 under hash, as a newer tollgate might write it. */
static void
put_newer(struct ledger *l, const unsigned char hash[KEYS_HASH_LEN])
{
	unsigned char value[80] = { 3 };
	MDB_val k = { KEYS_HASH_LEN, (void *)hash }, v = { sizeof(value), value };
	MDB_txn *txn;
	MDB_dbi dbi;

	if (ledger_txn_begin(l, 1, &txn) != 0 || mdb_dbi_open(txn, "keys", 0, &dbi) != 0 ||
	    mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
		bail("put_newer", "cannot write");
}

static void
test_store(void)
{
	const char *models[] = { "gpt-4o", "claude-sonnet-4-5" }, *tags[] = { "prod", "web" };
	char dir[300], data[320], secret[KEYS_SECRET_LEN + 1], secret2[KEYS_SECRET_LEN + 1];
	char err[512], wrong[KEYS_SECRET_LEN + 1], hex[KEYS_HEX_LEN + 1], upper[KEYS_HEX_LEN + 1];
	unsigned char digest[32], newer[KEYS_HASH_LEN];
	struct keys_key k = { 0 }, got = { 0 }, other = { 0 };
	struct keys_attrs a, ch;
	struct ledger *l;
	struct keys *ks;
	struct seen s = { .ordered = 1 };
	unsigned int dlen;
	size_t i;
	int rc, form;

	snprintf(dir, sizeof(dir), "%s/ledger", root);
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	if (ledger_open(dir, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) < 0)
		bail("ledger_open", err);
	if (keys_open(l, &ks, err, sizeof(err)) < 0)
		bail("keys_open", err);
	is_int(key_count(ks), 0, "a new store lists no keys");

	full_attrs(&a, models, tags);
	ok(keys_create(ks, &a, NOW, secret, &k, fresh(err), sizeof(err)) == 0, "create a key: %s", err);
	form = strlen(secret) == KEYS_SECRET_LEN && strncmp(secret, "sk-", 3) == 0;
	for (i = 3; i < KEYS_SECRET_LEN; i++)
		form = form && strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		    secret[i]) != NULL;
	ok(form, "the secret is sk- and 43 base62 digits: %s", secret);
	EVP_Digest(secret, strlen(secret), digest, &dlen, EVP_sha256(), NULL);
	ok(memcmp(digest, k.hash, 32) == 0, "the token is the SHA-256 of the whole secret");
	ok(strncmp(k.hint, secret, 8) == 0 && strncmp(k.hint + 8, "...", 3) == 0 &&
	    strcmp(k.hint + 11, secret + KEYS_SECRET_LEN - 4) == 0 && strlen(k.hint) == 15,
	    "the hint is the first 8 and last 4 characters: %s", k.hint);
	ok(same_attrs(&k.a, &a), "the stored key has the attributes asked for");
	is_str(k.a.metadata, "{\"owner\":\"alice smith\",\"cost_center\":1.10}",
	    "metadata is kept compact, its tokens as written");
	ok(k.created_ns == NOW && k.updated_ns == NOW && !k.revoked && k.revoked_ns == KEYS_UNSET,
	    "created and updated now, not revoked");

	rc = keys_lookup_secret(ks, secret, strlen(secret), &got, fresh(err), sizeof(err));
	ok(rc == 0 && memcmp(got.hash, k.hash, 32) == 0 && same_attrs(&got.a, &a),
	    "lookup by the secret finds it (rc %d %s)", rc, err);
	memcpy(wrong, secret, sizeof(wrong));
	wrong[KEYS_SECRET_LEN - 1] = wrong[KEYS_SECRET_LEN - 1] == 'a' ? 'b' : 'a';
	is_int(keys_lookup_secret(ks, wrong, strlen(wrong), &got, fresh(err), sizeof(err)), 1,
	    "a secret one character off finds nothing");
	is_int(keys_lookup_secret(ks, secret, KEYS_SECRET_LEN - 1, &got, fresh(err), sizeof(err)), 1,
	    "the secret without its last character finds nothing");
	is_int(keys_lookup_secret(ks, "", 0, &got, fresh(err), sizeof(err)), 1, "an empty secret finds nothing");
	ok(memcmp(got.hash, k.hash, 32) == 0, "a failed lookup leaves the last key in place");

	ok(!file_has(data, secret, KEYS_SECRET_LEN), "the secret is not in data.mdb");
	ok(!file_has(data, secret + 3, KEYS_SECRET_LEN - 3), "nor its digits");
	ok(!file_has(data, secret + 8, 20), "nor 20 of its middle digits");
	ok(file_has(data, k.hash, KEYS_HASH_LEN), "but its SHA-256 is (so the file was read)");
	ok(file_has(data, k.hint, strlen(k.hint)), "and so is its hint");

	keys_hash_hex(k.hash, hex);
	for (i = 0; i <= KEYS_HEX_LEN; i++)
		upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	memset(&got.hash, 0, sizeof(got.hash));
	ok(keys_get(ks, hex, &got, fresh(err), sizeof(err)) == 0 && memcmp(got.hash, k.hash, 32) == 0,
	    "keys_get by token");
	memset(&got.hash, 0, sizeof(got.hash));
	ok(keys_get(ks, upper, &got, fresh(err), sizeof(err)) == 0 && memcmp(got.hash, k.hash, 32) == 0,
	    "keys_get by token in capitals");
	memset(&got.hash, 0, sizeof(got.hash));
	ok(keys_get(ks, "prod-app", &got, fresh(err), sizeof(err)) == 0 &&
	    memcmp(got.hash, k.hash, 32) == 0, "keys_get by alias");
	memset(&got.hash, 0, sizeof(got.hash));
	ok(keys_get(ks, secret, &got, fresh(err), sizeof(err)) == 0 && memcmp(got.hash, k.hash, 32) == 0,
	    "keys_get by secret");
	is_int(keys_get(ks, "no-such-alias", &got, fresh(err), sizeof(err)), 1, "an unknown alias: 1");
	hex[0] = hex[0] == '0' ? '1' : '0';
	is_int(keys_get(ks, hex, &got, fresh(err), sizeof(err)), 1, "an unknown token: 1");

	/* alias uniqueness */
	keys_attrs_init(&ch);
	ch.set = KEYS_F_ALIAS;
	ch.alias = "prod-app";
	ok(keys_create(ks, &ch, NOW + NS, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "key_alias: 'prod-app' is taken"), "a live key's alias is refused: %s", err);
	ch.alias = "batch";
	ok(keys_create(ks, &ch, NOW + NS, secret2, &other, fresh(err), sizeof(err)) == 0,
	    "a second key, alias batch");
	ok(strcmp(secret, secret2) != 0, "with a different secret");
	ch.alias = "prod-app";
	ok(keys_update(ks, other.hash, &ch, NOW + 2 * NS, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "is taken"), "renaming it to a live key's alias is refused: %s", err);

	/* partial update */
	keys_attrs_init(&ch);
	ch.set = KEYS_F_MAX_BUDGET | KEYS_F_TAGS | KEYS_F_USER;
	ch.max_budget = 20 * PICO;
	ch.user_id = NULL;
	ok(keys_update(ks, k.hash, &ch, NOW + 3 * NS, &got, fresh(err), sizeof(err)) == 0,
	    "update max_budget, clear tags and user_id: %s", err);
	ok(got.a.max_budget == 20 * PICO && got.a.ntags == 0 && got.a.tags == NULL &&
	    got.a.user_id == NULL, "the fields given changed");
	a.max_budget = 20 * PICO;
	a.ntags = 0;
	a.user_id = NULL;
	ok(same_attrs(&got.a, &a) && strcmp(got.a.team_id, "research") == 0 &&
	    got.a.nmodels == 2 && got.a.soft_budget == 8 * PICO,
	    "and every other field kept its value");
	ok(got.created_ns == NOW && got.updated_ns == NOW + 3 * NS, "updated_at moved, created_at did not");
	ch.set = KEYS_F_SOFT_BUDGET;
	ch.soft_budget = 30 * PICO;
	ok(keys_update(ks, k.hash, &ch, NOW + 4 * NS, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "soft_budget: more than max_budget"), "a soft budget over the max: %s", err);
	ch.set = KEYS_F_BUDGET_DURATION;
	ch.budget_duration = "1fortnight";
	ok(keys_update(ks, k.hash, &ch, NOW + 4 * NS, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "budget_duration: '1fortnight'"), "a bad budget_duration: %s", err);
	memset(upper, 0, sizeof(upper));
	is_int(keys_update(ks, (unsigned char *)upper, &ch, NOW, NULL, fresh(err), sizeof(err)), 1,
	    "updating an unknown token: 1");

	/* revocation */
	ok(keys_revoke(ks, k.hash, NOW + 5 * NS, fresh(err), sizeof(err)) == 0, "revoke: %s", err);
	ok(keys_lookup_secret(ks, secret, strlen(secret), &got, fresh(err), sizeof(err)) == 0 &&
	    got.revoked && got.revoked_ns == NOW + 5 * NS, "a revoked key is still found, revoked");
	is_int(keys_state(&got, NOW + 5 * NS), KEYS_REVOKED, "its state is revoked");
	ok(keys_revoke(ks, k.hash, NOW + 6 * NS, fresh(err), sizeof(err)) == 0 &&
	    keys_get(ks, secret, &got, fresh(err), sizeof(err)) == 0 && got.revoked_ns == NOW + 5 * NS,
	    "revoking again keeps the first time");
	ch.set = KEYS_F_RPM;
	ch.rpm_limit = 1;
	ok(keys_update(ks, k.hash, &ch, NOW + 7 * NS, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "revoked"), "a revoked key cannot change: %s", err);
	ch.set = KEYS_F_ALIAS;
	ch.alias = "prod-app";
	ok(keys_update(ks, other.hash, &ch, NOW + 8 * NS, NULL, fresh(err), sizeof(err)) == 0,
	    "a revoked key's alias is free again: %s", err);
	ok(keys_get(ks, "prod-app", &got, fresh(err), sizeof(err)) == 0 &&
	    memcmp(got.hash, other.hash, 32) == 0, "and names the live key");

	/* expiry */
	keys_attrs_init(&ch);
	ch.set = KEYS_F_EXPIRES;
	ch.expires_ns = NOW + 60 * NS;
	ok(keys_create(ks, &ch, NOW + 9 * NS, secret2, &got, fresh(err), sizeof(err)) == 0, "a key that expires");
	is_int(keys_state(&got, NOW + 59 * NS), KEYS_ACTIVE, "active before it expires");
	is_int(keys_state(&got, NOW + 60 * NS), KEYS_EXPIRED, "expired from then on");
	is_str(keys_state_name(KEYS_EXPIRED), "expired", "state names");

	/* list: oldest first, stop early */
	rc = keys_list(ks, count_key, &s, fresh(err), sizeof(err));
	ok(rc == 0 && s.n == 3 && s.ordered, "list visits 3 keys, oldest first (%d %s)", s.n, err);
	memset(&s, 0, sizeof(s));
	s.ordered = 1;
	s.stop_after = 2;
	ok(keys_list(ks, count_key, &s, fresh(err), sizeof(err)) == 0 && s.n == 2, "and stops when asked");

	/* a value a newer tollgate wrote */
	memset(newer, 0xee, sizeof(newer));
	put_newer(l, newer);
	keys_hash_hex(newer, hex);
	ok(keys_get(ks, hex, &got, fresh(err), sizeof(err)) < 0 && strstr(err, "newer tollgate"),
	    "a key of a newer layout is refused, not misread: %s", err);
	is_int(key_count(ks), 3, "and list passes over it");

	/* an alias only revoked keys had names the newest of them */
	keys_attrs_init(&ch);
	ch.set = KEYS_F_ALIAS;
	ch.alias = "old";
	for (i = 0; i < 3; i++) {
		if (keys_create(ks, &ch, NOW + (20 + (int64_t)i) * NS, secret2, &got, fresh(err),
		    sizeof(err)) < 0 || keys_revoke(ks, got.hash, NOW + 30 * NS, err, sizeof(err)) < 0)
			bail("revoked aliases", err);
	}
	ok(keys_get(ks, "old", &got, fresh(err), sizeof(err)) == 0 &&
	    got.created_ns == NOW + 22 * NS, "an alias of revoked keys only names the newest");

	/* bad attributes never reach the store */
	keys_attrs_init(&ch);
	ch.set = KEYS_F_TAGS;
	ch.tags = (const char *[]){ "a,b" };
	ch.ntags = 1;
	ok(keys_create(ks, &ch, NOW, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "tags: 'a,b' holds a comma"), "a tag with a comma: %s", err);
	ch.tags = (const char *[]){ "" };
	ok(keys_create(ks, &ch, NOW, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "tags: an empty name"), "an empty tag: %s", err);
	keys_attrs_init(&ch);
	ch.set = KEYS_F_ALIAS;
	ch.alias = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	ok(keys_create(ks, &ch, NOW, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "would read as a token"), "an alias of 64 hex digits: %s", err);
	ch.alias = "tab\there";
	ok(keys_create(ks, &ch, NOW, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "control character"), "an alias with a tab: %s", err);
	keys_attrs_init(&ch);
	ch.set = KEYS_F_METADATA;
	ch.metadata = "{\"a\": 1, \"a\": 2}";
	ok(keys_create(ks, &ch, NOW, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "metadata: malformed JSON"), "metadata with a duplicate key: %s", err);
	ch.set = KEYS_F_RPM;
	ch.rpm_limit = -5;
	ok(keys_create(ks, &ch, NOW, secret2, NULL, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, "rpm_limit: must not be negative"), "a negative rpm_limit: %s", err);
	is_int(key_count(ks), 6, "none of them was stored");

	test_other_process(dir, l, ks);

	keys_key_release(&k);
	keys_key_release(&got);
	keys_key_release(&other);
	keys_close(ks);
	ledger_close(l);
}

/* A reader that opened its store before a writer created the keys database. */
static void
test_late_database(void)
{
	char dir[300], err[512];
	struct ledger *l;

	snprintf(dir, sizeof(dir), "%s/late", root);
	if (ledger_open(dir, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) < 0)
		bail("ledger_open", err);
	test_other_process(dir, l, NULL);
	ledger_close(l);
}

/* A map too small for the keys grows while they are created. */
static void
test_growth(void)
{
	char dir[300], err[512], secret[KEYS_SECRET_LEN + 1], *meta;
	struct keys_attrs a;
	struct ledger *l;
	struct keys *ks;
	int i, made = 0;

	snprintf(dir, sizeof(dir), "%s/small", root);
	if (ledger_open(dir, LEDGER_WRITE, 256u << 10, 1, &l, err, sizeof(err)) < 0 ||
	    keys_open(l, &ks, err, sizeof(err)) < 0)
		bail("open", err);
	if ((meta = malloc(16 << 10)) == NULL)
		bail("malloc", strerror(errno));
	memset(meta, 'x', 16 << 10);
	memcpy(meta, "{\"pad\": \"", 9);
	memcpy(meta + (16 << 10) - 3, "\"}", 3);
	keys_attrs_init(&a);
	a.set = KEYS_F_METADATA;
	a.metadata = meta;
	for (i = 0; i < 40; i++)
		made += keys_create(ks, &a, NOW + i, secret, NULL, fresh(err), sizeof(err)) == 0;
	is_int(made, 40, "40 keys of 16 KiB in a map of 256 KiB: the map grows (%s)", err);
	is_int(key_count(ks), 40, "and all of them are there");
	free(meta);
	keys_close(ks);
	ledger_close(l);
}

static void
refused(const char *json, const char *why)
{
	struct keys_key k = { 0 };
	char err[512] = "";

	ok(keys_from_json(json, strlen(json), NOW, &k, fresh(err), sizeof(err)) < 0 &&
	    strstr(err, why) != NULL, "%s is refused: %s", json, err);
	keys_key_release(&k);
}

static void
test_json(void)
{
	static const char request[] =
	    "{\"key_alias\": \"web\", \"user_id\": \"u-1\", \"team_id\": null,\n"
	    " \"models\": [\"gpt-4o\", \"claude\\u002dsonnet\"], \"tags\": [\"a\"],\n"
	    " \"max_budget\": 10.50, \"soft_budget\": \"0.0001\", \"budget_duration\": \"30d\",\n"
	    " \"rpm_limit\": 10, \"tpm_limit\": null, \"duration\": \"30d\",\n"
	    " \"metadata\": {\"cost_center\": 0.1, \"note\": \"x y\"},\n"
	    " \"max_parallel_requests\": null, \"customer\": \"acme\", \"model_max_budget\": {}}";
	struct keys_key k = { 0 }, back = { 0 }, stored = { 0 };
	struct buf out = { 0 };
	struct window w;
	char err[512] = "", dir[300], secret[KEYS_SECRET_LEN + 1];
	struct ledger *l;
	struct keys *ks;
	int rc;

	rc = keys_from_json(request, strlen(request), NOW, &k, fresh(err), sizeof(err));
	ok(rc == 0, "a LiteLLM /key/generate request parses: %s", err);
	is_str(k.a.alias, "web", "key_alias");
	is_str(k.a.user_id, "u-1", "user_id");
	ok(k.a.team_id == NULL && (k.a.set & KEYS_F_TEAM), "team_id null: given, none");
	ok(k.a.nmodels == 2 && strcmp(k.a.models[1], "claude-sonnet") == 0,
	    "models, escapes decoded");
	is_int(k.a.max_budget, 10 * PICO + PICO / 2, "max_budget 10.50 exactly");
	is_int(k.a.soft_budget, PICO / 10000, "soft_budget \"0.0001\" exactly");
	is_int(k.a.rpm_limit, 10, "rpm_limit");
	ok(k.a.tpm_limit == KEYS_UNSET && (k.a.set & KEYS_F_TPM), "tpm_limit null: given, none");
	window_parse("30d", &w, err, sizeof(err));
	is_int(k.a.expires_ns, window_advance(&w, NOW), "duration 30d: expires 30 days after now");
	is_str(k.a.customer, "acme", "customer");
	ok((k.a.set & KEYS_F_METADATA) && strstr(k.a.metadata, "0.1") != NULL,
	    "metadata kept as written");
	is_int(k.a.set, KEYS_F_ALL, "every field was given");

	snprintf(dir, sizeof(dir), "%s/json", root);
	if (ledger_open(dir, LEDGER_WRITE, MAP_SIZE, 1, &l, err, sizeof(err)) < 0 ||
	    keys_open(l, &ks, err, sizeof(err)) < 0)
		bail("open", err);
	if (keys_create(ks, &k.a, NOW, secret, &stored, fresh(err), sizeof(err)) < 0)
		bail("keys_create", err);
	ok(keys_to_json(&stored, secret, &out) == 0, "the response is written");
	ok(strncmp(out.data, "{\"key\": \"sk-", 12) == 0, "it starts with the secret, once created");
	ok(strstr(out.data, "\"max_budget\": 10.5,") && strstr(out.data, "\"soft_budget\": 0.0001,"),
	    "money as exact decimal numbers: %s", out.data);
	ok(strstr(out.data, "\"metadata\": {\"cost_center\":0.1,\"note\":\"x y\"}") != NULL,
	    "metadata as an object, numbers as written");
	ok(strstr(out.data, "\"expires\": \"2026-12-23T16:51:06Z\"") != NULL,
	    "expires in RFC 3339, 30 days on");
	ok(strstr(out.data, "\"team_id\": null") && strstr(out.data, "\"tpm_limit\": null") &&
	    strstr(out.data, "\"revoked_at\": null") && strstr(out.data, "\"blocked\": false"),
	    "absent values are null, blocked false");
	ok(strstr(out.data, "\"key_name\": \"sk-") != NULL, "key_name is the hint");
	out.len = 0;
	keys_to_json(&stored, NULL, &out);
	ok(strstr(out.data, "\"key\":") == NULL && strstr(out.data, secret) == NULL,
	    "without the secret, no key field");
	rc = keys_from_json(out.data, out.len, NOW + 5 * NS, &back, fresh(err), sizeof(err));
	ok(rc == 0, "the response reads back as a request: %s", err);
	ok(same_attrs(&back.a, &stored.a), "with the same attributes");
	is_str(back.a.metadata, stored.a.metadata, "and the same metadata");

	out.len = 0;
	ok(keys_from_json("{\"expires\": \"2027-01-01T00:00:00.5Z\"}", 37, NOW, &back, err,
	    sizeof(err)) == 0 && back.a.expires_ns == 1798761600 * NS + NS / 2,
	    "expires in RFC 3339: %s", err);
	back.a.set = KEYS_F_EXPIRES;
	stored.a.expires_ns = back.a.expires_ns;
	keys_to_json(&stored, NULL, &out);
	ok(strstr(out.data, "\"expires\": \"2027-01-01T00:00:00.5Z\"") != NULL,
	    "fractions of a second are written");
	ok(keys_from_json("{}", 2, NOW, &back, fresh(err), sizeof(err)) == 0 && back.a.set == 0,
	    "an empty request gives nothing");
	ok(keys_from_json("{\"blocked\": false, \"revoked\": null}", 35, NOW, &back, err,
	    sizeof(err)) == 0, "blocked false is fine: %s", err);

	refused("{\"max_budget\": -1}", "max_budget: '-1' is negative");
	refused("{\"max_budget\": 1e-13}", "max_budget: '1e-13' is finer than a picodollar");
	refused("{\"max_budget\": true}", "max_budget: expected an amount of USD");
	refused("{\"max_budget\": \"ten\"}", "max_budget: 'ten' is not an amount");
	refused("{\"soft_budget\": 5, \"max_budget\": 4}", "soft_budget: more than max_budget");
	refused("{\"rpm_limit\": 1.5}", "rpm_limit: '1.5' is not a whole number");
	refused("{\"tpm_limit\": \"10\"}", "tpm_limit: expected a whole number");
	refused("{\"models\": \"gpt\"}", "models: expected an array");
	refused("{\"models\": [1]}", "models: expected an array of strings");
	refused("{\"tags\": [\"a,b\"]}", "tags: 'a,b' holds a comma");
	refused("{\"budget_duration\": \"1w\"}", "budget_duration: '1w' is not a duration");
	refused("{\"duration\": \"soon\"}", "duration: 'soon' is not a duration");
	refused("{\"expires\": \"7d\"}", "expires: '7d' is not an RFC 3339 time");
	refused("{\"expires\": 5}", "expires: expected a string");
	refused("{\"expires\": \"2027-01-01\", \"duration\": \"1d\"}", "give one of them");
	refused("{\"metadata\": [1]}", "metadata: expected an object");
	refused("{\"metadata\": {\"a\": 1, \"a\": 2}}", "metadata: malformed JSON");
	refused("{\"key_alias\": 5}", "key_alias: expected a string");
	refused("{\"key_alias\": \"sk-abc\"}", "key_alias: 'sk-abc' would read as a secret");
	refused("{\"user_id\": \"a\\u0000b\"}", "user_id: a string holding a NUL");
	refused("{\"user_id\": \"a\", \"user_id\": \"b\"}", "user_id: given twice");
	refused("{\"max_parallel_requests\": 5}", "unknown field 'max_parallel_requests'");
	refused("{\"key\": \"sk-mine\"}", "key: a key's secret is always generated");
	refused("{\"blocked\": true}", "blocked: true is not taken here");
	refused("[1]", "expected a JSON object");
	refused("{\"user_id\": \"a\",}", "malformed JSON at 1:");
	refused("{\"user_id\": \"a\"} x", "malformed JSON at 1:");

	buf_release(&out);
	keys_key_release(&k);
	keys_key_release(&back);
	keys_key_release(&stored);
	keys_close(ks);
	ledger_close(l);
}

/* model_max_budget: parsed exactly, stored, found by model, written back as LiteLLM does. */
static void
test_model_budgets(void)
{
	static const char request[] = "{\"model_max_budget\": {\"gpt-4o\": {\"budget_limit\": 0.5, "
	    "\"time_period\": \"1d\"}, \"o3\": {\"budget_limit\": \"12.25\"}, \"mini\": 3}}";
	struct keys_key k = { 0 }, back = { 0 };
	struct keys_model_budget mb;
	struct buf out = { 0 };
	char err[512] = "";

	ok(keys_from_json(request, strlen(request), NOW, &k, fresh(err), sizeof(err)) == 0 &&
	    k.a.nmodel_budgets == 3 && (k.a.set & KEYS_F_MODEL_BUDGETS), "three model budgets read: %s",
	    err);
	ok(keys_model_budget_find(&k, "gpt-4o", &mb) == 1 && mb.max_budget == 500000000000LL &&
	    mb.has_window && mb.window.unit == WINDOW_DAYS && mb.window.n == 1,
	    "gpt-4o: $0.5 a day, exactly");
	ok(keys_model_budget_find(&k, "o3", &mb) == 1 && mb.max_budget == 12250000000000LL &&
	    !mb.has_window, "o3: $12.25 (a string), never resetting");
	ok(keys_model_budget_find(&k, "mini", &mb) == 1 && mb.max_budget == 3000000000000LL,
	    "mini: a bare amount");
	ok(keys_model_budget_find(&k, "gpt-4", &mb) == 0, "gpt-4 has none (no prefix match)");
	ok(keys_to_json(&k, NULL, &out) == 0 && strstr(out.data, "\"model_max_budget\": "
	    "{\"gpt-4o\": {\"budget_limit\": 0.5, \"time_period\": \"1d\"}, \"o3\": "
	    "{\"budget_limit\": 12.25, \"time_period\": null}") != NULL,
	    "written back as LiteLLM writes it");
	ok(out.data != NULL && keys_from_json(out.data, out.len, NOW, &back, fresh(err),
	    sizeof(err)) == 0 && back.a.nmodel_budgets == 3 &&
	    keys_model_budget_find(&back, "o3", &mb) == 1 && mb.max_budget == 12250000000000LL,
	    "and read back the same: %s", err);
	{
		char dir[400], secret[KEYS_SECRET_LEN + 1];
		struct keys_key stored = { 0 };
		struct ledger *l;
		struct keys *ks;

		snprintf(dir, sizeof(dir), "%s/model-budgets", root);
		if (ledger_open(dir, LEDGER_WRITE, 8u << 20, 1, &l, err, sizeof(err)) < 0 ||
		    keys_open(l, &ks, err, sizeof(err)) < 0)
			bail("model budgets store", err);
		ok(keys_create(ks, &k.a, NOW, secret, NULL, fresh(err), sizeof(err)) == 0 &&
		    keys_get(ks, secret, &stored, fresh(err), sizeof(err)) == 0 &&
		    stored.a.nmodel_budgets == 3 && keys_model_budget_find(&stored, "gpt-4o", &mb) == 1 &&
		    mb.max_budget == 500000000000LL, "stored and read back from the key store: %s", err);
		keys_key_release(&stored);
		{
			/* a key written by the first layout: no model budgets list */
			struct keys_attrs plain;
			unsigned char old[4096];
			MDB_val mk = { KEYS_HASH_LEN, NULL }, mv;
			MDB_txn *txn;
			MDB_dbi dbi;
			int rc = -1;

			keys_attrs_init(&plain);
			plain.set = KEYS_F_ALIAS;
			plain.alias = "old-layout";
			if (keys_create(ks, &plain, NOW, secret, &stored, fresh(err), sizeof(err)) == 0 &&
			    ledger_txn_begin(l, 1, &txn) == 0) {
				mk.mv_data = stored.hash;
				/* written as layout 1 itself: an older tollgate reads it */
				if (mdb_dbi_open(txn, "keys", 0, &dbi) == 0 &&
				    mdb_get(txn, dbi, &mk, &mv) == 0 && mv.mv_size <= sizeof(old)) {
					memcpy(old, mv.mv_data, mv.mv_size);
					rc = old[0] == 1 ? 0 : -1;
				}
				mdb_txn_abort(txn);
			}
			keys_key_release(&stored);
			ok(rc == 0 && keys_get(ks, "old-layout", &stored, fresh(err), sizeof(err)) == 0 &&
			    stored.a.nmodel_budgets == 0 && strcmp(stored.a.alias, "old-layout") == 0,
			    "a key without model budgets is written as layout 1, and reads, by its alias "
			    "too: %s", err);
			keys_key_release(&stored);
		}
		keys_close(ks);
		ledger_close(l);
	}
	refused("{\"model_max_budget\": {\"x\": {\"budget_limit\": -1}}}", "model_max_budget");
	refused("{\"model_max_budget\": {\"x\": {\"budget_limit\": 1, \"time_period\": \"1y\"}}}",
	    "model_max_budget");
	refused("{\"model_max_budget\": {\"x\": {\"limit\": 1}}}", "model_max_budget");
	refused("{\"model_max_budget\": [1]}", "model_max_budget");
	ok(keys_model_budget_parse("a=b=0.5/7d", &mb, fresh(err), sizeof(err)) == 0 &&
	    strcmp(mb.model, "a=b") == 0 && mb.window.n == 7, "the last '=' splits model from amount");
	ok(keys_model_budget_parse("gpt=0.0000000000001", &mb, fresh(err), sizeof(err)) < 0,
	    "finer than a picodollar is refused: %s", err);
	buf_release(&out);
	keys_key_release(&k);
	keys_key_release(&back);
}

int
main(void)
{
	char err[256];

	snprintf(root, sizeof(root), "%s/t_keys.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
	    "/tmp");
	if (mkdtemp(root) == NULL)
		bail("mkdtemp", strerror(errno));
	if (window_set_timezone("UTC", err, sizeof(err)) < 0)
		bail("window_set_timezone", err);
	test_money();
	test_store();
	test_late_database();
	test_growth();
	test_json();
	test_model_budgets();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
