/* SPDX-License-Identifier: MIT
 * xport.h - a byte transport: the fd to poll plus send/recv/close
 * functions. Accepted sockets (net.c) and edge connections dialled through
 * libcurl (dial.c) both present themselves this way, so conn.c and tls.c
 * run unchanged over either. */
#ifndef PTTH_XPORT_H
#define PTTH_XPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct xport {
    int fd; /* watched for readiness; owned through close() */
    void *arg;
    /* Returns bytes sent (> 0), PTTH_EAGAIN or PTTH_EIO. */
    long (*send)(void *arg, const uint8_t *p, size_t n);
    /* Gathering send of |n| iovecs; same returns as send. May be NULL. */
    long (*sendv)(void *arg, const struct iovec *iov, int n);
    /* Returns bytes read (> 0), 0 at EOF, PTTH_EAGAIN or PTTH_EIO. */
    long (*recv)(void *arg, uint8_t *p, size_t n);
    /* Half-closes the sending direction; 0 or PTTH_EIO. May be NULL. */
    int (*shutdown_write)(void *arg);
    /* Releases the fd and arg. Called once. */
    void (*close)(void *arg);
};

#endif /* PTTH_XPORT_H */
