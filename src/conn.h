/* SPDX-License-Identifier: MIT
 * conn.h - a connection: a byte transport (xport.h) with optional TLS,
 * a capped output queue flushed once per loop iteration, and read
 * readiness delivered to the owner. Shared by the edge and the worker. */
#ifndef PTTH_CONN_H
#define PTTH_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xport.h"

struct bufq;
struct conn;
struct loop;
struct tls_ctx;

/* Producers keep conn_out_len below this and wait for on_drain. */
#define CONN_OUT_HIGH (256u * 1024u)
/* Bytes asked for per read on a multiplexed (HTTP/2) connection. */
#define CONN_READ_CHUNK (128u * 1024u)

struct conn_cbs {
    /* The transport is ready (TLS handshake done). */
    void (*on_open)(void *arg);
    /* Bytes may be readable: call conn_read until it returns PTTH_EAGAIN,
     * or pause reading. Also called for EOF and read errors. */
    void (*on_readable)(void *arg);
    /* The output queue fell below CONN_OUT_HIGH / 2 after being above, or
     * a conn_shutdown has just been carried out: produce more, or check
     * conn_is_flushed. */
    void (*on_drain)(void *arg);
    /* The connection failed (handshake, write, TLS): rc is a PTTH_E*.
     * The owner frees it; no more callbacks after this one. */
    void (*on_error)(void *arg, int rc);
};

/* Takes ownership of x. With tls != NULL runs a TLS handshake first: as a
 * client when server_name is non-NULL (or the context is a client one).
 * Callbacks are never called from inside conn_new. Never NULL. */
struct conn *conn_new(struct loop *l, const struct xport *x,
                      struct tls_ctx *tls, const char *server_name,
                      const struct conn_cbs *cb, void *arg);
/* Like conn_new for a plain socket whose non-blocking connect is in
 * progress: on_open once it is connected, on_error (conn_errstr says why)
 * when it failed. Writes queue meanwhile. */
struct conn *conn_new_connecting(struct loop *l, const struct xport *x,
                                 const struct conn_cbs *cb, void *arg);
/* Makes conn_free close with SO_LINGER 0, so the peer sees a TCP reset. */
void conn_reset_on_close(struct conn *c);
/* Hands the connection to another owner (a worker that upgraded). */
void conn_set_handler(struct conn *c, const struct conn_cbs *cb, void *arg);
/* Closes the transport and frees the connection later (safe from inside
 * its own callbacks; none fire after this). NULL is fine. */
void conn_free(struct conn *c);

/* Reads decrypted bytes: > 0, PTTH_EAGAIN, PTTH_ECLOSED (EOF), or
 * PTTH_EIO/PTTH_ETLS. */
long conn_read(struct conn *c, uint8_t *p, size_t n);
/* Asks for another on_readable from the loop: an owner that read its
 * share (CONN_READ_BUDGET) returns and continues there, so one busy peer
 * cannot hold the loop. */
#define CONN_READ_BUDGET (256u * 1024u)
void conn_read_again(struct conn *c);
/* Stops (true) or resumes (false) read callbacks; resuming delivers bytes
 * TLS already holds. */
void conn_pause_read(struct conn *c, bool paused);
/* Queues n bytes (copied) and schedules a flush. Returns 0, or
 * PTTH_ELIMIT if the hard cap (CONN_OUT_HIGH * 16) would be passed. */
int conn_write(struct conn *c, const void *p, size_t n);
/* Moves |n| <= bufq_len(q) bytes of q to the output queue (conn_write
 * without a copy where chunks can be relinked). The bytes leave q even
 * when this fails (they are dropped then). Returns as conn_write. */
int conn_write_from(struct conn *c, struct bufq *q, size_t n);
size_t conn_out_len(const struct conn *c);
/* Writes the queue to the socket now rather than at the end of the loop
 * turn (bounds memory when much arrives in one turn). Failures are
 * reported later, through on_error, as for a deferred flush; on_drain may
 * run from inside. */
void conn_flush_now(struct conn *c);
/* After everything queued is written: TLS close_notify and/or a TCP
 * half-close. Reads may go on. */
void conn_shutdown(struct conn *c);
/* True once conn_shutdown's work is done and the queue is empty. */
bool conn_is_flushed(const struct conn *c);

bool conn_is_tls(const struct conn *c);
/* Negotiated ALPN protocol, or NULL. */
const char *conn_alpn(const struct conn *c);
/* TLS server: the SNI the client sent, or NULL. */
const char *conn_sni(const struct conn *c);
/* One-line reason for the last failure. */
const char *conn_errstr(const struct conn *c);
/* True when the failure was a certificate verification. */
bool conn_verify_failed(const struct conn *c);
/* The transport's fd (for peer address queries). */
int conn_fd(const struct conn *c);

#endif /* PTTH_CONN_H */
