/* SPDX-License-Identifier: MIT
 * Unit tests for tls.c: a client and a server driven in one thread over a
 * non-blocking socketpair with small buffers. Certificates are generated at
 * run time with the openssl CLI (skipped without it). Every loop is bounded
 * in rounds and in time, so a bug fails instead of hanging. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/tap.h"
#include "ptth.h"
#include "tls.h"
#include "util.h"

#define XFER_LEN (1024 * 1024) /* bytes each way */
#define POLL_MS 5000           /* a stall longer than this is a failure */
#define MAX_ROUNDS 400000

static const char *const srv_alpn[] = {"h2", "http/1.1", NULL};
static const char *const cli_alpn[] = {"h2", NULL};

static char dir[256];
static char cert[300], key[300], key2[300], garbage[300], missing[300];

/* One end of a socketpair with its TLS session and transfer state. */
struct side {
    const char *who;
    int fd;
    struct tls_bio bio; /* arg = &fd: the struct must not move */
    struct tls_conn *tls;
    int rc; /* handshake result, PTTH_EAGAIN while running */
    const uint8_t *out;
    size_t out_len, out_off, last_n;
    bool wpend;
    uint8_t *in;
    size_t in_len, in_off;
};

struct stats {
    long write_eagain;
    long pending_seen;
};

static int
run(const char *cmd)
{
    int st = system(cmd);
    return st == 0 ? 0 : -1;
}

static void
fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void
make_certs(void)
{
    char cmd[1200];
    const char *tmp = getenv("TMPDIR");

    if (tmp == NULL || tmp[0] == '\0' || strchr(tmp, '\'') != NULL ||
        strlen(tmp) > 200)
        tmp = "/tmp";
    snprintf(dir, sizeof(dir), "%s/ptth-tls-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(key2, sizeof(key2), "%s/key2.pem", dir);
    snprintf(garbage, sizeof(garbage), "%s/garbage.pem", dir);
    snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-nodes -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost "
             "-keyout '%s' -out '%s' >/dev/null 2>&1",
             key, cert);
    if (run(cmd) != 0) {
        diag("openssl req failed");
        exit(1);
    }
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC "
             "-pkeyopt ec_paramgen_curve:P-256 -out '%s' >/dev/null 2>&1",
             key2);
    if (run(cmd) != 0) {
        diag("openssl genpkey failed");
        exit(1);
    }
    write_file(garbage, "-----BEGIN CERTIFICATE-----\n"
                        "bm90IGEgY2VydGlmaWNhdGUhISE=%%%\n"
                        "-----END CERTIFICATE-----\n"
                        "-----BEGIN PRIVATE KEY-----\n"
                        "Z2FyYmFnZQ==\n"
                        "-----END PRIVATE KEY-----\n");
}

static void
remove_certs(void)
{
    const char *files[] = {cert, key, key2, garbage};
    size_t i;

    for (i = 0; i < PTTH_ARRAY_LEN(files); i++)
        unlink(files[i]);
    if (rmdir(dir) != 0)
        diag("cannot remove %s: %s", dir, strerror(errno));
}

/* ---- socketpair plumbing ----------------------------------------------- */

static void
side_init(struct side *s, const char *who, int fd)
{
    memset(s, 0, sizeof(*s));
    s->who = who;
    s->fd = fd;
    s->rc = PTTH_EAGAIN;
    tls_bio_fd(&s->bio, &s->fd);
}

/* A connected pair with small socket buffers (many partial writes). */
static void
pair_open(struct side *cli, struct side *srv)
{
    int sv[2], i, sz = 8192;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        exit(1);
    }
    for (i = 0; i < 2; i++) {
        fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK);
        fcntl(sv[i], F_SETFD, FD_CLOEXEC);
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    side_init(cli, "client", sv[0]);
    side_init(srv, "server", sv[1]);
}

/* Creates both sessions; returns false if tls_conn_new refused. */
static bool
pair_start(struct side *cli, struct tls_ctx *cctx, const char *name,
           struct side *srv, struct tls_ctx *sctx)
{
    pair_open(cli, srv);
    cli->tls = tls_conn_new(cctx, name, &cli->bio);
    srv->tls = tls_conn_new(sctx, NULL, &srv->bio);
    return cli->tls != NULL && srv->tls != NULL;
}

