/* SPDX-License-Identifier: MIT
 * worker.c - `ptth expose` for HTTP targets.
 *
 * States: DIAL (libcurl connects, through a proxy if one is set) ->
 * HANDSHAKE (optional TLS, then "GET /.well-known/ptth/ Upgrade: ptth",
 * waiting for 101) -> UP (HTTP/2 server on the outbound connection; each
 * stream is forwarded by upstream.c) -> on loss WAIT (backoff with jitter)
 * -> DIAL again, keeping the name. Requests stream both ways: request body
 * bytes are acknowledged to the edge (WINDOW_UPDATE) only when curl took
 * them; response bytes wait in a capped queue, and curl is paused while it
 * is full. */
#include "config.h"

#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "curlm.h"
#include "dial.h"
#include "h1.h"
#include "h2.h"
#include "hdr.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "static.h"
#include "tls.h"
#include "upstream.h"
#include "util.h"

#define BACKOFF_MIN_MS 500u
#define BACKOFF_MAX_MS 30000u
#define RESP_CAP (256u * 1024u)
#define EARLY_SEND (256u * 1024u)
#define MAX_RESP_HEAD 16384u
#define DEAD_PINGS 3u /* silent intervals before the edge counts as lost */
/* A connection lost sooner than this after its 101 counts as a failed
 * attempt: an edge that accepts and drops at once is not reconnected to in
 * a tight loop, and --retries applies to it. */
#define STABLE_MS 10000u
/* After our own GOAWAY and half-close with nothing left in flight: how long
 * to wait for the edge to close before closing anyway. */
#define LINGER_MS 1000u

enum wk_state {
    WK_DIAL,
    WK_HANDSHAKE,
    WK_UP,
    WK_WAIT,
    WK_DONE,
};

struct wk;

struct wstream {
    struct wk *w;
    int32_t sid;
    struct wstream *prev, *next;
    struct upstream *up;
    char *method, *path, *authority;
    struct hdr_list fields;
    bool bad;
    bool req_eof;
    /* response */
    bool head_sent;
    struct bufq resp;
    bool resp_eof;
    bool deferred;  /* data provider is waiting for bytes */
    bool up_paused; /* on_body took fewer bytes than offered */
    struct hdr_list trailers;
    bool closed; /* nghttp2 closed the stream */
    /* --tcp: a CONNECT stream relayed to the local service */
    struct conn *local;
    size_t unconsumed;  /* DATA written to local, window not yet reopened */
    size_t req_pending; /* DATA handed to upstream, not yet taken by curl */
    bool local_shut;    /* END_STREAM passed on as a half-close */
    /* directory TARGET: the response's data source (static.c) */
    struct static_req *sreq;
    /* for the request line of -v */
    uint64_t start_ms;
    int status;    /* of the final response head sent, 0 before */
    uint64_t sent; /* DATA payload bytes sent */
};

struct wk {
    struct loop *loop;
    const struct cfg *cfg;
    struct curlm *cm;
    struct tls_ctx *tls;
    struct static_ctx *st; /* directory TARGET (static.c) */
    struct upstream_target target;
    char *host_rewrite; /* --host-header rewrite: the target's host */
    enum wk_state state;
    bool opened;       /* this connection's TLS handshake (if any) is done */
    bool idle_at_stop; /* no stream when the signal or --exec's end came */
    bool lingering;    /* ... and done: waiting LINGER_MS for the EOF */
    uint64_t grace_end_ms;   /* when --grace runs out, once stopping */
    uint64_t retry_after_ms; /* of the last refusal: the least next wait */
    struct dial *dial;
    struct conn *conn;
    nghttp2_session *h2;
    nghttp2_session_callbacks *cbs;
    struct buf in;
    struct h1_msg resp;
    struct timer *timer; /* backoff, handshake timeout, grace */
    struct timer *ping;  /* while UP: every --ping-interval */
    uint64_t last_rx;    /* loop time of the last bytes from the edge */
    int failures;
    uint64_t up_ms; /* when the current connection got its 101 */
    char name[64];  /* the tunnel's name once known */
    char *url;
    struct wstream *streams;
    int nstreams;
    bool stopping;
    bool draining; /* GOAWAY seen or sent: no new streams */
    bool shutting; /* our side half-closed: waiting for the edge's EOF */
    int status;    /* exit status once WK_DONE */
    /* --exec */
    bool exec_started;
    bool exec_done;
    int exec_status;
    struct sig_watch *sig_int, *sig_term;
    struct timer *grace;
    struct deferred d_send;
    struct deferred d_reconnect;
    size_t unsent; /* response bytes queued since the last send */
};

static void wk_send(struct wk *w);
static void wk_lost(struct wk *w, const char *why);
static void wk_dial(struct wk *w);
static void wk_finish(struct wk *w, int status);
static ssize_t wk_body_read_cb(nghttp2_session *session, int32_t sid,
                               uint8_t *buf, size_t len, uint32_t *flags,
                               nghttp2_data_source *src, void *ud);

/* ------------------------------------------------------------- streams */

static struct wstream *
stream_new(struct wk *w, int32_t sid)
{
    struct wstream *s = xcalloc(1, sizeof(*s));

    s->w = w;
    s->sid = sid;
    s->start_ms = loop_now_ms(w->loop);
    hdr_list_init(&s->fields);
    hdr_list_init(&s->trailers);
    bufq_init(&s->resp, BUF_CHUNK_SIZE, RESP_CAP);
    s->next = w->streams;
    if (w->streams != NULL)
        w->streams->prev = s;
    w->streams = s;
    w->nstreams++;
    return s;
}

static void
stream_free(struct wstream *s)
{
    struct wk *w = s->w;

    if (s->up != NULL)
        upstream_cancel(s->up);
    conn_free(s->local);
    static_req_free(s->sreq);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    w->nstreams--;
    free(s->method);
    free(s->path);
    free(s->authority);
    hdr_list_free(&s->fields);
    hdr_list_free(&s->trailers);
    bufq_free(&s->resp);
    free(s);
}

