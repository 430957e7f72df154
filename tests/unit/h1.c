/* SPDX-License-Identifier: MIT
 * Unit tests for h1.c: request and response heads (good forms, a smuggling
 * corpus, limits, incremental feeding, pipelining), the chunked decoder,
 * the writer helpers. Every head is parsed twice, once whole and once one
 * byte at a time from exact-size copies, and both must agree. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/tap.h"
#include "h1.h"
#include "util.h"

/* A string literal and its length (it may hold NUL bytes). */
#define S(lit) lit, sizeof(lit) - 1

#define MAX_HEAD 8192

static int
parse1(bool req, struct h1_msg *m, const uint8_t *b, size_t n, size_t max,
       size_t *hl)
{
    return req ? h1_parse_request(m, b, n, max, hl)
               : h1_parse_response(m, b, n, max, hl);
}

/* Parses s[0, n) in one call from an exact-size heap copy (so ASan sees any
 * read past len, and nothing may keep pointing into the input). */
static int
parse_once(bool req, struct h1_msg *m, const char *s, size_t n, size_t max,
           size_t *hl)
{
    uint8_t *b = xmalloc(n);
    int rc;

    memcpy(b, s, n);
    rc = parse1(req, m, b, n, max, hl);
    free(b);
    return rc;
}

/* Feeds s one more byte per call (len 0, 1, 2 ... n), each time from a new
 * exact-size copy, until the verdict is not PTTH_EAGAIN. */
static int
parse_bytewise(bool req, struct h1_msg *m, const char *s, size_t n, size_t max,
               size_t *hl)
{
    int rc = PTTH_EAGAIN;
    size_t k;

    for (k = 0; k <= n && rc == PTTH_EAGAIN; k++)
        rc = parse_once(req, m, s, k, max, hl);
    return rc;
}

