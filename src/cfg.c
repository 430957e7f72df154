/* SPDX-License-Identifier: MIT
 * cfg.c - validation of the command line into struct cfg. URLs are parsed
 * with libcurl's URL API so that ptth and the dialer agree on them. */
#include "config.h"

#include "cfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "curl_dl.h"
#include "util.h"

#define DEFAULT_EDGE "http://127.0.0.1:8080"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_GRACE_MS 10000u
#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_IDLE_TIMEOUT_MS 60000u
#define DEFAULT_NAME_HOLD_MS 60000u
#define DEFAULT_PING_INTERVAL_MS 20000u
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define MAX_TOKEN_LEN 4096

static bool
host_is_loopback(const char *host)
{
    unsigned char a[16];

    if (str_ieq(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        return memcmp(a, one, 16) == 0;
    }
    return false;
}

/* A host name or address literal we are willing to pass to the resolver. */
static bool
host_is_valid(const char *h)
{
    unsigned char a[16];
    size_t i, n = strlen(h);

    if (n == 0 || n > 253)
        return false;
    if (inet_pton(AF_INET6, h, a) == 1)
        return true;
    for (i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

int
cfg_parse_addr(const char *addr, const char *default_host,
               struct listen_spec *out)
{
    const char *colon;
    char *host;
    int port;

    memset(out, 0, sizeof(*out));
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return PTTH_EINVAL;
        host = xstrndup(addr + 1, (size_t)(close - addr - 1));
        colon = close + 1;
        if (strchr(host, ':') == NULL) {
            free(host);
            return PTTH_EINVAL;
        }
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            if (default_host == NULL)
                return PTTH_EINVAL;
            host = xstrdup(default_host);
            colon = addr - 1;
        } else {
            host = xstrndup(addr, (size_t)(colon - addr));
            if (strchr(host, ':') != NULL) { /* bare v6 needs brackets */
                free(host);
                return PTTH_EINVAL;
            }
        }
    }
    if (!host_is_valid(host) || parse_port(colon + 1, &port) != 0) {
        free(host);
        return PTTH_EINVAL;
    }
    out->host = host;
    out->port = port;
    out->loopback = host_is_loopback(host);
    return 0;
}

static void
listen_spec_free(struct listen_spec *l)
{
    free(l->host);
    l->host = NULL;
}

/* Parses an http(s) URL into scheme, host, port and path. Returns 0,
 * PTTH_EINVAL, or PTTH_EIO when libcurl cannot be loaded (said here). */
static int
parse_url(const char *url, char **scheme, char **host, int *port, char **path)
{
    CURLU *u;
    char *s = NULL, *h = NULL, *p = NULL, *pa = NULL, err[512];
    int rc = PTTH_EINVAL;
    long portnum;

    if (curl_dl_load(err, sizeof(err)) != 0) {
        fprintf(stderr, "ptth: %s\n", err);
        return PTTH_EIO;
    }
    if ((u = curl_url()) == NULL) {
        fprintf(stderr, "ptth: out of memory parsing '%s'\n", url);
        return PTTH_EIO;
    }
    {
        /* libcurl reads http:///x as http://x/: an empty authority is
         * refused here instead. */
        const char *a = strstr(url, "://");
        if (a == NULL || a[3] == '/' || a[3] == '\0')
            goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
        CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK ||
        (strcmp(s, "http") != 0 && strcmp(s, "https") != 0))
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || *h == '\0')
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        parse_long(p, 1, 65535, &portnum) != 0)
        goto out;
    if (curl_url_get(u, CURLUPART_PATH, &pa, 0) != CURLUE_OK)
        goto out;
    {
        /* Reject user:password@ (secrets belong in --token-file), queries
         * and fragments: they have no meaning here. */
        char *x = NULL;
        bool extra = false;
        if (curl_url_get(u, CURLUPART_USER, &x, 0) == CURLUE_OK)
            extra = true;
        curl_free(x);
        x = NULL;
        if (curl_url_get(u, CURLUPART_QUERY, &x, 0) == CURLUE_OK)
            extra = true;
        curl_free(x);
        x = NULL;
        if (curl_url_get(u, CURLUPART_FRAGMENT, &x, 0) == CURLUE_OK)
            extra = true;
        curl_free(x);
        if (extra)
            goto out;
    }
    *scheme = xstrdup(s);
    if (h[0] == '[') /* curl keeps the brackets of a v6 literal */
        *host = xstrndup(h + 1, strlen(h) - 2);
    else
        *host = xstrdup(h);
    *port = (int)portnum;
    if (path != NULL) {
        size_t n = strlen(pa);
        while (n > 0 && pa[n - 1] == '/')
            n--;
        *path = xstrndup(pa, n);
    }
    rc = 0;
