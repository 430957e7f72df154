/* SPDX-License-Identifier: MIT
 * h1.c - strict, bounded HTTP/1.1 parser, chunked decoder, writer helpers.
 *
 * A head is parsed in two passes. The scan pass runs over new bytes only
 * (resuming at m->scan_off), refuses bad line ends and control bytes at
 * once, and stops at the blank line or at max_head. The second pass runs
 * once over a private copy of the complete head. Both passes are linear, so
 * a head fed one byte at a time costs O(length) in total, and the verdict
 * depends only on the bytes, not on how they were split. */
#include "config.h"

#include "h1.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* RFC 9110 5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* A byte allowed in a field value or reason phrase: HTAB, SP, VCHAR,
 * obs-text. */
static bool
is_vbyte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- heads ---- */

/* Scans buf[m->scan_off, min(len, max_head)) for the end of the head.
 * Returns 0 with *start (0, or 2 after a skipped empty line) and *end (one
 * past the blank line), or PTTH_EAGAIN/ELIMIT/EPROTO. */
static int
scan_head(struct h1_msg *m, const uint8_t *buf, size_t len, size_t max_head,
          bool lead_ok, size_t *start, size_t *end)
{
    size_t i, lim = len < max_head ? len : max_head;

    for (i = m->scan_off; i < lim; i++) {
        unsigned char c = buf[i];

        if (i > 0 && buf[i - 1] == '\r' && c != '\n')
            return PTTH_EPROTO; /* bare CR */
        if (c == '\n') {
            if (i == 0 || buf[i - 1] != '\r')
                return PTTH_EPROTO; /* bare LF */
            if (i == 1) {
                if (!lead_ok)
                    return PTTH_EPROTO; /* empty first line */
                continue;               /* RFC 9112 2.2: skip one */
            }
            if (i == 3 && buf[1] == '\n')
                return PTTH_EPROTO; /* a second empty line */
            if (buf[i - 2] == '\n') {
                *start = buf[0] == '\r' ? 2 : 0;
                *end = i + 1;
                return 0;
            }
        } else if (c != '\r' && c != '\t' && (c < 0x20 || c == 0x7f)) {
            return PTTH_EPROTO;
        }
    }
    m->scan_off = lim;
    return lim == max_head ? PTTH_ELIMIT : PTTH_EAGAIN;
}

/* Validates host [":" port] (RFC 3986 authority without userinfo). */
static bool
valid_host(const char *s, size_t n, bool need_port)
{
    size_t i = 0, digits = 0;
    long port = 0;

    if (n == 0)
        return false;
    if (s[0] == '[') {
        size_t colons = 0;
        for (i = 1; i < n && s[i] != ']'; i++) {
            if (s[i] == ':')
                colons++;
            else if (hex_digit((unsigned char)s[i]) < 0 && s[i] != '.')
                return false;
        }
        if (i >= n || colons < 2)
            return false;
        i++; /* ']' */
    } else {
        for (; i < n && s[i] != ':'; i++) {
            unsigned char c = (unsigned char)s[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                is_digit((char)c) || strchr("-._~!$&'()*+;=", c) != NULL)
                continue;
            if (c == '%' && i + 2 < n &&
                hex_digit((unsigned char)s[i + 1]) >= 0 &&
                hex_digit((unsigned char)s[i + 2]) >= 0) {
                i += 2;
                continue;
            }
            return false;
        }
        if (i == 0)
            return false;
    }
    if (i == n)
        return !need_port;
    if (s[i] != ':')
        return false;
    for (i++; i < n; i++) {
        if (!is_digit(s[i]) || ++digits > 5)
            return false;
        port = port * 10 + (s[i] - '0');
    }
    return digits > 0 && port <= 65535;
}

/* Checks the request-target form against the method. */
static bool
valid_target(const char *method, const char *t, size_t n)
{
    bool connect = strcmp(method, "CONNECT") == 0;
    size_t off, len;

    if (t[0] == '/')
        return !connect;
    if (n == 1 && t[0] == '*')
        return strcmp(method, "OPTIONS") == 0;
    if (connect)
        return valid_host(t, n, true);
    return h1_url_authority(t, n, &off, &len);
}

