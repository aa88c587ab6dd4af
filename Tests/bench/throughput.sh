#!/usr/bin/env bash
# Throughput, pickup latency and idle CPU of the workers, side by side with task-spooler and nq
# (the targets are README's, "Benchmarks"). Usage: Tests/bench/throughput.sh [path/to/queuectl]
source "$(dirname "$0")/common.sh"
N=${N:-2000}
now_ms() { date +%s%3N; }

# CPU ticks (user + system) of the processes of a home's pid file: its supervisor and workers.
ticks_of() { for p in $(sed -n 's/.*"pid": \([0-9]*\).*/\1/p' "$(pidfile "$1")"); do awk '{ print $14 + $15 }' /proc/$p/stat; done | paste -sd+ | bc; }

# 1. N `true` jobs enqueued by a shell loop, drained by 2 workers; the workers' CPU per job
#    (claim, spawn, wait, record: the jobs' own processes are not counted).
H="$W/qt"
"$Q" --home "$H" worker start --count 2 --detach >/dev/null 2>&1
w0=$(ticks_of "$H")
t0=$(now_ms)
for i in $(seq "$N"); do "$Q" --home "$H" enqueue '{"command":"true"}' >/dev/null; done
t1=$(now_ms)
until [ "$("$Q" --home "$H" status --json | sed -n 's/^    "completed": \([0-9]*\).*/\1/p')" = "$N" ]; do sleep 0.02; done
t2=$(now_ms)
w1=$(ticks_of "$H")
q_total=$(( t2 - t0 )); q_enq=$(( t1 - t0 ))
worker_ms=$(awk -v d=$(( w1 - w0 )) -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.2f", d / hz * 1000 / n }')
rss=$(for p in $(sed -n '/"workers"/,$p' "$(pidfile "$H")" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*'); do grep VmHWM /proc/$p/status | awk '{print $2}'; done | sort -n | tail -1)
"$Q" --home "$H" worker stop >/dev/null 2>&1

tsp -S 2 >/dev/null
t0=$(now_ms)
for i in $(seq "$N"); do tsp true >/dev/null; done
t1=$(now_ms)
tsp -w "$(tsp | awk 'NR > 1 { id = $1 } END { print id }')" >/dev/null 2>&1 || true
until [ "$(tsp | awk 'NR > 1 && ($2 == "running" || $2 == "queued")' | wc -l)" = 0 ]; do sleep 0.02; done
t2=$(now_ms)
tsp_total=$(( t2 - t0 )); tsp_enq=$(( t1 - t0 ))
tsp -K >/dev/null 2>&1 || true

t0=$(now_ms)
for i in $(seq "$N"); do nq true >/dev/null; done
t1=$(now_ms)
nq -w >/dev/null 2>&1 || true
t2=$(now_ms)
nq_total=$(( t2 - t0 )); nq_enq=$(( t1 - t0 ))

# 2. Idle pickup latency: one idle worker; each sample enqueues a job that records when it started.
H="$W/ql"
"$Q" --home "$H" worker start --count 1 --detach >/dev/null 2>&1
: > "$W/lat"
for i in $(seq 200); do
    sleep 0.02
    t0=$(date +%s%N)
    "$Q" --home "$H" enqueue "{\"command\":\"date +%s%N > $W/s$i\"}" >/dev/null
    until [ -s "$W/s$i" ]; do sleep 0.001; done
    echo $(( ($(cat "$W/s$i") - t0) / 1000 )) >> "$W/lat"
done
p50=$(sort -n "$W/lat" | awk '{ a[NR] = $1 } END { printf "%.1f", a[int(NR * 0.50 + 0.5)] / 1000 }')
p99=$(sort -n "$W/lat" | awk '{ a[NR] = $1 } END { printf "%.1f", a[int(NR * 0.99 + 0.5)] / 1000 }')

# 3. Idle CPU: the supervisor and worker, 10 s of doing nothing.
pids=$(sed -n 's/.*"pid": \([0-9]*\).*/\1/p' "$(pidfile "$H")" | tr '\n' ' ')
ticks() { for p in $pids; do awk '{ print $14 + $15 }' /proc/$p/stat; done | paste -sd+ | bc; }
c0=$(ticks); sleep 10; c1=$(ticks)
cpu=$(awk -v d=$(( c1 - c0 )) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz / 10 * 100 }')
"$Q" --home "$H" worker stop >/dev/null 2>&1

rate() { awk -v n="$N" -v ms="$1" 'BEGIN { printf "%.0f", n / ms * 1000 }'; }
echo
echo "| measure | queuectl | tsp -S 2 | nq | target |"
echo "|---|---|---|---|---|"
echo "| $N \`true\` jobs: enqueue loop + drain, 2 workers | ${q_total} ms ($(rate $q_total) jobs/s) | ${tsp_total} ms ($(rate $tsp_total) jobs/s) | ${nq_total} ms ($(rate $nq_total) jobs/s) | ≥ 1.25× tsp |"
echo "| … of which the enqueue loop | ${q_enq} ms | ${tsp_enq} ms | ${nq_enq} ms | |"
echo "| throughput, queuectl / tsp -S 2 | $(awk -v a="$tsp_total" -v b="$q_total" 'BEGIN { printf "%.2f", a / b }')× | 1× | | ≥ 1.25× |"
echo "| worker + supervisor CPU per job during the drain (jobs' own processes excluded) | ${worker_ms} ms | | | ≤ 0.3 ms |"
echo "| idle worker: enqueue → job started, p50 / p99 (200 samples, includes the enqueue command) | ${p50} / ${p99} ms | | | ≤ 10 / ≤ 50 ms |"
echo "| idle supervisor + worker CPU over 10 s | ${cpu}% of a core | | | ≤ 1% |"
echo "| worker peak RSS during the drain | $(( ${rss:-0} / 1024 )) MiB | | | |"
echo
echo "nq runs every job at once in its own process (no worker limit), so it is not a 2-worker queue."
