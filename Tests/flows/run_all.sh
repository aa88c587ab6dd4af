#!/usr/bin/env bash
# Runs every flow outside `swift test`; prints "N passed, M skipped, K failed" (exit 77 = skipped:
# the flow cannot run on this machine).
cd "$(dirname "$0")"
pass=0; skipped=0; failed=0
for f in *.sh; do
    case "$f" in lib.sh|*_lib.sh|run_all.sh) continue ;; esac
    set +e; bash "$f"; rc=$?; set -e
    case $rc in 0) pass=$((pass+1)) ;; 77) skipped=$((skipped+1)) ;; *) failed=$((failed+1)) ;; esac
done
echo "$pass passed, $skipped skipped, $failed failed"
[ $failed = 0 ]
