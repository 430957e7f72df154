/* SPDX-License-Identifier: MIT
 * Unit tests for hdr.c (header lists, hop-by-hop rules) and auth.c
 * (Bearer parsing, token comparison). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "../lib/tap.h"
#include "auth.h"
#include "hdr.h"

int
main(void)
{
    struct hdr_list l;
    char big[HDR_MAX_BYTES];
    char *tokens[] = {"alpha", "beta-2=="};
    const char *t;
    size_t n = 0, i;

    hdr_list_init(&l);
    is_int(hdr_add(&l, "Content-Type", 12, "text/plain", 10, HDR_LOWER), 0,
           "add a field");
    is_str(l.v[0].name, "content-type", "HDR_LOWER lower-cases the name");
    is_int(hdr_add(&l, "X-Keep", 6, "", 0, 0), 0, "empty value allowed");
    is_str(l.v[1].name, "X-Keep", "name kept as given without HDR_LOWER");
    ok(hdr_get(&l, "CONTENT-type") == &l.v[0], "hdr_get ignores case");
    ok(hdr_get(&l, "missing") == NULL, "hdr_get of a missing field");
    memset(big, 'a', sizeof(big));
    is_int(hdr_add(&l, "x-big", 5, big, sizeof(big), 0), PTTH_ELIMIT,
           "a field past HDR_MAX_BYTES refused");
    is_int((long long)l.n, 2, "list unchanged after a refusal");
    for (i = l.n; i < HDR_MAX_FIELDS; i++)
        hdr_add(&l, "x", 1, "y", 1, 0);
    is_int(hdr_add(&l, "x", 1, "y", 1, 0), PTTH_ELIMIT,
           "HDR_MAX_FIELDS enforced");
    hdr_list_free(&l);

    ok(hdr_is_hop_by_hop("Connection", 10), "connection is hop-by-hop");
    ok(hdr_is_hop_by_hop("transfer-encoding", 17), "transfer-encoding");
    ok(hdr_is_hop_by_hop("Keep-Alive", 10), "keep-alive");
    ok(hdr_is_hop_by_hop("upgrade", 7), "upgrade");
    ok(hdr_is_hop_by_hop("proxy-authorization", 19), "proxy-authorization");
    ok(!hdr_is_hop_by_hop("content-length", 14), "content-length is not");
    ok(!hdr_is_hop_by_hop("connectionx", 11), "no prefix matches");
    ok(!hdr_is_hop_by_hop("connectio", 9), "no short matches");
    {
        /* Every one of the ten, in any case, and same-length others. */
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
        static const char *const not_hop[] = {"tk",
                                              "trailes",
                                              "upgrades",
                                              "keep-alivf",
                                              "x-settings-h",
                                              "content-type",
                                              "proxy-connectiom",
                                              "transfer-encodinh",
                                              "proxy-authenticatf",
                                              "proxy-authorizatioo",
                                              "",
                                              "host"};
        char up[32];
        size_t k, j, all = 0, none = 0;

        for (k = 0; k < sizeof(hop) / sizeof(hop[0]); k++) {
            for (j = 0; hop[k][j] != '\0'; j++)
                up[j] =
                    (char)(hop[k][j] >= 'a' && hop[k][j] <= 'z' ? hop[k][j] - 32
                                                                : hop[k][j]);
            all += hdr_is_hop_by_hop(hop[k], strlen(hop[k])) &&
                   hdr_is_hop_by_hop(up, j);
        }
        for (k = 0; k < sizeof(not_hop) / sizeof(not_hop[0]); k++)
            none += !hdr_is_hop_by_hop(not_hop[k], strlen(not_hop[k]));
        ok(all == 10, "all ten hop-by-hop names, lower and upper case");
        ok(none == sizeof(not_hop) / sizeof(not_hop[0]),
           "near misses of every length are not hop-by-hop");
    }

    {
        static const char *names[] = {"connection", "Connection", "x-hop",
                                      "X-Other",    "third",      "x-ho",
                                      "keep-alive", "x-hop",      "x-kept"};
        bool listed[9];
        size_t k, got = 0;
        char val[200], *p = val;

        hdr_list_init(&l);
        hdr_add(&l, names[0], 10, "close, X-Hop ,  x-other,,", 25, 0);
        hdr_add(&l, names[1], 10, "third", 5, 0);
        for (k = 2; k < 9; k++)
            hdr_add(&l, names[k], strlen(names[k]), "v", 1, 0);
        ok(hdr_connection_listed(&l, listed) == 0, "connection options: 0");
        for (k = 0; k < 9; k++)
            got |= (size_t)listed[k] << k;
        /* x-hop (case), X-Other (after spaces), third (second field), the
         * repeated x-hop; not x-ho (no partial token), keep-alive, x-kept */
        ok(got == ((1u << 2) | (1u << 3) | (1u << 4) | (1u << 7)),
           "listed: case, spaces, a second field, repeats; no partial token "
           "(mask %#zx)",
           got);
        ok(hdr_remove_hop_by_hop(&l) == 0 && l.n == 2 &&
               strcmp(l.v[0].name, "x-ho") == 0 &&
               strcmp(l.v[1].name, "x-kept") == 0,
           "remove: hop-by-hop and listed fields gone, order kept");
        hdr_list_free(&l);

        hdr_list_init(&l);
        hdr_add(&l, "Content-Length", 14, "5", 1, 0);
        hdr_add(&l, "a", 1, "1", 1, 0);
        hdr_add(&l, "content-length", 14, "5", 1, 0);
        hdr_add(&l, "b", 1, "2", 1, 0);
        hdr_remove(&l, "content-length");
        ok(l.n == 2 && strcmp(l.v[0].name, "a") == 0 &&
               strcmp(l.v[1].name, "b") == 0 && l.bytes == 4,
           "hdr_remove: every field of that name (any case), order kept");
        hdr_list_free(&l);

        /* 16 options pass, 17 are refused, and the list stays as it was */
        for (k = 0; k < HDR_MAX_CONN_OPTS; k++)
            p += sprintf(p, "o%zu,", k);
        hdr_list_init(&l);
        hdr_add(&l, "connection", 10, val, strlen(val), 0);
        hdr_add(&l, "o3", 2, "v", 1, 0);
        ok(hdr_connection_listed(&l, listed) == 0 && listed[1],
           "%u connection options are fine", HDR_MAX_CONN_OPTS);
        hdr_list_free(&l);
        strcpy(p, " extra");
        hdr_list_init(&l);
        hdr_add(&l, "connection", 10, val, strlen(val), 0);
        hdr_add(&l, "o3", 2, "v", 1, 0);
        ok(hdr_connection_listed(&l, listed) == PTTH_ELIMIT && !listed[1],
           "one more is PTTH_ELIMIT, nothing listed");
        ok(hdr_remove_hop_by_hop(&l) == PTTH_ELIMIT && l.n == 2,
           "remove refuses too, the list unchanged");
        hdr_list_free(&l);
    }

    t = auth_bearer("Bearer abc.def", &n);
    ok(t != NULL && n == 7 && memcmp(t, "abc.def", 7) == 0, "Bearer parsed");
    t = auth_bearer("bearer   tok  ", &n);
    ok(t != NULL && n == 3 && memcmp(t, "tok", 3) == 0,
       "scheme case and spaces");
    ok(auth_bearer("Basic dXNlcg==", &n) == NULL, "Basic is not Bearer");
    ok(auth_bearer("Bearer ", &n) == NULL, "empty token refused");
    ok(auth_bearer("Bearerx tok", &n) == NULL, "scheme must end");
    ok(auth_token_ok(tokens, 2, "beta-2==", 8), "second token accepted");
    ok(auth_token_ok(tokens, 2, "alpha", 5), "first token accepted");
    ok(!auth_token_ok(tokens, 2, "alph", 4), "prefix refused");
    ok(!auth_token_ok(tokens, 2, "alphaa", 6), "longer refused");
    ok(!auth_token_ok(tokens, 2, "Alpha", 5), "case matters");
    ok(!auth_token_ok(tokens, 0, "alpha", 5), "no tokens: nothing accepted");
    return done_testing();
}
