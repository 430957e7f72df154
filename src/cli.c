/* SPDX-License-Identifier: MIT
 * cli.c - option tables, the argv parser, --help and the option dump. */
#include "config.h"

#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Each table is sorted by long name; tests/unit/cli.c checks it. */
static const struct opt global_opts[] = {
    {"help", 'h', OPT_FLAG, O_HELP, OPTF_NOENV, NULL, "Show this help and exit",
     NULL},
    {"log-format", 0, OPT_CHOICE, O_LOG_FORMAT, 0, "FORMAT",
     "Diagnostics on stderr as text or json lines", "text json"},
    {"quiet", 'q', OPT_FLAG, O_QUIET, 0, NULL, "Print errors only", NULL},
    {"verbose", 'v', OPT_FLAG, O_VERBOSE, OPTF_REPEAT, NULL,
     "More output; repeat for debug and frame traces", NULL},
    {"version", 'V', OPT_FLAG, O_VERSION, OPTF_NOENV, NULL,
     "Show versions of ptth and its libraries", NULL},
};

static const struct opt serve_opts[] = {
    {"allow-anonymous", 0, OPT_FLAG, O_ALLOW_ANONYMOUS, 0, NULL,
     "Accept workers without a token on public listeners", NULL},
    {"default", 0, OPT_STR, O_DEFAULT, 0, "NAME",
     "Send requests for unknown hosts to tunnel NAME", NULL},
    {"domain", 0, OPT_STR, O_DOMAIN, 0, "DOMAIN",
     "Tunnel NAME serves Host NAME.DOMAIN (localhost)", NULL},
    {"grace", 0, OPT_NUM, O_GRACE, 0, "SECONDS",
     "On SIGINT/SIGTERM let requests finish (10)", NULL},
    {"idle-timeout", 0, OPT_NUM, O_IDLE_TIMEOUT, 0, "SECONDS",
     "Close a client connection idle this long (60)", NULL},
    {"listen", 'l', OPT_STR, O_LISTEN, OPTF_REPEAT, "ADDR",
     "Listen on PORT, HOST:PORT or [V6]:PORT (127.0.0.1:8080)", NULL},
    {"name-hold", 0, OPT_NUM, O_NAME_HOLD, 0, "SECONDS",
     "Keep a token's name this long after its last worker (60)", NULL},
    {"ping-interval", 0, OPT_NUM, O_PING_INTERVAL, 0, "SECONDS",
     "PING workers this often; drop silent ones (20)", NULL},
    {"timeout", 0, OPT_NUM, O_TIMEOUT, 0, "SECONDS",
     "Wait this long for a worker's response head (60)", NULL},
    {"tls-cert", 0, OPT_FILE, O_TLS_CERT, 0, "FILE",
     "Serve TLS with this certificate chain (PEM)", NULL},
    {"tls-key", 0, OPT_FILE, O_TLS_KEY, 0, "FILE",
     "Private key for --tls-cert (PEM)", NULL},
    {"token", 0, OPT_STR, O_TOKEN, OPTF_REPEAT | OPTF_SECRET, "TOKEN",
     "Workers must present TOKEN (prefer --token-file)", NULL},
    {"token-file", 0, OPT_FILE, O_TOKEN_FILE, 0, "FILE",
     "Read accepted tokens from FILE, one a line", NULL},
};

