/*
 * The key admin endpoints, compatible with LiteLLM's request and response
 * fields: POST /key/generate, GET /key/info, POST /key/update, POST
 * /key/delete (a revocation: records keep naming the key), GET /key/list.
 * The master key only.  They write the key store in the ledger's
 * environment, which every worker reads on each request, so a change is in
 * force at once everywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "keys.h"
#include "limitset.h"
#include "log.h"
#include "money.h"
#include "secret.h"
#include "timeparse.h"
#include "tollgated.h"
#include "worker.h"

static void
reply(struct hreq *req, int status, const struct buf *b)
{
	hreq_add_header(req, "Content-Type", "application/json");
	hreq_reply(req, status, b->data ? b->data : "", b->len);
}

/* The bearer (or x-api-key) of the request, NULL when none. */
static const char *
bearer(struct hreq *req)
{
	const char *auth = hreq_header(req, "Authorization"), *key;

	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		key = auth + 7;
	else
		key = hreq_header(req, "x-api-key");
	return key != NULL && *key != '\0' ? key : NULL;
}

int
admin_master_only(struct hreq *req, const char *what)
{
	const char *key = bearer(req), *want = heritage.config->master_key;

	if (key == NULL) {
		http_send_error(req, 401, "invalid_request_error", "missing_api_key",
		    "no API key: %s takes the master key", what);
		return -1;
	}
	if (want == NULL || !secret_equal(key, strlen(key), want, strlen(want))) {
		http_send_error(req, 403, "permission_error", "not_master_key",
		    "%s takes the master key", what);
		return -1;
	}
	return 0;
}

/* Only the master key administers keys: 0, or -1 with the 401, 403 or 503 sent. */
static int
master_only(struct hreq *req)
{
	if (admin_master_only(req, "key management") < 0)
		return -1;
	if (worker.keys == NULL) {
		http_send_error(req, 503, "server_error", "key_store_unavailable",
		    "the key store is not open (see the log)");
		return -1;
	}
	return 0;
}

/* The request body as text; NULL (400 sent) when it is not a JSON object. */
static const char *
body_of(struct hreq *req, size_t *len, json_t **obj)
{
	json_error_t je;
	const char *text = hreq_body(req, len);

	*obj = json_loadb(text, *len, 0, &je);
	if (*obj == NULL || !json_is_object(*obj)) {
		http_send_error(req, 400, "invalid_request_error", "invalid_json",
		    "the body must be a JSON object (%s)", *obj ? "not an object" : je.text);
		json_decref(*obj);
		return NULL;
	}
	return text;
}

/* The key's object with its spend in the current budget window and when that window ends. */
int
admin_key_json(const struct keys_key *k, const char *secret, struct buf *out)
{
	struct budget_reading r;
	char id[BUDGET_ID_MAX], spend[MONEY_FORMAT_MAX], name[32], why[160];
	struct window w = { 0 };
	int64_t now = clock_now_ns();
	int has_window;

	if (keys_to_json(k, secret, out) < 0 || out->len == 0 || out->data[out->len - 1] != '}')
		return -1;
	snprintf(name, sizeof(name), "key:%02x%02x%02x%02x%02x%02x%02x%02x", k->hash[0],
	    k->hash[1], k->hash[2], k->hash[3], k->hash[4], k->hash[5], k->hash[6], k->hash[7]);
	has_window = k->a.budget_duration != NULL && *k->a.budget_duration &&
	    window_parse(k->a.budget_duration, &w, why, sizeof(why)) == 0;
	limitset_key_id(name, has_window, &w, id, sizeof(id));
	if (heritage.budgets == NULL ||
	    heritage.budgets->ops->read(heritage.budgets, id, now, &r) != 0)
		r.spent = 0;
	money_format(r.spent, MONEY_COST_SCALE, spend);
	out->len--;
	buf_printf(out, ", \"spend\": %s, \"budget_reset_at\": ", spend);
	if (has_window) {
		int64_t start, end;
		char when[64];

		window_bounds(&w, now, &start, &end);
		buf_printf(out, "\"%s\"}", time_format(end, when, sizeof(when)));
	} else
		buf_printf(out, "null}");
	return 0;
}

/* Looks up ref (a token, a secret or an alias): 0, or -1 with the 404 or 500 sent. */
static int
find_key(struct hreq *req, const char *ref, struct keys_key *k)
{
	char err[256];
	int rc;

	if (ref == NULL || *ref == '\0') {
		http_send_error(req, 400, "invalid_request_error", "missing_key",
		    "name the key: its token, its secret or its alias");
		return -1;
	}
	if ((rc = keys_get(worker.keys, ref, k, err, sizeof(err))) == 0)
		return 0;
	if (rc == 1)
		http_send_error(req, 404, "invalid_request_error", "key_not_found", "no such key");
	else {
		log_error("worker %u: %s", heritage.index, err);
		http_send_error(req, 500, "server_error", "key_store_error", "%s", err);
	}
	return -1;
}

