/* SPDX-License-Identifier: MIT
 * h2.h - nghttp2 glue shared by the edge and the worker: hardened sessions,
 * the receive/send pump over a conn, and header-list conversion. Only the
 * modules that handle HTTP/2 streams include this header. */
#ifndef PTTH_H2_H
#define PTTH_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

struct bufq;
struct conn;
struct hdr_list;

/* Flow-control windows: one stream can fill a fast link, and the bytes one
 * connection may hold unconsumed stay bounded. */
#define H2_STREAM_WINDOW (256 * 1024) /* = UPSTREAM_REQ_QUEUE_MAX */
#define H2_CONN_WINDOW (4 * 1024 * 1024)
#define H2_MAX_STREAMS 100

/* Run-time nghttp2 version, e.g. "1.52.0". Static storage. */
const char *h2_library_version(void);

/* Who the session talks to: the edge's public clients (server role,
 * the default flood limits), an edge (the worker's session, server role:
 * the edge cancels streams for every public client that leaves, so the
 * stream-reset rate limit is lifted), or a worker or edge we dial (client
 * role: the edge to its workers, ptth connect to the edge). */
enum h2_peer {
    H2_PEER_PUBLIC,
    H2_PEER_EDGE,
    H2_PEER_SERVER,
};

/* Creates a session for |peer| with automatic window updates off (callers
 * consume what they forwarded), flood limits on, and our SETTINGS queued.
 * Returns 0 or PTTH_EPROTO. */
int h2_session_new(nghttp2_session **s, enum h2_peer peer,
                   const nghttp2_session_callbacks *cbs, void *ud);
/* Feeds received bytes. Returns 0 or PTTH_EPROTO (the session queued a
 * GOAWAY when it could; flush, then close). */
int h2_recv(nghttp2_session *s, const uint8_t *p, size_t n);
/* Moves frames from the session into c's output until it is past
 * CONN_OUT_HIGH or nothing is left. Returns 0 or PTTH_EPROTO. */
int h2_send(nghttp2_session *s, struct conn *c);
/* True when the session wants neither to read nor to write. */
bool h2_finished(nghttp2_session *s);

/* Appends l to nv (lower-case names required; values copied by nghttp2
 * unless NO_COPY). nv must have room for l->n entries. Returns entries. */
size_t h2_nv_from_list(nghttp2_nv *nv, const struct hdr_list *l);
/* Builds a response head: ":status" then the fields of l that are not
 * hop-by-hop. status_buf (at least 4 bytes) holds the status text and
 * must live until the nv array is submitted. Returns a new array (free
 * it) and its length in *n. Never NULL. */
nghttp2_nv *h2_nv_response(int status, const struct hdr_list *l,
                           char *status_buf, size_t *n);
/* Submits l as the trailer section of stream sid (HEADERS with
 * END_STREAM). Returns nghttp2's code. */
int h2_submit_trailers(nghttp2_session *s, int32_t sid,
                       const struct hdr_list *l);
/* The body of a data provider reading a capped queue, without copying:
 * returns how many bytes (up to len) of q the next DATA frame carries and
 * sets NGHTTP2_DATA_FLAG_NO_COPY, so nghttp2 calls the session's
 * send_data_callback, which must call h2_send_queued with the same q and
 * c; or returns NGHTTP2_ERR_DEFERRED and sets *waiting while q is empty
 * and eof is false, or while c's output is at CONN_OUT_HIGH: resume the
 * stream when bytes come and from c's on_drain. Once eof and the frame
 * takes the rest of q it sets NGHTTP2_DATA_FLAG_EOF in *flags and, if
 * trailers has fields, submits them on (s, sid) instead of ending the
 * stream with the DATA. */
ssize_t h2_read_queue(nghttp2_session *s, int32_t sid, struct conn *c,
                      struct bufq *q, bool eof, const struct hdr_list *trailers,
                      bool *waiting, size_t len, uint32_t *flags);
/* The send_data_callback's work for a frame h2_read_queue sized: queues
 * the 9-byte frame header and moves |length| bytes of q into c's output
 * (whole chunks are relinked, not copied). Returns 0,
 * NGHTTP2_ERR_WOULDBLOCK while c's output is at CONN_OUT_HIGH (nghttp2
 * retries the frame at the next h2_send), or another nghttp2 error code
 * for the callback to return. */
int h2_send_queued(struct conn *c, const nghttp2_frame *frame,
                   const uint8_t *framehd, struct bufq *q, size_t length);
/* Protocol traces (-vvv, log level trace), tagged |tag|: one line for a
 * frame sent or received (|dir| "send" or "recv"), with the fields of a
 * sent HEADERS frame, and one line for a received header field. Values
 * of credential fields are written as [redacted]. Cheap no-ops below the
 * trace level. */
void h2_trace_frame(const char *tag, const char *dir, const nghttp2_frame *f);
void h2_trace_field(const char *tag, int32_t sid, const uint8_t *name,
                    size_t namelen, const uint8_t *value, size_t valuelen);

/* Makes an nv entry from C strings (nghttp2 copies them). */
nghttp2_nv h2_nv(const char *name, const char *value);

#endif /* PTTH_H2_H */