out:
    curl_free(s);
    curl_free(h);
    curl_free(p);
    curl_free(pa);
    curl_url_cleanup(u);
    return rc;
}

static bool
is_token68(const char *t)
{
    size_t i = 0, n = strlen(t);

    if (n == 0 || n > MAX_TOKEN_LEN)
        return false;
    for (; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
              c == '~' || c == '+' || c == '/'))
            break;
    }
    for (; i < n && t[i] == '='; i++)
        ;
    return i == n;
}

static void
add_token(struct cfg *cfg, const char *t, size_t n)
{
    cfg->tokens =
        xrealloc(cfg->tokens, (cfg->ntokens + 1) * sizeof(*cfg->tokens));
    cfg->tokens[cfg->ntokens++] = xstrndup(t, n);
}

/* Reads tokens, one a line; blank lines and lines starting with '#' are
 * skipped; trailing white space (and CR) is not part of a token. */
static int
read_token_file(struct cfg *cfg, const struct optval *v, bool first_only)
{
    FILE *f = fopen(v->str, "r");
    char line[MAX_TOKEN_LEN + 2];
    int lineno = 0;
    size_t before = cfg->ntokens;
    struct stat st;

    if (f == NULL) {
        cli_error(cfg->cmd, "%s '%s': %s", v->src, v->str, strerror(errno));
        return PTTH_ENOENT;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_error(cfg->cmd, "%s '%s': is a directory", v->src, v->str);
        fclose(f);
        return PTTH_ENOENT;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        const char *p = line;
        lineno++;
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            cli_error(cfg->cmd, "%s '%s': line %d is too long", v->src, v->str,
                      lineno);
            fclose(f);
            ptth_wipe(line, sizeof(line));
            return PTTH_EINVAL;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                         line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (!is_token68(p)) {
            cli_error(cfg->cmd,
                      "%s '%s': line %d is not a valid token "
                      "(letters, digits, -._~+/ then '=')",
                      v->src, v->str, lineno);
            fclose(f);
            ptth_wipe(line, sizeof(line));
            return PTTH_EINVAL;
        }
        add_token(cfg, p, strlen(p));
        if (first_only)
            break;
    }
    ptth_wipe(line, sizeof(line));
    if (ferror(f)) {
        cli_error(cfg->cmd, "%s '%s': cannot read it", v->src, v->str);
        fclose(f);
        return PTTH_ENOENT;
    }
    fclose(f);
    if (cfg->ntokens == before) {
        cli_error(cfg->cmd, "%s '%s': no token in file", v->src, v->str);
        return PTTH_EINVAL;
    }
    return 0;
}

static bool
from_env(const struct optval *v)
{
    return v->set && v->src != NULL && v->src[0] != '-';
}

