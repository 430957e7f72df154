/* SPDX-License-Identifier: MIT
 * auth.h - bearer tokens: header parsing and constant-time comparison.
 * No library headers. */
#ifndef PTTH_AUTH_H
#define PTTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Extracts the token of "Bearer TOKEN" (scheme case-insensitive, one or
 * more spaces). Returns a pointer into value and its length in *len, or
 * NULL when the value is not a Bearer credential. */
const char *auth_bearer(const char *value, size_t *len);
/* True when tok (len bytes) equals one of tokens[0..n). Compares every
 * candidate in time independent of where the bytes differ. */
bool auth_token_ok(char *const *tokens, size_t n, const char *tok, size_t len);

#endif /* PTTH_AUTH_H */
