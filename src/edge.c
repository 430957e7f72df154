/* SPDX-License-Identifier: MIT
 * edge.c - `ptth serve`.
 *
 * Objects: an edge owns listeners, tunnels (a NAME and the pool of worker
 * connections registered under it) and public clients. Each public request
 * is an xfer: it has a "down" side (the client: an HTTP/1.1 connection, or
 * a stream of a public HTTP/2 session) and an "up" side (a stream of the
 * worker's HTTP/2 session, on which the edge is the client). Bodies move
 * through two capped queues; HTTP/2 windows are opened only for bytes the
 * other side has taken, so memory per stream stays bounded.
 *
 * Lifetimes: nothing is freed inside an nghttp2 or conn callback; dead
 * objects are detached and freed from the loop's deferred queue. */
#include "config.h"

#include "edge.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "h1.h"
#include "h2.h"
#include "hdr.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "tls.h"
#include "util.h"

#define MAX_HEAD (64u * 1024u)
#define IN_CAP (MAX_HEAD + 16u * 1024u)
#define BODY_CAP (256u * 1024u)
#define MAX_WORKERS 1024
#define MAX_HELD 1024 /* names kept without workers (--name-hold) */
/* Every request looks its tunnel up by name: a hash table, not a walk
 * over up to MAX_WORKERS + MAX_HELD names. */
#define TUNNEL_BUCKETS 256
#define WORKER_QUEUE 256 /* streams waiting for a worker's stream slot */
/* A worker is PINGed every --ping-interval; one that has sent nothing for
 * DEAD_PINGS intervals is dropped at the next PING. */
#define DEAD_PINGS 3u
#define WELL_KNOWN "/.well-known/ptth/"

struct edge;
struct tunnel;
struct worker;
struct client;

struct listener {
    struct edge *e;
    int fd;
    struct io_watch *w;
    struct timer *pause; /* accept errors: resume watching later */
    char addr[NET_ADDR_MAX];
    int port;
};

struct xfer {
    struct edge *e;
    unsigned long id;
    /* down: the public client */
    struct client *cl;
    int32_t down_sid; /* > 0 when the client speaks HTTP/2 */
    struct xfer *cl_prev, *cl_next;
    /* up: the worker */
    struct worker *w;
    int32_t up_sid;
    struct xfer *w_prev, *w_next;
    /* request */
    char *method, *path, *authority, *scheme;
    struct hdr_list fields;
    bool head_method;
    bool tunnel;      /* CONNECT: a byte stream to a worker's TCP service */
    bool tunnel_shut; /* h1 tunnel: the client got our half-close */
    uint32_t up_code; /* RST_STREAM code from the worker, passed on */
    size_t nclient;   /* fields[0, nclient) came from the client */
    bool req_bad;     /* header list too large or malformed */
    struct bufq req;
    bool req_eof;
    bool req_deferred; /* up data provider waits for bytes */
    bool req_discard;  /* h2: response complete, the rest of the body is
                        * read and dropped */
    /* response */
    int status;
    struct hdr_list rfields;
    struct hdr_list trailers;
    bool have_head;
    bool head_sent;
    bool chunked; /* h1 down: chunked framing */
    int64_t resp_cl;
    struct bufq resp;
    bool resp_eof;
    bool resp_deferred; /* h2 down data provider waits for bytes */
    bool done;          /* response fully handed to the client */
    bool failed;
    struct timer *timer;
    uint64_t start_ms;
    uint64_t req_moved_ms; /* request body bytes last came or went */
    uint64_t bytes;
    struct deferred d_free;
};

struct worker {
    struct edge *e;
    struct tunnel *t;
    struct worker *next;
    unsigned long id;
    char peer[NET_ADDR_MAX];
    struct conn *conn;
    nghttp2_session *h2;
    struct xfer *xfers;
    int active;
    uint64_t last_pick;
    int tcp_ports[8]; /* TCP services advertised (Ptth-Services) */
    int ntcp;
    bool draining; /* GOAWAY seen or sent: no new streams */
    bool dead;
    uint64_t last_rx;
    struct timer *ping;
    struct deferred d_send;
    struct deferred d_free;
};

struct tunnel {
    struct edge *e;
    char *name;
    char *token; /* NULL: anonymous */
    struct worker *workers;
    struct tunnel *next;
    uint64_t picks;
    struct timer *hold; /* runs while a workerless name is kept */
    bool held;
    uint32_t hash;        /* of name */
    struct tunnel *hnext; /* in its bucket of edge.tbucket */
};

enum client_mode {
    CM_DETECT,
    CM_H1,
    CM_H2,
};

struct client {
    struct edge *e;
    struct listener *l;
    struct client *prev, *next;
    unsigned long id;
    char peer[NET_ADDR_MAX];
    char peer_ip[NET_ADDR_MAX];
    struct conn *conn;
    enum client_mode mode;
    bool dead;
    bool eof;
    bool closing; /* no more requests: close once the output is flushed */
    /* HTTP/1.1 */
    struct buf in;
    struct h1_msg req;
    struct xfer *cur;
    bool body_chunked;
    int64_t body_left;
    bool body_done;
    bool keep_alive;
    struct h1_chunked chunk;
    /* HTTP/2 */
    nghttp2_session *h2;
    struct xfer *xfers;
    struct deferred d_h2send;
    struct deferred d_h1;
    struct deferred d_free;
    struct timer *idle;
    /* HTTP/2: the last time the connection's bodies moved: DATA came on
     * any stream, or we gave the connection window back */
    uint64_t body_moved_ms;
};

struct edge {
    struct loop *loop;
    const struct cfg *cfg;
    struct tls_ctx *tls;
    struct listener *ls;
    size_t nls;
    struct tunnel *tunnels;
    struct tunnel *tbucket[TUNNEL_BUCKETS]; /* by name_hash */
    struct client *clients;
    int nworkers;
    int nheld; /* workerless tunnels kept for their token */
    unsigned long next_id;
    struct sig_watch *sig_int, *sig_term;
    struct timer *grace;
    bool stopping;
    nghttp2_session_callbacks *up_cbs;
    nghttp2_session_callbacks *down_cbs;
};

static void client_close(struct client *cl);
static void client_h1_process(struct client *cl);
static void client_h2_send(struct client *cl);
static void worker_kill(struct worker *w, const char *why);
static void worker_send(struct worker *w);
static void xfer_fail(struct xfer *x, int status, const char *why);
static void xfer_pump_down(struct xfer *x);
static void xfer_maybe_free(struct xfer *x);
static void edge_check_stopped(struct edge *e);

/* ---------------------------------------------------------------- tags */

/* The log tag of worker link |id| ('w') or client |id| ('c'): "w3". */
static char *
idtag(char kind, unsigned long id, char *buf, size_t n)
{
    snprintf(buf, n, "%c%lu", kind, id);
    return buf;
}

static char *
wtag(const struct worker *w, char *buf, size_t n)
{
    return idtag('w', w->id, buf, n);
}

static char *
ctag(const struct client *cl, char *buf, size_t n)
{
    return idtag('c', cl->id, buf, n);
}

/* Protocol traces (-vvv) of the worker links ('w') and of HTTP/2 clients
 * ('c'); the tag is built only when tracing. */
static void
trace_frame(char kind, unsigned long id, const char *dir,
            const nghttp2_frame *f)
{
    char tag[24];

    if (log_enabled(LOG_LV_TRACE))
        h2_trace_frame(idtag(kind, id, tag, sizeof(tag)), dir, f);
}

static void
trace_field(char kind, unsigned long id, int32_t sid, const uint8_t *name,
            size_t namelen, const uint8_t *value, size_t valuelen)
{
    char tag[24];

    if (log_enabled(LOG_LV_TRACE))
        h2_trace_field(idtag(kind, id, tag, sizeof(tag)), sid, name, namelen,
                       value, valuelen);
}

/* ---------------------------------------------------------------- xfer */

static struct xfer *
xfer_new(struct edge *e, struct client *cl, int32_t down_sid)
{
    struct xfer *x = xcalloc(1, sizeof(*x));

    x->e = e;
    x->id = ++e->next_id;
    x->cl = cl;
    x->down_sid = down_sid;
    x->resp_cl = -1;
    x->start_ms = loop_now_ms(e->loop);
    x->req_moved_ms = x->start_ms;
    hdr_list_init(&x->fields);
    hdr_list_init(&x->rfields);
    hdr_list_init(&x->trailers);
    bufq_init(&x->req, BUF_CHUNK_SIZE, BODY_CAP);
    bufq_init(&x->resp, BUF_CHUNK_SIZE, H2_STREAM_WINDOW + BODY_CAP);
    if (down_sid > 0) {
        x->cl_next = cl->xfers;
        if (cl->xfers != NULL)
            cl->xfers->cl_prev = x;
        cl->xfers = x;
    }
    return x;
}

static void
xfer_release(void *arg)
{
    struct xfer *x = arg;

    timer_free(x->timer);
    free(x->method);
    free(x->path);
    free(x->authority);
    free(x->scheme);
    hdr_list_free(&x->fields);
    hdr_list_free(&x->rfields);
    hdr_list_free(&x->trailers);
    bufq_free(&x->req);
    bufq_free(&x->resp);
    free(x);
}

/* Detaches the up side (the worker stream is gone or never was). */
static void
xfer_detach_up(struct xfer *x)
{
    struct worker *w = x->w;

    if (w == NULL)
        return;
    if (x->up_sid > 0 && !w->dead)
        nghttp2_session_set_stream_user_data(w->h2, x->up_sid, NULL);
    if (x->w_prev != NULL)
        x->w_prev->w_next = x->w_next;
    else
        w->xfers = x->w_next;
    if (x->w_next != NULL)
        x->w_next->w_prev = x->w_prev;
    x->w_prev = x->w_next = NULL;
    w->active--;
    x->w = NULL;
    x->up_sid = 0;
}

/* Detaches the down side (response delivered, or the client is gone). */
static void
xfer_detach_down(struct xfer *x)
{
    struct client *cl = x->cl;

    if (cl == NULL)
        return;
    if (x->down_sid > 0) {
        if (!cl->dead)
            nghttp2_session_set_stream_user_data(cl->h2, x->down_sid, NULL);
        /* Same for request bytes the client sent that no worker took. */
        if (!cl->dead && bufq_len(&x->req) > 0) {
            nghttp2_session_consume_connection(cl->h2, bufq_len(&x->req));
            loop_defer_late(x->e->loop, &cl->d_h2send);
        }
        if (x->cl_prev != NULL)
            x->cl_prev->cl_next = x->cl_next;
        else
            cl->xfers = x->cl_next;
        if (x->cl_next != NULL)
            x->cl_next->cl_prev = x->cl_prev;
        x->cl_prev = x->cl_next = NULL;
    } else if (cl->cur == x) {
        cl->cur = NULL;
    }
    x->cl = NULL;
    if (cl->cur == NULL && cl->xfers == NULL && !cl->dead) /* idle now */
        timer_start(cl->idle, x->e->cfg->idle_timeout_ms, 0);
}

static void
xfer_maybe_free(struct xfer *x)
{
    if (x->w != NULL || x->cl != NULL || x->d_free.queued)
        return;
    deferred_init(&x->d_free, xfer_release, x);
    loop_defer(x->e->loop, &x->d_free);
    edge_check_stopped(x->e);
}

/* Cancels the worker stream, if any. */
static void
xfer_cancel_up(struct xfer *x)
{
    struct worker *w = x->w;

    if (w == NULL)
        return;
    if (x->up_sid > 0 && !w->dead) {
        nghttp2_submit_rst_stream(w->h2, NGHTTP2_FLAG_NONE, x->up_sid,
                                  NGHTTP2_CANCEL);
        worker_send(w);
    }
    xfer_detach_up(x);
}

