#!/usr/bin/env bash
# pause and resume. `pause --queue default --jobs` stops the running job's process group (state
# T, no progress) and keeps a job enqueued meanwhile from starting; `resume --queue default`
# continues the job (same attempt, it completes) and the new job runs. `pause ID` of a running
# job without --jobs lets it run on (it completes); a job with --timeout 2 held stopped by
# `pause --jobs ID` for 5 s then resumed completes: the stopped time is not counted.
# `pause ID` on a pending job holds it while jobs behind it run (list: "pending (paused)");
# `resume ID` lets it run. The refusals: finished or unknown job (exit 1, all or nothing), no
# ids and no --queue, --jobs alone, ids with --queue, a bad queue name (exit 2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queues_lib.sh"

# p1 ticks until its gate opens.
q enqueue --id p1 -- "$(gate p1_open "echo tick >> $T/ticks") # $MARK" >/dev/null
q worker start --count 2 --detach >/dev/null 2>&1 || fail "worker start"
wait_until 20 "p1 running, its group recorded" eval 'state_is p1 processing && [ -n "$(pgid_of p1)" ]'
pg=$(pgid_of p1)
wait_until 10 "p1 ticking" test -s "$T/ticks"
q pause --queue default --jobs >/dev/null 2>"$T/err" || fail "pause --queue default --jobs: $(cat "$T/err")"
grep -q "queue default paused" "$T/err" || fail "pause --queue default --jobs said: $(cat "$T/err")"
wait_until 10 "p1's process group stopped (T)" group_is "$pg" stopped
wait_until 10 "the worker's log line for p1's pause" grep -q "p1 paused: its process group is stopped" "$WLOG"
q queue list | grep -Eq '^default +paused \(jobs stopped\) ' || fail "queue list: $(q queue list)"
check "pause --queue default --jobs: p1's group (pgid $pg) is stopped (T), the worker logged it, queue list says 'paused (jobs stopped)'"

ticks=$(wc -l < "$T/ticks")
q enqueue --id p2 -- "echo p2 >> $T/p2.ran # $MARK" >/dev/null
probe pr1
state_is p2 pending || fail "p2 (queue default, paused) is $(field p2 state)"
[ "$(wc -l < "$T/ticks")" = "$ticks" ] || fail "p1 kept ticking while stopped: $ticks, then $(wc -l < "$T/ticks")"
group_is "$pg" stopped && state_is p1 processing || fail "p1 is $(field p1 state), group state $(ps -o stat= -p "$pg")"
check "p2, enqueued meanwhile, stays pending past a probe claim by the free worker; p1 made no progress ($ticks ticks)"

q resume --queue default >/dev/null 2>"$T/err" || fail "resume --queue default: $(cat "$T/err")"
wait_until 10 "p1's process group continued" group_is "$pg" running
wait_until 10 "the worker's log line for p1's resume" grep -q "p1 resumed" "$WLOG"
wait_until 10 "p1 ticking again" eval '[ "$(wc -l < "$T/ticks")" -gt "$ticks" ]'
open_gate p1_open
wait_until 20 "p1 completed" state_is p1 completed
[ "$(field p1 attempts)" = 1 ] && [ "$(field p1 exit_code)" = 0 ] || fail "p1: attempts $(field p1 attempts), exit $(field p1 exit_code)"
wait_until 20 "p2 ran" state_is p2 completed
q queue list | grep -Eq '^default +active ' || fail "queue list after resume: $(q queue list)"
check "resume --queue default: p1 continued (SIGCONT, ticking again), completed in its one attempt; p2 then ran"

# pause ID of a running job, without --jobs: it goes on (held only from new claims).
q enqueue --id r1 -- "sleep 1 # $MARK" >/dev/null
wait_until 20 "r1 running, its group recorded" eval 'state_is r1 processing && [ -n "$(pgid_of r1)" ]'
[ "$(q pause r1 2>"$T/err")" = r1 ] || fail "pause r1: $(cat "$T/err")"
grep -q "goes on" "$T/err" || fail "pause r1 should say the running job goes on: $(cat "$T/err")"
wait_until 20 "r1 completed while paused without --jobs" state_is r1 completed
check "pause r1 (running, no --jobs): it went on and completed; stderr: $(cat "$T/err")"

