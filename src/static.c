/* SPDX-License-Identifier: MIT
 * static.c - directory serving: resolution below DIR, responses, listings
 * and the pread() data provider.
 *
 * Resolution walks the normalised path one name at a time from an open
 * handle on DIR: fstatat(AT_SYMLINK_NOFOLLOW) classifies each name, then
 * openat(O_NOFOLLOW) opens it and fstat() proves it is the same object.
 * Directories go on a stack of fds (so ".." in a link target pops back to
 * where we came from, immune to concurrent renames), regular files end the
 * walk, anything else is refused. Symbolic links are expanded in place,
 * at most STATIC_MAX_LINKS per request. The walk is "inside" while the
 * bottom of its stack is DIR itself (recognised by device and inode, never
 * by name); only what is reached inside is served, unless
 * --follow-symlinks. Without it, a link target may pass through DIR's own
 * ancestors (so "../www/x" or "/srv/www/x" work when DIR is /srv/www), but
 * any other directory outside DIR ends the walk with 404.
 *
 * A file is served from the fd opened at request time: a file unlinked or
 * replaced by rename meanwhile is still sent whole (the old inode). After
 * every pread() the file is fstat()ed again: a short read, or a size or
 * mtime different from the one in the response's ETag, resets the stream
 * (the client sees a failed transfer, never wrong bytes under a 200). */
#include "config.h"

#include "static.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "h1.h"
#include "h2.h"
#include "hdr.h"
#include "log.h"
#include "util.h"

#define TAG "static"
/* Room for a link target joined with the rest of the path. */
#define WALK_BUF (2 * STATIC_PATH_MAX + 2)

struct devino {
    dev_t dev;
    ino_t ino;
};

struct static_ctx {
    int rootfd;
    struct devino root;
    struct devino up[STATIC_MAX_DEPTH]; /* DIR's ancestors, nearest first */
    size_t nup;
    const char *index; /* borrowed: cfg */
    bool list;
    bool follow;
    bool dotfiles;
};

struct static_req {
    int fd;            /* the file being sent, or -1 */
    uint64_t off, end; /* bytes [off, end) of it still to send */
    off_t size;        /* size and mtime when opened (in the ETag) */
    struct timespec mtime;
    char *body; /* listing or error text, or NULL */
    size_t body_len, body_off;
    char *path; /* for log lines */
};

/* ------------------------------------------------------------ helpers */

static bool
same(const struct devino *a, const struct stat *st)
{
    return a->dev == st->st_dev && a->ino == st->st_ino;
}

static struct devino
devino_of(const struct stat *st)
{
    struct devino d;
    d.dev = st->st_dev;
    d.ino = st->st_ino;
    return d;
}

static int64_t
mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Growing string for listings. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Appends s with & < > " ' escaped. */
static void
sb_html(struct sbuf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            sb_str(b, "&amp;");
            break;
        case '<':
            sb_str(b, "&lt;");
            break;
        case '>':
            sb_str(b, "&gt;");
            break;
        case '"':
            sb_str(b, "&quot;");
            break;
        case '\'':
            sb_str(b, "&#39;");
            break;
        default:
            sb_add(b, s, 1);
        }
    }
}

/* ------------------------------------------------------------ context */