static int
load_tokens(struct cfg *cfg, const struct cli *c)
{
    const struct optval *tok = &c->v[O_TOKEN], *file = &c->v[O_TOKEN_FILE];
    size_t i;

    if (cfg->cmd == CMD_SERVE) {
        for (i = 0; i < tok->nlist; i++) {
            if (!is_token68(tok->list[i])) {
                cli_error(cfg->cmd,
                          "invalid %s (letters, digits, -._~+/ "
                          "then '=')",
                          tok->src);
                return PTTH_EINVAL;
            }
            add_token(cfg, tok->list[i], strlen(tok->list[i]));
        }
        return file->set ? read_token_file(cfg, file, false) : 0;
    }
    /* expose and connect present one token: the command line wins over
     * the environment, and --token over --token-file. */
    if (tok->set && file->set && !from_env(tok) && !from_env(file)) {
        cli_error(cfg->cmd, "give either --token or --token-file, not both");
        return PTTH_EINVAL;
    }
    if (tok->set && (!file->set || !from_env(tok) || from_env(file))) {
        if (!is_token68(tok->str)) {
            cli_error(cfg->cmd, "invalid %s (letters, digits, -._~+/ then '=')",
                      tok->src);
            return PTTH_EINVAL;
        }
        add_token(cfg, tok->str, strlen(tok->str));
        return 0;
    }
    return file->set ? read_token_file(cfg, file, true) : 0;
}

/* Checks that the file (or with |dir_ok| the directory) of |v| can be
 * read. Returns 0 or PTTH_ENOENT (said here). */
static int
need_readable(const struct cfg *cfg, const struct optval *v, bool dir_ok)
{
    struct stat st;

    if (stat(v->str, &st) != 0 || access(v->str, R_OK) != 0) {
        cli_error(cfg->cmd, "%s '%s': %s", v->src, v->str, strerror(errno));
        return PTTH_ENOENT;
    }
    if (S_ISDIR(st.st_mode) && !dir_ok) {
        cli_error(cfg->cmd, "%s '%s': is a directory", v->src, v->str);
        return PTTH_ENOENT;
    }
    return 0;
}

static int
load_duration(const struct cfg *cfg, const struct optval *v, uint64_t def,
              uint64_t *out)
{
    *out = def;
    if (!v->set)
        return 0;
    if (parse_duration_ms(v->str, out) != 0) {
        cli_error(cfg->cmd,
                  "invalid %s '%s' (expected seconds, e.g. 10, 2.5 or 500ms)",
                  v->src, v->str);
        return PTTH_EINVAL;
    }
    return 0;
}

/* As load_duration, for limits where 0 has no sensible meaning. */
static int
load_positive_duration(const struct cfg *cfg, const struct optval *v,
                       uint64_t def, uint64_t *out)
{
    *out = def;
    if (!v->set)
        return 0;
    if (parse_duration_ms(v->str, out) != 0 || *out == 0) {
        cli_error(cfg->cmd,
                  "invalid %s '%s' (expected seconds > 0, e.g. 10, 2.5 or "
                  "500ms)",
                  v->src, v->str);
        return PTTH_EINVAL;
    }
    return 0;
}

static bool
is_domain(const char *d)
{
    char label[64];
    const char *p = d;

    if (*d == '\0' || strlen(d) > 253)
        return false;
    while (*p != '\0') {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof(label))
            return false;
        memcpy(label, p, n);
        label[n] = '\0';
        if (!is_dns_label(label))
            return false;
        p += n;
        if (*p == '.' && p[1] == '\0')
            return false;
        if (*p == '.')
            p++;
    }
    return true;
}

