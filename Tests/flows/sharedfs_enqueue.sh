#!/usr/bin/env bash
# A home on a real distributed file system (JuiceFS), used from three machines (three client
# mounts): workers on A, 300 enqueues each from B and C at once. Every job runs exactly once,
# every client reports the same counts, and the home is never refused as corrupt.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sharedfs_lib.sh"
mount_client A; mount_client B; mount_client C
N=${SHAREDFS_JOBS:-300}
on A config set poll_interval 0.2 >/dev/null 2>&1
on A worker start --count 2 --detach >/dev/null 2>&1 || fail "workers did not start on A"
on A status --json | grep -q '"wakeup": "poll"' || fail "A should poll on a network file system: $(on A status --json)"
check "workers on A, polling (JuiceFS is a network file system)"
load_and_check "$N" B C
