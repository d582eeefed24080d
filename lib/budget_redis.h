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
 * Leases.  A worker reserves more than a request needs where a counter has
 * room, and admits its next requests from that lease without asking Redis;
 * what they spend is settled into Redis in batches (a tenth of a second
 * apart), and what a lease no longer needs goes back.  Every lease is also
 * counted in the worker's own hash, "tollgate:lease:<host>:<pid>" (field:
 * counter key, value: what it holds), listed in "tollgate:lessees:<host>",
 * so that what a worker killed outright held can be given back (RECLAIM).
 */
#define REDIS_LEASE_SHARE	16	/* a lease is at most 1/16 of the room left */

/*
 * RESERVE, the requests of one loop turn in one call.  KEYS[1]: the
 * worker's lease hash; then each request's counters in turn, common ones
 * first, then each deployment's in the order to try them.  ARGV[1]: how
 * many requests; then per request: its number of keys, of common counters,
 * of deployment groups, each group's size, then per key its amount, its
 * limit ("-1": none), its expiry (ms, "0": none), the lease wanted on top
 * ("0": none) and the room that must be left for it (16 times it).
 * Per request, reserves the common counters and the first group with room,
 * all or none, and answers {0, group, spent+reserved of its first key
 * after it, then what each key it took reserved: amount and lease}, {1,
 * key, used} (a common limit would be passed), or {2, 0, 0} (every group
 * would): an array of those, in order.
 */
extern const char redis_reserve_script[];
/*
 * SETTLE, several settlements in one call.  KEYS[1]: the worker's lease
 * hash; then per settlement its n reservation keys, then its n spend keys
 * (the window now).  ARGV[1]: how many; then per settlement its n, then
 * per counter the amount released from the reservation, negated ("-123",
 * or "0"), the amount spent, the spend key's expiry, and "1" when the
 * release comes off the worker's lease hash too ("0": a reservation of its
 * own).  Answers each spend key's spent+reserved after it, in order: what
 * the fleet has used of each counter, for on_failure: open's share.
 */
extern const char redis_settle_script[];
/* RECLAIM: KEYS[1] a gone worker's lease hash, KEYS[2] its host's list, ARGV[1] its entry there. */
extern const char redis_reclaim_script[];

#endif