static void
key_generate(struct hreq *req)
{
	struct keys_key in = { 0 }, out = { 0 };
	char secret[KEYS_SECRET_LEN + 1], err[512];
	struct buf b = { 0 };
	json_t *obj;
	size_t len;
	const char *text;

	if ((text = body_of(req, &len, &obj)) == NULL)
		return;
	json_decref(obj);
	if (keys_from_json(text, len, clock_now_ns(), &in, err, sizeof(err)) < 0 ||
	    keys_create(worker.keys, &in.a, clock_now_ns(), secret, &out, err, sizeof(err)) < 0)
		http_send_error(req, 400, "invalid_request_error", "invalid_key_request", "%s", err);
	else if (admin_key_json(&out, secret, &b) < 0)
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
	else
		reply(req, 200, &b);
	OPENSSL_cleanse(secret, sizeof(secret));
	buf_release(&b);
	keys_key_release(&in);
	keys_key_release(&out);
}

/* Answers /key/info for k: {"key": its token, "info": its object}. */
static void
key_info_reply(struct hreq *req, const struct keys_key *k)
{
	struct buf b = { 0 }, kj = { 0 };
	char hex[KEYS_HEX_LEN + 1];

	if (admin_key_json(k, NULL, &kj) < 0)
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
	else {
		/* the token, never the ref: a ref may be the secret itself */
		keys_hash_hex(k->hash, hex);
		buf_printf(&b, "{\"key\": \"%s\", \"info\": %.*s}", hex, (int)kj.len, kj.data);
		reply(req, 200, &b);
	}
	buf_release(&b);
	buf_release(&kj);
}

static void
key_info(struct hreq *req)
{
	const char *query = hreq_query(req);
	struct keys_key k = { 0 };
	char value[1024];
	const char *ref = NULL;

	if (query != NULL && http1_query_param(query, "key", value, sizeof(value)))
		ref = value;
	if (find_key(req, ref, &k) == 0)
		key_info_reply(req, &k);
	keys_key_release(&k);
}

/*
 * GET /key/info with a virtual key as the bearer: that key's own object,
 * spend and budgets (LiteLLM's behaviour), whatever ?key= says if it names
 * the same key; another key's is 403.  1 when it answered, 0 when the
 * bearer is no live virtual key (the master-key path then decides).
 */
static int
key_info_self(struct hreq *req)
{
	const char *secret = bearer(req), *query = hreq_query(req);
	struct keys_key self = { 0 }, other = { 0 };
	char value[1024], err[256];
	int rc;

	if (secret == NULL || worker.keys == NULL)
		return 0;
	rc = keys_lookup_secret(worker.keys, secret, strlen(secret), &self, err, sizeof(err));
	if (rc != 0 || keys_state(&self, clock_now_ns()) != KEYS_ACTIVE) {
		keys_key_release(&self);
		return 0;
	}
	if (query != NULL && http1_query_param(query, "key", value, sizeof(value)) &&
	    *value != '\0' && (keys_get(worker.keys, value, &other, err, sizeof(err)) != 0 ||
	    memcmp(other.hash, self.hash, KEYS_HASH_LEN) != 0))
		http_send_error(req, 403, "permission_error", "not_own_key",
		    "a virtual key may see only its own information");
	else
		key_info_reply(req, &self);
	keys_key_release(&self);
	keys_key_release(&other);
	return 1;
}

static void
key_update(struct hreq *req)
{
	struct keys_key k = { 0 }, changes = { 0 }, out = { 0 };
	struct buf b = { 0 };
	char err[512];
	const char *text;
	json_t *obj;
	size_t len;
	int rc;

	if ((text = body_of(req, &len, &obj)) == NULL)
		return;
	if (find_key(req, json_string_value(json_object_get(obj, "key")), &k) < 0)
		goto out;
	/* the body as sent, never through jansson's doubles: amounts stay exact */
	if (keys_update_from_json(text, len, clock_now_ns(), &changes, err, sizeof(err)) < 0) {
		http_send_error(req, 400, "invalid_request_error", "invalid_key_request", "%s", err);
		goto out;
	}
	rc = keys_update(worker.keys, k.hash, &changes.a, clock_now_ns(), &out, err, sizeof(err));
	if (rc != 0)
		http_send_error(req, rc == 1 ? 404 : 400, "invalid_request_error",
		    rc == 1 ? "key_not_found" : "invalid_key_request", "%s",
		    rc == 1 ? "no such key" : err);
	else if (admin_key_json(&out, NULL, &b) < 0)
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
	else
		reply(req, 200, &b);
out:
	json_decref(obj);
	buf_release(&b);
	keys_key_release(&k);
	keys_key_release(&changes);
	keys_key_release(&out);
}

