/* SPDX-License-Identifier: MIT
 * net.h - non-blocking sockets: listen, accept, socket options, address
 * strings, and the struct xport of a plain socket. No library headers. */
#ifndef PTTH_NET_H
#define PTTH_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "xport.h"

struct listen_spec;

/* Longest text net_addr_str writes: "[v6]:port". */
#define NET_ADDR_MAX 64

/* Opens a non-blocking, close-on-exec listening TCP socket for l (the first
 * address the name resolves to). Writes the bound address ("127.0.0.1:8080",
 * "[::1]:8080") to bound. Returns the fd, or PTTH_EIO with a one-line
 * reason in err. */
int net_listen(const struct listen_spec *l, char *bound, size_t boundlen,
               char *err, size_t errlen);
/* Accepts one connection: non-blocking, close-on-exec, TCP_NODELAY. Returns
 * the fd, PTTH_EAGAIN when none is pending, or PTTH_EIO. peer gets the
 * remote address text (may be NULL). */
int net_accept(int lfd, char *peer, size_t peerlen);
/* Connects a non-blocking TCP socket to host:port (numeric or name;
 * resolved synchronously: only for local targets). Returns the fd with the
 * connection in progress, or PTTH_EIO with a reason in err. */
int net_connect_tcp(const char *host, int port, char *err, size_t errlen);
/* Sets TCP_NODELAY; harmless on unix sockets. */
void net_nodelay(int fd);
/* Returns 0 once a non-blocking connect has completed, PTTH_EAGAIN while it
 * is in progress, PTTH_EIO (errno set) when it failed. */
int net_connect_result(int fd);
/* Fills x for a plain socket; x->close closes fd. */
void net_xport(struct xport *x, int fd);
/* Non-blocking I/O on a socket (EINTR retried, SIGPIPE suppressed):
 * bytes moved (> 0; 0 from net_recv at EOF), PTTH_EAGAIN or PTTH_EIO. */
long net_send(int fd, const uint8_t *p, size_t n);
long net_sendv(int fd, const struct iovec *iov, int n);
long net_recv(int fd, uint8_t *p, size_t n);
/* Formats a sockaddr as "1.2.3.4:80" or "[::1]:80". */
void net_addr_str(const void *sa, char *out, size_t len);
/* True when the peer's address (of an accepted fd) is loopback. */
bool net_peer_is_loopback(int fd);

#endif /* PTTH_NET_H */
