# Helpers for the named-queue flows (queues_limits, pause_resume, queues_hosts, move): flows
# source this after lib.sh. It is not a flow.
#
#   rec_cmd FILE QUEUE [BODY]   a job command that appends "start <epoch-ns> QUEUE <job id> <hostname>"
#                               to FILE, runs BODY (default: sleep 0.3), then appends the "end" line
#   gate NAME [EACH]            shell text for BODY: waits (at most 60 s) until $T/NAME exists,
#                               running EACH every 50 ms meanwhile; `open_gate NAME` creates it
#   max_overlap FILE QUEUE      the most jobs of QUEUE running at once, by FILE's records
#   overlapping FILE ID         the jobs of ID's queue whose recorded run overlaps ID's, one a line
#   probe ID                    enqueues `true` as ID in queue "probe" and waits until it completed
#   proc_state PID              the first letter of the process's state (T: stopped), empty if gone
#   group_is PGID stopped|running   every live process of the group is stopped / none is
#   pgid_of ID                  the running job's recorded process group (job_pgid), else empty
#   refused CODE ARGS…          q ARGS… exits CODE, one line on stderr, the journal and queues.jsonl unchanged
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "queues_lib.sh is sourced by the queue flows; it is not a flow"; exit 0; fi

rec_cmd() {
    local file=$1 queue=$2 body=${3:-sleep 0.3}
    echo "echo \"start \$(date +%s%N) $queue \$QUEUECTL_JOB_ID \$(hostname)\" >> $file; $body; echo \"end \$(date +%s%N) $queue \$QUEUECTL_JOB_ID \$(hostname)\" >> $file # $MARK"
}

gate() { echo "i=0; while [ ! -e $T/$1 ] && [ \$i -lt 1200 ]; do ${2:+$2; }sleep 0.05; i=\$((i + 1)); done"; }
open_gate() { touch "$T/$1"; }

# Events sorted by time, an end before a start at the same nanosecond (a run that ended as the
# next began does not count as overlapping it).
max_overlap() {
    awk -v q="$2" '$3 == q { print $2, ($1 == "start" ? 1 : -1) }' "$1" | sort -k1,1n -k2,2n \
        | awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

overlapping() {
    awk -v id="$2" '
        $1 == "start" { s[$4] = $2; q[$4] = $3 } $1 == "end" { e[$4] = $2 }
        END { for (j in s) if (j != id && q[j] == q[id] && s[j] < e[id] && s[id] < e[j]) print j }' "$1"
}

# A worker that claimed the probe chose it with every job enqueued before it in view: such a job
# of the same priority precedes the probe (earlier creation), so had any worker been allowed to
# take it, it would have been taken first. What is still pending after the probe completed was
# passed over by a real claim, not merely not reached yet.
probe() {
    q enqueue --id "$1" --queue probe -- true >/dev/null || fail "enqueue probe $1"
    wait_until 30 "probe $1 completed" state_is "$1" completed
}

proc_state() { ps -o stat= -p "$1" 2>/dev/null | cut -c1; }

# group_is PGID stopped|running: every live process of the group is stopped (T), or none is.
group_is() {
    local p s seen=0
    for p in $(pgrep -g "$1"); do
        s=$(proc_state "$p")
        case "$2:$s" in *:|*:Z) ;; stopped:T|running:[!T]) seen=1 ;; *) return 1 ;; esac
    done
    [ $seen = 1 ]
}

# pgid_of ID: the running job's process group once its worker recorded it (else empty).
pgid_of() { field "$1" job_pgid | grep -x '[0-9]*' || true; }

# The journal's and queues.jsonl's bytes, summed (either may not exist yet).
home_sum() { for f in journal.jsonl queues.jsonl; do [ -e "$H/$f" ] && cksum < "$H/$f" || echo "no $f"; done; }

# refused CODE ARGS…: `q ARGS…` exits CODE with one line on stderr (kept in $REFUSED) and leaves
# the journal and queues.jsonl byte-identical (call it while no worker is writing).
refused() {
    local want=$1 rc before after; shift
    before=$(home_sum)
    set +e; q "$@" >/dev/null 2>"$T/refused.err"; rc=$?; set -e
    after=$(home_sum)
    REFUSED=$(cat "$T/refused.err")
    [ "$rc" = "$want" ] || fail "queuectl $*: exit $rc, expected $want; stderr: $REFUSED"
    [ "$(wc -l < "$T/refused.err")" = 1 ] || fail "queuectl $*: expected one line on stderr, got: $REFUSED"
    [ "$before" = "$after" ] || fail "queuectl $* (exit $rc) changed the home"
}