static void
side_close(struct side *s)
{
    tls_conn_free(s->tls);
    s->tls = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static short
want_events(const struct side *s)
{
    return tls_want(s->tls) == TLS_WANT_WRITE ? POLLOUT : POLLIN;
}

/* Runs both handshakes until neither is in progress. A side that fails
 * closes its socket, as a caller would, so the peer sees its alert or EOF.
 * Returns false on a stall or when the round limit is reached. */
static bool
drive_handshake(struct side *a, struct side *b)
{
    struct side *s[2] = {a, b};
    int round, i;

    for (round = 0; round < MAX_ROUNDS; round++) {
        struct pollfd pfd[2];
        int np = 0;

        for (i = 0; i < 2; i++) {
            if (s[i]->rc != PTTH_EAGAIN)
                continue;
            s[i]->rc = tls_handshake(s[i]->tls);
            if (s[i]->rc == PTTH_EAGAIN) {
                pfd[np].fd = s[i]->fd;
                pfd[np].events = want_events(s[i]);
                pfd[np].revents = 0;
                np++;
            } else if (s[i]->rc != 0) {
                close(s[i]->fd);
                s[i]->fd = -1;
            }
        }
        if (np == 0)
            return true;
        if (poll(pfd, (nfds_t)np, POLL_MS) <= 0) {
            diag("handshake stalled");
            return false;
        }
    }
    diag("handshake: too many rounds");
    return false;
}

/* Reads everything available on s into s->in. Returns the last tls_read
 * result (PTTH_EAGAIN normally), or PTTH_ELIMIT on extra bytes. */
static long
drain(struct side *s, struct stats *st, bool *progress)
{
    uint8_t scratch[1];
    long r;

    for (;;) {
        size_t room = s->in_len - s->in_off;
        uint8_t *p = room > 0 ? s->in + s->in_off : scratch;
        size_t n = room > 1000 ? 1000 : (room > 0 ? room : sizeof(scratch));

        r = tls_read(s->tls, p, n);
        if (r <= 0)
            return r;
        if (room == 0) {
            diag("%s: unexpected extra bytes", s->who);
            return PTTH_ELIMIT;
        }
        s->in_off += (size_t)r;
        *progress = true;
        if (st != NULL && tls_pending(s->tls))
            st->pending_seen++;
    }
}

/* Sends s->out in chunks of varying size; after PTTH_EAGAIN retries with
 * the same bytes and a length at least as large. */
static long
push(struct side *s, struct stats *st, unsigned round, bool *progress)
{
    size_t rem = s->out_len - s->out_off;
    size_t n = 1 + (size_t)((round * 7919u + s->out_off) % 40000u);
    long r;

    if (rem == 0)
        return 0;
    if (s->wpend && n < s->last_n)
        n = s->last_n;
    if (n > rem)
        n = rem;
    r = tls_write(s->tls, s->out + s->out_off, n);
    if (r > 0) {
        if ((size_t)r > n)
            return PTTH_ELIMIT;
        s->out_off += (size_t)r;
        s->wpend = false;
        *progress = true;
        return r;
    }
    if (r == PTTH_EAGAIN) {
        s->wpend = true;
        s->last_n = n;
        st->write_eagain++;
        return 0;
    }
    return r;
}

/* Full-duplex transfer until both sides have sent and received all. */
static bool
drive_exchange(struct side *a, struct side *b, struct stats *st)
{
    struct side *s[2] = {a, b};
    unsigned round;
    int i;

    for (round = 0; round < MAX_ROUNDS; round++) {
        struct pollfd pfd[2];
        bool progress = false;
        long r;

        for (i = 0; i < 2; i++) {
            r = push(s[i], st, round, &progress);
            if (r < 0) {
                diag("%s: tls_write: %ld %s", s[i]->who, r,
                     tls_errstr(s[i]->tls));
                return false;
            }
            r = drain(s[i], st, &progress);
            if (r != PTTH_EAGAIN) {
                diag("%s: tls_read: %ld %s", s[i]->who, r,
                     tls_errstr(s[i]->tls));
                return false;
            }
        }
        if (a->out_off == a->out_len && b->out_off == b->out_len &&
            a->in_off == a->in_len && b->in_off == b->in_len)
            return true;
        if (progress)
            continue;
        for (i = 0; i < 2; i++) {
            pfd[i].fd = s[i]->fd;
            pfd[i].events = POLLIN;
            if (s[i]->wpend && tls_want(s[i]->tls) == TLS_WANT_WRITE)
                pfd[i].events |= POLLOUT;
            pfd[i].revents = 0;
        }
        if (poll(pfd, 2, POLL_MS) <= 0) {
            diag("exchange stalled");
            return false;
        }
    }
    diag("exchange: too many rounds");
    return false;
}

/* Sends close_notify from w while r keeps draining; then reads on r until
 * it reports the close. Returns r's final tls_read result. */
static long
drive_close(struct side *w, struct side *r)
{
    int round, rc = PTTH_EAGAIN;
    long res = PTTH_EAGAIN;

    for (round = 0; round < MAX_ROUNDS; round++) {
        struct pollfd pfd[2];
        bool progress = false;
        nfds_t np = 0;

        if (rc == PTTH_EAGAIN)
            rc = tls_close_notify(w->tls);
        if (rc != 0 && rc != PTTH_EAGAIN) {
            diag("%s: tls_close_notify: %d %s", w->who, rc, tls_errstr(w->tls));
            return rc;
        }
        res = drain(r, NULL, &progress);
        if (res != PTTH_EAGAIN)
            return res;
        if (progress)
            continue;
        pfd[np].fd = r->fd;
        pfd[np].events = POLLIN;
        pfd[np++].revents = 0;
        if (rc == PTTH_EAGAIN) {
            pfd[np].fd = w->fd;
            pfd[np].events = POLLOUT;
            pfd[np++].revents = 0;
        }
        if (poll(pfd, np, POLL_MS) <= 0) {
            diag("close stalled");
            return PTTH_EAGAIN;
        }
    }
    return PTTH_EAGAIN;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_ctx_errors(void)
{
    char err[512];
    struct tls_ctx *ctx;

    err[0] = '\0';
    ctx = tls_ctx_new_server(missing, key, srv_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, missing) != NULL &&
           strstr(err, "No such file") != NULL,
       "server: missing certificate refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_server(garbage, key, srv_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, garbage) != NULL &&
           strstr(err, "certificate") != NULL,
       "server: garbage certificate refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_server(cert, garbage, srv_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, garbage) != NULL &&
           strstr(err, "private key") != NULL,
       "server: garbage key refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_server(cert, missing, srv_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, missing) != NULL,
       "server: missing key refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_server(cert, key2, srv_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, key2) != NULL &&
           strstr(err, "does not match") != NULL,
       "server: key not matching the certificate refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_server(dir, key, srv_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, dir) != NULL,
       "server: directory as certificate refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_client(missing, false, cli_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, missing) != NULL,
       "client: missing cafile refused (%s)", err);
    tls_ctx_free(ctx);

    err[0] = '\0';
    ctx = tls_ctx_new_client(garbage, false, cli_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, garbage) != NULL,
       "client: garbage cafile refused (%s)", err);
    tls_ctx_free(ctx);

    {
        static const char *const bad_alpn[] = {"h2", "", NULL};
        err[0] = '\0';
        ctx = tls_ctx_new_client(cert, false, bad_alpn, err, sizeof(err));
        ok(ctx == NULL && strstr(err, "ALPN") != NULL,
           "client: empty ALPN name refused (%s)", err);
        tls_ctx_free(ctx);
    }

    ctx = tls_ctx_new_client(dir, false, NULL, err, sizeof(err));
    ok(ctx != NULL, "client: a CA directory loads");
    tls_ctx_free(ctx);
}

