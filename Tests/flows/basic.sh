#!/usr/bin/env bash
# A basic job completes and its output is captured.
source "$(dirname "$0")/lib.sh"
q enqueue '{"id":"job1","command":"echo hello from job1; echo to stderr >&2"}' >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "job1 completed" state_is job1 completed
[ "$(field job1 exit_code)" = 0 ] || fail "exit_code should be 0"
[ "$(field job1 attempts)" = 1 ] || fail "attempts should be 1"
q logs job1 | grep -q "hello from job1" || fail "stdout not in logs"
q logs job1 | grep -q "to stderr" || fail "stderr not in logs"
check "job1 completed with exit 0, output captured"
q worker stop >/dev/null 2>&1
[ ! -f "$H/workers.pid" ] || fail "pidfile left behind"
check "workers stopped, pidfile removed"
