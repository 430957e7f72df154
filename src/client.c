/* SPDX-License-Identifier: MIT
 * client.c - `ptth connect`.
 *
 * A link is one HTTP/2 connection to the edge: dial.c (proxies honoured),
 * conn.c (TLS for https:// edges, ALPN h2; cleartext HTTP/2 with prior
 * knowledge for http://), an nghttp2 client session. Every byte stream is
 * one CONNECT stream on it (RFC 9113 8.5):
 *
 *   :method CONNECT
 *   :authority HOST:PORT          (PORT 0: the tunnel's TCP service)
 *   proxy-authorization: Bearer TOKEN      (when a token is set)
 *
 * A 2xx response opens the tunnel; 404 means no such tunnel or service,
 * 401/403/407 credentials refused, anything else a refusal. Then DATA
 * both ways: END_STREAM is a half-close, RST_STREAM an abort.
 *
 * The local end of a stream is stdin/stdout (default) or an accepted
 * socket (--listen). Local bytes are read only once the tunnel is open,
 * into a capped queue that the stream's data provider drains; reading
 * pauses while it is full. Bytes from the edge are written to the local
 * end at once and the rest queued; they are handed back to the edge's
 * flow-control window (nghttp2_session_consume) only once written, so a
 * slow reader stalls the far side instead of growing memory here.
 *
 * State changes found inside library callbacks are acted on from the
 * stream's deferred "pump", never from inside nghttp2; objects are freed
 * from the deferred queue.
 *
 * Links: a new one is dialled when none takes new streams (none yet, a
 * GOAWAY, or lost). A link nobody uses any more is closed gracefully:
 * GOAWAY, our half-close, then the edge's EOF (bounded). A stream refused
 * with REFUSED_STREAM before it opened (a GOAWAY race: never processed)
 * is retried once on a fresh link. There are no other retries.
 *
 * Exit: stdio mode ends when the far side has closed and every byte is on
 * stdout (0), on a refusal (8, 6 or 1), a lost link or reset stream (1),
 * a failed dial (4) or TLS failure (5). A write error on stdout (EPIPE:
 * the reader went away) resets the stream and exits 1, logged at -v only
 * for EPIPE. SIGINT/SIGTERM reset the streams and exit 0 in both modes.
 * --listen keeps running through refusals and lost links; only a failure
 * of the very first link (before the ready line) ends it.
 */
#include "config.h"

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "curlm.h"
#include "dial.h"
#include "h1.h"
#include "h2.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "tls.h"
#include "util.h"

#define CLOSE_WAIT_MS 2000u   /* our last frames out, the edge's EOF in */
#define UP_CAP (256u * 1024u) /* local bytes waiting for DATA frames */
/* Unwritten bytes from the edge are unconsumed, so the stream window
 * (H2_STREAM_WINDOW) bounds them; the cap is a second fence. */
#define DOWN_CAP (2u * H2_STREAM_WINDOW)
#define IO_CHUNK 16384u
#define MAX_LOCAL 1024 /* --listen: local connections at once */
#define ACCEPT_BURST 64
#define ACCEPT_PAUSE_MS 100u /* after EMFILE and the like */
#define ERRBODY_MAX 200

struct cl;
struct link;

/* One CONNECT stream and its local end. */
struct cs {
    struct cl *cl;
    struct link *lk; /* NULL once its link is gone */
    struct cs *prev, *next;
    char tag[24];
    int32_t sid; /* 0 until submitted */
    int retries;
    /* local end: fds 0 and 1, or one socket (rfd == wfd, rw == ww) */
    int rfd, wfd;
    bool sock;
    struct io_watch *rw, *ww; /* NULL: no polling (see rdirect) */
    bool rdirect;             /* stdin cannot be polled: plain reads */
    /* local -> edge */
    struct bufq up;
    bool rd_eof;    /* nothing more will be read locally */
    bool rd_paused; /* the up queue is full */
    bool deferred;  /* the data provider waits for bytes */
    /* edge -> local */
    struct bufq down;
    bool far_eof; /* the edge's END_STREAM */
    bool wr_shut; /* everything written and the local write side ended */
    int status;   /* final :status, 0 until it arrives */
    bool opened;  /* 2xx */
    char errbody[ERRBODY_MAX + 1];
    size_t errbody_len;
    bool h2_closed;  /* nghttp2 closed the stream ... */
    bool close_seen; /* ... and cs_pump has acted on it */
    uint32_t close_code;
    uint64_t nup, ndown;
    bool dead;
    struct deferred d_pump;
    struct deferred d_free;
};

/* One HTTP/2 connection to the edge. */
struct link {
    struct cl *cl;
    struct link *next;
    struct dial *dial;
    struct conn *conn;
    nghttp2_session *h2;
    struct timer *timer; /* setup, then the graceful close */
    bool open;           /* transport up, session created */
    bool ready;          /* the edge's SETTINGS arrived */
    bool goaway;         /* no new streams */
    bool closing;        /* GOAWAY + half-close sent: waiting for EOF */
    bool dead;
    int nstreams; /* streams with lk == this link */
    struct deferred d_send;
    struct deferred d_close;
    struct deferred d_free;
};

struct cl {
    const struct cfg *cfg;
    struct loop *loop;
    struct curlm *cm;
    struct tls_ctx *tls;
    nghttp2_session_callbacks *cbs;
    char *authority;
    char *auth; /* "Bearer TOKEN", or NULL */
    struct link *links;
    struct link *cur; /* takes new streams */
    struct cs *streams;
    int nstreams;
    unsigned nconns; /* --listen: connections so far, for tags */
    bool was_ready;  /* some link got the edge's SETTINGS */
    /* stdio */
    int fl0, fl1; /* original file status flags, -1 if unknown */
    bool fl1_restored;
    /* --listen */
    int lfd;
    struct io_watch *lw;
    struct timer *accept_timer;
    char bound[NET_ADDR_MAX];
    /* the end */
    bool finishing;
    bool stopping; /* a signal came */
    int status;
    struct timer *deadline;
    struct sig_watch *sig_int, *sig_term;
    struct deferred d_finish;
};

