#!/bin/bash
# The command line: help, version, usage errors and their exit statuses.
. "$top_srcdir/tests/lib/testlib.sh"

plan 58

out=$("$PTTH" --version)
is "$?" 0 "--version exits 0"
like "$out" '^ptth [0-9]+\.[0-9]+\.[0-9]+ ' "--version names ptth"
like "$out" 'libcurl/[0-9.]+ nghttp2/[0-9.]+ mbedTLS/[0-9.]+ libuv/[0-9.]+' \
    "--version names the libraries"
is "$("$PTTH" expose -V | head -n 1)" "$(echo "$out" | head -n 1)" \
    "-V after the command"

# libcurl is loaded at run time (curl_dl.c); PTTH_LIBCURL names another file.
st=$(PTTH_LIBCURL="$TMP/no-libcurl.so" exit_status "$PTTH" expose 8080)
is "$st" 3 "expose without a loadable libcurl: exit 3"
like "$(cat "$TMP/last.err")" "^ptth: cannot load libcurl \\($TMP/no-libcurl\\.so\\)" \
    "... one line naming the file"
st=$(PTTH_LIBCURL="$TMP/no-libcurl.so" exit_status "$PTTH" connect x)
is "$st" 3 "connect without a loadable libcurl: exit 3"
libc=$(awk '$NF ~ /\/libc\.so/ { print $NF; exit }' /proc/self/maps)
st=$(PTTH_LIBCURL="$libc" exit_status "$PTTH" expose 8080)
is "$st" 3 "a library that is not libcurl: exit 3"
like "$(cat "$TMP/last.err")" 'lacks a function ptth needs' "... says so"
out=$(PTTH_LIBCURL="$TMP/no-libcurl.so" "$PTTH" --version)
like "$?:${out//$'\n'/ }" '^0:.*libcurl/\(not found\)' "--version without libcurl says so, exit 0"
st=$(PTTH_LIBCURL="$TMP/no-libcurl.so" exit_status timeout 10 "$PTTH" serve \
    -l 127.0.0.1:0 --grace 0 --idle-timeout nope)
is "$st" 2 "serve does not need libcurl (a usage error, not exit 3)"
st=$(PTTH_LIBCURL="$TMP/no-libcurl.so" exit_status "$PTTH" expose --retries nope 8080)
is "$st" 2 "expose: a usage error before libcurl is needed exits 2"
nok "... and does not try to load it" grep -q 'libcurl' "$TMP/last.err"

"$PTTH" --help >"$TMP/help.out" 2>"$TMP/help.err"
is "$?" 0 "--help exits 0"
like "$(cat "$TMP/help.out")" 'serve' "top-level help lists serve"
is "$(cat "$TMP/help.err")" "" "help writes nothing to stderr"

for cmd in serve expose connect; do
    a=$("$PTTH" help "$cmd")
    b=$("$PTTH" "$cmd" --help)
    is "$a" "$b" "ptth help $cmd = ptth $cmd --help"
done
like "$("$PTTH" -h expose 2>&1)" '^Usage: ptth expose' "-h before the command"
is "$("$PTTH" help help; echo "rc=$?")" "$("$PTTH" --help; echo "rc=$?")" \
    "ptth help help = ptth --help (help is a command of ptth(1))"

# usage_error NAME PATTERN ARGS...: exit 2 and one stderr line matching.
usage_error() {
    _what=$1
    _pat=$2
    shift 2
    "$PTTH" "$@" >"$TMP/u.out" 2>"$TMP/u.err"
    _st=$?
    _lines=$(wc -l <"$TMP/u.err")
    if [ "$_st" -eq 2 ] && [ "$_lines" -eq 1 ] &&
        grep -Eq -- "$_pat" "$TMP/u.err" && [ ! -s "$TMP/u.out" ]; then
        _tap_result 0 "$_what"
    else
        _tap_result 1 "$_what"
        diag "status $_st, stderr:" "$(cat "$TMP/u.err")"
    fi
}

usage_error "no command" "no command"
usage_error "unknown command" "unknown command 'frobnicate'" frobnicate
usage_error "unknown option names it" "'--nmae'" expose --nmae x 80
usage_error "unknown short option" "'-Z'" serve -Z
usage_error "missing value" "'--edge' needs a value" expose --edge
usage_error "bad NAME named" "NAME 'Bad_Name'" expose -n Bad_Name 80
usage_error "bad TARGET named" "TARGET 'nonsense'" expose nonsense
# SPEC 3.2: a TARGET that is none of the forms is a usage error; a URL of
# another scheme is one (it was taken for a missing path: exit 3), and so
# is an http URL without a host (it was read as http://x/).
usage_error "ftp:// TARGET: unsupported scheme" \
    "TARGET 'ftp://example.com/': unsupported scheme 'ftp'" \
    expose ftp://example.com/
usage_error "file:// TARGET: unsupported scheme" "unsupported scheme 'file'" \
    expose file:///tmp
usage_error "http:///x TARGET: no host" "invalid TARGET 'http:///x'" \
    expose http:///x
usage_error "-e http:///x: no host" "invalid -e 'http:///x'" \
    expose -e http:///x 80