static const struct opt expose_opts[] = {
    {"cacert", 0, OPT_FILE, O_CACERT, 0, "FILE",
     "Trust the CAs in FILE too (added to the system store)", NULL},
    {"connect-timeout", 0, OPT_NUM, O_CONNECT_TIMEOUT, 0, "SECONDS",
     "Limit for dialling the edge, then TLS + handshake (10)", NULL},
    {"dotfiles", 0, OPT_FLAG, O_DOTFILES, 0, NULL,
     "Directory: also serve names starting with a dot", NULL},
    {"edge", 'e', OPT_STR, O_EDGE, 0, "URL",
     "Edge to dial (http://127.0.0.1:8080)", NULL},
    {"exec", 0, OPT_CMD, O_EXEC, 0, "CMD",
     "Run CMD with PTTH_URL set once up; exit with its status", NULL},
    {"follow-symlinks", 0, OPT_FLAG, O_FOLLOW_SYMLINKS, 0, NULL,
     "Directory: follow symlinks that leave it", NULL},
    {"grace", 0, OPT_NUM, O_GRACE, 0, "SECONDS",
     "On SIGINT/SIGTERM let requests finish (10)", NULL},
    {"host-header", 0, OPT_STR, O_HOST_HEADER, 0, "VALUE",
     "Host sent upstream: VALUE, or 'rewrite' to TARGET's", NULL},
    {"index", 0, OPT_STR, O_INDEX, 0, "NAME",
     "Directory: file served for a directory (index.html)", NULL},
    {"insecure", 'k', OPT_FLAG, O_INSECURE, 0, NULL,
     "Do not verify the edge's TLS certificate", NULL},
    {"list", 0, OPT_FLAG, O_LIST, 0, NULL,
     "Directory: list directories that have no index", NULL},
    {"name", 'n', OPT_STR, O_NAME, 0, "NAME",
     "Tunnel name, a DNS label (default: assigned)", NULL},
    {"ping-interval", 0, OPT_NUM, O_PING_INTERVAL, 0, "SECONDS",
     "PING the edge this often; redial if it goes silent (20)", NULL},
    {"retries", 0, OPT_NUM, O_RETRIES, 0, "N",
     "Give up after N failed reconnects (forever)", NULL},
    {"tcp", 0, OPT_FLAG, O_TCP, 0, NULL,
     "Expose TARGET as a TCP service for ptth connect", NULL},
    {"timeout", 0, OPT_NUM, O_TIMEOUT, 0, "SECONDS",
     "Wait this long for the upstream's response head (60)", NULL},
    {"token", 0, OPT_STR, O_TOKEN, OPTF_SECRET, "TOKEN",
     "Present TOKEN to the edge (prefer --token-file)", NULL},
    {"token-file", 0, OPT_FILE, O_TOKEN_FILE, 0, "FILE",
     "Read the token from the first line of FILE", NULL},
};

static const struct opt connect_opts[] = {
    {"cacert", 0, OPT_FILE, O_CACERT, 0, "FILE",
     "Trust the CAs in FILE too (added to the system store)", NULL},
    {"connect-timeout", 0, OPT_NUM, O_CONNECT_TIMEOUT, 0, "SECONDS",
     "Limit for dialling the edge, then TLS + HTTP/2 (10)", NULL},
    {"edge", 'e', OPT_STR, O_EDGE, 0, "URL",
     "Edge to dial (http://127.0.0.1:8080)", NULL},
    {"insecure", 'k', OPT_FLAG, O_INSECURE, 0, NULL,
     "Do not verify the edge's TLS certificate", NULL},
    {"listen", 'L', OPT_STR, O_LISTEN, 0, "[HOST:]PORT",
     "Accept local connections here instead of stdio", NULL},
    {"token", 0, OPT_STR, O_TOKEN, OPTF_SECRET, "TOKEN",
     "Present TOKEN to the edge (prefer --token-file)", NULL},
    {"token-file", 0, OPT_FILE, O_TOKEN_FILE, 0, "FILE",
     "Read the token from the first line of FILE", NULL},
};

struct cmd_desc {
    const char *name;
    enum cli_cmd cmd;
    const struct opt *opts;
    size_t nopts;
    const char *operands;
    const char *summary;
};

