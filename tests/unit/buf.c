/* SPDX-License-Identifier: MIT
 * tests/unit/buf.c - struct buf and struct bufq. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

#include "../lib/tap.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t
rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717u) >> 32);
}

static void
test_buf(void)
{
    struct buf b;
    uint8_t *p;
    size_t n;

    buf_init(&b, 16);
    p = buf_space(&b, &n);
    is_int(n, 16, "buf: empty buffer offers full capacity");
    memcpy(p, "hello", 5);
    buf_commit(&b, 5);
    is_mem(buf_data(&b), buf_len(&b), "hello", 5, "buf: committed bytes");
    buf_consume(&b, 2);
    is_mem(buf_data(&b), buf_len(&b), "llo", 3, "buf: consume drops front");
    p = buf_space(&b, &n);
    is_int(n, 11, "buf: tail room without compaction");
    memcpy(p, "0123456789A", 11);
    buf_commit(&b, 11);
    p = buf_space(&b, &n);
    is_int(n, 2, "buf: full tail compacts, front room offered");
    is_int(b.off, 0, "buf: compaction moved data to the front");
    is_mem(buf_data(&b), buf_len(&b), "llo0123456789A", 14,
           "buf: data intact after compaction");
    is_int(buf_append(&b, "xyz", 3), PTTH_ELIMIT, "buf: append over cap");
    is_int(buf_len(&b), 14, "buf: failed append left buffer unchanged");
    is_int(buf_append(&b, "xy", 2), 0, "buf: append filling the cap");
    is_mem(buf_data(&b), buf_len(&b), "llo0123456789Axy", 16, "buf: full");
    buf_consume(&b, 10);
    is_int(buf_append(&b, "0123456789", 10), 0,
           "buf: append compacts when front room is needed");
    is_mem(buf_data(&b), buf_len(&b), "789Axy0123456789", 16,
           "buf: bytes after compacting append");
    buf_consume(&b, 16);
    is_int(b.off, 0, "buf: emptied buffer rewinds");
    buf_free(&b);
    ok(b.data == NULL && b.cap == 0, "buf: free zeroes the struct");
    buf_free(NULL);
}

static void
fill_pattern(uint8_t *p, size_t n, size_t start)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)((start + i) * 7 + 3);
}

static void
test_bufq_basic(void)
{
    struct bufq q;
    uint8_t src[64], out[64];
    const uint8_t *p, *p2;
    size_t n, n2;

    fill_pattern(src, sizeof(src), 0);
    bufq_init(&q, 16, 40);
    ok(!bufq_peek(&q, &p, &n) && p == NULL && n == 0,
       "bufq: peek on empty queue");
    ok(q.head == NULL, "bufq: init allocates nothing");
    is_int(bufq_append(&q, src, 10), 0, "bufq: append 10");
    is_int(bufq_append(&q, src + 10, 31), PTTH_ELIMIT,
           "bufq: append past the cap fails");
    is_int(bufq_len(&q), 10, "bufq: failed append left length unchanged");
    ok(bufq_peek(&q, &p, &n), "bufq: peek after failed append");
    is_mem(p, n, src, 10, "bufq: failed append left bytes unchanged");
    is_int(bufq_space(&q), 30, "bufq: space");
    is_int(bufq_append(&q, src + 10, 30), 0, "bufq: append up to the cap");
    ok(bufq_full(&q), "bufq: full at the cap");
    is_int(bufq_space(&q), 0, "bufq: no space when full");
    is_int(bufq_write_some(&q, src, 5), 0, "bufq: write_some when full");
    is_int(bufq_append(&q, src, 0), 0, "bufq: empty append fits when full");

    bufq_peek(&q, &p, &n);
    is_mem(p, n, src, 16, "bufq: first run ends at the chunk boundary");
    bufq_consume(&q, 13);
    bufq_peek(&q, &p, &n);
    is_mem(p, n, src + 13, 3, "bufq: partial consume within a chunk");
    bufq_consume(&q, 5);
    bufq_peek(&q, &p, &n);
    is_mem(p, n, src + 18, 14, "bufq: consume across a chunk boundary");
    ok(q.spare != NULL, "bufq: spent head chunk kept as spare");
    is_int(bufq_len(&q), 22, "bufq: length after consumes");
    ok(!bufq_full(&q), "bufq: not full after consume");

    /* appends never move queued bytes */
    bufq_peek(&q, &p, &n);
    is_int(bufq_write_some(&q, src + 40, 24), 18,
           "bufq: write_some copies what fits");
    bufq_peek(&q, &p2, &n2);
    ok(p == p2 && n == n2, "bufq: peek pointer stable across appends");
    ok(q.spare == NULL, "bufq: spare chunk reused by the append");

    is_int(bufq_read(&q, out, sizeof(out)), 40, "bufq: read all");
    is_mem(out, 40, src + 18, 40, "bufq: read bytes in order");
    is_int(bufq_len(&q), 0, "bufq: empty after read");
    ok(q.head != NULL && q.head == q.tail,
       "bufq: sole chunk kept after drain (no malloc churn)");
    bufq_shrink(&q);
    ok(q.head == NULL && q.spare == NULL, "bufq: shrink releases memory");
    is_int(bufq_append(&q, "abc", 3), 0, "bufq: usable after shrink");
    bufq_free(&q);
    is_int(bufq_len(&q), 0, "bufq: free empties");
    is_int(bufq_append(&q, "abcdefghijklmnopqrst", 20), 0,
           "bufq: free keeps settings, queue usable");
    is_int(bufq_read(&q, out, 7), 7, "bufq: short read");
    is_mem(out, 7, "abcdefg", 7, "bufq: short read bytes");
    bufq_free(&q);
}

