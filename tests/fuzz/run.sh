#!/bin/sh
# Runs each libFuzzer target for SECONDS, seeded from tests/data and, when
# present, ../shared/data.  Usage: run.sh SECONDS BINARY...
# A crash leaves its input in build/fuzz/crashes/; turn it into a regression test.
set -eu
seconds=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
shared="$root/../shared/data"
status=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$root/build/fuzz/corpus/$name"
	crashes="$root/build/fuzz/crashes/$name"
	mkdir -p "$corpus" "$crashes"
	case $name in
	fuzz_usage)
		cp "$root"/tests/data/*.json "$root"/tests/data/*.sse "$corpus"/ 2>/dev/null || true
		[ -d "$shared/usage_samples" ] && cp "$shared"/usage_samples/*.json \
		    "$shared"/usage_samples/*.sse "$shared"/usage_samples/*.jsonl "$corpus"/ ;;
	fuzz_pricemap)
		cp "$root"/tests/data/*.yaml "$root/etc/prices.yaml" "$corpus"/ ;;
	fuzz_config)
		cp "$root"/tests/data/config/*.yaml "$root/etc/tollgate.yaml" "$corpus"/ ;;
	fuzz_http1)
		cp "$root"/tests/data/http1/*.http "$corpus"/ ;;
	esac
	echo "fuzz: $name for ${seconds}s"
	if ! "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
	    -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" 2>"$root/build/fuzz/$name.log"; then
		echo "fuzz: $name FAILED, see build/fuzz/$name.log and $crashes" >&2
		status=1
	fi
	grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$root/build/fuzz/$name.log" || true
done
exit $status
