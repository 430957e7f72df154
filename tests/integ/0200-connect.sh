#!/bin/bash
# TCP services end to end: an edge, workers started with `ptth expose --tcp`
# in front of socat services, and `ptth connect` over stdio and with -L.
# Byte-exact bulk both ways, half-close in each direction, concurrency,
# refusals and their exit statuses (8 no such tunnel or service, 6 tokens,
# 4 edge unreachable, 5 TLS), a worker killed mid-stream, signals, ssh
# through ProxyCommand, and the standard HTTP/1.1 CONNECT clients (socat
# PROXY:, nc -X connect) straight at the edge.
# shellcheck disable=SC1091,SC2154 # testlib.sh, top_srcdir: from make check
. "$top_srcdir/tests/lib/testlib.sh"

command -v socat >/dev/null || skip_all "socat not installed"

plan 50

# svc NAME SOCAT-ADDRESS: a socat service on a free loopback port (socat
# -d -d names the port it bound); sets SPORT.
svc() {
    # shellcheck disable=SC2016 # $1 is for the inner sh
    start "$1" sh -c 'exec socat -d -d \
        TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,backlog=128 "$1" 2>&1' \
        sh "$2"
    _l=$(wait_ready "$1")
    SPORT=${_l##*:}
    case $SPORT in
    '' | *[!0-9]*)
        echo "Bail out! socat did not print its port: $_l"
        exit 1
        ;;
    esac
}

# expose NAME ARGS...: starts a worker; sets WURL to its ready line.
expose() {
    _en=$1
    shift
    start "$_en" "$PTTH" expose "$@"
    WURL=$(wait_ready "$_en" 15)
}

# reap NAME SECS: sets ST to NAME's exit status, or 124 (after SIGKILL)
# when it still runs after SECS (testlib's wait_exit).
reap() {
    wait_exit "$1" "${2:-10}"
    ST=$EXIT_STATUS
}

# bgrun NAME CMD...: runs CMD in the background with the stdio given to
# bgrun itself (<&0: bash would give a background command /dev/null instead);
# pid_of NAME works, reap NAME too.
bgrun() {
    _bn=$1
    shift
    "$@" <&0 &
    eval "PID_$_bn=$!"
    track $!
}

# grows FILE BYTES: waits (bounded, 10 s) until FILE holds BYTES or more.
grows() {
    _gi=0
    while [ "$_gi" -lt 200 ] &&
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -lt "$2" ]; do
        sleep 0.05
        _gi=$((_gi + 1))
    done
    [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]
}

C=(timeout 60 "$PTTH" connect)

# ----------------------------------------------------------------- setup
svc echo EXEC:cat
echo_port=$SPORT
svc count "EXEC:wc -c"
count_port=$SPORT
svc banner "SYSTEM:echo banner-then-close"
banner_port=$SPORT

