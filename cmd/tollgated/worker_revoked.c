/*
 * Revocations through Redis (tollgate.redis with the key store shared in
 * PostgreSQL): a key deleted on one host is refused by every worker of
 * every host as soon as Redis passes the word on, without waiting for the
 * fleet's key store to bring the change (a second or more, and not at all
 * while PostgreSQL is away).  A worker that revokes publishes the key's hash
 * on "tollgate:revoked"; each worker listens on a connection of its own
 * (one in subscriber mode can send nothing else) and keeps the hashes it
 * heard of for its life, so that authentication refuses them whatever the
 * local copy of the key store still says.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "budget_redis.h"
#include "keys.h"
#include "log.h"
#include "tollgated.h"
#include "worker.h"

#define CHANNEL		"tollgate:revoked"
#define HEARD_SLOTS	8192	/* hashes kept; past 3/4 full, the oldest word is forgotten */
#define RETRY_MS	1000

static struct {
	struct redis_addr	 addr;
	redisAsyncContext	*ac;
	struct event		*retry;
	unsigned char		 (*heard)[KEYS_HASH_LEN];	/* open addressing; all zero: empty */
	size_t			 nheard;
} rv;

static void listen_now(void);

static size_t
slot_of(const unsigned char hash[KEYS_HASH_LEN])
{
	size_t s;

	memcpy(&s, hash, sizeof(s));	/* a SHA-256: its first bytes are as good as any hash */
	return s % HEARD_SLOTS;
}

static int
empty(const unsigned char *h)
{
	static const unsigned char zero[KEYS_HASH_LEN];

	return memcmp(h, zero, KEYS_HASH_LEN) == 0;
}

int
revoked_heard(const unsigned char hash[KEYS_HASH_LEN])
{
	size_t s, i;

	if (rv.heard == NULL)
		return 0;
	for (s = slot_of(hash), i = 0; i < HEARD_SLOTS && !empty(rv.heard[s]); i++,
	    s = (s + 1) % HEARD_SLOTS)
		if (memcmp(rv.heard[s], hash, KEYS_HASH_LEN) == 0)
			return 1;
	return 0;
}

static void
hear(const unsigned char hash[KEYS_HASH_LEN])
{
	size_t s;

	if (revoked_heard(hash) || empty(hash))
		return;
	if (rv.nheard >= HEARD_SLOTS / 4 * 3) {
		/* full: start again (the key store has long since brought those revocations) */
		memset(rv.heard, 0, HEARD_SLOTS * sizeof(*rv.heard));
		rv.nheard = 0;
	}
	for (s = slot_of(hash); !empty(rv.heard[s]); s = (s + 1) % HEARD_SLOTS)
		;
	memcpy(rv.heard[s], hash, KEYS_HASH_LEN);
	rv.nheard++;
}

static int
unhex(const char *hex, size_t len, unsigned char out[KEYS_HASH_LEN])
{
	size_t i;

	if (len != KEYS_HEX_LEN)
		return -1;
	for (i = 0; i < KEYS_HASH_LEN; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];

		hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Each message on the channel ({"message", channel, hash}); the first answer confirms the subscription. */
static void
on_message(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *reply = r;
	unsigned char hash[KEYS_HASH_LEN];

	(void)ac, (void)arg;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "message") != 0 ||
	    reply->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (unhex(reply->element[2]->str, (size_t)reply->element[2]->len, hash) == 0)
		hear(hash);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	listen_now();
}

static void
again(void)
{
	struct timeval tv = { RETRY_MS / 1000, RETRY_MS % 1000 * 1000 };

	rv.ac = NULL;
	if (!worker.draining && rv.retry != NULL)
		evtimer_add(rv.retry, &tv);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	redisAsyncContext *c = (redisAsyncContext *)ac;

	if (status != REDIS_OK) {
		again();	/* worker_redis.c says why Redis cannot be reached */
		return;
	}
	if (rv.addr.password[0] && rv.addr.user[0])
		redisAsyncCommand(c, NULL, NULL, "AUTH %s %s", rv.addr.user, rv.addr.password);
	else if (rv.addr.password[0])
		redisAsyncCommand(c, NULL, NULL, "AUTH %s", rv.addr.password);
	redisAsyncCommand(c, on_message, NULL, "SUBSCRIBE " CHANNEL);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac == rv.ac)
		again();
}

static void
listen_now(void)
{
	char why[128];

	if ((rv.ac = redis_connect(&rv.addr, on_connect, on_disconnect, why, sizeof(why))) == NULL)
		again();
}

int
revoked_init(struct worker *w)
{
	char err[256];

	if (heritage.config->tollgate.redis_url == NULL)
		return 0;
	if (redis_url_parse(heritage.config->tollgate.redis_url, &rv.addr, err, sizeof(err)) < 0 ||
	    (rv.heard = calloc(HEARD_SLOTS, sizeof(*rv.heard))) == NULL ||
	    (rv.retry = evtimer_new(w->base, on_retry, NULL)) == NULL)
		return -1;
	listen_now();
	return 0;
}

void
revoked_release(struct worker *w)
{
	(void)w;
	if (rv.ac != NULL) {
		redisAsyncContext *ac = rv.ac;

		rv.ac = NULL;
		redisAsyncDisconnect(ac);
	}
	if (rv.retry != NULL)
		event_free(rv.retry);
	rv.retry = NULL;
	free(rv.heard);
	rv.heard = NULL;
}

void
revoked_tell(const unsigned char hash[KEYS_HASH_LEN])
{
	char hex[KEYS_HEX_LEN + 1];

	if (heritage.config->tollgate.redis_url == NULL)
		return;
	keys_hash_hex(hash, hex);
	hear(hash);
	if (redis_publish(CHANNEL, hex) < 0)
		log_warn("worker %u: Redis cannot be reached: the revocation of key %.16s reaches the "
		    "other hosts through the key store only", heritage.index, hex);
}