static int
load_serve(struct cfg *cfg, const struct cli *c)
{
    const struct optval *l = &c->v[O_LISTEN];
    size_t i;
    int rc;

    if (c->noperands > 0) {
        cli_error(cfg->cmd, "unexpected argument '%s'", c->operands[0]);
        return PTTH_EINVAL;
    }
    if (l->nlist == 0) {
        cfg->listens = xcalloc(1, sizeof(*cfg->listens));
        cfg_parse_addr(DEFAULT_LISTEN, NULL, &cfg->listens[0]);
        cfg->nlistens = 1;
    } else {
        cfg->listens = xcalloc(l->nlist, sizeof(*cfg->listens));
        for (i = 0; i < l->nlist; i++) {
            if (cfg_parse_addr(l->list[i], "127.0.0.1", &cfg->listens[i]) !=
                0) {
                cli_error(cfg->cmd,
                          "invalid %s '%s' (expected PORT, HOST:PORT or "
                          "[V6]:PORT)",
                          l->src, l->list[i]);
                return PTTH_EINVAL;
            }
            cfg->nlistens++;
        }
    }
    cfg->domain =
        xstrdup(c->v[O_DOMAIN].set ? c->v[O_DOMAIN].str : "localhost");
    for (i = 0; cfg->domain[i] != '\0'; i++)
        cfg->domain[i] = ascii_lower(cfg->domain[i]);
    if (!is_domain(cfg->domain)) {
        cli_error(cfg->cmd, "invalid %s '%s' (expected a DNS name)",
                  c->v[O_DOMAIN].src, c->v[O_DOMAIN].str);
        return PTTH_EINVAL;
    }
    if (c->v[O_DEFAULT].set) {
        if (!is_dns_label(c->v[O_DEFAULT].str)) {
            cli_error(cfg->cmd,
                      "invalid %s NAME '%s' (expected a DNS label: a-z, "
                      "0-9 and inner '-', at most 63)",
                      c->v[O_DEFAULT].src, c->v[O_DEFAULT].str);
            return PTTH_EINVAL;
        }
        cfg->default_name = xstrdup(c->v[O_DEFAULT].str);
    }
    if (c->v[O_TLS_CERT].set != c->v[O_TLS_KEY].set) {
        cli_error(cfg->cmd, "--tls-cert and --tls-key go together");
        return PTTH_EINVAL;
    }
    if (c->v[O_TLS_CERT].set) {
        if ((rc = need_readable(cfg, &c->v[O_TLS_CERT], false)) != 0 ||
            (rc = need_readable(cfg, &c->v[O_TLS_KEY], false)) != 0)
            return rc;
        cfg->tls_cert = xstrdup(c->v[O_TLS_CERT].str);
        cfg->tls_key = xstrdup(c->v[O_TLS_KEY].str);
    }
    cfg->allow_anonymous = c->v[O_ALLOW_ANONYMOUS].count > 0;
    if ((rc = load_tokens(cfg, c)) != 0)
        return rc;
    if (cfg->ntokens == 0 && !cfg->allow_anonymous) {
        for (i = 0; i < cfg->nlistens; i++) {
            if (!cfg->listens[i].loopback) {
                cli_error(cfg->cmd,
                          "listener '%s' is not loopback and no token is "
                          "set: give --token-file (or --allow-anonymous)",
                          cfg->listens[i].host);
                return PTTH_EINVAL;
            }
        }
    }
    return 0;
}

static int
load_edge(struct cfg *cfg, const struct cli *c)
{
    const struct optval *e = &c->v[O_EDGE];
    const char *url = e->set ? e->str : DEFAULT_EDGE;
    char *scheme = NULL, *path = NULL;
    int rc;

    rc = parse_url(url, &scheme, &cfg->edge_host, &cfg->edge_port, &path);
    if (rc == PTTH_EIO)
        return rc;
    if (rc != 0 || *path != '\0') {
        cli_error(cfg->cmd,
                  "invalid %s '%s' (expected http:// or https://HOST[:PORT])",
                  e->set ? e->src : "edge", url);
        free(scheme);
        free(path);
        return PTTH_EINVAL;
    }
    cfg->edge_tls = strcmp(scheme, "https") == 0;
    cfg->edge_url =
        strchr(cfg->edge_host, ':') != NULL
            ? xasprintf("%s://[%s]:%d", scheme, cfg->edge_host, cfg->edge_port)
            : xasprintf("%s://%s:%d", scheme, cfg->edge_host, cfg->edge_port);
    free(scheme);
    free(path);
    cfg->insecure = c->v[O_INSECURE].count > 0;
    if (c->v[O_CACERT].set) {
        if ((rc = need_readable(cfg, &c->v[O_CACERT], true)) != 0)
            return rc;
        cfg->cacert = xstrdup(c->v[O_CACERT].str);
    }
    return load_tokens(cfg, c);
}

static bool
all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

static int
target_error(const struct cfg *cfg, const char *t)
{
    if (cfg->target_kind == TARGET_TCP)
        cli_error(cfg->cmd,
                  "invalid TARGET '%s' for --tcp (expected PORT or HOST:PORT)",
                  t);
    else
        cli_error(cfg->cmd,
                  "invalid TARGET '%s' (expected PORT, HOST:PORT, an "
                  "http(s):// URL, unix:PATH or a directory)",
                  t);
    return PTTH_EINVAL;
}

