/*
 * Budgets and rate limits shared through Redis (lib/budget_redis.h), in a
 * worker: one hiredis connection on the worker's event loop through
 * hiredis's libevent adapter, so that no call blocks; a reservation is one
 * script, sent with the other commands of the loop turn in one write (hiredis
 * buffers until the loop writes), and its answer continues the request.
 * A lost connection is made again with back-off (100 ms doubling to 5 s);
 * settlements that could not be sent meanwhile wait and go first when it is
 * back, so that Redis's counters hold what every host spent.  The local
 * shared-memory counters count every request too: with on_failure: open they
 * admit while Redis is away.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "budget_redis.h"
#include "clock.h"
#include "limitset.h"
#include "log.h"
#include "tollgated.h"
#include "worker.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define UNSENT_MAX		100000	/* settlements kept while Redis is away */

#define CANDIDATES	(BUDGET_HOLD_MAX * 3)	/* counters one reservation may name */
#define GROUPS_MAX	60

/*
 * A request's reservation in Redis: what it asked for (the common counters,
 * then each deployment's group), then, once Redis chose, what it holds.
 */
struct remote_hold {
	size_t			ncand, ncommon, ngroups;
	size_t			sizes[GROUPS_MAX];
	struct budget_limit	cand[CANDIDATES];
	int64_t			cand_amount[CANDIDATES];
	struct limitset_entry	cand_what[CANDIDATES];
	char			cand_name[CANDIDATES][64];	/* what[].name, copied */
	int64_t			reserved_ns;		/* the reservation's windows */
	size_t			n;			/* held: */
	struct budget_limit	limits[BUDGET_HOLD_MAX];
	int64_t			amount[BUDGET_HOLD_MAX];
};

/* A settlement waiting for the connection: its command's arguments. */
struct unsent {
	int		  argc;
	char		**argv;
	size_t		 *lens;
};

static struct {
	struct redis_addr	 addr;
	redisAsyncContext	*ac;
	int			 ready;		/* connected, authenticated, db selected */
	struct event		*retry;
	int			 backoff_ms;
	char			 down[256];	/* why it is not ready, said once */
	struct unsent		*unsent;
	size_t			 nunsent, capunsent;
	char			 sha_reserve[48], sha_settle[48];	/* the scripts, loaded */
} rl;

/* on_setup()'s marks: an answer that only has to be no error, or one of the scripts' SHAs */
#define SETUP_STEP	((void *)0)
#define SETUP_RESERVE	((void *)1)
#define SETUP_SETTLE	((void *)2)	/* the last: the connection is ready */

static void connect_now(void);

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	connect_now();
}

static void
gone(const char *why)
{
	struct timeval tv;

	if (strcmp(rl.down, why) != 0)
		log_error("worker %u: Redis %s:%d: %s (%s)", heritage.index, rl.addr.host,
		    rl.addr.port, why, heritage.config->tollgate.redis_fail_open ?
		    "admitting on this host's own counters meanwhile" :
		    "refusing requests with budgets or limits meanwhile");
	snprintf(rl.down, sizeof(rl.down), "%s", why);
	rl.ready = 0;
	rl.ac = NULL;
	if (worker.draining)
		return;
	tv.tv_sec = rl.backoff_ms / 1000;
	tv.tv_usec = rl.backoff_ms % 1000 * 1000;
	evtimer_add(rl.retry, &tv);
	rl.backoff_ms = rl.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rl.backoff_ms * 2;
}

static void
send_unsent(void)
{
	size_t i, j;

	for (i = 0; i < rl.nunsent; i++) {
		struct unsent *u = &rl.unsent[i];

		redisAsyncCommandArgv(rl.ac, NULL, NULL, u->argc, (const char **)u->argv, u->lens);
		for (j = 0; j < (size_t)u->argc; j++)
			free(u->argv[j]);
		free(u->argv);
		free(u->lens);
	}
	if (rl.nunsent)
		log_info("worker %u: Redis is back: %zu settlements made meanwhile sent",
		    heritage.index, rl.nunsent);
	rl.nunsent = 0;
}

/*
 * The answers to AUTH, SELECT and SCRIPT LOAD, in order: the scripts are
 * loaded once a connection, then each request names its script by SHA
 * (EVALSHA), not by its text.
 */
