#!/usr/bin/env bash
# edit: a pending job's command, priority and label change and the new command is what runs;
# a running job and a finished one are refused with exit 1 and a line saying what to do; a bad
# value (exit 2) or a dependency cycle (exit 2) changes nothing.
source "$(dirname "$0")/lib.sh"
q config set poll_interval 0.1 >/dev/null 2>&1
q enqueue --id e1 -- "echo old" >/dev/null
q enqueue --id e2 --after e1 -- "echo two" >/dev/null
out=$(q edit e1 --command "echo new" --priority 3 --label edited 2>"$T/err") || fail "edit e1: $(cat "$T/err")"
[ "$out" = e1 ] && [ "$(field e1 command)" = "echo new" ] && [ "$(field e1 priority)" = 3 ] && [ "$(field e1 label)" = edited ] \
    && state_is e1 pending && [ "$(field e1 created_at)" != "" ] || fail "after edit: $(q show e1 --json)"
check "edit e1 → command 'echo new', priority 3, label edited; still pending, same id"

before=$(q show e1 --json)
set +e
q edit e1 --after e2 >/dev/null 2>"$T/cycle"; rc1=$?
q edit e1 --timeout -5 >/dev/null 2>"$T/bad"; rc2=$?
set -e
[ $rc1 = 2 ] && grep -q "cycle: e1 -> e2 -> e1" "$T/cycle" || fail "a cycle: exit $rc1, $(cat "$T/cycle")"
[ $rc2 = 2 ] && grep -q -- "--timeout" "$T/bad" || fail "a bad timeout: exit $rc2, $(cat "$T/bad")"
[ "$(q show e1 --json)" = "$before" ] || fail "a refused edit changed e1"
check "refused with exit 2 and e1 unchanged: $(cat "$T/cycle"); $(cat "$T/bad")"

timeout -k 5 60 "$Q" --home "$H" worker start --drain -c 1 >/dev/null 2>&1 || true
state_is e1 completed || fail "e1 did not complete: $(field e1 state)"
[ "$(q logs e1)" = new ] || fail "e1 ran '$(q logs e1)', not the edited command"
set +e; q edit e1 --priority 1 >/dev/null 2>"$T/done"; rc=$?; set -e
[ $rc = 1 ] && grep -q "restart e1 --as-new" "$T/done" || fail "editing a completed job: exit $rc, $(cat "$T/done")"
check "the edited command ran (logs: new); editing it now that it completed → exit 1: $(cat "$T/done")"

q enqueue --id r1 -- "sleep 30 # $MARK" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1 || fail "workers did not start"
wait_until 20 "r1 running" state_is r1 processing
set +e; q edit r1 --priority 1 >/dev/null 2>"$T/run"; rc=$?; set -e
[ $rc = 1 ] && grep -q "is running" "$T/run" && state_is r1 processing || fail "editing a running job: exit $rc, $(cat "$T/run")"
check "editing the running r1 → exit 1: $(cat "$T/run")"
q cancel r1 >/dev/null 2>&1
