/* SPDX-License-Identifier: MIT
 * net.c - non-blocking sockets. */
#include "config.h"

#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "util.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored process-wide (main.c) */
#endif

static int
set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return PTTH_EIO;
    return 0;
}

void
net_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
net_addr_str(const void *sa, char *out, size_t len)
{
    const struct sockaddr *s = sa;
    char host[INET6_ADDRSTRLEN] = "?";

    if (s->sa_family == AF_INET) {
        const struct sockaddr_in *in = sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, len, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (s->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, len, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "local");
    }
}

static struct addrinfo *
resolve(const char *host, int port, bool passive, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host,
                 gai_strerror(rc));
        return NULL;
    }
    return res;
}

int
net_listen(const struct listen_spec *l, char *bound, size_t boundlen, char *err,
           size_t errlen)
{
    struct addrinfo *res = resolve(l->host, l->port, true, err, errlen);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd, one = 1;

    if (res == NULL)
        return PTTH_EIO;
    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || set_flags(fd) != 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        char a[NET_ADDR_MAX];
        net_addr_str(res->ai_addr, a, sizeof(a));
        snprintf(err, errlen, "cannot listen on %s: %s", a, strerror(errno));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        goto fail;
    }
    net_addr_str(&ss, bound, boundlen);
    freeaddrinfo(res);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return PTTH_EIO;
}

int
net_accept(int lfd, char *peer, size_t peerlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd;

    do {
        fd = accept(lfd, (struct sockaddr *)&ss, &sl);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
            return PTTH_EAGAIN;
        return PTTH_EIO;
    }
    if (set_flags(fd) != 0) {
        close(fd);
        return PTTH_EIO;
    }
    net_nodelay(fd);
    if (peer != NULL)
        net_addr_str(&ss, peer, peerlen);
    return fd;
}

int
net_connect_tcp(const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo *res = resolve(host, port, false, err, errlen);
    int fd;

    if (res == NULL)
        return PTTH_EIO;
    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || set_flags(fd) != 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    net_nodelay(fd);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 &&
        errno != EINPROGRESS) {
        snprintf(err, errlen, "connect to %s:%d: %s", host, port,
                 strerror(errno));
        goto fail;
    }
    freeaddrinfo(res);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return PTTH_EIO;
}

int
net_connect_result(int fd)
{
    int soerr = 0;
    socklen_t sl = sizeof(soerr);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        return PTTH_EIO;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return PTTH_EAGAIN;
    if (soerr != 0) {
        errno = soerr;
        return PTTH_EIO;
    }
    return 0;
}

bool
net_peer_is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return ss.ss_family == AF_UNIX;
}

long
net_send(int fd, const uint8_t *p, size_t n)
{
    ssize_t r;

    do {
        r = send(fd, p, n, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (long)r;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? PTTH_EAGAIN : PTTH_EIO;
}

long
net_sendv(int fd, const struct iovec *iov, int n)
{
    struct msghdr mh;
    ssize_t r;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = (struct iovec *)(uintptr_t)iov;
    mh.msg_iovlen = (size_t)n;
    do {
        r = sendmsg(fd, &mh, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (long)r;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? PTTH_EAGAIN : PTTH_EIO;
}

long
net_recv(int fd, uint8_t *p, size_t n)
{
    ssize_t r;

    do {
        r = recv(fd, p, n, 0);
    } while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (long)r;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? PTTH_EAGAIN : PTTH_EIO;
}

static long
fd_send(void *arg, const uint8_t *p, size_t n)
{
    return net_send((int)(intptr_t)arg, p, n);
}

static long
fd_sendv(void *arg, const struct iovec *iov, int n)
{
    return net_sendv((int)(intptr_t)arg, iov, n);
}

static long
fd_recv(void *arg, uint8_t *p, size_t n)
{
    return net_recv((int)(intptr_t)arg, p, n);
}

static int
fd_shutdown(void *arg)
{
    return shutdown((int)(intptr_t)arg, SHUT_WR) == 0 ? 0 : PTTH_EIO;
}

static void
fd_close(void *arg)
{
    close((int)(intptr_t)arg);
}

void
net_xport(struct xport *x, int fd)
{
    x->fd = fd;
    x->arg = (void *)(intptr_t)fd;
    x->send = fd_send;
    x->sendv = fd_sendv;
    x->recv = fd_recv;
    x->shutdown_write = fd_shutdown;
    x->close = fd_close;
}
