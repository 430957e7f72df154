#!/bin/bash
# Edge + worker + origin: requests of every shape through the tunnel (HTTP/1.1,
# HTTP/1.0, h2c), byte-exact large bodies both ways, concurrency, errors
# (502, 504, a worker killed mid-response), reconnection after an edge
# restart, pools, the worker's exit statuses, --exec, unix: upstreams and
# shutdown.
# shellcheck disable=SC1091,SC2154 # testlib.sh, top_srcdir: from make check
. "$top_srcdir/tests/lib/testlib.sh"

: "${ORIGIN:=$(cd "$(dirname "$0")/../.." && pwd)/tests/helpers/origin}"
[ -x "$ORIGIN" ] || skip_all "no origin helper ($ORIGIN)"

plan 142

CURL="curl -sS --max-time 20"

# hget NAME CURL-ARGS...: head in $TMP/NAME.h, body in $TMP/NAME.b; prints
# "CODE VERSION" (VERSION as curl's %{http_version}).
hget() {
    _hn=$1
    shift
    $CURL -D "$TMP/$_hn.h" -o "$TMP/$_hn.b" \
        -w '%{http_code} %{http_version}' "$@" 2>"$TMP/$_hn.err"
}
body() { cat "$TMP/$1.b"; }
# header NAME FIELD: first value of FIELD in $TMP/NAME.h.
header() {
    tr -d '\r' <"$TMP/$1.h" |
        awk -v f="$2" 'BEGIN { f = tolower(f) ":" }
            tolower(substr($0, 1, length(f))) == f {
                v = substr($0, length(f) + 1); sub(/^[ \t]+/, "", v);
                print v; exit }'
}
# echo_field NAME FIELD: first value of FIELD in the /echo body NAME.
echo_field() {
    awk -v f="$2" 'BEGIN { f = tolower(f) ":" }
        /^$/ { exit }
        tolower(substr($0, 1, length(f))) == f {
            v = substr($0, length(f) + 1); sub(/^[ \t]+/, "", v);
            print v; exit }' "$TMP/$1.b"
}

# reap NAME SECS: sets ST to NAME's exit status, or 124 (after SIGKILL)
# when it still runs after SECS (testlib's wait_exit).
reap() {
    wait_exit "$1" "${2:-10}"
    ST=$EXIT_STATUS
}
# exits NAME SECS WANT DESC: NAME exits with WANT within SECS.
exits() {
    reap "$1" "$2"
    is "$ST" "$3" "$4"
    [ "$ST" = "$3" ] || diag "$1 stderr:" "$(tail -n 5 "$TMP/$1.err")"
}

# expose NAME ARGS...: starts a worker; sets WURL to its ready line.
expose() {
    _en=$1
    shift
    start "$_en" "$PTTH" expose "$@"
    WURL=$(wait_ready "$_en" 15)
}

# poll_200 SECS CURL-ARGS...: retries a request every 0.25 s until it gives
# 200 (status 0) or SECS pass (status 1). For waiting on a reconnect, where
# nothing prints a ready line.
poll_200() {
    _pn=$(($1 * 4))
    shift
    while [ "$_pn" -gt 0 ]; do
        _c=$(curl -s --max-time 5 -o "$TMP/poll.b" -w '%{http_code}' "$@")
        [ "$_c" = 200 ] && return 0
        sleep 0.25
        _pn=$((_pn - 1))
    done
    return 1
}

