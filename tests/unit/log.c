/* SPDX-License-Identifier: MIT
 * tests/unit/log.c - line format, escaping, filtering, redaction. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#include "../lib/tap.h"

static FILE *cap_f;
static char *cap_buf;
static size_t cap_len;

static void
cap_start(void)
{
    cap_f = open_memstream(&cap_buf, &cap_len);
    if (cap_f == NULL) {
        perror("open_memstream");
        exit(99);
    }
    log_set_stream(cap_f);
}

/* Returns what was logged since cap_start (caller frees). */
static char *
cap_end(void)
{
    log_set_stream(NULL);
    fclose(cap_f);
    return cap_buf;
}

static int
matches(const char *s, const char *pattern)
{
    regex_t re;
    int rc;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        diag("bad regex %s", pattern);
        return 0;
    }
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        diag("  \"%s\" does not match /%s/", s, pattern);
    return rc == 0;
}

static int ncalls;

static int
counted(void)
{
    return ++ncalls;
}

/* Returns |tmpl| with each '@' replaced by the pid (caller frees). */
static char *
with_pid(const char *tmpl)
{
    char pid[32], *out, *o;
    size_t n = strlen(tmpl) + 1, k;
    const char *t;

    k = (size_t)snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    for (t = tmpl; *t != '\0'; t++)
        n += *t == '@' ? k : 0;
    out = o = xmalloc(n);
    for (t = tmpl; *t != '\0'; t++) {
        if (*t == '@') {
            memcpy(o, pid, k);
            o += k;
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return out;
}

/* Logs |msg| as "%s" and checks the whole line against |want_tmpl| ('@'
 * stands for the pid). */
static void
check_line(enum log_level lv, const char *tag, const char *msg,
           const char *want_tmpl, const char *name)
{
    char *got, *want;

    cap_start();
    log_msg(lv, tag, "%s", msg);
    got = cap_end();
    want = with_pid(want_tmpl);
    is_str(got, want, name);
    free(got);
    free(want);
}

static void
test_text(void)
{
    char *got, *want;
    const char *const kv[] = {"method",  "GET",   "path", "/a b", "q",
                              "x=\"1\"", "empty", "",     NULL};

    log_init(LOG_LV_INFO, LOG_FMT_TEXT, 0);
    cap_start();
    log_warn("w3/s17", "hello %d", 42);
    log_err(NULL, "boom");
    log_info("", "empty tag");
    got = cap_end();
    want = xasprintf("ptth[%ld]: W w3/s17: hello 42\n"
                     "ptth[%ld]: E boom\n"
                     "ptth[%ld]: I empty tag\n",
                     (long)getpid(), (long)getpid(), (long)getpid());
    is_str(got, want, "text: exact lines, tag optional");
    free(got);
    free(want);

    check_line(LOG_LV_WARN, "t", "a\nb\rc\td\001e\177f\\g",
               "ptth[@]: W t: a\\nb\\rc\\td\\x01e\\x7ff\\g\n",
               "text: control characters escaped visibly");
    check_line(LOG_LV_WARN, "t", "x\nptth[1]: E forged",
               "ptth[@]: W t: x\\nptth[1]: E forged\n",
               "text: a peer cannot forge a second line");
    check_line(LOG_LV_WARN, "t\n", "\xc3\xa9\xe2\x82\xac \xff\xc2\x9b[31m",
               "ptth[@]: W t\\n: \xc3\xa9\xe2\x82\xac \\xff\\u009b[31m\n",
               "text: UTF-8 kept, bad bytes and C1 controls escaped, tag too");

    cap_start();
    log_kv(LOG_LV_INFO, "access", "request", kv);
    log_kv(LOG_LV_INFO, NULL, NULL, kv + 4);
    log_kv(LOG_LV_DEBUG, NULL, "hidden", kv);
    got = cap_end();
    want = xasprintf("ptth[%ld]: I access: request method=GET path=\"/a b\" "
                     "q=\"x=\\\"1\\\"\" empty=\"\"\n"
                     "ptth[%ld]: I q=\"x=\\\"1\\\"\" empty=\"\"\n",
                     (long)getpid(), (long)getpid());
    is_str(got, want, "text: log_kv quoting, filtered by level");
    free(got);
    free(want);

    log_init(LOG_LV_INFO, LOG_FMT_TEXT, 1);
    cap_start();
    log_info("t", "m");
    got = cap_end();
    ok(matches(got, "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:"
                    "[0-6][0-9]\\.[0-9]{3}Z ptth\\[[0-9]+\\]: I t: m\n$"),
       "text: RFC 3339 UTC millisecond timestamp");
    free(got);
}

static void
test_levels(void)
{
    char *got, *want;
    int pid = (int)getpid();

    log_init(LOG_LV_INFO, LOG_FMT_TEXT, 0);
    ok(log_enabled(LOG_LV_INFO) && !log_enabled(LOG_LV_DEBUG),
       "levels: log_enabled follows log_init");
    ncalls = 0;
    cap_start();
    log_debug("t", "n=%d", counted());
    log_trace("t", "n=%d", counted());
    log_info("t", "n=%d", counted());
    got = cap_end();
    is_int(ncalls, 1, "levels: disabled debug/trace args not evaluated");
    want = xasprintf("ptth[%d]: I t: n=1\n", pid);
    is_str(got, want, "levels: only info written at info");
    free(got);
    free(want);

    log_init(LOG_LV_TRACE, LOG_FMT_TEXT, 0);
    cap_start();
    log_err(NULL, "e");
    log_warn(NULL, "w");
    log_info(NULL, "i");
    log_debug(NULL, "d%d", counted());
    log_trace(NULL, "t");
    got = cap_end();
    want = xasprintf("ptth[%d]: E e\nptth[%d]: W w\nptth[%d]: I i\n"
                     "ptth[%d]: D d2\nptth[%d]: T t\n",
                     pid, pid, pid, pid, pid);
    is_str(got, want, "levels: all letters at trace");
    free(got);
    free(want);

    log_init(LOG_LV_ERROR, LOG_FMT_TEXT, 0);
    cap_start();
    log_warn(NULL, "w");
    log_err(NULL, "e");
    got = cap_end();
    want = xasprintf("ptth[%d]: E e\n", pid);
    is_str(got, want, "levels: quiet keeps errors only");
    free(got);
    free(want);
}

static void
test_json(void)
{
    char *got, *want;
    const char *const kv[] = {"method", "GET", "path", "/\"q\"", NULL};
    long pid = (long)getpid();

    log_init(LOG_LV_DEBUG, LOG_FMT_JSON, 0);
    check_line(LOG_LV_INFO, "t", "say \"hi\" \\ \n\001\037\177",
               "{\"level\":\"info\",\"pid\":@,\"tag\":\"t\","
               "\"msg\":\"say \\\"hi\\\" \\\\ \\u000a\\u0001\\u001f"
               "\\u007f\"}\n",
               "json: quotes, backslash, control characters");
    check_line(LOG_LV_WARN, NULL, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
               "{\"level\":\"warn\",\"pid\":@,"
               "\"msg\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n",
               "json: valid UTF-8 passes through, no tag member");
    check_line(LOG_LV_ERROR, NULL,
               "a\xff"
               "b\xc3(\xc0\xaf\xed\xa0\x80.\xf0\x9f\x98",
               "{\"level\":\"error\",\"pid\":@,\"msg\":\"a\\ufffdb\\ufffd("
               "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd.\\ufffd\\ufffd\\ufffd\"}\n",
               "json: invalid, overlong, surrogate, cut UTF-8 -> U+FFFD");
    check_line(LOG_LV_DEBUG, "\"tag\"", "\xc2\x85",
               "{\"level\":\"debug\",\"pid\":@,\"tag\":\"\\\"tag\\\"\","
               "\"msg\":\"\\u0085\"}\n",
               "json: tag escaped, C1 control escaped");

    cap_start();
    log_kv(LOG_LV_INFO, "access", "done", kv);
    got = cap_end();
    want = xasprintf("{\"level\":\"info\",\"pid\":%ld,\"tag\":\"access\","
                     "\"msg\":\"done\",\"method\":\"GET\",\"path\":"
                     "\"/\\\"q\\\"\"}\n",
                     pid);
    is_str(got, want, "json: log_kv members");
    free(got);
    free(want);

    log_init(LOG_LV_DEBUG, LOG_FMT_JSON, 1);
    cap_start();
    log_warn("t", "x");
    got = cap_end();
    ok(matches(got, "^\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
                    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\",\"level\":\"warn\","
                    "\"pid\":[0-9]+,\"tag\":\"t\",\"msg\":\"x\"\\}\n$"),
       "json: ts member when timestamps on");
    free(got);
}

static int
ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static size_t
count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == c;
    return n;
}

static void
test_truncation(void)
{
    char *big = xmalloc(6000), *got, key[80];
    const char *kv[3];
    size_t n;

    memset(big, 'a', 5999);
    big[5999] = '\0';
    log_init(LOG_LV_INFO, LOG_FMT_TEXT, 0);
    cap_start();
    log_info("t", "%s", big);
    got = cap_end();
    n = strlen(got);
    ok(n == LOG_LINE_MAX && ends_with(got, n, "aaa...\n") &&
           count_char(got, '\n') == 1,
       "text: long line capped at LOG_LINE_MAX with ... marker");
    free(got);

    memset(big, '\n', 3000); /* escapes to 6000 bytes */
    cap_start();
    log_info("t", "%s", big);
    got = cap_end();
    n = strlen(got);
    ok(n <= LOG_LINE_MAX && ends_with(got, n, "\\n\\n...\n") &&
           count_char(got, '\n') == 1,
       "text: escapes never split by truncation");
    free(got);

    log_init(LOG_LV_INFO, LOG_FMT_JSON, 0);
    cap_start();
    log_info("t", "%s", big);
    got = cap_end();
    n = strlen(got);
    ok(n <= LOG_LINE_MAX &&
           ends_with(got, n, "\\u000a...\",\"truncated\":true}\n") &&
           count_char(got, '\n') == 1,
       "json: cut string closed, truncated member, valid object");
    free(got);

    /* a member whose name does not fit is dropped whole */
    memset(big, 'b', 4000);
    big[4000] = '\0';
    memset(key, 'k', 79);
    key[79] = '\0';
    kv[0] = key;
    kv[1] = "v";
    kv[2] = NULL;
    cap_start();
    log_kv(LOG_LV_INFO, NULL, big, kv);
    got = cap_end();
    n = strlen(got);
    ok(n <= LOG_LINE_MAX && ends_with(got, n, "bb\",\"truncated\":true}\n") &&
           strstr(got, "kkk") == NULL,
       "json: member dropped whole at the cap");
    free(got);
    free(big);
}

static void
test_redact(void)
{
    const char *v = "text/html";

    ok(log_is_secret_header("Authorization") &&
           log_is_secret_header("PROXY-AUTHORIZATION") &&
           log_is_secret_header("cookie") && log_is_secret_header("Set-Cookie"),
       "redact: secret headers, any case");
    ok(!log_is_secret_header("accept") && !log_is_secret_header("cookies") &&
           !log_is_secret_header("x-authorization") &&
           !log_is_secret_header(NULL),
       "redact: other names are not secret");
    is_str(log_redact("Cookie", "sid=123"), "[redacted]",
           "redact: cookie value hidden");
    ok(log_redact("accept", v) == v, "redact: other values returned as is");
}

static void
test_fd_stream_and_errno(void)
{
    FILE *f = tmpfile();
    char buf[256], *want;
    size_t n;

    if (f == NULL) {
        skip(2, "no tmpfile");
        return;
    }
    log_init(LOG_LV_INFO, LOG_FMT_TEXT, 0);
    log_set_stream(f);
    errno = EAGAIN;
    log_warn("t", "one");
    log_warn("t", "two");
    is_int(errno, EAGAIN, "errno preserved across logging");
    log_set_stream(NULL);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    want = xasprintf("ptth[%ld]: W t: one\nptth[%ld]: W t: two\n",
                     (long)getpid(), (long)getpid());
    is_str(buf, want, "fd stream written with write()");
    free(want);
}

/* Colour needs a TTY: log to a pty and read the master side. */
static void
test_colour(void)
{
    int m, s;
    FILE *f;
    struct termios tio;
    char buf[256], *want;
    ssize_t n;
    long pid = (long)getpid();

    m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 ||
        (s = open(ptsname(m), O_RDWR | O_NOCTTY)) < 0) {
        if (m >= 0)
            close(m);
        skip(4, "no pty");
        return;
    }
    tcgetattr(s, &tio);
    cfmakeraw(&tio);
    tcsetattr(s, TCSANOW, &tio);
    f = fdopen(s, "w");
    log_init(LOG_LV_INFO, LOG_FMT_TEXT, 0);

    unsetenv("NO_COLOR");
    log_set_stream(f);
    log_warn("t", "c");
    n = read(m, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    want = xasprintf("ptth[%ld]: \033[1;33mW\033[0m t: c\n", pid);
    is_str(buf, want, "colour: level letter coloured on a TTY");
    free(want);

    setenv("NO_COLOR", "", 1);
    log_set_stream(f);
    log_err("t", "c");
    n = read(m, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    want = xasprintf("ptth[%ld]: \033[1;31mE\033[0m t: c\n", pid);
    is_str(buf, want, "colour: empty NO_COLOR counts as unset");
    free(want);

    setenv("NO_COLOR", "1", 1);
    log_set_stream(f);
    log_warn("t", "c");
    n = read(m, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    want = xasprintf("ptth[%ld]: W t: c\n", pid);
    is_str(buf, want, "colour: NO_COLOR disables colour");
    free(want);

    log_init(LOG_LV_INFO, LOG_FMT_JSON, 0);
    unsetenv("NO_COLOR");
    log_set_stream(f);
    log_warn(NULL, "c");
    n = read(m, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    want = xasprintf("{\"level\":\"warn\",\"pid\":%ld,\"msg\":\"c\"}\n", pid);
    is_str(buf, want, "colour: never in JSON");
    free(want);

    log_set_stream(NULL);
    fclose(f);
    close(m);
}

int
main(void)
{
    plan(31);
    test_text();
    test_levels();
    test_json();
    test_truncation();
    test_redact();
    test_fd_stream_and_errno();
    test_colour();
    return done_testing();
}
