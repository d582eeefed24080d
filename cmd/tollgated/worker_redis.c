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
 *
 * Leases (budget_redis.h) keep most requests off Redis: a worker admits
 * from what it has leased on each counter, here, in its own loop turn, and
 * settles its leases every tenth of a second, one call for all of them.
 * A request goes to Redis only when a lease cannot cover it: its script
 * reserves the request and tops the lease up, by as many requests' worth
 * as the lease has lately needed (16, doubling while it runs dry within a
 * second, to 65,536), never more than 1/16 of the room left.  Near the end
 * of a budget that leaves nothing to lease, and each request is reserved in
 * Redis, exactly as without leases.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

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

#define TICK_MS		100		/* leases and settlements go to Redis this often */
#define LEASE_IDLE_NS	1000000000LL	/* a lease unused this long gives back what it holds */
#define LEASE_FIRST	16		/* a lease's first size, in requests like the one asking */
#define LEASE_MOST	65536
#define LEASE_BUCKETS	1024
#define RECLAIM_TICKS	100		/* gone workers of this host looked for every 10 s */
#define SEEN_TICKS	10		/* each lease's counter read back every second */
#define SEEN_KEPT_NS	(600 * 1000000000LL)	/* and a lease kept ten minutes for it */
#define HOSTS_KEY	"tollgate:hosts"	/* the fleet's hosts, by when last heard of */
#define DAY_MS		86400000LL	/* a counter key outlives its window by this */

/*
 * This worker's lease on one counter (one window's key).  granted is
 * reserved in Redis on its account; of it, held is held by requests in
 * flight here, and "spent" was spent by requests settled since the last
 * tick, which moves it from the reservation to the counter's spend.  A
 * counter without a limit reserves nothing: its lease only gathers spend.
 */
struct lease {
	struct lease		*next;		/* in its bucket */
	struct lease		*also;		/* every lease, for the tick */
	char			 key[REDIS_KEY_MAX];
	int64_t			 expire_ms;	/* the key's (0: never); its window ends a day before */
	struct budget_limit	 limit;
	int64_t			 granted, held, spent;
	int64_t			 used_ns;	/* last admitted from */
	int64_t			 topup_ns;	/* last topped up */
	int64_t			 want_n;	/* the next top-up, in requests */
	int			 asking;	/* a top-up is on its way */
	/*
	 * What the fleet had used of the counter (spent and reserved) when
	 * Redis last said, and what this host had spent of it then: with
	 * on_failure: open, its share while Redis is away starts there.
	 */
	int64_t			 seen_used, seen_local, seen_ns;
};

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
	char			ckey[CANDIDATES][REDIS_KEY_MAX];	/* their keys, made once */
	int64_t			cexpire[CANDIDATES];
	int64_t			cand_want[CANDIDATES];	/* the lease asked for on top */
	int64_t			cand_grant[CANDIDATES];	/* what Redis reserved: amount and lease */
	uint8_t			cand_asked[CANDIDATES];
	int64_t			reserved_ns;		/* the reservation's windows */
	uint64_t		gen;			/* the leases it holds from (rl.gen) */
	int			here;			/* admitted from leases, group 0 */
	size_t			n;			/* held: */
	struct budget_limit	limits[BUDGET_HOLD_MAX];
	int64_t			amount[BUDGET_HOLD_MAX];
	size_t			cand_of[BUDGET_HOLD_MAX];	/* each one's candidate */
	int			remembered;		/* limits[] only: no candidates */
};

/* Holds are large (their candidates' keys): a few are kept for the next requests. */
#define HOLDS_KEPT	64
static struct remote_hold *holds_kept[HOLDS_KEPT];
static size_t nholds_kept;

static struct remote_hold *
hold_take(void)
{
	return nholds_kept > 0 ? holds_kept[--nholds_kept] : malloc(sizeof(struct remote_hold));
}

void
redis_hold_release(struct exchange *ex)
{
	if (ex->remote != NULL && nholds_kept < HOLDS_KEPT)
		holds_kept[nholds_kept++] = ex->remote;
	else
		free(ex->remote);
	ex->remote = NULL;
}

/* A settlement of this loop turn, copied from the request (which goes before it is sent). */
struct settlement {
	size_t			n;
	char			rkey[BUDGET_HOLD_MAX][REDIS_KEY_MAX];	/* where it reserved */
	char			skey[BUDGET_HOLD_MAX][REDIS_KEY_MAX];	/* where it spent (now) */
	int64_t			sexpire[BUDGET_HOLD_MAX];
	int64_t			amount[BUDGET_HOLD_MAX], actual[BUDGET_HOLD_MAX];
};

/* A command being built: its arguments' text in one buffer, by offset (the buffer may move). */
struct cmd {
	struct buf	 text;
	size_t		*off, *len;
	const char	**argv;
	size_t		 argc, cap;
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
	char			 epoch[64];	/* the data set's, as last seen ("": not yet) */
	char			 sha_reclaim[48];
	char			 lessee[REDIS_KEY_MAX + 300];	/* this worker's lease hash */
	char			 lessees[300];	/* this host's list of them */
	char			 me[24];	/* this worker's entry there: its pid */
	struct lease		*bucket[LEASE_BUCKETS];
	struct lease		*leases;	/* all of them */
	uint64_t		 gen;		/* leases before a data set was lost are void */
	struct event		*tick;
	unsigned		 ticks;
	int64_t			 hosts;		/* in the fleet, heard of in the last minute */
	struct exchange		**answering;	/* admitted from leases this turn */
	size_t			 nanswering, capanswering;
	struct event		*flush;		/* the end of the loop turn: the batches go */
	int			 flush_due;
	struct exchange		**reserving;	/* this turn's reservations, in order */
	size_t			 nreserving, capreserving;
	struct settlement	*settling;	/* and settlements */
	size_t			 nsettling, capsettling;
} rl;

/*
 * on_setup()'s marks: an answer that only has to be no error, one of the
 * scripts' SHAs, or the data set's epoch (the last: the connection is ready).
 */
#define SETUP_STEP	((void *)0)
#define SETUP_RESERVE	((void *)1)
#define SETUP_SETTLE	((void *)2)
#define SETUP_EPOCH	((void *)3)
#define SETUP_RECLAIM	((void *)4)
#define EPOCH_KEY	"tollgate:epoch"