static bool
str_same(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool
same_msg(const struct h1_msg *a, const struct h1_msg *b)
{
    size_t i;

    if (!str_same(a->method, b->method) || !str_same(a->target, b->target) ||
        a->minor != b->minor || a->status != b->status ||
        !str_same(a->reason, b->reason) || a->nfields != b->nfields ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive ||
        a->expect_continue != b->expect_continue || a->upgrade != b->upgrade ||
        !str_same(a->host, b->host))
        return false;
    for (i = 0; i < a->nfields; i++) {
        const struct h1_field *x = &a->fields[i], *y = &b->fields[i];
        if (x->name_len != y->name_len || x->value_len != y->value_len ||
            strcmp(x->name, y->name) != 0 || strcmp(x->value, y->value) != 0 ||
            strlen(x->name) != x->name_len || strlen(x->value) != x->value_len)
            return false;
    }
    return true;
}

/* Two tests: the whole-buffer verdict, and the same verdict (and head
 * length and fields) byte by byte. On success the message stays in *out
 * when out is not NULL (caller resets). */
static int
check(bool req, struct h1_msg *out, const char *s, size_t n, size_t max,
      int want, const char *name)
{
    struct h1_msg a, b;
    size_t ha = 0, hb = 0;
    int ra, rb;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ra = parse_once(req, &a, s, n, max, &ha);
    rb = parse_bytewise(req, &b, s, n, max, &hb);
    is_int(ra, want, name);
    ok(rb == ra && (ra != 0 || (ha == hb && same_msg(&a, &b))),
       "%s (byte by byte)", name);
    if (ra != rb)
        diag("  whole %d, byte by byte %d", ra, rb);
    h1_msg_reset(&b);
    if (out != NULL)
        *out = a;
    else
        h1_msg_reset(&a);
    return ra;
}

#define REQ(lit, want, name) check(true, NULL, S(lit), MAX_HEAD, want, name)
#define RESP(lit, want, name) check(false, NULL, S(lit), MAX_HEAD, want, name)
#define BAD(lit, name) REQ(lit, PTTH_EPROTO, name)

#define H "Host: example.com\r\n"

static void
test_good_requests(void)
{
    struct h1_msg m;
    const struct h1_field *f;

    check(true, &m, S("GET / HTTP/1.1\r\n" H "\r\n"), MAX_HEAD, 0, "GET");
    is_str(m.method, "GET", "method");
    is_str(m.target, "/", "target");
    is_int(m.minor, 1, "minor 1");
    is_str(m.host, "example.com", "host");
    is_int(m.content_length, -1, "no content-length");
    ok(!m.chunked && m.keep_alive && !m.upgrade && !m.expect_continue,
       "GET flags");
    is_int(m.nfields, 1, "one field");
    is_str(m.fields[0].name, "Host", "field name kept as sent");
    is_int(m.status, 0, "no status on a request");
    ok(m.reason == NULL, "no reason on a request");
    h1_msg_reset(&m);

    check(true, &m,
          S("POST /up?x=1 HTTP/1.1\r\n" H "Content-Length: 5\r\n"
            "X-Pad:   a b  \r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\nhello"),
          MAX_HEAD, 0, "POST with a body");
    is_int(m.content_length, 5, "content-length 5");
    f = h1_find(&m, "x-pad");
    ok(f != NULL && strcmp(f->value, "a b") == 0 && f->value_len == 3,
       "OWS trimmed both sides");
    f = h1_find(&m, "X-EMPTY");
    ok(f != NULL && f->value_len == 0 && f->value[0] == '\0', "empty value");
    f = h1_find(&m, "x-tab");
    ok(f != NULL && strcmp(f->value, "v") == 0, "HTAB is OWS");
    ok(h1_find(&m, "x-missing") == NULL, "h1_find miss");
    h1_msg_reset(&m);

    REQ("HEAD /x HTTP/1.1\r\n" H "\r\n", 0, "HEAD");
    check(true, &m, S("OPTIONS * HTTP/1.1\r\n" H "\r\n"), MAX_HEAD, 0,
          "OPTIONS *");
    is_str(m.target, "*", "asterisk-form");
    h1_msg_reset(&m);
    REQ("OPTIONS /a HTTP/1.1\r\n" H "\r\n", 0, "OPTIONS origin-form");
    check(true, &m,
          S("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
            "\r\n"),
          MAX_HEAD, 0, "CONNECT authority-form");
    is_str(m.target, "example.com:443", "authority target");
    h1_msg_reset(&m);
    REQ("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", 0,
        "CONNECT IPv6 authority");
    check(true, &m, S("GET http://example.com/x?y=1 HTTP/1.1\r\n" H "\r\n"),
          MAX_HEAD, 0, "absolute-form");
    is_str(m.target, "http://example.com/x?y=1", "absolute target");
    h1_msg_reset(&m);
    REQ("GET HTTPS://example.com:8443 HTTP/1.1\r\n" H "\r\n", 0,
        "absolute-form https, no path, upper-case scheme");
    REQ("GET /%7e?a=%20&b HTTP/1.1\r\n" H "\r\n", 0, "escapes in target");
    REQ("M-SEARCH! / HTTP/1.1\r\n" H "\r\n", 0, "any token method");

    check(true, &m, S("\r\nGET / HTTP/1.1\r\n" H "\r\n"), MAX_HEAD, 0,
          "one leading empty line skipped");
    is_str(m.method, "GET", "method after empty line");
    h1_msg_reset(&m);

    {
        static const char lead[] = "\r\nGET / HTTP/1.1\r\n" H "\r\nX";
        size_t hl = 0;
        memset(&m, 0, sizeof(m));
        is_int(h1_parse_request(&m, (const uint8_t *)lead, sizeof(lead) - 1,
                                MAX_HEAD, &hl),
               0, "leading empty line, whole");
        is_int(hl, sizeof(lead) - 2, "head_len counts the skipped line");
        h1_msg_reset(&m);
    }
    REQ("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 0, "IPv4 host");
    REQ("GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", 0, "IPv6 host");
    REQ("GET / HTTP/1.1\r\nHost: a-b.c_d~e%41:65535\r\n\r\n", 0,
        "reg-name host, max port");
    REQ("GET / HTTP/1.1\r\nHost: example.com\r\nX: \x80\xff obs\r\n\r\n", 0,
        "obs-text value");
    REQ("GET / HTTP/1.1\r\nhOsT: example.com\r\n\r\n", 0,
        "field names case-insensitive");
    REQ("GET / HTTP/1.1\r\n" H "X-a!#$%&'*+-.^_`|~09: v\r\n\r\n", 0,
        "every tchar in a name");
}

static void
test_framing(void)
{
    struct h1_msg m;

    check(true, &m,
          S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"),
          MAX_HEAD, 0, "chunked request");
    ok(m.chunked && m.content_length == -1, "chunked set, no length");
    h1_msg_reset(&m);
    check(true, &m,
          S("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\tchunked\r\n\r\n"),
          MAX_HEAD, 0, "Transfer-Encoding:<HTAB>chunked accepted");
    ok(m.chunked, "HTAB chunked");
    h1_msg_reset(&m);
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: CHUNKED \r\n\r\n", 0,
        "chunked case-insensitive");
    check(true, &m,
          S("POST / HTTP/1.1\r\n" H "Content-Length: 7\r\n"
            "Content-Length: 7\r\n\r\n"),
          MAX_HEAD, 0, "identical repeated content-length");
    is_int(m.content_length, 7, "repeated value");
    h1_msg_reset(&m);
    check(true, &m, S("POST / HTTP/1.1\r\n" H "Content-Length: 7 ,\t7\r\n\r\n"),
          MAX_HEAD, 0, "identical content-length list");
    is_int(m.content_length, 7, "list value");
    h1_msg_reset(&m);
    check(true, &m,
          S("POST / HTTP/1.1\r\n" H "Content-Length: 999999999999999999\r\n"
            "\r\n"),
          MAX_HEAD, 0, "18-digit content-length");
    is_int(m.content_length, INT64_C(999999999999999999), "18 digits value");
    h1_msg_reset(&m);
    check(true, &m, S("POST / HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n"),
          MAX_HEAD, 0, "content-length 0");
    is_int(m.content_length, 0, "zero length");
    h1_msg_reset(&m);

    /* The smuggling corpus. */
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "CL then TE");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n",
        "TE then CL");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
        "Content-Length: 6\r\n\r\n",
        "duplicate differing CL");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n",
        "differing CL list");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5,\r\n\r\n",
        "CL list with an empty element");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", "CL +5");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", "CL -1");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5 5\r\n\r\n", "CL 5 5");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", "CL 0x10");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5a\r\n\r\n", "CL 5a");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", "empty CL");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 1000000000000000000\r\n\r\n",
        "CL with 19 digits");
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 0000000000000000005\r\n\r\n",
        "CL with 19 digits (leading zeros)");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, identity\r\n\r\n",
        "TE chunked, identity");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
        "TE gzip, chunked");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n",
        "TE identity");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n",
        "TE xchunked");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;a=b\r\n\r\n",
        "TE with parameters");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n",
        "TE chunked twice");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "TE chunked in two fields");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
        "Transfer-Encoding:\r\n\r\n",
        "TE with an empty second field");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: ,chunked\r\n\r\n",
        "TE with an empty element");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n",
        "space before colon");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: \x0b"
        "chunked\r\n\r\n",
        "VT before chunked");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\x0c\r\n\r\n",
        "FF after chunked");
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "TE in HTTP/1.0");
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: x\r\n chunked\r\n\r\n",
        "obs-fold continuation");
    BAD("POST / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n", "obs-fold with HTAB");
    BAD("POST / HTTP/1.1\r\n Host: example.com\r\n\r\n",
        "first field line starts with SP");
    BAD("GET / HTTP/1.1\n" H "\n", "bare LF line ends");
    BAD("GET / HTTP/1.1\r\nHost: example.com\n\r\n", "one bare LF");
    BAD("GET / HTTP/1.1\r\n" H "\n", "bare LF blank line");
    BAD("GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", "bare CR in a value");
    BAD("GET / HTTP/1.1\r\n" H "X: a\r\r\n\r\n", "CR CR LF");
    BAD("GET / HTTP/1.1\r" H "\r\n", "bare CR line end");
    BAD("GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", "NUL in a value");
    BAD("GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", "DEL in a value");
    BAD("GET / HTTP/1.1\r\n" H "X: \x1b[0m\r\n\r\n", "ESC in a value");
    BAD("GET / HTTP/1.1\r\n" H "Foo Bar: x\r\n\r\n", "space in a name");
    BAD("GET / HTTP/1.1\r\n" H "Foo@: x\r\n\r\n", "non-token name");
    BAD("GET / HTTP/1.1\r\n" H "Foo\tBar: x\r\n\r\n", "tab in a name");
    BAD("GET / HTTP/1.1\r\n" H "Fo\xc3\xa9: x\r\n\r\n", "obs-text name");
    BAD("GET / HTTP/1.1\r\n" H ": x\r\n\r\n", "empty name");
    BAD("GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", "line without a colon");
}

