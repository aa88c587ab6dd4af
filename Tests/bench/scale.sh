#!/usr/bin/env bash
# Drain rate against the size of the backlog: N pending `true` jobs (bulk-enqueued), 2 workers;
# the rate is measured over up to 10,000 completions after the first N/20 (200 to 20,000: start-up
# and both workers' first load of the state excluded; long enough to include the compactions
# that run meanwhile).
# Usage: Tests/bench/scale.sh [path/to/queuectl]   SIZES="2000 100000"
set -euo pipefail
HOSTF="$(hostname | sed 's/[^A-Za-z0-9._-]/_/g')"  # this machine's files in a home: hosts/<name>.pid
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
Q="${1:-$ROOT/.build/release/queuectl}"
[ -x "$Q" ] || (cd "$ROOT" && swift build -c release >/dev/null)
W="$(mktemp -d)"
trap '"$Q" --home "$W/h" worker stop --force >/dev/null 2>&1 || true; [ -e "$W/h/compact.lock" ] && flock "$W/h/compact.lock" true; rm -rf "$W"' EXIT
echo "# $(date -u +%Y-%m-%d) on $(uname -srm), $(nproc) cores; $("$Q" --version)"
completed() { "$Q" --home "$W/h" status --json | sed -n 's/^    "completed": \([0-9]*\).*/\1/p'; }
# wait_completed N: until N jobs completed. Asking costs a process and the shared lock, which
# slows the drain being measured (by a quarter at a million jobs when asked every 20 ms): ask
# rarely while far from N, often only near it.
wait_completed() {
    local c
    while c=$(completed); [ "$c" -lt "$1" ]; do
        sleep "$(awk -v r=$(( $1 - c )) 'BEGIN { s = r / 5000; if (s < 0.01) s = 0.01; if (s > 1) s = 1; print s }')"
    done
}
echo "| pending jobs | bulk enqueue | drain rate, 2 workers | worker peak RSS |"
echo "|---|---|---|---|"
base=""
for n in ${SIZES:-2000 100000}; do
    [ -e "$W/h/compact.lock" ] && flock "$W/h/compact.lock" true  # a detached compaction may still run
    rm -rf "$W/h"
    awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) print "{\"command\":\"true\"}" }' > "$W/jobs.jsonl"
    t0=$(date +%s%3N); "$Q" --home "$W/h" enqueue --file "$W/jobs.jsonl" >/dev/null; t1=$(date +%s%3N)
    "$Q" --home "$W/h" worker start --count 2 --detach >/dev/null 2>&1
    # Skip the start: each worker first loads the whole home, and they do not finish together.
    skip=$(( n / 20 > 20000 ? 20000 : (n / 20 < 200 ? 200 : n / 20) ))
    wait_completed "$skip"
    a=$(date +%s%3N)
    window=$(( n - skip - 200 < 10000 ? n - skip - 200 : 10000 ))
    wait_completed $((skip + window))
    b=$(date +%s%3N)
    rss=$(for p in $(sed -n '/"workers"/,$p' "$W/h/hosts/$HOSTF.pid" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*'); do grep VmHWM /proc/$p/status | awk '{print $2}'; done | sort -n | tail -1)
    "$Q" --home "$W/h" worker stop --force >/dev/null 2>&1
    rate=$(awk -v ms=$((b - a)) -v w="$window" 'BEGIN { printf "%.0f", w / ms * 1000 }')
    base=${base:-$rate}
    echo "| $n | $((t1 - t0)) ms | $rate jobs/s ($(awk -v r="$rate" -v b="$base" 'BEGIN { printf "%.2f", r / b }')× the first row) | $((rss / 1024)) MiB |"
done

# Costs that must not grow with the home: an empty home against one of BIG jobs (default the
# largest size above). Reads: median of 20 runs. Single enqueues: ENQUEUES in a row (default
# 10,000; compactions start beside them), median and maximum. Bulk: one JSON Lines file of BIG
# jobs, time and peak RSS (GNU time when present).
BIG=${BIG:-$(echo ${SIZES:-2000 100000} | tr ' ' '\n' | tail -1)}
ENQUEUES=${ENQUEUES:-10000}
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
# median_run_ms CMD…: median wall time of 20 runs, in ms.
median_run_ms() {
    local i a b; for i in $(seq 20); do a=$(now_us); "$@" >/dev/null 2>&1; b=$(now_us); echo $((b - a)); done |
        sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'
}
peak_rss() { if [ -x /usr/bin/time ]; then /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; else "$@" >/dev/null; echo 0; fi; }
echo
# dashboard_ms: median of 20 requests for the dashboard's overview (after the enqueues, so the
# journal holds changes), the server started afresh for the first one.
dashboard_ms() {
    "$Q" --home "$W/h" dashboard --port 0 > "$W/dash.out" 2>/dev/null &
    local pid=$! url=""
    while [ -z "$url" ]; do sleep 0.05; url=$(grep -o 'http://[0-9.:]*/' "$W/dash.out" || true); done
    median_run_ms curl -sf -o /dev/null "$url"
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
}
echo "| home | status | show ID | list --limit 20 | dlq list | enqueue median | enqueue max of $ENQUEUES | bulk $BIG lines | dashboard overview |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -v n="$BIG" 'BEGIN { for (i = 0; i < n; i++) print "{\"command\":\"true\"}" }' > "$W/jobs.jsonl"
for home in empty "$BIG"; do
    [ -e "$W/h/compact.lock" ] && flock "$W/h/compact.lock" true  # a detached compaction may still run
    rm -rf "$W/h"
    "$Q" --home "$W/h" enqueue --id first -- true >/dev/null
    bulk=""
    if [ "$home" != empty ]; then
        t0=$(date +%s%3N); rss=$(peak_rss "$Q" --home "$W/h" enqueue --file "$W/jobs.jsonl"); t1=$(date +%s%3N)
        bulk="$((t1 - t0)) ms, $((rss / 1024)) MiB"
    fi
    s=$(median_run_ms "$Q" --home "$W/h" status)
    sh=$(median_run_ms "$Q" --home "$W/h" show first)
    l=$(median_run_ms "$Q" --home "$W/h" list --limit 20)
    d=$(median_run_ms "$Q" --home "$W/h" dlq list)
    for i in $(seq "$ENQUEUES"); do a=$(now_us); "$Q" --home "$W/h" enqueue -- true >/dev/null; b=$(now_us); echo $((b - a)); done | sort -n > "$W/lat"
    med=$(awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1000 }' "$W/lat")
    max=$(tail -1 "$W/lat" | awk '{ printf "%.1f", $1 / 1000 }')
    dash=$(dashboard_ms)
    echo "| $home | $s ms | $sh ms | $l ms | $d ms | $med ms | $max ms | ${bulk:--} | $dash ms |"
done

# A long finished history: HISTORY completed jobs (written by history.awk in the store's own
# format) and 1,000 pending ones enqueued once both workers have loaded it, against the same
# 1,000 with no history: drain rate over 600 completions after the first 200, and the workers'
# peak RSS.
HISTORY=${HISTORY:-$BIG}
echo
echo "| finished jobs in the home | drain rate of 1,000 pending, 2 workers | worker peak RSS |"
echo "|---|---|---|"
awk 'BEGIN { for (i = 0; i < 1000; i++) print "{\"command\":\"true\"}" }' > "$W/live.jsonl"
base=""
for history in 0 "$HISTORY"; do
    [ -e "$W/h/compact.lock" ] && flock "$W/h/compact.lock" true  # a detached compaction may still run
    rm -rf "$W/h"; mkdir -p "$W/h/logs"; chmod 700 "$W/h"
    [ "$history" = 0 ] || awk -v n="$history" -v home="$W/h" -f "$ROOT/Tests/bench/history.awk"
    # Workers first, then the jobs once both have loaded the history and gone idle.
    "$Q" --home "$W/h" worker start --count 2 --detach >/dev/null 2>&1
    ticks() { for p in $(sed -n '/"workers"/,$p' "$W/h/hosts/$HOSTF.pid" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*'); do awk '{print $14 + $15}' /proc/$p/stat; done | paste -sd+ | bc; }
    sleep 0.5; prev=-1; now=$(ticks)
    while [ "$now" != "$prev" ]; do prev=$now; sleep 1; now=$(ticks); done
    "$Q" --home "$W/h" enqueue --file "$W/live.jsonl" >/dev/null
    wait_completed $((history + 200))
    a=$(date +%s%3N)
    wait_completed $((history + 800))
    b=$(date +%s%3N)
    rss=$(for p in $(sed -n '/"workers"/,$p' "$W/h/hosts/$HOSTF.pid" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*'); do grep VmHWM /proc/$p/status | awk '{print $2}'; done | sort -n | tail -1)
    "$Q" --home "$W/h" worker stop --force >/dev/null 2>&1
    rate=$(awk -v ms=$((b - a)) 'BEGIN { printf "%.0f", 600 / ms * 1000 }')
    base=${base:-$rate}
    echo "| $history | $rate jobs/s ($(awk -v r="$rate" -v b="$base" 'BEGIN { printf "%.2f", r / b }')× no history) | $((rss / 1024)) MiB |"
done