/* The length of the scheme when |t| starts with SCHEME:// (RFC 3986
 * letters, digits, '+', '-', '.'), else 0. */
static size_t
url_scheme_len(const char *t)
{
    size_t n = 0;

    if (!isalpha((unsigned char)t[0]))
        return 0;
    while (isalnum((unsigned char)t[n]) || t[n] == '+' || t[n] == '-' ||
           t[n] == '.')
        n++;
    return strncmp(t + n, "://", 3) == 0 ? n : 0;
}

static int
load_target(struct cfg *cfg, const char *t, bool tcp)
{
    struct listen_spec a;
    struct stat st;

    cfg->target = xstrdup(t);
    cfg->target_kind = tcp ? TARGET_TCP : TARGET_HTTP;
    if (all_digits(t) || (strchr(t, ':') != NULL && strchr(t, '/') == NULL &&
                          strncmp(t, "unix:", 5) != 0)) {
        if (cfg_parse_addr(t, "127.0.0.1", &a) != 0 || a.port == 0) {
            listen_spec_free(&a);
            return target_error(cfg, t);
        }
        cfg->up_scheme = xstrdup("http");
        cfg->up_host = a.host;
        cfg->up_port = a.port;
        cfg->up_prefix = xstrdup("");
        return 0;
    }
    if (tcp)
        return target_error(cfg, t);
    if (strncasecmp(t, "http://", 7) == 0 ||
        strncasecmp(t, "https://", 8) == 0) {
        int rc = parse_url(t, &cfg->up_scheme, &cfg->up_host, &cfg->up_port,
                           &cfg->up_prefix);

        if (rc == PTTH_EIO)
            return rc;
        return rc != 0 ? target_error(cfg, t) : 0;
    }
    if (strncmp(t, "unix:", 5) == 0) {
        if (t[5] == '\0')
            return target_error(cfg, t);
        cfg->target_kind = TARGET_UNIX;
        cfg->up_path = xstrdup(t + 5);
        cfg->up_prefix = xstrdup("");
        return 0;
    }
    if (stat(t, &st) == 0 && S_ISDIR(st.st_mode)) {
        cfg->target_kind = TARGET_DIR;
        cfg->up_path = xstrdup(t);
        return 0;
    }
    /* Not unix:, not an existing directory: SCHEME:// is a URL. */
    if (url_scheme_len(t) > 0) {
        cli_error(cfg->cmd,
                  "TARGET '%s': unsupported scheme '%.*s' (http:// and "
                  "https:// only)",
                  t, (int)url_scheme_len(t), t);
        return PTTH_EINVAL;
    }
    if (strchr(t, '/') != NULL || t[0] == '.' || t[0] == '~') {
        /* It names a path: say what is wrong with it. */
        if (stat(t, &st) != 0) {
            cli_error(cfg->cmd, "TARGET '%s': %s", t, strerror(errno));
            return PTTH_ENOENT;
        }
        cli_error(cfg->cmd, "TARGET '%s' is not a directory", t);
        return PTTH_EINVAL;
    }
    return target_error(cfg, t);
}

