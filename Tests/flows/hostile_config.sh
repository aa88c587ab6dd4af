#!/usr/bin/env bash
# hostile_config: a hand-edited config.json with absurd values is not fatal. Each bad value is
# warned about (naming config.json and the key) and its default used; `status` mentions the bad
# keys; a worker takes a failing job through its retry to the DLQ without crashing or restarting.
source "$(dirname "$0")/lib.sh"
BAD_KEYS="backoff_base max_retries log_max_bytes poll_interval"
printf '%s\n' '{"backoff_base":1e300,"max_retries":1e300,"log_max_bytes":-5,"poll_interval":"x"}' > "$H/config.json"

# The warnings are expected on every command's stderr: these helpers keep them out of the output.
show_json() { q show "$1" --json 2>/dev/null; }
jfield() { show_json "$1" | sed -n "s/^  \"$2\": \(.*\)$/\1/p" | sed 's/,$//; s/^"\(.*\)"$/\1/'; }
jstate_is() { [ "$(jfield "$1" state)" = "$2" ]; }

set +e; q status >"$T/status.out" 2>"$T/status.err"; rc=$?; set -e
[ $rc = 0 ] || fail "status exited $rc with a hand-edited config.json: $(head -c 600 "$T/status.err")"
for k in $BAD_KEYS; do
    grep '^queuectl: warning:' "$T/status.err" | grep 'config\.json' | grep -q "$k" \
        || fail "no 'queuectl: warning:' line naming config.json and $k; stderr: $(head -c 600 "$T/status.err")"
done
grep -q backoff_base "$T/status.out" || fail "status does not mention the bad key backoff_base: $(cat "$T/status.out")"
check "status works, warns about each bad key, and mentions backoff_base"

set +e; q worker start --count 1 --detach >/dev/null 2>"$T/start.err"; rc=$?; set -e
[ $rc = 0 ] || fail "worker start exited $rc: $(head -c 600 "$T/start.err")"
sup=$(supervisor_pid)
wpid=$(worker_pids | head -1)
[ -n "$sup" ] && [ -n "$wpid" ] || fail "no supervisor/worker in workers.pid"
q enqueue '{"id":"f","command":"exit 3","max_retries":1}' >/dev/null 2>&1 || fail "enqueue of f failed"
# The retry waits the default backoff (2^1 = 2 s): with the bad backoff_base it would be backoff_max (1 h).
wait_until 30 "f dead" jstate_is f dead
[ "$(jfield f attempts)" = 2 ] || fail "f should have 2 attempts, has $(jfield f attempts)"
[ "$(show_json f | grep -c '"number":')" = 2 ] || fail "f's history should hold 2 attempts: $(show_json f)"
[ "$(show_json f | grep -c '"exit_code": 3')" = 3 ] || fail "both attempts (and the job) should record exit code 3: $(show_json f)"
[ "$(jfield f max_retries)" = 1 ] || fail "f's own max_retries should be kept"
starts=$(show_json f | sed -n 's/^ *"started_at": "\(.*\)",\{0,1\}$/\1/p' | tail -n +2 | while read -r t; do date -d "$t" +%s%3N; done)
gap=$(( $(echo "$starts" | sed -n 2p) - $(echo "$starts" | sed -n 1p) ))
[ "$gap" -ge 1900 ] && [ "$gap" -lt 30000 ] || fail "retry came ${gap} ms after the first attempt; expected the default backoff (2 s)"
check "f failed (exit 3), was retried after ${gap} ms, then went dead"

[ -f "$WLOG" ] || fail "no workers.log"
! grep -q 'restarting' "$WLOG" || fail "a worker was restarted"
! grep -qiE 'fatal error|crashed|signal 4|signal 11' "$WLOG" || fail "a crash is logged in workers.log"
alive "$sup" || fail "the supervisor $sup died"
alive "$wpid" || fail "the worker $wpid died"
[ "$(worker_pids | head -1)" = "$wpid" ] || fail "the worker was replaced ($wpid → $(worker_pids | head -1))"
q status >"$T/status.out" 2>/dev/null || fail "status failed with workers running"
grep -q backoff_base "$T/status.out" || fail "status (workers running) does not mention backoff_base"
check "no worker crashed or restarted; status still mentions the bad key"

set +e; q worker stop >/dev/null 2>"$T/stop.err"; rc=$?; set -e
[ $rc = 0 ] || fail "worker stop exited $rc: $(head -c 600 "$T/stop.err")"
wait_until 10 "supervisor gone" eval "! alive $sup"
check "workers stopped"