static const struct cmd_desc cmds[] = {
    {"ptth", CMD_NONE, global_opts, PTTH_ARRAY_LEN(global_opts),
     "COMMAND [OPTIONS] [ARGS]",
     "Reverse HTTP: a worker dials out to an edge, then serves its requests."},
    {"serve", CMD_SERVE, serve_opts, PTTH_ARRAY_LEN(serve_opts), "",
     "Run an edge: accept workers and clients, route requests by Host."},
    {"expose", CMD_EXPOSE, expose_opts, PTTH_ARRAY_LEN(expose_opts), "TARGET",
     "Dial an edge and serve TARGET through it: PORT, HOST:PORT, an\n"
     "http(s) URL, unix:PATH or a directory; with --tcp a TCP service."},
    {"connect", CMD_CONNECT, connect_opts, PTTH_ARRAY_LEN(connect_opts),
     "NAME[:PORT]",
     "Open a byte stream to a TCP service exposed with 'ptth expose --tcp',\n"
     "over stdin/stdout or, with --listen, for each local connection."},
};

static const struct cmd_desc *
cmd_desc(enum cli_cmd cmd)
{
    size_t i;
    for (i = 0; i < PTTH_ARRAY_LEN(cmds); i++) {
        if (cmds[i].cmd == cmd)
            return &cmds[i];
    }
    return &cmds[0];
}

const struct opt *
cli_table(enum cli_cmd cmd, size_t *n)
{
    const struct cmd_desc *d = cmd_desc(cmd);
    *n = d->nopts;
    return d->opts;
}

const char *
cli_cmd_name(enum cli_cmd cmd)
{
    return cmd_desc(cmd)->name;
}

char *
cli_env_name(const char *lname, char *buf, size_t len)
{
    size_t i = 0, j;
    const char *prefix = "PTTH_";

    for (j = 0; prefix[j] != '\0' && i + 1 < len; j++)
        buf[i++] = prefix[j];
    for (j = 0; lname[j] != '\0' && i + 1 < len; j++) {
        char ch = lname[j];
        if (ch == '-')
            ch = '_';
        else if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        buf[i++] = ch;
    }
    if (len > 0)
        buf[i] = '\0';
    return buf;
}

void
cli_error(enum cli_cmd cmd, const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cmd == CMD_NONE)
        fprintf(stderr, "ptth: %s\n", msg);
    else
        fprintf(stderr, "ptth: %s: %s\n", cli_cmd_name(cmd), msg);
}

/* Looks a long name up in the command's table, then the global one. */
static const struct opt *
find_long(enum cli_cmd cmd, const char *name, size_t len)
{
    enum cli_cmd tabs[2] = {cmd, CMD_NONE};
    size_t t, i, n;

    for (t = 0; t < (cmd == CMD_NONE ? 1u : 2u); t++) {
        const struct opt *o = cli_table(tabs[t], &n);
        for (i = 0; i < n; i++) {
            if (strlen(o[i].lname) == len && memcmp(o[i].lname, name, len) == 0)
                return &o[i];
        }
    }
    return NULL;
}

static const struct opt *
find_short(enum cli_cmd cmd, char s)
{
    enum cli_cmd tabs[2] = {cmd, CMD_NONE};
    size_t t, i, n;

    for (t = 0; t < (cmd == CMD_NONE ? 1u : 2u); t++) {
        const struct opt *o = cli_table(tabs[t], &n);
        for (i = 0; i < n; i++) {
            if (o[i].sname != 0 && o[i].sname == s)
                return &o[i];
        }
    }
    return NULL;
}

static void
list_push(struct optval *v, const char *s)
{
    v->list = xrealloc(v->list, (v->nlist + 1) * sizeof(*v->list));
    v->list[v->nlist++] = s;
}

/* Records one occurrence; value is NULL for flags. */
static int
store(struct cli *c, const struct opt *o, const char *src, const char *value,
      bool negate)
{
    struct optval *v = &c->v[o->id];

    v->set = true;
    v->src = src;
    if (o->arg == OPT_FLAG) {
        v->count = negate ? 0 : v->count + 1;
        if (o->id == O_QUIET && !negate)
            c->v[O_VERBOSE].count = 0;
        if (o->id == O_VERBOSE && !negate)
            c->v[O_QUIET].count = 0;
        return 0;
    }
    if (o->arg == OPT_CHOICE) {
        const char *p = o->choices;
        size_t n = strlen(value);
        bool found = false;
        while (*p != '\0') {
            size_t w = strcspn(p, " ");
            if (w == n && memcmp(p, value, n) == 0)
                found = true;
            p += w;
            while (*p == ' ')
                p++;
        }
        if (!found) {
            cli_error(c->cmd, "invalid %s '%s' (expected one of: %s)", src,
                      value, o->choices);
            return PTTH_EINVAL;
        }
    }
    v->str = value;
    if (o->flags & OPTF_REPEAT)
        list_push(v, value);
    return 0;
}

