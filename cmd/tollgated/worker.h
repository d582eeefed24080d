/*
 * Worker internals shared by worker.c (the process and its loop),
 * worker_conn.c (client connections, HTTP/1.1), worker_http.c (routing and
 * replies) and worker_upstream.c (the
 * provider side, libcurl multi on the same event_base, hiperfifo style).
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "budget.h"
#include "buf.h"
#include "cost.h"
#include "curlev.h"
#include "http1.h"
#include "keys.h"
#include "ledger.h"
#include "metrics.h"
#include "provider/endpoint.h"
#include "provider/eventstream.h"
#include "provider/stage.h"
#include "provider/xlate_api.h"
#include "record.h"
#include "reqbody.h"
#include "route.h"
#include "router.h"
#include "shm.h"
#include "sse.h"
#include "status.h"
#include "usage.h"

#define EXCHANGE_MAGIC	0x65786368u	/* "exch" */
#define ROUTE_FALLBACKS_MAX	16	/* fallback groups a request may go to */

struct exchange;
TAILQ_HEAD(exchange_list, exchange);

struct worker {
	struct event_base		*base;
	struct curlev			 curl;		/* libcurl multi on base */
	CURL				*idle[256];	/* easy handles kept for reuse */
	size_t				 nidle;
	struct shm			*shm;
	struct price_view		*prices;	/* the newest generation mapped */
	struct ledger			*ledger;
	struct keys			*keys;		/* virtual keys, in the ledger's environment */
	struct keys_key			 key;		/* the last key looked up (memory reused) */
	struct event			*flush_ev;	/* group commit, once per loop turn */
	struct exchange_list		 pending;	/* finished, waiting for their commit */
	struct exchange_list		 live;		/* every exchange in flight */
	struct record			*unwritten;	/* records neither committed nor spilled */
	size_t				 nunwritten, capunwritten;
	struct event			*retry_ev;
	int64_t				 readers_checked_ns;	/* the last ledger_reader_check() */
	struct event			*sig_term, *sig_int, *sig_usr1, *sig_hup;
	struct event			*drain_timer;	/* shutdown_timeout */
	struct event			*drain_check;	/* the quiet period */
	int				 draining;
	struct metrics_slot		*metrics;	/* this worker's live counters */
	struct status_slot		*status;	/* its slot in tollgate.status */
	int				 access_fd;	/* tollgate.access_log, or -1 */
	struct buf			 access;	/* this loop turn's lines */
	struct token_slot		*tokens;	/* a bearer token per routes.accounts (worker_token.c) */
	size_t				 ntokens;
	uint64_t			 requests;	/* requests received, for the quiet period */
	uint64_t			 seq;
};

