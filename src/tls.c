/* SPDX-License-Identifier: MIT
 * tls.c - mbedTLS contexts and sessions over a callback BIO. The only user
 * of <mbedtls/...> (with tls_compat.h). Never logs: errors are returned and
 * their text is kept for the caller. */
#include "config.h"

#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tls_compat.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/x509_crt.h>

#include "ptth.h"
#include "util.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored process-wide anyway */
#endif

#define TLS_MAX_NAME 255   /* DNS name / SNI length limit */
#define TLS_ERRSTR_LEN 256 /* tls_errstr buffer */

struct tls_ctx {
    mbedtls_ssl_config conf; /* references everything below */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;       /* client: trust anchors */
    mbedtls_x509_crt own_cert; /* server: certificate chain */
    mbedtls_pk_context own_key;
    char **alpn; /* owned NULL-terminated copy, referenced by conf */
    bool server;
    bool insecure;
    void (*dbg_fn)(void *arg, const char *line);
    void *dbg_arg;
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    struct tls_ctx *ctx; /* borrowed: outlives the conn */
    struct tls_bio bio;  /* copy; bio.arg borrowed */
    char *server_name;   /* client: verified name (owned) */
    char *sni;           /* server: name the client sent (owned) */
    size_t wpending;     /* bytes of an encrypted, unsent record */
    int want;            /* enum tls_want_dir after PTTH_EAGAIN */
    int failed;          /* sticky error, 0 while healthy */
    bool io_error;       /* bio returned PTTH_EIO */
    bool eof;            /* bio recv returned 0 */
    bool handshake_done; /* own flag: struct fields are private in 3.x */
    bool read_closed;    /* tls_read returned PTTH_ECLOSED */
    bool saw_close_notify;
    bool close_sent;
    bool verify_failed;
    char errbuf[TLS_ERRSTR_LEN];
};

#define CONN_OF_SSL(s)                                                         \
    ((struct tls_conn *)(void *)((char *)(s)-offsetof(struct tls_conn, ssl)))

static void PTTH_PRINTF(3, 4)
    set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "X509 - The CRT/CRL/CSR format is invalid ... (-0x2180)" */
static void
mbed_errstr(int ret, char *buf, size_t len)
{
    char tmp[160];

    mbedtls_strerror(ret, tmp, sizeof(tmp));
    snprintf(buf, len, "%s (-0x%04X)", tmp, (unsigned)-ret);
}

const char *
tls_library_version(void)
{
#if defined(MBEDTLS_VERSION_C)
    static char buf[16]; /* "x.y.z": at most 9 bytes */

    if (buf[0] == '\0')
        mbedtls_version_get_string(buf);
    return buf;
#else
    return MBEDTLS_VERSION_STRING;
#endif
}

int
tls_global_init(void)
{
    return tls_compat_psa_init() == 0 ? 0 : PTTH_ETLS;
}

/* ---- BIO glue ---------------------------------------------------------- */

