#!/bin/bash
# Malformed and request-smuggling heads sent raw to the edge. Each must get
# one error response (400, 431 for oversized heads, 501/400 for unknown
# transfer codings) and then a close: never a second response, so a request
# hidden behind the bad one is never answered (no desynchronisation).
#
# Every case is followed on the same connection by a tail request for
# Host smuggled.localhost: the edge's 404 body names the host it looked up,
# so an answered tail shows as "smuggled" in the output.
# shellcheck disable=SC1091,SC2154 # testlib.sh, top_srcdir: from make check
. "$top_srcdir/tests/lib/testlib.sh"

command -v socat >/dev/null 2>&1 || skip_all "socat not installed"

TAIL='GET / HTTP/1.1\r\nHost: smuggled.localhost\r\n\r\n'
H='Host: a.localhost\r\n'

# The table: name | expected first statuses (comma-separated) | request
# (printf %b). Bodies that are framed by the bad head contain a request of
# their own. Errors inside a chunked body may come after the edge answered
# the (good) head with 404, as no tunnel serves a.localhost: there 404 is
# accepted, but still only one response and a close.
CASES=()
add() { CASES+=("$1|$2|$3"); }

add "Content-Length and Transfer-Encoding" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
add "Transfer-Encoding then Content-Length" 400 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n0\r\n\r\n"
add "two different Content-Length fields" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
add "Content-Length list with different values" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: 3, 4\r\n\r\nabcd"
add "Content-Length: +5" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nabcde"
add "Content-Length: -1" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n"
add "Content-Length: 0x5" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nabcde"
add "Content-Length over 2^63" 400 \
    "POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n"
add "Transfer-Encoding: chunked, identity" 400,501 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
add "Transfer-Encoding: gzip (not chunked last)" 400,501 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"
add "Transfer-Encoding: xchunked" 400,501 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
add "Transfer-Encoding twice (chunked, chunked)" 400,501 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
add "Transfer-Encoding on HTTP/1.0" 400 \
    "POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
add "space before the colon (Transfer-Encoding : chunked)" 400 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
add "obs-fold" 400 \
    "GET / HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n"
add "obs-fold on Transfer-Encoding" 400 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"
add "bare LF line ends" 400 \
    "GET / HTTP/1.1\nHost: a.localhost\n\n"
add "bare LF after one header" 400 \
    "GET / HTTP/1.1\r\n${H}X-A: 1\nX-B: 2\r\n\r\n"
add "bare CR in a header value" 400 \
    "GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n"
add "bare CR as a line end" 400 \
    "GET / HTTP/1.1\r${H}\r\n"
add "NUL in a header value" 400 \
    "GET / HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n"
add "bad byte in a field name" 400 \
    "GET / HTTP/1.1\r\n${H}X(A): 1\r\n\r\n"
add "empty field name" 400 \
    "GET / HTTP/1.1\r\n${H}: 1\r\n\r\n"
add "request line with a double space" 400 \
    "GET  / HTTP/1.1\r\n${H}\r\n"
add "request line with a tab" 400 \
    "GET\t/ HTTP/1.1\r\n${H}\r\n"
add "request line without a version" 400 \
    "GET /\r\n${H}\r\n"
add "HTTP/1.2" 400,505 \
    "GET / HTTP/1.2\r\n${H}\r\n"
add "lower-case http/1.1" 400 \
    "GET / http/1.1\r\n${H}\r\n"
add "missing Host on HTTP/1.1" 400 \
    "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"
add "two Host fields" 400 \
    "GET / HTTP/1.1\r\n${H}Host: b.localhost\r\n\r\n"
add "Host with a space inside" 400 \
    "GET / HTTP/1.1\r\nHost: a.localhost b.localhost\r\n\r\n"