static void connect_now(void);
static void fleet_hosts(redisAsyncContext *ac);
static void on_flush(evutil_socket_t fd, short what, void *arg);
static void on_tick(evutil_socket_t fd, short what, void *arg);
static void flush_settlements(void);
static void flush_leases(int all);
static void leases_void(void);

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

struct seeding {
	redisAsyncContext	*ac;
	size_t			 n;
	int64_t			 now_ns;
};

/* One counter of this host's, added to Redis's new data set. */
static int
seed_one(void *arg, const struct budget_counter *c)
{
	struct seeding *sd = arg;
	struct budget_limit l;
	char key[REDIS_KEY_MAX], spent[24], at[24];
	int64_t expire;

	if (c->spent <= 0 || (c->has_window && c->window_end <= sd->now_ns))
		return 0;
	memset(&l, 0, sizeof(l));
	snprintf(l.id, sizeof(l.id), "%s", c->id);
	l.has_window = c->has_window;
	l.window = c->window;
	redis_counter_key(&l, c->window_start, key, sizeof(key), &expire);
	snprintf(spent, sizeof(spent), "%lld", (long long)c->spent);
	redisAsyncCommand(sd->ac, NULL, NULL, "HINCRBY %s s %s", key, spent);
	if (expire != 0) {
		snprintf(at, sizeof(at), "%lld", (long long)expire);
		redisAsyncCommand(sd->ac, NULL, NULL, "PEXPIREAT %s %s", key, at);
	}
	sd->n++;
	return 0;
}

/* The claim to re-seed the new data set for this host: the worker that won it does. */
static void
on_seed_claim(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *reply = r;
	struct seeding sd = { ac, 0, clock_now_ns() };
	struct budget_file *f;
	char path[1100], err[256];
	int64_t owner;

	(void)arg;
	if (reply == NULL || reply->type != REDIS_REPLY_STATUS)
		return;	/* another worker of this host has it */
	snprintf(path, sizeof(path), "%s/%s", heritage.run_dir, BUDGET_FILE);
	if (budget_file_open(path, &f, &owner, err, sizeof(err)) < 0) {
		log_error("worker %u: Redis lost its counters, and this host's cannot be read to "
		    "re-seed them: %s", heritage.index, err);
		return;
	}
	budget_file_each(f, seed_one, &sd);
	budget_file_close(f);
	log_warn("worker %u: Redis lost its counters (a new data set): re-seeded %zu of them from "
	    "this host's spend", heritage.index, sd.n);
}

/*
 * Redis's data set is not the one this worker knew (restarted empty, or
 * flushed): each host puts back what it spent in the current windows, once
 * (one worker of it, by a claim in Redis), from its own counters, which
 * count all of it.  Settlements waiting here are in those counters: dropped,
 * not sent twice.  Settlements sent by other workers meanwhile may count
 * twice, erring towards refusing.  Leases on the old data set are gone
 * with it: what their requests still hold is released nowhere.
 */
static void
lost(redisAsyncContext *ac, const char *epoch)
{
	size_t i, j;

	for (i = 0; i < rl.nunsent; i++) {
		for (j = 0; j < (size_t)rl.unsent[i].argc; j++)
			free(rl.unsent[i].argv[j]);
		free(rl.unsent[i].argv);
		free(rl.unsent[i].lens);
	}
	rl.nunsent = 0;
	rl.nsettling = 0;
	leases_void();
	redisAsyncCommand(ac, on_seed_claim, NULL, "SET tollgate:seeded:%s:%s 1 NX EX 172800", epoch,
	    config_host_id(&heritage.config->tollgate));
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
	    (reply->type != REDIS_REPLY_STRING || reply->len >= (int)sizeof(rl.epoch)))) {
		char why[256];

		snprintf(why, sizeof(why), "%s", reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "SCRIPT LOAD did not answer a SHA");
		redisAsyncDisconnect(ac);
		gone(why);
		return;
	}
	if (mark == SETUP_RESERVE)
		snprintf(rl.sha_reserve, sizeof(rl.sha_reserve), "%s", reply->str);
	if (mark == SETUP_SETTLE)
		snprintf(rl.sha_settle, sizeof(rl.sha_settle), "%s", reply->str);
	if (mark == SETUP_RECLAIM)
		snprintf(rl.sha_reclaim, sizeof(rl.sha_reclaim), "%s", reply->str);
	if (mark == SETUP_EPOCH) {
		if (rl.epoch[0] && strcmp(rl.epoch, reply->str) != 0)
			lost(ac, reply->str);
		snprintf(rl.epoch, sizeof(rl.epoch), "%s", reply->str);
		rl.ready = 1;
		rl.backoff_ms = BACKOFF_MIN_MS;
		if (rl.down[0])
			log_info("worker %u: Redis %s:%d reached", heritage.index, rl.addr.host,
			    rl.addr.port);
		rl.down[0] = '\0';
		send_unsent();
	}
}

static void on_recorded(redisAsyncContext *ac, void *r, void *arg);

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
	redisAsyncCommand(c, on_setup, SETUP_RECLAIM, "SCRIPT LOAD %s", redis_reclaim_script);
	/* listed, so that this host's other workers give back its leases if it is killed */
	redisAsyncCommand(c, on_setup, SETUP_STEP, "SADD %s %s", rl.lessees, rl.me);
	fleet_hosts(c);
	redisAsyncCommand(c, on_recorded, NULL, "HGETALL %s", rl.lessee);
	/* a data set's epoch: another one next time means Redis lost its counters */
	redisAsyncCommand(c, on_setup, SETUP_STEP, "SET " EPOCH_KEY " %lld-%d NX",
	    (long long)clock_now_ns(), (int)getpid());
	redisAsyncCommand(c, on_setup, SETUP_EPOCH, "GET " EPOCH_KEY);
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
	char why[128];

	if ((rl.ac = redis_connect(&rl.addr, on_connect, on_disconnect, why, sizeof(why))) == NULL)
		gone(why);
}

redisAsyncContext *
redis_connect(const struct redis_addr *a, redisConnectCallback *up, redisDisconnectCallback *down,
    char *why, size_t whylen)
{
	redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);

	if (ac == NULL || ac->err) {
		snprintf(why, whylen, "%s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		return NULL;
	}
	redisLibeventAttach(ac, worker.base);
	redisAsyncSetConnectCallback(ac, up);
	redisAsyncSetDisconnectCallback(ac, down);
	return ac;
}

