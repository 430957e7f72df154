/* SPDX-License-Identifier: MIT
 * curl_dl.c - libcurl, loaded when first needed rather than at start-up.
 *
 * Linking libcurl maps its whole dependency tree into every process
 * (OpenSSL, GnuTLS, Kerberos, LDAP, libssh2...), and the dynamic linker's
 * relocations and GnuTLS's constructor make about 4.5 MiB of it resident:
 * more than half of an idle edge, which never makes a libcurl call. So
 * the binary does not link libcurl. This module defines the libcurl
 * functions ptth calls, with libcurl's own prototypes, and each forwards
 * to the real one, found with dlsym in the library dlopen'd on first use
 * (curl_dl_load). ptth serve never gets here. PTTH_LIBCURL, when set,
 * names the file to load instead of the SONAME found by configure.
 *
 * The variadic setters read their one argument the way libcurl does: by
 * the option number's type range (long, object or function pointer,
 * curl_off_t, blob). */
#include "config.h"

#include "curl_dl.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The type-checking macros of typecheck-gcc.h would rename the setters. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#ifndef PTTH_LIBCURL_SONAME
#define PTTH_LIBCURL_SONAME "libcurl.so.4"
#endif

typedef void anyfn(void);

/* The functions, named once: X(return type, name, parameter list). */
#define CURL_DL_FUNCS                                                          \
    X(CURLcode, curl_global_init, (long))                                      \
    X(void, curl_global_cleanup, (void))                                       \
    X(curl_version_info_data *, curl_version_info, (CURLversion))              \
    X(void, curl_free, (void *))                                               \
    X(struct curl_slist *, curl_slist_append,                                  \
      (struct curl_slist *, const char *))                                     \
    X(void, curl_slist_free_all, (struct curl_slist *))                        \
    X(CURL *, curl_easy_init, (void))                                          \
    X(void, curl_easy_cleanup, (CURL *))                                       \
    X(const char *, curl_easy_strerror, (CURLcode))                            \
    X(CURLcode, curl_easy_pause, (CURL *, int))                                \
    X(CURLcode, curl_easy_send, (CURL *, const void *, size_t, size_t *))      \
    X(CURLcode, curl_easy_recv, (CURL *, void *, size_t, size_t *))            \
    X(CURLM *, curl_multi_init, (void))                                        \
    X(CURLMcode, curl_multi_cleanup, (CURLM *))                                \
    X(CURLMcode, curl_multi_add_handle, (CURLM *, CURL *))                     \
    X(CURLMcode, curl_multi_remove_handle, (CURLM *, CURL *))                  \
    X(CURLMcode, curl_multi_socket_action,                                     \
      (CURLM *, curl_socket_t, int, int *))                                    \
    X(CURLMsg *, curl_multi_info_read, (CURLM *, int *))                       \
    X(const char *, curl_multi_strerror, (CURLMcode))                          \
    X(CURLU *, curl_url, (void))                                               \
    X(void, curl_url_cleanup, (CURLU *))                                       \
    X(CURLUcode, curl_url_set,                                                 \
      (CURLU *, CURLUPart, const char *, unsigned int))                        \
    X(CURLUcode, curl_url_get, (CURLU *, CURLUPart, char **, unsigned int))

/* The variadic ones, called with their one argument in its real type. */
static struct {
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
#define X(ret, name, params) ret(*name) params;
    CURL_DL_FUNCS
#undef X
} fn;

static void *lib;

/* dlsym's object pointer as a function pointer (POSIX guarantees this
 * works; ISO C has no conversion between the two). */
static anyfn *
sym(const char *name)
{
    void *p = dlsym(lib, name);
    anyfn *f;

    if (p == NULL)
        return NULL;
    memcpy(&f, &p, sizeof(f));
    return f;
}

int
curl_dl_load(char *err, size_t errlen)
{
    const char *file = secure_getenv("PTTH_LIBCURL");
    anyfn *f;
    bool quiet_gnutls;

    if (lib != NULL)
        return 0;
    if (file == NULL || file[0] == '\0')
        file = PTTH_LIBCURL_SONAME;
    /* GnuTLS, pulled in by libcurl's librtmp and libldap dependencies,
     * initialises itself when loaded (about 800 KiB of memory, p11-kit
     * included) although ptth never uses it: its documented
     * GNUTLS_NO_IMPLICIT_INIT stops that. A GnuTLS-flavoured libcurl
     * still calls gnutls_global_init in curl_global_init. Unset again
     * after, so that --exec commands do not inherit it. */
    quiet_gnutls = getenv("GNUTLS_NO_IMPLICIT_INIT") == NULL &&
                   setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0) == 0;
    lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (quiet_gnutls)
        unsetenv("GNUTLS_NO_IMPLICIT_INIT");
    if (lib == NULL) {
        snprintf(err, errlen, "cannot load libcurl (%s): %s", file, dlerror());
        return PTTH_EIO;
    }
