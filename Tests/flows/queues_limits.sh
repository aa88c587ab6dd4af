#!/usr/bin/env bash
# Named queues' parallel limits, with four workers. Queue default (limit 2) and gpu (limit 1):
# by the jobs' own start/end records, gpu never runs more than 1 at once and default at most 2,
# reaching 2. A limit raised while the workers run (`queue set gpu --parallel 2`) binds the next
# claim: a second gpu job starts beside a running one, a third does not. A job of 2 slots in a
# queue of limit 2 runs alone, and is not overtaken by a 1-slot job behind it; a job wider than
# its queue's limit waits until the limit is raised. Then: queue list / status show the queues,
# list --queue filters, and restart --queue Q --failed restarts only Q's dead jobs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queues_lib.sh"

q queue set default --parallel 2 2>"$T/err" >/dev/null || fail "queue set default: $(cat "$T/err")"
grep -q "at most 2 slots" "$T/err" || fail "queue set default --parallel 2 said: $(cat "$T/err")"
q queue set gpu -p 1 >/dev/null 2>&1 || fail "queue set gpu -p 1"
for i in $(seq 8); do q enqueue --id d$i -- "$(rec_cmd "$T/rec1" default)" >/dev/null; done
for i in 1 2; do q enqueue --id g$i --queue gpu -- "$(rec_cmd "$T/rec1" gpu)" >/dev/null; done
for i in 3 4; do q enqueue --id g$i -q gpu -- "$(rec_cmd "$T/rec1" gpu)" >/dev/null; done
[ "$(field g3 queue)" = gpu ] || fail "g3 (enqueued with -q gpu) is in queue '$(field g3 queue)'"
q worker start --count 4 --detach >/dev/null 2>&1 || fail "worker start"
wait_until 60 "12 jobs completed" count_is completed 12
[ "$(grep -c '^end' "$T/rec1")" = 12 ] || fail "expected 12 runs recorded: $(cat "$T/rec1")"
gpu=$(max_overlap "$T/rec1" gpu); def=$(max_overlap "$T/rec1" default)
[ "$gpu" = 1 ] || fail "gpu (limit 1) had $gpu jobs running at once: $(cat "$T/rec1")"
[ "$def" = 2 ] || fail "default (limit 2) had at most $def jobs running at once, expected exactly 2: $(cat "$T/rec1")"
check "4 workers, 8 default + 4 gpu jobs of 0.3 s: at most $gpu gpu job (limit 1) and $def default jobs (limit 2) at once"

# A limit raised while the workers run. G1..G3 wait for a gate: G1 runs, G2 waits (limit 1).
for i in 1 2 3; do q enqueue --id G$i -q gpu -- "$(rec_cmd "$T/rec2" gpu "$(gate gpu_open)")" >/dev/null; done
wait_until 20 "G1 running" state_is G1 processing
probe p1
state_is G2 pending && state_is G3 pending || fail "gpu is at its limit 1, yet G2 is $(field G2 state), G3 $(field G3 state)"
q queue list | grep -Eq '^gpu +active +1/1 +2 +1 ' || fail "queue list while G1 runs: $(q queue list)"
check "gpu at its limit: G1 runs, G2 and G3 pass a probe claim pending; queue list shows gpu active, 1/1, 2 pending, 1 running"
q queue set gpu --parallel 2 >/dev/null 2>&1 || fail "queue set gpu --parallel 2"
wait_until 20 "G2 running beside G1" state_is G2 processing
state_is G1 processing || fail "G1 is $(field G1 state) while G2 runs: they never overlapped"
probe p2
state_is G3 pending || fail "gpu at its new limit 2 (G1, G2 running), yet G3 is $(field G3 state)"
open_gate gpu_open
wait_until 30 "G1..G3 completed" count_is completed 17
[ "$(max_overlap "$T/rec2" gpu)" = 2 ] || fail "after the limit was raised to 2, the gpu runs overlapped $(max_overlap "$T/rec2" gpu) at most: $(cat "$T/rec2")"
check "queue set gpu --parallel 2 with the workers running: G2 started beside G1 (overlap 2), G3 still waited"

