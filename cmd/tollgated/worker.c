/*
 * A worker process: one event_base serving client connections
 * (worker_conn.c) on the listener inherited from the master, and talking to providers through
 * one libcurl multi handle on the same loop.  Finished requests are priced
 * here, and their records committed to the ledger in one transaction per
 * loop turn (group commit) before their clients get the last bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "tollgated.h"
#include "worker.h"

struct worker worker;

/* ---- price generations --------------------------------------------------- */

/*
 * The newest price table, mapped when the master has published a new one.
 * Each request holds a reference to the generation it started under; a
 * generation is unmapped when it is neither the newest nor in use.
 */
struct price_view *
worker_prices(void)
{
	struct price_view *v;
	char err[512];

	if (worker.prices == NULL || shm_generation(worker.shm) != worker.prices->generation) {
		if ((v = calloc(1, sizeof(*v))) == NULL || shm_map_prices(worker.shm, v, err,
		    sizeof(err)) < 0) {
			if (v != NULL)
				log_warn("worker %u: keeping price generation %llu: %s", heritage.index,
				    (unsigned long long)(worker.prices ? worker.prices->generation : 0), err);
			free(v);
		} else {
			if (worker.prices != NULL && worker.prices->refs == 0) {
				shm_unmap_prices(worker.prices);
				free(worker.prices);
			}
			worker.prices = v;
		}
	}
	if (worker.prices != NULL)
		worker.prices->refs++;
	return worker.prices;
}

void
worker_release_prices(struct price_view *v)
{
	if (v == NULL)
		return;
	if (--v->refs == 0 && v != worker.prices) {
		shm_unmap_prices(v);
		free(v);
	}
}

/* ---- completion and the group commit ------------------------------------ */

static void exchange_put(struct exchange *ex);

void
exchange_free(struct exchange *ex)
{
	if (ex == NULL)
		return;
	upstream_abort(ex);
	stream_stop(ex);
	if (ex->backoff != NULL) {
		event_free(ex->backoff);
		ex->backoff = NULL;
	}
	ex->backing_off = 0;
	route_attempt_end(ex, 0);	/* if one was still counted in flight */
	admit_settle(ex, 0);	/* never recorded: its reservation goes */
	if (ex->req != NULL)
		hreq_detach(ex->req);
	TAILQ_REMOVE(&worker.live, ex, link);
	status_count(&worker.status->in_flight, -1);
	worker_release_prices(ex->view);
	ex->magic = 0;
	exchange_put(ex);
}

/*
 * Spare exchanges, their buffers kept: a request then costs no allocation of
 * its own (an exchange is 3 KB, too large for malloc's fast bins, and its
 * buffers grew by reallocation every time).
 */
#define SPARE_MAX	64
#define SPARE_BUFFER	(64 * 1024)	/* larger buffers are not kept */

static struct exchange *spare[SPARE_MAX];
static size_t nspare;

static void
exchange_put(struct exchange *ex)
{
	struct buf *bufs[] = { &ex->body, &ex->upbody, &ex->resp, &ex->resp_headers, &ex->tail };
	size_t i;

	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		if (nspare == SPARE_MAX || bufs[i]->cap > SPARE_BUFFER)
			buf_release(bufs[i]);
	if (nspare == SPARE_MAX || ex->sse.line.cap > SPARE_BUFFER || ex->sse.data.cap > SPARE_BUFFER)
		sse_release(&ex->sse);
	if (nspare == SPARE_MAX) {
		free(ex);
		return;
	}
	spare[nspare++] = ex;
}

struct exchange *
exchange_get(void)
{
	struct exchange *ex;
	struct buf keep[5];
	struct sse sse;

	if (nspare == 0)
		return calloc(1, sizeof(struct exchange));
	ex = spare[--nspare];
	keep[0] = ex->body, keep[1] = ex->upbody, keep[2] = ex->resp;
	keep[3] = ex->resp_headers, keep[4] = ex->tail;
	sse = ex->sse;
	memset(ex, 0, sizeof(*ex));
	ex->body = keep[0], ex->upbody = keep[1], ex->resp = keep[2];
	ex->resp_headers = keep[3], ex->tail = keep[4];
	ex->body.len = ex->upbody.len = ex->resp.len = ex->resp_headers.len = ex->tail.len = 0;
	ex->sse = sse;
	sse_reset(&ex->sse);
	return ex;
}

