#!/usr/bin/env bash
# cancel: a pending job never runs; a running one is stopped (its process group terminated).
source "$(dirname "$0")/lib.sh"
q enqueue --id waiting --delay 1s -- "touch $T/waiting-ran" >/dev/null
q enqueue --id running -- "sleep 60 # $MARK" >/dev/null
q cancel waiting >/dev/null
state_is waiting cancelled || fail "waiting should be cancelled"
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "running started" job_running
q cancel running >/dev/null 2>&1
state_is running cancelled || fail "running should be cancelled, is $(field running state)"
wait_until 10 "running's process gone" no_job_left
sleep 1.5   # past waiting's due time: it must still not run
[ ! -e "$T/waiting-ran" ] || fail "a cancelled job ran"
state_is running cancelled || fail "the worker overwrote the cancellation"
set +e; q cancel running >/dev/null 2>&1; rc=$?; set -e
[ $rc = 1 ] || fail "cancelling a finished job should fail"
check "pending job never ran; running job stopped and stays cancelled"
q list --state cancelled | grep -q waiting || fail "list --state cancelled"
