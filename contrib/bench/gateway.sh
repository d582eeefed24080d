#!/bin/sh
# make bench, second entry: the gateway side by side with a plain reverse proxy
# and another gateway, all against contrib/mockprovider on loopback:
#   direct     the mock itself (the floor)
#   nginx      nginx proxy_pass, 1 worker, keep-alive upstreams (when nginx is installed)
#   tollgated  1 worker: metering, ledger, a virtual key with budgets, a team and a
#              global budget
#   tollgated-auto  the same, workers = CPUs
#   portkey    the Portkey gateway from npm (when npm can install it)
# The proxy runs on CPU 0, the mock and the load on CPU 1.  Each round runs every
# configuration in turn (BENCH_ROUNDS, default 3); the table holds the medians:
# requests/s at c=64 and the proxy's CPU per request (from /proc, tollgated's
# including the accountant's aggregation of those requests), latency p50/p99
# at c=1 and what it adds over direct, time to first byte and total time of a
# 50-chunk stream at c=1, peak RSS of the proxy's processes.  Then 1,000 open
# streams through tollgated.  Prints the tables and appends them to RESULTS.md.
# Usage: gateway.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
. "$root/contrib/bench/common.sh"
bench_init
ulimit -n 16384 2>/dev/null || true
res="$tmp/results"
mkdir -p "$res"
hz=$(getconf CLK_TCK)
cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7, cache_read_input_token_cost: 7.5e-8}
EOT

configs="direct"
command -v nginx >/dev/null 2>&1 && configs="$configs nginx"
configs="$configs tollgated tollgated-auto"
if command -v npm >/dev/null 2>&1 && (cd "$tmp" && mkdir -p portkey && cd portkey &&
    timeout 300 npm install --silent --no-audit --no-fund @portkey-ai/gateway >/dev/null 2>&1); then
	configs="$configs portkey"
fi
configs=${BENCH_CONFIGS:-$configs}	# a subset, to look at one change

