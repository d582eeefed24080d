# Sourced by the gateway benchmarks: the mock provider on CPU 1, tollgated on
# CPU 0 with a config written by the caller, in a scratch directory removed on
# exit.  Needs $build (the build directory).  After bench_init: $tmp, $mport
# (the mock's port), $gport (tollgated's).
bench_init() {
	command -v wrk >/dev/null || { echo "bench: wrk is not installed (make deps installs it)" >&2; exit 1; }
	tmp=$(mktemp -d)
	mockpid=; gwpid=
	trap 'kill $mockpid $gwpid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
	mport=$((20000 + $$ % 10000)); gport=$((mport + 1))
	# tollgated started as root becomes tollgate.user (the packaged account, when it exists):
	# the benchmarks run it as whoever runs them, who owns $tmp
	bench_user=$(id -un)
	taskset -c 1 "$build/mockprovider" -l 127.0.0.1 -p $mport -q >/dev/null 2>&1 &
	mockpid=$!
}
# bench_config WORKERS [LINES]: $tmp/tollgate.yaml, one model "bench" (gpt-4o-mini on the mock) and
# the key sk-bench (LINES: more of the tollgate section), and $tmp/prices.yaml unless there is one
bench_config() {
	[ -f "$tmp/prices.yaml" ] || cat >"$tmp/prices.yaml" <<EOT
gpt-4o-mini: {input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7}
EOT
	cat >"$tmp/tollgate.yaml" <<EOT
tollgate:
  listen: 127.0.0.1
  user: $bench_user
  port: $gport
  workers: $1
  price_files: [prices.yaml]
  keys: [sk-bench]
${2:-}
general_settings: {master_key: sk-bench-master}
model_list:
  - model_name: bench
    litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mport/v1", api_key: x}
EOT
}
# start_gw: tollgated with $tmp/tollgate.yaml and a fresh ledger, once /health answers
start_gw() {
	rm -rf "$tmp/ledger"
	taskset -c 0 "$build/tollgated" -f -c "$tmp/tollgate.yaml" --ledger "$tmp/ledger" --run-dir "$tmp/run" 2>"$tmp/gw.log" &
	gwpid=$!
	for i in $(seq 100); do curl -fs "http://127.0.0.1:$gport/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "bench: tollgated did not start" >&2; cat "$tmp/gw.log" >&2; exit 1
}
stop_gw() { kill $gwpid; wait $gwpid 2>/dev/null || true; gwpid=; }
