/* SPDX-License-Identifier: MIT
 * dial.h - connect to the edge with libcurl CONNECT_ONLY (async DNS,
 * happy eyeballs, HTTP/HTTPS/SOCKS proxies), non-blocking on the loop,
 * and hand the connected socket over as a struct xport whose send/recv go
 * through curl_easy_send/curl_easy_recv (so a TLS proxy hop keeps
 * working).
 *
 * Proxies: HTTPS_PROXY, https_proxy, then ALL_PROXY, all_proxy (first
 * non-empty wins) are tunnelled through with HTTP CONNECT
 * (CURLOPT_HTTPPROXYTUNNEL); NO_PROXY/no_proxy lists hosts to reach
 * directly. http_proxy is never used: the edge hop is not a plain proxied
 * HTTP request.
 *
 * Each dial runs in a private libcurl multi handle (created on the loop of
 * the curlm passed in): libcurl 7.88 keeps a finished CONNECT_ONLY
 * connection in its multi's connection cache as an idle one, and in a
 * shared multi the next transfer that opens a connection prunes it once
 * it is older than CURLOPT_MAXAGE_CONN (118 s): "Connection 0 seems to be
 * dead", closed under the edge session (observed with 7.88.1). */
#ifndef PTTH_DIAL_H
#define PTTH_DIAL_H

#include <stdint.h>

#include "ptth.h"

struct curlm;
struct xport;
struct dial;

/* |rc| is 0 (connected) or PTTH_EIO with |errmsg| a one-line reason such
 * as "connect to 127.0.0.1:8080: Connection refused" (valid during the
 * call only). */
typedef void dial_cb(void *arg, int rc, const char *errmsg);

/* Starts connecting to |host| (name or IP literal, no brackets) : |port|,
 * giving up after |timeout_ms| (0 = libcurl's default, 300 s), proxy
 * handshake included. |cb| runs once, from the loop of |m| (never from
 * inside this call), unless dial_cancel comes first. After a failure |d|
 * is freed when |cb| returns. After success the caller owns |d| and must
 * call dial_take_xport or dial_cancel (from |cb| or later). Never NULL. */
struct dial *dial_start(struct curlm *m, const char *host, int port,
                        uint64_t timeout_ms, dial_cb *cb, void *arg);

/* After a successful dial, fills |x| (x->fd = the connected socket,
 * non-blocking; x->arg = |d|) and gives |d| to it: x->close releases
 * everything (and closes the fd), |d| must not be used directly any more.
 * Free any io_watch on x->fd before x->close. x->shutdown_write is
 * shutdown(fd, SHUT_WR): valid only when no TLS proxy sits between us and
 * the edge (it is NULL when an https:// proxy is in use). Returns 0, or
 * PTTH_EINVAL when the dial has not succeeded (|x| untouched). */
int dial_take_xport(struct dial *d, struct xport *x);

/* Stops a dial in progress (|cb| never runs) or releases a connected one
 * that was not taken, and frees |d|. Fine from inside |cb|. NULL is fine.
 */
void dial_cancel(struct dial *d);

#endif /* PTTH_DIAL_H */