static void
access_log(const struct xfer *x)
{
    char tag[24], status[8], ms[24], bytes[24];
    const char *kv[14];
    size_t i = 0;

    if (!log_enabled(LOG_LV_INFO))
        return;
    snprintf(tag, sizeof(tag), "x%lu", x->id);
    snprintf(status, sizeof(status), "%d", x->status);
    snprintf(ms, sizeof(ms), "%llu",
             (unsigned long long)(loop_now_ms(x->e->loop) - x->start_ms));
    snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)x->bytes);
    kv[i++] = "method";
    kv[i++] = x->method ? x->method : "-";
    kv[i++] = "host";
    kv[i++] = x->authority ? x->authority : "-";
    kv[i++] = "path";
    kv[i++] = x->path ? x->path : "-";
    kv[i++] = "status";
    kv[i++] = status;
    kv[i++] = "bytes";
    kv[i++] = bytes;
    kv[i++] = "ms";
    kv[i++] = ms;
    kv[i] = NULL;
    log_kv(LOG_LV_INFO, tag, "request", kv);
}

/* ------------------------------------------------------------- routing */

/* FNV-1a, 32 bits. */
static uint32_t
name_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static struct tunnel *
tunnel_find(struct edge *e, const char *name)
{
    uint32_t h = name_hash(name);
    struct tunnel *t;

    for (t = e->tbucket[h % TUNNEL_BUCKETS]; t != NULL; t = t->hnext) {
        if (t->hash == h && strcmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

/* Maps a Host value to a tunnel NAME: "NAME.DOMAIN[:port]". */
static struct tunnel *
route(struct edge *e, const char *host)
{
    const char *domain = e->cfg->domain;
    char name[64];
    size_t hl, dl = strlen(domain), i;
    const char *colon;
    struct tunnel *t = NULL;

    if (host != NULL && host[0] != '[') {
        colon = strchr(host, ':');
        hl = colon ? (size_t)(colon - host) : strlen(host);
        if (hl > 0 && host[hl - 1] == '.')
            hl--; /* absolute form "site.localhost." */
        if (hl > dl + 1 && hl - dl - 1 < sizeof(name) &&
            host[hl - dl - 1] == '.' && str_nieq(host + hl - dl, domain, dl)) {
            for (i = 0; i < hl - dl - 1; i++)
                name[i] = ascii_lower(host[i]);
            name[i] = '\0';
            t = tunnel_find(e, name);
        }
    }
    if (t != NULL && t->workers == NULL) /* held for its token: no route */
        t = NULL;
    if (t == NULL && e->cfg->default_name != NULL)
        t = tunnel_find(e, e->cfg->default_name);
    return t != NULL && t->workers != NULL ? t : NULL;
}

/* Maps "NAME.DOMAIN" or a bare "NAME" (CONNECT targets) to a tunnel. */
static struct tunnel *
route_name(struct edge *e, const char *host, size_t hl)
{
    const char *domain = e->cfg->domain;
    size_t dl = strlen(domain), n, i;
    char name[64];

    if (hl > 0 && host[hl - 1] == '.')
        hl--;
    if (hl > dl + 1 && host[hl - dl - 1] == '.' &&
        str_nieq(host + hl - dl, domain, dl))
        n = hl - dl - 1;
    else
        n = hl;
    if (n == 0 || n >= sizeof(name))
        return NULL;
    for (i = 0; i < n; i++)
        name[i] = ascii_lower(host[i]);
    name[n] = '\0';
    return is_dns_label(name) ? tunnel_find(e, name) : NULL;
}

/* Like pick_worker, among the workers that serve TCP port (0: any). Sets
 * *port_out to the service's port. */
static struct worker *
pick_tcp_worker(struct tunnel *t, int port, int *port_out)
{
    struct worker *w, *best = NULL;
    int i;

    for (w = t->workers; w != NULL; w = w->next) {
        if (w->dead || w->draining)
            continue;
        for (i = 0; i < w->ntcp; i++) {
            if (port == 0 || w->tcp_ports[i] == port)
                break;
        }
        if (i == w->ntcp || w->active >= H2_MAX_STREAMS + WORKER_QUEUE)
            continue;
        if (best == NULL || w->active < best->active ||
            (w->active == best->active && w->last_pick < best->last_pick)) {
            best = w;
            *port_out = w->tcp_ports[i];
        }
    }
    if (best != NULL)
        best->last_pick = ++t->picks;
    return best;
}

/* The least busy worker of the pool; among equals the one picked least
 * recently, so that sequential requests rotate over the pool. Streams
 * past the worker's MAX_CONCURRENT_STREAMS wait inside nghttp2, at most
 * WORKER_QUEUE of them: beyond that the tunnel is busy (503). */
static struct worker *
pick_worker(struct tunnel *t)
{

    struct worker *w, *best = NULL;
    for (w = t->workers; w != NULL; w = w->next) {
        uint32_t max;
        if (w->dead || w->draining)
            continue;
        max = nghttp2_session_get_remote_settings(
            w->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        if (max > H2_MAX_STREAMS)
            max = H2_MAX_STREAMS;
        if ((uint32_t)w->active >= max + WORKER_QUEUE)
            continue;
        if (best == NULL || w->active < best->active ||
            (w->active == best->active && w->last_pick < best->last_pick))
            best = w;
    }
    if (best != NULL)
        best->last_pick = ++t->picks;
    return best;
}

/* ------------------------------------------------- local responses (h1/h2) */

/* Answers x with a short text response from the edge itself. */
static void
xfer_local_response(struct xfer *x, int status, const char *body,
                    const char *extra_name, const char *extra_value)
{
    char len[24];

    x->status = status;
    x->have_head = true;
    x->tunnel = false; /* an ordinary response, even to a CONNECT */
    hdr_list_free(&x->rfields);
    hdr_list_init(&x->rfields);
    snprintf(len, sizeof(len), "%zu", strlen(body));
    hdr_add(&x->rfields, "content-type", 12, "text/plain; charset=utf-8", 25,
            0);
    hdr_add(&x->rfields, "content-length", 14, len, strlen(len), 0);
    if (extra_name != NULL)
        hdr_add(&x->rfields, extra_name, strlen(extra_name), extra_value,
                strlen(extra_value), 0);
    x->resp_cl = (int64_t)strlen(body);
    if (!x->head_method)
        bufq_append(&x->resp, body, strlen(body));
    x->resp_eof = true;
    xfer_pump_down(x);
}

static void
xfer_fail(struct xfer *x, int status, const char *why)
{
    char body[256];

    if (x->failed)
        return;
    x->failed = true;
    xfer_cancel_up(x);
    if (x->cl == NULL) {
        xfer_maybe_free(x);
        return;
    }
    if (!x->head_sent) {
        /* Drop whatever partial response we held and answer instead. */
        bufq_free(&x->resp);
        bufq_init(&x->resp, BUF_CHUNK_SIZE, H2_STREAM_WINDOW + BODY_CAP);
        snprintf(body, sizeof(body), "%d %s: %s\n", status, h1_reason(status),
                 why);
        log_info("edge", "x%lu: %d: %s", x->id, status, why);
        xfer_local_response(x, status, body, NULL, NULL);
        return;
    }
    /* Part of the response is out: the client must see an error, never a
     * short body that looks complete. */
    log_info("edge", "x%lu: aborting the response: %s", x->id, why);
    if (x->down_sid > 0) {
        struct client *cl = x->cl;
        /* A TCP service's reset stays a CONNECT_ERROR (RFC 9113 8.5). */
        nghttp2_submit_rst_stream(cl->h2, NGHTTP2_FLAG_NONE, x->down_sid,
                                  x->up_code == NGHTTP2_CONNECT_ERROR
                                      ? NGHTTP2_CONNECT_ERROR
                                      : NGHTTP2_INTERNAL_ERROR);
        xfer_detach_down(x);
        client_h2_send(cl);
    } else {
        struct client *cl = x->cl;
        xfer_detach_down(x);
        if (x->tunnel) /* a reset TCP stream resets the client's */
            conn_reset_on_close(cl->conn);
        client_close(cl);
    }
    xfer_maybe_free(x);
}

static void
xfer_timeout(void *arg)
{
    struct xfer *x = arg;
    if (!x->have_head)
        xfer_fail(x, 504, "the worker did not answer in time");
}

/* ------------------------------------------------------ up: the worker */

static ssize_t
up_body_read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct xfer *x = src->ptr;
    struct worker *w = ud;
    ssize_t n;

    (void)buf;
    n = h2_read_queue(s, sid, w->conn, &x->req, x->req_eof, NULL,
                      &x->req_deferred, len, flags);
    if (n < 0)
        return n;
    /* The response-head timeout counts from the end of the request. */
    if ((*flags & NGHTTP2_DATA_FLAG_EOF) && !x->have_head && !x->tunnel &&
        x->e->cfg->timeout_ms > 0)
        timer_start(x->timer, x->e->cfg->timeout_ms, 0);
    if (n > 0)
        x->req_moved_ms = loop_now_ms(x->e->loop);
    if (n > 0 && x->cl != NULL) {
        if (x->down_sid > 0) {
            nghttp2_session_consume(x->cl->h2, x->down_sid, (size_t)n);
            loop_defer_late(x->e->loop, &x->cl->d_h2send);
        } else {
            loop_defer(x->e->loop, &x->cl->d_h1);
        }
    }
    return (ssize_t)n;
}

static int
up_send_data_cb(nghttp2_session *s, nghttp2_frame *frame,
                const uint8_t *framehd, size_t length, nghttp2_data_source *src,
                void *ud)
{
    struct xfer *x = src->ptr;
    struct worker *w = ud;

    (void)s;
    return h2_send_queued(w->conn, frame, framehd, &x->req, length);
}

/* More request body (or its end) is available for the worker stream. */
static void
xfer_req_ready(struct xfer *x)
{
    if (x->w != NULL && x->up_sid > 0 && x->req_deferred) {
        x->req_deferred = false;
        nghttp2_session_resume_data(x->w->h2, x->up_sid);
        worker_send(x->w);
    }
}

/* Joins the values of every field called name with ", " (NULL if none). */
static char *
joined(const struct hdr_list *l, const char *name)
{
    char *out = NULL;
    size_t i;

    for (i = 0; i < l->n; i++) {
        char *next;
        if (strcmp(l->v[i].name, name) != 0)
            continue;
        next = out ? xasprintf("%s, %s", out, l->v[i].value)
                   : xstrdup(l->v[i].value);
        free(out);
        out = next;
    }
    return out;
}

/* Appends this hop to Forwarded and X-Forwarded-For (one field each,
 * earlier hops first) and sets X-Forwarded-Proto and -Host: what the
 * client sent for those two is replaced, since only the edge knows. */
static bool
is_forwarding_field(const char *name)
{
    return strcmp(name, "forwarded") == 0 ||
           strcmp(name, "x-forwarded-for") == 0 ||
           strcmp(name, "x-forwarded-proto") == 0 ||
           strcmp(name, "x-forwarded-host") == 0;
}

/* Returns 0, or PTTH_ELIMIT when the header list has no room left for
 * the four fields (the request is then answered 431). */
static int
add_forwarded(struct xfer *x, struct client *cl)
{
    bool v6 = strchr(cl->peer_ip, ':') != NULL;
    const char *proto = conn_is_tls(cl->conn) ? "https" : "http";
    char *fwd = joined(&x->fields, "forwarded");
    char *xff = joined(&x->fields, "x-forwarded-for");
    char *v;
    int rc = 0;

    /* The client's own fields stay in the list but are not forwarded
     * (xfer_start skips those before x->nclient); ours follow them. */
    x->nclient = x->fields.n;
    {
        const char *parts[] = {fwd ? fwd : "",
                               fwd ? ", " : "",
                               "for=",
                               v6 ? "\"[" : "",
                               cl->peer_ip,
                               v6 ? "]\"" : "",
                               ";host=\"",
                               x->authority ? x->authority : "",
                               "\";proto=",
                               proto,
                               NULL};
        v = xconcat(parts);
    }
    rc |= hdr_add(&x->fields, "forwarded", 9, v, strlen(v), 0);
    free(v);
    {
        const char *parts[] = {xff ? xff : "", xff ? ", " : "", cl->peer_ip,
                               NULL};
        v = xconcat(parts);
    }
    rc |= hdr_add(&x->fields, "x-forwarded-for", 15, v, strlen(v), 0);
    free(v);
    free(fwd);
    free(xff);
    rc |= hdr_add(&x->fields, "x-forwarded-proto", 17, proto, strlen(proto), 0);
    if (x->authority != NULL)
        rc |= hdr_add(&x->fields, "x-forwarded-host", 16, x->authority,
                      strlen(x->authority), 0);
    return rc != 0 ? PTTH_ELIMIT : 0;
}

/* Puts x on worker w as a stream (nv: the request head). */
static void
xfer_submit(struct xfer *x, struct worker *w, const nghttp2_nv *nv, size_t n)
{
    nghttp2_data_provider prd;
    int32_t sid;

    prd.source.ptr = x;
    prd.read_callback = up_body_read_cb;
    sid = nghttp2_submit_request(
        w->h2, NULL, nv, n,
        (x->req_eof && bufq_len(&x->req) == 0) ? NULL : &prd, x);
    if (sid < 0) {
        xfer_fail(x, 502, nghttp2_strerror(sid));
        return;
    }
    x->w = w;
    x->up_sid = sid;
    x->w_next = w->xfers;
    if (w->xfers != NULL)
        w->xfers->w_prev = x;
    w->xfers = x;
    w->active++;
    x->timer = timer_new(x->e->loop, xfer_timeout, x);
    /* The response-head timeout counts from the end of the request: a
     * long upload is not a slow worker. */
    if (x->req_eof && x->e->cfg->timeout_ms > 0) /* 0: no limit */
        timer_start(x->timer, x->e->cfg->timeout_ms, 0);
    if (x->down_sid == 0 && x->cl != NULL && x->cl->req.expect_continue &&
        !x->req_eof)
        conn_write(x->cl->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    worker_send(w);
}

/* CONNECT NAME[.DOMAIN]:PORT: a byte stream to a TCP service a worker
 * advertised (PORT 0: the tunnel's service, whatever its port). Needs a
 * token the edge accepts, in Proxy-Authorization, when it has tokens. */
static void
connect_start(struct xfer *x)
{
    struct edge *e = x->e;
    const char *a = x->authority ? x->authority : "";
    const char *colon = strrchr(a, ':');
    const struct hdr *pa = hdr_get(&x->fields, "proxy-authorization");
    struct tunnel *t;
    struct worker *w;
    int port = -1, sport = 0;
    char auth[300];
    nghttp2_nv nv[2];

    x->tunnel = true;
    if (e->cfg->ntokens > 0) {
        size_t len = 0;
        const char *tok = pa ? auth_bearer(pa->value, &len) : NULL;
        if (tok == NULL ||
            !auth_token_ok(e->cfg->tokens, e->cfg->ntokens, tok, len)) {
            x->failed = true;
            xfer_local_response(x, 407,
                                "407 Proxy Authentication Required: a valid "
                                "Bearer token is required\n",
                                "proxy-authenticate", "Bearer realm=\"ptth\"");
            return;
        }
    }
    if (colon == NULL || parse_port(colon + 1, &port) != 0 || a[0] == '[') {
        xfer_fail(x, 400, "CONNECT needs NAME:PORT");
        return;
    }
    t = route_name(e, a, (size_t)(colon - a));
    w = t ? pick_tcp_worker(t, port, &sport) : NULL;
    if (w == NULL) {
        char body[300];
        snprintf(body, sizeof(body), "404 Not Found: no TCP service '%s'\n", a);
        x->failed = true;
        log_info("edge", "x%lu: 404: no TCP service '%s'", x->id, a);
        xfer_local_response(x, 404, body, NULL, NULL);
        return;
    }
    snprintf(auth, sizeof(auth), "%s.%s:%d", t->name, e->cfg->domain, sport);
    nv[0] = h2_nv(":method", "CONNECT");
    nv[1] = h2_nv(":authority", auth);
    xfer_submit(x, w, nv, 2);
}

/* Routes x and submits it on a worker; or answers it locally. */
static void
xfer_start(struct xfer *x)

{
    struct edge *e = x->e;
    struct tunnel *t;
    struct worker *w;
    nghttp2_nv *nv;
    size_t n = 0, i;
    bool listed[HDR_MAX_FIELDS];

    if (e->stopping) {
        xfer_fail(x, 503, "the edge is shutting down");
        return;
    }
    if (strcmp(x->method, "CONNECT") == 0) {
        connect_start(x);
        return;
    }
    t = route(e, x->authority);
    if (t == NULL) {
        char body[300];
        snprintf(body, sizeof(body), "404 Not Found: no tunnel for host '%s'\n",
                 x->authority ? x->authority : "");
        x->failed = true;
        log_info("edge", "x%lu: 404: no tunnel for host '%s'", x->id,
                 x->authority ? x->authority : "");
        xfer_local_response(x, 404, body, NULL, NULL);
        return;
    }
    w = pick_worker(t);
    if (w == NULL) {
        x->failed = true;
        xfer_local_response(x, 503,
                            "503 Service Unavailable: every worker of this "
                            "tunnel is busy\n",
                            "retry-after", "1");
        return;
    }
    if (add_forwarded(x, x->cl) != 0) {
        xfer_fail(x, 431, "no room left in the request head for Forwarded");
        return;
    }
    if (hdr_connection_listed(&x->fields, listed) != 0) {
        xfer_fail(x, 400, "the Connection field names too many options");
        return;
    }
    nv = xcalloc(x->fields.n + 4, sizeof(*nv));
    nv[n++] = h2_nv(":method", x->method);
    nv[n++] = h2_nv(":scheme", x->scheme ? x->scheme : "http");
    nv[n++] = h2_nv(":authority", x->authority ? x->authority : "");
    nv[n++] = h2_nv(":path", x->path);
    for (i = 0; i < x->fields.n; i++) {
        const struct hdr *h = &x->fields.v[i];
        if (hdr_is_hop_by_hop(h->name, h->name_len) || listed[i] ||
            strcmp(h->name, "host") == 0 ||
            (i < x->nclient && is_forwarding_field(h->name)))
            continue;
        nv[n].name = (uint8_t *)h->name;
        nv[n].namelen = h->name_len;
        nv[n].value = (uint8_t *)h->value;
        nv[n].valuelen = h->value_len;
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;
        n++;
    }
    xfer_submit(x, w, nv, n);
    free(nv);
}

static int
up_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    (void)f;
    (void)ud;
    return 0;
}

static int
up_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
             size_t namelen, const uint8_t *value, size_t valuelen,
             uint8_t flags, void *ud)
{
    struct xfer *x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    struct hdr_list *l;

    (void)flags;
    trace_field('w', ((struct worker *)ud)->id, f->hd.stream_id, name, namelen,
                value, valuelen);
    if (x == NULL || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        long st;
        char buf[8];
        if (valuelen != 3)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        memcpy(buf, value, 3);
        buf[3] = '\0';
        if (parse_long(buf, 100, 599, &st) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        x->status = (int)st;
        if (st >= 200) {
            hdr_list_free(&x->rfields);
            hdr_list_init(&x->rfields);
        }
        return 0;
    }
    if (namelen > 0 && name[0] == ':')
        return 0;
    l = x->have_head ? &x->trailers : &x->rfields;
    if (hdr_add(l, (const char *)name, namelen, (const char *)value, valuelen,
                0) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int
up_frame_send_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    trace_frame('w', ((struct worker *)ud)->id, "send", f);
    return 0;
}

static int
up_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct worker *w = ud;
    struct xfer *x;

    trace_frame('w', w->id, "recv", f);
    w->last_rx = loop_now_ms(w->e->loop);
    if (f->hd.type == NGHTTP2_GOAWAY) {
        char tag[24];
        log_info(wtag(w, tag, sizeof(tag)), "worker sent GOAWAY");
        w->draining = true;
        return 0;
    }
    if (f->hd.stream_id == 0)
        return 0;
    x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (x == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !x->have_head) {
        if (x->status >= 200) {
            x->have_head = true;
            timer_stop(x->timer);
        } else {
            hdr_list_free(&x->rfields); /* 1xx: not passed on (yet) */
            hdr_list_init(&x->rfields);
        }
    }
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA)) {
        if (!x->have_head)
            return 0; /* a 1xx cannot end the stream; nghttp2 resets */
        x->resp_eof = true;
    }
    if (x->have_head)
        xfer_pump_down(x);
    return 0;
}

static int
up_data_chunk_cb(nghttp2_session *s, uint8_t flags, int32_t sid,
                 const uint8_t *data, size_t len, void *ud)
{
    struct xfer *x = nghttp2_session_get_stream_user_data(s, sid);
    struct worker *w = ud;

    (void)flags;
    w->last_rx = loop_now_ms(w->e->loop);
    /* The connection window comes back at once, the stream's as the client
     * takes the bytes: a stream holds at most its own window, and clients
     * that do not read must not stop the others (with the connection
     * window returned only as clients read, 16 of them stalled every
     * response body of the tunnel). */
    nghttp2_session_consume_connection(s, len);
    if (x == NULL) {
        /* Nobody wants these bytes any more: give the window back. */
        nghttp2_session_consume_stream(s, sid, len);
        return 0;
    }
    if (bufq_append(&x->resp, data, len) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    xfer_pump_down(x);
    return 0;
}

static int
up_stream_close_cb(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    struct xfer *x = nghttp2_session_get_stream_user_data(s, sid);

    (void)ud;
    if (x == NULL)
        return 0;
    xfer_detach_up(x);
    x->up_code = code;
    if (!x->resp_eof || code != NGHTTP2_NO_ERROR) {
        char why[96];
        snprintf(why, sizeof(why), "the worker reset the stream (%s)",
                 nghttp2_http2_strerror(code));
        xfer_fail(x, 502, why);
        return 0;
    }
    xfer_maybe_free(x);
    return 0;
}

static void
worker_send(struct worker *w)
{
    if (!w->dead)
        loop_defer_late(w->e->loop, &w->d_send);
}

static void
worker_send_now(void *arg)
{
    struct worker *w = arg;

    if (w->dead)
        return;
    if (h2_send(w->h2, w->conn) != 0) {
        worker_kill(w, "HTTP/2 error");
        return;
    }
    if (h2_finished(w->h2) && conn_out_len(w->conn) == 0)
        worker_kill(w, "HTTP/2 session ended");
}

static void
worker_release(void *arg)
{
    struct worker *w = arg;
    timer_free(w->ping);
    nghttp2_session_del(w->h2);
    free(w);
}

/* Unlinks t (which has no workers) from its edge and frees it. */
static void
tunnel_free(struct tunnel *t)
{
    struct tunnel **tp;

    for (tp = &t->e->tunnels; *tp != NULL; tp = &(*tp)->next) {
        if (*tp == t) {
            *tp = t->next;
            break;
        }
    }
    for (tp = &t->e->tbucket[t->hash % TUNNEL_BUCKETS]; *tp != NULL;
         tp = &(*tp)->hnext) {
        if (*tp == t) {
            *tp = t->hnext;
            break;
        }
    }
    if (t->held)
        t->e->nheld--;
    timer_free(t->hold);
    free(t->name);
    free(t->token);
    free(t);
}

static void
tunnel_hold_over(void *arg)
{
    struct tunnel *t = arg;

    if (t->workers == NULL) {
        log_debug("edge", "name '%s' released", t->name);
        tunnel_free(t);
    }
}

static void
worker_kill(struct worker *w, const char *why)
{
    struct edge *e = w->e;
    struct tunnel *t = w->t;
    struct worker **pp;
    char tag[24];

    if (w->dead)
        return;
    log_info(wtag(w, tag, sizeof(tag)), "worker for '%s' left: %s", t->name,
             why);
    /* Fail every stream still open on it, then forget it. */
    while (w->xfers != NULL) {
        struct xfer *x = w->xfers;
        xfer_detach_up(x);
        xfer_fail(x, 502, "the worker connection was lost");
    }
    w->dead = true;
    for (pp = &t->workers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    if (t->workers == NULL) {
        if (t->token != NULL && e->cfg->ntokens > 0 && !e->stopping &&
            e->cfg->name_hold_ms > 0 && e->nheld < MAX_HELD) {
            /* Keep the name for its token a while (--name-hold), so that
             * a worker that reconnects gets its URL back, not a 409. Only
             * for tokens the edge checked (elsewhere anyone could fill
             * the table with names), and at most MAX_HELD names. */
            log_debug("edge", "name '%s' held for its token", t->name);
            t->held = true;
            e->nheld++;
            timer_start(t->hold, e->cfg->name_hold_ms, 0);
        } else {
            tunnel_free(t);
        }
    }
    e->nworkers--;
    loop_cancel(e->loop, &w->d_send);
    timer_stop(w->ping);
    conn_free(w->conn);
    w->conn = NULL;
    loop_defer(e->loop, &w->d_free);
    edge_check_stopped(e);
}

static void
worker_on_readable(void *arg)
{
    struct worker *w = arg;
    uint8_t buf[CONN_READ_CHUNK];
    size_t total = 0;

    while (!w->dead) {
        long n;
        if (total >= CONN_READ_BUDGET) {
            conn_read_again(w->conn); /* let other connections run */
            break;
        }
        n = conn_read(w->conn, buf, sizeof(buf));
        if (n == PTTH_EAGAIN)
            break;
        if (n <= 0) {
            worker_kill(w, n == PTTH_ECLOSED ? "connection closed"
                                             : conn_errstr(w->conn));
            return;
        }
        total += (size_t)n;
        if (h2_recv(w->h2, buf, (size_t)n) != 0) {
            (void)h2_send(w->h2, w->conn);
            worker_kill(w, "HTTP/2 protocol error");
            return;
        }
    }
    worker_send(w);
}

static void
worker_on_drain(void *arg)
{
    struct worker *w = arg;
    struct xfer *x, *next;

    /* Request bodies that waited for room in the output. */
    for (x = w->xfers; x != NULL; x = next) {
        next = x->w_next;
        if (bufq_len(&x->req) > 0 || x->req_eof)
            xfer_req_ready(x);
    }
    worker_send(w);
}

static void
worker_on_error(void *arg, int rc)
{
    struct worker *w = arg;
    (void)rc;
    worker_kill(w, conn_errstr(w->conn));
}

static const struct conn_cbs worker_conn_cbs = {
    NULL,
    worker_on_readable,
    worker_on_drain,
    worker_on_error,
};

static void
worker_ping(void *arg)
{
    struct worker *w = arg;
    uint64_t now = loop_now_ms(w->e->loop);

    if (now - w->last_rx > DEAD_PINGS * w->e->cfg->ping_interval_ms) {
        worker_kill(w, "no answer to PING");
        return;
    }
    nghttp2_submit_ping(w->h2, NGHTTP2_FLAG_NONE, NULL);
    worker_send(w);
}

/* ------------------------------------------------- down: public clients */

static void
client_release(void *arg)
{
    struct client *cl = arg;
    buf_free(&cl->in);
    h1_msg_reset(&cl->req);
    h1_chunked_free(&cl->chunk);
    nghttp2_session_del(cl->h2);
    timer_free(cl->idle);
    free(cl);
}

static void
client_close(struct client *cl)
{
    struct edge *e = cl->e;

    if (cl->dead)
        return;
    if (cl->cur != NULL) {
        struct xfer *x = cl->cur;
        xfer_detach_down(x);
        xfer_cancel_up(x);
        xfer_maybe_free(x);
    }
    while (cl->xfers != NULL) {
        struct xfer *x = cl->xfers;
        xfer_detach_down(x);
        xfer_cancel_up(x);
        xfer_maybe_free(x);
    }
    cl->dead = true;
    if (cl->prev != NULL)
        cl->prev->next = cl->next;
    else
        e->clients = cl->next;
    if (cl->next != NULL)
        cl->next->prev = cl->prev;
    loop_cancel(e->loop, &cl->d_h2send);
    loop_cancel(e->loop, &cl->d_h1);
    timer_stop(cl->idle);
    conn_free(cl->conn);
    cl->conn = NULL;
    loop_defer(e->loop, &cl->d_free);
    edge_check_stopped(e);
}

/* Appends s at head + *len (the caller sized head for it). */
static void
put(char *head, size_t *len, const char *s)
{
    size_t n = strlen(s);

    memcpy(head + *len, s, n);
    *len += n;
}

/* Writes x's response head to an HTTP/1.1 client. */
static void
h1_write_head(struct xfer *x, struct client *cl)
{
    char *head;
    size_t cap = 256 + x->rfields.bytes + 4 * x->rfields.n, len, i;
    const struct hdr *cl_hdr = hdr_get(&x->rfields, "content-length");
    bool nobody = x->head_method || x->status == 204 || x->status == 304;

    head = xmalloc(cap);
    /* Status 100..999 (h1/h2 parsers): three digits, no printf. */
    memcpy(head, "HTTP/1.1 ", 9);
    head[9] = (char)('0' + x->status / 100 % 10);
    head[10] = (char)('0' + x->status / 10 % 10);
    head[11] = (char)('0' + x->status % 10);
    head[12] = ' ';
    len = 13;
    put(head, &len, h1_reason(x->status));
    put(head, &len, "\r\n");
    for (i = 0; i < x->rfields.n; i++) {
        const struct hdr *h = &x->rfields.v[i];
        if (hdr_is_hop_by_hop(h->name, h->name_len) ||
            h1_valid_field_name(h->name, h->name_len) != 0 ||
            h1_valid_field_value(h->value, h->value_len) != 0)
            continue;
        memcpy(head + len, h->name, h->name_len);
        len += h->name_len;
        memcpy(head + len, ": ", 2);
        len += 2;
        memcpy(head + len, h->value, h->value_len);
        len += h->value_len;
        memcpy(head + len, "\r\n", 2);
        len += 2;
    }
    if (cl_hdr != NULL) {
        long long v;
        char *end;
        errno = 0;
        v = strtoll(cl_hdr->value, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 0)
            x->resp_cl = v;
    }
    x->chunked = false;
    if (!nobody && x->resp_cl < 0) {
        if (cl->req.minor >= 1) {
            x->chunked = true;
            put(head, &len, "transfer-encoding: chunked\r\n");
        } else {
            cl->keep_alive = false;
        }
    }
    if (!cl->keep_alive || cl->e->stopping) {
        cl->keep_alive = false;
        put(head, &len, "connection: close\r\n");
    } else if (cl->req.minor == 0) {
        put(head, &len, "connection: keep-alive\r\n");
    }
    memcpy(head + len, "\r\n", 2);
    len += 2;
    conn_write(cl->conn, head, len);
    free(head);
    x->head_sent = true;
}

/* Moves response bytes to an HTTP/1.1 client as its socket allows. */
static void
xfer_pump_h1(struct xfer *x, struct client *cl)
{
    const uint8_t *p;
    size_t n;

    if (!x->head_sent)
        h1_write_head(x, cl);
    while (conn_out_len(cl->conn) < CONN_OUT_HIGH &&
           bufq_peek(&x->resp, &p, &n)) {
        x->bytes += n;
        if (x->head_method) {
            bufq_consume(&x->resp, n); /* no body goes to a HEAD request */
        } else if (x->chunked) {
            char hd[20];
            size_t hl = h1_chunk_header(hd, n);
            conn_write(cl->conn, hd, hl);
            conn_write_from(cl->conn, &x->resp, n);
            conn_write(cl->conn, "\r\n", 2);
        } else {
            conn_write_from(cl->conn, &x->resp, n);
        }
        if (x->w != NULL && x->up_sid > 0) {
            nghttp2_session_consume_stream(x->w->h2, x->up_sid, n);
            worker_send(x->w);
        }
    }
    if (!x->resp_eof || bufq_len(&x->resp) > 0)
        return;
    if (x->chunked) {
        size_t i;
        conn_write(cl->conn, "0\r\n", 3);
        for (i = 0; i < x->trailers.n; i++) {
            const struct hdr *h = &x->trailers.v[i];
            if (h1_valid_field_name(h->name, h->name_len) != 0 ||
                h1_valid_field_value(h->value, h->value_len) != 0)
                continue;
            conn_write(cl->conn, h->name, h->name_len);
            conn_write(cl->conn, ": ", 2);
            conn_write(cl->conn, h->value, h->value_len);
            conn_write(cl->conn, "\r\n", 2);
        }
        conn_write(cl->conn, "\r\n", 2);
    }
    x->done = true;
    access_log(x);
    xfer_detach_down(x);
    if (!cl->keep_alive || !cl->body_done) {
        /* A request body we did not read to its end: close rather than
         * guess where the next request starts, and end the worker's
         * stream, which still waits for the rest of it. */
        if (!cl->body_done)
            xfer_cancel_up(x);
        cl->closing = true;
        conn_shutdown(cl->conn);
    } else {
        h1_msg_reset(&cl->req);
        loop_defer(cl->e->loop, &cl->d_h1);
    }
    xfer_maybe_free(x);
}

static ssize_t
down_body_read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                  uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct xfer *x = src->ptr;
    struct client *cl = ud;
    ssize_t n;

    (void)buf;
    n = h2_read_queue(s, sid, cl->conn, &x->resp, x->resp_eof, &x->trailers,
                      &x->resp_deferred, len, flags);
    if (n <= 0)
        return n;
    x->bytes += (size_t)n;
    if (x->w != NULL && x->up_sid > 0) {
        nghttp2_session_consume_stream(x->w->h2, x->up_sid, (size_t)n);
        worker_send(x->w);
    }
    return n;
}

static int
down_send_data_cb(nghttp2_session *s, nghttp2_frame *frame,
                  const uint8_t *framehd, size_t length,
                  nghttp2_data_source *src, void *ud)
{
    struct xfer *x = src->ptr;
    struct client *cl = ud;

    (void)s;
    return h2_send_queued(cl->conn, frame, framehd, &x->resp, length);
}

static void
xfer_pump_h2(struct xfer *x, struct client *cl)
{
    if (!x->head_sent) {
        nghttp2_data_provider prd;
        char status[4];
        size_t n;
        nghttp2_nv *nv = h2_nv_response(x->status, &x->rfields, status, &n);
        int rc;

        prd.source.ptr = x;
        prd.read_callback = down_body_read_cb;
        rc = nghttp2_submit_response(
            cl->h2, x->down_sid, nv, n,
            (x->resp_eof && bufq_len(&x->resp) == 0 && x->trailers.n == 0)
                ? NULL
                : &prd);
        free(nv);
        x->head_sent = true;
        if (rc != 0) {
            xfer_detach_down(x);
            xfer_cancel_up(x);
            xfer_maybe_free(x);
            return;
        }
    } else if (x->resp_deferred && (bufq_len(&x->resp) > 0 || x->resp_eof)) {
        x->resp_deferred = false;
        nghttp2_session_resume_data(cl->h2, x->down_sid);
    }
    client_h2_send(cl);
}

/* HTTP/1.1 CONNECT: "200 Connection established", then raw bytes both
 * ways; the worker's END_STREAM becomes our half-close, and the client is
 * closed once both directions have ended and the output is flushed. */
static void
tunnel_pump_h1(struct xfer *x, struct client *cl)
{
    const uint8_t *p;
    size_t n;

    if (!x->head_sent) {
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        conn_write(cl->conn, ok, sizeof(ok) - 1);
        x->head_sent = true;
    }
    while (conn_out_len(cl->conn) < CONN_OUT_HIGH &&
           bufq_peek(&x->resp, &p, &n)) {
        conn_write_from(cl->conn, &x->resp, n);
        x->bytes += n;
        if (x->w != NULL && x->up_sid > 0) {
            nghttp2_session_consume_stream(x->w->h2, x->up_sid, n);
            worker_send(x->w);
        }
    }
    if (x->resp_eof && bufq_len(&x->resp) == 0 && !x->tunnel_shut) {
        x->tunnel_shut = true;
        conn_shutdown(cl->conn);
    }
    if (x->tunnel_shut && x->req_eof && conn_is_flushed(cl->conn)) {
        x->done = true;
        access_log(x);
        xfer_detach_down(x);
        client_close(cl);
        xfer_maybe_free(x);
    }
}

static void
xfer_pump_down(struct xfer *x)
{
    struct client *cl = x->cl;

    if (cl == NULL || !x->have_head || x->done)
        return;
    if (x->tunnel && !x->head_sent && (x->status < 200 || x->status > 299)) {
        char why[80];
        snprintf(why, sizeof(why), "the worker refused the connection (%d)",
                 x->status);
        xfer_fail(x, 502, why);
        return;
    }
    if (x->tunnel && x->down_sid == 0) {
        tunnel_pump_h1(x, cl);
        return;
    }
    if (x->down_sid > 0)
        xfer_pump_h2(x, cl);
    else
        xfer_pump_h1(x, cl);
}

/* ------------------------------------------- worker registration (PTTH) */

/* Writes a short text response, its body unless |with_body| is false (a
 * HEAD), and unless |keep| closes the connection once it is out. */
static void
simple_response(struct client *cl, int status, const char *extra,
                const char *body, bool with_body, bool keep)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\ncontent-type: text/plain; "
                     "charset=utf-8\r\ncontent-length: %zu\r\n%s%s\r\n",
                     status, h1_reason(status), strlen(body),
                     extra ? extra : "", keep ? "" : "connection: close\r\n");

    conn_write(cl->conn, head, (size_t)n);
    if (with_body)
        conn_write(cl->conn, body, strlen(body));
    if (!keep) {
        cl->closing = true;
        conn_shutdown(cl->conn);
    }
}

