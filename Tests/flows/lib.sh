# Shared helpers for the shell flows. Each flow sources this file; it gets a private home in
# $H, the binary as `q`, and a trap that stops every worker and job process it started.
set -euo pipefail
Q="${QUEUECTL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.build/debug/queuectl}"
[ -x "$Q" ] || { echo "queuectl binary not found at $Q (set QUEUECTL)"; exit 2; }
T="$(mktemp -d)"
H="$T/home"
export NO_COLOR=1
unset QUEUECTL_HOME
FLOW="$(basename "$0" .sh)"
# A marker unique to this run, put into job commands so leftovers can be found with pgrep -f.
MARK="qflow_${FLOW}_$$"

q() { "$Q" --home "$H" "$@"; }
# This machine's files in the home (hosts/<name>.pid, .log): the name as queuectl makes it file-safe.
HOSTF="$(hostname | sed 's/[^A-Za-z0-9._-]/_/g')"
PIDF="$H/hosts/$HOSTF.pid"
WLOG="$H/hosts/$HOSTF.log"

cleanup() {
    local rc=$?
    q worker stop --force --timeout 5 >/dev/null 2>&1 || true
    # Last resort: anything still listed in the pidfile, and any job process with our marker.
    if [ -f "$PIDF" ]; then
        for p in $(grep -o '"pid": [0-9]*' "$PIDF" | grep -o '[0-9]*'); do kill -9 "$p" 2>/dev/null || true; done
    fi
    pkill -9 -f "$MARK" 2>/dev/null || true
    # A compaction started by the flow's last transactions runs detached: let it finish first.
    [ -e "$H/compact.lock" ] && flock -w 30 "$H/compact.lock" true 2>/dev/null || true
    if declare -F flow_cleanup >/dev/null; then flow_cleanup || true; fi
    rm -rf "$T"
    if [ $rc -eq 0 ]; then echo "PASS $FLOW"; elif [ $rc -eq 77 ]; then echo "SKIP $FLOW"; else echo "FAIL $FLOW"; fi
    exit $rc
}
trap cleanup EXIT

# skip WHY: this flow cannot run here (exit 77; FlowTests reports it as skipped, never as passed).
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; echo "--- $WLOG" >&2; cat "$WLOG" 2>/dev/null >&2 || true; exit 1; }
check() { echo "  ok: $*"; }

# field ID KEY: a top-level field of `show ID --json` (strings unquoted, null as "null").
field() {
    q show "$1" --json | sed -n "s/^  \"$2\": \(.*\)$/\1/p" | sed 's/,$//; s/^"\(.*\)"$/\1/; s/\\"/"/g'
}

# count STATE: jobs in that state, from `status --json`.
count() { q status --json | sed -n "s/^    \"$1\": \([0-9]*\).*/\1/p"; }

# wait_until SECONDS DESCRIPTION CMD...: re-check CMD every 50 ms until it succeeds; fail after SECONDS.
wait_until() {
    local limit=$1 what=$2; shift 2
    local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $what"
        sleep 0.05
    done
}

state_is() { [ "$(field "$1" state)" = "$2" ]; }
count_is() { [ "$(count "$1")" = "$2" ]; }

# history_starts ID: the started_at times of every attempt, in ms since the epoch, one per line.
history_starts() {
    q show "$1" --json | sed -n 's/^ *"started_at": "\(.*\)",\{0,1\}$/\1/p' | tail -n +2 | while read -r t; do date -d "$t" +%s%3N; done
}

# Whether a process of this flow's jobs (their command carries $MARK) is running. A function, not
# `bash -c`, so the checking shell's own command line does not match.
job_running() { pgrep -f "$MARK" >/dev/null; }
no_job_left() { ! pgrep -f "$MARK" >/dev/null; }
# The running attempt's process group is on its claim (a worker records it once the attempt has
# run 20 ms; before that, a worker's death leaves the group for nobody to stop).
group_recorded() { [ -n "$(field "$1" job_pgid)" ]; }

# Pids of the live workers, from the pidfile.
worker_pids() { sed -n '/"workers"/,$p' "$PIDF" 2>/dev/null | grep -o '"pid": [0-9]*' | grep -o '[0-9]*'; }
supervisor_pid() { sed -n '/"supervisor"/,/}/p' "$PIDF" | grep -o '"pid": [0-9]*' | head -1 | grep -o '[0-9]*'; }
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

q config set poll_interval 0.2 >/dev/null 2>&1
