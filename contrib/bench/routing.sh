#!/bin/sh
# make bench: what routing costs.  A model group of three deployments (three
# models of the mock provider, so three router slots).
#   decision: the worker's instructions inside route_prepare() (choosing and
#             ordering the deployments, pre-call estimates included) per
#             request, counted by callgrind (--toggle-collect), for each
#             routing_strategy and for a single deployment; deterministic.
#   throughput: wrk at c=64 against 1 worker (CPU 0; mock and wrk on CPU 1),
#             simple-shuffle (LiteLLM's default: a draw by weight, the rest in
#             turn) and latency-based-routing in alternating rounds, medians
#             compared (target: within 3%).
# Appends to contrib/bench/RESULTS.md.  Usage: routing.sh BUILD_DIR [N]
# (N requests per callgrind run, default 1000; NO_CALLGRIND=1 skips that part)
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${2:-1000}
dur=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
. "$root/contrib/bench/common.sh"
bench_init
cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7, max_input_tokens: 128000}
gpt-4o: {input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, max_input_tokens: 128000}
gpt-4.1-mini: {input_cost_per_token: 4e-7, output_cost_per_token: 1.6e-6, max_input_tokens: 1000000}
EOT
config() {	# config STRATEGY DEPLOYMENTS [PRE_CALL_CHECKS]
	{
		cat <<EOT
tollgate: {listen: 127.0.0.1, port: $gport, workers: 1, price_files: [prices.yaml], keys: [sk-bench],
  user: $bench_user}
router_settings: {routing_strategy: $1, enable_pre_call_checks: ${3:-false}}
model_list:
EOT
		for m in gpt-4o-mini gpt-4o gpt-4.1-mini; do
			[ "$2" -gt 0 ] || break
			echo "  - model_name: bench"
			echo "    litellm_params: {model: openai/$m, api_base: \"http://127.0.0.1:$mport/v1\", api_key: x}"
			set -- "$1" $(($2 - 1)) "${3:-false}"
		done
	} >"$tmp/tollgate.yaml"
}
body='{"model": "bench", "messages": [{"role": "user", "content": "hello"}]}'
decision_ir() {	# decision_ir: instructions in route_prepare per request, config in place
	rm -rf "$tmp/ledger" "$tmp/cg"
	mkdir -p "$tmp/cg"
	valgrind --tool=callgrind --toggle-collect=route_prepare --callgrind-out-file="$tmp/cg/out.%p" \
	    "$build/tollgated" -f -c "$tmp/tollgate.yaml" --ledger "$tmp/ledger" --run-dir "$tmp/run" \
	    2>"$tmp/vg.log" &
	gwpid=$!
	for i in $(seq 300); do curl -fs "http://127.0.0.1:$gport/health" >/dev/null 2>&1 && break; sleep 0.2; done
	"$build/bench/ttfb" 127.0.0.1 $gport /v1/chat/completions "$n" "$body" \
	    "Authorization: Bearer sk-bench" >/dev/null
	stop_gw
	sleep 1
	ir=$(for f in "$tmp"/cg/out.*; do awk '/^summary:/ {print $2}' "$f"; done | sort -n | tail -1)
	echo $(( ${ir:-0} / n ))
}
table=
if [ "${NO_CALLGRIND:-0}" != 1 ]; then
	command -v valgrind >/dev/null || { echo "routing: valgrind is not installed" >&2; exit 1; }
	table="| routing decision (route_prepare, 3 deployments unless said) | worker instructions per request |
|---|---|"
	config simple-shuffle 1
	table="$table
| one deployment (simple-shuffle) | $(decision_ir) |"
	for s in simple-shuffle least-busy latency-based-routing usage-based-routing-v2 cost-based-routing; do
		config $s 3
		table="$table
| $s | $(decision_ir) |"
	done
	config simple-shuffle 3 true
	table="$table
| simple-shuffle with enable_pre_call_checks | $(decision_ir) |"
	echo "$table"
fi
rps() {
	taskset -c 1 wrk -t1 -c64 -d${dur}s -s "$root/contrib/bench/chat.lua" \
	    "http://127.0.0.1:$gport/v1/chat/completions" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "errors " $0 > "/dev/stderr"}'
}
shuffle=; latency=
for r in $(seq "$rounds"); do
	config simple-shuffle 3
	start_gw
	shuffle="$shuffle $(rps)"
	stop_gw
	config latency-based-routing 3
	start_gw
	latency="$latency $(rps)"
	stop_gw
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ms=$(median $shuffle); ml=$(median $latency)
t2=$(cat <<EOT
| 3 deployments (1 worker, c=64, ${dur}s rounds) | requests/s per round | median |
|---|---|---|
| simple-shuffle |$shuffle | $ms |
| latency-based-routing |$latency | $ml |
| difference (target within 3%) | | $(echo "$ms $ml" | awk '{printf "%.1f", ($1 - $2) * 100 / $1}')% |
EOT
)
echo "$t2"
{
	echo
	echo "## Routing ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "callgrind counts the worker's instructions inside route_prepare() over $n requests;"
	echo "throughput rounds alternate the two strategies; proxy on CPU 0, mock and wrk on CPU 1."
	echo
	[ -n "$table" ] && { echo "$table"; echo; }
	echo "$t2"
} >>"$root/contrib/bench/RESULTS.md"