static int
bio_send_cb(void *arg, const unsigned char *p, size_t n)
{
    struct tls_conn *c = arg;
    long r;

    if (n > INT_MAX)
        n = INT_MAX;
    r = c->bio.send(c->bio.arg, p, n);
    if (r > 0)
        return (int)(r > (long)n ? (long)n : r);
    if (r == 0 || r == PTTH_EAGAIN)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    c->io_error = true;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv_cb(void *arg, unsigned char *p, size_t n)
{
    struct tls_conn *c = arg;
    long r;

    if (n > INT_MAX)
        n = INT_MAX;
    r = c->bio.recv(c->bio.arg, p, n);
    if (r > 0)
        return (int)(r > (long)n ? (long)n : r);
    if (r == PTTH_EAGAIN)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (r == 0 || r == PTTH_ECLOSED) {
        c->eof = true;
        return 0; /* mbedTLS: MBEDTLS_ERR_SSL_CONN_EOF */
    }
    c->io_error = true;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static long
fd_send(void *arg, const uint8_t *p, size_t n)
{
    int fd = *(int *)arg;
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

    if (r >= 0)
        return r > 0 ? (long)r : PTTH_EAGAIN;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return PTTH_EAGAIN;
    return PTTH_EIO;
}

static long
fd_recv(void *arg, uint8_t *p, size_t n)
{
    int fd = *(int *)arg;
    ssize_t r = recv(fd, p, n, 0);

    if (r >= 0)
        return (long)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return PTTH_EAGAIN;
    return PTTH_EIO;
}

int
tls_bio_fd(struct tls_bio *bio, int *fdp)
{
    bio->arg = fdp;
    bio->send = fd_send;
    bio->recv = fd_recv;
    return 0;
}

/* ---- contexts ---------------------------------------------------------- */

#if defined(MBEDTLS_DEBUG_C)
static void
debug_cb(void *arg, int level, const char *file, int line, const char *str)
{
    struct tls_ctx *ctx = arg;
    const char *base = strrchr(file, '/');
    char buf[512];
    size_t n;

    (void)level;
    if (ctx->dbg_fn == NULL)
        return;
    snprintf(buf, sizeof(buf), "%s:%d: %s", base ? base + 1 : file, line, str);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    ctx->dbg_fn(ctx->dbg_arg, buf);
}
#endif

void
tls_set_debug(struct tls_ctx *ctx, int level,
              void (*fn)(void *arg, const char *line), void *arg)
{
#if defined(MBEDTLS_DEBUG_C)
    ctx->dbg_fn = fn;
    ctx->dbg_arg = arg;
    if (fn != NULL && level > 0) {
        mbedtls_ssl_conf_dbg(&ctx->conf, debug_cb, ctx);
        mbedtls_debug_set_threshold(level);
    } else {
        mbedtls_ssl_conf_dbg(&ctx->conf, NULL, NULL);
    }
#else
    (void)ctx;
    (void)level;
    (void)fn;
    (void)arg;
#endif
}

/* Server: remember the name the client asked for; answer with the default
 * certificate whatever it is. Non-printable bytes become '?' (it is logged).
 */
static int
sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name,
       size_t len)
{
    struct tls_conn *c = CONN_OF_SSL(ssl);
    size_t i;

    (void)arg;
    if (len > TLS_MAX_NAME)
        len = TLS_MAX_NAME;
    free(c->sni);
    c->sni = xmalloc(len + 1);
    for (i = 0; i < len; i++)
        c->sni[i] = (name[i] > 0x20 && name[i] < 0x7f) ? (char)name[i] : '?';
    c->sni[len] = '\0';
    return 0;
}

static struct tls_ctx *
ctx_new(int endpoint, const char *const *alpn, char *err, size_t errlen)
{
    static const unsigned char pers[] = "ptth";
    struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));
    char why[200];
    size_t i, n = 0;
    int ret;

    mbedtls_ssl_config_init(&ctx->conf);
    mbedtls_entropy_init(&ctx->entropy);
    mbedtls_ctr_drbg_init(&ctx->drbg);
    mbedtls_x509_crt_init(&ctx->ca);
    mbedtls_x509_crt_init(&ctx->own_cert);
    mbedtls_pk_init(&ctx->own_key);
    ctx->server = endpoint == MBEDTLS_SSL_IS_SERVER;

    ret = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func, &ctx->entropy,
                                pers, sizeof(pers) - 1);
    if (ret != 0) {
        mbed_errstr(ret, why, sizeof(why));
        set_err(err, errlen, "cannot seed the random generator: %s", why);
        goto fail;
    }
    ret = mbedtls_ssl_config_defaults(&ctx->conf, endpoint,
                                      MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        mbed_errstr(ret, why, sizeof(why));
        set_err(err, errlen, "cannot set up TLS defaults: %s", why);
        goto fail;
    }
    tls_compat_min_tls12(&ctx->conf);
    mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);

    while (alpn != NULL && alpn[n] != NULL) {
        size_t len = strlen(alpn[n]);
        if (len == 0 || len > 255) {
            set_err(err, errlen, "invalid ALPN protocol name '%.40s'", alpn[n]);
            goto fail;
        }
        n++;
    }
    if (n > 0) {
        ctx->alpn = xcalloc(n + 1, sizeof(char *));
        for (i = 0; i < n; i++)
            ctx->alpn[i] = xstrdup(alpn[i]);
        ret = mbedtls_ssl_conf_alpn_protocols(&ctx->conf,
                                              (const char **)ctx->alpn);
        if (ret != 0) {
            mbed_errstr(ret, why, sizeof(why));
            set_err(err, errlen, "invalid ALPN list: %s", why);
            goto fail;
        }
    }
    return ctx;

