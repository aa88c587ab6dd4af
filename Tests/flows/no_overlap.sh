#!/usr/bin/env bash
# Several workers process many jobs; each job runs exactly once (recorded by the jobs themselves).
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/markers"
for i in $(seq 60); do
    echo "{\"id\":\"n$i\",\"command\":\"mkdir $T/markers/\$QUEUECTL_JOB_ID && echo \$QUEUECTL_JOB_ID >> $T/ran\",\"max_retries\":0}"
done > "$T/jobs.jsonl"
q enqueue --file "$T/jobs.jsonl" >/dev/null
q worker start --count 3 --detach >/dev/null 2>&1
wait_until 60 "60 completed" count_is completed 60
[ "$(count dead)" = 0 ] || fail "some job ran twice (mkdir failed)"
[ "$(wc -l < "$T/ran")" = 60 ] || fail "expected 60 runs, got $(wc -l < "$T/ran")"
[ "$(sort -u "$T/ran" | wc -l)" = 60 ] || fail "duplicate runs"
workers=$(grep -o 'claimed by worker [0-9]*' "$WLOG" | sort -u | wc -l)
[ "$workers" -ge 2 ] || fail "all 60 jobs were claimed by one worker of 3: the others never took one"
check "60 jobs, 3 workers ($workers of them claimed jobs), each job ran exactly once"
