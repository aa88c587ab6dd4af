#!/usr/bin/env bash
# worker stop --force: the running job is killed and goes back to pending, attempt not counted.
source "$(dirname "$0")/lib.sh"
q enqueue "{\"id\":\"long\",\"command\":\"sleep 60 # $MARK\"}" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "long running" job_running
start=$(date +%s)
q worker stop --force >/dev/null 2>&1
[ $(( $(date +%s) - start )) -lt 30 ] || fail "--force took too long"
state_is long pending || fail "long should be pending again, is $(field long state)"
[ "$(field long attempts)" = 0 ] || fail "interrupted attempt should not count"
wait_until 10 "job process gone" no_job_left
check "interrupted, back to pending with 0 attempts, no process left"
