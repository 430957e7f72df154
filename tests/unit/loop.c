/* SPDX-License-Identifier: MIT
 * tests/unit/loop.c - fd watchers, timers, deferred queue, signals,
 * child processes. Every run is bounded by a watchdog timer. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#include "../lib/tap.h"

static struct loop *L;
static bool timed_out;

static void
watchdog_cb(void *arg)
{
    (void)arg;
    timed_out = true;
    loop_stop(L);
}

/* Runs the loop until a callback stops it or |ms| pass. Returns true
 * when stopped by a callback. */
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

static void
stop_cb(void *arg)
{
    (void)arg;
    loop_stop(L);
}

static void
must_socketpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        exit(99);
    }
}

/* ---- fd watchers ---- */

struct pingpong {
    int fd;
    struct io_watch *w;
    char log[64];
    char got[8];
};

static void
pp_append(struct pingpong *p, const char *s)
{
    strncat(p->log, s, sizeof(p->log) - strlen(p->log) - 1);
}

static void
ping_cb(void *arg, int ev)
{
    struct pingpong *p = arg;

    if (ev & IO_WRITE) {
        pp_append(p, "aW");
        if (write(p->fd, "ping", 4) != 4)
            pp_append(p, "!");
        io_watch_set(p->w, IO_READ);
    } else if (ev & IO_READ) {
        ssize_t n = read(p->fd, p->got, sizeof(p->got) - 1);
        p->got[n > 0 ? n : 0] = '\0';
        pp_append(p, "aR");
        loop_stop(L);
    }
}

static void
pong_cb(void *arg, int ev)
{
    struct pingpong *p = arg;
    char buf[8];

    if (ev & IO_READ) {
        ssize_t n = read(p->fd, buf, sizeof(buf));
        pp_append(p, n == 4 && memcmp(buf, "ping", 4) == 0 ? "bR" : "b?");
        if (write(p->fd, "pong", 4) != 4)
            pp_append(p, "!");
        io_watch_set(p->w, 0);
    }
}

static void
test_io_pingpong(void)
{
    int sv[2];
    struct pingpong a, b;

    must_socketpair(sv);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.fd = sv[0];
    b.fd = sv[1];
    a.w = io_watch_new(L, a.fd, ping_cb, &a);
    b.w = io_watch_new(L, b.fd, pong_cb, &b);
    ok(a.w != NULL && b.w != NULL, "io: watches created");
    ok(fcntl(a.fd, F_GETFL) & O_NONBLOCK, "io: fd made non-blocking");
    io_watch_set(a.w, IO_WRITE);
    io_watch_set(b.w, IO_READ);
    is_int(io_watch_events(a.w), IO_WRITE, "io: events recorded");
    ok(run_for(2000), "io: ping-pong finished");
    /* b may log its read before or after a's write callback returns */
    is_str(b.log, "bR", "io: peer saw readable ping");
    is_str(a.log, "aWaR", "io: writable, then readable after set");
    is_str(a.got, "pong", "io: exact bytes");
    is_int(io_watch_events(b.w), 0, "io: set(0) recorded");
    io_watch_free(a.w);
    io_watch_free(b.w);
    close(sv[0]);
    close(sv[1]);
}

struct counter {
    int calls, last_ev, fd;
    struct io_watch *w, *other;
    struct counter *peer;
};

static void
count_cb(void *arg, int ev)
{
    struct counter *c = arg;

    c->calls++;
    c->last_ev = ev;
}

static void
count_stop_cb(void *arg, int ev)
{
    count_cb(arg, ev);
    loop_stop(L);
}

static void
test_io_set_and_hangup(void)
{
    int sv[2];
    struct counter c;
    char buf[8];
    struct timer *t = timer_new(L, stop_cb, NULL);

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.w = io_watch_new(L, sv[0], count_stop_cb, &c);
    if (write(sv[1], "x", 1) != 1)
        diag("write failed");
    timer_start(t, 50, 0);
    ok(run_for(2000) && c.calls == 0,
       "io: no callback while not polling, data pending");
    io_watch_set(c.w, IO_READ);
    io_watch_set(c.w, IO_READ); /* unchanged: no-op */
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io: readable after io_watch_set(IO_READ)");
    if (read(sv[0], buf, sizeof(buf)) != 1)
        diag("read failed");
    io_watch_set(c.w, IO_READ | IO_WRITE);
    ok(run_for(2000) && c.calls == 2 && c.last_ev == IO_WRITE,
       "io: only the ready events are reported");
    io_watch_set(c.w, IO_READ);
    close(sv[1]);
    ok(run_for(2000) && c.calls == 3 && (c.last_ev & IO_READ),
       "io: hangup reported as readable");
    ok(read(sv[0], buf, sizeof(buf)) == 0, "io: read then sees EOF");
    io_watch_free(c.w);
    close(sv[0]);
    timer_free(t);
}

static void
test_io_error(void)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int fd, lfd, err = 0;
    struct counter c;

    /* a loopback port that just stopped listening refuses connections */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &slen) != 0) {
        skip(3, "no loopback TCP");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    close(lfd);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(&c, 0, sizeof(c));
    c.w = io_watch_new(L, fd, count_stop_cb, &c);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
        errno != EINPROGRESS) {
        diag("connect: %s", strerror(errno));
    }
    io_watch_set(c.w, IO_WRITE);
    slen = sizeof(err);
    ok(run_for(2000) && c.calls == 1 && c.last_ev == (IO_ERROR | IO_WRITE),
       "io: refused connect gives IO_ERROR with the requested bits");
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &slen);
    is_int(err, ECONNREFUSED, "io: caller sees the error");
    is_int(io_watch_events(c.w), 0, "io: watch stopped after IO_ERROR");
    io_watch_free(c.w);
    close(fd);
}

