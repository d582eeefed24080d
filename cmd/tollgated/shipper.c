/*
 * The shipper process, run when tollgate.postgres.dsn (or LiteLLM's
 * general_settings.database_url) is set: it follows the ledger's journal
 * and writes every record to the fleet ledger in PostgreSQL (lib/pgship.h),
 * in batches, each idempotent by request id, its position in the journal
 * committed in LMDB only after PostgreSQL committed the batch.  A crash, a
 * restart, a PostgreSQL outage or failover therefore loses nothing (the
 * records wait in the local ledger, which retention keeps until they are
 * shipped) and duplicates nothing (a batch sent again finds its rows).  A
 * process of its own because libpq blocks: nothing else waits for it, and
 * no request ever does.  It says in the status file whether PostgreSQL is
 * reachable and how far behind it is (/health/readiness, tollctl status).
 *
 * It keeps the fleet's virtual keys too: every second, the keys made or
 * changed here go to tollgate_keys, and those changed on other hosts come
 * into this host's key store (each key's latest change wins), so that a key
 * made on one host works on every host and a revocation reaches them all
 * within about a second; the workers read the local store as ever.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "pgship.h"
#include "status.h"
#include "tollgated.h"

#define SHIPPER_BATCH		1000	/* records a transaction */
#define SHIPPER_IDLE_MS		200	/* the pause when there is nothing to ship */
#define SHIPPER_BACKOFF_MAX_S	30	/* between attempts to reach PostgreSQL */

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Sleeps ms, cut short by a signal (then stopping says whether to go). */
static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct batch {
	struct record	*recs;
	size_t		 n;
};

/* ---- the fleet's keys ------------------------------------------------------------ */

struct key_sync {
	struct pgship	*pg;
	struct keys	*keys;
	const char	*host;
	int64_t		 pushed_ns;	/* local keys changed after this go out */
	int64_t		 newest_ns;	/* the newest pushed in this round */
	int64_t		 change;	/* the fleet's changes up to this one are in */
	int		 failed;
	char		 err[512];
};

static int
push_one(void *arg, const unsigned char *hash, const void *value, size_t len, int64_t updated_ns)
{
	struct key_sync *k = arg;

	if (pgship_key_put(k->pg, k->host, hash, KEYS_HASH_LEN, value, len, updated_ns, k->err,
	    sizeof(k->err)) < 0) {
		k->failed = 1;
		return 1;
	}
	if (updated_ns > k->newest_ns)
		k->newest_ns = updated_ns;
	return 0;
}

static int
pull_one(void *arg, const unsigned char *hash, size_t hashlen, const void *value, size_t len)
{
	struct key_sync *k = arg;
	char err[256];

	if (hashlen != KEYS_HASH_LEN)
		return 0;	/* not a key tollgate wrote: passed over */
	if (keys_put_stored(k->keys, hash, value, len, err, sizeof(err)) < 0)
		log_warn("shipper: a key of the fleet is not kept here: %s", err);
	return 0;
}

/* One round of the key sync: 0, or -1 (PostgreSQL failed: the connection is made again). */
static int
sync_keys(struct key_sync *k)
{
	char err[512];

	k->failed = 0;
	k->newest_ns = k->pushed_ns;
	if (keys_each_stored(k->keys, k->pushed_ns, push_one, k, err, sizeof(err)) < 0) {
		log_error("shipper: %s", err);
		return 0;	/* the ledger's trouble, not PostgreSQL's */
	}
	if (k->failed) {
		log_error("shipper: %s", k->err);
		return -1;
	}
	k->pushed_ns = k->newest_ns;
	if (pgship_keys_after(k->pg, &k->change, pull_one, k, err, sizeof(err)) < 0) {
		log_error("shipper: %s", err);
		return -1;
	}
	return 0;
}