/* Answers a stream from the worker itself (502, 504, 400...). */
static void
stream_local_response(struct wstream *s, int status, const char *msg)
{
    struct wk *w = s->w;
    char st[8], len[24], body[512];
    nghttp2_nv nv[3];
    nghttp2_data_provider prd;

    snprintf(st, sizeof(st), "%d", status);
    snprintf(body, sizeof(body), "%d %s: %s\n", status, h1_reason(status), msg);
    snprintf(len, sizeof(len), "%zu", strlen(body));
    nv[0] = h2_nv(":status", st);
    nv[1] = h2_nv("content-type", "text/plain; charset=utf-8");
    nv[2] = h2_nv("content-length", len);
    bufq_free(&s->resp);
    bufq_init(&s->resp, BUF_CHUNK_SIZE, RESP_CAP);
    if (strcmp(s->method ? s->method : "", "HEAD") != 0)
        bufq_append(&s->resp, body, strlen(body));
    s->resp_eof = true;
    s->head_sent = true;
    memset(&prd, 0, sizeof(prd));
    prd.source.ptr = s;
    prd.read_callback = wk_body_read_cb;
    nghttp2_submit_response(w->h2, s->sid, nv, 3, &prd);
    wk_send(w);
}

static ssize_t
wk_body_read_cb(nghttp2_session *session, int32_t sid, uint8_t *buf, size_t len,
                uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct wstream *s = src->ptr;
    struct wk *w = ud;
    ssize_t n;

    (void)buf;
    n = h2_read_queue(session, sid, w->conn, &s->resp, s->resp_eof,
                      &s->trailers, &s->deferred, len, flags);
    /* Room again: let the source that filled the queue go on. */
    if (n > 0 && s->up_paused && s->up != NULL) {
        s->up_paused = false;
        upstream_resume(s->up);
    }
    if (n > 0 && s->up_paused && s->local != NULL) {
        s->up_paused = false;
        conn_pause_read(s->local, false);
    }
    return n;
}

static int
wk_send_data_cb(nghttp2_session *session, nghttp2_frame *frame,
                const uint8_t *framehd, size_t length, nghttp2_data_source *src,
                void *ud)
{
    struct wstream *s = src->ptr;
    struct wk *w = ud;

    (void)session;
    return h2_send_queued(w->conn, frame, framehd, &s->resp, length);
}

static void
stream_resume(struct wstream *s)
{
    if (s->deferred && s->head_sent && !s->closed) {
        s->deferred = false;
        nghttp2_session_resume_data(s->w->h2, s->sid);
    }
    wk_send(s->w);
}

/* ---------------------------------------------------- upstream callbacks */

static void
up_on_head(void *arg, int status, const struct hdr_list *fields, bool final)
{
    struct wstream *s = arg;
    struct wk *w = s->w;
    nghttp2_nv *nv;
    nghttp2_data_provider prd;
    char st[4];
    size_t n;

    if (s->closed)
        return;
    nv = h2_nv_response(status, fields, st, &n);
    if (!final) {
        nghttp2_submit_headers(w->h2, NGHTTP2_FLAG_NONE, s->sid, NULL, nv, n,
                               NULL);
    } else {
        memset(&prd, 0, sizeof(prd));
        prd.source.ptr = s;
        prd.read_callback = wk_body_read_cb;
        s->head_sent = true;
        if (nghttp2_submit_response(w->h2, s->sid, nv, n, &prd) != 0)
            nghttp2_submit_rst_stream(w->h2, NGHTTP2_FLAG_NONE, s->sid,
                                      NGHTTP2_INTERNAL_ERROR);
    }
    free(nv);
    wk_send(w);
}

static size_t
up_on_body(void *arg, const uint8_t *p, size_t n)
{
    struct wstream *s = arg;
    struct wk *w = s->w;
    size_t took;

    if (s->closed)
        return n; /* nobody listens: drop */
    took = bufq_write_some(&s->resp, p, n);
    if (took < n)
        s->up_paused = true;
    if (took > 0)
        stream_resume(s);
    /* Many streams can fill in one loop turn (64 ready upstreams of
     * 64 KiB: 4 MiB held at once). Past EARLY_SEND bytes, frame and write
     * them now rather than at the end of the turn. This runs inside
     * libcurl: nghttp2 may close streams meanwhile (s among them; their
     * upstreams are freed later), and errors are left to wk_send_now. */
    w->unsent += took;
    if (w->unsent >= EARLY_SEND && w->state == WK_UP) {
        w->unsent = 0;
        if (h2_send(w->h2, w->conn) == 0)
            conn_flush_now(w->conn);
        wk_send(w);
    }
    return took;
}

static void
up_on_trailers(void *arg, const struct hdr_list *t)
{
    struct wstream *s = arg;
    size_t i;

    for (i = 0; i < t->n; i++)
        hdr_add(&s->trailers, t->v[i].name, t->v[i].name_len, t->v[i].value,
                t->v[i].value_len, 0);
}

static void
up_on_req_consumed(void *arg, size_t n)
{
    struct wstream *s = arg;

    if (s->closed)
        return;
    s->req_pending -= n < s->req_pending ? n : s->req_pending;
    nghttp2_session_consume_stream(s->w->h2, s->sid, n);
    wk_send(s->w);
}

