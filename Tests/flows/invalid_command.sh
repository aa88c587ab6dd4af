#!/usr/bin/env bash
# An invalid command fails gracefully into the DLQ with a clear error.
source "$(dirname "$0")/lib.sh"
q enqueue '{"id":"bad","command":"nosuchcommand_xyz_123","max_retries":1}' >/dev/null
q config set backoff_base 1 >/dev/null 2>&1
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "bad dead" state_is bad dead
[ "$(field bad exit_code)" = 127 ] || fail "exit_code should be 127"
field bad last_error | grep -q "command not found" || fail "last_error should say command not found: $(field bad last_error)"
[ "$(field bad attempts)" = 2 ] || fail "should have run 1 + max_retries times"
check "dead after 2 attempts: $(field bad last_error)"
q worker status >/dev/null || fail "worker still healthy"
