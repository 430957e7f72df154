/* SPDX-License-Identifier: MIT
 * curlm.h - one libcurl multi handle driven by the loop: curl's sockets
 * become io_watches (CURLMOPT_SOCKETFUNCTION), its timeout one loop timer
 * (CURLMOPT_TIMERFUNCTION), and finished transfers are reported from the
 * deferred queue, so an owner may remove and free its handle there. For
 * the curl-wrapping modules only (dial.c, upstream.c, tunnel.c); easy
 * handles travel as void * so this header needs no <curl/curl.h>.
 *
 * libcurl rules that apply to every owner (7.88):
 * - curlm owns CURLOPT_PRIVATE of every handle it holds; use the
 *   callbacks' own data pointers instead.
 * - Never call curlm_remove (curl_multi_remove_handle) or
 *   curl_easy_cleanup from inside a libcurl callback (header, write, read,
 *   ...). Defer it.
 * - curl_easy_pause(CONT) only through curlm_defer_unpause: unpausing may
 *   call the write callback before it returns.
 * - CURLOPT_HTTPHEADER lists are not copied: keep them until the handle is
 *   removed. String options are copied. */
#ifndef PTTH_CURLM_H
#define PTTH_CURLM_H

#include <stdbool.h>

#include "ptth.h"

struct loop;
struct curlm;

/* Pause bits returned by a curlm_pause_fn; the same values as libcurl's
 * CURLPAUSE_RECV and CURLPAUSE_SEND (checked in curlm.c). */
#define CURLM_KEEP_RECV 1
#define CURLM_KEEP_SEND 4

/* Called from the deferred queue when the transfer of a handle has ended
 * (|curlcode| is its CURLcode; 0 = CURLE_OK). The handle is still added:
 * remove it with curlm_remove (here or later). */
typedef void curlm_done_fn(void *arg, int curlcode);
/* Called from the deferred queue right before curl_easy_pause: returns the
 * directions (CURLM_KEEP_*) that must stay paused, 0 to resume both. */
typedef int curlm_pause_fn(void *arg);

#define EASY_POOL_MAX 64
/* Connections curl keeps open between transfers (CURLMOPT_MAXCONNECTS).
 * libcurl's default, four per added handle, shrinks as transfers end and
 * closed about one keep-alive connection in 70 at 64 concurrent requests;
 * 64 is what nginx setups commonly keep per upstream. */
#define CURLM_MAX_IDLE 64
/* Reads of a transfer added with CURLM_BIG_READS: libcurl 7.88 makes one
 * recv and one poll() per buffer (16 KiB by default), which cost a lone
 * 1 GiB download through the worker about a quarter of its CPU. At most
 * CURLM_BIG_MAX such transfers at a time read CURLM_BIG_BUF bytes per
 * call (libcurl allocates the buffer per transfer), so many concurrent
 * transfers do not each hold a large buffer: peak memory grows by at
 * most CURLM_BIG_MAX * CURLM_BIG_BUF. */
#define CURLM_BIG_READS 1u
#define CURLM_BIG_BUF (128 * 1024)
#define CURLM_BIG_MAX 2

/* Returns a multi handle bound to |l| (borrowed; must outlive it), or NULL
 * when libcurl refuses to create one. Never calls back. */
struct curlm *curlm_new(struct loop *l);

/* libcurl's process-wide set-up, before any other curlm or dial call.
 * Returns 0 or PTTH_EIO. curlm_global_cleanup undoes it. */
int curlm_global_init(void);
void curlm_global_cleanup(void);

/* libcurl's version, "7.88.1" (static storage). */
const char *curlm_library_version(void);
/* An easy handle: a reused one when the pool has one (*fresh = false; its
 * options are as its last user left them, its buffers and connection
 * cache stay), else a new one with default options (*fresh = true); NULL
 * when libcurl fails. Give it back with curlm_easy_put (not
 * curl_easy_cleanup) once it is out of the multi. */
void *curlm_easy_get(struct curlm *m, bool *fresh);
/* Keeps easy for reuse as it is (at most EASY_POOL_MAX), or cleans it up.
 * Only the one owner of the pool's handles may put them back, since the
 * next user relies on the options it left. NULL is fine. */
void curlm_easy_put(struct curlm *m, void *easy);
/* Closes curl's cached connections and frees |m|. Owners release their
 * handles first (upstream_cancel and dial_cancel do so at once when called
 * outside libcurl callbacks); any handle still added is removed here and
 * its done function never runs. Not from inside a callback of |m|. NULL
 * is fine. */
void curlm_free(struct curlm *m);
/* Has |m| open and close the sockets of |easy| (a CURL *, not added), so
 * that a keep-alive connection keeps its watch between transfers. For
 * handles whose sockets stay curl's (not dial.c's, which hands its socket
 * on). Returns 0 or PTTH_EIO. Never calls back. */
int curlm_keep_sockets(struct curlm *m, void *easy);
/* Returns the loop |m| runs on. */
struct loop *curlm_loop(const struct curlm *m);
/* True while libcurl runs on |m|: inside one of its callbacks, where
 * handles must not be removed. */
bool curlm_busy(const struct curlm *m);

/* Adds |easy| (a CURL *, configured, not yet added anywhere): curl starts
 * it from the loop, and |done| runs once, from the deferred queue, when
 * it ends. Sets CURLOPT_PRIVATE, and CURLOPT_BUFFERSIZE when |flags| has
 * CURLM_BIG_READS. Returns 0, or PTTH_EIO when libcurl refuses (nothing
 * added). Never calls back synchronously. */
int curlm_add(struct curlm *m, void *easy, unsigned flags, curlm_done_fn *done,
              void *arg);
/* How many added transfers read CURLM_BIG_BUF at a time now. */
int curlm_big_reads(const struct curlm *m);
/* Removes |easy| (added with curlm_add) from the multi; a pending done or
 * unpause is dropped. The caller then owns it again (curl_easy_cleanup).
 * Stopping a transfer early closes its connection. Never from inside a
 * libcurl callback (asserted); fine from |done|. May run libcurl's socket
 * and timer callbacks, never the owner's. */
void curlm_remove(struct curlm *m, void *easy);
/* Sets the function consulted before each deferred unpause of |easy|;
 * without one, both directions resume (CURLPAUSE_CONT). */
void curlm_set_pause_fn(struct curlm *m, void *easy, curlm_pause_fn *fn);
/* Queues curl_easy_pause(easy, pause_fn ? pause_fn(arg) : CONT) to run
 * from the deferred queue (once, however often it is queued). libcurl may
 * call the handle's write callback from there. Never calls back
 * synchronously. */
void curlm_defer_unpause(struct curlm *m, void *easy);

#endif /* PTTH_CURLM_H */
