/* SPDX-License-Identifier: MIT
 * conn.c - transport + optional TLS + output queue. */
#include "config.h"

#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "loop.h"
#include "net.h"
#include "tls.h"
#include "util.h"

enum conn_state {
    CONN_CONNECTING, /* non-blocking connect in progress */
    CONN_HANDSHAKE,
    CONN_OPEN,
    CONN_FAILED,
    CONN_DEAD,
};

struct conn {
    struct loop *loop;
    struct xport x;
    struct io_watch *w;
    struct tls_conn *tls;
    enum conn_state state;
    const struct conn_cbs *cb;
    void *arg;
    struct bufq out;
    bool read_paused;
    bool want_shutdown;
    bool shut_done;
    bool above_low;      /* queue was above the low mark: report drain */
    bool reset_on_close; /* close with SO_LINGER 0: the peer sees RST */
    bool drained;        /* a short read emptied the socket (no TLS) */
    int err;
    char errstr[256];
    struct deferred d_flush;
    struct deferred d_read; /* deliver bytes TLS already holds */
    struct deferred d_open;
    struct deferred d_fail;
    struct deferred d_free;
};

/* A short read below this many bytes is taken to have emptied the
 * socket (conn_read). */
#define DRAINED_BELOW 16384

/* Chunks gathered into one send: 64 x 16 KiB = 1 MiB. */
#define CONN_IOV_MAX 64

static void conn_flush(struct conn *c);

static void
update_watch(struct conn *c)
{
    int ev = 0;

    if (c->state == CONN_DEAD || c->state == CONN_FAILED)
        ev = 0;
    else if (c->state == CONN_CONNECTING)
        ev = IO_WRITE;
    else if (c->state == CONN_HANDSHAKE) {
        int want = tls_want(c->tls);
        ev = (want & TLS_WANT_WRITE) ? IO_WRITE : IO_READ;
    } else {
        if (!c->read_paused)
            ev |= IO_READ;
        if (bufq_len(&c->out) > 0)
            ev |= IO_WRITE;
    }
    io_watch_set(c->w, ev);
}

static void
fail(struct conn *c, int rc)
{
    if (c->state == CONN_FAILED || c->state == CONN_DEAD)
        return;
    c->state = CONN_FAILED;
    c->err = rc;
    if (c->errstr[0] == '\0')
        snprintf(c->errstr, sizeof(c->errstr), "%s",
                 c->tls && rc == PTTH_ETLS ? tls_errstr(c->tls)
                                           : ptth_strerror(rc));
    update_watch(c);
    loop_defer(c->loop, &c->d_fail);
}

static void
deliver_fail(void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_FAILED && c->cb->on_error != NULL)
        c->cb->on_error(c->arg, c->err);
}

static void
deliver_open(void *arg)
{
    struct conn *c = arg;
    if (c->state != CONN_OPEN)
        return;
    if (c->cb->on_open != NULL)
        c->cb->on_open(c->arg);
    if (c->state == CONN_OPEN)
        update_watch(c);
}

static void
deliver_read(void *arg)
{
    struct conn *c = arg;
    c->drained = false;
    if (c->state == CONN_OPEN && !c->read_paused)
        c->cb->on_readable(c->arg);
}

static void
do_handshake(struct conn *c)
{
    int rc = tls_handshake(c->tls);

    if (rc == PTTH_EAGAIN) {
        update_watch(c);
        return;
    }
    if (rc != 0) {
        snprintf(c->errstr, sizeof(c->errstr), "%s",
                 rc == PTTH_ETLS ? tls_errstr(c->tls)
                 : rc == PTTH_ECLOSED
                     ? "connection closed during the TLS handshake"
                     : "I/O error during the TLS handshake");
        fail(c, rc == PTTH_ETLS ? PTTH_ETLS : rc);
        return;
    }
    c->state = CONN_OPEN;
    deliver_open(c);
    /* Application data may have arrived with the last handshake flight. */
    if (c->state == CONN_OPEN && tls_pending(c->tls))
        loop_defer(c->loop, &c->d_read);
}

static void
on_io(void *arg, int events)
{
    struct conn *c = arg;

    if (c->state == CONN_CONNECTING) {
        int rc = net_connect_result(c->x.fd);
        if (rc == PTTH_EAGAIN)
            return;
        if (rc != 0) {
            snprintf(c->errstr, sizeof(c->errstr), "connect: %s",
                     strerror(errno));
            fail(c, PTTH_EIO);
            return;
        }
        c->state = CONN_OPEN;
        deliver_open(c);
        if (c->state == CONN_OPEN)
            conn_flush(c);
        if (c->state == CONN_OPEN)
            update_watch(c);
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        do_handshake(c);
        return;
    }
    if (c->state != CONN_OPEN)
        return;
    if (events & (IO_WRITE | IO_ERROR))
        conn_flush(c);
    if (c->state == CONN_OPEN && !c->read_paused &&
        (events & (IO_READ | IO_ERROR))) {
        c->drained = false; /* readable again */
        c->cb->on_readable(c->arg);
    }
    if (c->state == CONN_OPEN)
        update_watch(c);
}

