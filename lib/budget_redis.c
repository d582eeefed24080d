/*
 * Budgets and rate limits in Redis (budget_redis.h): addresses, counter
 * keys, and the two scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "budget_redis.h"

int
redis_url_parse(const char *url, struct redis_addr *a, char *err, size_t errlen)
{
	const char *p, *at, *slash, *colon;
	char *end;
	size_t n;

	memset(a, 0, sizeof(*a));
	a->port = 6379;
	if (strncasecmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "'%.64s...': rediss:// (TLS) is not supported by this build "
		    "(Debian 12's hiredis 0.14 has no TLS); use redis:// through a tunnel", url);
		return -1;
	}
	if (strncasecmp(url, "redis://", 8) != 0) {
		snprintf(err, errlen, "not a redis:// URL");
		return -1;
	}
	p = url + 8;
	slash = strchr(p, '/');
	at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		n = (size_t)((colon ? colon : at) - p);
		if (n >= sizeof(a->user) || (colon && (size_t)(at - colon - 1) >= sizeof(a->password)))
			goto bad;
		memcpy(a->user, p, n);
		if (colon)
			memcpy(a->password, colon + 1, (size_t)(at - colon - 1));
		p = at + 1;
	}
	n = strcspn(p, ":/");
	if (n == 0 || n >= sizeof(a->host))
		goto bad;
	memcpy(a->host, p, n);
	p += n;
	if (*p == ':') {
		long port = strtol(p + 1, &end, 10);

		if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
			goto bad;
		a->port = (int)port;
		p = end;
	}
	if (*p == '/' && p[1] != '\0') {
		long db = strtol(p + 1, &end, 10);

		if (end == p + 1 || *end || db < 0 || db > 1000000)
			goto bad;
		a->db = (int)db;
	}
	return 0;
bad:
	/* the URL may hold a password: not repeated */
	snprintf(err, errlen, "not a redis://[[user]:password@]host[:port][/db] URL");
	return -1;
}

/*
 * The windows a process has lately asked about, with their bounds: a
 * request names a handful of counters, each on one of a few windows, and
 * working a calendar window out anew (gmtime) for each was most of the cost
 * of naming them.
 */
#define WINDOWS_KEPT	8

static void
bounds(const struct window *w, int64_t now_ns, int64_t *start, int64_t *end)
{
	static struct { struct window w; int64_t start, end; } kept[WINDOWS_KEPT];
	static unsigned next;
	unsigned i;

	for (i = 0; i < WINDOWS_KEPT; i++)
		if (kept[i].w.unit == w->unit && kept[i].w.n == w->n && now_ns >= kept[i].start &&
		    now_ns < kept[i].end) {
			*start = kept[i].start;
			*end = kept[i].end;
			return;
		}
	window_bounds(w, now_ns, start, end);
	i = next++ % WINDOWS_KEPT;
	kept[i].w = *w;
	kept[i].start = *start;
	kept[i].end = *end;
}

void
redis_counter_key(const struct budget_limit *l, int64_t now_ns, char *out, size_t outlen,
    int64_t *expire_ms)
{
	static const char prefix[] = "tollgate:c:";
	int64_t start = 0, end = 0, ms;
	char digits[24];
	size_t n = 0, id = strnlen(l->id, sizeof(l->id)), d = 0;

	if (l->has_window)
		bounds(&l->window, now_ns, &start, &end);
	/* "tollgate:c:<id>:<start, ms>", without printf's cost */
	for (ms = start / 1000000; ms > 0 || d == 0; ms /= 10)
		digits[d++] = (char)('0' + ms % 10);
	if (sizeof(prefix) - 1 + id + 1 + d >= outlen)
		id = outlen - (sizeof(prefix) - 1) - 1 - d - 1;	/* cut, as snprintf would */
	memcpy(out, prefix, sizeof(prefix) - 1);
	n = sizeof(prefix) - 1;
	memcpy(out + n, l->id, id);
	n += id;
	out[n++] = ':';
	while (d > 0)
		out[n++] = digits[--d];
	out[n] = '\0';
	/* kept a day past its window, for a request in flight across the reset */
	*expire_ms = l->has_window ? end / 1000000 + 86400000LL : 0;
}

