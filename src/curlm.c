/* SPDX-License-Identifier: MIT
 * curlm.c - libcurl multi_socket on the loop (after curl's
 * docs/examples/multi-uv.c). Every socket curl asks about gets a struct
 * csock holding one io_watch, found by fd number in m->byfd.
 *
 * Most sockets lose their watch on CURL_POLL_REMOVE, so the fd number is
 * free for a new watch at once: another owner (conn.c on a dialled socket)
 * or curl itself when it reuses the number. The exception saves four
 * system calls per request (fcntl, EPOLL_CTL_ADD, _MOD, _DEL): a
 * keep-alive connection that curl puts back in its cache after each
 * transfer. Sockets that curlm_keep_sockets handles open through
 * open_sock_cb and close through close_sock_cb, so their whole life is
 * seen here; once such a socket has been polled for reading it is the
 * connection's active one (over TCP or a unix socket curl polls a
 * connecting socket for writing only, and ptth pins HTTP/1.1), and libcurl
 * 7.88 closes active sockets through the close callback only (cf-socket.c;
 * a happy-eyeballs loser, never polled for reading, bypasses it; checked
 * against 7.88.1, whose later versions route more closes through it). Such a
 * socket is "parked" on REMOVE: its watch stays as it was, and the next
 * transfer on it usually asks for the same events (no system call). An
 * event on a parked socket disarms it (one call), without waking curl. */
#include "config.h"

#include "curlm.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "curl_dl.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#if CURLPAUSE_RECV != CURLM_KEEP_RECV || CURLPAUSE_SEND != CURLM_KEEP_SEND
#error "CURLM_KEEP_* must match libcurl's CURLPAUSE_* bits"
#endif

struct csock {
    struct curlm *m;
    curl_socket_t fd;
    struct io_watch *w; /* NULL when the fd could not be watched */
    int want;           /* IO_READ|IO_WRITE curl asked for; 0: parked */
    bool opened;        /* by open_sock_cb: its close is seen here */
    bool connected;     /* polled for reading: may be parked */
};

/* One per added easy handle; CURLOPT_PRIVATE points here. */
struct xfer {
    struct curlm *m;
    CURL *easy;
    curlm_done_fn *done;
    curlm_pause_fn *pause;
    void *arg;
    int result;
    bool big; /* holds one of m's CURLM_BIG_MAX big reads */
    struct deferred done_d;
    struct deferred unpause_d;
    struct xfer *prev, *next;
};

struct curlm {
    struct loop *loop;
    CURLM *multi;
    struct timer *timer;
    struct deferred kick; /* a 0 ms timeout: runs after this I/O round */
    struct csock **byfd;  /* fd number -> its csock or NULL */
    size_t nbyfd;
    struct xfer *xfers;
    int depth;                 /* > 0 while libcurl runs (and may call back) */
    int nbig;                  /* transfers with x->big */
    CURL *idle[EASY_POOL_MAX]; /* finished handles kept for reuse */
    int nidle;
};

void *
curlm_easy_get(struct curlm *m, bool *fresh)
{
    *fresh = m->nidle == 0;
    if (m->nidle > 0)
        return m->idle[--m->nidle];
    return curl_easy_init();
}

void
curlm_easy_put(struct curlm *m, void *easy)
{
    if (easy == NULL)
        return;
    if (m->nidle < EASY_POOL_MAX) {
        m->idle[m->nidle++] = easy;
        return;
    }
    curl_easy_cleanup(easy);
}

struct loop *
curlm_loop(const struct curlm *m)
{
    return m->loop;
}

bool
curlm_busy(const struct curlm *m)
{
    return m->depth > 0;
}

static struct xfer *
xfer_of(CURL *easy)
{
    char *p = NULL;

    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) != CURLE_OK)
        return NULL;
    return (struct xfer *)(void *)p;
}

/* Reports finished transfers through their deferred done entries. */
static void
collect_done(struct curlm *m)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        struct xfer *x;

        if (msg->msg != CURLMSG_DONE)
            continue;
        x = xfer_of(msg->easy_handle);
        if (x == NULL)
            continue;
        x->result = (int)msg->data.result;
        if (x->big) /* libcurl has freed the buffer */
            m->nbig--;
        x->big = false;
        loop_defer(m->loop, &x->done_d);
    }
}

static void
socket_action(struct curlm *m, curl_socket_t fd, int flags)
{
    CURLMcode mc;
    int running = 0;

    m->depth++;
    mc = curl_multi_socket_action(m->multi, fd, flags, &running);
    m->depth--;
    if (mc != CURLM_OK)
        log_err("curl", "curl_multi_socket_action: %s",
                curl_multi_strerror(mc));
    collect_done(m);
}

static struct csock *
csock_at(const struct curlm *m, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < m->nbyfd ? m->byfd[fd] : NULL;
}

