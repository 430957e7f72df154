/* SPDX-License-Identifier: MIT
 * static_util.c - the I/O-free half of directory serving: the request path
 * normaliser, percent-encoding, the MIME table, ETags, HTTP dates and Range
 * parsing. No library headers and no allocation, so the fuzz target links
 * this file alone. */
#include "config.h"

#include "static.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------ paths */

/* Strict UTF-8 (RFC 3629): shortest form, no surrogates, <= U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t k, len;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* > U+10FFFF */
        } else {
            return false; /* 0x80..0xc1 (incl. overlong c0/c1), 0xf5.. */
        }
        if (n - i < len)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += len;
    }
    return true;
}

int
static_normalize(const char *path, char *out, size_t outlen)
{
    const char *p = path;
    size_t o = 0;

    if (out == NULL || outlen == 0)
        return PTTH_EINVAL;
    if (p == NULL || *p != '/')
        goto fail;
    p++;
    for (;;) {
        size_t start = o, len;

        while (*p != '\0' && *p != '/' && *p != '?') {
            unsigned char c = (unsigned char)*p;
            if (c == '%') {
                int h = hex_digit((unsigned char)p[1]);
                int l = h >= 0 ? hex_digit((unsigned char)p[2]) : -1;
                if (l < 0)
                    goto fail; /* "%", "%4", "%g1" */
                c = (unsigned char)(h * 16 + l);
                if (c == '/')
                    goto fail; /* %2f would split a name */
                p += 3;
            } else {
                if (c == '#')
                    goto fail; /* never in a request target */
                p++;
            }
            if (c < 0x20 || c == 0x7f || c == '\\')
                goto fail; /* NUL, controls, backslashes (raw or %5c) */
            if (o + 1 >= outlen)
                goto fail;
            out[o++] = (char)c;
        }
        len = o - start;
        if (len == 0) {
            if (*p == '/')
                goto fail; /* "//": an empty segment */
            break;         /* "/" alone, or the trailing slash */
        }
        if ((len == 1 && out[start] == '.') ||
            (len == 2 && out[start] == '.' && out[start + 1] == '.'))
            goto fail; /* ".", "..", "%2e", ".%2e", "%2E%2e"... */
        if (!utf8_valid((const unsigned char *)out + start, len))
            goto fail; /* e.g. %c0%ae, an overlong '.' */
        if (*p != '/')
            break;
        if (o + 1 >= outlen)
            goto fail;
        out[o++] = '/';
        p++;
    }
    out[o] = '\0';
    return 0;
fail:
    out[0] = '\0';
    return PTTH_EINVAL;
}

int
static_pct_encode(const char *s, bool keep_slash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    if (outlen == 0)
        return PTTH_ELIMIT;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                     c == '_' || c == '~' || (keep_slash && c == '/');
        if (o + (plain ? 1 : 3) >= outlen) {
            out[0] = '\0';
            return PTTH_ELIMIT;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

/* ------------------------------------------------------------- MIME */

#define UTF8 "; charset=utf-8"

struct mime {
    const char *ext;
    const char *type;
};

/* Sorted by extension (tests/unit/static.c checks). */
static const struct mime mime_table[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css" UTF8},
    {"csv", "text/csv" UTF8},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html" UTF8},
    {"html", "text/html" UTF8},
    {"ico", "image/x-icon"},
    {"ics", "text/calendar" UTF8},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript" UTF8},
    {"json", "application/json" UTF8},
    {"jsonld", "application/ld+json" UTF8},
    {"m4a", "audio/mp4"},
    {"map", "application/json" UTF8},
    {"md", "text/markdown" UTF8},
    {"mjs", "text/javascript" UTF8},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/opus"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml" UTF8},
    {"rtf", "application/rtf"},
    {"svg", "image/svg+xml" UTF8},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "application/toml" UTF8},
    {"ttf", "font/ttf"},
    {"txt", "text/plain" UTF8},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json" UTF8},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml" UTF8},
    {"xml", "application/xml" UTF8},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml" UTF8},
    {"yml", "application/yaml" UTF8},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