static void
up_on_done(void *arg, int rc, const char *errmsg)
{
    struct wstream *s = arg;
    struct wk *w = s->w;

    s->up = NULL; /* freed by upstream.c after we return */
    if (s->closed) {
        stream_free(s);
        return;
    }
    if (rc == 0) {
        s->resp_eof = true;
        stream_resume(s);
        return;
    }
    log_info(w->name, "%s %s: %s", s->method, s->path, errmsg);
    if (!s->head_sent) {
        stream_local_response(s, rc == PTTH_ELIMIT ? 504 : 502, errmsg);
        return;
    }
    /* The head is out: the edge must see the stream fail. */
    nghttp2_submit_rst_stream(w->h2, NGHTTP2_FLAG_NONE, s->sid,
                              NGHTTP2_INTERNAL_ERROR);
    wk_send(w);
}

static const struct upstream_cbs up_cbs = {
    up_on_head, up_on_body, up_on_trailers, up_on_req_consumed, up_on_done,
};

/* ------------------------------------------- --tcp: CONNECT streams */

/* Gives the edge back window for DATA the local socket has taken. */
static void
tunnel_consume(struct wstream *s)
{
    if (s->unconsumed > 0 && !s->closed &&
        conn_out_len(s->local) < CONN_OUT_HIGH) {
        nghttp2_session_consume_stream(s->w->h2, s->sid, s->unconsumed);
        s->unconsumed = 0;
        wk_send(s->w);
    }
}

static void
tunnel_on_open(void *arg)
{
    struct wstream *s = arg;
    struct wk *w = s->w;
    nghttp2_nv nv = h2_nv(":status", "200");
    nghttp2_data_provider prd;

    memset(&prd, 0, sizeof(prd));
    prd.source.ptr = s;
    prd.read_callback = wk_body_read_cb;
    s->head_sent = true;
    nghttp2_submit_response(w->h2, s->sid, &nv, 1, &prd);
    log_info(w->name, "stream %d: connected to %s", s->sid, w->cfg->target);
    wk_send(w);
}

static void
tunnel_on_readable(void *arg)
{
    struct wstream *s = arg;

    while (s->local != NULL && !s->resp_eof) {
        uint8_t buf[16384];
        size_t space = bufq_space(&s->resp);
        long n;

        if (space == 0) {
            s->up_paused = true; /* resumed by the data provider */
            conn_pause_read(s->local, true);
            break;
        }
        n = conn_read(s->local, buf, space < sizeof(buf) ? space : sizeof(buf));
        if (n == PTTH_EAGAIN)
            break;
        if (n == PTTH_ECLOSED) {
            s->resp_eof = true; /* half-close: END_STREAM after the data */
            conn_pause_read(s->local, true);
            break;
        }
        if (n < 0) {
            /* A reset (or any error) of the TCP side resets the stream. */
            nghttp2_submit_rst_stream(s->w->h2, NGHTTP2_FLAG_NONE, s->sid,
                                      NGHTTP2_CONNECT_ERROR);
            conn_pause_read(s->local, true);
            wk_send(s->w);
            return;
        }
        bufq_append(&s->resp, buf, (size_t)n);
    }
    stream_resume(s);
}

static void
tunnel_on_drain(void *arg)
{
    tunnel_consume(arg);
}

static void
tunnel_on_error(void *arg, int rc)
{
    struct wstream *s = arg;
    struct wk *w = s->w;

    (void)rc;
    if (!s->head_sent) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: %s", w->cfg->target,
                 conn_errstr(s->local));
        log_info(w->name, "stream %d: %s", s->sid, msg);
        stream_local_response(s, 502, msg);
        return;
    }
    nghttp2_submit_rst_stream(w->h2, NGHTTP2_FLAG_NONE, s->sid,
                              NGHTTP2_CONNECT_ERROR);
    wk_send(w);
}

static const struct conn_cbs tunnel_cbs = {
    tunnel_on_open,
    tunnel_on_readable,
    tunnel_on_drain,
    tunnel_on_error,
};

/* CONNECT HOST:PORT: allowed only for the advertised service's port (or 0:
 * "this tunnel's service"); connects to our own target, never to HOST. */
static void
tunnel_start(struct wstream *s)
{
    struct wk *w = s->w;
    const char *colon = s->authority ? strrchr(s->authority, ':') : NULL;
    int port = -1, fd;
    char err[256];
    struct xport x;

    if (colon == NULL || parse_port(colon + 1, &port) != 0 ||
        (port != 0 && port != w->cfg->up_port)) {
        stream_local_response(s, 403, "this worker serves no such service");
        return;
    }
    fd = net_connect_tcp(w->target.host, w->target.port, err, sizeof(err));
    if (fd < 0) {
        stream_local_response(s, 502, err);
        return;
    }
    net_xport(&x, fd);
    s->local = conn_new_connecting(w->loop, &x, &tunnel_cbs, s);
}

/* Starts forwarding a complete request head. */
static void
stream_start(struct wstream *s)
{
    struct wk *w = s->w;
    struct upstream_req r;
    const struct hdr *cl;
    const char *authority = s->authority;

    if (s->method != NULL && strcmp(s->method, "CONNECT") == 0) {
        if (w->cfg->target_kind != TARGET_TCP || s->bad) {
            stream_local_response(s, 501,
                                  "CONNECT is not served by this worker");
            return;
        }
        tunnel_start(s);
        return;
    }
    if (s->bad || s->method == NULL || s->path == NULL) {
        stream_local_response(s, 400, "malformed request");
        return;
    }
    if (w->cfg->target_kind == TARGET_TCP) {
        stream_local_response(s, 501, "this tunnel serves TCP only");
        return;
    }
    if (w->cfg->target_kind == TARGET_DIR) {
        s->sreq =
            static_serve(w->st, w->h2, s->sid, s->method, s->path, &s->fields);
        wk_send(w);
        return;
    }
    if (w->cfg->host_header != NULL)
        authority = w->host_rewrite ? w->host_rewrite : w->cfg->host_header;
    memset(&r, 0, sizeof(r));
    r.method = s->method;
    r.path = s->path;
    r.authority = authority;
    r.fields = &s->fields;
    r.content_length = -1;
    cl = hdr_get(&s->fields, "content-length");
    if (cl != NULL) {
        long long v;
        char *end;
        errno = 0;
        v = strtoll(cl->value, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 0)
            r.content_length = v;
    }
    r.has_body = !s->req_eof;
    s->up = upstream_start(w->cm, &w->target, &r, &up_cbs, s);
}