/*
 * The provider's own word on the answer's cost (OpenRouter's usage.cost,
 * xAI's ticks, DeepInfra's estimated_cost) kept beside computed, the cost
 * tollgate priced: flagged when they differ by more than
 * cost_mismatch_threshold of computed, and billed instead with
 * provider_cost: prefer.  A missing or unreadable figure changes nothing.
 */
static void
provider_cost(struct record *r, const struct usage *u, int64_t computed)
{
	const struct config_tollgate *tg = &heritage.config->tollgate;
	__int128 diff;

	if (!u->has_provider_cost)
		return;
	r->flags |= RECORD_FLAG_PROVIDER_COST;
	r->provider_cost = u->provider_cost;
	diff = (__int128)u->provider_cost - computed;
	if (diff < 0)
		diff = -diff;
	if (diff * 1000000 > (__int128)computed * tg->cost_mismatch_ppm)
		r->flags |= RECORD_FLAG_COST_MISMATCH;
	if (tg->provider_cost_prefer) {
		/* the parts stay tollgate's, for comparison; the total is what the provider billed */
		r->total += u->provider_cost - computed;
		r->flags |= RECORD_FLAG_PROVIDER_BILLED;
	}
}

const struct price_entry *
exchange_price(const struct exchange *ex, struct usage_raw *raw, struct usage *u, struct cost *c)
{
	const struct price_entry *e = NULL;
	const struct price_table *t = ex->view ? ex->view->table : NULL;
	struct cost_options o;

	if (!ex->event_stream && ex->resp.len)
		usage_collect(raw, ex->resp.data, ex->resp.len, NULL, 0, NULL);
	/* a relay in another dialect than the deployment's reads as that dialect's usage */
	usage_normalise(raw, ex->dep == NULL ? USAGE_SHAPE_AUTO : ex->dialect != ex->dep->dialect ?
	    ex->dialect->shape : ex->dep->shape, u);
	cost_options_init(&o);
	o.tier = ex->request_tier;
	/* the version in force when the request started, whatever has been loaded since */
	if (t != NULL && ex->dep != NULL)
		e = price_lookup_at(t, ex->dep->price_name, strlen(ex->dep->price_name),
		    ex->rec.start_ns / 1000000000);
	cost_compute(t, e, u, &o, c);
	return e;
}

static void
price_exchange(struct exchange *ex)
{
	struct record *r = &ex->rec;
	const struct price_table *t = ex->view ? ex->view->table : NULL;
	const struct price_entry *e;
	struct usage u;
	struct cost c;

	e = exchange_price(ex, &ex->raw, &u, &c);
	record_set_usage(r, &u, &c);
	provider_cost(r, &u, c.total);
	/* what the failed attempts were billed is part of what the request cost */
	for (size_t i = 0; ex->extra_total != 0 && i < COST_PART_COUNT; i++)
		r->cost[i] += ex->extra_cost[i];
	r->total += ex->extra_total;
	route_attempt_end(ex, u.input + u.output);
	if (e != NULL)
		buf_copy(r->priced_as, sizeof(r->priced_as), price_str(t, e->name));
	r->price_from = e != NULL && (e->flags & PRICE_DATED) ? e->effective_s : 0;
	r->generation = ex->view ? ex->view->generation : 0;
	if (ex->dep != NULL) {
		buf_copy(r->deployment, sizeof(r->deployment), ex->dep->cfg->model);
		buf_copy(r->provider, sizeof(r->provider), ex->dep->cfg->provider);
	}
	if (ex->upep != NULL)
		buf_copy(r->upstream, sizeof(r->upstream), ex->upep->path);
}

