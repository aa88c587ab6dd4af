#!/usr/bin/env bash
# Job-field flags with a JSON Lines file are defaults: `--file F --max-retries 0` gives max_retries
# 0 to the jobs without their own key, and a job's own "max_retries":2 wins. With backoff_base 1,
# the two go dead after 1 attempt, the third after 3.
source "$(dirname "$0")/lib.sh"
q config set backoff_base 1 >/dev/null 2>&1
cat >"$T/jobs.jsonl" <<JOBS
{"id":"plain1","command":"echo fail 1; exit 1"}
{"id":"own","command":"echo own attempt \$QUEUECTL_ATTEMPT; exit 1","max_retries":2}
{"id":"plain2","command":"exit 1"}
JOBS
out=$(q enqueue --file "$T/jobs.jsonl" --max-retries 0) || fail "enqueue --file with --max-retries 0 was refused"
[ "$out" = "$(printf 'plain1\nown\nplain2')" ] || fail "enqueue should print the three ids, got: $out"
[ "$(field plain1 max_retries)" = 0 ] || fail "plain1: max_retries $(field plain1 max_retries), expected the flag's 0"
[ "$(field plain2 max_retries)" = 0 ] || fail "plain2: max_retries $(field plain2 max_retries), expected the flag's 0"
[ "$(field own max_retries)" = 2 ] || fail "own: max_retries $(field own max_retries), expected its own 2"
check "max_retries: plain1 0, plain2 0 (the flag), own 2 (its own key)"

q worker start --count 1 --detach >/dev/null 2>&1 || fail "worker start failed"
wait_until 30 "plain1 dead" state_is plain1 dead
wait_until 30 "plain2 dead" state_is plain2 dead
wait_until 30 "own dead" state_is own dead
[ "$(field plain1 attempts)" = 1 ] || fail "plain1: $(field plain1 attempts) attempts, expected 1"
[ "$(field plain2 attempts)" = 1 ] || fail "plain2: $(field plain2 attempts) attempts, expected 1"
[ "$(field own attempts)" = 3 ] || fail "own: $(field own attempts) attempts, expected 3"
[ "$(field own exit_code)" = 1 ] || fail "own: exit_code should be 1"
check "plain1 and plain2 dead after 1 attempt, own dead after 3"

q worker stop >/dev/null 2>&1
[ ! -f "$PIDF" ] || fail "pidfile left behind"
check "workers stopped"
