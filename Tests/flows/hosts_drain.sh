#!/usr/bin/env bash
# Several hosts, one queue: three simulated machines A, B and C (each its own hostname, pid
# namespace and JuiceFS client of one volume) run 2 workers each on the same home and drain 600
# jobs enqueued in one batch. Every job runs exactly once (a second run would fail its mkdir and,
# with max_retries 0, end dead), every host runs some of them, A, B and C all count 600 completed
# and none dead, and while they run `worker status` lists the three hosts, each with its workers.
# hosts_local_drain.sh runs this same flow with 300 jobs on a local directory.
source "$(dirname "$0")/lib.sh"
case "$FLOW" in hosts_local_*) HOSTS_FS=local; N=300; WAKEUP=inotify ;; *) HOSTS_FS=juicefs; N=600; WAKEUP=poll ;; esac
source "$(dirname "$0")/hosts_lib.sh"
started=$(now_ms)
host_start A; host_start B; host_start C
on_host A config set poll_interval 0.2 >/dev/null 2>&1 || fail "config set poll_interval on A"
check "hosts A, B and C up ($HOSTS_FS), each with its own hostname and pid namespace"

for h in A B C; do
    on_host "$h" worker start --count 2 --detach >"$T/start.out" 2>"$T/start.err" || fail "worker start on $h: $(cat "$T/start.out" "$T/start.err")"
done
three_listed() { [ "$(hosts_listed A | tr '\n' ' ')" = "A B C " ]; }
wait_until 20 "status --json on A to list hosts A, B and C" three_listed
on_host B worker status >"$T/wstatus" 2>&1 || fail "worker status on B: $(cat "$T/wstatus")"
for h in A B C; do
    line=$(grep "^host $h\b" "$T/wstatus") || fail "worker status on B has no line for host $h:
$(cat "$T/wstatus")"
    echo "$line" | grep -qw "$WAKEUP" || fail "host $h's line does not say its wake-up is $WAKEUP: $line"
    if [ "$h" = B ]; then
        echo "$line" | grep -q "(this host)" || fail "B's own line is not marked (this host): $line"
    else
        ! echo "$line" | grep -q "(this host)" || fail "host $h's line is marked (this host) on B: $line"
    fi
    # The host's line is followed by one indented line per worker, up to the next host line.
    n=$(awk -v h="$h" '/^host / { n = $2; sub(/:$/, "", n); on = (n == h); next } on && /^[ \t]+[^ \t]/ && !/^[ \t]*WORKER/ { c++ } END { print c + 0 }' "$T/wstatus")
    [ "$n" = 2 ] || fail "worker status lists $n workers under host $h, not 2:
$(cat "$T/wstatus")"
done
check "worker status (on B) lists host A, host B (this host) and host C, wake-up $WAKEUP, 2 workers each"

mkdir -p "$T/markers"
for i in $(seq "$N"); do
    printf '{"id":"d%d","command":"mkdir %s/markers/$QUEUECTL_JOB_ID && echo \\"$QUEUECTL_JOB_ID $(hostname)\\" >> %s/ran","max_retries":0}\n' "$i" "$T" "$T"
done >"$T/batch.jsonl"
on_host C enqueue --file - <"$T/batch.jsonl" >"$T/ids" 2>"$T/enqueue.err" || fail "batch enqueue from C: $(cat "$T/enqueue.err")"
[ "$(wc -l < "$T/ids")" = "$N" ] || fail "batch enqueue printed $(wc -l < "$T/ids") ids, not $N"
check "$N jobs enqueued from C in one batch (JSON Lines on stdin)"

t0=$(now_ms)
all_done() { [ "$(count_on A completed)" = "$N" ]; }
wait_until 240 "$N jobs completed (as A sees it)" all_done
t1=$(now_ms)
for h in A B C; do
    got=$(count_on "$h" completed) || fail "host $h cannot read the home"
    [ "$got" = "$N" ] || fail "host $h sees $got completed, not $N"
    [ "$(count_on "$h" dead)" = 0 ] || fail "host $h sees $(count_on "$h" dead) dead jobs: a job ran twice"
done
runs=$(wc -l < "$T/ran")
[ "$runs" = "$N" ] && [ "$(cut -d' ' -f1 "$T/ran" | sort -u | wc -l)" = "$N" ] || fail "$runs runs of $(cut -d' ' -f1 "$T/ran" | sort -u | wc -l) distinct jobs, for $N jobs"
check "drained in $(( t1 - t0 )) ms: each job ran exactly once; A, B and C all see $N completed, 0 dead"
share=""
for h in A B C; do
    k=$(awk -v h="$h" '$2 == h' "$T/ran" | wc -l)
    [ "$k" -gt 0 ] || fail "host $h ran none of the $N jobs: $(cut -d' ' -f2 "$T/ran" | sort | uniq -c | tr '\n' ' ')"
    share="$share $h $k,"
done
check "every host ran some:${share%,}"
three_still() { [ "$(hosts_listed C | tr '\n' ' ')" = "A B C " ]; }
three_still || fail "after the drain C's status --json lists hosts: $(hosts_listed C | tr '\n' ' ')"
check "after the drain all three supervisors still listed (status --json on C); flow took $(( $(now_ms) - started )) ms"