static void
h1_simple_response(struct client *cl, int status, const char *extra,
                   const char *body)
{
    simple_response(cl, status, extra, body, true, false);
}

/* Refuses a worker's handshake (SPEC 4: no upgrade, the connection stays
 * HTTP/1.1). Unless the request asked to close, or was not a GET (a HEAD
 * must get no body, and others are not registrations), or the edge is
 * stopping, or earlier answers still wait to be read, the connection stays
 * open for the next request (a worker may retry with a token after a 401)
 * and its idle time starts again. Returns true when it stays open. */
static bool
handshake_refuse(struct client *cl, int status, const char *extra,
                 const char *body)
{
    bool keep = cl->req.keep_alive && !cl->e->stopping &&
                strcmp(cl->req.method, "GET") == 0 &&
                conn_out_len(cl->conn) < CONN_OUT_HIGH;

    simple_response(cl, status, extra, body,
                    strcmp(cl->req.method, "HEAD") != 0, keep);
    if (keep)
        timer_start(cl->idle, cl->e->cfg->idle_timeout_ms, 0);
    return keep;
}

/* Percent-decodes s[0..n) into out (NUL-terminated). -1 on bad input. */
static int
pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t i, j = 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -1;
            hi = hex_digit(s[i + 1]);
            lo = hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || j + 1 >= outlen)
            return -1;
        out[j++] = c;
    }
    out[j] = '\0';
    return 0;
}