#define LOAD(field, name)                                                      \
    do {                                                                       \
        if ((f = sym(name)) == NULL)                                           \
            goto missing;                                                      \
        memcpy(&fn.field, &f, sizeof(f));                                      \
    } while (0)
    LOAD(easy_setopt, "curl_easy_setopt");
    LOAD(easy_getinfo, "curl_easy_getinfo");
    LOAD(multi_setopt, "curl_multi_setopt");
#define X(ret, name, params) LOAD(name, #name);
    CURL_DL_FUNCS
#undef X
#undef LOAD
    return 0;

missing:
    snprintf(err, errlen, "%s lacks a function ptth needs: %s", file,
             dlerror());
    dlclose(lib);
    lib = NULL;
    return PTTH_EIO;
}

/* Every forwarder starts here: a call before a successful curl_dl_load
 * loads now, and a library that cannot be loaded is fatal (main loads it
 * first, with a proper message and exit status, so only tests get here
 * unloaded). */
static void
need(void)
{
    char err[512];

    if (lib == NULL && curl_dl_load(err, sizeof(err)) != 0) {
        fprintf(stderr, "ptth: %s\n", err);
        abort();
    }
}

/* ---------------------------------------------------- the forwarders */

CURLcode
curl_global_init(long flags)
{
    need();
    return fn.curl_global_init(flags);
}

void
curl_global_cleanup(void)
{
    need();
    fn.curl_global_cleanup();
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
    need();
    return fn.curl_version_info(v);
}

void
curl_free(void *p)
{
    need();
    fn.curl_free(p);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
    need();
    return fn.curl_slist_append(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
    need();
    fn.curl_slist_free_all(l);
}

CURL *
curl_easy_init(void)
{
    need();
    return fn.curl_easy_init();
}

void
curl_easy_cleanup(CURL *h)
{
    need();
    fn.curl_easy_cleanup(h);
}

const char *
curl_easy_strerror(CURLcode c)
{
    need();
    return fn.curl_easy_strerror(c);
}

CURLcode
curl_easy_pause(CURL *h, int bitmask)
{
    need();
    return fn.curl_easy_pause(h, bitmask);
}

CURLcode
curl_easy_send(CURL *h, const void *p, size_t n, size_t *sent)
{
    need();
    return fn.curl_easy_send(h, p, n, sent);
}

CURLcode
curl_easy_recv(CURL *h, void *p, size_t n, size_t *got)
{
    need();
    return fn.curl_easy_recv(h, p, n, got);
}

CURLM *
curl_multi_init(void)
{
    need();
    return fn.curl_multi_init();
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
    need();
    return fn.curl_multi_cleanup(m);
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
    need();
    return fn.curl_multi_add_handle(m, h);
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
    need();
    return fn.curl_multi_remove_handle(m, h);
}

CURLMcode
curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
    need();
    return fn.curl_multi_socket_action(m, s, ev, running);
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
    need();
    return fn.curl_multi_info_read(m, left);
}

const char *
curl_multi_strerror(CURLMcode c)
{
    need();
    return fn.curl_multi_strerror(c);
}

CURLU *
curl_url(void)
{
    need();
    return fn.curl_url();
}

void
curl_url_cleanup(CURLU *u)
{
    need();
    fn.curl_url_cleanup(u);
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
    need();
    return fn.curl_url_set(u, what, part, flags);
}

CURLUcode
curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
    need();
    return fn.curl_url_get(u, what, part, flags);
}

/* Option numbers carry their argument's type: CURLOPTTYPE_LONG (0),
 * _OBJECTPOINT (10000), _FUNCTIONPOINT (20000), _OFF_T (30000), _BLOB
 * (40000); the multi options use the same ranges. */
CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
    va_list ap;
    CURLcode rc;

    need();
    va_start(ap, opt);
    if (opt < CURLOPTTYPE_OBJECTPOINT)
        rc = fn.easy_setopt(h, opt, va_arg(ap, long));
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
        rc = fn.easy_setopt(h, opt, va_arg(ap, void *));
    else if (opt < CURLOPTTYPE_OFF_T)
        rc = fn.easy_setopt(h, opt, va_arg(ap, anyfn *));
    else if (opt < CURLOPTTYPE_BLOB)
        rc = fn.easy_setopt(h, opt, va_arg(ap, curl_off_t));
    else
        rc = fn.easy_setopt(h, opt, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
    va_list ap;
    CURLMcode rc;

    need();
    va_start(ap, opt);
    if (opt < CURLOPTTYPE_OBJECTPOINT)
        rc = fn.multi_setopt(m, opt, va_arg(ap, long));
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
        rc = fn.multi_setopt(m, opt, va_arg(ap, void *));
    else if (opt < CURLOPTTYPE_OFF_T)
        rc = fn.multi_setopt(m, opt, va_arg(ap, anyfn *));
    else
        rc = fn.multi_setopt(m, opt, va_arg(ap, curl_off_t));
    va_end(ap);
    return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    va_list ap;
    void *out;

    need();
    va_start(ap, info);
    out = va_arg(ap, void *);
    va_end(ap);
    return fn.easy_getinfo(h, info, out);
}
