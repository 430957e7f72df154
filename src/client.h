/* SPDX-License-Identifier: MIT
 * client.h - `ptth connect`: byte streams to a TCP service that a worker
 * exposed, each one an HTTP/2 CONNECT stream (RFC 9113 8.5) on a
 * connection to the edge, carried over stdin/stdout or, with --listen,
 * one per accepted local connection. */
#ifndef PTTH_CLIENT_H
#define PTTH_CLIENT_H

struct cfg;

/* Runs `ptth connect` as |cfg| says (cfg->cmd == CMD_CONNECT): in stdio
 * mode until the stream has ended, with --listen until SIGINT/SIGTERM.
 * Returns the exit status (SPEC 3.5): 0 success or a clean shutdown on a
 * signal, 1 stream or connection lost or refused otherwise, 3 cannot
 * listen or load the CA store, 4 edge unreachable, 5 TLS failure, 6
 * credentials refused, 8 no such tunnel or service. Logs its own errors.
 * Owns fds 0 and 1 (and SIGINT/SIGTERM) while it runs; their file status
 * flags are restored before it returns. Not reentrant. */
int client_main(const struct cfg *cfg);

#endif /* PTTH_CLIENT_H */