/* Extracts the tunnel NAME the worker asks for from the request target:
 * "/.well-known/ptth/?name=NAME", "/.well-known/ptth/" (any name) or the
 * origin scope "/.well-known/ptth/ORIGIN[,ORIGIN...]/" where each origin's
 * host is NAME.DOMAIN. Returns 0 (name[0] == '\0': assign one), or the
 * HTTP status to refuse with. */
static int
handshake_name(struct edge *e, const char *target, char *name, size_t len)
{
    const char *rest = target + strlen(WELL_KNOWN);
    const char *q = strchr(rest, '?');
    size_t pathlen = q ? (size_t)(q - rest) : strlen(rest);

    name[0] = '\0';
    if (q != NULL) {
        const char *p = q + 1;
        while (*p != '\0') {
            size_t seg = strcspn(p, "&");
            if (seg > 5 && memcmp(p, "name=", 5) == 0) {
                if (seg - 5 >= len)
                    return 400;
                memcpy(name, p + 5, seg - 5);
                name[seg - 5] = '\0';
                if (!is_dns_label(name))
                    return 400;
            }
            p += seg;
            if (*p == '&')
                p++;
        }
    }
    if (pathlen > 0) {
        /* origin scope: "ORIGIN[,ORIGIN]/" */
        char origins[1024];
        char *save = NULL, *o;
        if (rest[pathlen - 1] != '/' ||
            pct_decode(rest, pathlen - 1, origins, sizeof(origins)) != 0)
            return 400;
        for (o = strtok_r(origins, ",", &save); o != NULL;
             o = strtok_r(NULL, ",", &save)) {
            const char *h = NULL;
            char on[64];
            size_t hl, dl = strlen(e->cfg->domain);
            if (strncmp(o, "http://", 7) == 0)
                h = o + 7;
            else if (strncmp(o, "https://", 8) == 0)
                h = o + 8;
            if (h == NULL)
                return 400;
            hl = strcspn(h, ":/");
            if (h[hl] == '/' || hl <= dl + 1 || hl - dl - 1 >= sizeof(on) ||
                h[hl - dl - 1] != '.' ||
                !str_nieq(h + hl - dl, e->cfg->domain, dl))
                return 403; /* not an origin this edge serves */
            memcpy(on, h, hl - dl - 1);
            on[hl - dl - 1] = '\0';
            for (size_t i = 0; on[i] != '\0'; i++)
                on[i] = ascii_lower(on[i]);
            if (!is_dns_label(on))
                return 403;
            if (name[0] != '\0' && strcmp(name, on) != 0)
                return 403; /* every origin must name the same tunnel */
            ptth_strlcpy(name, on, len);
        }
    }
    return 0;
}