static void
test_conn_misuse(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct tls_bio bio;
    int fd = -1;

    tls_bio_fd(&bio, &fd);
    ok(tls_conn_new(cctx, NULL, &bio) == NULL,
       "verifying client without a server name refused");
    ok(tls_conn_new(sctx, "localhost", &bio) == NULL,
       "server with a server name refused");
    tls_conn_free(NULL);
    tls_ctx_free(NULL);
}

/* Hex of openssl's SHA-256 over the key's SubjectPublicKeyInfo. */
static bool
openssl_pin(const char *keyfile, char hex[65])
{
    char cmd[700], line[256];
    FILE *f;
    bool good = false;

    snprintf(cmd, sizeof(cmd),
             "openssl pkey -in '%s' -pubout -outform DER 2>/dev/null | "
             "openssl dgst -sha256 -r 2>/dev/null",
             keyfile);
    f = popen(cmd, "r");
    if (f == NULL)
        return false;
    if (fgets(line, sizeof(line), f) != NULL && strlen(line) >= 64) {
        memcpy(hex, line, 64);
        hex[64] = '\0';
        good = true;
    }
    pclose(f);
    return good;
}

static void
test_main_exchange(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct side cli, srv;
    struct stats st = {0, 0};
    uint8_t *c2s = xmalloc(XFER_LEN), *s2c = xmalloc(XFER_LEN);
    uint8_t *cin = xmalloc(XFER_LEN), *sin = xmalloc(XFER_LEN);
    uint8_t pin[32];
    char hex[65], want_hex[65];
    size_t i;
    long r;

    fill_pattern(c2s, XFER_LEN, 1);
    fill_pattern(s2c, XFER_LEN, 2);

    ok(pair_start(&cli, cctx, "localhost", &srv, sctx), "sessions created");
    ok(tls_alpn(cli.tls) == NULL, "no ALPN before the handshake");
    drive_handshake(&cli, &srv);
    ok(cli.rc == 0 && srv.rc == 0,
       "handshake completes (client %d, server %d: %s / %s)", cli.rc, srv.rc,
       tls_errstr(cli.tls), tls_errstr(srv.tls));
    is_str(tls_alpn(cli.tls), "h2", "client ALPN is h2");
    is_str(tls_alpn(srv.tls), "h2", "server ALPN is h2");
    is_str(tls_sni(srv.tls), "localhost", "server saw SNI localhost");
    ok(tls_sni(cli.tls) == NULL, "client has no SNI of its own");
    ok(strncmp(tls_version_str(cli.tls), "TLSv1.", 6) == 0 &&
           strcmp(tls_version_str(cli.tls), "TLSv1.1") != 0,
       "TLS 1.2 or newer (%s, %s)", tls_version_str(cli.tls),
       tls_cipher(cli.tls));
    ok(tls_cipher(srv.tls)[0] != '\0', "server reports a cipher suite");
    ok(!tls_verify_failed(cli.tls) && tls_errstr(cli.tls)[0] == '\0',
       "no error recorded");

    is_int(tls_peer_pubkey_sha256(cli.tls, pin), 0, "client: peer key hash");
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", pin[i]);
    if (openssl_pin(key, want_hex))
        is_str(hex, want_hex, "peer key hash matches openssl's");
    else
        ok(1, "# SKIP openssl pkey/dgst failed");
    is_int(tls_peer_pubkey_sha256(srv.tls, pin), PTTH_EINVAL,
           "server: no client certificate to hash");

    cli.out = c2s;
    cli.out_len = XFER_LEN;
    cli.in = cin;
    cli.in_len = XFER_LEN;
    srv.out = s2c;
    srv.out_len = XFER_LEN;
    srv.in = sin;
    srv.in_len = XFER_LEN;
    ok(drive_exchange(&cli, &srv, &st), "1 MiB each way transferred");
    is_mem(sin, srv.in_off, c2s, (size_t)XFER_LEN, "client->server bytes");
    is_mem(cin, cli.in_off, s2c, (size_t)XFER_LEN, "server->client bytes");
    ok(st.write_eagain > 0, "writes hit PTTH_EAGAIN (%ld times)",
       st.write_eagain);
    ok(st.pending_seen > 0, "tls_pending reported buffered data (%ld times)",
       st.pending_seen);
    ok(!tls_pending(cli.tls) && !tls_pending(srv.tls),
       "nothing pending after the transfer");

    r = drive_close(&cli, &srv);
    is_int(r, PTTH_ECLOSED, "server reads PTTH_ECLOSED after close_notify");
    ok(tls_saw_close_notify(srv.tls), "server saw close_notify");
    is_int(tls_close_notify(cli.tls), 0, "second close_notify is a no-op");
    is_int(tls_write(cli.tls, c2s, 10), PTTH_EINVAL,
           "no tls_write after close_notify");
    is_int(tls_read(srv.tls, sin, 10), PTTH_ECLOSED, "ECLOSED is sticky");

    r = drive_close(&srv, &cli);
    is_int(r, PTTH_ECLOSED, "client reads PTTH_ECLOSED after close_notify");
    ok(tls_saw_close_notify(cli.tls), "client saw close_notify");

    side_close(&cli);
    side_close(&srv);
    free(c2s);
    free(s2c);
    free(cin);
    free(sin);
}