start edge "$PTTH" serve -l 127.0.0.1:0
url=$(wait_ready edge)
port=${url##*:}
port=${port%/}
E=(-e "$url")

expose wbox "${E[@]}" --tcp -n box "$echo_port"
if [ -z "$WURL" ]; then
    echo "Bail out! ptth expose --tcp printed no URL: $(tail -n 3 "$TMP/wbox.err")"
    exit 1
fi
expose wcount "${E[@]}" --tcp -n count "$count_port"
expose wbanner "${E[@]}" --tcp -n banner "$banner_port"

# ----------------------------------------------------------------- stdio
out=$(printf 'hello\n' | "${C[@]}" "${E[@]}" box 2>"$TMP/c1.err")
st=$?
is "$st $out" "0 hello" "stdio: a line to the echo service and back, exit 0"
out=$(printf 'full\n' | "${C[@]}" "${E[@]}" box.localhost 2>"$TMP/c2.err")
is "$?:$out" "0:full" "NAME.DOMAIN as ssh passes %h"
out=$(printf 'port\n' | "${C[@]}" "${E[@]}" "box:$echo_port" 2>"$TMP/c3.err")
is "$?:$out" "0:port" "NAME:PORT with the advertised port"

head -c 50000000 /dev/urandom >"$TMP/big.bin"
want=$(sha256sum <"$TMP/big.bin")
"${C[@]}" "${E[@]}" box <"$TMP/big.bin" >"$TMP/big.out" 2>"$TMP/big.err"
st=$?
is "$st $(sha256sum <"$TMP/big.out")" "0 $want" \
    "50 MB both ways, regular files on stdin and stdout: byte-exact"
# shellcheck disable=SC2002 # stdin must be a pipe here
cat "$TMP/big.bin" | "${C[@]}" "${E[@]}" box 2>"$TMP/bigp.err" | cat >"$TMP/bigp.out"
st=${PIPESTATUS[1]}
is "$st $(sha256sum <"$TMP/bigp.out")" "0 $want" \
    "50 MB both ways through pipes: byte-exact"

head -c 1000000 /dev/urandom >"$TMP/1m.bin"
out=$("${C[@]}" "${E[@]}" count <"$TMP/1m.bin" 2>"$TMP/cnt.err")
is "$?:${out//[[:space:]]/}" "0:1000000" \
    "stdin EOF is passed on: a service that answers after EOF (wc -c)"
# shellcheck disable=SC2002 # stdin must be a pipe here
out=$(cat "$TMP/1m.bin" | "${C[@]}" "${E[@]}" count 2>"$TMP/cntp.err")
is "$?:${out//[[:space:]]/}" "0:1000000" "... the same with stdin a pipe"

# The far side closes first while stdin stays open: exit 0 with the banner.
# (A FIFO opened read-write by this shell: a writer that never writes.)
mkfifo "$TMP/hold"
exec {HOLD}<>"$TMP/hold"
out=$("${C[@]}" "${E[@]}" banner <&"$HOLD" 2>"$TMP/ban.err")
is "$?:$out" "0:banner-then-close" \
    "the far side closes first, stdin still open: banner, exit 0"
exec {HOLD}>&-
out=$("${C[@]}" "${E[@]}" banner </dev/null 2>"$TMP/ban2.err")
is "$?:$out" "0:banner-then-close" "stdin at EOF at once (/dev/null): banner"

# ------------------------------------------------------------- refusals
st=$(exit_status "${C[@]}" "${E[@]}" box:1)
is "$st" 8 "a port the tunnel did not advertise: exit 8"
like "$(cat "$TMP/last.err")" 'box:1' "... the message names box:1"
st=$(exit_status "${C[@]}" "${E[@]}" nosuch)
is "$st" 8 "no such tunnel: exit 8"
like "$(cat "$TMP/last.err")" 'no such tunnel or service: nosuch' \
    "... the message names the tunnel"
is "$(cat "$TMP/last.out")" "" "... nothing on stdout"

start dead sh -c 'exec socat -d -d TCP-LISTEN:0,bind=127.0.0.1 - 2>&1'
l=$(wait_ready dead)
dead_port=${l##*:}
kill "$(pid_of dead)"
reap dead 5
st=$(exit_status "${C[@]}" -e "http://127.0.0.1:$dead_port" box </dev/null)
is "$st" 4 "edge not running: exit 4"
like "$(cat "$TMP/last.err")" "cannot reach the edge" "... says so"

# ------------------------------------------------ worker killed mid-stream
expose wkill "${E[@]}" --tcp -n kbox "$echo_port"
bgrun ck "$PTTH" connect "${E[@]}" kbox </dev/zero >"$TMP/ck.out" 2>"$TMP/ck.err"
grows "$TMP/ck.out" 2000000
kill -KILL "$(pid_of wkill)"
reap ck 20
ok "worker killed mid-stream: connect exits non-zero ($ST)" \
    test "$ST" -ne 0 -a "$ST" -ne 124
like "$(cat "$TMP/ck.err")" 'reset|lost' "... with a message"

# ------------------------------------------------------- signals, EPIPE
bgrun ci "$PTTH" connect "${E[@]}" box </dev/zero >"$TMP/ci.out" 2>"$TMP/ci.err"
grows "$TMP/ci.out" 1000000
kill -INT "$(pid_of ci)"
reap ci 10
is "$ST" 0 "SIGINT during a stream: exit 0"
bgrun ct "$PTTH" connect "${E[@]}" box </dev/zero >"$TMP/ct.out" 2>"$TMP/ct.err"
grows "$TMP/ct.out" 1000000
kill -TERM "$(pid_of ct)"
reap ct 10
is "$ST" 0 "SIGTERM during a stream: exit 0"
"${C[@]}" "${E[@]}" box </dev/zero 2>"$TMP/pipe.err" | head -c 100000 >/dev/null
is "${PIPESTATUS[0]}" 1 "the reader of stdout goes away (EPIPE): exit 1"
is "$(cat "$TMP/pipe.err")" "" "... quietly"

# ------------------------------------------------------------------- -L
start L "$PTTH" connect "${E[@]}" -L 127.0.0.1:0 box
la=$(wait_ready L)
like "$la" '^127\.0\.0\.1:[0-9]+$' "-L prints the bound address when ready"
lport=${la##*:}
head -c 2000000 /dev/urandom >"$TMP/2m.bin"
want2=$(sha256sum <"$TMP/2m.bin")
pids=
for i in $(seq 1 20); do
    timeout 60 socat -t 30 - "TCP:127.0.0.1:$lport" <"$TMP/2m.bin" \
        >"$TMP/par.$i" 2>"$TMP/par.$i.err" &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
bad=0
for i in $(seq 1 20); do
    [ "$(sha256sum <"$TMP/par.$i")" = "$want2" ] || bad=$((bad + 1))
done
is "$bad" 0 "-L: 20 concurrent connections, 2 MB each way: all byte-exact"
start Lc "$PTTH" connect "${E[@]}" -L 0 count
lca=$(wait_ready Lc)
out=$(timeout 20 socat -t 10 - "TCP:$lca" <"$TMP/1m.bin" 2>/dev/null)
is "${out//[[:space:]]/}" 1000000 "-L: local EOF is passed on (wc -c answers)"
out=$(timeout 20 socat -t 10 - "TCP:$la" </dev/null 2>/dev/null)
is "$out" "" "-L: EOF at once gives EOF back (echo service)"
start Lb "$PTTH" connect "${E[@]}" -L 0 banner
lba=$(wait_ready Lb)
exec {HB}<>"/dev/tcp/127.0.0.1/${lba##*:}"
IFS= read -r -t 10 line <&"$HB"
is "$line" banner-then-close "-L: the far side closes first: the banner arrives"
if IFS= read -r -t 10 line <&"$HB"; then r=data; else r=$?; fi
is "$r" 1 "... then EOF on the local connection (still open our way)"
exec {HB}<&-
start Ln "$PTTH" connect "${E[@]}" -L 0 nosuch
lna=$(wait_ready Ln)
out=$(timeout 10 socat -t 5 - "TCP:$lna" </dev/null 2>/dev/null)
is "$out" "" "-L, no such tunnel: the local connection is closed"
ok "... and ptth connect keeps running" kill -0 "$(pid_of Ln)"
is "$(grep -c 'no such tunnel or service: nosuch' "$TMP/Ln.err")" 1 \
    "... after logging one line"
for n in L Lc Lb Ln; do kill -TERM "$(pid_of "$n")"; done
bad=
for n in L Lc Lb Ln; do
    reap "$n" 10
    [ "$ST" = 0 ] || bad="$bad $n:$ST"
done
is "$bad" "" "-L: SIGTERM: exit 0"
is "$(cat "$TMP/L.out")" "$la" "-L: only the ready line on stdout"

# ------------------------------------------- standard clients at the edge
out=$(printf 'via-socat\n' | timeout 20 socat - \
    "PROXY:127.0.0.1:box.localhost:$echo_port,proxyport=$port" 2>&1)
is "$out" via-socat "socat PROXY: (HTTP/1.1 CONNECT) at the edge"
if nc -h 2>&1 | grep -q -- '-X proxy_protocol'; then
    out=$(printf 'via-nc\n' | timeout 20 nc -N -X connect \
        -x "127.0.0.1:$port" box.localhost "$echo_port" 2>&1)
    is "$out" via-nc "nc -X connect (netcat-openbsd) at the edge"
else
    skip 1 "netcat-openbsd not installed"
fi

# ------------------------------------------------------------- tokens
printf 'tok-one\n' >"$TMP/tokens"
printf 'tok-one\n' >"$TMP/tok1"
printf 'tok-wrong\n' >"$TMP/tokbad"
start et "$PTTH" serve -l 127.0.0.1:0 --token-file "$TMP/tokens"
eurl=$(wait_ready et)
expose wtok -e "$eurl" --token-file "$TMP/tok1" --tcp -n box "$echo_port"
out=$(printf 'tok\n' | "${C[@]}" -e "$eurl" --token-file "$TMP/tok1" box 2>"$TMP/t1.err")
is "$?:$out" "0:tok" "token edge, the right token: the stream works"
out=$(printf 'tok\n' | PTTH_TOKEN=tok-one "${C[@]}" -e "$eurl" box 2>"$TMP/t2.err")
is "$?:$out" "0:tok" "... PTTH_TOKEN works too"
st=$(exit_status "${C[@]}" -e "$eurl" --token-file "$TMP/tokbad" box </dev/null)
is "$st" 6 "token edge, a wrong token: exit 6"
st=$(exit_status "${C[@]}" -e "$eurl" box </dev/null)
is "$st" 6 "token edge, no token: exit 6"
like "$(cat "$TMP/last.err")" 'token' "... the message says a token is needed"

# ---------------------------------------------------------------- TLS
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/openssl.log" 2>&1; then
    start tls "$PTTH" serve -l 127.0.0.1:0 --tls-cert "$TMP/cert.pem" \
        --tls-key "$TMP/key.pem"
    turl=$(wait_ready tls)
    tport=${turl##*:}
    tport=${tport%/}
    T=(-e "https://localhost:$tport")
    expose wtls "${T[@]}" --cacert "$TMP/cert.pem" --tcp -n box "$echo_port"
    out=$(printf 'tls\n' | "${C[@]}" "${T[@]}" --cacert "$TMP/cert.pem" box \
        2>"$TMP/tls1.err")
    is "$?:$out" "0:tls" "TLS edge with --cacert: the stream works"
    st=$(exit_status "${C[@]}" "${T[@]}" box </dev/null)
    is "$st" 5 "TLS edge not trusted: exit 5"
    out=$(printf 'tls-k\n' | "${C[@]}" "${T[@]}" -k box 2>"$TMP/tls3.err")
    is "$?:$out" "0:tls-k" "-k: the stream works"
    like "$(cat "$TMP/tls3.err")" 'not verified' "-k: warns on stderr"
    # --cacert adds to the system store, it does not replace it: with the
    # edge's CA as the "system" store (SSL_CERT_FILE) and an unrelated CA
    # given with --cacert, the edge is still trusted; and the other way
    # round.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj /CN=other -keyout "$TMP/other.key" \
        -out "$TMP/other.pem" >>"$TMP/openssl.log" 2>&1
    out=$(printf 'sys\n' | SSL_CERT_FILE="$TMP/cert.pem" "${C[@]}" "${T[@]}" \
        --cacert "$TMP/other.pem" box 2>"$TMP/tls4.err")
    is "$?:$out" "0:sys" "--cacert adds a CA: the system store still counts"
    out=$(printf 'add\n' | SSL_CERT_FILE="$TMP/other.pem" "${C[@]}" "${T[@]}" \
        --cacert "$TMP/cert.pem" box 2>"$TMP/tls5.err")
    is "$?:$out" "0:add" "--cacert adds a CA: the added one counts"
    # A directory of PEM files, as the man page says (it was refused: exit 3).
    mkdir -p "$TMP/cadir"
    cp "$TMP/cert.pem" "$TMP/cadir/edge.pem"
    out=$(printf 'dir\n' | SSL_CERT_FILE="$TMP/other.pem" "${C[@]}" "${T[@]}" \
        --cacert "$TMP/cadir" box 2>"$TMP/tls6.err")
    is "$?:$out" "0:dir" "--cacert DIR: the directory's CA counts"
    st=$(SSL_CERT_FILE="$TMP/other.pem" exit_status "${C[@]}" "${T[@]}" box \
        </dev/null)
    is "$st" 5 "neither store nor --cacert has the edge's CA: exit 5"
else
    diag "openssl failed:" "$(cat "$TMP/openssl.log")"
    skip 8 "openssl cannot make a certificate"
fi

# ---------------------------------------------------------------- ssh
# sshd in inetd mode behind a socat listener: no port to guess. Needs root
# (host keys, privilege separation).
sshd=/usr/sbin/sshd
if [ "$(id -u)" -ne 0 ] || [ ! -x "$sshd" ] || ! command -v ssh >/dev/null ||
    ! command -v ssh-keygen >/dev/null; then
    skip 2 "ssh tests need root, sshd (openssh-server) and ssh"
else
    # Debian's sshd wants its privilege separation directory; the service
    # unit creates it, a container may not have it.
    [ -d /run/sshd ] || mkdir -m 0755 /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$TMP/hostkey" </dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$TMP/userkey" </dev/null
    cp "$TMP/userkey.pub" "$TMP/authorized_keys"
    cat >"$TMP/sshd_config" <<EOF
HostKey $TMP/hostkey
AuthorizedKeysFile $TMP/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
EOF
    svc sshd "EXEC:$sshd -i -e -f $TMP/sshd_config"
    expose wssh "${E[@]}" --tcp -n sbox "$SPORT"
    SSH=(ssh -F /dev/null -i "$TMP/userkey" -o StrictHostKeyChecking=no
        -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR
        -o ConnectTimeout=20
        -o "ProxyCommand=$PTTH connect -e $url %h")
    out=$(timeout 30 "${SSH[@]}" root@sbox.localhost 'echo via-ssh' \
        </dev/null 2>"$TMP/ssh1.err")
    is "$?:$out" "0:via-ssh" "ssh -o ProxyCommand='ptth connect %h': a command runs"
    head -c 10000000 /dev/urandom >"$TMP/10m.bin"
    out=$(timeout 60 "${SSH[@]}" root@sbox.localhost sha256sum \
        <"$TMP/10m.bin" 2>"$TMP/ssh2.err")
    is "$out" "$(sha256sum <"$TMP/10m.bin")" "ssh: 10 MB through, byte-exact"
fi