static void
random_name(struct edge *e, char *out)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[10];
    int tries;

    for (tries = 0; tries < 100; tries++) {
        size_t i;
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
            for (i = 0; i < sizeof(r); i++)
                r[i] = (unsigned char)(rand() & 0xff);
        }
        for (i = 0; i < sizeof(r); i++)
            out[i] = set[r[i] % 36];
        out[sizeof(r)] = '\0';
        if (tunnel_find(e, out) == NULL)
            return;
    }
}

static void
public_url(const struct client *cl, const char *name, char *out, size_t len)
{
    bool tls = conn_is_tls(cl->conn);
    int port = cl->l->port;
    bool dflt = (tls && port == 443) || (!tls && port == 80);
    char portstr[16] = "";

    if (!dflt)
        snprintf(portstr, sizeof(portstr), ":%d", port);
    snprintf(out, len, "%s://%s.%s%s/", tls ? "https" : "http", name,
             cl->e->cfg->domain, portstr);
}

/* Reads the TCP services a worker advertises: "Ptth-Services: tcp;port=22,
 * tcp;port=5432" (an RFC 8941 list; only tcp items with a port count). */
static void
parse_services(struct worker *w, const struct h1_msg *m)
{
    size_t i;

    for (i = 0; i < m->nfields; i++) {
        const char *p = m->fields[i].value;
        if (!str_ieq(m->fields[i].name, "ptth-services"))
            continue;
        while (*p != '\0' && w->ntcp < (int)PTTH_ARRAY_LEN(w->tcp_ports)) {
            size_t item = strcspn(p, ",");
            const char *q = p;
            while (*q == ' ' || *q == '\t')
                q++;
            if (strncmp(q, "tcp;", 4) == 0 || strncmp(q, "tcp ;", 5) == 0) {
                const char *port = strstr(q, "port=");
                long v;
                char num[8];
                size_t n;
                if (port != NULL && port < p + item) {
                    n = strspn(port + 5, "0123456789");
                    if (n > 0 && n < sizeof(num)) {
                        memcpy(num, port + 5, n);
                        num[n] = '\0';
                        if (parse_long(num, 1, 65535, &v) == 0)
                            w->tcp_ports[w->ntcp++] = (int)v;
                    }
                }
            }
            p += item;
            if (*p == ',')
                p++;
        }
    }
}

/* Handles "GET /.well-known/ptth/... Upgrade: ptth" on cl. Returns true
 * when it refused and the connection stays HTTP/1.1 for more requests. */
static bool
handle_handshake(struct client *cl)
{
    struct edge *e = cl->e;
    const struct cfg *cfg = e->cfg;
    struct h1_msg *m = &cl->req;
    const struct h1_field *f;
    char name[64], url[256], tag[24];
    const char *tok = NULL;
    size_t toklen = 0;
    struct tunnel *t;
    struct worker *w;
    int st;

    ctag(cl, tag, sizeof(tag));
    if (strcmp(m->method, "GET") != 0 || !h1_has_token(m, "upgrade", "ptth") ||
        !h1_has_token(m, "connection", "upgrade")) {
        return handshake_refuse(cl, 426, "upgrade: ptth\r\n",
                                "426 Upgrade Required: this endpoint is for "
                                "workers (Upgrade: ptth)\n");
    }
    if (!h1_has_token(m, "alpn", "h2")) {
        return handshake_refuse(cl, 400, NULL,
                                "400 Bad Request: ALPN must offer h2\n");
    }
    st = handshake_name(e, m->target, name, sizeof(name));
    if (st != 0) {
        return handshake_refuse(cl, st, NULL,
                                st == 403 ? "403 Forbidden: origin not served "
                                            "by this edge\n"
                                          : "400 Bad Request: bad tunnel name "
                                            "or origin\n");
    }
    f = h1_find(m, "authorization");
    if (f != NULL)
        tok = auth_bearer(f->value, &toklen);
    if (cfg->ntokens > 0 &&
        (tok == NULL ||
         !auth_token_ok(cfg->tokens, cfg->ntokens, tok, toklen))) {
        log_warn(tag, "worker from %s refused: %s", cl->peer,
                 tok ? "unknown token" : "no token");
        return handshake_refuse(cl, 401,
                                "www-authenticate: Bearer realm=\"ptth\"\r\n",
                                "401 Unauthorized: a valid Bearer token is "
                                "required\n");
    }
    /* On an edge without tokens a presented token is not checked, but it
     * still owns the name: a pool is one token and one NAME. */
    if (e->stopping || e->nworkers >= MAX_WORKERS) {
        return handshake_refuse(cl, 503, "retry-after: 5\r\n",
                                "503 Service Unavailable: the edge is at "
                                "capacity\n");
    }
    if (name[0] == '\0')
        random_name(e, name);
    t = tunnel_find(e, name);
    if (t != NULL) {
        bool same =
            (t->token == NULL && tok == NULL) ||
            (t->token != NULL && tok != NULL && strlen(t->token) == toklen &&
             auth_token_ok(&t->token, 1, tok, toklen));
        if (!same) {
            log_warn(tag,
                     "worker from %s refused: name '%s' is held under "
                     "another token",
                     cl->peer, name);
            return handshake_refuse(cl, 409, NULL,
                                    "409 Conflict: this name is held by "
                                    "another token\n");
        }
        if (t->held) { /* back from a reconnect */
            timer_stop(t->hold);
            t->held = false;
            e->nheld--;
        }
    } else {
        t = xcalloc(1, sizeof(*t));
        t->e = e;
        t->hold = timer_new(e->loop, tunnel_hold_over, t);
        t->name = xstrdup(name);
        t->token = tok ? xstrndup(tok, toklen) : NULL;
        t->next = e->tunnels;
        e->tunnels = t;
        t->hash = name_hash(t->name);
        t->hnext = e->tbucket[t->hash % TUNNEL_BUCKETS];
        e->tbucket[t->hash % TUNNEL_BUCKETS] = t;
    }

    /* Accepted: answer 101 and become the HTTP/2 client on this
     * connection. */
    w = xcalloc(1, sizeof(*w));
    w->e = e;
    w->t = t;
    w->id = cl->id;
    memcpy(w->peer, cl->peer, sizeof(w->peer));
    w->conn = cl->conn;
    w->last_rx = loop_now_ms(e->loop);
    deferred_init(&w->d_send, worker_send_now, w);
    deferred_init(&w->d_free, worker_release, w);
    if (h2_session_new(&w->h2, H2_PEER_SERVER, e->up_cbs, w) != 0) {
        free(w);
        h1_simple_response(cl, 500, NULL, "500 Internal Server Error\n");
        return false;
    }
    parse_services(w, m);
    w->next = t->workers;
    t->workers = w;
    e->nworkers++;
    public_url(cl, name, url, sizeof(url));
    {
        char head[512];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 101 Switching Protocols\r\n"
                         "Connection: Upgrade\r\nUpgrade: ptth\r\n"
                         "ALPN: h2\r\nPtth-Public-Url: %s\r\n\r\n",
                         url);
        conn_write(w->conn, head, (size_t)n);
    }
    log_info(wtag(w, tag, sizeof(tag)), "worker from %s serves %s", w->peer,
             url);
    w->ping = timer_new(e->loop, worker_ping, w);
    timer_start(w->ping, e->cfg->ping_interval_ms, e->cfg->ping_interval_ms);
    /* The connection now belongs to the worker; the client object goes. */
    conn_set_handler(w->conn, &worker_conn_cbs, w);
    cl->conn = NULL;
    if (buf_len(&cl->in) > 0) {
        int rc = h2_recv(w->h2, buf_data(&cl->in), buf_len(&cl->in));
        buf_consume(&cl->in, buf_len(&cl->in));
        if (rc != 0) {
            client_close(cl);
            worker_kill(w, "HTTP/2 protocol error");
            return false;
        }
    }
    client_close(cl);
    worker_send(w);
    return false;
}

