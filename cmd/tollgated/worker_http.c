/*
 * The client side of a worker: requests in (from worker_conn.c), OpenAI-style errors out,
 * routing, authentication, the request body read once, and the replies:
 * whole (non-streamed, with the cost headers) or streamed event by event.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/sha.h>

#include "json.h"
#include "clock.h"
#include "log.h"
#include "money.h"
#include "secret.h"
#include "tollgated.h"
#include "worker.h"
#include "provider/dialect.h"

/*
 * An error in the client's own dialect: OpenAI's {"error": {...}}, or on
 * /v1/messages Anthropic's {"type": "error", "error": {"type", "message"}};
 * both keep "param" and "code", tollgate's own detail.
 */
static void
send_error(struct hreq *req, int status, const char *type, const char *code, const char *param,
    const char *fmt, va_list ap)
{
	struct buf msg = { 0 }, body = { 0 }, pj = { 0 };
	const char *path = hreq_path(req);	/* NULL before a request line arrived */
	const struct endpoint *ep = path != NULL ? endpoint_find(path) : NULL;
	int anthropic = ep != NULL && ep->id == ENDPOINT_MESSAGES;
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	json_write_string(&msg, text);
	if (param != NULL)
		json_write_string(&pj, param);
	buf_printf(&body, "{%s\"error\": {\"message\": %s, \"type\": \"%s\", \"param\": %s, "
	    "\"code\": \"%s\"}}\n", anthropic ? "\"type\": \"error\", " : "",
	    msg.data ? msg.data : "\"\"", anthropic ? xlate_error_type(XLATE_MESSAGES, status, type) : type,
	    pj.data ? pj.data : "null", code);
	hreq_add_header(req, "Content-Type", "application/json");
	hreq_reply(req, status, body.data, body.len);
	buf_release(&msg);
	buf_release(&body);
	buf_release(&pj);
}

void
http_send_error(struct hreq *req, int status, const char *type, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_error(req, status, type, code, NULL, fmt, ap);
	va_end(ap);
}

void
http_send_param_error(struct hreq *req, const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_error(req, 400, "invalid_request_error", "invalid_parameter", param, fmt, ap);
	va_end(ap);
}

/* A translation's refusal, naming the field when it is one. */
static void
send_xlate_error(struct hreq *req, const struct xlate_error *e)
{
	if (e->status == 400 && e->param[0])
		http_send_param_error(req, e->param, "%s", e->message);
	else
		http_send_error(req, e->status, e->status >= 500 ? "server_error" :
		    "invalid_request_error", e->status >= 500 ? "translation_failed" :
		    "invalid_request", "%s", e->message);
}

static void
send_json(struct hreq *req, int status, const char *json)
{
	hreq_add_header(req, "Content-Type", "application/json");
	hreq_reply(req, status, json, strlen(json));
}

/* ---- authentication ----------------------------------------------------- */

static int
key_equal(const char *given, const char *want)
{
	return want != NULL && secret_equal(given, strlen(given), want, strlen(want));
}

/* The record's name of a key: "key:" and the first 8 bytes of its SHA-256, never the secret. */
#define KEY_ID_LEN	(sizeof("key:") + 16)
static void
key_id(const unsigned char digest[SHA256_DIGEST_LENGTH], char *id, size_t idlen)
{
	if (idlen >= sizeof("key:") + 16) {
		memcpy(id, "key:", 4);
		buf_hex(id + 4, digest, 8);
	} else
		id[0] = '\0';
}

/*
 * The record's name of tollgate.keys[i], hashed once per configuration: a
 * one-shot SHA256() looks the digest up in OpenSSL 3 every time, which cost
 * more than the rest of authentication.
 */
static void
listed_key_id(size_t i, char *id, size_t idlen)
{
	static const struct config *hashed;
	static char (*ids)[KEY_ID_LEN];
	const struct config *c = heritage.config;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	size_t k;

	if (hashed != c) {
		free(ids);
		ids = calloc(c->tollgate.nkeys ? c->tollgate.nkeys : 1, sizeof(*ids));
		for (k = 0; ids != NULL && k < c->tollgate.nkeys; k++) {
			SHA256((const unsigned char *)c->tollgate.keys[k], strlen(c->tollgate.keys[k]),
			    digest);
			key_id(digest, ids[k], sizeof(ids[k]));
		}
		hashed = ids != NULL ? c : NULL;
	}
	if (ids != NULL)
		buf_copy(id, idlen, ids[i]);
	else {
		SHA256((const unsigned char *)c->tollgate.keys[i], strlen(c->tollgate.keys[i]), digest);
		key_id(digest, id, idlen);
	}
}

