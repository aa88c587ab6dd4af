#!/usr/bin/env bash
# wait: 0 when every job completed, 1 when any died or was cancelled, or on timeout.
source "$(dirname "$0")/lib.sh"
q enqueue --id ok1 -- "sleep 0.2" >/dev/null
q enqueue --id ok2 -- "true" >/dev/null
q worker start --count 2 --detach >/dev/null 2>&1
q wait ok1 ok2 >/dev/null 2>&1 || fail "wait on completed jobs should exit 0"
check "wait ok1 ok2 → 0"
q enqueue --id bad --max-retries 0 -- "exit 2" >/dev/null
set +e; q wait bad >/dev/null 2>&1; rc=$?; set -e
[ $rc = 1 ] || fail "wait on a dead job should exit 1, got $rc"
check "wait on a dead job → 1"
q enqueue --id slow -- "sleep 30 # $MARK" >/dev/null
set +e; q wait slow --timeout 0.5 >/dev/null 2>&1; rc=$?; set -e
[ $rc = 1 ] || fail "wait --timeout should exit 1, got $rc"
check "wait --timeout → 1"
q cancel slow >/dev/null 2>&1
q enqueue --id last -- "true" >/dev/null
set +e; out=$(q wait 2>&1); rc=$?; set -e
[ $rc = 0 ] || fail "wait for the whole queue should exit 0 (all unfinished jobs completed): $out"
check "wait (whole queue) → 0"