/* ------------------------------------------------------ HTTP/2 server */

static int
on_begin_headers_cb(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct wk *w = ud;
    struct wstream *s;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    s = stream_new(w, f->hd.stream_id);
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, s);
    return 0;
}

static int
on_header_cb(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
             size_t namelen, const uint8_t *value, size_t valuelen,
             uint8_t flags, void *ud)
{
    struct wstream *s =
        nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    char **dst = NULL;

    (void)flags;
    h2_trace_field(((struct wk *)ud)->name, f->hd.stream_id, name, namelen,
                   value, valuelen);
    if (s == NULL || f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (namelen > 0 && name[0] == ':') {
        if (namelen == 7 && memcmp(name, ":method", 7) == 0)
            dst = &s->method;
        else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
            dst = &s->path;
        else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
            dst = &s->authority;
        if (dst != NULL && *dst == NULL)
            *dst = xstrndup((const char *)value, valuelen);
        return 0;
    }
    if (namelen == 4 && memcmp(name, "host", 4) == 0) {
        if (s->authority == NULL)
            s->authority = xstrndup((const char *)value, valuelen);
        return 0;
    }
    if (hdr_is_hop_by_hop((const char *)name, namelen))
        return 0;
    if (hdr_add(&s->fields, (const char *)name, namelen, (const char *)value,
                valuelen, 0) != 0)
        s->bad = true;
    return 0;
}

static int
on_frame_recv_cb(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct wk *w = ud;
    struct wstream *s;

    h2_trace_frame(w->name, "recv", f);
    if (f->hd.type == NGHTTP2_GOAWAY) {
        log_info(w->name, "the edge sent GOAWAY");
        w->draining = true;
        return 0;
    }
    if (f->hd.stream_id == 0)
        return 0;
    s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL)
        return 0;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        s->req_eof = true;
    if (f->hd.type == NGHTTP2_HEADERS &&
        f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        stream_start(s);
        return 0;
    }
    if (s->req_eof && s->up != NULL)
        upstream_end_body(s->up);
    if (s->req_eof && s->local != NULL && !s->local_shut) {
        s->local_shut = true;
        conn_shutdown(s->local); /* END_STREAM: half-close the TCP side */
    }
    return 0;
}

static int
on_data_chunk_cb(nghttp2_session *ng, uint8_t flags, int32_t sid,
                 const uint8_t *data, size_t len, void *ud)
{
    struct wstream *s = nghttp2_session_get_stream_user_data(ng, sid);
    size_t took;

    (void)flags;
    (void)ud;
    /* The connection window comes back at once: what a stream holds is
     * bounded by its own window, and a few streams whose upstream does not
     * read must not stop the others (with the connection window given
     * back only as curl took bytes, about ten such uploads stalled every
     * request body of the tunnel). The stream window follows consumption. */
    nghttp2_session_consume_connection(ng, len);
    if (s != NULL && s->local != NULL) {
        conn_write(s->local, data, len);
        s->unconsumed += len;
        tunnel_consume(s);
        return 0;
    }
    if (s == NULL || s->up == NULL) {
        nghttp2_session_consume_stream(ng, sid, len);
        return 0;
    }
    took = upstream_write_body(s->up, data, len);
    s->req_pending += took;
    if (took < len) /* beyond the window or after an error: drop it */
        nghttp2_session_consume_stream(ng, sid, len - took);
    return 0;
}

/* With -v and more only (set_callbacks): traces the frame, and notes the
 * status and size of responses for the request line written when the
 * stream closes. */
static int
on_frame_send_cb(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct wk *w = ud;
    struct wstream *s;
    size_t i;

    h2_trace_frame(w->name, "send", f);
    if (f->hd.stream_id == 0)
        return 0;
    s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_DATA) {
        s->sent += f->hd.length;
    } else if (f->hd.type == NGHTTP2_HEADERS && s->status == 0) {
        for (i = 0; i < f->headers.nvlen; i++) {
            const nghttp2_nv *nv = &f->headers.nva[i];
            if (nv->namelen == 7 && memcmp(nv->name, ":status", 7) == 0 &&
                nv->valuelen == 3 && nv->value[0] >= '2' && nv->value[0] <= '9')
                s->status = (nv->value[0] - '0') * 100 +
                            (nv->value[1] - '0') * 10 + (nv->value[2] - '0');
        }
    }
    return 0;
}

static int
on_stream_close_cb(nghttp2_session *ng, int32_t sid, uint32_t code, void *ud)
{
    struct wstream *s = nghttp2_session_get_stream_user_data(ng, sid);
    struct wk *w = ud;

    if (s == NULL)
        return 0;
    if (s->method != NULL)
        log_info(w->name,
                 "request method=%s path=%s status=%d bytes=%llu ms=%llu%s",
                 s->method, s->path != NULL ? s->path : "", s->status,
                 (unsigned long long)s->sent,
                 (unsigned long long)(loop_now_ms(w->loop) - s->start_ms),
                 code != NGHTTP2_NO_ERROR ? " reset" : "");
    nghttp2_session_set_stream_user_data(ng, sid, NULL);
    s->closed = true;
    if (s->up != NULL) {
        upstream_cancel(s->up);
        s->up = NULL;
    }
    /* A stream reset by the edge resets the TCP connection too. */
    if (s->local != NULL && code != NGHTTP2_NO_ERROR)
        conn_reset_on_close(s->local);
    stream_free(s);
    return 0;
}

