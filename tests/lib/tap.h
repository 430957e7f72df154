/* SPDX-License-Identifier: MIT
 * tap.h - header-only TAP producer for the C unit tests (static only).
 * plan(n) or done_testing() prints the plan; done_testing() returns the
 * exit status: 0 when every test passed and the count matched the plan.
 * API: plan, ok, is_int, is_str, is_mem, diag, skip, skip_all,
 * bail_out_after, done_testing. */
#ifndef PTTH_TAP_H
#define PTTH_TAP_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAP_UNUSED __attribute__((unused))
#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

static int tap_planned = -1, tap_run, tap_failed;

static void diag(const char *fmt, ...) TAP_PRINTF(1, 2) TAP_UNUSED;
static int tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
    TAP_PRINTF(4, 5) TAP_UNUSED;

static TAP_UNUSED void
plan(int n)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* keep diag and results in order */
    tap_planned = n;
    printf("1..%d\n", n);
}

static void
diag(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputs("\n", stdout);
}

static int
tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("%sok %d - ", pass ? "" : "not ", ++tap_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputs("\n", stdout);
    if (!pass) {
        tap_failed++;
        diag("  failed at %s line %d", file, line);
    }
    return pass;
}

static TAP_UNUSED int
tap_is_int_(long long got, long long want, const char *name, const char *file,
            int line)
{
    int pass = tap_ok_(got == want, file, line, "%s", name);
    if (!pass)
        diag("  got: %lld, want: %lld", got, want);
    return pass;
}

static TAP_UNUSED int
tap_is_str_(const char *got, const char *want, const char *name,
            const char *file, int line)
{
    int same =
        (got == NULL || want == NULL) ? got == want : strcmp(got, want) == 0;
    int pass = tap_ok_(same, file, line, "%s", name);
    if (!pass)
        diag("  got: \"%s\"\n#  want: \"%s\"", got ? got : "(null)",
             want ? want : "(null)");
    return pass;
}

static TAP_UNUSED int
tap_is_mem_(const void *got, size_t glen, const void *want, size_t wlen,
            const char *name, const char *file, int line)
{
    const unsigned char *g = got, *w = want;
    size_t i = 0;
    int pass;

    while (i < glen && i < wlen && g[i] == w[i])
        i++;
    pass = tap_ok_(glen == wlen && i == glen, file, line, "%s", name);
    if (!pass)
        diag("  lengths %zu/%zu (got/want), first difference at %zu: "
             "0x%02x/0x%02x",
             glen, wlen, i, i < glen ? g[i] : 0u, i < wlen ? w[i] : 0u);
    return pass;
}

/* Records |n| skipped tests. */
static TAP_UNUSED void
skip(int n, const char *why)
{
    while (n-- > 0)
        printf("ok %d # skip %s\n", ++tap_run, why);
}

static void
tap_alarm_cb_(int sig)
{
    static const char msg[] = "Bail out! test timed out\n";
    (void)sig;
    if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
        _exit(3);
    _exit(3);
}

/* Backstop for code that cannot be bounded otherwise: after |seconds| the
 * test bails out (exit 3) instead of hanging. Children do not inherit it.
 */
static TAP_UNUSED void
bail_out_after(unsigned seconds)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tap_alarm_cb_;
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

static TAP_UNUSED void
skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    exit(0);
}

static TAP_UNUSED int
done_testing(void)
{
    if (tap_planned < 0)
        printf("1..%d\n", tap_run);
    else if (tap_planned != tap_run)
        diag("planned %d tests but ran %d", tap_planned, tap_run);
    if (tap_failed > 0)
        diag("failed %d of %d tests", tap_failed, tap_run);
    fflush(stdout);
    return tap_failed > 0 || (tap_planned >= 0 && tap_planned != tap_run);
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name)                                                \
    tap_is_int_((long long)(got), (long long)(want), (name), __FILE__, __LINE__)
#define is_str(got, want, name)                                                \
    tap_is_str_((got), (want), (name), __FILE__, __LINE__)
#define is_mem(got, glen, want, wlen, name)                                    \
    tap_is_mem_((got), (glen), (want), (wlen), (name), __FILE__, __LINE__)

#endif /* PTTH_TAP_H */