/* One client request and its upstream transfer(s). */
struct exchange {
	uint32_t			 magic;
	struct worker			*w;
	struct hreq			*req;		/* NULL once the client is gone */
	struct route_model		*model;
	const struct route_deployment	*dep;
	const struct dialect		*dialect;	/* what dep speaks to it (route_dialect()) */
	/* routing (worker_route.c): the model group's places, best first */
	uint8_t				 order[ROUTER_CANDIDATES];
	size_t				 norder;
	int				 ordered;	/* order made (by admission, or the first attempt) */
	size_t				 place;		/* the attempt's place in model->deps */
	uint64_t			 skip;		/* places not to try: failed, or at their limit */
	int				 group_retries;	/* retries in this model group */
	int				 num_retries;	/* the request's own num_retries, -1: the router's */
	char				 client_fallbacks[512];	/* its own fallbacks, one a line */
	size_t				 fallback_at;	/* fallbacks tried from the list in force */
	/* router fallbacks the key may not use (enforce_fallback_model_access) */
	const struct route_model	*denied[ROUTE_FALLBACKS_MAX];
	size_t				 ndenied;
	struct router_slot		*slot;		/* the attempt's deployment state, or NULL */
	int64_t				 attempt_ns;	/* when the attempt was sent */
	int64_t				 retry_after_ms;	/* what the failed attempt's provider asked, -1 */
	int64_t				 extra_cost[COST_PART_COUNT];	/* billed failed attempts */
	struct event			*backoff;	/* waiting to retry the same deployment */
	int				 backing_off;
	int				 fallback_kind;	/* the fallback list fallback_at counts in */
	int				 too_long;	/* pre-call checks: no deployment can take it */
	int				 seen_first_byte;	/* of this attempt */
	int				 failed;		/* this attempt failed... */
	enum config_failure		 failure;	/* ...so */
	int64_t				 est_output;	/* the output tokens it may cost */
	int64_t				 extra_total;	/* sum of extra_cost */
	char				 endpoint[48];	/* "/v1/chat/completions" */
	const struct endpoint		*ep;		/* the client's endpoint... */
	const struct endpoint		*upep;		/* ...and the one called upstream */
	enum route_plan			 plan;		/* relayed as is, or translated */
	struct stage_chain		 chain;		/* a stream's stages, once it began */
	struct xlate_stream		*xs;		/* a translated stream's state */
	struct xlate_error		 xerr;		/* why the request did not translate */
	int				 stream;	/* the client asked for a stream */
	int				 include_usage;	/* the client asked for usage in its stream */
	int				 add_usage;	/* we asked upstream for usage... */
	int				 strip_usage;	/* ...so its usage chunk is ours to drop */
	int				 events_read;	/* stream events with data, so far */
	int				 paused;	/* upstream paused: the client is behind */
	int				 request_tier;	/* the service_tier asked for, or -1 */
	struct buf			 body;		/* the client's body */
	struct reqbody_spans		 spans;		/* where "model" and "stream_options" stand */
	struct buf			 upbody;	/* the body sent upstream */
	char				 url[2048];	/* the upstream URL */
	struct token_slot		*waiting;	/* for its deployment's token, or NULL... */
	TAILQ_ENTRY(exchange)		 token_link;	/* ...in its list of waiters */
	char				 fail_why[320];	/* why it could not be sent (a 502 says), or "" */
	CURL				*easy;
	struct curl_slist		*upheaders;
	int				 own_upheaders;	/* else shared: never freed here */
	char				 curl_error[CURL_ERROR_SIZE];
	long				 status;	/* upstream HTTP status */
	struct buf			 resp_headers;	/* upstream headers to pass on, "Name: value\n" */
	int				 event_stream;	/* upstream answered text/event-stream */
	int				 started;	/* the client reply has begun */
	struct buf			 resp;		/* body (non-stream) or unfinished events */
	size_t				 resp_at;	/* stream offset of resp.data[0] */
	struct sse			 sse;		/* the stream's events being split */
	struct eventstream		 es;		/* or its AWS event-stream frames */
	int				 drop_lf;	/* a dropped event ended in a CR: an LF next ends it */
	struct buf			 tail;		/* the end marker, held until the commit */
	struct usage_raw		 raw;
	struct price_view		*view;		/* generation the request started under */
	struct record			 rec;
	int				 reply_status;	/* what the client gets */
	struct budget_hold		 hold;		/* what admission reserved */
	struct remote_hold		*remote;	/* or reserved in Redis (worker_redis.c) */
	int				 admitting;	/* waiting for Redis's answer */
	int				 local_hold;	/* hold is in this host's counters */
	uint8_t				 hold_kind[BUDGET_HOLD_MAX];	/* enum limit_kind */
	int				 held;		/* not settled yet */
	int				 settled;
	size_t				 dep_from;	/* the first deployment's counters in hold */
	int64_t				 first_tokens;	/* the first attempt's, once it failed */
	/* a later attempt's deployment counters (admit_attempt()) */
	struct budget_limit		 attempt_limits[2];
	struct budget_hold		 attempt_hold;	/* in this host's counters */
	uint8_t				 attempt_kind[2];	/* enum limit_kind */
	size_t				 nattempt;	/* held; 0: none */
	int				 attempt_local;	/* attempt_hold holds them */
	int64_t				 key_max;	/* the key's max_budget, for the header */
	char				 key_counter[BUDGET_ID_MAX];	/* its counter, for the header */
	char				 key_alias[KEYS_NAME_MAX + 1];	/* a virtual key's, for the access log */
	TAILQ_ENTRY(exchange)		 link;		/* in live, then in pending */
};

