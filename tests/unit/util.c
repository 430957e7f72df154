/* SPDX-License-Identifier: MIT
 * Unit tests for util.c: numbers, durations, DNS labels, strings. */
#include "config.h"

#include <string.h>

#include "../lib/tap.h"
#include "util.h"

int
main(void)
{
    long l = -1;
    int port = -1;
    uint64_t ms = 0;
    char buf[8];

    is_int(parse_long("42", 0, 100, &l), 0, "parse_long 42");
    is_int(l, 42, "parse_long value");
    is_int(parse_long("101", 0, 100, &l), PTTH_EINVAL, "over max refused");
    is_int(parse_long("-1", 0, 100, &l), PTTH_EINVAL, "under min refused");
    is_int(parse_long("4x", 0, 100, &l), PTTH_EINVAL, "trailing junk");
    is_int(parse_long("", 0, 100, &l), PTTH_EINVAL, "empty refused");
    is_int(parse_long(" 4", 0, 100, &l), PTTH_EINVAL, "leading space");
    is_int(parse_long("99999999999999999999", 0, 100, &l), PTTH_EINVAL,
           "overflow refused");
    is_int(parse_port("0", &port), 0, "port 0 allowed");
    is_int(parse_port("65535", &port), 0, "port 65535");
    is_int(port, 65535, "port value");
    is_int(parse_port("65536", &port), PTTH_EINVAL, "port 65536 refused");
    is_int(parse_port("-0", &port), PTTH_EINVAL, "port -0 refused");

    is_int(parse_duration_ms("10", &ms), 0, "duration 10");
    is_int(ms, 10000, "10 is seconds");
    is_int(parse_duration_ms("2.5", &ms), 0, "duration 2.5");
    is_int(ms, 2500, "2.5 s");
    is_int(parse_duration_ms("500ms", &ms), 0, "duration 500ms");
    is_int(ms, 500, "500 ms");
    is_int(parse_duration_ms("2m", &ms), 0, "duration 2m");
    is_int(ms, 120000, "2 minutes");
    is_int(parse_duration_ms("0", &ms), 0, "duration 0");
    is_int(ms, 0, "zero");
    is_int(parse_duration_ms("", &ms), PTTH_EINVAL, "empty duration");
    is_int(parse_duration_ms("1d", &ms), PTTH_EINVAL, "unknown unit");
    is_int(parse_duration_ms("-1", &ms), PTTH_EINVAL, "negative");
    is_int(parse_duration_ms(".", &ms), PTTH_EINVAL, "lone dot");

    ok(is_dns_label("a"), "label a");
    ok(is_dns_label("site-1"), "label site-1");
    ok(!is_dns_label("-site"), "leading dash refused");
    ok(!is_dns_label("site-"), "trailing dash refused");
    ok(!is_dns_label("Site"), "upper case refused");
    ok(!is_dns_label("a.b"), "dot refused");
    ok(!is_dns_label(""), "empty refused");
    ok(is_dns_label("a23456789012345678901234567890123456789012345678901234"
                    "567890123"),
       "63 characters allowed");
    ok(!is_dns_label("a23456789012345678901234567890123456789012345678901234"
                     "5678901234"),
       "64 characters refused");

    ok(str_ieq("Content-Length", "content-length"), "str_ieq");
    ok(!str_ieq("content-length", "content-lengt"), "str_ieq length");
    ok(str_nieq("Upgrade: x", "upgrade", 7), "str_nieq prefix");
    ok(hex_digit('0') == 0 && hex_digit('9') == 9 && hex_digit('a') == 10 &&
           hex_digit('F') == 15,
       "hex_digit: both cases");
    ok(hex_digit('g') == -1 && hex_digit('/') == -1 && hex_digit(-61) == -1,
       "hex_digit: -1 for anything else");
    is_int(ptth_strlcpy(buf, "abcdefghij", sizeof(buf)), 10, "strlcpy len");
    is_str(buf, "abcdefg", "strlcpy truncates");
    {
        char *s = xasprintf("%s-%d", "x", 42);
        is_str(s, "x-42", "xasprintf");
        free(s);
    }
    {
        const char *none[] = {NULL};
        const char *some[] = {"ab", "", "c", "def", NULL};
        char *s = xconcat(none);
        is_str(s, "", "xconcat: no parts, empty string");
        free(s);
        s = xconcat(some);
        is_str(s, "abcdef", "xconcat: parts in order, empty ones too");
        free(s);
    }
    is_str(ptth_strerror(PTTH_EAUTH), "not authorised", "strerror");
    return done_testing();
}
