#!/usr/bin/env bash
# Several hosts, one queue: host B dies (kill -9 of every process of the machine, its JuiceFS
# client too) while it runs a job. With lease_timeout 3, the job stays processing while B's
# lease is younger than 3 s (checked right after the kill and 1.5 s after it); once the lease is
# older, host A's workers record the attempt as lost ("worker lost (host B stopped renewing its
# lease)"), retry it and complete it on A. The flow prints the time from the kill to the
# recovery. hosts_local_kill.sh runs this same flow on a local directory.
source "$(dirname "$0")/lib.sh"
case "$FLOW" in hosts_local_*) HOSTS_FS=local ;; *) HOSTS_FS=juicefs ;; esac
source "$(dirname "$0")/hosts_lib.sh"
started=$(now_ms)
LEASE=3
hosts_up "A B" "poll_interval 0.2" "lease_timeout $LEASE" "backoff_base 1"

on_host B worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start on B: $(cat "$T/err")"
# 5 s of running time in 0.1 s steps; the run that gets to its end records its host.
on_host A enqueue --id k1 --max-retries 2 -- "for i in \$(seq 50); do sleep 0.1; done; hostname >> $T/k1.ran # $MARK-k1" >/dev/null \
    || fail "enqueue k1"
on_b() { state_on A k1 processing && [[ "$(field_on A k1 worker_host)" == B:* ]] && [ -n "$(host_pgrep B "$MARK-k1")" ] && group_recorded_on A k1; }
wait_until 20 "k1 running on B" on_b
wh=$(field_on A k1 worker_host)
[[ "$wh" =~ ^B:[0-9a-f]{8}$ ]] || fail "worker_host of k1 should be B:<8 hex of the boot id>, is $wh"
on_host A worker start --count 2 --detach >/dev/null 2>"$T/err" || fail "worker start on A: $(cat "$T/err")"
check "k1 runs on B (worker_host $wh); A's 2 workers started"

lease_file="$(host_home A)/hosts/B.lease"
host_run A test -f "$lease_file" || fail "no hosts/B.lease while B's supervisor runs"
t_kill=$(now_ms)
host_kill B
state_on A k1 processing || fail "k1 is $(field_on A k1 state) right after the kill, not processing (B's lease cannot be $LEASE s old yet)"
what="every process"; [ "$HOSTS_FS" = local ] || what="every process, its JuiceFS client too"
check "host B killed -9 ($what) in $(( $(now_ms) - t_kill )) ms; k1 still processing"
# 1.5 s after the kill B's lease is at most 1.5 + $LEASE/3 s old: the job must not be taken yet.
until [ "$(now_ms)" -ge $(( t_kill + 1500 )) ]; do sleep 0.02; done
[ "$(field_on A k1 state)" = processing ] && [ "$(field_on A k1 attempts)" = 1 ] \
    || fail "k1 is $(field_on A k1 state) (attempts $(field_on A k1 attempts)) 1.5 s after the kill: recovered before B's lease expired"
# B is dead, and A's attribute cache has expired: this is the last renewal of B's lease.
lease_ms=$(host_run A stat -c %.3Y "$lease_file" | tr -d .)
check "1.5 s after the kill k1 is still processing, 1 attempt (B's lease last renewed $(( t_kill - lease_ms )) ms before the kill)"

recovered() { history_on A k1 | grep -q '"error": ".*stopped renewing its lease'; }
wait_until 30 "k1's attempt on B recorded as lost" recovered
t_rec=$(now_ms)
err=$(history_on A k1 | sed -n 's/^      "error": "\(.*\)",\{0,1\}$/\1/p' | head -1)
echo "$err" | grep -q "worker lost (host B stopped renewing its lease)" || fail "k1's first attempt's error: $err"
lost_at=$(history_on A k1 | sed -n 's/^      "finished_at": "\(.*\)",\{0,1\}$/\1/p' | head -1)
lost_ms=$(date -d "$lost_at" +%s%3N) || fail "attempt 1 of k1 has no finished_at: $(history_on A k1)"
[ "$lost_ms" -ge $(( lease_ms + LEASE * 1000 )) ] \
    || fail "attempt 1 recorded lost at $lost_at, $(( lost_ms - lease_ms )) ms after B's last lease renewal: before lease_timeout ($LEASE s)"
check "k1's attempt on B recorded lost: \"$err\", $(( lost_ms - lease_ms )) ms after B's last renewal; seen $(( t_rec - t_kill )) ms after the kill"

wait_until 30 "k1 completed" state_on A k1 completed
[ "$(field_on A k1 attempts)" = 2 ] && [ "$(successes_on A k1)" = 1 ] || fail "k1: attempts $(field_on A k1 attempts), $(successes_on A k1) successful: $(history_on A k1)"
[ "$(cat "$T/k1.ran")" = A ] || fail "k1's runs that got to their end: $(tr '\n' ' ' < "$T/k1.ran") (B's was killed: only A's)"
wait_until 10 "no process of k1 left" no_job_left
check "k1 retried and completed on A: 2 attempts, 1 successful, only A's run (hostname A) got to its end"
wh=$(host_of_run_on A k1)
[[ "$wh" =~ ^A:[0-9a-f]{8}$ ]] || fail "k1 completed on A, but show --json names worker_host \"$wh\" for it, not A:<boot id>: $(on_host A show k1 --json)"
check "show k1 --json names worker_host $wh for the completed run; flow took $(( $(now_ms) - started )) ms"
