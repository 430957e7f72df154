/* SPDX-License-Identifier: MIT
 * fuzz_check.h - CHECK(cond) for the libFuzzer targets in fuzz/: a failed
 * check prints the file, line and condition, then aborts, so that the
 * fuzzer keeps the input that broke a promise. */
#ifndef PTTH_FUZZ_CHECK_H
#define PTTH_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif /* PTTH_FUZZ_CHECK_H */
