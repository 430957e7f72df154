/* SPDX-License-Identifier: MIT
 * tls.h - TLS over any byte transport (mbedTLS behind opaque structs).
 *
 * tls.c is the only module that includes <mbedtls/...>. A struct tls_ctx is
 * the configuration shared by many connections (certificates, keys, CA
 * chain, DRBG, ALPN list: mbedTLS references them, never copies, so the ctx
 * owns them); it is created first and freed after its last tls_conn. A
 * struct tls_conn runs one TLS session over a struct tls_bio, which is a
 * pair of non-blocking send/recv callbacks: a plain socket (tls_bio_fd) or
 * anything else (curl_easy_send/curl_easy_recv for a CONNECT_ONLY handle).
 *
 * Verification: clients always require TLS 1.2+ and a certificate chain
 * that verifies against the CA store and the server name, unless the ctx
 * was made "insecure". --cacert FILE *replaces* the system store (as in
 * curl). mbedTLS 2.28 does not match IP-address SANs: use DNS names.
 *
 * Nothing here logs or calls back into the caller except through the bio
 * (from inside tls_handshake/tls_read/tls_write/tls_close_notify) and the
 * debug hook. Error detail is kept for the caller: tls_errstr(). */
#ifndef PTTH_TLS_H
#define PTTH_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_ctx;  /* opaque: shared configuration */
struct tls_conn; /* opaque: one session */

/* Transport callbacks. send returns bytes accepted (> 0); recv returns bytes
 * read (> 0) or 0 at EOF (PTTH_ECLOSED is taken as EOF too); both return
 * PTTH_EAGAIN when the transport would block and PTTH_EIO on failure (the
 * callback keeps errno/detail itself).
 * They are called only from inside tls_handshake, tls_read, tls_write and
 * tls_close_notify, and must not free the tls_conn. */
struct tls_bio {
    void *arg;
    long (*send)(void *arg, const uint8_t *p, size_t n);
    long (*recv)(void *arg, uint8_t *p, size_t n);
};

/* What a PTTH_EAGAIN from tls_* waits for (tls_want). */
enum tls_want_dir {
    TLS_WANT_NONE = 0,
    TLS_WANT_READ = 1,
    TLS_WANT_WRITE = 2,
};

/* Returns the mbedTLS version linked at run time, e.g. "2.28.3". Static. */
const char *tls_library_version(void);

/* Once per process before any ctx (psa_crypto_init on mbedTLS 3.x; no-op
 * on 2.28). Returns 0 or PTTH_ETLS. */
int tls_global_init(void);

/* Server configuration from PEM/DER files; alpn is a NULL-terminated list in
 * preference order (copied; NULL = no ALPN). Any SNI name is accepted and
 * answered with this certificate. Returns NULL and writes a one-line reason
 * naming the file to err (e.g. "cannot read certificate 'x.pem': ...") when
 * a file is unreadable or invalid or the key does not match the cert (or an
 * ALPN name is empty or over 255 bytes). */
struct tls_ctx *tls_ctx_new_server(const char *cert_file, const char *key_file,
                                   const char *const *alpn, char *err,
                                   size_t errlen);

/* Client configuration. cafile (a PEM/DER bundle, or a directory of certs)
 * replaces the system store; cafile NULL loads the system store: the first
 * usable file of $SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt,
 * /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem, else the directory
 * $SSL_CERT_DIR or /etc/ssl/certs. insecure turns verification off (the
 * caller warns; no CA is loaded). alpn as above. Returns NULL with a
 * one-line reason in err when no CA can be loaded, $SSL_CERT_FILE is set but
 * unusable (no fallback then), or an ALPN name is invalid. */
struct tls_ctx *tls_ctx_new_client(const char *cafile, bool insecure,
                                   const char *const *alpn, char *err,
                                   size_t errlen);

/* Frees the ctx; every tls_conn made from it must be freed first. NULL ok. */
void tls_ctx_free(struct tls_ctx *ctx);

/* Routes mbedTLS debug output (level 0 = off .. 4 = verbose) to fn, one line
 * per call without the trailing newline, for every connection of ctx. The
 * level is process-wide (mbedtls_debug_set_threshold). fn is called from
 * inside tls_* calls and must not call tls_* itself. No-op without
 * MBEDTLS_DEBUG_C. */
void tls_set_debug(struct tls_ctx *ctx, int level,
                   void (*fn)(void *arg, const char *line), void *arg);

