/* SPDX-License-Identifier: MIT
 * upstream.c - one libcurl easy handle per request.
 *
 * Flow: libcurl callbacks (header, write, read) run inside the multi's
 * socket actions or a deferred unpause; they report heads and body bytes
 * directly, but everything that ends the request, reports consumed
 * request bytes, resumes delivery or frees goes through |ev|, a deferred
 * entry, so the handle is never removed inside a libcurl callback and the
 * caller's API calls never call back.
 *
 * Response back-pressure: on_body taking nothing makes the write callback
 * return CURL_WRITEFUNC_PAUSE (libcurl keeps and re-delivers those bytes);
 * taking part of them keeps the rest in |rest| and returns the full count,
 * and a later write callback pauses if |rest| cannot be flushed first.
 * upstream_resume flushes |rest| from the loop, then unpauses. */
#include "config.h"

#include "upstream.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "curlm.h"
#include "hdr.h"
#include "loop.h"
#include "util.h"

#ifndef CURL_WRITEFUNC_ERROR /* before 7.87: any count but n fails */
#define CURL_WRITEFUNC_ERROR 0xFFFFFFFF
#endif

struct upstream {
    struct curlm *m;
    struct loop *loop;
    CURL *e;
    struct upstream_cbs cb;
    void *arg;
    char *name; /* "127.0.0.1:3000", "[::1]:80", "unix:/run/app.sock" */
    struct curl_slist *hdrs;
    struct timer *head_timer;
    uint64_t timeout_ms;
    struct deferred ev;
    bool added; /* e is in the multi */

    /* request body */
    struct bufq reqq;
    bool body;        /* a request body is sent */
    bool req_ended;   /* upstream_end_body seen */
    bool send_paused; /* the read callback returned PAUSE */
    size_t consumed;  /* bytes taken by libcurl, not yet reported */
    int64_t clen;     /* announced length, -1 unknown (chunked) */
    uint64_t written; /* bytes accepted by upstream_write_body */
    uint64_t sent;    /* bytes handed to libcurl */

    /* response */
    struct hdr_list block;    /* fields of the current 1xx head */
    struct hdr_list trailers; /* lower-cased */
    bool final_seen;          /* the final head was reported */
    uint8_t *rest;            /* taken from libcurl, not by on_body */
    size_t rest_off, rest_len;
    bool recv_paused;   /* the write callback returned PAUSE */
    bool recv_ok;       /* ... and the caller can take bytes again */
    bool resume_wanted; /* upstream_resume since the last ev run */

    /* the end */
    bool curl_done; /* libcurl reported the transfer finished */
    bool finishing; /* rc/errmsg decided; on_done comes from ev */
    bool cancelled;
    bool in_done; /* inside on_done: API calls are ignored */
    int cb_depth; /* > 0 while a caller callback runs */
    int rc;
    char *errmsg;
    char errbuf[CURL_ERROR_SIZE];
};

static void ev_run(void *arg);

/* Decides how the request ends (first decision wins) and queues on_done.
 * Never calls back. */
static void
finish(struct upstream *u, int rc, char *errmsg)
{
    if (u->finishing || u->cancelled) {
        free(errmsg);
        return;
    }
    u->finishing = true;
    u->rc = rc;
    u->errmsg = errmsg;
    timer_stop(u->head_timer);
    loop_defer(u->loop, &u->ev);
}

static void
destroy(struct upstream *u)
{
    if (u->added)
        curlm_remove(u->m, u->e);
    /* Only a handle that finished its exchange is reused: one cancelled
     * mid-transfer still holds a connection curl must close. */
    if (u->e != NULL && u->finishing && u->rc == 0)
        curlm_easy_put(u->m, u->e);
    else if (u->e != NULL)
        curl_easy_cleanup(u->e);
    curl_slist_free_all(u->hdrs);
    timer_free(u->head_timer);
    loop_cancel(u->loop, &u->ev);
    bufq_free(&u->reqq);
    hdr_list_free(&u->block);
    hdr_list_free(&u->trailers);
    free(u->rest);
    free(u->name);
    free(u->errmsg);
    free(u);
}

