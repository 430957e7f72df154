/* SPDX-License-Identifier: MIT
 * hdr_fuzz.c - libFuzzer target for hdr.c: the input is header lines
 * ("name:value", one per '\n'; a line without ':' is a name with an empty
 * value), added with hdr_add until it refuses. Then, checked against a
 * naive model written here:
 *   - hdr_connection_listed marks exactly the fields whose name equals,
 *     ignoring case, a token of a Connection value (tokens split at ',',
 *     blanks trimmed), or refuses (PTTH_ELIMIT) exactly when the values
 *     hold more than HDR_MAX_CONN_OPTS tokens, with nothing marked;
 *   - hdr_remove_hop_by_hop keeps exactly the fields neither hop-by-hop
 *     nor marked, in order, with the byte count summed again; or refuses
 *     and leaves the list as it was.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I<cfg> -Isrc
 *        fuzz/hdr_fuzz.c src/hdr.c src/util.c */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"
#include "hdr.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The model: does |name| appear as a token of some Connection value? Also
 * counts the tokens (non-empty after trimming) into *ntok. */
static bool
model_listed(const struct hdr_list *l, const char *name, size_t len,
             size_t *ntok)
{
    bool found = false;
    size_t i;

    *ntok = 0;
    for (i = 0; i < l->n; i++) {
        const char *v = l->v[i].value, *end = v + l->v[i].value_len;

        if (strcasecmp(l->v[i].name, "connection") != 0)
            continue;
        while (v <= end) {
            const char *comma = memchr(v, ',', (size_t)(end - v));
            const char *e = comma != NULL ? comma : end, *s = v;

            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > s) {
                (*ntok)++;
                if ((size_t)(e - s) == len && strncasecmp(s, name, len) == 0)
                    found = true;
            }
            if (comma == NULL)
                break;
            v = comma + 1;
        }
    }
    return found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdr_list l, copy;
    bool *listed, *want;
    size_t i, k, ntok = 0, bytes = 0;
    const uint8_t *p = data, *end = data + size;
    int rc;

    hdr_list_init(&l);
    hdr_list_init(&copy);
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *e = nl != NULL ? nl : end;
        const uint8_t *colon = memchr(p, ':', (size_t)(e - p));
        const uint8_t *v = colon != NULL ? colon + 1 : e;

        /* The value is a C string to hdr.c: no NUL inside. */
        if (memchr(v, '\0', (size_t)(e - v)) == NULL &&
            memchr(p, '\0', (size_t)((colon != NULL ? colon : e) - p)) ==
                NULL) {
            const char *name = (const char *)p, *val = (const char *)v;
            size_t nlen = (size_t)((colon != NULL ? colon : e) - p);

            if (hdr_add(&l, name, nlen, val, (size_t)(e - v), 0) != 0)
                break;
            hdr_add(&copy, name, nlen, val, (size_t)(e - v), 0);
        }
        p = nl != NULL ? nl + 1 : end;
    }
    listed = calloc(l.n + 1, sizeof(*listed));
    want = calloc(l.n + 1, sizeof(*want));
    CHECK(listed != NULL && want != NULL);
    for (i = 0; i < l.n; i++)
        want[i] = model_listed(&l, l.v[i].name, l.v[i].name_len, &ntok);
    if (l.n == 0)
        model_listed(&l, "", 0, &ntok);
    rc = hdr_connection_listed(&l, listed);
    if (ntok > HDR_MAX_CONN_OPTS) {
        CHECK(rc == PTTH_ELIMIT);
        for (i = 0; i < l.n; i++)
            CHECK(!listed[i]);
    } else {
        CHECK(rc == 0);
        for (i = 0; i < l.n; i++)
            CHECK(listed[i] == want[i]);
    }

    rc = hdr_remove_hop_by_hop(&l);
    if (ntok > HDR_MAX_CONN_OPTS) {
        CHECK(rc == PTTH_ELIMIT && l.n == copy.n && l.bytes == copy.bytes);
        for (i = 0; i < l.n; i++)
            CHECK(strcmp(l.v[i].name, copy.v[i].name) == 0 &&
                  strcmp(l.v[i].value, copy.v[i].value) == 0);
    } else {
        CHECK(rc == 0);
        for (i = 0, k = 0; i < copy.n; i++) {
            const struct hdr *h = &copy.v[i];

            if (hdr_is_hop_by_hop(h->name, h->name_len) || want[i])
                continue;
            CHECK(k < l.n && l.v[k].name_len == h->name_len &&
                  memcmp(l.v[k].name, h->name, h->name_len) == 0 &&
                  l.v[k].value_len == h->value_len &&
                  memcmp(l.v[k].value, h->value, h->value_len) == 0);
            bytes += h->name_len + h->value_len;
            k++;
        }
        CHECK(k == l.n && bytes == l.bytes);
    }
    free(listed);
    free(want);
    hdr_list_free(&l);
    hdr_list_free(&copy);
    return 0;
}