/*
 * The client's key, checked: the master key, a key of tollgate.keys, or a
 * virtual key of the key store (*vk then points at it until the next
 * lookup).  Its id goes to the record.  0, or -1 (401 sent).
 */
static int
authenticate(struct hreq *req, int anthropic, char *id, size_t idlen,
    const struct keys_key **vk)
{
	const struct config *c = heritage.config;
	const char *auth = hreq_header(req, "Authorization"), *key = NULL;
	char err[256];
	size_t i;
	int rc;

	*vk = NULL;
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		key = auth + 7;
	else if (anthropic || auth == NULL)
		key = hreq_header(req, "x-api-key");
	if (key == NULL || *key == '\0') {
		http_send_error(req, 401, "invalid_request_error", "missing_api_key",
		    "no API key: send 'Authorization: Bearer KEY'");
		return -1;
	}
	if (key_equal(key, c->master_key)) {
		snprintf(id, idlen, "master");
		return 0;
	}
	for (i = 0; i < c->tollgate.nkeys; i++)
		if (key_equal(key, c->tollgate.keys[i])) {
			listed_key_id(i, id, idlen);
			return 0;
		}
	rc = worker.keys ? keys_lookup_secret(worker.keys, key, strlen(key), &worker.key, err,
	    sizeof(err)) : 1;
	if (rc < 0) {
		log_error("worker %u: %s", heritage.index, err);
		http_send_error(req, 500, "server_error", "key_store_error",
		    "the key store cannot be read");
		return -1;
	}
	if (rc == 0) {
		enum keys_state st = revoked_heard(worker.key.hash) ? KEYS_REVOKED :
		    keys_state(&worker.key, clock_now_ns());

		if (st != KEYS_ACTIVE) {
			http_send_error(req, 401, "invalid_request_error",
			    st == KEYS_REVOKED ? "key_revoked" : "key_expired",
			    "this API key is %s", keys_state_name(st));
			return -1;
		}
		key_id(worker.key.hash, id, idlen);
		*vk = &worker.key;
		return 0;
	}
	http_send_error(req, 401, "invalid_request_error", "invalid_api_key",
	    "invalid API key");
	return -1;
}

/* /metrics with metrics_auth: the master key only.  1, or 0 with the 401 or 403 sent. */
static int
metrics_key(struct hreq *req, char *id, size_t idlen, const struct keys_key **vk)
{
	if (authenticate(req, 0, id, idlen, vk) < 0)
		return 0;
	if (strcmp(id, "master") != 0) {
		http_send_error(req, 403, "permission_error", "not_master_key",
		    "/metrics takes the master key");
		return 0;
	}
	return 1;
}

static int
tier_of(const char *t)
{
	int tier = PRICE_TIER_STANDARD;

	/* none asked for: -1; a name tollgate does not price ("auto", "scale"): standard */
	if (t[0] == '\0')
		return -1;
	price_tier_from_name(t, &tier);
	return tier;
}

/* ---- the endpoints ---------------------------------------------------------- */

static void
serve_models(struct hreq *req)
{
	const struct routes *r = heritage.routes;
	struct buf b = { 0 };
	size_t i;

	buf_printf(&b, "{\"object\": \"list\", \"data\": [");
	for (i = 0; i < r->nmodels; i++) {
		buf_printf(&b, "%s{\"id\": ", i ? ", " : "");
		json_write_string(&b, r->models[i].name);
		buf_printf(&b, ", \"object\": \"model\", \"created\": 0, \"owned_by\": \"tollgate\"}");
	}
	buf_printf(&b, "]}\n");
	send_json(req, 200, b.data);
	buf_release(&b);
}