static void
test_host_and_lines(void)
{
    struct h1_msg m;

    BAD("GET / HTTP/1.1\r\n" H H "\r\n", "two Host fields");
    BAD("GET / HTTP/1.1\r\n" H "host: other\r\n\r\n", "two Host, other case");
    BAD("GET / HTTP/1.0\r\n" H H "\r\n", "two Host fields in 1.0");
    BAD("GET / HTTP/1.1\r\nX: y\r\n\r\n", "missing Host on 1.1");
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "Host a b");
    BAD("GET / HTTP/1.1\r\nHost: x@y\r\n\r\n", "Host x@y");
    BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "Host with /");
    BAD("GET / HTTP/1.1\r\nHost:\r\n\r\n", "empty Host");
    BAD("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", "Host with a comma");
    BAD("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", "Host with an empty port");
    BAD("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", "Host port too big");
    BAD("GET / HTTP/1.1\r\nHost: a:0x50\r\n\r\n", "Host hex port");
    BAD("GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", "Host with two colons");
    BAD("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "Host unclosed [");
    BAD("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", "Host junk after ]");
    BAD("GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", "Host zone id");
    BAD("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", "Host bad escape");
    BAD("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", "Host without a name");

    BAD("GET  / HTTP/1.1\r\n" H "\r\n", "two spaces after the method");
    BAD("GET /  HTTP/1.1\r\n" H "\r\n", "two spaces after the target");
    BAD("GET / HTTP/1.1 \r\n" H "\r\n", "space after the version");
    BAD("GET\t/ HTTP/1.1\r\n" H "\r\n", "tab in the request line");
    BAD("GET /\tHTTP/1.1\r\n" H "\r\n", "tab before the version");
    BAD("GET / http/1.1\r\n" H "\r\n", "lower-case http/1.1");
    BAD("GET / HTTP/1.2\r\n" H "\r\n", "HTTP/1.2");
    BAD("GET / HTTP/2.0\r\n" H "\r\n", "HTTP/2.0");
    BAD("GET / HTTP/1.10\r\n" H "\r\n", "HTTP/1.10");
    BAD("GET / HTTP/1\r\n" H "\r\n", "HTTP/1");
    BAD("GET /\r\n" H "\r\n", "no version");
    BAD("GET\r\n" H "\r\n", "method only");
    BAD(" / HTTP/1.1\r\n" H "\r\n", "empty method");
    BAD("GE(T / HTTP/1.1\r\n" H "\r\n", "non-token method");
    BAD("GET http://exa mple.com/ HTTP/1.1\r\n" H "\r\n",
        "absolute-form with a space");
    BAD("GET http://example.com/\t HTTP/1.1\r\n" H "\r\n",
        "absolute-form with a tab");
    BAD("GET /\x80 HTTP/1.1\r\n" H "\r\n", "obs-text in the target");
    BAD("GET http://u@example.com/ HTTP/1.1\r\n" H "\r\n",
        "absolute-form with userinfo");
    BAD("GET http:/// HTTP/1.1\r\n" H "\r\n", "absolute-form, no authority");
    BAD("GET ftp://example.com/ HTTP/1.1\r\n" H "\r\n", "ftp scheme");
    BAD("GET http://example.com/ HTTP/1.1\r\n\r\n",
        "absolute-form still needs Host on 1.1");
    BAD("GET example.com:443 HTTP/1.1\r\n" H "\r\n",
        "authority-form without CONNECT");
    BAD("CONNECT / HTTP/1.1\r\n" H "\r\n", "CONNECT with origin-form");
    BAD("CONNECT example.com HTTP/1.1\r\n" H "\r\n", "CONNECT without port");
    BAD("CONNECT http://example.com:443/ HTTP/1.1\r\n" H "\r\n",
        "CONNECT with absolute-form");
    BAD("GET * HTTP/1.1\r\n" H "\r\n", "* without OPTIONS");
    BAD("OPTIONS ** HTTP/1.1\r\n" H "\r\n", "OPTIONS **");
    BAD("\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", "two leading empty lines");
    BAD("\r\n\r\n", "only empty lines");
    BAD("\n"
        "GET / HTTP/1.1\r\n" H "\r\n",
        "leading bare LF");
    RESP("\r\nHTTP/1.1 200 OK\r\n\r\n", PTTH_EPROTO,
         "no empty line before a status line");

    REQ("GET / HTTP/1.1\r\nHost: example.com\r\n", PTTH_EAGAIN,
        "incomplete head");
    REQ("", PTTH_EAGAIN, "nothing yet");
    REQ("\r\n", PTTH_EAGAIN, "only the skippable empty line");

    /* keep-alive */
    check(true, &m, S("GET / HTTP/1.0\r\n\r\n"), MAX_HEAD, 0, "1.0, no Host");
    ok(!m.keep_alive && m.host == NULL && m.minor == 0, "1.0 closes");
    h1_msg_reset(&m);
    check(true, &m, S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
          MAX_HEAD, 0, "1.0 keep-alive");
    ok(m.keep_alive, "1.0 with keep-alive stays open");
    h1_msg_reset(&m);
    check(true, &m,
          S("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
          MAX_HEAD, 0, "1.0 keep-alive and close");
    ok(!m.keep_alive, "close wins");
    h1_msg_reset(&m);
    check(true, &m, S("GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n"),
          MAX_HEAD, 0, "1.1 close");
    ok(!m.keep_alive, "1.1 with close");
    h1_msg_reset(&m);
    check(true, &m, S("GET / HTTP/1.1\r\n" H "Connection: foo\r\n\r\n"),
          MAX_HEAD, 0, "1.1 default");
    ok(m.keep_alive, "1.1 stays open");
    h1_msg_reset(&m);

    /* Expect and Upgrade */
    check(true, &m,
          S("PUT / HTTP/1.1\r\n" H "Expect: 100-Continue\r\n"
            "Content-Length: 3\r\n\r\n"),
          MAX_HEAD, 0, "expect 100-continue");
    ok(m.expect_continue, "expect_continue");
    h1_msg_reset(&m);
    check(true, &m,
          S("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
            "\r\n"),
          MAX_HEAD, 0, "expect in 1.0");
    ok(!m.expect_continue, "ignored in 1.0");
    h1_msg_reset(&m);
    check(true, &m,
          S("GET /.well-known/ptth HTTP/1.1\r\n" H
            "Connection: keep-alive, Upgrade\r\nUpgrade: ptth\r\n\r\n"),
          MAX_HEAD, 0, "upgrade request");
    ok(m.upgrade, "upgrade flag");
    ok(h1_has_token(&m, "connection", "upgrade"), "token in a list");
    ok(h1_has_token(&m, "CONNECTION", "Keep-Alive"), "first token");
    ok(h1_has_token(&m, "upgrade", "PTTH"), "Upgrade: ptth");
    ok(!h1_has_token(&m, "connection", "close"), "absent token");
    ok(!h1_has_token(&m, "connection", "upgrad"), "no prefix match");
    ok(!h1_has_token(&m, "connection", "keep-alive, Upgrade"),
       "whole value is no token");
    h1_msg_reset(&m);
    check(true, &m,
          S("GET / HTTP/1.1\r\n" H "Connection: keep-alive\r\n"
            "Upgrade: ptth\r\nConnection: ,  Upgrade ,\r\n\r\n"),
          MAX_HEAD, 0, "two Connection fields");
    ok(h1_has_token(&m, "connection", "upgrade"), "token in the second field");
    ok(m.upgrade, "upgrade across fields");
    h1_msg_reset(&m);
    check(true, &m, S("GET / HTTP/1.1\r\n" H "Connection: upgrade\r\n\r\n"),
          MAX_HEAD, 0, "Connection: upgrade alone");
    ok(!m.upgrade, "no Upgrade field, no upgrade");
    h1_msg_reset(&m);
}

static void
test_limits(void)
{
    char *big = xmalloc(16384);
    size_t n, i;
    struct h1_msg m;

    REQ("GET / HTTP/1.1\r\n" H "\r\n", 0, "fits");
    check(true, NULL, S("GET / HTTP/1.1\r\n" H "\r\n"), 37, 0,
          "head of exactly max_head bytes");
    check(true, NULL, S("GET / HTTP/1.1\r\n" H "\r\n"), 36, PTTH_ELIMIT,
          "head one byte over max_head");
    check(true, NULL, S("GET / HTTP/1.1\r\n" H "X: 0123456789\r\n"), 40,
          PTTH_ELIMIT, "unfinished head over max_head");
    check(true, NULL, S("GET / HTTP/1.1\r\n"), 0, PTTH_ELIMIT, "max_head 0");

    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n" H);
    for (i = 0; i < 99; i++)
        n += (size_t)sprintf(big + n, "X-%zu: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    check(true, &m, big, n, MAX_HEAD, 0, "100 fields");
    is_int(m.nfields, 100, "100 fields kept");
    is_str(m.fields[99].name, "X-98", "last field name");
    h1_msg_reset(&m);
    n -= 2;
    n += (size_t)sprintf(big + n, "X-last: v\r\n\r\n");
    check(true, NULL, big, n, MAX_HEAD, PTTH_ELIMIT, "101 fields");
    free(big);
}

static void
test_incremental(void)
{
    const size_t target = 60 * 1024;
    char *big = xmalloc(target + 4096);
    size_t n, k, hl = 0, hl2 = 0;
    struct h1_msg m, w;
    int rc = PTTH_EAGAIN;
    clock_t t0;
    double secs;
    char val[1001];

    memset(val, 'v', 1000);
    val[1000] = '\0';
    n = (size_t)sprintf(big, "POST /big HTTP/1.1\r\n" H);
    for (k = 0; n + 1100 < target; k++)
        n += (size_t)sprintf(big + n, "X-%zu: %s\r\n", k, val);
    n += (size_t)sprintf(big + n, "\r\n");
    diag("big head: %zu bytes, %zu fields", n, k + 1);

    memset(&m, 0, sizeof(m));
    memset(&w, 0, sizeof(w));
    t0 = clock();
    for (k = 1; k <= n && rc == PTTH_EAGAIN; k++)
        rc = h1_parse_request(&m, (const uint8_t *)big, k, 65536, &hl);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    diag("fed one byte at a time in %.3f s", secs);
    is_int(rc, 0, "60 KiB head fed byte by byte");
    ok(secs < 1.0, "linear: byte by byte under a second");
    is_int(h1_parse_request(&w, (const uint8_t *)big, n, 65536, &hl2), 0,
           "60 KiB head whole");
    ok(hl == n && hl2 == n && same_msg(&m, &w), "same result both ways");
    h1_msg_reset(&m);
    h1_msg_reset(&w);

    /* Misuse is refused, not undefined. */
    is_int(h1_parse_request(&m, (const uint8_t *)"GET", 3, 100, &hl),
           PTTH_EAGAIN, "partial");
    is_int(h1_parse_request(&m, (const uint8_t *)"GE", 2, 100, &hl),
           PTTH_EINVAL, "shorter buffer than before");
    h1_msg_reset(&m);
    is_int(h1_parse_request(&m, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18,
                            100, &hl),
           0, "complete");
    is_int(h1_parse_request(&m, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18,
                            100, &hl),
           PTTH_EINVAL, "parse again without reset");
    h1_msg_reset(&m);
    free(big);
}

static void
test_pipelining(void)
{
    static const char two[] = "GET /a HTTP/1.1\r\n" H "\r\n"
                              "GET /b HTTP/1.1\r\n" H "Connection: close\r\n"
                              "\r\n";
    const uint8_t *b = (const uint8_t *)two;
    size_t n = sizeof(two) - 1, hl = 0, hl2 = 0;
    struct h1_msg m;

    memset(&m, 0, sizeof(m));
    is_int(h1_parse_request(&m, b, n, MAX_HEAD, &hl), 0, "first request");
    is_str(m.target, "/a", "first target");
    is_int(hl, 38, "head_len points to the second request");
    ok(m.keep_alive, "first keeps the connection");
    h1_msg_reset(&m);
    is_int(h1_parse_request(&m, b + hl, n - hl, MAX_HEAD, &hl2), 0,
           "second request");
    is_str(m.target, "/b", "second target");
    is_int(hl + hl2, n, "second ends the buffer");
    ok(!m.keep_alive, "second closes");
    h1_msg_reset(&m);

    /* A smuggled second request stays in the body: CL counts it. */
    check(true, &m,
          S("POST / HTTP/1.1\r\n" H "Content-Length: 4\r\n\r\n"
            "GET /x HTTP/1.1\r\n\r\n"),
          MAX_HEAD, 0, "body is not parsed as a head");
    is_int(m.content_length, 4, "length from CL");
    h1_msg_reset(&m);
}

static void
test_responses(void)
{
    struct h1_msg m;

    check(false, &m,
          S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: ptth\r\n"
            "Connection: Upgrade\r\n\r\n\x00\x00\x12\x04"),
          MAX_HEAD, 0, "101 Switching Protocols");
    is_int(m.status, 101, "status 101");
    is_str(m.reason, "Switching Protocols", "reason");
    ok(m.upgrade && h1_has_token(&m, "upgrade", "ptth"), "upgrade to ptth");
    ok(m.method == NULL && m.target == NULL && m.host == NULL,
       "no request parts");
    h1_msg_reset(&m);
    check(false, &m, S("HTTP/1.1 200 \r\n\r\n"), MAX_HEAD, 0, "empty reason");
    is_str(m.reason, "", "reason is empty");
    ok(m.content_length == -1 && !m.chunked, "read to close");
    h1_msg_reset(&m);
    check(false, &m, S("HTTP/1.1 204\r\n\r\n"), MAX_HEAD, 0,
          "no reason, no SP");
    is_str(m.reason, "", "absent reason is empty");
    h1_msg_reset(&m);
    check(false, &m,
          S("HTTP/1.0 200 OK\tfine\r\nContent-Length: 3\r\n"
            "Host: ignored here\r\n\r\nabc"),
          MAX_HEAD, 0, "HTTP/1.0 response");
    ok(m.minor == 0 && m.content_length == 3 && !m.keep_alive && m.host == NULL,
       "1.0 response fields");
    h1_msg_reset(&m);
    check(false, &m, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
          MAX_HEAD, 0, "chunked response");
    ok(m.chunked, "response chunked");
    h1_msg_reset(&m);
    RESP("HTTP/1.1 100 Continue\r\n\r\n", 0, "100");
    RESP("HTTP/1.1 599 X\r\n\r\n", 0, "599");
    RESP("HTTP/1.1 99 X\r\n\r\n", PTTH_EPROTO, "status 99");
    RESP("HTTP/1.1 600 X\r\n\r\n", PTTH_EPROTO, "status 600");
    RESP("HTTP/1.1 2000 X\r\n\r\n", PTTH_EPROTO, "status 2000");
    RESP("HTTP/1.1 20a X\r\n\r\n", PTTH_EPROTO, "status 20a");
    RESP("HTTP/1.1  200 OK\r\n\r\n", PTTH_EPROTO, "two spaces");
    RESP("http/1.1 200 OK\r\n\r\n", PTTH_EPROTO, "lower-case version");
    RESP("HTTP/2 200 OK\r\n\r\n", PTTH_EPROTO, "HTTP/2");
    RESP("HTTP/1.1 200 O\x01K\r\n\r\n", PTTH_EPROTO, "control in reason");
    RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         PTTH_EPROTO, "response CL and TE");
    RESP("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         PTTH_EPROTO, "response differing CL");
    RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", PTTH_EPROTO,
         "response TE gzip");
    RESP("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", PTTH_EPROTO,
         "1.0 response with TE");
    RESP("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", PTTH_EPROTO,
         "response space before colon");
    RESP("HTTP/1.1 200 OK\nX: y\n\n", PTTH_EPROTO, "response bare LF");
    RESP("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", PTTH_EPROTO,
         "response obs-fold");
    check(false, NULL, S("HTTP/1.1 200 OK\r\nX: 0123456789\r\n\r\n"), 20,
          PTTH_ELIMIT, "response over max_head");
}

/* ---- chunked ---- */

struct dec {
    int rc;
    size_t used;
    char body[8192];
    size_t blen;
    struct h1_chunked c;
};

static void
take(struct dec *d, const uint8_t *p, size_t off, size_t n)
{
    if (d->blen + n <= sizeof(d->body)) {
        memcpy(d->body + d->blen, p + off, n);
        d->blen += n;
    }
}

/* Decodes in[0, n) with calls on the rest of one exact-size copy. */
static void
decode_whole(struct dec *d, const char *in, size_t n, size_t max_trailer)
{
    uint8_t *b = xmalloc(n);
    size_t pos = 0, u, off, dl;

    memcpy(b, in, n);
    memset(d, 0, sizeof(*d));
    h1_chunked_init(&d->c, max_trailer);
    do {
        d->rc = h1_chunked_decode(&d->c, b + pos, n - pos, &u, &off, &dl);
        take(d, b + pos, off, dl);
        pos += u;
    } while (d->rc == 0);
    d->used = pos;
    free(b);
}

/* Decodes in[0, n) one byte per buffer. */
static void
decode_bytes(struct dec *d, const char *in, size_t n, size_t max_trailer)
{
    size_t k, u, off, dl;

    memset(d, 0, sizeof(*d));
    h1_chunked_init(&d->c, max_trailer);
    d->rc = PTTH_EAGAIN;
    d->used = n;
    for (k = 0; k < n && d->rc == PTTH_EAGAIN; k++) {
        uint8_t *one = xmalloc(1);
        size_t pos = 0;

        one[0] = (uint8_t)in[k];
        do {
            d->rc = h1_chunked_decode(&d->c, one + pos, 1 - pos, &u, &off, &dl);
            take(d, one + pos, off, dl);
            pos += u;
        } while (d->rc == 0);
        free(one);
        if (d->rc != PTTH_EAGAIN)
            d->used = k + pos;
    }
}

/* Decodes in[0, n) in two pieces split at cut. */
static void
decode_split(struct dec *d, const char *in, size_t n, size_t cut,
             size_t max_trailer)
{
    size_t lens[2] = {cut, n - cut}, i, u, off, dl, done = 0;

    memset(d, 0, sizeof(*d));
    h1_chunked_init(&d->c, max_trailer);
    d->rc = PTTH_EAGAIN;
    for (i = 0; i < 2 && d->rc == PTTH_EAGAIN; i++) {
        uint8_t *b = xmalloc(lens[i] ? lens[i] : 1);
        size_t pos = 0;

        memcpy(b, in + done, lens[i]);
        do {
            d->rc =
                h1_chunked_decode(&d->c, b + pos, lens[i] - pos, &u, &off, &dl);
            take(d, b + pos, off, dl);
            pos += u;
        } while (d->rc == 0);
        free(b);
        done += pos;
    }
    d->used = done;
}

static bool
same_trailers(const struct h1_chunked *a, const struct h1_chunked *b)
{
    size_t i;

    if (a->ntfields != b->ntfields)
        return false;
    for (i = 0; i < a->ntfields; i++) {
        if (strcmp(a->tfields[i].name, b->tfields[i].name) != 0 ||
            strcmp(a->tfields[i].value, b->tfields[i].value) != 0)
            return false;
    }
    return true;
}

/* Three or more tests: verdict, same verdict and body byte by byte, and
 * the expected body and *used (SIZE_MAX: all of in) on success. Leaves the
 * whole-buffer decoder in *out when out is not NULL (caller frees). */
static void
chk_chunked(struct dec *out, const char *in, size_t n, size_t max_trailer,
            int want, const char *body, size_t used, const char *name)
{
    struct dec *a = xmalloc(sizeof(*a)), *b = xmalloc(sizeof(*b));

    decode_whole(a, in, n, max_trailer);
    decode_bytes(b, in, n, max_trailer);
    is_int(a->rc, want, name);
    ok(a->rc == b->rc && a->blen == b->blen &&
           memcmp(a->body, b->body, a->blen) == 0 &&
           (a->rc != 1 || (a->used == b->used && same_trailers(&a->c, &b->c))),
       "%s (byte by byte)", name);
    if (want == 1) {
        is_mem(a->body, a->blen, body, strlen(body), "body");
        is_int(a->used, used == SIZE_MAX ? n : used, "used");
    }
    h1_chunked_free(&b->c);
    free(b);
    if (out != NULL)
        *out = *a;
    else
        h1_chunked_free(&a->c);
    free(a);
}

#define CHUNKED_OK(lit, body, name)                                            \
    chk_chunked(NULL, S(lit), 1024, 1, body, sizeof(lit) - 1, name)
#define CHUNKED_BAD(lit, name)                                                 \
    chk_chunked(NULL, S(lit), 1024, PTTH_EPROTO, NULL, 0, name)

static void
test_chunked(void)
{
    static const char normal[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    struct dec *d = xmalloc(sizeof(*d));
    size_t cut, n = sizeof(normal) - 1, i;
    bool all = true;
    char *big;

    CHUNKED_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world",
               "normal");
    for (cut = 0; cut <= n; cut++) {
        decode_split(d, normal, n, cut, 1024);
        if (d->rc != 1 || d->used != n || d->blen != 11 ||
            memcmp(d->body, "hello world", 11) != 0)
            all = false;
        h1_chunked_free(&d->c);
    }
    ok(all, "split in two at every byte boundary");
    CHUNKED_OK("A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n",
               "0123456789abcdefghijk", "upper and lower-case hex");
    CHUNKED_OK("0000000000000003\r\nabc\r\n0\r\n\r\n", "abc", "16 hex digits");
    CHUNKED_OK("0\r\n\r\n", "", "empty body");
    CHUNKED_OK("00\r\n\r\n", "", "last chunk 00");
    CHUNKED_OK(
        "3;foo=bar;baz;q=\"a \\\"b\\\\\";x=\"\"\r\nabc\r\n0;last\r\n\r\n",
        "abc", "extensions");
    chk_chunked(NULL, S("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 1024, 1,
                "abc", 13, "data after the final chunk left unused");

    chk_chunked(d,
                S("3\r\nabc\r\n0\r\nX-Sum:  abc \r\nContent-Length: 5\r\n"
                  "Host: x\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n"
                  "x-two:2\r\nX-Empty:\r\n\r\n"),
                1024, 1, "abc", SIZE_MAX, "trailers");
    is_int(d->c.ntfields, 3, "three trailers kept");
    if (d->c.ntfields == 3) {
        is_str(d->c.tfields[0].name, "X-Sum", "trailer 1 name");
        is_str(d->c.tfields[0].value, "abc", "trailer 1 value trimmed");
        is_int(d->c.tfields[0].value_len, 3, "trailer 1 value_len");
        is_str(d->c.tfields[1].name, "x-two", "trailer 2 name");
        is_str(d->c.tfields[1].value, "2", "trailer 2 value");
        is_str(d->c.tfields[2].name, "X-Empty", "trailer 3 name");
        is_int(d->c.tfields[2].value_len, 0, "trailer 3 empty");
    } else {
        skip(7, "wrong trailer count");
    }
    ok(d->c.trailer_bytes > 0, "trailer bytes counted");
    h1_chunked_free(&d->c);

    /* Many trailers: storage grows (and pointers stay right). */
    big = xmalloc(8192);
    n = (size_t)sprintf(big, "0\r\n");
    for (i = 0; i < 100; i++)
        n += (size_t)sprintf(big + n, "X-T%zu: value-%zu\r\n", i, i);
    n += (size_t)sprintf(big + n, "\r\n");
    chk_chunked(d, big, n, 8192, 1, "", n, "100 trailers");
    ok(d->c.ntfields == 100 &&
           strcmp(d->c.tfields[99].value, "value-99") == 0 &&
           strcmp(d->c.tfields[57].name, "X-T57") == 0,
       "100 trailers kept");
    h1_chunked_free(&d->c);
    n -= 2;
    n += (size_t)sprintf(big + n, "X-T100: v\r\n\r\n");
    chk_chunked(NULL, big, n, 8192, PTTH_ELIMIT, NULL, 0, "101 trailers");
    chk_chunked(NULL, big, n, 64, PTTH_ELIMIT, NULL, 0, "oversized trailers");
    free(big);
    chk_chunked(NULL, S("0\r\nX: 12345678\r\n\r\n"), 13, 1, "", 18,
                "trailers of exactly max_trailer");
    chk_chunked(NULL, S("0\r\nX: 123456789\r\n\r\n"), 13, PTTH_ELIMIT, NULL, 0,
                "trailers one byte over");
    chk_chunked(NULL, S("0\r\nX: 1\r\n\r\n"), 0, PTTH_ELIMIT, NULL, 0,
                "max_trailer 0 refuses trailers");
    chk_chunked(NULL, S("1\r\na\r\n0\r\n\r\n"), 0, 1, "a", 11,
                "max_trailer 0 without trailers");

    CHUNKED_BAD("g\r\nabc\r\n0\r\n\r\n", "size g");
    CHUNKED_BAD("-1\r\na\r\n0\r\n\r\n", "size -1");
    CHUNKED_BAD("+1\r\na\r\n0\r\n\r\n", "size +1");
    CHUNKED_BAD(" 5\r\nhello\r\n0\r\n\r\n", "size with leading space");
    CHUNKED_BAD("5 \r\nhello\r\n0\r\n\r\n", "size with trailing space");
    CHUNKED_BAD("5\t\r\nhello\r\n0\r\n\r\n", "size with trailing tab");
    CHUNKED_BAD("0x5\r\nhello\r\n0\r\n\r\n", "size 0x5");
    CHUNKED_BAD("00000000000000005\r\nhello\r\n0\r\n\r\n", "17 hex digits");
    CHUNKED_BAD("\r\nhello\r\n0\r\n\r\n", "empty size");
    CHUNKED_BAD("8000000000000000\r\n", "size 2^63");
    chk_chunked(NULL, S("7fffffffffffffff\r\nabc"), 1024, PTTH_EAGAIN, NULL, 0,
                "size 2^63-1 accepted");
    CHUNKED_BAD("5\r\nhelloX\r\n0\r\n\r\n", "data longer than the size");
    CHUNKED_BAD("5\r\nhello0\r\n\r\n", "missing CRLF after data");
    CHUNKED_BAD("5\r\nhello\n0\r\n\r\n", "LF only after data");
    CHUNKED_BAD("5\r\nhello\r0\r\n\r\n", "CR only after data");
    CHUNKED_BAD("5\nhello\n0\n\n", "LF-only framing");
    CHUNKED_BAD("5\rhello\r\n0\r\n\r\n", "CR-only size line");
    CHUNKED_BAD("0\r\n\n", "LF-only final line");
    CHUNKED_BAD("0\r\nX: y\n\r\n", "bare LF in trailers");
    CHUNKED_BAD("0\r\nX: y\rz\r\n\r\n", "bare CR in a trailer");
    CHUNKED_BAD("0\r\nX: y\0\r\n\r\n", "NUL in a trailer");
    CHUNKED_BAD("0\r\nX : y\r\n\r\n", "trailer space before colon");
    CHUNKED_BAD("0\r\nX: y\r\n z\r\n\r\n", "trailer obs-fold");
    CHUNKED_BAD("0\r\n: y\r\n\r\n", "trailer empty name");
    CHUNKED_BAD("0\r\nXy\r\n\r\n", "trailer without colon");
    CHUNKED_BAD("5;\r\nhello\r\n0\r\n\r\n", "empty extension");
    CHUNKED_BAD("5; a\r\nhello\r\n0\r\n\r\n", "space before extension");
    CHUNKED_BAD("5;a =b\r\nhello\r\n0\r\n\r\n", "space in extension");
    CHUNKED_BAD("5;a=\r\nhello\r\n0\r\n\r\n", "extension without value");
    CHUNKED_BAD("5;a=b=c\r\nhello\r\n0\r\n\r\n", "extension a=b=c");
    CHUNKED_BAD("5;a=\"b\r\nhello\r\n0\r\n\r\n", "unterminated quote");
    CHUNKED_BAD("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", "junk after quote");
    CHUNKED_BAD("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", "quoted control");
    CHUNKED_BAD("5;a\nhello\r\n0\r\n\r\n", "bare LF after extension");

    /* Extensions: 4096 bytes allowed, 4097 refused. */
    big = xmalloc(8192);
    n = (size_t)sprintf(big, "1;");
    memset(big + n, 'e', 4095);
    n += 4095;
    n += (size_t)sprintf(big + n, "\r\nx\r\n0\r\n\r\n");
    chk_chunked(NULL, big, n, 1024, 1, "x", n, "4096 bytes of extensions");
    n = (size_t)sprintf(big, "1;");
    memset(big + n, 'e', 4096);
    n += 4096;
    n += (size_t)sprintf(big + n, "\r\nx\r\n0\r\n\r\n");
    chk_chunked(NULL, big, n, 1024, PTTH_EPROTO, NULL, 0,
                "4097 bytes of extensions");
    n = (size_t)sprintf(big, "1;a=\"");
    memset(big + n, 'q', 4092);
    n += 4092;
    n += (size_t)sprintf(big + n, "\"\r\nx\r\n0\r\n\r\n");
    chk_chunked(NULL, big, n, 1024, PTTH_EPROTO, NULL, 0,
                "4097 bytes of quoted extension");
    n = (size_t)sprintf(big, "1;a=\"");
    memset(big + n, 'q', 4091);
    n += 4091;
    n += (size_t)sprintf(big + n, "\"\r\nx\r\n0\r\n\r\n");
    chk_chunked(NULL, big, n, 1024, 1, "x", n,
                "4096 bytes of quoted extension");
    free(big);

    /* Errors are sticky; a finished decoder stays finished. */
    {
        size_t u, off, dl;
        struct h1_chunked c;

        h1_chunked_init(&c, 0);
        is_int(h1_chunked_decode(&c, (const uint8_t *)"x", 1, &u, &off, &dl),
               PTTH_EPROTO, "bad first byte");
        is_int(h1_chunked_decode(&c, (const uint8_t *)"0\r\n\r\n", 5, &u, &off,
                                 &dl),
               PTTH_EPROTO, "error is sticky");
        h1_chunked_free(&c);
        h1_chunked_init(&c, 0);
        is_int(h1_chunked_decode(&c, (const uint8_t *)"0\r\n\r\n", 5, &u, &off,
                                 &dl),
               1, "done");
        is_int(h1_chunked_decode(&c, (const uint8_t *)"5", 1, &u, &off, &dl), 1,
               "done stays done");
        is_int(u, 0, "nothing used after done");
        is_int(h1_chunked_decode(&c, NULL, 0, &u, &off, &dl), 1,
               "done with no input");
        h1_chunked_free(&c);
        h1_chunked_init(&c, 0);
        is_int(
            h1_chunked_decode(&c, (const uint8_t *)"3\r\nab", 5, &u, &off, &dl),
            0, "one run reported");
        ok(u == 5 && off == 3 && dl == 2, "run inside the input");
        is_int(h1_chunked_decode(&c, NULL, 0, &u, &off, &dl), PTTH_EAGAIN,
               "then more needed");
        h1_chunked_free(&c);
    }
    free(d);
}

static void
test_writers(void)
{
    char out[20];

    is_int(h1_chunk_header(out, 0), 3, "chunk header 0 length");
    is_str(out, "0\r\n", "chunk header 0");
    is_int(h1_chunk_header(out, 0x1a2b), 6, "chunk header length");
    is_str(out, "1a2b\r\n", "chunk header 1a2b");
    is_int(h1_chunk_header(out, UINT64_MAX), 18, "largest chunk header");
    is_str(out, "ffffffffffffffff\r\n", "chunk header 2^64-1");

    is_int(h1_valid_field_name(S("x-forwarded-for")), 0, "good name");
    is_int(h1_valid_field_name(S("")), PTTH_EPROTO, "empty name");
    is_int(h1_valid_field_name(S("a b")), PTTH_EPROTO, "name with space");
    is_int(h1_valid_field_name(S(":path")), PTTH_EPROTO, "pseudo-header");
    is_int(h1_valid_field_name(S("a\r\nb")), PTTH_EPROTO, "name with CRLF");
    is_int(h1_valid_field_value(S("text/html; q=0.9")), 0, "good value");
    is_int(h1_valid_field_value(S("")), 0, "empty value");
    is_int(h1_valid_field_value(S("a\tb \x80")), 0, "HTAB, SP, obs-text");
    is_int(h1_valid_field_value(S("a\r\nX: y")), PTTH_EPROTO,
           "value with CRLF");
    is_int(h1_valid_field_value(S("a\rb")), PTTH_EPROTO, "value with CR");
    is_int(h1_valid_field_value(S("a\nb")), PTTH_EPROTO, "value with LF");
    is_int(h1_valid_field_value(S("a\0b")), PTTH_EPROTO, "value with NUL");
    is_int(h1_valid_field_value(S("a\x7f")), PTTH_EPROTO, "value with DEL");
    is_int(h1_valid_field_value(S(" a")), PTTH_EPROTO, "leading space");
    is_int(h1_valid_field_value(S("a\t")), PTTH_EPROTO, "trailing tab");

    is_str(h1_reason(200), "OK", "reason 200");
    is_str(h1_reason(101), "Switching Protocols", "reason 101");
    is_str(h1_reason(431), "Request Header Fields Too Large", "reason 431");
    is_str(h1_reason(799), "Unknown", "unknown reason");
}

static void
test_url_authority(void)
{
    static const struct {
        const char *url;
        size_t off, len; /* len 0: refused */
    } t[] = {
        {"http://a.localhost:8080/x", 7, 16},
        {"HTTPS://[::1]?q=1", 8, 5},
        {"http://a.localhost", 7, 11},
        {"http://a.localhost#f", 7, 11},
        {"http:///x", 0, 0},
        {"http://a b/", 0, 0},
        {"http://user@a/", 0, 0},
        {"ftp://a/", 0, 0},
        {"http:/a", 0, 0},
    };
    size_t i, off, len;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        bool got = h1_url_authority(t[i].url, strlen(t[i].url), &off, &len);

        if (t[i].len == 0)
            ok(!got, "url authority: '%s' refused", t[i].url);
        else
            ok(got && off == t[i].off && len == t[i].len,
               "url authority: '%s' -> %zu+%zu", t[i].url, t[i].off, t[i].len);
    }
}

int
main(void)
{
    test_good_requests();
    test_framing();
    test_host_and_lines();
    test_limits();
    test_incremental();
    test_pipelining();
    test_responses();
    test_chunked();
    test_writers();
    test_url_authority();
    return done_testing();
}