extern struct worker worker;

/*
 * worker_conn.c: client connections.  A request (struct hreq) lives until
 * its answer is whole or its client goes (the close callback says so).
 */
struct hreq;
/* Accepts on the listener fd and, when metrics_fd is not -1, on the metrics listener. */
int conn_listen(struct event_base *base, int fd, int metrics_fd);
void conn_unlisten(void);
/* Whether r came on tollgate.metrics_listen (only /metrics and /health are served there). */
int hreq_metrics_only(const struct hreq *r);
enum http1_method hreq_method(const struct hreq *r);
const char *hreq_path(const struct hreq *r);
const char *hreq_query(const struct hreq *r);	/* NULL: none */
const char *hreq_header(const struct hreq *r, const char *name);
const char *hreq_body(const struct hreq *r, size_t *len);
/* Headers of the answer, added before it starts. */
void hreq_add_header(struct hreq *r, const char *name, const char *value);
/* The whole answer at once... */
void hreq_reply(struct hreq *r, int status, const void *body, size_t len);
/* ...or streamed (chunked for HTTP/1.1 clients). */
void hreq_reply_start(struct hreq *r, int status);
void hreq_reply_chunk(struct hreq *r, const void *data, size_t len);
void hreq_reply_end(struct hreq *r);
/* cb(r, arg) runs when the client goes before the answer is whole; r is gone after it. */
void hreq_set_closecb(struct hreq *r, void (*cb)(struct hreq *, void *), void *arg);
/* Bytes of the answer not yet taken by the client's socket. */
size_t hreq_unsent(const struct hreq *r);
/* cb(r, arg) once, when all of the answer so far has been sent. */
void hreq_set_draincb(struct hreq *r, void (*cb)(struct hreq *, void *), void *arg);
/* Neither callback any more: the exchange behind r is done with it. */
void hreq_detach(struct hreq *r);

/* worker_metrics.c: GET /metrics */
void metrics_serve(struct hreq *req);