static void
serve_health(struct hreq *req)
{
	char body[448], fleet[160] = "";
	int degraded = worker.ledger == NULL || ledger_degraded(worker.ledger) ||
	    worker.nunwritten > 0;
	int priced = worker.prices != NULL && worker.prices->table != NULL;
	size_t i;

	/*
	 * The fleet ledger, when there is one: said, never a reason to take this
	 * host out of service (its records wait in the local ledger).
	 */
	for (i = 0; heritage.config->tollgate.postgres_dsn != NULL && i < STATUS_SLOTS; i++) {
		const struct status_slot *s = &heritage.status->slot[i];

		if (__atomic_load_n(&s->role, __ATOMIC_RELAXED) == STATUS_SHIPPER &&
		    __atomic_load_n(&s->state, __ATOMIC_RELAXED) == STATUS_SERVING) {
			snprintf(fleet, sizeof(fleet), ", \"postgres\": \"%s\", "
			    "\"postgres_behind\": %llu", __atomic_load_n(&s->down, __ATOMIC_RELAXED) ?
			    "down" : "ok", (unsigned long long)__atomic_load_n(&s->lag,
			    __ATOMIC_RELAXED));
			break;
		}
	}
	/* this worker's Redis: down keeps it ready (on_failure says what is admitted meanwhile) */
	if (heritage.config->tollgate.redis_url != NULL)
		snprintf(fleet + strlen(fleet), sizeof(fleet) - strlen(fleet), ", \"redis\": \"%s\"",
		    redis_reachable() ? "ok" : "down");
	/* ready: a record can be written and a request priced */
	snprintf(body, sizeof(body), "{\"status\": \"%s\", \"ledger\": \"%s\", "
	    "\"prices\": \"%s\", \"price_generation\": %llu%s}\n",
	    degraded || !priced ? "degraded" : "ok", degraded ? "degraded" : "ok",
	    priced ? "loaded" : "missing",
	    (unsigned long long)(worker.prices ? worker.prices->generation : 0), fleet);
	send_json(req, degraded || !priced ? 503 : 200, body);
}

static void on_client_close(struct hreq *req, void *arg);

/*
 * Random bytes from a pool refilled 4 KiB at a time: a request id costs no
 * system call of its own.  0, or -1 when the kernel gives none.
 */
static int
random_bytes(unsigned char *out, size_t n)
{
	static unsigned char pool[4096];
	static size_t left;

	if (left < n) {
		if (getrandom(pool, sizeof(pool), GRND_NONBLOCK) != (ssize_t)sizeof(pool))
			return -1;
		left = sizeof(pool);
	}
	left -= n;
	memcpy(out, pool + left, n);
	explicit_bzero(pool + left, n);	/* an id is given out once */
	return 0;
}

static struct exchange *
exchange_new(struct hreq *req, const char *endpoint)
{
	struct exchange *ex = exchange_get();
	unsigned char rnd[8];

	if (ex == NULL)
		return NULL;
	ex->magic = EXCHANGE_MAGIC;
	ex->w = &worker;
	ex->req = req;
	ex->request_tier = -1;
	ex->reply_status = 0;
	buf_copy(ex->endpoint, sizeof(ex->endpoint), endpoint);
	ex->rec.start_ns = clock_now_ns();
	ex->rec.worker = heritage.index;
	buf_copy(ex->rec.host, sizeof(ex->rec.host), config_host_id(&heritage.config->tollgate));
	/* request ids: 64 random bits are plenty to tell requests apart */
	if (random_bytes(rnd, sizeof(rnd)) == 0) {
		memcpy(ex->rec.id, "req_", 4);
		buf_hex(ex->rec.id + 4, rnd, sizeof(rnd));
	} else
		snprintf(ex->rec.id, sizeof(ex->rec.id), "req_%u_%llu", heritage.index,
		    (unsigned long long)++worker.seq);
	buf_copy(ex->rec.endpoint, sizeof(ex->rec.endpoint), endpoint);
	TAILQ_INSERT_TAIL(&worker.live, ex, link);
	status_count(&worker.status->in_flight, 1);	/* exchange_free() counts it out */
	return ex;
}

