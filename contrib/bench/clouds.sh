#!/bin/sh
# make bench, fifth entry: the cloud providers beside OpenAI's format, all
# against contrib/mockprovider on loopback (tollgated, 1 worker, on CPU 0; the
# mock and wrk on CPU 1):
#   openai   a chat stream relayed as is
#   bedrock  the same client to Bedrock's ConverseStream: translated, signed
#            (SigV4) per request, the answer in AWS's binary frames
#   vertex   the same client to Gemini on Vertex AI: translated, the worker's
#            service-account token as the bearer
# requests/s at c=64 of a 50-chunk stream, medians of ROUNDS alternating
# rounds; then, with valgrind, the worker's instructions per streamed request
# (callgrind.sh) for openai and bedrock; then the token exchanges under load:
# 2 workers, the mock's tokens living TOKEN_SECONDS (default 30) s, TOKEN_LOAD
# (default 60) s of requests to Vertex, the exchanges counted by the mock.
# Appends to contrib/bench/RESULTS.md.  Usage: clouds.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
dur=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
life=${TOKEN_SECONDS:-30}
load=${TOKEN_LOAD:-60}
. "$root/contrib/bench/common.sh"
bench_init
cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7}
gemini-2.5-flash: {input_cost_per_token: 3e-7, output_cost_per_token: 2.5e-6}
"anthropic.claude-3-5-sonnet-20240620-v1:0": {input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5}
EOT
# a service-account key of the bench's own; the mock's /token takes its JWTs
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
    awk -v port=$mport 'BEGIN { printf "{\"type\": \"service_account\", \"project_id\": \"bench\", " \
	"\"private_key_id\": \"k1\", \"client_email\": \"bench@bench.iam.gserviceaccount.com\", " \
	"\"token_uri\": \"http://127.0.0.1:" port "/token\", \"private_key\": \"" }
	{ printf "%s\\n", $0 } END { print "\"}" }' >"$tmp/sa.json"
config() {	# config WORKERS
	cat >"$tmp/tollgate.yaml" <<EOT
tollgate: {listen: 127.0.0.1, port: $gport, workers: $1, price_files: [prices.yaml], keys: [sk-bench],
  user: $bench_user}
model_list:
  - model_name: openai
    litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mport/v1", api_key: x}
  - model_name: bedrock
    litellm_params: {model: "bedrock/converse/anthropic.claude-3-5-sonnet-20240620-v1:0",
      api_base: "http://127.0.0.1:$mport", aws_access_key_id: AKIDBENCH,
      aws_secret_access_key: bench-secret, aws_region_name: us-east-1}
  - model_name: vertex
    litellm_params: {model: vertex_ai/gemini-2.5-flash, api_base: "http://127.0.0.1:$mport",
      vertex_credentials: $tmp/sa.json, vertex_location: us-central1}
EOT
}
mock_token() { curl -fs -H "Content-Type: application/json" -d "$1" "http://127.0.0.1:$mport/mock/token"; }
rps() {	# rps MODEL: requests/s of 50-chunk streams at c=64, and the errors on stderr
	KEY=sk-bench MODEL=$1 STREAM=1 taskset -c 1 wrk -t1 -c64 -d${dur}s -s "$root/contrib/bench/chat.lua" \
	    "http://127.0.0.1:$gport/v1/chat/completions" |
	    awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "clouds: " $0 > "/dev/stderr"}'
}
config 1
start_gw
for r in $(seq "$rounds"); do
	for m in openai bedrock vertex; do
		echo "$(rps $m)" >>"$tmp/$m.rps"
	done
done
stop_gw
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
table="$tmp/table"
{
	echo "| 50-chunk chat stream, 1 worker, c=64 | requests/s per round | median | / openai |"
	echo "|---|---|---|---|"
	base=$(median "$tmp/openai.rps")
	for m in openai bedrock vertex; do
		echo "| $m | $(tr '\n' ' ' <"$tmp/$m.rps")| $(median "$tmp/$m.rps") |" \
		    "$(echo "$(median "$tmp/$m.rps") $base" | awk '{printf "%.2fx", $1 / $2}') |"
	done
} >"$table"
if command -v valgrind >/dev/null 2>&1; then
	n=${CALLGRIND_REQUESTS:-500}
	o=$(STREAM=1 sh "$root/contrib/bench/callgrind.sh" "$build" "$n" | awk '{print $NF}')
	b=$(STREAM=1 BEDROCK=1 sh "$root/contrib/bench/callgrind.sh" "$build" "$n" | awk '{print $NF}')
	{
		echo
		echo "| worker instructions per streamed request (callgrind, (I(2N) - I(N)) / N, N = $n) | value |"
		echo "|---|---|"
		echo "| OpenAI chat stream, relayed | $o |"
		echo "| the same client to Bedrock ConverseStream (translated, SigV4, binary frames) | $b |"
	} >>"$table"
fi
# token exchanges under load: 2 workers, short-lived tokens
mock_token "{\"expires_in\": $life, \"reset\": true}" >/dev/null
config 2
start_gw
KEY=sk-bench MODEL=vertex taskset -c 1 wrk -t1 -c16 -d${load}s -s "$root/contrib/bench/chat.lua" \
    "http://127.0.0.1:$gport/v1/chat/completions" >"$tmp/token.out"
stop_gw
served=$(awk '/requests in/ {print $1}' "$tmp/token.out")
ex=$(curl -fs "http://127.0.0.1:$mport/mock/token" | sed 's/.*"exchanges":\([0-9]*\).*/\1/')
{
	echo
	echo "| Vertex AI tokens under load (2 workers, ${life}-s tokens, ${load} s of requests) | value |"
	echo "|---|---|"
	echo "| requests served | $served |"
	echo "| token exchanges the token endpoint saw (each worker's first at start) | $ex |"
	echo "| exchanges per worker (one at start, then one each 5/6 of the lifetime while in use: $(echo "$load $life" | awk '{printf "%d", 1 + int($1 / ($2 * 5 / 6))}') expected) | $(echo "$ex" | awk '{printf "%.1f", $1 / 2}') |"
	echo "| exchanges per request | $(echo "$ex $served" | awk '$2 > 0 {printf "%.6f", $1 / $2; next} {print "-"}') |"
	echo "| with Google's one-hour tokens (renewed 10 minutes before expiry) | 1.2 per worker per hour |"
} >>"$table"
cat "$table"
{
	echo
	echo "## Cloud providers ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "tollgated on CPU 0, the mock and wrk on CPU 1, ${dur}s rounds."
	echo
	cat "$table"
} >>"$root/contrib/bench/RESULTS.md"