/* Stopped while idle, our side half-closed: once the GOAWAY is out
 * (conn_shutdown done), wait at most LINGER_MS, within what is left of
 * --grace, for the edge to close. When requests were in flight at the
 * signal, the edge's EOF (or --grace) ends the connection as before: the
 * last response may still sit in socket buffers on its way, and closing
 * early could reset the connection under it. */
static void
wk_linger(struct wk *w)
{
    uint64_t now = loop_now_ms(w->loop), left;

    if (!w->shutting || !w->idle_at_stop || w->lingering ||
        !conn_is_flushed(w->conn))
        return;
    w->lingering = true;
    left = w->grace_end_ms > now ? w->grace_end_ms - now : 0;
    timer_start(w->grace, left < LINGER_MS ? left : LINGER_MS, 0);
}

static void
wk_send_now(void *arg)
{
    struct wk *w = arg;

    w->unsent = 0;
    if (w->state != WK_UP)
        return;
    if (h2_send(w->h2, w->conn) != 0) {
        wk_lost(w, "HTTP/2 error");
        return;
    }
    /* Done (GOAWAY both ways, or drained after our own): half-close and
     * let the edge close; its EOF ends the connection (wk_lost), or
     * wk_linger's wait when we stopped while idle. */
    if ((h2_finished(w->h2) || (w->stopping && w->nstreams == 0)) &&
        !w->shutting) {
        w->shutting = true;
        conn_shutdown(w->conn);
        wk_linger(w);
    }
}

static void
wk_send(struct wk *w)
{
    loop_defer_late(w->loop, &w->d_send);
}

/* ------------------------------------------------------ connection */

static void
wk_close_conn(struct wk *w)
{
    while (w->streams != NULL) {
        struct wstream *s = w->streams;
        if (w->h2 != NULL)
            nghttp2_session_set_stream_user_data(w->h2, s->sid, NULL);
        stream_free(s);
    }
    loop_cancel(w->loop, &w->d_send);
    timer_stop(w->ping);
    conn_free(w->conn);
    w->conn = NULL;
    dial_cancel(w->dial);
    w->dial = NULL;
    if (w->h2 != NULL) {
        nghttp2_session_del(w->h2);
        w->h2 = NULL;
    }
    buf_reset(&w->in);
    h1_msg_reset(&w->resp);
    w->draining = false;
    w->shutting = false;
}

/* A random wait from 0 to max ms. */
static uint64_t
jitter_ms(uint64_t max)
{
    uint32_t r = 0;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)rand();
    return (uint64_t)r % (max + 1);
}

