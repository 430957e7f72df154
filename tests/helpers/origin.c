/* SPDX-License-Identifier: MIT
 * tests/helpers/origin.c - a small HTTP/1.1 origin server for tests. Only
 * libc (POSIX threads are part of glibc): one detached thread per
 * connection with blocking I/O, bounded by MAX_CONNS, a receive timeout
 * and an overall lifetime.
 *
 *   origin [--listen ADDR:PORT | --unix PATH] [--lifetime SECONDS]
 *
 * Prints its base URL ("http://127.0.0.1:PORT/", "http://[::1]:PORT/" or
 * "unix:PATH") alone on stdout once it accepts connections, nothing else
 * on stdout; diagnostics go to stderr. Exits on SIGTERM/SIGINT or after
 * --lifetime (default 600) seconds. Routes (any method unless noted; HEAD
 * answers the same head without a body; request bodies in Content-Length
 * or chunked form are read, and discarded where not used):
 *
 *   /hello          200 "hello\n"
 *   /echo, /echo/..., /echo?...
 *                   200 text: "METHOD m\nTARGET t\n", every request header
 *                   line as received ("Name: value\n"), "\n", then the
 *                   request body (at most 32 MiB, else 413)
 *   /bytes/N        N pattern bytes with Content-Length
 *   /chunked/N      N pattern bytes, chunked in pieces of varying size
 *   /sha256         (POST/PUT) streams the body and answers
 *                   "length=N fnv1a64=16HEX\n" (FNV-1a 64 over the body)
 *   /sha256/late/MS the same after sleeping MS ms before reading the body
 *   /status/CODE    that status (100..999 not 1xx) with "status CODE\n"
 *   /slow/MS        sleeps MS ms, then 200 "slow\n"
 *   /close          closes the connection without a response
 *   /trailers       chunked "trailers\n" with trailer "x-trailer: yes"
 *   /trailers/connopts/N  the same, with trailer fields "Connection: o1,
 *                   ..., oN" (N at most 40) and "o1: hop" before it
 *   /headers        200 with "Connection: close, X-Hop", "X-Hop: 1",
 *                   "Keep-Alive: timeout=5", "X-Kept: yes"; then closes
 *   /early-hints    103 (Link: </style.css>; rel=preload), then 200
 *   /accepted       200 "accepted N\n": connections accepted so far
 *   /clte           200 with "Content-Length: 100" and a chunked body "ok";
 *                   then closes
 *   /204cl          204 with "Content-Length: 5" (and no body); then closes
 *   /connopts/N     200 "connopts\n" with "Connection: close, o1, ..., oN"
 *                   (N at most 40), "o1: hop" and "X-Kept: yes"; then closes
 *   anything else   404
 *
 * Pattern byte i (i counted from 0) = (i * 7 + i / 251) & 0xff. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 512
#define HEAD_MAX 65536
#define ECHO_MAX (32u * 1024u * 1024u)
#define IO_TIMEOUT_S 60

static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static int nconns;
static unsigned long accepted; /* connections served since the start */

struct conn {
    int fd;
    char in[HEAD_MAX + 1];
    size_t len; /* bytes buffered in |in| */
};

struct req {
    char method[32];
    char target[8192];
    char *head;      /* header lines, CRLF-terminated, inside conn->in */
    size_t head_len; /* bytes of header lines */
    int minor;       /* HTTP/1.minor */
    int chunked;
    long long clen; /* -1: none */
    int close;      /* client asked to close */
    int expect100;
};

static void
die(const char *what)
{
    fprintf(stderr, "origin: %s: %s\n", what, strerror(errno));
    exit(1);
}

static unsigned char
pattern(uint64_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static int
send_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int sendf(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
sendf(int fd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    return send_all(fd, buf, (size_t)n);
}

/* Reads more bytes into c->in. Returns bytes read, 0 at EOF, -1 on error
 * or timeout. */
static ssize_t
fill(struct conn *c)
{
    ssize_t k;

    if (c->len >= HEAD_MAX)
        return -1;
    do {
        k = recv(c->fd, c->in + c->len, HEAD_MAX - c->len, 0);
    } while (k < 0 && errno == EINTR);
    if (k > 0)
        c->len += (size_t)k;
    return k;
}

static void
consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->len - n);
    c->len -= n;
}

/* Returns the offset just past "\r\n" of the first line in c->in, reading
 * as needed; 0 on EOF/error/overlong line. */
