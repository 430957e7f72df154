/* SPDX-License-Identifier: MIT
 * loop.c - libuv in fd mode. Every object embeds its uv handle, points
 * handle.data at itself and is freed only from the uv_close callback
 * (free_close_cb), so memory is never released while libuv still holds
 * the handle, and loop_free can close whatever is left with uv_walk. */
#include "config.h"

#include "loop.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* On Linux fd watches live in an epoll set of ours that libuv polls as
 * one fd; elsewhere, or built with --disable-epoll (which CI uses to test
 * that path), each watch is a uv_poll. */
#if defined(__linux__) && !defined(PTTH_NO_EPOLL)
#include <sys/epoll.h>
#define LOOP_EPOLL 1
#endif

#include <uv.h>

#include "util.h"

extern char **environ;

/* A FIFO of deferred entries, linked through deferred.next. */
struct dqueue {
    struct deferred *head, *tail;
    size_t len;
};

struct loop {
    uv_loop_t uv;
    uv_check_t check; /* drains the deferred queue after I/O; unref'd */
    uv_idle_t idle;   /* active only while the queue is non-empty, so the
                       * loop polls with a zero timeout and stays alive */
    struct dqueue ordinary, late;
    struct dqueue carry;  /* ordinary entries that ran in this drain and
                           * were queued again: back at its end */
    unsigned long drains; /* drains begun: deferred.ran */
#ifdef LOOP_EPOLL
    /* fd watches live in an epoll set of our own, itself polled by libuv:
     * changing what a watch waits for is then one epoll_ctl(MOD), where
     * uv_poll_start costs a DEL now and an ADD at the next poll. */
    int epfd;
    uv_poll_t ep;             /* active while narmed > 0 */
    size_t narmed;            /* watches waiting for something */
    int dispatching;          /* > 0 inside ep_cb's callbacks */
    struct io_watch *watches; /* every live watch, for loop_free */
    struct io_watch *dead;    /* freed during a dispatch: free after it */
#endif
};

#ifdef LOOP_EPOLL
struct io_watch {
    struct loop *l;
    int fd;
    io_cb *cb;
    void *arg;
    int events; /* IO_READ|IO_WRITE being polled for */
    bool freed;
    struct io_watch *prev, *next; /* l->watches, or l->dead once freed */
};
#else
struct io_watch {
    uv_poll_t h;
    io_cb *cb;
    void *arg;
    int events; /* IO_READ|IO_WRITE being polled for */
};
#endif

struct timer {
    uv_timer_t h;
    timer_cb *cb;
    void *arg;
};

struct sig_watch {
    uv_signal_t h;
    timer_cb *cb;
    void *arg;
};

struct child {
    uv_process_t h;
    exit_cb *cb;
    void *arg;
};

/* Close callback of every wrapper object: handle.data is the object. */
static void
free_close_cb(uv_handle_t *h)
{
    free(h->data);
}

/* ---- deferred queue ---- */

void
deferred_init(struct deferred *d, void (*fn)(void *arg), void *arg)
{
    d->next = NULL;
    d->fn = fn;
    d->arg = arg;
    d->queued = false;
    d->late = false;
    d->ran = 0;
}

static void
idle_cb(uv_idle_t *h)
{
    (void)h; /* exists only to keep poll from blocking */
}

static void
q_push(struct dqueue *q, struct deferred *d)
{
    d->next = NULL;
    if (q->tail != NULL)
        q->tail->next = d;
    else
        q->head = d;
    q->tail = d;
    q->len++;
}

static struct deferred *
q_pop(struct dqueue *q)
{
    struct deferred *d = q->head;

    if (d == NULL)
        return NULL;
    q->head = d->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    d->next = NULL;
    return d;
}

/* Unlinks d from q; false when d is not on q. */
static bool
q_remove(struct dqueue *q, struct deferred *d)
{
    struct deferred *prev = NULL, *cur;

    for (cur = q->head; cur != NULL; prev = cur, cur = cur->next) {
        if (cur != d)
            continue;
        if (prev != NULL)
            prev->next = d->next;
        else
            q->head = d->next;
        if (q->tail == d)
            q->tail = prev;
        q->len--;
        d->next = NULL;
        return true;
    }
    return false;
}

