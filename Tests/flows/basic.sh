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
# Output beyond log_max_bytes is cut, and the log says where.
q config set log_max_bytes 100 >/dev/null 2>&1
q enqueue '{"id":"chatty","command":"for i in $(seq 100); do echo 0123456789; done"}' >/dev/null
wait_until 20 "chatty completed" state_is chatty completed
[ "$(q logs chatty | head -c 100 | wc -c)" = 100 ] || fail "first 100 bytes should be kept"
q logs chatty | grep -q "output cut at 100 bytes (log_max_bytes); 1100 bytes in all" || fail "cut marker missing: $(q logs chatty | tail -2)"
check "output capped at log_max_bytes with a marker"
q worker stop >/dev/null 2>&1
[ ! -f "$PIDF" ] || fail "pidfile left behind"
check "workers stopped, pidfile removed"
