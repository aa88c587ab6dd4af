#!/usr/bin/env bash
# Several hosts, one queue: self-fencing in a partition. Only host B's JuiceFS client is frozen
# (SIGSTOP), as when B loses its file server: B's supervisor, worker and job keep running, but
# every file-system call of B hangs, so its lease cannot be renewed. B's worker's watchdog then
# kills B's run of the job by itself (no file access needed), before the job gets to its end;
# A recovers the job once B's lease has expired and completes it. When B's client is continued,
# B's worker writes no late result (the job stays completed with exactly one successful attempt,
# A's) and logs that it stopped the attempt.
source "$(dirname "$0")/lib.sh"
HOSTS_FS=juicefs
source "$(dirname "$0")/hosts_lib.sh"
started=$(now_ms)
hosts_up "A B" "poll_interval 0.2" "lease_timeout 3" "backoff_base 1"

on_host B worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start on B: $(cat "$T/err")"
# 8 s of running time in 0.1 s steps; the run that gets to its end records its host.
on_host A enqueue --id n1 --max-retries 2 -- "for i in \$(seq 80); do sleep 0.1; done; hostname >> $T/n1.ran # $MARK-n1" >/dev/null \
    || fail "enqueue n1"
on_b() { state_on A n1 processing && [[ "$(field_on A n1 worker_host)" == B:* ]] && [ -n "$(host_pgrep B "$MARK-n1")" ] && group_recorded_on A n1; }
wait_until 20 "n1 running on B" on_b
on_host A worker start --count 1 --detach >/dev/null 2>"$T/err" || fail "worker start on A: $(cat "$T/err")"
check "n1 runs on B; A's worker started"

client=$(for p in $(host_pids B); do if [ "$(cat /proc/$p/comm 2>/dev/null)" = juicefs ]; then echo "$p"; fi; done | tr '\n' ' ')
[ -n "$client" ] || fail "no JuiceFS client process found on B"
t_cut=$(now_ms)
# shellcheck disable=SC2086
kill -STOP $client
check "B's JuiceFS client ($client) frozen: B's file system hangs, its processes run on"
b_job_gone() { [ -z "$(host_pgrep B "$MARK-n1")" ]; }
wait_until 20 "B's run of n1 killed by B itself while its file system hangs" b_job_gone
t_killed=$(now_ms)
check "B's run of n1 gone $(( t_killed - t_cut )) ms after the cut (lease_timeout 3 s), with B's client still frozen"
done_on_a() { state_on A n1 completed; }
wait_until 40 "n1 recovered and completed on A" done_on_a
history_on A n1 | grep -q '"error": ".*worker lost (host B stopped renewing its lease)' || fail "n1 has no \"worker lost\" attempt: $(history_on A n1)"
check "A recovered n1 (\"worker lost (host B stopped renewing its lease)\") and completed it $(( $(now_ms) - t_cut )) ms after the cut"

# shellcheck disable=SC2086
kill -CONT $client
log="$(host_home A)/hosts/B.log"
said() { host_run A grep -q "n1: stopped by its own host" "$log" 2>/dev/null; }
wait_until 30 "B's worker to log that it stopped n1 itself" said
check "B's client continued; B's log says: $(host_run A grep "n1: stopped by its own host" "$log" | head -1 | cut -c1-160)…"
[ "$(successes_on A n1)" = 1 ] && state_on A n1 completed || fail "n1 after B came back: $(history_on A n1)"
[ "$(cat "$T/n1.ran")" = A ] || fail "runs of n1 that got to their end: $(tr '\n' ' ' < "$T/n1.ran") (B's should have been killed)"
check "n1 completed once (A's run); B's run never got to its end and wrote no result; flow took $(( $(now_ms) - started )) ms"
