/* SPDX-License-Identifier: MIT
 * buf.h - byte buffers. struct buf is one fixed-capacity buffer (read side
 * of a connection); struct bufq is a capped chain of chunks (write side,
 * after curl's bufq). No library headers; single-threaded. */
#ifndef PTTH_BUF_H
#define PTTH_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ptth.h"

/* One TLS record; the default for struct buf and bufq chunks. */
#define BUF_CHUNK_SIZE 16384

/* Unread bytes are data[off, off + len); free tail is [off + len, cap). */
struct buf {
    uint8_t *data;
    size_t cap, off, len;
};

/* Allocates |cap| (> 0) bytes; aborts on exhaustion. Never calls back. */
void buf_init(struct buf *b, size_t cap);
/* Releases the storage and zeroes |b|; buf_init may follow. NULL is fine. */
void buf_free(struct buf *b);
/* Returns the number of unread bytes. */
size_t buf_len(const struct buf *b);
/* Returns the first unread byte; valid until buf_space/compact/free. */
const uint8_t *buf_data(const struct buf *b);
/* Returns the free tail and its size in *avail (0 when full). Moves the
 * unread bytes to the front first when the tail is full but consumed room
 * exists, which invalidates buf_data pointers. */
uint8_t *buf_space(struct buf *b, size_t *avail);
/* Marks |n| bytes written into buf_space as data; n must fit (asserted). */
void buf_commit(struct buf *b, size_t n);
/* Drops |n| <= buf_len unread bytes; an emptied buffer rewinds to 0. */
void buf_consume(struct buf *b, size_t n);
/* Moves the unread bytes to the front; invalidates buf_data pointers. */
void buf_compact(struct buf *b);
/* Copies |n| bytes in, all or nothing. Returns 0 or PTTH_ELIMIT. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Forgets all data (keeps the storage). */
void buf_reset(struct buf *b);

struct bufq_chunk;

/* Capped FIFO of bytes stored in chunks of chunk_size. Appends never move
 * stored bytes, so a pointer from bufq_peek stays valid across appends and
 * until the next consume/read/shrink/free (safe for mbedTLS write retry). */
struct bufq {
    struct bufq_chunk *head, *tail; /* head == NULL when no chunks */
    struct bufq_chunk *spare;       /* one spent chunk kept for reuse
                                     * (other sizes: BUF_CHUNK_SIZE chunks
                                     * go back to the shared pool) */
    size_t chunk_size, max_bytes, len;
};

/* Sets up an empty queue; allocates nothing. chunk_size and max_bytes must
 * be > 0 (asserted): every queue has a cap. */
void bufq_init(struct bufq *q, size_t chunk_size, size_t max_bytes);
/* Frees every chunk and empties |q|; the settings stay, so |q| is usable.
 */
void bufq_free(struct bufq *q);
/* Releases cached memory of an idle queue (the spare chunk and an empty
 * head chunk); use when an object goes quiet. Data is kept. */
void bufq_shrink(struct bufq *q);
/* Returns the number of queued bytes. */
size_t bufq_len(const struct bufq *q);
/* True when len >= max_bytes. */
bool bufq_full(const struct bufq *q);
/* Returns max_bytes - len: how much an append may still add. */
size_t bufq_space(const struct bufq *q);
/* Appends all |n| bytes (copied) or nothing. Returns 0, or PTTH_ELIMIT
 * when that would exceed max_bytes (queue unchanged). */
int bufq_append(struct bufq *q, const void *p, size_t n);
/* Appends as much of |n| bytes as fits the cap; returns the count. */
size_t bufq_write_some(struct bufq *q, const void *p, size_t n);
/* Sets *p and *n to the first contiguous run of queued bytes. Returns false
 * (and NULL/0) when empty. */
bool bufq_peek(const struct bufq *q, const uint8_t **p, size_t *n);
/* Moves the first |n| <= bufq_len(src) bytes of src to the end of dst,
 * relinking whole chunks where the chunk sizes match (no copy). Returns 0,
 * or PTTH_ELIMIT when dst's cap would be passed (nothing moved). */
int bufq_move(struct bufq *dst, struct bufq *src, size_t n);
/* Fills up to |max| iovecs with the queued runs, front first, for a
 * gathering write; returns how many were filled (0 when empty). Valid
 * until the next consume/read/shrink/free. */
int bufq_peekv(const struct bufq *q, struct iovec *iov, int max);
/* Drops |n| <= bufq_len bytes from the front (asserted). */
void bufq_consume(struct bufq *q, size_t n);
/* Copies up to |n| bytes out to |dst| and consumes them; returns count. */
size_t bufq_read(struct bufq *q, void *dst, size_t n);

#endif /* PTTH_BUF_H */