static int
parse_long_opt(struct cli *c, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const struct opt *o = find_long(c->cmd, arg, len);
    bool negate = false;

    if (o == NULL && len > 3 && memcmp(arg, "no-", 3) == 0) {
        o = find_long(c->cmd, arg + 3, len - 3);
        if (o != NULL && (o->arg != OPT_FLAG || (o->flags & OPTF_NOENV)))
            o = NULL;
        negate = o != NULL;
    }
    if (o == NULL) {
        if (len == 12 && memcmp(arg, "dump-options", 12) == 0 && eq == NULL) {
            c->action = CLI_DUMP;
            return 0;
        }
        cli_error(c->cmd, "unknown option '--%.*s' (see 'ptth%s%s --help')",
                  (int)len, arg, c->cmd == CMD_NONE ? "" : " ",
                  c->cmd == CMD_NONE ? "" : cli_cmd_name(c->cmd));
        return PTTH_EINVAL;
    }
    if (o->arg == OPT_FLAG) {
        if (eq != NULL) {
            cli_error(c->cmd, "option '--%s' takes no value", o->lname);
            return PTTH_EINVAL;
        }
        return store(c, o, argv[*i], NULL, negate);
    }
    if (eq != NULL)
        return store(c, o, argv[*i], eq + 1, false);
    if (*i + 1 >= argc) {
        cli_error(c->cmd, "option '--%s' needs a value (%s)", o->lname,
                  o->argname);
        return PTTH_EINVAL;
    }
    (*i)++;
    return store(c, o, argv[*i - 1], argv[*i], false);
}

static int
parse_short_opts(struct cli *c, int argc, char **argv, int *i)
{
    const char *p = argv[*i] + 1;
    static char srcbuf[O_MAX][3];

    for (; *p != '\0'; p++) {
        const struct opt *o = find_short(c->cmd, *p);
        char *src;
        if (o == NULL) {
            cli_error(c->cmd, "unknown option '-%c' (see 'ptth%s%s --help')",
                      *p, c->cmd == CMD_NONE ? "" : " ",
                      c->cmd == CMD_NONE ? "" : cli_cmd_name(c->cmd));
            return PTTH_EINVAL;
        }
        src = srcbuf[o->id];
        src[0] = '-';
        src[1] = *p;
        src[2] = '\0';
        if (o->arg == OPT_FLAG) {
            int rc = store(c, o, src, NULL, false);
            if (rc != 0)
                return rc;
            continue;
        }
        if (p[1] != '\0')
            return store(c, o, src, p + 1, false);
        if (*i + 1 >= argc) {
            cli_error(c->cmd, "option '-%c' needs a value (%s)", *p,
                      o->argname);
            return PTTH_EINVAL;
        }
        (*i)++;
        return store(c, o, src, argv[*i], false);
    }
    return 0;
}

static enum cli_cmd
lookup_cmd(const char *name)
{
    size_t i;
    for (i = 1; i < PTTH_ARRAY_LEN(cmds); i++) {
        if (strcmp(cmds[i].name, name) == 0)
            return cmds[i].cmd;
    }
    return CMD_NONE;
}

static void
push_operand(struct cli *c, const char *s)
{
    c->operands =
        xrealloc(c->operands, (c->noperands + 1) * sizeof(*c->operands));
    c->operands[c->noperands++] = s;
}

