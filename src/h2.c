/* SPDX-License-Identifier: MIT
 * h2.c - nghttp2 glue. */
#include "config.h"

#include "h2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "hdr.h"
#include "log.h"
#include "util.h"

const char *
h2_library_version(void)
{
    nghttp2_info *info = nghttp2_version(0);
    return info ? info->version_str : "unknown";
}

int
h2_session_new(nghttp2_session **s, enum h2_peer peer,
               const nghttp2_session_callbacks *cbs, void *ud)
{
    bool server = peer != H2_PEER_SERVER;
    nghttp2_option *opt;
    nghttp2_settings_entry iv[4];
    size_t niv = 0;
    int rc;

    if (nghttp2_option_new(&opt) != 0)
        return PTTH_EPROTO;
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_send_header_block_length(opt, 128 * 1024);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
#ifdef HAVE_NGHTTP2_OPTION_SET_STREAM_RESET_RATE_LIMIT
    /* Public clients: a burst of 1000 resets, then 33/s (nghttp2's own
     * defaults, against "rapid reset"). An edge resets one stream for
     * each of its clients that leaves early, from all of them at once:
     * past the limit nghttp2 would drop the whole tunnel with GOAWAY. */
    if (peer == H2_PEER_EDGE)
        nghttp2_option_set_stream_reset_rate_limit(opt, UINT64_MAX, UINT64_MAX);
    else
        nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
#endif
#ifdef HAVE_NGHTTP2_OPTION_SET_MAX_CONTINUATIONS
    nghttp2_option_set_max_continuations(opt, 8);
#endif
    rc = server ? nghttp2_session_server_new2(s, cbs, ud, opt)
                : nghttp2_session_client_new2(s, cbs, ud, opt);
    nghttp2_option_del(opt);
    if (rc != 0)
        return PTTH_EPROTO;
    iv[niv++] = (nghttp2_settings_entry){
        NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS};
    iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                         H2_STREAM_WINDOW};
    iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
                                         HDR_MAX_BYTES};
    if (!server)
        iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
    if (nghttp2_submit_settings(*s, NGHTTP2_FLAG_NONE, iv, niv) != 0 ||
        nghttp2_session_set_local_window_size(*s, NGHTTP2_FLAG_NONE, 0,
                                              H2_CONN_WINDOW) != 0) {
        nghttp2_session_del(*s);
        *s = NULL;
        return PTTH_EPROTO;
    }
    return 0;
}

int
h2_recv(nghttp2_session *s, const uint8_t *p, size_t n)
{
    ssize_t r = nghttp2_session_mem_recv(s, p, n);
    return r < 0 ? PTTH_EPROTO : 0;
}

int
h2_send(nghttp2_session *s, struct conn *c)
{
    while (conn_out_len(c) < CONN_OUT_HIGH) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(s, &p);
        if (n < 0)
            return PTTH_EPROTO;
        if (n == 0)
            break;
        if (conn_write(c, p, (size_t)n) != 0)
            return PTTH_EPROTO;
    }
    return 0;
}

bool
h2_finished(nghttp2_session *s)
{
    return !nghttp2_session_want_read(s) && !nghttp2_session_want_write(s);
}

nghttp2_nv
h2_nv(const char *name, const char *value)
{
    nghttp2_nv nv;
    nv.name = (uint8_t *)(uintptr_t)name;
    nv.value = (uint8_t *)(uintptr_t)value;
    nv.namelen = strlen(name);
    nv.valuelen = strlen(value);
    nv.flags = NGHTTP2_NV_FLAG_NONE;
    return nv;
}

nghttp2_nv *
h2_nv_response(int status, const struct hdr_list *l, char *status_buf,
               size_t *n)
{
    nghttp2_nv *nv = xcalloc(l->n + 1, sizeof(*nv));
    size_t i, k = 0;

    snprintf(status_buf, 4, "%03u", (unsigned)status % 1000u);
    nv[k++] = h2_nv(":status", status_buf);
    for (i = 0; i < l->n; i++) {
        const struct hdr *h = &l->v[i];
        if (hdr_is_hop_by_hop(h->name, h->name_len))
            continue;
        nv[k].name = (uint8_t *)h->name;
        nv[k].namelen = h->name_len;
        nv[k].value = (uint8_t *)h->value;
        nv[k].valuelen = h->value_len;
        nv[k].flags = NGHTTP2_NV_FLAG_NONE;
        k++;
    }
    *n = k;
    return nv;
}

ssize_t
h2_read_queue(nghttp2_session *s, int32_t sid, struct conn *c, struct bufq *q,
              bool eof, const struct hdr_list *trailers, bool *waiting,
              size_t len, uint32_t *flags)
{
    size_t n = bufq_len(q) < len ? bufq_len(q) : len;

    /* A NO_COPY frame is sent right after this returns, from the same
     * mem_send call: size one only when c's output can take it, so that
     * h2_send_queued never has to refuse it. */
    if ((n == 0 && !eof) || conn_out_len(c) >= CONN_OUT_HIGH) {
        *waiting = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (eof && n == bufq_len(q)) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (trailers != NULL && trailers->n > 0) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            h2_submit_trailers(s, sid, trailers);
        }
    }
    return (ssize_t)n;
}