void
worker_complete(struct exchange *ex)
{
	struct record *r = &ex->rec;

	price_exchange(ex);
	r->end_ns = clock_now_ns();
	if (ex->reply_status)
		r->status = (uint16_t)ex->reply_status;
	else
		r->status = (uint16_t)(ex->status ? ex->status : 502);
	if (worker.metrics != NULL) {
		metrics_observe(worker.metrics, METRICS_UPSTREAM, r->end_ns - r->start_ns);
		metrics_observe(worker.metrics, METRICS_TTFB,
		    (r->first_byte_ns ? r->first_byte_ns : r->end_ns) - r->start_ns);
		metrics_usage_flags(worker.metrics, r->usage_flags);
		if (r->flags & RECORD_FLAG_PROVIDER_COST)
			metrics_add(&worker.metrics->provider_costs, 1);
		if (r->flags & RECORD_FLAG_COST_MISMATCH)
			metrics_add(&worker.metrics->cost_mismatches, 1);
	}
	TAILQ_REMOVE(&worker.live, ex, link);
	TAILQ_INSERT_TAIL(&worker.pending, ex, link);
	/* one commit for everything that finishes in this loop turn */
	event_active(worker.flush_ev, EV_TIMEOUT, 0);
}

static void
keep_unwritten(const struct record *recs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ARRAY_GROW(worker.unwritten, worker.nunwritten, worker.capunwritten) < 0) {
			log_error("worker %u: out of memory: record '%s' lost", heritage.index,
			    recs[i].id);
			continue;
		}
		worker.unwritten[worker.nunwritten++] = recs[i];
	}
}

/*
 * A process killed inside a read transaction (the accountant, say) leaves its
 * reader slot behind, and while the slot pins that snapshot LMDB can reuse no
 * page freed since: every commit then grows the file, by megabytes a second
 * under load.  The accountant clears such slots, but it may be the one that
 * died and wait in its respawn back-off, so whoever writes clears them too,
 * every 100 ms at most (a scan of the reader table, and a lock test for each
 * process in it).
 */
#define READER_CHECK_NS	100000000LL

static void
clear_dead_readers(int64_t now)
{
	int n;

	if (now - worker.readers_checked_ns < READER_CHECK_NS)
		return;
	worker.readers_checked_ns = now;
	if ((n = ledger_reader_check(worker.ledger)) > 0)
		log_info("worker %u: cleared %d reader slot%s of dead processes", heritage.index, n,
		    n == 1 ? "" : "s");
}

/* Commits n records; what can be neither committed nor spilled is kept for a retry. */
static void
commit(const struct record *recs, size_t n)
{
	int64_t started = clock_now_ns();
	char err[512];
	int rc = -1;

	if (worker.ledger != NULL) {
		clear_dead_readers(started);
		rc = ledger_append(worker.ledger, recs, n, err, sizeof(err));
	} else
		snprintf(err, sizeof(err), "the ledger is not open");
	if (worker.metrics != NULL) {
		metrics_observe(worker.metrics, METRICS_COMMIT, clock_now_ns() - started);
		if (rc >= 0)
			metrics_add(rc == 0 ? &worker.metrics->records : &worker.metrics->records_unwritten,
			    n);
	}
	if (rc == 1)
		log_warn("worker %u: ledger full or unwritable: %zu record%s spilled, to be replayed",
		    heritage.index, n, n == 1 ? "" : "s");
	else if (rc < 0) {
		log_error("worker %u: %s: %zu record%s kept in memory, retrying", heritage.index,
		    err, n, n == 1 ? "" : "s");
		keep_unwritten(recs, n);
		if (!evtimer_pending(worker.retry_ev, NULL)) {
			struct timeval tv = { 1, 0 };
			evtimer_add(worker.retry_ev, &tv);
		}
	}
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct record *recs = worker.unwritten;
	size_t n = worker.nunwritten;

	(void)fd, (void)what, (void)arg;
	worker.unwritten = NULL;
	worker.nunwritten = worker.capunwritten = 0;
	if (n)
		commit(recs, n);
	free(recs);
}

/* ---- the access log ---------------------------------------------------------- */

/*
 * tollgate.access_log: one JSON line per request (its record, with the key's
 * alias, the latency and the time to first byte), written once per loop turn
 * with one write(2) on an O_APPEND file, so workers' lines never interleave.
 */