static size_t
read_line(struct conn *c)
{
    for (;;) {
        char *nl = memchr(c->in, '\n', c->len);

        if (nl != NULL)
            return (size_t)(nl - c->in) + 1;
        if (fill(c) <= 0)
            return 0;
    }
}

/* ---- request bodies ---- */

typedef int body_sink(void *arg, const char *p, size_t n);

/* Moves up to |n| body bytes to |sink|, from the buffer first. Returns 0
 * or -1. */
static int
body_bytes(struct conn *c, uint64_t n, body_sink *sink, void *arg)
{
    while (n > 0) {
        size_t k;

        if (c->len == 0 && fill(c) <= 0)
            return -1;
        k = c->len < n ? c->len : (size_t)n;
        if (sink(arg, c->in, k) != 0)
            return -1;
        consume(c, k);
        n -= k;
    }
    return 0;
}

/* Reads the whole request body into |sink|. Returns 0 or -1. */
static int
read_body(struct conn *c, struct req *r, body_sink *sink, void *arg)
{
    if (r->expect100 && (r->chunked || r->clen > 0) &&
        send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
        return -1;
    if (!r->chunked)
        return r->clen > 0 ? body_bytes(c, (uint64_t)r->clen, sink, arg) : 0;
    for (;;) {
        size_t l = read_line(c);
        unsigned long long sz;
        char *end;

        if (l == 0)
            return -1;
        errno = 0;
        sz = strtoull(c->in, &end, 16);
        if (end == c->in || errno != 0)
            return -1;
        consume(c, l);
        if (sz == 0)
            break;
        if (body_bytes(c, sz, sink, arg) != 0)
            return -1;
        l = read_line(c); /* CRLF after the data */
        if (l == 0)
            return -1;
        consume(c, l);
    }
    for (;;) { /* trailer section up to the empty line */
        size_t l = read_line(c);

        if (l == 0)
            return -1;
        consume(c, l);
        if (l <= 2)
            return 0;
    }
}

static int
discard_sink(void *arg, const char *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return 0;
}

struct membuf {
    char *p;
    size_t len, cap;
};

static int
mem_sink(void *arg, const char *p, size_t n)
{
    struct membuf *b = arg;

    if (b->len + n > ECHO_MAX)
        return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *q;

        while (cap < b->len + n)
            cap *= 2;
        q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

struct fnv {
    uint64_t h, len;
};

static int
fnv_sink(void *arg, const char *p, size_t n)
{
    struct fnv *f = arg;
    size_t i;

    for (i = 0; i < n; i++) {
        f->h ^= (unsigned char)p[i];
        f->h *= 1099511628211ull;
    }
    f->len += n;
    return 0;
}

/* ---- request head ---- */

static int
has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;

    while (i < n) {
        size_t s, e;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* Reads and parses one request head. Returns 1, 0 at a clean EOF before
 * a request, -1 on error (the connection is dropped). */
static int
read_head(struct conn *c, struct req *r)
{
    char *end, *line, *p, *sp1, *sp2;
    size_t hl;

    memset(r, 0, sizeof(*r));
    r->clen = -1;
    for (;;) {
        end = c->len >= 4 ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
        if (end != NULL)
            break;
        if (fill(c) <= 0)
            return c->len == 0 ? 0 : -1;
    }
    hl = (size_t)(end - c->in) + 4;
    line = c->in;
    p = memchr(line, '\r', hl);
    *p = '\0';
    sp1 = strchr(line, ' ');
    sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp2 == NULL || (size_t)(sp1 - line) >= sizeof(r->method) ||
        (size_t)(sp2 - sp1 - 1) >= sizeof(r->target) ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    memcpy(r->method, line, (size_t)(sp1 - line));
    memcpy(r->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    r->minor = sp2[8] == '1' ? 1 : 0;
    r->close = r->minor == 0;
    r->head = p + 2;
    r->head_len = (size_t)(end + 2 - r->head);
    for (line = r->head; line < end + 2;) {
        char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
        char *colon, *v;
        size_t nl, vl;

        if (eol == NULL)
            return -1;
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL)
            return -1;
        nl = (size_t)(colon - line);
        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        vl = (size_t)(eol - v);
        if (nl == 14 && strncasecmp(line, "content-length", 14) == 0)
            r->clen = strtoll(v, NULL, 10);
        else if (nl == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)
            r->chunked = has_token(v, vl, "chunked");
        else if (nl == 10 && strncasecmp(line, "connection", 10) == 0) {
            if (has_token(v, vl, "close"))
                r->close = 1;
            if (has_token(v, vl, "keep-alive"))
                r->close = 0;
        } else if (nl == 6 && strncasecmp(line, "expect", 6) == 0)
            r->expect100 = has_token(v, vl, "100-continue");
        line = eol + 2;
    }
    return 1;
}

/* ---- responses ---- */

static int
simple(int fd, const struct req *r, int status, const char *reason,
       const char *body)
{
    size_t n = strlen(body);

    if (sendf(fd,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
              "Content-Length: %zu\r\n%s\r\n",
              status, reason, n, r->close ? "Connection: close\r\n" : "") != 0)
        return -1;
    if (strcmp(r->method, "HEAD") == 0 || n == 0)
        return 0;
    return send_all(fd, body, n);
}

static int
send_pattern(int fd, uint64_t from, uint64_t n)
{
    unsigned char buf[65536];

    while (n > 0) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf), i;

        for (i = 0; i < k; i++)
            buf[i] = pattern(from + i);
        if (send_all(fd, buf, k) != 0)
            return -1;
        from += k;
        n -= k;
    }
    return 0;
}

static int
route_bytes(int fd, const struct req *r, uint64_t n, int chunked)
{
    uint64_t off = 0, piece = 0;

    if (!chunked) {
        if (sendf(fd,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                  "\r\nContent-Length: %llu\r\n\r\n",
                  (unsigned long long)n) != 0)
            return -1;
        return strcmp(r->method, "HEAD") == 0 ? 0 : send_pattern(fd, 0, n);
    }
    if (sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                  "\r\nTransfer-Encoding: chunked\r\n\r\n") != 0)
        return -1;
    if (strcmp(r->method, "HEAD") == 0)
        return 0;
    while (off < n) {
        uint64_t k = 1000 + (piece++ * 3677) % 30000;

        if (k > n - off)
            k = n - off;
        if (sendf(fd, "%llx\r\n", (unsigned long long)k) != 0 ||
            send_pattern(fd, off, k) != 0 || send_all(fd, "\r\n", 2) != 0)
            return -1;
        off += k;
    }
    return send_all(fd, "0\r\n\r\n", 5);
}