static void
idle_update(struct loop *l)
{
    if (l->ordinary.len + l->late.len > 0)
        uv_idle_start(&l->idle, idle_cb); /* no-op when active */
    else
        uv_idle_stop(&l->idle);
}

static void
enqueue(struct loop *l, struct deferred *d, bool late)
{
    if (d->queued)
        return;
    d->queued = true;
    d->late = late;
    q_push(late ? &l->late : &l->ordinary, d);
    idle_update(l);
}

void
loop_defer(struct loop *l, struct deferred *d)
{
    enqueue(l, d, false);
}

void
loop_defer_late(struct loop *l, struct deferred *d)
{
    enqueue(l, d, true);
}

void
loop_cancel(struct loop *l, struct deferred *d)
{
    if (!d->queued)
        return;
    if (!q_remove(&l->carry, d) &&
        !q_remove(d->late ? &l->late : &l->ordinary, d))
        assert(!"deferred marked queued but not on this loop");
    d->queued = false;
    idle_update(l);
}

/* One pass over a queue: runs the entries queued when it began (plus, if
 * some of those were cancelled meanwhile, as many newer ones); an
 * ordinary entry that already ran in this drain is set aside for the
 * next one (it stays marked queued, so loop_defer is a no-op and
 * loop_cancel finds it on the carry queue). */
static void
pass(struct loop *l, struct dqueue *q)
{
    size_t budget = q->len;
    struct deferred *d;

    while (budget-- > 0 && (d = q_pop(q)) != NULL) {
        if (!d->late && d->ran == l->drains) {
            q_push(&l->carry, d);
            continue;
        }
        d->ran = l->drains;
        d->queued = false;
        d->fn(d->arg); /* may free d */
    }
}

/* Ordinary entries first, late ones when no ordinary one is left; an
 * ordinary entry at most once, so a self-requeuing one cannot starve I/O
 * (late entries only flush what ordinary ones produced). */
static void
drain(struct loop *l)
{
    struct deferred *d;
    int passes;

    l->drains++;
    for (passes = 0; passes < DEFER_PASSES; passes++) {
        if (l->ordinary.head != NULL)
            pass(l, &l->ordinary);
        else if (l->late.head != NULL)
            pass(l, &l->late);
        else
            break;
    }
    while ((d = q_pop(&l->carry)) != NULL)
        q_push(&l->ordinary, d);
    idle_update(l);
}

static void
check_cb(uv_check_t *h)
{
    drain(h->data);
}

/* ---- the loop ---- */

struct loop *
loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    int rc = uv_loop_init(&l->uv);

    if (rc != 0) {
        free(l);
        errno = -rc;
        return NULL;
    }
    uv_check_init(&l->uv, &l->check);
    l->check.data = l;
    uv_check_start(&l->check, check_cb);
    uv_unref((uv_handle_t *)&l->check);
    uv_idle_init(&l->uv, &l->idle);
    l->idle.data = l;
#ifdef LOOP_EPOLL
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0 || (rc = uv_poll_init(&l->uv, &l->ep, l->epfd)) != 0) {
        int e = l->epfd < 0 ? errno : -rc;

        if (l->epfd >= 0)
            close(l->epfd);
        uv_close((uv_handle_t *)&l->check, NULL);
        uv_close((uv_handle_t *)&l->idle, NULL);
        uv_run(&l->uv, UV_RUN_DEFAULT);
        (void)uv_loop_close(&l->uv);
        free(l);
        errno = e;
        return NULL;
    }
    l->ep.data = l;
#endif
    return l;
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
    struct loop *l = arg;

    if (uv_is_closing(h) || h == (uv_handle_t *)&l->check ||
        h == (uv_handle_t *)&l->idle)
        return;
#ifdef LOOP_EPOLL
    if (h == (uv_handle_t *)&l->ep)
        return;
#endif
    uv_close(h, free_close_cb);
}

