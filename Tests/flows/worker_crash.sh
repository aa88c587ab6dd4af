#!/usr/bin/env bash
# A job that kills its own worker (kill -9 $PPID) on every attempt: the first crash is recovered
# as "worker lost"; when the worker that took the job up crashes too, within the minute, the
# supervisor records that attempt as failed ("worker crashed") instead of restarting workers
# into the same crash forever. The job ends in the DLQ and the supervisor keeps serving.
source "$(dirname "$0")/lib.sh"
q config set backoff_base 1 >/dev/null 2>&1
q enqueue "{\"id\":\"crasher\",\"command\":\"kill -9 \$PPID; sleep 5 # $MARK\",\"max_retries\":1}" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 30 "crasher dead" state_is crasher dead
q show crasher --json | grep -q '"error": "worker lost' || fail "the first crash should be recovered as a lost worker"
q show crasher --json | grep -q '"last_error": "worker crashed (killed by signal 9) twice within a minute' || fail "the second crash should be recorded by the supervisor: $(q show crasher --json | grep last_error)"
[ "$(field crasher attempts)" = 2 ] || fail "expected 2 attempts, got $(field crasher attempts)"
check "crasher: worker lost, then worker crashed; in the DLQ after 2 attempts"
q enqueue --id after -- "echo fine" >/dev/null
wait_until 20 "a later job still runs" state_is after completed
check "the supervisor kept serving: a later job completed"
