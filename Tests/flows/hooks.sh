#!/usr/bin/env bash
# Hooks. on_finish writes one line per job that ends, in every final state: completed, dead,
# cancelled while running, cancelled while waiting (by `cancel` itself), cancelled because a
# dependency died; each job exactly once, with its exit code, queue and label. on_idle fires once
# each time a queue runs empty (two busy periods: two lines, not one per job). A hook that hangs
# for 60 s is killed by hook_timeout (its whole group: nothing of it is left), and the queue keeps
# working meanwhile: jobs enqueued behind it complete. A failing hook is logged; its job is not
# affected.
source "$(dirname "$0")/lib.sh"
OUT="$T/hooks.out"
q config set on_finish "echo \"\$QUEUECTL_JOB_ID \$QUEUECTL_STATE [\$QUEUECTL_EXIT_CODE] \$QUEUECTL_QUEUE [\$QUEUECTL_LABEL]\" >> '$OUT'" >/dev/null 2>&1
q config set on_idle "echo \"idle \$QUEUECTL_QUEUE\" >> '$OUT'" >/dev/null 2>&1
q config set hook_timeout 1 >/dev/null 2>&1

lines() { [ -f "$OUT" ] || { echo 0; return; }; grep -c -- "$1" "$OUT" || true; }
has_line() { [ -f "$OUT" ] && grep -Fqx -- "$1" "$OUT"; }

# Busy period 1, all final states.
q enqueue --id ok --label L1 -- true >/dev/null
q enqueue --id bad --max-retries 0 -- "exit 3" >/dev/null
q enqueue --id child --after bad -- true >/dev/null          # cancelled: its dependency died
q enqueue --id waiting --delay 1h -- true >/dev/null
q enqueue --id long -- "sleep 30 # $MARK" >/dev/null
q cancel waiting >/dev/null 2>&1                                  # ends waiting: cancel fires it
wait_until 10 "on_finish of the job cancelled while waiting (got: $(cat "$OUT" 2>/dev/null))" has_line "waiting cancelled [] default []"
q worker start -c 2 -d >/dev/null 2>&1 || fail "worker start"
wait_until 20 "ok, bad and child ended" has_line "child cancelled [] default []"
has_line "ok completed [0] default [L1]" || fail "no on_finish line for ok: $(cat "$OUT")"
has_line "bad dead [3] default []" || fail "no on_finish line for bad: $(cat "$OUT")"
wait_until 10 "long running" state_is long processing
wait_until 10 "long's group recorded" group_recorded long
[ "$(lines '^idle')" = 0 ] || fail "on_idle fired while long was still running: $(cat "$OUT")"
q cancel long >/dev/null 2>&1
wait_until 10 "on_finish of long (cancelled while running)" has_line "long cancelled [] default []"
wait_until 10 "on_idle once the queue ran empty" has_line "idle default"
check "on_finish: completed (exit 0, label), dead (exit 3), cancelled by a dead dependency, cancelled while waiting, cancelled while running; on_idle once the queue ran empty"

# Busy period 2 in another queue: three jobs enqueued at once, one on_idle for that queue.
q enqueue --queue gpu '[{"id":"g1","command":"true"},{"id":"g2","command":"true"},{"id":"g3","command":"true"}]' >/dev/null
wait_until 20 "the gpu jobs ended" has_line "g3 completed [0] gpu []"
wait_until 10 "on_idle for gpu" has_line "idle gpu"
for id in ok bad child waiting long g1 g2 g3; do
    [ "$(grep -c "^$id " "$OUT")" = 1 ] || fail "job $id has $(grep -c "^$id " "$OUT") on_finish lines, expected 1: $(cat "$OUT")"
done
[ "$(lines '^idle default$')" = 1 ] && [ "$(lines '^idle gpu$')" = 1 ] || fail "on_idle should fire once per busy period: $(cat "$OUT")"
check "each job's on_finish exactly once; on_idle once per queue that ran empty (not once per job)"

# A hook that hangs is killed by hook_timeout, with its group; the queue keeps working meanwhile.
q config set on_finish "sleep 60 & sleep 61 # $MARK-hook" >/dev/null 2>&1
q enqueue --id h1 -- true >/dev/null
wait_until 10 "h1 completed" state_is h1 completed
for i in 1 2 3; do q enqueue --id after$i -- true >/dev/null; done
wait_until 10 "jobs behind a hanging hook completed" state_is after3 completed
wait_until 15 "the hanging hooks killed by hook_timeout" grep -q "hook on_finish for after3 killed after 1s (hook_timeout)" "$WLOG"
hook_gone() { ! pgrep -f "$MARK-hook" >/dev/null; }
wait_until 10 "nothing of the hanging hooks left" hook_gone
check "a hook hanging 60 s is killed after hook_timeout (1 s) with its group; jobs behind it completed meanwhile"

# A failing hook is logged; its job is not affected.
q config set on_finish "exit 7" >/dev/null 2>&1
q enqueue --id f1 -- true >/dev/null
wait_until 10 "f1 completed" state_is f1 completed
wait_until 10 "the failing hook logged" grep -q "hook on_finish for f1 exited with 7" "$WLOG"
check "a failing hook is logged with its exit code; its job completed"