bool
h1_url_authority(const char *t, size_t n, size_t *off, size_t *len)
{
    size_t skip, a;

    if (n > 7 && str_nieq(t, "http://", 7))
        skip = 7;
    else if (n > 8 && str_nieq(t, "https://", 8))
        skip = 8;
    else
        return false;
    for (a = skip; a < n && t[a] != '/' && t[a] != '?' && t[a] != '#'; a++)
        ;
    if (!valid_host(t + skip, a - skip, false))
        return false;
    *off = skip;
    *len = a - skip;
    return true;
}

/* Parses the request line at h (ending at the first CR) in place. */
static int
parse_request_line(struct h1_msg *m, char *h, char **next)
{
    char *cr = strchr(h, '\r'), *sp1, *sp2, *p;

    sp1 = memchr(h, ' ', (size_t)(cr - h));
    if (sp1 == NULL || sp1 == h)
        return PTTH_EPROTO;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(cr - sp1 - 1));
    if (sp2 == NULL || sp2 == sp1 + 1)
        return PTTH_EPROTO;
    for (p = h; p < sp1; p++) {
        if (!is_tchar((unsigned char)*p))
            return PTTH_EPROTO;
    }
    for (p = sp1 + 1; p < sp2; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return PTTH_EPROTO;
    }
    if (cr - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return PTTH_EPROTO;
    m->minor = sp2[8] - '0';
    *sp1 = '\0';
    *sp2 = '\0';
    *cr = '\0';
    if (!valid_target(h, sp1 + 1, (size_t)(sp2 - sp1 - 1)))
        return PTTH_EPROTO;
    m->method = h;
    m->target = sp1 + 1;
    *next = cr + 2;
    return 0;
}

/* Parses the status line at h in place. */
static int
parse_status_line(struct h1_msg *m, char *h, char **next)
{
    char *cr = strchr(h, '\r'), *p;

    if (cr - h < 12 || memcmp(h, "HTTP/1.", 7) != 0 ||
        (h[7] != '0' && h[7] != '1') || h[8] != ' ')
        return PTTH_EPROTO;
    if (h[9] < '1' || h[9] > '5' || !is_digit(h[10]) || !is_digit(h[11]))
        return PTTH_EPROTO;
    if (cr - h > 12 && h[12] != ' ')
        return PTTH_EPROTO;
    for (p = h + 13; p < cr; p++) {
        if (!is_vbyte((unsigned char)*p))
            return PTTH_EPROTO;
    }
    m->minor = h[7] - '0';
    m->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    *cr = '\0';
    m->reason = cr - h > 12 ? h + 13 : cr;
    *next = cr + 2;
    return 0;
}

/* Parses the field lines from p to the blank line in place. */
static int
parse_fields(struct h1_msg *m, char *p, size_t max)
{
    if (max > 0)
        m->fields = xcalloc(max, sizeof(*m->fields));
    while (*p != '\r') {
        char *cr = strchr(p, '\r'), *q = p, *v, *e;
        struct h1_field *f;

        while (q < cr && is_tchar((unsigned char)*q))
            q++;
        if (q == p || q == cr || *q != ':')
            return PTTH_EPROTO; /* incl. obs-fold and space before ':' */
        for (v = q + 1; v < cr && is_ows(*v); v++)
            ;
        for (e = cr; e > v && is_ows(e[-1]); e--)
            ;
        f = &m->fields[m->nfields++];
        *q = '\0';
        *e = '\0';
        f->name = p;
        f->name_len = (size_t)(q - p);
        f->value = v;
        f->value_len = (size_t)(e - v);
        for (; v < e; v++) {
            if (!is_vbyte((unsigned char)*v))
                return PTTH_EPROTO;
        }
        p = cr + 2;
    }
    return 0;
}

/* Parses a Content-Length value (a list of identical 1*18DIGIT numbers)
 * and merges it into *cl. */
static int
merge_content_length(const char *v, int64_t *cl)
{
    for (;;) {
        int64_t n = 0;
        int digits = 0;

        while (is_ows(*v))
            v++;
        for (; is_digit(*v); v++) {
            if (++digits > 18)
                return PTTH_EPROTO;
            n = n * 10 + (*v - '0');
        }
        while (is_ows(*v))
            v++;
        if (digits == 0 || (*v != ',' && *v != '\0'))
            return PTTH_EPROTO;
        if (*cl >= 0 && *cl != n)
            return PTTH_EPROTO;
        *cl = n;
        if (*v == '\0')
            return 0;
        v++;
    }
}