static void
on_setup(redisAsyncContext *ac, void *r, void *mark)
{
	redisReply *reply = r;

	if (reply == NULL)
		return;	/* the connection went: on_disconnect says so */
	if (reply->type == REDIS_REPLY_ERROR || (mark != SETUP_STEP &&
	    (reply->type != REDIS_REPLY_STRING || reply->len >= (int)sizeof(rl.sha_reserve)))) {
		char why[256];

		snprintf(why, sizeof(why), "%s", reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "SCRIPT LOAD did not answer a SHA");
		redisAsyncDisconnect(ac);
		gone(why);
		return;
	}
	if (mark == SETUP_RESERVE)
		snprintf(rl.sha_reserve, sizeof(rl.sha_reserve), "%s", reply->str);
	if (mark == SETUP_SETTLE) {
		snprintf(rl.sha_settle, sizeof(rl.sha_settle), "%s", reply->str);
		rl.ready = 1;
		rl.backoff_ms = BACKOFF_MIN_MS;
		if (rl.down[0])
			log_info("worker %u: Redis %s:%d reached", heritage.index, rl.addr.host,
			    rl.addr.port);
		rl.down[0] = '\0';
		send_unsent();
	}
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	redisAsyncContext *c = (redisAsyncContext *)ac;
	int sel = rl.addr.db != 0, auth = rl.addr.password[0] != '\0';

	if (status != REDIS_OK) {
		gone(ac->errstr[0] ? ac->errstr : "cannot connect");
		return;
	}
	if (auth && rl.addr.user[0])
		redisAsyncCommand(c, on_setup, SETUP_STEP, "AUTH %s %s", rl.addr.user,
		    rl.addr.password);
	else if (auth)
		redisAsyncCommand(c, on_setup, SETUP_STEP, "AUTH %s", rl.addr.password);
	if (sel)
		redisAsyncCommand(c, on_setup, SETUP_STEP, "SELECT %d", rl.addr.db);
	redisAsyncCommand(c, on_setup, SETUP_RESERVE, "SCRIPT LOAD %s", redis_reserve_script);
	redisAsyncCommand(c, on_setup, SETUP_SETTLE, "SCRIPT LOAD %s", redis_settle_script);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac == rl.ac || rl.ac == NULL)
		gone(ac->errstr[0] ? ac->errstr : "the connection closed");
}

static void
connect_now(void)
{
	redisAsyncContext *ac = redisAsyncConnect(rl.addr.host, rl.addr.port);

	if (ac == NULL || ac->err) {
		gone(ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		return;
	}
	rl.ac = ac;
	redisLibeventAttach(ac, worker.base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

int
redis_init(struct worker *w)
{
	char err[256];

	if (heritage.config->tollgate.redis_url == NULL)
		return 0;
	if (redis_url_parse(heritage.config->tollgate.redis_url, &rl.addr, err, sizeof(err)) < 0 ||
	    (rl.retry = evtimer_new(w->base, on_retry, NULL)) == NULL)
		return -1;
	rl.backoff_ms = BACKOFF_MIN_MS;
	snprintf(rl.down, sizeof(rl.down), "not connected yet");
	connect_now();
	return 0;
}

void
redis_release(struct worker *w)
{
	(void)w;
	if (rl.ac != NULL) {
		redisAsyncContext *ac = rl.ac;

		rl.ac = NULL;
		redisAsyncDisconnect(ac);	/* sends what is buffered first */
	}
	if (rl.retry)
		event_free(rl.retry);
	rl.retry = NULL;
}

int
redis_reachable(void)
{
	return rl.ready;
}

/* ---- reservations ------------------------------------------------------------ */

static void
on_reserved(redisAsyncContext *ac, void *r, void *arg)
{
	struct exchange *ex = arg;
	redisReply *reply = r;

	(void)ac;
	if (ex == NULL || ex->magic != EXCHANGE_MAGIC)
		return;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) ==
	    0 && rl.ac != NULL) {
		/* its scripts were flushed (SCRIPT FLUSH): loaded again for the requests after it */
		redisAsyncCommand(rl.ac, on_setup, SETUP_RESERVE, "SCRIPT LOAD %s",
		    redis_reserve_script);
		redisAsyncCommand(rl.ac, on_setup, SETUP_STEP, "SCRIPT LOAD %s", redis_settle_script);
	}
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER) {
		snprintf(ex->fail_why, sizeof(ex->fail_why), "budgets are shared through Redis, "
		    "which %s", reply == NULL ? "went away" : reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "answered what tollgate did not ask");
		admit_answered(ex, -1, 0, "0", 0);
		return;
	}
	admit_answered(ex, (int)reply->element[0]->integer,
	    reply->element[1]->type == REDIS_REPLY_INTEGER ? (size_t)reply->element[1]->integer : 0,
	    reply->element[2]->type == REDIS_REPLY_STRING ? reply->element[2]->str : "0",
	    reply->element[1]->type == REDIS_REPLY_INTEGER ? (size_t)reply->element[1]->integer : 0);
}

