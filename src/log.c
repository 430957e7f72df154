/* SPDX-License-Identifier: MIT
 * log.c - line formatting (text/JSON), escaping, one write() per line. */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static enum log_level cur_level = LOG_LV_WARN;
static enum log_format cur_fmt = LOG_FMT_TEXT;
static bool with_ts;
static bool use_colour;
static FILE *out_stream; /* borrowed; NULL = stderr */

static const char level_letter[] = "EWIDT";
static const char *const level_name[] = {"error", "warn", "info", "debug",
                                         "trace"};
static const char *const level_colour[] = {"\033[1;31m", "\033[1;33m",
                                           "\033[32m", "\033[36m", "\033[2m"};
#define COLOUR_RESET "\033[0m"

/* What a truncated line ends with; room for it is reserved up front. */
#define TEXT_TRUNC "..."
#define JSON_TRUNC_STR "...\""
#define JSON_TRUNC_MEMBER ",\"truncated\":true"

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    size_t cap;    /* content limit: LOG_LINE_MAX minus the reserve */
    bool trunc;    /* something did not fit; nothing more is added */
    bool in_str;   /* JSON: a string value is open */
    int nmembers;  /* JSON: members written so far */
    bool need_sep; /* text: a space goes before the next kv item */
};

static FILE *
stream(void)
{
    return out_stream != NULL ? out_stream : stderr;
}

static void
update_colour(void)
{
    const char *nc = getenv("NO_COLOR");
    int fd = fileno(stream());

    use_colour = fd >= 0 && isatty(fd) && (nc == NULL || nc[0] == '\0');
}

void
log_init(enum log_level level, enum log_format fmt, int timestamps)
{
    int saved = errno;

    cur_level = level > LOG_LV_TRACE ? LOG_LV_TRACE : level;
    cur_fmt = fmt;
    if (timestamps < 0)
        with_ts = !isatty(STDERR_FILENO);
    else
        with_ts = timestamps != 0;
    update_colour();
    errno = saved;
}

void
log_set_stream(FILE *f)
{
    int saved = errno;

    out_stream = f;
    update_colour();
    errno = saved;
}

bool
log_enabled(enum log_level lv)
{
    return lv <= cur_level;
}

/* ---- line building ---- */

/* Appends |n| bytes whole, or marks the line truncated and adds nothing. */
static bool
put(struct line *ln, const char *s, size_t n)
{
    if (ln->trunc)
        return false;
    if (n > ln->cap - ln->len) {
        ln->trunc = true;
        return false;
    }
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
    return true;
}

static bool
put_str(struct line *ln, const char *s)
{
    return put(ln, s, strlen(s));
}

/* Appends into the reserve (closing text); never exceeds LOG_LINE_MAX. */
static void
put_reserved(struct line *ln, const char *s)
{
    size_t n = strlen(s);

    if (n > LOG_LINE_MAX - ln->len)
        n = LOG_LINE_MAX - ln->len; /* cannot happen: reserve sized */
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when p[0]
 * does not start one (overlong, surrogate, > U+10FFFF, cut short). */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c == 0xe0) {
        len = 3;
        lo = 0xa0;
    } else if (c == 0xed) {
        len = 3;
        hi = 0x9f;
    } else if (c >= 0xe1 && c <= 0xef) {
        len = 3;
    } else if (c == 0xf0) {
        len = 4;
        lo = 0x90;
    } else if (c >= 0xf1 && c <= 0xf3) {
        len = 4;
    } else if (c == 0xf4) {
        len = 4;
        hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return len;
}

enum esc_mode {
    ESC_TEXT,   /* controls as \n \r \t \xHH, bad UTF-8 as \xHH */
    ESC_QUOTED, /* ESC_TEXT plus \" and \\ (inside "...") */
    ESC_JSON,   /* \" \\ \u00XX, bad UTF-8 as \ufffd */
};

/* Appends |n| bytes escaped for |mode|, one character at a time so an
 * escape or UTF-8 sequence is never split by truncation. */
