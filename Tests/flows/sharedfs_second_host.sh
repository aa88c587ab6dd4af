#!/usr/bin/env bash
# Each machine runs its own supervisor on a home on a shared file system (JuiceFS): while A's
# workers run, B's start is accepted, and a second start on A is refused with one clear line.
# Stopping on B stops B's workers only; `worker stop --host A` from B is a request A acts on,
# and `worker status` lists every machine's workers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B
on A config set poll_interval 0.2 >/dev/null 2>&1
on A worker start --count 1 --detach >/dev/null 2>&1 || fail "workers did not start on A"
pidfile="$(home_on A)/hosts/A.pid"
sup=$(sed -n '/"supervisor"/,/}/p' "$pidfile" | grep -o '"pid": [0-9]*' | head -1 | grep -o '[0-9]*')
wpid=$(sed -n '/"workers"/,$p' "$pidfile" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*')
[ -n "$sup" ] && [ -n "$wpid" ] && alive "$sup" && alive "$wpid" || fail "pidfile on A: $(cat "$pidfile")"
check "workers on A (supervisor $sup, worker $wpid)"

set +e; on A worker start --count 1 --detach >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 1 ] || fail "a second start on A should exit 1, got $rc: $(cat "$T/out" "$T/err")"
[ ! -s "$T/out" ] && [ "$(wc -l < "$T/err")" = 1 ] || fail "a second start on A: stdout $(cat "$T/out"), stderr $(cat "$T/err")"
grep -q "already running" "$T/err" && grep -q "supervisor pid $sup" "$T/err" || fail "unclear refusal: $(cat "$T/err")"
check "a second start on A → exit 1, one line: $(cat "$T/err")"

on B worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "start on B was refused: $(cat "$T/err")"
bsup=$(on B status --json | sed -n 's/^  "supervisor_pid": \([0-9]*\).*/\1/p')
[ -n "$bsup" ] && alive "$bsup" || fail "no live supervisor on B: $(on B status --json)"
both() { local s; s=$(on A worker status); echo "$s" | grep -q '^host A (this host)' && echo "$s" | grep -q '^host B'; }
wait_until 10 "A's worker status to list hosts A and B" both
on A worker status | grep '^host' | grep -q 'wake-up poll' || fail "hosts on JuiceFS should poll: $(on A worker status)"
check "start on B accepted (supervisor $bsup); A's worker status lists A (this host) and B, both polling"

on B worker stop >/dev/null 2>&1 || fail "stop on B failed"
b_gone() { ! alive "$bsup"; }
wait_until 10 "B's supervisor gone" b_gone
alive "$sup" && alive "$wpid" || fail "stop on B also stopped A's workers"
check "stop on B → B's supervisor gone, A's supervisor $sup and worker $wpid still alive"

on B worker stop --host A >"$T/out" 2>"$T/err" || fail "stop --host A from B failed: $(cat "$T/err")"
gone() { ! alive "$sup" && ! alive "$wpid"; }
wait_until 10 "A's workers gone" gone
on A status --json | grep -q '"supervisor_pid": null' || fail "A's status still shows a supervisor: $(on A status --json)"
on B worker status 2>&1 | grep -q "no workers are running" || fail "worker status after both stopped: $(on B worker status 2>&1)"
check "stop --host A from B → A's supervisor and worker are gone; no host has workers"