/* Fills the transport: writes chunks of n until PTTH_EAGAIN. Returns the
 * bytes acknowledged, or -1 if the write never blocked or failed. */
static long
fill_until_eagain(struct side *s, const uint8_t *src, size_t max, size_t n,
                  size_t off)
{
    size_t start = off;
    long r;

    while (off + n <= max) {
        r = tls_write(s->tls, src + off, n);
        if (r == PTTH_EAGAIN)
            return (long)(off - start);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return -1;
}

static void
test_write_retry(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct side cli, srv;
    const size_t max = 4 * 1024 * 1024;
    uint8_t *src = xmalloc(max), *dst = xmalloc(max);
    size_t acked = 0;
    bool progress;
    long r, n;
    int round;

    fill_pattern(src, max, 3);
    ok(pair_start(&cli, cctx, "localhost", &srv, sctx) &&
           drive_handshake(&cli, &srv) && cli.rc == 0 && srv.rc == 0,
       "retry pair: handshake");
    srv.in = dst;
    srv.in_len = max;

    n = fill_until_eagain(&cli, src, max, 100, acked);
    ok(n >= 0, "small writes fill the socket (%ld bytes)", n);
    acked += n > 0 ? (size_t)n : 0;

    /* The peer drains; the retry comes with a larger n (more queued). */
    r = PTTH_EAGAIN;
    for (round = 0; round < 1000 && r == PTTH_EAGAIN; round++) {
        progress = false;
        drain(&srv, NULL, &progress);
        r = tls_write(cli.tls, src + acked, 300);
    }
    is_int(r, 100, "retry with a larger n consumes only the pending 100");
    if (r > 0)
        acked += (size_t)r;
    is_int(tls_write(cli.tls, src + acked, 50), 50, "next write is normal");
    acked += 50;

    /* An interrupted record, then close_notify: the record goes first. */
    n = fill_until_eagain(&cli, src, max, 5000, acked);
    ok(n >= 0, "5000-byte writes fill the socket (%ld bytes)", n);
    acked += n > 0 ? (size_t)n : 0;
    ok(tls_want(cli.tls) == TLS_WANT_WRITE, "tls_want is TLS_WANT_WRITE");
    is_int(tls_write(cli.tls, src + acked, 10), PTTH_EINVAL,
           "retry shorter than the pending record refused");
    r = drive_close(&cli, &srv);
    is_int(r, PTTH_ECLOSED, "close_notify arrives after the pending record");
    ok(tls_saw_close_notify(srv.tls), "it was a close_notify");
    is_mem(dst, srv.in_off, src, acked + 5000,
           "peer got every acknowledged byte plus the pending record");

    side_close(&cli);
    side_close(&srv);
    free(src);
    free(dst);
}

static void
test_truncation(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct side cli, srv;
    uint8_t buf[64];
    long r = 0;
    int i;

    ok(pair_start(&cli, cctx, "localhost", &srv, sctx) &&
           drive_handshake(&cli, &srv) && cli.rc == 0 && srv.rc == 0,
       "truncation pair: handshake");
    is_int(tls_write(srv.tls, (const uint8_t *)"hello", 5), 5, "server sends");
    close(srv.fd); /* no close_notify */
    srv.fd = -1;
    for (i = 0; i < 100; i++) {
        struct pollfd pfd = {cli.fd, POLLIN, 0};
        r = tls_read(cli.tls, buf, sizeof(buf));
        if (r != PTTH_EAGAIN && r != 5)
            break;
        poll(&pfd, 1, POLL_MS);
    }
    is_int(r, PTTH_ECLOSED, "bare EOF reads as PTTH_ECLOSED");
    ok(!tls_saw_close_notify(cli.tls), "... without close_notify");
    side_close(&cli);
    side_close(&srv);
}

/* Debug hook: counts non-empty lines (each without its newline). */
static void
count_line(void *arg, const char *line)
{
    int *n = arg;

    if (line[0] != '\0' && strchr(line, '\n') == NULL)
        (*n)++;
}

static void
test_verify_failures(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct side cli, srv;
    struct tls_ctx *sys, *insecure;
    char err[512] = "";
    int lines = 0;

    /* wrong name */
    ok(pair_start(&cli, cctx, "example.com", &srv, sctx),
       "wrong-name pair created");
    ok(drive_handshake(&cli, &srv), "wrong-name handshake ends");
    is_int(cli.rc, PTTH_ETLS, "wrong name: client PTTH_ETLS");
    ok(tls_verify_failed(cli.tls), "wrong name: tls_verify_failed");
    ok(strstr(tls_errstr(cli.tls), "name mismatch (expected example.com)") !=
           NULL,
       "wrong name: message \"%s\"", tls_errstr(cli.tls));
    ok(srv.rc == PTTH_ETLS || srv.rc == PTTH_ECLOSED || srv.rc == PTTH_EIO,
       "wrong name: server fails too (%d: %s)", srv.rc, tls_errstr(srv.tls));
    ok(!tls_verify_failed(srv.tls), "server: not a verify failure");
    is_int(tls_handshake(cli.tls), PTTH_ETLS, "errors are sticky");
    side_close(&cli);
    side_close(&srv);

    /* system store (the test's own CA file is not in it) */
    sys = tls_ctx_new_client(NULL, false, cli_alpn, err, sizeof(err));
    if (sys == NULL) {
        diag("no system CA store: %s", err);
        ok(1, "# SKIP no system CA store");
        ok(1, "# SKIP no system CA store");
        ok(1, "# SKIP no system CA store");
    } else {
        ok(pair_start(&cli, sys, "localhost", &srv, sctx) &&
               drive_handshake(&cli, &srv),
           "system-store handshake ends");
        is_int(cli.rc, PTTH_ETLS, "system store: self-signed cert refused");
        ok(tls_verify_failed(cli.tls) &&
               strstr(tls_errstr(cli.tls), "trusted") != NULL,
           "system store: verify failure \"%s\"", tls_errstr(cli.tls));
        side_close(&cli);
        side_close(&srv);
        tls_ctx_free(sys);
    }

    /* insecure: anything goes, no name needed; the debug hook fires */
    insecure = tls_ctx_new_client(NULL, true, cli_alpn, err, sizeof(err));
    ok(insecure != NULL, "insecure client ctx (%s)", insecure ? "" : err);
    if (insecure == NULL)
        return;
    tls_set_debug(insecure, 2, NULL, NULL); /* no fn: stays off */
    ok(pair_start(&cli, insecure, NULL, &srv, sctx), "insecure pair created");
    ok(drive_handshake(&cli, &srv) && cli.rc == 0 && srv.rc == 0,
       "insecure client accepts the self-signed cert (%s)",
       tls_errstr(cli.tls));
    ok(!tls_verify_failed(cli.tls), "insecure: no verify failure");
    ok(tls_sni(srv.tls) == NULL, "insecure without a name sends no SNI");
    side_close(&cli);
    side_close(&srv);

    tls_set_debug(insecure, 2, count_line, &lines);
    ok(pair_start(&cli, insecure, "localhost", &srv, sctx) &&
           drive_handshake(&cli, &srv) && cli.rc == 0,
       "insecure with a name");
    tls_set_debug(insecure, 0, NULL, NULL);
    ok(lines > 0, "debug hook saw %d lines", lines);
    side_close(&cli);
    side_close(&srv);
    tls_ctx_free(insecure);
}

static void
test_env_store(struct tls_ctx *sctx)
{
    struct side cli, srv;
    struct tls_ctx *ctx;
    char err[512] = "";
    const char *old = getenv("SSL_CERT_FILE");
    char *saved = old ? xstrdup(old) : NULL;

    setenv("SSL_CERT_FILE", cert, 1);
    ctx = tls_ctx_new_client(NULL, false, cli_alpn, err, sizeof(err));
    ok(ctx != NULL, "SSL_CERT_FILE store loads (%s)", ctx ? "" : err);
    if (ctx != NULL) {
        bool started = pair_start(&cli, ctx, "localhost", &srv, sctx);
        ok(started && drive_handshake(&cli, &srv) && cli.rc == 0,
           "SSL_CERT_FILE trust anchor verifies (%s)",
           started ? tls_errstr(cli.tls) : "");
        side_close(&cli);
        side_close(&srv);
        tls_ctx_free(ctx);
    } else {
        ok(0, "SSL_CERT_FILE trust anchor verifies");
    }

    setenv("SSL_CERT_FILE", missing, 1);
    err[0] = '\0';
    ctx = tls_ctx_new_client(NULL, false, cli_alpn, err, sizeof(err));
    ok(ctx == NULL && strstr(err, "SSL_CERT_FILE") != NULL &&
           strstr(err, missing) != NULL,
       "broken SSL_CERT_FILE refused (%s)", err);
    tls_ctx_free(ctx);

    if (saved != NULL)
        setenv("SSL_CERT_FILE", saved, 1);
    else
        unsetenv("SSL_CERT_FILE");
    free(saved);
}

static void
test_eof_in_handshake(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct side cli, srv;
    int i, rc;

    /* client: the server vanishes after the ClientHello */
    ok(pair_start(&cli, cctx, "localhost", &srv, sctx), "eof pair 1");
    rc = tls_handshake(cli.tls);
    is_int(rc, PTTH_EAGAIN, "ClientHello sent, waiting");
    is_int(tls_want(cli.tls), TLS_WANT_READ, "client wants to read");
    close(srv.fd);
    srv.fd = -1;
    for (i = 0; i < 100 && rc == PTTH_EAGAIN; i++) {
        struct pollfd pfd = {cli.fd, want_events(&cli), 0};
        poll(&pfd, 1, POLL_MS);
        rc = tls_handshake(cli.tls);
    }
    ok(rc == PTTH_ECLOSED || rc == PTTH_EIO,
       "client: EOF mid-handshake -> %d (%s)", rc, tls_errstr(cli.tls));
    ok(!tls_verify_failed(cli.tls), "client: not a verify failure");
    side_close(&cli);
    side_close(&srv);

    /* server: a truncated ClientHello record, then EOF */
    ok(pair_start(&cli, cctx, "localhost", &srv, sctx), "eof pair 2");
    is_int(send(cli.fd, "\x16\x03\x01\x02\x00\x01", 6, MSG_NOSIGNAL), 6,
           "raw partial record sent");
    shutdown(cli.fd, SHUT_WR);
    rc = PTTH_EAGAIN;
    for (i = 0; i < 100 && rc == PTTH_EAGAIN; i++) {
        struct pollfd pfd = {srv.fd, POLLIN, 0};
        rc = tls_handshake(srv.tls);
        if (rc == PTTH_EAGAIN)
            poll(&pfd, 1, POLL_MS);
    }
    ok(rc == PTTH_ECLOSED || rc == PTTH_EIO,
       "server: EOF mid-handshake -> %d (%s)", rc, tls_errstr(srv.tls));
    ok(strstr(tls_errstr(srv.tls), "closed") != NULL ||
           strstr(tls_errstr(srv.tls), "transport") != NULL,
       "server: message says so");
    side_close(&cli);
    side_close(&srv);
}

int
main(void)
{
    struct tls_ctx *sctx, *cctx;
    char err[512] = "";
    const char *v;

    signal(SIGPIPE, SIG_IGN);
    alarm(300); /* last-resort guard; every loop is bounded anyway */
    if (run("openssl version >/dev/null 2>&1") != 0)
        skip_all("openssl not found");
    make_certs();

    v = tls_library_version();
    ok(v != NULL && v[0] >= '2' && v[0] <= '9' && strchr(v, '.') != NULL &&
           strchr(v, '/') == NULL,
       "library version \"%s\"", v ? v : "(null)");
    is_int(tls_global_init(), 0, "tls_global_init");

    test_ctx_errors();

    sctx = tls_ctx_new_server(cert, key, srv_alpn, err, sizeof(err));
    ok(sctx != NULL, "server ctx (%s)", err);
    cctx = tls_ctx_new_client(cert, false, cli_alpn, err, sizeof(err));
    ok(cctx != NULL, "client ctx with --cacert (%s)", err);
    if (sctx == NULL || cctx == NULL) {
        tls_ctx_free(sctx);
        tls_ctx_free(cctx);
        remove_certs();
        done_testing();
        return 1;
    }

    test_conn_misuse(sctx, cctx);
    test_main_exchange(sctx, cctx);
    test_write_retry(sctx, cctx);
    test_truncation(sctx, cctx);
    test_verify_failures(sctx, cctx);
    test_env_store(sctx);
    test_eof_in_handshake(sctx, cctx);

    tls_ctx_free(cctx);
    tls_ctx_free(sctx);
    remove_certs();
    return done_testing();
}
