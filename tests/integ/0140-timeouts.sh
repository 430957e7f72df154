#!/bin/bash
# Configurable timeouts end to end: `ptth serve --idle-timeout` closes an
# idle HTTP/1.1 keep-alive client, `--ping-interval` drops a worker that
# stops answering PINGs, and `--connect-timeout` (and PTTH_CONNECT_TIMEOUT)
# makes `ptth expose --retries 0` and `ptth connect` give up, exit 4, on an
# edge that accepts TCP but never answers; `ptth expose --ping-interval`
# keeps a live edge and reconnects from one that stops answering. The bounds are generous: each
# one is well below the default the option replaces, so a broken option
# fails the test, while a slow machine does not.
# shellcheck disable=SC1091,SC2154 # testlib.sh, top_srcdir: from make check
. "$top_srcdir/tests/lib/testlib.sh"

command -v socat >/dev/null || skip_all "socat not installed"

plan 54

# elapsed_ms START: milliseconds since START (an $EPOCHREALTIME value).
elapsed_ms() {
    _now=${EPOCHREALTIME/[.,]/}
    _then=${1/[.,]/}
    echo $(((_now - _then) / 1000))
}

# --- --idle-timeout ---------------------------------------------------------

start edge "$PTTH" serve -v -l 127.0.0.1:0 --idle-timeout 1 \
    --ping-interval 0.4
url=$(wait_ready edge) || {
    echo "Bail out! the edge did not start"
    exit 1
}
port=${url##*:}
port=${port%/}

# get_404 FD: sends a request for an unknown host on FD and reads the
# answer (head, then content-length bytes); prints the status line.
get_404() {
    printf 'GET / HTTP/1.1\r\nHost: nosuch.localhost\r\n\r\n' >&"$1"
    _status=''
    _len=0
    while IFS= read -r -t 5 _l <&"$1"; do
        _l=${_l%$'\r'}
        [ -z "$_status" ] && _status=$_l
        case $_l in
        [Cc]ontent-[Ll]ength:*) _len=${_l#*: } ;;
        '') break ;;
        esac
    done
    [ "$_len" -gt 0 ] && read -r -t 5 -N "$_len" _ <&"$1"
    printf '%s\n' "$_status"
}

exec 3<>"/dev/tcp/127.0.0.1/$port"
like "$(get_404 3)" '^HTTP/1.1 404' "idle: first response on a keep-alive connection"
# Not closed at 0.3 s: a read times out (status > 128) instead of EOF (1).
read -r -t 0.3 _ <&3
st=$?
ok "idle: connection still open after 0.3 s (read status $st)" test "$st" -gt 128
like "$(get_404 3)" '^HTTP/1.1 404' "idle: the connection is reused"
t0=$EPOCHREALTIME
read -r -t 10 _ <&3
st=$?
ms=$(elapsed_ms "$t0")
exec 3<&-
is "$st" 1 "idle: the edge closes the idle connection (EOF)"
ok "idle: closed after about 1 s, not before 0.5 s or after 5 s (${ms} ms)" \
    test "$ms" -ge 500 -a "$ms" -le 5000

# A connection that never sends a request head is closed too.
exec 3<>"/dev/tcp/127.0.0.1/$port"
t0=$EPOCHREALTIME
read -r -t 10 _ <&3
st=$?
ms=$(elapsed_ms "$t0")
exec 3<&-
ok "idle: a silent connection is closed within 5 s (status $st, ${ms} ms)" \
    test "$st" = 1 -a "$ms" -le 5000

# --- --idle-timeout: a request body that stops arriving ---------------------