struct static_ctx *
static_new(const struct cfg *cfg, char *err, size_t errlen)
{
    struct static_ctx *sc;
    struct stat st;
    int fd, parent;

    fd = open(cfg->up_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot open the directory '%s': %s",
                 cfg->up_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    sc = xcalloc(1, sizeof(*sc));
    sc->rootfd = fd;
    sc->root = devino_of(&st);
    sc->index = cfg->index ? cfg->index : "index.html";
    sc->list = cfg->list;
    sc->follow = cfg->follow_symlinks;
    sc->dotfiles = cfg->dotfiles;
    /* DIR's ancestors up to /, by identity: link targets may pass through
     * them on their way back into DIR. An unreadable ancestor ends the
     * chain (such targets are then refused, which is safe). */
    parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (parent >= 0 && sc->nup < STATIC_MAX_DEPTH) {
        int next;
        if (fstat(parent, &st) != 0 ||
            (sc->nup > 0 && same(&sc->up[sc->nup - 1], &st)) ||
            same(&sc->root, &st))
            break; /* "/" is its own parent */
        sc->up[sc->nup++] = devino_of(&st);
        next = openat(parent, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(parent);
        parent = next;
    }
    if (parent >= 0)
        close(parent);
    return sc;
}

void
static_free(struct static_ctx *sc)
{
    if (sc == NULL)
        return;
    close(sc->rootfd);
    free(sc);
}

/* ------------------------------------------------------------ the walk */

enum walk_kind {
    WALK_FILE,
    WALK_DIR,
};

struct walk {
    const struct static_ctx *sc;
    int fd[STATIC_MAX_DEPTH + 1]; /* fd[0]: the base; the rest owned */
    int n;
    bool inside; /* fd[0] is DIR (borrowed) rather than owned */
    int links;
    const char *why; /* reason for a refusal, for the log */
};

static void
walk_drop(struct walk *w)
{
    int i;
    for (i = w->n - 1; i >= 1; i--)
        close(w->fd[i]);
    if (!w->inside && w->n > 0)
        close(w->fd[0]);
    w->n = 0;
}

static void
walk_root(struct walk *w)
{
    walk_drop(w);
    w->fd[0] = w->sc->rootfd;
    w->n = 1;
    w->inside = true;
}

static bool
is_ancestor(const struct static_ctx *sc, const struct stat *st)
{
    size_t i;
    for (i = 0; i < sc->nup; i++)
        if (same(&sc->up[i], st))
            return true;
    return false;
}

/* Maps an errno from fstatat/openat/readlinkat to a status. */
static int
errno_status(struct walk *w, int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        w->why = "not found";
        return 404;
    case EACCES:
    case EPERM:
        w->why = "permission denied";
        return 403;
    case ELOOP:
    case ENXIO:
    case ENODEV:
    case EWOULDBLOCK:
        w->why = "not a regular file or directory";
        return 403;
    default:
        w->why = strerror(e);
        return 500;
    }
}

/* A directory fd (already checked) becomes the new top, or the new base
 * when it replaces the base (up). Returns 0 or a status. */
static int
walk_enter_dir(struct walk *w, int fd, const struct stat *st, bool as_base)
{
    const struct static_ctx *sc = w->sc;

    if (same(&sc->root, st)) { /* back in DIR, however we got here */
        close(fd);
        walk_root(w);
        return 0;
    }
    if (as_base) {
        if (!w->inside)
            close(w->fd[0]);
        w->fd[0] = fd;
        w->inside = false;
    } else {
        if (w->n > STATIC_MAX_DEPTH) {
            close(fd);
            w->why = "too deep";
            return 404;
        }
        w->fd[w->n++] = fd;
    }
    if (!w->inside && !sc->follow && !is_ancestor(sc, st)) {
        w->why = "a symbolic link leads out of the directory";
        return 404;
    }
    return 0;
}

/* "..": pops, or (at the base) moves the base to its parent. */
static int
walk_up(struct walk *w)
{
    struct stat st;
    int fd;

    if (w->n > 1) {
        close(w->fd[--w->n]);
        return 0;
    }
    if (w->inside && !w->sc->follow && w->sc->nup == 0) {
        w->why = "a symbolic link leads out of the directory";
        return 404;
    }
    fd = openat(w->fd[0], "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno_status(w, errno);
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return errno_status(w, e);
    }
    return walk_enter_dir(w, fd, &st, true);
}

/* Next segment of *p (skipping slashes) into seg. Returns 0 with a
 * segment, PTTH_ECLOSED at the end, PTTH_ELIMIT if it does not fit. */
static int
next_seg(const char **p, char *seg, size_t seglen)
{
    const char *s = *p, *e;

    while (*s == '/')
        s++;
    if (*s == '\0')
        return PTTH_ECLOSED;
    e = strchr(s, '/');
    if (e == NULL)
        e = s + strlen(s);
    if ((size_t)(e - s) >= seglen)
        return PTTH_ELIMIT;
    memcpy(seg, s, (size_t)(e - s));
    seg[e - s] = '\0';
    *p = e;
    return 0;
}

static bool
only_slashes(const char *p)
{
    while (*p == '/')
        p++;
    return *p == '\0';
}

/* Resolves rel (normalised, no trailing slash) below DIR. Returns 0 with
 * an owned fd in *fdp, its stat in *st and its kind; or an HTTP status
 * (403, 404, 500) with the reason in *why. */
static int
resolve(const struct static_ctx *sc, const char *rel, int *fdp, struct stat *st,
        enum walk_kind *kind, const char **why)
{
    char bufs[2][WALK_BUF], seg[STATIC_PATH_MAX], target[STATIC_PATH_MAX];
    struct walk w;
    const char *p;
    int cur = 0, status = 0;

    memset(&w, 0, sizeof(w));
    w.sc = sc;
    walk_root(&w);
    if (ptth_strlcpy(bufs[cur], rel, WALK_BUF) >= WALK_BUF) {
        w.why = "path too long";
        status = 404;
        goto out;
    }
    p = bufs[cur];
    for (;;) {
        int top = w.fd[w.n - 1], fd, rc;
        struct stat ls;
        ssize_t tl;

        rc = next_seg(&p, seg, sizeof(seg));
        if (rc == PTTH_ELIMIT) {
            w.why = "name too long";
            status = 404;
            goto out;
        }
        if (rc == PTTH_ECLOSED) {
            /* The end: a directory. */
            if (!w.inside && !sc->follow) {
                w.why = "a symbolic link leads out of the directory";
                status = 404;
                goto out;
            }
            if (w.n > 1 || !w.inside) {
                *fdp = w.fd[--w.n]; /* handed over: walk_drop skips it */
            } else {
                *fdp = fcntl(sc->rootfd, F_DUPFD_CLOEXEC, 0);
                if (*fdp < 0) {
                    status = errno_status(&w, errno);
                    goto out;
                }
            }
            if (fstat(*fdp, st) != 0) {
                status = errno_status(&w, errno);
                close(*fdp);
                goto out;
            }
            *kind = WALK_DIR;
            goto out;
        }
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            if ((status = walk_up(&w)) != 0)
                goto out;
            continue;
        }
        if (w.inside && seg[0] == '.' && !sc->dotfiles) {
            w.why = "dotfiles are not served";
            status = 404;
            goto out;
        }
        if (fstatat(top, seg, &ls, AT_SYMLINK_NOFOLLOW) != 0) {
            status = errno_status(&w, errno);
            goto out;
        }
        if (S_ISLNK(ls.st_mode)) {
            size_t tlen, rlen = strlen(p);
            if (++w.links > STATIC_MAX_LINKS) {
                w.why = "too many symbolic links";
                status = 403;
                goto out;
            }
            tl = readlinkat(top, seg, target, sizeof(target));
            if (tl < 0) {
                status = errno_status(&w, errno);
                goto out;
            }
            tlen = (size_t)tl;
            if (tlen == 0 || tlen >= sizeof(target) ||
                tlen + 1 + rlen >= WALK_BUF) {
                w.why = "unusable symbolic link";
                status = 404;
                goto out;
            }
            /* The rest of the path now follows the link's target. */
            memcpy(bufs[!cur], target, tlen);
            bufs[!cur][tlen] = '/';
            memcpy(bufs[!cur] + tlen + 1, p, rlen + 1);
            cur = !cur;
            p = bufs[cur];
            if (target[0] == '/') {
                struct stat rs;
                walk_drop(&w);
                w.inside = true; /* nothing owned while we reopen */
                fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &rs) != 0) {
                    status = errno_status(&w, errno);
                    if (fd >= 0)
                        close(fd);
                    goto out;
                }
                w.fd[0] = -1;
                w.n = 1;
                if ((status = walk_enter_dir(&w, fd, &rs, true)) != 0)
                    goto out;
            }
            continue;
        }
        if (S_ISDIR(ls.st_mode)) {
            struct stat ds;
            fd = openat(top, seg,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                status = errno_status(&w, errno);
                goto out;
            }
            if (fstat(fd, &ds) != 0 || !S_ISDIR(ds.st_mode) ||
                ds.st_dev != ls.st_dev || ds.st_ino != ls.st_ino) {
                close(fd);
                w.why = "changed while being resolved";
                status = 404;
                goto out;
            }
            if ((status = walk_enter_dir(&w, fd, &ds, false)) != 0)
                goto out;
            continue;
        }
        if (!S_ISREG(ls.st_mode)) {
            w.why = "not a regular file or directory";
            status = 403;
            goto out;
        }
        if (!only_slashes(p)) {
            w.why = "not found"; /* "file/more": ENOTDIR */
            status = 404;
            goto out;
        }
        if (!w.inside && !sc->follow) {
            w.why = "a symbolic link leads out of the directory";
            status = 404;
            goto out;
        }
        fd = openat(top, seg,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            status = errno_status(&w, errno);
            goto out;
        }
        if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
            st->st_dev != ls.st_dev || st->st_ino != ls.st_ino) {
            close(fd);
            w.why = "changed while being resolved";
            status = 404;
            goto out;
        }
        *fdp = fd;
        *kind = WALK_FILE;
        goto out;
    }
