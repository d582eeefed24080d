#!/bin/sh
# make bench, third entry: the ledger and the reports at size.  Fills a scratch
# ledger with BENCH_RECORDS synthetic records (default 10,000,000, the issue's
# figure: about 4.5 GiB of disk for a few minutes) over 30 days, then times the
# aggregate rebuild (the accountant's follow), tollctl spend and tollctl logs.
# Appends to RESULTS.md.
# Usage: ledger.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${BENCH_RECORDS:-10000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s%N; }
ms() { echo "$1 $2" | awk '{printf "%.1f", ($2 - $1) / 1e6}'; }

t0=$(now); "$build/ledgergen" "$tmp/ledger" "$n" 30; t1=$(now)
bpr=$("$build/tollctl" stat --ledger "$tmp/ledger" | awk '/bytes per record/ {print $4}')
t2=$(now); "$build/tollctl" aggregate --rebuild --ledger "$tmp/ledger" >/dev/null; t3=$(now)
best_spend=; best_logs=; best_key=
min() { echo "${1:-$2} $2" | awk '{print ($1 < $2) ? $1 : $2}'; }
for i in 1 2 3; do
	a=$(now); "$build/tollctl" spend --by model --since 30d --ledger "$tmp/ledger" >/dev/null; b=$(now)
	c=$(now); "$build/tollctl" logs --limit 100 --ledger "$tmp/ledger" >/dev/null; d=$(now)
	e=$(now); "$build/tollctl" spend --by key --since 30d --ledger "$tmp/ledger" >/dev/null; f=$(now)
	best_spend=$(min "$best_spend" "$(ms $a $b)")
	best_logs=$(min "$best_logs" "$(ms $c $d)")
	best_key=$(min "$best_key" "$(ms $e $f)")
done
append_rate=$(echo "$n $t0 $t1" | awk '{printf "%.0f", $1 / (($3 - $2) / 1e9)}')
follow_rate=$(echo "$n $t2 $t3" | awk '{printf "%.0f", $1 / (($3 - $2) / 1e9)}')
table=$(cat <<EOT
| figure | value | target |
|---|---|---|
| records | $n | 10,000,000 |
| ledger bytes per record | $bpr | |
| append rate (batches of 10,000) | $append_rate records/s | |
| aggregate rebuild (the accountant's follow) | $follow_rate records/s | >= 50,000 |
| tollctl spend --by model --since 30d (best of 3) | $best_spend ms | < 100 ms |
| tollctl spend --by key --since 30d (best of 3) | $best_key ms | |
| tollctl logs --limit 100 (best of 3) | $best_logs ms | < 50 ms |
EOT
)
echo "$table"
{
	echo
	echo "## Ledger and reports ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "contrib/ledgergen records over 30 days; times include process start."
	echo
	echo "$table"
} >>"$root/contrib/bench/RESULTS.md"
