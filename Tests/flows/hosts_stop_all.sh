#!/usr/bin/env bash
# Several hosts, one queue: `worker stop --all-hosts` run on A stops the workers of A, B and C,
# each finishing the job it runs (every job that started completed, with one attempt: none
# failed or went back to pending); then no host has a live supervisor. Then, with workers on all
# three again: `worker stop --host B` (on A) stops B's only, and `worker stop` (on C) stops C's
# only.
source "$(dirname "$0")/lib.sh"
HOSTS_FS=juicefs
source "$(dirname "$0")/hosts_lib.sh"
started=$(now_ms)
host_start A; host_start B; host_start C
on_host A config set poll_interval 0.2 >/dev/null 2>&1 || fail "config set poll_interval on A"
check "hosts A, B and C up (JuiceFS); poll_interval 0.2"

N=60
for i in $(seq "$N"); do
    printf '{"id":"s%d","command":"echo \\"$(hostname) $QUEUECTL_JOB_ID\\" >> %s/started; sleep 1; echo $QUEUECTL_JOB_ID >> %s/finished # %s","max_retries":0}\n' "$i" "$T" "$T" "$MARK"
done | on_host A enqueue --file - >/dev/null 2>"$T/err" || fail "enqueue: $(cat "$T/err")"
for h in A B C; do
    on_host "$h" worker start --count 2 --detach >/dev/null 2>"$T/err" || fail "worker start on $h: $(cat "$T/err")"
done
every_host_busy() {
    local h
    [ -e "$T/started" ] || return 1
    for h in A B C; do [ "$(grep -c "^$h " "$T/started")" -ge 2 ] || return 1; done
}
wait_until 30 "A, B and C each running jobs" every_host_busy
check "$N jobs of 1 s; 2 workers on each of A, B and C, each host has started 2 or more"

t0=$(now_ms)
set +e; on_host A worker stop --all-hosts >"$T/out" 2>"$T/err"; rc=$?; set -e
t1=$(now_ms)
[ $rc = 0 ] || fail "worker stop --all-hosts on A exited $rc: $(cat "$T/out" "$T/err")"
none_listed() { [ -z "$(hosts_listed A)" ]; }
wait_until 20 "no host listed with a live supervisor" none_listed
no_queuectl() { local h; for h in A B C; do [ -z "$(host_pgrep "$h" "$Q")" ] || return 1; done; }
wait_until 20 "no queuectl process left on A, B or C" no_queuectl
check "worker stop --all-hosts on A → exit 0 after $(( t1 - t0 )) ms; no supervisor or worker process left on A, B or C"
for h in A B C; do
    st=$(on_host "$h" worker status 2>&1 || true)
    ! echo "$st" | grep -q '^host ' || fail "worker status on $h still lists a host: $st"
done
check "worker status on A, B and C lists no host"

ran=$(wc -l < "$T/started")
[ "$(wc -l < "$T/finished" 2>/dev/null || echo 0)" = "$ran" ] || fail "$ran jobs started, $(wc -l < "$T/finished") finished: a running job was interrupted"
per=""
for h in A B C; do per="$per $h $(grep -c "^$h " "$T/started"),"; done
for i in $(seq "$N"); do
    st=$(field_on A "s$i" state); at=$(field_on A "s$i" attempts)
    if grep -q " s$i\$" "$T/started"; then
        [ "$st" = completed ] && [ "$at" = 1 ] || fail "s$i was running at the stop and is $st after $at attempts, not completed after 1"
    else
        [ "$st" = pending ] && [ "$at" = 0 ] || fail "s$i never started but is $st after $at attempts"
    fi
done
[ "$ran" -lt "$N" ] || fail "all $N jobs ran: the stop did not stop anything before the queue drained"
per=${per# }; check "each of the $ran jobs that started (${per%,}) finished and is completed after 1 attempt; the other $(( N - ran )) are pending, 0 attempts"

# One other host, then the caller's own.
for h in A B C; do
    on_host "$h" worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start again on $h: $(cat "$T/err")"
done
# (the pending jobs run now; they take 1 s each)
listed_is() { [ "$(hosts_listed A | tr '\n' ' ')" = "$1" ]; }
wait_until 20 "A, B and C listed again" listed_is "A B C "
set +e; on_host A worker stop --host B >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 0 ] || fail "worker stop --host B on A exited $rc: $(cat "$T/out" "$T/err")"
wait_until 20 "only A and C listed after stop --host B" listed_is "A C "
wait_until 20 "no queuectl process left on B" eval '[ -z "$(host_pgrep B "$Q")" ]'
[ -n "$(host_pgrep A "$Q")" ] && [ -n "$(host_pgrep C "$Q")" ] || fail "A's or C's workers died on stop --host B"
check "worker stop --host B on A → exit 0; B's workers gone, A and C still listed and running"
set +e; on_host C worker stop >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 0 ] || fail "worker stop on C exited $rc: $(cat "$T/out" "$T/err")"
wait_until 20 "only A listed after stop on C" listed_is "A "
wait_until 20 "no queuectl process left on C" eval '[ -z "$(host_pgrep C "$Q")" ]'
[ -n "$(host_pgrep A "$Q")" ] || fail "A's workers died on stop on C"
check "worker stop on C → exit 0; C's workers gone, A still listed and running"
on_host A worker stop >/dev/null 2>&1 || fail "worker stop on A"
wait_until 20 "no host listed" none_listed
check "worker stop on A → no host listed; flow took $(( $(now_ms) - started )) ms"