static void
csock_free(struct curlm *m, struct csock *cs)
{
    m->byfd[cs->fd] = NULL;
    io_watch_free(cs->w);
    free(cs);
}

static void sock_io_cb(void *arg, int ev);

/* Returns a new record for |fd|, replacing a stale one: the number was
 * closed since (outside our view) and reused. */
static struct csock *
csock_add(struct curlm *m, curl_socket_t fd)
{
    struct csock *cs;

    if ((size_t)fd >= m->nbyfd) {
        size_t n = m->nbyfd > 0 ? m->nbyfd : 64;

        while (n <= (size_t)fd)
            n *= 2;
        m->byfd = xrealloc(m->byfd, n * sizeof(*m->byfd));
        memset(m->byfd + m->nbyfd, 0, (n - m->nbyfd) * sizeof(*m->byfd));
        m->nbyfd = n;
    }
    if (m->byfd[fd] != NULL)
        csock_free(m, m->byfd[fd]);
    cs = xcalloc(1, sizeof(*cs));
    cs->m = m;
    cs->fd = fd;
    cs->w = io_watch_new(m->loop, fd, sock_io_cb, cs);
    if (cs->w == NULL)
        log_err("curl", "cannot watch curl socket %d: %s", (int)fd,
                strerror(errno));
    m->byfd[fd] = cs;
    return cs;
}

static void
sock_io_cb(void *arg, int ev)
{
    struct csock *cs = arg;
    struct curlm *m = cs->m;
    curl_socket_t fd = cs->fd;
    int flags = 0;

    if (cs->want == 0) { /* parked: curl is not listening */
        io_watch_set(cs->w, 0);
        return;
    }
    if (ev & IO_READ)
        flags |= CURL_CSELECT_IN;
    if (ev & IO_WRITE)
        flags |= CURL_CSELECT_OUT;
    if (ev & IO_ERROR)
        flags |= CURL_CSELECT_ERR;
    socket_action(m, fd, flags); /* may free cs */
    if (!(ev & IO_ERROR))
        return;
    /* The loop stopped the watch on the error; if curl still wants the
     * socket, poll it again (io_watch_set is a no-op otherwise). */
    cs = csock_at(m, fd);
    if (cs != NULL && cs->w != NULL)
        io_watch_set(cs->w, cs->want);
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct curlm *m = userp;
    struct csock *cs = csock_at(m, s);
    int want = 0;

    (void)easy;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (cs == NULL)
            return 0;
        if (cs->opened && cs->connected)
            cs->want = 0; /* parked; see the top of this file */
        else
            csock_free(m, cs);
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        want |= IO_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        want |= IO_WRITE;
    if (cs == NULL)
        cs = csock_add(m, s);
    if (cs->w != NULL && io_watch_set(cs->w, want) != 0) {
        /* The number was closed unseen and reused (a happy-eyeballs
         * loser closed by curl without the close callback, then the
         * resolver's socketpair): the record is stale; start over. */
        cs = csock_add(m, s);
        if (cs->w != NULL)
            io_watch_set(cs->w, want);
    }
    cs->want = want;
    if (want & IO_READ)
        cs->connected = true;
    return 0;
}

static curl_socket_t
open_sock_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct curlm *m = clientp;
    curl_socket_t fd;
    struct csock *cs;

    (void)purpose;
    fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    cs = csock_add(m, fd);
    cs->opened = true;
    return fd;
}

static int
close_sock_cb(void *clientp, curl_socket_t fd)
{
    struct curlm *m = clientp;
    struct csock *cs = csock_at(m, fd);

    if (cs != NULL)
        csock_free(m, cs); /* the watch goes before the number is free */
    return close(fd);
}

int
curlm_keep_sockets(struct curlm *m, void *easy)
{
    if (curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_sock_cb) !=
            CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, m) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_sock_cb) !=
            CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, m) != CURLE_OK)
        return PTTH_EIO;
    return 0;
}

static void
timeout_cb(void *arg)
{
    socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct curlm *m = userp;

    (void)multi;
    if (timeout_ms < 0) {
        timer_stop(m->timer);
        loop_cancel(m->loop, &m->kick);
    } else if (timeout_ms == 0) {
        /* "Now", but outside this callback: from the deferred queue, in
         * this iteration (a new transfer starts before the loop polls). */
        timer_stop(m->timer);
        loop_defer(m->loop, &m->kick);
    } else {
        loop_cancel(m->loop, &m->kick);
        timer_start(m->timer, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

int
curlm_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : PTTH_EIO;
}

void
curlm_global_cleanup(void)
{
    curl_global_cleanup();
}

const char *
curlm_library_version(void)
{
    const curl_version_info_data *cv;
    char err[512];

    if (curl_dl_load(err, sizeof(err)) != 0)
        return "(not found)";
    cv = curl_version_info(CURLVERSION_NOW);
    return cv != NULL ? cv->version : "unknown";
}

struct curlm *
curlm_new(struct loop *l)
{
    struct curlm *m;
    CURLM *multi = curl_multi_init();

    if (multi == NULL)
        return NULL;
    m = xcalloc(1, sizeof(*m));
    m->loop = l;
    m->multi = multi;
    m->timer = timer_new(l, timeout_cb, m);
    deferred_init(&m->kick, timeout_cb, m);
    if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb) !=
            CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb) !=
            CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_TIMERDATA, m) != CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)CURLM_MAX_IDLE) !=
            CURLM_OK) {
        curl_multi_cleanup(multi);
        timer_free(m->timer);
        free(m);
        return NULL;
    }
    return m;
}

