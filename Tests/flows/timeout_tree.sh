#!/usr/bin/env bash
# A timeout kills the job's whole process tree, background children included.
source "$(dirname "$0")/lib.sh"
q config set kill_grace 0.5 >/dev/null 2>&1
q enqueue "{\"id\":\"tree\",\"command\":\"sleep 60 & sleep 60 & trap '' TERM; sleep 60 # $MARK\",\"timeout\":1,\"max_retries\":0}" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 30 "tree dead" state_is tree dead
field tree last_error | grep -q "timed out after 1s" || fail "last_error: $(field tree last_error)"
wait_until 10 "no process of the tree left" no_job_left
check "timed out after 1s; SIGTERM-ignoring shell and background children all gone"
