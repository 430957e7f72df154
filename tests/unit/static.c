/* SPDX-License-Identifier: MIT
 * Unit tests for static_util.c (path normaliser over a traversal corpus,
 * percent-encoding, MIME table, ETags, HTTP dates, Range) and for the
 * resolver in static.c (both included, to reach their statics) on a tree:
 * links in and out of DIR, link loops, FIFOs, devices, dotfiles. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/tap.h"
#include "../../src/static.c"
#include "../../src/static_util.c"
#include "cfg.h"

static void
norm_bad(const char *in)
{
    char out[256];
    int rc = static_normalize(in, out, sizeof(out));
    ok(rc == PTTH_EINVAL && out[0] == '\0', "refused: \"%s\"", in);
}

static void
norm_good(const char *in, const char *want)
{
    char out[256];
    int rc = static_normalize(in, out, sizeof(out));
    ok(rc == 0 && strcmp(out, want) == 0, "\"%s\" -> \"%s\"", in, want);
    if (rc != 0 || strcmp(out, want) != 0)
        diag("  rc %d, got \"%s\"", rc, out);
}

static void
test_normalize(void)
{
    static const char *const bad[] = {
        /* not origin-form */
        "", "a", "*", "..",
        /* dot segments, raw and percent-encoded */
        "/..", "/../x", "/a/..", "/a/../b", "/.", "/./x", "/a/./b", "/%2e",
        "/%2e%2e", "/%2E%2e/", "/.%2e", "/%2e.", "/%2E%2E/%2E%2E/etc/passwd",
        /* encoded slashes and backslashes, raw backslashes */
        "/..%2f", "/%2f", "/a%2fb", "/a%2Fb", "/%2f%2e%2e", "/%5c", "/a%5cb",
        "/..%5c..%5csecret", "/a\\b", "/\\..\\x",
        /* NUL and other control bytes */
        "/%00", "/a%00b", "/a%00.html", "/%01", "/%1f", "/%7f", "/%0a",
        "/%0d%0a", "/\x01", "/\x7f", "/a\tb",
        /* malformed percent-encoding */
        "/%", "/%4", "/a%", "/%g1", "/%1g", "/%%32%65",
        /* invalid UTF-8: overlong dots and slashes, surrogates, stray */
        "/%c0%ae", "/%c0%ae%c0%ae/x", "/%c0%af", "/%e0%80%ae", "/%ed%a0%80",
        "/%f4%90%80%80", "/%ff", "/%80", "/%c3", "/%c3%28", "/\xc0\xae",
        /* empty segments, fragments */
        "//x", "//", "/a//b", "/a/b//", "/x#y"};
    char out[8];
    size_t i;

    for (i = 0; i < PTTH_ARRAY_LEN(bad); i++)
        norm_bad(bad[i]);
    norm_good("/", "");
    norm_good("/?x=1", "");
    norm_good("/a", "a");
    norm_good("/a/", "a/");
    norm_good("/a/b.txt?x=/../..", "a/b.txt");
    norm_good("/%41%62", "Ab");
    norm_good("/a%20b", "a b");
    norm_good("/%C3%A9.txt", "\xc3\xa9.txt");
    norm_good("/\xc3\xa9", "\xc3\xa9");
    norm_good("/.git/config", ".git/config");
    norm_good("/.env", ".env");
    norm_good("/...", "...");
    norm_good("/a..b/..c", "a..b/..c");
    norm_good("/%3f%23", "?#");
    norm_good("/%25", "%");
    norm_good("/%F0%9F%98%80", "\xf0\x9f\x98\x80");
    is_int(static_normalize("/abcdefg", out, 7), PTTH_EINVAL,
           "output past outlen refused");
    is_int(static_normalize("/abcdef", out, 7), 0, "output fits exactly");
    is_int(static_normalize("/abc/", out, 4), PTTH_EINVAL,
           "trailing slash counts against outlen");
}

