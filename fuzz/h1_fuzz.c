/* SPDX-License-Identifier: MIT
 * h1_fuzz.c - libFuzzer target for h1.c. The first byte picks the mode and
 * the limits; the rest is the input:
 *   mode 0: request head, mode 1: response head - parsed whole, then again
 *           in pseudo-random steps (from a hash of the input), each step
 *           from a new exact-size copy; verdicts, head lengths and fields
 *           must agree, and parsed fields must pass the writer checks;
 *   mode 2: chunked body - decoded whole and one byte per buffer; verdict,
 *           consumed length, body bytes and trailers must agree.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I<cfg> -Isrc
 *        fuzz/h1_fuzz.c src/h1.c src/util.c */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "h1.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
parse(bool req, struct h1_msg *m, const uint8_t *b, size_t n, size_t max,
      size_t *hl)
{
    return req ? h1_parse_request(m, b, n, max, hl)
               : h1_parse_response(m, b, n, max, hl);
}

/* Parses from an exact-size heap copy, so ASan catches reads past n. */
static int
parse_copy(bool req, struct h1_msg *m, const uint8_t *b, size_t n, size_t max,
           size_t *hl)
{
    uint8_t *c = xmalloc(n);
    int rc;

    memcpy(c, b, n);
    rc = parse(req, m, c, n, max, hl);
    free(c);
    return rc;
}

