#!/bin/sh
# make bench: runs the pricing micro benchmarks, prints the figures and records
# them in contrib/bench/RESULTS.md (date, CPU, commit).  Usage: run.sh BINARY
set -eu
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
map="$root/../shared/data/litellm_model_prices.json"
[ -f "$map" ] || map=""
out=$(cd "$root" && taskset -c 0 "$bin" $map etc/prices.yaml 2>&1 || "$bin" $map etc/prices.yaml)
echo "$out"
get() { echo "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
results="$root/contrib/bench/RESULTS.md"
# sections other targets wrote (make fuzz, make torture) stay; make bench's own go
kept=$(awk '/^## / { keep = $0 !~ /^## (Pricing engine|Gateways side by side|Ledger and reports|Admission with budgets|Accountant under load)/ }
    keep' "$results" 2>/dev/null || true)
{
	echo "# Benchmark results"
	echo
	echo "Written by \`make bench\` (contrib/bench/run.sh); the newest run replaces its own sections and keeps the others (fuzzing, torture)."
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "- cpu: $cpu ($(nproc) cores; pinned to CPU 0 when taskset works)"
	echo "- commit: $commit"
	echo
	echo "## Pricing engine"
	echo
	echo "| figure | value | target |"
	echo "|---|---|---|"
	echo "| normalise + price a $(get body_bytes)-byte chat completion | $(get price_body_ns) ns | < 2000 ns |"
	echo "| split + normalise + price a 51-event stream ($(get stream_bytes) bytes) | $(get price_stream_ns) ns | |"
	echo "| load + compile the community price map (~3,000 models) | $(get map_load_community_ms) ms | < 150 ms |"
	echo "| load + compile etc/prices.yaml | $(get map_load_curated_ms) ms | |"
	echo
	echo "Medians of 7 rounds; each round prices 200,000 bodies (20,000 streams)."
	[ -z "$kept" ] || printf '\n%s\n' "$kept"
} >"$results"
echo "bench: figures written to contrib/bench/RESULTS.md"