static void
test_io_new_errors(void)
{
    int sv[2], fd;
    struct io_watch *w, *w2;
    struct counter c;
    char path[] = "/tmp/ptth-loop-XXXXXX";

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    w = io_watch_new(L, sv[0], count_cb, &c);
    io_watch_set(w, IO_READ);
    errno = 0;
    w2 = io_watch_new(L, sv[0], count_cb, &c);
    ok(w2 == NULL && errno == EEXIST, "io: second active watch on fd: EEXIST");
    io_watch_free(w2);
    io_watch_free(w);
    close(sv[0]);
    close(sv[1]);

    fd = mkstemp(path);
    errno = 0;
    w = io_watch_new(L, fd, count_cb, &c);
    ok(w == NULL && errno == EPERM, "io: regular file cannot be polled");
    close(fd);
    unlink(path);

    /* A watch whose fd was closed under it, the number then reused: arming
     * it fails (curlm.c starts over with a new watch), where a silent
     * failure would leave the new fd unwatched. epoll only: libuv's polls
     * apply changes later. */
#if defined(__linux__) && !defined(PTTH_NO_EPOLL)
    must_socketpair(sv);
    w = io_watch_new(L, sv[0], count_cb, &c);
    close(sv[0]);
    close(sv[1]);
    must_socketpair(sv); /* sv[0] gets the same number, as a rule */
    errno = 0;
    ok(io_watch_set(w, IO_READ) == PTTH_EIO &&
           (errno == ENOENT || errno == EBADF) && io_watch_events(w) == 0,
       "io/set: an fd closed under its watch: PTTH_EIO, errno, unchanged");
    ok(io_watch_set(w, 0) == 0, "io/set: no change, no error");
    io_watch_free(w);
    w = io_watch_new(L, sv[0], count_cb, &c);
    ok(w != NULL && io_watch_set(w, IO_READ) == 0,
       "io/set: a new watch on the reused number arms");
    io_watch_free(w);
    close(sv[0]);
    close(sv[1]);
#else
    skip(3, "epoll only");
#endif
}

static void
self_free_cb(void *arg, int ev)
{
    struct counter *c = arg;

    (void)ev;
    c->calls++;
    io_watch_free(c->w); /* from inside its own callback */
    close(c->fd);
    c->w = NULL;
}

static void
free_other_cb(void *arg, int ev)
{
    struct counter *c = arg;

    (void)ev;
    c->calls++;
    io_watch_set(c->w, 0);
    if (c->peer->w != NULL) {
        io_watch_free(c->peer->w); /* pending event must not be delivered */
        c->peer->w = NULL;
    }
}

static void
test_io_free_in_callback(void)
{
    int sv[2], sv2[2], i;
    struct counter c, a, b;
    struct timer *t = timer_new(L, stop_cb, NULL);

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.fd = sv[0];
    c.w = io_watch_new(L, sv[0], self_free_cb, &c);
    io_watch_set(c.w, IO_WRITE);
    timer_start(t, 30, 0);
    run_for(2000);
    is_int(c.calls, 1, "io: watch freed in its own callback fires once");
    close(sv[1]);

    /* both writable in the same iteration; whichever runs frees the other */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    must_socketpair(sv);
    must_socketpair(sv2);
    a.peer = &b;
    b.peer = &a;
    a.w = io_watch_new(L, sv[0], free_other_cb, &a);
    b.w = io_watch_new(L, sv2[0], free_other_cb, &b);
    io_watch_set(a.w, IO_WRITE);
    io_watch_set(b.w, IO_WRITE);
    timer_start(t, 30, 0);
    run_for(2000);
    is_int(a.calls + b.calls, 1, "io: freed watch never fires again");
    io_watch_free(a.w);
    io_watch_free(b.w);

    /* the fd number is reused at once: a new watch must work */
    for (i = 0; i < 2; i++) {
        close(sv[i]);
        close(sv2[i]);
    }
    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.w = io_watch_new(L, sv[0], count_stop_cb, &c);
    ok(c.w != NULL, "io: new watch on a just-reused fd number");
    io_watch_set(c.w, IO_WRITE);
    ok(run_for(2000) && c.calls == 1, "io: reused fd watch fires");
    io_watch_free(c.w);
    close(sv[0]);
    close(sv[1]);
    timer_free(t);
}

/* ---- fd watches: many at once, set transitions, frees in dispatch ---- */

/* Runs the loop with no watchdog timer (a timer would keep it alive):
 * for checking that loop_run returns by itself. SIGALRM bails out (the
 * tap.h handler) if it does not. Returns the milliseconds it took. */
static uint64_t
run_alone(void)
{
    unsigned prev = alarm(10);
    uint64_t t0 = mono_ms();

    loop_run(L);
    t0 = mono_ms() - t0;
    alarm(prev > 0 ? prev : 60);
    return t0;
}

static double
cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* kind = idx % 4: 0 READ with data queued, 1 WRITE, 2 READ|WRITE with data
 * queued, 3 READ with nothing to read (must never be called). */
struct many {
    int idx, kind, sv[2], calls, ev, want_ev, nread;
    unsigned char buf[64];
    struct io_watch *w;
};

static int many_left;

static void
many_cb(void *arg, int ev)
{
    struct many *m = arg;
    unsigned char tag = (unsigned char)m->idx;

    m->calls++;
    m->ev = ev;
    if (ev & IO_READ)
        m->nread = (int)read(m->sv[0], m->buf, sizeof(m->buf));
    if ((ev & IO_WRITE) && write(m->sv[0], &tag, 1) != 1)
        m->nread = -100;
    io_watch_set(m->w, 0);
    if (--many_left == 0)
        loop_stop(L);
}

static void
test_io_many(int n)
{
    struct many *m = xcalloc((size_t)n, sizeof(*m));
    struct rlimit rl;
    int i, j, bad_calls = 0, bad_read = 0, bad_write = 0, bad_idle = 0;
    bool ran;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)(2 * n + 64)) {
        skip(5, "not enough file descriptors");
        free(m);
        return;
    }
    many_left = 0;
    for (i = 0; i < n; i++) {
        unsigned char payload[64];

        m[i].idx = i;
        m[i].kind = i % 4;
        must_socketpair(m[i].sv);
        m[i].w = io_watch_new(L, m[i].sv[0], many_cb, &m[i]);
        if (m[i].w == NULL) {
            diag("io_watch_new #%d: %s", i, strerror(errno));
            exit(99);
        }
        /* reader i gets 1 + i % 50 bytes, all equal to its index */
        memset(payload, i & 0xff, sizeof(payload));
        if (m[i].kind == 0 || m[i].kind == 2) {
            if (write(m[i].sv[1], payload, 1 + (size_t)(i % 50)) != 1 + i % 50)
                diag("payload write failed");
        }
        switch (m[i].kind) {
        case 0:
            m[i].want_ev = IO_READ;
            break;
        case 1:
            m[i].want_ev = IO_WRITE;
            break;
        case 2:
            m[i].want_ev = IO_READ | IO_WRITE;
            break;
        default:
            m[i].want_ev = 0;
            break;
        }
        io_watch_set(m[i].w, m[i].kind == 3 ? IO_READ : m[i].want_ev);
        if (m[i].kind != 3)
            many_left++;
    }
    ran = run_for(5000);
    ok(ran && many_left == 0, "io/many(%d): every ready watch called", n);
    for (i = 0; i < n; i++) {
        unsigned char tag = 0;

        if (m[i].kind == 3) {
            bad_idle += m[i].calls != 0;
        } else {
            bad_calls += m[i].calls != 1 || m[i].ev != m[i].want_ev;
        }
        if (m[i].want_ev & IO_READ) {
            bool same = m[i].nread == 1 + i % 50;
            for (j = 0; same && j < m[i].nread; j++)
                same = m[i].buf[j] == (unsigned char)(i & 0xff);
            bad_read += !same;
        }
        if (m[i].want_ev & IO_WRITE) {
            bad_write += read(m[i].sv[1], &tag, 1) != 1 ||
                         tag != (unsigned char)(i & 0xff);
        }
    }
    is_int(bad_calls, 0,
           "io/many: each watch called once with exactly its events");
    is_int(bad_read, 0, "io/many: each reader read its own bytes");
    is_int(bad_write, 0, "io/many: each writer's byte reached its own peer");
    is_int(bad_idle, 0, "io/many: watches with nothing ready never called");
    for (i = 0; i < n; i++) {
        io_watch_free(m[i].w);
        close(m[i].sv[0]);
        close(m[i].sv[1]);
    }
    free(m);
}

