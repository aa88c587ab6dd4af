#!/usr/bin/env bash
# A tour of queuectl in a throwaway home: enqueue a success, a failure and a slow job, run
# workers, watch the failure retried and dead-lettered, retry it from the DLQ, stop the workers;
# then a named queue with a limit of one, paused with its running job and resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${QUEUECTL:-}"
if [ -z "$Q" ]; then
    swift build -c release >/dev/null
    Q="$(swift build -c release --show-bin-path)/queuectl"
fi
export QUEUECTL_HOME="$(mktemp -d)/queue"
cleanup() { "$Q" worker stop --force >/dev/null 2>&1 || true; rm -rf "$(dirname "$QUEUECTL_HOME")"; }
trap cleanup EXIT
step() { printf '\n\033[1m$ queuectl %s\033[0m\n' "$*"; "$Q" "$@"; }
wait_for() {  # wait_for STATE COUNT: until COUNT jobs are in STATE (at most 60 s)
    for _ in $(seq 600); do
        n=$("$Q" status --json | sed -n "s/^    \"$1\": \([0-9]*\).*/\1/p")
        [ "${n:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $2 $1 job(s)" >&2; return 1
}

step config set backoff_base 1.5
step enqueue --file examples/success.json
step enqueue --file examples/failure.json
step enqueue --file examples/slow.json
step enqueue --file examples/batch.jsonl
step enqueue --id later --delay 3s -- echo "I waited"
step status
step worker start --count 2 --detach
wait_for processing 1 || true
step worker status
wait_for dead 2
wait_for completed 6
step list
step show flaky
step logs slow
step dlq list
step dlq retry flaky
step list --state pending
step worker stop
step status

step queue set gpu --parallel 1
step enqueue --id train --queue gpu --label nightly -- sleep 2
step enqueue --id evaluate --queue gpu --label nightly -- echo evaluated
step worker start --count 2 --detach
step pause --queue gpu --jobs
step queue list
step resume --queue gpu
step wait train evaluate --timeout 60
step list --queue gpu
step worker stop
