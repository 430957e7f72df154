# SPDX-License-Identifier: MIT
# fish completion for ptth(1). Keep the option lists in step with the
# tables in src/cli.c: tests/integ/0900-docs-sync.sh checks them.

# Prints the ptth command on the command line (serve, expose, connect or
# help), skipping global options and their values; fails if there is none.
function __ptth_cmd
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case '--*=*'
                continue
            case --log-format
                set skip 1
            case '-*'
                continue
            case '*'
                echo $t
                return 0
        end
    end
    return 1
end

function __ptth_using
    set -l c (__ptth_cmd)
    or return 1
    test "$c" = $argv[1]
end

function __ptth_no_cmd
    not __ptth_cmd >/dev/null
end

# Number of operands after the command, skipping options and their values.
function __ptth_nargs
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l seen 0
    set -l skip 0
    set -l n 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case '--*=*'
            case --log-format --default --domain --grace -l --listen --timeout --tls-cert --tls-key --token --token-file --cacert -e --edge --exec --host-header --index -n --name --retries -L --idle-timeout --ping-interval --connect-timeout --name-hold
                set skip 1
            case '-*'
            case '*'
                if test $seen -eq 0
                    set seen 1
                else
                    set n (math $n + 1)
                end
        end
    end
    echo $n
end

# __ptth_opt COMMAND LONG SHORT KIND DESCRIPTION [CHOICES]
# COMMAND is global, serve, expose or connect; SHORT is - for none; KIND is
# flag, str, num, file, cmd or choice (as in ptth --dump-options).
function __ptth_opt
    set -l args -c ptth -l (string replace -r -- '^--' '' $argv[2]) -d $argv[5]
    if test $argv[3] != -
        set -a args -s (string replace -r -- '^-' '' $argv[3])
    end
    if test $argv[1] != global
        set -a args -n "__ptth_using $argv[1]"
    end
    switch $argv[4]
        case flag
        case file
            set -a args -r -F
        case cmd
            set -a args -x -a '(__fish_complete_command)'
        case choice
            set -a args -x -a $argv[6]
        case '*'
            set -a args -x
    end
    complete $args
end

complete -c ptth -f

# Commands, and "ptth help COMMAND".
complete -c ptth -n __ptth_no_cmd -a serve -d 'Run an edge: accept workers and clients'
complete -c ptth -n __ptth_no_cmd -a expose -d 'Serve a port, URL, socket, directory or TCP service'
complete -c ptth -n __ptth_no_cmd -a connect -d 'Reach a TCP service exposed with expose --tcp'
complete -c ptth -n __ptth_no_cmd -a help -d 'Show the usage of a command'
complete -c ptth -n '__ptth_using help; and test (__ptth_nargs) -eq 0' -a 'serve expose connect'

# Global options: before or after the command.
__ptth_opt global --help -h flag 'Show usage and exit'
__ptth_opt global --log-format - choice 'Diagnostics on stderr as text or json lines' 'text json'
__ptth_opt global --quiet -q flag 'Print errors only'
__ptth_opt global --verbose -v flag 'More output; repeat for debug and frame traces'
__ptth_opt global --version -V flag 'Show versions of ptth and its libraries'

# ptth serve
__ptth_opt serve --allow-anonymous - flag 'Accept workers without a token on public listeners'
__ptth_opt serve --default - str 'Send requests for unknown hosts to tunnel NAME'
__ptth_opt serve --domain - str 'Tunnel NAME serves Host NAME.DOMAIN'
__ptth_opt serve --grace - num 'On SIGINT/SIGTERM let requests finish (seconds)'
__ptth_opt serve --idle-timeout - num 'Close a client connection idle this long (seconds)'
__ptth_opt serve --listen -l str 'Listen on PORT, HOST:PORT or [V6]:PORT'
__ptth_opt serve --name-hold - num "Keep a token's name this long after its last worker (seconds)"
__ptth_opt serve --ping-interval - num 'PING workers this often; drop silent ones (seconds)'
__ptth_opt serve --timeout - num "Wait this long for a worker's response head"
__ptth_opt serve --tls-cert - file 'Serve TLS with this certificate chain (PEM)'
__ptth_opt serve --tls-key - file 'Private key for --tls-cert (PEM)'
__ptth_opt serve --token - str 'Workers must present TOKEN'
__ptth_opt serve --token-file - file 'Read accepted tokens from FILE, one a line'

# ptth expose
__ptth_opt expose --cacert - file 'Trust the CAs in FILE'
__ptth_opt expose --connect-timeout - num 'Limit for dialling the edge, then TLS + handshake (seconds)'
__ptth_opt expose --dotfiles - flag 'Directory: also serve names starting with a dot'
__ptth_opt expose --edge -e str 'Edge to dial'
__ptth_opt expose --exec - cmd 'Run CMD with PTTH_URL set once up; exit with its status'
__ptth_opt expose --follow-symlinks - flag 'Directory: follow symlinks that leave it'
__ptth_opt expose --grace - num 'On SIGINT/SIGTERM let requests finish (seconds)'
__ptth_opt expose --host-header - choice "Host sent upstream: VALUE, or rewrite to TARGET's" rewrite
__ptth_opt expose --index - file 'Directory: file served for a directory'
__ptth_opt expose --insecure -k flag "Do not verify the edge's TLS certificate"
__ptth_opt expose --list - flag 'Directory: list directories that have no index'
__ptth_opt expose --name -n str 'Tunnel name, a DNS label'
__ptth_opt expose --ping-interval - num 'PING the edge this often; redial if it goes silent (seconds)'
__ptth_opt expose --retries - num 'Give up after N failed reconnects'
__ptth_opt expose --tcp - flag 'Expose TARGET as a TCP service for ptth connect'
__ptth_opt expose --timeout - num "Wait this long for the upstream's response head"
__ptth_opt expose --token - str 'Present TOKEN to the edge'
__ptth_opt expose --token-file - file 'Read the token from FILE'
# TARGET: a directory, or PORT, HOST:PORT, an http(s) URL or unix:PATH.
complete -c ptth -n '__ptth_using expose; and test (__ptth_nargs) -eq 0' -a '(__fish_complete_directories (commandline -ct))'
complete -c ptth -n '__ptth_using expose; and test (__ptth_nargs) -eq 0' -a 'http:// https:// unix:'

# ptth connect
__ptth_opt connect --cacert - file 'Trust the CAs in FILE'
__ptth_opt connect --connect-timeout - num 'Limit for dialling the edge, then TLS + HTTP/2 (seconds)'
__ptth_opt connect --edge -e str 'Edge to dial'
__ptth_opt connect --insecure -k flag "Do not verify the edge's TLS certificate"
__ptth_opt connect --listen -L str 'Accept local connections on [HOST:]PORT'
__ptth_opt connect --token - str 'Present TOKEN to the edge'
__ptth_opt connect --token-file - file 'Read the token from FILE'

functions -e __ptth_opt
