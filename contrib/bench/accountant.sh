#!/bin/sh
# make bench: does the accountant keep up?  tollgated with two workers (the
# gateway's processes on CPU 0, the mock and wrk on CPU 1) under BENCH_LOAD_SECONDS
# (default 60) of wrk at c=64; tollgate_ledger_lag_records (records committed that
# the aggregates do not count yet) is read from /metrics every quarter second
# during the load and after it.  The lag in seconds is the lag in records over
# the records committed per second; the catch-up is the time from the load's
# end to a lag of 0.  Then the aggregate rebuild of 10,000,000 records
# (BENCH_RECORDS) in the keyed mix (ledgergen: keys with their own user, team,
# customer, models and tag): the accountant's follow at size.  And the tail
# latency the accountant's catching up may add: p99 at c=1 for BENCH_TAIL_SECONDS
# (default 10) on a quiet gateway, then right after a burst of as long at c=64,
# each less the mock's own p99 at c=1.
# Appends to contrib/bench/RESULTS.md.  Usage: accountant.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
load=${BENCH_LOAD_SECONDS:-60}
n=${BENCH_RECORDS:-10000000}
. "$root/contrib/bench/common.sh"
bench_init
bench_config 2
lag() {
	curl -fs -H "Authorization: Bearer sk-bench-master" "http://127.0.0.1:$gport/metrics" |
	    awk '$1 == "tollgate_ledger_lag_records" { print $2; found = 1 } END { if (!found) print -1 }'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
tail_s=${BENCH_TAIL_SECONDS:-10}
p99() {	# p99 URL: µs at c=1
	taskset -c 1 wrk -t1 -c1 -d${tail_s}s --latency -s "$root/contrib/bench/chat.lua" "$1" | awk '
	    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; return v * 1000000 }
	    $1 == "99%" { printf "%d", us($2) }'
}
start_gw
direct=$(p99 "http://127.0.0.1:$mport/v1/chat/completions")
p99 "http://127.0.0.1:$gport/v1/chat/completions" >/dev/null	# warm: the first run pays for start-up
quiet=$(p99 "http://127.0.0.1:$gport/v1/chat/completions")
taskset -c 1 wrk -t1 -c64 -d${tail_s}s -s "$root/contrib/bench/chat.lua" \
    "http://127.0.0.1:$gport/v1/chat/completions" >/dev/null
burst=$(p99 "http://127.0.0.1:$gport/v1/chat/completions")
stop_gw
start_gw
taskset -c 1 wrk -t1 -c64 -d${load}s -s "$root/contrib/bench/chat.lua" \
    "http://127.0.0.1:$gport/v1/chat/completions" >"$tmp/wrk.out" &
wrkpid=$!
max=0
while kill -0 $wrkpid 2>/dev/null; do
	l=$(lag)
	[ "$l" -gt "$max" ] && max=$l
	sleep 0.25
done
wait $wrkpid || true
ended=$(now_ms)
caught=
for i in $(seq 400); do
	if [ "$(lag)" -eq 0 ]; then caught=$(($(now_ms) - ended)); break; fi
	sleep 0.025
done
stop_gw
rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
errors=$(awk '/Non-2xx|Socket errors/ {print}' "$tmp/wrk.out")
lag_s=$(echo "$max $rps" | awk '{printf "%.3f", $1 / $2}')

rm -rf "$tmp/big"
"$build/ledgergen" "$tmp/big" "$n" 30 keyed
t0=$(date +%s%N); "$build/tollctl" aggregate --rebuild --ledger "$tmp/big" >/dev/null; t1=$(date +%s%N)
follow=$(echo "$n $t0 $t1" | awk '{printf "%.0f", $1 / (($3 - $2) / 1e9)}')
rm -rf "$tmp/big"
table=$(cat <<EOT
| figure | value | target |
|---|---|---|
| requests/s through 2 workers, c=64, ${load} s | $rps | |
| highest lag during the load | $max records = ${lag_s} s of records | < 1 s |
| lag back to 0 after the load stopped | ${caught:-not within 10 s} ms | < 1000 ms |
| aggregate rebuild, $n records, keyed mix | $follow records/s | >= 500,000 |
| p99 at c=1 added over the mock's ($direct µs), quiet | $((quiet - direct)) µs | |
| the same right after ${tail_s} s at c=64 | $((burst - direct)) µs | <= 1.3x quiet: $(echo "$quiet $burst $direct" | awk '{ printf "%.2fx", ($2 - $3) / ($1 - $3) }') |
EOT
)
[ -z "$errors" ] || table="$table

wrk: $errors"
echo "$table"
{
	echo
	echo "## Accountant under load ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "tollgated's processes on CPU 0, the mock and wrk on CPU 1; the rebuild's time includes the process start and the reset."
	echo
	echo "$table"
} >>"$root/contrib/bench/RESULTS.md"