/*
 * Decimal text arithmetic: Lua's numbers are doubles, exact only to 2^53,
 * and a budget in picodollars passes that at $9,007.  Counters are
 * non-negative integers as Redis prints them; a reservation released into
 * a Redis that lost it (restarted empty) is held at 0, never below.
 */
#define LUA_DECIMALS \
	"local function add(a, b)\n" \
	"  local r, c, i, j = {}, 0, #a, #b\n" \
	"  while i > 0 or j > 0 or c > 0 do\n" \
	"    local d = c + (i > 0 and a:byte(i) - 48 or 0) + (j > 0 and b:byte(j) - 48 or 0)\n" \
	"    r[#r + 1] = string.char(48 + d % 10)\n" \
	"    c = (d - d % 10) / 10\n" \
	"    i, j = i - 1, j - 1\n" \
	"  end\n" \
	"  local s = string.reverse(table.concat(r)):gsub('^0+', '')\n" \
	"  return s == '' and '0' or s\n" \
	"end\n" \
	"local function gt(a, b)\n" \
	"  if #a ~= #b then return #a > #b end\n" \
	"  return a > b\n" \
	"end\n" \
	"local function num(v)\n" \
	"  if not v or string.sub(tostring(v), 1, 1) == '-' then return '0' end\n" \
	"  local s = tostring(v):gsub('^0+', '')\n" \
	"  return s == '' and '0' or s\n" \
	"end\n"

/*
 * Every request of one worker's loop turn in one call: the requests in
 * order, each with its offsets into KEYS and ARGV (see budget_redis.h).
 * A counter with a limit is reserved with the worker's lease on it: the
 * request's amount, and "want" more when that leaves at least "wantk" (16
 * times it) of room, so that a lease never takes more than a sixteenth of
 * what is left and the last of a budget is reserved request by request.
 */
const char redis_reserve_script[] =
	LUA_DECIMALS
	"local out, ki, ai = {}, 2, 2\n"
	"for q = 1, tonumber(ARGV[1]) do\n"
	"  local nkeys, ncommon, ngroups = tonumber(ARGV[ai]), tonumber(ARGV[ai + 1]), "
	"tonumber(ARGV[ai + 2])\n"
	"  local at = ai + 3 + ngroups\n"
	"  local function key(k) return KEYS[ki + k - 1] end\n"
	"  local function arg(k, f) return ARGV[at + (k - 1) * 5 + f] end\n"
	"  local function room(k)\n"
	"    local max = arg(k, 1)\n"
	"    if max == '-1' then return true, '0' end\n"
	"    local h = redis.call('HMGET', key(k), 's', 'r')\n"
	"    local used = add(num(h[1]), num(h[2]))\n"
	"    return not gt(add(used, arg(k, 0)), max), used\n"
	"  end\n"
	"  local function take(k)\n"
	"    if arg(k, 1) == '-1' then return '0' end\n"
	"    local g = arg(k, 0)\n"
	"    if arg(k, 3) ~= '0' then\n"
	"      local _, used = room(k)\n"
	"      if not gt(add(add(used, g), arg(k, 4)), arg(k, 1)) then g = add(g, arg(k, 3)) end\n"
	"    end\n"
	"    redis.call('HINCRBY', key(k), 'r', g)\n"
	"    if arg(k, 2) ~= '0' then redis.call('PEXPIREAT', key(k), arg(k, 2)) end\n"
	"    redis.call('HINCRBY', KEYS[1], key(k), g)\n"
	"    redis.call('PEXPIRE', KEYS[1], 172800000)\n"
	"    return g\n"
	"  end\n"
	"  local r = nil\n"
	"  for k = 1, ncommon do\n"
	"    local ok, used = room(k)\n"
	"    if not ok then r = {1, k - 1, used} break end\n"
	"  end\n"
	"  local first, chosen = ncommon + 1, -1\n"
	"  if not r then\n"
	"    for g = 1, ngroups do\n"
	"      local size, fits = tonumber(ARGV[ai + 2 + g]), true\n"
	"      for k = first, first + size - 1 do\n"
	"        if not room(k) then fits = false break end\n"
	"      end\n"
	"      if fits then chosen = g - 1 break end\n"
	"      first = first + size\n"
	"    end\n"
	"    if ngroups > 0 and chosen < 0 then r = {2, 0, '0'} end\n"
	"  end\n"
	"  if not r then\n"
	"    local granted = {}\n"
	"    for k = 1, ncommon do granted[#granted + 1] = take(k) end\n"
	"    if chosen >= 0 then\n"
	"      for k = first, first + tonumber(ARGV[ai + 3 + chosen]) - 1 do\n"
	"        granted[#granted + 1] = take(k)\n"
	"      end\n"
	"    end\n"
	"    local h = ncommon > 0 and redis.call('HMGET', key(1), 's', 'r') or {false, false}\n"
	"    r = {0, chosen < 0 and 0 or chosen, add(num(h[1]), num(h[2]))}\n"
	"    for i = 1, #granted do r[3 + i] = granted[i] end\n"
	"  end\n"
	"  out[q] = r\n"
	"  ki, ai = ki + nkeys, at + nkeys * 5\n"
	"end\n"
	"return out\n";

