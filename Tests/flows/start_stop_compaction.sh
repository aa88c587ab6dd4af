#!/usr/bin/env bash
# start_stop_compaction: with a tiny journal bound, a background enqueue loop forces compactions
# while the workers are started and stopped over and over: every stop succeeds and leaves no
# supervisor or worker running.
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-50}
q config set journal_max_bytes 4096 >/dev/null 2>&1 || fail "config set journal_max_bytes 4096"

# The loop stops at the next iteration once $T/stop exists; stopping it waits for its last
# enqueue, so no enqueue (and no compaction it starts) outlives the flow.
( while [ ! -e "$T/stop" ]; do "$Q" --home "$H" enqueue -- true >/dev/null 2>&1 || true; done ) &
LOOP=$!
stop_loop() {
    [ -n "${LOOP:-}" ] || return 0
    touch "$T/stop"
    local deadline=$(( $(date +%s) + 20 ))
    while kill -0 "$LOOP" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
    kill -9 "$LOOP" 2>/dev/null || true
    wait "$LOOP" 2>/dev/null || true
    LOOP=
}
# Stop the loop first, then lib.sh's cleanup (with the flow's exit status).
trap 'rc=$?; stop_loop; (exit $rc); cleanup' EXIT

queued() { [ "$(q status --json 2>/dev/null | sed -n 's/^  "total": \([0-9]*\).*/\1/p')" -ge "$1" ]; }
wait_until 20 "the loop enqueueing" queued 5
start_s=$(date +%s)
supervisor_running() { pgrep -f -- "--home $H worker start" >/dev/null; }
for i in $(seq 1 "$ROUNDS"); do
    set +e; q worker start --count 1 --detach >"$T/start.out" 2>"$T/start.err"; rc=$?; set -e
    [ $rc = 0 ] || fail "round $i: worker start exited $rc: $(head -c 600 "$T/start.err")"
    sup=$(supervisor_pid)
    wk=$(worker_pids | tr '\n' ' ')
    [ -n "$sup" ] || fail "round $i: no supervisor in workers.pid"
    set +e; q worker stop >"$T/stop.out" 2>"$T/stop.err"; rc=$?; set -e
    [ $rc = 0 ] || fail "round $i: worker stop exited $rc: $(head -c 600 "$T/stop.err")"
    ! alive "$sup" || fail "round $i: supervisor $sup still running after worker stop"
    for w in $wk; do ! alive "$w" || fail "round $i: worker $w still running after worker stop"; done
    [ ! -e "$PIDF" ] || fail "round $i: workers.pid left behind: $(cat "$PIDF")"
    ! supervisor_running || fail "round $i: a supervisor process is still running: $(pgrep -af -- "--home $H worker start")"
    q worker status --json 2>/dev/null | grep -q '"supervisor": null' || fail "round $i: worker status: $(q worker status 2>&1)"
done
check "$ROUNDS start/stop rounds in $(( $(date +%s) - start_s ))s: every stop exited 0 and left nothing running"
stop_loop
compactions_ran() { [ -e "$H/compact.lock" ]; }
compactions_ran || fail "no compaction ran (journal_max_bytes 4096 should force them)"
! grep -q restarting "$WLOG" || fail "a worker was restarted during the rounds"
total=$(q status --json | sed -n 's/^  "total": \([0-9]*\).*/\1/p')
check "the loop enqueued $total jobs; compactions ran; no worker restarted"
