#!/usr/bin/env bash
# kill -9 of a worker mid-job: the supervisor restarts a worker, the job is recovered as a
# failed attempt ("worker lost"), its orphaned process group is killed, and it is retried.
source "$(dirname "$0")/lib.sh"
q config set backoff_base 1 >/dev/null 2>&1
q enqueue "{\"id\":\"victim\",\"command\":\"if [ \$QUEUECTL_ATTEMPT = 1 ]; then sleep 60 # $MARK\nfi; echo second try\",\"max_retries\":2}" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1
wait_until 20 "victim running" job_running
wait_until 20 "victim's process group recorded" group_recorded victim
wpid=$(field victim worker_pid)
kill -9 "$wpid"
check "killed worker $wpid while victim ran"
wait_until 30 "victim completed" state_is victim completed
q show victim --json | grep -q "worker lost" || fail "history should record the lost worker"
[ "$(field victim attempts)" = 2 ] || fail "expected 2 attempts"
wait_until 10 "orphaned job killed" no_job_left
new=$(worker_pids | head -1)
[ -n "$new" ] && [ "$new" != "$wpid" ] && alive "$new" || fail "supervisor did not restart a worker"
check "recovered (worker lost), retried and completed; orphan gone; worker restarted as $new"