/* ---- response ---- */

static size_t
call_on_body(struct upstream *u, const uint8_t *p, size_t n)
{
    size_t k;

    u->cb_depth++;
    k = u->cb.on_body(u->arg, p, n);
    u->cb_depth--;
    return k;
}

static void
call_on_head(struct upstream *u, int status, const struct hdr_list *f,
             bool final)
{
    u->cb_depth++;
    u->cb.on_head(u->arg, status, f, final);
    u->cb_depth--;
}

/* Offers |rest| to on_body. Returns true when it is empty. */
static bool
flush_rest(struct upstream *u)
{
    while (u->rest_len > 0) {
        size_t k = call_on_body(u, u->rest + u->rest_off, u->rest_len);

        if (u->cancelled)
            return false;
        if (k == 0)
            return false;
        if (k > u->rest_len)
            k = u->rest_len;
        u->rest_off += k;
        u->rest_len -= k;
    }
    free(u->rest);
    u->rest = NULL;
    u->rest_off = 0;
    return true;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct upstream *u = userdata;
    size_t n = size * nmemb, k;

    if (u->cancelled || u->finishing)
        return CURL_WRITEFUNC_ERROR; /* stops the transfer */
    if (u->rest_len > 0 && !flush_rest(u)) {
        if (u->cancelled)
            return CURL_WRITEFUNC_ERROR;
        u->recv_paused = true;
        u->recv_ok = false;
        return CURL_WRITEFUNC_PAUSE; /* libcurl keeps p for later */
    }
    if (n == 0)
        return 0;
    k = call_on_body(u, (const uint8_t *)p, n);
    if (u->cancelled)
        return CURL_WRITEFUNC_ERROR;
    if (k >= n)
        return n;
    if (k == 0) {
        u->recv_paused = true;
        u->recv_ok = false;
        return CURL_WRITEFUNC_PAUSE;
    }
    u->rest_len = n - k;
    u->rest = xmalloc(u->rest_len);
    memcpy(u->rest, p + k, u->rest_len);
    u->rest_off = 0;
    return n;
}

/* Adds one raw "Name: value" line (CRLF removed) to |l|; a line starting
 * with white space continues the previous value. Returns 0 or
 * PTTH_ELIMIT / PTTH_EPROTO. */