static bool
env_truth(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    size_t i;
    for (i = 0; i < PTTH_ARRAY_LEN(yes); i++) {
        if (str_ieq(s, yes[i])) {
            *out = true;
            return true;
        }
        if (str_ieq(s, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Fills options the command line left unset from PTTH_* variables. */
static int
apply_env_table(struct cli *c, enum cli_cmd tab)
{
    static char names[O_MAX][40];
    size_t i, n;
    const struct opt *o = cli_table(tab, &n);

    for (i = 0; i < n; i++) {
        struct optval *v = &c->v[o[i].id];
        char *name = names[o[i].id];
        const char *val;

        if ((o[i].flags & OPTF_NOENV) || v->set)
            continue;
        cli_env_name(o[i].lname, name, sizeof(names[0]));
        val = getenv(name);
        if (val == NULL || *val == '\0')
            continue;
        if (o[i].arg == OPT_FLAG && o[i].id == O_VERBOSE) {
            long lv;
            if (parse_long(val, 0, 9, &lv) != 0) {
                cli_error(c->cmd, "invalid %s '%s' (expected 0 to 9)", name,
                          val);
                return PTTH_EINVAL;
            }
            v->set = true;
            v->src = name;
            v->count = (int)lv;
        } else if (o[i].arg == OPT_FLAG) {
            bool on;
            if (!env_truth(val, &on)) {
                cli_error(c->cmd, "invalid %s '%s' (expected 1 or 0)", name,
                          val);
                return PTTH_EINVAL;
            }
            v->set = true;
            v->src = name;
            v->count = on ? 1 : 0;
        } else if (o[i].flags & OPTF_REPEAT) {
            /* Repeatable: a comma-separated list. Kept in one owned copy. */
            char *copy = xstrdup(val), *tok, *save = NULL;
            int rc = 0;
            c->owned = xrealloc(c->owned, (c->nowned + 1) * sizeof(char *));
            c->owned[c->nowned++] = copy;
            for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
                 tok = strtok_r(NULL, ",", &save))
                rc = store(c, &o[i], name, tok, false);
            if (rc != 0)
                return rc;
        } else {
            int rc = store(c, &o[i], name, val, false);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int
cli_parse(struct cli *c, int argc, char **argv)
{
    int i;
    bool only_operands = false;
    int rc;

    memset(c, 0, sizeof(*c));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_operands && strcmp(a, "--") == 0) {
            only_operands = true;
            continue;
        }
        if (!only_operands && a[0] == '-' && a[1] != '\0') {
            rc = a[1] == '-' ? parse_long_opt(c, argc, argv, &i)
                             : parse_short_opts(c, argc, argv, &i);
            if (rc != 0)
                return rc;
            continue;
        }
        if (c->cmd == CMD_NONE && c->cmd_name == NULL) {
            c->cmd_name = a;
            if (strcmp(a, "help") == 0)
                c->action = CLI_HELP;
            else if ((c->cmd = lookup_cmd(a)) == CMD_NONE) {
                cli_error(CMD_NONE, "unknown command '%s' (see 'ptth --help')",
                          a);
                return PTTH_EINVAL;
            }
            continue;
        }
        push_operand(c, a);
    }
    if (c->action == CLI_DUMP)
        return 0;
    if (c->cmd_name != NULL && strcmp(c->cmd_name, "help") == 0) {
        /* "ptth help [CMD]" */
        if (c->noperands > 1) {
            cli_error(CMD_NONE, "usage: ptth help [COMMAND]");
            return PTTH_EINVAL;
        }
        if (c->noperands == 1 && strcmp(c->operands[0], "help") != 0 &&
            (c->cmd = lookup_cmd(c->operands[0])) == CMD_NONE) {
            cli_error(CMD_NONE, "unknown command '%s' (see 'ptth --help')",
                      c->operands[0]);
            return PTTH_EINVAL;
        }
        c->action = CLI_HELP;
        return 0;
    }
    if (c->v[O_HELP].count > 0) {
        c->action = CLI_HELP;
        return 0;
    }
    if (c->v[O_VERSION].count > 0) {
        c->action = CLI_VERSION;
        return 0;
    }
    if (c->cmd == CMD_NONE) {
        cli_error(CMD_NONE, "no command given (try 'ptth --help')");
        return PTTH_EINVAL;
    }
    rc = apply_env_table(c, c->cmd);
    if (rc == 0)
        rc = apply_env_table(c, CMD_NONE);
    return rc;
}

void
cli_free(struct cli *c)
{
    size_t i;
    for (i = 0; i < O_MAX; i++)
        free(c->v[i].list);
    for (i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->operands);
    memset(c, 0, sizeof(*c));
}

static void
help_table(FILE *f, const struct opt *o, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char left[48];
        if (o[i].sname != 0)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o[i].sname,
                     o[i].lname, o[i].argname ? " " : "",
                     o[i].argname ? o[i].argname : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o[i].lname,
                     o[i].argname ? " " : "", o[i].argname ? o[i].argname : "");
        if (strlen(left) > 24)
            fprintf(f, "  %s\n  %-24s %s\n", left, "", o[i].help);
        else
            fprintf(f, "  %-24s %s\n", left, o[i].help);
    }
}

void
cli_help(FILE *f, enum cli_cmd cmd)
{
    const struct cmd_desc *d = cmd_desc(cmd);

    if (cmd == CMD_NONE) {
        fprintf(f,
                "Usage: ptth [OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
                "%s\n\n"
                "Commands:\n"
                "  serve                    Run an edge (rendezvous server)\n"
                "  expose TARGET            Serve a port, URL, unix socket,\n"
                "                           directory or TCP service\n"
                "  connect NAME[:PORT]      Reach a TCP service (stdio or "
                "-L)\n"
                "  help [COMMAND]           Show a command's usage\n\n"
                "Options:\n",
                d->summary);
        help_table(f, global_opts, PTTH_ARRAY_LEN(global_opts));
        fprintf(f, "\nEvery long option has an environment twin: --edge is "
                   "PTTH_EDGE.\n"
                   "See ptth(1), ptth-serve(1), ptth-expose(1), "
                   "ptth-connect(1).\n");
        return;
    }
    fprintf(f, "Usage: ptth %s [OPTIONS]%s%s\n\n%s\n\nOptions:\n", d->name,
            *d->operands ? " " : "", d->operands, d->summary);
    help_table(f, d->opts, d->nopts);
    fprintf(f, "\nGlobal options:\n");
    help_table(f, global_opts, PTTH_ARRAY_LEN(global_opts));
    fprintf(f,
            "\nEvery long option has an environment twin: --token-file is "
            "PTTH_TOKEN_FILE.\n"
            "Exit status: 0 ok, 1 internal error, 2 usage, 3 local resource, "
            "4 edge\nunreachable, 5 TLS, 6 refused, 7 name conflict, 8 no "
            "such tunnel.\n"
            "See ptth-%s(1).\n",
            d->name);
}

static const char *
arg_kind(enum opt_arg a)
{
    static const char *const kinds[] = {"flag", "str", "num",   "file",
                                        "dir",  "cmd", "choice"};
    return kinds[a];
}

void
cli_dump(FILE *f)
{
    size_t c, i;
    for (c = 0; c < PTTH_ARRAY_LEN(cmds); c++) {
        const struct cmd_desc *d = &cmds[c];
        for (i = 0; i < d->nopts; i++) {
            const struct opt *o = &d->opts[i];
            char env[40];
            char s[3] = {'-', o->sname, '\0'};
            const char *flags =
                (o->flags & OPTF_REPEAT)
                    ? ((o->flags & OPTF_SECRET) ? "repeat,secret" : "repeat")
                : (o->flags & OPTF_SECRET) ? "secret"
                                           : "-";
            fprintf(f, "%s\t--%s\t%s\t%s\t%s\t%s\t%s\n",
                    c == 0 ? "global" : d->name, o->lname, o->sname ? s : "-",
                    arg_kind(o->arg), o->argname ? o->argname : "-", flags,
                    (o->flags & OPTF_NOENV)
                        ? "-"
                        : cli_env_name(o->lname, env, sizeof(env)));
        }
    }
}