/* "o1, o2, ..., oN" in buf (n bytes; N at most 40): connection options
 * for the /connopts routes. */
static void
conn_opts(char *buf, size_t n, long long count)
{
    size_t len = 0;
    long long i;

    buf[0] = '\0';
    for (i = 1; i <= count && i <= 40; i++)
        len += (size_t)snprintf(buf + len, n - len, "%so%lld",
                                i > 1 ? ", " : "", i);
}

static int
route_echo(struct conn *c, struct req *r)
{
    struct membuf b = {NULL, 0, 0};
    char *head = NULL;
    size_t i, j = 0;
    int rc;

    /* Keep the head before read_body reuses the input buffer. */
    head = malloc(r->head_len + 1);
    if (head == NULL)
        return -1;
    for (i = 0; i < r->head_len; i++) { /* CRLF -> LF */
        if (r->head[i] != '\r')
            head[j++] = r->head[i];
    }
    head[j] = '\0';
    consume(c, (size_t)(r->head + r->head_len + 2 - c->in));
    r->head = NULL;
    if (read_body(c, r, mem_sink, &b) != 0) {
        free(head);
        free(b.p);
        if (b.len + 1 > ECHO_MAX) {
            r->close = 1;
            return simple(c->fd, r, 413, "Content Too Large", "too large\n");
        }
        return -1;
    }
    rc = sendf(c->fd,
               "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
               "Content-Length: %zu\r\n%s\r\n",
               strlen("METHOD \nTARGET \n\n") + strlen(r->method) +
                   strlen(r->target) + j + b.len,
               r->close ? "Connection: close\r\n" : "");
    if (rc == 0 && strcmp(r->method, "HEAD") != 0) {
        rc = sendf(c->fd, "METHOD %s\nTARGET %s\n", r->method, r->target);
        if (rc == 0)
            rc = send_all(c->fd, head, j);
        if (rc == 0)
            rc = send_all(c->fd, "\n", 1);
        if (rc == 0 && b.len > 0)
            rc = send_all(c->fd, b.p, b.len);
    }
    free(head);
    free(b.p);
    return rc;
}

static void
sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Serves one request whose head is parsed. Returns 0 to keep the
 * connection, -1 to close it. */
