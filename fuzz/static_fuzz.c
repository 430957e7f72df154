/* SPDX-License-Identifier: MIT
 * static_fuzz.c - libFuzzer target for the path normaliser of directory
 * serving (static_normalize), plus the Range, date and ETag parsers on the
 * same bytes. The input is a request path (a NUL ends it early). On
 * success the output must keep every promise of static.h:
 *   - no leading '/', no empty segment ("//"), no "." or ".." segment,
 *     no NUL, control byte or backslash, valid shortest-form UTF-8
 *     (checked here by an independent decoder);
 *   - a trailing '/' exactly when the path (before '?') has one;
 *   - the query never matters, and the result fits outlen exactly;
 *   - idempotent: percent-encoding the output and normalising "/" + that
 *     gives the output back.
 * Segments starting with '.' (dotfiles) may appear: refusing them is the
 * resolver's job (--dotfiles).
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I<cfg> -Isrc
 *        fuzz/static_fuzz.c src/static_util.c src/util.c */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "static.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Independent UTF-8 check: decode each sequence and reject overlongs,
 * surrogates and values past U+10FFFF. */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        size_t len, k;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) {
            len = 2;
            cp = s[i] & 0x1f;
        } else if ((s[i] & 0xf0) == 0xe0) {
            len = 3;
            cp = s[i] & 0x0f;
        } else if ((s[i] & 0xf8) == 0xf0) {
            len = 4;
            cp = s[i] & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static void
check_output(const char *in, const char *out)
{
    size_t len = strlen(out), plen = strcspn(in, "?");
    const char *seg = out;
    char *enc, *path, *again;

    CHECK(len < STATIC_PATH_MAX);
    CHECK(out[0] != '/');
    CHECK(strstr(out, "//") == NULL);
    CHECK(strchr(out, '\\') == NULL);
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    CHECK(utf8_ok((const unsigned char *)out, len));
    /* a trailing slash exactly when asked for (not for "/" itself) */
    CHECK((len > 0 && out[len - 1] == '/') ==
          (plen > 1 && in[plen - 1] == '/'));
    while (*seg != '\0') {
        size_t n = strcspn(seg, "/");
        CHECK(n > 0);
        CHECK(!(n == 1 && seg[0] == '.'));
        CHECK(!(n == 2 && seg[0] == '.' && seg[1] == '.'));
        seg += n;
        if (*seg == '/')
            seg++;
    }

    /* The result fits exactly len + 1 bytes and not one fewer. */
    again = xmalloc(len + 1);
    CHECK(static_normalize(in, again, len + 1) == 0);
    CHECK(strcmp(again, out) == 0);
    CHECK(static_normalize(in, again, len) == PTTH_EINVAL);
    free(again);

    /* Idempotent through percent-encoding; the query never matters. */
    enc = xmalloc(3 * len + 1);
    CHECK(static_pct_encode(out, true, enc, 3 * len + 1) == 0);
    path = xasprintf("/%s?/../..", enc);
    again = xmalloc(STATIC_PATH_MAX);
    CHECK(static_normalize(path, again, STATIC_PATH_MAX) == 0);
    CHECK(strcmp(again, out) == 0);
    free(again);
    free(path);
    free(enc);
}

static void
fuzz_others(const char *in)
{
    uint64_t first = 0, last = 0, size = strlen(in) * 977u;
    int64_t t = 0;
    char etag[STATIC_ETAG_MAX], date[STATIC_DATE_MAX];
    int rc;

    rc = static_parse_range(in, size, &first, &last);
    CHECK(rc == 0 || rc == PTTH_EINVAL || rc == PTTH_ELIMIT);
    if (rc == 0)
        CHECK(first <= last && last < size);
    if (static_parse_http_date(in, &t) == 0 && t >= 0 &&
        static_http_date(t, date, sizeof(date)) == 0) {
        int64_t back = -1;
        CHECK(static_parse_http_date(date, &back) == 0 && back == t);
    }
    CHECK(static_etag(etag, sizeof(etag), size, (int64_t)size, 1) == 0);
    (void)static_etag_match(in, etag, true);
    (void)static_etag_match(in, etag, false);
    (void)static_mime_type(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = xmalloc(size + 1), *out = xmalloc(STATIC_PATH_MAX);
    int rc;

    memcpy(in, data, size);
    in[size] = '\0';
    rc = static_normalize(in, out, STATIC_PATH_MAX);
    CHECK(rc == 0 || rc == PTTH_EINVAL);
    if (rc == 0)
        check_output(in, out);
    else
        CHECK(out[0] == '\0');
    fuzz_others(in);
    free(out);
    free(in);
    return 0;
}
