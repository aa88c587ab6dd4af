#!/usr/bin/env bash
# Several hosts, one queue, fast: hosts_drain.sh (three hosts × 2 workers drain one batch, each
# job exactly once) with 300 jobs, the hosts being pid + uts namespaces sharing a plain local
# directory as their home (no JuiceFS: it needs only unshare).
source "$(dirname "$0")/hosts_drain.sh"
