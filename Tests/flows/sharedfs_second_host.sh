#!/usr/bin/env bash
# One machine's workers serve a home on a shared file system (JuiceFS) at a time: while A's
# workers run, starting workers on B is refused with one clear line naming A, and stopping from
# B is refused too (signals do not cross machines) and leaves A's workers alive. Once A stops
# them, B can start and stop its own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B
on A config set poll_interval 0.2 >/dev/null 2>&1
on A worker start --count 1 --detach >/dev/null 2>&1 || fail "workers did not start on A"
pidfile="$(home_on A)/workers.pid"
sup=$(sed -n '/"supervisor"/,/}/p' "$pidfile" | grep -o '"pid": [0-9]*' | head -1 | grep -o '[0-9]*')
wpid=$(sed -n '/"workers"/,$p' "$pidfile" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*')
[ -n "$sup" ] && [ -n "$wpid" ] && alive "$sup" && alive "$wpid" || fail "pidfile on A: $(cat "$pidfile")"
check "workers on A (supervisor $sup, worker $wpid)"

set +e; on B worker start --count 1 --detach >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 1 ] || fail "start on B should exit 1, got $rc: $(cat "$T/out" "$T/err")"
[ ! -s "$T/out" ] || fail "start on B printed on stdout: $(cat "$T/out")"
[ "$(wc -l < "$T/err")" = 1 ] || fail "start on B should print one line on stderr, printed $(wc -l < "$T/err"): $(cat "$T/err")"
grep -q "running on host A" "$T/err" || fail "start on B does not name host A: $(cat "$T/err")"
check "start on B → exit 1, nothing on stdout, one line on stderr: $(cat "$T/err")"

set +e; on B worker stop >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 1 ] || fail "stop on B should exit 1, got $rc: $(cat "$T/out" "$T/err")"
grep -q "host A" "$T/err" || fail "stop on B does not name host A: $(cat "$T/err")"
alive "$sup" && alive "$wpid" || fail "A's workers died after stop on B"
on A status --json | grep -q "\"supervisor_pid\": $sup" || fail "A's status lost the supervisor: $(on A status --json)"
on A worker status | grep -q "supervisor pid $sup on host A" || fail "A's worker status: $(on A worker status 2>&1)"
check "stop on B → exit 1: $(cat "$T/err"); A's supervisor $sup and worker $wpid still alive"

on A worker stop >/dev/null 2>&1 || fail "stop on A failed"
gone() { ! alive "$sup" && ! alive "$wpid"; }
wait_until 10 "A's workers gone" gone
on A status --json | grep -q '"supervisor_pid": null' || fail "A's status still shows a supervisor: $(on A status --json)"
check "stop on A → its supervisor and worker are gone"

on B worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "start on B after A stopped failed: $(cat "$T/err")"
b_on_A() { on A status --json | grep -q '"supervisor_host": "B"'; }
wait_until 10 "A to see the workers on host B" b_on_A
bsup=$(on B status --json | sed -n 's/^  "supervisor_pid": \([0-9]*\).*/\1/p')
[ -n "$bsup" ] && alive "$bsup" || fail "no live supervisor on B: $(on B status --json)"
on B worker stop >/dev/null 2>&1 || fail "stop on B of its own workers failed"
b_gone() { ! alive "$bsup"; }
wait_until 10 "B's supervisor gone" b_gone
on B status --json | grep -q '"supervisor_pid": null' || fail "B's status still shows a supervisor: $(on B status --json)"
check "then start on B → exit 0 (supervisor $bsup, seen by A as on host B), stop on B → gone"
