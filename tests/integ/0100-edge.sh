#!/bin/bash
# The edge alone (ptth serve), with real clients: the ready line, 404 for an
# unknown Host over HTTP/1.1, h2c and TLS (HTTP/1.1 and HTTP/2 by ALPN),
# keep-alive, the worker handshake (refusals with curl, 101/409 by hand),
# SIGTERM/SIGINT and the exit statuses of listen and certificate errors.
# shellcheck disable=SC1091,SC2154 # testlib.sh, top_srcdir: from make check
. "$top_srcdir/tests/lib/testlib.sh"

plan 65

CURL="curl -sS --max-time 10"

# hget NAME CURL-ARGS...: runs curl, head in $TMP/NAME.h, body in
# $TMP/NAME.b; prints "CODE VERSION" (VERSION as curl's %{http_version}).
hget() {
    _hn=$1
    shift
    $CURL -D "$TMP/$_hn.h" -o "$TMP/$_hn.b" \
        -w '%{http_code} %{http_version}' "$@" 2>"$TMP/$_hn.err"
}

# header NAME FIELD: the value of FIELD in $TMP/NAME.h (case-insensitive,
# CR stripped, first occurrence).
header() {
    tr -d '\r' <"$TMP/$1.h" |
        awk -v f="$2" 'BEGIN { f = tolower(f) ":" }
            tolower(substr($0, 1, length(f))) == f {
                v = substr($0, length(f) + 1); sub(/^[ \t]+/, "", v);
                print v; exit }'
}

# Raw worker handshakes on a connection that stays open (bash /dev/tcp):
# hs_open PORT QUERY [TOKEN] opens fd $HSFD and sends the handshake;
# hs_head FD prints the response head (CR stripped) up to the blank line,
# reading at most 50 lines, 5 s each; status 1 if no blank line came.
hs_open() {
    exec {HSFD}<>"/dev/tcp/127.0.0.1/$1" || return 1
    {
        printf 'GET /.well-known/ptth/%s HTTP/1.1\r\n' "$2"
        printf 'Host: 127.0.0.1:%s\r\n' "$1"
        printf 'Connection: Upgrade\r\nUpgrade: ptth\r\nALPN: h2\r\n'
        [ -n "${3:-}" ] && printf 'Authorization: Bearer %s\r\n' "$3"
        printf '\r\n'
    } >&"$HSFD"
}
hs_head() {
    _i=0
    while [ "$_i" -lt 50 ] && IFS= read -r -t 5 _l <&"$1"; do
        _l=${_l%$'\r'}
        [ -z "$_l" ] && return 0
        printf '%s\n' "$_l"
        _i=$((_i + 1))
    done
    return 1
}
# hs_field HEAD FIELD: value of FIELD in the head text HEAD.
hs_field() {
    printf '%s\n' "$1" | awk -v f="$2" 'BEGIN { f = tolower(f) ":" }
        tolower(substr($0, 1, length(f))) == f {
            v = substr($0, length(f) + 1); sub(/^[ \t]+/, "", v);
            print v; exit }'
}

# reap NAME SECS: sets ST to NAME's exit status, or 124 (after SIGKILL)
# when it still runs after SECS (testlib's wait_exit).
reap() {
    wait_exit "$1" "${2:-10}"
    ST=$EXIT_STATUS
}

# exits_0 NAME SECS DESC: NAME exits 0 within SECS (after a signal).
exits_0() {
    reap "$1" "$2"
    is "$ST" 0 "$3"
    [ "$ST" = 0 ] || diag "$1 stderr:" "$(tail -n 3 "$TMP/$1.err")"
}

