/*
 * The provider side of a worker: one libcurl multi handle driven by the
 * worker's event_base through curl_multi_socket_action (curl's hiperfifo
 * pattern: a socket callback, a timer callback, a back-pointer through
 * CURLOPT_PRIVATE, and one completion point, check_multi_info()).  A
 * streamed answer goes through its chain of stages (worker_stream.c); a
 * whole one is kept until the transfer is done.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "json.h"
#include "log.h"
#include "tollgated.h"
#include "worker.h"
#include "provider/dialect.h"

#define RESPONSE_MAX	(64 * 1024 * 1024)	/* a non-streamed body beyond this is refused */
#define STREAM_UNSENT_MAX	(256 * 1024)	/* a stream's bytes a slow client may leave unread */

static void check_multi_info(struct worker *w);

static void
curl_ran(void *arg)
{
	check_multi_info(arg);
}

int
upstream_init(struct worker *w)
{
	if (curlev_init(&w->curl, w->base, curl_ran, w) < 0)
		return -1;
	/* keep plenty of upstream connections alive between requests */
	curl_multi_setopt(w->curl.multi, CURLMOPT_MAXCONNECTS, 256L);
	return tokens_init(w) < 0 || redis_init(w) < 0 || revoked_init(w) < 0 ? -1 : 0;
}

void
upstream_release(struct worker *w)
{
	tokens_release(w);
	revoked_release(w);
	redis_release(w);
	while (w->nidle > 0)
		curl_easy_cleanup(w->idle[--w->nidle]);
	curlev_release(&w->curl);
}

/* ---- one transfer ---------------------------------------------------------- */

/* Retry-After as an HTTP date (RFC 9110): the milliseconds until then, 0 if past, -1 if unread. */
static long long
retry_after_date(const char *v, size_t len)
{
	char date[64];
	time_t at;
	int64_t now_ms = clock_now_ns() / 1000000;	/* wall-clock, as the date is */

	if (len >= sizeof(date))
		return -1;
	memcpy(date, v, len);
	date[len] = '\0';
	if ((at = curl_getdate(date, NULL)) == -1)
		return -1;
	return (int64_t)at * 1000 > now_ms ? (int64_t)at * 1000 - now_ms : 0;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct exchange *ex = arg;
	size_t n = size * nmemb, len = n;
	const char *colon;

	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new status line (after 100 Continue, say): start over */
		const char *sp = memchr(p, ' ', len);
		ex->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		route_first_byte(ex);
		ex->resp_headers.len = 0;
		ex->event_stream = 0;
		return n;
	}
	if (len == 0 || (colon = memchr(p, ':', len)) == NULL)
		return n;
	{
		size_t klen = (size_t)(colon - p);
		static const char *const hop[] = { "connection", "keep-alive", "transfer-encoding",
			"content-length", "upgrade", "proxy-connection", "te", "trailer", "date",
			"server" };
		size_t i;

		/* how long a provider that refused asks to be left alone (retries, cooldowns) */
		if ((klen == 11 && strncasecmp(p, "retry-after", 11) == 0) ||
		    (klen == 14 && strncasecmp(p, "retry-after-ms", 14) == 0)) {
			const char *v = colon + 1;
			char *end;
			long long x;

			while (v < p + len && *v == ' ')
				v++;
			x = strtoll(v, &end, 10);
			if (end == v)
				x = klen == 11 ? retry_after_date(v, (size_t)(p + len - v)) : -1;
			else if (klen == 11)
				x = x >= 0 && x < 86400 ? x * 1000 : -1;
			if (x >= 0 && x < 86400000LL)
				ex->retry_after_ms = x;
		}
		if (klen == 12 && strncasecmp(p, "content-type", 12) == 0 &&
		    (memmem(colon, len - klen, "text/event-stream", 17) != NULL ||
		    memmem(colon, len - klen, "application/vnd.amazon.eventstream", 34) != NULL))
			ex->event_stream = 1;
		for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
			if (strlen(hop[i]) == klen && strncasecmp(p, hop[i], klen) == 0)
				return n;
		buf_append(&ex->resp_headers, p, len);
		buf_append(&ex->resp_headers, "\n", 1);
	}
	return n;
}

