#!/usr/bin/env bash
# A home on a real distributed file system (JuiceFS), used from three machines (three client
# mounts): workers on A, 300 enqueues each from B and C at once. Every job runs exactly once,
# every client reports the same counts, and the home is never refused as corrupt.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B; mount_client C
N=${SHAREDFS_JOBS:-300}
mkdir -p "$T/markers"
on A config set poll_interval 0.2 >/dev/null 2>&1
on A worker start --count 2 --detach >/dev/null 2>&1 || fail "workers did not start on A"
on A status --json | grep -q '"wakeup": "poll"' || fail "A should poll on a network file system: $(on A status --json)"
check "workers on A, polling (JuiceFS is a network file system)"
enqueue_from() {
    local c=$1 i
    for i in $(seq "$N"); do
        on "$c" enqueue "{\"id\":\"$c-$i\",\"command\":\"mkdir $T/markers/\$QUEUECTL_JOB_ID && echo \$QUEUECTL_JOB_ID >> $T/ran\",\"max_retries\":0}" >/dev/null \
            || { echo "enqueue $c-$i failed" >> "$T/errors"; return 1; }
    done
}
enqueue_from B & pb=$!
enqueue_from C & pc=$!
wait $pb || fail "enqueues from B failed: $(cat "$T/errors" 2>/dev/null)"
wait $pc || fail "enqueues from C failed: $(cat "$T/errors" 2>/dev/null)"
check "$N enqueues from B and $N from C, every one acknowledged"
total=$((2 * N))
done_on_A() { [ "$(count_on A completed)" = "$total" ]; }
wait_until 180 "$total jobs completed" done_on_A
for c in A B C; do
    got=$(count_on "$c" completed) || fail "client $c cannot read the home"
    [ "$got" = "$total" ] || fail "client $c sees $got completed, not $total"
    [ "$(count_on "$c" dead)" = 0 ] || fail "client $c sees dead jobs: a job ran twice"
done
[ "$(wc -l < "$T/ran")" = "$total" ] && [ "$(sort -u "$T/ran" | wc -l)" = "$total" ] || fail "runs: $(wc -l < "$T/ran") for $total jobs"
check "$total jobs, each ran exactly once; A, B and C all report $total completed"