/* --------------------------------------------------- HTTP/1.1 clients */

static bool
is_handshake(const struct h1_msg *m)
{
    return strncmp(m->target, WELL_KNOWN, strlen(WELL_KNOWN)) == 0;
}

/* Starts an xfer for the request head just parsed. */
static void
h1_begin(struct client *cl)
{
    struct h1_msg *m = &cl->req;
    struct xfer *x = xfer_new(cl->e, cl, 0);
    size_t i;

    cl->cur = x;
    x->method = xstrdup(m->method);
    x->head_method = strcmp(m->method, "HEAD") == 0;
    x->scheme = xstrdup(conn_is_tls(cl->conn) ? "https" : "http");
    x->authority = m->host ? xstrdup(m->host) : NULL;
    if (strcmp(m->method, "CONNECT") == 0) {
        /* authority-form: the target names the tunnel and service */
        free(x->authority);
        x->authority = xstrdup(m->target);
        x->path = xstrdup("");
        x->tunnel = true;
    } else if (m->target[0] == '/' || m->target[0] == '*') {
        x->path = xstrdup(m->target);
    } else {
        /* absolute-form: the target's authority wins over Host (RFC 9112
         * 3.2.2); keep the path and query only */
        const char *rest = NULL;
        size_t off, alen;
        if (h1_url_authority(m->target, strlen(m->target), &off, &alen)) {
            free(x->authority);
            x->authority = xstrndup(m->target + off, alen);
            rest = m->target + off + alen;
        }
        if (rest != NULL && rest[0] == '/')
            x->path = xstrdup(rest);
        else if (rest != NULL && rest[0] == '?')
            x->path = xconcat((const char *[]){"/", rest, NULL});
        else
            x->path = xstrdup("/");
    }
    for (i = 0; i < m->nfields; i++) {
        const struct h1_field *f = &m->fields[i];
        /* One Content-Length, as a plain number: the parser accepted a
         * list of equal values ("3, 3"), which HTTP/2 refuses. */
        if (f->name_len == 14 && str_nieq(f->name, "content-length", 14))
            continue;
        if (hdr_add(&x->fields, f->name, f->name_len, f->value, f->value_len,
                    HDR_LOWER) != 0) {
            x->req_bad = true;
            break;
        }
    }
    if (m->content_length >= 0 && !m->chunked && !x->req_bad) {
        char num[24];
        int k =
            snprintf(num, sizeof(num), "%lld", (long long)m->content_length);
        if (hdr_add(&x->fields, "content-length", 14, num, (size_t)k, 0) != 0)
            x->req_bad = true;
    }
    cl->keep_alive = m->keep_alive;
    cl->body_chunked = m->chunked;
    cl->body_left =
        m->chunked ? -1 : (m->content_length > 0 ? m->content_length : 0);
    if (x->tunnel) {
        /* After CONNECT every byte is the tunnel's, up to EOF. */
        cl->body_chunked = false;
        cl->body_left = INT64_MAX;
        cl->keep_alive = false;
    }
    cl->body_done = !m->chunked && cl->body_left == 0;
    if (m->chunked) {
        h1_chunked_free(&cl->chunk);
        h1_chunked_init(&cl->chunk, 16 * 1024);
    }
    x->req_eof = cl->body_done;
    if (x->req_bad) {
        xfer_fail(x, 431, "request header fields too large");
        return;
    }
    xfer_start(x);
}

/* Moves request body bytes from the input buffer to the current xfer. */
static int
h1_body(struct client *cl)
{
    struct xfer *x = cl->cur;

    while (!cl->body_done && buf_len(&cl->in) > 0) {
        const uint8_t *p = buf_data(&cl->in);
        size_t len = buf_len(&cl->in);
        size_t take, off = 0, dlen = 0;

        if (!cl->body_chunked) {
            dlen = len < (uint64_t)cl->body_left ? len : (size_t)cl->body_left;
            if (x != NULL && !x->failed) {
                dlen = dlen < bufq_space(&x->req) ? dlen : bufq_space(&x->req);
                if (dlen == 0)
                    return 0; /* queue full: wait for the worker */
                bufq_append(&x->req, p, dlen);
            }
            buf_consume(&cl->in, dlen);
            cl->body_left -= (int64_t)dlen;
            if (cl->body_left == 0)
                cl->body_done = true;
            continue;
        }
        if (x != NULL && !x->failed && bufq_space(&x->req) == 0)
            return 0;
        {
            size_t used = 0;
            /* Never hand the decoder more than the queue can take: a data
             * run is never longer than its input. */
            size_t lim = len;
            int rc;
            if (x != NULL && !x->failed && lim > bufq_space(&x->req))
                lim = bufq_space(&x->req);
            rc = h1_chunked_decode(&cl->chunk, p, lim, &used, &off, &dlen);
            if (rc < 0 && rc != PTTH_EAGAIN)
                return rc;
            take = dlen;
            if (x != NULL && !x->failed && take > 0) {
                if (bufq_append(&x->req, p + off, take) != 0)
                    return PTTH_ELIMIT;
            }
            buf_consume(&cl->in, used);
            if (rc == 1)
                cl->body_done = true;
            if (rc == PTTH_EAGAIN || used == 0)
                break;
        }
    }
    if (x != NULL && cl->body_done && !x->req_eof) {
        x->req_eof = true;
    }
    return 0;
}

static void
client_h1_process(struct client *cl)
{
    for (;;) {
        size_t head_len = 0;
        int rc;

        if (cl->dead || cl->closing)
            return;
        if (cl->cur != NULL || !cl->body_done) {
            struct xfer *x = cl->cur;
            size_t before = x ? bufq_len(&x->req) : 0;
            bool eof_before = x ? x->req_eof : true;
            rc = h1_body(cl);
            if (rc != 0) {
                if (x != NULL)
                    xfer_fail(x, 400, "malformed chunked request body");
                if (cl->dead)
                    return;
                cl->closing = true;
                conn_shutdown(cl->conn);
                return;
            }
            if (x != NULL &&
                (bufq_len(&x->req) != before || x->req_eof != eof_before))
                xfer_req_ready(x);
            if (cl->cur != NULL || !cl->body_done)
                break; /* one request at a time */
        }
        if (buf_len(&cl->in) == 0)
            break;
        if (cl->e->stopping) {
            cl->closing = true;
            conn_shutdown(cl->conn);
            return;
        }
        /* Answers the edge wrote itself (refusals) still wait to be read:
         * parse on once client_on_drain says the output went down. */
        if (conn_out_len(cl->conn) >= CONN_OUT_HIGH)
            break;
        rc = h1_parse_request(&cl->req, buf_data(&cl->in), buf_len(&cl->in),
                              MAX_HEAD, &head_len);
        if (rc == PTTH_EAGAIN)
            break;
        if (rc != 0) {
            char tag[24];
            log_info(ctag(cl, tag, sizeof(tag)), "%s: %s", cl->peer,
                     rc == PTTH_ELIMIT ? "request head too large"
                                       : "malformed request");
            if (rc == PTTH_ELIMIT)
                h1_simple_response(cl, 431, NULL,
                                   "431 Request Header Fields Too Large\n");
            else
                h1_simple_response(cl, 400, NULL,
                                   "400 Bad Request: malformed request\n");
            buf_consume(&cl->in, buf_len(&cl->in));
            return;
        }
        buf_consume(&cl->in, head_len);
        if (is_handshake(&cl->req)) {
            if (cl->req.content_length > 0 || cl->req.chunked) {
                h1_simple_response(cl, 400, NULL,
                                   "400 Bad Request: body on a handshake\n");
                return;
            }
            if (handle_handshake(cl)) {
                h1_msg_reset(&cl->req); /* refused: a next request may follow */
                continue;
            }
            return;
        }
        h1_begin(cl);
    }
    /* Read more only while there is room and something can use it. */
    if (!cl->dead && cl->conn != NULL)
        conn_pause_read(cl->conn, buf_len(&cl->in) >= IN_CAP - 1024);
}

static void
client_h1_deferred(void *arg)
{
    struct client *cl = arg;
    client_h1_process(cl);
    if (!cl->dead && cl->eof && cl->cur == NULL && buf_len(&cl->in) == 0)
        client_close(cl);
}

/* ----------------------------------------------------- HTTP/2 clients */

static int
down_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct client *cl = ud;
    struct xfer *x;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    x = xfer_new(cl->e, cl, f->hd.stream_id);
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, x);
    return 0;
}

