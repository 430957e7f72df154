/* SPDX-License-Identifier: MIT
 * tests/unit/buf.c - struct buf and struct bufq. */
#include "config.h"

#include <stdint.h>
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

int
main(void)
{
    plan(50);
    test_buf();
    test_bufq_basic();
    ok(random_run(7, 1000, 20000, 100), "bufq: random ops, tiny chunks");
    ok(random_run(BUF_CHUNK_SIZE, 1u << 20, 5000, 100000),
       "bufq: random ops, 16 KiB chunks, 1 MiB cap");
    ok(random_run(1, 64, 5000, 70), "bufq: random ops, 1-byte chunks");
    return done_testing();
}