out:
    walk_drop(&w);
    *why = w.why;
    return status;
}

/* ------------------------------------------------------------ responses */

struct resp {
    nghttp2_nv nv[16];
    size_t n;
    char status[8];
    char clen[24];
    char crange[80];
    char etag[STATIC_ETAG_MAX];
    char date[STATIC_DATE_MAX];
};

static void
resp_add(struct resp *rs, const char *name, const char *value)
{
    if (rs->n < PTTH_ARRAY_LEN(rs->nv))
        rs->nv[rs->n++] = h2_nv(name, value);
}

static void
resp_start(struct resp *rs, int status)
{
    rs->n = 0;
    snprintf(rs->status, sizeof(rs->status), "%d", status);
    resp_add(rs, ":status", rs->status);
}

static void
resp_length(struct resp *rs, uint64_t n)
{
    snprintf(rs->clen, sizeof(rs->clen), "%llu", (unsigned long long)n);
    resp_add(rs, "content-length", rs->clen);
}

static ssize_t
read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct static_req *r = src->ptr;
    size_t want, got = 0;
    struct stat st;

    (void)s;
    (void)sid;
    (void)ud;
    if (r->body != NULL) {
        want = r->body_len - r->body_off;
        if (want > len)
            want = len;
        memcpy(buf, r->body + r->body_off, want);
        r->body_off += want;
        if (r->body_off == r->body_len)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)want;
    }
    want = r->end - r->off < len ? (size_t)(r->end - r->off) : len;
    while (got < want) {
        ssize_t n = pread(r->fd, buf + got, want - got, (off_t)(r->off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_warn(TAG, "%s: read error: %s; stream reset", r->path,
                     strerror(errno));
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    /* After the read: a change that reached these bytes shows here. */
    if (got < want || fstat(r->fd, &st) != 0 || st.st_size != r->size ||
        st.st_mtim.tv_sec != r->mtime.tv_sec ||
        st.st_mtim.tv_nsec != r->mtime.tv_nsec) {
        log_info(TAG, "%s: the file changed while being sent; stream reset",
                 r->path);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    r->off += got;
    if (r->off == r->end)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)got;
}

/* Submits rs; a body is sent from r unless head or nobody. Returns r when
 * it is the data source, NULL when it was freed. */
static struct static_req *
submit(struct static_req *r, nghttp2_session *s, int32_t sid, struct resp *rs,
       bool with_body)
{
    nghttp2_data_provider prd;
    int rc;

    memset(&prd, 0, sizeof(prd));
    prd.source.ptr = r;
    prd.read_callback = read_cb;
    rc =
        nghttp2_submit_response(s, sid, rs->nv, rs->n, with_body ? &prd : NULL);
    if (rc != 0) {
        log_warn(TAG, "%s: cannot submit the response: %s", r->path,
                 nghttp2_strerror(rc));
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, sid,
                                  NGHTTP2_INTERNAL_ERROR);
        with_body = false;
    }
    if (!with_body) {
        static_req_free(r);
        return NULL;
    }
    return r;
}

/* A short text answer: "404 Not Found\n". */
static struct static_req *
reply_status(struct static_req *r, nghttp2_session *s, int32_t sid, int status,
             bool head, const char *location)
{
    struct resp rs;

    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    free(r->body);
    r->body = xasprintf("%d %s\n", status, h1_reason(status));
    r->body_len = strlen(r->body);
    resp_start(&rs, status);
    resp_add(&rs, "content-type", "text/plain; charset=utf-8");
    resp_length(&rs, r->body_len);
    resp_add(&rs, "x-content-type-options", "nosniff");
    if (status == 405)
        resp_add(&rs, "allow", "GET, HEAD");
    if (location != NULL)
        resp_add(&rs, "location", location);
    return submit(r, s, sid, &rs, !head);
}

/* True when any field called name lists etag (static_etag_match). */
static bool
any_etag_match(const struct hdr_list *f, const char *name, const char *etag,
               bool weak)
{
    size_t i;
    for (i = 0; i < f->n; i++)
        if (str_ieq(f->v[i].name, name) &&
            static_etag_match(f->v[i].value, etag, weak))
            return true;
    return false;
}

/* True when there is no If-Range, or it names the current ETag (strong
 * comparison) or exactly the current Last-Modified date. */
static bool
if_range_holds(const struct hdr_list *f, const char *etag,
               const struct stat *st)
{
    const struct hdr *h = hdr_get(f, "if-range");
    int64_t t;

    if (h == NULL)
        return true;
    if (h->value[0] == '"' || strncmp(h->value, "W/", 2) == 0)
        return static_etag_match(h->value, etag, false);
    return static_parse_http_date(h->value, &t) == 0 &&
           t == (int64_t)st->st_mtim.tv_sec;
}

static struct static_req *
serve_file(struct static_req *r, nghttp2_session *s, int32_t sid, bool head,
           const char *rel, int fd, const struct stat *st,
           const struct hdr_list *f)
{
    const struct hdr *h, *range = hdr_get(f, "range");
    uint64_t size = (uint64_t)st->st_size, first = 0, last = 0;
    int64_t t;
    int rc = PTTH_EINVAL;
    struct resp rs;

    r->fd = fd;
    r->size = st->st_size;
    r->mtime = st->st_mtim;
    memset(&rs, 0, sizeof(rs));
    static_etag(rs.etag, sizeof(rs.etag), size, mtime_ns(st),
                (uint64_t)st->st_ino);
    if (static_http_date((int64_t)st->st_mtim.tv_sec, rs.date,
                         sizeof(rs.date)) != 0)
        rs.date[0] = '\0';

    /* Preconditions, in the order of RFC 9110 13.2.2. */
    if (hdr_get(f, "if-match") != NULL) {
        if (!any_etag_match(f, "if-match", rs.etag, false))
            return reply_status(r, s, sid, 412, head, NULL);
    } else if ((h = hdr_get(f, "if-unmodified-since")) != NULL &&
               static_parse_http_date(h->value, &t) == 0 &&
               (int64_t)st->st_mtim.tv_sec > t) {
        return reply_status(r, s, sid, 412, head, NULL);
    }
    if (hdr_get(f, "if-none-match") != NULL) {
        if (any_etag_match(f, "if-none-match", rs.etag, true))
            goto not_modified;
    } else if ((h = hdr_get(f, "if-modified-since")) != NULL &&
               static_parse_http_date(h->value, &t) == 0 &&
               (int64_t)st->st_mtim.tv_sec <= t) {
        goto not_modified;
    }
    if (range != NULL && !head && if_range_holds(f, rs.etag, st))
        rc = static_parse_range(range->value, size, &first, &last);
    if (rc == PTTH_ELIMIT) {
        struct static_req *ret;
        snprintf(rs.crange, sizeof(rs.crange), "bytes */%llu",
                 (unsigned long long)size);
        r->fd = -1;
        close(fd);
        free(r->body);
        r->body = xasprintf("416 %s\n", h1_reason(416));
        r->body_len = strlen(r->body);
        resp_start(&rs, 416);
        resp_add(&rs, "content-type", "text/plain; charset=utf-8");
        resp_length(&rs, r->body_len);
        resp_add(&rs, "content-range", rs.crange);
        resp_add(&rs, "accept-ranges", "bytes");
        ret = submit(r, s, sid, &rs, true);
        log_debug(TAG, "GET /%s: 416 (range not satisfiable)", rel);
        return ret;
    }
    if (rc == 0) {
        resp_start(&rs, 206);
        snprintf(rs.crange, sizeof(rs.crange), "bytes %llu-%llu/%llu",
                 (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)size);
        r->off = first;
        r->end = last + 1;
    } else {
        resp_start(&rs, 200);
        r->off = 0;
        r->end = size;
    }
    resp_add(&rs, "content-type", static_mime_type(rel));
    resp_length(&rs, r->end - r->off);
    if (rc == 0)
        resp_add(&rs, "content-range", rs.crange);
    resp_add(&rs, "accept-ranges", "bytes");
    resp_add(&rs, "etag", rs.etag);
    if (rs.date[0] != '\0')
        resp_add(&rs, "last-modified", rs.date);
    resp_add(&rs, "cache-control", "no-cache");
    resp_add(&rs, "x-content-type-options", "nosniff");
    log_debug(TAG, "%s /%s: %s", head ? "HEAD" : "GET", rel, rs.status);
    return submit(r, s, sid, &rs, !head && r->end > r->off);

not_modified:
    resp_start(&rs, 304);
    resp_add(&rs, "etag", rs.etag);
    if (rs.date[0] != '\0')
        resp_add(&rs, "last-modified", rs.date);
    resp_add(&rs, "cache-control", "no-cache");
    log_debug(TAG, "%s /%s: 304", head ? "HEAD" : "GET", rel);
    return submit(r, s, sid, &rs, false);
}

/* ------------------------------------------------------------ listings */

struct entry {
    char *name;
    bool dir;
    uint64_t size;
    int64_t mtime;
};

static int
entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->dir != y->dir)
        return x->dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* True when name can be asked for by name: it survives percent-encoding
 * and the normaliser unchanged (valid UTF-8, no controls, no
 * backslash, not "." or ".."). */
