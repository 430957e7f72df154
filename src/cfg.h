/* SPDX-License-Identifier: MIT
 * cfg.h - the validated run-time configuration of one ptth process, built
 * from the parsed command line (cli.h). Named cfg, not config, because
 * config.h is the header configure writes. */
#ifndef PTTH_CFG_H
#define PTTH_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

/* One listening address: "127.0.0.1", 8080. */
struct listen_spec {
    char *host;    /* numeric or a name; "" never */
    int port;      /* 0 = pick a free one */
    bool loopback; /* 127.0.0.0/8, ::1 or "localhost" */
};

enum target_kind {
    TARGET_HTTP, /* http://HOST:PORT[/prefix] or https:// */
    TARGET_UNIX, /* HTTP over a unix socket */
    TARGET_DIR,  /* static files */
    TARGET_TCP,  /* --tcp HOST:PORT */
};

struct cfg {
    enum cli_cmd cmd;
    int verbosity; /* -1 quiet, 0 default (warnings), 1.. verbose */
    bool log_json;

    /* serve: accepted tokens; expose/connect: tokens[0] if any. */
    char **tokens;
    size_t ntokens;
    uint64_t grace_ms;
    uint64_t timeout_ms;
    uint64_t connect_timeout_ms; /* expose, connect: dial; then TLS + setup */

    /* serve: timers > 0 */
    uint64_t idle_timeout_ms;  /* close a client with nothing in flight */
    uint64_t name_hold_ms;     /* a token's name outlives its last worker */
    uint64_t ping_interval_ms; /* PING workers; drop after 3 silent */

    /* serve */
    struct listen_spec *listens;
    size_t nlistens;
    char *domain;
    bool allow_anonymous;
    char *tls_cert;
    char *tls_key;
    char *default_name;

    /* expose and connect */
    char *edge_url;  /* as given, normalised: scheme://host:port */
    char *edge_host; /* without brackets */
    int edge_port;
    bool edge_tls;
    char *cacert;
    bool insecure;

    /* expose */
    char *name; /* NULL: the edge assigns one */
    enum target_kind target_kind;
    char *target;    /* the operand as given, for messages */
    char *up_scheme; /* "http" or "https" (HTTP targets) */
    char *up_host;   /* HTTP and TCP targets; brackets stripped */
    int up_port;
    char *up_prefix; /* URL path prefix without trailing '/', or "" */
    char *up_path;   /* unix socket path, or directory */
    char *exec;
    long retries;      /* -1: forever */
    char *host_header; /* NULL: the public Host; "rewrite": target's */
    bool list;
    bool follow_symlinks;
    bool dotfiles;
    char *index;

    /* connect */
    char *connect_host; /* NAME or NAME.DOMAIN as given */
    int connect_port;   /* 0: the service's own */
    bool has_listen;
    struct listen_spec connect_listen;
};

/* Validates c into cfg (zeroed first). Returns 0; PTTH_EINVAL for a usage
 * error; PTTH_ENOENT or PTTH_EIO when a named file or directory cannot be
 * used. Prints one line naming the bad option or operand on failure.
 * cfg owns its strings: release with cfg_free. */
int cfg_load(struct cfg *cfg, const struct cli *c);
void cfg_free(struct cfg *cfg);

/* Parses ADDR (PORT, HOST:PORT, [V6]:PORT) into out (owned strings).
 * default_host is used for a bare PORT. Returns 0 or PTTH_EINVAL. */
int cfg_parse_addr(const char *addr, const char *default_host,
                   struct listen_spec *out);

/* Maps a PTTH_E* code from cfg_load to the process exit status. */
int cfg_exit_status(int rc);

#endif /* PTTH_CFG_H */
