#!/usr/bin/env bash
# A delayed job never starts early, and a sleeping worker wakes for it when it is due.
source "$(dirname "$0")/lib.sh"
q config set poll_interval 60 >/dev/null 2>&1   # so only the due-time wake-up can start it in time
q worker start --count 1 --detach >/dev/null 2>&1
before=$(date +%s%3N)
q enqueue --id later --delay 2s -- 'date +%s%3N > '"$T/started" >/dev/null
due=$(date -d "$(field later run_at)" +%s%3N)
q status | grep -q "1 waiting for a later time" || fail "status should show the scheduled job"
wait_until 20 "later completed" state_is later completed
started=$(cat "$T/started")
echo "  due at +$(( due - before )) ms, started at +$(( started - before )) ms"
[ "$started" -ge "$due" ] || fail "started $(( due - started )) ms early"
[ $(( started - due )) -lt 5000 ] || fail "started $(( started - due )) ms late: the worker did not wake when it was due"
check "started $(( started - due )) ms after it was due, not before"
