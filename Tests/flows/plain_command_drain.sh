#!/usr/bin/env bash
# A plain command as typed (no JSON, no --command), run by a foreground `worker start --drain -c 2`
# that exits 0 by itself once the job has completed and leaves no worker behind.
source "$(dirname "$0")/lib.sh"
id=$(q enqueue "echo hi") || fail "enqueue \"echo hi\" was refused"
[ -n "$id" ] && [ "$(printf '%s\n' "$id" | wc -l)" = 1 ] || fail "enqueue should print one id, got: $id"
[ "$(field "$id" command)" = "echo hi" ] || fail "command should be 'echo hi', got: $(field "$id" command)"
state_is "$id" pending || fail "the job should be pending before the drain"
check "enqueue \"echo hi\" made job $id with command 'echo hi'"

# Foreground drain, bounded: a drain that never ends is killed (exit 124) and fails the flow.
rc=0
timeout -k 5 60 "$Q" --home "$H" worker start --drain -c 2 >"$T/drain.out" 2>"$T/drain.err" || rc=$?
[ "$rc" = 0 ] || { cat "$T/drain.err" >&2; fail "worker start --drain -c 2 exited $rc, expected 0"; }
state_is "$id" completed || fail "the drain returned before the job completed (state $(field "$id" state))"
[ "$(field "$id" exit_code)" = 0 ] || fail "exit_code should be 0"
check "worker start --drain -c 2 returned 0 after the job ran"

q logs "$id" | grep -qx "hi" || fail "logs $id should show hi, got: $(q logs "$id" 2>&1)"
check "logs $id shows hi"

[ ! -f "$PIDF" ] || fail "workers.pid left behind after the drain"
q worker status --json | grep -q '"supervisor": null' || fail "a supervisor is still listed: $(q worker status --json)"
# No process of this home is left (a compaction the flow started may still be finishing: wait for it).
[ -e "$H/compact.lock" ] && flock -w 30 "$H/compact.lock" true 2>/dev/null || true
left=$(pgrep -f -- "--home $H worker" || true)
[ -z "$left" ] || fail "worker processes left running: $left"
check "no worker left"
