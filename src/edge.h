/* SPDX-License-Identifier: MIT
 * edge.h - `ptth serve`: listeners, worker registration (PTTH-01
 * handshake), public HTTP/1.1 and HTTP/2 clients, and the bridge from each
 * client request to an HTTP/2 stream on a worker's connection. */
#ifndef PTTH_EDGE_H
#define PTTH_EDGE_H

struct cfg;

/* Runs the edge until SIGINT/SIGTERM and the grace period are over.
 * Returns the process exit status (0, or 3 when a listener or the
 * certificate cannot be set up). */
int edge_main(const struct cfg *cfg);

#endif /* PTTH_EDGE_H */
