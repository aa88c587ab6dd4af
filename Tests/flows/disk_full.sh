#!/usr/bin/env bash
# A disk that fills up (a 1 MiB tmpfs): with too little room to fold the journal into a new
# jobs.json, workers keep recording results in the journal (the failed compaction is reported
# once); with no room at all, an enqueue fails with a clear error and nothing acknowledged is
# lost; once space is freed, the next transaction compacts.
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/small"
mount -t tmpfs -o size=1m tmpfs "$T/small" 2>/dev/null || skip "cannot mount a small tmpfs here (needs root); the disk-full flow did not run"
flow_cleanup() { umount -l "$T/small" 2>/dev/null || true; }
H="$T/small/home"
PIDF="$H/hosts/$HOSTF.pid"; WLOG="$H/hosts/$HOSTF.log"
q config set poll_interval 0.2 >/dev/null 2>&1
q config set journal_max_bytes 8192 >/dev/null 2>&1
generation() { head -n 1 "$H/jobs.json" | grep -o '"generation":[0-9]*' | head -n 1 | grep -o '[0-9]*$'; }
for i in $(seq 25); do echo "{\"id\":\"d$i\",\"command\":\"true\"}"; done > "$T/jobs.jsonl"
q enqueue --file "$T/jobs.jsonl" >/dev/null
g0=$(generation)
# Fill the disk, then free 48 KiB: room for the journal to grow, not for a new snapshot beside it.
dd if=/dev/zero of="$T/small/filler" bs=4k 2>/dev/null || true
truncate -s "-48K" "$T/small/filler"
check "25 jobs enqueued (snapshot generation $g0); disk filled to $(df --output=avail -k "$T/small" | tail -1) KiB free"
q worker start --count 1 --detach >/dev/null 2>&1 || fail "workers did not start"
wait_until 60 "25 completed" count_is completed 25
[ "$(generation)" = "$g0" ] || fail "a compaction ran without room for it"
warned=$(grep -c "could not be folded" "$WLOG" || true)
[ "$warned" = 1 ] || fail "the failed compaction should be reported once, got $warned: $(grep 'could not' "$WLOG")"
check "25 results recorded in the journal past journal_max_bytes; the skipped compaction reported once"
# No room at all: an enqueue fails clearly, and the queue is unchanged.
dd if=/dev/zero of="$T/small/filler2" bs=1k 2>/dev/null || true
long="true # $(head -c 6000 /dev/zero | tr '\0' x)"  # more than the free part of the journal's last page
set +e; out=$(q enqueue --id nospace --command "$long" 2>&1 >/dev/null); rc=$?; set -e
[ $rc = 1 ] || fail "an enqueue on a full disk should exit 1, got $rc"
echo "$out" | grep -q "No space left on device" || fail "unclear error on a full disk: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "expected one error line: $out"
q show nospace >/dev/null 2>&1 && fail "a failed enqueue left its job behind"
[ -z "$(tail -c 1 "$H/journal.jsonl" | tr -d '\n')" ] || fail "the failed write left a partial line in the journal"
[ "$(count completed)" = 25 ] || fail "acknowledged jobs lost on a full disk"
check "full disk: enqueue exits 1 with '$out'; all 25 acknowledged jobs still there"
# Space comes back: the next transaction starts the compaction (beside the queue, so wait for it).
rm -f "$T/small/filler" "$T/small/filler2"
q enqueue --id after -- true >/dev/null || fail "enqueue after freeing space failed"
compacted() { [ "$(generation)" -gt "$g0" ]; }
wait_until 30 "a compaction after space was freed" compacted
wait_until 30 "after completed" state_is after completed
[ "$(count completed)" = 26 ] || fail "expected 26 completed"
check "space freed: compaction caught up (generation $g0 → $(generation)); 26 jobs completed, none lost"
