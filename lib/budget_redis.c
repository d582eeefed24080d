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

void
redis_counter_key(const struct budget_limit *l, int64_t now_ns, char *out, size_t outlen,
    int64_t *expire_ms)
{
	int64_t start = 0, end = 0;

	if (l->has_window)
		window_bounds(&l->window, now_ns, &start, &end);
	snprintf(out, outlen, "tollgate:c:%s:%lld", l->id, (long long)(start / 1000000));
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
 */
const char redis_reserve_script[] =
	LUA_DECIMALS
	"local out, ki, ai = {}, 1, 2\n"
	"for q = 1, tonumber(ARGV[1]) do\n"
	"  local nkeys, ncommon, ngroups = tonumber(ARGV[ai]), tonumber(ARGV[ai + 1]), "
	"tonumber(ARGV[ai + 2])\n"
	"  local at = ai + 3 + ngroups\n"
	"  local function key(k) return KEYS[ki + k - 1] end\n"
	"  local function arg(k, f) return ARGV[at + (k - 1) * 3 + f] end\n"
	"  local function room(k)\n"
	"    local max = arg(k, 1)\n"
	"    if max == '-1' then return true, '0' end\n"
	"    local h = redis.call('HMGET', key(k), 's', 'r')\n"
	"    local used = add(num(h[1]), num(h[2]))\n"
	"    return not gt(add(used, arg(k, 0)), max), used\n"
	"  end\n"
	"  local function take(k)\n"
	"    redis.call('HINCRBY', key(k), 'r', arg(k, 0))\n"
	"    if arg(k, 2) ~= '0' then redis.call('PEXPIREAT', key(k), arg(k, 2)) end\n"
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
	"    for k = 1, ncommon do take(k) end\n"
	"    if chosen >= 0 then\n"
	"      for k = first, first + tonumber(ARGV[ai + 3 + chosen]) - 1 do take(k) end\n"
	"    end\n"
	"    local h = ncommon > 0 and redis.call('HMGET', key(1), 's', 'r') or {false, false}\n"
	"    r = {0, chosen < 0 and 0 or chosen, add(num(h[1]), num(h[2]))}\n"
	"  end\n"
	"  out[q] = r\n"
	"  ki, ai = ki + nkeys, at + nkeys * 3\n"
	"end\n"
	"return out\n";

const char redis_settle_script[] =
	"local ki, ai = 1, 2\n"
	"for q = 1, tonumber(ARGV[1]) do\n"
	"  local n = tonumber(ARGV[ai])\n"
	"  ai = ai + 1\n"
	"  for i = 1, n do\n"
	"    local b = ai + (i - 1) * 3\n"
	"    if redis.call('HINCRBY', KEYS[ki + i - 1], 'r', ARGV[b]) < 0 then\n"
	"      redis.call('HSET', KEYS[ki + i - 1], 'r', 0)\n"
	"    end\n"
	"    redis.call('HINCRBY', KEYS[ki + n + i - 1], 's', ARGV[b + 1])\n"
	"    if ARGV[b + 2] ~= '0' then redis.call('PEXPIREAT', KEYS[ki + n + i - 1], ARGV[b + 2]) end\n"
	"  end\n"
	"  ki, ai = ki + 2 * n, ai + 3 * n\n"
	"end\n"
	"return 1\n";