/* Each step sets the watch, runs, and expects one callback with |want|
 * (or, for want 0, none within 30 ms). */
static void
set_step(struct counter *c, struct timer *t, int events, int want,
         const char *name)
{
    bool ran;

    io_watch_set(c->w, events);
    c->calls = 0;
    c->last_ev = 0;
    if (want == 0)
        timer_start(t, 30, 0);
    ran = run_for(2000);
    timer_stop(t);
    ok(ran && c->calls == (want != 0) && c->last_ev == want &&
           io_watch_events(c->w) == (events & (IO_READ | IO_WRITE)),
       "io/set: %s", name);
    if (c->calls != (want != 0) || c->last_ev != want)
        diag("  calls %d, last events %d, want %d", c->calls, c->last_ev, want);
}

static void
test_io_set_transitions(void)
{
    int sv[2];
    struct counter c;
    struct timer *t = timer_new(L, stop_cb, NULL);
    char buf[16];

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.w = io_watch_new(L, sv[0], count_stop_cb, &c);
    if (write(sv[1], "data", 4) != 4) /* sv[0]: readable and writable */
        diag("write failed");
    set_step(&c, t, IO_READ, IO_READ, "READ sees only READ");
    set_step(&c, t, IO_READ | IO_WRITE, IO_READ | IO_WRITE,
             "READ|WRITE sees both");
    set_step(&c, t, IO_WRITE, IO_WRITE, "WRITE sees only WRITE");
    set_step(&c, t, 0, 0, "0: no callback although both are ready");
    set_step(&c, t, IO_WRITE, IO_WRITE, "back to WRITE");
    set_step(&c, t, IO_READ | IO_WRITE, IO_READ | IO_WRITE,
             "back to READ|WRITE");
    set_step(&c, t, IO_READ, IO_READ, "back to READ");
    set_step(&c, t, 0, 0, "0 again");
    set_step(&c, t, IO_READ, IO_READ, "0 -> READ");
    set_step(&c, t, IO_READ | IO_ERROR, IO_READ, "IO_ERROR bit ignored");

    /* several changes between two runs: only the last counts */
    io_watch_set(c.w, 0);
    io_watch_set(c.w, IO_READ | IO_WRITE);
    io_watch_set(c.w, 0);
    set_step(&c, t, IO_WRITE, IO_WRITE, "changes without a run: last wins");
    io_watch_set(c.w, 0);
    set_step(&c, t, IO_READ, IO_READ, "0 and back without a run");

    /* nothing to read any more */
    if (read(sv[0], buf, sizeof(buf)) != 4)
        diag("read failed");
    set_step(&c, t, IO_READ | IO_WRITE, IO_WRITE,
             "drained: READ|WRITE sees only WRITE");
    set_step(&c, t, IO_READ, 0, "drained: READ sees nothing");
    if (write(sv[1], "more", 4) != 4)
        diag("write failed");
    c.calls = 0;
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io/set: READ armed earlier fires when data arrives");
    io_watch_free(c.w);
    close(sv[0]);
    close(sv[1]);
    timer_free(t);
}

/* Eight watches readable at once; the first callback frees the other
 * seven, closes their fds and puts new watches on (most likely) the same
 * fd numbers: the events already collected must reach nobody. */
#define FO_N 8

struct fo {
    int sv[2], calls, ev;
    struct io_watch *w;
};

static struct fo fos[FO_N], fresh[FO_N];
static int fo_first, fo_reused, fresh_left;

static void
fresh_cb(void *arg, int ev)
{
    struct fo *f = arg;

    f->calls++;
    f->ev = ev;
    io_watch_set(f->w, 0);
    if (--fresh_left == 0)
        loop_stop(L);
}

static void
fo_cb(void *arg, int ev)
{
    struct fo *f = arg;
    int i, j, k = 0;

    f->calls++;
    f->ev = ev;
    io_watch_set(f->w, 0);
    if (fo_first >= 0)
        return;
    fo_first = (int)(f - fos);
    for (i = 0; i < FO_N; i++) {
        if (i == fo_first)
            continue;
        io_watch_free(fos[i].w);
        fos[i].w = NULL;
        close(fos[i].sv[0]);
        close(fos[i].sv[1]);
    }
    for (i = 0; i < FO_N - 1; i++) {
        must_socketpair(fresh[i].sv);
        for (j = 0; j < FO_N; j++)
            k += j != fo_first && (fresh[i].sv[0] == fos[j].sv[0] ||
                                   fresh[i].sv[0] == fos[j].sv[1]);
        fresh[i].w = io_watch_new(L, fresh[i].sv[0], fresh_cb, &fresh[i]);
        io_watch_set(fresh[i].w, IO_READ); /* nothing to read yet */
    }
    fo_reused = k;
}