static void
deferred_flush(void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_OPEN) {
        conn_flush(c);
        if (c->state == CONN_OPEN)
            update_watch(c);
    }
}

void
conn_flush_now(struct conn *c)
{
    deferred_flush(c);
}

static void
deferred_free(void *arg)
{
    struct conn *c = arg;
    bufq_free(&c->out);
    free(c);
}

struct conn *
conn_new(struct loop *l, const struct xport *x, struct tls_ctx *tls,
         const char *server_name, const struct conn_cbs *cb, void *arg)
{
    struct conn *c = xcalloc(1, sizeof(*c));

    c->loop = l;
    c->x = *x;
    c->cb = cb;
    c->arg = arg;
    bufq_init(&c->out, BUF_CHUNK_SIZE, CONN_OUT_HIGH * 16);
    deferred_init(&c->d_flush, deferred_flush, c);
    deferred_init(&c->d_read, deliver_read, c);
    deferred_init(&c->d_open, deliver_open, c);
    deferred_init(&c->d_fail, deliver_fail, c);
    deferred_init(&c->d_free, deferred_free, c);
    c->w = io_watch_new(l, x->fd, on_io, c);
    if (c->w == NULL) {
        snprintf(c->errstr, sizeof(c->errstr), "cannot watch socket");
        c->state = CONN_FAILED;
        c->err = PTTH_EIO;
        loop_defer(l, &c->d_fail);
        return c;
    }
    if (tls != NULL) {
        struct tls_bio bio = {c->x.arg, c->x.send, c->x.recv};
        c->tls = tls_conn_new(tls, server_name, &bio);
        if (c->tls == NULL) {
            snprintf(c->errstr, sizeof(c->errstr), "cannot start TLS");
            c->state = CONN_FAILED;
            c->err = PTTH_ETLS;
            loop_defer(l, &c->d_fail);
            return c;
        }
        c->state = CONN_HANDSHAKE;
        io_watch_set(c->w, IO_READ | IO_WRITE);
        return c;
    }
    c->state = CONN_OPEN;
    loop_defer(l, &c->d_open);
    return c;
}

struct conn *
conn_new_connecting(struct loop *l, const struct xport *x,
                    const struct conn_cbs *cb, void *arg)
{
    struct conn *c = conn_new(l, x, NULL, NULL, cb, arg);

    if (c->state == CONN_OPEN) {
        loop_cancel(l, &c->d_open);
        c->state = CONN_CONNECTING;
        update_watch(c);
    }
    return c;
}

void
conn_reset_on_close(struct conn *c)
{
    c->reset_on_close = true;
}

void
conn_set_handler(struct conn *c, const struct conn_cbs *cb, void *arg)
{
    c->cb = cb;
    c->arg = arg;
}

