#!/usr/bin/env bash
# worker stop with a job running: the job finishes first, then the command returns.
source "$(dirname "$0")/lib.sh"
q enqueue '{"id":"slow","command":"echo started; sleep 1.5; echo done"}' >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "slow running" state_is slow processing
q logs slow --follow > "$T/follow" 2>&1 &
follower=$!
q worker stop >/dev/null 2>&1
state_is slow completed || fail "stop returned before the job finished (state $(field slow state))"
q logs slow | grep -q done || fail "job output incomplete"
[ -z "$(worker_pids)" ] || fail "pidfile still lists workers"
wait "$follower" || fail "logs --follow failed"
grep -q started "$T/follow" && grep -q done "$T/follow" || fail "logs --follow missed output: $(cat "$T/follow")"
check "logs --follow printed the output as it came and returned when the job finished"
check "worker stop waited for the running job, which completed"