void
loop_free(struct loop *l)
{
    int rc;

    if (l == NULL)
        return;
    while (l->ordinary.head != NULL || l->late.head != NULL)
        drain(l);
    uv_close((uv_handle_t *)&l->check, NULL);
    uv_close((uv_handle_t *)&l->idle, NULL);
#ifdef LOOP_EPOLL
    while (l->watches != NULL)
        io_watch_free(l->watches);
    uv_close((uv_handle_t *)&l->ep, NULL);
#endif
    uv_walk(&l->uv, close_walk_cb, l);
    /* A loop_stop from clean-up code leaves the stop flag set and makes the
     * first run return at once; run until the closes are through. */
    while (uv_run(&l->uv, UV_RUN_DEFAULT) != 0)
        ;
    rc = uv_loop_close(&l->uv);
    assert(rc == 0);
    (void)rc;
#ifdef LOOP_EPOLL
    close(l->epfd);
#endif
    free(l);
}

int
loop_run(struct loop *l)
{
    uv_run(&l->uv, UV_RUN_DEFAULT);
    return 0;
}

void
loop_stop(struct loop *l)
{
    uv_stop(&l->uv);
}

uint64_t
loop_now_ms(struct loop *l)
{
    return uv_now(&l->uv);
}

const char *
loop_library_version(void)
{
    return uv_version_string();
}

/* ---- fd watchers ---- */

#ifdef LOOP_EPOLL

static void ep_cb(uv_poll_t *h, int status, int uvev);

static void
armed_delta(struct loop *l, int before, int after)
{
    if (before == 0 && after != 0 && l->narmed++ == 0)
        uv_poll_start(&l->ep, UV_READABLE, ep_cb);
    else if (before != 0 && after == 0 && --l->narmed == 0)
        uv_poll_stop(&l->ep);
}

/* A disarmed watch stays in the set edge-triggered with no events: only
 * an error or hangup wakes it, once, and dispatch ignores that. */
static int
ep_mod(struct io_watch *w, int op, int events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events == 0 ? EPOLLET : 0;
    if (events & IO_READ)
        ev.events |= EPOLLIN;
    if (events & IO_WRITE)
        ev.events |= EPOLLOUT;
    ev.data.ptr = w;
    return epoll_ctl(w->l->epfd, op, w->fd, &ev);
}

static void
ep_cb(uv_poll_t *h, int status, int uvev)
{
    struct loop *l = h->data;
    struct epoll_event evs[256];
    int i, n;

    (void)status;
    (void)uvev;
    do {
        n = epoll_wait(l->epfd, evs, (int)PTTH_ARRAY_LEN(evs), 0);
    } while (n < 0 && errno == EINTR);
    l->dispatching++;
    for (i = 0; i < n; i++) {
        struct io_watch *w = evs[i].data.ptr;
        uint32_t e = evs[i].events;
        int ev = 0;

        if (w->freed || w->events == 0)
            continue;
        if (e & EPOLLERR) {
            /* As libuv does: report what was asked for, and stop. */
            ev = IO_ERROR | w->events;
            io_watch_set(w, 0);
        } else {
            if (e & EPOLLIN)
                ev |= IO_READ;
            if (e & EPOLLOUT)
                ev |= IO_WRITE;
            if (e & EPOLLHUP)
                ev |= w->events;
            ev &= w->events;
            if (ev == 0)
                continue;
        }
        w->cb(w->arg, ev); /* may free w or others: see io_watch_free */
    }
    if (--l->dispatching == 0) {
        while (l->dead != NULL) {
            struct io_watch *w = l->dead;
            l->dead = w->next;
            free(w);
        }
    }
}