static void link_send(struct link *lk);
static void link_lost(struct link *lk, int status, const char *why);
static void link_close(struct link *lk);
static void link_maybe_close(struct link *lk);
static struct link *cl_link(struct cl *cl);
static void cl_finish(struct cl *cl, int status);
static void cs_pump_later(struct cs *s);
static void cs_kill(struct cs *s, bool rst_local);
static void cs_attach(struct cs *s, struct link *lk);

/* ----------------------------------------------------------- helpers */

static bool
listen_mode(const struct cl *cl)
{
    return cl->cfg->has_listen;
}

/* "box:22", or "box" when no port was given. */
static const char *
target_str(const struct cl *cl, char *out, size_t len)
{
    if (cl->cfg->connect_port > 0)
        snprintf(out, len, "%s:%d", cl->cfg->connect_host,
                 cl->cfg->connect_port);
    else
        snprintf(out, len, "%s", cl->cfg->connect_host);
    return out;
}

static void
restore_stdout_flags(struct cl *cl)
{
    if (!cl->fl1_restored && cl->fl1 >= 0)
        (void)fcntl(STDOUT_FILENO, F_SETFL, cl->fl1);
    cl->fl1_restored = true;
}

/* Writes up to n bytes to fd. Returns the count (0: would block), or -1
 * with errno set. */
static long
write_some(int fd, const uint8_t *p, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = write(fd, p + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0)
            return -1;
        done += (size_t)r;
    }
    return (long)done;
}

/* ----------------------------------------------------------- streams */

static void
cs_free_cb(void *arg)
{
    struct cs *s = arg;

    bufq_free(&s->up);
    bufq_free(&s->down);
    free(s);
}

static void cs_pump(void *arg);
static void cs_on_io(void *arg, int events);
static void cs_on_stdin(void *arg, int events);
static void cs_on_stdout(void *arg, int events);

static struct cs *
cs_alloc(struct cl *cl)
{
    struct cs *s = xcalloc(1, sizeof(*s));

    s->cl = cl;
    s->rfd = s->wfd = -1;
    bufq_init(&s->up, IO_CHUNK, UP_CAP);
    bufq_init(&s->down, IO_CHUNK, DOWN_CAP);
    deferred_init(&s->d_pump, cs_pump, s);
    deferred_init(&s->d_free, cs_free_cb, s);
    s->next = cl->streams;
    if (cl->streams != NULL)
        cl->streams->prev = s;
    cl->streams = s;
    cl->nstreams++;
    return s;
}

/* The stdio stream: fds 0 and 1, watched when they can be polled. */
static struct cs *
cs_new_stdio(struct cl *cl)
{
    struct cs *s = cs_alloc(cl);

    snprintf(s->tag, sizeof(s->tag), "connect");
    s->rfd = STDIN_FILENO;
    s->wfd = STDOUT_FILENO;
    s->rw = io_watch_new(cl->loop, STDIN_FILENO, cs_on_stdin, s);
    if (s->rw == NULL) {
        if (errno == EBADF) {
            log_debug(s->tag, "stdin is closed: sending nothing");
            s->rd_eof = true;
        } else {
            s->rdirect = true; /* a regular file or /dev/null */
        }
    }
    /* Without a watch stdout is written directly (a regular file never
     * blocks for long; a closed one fails at the first write). */
    s->ww = io_watch_new(cl->loop, STDOUT_FILENO, cs_on_stdout, s);
    return s;
}

/* A --listen stream for an accepted socket (owned from here on). */
static struct cs *
cs_new_sock(struct cl *cl, int fd, const char *peer)
{
    struct cs *s = cs_alloc(cl);

    snprintf(s->tag, sizeof(s->tag), "c%u", ++cl->nconns);
    s->rfd = s->wfd = fd;
    s->sock = true;
    s->rw = s->ww = io_watch_new(cl->loop, fd, cs_on_io, s);
    if (s->rw == NULL) {
        log_warn(s->tag, "%s: cannot watch the socket: %s", peer,
                 strerror(errno));
        cs_kill(s, true);
        return NULL;
    }
    log_info(s->tag, "accepted %s", peer);
    return s;
}

static void
cs_update_watch(struct cs *s)
{
    int r = 0, w = 0;

    if (s->dead)
        return;
    if (s->opened && !s->rd_eof && !s->rd_paused)
        r = IO_READ;
    if (bufq_len(&s->down) > 0)
        w = IO_WRITE;
    if (s->sock) {
        io_watch_set(s->rw, r | w);
        return;
    }
    if (s->rw != NULL)
        io_watch_set(s->rw, r);
    if (s->ww != NULL)
        io_watch_set(s->ww, w);
}

static bool
cs_h2_usable(const struct cs *s)
{
    return s->lk != NULL && !s->lk->dead && s->lk->h2 != NULL && s->sid > 0;
}

/* Gives n written (or dropped) bytes back to the edge's windows. */
static void
cs_consume(struct cs *s, size_t n)
{
    if (n == 0 || !cs_h2_usable(s))
        return;
    nghttp2_session_consume(s->lk->h2, s->sid, n);
    link_send(s->lk);
}

static void
cs_detach(struct cs *s)
{
    struct link *lk = s->lk;

    if (lk == NULL)
        return;
    if (!lk->dead && lk->h2 != NULL && s->sid > 0 && !s->h2_closed)
        nghttp2_session_set_stream_user_data(lk->h2, s->sid, NULL);
    s->lk = NULL;
    lk->nstreams--;
    link_maybe_close(lk);
}

/* Ends the stream at once: RST_STREAM(CANCEL) unless nghttp2 is done with
 * it, unwritten bytes dropped (and given back to the connection window),
 * the local socket closed (with a TCP RST when rst_local), the object
 * freed from the deferred queue. Logs nothing. Fine from inside nghttp2
 * and io callbacks. */
