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
    for (i = 0; i < l->n; i++)
        free(l->v[i].name); /* the value shares this allocation */
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
    h->name = xmalloc(name_len + value_len + 2);
    memcpy(h->name, name, name_len);
    h->name[name_len] = '\0';
    h->value = h->name + name_len + 1;
    memcpy(h->value, value, value_len);
    h->value[value_len] = '\0';
    h->name_len = name_len;
    h->value_len = value_len;
    if (flags & HDR_LOWER) {
        for (i = 0; i < name_len; i++)
            h->name[i] = ascii_lower(h->name[i]);
    }
    l->bytes += name_len + value_len;
    return 0;
}

int
hdr_append_value(struct hdr_list *l, size_t i, const char *more, size_t n)
{
    struct hdr *h = &l->v[i];
    size_t vlen = h->value_len + 1 + n;
    char *name;

    if (l->bytes + n + 1 > HDR_MAX_BYTES)
        return PTTH_ELIMIT;
    name = xmalloc(h->name_len + vlen + 2);
    memcpy(name, h->name, h->name_len + 1);
    memcpy(name + h->name_len + 1, h->value, h->value_len);
    name[h->name_len + 1 + h->value_len] = ' ';
    memcpy(name + h->name_len + 2 + h->value_len, more, n);
    name[h->name_len + 1 + vlen] = '\0';
    free(h->name);
    h->name = name;
    h->value = name + h->name_len + 1;
    h->value_len = vlen;
    l->bytes += n + 1;
    return 0;
}

int
hdr_remove_hop_by_hop(struct hdr_list *l)
{
    bool listed[HDR_MAX_FIELDS]; /* hdr_add keeps l->n within it */
    size_t i, k = 0;

    if (hdr_connection_listed(l, listed) != 0)
        return PTTH_ELIMIT;
    for (i = 0; i < l->n; i++) {
        struct hdr *h = &l->v[i];

        if (hdr_is_hop_by_hop(h->name, h->name_len) || listed[i]) {
            l->bytes -= h->name_len + h->value_len;
            continue;
        }
        if (k != i) {
            struct hdr t = l->v[k];
            l->v[k] = *h;
            *h = t;
        }
        k++;
    }
    for (i = k; i < l->n; i++)
        free(l->v[i].name);
    l->n = k;
    return 0;
}

void
hdr_remove(struct hdr_list *l, const char *name)
{
    size_t i, k = 0;

    for (i = 0; i < l->n; i++) {
        if (str_ieq(l->v[i].name, name)) {
            l->bytes -= l->v[i].name_len + l->v[i].value_len;
            free(l->v[i].name);
            continue;
        }
        l->v[k++] = l->v[i];
    }
    l->n = k;
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
    /* By length first: this runs for every field of every message. */
    switch (len) {
    case 2:
        return str_nieq(name, "te", 2);
    case 7:
        return str_nieq(name, "upgrade", 7) || str_nieq(name, "trailer", 7);
    case 10:
        return str_nieq(name, "connection", 10) ||
               str_nieq(name, "keep-alive", 10);
    case 14:
        return str_nieq(name, "http2-settings", 14);
    case 16:
        return str_nieq(name, "proxy-connection", 16);
    case 17:
        return str_nieq(name, "transfer-encoding", 17);
    case 18:
        return str_nieq(name, "proxy-authenticate", 18);
    case 19:
        return str_nieq(name, "proxy-authorization", 19);
    default:
        return false;
    }
}

int
hdr_connection_listed(const struct hdr_list *l, bool *listed)
{
    struct {
        const char *s;
        size_t n;
    } opt[HDR_MAX_CONN_OPTS];
    size_t nopt = 0, i, j;

    for (i = 0; i < l->n; i++)
        listed[i] = false;
    for (i = 0; i < l->n; i++) {
        const char *p = l->v[i].value;

        if (l->v[i].name_len != 10 || !str_nieq(l->v[i].name, "connection", 10))
            continue;
        while (*p != '\0') {
            const char *t;
            size_t n;

            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            t = p;
            while (*p != '\0' && *p != ',')
                p++;
            n = (size_t)(p - t);
            while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
                n--;
            if (n == 0)
                continue;
            if (nopt == HDR_MAX_CONN_OPTS)
                return PTTH_ELIMIT;
            opt[nopt].s = t;
            opt[nopt].n = n;
            nopt++;
        }
    }
    for (i = 0; i < l->n && nopt > 0; i++) {
        for (j = 0; j < nopt; j++) {
            if (opt[j].n == l->v[i].name_len &&
                str_nieq(opt[j].s, l->v[i].name, opt[j].n)) {
                listed[i] = true;
                break;
            }
        }
    }
    return 0;
}
