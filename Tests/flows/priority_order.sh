#!/usr/bin/env bash
# With one worker, runnable jobs run by priority (higher first), then by creation order.
source "$(dirname "$0")/lib.sh"
for i in $(seq 1 12); do
    p=$(( (i * 7) % 5 ))
    echo "{\"id\":\"p$i\",\"priority\":$p,\"command\":\"echo \$QUEUECTL_JOB_ID >> $T/order\"}"
done | q enqueue --file - >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 30 "12 completed" count_is completed 12
expected=$(for i in $(seq 1 12); do echo "$(( (i * 7) % 5 )) $i p$i"; done | sort -k1,1nr -k2,2n | awk '{print $3}')
[ "$(cat "$T/order")" = "$expected" ] || fail "order was: $(tr '\n' ' ' < "$T/order"), expected: $(echo $expected)"
check "ran in priority order: $(tr '\n' ' ' < "$T/order")"
