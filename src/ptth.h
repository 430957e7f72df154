/* SPDX-License-Identifier: MIT
 * ptth.h - error codes, exit statuses and small macros shared by every
 * module. Included (after config.h) by every source file. */
#ifndef PTTH_PTTH_H
#define PTTH_PTTH_H

#include <stddef.h>

/* Functions return 0 on success or one of these (all negative). */
enum ptth_err {
    PTTH_EAGAIN = -1,  /* would block; wait for the loop */
    PTTH_ECLOSED = -2, /* orderly EOF from the peer */
    PTTH_EIO = -3,     /* a system call failed; errno kept by the caller */
    PTTH_ETLS = -4,    /* TLS failure; detail kept in the tls object */
    PTTH_EPROTO = -5,  /* the peer broke HTTP/1, HTTP/2 or the handshake */
    PTTH_ELIMIT = -6,  /* a configured limit was hit */
    PTTH_EINVAL = -7,  /* bad argument or configuration */
    PTTH_EAUTH = -8,   /* credentials refused */
    PTTH_ENOENT = -9,  /* no such file, tunnel or service */
};

/* Process exit statuses (SPEC 3.5; documented in every man page). */
enum ptth_exit {
    PTTH_EXIT_OK = 0,
    PTTH_EXIT_INTERNAL = 1,
    PTTH_EXIT_USAGE = 2,
    PTTH_EXIT_RESOURCE = 3,
    PTTH_EXIT_UNREACHABLE = 4,
    PTTH_EXIT_TLS = 5,
    PTTH_EXIT_AUTH = 6,
    PTTH_EXIT_CONFLICT = 7,
    PTTH_EXIT_NOTFOUND = 8,
};

/* Returns a static description of a PTTH_E* code (or "success"). */
const char *ptth_strerror(int rc);

#define PTTH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PTTH_NORETURN __attribute__((noreturn))
#define PTTH_UNUSED __attribute__((unused))
#define PTTH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* PTTH_PTTH_H */