void
conn_free(struct conn *c)
{
    if (c == NULL || c->state == CONN_DEAD)
        return;
    c->state = CONN_DEAD;
    loop_cancel(c->loop, &c->d_flush);
    loop_cancel(c->loop, &c->d_read);
    loop_cancel(c->loop, &c->d_open);
    loop_cancel(c->loop, &c->d_fail);
    io_watch_free(c->w);
    c->w = NULL;
    tls_conn_free(c->tls);
    c->tls = NULL;
    if (c->reset_on_close) {
        struct linger lg = {1, 0};
        (void)setsockopt(c->x.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    c->x.close(c->x.arg);
    loop_defer(c->loop, &c->d_free);
}

long
conn_read(struct conn *c, uint8_t *p, size_t n)
{
    long r;

    if (c->state != CONN_OPEN)
        return c->state == CONN_HANDSHAKE ? PTTH_EAGAIN : PTTH_EIO;
    /* A read that returned less than asked for emptied the socket's
     * buffer: the next read would only say EAGAIN, a system call per
     * wake-up for nothing. The watch is level-triggered, so bytes that
     * come later wake us again. Only after small reads (requests and
     * responses): in a bulk transfer more has usually come meanwhile, and
     * a read is cheaper than the trip through the poller. (TLS keeps
     * records of its own: no.) */
    if (c->drained) {
        c->drained = false;
        return PTTH_EAGAIN;
    }
    r = c->tls ? tls_read(c->tls, p, n) : c->x.recv(c->x.arg, p, n);
    if (r > 0 && (size_t)r < n && r < DRAINED_BELOW && c->tls == NULL)
        c->drained = true;
    if (r == 0)
        return PTTH_ECLOSED;
    if (r < 0 && r != PTTH_EAGAIN && r != PTTH_ECLOSED) {
        snprintf(c->errstr, sizeof(c->errstr), "%s",
                 c->tls && r == PTTH_ETLS ? tls_errstr(c->tls)
                                          : "connection reset");
    }
    return r;
}

void
conn_read_again(struct conn *c)
{
    if (c->state == CONN_OPEN && !c->read_paused)
        loop_defer(c->loop, &c->d_read);
}

void
conn_pause_read(struct conn *c, bool paused)
{
    if (c->read_paused == paused || c->state == CONN_DEAD)
        return;
    c->read_paused = paused;
    if (c->state != CONN_OPEN)
        return;
    update_watch(c);
    if (!paused && c->tls != NULL && tls_pending(c->tls))
        loop_defer(c->loop, &c->d_read);
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
    if (c->state == CONN_DEAD || c->state == CONN_FAILED)
        return PTTH_EIO;
    if (bufq_append(&c->out, p, n) != 0)
        return PTTH_ELIMIT;
    if (bufq_len(&c->out) > CONN_OUT_HIGH / 2)
        c->above_low = true;
    if (c->state == CONN_OPEN)
        loop_defer_late(c->loop, &c->d_flush);
    return 0;
}

int
conn_write_from(struct conn *c, struct bufq *q, size_t n)
{
    if (c->state == CONN_DEAD || c->state == CONN_FAILED) {
        bufq_consume(q, n); /* nobody will send them */
        return PTTH_EIO;
    }
    if (bufq_move(&c->out, q, n) != 0) {
        bufq_consume(q, n);
        return PTTH_ELIMIT;
    }
    if (bufq_len(&c->out) > CONN_OUT_HIGH / 2)
        c->above_low = true;
    if (c->state == CONN_OPEN)
        loop_defer_late(c->loop, &c->d_flush);
    return 0;
}

size_t
conn_out_len(const struct conn *c)
{
    return bufq_len(&c->out);
}

/* Returns true when the half-close was done just now. */
static bool
finish_shutdown(struct conn *c)
{
    if (!c->want_shutdown || c->shut_done || bufq_len(&c->out) > 0)
        return false;
    if (c->tls != NULL) {
        int rc = tls_close_notify(c->tls);
        if (rc == PTTH_EAGAIN)
            return false;
    }
    if (c->x.shutdown_write != NULL && c->tls == NULL)
        (void)c->x.shutdown_write(c->x.arg);
    c->shut_done = true;
    return true;
}

static void
conn_flush(struct conn *c)
{
    const uint8_t *p;
    size_t n;

    while (bufq_peek(&c->out, &p, &n)) {
        long r;

        if (c->tls == NULL && c->x.sendv != NULL) {
            struct iovec iov[CONN_IOV_MAX];
            int k = bufq_peekv(&c->out, iov, CONN_IOV_MAX);
            r = k > 1 ? c->x.sendv(c->x.arg, iov, k)
                      : c->x.send(c->x.arg, p, n);
        } else {
            r = c->tls ? tls_write(c->tls, p, n) : c->x.send(c->x.arg, p, n);
        }
        if (r == PTTH_EAGAIN)
            break;
        if (r <= 0) {
            snprintf(c->errstr, sizeof(c->errstr), "%s",
                     c->tls && r == PTTH_ETLS ? tls_errstr(c->tls)
                                              : "write failed");
            fail(c, r == 0 ? PTTH_EIO : (int)r);
            return;
        }
        bufq_consume(&c->out, (size_t)r);
    }
    if (finish_shutdown(c) ||
        (c->above_low && bufq_len(&c->out) <= CONN_OUT_HIGH / 2)) {
        c->above_low = false;
        if (c->cb->on_drain != NULL)
            c->cb->on_drain(c->arg);
    }
}

void
conn_shutdown(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    c->want_shutdown = true;
    loop_defer_late(c->loop, &c->d_flush);
}

bool
conn_is_flushed(const struct conn *c)
{
    return bufq_len(&c->out) == 0 && (!c->want_shutdown || c->shut_done);
}

bool
conn_is_tls(const struct conn *c)
{
    return c->tls != NULL;
}

const char *
conn_alpn(const struct conn *c)
{
    return c->tls ? tls_alpn(c->tls) : NULL;
}

const char *
conn_sni(const struct conn *c)
{
    return c->tls ? tls_sni(c->tls) : NULL;
}

const char *
conn_errstr(const struct conn *c)
{
    return c->errstr[0] ? c->errstr : ptth_strerror(c->err);
}

bool
conn_verify_failed(const struct conn *c)
{
    return c->tls != NULL && tls_verify_failed(c->tls);
}

int
conn_fd(const struct conn *c)
{
    return c->x.fd;
}