# ---- starting and stopping the proxy under test: sets $port, $pids, $key, $extra
wait_port() {
	for i in $(seq 200); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on port $1" >&2
	return 1
}
start_direct() { port=$mport; pids=; key=sk-bench; portkey=; }
start_nginx() {
	mkdir -p "$tmp/nginx/logs"
	cat >"$tmp/nginx/nginx.conf" <<EOT
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  upstream mock { server 127.0.0.1:$mport; keepalive 128; }
  server {
    listen 127.0.0.1:$gport;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOT
	taskset -c 0 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx.log" &
	pids=$!; port=$gport; key=sk-bench; portkey=
	wait_port $port
}
start_tollgated() {	# start_tollgated WORKERS
	bench_config "$1" "  budgets:
    - {scope: team, name: bench, max_budget: 1000000, budget_duration: 1mo}
    - {scope: global, max_budget: 1000000, budget_duration: 1d}"
	start_gw
	pids=$gwpid; port=$gport; portkey=
	key=$(curl -fs -H "Authorization: Bearer sk-bench-master" -H "Content-Type: application/json" \
	    -d '{"team_id": "bench", "max_budget": 1000000}' "http://127.0.0.1:$gport/key/generate" |
	    sed 's/.*"key": *"\(sk-[^"]*\)".*/\1/')
}
start_portkey() {
	(cd "$tmp/portkey" && exec taskset -c 0 node node_modules/@portkey-ai/gateway/build/start-server.js \
	    --port=$gport --headless) >"$tmp/portkey.log" 2>&1 &
	pids=$!; port=$gport; key=sk-bench; portkey="http://127.0.0.1:$mport/v1"
	wait_port $port
}
stop_proxy() {
	[ -n "$pids" ] || return 0
	for p in $pids; do kill $p 2>/dev/null || true; done
	for p in $pids; do wait $p 2>/dev/null || true; done
	gwpid=; pids=
	sleep 0.2
}

# ---- what a proxy costs
tree() { for p in $pids; do echo $p; pgrep -P $p || true; done; }
cpu_ticks() {
	t=0
	for p in $(tree); do
		set -- $(sed 's/.*) //' /proc/$p/stat 2>/dev/null || echo "0 0 0 0 0 0 0 0 0 0 0 0 0")
		t=$((t + ${12} + ${13}))
	done
	echo $t
}
rss_kb() { t=0; for p in $(tree); do t=$((t + $(awk '/VmHWM/ {print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $t; }
us() { echo "$1" | awk '/us$/ {sub("us",""); print $0+0; next} /ms$/ {sub("ms",""); print $0*1000; next} /s$/ {sub("s",""); print $0*1000000}'; }
wrk_run() {	# wrk_run CONNS STREAM: the output of wrk through the proxy
	KEY=$key STREAM=$2 PORTKEY_UPSTREAM=$portkey taskset -c 1 wrk -t1 -c$1 -d${dur}s --latency \
	    -s "$root/contrib/bench/chat.lua" "http://127.0.0.1:$port/v1/chat/completions"
}
note() { echo "$3" >>"$res/$1.$2"; }	# note CONFIG METRIC VALUE
# tollgated's accountant folds the records into the aggregates behind the load
# (at SCHED_IDLE when it keeps up): its CPU counts only once it has caught up.
caught_up() {
	case $1 in tollgated*) ;; *) return 0 ;; esac
	for i in $(seq 600); do
		"$build/tollctl" stat --ledger "$tmp/ledger" 2>/dev/null |
		    grep -q '^accountant lag  *0 ' && return 0
		sleep 0.1
	done
	echo "gateway: the accountant did not catch up within 60 s" >&2
}
measure() {	# measure CONFIG
	before=$([ -n "$pids" ] && cpu_ticks || echo 0)
	out=$(wrk_run 64 0)
	caught_up $1
	after=$([ -n "$pids" ] && cpu_ticks || echo 0)
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	note $1 rps "$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
	note $1 errors "$(echo "$out" | awk '/Non-2xx/ {n += $NF} /Socket errors/ {n += 1} END {print n + 0}')"
	[ -n "$pids" ] && note $1 cpu "$(echo "$after $before $hz $reqs" | awk '{printf "%.1f", ($1-$2)*1e6/$3/$4}')"
	out=$(wrk_run 1 0)
	note $1 p50 "$(us "$(echo "$out" | awk '$1 == "50%" {print $2}')")"
	note $1 p99 "$(us "$(echo "$out" | awk '$1 == "99%" {print $2}')")"
	set -- $1 $("$build/bench/ttfb" 127.0.0.1 $port /v1/chat/completions 300 \
	    '{"model": "bench", "stream": true, "messages": [{"role": "user", "content": "hello"}]}' \
	    "Authorization: Bearer $key" ${portkey:+"x-portkey-provider: openai"} \
	    ${portkey:+"x-portkey-custom-host: $portkey"})
	note $1 ttfb "$3"
	note $1 stream "$7"
	[ -n "$pids" ] && note $1 rss "$(rss_kb)"
	return 0
}

for r in $(seq "$rounds"); do
	for c in $configs; do
		case $c in
		direct) start_direct ;;
		nginx) start_nginx ;;
		tollgated) start_tollgated 1 ;;
		tollgated-auto) start_tollgated auto ;;
		portkey) start_portkey ;;
		esac
		measure $c
		stop_proxy
	done
done