/*
 * A virtual key's owner and tags go to the record (and so to the budgets):
 * the key's tags first, so that a client's own tags can never crowd them out
 * of the record's room and escape a tag budget.
 */
static void
key_into_record(const struct keys_key *k, struct record *r)
{
	char client[sizeof(r->tags)];
	size_t i, n, len = 0;

	if (k->a.user_id != NULL)
		buf_copy(r->user, sizeof(r->user), k->a.user_id);
	if (k->a.team_id != NULL)
		buf_copy(r->team, sizeof(r->team), k->a.team_id);
	if (k->a.ntags == 0)
		return;
	memcpy(client, r->tags, sizeof(client));
	r->tags[0] = '\0';
	for (i = 0; i < k->a.ntags && len < sizeof(r->tags) - 1; i++)
		len += (size_t)snprintf(r->tags + len, sizeof(r->tags) - len, "%s%s", len ? "," : "",
		    k->a.tags[i]);
	if (len >= sizeof(r->tags) - 2 || client[0] == '\0')
		return;
	/* the client's after them, cut to what fits */
	r->tags[len++] = ',';
	n = strnlen(client, sizeof(client));
	if (n > sizeof(r->tags) - 1 - len)
		n = sizeof(r->tags) - 1 - len;
	memcpy(r->tags + len, client, n);
	r->tags[len + n] = '\0';
}

/* The first deployment's answer to whether model m serves ep: 0, or -1 with the 400 sent. */
static int
servable(struct hreq *req, const struct route_model *m, const struct endpoint *ep)
{
	const struct route_deployment *d;

	if (m->ndeps == 0) {
		http_send_error(req, 400, "invalid_request_error", "model_not_servable",
		    "model '%s' cannot be served: %s", m->name, m->why);
		return -1;
	}
	d = &heritage.routes->deps[m->deps[0]];
	if (route_plan(d, ep) == ROUTE_NONE) {
		http_send_error(req, 400, "invalid_request_error", "unsupported_endpoint",
		    "model '%s' is not served on %s (provider '%s' does not offer it)", m->name,
		    ep->path, d->cfg->provider);
		return -1;
	}
	return 0;
}

/*
 * The output tokens admission reserves for: the client's limit, else, when
 * the request is translated to a dialect that requires a limit, the one
 * tollgate will send (so the reservation covers what may be billed), else
 * 0 (admission's default).
 */
static int64_t
reserved_tokens(const struct exchange *ex, int64_t max_tokens)
{
	const struct route_deployment *d = ex->dep;

	if (max_tokens != 0 || !d->dialect->needs_max_tokens ||
	    route_plan(d, ex->ep) != ROUTE_TRANSLATE)
		return max_tokens;
	return upstream_max_output(d, ex->view);
}