# Slots: w takes 2 of default's 2. n1 runs (1 slot); w does not fit and n2 behind it waits too.
q enqueue --id n1 -- "$(rec_cmd "$T/rec3" default "$(gate n_open)")" >/dev/null
wait_until 20 "n1 running" state_is n1 processing
q enqueue --id w --slots 2 -- "$(rec_cmd "$T/rec3" default)" >/dev/null
q enqueue --id n2 -- "$(rec_cmd "$T/rec3" default)" >/dev/null
[ "$(field w slots)" = 2 ] || fail "w's slots: $(q show w)"
probe p3
state_is w pending && state_is n2 pending || fail "n1 runs in default (1 of 2 slots): w (2 slots) should wait and n2 behind it too; w is $(field w state), n2 $(field n2 state)"
q queue list | grep -Eq '^default +active +1/2 ' || fail "queue list while n1 runs: $(q queue list)"
open_gate n_open
wait_until 30 "n1, w, n2 completed" count_is completed 21
[ -z "$(overlapping "$T/rec3" w)" ] || fail "w (2 slots of 2) overlapped $(overlapping "$T/rec3" w | tr '\n' ' '): $(cat "$T/rec3")"
[ "$(awk '$1 == "start" { print $4 }' "$T/rec3" | tr '\n' ' ')" = "n1 w n2 " ] || fail "default's jobs started in the order $(awk '$1 == "start" { print $4 }' "$T/rec3" | tr '\n' ' '), not n1 w n2"
check "w (--slots 2, limit 2) waited for n1, ran alone, and n2 behind it was not let past it"

# A job wider than its queue's limit waits until the limit is raised.
q enqueue --id x3 -q gpu --slots 3 -- "$(rec_cmd "$T/rec4" gpu)" >/dev/null
probe p4
state_is x3 pending || fail "x3 (3 slots) in gpu (limit 2) is $(field x3 state)"
q queue set gpu --parallel 3 >/dev/null 2>&1
wait_until 20 "x3 completed once gpu's limit is 3" state_is x3 completed
check "x3 (3 slots) waited while gpu's limit was 2 and ran once it was set to 3"

# What the commands show.
q queue list >"$T/ql"
for n in default gpu probe; do grep -q "^$n " "$T/ql" || fail "queue list lacks $n: $(cat "$T/ql")"; done
[ "$(q queue)" = "$(cat "$T/ql")" ] || fail "'queue' alone differs from 'queue list'"
grep -Eq '^gpu +active +0/3 ' "$T/ql" || fail "queue list: gpu should be active, 0/3: $(cat "$T/ql")"
grep -Eq '^probe +active +- ' "$T/ql" || fail "queue list: probe has no limit (-): $(cat "$T/ql")"
q queue list --json >"$T/qj"
grep -q '"name": "gpu"' "$T/qj" && grep -q '"parallel": 3' "$T/qj" || fail "queue list --json: $(cat "$T/qj")"
q status | grep -q '^queues:.*gpu' || fail "status has no queues: line naming gpu: $(q status)"
q status --json | grep -q '"queues"' || fail "status --json has no \"queues\""
q list --queue gpu >"$T/lg"
grep -q '^G1 ' "$T/lg" && ! grep -q '^d1 ' "$T/lg" || fail "list --queue gpu: $(cat "$T/lg")"
q list >"$T/l"
head -n 1 "$T/l" | grep -q QUEUE || fail "list has no QUEUE column with jobs outside default: $(head -n 1 "$T/l")"
check "queue list (and plain 'queue', --json), status's queues line, list --queue gpu and list's QUEUE column"

# restart --queue Q --failed: only Q's dead jobs.
q enqueue --id fd --max-retries 0 -- "exit 3" >/dev/null
q enqueue --id fg --max-retries 0 -q gpu -- "exit 3" >/dev/null
wait_until 20 "fd and fg dead" count_is dead 2
q restart --queue gpu --failed >/dev/null 2>&1 || fail "restart --queue gpu --failed"
state_is fd dead || fail "fd (default) is $(field fd state) after restart --queue gpu --failed"
wait_until 20 "fg run again" eval '[ "$(field fg attempts)" = 1 ] && state_is fg dead && [ "$(q show fg --json | grep -c "\"number\":")" = 2 ]'
check "restart --queue gpu --failed ran fg again and left fd dead"