static void
test_io_free_others_in_dispatch(void)
{
    struct timer *t = timer_new(L, stop_cb, NULL);
    int i, calls = 0, fcalls = 0, made = 0, bad = 0;

    memset(fos, 0, sizeof(fos));
    memset(fresh, 0, sizeof(fresh));
    fo_first = -1;
    for (i = 0; i < FO_N; i++) {
        must_socketpair(fos[i].sv);
        fos[i].w = io_watch_new(L, fos[i].sv[0], fo_cb, &fos[i]);
        if (write(fos[i].sv[1], "r", 1) != 1)
            diag("write failed");
        io_watch_set(fos[i].w, IO_READ);
    }
    timer_start(t, 50, 0);
    run_for(2000);
    for (i = 0; i < FO_N; i++) {
        calls += fos[i].calls;
        fcalls += fresh[i].calls;
        made += fresh[i].w != NULL;
    }
    is_int(calls, 1,
           "io/free-others: watches freed in the same dispatch "
           "never called");
    ok(fo_first >= 0 && fos[fo_first].ev == IO_READ,
       "io/free-others: the first one saw IO_READ");
    is_int(made, FO_N - 1, "io/free-others: new watches created in callback");
    if (fo_reused == 0)
        diag("  (no fd number was reused; the stale-event check is weaker)");
    is_int(fcalls, 0,
           "io/free-others: stale events do not reach new watches on "
           "reused fd numbers");

    /* the new watches work */
    fresh_left = FO_N - 1;
    for (i = 0; i < FO_N - 1; i++) {
        if (write(fresh[i].sv[1], "n", 1) != 1)
            diag("write failed");
    }
    ok(run_for(2000) && fresh_left == 0,
       "io/free-others: every new watch fires");
    for (i = 0; i < FO_N - 1; i++)
        bad += fresh[i].calls != 1 || fresh[i].ev != IO_READ;
    is_int(bad, 0, "io/free-others: new watches called once with IO_READ");
    for (i = 0; i < FO_N - 1; i++) {
        io_watch_free(fresh[i].w);
        close(fresh[i].sv[0]);
        close(fresh[i].sv[1]);
    }
    io_watch_free(fos[fo_first].w);
    close(fos[fo_first].sv[0]);
    close(fos[fo_first].sv[1]);
    timer_free(t);
}

/* Freed inside its own callback while another watch is readable in the
 * same batch; then a new watch on the same (still open) fd from inside
 * the callback. */
struct selfy {
    int sv[2], calls, ev, renew_calls, other_calls;
    struct io_watch *w, *renew;
    bool renewed_ok;
};

static void
renew_cb(void *arg, int ev)
{
    struct selfy *s = arg;

    (void)ev;
    s->renew_calls++;
    io_watch_set(s->renew, 0);
}

static void
selfy_cb(void *arg, int ev)
{
    struct selfy *s = arg;

    s->calls++;
    s->ev = ev;
    io_watch_free(s->w);
    s->w = NULL;
    /* the fd is free to be watched again at once */
    s->renew = io_watch_new(L, s->sv[0], renew_cb, s);
    s->renewed_ok = s->renew != NULL;
}

static void
test_io_self_free_read(void)
{
    struct selfy a, b;
    struct timer *t = timer_new(L, stop_cb, NULL);
    char buf[8];

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    must_socketpair(a.sv);
    must_socketpair(b.sv);
    a.w = io_watch_new(L, a.sv[0], selfy_cb, &a);
    b.w = io_watch_new(L, b.sv[0], selfy_cb, &b);
    if (write(a.sv[1], "a", 1) != 1 || write(b.sv[1], "b", 1) != 1)
        diag("write failed");
    io_watch_set(a.w, IO_READ);
    io_watch_set(b.w, IO_READ);
    timer_start(t, 50, 0);
    run_for(2000);
    ok(a.calls == 1 && b.calls == 1 && a.ev == IO_READ && b.ev == IO_READ,
       "io/self-free: both readable watches called once, each freeing "
       "itself");
    ok(a.renewed_ok && b.renewed_ok,
       "io/self-free: new watch on the same fd from inside the callback");
    ok(a.renew_calls == 0 && b.renew_calls == 0,
       "io/self-free: new (unarmed) watch not called");
    io_watch_set(a.renew, IO_READ);
    timer_start(t, 50, 0);
    run_for(2000);
    is_int(a.renew_calls, 1, "io/self-free: the renewed watch fires");
    if (read(a.sv[0], buf, sizeof(buf)) != 1)
        diag("read failed");
    io_watch_free(a.renew);
    io_watch_free(b.renew);
    close(a.sv[0]);
    close(a.sv[1]);
    close(b.sv[0]);
    close(b.sv[1]);
    timer_free(t);
}

static void
test_io_new_errors_more(void)
{
    int sv[2], fd;
    struct io_watch *w, *w2;
    struct counter c;

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    close(sv[0]);
    close(sv[1]);
    errno = 0;
    w = io_watch_new(L, sv[0], count_cb, &c);
    ok(w == NULL && errno == EBADF, "io: closed fd gives EBADF");
    errno = 0;
    w = io_watch_new(L, -1, count_cb, &c);
    ok(w == NULL && errno == EBADF, "io: fd -1 gives EBADF");
    fd = open(".", O_RDONLY | O_DIRECTORY);
    errno = 0;
    w = io_watch_new(L, fd, count_cb, &c);
    ok(w == NULL && errno == EPERM, "io: a directory cannot be polled");
    if (fd >= 0)
        close(fd);

    /* the first watch exists but was never armed (epoll: it is in the set
     * from io_watch_new on; elsewhere loop.h promises EEXIST only for an
     * armed one) */
    must_socketpair(sv);
    w = io_watch_new(L, sv[0], count_stop_cb, &c);
#if !defined(__linux__) || defined(PTTH_NO_EPOLL) /* loop.c: LOOP_EPOLL */
    io_watch_set(w, IO_READ);
#endif
    errno = 0;
    w2 = io_watch_new(L, sv[0], count_cb, &c);
    ok(w != NULL && w2 == NULL && errno == EEXIST,
       "io: second watch on an fd while the first exists: EEXIST");
    if (write(sv[1], "x", 1) != 1)
        diag("write failed");
    io_watch_set(w, IO_READ);
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io: the first watch still works after a refused second one");
    io_watch_free(w);
    w2 = io_watch_new(L, sv[0], count_stop_cb, &c);
    ok(w2 != NULL, "io: a new watch once the first is freed");
    io_watch_set(w2, IO_READ);
    c.calls = 0;
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io: the new watch fires");
    io_watch_free(w2);
    close(sv[0]);
    close(sv[1]);
}

/* The loop must end by itself once no watch waits for anything. */
static void
disarm_cb(void *arg, int ev)
{
    struct counter *c = arg;

    c->calls++;
    c->last_ev = ev;
    io_watch_set(c->w, 0);
}