# The timeout does not count the time stopped.
q enqueue --id t1 --timeout 2 -- "sleep 3 # $MARK" >/dev/null
wait_until 20 "t1 running, its group recorded" eval 'state_is t1 processing && [ -n "$(pgid_of t1)" ]'
pg=$(pgid_of t1)
out=$(q pause --jobs t1 2>"$T/err") || fail "pause --jobs t1: $(cat "$T/err")"
[ "$out" = t1 ] || fail "pause t1 printed '$out'"
wait_until 10 "t1's group stopped" group_is "$pg" stopped
stopped_at=$(date +%s%3N)
q list >"$T/l"
grep -Eq '^t1 +processing \(paused, stopped\) ' "$T/l" || fail "list while t1 is held: $(cat "$T/l")"
q show t1 --json | grep -q '"paused": true' || fail "show t1 --json has no \"paused\": true"
q show t1 | grep -q paused || fail "show t1 does not say it is paused: $(q show t1)"
until [ "$(date +%s%3N)" -ge $(( stopped_at + 5000 )) ]; do
    group_is "$pg" stopped && state_is t1 processing || fail "t1 while held: $(field t1 state), group $(ps -o stat= -p "$pg")"
    sleep 0.2
done
q resume t1 >/dev/null 2>&1 || fail "resume t1"
wait_until 20 "t1 finished" eval 'state_is t1 completed || state_is t1 failed || state_is t1 dead'
state_is t1 completed && [ "$(field t1 attempts)" = 1 ] \
    || fail "t1 (timeout 2 s, held stopped 5 s) ended $(field t1 state) after $(field t1 attempts) attempt(s): $(field t1 last_error)"
ran_ms=$(( $(date -d "$(field t1 finished_at)" +%s%3N) - $(date -d "$(field t1 started_at)" +%s%3N) ))
[ "$ran_ms" -ge 5000 ] || fail "t1's attempt lasted $ran_ms ms: it was not held 5 s"
check "t1 (--timeout 2, sleep 3) held stopped 5 s by 'pause --jobs t1' (list: processing (paused, stopped)), resumed: completed in $ran_ms ms, not timed out"

# pause ID on a pending job. The queue is paused meanwhile so no worker takes h1 first.
q pause --queue default >/dev/null 2>&1
q enqueue --id h1 -- "echo h1 >> $T/h.ran # $MARK" >/dev/null
[ "$(q pause h1 2>/dev/null)" = h1 ] || fail "pause h1"
q resume --queue default >/dev/null 2>&1
q enqueue --id o1 -- "echo o1 >> $T/h.ran # $MARK" >/dev/null
q enqueue --id o2 -- "echo o2 >> $T/h.ran # $MARK" >/dev/null
wait_until 20 "o1, o2 completed" eval 'state_is o1 completed && state_is o2 completed'
state_is h1 pending || fail "h1, held, is $(field h1 state)"
q list >"$T/l"
grep -Eq '^h1 +pending \(paused\) ' "$T/l" || fail "list: $(cat "$T/l")"
q queue list --json | grep -A 5 '"name": "default"' | grep -q '"held_jobs": 1' || fail "queue list --json should count 1 held job in default: $(q queue list --json)"
[ "$(q resume h1 2>/dev/null)" = h1 ] || fail "resume h1"
wait_until 20 "h1 ran" state_is h1 completed
[ "$(tr '\n' ' ' < "$T/h.ran")" = "o1 o2 h1 " ] || fail "runs: $(tr '\n' ' ' < "$T/h.ran")"
q show h1 --json | grep -q '"paused": true' && fail "h1 still paused after resume"
check "pause h1 (pending): o1, o2 behind it ran, h1 stayed 'pending (paused)' (queue list HELD 1); resume h1: it ran"

# Refusals, with the workers stopped (nothing else writes the home).
q worker stop --timeout 10 >/dev/null 2>&1 || fail "worker stop"
q enqueue --id z1 --delay 1h -- true >/dev/null
refused 1 pause nosuch;           m1=$REFUSED
refused 1 resume nosuch
refused 1 pause z1 nosuch
field z1 paused | grep -qx true && fail "pause z1 nosuch paused z1"
refused 1 pause p1;               m2=$REFUSED
refused 1 resume p1
refused 2 pause;                  m3=$REFUSED
refused 2 resume
refused 2 pause --jobs;           m4=$REFUSED
refused 2 pause --queue default z1
refused 2 resume --queue default z1
refused 2 pause --queue 'a/b'
refused 2 pause --queue ''
check "refused, home unchanged: unknown → 1 ($m1); z1 with an unknown id → 1, z1 not paused; finished → 1 ($m2); nothing named → 2 ($m3); --jobs alone → 2 ($m4); --queue with ids, bad queue name → 2"
