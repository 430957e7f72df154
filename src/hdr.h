/* SPDX-License-Identifier: MIT
 * hdr.h - header lists and the HTTP rules shared by the edge and the
 * worker: hop-by-hop fields, lower-casing, size caps. No library headers. */
#ifndef PTTH_HDR_H
#define PTTH_HDR_H

#include <stdbool.h>
#include <stddef.h>

#include "ptth.h"

/* Upper bound on the bytes of one header list (names + values). */
#define HDR_MAX_BYTES (64u * 1024u)
#define HDR_MAX_FIELDS 200u

struct hdr {
    char *name;  /* NUL-terminated; lower case when added with HDR_LOWER */
    char *value; /* NUL-terminated */
    size_t name_len;
    size_t value_len;
};

struct hdr_list {
    struct hdr *v;
    size_t n;
    size_t cap;
    size_t bytes; /* sum of name_len + value_len */
};

#define HDR_LOWER 0x1u /* lower-case the name while copying */

void hdr_list_init(struct hdr_list *l);
void hdr_list_free(struct hdr_list *l);
/* Copies one field in. Returns 0 or PTTH_ELIMIT past HDR_MAX_BYTES or
 * HDR_MAX_FIELDS (the list is unchanged then). */
int hdr_add(struct hdr_list *l, const char *name, size_t name_len,
            const char *value, size_t value_len, unsigned flags);
/* Appends " " and |n| bytes of |more| to the value of field |i| (obsolete
 * line folding). Returns 0 or PTTH_ELIMIT past HDR_MAX_BYTES (unchanged).
 * Pointers to that field's name and value become invalid. */
int hdr_append_value(struct hdr_list *l, size_t i, const char *more, size_t n);
/* Most connection options (names in Connection fields) a message may
 * list; real ones list a few ("close", "Upgrade", "HTTP2-Settings"). */
#define HDR_MAX_CONN_OPTS 16u

/* Removes, in place and keeping the order, the hop-by-hop fields and the
 * fields the Connection fields name. Returns 0, or PTTH_ELIMIT when they
 * name more than HDR_MAX_CONN_OPTS (the list is unchanged then). */
int hdr_remove_hop_by_hop(struct hdr_list *l);
/* Removes every field called name (case-insensitive), keeping the order
 * of the others. */
void hdr_remove(struct hdr_list *l, const char *name);
/* First field called name (case-insensitive), or NULL. */
const struct hdr *hdr_get(const struct hdr_list *l, const char *name);

/* True for the connection-specific fields that never cross a hop:
 * connection, keep-alive, proxy-connection, transfer-encoding, upgrade,
 * te, trailer, proxy-authorization... (RFC 9110 7.6.1, RFC 9113 8.2.2). */
bool hdr_is_hop_by_hop(const char *name, size_t len);
/* Sets listed[i] (l->n entries, caller's array) when field i's name is a
 * token of a Connection field of l: one more hop-by-hop field. Returns 0,
 * or PTTH_ELIMIT past HDR_MAX_CONN_OPTS tokens (listed[] all false). The
 * work is bounded by the list's bytes times HDR_MAX_CONN_OPTS: a field
 * list is not scanned again for every field. */
int hdr_connection_listed(const struct hdr_list *l, bool *listed);

#endif /* PTTH_HDR_H */
