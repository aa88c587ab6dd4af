#!/usr/bin/env bash
# Enqueue cost, side by side with task-spooler and nq (SPEC §7 rows 1, 2, 4, 7).
# Usage: Tests/bench/enqueue.sh [path/to/queuectl]   (default: .build/release/queuectl)
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-300}

# Homes: an empty one, and one holding 100,000 jobs enqueued from one JSON Lines file.
awk 'BEGIN { for (i = 0; i < 100000; i++) print "{\"command\":\"true\"}" }' > "$W/100k.jsonl"
hyperfine -N --runs 3 --export-json "$W/bulk.json" \
    --prepare "rm -rf $W/big" "$Q --home $W/big enqueue --file $W/100k.jsonl" >/dev/null
"$Q" --home "$W/big" enqueue --file "$W/100k.jsonl" >/dev/null
"$Q" --home "$W/empty" status >/dev/null

# tsp: a server with one slot running `true` jobs; nq: each job is its own background process.
tsp -S 1 >/dev/null

hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/empty.json" "$Q --home $W/empty enqueue '{\"command\":\"true\"}'" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/full.json" "$Q --home $W/big enqueue '{\"command\":\"true\"}'" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/tsp.json" "tsp true" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/nq.json" "nq true" >/dev/null
hyperfine -N --warmup 10 --runs 50 --export-json "$W/status.json" "$Q --home $W/big status" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/version.json" "$Q --version" >/dev/null

e=$(median_ms "$W/empty.json"); f=$(median_ms "$W/full.json"); t=$(median_ms "$W/tsp.json"); n=$(median_ms "$W/nq.json")
echo
echo "| measure | median | target (SPEC §7) |"
echo "|---|---|---|"
echo "| \`queuectl enqueue\`, empty home | $e ms | ≤ 1.5 ms |"
echo "| \`tsp true\` (task-spooler enqueue) | $t ms | |"
echo "| \`nq true\` | $n ms | |"
echo "| queuectl / tsp | $(ratio "$e" "$t")× | ≤ 1.25× |"
echo "| \`queuectl enqueue\`, 100,000 jobs in the home | $f ms | |"
echo "| 100k home / empty home | $(ratio "$f" "$e")× | ≤ 1.5× |"
echo "| 100,000 jobs from one JSON Lines file | $(median_ms "$W/bulk.json") ms | ≤ 2,000 ms |"
echo "| \`queuectl status\`, 100,000 jobs | $(median_ms "$W/status.json") ms | ≤ 100 ms |"
echo "| \`queuectl --version\` (process start, for reference) | $(median_ms "$W/version.json") ms | |"
