/* SPDX-License-Identifier: MIT
 * upstream.h - one HTTP/1.1 request to the local service per HTTP/2
 * stream, through libcurl (curlm), streamed both ways with back-pressure.
 * No nghttp2 here: the caller glues the callbacks to its stream.
 *
 * Callback rules:
 * - No callback runs from inside upstream_start, upstream_write_body,
 *   upstream_end_body or upstream_resume; they run from the loop.
 * - on_head (any 1xx but 100, then the final head), on_body, on_trailers
 *   come in wire order; on_req_consumed whenever curl took request bytes.
 * - on_done is the last callback, exactly once (unless cancelled). When
 *   it returns the object frees itself: the caller must drop its pointer
 *   there and never touch it again (calls made from inside on_done are
 *   ignored).
 * - upstream_cancel may be called from any callback but on_done, or any
 *   time before on_done; no callback at all runs after it.
 * - Every callback may call upstream_write_body, upstream_end_body,
 *   upstream_resume and upstream_cancel. */
#ifndef PTTH_UPSTREAM_H
#define PTTH_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptth.h"

struct curlm;
struct hdr_list;
struct upstream;

/* Request-body bytes queued per request (a matching HTTP/2 stream window
 * never makes upstream_write_body refuse bytes). */
#define UPSTREAM_REQ_QUEUE_MAX (256u * 1024u)

/* Where requests go. Strings are copied by upstream_start. */
struct upstream_target {
    const char *scheme;    /* "http" (or "https") */
    const char *host;      /* name or IP literal without brackets */
    int port;              /* 1..65535 */
    const char *unix_path; /* NULL unless unix:PATH (then host is only the
                            * default Host) */
    const char *prefix;    /* "" or "/base", prepended to every path */
    uint64_t timeout_ms;   /* connect limit, and response-head limit
                            * counted while the upstream, not the
                            * caller's request body, is awaited (0: none)
                            */
};

/* One request. Everything is copied by upstream_start. */
struct upstream_req {
    const char *method;
    const char *path;      /* :path, byte-exact, origin-form (or "*") */
    const char *authority; /* sent as Host (NULL: host[:port]) */
    /* Lower-case names, no pseudo-headers, hop-by-hop fields removed by
     * the caller (any left, content-length, host and transfer-encoding
     * are dropped here); several cookie fields are joined with "; ". */
    const struct hdr_list *fields;
    int64_t content_length; /* -1 unknown: the body goes chunked */
    bool has_body;          /* false: no body at all (END_STREAM seen) */
};

struct upstream_cbs {
    /* A response head: 1xx (never 100) with final false, then the final
     * head. Fields are lower-cased, without hop-by-hop fields and the
     * fields named by Connection; content-length is kept. |fields| is
     * valid during the call only. */
    void (*on_head)(void *arg, int status, const struct hdr_list *fields,
                    bool final);
    /* Body bytes (valid during the call). Returns how many it took;
     * taking fewer than |n| pauses the response until upstream_resume
     * (the rest is offered again then, exactly once and in order). */
    size_t (*on_body)(void *arg, const uint8_t *p, size_t n);
    /* Trailer fields after the body (lower-cased, hop-by-hop removed),
     * before on_done; only when the response had some. May be NULL. */
    void (*on_trailers)(void *arg, const struct hdr_list *t);
    /* libcurl has taken |n| more request-body bytes out of the queue (so
     * the HTTP/2 window can reopen by n). May be NULL. */
    void (*on_req_consumed)(void *arg, size_t n);
    /* 0: complete. PTTH_EIO: upstream refused, unreachable or broke the
     * exchange (502 when no final head was reported, else reset).
     * PTTH_ELIMIT: connect or response-head timeout (504). |errmsg| is one
     * line naming the upstream, e.g. "upstream 127.0.0.1:3000: Connection
     * refused" (NULL on success). The object is freed after this returns.
     */
    void (*on_done)(void *arg, int rc, const char *errmsg);
};

/* Starts the request on |m| (borrowed; outlives the request). |cb| is
 * copied; |arg| is passed to every callback. Never NULL: set-up failures
 * (a field with CR/LF/NUL, an option libcurl lacks) arrive as on_done
 * with PTTH_EIO. Never calls back synchronously. */
struct upstream *upstream_start(struct curlm *m,
                                const struct upstream_target *t,
                                const struct upstream_req *r,
                                const struct upstream_cbs *cb, void *arg);
/* Queues request-body bytes (copied, at most UPSTREAM_REQ_QUEUE_MAX
 * waiting); returns how many were taken (0 after end_body, on_done or
 * cancel, or for a request without a body). Bytes past a known
 * content_length count as taken but are dropped. Never calls back. */
size_t upstream_write_body(struct upstream *u, const uint8_t *p, size_t n);
/* Marks the end of the request body. A body shorter than a known
 * content_length ends the request with PTTH_EIO. Never calls back. */
void upstream_end_body(struct upstream *u);
/* The caller can take body bytes again after on_body took fewer than
 * offered: delivery resumes from the loop. Never calls back
 * synchronously. */
void upstream_resume(struct upstream *u);
/* Abandons the request (the upstream connection is closed if the
 * exchange was unfinished). No callback runs after this call. Releases
 * everything at once, or from the loop when called inside a callback.
 * Never calls back. */
void upstream_cancel(struct upstream *u);

#endif /* PTTH_UPSTREAM_H */