fail:
    tls_ctx_free(ctx);
    return NULL;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
    size_t i;

    if (ctx == NULL)
        return;
    mbedtls_ssl_config_free(&ctx->conf);
    mbedtls_x509_crt_free(&ctx->ca);
    mbedtls_x509_crt_free(&ctx->own_cert);
    mbedtls_pk_free(&ctx->own_key);
    mbedtls_ctr_drbg_free(&ctx->drbg);
    mbedtls_entropy_free(&ctx->entropy);
    for (i = 0; ctx->alpn != NULL && ctx->alpn[i] != NULL; i++)
        free(ctx->alpn[i]);
    free(ctx->alpn);
    free(ctx);
}

/* 0 when path can be opened for reading, else errno's text in why. */
static int
check_readable(const char *path, bool allow_dir, bool *is_dir, char *why,
               size_t whylen)
{
    struct stat st;
    FILE *f;

    *is_dir = false;
    if (stat(path, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!allow_dir) {
            snprintf(why, whylen, "%s", strerror(EISDIR));
            return -1;
        }
        *is_dir = true;
        return 0;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* Adds the certificates of a PEM file or a directory of them to |ca|;
 * returns mbedTLS's result (< 0: failed; > 0: that many were skipped). */
static int
parse_ca(mbedtls_x509_crt *ca, const char *path, bool is_dir)
{
    return is_dir ? mbedtls_x509_crt_parse_path(ca, path)
                  : mbedtls_x509_crt_parse_file(ca, path);
}

/* Loads a CA bundle file or directory into an empty chain. Returns 0 when
 * at least one certificate was loaded (others may be skipped), else -1 with
 * the reason in why (and the chain emptied again). */
static int
load_ca(mbedtls_x509_crt *ca, const char *path, char *why, size_t whylen)
{
    bool is_dir;
    int ret;

    if (check_readable(path, true, &is_dir, why, whylen) != 0)
        return -1;
    ret = parse_ca(ca, path, is_dir);
    if (ret < 0) {
        mbed_errstr(ret, why, whylen);
    } else if (ca->raw.p == NULL) {
        snprintf(why, whylen, "no certificate found");
        ret = -1;
    }
    if (ret < 0) {
        mbedtls_x509_crt_free(ca);
        mbedtls_x509_crt_init(ca);
        return -1;
    }
    return 0;
}

/* Appends the certificates of a file or directory that load_ca accepted
 * to a chain that may hold others. Returns 0, or -1 if none was added. */
static int
append_ca(mbedtls_x509_crt *ca, const char *path)
{
    char why[200];
    bool is_dir;

    if (check_readable(path, true, &is_dir, why, sizeof(why)) != 0)
        return -1;
    return parse_ca(ca, path, is_dir) < 0 || ca->raw.p == NULL ? -1 : 0;
}

static int
load_system_ca(mbedtls_x509_crt *ca, char *err, size_t errlen)
{
    static const char *const files[] = {
        "/etc/ssl/certs/ca-certificates.crt", /* Debian, Alpine, Arch */
        "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
        "/etc/ssl/cert.pem",                  /* macOS, BSDs */
    };
    const char *env = getenv("SSL_CERT_FILE");
    const char *dir;
    char why[200];
    size_t i;

    if (env != NULL && env[0] != '\0') {
        if (load_ca(ca, env, why, sizeof(why)) == 0)
            return 0;
        set_err(err, errlen,
                "cannot load CA file '%s' (from SSL_CERT_FILE): %s", env, why);
        return -1;
    }
    for (i = 0; i < PTTH_ARRAY_LEN(files); i++) {
        if (load_ca(ca, files[i], why, sizeof(why)) == 0)
            return 0;
    }
    dir = getenv("SSL_CERT_DIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/etc/ssl/certs";
    if (load_ca(ca, dir, why, sizeof(why)) == 0)
        return 0;
    set_err(err, errlen,
            "no system CA certificates found (tried %s and %s); "
            "use --cacert FILE",
            files[0], dir);
    return -1;
}

struct tls_ctx *
tls_ctx_new_client(const char *cafile, bool insecure, const char *const *alpn,
                   char *err, size_t errlen)
{
    struct tls_ctx *ctx = ctx_new(MBEDTLS_SSL_IS_CLIENT, alpn, err, errlen);
    char why[200];

    if (ctx == NULL)
        return NULL;
    ctx->insecure = insecure;
    if (insecure) {
        mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_NONE);
        return ctx;
    }
    if (cafile != NULL) {
        /* --cacert adds to the system store (SPEC 3.2), which may be
         * missing here: the file alone is then trusted. The file is
         * checked on a chain of its own first, so that its error is the
         * one reported, then appended. */
        mbedtls_x509_crt mine;
        char ignored[200];

        mbedtls_x509_crt_init(&mine);
        if (load_ca(&mine, cafile, why, sizeof(why)) != 0) {
            set_err(err, errlen, "cannot load CA file '%s': %s", cafile, why);
            goto fail;
        }
        mbedtls_x509_crt_free(&mine);
        (void)load_system_ca(&ctx->ca, ignored, sizeof(ignored));
        if (append_ca(&ctx->ca, cafile) != 0) {
            set_err(err, errlen, "cannot load CA file '%s'", cafile);
            goto fail;
        }
    } else if (load_system_ca(&ctx->ca, err, errlen) != 0) {
        goto fail;
    }
    mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, NULL);
    return ctx;

fail:
    tls_ctx_free(ctx);
    return NULL;
}

struct tls_ctx *
tls_ctx_new_server(const char *cert_file, const char *key_file,
                   const char *const *alpn, char *err, size_t errlen)
{
    struct tls_ctx *ctx = ctx_new(MBEDTLS_SSL_IS_SERVER, alpn, err, errlen);
    char why[200];
    bool is_dir;
    int ret;

    if (ctx == NULL)
        return NULL;

    if (check_readable(cert_file, false, &is_dir, why, sizeof(why)) != 0) {
        set_err(err, errlen, "cannot read certificate '%s': %s", cert_file,
                why);
        goto fail;
    }
    ret = mbedtls_x509_crt_parse_file(&ctx->own_cert, cert_file);
    if (ret != 0) {
        if (ret > 0)
            snprintf(why, sizeof(why), "%d certificate(s) could not be parsed",
                     ret);
        else
            mbed_errstr(ret, why, sizeof(why));
        set_err(err, errlen, "cannot read certificate '%s': %s", cert_file,
                why);
        goto fail;
    }

    if (check_readable(key_file, false, &is_dir, why, sizeof(why)) != 0) {
        set_err(err, errlen, "cannot read private key '%s': %s", key_file, why);
        goto fail;
    }
    ret = tls_compat_pk_parse_keyfile(&ctx->own_key, key_file, NULL,
                                      mbedtls_ctr_drbg_random, &ctx->drbg);
    if (ret != 0) {
        mbed_errstr(ret, why, sizeof(why));
        set_err(err, errlen, "cannot read private key '%s': %s", key_file, why);
        goto fail;
    }
    ret = tls_compat_pk_check_pair(&ctx->own_cert.pk, &ctx->own_key,
                                   mbedtls_ctr_drbg_random, &ctx->drbg);
    if (ret != 0) {
        set_err(err, errlen, "private key '%s' does not match certificate '%s'",
                key_file, cert_file);
        goto fail;
    }
    ret = mbedtls_ssl_conf_own_cert(&ctx->conf, &ctx->own_cert, &ctx->own_key);
    if (ret != 0) {
        mbed_errstr(ret, why, sizeof(why));
        set_err(err, errlen, "cannot use certificate '%s': %s", cert_file, why);
        goto fail;
    }
    mbedtls_ssl_conf_sni(&ctx->conf, sni_cb, NULL);
    return ctx;

fail:
    tls_ctx_free(ctx);
    return NULL;
}

/* ---- connections ------------------------------------------------------- */

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, const char *server_name,
             const struct tls_bio *bio)
{
    struct tls_conn *c;

    if (ctx->server && server_name != NULL)
        return NULL;
    if (!ctx->server && server_name == NULL && !ctx->insecure)
        return NULL;
    if (server_name != NULL &&
        (server_name[0] == '\0' || strlen(server_name) > TLS_MAX_NAME))
        return NULL;

    c = xcalloc(1, sizeof(*c));
    mbedtls_ssl_init(&c->ssl);
    c->ctx = ctx;
    c->bio = *bio;
    if (mbedtls_ssl_setup(&c->ssl, &ctx->conf) != 0)
        goto fail; /* only MBEDTLS_ERR_SSL_ALLOC_FAILED */
    if (server_name != NULL) {
        if (mbedtls_ssl_set_hostname(&c->ssl, server_name) != 0)
            goto fail;
        c->server_name = xstrdup(server_name);
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send_cb, bio_recv_cb, NULL);
    return c;

fail:
    tls_conn_free(c);
    return NULL;
}