/* Counts the codings of a Transfer-Encoding value; only "chunked" and no
 * empty element is allowed. */
static int
count_chunked(const char *v, int *chunked)
{
    for (;;) {
        const char *s, *e;

        while (is_ows(*v))
            v++;
        for (s = v; *v != ',' && *v != '\0'; v++)
            ;
        for (e = v; e > s && is_ows(e[-1]); e--)
            ;
        if (e - s != 7 || !str_nieq(s, "chunked", 7))
            return PTTH_EPROTO;
        if (++*chunked > 1)
            return PTTH_EPROTO;
        if (*v == '\0')
            return 0;
        v++;
    }
}

/* Derives framing, Host and connection flags from the fields. */
static int
derive(struct h1_msg *m, bool request)
{
    int64_t cl = -1;
    int chunked = 0, te_fields = 0, hosts = 0, rc;
    const char *host = NULL;
    size_t i;

    for (i = 0; i < m->nfields; i++) {
        const struct h1_field *f = &m->fields[i];

        if (str_ieq(f->name, "content-length")) {
            rc = merge_content_length(f->value, &cl);
            if (rc < 0)
                return rc;
        } else if (str_ieq(f->name, "transfer-encoding")) {
            te_fields++;
            rc = count_chunked(f->value, &chunked);
            if (rc < 0)
                return rc;
        } else if (request && str_ieq(f->name, "host")) {
            hosts++;
            host = f->value;
        }
    }
    if (te_fields > 0 && (cl >= 0 || m->minor == 0))
        return PTTH_EPROTO;
    if (request) {
        if (hosts > 1 || (hosts == 0 && m->minor == 1))
            return PTTH_EPROTO;
        if (host != NULL && !valid_host(host, strlen(host), false))
            return PTTH_EPROTO;
    }
    m->content_length = cl;
    m->chunked = chunked == 1;
    m->host = host;
    if (m->minor == 1)
        m->keep_alive = !h1_has_token(m, "connection", "close");
    else
        m->keep_alive = h1_has_token(m, "connection", "keep-alive") &&
                        !h1_has_token(m, "connection", "close");
    m->expect_continue =
        request && m->minor == 1 && h1_has_token(m, "expect", "100-continue");
    m->upgrade = h1_has_token(m, "connection", "upgrade") &&
                 h1_find(m, "upgrade") != NULL;
    return 0;
}

/* Frees the parse results but keeps scan_off (a failed parse repeats). */
static void
drop_parsed(struct h1_msg *m)
{
    size_t off = m->scan_off;
    h1_msg_reset(m);
    m->scan_off = off;
}

static int
parse_msg(struct h1_msg *m, const uint8_t *buf, size_t len, size_t max_head,
          size_t *head_len, bool request)
{
    size_t start = 0, end = 0, hl, lines = 0, i;
    char *next = NULL;
    int rc;

    if (m->head != NULL || len < m->scan_off)
        return PTTH_EINVAL;
    rc = scan_head(m, buf, len, max_head, request, &start, &end);
    if (rc < 0)
        return rc;
    hl = end - start;
    for (i = start; i < end; i++)
        lines += buf[i] == '\n';
    if (lines - 2 > H1_MAX_FIELDS)
        return PTTH_ELIMIT;
    m->head = xmalloc(hl + 1);
    memcpy(m->head, buf + start, hl);
    m->head[hl] = '\0';
    if (request)
        rc = parse_request_line(m, m->head, &next);
    else
        rc = parse_status_line(m, m->head, &next);
    if (rc == 0)
        rc = parse_fields(m, next, lines - 2);
    if (rc == 0)
        rc = derive(m, request);
    if (rc < 0) {
        drop_parsed(m);
        return rc;
    }
    m->scan_off = end;
    *head_len = end;
    return 0;
}

int
h1_parse_request(struct h1_msg *m, const uint8_t *buf, size_t len,
                 size_t max_head, size_t *head_len)
{
    return parse_msg(m, buf, len, max_head, head_len, true);
}

int
h1_parse_response(struct h1_msg *m, const uint8_t *buf, size_t len,
                  size_t max_head, size_t *head_len)
{
    return parse_msg(m, buf, len, max_head, head_len, false);
}

void
h1_msg_reset(struct h1_msg *m)
{
    free(m->head);
    free(m->fields);
    memset(m, 0, sizeof(*m));
}

