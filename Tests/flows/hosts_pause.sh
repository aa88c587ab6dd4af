#!/usr/bin/env bash
# Several hosts, one queue: fencing. Host B is frozen (SIGSTOP of every process of the machine,
# its JuiceFS client too) while it runs a job, for longer than lease_timeout (3 s). Host A
# recovers the job ("worker lost") and completes it. Then B is continued: its claim has been
# superseded, so its worker kills the job's process group before the job gets to its end, writes
# no late result (the job stays completed with exactly one successful attempt, A's) and logs
# "superseded" in hosts/B.log.
source "$(dirname "$0")/lib.sh"
HOSTS_FS=juicefs
source "$(dirname "$0")/hosts_lib.sh"
started=$(now_ms)
hosts_up "A B" "poll_interval 0.2" "lease_timeout 3" "backoff_base 1"

on_host B worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start on B: $(cat "$T/err")"
# 6 s of running time in 0.1 s steps (time spent stopped does not count: each step is a new
# sleep); the run that gets to its end records its host.
on_host A enqueue --id p1 --max-retries 2 -- "for i in \$(seq 60); do sleep 0.1; done; hostname >> $T/p1.ran # $MARK-p1" >/dev/null \
    || fail "enqueue p1"
on_b() { state_on A p1 processing && [[ "$(field_on A p1 worker_host)" == B:* ]] && [ -n "$(host_pgrep B "$MARK-p1")" ] && group_recorded_on A p1; }
wait_until 20 "p1 running on B" on_b
bjob=$(host_pgrep B "$MARK-p1" | tr '\n' ' ')
on_host A worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start on A: $(cat "$T/err")"
check "p1 runs on B (worker_host $(field_on A p1 worker_host), job process $bjob); A's worker started"

t_stop=$(now_ms)
host_stop B
check "host B frozen: SIGSTOP to all its $(host_pids B | wc -l) processes (supervisor, worker, job, JuiceFS client)"
done_on_a() { state_on A p1 completed; }
wait_until 40 "p1 recovered and completed on A while B is stopped" done_on_a
t_done=$(now_ms)
[ "$(successes_on A p1)" = 1 ] || fail "p1 has $(successes_on A p1) successful attempts, not 1: $(history_on A p1)"
history_on A p1 | grep -q '"error": ".*worker lost' || fail "p1 has no \"worker lost\" attempt: $(history_on A p1)"
attempts=$(field_on A p1 attempts)
check "while B is stopped, A recovered p1 (\"worker lost\") and completed it $(( t_done - t_stop )) ms after the stop: $attempts attempts, 1 successful"

host_cont B
t_cont=$(now_ms)
log="$(host_home A)/hosts/B.log"
superseded() { host_run A grep -q superseded "$log" 2>/dev/null; }
wait_until 20 "B's worker to log that its claim was superseded" superseded
line=$(host_run A grep superseded "$log" | head -1)
check "B continued; B's log says: $line ($(( $(now_ms) - t_cont )) ms after the SIGCONT)"
b_job_gone() { [ -z "$(host_pgrep B "$MARK-p1")" ]; }
wait_until 4 "B's run of p1 gone (it had about 5 s of running left)" b_job_gone
check "B's run of p1 is gone $(( $(now_ms) - t_cont )) ms after the SIGCONT"
[ "$(field_on A p1 state)" = completed ] && [ "$(field_on B p1 state)" = completed ] || fail "p1 is $(field_on A p1 state) (A) / $(field_on B p1 state) (B) after B came back, not completed"
[ "$(successes_on A p1)" = 1 ] && [ "$(field_on A p1 attempts)" = "$attempts" ] \
    || fail "B's late result was written: $(field_on A p1 attempts) attempts, $(successes_on A p1) successful: $(history_on A p1)"
[ "$(cat "$T/p1.ran")" = A ] || fail "p1's runs that got to their end: $(tr '\n' ' ' < "$T/p1.ran") (B's should have been killed)"
wait_until 10 "no process of p1 left" no_job_left
check "p1 still completed for A and B, still $attempts attempts with exactly 1 successful (A's); B's run never got to its end; flow took $(( $(now_ms) - started )) ms"
wh=$(host_of_run_on A p1)
[[ "$wh" =~ ^A:[0-9a-f]{8}$ ]] || fail "p1 completed on A, but show --json names worker_host \"$wh\" for it, not A:<boot id>: $(on_host A show p1 --json)"
check "show p1 --json names worker_host $wh for the completed run"