: "${ORIGIN:=$(cd "$(dirname "$0")/../.." && pwd)/tests/helpers/origin}"
start ob "$ORIGIN" --listen 127.0.0.1:0
obport=$(wait_ready ob)
obport=${obport##*:}
obport=${obport%/}
start wb "$PTTH" expose -e "$url" -n body "$obport"
like "$(wait_ready wb 15)" '^http://body\.localhost:' "body: the worker is up"

# HTTP/1.1: 10 of 100 announced bytes, then nothing.
exec 3<>"/dev/tcp/127.0.0.1/$port"
t0=$EPOCHREALTIME
printf 'POST /sha256 HTTP/1.1\r\nHost: body.localhost\r\nContent-Length: 100\r\n\r\n0123456789' >&3
IFS= read -r -t 10 line <&3
ms=$(elapsed_ms "$t0")
like "${line%$'\r'}" '^HTTP/1.1 408' "body: a stalled HTTP/1.1 body is answered 408"
ok "body: 408 after about 1 s, not before 0.5 s or after 5 s (${ms} ms)" \
    test "$ms" -ge 500 -a "$ms" -le 5000
timeout 10 cat <&3 >"$TMP/b408.txt"
st=$?
exec 3<&-
is "$st" 0 "body: the connection is closed after the 408"
like "$(cat "$TMP/b408.txt")" 'request body stopped arriving' \
    "body: the 408 says why"

# HTTP/2: a request and 5 bytes of its body, then nothing. Frames by hand:
# curl and nghttp block reading a stalled upload and stop reading the
# answer. HPACK: POST, http, :path /sha256, :authority body.localhost.
exec 3<>"/dev/tcp/127.0.0.1/$port"
t0=$EPOCHREALTIME
{
    printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
    printf '\0\0\0\4\0\0\0\0\0'
    printf '\0\0\33\1\4\0\0\0\1\203\206\104\7/sha256\101\16body.localhost'
    printf '\0\0\5\0\0\0\0\0\1abcde'
} >&3
timeout 15 cat <&3 >"$TMP/b408h2.bin"
ms=$(elapsed_ms "$t0")
exec 3<&-
ok "body: a stalled h2 body is answered 408" \
    grep -aq '408 Request Timeout: the request body stopped arriving' \
    "$TMP/b408h2.bin"
# RST_STREAM, stream 1, NO_ERROR, once the dropped rest of the body has
# stalled as long again: the stream ends, the connection goes idle.
hex=$(od -An -v -tx1 "$TMP/b408h2.bin" | tr -d ' \n')
like "$hex" '00000403000000000100000000' \
    "body: ... then RST_STREAM(NO_ERROR) ends the stream"
ok "body: h2 connection closed idle within 10 s (${ms} ms)" test "$ms" -le 10000

# An early answer to an h2 upload (here the edge's 404) is a complete
# response: curl must get it, not lose it to a reset (curl 7.88 discards a
# response followed by RST_STREAM while it still uploads: exit 92).
head -c 4000000 /dev/zero >"$TMP/4m"
r=$(curl -sS -m 20 --http2-prior-knowledge -H 'Host: nosuch.localhost' \
    -T "$TMP/4m" -o /dev/null -w '%{http_code}' "$url" 2>"$TMP/early.err")
is "$?:$r" "0:404" "body: a 404 before a 4 MB h2 upload ends reaches curl"

# 40 uploads of 1 MiB on one h2 connection to an origin that reads after
# 2.5 s: the connection window (4 MiB) is full of bytes waiting for the
# worker, so most streams cannot send at all. That is not the clients'
# stall: no 408.
head -c 1048576 /dev/zero >"$TMP/1m"
h2load -n 40 -c 1 -m 40 -d "$TMP/1m" -H ':authority: body.localhost' \
    "${url}sha256/late/2500" >"$TMP/h2load.out" 2>&1
like "$(grep 'status codes:' "$TMP/h2load.out")" ' 40 2xx,' \
    "body: 40 h2 uploads held back by the connection window all get 200"
rm -f "$TMP/4m" "$TMP/1m"

# The same with a client that fills one stream after the other (as a
# simple client would): the first streams stop at their 256 KiB windows
# with the origin not reading, and together they hold the whole 4 MiB
# connection window, so the later streams cannot send a byte. Not their
# stall either. It was, about one run in four: the idle check saw them
# blocked by the window, then an instant after the edge gave window back,
# counted their idle time from that earlier check (408 for the last
# streams). 20 streams of 32 MiB.
if command -v python3 >/dev/null; then
    timeout 60 python3 "$top_srcdir/tests/helpers/h2seq.py" "$port" \
        body.localhost /sha256/late/3000 20 33554432 45 >"$TMP/h2seq.out" \
        2>"$TMP/h2seq.err"
    is "$(awk '$2 == 200' "$TMP/h2seq.out" | wc -l)" 20 \
        "body: 20 h2 uploads sent one after the other all get 200 ($(
            awk '$2 != 200' "$TMP/h2seq.out" | tr '\n' ' '))"
