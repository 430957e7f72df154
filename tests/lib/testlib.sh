# SPDX-License-Identifier: MIT
# testlib.sh - TAP helpers for ptth's end-to-end tests (bash).
#
#   . "$top_srcdir/tests/lib/testlib.sh"
#   plan 3
#   start edge "$PTTH" serve --listen 127.0.0.1:0   # stdout through a FIFO
#   url=$(wait_ready edge)                          # first stdout line, bounded
#   ok "GET works" curl -fsS "$url"
#   is "$(cat "$TMP/x")" "hello" "body"
#
# Every test is bounded by TEST_TIMEOUT seconds (default 120) and, on exit,
# kills only the processes it started itself (with start or track).

set -u
: "${PTTH:=$(cd "$(dirname "$0")/../.." && pwd)/src/ptth}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TEST_TIMEOUT:=120}"

TAP_N=0
TAP_FAILED=0
TAP_PLANNED=
PIDS=
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ptth-test.XXXXXX")

plan() {
    TAP_PLANNED=$1
    echo "1..$1"
}

skip_all() {
    echo "1..0 # SKIP $*"
    TAP_PLANNED=0
    exit 0
}

diag() {
    printf '%s\n' "$@" | sed 's/^/# /'
}

_tap_result() { # status name
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $TAP_N - $2"
    else
        echo "not ok $TAP_N - $2"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

# ok NAME CMD...: passes when CMD exits 0.
ok() {
    _name=$1
    shift
    "$@"
    _tap_result $? "$_name"
}

# nok NAME CMD...: passes when CMD exits non-zero.
nok() {
    _name=$1
    shift
    if "$@"; then _tap_result 1 "$_name"; else _tap_result 0 "$_name"; fi
}

# is GOT WANT NAME
is() {
    if [ "$1" = "$2" ]; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "got:  '$1'" "want: '$2'"
    fi
}

# like GOT EXTENDED-REGEX NAME
like() {
    if printf '%s' "$1" | grep -Eq -- "$2"; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "got:  '$1'" "want match: '$2'"
    fi
}

skip() { # skip N REASON
    _i=0
    while [ "$_i" -lt "$1" ]; do
        TAP_N=$((TAP_N + 1))
        echo "ok $TAP_N # SKIP $2"
        _i=$((_i + 1))
    done
}

# exit_status CMD...: prints CMD's exit status (its output goes to $TMP).
exit_status() {
    "$@" >"$TMP/last.out" 2>"$TMP/last.err"
    echo $?
}

# track PID: kill PID at exit too.
track() {
    PIDS="$PIDS $1"
}

# start NAME CMD...: runs CMD in the background; stdout goes through a FIFO
# so wait_ready can block on the first line; stderr to $TMP/NAME.err.
start() {
    _n=$1
    shift
    rm -f "$TMP/$_n.fifo"
    mkfifo "$TMP/$_n.fifo"
    "$@" >"$TMP/$_n.fifo" 2>"$TMP/$_n.err" &
    eval "PID_$_n=$!"
    track $!
}

# pid_of NAME
pid_of() {
    eval "echo \${PID_$1}"
}

# wait_ready NAME [SECONDS]: prints the first stdout line of NAME, waiting at
# most SECONDS (default 10); the rest of its stdout is drained into
# $TMP/NAME.out. Fails (status 1) on timeout or if NAME exits first.
wait_ready() {
    _n=$1
    _t=${2:-10}
    exec 7<"$TMP/$_n.fifo"
    if IFS= read -r -t "$_t" _line <&7; then
        printf '%s\n' "$_line" >"$TMP/$_n.out"
        cat <&7 >>"$TMP/$_n.out" &
        track $!
        exec 7<&-
        printf '%s\n' "$_line"
        return 0
    fi
    cat <&7 >>"$TMP/$_n.out" &
    track $!
    exec 7<&-
    diag "$_n: no ready line within ${_t}s; stderr:" "$(tail -n 5 "$TMP/$_n.err")"
    return 1
}

# wait_exit NAME [SECONDS]: waits for NAME to exit and sets EXIT_STATUS
# to its status, or kills it and sets 124 if it is still running after
# SECONDS (default 10). Call it directly, not inside $(...): only this
# shell can collect the status of its children.
wait_exit() {
    _p=$(pid_of "$1")
    _n=$((${2:-10} * 20))
    while kill -0 "$_p" 2>/dev/null && [ "$_n" -gt 0 ]; do
        sleep 0.05 # bounded poll: a process exit prints no line
        _n=$((_n - 1))
    done
    if kill -0 "$_p" 2>/dev/null; then
        kill -KILL "$_p" 2>/dev/null
        wait "$_p" 2>/dev/null
        EXIT_STATUS=124
    else
        wait "$_p" 2>/dev/null
        EXIT_STATUS=$?
    fi
}

# wait_log FILE TEXT [SECONDS]: waits (default 10 s) until FILE, a log,
# holds TEXT; fails if it never does. For events that print no stdout line.
wait_log() {
    _n=$((${3:-10} * 20))
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ "$_n" -gt 0 ]; do
        sleep 0.05 # bounded poll: a log line, not a stdout line
        _n=$((_n - 1))
    done
    grep -qF -- "$2" "$1" 2>/dev/null
}

# _timer SECONDS CMD...: runs CMD after SECONDS in the background unless
# killed first (TERM also ends its sleep); $! is the timer.
_timer() {
    _ts=$1
    shift
    (
        trap - EXIT # the test's own clean-up must not run in here
        trap 'kill "$_sp" 2>/dev/null; exit 0' TERM
        sleep "$_ts" &
        _sp=$!
        wait "$_sp" && "$@" 2>/dev/null
    ) >/dev/null 2>&1 </dev/null &
}

_cleanup() {
    for _p in $PIDS; do
        kill -TERM "$_p" 2>/dev/null
    done
    for _p in $PIDS; do
        _k=0
        while kill -0 "$_p" 2>/dev/null && [ "$_k" -lt 50 ]; do
            # bounded: 50 x 0.1 s, then SIGKILL
            sleep 0.1
            _k=$((_k + 1))
        done
        kill -KILL "$_p" 2>/dev/null
    done
    [ -n "${_WATCHDOG:-}" ] && kill "$_WATCHDOG" 2>/dev/null
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "# kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}

_done() {
    _st=$?
    _cleanup
    if [ -n "$TAP_PLANNED" ] && [ "$TAP_PLANNED" != 0 ] &&
        [ "$TAP_N" -ne "$TAP_PLANNED" ]; then
        echo "# planned $TAP_PLANNED tests but ran $TAP_N"
        exit 1
    fi
    [ "$TAP_FAILED" -eq 0 ] || exit 1
    exit "$_st"
}
trap _done EXIT
trap 'echo "not ok - timed out after ${TEST_TIMEOUT}s"; exit 1' USR1
_timer "$TEST_TIMEOUT" kill -USR1 $$
_WATCHDOG=$!
