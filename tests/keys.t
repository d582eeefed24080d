#!/bin/sh
# tollctl keys end to end: create, list, info, update, revoke; the secret
# shown once and never stored; exact money; exit codes and error messages.
# Needs TOLLCTL (the binary); make check sets it.
set -u
: "${TOLLGATE_SRC:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${TOLLCTL:=${TOLLGATE_BUILD:-$TOLLGATE_SRC/build}/tollctl}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
L="$T/ledger"
n=0
failed=0

ok() {	# ok CONDITION-EXIT-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
# run ARGS...: stdout to $T/out, stderr to $T/err, status in $rc
run() { "$TOLLCTL" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
has() { grep -qF -- "$1" "$2"; }
# field NAME: the value of a line "NAME   value" of the text output
field() { sed -n "s/^$1  *//p" "$T/out"; }
# refused DESCRIPTION MESSAGE ARGS...: exit 1 and MESSAGE on stderr
refused() {
	d=$1 m=$2
	shift 2
	run "$@"
	ok $(( rc != 1 )) "$d exits 1"
	has "$m" "$T/err"; ok $? "  and says: $m"
}

run keys --help
ok $rc "keys --help exits 0"
has "--max-budget USD" "$T/out"; ok $? "and documents --max-budget"
run keys
ok $(( rc != 1 )) "keys without a command exits 1"
run --help
has "keys" "$T/out"; ok $? "tollctl --help lists keys"

run keys create --ledger "$L" --alias web --user alice --team research --customer acme \
    --models gpt-4o,claude-sonnet-4-5 --tags prod,web --max-budget 10.50 --soft-budget 8 \
    --budget-duration 1mo --rpm 100 --tpm 50000 --expires 2030-01-01 \
    --metadata '{"owner": "alice", "cost_center": 1.10}'
ok $rc "create with every attribute (and a new ledger directory)"
secret=$(field key)
token=$(field token)
hint=$(field key_name)
echo "$secret" | grep -qE '^sk-[0-9A-Za-z]{43}$'; ok $? "prints the secret: sk- and 43 base62 digits"
echo "$token" | grep -qE '^[0-9a-f]{64}$'; ok $? "and the token: 64 hex digits"
has "only time the secret is shown" "$T/err"; ok $? "with a warning that it is not kept"
[ "$(field max_budget)" = "10.5 USD" ]; ok $? "max_budget 10.5 USD"
[ "$(field models)" = "gpt-4o, claude-sonnet-4-5" ]; ok $? "models"
[ "$(field expires)" = "2030-01-01T00:00:00Z" ]; ok $? "expires"
[ "$(field metadata)" = '{"owner":"alice","cost_center":1.10}' ]; ok $? "metadata, compact, as written"

! grep -qF -- "$secret" "$L/data.mdb"; ok $? "the secret is not in data.mdb"
! grep -qF -- "${secret#sk-}" "$L/data.mdb"; ok $? "nor its digits"
grep -qF -- "$hint" "$L/data.mdb"; ok $? "its hint is (the file was searched)"

run keys info "$secret" --ledger "$L"
ok $rc "info by secret"
[ "$(field token)" = "$token" ] && ! has "$secret" "$T/out"; ok $? "  shows the token, never the secret"
run keys info web --ledger "$L"
[ "$(field token)" = "$token" ]; ok $? "info by alias"
run keys info "$token" --ledger "$L" --json
ok $rc "info by token, --json"
has "\"token\": \"$token\"" "$T/out"; ok $? "  LiteLLM fields: token"
has '"key_alias": "web", "key_name": "sk-' "$T/out"; ok $? "  key_alias, key_name"
has '"max_budget": 10.5, "soft_budget": 8, "budget_duration": "1mo", "rpm_limit": 100, "tpm_limit": 50000' \
    "$T/out"; ok $? "  money as exact numbers, limits"
has '"expires": "2030-01-01T00:00:00Z"' "$T/out"; ok $? "  expires in RFC 3339"
! has '"key":' "$T/out"; ok $? "  no key field after creation"

run keys create --ledger "$L" --alias batch --max-budget 0.0001 --duration 30d --json
ok $rc "create --json"
has '"key": "sk-' "$T/out"; ok $? "  the secret, once, as key"
has '"max_budget": 0.0001,' "$T/out"; ok $? "  0.0001 USD exactly"
! has '"expires": null' "$T/out"; ok $? "  --duration sets expires"
TOLLGATE_LEDGER="$L" "$TOLLCTL" keys create --alias old --expires 2020-01-01 >"$T/out" 2>"$T/err"
ok $? "TOLLGATE_LEDGER is the default ledger"
[ "$(field status)" = "expired" ]; ok $? "a key past its expiry is expired"

run keys list --ledger "$L"
ok $rc "list"
[ "$(grep -c '^[0-9a-f]\{64\} ' "$T/out")" -eq 3 ]; ok $? "  three keys"
grep -q "^$token .* active  *web  *alice  *research  *10.5/1mo" "$T/out"; ok $? "  a line per key"
run keys list --ledger "$L" --json
[ "$(grep -c '^{"token": ' "$T/out")" -eq 3 ]; ok $? "list --json: one object a line"

run keys update web --ledger "$L" --max-budget 20 --tags "" --user "" --rpm none
ok $rc "update"
[ "$(field max_budget)" = "20 USD" ]; ok $? "  the max budget changed"
[ "$(field tags)" = "-" ] && [ "$(field user_id)" = "-" ] && [ "$(field rpm_limit)" = "none" ]
ok $? "  tags, user_id and rpm_limit removed"
[ "$(field team_id)" = "research" ] && [ "$(field soft_budget)" = "8 USD" ]
ok $? "  the rest kept"
refused "a soft budget over the max" "--soft-budget: more than max_budget" \
    keys update web --ledger "$L" --soft-budget 25
refused "an alias another live key has" "--alias: 'web' is taken" \
    keys update batch --ledger "$L" --alias web

run keys revoke web --ledger "$L"
ok $rc "revoke"
has "revoked key $hint" "$T/out"; ok $? "  names the key"
run keys revoke "$secret" --ledger "$L"
ok $rc "revoking again is no error"
has "already revoked" "$T/out"; ok $? "  and says so"
run keys info "$token" --ledger "$L"
[ "$(field status)" = "revoked" ]; ok $? "info shows it revoked"
run keys list --ledger "$L"
! grep -q "^$token" "$T/out"; ok $? "list hides revoked keys"
run keys list --ledger "$L" --all
grep -q "^$token .* revoked" "$T/out"; ok $? "list --all shows them"
refused "updating a revoked key" "is revoked and cannot change" \
    keys update "$token" --ledger "$L" --rpm 5
run keys create --ledger "$L" --alias web
ok $rc "a revoked key's alias is free again"

refused "a budget finer than a picodollar" "--max-budget: '1.0000000000001' is finer than a picodollar" \
    keys create --ledger "$L" --max-budget 1.0000000000001
refused "a negative budget" "--soft-budget: '-2' is negative" \
    keys create --ledger "$L" --soft-budget -2
refused "a budget that is not a number" "--max-budget: 'ten' is not an amount" \
    keys create --ledger "$L" --max-budget ten
refused "an unknown duration unit" "--budget-duration: '1w' is not a duration" \
    keys create --ledger "$L" --budget-duration 1w
refused "a fractional rpm" "--rpm: '1.5' is not a whole number" \
    keys create --ledger "$L" --rpm 1.5
refused "a relative --expires" "--expires: '7d' is not an RFC 3339" \
    keys create --ledger "$L" --expires 7d
refused "--expires with --duration" "give one of them" \
    keys create --ledger "$L" --expires 2030-01-01 --duration 1d
refused "metadata that is not an object" "--metadata: expected a JSON object" \
    keys create --ledger "$L" --metadata '[1]'
refused "malformed metadata" "--metadata: malformed JSON" \
    keys create --ledger "$L" --metadata '{"a":'
refused "an empty model name" "--models: an empty name in 'a,,b'" \
    keys create --ledger "$L" --models a,,b
refused "an alias that reads as a secret" "--alias: 'sk-mine' would read as a secret" \
    keys create --ledger "$L" --alias sk-mine
refused "an option of another command" "--max-budget does not apply to 'tollctl keys list'" \
    keys list --ledger "$L" --max-budget 5
refused "update without a change" "needs an attribute to change" \
    keys update batch --ledger "$L"
refused "info without a key" "needs a KEY" keys info --ledger "$L"
refused "an unknown key" "no key 'nobody' in ledger" keys info nobody --ledger "$L"
refused "an unknown keys command" "unknown keys command 'rotate'" keys rotate
refused "info of a missing ledger" "cannot open ledger '$T/none': no ledger there" \
    keys info web --ledger "$T/none"
[ ! -e "$T/none" ]; ok $? "  without creating it"
refused "revoke in a missing ledger" "cannot open ledger '$T/none'" \
    keys revoke web --ledger "$T/none"
[ ! -e "$T/none" ]; ok $? "  without creating it"

echo "1..$n"
[ $failed -eq 0 ]
