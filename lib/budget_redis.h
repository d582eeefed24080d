/*
 * Budgets and rate limits shared through Redis, by every host of a fleet:
 * what the workers send (cmd/tollgated/worker_redis.c) and how they read it.
 * Each counter of a window is one Redis hash, "tollgate:c:<id>:<window
 * start, unix ms>" (no window: "...:0"), fields "s" (spent, settled) and "r"
 * (reserved by requests in flight), exact integers in tollgate's units
 * (picodollars, requests, tokens) changed only by HINCRBY, and compared in
 * the scripts as decimal text, never as Lua's floating-point numbers.  A
 * key expires a day after its window ends, so calendar resets need no
 * sweeper.  Reserving every counter of a request, all or none, and settling
 * them are each one server-side script, atomic in Redis.
 */
#ifndef TOLLGATE_BUDGET_REDIS_H
#define TOLLGATE_BUDGET_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "budget.h"

#define REDIS_KEY_MAX	(BUDGET_ID_MAX + 48)

struct redis_addr {
	char	host[256];
	int	port;
	char	password[256];	/* "" : none */
	char	user[64];	/* ACL user, or "" */
	int	db;
};

/*
 * Reads redis://[[user]:password@]host[:port][/db].  0, or -1 with why
 * (rediss://: this build's hiredis has no TLS).
 */
int redis_url_parse(const char *url, struct redis_addr *a, char *err, size_t errlen);

/* The key of limit l's counter in the window holding now_ns, and when it may expire (ms; 0: never). */
void redis_counter_key(const struct budget_limit *l, int64_t now_ns, char *out, size_t outlen,
    int64_t *expire_ms);

/*
 * RESERVE, the requests of one loop turn in one call.  ARGV[1]: how many;
 * then per request: its number of keys, of common counters, of deployment
 * groups, each group's size, then per key its amount, its limit ("-1":
 * none) and its expiry (ms, "0": none); KEYS: each request's counters in
 * turn, common ones first, then each deployment's in the order to try
 * them.  Per request, reserves the common counters and the first group
 * with room, all or none, and answers {0, group, spent+reserved of its
 * first key after it}, {1, key, used} (a common limit would be passed), or
 * {2, 0, 0} (every group would): an array of those, in order.
 */
extern const char redis_reserve_script[];
/*
 * SETTLE, several settlements in one call.  ARGV[1]: how many; then per
 * settlement its n, then per counter the amount reserved, negated ("-123",
 * or "0"), the amount spent, and the spend key's expiry; KEYS: per
 * settlement its n reservation keys, then its n spend keys (the window
 * now).  Releases each reservation and adds what was spent.
 */
extern const char redis_settle_script[];

#endif
