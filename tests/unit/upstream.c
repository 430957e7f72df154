/* SPDX-License-Identifier: MIT
 * tests/unit/upstream.c - upstream.c (and curlm.c) against the origin
 * helper through a real loop, and dial.c against sockets of its own.
 * The origin binary comes from $ORIGIN (default tests/helpers/origin).
 * Every wait is bounded by a loop timer; bail_out_after is the backstop.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "curlm.h"
#include "dial.h"
#include "hdr.h"
#include "loop.h"
#include "upstream.h"
#include "util.h"
#include "xport.h"

#include "../lib/tap.h"

static struct loop *L;
static struct curlm *M;
static bool timed_out;
static bool in_api; /* set around calls that must never call back */
static int api_reentry;

/* ---- helpers ---- */

static void
watchdog_cb(void *arg)
{
    (void)arg;
    timed_out = true;
    loop_stop(L);
}

/* Runs the loop until a callback calls loop_stop or |ms| pass. Returns
 * true when stopped by a callback. */
static bool
run_for(uint64_t ms)
{
    struct timer *wd = timer_new(L, watchdog_cb, NULL);

    timed_out = false;
    timer_start(wd, ms, 0);
    loop_run(L);
    timer_free(wd);
    return !timed_out;
}

struct child {
    pid_t pid;
    char url[300];
};

/* Starts the origin helper with |args| and reads its ready line. */
static bool
start_origin(struct child *c, const char *a1, const char *a2)
{
    const char *bin = getenv("ORIGIN");
    int p[2];
    size_t len = 0;
    uint64_t deadline;

    if (bin == NULL || *bin == '\0')
        bin = "tests/helpers/origin";
    if (pipe(p) != 0)
        return false;
    c->pid = fork();
    if (c->pid < 0)
        return false;
    if (c->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(bin, bin, a1, a2, "--lifetime", "120", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    deadline = mono_ms() + 5000;
    while (len < sizeof(c->url) - 1 && memchr(c->url, '\n', len) == NULL) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        uint64_t now = mono_ms();
        ssize_t k;

        if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
            break;
        k = read(p[0], c->url + len, sizeof(c->url) - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(p[0]);
    c->url[len] = '\0';
    if (memchr(c->url, '\n', len) == NULL) {
        diag("origin %s did not get ready: \"%s\"", bin, c->url);
        return false;
    }
    c->url[strcspn(c->url, "\n")] = '\0';
    return true;
}

static void
stop_origin(struct child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
    }
}

/* Returns a TCP port on 127.0.0.1 that nothing listens on (probably). */
static int
closed_port(void)
{
    struct sockaddr_in a;
    socklen_t sl = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &sl) != 0)
        exit(99);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int
listen_local(int *port)
{
    struct sockaddr_in a;
    socklen_t sl = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &sl) != 0)
        exit(99);
    *port = ntohs(a.sin_port);
    return fd;
}

