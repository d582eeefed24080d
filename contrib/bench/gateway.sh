#!/bin/sh
# make bench, second entry: wrk against the mock provider directly and through
# tollgated (1 worker, and workers = CPUs), c=1 and c=64, plain and streamed.
# The proxy runs on CPU 0, the mock and wrk on CPU 1.  Prints one table and
# appends it to contrib/bench/RESULTS.md.  Usage: gateway.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=${BENCH_SECONDS:-5}
. "$root/contrib/bench/common.sh"
bench_init
cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7, cache_read_input_token_cost: 7.5e-8}
EOT
config() {	# config WORKERS
	cat >"$tmp/tollgate.yaml" <<EOT
tollgate: {listen: 127.0.0.1, port: $gport, workers: $1, price_files: [prices.yaml], keys: [sk-bench]}
model_list:
  - model_name: bench
    litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mport/v1", api_key: x}
EOT
}
cpu_ticks() {	# user+system ticks of a process tree
	t=0
	for p in $1 $(pgrep -P $1); do
		set -- $(sed 's/.*) //' /proc/$p/stat 2>/dev/null || echo "0 0 0 0 0 0 0 0 0 0 0 0 0")
		t=$((t + ${12} + ${13}))
	done
	echo $t
}
# wrk's latencies ("20.00us", "1.40ms", "1.20s") in microseconds
us() { echo "$1" | awk '/us$/ {sub("us",""); print $0+0; next} /ms$/ {sub("ms",""); print $0*1000; next} /s$/ {sub("s",""); print $0*1000000}'; }
# run LABEL URL CONNS STREAM PID: prints "label rps p50 p99 added-p50 cpu_us_per_req"
run() {
	before=$([ -n "$5" ] && cpu_ticks $5 || echo 0)
	out=$(STREAM=$4 taskset -c 1 wrk -t1 -c$3 -d${dur}s --latency -s "$root/contrib/bench/chat.lua" "$2/v1/chat/completions")
	after=$([ -n "$5" ] && cpu_ticks $5 || echo 0)
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
	hz=$(getconf CLK_TCK)
	cpu=$([ -n "$5" ] && [ "$reqs" -gt 0 ] && echo "$after $before $hz $reqs" | awk '{printf "%.1f", ($1-$2)*1e6/$3/$4}' || echo -)
	# the latency tollgated adds: against the direct run of the same kind (c, stream)
	if [ -z "$5" ]; then
		eval "base_p50_$3_$4=$(us "$p50")"
		added=-
	else
		b=$(eval echo "\${base_p50_$3_$4:-}")
		added=$([ -n "$b" ] && echo "$(us "$p50") $b" | awk '{printf "%.0fus", $1 - $2}' || echo -)
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "$added" "$cpu" "${errs:-0 errors}"
}
table="$tmp/table"
{
	echo "| configuration | requests/s | p50 | p99 | p50 added over direct | proxy CPU µs/request | errors |"
	echo "|---|---|---|---|---|---|---|"
	sleep 0.3
	run "direct, c=1" "http://127.0.0.1:$mport" 1 0 ""
	run "direct, c=64" "http://127.0.0.1:$mport" 64 0 ""
	run "direct, stream, c=1" "http://127.0.0.1:$mport" 1 1 ""
	run "direct, stream, c=64" "http://127.0.0.1:$mport" 64 1 ""
	config 1
	start_gw
	run "tollgated 1 worker, c=1" "http://127.0.0.1:$gport" 1 0 $gwpid
	run "tollgated 1 worker, c=64" "http://127.0.0.1:$gport" 64 0 $gwpid
	run "tollgated 1 worker, stream, c=1" "http://127.0.0.1:$gport" 1 1 $gwpid
	run "tollgated 1 worker, stream, c=64" "http://127.0.0.1:$gport" 64 1 $gwpid
	stop_gw
	config auto
	start_gw
	run "tollgated auto workers, c=64" "http://127.0.0.1:$gport" 64 0 $gwpid
	stop_gw
} | tee "$table"
{
	echo
	echo "## Gateway (wrk, ${dur}s per row, $(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "Proxy on CPU 0, mock provider and wrk on CPU 1 (1 KB chat completion; streams of 50 chunks)."
	echo
	cat "$table"
} >>"$root/contrib/bench/RESULTS.md"
