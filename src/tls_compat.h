/* SPDX-License-Identifier: MIT
 * tls_compat.h - the few mbedTLS API differences between 2.28 LTS (Debian 12)
 * and 3.2+ (3.6 LTS), as static inline shims. Included only by tls.c; the
 * only headers it pulls in are mbedTLS's own. */
#ifndef PTTH_TLS_COMPAT_H
#define PTTH_TLS_COMPAT_H

#include <mbedtls/version.h>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/sha256.h>

#if MBEDTLS_VERSION_MAJOR >= 4
#error "mbedTLS 4.x is not supported yet (PSA-only API); use 2.28 or 3.2+"
#elif MBEDTLS_VERSION_MAJOR == 3 && MBEDTLS_VERSION_NUMBER < 0x03020000
#error "mbedTLS 3.0 and 3.1 are not supported; use 2.28 or 3.2+"
#elif MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "mbedTLS older than 2.28 is not supported"
#endif

#if MBEDTLS_VERSION_MAJOR >= 3
#include <psa/crypto.h>
#define TLS_COMPAT_MBEDTLS3 1
#else
#define TLS_COMPAT_MBEDTLS3 0
#endif

/* Refuses anything older than TLS 1.2 (2.28 still builds in 1.0/1.1). */
static inline void
tls_compat_min_tls12(mbedtls_ssl_config *conf)
{
#if TLS_COMPAT_MBEDTLS3
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

/* mbedtls_pk_parse_keyfile: 3.x adds an RNG (used for blinding). */
static inline int
tls_compat_pk_parse_keyfile(mbedtls_pk_context *pk, const char *path,
                            const char *password,
                            int (*f_rng)(void *, unsigned char *, size_t),
                            void *p_rng)
{
#if TLS_COMPAT_MBEDTLS3
    return mbedtls_pk_parse_keyfile(pk, path, password, f_rng, p_rng);
#else
    (void)f_rng;
    (void)p_rng;
    return mbedtls_pk_parse_keyfile(pk, path, password);
#endif
}

/* mbedtls_pk_check_pair: 3.x adds an RNG as well. */
static inline int
tls_compat_pk_check_pair(const mbedtls_pk_context *pub,
                         const mbedtls_pk_context *prv,
                         int (*f_rng)(void *, unsigned char *, size_t),
                         void *p_rng)
{
#if TLS_COMPAT_MBEDTLS3
    return mbedtls_pk_check_pair(pub, prv, f_rng, p_rng);
#else
    (void)f_rng;
    (void)p_rng;
    return mbedtls_pk_check_pair(pub, prv);
#endif
}

/* One-shot SHA-256: mbedtls_sha256_ret() was renamed mbedtls_sha256(). */
static inline int
tls_compat_sha256(const unsigned char *in, size_t n, unsigned char out[32])
{
#if TLS_COMPAT_MBEDTLS3
    return mbedtls_sha256(in, n, out, 0);
#else
    return mbedtls_sha256_ret(in, n, out, 0);
#endif
}

/* PSA must be initialised once per process before TLS on 3.x. */
static inline int
tls_compat_psa_init(void)
{
#if TLS_COMPAT_MBEDTLS3
    return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
#else
    return 0;
#endif
}

#endif /* PTTH_TLS_COMPAT_H */
