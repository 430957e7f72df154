/* SPDX-License-Identifier: MIT
 * main.c - process set-up, the command line, and the exit status. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfg.h"
#include "cli.h"
#include "client.h"
#include "curl_dl.h"
#include "curlm.h"
#include "edge.h"
#include "h2.h"
#include "log.h"
#include "loop.h"
#include "tls.h"
#include "worker.h"

static void
print_version(void)
{
    printf("ptth %s (%s)\n", PACKAGE_VERSION, PTTH_HOST_TRIPLET);
    printf("libcurl/%s nghttp2/%s mbedTLS/%s libuv/%s\n",
           curlm_library_version(), h2_library_version(), tls_library_version(),
           loop_library_version());
    printf("Protocols: PTTH-01 (HTTP/1.1 Upgrade, transposed HTTP/2)\n");
}

static int
run(const struct cfg *cfg)
{
    if (cfg->cmd == CMD_SERVE)
        return edge_main(cfg);
    if (cfg->cmd == CMD_EXPOSE)
        return worker_main(cfg);
    return client_main(cfg);
}

int
main(int argc, char **argv)
{
    struct cli c;
    struct cfg cfg;
    int rc, status;

    signal(SIGPIPE, SIG_IGN);
    if (cli_parse(&c, argc, argv) != 0) {
        cli_free(&c);
        return PTTH_EXIT_USAGE;
    }
    switch (c.action) {
    case CLI_HELP:
        cli_help(stdout, c.cmd);
        cli_free(&c);
        return fflush(stdout) == 0 ? PTTH_EXIT_OK : PTTH_EXIT_INTERNAL;
    case CLI_VERSION:
        print_version();
        cli_free(&c);
        return fflush(stdout) == 0 ? PTTH_EXIT_OK : PTTH_EXIT_INTERNAL;
    case CLI_DUMP:
        cli_dump(stdout);
        cli_free(&c);
        return PTTH_EXIT_OK;
    case CLI_RUN:
        break;
    }
    rc = cfg_load(&cfg, &c); /* loads libcurl to parse a URL */
    cli_free(&c);
    if (rc != 0) {
        cfg_free(&cfg);
        return cfg_exit_status(rc);
    }
    /* expose and connect use libcurl, the edge never: it is loaded at
     * run time, not linked (curl_dl.c), after the usage errors. */
    if (cfg.cmd != CMD_SERVE) {
        char err[512];
        if (curl_dl_load(err, sizeof(err)) != 0) {
            fprintf(stderr, "ptth: %s\n", err);
            cfg_free(&cfg);
            return PTTH_EXIT_RESOURCE;
        }
    }
    log_init(cfg.verbosity < 0    ? LOG_LV_ERROR
             : cfg.verbosity == 0 ? LOG_LV_WARN
             : cfg.verbosity == 1 ? LOG_LV_INFO
             : cfg.verbosity == 2 ? LOG_LV_DEBUG
                                  : LOG_LV_TRACE,
             cfg.log_json ? LOG_FMT_JSON : LOG_FMT_TEXT, -1);
    /* The edge never uses libcurl and skips its global set-up. (Only
     * TLS could be skipped in expose and connect: libcurl initialises
     * libssh2, and so OpenSSL, whatever the flags; measured.) */
    if ((cfg.cmd != CMD_SERVE && curlm_global_init() != 0) ||
        tls_global_init() != 0) {
        log_err(NULL, "cannot initialise libcurl or mbedTLS");
        cfg_free(&cfg);
        return PTTH_EXIT_INTERNAL;
    }
    status = run(&cfg);
    if (cfg.cmd != CMD_SERVE)
        curlm_global_cleanup();
    cfg_free(&cfg);
    return status;
}