add "chunk size 0x10" 400,404 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x10\r\n0123456789abcdef\r\n0\r\n\r\n"
add "chunk size with 17 hex digits" 400,404 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n00000000000000005\r\nabcde\r\n0\r\n\r\n"
add "chunk size with a sign" 400,404 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n+5\r\nabcde\r\n0\r\n\r\n"
add "chunk data longer than its size" 400,404 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcde\r\n0\r\n\r\n"
add "chunk size line with a bare LF" 400,404 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nabcde\r\n0\r\n\r\n"
add "request hidden in a body with a bad chunk" 400,404 \
    "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nGET /hidden HTTP/1.1\r\nHost: smuggled.localhost\r\n\r\n"

# Oversized heads, built here.
big=$(head -c 71680 /dev/zero | tr '\0' 'a')
add "header block of 70 KiB" 431 \
    "GET / HTTP/1.1\r\n${H}X-Big: ${big}\r\n\r\n"
fields=
for i in $(seq 1 100); do fields="${fields}X-F$i: $i\r\n"; done
add "101 header fields" 431 \
    "GET / HTTP/1.1\r\n${H}${fields}\r\n"
fields=
for i in $(seq 1 98); do fields="${fields}X-F$i: $i\r\n"; done
CONTROL_100="GET / HTTP/1.1\r\n${H}${fields}Connection: close\r\n\r\n"

plan $((${#CASES[@]} * 3 + 6))

start edge "$PTTH" serve -l 127.0.0.1:0
url=$(wait_ready edge)
port=${url##*:}
port=${port%/}

# send NAME DATA: sends DATA (printf %b) on one connection and never
# half-closes it (shut-none), so socat ends only when the edge closes:
# status 0 when the edge closed within 2 s, 124 when it did not. The
# response goes to $TMP/NAME.resp.
send() {
    printf '%b' "$2" >"$TMP/$1.req"
    timeout 2 socat -t 30 - "TCP:127.0.0.1:$port,shut-none" \
        <"$TMP/$1.req" >"$TMP/$1.resp" 2>"$TMP/$1.err"
}

i=0
for c in "${CASES[@]}"; do
    i=$((i + 1))
    name=${c%%|*}
    rest=${c#*|}
    want=${rest%%|*}
    want=${want//,/|}
    req=${rest#*|}
    send "c$i" "$req$TAIL"
    closed=$?
    first=$(head -n 1 "$TMP/c$i.resp" | tr -d '\r')
    n=$(grep -c '^HTTP/1\.1 [0-9]' "$TMP/c$i.resp")
    like "$first" "^HTTP/1\.1 ($want) " "$name: $want"
    if [ "$n" -eq 1 ] && ! grep -q smuggled "$TMP/c$i.resp"; then
        _tap_result 0 "$name: one response, the request behind it unanswered"
    else
        _tap_result 1 "$name: one response, the request behind it unanswered"
        diag "$n responses:" "$(grep -a '^HTTP/1\.1 \|smuggled' "$TMP/c$i.resp")"
    fi
    is "$closed" 0 "$name: the edge closes the connection"
done

# Controls: the same harness sees a second response and a connection left
# open, and the limits are not off by one.
send ok1 "GET / HTTP/1.1\r\n${H}\r\n${TAIL}"
is "$?" 124 "control: a good request keeps the connection open"
is "$(grep -c '^HTTP/1\.1 404' "$TMP/ok1.resp")" 2 \
    "control: a good request and the one behind it are both answered"
ok "control: the second answer names smuggled.localhost" \
    grep -q 'smuggled\.localhost' "$TMP/ok1.resp"
send ok2 "$CONTROL_100"
is "$(head -n 1 "$TMP/ok2.resp" | tr -d '\r')" "HTTP/1.1 404 Not Found" \
    "control: 100 header fields are accepted"
half=$(head -c 60000 /dev/zero | tr '\0' 'a')
send ok3 "GET / HTTP/1.1\r\n${H}X-Big: ${half}\r\nConnection: close\r\n\r\n"
is "$(head -n 1 "$TMP/ok3.resp" | tr -d '\r')" "HTTP/1.1 404 Not Found" \
    "control: a 60 KB header block is accepted"
send ok4 "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nabcde\r\n0\r\nX-T: 1\r\n\r\n"
is "$(grep -c '^HTTP/1\.1 ' "$TMP/ok4.resp")" 1 \
    "control: a good chunked body with an extension and a trailer"