static const struct timeval tick_every = { 0, TICK_MS * 1000 };

/* The lease hash of this host's worker process pid (budget_redis.h). */
static void
lessee_key(const char *pid, char *out, size_t outlen)
{
	snprintf(out, outlen, "tollgate:lease:%s:%s", config_host_id(&heritage.config->tollgate), pid);
}

int
redis_init(struct worker *w)
{
	char err[256];

	if (heritage.config->tollgate.redis_url == NULL)
		return 0;
	if (redis_url_parse(heritage.config->tollgate.redis_url, &rl.addr, err, sizeof(err)) < 0 ||
	    (rl.retry = evtimer_new(w->base, on_retry, NULL)) == NULL ||
	    (rl.flush = event_new(w->base, -1, 0, on_flush, NULL)) == NULL ||
	    (rl.tick = event_new(w->base, -1, EV_PERSIST, on_tick, NULL)) == NULL)
		return -1;
	snprintf(rl.lessees, sizeof(rl.lessees), "tollgate:lessees:%s", config_host_id(&heritage.config->tollgate));
	snprintf(rl.me, sizeof(rl.me), "%d", (int)getpid());
	lessee_key(rl.me, rl.lessee, sizeof(rl.lessee));
	evtimer_add(rl.tick, &tick_every);
	rl.backoff_ms = BACKOFF_MIN_MS;
	rl.hosts = 1;
	snprintf(rl.down, sizeof(rl.down), "not connected yet");
	connect_now();
	return 0;
}