static int
serve(struct conn *c, struct req *r)
{
    const char *t = r->target;
    int fd = c->fd, head_only = strcmp(r->method, "HEAD") == 0;
    long long n;

    if (strncmp(t, "/echo", 5) == 0 &&
        (t[5] == '\0' || t[5] == '/' || t[5] == '?'))
        return route_echo(c, r) != 0 || r->close ? -1 : 0;
    consume(c, (size_t)(r->head + r->head_len + 2 - c->in));
    if (strcmp(t, "/sha256") == 0 || strncmp(t, "/sha256/late/", 13) == 0) {
        struct fnv f = {14695981039346656037ull, 0};
        char body[96];

        if (t[7] == '/') {
            n = strtoll(t + 13, NULL, 10);
            sleep_ms(n < 0 ? 0 : n > 60000 ? 60000 : (long)n);
        }

        if (read_body(c, r, fnv_sink, &f) != 0)
            return -1;
        snprintf(body, sizeof(body), "length=%llu fnv1a64=%016llx\n",
                 (unsigned long long)f.len, (unsigned long long)f.h);
        return simple(fd, r, 200, "OK", body) != 0 || r->close ? -1 : 0;
    }
    if (read_body(c, r, discard_sink, NULL) != 0)
        return -1;
    if (strcmp(t, "/hello") == 0)
        return simple(fd, r, 200, "OK", "hello\n") != 0 || r->close ? -1 : 0;
    if (strcmp(t, "/accepted") == 0) {
        char body[48];

        pthread_mutex_lock(&conns_mu);
        snprintf(body, sizeof(body), "accepted %lu\n", accepted);
        pthread_mutex_unlock(&conns_mu);
        return simple(fd, r, 200, "OK", body) != 0 || r->close ? -1 : 0;
    }
    if (strncmp(t, "/bytes/", 7) == 0 || strncmp(t, "/chunked/", 9) == 0) {
        int chunked = t[1] == 'c';

        n = strtoll(t + (chunked ? 9 : 7), NULL, 10);
        if (n < 0)
            n = 0;
        return route_bytes(fd, r, (uint64_t)n, chunked) != 0 || r->close ? -1
                                                                         : 0;
    }
    if (strncmp(t, "/status/", 8) == 0) {
        char body[32];

        n = strtoll(t + 8, NULL, 10);
        if (n < 200 || n > 999)
            n = 400;
        snprintf(body, sizeof(body), "status %lld\n", n);
        return simple(fd, r, (int)n, "Status",
                      n == 204 || n == 304 ? "" : body) != 0 ||
                       r->close
                   ? -1
                   : 0;
    }
    if (strncmp(t, "/slow/", 6) == 0) {
        n = strtoll(t + 6, NULL, 10);
        sleep_ms(n < 0 ? 0 : n > 60000 ? 60000 : (long)n);
        return simple(fd, r, 200, "OK", "slow\n") != 0 || r->close ? -1 : 0;
    }
    if (strcmp(t, "/close") == 0)
        return -1;
    if (strncmp(t, "/trailers/connopts/", 19) == 0) {
        char opts[400];

        conn_opts(opts, sizeof(opts), strtoll(t + 19, NULL, 10));
        if (sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n") != 0)
            return -1;
        if (!head_only && sendf(fd,
                                "9\r\ntrailers\n\r\n0\r\nConnection: %s\r\n"
                                "o1: hop\r\nx-trailer: yes\r\n\r\n",
                                opts) != 0)
            return -1;
        return r->close ? -1 : 0;
    }
    if (strcmp(t, "/trailers") == 0) {
        if (sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Transfer-Encoding: chunked\r\nTrailer: x-trailer\r\n"
                      "\r\n") != 0)
            return -1;
        if (!head_only && sendf(fd, "9\r\ntrailers\n\r\n0\r\n"
                                    "x-trailer: yes\r\n\r\n") != 0)
            return -1;
        return r->close ? -1 : 0;
    }
    if (strcmp(t, "/headers") == 0) {
        sendf(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
              "Connection: close, X-Hop\r\nX-Hop: 1\r\n"
              "Keep-Alive: timeout=5\r\nX-Kept: yes\r\n"
              "Content-Length: 8\r\n\r\n%s",
              head_only ? "" : "headers\n");
        return -1;
    }
    if (strncmp(t, "/connopts/", 10) == 0) {
        char opts[400];

        conn_opts(opts, sizeof(opts), strtoll(t + 10, NULL, 10));
        sendf(fd,
              "HTTP/1.1 200 OK\r\nConnection: close, %s\r\no1: hop\r\n"
              "X-Kept: yes\r\nContent-Length: 9\r\n\r\n%s",
              opts, head_only ? "" : "connopts\n");
        return -1;
    }
    if (strcmp(t, "/clte") == 0) { /* a length beside a coding */
        sendf(fd,
              "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
              "Transfer-Encoding: chunked\r\n\r\n%s",
              head_only ? "" : "2\r\nok\r\n0\r\n\r\n");
        return -1;
    }
    if (strcmp(t, "/204cl") == 0) {
        sendf(fd, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        return -1;
    }
    if (strcmp(t, "/early-hints") == 0) {
        if (sendf(fd, "HTTP/1.1 103 Early Hints\r\n"
                      "Link: </style.css>; rel=preload\r\n\r\n") != 0)
            return -1;
        return simple(fd, r, 200, "OK", "hints\n") != 0 || r->close ? -1 : 0;
    }
    return simple(fd, r, 404, "Not Found", "not found\n") != 0 || r->close ? -1
                                                                           : 0;
}

static void *
conn_main(void *arg)
{
    struct conn *c = arg;
    struct req r;

    while (read_head(c, &r) == 1 && serve(c, &r) == 0)
        ;
    close(c->fd);
    free(c);
    pthread_mutex_lock(&conns_mu);
    nconns--;
    pthread_mutex_unlock(&conns_mu);
    return NULL;
}

static int
listen_tcp(const char *spec, char *url, size_t urlsz)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char host[128];
    const char *colon;
    int fd, one = 1, v6;
    long port;

    memset(&ss, 0, sizeof(ss));
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');

        if (rb == NULL || rb[1] != ':' || (size_t)(rb - spec) > sizeof(host))
            return -1;
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        host[rb - spec - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
            return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    port = strtol(colon + 1, NULL, 10);
    v6 = strchr(host, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return -1;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -1;
        sl = sizeof(*a);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0)
        die("bind/listen");
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        die("getsockname");
    port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                    : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(url, urlsz, v6 ? "http://[%s]:%ld/" : "http://%s:%ld/", host,
             port);
    return fd;
}

static int
listen_unix(const char *path, char *url, size_t urlsz)
{
    struct sockaddr_un a;
    int fd;

    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a.sun_path))
        return -1;
    strcpy(a.sun_path, path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128))
        die("bind/listen");
    snprintf(url, urlsz, "unix:%s", path);
    return fd;
}

