#!/usr/bin/env bash
# Enqueue cost, side by side with task-spooler and nq (the targets are README's, "Benchmarks").
# Usage: Tests/bench/enqueue.sh [path/to/queuectl]   (default: .build/release/queuectl)
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-300}

# Homes: an empty one, and one holding 100,000 jobs enqueued from one JSON Lines file.
awk 'BEGIN { for (i = 0; i < 100000; i++) print "{\"command\":\"true\"}" }' > "$W/100k.jsonl"
hyperfine -N --runs 3 --export-json "$W/bulk.json" \
    --prepare "rm -rf $W/big" "$Q --home $W/big enqueue --file $W/100k.jsonl" >/dev/null
"$Q" --home "$W/big" enqueue --file "$W/100k.jsonl" >/dev/null
"$Q" --home "$W/empty" status >/dev/null
"$Q" --home "$W/nosync" config set fsync 0 >/dev/null   # what the durability costs, for comparison
# A journal of 2.5 MiB, as a big home lets it grow (its bound raised so the runs do not compact it).
"$Q" --home "$W/journal" config set journal_max_bytes 8388608 >/dev/null
awk 'BEGIN { for (i = 0; i < 6500; i++) print "{\"command\":\"true\"}" }' > "$W/6500.jsonl"
"$Q" --home "$W/journal" enqueue --file "$W/6500.jsonl" >/dev/null
journal_kib=$(( $(stat -c %s "$W/journal/journal.jsonl") / 1024 ))

# tsp: a server with one slot, held by a long first job, so `tsp true` only queues, as the
# queuectl enqueues above do (no worker runs them): letting tsp run each job beside the next
# enqueue made it 3-5% slower here. nq: each job is its own background process.
tsp -S 1 >/dev/null
tsp sleep 100000 >/dev/null 2>&1

hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/empty.json" "$Q --home $W/empty enqueue '{\"command\":\"true\"}'" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/nosync.json" "$Q --home $W/nosync enqueue '{\"command\":\"true\"}'" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/full.json" "$Q --home $W/big enqueue '{\"command\":\"true\"}'" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/journal.json" "$Q --home $W/journal enqueue '{\"command\":\"true\"}'" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/tsp.json" "tsp true" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/nq.json" "nq true" >/dev/null
hyperfine -N --warmup 10 --runs 50 --export-json "$W/status.json" "$Q --home $W/big status" >/dev/null
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/version.json" "$Q --version" >/dev/null

# Worker memory with 100,000 jobs in the home (delayed, so the worker loads them all and idles).
awk 'BEGIN { for (i = 0; i < 100000; i++) print "{\"command\":\"true\",\"delay\":\"1h\"}" }' > "$W/100k-delayed.jsonl"
"$Q" --home "$W/mem" enqueue --file "$W/100k-delayed.jsonl" >/dev/null
"$Q" --home "$W/mem" worker start --count 1 --detach >/dev/null 2>&1
wpid=$(sed -n '/"workers"/,$p' "$(pidfile "$W/mem")" | grep -o '"pid": [0-9]*' | head -1 | grep -o '[0-9]*')
prev=0; stable=0
while [ $stable -lt 5 ]; do    # until the worker's RSS stops changing (it has loaded the jobs)
    sleep 0.2
    cur=$(awk '/VmRSS/ { print $2 }' /proc/$wpid/status)
    if [ "$cur" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
    prev=$cur
done
worker_rss=$(( $(awk '/VmHWM/ { print $2 }' /proc/$wpid/status) / 1024 ))
"$Q" --home "$W/mem" worker stop --force >/dev/null 2>&1

e=$(median_ms "$W/empty.json"); f=$(median_ms "$W/full.json"); t=$(median_ms "$W/tsp.json"); n=$(median_ms "$W/nq.json")
echo
echo "| measure | median | target |"
echo "|---|---|---|"
echo "| \`queuectl enqueue\`, empty home | $e ms | |"
echo "| \`tsp true\` (task-spooler enqueue) | $t ms | |"
echo "| \`nq true\` | $n ms | |"
echo "| queuectl / tsp | $(ratio "$e" "$t")× | ≤ 1.0× |"
s=$(median_ms "$W/nosync.json")
echo "| \`queuectl enqueue\` with \`fsync 0\` (not durable), and its ratio to tsp | $s ms, $(ratio "$s" "$t")× | |"
echo "| \`queuectl enqueue\`, 100,000 jobs in the home | $f ms | |"
echo "| 100k home / empty home | $(ratio "$f" "$e")× | ≤ 1.2× (at a million jobs: scale.sh) |"
j=$(median_ms "$W/journal.json")
echo "| \`queuectl enqueue\`, a ${journal_kib} KiB journal | $j ms | |"
echo "| that journal / empty home | $(ratio "$j" "$e")× | |"
echo "| 100,000 jobs from one JSON Lines file | $(median_ms "$W/bulk.json") ms | |"
echo "| \`queuectl status\`, 100,000 jobs | $(median_ms "$W/status.json") ms | ≤ 50 ms |"
echo "| worker peak RSS with 100,000 jobs in the home | ${worker_rss} MiB | |"
echo "| \`queuectl --version\` (process start, for reference) | $(median_ms "$W/version.json") ms | |"