/* A command being built: its arguments, their text in the arena. */
#define ARGS_MAX	(8 + CANDIDATES * 5 + GROUPS_MAX)
struct args {
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX];
	char		 text[ARGS_MAX][REDIS_KEY_MAX];
	int		 argc, ntext;
};

static void
arg(struct args *a, const char *s)
{
	a->argv[a->argc] = s;
	a->lens[a->argc++] = strlen(s);
}

static void
argf(struct args *a, long long v)
{
	snprintf(a->text[a->ntext], sizeof(a->text[0]), "%lld", v);
	arg(a, a->text[a->ntext++]);
}

int
redis_reserve(struct exchange *ex, const struct budget_limit *limits,
    const struct limitset_entry *what, const int64_t *amount, size_t ncommon, const size_t *sizes,
    size_t ngroups)
{
	static struct args a;
	struct remote_hold *h;
	int64_t now = clock_now_ns(), expire;
	size_t n = ncommon, i;

	for (i = 0; i < ngroups && i < GROUPS_MAX && n + sizes[i] <= CANDIDATES; i++)
		n += sizes[i];
	ngroups = i;	/* deployments past the bounds are not tried */
	if (!rl.ready || rl.ac == NULL) {
		snprintf(ex->fail_why, sizeof(ex->fail_why), "budgets and limits are shared through "
		    "Redis, which cannot be reached (%.200s)", rl.down);
		return -1;
	}
	if ((h = ex->remote) == NULL && (h = ex->remote = calloc(1, sizeof(*h))) == NULL) {
		snprintf(ex->fail_why, sizeof(ex->fail_why), "out of memory");
		return -1;
	}
	memset(h, 0, sizeof(*h));
	h->reserved_ns = now;
	h->ncand = n;
	h->ncommon = ncommon;
	h->ngroups = ngroups;
	memcpy(h->sizes, sizes, ngroups * sizeof(*sizes));
	for (i = 0; i < n; i++) {
		h->cand[i] = limits[i];
		h->cand_amount[i] = amount[i];
		h->cand_what[i] = what[i];
		snprintf(h->cand_name[i], sizeof(h->cand_name[i]), "%s", what[i].name ? what[i].name :
		    "");
		h->cand_what[i].name = h->cand_name[i];
	}
	a.argc = a.ntext = 0;
	arg(&a, "EVALSHA");
	arg(&a, rl.sha_reserve);
	argf(&a, (long long)n);
	for (i = 0; i < n; i++) {
		redis_counter_key(&limits[i], now, a.text[a.ntext], sizeof(a.text[0]), &expire);
		arg(&a, a.text[a.ntext++]);
	}
	argf(&a, (long long)ncommon);
	argf(&a, (long long)ngroups);
	for (i = 0; i < ngroups; i++)
		argf(&a, (long long)sizes[i]);
	for (i = 0; i < n; i++) {
		redis_counter_key(&limits[i], now, a.text[a.ntext], sizeof(a.text[0]), &expire);
		argf(&a, (long long)amount[i]);
		argf(&a, limits[i].max == BUDGET_NONE ? -1LL : (long long)limits[i].max);
		argf(&a, (long long)expire);
	}
	ex->admitting = 1;
	if (redisAsyncCommandArgv(rl.ac, on_reserved, ex, a.argc, a.argv, a.lens) != REDIS_OK) {
		ex->admitting = 0;
		snprintf(ex->fail_why, sizeof(ex->fail_why), "budgets are shared through Redis, "
		    "which cannot be reached (%s)", rl.ac && rl.ac->errstr[0] ? rl.ac->errstr :
		    "not connected");
		return -1;
	}
	return 0;
}

void
redis_chosen(struct exchange *ex, size_t group)
{
	struct remote_hold *h = ex->remote;
	size_t i, from;

	h->n = 0;
	for (i = 0; i < h->ncommon && h->n < BUDGET_HOLD_MAX; i++, h->n++) {
		h->limits[h->n] = h->cand[i];
		h->amount[h->n] = h->cand_amount[i];
		ex->hold_kind[h->n] = (uint8_t)h->cand_what[i].kind;
	}
	for (i = 0, from = h->ncommon; i < group && i < h->ngroups; i++)
		from += h->sizes[i];
	for (i = 0; group < h->ngroups && i < h->sizes[group] && h->n < BUDGET_HOLD_MAX;
	    i++, h->n++) {
		h->limits[h->n] = h->cand[from + i];
		h->amount[h->n] = h->cand_amount[from + i];
		ex->hold_kind[h->n] = (uint8_t)h->cand_what[from + i].kind;
	}
}

