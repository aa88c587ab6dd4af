#!/usr/bin/env bash
# Named queues on several hosts: two simulated machines (pid + uts + mount namespaces sharing a
# local home). Host A runs `worker start --queues gpu,shared`, host B `-q default,shared`.
# Queue shared has a parallel limit of 1: while A's job holds the slot, B's workers pass the next
# shared job over; raised on B, the limit lets it start beside the first at once. Every gpu job
# runs on A and every default job on B (by the jobs' own hostname and by show --json's
# worker_host), shared jobs never overlap though both hosts serve them, and a job of a queue
# nobody serves is passed over by every claim. `worker status` (and --json) names the queues
# each host serves. `pause --queue gpu --jobs` given on B stops the gpu job running on A (its
# process group is T inside A), `resume --queue gpu` on B continues it, and it completes on A.
source "$(dirname "$0")/lib.sh"
HOSTS_FS=local
source "$(dirname "$0")/hosts_lib.sh"
source "$(dirname "$0")/queues_lib.sh"
hosts_up "A B" "poll_interval 0.2"
on_host A queue set shared --parallel 1 >/dev/null 2>&1 || fail "queue set shared on A"

on_host A enqueue --id o1 -q other -- "echo o1 >> $T/o1.ran" >/dev/null || fail "enqueue o1"
on_host A worker start --queues gpu,shared --count 2 --detach >/dev/null 2>"$T/err" || fail "worker start on A: $(cat "$T/err")"
# s0 holds shared's one slot, on A (B has no workers yet).
on_host A enqueue --id s0 -q shared -- "$(rec_cmd "$T/rec0" shared "$(gate s0_open)")" >/dev/null
wait_until 20 "s0 running on A" state_on A s0 processing
on_host B worker start -q default,shared --count 2 --detach >/dev/null 2>"$T/err" || fail "worker start on B: $(cat "$T/err")"
both_listed() { [ "$(hosts_listed A | tr '\n' ' ')" = "A B " ]; }
wait_until 20 "status on A to list hosts A and B" both_listed
on_host B worker status >"$T/ws" 2>&1
grep -E '^host A\b' "$T/ws" | grep -q "serving queues gpu,shared" || fail "worker status (on B), host A's line: $(cat "$T/ws")"
grep -E '^host B\b' "$T/ws" | grep -q "serving queues default,shared" || fail "worker status (on B), host B's line: $(cat "$T/ws")"
served=$(on_host A worker status --json | awk '
    /^  "hosts": \[/ { h = 1 }
    h && /^      "host": / { n = $2; gsub(/[",]/, "", n) }
    h && /^      "queues": \[/ { q = 1; s = ""; next }
    q && /^      \]/ { q = 0; print n ":" s; next }
    q { gsub(/[ ",]/, ""); s = s (s == "" ? "" : ",") $0 }' | sort | tr '\n' ' ')
[ "$served" = "A:gpu,shared B:default,shared " ] || fail "worker status --json, queues per host: '$served'"
check "worker status: host A serving queues gpu,shared, host B default,shared (--json: $served)"

# The limit binds B's claims while A's job holds the slot: s1 precedes the probe dp, which B's
# workers (serving shared too) took; s1 was passed over. Raised on B, it lets s1 start at once.
on_host B enqueue --id s1 -q shared -- "$(rec_cmd "$T/rec0" shared "$(gate s0_open)")" >/dev/null
on_host B enqueue --id dp -- true >/dev/null
wait_until 20 "dp completed on B" state_on A dp completed
[[ "$(host_of_run_on A dp)" == B:* ]] || fail "dp (default) ran on $(host_of_run_on A dp)"
state_on A s1 pending || fail "shared is at its limit 1 (s0 on A), yet s1 is $(field_on A s1 state)"
on_host B queue set shared --parallel 2 >/dev/null 2>&1 || fail "queue set shared --parallel 2 on B"
wait_until 20 "s1 running beside s0" state_on A s1 processing
state_on A s0 processing || fail "s0 is $(field_on A s0 state) while s1 runs"
open_gate s0_open
wait_until 20 "s0, s1 completed" eval 'state_on A s0 completed && state_on A s1 completed'
[ "$(max_overlap "$T/rec0" shared)" = 2 ] || fail "s0 and s1 did not overlap: $(cat "$T/rec0")"
check "shared at its limit 1 (s0 on A): B's workers passed s1 over for a later job; 'queue set shared --parallel 2' on B: s1 ran beside s0 (on $(host_of_run_on A s1 | cut -d: -f1))"
on_host B queue set shared --parallel 1 >/dev/null 2>&1 || fail "queue set shared --parallel 1 on B"

for i in $(seq 6); do
    on_host A enqueue --id g$i -q gpu -- "$(rec_cmd "$T/rec" gpu)" >/dev/null
    on_host B enqueue --id d$i -- "$(rec_cmd "$T/rec" default)" >/dev/null
    on_host A enqueue --id sh$i -q shared -- "$(rec_cmd "$T/rec" shared)" >/dev/null
done
all_done() { [ "$(count_on A completed)" = 21 ]; }
wait_until 60 "18 more jobs completed (as A sees it)" all_done
for i in $(seq 6); do
    [[ "$(host_of_run_on B g$i)" == A:* ]] || fail "g$i (gpu) ran on $(host_of_run_on B g$i), not A"
    [[ "$(host_of_run_on A d$i)" == B:* ]] || fail "d$i (default) ran on $(host_of_run_on A d$i), not B"
done
bad=$(awk '$1 == "start" && (($3 == "gpu" && $5 != "A") || ($3 == "default" && $5 != "B"))' "$T/rec")
[ -z "$bad" ] || fail "jobs on the wrong host: $bad"
[ "$(max_overlap "$T/rec" shared)" = 1 ] || fail "shared (limit 1, served by A and B) ran $(max_overlap "$T/rec" shared) at once: $(grep shared "$T/rec")"
state_on A o1 pending && [ ! -e "$T/o1.ran" ] || fail "o1, in a queue nobody serves, is $(field_on A o1 state)"
shared_hosts=$(awk '$1 == "start" && $3 == "shared" { print $5 }' "$T/rec" | sort | uniq -c | tr -s ' \n' ' ')
check "6 gpu jobs all on A, 6 default all on B (worker_host and their hostname); shared never 2 at once across hosts (ran on:$shared_hosts); o1 (queue other) passed over"

# A pause given on B acts on the gpu job running on A.
on_host A enqueue --id gp -q gpu -- "$(gate gp_open) # $MARK" >/dev/null
gp_on_a() { state_on B gp processing && [[ "$(field_on B gp worker_host)" == A:* ]] && group_recorded_on B gp; }
wait_until 20 "gp running on A, its group recorded" gp_on_a
pg=$(field_on B gp job_pgid)
stat_on_a() { host_run A ps -o stat= -p "$pg" | cut -c1; }
[ "$(stat_on_a)" != T ] || fail "gp's group (pgid $pg on A) is stopped before any pause"
on_host B pause --queue gpu --jobs >/dev/null 2>&1 || fail "pause --queue gpu --jobs on B"
stopped_on_a() { [ "$(stat_on_a)" = T ]; }
wait_until 10 "gp's group on A stopped (T) after a pause given on B" stopped_on_a
host_run A grep -q "gp paused: its process group is stopped" "$H/hosts/A.log" || fail "A's log has no pause line for gp"
on_host B resume --queue gpu >/dev/null 2>&1 || fail "resume --queue gpu on B"
running_on_a() { [ "$(stat_on_a)" != T ]; }
wait_until 10 "gp's group on A continued after a resume given on B" running_on_a
open_gate gp_open
wait_until 20 "gp completed" state_on A gp completed
[ "$(field_on A gp attempts)" = 1 ] && [[ "$(host_of_run_on A gp)" == A:* ]] || fail "gp: $(history_on A gp)"
check "pause --queue gpu --jobs on B stopped gp on A (pgid $pg: T, logged by A's worker); resume on B continued it; it completed on A, 1 attempt"
