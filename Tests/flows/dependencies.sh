#!/usr/bin/env bash
# A→B→C run in order; when a dependency dies, its dependents do not run and say why.
source "$(dirname "$0")/lib.sh"
q enqueue --id C --after B -- "echo C >> $T/order" >/dev/null 2>&1 && fail "unknown dependency accepted"
q enqueue --id A -- "sleep 0.3; echo A >> $T/order" >/dev/null
q enqueue --id B --after A -- "echo B >> $T/order" >/dev/null
q enqueue --id C --after B -- "echo C >> $T/order" >/dev/null
q enqueue --id F --max-retries 0 -- "exit 1" >/dev/null
q enqueue --id G --after F -- "touch $T/G-ran" >/dev/null
q enqueue --id H --after G --after A -- "touch $T/H-ran" >/dev/null
q worker start --count 3 --detach >/dev/null 2>&1
wait_until 30 "C completed" state_is C completed
[ "$(tr '\n' ' ' < "$T/order")" = "A B C " ] || fail "order: $(cat "$T/order")"
check "A, B, C ran in order with 3 workers"
wait_until 30 "H cancelled" state_is H cancelled
state_is G cancelled || fail "G should be cancelled"
field G last_error | grep -q 'dependency "F" is dead' || fail "G's reason: $(field G last_error)"
field H last_error | grep -q 'dependency "G" was cancelled' || fail "H's reason: $(field H last_error)"
[ ! -e "$T/G-ran" ] && [ ! -e "$T/H-ran" ] || fail "a dependent of a dead job ran"
check "F died; G and H did not run: $(field G last_error); $(field H last_error)"