static uint64_t
backoff_ms(int failures)
{
    uint64_t ms = BACKOFF_MIN_MS;
    int i;

    for (i = 1; i < failures && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    /* jitter: 75% to 125% */
    return ms * 3 / 4 + jitter_ms(ms / 2);
}

static void
on_timer(void *arg)
{
    struct wk *w = arg;

    if (w->state == WK_WAIT)
        wk_dial(w);
    else if (w->state == WK_HANDSHAKE)
        wk_lost(w, "the edge did not answer the handshake in time");
}

/* Mirrors the edge (edge.c): PING every --ping-interval; an edge that has
 * sent nothing for DEAD_PINGS intervals is gone without a FIN or RST
 * (partition, NAT state dropped, frozen host), so reconnect. */
static void
on_ping(void *arg)
{
    struct wk *w = arg;
    uint64_t silent = loop_now_ms(w->loop) - w->last_rx;
    char why[96];

    if (w->state != WK_UP)
        return;
    if (silent > DEAD_PINGS * w->cfg->ping_interval_ms) {
        snprintf(why, sizeof(why), "the edge did not answer PINGs for %.1f s",
                 (double)silent / 1000.0);
        wk_lost(w, why);
        return;
    }
    if (w->shutting)
        return; /* our side is closed: nothing more may be sent */
    nghttp2_submit_ping(w->h2, NGHTTP2_FLAG_NONE, NULL);
    wk_send(w);
}

/* The connection failed or ended: retry with backoff, or stop. */
static void
wk_lost(struct wk *w, const char *why)
{
    bool was_up = w->state == WK_UP, stable;
    uint64_t ms;

    if (w->state == WK_DONE)
        return;
    wk_close_conn(w);
    if (w->stopping) {
        wk_finish(w, w->exec_done ? w->exec_status : PTTH_EXIT_OK);
        return;
    }
    stable = was_up && loop_now_ms(w->loop) - w->up_ms >= STABLE_MS;
    if (stable) {
        w->failures = 0;
        log_warn(w->name, "lost the edge (%s); reconnecting", why);
    }
    w->failures++;
    if (w->cfg->retries >= 0 && w->failures > w->cfg->retries) {
        log_err(w->name[0] ? w->name : "expose",
                "cannot reach the edge %s: %s (giving up after %d %s)",
                w->cfg->edge_url, why, w->failures,
                w->failures == 1 ? "attempt" : "attempts");
        wk_finish(w, PTTH_EXIT_UNREACHABLE);
        return;
    }
    ms = stable ? 0 : backoff_ms(w->failures);
    if (ms < w->retry_after_ms) {
        /* The edge asked for that long; up to a quarter more, so that the
         * workers it refused at once do not all come back at once. */
        ms = w->retry_after_ms + jitter_ms(w->retry_after_ms / 4);
    }
    w->retry_after_ms = 0;
    if (was_up && !stable)
        log_warn(w->name,
                 "lost the edge (%s) %.1f s after connecting; "
                 "reconnecting in %.1f s",
                 why, (double)(loop_now_ms(w->loop) - w->up_ms) / 1000.0,
                 (double)ms / 1000.0);
    else if (!was_up)
        log_warn(w->name[0] ? w->name : "expose",
                 "cannot reach the edge %s: %s; retrying in %.1f s",
                 w->cfg->edge_url, why, (double)ms / 1000.0);
    w->state = WK_WAIT;
    timer_start(w->timer, ms, 0);
}

static void
wk_finish(struct wk *w, int status)
{
    if (w->state == WK_DONE)
        return;
    wk_close_conn(w);
    w->state = WK_DONE;
    w->status = status;
    timer_stop(w->timer);
    loop_stop(w->loop);
}

/* Once stopping (SIGINT/SIGTERM or --exec's end) while up: GOAWAY to the
 * edge, then the requests in flight get --grace to finish. */
static void
wk_drain_start(struct wk *w)
{
    w->idle_at_stop = w->nstreams == 0;
    nghttp2_submit_shutdown_notice(w->h2);
    nghttp2_submit_goaway(w->h2, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(w->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    w->draining = true;
    wk_send(w);
    w->grace_end_ms = loop_now_ms(w->loop) + w->cfg->grace_ms;
    timer_start(w->grace, w->cfg->grace_ms, 0);
}

static void
on_exec_exit(void *arg, int status)
{
    struct wk *w = arg;

    w->exec_done = true;
    w->exec_status = status;
    log_info(w->name, "--exec command exited with status %d", status);
    if (!w->stopping) {
        w->stopping = true;
        if (w->state == WK_UP)
            wk_drain_start(w);
        else
            wk_finish(w, status);
    }
}

static void
start_exec(struct wk *w)
{
    char *env[2];
    int pid;

    env[0] = xasprintf("PTTH_URL=%s", w->url);
    env[1] = NULL;
    w->exec_started = true;
    if (loop_spawn_shell(w->loop, w->cfg->exec, env, on_exec_exit, w, &pid) !=
        0) {
        log_err(w->name, "cannot run --exec command: %s", strerror(errno));
        free(env[0]);
        w->stopping = true;
        wk_finish(w, PTTH_EXIT_INTERNAL);
        return;
    }
    free(env[0]);
}

/* The wait a 503 or 429 asks for in Retry-After, when given in seconds
 * (1 to 30: BACKOFF_MAX_MS bounds every wait), else 0. An HTTP date is
 * ignored: the edge's clock need not match ours. */
static uint64_t
retry_after_ms(const struct h1_msg *r)
{
    const struct h1_field *f;
    uint64_t secs = 0;
    size_t i;

    if (r->status != 503 && r->status != 429)
        return 0;
    f = h1_find(r, "retry-after");
    if (f == NULL || f->value_len == 0)
        return 0;
    for (i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return 0;
        if (secs < BACKOFF_MAX_MS / 1000) /* saturates: capped below */
            secs = secs * 10 + (uint64_t)(f->value[i] - '0');
    }
    secs *= 1000;
    return secs > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : secs;
}

/* The 101 arrived: remember the name and URL, start HTTP/2. */
static void
wk_up(struct wk *w, const char *url)
{
    const char *host = strstr(url, "://");
    bool first = w->url == NULL;

    if (host != NULL) {
        size_t n = strcspn(host + 3, ".:/");
        if (n > 0 && n < sizeof(w->name)) {
            memcpy(w->name, host + 3, n);
            w->name[n] = '\0';
        }
    }
    if (first || strcmp(w->url, url) != 0) {
        free(w->url);
        w->url = xstrdup(url);
        printf("%s\n", url);
        fflush(stdout);
        log_msg(LOG_LV_WARN, w->name, "forwarding %s -> %s", url,
                w->cfg->target);
    } else {
        /* The loss was said at this level: so is the way back. */
        log_msg(LOG_LV_WARN, w->name, "reconnected: forwarding %s -> %s", url,
                w->cfg->target);
    }
    w->state = WK_UP;
    w->up_ms = loop_now_ms(w->loop);
    timer_stop(w->timer);
    w->last_rx = loop_now_ms(w->loop);
    timer_start(w->ping, w->cfg->ping_interval_ms, w->cfg->ping_interval_ms);
    if (w->cfg->exec != NULL && !w->exec_started)
        start_exec(w);
}

/* The URL the edge gives the tunnel is printed for scripts to use: an
 * http:// or https:// URL with a valid host, and no blank or control byte
 * after it. */
static bool
public_url_ok(const char *v, size_t n)
{
    size_t off, len, i;

    if (!h1_url_authority(v, n, &off, &len))
        return false;
    for (i = off + len; i < n; i++) {
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] == 0x7f)
            return false;
    }
    return true;
}

static void
wk_handshake_response(struct wk *w)
{
    size_t head_len = 0;
    int rc = h1_parse_response(&w->resp, buf_data(&w->in), buf_len(&w->in),
                               MAX_RESP_HEAD, &head_len);
    const struct h1_field *f;
    char why[160];

    if (rc == PTTH_EAGAIN)
        return;
    if (rc != 0) {
        wk_lost(w, "malformed handshake response");
        return;
    }
    switch (w->resp.status) {
    case 101:
        break;
    case 401:
    case 403:
        log_err("expose", "the edge refused the credentials (%d %s)%s",
                w->resp.status, h1_reason(w->resp.status),
                w->cfg->ntokens ? "" : ": give a token with --token-file");
        wk_finish(w, PTTH_EXIT_AUTH);
        return;
    case 409:
        log_err("expose", "the name '%s' is held by another token (409)",
                w->cfg->name ? w->cfg->name : w->name);
        wk_finish(w, PTTH_EXIT_CONFLICT);
        return;
    default:
        snprintf(why, sizeof(why), "handshake refused: %d %s", w->resp.status,
                 h1_reason(w->resp.status));
        w->retry_after_ms = retry_after_ms(&w->resp);
        wk_lost(w, why);
        return;
    }
    if (!h1_has_token(&w->resp, "upgrade", "ptth")) {
        wk_lost(w, "the edge answered 101 without Upgrade: ptth");
        return;
    }
    if (!h1_has_token(&w->resp, "connection", "upgrade")) {
        wk_lost(w, "the edge answered 101 without Connection: Upgrade");
        return;
    }
    /* PTTH-01: the 101 names the protocol that follows; only h2 does. */
    if (!h1_has_token(&w->resp, "alpn", "h2")) {
        wk_lost(w, "the edge answered 101 without ALPN: h2");
        return;
    }
    f = h1_find(&w->resp, "ptth-public-url");
    if (f == NULL) {
        wk_lost(w, "the edge did not send Ptth-Public-Url");
        return;
    }
    if (!public_url_ok(f->value, f->value_len)) {
        wk_lost(w, "the edge sent a Ptth-Public-Url that is not a URL");
        return;
    }
    if (h2_session_new(&w->h2, H2_PEER_EDGE, w->cbs, w) != 0) {
        wk_lost(w, "cannot start HTTP/2");
        return;
    }
    buf_consume(&w->in, head_len);
    wk_up(w, f->value);
    if (w->state != WK_UP)
        return;
    if (buf_len(&w->in) > 0) {
        rc = h2_recv(w->h2, buf_data(&w->in), buf_len(&w->in));
        buf_reset(&w->in);
        if (rc != 0) {
            wk_lost(w, "HTTP/2 protocol error");
            return;
        }
    }
    wk_send(w);
}

static void
wk_on_readable(void *arg)
{
    struct wk *w = arg;
    size_t total = 0;

    while (w->state == WK_HANDSHAKE || w->state == WK_UP) {
        uint8_t tmp[CONN_READ_CHUNK];
        long n;

        if (w->state == WK_HANDSHAKE) {
            size_t avail;
            uint8_t *p = buf_space(&w->in, &avail);
            if (avail == 0) {
                wk_lost(w, "handshake response too large");
                return;
            }
            n = conn_read(w->conn, p, avail);
            if (n == PTTH_EAGAIN)
                return;
            if (n <= 0) {
                wk_lost(w, n == PTTH_ECLOSED ? "the edge closed the connection"
                                             : conn_errstr(w->conn));
                return;
            }
            buf_commit(&w->in, (size_t)n);
            wk_handshake_response(w);
            continue;
        }
        if (total >= CONN_READ_BUDGET) {
            conn_read_again(w->conn); /* let the streams' sockets run */
            break;
        }
        n = conn_read(w->conn, tmp, sizeof(tmp));
        if (n == PTTH_EAGAIN)
            break;
        if (n <= 0) {
            wk_lost(w, n == PTTH_ECLOSED ? "the edge closed the connection"
                                         : conn_errstr(w->conn));
            return;
        }
        total += (size_t)n;
        w->last_rx = loop_now_ms(w->loop);
        if (h2_recv(w->h2, tmp, (size_t)n) != 0) {
            (void)h2_send(w->h2, w->conn);
            wk_lost(w, "HTTP/2 protocol error");
            return;
        }
    }
    if (w->state == WK_UP)
        wk_send(w);
}

static void
wk_on_open(void *arg)
{
    struct wk *w = arg;
    const struct cfg *cfg = w->cfg;
    char *req, *auth = NULL, *name = NULL, *services = NULL;
    const char *want = cfg->name ? cfg->name : (w->name[0] ? w->name : NULL);
    bool v6 = strchr(cfg->edge_host, ':') != NULL;

    w->opened = true;
    if (cfg->ntokens > 0)
        auth = xasprintf("Authorization: Bearer %s\r\n", cfg->tokens[0]);
    if (want != NULL)
        name = xasprintf("?name=%s", want);
    if (cfg->target_kind == TARGET_TCP)
        services = xasprintf("Ptth-Services: tcp;port=%d\r\n", cfg->up_port);
    req = xasprintf("GET /.well-known/ptth/%s HTTP/1.1\r\n"
                    "Host: %s%s%s:%d\r\n"
                    "Connection: Upgrade\r\n"
                    "Upgrade: ptth\r\n"
                    "ALPN: h2\r\n"
                    "%s%s"
                    "User-Agent: ptth/%s\r\n\r\n",
                    name ? name : "", v6 ? "[" : "", cfg->edge_host,
                    v6 ? "]" : "", cfg->edge_port, auth ? auth : "",
                    services ? services : "", PACKAGE_VERSION);
    conn_write(w->conn, req, strlen(req));
    if (auth != NULL) {
        ptth_wipe(auth, strlen(auth));
        free(auth);
    }
    ptth_wipe(req, strlen(req));
    free(req);
    free(name);
    free(services);
}

static void
wk_on_drain(void *arg)
{
    struct wk *w = arg;
    struct wstream *s;

    if (w->state != WK_UP)
        return;
    wk_linger(w);
    /* Responses that waited for room in the output. */
    for (s = w->streams; s != NULL; s = s->next) {
        if (s->deferred && (bufq_len(&s->resp) > 0 || s->resp_eof))
            stream_resume(s);
    }
    wk_send(w);
}

static void
wk_on_error(void *arg, int rc)
{
    struct wk *w = arg;
    char why[300];

    if (rc == PTTH_ETLS && !w->opened) {
        /* Verification and handshake failures are not transient: exit 5
         * rather than retry (SPEC 3.5). A TLS error on a connection whose
         * handshake is done (wk_on_open has run) is a lost one. */
        log_err("expose", "TLS with the edge %s: %s%s", w->cfg->edge_url,
                conn_verify_failed(w->conn) ? "cannot verify it: " : "",
                conn_errstr(w->conn));
        wk_finish(w, PTTH_EXIT_TLS);
        return;
    }
    snprintf(why, sizeof(why), "%s", conn_errstr(w->conn));
    wk_lost(w, why);
}

static const struct conn_cbs wk_conn_cbs = {
    wk_on_open,
    wk_on_readable,
    wk_on_drain,
    wk_on_error,
};

static void
on_dialed(void *arg, int rc, const char *errmsg)
{
    struct wk *w = arg;
    struct xport x;

    if (rc != 0) {
        w->dial = NULL; /* freed by dial.c when we return */
        wk_lost(w, errmsg);
        return;
    }
    dial_take_xport(w->dial, &x);
    w->dial = NULL;
    w->state = WK_HANDSHAKE;
    w->opened = false;
    w->conn = conn_new(w->loop, &x, w->tls, w->tls ? w->cfg->edge_host : NULL,
                       &wk_conn_cbs, w);
    /* --connect-timeout again, for TLS and the upgrade handshake. */
    timer_start(w->timer, w->cfg->connect_timeout_ms, 0);
}

static void
wk_dial(struct wk *w)
{
    w->state = WK_DIAL;
    w->dial = dial_start(w->cm, w->cfg->edge_host, w->cfg->edge_port,
                         w->cfg->connect_timeout_ms, on_dialed, w);
}

/* ---------------------------------------------------------- signals */

static void
on_grace_over(void *arg)
{
    struct wk *w = arg;
    if (w->lingering)
        log_info(w->name, "the edge did not close after GOAWAY: closing");
    else
        log_warn(w->name, "grace period over: closing");
    wk_finish(w, w->exec_done ? w->exec_status : PTTH_EXIT_OK);
}

static void
on_signal(void *arg)
{
    struct wk *w = arg;

    if (w->stopping) {
        wk_finish(w, w->exec_done ? w->exec_status : PTTH_EXIT_OK);
        return;
    }
    w->stopping = true;
    if (w->state != WK_UP) {
        wk_finish(w, PTTH_EXIT_OK);
        return;
    }
    log_info(w->name, "stopping: finishing %d request%s in flight", w->nstreams,
             w->nstreams == 1 ? "" : "s");
    wk_drain_start(w);
}

/* ------------------------------------------------------------- main */

static void
set_callbacks(struct wk *w)
{
    nghttp2_session_callbacks *c;

    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        c, on_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(c, on_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, on_frame_recv_cb);
    if (log_enabled(LOG_LV_INFO)) /* not a call per frame at the default */
        nghttp2_session_callbacks_set_on_frame_send_callback(c,
                                                             on_frame_send_cb);
    nghttp2_session_callbacks_set_send_data_callback(c, wk_send_data_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c,
                                                              on_data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(c,
                                                           on_stream_close_cb);
    w->cbs = c;
}

int
worker_main(const struct cfg *cfg)
{
    static const char *const alpn[] = {"http/1.1", NULL};
    struct wk w;
    int status;

    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    if (cfg->target_kind == TARGET_DIR) {
        char err[512];
        w.st = static_new(cfg, err, sizeof(err));
        if (w.st == NULL) {
            log_err("expose", "%s", err);
            return PTTH_EXIT_RESOURCE;
        }
    }
    w.loop = loop_new();
    if (w.loop == NULL) {
        static_free(w.st);
        log_err("expose", "cannot create the event loop: %s", strerror(errno));
        return PTTH_EXIT_INTERNAL;
    }
    if (cfg->edge_tls) {
        char err[256];
        w.tls = tls_ctx_new_client(cfg->cacert, cfg->insecure, alpn, err,
                                   sizeof(err));
        if (w.tls == NULL) {
            log_err("expose", "%s", err);
            loop_free(w.loop);
            static_free(w.st);
            return PTTH_EXIT_RESOURCE;
        }
        if (cfg->insecure)
            log_warn("expose", "--insecure: the edge's certificate is not "
                               "verified");
    } else if (cfg->ntokens > 0 && !cfg->insecure) {
        log_info("expose", "the token travels in clear text to %s",
                 cfg->edge_url);
    }
    w.cm = curlm_new(w.loop);
    w.target.scheme = cfg->up_scheme ? cfg->up_scheme : "http";
    w.target.host = cfg->up_host ? cfg->up_host : "localhost";
    w.target.port = cfg->up_port ? cfg->up_port : 80;
    w.target.unix_path = cfg->target_kind == TARGET_UNIX ? cfg->up_path : NULL;
    w.target.prefix = cfg->up_prefix ? cfg->up_prefix : "";
    w.target.timeout_ms = cfg->timeout_ms;
    if (cfg->host_header != NULL && strcmp(cfg->host_header, "rewrite") == 0)
        w.host_rewrite =
            cfg->target_kind == TARGET_UNIX
                ? xstrdup("localhost")
                : (strchr(w.target.host, ':')
                       ? xasprintf("[%s]:%d", w.target.host, w.target.port)
                       : xasprintf("%s:%d", w.target.host, w.target.port));
    buf_init(&w.in, MAX_RESP_HEAD);
    set_callbacks(&w);
    deferred_init(&w.d_send, wk_send_now, &w);
    w.timer = timer_new(w.loop, on_timer, &w);
    w.grace = timer_new(w.loop, on_grace_over, &w);
    w.ping = timer_new(w.loop, on_ping, &w);
    w.sig_int = sig_watch_new(w.loop, SIGINT, on_signal, &w);
    w.sig_term = sig_watch_new(w.loop, SIGTERM, on_signal, &w);
    wk_dial(&w);
    loop_run(w.loop);
    wk_close_conn(&w);
    status = w.state == WK_DONE ? w.status : PTTH_EXIT_INTERNAL;
    timer_free(w.timer);
    timer_free(w.grace);
    timer_free(w.ping);
    sig_watch_free(w.sig_int);
    sig_watch_free(w.sig_term);
    curlm_free(w.cm);
    loop_free(w.loop);
    nghttp2_session_callbacks_del(w.cbs);
    buf_free(&w.in);
    h1_msg_reset(&w.resp);
    free(w.url);
    free(w.host_rewrite);
    tls_ctx_free(w.tls);
    static_free(w.st);
    return status;
}
