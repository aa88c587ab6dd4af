#!/usr/bin/env bash
# 4 concurrent enqueuers with 2 workers running: 1,000 jobs, each run exactly once.
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/markers"
q worker start --count 2 --detach >/dev/null 2>&1
for e in 1 2 3 4; do
    ( for i in $(seq 250); do
        q enqueue "{\"id\":\"e$e-$i\",\"command\":\"mkdir $T/markers/\$QUEUECTL_JOB_ID && echo \$QUEUECTL_JOB_ID >> $T/ran\",\"max_retries\":0}" >/dev/null
      done ) &
done
wait
check "4 enqueuers × 250 done"
[ "$(q list --json | grep -c '"id": "e')" = 1000 ] || fail "expected 1000 jobs in the queue"
wait_until 120 "1000 completed" count_is completed 1000
[ "$(count dead)" = 0 ] || fail "a job ran twice"
[ "$(wc -l < "$T/ran")" = 1000 ] && [ "$(sort -u "$T/ran" | wc -l)" = 1000 ] || fail "runs: $(wc -l < "$T/ran")"
check "1000 jobs, each ran exactly once"
