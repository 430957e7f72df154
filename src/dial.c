/* SPDX-License-Identifier: MIT
 * dial.c - CONNECT_ONLY dialing in a private multi handle; the finished
 * easy handle stays added (libcurl keeps the connection for
 * curl_easy_send/recv) until the transport is closed. */
#include "config.h"

#include "dial.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "curlm.h"
#include "loop.h"
#include "net.h"
#include "util.h"
#include "xport.h"

struct dial {
    struct curlm *pm; /* private multi; NULL if it could not be made */
    struct loop *loop;
    CURL *e;
    bool added;     /* e is in pm */
    bool connected; /* the transfer ended with CURLE_OK */
    bool in_cb;     /* the user callback is running */
    bool cancelled; /* dial_cancel ran inside the callback */
    bool tls_proxy; /* an https:// proxy wraps the hop */
    int fd;         /* the socket once taken; direct I/O without tls_proxy */
    dial_cb *cb;
    void *arg;
    char *target;     /* "host:port" / "[v6]:port", for messages */
    char *proxy_name; /* proxy for messages, credentials removed; or NULL */
    char *setup_err;  /* reason a set-up step failed, reported deferred */
    struct deferred fail_d;
    char errbuf[CURL_ERROR_SIZE];
};

static void
dial_destroy(struct dial *d)
{
    if (d->pm != NULL && d->added)
        curlm_remove(d->pm, d->e);
    if (d->e != NULL)
        curl_easy_cleanup(d->e); /* closes the socket */
    curlm_free(d->pm);
    loop_cancel(d->loop, &d->fail_d);
    free(d->target);
    free(d->proxy_name);
    free(d->setup_err);
    free(d);
}

/* Runs the user callback; frees |d| afterwards on failure or when it was
 * cancelled from inside the callback. */
static void
report(struct dial *d, int rc, const char *msg)
{
    d->in_cb = true;
    d->cb(d->arg, rc, msg);
    d->in_cb = false;
    if (rc != 0 || d->cancelled)
        dial_destroy(d);
}

static void
fail_run(void *arg)
{
    struct dial *d = arg;
    char *msg = xasprintf("connect to %s: %s", d->target, d->setup_err);

    report(d, PTTH_EIO, msg);
    free(msg);
}

/* Returns the first non-empty variable of |names|, or NULL. */
static const char *
env_first(const char *const *names)
{
    for (; *names != NULL; names++) {
        const char *v = getenv(*names);

        if (v != NULL && *v != '\0')
            return v;
    }
    return NULL;
}

/* Returns |url| without "user:password@" (for messages). */
static char *
strip_userinfo(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep != NULL ? sep + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL, *p;

    for (p = auth; p < auth + alen; p++) {
        if (*p == '@')
            at = p;
    }
    if (at == NULL)
        return xstrdup(url);
    return xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
}

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

/* Returns the URL for |host| (brackets and %25 for an IPv6 zone). */
static char *
edge_url(const char *host, int port)
{
    const char *zone;

    if (strchr(host, ':') == NULL)
        return xasprintf("http://%s:%d/", host, port);
    zone = strchr(host, '%');
    if (zone == NULL)
        return xasprintf("http://[%s]:%d/", host, port);
    return xasprintf("http://[%.*s%%25%s]:%d/", (int)(zone - host), host,
                     zone + 1, port);
}