/* Random appends/reads against a flat reference copy. */
static int
random_run(size_t chunk, size_t max, int ops, size_t maxop)
{
    struct bufq q;
    uint8_t *ref = xmalloc(max), *tmp = xmalloc(maxop), *out = xmalloc(maxop);
    size_t rlen = 0, produced = 0, i;
    int op, bad = 0;

    bufq_init(&q, chunk, max);
    for (op = 0; op < ops && !bad; op++) {
        size_t n = rng() % (maxop + 1), got;
        const uint8_t *p;
        size_t pn;
        int rc;

        switch (rng() % 4) {
        case 0: /* append all-or-nothing */
            fill_pattern(tmp, n, produced);
            rc = bufq_append(&q, tmp, n);
            if (n > max - rlen) {
                bad |= rc != PTTH_ELIMIT;
            } else {
                bad |= rc != 0;
                memcpy(ref + rlen, tmp, n);
                rlen += n;
                produced += n;
            }
            break;
        case 1: /* write_some */
            fill_pattern(tmp, n, produced);
            got = bufq_write_some(&q, tmp, n);
            bad |= got != (n < max - rlen ? n : max - rlen);
            memcpy(ref + rlen, tmp, got);
            rlen += got;
            produced += got;
            break;
        case 2: /* read */
            got = bufq_read(&q, out, n);
            bad |= got != (n < rlen ? n : rlen);
            bad |= memcmp(out, ref, got) != 0;
            memmove(ref, ref + got, rlen - got);
            rlen -= got;
            break;
        default: /* peek + partial consume */
            if (!bufq_peek(&q, &p, &pn)) {
                bad |= rlen != 0;
                break;
            }
            bad |= pn == 0 || pn > chunk || pn > rlen;
            bad |= memcmp(p, ref, pn) != 0;
            got = n < pn ? n : pn;
            bufq_consume(&q, got);
            memmove(ref, ref + got, rlen - got);
            rlen -= got;
            break;
        }
        bad |= bufq_len(&q) != rlen;
        bad |= bufq_space(&q) != max - rlen;
    }
    if (bad)
        diag("random run diverged at op %d (chunk %zu, max %zu)", op, chunk,
             max);
    i = bufq_read(&q, ref, max);
    bad |= i != rlen || bufq_len(&q) != 0;
    bufq_free(&q);
    free(ref);
    free(tmp);
    free(out);
    return !bad;
}

/* ---- bufq_move / bufq_peekv ---- */

/* Flattens |q| through bufq_peekv into |out| (>= bufq_len bytes). Returns
 * false when a run is empty, the runs do not add up to bufq_len, or the
 * first run differs from bufq_peek. */