void
redis_remember(struct exchange *ex, const struct budget_limit *limits, size_t n)
{
	struct remote_hold *h;
	size_t i;

	if ((h = ex->remote) == NULL && (h = ex->remote = calloc(1, sizeof(*h))) == NULL)
		return;	/* out of memory: Redis will not know of this one's spend */
	memset(h, 0, sizeof(*h));
	h->reserved_ns = clock_now_ns();
	for (i = 0; i < n && i < BUDGET_HOLD_MAX; i++)
		h->limits[i] = limits[i];	/* amount 0: nothing was reserved in Redis */
	h->n = i;
}

const struct limitset_entry *
redis_what(const struct exchange *ex, size_t index)
{
	return ex->remote != NULL && index < ex->remote->ncand ? &ex->remote->cand_what[index] :
	    NULL;
}

const struct budget_limit *
redis_limit(const struct exchange *ex, size_t index)
{
	return ex->remote != NULL && index < ex->remote->ncand ? &ex->remote->cand[index] : NULL;
}

/* ---- settlements -------------------------------------------------------------- */

/* Keeps a settlement for the connection's return (bounded: said when full). */
static void
keep(int argc, const char **argv, const size_t *lens)
{
	struct unsent *u;
	int i;

	if (rl.nunsent >= UNSENT_MAX || ARRAY_GROW(rl.unsent, rl.nunsent, rl.capunsent) < 0) {
		static int said;

		if (!said++)
			log_error("worker %u: more than %d settlements wait for Redis: the rest are "
			    "lost to its counters (the ledger has every record)", heritage.index,
			    UNSENT_MAX);
		return;
	}
	u = &rl.unsent[rl.nunsent];
	if ((u->argv = calloc((size_t)argc, sizeof(char *))) == NULL ||
	    (u->lens = calloc((size_t)argc, sizeof(size_t))) == NULL) {
		free(u->argv);
		return;
	}
	u->argc = argc;
	for (i = 0; i < argc; i++) {
		if ((u->argv[i] = malloc(lens[i] + 1)) != NULL)
			memcpy(u->argv[i], argv[i], lens[i] + 1);
		u->lens[i] = lens[i];
	}
	rl.nunsent++;
}

void
redis_settle(struct exchange *ex, const int64_t *actual)
{
	static struct args a;
	struct remote_hold *h = ex->remote;
	int64_t now = clock_now_ns(), expire;
	size_t i;

	if (h == NULL || h->n == 0)
		return;
	/*
	 * This host's own counters count what it spent through Redis too, so
	 * that with on_failure: open each host enforces a budget on all of its
	 * own spend in the window (a local hold settles there already).
	 */
	for (i = 0; !ex->local_hold && heritage.budgets != NULL && i < h->n; i++)
		heritage.budgets->ops->add(heritage.budgets, &h->limits[i], actual[i], now, now);
	a.argc = a.ntext = 0;
	/* one kept for a later connection is sent whole: that Redis may not have the script */
	arg(&a, rl.ready ? "EVALSHA" : "EVAL");
	arg(&a, rl.ready ? rl.sha_settle : redis_settle_script);
	argf(&a, (long long)(2 * h->n));
	for (i = 0; i < h->n; i++) {
		redis_counter_key(&h->limits[i], h->reserved_ns, a.text[a.ntext], sizeof(a.text[0]),
		    &expire);
		arg(&a, a.text[a.ntext++]);
	}
	for (i = 0; i < h->n; i++) {
		redis_counter_key(&h->limits[i], now, a.text[a.ntext], sizeof(a.text[0]), &expire);
		arg(&a, a.text[a.ntext++]);
	}
	for (i = 0; i < h->n; i++) {
		redis_counter_key(&h->limits[i], now, a.text[a.ntext], sizeof(a.text[0]), &expire);
		argf(&a, -(long long)h->amount[i]);
		argf(&a, (long long)actual[i]);
		argf(&a, (long long)expire);
	}
	h->n = 0;
	if (!rl.ready || rl.ac == NULL ||
	    redisAsyncCommandArgv(rl.ac, NULL, NULL, a.argc, a.argv, a.lens) != REDIS_OK)
		keep(a.argc, a.argv, a.lens);
}
