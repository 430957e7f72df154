/* SPDX-License-Identifier: MIT
 * cli.h - the command line: one option table per subcommand drives parsing,
 * --help, environment twins and a hidden machine-readable dump. */
#ifndef PTTH_CLI_H
#define PTTH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ptth.h"

enum cli_cmd {
    CMD_NONE = 0,
    CMD_SERVE,
    CMD_EXPOSE,
    CMD_CONNECT,
};

/* Kinds of option argument; completions key on FILE, DIR and CMD. */
enum opt_arg {
    OPT_FLAG, /* no argument; --no-NAME clears it */
    OPT_STR,
    OPT_NUM,
    OPT_FILE,
    OPT_DIR,
    OPT_CMD,
    OPT_CHOICE, /* one of opt.choices (space separated) */
};

#define OPTF_REPEAT 0x1u /* may be given many times (values or a count) */
#define OPTF_NOENV 0x2u  /* no PTTH_* twin (--help, --version) */
#define OPTF_SECRET 0x4u /* value never printed */

enum opt_id {
    O_HELP,
    O_VERSION,
    O_VERBOSE,
    O_QUIET,
    O_LOG_FORMAT,
    O_LISTEN,
    O_DOMAIN,
    O_TOKEN,
    O_TOKEN_FILE,
    O_ALLOW_ANONYMOUS,
    O_TLS_CERT,
    O_TLS_KEY,
    O_DEFAULT,
    O_GRACE,
    O_TIMEOUT,
    O_EDGE,
    O_NAME,
    O_CACERT,
    O_INSECURE,
    O_TCP,
    O_EXEC,
    O_RETRIES,
    O_HOST_HEADER,
    O_LIST,
    O_FOLLOW_SYMLINKS,
    O_DOTFILES,
    O_INDEX,
    O_IDLE_TIMEOUT,
    O_PING_INTERVAL,
    O_CONNECT_TIMEOUT,
    O_NAME_HOLD,
    O_MAX /* count */
};

struct opt {
    const char *lname; /* "edge" for --edge */
    char sname;        /* 'e', or 0 */
    enum opt_arg arg;
    enum opt_id id;
    unsigned flags;      /* OPTF_* */
    const char *argname; /* "URL", or NULL for flags */
    const char *help;    /* one line, at most 56 columns */
    const char *choices; /* OPT_CHOICE: "text json" */
};

/* What the command line (and then the environment) said about one option. */
struct optval {
    bool set;
    const char *src;   /* "--edge", "-e" or "PTTH_EDGE", for messages */
    int count;         /* flags: times given (0 after --no-NAME) */
    const char *str;   /* last value (borrowed from argv/environ) */
    const char **list; /* OPTF_REPEAT values, owned by struct cli */
    size_t nlist;
};

enum cli_action {
    CLI_RUN = 0,
    CLI_HELP,
    CLI_VERSION,
    CLI_DUMP,
};

struct cli {
    enum cli_action action;
    enum cli_cmd cmd; /* CMD_NONE for top-level help/version */
    const char *cmd_name;
    struct optval v[O_MAX];
    const char **operands; /* positional arguments after the command */
    size_t noperands;
    char **owned; /* copies made while splitting environment lists */
    size_t nowned;
};

/* Parses argv (global options before or after the command), then fills
 * unset options from their PTTH_* twins. Returns 0, or PTTH_EINVAL after
 * printing one line naming the bad option to stderr. *c owns lists:
 * release with cli_free. Never calls back. */
int cli_parse(struct cli *c, int argc, char **argv);
void cli_free(struct cli *c);

/* Prints usage of cmd (CMD_NONE: the top level) to f. */
void cli_help(FILE *f, enum cli_cmd cmd);
/* Prints every option of every table, one a line, tab separated:
 * CMD LONG SHORT ARGKIND ARGNAME FLAGS ENV. For tests and docs checks. */
void cli_dump(FILE *f);
/* Prints "ptth: [CMD: ]MESSAGE" and a hint line to stderr (usage errors). */
void cli_error(enum cli_cmd cmd, const char *fmt, ...) PTTH_PRINTF(2, 3);
/* Name of a command ("serve"...), "ptth" for CMD_NONE. */
const char *cli_cmd_name(enum cli_cmd cmd);

/* Tables, exported for unit tests: global options and per command. */
const struct opt *cli_table(enum cli_cmd cmd, size_t *n);
/* Environment variable twin of a long option name: "token-file" ->
 * "PTTH_TOKEN_FILE" into buf. Returns buf. */
char *cli_env_name(const char *lname, char *buf, size_t len);

#endif /* PTTH_CLI_H */
