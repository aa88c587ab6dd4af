#!/usr/bin/env bash
# Restart and labels. A labelled job and an unlabelled one run; `list --label` finds only the
# labelled one and `show` names its label. `restart` runs the completed job again with its
# history kept (two attempts, two logs); `restart --as-new` enqueues a copy under a new id with
# the same command and label, the original untouched; `restart --failed` brings a dead job back.
# A waiting job cannot be restarted (exit 1), an unknown one neither (exit 1), no ids at all is a
# usage error (exit 2); an empty label is refused (exit 2) and changes nothing.
source "$(dirname "$0")/lib.sh"
drain() { timeout -k 5 60 "$Q" --home "$H" worker start --drain -c 1 >/dev/null 2>"$T/drain.err" || true; }

q enqueue --id n1 --label nightly -- "echo run \$QUEUECTL_ATTEMPT" >/dev/null || fail "enqueue n1 with a label"
q enqueue --id p1 -- "echo plain" >/dev/null || fail "enqueue p1"
[ "$(q list --label nightly --json | grep -c '"id":')" = 1 ] && q list --label nightly --json | grep -q '"id": "n1"' \
    || fail "list --label nightly: $(q list --label nightly --json)"
q list | grep -q "LABEL" || fail "list shows no LABEL column: $(q list)"
q show n1 | grep -Eq "^label +nightly" || fail "show n1 does not name its label: $(q show n1)"
[ "$(field n1 label)" = nightly ] || fail "show --json label: $(field n1 label)"
check "list --label nightly finds n1 only; list has a LABEL column; show names the label"

drain
state_is n1 completed && state_is p1 completed || fail "first drain: n1 $(field n1 state), p1 $(field p1 state)"
out=$(q restart n1 2>"$T/err") || fail "restart n1 failed: $(cat "$T/err")"
[ "$out" = n1 ] && state_is n1 pending || fail "restart n1 printed '$out', state $(field n1 state)"
drain
state_is n1 completed || fail "n1 after its restart: $(field n1 state)"
attempts=$(q show n1 --json | grep -c '"number":')
[ "$attempts" = 2 ] || fail "n1 should have 2 attempts in its history, has $attempts"
[ "$(q logs n1 --attempt 1)" = "run 1" ] && [ "$(q logs n1 --attempt 2)" = "run 2" ] || fail "logs: $(q logs n1 --attempt 1) / $(q logs n1 --attempt 2)"
check "restart n1 → pending, ran again: 2 attempts, logs 'run 1' and 'run 2' both kept"

copy=$(q restart n1 --as-new 2>/dev/null) || fail "restart --as-new failed"
[ -n "$copy" ] && [ "$copy" != n1 ] || fail "restart --as-new printed '$copy'"
[ "$(field "$copy" command)" = "$(field n1 command)" ] && [ "$(field "$copy" label)" = nightly ] && state_is "$copy" pending \
    || fail "the copy: $(q show "$copy" --json)"
state_is n1 completed && [ "$(q show n1 --json | grep -c '"number":')" = 2 ] || fail "the original changed: $(q show n1 --json)"
check "restart n1 --as-new → $copy: same command and label, pending; n1 untouched"

set +e
q restart "$copy" >/dev/null 2>"$T/err"; rc1=$?
q restart nosuch >/dev/null 2>"$T/err2"; rc2=$?
q restart >/dev/null 2>"$T/err3"; rc3=$?
q enqueue --label "" -- true >/dev/null 2>"$T/err4"; rc4=$?
set -e
[ $rc1 = 1 ] && grep -q "not finished" "$T/err" || fail "restart of a pending job: exit $rc1, $(cat "$T/err")"
[ $rc2 = 1 ] && grep -q 'no job with id "nosuch"' "$T/err2" || fail "restart of an unknown job: exit $rc2, $(cat "$T/err2")"
[ $rc3 = 2 ] || fail "restart without ids: exit $rc3, $(cat "$T/err3")"
[ $rc4 = 2 ] && grep -q '"label"' "$T/err4" || fail "empty label: exit $rc4, $(cat "$T/err4")"
[ "$(count pending)" = 1 ] || fail "a refused command changed the queue: $(count pending) pending"
check "refused: a pending job (1: $(cat "$T/err")), an unknown id (1), no ids (2), an empty label (2); nothing changed"

q cancel "$copy" >/dev/null
q enqueue --id f1 --max-retries 0 -- "exit 3" >/dev/null
drain
state_is f1 dead || fail "f1 should be dead: $(field f1 state)"
out=$(q restart --failed 2>/dev/null)
[ "$out" = f1 ] && state_is f1 pending || fail "restart --failed printed '$out', f1 is $(field f1 state)"
check "restart --failed brought the dead job f1 back to pending (the cancelled copy stays cancelled: $(field "$copy" state))"