static int
take(void *arg, const struct record *r, uint64_t seq)
{
	struct batch *b = arg;

	(void)seq;
	if (b->n == SHIPPER_BATCH)
		return 1;	/* full: the rest is the next batch's */
	b->recs[b->n++] = *r;
	return 0;
}

int
shipper_main(void)
{
	const struct config_tollgate *tg = &heritage.config->tollgate;
	struct status_slot *st = &heritage.status->slot[heritage.slot % STATUS_SLOTS];
	struct batch b = { calloc(SHIPPER_BATCH, sizeof(struct record)), 0 };
	struct pgship *pg = NULL;
	struct ledger *l = NULL;
	struct key_sync ks = { 0 };
	int64_t synced_ns = 0;
	char err[1024], said[1024] = "", host[256];
	uint64_t last, behind = 0, shipped = 0;
	int backoff = 1;
	size_t added;

	log_set_prefix("shipper");
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGHUP, SIG_IGN);
	snprintf(host, sizeof(host), "%s", config_host_id(tg));
	if (b.recs == NULL || ledger_open(heritage.ledger_dir, LEDGER_WRITE,
	    (size_t)tg->ledger_map_size, (uint32_t)getpid(), &l, err, sizeof(err)) < 0) {
		log_error("shipper: %s", b.recs ? err : "out of memory");
		free(b.recs);
		return 1;
	}
	if (keys_open(l, &ks.keys, err, sizeof(err)) < 0)
		log_error("shipper: %s (virtual keys are not shared with the fleet)", err);
	ks.host = host;
	status_set_down(st, 1);
	while (!stopping) {
		if (pg == NULL) {
			if (pgship_open(tg->postgres_dsn, &pg, err, sizeof(err)) < 0) {
				if (strcmp(err, said) != 0)	/* said once, not every attempt */
					log_error("shipper: %s (records stay in the local ledger; "
					    "retrying every %d s at most)", err, SHIPPER_BACKOFF_MAX_S);
				snprintf(said, sizeof(said), "%s", err);
				status_set_down(st, 1);
				pause_ms(backoff * 1000L);
				backoff = backoff * 2 > SHIPPER_BACKOFF_MAX_S ? SHIPPER_BACKOFF_MAX_S :
				    backoff * 2;
				continue;
			}
			log_info("shipper: connected to PostgreSQL, shipping records as host '%s'",
			    host);
			said[0] = '\0';
			backoff = 1;
			status_set_down(st, 0);
		}
		b.n = 0;
		if (ledger_follow(l, SHIPPER_FOLLOWER, SHIPPER_BATCH, take, &b, &last, &behind) < 0) {
			log_error("shipper: cannot read the ledger's journal");
			pause_ms(1000);
			continue;
		}
		status_set_lag(st, behind, clock_now_ns());
		if (ks.keys != NULL && clock_now_ns() - synced_ns >= 1000000000LL) {
			ks.pg = pg;
			synced_ns = clock_now_ns();
			if (sync_keys(&ks) < 0) {
				pgship_close(pg);
				pg = NULL;
				status_set_down(st, 1);
				continue;
			}
		}
		if (b.n > 0 && pgship_send(pg, host, b.recs, b.n, &added, err, sizeof(err)) < 0) {
			log_error("shipper: %s (the batch is sent again)", err);
			pgship_close(pg);
			pg = NULL;
			status_set_down(st, 1);
			continue;
		}
		/* PostgreSQL has them: the position moves (a crash before this sends them again) */
		if (ledger_follow_commit(l, SHIPPER_FOLLOWER, last) < 0)
			log_error("shipper: cannot store its position in the ledger");
		shipped += b.n;
		if (b.n < SHIPPER_BATCH && behind == 0)
			pause_ms(SHIPPER_IDLE_MS);
	}
	log_info("shipper: stopping (%llu records shipped)", (unsigned long long)shipped);
	pgship_close(pg);
	keys_close(ks.keys);
	ledger_close(l);
	free(b.recs);
	return 0;
}