static bool
str_same(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static void
check_same(const struct h1_msg *a, const struct h1_msg *b)
{
    size_t i;

    CHECK(str_same(a->method, b->method));
    CHECK(str_same(a->target, b->target));
    CHECK(str_same(a->reason, b->reason));
    CHECK(str_same(a->host, b->host));
    CHECK(a->minor == b->minor && a->status == b->status);
    CHECK(a->content_length == b->content_length);
    CHECK(a->chunked == b->chunked && a->keep_alive == b->keep_alive);
    CHECK(a->expect_continue == b->expect_continue);
    CHECK(a->upgrade == b->upgrade);
    CHECK(a->nfields == b->nfields);
    for (i = 0; i < a->nfields; i++) {
        CHECK(a->fields[i].name_len == b->fields[i].name_len);
        CHECK(a->fields[i].value_len == b->fields[i].value_len);
        CHECK(strcmp(a->fields[i].name, b->fields[i].name) == 0);
        CHECK(strcmp(a->fields[i].value, b->fields[i].value) == 0);
    }
}

/* What a successful parse promises. */
static void
check_sane(bool req, const struct h1_msg *m, size_t hl, size_t n, size_t max)
{
    size_t i;

    CHECK(hl <= n && hl <= max && hl >= 4);
    CHECK(m->minor == 0 || m->minor == 1);
    CHECK(m->nfields <= H1_MAX_FIELDS);
    CHECK(m->content_length >= -1);
    CHECK(m->content_length <= INT64_C(999999999999999999));
    CHECK(!(m->chunked && m->content_length >= 0));
    CHECK(!(m->chunked && m->minor == 0));
    if (req) {
        CHECK(m->method != NULL && m->target != NULL && m->reason == NULL);
        CHECK(h1_valid_field_name(m->method, strlen(m->method)) == 0);
        CHECK(m->host != NULL || m->minor == 0);
        CHECK(strpbrk(m->target, " \t\r\n") == NULL);
    } else {
        CHECK(m->status >= 100 && m->status <= 599 && m->reason != NULL);
        CHECK(m->host == NULL && m->method == NULL);
        CHECK(strpbrk(m->reason, "\r\n") == NULL);
    }
    for (i = 0; i < m->nfields; i++) {
        const struct h1_field *f = &m->fields[i];
        CHECK(strlen(f->name) == f->name_len);
        CHECK(strlen(f->value) == f->value_len);
        CHECK(h1_valid_field_name(f->name, f->name_len) == 0);
        CHECK(h1_valid_field_value(f->value, f->value_len) == 0);
    }
}

static uint64_t
hash(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void
fuzz_head(bool req, const uint8_t *b, size_t n, size_t max)
{
    struct h1_msg a, c;
    size_t ha = 0, hc = 0, k = 0;
    uint64_t seed = hash(b, n) | 1;
    int ra, rc = PTTH_EAGAIN;

    memset(&a, 0, sizeof(a));
    memset(&c, 0, sizeof(c));
    ra = parse_copy(req, &a, b, n, max, &ha);
    CHECK(ra == 0 || ra == PTTH_EAGAIN || ra == PTTH_EPROTO ||
          ra == PTTH_ELIMIT);
    while (rc == PTTH_EAGAIN && k < n) {
        uint64_t r = next_rand(&seed);
        size_t step = 1 + (size_t)(r % ((r >> 32) & 1 ? 256 : 8));
        k = step > n - k ? n : k + step;
        rc = parse_copy(req, &c, b, k, max, &hc);
    }
    if (n == 0)
        rc = parse_copy(req, &c, b, 0, max, &hc);
    CHECK(ra == rc);
    if (ra == 0) {
        CHECK(ha == hc);
        check_same(&a, &c);
        check_sane(req, &a, ha, n, max);
        /* A pipelined next message parses on its own. */
        h1_msg_reset(&c);
        (void)parse_copy(req, &c, b + ha, n - ha, max, &hc);
    }
    h1_msg_reset(&a);
    h1_msg_reset(&c);
}

struct run {
    int rc;
    size_t used;
    uint8_t *body;
    size_t blen;
    struct h1_chunked c;
};

static void
run_init(struct run *r, size_t n, size_t max_trailer)
{
    memset(r, 0, sizeof(*r));
    r->body = xmalloc(n);
    r->rc = PTTH_EAGAIN;
    h1_chunked_init(&r->c, max_trailer);
}

/* Feeds buf[0, n) (an exact-size copy) until it is used up or the decoder
 * stops; returns the bytes consumed. */
static size_t
feed(struct run *r, const uint8_t *in, size_t n)
{
    uint8_t *buf = xmalloc(n);
    size_t pos = 0, u, off, dl;

    memcpy(buf, in, n);
    do {
        r->rc = h1_chunked_decode(&r->c, buf + pos, n - pos, &u, &off, &dl);
        CHECK(u <= n - pos);
        CHECK(dl == 0 || (r->rc == 0 && off + dl <= u));
        memcpy(r->body + r->blen, buf + pos + off, dl);
        r->blen += dl;
        pos += u;
    } while (r->rc == 0);
    free(buf);
    return pos;
}

static void
fuzz_chunked(const uint8_t *b, size_t n, size_t max_trailer)
{
    struct run w, s;
    size_t k, i;

    run_init(&w, n, max_trailer);
    run_init(&s, n, max_trailer);
    w.used = feed(&w, b, n);
    for (k = 0; k < n && s.rc == PTTH_EAGAIN; k++)
        s.used += feed(&s, b + k, 1);
    CHECK(w.rc == 1 || w.rc == PTTH_EAGAIN || w.rc == PTTH_EPROTO ||
          w.rc == PTTH_ELIMIT);
    CHECK(w.rc == s.rc);
    CHECK(w.blen == s.blen && memcmp(w.body, s.body, w.blen) == 0);
    if (w.rc == 1 || w.rc == PTTH_EAGAIN)
        CHECK(w.used == s.used);
    if (w.rc == 1) {
        CHECK(w.c.trailer_bytes <= max_trailer);
        CHECK(w.c.ntfields == s.c.ntfields);
        for (i = 0; i < w.c.ntfields; i++) {
            const struct h1_field *f = &w.c.tfields[i];
            CHECK(strcmp(f->name, s.c.tfields[i].name) == 0);
            CHECK(strcmp(f->value, s.c.tfields[i].value) == 0);
            CHECK(strlen(f->name) == f->name_len);
            CHECK(strlen(f->value) == f->value_len);
            CHECK(h1_valid_field_name(f->name, f->name_len) == 0);
            CHECK(h1_valid_field_value(f->value, f->value_len) == 0);
            CHECK(!str_ieq(f->name, "content-length") &&
                  !str_ieq(f->name, "transfer-encoding") &&
                  !str_ieq(f->name, "host"));
        }
    }
    free(w.body);
    free(s.body);
    h1_chunked_free(&w.c);
    h1_chunked_free(&s.c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode, flags;

    if (size == 0)
        return 0;
    mode = data[0] % 3;
    flags = data[0] / 3;
    data++;
    size--;
    if (mode == 2) {
        fuzz_chunked(data, size, (flags & 1) ? 24 : 4096);
    } else {
        size_t max = (flags & 1) ? 24 + flags * 5 : 8192;
        fuzz_head(mode == 0, data, size, max);
    }
    return 0;
}