static void
handle_api(struct hreq *req, const struct endpoint *ep)
{
	const char *endpoint = ep->path;
	const struct config *c = heritage.config;
	size_t len;
	const char *body = hreq_body(req, &len);
	struct reqbody f;
	struct exchange *ex;
	struct route_model *m;
	const struct keys_key *vk;
	const char *tags;
	char keyid[72];
	char err[160];
	int anthropic = ep->id == ENDPOINT_MESSAGES, rc;

	if (authenticate(req, anthropic, keyid, sizeof(keyid), &vk) < 0)
		return;
	if ((int64_t)len > c->tollgate.max_body_bytes) {
		http_send_error(req, 413, "invalid_request_error", "request_too_large",
		    "request body of %zu bytes is over the limit of %lld bytes", len,
		    (long long)c->tollgate.max_body_bytes);
		return;
	}
	if ((ex = exchange_new(req, endpoint)) == NULL) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		return;
	}
	if (buf_reserve(&ex->body, len) < 0) {
		http_send_error(req, 500, "server_error", "out_of_memory", "out of memory");
		exchange_free(ex);
		return;
	}
	memcpy(ex->body.data, body, len);
	ex->body.len = len;
	ex->body.data[len] = '\0';
	if (reqbody_parse(ex->body.data, ex->body.len, &f, err, sizeof(err)) < 0) {
		if (f.bad_field != NULL)
			http_send_param_error(req, f.bad_field, "the request body is refused (%s)",
			    err);
		else
			http_send_error(req, 400, "invalid_request_error", "invalid_json",
			    "the request body is not valid JSON (%s)", err);
		exchange_free(ex);
		return;
	}
	/* LiteLLM's routing fields are the gateway's: the provider never sees them */
	if (reqbody_cut_routing(ex->body.data, &ex->body.len, &f)) {
		struct reqbody g;

		if (reqbody_parse(ex->body.data, ex->body.len, &g, err, sizeof(err)) < 0) {
			http_send_error(req, 400, "invalid_request_error", "invalid_json",
			    "the request body is not valid JSON (%s)", err);
			exchange_free(ex);
			return;
		}
		memcpy(g.fallbacks, f.fallbacks, sizeof(g.fallbacks));
		g.num_retries = f.num_retries;
		f = g;
	}
	if (f.model[0] == '\0') {
		http_send_error(req, 400, "invalid_request_error", "missing_model",
		    "you must provide a model parameter");
		exchange_free(ex);
		return;
	}
	if ((m = routes_find(heritage.routes, f.model, strlen(f.model))) == NULL) {
		http_send_error(req, 400, "invalid_request_error", "model_not_found",
		    "model '%s' is not served here (GET /v1/models lists the models)", f.model);
		exchange_free(ex);
		return;
	}
	if (servable(req, m, ep) < 0) {
		exchange_free(ex);
		return;
	}
	ex->model = m;
	ex->ep = ep;
	ex->spans = f.spans;
	ex->stream = f.stream;
	ex->include_usage = f.include_usage;
	ex->add_usage = f.stream && !f.include_usage && ep->openai_stream;
	ex->request_tier = tier_of(f.tier);
	buf_copy(ex->rec.key, sizeof(ex->rec.key), keyid);
	buf_copy(ex->rec.customer, sizeof(ex->rec.customer),
	    f.user[0] || vk == NULL || vk->a.customer == NULL ? f.user : vk->a.customer);
	buf_copy(ex->rec.model_requested, sizeof(ex->rec.model_requested), f.model);
	tags = hreq_header(req, "x-tollgate-tags");
	/* tags past the record's room are cut; the record keeps what fits */
	if (snprintf(ex->rec.tags, sizeof(ex->rec.tags), "%s%s%s", f.tags,
	    f.tags[0] && tags ? "," : "", tags ? tags : "") >= (int)sizeof(ex->rec.tags))
		log_debug("request %s: tags cut to %zu bytes", ex->rec.id, sizeof(ex->rec.tags) - 1);
	if (vk != NULL) {
		key_into_record(vk, &ex->rec);
		if (vk->a.alias != NULL)
			buf_copy(ex->key_alias, sizeof(ex->key_alias), vk->a.alias);
	}
	ex->view = worker_prices();
	ex->num_retries = f.num_retries;
	buf_copy(ex->client_fallbacks, sizeof(ex->client_fallbacks), f.fallbacks);
	ex->est_output = f.max_tokens > 0 && f.max_tokens < INT64_MAX ? f.max_tokens :
	    c->tollgate.default_max_tokens;
	if (admit_fallbacks(ex, vk) < 0 || route_first(ex) < 0) {
		exchange_free(ex);
		return;
	}
	if ((rc = admit_request(ex, vk, reserved_tokens(ex, f.max_tokens))) < 0) {
		exchange_free(ex);
		return;
	}
	hreq_set_closecb(req, on_client_close, ex);
	if (rc == 0)
		http_admitted(ex);	/* else when Redis answers */
}

void
http_admitted(struct exchange *ex)
{
	if (upstream_start(ex) < 0) {
		if (ex->xerr.status && ex->rec.nattempts == 0) {
			/* refused before anything was sent: not recorded, like any other 400 */
			send_xlate_error(ex->req, &ex->xerr);
			exchange_free(ex);
			return;
		}
		upstream_failed(ex);
	}
}

