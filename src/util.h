/* SPDX-License-Identifier: MIT
 * util.h - allocation that aborts on exhaustion, string and number helpers,
 * the monotonic clock. No library headers. */
#ifndef PTTH_UTIL_H
#define PTTH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptth.h"

/* Allocators: never return NULL; print "ptth: out of memory" and abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new string built like printf. Never NULL. */
char *xasprintf(const char *fmt, ...) PTTH_PRINTF(1, 2);
/* The strings of the NULL-terminated array |parts|, joined into a new
 * string (aborts on exhaustion). Plain copies, for hot paths where
 * xasprintf's printf machinery shows in profiles. */
char *xconcat(const char *const *parts);

/* Copies at most size-1 bytes and terminates; returns strlen(src). */
size_t ptth_strlcpy(char *dst, const char *src, size_t size);
/* Overwrites n bytes in a way the compiler keeps (for secrets). */
void ptth_wipe(void *p, size_t n);

/* Parses a whole decimal integer in [min, max]. Returns 0 or PTTH_EINVAL. */
int parse_long(const char *s, long min, long max, long *out);
/* Parses seconds: "10", "2.5", "500ms", "3s", "2m". Returns 0 or
 * PTTH_EINVAL; *out_ms gets milliseconds. */
int parse_duration_ms(const char *s, uint64_t *out_ms);
/* Parses a TCP port "0".."65535". Returns 0 or PTTH_EINVAL. */
int parse_port(const char *s, int *out);

/* True when s is a DNS label: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
bool is_dns_label(const char *s);
/* ASCII-only, locale-free helpers. */
bool str_ieq(const char *a, const char *b);
bool str_nieq(const char *a, const char *b, size_t n);
char ascii_lower(char c);
/* Value of the hex digit c (either case), or -1. */
int hex_digit(int c);

/* Milliseconds from an arbitrary monotonic origin. */
uint64_t mono_ms(void);

#endif /* PTTH_UTIL_H */
