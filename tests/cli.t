#!/bin/sh
# tollctl cost, logs and spend end to end: output, exit codes and error messages.
# Needs TOLLCTL (the binary) and TOLLGATE_SRC (the project root); make check sets both.
set -u
: "${TOLLGATE_SRC:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${TOLLCTL:=${TOLLGATE_BUILD:-$TOLLGATE_SRC/build}/tollctl}"
SHARED="$TOLLGATE_SRC/../shared/data"
T=$(mktemp -d)
# running PID: it exists and is not a zombie waiting for this shell's wait
running() {
	st=
	[ -r "/proc/$1/stat" ] && read -r _ _ st _ <"/proc/$1/stat"
	[ -n "$st" ] && [ "$st" != Z ]
}
# stop PID: SIGTERM, then SIGKILL if it has not gone within 20 s; never waits for ever
stop() {
	kill "$1" 2>/dev/null || return 0
	s=0
	while running "$1" && [ $s -lt 200 ]; do sleep 0.1; s=$((s + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
# and stop the gateway and the mock provider of the spend tests, whatever ends this
# script (the mock also dies with it: PR_SET_PDEATHSIG)
trap 'for p in ${gw:-} ${mock:-}; do stop "$p"; done; rm -rf "$T"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
n=0
failed=0

ok() {	# ok CONDITION-EXIT-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
skip() {	# skip COUNT WHY
	i=0
	while [ $i -lt "$1" ]; do n=$((n + 1)); i=$((i + 1)); echo "ok $n # skip $2"; done
}
# run ARGS...: stdout to $T/out, stderr to $T/err, status in $rc
run() { "$TOLLCTL" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
has() { grep -qF -- "$1" "$2"; }

cat >"$T/prices.yaml" <<'YAML'
custom-4o:
  input_cost_per_token: 2.5e-6
  cache_read_input_token_cost: 2.5e-7
  output_cost_per_token: 1.5e-5
  output_cost_per_token_batches: 7.5e-6
  input_cost_per_token_priority: 5e-6
YAML
cat >"$T/usage.json" <<'JSON'
{"prompt_tokens": 6074, "completion_tokens": 285, "prompt_tokens_details": {"cached_tokens": 3456}}
JSON

run cost --help
ok $(( rc != 0 )) "cost --help exits 0"
has "--prices FILE" "$T/out"; ok $? "and documents --prices"

run cost --prices "$T/prices.yaml" --model custom-4o "$T/usage.json"
ok $rc "a bare usage object is priced"
has '"cost_usd": 0.011684,' "$T/out"; ok $? "exactly 0.011684 USD"
has '"priced_as": "custom-4o"' "$T/out"; ok $? "priced_as names the entry"
has '"tokens": {"input": 2618, "cache_read": 3456,' "$T/out"; ok $? "canonical tokens"
has '"flags": []' "$T/out"; ok $? "no flags"

"$TOLLCTL" cost --prices "$T/prices.yaml" --model azure/custom-4o - <"$T/usage.json" >"$T/out" 2>"$T/err"
ok $? "reads standard input"
has '"priced_as": "custom-4o"' "$T/out"; ok $? "provider prefix stripped"

run cost --prices "$T/prices.yaml" --model custom-4o --batch "$T/usage.json"
has '"cost_usd": 0.005842,' "$T/out"; ok $? "--batch: batch output price, half of the others (2618*1.25e-6 + 3456*1.25e-7 + 285*7.5e-6)"
run cost --prices "$T/prices.yaml" --model custom-4o --service-tier priority "$T/usage.json"
has '"cost_usd": 0.018229,' "$T/out"; ok $? "--service-tier priority"
has '"tier_fallback"' "$T/out"; ok $? "flags the output rate that fell back to standard"

printf '{"usage": {"prompt_tokens": 12,, "completion_tokens": 1}}' >"$T/bad.json"
run cost --prices "$T/prices.yaml" --model custom-4o "$T/bad.json"
ok $(( rc != 1 )) "malformed JSON exits 1"
has "$T/bad.json:1:32: malformed JSON" "$T/err"; ok $? "and names file, line and column"

run cost --prices "$T/prices.yaml" --model custom-4o "$T/nope.json"
ok $(( rc != 1 )) "a missing input file exits 1"
has "cannot read '$T/nope.json'" "$T/err"; ok $? "and names it"

run cost --prices "$T/missing.yaml" --model custom-4o "$T/usage.json"
ok $(( rc != 1 )) "a missing price file exits 1"

printf 'm:\n  input_cost_per_token: [1\n' >"$T/broken.yaml"
run cost --prices "$T/broken.yaml" --model m "$T/usage.json"
ok $(( rc != 1 )) "a malformed price file exits 1"
has "$T/broken.yaml:" "$T/err"; ok $? "and names the file and line"

run cost --prices "$T/prices.yaml" --model custom-4o --shape martian "$T/usage.json"
ok $(( rc != 1 )) "an unknown shape exits 1"
has "unknown shape 'martian'" "$T/err"; ok $? "with a message"

run cost --prices "$T/prices.yaml" --model gpt-unknown "$T/usage.json"
ok $(( rc != 2 )) "an unpriced model exits 2"
has '"flags": ["unpriced"]' "$T/out"; ok $? "and still prints the record, flagged"
has "model 'gpt-unknown' has no price" "$T/err"; ok $? "and says so"

run cost --prices "$T/prices.yaml" "$T/usage.json"
ok $(( rc != 1 )) "no model anywhere exits 1"

printf 'hello\n' >"$T/text"
run cost --prices "$T/prices.yaml" --model custom-4o "$T/text"
ok $(( rc != 1 )) "text that is neither JSON nor SSE exits 1"

printf 'data: {"usage": null}\n\ndata: {"usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\ndata: [DONE]\n\n' >"$T/s.sse"
run cost --prices "$T/prices.yaml" --model custom-4o "$T/s.sse"
has '"cost_usd": 0.0000375,' "$T/out"; ok $? "an SSE stream is priced from its usage chunk"
printf 'data: {"usage": {\n\n' >"$T/bad.sse"
run cost --prices "$T/prices.yaml" --model custom-4o "$T/bad.sse"
ok $(( rc != 1 )) "a malformed stream event exits 1"
has "$T/bad.sse:1:" "$T/err"; ok $? "and names the event's line"

# tollctl logs: the records themselves are checked by tests/unit/t_ledger.c,
# which writes a ledger and runs this binary against it.
run logs --help
ok $rc "logs --help exits 0"
has "--ledger DIR" "$T/out"; ok $? "and documents --ledger"
run logs --ledger "$T/no-ledger"
ok $(( rc != 1 )) "logs of a missing ledger exits 1"
has "cannot open ledger '$T/no-ledger'" "$T/err"; ok $? "and names it"
[ ! -e "$T/no-ledger" ]; ok $? "without creating it"
TOLLGATE_LEDGER="$T/env-ledger" "$TOLLCTL" logs >"$T/out" 2>"$T/err"
has "'$T/env-ledger'" "$T/err"; ok $? "TOLLGATE_LEDGER is the default ledger"
run logs --ledger "$T" --limit -3
ok $(( rc != 1 )) "a negative --limit exits 1"
has "--limit: '-3'" "$T/err"; ok $? "with a message"

# tollctl spend on a ledger a real gateway wrote: tollgated in front of the mock
# provider, five requests of known usage, then the aggregates rebuilt from the
# records.  Costs (USD) by request, with gpt-4o-mini at 1.5e-7 input, 7.5e-8
# cache read and 6e-7 output (and reasoning), claude-sonnet-4-5 at 3e-6 input,
# 3e-7 cache read, 3.75e-6 cache write and 1.5e-5 output:
#   r1 master demo   customer acme    tags a,b  600 input .00009, 400 cache read .00003,
#                                               30 output .000018, 20 reasoning .000012 = .00015
#   r2 user   demo   customer globex  tag b     1000 input .00015, 50 output .00003 = .00018
#   r3 user   claude customer acme    no tags   500 input .0015, 200 cache read .00006,
#                                               300 cache write .001125, 50 output .00075 = .003435
#   r4 master demo   no customer      tag a     upstream 500: an error, cost 0
#   r5 user   demo   customer x*70    no tags   as r2 = .00018
PY=/usr/bin/python3
BUILD=$(dirname "$TOLLCTL")
G="$T/gw"
L="$G/ledger"
mock=; gw=
# total FIELD...: those fields of the first JSON line of $T/out, as written
total() {
	"$PY" -c 'import decimal, json, sys
r = json.loads(open(sys.argv[1]).readline(), parse_float=decimal.Decimal)
print(" ".join(str(r.get(k)) for k in sys.argv[2:]))' "$T/out" "$@"
}
# numbers: every line of $T/out is JSON whose counts are integers and costs numbers,
# and whose category costs add up to cost_usd
numbers() {
	"$PY" -c 'import decimal, json, sys
lines = open(sys.argv[1]).read().splitlines()
for l in lines:
    r = json.loads(l, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
    costs = [k for k in r if k.startswith("cost_")]
    assert len(costs) == 14, costs
    assert all(type(r[k]) is decimal.Decimal for k in costs + ["requests", "errors", "input"]), l
    assert sum(r[k] for k in costs if k != "cost_usd") == r["cost_usd"], l
sys.exit(0 if lines else 1)' "$T/out" 2>>"$T/err"
}
# post KEY PATH TAGS BODY: one request through the gateway; its HTTP status
post() {
	curl -s --max-time 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" \
	    -H 'Content-Type: application/json' ${3:+-H "x-tollgate-tags: $3"} -d "$4" \
	    "http://127.0.0.1:$gwport$2"
}
if [ -x "$BUILD/tollgated" ] && [ -x "$BUILD/mockprovider" ] && [ -x "$PY" ] &&
    command -v curl >/dev/null; then
	mkdir -p "$G"
	"$BUILD/mockprovider" -p 0 -q 2>"$G/mock.log" &
	mock=$!
	i=0
	while ! grep -q 'listening on' "$G/mock.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	mockport=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$G/mock.log")
	cat >"$G/prices.yaml" <<'YAML'
gpt-4o-mini:
  input_cost_per_token: 1.5e-7
  output_cost_per_token: 6e-7
  cache_read_input_token_cost: 7.5e-8
claude-sonnet-4-5:
  input_cost_per_token: 3e-6
  output_cost_per_token: 1.5e-5
  cache_read_input_token_cost: 3e-7
  cache_creation_input_token_cost: 3.75e-6
YAML
	cat >"$G/tollgate.yaml" <<YAML
tollgate:
  listen: 127.0.0.1
  port: 0
  user: $(id -un)
  workers: 1
  price_files: [prices.yaml]
  ledger_sync_interval: 100ms
  keys: [sk-cli-user]
general_settings:
  master_key: sk-cli-master
model_list:
  - model_name: demo
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$mockport/v1
      api_key: k
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:$mockport
      api_key: k
YAML
	"$BUILD/tollgated" -f -c "$G/tollgate.yaml" --ledger "$L" --run-dir "$G/run" >"$G/log" 2>&1 &
	gw=$!
	i=0
	while ! grep -q 'listening on' "$G/log" && running "$gw" && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	gwport=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$G/log" | head -n 1)
	i=0
	while ! curl -sf --max-time 5 "http://127.0.0.1:${gwport:-1}/health" >/dev/null && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	long=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
	st=$(post sk-cli-master /v1/chat/completions a,b '{"model": "demo", "messages": [], "user": "acme",
	    "mock": {"prompt_tokens": 1000, "cached_tokens": 400, "completion_tokens": 50, "reasoning_tokens": 20}}')
	st="$st $(post sk-cli-user /v1/chat/completions b '{"model": "demo", "messages": [], "user": "globex"}')"
	st="$st $(post sk-cli-user /v1/messages '' '{"model": "claude", "max_tokens": 100, "messages": [],
	    "user": "acme", "mock": {"cached_tokens": 200, "cache_write_tokens": 300}}')"
	st="$st $(post sk-cli-master /v1/chat/completions a '{"model": "demo", "messages": [], "mock": {"status": 500}}')"
	st="$st $(post sk-cli-user /v1/chat/completions '' '{"model": "demo", "messages": [], "user": "'$long'"}')"
	[ "$st" = "200 200 200 500 200" ]; ok $? "spend: five requests through tollgated and the mock ($st)"
	stop "$gw"
	gw=
	stop "$mock"
	mock=
	run aggregate --rebuild --ledger "$L"
	has "from 5 records" "$T/out"; ok $? "  their aggregates rebuilt from the records"

	run spend --ledger "$L" --format json
	[ "$(total requests errors cost_usd)" = "5 1 0.003945" ]; ok $? "spend: the grand total ($(total requests errors cost_usd))"
	[ "$(total cost_input_usd cost_cache_read_usd cost_cache_write_usd cost_output_usd cost_reasoning_usd)" = \
	    "0.00189 0.00009 0.001125 0.000828 0.000012" ]
	ok $? "  per category: input, cache read, cache write, output, reasoning"
	numbers; ok $? "  json: counts are integers, costs numbers, the categories add up to cost_usd"
	run spend --ledger "$L" --format json --by model --by customer --by tag
	numbers; ok $? "  and on every line --by model --by customer --by tag"
	run spend --ledger "$L" --format csv --by model
	"$PY" -c 'import csv, decimal, sys
rows = list(csv.DictReader(open(sys.argv[1])))
D = decimal.Decimal
sys.exit(not (len(rows) == 2 and all(sum(D(v) for k, v in r.items() if k.startswith("cost_") and k != "cost_usd")
    == D(r["cost_usd"]) for r in rows) and [r["cost_cache_write_usd"] for r in rows] == ["0.001125", "0"]))' "$T/out"
	ok $? "  csv: a cost column per category, adding up to cost_usd"
	run spend --ledger "$L" --by model
	has "CACHE_WRITE USD" "$T/out" && ! has "AUDIO_INPUT USD" "$T/out"
	ok $? "  table: the categories that cost something, not the others"

	run spend --ledger "$L" --format json --customer acme
	[ "$(total requests cost_usd)" = "2 0.003585" ]; ok $? "--customer acme: r1 and r3"
	run spend --ledger "$L" --format json --customer ''
	[ "$(total requests errors cost_usd)" = "1 1 0" ]; ok $? "--customer '': r4, the request without one"
	run spend --ledger "$L" --format json --customer "$long"
	[ "$(total requests cost_usd)" = "1 0.00018" ]; ok $? "--customer of 70 bytes: r5, kept as its first 64"
	run spend --ledger "$L" --format json --tag a
	[ "$(total requests errors cost_usd)" = "2 1 0.00015" ]; ok $? "--tag a: r1 and r4"
	run spend --ledger "$L" --format json --tag b
	[ "$(total requests cost_usd)" = "2 0.00033" ]; ok $? "--tag b: r1 and r2, each once"
	run spend --ledger "$L" --format json --tag ''
	[ "$(total requests cost_usd)" = "2 0.003615" ]; ok $? "--tag '': r3 and r5, without tags"
	run spend --ledger "$L" --format json --by tag --tag b
	[ "$(wc -l <"$T/out") $(total tag requests)" = "1 b 2" ]; ok $? "--by tag --tag b: only tag b's line"
	run spend --ledger "$L" --format json --customer acme --tag b
	[ "$(total requests cost_usd)" = "1 0.00015" ]; ok $? "--customer acme --tag b: r1 only"
	run spend --ledger "$L" --format json --key master
	[ "$(total requests cost_usd)" = "2 0.00015" ]; ok $? "--key master: r1 and r4"
	run spend --ledger "$L" --format json --provider anthropic
	[ "$(total requests cost_usd cost_cache_write_usd)" = "1 0.003435 0.001125" ]; ok $? "--provider anthropic: r3"
	run spend --ledger "$L" --format json --by model --provider openai
	[ "$(wc -l <"$T/out") $(total model deployment priced_as requests cost_usd)" = \
	    "1 demo gpt-4o-mini gpt-4o-mini 4 0.00051" ]
	ok $? "--by model --provider openai: r1, r2, r4, r5 under their model_name (the model-day rollup)"
	run spend --ledger "$L" --format json --model claude
	[ "$(total requests cost_usd)" = "1 0.003435" ]; ok $? "--model claude: r3"
	run spend --ledger "$L" --format json --deployment claude-sonnet-4-5
	[ "$(total requests cost_usd)" = "1 0.003435" ]; ok $? "--deployment claude-sonnet-4-5: r3"
	run spend --ledger "$L" --format json --user '' --team ''
	[ "$(total requests)" = "5" ]; ok $? "--user '' --team '': all five (the gateway sets neither)"
	run spend --ledger "$L" --format json --team ops
	[ "$rc $(total requests cost_usd)" = "0 0 0" ]; ok $? "--team ops: nothing, a zero total"
	run spend --ledger "$L" --format csv --user alice
	[ "$rc $(wc -l <"$T/out")" = "0 1" ]; ok $? "--user alice --format csv: the header alone"

	run spend --ledger "$L" --by colour
	[ $rc -eq 1 ] && has "unknown dimension 'colour'" "$T/err"; ok $? "spend: an unknown --by exits 1, says so"
	run spend --ledger "$L" --since yesterday-ish
	[ $rc -eq 1 ] && has "--since:" "$T/err"; ok $? "spend: a bad --since exits 1, says so"
	run spend --ledger "$L" --since 2026-01-02 --until 2026-01-01
	[ $rc -eq 1 ] && has "--until must be later" "$T/err"; ok $? "spend: --until before --since exits 1"
	run spend --ledger "$L" --format xml
	[ $rc -eq 1 ] && has "unknown format 'xml'" "$T/err"; ok $? "spend: an unknown --format exits 1, says so"
	run spend --ledger "$T/no-ledger" --customer acme
	[ $rc -eq 1 ] && has "cannot open ledger '$T/no-ledger'" "$T/err"; ok $? "spend: a missing ledger exits 1, names it"
	run spend --ledger "$L" --tag a,b
	[ $rc -eq 1 ] && has "--tag: 'a,b' is a list" "$T/err"; ok $? "spend: --tag with a list exits 1"
	run spend --ledger "$L" --customer acme --customer globex
	[ $rc -eq 1 ] && has "--customer: given twice" "$T/err"; ok $? "spend: a filter given twice exits 1"
	run spend --ledger "$L" --provider
	[ $rc -eq 1 ] && has "'--provider' requires an argument" "$T/err"; ok $? "spend: a filter without a value exits 1"
	run spend --help
	[ $rc -eq 0 ] && has "--provider P" "$T/out" && has "cost_input_usd" "$T/out"
	ok $? "spend --help documents the filters and the cost columns"

	# tollctl -c: the gateway's config says where its ledger and run directory are
	cat >"$G/where.yaml" <<YAML
tollgate:
  ledger_path: $L
  run_dir: $G/run-elsewhere
model_list: []
YAML
	"$TOLLCTL" logs --ledger "$L" --json >"$T/want"
	run -c "$G/where.yaml" logs --json
	[ $rc -eq 0 ] && [ -s "$T/out" ] && cmp -s "$T/out" "$T/want"; ok $? "-c FILE logs: the ledger the config names"
	TOLLGATE_LEDGER="$T/no-ledger" run --config "$G/where.yaml" logs --json
	[ $rc -eq 0 ] && cmp -s "$T/out" "$T/want"; ok $? "--config FILE wins over \$TOLLGATE_LEDGER"
	run --config="$G/where.yaml" logs --json --ledger "$T/no-ledger"
	[ $rc -eq 1 ] && has "cannot open ledger '$T/no-ledger'" "$T/err"; ok $? "--config=FILE, and --ledger still wins"
	run -c "$G/where.yaml" stat
	has "ledger            $L" "$T/out" && has "$G/run-elsewhere/tollgate.shm" "$T/out"
	ok $? "-c FILE stat: the config's ledger and run_dir"
	run -c "$G/missing.yaml" logs
	[ $rc -eq 1 ] && has "cannot read config '$G/missing.yaml'" "$T/err"; ok $? "-c with a missing file exits 1, names it"
	printf 'tollgate:\n  ledger_path: [a, b]\nmodel_list: []\n' >"$G/bad.yaml"
	run -c "$G/bad.yaml" logs
	[ $rc -eq 1 ] && has "$G/bad.yaml:2:" "$T/err"; ok $? "-c with a bad config exits 1, names file:line"
	run -c
	[ $rc -eq 1 ] && has "-c needs a file name" "$T/err"; ok $? "-c without a file exits 1"
else
	skip 39 "tollgated, mockprovider, /usr/bin/python3 or curl absent"
fi

if [ -d "$SHARED" ]; then
	run cost --prices "$TOLLGATE_SRC/etc/prices.yaml" "$SHARED/usage_samples/anthropic_messages_stream_thinking.sse"
	ok $rc "a recorded Anthropic stream with the shipped prices"
	# 43 input * 3e-6 + 282 output (last cumulative message_delta) * 1.5e-5
	has '"cost_usd": 0.004359,' "$T/out"; ok $? "costs 0.004359 (model named by the stream)"
	run cost --prices "$SHARED/litellm_model_prices.json" --quiet --model bedrock/amazon.nova-pro-v1:0 \
	    "$SHARED/usage_samples/bedrock_converse_stream_metadata_event.jsonl"
	ok $rc "JSON-lines events with the full community map"
	# nova pro: 13 * 8e-7 + 82 * 3.2e-6
	has '"cost_usd": 0.0002728,' "$T/out"; ok $? "costs 0.0002728"
	run cost --prices "$SHARED/litellm_model_prices.json" --model gpt-4o \
	    "$SHARED/usage_samples/openai_chat_usage_docs_prompt_caching_example.json"
	has "not used for pricing, ignored:" "$T/err"; ok $? "unknown price-map fields are reported"
	[ "$(grep -o "'input_cost_per_pixel'" "$T/err" | wc -l)" -eq 1 ]; ok $? "each once"
	# golden costs: each recorded sample against the community map, computed by hand
	tab=$(printf '\t')
	grep -v '^#' "$TOLLGATE_SRC/tests/data/golden_costs.tsv" >"$T/golden"
	while IFS="$tab" read -r sample model want flag why; do
		run cost --quiet --prices "$SHARED/litellm_model_prices.json" --model "$model" \
		    "$SHARED/usage_samples/$sample"
		has "\"cost_usd\": $want," "$T/out"; ok $? "$sample as $model: $want ($why)"
		if [ "$flag" != "-" ]; then has "\"$flag\"" "$T/out"; ok $? "  flagged $flag"; fi
	done <"$T/golden"
else
	skip 22 "shared data absent"
fi

echo "1..$n"
[ $failed -eq 0 ]
