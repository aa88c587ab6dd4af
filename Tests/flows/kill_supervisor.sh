#!/usr/bin/env bash
# kill -9 of the supervisor: its workers finish their current job, then exit; a new start works.
source "$(dirname "$0")/lib.sh"
q enqueue "{\"id\":\"inflight\",\"command\":\"sleep 1.5 # $MARK\"}" >/dev/null
q worker start --count 2 --detach >/dev/null 2>&1
wait_until 20 "inflight running" state_is inflight processing
sup=$(supervisor_pid); workers=$(worker_pids)
kill -9 "$sup"
check "killed supervisor $sup"
wait_until 20 "inflight completed" state_is inflight completed
for w in $workers; do wait_until 10 "worker $w exited" bash -c "! kill -0 $w 2>/dev/null || grep -q '^State:.*Z' /proc/$w/status"; done
check "the running job completed and every worker exited"
q enqueue '{"id":"after","command":"true"}' >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1 || fail "a new start should replace the stale pidfile"
wait_until 20 "after completed" state_is after completed
check "a new supervisor started over the stale pidfile and ran a job"