static int
ext_cmp(const char *ext, const char *key)
{
    for (;; ext++, key++) {
        unsigned char a = (unsigned char)*ext, b = (unsigned char)*key;
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (a != b || a == '\0')
            return (int)a - (int)b;
    }
}

const char *
static_mime_type(const char *name)
{
    const char *base = strrchr(name, '/');
    const char *dot;
    size_t lo = 0, hi = PTTH_ARRAY_LEN(mime_table);

    base = base ? base + 1 : name;
    dot = strrchr(base, '.');
    if (dot != NULL && dot != base) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = ext_cmp(dot + 1, mime_table[mid].ext);
            if (c == 0)
                return mime_table[mid].type;
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    return "application/octet-stream";
}

/* ------------------------------------------------------- validators */

int
static_etag(char *out, size_t len, uint64_t size, int64_t mtime_ns,
            uint64_t ino)
{
    if (len < STATIC_ETAG_MAX)
        return PTTH_ELIMIT;
    snprintf(out, len, "\"%llx-%llx-%llx\"", (unsigned long long)size,
             (unsigned long long)mtime_ns, (unsigned long long)ino);
    return 0;
}

static const char *
skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool
static_etag_match(const char *v, const char *etag, bool weak)
{
    const char *p = skip_ows(v);
    size_t elen = strlen(etag);

    if (*p == '*' && *skip_ows(p + 1) == '\0')
        return true;
    for (;;) {
        bool is_weak = false;
        const char *q;

        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return false;
        if (p[0] == 'W' && p[1] == '/') {
            is_weak = true;
            p += 2;
        }
        if (*p != '"')
            return false; /* malformed: nothing further is trusted */
        q = strchr(p + 1, '"');
        if (q == NULL)
            return false;
        if ((weak || !is_weak) && (size_t)(q + 1 - p) == elen &&
            memcmp(p, etag, elen) == 0)
            return true;
        p = skip_ows(q + 1);
        if (*p != ',' && *p != '\0')
            return false;
    }
}

/* ------------------------------------------------------------ dates */

static const char *const wday_names[7] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",    "Monday",   "Tuesday",
                                         "Wednesday", "Thursday", "Friday",
                                         "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int
static_http_date(int64_t t, char *out, size_t len)
{
    int64_t days, secs, y;
    int m, d;

    /* 253402300800 = 10000-01-01T00:00:00Z */
    if (len < STATIC_DATE_MAX || t < 0 || t >= INT64_C(253402300800))
        return PTTH_ELIMIT;
    days = t / 86400;
    secs = t % 86400;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             wday_names[(days + 4) % 7], d, month_names[m - 1], (int)y,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return 0;
}

