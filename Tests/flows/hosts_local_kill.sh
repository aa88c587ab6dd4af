#!/usr/bin/env bash
# Several hosts, one queue, fast: hosts_kill.sh (host B killed -9 while it runs a job; A recovers
# it once B's lease has expired, not before) with the hosts being pid + uts namespaces sharing a
# plain local directory as their home (no JuiceFS: it needs only unshare).
source "$(dirname "$0")/hosts_kill.sh"
