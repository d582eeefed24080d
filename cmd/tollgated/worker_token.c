/*
 * The access tokens that deployments send as their bearer (Vertex AI: a
 * service account's, from Google's token endpoint), one per account per
 * worker.  Each worker fetches its own through its curl multi, on its loop:
 * at start (so that the first request finds one), and again ahead of the
 * expiry while the token is in use, so that once warm no request waits for
 * one.  A request that finds none (cold, or expired while idle) waits for
 * the fetch in flight; when the endpoint fails, every request waiting gets
 * a 502 that says so, and for a second after, requests fail at once rather
 * than hammer the endpoint.  Nothing here writes the key or the token.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "log.h"
#include "tollgated.h"
#include "worker.h"
#include "provider/gauth.h"

#define TOKEN_MAGIC		0x746f6b6eu	/* "tokn" */
#define NS			1000000000LL
#define FAILURE_HOLD_NS		NS		/* a failure answers for this long */
#define FETCH_TIMEOUT_MS	30000L
#define TOKEN_LINE_MAX		(GAUTH_TOKEN_MAX + 32)

struct token_slot {
	uint32_t			 magic;		/* first: a curl PRIVATE of ours */
	const struct gauth_account	*account;
	char				 line[TOKEN_LINE_MAX];	/* "Authorization: Bearer ...", or "" */
	int64_t				 usable_until_ns;	/* a little before it expires */
	int64_t				 refresh_ns;		/* when to fetch the next */
	int				 used;		/* since it came: only a token in use is renewed */
	CURL				*easy;		/* the fetch in flight, or NULL */
	struct buf			 form, resp;
	struct curl_slist		*headers;
	char				 curl_error[CURL_ERROR_SIZE];
	struct exchange_list		 waiters;	/* requests with no token to send yet */
	struct event			*timer;		/* the refresh */
	int64_t				 failed_ns;	/* the last fetch failed then, or 0 */
	char				 failure[320];
};

static void fetch(struct token_slot *t);

/* Forgets b's bytes (the assertion: a credential for its hour) before its memory is reused. */
static void
wipe(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	b->len = 0;
}

static size_t
on_token_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct token_slot *t = arg;
	size_t n = size * nmemb;

	if (t->resp.len + n > 64 * 1024 || buf_append(&t->resp, p, n) < 0)
		return 0;
	return n;
}

static void
on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct token_slot *t = arg;

	(void)fd, (void)what;
	/* an idle worker lets its token lapse: the next request fetches one */
	if (t->used && t->easy == NULL && !worker.draining)
		fetch(t);
}

static void
arm(struct token_slot *t, int64_t at_ns)
{
	int64_t d = at_ns - clock_now_ns();
	struct timeval tv;

	if (d < 0)
		d = 0;
	tv.tv_sec = (time_t)(d / NS);
	tv.tv_usec = (suseconds_t)(d % NS / 1000);
	evtimer_add(t->timer, &tv);
}

/* The waiting requests go on with the token, or fail with why (NULL: they have a token). */
static void
wake(struct token_slot *t, const char *why)
{
	struct exchange *ex;

	while ((ex = TAILQ_FIRST(&t->waiters)) != NULL) {
		TAILQ_REMOVE(&t->waiters, ex, token_link);
		ex->waiting = NULL;
		if (why != NULL)
			snprintf(ex->fail_why, sizeof(ex->fail_why), "%s", why);
		if (why != NULL || upstream_send(ex) < 0)
			upstream_failed(ex);
	}
}

static void
failed(struct token_slot *t, const char *why)
{
	int64_t now = clock_now_ns();

	snprintf(t->failure, sizeof(t->failure), "the token endpoint %s of service account %s "
	    "failed: %s", t->account->token_uri, t->account->email, why);
	log_warn("worker %u: %s", heritage.index, t->failure);
	if (t->line[0] && now < t->usable_until_ns) {
		/* a refresh ahead of time: the token in hand serves on, and it is tried again */
		arm(t, now + 30 * NS < t->usable_until_ns ? now + 30 * NS : t->usable_until_ns);
		return;
	}
	t->line[0] = '\0';
	t->failed_ns = now;
	wake(t, t->failure);
}