static int
add_line(struct hdr_list *l, const char *p, size_t n)
{
    const char *colon;
    size_t nl, vs;

    if (n > 0 && (p[0] == ' ' || p[0] == '\t')) { /* obsolete folding */
        if (l->n == 0)
            return PTTH_EPROTO;
        while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
            p++;
            n--;
        }
        return hdr_append_value(l, l->n - 1, p, n);
    }
    colon = memchr(p, ':', n);
    if (colon == NULL || colon == p)
        return PTTH_EPROTO;
    nl = (size_t)(colon - p);
    vs = nl + 1;
    while (vs < n && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    while (n > vs && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return hdr_add(l, p, nl, p + vs, n - vs, HDR_LOWER);
}

/* At the blank line ending a head. Returns 0 or a PTTH_E* code (the
 * message is set). */
static int
end_of_head(struct upstream *u)
{
    long code = 0;

    if (curl_easy_getinfo(u->e, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
        code = 0;
    if (code == 100) {
        hdr_list_free(&u->block);
        return 0;
    }
    if (code == 101) {
        finish(u, PTTH_EIO,
               xasprintf("upstream %s: unexpected 101 Switching Protocols",
                         u->name));
        return PTTH_EPROTO;
    }
    if (code < 100 || code > 999) {
        finish(u, PTTH_EIO,
               xasprintf("upstream %s: bad status %ld", u->name, code));
        return PTTH_EPROTO;
    }
    if (code >= 200) {
        u->final_seen = true;
        timer_stop(u->head_timer);
    }
    /* A length next to a transfer coding is wrong (libcurl decodes the
     * coding and ignores it; RFC 9112 6.3: a proxy removes it), and a 204
     * has none: passed on, they would make the edge cut the body short or
     * refuse the response. */
    if (hdr_get(&u->block, "transfer-encoding") != NULL || code == 204)
        hdr_remove(&u->block, "content-length");
    /* The fields header_cb collected, filtered in place. */
    if (hdr_remove_hop_by_hop(&u->block) != 0) {
        finish(u, PTTH_EIO,
               xasprintf("upstream %s: the Connection field names too many "
                         "options",
                         u->name));
        return PTTH_EPROTO;
    }
    call_on_head(u, (int)code, &u->block, code >= 200);
    hdr_list_free(&u->block);
    return 0;
}

static size_t
header_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct upstream *u = userdata;
    size_t n = size * nmemb, len = n;
    int rc = 0;

    if (u->cancelled || u->finishing)
        return 0;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (u->final_seen) { /* trailers follow the body */
        if (len > 0 && add_line(&u->trailers, p, len) != 0) {
            finish(u, PTTH_EIO,
                   xasprintf("upstream %s: bad trailer section", u->name));
            return 0;
        }
        return n;
    }
    if (len == 0)
        rc = end_of_head(u);
    else if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        hdr_list_free(&u->block); /* a new head starts */
    else if (add_line(&u->block, p, len) != 0) {
        finish(u, PTTH_EIO,
               xasprintf("upstream %s: bad response head", u->name));
        return 0;
    }
    return rc != 0 || u->cancelled ? 0 : n;
}

static void
head_timeout_cb(void *arg)
{
    struct upstream *u = arg;

    finish(u, PTTH_ELIMIT,
           xasprintf("upstream %s: no response head within %llu ms", u->name,
                     (unsigned long long)u->timeout_ms));
}

static void
head_timer_restart(struct upstream *u)
{
    if (u->timeout_ms > 0 && !u->final_seen && !u->finishing)
        timer_start(u->head_timer, u->timeout_ms, 0);
}

/* ---- request body ---- */

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct upstream *u = userdata;
    size_t n;

    if (u->cancelled || u->finishing)
        return CURL_READFUNC_ABORT;
    n = bufq_read(&u->reqq, buf, size * nmemb);
    if (n > 0) {
        u->consumed += n;
        u->sent += n;
        loop_defer(u->loop, &u->ev);
        head_timer_restart(u); /* the upstream is making progress */
        return n;
    }
    if (u->req_ended) {
        if (u->clen >= 0 && u->sent < (uint64_t)u->clen) {
            /* libcurl would call this the end and wait for a response
             * the upstream never sends: fail now. */
            finish(u, PTTH_EIO,
                   xasprintf("upstream %s: request body ended after %llu "
                             "of %lld bytes",
                             u->name, (unsigned long long)u->sent,
                             (long long)u->clen));
            return CURL_READFUNC_ABORT;
        }
        head_timer_restart(u); /* now waiting for the head */
        return 0;
    }
    /* Waiting for the caller, not the upstream: no head timeout. */
    timer_stop(u->head_timer);
    u->send_paused = true;
    return CURL_READFUNC_PAUSE;
}

/* Directions to keep paused at a deferred unpause (curlm_pause_fn). */
static int
pause_state_cb(void *arg)
{
    struct upstream *u = arg;
    int keep = 0;

    if (u->recv_paused) {
        if (u->recv_ok && u->rest_len == 0)
            u->recv_paused = u->recv_ok = false;
        else
            keep |= CURLM_KEEP_RECV;
    }
    if (u->send_paused) {
        if (bufq_len(&u->reqq) > 0 || u->req_ended || u->cancelled)
            u->send_paused = false;
        else
            keep |= CURLM_KEEP_SEND;
    }
    if (!u->send_paused)
        head_timer_restart(u);
    return keep;
}

/* ---- the end ---- */

static char *
curl_errmsg(struct upstream *u, CURLcode code)
{
    long oserr = 0;
    size_t n = strlen(u->errbuf);
    const char *why;

    while (n > 0 && (u->errbuf[n - 1] == '\n' || u->errbuf[n - 1] == '\r'))
        u->errbuf[--n] = '\0';
    if (curl_easy_getinfo(u->e, CURLINFO_OS_ERRNO, &oserr) != CURLE_OK)
        oserr = 0;
    if (oserr != 0 && (code == CURLE_COULDNT_CONNECT ||
                       code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR))
        why = strerror((int)oserr);
    else if (n > 0)
        why = u->errbuf;
    else
        why = curl_easy_strerror(code);
    return xasprintf("upstream %s: %s", u->name, why);
}

/* curlm_done_fn: the transfer ended (from the deferred queue). */
static void
xfer_done_cb(void *arg, int curlcode)
{
    struct upstream *u = arg;

    u->curl_done = true;
    if (u->cancelled || u->finishing)
        return;
    if (curlcode != CURLE_OK)
        finish(u, curlcode == CURLE_OPERATION_TIMEDOUT ? PTTH_ELIMIT : PTTH_EIO,
               curl_errmsg(u, (CURLcode)curlcode));
    else if (!u->final_seen)
        finish(u, PTTH_EIO,
               xasprintf("upstream %s: no response head", u->name));
    else
        finish(u, 0, NULL);
}

static void
ev_run(void *arg)
{
    struct upstream *u = arg;

    if (u->cancelled) {
        destroy(u);
        return;
    }
    if (u->consumed > 0) {
        size_t n = u->consumed;

        u->consumed = 0;
        if (u->cb.on_req_consumed != NULL) {
            u->cb_depth++;
            u->cb.on_req_consumed(u->arg, n);
            u->cb_depth--;
            if (u->cancelled) {
                destroy(u);
                return;
            }
        }
    }
    if (u->resume_wanted) {
        u->resume_wanted = false;
        if (u->rest_len > 0 && !(u->finishing && u->rc != 0)) {
            flush_rest(u);
            if (u->cancelled) {
                destroy(u);
                return;
            }
        }
        if (u->rest_len == 0 && u->recv_paused && !u->recv_ok) {
            u->recv_ok = true;
            if (u->added && !u->curl_done && !u->finishing)
                curlm_defer_unpause(u->m, u->e);
        }
    }
    if (!u->finishing)
        return;
    if (u->rc == 0 && u->rest_len > 0)
        return; /* on_body must take the rest first: wait for resume */
    if (u->added) {
        curlm_remove(u->m, u->e); /* stops an unfinished transfer */
        u->added = false;
    }
    if (u->rc == 0 && u->trailers.n > 0 && u->cb.on_trailers != NULL) {
        /* A trailer section naming too many Connection options is
         * dropped whole: the body is complete, the trailers are not. */
        if (hdr_remove_hop_by_hop(&u->trailers) != 0)
            hdr_list_free(&u->trailers);
        if (u->trailers.n > 0) {
            u->cb_depth++;
            u->cb.on_trailers(u->arg, &u->trailers);
            u->cb_depth--;
        }
        if (u->cancelled) {
            destroy(u);
            return;
        }
    }
    u->in_done = true;
    u->cb_depth++;
    u->cb.on_done(u->arg, u->rc, u->errmsg);
    destroy(u);
}

/* ---- set-up ---- */

static int
sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    int fl = fcntl(fd, F_GETFD);

    (void)clientp;
    (void)purpose;
    if (fl >= 0)
        (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    return CURL_SOCKOPT_OK;
}

static bool
is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_token(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return false;
    for (i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* True when |v| may go into a field value (no CR, LF or NUL). */
static bool
is_value(const char *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
            return false;
    }
    return true;
}

/* "host:port" for messages and the default Host (brackets for IPv6;
 * port omitted when |omit_port| names it). */
static char *
host_port(const char *host, int port, int omit_port)
{
    bool v6 = strchr(host, ':') != NULL;
    char num[16], *p = num + sizeof(num);
    const char *parts[6];
    size_t n = 0;
    int v = port; /* 1..65535 */

    /* Runs twice for every request: no printf. */
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    parts[n++] = v6 ? "[" : "";
    parts[n++] = host;
    parts[n++] = v6 ? "]" : "";
    if (port != omit_port) {
        parts[n++] = ":";
        parts[n++] = p;
    }
    parts[n] = NULL;
    return xconcat(parts);
}

static bool
str_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++) {
        if (str_ieq(s, *set))
            return true;
    }
    return false;
}