static void
cs_kill(struct cs *s, bool rst_local)
{
    struct cl *cl = s->cl;

    if (s->dead)
        return;
    if (cs_h2_usable(s)) {
        if (!s->h2_closed) {
            nghttp2_session_set_stream_user_data(s->lk->h2, s->sid, NULL);
            nghttp2_submit_rst_stream(s->lk->h2, NGHTTP2_FLAG_NONE, s->sid,
                                      NGHTTP2_CANCEL);
        }
        cs_consume(s, bufq_len(&s->down));
        link_send(s->lk);
    }
    s->dead = true;
    cs_detach(s);
    io_watch_free(s->rw);
    if (s->ww != s->rw)
        io_watch_free(s->ww);
    s->rw = s->ww = NULL;
    if (s->sock) {
        if (rst_local) {
            struct linger lg = {1, 0};
            (void)setsockopt(s->rfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(s->rfd);
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        cl->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    cl->nstreams--;
    loop_cancel(cl->loop, &s->d_pump);
    loop_defer(cl->loop, &s->d_free);
    /* --listen: room for another connection */
    if (cl->lw != NULL && !cl->finishing && !timer_active(cl->accept_timer))
        io_watch_set(cl->lw, IO_READ);
}

/* The stream failed: stdio mode logs |msg| at |lv| and exits with
 * |status|; --listen logs it with the stream's tag and closes the local
 * connection (RST when rst_local). |msg| NULL: nothing logged. */
static void
cs_fail(struct cs *s, int status, enum log_level lv, bool rst_local,
        const char *msg)
{
    struct cl *cl = s->cl;

    if (s->dead)
        return;
    if (msg != NULL && log_enabled(lv))
        log_msg(lv, s->tag, "%s", msg);
    cs_kill(s, rst_local);
    if (!listen_mode(cl))
        cl_finish(cl, status);
}

/* A local read or write failed with errno |err|. */
static void
cs_local_error(struct cs *s, bool writing, int err)
{
    char msg[256];

    if (!s->sock) {
        if (writing && err == EPIPE) {
            /* The reader of our stdout went away (head, a closed ssh):
             * not worth a warning, but the stream did not complete. */
            cs_fail(s, PTTH_EXIT_INTERNAL, LOG_LV_INFO, true,
                    "stdout was closed by its reader: resetting the stream");
            return;
        }
        snprintf(msg, sizeof(msg), "cannot %s: %s",
                 writing ? "write to stdout" : "read stdin", strerror(err));
        cs_fail(s, PTTH_EXIT_INTERNAL, LOG_LV_ERROR, true, msg);
        return;
    }
    snprintf(msg, sizeof(msg), "local connection %s: %s; resetting the stream",
             writing ? "write" : "read", strerror(err));
    cs_fail(s, PTTH_EXIT_INTERNAL, LOG_LV_INFO, true, msg);
}

/* Reads what the up queue has room for. */
static void
cs_read(struct cs *s)
{
    uint8_t tmp[IO_CHUNK];
    bool got = false;

    while (!s->dead && s->opened && !s->rd_eof) {
        size_t room = bufq_space(&s->up);
        ssize_t n;

        if (room == 0) {
            s->rd_paused = true;
            break;
        }
        n = read(s->rfd, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            cs_local_error(s, false, errno);
            return;
        }
        got = true;
        if (n == 0) {
            log_debug(s->tag, "local end of file: half-closing the stream");
            s->rd_eof = true;
            break;
        }
        bufq_append(&s->up, tmp, (size_t)n);
        s->nup += (uint64_t)n;
    }
    if (got)
        cs_pump_later(s);
}

/* Writes queued bytes from the edge to the local end. */
static void
cs_flush_down(struct cs *s)
{
    const uint8_t *p;
    size_t n;

    while (!s->dead && bufq_peek(&s->down, &p, &n)) {
        long w = write_some(s->wfd, p, n);
        if (w < 0) {
            cs_local_error(s, true, errno);
            return;
        }
        if (w == 0)
            break;
        bufq_consume(&s->down, (size_t)w);
        cs_consume(s, (size_t)w);
    }
    if (!s->dead && bufq_len(&s->down) == 0)
        cs_pump_later(s);
}

/* Bytes of DATA for an open stream: written through, the rest queued. */
static void
cs_deliver(struct cs *s, const uint8_t *p, size_t n)
{
    long w = 0;

    s->ndown += n;
    if (bufq_len(&s->down) == 0) {
        w = write_some(s->wfd, p, n);
        if (w < 0) {
            cs_consume(s, n);
            cs_local_error(s, true, errno);
            return;
        }
        cs_consume(s, (size_t)w);
    }
    if ((size_t)w < n && bufq_append(&s->down, p + w, n - (size_t)w) != 0) {
        cs_consume(s, n - (size_t)w);
        cs_fail(s, PTTH_EXIT_INTERNAL, LOG_LV_WARN, true,
                "the edge sent more than the flow-control window");
        return;
    }
    cs_update_watch(s);
}

static void
cs_on_io(void *arg, int events)
{
    struct cs *s = arg;

    /* IO_ERROR comes with the bits asked for: the read or write sees it. */
    if (events & IO_WRITE)
        cs_flush_down(s);
    if (!s->dead && (events & IO_READ))
        cs_read(s);
    cs_update_watch(s);
}

static void
cs_on_stdin(void *arg, int events)
{
    struct cs *s = arg;

    (void)events;
    cs_read(s);
    cs_update_watch(s);
}

static void
cs_on_stdout(void *arg, int events)
{
    struct cs *s = arg;

    (void)events;
    cs_flush_down(s);
    cs_update_watch(s);
}

/* ---------------------------------------------------- stream decisions */

static void
cs_pump_later(struct cs *s)
{
    if (!s->dead)
        loop_defer(s->cl->loop, &s->d_pump);
}

static int
refusal_status(int status)
{
    if (status == 404)
        return PTTH_EXIT_NOTFOUND;
    if (status == 401 || status == 403 || status == 407)
        return PTTH_EXIT_AUTH;
    return PTTH_EXIT_INTERNAL;
}

/* The edge answered non-2xx: say why, once. */
static void
cs_refused(struct cs *s)
{
    struct cl *cl = s->cl;
    char t[320], msg[700], why[ERRBODY_MAX + 80];
    char code[8];
    size_t k = strcspn(s->errbody, "\r\n");

    target_str(cl, t, sizeof(t));
    /* "404 Not Found", or the first line of the edge's text when it says
     * more (it usually starts with the status itself). */
    snprintf(code, sizeof(code), "%d ", s->status);
    if (k > 0 && strncmp(s->errbody, code, strlen(code)) == 0)
        snprintf(why, sizeof(why), "%.*s", (int)k, s->errbody);
    else if (k > 0)
        snprintf(why, sizeof(why), "%d %s: %.*s", s->status,
                 h1_reason(s->status), (int)k, s->errbody);
    else
        snprintf(why, sizeof(why), "%d %s", s->status, h1_reason(s->status));
    if (s->status == 404)
        snprintf(msg, sizeof(msg), "no such tunnel or service: %s (%s)", t,
                 why);
    else if (refusal_status(s->status) == PTTH_EXIT_AUTH)
        snprintf(msg, sizeof(msg),
                 "the edge refused the credentials for %s (%s)%s", t, why,
                 cl->cfg->ntokens > 0 ? ""
                                      : ": give a token with --token-file or "
                                        "PTTH_TOKEN");
    else
        snprintf(msg, sizeof(msg), "the edge refused the stream to %s: %s", t,
                 why);
    cs_fail(s, refusal_status(s->status),
            listen_mode(cl) ? LOG_LV_WARN : LOG_LV_ERROR, true, msg);
}

/* True for a stream the edge never answered, once: it may go again on a
 * new link (nothing was read locally before an answer). */
static bool
cs_may_retry(const struct cs *s)
{
    return !s->opened && s->status == 0 && s->retries == 0 && !s->cl->finishing;
}

/* Sends the stream again on the link for new streams. */
static void
cs_retry(struct cs *s)
{
    log_debug(s->tag, "no answer from the edge: retrying on a new connection");
    cs_detach(s);
    s->sid = 0;
    s->retries++;
    s->h2_closed = s->close_seen = false;
    s->deferred = false;
    s->close_code = 0;
    cs_attach(s, cl_link(s->cl));
}

/* nghttp2 closed the stream. Returns true when that ended it here. */
static bool
cs_on_h2_close(struct cs *s)
{
    struct cl *cl = s->cl;
    char msg[300];

    if (s->status != 0 && !s->opened) {
        cs_refused(s);
        return true;
    }
    if (!s->opened) {
        if (s->close_code == NGHTTP2_REFUSED_STREAM && cs_may_retry(s)) {
            /* Never processed (a GOAWAY race): once more. */
            cs_retry(s);
            return true;
        }
        snprintf(msg, sizeof(msg), "the edge reset the stream (%s)",
                 nghttp2_http2_strerror(s->close_code));
        cs_fail(s, PTTH_EXIT_INTERNAL,
                listen_mode(cl) ? LOG_LV_WARN : LOG_LV_ERROR, true, msg);
        return true;
    }
    if (s->close_code == NGHTTP2_NO_ERROR && s->far_eof) {
        /* Done by the book; a RST_STREAM(NO_ERROR) after the edge's
         * END_STREAM only means "send no more". */
        if (!s->rd_eof || bufq_len(&s->up) > 0)
            log_debug(s->tag, "the edge wants no more bytes");
        s->rd_eof = true;
        bufq_free(&s->up);
        return false;
    }
    snprintf(msg, sizeof(msg), "the stream was reset by the edge (%s)",
             nghttp2_http2_strerror(s->close_code));
    cs_fail(s, PTTH_EXIT_INTERNAL, listen_mode(cl) ? LOG_LV_INFO : LOG_LV_ERROR,
            true, msg);
    return true;
}

/* Acts on the stream's state; runs from the deferred queue. */
static void
cs_pump(void *arg)
{
    struct cs *s = arg;
    struct cl *cl = s->cl;

    if (s->dead)
        return;
    if (s->h2_closed && !s->close_seen) {
        s->close_seen = true;
        if (cs_on_h2_close(s))
            return;
    }
    if (s->rdirect && s->opened && !s->rd_eof && !s->rd_paused) {
        cs_read(s);
        if (s->dead)
            return;
    }
    if (s->deferred && !s->h2_closed && cs_h2_usable(s) &&
        (bufq_len(&s->up) > 0 || s->rd_eof)) {
        s->deferred = false;
        nghttp2_session_resume_data(s->lk->h2, s->sid);
        link_send(s->lk);
    }
    /* The far side closed and all is written: end our writing side. */
    if (s->far_eof && s->opened && !s->wr_shut && bufq_len(&s->down) == 0) {
        s->wr_shut = true;
        if (s->sock) {
            (void)shutdown(s->wfd, SHUT_WR);
        } else {
            int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
            /* Readers of our stdout see EOF now, not at exit (a socket
             * shared with stdin needs the half-close). */
            (void)shutdown(STDOUT_FILENO, SHUT_WR);
            restore_stdout_flags(cl);
            io_watch_free(s->ww);
            s->ww = NULL;
            if (fd >= 0) {
                (void)dup2(fd, STDOUT_FILENO);
                close(fd);
            }
        }
        log_debug(s->tag, "the far side closed: local write side ended");
        if (!s->sock && !s->h2_closed) {
            /* stdio: the session is over once the far side closed; send
             * what was read and our END_STREAM, reading no more. */
            s->rd_eof = true;
            timer_start(cl->deadline, CLOSE_WAIT_MS, 0);
            cs_pump_later(s);
        }
    }
    if (s->h2_closed && s->wr_shut) {
        char t[320];
        log_info(s->tag, "closed %s (%llu bytes sent, %llu received)",
                 target_str(cl, t, sizeof(t)), (unsigned long long)s->nup,
                 (unsigned long long)s->ndown);
        cs_kill(s, false);
        if (!listen_mode(cl))
            cl_finish(cl, PTTH_EXIT_OK);
        return;
    }
    cs_update_watch(s);
}

/* ---------------------------------------------------- HTTP/2 (client) */

/* Data provider of every stream: bytes read locally, then END_STREAM. */
static ssize_t
data_read_cb(nghttp2_session *ng, int32_t sid, uint8_t *buf, size_t len,
             uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct cs *s = nghttp2_session_get_stream_user_data(ng, sid);
    size_t n;

    (void)src;
    (void)ud;
    if (s == NULL || s->dead)
        return NGHTTP2_ERR_DEFERRED; /* killed: its RST_STREAM is queued */
    n = bufq_read(&s->up, buf, len);
    if (n == 0 && !s->rd_eof) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (s->rd_eof && bufq_len(&s->up) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        log_debug(s->tag, "END_STREAM sent");
    }
    if (s->rd_paused && bufq_len(&s->up) <= UP_CAP / 2) {
        s->rd_paused = false;
        cs_pump_later(s); /* read again */
    }
    return (ssize_t)n;
}

/* Sends the CONNECT request on the stream's open link. */
static void
cs_submit(struct cs *s)
{
    struct cl *cl = s->cl;
    struct link *lk = s->lk;
    nghttp2_nv nv[3];
    nghttp2_data_provider prd;
    size_t n = 0;
    int32_t rv;
    char msg[200];

    nv[n++] = h2_nv(":method", "CONNECT");
    nv[n++] = h2_nv(":authority", cl->authority);
    if (cl->auth != NULL) {
        nv[n] = h2_nv("proxy-authorization", cl->auth);
        nv[n++].flags = NGHTTP2_NV_FLAG_NO_INDEX;
    }
    memset(&prd, 0, sizeof(prd));
    prd.read_callback = data_read_cb;
    rv = nghttp2_submit_request(lk->h2, NULL, nv, n, &prd, s);
    if (rv < 0) {
        snprintf(msg, sizeof(msg), "cannot send the CONNECT request: %s",
                 nghttp2_strerror(rv));
        cs_fail(s, PTTH_EXIT_INTERNAL, LOG_LV_ERROR, true, msg);
        return;
    }
    s->sid = rv;
    log_debug(s->tag, "CONNECT %s on stream %d", cl->authority, (int)rv);
    link_send(lk);
}

/* Puts the stream on |lk|, submitting it now if the link is open. */
static void
cs_attach(struct cs *s, struct link *lk)
{
    s->lk = lk;
    lk->nstreams++;
    if (lk->open)
        cs_submit(s);
}

static int
on_header_cb(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
             size_t namelen, const uint8_t *value, size_t valuelen,
             uint8_t flags, void *ud)
{
    struct cs *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    int st = 0;
    size_t i;

    (void)flags;
    (void)ud;
    h2_trace_field("connect", f->hd.stream_id, name, namelen, value, valuelen);
    if (s == NULL || f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_RESPONSE || namelen != 7 ||
        memcmp(name, ":status", 7) != 0)
        return 0;
    for (i = 0; i < valuelen && i < 3; i++)
        st = st * 10 + (value[i] - '0');
    s->status = st; /* nghttp2 checked: three digits */
    return 0;
}

static void
cs_on_response(struct cs *s)
{
    struct cl *cl = s->cl;
    char t[320];

    if (s->status >= 100 && s->status < 200) {
        s->status = 0; /* interim: wait for the final answer */
        return;
    }
    if (s->status < 200 || s->status > 299) {
        /* Refused: reported when the stream ends, with the edge's text.
         * End our side now. */
        log_debug(s->tag, "CONNECT %s: %d", cl->authority, s->status);
        s->rd_eof = true;
        cs_pump_later(s);
        return;
    }
    s->opened = true;
    log_info(s->tag, "connected to %s", target_str(cl, t, sizeof(t)));
    cs_pump_later(s);
}

static int
on_frame_send_cb(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng;
    (void)ud;
    h2_trace_frame("connect", "send", f);
    return 0;
}

static int
on_frame_recv_cb(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct link *lk = ud;
    struct cs *s;

    h2_trace_frame("connect", "recv", f);
    if (f->hd.type == NGHTTP2_GOAWAY) {
        log_info("connect", "the edge sent GOAWAY (%s)",
                 nghttp2_http2_strerror(f->goaway.error_code));
        lk->goaway = true;
        if (lk->cl->cur == lk)
            lk->cl->cur = NULL;
        link_maybe_close(lk);
        return 0;
    }
    if (f->hd.type == NGHTTP2_SETTINGS && f->hd.stream_id == 0 &&
        !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
        lk->ready = true;
        return 0;
    }
    if (f->hd.stream_id == 0)
        return 0;
    s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL || s->dead)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS &&
        f->headers.cat == NGHTTP2_HCAT_RESPONSE)
        cs_on_response(s);
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        s->far_eof = true;
        log_debug(s->tag, "END_STREAM received");
        if (!s->opened)
            s->rd_eof = true; /* refused: end our side too */
        cs_pump_later(s);
    }
    return 0;
}

