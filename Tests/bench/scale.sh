#!/usr/bin/env bash
# Drain rate against the size of the backlog: N pending `true` jobs (bulk-enqueued), 2 workers;
# the rate is measured over up to 10,000 completions after the first 200 (start-up and the first
# load of the state excluded; long enough to include the compactions that run meanwhile).
# Usage: Tests/bench/scale.sh [path/to/queuectl]   SIZES="2000 100000"
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
Q="${1:-$ROOT/.build/release/queuectl}"
[ -x "$Q" ] || (cd "$ROOT" && swift build -c release >/dev/null)
W="$(mktemp -d)"
trap '"$Q" --home "$W/h" worker stop --force >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
echo "# $(date -u +%Y-%m-%d) on $(uname -srm), $(nproc) cores; $("$Q" --version)"
completed() { "$Q" --home "$W/h" status --json | sed -n 's/^    "completed": \([0-9]*\).*/\1/p'; }
echo "| pending jobs | bulk enqueue | drain rate, 2 workers | worker peak RSS |"
echo "|---|---|---|---|"
base=""
for n in ${SIZES:-2000 100000}; do
    rm -rf "$W/h"
    awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) print "{\"command\":\"true\"}" }' > "$W/jobs.jsonl"
    t0=$(date +%s%3N); "$Q" --home "$W/h" enqueue --file "$W/jobs.jsonl" >/dev/null; t1=$(date +%s%3N)
    "$Q" --home "$W/h" worker start --count 2 --detach >/dev/null 2>&1
    until [ "$(completed)" -ge 200 ]; do sleep 0.02; done
    a=$(date +%s%3N)
    window=$(( n - 400 < 10000 ? n - 400 : 10000 ))
    until [ "$(completed)" -ge $((200 + window)) ]; do sleep 0.02; done
    b=$(date +%s%3N)
    rss=$(for p in $(sed -n '/"workers"/,$p' "$W/h/workers.pid" | grep -o '"pid": [0-9]*' | grep -o '[0-9]*'); do grep VmHWM /proc/$p/status | awk '{print $2}'; done | sort -n | tail -1)
    "$Q" --home "$W/h" worker stop --force >/dev/null 2>&1
    rate=$(awk -v ms=$((b - a)) -v w="$window" 'BEGIN { printf "%.0f", w / ms * 1000 }')
    base=${base:-$rate}
    echo "| $n | $((t1 - t0)) ms | $rate jobs/s ($(awk -v r="$rate" -v b="$base" 'BEGIN { printf "%.2f", r / b }')× the first row) | $((rss / 1024)) MiB |"
done
