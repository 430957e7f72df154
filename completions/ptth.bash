# SPDX-License-Identifier: MIT
# bash completion for ptth(1); installed as "ptth" in
# bash-completion/completions. Keep the option lists in step with the
# tables in src/cli.c: tests/integ/0900-docs-sync.sh checks them.
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)) is the idiom here

_ptth_files()
{
    # $1: -d for directories only
    if declare -F _filedir >/dev/null 2>&1; then
        _filedir ${1:+"$1"}
    else
        compopt -o filenames 2>/dev/null
        if [[ $1 == -d ]]; then
            COMPREPLY+=($(compgen -d -- "$cur"))
        else
            COMPREPLY+=($(compgen -f -- "$cur"))
        fi
    fi
}

_ptth()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=''
    local cmd='' ncmdargs=0 opt='' i w

    local global_opts='-h --help -V --version -v --verbose -q --quiet
        --log-format'
    local serve_opts='--allow-anonymous --default --domain --grace
        --idle-timeout -l --listen --name-hold --ping-interval --timeout
        --tls-cert --tls-key --token --token-file'
    local expose_opts='--cacert --connect-timeout --dotfiles -e --edge --exec
        --follow-symlinks --grace --host-header --index -k --insecure
        --list -n --name --ping-interval --retries --tcp --timeout --token
        --token-file'
    local connect_opts='--cacert --connect-timeout -e --edge -k --insecure
        -L --listen --token --token-file'
    # Options that take a value (the next word, or after '=').
    local value_opts=' --log-format --default --domain --grace -l --listen
        --timeout --tls-cert --tls-key --token --token-file --cacert -e
        --edge --exec --host-header --index -n --name --retries -L
        --idle-timeout --ping-interval --connect-timeout --name-hold '
    value_opts=${value_opts//$'\n'/ }
    # Flags, for --no-FLAG.
    local global_flags='--verbose --quiet'
    local serve_flags='--allow-anonymous'
    local expose_flags='--dotfiles --follow-symlinks --insecure --list --tcp'
    local connect_flags='--insecure'

    COMPREPLY=()
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

    # Find the command and count its operands, skipping options and their
    # values ("--opt=value" may arrive as three words: --opt = value).
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -* ]]; then
            if [[ ${COMP_WORDS[i + 1]-} == = ]]; then
                ((i += 2))
            elif [[ $w != *=* && $value_opts == *" $w "* ]]; then
                ((i++))
            fi
        elif [[ -z $cmd ]]; then
            cmd=$w
        else
            ((ncmdargs++))
        fi
    done

    # The option whose value is being completed, if any.
    if [[ $cur == = && $prev == -* ]]; then
        opt=$prev
        cur=
    elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        opt=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == --*=* ]]; then
        opt=${cur%%=*}
        cur=${cur#*=}
    elif [[ $prev == -* && $value_opts == *" $prev "* ]]; then
        opt=$prev
    fi

    if [[ -n $opt ]]; then
        case $opt in
        --log-format)
            COMPREPLY=($(compgen -W 'text json' -- "$cur"))
            ;;
        --tls-cert | --tls-key | --token-file | --cacert | --index)
            _ptth_files
            ;;
        --exec)
            COMPREPLY=($(compgen -c -- "$cur"))
            ;;
        --host-header)
            COMPREPLY=($(compgen -W 'rewrite' -- "$cur"))
            ;;
        -e | --edge)
            compopt -o nospace 2>/dev/null
            COMPREPLY=($(compgen -W 'http:// https://' -- "$cur"))
            ;;
        esac
        return 0
    fi

    if [[ $cur == --no-* ]]; then
        local flags=$global_flags
        case $cmd in
        serve) flags="$flags $serve_flags" ;;
        expose) flags="$flags $expose_flags" ;;
        connect) flags="$flags $connect_flags" ;;
        esac
        COMPREPLY=($(compgen -W "${flags//--/--no-}" -- "$cur"))
        return 0
    fi

    if [[ $cur == -* ]]; then
        local opts=$global_opts
        case $cmd in
        serve) opts="$serve_opts $opts" ;;
        expose) opts="$expose_opts $opts" ;;
        connect) opts="$connect_opts $opts" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi

    case $cmd in
    '')
        COMPREPLY=($(compgen -W 'serve expose connect help' -- "$cur"))
        ;;
    help)
        ((ncmdargs == 0)) &&
            COMPREPLY=($(compgen -W 'serve expose connect' -- "$cur"))
        ;;
    expose)
        # TARGET: a directory, or PORT, HOST:PORT, a URL or unix:PATH.
        if ((ncmdargs == 0)); then
            if [[ -n $cur ]]; then
                COMPREPLY=($(compgen -W 'http:// https:// unix:' -- "$cur"))
                ((${#COMPREPLY[@]})) && compopt -o nospace 2>/dev/null
            fi
            _ptth_files -d
        fi
        ;;
    esac
    return 0
}

complete -F _ptth ptth