static void
test_encode(void)
{
    char out[64], back[64], path[70];

    is_int(static_pct_encode("a b/<é>.txt", false, out, sizeof(out)), 0,
           "pct_encode");
    is_str(out, "a%20b%2F%3C%C3%A9%3E.txt", "pct_encode escapes all else");
    is_int(static_pct_encode("a/b c", true, out, sizeof(out)), 0,
           "pct_encode keep_slash");
    is_str(out, "a/b%20c", "keep_slash keeps '/'");
    is_int(static_pct_encode("abc", false, out, 3), PTTH_ELIMIT,
           "pct_encode: too small");
    is_str(out, "", "pct_encode: empty on failure");
    static_pct_encode("q?#%\"'&", false, out, sizeof(out));
    snprintf(path, sizeof(path), "/%s", out);
    is_int(static_normalize(path, back, sizeof(back)), 0,
           "encoded name normalises");
    is_str(back, "q?#%\"'&", "encode then normalise: round trip");
}

static void
test_mime(void)
{
    static const char *const want[][2] = {
        {"index.html", "text/html; charset=utf-8"},
        {"INDEX.HTM", "text/html; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.js", "text/javascript; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},
        {"a.json", "application/json; charset=utf-8"},
        {"a.svg", "image/svg+xml; charset=utf-8"},
        {"a.png", "image/png"},
        {"a.JPG", "image/jpeg"},
        {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"a.avif", "image/avif"},
        {"favicon.ico", "image/x-icon"},
        {"a.wasm", "application/wasm"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"README.md", "text/markdown; charset=utf-8"},
        {"a.pdf", "application/pdf"},
        {"a.zip", "application/zip"},
        {"a.tar", "application/x-tar"},
        {"a.tar.gz", "application/gzip"},
        {"a.mp4", "video/mp4"},
        {"a.webm", "video/webm"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"dir/a.xml", "application/xml; charset=utf-8"},
        {"a.unknown", "application/octet-stream"},
        {"Makefile", "application/octet-stream"},
        {".bashrc", "application/octet-stream"},
        {"a.", "application/octet-stream"},
        {"x.html/file", "application/octet-stream"},
    };
    size_t i;
    bool sorted = true;

    for (i = 1; i < PTTH_ARRAY_LEN(mime_table); i++)
        if (strcmp(mime_table[i - 1].ext, mime_table[i].ext) >= 0)
            sorted = false;
    ok(sorted, "MIME table sorted by extension");
    for (i = 0; i < PTTH_ARRAY_LEN(want); i++)
        is_str(static_mime_type(want[i][0]), want[i][1], want[i][0]);
}

static void
test_etag(void)
{
    char e[STATIC_ETAG_MAX];

    is_int(static_etag(e, sizeof(e), 4096, 1700000000123456789LL, 42), 0,
           "etag");
    is_str(e, "\"1000-17979cfe3d85cd15-2a\"", "etag: size-mtime_ns-ino hex");
    is_int(static_etag(e, 10, 1, 1, 1), PTTH_ELIMIT, "etag: short buffer");
    static_etag(e, sizeof(e), 1, 2, 3);
    ok(static_etag_match("\"1-2-3\"", e, false), "strong match");
    ok(static_etag_match(" \"x\", \"1-2-3\" ", e, false), "match in a list");
    ok(static_etag_match("W/\"1-2-3\"", e, true), "weak comparison: W/");
    ok(!static_etag_match("W/\"1-2-3\"", e, false), "strong: W/ never");
    ok(static_etag_match("*", e, false), "*");
    ok(!static_etag_match("\"1-2-4\"", e, true), "different tag");
    ok(!static_etag_match("1-2-3", e, true), "unquoted: malformed");
    ok(!static_etag_match("\"1-2-3", e, true), "unterminated: malformed");
    ok(!static_etag_match("\"x\" junk, \"1-2-3\"", e, true),
       "garbage ends the list");
    ok(!static_etag_match("", e, true), "empty");
}

static void
test_dates(void)
{
    char d[STATIC_DATE_MAX];
    int64_t t = 0, k;
    bool round = true;

    is_int(static_http_date(784111777, d, sizeof(d)), 0, "format a date");
    is_str(d, "Sun, 06 Nov 1994 08:49:37 GMT", "IMF-fixdate");
    static_http_date(0, d, sizeof(d));
    is_str(d, "Thu, 01 Jan 1970 00:00:00 GMT", "the epoch");
    static_http_date(951782400, d, sizeof(d));
    is_str(d, "Tue, 29 Feb 2000 00:00:00 GMT", "a leap day");
    is_int(static_http_date(-1, d, sizeof(d)), PTTH_ELIMIT, "before 1970");
    is_int(static_http_date(1, d, 10), PTTH_ELIMIT, "short buffer");
    is_int(static_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0,
           "parse IMF-fixdate");
    is_int(t, 784111777, "IMF-fixdate value");
    t = 0;
    is_int(static_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0,
           "parse RFC 850");
    is_int(t, 784111777, "RFC 850 value");
    t = 0;
    is_int(static_parse_http_date("Sun Nov  6 08:49:37 1994", &t), 0,
           "parse asctime");
    is_int(t, 784111777, "asctime value");
    is_int(static_parse_http_date("Sun Nov 16 08:49:37 1994", &t), 0,
           "asctime, two-digit day");
    is_int(static_parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT", &t), 0,
           "29 Feb in a leap year");
    is_int(static_parse_http_date("Sat, 29 Feb 1900 00:00:00 GMT", &t),
           PTTH_EINVAL, "29 Feb 1900 refused");
    is_int(static_parse_http_date("Sun, 31 Apr 1994 08:49:37 GMT", &t),
           PTTH_EINVAL, "31 April refused");
    is_int(static_parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT", &t),
           PTTH_EINVAL, "hour 24 refused");
    is_int(static_parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &t),
           PTTH_EINVAL, "not GMT");
    is_int(static_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMTx", &t),
           PTTH_EINVAL, "trailing junk");
    is_int(static_parse_http_date("yesterday", &t), PTTH_EINVAL, "garbage");
    is_int(static_parse_http_date("", &t), PTTH_EINVAL, "empty");
    for (k = 0; k < INT64_C(253402300800); k += INT64_C(86400 * 97 + 3607)) {
        int64_t back = -1;
        static_http_date(k, d, sizeof(d));
        if (static_parse_http_date(d, &back) != 0 || back != k) {
            diag("  round trip failed at %lld: %s", (long long)k, d);
            round = false;
            break;
        }
    }
    ok(round, "format then parse: round trip 1970..9999");
}