else
    skip 1 "python3 is needed for tests/helpers/h2seq.py"
fi


# A slow body that keeps moving is not idle: 5 pieces 0.4 s apart.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /sha256 HTTP/1.1\r\nHost: body.localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\n' >&3
for piece in ab cd ef gh ij; do
    sleep 0.4 # not readiness: the pace of a slow client
    printf '%s' "$piece" >&3
done
timeout 10 cat <&3 >"$TMP/bslow.txt"
exec 3<&-
like "$(head -n 1 "$TMP/bslow.txt")" '^HTTP/1.1 200' \
    "body: a slow but moving body (2 s in all) is not cut"
like "$(cat "$TMP/bslow.txt")" 'length=10 ' "body: ... and arrives whole"

# A worker that takes its time to read is not the client's fault: the
# origin sleeps 2.5 s before reading 64 MiB; the body waits in buffers.
head -c 67108864 /dev/zero >"$TMP/64m"
r=$(curl -sS -m 30 -H 'Host: body.localhost' -T "$TMP/64m" \
    -w ' %{http_code}' "${url}sha256/late/2500" 2>&1)
like "${r//$'\n'/}" '^length=67108864 .* 200$' \
    "body: a late-reading upstream gets the whole body, no 408"
rm -f "$TMP/64m"
is "$(curl -sS -m 5 -H 'Host: body.localhost' "${url}hello")" hello \
    "body: the tunnel still serves afterwards"
kill -TERM "$(pid_of wb)" 2>/dev/null
wait_exit wb 10

# --- --ping-interval ----------------------------------------------------------

mkdir -p "$TMP/site"
echo hello >"$TMP/site/index.html"
start worker "$PTTH" expose -e "$url" -n pinged "$TMP/site"
wurl=$(wait_ready worker 15)
like "$wurl" '^http://pinged\.localhost:' "ping: the worker is up"
h=(-H "Host: pinged.localhost")
# Five intervals of an answering worker: it must stay.
sleep 2 # not readiness: the time a live worker must survive
is "$(curl -sS -m 5 "${h[@]}" "$url")" hello "ping: an answering worker stays"
nok "ping: no drop logged for an answering worker" \
    grep -q 'no answer to PING' "$TMP/edge.err"

wpid=$(pid_of worker)
kill -STOP "$wpid"
t0=$EPOCHREALTIME
wait_log "$TMP/edge.err" "worker for 'pinged' left: no answer to PING" 10
ms=$(elapsed_ms "$t0")
ok "ping: a stopped worker is dropped (logged)" \
    grep -q "worker for 'pinged' left: no answer to PING" "$TMP/edge.err"
# Dropped between 3 and 4 intervals after its last frame (1.2 to 1.6 s).
ok "ping: dropped within 5 s at --ping-interval 0.4 (${ms} ms)" \
    test "$ms" -le 5000
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "${h[@]}" "$url")
like "$code" '^(404|502)$' "ping: the tunnel no longer answers 200 ($code)"
kill -CONT "$wpid"
kill -TERM "$wpid" 2>/dev/null
wait_exit worker 10

# --- --connect-timeout --------------------------------------------------------

# An "edge" that accepts TCP and reads, but never writes a byte. Not
# started with `start`: it prints nothing on stdout, only its port on
# stderr (socat -d -d: "listening on ... 127.0.0.1:PORT").
socat -d -d -u TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork \
    OPEN:/dev/null,wronly </dev/null >/dev/null 2>"$TMP/mute.err" &
track $!
wait_log "$TMP/mute.err" 'listening on' 10 # socat prints its port there
mport=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/mute.err" |
    head -n 1)