static void
free_self_io_cb(void *arg, int ev)
{
    struct counter *c = arg;

    c->calls++;
    c->last_ev = ev;
    io_watch_free(c->w);
    c->w = NULL;
}

static void
disarm_free_peer_cb(void *arg, int ev)
{
    struct counter *c = arg;

    c->calls++;
    c->last_ev = ev;
    io_watch_set(c->w, 0);
    if (c->peer->w != NULL) {
        io_watch_free(c->peer->w);
        c->peer->w = NULL;
    }
}

static void
test_io_loop_ends(void)
{
    int sv[2], sv2[2];
    struct counter c, d;
    uint64_t ms;

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.w = io_watch_new(L, sv[0], disarm_cb, &c);
    ms = run_alone();
    ok(c.calls == 0 && ms < 1000, "io/ends: unarmed watch: loop returns");
    io_watch_set(c.w, IO_WRITE);
    ms = run_alone();
    ok(c.calls == 1 && c.last_ev == IO_WRITE && ms < 1000,
       "io/ends: loop returns after the only watch is set to 0 (%llu ms)",
       (unsigned long long)ms);
    io_watch_set(c.w, IO_READ);
    io_watch_set(c.w, 0);
    ms = run_alone();
    ok(c.calls == 1 && ms < 1000, "io/ends: armed then set 0 before the run");
    io_watch_set(c.w, IO_READ);
    io_watch_free(c.w);
    ms = run_alone();
    ok(c.calls == 1 && ms < 1000, "io/ends: armed then freed before the run");

    c.w = io_watch_new(L, sv[0], free_self_io_cb, &c);
    io_watch_set(c.w, IO_WRITE);
    ms = run_alone();
    ok(c.calls == 2 && c.w == NULL && ms < 1000,
       "io/ends: loop returns after the only watch frees itself");

    /* two armed: the first disarms itself and frees the other */
    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    must_socketpair(sv2);
    c.peer = &d;
    d.peer = &c;
    c.w = io_watch_new(L, sv[0], disarm_free_peer_cb, &c);
    d.w = io_watch_new(L, sv2[0], disarm_free_peer_cb, &d);
    io_watch_set(c.w, IO_WRITE);
    io_watch_set(d.w, IO_WRITE);
    ms = run_alone();
    ok(c.calls + d.calls == 1 && ms < 1000,
       "io/ends: one disarms itself and frees the other: loop returns");
    io_watch_free(c.w);
    io_watch_free(d.w);

    /* a disarmed watch whose peer hung up does not keep the loop alive */
    memset(&c, 0, sizeof(c));
    c.w = io_watch_new(L, sv2[0], disarm_cb, &c);
    io_watch_set(c.w, IO_READ);
    io_watch_set(c.w, 0);
    close(sv2[1]);
    ms = run_alone();
    ok(c.calls == 0 && ms < 1000,
       "io/ends: disarmed watch with a hangup pending: loop returns");
    io_watch_free(c.w);
    close(sv2[0]);
    close(sv[0]);
    close(sv[1]);
}

static void
close_fd_cb(void *arg)
{
    int *fd = arg;

    close(*fd);
    *fd = -1;
}

static void
test_io_hangup_more(void)
{
    int sv[2], sv2[2];
    struct counter c, d;
    struct timer *t = timer_new(L, stop_cb, NULL);
    struct timer *closer = timer_new(L, close_fd_cb, &sv[1]);
    char buf[8];
    double cpu0, cpu;
    uint64_t t0, wall;

    /* hangup while the loop is waiting: closed from a timer */
    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.w = io_watch_new(L, sv[0], count_stop_cb, &c);
    io_watch_set(c.w, IO_READ);
    timer_start(closer, 20, 0);
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io/hangup: peer closed while waiting: exactly IO_READ");
    ok(read(sv[0], buf, sizeof(buf)) == 0, "io/hangup: read sees EOF");
    io_watch_free(c.w);
    close(sv[0]);

    /* half close (shutdown) is also just IO_READ */
    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    c.w = io_watch_new(L, sv[0], count_stop_cb, &c);
    io_watch_set(c.w, IO_READ);
    shutdown(sv[1], SHUT_WR);
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ &&
           read(sv[0], buf, sizeof(buf)) == 0,
       "io/hangup: peer shutdown(SHUT_WR): IO_READ, then EOF");
    io_watch_free(c.w);
    close(sv[0]);
    close(sv[1]);

    /* hangup while disarmed, with another watch armed so the loop polls:
     * not reported then, not lost later, and no busy loop meanwhile */
    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    must_socketpair(sv);
    must_socketpair(sv2);
    c.w = io_watch_new(L, sv[0], count_stop_cb, &c);
    d.w = io_watch_new(L, sv2[0], count_stop_cb, &d); /* never ready */
    io_watch_set(c.w, IO_READ);
    io_watch_set(c.w, 0);
    io_watch_set(d.w, IO_READ);
    close(sv[1]);
    sv[1] = -1;
    timer_start(t, 200, 0);
    cpu0 = cpu_ms();
    t0 = mono_ms();
    run_for(2000);
    cpu = cpu_ms() - cpu0;
    wall = mono_ms() - t0;
    ok(c.calls == 0 && d.calls == 0,
       "io/hangup: not reported to a disarmed watch");
    ok(cpu < (double)wall / 2,
       "io/hangup: disarmed watch's hangup does not spin the loop "
       "(%.0f ms CPU in %llu ms)",
       cpu, (unsigned long long)wall);
    io_watch_set(c.w, IO_READ);
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io/hangup: re-armed READ then sees the hangup as IO_READ");
    ok(read(sv[0], buf, sizeof(buf)) == 0, "io/hangup: and EOF");
    io_watch_free(c.w);
    io_watch_free(d.w);
    close(sv[0]);
    close(sv2[0]);
    close(sv2[1]);
    timer_free(closer);
    timer_free(t);
}

/* Both ready for READ|WRITE in one batch: whichever runs first narrows
 * the other to WRITE; the other's already collected event must then be
 * reported as WRITE only. */
static void
narrow_other_cb(void *arg, int ev)
{
    struct counter *c = arg;

    c->calls++;
    c->last_ev = ev;
    io_watch_set(c->w, 0);
    if (c->peer->calls == 0)
        io_watch_set(c->peer->w, IO_WRITE);
}

