#!/usr/bin/env bash
# A second supervisor on the same home is refused; a stale pidfile is replaced.
source "$(dirname "$0")/lib.sh"
q worker start --count 1 --detach >/dev/null 2>&1
set +e; out=$(q worker start --count 1 --detach 2>&1); rc=$?; set -e
[ $rc = 1 ] || fail "second start should exit 1, got $rc"
echo "$out" | grep -q "already running" || fail "unclear message: $out"
check "second start refused: $out"
q worker stop >/dev/null 2>&1
# A pidfile naming a live but unrelated process (this shell) must not pass for a supervisor.
printf '{"supervisor": {"pid": %d, "start_time": 1}, "workers": []}\n' $$ > "$PIDF"
q status | grep -q "no workers running" || fail "stale pidfile taken for live workers"
q worker start --count 1 --detach >/dev/null 2>&1 || fail "start over a stale pidfile failed"
[ "$(supervisor_pid)" != "$$" ] || fail "pidfile not replaced"
check "stale pidfile (pid $$, not ours) detected and replaced"