case $mport in
'' | *[!0-9]*)
    echo "Bail out! socat did not print its port: $(cat "$TMP/mute.err")"
    exit 1
    ;;
esac
mute=http://127.0.0.1:$mport

t0=$EPOCHREALTIME
timeout 15 "$PTTH" expose --retries 0 --connect-timeout 1 -e "$mute" \
    "$TMP/site" </dev/null >/dev/null 2>"$TMP/xp.err"
st=$?
ms=$(elapsed_ms "$t0")
is "$st" 4 "expose --connect-timeout 1 --retries 0: exit 4"
like "$(cat "$TMP/xp.err")" 'did not answer the handshake in time' \
    "expose: says the handshake timed out"
ok "expose: gave up within 5 s, default is 10 (${ms} ms)" test "$ms" -le 5000

t0=$EPOCHREALTIME
PTTH_CONNECT_TIMEOUT=1 timeout 15 "$PTTH" connect -e "$mute" box \
    </dev/null >/dev/null 2>"$TMP/cn.err"
st=$?
ms=$(elapsed_ms "$t0")
is "$st" 4 "connect with PTTH_CONNECT_TIMEOUT=1: exit 4"
like "$(cat "$TMP/cn.err")" 'did not answer within 1 s' \
    "connect: names the limit"
ok "connect: gave up within 5 s, default is 10 (${ms} ms)" test "$ms" -le 5000

# --- --timeout 0: no limit on either side -----------------------------------