static void
fetched(struct token_slot *t, CURLcode rc)
{
	char token[GAUTH_TOKEN_MAX], why[300];
	int64_t lifetime, now = clock_now_ns(), margin, ahead;
	long status = 0;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(worker.curl.multi, t->easy);
	curl_easy_cleanup(t->easy);
	t->easy = NULL;
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	wipe(&t->form);
	if (rc != CURLE_OK) {
		failed(t, t->curl_error[0] ? t->curl_error : curl_easy_strerror(rc));
		return;
	}
	if (gauth_parse_token(status, t->resp.data, t->resp.len, token, sizeof(token), &lifetime,
	    why, sizeof(why)) < 0) {
		failed(t, why);
		return;
	}
	if (lifetime > 86400)
		lifetime = 86400;
	snprintf(t->line, sizeof(t->line), "Authorization: Bearer %s", token);
	OPENSSL_cleanse(token, sizeof(token));
	/* used until a tenth (at most a minute) before it expires; renewed a sixth (ten minutes) before */
	margin = lifetime / 10 < 60 ? lifetime * NS / 10 : 60 * NS;
	ahead = lifetime / 6 < 600 ? lifetime * NS / 6 : 600 * NS;
	t->usable_until_ns = now + lifetime * NS - margin;
	t->refresh_ns = now + lifetime * NS - ahead;
	t->used = 0;
	t->failed_ns = 0;
	log_debug("worker %u: a token for %s, for %lld s", heritage.index, t->account->email,
	    (long long)lifetime);
	arm(t, t->refresh_ns);
	wake(t, NULL);
}

/* Starts the exchange of a fresh assertion for a token; a failure to start is failed()'s. */
static void
fetch(struct token_slot *t)
{
	const struct config *c = heritage.config;

	t->resp.len = 0;
	t->curl_error[0] = '\0';
	if (gauth_exchange_body(t->account, time(NULL), &t->form) < 0) {
		failed(t, "the key would not sign (out of memory?)");
		return;
	}
	if ((t->easy = curl_easy_init()) == NULL ||
	    (t->headers = curl_slist_append(NULL,
	    "Content-Type: application/x-www-form-urlencoded")) == NULL) {
		if (t->easy)
			curl_easy_cleanup(t->easy);
		t->easy = NULL;
		failed(t, "out of memory");
		return;
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, t->account->token_uri);
	curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->form.data);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->form.len);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_token_body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->curl_error);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)c->tollgate.upstream_connect_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_multi_add_handle(worker.curl.multi, t->easy) != CURLM_OK) {
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
		failed(t, "libcurl would not start the request");
	}
}

int
tokens_init(struct worker *w)
{
	const struct routes *r = heritage.routes;
	size_t i;

	if (r->naccounts == 0)
		return 0;
	if ((w->tokens = calloc(r->naccounts, sizeof(*w->tokens))) == NULL)
		return -1;
	w->ntokens = r->naccounts;
	for (i = 0; i < w->ntokens; i++) {
		struct token_slot *t = &w->tokens[i];

		t->magic = TOKEN_MAGIC;
		t->account = &r->accounts[i];
		TAILQ_INIT(&t->waiters);
		if ((t->timer = evtimer_new(w->base, on_refresh, t)) == NULL)
			return -1;
	}
	/* warm: each account's first token is on its way before the first request */
	for (i = 0; i < w->ntokens; i++)
		fetch(&w->tokens[i]);
	return 0;
}

void
tokens_release(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->ntokens; i++) {
		struct token_slot *t = &w->tokens[i];

		if (t->easy != NULL) {
			curl_multi_remove_handle(w->curl.multi, t->easy);
			curl_easy_cleanup(t->easy);
		}
		curl_slist_free_all(t->headers);
		if (t->timer)
			event_free(t->timer);
		wipe(&t->form);
		buf_release(&t->form);
		wipe(&t->resp);
		buf_release(&t->resp);
		OPENSSL_cleanse(t->line, sizeof(t->line));
	}
	free(w->tokens);
	w->tokens = NULL;
	w->ntokens = 0;
}

int
token_line(struct exchange *ex, const char **line)
{
	struct token_slot *t = &ex->w->tokens[ex->dep->gcp.account];
	int64_t now = clock_now_ns();

	if (t->line[0] && now < t->usable_until_ns) {
		t->used = 1;
		if (now >= t->refresh_ns && t->easy == NULL)
			fetch(t);	/* past its renewal (the timer is late): renewed behind it */
		*line = t->line;
		return 1;
	}
	if (t->failed_ns && now - t->failed_ns < FAILURE_HOLD_NS && t->easy == NULL) {
		snprintf(ex->fail_why, sizeof(ex->fail_why), "%s", t->failure);
		return -1;
	}
	if (t->easy == NULL) {
		fetch(t);
		if (t->easy == NULL) {	/* it could not even start */
			snprintf(ex->fail_why, sizeof(ex->fail_why), "%s", t->failure);
			return -1;
		}
	}
	TAILQ_INSERT_TAIL(&t->waiters, ex, token_link);
	ex->waiting = t;
	return 0;
}

void
token_forget(struct exchange *ex)
{
	if (ex->waiting == NULL)
		return;
	TAILQ_REMOVE(&ex->waiting->waiters, ex, token_link);
	ex->waiting = NULL;
}

int
token_transfer_done(void *private, CURLcode rc)
{
	struct token_slot *t = private;

	if (t == NULL || t->magic != TOKEN_MAGIC)
		return 0;
	fetched(t, rc);
	return 1;
}
