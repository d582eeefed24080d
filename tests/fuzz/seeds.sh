#!/bin/sh
# Prints the seed files of one fuzz target, one a line: its own regression
# inputs (tests/fuzz/seeds/NAME/), the fixtures of tests/data it reads and,
# when present, the shared samples in ../shared/data (read where they are,
# never copied into the tree).  Usage: seeds.sh NAME
set -u
name=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
shared="$root/../shared/data"
list() { for f in "$@"; do [ -f "$f" ] && echo "$f"; done; }
list "$root"/tests/fuzz/seeds/"$name"/*
case $name in
fuzz_usage)
	list "$root"/tests/data/*.json "$root"/tests/data/*.sse "$root"/tests/data/regressions/*
	list "$shared"/usage_samples/*.json "$shared"/usage_samples/*.sse \
	    "$shared"/usage_samples/*.jsonl ;;
fuzz_pricemap)
	list "$root"/tests/data/*.yaml "$root/etc/prices.yaml" ;;
fuzz_config)
	list "$root"/tests/data/config/*.yaml "$root/etc/tollgate.yaml" ;;
fuzz_http1)
	list "$root"/tests/data/http1/*.http ;;
fuzz_sse)
	list "$root"/tests/data/*.sse "$shared"/usage_samples/*.sse ;;
fuzz_reconcile)
	list "$root"/tests/data/reconcile/* "$shared"/provider_exports/*.csv \
	    "$shared"/provider_exports/*.tsv ;;
fuzz_xlate*)
	list "$root"/tests/data/xlate/*/* "$root"/tests/data/anthropic_stream.sse \
	    "$root"/tests/data/chat_completion.json ;;
esac
exit 0
