#!/usr/bin/env bash
# A real browser loads the dashboard: headless Chromium renders the overview and a job page; the
# DOM must show the expected counts and escaped job data. Saves a screenshot (to $SCREENSHOT if set).
source "$(dirname "$0")/lib.sh"
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
    skip "no Chromium on this machine (apt-get install chromium); the browser test did not run"
fi
q config set backoff_base 1 >/dev/null 2>&1
q enqueue --id build -- 'echo compiling; echo done' >/dev/null
q enqueue --id deploy --after build -- 'echo "<b>deployed</b>"' >/dev/null
q enqueue '{"id":"flaky","command":"echo \"<script>alert(1)</script>\"; exit 1","max_retries":1}' >/dev/null
q enqueue --id later --delay 1h -- 'echo later' >/dev/null
q worker start --count 2 --detach >/dev/null 2>&1
wait_until 30 "flaky dead" state_is flaky dead
wait_until 30 "deploy completed" state_is deploy completed
q dashboard --port 0 > "$T/dash.out" 2>&1 &
wait_until 10 "dashboard up" grep -q "http://" "$T/dash.out"
URL=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*/\).*|\1|p' "$T/dash.out")
browse() { timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$T/chrome" "$@" 2>/dev/null; }
browse --dump-dom "$URL" > "$T/overview.html"
grep -q 'data-state="completed">2<' "$T/overview.html" || fail "overview DOM lacks 2 completed: $(grep -o 'data-state="[a-z]*">[0-9]*<' "$T/overview.html" | tr '\n' ' ')"
grep -q 'data-state="dead">1<' "$T/overview.html" || fail "overview DOM lacks 1 dead"
grep -q 'data-state="pending">1<' "$T/overview.html" || fail "overview DOM lacks 1 pending"
check "overview DOM: $(grep -o 'data-state="[a-z]*">[0-9]*<' "$T/overview.html" | sed 's/data-state="//; s/">/=/; s/<//' | tr '\n' ' ')"
browse --dump-dom "${URL}jobs/flaky" > "$T/job.html"
grep -q "Attempt 2" "$T/job.html" || fail "job page lacks attempt 2"
! grep -q "<script>alert" "$T/job.html" || fail "job output was not escaped"
grep -q "&lt;script&gt;alert(1)&lt;/script&gt;" "$T/job.html" || fail "escaped output missing"
check "job page: both attempts shown, hostile output escaped"
shot="${SCREENSHOT:-$T/dashboard.png}"
browse --screenshot="$shot" --window-size=1200,900 --hide-scrollbars "$URL" >/dev/null
[ -s "$shot" ] || fail "no screenshot"
check "screenshot saved to $shot ($(wc -c < "$shot") bytes)"
pkill -INT -f "$H dashboard" 2>/dev/null || true