#define SETOPT(d, opt, val)                                                    \
    do {                                                                       \
        CURLcode rc_ = curl_easy_setopt((d)->e, opt, val);                     \
        if (rc_ != CURLE_OK) {                                                 \
            (d)->setup_err = xasprintf("libcurl refused %s: %s", #opt,         \
                                       curl_easy_strerror(rc_));               \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

static void done_cb(void *arg, int curlcode);

struct dial *
dial_start(struct curlm *m, const char *host, int port, uint64_t timeout_ms,
           dial_cb *cb, void *arg)
{
    static const char *const proxy_vars[] = {"HTTPS_PROXY", "https_proxy",
                                             "ALL_PROXY", "all_proxy", NULL};
    static const char *const noproxy_vars[] = {"NO_PROXY", "no_proxy", NULL};
    struct dial *d = xcalloc(1, sizeof(*d));
    const char *proxy = env_first(proxy_vars);
    const char *noproxy = env_first(noproxy_vars);
    char *url = edge_url(host, port);

    d->loop = curlm_loop(m);
    d->cb = cb;
    d->arg = arg;
    d->target = strchr(host, ':') != NULL ? xasprintf("[%s]:%d", host, port)
                                          : xasprintf("%s:%d", host, port);
    deferred_init(&d->fail_d, fail_run, d);
    if (proxy != NULL) {
        d->proxy_name = strip_userinfo(proxy);
        d->tls_proxy = str_nieq(proxy, "https://", 8);
    }
    d->pm = curlm_new(d->loop);
    if (d->pm == NULL) {
        d->setup_err = xstrdup("cannot create a libcurl multi handle");
        goto fail;
    }
    d->e = curl_easy_init();
    if (d->e == NULL) {
        d->setup_err = xstrdup("cannot create a libcurl handle");
        goto fail;
    }
    SETOPT(d, CURLOPT_URL, url);
    SETOPT(d, CURLOPT_CONNECT_ONLY, 1L);
    SETOPT(d, CURLOPT_NOSIGNAL, 1L);
    SETOPT(d, CURLOPT_TCP_NODELAY, 1L);
    SETOPT(d, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(d, CURLOPT_ERRORBUFFER, d->errbuf);
    SETOPT(d, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    if (timeout_ms > 0)
        SETOPT(d, CURLOPT_CONNECTTIMEOUT_MS,
               (long)(timeout_ms > 0x7fffffff ? 0x7fffffff : timeout_ms));
    if (proxy != NULL) {
        SETOPT(d, CURLOPT_PROXY, proxy);
        SETOPT(d, CURLOPT_HTTPPROXYTUNNEL, 1L);
        if (noproxy != NULL)
            SETOPT(d, CURLOPT_NOPROXY, noproxy);
    } else {
        SETOPT(d, CURLOPT_PROXY, ""); /* and never http_proxy */
    }
    if (curlm_add(d->pm, d->e, 0, done_cb, d) != 0) {
        d->setup_err = xstrdup("cannot add the libcurl handle");
        goto fail;
    }
    d->added = true;
    free(url);
    return d;
fail:
    free(url);
    loop_defer(d->loop, &d->fail_d);
    return d;
}

/* Returns the one-line reason for a failed dial (caller frees). */
static char *
dial_errmsg(struct dial *d, CURLcode code)
{
    long oserr = 0;
    const char *why;
    size_t n = strlen(d->errbuf);
    char *via = d->proxy_name != NULL
                    ? xasprintf(" via proxy %s", d->proxy_name)
                    : xstrdup("");
    char *msg;

    while (n > 0 && (d->errbuf[n - 1] == '\n' || d->errbuf[n - 1] == '\r'))
        d->errbuf[--n] = '\0';
    if (curl_easy_getinfo(d->e, CURLINFO_OS_ERRNO, &oserr) != CURLE_OK)
        oserr = 0;
    if (code == CURLE_COULDNT_CONNECT && oserr != 0)
        why = strerror((int)oserr);
    else if (n > 0)
        why = d->errbuf;
    else
        why = curl_easy_strerror(code);
    msg = xasprintf("connect to %s%s: %s", d->target, via, why);
    free(via);
    return msg;
}

static void
done_cb(void *arg, int curlcode)
{
    struct dial *d = arg;
    char *msg;

    if (curlcode == CURLE_OK) {
        d->connected = true;
        report(d, 0, NULL);
        return;
    }
    msg = dial_errmsg(d, (CURLcode)curlcode);
    report(d, PTTH_EIO, msg);
    free(msg);
}

/* ---- the transport ---- */

static long
x_send(void *arg, const uint8_t *p, size_t n)
{
    struct dial *d = arg;
    size_t sent = 0;
    CURLcode rc;

    if (!d->tls_proxy)
        return net_send(d->fd, p, n);
    rc = curl_easy_send(d->e, p, n, &sent);

    if (rc == CURLE_AGAIN || (rc == CURLE_OK && sent == 0 && n > 0))
        return PTTH_EAGAIN;
    if (rc != CURLE_OK)
        return PTTH_EIO;
    return (long)sent;
}

/* Only without a TLS proxy: the socket then carries our bytes as they
 * are, and libcurl has read nothing past the proxy's answer. */
static long
x_sendv(void *arg, const struct iovec *iov, int n)
{
    struct dial *d = arg;

    return net_sendv(d->fd, iov, n);
}

static long
x_recv(void *arg, uint8_t *p, size_t n)
{
    struct dial *d = arg;
    size_t got = 0;
    CURLcode rc;

    if (!d->tls_proxy)
        return net_recv(d->fd, p, n);
    rc = curl_easy_recv(d->e, p, n, &got);

    if (rc == CURLE_AGAIN)
        return PTTH_EAGAIN;
    if (rc != CURLE_OK)
        return PTTH_EIO;
    return (long)got; /* 0: EOF */
}

static curl_socket_t
active_socket(struct dial *d)
{
    curl_socket_t fd = CURL_SOCKET_BAD;

    if (curl_easy_getinfo(d->e, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
        return CURL_SOCKET_BAD;
    return fd;
}

/* Valid only without a TLS proxy: with one, a raw shutdown would cut the
 * proxy's TLS stream instead of half-closing the tunnel. */
static int
x_shutdown_write(void *arg)
{
    curl_socket_t fd = active_socket(arg);

    if (fd == CURL_SOCKET_BAD || shutdown(fd, SHUT_WR) != 0)
        return PTTH_EIO;
    return 0;
}

static void
x_close(void *arg)
{
    struct dial *d = arg;

    if (d->in_cb)
        d->cancelled = true; /* report() frees it after the callback */
    else
        dial_destroy(d);
}

int
dial_take_xport(struct dial *d, struct xport *x)
{
    curl_socket_t fd;

    if (!d->connected)
        return PTTH_EINVAL;
    fd = active_socket(d);
    if (fd == CURL_SOCKET_BAD)
        return PTTH_EINVAL;
    memset(x, 0, sizeof(*x));
    x->fd = (int)fd;
    x->arg = d;
    x->send = x_send;
    x->sendv = d->tls_proxy ? NULL : x_sendv;
    x->recv = x_recv;
    d->fd = (int)fd;
    x->shutdown_write = d->tls_proxy ? NULL : x_shutdown_write;
    x->close = x_close;
    d->connected = false; /* taken: only x->close releases it now */
    return 0;
}

void
dial_cancel(struct dial *d)
{
    if (d == NULL)
        return;
    if (d->in_cb) {
        d->cancelled = true; /* report() frees it after the callback */
        return;
    }
    dial_destroy(d);
}