static bool
name_servable(const char *name)
{
    char enc[3 * 256 + 2], dec[256 + 2];

    enc[0] = '/';
    if (strlen(name) > 255 ||
        static_pct_encode(name, false, enc + 1, sizeof(enc) - 1) != 0 ||
        static_normalize(enc, dec, sizeof(dec)) != 0)
        return false;
    return strcmp(dec, name) == 0;
}

/* Collects what the listing of dfd (= rel) may show: names a request
 * could fetch, with the type and size they would be served with, sorted.
 * Returns 0 with *nout entries (owned), or PTTH_EIO (errno set) when the
 * directory cannot be read. */
static int
collect(const struct static_ctx *sc, int dfd, const char *rel,
        struct entry **out, size_t *nout, size_t *hidden_over)
{
    struct entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);

    *hidden_over = 0;
    *out = NULL;
    *nout = 0;
    if (fd < 0)
        return PTTH_EIO;
    d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        errno = e;
        return PTTH_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        struct entry *e;

        if (!name_servable(de->d_name) ||
            (de->d_name[0] == '.' && !sc->dotfiles))
            continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            /* Shown only if it resolves to something served. */
            char path[STATIC_PATH_MAX];
            const char *why;
            enum walk_kind kind;
            int lfd;
            if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel,
                                 rel[0] ? "/" : "",
                                 de->d_name) >= sizeof(path) ||
                resolve(sc, path, &lfd, &st, &kind, &why) != 0)
                continue;
            close(lfd);
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue;
        if (n == STATIC_LIST_MAX) {
            (*hidden_over)++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = xrealloc(v, cap * sizeof(*v));
        }
        e = &v[n++];
        e->name = xstrdup(de->d_name);
        e->dir = S_ISDIR(st.st_mode);
        e->size = (uint64_t)st.st_size;
        e->mtime = (int64_t)st.st_mtim.tv_sec;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), entry_cmp);
    *out = v;
    *nout = n;
    return 0;
}

