#!/usr/bin/env bash
# Jobs survive a restart of everything: nothing lost, nothing run twice.
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/markers"
job() { echo "{\"id\":\"$1\",\"command\":\"mkdir $T/markers/$1 && sleep 0.05\",\"max_retries\":0}"; }
for i in $(seq 20); do job "a$i"; done | q enqueue --file - >/dev/null
q worker start --count 2 --detach >/dev/null 2>&1
wait_until 30 "some jobs done" bash -c "[ \$(ls $T/markers | wc -l) -ge 5 ]"
q worker stop >/dev/null 2>&1
for i in $(seq 20); do job "b$i"; done | q enqueue --file - >/dev/null
check "stopped mid-way with $(count completed) completed; enqueued 20 more while stopped"
q worker start --count 2 --detach >/dev/null 2>&1
wait_until 60 "40 completed" count_is completed 40
[ "$(count dead)" = 0 ] || fail "a job ran twice"
[ "$(ls "$T/markers" | wc -l)" = 40 ] || fail "expected 40 markers"
check "after the restart all 40 jobs completed exactly once"