/* The slow client has taken what it was sent: the provider's stream goes on. */
static void
on_client_drained(struct hreq *req, void *arg)
{
	struct exchange *ex = arg;

	(void)req;
	if (ex->magic != EXCHANGE_MAGIC || !ex->paused)
		return;
	ex->paused = 0;
	curl_easy_pause(ex->easy, CURLPAUSE_CONT);	/* may deliver at once, into on_body */
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct exchange *ex = arg;
	size_t n = size * nmemb;

	if (ex->req == NULL)
		return 0;	/* nobody to answer: stop */
	if (ex->stream && ex->event_stream && ex->status >= 200 && ex->status < 300) {
		/*
		 * A client slower than its provider: rather than hold the whole
		 * stream in memory, leave the rest with curl (and TCP) until the
		 * client has read what it was sent.
		 */
		if (hreq_unsent(ex->req) > STREAM_UNSENT_MAX) {
			ex->paused = 1;
			hreq_set_draincb(ex->req, on_client_drained, ex);
			return CURL_WRITEFUNC_PAUSE;
		}
		if (stream_start(ex) < 0 || stream_bytes(ex, p, n) < 0)
			return 0;
		return n;
	}
	if (ex->resp.len + n > RESPONSE_MAX || buf_append(&ex->resp, p, n) < 0)
		return 0;
	return n;
}

/* d's price entry, for what it says of the model; NULL when it has none. */
static const struct price_entry *
entry_of(const struct route_deployment *d, const struct price_view *v)
{
	const struct price_table *t = v ? v->table : NULL;

	return t ? price_lookup(t, d->price_name, strlen(d->price_name)) : NULL;
}

/* The output limit entry e states, else tollgate.default_max_tokens. */
static int64_t
max_output_of(const struct price_entry *e)
{
	return e != NULL && e->max_output ? (int64_t)e->max_output :
	    heritage.config->tollgate.default_max_tokens;
}

int64_t
upstream_max_output(const struct route_deployment *d, const struct price_view *v)
{
	return max_output_of(entry_of(d, v));
}

/*
 * The body for upstream.  A same-format request is the client's own bytes
 * with the deployment's model, and usage asked for on OpenAI streams (its
 * usage chunk is then ours to drop); a translated one is built anew in the
 * deployment's format.  0, or -1 (ex->xerr set when it did not translate).
 */
static int
upstream_body(struct exchange *ex)
{
	struct xlate_opts o = { 0 };
	const struct price_entry *e;

	ex->strip_usage = 0;
	if (ex->plan == ROUTE_NATIVE) {
		ex->strip_usage = ex->add_usage && ex->upep->openai_stream;
		if (reqbody_rewrite(ex->body.data, ex->body.len, &ex->spans, ex->dep->model,
		    ex->strip_usage, &ex->upbody) < 0)
			return -1;
		return ex->dialect->body ? ex->dialect->body(ex->dep, ex->stream,
		    &ex->upbody) : 0;
	}
	o.model = ex->dep->model;
	o.drop_params = ex->dep->drop_params;
	e = entry_of(ex->dep, ex->view);	/* looked up once for both */
	o.max_tokens = max_output_of(e);
	o.native_json = e != NULL && (e->flags & PRICE_NATIVE_JSON);
	o.reasoning_model = xlate_reasoning_model(ex->dep->model);
	if (xlate_request((enum xlate_api)ex->ep->api, ex->dialect->api, ex->body.data,
	    ex->body.len, &o, &ex->upbody, &ex->xerr) < 0)
		return -1;
	return ex->dialect->body ? ex->dialect->body(ex->dep, ex->stream, &ex->upbody) :
	    0;
}

