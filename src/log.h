/* SPDX-License-Identifier: MIT
 * log.h - diagnostics on stderr: levels, text or JSON lines, tags,
 * header redaction. The only writer to stderr for diagnostics.
 * Single-threaded; every function keeps errno unchanged. */
#ifndef PTTH_LOG_H
#define PTTH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "ptth.h"

/* Never LOG_ERR/LOG_INFO: those clash with <syslog.h>. */
enum log_level {
    LOG_LV_ERROR,
    LOG_LV_WARN,
    LOG_LV_INFO,
    LOG_LV_DEBUG,
    LOG_LV_TRACE,
};

enum log_format {
    LOG_FMT_TEXT, /* [TS ]ptth[PID]: W tag: message */
    LOG_FMT_JSON, /* {"ts":..,"level":"warn","pid":1,"tag":..,"msg":..} */
};

/* Longest line written, newline included (= PIPE_BUF on Linux, so one
 * write() to a pipe is atomic). Longer lines end in "..." (text) or
 * "...\" and "truncated":true (JSON). */
#define LOG_LINE_MAX 4096

/* Sets level, format and timestamps (1 on, 0 off, -1 on when stderr is
 * not a TTY; RFC 3339 UTC with milliseconds). Before the first call: warn,
 * text, no timestamps. Never calls back. */
void log_init(enum log_level level, enum log_format fmt, int timestamps);
/* Redirects output (NULL = stderr); borrowed, never closed. Colour is
 * decided here: only on a TTY and only when NO_COLOR is unset or empty. */
void log_set_stream(FILE *f);
/* True when lines of level |lv| are written. */
bool log_enabled(enum log_level lv);

/* Writes one line if |lv| is enabled; |tag| (may be NULL) names the
 * object, e.g. "w3/s17". Control characters and invalid UTF-8 are escaped
 * so a peer cannot forge lines. One write() per line. */
void log_msg(enum log_level lv, const char *tag, const char *fmt, ...)
    PTTH_PRINTF(3, 4);
/* log_msg with a va_list (for library debug callbacks). */
void log_vmsg(enum log_level lv, const char *tag, const char *fmt, va_list ap)
    PTTH_PRINTF(3, 0);
/* Writes a structured line: |msg| (may be NULL) then |kv|, a NULL-ended
 * list of name, value pairs (JSON string members; text name=value, value
 * quoted when it holds a space, quote or '=' or is empty). */
void log_kv(enum log_level lv, const char *tag, const char *msg,
            const char *const *kv);

/* Arguments are evaluated only when the level is enabled. */
#define LOG_AT_(lv, tag, ...)                                                  \
    do {                                                                       \
        if (log_enabled(lv))                                                   \
            log_msg((lv), (tag), __VA_ARGS__);                                 \
    } while (0)
#define log_err(tag, ...) LOG_AT_(LOG_LV_ERROR, tag, __VA_ARGS__)
#define log_warn(tag, ...) LOG_AT_(LOG_LV_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...) LOG_AT_(LOG_LV_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...) LOG_AT_(LOG_LV_DEBUG, tag, __VA_ARGS__)
#define log_trace(tag, ...) LOG_AT_(LOG_LV_TRACE, tag, __VA_ARGS__)

/* True for header names whose values are credentials (case-insensitive):
 * authorization, proxy-authorization, cookie, set-cookie. */
bool log_is_secret_header(const char *name);
/* Returns "[redacted]" (static) for a secret header, else |value|. Use it
 * whenever a header value reaches a log line. */
const char *log_redact(const char *name, const char *value);

#endif /* PTTH_LOG_H */