void
tls_conn_free(struct tls_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl);
    free(c->server_name);
    free(c->sni);
    free(c);
}

/* strlcat-like: appends what fits of s to the string in buf[len]. */
static void
cat(char *buf, size_t len, const char *s)
{
    size_t used = strlen(buf), n = strlen(s);

    if (used + 1 >= len)
        return;
    if (n > len - used - 1)
        n = len - used - 1;
    memcpy(buf + used, s, n);
    buf[used + n] = '\0';
}

/* Appends s, after ", " when buf already holds more than base bytes. */
static void
append(char *buf, size_t len, size_t base, const char *s)
{
    if (strlen(buf) > base)
        cat(buf, len, ", ");
    cat(buf, len, s);
}

/* "certificate verify failed: name mismatch (expected x), ..." */
static void
describe_verify(struct tls_conn *c)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    uint32_t known = 0;
    char *why = c->errbuf;
    size_t base;
    char tmp[TLS_ERRSTR_LEN];

    base =
        (size_t)snprintf(why, sizeof(c->errbuf), "certificate verify failed: ");
#define VFLAG(f, text)                                                         \
    do {                                                                       \
        known |= (f);                                                          \
        if (flags & (f))                                                       \
            append(why, sizeof(c->errbuf), base, text);                        \
    } while (0)

    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        snprintf(tmp, sizeof(tmp), "name mismatch (expected %s)",
                 c->server_name ? c->server_name : "?");
        append(why, sizeof(c->errbuf), base, tmp);
    }
    known |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    VFLAG(MBEDTLS_X509_BADCERT_NOT_TRUSTED, "not signed by a trusted CA");
    VFLAG(MBEDTLS_X509_BADCERT_EXPIRED, "certificate expired");
    VFLAG(MBEDTLS_X509_BADCERT_FUTURE, "certificate not yet valid");
    VFLAG(MBEDTLS_X509_BADCERT_REVOKED, "certificate revoked");
    VFLAG(MBEDTLS_X509_BADCERT_MISSING, "no certificate sent");
    VFLAG(MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
              MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
          "certificate not allowed for TLS server use");
    VFLAG(MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
              MBEDTLS_X509_BADCERT_BAD_KEY,
          "unacceptable signature algorithm or key");