static int
on_data_chunk_cb(nghttp2_session *ng, uint8_t flags, int32_t sid,
                 const uint8_t *data, size_t len, void *ud)
{
    struct cs *s = nghttp2_session_get_stream_user_data(ng, sid);

    (void)flags;
    (void)ud;
    if (s == NULL || s->dead || !s->opened || s->wr_shut) {
        if (s != NULL && !s->dead && !s->opened) {
            size_t k = ERRBODY_MAX - s->errbody_len;
            k = k < len ? k : len;
            memcpy(s->errbody + s->errbody_len, data, k);
            s->errbody_len += k;
            s->errbody[s->errbody_len] = '\0';
        }
        nghttp2_session_consume(ng, sid, len);
        return 0;
    }
    cs_deliver(s, data, len);
    return 0;
}

static int
on_stream_close_cb(nghttp2_session *ng, int32_t sid, uint32_t code, void *ud)
{
    struct cs *s = nghttp2_session_get_stream_user_data(ng, sid);

    (void)ud;
    if (s == NULL || s->dead)
        return 0;
    s->h2_closed = true;
    s->close_code = code;
    cs_pump_later(s);
    return 0;
}

/* ------------------------------------------------------------- links */

static void
link_free_cb(void *arg)
{
    free(arg);
}

