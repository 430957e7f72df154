/* SPDX-License-Identifier: MIT
 * hdr.c - header lists and hop-by-hop rules. */
#include "config.h"

#include "hdr.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void
hdr_list_init(struct hdr_list *l)
{
    memset(l, 0, sizeof(*l));
}

void
hdr_list_free(struct hdr_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int
hdr_add(struct hdr_list *l, const char *name, size_t name_len,
        const char *value, size_t value_len, unsigned flags)
{
    struct hdr *h;
    size_t i;

    if (l->n >= HDR_MAX_FIELDS || name_len + value_len > HDR_MAX_BYTES ||
        l->bytes + name_len + value_len > HDR_MAX_BYTES)
        return PTTH_ELIMIT;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    h = &l->v[l->n++];
    h->name = xstrndup(name, name_len);
    h->value = xstrndup(value, value_len);
    h->name_len = name_len;
    h->value_len = value_len;
    if (flags & HDR_LOWER) {
        for (i = 0; i < name_len; i++)
            h->name[i] = ascii_lower(h->name[i]);
    }
    l->bytes += name_len + value_len;
    return 0;
}

const struct hdr *
hdr_get(const struct hdr_list *l, const char *name)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        if (str_ieq(l->v[i].name, name))
            return &l->v[i];
    }
    return NULL;
}

bool
hdr_is_hop_by_hop(const char *name, size_t len)
{
    static const char *const hop[] = {"connection",
                                      "keep-alive",
                                      "proxy-connection",
                                      "te",
                                      "trailer",
                                      "transfer-encoding",
                                      "upgrade",
                                      "proxy-authorization",
                                      "proxy-authenticate",
                                      "http2-settings"};
    size_t i;

    for (i = 0; i < PTTH_ARRAY_LEN(hop); i++) {
        if (strlen(hop[i]) == len && str_nieq(name, hop[i], len))
            return true;
    }
    return false;
}

bool
hdr_listed_in_connection(const struct hdr_list *l, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        const char *p = l->v[i].value;
        if (!str_ieq(l->v[i].name, "connection"))
            continue;
        while (*p != '\0') {
            const char *s;
            size_t n;
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            s = p;
            while (*p != '\0' && *p != ',')
                p++;
            n = (size_t)(p - s);
            while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            if (n == len && n > 0 && str_nieq(s, name, len))
                return true;
        }
    }
    return false;
}
