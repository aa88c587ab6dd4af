#!/usr/bin/env bash
# Runs every flow; prints "N passed, M failed".
cd "$(dirname "$0")"
pass=0; failed=0
for f in *.sh; do
    case "$f" in lib.sh|run_all.sh) continue ;; esac
    if bash "$f"; then pass=$((pass+1)); else failed=$((failed+1)); fi
done
echo "$pass passed, $failed failed"
[ $failed = 0 ]
