#!/usr/bin/env bash
# Several hosts, one queue: one supervisor per host. A second `worker start` on host A, while
# A's supervisor runs, is refused (exit 1, nothing on stdout, one line on stderr naming the
# running supervisor) and leaves A's supervisor alone; `worker start` on host B is accepted, and
# both hosts are then listed, each with its own per-host files in the home.
source "$(dirname "$0")/lib.sh"
HOSTS_FS=juicefs
source "$(dirname "$0")/hosts_lib.sh"
started=$(now_ms)
hosts_up "A B" "poll_interval 0.2"

on_host A worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start on A: $(cat "$T/err")"
hd="$(host_home A)/hosts"
pidfile=$(host_run A cat "$hd/A.pid") || fail "no hosts/A.pid after worker start on A"
sup=$(echo "$pidfile" | sed -n '/"supervisor"/,/}/p' | grep -o '"pid": [0-9]*' | head -1 | grep -o '[0-9]*')
[ -n "$sup" ] || fail "hosts/A.pid names no supervisor: $pidfile"
[ -n "$(host_run A sh -c "kill -0 $sup && echo up" 2>/dev/null)" ] || fail "A's supervisor $sup (hosts/A.pid) is not alive on A"
check "A's supervisor runs (pid $sup on A, from hosts/A.pid)"

set +e; on_host A worker start --count 1 --detach >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 1 ] || fail "second start on A should exit 1, got $rc: $(cat "$T/out" "$T/err")"
[ ! -s "$T/out" ] || fail "second start on A printed on stdout: $(cat "$T/out")"
[ "$(wc -l < "$T/err")" = 1 ] || fail "second start on A should print one line on stderr, printed $(wc -l < "$T/err"): $(cat "$T/err")"
grep -qw "$sup" "$T/err" || fail "second start on A does not name the running supervisor (pid $sup): $(cat "$T/err")"
[ "$(host_run A cat "$hd/A.pid")" = "$pidfile" ] || fail "hosts/A.pid changed after the refused start: $(host_run A cat "$hd/A.pid")"
[ "$(host_pgrep A "$Q" | wc -l)" = 2 ] || fail "A should run 1 supervisor + 1 worker, runs: $(host_pgrep A "$Q" | xargs -r ps -o pid=,args= -p)"
check "second start on A → exit 1, nothing on stdout, one line on stderr: $(cat "$T/err"); A still runs 1 supervisor + 1 worker"

set +e; on_host B worker start --count 1 --detach >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc = 0 ] || fail "start on B should exit 0, got $rc: $(cat "$T/out" "$T/err")"
both() { [ "$(hosts_listed A | tr '\n' ' ')" = "A B " ]; }
wait_until 10 "status --json on A to list hosts A and B" both
[ "$(host_pgrep B "$Q" | wc -l)" = 2 ] || fail "B should run 1 supervisor + 1 worker"
on_host B worker status >"$T/ws" 2>&1 || fail "worker status on B: $(cat "$T/ws")"
grep -q "^host A" "$T/ws" && grep -q "^host B.*(this host)" "$T/ws" && ! grep -q "^host A.*(this host)" "$T/ws" \
    || fail "worker status on B should list host A and host B (this host):
$(cat "$T/ws")"
for f in A.pid A.lock A.lease A.log B.pid B.lock B.lease B.log; do
    host_run B test -e "$(host_home B)/hosts/$f" || fail "no hosts/$f in the home (B's view): $(host_run B ls "$(host_home B)/hosts")"
done
check "start on B → exit 0; both hosts listed (worker status on B: $(grep -c '^host ' "$T/ws") hosts); hosts/{A,B}.{pid,lock,lease,log} present"
check "flow took $(( $(now_ms) - started )) ms"
