#!/bin/sh
# Replays every fuzz target's seeds and regression inputs (seeds.sh) through
# the target built without libFuzzer, with ASan and UBSan (build/san/fuzz/):
# an input that once crashed a parser must not crash it again.
set -u
: "${TOLLGATE_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TOLLGATE_BUILD:=$TOLLGATE_SRC/build}"
bins=$(ls "$TOLLGATE_SRC"/tests/fuzz/fuzz_*.c | sed 's,.*/,,; s,\.c$,,')
echo "1..$(echo "$bins" | wc -l)"
n=0
for name in $bins; do
	n=$((n + 1))
	bin="$TOLLGATE_BUILD/san/fuzz/$name"
	seeds=$(sh "$TOLLGATE_SRC/tests/fuzz/seeds.sh" "$name" | wc -l)
	if [ "$seeds" -eq 0 ]; then
		echo "not ok $n - $name: no seeds"
	elif sh "$TOLLGATE_SRC/tests/fuzz/seeds.sh" "$name" | tr '\n' '\0' |
	    xargs -0 "$bin" >/dev/null; then
		echo "ok $n - $name replays $seeds inputs"
	else
		echo "not ok $n - $name crashed on one of its $seeds inputs"
	fi
done
