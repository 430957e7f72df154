/* SPDX-License-Identifier: MIT
 * Unit tests for cli.c and cfg.c: tables, parsing, environment twins and
 * validation of every option kind. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/tap.h"
#include "cfg.h"
#include "cli.h"

/* Parses a NULL-terminated argv; returns cli_parse's code. */
static int
parse(struct cli *c, const char **args)
{
    int argc = 0;
    while (args[argc] != NULL)
        argc++;
    return cli_parse(c, argc, (char **)args);
}

/* Parses then loads; returns the exit status main would use. */
static int
status_of(const char **args)
{
    struct cli c;
    struct cfg cfg;
    int rc = parse(&c, args);
    if (rc != 0) {
        cli_free(&c);
        return PTTH_EXIT_USAGE;
    }
    if (c.action != CLI_RUN) {
        cli_free(&c);
        return 0;
    }
    rc = cfg_load(&cfg, &c);
    cli_free(&c);
    cfg_free(&cfg);
    return cfg_exit_status(rc);
}

static void
check_tables(void)
{
    enum cli_cmd cmds[] = {CMD_NONE, CMD_SERVE, CMD_EXPOSE, CMD_CONNECT};
    size_t t, i, j, n, ng;
    const struct opt *g = cli_table(CMD_NONE, &ng);

    for (t = 0; t < 4; t++) {
        const struct opt *o = cli_table(cmds[t], &n);
        int sorted = 1, unique_short = 1, help_ok = 1;
        for (i = 0; i + 1 < n; i++) {
            if (strcmp(o[i].lname, o[i + 1].lname) >= 0)
                sorted = 0;
        }
        for (i = 0; i < n; i++) {
            if (o[i].help == NULL || strlen(o[i].help) > 56)
                help_ok = 0;
            if ((o[i].arg == OPT_FLAG) != (o[i].argname == NULL))
                help_ok = 0;
            for (j = 0; j < n; j++) {
                if (i != j && o[i].sname && o[i].sname == o[j].sname)
                    unique_short = 0;
            }
            for (j = 0; t > 0 && j < ng; j++) {
                if (strcmp(o[i].lname, g[j].lname) == 0 ||
                    (o[i].sname && o[i].sname == g[j].sname))
                    unique_short = 0;
            }
        }
        ok(sorted, "%s table sorted by long name", cli_cmd_name(cmds[t]));
        ok(unique_short, "%s names unique (with globals)",
           cli_cmd_name(cmds[t]));
        ok(help_ok, "%s help lines present, <= 56 columns",
           cli_cmd_name(cmds[t]));
    }
}

