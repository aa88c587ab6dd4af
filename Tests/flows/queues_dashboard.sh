#!/usr/bin/env bash
# The dashboard's queue controls over HTTP (curl): GET /queues and /api/queues list the queues;
# POST /api/queues/NAME/pause[?jobs=1] and /resume, /api/jobs/ID/pause and /resume change what
# `queue list` and `list` show, only with the X-Queuectl-Token header (403 without it, nothing
# changed); an unknown job is 404 and a bad queue name is refused without a setting written.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queues_lib.sh"
command -v curl >/dev/null || skip "no curl; the dashboard flow did not run"

q enqueue --id j1 -q gpu -- true >/dev/null
q enqueue --id j2 -- true >/dev/null
"$Q" --home "$H" dashboard --port 0 >"$T/dash.out" 2>&1 &
DASH=$!
flow_cleanup() { kill "$DASH" 2>/dev/null; wait "$DASH" 2>/dev/null; }
wait_until 20 "the dashboard's URL" grep -q '127\.0\.0\.1:[0-9]*/' "$T/dash.out"
URL="http://$(grep -o '127\.0\.0\.1:[0-9]*' "$T/dash.out" | head -n 1)"
TOKEN=$(cat "$H/dashboard.token")

# post PATH [TOKEN]: the status code, the body in $T/body.
post() { curl -s -o "$T/body" -w '%{http_code}' -X POST ${2:+-H "X-Queuectl-Token: $2"} "$URL$1"; }
get() { curl -s -o "$T/body" -w '%{http_code}' "$URL$1"; }
qstate() { q queue list | awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); sub(/ +[-0-9].*$/, ""); print }'; }

[ "$(get /queues)" = 200 ] && grep -q gpu "$T/body" || fail "GET /queues: $(cat "$T/body")"
[ "$(get /api/queues)" = 200 ] && grep -q '"name": "gpu"' "$T/body" && grep -q '"name": "default"' "$T/body" || fail "GET /api/queues: $(cat "$T/body")"
check "GET /queues and /api/queues list default and gpu"

before=$(home_sum)
[ "$(post /api/queues/gpu/pause)" = 403 ] || fail "pause without the token: $(cat "$T/body")"
[ "$(post /api/queues/gpu/pause wrong)" = 403 ] || fail "pause with a wrong token: $(cat "$T/body")"
[ "$(post /api/jobs/j2/pause)" = 403 ] || fail "job pause without the token: $(cat "$T/body")"
[ "$(home_sum)" = "$before" ] && [ "$(qstate gpu)" = active ] || fail "a refused POST changed the home"
check "POSTs without the token (or a wrong one): 403, nothing changed"

[ "$(post /api/queues/gpu/pause "$TOKEN")" = 200 ] && grep -q '"paused": true' "$T/body" || fail "pause gpu: $(cat "$T/body")"
[ "$(qstate gpu)" = paused ] || fail "after the API's pause: gpu is '$(qstate gpu)'"
[ "$(post '/api/queues/gpu/pause?jobs=1' "$TOKEN")" = 200 ] || fail "pause gpu ?jobs=1: $(cat "$T/body")"
[ "$(qstate gpu)" = "paused (jobs stopped)" ] || fail "after ?jobs=1: gpu is '$(qstate gpu)'"
get /api/queues >/dev/null
grep -A 3 '"name": "gpu"' "$T/body" | grep -q '"paused": true' || fail "/api/queues after the pause: $(cat "$T/body")"
[ "$(post /api/queues/gpu/resume "$TOKEN")" = 200 ] || fail "resume gpu: $(cat "$T/body")"
[ "$(qstate gpu)" = active ] || fail "after the API's resume: gpu is '$(qstate gpu)'"
check "POST /api/queues/gpu/pause, ?jobs=1, /resume: queue list shows paused, paused (jobs stopped), active"

[ "$(post /api/jobs/j2/pause "$TOKEN")" = 200 ] && grep -q j2 "$T/body" || fail "pause j2: $(cat "$T/body")"
q list | grep -Eq '^j2 +pending \(paused\)' || fail "after the API's pause of j2: $(q list)"
[ "$(post /api/jobs/j2/resume "$TOKEN")" = 200 ] || fail "resume j2: $(cat "$T/body")"
q show j2 --json | grep -q '"paused": true' && fail "j2 still paused after the API's resume"
check "POST /api/jobs/j2/pause and /resume: list shows j2 'pending (paused)', then not"

before=$(home_sum)
[ "$(post /api/jobs/nosuch/pause "$TOKEN")" = 404 ] || fail "pause of an unknown job: $(cat "$T/body")"
code=$(post /api/queues/.x/pause "$TOKEN")
[ "$code" -ge 400 ] && [ "$code" -lt 500 ] || fail "pause of queue '.x': HTTP $code $(cat "$T/body")"
[ "$(home_sum)" = "$before" ] || fail "a refused POST changed the home"
check "unknown job → 404; bad queue name '.x' → $code; nothing written"