void
http_on_request(struct hreq *req)
{
	const char *path = hreq_path(req);
	enum http1_method cmd = hreq_method(req);
	const struct endpoint *endpoint;

	if (strcmp(path, "/health") == 0 || strcmp(path, "/v1/health") == 0 ||
	    strcmp(path, "/health/readiness") == 0 || strcmp(path, "/health/liveness") == 0 ||
	    strcmp(path, "/health/liveliness") == 0) {
		if (cmd != HTTP1_GET && cmd != HTTP1_HEAD)
			http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
			    "%s takes GET", path);
		else if (strncmp(path, "/health/live", 12) == 0)
			send_json(req, 200, "{\"status\": \"alive\"}\n");	/* it answered */
		else
			serve_health(req);
		return;
	}
	/*
	 * With tollgate.metrics_listen, /metrics is served there only (it may
	 * face another network than the API), and only it and /health are.
	 */
	if (hreq_metrics_only(req) ? strcmp(path, "/metrics") != 0 :
	    strcmp(path, "/metrics") == 0 && heritage.config->tollgate.metrics_port != 0) {
		http_send_error(req, 404, "invalid_request_error", "not_found",
		    "no such endpoint: %s", path);
		return;
	}
	if (strcmp(path, "/v1/models") == 0 || strcmp(path, "/models") == 0) {
		const struct keys_key *vk;
		char id[72];

		if (cmd != HTTP1_GET)
			http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
			    "%s takes GET", path);
		else if (authenticate(req, 0, id, sizeof(id), &vk) == 0)
			serve_models(req);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		const struct keys_key *vk;
		char id[72];

		if (cmd != HTTP1_GET && cmd != HTTP1_HEAD)
			http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
			    "%s takes GET", path);
		else if (!heritage.config->tollgate.metrics_auth || metrics_key(req, id, sizeof(id), &vk))
			metrics_serve(req);
		return;
	}
	if (admin_serve(req, path) || spend_serve(req, path) || ui_serve(req, path))
		return;
	if ((endpoint = endpoint_find(path)) == NULL) {
		http_send_error(req, 404, "invalid_request_error", "not_found",
		    "no such endpoint: %s", path);
		return;
	}
	if (cmd != HTTP1_POST) {
		http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
		    "%s takes POST", path);
		return;
	}
	handle_api(req, endpoint);
}

/* ---- replies ----------------------------------------------------------------- */

/*
 * The provider's headers, to the client.  A Bedrock stream translated is
 * server-sent events to the client, not AWS's binary frames: its
 * Content-Type says so.
 */
static void
add_upstream_headers(struct exchange *ex)
{
	char *line = ex->resp_headers.data, *end = line + ex->resp_headers.len;
	/* AWS's frames reach no client as they came: its stream is SSE, relayed or translated */
	int frames = ex->event_stream && ex->dialect->eventstream;

	while (line && line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line)), *colon;

		*nl = '\0';
		if ((colon = strchr(line, ':')) != NULL) {
			char *v = colon + 1;
			*colon = '\0';
			while (*v == ' ')
				v++;
			if (!frames || strcasecmp(line, "content-type") != 0)
				hreq_add_header(ex->req, line, v);
		}
		line = nl + 1;
	}
	if (frames)
		hreq_add_header(ex->req, "Content-Type", "text/event-stream");
	ex->resp_headers.len = 0;
}

void
http_stream(struct exchange *ex, const char *data, size_t len)
{
	if (ex->req == NULL)
		return;
	if (!ex->started) {
		add_upstream_headers(ex);
		hreq_add_header(ex->req, "x-tollgate-request-id", ex->rec.id);
		route_headers(ex, 0);	/* the cost comes at the end, in the stream */
		admit_headers(ex);
		hreq_reply_start(ex->req, (int)ex->status);
		ex->started = 1;
		ex->rec.first_byte_ns = clock_now_ns();
	}
	/* the send may find the client gone: then ex->req is cleared, on the next loop turn */
	hreq_reply_chunk(ex->req, data, len);
}

/*
 * A translated request's whole answer, in the client's format: ex->resp is
 * replaced (its usage was read before, from the provider's own words).
 * 0, or -1 with ex->xerr set.
 */
