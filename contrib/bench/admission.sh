#!/bin/sh
# make bench, fourth entry: what admission with budgets costs.  wrk at c=64
# against tollgated (1 worker on CPU 0; mock and wrk on CPU 1), alternating
# two configurations for ROUNDS rounds each, and the medians compared:
#   plain:   a key of tollgate.keys, no budgets (admission counts the key's
#            spend only, one counter);
#   budgets: a virtual key (read from the key store on every request) with a
#            max_budget, rpm and tpm limits, under a team budget and a global
#            budget: five counters reserved and settled per request;
#   redis:   the same budgets and limits shared through Redis (a private
#            redis-server on CPU 1, when installed): one script per request.
# For each, also the latency at c=1 (p50, p99).
# Appends to contrib/bench/RESULTS.md.  Usage: admission.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
. "$root/contrib/bench/common.sh"
bench_init
config() { bench_config 1 "$1"; }	# config EXTRA_TOLLGATE_YAML
rport=$((gport + 2)); redispid=
if command -v redis-server >/dev/null 2>&1; then
	taskset -c 1 redis-server --port $rport --bind 127.0.0.1 --save "" --appendonly no \
	    >/dev/null 2>&1 &
	redispid=$!
	trap 'kill $mockpid $gwpid $redispid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
	for i in $(seq 50); do redis-cli -p $rport ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
lat() {	# lat KEY: p50 and p99 in µs at c=1
	KEY=$1 taskset -c 1 wrk -t1 -c1 -d${dur}s --latency -s "$root/contrib/bench/chat.lua" \
	    "http://127.0.0.1:$gport/v1/chat/completions" | awk '
	    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; return v * 1000000 }
	    $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) } END { printf "%d %d", p50, p99 }'
}
rps() {	# rps KEY
	KEY=$1 taskset -c 1 wrk -t1 -c64 -d${dur}s -s "$root/contrib/bench/chat.lua" \
	    "http://127.0.0.1:$gport/v1/chat/completions" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "errors " $0 > "/dev/stderr"}'
}
budgets='  budgets:
    - {scope: team, name: bench, max_budget: 1000000, budget_duration: 1mo}
    - {scope: global, max_budget: 1000000, budget_duration: 1d}'
plain=; limited=; shared=; llat=; slat=
newkey() {
	curl -fs -H "Authorization: Bearer sk-bench-master" -H "Content-Type: application/json" \
	    -d '{"team_id": "bench", "max_budget": 1000000, "rpm_limit": 100000000, "tpm_limit": 100000000000}' \
	    "http://127.0.0.1:$gport/key/generate" | sed 's/.*"key": *"\(sk-[^"]*\)".*/\1/'
}
for r in $(seq "$rounds"); do
	config ""
	start_gw
	plain="$plain $(rps sk-bench)"
	stop_gw
	config "$budgets"
	start_gw
	key=$(newkey)
	limited="$limited $(rps "$key")"
	llat="$llat|$(lat "$key")"
	stop_gw
	if [ -n "$redispid" ]; then
		config "$budgets
  redis: {url: \"redis://127.0.0.1:$rport\"}"
		start_gw
		key=$(newkey)
		shared="$shared $(rps "$key")"
		slat="$slat|$(lat "$key")"
		stop_gw
	fi
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mp=$(median $plain); ml=$(median $limited)
diff=$(echo "$mp $ml" | awk '{printf "%.1f", ($1 - $2) * 100 / $1}')
pct() { echo "$1" | tr '|' '\n' | grep . | awk -v f=$2 '{print $f}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
table=$(cat <<EOT
| configuration (1 worker, c=64, ${dur}s rounds) | requests/s per round | median |
|---|---|---|
| tollgate.keys key, no budgets |$plain | $mp |
| virtual key, key + team + global budgets, rpm + tpm |$limited | $ml |
| difference (target < 5%) | | $diff% |
EOT
)
if [ -n "$redispid" ]; then
	ms=$(median $shared)
	table="$table
| the same budgets shared through Redis |$shared | $ms |
| Redis against this host's counters (target < 10% fewer) | | $(echo "$ml $ms" | awk '{printf "%.1f", ($1 - $2) * 100 / $1}')% fewer |

| latency at c=1 (µs, median of rounds) | p50 | p99 |
|---|---|---|
| budgets on this host's counters | $(pct "$llat" 1) | $(pct "$llat" 2) |
| budgets shared through Redis | $(pct "$slat" 1) | $(pct "$slat" 2) |
| added by Redis | $(( $(pct "$slat" 1) - $(pct "$llat" 1) )) | $(( $(pct "$slat" 2) - $(pct "$llat" 2) )) |"
fi
echo "$table"
{
	echo
	echo "## Admission with budgets ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "Rounds alternate the two configurations; proxy on CPU 0, mock and wrk on CPU 1."
	echo
	echo "$table"
} >>"$root/contrib/bench/RESULTS.md"
