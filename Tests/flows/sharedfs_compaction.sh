#!/usr/bin/env bash
# Compaction on a real distributed file system (JuiceFS): with a tiny journal_max_bytes the journal
# is folded into a new jobs.json many times while workers on A run jobs and B and C enqueue 150
# each at once. The snapshot generation climbs, every job runs exactly once, and every client
# reports the same counts.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B; mount_client C
N=${SHAREDFS_JOBS:-150}
on A config set poll_interval 0.2 >/dev/null 2>&1
on A config set journal_max_bytes 8192 >/dev/null 2>&1 || fail "cannot set journal_max_bytes on A"
[ "$(on C config get journal_max_bytes)" = 8192 ] || fail "C does not see journal_max_bytes 8192: $(on C config get journal_max_bytes)"
# generation CLIENT: the snapshot generation in the first line of jobs.json (0 before the first one;
# the first match: a snapshot cut by a background compaction also names the generation it continues).
generation() {
    local g
    g=$(head -n 1 "$(home_on "$1")/jobs.json" 2>/dev/null | grep -o '"generation": *[0-9]*' | head -n 1 | grep -o '[0-9]*$') || true
    echo "${g:-0}"
}
gen0=$(generation A)
on A worker start --count 2 --detach >/dev/null 2>&1 || fail "workers did not start on A"
check "workers on A; journal_max_bytes 8192 (seen from C); snapshot generation at start: $gen0"
load_and_check "$N" B C
# A compaction started by the last changes may still be running: wait for it (it holds
# compact.lock), so the generation compared below is the last one.
flock "$(home_on A)/compact.lock" true
gen1=$(generation A)
[ "$gen1" -ge $((gen0 + 3)) ] || fail "snapshot generation went from $gen0 to $gen1: fewer than 3 compactions"
same_generation() { gen1=$(generation A); [ "$(generation B)" = "$gen1" ] && [ "$(generation C)" = "$gen1" ]; }
wait_until 10 "B and C to see A's generation ($gen1)" same_generation
check "jobs.json compacted $((gen1 - gen0)) times under load (generation $gen0 → $gen1, same on A, B and C)"
