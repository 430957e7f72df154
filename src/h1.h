/* SPDX-License-Identifier: MIT
 * h1.h - strict, bounded HTTP/1.1 parser (request heads from public clients
 * and worker handshakes, the handshake response), incremental chunked
 * decoder, and helpers for writing heads. No library headers.
 *
 * Threat model: request smuggling and desync (RFC 9112 6.3, 11.2). Anything
 * two parsers could read differently is refused, often more strictly than
 * RFC 9112 requires:
 * - every line ends in CRLF; a bare LF or bare CR anywhere in a head or a
 *   chunked framing line is refused (RFC 9112 2.2 would let a recipient
 *   accept a bare LF; we do not);
 * - one empty line before a request line is skipped (RFC 9112 2.2), two are
 *   refused; none is skipped before a status line;
 * - control bytes (0x00-0x08, 0x0A-0x1F, 0x7F) outside the CRLFs are refused
 *   anywhere in a head; HTAB only inside field values and reason phrases;
 * - field names are RFC 9110 tokens glued to the colon; obs-fold refused;
 * - Content-Length is 1*DIGIT (at most 18 digits); repeats and lists are
 *   accepted only when every value is the same number;
 * - Transfer-Encoding must be exactly one "chunked" (requests and
 *   responses; no other coding, no parameters, no repeats, no empty list
 *   elements); with Content-Length, or in an HTTP/1.0 message, refused.
 *   The parser answers PTTH_EPROTO for all of these; an edge may answer
 *   400 (or 501 for an unknown coding) and must then close;
 * - HTTP/1.1 requests need exactly one Host (HTTP/1.0: at most one); the
 *   value is reg-name / IPv4 / [IPv6] with an optional 1-5 digit port; an
 *   empty Host, userinfo, ',' , '%' not followed by two hex digits, IPv6
 *   zone ids and IPvFuture are refused. For an absolute-form target the
 *   Host field is still checked; the caller routes by the target's
 *   authority (RFC 9112 3.2.2).
 * Status lines: "HTTP/1.x" SP 3DIGIT (100-599) [SP reason]; a missing
 * reason (with or without its SP) is accepted. */
#ifndef PTTH_H1_H
#define PTTH_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptth.h"

/* Most fields in one head or one trailer section (more: PTTH_ELIMIT). */
#define H1_MAX_FIELDS 100
/* Most bytes of chunk extensions on one chunk-size line (more: EPROTO). */
#define H1_MAX_CHUNK_EXT 4096

/* One field line; name and value point into the owner's private copy and
 * are NUL-terminated. The value is OWS-trimmed. */
struct h1_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A request or response head. Zero it (or h1_msg_reset) before the first
 * parse call; every pointer is owned by the struct and valid until
 * h1_msg_reset. Fields below "derived" are valid after a 0 return. */
struct h1_msg {
    char *head;         /* owned copy of the head, cut into C strings */
    const char *method; /* request only, else NULL */
    const char *target; /* request only, else NULL */
    int minor;          /* HTTP/1.<minor>: 0 or 1 */
    int status;         /* response only, else 0 */
    const char *reason; /* response only ("" when absent), else NULL */
    struct h1_field *fields;
    size_t nfields;
    /* derived: */
    int64_t content_length; /* -1 when there is no Content-Length */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* 1.1 unless "close"; 1.0 only "keep-alive" */
    bool expect_continue;   /* HTTP/1.1 request with Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade and an Upgrade field */
    const char *host;       /* request: the checked Host value or NULL;
                               response: NULL */
    size_t scan_off;        /* private: resume point */
};

/* Parses a request head in buf[0, len), incrementally: on PTTH_EAGAIN call
 * again with the same m and the same bytes plus more (buf may move). Returns
 * 0 with *head_len = bytes through the blank line (the rest of buf is body
 * or the next request), PTTH_EAGAIN, PTTH_ELIMIT (head over max_head bytes
 * or over H1_MAX_FIELDS fields: answer 431), PTTH_EPROTO (malformed: answer
 * 400), or PTTH_EINVAL (m not reset, buffer shorter than before). */