static bool
put_escaped(struct line *ln, const char *s, size_t n, enum esc_mode mode)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;

    while (i < n) {
        char tmp[8];
        const char *u = tmp;
        size_t k = utf8_seq(p + i, n - i);
        uint8_t c = p[i];

        if (k == 0) {
            k = 1;
            if (mode == ESC_JSON)
                u = "\\ufffd";
            else
                snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        } else if (k == 1 && (c < 0x20 || c == 0x7f)) {
            if (mode == ESC_JSON)
                snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            else if (c == '\n')
                u = "\\n";
            else if (c == '\r')
                u = "\\r";
            else if (c == '\t')
                u = "\\t";
            else
                snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        } else if (k == 1 && (c == '"' || c == '\\') && mode != ESC_TEXT) {
            u = c == '"' ? "\\\"" : "\\\\";
        } else if (k == 2 && c == 0xc2 && p[i + 1] < 0xa0) {
            /* C1 controls (U+0080..U+009F) act as CSI etc. on terminals */
            snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)p[i + 1]);
        } else {
            u = NULL; /* copy the character as it is */
        }
        if (u != NULL ? !put_str(ln, u) : !put(ln, s + i, k))
            return false;
        i += k;
    }
    return true;
}

static void
put_timestamp(struct line *ln)
{
    struct timespec ts;
    struct tm tm;
    char tmp[64];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000));
    put_str(ln, tmp);
}

/* Text: value quoted when it would be ambiguous after "name=". */
static bool
needs_quotes(const char *v)
{
    return v[0] == '\0' || strpbrk(v, " \"=") != NULL;
}

static void
build_text(struct line *ln, enum log_level lv, const char *tag, const char *msg,
           size_t mlen, bool msg_trunc, const char *const *kv)
{
    char tmp[32];

    ln->cap = LOG_LINE_MAX - (sizeof(TEXT_TRUNC) - 1) - 1;
    if (with_ts) {
        put_timestamp(ln);
        put(ln, " ", 1);
    }
    snprintf(tmp, sizeof(tmp), "ptth[%ld]: ", (long)getpid());
    put_str(ln, tmp);
    if (use_colour)
        put_str(ln, level_colour[lv]);
    put(ln, &level_letter[lv], 1);
    if (use_colour)
        put_str(ln, COLOUR_RESET);
    put(ln, " ", 1);
    if (tag != NULL && tag[0] != '\0') {
        put_escaped(ln, tag, strlen(tag), ESC_TEXT);
        put(ln, ": ", 2);
    }
    if (msg != NULL) {
        put_escaped(ln, msg, mlen, ESC_TEXT);
        if (msg_trunc)
            ln->trunc = true;
        ln->need_sep = true;
    }
    for (; kv != NULL && kv[0] != NULL && kv[1] != NULL; kv += 2) {
        size_t save = ln->len;
        bool quote = needs_quotes(kv[1]);

        if (ln->need_sep)
            put(ln, " ", 1);
        put_escaped(ln, kv[0], strlen(kv[0]), ESC_TEXT);
        put(ln, quote ? "=\"" : "=", quote ? 2 : 1);
        if (ln->trunc) {
            ln->len = save; /* no dangling "name=" */
            break;
        }
        put_escaped(ln, kv[1], strlen(kv[1]), quote ? ESC_QUOTED : ESC_TEXT);
        if (quote)
            put(ln, "\"", 1);
        ln->need_sep = true;
    }
    if (ln->trunc)
        put_reserved(ln, TEXT_TRUNC);
    put_reserved(ln, "\n");
}

/* Adds "name":"value" (value escaped); a member whose name does not fit
 * is dropped whole, a value that does not fit is cut. */
static void
json_member(struct line *ln, const char *name, const char *val, size_t vlen)
{
    size_t save = ln->len;

    if (ln->nmembers > 0)
        put(ln, ",", 1);
    put(ln, "\"", 1);
    put_escaped(ln, name, strlen(name), ESC_JSON);
    put(ln, "\":\"", 3);
    if (ln->trunc) {
        ln->len = save;
        return;
    }
    ln->nmembers++;
    ln->in_str = true;
    if (put_escaped(ln, val, vlen, ESC_JSON) && put(ln, "\"", 1))
        ln->in_str = false;
}

