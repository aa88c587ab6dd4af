#!/usr/bin/env bash
# env_impersonation: a job cannot set QUEUECTL_* variables through its "env", and a job whose
# child claims another job's identity through its environment cannot get that job killed:
# cancelling the impostor leaves the victim running; cancelling the victim stops it.
source "$(dirname "$0")/lib.sh"
# Sleep durations unique to this run, so pgrep finds only this flow's processes.
U=$$
V_SLEEP="sleep 3001.$U"          # the victim
C_SLEEP="sleep 3002.$U"          # the impostor's child, claiming to be the victim
I_SLEEP="sleep 3003.$U"          # the impostor itself
ours() { pgrep -f "^sleep 300[123]\.$U\$"; }
flow_cleanup() { pkill -9 -f "^sleep 300[123]\.$U\$" 2>/dev/null || true; }
home_sum() { (cd "$H" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
jobs_json() { q list --json 2>/dev/null | tr -d ' \n'; }

# (a) "env" may not set QUEUECTL_*: exit 2, one error line naming the variable, nothing written.
[ "$(jobs_json)" = "[]" ] || fail "the home should start empty"   # (a read may create the store's files)
before=$(home_sum)
set +e; q enqueue '{"command":"true","env":{"QUEUECTL_JOB_ID":"x"}}' >"$T/a.out" 2>"$T/a.err"; rc=$?; set -e
[ $rc = 2 ] || fail "enqueue with env QUEUECTL_JOB_ID exited $rc (expected 2): $(head -c 400 "$T/a.err")"
[ "$(home_sum)" = "$before" ] || fail "the home changed"
[ ! -s "$T/a.out" ] || fail "stdout should be empty: $(cat "$T/a.out")"
[ "$(wc -l < "$T/a.err")" = 1 ] || fail "expected one line on stderr: $(head -c 400 "$T/a.err")"
grep -q '^queuectl: error: .*QUEUECTL_JOB_ID' "$T/a.err" || fail "the error should name QUEUECTL_JOB_ID: $(cat "$T/a.err")"
[ "$(jobs_json)" = "[]" ] || fail "a job was enqueued: $(jobs_json)"
printf '%s\n' '{"id":"ok1","command":"true"}' '{"id":"bad","command":"true","env":{"A":"1","QUEUECTL_ATTEMPT":"1"}}' > "$T/batch.jsonl"
set +e; q enqueue --file "$T/batch.jsonl" >"$T/a.out" 2>"$T/a.err"; rc=$?; set -e
[ $rc = 2 ] || fail "a batch with env QUEUECTL_ATTEMPT exited $rc (expected 2): $(head -c 400 "$T/a.err")"
[ "$(home_sum)" = "$before" ] || fail "the home changed"
grep -q '^queuectl: error: .*QUEUECTL_ATTEMPT' "$T/a.err" || fail "the error should name QUEUECTL_ATTEMPT: $(cat "$T/a.err")"
[ "$(jobs_json)" = "[]" ] || fail "part of the batch was enqueued: $(jobs_json)"
check "env QUEUECTL_* refused, nothing enqueued, home untouched"

# (b) The impostor's background child carries the victim's QUEUECTL_JOB_ID and QUEUECTL_ATTEMPT.
q worker start --count 2 --detach >/dev/null 2>&1 || fail "worker start"
q enqueue --id victim -- "$V_SLEEP" >/dev/null
q enqueue --id impostor -- "env QUEUECTL_JOB_ID=victim QUEUECTL_ATTEMPT=1 $C_SLEEP & $I_SLEEP" >/dev/null
wait_until 20 "victim processing" state_is victim processing
wait_until 20 "impostor processing" state_is impostor processing
v_running() { pgrep -f "^sleep 3001\.$U\$" >/dev/null; }
c_running() { pgrep -f "^sleep 3002\.$U\$" >/dev/null; }
i_running() { pgrep -f "^sleep 3003\.$U\$" >/dev/null; }
wait_until 20 "the victim's sleep running" v_running
wait_until 20 "the impostor's child running" c_running
wait_until 20 "the impostor's sleep running" i_running
vpid=$(pgrep -f "^sleep 3001\.$U\$")
[ "$(echo "$vpid" | wc -l)" = 1 ] || fail "expected one victim process, got: $vpid"
tr '\0' '\n' < "/proc/$(pgrep -f "^sleep 3002\.$U\$")/environ" | grep -qx 'QUEUECTL_JOB_ID=victim' \
    || fail "the impostor's child does not carry QUEUECTL_JOB_ID=victim (test setup)"
check "victim (pid $vpid) and impostor running; the impostor's child claims to be the victim"

q cancel impostor >/dev/null 2>&1 || fail "cancel impostor"
state_is impostor cancelled || fail "impostor should be cancelled, is $(field impostor state)"
i_gone() { ! i_running; }
wait_until 10 "the impostor's own process gone" i_gone
# The impostor's worker is free again once it has collected the job: only then is the cancel over.
impostor_unclaimed() { ! q worker status --json | grep -q '"job": "impostor"'; }
wait_until 10 "the impostor's worker free" impostor_unclaimed
state_is victim processing || fail "cancelling the impostor changed the victim: $(field victim state)"
alive "$vpid" || fail "cancelling the impostor killed the victim's process $vpid"
[ "$(pgrep -f "^sleep 3001\.$U\$")" = "$vpid" ] || fail "the victim's process changed"
check "cancelling the impostor left the victim running"

q cancel victim >/dev/null 2>&1 || fail "cancel victim"
state_is victim cancelled || fail "victim should be cancelled, is $(field victim state)"
state_is impostor cancelled || fail "impostor should still be cancelled, is $(field impostor state)"
none_left() { [ -z "$(ours)" ]; }
wait_until 10 "no process of this flow left" none_left
sleep_gone() { ! alive "$vpid"; }
wait_until 10 "victim's process gone" sleep_gone
check "both cancelled; no victim, impostor or impostor-child process left"