/* A client header, for a dialect's headers callback. */
static const char *
client_header(void *arg, const char *name)
{
	return hreq_header(arg, name);
}

static struct curl_slist *
add_header(struct curl_slist *l, const char *fmt, const char *a, const char *b)
{
	char line[2048];
	struct curl_slist *n;

	snprintf(line, sizeof(line), fmt, a, b);
	if ((n = curl_slist_append(l, line)) == NULL)
		return l;
	return n;
}

/* The headers of a request to d in dialect dl (req: a same-format client's, for dl's choice). */
static struct curl_slist *
deployment_headers(const struct route_deployment *d, const struct dialect *dl, struct hreq *req)
{
	const struct config_deployment *cd = d->cfg;
	struct curl_slist *l, *n;
	size_t i;

	l = curl_slist_append(NULL, "Content-Type: application/json");
	l = add_header(l, "%s%s", "Expect:", "");
	if (d->auth[0])
		l = add_header(l, "%s%s", d->auth, "");
	if (l != NULL && (n = dl->headers(l, req ? client_header : NULL, req)) != NULL)
		l = n;
	for (i = 0; i < cd->nheaders; i++)
		l = add_header(l, "%s: %s", cd->headers[i].key, cd->headers[i].value);
	return l;
}

/*
 * The headers of a deployment whose requests all send the same ones, made
 * once for the routes in use rather than a list of allocations per request.
 */
static struct curl_slist *
shared_headers(const struct route_deployment *d)
{
	static const struct routes *made_for;
	static struct curl_slist **lists;
	const struct routes *r = heritage.routes;
	size_t i = (size_t)(d - r->deps);

	if (made_for != r) {
		if (made_for != NULL && lists != NULL)
			for (size_t k = 0; k < made_for->ndeps; k++)
				curl_slist_free_all(lists[k]);
		free(lists);
		lists = calloc(r->ndeps ? r->ndeps : 1, sizeof(*lists));
		made_for = lists ? r : NULL;
	}
	if (lists == NULL)
		return NULL;
	if (lists[i] == NULL)
		lists[i] = deployment_headers(d, d->dialect, NULL);
	return lists[i];
}

/*
 * Easy handles are kept for the next request rather than freed: making one
 * costs a handful of allocations (its buffers among them) per request.  No
 * option of the last request carries over, because upstream_start() sets
 * every option it uses on every request (a reset would free the buffers).
 */
static CURL *
easy_take(struct worker *w)
{
	return w->nidle > 0 ? w->idle[--w->nidle] : curl_easy_init();
}

static void
easy_give(struct worker *w, CURL *easy)
{
	if (w->nidle < sizeof(w->idle) / sizeof(w->idle[0]))
		w->idle[w->nidle++] = easy;
	else
		curl_easy_cleanup(easy);
}

/*
 * Whether the environment names a proxy.  When it does not, curl is told so
 * (CURLOPT_NOPROXY "*"), and spares the six getenv() calls it makes for every
 * transfer; when it does, curl reads it as usual.
 */
