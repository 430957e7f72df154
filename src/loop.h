/* SPDX-License-Identifier: MIT
 * loop.h - the event loop seam (libuv in fd mode, hidden in loop.c): fd
 * watchers, timers, signals, the deferred queue, child processes.
 * Single-threaded. Objects are opaque and heap-allocated; their _free
 * functions stop them at once and release memory later, from the loop
 * (libuv closes handles asynchronously), so any _free may be called from
 * inside the object's own callback. */
#ifndef PTTH_LOOP_H
#define PTTH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "ptth.h"

struct loop;
struct io_watch;
struct timer;
struct sig_watch;

/* ---- the loop ---- */

/* Returns a new loop, or NULL when the OS refuses (errno set). */
struct loop *loop_new(void);
/* Runs queued deferred work (which must not re-queue itself forever),
 * then closes and frees every watcher, timer, signal watcher and child
 * handle still open (pointers to them become invalid; exit callbacks of
 * running children never fire), waits for the closes and frees |l|.
 * NULL is fine; not from inside a callback of |l|. */
void loop_free(struct loop *l);
/* Runs callbacks until loop_stop or until nothing keeps the loop alive
 * (signal watchers do not). Returns 0. */
int loop_run(struct loop *l);
/* Makes loop_run return after the current iteration. Never calls back. */
void loop_stop(struct loop *l);
/* Milliseconds on the monotonic clock, cached at the start of each loop
 * iteration; timers count from this value. */
uint64_t loop_now_ms(struct loop *l);
/* Returns the run-time libuv version, e.g. "1.44.2" (static). */
const char *loop_library_version(void);

/* ---- fd watchers ---- */

#define IO_READ 1
#define IO_WRITE 2
/* IO_ERROR comes with the requested READ/WRITE bits: read or write now to
 * see the error. libuv has then stopped the watch: io_watch_set re-arms. */
#define IO_ERROR 4

/* |events|: IO_READ/IO_WRITE that are ready (readiness may be spurious:
 * expect EAGAIN). A hangup is reported as IO_READ (read sees EOF). */
typedef void io_cb(void *arg, int events);

/* Returns a stopped watch on |fd| (borrowed: never closed here) or NULL
 * with errno set: EEXIST when another watch on |fd| exists (on Linux; with
 * libuv's polls elsewhere or with --disable-epoll, when another one is
 * active), EPERM/EBADF when
 * |fd| cannot be polled. Makes |fd| non-blocking (even when it fails).
 * Never calls back. */
struct io_watch *io_watch_new(struct loop *l, int fd, io_cb *cb, void *arg);
/* Polls for IO_READ|IO_WRITE (0 stops); no system call when unchanged.
 * Returns 0, or PTTH_EIO with errno set (ENOENT, EBADF: the fd was closed
 * under the watch; the watch is unchanged). Never calls back. */
int io_watch_set(struct io_watch *w, int events);
/* Returns the events being polled for (0 after IO_ERROR). */
int io_watch_events(const struct io_watch *w);
/* Stops |w| at once (its callback never fires again, even for events
 * already collected this iteration) and frees it from the loop later. Close
 * the fd only after this call. NULL is fine; may be called from |w|'s
 * callback. */
void io_watch_free(struct io_watch *w);

/* ---- timers ---- */

typedef void timer_cb(void *arg);

/* Returns a stopped timer. Never NULL, never calls back. */
struct timer *timer_new(struct loop *l, timer_cb *cb, void *arg);
/* (Re)arms |t| to fire |timeout_ms| after loop_now_ms(), then every
 * |repeat_ms| if non-zero. Never calls back. */
void timer_start(struct timer *t, uint64_t timeout_ms, uint64_t repeat_ms);
/* Disarms |t|; fine when not armed. */
void timer_stop(struct timer *t); /* NULL is fine */
/* True while armed (a one-shot timer is disarmed before its callback). */
bool timer_active(const struct timer *t);
/* Stops |t| at once and frees it from the loop later. NULL is fine; may be
 * called from |t|'s callback. */
void timer_free(struct timer *t);

/* ---- signals ---- */

/* Returns a watcher calling |cb| from the loop after each |signum|, or
 * NULL with errno set (bad signal number). Signal watchers do NOT keep the
 * loop alive by themselves (unref'd): loop_run still returns when nothing
 * else is active. Never calls back synchronously. */
struct sig_watch *sig_watch_new(struct loop *l, int signum, timer_cb *cb,
                                void *arg);
/* Stops and frees (later) |s|; the default disposition is restored when
 * no watcher of that signal is left. NULL is fine; may be called from
 * |s|'s callback. */
void sig_watch_free(struct sig_watch *s);

/* ---- deferred queue ---- */

/* Queue passes after one round of I/O, at most. */
#define DEFER_PASSES 64

/* Embedded in the caller's object; set fn/arg (or deferred_init) and keep
 * queued/next to loop.c. */
struct deferred {
    struct deferred *next;
    void (*fn)(void *arg);
    void *arg;
    bool queued;
    bool late;         /* on the late queue (loop_defer_late) */
    unsigned long ran; /* the queue drain that last ran it */
};

/* Zeroes |d| and sets its function and argument. */
void deferred_init(struct deferred *d, void (*fn)(void *arg), void *arg);
/* Queues |d| to run once, in FIFO order, after this iteration's I/O (a
 * no-op when already queued). While the queue is not empty the loop does
 * not block in poll and stays alive. |d| is unqueued before fn runs, so fn
 * may re-queue it or free the object holding it. Never calls back. */
void loop_defer(struct loop *l, struct deferred *d);
/* Like loop_defer, for work that should see everything this iteration
 * produced (flushing output): late entries run only when no ordinary one
 * is waiting, so ordinary entries queued by those that ran (even a chain
 * of them) come first. An ordinary entry runs at most once per
 * iteration (one queued again after it ran waits for the next), so a
 * self-requeuing entry cannot starve I/O; a late entry runs again when
 * work queued it again (at most DEFER_PASSES queue passes in all).
 * Never calls back. */
void loop_defer_late(struct loop *l, struct deferred *d);
/* Removes |d| from its queue if queued (linear in the queue length).
 * Never calls back. */
void loop_cancel(struct loop *l, struct deferred *d);

/* ---- child processes ---- */

/* |status| is the exit code, or 128 + signal number (as a shell). */
typedef void exit_cb(void *arg, int status);

/* Starts "/bin/sh -c |cmd|" inheriting stdio, with the current environment
 * plus |env_extra| (NULL or NULL-ended "NAME=value" strings, overriding).
 * The child has default signal dispositions. |cb| runs from the loop when
 * the child exits (|arg| must stay valid until then). Sets *pid_out if
 * non-NULL. Returns 0, PTTH_EINVAL (entry without '='), or PTTH_EIO with
 * errno set (spawn failed; |cb| never runs). Never calls back
 * synchronously. */
int loop_spawn_shell(struct loop *l, const char *cmd, char **env_extra,
                     exit_cb *cb, void *arg, int *pid_out);

#endif /* PTTH_LOOP_H */