static void
test_io_narrowed_in_dispatch(void)
{
    int sv[2], sv2[2];
    struct counter a, b, *first, *second;
    struct timer *t = timer_new(L, stop_cb, NULL);

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    must_socketpair(sv);
    must_socketpair(sv2);
    a.peer = &b;
    b.peer = &a;
    a.w = io_watch_new(L, sv[0], narrow_other_cb, &a);
    b.w = io_watch_new(L, sv2[0], narrow_other_cb, &b);
    if (write(sv[1], "a", 1) != 1 || write(sv2[1], "b", 1) != 1)
        diag("write failed");
    io_watch_set(a.w, IO_READ | IO_WRITE);
    io_watch_set(b.w, IO_READ | IO_WRITE);
    timer_start(t, 50, 0);
    run_for(2000);
    first = a.last_ev == (IO_READ | IO_WRITE) ? &a : &b;
    second = first == &a ? &b : &a;
    ok(a.calls == 1 && b.calls == 1 && first->last_ev == (IO_READ | IO_WRITE),
       "io/narrow: both called once, the first with READ|WRITE");
    is_int(second->last_ev, IO_WRITE,
           "io/narrow: narrowed during the dispatch: only WRITE reported");
    io_watch_free(a.w);
    io_watch_free(b.w);
    close(sv[0]);
    close(sv[1]);
    close(sv2[0]);
    close(sv2[1]);
    timer_free(t);
}

/* A pipe's read end sees POLLHUP without POLLIN when the writer closes. */
static void
test_io_pipe_hangup(void)
{
    int p[2];
    struct counter c;
    struct timer *closer = timer_new(L, close_fd_cb, &p[1]);
    char buf[8];

    memset(&c, 0, sizeof(c));
    if (pipe(p) != 0) {
        perror("pipe");
        exit(99);
    }
    c.w = io_watch_new(L, p[0], count_stop_cb, &c);
    io_watch_set(c.w, IO_READ);
    timer_start(closer, 10, 0);
    ok(run_for(2000) && c.calls == 1 && c.last_ev == IO_READ,
       "io/hangup: pipe writer closed: IO_READ to the reader");
    ok(read(p[0], buf, sizeof(buf)) == 0, "io/hangup: pipe read sees EOF");
    io_watch_free(c.w);
    close(p[0]);
    timer_free(closer);
}

/* ---- timers ---- */

struct tfire {
    char order[16];
    uint64_t start, at[3];
    int n;
    struct timer *t;
    bool active_in_cb;
};

static struct tfire tf;

static void
order_cb(void *arg)
{
    const char *name = arg;
    int i = name[0] - 'a';

    strncat(tf.order, name, 1);
    tf.at[i] = loop_now_ms(L);
    if (++tf.n == 3)
        loop_stop(L);
}

static void
repeat_cb(void *arg)
{
    struct tfire *f = arg;

    f->active_in_cb = timer_active(f->t);
    if (++f->n == 3) {
        timer_stop(f->t);
        loop_stop(L);
    }
}

static void
oneshot_cb(void *arg)
{
    struct tfire *f = arg;

    f->active_in_cb = timer_active(f->t);
    f->n++;
}

static void
repeat_self_free_cb(void *arg)
{
    struct tfire *f = arg;

    if (++f->n == 2) {
        timer_free(f->t);
        f->t = NULL;
    }
}

static void
test_timers(void)
{
    struct timer *ta = timer_new(L, order_cb, "a");
    struct timer *tb = timer_new(L, order_cb, "b");
    struct timer *tc = timer_new(L, order_cb, "c");
    struct timer *stop = timer_new(L, stop_cb, NULL);
    struct tfire f;
    uint64_t t0;

    memset(&tf, 0, sizeof(tf));
    tf.start = loop_now_ms(L);
    timer_start(ta, 30, 0);
    timer_start(tb, 10, 0);
    timer_start(tc, 20, 0);
    ok(timer_active(ta), "timer: active after start");
    ok(run_for(2000), "timer: three timers fired");
    is_str(tf.order, "bca", "timer: fired in deadline order");
    ok(tf.at[1] >= tf.start + 10 && tf.at[2] >= tf.start + 20 &&
           tf.at[0] >= tf.start + 30,
       "timer: loop_now_ms not before the deadlines");
    ok(!timer_active(ta), "timer: one-shot inactive after firing");

    memset(&f, 0, sizeof(f));
    f.t = timer_new(L, repeat_cb, &f);
    t0 = loop_now_ms(L);
    timer_start(f.t, 5, 5);
    ok(run_for(2000) && f.n == 3 && f.active_in_cb,
       "timer: repeating timer fires 3 times, active in callback");
    ok(!timer_active(f.t) && loop_now_ms(L) >= t0 + 15,
       "timer: timer_stop disarms; repeats were spaced");
    timer_free(f.t);

    memset(&f, 0, sizeof(f));
    f.t = timer_new(L, oneshot_cb, &f);
    timer_start(f.t, 1, 0);
    timer_start(stop, 20, 0);
    run_for(2000);
    ok(f.n == 1 && !f.active_in_cb, "timer: one-shot inactive in callback");

    f.n = 0;
    timer_start(f.t, 5, 0);
    timer_stop(f.t);
    t0 = mono_ms();
    loop_run(L); /* nothing active: returns at once */
    ok(f.n == 0 && mono_ms() - t0 < 1000,
       "timer: stopped timer never fires; idle loop_run returns");
    timer_free(f.t);

    memset(&f, 0, sizeof(f));
    f.t = timer_new(L, repeat_self_free_cb, &f);
    timer_start(f.t, 1, 1);
    timer_start(stop, 30, 0);
    run_for(2000);
    is_int(f.n, 2, "timer: freed in its own callback, never fires again");

    timer_free(ta);
    timer_free(tb);
    timer_free(tc);
    timer_free(stop);
}

/* ---- deferred queue ---- */

struct dtest {
    struct deferred d;
    char *log;
    const char *name;
    int left;
    struct deferred *cancel;
    struct timer *mark; /* started (0 ms) on the first run: it fires at
                         * the start of the next iteration */
};

static char dlog[64];

static void
dlog_cb(void *arg)
{
    struct dtest *t = arg;

    strncat(dlog, t->name, sizeof(dlog) - strlen(dlog) - 1);
    if (t->cancel != NULL)
        loop_cancel(L, t->cancel);
}

static void
requeue_cb(void *arg)
{
    struct dtest *t = arg;

    if (--t->left > 0)
        loop_defer(L, &t->d);
    else
        loop_stop(L);
}

static void
free_self_cb(void *arg)
{
    struct dtest *t = arg;

    dlog_cb(t);
    free(t); /* frees the struct deferred that is running */
}

