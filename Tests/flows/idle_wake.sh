#!/usr/bin/env bash
# Idle workers take turns watching the home (ARCHITECTURE.md, "Waiting for work"), and skip the
# lock for changes that offer nothing; the watcher keeps the turn while it runs a job that left
# nothing else waiting, and hands it over at the next change. None of this may leave a job
# waiting for the fallback poll: with poll_interval at 60 s, every pickup below must come from a
# wake-up, within seconds.
source "$(dirname "$0")/lib.sh"
q config set poll_interval 60 >/dev/null
q worker start --count 3 --detach >/dev/null 2>&1

# One by one: each job must be picked up by whichever worker is idle, while the others are
# idle too, running, or have just recorded a result.
for i in $(seq 1 25); do
    q enqueue --id "one$i" "true" >/dev/null
    q wait "one$i" --timeout 10 >/dev/null || fail "one$i was not run within 10 s (poll_interval is 60 s)"
done
check "25 jobs enqueued one by one each ran within 10 s"

# gated NAME GATE: a job that notes its start, then runs until the file GATE exists.
gated() { q enqueue --id "$1" "touch $T/started.\$QUEUECTL_JOB_ID; until [ -e $T/$2 ]; do sleep 0.05; done # $MARK" >/dev/null; }
started() { [ "$(ls "$T" | grep -c '^started\.')" = "$1" ]; }

# A burst, all three jobs waiting before any is claimed (the queue paused meanwhile): all three
# workers must start, the second and third woken by the others' claims.
q pause --queue default >/dev/null
gated burst1 open1; gated burst2 open1; gated burst3 open1
q resume --queue default >/dev/null
wait_until 10 "three gated jobs running at once" started 3
check "a burst of 3 jobs started on 3 workers at once"
touch "$T/open1"
q wait --timeout 10 >/dev/null || fail "the burst did not finish"

# One job running, nothing else waiting: its worker keeps the turn to watch, and must hand it
# over when the next job arrives. Then again with two workers busy: the third takes a new job.
# Its group recorded first: the write that records it looks for changes too, and this checks the
# look while it runs.
gated busy1 open2
wait_until 10 "a gated job running, its group recorded" group_recorded busy1
gated busy2 open2
wait_until 10 "a second gated job running beside the first, its group recorded" group_recorded busy2
check "a job arriving while the watching worker runs one started on another worker"
q enqueue --id late "true" >/dev/null
q wait late --timeout 10 >/dev/null || fail "the idle third worker did not run 'late' within 10 s"
check "with two workers busy, the third ran a new job"
touch "$T/open2"
q wait --timeout 10 >/dev/null || fail "gated jobs did not finish"
[ "$(count completed)" = 31 ] || fail "expected 31 completed, got $(count completed)"
check "every job completed"
