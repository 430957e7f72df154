/* SPDX-License-Identifier: MIT
 * worker.h - `ptth expose` for HTTP targets: dial the edge, PTTH-01
 * handshake, then serve the edge's HTTP/2 requests from the local service
 * through upstream.c; reconnect with backoff; drain on SIGINT/SIGTERM. */
#ifndef PTTH_WORKER_H
#define PTTH_WORKER_H

struct cfg;

/* Runs the worker. Returns the process exit status: 0 after a clean stop,
 * 4 edge unreachable once --retries are spent, 5 TLS, 6 refused (401/403),
 * 7 name conflict (409), 3 unreadable CA file, or --exec's status. */
int worker_main(const struct cfg *cfg);

#endif /* PTTH_WORKER_H */