static struct static_req *
serve_listing(const struct static_ctx *sc, struct static_req *r,
              nghttp2_session *s, int32_t sid, bool head, const char *rel,
              int dfd)
{
    struct sbuf b = {NULL, 0, 0};
    struct entry *v;
    size_t n, over, i;
    char enc[3 * 256 + 4], num[64];
    struct resp rs;

    if (collect(sc, dfd, rel, &v, &n, &over) != 0) {
        log_info(TAG, "/%s: cannot read the directory: %s", rel,
                 strerror(errno));
        return reply_status(r, s, sid, 403, head, NULL);
    }
    sb_str(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
               "<title>Index of /");
    sb_html(&b, rel);
    sb_str(&b, rel[0] ? "/" : "");
    sb_str(&b, "</title>\n<style>body{font-family:sans-serif}"
               "td{padding:0 1em 0 0}td.s{text-align:right}</style>"
               "</head>\n<body>\n<h1>Index of /");
    sb_html(&b, rel);
    sb_str(&b, rel[0] ? "/" : "");
    sb_str(&b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th>"
               "<th>Modified (UTC)</th></tr>\n");
    if (rel[0] != '\0')
        sb_str(&b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td>"
                   "</tr>\n");
    for (i = 0; i < n; i++) {
        const struct entry *e = &v[i];
        char date[STATIC_DATE_MAX];
        static_pct_encode(e->name, false, enc, sizeof(enc));
        sb_str(&b, "<tr><td><a href=\"./");
        sb_str(&b, enc);
        sb_str(&b, e->dir ? "/\">" : "\">");
        sb_html(&b, e->name);
        sb_str(&b, e->dir ? "/</a></td><td class=\"s\">-" : "</a></td>");
        if (!e->dir) {
            snprintf(num, sizeof(num), "<td class=\"s\">%llu",
                     (unsigned long long)e->size);
            sb_str(&b, num);
        }
        sb_str(&b, "</td><td>");
        if (static_http_date(e->mtime, date, sizeof(date)) == 0)
            sb_str(&b, date);
        sb_str(&b, "</td></tr>\n");
        free(e->name);
    }
    free(v);
    sb_str(&b, "</table>\n");
    if (over > 0) {
        snprintf(num, sizeof(num), "<p>%zu more entries not shown.</p>\n",
                 over);
        sb_str(&b, num);
    }
    sb_str(&b, "</body></html>\n");
    r->body = b.p;
    r->body_len = b.len;
    memset(&rs, 0, sizeof(rs));
    resp_start(&rs, 200);
    resp_add(&rs, "content-type", "text/html; charset=utf-8");
    resp_length(&rs, r->body_len);
    resp_add(&rs, "cache-control", "no-cache");
    resp_add(&rs, "x-content-type-options", "nosniff");
    resp_add(&rs, "content-security-policy",
             "default-src 'none'; style-src 'unsafe-inline'");
    log_debug(TAG, "%s /%s: listing, %zu entries", head ? "HEAD" : "GET", rel,
              n);
    return submit(r, s, sid, &rs, !head);
}