struct io_watch *
io_watch_new(struct loop *l, int fd, io_cb *cb, void *arg)
{
    struct io_watch *w;
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 ||
        (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return NULL;
    w = xcalloc(1, sizeof(*w));
    w->l = l;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    if (ep_mod(w, EPOLL_CTL_ADD, 0) != 0) { /* EEXIST, EPERM, EBADF */
        int e = errno;
        free(w);
        errno = e;
        return NULL;
    }
    w->next = l->watches;
    if (l->watches != NULL)
        l->watches->prev = w;
    l->watches = w;
    return w;
}

int
io_watch_set(struct io_watch *w, int events)
{
    events &= IO_READ | IO_WRITE;
    if (events == w->events || w->freed)
        return 0;
    if (ep_mod(w, EPOLL_CTL_MOD, events) != 0)
        return PTTH_EIO; /* the fd was closed (ENOENT, EBADF) */
    armed_delta(w->l, w->events, events);
    w->events = events;
    return 0;
}

int
io_watch_events(const struct io_watch *w)
{
    return w->events;
}

void
io_watch_free(struct io_watch *w)
{
    struct loop *l;

    if (w == NULL)
        return;
    l = w->l;
    armed_delta(l, w->events, 0);
    w->events = 0;
    w->freed = true;
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        l->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = NULL;
    if (l->dispatching > 0) { /* a collected event may still name it */
        w->next = l->dead;
        l->dead = w;
    } else {
        free(w);
    }
}

#else /* !LOOP_EPOLL: one uv_poll per watch */

static void
poll_cb(uv_poll_t *h, int status, int uvev)
{
    struct io_watch *w = h->data;
    int ev = 0;

    if (status < 0) {
        /* libuv has already stopped the handle (POLLERR). */
        ev = IO_ERROR | w->events;
        w->events = 0;
    } else {
        if (uvev & (UV_READABLE | UV_DISCONNECT))
            ev |= IO_READ;
        if (uvev & UV_WRITABLE)
            ev |= IO_WRITE;
        ev &= w->events;
        if (ev == 0)
            return;
    }
    w->cb(w->arg, ev); /* may free w: do not touch it afterwards */
}

struct io_watch *
io_watch_new(struct loop *l, int fd, io_cb *cb, void *arg)
{
    struct io_watch *w = xcalloc(1, sizeof(*w));
    int rc = uv_poll_init(&l->uv, &w->h, fd);

    if (rc != 0) {
        free(w); /* not initialised as a handle: nothing to close */
        errno = -rc;
        return NULL;
    }
    w->h.data = w;
    w->cb = cb;
    w->arg = arg;
    return w;
}

int
io_watch_set(struct io_watch *w, int events)
{
    int uvev = 0, rc;

    events &= IO_READ | IO_WRITE;
    if (events == w->events)
        return 0;
    w->events = events;
    if (events == 0) {
        uv_poll_stop(&w->h);
        return 0;
    }
    if (events & IO_READ)
        uvev |= UV_READABLE;
    if (events & IO_WRITE)
        uvev |= UV_WRITABLE;
    if ((rc = uv_poll_start(&w->h, uvev, poll_cb)) != 0) {
        errno = -rc;
        return PTTH_EIO;
    }
    return 0;
}

int
io_watch_events(const struct io_watch *w)
{
    return w->events;
}

void
io_watch_free(struct io_watch *w)
{
    if (w == NULL)
        return;
    w->events = 0;
    uv_close((uv_handle_t *)&w->h, free_close_cb); /* stops the poll now */
}

#endif /* LOOP_EPOLL */

/* ---- timers ---- */

static void
timer_fire_cb(uv_timer_t *h)
{
    struct timer *t = h->data;

    t->cb(t->arg); /* may free t */
}

struct timer *
timer_new(struct loop *l, timer_cb *cb, void *arg)
{
    struct timer *t = xcalloc(1, sizeof(*t));

    uv_timer_init(&l->uv, &t->h);
    t->h.data = t;
    t->cb = cb;
    t->arg = arg;
    return t;
}

void
timer_start(struct timer *t, uint64_t timeout_ms, uint64_t repeat_ms)
{
    uv_timer_start(&t->h, timer_fire_cb, timeout_ms, repeat_ms);
}

void
timer_stop(struct timer *t)
{
    if (t == NULL)
        return;
    uv_timer_stop(&t->h);
}

bool
timer_active(const struct timer *t)
{
    return uv_is_active((const uv_handle_t *)&t->h) != 0;
}

void
timer_free(struct timer *t)
{
    if (t == NULL)
        return;
    uv_close((uv_handle_t *)&t->h, free_close_cb);
}

/* ---- signals ---- */

static void
signal_fire_cb(uv_signal_t *h, int signum)
{
    struct sig_watch *s = h->data;

    (void)signum;
    s->cb(s->arg); /* may free s */
}

struct sig_watch *
sig_watch_new(struct loop *l, int signum, timer_cb *cb, void *arg)
{
    struct sig_watch *s = xcalloc(1, sizeof(*s));
    int rc = uv_signal_init(&l->uv, &s->h);

    if (rc != 0) {
        free(s); /* init failed before the handle was registered */
        errno = -rc;
        return NULL;
    }
    s->h.data = s;
    s->cb = cb;
    s->arg = arg;
    rc = uv_signal_start(&s->h, signal_fire_cb, signum);
    if (rc != 0) {
        uv_close((uv_handle_t *)&s->h, free_close_cb);
        errno = -rc;
        return NULL;
    }
    uv_unref((uv_handle_t *)&s->h);
    return s;
}

void
sig_watch_free(struct sig_watch *s)
{
    if (s == NULL)
        return;
    uv_close((uv_handle_t *)&s->h, free_close_cb);
}

/* ---- child processes ---- */

static void
child_exit_cb(uv_process_t *h, int64_t exit_status, int term_signal)
{
    struct child *c = h->data;
    int status = term_signal != 0 ? 128 + term_signal : (int)exit_status;

    c->cb(c->arg, status);
    uv_close((uv_handle_t *)&c->h, free_close_cb);
}

/* True when |entry| ("NAME=...") sets the variable named in |var|. */
static bool
same_name(const char *entry, const char *var)
{
    size_t n = strcspn(var, "=");

    return strncmp(entry, var, n) == 0 && entry[n] == '=';
}

/* Returns environ minus the names in |extra|, plus |extra| (borrowed
 * strings; free only the array), or NULL when an entry lacks '='. */
static char **
merge_env(char **extra)
{
    size_t n = 0, m = 0, i, j, k = 0;
    char **env;

    while (environ != NULL && environ[n] != NULL)
        n++;
    while (extra != NULL && extra[m] != NULL) {
        if (strchr(extra[m], '=') == NULL || extra[m][0] == '=')
            return NULL;
        m++;
    }
    env = xcalloc(n + m + 1, sizeof(*env));
    for (i = 0; i < n; i++) {
        for (j = 0; j < m; j++) {
            if (same_name(environ[i], extra[j]))
                break;
        }
        if (j == m)
            env[k++] = environ[i];
    }
    for (j = 0; j < m; j++)
        env[k++] = extra[j];
    env[k] = NULL;
    return env;
}

int
loop_spawn_shell(struct loop *l, const char *cmd, char **env_extra, exit_cb *cb,
                 void *arg, int *pid_out)
{
    char *args[4];
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    struct child *c;
    char **env;
    int rc, i;

    env = merge_env(env_extra);
    if (env == NULL)
        return PTTH_EINVAL;
    args[0] = "/bin/sh";
    args[1] = "-c";
    args[2] = (char *)cmd;
    args[3] = NULL;
    for (i = 0; i < 3; i++) {
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
    }
    memset(&opt, 0, sizeof(opt));
    opt.exit_cb = child_exit_cb;
    opt.file = args[0];
    opt.args = args;
    opt.env = env;
    opt.stdio_count = 3;
    opt.stdio = stdio;

    c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->arg = arg;
    /* uv_spawn returns after the child has exec'd, so env may go now. */
    rc = uv_spawn(&l->uv, &c->h, &opt);
    c->h.data = c;
    free(env);
    if (rc != 0) {
        /* the handle is initialised even on failure: close it */
        uv_close((uv_handle_t *)&c->h, free_close_cb);
        errno = -rc;
        return PTTH_EIO;
    }
    if (pid_out != NULL)
        *pid_out = c->h.pid;
    return 0;
}