#undef VFLAG
    if ((flags & ~known) != 0 || strlen(why) == base) {
        /* first line of mbedTLS's own description */
        tmp[0] = '\0';
        if (mbedtls_x509_crt_verify_info(tmp, sizeof(tmp), "", flags & ~known) >
            0) {
            tmp[strcspn(tmp, "\n")] = '\0';
            append(why, sizeof(c->errbuf), base, tmp);
        }
        if (strlen(why) == base) {
            snprintf(tmp, sizeof(tmp), "flags 0x%x", (unsigned)flags);
            append(why, sizeof(c->errbuf), base, tmp);
        }
    }
}

/* Classifies a fatal mbedTLS result: transport first, then TLS. */
static int
conn_fail(struct tls_conn *c, int ret)
{
    int rc;

    if (c->io_error) {
        rc = PTTH_EIO;
        snprintf(c->errbuf, sizeof(c->errbuf), "transport error%s",
                 c->handshake_done ? "" : " during TLS handshake");
    } else if (ret == MBEDTLS_ERR_SSL_CONN_EOF || c->eof) {
        rc = PTTH_ECLOSED;
        snprintf(c->errbuf, sizeof(c->errbuf), "connection closed by peer%s",
                 c->handshake_done ? "" : " during TLS handshake");
    } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        rc = PTTH_ETLS;
        c->verify_failed = true;
        describe_verify(c);
    } else {
        rc = PTTH_ETLS;
        mbed_errstr(ret, c->errbuf, sizeof(c->errbuf));
    }
    c->failed = rc;
    c->want = TLS_WANT_NONE;
    return rc;
}