usage_error "bad ADDR named" "'--listen' '1.2.3.4:99999'|--listen '1.2.3.4:99999'" \
    serve --listen 1.2.3.4:99999
export PTTH_NAME=x_y
usage_error "bad env twin named" "PTTH_NAME NAME 'x_y'" expose 80
unset PTTH_NAME
usage_error "bad --idle-timeout named" "--idle-timeout 'soon'" \
    serve --idle-timeout soon
usage_error "--idle-timeout 0 refused" "--idle-timeout '0'" \
    serve --idle-timeout 0
usage_error "--ping-interval 0 refused" "--ping-interval '0'" \
    serve --ping-interval 0
usage_error "bad --name-hold named" "--name-hold '5 min'" \
    serve --name-hold '5 min'
export PTTH_NAME_HOLD=never
usage_error "bad PTTH_NAME_HOLD named" "PTTH_NAME_HOLD 'never'" serve
unset PTTH_NAME_HOLD
usage_error "bad expose --connect-timeout named" "--connect-timeout '-1'" \
    expose --connect-timeout -1 80
usage_error "bad connect --connect-timeout named" "--connect-timeout '1x'" \
    connect --connect-timeout 1x box
export PTTH_PING_INTERVAL=never
usage_error "bad PTTH_PING_INTERVAL named" "PTTH_PING_INTERVAL 'never'" serve
unset PTTH_PING_INTERVAL
export PTTH_CONNECT_TIMEOUT=0
usage_error "bad PTTH_CONNECT_TIMEOUT named" "PTTH_CONNECT_TIMEOUT '0'" \
    connect box
unset PTTH_CONNECT_TIMEOUT
usage_error "public listener without token" "not loopback" serve -l 0.0.0.0:0
usage_error "bad log format" "xml" --log-format xml serve

st=$(exit_status "$PTTH" expose ./no/such/dir)
is "$st" 3 "missing directory TARGET exits 3"
like "$(cat "$TMP/last.err")" "TARGET './no/such/dir': No such file" \
    "missing directory named"
st=$(exit_status "$PTTH" serve --token-file "$TMP/none")
is "$st" 3 "missing token file exits 3"
mkdir -p "$TMP/tokdir"
st=$(exit_status "$PTTH" serve --token-file "$TMP/tokdir")
is "$st:$(cat "$TMP/last.err")" "3:ptth: serve: --token-file '$TMP/tokdir': is a directory" \
    "a directory as the token file: exit 3, said so (it was exit 2, 'no token')"
# unix:///path is a unix: target, and an existing directory named like a
# URL is a directory: neither is an unsupported scheme (exit 4: no edge).
st=$(exit_status timeout 20 "$PTTH" expose --retries 0 -e http://127.0.0.1:1 \
    unix:///tmp/ptth-no.sock)
is "$st" 4 "unix:///path is a unix: target"
mkdir -p "$TMP/cwd/a:/b"
st=$(cd "$TMP/cwd" && exit_status timeout 20 "$PTTH" expose --retries 0 \
    -e http://127.0.0.1:1 a://b)
is "$st" 4 "an existing directory 'a://b' is a directory"
# Schemes are case-insensitive: HTTP:// is a URL target (exit 4: no edge).
st=$(exit_status timeout 20 "$PTTH" expose --retries 0 -e http://127.0.0.1:1 \
    HTTP://127.0.0.1:1/)
is "$st" 4 "HTTP:// TARGET is an http URL"

# Secrets never echoed in errors.
st=$(exit_status "$PTTH" serve --token 'sec ret')
is "$st" 2 "invalid token refused"
nok "invalid token not printed" grep -q 'sec ret' "$TMP/last.err"

# The timeout options are accepted (the edge starts; expose and connect get
# as far as dialling a closed port: exit 4, not 2), from the command line
# and from their PTTH_* twins; the option wins over a bad twin.
export PTTH_IDLE_TIMEOUT=bogus
start edge "$PTTH" serve -l 127.0.0.1:0 --idle-timeout 2.5 \
    --ping-interval 500ms
like "$(wait_ready edge)" '^http://127\.0\.0\.1:[0-9]+/$' \
    "serve accepts --idle-timeout and --ping-interval over a bad env twin"
unset PTTH_IDLE_TIMEOUT
kill -TERM "$(pid_of edge)"
wait_exit edge 10
PTTH_IDLE_TIMEOUT=30 PTTH_PING_INTERVAL=1.5 start edge2 "$PTTH" serve \
    -l 127.0.0.1:0
like "$(wait_ready edge2)" '^http://127\.0\.0\.1:' \
    "serve accepts PTTH_IDLE_TIMEOUT and PTTH_PING_INTERVAL"
st=$(exit_status timeout 20 "$PTTH" expose --retries 0 --connect-timeout 2 \
    -e http://127.0.0.1:1 80)
is "$st" 4 "expose accepts --connect-timeout (closed port: exit 4)"
st=$(PTTH_CONNECT_TIMEOUT=0.5 exit_status timeout 20 "$PTTH" connect \
    -e http://127.0.0.1:1 box </dev/null)
is "$st" 4 "connect accepts PTTH_CONNECT_TIMEOUT (closed port: exit 4)"
