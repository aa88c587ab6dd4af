#!/usr/bin/env bash
# move: with no workers, a..e enqueued at one priority and p at a higher one; `move c --first`,
# `move b --before a`, `move e --first` (a later --first goes ahead of an earlier one). One
# worker with --drain then runs them p, e, c, b, a, d: priority first, then the moves, then
# creation. The refusals: another queue's job or a job of higher priority as OTHER, a running or
# finished job (exit 1), an unknown job (exit 1), neither or both of --first/--before and a job
# before itself (exit 2), each leaving the home unchanged.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queues_lib.sh"

for j in a b c d e; do q enqueue --id $j -- "echo $j >> $T/order" >/dev/null; done
q enqueue --id p --priority 1 -- "echo p >> $T/order" >/dev/null
q enqueue --id g -q gpu -- "echo g >> $T/gpu.order" >/dev/null
[ "$(q move c --first 2>"$T/err")" = c ] || fail "move c --first: $(cat "$T/err")"
[ "$(q move b --before a 2>"$T/err")" = b ] || fail "move b --before a: $(cat "$T/err")"
[ "$(q move e --first 2>"$T/err")" = e ] || fail "move e --first: $(cat "$T/err")"
state_is c pending && state_is b pending && state_is e pending || fail "a moved job is no longer pending"
check "moved: c --first, b --before a, e --first"

refused 1 move d --before p;   m1=$REFUSED
refused 1 move g --before a;   m2=$REFUSED
refused 1 move nosuch --first
refused 1 move d --before nosuch
refused 2 move d;              m3=$REFUSED
refused 2 move d --first --before a
refused 2 move d --before d
check "refused, home unchanged: OTHER of higher priority → 1 ($m1); OTHER in another queue → 1 ($m2); unknown job → 1; neither option → 2 ($m3); both → 2; before itself → 2"

timeout -k 5 60 "$Q" --home "$H" worker start --drain -c 1 >/dev/null 2>&1 || fail "worker start --drain"
[ "$(tr '\n' ' ' < "$T/order")" = "p e c b a d " ] || fail "ran in the order $(tr '\n' ' ' < "$T/order"), expected p e c b a d"
check "one worker ran them p e c b a d (priority, then e and c by --first, latest first, b just before a, then d)"

refused 1 move a --first;      m4=$REFUSED
q enqueue --id r -- "$(gate r_open) # $MARK" >/dev/null
q enqueue --id s -- true >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1 || fail "worker start"
wait_until 20 "r running" state_is r processing
set +e; q move r --first >/dev/null 2>"$T/err"; rc=$?; set -e
[ $rc = 1 ] && [ "$(wc -l < "$T/err")" = 1 ] || fail "move of the running r: exit $rc: $(cat "$T/err")"
open_gate r_open
wait_until 20 "s ran" state_is s completed
check "move of a finished job → 1 ($m4); of a running one → 1 ($(cat "$T/err"))"