/* ------------------------------------------------------------ requests */

/* "/" + the encoded rel + "/" + the query when it is plain printable
 * ASCII: the redirect for a directory asked for without its slash. */
static char *
dir_location(const char *rel, const char *path)
{
    char enc[3 * STATIC_PATH_MAX];
    const char *q = strchr(path, '?'), *c;

    if (static_pct_encode(rel, true, enc, sizeof(enc)) != 0)
        return NULL;
    if (q != NULL) {
        for (c = q; *c != '\0'; c++)
            if (*c <= ' ' || *c >= 0x7f)
                q = NULL;
    }
    return xasprintf("/%s/%s", enc, q ? q : "");
}

struct static_req *
static_serve(struct static_ctx *sc, struct nghttp2_session *s, int32_t sid,
             const char *method, const char *path,
             const struct hdr_list *fields)
{
    struct static_req *r = xcalloc(1, sizeof(*r));
    char rel[STATIC_PATH_MAX], idx[STATIC_PATH_MAX];
    bool head = strcmp(method, "HEAD") == 0, slash;
    enum walk_kind kind;
    struct stat st;
    const char *why = NULL;
    int status, fd;
    size_t len;

    r->fd = -1;
    r->path = xstrdup(path);
    if (!head && strcmp(method, "GET") != 0) {
        log_debug(TAG, "%s %s: 405", method, path);
        return reply_status(r, s, sid, 405, false, NULL);
    }
    if (path[0] != '/') {
        log_info(TAG, "%s %s: 400 (not an origin-form path)", method, path);
        return reply_status(r, s, sid, 400, head, NULL);
    }
    if (static_normalize(path, rel, sizeof(rel)) != 0) {
        log_info(TAG, "%s %s: 404 (unsafe or malformed path)", method, path);
        return reply_status(r, s, sid, 404, head, NULL);
    }
    len = strlen(rel);
    slash = len > 0 && rel[len - 1] == '/';
    if (slash)
        rel[--len] = '\0';
    status = resolve(sc, rel, &fd, &st, &kind, &why);
    if (status == 0 && kind == WALK_FILE && slash) {
        close(fd);
        status = 404;
        why = "not a directory";
    }
    if (status != 0) {
        if (status == 500)
            log_warn(TAG, "%s %s: 500 (%s)", method, path, why);
        else if (status == 403 || (why && strcmp(why, "not found") != 0))
            log_info(TAG, "%s %s: %d (%s)", method, path, status, why);
        else
            log_debug(TAG, "%s %s: %d (%s)", method, path, status, why);
        return reply_status(r, s, sid, status, head, NULL);
    }
    if (kind == WALK_FILE)
        return serve_file(r, s, sid, head, rel, fd, &st, fields);

    /* A directory. */
    if (!slash && len > 0) {
        char *loc = dir_location(rel, path);
        struct static_req *ret;
        close(fd);
        if (loc == NULL)
            return reply_status(r, s, sid, 404, head, NULL);
        ret = reply_status(r, s, sid, 301, head, loc);
        free(loc);
        return ret;
    }
    if ((size_t)snprintf(idx, sizeof(idx), "%s%s%s", rel, len ? "/" : "",
                         sc->index) < sizeof(idx)) {
        int ifd;
        struct stat ist;
        enum walk_kind ik;
        const char *iwhy;
        if (resolve(sc, idx, &ifd, &ist, &ik, &iwhy) == 0) {
            if (ik == WALK_FILE) {
                close(fd);
                return serve_file(r, s, sid, head, idx, ifd, &ist, fields);
            }
            close(ifd);
        }
    }
    if (sc->list) {
        struct static_req *ret = serve_listing(sc, r, s, sid, head, rel, fd);
        close(fd);
        return ret;
    }
    close(fd);
    log_debug(TAG, "%s %s: 404 (a directory without %s)", method, path,
              sc->index);
    return reply_status(r, s, sid, 404, head, NULL);
}

void
static_req_free(struct static_req *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->body);
    free(r->path);
    free(r);
}