static unsigned char
origin_pattern(uint64_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static unsigned char
upload_pattern(uint64_t i)
{
    return (unsigned char)((i * 31 + i / 997) & 0xff);
}

/* ---- one request and what came back ---- */

struct tc {
    struct upstream *u;
    int nheads;
    int status[4];
    bool final[4];
    struct hdr_list head; /* fields of the final head */
    struct hdr_list early;
    struct hdr_list trailers;
    bool trailers_before_done;
    uint8_t *body;
    size_t body_len, body_cap;
    bool done;
    int rc;
    char errmsg[256];
    int after_done; /* callbacks after on_done or cancel */
    bool cancelled;
    /* response back-pressure */
    bool throttle;
    bool blocked;
    struct timer *resume_t;
    int calls, partial, zero, blocked_calls;
    size_t cancel_after; /* cancel once this many bytes came (0: never) */
    /* request body */
    uint64_t up_total, up_off;
    bool up_ended, up_chunk;
    int short_writes;
    size_t consumed;
};

static void
tc_init(struct tc *t)
{
    memset(t, 0, sizeof(*t));
    hdr_list_init(&t->head);
    hdr_list_init(&t->early);
    hdr_list_init(&t->trailers);
    t->rc = 1;
}

static void
tc_free(struct tc *t)
{
    hdr_list_free(&t->head);
    hdr_list_free(&t->early);
    hdr_list_free(&t->trailers);
    free(t->body);
    timer_free(t->resume_t);
    t->resume_t = NULL;
}

static void
check_reentry(void)
{
    if (in_api)
        api_reentry++;
}

static void
copy_list(struct hdr_list *dst, const struct hdr_list *src)
{
    size_t i;

    hdr_list_free(dst);
    for (i = 0; i < src->n; i++)
        hdr_add(dst, src->v[i].name, src->v[i].name_len, src->v[i].value,
                src->v[i].value_len, 0);
}

static void
on_head(void *arg, int status, const struct hdr_list *f, bool final)
{
    struct tc *t = arg;

    check_reentry();
    if (t->done || t->cancelled)
        t->after_done++;
    if (t->nheads < 4) {
        t->status[t->nheads] = status;
        t->final[t->nheads] = final;
    }
    t->nheads++;
    copy_list(final ? &t->head : &t->early, f);
}

static void
append_body(struct tc *t, const uint8_t *p, size_t n)
{
    if (t->body_len + n > t->body_cap) {
        t->body_cap = (t->body_len + n) * 2;
        t->body = xrealloc(t->body, t->body_cap);
    }
    memcpy(t->body + t->body_len, p, n);
    t->body_len += n;
}

static void
resume_cb(void *arg)
{
    struct tc *t = arg;

    t->blocked = false;
    in_api = true;
    upstream_resume(t->u);
    in_api = false;
}

static size_t
on_body(void *arg, const uint8_t *p, size_t n)
{
    struct tc *t = arg;
    size_t k = n;

    check_reentry();
    if (t->done || t->cancelled) {
        t->after_done++;
        return n;
    }
    if (t->throttle) {
        if (t->blocked) {
            t->blocked_calls++;
            return 0;
        }
        switch (t->calls++ % 4) {
        case 1:
            k = n < 7 ? n : 7;
            break;
        case 2:
            k = 0;
            break;
        case 3:
            k = n / 2;
            break;
        default:
            break;
        }
        if (k < n) {
            if (k == 0)
                t->zero++;
            else
                t->partial++;
            t->blocked = true;
            if (t->resume_t == NULL)
                t->resume_t = timer_new(L, resume_cb, t);
            timer_start(t->resume_t, 1, 0);
        }
    }
    append_body(t, p, k);
    if (t->cancel_after > 0 && t->body_len >= t->cancel_after) {
        t->cancelled = true;
        upstream_cancel(t->u);
        loop_stop(L);
    }
    return k;
}

static void
on_trailers(void *arg, const struct hdr_list *tr)
{
    struct tc *t = arg;

    check_reentry();
    if (t->done || t->cancelled)
        t->after_done++;
    copy_list(&t->trailers, tr);
    t->trailers_before_done = !t->done;
}

static void feed(struct tc *t);

static void
on_req_consumed(void *arg, size_t n)
{
    struct tc *t = arg;

    check_reentry();
    if (t->done || t->cancelled)
        t->after_done++;
    t->consumed += n;
    if (t->up_total > 0)
        feed(t);
}

static void
on_done(void *arg, int rc, const char *errmsg)
{
    struct tc *t = arg;

    check_reentry();
    if (t->done || t->cancelled)
        t->after_done++;
    t->done = true;
    t->rc = rc;
    snprintf(t->errmsg, sizeof(t->errmsg), "%s", errmsg ? errmsg : "");
    t->u = NULL;
    loop_stop(L);
}

static const struct upstream_cbs cbs = {on_head, on_body, on_trailers,
                                        on_req_consumed, on_done};

/* Writes the upload pattern until the queue refuses bytes. */
static void
feed(struct tc *t)
{
    static uint8_t buf[65536];

    if (t->u == NULL || t->up_ended)
        return;
    while (t->up_off < t->up_total) {
        size_t n = sizeof(buf), i, k;

        if (t->up_chunk)
            n = 1000 + (size_t)(t->up_off % 50000); /* odd slices */
        if (n > sizeof(buf))
            n = sizeof(buf);
        if (n > t->up_total - t->up_off)
            n = (size_t)(t->up_total - t->up_off);
        for (i = 0; i < n; i++)
            buf[i] = upload_pattern(t->up_off + i);
        in_api = true;
        k = upstream_write_body(t->u, buf, n);
        in_api = false;
        t->up_off += k;
        if (k < n) {
            t->short_writes++;
            return; /* wait for on_req_consumed */
        }
    }
    in_api = true;
    upstream_end_body(t->u);
    in_api = false;
    t->up_ended = true;
}

static struct upstream_target tgt;
/* The request's authority; NULL: the worker sends host[:port] itself. */
static const char *req_authority = "origin.test";

/* Starts a request on the default target; runs the loop until it is done
 * (or |ms| pass). */
static void
request_ex(struct tc *t, const struct upstream_target *target,
           const char *method, const char *path, const struct hdr_list *f,
           bool has_body, int64_t clen, uint64_t ms)
{
    struct upstream_req r;

    memset(&r, 0, sizeof(r));
    r.method = method;
    r.path = path;
    r.authority = req_authority;
    r.fields = f;
    r.content_length = clen;
    r.has_body = has_body;
    in_api = true;
    t->u = upstream_start(M, target, &r, &cbs, t);
    in_api = false;
    if (t->up_total > 0)
        feed(t);
    if (ms > 0 && !t->done)
        run_for(ms);
}

static void
request(struct tc *t, const char *method, const char *path)
{
    request_ex(t, &tgt, method, path, NULL, false, -1, 10000);
}

static const char *
field(const struct hdr_list *l, const char *name)
{
    const struct hdr *h = hdr_get(l, name);

    return h != NULL ? h->value : NULL;
}

static bool
body_is(const struct tc *t, const char *s)
{
    return t->body_len == strlen(s) && memcmp(t->body, s, t->body_len) == 0;
}

static bool
body_has(const struct tc *t, const char *s)
{
    size_t n = strlen(s);

    return n <= t->body_len && memmem(t->body, t->body_len, s, n) != NULL;
}

static bool
pattern_ok(const struct tc *t, size_t want)
{
    size_t i;

    if (t->body_len != want)
        return false;
    for (i = 0; i < want; i++) {
        if (t->body[i] != origin_pattern(i)) {
            diag("first difference at byte %zu", i);
            return false;
        }
    }
    return true;
}

/* True when the body ends with the first |n| upload pattern bytes. */
static bool
upload_tail_ok(const struct tc *t, size_t n)
{
    size_t i, off;

    if (t->body_len < n)
        return false;
    off = t->body_len - n;
    for (i = 0; i < n; i++) {
        if (t->body[off + i] != upload_pattern(i))
            return false;
    }
    return true;
}

/* ---- upstream tests ---- */

static void
test_basic(void)
{
    struct tc t;

    tc_init(&t);
    request(&t, "GET", "/hello");
    is_int(t.rc, 0, "GET /hello completes");
    is_int(t.nheads == 1 ? t.status[0] : -1, 200, "one final head, 200");
    ok(body_is(&t, "hello\n"), "body is hello");
    is_str(field(&t.head, "content-length"), "6", "content-length kept");
    tc_free(&t);

    tc_init(&t);
    request(&t, "HEAD", "/hello");
    is_int(t.rc, 0, "HEAD completes");
    is_int(t.nheads == 1 ? t.status[0] : -1, 200, "HEAD status 200");
    is_int(t.body_len, 0, "HEAD has no body");
    tc_free(&t);

    tc_init(&t);
    request(&t, "GET", "/status/404");
    is_int(t.rc, 0, "404 completes");
    is_int(t.status[0], 404, "404 passes through");
    ok(body_is(&t, "status 404\n"), "404 body");
    tc_free(&t);

    tc_init(&t);
    request(&t, "GET", "/chunked/200000");
    is_int(t.rc, 0, "chunked response completes");
    ok(pattern_ok(&t, 200000), "chunked body byte-exact");
    ok(field(&t.head, "transfer-encoding") == NULL,
       "transfer-encoding not reported");
    tc_free(&t);
}

static void
test_heads(void)
{
    struct tc t;

    tc_init(&t);
    request(&t, "GET", "/trailers");
    is_int(t.rc, 0, "trailers response completes");
    ok(body_is(&t, "trailers\n"), "body before trailers");
    is_str(field(&t.trailers, "x-trailer"), "yes", "trailer reported");
    ok(t.trailers_before_done, "trailers before on_done");
    ok(field(&t.head, "trailer") == NULL, "Trailer field removed (hop)");
    tc_free(&t);

    tc_init(&t);
    request(&t, "GET", "/headers");
    is_int(t.rc, 0, "headers response completes");
    is_str(field(&t.head, "x-kept"), "yes", "x-kept kept");
    ok(field(&t.head, "x-hop") == NULL, "x-hop (named by Connection) gone");
    ok(field(&t.head, "connection") == NULL, "connection gone");
    ok(field(&t.head, "keep-alive") == NULL, "keep-alive gone");
    is_str(field(&t.head, "content-type"), "text/plain",
           "names lower-cased, values kept");
    tc_free(&t);

    tc_init(&t);
    request(&t, "GET", "/early-hints");
    is_int(t.rc, 0, "early hints completes");
    is_int(t.nheads, 2, "two heads");
    ok(t.status[0] == 103 && !t.final[0], "103 reported non-final");
    is_str(field(&t.early, "link"), "</style.css>; rel=preload", "103 fields");
    ok(t.status[1] == 200 && t.final[1], "then the final 200");
    ok(field(&t.head, "link") == NULL, "103 fields not in the final head");
    ok(body_is(&t, "hints\n"), "early hints body");
    tc_free(&t);
}

static void
test_echo(void)
{
    struct upstream_target pt = tgt;
    struct hdr_list f;
    struct tc t;

    hdr_list_init(&f);
    hdr_add(&f, "x-custom", 8, "one", 3, 0);
    hdr_add(&f, "cookie", 6, "a=1", 3, 0);
    hdr_add(&f, "x-empty", 7, "", 0, 0);
    hdr_add(&f, "cookie", 6, "b=2", 3, 0);
    hdr_add(&f, "connection", 10, "x-custom", 8, 0); /* dropped */
    hdr_add(&f, "content-length", 14, "999", 3, 0);  /* ours wins */

    /* prefix + byte-exact target */
    pt.prefix = "/echo";
    tc_init(&t);
    request_ex(&t, &pt, "GET", "/a%20b/../c?x=%2F", &f, false, -1, 10000);
    is_int(t.rc, 0, "echo GET completes");
    ok(body_has(&t, "TARGET /echo/a%20b/../c?x=%2F\n"),
       "request target byte-exact with prefix");
    ok(body_has(&t, "\nHost: origin.test\n"), "Host from authority");
    {
        struct tc t2;
        char want[64];

        req_authority = NULL;
        tc_init(&t2);
        request_ex(&t2, &pt, "GET", "/", NULL, false, -1, 10000);
        snprintf(want, sizeof(want), "\nHost: %s:%d\n", pt.host, pt.port);
        ok(t2.rc == 0 && body_has(&t2, want),
           "no authority: Host is HOST:PORT");
        tc_free(&t2);
        req_authority = "origin.test";
    }
    ok(body_has(&t, "\nx-custom: one\n"), "field passed");
    ok(body_has(&t, "\nx-empty:\n") || body_has(&t, "\nx-empty: \n"),
       "empty field sent");
    ok(body_has(&t, "\ncookie: a=1; b=2\n"), "cookies joined");
    ok(!body_has(&t, "Accept:") && !body_has(&t, "Expect:") &&
           !body_has(&t, "User-Agent:") && !body_has(&t, "onnection:") &&
           !body_has(&t, "ength: 999"),
       "nothing but the caller's fields");
    if (t.rc != 0 || !body_has(&t, "cookie: a=1; b=2"))
        diag("echo: %.*s", (int)t.body_len, (const char *)t.body);
    tc_free(&t);

    /* a streamed chunked body */
    tc_init(&t);
    t.up_total = 70000;
    t.up_chunk = true;
    request_ex(&t, &tgt, "PUT", "/echo", NULL, true, -1, 10000);
    is_int(t.rc, 0, "chunked PUT completes");
    ok(body_has(&t, "METHOD PUT\n") &&
           body_has(&t, "\nTransfer-Encoding: chunked\n") &&
           !body_has(&t, "Expect:"),
       "PUT sent chunked without Expect");
    ok(upload_tail_ok(&t, 70000), "PUT body echoed byte-exact");
    is_int(t.consumed, 70000, "on_req_consumed adds up");
    tc_free(&t);

    /* the caller's Expect: 100-continue; the 100 is not reported */
    hdr_list_free(&f);
    hdr_add(&f, "expect", 6, "100-continue", 12, 0);
    tc_init(&t);
    t.up_total = 10;
    request_ex(&t, &tgt, "PUT", "/echo", &f, true, 10, 10000);
    ok(t.rc == 0 && t.nheads == 1 && t.status[0] == 200,
       "100 Continue dropped, final head only");
    ok(body_has(&t, "\nexpect: 100-continue\n") && upload_tail_ok(&t, 10),
       "Expect passed, body sent after 100");
    tc_free(&t);

    /* POST without a body */
    tc_init(&t);
    request(&t, "POST", "/echo");
    ok(body_has(&t, "METHOD POST\n") && body_has(&t, "\nContent-Length: 0\n"),
       "bodiless POST sends Content-Length: 0");
    tc_free(&t);

    /* DELETE, custom method */
    tc_init(&t);
    request(&t, "DELETE", "/echo");
    ok(body_has(&t, "METHOD DELETE\n"), "custom method");
    tc_free(&t);
    hdr_list_free(&f);
}

static void
upload(uint64_t size, int64_t clen, bool odd)
{
    char want[96];
    uint64_t h = 14695981039346656037ull, i;
    struct tc t;

    for (i = 0; i < size; i++) {
        h ^= upload_pattern(i);
        h *= 1099511628211ull;
    }
    snprintf(want, sizeof(want), "length=%llu fnv1a64=%016llx\n",
             (unsigned long long)size, (unsigned long long)h);
    tc_init(&t);
    t.up_total = size;
    t.up_chunk = odd;
    request_ex(&t, &tgt, "POST", "/sha256", NULL, true, clen, 30000);
    is_int(t.rc, 0, "upload completes");
    ok(body_is(&t, want), "upload checksum matches (%s)",
       clen >= 0 ? "content-length" : "chunked");
    if (!body_is(&t, want))
        diag("got \"%.*s\" want \"%s\"", (int)t.body_len, (char *)t.body, want);
    ok(t.short_writes > 0, "write_body applied back-pressure (%d times)",
       t.short_writes);
    is_int(t.consumed, size, "consumed bytes add up");
    tc_free(&t);
}

static void
test_backpressure(void)
{
    struct tc t;

    tc_init(&t);
    t.throttle = true;
    request_ex(&t, &tgt, "GET", "/bytes/3000000", NULL, false, -1, 60000);
    is_int(t.rc, 0, "throttled download completes");
    ok(pattern_ok(&t, 3000000), "throttled body byte-exact, in order");
    ok(t.partial > 10 && t.zero > 10, "partial (%d) and zero (%d) takes",
       t.partial, t.zero);
    tc_free(&t);

    tc_init(&t);
    t.throttle = true;
    request_ex(&t, &tgt, "GET", "/chunked/1000000", NULL, false, -1, 60000);
    ok(t.rc == 0 && pattern_ok(&t, 1000000),
       "throttled chunked body byte-exact");
    tc_free(&t);
}

static void
test_errors(void)
{
    struct upstream_target bad = tgt;
    struct hdr_list f;
    char want[64];
    uint64_t t0;
    struct tc t;

    bad.port = closed_port();
    bad.unix_path = NULL;
    snprintf(want, sizeof(want), "upstream 127.0.0.1:%d: ", bad.port);
    tc_init(&t);
    request_ex(&t, &bad, "GET", "/hello", NULL, false, -1, 10000);
    is_int(t.rc, PTTH_EIO, "refused: PTTH_EIO");
    ok(strncmp(t.errmsg, want, strlen(want)) == 0 &&
           strstr(t.errmsg, "Connection refused") != NULL,
       "refused message names the upstream: %s", t.errmsg);
    is_int(t.nheads, 0, "no head");
    tc_free(&t);

    tc_init(&t);
    bad = tgt;
    bad.timeout_ms = 300;
    t0 = mono_ms();
    request_ex(&t, &bad, "GET", "/slow/2000", NULL, false, -1, 10000);
    is_int(t.rc, PTTH_ELIMIT, "slow head: PTTH_ELIMIT");
    ok(mono_ms() - t0 < 1500, "timed out early (%llu ms): %s",
       (unsigned long long)(mono_ms() - t0), t.errmsg);
    tc_free(&t);

    tc_init(&t);
    request(&t, "GET", "/close");
    is_int(t.rc, PTTH_EIO, "closed without response: PTTH_EIO");
    ok(strstr(t.errmsg, "upstream 127.0.0.1:") == t.errmsg, "message: %s",
       t.errmsg);
    tc_free(&t);

    hdr_list_init(&f);
    hdr_add(&f, "x-bad", 5, "a\r\nb", 4, 0);
    tc_init(&t);
    request_ex(&t, &tgt, "GET", "/hello", &f, false, -1, 0);
    ok(!t.done, "bad field: no callback from upstream_start");
    run_for(5000);
    is_int(t.rc, PTTH_EIO, "bad field: PTTH_EIO from the loop");
    tc_free(&t);
    hdr_list_free(&f);
}

static void
test_short_body(void)
{
    struct tc t;

    tc_init(&t);
    t.up_total = 50; /* fewer than announced */
    request_ex(&t, &tgt, "POST", "/sha256", NULL, true, 100, 10000);
    ok(t.done && t.rc == PTTH_EIO, "body shorter than content-length: %s",
       t.errmsg);
    tc_free(&t);

    tc_init(&t);
    t.up_total = 150; /* more than announced: the extra is dropped */
    request_ex(&t, &tgt, "POST", "/sha256", NULL, true, 100, 10000);
    ok(t.rc == 0 && body_has(&t, "length=100 "),
       "body longer than content-length: exactly 100 bytes sent");
    tc_free(&t);

    tc_init(&t);
    request_ex(&t, &tgt, "POST", "/sha256", NULL, true, 0, 0);
    in_api = true;
    upstream_end_body(t.u);
    in_api = false;
    run_for(10000);
    ok(t.rc == 0 && body_is(&t, "length=0 fnv1a64=cbf29ce484222325\n"),
       "empty body with content-length 0");
    tc_free(&t);
}

static void
test_cancel(void)
{
    struct tc t;

    tc_init(&t);
    t.cancel_after = 100000;
    request_ex(&t, &tgt, "GET", "/bytes/20000000", NULL, false, -1, 10000);
    ok(t.cancelled && !t.done, "cancelled inside on_body");
    run_for(300);
    is_int(t.after_done, 0, "no callback after cancel");
    tc_free(&t);

    tc_init(&t);
    request_ex(&t, &tgt, "GET", "/hello", NULL, false, -1, 0);
    upstream_cancel(t.u);
    t.cancelled = true;
    run_for(200);
    ok(t.nheads == 0 && t.body_len == 0 && !t.done,
       "cancel right after start: no callbacks");
    tc_free(&t);

    /* a cancelled upload */
    tc_init(&t);
    t.up_total = 4000000;
    request_ex(&t, &tgt, "POST", "/sha256", NULL, true, 4000000, 0);
    run_for(20);
    if (t.u != NULL)
        upstream_cancel(t.u);
    t.cancelled = true;
    run_for(200);
    is_int(t.after_done, 0, "cancelled upload: no callbacks after");
    tc_free(&t);

    tc_init(&t);
    request(&t, "GET", "/hello");
    ok(t.rc == 0 && body_is(&t, "hello\n"), "requests work after cancels");
    tc_free(&t);
}

static void
test_localhost(void)
{
    struct upstream_target lt = tgt;
    struct tc t;
    int i, good = 0;

    /* Resolver thread, then maybe ::1 refused and 127.0.0.1 taken. */
    lt.host = "localhost";
    for (i = 0; i < 3; i++) {
        tc_init(&t);
        request_ex(&t, &lt, "GET", "/hello", NULL, false, -1, 10000);
        if (t.rc == 0 && body_is(&t, "hello\n"))
            good++;
        else
            diag("localhost: %s", t.errmsg);
        tc_free(&t);
    }
    is_int(good, 3, "host name target (resolver, fallback)");
}

static void
test_ipv6(void)
{
    struct upstream_target t6 = tgt;
    struct child o6;
    struct tc t;
    char want[64];
    const char *p;

    memset(&o6, 0, sizeof(o6));
    if (!start_origin(&o6, "--listen", "[::1]:0")) {
        skip(2, "no IPv6 loopback");
        return;
    }
    p = strrchr(o6.url, ':');
    t6.host = "::1";
    t6.port = p != NULL ? atoi(p + 1) : 0;
    tc_init(&t);
    request_ex(&t, &t6, "GET", "/hello", NULL, false, -1, 10000);
    ok(t.rc == 0 && body_is(&t, "hello\n"), "IPv6 literal target");
    tc_free(&t);
    req_authority = NULL;
    tc_init(&t);
    request_ex(&t, &t6, "GET", "/echo", NULL, false, -1, 10000);
    snprintf(want, sizeof(want), "\nHost: [::1]:%d\n", t6.port);
    ok(t.rc == 0 && body_has(&t, want), "no authority: Host [::1]:PORT");
    tc_free(&t);
    req_authority = "origin.test";
    stop_origin(&o6);
    tc_init(&t);
    request_ex(&t, &t6, "GET", "/hello", NULL, false, -1, 10000);
    snprintf(want, sizeof(want), "upstream [::1]:%d: ", t6.port);
    ok(t.rc == PTTH_EIO && strncmp(t.errmsg, want, strlen(want)) == 0,
       "IPv6 name in messages: %s", t.errmsg);
    tc_free(&t);
}

static void
test_unix(const char *path)
{
    struct upstream_target ut = tgt;
    struct tc t;

    ut.unix_path = path;
    tc_init(&t);
    request_ex(&t, &ut, "GET", "/hello", NULL, false, -1, 10000);
    ok(t.rc == 0 && body_is(&t, "hello\n"), "unix socket target");
    tc_free(&t);

    ut.unix_path = "/nonexistent/ptth-test.sock";
    tc_init(&t);
    request_ex(&t, &ut, "GET", "/hello", NULL, false, -1, 10000);
    ok(t.rc == PTTH_EIO &&
           strncmp(t.errmsg,
                   "upstream unix:/nonexistent/ptth-test.sock: ", 43) == 0,
       "missing unix socket: %s", t.errmsg);
    tc_free(&t);
}

/* Several requests at once on the shared multi. */
static int parallel_left;

static void
par_done(void *arg, int rc, const char *errmsg)
{
    struct tc *t = arg;

    (void)errmsg;
    t->done = true;
    t->rc = rc;
    if (--parallel_left == 0)
        loop_stop(L);
}

static void
test_parallel(void)
{
    static const struct upstream_cbs pcbs = {on_head, on_body, NULL, NULL,
                                             par_done};
    struct upstream_req r;
    struct tc t[8];
    int i, good = 0;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.path = "/bytes/100000";
    r.content_length = -1;
    parallel_left = 8;
    for (i = 0; i < 8; i++) {
        tc_init(&t[i]);
        t[i].u = upstream_start(M, &tgt, &r, &pcbs, &t[i]);
    }
    is_int(curlm_big_reads(M), CURLM_BIG_MAX,
           "the first transfers read big, the rest 16 KiB");
    run_for(20000);
    is_int(curlm_big_reads(M), 0, "finished transfers give big reads back");
    for (i = 0; i < 8; i++) {
        if (t[i].rc == 0 && pattern_ok(&t[i], 100000))
            good++;
        tc_free(&t[i]);
    }
    is_int(good, 8, "8 parallel requests byte-exact");

    /* The budget came back: a lone transfer reads big again. */
    tc_init(&t[0]);
    parallel_left = 1;
    r.path = "/bytes/3000000";
    t[0].u = upstream_start(M, &tgt, &r, &pcbs, &t[0]);
    is_int(curlm_big_reads(M), 1, "a lone transfer reads big");
    run_for(20000);
    ok(t[0].rc == 0 && pattern_ok(&t[0], 3000000),
       "3 MB read in big buffers, byte-exact");
    tc_free(&t[0]);
}

/* ---- dial tests ---- */

struct dres {
    bool done;
    int rc;
    char msg[256];
    struct dial *d;
    bool take_in_cb;
    struct xport x;
    int take_rc;
};

static void
dial_done(void *arg, int rc, const char *errmsg)
{
    struct dres *r = arg;

    check_reentry();
    r->done = true;
    r->rc = rc;
    snprintf(r->msg, sizeof(r->msg), "%s", errmsg ? errmsg : "");
    if (rc == 0 && r->take_in_cb)
        r->take_rc = dial_take_xport(r->d, &r->x);
    loop_stop(L);
}

struct rd {
    struct xport *x;
    char buf[64];
    long n;
};

static void
xrecv_cb(void *arg, int ev)
{
    struct rd *r = arg;
    long k;

    (void)ev;
    k = r->x->recv(r->x->arg, (uint8_t *)r->buf + r->n,
                   sizeof(r->buf) - 1 - (size_t)r->n);
    if (k == PTTH_EAGAIN)
        return;
    if (k > 0) {
        r->n += k;
        if (r->n < 4)
            return;
    } else {
        r->n = k == 0 ? -100 : k; /* EOF / error */
    }
    loop_stop(L);
}

/* Reads on the transport through an io_watch on x->fd (which only works
 * when curlm freed its own watch on that fd). */
static long
xport_read(struct xport *x, char *out, size_t outsz)
{
    struct rd r;
    struct io_watch *w;

    memset(&r, 0, sizeof(r));
    r.x = x;
    w = io_watch_new(L, x->fd, xrecv_cb, &r);
    if (w == NULL) {
        diag("io_watch_new on the dialled fd: %s", strerror(errno));
        return -1;
    }
    io_watch_set(w, IO_READ);
    run_for(3000);
    io_watch_free(w);
    if (r.n > 0) {
        memcpy(out, r.buf, (size_t)r.n);
        out[r.n] = '\0';
    }
    if (outsz > 0 && r.n <= 0)
        out[0] = '\0';
    return r.n;
}

static bool
read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;

        if (poll(&p, 1, 3000) <= 0)
            return false;
        k = read(fd, buf + got, n - got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static void
test_dial_direct(void)
{
    struct dres r;
    char buf[64], want[64];
    int port, lfd = listen_local(&port), afd;
    long n;

    memset(&r, 0, sizeof(r));
    r.take_in_cb = true;
    setenv("http_proxy", "http://127.0.0.1:9", 1); /* must be ignored */
    in_api = true;
    r.d = dial_start(M, "127.0.0.1", port, 3000, dial_done, &r);
    in_api = false;
    ok(!r.done, "dial: no callback from dial_start");
    run_for(5000);
    unsetenv("http_proxy");
    is_int(r.rc, 0, "dial to a listener succeeds (http_proxy ignored)");
    is_int(r.take_rc, 0, "dial_take_xport");
    if (r.rc != 0 || r.take_rc != 0) {
        diag("dial: %s", r.msg);
        skip(6, "no connection");
        close(lfd);
        return;
    }
    afd = accept(lfd, NULL, NULL);
    ok(r.x.send(r.x.arg, (const uint8_t *)"ping", 4) == 4 &&
           read_exact(afd, buf, 4) && memcmp(buf, "ping", 4) == 0,
       "xport send reaches the peer");
    if (write(afd, "pong", 4) != 4)
        diag("write failed");
    n = xport_read(&r.x, buf, sizeof(buf));
    ok(n == 4 && memcmp(buf, "pong", 4) == 0,
       "xport recv through an io_watch on the fd");
    is_int(r.x.recv(r.x.arg, (uint8_t *)buf, sizeof(buf)), PTTH_EAGAIN,
           "recv without data: PTTH_EAGAIN");
    ok(r.x.shutdown_write != NULL && r.x.shutdown_write(r.x.arg) == 0 &&
           read(afd, buf, sizeof(buf)) == 0,
       "shutdown_write: the peer sees EOF");
    close(afd);
    n = xport_read(&r.x, buf, sizeof(buf));
    is_int(n, -100, "peer close: recv returns 0 (EOF)");
    snprintf(want, sizeof(want), "%d", r.x.fd);
    r.x.close(r.x.arg);
    ok(fcntl(atoi(want), F_GETFD) < 0, "close releases the fd");
    close(lfd);
}

/* A CONNECT proxy on the loop: answers 200, then echoes. */
struct proxy {
    int lfd, fd;
    struct io_watch *lw, *w;
    char req[1024];
    size_t len;
    bool tunnel;
};

static void
proxy_io_cb(void *arg, int ev)
{
    struct proxy *p = arg;
    char buf[512];
    ssize_t k = read(p->fd, buf, sizeof(buf));

    (void)ev;
    if (k <= 0) {
        io_watch_set(p->w, 0);
        return;
    }
    if (p->tunnel) {
        if (write(p->fd, buf, (size_t)k) != k)
            diag("proxy echo failed");
        return;
    }
    if (p->len + (size_t)k >= sizeof(p->req))
        k = (ssize_t)(sizeof(p->req) - 1 - p->len);
    memcpy(p->req + p->len, buf, (size_t)k);
    p->len += (size_t)k;
    p->req[p->len] = '\0';
    if (strstr(p->req, "\r\n\r\n") != NULL) {
        static const char ok200[] =
            "HTTP/1.1 200 Connection established\r\n\r\n";
        if (write(p->fd, ok200, sizeof(ok200) - 1) < 0)
            diag("proxy write failed");
        p->tunnel = true;
    }
}

static void
proxy_accept_cb(void *arg, int ev)
{
    struct proxy *p = arg;

    (void)ev;
    if (p->fd >= 0)
        return;
    p->fd = accept(p->lfd, NULL, NULL);
    if (p->fd < 0)
        return;
    p->w = io_watch_new(L, p->fd, proxy_io_cb, p);
    io_watch_set(p->w, IO_READ);
}

static void
test_dial_proxy(void)
{
    struct proxy p;
    struct dres r;
    char buf[64], want[128], env[128];
    int pport, port;
    long n;

    memset(&p, 0, sizeof(p));
    p.fd = -1;
    p.lfd = listen_local(&pport);
    p.lw = io_watch_new(L, p.lfd, proxy_accept_cb, &p);
    io_watch_set(p.lw, IO_READ);
    port = closed_port(); /* the proxy never really connects */
    snprintf(env, sizeof(env), "http://127.0.0.1:%d", pport);
    setenv("HTTPS_PROXY", env, 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1); /* HTTPS_PROXY wins */
    memset(&r, 0, sizeof(r));
    r.take_in_cb = true;
    r.d = dial_start(M, "127.0.0.1", port, 3000, dial_done, &r);
    run_for(5000);
    is_int(r.rc, 0, "dial through an HTTPS_PROXY CONNECT tunnel");
    snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n", port);
    ok(strncmp(p.req, want, strlen(want)) == 0, "proxy saw CONNECT");
    if (r.rc == 0 && r.take_rc == 0) {
        ok(r.x.send(r.x.arg, (const uint8_t *)"tunl", 4) == 4,
           "send into the tunnel");
        n = xport_read(&r.x, buf, sizeof(buf));
        ok(n == 4 && memcmp(buf, "tunl", 4) == 0, "echo through the tunnel");
        r.x.close(r.x.arg);
    } else {
        diag("proxy dial: %s", r.msg);
        skip(2, "no tunnel");
    }
    io_watch_free(p.w);
    io_watch_free(p.lw);
    if (p.fd >= 0)
        close(p.fd);
    close(p.lfd);

    /* NO_PROXY: straight to a listener despite the dead proxy */
    {
        int lport, lfd = listen_local(&lport);

        setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
        setenv("NO_PROXY", "127.0.0.1", 1);
        memset(&r, 0, sizeof(r));
        r.take_in_cb = true;
        r.d = dial_start(M, "127.0.0.1", lport, 3000, dial_done, &r);
        run_for(5000);
        is_int(r.rc, 0, "NO_PROXY bypasses the proxy");
        if (r.rc == 0 && r.take_rc == 0)
            r.x.close(r.x.arg);
        unsetenv("NO_PROXY");
        close(lfd);
    }

    /* proxy refused: the message names the proxy without credentials */
    snprintf(env, sizeof(env), "http://user:secret@127.0.0.1:%d",
             closed_port());
    setenv("HTTPS_PROXY", env, 1);
    memset(&r, 0, sizeof(r));
    r.d = dial_start(M, "127.0.0.1", port, 3000, dial_done, &r);
    run_for(5000);
    is_int(r.rc, PTTH_EIO, "dead proxy: PTTH_EIO");
    ok(strstr(r.msg, " via proxy http://127.0.0.1:") != NULL &&
           strstr(r.msg, "secret") == NULL &&
           strstr(r.msg, "Connection refused") != NULL,
       "proxy message without credentials: %s", r.msg);
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
}

static void
test_dial_fail(void)
{
    struct dres r;
    char want[128];
    int port = closed_port();

    memset(&r, 0, sizeof(r));
    r.d = dial_start(M, "127.0.0.1", port, 3000, dial_done, &r);
    run_for(5000);
    is_int(r.rc, PTTH_EIO, "dial to a closed port: PTTH_EIO");
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection refused",
             port);
    is_str(r.msg, want, "dial error message");

    memset(&r, 0, sizeof(r));
    r.d = dial_start(M, "127.0.0.1", port, 3000, dial_done, &r);
    dial_cancel(r.d);
    run_for(200);
    ok(!r.done, "dial_cancel: no callback");

    /* success not taken: dial_cancel releases it */
    {
        int lport, lfd = listen_local(&lport);

        memset(&r, 0, sizeof(r));
        r.d = dial_start(M, "127.0.0.1", lport, 3000, dial_done, &r);
        run_for(5000);
        ok(r.rc == 0, "dial ok");
        dial_cancel(r.d);
        close(lfd);
    }
}

int
main(void)
{
    struct child origin, uorigin;
    char upath[128];
    int port = 0;
    char *p;

    bail_out_after(240);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&origin, 0, sizeof(origin));
    memset(&uorigin, 0, sizeof(uorigin));
    snprintf(upath, sizeof(upath), "/tmp/ptth-origin-%d.sock", (int)getpid());
    if (!start_origin(&origin, "--listen", "127.0.0.1:0"))
        skip_all("origin helper not available (set ORIGIN)");
    if (!start_origin(&uorigin, "--unix", upath)) {
        stop_origin(&origin);
        skip_all("origin helper cannot listen on a unix socket");
    }
    plan(108);
    p = strrchr(origin.url, ':');
    if (p != NULL)
        port = atoi(p + 1);
    L = loop_new();
    M = curlm_new(L);
    memset(&tgt, 0, sizeof(tgt));
    tgt.scheme = "http";
    tgt.host = "127.0.0.1";
    tgt.port = port;
    tgt.prefix = "";
    tgt.timeout_ms = 5000;

    test_basic();
    test_heads();
    test_echo();
    upload(5u * 1024 * 1024, 5 * 1024 * 1024, false);
    upload(2u * 1024 * 1024 + 17, -1, true);
    test_backpressure();
    test_errors();
    test_short_body();
    test_cancel();
    test_unix(upath);
    test_localhost();
    test_ipv6();
    test_parallel();
    test_dial_direct();
    test_dial_proxy();
    test_dial_fail();
    is_int(api_reentry, 0, "no callback from inside an API call");

    curlm_free(M);
    loop_free(L);
    stop_origin(&origin);
    stop_origin(&uorigin);
    unlink(upath);
    curl_global_cleanup();
    return done_testing();
}