int
h2_send_queued(struct conn *c, const nghttp2_frame *frame,
               const uint8_t *framehd, struct bufq *q, size_t length)
{
    /* Padding is never asked for (no select_padding_callback). */
    if (frame->data.padlen != 0 || length > bufq_len(q))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    /* h2_read_queue sized the frame only if c had room; should c be full
     * all the same, nghttp2 retries the frame at the next h2_send. */
    if (conn_out_len(c) >= CONN_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (conn_write(c, framehd, 9) != 0 || conn_write_from(c, q, length) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

int
h2_submit_trailers(nghttp2_session *s, int32_t sid, const struct hdr_list *l)
{
    nghttp2_nv *nv = xcalloc(l->n, sizeof(*nv));
    size_t k = h2_nv_from_list(nv, l);
    int rc = nghttp2_submit_trailer(s, sid, nv, k);

    free(nv);
    return rc;
}

size_t
h2_nv_from_list(nghttp2_nv *nv, const struct hdr_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        nv[i].name = (uint8_t *)l->v[i].name;
        nv[i].value = (uint8_t *)l->v[i].value;
        nv[i].namelen = l->v[i].name_len;
        nv[i].valuelen = l->v[i].value_len;
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
    return l->n;
}

static const char *
frame_name(uint8_t type)
{
    static const char *const names[] = {
        "DATA",         "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
        "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION"};

    return type < PTTH_ARRAY_LEN(names) ? names[type] : "UNKNOWN";
}

/* One field of a trace, the value redacted if it is a credential. */
static void
trace_field(const char *tag, const char *dir, int32_t sid, const uint8_t *name,
            size_t namelen, const uint8_t *value, size_t valuelen)
{
    char n[64];
    size_t k = namelen < sizeof(n) - 1 ? namelen : sizeof(n) - 1;

    memcpy(n, name, k);
    n[k] = '\0';
    if (log_is_secret_header(n)) {
        value = (const uint8_t *)"[redacted]";
        valuelen = 10;
    }
    log_msg(LOG_LV_TRACE, tag, "%s stream=%d %.*s: %.*s", dir, (int)sid,
            (int)namelen, (const char *)name, (int)valuelen,
            (const char *)value);
}

void
h2_trace_frame(const char *tag, const char *dir, const nghttp2_frame *f)
{
    const nghttp2_frame_hd *hd = &f->hd;
    char extra[96] = "";
    size_t i;

    if (!log_enabled(LOG_LV_TRACE))
        return;
    switch (hd->type) {
    case NGHTTP2_RST_STREAM:
        snprintf(extra, sizeof(extra), " error=%s",
                 nghttp2_http2_strerror(f->rst_stream.error_code));
        break;
    case NGHTTP2_GOAWAY:
        snprintf(extra, sizeof(extra), " last_stream=%d error=%s",
                 (int)f->goaway.last_stream_id,
                 nghttp2_http2_strerror(f->goaway.error_code));
        break;
    case NGHTTP2_WINDOW_UPDATE:
        snprintf(extra, sizeof(extra), " increment=%d",
                 (int)f->window_update.window_size_increment);
        break;
    case NGHTTP2_SETTINGS:
        snprintf(extra, sizeof(extra), " entries=%zu", f->settings.niv);
        break;
    default:
        break;
    }
    log_msg(LOG_LV_TRACE, tag, "%s %s stream=%d length=%zu flags=0x%02x%s%s%s",
            dir, frame_name(hd->type), (int)hd->stream_id, hd->length,
            (unsigned)hd->flags,
            (hd->flags & NGHTTP2_FLAG_END_STREAM) &&
                    (hd->type == NGHTTP2_DATA || hd->type == NGHTTP2_HEADERS)
                ? " END_STREAM"
                : "",
            (hd->flags & NGHTTP2_FLAG_ACK) &&
                    (hd->type == NGHTTP2_SETTINGS || hd->type == NGHTTP2_PING)
                ? " ACK"
                : "",
            extra);
    if (hd->type == NGHTTP2_HEADERS && f->headers.nva != NULL) {
        for (i = 0; i < f->headers.nvlen; i++)
            trace_field(tag, dir, hd->stream_id, f->headers.nva[i].name,
                        f->headers.nva[i].namelen, f->headers.nva[i].value,
                        f->headers.nva[i].valuelen);
    }
}

void
h2_trace_field(const char *tag, int32_t sid, const uint8_t *name,
               size_t namelen, const uint8_t *value, size_t valuelen)
{
    if (log_enabled(LOG_LV_TRACE))
        trace_field(tag, "recv", sid, name, namelen, value, valuelen);
}
