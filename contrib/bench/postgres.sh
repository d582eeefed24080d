#!/bin/sh
# make bench, sixth entry: the fleet ledger.  A private PostgreSQL (Debian's,
# as 'nobody' when run as root) in a scratch directory; then
#   rate: a ledger of BENCH_SHIP_RECORDS (default 200,000) records made by
#         ledgergen, shipped by a tollgated started on it: records/s until
#         PostgreSQL holds them all;
#   lag:  tollgated with 2 workers at full speed against the mock (wrk, c=64,
#         BENCH_SHIP_SECONDS, default 20 s): the records not yet shipped,
#         sampled every second from /health/readiness, and how long the
#         shipper takes to catch up once the load stops.
# Appends to contrib/bench/RESULTS.md.  Usage: postgres.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${BENCH_SHIP_RECORDS:-200000}
dur=${BENCH_SHIP_SECONDS:-20}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
[ -n "$pgbin" ] || { echo "postgres: no PostgreSQL server (apt install postgresql)" >&2; exit 0; }
. "$root/contrib/bench/common.sh"
bench_init
pgpid=
trap 'kill $mockpid $gwpid $pgpid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
as=""
mkdir -p "$tmp/pg"
if [ "$(id -u)" = 0 ]; then	# PostgreSQL will not run as root
	as="runuser -u nobody --"
	chown nobody "$tmp" "$tmp/pg"
fi
$as "$pgbin/initdb" -D "$tmp/pg/data" -U tollgate -A trust -E UTF8 --no-sync >/dev/null
pport=$((gport + 1))
$as "$pgbin/postgres" -D "$tmp/pg/data" -p $pport -k "$tmp/pg" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c synchronous_commit=off >"$tmp/pg.log" 2>&1 &
pgpid=$!
for i in $(seq 100); do "$pgbin/pg_isready" -q -h "$tmp/pg" -p $pport && break; sleep 0.1; done
psql() { "$pgbin/psql" -h "$tmp/pg" -p $pport -U tollgate -d postgres -At -c "$1"; }
dsn="postgresql://tollgate@127.0.0.1:$pport/postgres"
now() { date +%s%N; }
rows() { psql "SELECT count(*) FROM tollgate_spend" 2>/dev/null || echo 0; }
cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7}
EOT
config() {	# config WORKERS
	cat >"$tmp/tollgate.yaml" <<EOT
tollgate: {listen: 127.0.0.1, port: $gport, workers: $1, price_files: [prices.yaml], keys: [sk-bench],
  user: $bench_user, host_id: bench, postgres: {dsn: "$dsn"}}
model_list:
  - model_name: bench
    litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mport/v1", api_key: x}
EOT
}
# ---- the rate: a ledger made beforehand, shipped from the start
"$build/ledgergen" "$tmp/ledger" "$n" 30 >/dev/null
config 1
t0=$(now)
taskset -c 0 "$build/tollgated" -f -c "$tmp/tollgate.yaml" --ledger "$tmp/ledger" --run-dir "$tmp/run" \
    2>"$tmp/gw.log" &
gwpid=$!
while [ "$(rows)" -lt "$n" ]; do
	sleep 0.2
	[ $(( ($(now) - t0) / 1000000000 )) -lt 600 ] || { echo "postgres: not shipped in 10 min" >&2; break; }
done
t1=$(now)
stop_gw
rate=$(echo "$n $t0 $t1" | awk '{printf "%.0f", $1 / (($3 - $2) / 1e9)}')
# ---- the lag under load
psql "TRUNCATE tollgate_spend" >/dev/null
config 2
start_gw
KEY=sk-bench taskset -c 1 wrk -t1 -c64 -d${dur}s -s "$root/contrib/bench/chat.lua" \
    "http://127.0.0.1:$gport/v1/chat/completions" >"$tmp/wrk.out" &
wrkpid=$!
max=0
while kill -0 $wrkpid 2>/dev/null; do
	b=$(curl -fs "http://127.0.0.1:$gport/health/readiness" | sed 's/.*"postgres_behind": *\([0-9]*\).*/\1/')
	[ -n "$b" ] && [ "$b" -gt "$max" ] && max=$b
	sleep 1
done
wait $wrkpid || true
served=$("$build/tollctl" stat --ledger "$tmp/ledger" | awk '/^records/ {print $2}')
t2=$(now)
while [ "$(rows)" -lt "$served" ]; do
	sleep 0.1
	[ $(( ($(now) - t2) / 1000000000 )) -lt 120 ] || break
done
t3=$(now)
stop_gw
rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
catch=$(echo "$t2 $t3" | awk '{printf "%.1f", ($2 - $1) / 1e9}')
table="$tmp/table"
{
	echo "| fleet ledger (PostgreSQL $(basename "$(dirname "$pgbin")") on loopback, fsync off) | value | target |"
	echo "|---|---|---|"
	echo "| shipping rate, a $n-record ledger from the start | $rate records/s | |"
	echo "| load: 2 workers at full speed, c=64, ${dur}s | $rps requests/s | |"
	echo "| records behind PostgreSQL during it (most, sampled each second) | $max | |"
	echo "| after the load, until PostgreSQL held all $served records | $catch s | keeps up |"
} >"$table"
cat "$table"
{
	echo
	echo "## Fleet ledger ($(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$root" && git rev-parse --short HEAD))"
	echo
	echo "tollgated on CPU 0, the mock and wrk on CPU 1, PostgreSQL wherever the scheduler puts it."
	echo
	cat "$table"
} >>"$root/contrib/bench/RESULTS.md"