/* worker_http.c */
void http_on_request(struct hreq *req);
void http_send_error(struct hreq *req, int status, const char *type,
    const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 400 invalid_request_error "invalid_parameter", with "param" naming the parameter. */
void http_send_param_error(struct hreq *req, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* After the commit: sends what the client still waits for, then frees ex. */
void http_finish(struct exchange *ex);
/* Streams the bytes to the client, starting the reply if needed. */
void http_stream(struct exchange *ex, const char *data, size_t len);

/*
 * worker_stream.c: a streamed answer's stages.  stream_start() picks and
 * sets up the chain at the stream's first bytes (0 or -1), stream_bytes()
 * takes each delivery (0, or -1: cut the transfer), stream_end() the end of
 * the transfer (whole: the body came whole, else it was cut), stream_stop()
 * tears it down (a retry, the end).
 */
int stream_start(struct exchange *ex);
int stream_bytes(struct exchange *ex, const char *p, size_t n);
void stream_end(struct exchange *ex, int whole);
void stream_stop(struct exchange *ex);

/* worker_upstream.c */
int upstream_init(struct worker *w);
void upstream_release(struct worker *w);
/*
 * Starts (or retries on the next deployment) the upstream transfer: 0 (or
 * waiting for the deployment's token, which goes on with upstream_send()),
 * or -1 (ex->xerr.status set when the request did not translate for it,
 * ex->fail_why when its token could not be had).
 */
int upstream_start(struct exchange *ex);
/* The transfer of ex to its deployment, the body made: 0 (or waiting), or -1. */
int upstream_send(struct exchange *ex);
/*
 * ex could not be sent after all (its token did not come): the next
 * deployment, else the 502 that says why (ex->fail_why).  ex may be gone.
 */
void upstream_failed(struct exchange *ex);

/*
 * worker_token.c: the bearer tokens of deployments that authenticate with one
 * (routes.accounts: Vertex AI's service accounts), one per account, fetched
 * at start and renewed ahead of expiry through the worker's curl multi.
 */
struct token_slot;
int tokens_init(struct worker *w);
void tokens_release(struct worker *w);
/*
 * The Authorization line of ex's deployment: 1 with *line set; 0 when ex
 * waits for the token (upstream_send() or upstream_failed() goes on with
 * it); -1 when there is none to be had now (ex->fail_why says why).
 */
int token_line(struct exchange *ex, const char **line);
/* A waiting exchange whose client went: out of the waiters. */
void token_forget(struct exchange *ex);
/* Whether the curl transfer of private was a token's (then it is finished here). */
int token_transfer_done(void *private, CURLcode rc);
/* Stops the transfer (the client went away). */
void upstream_abort(struct exchange *ex);
/*
 * The output limit sent to a dialect that requires one when the client gave
 * none (Anthropic's max_tokens): the model's max_output_tokens in the price
 * map v, else tollgate.default_max_tokens.
 */
int64_t upstream_max_output(const struct route_deployment *d, const struct price_view *v);

/*
 * worker_redis.c: budgets and limits shared through Redis (tollgate.redis),
 * one connection per worker on its loop (hiredis's libevent adapter), the
 * commands of one loop turn pipelined.  redis_reserve() sends the
 * reservation of limits[0..n) (ncommon shared by every deployment, then
 * ngroups groups of sizes[], one per deployment in the order to try) and
 * calls admit_answered() with Redis's answer; -1 when it could not be sent
 * (Redis unreachable: ex->fail_why says so).  redis_settle() sends the
 * settlement of ex->remote with actual[]; one that cannot be sent is kept
 * and sent on reconnection.
 */
struct remote_hold;
int redis_init(struct worker *w);
void redis_release(struct worker *w);
int redis_reachable(void);
/*
 * A connection to a, on the worker's loop (hiredis's libevent adapter), its
 * callbacks set; NULL with why.
 */
struct redis_addr;
struct redisAsyncContext;
struct redisAsyncContext *redis_connect(const struct redis_addr *a,
    void (*up)(const struct redisAsyncContext *, int),
    void (*down)(const struct redisAsyncContext *, int), char *why, size_t whylen);
/* PUBLISH on this worker's connection: 0, or -1 when Redis is away. */
int redis_publish(const char *channel, const char *message);
/*
 * worker_revoked.c: revocations passed on through Redis.  revoked_tell()
 * says a key this worker revoked to every worker of the fleet;
 * revoked_heard() whether one was (1) or not (0).
 */
int revoked_init(struct worker *w);
void revoked_release(struct worker *w);
void revoked_tell(const unsigned char hash[32]);
int revoked_heard(const unsigned char hash[32]);
struct limitset_entry;
int redis_reserve(struct exchange *ex, const struct budget_limit *limits,
    const struct limitset_entry *what, const int64_t *amount, size_t ncommon, const size_t *sizes,
    size_t ngroups);
void redis_settle(struct exchange *ex, const int64_t *actual);
/* ex's hold, settled or never made: kept for another request, or freed. */
void redis_hold_release(struct exchange *ex);
/*
 * Admitted on this host's counters while Redis was away: limits[0..n) are
 * to be settled in Redis too (nothing reserved there), when it is back.
 */
void redis_remember(struct exchange *ex, const struct budget_limit *limits, size_t n);
/* Spent now on n counters, nothing reserved: to Redis with this worker's leases. */
void redis_count(const struct budget_limit *limits, const int64_t *actual, size_t n);
/* What the fleet has used of limit's counter as Redis last said (a second ago at most), or -1. */
int64_t redis_fleet_used(const struct budget_limit *limit);
/* After Redis's yes: ex holds the common counters and those of group (ex->hold_kind set). */
void redis_chosen(struct exchange *ex, size_t group);
/*
 * With on_failure: open and Redis away: limits[from, to) cut to this
 * host's share of what was left of each (see worker_redis.c).
 */
void redis_open_share(struct budget_limit *limits, size_t from, size_t to);
/* Candidate index of ex's reservation (for a refusal's message), or NULL. */
const struct limitset_entry *redis_what(const struct exchange *ex, size_t index);
const struct budget_limit *redis_limit(const struct exchange *ex, size_t index);

/*
 * worker_route.c: routing.  route_first() chooses the first attempt's
 * deployment (ex->dep; a fallback group at once when every deployment is
 * cooling down, or, with enable_pre_call_checks, none can take the
 * request): 0, or -1 with the 429 sent.  route_prepare() orders ex->model's
 * deployments (ex->order; 0: none now, *soonest_ns the first cooldown's
 * end), route_use() takes the k-th.  route_after_failure(): an attempt
 * failed (ex->failure set) before the client got a byte: 1 when routing
 * goes on (a retry now or after a back-off, or a fallback), 0 when this
 * failure is the answer.  route_attempt_*(): the deployment's shared state.
 */
int route_first(struct exchange *ex);
size_t route_prepare(struct exchange *ex, int64_t *soonest_ns);
void route_use(struct exchange *ex, size_t k);
int route_after_failure(struct exchange *ex);
void route_attempt_begin(struct exchange *ex);
void route_first_byte(struct exchange *ex);
void route_attempt_end(struct exchange *ex, int64_t tokens);
/*
 * The groups ex may fall back to (the client's, else the router's for any
 * failure), those denied to its key left out; their count, at most
 * ROUTE_FALLBACKS_MAX.
 */
size_t route_fallback_models(const struct exchange *ex, const struct route_model **out);
/*
 * What ex would cost at deployment d for input and output tokens, at the
 * tier it asked for; *entry the price entry (NULL: unpriced, and 0).
 */
int64_t route_estimate(const struct exchange *ex, const struct route_deployment *d, int64_t input,
    int64_t output, const struct price_entry **entry);
/* x-litellm-model-id, -model-group, -attempted-retries, -attempted-fallbacks (and -response-cost). */
void route_headers(struct exchange *ex, int with_cost);

/* worker_admit.c */
/*
 * Redis answered ex's reservation: status 0 (group reserved; used: the
 * first counter's spend and reservations), 1 (limit index would be
 * passed, used: what it holds), 2 (every deployment would), -1 (the
 * connection failed).  Goes on with the request, or answers it.
 */
void admit_answered(struct exchange *ex, int status, size_t index, const char *used,
    size_t group);
/*
 * Checks the key's allowed models and reserves the request's largest cost on
 * its budgets and rate limits (k: the virtual key, NULL for the master key and
 * tollgate.keys).  0, 1 when Redis is asked (admit_answered() goes on), or -1
 * when refused (the 403, 429 or 503 is sent).
 */
int admit_request(struct exchange *ex, const struct keys_key *k, int64_t max_tokens);
/*
 * Before routing: the key's allowed models against the request's fallbacks.
 * A client's fallback the key may not use is refused (0, or -1 with the 403
 * sent, as LiteLLM does); a router's is left out of ex's fallbacks when
 * general_settings.enforce_fallback_model_access says so.
 */
int admit_fallbacks(struct exchange *ex, const struct keys_key *k);
/* After admission (the answer from Redis, when shared): the request goes upstream. */
void http_admitted(struct exchange *ex);
/* Replaces the reservation by the record's cost (spent 0: by nothing). */
void admit_settle(struct exchange *ex, int spent);
/*
 * A retry or fallback about to go to deployment place of ex->model: counted on
 * that deployment's rpm and tpm as admission counts the first attempt, the
 * attempt before it (if one of these) settled with the tokens it used.  0,
 * or 1: that deployment is at its limit this minute (try another).
 */
int admit_attempt(struct exchange *ex, size_t place, int64_t tokens_before);
/* x-tollgate-key-spend and x-tollgate-key-max-budget. */
void admit_headers(struct exchange *ex);

/* worker_admin.c: the /key/ endpoints; 1 when path was one of them (answered), else 0. */
int admin_serve(struct hreq *req, const char *path);
/*
 * Whether the request carries the master key: 0, or -1 with the 401 (no
 * key) or 403 (another key) sent; what names the endpoints for the message.
 */
int admin_master_only(struct hreq *req, const char *what);
/* The key's JSON object (keys_to_json) with its spend and budget_reset_at appended: 0 or -1. */
int admin_key_json(const struct keys_key *k, const char *secret, struct buf *out);

/* worker_ui.c: the dashboard's files under /ui; 1 when path was under /ui (answered), else 0. */
int ui_serve(struct hreq *req, const char *path);

/*
 * worker_pg.c: one query to PostgreSQL on the worker's loop.  done gets the
 * result (NULL and err when it failed; the result is freed after done).
 * 0, or -1 when it could not start.
 */
struct pg_result;
typedef void (*pgq_done_fn)(void *arg, const struct pg_result *r, const char *err);
int pgq_start(const char *dsn, const char *sql, int np, const char *const *params,
    pgq_done_fn done, void *arg);

/* worker_spend.c: the spend API; 1 when path was one of its endpoints (answered), else 0. */
int spend_serve(struct hreq *req, const char *path);
/*
 * Its parameters and replies, for the endpoints of worker_spend_records.c.
 * spend_param: query parameter name into out, 1 found, 0 not, -1 with the
 * 400 sent (twice, too long, a NUL byte).  spend_window: start_date and
 * end_date (UTC days, end included) as [since, until); required: both; 0,
 * or -1 with the 400 sent.  spend_group_by: group_by among names (def when
 * absent), its index or -1 with the 400 sent.  spend_money: an exact
 * decimal of USD from picodollars.  spend_reply: o as the 200 JSON reply.
 */
int spend_param(struct hreq *req, const char *name, char *out, size_t len);
int spend_window(struct hreq *req, int required, int64_t *since, int64_t *until);
int spend_group_by(struct hreq *req, const char *const *names, int n, const char *def);
void spend_money(struct buf *o, __int128 pico);
void spend_reply(struct hreq *req, struct buf *o);

/*
 * Key ids ("key:" and 16 hex digits) with their alias and team, for answers
 * by key: spend_key_names_load() lists every key once, sorted (free k after);
 * spend_key_name_of() finds an id's, or NULL.
 */
struct key_names {
	struct key_name {
		char	id[24];
		char	alias[KEYS_NAME_MAX + 1];
		char	team[KEYS_NAME_MAX + 1];
	}	*k;
	size_t	 n, cap;
};
void spend_key_names_load(struct key_names *kn);
const struct key_name *spend_key_name_of(const struct key_names *kn, const char *id);

/*
 * worker_spend_records.c: the spend API's answers that only raw records hold,
 * GET /spend/whatif and GET /spend/provider_cost; called by spend_serve()
 * once the master key is checked.  This host's ledger only.
 */
void spend_serve_whatif(struct hreq *req);
void spend_serve_provider_cost(struct hreq *req);

/* worker.c */
/* Prices and records a finished exchange, then queues it for the group commit. */
void worker_complete(struct exchange *ex);
/*
 * The attempt's answer priced: raw (ex's usage so far, or the caller's copy)
 * with the body when it was not a stream, read as the relay's dialect reads
 * it, at ex's deployment's price entry (returned, NULL: unpriced).
 */
const struct price_entry *exchange_price(const struct exchange *ex, struct usage_raw *raw,
    struct usage *u, struct cost *c);
/* A zeroed exchange (its buffers may have room already), or NULL. */
struct exchange *exchange_get(void);
void exchange_free(struct exchange *ex);
struct price_view *worker_prices(void);
void worker_release_prices(struct price_view *v);

#endif
