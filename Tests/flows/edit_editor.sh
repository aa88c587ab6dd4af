#!/usr/bin/env bash
# edit_editor: 'edit ID --editor' runs $VISUAL (before $EDITOR, with its arguments) on the job's
# fields as JSON in a private temporary file, and the saved object replaces them: the new command
# is what runs, a deleted key goes back to its default. An unchanged file is "no change" (exit 0);
# an editor that fails (exit 1), invalid JSON or fields (exit 2), and a job that changed while the
# editor was open (exit 1) change nothing; the file is always removed. A running or finished job,
# and --editor with a field option, are refused without starting the editor.
source "$(dirname "$0")/lib.sh"
q config set poll_interval 0.1 >/dev/null 2>&1
export Q H T
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
unset VISUAL EDITOR
E="$T/editors"
mkdir -p "$E"

# Each editor gets the file as its last argument. `loud` is for cases that must not start one.
cat >"$E/loud" <<'EOF'
#!/bin/sh
echo "editor started on $*" >>"$T/loud"
exit 3
EOF
# The command becomes "echo new"; the timeout and label lines go (and the comma before the '}').
cat >"$E/newcmd" <<'EOF'
#!/bin/sh
f=$1
printf '%s %s\n' "$f" "$(stat -c %a "$f")" >"$T/seen"
sed -i 's/"echo old"/"echo new"/; /"timeout"/d; /"label"/d' "$f"
sed -i -z 's/,\n}/\n}/' "$f"
EOF
# setprio N FILE: an editor given with an argument of its own.
cat >"$E/setprio" <<'EOF'
#!/bin/sh
sed -i "s/\"priority\": [0-9-]*/\"priority\": $1/" "$2"
EOF
cat >"$E/fails" <<'EOF'
#!/bin/sh
sed -i 's/"priority": [0-9-]*/"priority": 99/' "$1"
exit 1
EOF
cat >"$E/badjson" <<'EOF'
#!/bin/sh
printf '{"command": "echo x",\n  "priority": \n' >"$1"
EOF
cat >"$E/badfield" <<'EOF'
#!/bin/sh
sed -i 's/"priority": [0-9-]*/"priority": "high"/' "$1"
EOF
# setid ID FILE: the object names an id.
cat >"$E/setid" <<'EOF'
#!/bin/sh
sed -i "s/\"command\": \"echo new\"/\"id\": \"$1\", \"command\": \"echo new\"/" "$2"
EOF
# Someone else changes the job while the editor is open; the user then saves a change.
cat >"$E/racer" <<'EOF'
#!/bin/sh
"$Q" --home "$H" $RACE >/dev/null 2>&1 || { echo "racing '$RACE' failed" >"$T/racefail"; exit 4; }
sed -i 's/"echo /"echo raced /' "$1"
EOF
chmod +x "$E"/*
no_temp_left() { [ -z "$(ls -A "$TMPDIR")" ] || fail "temporary files left: $(ls -A "$TMPDIR")"; }
edit_with() {  # edit_with EDITOR [ARGS...]: runs 'edit e1 --editor' with that $EDITOR; sets rc
    local ed=$1; shift
    set +e; EDITOR="$ed" q edit "$@" >"$T/out" 2>"$T/err"; rc=$?; set -e
    no_temp_left
}

q enqueue --id e1 --label L1 --timeout 30 --priority 2 -- "echo old" >/dev/null
q enqueue --id e2 -- "echo two" >/dev/null

edit_with "$E/newcmd" e1 --editor
[ $rc = 0 ] && [ "$(cat "$T/out")" = e1 ] || fail "edit --editor: exit $rc, $(cat "$T/out" "$T/err")"
[ "$(field e1 command)" = "echo new" ] && ! q show e1 --json | grep -q '"label"' && [ "$(field e1 timeout)" = null ] \
    && [ "$(field e1 priority)" = 2 ] && state_is e1 pending || fail "after the editor: $(q show e1 --json)"
read -r path mode <"$T/seen"
case "$path" in "$TMPDIR"/queuectl-edit-e1-*.json) ;; *) fail "the editor got $path, not a .json file in \$TMPDIR" ;; esac
[ "$mode" = 600 ] || fail "the temporary file had mode $mode"
check "command 'echo old' → 'echo new'; the deleted label gone, the deleted timeout back to the default (null); priority kept; file $path, mode $mode, removed"

VISUAL="$E/setprio 7" edit_with "$E/loud" e1 --editor
[ $rc = 0 ] && [ "$(field e1 priority)" = 7 ] && [ ! -e "$T/loud" ] || fail "VISUAL with an argument: exit $rc, $(cat "$T/err"), priority $(field e1 priority)"
check "VISUAL='setprio 7' is run (with its argument) rather than EDITOR: priority 7"

# unchanged EDITOR CODE TEXT WHAT: 'edit e1 --editor' with that editor exits CODE, says TEXT, and
# leaves e1 as it was.
unchanged() {
    edit_with "$1" e1 --editor
    [ $rc = "$2" ] && grep -qF -- "$3" "$T/err" && [ "$(q show e1 --json)" = "$before" ] || fail "$4: exit $rc, $(cat "$T/err")"
    check "$4 → exit $2, e1 unchanged: $(cat "$T/err")"
}
before=$(q show e1 --json)
unchanged true 0 "no change" "file saved unchanged"
unchanged "$E/fails" 1 "editor exited with 1; nothing changed" "editor exits 1"
unchanged "$E/badjson" 2 "invalid JSON on line 3" "invalid JSON"
unchanged "$E/badfield" 2 '"priority" must be a whole number' "invalid field"
unchanged "$E/setid other" 2 '"id" cannot be edited' "an \"id\" other than the job's"
edit_with "$E/setid e1" e1 --editor
[ $rc = 0 ] && [ "$(q show e1 --json)" != "$before" ] || fail "its own id: exit $rc, $(cat "$T/err")"
check "its own \"id\" is accepted"

RACE="edit e1 --priority 5" edit_with "$E/racer" e1 --editor
[ ! -e "$T/racefail" ] || fail "$(cat "$T/racefail")"
[ $rc = 1 ] && grep -q "job e1 changed while it was being edited (now pending); nothing applied — run 'queuectl edit e1 --editor' again" "$T/err" \
    && [ "$(field e1 priority)" = 5 ] && [ "$(field e1 command)" = "echo new" ] || fail "edited meanwhile: exit $rc, $(cat "$T/err"); $(q show e1 --json)"
check "edited by someone else while open → exit 1, the other edit kept: $(cat "$T/err")"
RACE="cancel e2" edit_with "$E/racer" e2 --editor
[ ! -e "$T/racefail" ] || fail "$(cat "$T/racefail")"
[ $rc = 1 ] && grep -q "changed while it was being edited (now cancelled)" "$T/err" && state_is e2 cancelled \
    && [ "$(field e2 command)" = "echo two" ] || fail "cancelled meanwhile: exit $rc, $(cat "$T/err")"
check "cancelled while open → exit 1, nothing applied"

before=$(q show e1 --json)
edit_with "$E/loud" e1 --editor --command x
[ $rc = 2 ] && grep -q -- "--command" "$T/err" && [ ! -e "$T/loud" ] && [ "$(q show e1 --json)" = "$before" ] \
    || fail "--editor with --command: exit $rc, $(cat "$T/err")"
check "--editor --command x → exit 2: $(cat "$T/err")"

timeout -k 5 60 "$Q" --home "$H" worker start --drain -c 1 >/dev/null 2>&1 || true
state_is e1 completed && [ "$(q logs e1)" = new ] || fail "e1 ran '$(q logs e1)' ($(field e1 state)), not the edited command"
check "the worker ran the command from the editor (logs: new)"

edit_with "$E/loud" e1 --editor
[ $rc = 1 ] && grep -q "restart e1 --as-new" "$T/err" && [ ! -e "$T/loud" ] || fail "a completed job: exit $rc, $(cat "$T/err"; cat "$T/loud" 2>/dev/null)"
check "a completed job → exit 1 without an editor: $(cat "$T/err")"

q enqueue --id r1 -- "sleep 30 # $MARK" >/dev/null
q worker start --count 1 --detach >/dev/null 2>&1 || fail "workers did not start"
wait_until 20 "r1 running" state_is r1 processing
edit_with "$E/loud" r1 --editor
[ $rc = 1 ] && grep -q "is running" "$T/err" && [ ! -e "$T/loud" ] && state_is r1 processing || fail "a running job: exit $rc, $(cat "$T/err")"
check "a running job → exit 1 without an editor: $(cat "$T/err")"
q cancel r1 >/dev/null 2>&1