void
redis_release(struct worker *w)
{
	int i;

	(void)w;
	if (rl.flush != NULL) {
		event_free(rl.flush);
		rl.flush = NULL;
	}
	if (rl.tick != NULL) {
		event_free(rl.tick);
		rl.tick = NULL;
	}
	/* everything leased goes back, and this worker leaves the host's list */
	if (rl.ready && rl.ac != NULL) {
		flush_leases(1);
		flush_settlements();
		if (rl.sha_reclaim[0])
			redisAsyncCommand(rl.ac, NULL, NULL, "EVALSHA %s 2 %s %s %s", rl.sha_reclaim,
			    rl.lessee, rl.lessees, rl.me);
	}
	/*
	 * The loop has stopped: the last settlements are written out here (up to
	 * a second), or their reservations would stay counted in Redis.
	 */
	for (i = 0; rl.ac != NULL && rl.ready && sdslen(rl.ac->c.obuf) > 0 && i < 100; i++) {
		struct pollfd p = { rl.ac->c.fd, POLLOUT, 0 };

		if (poll(&p, 1, 10) > 0)
			redisAsyncHandleWrite(rl.ac);
	}
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

int
redis_publish(const char *channel, const char *message)
{
	if (!rl.ready || rl.ac == NULL)
		return -1;
	return redisAsyncCommand(rl.ac, NULL, NULL, "PUBLISH %s %s", channel, message) == REDIS_OK ?
	    0 : -1;
}

/* ---- commands --------------------------------------------------------------- */

static int
cmd_add(struct cmd *c, const char *p, size_t n)
{
	if (c->argc == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		size_t *off = realloc(c->off, cap * sizeof(*off)), *len;
		const char **argv;

		if (off == NULL)
			return -1;
		c->off = off;
		if ((len = realloc(c->len, cap * sizeof(*len))) == NULL)
			return -1;
		c->len = len;
		if ((argv = realloc(c->argv, cap * sizeof(*argv))) == NULL)
			return -1;
		c->argv = argv;
		c->cap = cap;
	}
	c->off[c->argc] = c->text.len;
	c->len[c->argc++] = n;
	return buf_append(&c->text, p, n) | buf_append(&c->text, "", 1);
}

static int
cmd_str(struct cmd *c, const char *s)
{
	return cmd_add(c, s, strlen(s));
}

static int
cmd_int(struct cmd *c, long long v)
{
	char s[24];

	return cmd_add(c, s, (size_t)snprintf(s, sizeof(s), "%lld", v));
}

/* Puts n as argument i (the key count, known once the keys are in). */
static int
cmd_set_int(struct cmd *c, size_t i, size_t n)
{
	char s[24];
	int len = snprintf(s, sizeof(s), "%zu", n);

	c->off[i] = c->text.len;
	c->len[i] = (size_t)len;
	return buf_append(&c->text, s, (size_t)len + 1);
}

/* The arguments as hiredis takes them, once the text no longer moves. */
static const char **
cmd_argv(struct cmd *c)
{
	size_t i;

	for (i = 0; i < c->argc; i++)
		c->argv[i] = c->text.data + c->off[i];
	return c->argv;
}

static void
cmd_reset(struct cmd *c)
{
	c->text.len = 0;
	c->argc = 0;
}

/* ---- leases ------------------------------------------------------------------ */

static unsigned
key_bucket(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h % LEASE_BUCKETS;
}

static struct lease *
lease_find(const char *key)
{
	struct lease *l;

	for (l = rl.bucket[key_bucket(key)]; l != NULL; l = l->next)
		if (strcmp(l->key, key) == 0)
			return l;
	return NULL;
}

/* The lease on key, made when there is none (NULL: out of memory). */
static struct lease *
lease_get(const char *key, int64_t expire_ms, const struct budget_limit *limit)
{
	struct lease *l = lease_find(key);
	unsigned b;

	if (l != NULL || (l = calloc(1, sizeof(*l))) == NULL)
		return l;
	snprintf(l->key, sizeof(l->key), "%s", key);
	l->expire_ms = expire_ms;
	l->limit = *limit;
	l->want_n = LEASE_FIRST;
	b = key_bucket(key);
	l->next = rl.bucket[b];
	rl.bucket[b] = l;
	l->also = rl.leases;
	rl.leases = l;
	return l;
}

/* Unlinks *at (a place in rl.leases) and frees it. */
static void
lease_drop(struct lease **at)
{
	struct lease *l = *at, **in;

	for (in = &rl.bucket[key_bucket(l->key)]; *in != l; in = &(*in)->next)
		;
	*in = l->next;
	*at = l->also;
	free(l);
}

/* What a lease can still admit (below 0 when requests spent more than they held). */
static int64_t
lease_room(const struct lease *l)
{
	return l->granted - l->held - l->spent;
}

static int
window_ended(int64_t expire_ms, int64_t now_ns)
{
	return expire_ms != 0 && now_ns / 1000000 >= expire_ms - DAY_MS;
}

/* Redis lost its data set: every lease on it is gone, and the holds on them are void. */
static void
leases_void(void)
{
	struct lease *l;

	rl.gen++;
	for (l = rl.leases; l != NULL; l = l->also) {
		l->granted = l->held = l->spent = 0;
		l->asking = 0;
		l->want_n = LEASE_FIRST;
	}
}

/* The leases of one settlement call, by key (a lease may go before the answer comes). */
struct seen {
	size_t	n;
	char	key[][REDIS_KEY_MAX];
};

/* Redis's answer to a settlement: what the fleet has used of each counter, noted. */
static void
on_seen(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *reply = r;
	struct seen *seen = arg;
	struct budget_reading here;
	int64_t now = clock_now_ns();
	struct lease *l;
	size_t k;

	(void)ac;
	for (k = 0; reply != NULL && reply->type == REDIS_REPLY_ARRAY && k < seen->n &&
	    k < reply->elements; k++) {
		if ((l = lease_find(seen->key[k])) == NULL || reply->element[k]->type != REDIS_REPLY_STRING)
			continue;
		l->seen_used = strtoll(reply->element[k]->str, NULL, 10);	/* past int64: held there */
		l->seen_local = heritage.budgets != NULL && heritage.budgets->ops->read(heritage.budgets,
		    l->limit.id, now, &here) == 0 ? here.spent : 0;
		l->seen_ns = now;
	}
	free(seen);
}

/* A counter's change in a lease settlement: give back off the reservation, spent added. */
struct lease_change {
	struct lease	*lease;		/* flush_leases()'s, or NULL */
	const char	*key;
	int64_t		 give, spent, expire_ms;
};

/*
 * The settle script's call for ch[0..n): one settlement of n counters, each
 * reserved where it is spent (its key twice), what is given back coming off
 * this worker's lease hash too.  0, or -1 (out of memory).
 */
static int
lease_settlement(struct cmd *c, const struct lease_change *ch, size_t n)
{
	size_t k;
	int rc = 0;

	cmd_reset(c);
	rc |= cmd_str(c, "EVALSHA") | cmd_str(c, rl.sha_settle) | cmd_int(c, 0) |
	    cmd_str(c, rl.lessee);
	for (k = 0; k < 2 * n; k++)
		rc |= cmd_str(c, ch[k % n].key);
	rc |= cmd_int(c, 1) | cmd_int(c, (long long)n);
	for (k = 0; k < n; k++)
		rc |= cmd_int(c, -(long long)ch[k].give) | cmd_int(c, (long long)ch[k].spent) |
		    cmd_int(c, (long long)ch[k].expire_ms) | cmd_str(c, "1");
	if (rc == 0)
		rc |= cmd_set_int(c, 2, 2 * n + 1);
	return rc ? -1 : 0;
}

/*
 * Each lease's settlement since the last tick, in one call: what its
 * requests spent is added to the counter's spend and taken off the lease's
 * reservation (as much of it as the requests in flight leave); once the
 * lease is unused or its window over, all it does not hold goes back (all:
 * everything, at exit).  Every second each lease with a limit is in the
 * call, to read back what the fleet has used of its counter.  A lease with
 * nothing left goes (one with a limit ten minutes later).  Kept for the
 * next tick when Redis is away.
 */
static void
flush_leases(int all)
{
	static struct cmd c;
	static struct lease_change *going;
	static size_t cap;
	struct lease **at, *l;
	struct seen *seen = NULL;
	int64_t now = clock_now_ns();
	size_t n = 0, k;

	if (!rl.ready || rl.ac == NULL)
		return;
	for (at = &rl.leases; (l = *at) != NULL; ) {
		int ended = window_ended(l->expire_ms, now), idle = now - l->used_ns > LEASE_IDLE_NS || ended;
		int64_t free = l->granted - l->held > 0 ? l->granted - l->held : 0;
		int64_t give = all ? l->granted : idle ? free : l->spent < free ? l->spent : free;
		int limited = l->limit.max != BUDGET_NONE;

		if (give == 0 && l->spent == 0 && (!limited || ended || rl.ticks % SEEN_TICKS != 0)) {
			/* one with a limit is kept a while, for its share should Redis go */
			if (idle && l->granted == 0 && l->held == 0 && !l->asking &&
			    (!limited || ended || now - l->used_ns > SEEN_KEPT_NS))
				lease_drop(at);
			else
				at = &l->also;
			continue;
		}
		if (ARRAY_GROW(going, n, cap) < 0)
			break;	/* out of memory: the rest wait for the next tick */
		going[n++] = (struct lease_change){ l, l->key, give, l->spent, l->expire_ms };
		at = &l->also;
	}
	if (n == 0)
		return;
	if (lease_settlement(&c, going, n) < 0 ||
	    (seen = malloc(sizeof(*seen) + n * sizeof(seen->key[0]))) == NULL ||
	    redisAsyncCommandArgv(rl.ac, on_seen, seen, (int)c.argc, cmd_argv(&c), c.len) != REDIS_OK) {
		free(seen);
		log_error("worker %u: out of memory: the settlement of %zu leases waits for the next "
		    "tick", heritage.index, n);
		return;
	}
	seen->n = n;
	for (k = 0; k < n; k++) {
		l = going[k].lease;
		memcpy(seen->key[k], l->key, sizeof(seen->key[k]));
		if (now - l->used_ns > LEASE_IDLE_NS)
			l->want_n = LEASE_FIRST;
		l->granted -= going[k].give;
		l->spent = 0;
	}
}

/* The host's workers listed in Redis: those gone give back what they held. */
static void
on_lessees(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *reply = r;
	char key[sizeof(rl.lessee)];
	size_t i;

	(void)arg;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || !rl.sha_reclaim[0])
		return;
	for (i = 0; i < reply->elements; i++) {
		redisReply *e = reply->element[i];
		long pid;
		char *end;

		if (e->type != REDIS_REPLY_STRING || strcmp(e->str, rl.me) == 0)
			continue;
		pid = strtol(e->str, &end, 10);
		if (*end != '\0' || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;	/* alive, or not a pid of ours */
		lessee_key(e->str, key, sizeof(key));
		redisAsyncCommand(ac, NULL, NULL, "EVALSHA %s 2 %s %s %s", rl.sha_reclaim, key,
		    rl.lessees, e->str);
		log_info("worker %u: the leases of worker process %ld, gone, given back to Redis",
		    heritage.index, pid);
	}
}

/*
 * What Redis has of this worker's leases, on a new connection (before any
 * command of this worker's can change it): a reservation whose answer was
 * lost with the last connection is in there and not here, and goes back.
 * A data set that was lost has none.
 */
static void
on_recorded(redisAsyncContext *ac, void *r, void *arg)
{
	static struct cmd c;
	redisReply *reply = r;
	struct lease_change extra[256];
	size_t i, n = 0;

	(void)arg;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || !rl.sha_settle[0])
		return;
	for (i = 0; i + 1 < reply->elements && n < sizeof(extra) / sizeof(extra[0]); i += 2) {
		const char *key = reply->element[i]->str, *v = reply->element[i + 1]->str;
		struct lease *l;
		int64_t there;

		if (reply->element[i]->type != REDIS_REPLY_STRING || v == NULL)
			continue;
		there = strtoll(v, NULL, 10);
		l = lease_find(key);
		if (l != NULL && there < l->granted)
			l->granted = there;	/* given back already: what it holds is what Redis has */
		if (there <= (l != NULL ? l->granted : 0))
			continue;
		extra[n++] = (struct lease_change){ NULL, key, there - (l != NULL ? l->granted : 0), 0, 0 };
	}
	if (n > 0 && lease_settlement(&c, extra, n) == 0 &&
	    redisAsyncCommandArgv(ac, NULL, NULL, (int)c.argc, cmd_argv(&c), c.len) == REDIS_OK)
		log_warn("worker %u: Redis held %zu reservations of this worker's that it did not know "
		    "of (their answers were lost with the connection): given back", heritage.index, n);
}