static int
down_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
               size_t namelen, const uint8_t *value, size_t valuelen,
               uint8_t flags, void *ud)
{
    struct xfer *x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    char **dst = NULL;

    (void)flags;
    trace_field('c', ((struct client *)ud)->id, f->hd.stream_id, name, namelen,
                value, valuelen);
    if (x == NULL || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* request trailers are dropped */
    if (namelen > 0 && name[0] == ':') {
        if (namelen == 7 && memcmp(name, ":method", 7) == 0)
            dst = &x->method;
        else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
            dst = &x->path;
        else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
            dst = &x->authority;
        else if (namelen == 7 && memcmp(name, ":scheme", 7) == 0)
            dst = &x->scheme;
        if (dst != NULL && *dst == NULL)
            *dst = xstrndup((const char *)value, valuelen);
        return 0;
    }
    if (namelen == 4 && memcmp(name, "host", 4) == 0 && x->authority == NULL)
        x->authority = xstrndup((const char *)value, valuelen);
    /* The same limit as an HTTP/1.1 head (H1_MAX_FIELDS): 431 past it. */
    if (x->fields.n >= H1_MAX_FIELDS ||
        hdr_add(&x->fields, (const char *)name, namelen, (const char *)value,
                valuelen, 0) != 0)
        x->req_bad = true;
    return 0;
}

static int
down_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct xfer *x;

    trace_frame('c', ((struct client *)ud)->id, "recv", f);
    if (f->hd.stream_id == 0)
        return 0;
    x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (x == NULL)
        return 0;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        x->req_eof = true;
    if (f->hd.type == NGHTTP2_HEADERS &&
        f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        x->head_method = x->method && strcmp(x->method, "HEAD") == 0;
        if (x->method == NULL || x->path == NULL) {
            if (x->method != NULL && strcmp(x->method, "CONNECT") == 0 &&
                x->path == NULL) {
                x->path = xstrdup("");
            } else {
                xfer_fail(x, 400, "missing :method or :path");
                return 0;
            }
        }
        if (strcmp(x->method, "CONNECT") != 0 &&
            !((x->path[0] == '/') || (strcmp(x->path, "*") == 0 &&
                                      strcmp(x->method, "OPTIONS") == 0))) {
            /* Only origin-form reaches a worker: an absolute or bare
             * :path would be a different request at an HTTP/1 origin. */
            xfer_fail(x, 400, ":path must start with '/'");
            return 0;
        }
        if (strcmp(x->method, "CONNECT") != 0 &&
            (x->scheme == NULL || (strcmp(x->scheme, "http") != 0 &&
                                   strcmp(x->scheme, "https") != 0))) {
            xfer_fail(x, 400, ":scheme must be http or https");
            return 0;
        }
        if (x->req_bad) {
            xfer_fail(x, 431, "request header fields too large");
            return 0;
        }
        xfer_start(x);
        return 0;
    }
    if (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS)
        xfer_req_ready(x);
    return 0;
}

/* A complete response to a request whose body is still coming (an early
 * 404, 413 or 408): the rest of the body can change nothing, so the worker
 * stream is cancelled, as for HTTP/1.1, and what the client still sends is
 * read and dropped until it ends the stream. RST_STREAM(NO_ERROR) at once
 * would be allowed (RFC 9113 8.1), but curl 7.88 then throws the complete
 * response away (exit 92); it comes only if the body stalls for
 * --idle-timeout (xfer_body_idle). Tunnels excepted: there END_STREAM is
 * a half-close. */
static int
down_frame_send_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct client *cl = ud;
    struct xfer *x;

    trace_frame('c', cl->id, "send", f);
    if (f->hd.type == NGHTTP2_WINDOW_UPDATE) {
        /* The client may send again: its idle time starts now, not at
         * the last check of xfer_body_idle (up to --idle-timeout ago). */
        uint64_t now = loop_now_ms(cl->e->loop);

        if (f->hd.stream_id == 0)
            cl->body_moved_ms = now;
        else if ((x = nghttp2_session_get_stream_user_data(
                      s, f->hd.stream_id)) != NULL &&
                 x->req_moved_ms < now)
            x->req_moved_ms = now;
        return 0;
    }
    if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (x == NULL || x->req_eof || x->tunnel || x->req_discard)
        return 0;
    x->req_discard = true;
    x->req_moved_ms = loop_now_ms(x->e->loop);
    xfer_cancel_up(x);
    if (bufq_len(&x->req) > 0) {
        nghttp2_session_consume(s, f->hd.stream_id, bufq_len(&x->req));
        bufq_free(&x->req);
    }
    return 0;
}