start o0 "$ORIGIN" --listen 127.0.0.1:0
ourl=$(wait_ready o0)
oport=${ourl##*:}
oport=${oport%/}
start e0 "$PTTH" serve -l 127.0.0.1:0 --timeout 0
url0=$(wait_ready e0)
start w0 "$PTTH" expose -e "$url0" -n nolimit --timeout 0 "$oport"
wait_ready w0 >/dev/null
r=$(curl -sS --max-time 10 -H 'Host: nolimit.localhost' -w ' %{http_code}' \
    "${url0}slow/400" 2>&1)
like "$r" ' 200$' "serve and expose --timeout 0: a slow response is no 504"

# --- expose --ping-interval: the worker PINGs the edge ----------------------

# The edge PINGs its workers only every 20 s (the default), so over these few
# seconds everything a worker hears comes from its own PINGs being answered.
start e2 "$PTTH" serve -l 127.0.0.1:0
url2=$(wait_ready e2)
e2pid=$(pid_of e2)
lost='lost the edge (the edge did not answer PINGs for'

start w2 "$PTTH" expose -e "$url2" -n alive --ping-interval 0.3 "$TMP/site"
like "$(wait_ready w2 15)" '^http://alive\.localhost:' \
    "expose ping: the worker is up"
# Over six intervals a live edge answers every PING: the worker must stay.
sleep 2 # not readiness: the time a live edge must keep its worker
nok "expose ping: no loss logged with a live edge" \
    grep -qF "$lost" "$TMP/w2.err"
is "$(curl -sS -m 5 -H 'Host: alive.localhost' "$url2")" hello \
    "expose ping: the tunnel still answers after 2 s"
kill -TERM "$(pid_of w2)" 2>/dev/null
wait_exit w2 10

start w3 "$PTTH" expose -v -e "$url2" -n frozen --ping-interval 0.4 \
    "$TMP/site"
like "$(wait_ready w3 15)" '^http://frozen\.localhost:' \
    "expose ping: the second worker is up"
# A frozen edge keeps the TCP connection open but answers nothing.
kill -STOP "$e2pid"
t0=$EPOCHREALTIME
wait_log "$TMP/w3.err" "$lost" 5
ms=$(elapsed_ms "$t0")
kill -CONT "$e2pid"
ok "expose ping: a frozen edge is reported lost (logged)" \
    grep -qF "$lost" "$TMP/w3.err"
# Lost between 3 and 4 intervals after the edge's last frame (1.2 to 1.6 s);
# TCP keepalive would take minutes.
ok "expose ping: lost within 5 s at --ping-interval 0.4 (${ms} ms)" \
    test "$ms" -le 5000
wait_log "$TMP/w3.err" 'reconnected: forwarding http://frozen.localhost:' 10
ok "expose ping: the worker reconnects once the edge answers again" \
    grep -q 'reconnected: forwarding http://frozen\.localhost:' "$TMP/w3.err"
is "$(curl -sS -m 5 -H 'Host: frozen.localhost' "$url2")" hello \
    "expose ping: the tunnel answers again after the reconnect"

# --- serve --name-hold: a token's name outlives its last worker --------------

printf 'tok-one\ntok-two\n' >"$TMP/toks"
start eh "$PTTH" serve -vv -l 127.0.0.1:0 --token-file "$TMP/toks"
urlh=$(wait_ready eh)
start wh1 "$PTTH" expose -e "$urlh" --token tok-one -n held "$TMP/site"
hurl=$(wait_ready wh1 15)
like "$hurl" '^http://held\.localhost:' "hold: the worker is up"
kill -KILL "$(pid_of wh1)"
wait_exit wh1 5
ok "hold: the edge saw the worker go" \
    wait_log "$TMP/eh.err" "worker for 'held' left"
is "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'Host: held.localhost' \
    "$urlh")" 404 "hold: a held name without workers answers 404"
st=$(exit_status timeout 15 "$PTTH" expose -e "$urlh" --token tok-two \
    -n held --retries 0 "$TMP/site")
is "$st" 7 "hold: another token cannot take the name meanwhile (exit 7)"
start wh2 "$PTTH" expose -e "$urlh" --token tok-one -n held "$TMP/site"
is "$(wait_ready wh2 15)" "$hurl" "hold: the same token gets the same URL back"
is "$(curl -sS -m 5 -H 'Host: held.localhost' "$urlh")" hello \
    "hold: ... and it serves"
kill -KILL "$(pid_of wh2)"
wait_exit wh2 5
wait_log "$TMP/eh.err" "name 'held' held for its token" >/dev/null
kill -TERM "$(pid_of eh)"
wait_exit eh 5
is "$EXIT_STATUS" 0 "hold: SIGTERM with a held name: exit 0 within 5 s"

start eh2 "$PTTH" serve -vv -l 127.0.0.1:0 --token-file "$TMP/toks" \
    --name-hold 0.5
urlh2=$(wait_ready eh2)
start wh3 "$PTTH" expose -e "$urlh2" --token tok-one -n brief "$TMP/site"
wait_ready wh3 15 >/dev/null
kill -KILL "$(pid_of wh3)"
wait_exit wh3 5
t0=$EPOCHREALTIME
ok "hold: --name-hold 0.5 releases the name" \
    wait_log "$TMP/eh2.err" "name 'brief' released"
ms=$(elapsed_ms "$t0")
ok "hold: released within 5 s (${ms} ms)" test "$ms" -le 5000
start wh4 "$PTTH" expose -e "$urlh2" --token tok-two -n brief "$TMP/site"
like "$(wait_ready wh4 15)" '^http://brief\.localhost:' \
    "hold: then another token may take it"

# An edge without tokens checks none, so it holds no names: anyone could
# fill its table. A token still marks the name while it has workers.
start eh3 "$PTTH" serve -v -l 127.0.0.1:0
urlh3=$(wait_ready eh3)
start wh5 "$PTTH" expose -e "$urlh3" --token one -n open "$TMP/site"
wait_ready wh5 15 >/dev/null
st=$(exit_status timeout 15 "$PTTH" expose -e "$urlh3" --token two -n open \
    --retries 0 "$TMP/site")
is "$st" 7 "hold: no tokens configured: another token is refused while it runs"
kill -KILL "$(pid_of wh5)"
wait_exit wh5 5
wait_log "$TMP/eh3.err" "worker for 'open' left" >/dev/null
start wh6 "$PTTH" expose -e "$urlh3" --token two -n open "$TMP/site"
like "$(wait_ready wh6 15)" '^http://open\.localhost:' \
    "hold: ... and not held once it left: another token takes it at once"