static void
build_json(struct line *ln, enum log_level lv, const char *tag, const char *msg,
           size_t mlen, bool msg_trunc, const char *const *kv)
{
    char tmp[64];

    ln->cap = LOG_LINE_MAX - (sizeof(JSON_TRUNC_STR) - 1) -
              (sizeof(JSON_TRUNC_MEMBER) - 1) - 2;
    put(ln, "{", 1);
    if (with_ts) {
        put_str(ln, "\"ts\":\"");
        put_timestamp(ln);
        put(ln, "\"", 1);
        ln->nmembers++;
    }
    if (ln->nmembers > 0)
        put(ln, ",", 1);
    snprintf(tmp, sizeof(tmp), "\"level\":\"%s\",\"pid\":%ld", level_name[lv],
             (long)getpid());
    put_str(ln, tmp);
    ln->nmembers += 2;
    if (tag != NULL && tag[0] != '\0')
        json_member(ln, "tag", tag, strlen(tag));
    if (msg != NULL) {
        json_member(ln, "msg", msg, mlen);
        if (msg_trunc)
            ln->trunc = true;
    }
    for (; kv != NULL && kv[0] != NULL && kv[1] != NULL; kv += 2)
        json_member(ln, kv[0], kv[1], strlen(kv[1]));
    if (ln->trunc) {
        if (ln->in_str)
            put_reserved(ln, JSON_TRUNC_STR);
        put_reserved(ln, JSON_TRUNC_MEMBER);
    }
    put_reserved(ln, "}\n");
}

static void
write_line(const char *p, size_t n)
{
    FILE *f = stream();
    int fd = fileno(f);

    if (fd < 0) { /* e.g. open_memstream in tests */
        fwrite(p, 1, n, f);
        fflush(f);
        return;
    }
    fflush(f);
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void
emit(enum log_level lv, const char *tag, const char *msg, size_t mlen,
     bool msg_trunc, const char *const *kv)
{
    struct line ln;

    ln.len = 0;
    ln.trunc = false;
    ln.in_str = false;
    ln.nmembers = 0;
    ln.need_sep = false;
    if (lv > LOG_LV_TRACE)
        lv = LOG_LV_TRACE;
    if (cur_fmt == LOG_FMT_JSON) {
        build_json(&ln, lv, tag, msg, mlen, msg_trunc, kv);
    } else {
        build_text(&ln, lv, tag, msg, mlen, msg_trunc, kv);
    }
    write_line(ln.buf, ln.len);
}

void
log_vmsg(enum log_level lv, const char *tag, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    int saved = errno, n;
    size_t mlen;
    bool cut = false;

    if (!log_enabled(lv))
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0) {
        ptth_strlcpy(msg, "(bad log format)", sizeof(msg));
        mlen = strlen(msg);
    } else if ((size_t)n >= sizeof(msg)) {
        mlen = sizeof(msg) - 1;
        cut = true;
    } else {
        mlen = (size_t)n;
    }
    emit(lv, tag, msg, mlen, cut, NULL);
    errno = saved;
}

void
log_msg(enum log_level lv, const char *tag, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(lv, tag, fmt, ap);
    va_end(ap);
}

void
log_kv(enum log_level lv, const char *tag, const char *msg,
       const char *const *kv)
{
    int saved = errno;

    if (!log_enabled(lv))
        return;
    emit(lv, tag, msg, msg != NULL ? strlen(msg) : 0, false, kv);
    errno = saved;
}

/* ---- secrets ---- */

bool
log_is_secret_header(const char *name)
{
    static const char *const secret[] = {"authorization", "proxy-authorization",
                                         "cookie", "set-cookie"};
    size_t i;

    if (name == NULL)
        return false;
    for (i = 0; i < PTTH_ARRAY_LEN(secret); i++) {
        if (str_ieq(name, secret[i]))
            return true;
    }
    return false;
}

const char *
log_redact(const char *name, const char *value)
{
    return log_is_secret_header(name) ? "[redacted]" : value;
}