/* How many hosts the fleet has (heard of in the last minute), for on_failure: open's share. */
static void
on_hosts(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *reply = r;

	(void)ac, (void)arg;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
		rl.hosts = reply->integer;
}

static void
fleet_hosts(redisAsyncContext *ac)
{
	long long now_ms = clock_now_ns() / 1000000;

	redisAsyncCommand(ac, NULL, NULL, "ZADD " HOSTS_KEY " %lld %s", now_ms, config_host_id(&heritage.config->tollgate));
	redisAsyncCommand(ac, NULL, NULL, "ZREMRANGEBYSCORE " HOSTS_KEY " -inf %lld", now_ms - DAY_MS);
	redisAsyncCommand(ac, on_hosts, NULL, "ZCOUNT " HOSTS_KEY " %lld +inf", now_ms - 60000LL);
}

/*
 * Redis is away (on_failure: open): each limit of limits[from, to) is cut
 * to this host's share of what was left of it when Redis last said, 1/N of
 * it for N hosts, on top of what this host had spent then; a counter this
 * worker has not seen through Redis in the last ten minutes, to 1/N of the
 * limit (on this host's spend in the window).
 */
void
redis_open_share(struct budget_limit *limits, size_t from, size_t to)
{
	int64_t now = clock_now_ns(), n = rl.hosts > 0 ? rl.hosts : 1, expire, left, share;
	char key[REDIS_KEY_MAX];
	struct lease *l;
	size_t i;

	for (i = from; i < to; i++) {
		if (limits[i].max == BUDGET_NONE)
			continue;
		redis_counter_key(&limits[i], now, key, sizeof(key), &expire);
		if ((l = lease_find(key)) == NULL || l->seen_ns == 0) {
			limits[i].max /= n;
			continue;
		}
		left = limits[i].max - l->seen_used;
		share = (left > 0 ? left : 0) / n;
		if (l->seen_local < limits[i].max - share)
			limits[i].max = l->seen_local + share;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	rl.ticks++;
	flush_leases(0);
	flush_settlements();	/* kept for the connection's return when it is away */
	if (rl.ready && rl.ac != NULL && rl.ticks % RECLAIM_TICKS == 1) {
		redisAsyncCommand(rl.ac, on_lessees, NULL, "SMEMBERS %s", rl.lessees);
		fleet_hosts(rl.ac);
	}
}

/* ---- reservations ------------------------------------------------------------ */

/* The batches go at the end of this loop turn. */
static void
due(void)
{
	if (!rl.flush_due) {
		rl.flush_due = 1;
		event_active(rl.flush, EV_TIMEOUT, 0);
	}
}

/* A counter's name for a refusal's message, cut to fit (snprintf cost more than the rest here). */
static void
copy_name(char out[64], const char *name)
{
	size_t n = name != NULL ? strnlen(name, 63) : 0;

	memcpy(out, name != NULL ? name : "", n);
	out[n] = '\0';
}

/*
 * From this worker's leases, when they cover the common counters and the
 * first deployment's (the one round-robin gives this request): held here at
 * once, answered at the end of the loop turn.  0, or -1: Redis is asked.
 */
static int
admit_here(struct exchange *ex, struct remote_hold *h)
{
	size_t k, upto = h->ncommon + (h->ngroups > 0 ? h->sizes[0] : 0);
	int64_t now = h->reserved_ns;
	struct lease *l;

	for (k = 0; k < upto; k++)
		if (h->cand[k].max != BUDGET_NONE && ((l = lease_find(h->ckey[k])) == NULL ||
		    lease_room(l) < h->cand_amount[k]))
			return -1;
	if (ARRAY_GROW(rl.answering, rl.nanswering, rl.capanswering) < 0)
		return -1;
	for (k = 0; k < upto; k++)
		if (h->cand[k].max != BUDGET_NONE) {
			l = lease_find(h->ckey[k]);
			l->held += h->cand_amount[k];
			l->used_ns = now;
		}
	h->here = 1;
	h->gen = rl.gen;
	rl.answering[rl.nanswering++] = ex;
	due();
	return 0;
}

/* The top-up candidate k asks for with its reservation, unless its lease has one coming. */
static void
ask_lease(struct remote_hold *h, size_t k)
{
	int64_t amount = h->cand_amount[k];
	struct lease *l;

	h->cand_want[k] = 0;
	h->cand_asked[k] = 0;
	if (h->cand[k].max == BUDGET_NONE || amount <= 0 ||
	    (l = lease_get(h->ckey[k], h->cexpire[k], &h->cand[k])) == NULL || l->asking ||
	    amount > INT64_MAX / REDIS_LEASE_SHARE / l->want_n)
		return;
	h->cand_want[k] = amount * l->want_n;
	h->cand_asked[k] = 1;
	l->asking = 1;
}

int
redis_reserve(struct exchange *ex, const struct budget_limit *limits,
    const struct limitset_entry *what, const int64_t *amount, size_t ncommon, const size_t *sizes,
    size_t ngroups)
{
	struct remote_hold *h;
	size_t n = ncommon, i;

	for (i = 0; i < ngroups && i < GROUPS_MAX && n + sizes[i] <= CANDIDATES; i++)
		n += sizes[i];
	ngroups = i;	/* deployments past the bounds are not tried */
	if (!rl.ready || rl.ac == NULL) {
		snprintf(ex->fail_why, sizeof(ex->fail_why), "budgets and limits are shared through "
		    "Redis, which cannot be reached (%.200s)", rl.down);
		return -1;
	}
	if (((h = ex->remote) == NULL && (h = ex->remote = hold_take()) == NULL) ||
	    ARRAY_GROW(rl.reserving, rl.nreserving, rl.capreserving) < 0) {
		snprintf(ex->fail_why, sizeof(ex->fail_why), "out of memory");
		return -1;
	}
	h->n = 0;
	h->remembered = 0;
	h->here = 0;
	h->reserved_ns = clock_now_ns();
	h->ncand = n;
	h->ncommon = ncommon;
	h->ngroups = ngroups;
	memcpy(h->sizes, sizes, ngroups * sizeof(*sizes));
	for (i = 0; i < n; i++) {
		h->cand[i] = limits[i];
		h->cand_amount[i] = amount[i];
		h->cand_what[i] = what[i];
		copy_name(h->cand_name[i], what[i].name);
		h->cand_what[i].name = h->cand_name[i];
		h->cand_grant[i] = 0;
		redis_counter_key(&limits[i], h->reserved_ns, h->ckey[i], sizeof(h->ckey[i]),
		    &h->cexpire[i]);
	}
	ex->admitting = 1;
	if (admit_here(ex, h) == 0)
		return 0;
	for (i = 0; i < n; i++)
		ask_lease(h, i);
	/* sent with the others of this loop turn, in one call (flush_reservations()) */
	rl.reserving[rl.nreserving++] = ex;
	due();
	return 0;
}

/* The requests one reservation call answers for, in order. */
struct asked {
	size_t			 n;
	struct exchange		*ex[];
};

/* Its answer came (or its connection went): the leases it asked for may ask again. */
static void
took(struct remote_hold *h)
{
	struct lease *l;
	size_t k;

	for (k = 0; k < h->ncand; k++)
		if (h->cand_asked[k] && (l = lease_find(h->ckey[k])) != NULL)
			l->asking = 0;
}

/* What Redis reserved for each counter it took ({0, group, used, then those}). */
static void
granted(struct remote_hold *h, size_t group, const redisReply *e)
{
	size_t j, k, from = h->ncommon;

	for (k = 0; k < group && k < h->ngroups; k++)
		from += h->sizes[k];
	for (j = 0; j + 3 < e->elements; j++) {
		const redisReply *g = e->element[j + 3];

		k = j < h->ncommon ? j : from + (j - h->ncommon);
		if (k < h->ncand)
			h->cand_grant[k] = g->type == REDIS_REPLY_STRING ? strtoll(g->str, NULL, 10) :
			    g->type == REDIS_REPLY_INTEGER ? g->integer : 0;
	}
}

static void
on_reserved(redisAsyncContext *ac, void *r, void *arg)
{
	struct asked *q = arg;
	redisReply *reply = r, *e;
	size_t i;

	(void)ac;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) ==
	    0 && rl.ac != NULL) {
		/* its scripts were flushed (SCRIPT FLUSH): loaded again for the requests after these */
		redisAsyncCommand(rl.ac, on_setup, SETUP_RESERVE, "SCRIPT LOAD %s",
		    redis_reserve_script);
		redisAsyncCommand(rl.ac, on_setup, SETUP_STEP, "SCRIPT LOAD %s", redis_settle_script);
	}
	for (i = 0; i < q->n; i++) {
		struct exchange *ex = q->ex[i];

		if (ex->magic != EXCHANGE_MAGIC)
			continue;
		took(ex->remote);
		e = reply != NULL && reply->type == REDIS_REPLY_ARRAY && i < reply->elements ?
		    reply->element[i] : NULL;
		if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER) {
			snprintf(ex->fail_why, sizeof(ex->fail_why), "budgets are shared through Redis, "
			    "which %.200s", reply == NULL ? "went away" : reply->type ==
			    REDIS_REPLY_ERROR ? reply->str : "answered what tollgate did not ask");
			admit_answered(ex, -1, 0, "0", 0);
			continue;
		}
		if (e->element[0]->integer == 0 && e->element[1]->type == REDIS_REPLY_INTEGER)
			granted(ex->remote, (size_t)e->element[1]->integer, e);
		admit_answered(ex, (int)e->element[0]->integer,
		    e->element[1]->type == REDIS_REPLY_INTEGER ? (size_t)e->element[1]->integer : 0,
		    e->element[2]->type == REDIS_REPLY_STRING ? e->element[2]->str : "0",
		    e->element[1]->type == REDIS_REPLY_INTEGER ? (size_t)e->element[1]->integer : 0);
	}
	free(q);
}