/* Builds the header list: exactly the caller's fields plus Host, with
 * libcurl's own Accept and Expect suppressed. Returns NULL with *why set
 * when a field cannot be sent. */
static struct curl_slist *
build_headers(const struct upstream_target *t, const struct upstream_req *r,
              bool body, const char **why)
{
    static const char *const dropped[] = {"host", "content-length", NULL};
    static const char *const bodyful[] = {"POST", "PUT", "PATCH", NULL};
    struct curl_slist *l = NULL, *nl;
    char *line, *cookie = NULL;
    bool accept = false, expect = false;
    size_t i;

    if (r->authority != NULL && *r->authority != '\0') {
        if (!is_value(r->authority, strlen(r->authority))) {
            *why = "bad authority";
            return NULL;
        }
        {
            const char *parts[] = {"Host: ", r->authority, NULL};
            line = xconcat(parts);
        }
    } else {
        const char *h =
            t->host != NULL && *t->host != '\0' ? t->host : "localhost";
        char *hp =
            host_port(h, t->port,
                      t->unix_path != NULL ? t->port
                      : t->scheme != NULL && str_ieq(t->scheme, "https") ? 443
                                                                         : 80);

        line = xasprintf("Host: %s", hp);
        free(hp);
    }
    l = curl_slist_append(l, line);
    free(line);
    for (i = 0; r->fields != NULL && i < r->fields->n && l != NULL; i++) {
        const struct hdr *h = &r->fields->v[i];

        if (!is_token(h->name, h->name_len) ||
            !is_value(h->value, h->value_len)) {
            *why = "invalid request field";
            curl_slist_free_all(l);
            free(cookie);
            return NULL;
        }
        if (hdr_is_hop_by_hop(h->name, h->name_len) || str_in(h->name, dropped))
            continue;
        if (str_ieq(h->name, "cookie")) {
            char *c = cookie == NULL ? xstrdup(h->value)
                                     : xasprintf("%s; %s", cookie, h->value);
            free(cookie);
            cookie = c;
            continue;
        }
        accept = accept || str_ieq(h->name, "accept");
        expect = expect || str_ieq(h->name, "expect");
        /* "Name;" is libcurl's way to send an empty value. */
        {
            const char *parts[] = {h->name, h->value_len > 0 ? ": " : ";",
                                   h->value, NULL};
            line = xconcat(parts);
        }
        nl = curl_slist_append(l, line);
        free(line);
        if (nl == NULL)
            break;
        l = nl;
    }
    if (cookie != NULL) {
        line = xasprintf("cookie: %s", cookie);
        free(cookie);
        nl = curl_slist_append(l, line);
        free(line);
        l = nl != NULL ? nl : l;
    }
    if (!accept && (nl = curl_slist_append(l, "Accept:")) != NULL)
        l = nl;
    if (!expect && (nl = curl_slist_append(l, "Expect:")) != NULL)
        l = nl;
    if (!body && str_in(r->method, bodyful) &&
        (nl = curl_slist_append(l, "Content-Length: 0")) != NULL)
        l = nl;
    if (l == NULL)
        *why = "out of memory";
    return l;
}