const struct h1_field *
h1_find(const struct h1_msg *m, const char *name)
{
    size_t i;

    for (i = 0; i < m->nfields; i++) {
        if (str_ieq(m->fields[i].name, name))
            return &m->fields[i];
    }
    return NULL;
}

bool
h1_has_token(const struct h1_msg *m, const char *name, const char *token)
{
    size_t i, tlen = strlen(token);

    for (i = 0; i < m->nfields; i++) {
        const char *v = m->fields[i].value;

        if (!str_ieq(m->fields[i].name, name))
            continue;
        for (;;) {
            const char *s, *e;

            while (is_ows(*v))
                v++;
            for (s = v; *v != ',' && *v != '\0'; v++)
                ;
            for (e = v; e > s && is_ows(e[-1]); e--)
                ;
            if ((size_t)(e - s) == tlen && str_nieq(s, token, tlen))
                return true;
            if (*v == '\0')
                break;
            v++;
        }
    }
    return false;
}

const char *
h1_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } tab[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {103, "Early Hints"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {205, "Reset Content"},
        {206, "Partial Content"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {425, "Too Early"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    size_t i;

    for (i = 0; i < PTTH_ARRAY_LEN(tab); i++) {
        if (tab[i].status == status)
            return tab[i].reason;
    }
    return "Unknown";
}

/* ---- chunked bodies ---- */

enum {
    CS_SIZE0 = 0, /* first hex digit of a chunk size */
    CS_SIZE,      /* more digits, ';' or CR */
    CS_EXT_NAME0, /* first tchar of an extension name */
    CS_EXT_NAME,
    CS_EXT_VAL0, /* after '=': token or quoted-string */
    CS_EXT_TOK,
    CS_EXT_QS, /* inside a quoted-string */
    CS_EXT_QP, /* after a backslash */
    CS_EXT_QEND,
    CS_SIZE_LF,
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF,
    CS_TR_START, /* start of a trailer line (or the final CRLF) */
    CS_TR_NAME,
    CS_TR_VALUE,
    CS_TR_LF,
    CS_TR_END_LF,
    CS_DONE,
    CS_EPROTO,
    CS_ELIMIT,
};

/* Trailer fields never forwarded (RFC 9110 6.5.1, RFC 9113 8.2.2). */
static bool
forbidden_trailer(const char *name)
{
    static const char *const names[] = {
        "content-length",
        "transfer-encoding",
        "host",
        "trailer",
        "te",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "content-encoding",
        "content-type",
        "content-range",
        "cache-control",
        "expect",
        "max-forwards",
        "pragma",
        "range",
        "authorization",
        "proxy-authorization",
        "proxy-authenticate",
        "www-authenticate",
        "cookie",
        "set-cookie",
        "age",
        "expires",
        "date",
        "location",
        "retry-after",
        "vary",
        "warning",
    };
    size_t i;

    for (i = 0; i < PTTH_ARRAY_LEN(names); i++) {
        if (str_ieq(name, names[i]))
            return true;
    }
    return false;
}

void
h1_chunked_init(struct h1_chunked *c, size_t max_trailer)
{
    memset(c, 0, sizeof(*c));
    c->state = CS_SIZE0;
    c->max_trailer = max_trailer;
}

void
h1_chunked_free(struct h1_chunked *c)
{
    free(c->trailers);
    free(c->tfields);
    memset(c, 0, sizeof(*c));
}

static bool
is_pow2(size_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

/* Counts one byte of a trailer field line. Storage only grows here: the
 * kept, compacted fields plus the line being read never exceed
 * trailer_bytes, and the capacity is always >= trailer_bytes (64, then
 * doubling). */
static int
trailer_count(struct h1_chunked *c)
{
    size_t tb = ++c->trailer_bytes;

    if (tb > c->max_trailer)
        return PTTH_ELIMIT;
    if (tb == 1)
        c->trailers = xrealloc(c->trailers, 64);
    else if (tb > 64 && is_pow2(tb - 1))
        c->trailers = xrealloc(c->trailers, 2 * (tb - 1));
    return 0;
}

static int
trailer_byte(struct h1_chunked *c, unsigned char ch)
{
    int rc = trailer_count(c);

    if (rc < 0)
        return rc;
    c->trailers[c->trailers_len + c->ext_len++] = (char)ch;
    return 0;
}

/* The current trailer line (name ':' value, no CRLF) is complete at
 * trailers + trailers_len; keep it as "name\0value\0" or drop it. */
static int
trailer_line(struct h1_chunked *c)
{
    char *base = c->trailers + c->trailers_len, *end = base + c->ext_len;
    char *colon = memchr(base, ':', c->ext_len), *v, *e;
    size_t nlen = (size_t)(colon - base), vlen;

    c->ext_len = 0;
    *colon = '\0';
    if (forbidden_trailer(base))
        return 0;
    if (c->ntfields >= H1_MAX_FIELDS)
        return PTTH_ELIMIT;
    for (v = colon + 1; v < end && is_ows(*v); v++)
        ;
    for (e = end; e > v && is_ows(e[-1]); e--)
        ;
    vlen = (size_t)(e - v);
    memmove(colon + 1, v, vlen);
    colon[1 + vlen] = '\0';
    if (c->ntfields == 0 || (c->ntfields >= 4 && is_pow2(c->ntfields))) {
        size_t cap = c->ntfields == 0 ? 4 : 2 * c->ntfields;
        c->tfields = xrealloc(c->tfields, cap * sizeof(*c->tfields));
    }
    c->tfields[c->ntfields].name = NULL; /* set when complete */
    c->tfields[c->ntfields].name_len = nlen;
    c->tfields[c->ntfields].value = NULL;
    c->tfields[c->ntfields].value_len = vlen;
    c->ntfields++;
    c->trailers_len += nlen + vlen + 2;
    return 0;
}

/* Points the kept trailer fields into their (now final) storage. */
static void
trailers_done(struct h1_chunked *c)
{
    char *p = c->trailers;
    size_t i;

    for (i = 0; i < c->ntfields; i++) {
        c->tfields[i].name = p;
        p += c->tfields[i].name_len + 1;
        c->tfields[i].value = p;
        p += c->tfields[i].value_len + 1;
    }
}

/* Extension bytes are counted from the ';' on. */
static int
ext_count(struct h1_chunked *c)
{
    return ++c->ext_len > H1_MAX_CHUNK_EXT ? PTTH_EPROTO : 0;
}

/* Ends a chunk-size line's content at its CR. */
static int
size_line_end(struct h1_chunked *c)
{
    c->state = CS_SIZE_LF;
    return 0;
}

/* Feeds one framing or trailer byte. Returns 0, 1 (message complete) or a
 * PTTH_E* code. */
static int
chunk_step(struct h1_chunked *c, unsigned char ch)
{
    int v;

    switch (c->state) {
    case CS_SIZE0:
        v = hex_digit(ch);
        if (v < 0)
            return PTTH_EPROTO;
        c->left = (uint64_t)v;
        c->ext_len = 1; /* digits */
        c->state = CS_SIZE;
        return 0;
    case CS_SIZE:
        v = hex_digit(ch);
        if (v >= 0) {
            if (++c->ext_len > 16 || c->left > (UINT64_C(1) << 59) - 1)
                return PTTH_EPROTO; /* the size must stay below 2^63 */
            c->left = (c->left << 4) | (uint64_t)v;
            return 0;
        }
        if (ch == '\r')
            return size_line_end(c);
        if (ch != ';')
            return PTTH_EPROTO;
        c->ext_len = 0;
        c->state = CS_EXT_NAME0;
        return ext_count(c);
    case CS_EXT_NAME0:
    case CS_EXT_VAL0:
        if (ext_count(c) < 0)
            return PTTH_EPROTO;
        if (c->state == CS_EXT_VAL0 && ch == '"') {
            c->state = CS_EXT_QS;
            return 0;
        }
        if (!is_tchar(ch))
            return PTTH_EPROTO;
        c->state = c->state == CS_EXT_NAME0 ? CS_EXT_NAME : CS_EXT_TOK;
        return 0;
    case CS_EXT_NAME:
    case CS_EXT_TOK:
    case CS_EXT_QEND:
        if (ch == '\r')
            return size_line_end(c);
        if (ext_count(c) < 0)
            return PTTH_EPROTO;
        if (ch == ';')
            c->state = CS_EXT_NAME0;
        else if (ch == '=' && c->state == CS_EXT_NAME)
            c->state = CS_EXT_VAL0;
        else if (c->state == CS_EXT_QEND || !is_tchar(ch))
            return PTTH_EPROTO;
        return 0;
    case CS_EXT_QS:
        if (ext_count(c) < 0)
            return PTTH_EPROTO;
        if (ch == '"')
            c->state = CS_EXT_QEND;
        else if (ch == '\\')
            c->state = CS_EXT_QP;
        else if (!is_vbyte(ch))
            return PTTH_EPROTO;
        return 0;
    case CS_EXT_QP:
        if (ext_count(c) < 0 || !is_vbyte(ch))
            return PTTH_EPROTO;
        c->state = CS_EXT_QS;
        return 0;
    case CS_SIZE_LF:
        if (ch != '\n')
            return PTTH_EPROTO;
        c->ext_len = 0;
        c->state = c->left == 0 ? CS_TR_START : CS_DATA;
        return 0;
    case CS_DATA_CR:
        if (ch != '\r')
            return PTTH_EPROTO;
        c->state = CS_DATA_LF;
        return 0;
    case CS_DATA_LF:
        if (ch != '\n')
            return PTTH_EPROTO;
        c->state = CS_SIZE0;
        return 0;
    case CS_TR_START:
        if (ch == '\r') {
            c->state = CS_TR_END_LF;
            return 0;
        }
        if (!is_tchar(ch))
            return PTTH_EPROTO; /* incl. obs-fold, empty name */
        c->state = CS_TR_NAME;
        return trailer_byte(c, ch);
    case CS_TR_NAME:
        if (ch == ':')
            c->state = CS_TR_VALUE;
        else if (!is_tchar(ch))
            return PTTH_EPROTO;
        return trailer_byte(c, ch);
    case CS_TR_VALUE:
        if (ch == '\r') {
            c->state = CS_TR_LF;
            return trailer_count(c);
        }
        if (!is_vbyte(ch))
            return PTTH_EPROTO;
        return trailer_byte(c, ch);
    case CS_TR_LF:
        if (ch != '\n')
            return PTTH_EPROTO;
        v = trailer_count(c);
        if (v < 0)
            return v;
        c->state = CS_TR_START;
        return trailer_line(c);
    case CS_TR_END_LF:
        if (ch != '\n')
            return PTTH_EPROTO;
        trailers_done(c);
        c->state = CS_DONE;
        return 1;
    default:
        return PTTH_EPROTO; /* not reached: handled by the caller */
    }
}

int
h1_chunked_decode(struct h1_chunked *c, const uint8_t *in, size_t len,
                  size_t *used, size_t *data_off, size_t *data_len)
{
    size_t i = 0;

    *used = 0;
    *data_off = 0;
    *data_len = 0;
    if (c->state == CS_DONE)
        return 1;
    if (c->state == CS_EPROTO)
        return PTTH_EPROTO;
    if (c->state == CS_ELIMIT)
        return PTTH_ELIMIT;
    while (i < len) {
        int rc;

        if (c->state == CS_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > c->left)
                n = (size_t)c->left;
            c->left -= n;
            if (c->left == 0)
                c->state = CS_DATA_CR;
            *data_off = i;
            *data_len = n;
            *used = i + n;
            return 0;
        }
        rc = chunk_step(c, in[i++]);
        if (rc == 1) {
            *used = i;
            return 1;
        }
        if (rc < 0) {
            c->state = rc == PTTH_ELIMIT ? CS_ELIMIT : CS_EPROTO;
            *used = i;
            return rc;
        }
    }
    *used = len;
    return PTTH_EAGAIN;
}

/* ---- writing ---- */

size_t
h1_chunk_header(char out[20], uint64_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t k = 0, i;

    do {
        tmp[k++] = hex[n & 15];
        n >>= 4;
    } while (n != 0);
    for (i = 0; i < k; i++)
        out[i] = tmp[k - 1 - i];
    out[k] = '\r';
    out[k + 1] = '\n';
    out[k + 2] = '\0';
    return k + 2;
}

int
h1_valid_field_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return PTTH_EPROTO;
    for (i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return PTTH_EPROTO;
    }
    return 0;
}

int
h1_valid_field_value(const char *s, size_t n)
{
    size_t i;

    if (n > 0 && (is_ows(s[0]) || is_ows(s[n - 1])))
        return PTTH_EPROTO;
    for (i = 0; i < n; i++) {
        if (!is_vbyte((unsigned char)s[i]))
            return PTTH_EPROTO;
    }
    return 0;
}