static int
translate_answer(struct exchange *ex)
{
	static struct buf out;	/* scratch, kept between calls */
	struct buf swap;
	int rc;

	rc = xlate_response(ex->dialect->api, (enum xlate_api)ex->ep->api, ex->status,
	    ex->resp.data ? ex->resp.data : "", ex->resp.len, ex->rec.model_requested, &out,
	    &ex->xerr);
	if (rc < 0) {
		log_warn("request %s: the answer of '%s' does not translate: %s", ex->rec.id,
		    ex->dep->cfg->model, ex->xerr.message);
		return -1;
	}
	swap = ex->resp;
	ex->resp = out;
	out = swap;
	out.len = 0;
	return 0;
}

void
http_finish(struct exchange *ex)
{
	struct hreq *req = ex->req;
	char cost[MONEY_FORMAT_MAX];

	if (req == NULL) {
		exchange_free(ex);
		return;
	}
	/* the exchange ends here: the connection must not call back into it */
	hreq_detach(req);
	money_format(ex->rec.total, MONEY_COST_SCALE, cost);
	if (!ex->started && ex->status >= 400 && ex->reply_status != 502 && ex->reply_status != 504 &&
	    ex->dialect != NULL && ex->dialect->error != NULL && ex->dialect->error(ex->status,
	    &ex->resp) < 0)
		log_warn("request %s: out of memory rewriting the provider's error", ex->rec.id);
	if (ex->started) {
		struct buf b = { 0 };

		buf_append(&b, ": tollgate-cost ", 16);
		buf_append(&b, cost, strlen(cost));
		buf_append(&b, "\n\n", 2);
		buf_append(&b, ex->tail.data ? ex->tail.data : "", ex->tail.len);
		hreq_reply_chunk(req, b.data, b.len);
		buf_release(&b);
		hreq_reply_end(req);
	} else if (ex->reply_status == 502 || ex->reply_status == 504) {
		/* recorded like any answer: the client can find its record */
		hreq_add_header(req, "x-tollgate-request-id", ex->rec.id);
		hreq_add_header(req, "x-tollgate-response-cost", cost);
		route_headers(ex, 1);
		if (ex->fail_why[0])	/* it could not be sent: what stood in the way */
			http_send_error(req, 502, "api_error", "upstream_unavailable",
			    "model '%s': %s", ex->rec.model_requested, ex->fail_why);
		else
			http_send_error(req, ex->reply_status, "api_error",
			    ex->reply_status == 504 ? "upstream_timeout" : "upstream_unreachable",
			    "model '%s': the provider %s", ex->rec.model_requested,
			    ex->reply_status == 504 ? "did not answer in time" : "could not be reached");
	} else if (ex->plan == ROUTE_TRANSLATE && translate_answer(ex) < 0) {
		hreq_add_header(req, "x-tollgate-request-id", ex->rec.id);
		hreq_add_header(req, "x-tollgate-response-cost", cost);
		route_headers(ex, 1);
		send_xlate_error(req, &ex->xerr);
	} else {
		add_upstream_headers(ex);
		hreq_add_header(req, "x-tollgate-request-id", ex->rec.id);
		hreq_add_header(req, "x-tollgate-response-cost", cost);
		route_headers(ex, 1);
		admit_headers(ex);
		hreq_reply(req, (int)ex->status, ex->resp.data ? ex->resp.data : "", ex->resp.len);
	}
	ex->req = NULL;
	exchange_free(ex);
}

static void
on_client_close(struct hreq *req, void *arg)
{
	struct exchange *ex = arg;

	(void)req;
	if (ex == NULL || ex->magic != EXCHANGE_MAGIC || ex->req == NULL)
		return;
	/* the request is freed after this callback: forget it now */
	ex->req = NULL;
	ex->rec.flags |= RECORD_FLAG_CLIENT_ABORTED;
	if (ex->admitting)
		return;	/* Redis's answer finds it gone and lets it go */
	if (ex->backing_off) {	/* between two attempts: nothing in flight */
		evtimer_del(ex->backoff);
		ex->backing_off = 0;
		worker_complete(ex);
	} else if (ex->waiting != NULL) {	/* for its deployment's token: nothing was sent */
		token_forget(ex);
		worker_complete(ex);
	} else if (ex->easy != NULL) {
		upstream_abort(ex);
		if (ex->event_stream)
			ex->rec.flags |= RECORD_FLAG_STREAM_INCOMPLETE;
		worker_complete(ex);
	}
}
