/* SPDX-License-Identifier: MIT
 * buf.c - fixed buffer and capped chunk queue. */
#include "config.h"

#include "buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- struct buf ---- */

void
buf_init(struct buf *b, size_t cap)
{
    assert(cap > 0);
    b->data = xmalloc(cap);
    b->cap = cap;
    b->off = 0;
    b->len = 0;
}

void
buf_free(struct buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->cap = b->off = b->len = 0;
}

size_t
buf_len(const struct buf *b)
{
    return b->len;
}

const uint8_t *
buf_data(const struct buf *b)
{
    return b->data + b->off;
}

void
buf_compact(struct buf *b)
{
    if (b->off == 0)
        return;
    if (b->len > 0)
        memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
}

uint8_t *
buf_space(struct buf *b, size_t *avail)
{
    if (b->off + b->len == b->cap && b->off > 0)
        buf_compact(b);
    *avail = b->cap - b->off - b->len;
    return b->data + b->off + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
    assert(n <= b->cap - b->off - b->len);
    b->len += n;
}

void
buf_consume(struct buf *b, size_t n)
{
    assert(n <= b->len);
    b->len -= n;
    b->off = b->len == 0 ? 0 : b->off + n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > b->cap - b->len)
        return PTTH_ELIMIT;
    if (n > b->cap - b->off - b->len)
        buf_compact(b);
    if (n > 0)
        memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

void
buf_reset(struct buf *b)
{
    b->off = 0;
    b->len = 0;
}

/* ---- struct bufq ---- */

/* Bytes [r, w) of data[] are queued; [w, chunk_size) is free. */
struct bufq_chunk {
    struct bufq_chunk *next;
    size_t r, w;
    uint8_t data[];
};

/* A process-wide cache of spent chunks of the usual size: queues come
 * and go with every request, and a 16 KiB malloc/free pair per queue
 * showed in profiles (glibc consolidates its fast bins on each). The
 * process is single-threaded; the cache is bounded. */
#define POOL_MAX 64
static struct bufq_chunk *pool;
static size_t pool_len;

static struct bufq_chunk *
chunk_get(size_t chunk_size)
{
    struct bufq_chunk *c;

    if (chunk_size == BUF_CHUNK_SIZE && pool != NULL) {
        c = pool;
        pool = c->next;
        pool_len--;
        return c;
    }
    return xmalloc(sizeof(*c) + chunk_size);
}

static void
chunk_put(struct bufq_chunk *c, size_t chunk_size)
{
    if (c == NULL)
        return;
    if (chunk_size == BUF_CHUNK_SIZE && pool_len < POOL_MAX) {
        c->next = pool;
        pool = c;
        pool_len++;
        return;
    }
    free(c);
}

void
bufq_init(struct bufq *q, size_t chunk_size, size_t max_bytes)
{
    assert(chunk_size > 0 && max_bytes > 0);
    q->head = q->tail = q->spare = NULL;
    q->chunk_size = chunk_size;
    q->max_bytes = max_bytes;
    q->len = 0;
}

void
bufq_free(struct bufq *q)
{
    struct bufq_chunk *c, *next;

    for (c = q->head; c != NULL; c = next) {
        next = c->next;
        chunk_put(c, q->chunk_size);
    }
    chunk_put(q->spare, q->chunk_size);
    q->head = q->tail = q->spare = NULL;
    q->len = 0;
}

void
bufq_shrink(struct bufq *q)
{
    chunk_put(q->spare, q->chunk_size);
    q->spare = NULL;
    if (q->len == 0)
        bufq_free(q);
}

size_t
bufq_len(const struct bufq *q)
{
    return q->len;
}

bool
bufq_full(const struct bufq *q)
{
    return q->len >= q->max_bytes;
}

size_t
bufq_space(const struct bufq *q)
{
    return q->len >= q->max_bytes ? 0 : q->max_bytes - q->len;
}

/* Returns a chunk to append to, linking a new (or the spare) one when the
 * tail is full or missing. */
static struct bufq_chunk *
tail_with_room(struct bufq *q)
{
    struct bufq_chunk *c = q->tail;

    if (c != NULL && c->w < q->chunk_size)
        return c;
    if (q->spare != NULL) {
        c = q->spare;
        q->spare = NULL;
    } else {
        c = chunk_get(q->chunk_size);
    }
    c->next = NULL;
    c->r = c->w = 0;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    return c;
}

