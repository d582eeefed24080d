#!/bin/sh
# Runs each libFuzzer target for SECONDS, seeded by seeds.sh (its regression
# inputs, tests/data and, when present, ../shared/data).  Usage: run.sh SECONDS BINARY...
# A crash leaves its input in build/fuzz/crashes/; once fixed, the input goes in
# tests/fuzz/seeds/NAME/, which `make check` replays (replay.t).
set -eu
seconds=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$root/build/fuzz/corpus/$name"
	crashes="$root/build/fuzz/crashes/$name"
	mkdir -p "$corpus" "$crashes"
	sh "$root/tests/fuzz/seeds.sh" "$name" | while read -r f; do cp "$f" "$corpus"/; done
	echo "fuzz: $name for ${seconds}s"
	if ! "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
	    -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" 2>"$root/build/fuzz/$name.log"; then
		echo "fuzz: $name FAILED, see build/fuzz/$name.log and $crashes" >&2
		status=1
	fi
	grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)" "$root/build/fuzz/$name.log" || true
	echo "corpus: $(ls "$corpus" | wc -l) inputs"
done
exit $status