/* Releases everything of |lk| now (memory later). Its streams must have
 * been dealt with. Not from inside nghttp2 callbacks. */
static void
link_destroy(struct link *lk)
{
    struct cl *cl = lk->cl;
    struct link **pp;

    lk->dead = true;
    if (cl->cur == lk)
        cl->cur = NULL;
    loop_cancel(cl->loop, &lk->d_send);
    loop_cancel(cl->loop, &lk->d_close);
    timer_free(lk->timer);
    lk->timer = NULL;
    dial_cancel(lk->dial);
    lk->dial = NULL;
    conn_free(lk->conn);
    lk->conn = NULL;
    if (lk->h2 != NULL) {
        nghttp2_session_del(lk->h2);
        lk->h2 = NULL;
    }
    for (pp = &cl->links; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == lk) {
            *pp = lk->next;
            break;
        }
    }
    loop_defer(cl->loop, &lk->d_free);
    if (cl->finishing && cl->links == NULL)
        loop_stop(cl->loop);
}

/* The link failed: every stream still on it is over. |status| is the
 * exit status when this ends the process; it becomes 1 once the edge had
 * answered (a connection lost mid-way). */
static void
link_lost(struct link *lk, int status, const char *why)
{
    struct cl *cl = lk->cl;
    struct cs *s, *next;
    int n = 0;
    bool fatal;

    if (lk->dead)
        return;
    lk->dead = true;
    if (cl->cur == lk)
        cl->cur = NULL;
    if (lk->ready)
        status = PTTH_EXIT_INTERNAL;
    for (s = cl->streams; s != NULL; s = next) {
        next = s->next;
        if (s->lk != lk)
            continue;
        if (s->h2_closed && s->close_code == NGHTTP2_NO_ERROR && s->far_eof) {
            cs_detach(s); /* only writing out what it has */
            continue;
        }
        if (lk->ready && !lk->closing && cs_may_retry(s)) {
            /* e.g. the edge closed an idle connection as we used it */
            cs_retry(s);
            continue;
        }
        n++;
        cs_kill(s, true);
    }
    fatal = !listen_mode(cl) || !cl->was_ready;
    if (lk->closing || cl->finishing) {
        log_debug("connect", "connection closed: %s", why);
    } else if (fatal && (n > 0 || !lk->ready)) {
        log_err("connect", "%s", why);
        cl_finish(cl, status);
    } else if (n > 0) {
        log_warn("connect", "%s: closed %d local connection%s", why, n,
                 n == 1 ? "" : "s");
    } else {
        log_info("connect", "%s", why);
    }
    link_destroy(lk);
}

