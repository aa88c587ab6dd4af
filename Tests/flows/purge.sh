#!/usr/bin/env bash
# purge removes finished jobs and their logs, and nothing else.
source "$(dirname "$0")/lib.sh"
q enqueue --id done1 -- "echo one" >/dev/null
q enqueue --id done2 -- "echo two" >/dev/null
q enqueue --id dead1 --max-retries 0 -- "echo failing; exit 1" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
finished() { [ $(( $(count completed) + $(count dead) )) = 3 ]; }
wait_until 20 "three finished" finished
q worker stop >/dev/null 2>&1
q enqueue --id keep --delay 1h -- "true" >/dev/null
[ -d "$H/logs/done1" ] || fail "done1 should have logs"
q purge --older-than 1h >/dev/null 2>&1
[ "$(q list --json | grep -c '"id"')" = 4 ] || fail "--older-than 1h should purge nothing yet"
q purge --state completed >/dev/null 2>&1
[ ! -d "$H/logs/done1" ] && [ ! -d "$H/logs/done2" ] || fail "logs of purged jobs remain"
[ -d "$H/logs/dead1" ] || fail "dead1's logs should remain"
ids=$(q list --json | grep '^    "id"' | sort | tr -d ' \n')
[ "$ids" = '"id":"dead1","id":"keep",' ] || fail "left: $ids"
q purge >/dev/null 2>&1
[ "$(q list --json | grep -c '^    "id"')" = 1 ] || fail "only the pending job should remain"
check "purged completed (with logs), then dead; the pending job stayed"