int
tls_handshake(struct tls_conn *c)
{
    int ret;

    if (c->failed != 0)
        return c->failed;
    if (c->handshake_done)
        return 0;
    ret = mbedtls_ssl_handshake(&c->ssl);
    if (ret == 0) {
        c->handshake_done = true;
        c->want = TLS_WANT_NONE;
        return 0;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
        c->want = TLS_WANT_READ;
        return PTTH_EAGAIN;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->want = TLS_WANT_WRITE;
        return PTTH_EAGAIN;
    }
    return conn_fail(c, ret);
}

int
tls_want(const struct tls_conn *c)
{
    return c->want;
}

long
tls_read(struct tls_conn *c, uint8_t *p, size_t n)
{
    int ret, rc;

    if (c->failed != 0)
        return c->failed;
    if (c->read_closed)
        return PTTH_ECLOSED;
    rc = tls_handshake(c);
    if (rc != 0)
        return rc;
    if (n == 0)
        return PTTH_EINVAL;
    if (n > INT_MAX)
        n = INT_MAX;
    for (;;) {
        ret = mbedtls_ssl_read(&c->ssl, p, n);
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue; /* TLS 1.3 (3.x): not an error */
#endif
        break;
    }
    if (ret > 0) {
        c->want = TLS_WANT_NONE;
        return ret;
    }
    switch (ret) {
    case MBEDTLS_ERR_SSL_WANT_READ:
        c->want = TLS_WANT_READ;
        return PTTH_EAGAIN;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        c->want = TLS_WANT_WRITE;
        return PTTH_EAGAIN;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        c->saw_close_notify = true;
        c->read_closed = true;
        c->want = TLS_WANT_NONE;
        return PTTH_ECLOSED;
    case 0: /* transport EOF without close_notify */
    case MBEDTLS_ERR_SSL_CONN_EOF:
        c->read_closed = true;
        c->want = TLS_WANT_NONE;
        return PTTH_ECLOSED;
    default:
        return conn_fail(c, ret);
    }
}