static int
proxy_from_environment(void)
{
	static const char *const names[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
		"HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	static int known = -1;
	size_t i;

	if (known < 0) {
		known = 0;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (getenv(names[i]) != NULL && *getenv(names[i]) != '\0')
				known = 1;
	}
	return known;
}

int
upstream_start(struct exchange *ex)
{
	/* a retry starts over: nothing of the last attempt's answer stays */
	stream_stop(ex);
	ex->status = 0;
	ex->event_stream = 0;
	ex->resp.len = ex->resp_headers.len = ex->tail.len = 0;
	ex->resp_at = 0;
	ex->drop_lf = 0;
	ex->failed = 0;
	ex->retry_after_ms = -1;
	sse_reset(&ex->sse);
	usage_raw_init(&ex->raw);
	ex->plan = route_plan(ex->dep, ex->ep);
	ex->dialect = route_dialect(ex->dep, ex->ep);
	ex->upep = ex->plan == ROUTE_NATIVE ? ex->ep : endpoint_of_api(ex->dialect->api);
	if (ex->plan == ROUTE_NONE || ex->upep == NULL ||
	    route_url(ex->dep, ex->upep, ex->stream, ex->url, sizeof(ex->url)) < 0 ||
	    upstream_body(ex) < 0)
		return -1;
	return upstream_send(ex);
}

int
upstream_send(struct exchange *ex)
{
	struct worker *w = ex->w;
	const struct config *cfg = heritage.config;
	const struct config_deployment *cd = ex->dep->cfg;
	const char *bearer = NULL;
	const char *url = ex->url;
	struct curl_slist *n;
	long timeout;
	int rc;

	if (ex->dep->gcp.account >= 0 && (rc = token_line(ex, &bearer)) <= 0)
		return rc;	/* waiting for it (0), or none to be had (-1) */
	if (bearer != NULL) {
		/* a token of the worker's, renewed as it goes: a list of its own */
		ex->upheaders = deployment_headers(ex->dep, ex->dialect, ex->plan == ROUTE_NATIVE &&
		    ex->dialect->client_headers ? ex->req : NULL);
		ex->own_upheaders = 1;
		if (ex->upheaders == NULL || (n = curl_slist_append(ex->upheaders, bearer)) == NULL)
			return -1;
		ex->upheaders = n;
	} else if (ex->dialect->sign != NULL) {
		/* signed over what is sent (SigV4): a list of its own, every time */
		ex->upheaders = ex->dialect->sign(ex->dep, url, ex->upbody.data, ex->upbody.len,
		    deployment_headers(ex->dep, ex->dialect, NULL));
		ex->own_upheaders = 1;
		if (ex->upheaders == NULL)
			return -1;
	} else if ((ex->plan == ROUTE_NATIVE && ex->dialect->client_headers) ||
	    ex->dialect != ex->dep->dialect) {
		/* a same-format client's choices (API version, betas) go along: a list of its own */
		ex->upheaders = deployment_headers(ex->dep, ex->dialect, ex->plan == ROUTE_NATIVE &&
		    ex->dialect->client_headers ? ex->req : NULL);
		ex->own_upheaders = 1;
	} else {
		ex->upheaders = shared_headers(ex->dep);
		ex->own_upheaders = 0;
	}

	if ((ex->easy = easy_take(w)) == NULL)
		return -1;
	/* every option, every time: see easy_take() */
	timeout = (long)(cd->timeout_ms ? cd->timeout_ms : cfg->tollgate.upstream_timeout_ms);
	curl_easy_setopt(ex->easy, CURLOPT_URL, url);
	curl_easy_setopt(ex->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(ex->easy, CURLOPT_POSTFIELDS, ex->upbody.data);
	curl_easy_setopt(ex->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ex->upbody.len);
	curl_easy_setopt(ex->easy, CURLOPT_HTTPHEADER, ex->upheaders);
	curl_easy_setopt(ex->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(ex->easy, CURLOPT_WRITEDATA, ex);
	curl_easy_setopt(ex->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(ex->easy, CURLOPT_HEADERDATA, ex);
	curl_easy_setopt(ex->easy, CURLOPT_PRIVATE, ex);
	curl_easy_setopt(ex->easy, CURLOPT_ERRORBUFFER, ex->curl_error);
	curl_easy_setopt(ex->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ex->easy, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(ex->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(ex->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(ex->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->tollgate.upstream_connect_timeout_ms);
	curl_easy_setopt(ex->easy, CURLOPT_TIMEOUT_MS, timeout);
	if (!proxy_from_environment())
		curl_easy_setopt(ex->easy, CURLOPT_NOPROXY, "*");
	ex->curl_error[0] = '\0';
	if (curl_multi_add_handle(w->curl.multi, ex->easy) != CURLM_OK) {
		upstream_abort(ex);
		return -1;
	}
	route_attempt_begin(ex);
	return 0;
}

void
upstream_abort(struct exchange *ex)
{
	if (ex->easy != NULL) {
		curl_multi_remove_handle(ex->w->curl.multi, ex->easy);
		easy_give(ex->w, ex->easy);
		ex->easy = NULL;
	}
	if (ex->own_upheaders)
		curl_slist_free_all(ex->upheaders);
	ex->upheaders = NULL;
	ex->own_upheaders = 0;
}

void
upstream_failed(struct exchange *ex)
{
	/* nothing was sent: a request that does not translate for it, or no token */
	ex->failed = 1;
	ex->failure = ex->xerr.status ? CONFIG_FAIL_BAD_REQUEST : CONFIG_FAIL_SERVER;
	ex->status = 0;
	if (ex->xerr.status == 0) {
		char why[sizeof(ex->fail_why)];

		log_warn("model '%s': deployment '%s' failed (%s)", ex->model->name,
		    ex->dep->cfg->model, ex->fail_why);
		memcpy(why, ex->fail_why, sizeof(why));
		ex->fail_why[0] = '\0';	/* the next attempt's own, if routing goes on */
		if (route_after_failure(ex))
			return;
		memcpy(ex->fail_why, why, sizeof(why));	/* else it is the answer's */
	}
	if (ex->fail_why[0] == '\0')
		snprintf(ex->fail_why, sizeof(ex->fail_why), "%s", ex->xerr.status ? ex->xerr.message :
		    "the request to the provider could not be made");
	ex->reply_status = 502;
	ex->rec.flags |= RECORD_FLAG_UPSTREAM_FAILED;
	log_warn("model '%s': upstream '%s': %s", ex->model->name, ex->dep->cfg->model,
	    ex->fail_why);
	worker_complete(ex);
}

static void
transfer_done(struct exchange *ex, CURLcode rc)
{
	upstream_abort(ex);
	/* after a write error (out of memory, or the client gone) there is nobody to route for */
	if ((rc != CURLE_OK || ex->status >= 400 || ex->status < 100) && rc != CURLE_WRITE_ERROR) {
		ex->failed = 1;
		ex->failure = router_classify(rc == CURLE_OPERATION_TIMEDOUT, rc != CURLE_OK,
		    ex->status, ex->resp.data, ex->event_stream ? 0 : ex->resp.len);
		if (!ex->started && ex->req != NULL) {
			log_warn("model '%s': deployment '%s' failed (%s)", ex->model->name,
			    ex->dep->cfg->model, rc != CURLE_OK ? (ex->curl_error[0] ?
			    ex->curl_error : curl_easy_strerror(rc)) : router_failure_name(ex->failure));
			if (route_after_failure(ex))
				return;
		}
	}
	/* after a write error (out of memory) the splitter's state is not to be trusted */
	if (ex->started && ex->event_stream && rc != CURLE_WRITE_ERROR)
		stream_end(ex, rc == CURLE_OK);
	if (rc != CURLE_OK && ex->req != NULL) {
		ex->rec.flags |= RECORD_FLAG_UPSTREAM_FAILED;
		if (ex->started)
			ex->rec.flags |= RECORD_FLAG_STREAM_INCOMPLETE;
		else
			ex->reply_status = rc == CURLE_OPERATION_TIMEDOUT ? 504 : 502;
		log_warn("model '%s': upstream '%s': %s", ex->model->name, ex->dep->cfg->model,
		    ex->curl_error[0] ? ex->curl_error : curl_easy_strerror(rc));
	} else if (ex->status >= 400)
		ex->rec.flags |= RECORD_FLAG_UPSTREAM_ERROR;
	worker_complete(ex);
}

static void
check_multi_info(struct worker *w)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(w->curl.multi, &left)) != NULL) {
		struct exchange *ex = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&ex);
		if (token_transfer_done(ex, msg->data.result) || ex == NULL ||
		    ex->magic != EXCHANGE_MAGIC)
			continue;
		transfer_done(ex, msg->data.result);
	}
}
