#!/bin/sh
# make run: the newcomer's first run.  Starts the mock provider (the 'demo'
# model answers offline) and tollgated in the foreground with etc/tollgate.yaml,
# a ledger under build/run/ and a demo master key unless one is set.
# Stop with Ctrl-C; both processes stop.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
mkdir -p "$build/run"
: "${TOLLGATE_MASTER_KEY:=sk-tollgate-demo}"
export TOLLGATE_MASTER_KEY
"$build/mockprovider" -l 127.0.0.1 -p 4001 -q &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT INT TERM
cat <<EOT
tollgate is starting on http://127.0.0.1:4000 (mock provider on :4001).
Try, from another terminal:
  curl -s http://127.0.0.1:4000/v1/chat/completions -H "Authorization: Bearer $TOLLGATE_MASTER_KEY" \\
       -H "Content-Type: application/json" -d '{"model": "demo", "messages": [{"role": "user", "content": "hi"}]}' -D -
  build/tollctl logs --ledger build/run/ledger
The dashboard: http://127.0.0.1:4000/ui (sign in with the master key, $TOLLGATE_MASTER_KEY).
EOT
"$build/tollgated" -f -c "$root/etc/tollgate.yaml" --ledger "$build/run/ledger" --run-dir "$build/run" \
	--ui-dir "$root/contrib/ui"