bool
tls_pending(const struct tls_conn *c)
{
    return mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 ||
           mbedtls_ssl_check_pending(&c->ssl) != 0;
}

/* mbedTLS quirk: after WANT_WRITE the record holding min(n, max record)
 * bytes is already encrypted, and a retry returns the *new* len clamped to
 * the record size whatever was encrypted. Remember the real length. */
long
tls_write(struct tls_conn *c, const uint8_t *p, size_t n)
{
    size_t len;
    int ret, max;

    if (c->failed != 0)
        return c->failed;
    if (c->close_sent || n == 0)
        return PTTH_EINVAL;
    ret = tls_handshake(c);
    if (ret != 0)
        return ret;
    if (c->wpending > 0) {
        if (n < c->wpending)
            return PTTH_EINVAL;
        len = c->wpending;
    } else {
        max = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
        len = n;
        if (max > 0 && len > (size_t)max)
            len = (size_t)max;
        if (len > INT_MAX)
            len = INT_MAX;
    }
    ret = mbedtls_ssl_write(&c->ssl, p, len);
    if (ret > 0) {
        c->wpending = 0;
        c->want = TLS_WANT_NONE;
        return (long)len;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->wpending = len;
        c->want = TLS_WANT_WRITE;
        return PTTH_EAGAIN;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
        c->want = TLS_WANT_READ; /* nothing was encrypted */
        return PTTH_EAGAIN;
    }
    return conn_fail(c, ret);
}

/* mbedTLS quirk: with an unsent record pending, mbedtls_ssl_close_notify()
 * only flushes it and returns 0 without sending the alert. */
int
tls_close_notify(struct tls_conn *c)
{
    int ret;

    if (c->failed != 0)
        return c->failed;
    if (c->close_sent)
        return 0;
    if (!c->handshake_done) {
        c->close_sent = true; /* nothing to protect yet */
        return 0;
    }
    for (;;) {
        ret = mbedtls_ssl_close_notify(&c->ssl);
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->want = TLS_WANT_WRITE;
            return PTTH_EAGAIN;
        }
        if (ret != 0)
            return conn_fail(c, ret);
        if (c->wpending == 0)
            break;
        c->wpending = 0; /* that call flushed the record: now the alert */
    }
    c->close_sent = true;
    c->want = TLS_WANT_NONE;
    return 0;
}

bool
tls_saw_close_notify(const struct tls_conn *c)
{
    return c->saw_close_notify;
}

bool
tls_verify_failed(const struct tls_conn *c)
{
    return c->verify_failed;
}

const char *
tls_errstr(const struct tls_conn *c)
{
    return c->errbuf;
}

const char *
tls_alpn(const struct tls_conn *c)
{
    if (!c->handshake_done)
        return NULL;
    return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

const char *
tls_sni(const struct tls_conn *c)
{
    return c->sni;
}

const char *
tls_cipher(const struct tls_conn *c)
{
    if (!c->handshake_done)
        return "";
    return mbedtls_ssl_get_ciphersuite(&c->ssl);
}

const char *
tls_version_str(const struct tls_conn *c)
{
    if (!c->handshake_done)
        return "";
    return mbedtls_ssl_get_version(&c->ssl);
}

int
tls_peer_pubkey_sha256(const struct tls_conn *c, uint8_t out[32])
{
    const mbedtls_x509_crt *crt;
    unsigned char der[4096]; /* SPKI of an RSA-16384 key fits */
    int len;

    if (!c->handshake_done)
        return PTTH_EINVAL;
    crt = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (crt == NULL)
        return PTTH_EINVAL;
    /* 2.28 takes a non-const pk; it only reads it. Written at the end. */
    len = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&crt->pk, der,
                                      sizeof(der));
    if (len <= 0)
        return PTTH_EINVAL;
    if (tls_compat_sha256(der + sizeof(der) - (size_t)len, (size_t)len, out) !=
        0)
        return PTTH_EINVAL;
    return 0;
}