static int
load_expose(struct cfg *cfg, const struct cli *c)
{
    static const enum opt_id dir_only[] = {O_LIST, O_FOLLOW_SYMLINKS,
                                           O_DOTFILES, O_INDEX};
    const struct optval *v;
    size_t i;
    int rc;

    if (c->noperands == 0) {
        cli_error(cfg->cmd, "missing TARGET (see 'ptth expose --help')");
        return PTTH_EINVAL;
    }
    if (c->noperands > 1) {
        cli_error(cfg->cmd, "unexpected argument '%s'", c->operands[1]);
        return PTTH_EINVAL;
    }
    if ((rc = load_target(cfg, c->operands[0], c->v[O_TCP].count > 0)) != 0)
        return rc;
    for (i = 0; i < PTTH_ARRAY_LEN(dir_only); i++) {
        v = &c->v[dir_only[i]];
        /* A shared PTTH_LIST=1 must not break exposing a port, so only
         * the command line is held to this. */
        if (cfg->target_kind != TARGET_DIR && v->set && !from_env(v) &&
            (v->str != NULL || v->count > 0)) {
            cli_error(cfg->cmd, "%s applies only to a directory TARGET",
                      v->src);
            return PTTH_EINVAL;
        }
    }
    v = &c->v[O_NAME];
    if (v->set) {
        if (!is_dns_label(v->str)) {
            cli_error(cfg->cmd,
                      "invalid %s NAME '%s' (expected a DNS label: a-z, 0-9 "
                      "and inner '-', at most 63)",
                      v->src, v->str);
            return PTTH_EINVAL;
        }
        cfg->name = xstrdup(v->str);
    }
    v = &c->v[O_RETRIES];
    cfg->retries = -1;
    if (v->set && parse_long(v->str, 0, 1000000000L, &cfg->retries) != 0) {
        cli_error(cfg->cmd, "invalid %s '%s' (expected a whole number >= 0)",
                  v->src, v->str);
        return PTTH_EINVAL;
    }
    v = &c->v[O_EXEC];
    if (v->set) {
        if (*v->str == '\0') {
            cli_error(cfg->cmd, "%s needs a command", v->src);
            return PTTH_EINVAL;
        }
        cfg->exec = xstrdup(v->str);
    }
    v = &c->v[O_HOST_HEADER];
    if (v->set) {
        const char *p = v->str;
        if (cfg->target_kind == TARGET_TCP || cfg->target_kind == TARGET_DIR) {
            cli_error(cfg->cmd, "%s applies only to HTTP targets", v->src);
            return PTTH_EINVAL;
        }
        for (; *p > ' ' && *p < 0x7f; p++)
            ;
        if (*v->str == '\0' || *p != '\0') {
            cli_error(cfg->cmd, "invalid %s '%s' (expected a host[:port])",
                      v->src, v->str);
            return PTTH_EINVAL;
        }
        cfg->host_header = xstrdup(v->str);
    }
    cfg->list = c->v[O_LIST].count > 0;
    cfg->follow_symlinks = c->v[O_FOLLOW_SYMLINKS].count > 0;
    cfg->dotfiles = c->v[O_DOTFILES].count > 0;
    v = &c->v[O_INDEX];
    if (v->set && (*v->str == '\0' || strchr(v->str, '/') != NULL ||
                   strcmp(v->str, ".") == 0 || strcmp(v->str, "..") == 0)) {
        cli_error(cfg->cmd, "invalid %s '%s' (expected a file name)", v->src,
                  v->str);
        return PTTH_EINVAL;
    }
    cfg->index = xstrdup(v->set ? v->str : "index.html");
    return load_edge(cfg, c);
}

static int
load_connect(struct cfg *cfg, const struct cli *c)
{
    const struct optval *l = &c->v[O_LISTEN];
    const char *t, *colon;
    int rc;

    if (c->noperands == 0) {
        cli_error(cfg->cmd, "missing NAME (see 'ptth connect --help')");
        return PTTH_EINVAL;
    }
    if (c->noperands > 1) {
        cli_error(cfg->cmd, "unexpected argument '%s'", c->operands[1]);
        return PTTH_EINVAL;
    }
    t = c->operands[0];
    colon = strrchr(t, ':');
    cfg->connect_host = colon ? xstrndup(t, (size_t)(colon - t)) : xstrdup(t);
    for (size_t i = 0; cfg->connect_host[i] != '\0'; i++)
        cfg->connect_host[i] = ascii_lower(cfg->connect_host[i]);
    if (!is_domain(cfg->connect_host) ||
        (colon != NULL && (parse_port(colon + 1, &cfg->connect_port) != 0 ||
                           cfg->connect_port == 0))) {
        cli_error(cfg->cmd,
                  "invalid NAME '%s' (expected NAME, NAME.DOMAIN or "
                  "NAME:PORT)",
                  t);
        return PTTH_EINVAL;
    }
    if (l->set) {
        if (cfg_parse_addr(l->str, "127.0.0.1", &cfg->connect_listen) != 0) {
            cli_error(cfg->cmd, "invalid %s '%s' (expected [HOST:]PORT)",
                      l->src, l->str);
            return PTTH_EINVAL;
        }
        cfg->has_listen = true;
    }
    if ((rc = load_edge(cfg, c)) != 0)
        return rc;
    return 0;
}