static void
link_send_now(void *arg)
{
    struct link *lk = arg;

    if (lk->dead || !lk->open || lk->h2 == NULL)
        return;
    if (h2_send(lk->h2, lk->conn) != 0) {
        link_lost(lk, PTTH_EXIT_INTERNAL, "HTTP/2 error towards the edge");
        return;
    }
}

static void
link_send(struct link *lk)
{
    if (!lk->dead)
        loop_defer_late(lk->cl->loop, &lk->d_send);
}

/* No more streams: GOAWAY, half-close, wait (bounded) for the edge's EOF
 * so that nothing we sent is lost to a reset. */
static void
link_close(struct link *lk)
{
    if (lk->dead || lk->closing)
        return;
    if (!lk->open) {
        link_destroy(lk);
        return;
    }
    lk->closing = true;
    if (lk->cl->cur == lk)
        lk->cl->cur = NULL;
    nghttp2_session_terminate_session(lk->h2, NGHTTP2_NO_ERROR);
    link_send_now(lk);
    if (lk->dead)
        return;
    conn_shutdown(lk->conn);
    timer_start(lk->timer, CLOSE_WAIT_MS, 0);
}

static void
link_close_now(void *arg)
{
    struct link *lk = arg;

    if (lk->nstreams == 0 && (lk != lk->cl->cur || lk->cl->finishing))
        link_close(lk);
}

/* Closes |lk| (from the deferred queue: callers may be inside nghttp2)
 * once no stream uses it and it takes no new ones. */
static void
link_maybe_close(struct link *lk)
{
    if (!lk->dead && !lk->closing && lk->nstreams == 0 &&
        (lk != lk->cl->cur || lk->cl->finishing))
        loop_defer(lk->cl->loop, &lk->d_close);
}

static void
link_on_timer(void *arg)
{
    struct link *lk = arg;
    char why[300];

    if (lk->closing) {
        link_destroy(lk);
        return;
    }
    snprintf(why, sizeof(why), "the edge %s did not answer within %.10g s",
             lk->cl->cfg->edge_url,
             (double)lk->cl->cfg->connect_timeout_ms / 1000.0);
    link_lost(lk, PTTH_EXIT_UNREACHABLE, why);
}

static void
link_on_open(void *arg)
{
    struct link *lk = arg;
    struct cl *cl = lk->cl;
    const char *alpn = conn_alpn(lk->conn);
    struct cs *s, *next;
    char why[300];

    if (alpn != NULL && strcmp(alpn, "h2") != 0) {
        snprintf(why, sizeof(why), "the edge %s does not speak HTTP/2 (%s)",
                 cl->cfg->edge_url, alpn);
        link_lost(lk, PTTH_EXIT_INTERNAL, why);
        return;
    }
    if (h2_session_new(&lk->h2, H2_PEER_SERVER, cl->cbs, lk) != 0) {
        link_lost(lk, PTTH_EXIT_INTERNAL, "cannot start HTTP/2");
        return;
    }
    lk->open = true;
    log_debug("connect", "connected to %s%s", cl->cfg->edge_url,
              conn_is_tls(lk->conn) ? " (TLS, h2)" : " (h2c)");
    for (s = cl->streams; s != NULL && !lk->dead; s = next) {
        next = s->next;
        if (s->lk == lk && s->sid == 0 && !s->dead)
            cs_submit(s);
    }
    link_send(lk);
}

static void
link_became_ready(struct link *lk)
{
    struct cl *cl = lk->cl;

    if (!lk->closing)
        timer_stop(lk->timer);
    if (cl->was_ready)
        return;
    cl->was_ready = true;
    if (listen_mode(cl)) {
        char t[320];
        printf("%s\n", cl->bound);
        fflush(stdout);
        log_info("connect", "listening on %s for %s via %s", cl->bound,
                 target_str(cl, t, sizeof(t)), cl->cfg->edge_url);
    }
}

