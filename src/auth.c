/* SPDX-License-Identifier: MIT
 * auth.c - bearer tokens. */
#include "config.h"

#include "auth.h"

#include <string.h>

#include "util.h"

const char *
auth_bearer(const char *value, size_t *len)
{
    const char *p;
    size_t n;

    if (value == NULL || !str_nieq(value, "bearer ", 7))
        return NULL;
    p = value + 7;
    while (*p == ' ')
        p++;
    n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return NULL;
    *len = n;
    return p;
}

/* Constant time in the contents; the length of a candidate may leak, which
 * tells an attacker nothing useful about a random token. */
static bool
ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    volatile unsigned char acc = (unsigned char)(alen != blen);
    size_t i, n = alen < blen ? alen : blen;

    for (i = 0; i < n; i++)
        acc |= (unsigned char)(a[i] ^ b[i]);
    return acc == 0;
}

bool
auth_token_ok(char *const *tokens, size_t n, const char *tok, size_t len)
{
    bool found = false;
    size_t i;

    for (i = 0; i < n; i++) {
        if (ct_equal(tokens[i], strlen(tokens[i]), tok, len))
            found = true;
    }
    return found;
}