/* Late-queue tests: each entry logs its name, then queues its |next|
 * (ordinary or late) and, |left| times, itself again. */
struct ltest {
    struct deferred d;
    const char *name;
    struct ltest *next;
    bool next_late;
    int left;
    struct deferred *cancel;
    struct timer *mark; /* started (0 ms) on the first run: it fires at
                         * the start of the next iteration */
};

static void
ltest_cb(void *arg)
{
    struct ltest *t = arg;

    strncat(dlog, t->name, sizeof(dlog) - strlen(dlog) - 1);
    if (t->mark != NULL) {
        timer_start(t->mark, 0, 0);
        t->mark = NULL;
    }
    if (t->next != NULL) {
        if (t->next_late)
            loop_defer_late(L, &t->next->d);
        else
            loop_defer(L, &t->next->d);
    }
    if (t->left > 0) {
        t->left--;
        loop_defer(L, &t->d);
    }
    if (t->cancel != NULL)
        loop_cancel(L, t->cancel);
}

static void
ltest_mark_cb(void *arg)
{
    (void)arg;
    strncat(dlog, "|", sizeof(dlog) - strlen(dlog) - 1);
}

static void
test_deferred_late(void)
{
    struct ltest a, b, c, late, x, r;
    struct timer *mark = timer_new(L, ltest_mark_cb, NULL);
    struct ltest *all[] = {&a, &b, &c, &late, &x, &r};
    size_t i;

    for (i = 0; i < PTTH_ARRAY_LEN(all); i++) {
        memset(all[i], 0, sizeof(*all[i]));
        deferred_init(&all[i]->d, ltest_cb, all[i]);
    }
    a.name = "a";
    b.name = "b";
    c.name = "c";
    late.name = "L";
    x.name = "x";
    r.name = "r";

    /* A late entry waits for a whole chain of ordinary ones. */
    a.next = &b;
    b.next = &c;
    dlog[0] = '\0';
    loop_defer_late(L, &late.d);
    loop_defer(L, &a.d);
    loop_run(L);
    is_str(dlog, "abcL", "defer late: runs after a chain of ordinary entries");

    /* What a late entry queues runs after it, in the same iteration (the
     * 0 ms timer marks the next one). */
    memset(&a, 0, sizeof(a));
    deferred_init(&a.d, ltest_cb, &a);
    a.name = "a";
    late.next = &x;
    dlog[0] = '\0';
    a.mark = mark;
    loop_defer(L, &a.d);
    loop_defer_late(L, &late.d);
    loop_run(L);
    is_str(dlog, "aLx|",
           "defer late: its own queued work runs in the same turn");
    late.next = NULL;

    /* An entry queued again after it ran waits for the next iteration, so
     * a self-requeuing entry neither starves I/O nor the late queue. */
    r.left = 3;
    dlog[0] = '\0';
    r.mark = mark;
    loop_defer(L, &r.d);
    loop_defer_late(L, &late.d);
    loop_run(L);
    is_str(dlog, "rL|rrr", "defer late: a requeuing entry runs once a turn");

    /* Cancelling an entry set aside for the next iteration. */
    r.left = 1;
    r.next = &a;
    r.next_late = true;
    a.next = NULL;
    a.cancel = &r.d;
    dlog[0] = '\0';
    r.mark = mark;
    loop_defer(L, &r.d);
    loop_run(L);
    is_str(dlog, "ra|", "defer: an entry set aside can be cancelled");
    ok(!r.d.queued, "defer: ... and is no longer queued");
    timer_free(mark);
}

static struct deferred io_d;
static int io_d_seq, io_d_ran_at, io_t_ran_at;

static void
io_d_cb(void *arg)
{
    (void)arg;
    io_d_ran_at = ++io_d_seq;
}

static void
io_t_cb(void *arg)
{
    (void)arg;
    io_t_ran_at = ++io_d_seq;
    loop_stop(L);
}

static struct timer *io_t;

static void
defer_from_io_cb(void *arg, int ev)
{
    struct counter *c = arg;

    (void)ev;
    io_watch_set(c->w, 0);
    timer_start(io_t, 0, 0);
    loop_defer(L, &io_d);
}

static void
test_deferred(void)
{
    struct dtest a, b, c, r;
    struct dtest *heap;
    struct counter cnt;
    int sv[2];
    uint64_t t0;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    deferred_init(&a.d, dlog_cb, &a);
    deferred_init(&b.d, dlog_cb, &b);
    deferred_init(&c.d, dlog_cb, &c);
    a.name = "a";
    b.name = "b";
    c.name = "c";
    dlog[0] = '\0';
    loop_defer(L, &a.d);
    loop_defer(L, &b.d);
    loop_defer(L, &a.d); /* already queued: no-op */
    loop_defer(L, &c.d);
    ok(a.d.queued, "defer: marked queued");
    t0 = mono_ms();
    loop_run(L); /* the queue alone keeps the loop alive */
    is_str(dlog, "abc", "defer: FIFO, double queue is a no-op");
    ok(!a.d.queued && mono_ms() - t0 < 1000,
       "defer: loop_run drained and returned");

    dlog[0] = '\0';
    loop_defer(L, &a.d);
    loop_defer(L, &b.d);
    loop_defer(L, &c.d);
    loop_cancel(L, &b.d);
    loop_cancel(L, &b.d); /* not queued: no-op */
    ok(!b.d.queued, "defer: cancel unmarks");
    loop_run(L);
    is_str(dlog, "ac", "defer: cancelled entry does not run");

    dlog[0] = '\0';
    a.cancel = &c.d; /* cancelled by a while the queue drains */
    loop_defer(L, &a.d);
    loop_defer(L, &b.d);
    loop_defer(L, &c.d);
    loop_run(L);
    is_str(dlog, "ab", "defer: cancel from inside a running entry");
    a.cancel = NULL;
    loop_cancel(L, &c.d);

    memset(&r, 0, sizeof(r));
    deferred_init(&r.d, requeue_cb, &r);
    r.left = 1000;
    loop_defer(L, &r.d);
    t0 = mono_ms();
    ok(run_for(5000) && r.left == 0 && mono_ms() - t0 < 1000,
       "defer: 1000 self-requeues finish promptly (poll never blocks)");

    heap = xcalloc(1, sizeof(*heap));
    heap->name = "h";
    deferred_init(&heap->d, free_self_cb, heap);
    dlog[0] = '\0';
    loop_defer(L, &heap->d);
    loop_run(L);
    is_str(dlog, "h", "defer: entry may free its own struct");

    /* queued from an I/O callback: runs after that iteration's I/O,
     * before the next iteration's timers */
    memset(&cnt, 0, sizeof(cnt));
    must_socketpair(sv);
    io_t = timer_new(L, io_t_cb, NULL);
    deferred_init(&io_d, io_d_cb, NULL);
    cnt.w = io_watch_new(L, sv[0], defer_from_io_cb, &cnt);
    io_watch_set(cnt.w, IO_WRITE);
    io_d_seq = io_d_ran_at = io_t_ran_at = 0;
    ok(run_for(2000) && io_d_ran_at == 1 && io_t_ran_at == 2,
       "defer: queued in I/O runs in the same iteration");
    io_watch_free(cnt.w);
    timer_free(io_t);
    close(sv[0]);
    close(sv[1]);
}

