/* SPDX-License-Identifier: MIT
 * h2.c - nghttp2 glue. */
#include "config.h"

#include "h2.h"

#include <nghttp2/nghttp2.h>

const char *
h2_library_version(void)
{
    nghttp2_info *info = nghttp2_version(0);
    return info ? info->version_str : "unknown";
}
