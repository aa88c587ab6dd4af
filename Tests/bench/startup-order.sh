#!/usr/bin/env bash
# Regenerates Sources/queuectl/startup.order: the functions that short commands (enqueue, status,
# list, show, --version) run, which the release link places side by side, so that a start
# touches fewer pages of the 18 MB binary (ARCHITECTURE.md, "Start-up").
# Run it after changing the start-up path; a stale file costs speed, never correctness.
# Needs valgrind (apt-get install valgrind) and python3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
for tool in valgrind python3; do
    command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install $tool" >&2; exit 2; }
done
(cd "$ROOT" && swift build -c release >/dev/null)
Q="$ROOT/.build/release/queuectl"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT

# A home with a job in it, so the reads have something to show.
id=$("$Q" --home "$W/home" enqueue '{"command":"true"}')
n=0
trace() {  # trace ARGS...: the functions one run of `queuectl ARGS` executes, in order of first appearance
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$W/cg.$n" "$Q" --home "$W/home" "$@" >/dev/null 2>&1 || true
    grep -oE '^c?fn=\([0-9]+\) .*' "$W/cg.$n" | sed -E 's/^c?fn=\([0-9]+\) //'
    n=$((n + 1))
}
{
    trace enqueue '{"command":"true"}'
    trace enqueue --command true --queue q --priority 5
    trace status
    trace list
    trace show "$id"
    trace --version
} | grep -v '^0x' | awk '!seen[$0]++' > "$W/hot"   # an address (no symbol) means nothing to the linker

# libswiftCore.a's Swift.o keeps part of its code in one section that the linker can only move
# whole: its functions go last, so the movable ones form one contiguous block.
core="$(dirname "$(readlink -f "$(command -v swiftc)")")/../lib/swift_static/linux/libswiftCore.a"
(cd "$W" && ar x "$core" Swift.o)
readelf -s -W "$W/Swift.o" | awk '$4 == "FUNC" && $7 == "2" { print $8 }' > "$W/unsplit"
readelf -S -W "$W/Swift.o" | grep -E '^ +\[ *2\] \.text ' >/dev/null \
    || { echo "Swift.o's section 2 is not .text any more: update this script" >&2; exit 1; }
# Each group is sorted: what counts is that its members sit together, and sorted names keep the
# file's diffs small.
awk 'NR == FNR { unsplit[$0] = 1; next } !($0 in unsplit)' "$W/unsplit" "$W/hot" | LC_ALL=C sort > "$W/order"
awk 'NR == FNR { unsplit[$0] = 1; next } ($0 in unsplit)' "$W/unsplit" "$W/hot" | LC_ALL=C sort >> "$W/order"

# The writable data an enqueue touches (runtime caches, once-tokens, glibc state), packed the same
# way: each page of it costs a fault or two (a read maps the zero page, the first write copies it).
valgrind --tool=lackey --trace-mem=yes --log-file="$W/mem" "$Q" --home "$W/home" enqueue '{"command":"true"}' >/dev/null 2>&1 || true
readelf -S -W "$Q" | sed 's/^ *\[ *[0-9]*\] //' | awk '$1 ~ /^\.(data|bss|tdata|tbss|data\.rel\.ro)$/ { print $3, $5 }' > "$W/ranges"
nm -n -S "$Q" | awk 'NF == 4 && $3 ~ /^[bBdD]$/ { print $1, $4 }' > "$W/datasyms"
(python3 - "$W/mem" "$W/ranges" "$W/datasyms" <<'PY'
import bisect, sys
ranges = [tuple(int(x, 16) for x in l.split()) for l in open(sys.argv[2])]
ranges = [(a, a + n) for a, n in ranges]
syms = [(int(a, 16), name) for a, name in (l.split() for l in open(sys.argv[3]))]
addrs = [a for a, _ in syms]
seen = set()
for line in open(sys.argv[1]):
    if line[:1] != " " or line[1] not in "LSM":
        continue
    a = int(line[3:].split(",")[0], 16)
    if any(lo <= a < hi for lo, hi in ranges):
        i = bisect.bisect_right(addrs, a) - 1
        if i >= 0 and syms[i][1] not in seen:
            seen.add(syms[i][1])
            print(syms[i][1])
PY
) | LC_ALL=C sort >> "$W/order"
mv "$W/order" "$ROOT/Sources/queuectl/startup.order"
rm -f "$Q"  # the build does not track the order file: make the next one link again
echo "wrote $(wc -l < "$ROOT/Sources/queuectl/startup.order") names to Sources/queuectl/startup.order; now run swift build -c release"