median() { [ -f "$1" ] && sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}' || echo -; }
m() { median "$res/$1.$2"; }
added() { [ "$(m $1 $2)" = - ] && echo - || echo "$(m $1 $2) $(m direct $2)" | awk '{printf "%.0f", $1 - $2}'; }
ratio() { echo "$1 $2" | awk '$2 > 0 && $1 != "-" && $2 != "-" {printf "%.2fx", $1 / $2; next} {print "-"}'; }
table="$tmp/table"
{
	echo "| configuration | req/s c=64 | proxy CPU µs/req | p50 c=1 | p99 c=1 | p50 added | p99 added | stream TTFB added | stream total added | peak RSS MB | errors |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	for c in $configs; do
		rss=$(m $c rss)
		printf '| %s | %s | %s | %sus | %sus | %sus | %sus | %sus | %sus | %s | %s |\n' "$c" "$(m $c rps)" \
		    "$(m $c cpu)" "$(m $c p50)" "$(m $c p99)" "$(added $c p50)" "$(added $c p99)" \
		    "$(added $c ttfb)" "$(added $c stream)" \
		    "$([ "$rss" = - ] && echo - || echo "$rss" | awk '{printf "%.1f", $1 / 1024}')" \
		    "$(cat "$res/$c.errors" 2>/dev/null | awk '{n += $1} END {print n + 0}')"
	done
	echo
	echo "| ratio (tollgated, 1 worker) | value | target |"
	echo "|---|---|---|"
	if echo "$configs" | grep -q nginx; then
		echo "| throughput / nginx | $(ratio "$(m tollgated rps)" "$(m nginx rps)") | >= 0.8x |"
		echo "| CPU per request / nginx | $(ratio "$(m tollgated cpu)" "$(m nginx cpu)") | <= 1.25x |"
		echo "| added p50 / nginx | $(ratio "$(added tollgated p50)" "$(added nginx p50)") | <= 1.2x |"
		echo "| added p99 / nginx | $(ratio "$(added tollgated p99)" "$(added nginx p99)") | <= 1.2x |"
	fi
	if echo "$configs" | grep -q portkey; then
		echo "| throughput / Portkey | $(ratio "$(m tollgated rps)" "$(m portkey rps)") | >= 40x |"
	fi
} >"$table"

# ---- 1,000 open streams through tollgated (1 worker): 50 chunks 20 ms apart, about 1 s each
start_tollgated 1
KEY=$key STREAM=1 CHUNK_DELAY_MS=20 taskset -c 1 wrk -t1 -c1000 -d${dur}s --timeout 10s --latency \
    -s "$root/contrib/bench/chat.lua" "http://127.0.0.1:$gport/v1/chat/completions" >"$tmp/streams.out" &
wrkpid=$!
sleep 2	# the 1,000 streams are open: one more, timed, straight to the mock and through tollgated
one='{"model": "bench", "stream": true, "messages": [{"role": "user", "content": "hi"}], "mock": {"chunk_delay_ms": 20}}'
set -- $("$build/bench/ttfb" 127.0.0.1 $mport /v1/chat/completions 20 "$one" "Authorization: Bearer x")
direct_ttfb=$2
set -- $("$build/bench/ttfb" 127.0.0.1 $gport /v1/chat/completions 20 "$one" "Authorization: Bearer $key")
wait $wrkpid
out=$(cat "$tmp/streams.out")
streams_rss=$(rss_kb)
completed=$(echo "$out" | awk '/requests in/ {print $1}')
serrors=$(echo "$out" | awk '/Non-2xx/ {n += $NF} /Socket errors/ {for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i + 0} END {print n + 0}')
stop_proxy
records=$("$build/tollctl" stat --ledger "$tmp/ledger" | awk '/^records/ {print $2}')
{
	echo
	echo "| 1,000 open streams (tollgated, 1 worker, ${dur}s) | value | target |"
	echo "|---|---|---|"
	echo "| streams completed | $completed | |"
	echo "| errors | $serrors | 0 |"
	echo "| time to first byte of one more stream under that load, direct (p50 of 20) | $direct_ttfb µs | |"
	echo "| the same through tollgated (p50 of 20) | $2 µs | |"
	echo "| added time to first byte | $(($2 - direct_ttfb)) µs | < 1,000 µs |"
	echo "| peak RSS of all tollgated processes | $(echo "$streams_rss" | awk '{printf "%.1f", $1 / 1024}') MB | < 100 MB |"
	echo "| records in the ledger (every request, these streams included) | $records | |"
} >>"$table"
cat "$table"
{
	echo
	echo "## Gateways side by side ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "Medians of $rounds interleaved rounds, ${dur}s per figure; proxy on CPU 0, mock and load on"
	echo "CPU 1; 1 KB chat completion, streams of 50 chunks; 'added' is over direct."
	echo
	cat "$table"
} >>"$root/contrib/bench/RESULTS.md"