static void
link_on_readable(void *arg)
{
    struct link *lk = arg;
    uint8_t tmp[CONN_READ_CHUNK];

    while (!lk->dead) {
        long n = conn_read(lk->conn, tmp, sizeof(tmp));
        bool was_ready = lk->ready;
        char why[400];

        if (n == PTTH_EAGAIN)
            break;
        if (n <= 0) {
            if (n == PTTH_ECLOSED)
                snprintf(why, sizeof(why), "the edge %s closed the connection",
                         lk->cl->cfg->edge_url);
            else
                snprintf(why, sizeof(why), "%s %s: %s",
                         lk->ready ? "lost the connection to the edge"
                                   : "cannot talk to the edge",
                         lk->cl->cfg->edge_url, conn_errstr(lk->conn));
            link_lost(lk, PTTH_EXIT_UNREACHABLE, why);
            return;
        }
        if (lk->closing)
            continue; /* only waiting for EOF */
        if (h2_recv(lk->h2, tmp, (size_t)n) != 0) {
            (void)h2_send(lk->h2, lk->conn);
            snprintf(why, sizeof(why), "%s %s",
                     lk->ready ? "HTTP/2 protocol error from the edge"
                               : "no HTTP/2 from the edge",
                     lk->cl->cfg->edge_url);
            link_lost(lk, PTTH_EXIT_INTERNAL, why);
            return;
        }
        if (lk->ready && !was_ready)
            link_became_ready(lk);
    }
    link_send(lk);
}

static void
link_on_drain(void *arg)
{
    link_send(arg);
}

static void
link_on_error(void *arg, int rc)
{
    struct link *lk = arg;
    struct cl *cl = lk->cl;
    char why[400];

    if (rc == PTTH_ETLS && !lk->open) {
        snprintf(why, sizeof(why), "TLS with the edge %s failed: %s",
                 cl->cfg->edge_url, conn_errstr(lk->conn));
        if (conn_verify_failed(lk->conn))
            snprintf(why, sizeof(why), "TLS: cannot verify the edge %s: %s",
                     cl->cfg->edge_url, conn_errstr(lk->conn));
        link_lost(lk, PTTH_EXIT_TLS, why);
        return;
    }
    snprintf(why, sizeof(why), "%s %s: %s",
             lk->ready ? "lost the connection to the edge"
                       : "cannot talk to the edge",
             cl->cfg->edge_url, conn_errstr(lk->conn));
    link_lost(lk, PTTH_EXIT_UNREACHABLE, why);
}

static const struct conn_cbs link_conn_cbs = {
    link_on_open,
    link_on_readable,
    link_on_drain,
    link_on_error,
};

static void
link_on_dialed(void *arg, int rc, const char *errmsg)
{
    struct link *lk = arg;
    struct cl *cl = lk->cl;
    struct xport x;
    char why[400];

    if (rc != 0) {
        lk->dial = NULL; /* dial.c frees it when we return */
        snprintf(why, sizeof(why), "cannot reach the edge %s: %s",
                 cl->cfg->edge_url, errmsg);
        link_lost(lk, PTTH_EXIT_UNREACHABLE, why);
        return;
    }
    dial_take_xport(lk->dial, &x);
    lk->dial = NULL;
    lk->conn = conn_new(cl->loop, &x, cl->tls,
                        cl->tls != NULL ? cl->cfg->edge_host : NULL,
                        &link_conn_cbs, lk);
    /* --connect-timeout again, for TLS and the edge's SETTINGS. */
    timer_start(lk->timer, cl->cfg->connect_timeout_ms, 0);
}

static struct link *
link_new(struct cl *cl)
{
    struct link *lk = xcalloc(1, sizeof(*lk));

    lk->cl = cl;
    deferred_init(&lk->d_send, link_send_now, lk);
    deferred_init(&lk->d_close, link_close_now, lk);
    deferred_init(&lk->d_free, link_free_cb, lk);
    lk->timer = timer_new(cl->loop, link_on_timer, lk);
    /* dial.c gives up first; this is a backstop for the dial phase. */
    timer_start(lk->timer, 2 * cl->cfg->connect_timeout_ms, 0);
    lk->next = cl->links;
    cl->links = lk;
    log_debug("connect", "dialling %s", cl->cfg->edge_url);
    lk->dial = dial_start(cl->cm, cl->cfg->edge_host, cl->cfg->edge_port,
                          cl->cfg->connect_timeout_ms, link_on_dialed, lk);
    return lk;
}

/* The link that takes new streams, dialled when there is none. */
static struct link *
cl_link(struct cl *cl)
{
    if (cl->cur == NULL || cl->cur->dead || cl->cur->goaway || cl->cur->closing)
        cl->cur = link_new(cl);
    return cl->cur;
}

/* ------------------------------------------------------------ the end */

static void
cl_finish_now(void *arg)
{
    struct cl *cl = arg;
    struct link *lk, *next;

    if (cl->lw != NULL) {
        io_watch_free(cl->lw);
        cl->lw = NULL;
        close(cl->lfd);
        cl->lfd = -1;
    }
    while (cl->streams != NULL)
        cs_kill(cl->streams, true);
    for (lk = cl->links; lk != NULL; lk = next) {
        next = lk->next;
        link_close(lk);
    }
    timer_start(cl->deadline, CLOSE_WAIT_MS + 500, 0);
    if (cl->links == NULL)
        loop_stop(cl->loop);
}

/* Ends the process with |status| (the first one given wins): from the
 * deferred queue, resets what is left, closes the links gracefully and
 * stops the loop once they are gone (or CLOSE_WAIT_MS later). Fine from
 * inside library callbacks. */
static void
cl_finish(struct cl *cl, int status)
{
    if (cl->finishing)
        return;
    cl->finishing = true;
    cl->status = status;
    loop_defer(cl->loop, &cl->d_finish);
}

static void
cl_on_deadline(void *arg)
{
    struct cl *cl = arg;

    if (!cl->finishing) {
        /* stdio: the far side closed but our END_STREAM is stuck */
        log_debug("connect", "the edge did not take our end in time");
        cl_finish(cl, PTTH_EXIT_OK);
        return;
    }
    loop_stop(cl->loop);
}

static void
cl_on_signal(void *arg)
{
    struct cl *cl = arg;

    if (cl->stopping) {
        loop_stop(cl->loop);
        return;
    }
    cl->stopping = true;
    log_info("connect", "stopping: closing %d stream%s", cl->nstreams,
             cl->nstreams == 1 ? "" : "s");
    if (cl->finishing)
        return;
    cl_finish(cl, PTTH_EXIT_OK);
}

/* ------------------------------------------------------------ listen */

static void
cl_accept_resume(void *arg)
{
    struct cl *cl = arg;

    if (cl->lw != NULL)
        io_watch_set(cl->lw, IO_READ);
}