# ---------------------------------------------------------- plain edge
start e1 "$PTTH" serve -l 127.0.0.1:0
url=$(wait_ready e1)
like "$url" '^http://127\.0\.0\.1:[0-9]+/$' "ready line is http://127.0.0.1:PORT/"
port=${url##*:}
port=${port%/}

# Unknown Host over HTTP/1.1.
r=$(hget nf -H 'Host: nosuch.localhost' "$url")
is "$r" "404 1.1" "unknown Host: 404 over HTTP/1.1"
like "$(header nf content-type)" '^text/plain' "404 is text/plain"
like "$(cat "$TMP/nf.b")" "nosuch\.localhost" "404 body names the host"
sz=$(wc -c <"$TMP/nf.b")
ok "404 body is short ($sz bytes)" test "$sz" -gt 0 -a "$sz" -lt 512
r=$(hget nfp -H 'Host: nosuch.localhost:1234' "$url")
is "$r" "404 1.1" "unknown Host with a port: 404"
r=$(hget nfip "$url")
is "$r" "404 1.1" "Host 127.0.0.1:PORT (the edge itself): 404"
r=$(hget nfhead -I -H 'Host: nosuch.localhost' "$url")
is "$r" "404 1.1" "HEAD for an unknown Host: 404"
# With -I curl writes the head to -o too: anything more would be a body.
ok "HEAD 404 has no body" cmp -s "$TMP/nfhead.b" "$TMP/nfhead.h"

# h2c with prior knowledge.
r=$(hget h2 --http2-prior-knowledge -H 'Host: nosuch.localhost' "$url")
is "$r" "404 2" "unknown Host: 404 over h2c (prior knowledge)"
like "$(cat "$TMP/h2.b")" "nosuch\.localhost" "h2c 404 body names the host"
if command -v nghttp >/dev/null 2>&1; then
    timeout 10 nghttp -v -H ':authority: nosuch.localhost' "$url" \
        >"$TMP/nghttp.out" 2>&1
    like "$(grep ':status:' "$TMP/nghttp.out")" ':status: 404' \
        "nghttp (h2c): :status 404"
    like "$(cat "$TMP/nghttp.out")" "no tunnel.*nosuch\.localhost|nosuch\.localhost" \
        "nghttp (h2c): body names the host"
    # Only origin-form requests with an http(s) scheme may reach a worker:
    # anything else would be a different request at an HTTP/1 origin.
    timeout 10 nghttp -H ':scheme: ftp' -H ':authority: nosuch.localhost' \
        "$url" >"$TMP/scheme.out" 2>&1
    like "$(cat "$TMP/scheme.out")" ':scheme must be http or https' \
        "h2c request with :scheme ftp: 400 naming :scheme"
    timeout 10 nghttp -v -H ':path: x' -H ':authority: nosuch.localhost' \
        "$url" >"$TMP/path.out" 2>&1
    like "$(cat "$TMP/path.out")" 'RST_STREAM.*|:status: 400' \
        "h2c request with :path 'x' (not origin-form): refused"
    ok "... and never reaches routing (no 404)" \
        sh -c "! grep -q ':status: 404' '$TMP/path.out'"
else
    skip 5 "nghttp not installed"
fi

# Keep-alive: two requests on one connection.
$CURL -v -o /dev/null -o /dev/null -H 'Host: nosuch.localhost' \
    "${url}one" "${url}two" 2>"$TMP/ka.err"
like "$(cat "$TMP/ka.err")" 'Re-using existing connection' \
    "HTTP/1.1 keep-alive: the second request reuses the connection"
is "$(grep -c '^< HTTP/1.1 404' "$TMP/ka.err")" 2 "both keep-alive requests get 404"

# Handshake refusals (the connection stays HTTP/1.1).
hs="${url}.well-known/ptth/?name=site"
r=$(hget noup --http1.1 -H 'ALPN: h2' "$hs")
is "$r" "426 1.1" "handshake without Upgrade: 426"
like "$(header noup upgrade)" '^ptth$' "426 carries Upgrade: ptth"
r=$(hget noalpn --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: ptth' "$hs")
is "$r" "400 1.1" "handshake without ALPN h2: 400"
r=$(hget alpn11 --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: ptth' \
    -H 'ALPN: http%2F1.1' "$hs")
is "$r" "400 1.1" "handshake offering only http/1.1: 400"
r=$(hget badname --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: ptth' \
    -H 'ALPN: h2' "${url}.well-known/ptth/?name=Bad_Name")
is "$r" "400 1.1" "handshake with ?name=Bad_Name: 400"

# Successful handshakes by hand on the anonymous (loopback) edge.
hs_open "$port" '?name=site' && fa=$HSFD && head=$(hs_head "$HSFD")
is "$(printf '%s\n' "$head" | head -n 1)" "HTTP/1.1 101 Switching Protocols" \
    "raw handshake: 101"
is "$(hs_field "$head" upgrade)" ptth "101 carries Upgrade: ptth"
like "$(hs_field "$head" connection)" '^[Uu]pgrade$' "101 carries Connection: Upgrade"
is "$(hs_field "$head" ptth-public-url)" "http://site.localhost:$port/" \
    "101 carries Ptth-Public-Url: http://site.localhost:PORT/"
is "$(printf '%s\n' "$head" | tr -d '\r' | grep -cxE 'Connection: Upgrade|Upgrade: ptth|ALPN: h2|Ptth-Public-Url: http://site\.localhost:[0-9]+/')" \
    4 "the 101's fields are written as SPEC 4 writes them"
hs_open "$port" '' && fb=$HSFD && head=$(hs_head "$HSFD")
like "$(hs_field "$head" ptth-public-url)" "^http://[a-z0-9]+\.localhost:$port/\$" \
    "no ?name: the edge assigns a random name"
r=$(hget other -H 'Host: other.localhost' "$url")
is "$r" "404 1.1" "with a tunnel up, another Host still gets 404"

# Port already in use.
st=$(exit_status timeout 10 "$PTTH" serve -l "127.0.0.1:$port")
is "$st" 3 "-l on a port in use: exit 3"
like "$(cat "$TMP/last.err")" "$port" "the listen error names the address"

kill -TERM "$(pid_of e1)"
exits_0 e1 5 "SIGTERM with idle workers connected: exit 0 within 5 s"
is "$(wc -l <"$TMP/e1.out")" 1 "stdout held the ready line only"
exec {fa}<&- {fb}<&-

# No workers: a request first (the loop surely runs), then SIGTERM.
start e2 "$PTTH" serve -l 127.0.0.1:0
url2=$(wait_ready e2)
r=$(hget e2r -H 'Host: nosuch.localhost' "$url2")
is "$r" "404 1.1" "a third edge answers"
kill -TERM "$(pid_of e2)"
exits_0 e2 5 "SIGTERM, no workers: exit 0 within 5 s"
# A script may signal as soon as it read the ready line.
start e4 "$PTTH" serve -l 127.0.0.1:0
url4=$(wait_ready e4)
ok "another edge ready" test -n "$url4"
kill -INT "$(pid_of e4)"
exits_0 e4 5 "SIGINT right after the ready line: exit 0 within 5 s"

# ---------------------------------------------------- edge with tokens
printf 'tok-one\ntok-two\n' >"$TMP/tokens"
start e3 "$PTTH" serve -l 127.0.0.1:0 --token-file "$TMP/tokens"
url=$(wait_ready e3)
like "$url" '^http://127\.0\.0\.1:[0-9]+/$' "token edge ready"
port=${url##*:}
port=${port%/}
hs="${url}.well-known/ptth/?name=site"
up=(--http1.1 -H 'Connection: Upgrade' -H 'Upgrade: ptth' -H 'ALPN: h2')
r=$(hget notok "${up[@]}" "$hs")
is "$r" "401 1.1" "no token: 401"
is "$(header notok www-authenticate)" 'Bearer realm="ptth"' \
    "401 carries WWW-Authenticate: Bearer realm=\"ptth\""
r=$(hget badtok "${up[@]}" -H 'Authorization: Bearer tok-three' "$hs")
is "$r" "401 1.1" "wrong token: 401"
nok "the wrong token is not echoed" grep -q 'tok-three' "$TMP/badtok.b" "$TMP/badtok.h"
r=$(hget basic "${up[@]}" -u 'x:tok-one' "$hs")
is "$r" "401 1.1" "Basic credentials instead of a Bearer token: 401"

# SPEC 4: a refusal does not upgrade and the connection stays HTTP/1.1: a
# worker may send its token on the same connection after the 401 (the edge
# used to close it).
hs_open "$port" '?name=retry' && w5=$HSFD && head=$(hs_head "$HSFD")
st1="$(printf '%s\n' "$head" | head -n 1) [$(hs_field "$head" connection)]"
IFS= read -r -N "$(hs_field "$head" content-length)" -t 5 _ <&"$w5"
printf 'GET /.well-known/ptth/?name=retry HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: Upgrade\r\nUpgrade: ptth\r\nALPN: h2\r\nAuthorization: Bearer tok-one\r\n\r\n' \
    "$port" >&"$w5"
head=$(hs_head "$w5")
is "$st1 / $(printf '%s\n' "$head" | head -n 1)" \
    "HTTP/1.1 401 Unauthorized [] / HTTP/1.1 101 Switching Protocols" \
    "after a 401 the same connection, now with a token, gets 101"
exec {w5}>&-
# 3000 refused handshakes in one write: every one is answered, in order,
# while the client reads (the edge stopped and closed after about 1450,
# its output queue full); a refused HEAD gets no body and a close.
pipe_py='
import socket, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])


def exchange(data):
    """Sends data while reading; returns all the edge sent until it closed."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(20)
    threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
    got = b""
    while True:
        d = s.recv(1 << 16)
        if not d:
            return got
        got += d


r = (b"GET /.well-known/ptth/?name=p HTTP/1.1\r\nHost: e\r\n"
     b"Connection: Upgrade\r\nUpgrade: ptth\r\nALPN: h2\r\n")
got = exchange((r + b"\r\n") * (n - 1) + r + b"Connection: close\r\n\r\n")
print(got.count(b"HTTP/1.1 401 "))
got = exchange(b"HEAD /.well-known/ptth/?name=p HTTP/1.1\r\nHost: e\r\n\r\n"
               b"GET /x HTTP/1.1\r\nHost: e\r\n\r\n")
print(got.count(b"HTTP/1.1"), got.endswith(b"\r\n\r\n"))
'
if command -v python3 >/dev/null; then
    r=$(timeout 30 python3 -c "$pipe_py" "$port" 3000 | tr '\n' ' ')
    is "$r" "3000 1 True " \
        "3000 pipelined refusals all answered; a refused HEAD: no body, closed"
else
    skip 1 "python3 is needed for the pipelined refusals"
fi

hs_open "$port" '?name=site' tok-one && w1=$HSFD && head=$(hs_head "$HSFD")
is "$(printf '%s\n' "$head" | head -n 1)" "HTTP/1.1 101 Switching Protocols" \
    "worker with tok-one: 101"
is "$(hs_field "$head" ptth-public-url)" "http://site.localhost:$port/" \
    "its public URL"
hs_open "$port" '?name=site' tok-two && w2=$HSFD && head=$(hs_head "$HSFD")
like "$(printf '%s\n' "$head" | head -n 1)" '^HTTP/1\.1 409 ' \
    "same name with tok-two: 409"
hs_open "$port" '?name=site' tok-one && w3=$HSFD && head=$(hs_head "$HSFD")
is "$(printf '%s\n' "$head" | head -n 1)" "HTTP/1.1 101 Switching Protocols" \
    "same name and same token: 101 (a pool)"
hs_open "$port" '?name=other' tok-two && w4=$HSFD && head=$(hs_head "$HSFD")
is "$(printf '%s\n' "$head" | head -n 1)" "HTTP/1.1 101 Switching Protocols" \
    "tok-two for another name: 101"

# 300 names (more than the edge's 256 hash buckets): each is found, by
# name, among the others (409 for another token), and a new one is not.
many=()
n101=0
for i in $(seq 1 300); do
    hs_open "$port" "?name=n$i" tok-one && many+=("$HSFD") &&
        head=$(hs_head "$HSFD")
    [ "$(printf '%s\n' "$head" | head -n 1)" = "HTTP/1.1 101 Switching Protocols" ] &&
        n101=$((n101 + 1))
done
is "$n101" 300 "300 more names with tok-one: 300 x 101"
n409=0
for i in 1 77 150 256 300; do
    hs_open "$port" "?name=n$i" tok-two && head=$(hs_head "$HSFD")
    exec {HSFD}<&-
    case $(printf '%s\n' "$head" | head -n 1) in
    "HTTP/1.1 409 "*) n409=$((n409 + 1)) ;;
    esac
done
is "$n409" 5 "each of 5 of them, asked for by tok-two: 409"
hs_open "$port" '?name=n301' tok-two && w5=$HSFD && head=$(hs_head "$HSFD")
is "$(printf '%s\n' "$head" | head -n 1)" "HTTP/1.1 101 Switching Protocols" \
    "a 301st name for tok-two: 101"
for f in "${many[@]}"; do exec {f}<&-; done

kill -TERM "$(pid_of e3)"
exits_0 e3 5 "token edge: SIGTERM with idle workers: exit 0 within 5 s"
exec {w1}<&- {w2}<&- {w3}<&- {w4}<&- {w5}<&-

# ------------------------------------------------------ certificates/TLS
st=$(exit_status timeout 10 "$PTTH" serve -l 127.0.0.1:0 \
    --tls-cert "$TMP/missing.pem" --tls-key "$TMP/missing.key")
is "$st" 3 "--tls-cert with a missing file: exit 3"

if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/openssl.log" 2>&1; then
    st=$(exit_status timeout 10 "$PTTH" serve -l 127.0.0.1:0 \
        --tls-cert "$TMP/cert.pem" --tls-key "$TMP/missing.key")
    is "$st" 3 "--tls-key with a missing file: exit 3"
    printf 'not a certificate\n' >"$TMP/junk.pem"
    st=$(exit_status timeout 10 "$PTTH" serve -l 127.0.0.1:0 \
        --tls-cert "$TMP/junk.pem" --tls-key "$TMP/key.pem")
    is "$st" 3 "--tls-cert that is not a certificate: exit 3"

    start tls "$PTTH" serve -l 127.0.0.1:0 --tls-cert "$TMP/cert.pem" \
        --tls-key "$TMP/key.pem"
    turl=$(wait_ready tls)
    like "$turl" '^https://127\.0\.0\.1:[0-9]+/$' "TLS ready line starts with https://"
    tport=${turl##*:}
    tport=${tport%/}
    tls=(--cacert "$TMP/cert.pem" --resolve "localhost:$tport:127.0.0.1"
        -H 'Host: x.localhost')
    r=$(hget t1 --http1.1 "${tls[@]}" "https://localhost:$tport/")
    is "$r" "404 1.1" "TLS, HTTP/1.1: 404 for an unknown Host"
    like "$(cat "$TMP/t1.b")" 'x\.localhost' "TLS 404 body names the host"
    r=$(hget t2 --http2 "${tls[@]}" "https://localhost:$tport/")
    is "$r" "404 2" "TLS, HTTP/2 by ALPN: 404 for an unknown Host"
    r=$(hget t3 --cacert "$TMP/cert.pem" "$turl")
    ok "the certificate does not cover 127.0.0.1: verification fails ($r)" \
        grep -qi 'certificate\|SSL' "$TMP/t3.err"
    hs_out=$(curl -sS --max-time 10 --http1.1 "${tls[@]}" -o /dev/null \
        -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: ptth' \
        -H 'ALPN: h2' "https://localhost:$tport/.well-known/ptth/?name=Bad_Name" \
        2>/dev/null)
    is "$hs_out" 400 "TLS: handshake refusal works over TLS too"
    kill -TERM "$(pid_of tls)"
    exits_0 tls 5 "TLS edge: SIGTERM: exit 0"
else
    diag "openssl failed:" "$(cat "$TMP/openssl.log")"
    skip 9 "openssl cannot make a certificate"
fi