static bool
flatten(const struct bufq *q, uint8_t *out, size_t *outlen)
{
    /* every run holds at least one byte: len + 1 iovecs always suffice */
    int max = (int)bufq_len(q) + 1;
    struct iovec *iov = xcalloc((size_t)max, sizeof(*iov));
    const uint8_t *p;
    size_t pn, len = 0;
    int k, i;
    bool good = true;

    k = bufq_peekv(q, iov, max);
    good &= k >= 0 && k < max;
    for (i = 0; i < k; i++) {
        good &= iov[i].iov_len > 0 && iov[i].iov_len <= q->chunk_size;
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    *outlen = len;
    good &= len == bufq_len(q);
    if (bufq_peek(q, &p, &pn))
        good &= k > 0 && p == iov[0].iov_base && pn == iov[0].iov_len && pn > 0;
    else
        good &= k == 0 && bufq_len(q) == 0;
    free(iov);
    return good;
}

/* Checks |q| holds exactly want[0, wlen): through peekv (non-destructive)
 * and length. One TAP test. */
static int
q_is(const struct bufq *q, const uint8_t *want, size_t wlen, const char *name)
{
    uint8_t *got = xmalloc(bufq_len(q) + 1);
    size_t glen = 0;
    bool good = flatten(q, got, &glen);
    int pass;

    if (!good)
        diag("  %s: queue runs inconsistent (len %zu, runs add to %zu)", name,
             bufq_len(q), glen);
    pass = good ? is_mem(got, glen, want, wlen, name) : ok(0, "%s", name);
    free(got);
    return pass;
}

static void
test_bufq_move_same_size(void)
{
    struct bufq s, d;
    uint8_t pat[64], out[64], want[64];
    const uint8_t *p0, *p1, *p;
    size_t n;

    fill_pattern(pat, sizeof(pat), 100);
    bufq_init(&s, 8, 100);
    bufq_init(&d, 8, 100);
    bufq_append(&s, pat, 20); /* chunks 8, 8, 4 */
    bufq_peek(&s, &p0, &n);
    is_int(bufq_move(&d, &s, 16), 0, "move: two whole chunks");
    is_int(bufq_len(&d), 16, "move: dst length after whole-chunk move");
    is_int(bufq_len(&s), 4, "move: src length after whole-chunk move");
    ok(bufq_peek(&d, &p1, &n) && p1 == p0 && n == 8,
       "move: whole chunks relinked, not copied (same bytes address)");
    q_is(&d, pat, 16, "move: dst bytes after whole-chunk move");
    q_is(&s, pat + 16, 4, "move: src keeps the rest");
    ok(bufq_space(&d) == 84 && bufq_space(&s) == 96,
       "move: space follows the moved bytes");

    /* a partial chunk: copied, src head advances in place */
    is_int(bufq_move(&d, &s, 3), 0, "move: 3 of a 4-byte chunk");
    q_is(&d, pat, 19, "move: partial chunk appended to dst");
    q_is(&s, pat + 19, 1, "move: partial chunk left in src");
    is_int(bufq_move(&d, &s, 1), 0, "move: last byte of src");
    ok(bufq_len(&s) == 0 && !bufq_peek(&s, &p, &n),
       "move: src empty after moving all");
    is_int(bufq_append(&s, pat + 20, 30), 0, "move: src usable after drain");
    q_is(&s, pat + 20, 30, "move: src bytes after refill");

    /* head partly consumed: the rest of the head relinks, then a copy */
    bufq_consume(&s, 3); /* s: 5 | 8 | 8 | 6 = pat[23, 50) */
    memcpy(want, pat, 20);
    memcpy(want + 20, pat + 23, 27);
    is_int(bufq_move(&d, &s, 10), 0, "move: across a consumed head");
    q_is(&d, want, 30, "move: dst bytes after move across a consumed head");
    q_is(&s, pat + 33, 17, "move: src bytes after move across a head");
    is_int(bufq_move(&d, &s, 0), 0, "move: zero bytes");
    q_is(&d, want, 30, "move: zero-byte move changes nothing");
    is_int(bufq_move(&d, &s, 17), 0, "move: the whole rest");
    q_is(&d, want, 47, "move: dst bytes after moving the rest");
    ok(bufq_len(&s) == 0 && s.head == NULL,
       "move: whole-chunk moves took every src chunk");
    is_int(bufq_read(&d, out, sizeof(out)), 47, "move: read everything");
    ok(memcmp(out, want, 47) == 0, "move: bytes read back in order");
    bufq_free(&s);
    bufq_free(&d);
}

static void
test_bufq_move_copy(void)
{
    struct bufq s, d;
    uint8_t pat[200], out[200];
    struct iovec iov[64];
    int k, i, bad = 0;

    fill_pattern(pat, sizeof(pat), 7);
    bufq_init(&s, 5, 200);
    bufq_init(&d, 7, 200);
    bufq_append(&s, pat, 23);
    is_int(bufq_move(&d, &s, 17), 0, "move/copy: 5-byte into 7-byte chunks");
    q_is(&d, pat, 17, "move/copy: dst bytes");
    q_is(&s, pat + 17, 6, "move/copy: src bytes");
    k = bufq_peekv(&d, iov, 64);
    for (i = 0; i < k; i++)
        bad |= iov[i].iov_len != (i < 2 ? 7u : 3u);
    ok(k == 3 && !bad, "move/copy: dst runs are dst-sized chunks (7 7 3)");
    bufq_append(&s, pat + 23, 40);
    is_int(bufq_move(&d, &s, 46), 0, "move/copy: fill dst's partial tail");
    q_is(&d, pat, 63, "move/copy: bytes after second move");
    ok(bufq_len(&s) == 0, "move/copy: src drained");
    bufq_free(&d);

    /* larger src chunks into tiny dst chunks, dst with consumed head */
    bufq_init(&d, 3, 200);
    bufq_free(&s);
    bufq_init(&s, 64, 200);
    bufq_append(&s, pat, 150);
    bufq_append(&d, "xyz", 3);
    bufq_consume(&d, 2);
    is_int(bufq_move(&d, &s, 130), 0, "move/copy: 64-byte into 3-byte");
    memcpy(out, "z", 1);
    memcpy(out + 1, pat, 130);
    q_is(&d, out, 131, "move/copy: bytes after the 64->3 move");
    q_is(&s, pat + 130, 20, "move/copy: rest of src");
    bufq_free(&s);
    bufq_free(&d);
}

/* dst's only chunk was drained and rewound by bufq_consume: it must not
 * stay as an empty head in front of the moved bytes. */
static void
test_bufq_move_into_rewound(size_t dchunk)
{
    struct bufq s, d;
    uint8_t pat[100], out[100];
    const uint8_t *p;
    size_t n;
    char name[8][96];
    static const char *const what[8] = {
        "dst keeps its rewound chunk",
        "move succeeds",
        "peek gives a non-empty first run",
        "dst bytes",
        "append, move again: bytes in order",
        "drained and rewound again: move succeeds",
        "again: non-empty first run",
        "again: bytes read back",
    };
    int i;

    for (i = 0; i < 8; i++)
        snprintf(name[i], sizeof(name[i]),
                 "move into rewound dst (chunks 8 -> %zu): %s", dchunk,
                 what[i]);
    fill_pattern(pat, sizeof(pat), 31);
    bufq_init(&s, 8, 100);
    bufq_init(&d, dchunk, 100);
    bufq_append(&d, "hello", 5);
    bufq_consume(&d, 5);
    ok(d.head != NULL && bufq_len(&d) == 0, "%s", name[0]);
    bufq_append(&s, pat, 24);
    is_int(bufq_move(&d, &s, 16), 0, name[1]);
    ok(bufq_peek(&d, &p, &n) && n > 0 && p[0] == pat[0], "%s", name[2]);
    q_is(&d, pat, 16, name[3]);
    /* append to dst, then move the rest of src after it */
    bufq_append(&d, "ABC", 3);
    bufq_move(&d, &s, 8);
    memcpy(out, pat, 16);
    memcpy(out + 16, "ABC", 3);
    memcpy(out + 19, pat + 16, 8);
    q_is(&d, out, 27, name[4]);
    /* drain by consume, rewind again, move again (with the same chunk
     * size the spare is taken by now: the empty chunk must be freed) */
    bufq_consume(&d, 27);
    bufq_append(&s, pat + 50, 20);
    is_int(bufq_move(&d, &s, 20), 0, name[5]);
    ok(bufq_peek(&d, &p, &n) && n > 0 && p[0] == pat[50], "%s", name[6]);
    ok(bufq_read(&d, out, sizeof(out)) == 20 &&
           memcmp(out, pat + 50, 20) == 0 && bufq_len(&s) == 0,
       "%s", name[7]);
    bufq_free(&s);
    bufq_free(&d);
}

static void
test_bufq_move_partial_tail(void)
{
    struct bufq s, d;
    uint8_t pat[100], want[100];
    struct iovec iov[16];
    int k;

    fill_pattern(pat, sizeof(pat), 55);
    bufq_init(&s, 8, 100);
    bufq_init(&d, 8, 100);
    bufq_append(&d, "abc", 3); /* d tail: 3 of 8 used */
    bufq_append(&s, pat, 16);
    is_int(bufq_move(&d, &s, 8), 0, "move/tail: whole chunk after a partial");
    is_int(bufq_append(&d, pat + 50, 10), 0, "move/tail: append after move");
    memcpy(want, "abc", 3);
    memcpy(want + 3, pat, 8);
    memcpy(want + 11, pat + 50, 10);
    q_is(&d, want, 21, "move/tail: bytes after partial tail, move, append");
    k = bufq_peekv(&d, iov, 16);
    ok(k >= 3 && iov[0].iov_len == 3 && iov[1].iov_len == 8,
       "move/tail: the partial chunk stays a separate run in front");
    /* a partial move copies into the tail's free room */
    is_int(bufq_move(&d, &s, 5), 0, "move/tail: partial move into tail room");
    memcpy(want + 21, pat + 8, 5);
    q_is(&d, want, 26, "move/tail: bytes after partial move");
    is_int(bufq_append(&d, "XYZ", 3), 0, "move/tail: append again");
    memcpy(want + 26, "XYZ", 3);
    q_is(&d, want, 29, "move/tail: bytes after second append");
    is_int(bufq_move(&d, &s, 3), 0, "move/tail: rest of src");
    memcpy(want + 29, pat + 13, 3);
    q_is(&d, want, 32, "move/tail: final bytes");
    bufq_consume(&d, 2);
    q_is(&d, want + 2, 30, "move/tail: consume inside the partial chunk");
    bufq_consume(&d, 10);
    q_is(&d, want + 12, 20, "move/tail: consume past the relinked chunk");
    bufq_free(&s);
    bufq_free(&d);
}

static void
test_bufq_move_limit(void)
{
    struct bufq s, d;
    uint8_t pat[64];
    const uint8_t *sp, *dp, *p;
    size_t sn, dn, n;

    fill_pattern(pat, sizeof(pat), 9);
    bufq_init(&s, 8, 64);
    bufq_init(&d, 8, 10);
    bufq_append(&d, pat, 4);
    bufq_append(&s, pat + 4, 20);
    bufq_peek(&s, &sp, &sn);
    bufq_peek(&d, &dp, &dn);
    is_int(bufq_move(&d, &s, 7), PTTH_ELIMIT, "move/limit: past dst cap");
    ok(bufq_len(&d) == 4 && bufq_len(&s) == 20,
       "move/limit: lengths unchanged");
    ok(bufq_peek(&s, &p, &n) && p == sp && n == sn,
       "move/limit: src head untouched");
    ok(bufq_peek(&d, &p, &n) && p == dp && n == dn,
       "move/limit: dst head untouched");
    q_is(&s, pat + 4, 20, "move/limit: src bytes unchanged");
    q_is(&d, pat, 4, "move/limit: dst bytes unchanged");
    is_int(bufq_move(&d, &s, 20), PTTH_ELIMIT, "move/limit: whole src");
    q_is(&s, pat + 4, 20, "move/limit: src unchanged after whole-src try");
    is_int(bufq_move(&d, &s, 6), 0, "move/limit: exactly up to the cap");
    ok(bufq_full(&d) && bufq_space(&d) == 0, "move/limit: dst full");
    q_is(&d, pat, 10, "move/limit: dst bytes at the cap");
    is_int(bufq_move(&d, &s, 1), PTTH_ELIMIT, "move/limit: one byte when full");
    is_int(bufq_move(&d, &s, 0), 0, "move/limit: zero bytes when full");
    q_is(&s, pat + 10, 14, "move/limit: src bytes after all tries");
    bufq_free(&s);
    bufq_free(&d);
}

static void
test_bufq_peekv(void)
{
    struct bufq q;
    uint8_t pat[64];
    struct iovec iov[8];
    int k, i, bad = 0;

    fill_pattern(pat, sizeof(pat), 3);
    bufq_init(&q, 8, 64);
    memset(iov, 0xa5, sizeof(iov));
    is_int(bufq_peekv(&q, iov, 8), 0, "peekv: empty queue");
    bufq_append(&q, pat, 37); /* 8 8 8 8 5 */
    bufq_consume(&q, 2);      /* 6 8 8 8 5 */
    memset(iov, 0xa5, sizeof(iov));
    k = bufq_peekv(&q, iov, 2);
    ok(k == 2 && iov[0].iov_base != NULL, "peekv: max 2 of 5 runs gives 2");
    ok(k == 2 && iov[0].iov_len == 6 &&
           memcmp(iov[0].iov_base, pat + 2, 6) == 0 && iov[1].iov_len == 8 &&
           memcmp(iov[1].iov_base, pat + 8, 8) == 0,
       "peekv: the first two runs, front first");
    for (i = 2; i < 8; i++)
        bad |= ((unsigned char *)&iov[i])[0] != 0xa5;
    ok(!bad, "peekv: iovecs past the count left alone");
    is_int(bufq_peekv(&q, iov, 0), 0, "peekv: max 0");
    k = bufq_peekv(&q, iov, 8);
    is_int(k, 5, "peekv: all five runs when max is larger");
    ok(k == 5 && iov[4].iov_len == 5 &&
           memcmp(iov[4].iov_base, pat + 32, 5) == 0,
       "peekv: last run");
    k = bufq_peekv(&q, iov, 5);
    is_int(k, 5, "peekv: max equal to the number of runs");
    bufq_consume(&q, 35);
    ok(q.head != NULL && bufq_peekv(&q, iov, 8) == 0,
       "peekv: drained (rewound) queue gives 0");
    bufq_free(&q);
}

/* Two queues A and B with random appends, moves both ways, consumes and
 * peekv checks, against two flat reference arrays. */
static int
random_move_run(size_t ca, size_t cb, size_t max_a, size_t max_b, int ops,
                size_t maxop)
{
    struct bufq q[2];
    size_t cap[2], rlen[2] = {0, 0};
    uint8_t *ref[2], *tmp = xmalloc(maxop), *flat;
    struct iovec iov[4];
    int op, bad = 0, i;

    cap[0] = max_a;
    cap[1] = max_b;
    bufq_init(&q[0], ca, max_a);
    bufq_init(&q[1], cb, max_b);
    ref[0] = xmalloc(max_a);
    ref[1] = xmalloc(max_b);
    flat = xmalloc(max_a > max_b ? max_a : max_b);
    for (op = 0; op < ops && !bad; op++) {
        int a = rng() % 2, b = !a, rc, k, m;
        size_t n = rng() % (maxop + 1), got, tot;
        const uint8_t *p;
        size_t pn;

        switch (rng() % 8) {
        case 0: /* append random bytes */
        case 1:
            for (tot = 0; tot < n; tot++)
                tmp[tot] = (uint8_t)rng();
            rc = bufq_append(&q[a], tmp, n);
            if (n > cap[a] - rlen[a]) {
                bad |= (rc != PTTH_ELIMIT) << 0;
            } else {
                bad |= (rc != 0) << 0;
                memcpy(ref[a] + rlen[a], tmp, n);
                rlen[a] += n;
            }
            break;
        case 2: /* move b -> a */
        case 3:
        case 4:
            if (rng() % 4 == 0)
                n = rlen[b]; /* everything */
            if (n > rlen[b])
                n = rlen[b];
            rc = bufq_move(&q[a], &q[b], n);
            if (n > cap[a] - rlen[a]) {
                bad |= (rc != PTTH_ELIMIT) << 1;
            } else {
                bad |= (rc != 0) << 1;
                memcpy(ref[a] + rlen[a], ref[b], n);
                rlen[a] += n;
                memmove(ref[b], ref[b] + n, rlen[b] - n);
                rlen[b] -= n;
            }
            break;
        case 5: /* consume */
            if (rng() % 4 == 0)
                n = rlen[a];
            if (n > rlen[a])
                n = rlen[a];
            bufq_consume(&q[a], n);
            memmove(ref[a], ref[a] + n, rlen[a] - n);
            rlen[a] -= n;
            break;
        case 6: /* peekv with a small max */
            m = (int)(rng() % 5);
            k = bufq_peekv(&q[a], iov, m);
            bad |= (k < 0 || k > m) << 2;
            tot = 0;
            for (i = 0; i < k && !bad; i++) {
                bad |=
                    (iov[i].iov_len == 0 || iov[i].iov_len > q[a].chunk_size ||
                     tot + iov[i].iov_len > rlen[a])
                    << 3;
                if (!bad)
                    bad |= (memcmp(iov[i].iov_base, ref[a] + tot,
                                   iov[i].iov_len) != 0)
                           << 3;
                tot += iov[i].iov_len;
            }
            /* fewer than max only when everything was given */
            if (k < m)
                bad |= (tot != rlen[a]) << 4;
            break;
        default: /* read a little */
            got = bufq_read(&q[a], tmp, n);
            bad |= (got != (n < rlen[a] ? n : rlen[a])) << 5;
            bad |= (memcmp(tmp, ref[a], got) != 0) << 5;
            memmove(ref[a], ref[a] + got, rlen[a] - got);
            rlen[a] -= got;
            break;
        }
        for (i = 0; i < 2 && !bad; i++) {
            bad |= (bufq_len(&q[i]) != rlen[i]) << 6;
            bad |= (bufq_space(&q[i]) != cap[i] - rlen[i]) << 6;
            /* the head is never an empty run while data is queued */
            if (bufq_peek(&q[i], &p, &pn))
                bad |= (pn == 0 || memcmp(p, ref[i], pn) != 0) << 7;
            else
                bad |= (rlen[i] != 0) << 7;
            if (!bad && (op % 16 == 0 || rlen[i] < 64)) {
                bad |= !flatten(&q[i], flat, &tot) << 8;
                bad |= (tot != rlen[i] || memcmp(flat, ref[i], tot) != 0) << 8;
            }
        }
    }
    if (bad)
        diag("random move run diverged at op %d (chunks %zu/%zu, bits 0x%x)",
             op, ca, cb, bad);
    for (i = 0; i < 2; i++) {
        if (bufq_read(&q[i], flat, cap[i]) != rlen[i] ||
            memcmp(flat, ref[i], rlen[i]) != 0)
            bad |= 1 << 9;
        bufq_free(&q[i]);
        free(ref[i]);
    }
    free(tmp);
    free(flat);
    return !bad;
}

int
main(void)
{
    plan(140);
    bail_out_after(120); /* a broken head invariant loops forever */
    test_buf();
    test_bufq_basic();
    ok(random_run(7, 1000, 20000, 100), "bufq: random ops, tiny chunks");
    ok(random_run(BUF_CHUNK_SIZE, 1u << 20, 5000, 100000),
       "bufq: random ops, 16 KiB chunks, 1 MiB cap");
    ok(random_run(1, 64, 5000, 70), "bufq: random ops, 1-byte chunks");
    test_bufq_move_same_size();
    test_bufq_move_copy();
    test_bufq_move_into_rewound(8); /* relinks */
    test_bufq_move_into_rewound(5); /* copies */
    test_bufq_move_partial_tail();
    test_bufq_move_limit();
    test_bufq_peekv();
    ok(random_move_run(8, 8, 200, 150, 50000, 40),
       "bufq: random moves, same small chunks (relinks)");
    ok(random_move_run(7, 3, 200, 150, 50000, 40),
       "bufq: random moves, different chunk sizes (copies)");
    ok(random_move_run(1, 1, 64, 64, 20000, 20),
       "bufq: random moves, 1-byte chunks");
    ok(random_move_run(BUF_CHUNK_SIZE, BUF_CHUNK_SIZE, 1u << 18, 1u << 17, 3000,
                       40000),
       "bufq: random moves, 16 KiB chunks (pooled)");
    ok(random_move_run(BUF_CHUNK_SIZE, 4096, 1u << 17, 1u << 17, 3000, 40000),
       "bufq: random moves, 16 KiB and 4 KiB chunks");
    return done_testing();
}
