#!/usr/bin/env bash
# A machine crash on a real distributed file system (JuiceFS): while workers on A run jobs
# enqueued from B, A's supervisor and every worker are killed -9 at once. Workers started again
# on A recover the jobs that were running ("worker lost"), and all 40 jobs complete, as B sees
# it, without two runs of one job ever overlapping.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B
N=40
mkdir -p "$T/locks"
on A config set poll_interval 0.2 >/dev/null 2>&1
on A config set backoff_base 1 >/dev/null 2>&1
# Each run holds a lock on its job's file; a second run that finds it held records an overlap.
cmd="exec 9>$T/locks/\$QUEUECTL_JOB_ID; flock -n 9 || { echo \$QUEUECTL_JOB_ID >> $T/overlap; exit 9; }; sleep 0.3 # $MARK
echo \$QUEUECTL_JOB_ID >> $T/done"
for i in $(seq "$N"); do
    on B enqueue --id "c$i" --max-retries 5 -- "$cmd" >/dev/null || fail "enqueue c$i from B failed"
done
check "$N jobs enqueued from B"
on A worker start --count 2 --detach >/dev/null 2>&1 || fail "workers did not start on A"
pidfile="$(home_on A)/hosts/A.pid"
sup=$(sed -n '/"supervisor"/,/}/p' "$pidfile" | grep -o '"pid": [0-9]*' | head -1 | grep -o '[0-9]*')
workers=$(sed -n '/"workers"/,$p' "$pidfile" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*' | tr '\n' ' ' | sed 's/ $//')
[ -n "$sup" ] && [ "$(echo $workers | wc -w)" = 2 ] || fail "pidfile on A: $(cat "$pidfile")"
busy() { [ "$(count_on A completed)" -ge 5 ] && [ "$(count_on A processing)" -ge 1 ] && job_running; }
wait_until 30 "5 jobs completed and one running" busy
kill -9 "$sup" $workers
done_before=$(count_on B completed)
check "killed -9 supervisor $sup and workers $workers at once, with $done_before completed"
gone() { local p; for p in "$sup" $workers; do ! alive "$p" || return 1; done; }
wait_until 10 "A's supervisor and workers gone" gone
on A worker start --count 2 --detach >/dev/null 2>&1 || fail "workers did not start again on A over the stale pidfile"
all_done() { [ "$(count_on B completed)" = "$N" ]; }
wait_until 45 "$N jobs completed (B)" all_done
wait_until 10 "no job process left" no_job_left
check "workers started again on A; B sees all $N completed; no job process left behind"
[ ! -e "$T/overlap" ] || fail "two runs of one job overlapped: $(sort -u "$T/overlap" | tr '\n' ' ')"
[ "$(sort -u "$T/done" | wc -l)" = "$N" ] || fail "$(sort -u "$T/done" | wc -l) distinct jobs finished a run, not $N"
check "no run of a job overlapped another; $N distinct jobs finished a run ($(wc -l < "$T/done") runs in all)"
lost=""
for i in $(seq "$N"); do
    on B show "c$i" --json | grep -q "worker lost" && lost="$lost c$i"
done
[ -n "$lost" ] || fail "no job was recovered as \"worker lost\", though one was running at the kill"
check "$(echo $lost | wc -w) job(s) recovered as \"worker lost\":$lost"