static const char *unix_path;

static void
on_term(int sig)
{
    (void)sig;
    if (unix_path != NULL)
        unlink(unix_path);
    _exit(0);
}

static void
usage(void)
{
    fprintf(stderr, "usage: origin [--listen ADDR:PORT | --unix PATH] "
                    "[--lifetime SECONDS]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *listen_spec = "127.0.0.1:0";
    char url[300];
    long lifetime = 600;
    struct sigaction sa;
    int lfd, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen_spec = argv[++i];
        else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc)
            unix_path = argv[++i];
        else if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc)
            lifetime = strtol(argv[++i], NULL, 10);
        else
            usage();
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    if (lifetime > 0)
        alarm((unsigned)lifetime);
    lfd = unix_path != NULL ? listen_unix(unix_path, url, sizeof(url))
                            : listen_tcp(listen_spec, url, sizeof(url));
    if (lfd < 0) {
        fprintf(stderr, "origin: bad listen address\n");
        return 2;
    }
    printf("%s\n", url);
    fflush(stdout);
    for (;;) {
        struct timeval tv = {IO_TIMEOUT_S, 0};
        pthread_attr_t attr;
        pthread_t th;
        struct conn *c;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
                errno == ENFILE)
                continue;
            die("accept");
        }
        pthread_mutex_lock(&conns_mu);
        if (nconns >= MAX_CONNS) {
            pthread_mutex_unlock(&conns_mu);
            close(fd);
            continue;
        }
        nconns++;
        accepted++;
        pthread_mutex_unlock(&conns_mu);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (unix_path == NULL)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            pthread_mutex_lock(&conns_mu);
            nconns--;
            pthread_mutex_unlock(&conns_mu);
            continue;
        }
        c->fd = fd;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, conn_main, c) != 0) {
            close(fd);
            free(c);
            pthread_mutex_lock(&conns_mu);
            nconns--;
            pthread_mutex_unlock(&conns_mu);
        }
        pthread_attr_destroy(&attr);
    }
}