# ----------------------------------------------------------------- setup
start o1 "$ORIGIN" --listen 127.0.0.1:0
ourl=$(wait_ready o1)
oport=${ourl##*:}
oport=${oport%/}
start edge "$PTTH" serve -l 127.0.0.1:0
url=$(wait_ready edge)
port=${url##*:}
port=${port%/}

expose w1 -e "$url" -n site "$oport"
if [ -z "$WURL" ]; then
    echo "Bail out! ptth expose printed no URL: $(tail -n 3 "$TMP/w1.err")"
    exit 1
fi
is "$WURL" "http://site.localhost:$port/" "expose prints http://site.localhost:PORT/"
surl=$WURL
H=(-H 'Host: site.localhost')
R=(--resolve "site.localhost:$port:127.0.0.1")
# libcurl is loaded at run time by expose and connect only (curl_dl.c):
# the edge's memory holds none of it or its dependencies.
is "$(hget g0 "${H[@]}" "${url}hello")" "200 1.1" "a first request through"
ok "the worker has libcurl mapped" grep -q 'libcurl' "/proc/$(pid_of w1)/maps"
nok "the edge, after serving through it, has not" \
    grep -q 'libcurl\|libcrypto\|libgnutls' "/proc/$(pid_of edge)/maps"

# ---------------------------------------------------- basic methods
r=$(hget g1 "${H[@]}" "${url}hello")
is "$r $(body g1)" "200 1.1 hello" "GET with Host: site.localhost"
r=$(hget g2 "${R[@]}" "${surl}hello")
is "$r $(body g2)" "200 1.1 hello" "GET on the printed URL (--resolve)"
r=$(hget hd "${R[@]}" -I "${surl}bytes/1000")
is "$r" "200 1.1" "HEAD: 200"
is "$(header hd content-length)" 1000 "HEAD: Content-Length of the GET"
ok "HEAD: no body" cmp -s "$TMP/hd.b" "$TMP/hd.h"
r=$(hget p1 "${R[@]}" --data-binary 'post body' "${surl}echo")
is "$r" "200 1.1" "POST /echo: 200"
like "$(head -n 1 "$TMP/p1.b")" '^METHOD POST$' "POST /echo: the method"
is "$(tail -n 1 "$TMP/p1.b")" "post body" "POST /echo: the body"
printf 'put body\n' >"$TMP/put.txt"
direct=$($CURL -T "$TMP/put.txt" "${ourl}sha256")
r=$(hget p2 "${R[@]}" -T "$TMP/put.txt" "${surl}sha256")
is "$r $(body p2)" "200 1.1 $direct" "PUT /sha256: same checksum as direct"
r=$(hget dl "${R[@]}" -X DELETE "${surl}echo")
like "$r $(head -n 1 "$TMP/dl.b")" '^200 1\.1 METHOD DELETE$' "DELETE passes through"
r=$(hget st "${R[@]}" "${surl}status/418")
is "$r $(body st)" "418 1.1 status 418" "an upstream 418 passes through"
r=$(hget nc "${R[@]}" "${surl}status/204")
is "$r $(wc -c <"$TMP/nc.b")" "204 1.1 0" "an upstream 204 passes through"
r=$(hget nf "${R[@]}" "${surl}nowhere")
is "$r $(body nf)" "404 1.1 not found" "an upstream 404 passes through"
r=$(hget tr "${R[@]}" "${surl}trailers")
is "$r $(body tr)" "200 1.1 trailers" "a chunked response with trailers"
# Response trailers reach the client (curl writes them after the head);
# the fields a trailer's Connection names are dropped, and a trailer
# section naming more than 16 options is dropped whole (ptth-expose(1)).
r=$(hget trh2 --http2-prior-knowledge "${R[@]}" "${surl}trailers")
is "$r $(body trh2) $(header trh2 x-trailer)" "200 2 trailers yes" \
    "h2: the trailer reaches the client"
r=$(hget trh1 "${R[@]}" -H 'TE: trailers' "${surl}trailers")
is "$r $(body trh1) $(header trh1 x-trailer)" "200 1.1 trailers yes" \
    "HTTP/1.1 with TE: trailers: the trailer reaches the client"
r=$(hget trc16 --http2-prior-knowledge "${R[@]}" \
    "${surl}trailers/connopts/16")
is "$r $(body trc16) $(header trc16 x-trailer) [$(header trc16 o1)]" \
    "200 2 trailers yes []" \
    "trailer Connection naming 16 options: o1 dropped, x-trailer kept"
r=$(hget trc17 --http2-prior-knowledge "${R[@]}" \
    "${surl}trailers/connopts/17")
is "$r $(body trc17) [$(header trc17 x-trailer)]" "200 2 trailers []" \
    "trailer Connection naming 17 options: the section dropped, body whole"
r=$(hget eh "${R[@]}" "${surl}early-hints")
is "$r $(body eh)" "200 1.1 hints" "103 Early Hints then 200"
r=$(hget cl "${R[@]}" "${surl}close")
is "$r" "502 1.1" "the upstream closes without a response: 502"

# A bad chunk after a good head that already went to the worker: 400 (the
# response has not started: /sha256 answers after the whole body), one
# response, a close, and the request behind it is never answered.
printf '%b' 'POST /sha256 HTTP/1.1\r\nHost: site.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\nGET /hello HTTP/1.1\r\nHost: site.localhost\r\n\r\n' \
    >"$TMP/badchunk.req"
timeout 5 socat -t 30 - "TCP:127.0.0.1:$port,shut-none" <"$TMP/badchunk.req" \
    >"$TMP/badchunk.resp" 2>/dev/null
closed=$?
is "$(head -n 1 "$TMP/badchunk.resp" | tr -d '\r')" "HTTP/1.1 400 Bad Request" \
    "a bad chunk in a body bound for a tunnel: 400"
is "$(grep -c '^HTTP/1\.1 ' "$TMP/badchunk.resp") $closed" "1 0" \
    "... one response, then the edge closes"
nok "... the request behind it is not answered" grep -q '^hello' "$TMP/badchunk.resp"

# ---------------------------------------------------- what the origin sees
r=$(hget e1 --path-as-is "${R[@]}" "${surl}echo/a%20b/../c?x=%2F")
is "$(sed -n 2p "$TMP/e1.b")" 'TARGET /echo/a%20b/../c?x=%2F' \
    "the path and query arrive byte-exact"
is "$(echo_field e1 host)" "site.localhost:$port" "the origin sees the public Host"
is "$(echo_field e1 x-forwarded-for)" 127.0.0.1 "X-Forwarded-For: 127.0.0.1"
is "$(echo_field e1 x-forwarded-proto)" http "X-Forwarded-Proto: http"
is "$(echo_field e1 x-forwarded-host)" "site.localhost:$port" "X-Forwarded-Host"
like "$(echo_field e1 forwarded)" \
    "^for=\"?127\.0\.0\.1\"?;host=\"?site\.localhost:$port\"?(;proto=http)?\$" \
    "Forwarded: for=127.0.0.1;host=..."
# A client's own forwarding fields: earlier hops kept first in one field,
# Proto and Host replaced.
r=$(hget e3 "${R[@]}" -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: bank' \
    -H 'X-Forwarded-For: 1.2.3.4' -H 'Forwarded: for=9.9.9.9' "${surl}echo")
is "$(grep -ci '^x-forwarded-\|^forwarded' "$TMP/e3.b") $(echo_field e3 x-forwarded-proto) $(echo_field e3 x-forwarded-host)" \
    "4 http site.localhost:$port" "spoofed X-Forwarded-Proto/-Host replaced, one field each"
is "$(echo_field e3 x-forwarded-for)" "1.2.3.4, 127.0.0.1" \
    "X-Forwarded-For: earlier hops, then the client"
like "$(echo_field e3 forwarded)" '^for=9\.9\.9\.9, for="?127\.0\.0\.1' \
    "Forwarded: earlier hops, then this one"
r=$(hget e2 "${R[@]}" -H 'Connection: X-Req-Hop' -H 'X-Req-Hop: 1' \
    -H 'Keep-Alive: timeout=5' -H 'X-Req-Kept: yes' -H 'TE: trailers' \
    -H 'Proxy-Connection: keep-alive' "${surl}echo")
is "$(echo_field e2 x-req-kept)" yes "request: an end-to-end header is kept"
is "$(echo_field e2 x-req-hop)$(echo_field e2 keep-alive)$(echo_field e2 proxy-connection)" \
    "" "request: hop-by-hop headers (Connection-named, Keep-Alive, Proxy-Connection) are stripped"
r=$(hget hh "${R[@]}" "${surl}headers")
is "$r $(body hh)" "200 1.1 headers" "/headers: 200"
is "$(header hh x-kept)" yes "response: X-Kept is kept"
is "$(header hh x-hop)$(header hh keep-alive)" "" \
    "response: X-Hop (named in Connection) and Keep-Alive are stripped"
# Connection may name at most 16 options (hdr.h HDR_MAX_CONN_OPTS): the
# edge read the whole Connection value again for every field, 2 ms of CPU
# for one 49 KB request head of 95 fields and 7000 options.
opts=$(seq -f 'o%g' 1 15 | paste -sd, -)
r=$(hget c16 "${R[@]}" -H "Connection: $opts, X-Req-Hop" -H 'X-Req-Hop: 1' \
    -H 'o7: 1' -H 'X-Req-Kept: yes' "${surl}echo")
is "$r $(echo_field c16 x-req-kept)$(echo_field c16 x-req-hop)$(echo_field c16 o7)" \
    "200 1.1 yes" "Connection naming 16 options: 200, the named fields stripped"
r=$(hget c17 "${R[@]}" -H "Connection: $opts, X-Req-Hop, o16" "${surl}echo")
is "$r $(head -c 15 "$TMP/c17.b")" "400 1.1 400 Bad Request" \
    "Connection naming 17 options: 400"
r=$(hget co15 "${R[@]}" "${surl}connopts/15")
is "$r $(body co15) [$(header co15 o1)] $(header co15 x-kept)" \
    "200 1.1 connopts [] yes" \
    "response: Connection naming 16 options (close, o1..o15): o1 stripped"
# Request heads HTTP/1.1 allows that HTTP/2 would not carry as they are:
# a Content-Length list of equal values goes on as one number (it got
# 502), and an absolute-form target with a query but no path is routed by
# its host (it was looked up as 'site.localhost?x=1': 404 from the edge).
r=$(printf 'POST /echo HTTP/1.1\r\nHost: site.localhost\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\nabc' |
    timeout 10 socat -t 10 - "TCP:127.0.0.1:$port" | tr -d '\r')
like "$(printf '%s' "$r" | head -n 1) $(printf '%s' "$r" | grep -ci '^content-length: 3$')" \
    '^HTTP/1.1 200 OK 1$' "Content-Length: 3, 3 goes on as one Content-Length: 3"
r=$(hget absq -H 'Host: site.localhost' --request-target "http://site.localhost?x=1" "$url")
is "$r $(body absq)" "404 1.1 not found" \
    "absolute-form http://site.localhost?x=1: routed to the tunnel (the origin's 404)"
# 100 fields at most over HTTP/2 as over HTTP/1.1 (ptth-serve(1): 431);
# h2 took up to 200, and the forwarding fields were silently left out of
# a list that was full.
hs=(-H 'User-Agent:' -H 'Accept:')
for i in $(seq 1 100); do hs+=(-H "x-f$i: v"); done
r=$(hget f100 --http2-prior-knowledge "${R[@]}" "${hs[@]}" "${surl}echo")
is "$r $(echo_field f100 x-f100) $(echo_field f100 x-forwarded-proto)" \
    "200 2 v http" "h2: 100 fields: 200, forwarding fields added"
r=$(hget f101 --http2-prior-knowledge "${R[@]}" "${hs[@]}" -H 'x-f101: v' \
    "${surl}echo")
is "$r" "431 2" "h2: 101 fields: 431"
# A head over 64 KiB over HTTP/2 (curl and nghttp refuse to send one, so
# h2big.py builds the frames): 431 when it is made of fields nghttp2 can
# decode, GOAWAY(COMPRESSION_ERROR) for one field over 64 KiB.
if command -v python3 >/dev/null; then
    r=$(timeout 20 python3 "$top_srcdir/tests/helpers/h2big.py" "$port" \
        site.localhost 40000,40000 | tr '\n' ' ')
    like "$r" '^HEADERS 1 DATA 1 431 Request Header Fields Too Large' \
        "h2: two fields of 40000 bytes: 431"
    r=$(timeout 20 python3 "$top_srcdir/tests/helpers/h2big.py" "$port" \
        site.localhost 70000 | tr '\n' ' ')
    is "$r" "GOAWAY 9 " \
        "h2: one field of 70000 bytes: GOAWAY COMPRESSION_ERROR"
    # A head that fits but leaves no room for the forwarding fields: 431,
    # not a request forwarded without them; one a little smaller reaches
    # the origin (its /echo answers).
    r=$(timeout 20 python3 "$top_srcdir/tests/helpers/h2big.py" "$port" \
        site.localhost 32720,32720 | tr '\n' ' ')
    like "$r" '^HEADERS 1 DATA 1 431 .*: no room left in the req' \
        "h2: 65446 bytes of fields, no room for Forwarded: 431"
    r=$(timeout 20 python3 "$top_srcdir/tests/helpers/h2big.py" "$port" \
        site.localhost 32600,32600 /echo | tr '\n' ' ')
    like "$r" '^HEADERS 1 DATA 1 METHOD GET TARGET /echo' \
        "h2: 65206 bytes of fields: forwarded to the origin"
else
    skip 4 "python3 is needed for h2big.py"
fi
# A Content-Length beside Transfer-Encoding (RFC 9112 6.3) and one on a
# 204 are dropped: passed on, they cut the body short (curl exit 18) or
# got the response refused (502).
r=$(hget clte "${R[@]}" "${surl}clte")
is "$r $(body clte) [$(header clte content-length)]" "200 1.1 ok []" \
    "origin sends Content-Length and chunked: the chunked body, no length"
r=$(hget clte2 "${R[@]}" --http2-prior-knowledge "${surl}clte")
is "$r $(body clte2)" "200 2 ok" "... over h2c too"
r=$(hget n204 "${R[@]}" "${surl}204cl")
is "$r [$(header n204 content-length)]" "204 1.1 []" \
    "origin sends a 204 with Content-Length: 204, no length"
r=$(hget co16 "${R[@]}" "${surl}connopts/16")
like "$r $(body co16)" '^502 1.1 502 Bad Gateway: .*too many options' \
    "response: Connection naming 17 options: 502"

# ---------------------------------------------------- big bodies
big=100000000
want=$($CURL "${ourl}bytes/$big" | sha256sum)
for route in bytes chunked; do
    got=$($CURL "${R[@]}" "${surl}$route/$big" | sha256sum)
    st=${PIPESTATUS[0]}
    is "$st $got" "0 $want" "100 MB download, $route: byte-exact"
done
got=$($CURL --http2-prior-knowledge "${R[@]}" "${surl}bytes/$big" | sha256sum)
is "$got" "$want" "100 MB download over h2c: byte-exact"

head -c 20000000 /dev/urandom >"$TMP/up.bin"
direct=$($CURL -T "$TMP/up.bin" "${ourl}sha256")
like "$direct" '^length=20000000 fnv1a64=[0-9a-f]{16}$' "direct 20 MB upload checksum"
got=$($CURL "${R[@]}" -T "$TMP/up.bin" "${surl}sha256")
is "$got" "$direct" "20 MB upload with Content-Length (and Expect: 100-continue)"
got=$($CURL "${R[@]}" -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/up.bin" \
    "${surl}sha256")
is "$got" "$direct" "20 MB chunked upload"
got=$($CURL "${R[@]}" -H 'Expect:' -T "$TMP/up.bin" "${surl}sha256")
is "$got" "$direct" "20 MB upload without Expect"
got=$($CURL --http2-prior-knowledge "${R[@]}" --data-binary "@$TMP/up.bin" \
    "${surl}sha256")
is "$got" "$direct" "20 MB upload over h2c"

# ---------------------------------------------------- h2c and HTTP/1.0
r=$(hget h2g --http2-prior-knowledge "${R[@]}" "${surl}hello")
is "$r $(body h2g)" "200 2 hello" "h2c GET"
r=$(hget h2p --http2-prior-knowledge "${R[@]}" --data-binary 'h2 body' "${surl}echo")
is "$r $(tail -n 1 "$TMP/h2p.b")" "200 2 h2 body" "h2c POST"
is "$(echo_field h2p host)" "site.localhost:$port" "h2c: :authority becomes the Host"
r=$(hget h10 -0 "${R[@]}" "${surl}hello")
is "$r $(body h10)" "200 1.1 hello" "HTTP/1.0 client GET (answered as HTTP/1.1)"
r=$(hget h10c -0 "${R[@]}" "${surl}chunked/100000")
$CURL "${ourl}bytes/100000" -o "$TMP/direct100k"
ok "HTTP/1.0 client, chunked upstream response: body intact ($r)" \
    cmp -s "$TMP/h10c.b" "$TMP/direct100k"
nok "HTTP/1.0 client gets no Transfer-Encoding" grep -qi '^transfer-encoding' "$TMP/h10c.h"
r=$(hget h10p -0 "${R[@]}" --data-binary 'ten' "${surl}echo")
is "$r $(tail -n 1 "$TMP/h10p.b")" "200 1.1 ten" "HTTP/1.0 client POST"

# ---------------------------------------------------- concurrency
: >"$TMP/par.cfg"
for i in $(seq 1 200); do
    printf 'url = "%secho/%d"\noutput = "%s/par.%d"\n' "$surl" "$i" "$TMP" "$i" \
        >>"$TMP/par.cfg"
done
curl -sS --max-time 40 --parallel --parallel-immediate --parallel-max 200 \
    "${R[@]}" -w '%{http_code}\n' -K "$TMP/par.cfg" >"$TMP/par.codes" \
    2>"$TMP/par.err"
is "$(grep -c '^200$' "$TMP/par.codes")" 200 "200 concurrent HTTP/1.1 requests: all 200"
bad=0
for i in $(seq 1 200); do
    [ "$(sed -n 2p "$TMP/par.$i" 2>/dev/null)" = "TARGET /echo/$i" ] || bad=$((bad + 1))
done
is "$bad" 0 "200 concurrent requests: each got its own answer"
# Multiplexed: 100 streams on one h2c connection. nghttp, not curl: curl
# 7.88's --parallel with --http2-prior-knowledge fails its own second
# transfer on a reused connection (curl/curl#10634, fixed in 8.0).
if command -v nghttp >/dev/null 2>&1; then
    set --
    for i in $(seq 1 100); do set -- "$@" "${url}echo/h2-$i"; done
    timeout 30 nghttp -v -H ':authority: site.localhost' "$@" \
        >"$TMP/nghttp.out" 2>&1
    is "$(grep -c ' recv (stream_id=[0-9]*) :status: 200' "$TMP/nghttp.out")" 100 \
        "100 streams on one h2c connection (nghttp): all 200"
    # Bodies from a run without -v: frame traces may split a body line.
    timeout 30 nghttp -H ':authority: site.localhost' "$@" \
        >"$TMP/nghttp.body" 2>&1
    bad=0
    for i in $(seq 1 100); do
        [ "$(grep -c "^TARGET /echo/h2-$i\$" "$TMP/nghttp.body")" = 1 ] || bad=$((bad + 1))
    done
    is "$bad" 0 "100 h2c streams: each got its own answer"
else
    skip 2 "nghttp not installed"
fi
# The worker keeps its upstream connections between bursts: a second
# burst of 32 at a time finds 32 open. (libcurl's default cache limit,
# four per running transfer, closed all but four as the first one ended.)
accepted() { $CURL "${R[@]}" "${surl}accepted" | awk '{ print $2 }'; }
burst() {
    timeout 60 h2load -n 2000 -c 1 -m 32 -H ':authority: site.localhost' \
        "${url}hello" >"$TMP/reuse.out" 2>&1
    grep '^status codes:' "$TMP/reuse.out"
}
if command -v h2load >/dev/null 2>&1; then
    like "$(burst)" '2000 2xx' "2000 requests, 32 at a time: all 2xx"
    a0=$(accepted)
    like "$(burst)" '2000 2xx' "the same again: all 2xx"
    n=$(($(accepted) - a0))
    ok "... over the upstream connections the first burst opened ($n new)" \
        test "$n" -le 2
else
    skip 3 "h2load not installed"
fi

# ---------------------------------------------------- errors: 502, 504
start o9 "$ORIGIN" --listen 127.0.0.1:0
u9=$(wait_ready o9)
p9=${u9##*:}
p9=${p9%/}
kill "$(pid_of o9)"
reap o9 5
expose wdown -e "$url" -n down "$p9"
r=$(hget dn -H 'Host: down.localhost' "${url}hello")
is "$r" "502 1.1" "upstream not running: 502"
expose wslow -e "$url" -n slow --timeout 1 "$oport"
r=$(hget sl -H 'Host: slow.localhost' "${url}slow/3000")
is "$r" "504 1.1" "upstream slower than expose --timeout 1: 504"
r=$(hget sl2 -H 'Host: slow.localhost' "${url}slow/100")
is "$r $(body sl2)" "200 1.1 slow" "a response within --timeout still passes"

# ---------------------------------------------------- worker killed mid-response
# killed_mid NAME ROUTE [CURL-ARGS]: a worker of its own, killed with SIGKILL
# once 1 MB of a 200 MB response arrived; curl must not report success.
killed_mid() {
    _kn=$1
    _kr=$2
    shift 2
    expose "$_kn" -e "$url" -n "$_kn" "$oport"
    curl -sS --max-time 30 --limit-rate 20M "$@" -H "Host: $_kn.localhost" \
        -o "$TMP/$_kn.bin" "${url}$_kr/200000000" 2>"$TMP/$_kn.curl" &
    _cp=$!
    track "$_cp"
    _i=0
    while [ "$_i" -lt 200 ] &&
        [ "$(stat -c %s "$TMP/$_kn.bin" 2>/dev/null || echo 0)" -lt 1000000 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    kill -KILL "$(pid_of "$_kn")"
    wait "$_cp"
    _cs=$?
    _sz=$(stat -c %s "$TMP/$_kn.bin" 2>/dev/null || echo 0)
    if [ "$_cs" -ne 0 ] && [ "$_sz" -lt 200000000 ]; then
        _tap_result 0 "worker killed mid-response ($_kr $*): curl fails ($_cs, $_sz bytes)"
    else
        _tap_result 1 "worker killed mid-response ($_kr $*): curl fails"
        diag "curl exit $_cs after $_sz bytes" "$(cat "$TMP/$_kn.curl")"
    fi
}
killed_mid kill1 bytes
killed_mid kill2 chunked
killed_mid kill3 bytes --http2-prior-knowledge
r=$(hget after "${R[@]}" "${surl}hello")
is "$r $(body after)" "200 1.1 hello" "other tunnels are unaffected"

# ---------------------------------------------------- TARGET forms
start ou "$ORIGIN" --unix "$TMP/origin.sock"
ok "unix origin ready" test "$(wait_ready ou)" = "unix:$TMP/origin.sock"
expose wunix -e "$url" -n unixy "unix:$TMP/origin.sock"
r=$(hget ux -H 'Host: unixy.localhost' "${url}echo")
is "$r $(sed -n 1p "$TMP/ux.b")" "200 1.1 METHOD GET" "unix:PATH upstream"
is "$(echo_field ux host)" "unixy.localhost" "unix:PATH upstream sees the public Host"
expose whp -e "$url" -n hostport "127.0.0.1:$oport"
r=$(hget hp -H 'Host: hostport.localhost' "${url}hello")
is "$r $(body hp)" "200 1.1 hello" "HOST:PORT upstream"
expose wurl -e "$url" -n prefix "http://127.0.0.1:$oport/echo"
r=$(hget px -H 'Host: prefix.localhost' "${url}x?y=1")
is "$r $(sed -n 2p "$TMP/px.b")" "200 1.1 TARGET /echo/x?y=1" \
    "http URL upstream: its path is a prefix"
expose wrand -e "$url" "$oport"
like "$WURL" "^http://[a-z0-9]+\.localhost:$port/\$" "without -n: a random name"
rand_url=$WURL
rname=${WURL#http://}
rname=${rname%%.*}
r=$(hget rn -H "Host: $rname.localhost" "${url}hello")
is "$r $(body rn)" "200 1.1 hello" "the random name serves"

# ---------------------------------------------------- drain on SIGTERM
# A worker of its own with an origin of its own: the request is in flight
# once that origin has a connection (polled with ss, bounded).
start o3 "$ORIGIN" --listen 127.0.0.1:0
o3url=$(wait_ready o3)
o3port=${o3url##*:}
o3port=${o3port%/}
expose wdrain -e "$url" -n drain "$o3port"
$CURL -H 'Host: drain.localhost' -o "$TMP/drain.b" -w '%{http_code}' \
    "${url}slow/1500" >"$TMP/drain.code" 2>"$TMP/drain.err" &
dp=$!
track "$dp"
i=0
while [ "$i" -lt 100 ] &&
    [ -z "$(ss -Htn state established "( sport = :$o3port )" 2>/dev/null)" ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -TERM "$(pid_of wdrain)"
wait "$dp"
is "$(cat "$TMP/drain.code") $(body drain)" "200 slow" \
    "SIGTERM to expose: the request in flight finishes"
exits wdrain 10 0 "SIGTERM to expose during a request: exit 0"
kill -TERM "$(pid_of w1)"
exits w1 10 0 "SIGTERM to an idle expose: exit 0"
is "$(wc -l <"$TMP/w1.out")" 1 "expose printed only its URL on stdout"
like "$(cat "$TMP/w1.err")" "forwarding http://site\.localhost:$port/ -> " \
    "expose said 'forwarding URL -> TARGET' on stderr"

# Worker connection lost before the response head: 502.
command -v ss >/dev/null || diag "ss (iproute2) is missing: the in-flight waits below cannot see the request"
expose wk502 -e "$url" -n lost "$o3port"
$CURL -H 'Host: lost.localhost' -o /dev/null -w '%{http_code}' \
    "${url}slow/5000" >"$TMP/lost.code" 2>/dev/null &
lp=$!
track "$lp"
i=0
while [ "$i" -lt 100 ] &&
    [ -z "$(ss -Htn state established "( sport = :$o3port )" 2>/dev/null)" ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -KILL "$(pid_of wk502)"
wait "$lp"
is "$(cat "$TMP/lost.code")" 502 "worker killed before the response head: 502"
reap wk502 5

# ---------------------------------------------------- edge restart
# SIGTERM to the edge with a request in flight (an origin of its own again,
# polled with ss): the request finishes, then the edge exits 0.
start o4 "$ORIGIN" --listen 127.0.0.1:0
o4url=$(wait_ready o4)
o4port=${o4url##*:}
o4port=${o4port%/}
expose wedge -e "$url" -n edgedrain "$o4port"
$CURL -H 'Host: edgedrain.localhost' -o "$TMP/edrain.b" -w '%{http_code}' \
    "${url}slow/1500" >"$TMP/edrain.code" 2>/dev/null &
ep=$!
track "$ep"
i=0
while [ "$i" -lt 100 ] &&
    [ -z "$(ss -Htn state established "( sport = :$o4port )" 2>/dev/null)" ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -TERM "$(pid_of edge)"
wait "$ep"
is "$(cat "$TMP/edrain.code") $(body edrain)" "200 slow" \
    "SIGTERM to the edge: the request in flight finishes"
exits edge 12 0 "SIGTERM to the edge with workers connected: exit 0"
start edge2 "$PTTH" serve -l "127.0.0.1:$port"
is "$(wait_ready edge2)" "$url" "the edge restarts on the same port"
ok "after the restart the worker is back under the same URL" \
    poll_200 30 -H 'Host: hostport.localhost' "${url}hello"
ok "the random-name worker is back under the same URL" \
    poll_200 30 -H "Host: $rname.localhost" "${url}hello"
is "$(wc -l <"$TMP/wrand.out") $(head -n 1 "$TMP/wrand.out")" "1 $rand_url" \
    "a reconnect prints no new URL"
# ... but stderr, which said the link was lost, says it is back.
wait_log "$TMP/wrand.err" "reconnected: forwarding $rand_url -> " 10
ok "a reconnect is said on stderr at the default level" \
    grep -qF "reconnected: forwarding $rand_url -> " "$TMP/wrand.err"

# ---------------------------------------------------- tokens, pools, exits
printf 'tok-one\ntok-two\n' >"$TMP/tokens"
printf 'tok-one\n' >"$TMP/tok1"
start et "$PTTH" serve -l 127.0.0.1:0 --token-file "$TMP/tokens"
eurl=$(wait_ready et)
start o2 "$ORIGIN" --listen 127.0.0.1:0
o2url=$(wait_ready o2)
o2port=${o2url##*:}
o2port=${o2port%/}
# Two workers, same name and token, told apart by TARGET: the second adds
# the prefix /echo, so /echo reaches it as /echo/echo.
expose pool1 -e "$eurl" -n pool --token-file "$TMP/tok1" "127.0.0.1:$oport"
like "$WURL" '^http://pool\.localhost:[0-9]+/$' "pool worker 1 up"
PTTH_TOKEN=tok-one expose pool2 -e "$eurl" -n pool "http://127.0.0.1:$o2port/echo"
is "$WURL" "$(head -n 1 "$TMP/pool1.out")" "pool worker 2 (PTTH_TOKEN) gets the same URL"
n1=0
n2=0
for i in $(seq 1 20); do
    t=$($CURL -H 'Host: pool.localhost' "${eurl}echo" | sed -n 2p)
    case $t in
    "TARGET /echo") n1=$((n1 + 1)) ;;
    "TARGET /echo/echo") n2=$((n2 + 1)) ;;
    esac
done
is "$((n1 + n2))" 20 "pool: 20 requests, 20 answers"
ok "pool: both workers answered ($n1 + $n2)" test "$n1" -gt 0 -a "$n2" -gt 0
st=$(exit_status timeout 20 "$PTTH" expose -e "$eurl" -n pool --token wrong "$oport")
is "$st" 6 "wrong token: expose exits 6"
is "$(cat "$TMP/last.out")" "" "wrong token: nothing on stdout"
st=$(exit_status timeout 20 "$PTTH" expose -e "$eurl" -n pool "$oport")
is "$st" 6 "no token for a token edge: expose exits 6"
st=$(exit_status timeout 20 "$PTTH" expose -e "$eurl" -n pool --token tok-two "$oport")
is "$st" 7 "name held under another token: expose exits 7"
like "$(cat "$TMP/last.err")" 'pool' "the conflict names the name"

start o8 "$ORIGIN" --listen 127.0.0.1:0
u8=$(wait_ready o8)
p8=${u8##*:}
p8=${p8%/}
kill "$(pid_of o8)"
reap o8 5
st=$(exit_status timeout 30 "$PTTH" expose -e "http://127.0.0.1:$p8" -n x \
    --retries 2 "$oport")
is "$st" 4 "--retries 2 against a closed port: exit 4"
# An edge that accepts the handshake, then drops the connection at once:
# each such connection is a failed attempt (backoff, --retries), not a
# link that was up. It used to be reconnected to in a tight loop (60,000
# times in 5 s) and --retries never ran out.
FE=(python3 "$top_srcdir/tests/helpers/fake_edge.py")
if command -v python3 >/dev/null; then
    start fe "${FE[@]}" --url http://x.localhost/
    fport=$(wait_ready fe 10)
    st=$(exit_status timeout 30 "$PTTH" expose -e "http://127.0.0.1:$fport" \
        -n x --retries 2 "$oport")
    is "$st" 4 "--retries 2 against an edge that drops each link at once: exit 4"
    is "$(grep -c 'lost the edge' "$TMP/last.err")" 2 \
        "... after 3 attempts, the first two logged as lost links"
    kill "$(pid_of fe)"
    # The public URL is printed for scripts: one that is not a URL is a
    # failed handshake, not a line to print.
    start fe2 "${FE[@]}" --url 'http://x.localhost/ rm -rf'
    fport=$(wait_ready fe2 10)
    st=$(exit_status timeout 30 "$PTTH" expose -e "http://127.0.0.1:$fport" \
        -n x --retries 0 "$oport")
    is "$st:$(cat "$TMP/last.out")" 4: \
        "a Ptth-Public-Url with a blank: exit 4, nothing on stdout"
    like "$(cat "$TMP/last.err")" 'Ptth-Public-Url that is not a URL' "... says why"
    kill "$(pid_of fe2)"
    # A 101 must name h2 in ALPN and carry Connection: Upgrade (SPEC 4,
    # PTTH-01); anything else is a failed handshake, not a tunnel.
    n=0
    for c in "Connection: Upgrade|Upgrade: ptth=without ALPN: h2" \
        "Connection: Upgrade|Upgrade: ptth|ALPN: http%2F1.1=without ALPN: h2" \
        "Upgrade: ptth|ALPN: h2=without Connection: Upgrade"; do
        n=$((n + 1))
        f=${c%%=*}
        start "fe3$n" "${FE[@]}" --url http://x.localhost/ --fields "$f"
        fport=$(wait_ready "fe3$n" 10)
        st=$(exit_status timeout 30 "$PTTH" expose \
            -e "http://127.0.0.1:$fport" -n x --retries 0 "$oport")
        is "$st:$(cat "$TMP/last.out"):$(grep -c "${c#*=}" "$TMP/last.err")" \
            4::1 "a 101 with only '$f': exit 4, nothing on stdout, '${c#*=}'"
        kill "$(pid_of "fe3$n")"
    done
    # SIGTERM with nothing in flight, against an edge that keeps its side
    # open after our GOAWAY: exit 0 after a short linger, not after the
    # whole --grace (it took 30 s here).
    start fe4 "${FE[@]}" --url http://x.localhost/ --hold
    fport=$(wait_ready fe4 10)
    start wl "$PTTH" expose -e "http://127.0.0.1:$fport" -n x --grace 30 \
        "$oport"
    wait_ready wl 10 >/dev/null
    kill -TERM "$(pid_of wl)"
    exits wl 5 0 "SIGTERM, idle, the edge never closes: exit 0 within 5 s"
    kill "$(pid_of fe4)"
else
    skip 8 "python3 is needed for the fake edge"
fi
# A 503 with Retry-After: the worker waits that long (at most 30 s) before
# the next attempt, rather than its own backoff of about half a second.
if command -v python3 >/dev/null; then
    start fe6 "${FE[@]}" --status '503 Service Unavailable' \
        --fields 'Retry-After: 2|Content-Length: 0|Connection: close'
    fport=$(wait_ready fe6 10)
    st=$(exit_status timeout 30 "$PTTH" expose -e "http://127.0.0.1:$fport" \
        -n x --retries 1 "$oport")
    is "$st" 4 "503 twice with --retries 1: exit 4"
    like "$(cat "$TMP/last.err")" '503 Service Unavailable; retrying in 2\.[0-5] s' \
        "503 with Retry-After: 2: the next attempt in 2 to 2.5 s"
    kill "$(pid_of fe6)"
else
    skip 2 "python3 is needed for the fake edge"
fi
# TLS: a failed handshake exits 5 at once (SPEC 3.5), but a TLS error on a
# connection whose handshake was done is a lost connection (it exited 5).
if command -v python3 >/dev/null && python3 -c 'import ssl' 2>/dev/null &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj /CN=localhost -keyout "$TMP/fk.pem" \
        -out "$TMP/fc.pem" >"$TMP/openssl.log" 2>&1; then
    start fe5 "${FE[@]}" --tls "$TMP/fc.pem" "$TMP/fk.pem" --garbage
    fport=$(wait_ready fe5 10)
    st=$(exit_status timeout 30 "$PTTH" expose -k \
        -e "https://localhost:$fport" -n x --retries 1 "$oport")
    is "$st" 4 "TLS error after the TLS handshake: failed attempts, exit 4"
    like "$(cat "$TMP/last.err")" 'giving up after 2 attempts' "... both counted"
    kill "$(pid_of fe5)"
    st=$(exit_status timeout 30 "$PTTH" expose \
        -e "https://localhost:$port" -n x --retries 3 "$oport")
    is "$st" 5 "an https:// URL for the plain HTTP edge: exit 5 at once"
else
    skip 3 "python3 with ssl and openssl are needed for the TLS fake edge"
fi

# ---------------------------------------------------- --exec
# shellcheck disable=SC2016 # $PTTH_URL is for the command's shell
st=$(exit_status timeout 30 "$PTTH" expose -e "$url" -n ex \
    --exec 'curl -fsS --max-time 10 "$PTTH_URL"hello' "$oport")
is "$st" 0 "--exec curl \$PTTH_URL: exit 0"
ok "--exec: the command's output on stdout" grep -qx hello "$TMP/last.out"
st=$(exit_status timeout 30 "$PTTH" expose -e "$url" -n ex3 --exec 'exit 3' "$oport")
is "$st" 3 "--exec 'exit 3': exit 3"
# shellcheck disable=SC2016
st=$(exit_status timeout 30 "$PTTH" expose -e "$url" -n ex4 \
    --exec 'test "$PTTH_URL" = "http://ex4.localhost:'"$port"'/"' "$oport")
is "$st" 0 "--exec: PTTH_URL is the public URL"

# ---------------------------------------------------- a busy tunnel
# A worker takes 100 streams at a time and the edge queues 256 more for
# it; past that the tunnel is busy: 503 (ptth-serve(1)). 500 slow requests
# at once over 5 h2c connections: 356 answered, the rest 503.
if command -v h2load >/dev/null; then
    expose wbusy -e "$url" -n busy "$oport"
    r=$(timeout 60 h2load -n 500 -c 5 -m 100 -H ':authority: busy.localhost' \
        "${url}slow/3000" 2>&1 | awk '/^status codes:/ { print $3, $9 }')
    ok2=${r% *}
    fail5=${r#* }
    ok "busy tunnel: 356 or more of 500 answered, the rest 503 ($r)" \
        test "${ok2:-0}" -ge 356 -a "${fail5:-0}" -ge 1 -a \
        "$((${ok2:-0} + ${fail5:-0}))" -eq 500
    r=$(hget busy1 -H 'Host: busy.localhost' "${url}hello")
    is "$r $(body busy1)" "200 1.1 hello" "busy tunnel: served again afterwards"
    kill -TERM "$(pid_of wbusy)"
    reap wbusy 10
else
    skip 2 "h2load is needed for the busy tunnel"
fi

# ---------------------------------------------------- -v and -vvv
# -v: the worker writes a line a request. -vvv: HTTP/2 frames and header
# fields on both sides, credentials redacted (ptth(1) SECURITY).
start etr "$PTTH" serve -vvv -l 127.0.0.1:0
trurl=$(wait_ready etr)
expose wtr -vvv -e "$trurl" -n tr "$oport"
r=$($CURL -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3krit-a' \
    -H 'Cookie: s3krit-b=1' -H 'Host: tr.localhost' "${trurl}hello")
is "$r" 200 "-vvv: the request is answered"
wait_log "$TMP/wtr.err" 'request method=GET path=/hello status=200 bytes=6' 10
ok "-v: the worker logs the request line" \
    grep -q 'request method=GET path=/hello status=200 bytes=6 ' "$TMP/wtr.err"
ok "-vvv: the worker traces the HEADERS it received" \
    grep -qE 'T tr: recv HEADERS stream=1 length=[0-9]+ flags=0x05 END_STREAM' \
    "$TMP/wtr.err"
ok "-vvv: the worker traces its response fields" \
    grep -q 'T tr: send stream=1 :status: 200' "$TMP/wtr.err"
ok "-vvv: the edge traces the worker link" \
    grep -qE 'T w[0-9]+: send HEADERS stream=1 ' "$TMP/etr.err"
ok "-vvv: Authorization and Cookie redacted" \
    grep -q 'authorization: \[redacted\]' "$TMP/wtr.err"
nok "-vvv: no credential in either log" grep -q s3krit "$TMP/wtr.err" \
    "$TMP/etr.err"
kill -TERM "$(pid_of wtr)"
reap wtr 10
kill -TERM "$(pid_of etr)"
reap etr 10

# ---------------------------------------------------- the rest shuts down
for w in wdown wslow wunix whp wurl wrand pool1 pool2; do
    kill -TERM "$(pid_of "$w")"
done
bad=
for w in wdown wslow wunix whp wurl wrand pool1 pool2; do
    reap "$w" 10
    [ "$ST" = 0 ] || bad="$bad $w:$ST"
done
is "$bad" "" "every worker exits 0 on SIGTERM"