static void
xfer_unlink(struct curlm *m, struct xfer *x)
{
    if (x->big)
        m->nbig--;
    x->big = false;
    loop_cancel(m->loop, &x->done_d);
    loop_cancel(m->loop, &x->unpause_d);
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        m->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
}

void
curlm_free(struct curlm *m)
{
    size_t i;

    if (m == NULL)
        return;
    assert(m->depth == 0);
    while (m->xfers != NULL) {
        struct xfer *x = m->xfers;

        xfer_unlink(m, x);
        curl_multi_remove_handle(m->multi, x->easy);
        curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
        free(x);
    }
    while (m->nidle > 0)
        curl_easy_cleanup(m->idle[--m->nidle]);
    curl_multi_cleanup(m->multi); /* closes the cache through close_sock_cb */
    for (i = 0; i < m->nbyfd; i++) {
        if (m->byfd[i] != NULL)
            csock_free(m, m->byfd[i]);
    }
    free(m->byfd);
    timer_free(m->timer);
    loop_cancel(m->loop, &m->kick);
    free(m);
}

static void
done_run(void *arg)
{
    struct xfer *x = arg;

    x->done(x->arg, x->result); /* may remove and free x */
}

static void
unpause_run(void *arg)
{
    struct xfer *x = arg;
    struct curlm *m = x->m;
    int mask = x->pause != NULL ? x->pause(x->arg) : CURLPAUSE_CONT;
    CURLcode rc;

    m->depth++;
    rc = curl_easy_pause(x->easy, mask); /* may run the write callback */
    m->depth--;
    if (rc != CURLE_OK)
        log_debug("curl", "curl_easy_pause: %s", curl_easy_strerror(rc));
    collect_done(m);
}

int
curlm_big_reads(const struct curlm *m)
{
    return m->nbig;
}

/* Sizes the read buffer of |easy| for its next transfer. A pooled handle
 * may still have its last transfer's size, so both ways are set. libcurl
 * refuses the option while a transfer holds a buffer: then the size stays
 * as it was, and x->big says only whether the budget was taken. */
static void
size_reads(struct curlm *m, struct xfer *x, unsigned flags)
{
    bool big = (flags & CURLM_BIG_READS) != 0 && m->nbig < CURLM_BIG_MAX;
    long size = big ? (long)CURLM_BIG_BUF : (long)CURL_MAX_WRITE_SIZE;

    if (curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, size) != CURLE_OK)
        big = false;
    x->big = big;
    if (big)
        m->nbig++;
}

int
curlm_add(struct curlm *m, void *easy, unsigned flags, curlm_done_fn *done,
          void *arg)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    CURLMcode mc;

    x->m = m;
    x->easy = easy;
    x->done = done;
    x->arg = arg;
    deferred_init(&x->done_d, done_run, x);
    deferred_init(&x->unpause_d, unpause_run, x);
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
        free(x);
        return PTTH_EIO;
    }
    size_reads(m, x, flags);
    mc = curl_multi_add_handle(m->multi, easy); /* sets a 0 ms timeout */
    if (mc != CURLM_OK) {
        log_err("curl", "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        if (x->big)
            m->nbig--;
        free(x);
        return PTTH_EIO;
    }
    x->next = m->xfers;
    if (m->xfers != NULL)
        m->xfers->prev = x;
    m->xfers = x;
    return 0;
}

void
curlm_remove(struct curlm *m, void *easy)
{
    struct xfer *x = xfer_of(easy);

    assert(m->depth == 0); /* never from inside a libcurl callback */
    if (x == NULL)
        return;
    xfer_unlink(m, x);
    curl_multi_remove_handle(m->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(x);
}

void
curlm_set_pause_fn(struct curlm *m, void *easy, curlm_pause_fn *fn)
{
    struct xfer *x = xfer_of(easy);

    (void)m;
    if (x != NULL)
        x->pause = fn;
}

void
curlm_defer_unpause(struct curlm *m, void *easy)
{
    struct xfer *x = xfer_of(easy);

    if (x != NULL)
        loop_defer(m->loop, &x->unpause_d);
}