static void
cl_on_accept(void *arg, int events)
{
    struct cl *cl = arg;
    int i;

    (void)events;
    for (i = 0; i < ACCEPT_BURST && !cl->finishing; i++) {
        char peer[NET_ADDR_MAX] = "?";
        struct cs *s;
        int fd;

        if (cl->nstreams >= MAX_LOCAL) {
            log_warn("connect",
                     "%d local connections: accepting no more "
                     "until one closes",
                     cl->nstreams);
            io_watch_set(cl->lw, 0);
            return;
        }
        fd = net_accept(cl->lfd, peer, sizeof(peer));
        if (fd == PTTH_EAGAIN)
            return;
        if (fd < 0) {
            log_warn("connect", "accept on %s: %s", cl->bound, strerror(errno));
            io_watch_set(cl->lw, 0);
            timer_start(cl->accept_timer, ACCEPT_PAUSE_MS, 0);
            return;
        }
        s = cs_new_sock(cl, fd, peer);
        if (s != NULL)
            cs_attach(s, cl_link(cl));
    }
}

/* -------------------------------------------------------------- main */

static void
set_callbacks(struct cl *cl)
{
    nghttp2_session_callbacks *c;

    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_header_callback(c, on_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, on_frame_recv_cb);
    if (log_enabled(LOG_LV_TRACE)) /* it only traces */
        nghttp2_session_callbacks_set_on_frame_send_callback(c,
                                                             on_frame_send_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c,
                                                              on_data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(c,
                                                           on_stream_close_cb);
    cl->cbs = c;
}

/* Sets up TLS, the listener or the stdio stream, and the first link.
 * Returns 0 or an exit status (logged). */
static int
cl_start(struct cl *cl)
{
    static const char *const alpn[] = {"h2", NULL};
    const struct cfg *cfg = cl->cfg;
    char err[256];

    if (cfg->edge_tls) {
        cl->tls = tls_ctx_new_client(cfg->cacert, cfg->insecure, alpn, err,
                                     sizeof(err));
        if (cl->tls == NULL) {
            log_err("connect", "%s", err);
            return PTTH_EXIT_RESOURCE;
        }
        if (cfg->insecure)
            log_warn("connect", "--insecure: the edge's certificate is not "
                                "verified");
    } else if (cfg->ntokens > 0) {
        log_info("connect", "the token travels in clear text to %s",
                 cfg->edge_url);
    }
    if (listen_mode(cl)) {
        cl->lfd = net_listen(&cfg->connect_listen, cl->bound, sizeof(cl->bound),
                             err, sizeof(err));
        if (cl->lfd < 0) {
            log_err("connect", "%s", err);
            return PTTH_EXIT_RESOURCE;
        }
        cl->lw = io_watch_new(cl->loop, cl->lfd, cl_on_accept, cl);
        if (cl->lw == NULL) {
            log_err("connect", "cannot watch the listener: %s",
                    strerror(errno));
            return PTTH_EXIT_INTERNAL;
        }
        io_watch_set(cl->lw, IO_READ);
        /* Dial now: a bad edge shows at once, and the ready line means
         * the edge answered. */
        (void)cl_link(cl);
        return 0;
    }
    cs_attach(cs_new_stdio(cl), cl_link(cl));
    return 0;
}

int
client_main(const struct cfg *cfg)
{
    struct cl cl;
    int rc;

    memset(&cl, 0, sizeof(cl));
    cl.cfg = cfg;
    cl.lfd = -1;
    cl.fl0 = cl.fl1 = -1;
    cl.status = PTTH_EXIT_INTERNAL;
    cl.loop = loop_new();
    if (cl.loop == NULL) {
        log_err("connect", "cannot create the event loop: %s", strerror(errno));
        return PTTH_EXIT_INTERNAL;
    }
    cl.cm = curlm_new(cl.loop);
    if (cl.cm == NULL) {
        log_err("connect", "cannot start libcurl");
        loop_free(cl.loop);
        return PTTH_EXIT_INTERNAL;
    }
    if (!listen_mode(&cl)) {
        cl.fl0 = fcntl(STDIN_FILENO, F_GETFL);
        cl.fl1 = fcntl(STDOUT_FILENO, F_GETFL);
    }
    cl.authority = xasprintf("%s:%d", cfg->connect_host, cfg->connect_port);
    if (cfg->ntokens > 0)
        cl.auth = xasprintf("Bearer %s", cfg->tokens[0]);
    set_callbacks(&cl);
    deferred_init(&cl.d_finish, cl_finish_now, &cl);
    cl.deadline = timer_new(cl.loop, cl_on_deadline, &cl);
    cl.accept_timer = timer_new(cl.loop, cl_accept_resume, &cl);
    cl.sig_int = sig_watch_new(cl.loop, SIGINT, cl_on_signal, &cl);
    cl.sig_term = sig_watch_new(cl.loop, SIGTERM, cl_on_signal, &cl);
    rc = cl_start(&cl);
    if (rc == 0)
        loop_run(cl.loop);
    else
        cl.status = rc;

    /* Tear down: streams, links (their curl handles before the multi),
     * then the loop, which frees what was deferred. */
    loop_cancel(cl.loop, &cl.d_finish);
    while (cl.streams != NULL)
        cs_kill(cl.streams, true);
    while (cl.links != NULL)
        link_destroy(cl.links);
    if (cl.lw != NULL) {
        io_watch_free(cl.lw);
        close(cl.lfd);
    } else if (cl.lfd >= 0) {
        close(cl.lfd);
    }
    timer_free(cl.deadline);
    timer_free(cl.accept_timer);
    sig_watch_free(cl.sig_int);
    sig_watch_free(cl.sig_term);
    curlm_free(cl.cm);
    loop_free(cl.loop);
    if (cl.fl0 >= 0)
        (void)fcntl(STDIN_FILENO, F_SETFL, cl.fl0);
    restore_stdout_flags(&cl);
    nghttp2_session_callbacks_del(cl.cbs);
    free(cl.authority);
    if (cl.auth != NULL) {
        ptth_wipe(cl.auth, strlen(cl.auth));
        free(cl.auth);
    }
    tls_ctx_free(cl.tls);
    return cl.status;
}