size_t
bufq_write_some(struct bufq *q, const void *p, size_t n)
{
    const uint8_t *src = p;
    size_t done = 0;

    if (n > bufq_space(q))
        n = bufq_space(q);
    while (done < n) {
        struct bufq_chunk *c = tail_with_room(q);
        size_t k = q->chunk_size - c->w;
        if (k > n - done)
            k = n - done;
        memcpy(c->data + c->w, src + done, k);
        c->w += k;
        done += k;
    }
    q->len += done;
    return done;
}

int
bufq_append(struct bufq *q, const void *p, size_t n)
{
    if (n > bufq_space(q))
        return PTTH_ELIMIT;
    bufq_write_some(q, p, n);
    return 0;
}

bool
bufq_peek(const struct bufq *q, const uint8_t **p, size_t *n)
{
    if (q->len == 0) {
        *p = NULL;
        *n = 0;
        return false;
    }
    /* Invariant: the head chunk is never empty while len > 0. */
    *p = q->head->data + q->head->r;
    *n = q->head->w - q->head->r;
    return true;
}

int
bufq_move(struct bufq *dst, struct bufq *src, size_t n)
{
    assert(n <= src->len);
    if (n > bufq_space(dst))
        return PTTH_ELIMIT;
    while (n > 0) {
        struct bufq_chunk *c = src->head;
        size_t k = c->w - c->r;

        if (k <= n && src->chunk_size == dst->chunk_size) {
            /* Relink the whole chunk: no copy. */
            if (dst->len == 0 && dst->head != NULL) {
                /* dst's emptied, rewound chunk cannot stay at the head. */
                struct bufq_chunk *e = dst->head;

                dst->head = dst->tail = NULL;
                if (dst->spare == NULL && dst->chunk_size != BUF_CHUNK_SIZE)
                    dst->spare = e;
                else
                    chunk_put(e, dst->chunk_size);
            }
            src->head = c->next;
            if (src->head == NULL)
                src->tail = NULL;
            src->len -= k;
            c->next = NULL;
            if (dst->tail != NULL)
                dst->tail->next = c;
            else
                dst->head = c;
            dst->tail = c;
            dst->len += k;
            n -= k;
            continue;
        }
        if (k > n)
            k = n;
        bufq_write_some(dst, c->data + c->r, k);
        bufq_consume(src, k);
        n -= k;
    }
    return 0;
}

int
bufq_peekv(const struct bufq *q, struct iovec *iov, int max)
{
    const struct bufq_chunk *c;
    int k = 0;

    for (c = q->head; c != NULL && k < max; c = c->next) {
        if (c->w == c->r)
            continue;
        iov[k].iov_base = (void *)(c->data + c->r);
        iov[k].iov_len = c->w - c->r;
        k++;
    }
    return k;
}

void
bufq_consume(struct bufq *q, size_t n)
{
    assert(n <= q->len);
    q->len -= n;
    while (n > 0) {
        struct bufq_chunk *c = q->head;
        size_t k = c->w - c->r;

        if (k > n)
            k = n;
        c->r += k;
        n -= k;
        if (c->r < c->w)
            break;
        if (c->next == NULL) {
            if (q->chunk_size == BUF_CHUNK_SIZE) {
                /* Emptied: back to the pool, so that idle queues (one per
                 * connection) hold no memory. */
                q->head = q->tail = NULL;
                chunk_put(c, q->chunk_size);
            } else {
                c->r = c->w = 0; /* sole chunk: rewind in place */
            }
            break;
        }
        q->head = c->next;
        if (q->spare == NULL && q->chunk_size != BUF_CHUNK_SIZE)
            q->spare = c;
        else
            chunk_put(c, q->chunk_size);
    }
}

size_t
bufq_read(struct bufq *q, void *dst, size_t n)
{
    uint8_t *out = dst;
    size_t done = 0;

    while (done < n) {
        const uint8_t *p;
        size_t k;

        if (!bufq_peek(q, &p, &k))
            break;
        if (k > n - done)
            k = n - done;
        memcpy(out + done, p, k);
        bufq_consume(q, k);
        done += k;
    }
    return done;
}