static void
access_open(void)
{
	const char *path = heritage.config->tollgate.access_log;
	int fd;

	if (path == NULL)
		return;
	if (strcmp(path, "-") == 0)
		fd = dup(STDERR_FILENO);
	else
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("worker %u: cannot open access log '%s': %s", heritage.index, path,
		    strerror(errno));
		return;
	}
	if (worker.access_fd >= 0)
		close(worker.access_fd);
	worker.access_fd = fd;
}

static void
access_line(const struct exchange *ex)
{
	const struct record *r = &ex->rec;
	struct buf *b = &worker.access;
	size_t mark = b->len;

	if (worker.access_fd < 0)
		return;
	if (record_to_json(r, b) < 0 || b->len == mark || b->data[b->len - 1] != '}') {
		b->len = mark;
		return;
	}
	b->len--;	/* the record's object, three fields more */
	buf_append(b, ", \"key_alias\": ", 15);
	json_write_string(b, ex->key_alias);
	buf_printf(b, ", \"latency_ms\": %.3f, \"ttfb_ms\": %.3f}\n",
	    (double)(r->end_ns - r->start_ns) / 1e6,
	    (double)((r->first_byte_ns ? r->first_byte_ns : r->end_ns) - r->start_ns) / 1e6);
}

static void
access_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (off < worker.access.len) {
		if ((n = write(worker.access_fd, worker.access.data + off, worker.access.len - off)) < 0) {
			if (errno == EINTR)
				continue;
			log_error("worker %u: cannot write the access log: %s", heritage.index,
			    strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	worker.access.len = 0;
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct exchange_list done = TAILQ_HEAD_INITIALIZER(done);
	struct exchange *ex;
	struct record *recs;
	size_t n = 0, i = 0;

	(void)fd, (void)what, (void)arg;
	TAILQ_FOREACH(ex, &worker.pending, link)
		n++;
	if (n == 0)
		return;
	if ((recs = calloc(n, sizeof(*recs))) != NULL) {
		TAILQ_FOREACH(ex, &worker.pending, link)
			recs[i++] = ex->rec;
		commit(recs, n);
		free(recs);
	} else {
		TAILQ_FOREACH(ex, &worker.pending, link)
			keep_unwritten(&ex->rec, 1);
	}
	/* the records are safe: now the clients get their last bytes */
	TAILQ_CONCAT(&done, &worker.pending, link);
	while ((ex = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, ex, link);
		access_line(ex);
		admit_settle(ex, 1);
		TAILQ_INSERT_TAIL(&worker.live, ex, link);	/* exchange_free takes it from live */
		http_finish(ex);
	}
	if (worker.access.len)
		access_flush();
}

/* ---- signals and draining -------------------------------------------------- */

/*
 * While draining, the worker exits once nothing is in flight and no request
 * has arrived for a quiet period: that lets the last replies go out,
 * and serves requests on connections accepted just before the listener was
 * let go (their bytes may still be on the way).
 */
#define DRAIN_QUIET_MS	300

static void
on_drain_check(evutil_socket_t fd, short what, void *arg)
{
	static uint64_t seen = UINT64_MAX;
	struct timeval tv = { 0, DRAIN_QUIET_MS * 1000 };

	(void)fd, (void)what, (void)arg;
	if (TAILQ_EMPTY(&worker.live) && TAILQ_EMPTY(&worker.pending) && seen == worker.requests) {
		event_base_loopexit(worker.base, NULL);
		return;
	}
	seen = worker.requests;
	evtimer_add(worker.drain_check, &tv);
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	log_warn("worker %u: shutdown_timeout reached with requests in flight", heritage.index);
	event_base_loopexit(worker.base, NULL);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	int64_t ms = heritage.config->tollgate.shutdown_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)sig, (void)what, (void)arg;
	if (worker.draining)
		return;
	worker.draining = 1;
	status_set_state(worker.status, STATUS_DRAINING);
	/* stop accepting: the listener stays open in the master and the other workers */
	/* open connections stay: a request may be on its way on one (answered with Connection: close) */
	conn_unlisten();
	worker.drain_timer = evtimer_new(worker.base, on_drain_timeout, NULL);
	evtimer_add(worker.drain_timer, &tv);
	worker.drain_check = evtimer_new(worker.base, on_drain_check, NULL);
	on_drain_check(-1, 0, NULL);
}

static void
on_usr1(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what, (void)arg;
	log_reopen();
	access_open();
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	/* reloads are the master's: a worker only notices new prices on its next request */
	(void)sig, (void)what, (void)arg;
}

/*
 * The event loop, with epoll's changelist: the interest changes a request makes
 * (curl moving its sockets, a client's write interest) are
 * folded into one epoll_ctl per socket and loop turn, or none, instead of one
 * each (strace: 5 epoll_ctl calls a request without it).
 */
static struct event_base *
new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
worker_main(void)
{
	const struct config *c = heritage.config;
	char err[512];
	int rc = 1;

	log_set_prefix("worker");
	TAILQ_INIT(&worker.pending);
	TAILQ_INIT(&worker.live);
	if (heritage.metrics != NULL)
		worker.metrics = &heritage.metrics->slot[heritage.index % METRICS_SLOTS];
	worker.status = &heritage.status->slot[heritage.slot % STATUS_SLOTS];
	worker.access_fd = -1;
	access_open();
	if ((worker.base = new_base()) == NULL)
		fatal("worker %u: cannot create the event loop", heritage.index);
	if (shm_attach(heritage.run_dir, &worker.shm, err, sizeof(err)) < 0)
		fatal("worker %u: %s", heritage.index, err);
	/* LMDB environments never cross fork: each worker opens its own; keys carry the
	   pid, unique among the processes writing at any one time */
	if (ledger_open(heritage.ledger_dir, LEDGER_WRITE, (size_t)c->tollgate.ledger_map_size,
	    (uint32_t)getpid(), &worker.ledger, err, sizeof(err)) < 0)
		log_error("worker %u: %s (records will be kept in memory)", heritage.index, err);
	if (worker.ledger != NULL && keys_open(worker.ledger, &worker.keys, err, sizeof(err)) < 0)
		log_error("worker %u: %s (virtual keys are refused)", heritage.index, err);
	if (upstream_init(&worker) < 0)
		fatal("worker %u: cannot start libcurl", heritage.index);
	worker.flush_ev = event_new(worker.base, -1, 0, on_flush, NULL);
	worker.retry_ev = evtimer_new(worker.base, on_retry, NULL);
	worker.sig_term = evsignal_new(worker.base, SIGTERM, on_term, NULL);
	worker.sig_int = evsignal_new(worker.base, SIGINT, on_term, NULL);
	worker.sig_usr1 = evsignal_new(worker.base, SIGUSR1, on_usr1, NULL);
	worker.sig_hup = evsignal_new(worker.base, SIGHUP, on_hup, NULL);
	event_add(worker.sig_term, NULL);
	event_add(worker.sig_int, NULL);
	event_add(worker.sig_usr1, NULL);
	event_add(worker.sig_hup, NULL);

	if (conn_listen(worker.base, heritage.listen_fd, heritage.metrics_fd) < 0)
		fatal("worker %u: cannot accept on the listener", heritage.index);
	worker_release_prices(worker_prices());	/* map the current table now, not on the first request */

	if (event_base_dispatch(worker.base) == 0)
		rc = 0;
	on_flush(-1, 0, NULL);
	{
		struct exchange *ex;

		/* cut off by shutdown_timeout: their reservations must not outlive them */
		TAILQ_FOREACH(ex, &worker.live, link)
			admit_settle(ex, 0);
	}
	on_retry(-1, 0, NULL);
	if (worker.nunwritten)
		log_error("worker %u: %zu records could not be written", heritage.index,
		    worker.nunwritten);
	keys_close(worker.keys);
	keys_key_release(&worker.key);
	if (worker.ledger)
		ledger_close(worker.ledger);
	upstream_release(&worker);
	return rc;
}
