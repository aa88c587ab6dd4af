#!/usr/bin/env bash
# Controlling a queue on a real distributed file system (JuiceFS) from another machine: workers
# run on A while B (and C) cancel a delayed job, retry a dead one from the DLQ, wait for jobs,
# purge completed ones and change max_retries; A sees every change, and wait's exit codes hold.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B; mount_client C
on A config set poll_interval 0.2 >/dev/null 2>&1
on A worker start --count 2 --detach >/dev/null 2>&1 || fail "workers did not start on A"
check "workers on A"
# field_on NAME ID KEY: a top-level field of `show ID --json`, as client NAME sees it.
field_on() {
    on "$1" show "$2" --json | sed -n "s/^  \"$3\": \(.*\)$/\1/p" | sed 's/,$//; s/^"\(.*\)"$/\1/; s/\\"/"/g'
}
state_on() { [ "$(field_on "$1" "$2" state)" = "$3" ]; }

# cancel from B: a delayed job never runs.
on B enqueue --id later --delay 1h -- "touch $T/later-ran" >/dev/null || fail "enqueue later from B"
state_on A later pending || fail "A should see later pending, sees $(field_on A later state)"
on B cancel later >/dev/null 2>&1 || fail "cancel later from B failed"
wait_until 10 "A sees later cancelled" state_on A later cancelled
[ ! -e "$T/later-ran" ] && [ "$(field_on A later attempts)" = 0 ] || fail "the cancelled job ran"
check "delayed job enqueued and cancelled from B; A sees it cancelled, 0 attempts"

# dlq retry from B: a job dead after 1 attempt is put back and completes on its 2nd.
on B enqueue --id flaky --max-retries 0 -- "[ -e $T/ok ] || { touch $T/ok; exit 3; }" >/dev/null || fail "enqueue flaky from B"
wait_until 20 "flaky dead" state_on B flaky dead
[ "$(field_on B flaky attempts)" = 1 ] || fail "flaky should be dead after 1 attempt, has $(field_on B flaky attempts)"
on B dlq list | grep -q flaky || fail "flaky not in B's dlq list: $(on B dlq list 2>&1)"
on B dlq retry flaky >/dev/null 2>&1 || fail "dlq retry flaky from B failed"
wait_until 20 "flaky completed" state_on A flaky completed
check "failing job dead after 1 attempt (exit 3); dlq retry from B; A completed it on the retry"

# wait from B for jobs run on A: 0 when it completed, 1 when it died.
on B enqueue --id slow -- "sleep 1" >/dev/null || fail "enqueue slow from B"
set +e; on B wait slow --timeout 30 >/dev/null 2>&1; rc=$?; set -e
[ $rc = 0 ] || fail "wait slow from B should exit 0, got $rc (slow is $(field_on B slow state))"
state_on B slow completed || fail "wait returned before slow completed: $(field_on B slow state)"
check "wait slow (sleep 1 on A) from B → 0, slow completed"
on B enqueue --id bad --max-retries 0 -- "exit 2" >/dev/null || fail "enqueue bad from B"
set +e; on B wait bad --timeout 30 >/dev/null 2>&1; rc=$?; set -e
[ $rc = 1 ] || fail "wait bad from B should exit 1, got $rc"
state_on B bad dead || fail "wait bad returned 1 but bad is $(field_on B bad state), not dead"
check "wait bad (dies on A) from B → 1, bad dead"

# purge --state completed from B: completed jobs are gone for A, the others stay.
on B purge --state completed >/dev/null 2>&1 || fail "purge --state completed from B failed"
for id in flaky slow; do
    set +e; on A show "$id" >/dev/null 2>&1; rc=$?; set -e
    [ $rc = 1 ] || fail "A: show $id after purge should exit 1, got $rc"
done
ids=$(on A list --json | grep '^    "id"' | sort | tr -d ' \n')
[ "$ids" = '"id":"bad","id":"later",' ] || fail "A sees left after purge: $ids"
check "purge --state completed from B: A's show exits 1 for flaky and slow; bad (dead) and later (cancelled) remain"

# config set from B, enqueue from C: the new default applies.
on B config set max_retries 0 >/dev/null 2>&1 || fail "config set max_retries 0 from B failed"
on C enqueue --id nofix -- "exit 4" >/dev/null || fail "enqueue nofix from C"
on A show nofix --json | grep -q '"max_retries": 0' || fail "nofix should have max_retries 0: $(on A show nofix --json)"
wait_until 20 "nofix dead" state_on A nofix dead
[ "$(field_on A nofix attempts)" = 1 ] || fail "nofix should die after 1 attempt, had $(field_on A nofix attempts)"
check "max_retries 0 set from B; a job enqueued from C got max_retries 0 and died on A after 1 attempt"
