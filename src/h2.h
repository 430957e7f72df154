/* SPDX-License-Identifier: MIT
 * h2.h - nghttp2 glue. The only module besides the stream handlers that
 * includes <nghttp2/nghttp2.h>. */
#ifndef PTTH_H2_H
#define PTTH_H2_H

/* Run-time nghttp2 version, e.g. "1.52.0". Static storage. */
const char *h2_library_version(void);

#endif /* PTTH_H2_H */
