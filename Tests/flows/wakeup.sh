#!/usr/bin/env bash
# An idle worker is woken by the enqueue itself (inotify), not by its poll: with a 60 s poll
# interval, a new job must still start at once.
source "$(dirname "$0")/lib.sh"
q config set poll_interval 60 >/dev/null 2>&1
q worker start --count 1 --detach >/dev/null 2>&1
q enqueue '{"id":"warm","command":"true"}' >/dev/null   # the worker has claimed once and is idle again
wait_until 10 "warm completed" state_is warm completed
q enqueue '{"id":"ping","command":"true"}' >/dev/null
wait_until 10 "ping completed (a 60 s poll would take far longer)" state_is ping completed
check "a job enqueued to an idle worker with a 60 s poll interval ran at once"