#define DELETE_MAX	1000

/* Revokes every key named in "keys" (and "key_aliases"): all found, or none touched. */
static void
key_delete(struct hreq *req)
{
	unsigned char (*hash)[KEYS_HASH_LEN] = NULL;
	struct keys_key k = { 0 };
	struct buf b = { 0 };
	char err[512], hex[KEYS_HEX_LEN + 1];
	const char *lists[] = { "keys", "key_aliases" };
	json_t *obj, *item;
	size_t len, i, j, n = 0;

	if (body_of(req, &len, &obj) == NULL)
		return;
	if ((hash = calloc(DELETE_MAX, sizeof(*hash))) == NULL) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		goto out;
	}
	/* every name is found before anything is revoked */
	for (i = 0; i < 2; i++) {
		json_t *list = json_object_get(obj, lists[i]);

		if (list != NULL && !json_is_array(list)) {
			http_send_error(req, 400, "invalid_request_error", "invalid_key_request",
			    "%s: expected a list of keys", lists[i]);
			goto out;
		}
		json_array_foreach(list, j, item) {
			if (n == DELETE_MAX) {
				http_send_error(req, 400, "invalid_request_error", "invalid_key_request",
				    "at most %d keys at once", DELETE_MAX);
				goto out;
			}
			if (find_key(req, json_string_value(item), &k) < 0)
				goto out;
			memcpy(hash[n++], k.hash, KEYS_HASH_LEN);
		}
	}
	if (n == 0) {
		http_send_error(req, 400, "invalid_request_error", "missing_key",
		    "name the keys to delete: {\"keys\": [...]}");
		goto out;
	}
	buf_printf(&b, "{\"deleted_keys\": [");
	for (i = 0; i < n; i++) {
		if (keys_revoke(worker.keys, hash[i], clock_now_ns(), err, sizeof(err)) < 0) {
			http_send_error(req, 500, "server_error", "key_store_error", "%s", err);
			goto out;
		}
		revoked_tell(hash[i]);
		keys_hash_hex(hash[i], hex);
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", hex);
	}
	buf_printf(&b, "]}");
	reply(req, 200, &b);
out:
	free(hash);
	json_decref(obj);
	buf_release(&b);
	keys_key_release(&k);
}

struct list_ctx {
	struct buf	*b;
	size_t		 n;
	int		 full;
};

static int
on_listed(void *arg, const struct keys_key *k)
{
	struct list_ctx *x = arg;
	char hex[KEYS_HEX_LEN + 1];

	if (x->n++)
		buf_append(x->b, ", ", 2);
	if (x->full)
		return admin_key_json(k, NULL, x->b) < 0;
	keys_hash_hex(k->hash, hex);
	buf_printf(x->b, "\"%s\"", hex);
	return 0;
}

static void
key_list(struct hreq *req)
{
	const char *query = hreq_query(req);
	struct buf b = { 0 };
	struct list_ctx x = { &b, 0, 0 };
	char err[256], full[16];

	if (query != NULL && http1_query_param(query, "return_full_object", full, sizeof(full)))
		x.full = strcmp(full, "true") == 0;
	buf_printf(&b, "{\"keys\": [");
	if (keys_list(worker.keys, on_listed, &x, err, sizeof(err)) < 0)
		http_send_error(req, 500, "server_error", "key_store_error", "%s", err);
	else {
		buf_printf(&b, "], \"total_count\": %zu, \"current_page\": 1, \"total_pages\": 1}", x.n);
		reply(req, 200, &b);
	}
	buf_release(&b);
}

static const struct {
	const char		*path;
	enum http1_method	 cmd;
	void			(*serve)(struct hreq *);
} admin_routes[] = {
	{ "/key/generate", HTTP1_POST, key_generate },
	{ "/key/info", HTTP1_GET, key_info },
	{ "/key/update", HTTP1_POST, key_update },
	{ "/key/delete", HTTP1_POST, key_delete },
	{ "/key/list", HTTP1_GET, key_list },
};

int
admin_serve(struct hreq *req, const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++) {
		if (strcmp(path, admin_routes[i].path) != 0)
			continue;
		if (hreq_method(req) != admin_routes[i].cmd)
			http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
			    "%s takes %s", path,
			    admin_routes[i].cmd == HTTP1_GET ? "GET" : "POST");
		else if ((admin_routes[i].serve != key_info || !key_info_self(req)) &&
		    master_only(req) == 0)
			admin_routes[i].serve(req);
		return 1;
	}
	return 0;
}