int
cfg_load(struct cfg *cfg, const struct cli *c)
{
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->cmd = c->cmd;
    /* -q and -v undo each other on the command line (cli.c); between the
     * command line and the environment the command line wins. */
    if (c->v[O_QUIET].count > 0 &&
        !(from_env(&c->v[O_QUIET]) && c->v[O_VERBOSE].count > 0 &&
          !from_env(&c->v[O_VERBOSE])))
        cfg->verbosity = -1;
    else
        cfg->verbosity = c->v[O_VERBOSE].count;
    cfg->log_json =
        c->v[O_LOG_FORMAT].set && strcmp(c->v[O_LOG_FORMAT].str, "json") == 0;
    if ((rc = load_duration(cfg, &c->v[O_GRACE], DEFAULT_GRACE_MS,
                            &cfg->grace_ms)) != 0 ||
        (rc = load_duration(cfg, &c->v[O_TIMEOUT], DEFAULT_TIMEOUT_MS,
                            &cfg->timeout_ms)) != 0 ||
        (rc = load_duration(cfg, &c->v[O_NAME_HOLD], DEFAULT_NAME_HOLD_MS,
                            &cfg->name_hold_ms)) != 0)
        return rc;
    /* Options of other commands are never set (cli.c), so these are
     * the defaults there. */
    if ((rc = load_positive_duration(cfg, &c->v[O_IDLE_TIMEOUT],
                                     DEFAULT_IDLE_TIMEOUT_MS,
                                     &cfg->idle_timeout_ms)) != 0 ||
        (rc = load_positive_duration(cfg, &c->v[O_PING_INTERVAL],
                                     DEFAULT_PING_INTERVAL_MS,
                                     &cfg->ping_interval_ms)) != 0 ||
        (rc = load_positive_duration(cfg, &c->v[O_CONNECT_TIMEOUT],
                                     DEFAULT_CONNECT_TIMEOUT_MS,
                                     &cfg->connect_timeout_ms)) != 0)
        return rc;
    switch (c->cmd) {
    case CMD_SERVE:
        return load_serve(cfg, c);
    case CMD_EXPOSE:
        return load_expose(cfg, c);
    case CMD_CONNECT:
        return load_connect(cfg, c);
    case CMD_NONE:
        break;
    }
    return PTTH_EINVAL;
}

void
cfg_free(struct cfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->ntokens; i++) {
        ptth_wipe(cfg->tokens[i], strlen(cfg->tokens[i]));
        free(cfg->tokens[i]);
    }
    free(cfg->tokens);
    for (i = 0; i < cfg->nlistens; i++)
        listen_spec_free(&cfg->listens[i]);
    free(cfg->listens);
    free(cfg->domain);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->default_name);
    free(cfg->edge_url);
    free(cfg->edge_host);
    free(cfg->cacert);
    free(cfg->name);
    free(cfg->target);
    free(cfg->up_scheme);
    free(cfg->up_host);
    free(cfg->up_prefix);
    free(cfg->up_path);
    free(cfg->exec);
    free(cfg->host_header);
    free(cfg->index);
    free(cfg->connect_host);
    listen_spec_free(&cfg->connect_listen);
    memset(cfg, 0, sizeof(*cfg));
}

int
cfg_exit_status(int rc)
{
    switch (rc) {
    case 0:
        return PTTH_EXIT_OK;
    case PTTH_EINVAL:
        return PTTH_EXIT_USAGE;
    case PTTH_ENOENT:
    case PTTH_EIO:
        return PTTH_EXIT_RESOURCE;
    default:
        return PTTH_EXIT_INTERNAL;
    }
}
