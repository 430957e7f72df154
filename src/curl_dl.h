/* SPDX-License-Identifier: MIT
 * curl_dl.h - load libcurl at run time (see curl_dl.c). The libcurl
 * functions ptth uses keep their names and prototypes from <curl/curl.h>;
 * this header only adds the explicit load. */
#ifndef PTTH_CURL_DL_H
#define PTTH_CURL_DL_H

#include <stddef.h>

#include "ptth.h"

/* Loads libcurl (once; later calls return 0 at once): $PTTH_LIBCURL if
 * set, else the SONAME configure found ("libcurl.so.4"). Returns 0, or
 * PTTH_EIO with a one-line reason in err ("cannot load libcurl
 * (libcurl.so.4): ..."). Any libcurl call loads it too, and aborts with
 * that reason on stderr when it cannot: call this first. */
int curl_dl_load(char *err, size_t errlen);

#endif
