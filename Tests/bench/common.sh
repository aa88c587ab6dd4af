# Shared setup for the benchmarks: the binary, a scratch dir removed on exit, machine info.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
Q="${1:-$ROOT/.build/release/queuectl}"
if [ ! -x "$Q" ]; then (cd "$ROOT" && swift build -c release >/dev/null); fi
for tool in tsp nq hyperfine; do
    command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install task-spooler nq hyperfine" >&2; exit 2; }
done
W="$(mktemp -d)"
# pidfile HOME: this machine's pid file in a home (hosts/<name>.pid, the name made file-safe).
pidfile() { echo "$1/hosts/$(hostname | sed 's/[^A-Za-z0-9._-]/_/g').pid"; }
export TMPDIR="$W"                 # tsp keeps its socket and outputs under TMPDIR
export TS_SOCKET="$W/tsp.socket"
export TS_MAXFINISHED=100000
export NQDIR="$W/nq"
mkdir -p "$NQDIR"
cleanup_bench() {
    "$Q" --home "$W/qt" worker stop --force >/dev/null 2>&1 || true
    tsp -k >/dev/null 2>&1 || true   # a job still running (enqueue.sh's long first job): -K leaves it behind
    tsp -K >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup_bench EXIT
echo "# $(date -u +%Y-%m-%d) on $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# queuectl: $Q ($("$Q" --version))"

# median_ms FILE: median of hyperfine's JSON export, in ms.
median_ms() { grep -o '"median": [0-9.e-]*' "$1" | head -1 | awk '{printf "%.3f", $2 * 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