int h1_parse_request(struct h1_msg *m, const uint8_t *buf, size_t len,
                     size_t max_head, size_t *head_len);
/* Same as h1_parse_request for a response head (status line). */
int h1_parse_response(struct h1_msg *m, const uint8_t *buf, size_t len,
                      size_t max_head, size_t *head_len);
/* Frees what m owns and zeroes it, ready for the next message. */
void h1_msg_reset(struct h1_msg *m);
/* Returns the first field called name (ASCII case-insensitive) or NULL. */
const struct h1_field *h1_find(const struct h1_msg *m, const char *name);
/* True when token is an element of the comma-separated lists of all fields
 * called name (case-insensitive, OWS-trimmed elements). */
bool h1_has_token(const struct h1_msg *m, const char *name, const char *token);
/* An absolute http(s) URL (a request target in absolute-form, or the
 * edge's Ptth-Public-Url): "http://" or "https://" in any case, then a host
 * as Host allows it, with an optional port, ending at '/', '?', '#' or the
 * end of the n bytes at t. Returns true and sets *off and *len to the
 * authority; false for anything else. Checks nothing after the authority. */
bool h1_url_authority(const char *t, size_t n, size_t *off, size_t *len);
/* Returns the standard reason phrase of status, or "Unknown". Static. */
const char *h1_reason(int status);

/* Incremental chunked body decoder (RFC 9112 7.1). Zero-copy: body bytes
 * are reported as a run inside the caller's input. Trailer fields are kept
 * except framing, routing, control and connection-specific ones
 * (Content-Length, Transfer-Encoding, Host, Trailer, TE, Connection, ...,
 * RFC 9110 6.5.1), which are dropped. */
struct h1_chunked {
    int state;            /* private */
    uint64_t left;        /* private: chunk bytes still to come */
    size_t ext_len;       /* private: size digits, extension or trailer
                             line bytes seen on the current line */
    size_t trailer_bytes; /* bytes of trailer field lines so far */
    size_t max_trailer;   /* limit on trailer_bytes (PTTH_ELIMIT) */
    /* trailers kept (valid after h1_chunked_decode returned 1): */
    char *trailers; /* owned storage for tfields */
    size_t trailers_len;
    struct h1_field *tfields;
    size_t ntfields;
};

/* Prepares c for one chunked body; trailer field lines may total at most
 * max_trailer bytes (0 refuses any trailer field). Allocates nothing. */
void h1_chunked_init(struct h1_chunked *c, size_t max_trailer);
/* Consumes in[0, len). Sets *used (bytes consumed) and, when body bytes
 * came, *data_off and *data_len (one run inside in; at most one a call).
 * Returns 0 (call again with in + *used), 1 when the last chunk and the
 * trailers are complete (*used stops there: later bytes belong to the next
 * message), PTTH_EAGAIN (all consumed, need more), PTTH_EPROTO (malformed)
 * or PTTH_ELIMIT (trailers too big). Errors are sticky. Chunk sizes are
 * 1-16 hex digits below 2^63. */
int h1_chunked_decode(struct h1_chunked *c, const uint8_t *in, size_t len,
                      size_t *used, size_t *data_off, size_t *data_len);
/* Frees the trailers and zeroes c; h1_chunked_init may follow. */
void h1_chunked_free(struct h1_chunked *c);

/* Writes "<lower-case hex of n>\r\n" and a NUL; returns its length. */
size_t h1_chunk_header(char out[20], uint64_t n);
/* Returns 0 when s[0, n) is a non-empty RFC 9110 token usable as a field
 * name, else PTTH_EPROTO. */
int h1_valid_field_name(const char *s, size_t n);
/* Returns 0 when s[0, n) is a field value safe to write in a head (HTAB,
 * SP, VCHAR, obs-text; no leading or trailing SP/HTAB; may be empty), else
 * PTTH_EPROTO (CR, LF, NUL and other controls included). */
int h1_valid_field_value(const char *s, size_t n);

#endif /* PTTH_H1_H */