/* Reads exactly n digits. */
static bool
digits(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool
lit(const char **p, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool
month(const char **p, int *m)
{
    int i;
    for (i = 0; i < 12; i++) {
        if (strncmp(*p, month_names[i], 3) == 0) {
            *p += 3;
            *m = i + 1;
            return true;
        }
    }
    return false;
}

/* "HH:MM:SS" */
static bool
clock_time(const char **p, int *h, int *mi, int *s)
{
    return digits(p, 2, h) && lit(p, ":") && digits(p, 2, mi) && lit(p, ":") &&
           digits(p, 2, s) && *h <= 23 && *mi <= 59 && *s <= 60;
}

static bool
weekday(const char **p, const char *const *names)
{
    int i;
    for (i = 0; i < 7; i++)
        if (lit(p, names[i]))
            return true;
    return false;
}

/* IMF-fixdate after "Sun, ": 06 Nov 1994 08:49:37 GMT */
static bool
imf_fixdate(const char **q, int *y, int *m, int *d, int *h, int *mi, int *s)
{
    return digits(q, 2, d) && lit(q, " ") && month(q, m) && lit(q, " ") &&
           digits(q, 4, y) && lit(q, " ") && clock_time(q, h, mi, s) &&
           lit(q, " GMT");
}

/* RFC 850 after "Sunday, ": 06-Nov-94 08:49:37 GMT */
static bool
rfc850_date(const char **q, int *y, int *m, int *d, int *h, int *mi, int *s)
{
    if (!(digits(q, 2, d) && lit(q, "-") && month(q, m) && lit(q, "-") &&
          digits(q, 2, y) && lit(q, " ") && clock_time(q, h, mi, s) &&
          lit(q, " GMT")))
        return false;
    *y += *y < 70 ? 2000 : 1900;
    return true;
}

/* asctime after "Sun ": Nov  6 08:49:37 1994 */
static bool
asctime_date(const char **q, int *y, int *m, int *d, int *h, int *mi, int *s)
{
    if (!month(q, m) || !lit(q, " "))
        return false;
    if (**q == ' ') {
        (*q)++;
        if (!digits(q, 1, d))
            return false;
    } else if (!digits(q, 2, d)) {
        return false;
    }
    return lit(q, " ") && clock_time(q, h, mi, s) && lit(q, " ") &&
           digits(q, 4, y);
}

int
static_parse_http_date(const char *s, int64_t *t)
{
    const char *p = skip_ows(s), *q;
    int y = 0, m = 0, d = 0, h = 0, mi = 0, sec = 0, mdays;
    bool okay;

    q = p;
    okay = weekday(&q, wday_names) && lit(&q, ", ") &&
           imf_fixdate(&q, &y, &m, &d, &h, &mi, &sec);
    if (!okay) {
        q = p;
        okay = weekday(&q, wday_long) && lit(&q, ", ") &&
               rfc850_date(&q, &y, &m, &d, &h, &mi, &sec);
    }
    if (!okay) {
        q = p;
        okay = weekday(&q, wday_names) && lit(&q, " ") &&
               asctime_date(&q, &y, &m, &d, &h, &mi, &sec);
    }
    if (!okay || *skip_ows(q) != '\0')
        return PTTH_EINVAL;
    mdays = m == 2 ? ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28)
            : (m == 4 || m == 6 || m == 9 || m == 11) ? 30
                                                      : 31;
    if (d < 1 || d > mdays)
        return PTTH_EINVAL;
    *t = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

/* ----------------------------------------------------------- ranges */

/* Reads 1*DIGIT, saturating at UINT64_MAX. */
static bool
number(const char **p, uint64_t *v)
{
    const char *q = *p;
    uint64_t n = 0;

    if (*q < '0' || *q > '9')
        return false;
    for (; *q >= '0' && *q <= '9'; q++) {
        unsigned dgt = (unsigned)(*q - '0');
        n = n > (UINT64_MAX - dgt) / 10 ? UINT64_MAX : n * 10 + dgt;
    }
    *p = q;
    *v = n;
    return true;
}

int
static_parse_range(const char *v, uint64_t size, uint64_t *first,
                   uint64_t *last)
{
    const char *p = v;
    uint64_t a = 0, b = 0;
    bool suffix = false, open = false;
    int count = 0;

    if (!str_nieq(p, "bytes=", 6))
        return PTTH_EINVAL;
    p += 6;
    for (;;) {
        uint64_t x = 0, y = 0;
        bool sfx = false, opn = false;

        while (*p == ',' || *p == ' ' || *p == '\t')
            p++; /* empty list elements are allowed (RFC 9110 5.6.1) */
        if (*p == '\0')
            break;
        if (*p == '-') {
            p++;
            if (!number(&p, &y))
                return PTTH_EINVAL;
            sfx = true;
        } else {
            if (!number(&p, &x) || *p++ != '-')
                return PTTH_EINVAL;
            if (*p >= '0' && *p <= '9') {
                if (!number(&p, &y) || y < x)
                    return PTTH_EINVAL;
            } else {
                opn = true;
            }
        }
        p = skip_ows(p);
        if (*p != ',' && *p != '\0')
            return PTTH_EINVAL;
        if (++count > 1)
            return PTTH_EINVAL; /* several ranges: served whole */
        a = x;
        b = y;
        suffix = sfx;
        open = opn;
    }
    if (count == 0)
        return PTTH_EINVAL;
    if (suffix) {
        if (b == 0 || size == 0)
            return PTTH_ELIMIT;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (a >= size)
        return PTTH_ELIMIT;
    *first = a;
    *last = open || b >= size ? size - 1 : b;
    return 0;
}
