/* SPDX-License-Identifier: MIT
 * static.h - directory serving for `ptth expose DIR` (SPEC 3.4): GET and
 * HEAD of files below DIR, resolved one name at a time from an open handle
 * on DIR (never by string prefix), with validators, conditional requests,
 * single byte ranges and an optional HTML listing. Bodies are pread()
 * straight into nghttp2's frame buffer, so HTTP/2 flow control is the
 * back-pressure and memory per stream is O(1).
 *
 * static.c does the I/O and the HTTP/2 side; static_util.c holds the
 * I/O-free helpers (path normaliser, MIME table, validators, ranges) so
 * that unit tests and the fuzz target link them without libraries. */
#ifndef PTTH_STATIC_H
#define PTTH_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptth.h"

struct cfg;
struct hdr_list;
struct nghttp2_session; /* = nghttp2_session */
struct static_ctx;
struct static_req;

/* Longest normalised path (bytes, NUL included); longer requests get 404. */
#define STATIC_PATH_MAX 4096
/* Symbolic links followed while resolving one request. */
#define STATIC_MAX_LINKS 16
/* Directory levels below DIR (or below / while outside DIR). */
#define STATIC_MAX_DEPTH 64
/* Entries shown in one listing; the rest are counted, not shown. */
#define STATIC_LIST_MAX 10000
/* Room for an ETag ("size-mtime_ns-inode" in hex, quoted) and a date. */
#define STATIC_ETAG_MAX 64
#define STATIC_DATE_MAX 32

/* Opens DIR (O_DIRECTORY|O_CLOEXEC) and keeps the options of cfg (which
 * must outlive the context). NULL with a one-line reason in err when DIR
 * cannot be opened. Never logs. */
struct static_ctx *static_new(const struct cfg *cfg, char *err, size_t errlen);
/* Closes DIR. NULL is fine. Requests still open keep their own fds. */
void static_free(struct static_ctx *sc);

/* Answers one request on stream sid: submits the whole response with
 * nghttp2_submit_response (a data provider that pread()s into nghttp2's
 * buffer for files; an owned buffer for listings and error bodies).
 * Returns the per-request state, to release with static_req_free once
 * nghttp2 has closed the stream (it is the data source until then), or
 * NULL when nothing needs releasing. Logs its own refusals (info) and
 * failures (warn). Never calls back into the caller; the caller flushes. */
struct static_req *static_serve(struct static_ctx *sc,
                                struct nghttp2_session *s, int32_t sid,
                                const char *method, const char *path,
                                const struct hdr_list *fields);
/* Closes the file and frees r. NULL is fine. Call only after the stream
 * closed (or with the session being deleted). */
void static_req_free(struct static_req *r);

/* ---- I/O-free helpers (static_util.c); exported for tests and fuzzing */

/* The path normaliser: decodes the origin-form path (from '/' up to '?')
 * into a NUL-terminated relative path of '/'-separated segments in out:
 * "" for "/", "a/b" for "/a/b", "a/" for "/a/" (a trailing slash is kept).
 * Guarantees on success: no leading '/', no empty segment ("//"), no "."
 * or ".." segment, no NUL, no control byte (< 0x20, 0x7f), no backslash,
 * valid shortest-form UTF-8. Names starting with '.' are kept (dotfiles are
 * the resolver's decision). Returns 0, or PTTH_EINVAL for anything unsafe
 * or malformed: not starting with '/', a raw '#', bad or truncated %XX,
 * an encoded '/', NUL or control byte, any backslash, a dot segment
 * (encoded or not), invalid or overlong UTF-8, or output past outlen. */
int static_normalize(const char *path, char *out, size_t outlen);

/* Percent-encodes s for a URL path: every byte but A-Z a-z 0-9 - . _ ~
 * and, when keep_slash, '/'. Writes at most outlen bytes with the NUL.
 * Returns 0, or PTTH_ELIMIT when out is too small (out is then ""). */
int static_pct_encode(const char *s, bool keep_slash, char *out, size_t outlen);

/* Content-Type for a file name, from the extension (case-insensitive):
 * "; charset=utf-8" on text types; application/octet-stream otherwise.
 * Static storage. */
const char *static_mime_type(const char *name);

/* Writes the strong ETag "SIZE-MTIMENS-INODE" (hex, with the quotes).
 * Returns 0, or PTTH_ELIMIT when len < STATIC_ETAG_MAX. */
int static_etag(char *out, size_t len, uint64_t size, int64_t mtime_ns,
                uint64_t ino);
/* True when the If-Match / If-None-Match list v names etag, or is "*".
 * weak: weak comparison (W/ ignored on both sides) for If-None-Match;
 * otherwise strong (a W/ tag never matches) for If-Match and If-Range. */
bool static_etag_match(const char *v, const char *etag, bool weak);

/* Writes t (seconds since the epoch, UTC) as an IMF-fixdate, e.g.
 * "Sun, 06 Nov 1994 08:49:37 GMT". Returns 0, or PTTH_ELIMIT when
 * len < STATIC_DATE_MAX or t is outside years 1970..9999. */
int static_http_date(int64_t t, char *out, size_t len);
/* Parses an HTTP-date: IMF-fixdate, RFC 850 or asctime (RFC 9110 5.6.7).
 * Returns 0 with *t, or PTTH_EINVAL. */
int static_parse_http_date(const char *s, int64_t *t);

/* Evaluates a Range field value against a representation of size bytes.
 * Returns 0 with the single satisfiable range [*first, *last] (the end
 * clipped to size - 1); PTTH_ELIMIT when the one range is unsatisfiable
 * (answer 416); PTTH_EINVAL when the field is to be ignored (answer 200):
 * malformed, a unit other than bytes, or several ranges. */
int static_parse_range(const char *v, uint64_t size, uint64_t *first,
                       uint64_t *last);

#endif /* PTTH_STATIC_H */
