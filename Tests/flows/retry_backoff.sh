#!/usr/bin/env bash
# A failing job is retried with growing delays (backoff_base^k) and lands in the DLQ.
source "$(dirname "$0")/lib.sh"
q config set backoff_base 2 >/dev/null 2>&1
q enqueue '{"id":"flaky","command":"echo attempt $QUEUECTL_ATTEMPT; exit 3","max_retries":2}' >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 30 "flaky dead" state_is flaky dead
[ "$(field flaky attempts)" = 3 ] || fail "expected 3 attempts"
[ "$(field flaky exit_code)" = 3 ] || fail "expected exit_code 3"
field flaky last_error | grep -q "exit code 3" || fail "last_error should say exit code 3"
mapfile -t starts < <(history_starts flaky)
[ "${#starts[@]}" = 3 ] || fail "expected 3 recorded attempts, got ${#starts[@]}"
gap1=$(( starts[1] - starts[0] )); gap2=$(( starts[2] - starts[1] ))
echo "  gaps between attempts: ${gap1} ms, ${gap2} ms"
[ "$gap1" -ge 2000 ] || fail "retry 1 came after ${gap1} ms, before the 2 s backoff"
[ "$gap2" -ge 4000 ] || fail "retry 2 came after ${gap2} ms, before the 4 s backoff"
[ "$gap2" -gt "$gap1" ] || fail "delays did not grow"
check "retried after ≥2 s then ≥4 s, then dead"
q dlq list --json | grep -q '"id": "flaky"' || fail "flaky not in dlq list"
q logs flaky --attempt 2 | grep -q "attempt 2" || fail "attempt 2 log missing"
q worker stop >/dev/null 2>&1
q dlq retry flaky >/dev/null 2>&1
state_is flaky pending || fail "dlq retry should make it pending"
[ "$(field flaky attempts)" = 0 ] || fail "dlq retry should reset attempts"
check "in the DLQ; dlq retry put it back to pending with 0 attempts"