#define SETOPT(u, opt, val)                                                    \
    do {                                                                       \
        CURLcode rc_ = curl_easy_setopt((u)->e, opt, val);                     \
        if (rc_ != CURLE_OK) {                                                 \
            err = xasprintf("upstream %s: libcurl refused %s: %s", (u)->name,  \
                            #opt, curl_easy_strerror(rc_));                    \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

/* The options every request shares, set once on a new handle: a pooled
 * handle keeps them (curlm_easy_put does not reset). */
static char *
setup_handle(struct upstream *u)
{
    char *err = NULL;

    SETOPT(u, CURLOPT_PATH_AS_IS, 1L);
    SETOPT(u, CURLOPT_PROXY, "");
    SETOPT(u, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(u, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    SETOPT(u, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(u, CURLOPT_NOSIGNAL, 1L);
    SETOPT(u, CURLOPT_TCP_NODELAY, 1L);
    SETOPT(u, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    SETOPT(u, CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(u, CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(u, CURLOPT_READFUNCTION, read_cb);
    if (curlm_keep_sockets(u->m, u->e) != 0)
        err = xasprintf("upstream %s: libcurl refused the socket callbacks",
                        u->name);
fail:
    return err;
}

/* Sets every option that varies per request, including those a previous
 * user of a pooled handle may have changed. Returns NULL or the reason it
 * failed (caller frees). */
static char *
setup(struct upstream *u, const struct upstream_target *t,
      const struct upstream_req *r)
{
    const char *host =
        t->host != NULL && *t->host != '\0' ? t->host : "localhost";
    const char *prefix = t->prefix != NULL ? t->prefix : "";
    size_t plen = strlen(prefix);
    char *url = NULL, *target = NULL, *hp, *err = NULL;
    const char *why = NULL;
    bool head = strcmp(r->method, "HEAD") == 0;

    if (!is_token(r->method, strlen(r->method)))
        return xasprintf("upstream %s: bad method", u->name);
    if (!is_value(r->path, strlen(r->path)) || strchr(r->path, ' ') != NULL ||
        r->path[0] == '\0')
        return xasprintf("upstream %s: bad request target", u->name);
    u->hdrs = build_headers(t, r, u->body, &why);
    if (u->hdrs == NULL)
        return xasprintf("upstream %s: %s", u->name, why);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    if (strcmp(r->path, "*") == 0)
        target = xstrdup("*");
    else if (plen == 0)
        target = NULL; /* r->path as it is */
    else
        target = xasprintf("%.*s%s", (int)plen, prefix, r->path);

    hp = host_port(host, t->port, -1);
    {
        const char *parts[] = {t->scheme != NULL ? t->scheme : "http", "://",
                               hp, "/", NULL};
        url = xconcat(parts);
    }
    free(hp);

    SETOPT(u, CURLOPT_URL, url);
    SETOPT(u, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
    SETOPT(u, CURLOPT_CONNECTTIMEOUT_MS,
           (long)(t->timeout_ms > 0x7fffffff ? 0x7fffffff : t->timeout_ms));
    SETOPT(u, CURLOPT_REQUEST_TARGET, target != NULL ? target : r->path);
    SETOPT(u, CURLOPT_ERRORBUFFER, u->errbuf);
    SETOPT(u, CURLOPT_HTTPHEADER, u->hdrs);
    SETOPT(u, CURLOPT_HEADERDATA, u);
    SETOPT(u, CURLOPT_WRITEDATA, u);
    SETOPT(u, CURLOPT_READDATA, u);
    /* GET without a body, then what this request differs in. */
    SETOPT(u, CURLOPT_HTTPGET, 1L);
    SETOPT(u, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    SETOPT(u, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
    if (head) {
        SETOPT(u, CURLOPT_NOBODY, 1L); /* CUSTOMREQUEST would wait */
    } else if (u->body) {
        SETOPT(u, CURLOPT_UPLOAD, 1L);
        SETOPT(u, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->content_length >= 0)
            SETOPT(u, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->content_length);
    } else if (strcmp(r->method, "GET") != 0) {
        SETOPT(u, CURLOPT_CUSTOMREQUEST, r->method);
    }
fail:
    free(url);
    free(target);
    return err;
}

struct upstream *
upstream_start(struct curlm *m, const struct upstream_target *t,
               const struct upstream_req *r, const struct upstream_cbs *cb,
               void *arg)
{
    struct upstream *u = xcalloc(1, sizeof(*u));
    char *err = NULL;
    bool fresh = false;

    u->m = m;
    u->loop = curlm_loop(m);
    u->cb = *cb;
    u->arg = arg;
    u->timeout_ms = t->timeout_ms;
    u->body = r->has_body && strcmp(r->method, "HEAD") != 0;
    u->clen = r->content_length >= 0 ? r->content_length : -1;
    u->name =
        t->unix_path != NULL
            ? xasprintf("unix:%s", t->unix_path)
            : host_port(t->host != NULL ? t->host : "localhost", t->port, -1);
    deferred_init(&u->ev, ev_run, u);
    bufq_init(&u->reqq, BUF_CHUNK_SIZE, UPSTREAM_REQ_QUEUE_MAX);
    hdr_list_init(&u->block);
    hdr_list_init(&u->trailers);
    u->head_timer = timer_new(u->loop, head_timeout_cb, u);
    u->e = curlm_easy_get(m, &fresh);
    if (u->e == NULL)
        err = xasprintf("upstream %s: cannot create a libcurl handle", u->name);
    else if (fresh)
        err = setup_handle(u);
    if (err == NULL && u->e != NULL)
        err = setup(u, t, r);
    if (err == NULL) {
        if (curlm_add(m, u->e, CURLM_BIG_READS, xfer_done_cb, u) != 0)
            err = xasprintf("upstream %s: cannot add the libcurl handle",
                            u->name);
        else
            u->added = true;
    }
    if (err != NULL) {
        finish(u, PTTH_EIO, err); /* on_done from the loop */
        return u;
    }
    curlm_set_pause_fn(m, u->e, pause_state_cb);
    head_timer_restart(u);
    return u;
}

/* ---- caller side ---- */

size_t
upstream_write_body(struct upstream *u, const uint8_t *p, size_t n)
{
    size_t k;

    if (u->in_done || u->cancelled || u->finishing || !u->body || u->req_ended)
        return 0;
    if (u->clen >= 0 && u->written + n > (uint64_t)u->clen) {
        /* Bytes past the announced length are never sent: drop them. */
        uint64_t room = (uint64_t)u->clen - u->written;

        if (room == 0)
            return n;
        k = bufq_write_some(&u->reqq, p, (size_t)room);
        u->written += k;
        if (k > 0 && u->send_paused && u->added)
            curlm_defer_unpause(u->m, u->e);
        return k == room ? n : k;
    }
    k = bufq_write_some(&u->reqq, p, n);
    u->written += k;
    if (k > 0 && u->send_paused && u->added)
        curlm_defer_unpause(u->m, u->e);
    return k;
}

void
upstream_end_body(struct upstream *u)
{
    if (u->in_done || u->cancelled || u->req_ended)
        return;
    u->req_ended = true;
    if (u->send_paused && u->added && !u->finishing)
        curlm_defer_unpause(u->m, u->e);
}

void
upstream_resume(struct upstream *u)
{
    if (u->in_done || u->cancelled)
        return;
    u->resume_wanted = true;
    loop_defer(u->loop, &u->ev);
}

void
upstream_cancel(struct upstream *u)
{
    if (u == NULL || u->in_done || u->cancelled)
        return;
    u->cancelled = true;
    timer_stop(u->head_timer);
    if (u->cb_depth == 0 && !curlm_busy(u->m))
        destroy(u); /* nothing of ours or libcurl's is on the stack */
    else
        loop_defer(u->loop, &u->ev); /* ev_run frees it */
}
