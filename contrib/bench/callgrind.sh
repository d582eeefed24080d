#!/bin/sh
# Instructions per request of a tollgated worker, counted by callgrind: the
# same for the same binary and inputs however busy the machine is, so small
# changes to the data path can be compared where wrk's noise hides them.
# Runs the gateway (1 worker) under valgrind twice, for N and 2N plain chat
# requests one at a time, and prints (I(2N) - I(N)) / N for the worker.
# Usage: callgrind.sh BUILD_DIR [N]   (N defaults to 2000; a few minutes)
# STREAM=1 counts streamed requests instead (50 chunks each, no delay).
# XLATE=1 sends them to an Anthropic deployment: OpenAI chat translated to
# Anthropic Messages and back (the native figure is the one without it).
# BEDROCK=1 sends them to a Bedrock deployment: translated to Converse, each
# request signed with SigV4, a stream's answer in AWS's binary frames.
# BUDGETS=1 adds a global budget (with the key's own counter, two counters a
# request); REDIS=1 shares them through a private redis-server (needs it).
# KEEP=DIR keeps the worker's callgrind profile of the 2N run there.
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${2:-2000}
command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed" >&2; exit 1; }
. "$root/contrib/bench/common.sh"
bench_init
cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7}
claude-sonnet-4-5: {input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5}
"anthropic.claude-3-5-sonnet-20240620-v1:0": {input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5}
EOT
extra=
if [ "${BUDGETS:-0}" = 1 ] || [ "${REDIS:-0}" = 1 ]; then
	extra=", budgets: [{scope: global, max_budget: 1000000, budget_duration: 1d}]"
fi
if [ "${REDIS:-0}" = 1 ]; then
	rport=$((gport + 2))
	redis-server --port $rport --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
	redispid=$!
	trap 'kill $mockpid $gwpid $redispid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
	for i in $(seq 50); do redis-cli -p $rport ping >/dev/null 2>&1 && break; sleep 0.1; done
	extra="$extra, redis: {url: \"redis://127.0.0.1:$rport\"}"
fi
cat >"$tmp/tollgate.yaml" <<EOT
tollgate: {listen: 127.0.0.1, port: $gport, workers: 1, price_files: [prices.yaml], keys: [sk-bench],
  user: $bench_user$extra}
model_list:
  - model_name: bench
    litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mport/v1", api_key: x}
  - model_name: bench-claude
    litellm_params: {model: anthropic/claude-sonnet-4-5, api_base: "http://127.0.0.1:$mport", api_key: x}
  - model_name: bench-bedrock
    litellm_params: {model: "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
      api_base: "http://127.0.0.1:$mport", aws_access_key_id: AKIDBENCH,
      aws_secret_access_key: bench-secret, aws_region_name: us-east-1}
EOT
model=bench
[ "${XLATE:-0}" = 1 ] && model=bench-claude
[ "${BEDROCK:-0}" = 1 ] && model=bench-bedrock
body='{"model": "'$model'", "messages": [{"role": "user", "content": "hello"}]}'
[ "${STREAM:-0}" = 1 ] && body='{"model": "'$model'", "stream": true, "messages": [{"role": "user", "content": "hello"}]}'
worker_ir() {	# worker_ir REQUESTS: the worker's instruction count
	rm -rf "$tmp/ledger" "$tmp/cg"
	mkdir -p "$tmp/cg"
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg/out.%p" "$build/tollgated" -f \
	    -c "$tmp/tollgate.yaml" --ledger "$tmp/ledger" --run-dir "$tmp/run" 2>"$tmp/vg.log" &
	gwpid=$!
	for i in $(seq 300); do curl -fs "http://127.0.0.1:$gport/health" >/dev/null 2>&1 && break; sleep 0.2; done
	"$build/bench/ttfb" 127.0.0.1 $gport /v1/chat/completions "$1" "$body" "Authorization: Bearer sk-bench" >/dev/null
	stop_gw
	sleep 1
	# the worker executes the most instructions of the three processes
	worker=$(for f in "$tmp"/cg/out.*; do echo "$(awk '/^summary:/ {print $2}' "$f") $f"; done | sort -n | tail -1)
	[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "${worker#* }" "$KEEP/callgrind.out.worker"
	echo "${worker%% *}"
}
a=$(worker_ir "$n")
b=$(worker_ir $((2 * n)))
echo "worker instructions per ${BUDGETS:+budgeted }${REDIS:+Redis-budgeted }${XLATE:+translated }${BEDROCK:+Bedrock }${STREAM:+streamed }request: $(( (b - a) / n ))"