/* This turn's reservations: one EVALSHA for all of them. */
static void
flush_reservations(void)
{
	static struct cmd c;
	struct asked *q;
	size_t i, k, nkeys = 0, keys_at;
	int rc = 0;

	if (rl.nreserving == 0)
		return;
	q = malloc(sizeof(*q) + rl.nreserving * sizeof(q->ex[0]));
	cmd_reset(&c);
	rc |= q == NULL;
	rc |= cmd_str(&c, "EVALSHA") | cmd_str(&c, rl.sha_reserve);
	keys_at = c.argc;
	rc |= cmd_int(&c, 0);	/* the number of keys, put in below */
	rc |= cmd_str(&c, rl.lessee);
	nkeys++;
	for (i = 0; i < rl.nreserving; i++) {
		struct remote_hold *h = rl.reserving[i]->remote;

		for (k = 0; k < h->ncand; k++, nkeys++)
			rc |= cmd_str(&c, h->ckey[k]);
	}
	rc |= cmd_int(&c, (long long)rl.nreserving);
	for (i = 0; i < rl.nreserving; i++) {
		struct remote_hold *h = rl.reserving[i]->remote;

		rc |= cmd_int(&c, (long long)h->ncand) | cmd_int(&c, (long long)h->ncommon) |
		    cmd_int(&c, (long long)h->ngroups);
		for (k = 0; k < h->ngroups; k++)
			rc |= cmd_int(&c, (long long)h->sizes[k]);
		for (k = 0; k < h->ncand; k++) {
			rc |= cmd_int(&c, (long long)h->cand_amount[k]);
			rc |= cmd_int(&c, h->cand[k].max == BUDGET_NONE ? -1LL : (long long)h->cand[k].max);
			rc |= cmd_int(&c, (long long)h->cexpire[k]);
			rc |= cmd_int(&c, (long long)h->cand_want[k]);
			rc |= cmd_int(&c, (long long)(h->cand_want[k] * REDIS_LEASE_SHARE));
		}
	}
	if (rc == 0)
		rc |= cmd_set_int(&c, keys_at, nkeys);
	if (rc == 0) {
		q->n = rl.nreserving;
		memcpy(q->ex, rl.reserving, q->n * sizeof(q->ex[0]));
		if (rl.ready && rl.ac != NULL && redisAsyncCommandArgv(rl.ac, on_reserved, q,
		    (int)c.argc, cmd_argv(&c), c.len) == REDIS_OK) {
			rl.nreserving = 0;
			return;
		}
	}
	free(q);
	for (i = 0; i < rl.nreserving; i++) {
		struct exchange *ex = rl.reserving[i];

		took(ex->remote);
		snprintf(ex->fail_why, sizeof(ex->fail_why), "budgets and limits are shared through "
		    "Redis, which cannot be reached (%.200s)", rc ? "out of memory" : rl.down);
		admit_answered(ex, -1, 0, "0", 0);
	}
	rl.nreserving = 0;
}