static void
range_is(const char *v, uint64_t size, int want_rc, uint64_t wa, uint64_t wb)
{
    uint64_t a = 77, b = 77;
    int rc = static_parse_range(v, size, &a, &b);
    bool pass = rc == want_rc && (rc != 0 || (a == wa && b == wb));

    ok(pass, "Range \"%s\" on %llu bytes", v, (unsigned long long)size);
    if (!pass)
        diag("  rc %d, %llu-%llu", rc, (unsigned long long)a,
             (unsigned long long)b);
}

static void
test_ranges(void)
{
    range_is("bytes=0-499", 1000, 0, 0, 499);
    range_is("bytes=500-", 1000, 0, 500, 999);
    range_is("bytes=-200", 1000, 0, 800, 999);
    range_is("bytes=-2000", 1000, 0, 0, 999);
    range_is("bytes=0-99999", 1000, 0, 0, 999);
    range_is("bytes=999-999", 1000, 0, 999, 999);
    range_is("BYTES=0-0", 1000, 0, 0, 0);
    range_is("bytes= 1-2 ", 1000, 0, 1, 2);
    range_is("bytes=1-2,", 1000, 0, 1, 2);
    range_is("bytes=1000-", 1000, PTTH_ELIMIT, 0, 0);
    range_is("bytes=1000-2000", 1000, PTTH_ELIMIT, 0, 0);
    range_is("bytes=-0", 1000, PTTH_ELIMIT, 0, 0);
    range_is("bytes=99999999999999999999999-", 1000, PTTH_ELIMIT, 0, 0);
    range_is("bytes=0-", 0, PTTH_ELIMIT, 0, 0);
    range_is("bytes=-5", 0, PTTH_ELIMIT, 0, 0);
    range_is("bytes=0-1,5-6", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=5-1", 1000, PTTH_EINVAL, 0, 0);
    range_is("items=0-1", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=a-b", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=1", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=-", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=1-2x", 1000, PTTH_EINVAL, 0, 0);
    range_is("bytes=--1", 1000, PTTH_EINVAL, 0, 0);
}

/* ------------------------------------------------------------ resolver */

static char top[256];

static void
mk(const char *rel, const char *content)
{
    char p[512];
    FILE *f;
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    f = fopen(p, "w");
    if (f != NULL) {
        fputs(content, f);
        fclose(f);
    }
}

static void
mkd(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    mkdir(p, 0755);
}

static void
ln(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    if (symlink(target, p) != 0)
        diag("symlink %s: failed", p);
}

/* Resolves rel; returns the status, and for files the first bytes. */
static int
res(struct static_ctx *sc, const char *rel, char *got, size_t gotlen)
{
    struct stat st;
    enum walk_kind kind;
    const char *why;
    int fd, status = resolve(sc, rel, &fd, &st, &kind, &why);

    got[0] = '\0';
    if (status != 0)
        return status;
    if (kind == WALK_FILE) {
        ssize_t n = read(fd, got, gotlen - 1);
        got[n > 0 ? n : 0] = '\0';
    } else {
        snprintf(got, gotlen, "<dir>");
    }
    close(fd);
    return 0;
}

static void
res_is(struct static_ctx *sc, const char *rel, int want, const char *body)
{
    char got[64];
    int st = res(sc, rel, got, sizeof(got));
    bool pass = st == want && (body == NULL || strcmp(got, body) == 0);

    ok(pass, "resolve \"%s\": %d%s%s", rel, want, body ? " " : "",
       body ? body : "");
    if (!pass)
        diag("  got %d \"%s\"", st, got);
}

static struct static_ctx *
ctx(bool follow, bool dotfiles)
{
    struct cfg c;
    char dir[300], err[256];
    struct static_ctx *sc;

    memset(&c, 0, sizeof(c));
    snprintf(dir, sizeof(dir), "%s/www", top);
    c.up_path = dir;
    c.index = (char *)"index.html";
    c.follow_symlinks = follow;
    c.dotfiles = dotfiles;
    sc = static_new(&c, err, sizeof(err));
    if (sc == NULL)
        diag("static_new: %s", err);
    return sc;
}

static void
test_resolve(void)
{
    struct static_ctx *sc;
    char err[256], abs[600], loop[64];
    struct cfg c;
    int i;

    snprintf(top, sizeof(top), "%s/ptth-static-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(top) == NULL) {
        skip(30, "no temporary directory");
        return;
    }
    mk("secret", "SECRET");
    mkd("other");
    mk("other/f", "OTHER");
    mkd("www");
    mkd("www/sub");
    mkd("www/sub/deep");
    mkd("www/.git");
    mk("www/a.txt", "A");
    mk("www/sub/b.txt", "B");
    mk("www/sub/deep/c.txt", "C");
    mk("www/.git/config", "GIT");
    mk("www/.env", "ENV");
    ln("a.txt", "www/l-in");
    ln("sub/deep/c.txt", "www/l-deep");
    ln("../a.txt", "www/sub/l-up");
    ln("..", "www/sub/l-parent");
    ln("../www/a.txt", "www/l-via-parent");
    ln("../secret", "www/l-out");
    ln("../../secret", "www/sub/l-out2");
    ln("..", "www/l-dotdot");
    ln("../other", "www/l-other");
    snprintf(abs, sizeof(abs), "%s/secret", top);
    ln(abs, "www/l-abs-out");
    snprintf(abs, sizeof(abs), "%s/www/sub/b.txt", top);
    ln(abs, "www/l-abs-in");
    ln("/dev/null", "www/l-null");
    ln("/", "www/l-root");
    ln(".git/config", "www/l-git");
    ln("sub", "www/l-sub");
    ln("l-loop2", "www/l-loop1");
    ln("l-loop1", "www/l-loop2");
    ln("nowhere", "www/l-dangling");
    snprintf(abs, sizeof(abs), "%s/www/fifo", top);
    mkfifo(abs, 0644);
    for (i = 0; i < STATIC_MAX_LINKS + 2; i++) {
        char name[32], target[32];
        snprintf(name, sizeof(name), "www/chain%d", i);
        snprintf(target, sizeof(target), "chain%d", i + 1);
        ln(i == STATIC_MAX_LINKS + 1 ? "a.txt" : target, name);
    }

    memset(&c, 0, sizeof(c));
    c.up_path = (char *)"/no/such/dir";
    ok(static_new(&c, err, sizeof(err)) == NULL &&
           strstr(err, "/no/such/dir") != NULL,
       "static_new: a missing directory, named in err");

    sc = ctx(false, false);
    if (sc == NULL) {
        skip(29, "static_new failed");
        return;
    }
    ok(sc->nup > 0, "DIR's ancestors recorded");
    res_is(sc, "", 0, "<dir>");
    res_is(sc, "a.txt", 0, "A");
    res_is(sc, "sub/deep/c.txt", 0, "C");
    res_is(sc, "sub", 0, "<dir>");
    res_is(sc, "missing", 404, NULL);
    res_is(sc, "a.txt/x", 404, NULL);
    res_is(sc, "l-in", 0, "A");
    res_is(sc, "l-deep", 0, "C");
    res_is(sc, "sub/l-up", 0, "A");
    res_is(sc, "sub/l-parent/a.txt", 0, "A");
    res_is(sc, "l-via-parent", 0, "A");
    res_is(sc, "l-abs-in", 0, "B");
    res_is(sc, "l-sub/b.txt", 0, "B");
    res_is(sc, "l-out", 404, NULL);
    res_is(sc, "sub/l-out2", 404, NULL);
    res_is(sc, "l-dotdot/secret", 404, NULL);
    res_is(sc, "l-dotdot/www/a.txt", 0, "A");
    res_is(sc, "l-dotdot", 404, NULL);
    res_is(sc, "l-other/f", 404, NULL);
    res_is(sc, "l-abs-out", 404, NULL);
    res_is(sc, "l-root/etc/passwd", 404, NULL);
    res_is(sc, "l-null", 404, NULL);
    res_is(sc, "fifo", 403, NULL);
    res_is(sc, ".env", 404, NULL);
    res_is(sc, ".git/config", 404, NULL);
    res_is(sc, "l-git", 404, NULL);
    res_is(sc, "l-loop1", 403, NULL);
    res_is(sc, "l-dangling", 404, NULL);
    snprintf(loop, sizeof(loop), "chain%d", STATIC_MAX_LINKS + 1);
    res_is(sc, loop, 0, "A");
    res_is(sc, "chain0", 403, NULL);
    static_free(sc);

    sc = ctx(true, true);
    res_is(sc, "l-out", 0, "SECRET");
    res_is(sc, "l-abs-out", 0, "SECRET");
    res_is(sc, "l-other/f", 0, "OTHER");
    res_is(sc, "l-null", 403, NULL);
    res_is(sc, ".env", 0, "ENV");
    res_is(sc, "l-git", 0, "GIT");
    res_is(sc, "fifo", 403, NULL);
    static_free(sc);

    snprintf(abs, sizeof(abs), "rm -rf '%s'", top);
    if (system(abs) != 0)
        diag("could not remove %s", top);
}

int
main(void)
{
    bail_out_after(60);
    test_normalize();
    test_encode();
    test_mime();
    test_etag();
    test_dates();
    test_ranges();
    test_resolve();
    return done_testing();
}
