/* SPDX-License-Identifier: MIT
 * util.c - allocation, strings, numbers, clock. */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void PTTH_NORETURN
oom(void)
{
    static const char msg[] = "ptth: out of memory\n";
    fwrite(msg, 1, sizeof(msg) - 1, stderr);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom();
    return q;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
xconcat(const char *const *parts)
{
    size_t len = 0, i, n;
    char *out, *p;

    for (i = 0; parts[i] != NULL; i++)
        len += strlen(parts[i]);
    out = p = xmalloc(len + 1);
    for (i = 0; parts[i] != NULL; i++) {
        n = strlen(parts[i]);
        memcpy(p, parts[i], n);
        p += n;
    }
    *p = '\0';
    return out;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t
ptth_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

void
ptth_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

int
parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
        return PTTH_EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return PTTH_EINVAL;
    *out = v;
    return 0;
}

int
parse_port(const char *s, int *out)
{
    long v;
    if (parse_long(s, 0, 65535, &v) != 0 || s[0] == '-')
        return PTTH_EINVAL;
    *out = (int)v;
    return 0;
}

int
parse_duration_ms(const char *s, uint64_t *out_ms)
{
    uint64_t whole = 0, frac = 0, scale = 1, mult = 1000;
    const char *p = s;
    int digits = 0;

    if (s == NULL)
        return PTTH_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > UINT64_C(1000000000))
            return PTTH_EINVAL;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (scale < 1000000) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
    }
    if (digits == 0)
        return PTTH_EINVAL;
    if (strcmp(p, "ms") == 0)
        mult = 1;
    else if (strcmp(p, "s") == 0 || *p == '\0')
        mult = 1000;
    else if (strcmp(p, "m") == 0)
        mult = 60000;
    else if (strcmp(p, "h") == 0)
        mult = 3600000;
    else
        return PTTH_EINVAL;
    *out_ms = whole * mult + frac * mult / scale;
    return 0;
}

bool
is_dns_label(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 63)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i < n - 1))
            return false;
    }
    return true;
}

char
ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

int
hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool
str_nieq(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
        if (a[i] == '\0')
            return true;
    }
    return true;
}

bool
str_ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
    }
    return *a == *b;
}

uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *
ptth_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case PTTH_EAGAIN:
        return "would block";
    case PTTH_ECLOSED:
        return "connection closed";
    case PTTH_EIO:
        return "I/O error";
    case PTTH_ETLS:
        return "TLS error";
    case PTTH_EPROTO:
        return "protocol error";
    case PTTH_ELIMIT:
        return "limit exceeded";
    case PTTH_EINVAL:
        return "invalid argument";
    case PTTH_EAUTH:
        return "not authorised";
    case PTTH_ENOENT:
        return "not found";
    default:
        return "unknown error";
    }
}