static void lease_taken(struct remote_hold *h);

void
redis_chosen(struct exchange *ex, size_t group)
{
	struct remote_hold *h = ex->remote;
	size_t i, from;

	h->n = 0;
	for (i = 0; i < h->ncommon && h->n < BUDGET_HOLD_MAX; i++, h->n++) {
		h->limits[h->n] = h->cand[i];
		h->cand_of[h->n] = i;
		h->amount[h->n] = h->cand_amount[i];
		ex->hold_kind[h->n] = (uint8_t)h->cand_what[i].kind;
	}
	for (i = 0, from = h->ncommon; i < group && i < h->ngroups; i++)
		from += h->sizes[i];
	for (i = 0; group < h->ngroups && i < h->sizes[group] && h->n < BUDGET_HOLD_MAX;
	    i++, h->n++) {
		h->limits[h->n] = h->cand[from + i];
		h->cand_of[h->n] = from + i;
		h->amount[h->n] = h->cand_amount[from + i];
		ex->hold_kind[h->n] = (uint8_t)h->cand_what[from + i].kind;
	}
	if (!h->here)
		lease_taken(h);
}

/*
 * Redis reserved h's counters, each with what its lease asked on top: the
 * leases hold the request and have the rest to admit from.  A lease topped
 * up again within a second of the last asks for twice as much next time.
 */
static void
lease_taken(struct remote_hold *h)
{
	int64_t now = clock_now_ns();
	struct lease *l;
	size_t i, k;

	h->gen = rl.gen;
	for (i = 0; i < h->n; i++) {
		k = h->cand_of[i];
		if (h->limits[i].max == BUDGET_NONE)
			continue;
		if ((l = lease_get(h->ckey[k], h->cexpire[k], &h->cand[k])) == NULL) {
			log_error("worker %u: out of memory: a reservation in Redis is not released "
			    "until its window ends", heritage.index);
			h->limits[i].max = BUDGET_NONE;	/* settled as spend only */
			continue;
		}
		/* what Redis reserved for it is never less than its amount */
		l->granted += h->cand_grant[k] > h->amount[i] ? h->cand_grant[k] : h->amount[i];
		l->held += h->amount[i];
		l->used_ns = now;
		if (h->cand_grant[k] > h->amount[i]) {
			if (now - l->topup_ns < LEASE_IDLE_NS && l->want_n < LEASE_MOST)
				l->want_n *= 2;
			l->topup_ns = now;
		}
	}
}

