#!/bin/sh
# tollctl cost end to end: output, exit codes and error messages.
# Needs TOLLCTL (the binary) and TOLLGATE_SRC (the project root); make check sets both.
set -u
: "${TOLLGATE_SRC:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${TOLLCTL:=$TOLLGATE_SRC/build/tollctl}"
SHARED="$TOLLGATE_SRC/../shared/data"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
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