const char redis_settle_script[] =
	LUA_DECIMALS
	"local ki, ai, seen = 2, 2, {}\n"
	"for q = 1, tonumber(ARGV[1]) do\n"
	"  local n = tonumber(ARGV[ai])\n"
	"  ai = ai + 1\n"
	"  for i = 1, n do\n"
	"    local b, rk, sk = ai + (i - 1) * 4, KEYS[ki + i - 1], KEYS[ki + n + i - 1]\n"
	"    if ARGV[b] ~= '0' then\n"
	"      if redis.call('HINCRBY', rk, 'r', ARGV[b]) < 0 then redis.call('HSET', rk, 'r', 0) end\n"
	"      if ARGV[b + 3] == '1' and redis.call('HINCRBY', KEYS[1], rk, ARGV[b]) <= 0 then\n"
	"        redis.call('HDEL', KEYS[1], rk)\n"
	"      end\n"
	"    end\n"
	"    if ARGV[b + 1] ~= '0' then\n"
	"      redis.call('HINCRBY', sk, 's', ARGV[b + 1])\n"
	"      if ARGV[b + 2] ~= '0' then redis.call('PEXPIREAT', sk, ARGV[b + 2]) end\n"
	"    end\n"
	"    local h = redis.call('HMGET', sk, 's', 'r')\n"
	"    seen[#seen + 1] = add(num(h[1]), num(h[2]))\n"
	"  end\n"
	"  ki, ai = ki + 2 * n, ai + 4 * n\n"
	"end\n"
	"return seen\n";

/*
 * What a worker that is gone held: each counter its lease was on gives
 * back what the lease still reserved, and the lease and its entry in the
 * host's list go.  Run on a lessee only once its process is known gone.
 */
const char redis_reclaim_script[] =
	"local h = redis.call('HGETALL', KEYS[1])\n"
	"for i = 1, #h, 2 do\n"
	"  if h[i + 1] ~= '0' and string.sub(h[i + 1], 1, 1) ~= '-' then\n"
	"    if redis.call('HINCRBY', h[i], 'r', '-' .. h[i + 1]) < 0 then\n"
	"      redis.call('HSET', h[i], 'r', 0)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('SREM', KEYS[2], ARGV[1])\n"
	"return #h / 2\n";