/* ---- signals ---- */

struct sigtest {
    int n;
    struct sig_watch *s;
};

static void
sig_cb(void *arg)
{
    struct sigtest *t = arg;

    t->n++;
    loop_stop(L);
}

static void
sig_self_free_cb(void *arg)
{
    struct sigtest *t = arg;

    t->n++;
    sig_watch_free(t->s);
    t->s = NULL;
    loop_stop(L);
}

static void
test_signals(void)
{
    struct sigtest t;
    uint64_t t0;

    memset(&t, 0, sizeof(t));
    t.s = sig_watch_new(L, SIGUSR1, sig_cb, &t);
    ok(t.s != NULL, "signal: watcher created");
    t0 = mono_ms();
    loop_run(L); /* unref'd: must not keep the loop alive */
    ok(t.n == 0 && mono_ms() - t0 < 1000,
       "signal: watcher alone does not keep the loop alive");
    raise(SIGUSR1);
    ok(run_for(2000) && t.n == 1, "signal: raise(SIGUSR1) delivered");
    sig_watch_free(t.s);

    memset(&t, 0, sizeof(t));
    t.s = sig_watch_new(L, SIGUSR2, sig_self_free_cb, &t);
    raise(SIGUSR2);
    raise(SIGUSR2);
    ok(run_for(2000) && t.n == 1 && t.s == NULL,
       "signal: freed inside its own callback");
    errno = 0;
    ok(sig_watch_new(L, 12345, sig_cb, &t) == NULL && errno == EINVAL,
       "signal: bad signal number refused");
}

/* ---- child processes ---- */

struct spawn {
    int status, done, want;
};

static void
exit_seen_cb(void *arg, int status)
{
    struct spawn *s = arg;

    s->status = status;
    if (++s->done == s->want)
        loop_stop(L);
}

static int
run_shell(const char *cmd, char **env, int *pid)
{
    struct spawn s = {-1, 0, 1};
    int rc = loop_spawn_shell(L, cmd, env, exit_seen_cb, &s, pid);

    if (rc != 0)
        return 1000 + rc;
    if (!run_for(5000))
        return -1000;
    return s.status;
}

static void
test_spawn(void)
{
    char *env[] = {"FOO=bar", "PTTH_T=new", NULL};
    char *bad[] = {"NOEQUALS", NULL};
    int pid = 0;
    struct sigaction sa, old;

    is_int(run_shell("exit 3", NULL, &pid), 3, "spawn: exit status");
    ok(pid > 0, "spawn: pid returned");
    is_int(run_shell("kill -TERM $$", NULL, NULL), 128 + SIGTERM,
           "spawn: killed by SIGTERM gives 128+15");
    setenv("PTTH_T", "old", 1);
    setenv("PTTH_KEEP", "yes", 1);
    is_int(run_shell("test \"$FOO\" = bar && test \"$PTTH_T\" = new && "
                     "test \"$PTTH_KEEP\" = yes && "
                     "{ test ! -r /proc/$$/environ || test \"$(tr '\\0' "
                     "'\\n' < /proc/$$/environ | grep -c '^PTTH_T=')\" = 1; }",
                     env, NULL),
           0, "spawn: env_extra added and overriding, environ kept");
    is_int(loop_spawn_shell(L, "true", bad, exit_seen_cb, NULL, NULL),
           PTTH_EINVAL, "spawn: env entry without '=' refused");

    /* the child starts with default dispositions even if we ignore */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old);
    is_int(run_shell("kill -PIPE $$", NULL, NULL), 128 + SIGPIPE,
           "spawn: SIGPIPE default in the child");
    sigaction(SIGPIPE, &old, NULL);
}

/* ---- loop_free with open handles (leak check under valgrind/ASan) ---- */

static int freed_d_ran;

static void
freed_d_cb(void *arg)
{
    (void)arg;
    freed_d_ran++;
}

static void
test_free_with_open_handles(void)
{
    struct loop *l = loop_new();
    int sv[2];
    struct io_watch *w;
    struct timer *t;
    struct deferred d;
    struct counter c;

    memset(&c, 0, sizeof(c));
    must_socketpair(sv);
    w = io_watch_new(l, sv[0], count_cb, &c);
    io_watch_set(w, IO_READ);
    t = timer_new(l, stop_cb, NULL);
    timer_start(t, 100000, 0);
    sig_watch_new(l, SIGUSR1, sig_cb, NULL);
    deferred_init(&d, freed_d_cb, NULL);
    loop_defer(l, &d);
    loop_free(l); /* closes and frees w, t and the signal watcher */
    ok(freed_d_ran == 1 && c.calls == 0,
       "loop_free: runs queued work, closes open handles");
    close(sv[0]);
    close(sv[1]);
    loop_free(NULL);
}

int
main(void)
{
    const char *v;

    plan(123);
    bail_out_after(60); /* for the loop_run calls that must return alone */
    L = loop_new();
    ok(L != NULL, "loop_new");
    v = loop_library_version();
    ok(v != NULL && strncmp(v, "1.", 2) == 0, "libuv version %s", v);
    test_io_pingpong();
    test_io_set_and_hangup();
    test_io_error();
    test_io_new_errors();
    test_io_free_in_callback();
    test_io_many(50);
    test_io_many(400); /* more ready at once than one epoll_wait takes */
    test_io_set_transitions();
    test_io_free_others_in_dispatch();
    test_io_self_free_read();
    test_io_new_errors_more();
    test_io_loop_ends();
    test_io_hangup_more();
    test_io_narrowed_in_dispatch();
    test_io_pipe_hangup();
    test_timers();
    test_deferred();
    test_deferred_late();
    test_signals();
    test_spawn();
    test_free_with_open_handles();
    loop_free(L);
    return done_testing();
}
