#!/usr/bin/env bash
# Automatic retention: with `retention` set, idle workers purge finished jobs (and their logs)
# once they are older than that, and leave waiting jobs alone.
source "$(dirname "$0")/lib.sh"
q config set retention 1s >/dev/null 2>&1
q enqueue --id old -- "echo bye" >/dev/null
q enqueue --id later --delay 1h -- "true" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "old completed" state_is old completed
[ -d "$H/logs/old" ] || fail "old should have a log first"
gone() { ! q show old >/dev/null 2>&1; }
wait_until 20 "old purged by retention" gone
[ ! -d "$H/logs/old" ] || fail "old's logs should be gone too"
state_is later pending || fail "a waiting job was purged"
grep -q "retention: purged 1 finished job" "$WLOG" || fail "no retention log line"
check "finished job and its logs purged after 1 s; the waiting job stayed"