void
redis_remember(struct exchange *ex, const struct budget_limit *limits, size_t n)
{
	struct remote_hold *h;
	size_t i;

	if ((h = ex->remote) == NULL && (h = ex->remote = hold_take()) == NULL)
		return;	/* out of memory: Redis will not know of this one's spend */
	h->remembered = 1;
	h->ncand = 0;
	h->reserved_ns = clock_now_ns();
	for (i = 0; i < n && i < BUDGET_HOLD_MAX; i++) {
		h->limits[i] = limits[i];
		h->amount[i] = 0;	/* nothing was reserved in Redis */
	}
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

/*
 * Held counter i of h settles with "actual": its lease frees what it held
 * (unless the lease has gone with a lost data set since), and the spend
 * goes to the lease on the window holding now, its own unless that ended.
 */
static void
lease_settle(struct remote_hold *h, size_t i, int64_t actual, int64_t now)
{
	size_t k = h->cand_of[i];
	struct lease *l = NULL, *to;
	char key[REDIS_KEY_MAX];
	int64_t expire;

	if (h->limits[i].max != BUDGET_NONE && h->gen == rl.gen &&
	    (l = lease_find(h->ckey[k])) != NULL) {
		l->held -= h->amount[i];
	}
	if (!window_ended(h->cexpire[k], now))
		to = l != NULL ? l : lease_get(h->ckey[k], h->cexpire[k], &h->limits[i]);
	else {
		redis_counter_key(&h->limits[i], now, key, sizeof(key), &expire);
		to = lease_get(key, expire, &h->limits[i]);
	}
	if (to != NULL)
		to->spent += actual;
	else
		log_error("worker %u: out of memory: a settlement is lost to Redis's counters",
		    heritage.index);
}

/*
 * A settlement for this turn's call: n counters of limits, amount[i]
 * reserved at reserved_ns given back and actual[i] spent, in the window
 * holding now (the reservation's unless it has ended since).
 */
static void
settle_later(const struct budget_limit *limits, const int64_t *amount, const int64_t *actual,
    size_t n, int64_t reserved_ns, int64_t now)
{
	struct settlement *t;
	size_t i;

	if (ARRAY_GROW(rl.settling, rl.nsettling, rl.capsettling) < 0) {
		log_error("worker %u: out of memory: a settlement is lost to Redis's counters",
		    heritage.index);
		return;
	}
	t = &rl.settling[rl.nsettling++];
	t->n = n < BUDGET_HOLD_MAX ? n : BUDGET_HOLD_MAX;
	for (i = 0; i < t->n; i++) {
		int64_t expire;

		redis_counter_key(&limits[i], reserved_ns, t->rkey[i], sizeof(t->rkey[i]), &expire);
		if (!window_ended(expire, now)) {
			memcpy(t->skey[i], t->rkey[i], sizeof(t->skey[i]));
			t->sexpire[i] = expire;
		} else
			redis_counter_key(&limits[i], now, t->skey[i], sizeof(t->skey[i]),
			    &t->sexpire[i]);
		t->amount[i] = amount[i];
		t->actual[i] = actual[i];
	}
}

void
redis_settle(struct exchange *ex, const int64_t *actual)
{
	struct remote_hold *h = ex->remote;
	int64_t now = clock_now_ns();
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
	if (!h->remembered) {
		for (i = 0; i < h->n; i++)
			lease_settle(h, i, actual[i], now);
		h->n = 0;
		return;
	}
	settle_later(h->limits, h->amount, actual, h->n, h->reserved_ns, now);
	h->n = 0;
}

void
redis_count(const struct budget_limit *limits, const int64_t *actual, size_t n)
{
	static const int64_t none[BUDGET_HOLD_MAX];
	char key[REDIS_KEY_MAX];
	int64_t now = clock_now_ns(), expire;
	struct lease *l;
	size_t i;

	for (i = 0; i < n; i++) {
		/* with the lease's spend, a tenth of a second later */
		redis_counter_key(&limits[i], now, key, sizeof(key), &expire);
		if ((l = lease_get(key, expire, &limits[i])) != NULL)
			l->spent += actual[i];
		else
			settle_later(&limits[i], none, &actual[i], 1, now, now);
	}
}

int64_t
redis_fleet_used(const struct budget_limit *limit)
{
	struct budget_reading here;
	char key[REDIS_KEY_MAX];
	int64_t now = clock_now_ns(), expire, since = 0;
	struct lease *l;

	redis_counter_key(limit, now, key, sizeof(key), &expire);
	/* a lease, even holding nothing, has its counter read back every second */
	if ((l = lease_get(key, expire, limit)) == NULL)
		return -1;
	l->used_ns = now;	/* kept, and read back, while retries look at it */
	if (l->seen_ns == 0)
		return -1;
	/* and what this host spent of it since Redis said */
	if (heritage.budgets != NULL && heritage.budgets->ops->read(heritage.budgets, limit->id, now,
	    &here) == 0 && here.spent > l->seen_local)
		since = here.spent - l->seen_local;
	return l->seen_used + since;
}

/* This turn's settlements: one call for all (kept whole when Redis is away). */
static void
flush_settlements(void)
{
	static struct cmd c;
	size_t i, k, nkeys = 0, keys_at;
	int rc = 0, ready = rl.ready && rl.ac != NULL;

	if (rl.nsettling == 0)
		return;
	cmd_reset(&c);
	/* one kept for a later connection is sent whole: that Redis may not have the script */
	rc |= cmd_str(&c, ready ? "EVALSHA" : "EVAL");
	rc |= cmd_str(&c, ready ? rl.sha_settle : redis_settle_script);
	keys_at = c.argc;
	rc |= cmd_int(&c, 0);
	rc |= cmd_str(&c, rl.lessee);
	nkeys++;
	for (i = 0; i < rl.nsettling; i++) {
		const struct settlement *t = &rl.settling[i];

		for (k = 0; k < t->n; k++, nkeys++)
			rc |= cmd_str(&c, t->rkey[k]);
		for (k = 0; k < t->n; k++, nkeys++)
			rc |= cmd_str(&c, t->skey[k]);
	}
	rc |= cmd_int(&c, (long long)rl.nsettling);
	for (i = 0; i < rl.nsettling; i++) {
		const struct settlement *t = &rl.settling[i];

		rc |= cmd_int(&c, (long long)t->n);
		for (k = 0; k < t->n; k++)
			rc |= cmd_int(&c, -(long long)t->amount[k]) | cmd_int(&c, (long long)t->actual[k]) |
			    cmd_int(&c, (long long)t->sexpire[k]) | cmd_str(&c, "0");
	}
	if (rc == 0)
		rc |= cmd_set_int(&c, keys_at, nkeys);
	if (rc != 0)
		log_error("worker %u: out of memory: %zu settlements lost to Redis's counters",
		    heritage.index, rl.nsettling);
	else if (!ready || redisAsyncCommandArgv(rl.ac, NULL, NULL, (int)c.argc, cmd_argv(&c),
	    c.len) != REDIS_OK)
		keep((int)c.argc, cmd_argv(&c), c.len);
	rl.nsettling = 0;
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct exchange **list = rl.answering;
	size_t i, n = rl.nanswering, cap = rl.capanswering;

	(void)fd, (void)what, (void)arg;
	rl.flush_due = 0;
	flush_reservations();
	/* admitted from leases: each goes on; any admitted meanwhile go in a list of their own */
	rl.answering = NULL;
	rl.nanswering = rl.capanswering = 0;
	for (i = 0; i < n; i++)
		if (list[i]->magic == EXCHANGE_MAGIC)
			admit_answered(list[i], 0, 0, "0", 0);
	if (rl.answering == NULL) {
		rl.answering = list;	/* kept for the next turn */
		rl.capanswering = cap;
	} else
		free(list);
}