int
main(void)
{
    struct cli c;
    struct cfg cfg;
    char env[40];
    char tmpl[] = "/tmp/ptth-cli-XXXXXX";
    char path[128];
    FILE *f;

    unsetenv("PTTH_EDGE");
    unsetenv("PTTH_TOKEN");
    unsetenv("PTTH_NAME");
    unsetenv("PTTH_VERBOSE");
    unsetenv("PTTH_LISTEN");

    check_tables();
    is_str(cli_env_name("token-file", env, sizeof(env)), "PTTH_TOKEN_FILE",
           "env twin name");

    {
        const char *a[] = {"ptth", "-v",  "expose", "--name", "site",
                           "3000", "-vq", "-v",     NULL};
        is_int(parse(&c, a), 0, "globals before and after the command");
        is_int(c.cmd, CMD_EXPOSE, "command found");
        is_int(c.v[O_VERBOSE].count, 1, "-q then -v: verbosity 1");
        is_str(c.v[O_NAME].str, "site", "--name value");
        is_int((long long)c.noperands, 1, "one operand");
        is_str(c.operands[0], "3000", "operand after options");
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "expose", "-nsite", "--edge=http://e:1",
                           "--",   "-5",     NULL};
        is_int(parse(&c, a), 0, "-nVALUE, --opt=VALUE and --");
        is_str(c.v[O_NAME].str, "site", "-nsite");
        is_str(c.v[O_EDGE].str, "http://e:1", "--edge=");
        is_str(c.operands[0], "-5", "operand after --");
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "serve", "-l", "0", "-l", "[::1]:0", NULL};
        is_int(parse(&c, a), 0, "repeated --listen");
        is_int((long long)c.v[O_LISTEN].nlist, 2, "two listeners");
        is_int(cfg_load(&cfg, &c), 0, "serve loads");
        is_str(cfg.listens[1].host, "::1", "v6 host without brackets");
        ok(cfg.listens[0].loopback && cfg.listens[1].loopback, "both loopback");
        is_int(cfg.grace_ms, 10000, "grace default 10 s");
        is_str(cfg.domain, "localhost", "domain default");
        cfg_free(&cfg);
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "help", "expose", NULL};
        is_int(parse(&c, a), 0, "help CMD");
        ok(c.action == CLI_HELP && c.cmd == CMD_EXPOSE, "help for expose");
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "serve", "--help", "--bogus", NULL};
        is_int(parse(&c, a), PTTH_EINVAL, "unknown option after --help");
        cli_free(&c);
    }

    /* Usage errors: exit 2. */
    {
        const char *a1[] = {"ptth", NULL};
        const char *a2[] = {"ptth", "bogus", NULL};
        const char *a3[] = {"ptth", "expose", "--nmae", "x", "80", NULL};
        const char *a4[] = {"ptth", "expose", "--name", NULL};
        const char *a5[] = {"ptth", "expose", "--name", "Bad_Name", "80", NULL};
        const char *a6[] = {"ptth", "expose", "nonsense", NULL};
        const char *a7[] = {"ptth", "expose", NULL};
        const char *a8[] = {"ptth", "serve", "-l", "70000", NULL};
        const char *a9[] = {"ptth", "serve", "-l", "0.0.0.0:0", NULL};
        const char *a10[] = {"ptth", "serve", "--log-format", "xml", NULL};
        const char *a11[] = {"ptth", "expose", "--edge", "ftp://x", "80", NULL};
        const char *a12[] = {"ptth", "expose", "--tcp", "http://x/", NULL};
        const char *a13[] = {"ptth", "expose", "--list", "8080", NULL};
        const char *a14[] = {"ptth", "serve", "--grace", "soon", NULL};
        const char *a15[] = {"ptth", "expose", "--retries", "-1", "80", NULL};
        const char *a16[] = {"ptth", "serve", "--tls-cert", "/etc/hostname",
                             NULL};
        const char *a17[] = {"ptth", "connect", "bad name", NULL};
        const char *a18[] = {"ptth", "serve", "extra", NULL};
        const char *a19[] = {"ptth", "expose", "--insecure=yes", "80", NULL};
        const char *a20[] = {"ptth", "expose", "80", "81", NULL};
        const char *a21[] = {"ptth", "expose", "0", NULL};
        const char *a22[] = {"ptth", "expose", "--edge", "http://user:pw@e:1",
                             "80",   NULL};
        is_int(status_of(a1), 2, "no command");
        is_int(status_of(a2), 2, "unknown command");
        is_int(status_of(a3), 2, "unknown option");
        is_int(status_of(a4), 2, "missing value");
        is_int(status_of(a5), 2, "invalid NAME");
        is_int(status_of(a6), 2, "invalid TARGET");
        is_int(status_of(a7), 2, "missing TARGET");
        is_int(status_of(a8), 2, "port out of range");
        is_int(status_of(a9), 2, "anonymous on a public listener");
        is_int(status_of(a10), 2, "bad --log-format");
        is_int(status_of(a11), 2, "edge must be http(s)");
        is_int(status_of(a12), 2, "--tcp needs HOST:PORT");
        is_int(status_of(a13), 2, "--list needs a directory");
        is_int(status_of(a14), 2, "bad duration");
        is_int(status_of(a15), 2, "negative retries");
        is_int(status_of(a16), 2, "--tls-cert without --tls-key");
        is_int(status_of(a17), 2, "connect: bad NAME");
        is_int(status_of(a18), 2, "serve takes no operand");
        is_int(status_of(a19), 2, "flag with a value");
        is_int(status_of(a20), 2, "two TARGETs");
        is_int(status_of(a21), 2, "port 0 is no TARGET");
        is_int(status_of(a22), 2, "credentials in the edge URL refused");
    }
    /* Resource errors: exit 3. */
    {
        const char *a1[] = {"ptth", "expose", "./does/not/exist", NULL};
        const char *a2[] = {"ptth", "serve", "--token-file", "/nonexistent",
                            NULL};
        const char *a3[] = {"ptth",         "expose", "--cacert",
                            "/nonexistent", "80",     NULL};
        is_int(status_of(a1), 3, "missing directory TARGET");
        is_int(status_of(a2), 3, "missing token file");
        is_int(status_of(a3), 3, "missing cacert");
    }
    /* Valid forms. */
    {
        const char *a1[] = {
            "ptth", "serve", "-l", "0.0.0.0:0", "--allow-anonymous", NULL};
        const char *a2[] = {"ptth", "expose", "--tcp", "-n", "box", "22", NULL};
        const char *a3[] = {"ptth", "connect",          "-L",
                            "0",    "box.localhost:22", NULL};
        const char *a4[] = {"ptth", "expose", "--list", ".", NULL};
        is_int(status_of(a1), 0, "--allow-anonymous");
        is_int(status_of(a2), 0, "--tcp PORT");
        is_int(status_of(a3), 0, "connect -L");
        is_int(status_of(a4), 0, "directory TARGET");
    }
    {
        const char *a[] = {"ptth", "expose", "https://app.test:8443/base/",
                           NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "URL target");
        ok(cfg.target_kind == TARGET_HTTP && cfg.up_port == 8443 &&
               strcmp(cfg.up_scheme, "https") == 0 &&
               strcmp(cfg.up_prefix, "/base") == 0 &&
               strcmp(cfg.up_host, "app.test") == 0,
           "URL target parts");
        is_str(cfg.edge_url, "http://127.0.0.1:8080", "default edge");
        is_int(cfg.retries, -1, "retries forever by default");
        cfg_free(&cfg);
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "expose", "unix:/run/app.sock", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "unix target");
        ok(cfg.target_kind == TARGET_UNIX &&
               strcmp(cfg.up_path, "/run/app.sock") == 0,
           "unix path");
        cfg_free(&cfg);
        cli_free(&c);
    }

    /* Environment twins: used when the option is absent, else ignored. */
    setenv("PTTH_EDGE", "https://edge.test", 1);
    setenv("PTTH_NAME", "Bad_Name", 1);
    setenv("PTTH_VERBOSE", "2", 1);
    {
        const char *a[] = {"ptth", "expose", "-n", "good", "80", NULL};
        is_int(parse(&c, a), 0, "parse with env");
        is_int(cfg_load(&cfg, &c), 0, "option wins over PTTH_NAME");
        is_str(cfg.name, "good", "name from option");
        is_str(cfg.edge_url, "https://edge.test:443", "edge from env");
        ok(cfg.edge_tls, "https edge means TLS");
        is_int(cfg.verbosity, 2, "PTTH_VERBOSE");
        cfg_free(&cfg);
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "expose", "80", NULL};
        is_int(status_of(a), 2, "bad PTTH_NAME is a usage error");
    }
    unsetenv("PTTH_NAME");
    unsetenv("PTTH_VERBOSE");
    setenv("PTTH_INSECURE", "maybe", 1);
    {
        const char *a[] = {"ptth", "expose", "80", NULL};
        is_int(status_of(a), 2, "bad flag value in PTTH_INSECURE");
    }
    setenv("PTTH_INSECURE", "yes", 1);
    {
        const char *a[] = {"ptth", "expose", "--no-insecure", "80", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "--no-insecure");
        ok(!cfg.insecure, "--no-insecure beats PTTH_INSECURE=yes");
        cfg_free(&cfg);
        cli_free(&c);
    }
    unsetenv("PTTH_INSECURE");
    unsetenv("PTTH_EDGE");
    setenv("PTTH_LISTEN", "127.0.0.1:0,[::1]:0", 1);
    {
        const char *a[] = {"ptth", "serve", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "PTTH_LISTEN list");
        is_int((long long)cfg.nlistens, 2, "comma-separated listeners");
        cfg_free(&cfg);
        cli_free(&c);
    }
    unsetenv("PTTH_LISTEN");
    setenv("PTTH_QUIET", "1", 1);
    setenv("PTTH_LIST", "1", 1);
    {
        const char *a[] = {"ptth", "expose", "-v", "3000", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "PTTH_LIST ignored for a port TARGET");
        is_int(cfg.verbosity, 1, "-v on the command line beats PTTH_QUIET");
        cfg_free(&cfg);
        cli_free(&c);
    }
    unsetenv("PTTH_QUIET");
    unsetenv("PTTH_LIST");

    /* Timeouts: defaults, durations, 0 refused, environment twins. */
    {
        const char *a[] = {"ptth", "serve", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "serve with default timeouts");
        is_int((long long)cfg.idle_timeout_ms, 60000, "idle default 60 s");
        is_int((long long)cfg.ping_interval_ms, 20000, "ping default 20 s");
        cfg_free(&cfg);
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "connect", "box", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "connect with default timeout");
        is_int((long long)cfg.connect_timeout_ms, 10000,
               "connect-timeout default 10 s");
        cfg_free(&cfg);
        cli_free(&c);
    }
    {
        const char *a[] = {"ptth", "serve",           "--idle-timeout",
                           "2.5",  "--ping-interval", "500ms",
                           NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "serve timeouts given");
        is_int((long long)cfg.idle_timeout_ms, 2500, "--idle-timeout 2.5");
        is_int((long long)cfg.ping_interval_ms, 500, "--ping-interval 500ms");
        cfg_free(&cfg);
        cli_free(&c);
    }
    setenv("PTTH_CONNECT_TIMEOUT", "1.5", 1);
    {
        const char *a[] = {"ptth", "expose", "80", NULL};
        const char *b[] = {"ptth", "expose", "--connect-timeout=3", "80", NULL};
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "PTTH_CONNECT_TIMEOUT");
        is_int((long long)cfg.connect_timeout_ms, 1500,
               "connect-timeout from the environment");
        cfg_free(&cfg);
        cli_free(&c);
        parse(&c, b);
        is_int(cfg_load(&cfg, &c), 0, "--connect-timeout with env");
        is_int((long long)cfg.connect_timeout_ms, 3000,
               "--connect-timeout wins over the environment");
        cfg_free(&cfg);
        cli_free(&c);
    }
    setenv("PTTH_CONNECT_TIMEOUT", "0", 1);
    {
        const char *a[] = {"ptth", "connect", "box", NULL};
        is_int(status_of(a), 2, "PTTH_CONNECT_TIMEOUT=0 refused");
    }
    unsetenv("PTTH_CONNECT_TIMEOUT");
    {
        const char *a1[] = {"ptth", "serve", "--idle-timeout", "0", NULL};
        const char *a2[] = {"ptth", "serve", "--ping-interval", "0ms", NULL};
        const char *a3[] = {"ptth", "serve", "--ping-interval", "-1", NULL};
        const char *a4[] = {"ptth", "expose", "--connect-timeout",
                            "soon", "80",     NULL};
        const char *a5[] = {"ptth", "connect", "--connect-timeout",
                            "0",    "box",     NULL};
        const char *a6[] = {"ptth", "expose", "--idle-timeout",
                            "1",    "80",     NULL};
        is_int(status_of(a1), 2, "--idle-timeout 0 refused");
        is_int(status_of(a2), 2, "--ping-interval 0ms refused");
        is_int(status_of(a3), 2, "negative --ping-interval refused");
        is_int(status_of(a4), 2, "bad --connect-timeout");
        is_int(status_of(a5), 2, "connect: --connect-timeout 0 refused");
        is_int(status_of(a6), 2, "--idle-timeout is not an expose option");
    }

    /* Token files: comments and blank lines skipped, CRLF tolerated. */
    {
        int fd = mkstemp(tmpl);
        const char *a[] = {"ptth", "serve", "--token-file", tmpl, "--token",
                           "abc",  NULL};
        snprintf(path, sizeof(path), "%s", tmpl);
        f = fdopen(fd, "w");
        fputs("# comment\n\ns3cr3t-1\r\n  second==  \n", f);
        fclose(f);
        parse(&c, a);
        is_int(cfg_load(&cfg, &c), 0, "token file loads");
        is_int((long long)cfg.ntokens, 3, "three tokens");
        is_str(cfg.tokens[1], "s3cr3t-1", "CR stripped");
        is_str(cfg.tokens[2], "second==", "spaces stripped");
        cfg_free(&cfg);
        cli_free(&c);
        f = fopen(path, "w");
        fputs("bad token\n", f);
        fclose(f);
        {
            const char *b[] = {"ptth", "serve", "--token-file", path, NULL};
            is_int(status_of(b), 2, "invalid token in file");
        }
        f = fopen(path, "w");
        fclose(f);
        {
            const char *b[] = {"ptth", "expose", "--token-file",
                               path,   "80",     NULL};
            is_int(status_of(b), 2, "empty token file");
        }
        unlink(path);
    }
    return done_testing();
}