static int
down_data_chunk_cb(nghttp2_session *s, uint8_t flags, int32_t sid,
                   const uint8_t *data, size_t len, void *ud)
{
    struct xfer *x = nghttp2_session_get_stream_user_data(s, sid);

    (void)flags;
    (void)ud;
    if (x == NULL || x->failed || x->req_discard) {
        nghttp2_session_consume(s, sid, len);
        if (x != NULL)
            x->req_moved_ms = loop_now_ms(x->e->loop);
        return 0;
    }
    if (bufq_append(&x->req, data, len) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    x->req_moved_ms = loop_now_ms(x->e->loop);
    if (x->cl != NULL)
        x->cl->body_moved_ms = x->req_moved_ms;
    xfer_req_ready(x);
    return 0;
}

static int
down_stream_close_cb(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    struct xfer *x = nghttp2_session_get_stream_user_data(s, sid);

    (void)code;
    (void)ud;
    if (x == NULL)
        return 0;
    if (x->head_sent && x->resp_eof && bufq_len(&x->resp) == 0)
        access_log(x);
    xfer_detach_down(x);
    xfer_cancel_up(x);
    xfer_maybe_free(x);
    return 0;
}

static void
client_h2_send(struct client *cl)
{
    if (!cl->dead)
        loop_defer_late(cl->e->loop, &cl->d_h2send);
}

static void
client_h2_send_now(void *arg)
{
    struct client *cl = arg;

    if (cl->dead || cl->h2 == NULL)
        return;
    if (h2_send(cl->h2, cl->conn) != 0) {
        client_close(cl);
        return;
    }
    if (h2_finished(cl->h2) && conn_out_len(cl->conn) == 0)
        client_close(cl);
}

static int
client_start_h2(struct client *cl)
{
    cl->mode = CM_H2;
    if (h2_session_new(&cl->h2, H2_PEER_PUBLIC, cl->e->down_cbs, cl) != 0)
        return PTTH_EPROTO;
    if (cl->e->stopping)
        nghttp2_submit_shutdown_notice(cl->h2);
    if (buf_len(&cl->in) > 0) {
        int rc = h2_recv(cl->h2, buf_data(&cl->in), buf_len(&cl->in));
        buf_consume(&cl->in, buf_len(&cl->in));
        if (rc != 0)
            return rc;
    }
    client_h2_send(cl);
    return 0;
}

/* --------------------------------------------------- client callbacks */

static void
client_on_open(void *arg)
{
    struct client *cl = arg;
    const char *alpn = conn_alpn(cl->conn);

    if (alpn != NULL && strcmp(alpn, "h2") == 0 && client_start_h2(cl) != 0)
        client_close(cl);
}

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* A request whose body has not moved for --idle-timeout, neither from the
 * client nor on to the worker, before any response began, is answered
 * 408: a client that stops sending mid-body would otherwise hold its
 * stream, and the worker's, for as long as it likes. Time with bytes
 * waiting on our side (queued for the worker, or read but not yet taken,
 * or filling the HTTP/2 windows) is the worker's, not the client's, and
 * an HTTP/2 client sending the body of another stream is not idle. Once
 * answered, a body still being dropped that stalls as long ends the
 * stream with RST_STREAM(NO_ERROR). Returns the ms until x's deadline,
 * or 0 when x has none (or just failed). */
static uint64_t
xfer_body_idle(struct xfer *x, struct client *cl, uint64_t now)
{
    uint64_t idle = x->e->cfg->idle_timeout_ms;

    if (x->req_discard && !x->req_eof) {
        /* Answered; the body being dropped stalled: end the stream. */
        if (now - x->req_moved_ms < idle)
            return x->req_moved_ms + idle - now;
        nghttp2_submit_rst_stream(cl->h2, NGHTTP2_FLAG_NONE, x->down_sid,
                                  NGHTTP2_NO_ERROR);
        x->req_discard = false;
        x->failed = true; /* nothing more to watch: the stream closes */
        client_h2_send(cl);
        return 0;
    }
    if (x->req_eof || x->tunnel || x->have_head || x->failed)
        return 0;
    /* Nothing can come while the flow-control windows we advertise are
     * (nearly) spent: bytes of other streams still wait for the worker. */
    if (bufq_len(&x->req) > 0 || (x == cl->cur && buf_len(&cl->in) > 0) ||
        (x->down_sid > 0 &&
         (nghttp2_session_get_local_window_size(cl->h2) < BUF_CHUNK_SIZE ||
          nghttp2_session_get_stream_local_window_size(cl->h2, x->down_sid) <
              BUF_CHUNK_SIZE))) {
        x->req_moved_ms = now;
        return idle;
    }
    /* A client sending another body on the same connection (one after
     * the other) is not stalling this one, nor one that was just given
     * connection window after the check above last held. */
    if (x->down_sid > 0 && cl->body_moved_ms > x->req_moved_ms)
        x->req_moved_ms = cl->body_moved_ms;
    if (now - x->req_moved_ms < idle)
        return x->req_moved_ms + idle - now;
    xfer_fail(x, 408, "the request body stopped arriving");
    return 0;
}

/* Closes clients that hold a connection without using it: the timer runs
 * from the accept and from the end of each response, so a request head
 * must arrive (and a keep-alive connection be reused) within
 * --idle-timeout. While requests are in progress it watches their
 * bodies (xfer_body_idle). */
static void
client_idle(void *arg)
{
    struct client *cl = arg;
    uint64_t now = loop_now_ms(cl->e->loop);
    uint64_t next = cl->e->cfg->idle_timeout_ms, left;
    struct xfer *x, *xnext;

    if (cl->cur == NULL && cl->xfers == NULL) {
        char tag[24];
        if (cl->mode == CM_H2 && !cl->closing) {
            /* Tell an HTTP/2 client first, so that it knows no stream
             * was lost; close for good a second later. */
            cl->closing = true;
            nghttp2_submit_goaway(
                cl->h2, NGHTTP2_FLAG_NONE,
                nghttp2_session_get_last_proc_stream_id(cl->h2),
                NGHTTP2_NO_ERROR, NULL, 0);
            client_h2_send(cl);
            timer_start(cl->idle, 1000, 0);
            return;
        }
        log_debug(ctag(cl, tag, sizeof(tag)), "%s: idle, closing", cl->peer);
        client_close(cl);
        return;
    }
    if (cl->cur != NULL) {
        left = xfer_body_idle(cl->cur, cl, now);
        if (cl->dead)
            return;
        if (left > 0 && left < next)
            next = left;
    }
    for (x = cl->xfers; x != NULL; x = xnext) {
        xnext = x->cl_next; /* a 408 may detach x */
        left = xfer_body_idle(x, cl, now);
        if (cl->dead)
            return;
        if (left > 0 && left < next)
            next = left;
    }
    if (!timer_active(cl->idle))
        timer_start(cl->idle, next, 0);
}

static void
client_on_readable(void *arg)
{
    struct client *cl = arg;
    size_t total = 0;

    while (!cl->dead && cl->conn != NULL) {
        uint8_t *space;
        size_t avail;
        long n;

        if (total >= CONN_READ_BUDGET) {
            conn_read_again(cl->conn); /* let other connections run */
            break;
        }
        if (cl->mode == CM_H2) {
            uint8_t buf[CONN_READ_CHUNK];
            n = conn_read(cl->conn, buf, sizeof(buf));
            if (n > 0)
                total += (size_t)n;
            if (n == PTTH_EAGAIN)
                break;
            if (n <= 0 || h2_recv(cl->h2, buf, (size_t)n) != 0) {
                if (n > 0)
                    (void)h2_send(cl->h2, cl->conn);
                client_close(cl);
                return;
            }
            continue;
        }
        space = buf_space(&cl->in, &avail);
        if (avail == 0) {
            conn_pause_read(cl->conn, true);
            break;
        }
        n = conn_read(cl->conn, space, avail);
        if (n == PTTH_EAGAIN)
            break;
        if (n <= 0) {
            cl->eof = true;
            conn_pause_read(cl->conn, true);
            if (cl->cur == NULL || n != PTTH_ECLOSED) {
                client_close(cl);
                return;
            }
            if (cl->cur->tunnel) {
                /* The client half-closed its side of the tunnel: pass
                 * the EOF on as END_STREAM after the bytes before it. */
                struct xfer *x = cl->cur;
                cl->body_done = true;
                client_h1_process(cl);
                if (!cl->dead && cl->cur == x)
                    xfer_pump_down(x);
                return;
            }
            /* Half-closed client: finish the response, then close. */
            break;
        }
        buf_commit(&cl->in, (size_t)n);
        if (cl->cur != NULL)
            cl->cur->req_moved_ms = loop_now_ms(cl->e->loop);
        if (cl->mode == CM_DETECT) {
            size_t len = buf_len(&cl->in);
            size_t cmp =
                len < sizeof(h2_preface) - 1 ? len : sizeof(h2_preface) - 1;
            if (memcmp(buf_data(&cl->in), h2_preface, cmp) != 0) {
                cl->mode = CM_H1;
            } else if (len >= sizeof(h2_preface) - 1) {
                if (client_start_h2(cl) != 0) {
                    client_close(cl);
                    return;
                }
                continue;
            } else {
                continue;
            }
        }
        client_h1_process(cl);
    }
    if (cl->dead)
        return;
    if (cl->mode == CM_H2)
        client_h2_send(cl);
    else if (cl->closing && cl->conn != NULL && conn_is_flushed(cl->conn) &&
             cl->eof)
        client_close(cl);
}

static void
client_on_drain(void *arg)
{
    struct client *cl = arg;

    if (cl->e->stopping && cl->conn != NULL && conn_is_flushed(cl->conn))
        edge_check_stopped(cl->e);

    if (cl->mode == CM_H2) {
        struct xfer *x;

        /* Responses that waited for room in the output. */
        for (x = cl->xfers; x != NULL; x = x->cl_next) {
            if (x->resp_deferred && x->head_sent &&
                (bufq_len(&x->resp) > 0 || x->resp_eof)) {
                x->resp_deferred = false;
                nghttp2_session_resume_data(cl->h2, x->down_sid);
            }
        }
        client_h2_send(cl);
        return;
    }
    if (cl->cur != NULL)
        xfer_pump_down(cl->cur);
    else if (!cl->closing && cl->conn != NULL)
        loop_defer(cl->e->loop, &cl->d_h1); /* requests after refusals */
}

static void
client_on_error(void *arg, int rc)
{
    struct client *cl = arg;
    char tag[24];

    log_debug(ctag(cl, tag, sizeof(tag)), "%s: %s (%s)", cl->peer,
              conn_errstr(cl->conn), ptth_strerror(rc));
    client_close(cl);
}

static const struct conn_cbs client_conn_cbs = {
    client_on_open,
    client_on_readable,
    client_on_drain,
    client_on_error,
};

static void
resume_accept(void *arg)
{
    struct listener *l = arg;
    if (l->w != NULL)
        io_watch_set(l->w, IO_READ);
}

static void
on_accept(void *arg, int events)
{
    struct listener *l = arg;
    struct edge *e = l->e;
    int i;

    (void)events;
    for (i = 0; i < 64; i++) {
        struct client *cl;
        struct xport x;
        char peer[NET_ADDR_MAX];
        int fd = net_accept(l->fd, peer, sizeof(peer));

        if (fd == PTTH_EAGAIN)
            return;
        if (fd < 0) {
            /* Out of descriptors (EMFILE, ENFILE) and the like: the
             * listener stays readable, so stop watching it for a while
             * instead of spinning. */
            log_warn("edge", "accept on %s: %s; pausing accepts for 1 s",
                     l->addr, strerror(errno));
            io_watch_set(l->w, 0);
            timer_start(l->pause, 1000, 0);
            return;
        }
        cl = xcalloc(1, sizeof(*cl));
        cl->e = e;
        cl->l = l;
        cl->id = ++e->next_id;
        memcpy(cl->peer, peer, sizeof(peer));
        /* peer_ip: the address without the port (and brackets) */
        if (peer[0] == '[') {
            size_t n = strcspn(peer + 1, "]");
            memcpy(cl->peer_ip, peer + 1, n);
            cl->peer_ip[n] = '\0';
        } else {
            size_t n = strcspn(peer, ":");
            memcpy(cl->peer_ip, peer, n);
            cl->peer_ip[n] = '\0';
        }
        buf_init(&cl->in, IN_CAP);
        cl->body_done = true;
        deferred_init(&cl->d_h2send, client_h2_send_now, cl);
        deferred_init(&cl->d_h1, client_h1_deferred, cl);
        deferred_init(&cl->d_free, client_release, cl);
        cl->next = e->clients;
        if (e->clients != NULL)
            e->clients->prev = cl;
        e->clients = cl;
        cl->idle = timer_new(e->loop, client_idle, cl);
        timer_start(cl->idle, e->cfg->idle_timeout_ms, 0);
        net_xport(&x, fd);
        cl->conn = conn_new(e->loop, &x, e->tls, NULL, &client_conn_cbs, cl);
    }
}

/* ------------------------------------------------------------- set-up */

static void
set_callbacks(struct edge *e)
{
    nghttp2_session_callbacks *c;

    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        c, up_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(c, up_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, up_frame_recv_cb);
    if (log_enabled(LOG_LV_TRACE)) /* it only traces */
        nghttp2_session_callbacks_set_on_frame_send_callback(c,
                                                             up_frame_send_cb);
    nghttp2_session_callbacks_set_send_data_callback(c, up_send_data_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c,
                                                              up_data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(c,
                                                           up_stream_close_cb);
    e->up_cbs = c;

    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        c, down_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(c, down_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, down_frame_recv_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(c, down_frame_send_cb);
    nghttp2_session_callbacks_set_send_data_callback(c, down_send_data_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        c, down_data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(
        c, down_stream_close_cb);
    e->down_cbs = c;
}

/* Exits the loop once stopping and nothing is in flight. */
static void
edge_check_stopped(struct edge *e)
{
    struct client *cl;
    struct tunnel *t;
    struct worker *w;

    if (!e->stopping)
        return;
    for (cl = e->clients; cl != NULL; cl = cl->next) {
        /* HTTP/1.1 output still queued is a response not yet delivered
         * (HTTP/2 responses are counted by their xfers). */
        if (cl->cur != NULL || cl->xfers != NULL ||
            (cl->mode != CM_H2 && cl->conn != NULL &&
             !conn_is_flushed(cl->conn)))
            return;
    }
    for (t = e->tunnels; t != NULL; t = t->next) {
        for (w = t->workers; w != NULL; w = w->next) {
            if (w->xfers != NULL)
                return;
        }
    }
    loop_stop(e->loop);
}

static void
on_grace_over(void *arg)
{
    struct edge *e = arg;
    log_warn("edge", "grace period over: closing what is left");
    loop_stop(e->loop);
}

static void
on_signal(void *arg)
{
    struct edge *e = arg;
    struct client *cl, *next;
    struct tunnel *t;
    struct worker *w;
    size_t i;

    if (e->stopping) {
        loop_stop(e->loop); /* a second signal: stop now */
        return;
    }
    e->stopping = true;
    log_info("edge", "stopping: finishing requests in flight (grace %llu ms)",
             (unsigned long long)e->cfg->grace_ms);
    for (i = 0; i < e->nls; i++) {
        /* Closed, not just unwatched: new clients are refused at once
         * instead of waiting in the backlog. */
        io_watch_free(e->ls[i].w);
        e->ls[i].w = NULL;
        close(e->ls[i].fd);
        e->ls[i].fd = -1;
    }
    for (t = e->tunnels; t != NULL; t = t->next) {
        for (w = t->workers; w != NULL; w = w->next) {
            w->draining = true;
            nghttp2_submit_goaway(w->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
                                  NULL, 0);
            worker_send(w);
        }
    }
    for (cl = e->clients; cl != NULL; cl = next) {
        next = cl->next;
        if (cl->mode == CM_H2) {
            nghttp2_submit_goaway(
                cl->h2, NGHTTP2_FLAG_NONE,
                nghttp2_session_get_last_proc_stream_id(cl->h2),
                NGHTTP2_NO_ERROR, NULL, 0);
            client_h2_send(cl);
        } else if (cl->cur == NULL && conn_out_len(cl->conn) == 0) {
            client_close(cl);
        } else if (cl->cur == NULL) {
            /* A finished response still on its way out: send it all. */
            cl->closing = true;
            conn_shutdown(cl->conn);
        } else {
            cl->keep_alive = false;
        }
    }
    e->grace = timer_new(e->loop, on_grace_over, e);
    timer_start(e->grace, e->cfg->grace_ms, 0);
    edge_check_stopped(e);
}

int
edge_main(const struct cfg *cfg)
{
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    struct edge e;
    size_t i;
    int status = PTTH_EXIT_OK;

    memset(&e, 0, sizeof(e));
    e.cfg = cfg;
    e.loop = loop_new();
    if (e.loop == NULL) {
        log_err("edge", "cannot create the event loop: %s", strerror(errno));
        return PTTH_EXIT_INTERNAL;
    }
    if (cfg->tls_cert != NULL) {
        char err[256];
        e.tls = tls_ctx_new_server(cfg->tls_cert, cfg->tls_key, alpn, err,
                                   sizeof(err));
        if (e.tls == NULL) {
            log_err("edge", "%s", err);
            loop_free(e.loop);
            return PTTH_EXIT_RESOURCE;
        }
    }
    set_callbacks(&e);
    e.ls = xcalloc(cfg->nlistens, sizeof(*e.ls));
    for (i = 0; i < cfg->nlistens; i++) {
        struct listener *l = &e.ls[i];
        char err[256];
        const char *colon;
        l->e = &e;
        l->fd = net_listen(&cfg->listens[i], l->addr, sizeof(l->addr), err,
                           sizeof(err));
        if (l->fd < 0) {
            log_err("edge", "%s", err);
            status = PTTH_EXIT_RESOURCE;
            goto out;
        }
        e.nls++;
        colon = strrchr(l->addr, ':');
        l->port = colon ? atoi(colon + 1) : 0;
        l->w = io_watch_new(e.loop, l->fd, on_accept, l);
        l->pause = timer_new(e.loop, resume_accept, l);
        io_watch_set(l->w, IO_READ);
    }
    /* Signals are watched before the ready line: a script may signal as
     * soon as it has read it. */
    e.sig_int = sig_watch_new(e.loop, SIGINT, on_signal, &e);
    e.sig_term = sig_watch_new(e.loop, SIGTERM, on_signal, &e);
    for (i = 0; i < e.nls; i++)
        printf("%s://%s/\n", e.tls ? "https" : "http", e.ls[i].addr);
    if (fflush(stdout) != 0) {
        status = PTTH_EXIT_INTERNAL;
        goto out;
    }
    log_info("edge", "ready: tunnels are NAME.%s", cfg->domain);
    loop_run(e.loop);
out:
    while (e.clients != NULL)
        client_close(e.clients);
    e.stopping = true; /* names are no longer held */
    while (e.tunnels != NULL) {
        if (e.tunnels->workers != NULL)
            worker_kill(e.tunnels->workers, "the edge stopped");
        else
            tunnel_free(e.tunnels);
    }
    for (i = 0; i < e.nls; i++) {
        io_watch_free(e.ls[i].w);
        timer_free(e.ls[i].pause);
        if (e.ls[i].fd >= 0)
            close(e.ls[i].fd);
    }
    free(e.ls);
    sig_watch_free(e.sig_int);
    sig_watch_free(e.sig_term);
    timer_free(e.grace);
    loop_free(e.loop);
    nghttp2_session_callbacks_del(e.up_cbs);
    nghttp2_session_callbacks_del(e.down_cbs);
    tls_ctx_free(e.tls);
    return status;
}
