#!/usr/bin/env bash
# metrics figures against a known workload: 4 completed, 1 dead after 2 attempts.
source "$(dirname "$0")/lib.sh"
q config set backoff_base 1 >/dev/null 2>&1
for i in 1 2 3 4; do q enqueue --id ok$i -- "true" >/dev/null; done
q enqueue --id bad --max-retries 1 -- "exit 1" >/dev/null
q worker start --count 2 --detach >/dev/null 2>&1
wait_until 30 "bad dead" state_is bad dead
wait_until 30 "4 completed" count_is completed 4
m=$(q metrics --json)
get() { echo "$m" | sed -n "s/^  \"$1\": \([0-9.]*\).*/\1/p"; }
[ "$(get success_rate)" = 0.8 ] || fail "success_rate $(get success_rate), expected 0.8"
[ "$(get attempts_total)" = 6 ] || fail "attempts_total $(get attempts_total), expected 6"
[ "$(get attempts_failed)" = 2 ] || fail "attempts_failed $(get attempts_failed), expected 2"
[ "$(get attempts_per_job)" = 1.2 ] || fail "attempts_per_job $(get attempts_per_job), expected 1.2"
completed_last_hour=$(echo "$m" | sed -n '/"completed_per_minute"/,/]/p' | grep -E '^ *[0-9]+,?$' | tr -dc '0-9\n' | awk '{ s += $1 } END { print s }')
[ "$completed_last_hour" = 4 ] || fail "completed in the last hour: $completed_last_hour"
q metrics | grep -q "80% of finished jobs completed" || fail "human view"
check "success 0.8, 6 attempts (2 failed), 1.2 per job, 4 completed this hour"