/* Fills *bio for a connected non-blocking socket (*fdp: borrowed, never
 * closed here; it must outlive the tls_conn). send uses MSG_NOSIGNAL;
 * EAGAIN/EWOULDBLOCK/EINTR -> PTTH_EAGAIN; other errors -> PTTH_EIO with
 * errno left set. Returns 0. */
int tls_bio_fd(struct tls_bio *bio, int *fdp);

/* A new session over a copy of *bio. Client ctx: server_name sets SNI and the
 * name verified against the certificate; it is required unless the ctx is
 * insecure. Server ctx: server_name must be NULL. Returns NULL on such misuse
 * (missing or overlong name) or when mbedTLS cannot allocate its record
 * buffers. Nothing is sent until tls_handshake. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *server_name,
                              const struct tls_bio *bio);

/* Frees the session (does not send close_notify; bio.arg is not touched).
 * NULL ok. */
void tls_conn_free(struct tls_conn *c);

/* Drives the handshake. Returns 0 when done (also on later calls),
 * PTTH_EAGAIN (see tls_want), PTTH_ETLS (see tls_errstr and
 * tls_verify_failed), PTTH_ECLOSED on transport EOF, PTTH_EIO on transport
 * failure. Errors are sticky: later calls return the same code. */
int tls_handshake(struct tls_conn *c);

/* After PTTH_EAGAIN: TLS_WANT_READ or TLS_WANT_WRITE (the transport event to
 * wait for before calling the same function again); TLS_WANT_NONE else. */
int tls_want(const struct tls_conn *c);

/* Reads up to n (> 0) decrypted bytes; runs the handshake first if needed.
 * Returns bytes (> 0), PTTH_EAGAIN, PTTH_ECLOSED (close_notify received or
 * transport EOF: tls_saw_close_notify tells which), PTTH_ETLS, PTTH_EIO.
 * Callers must loop until PTTH_EAGAIN: decrypted bytes can sit inside the
 * library with no transport event to announce them (see tls_pending). */
long tls_read(struct tls_conn *c, uint8_t *p, size_t n);

/* True when tls_read can return data without the transport being readable.
 */
bool tls_pending(const struct tls_conn *c);

/* Encrypts and sends up to n (> 0) bytes as one record (at most 16 KiB);
 * runs the handshake first if needed. Returns bytes consumed (> 0, may be
 * fewer than n), PTTH_EAGAIN, PTTH_ETLS, PTTH_EIO, PTTH_EINVAL (misuse).
 * After PTTH_EAGAIN the record is already encrypted: call again with the same
 * bytes at p and n at least as large as before (more may have been queued
 * behind them); the return value then counts only the retried bytes. */
long tls_write(struct tls_conn *c, const uint8_t *p, size_t n);

/* Sends close_notify (first finishing an interrupted tls_write record).
 * Returns 0 once sent (later calls: 0; before the handshake completed: 0,
 * nothing sent), PTTH_EAGAIN (call again), or the sticky error. No tls_write
 * afterwards. */
int tls_close_notify(struct tls_conn *c);

/* True after tls_read returned PTTH_ECLOSED because of a close_notify
 * (false for a bare transport EOF, which may mean truncation). */
bool tls_saw_close_notify(const struct tls_conn *c);

/* True when the last failure was the peer certificate failing verification
 * (callers exit with PTTH_EXIT_TLS). */
bool tls_verify_failed(const struct tls_conn *c);

/* One-line reason for the last failure, e.g. "certificate verify failed:
 * name mismatch (expected localhost)". "" when none. Owned by c. */
const char *tls_errstr(const struct tls_conn *c);

/* After the handshake (NULL or "" otherwise; owned by c or static): */
const char *tls_alpn(const struct tls_conn *c);   /* negotiated, or NULL */
const char *tls_sni(const struct tls_conn *c);    /* server: name sent by the
                                                     client, or NULL */
const char *tls_cipher(const struct tls_conn *c); /* e.g. "TLS-ECDHE-..." */
const char *tls_version_str(const struct tls_conn *c); /* "TLSv1.2" */

/* SHA-256 of the peer certificate's SubjectPublicKeyInfo (DER), as curl's
 * --pinnedpubkey sha256// uses. Returns 0, or PTTH_EINVAL when there is no
 * peer certificate (server side, or before the handshake). */
int tls_peer_pubkey_sha256(const struct tls_conn *c, uint8_t out[32]);

#endif /* PTTH_TLS_H */
