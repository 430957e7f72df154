#!/bin/bash
# SPDX-License-Identifier: MIT
# Docs sync (after curl's test1139): every option that `ptth --dump-options`
# prints is in its command's --help, in its man page (as an .It .Fl entry,
# with its PTTH_* variable), and in all three shell completions; no page or
# completion names an option that does not exist; every page passes
# `mandoc -Tlint -Wwarning` and documents exit statuses 0 to 8.
#
# DOCS_MANDIR and DOCS_COMPDIR point the checks at other copies of man/ and
# completions/ (to prove that a missing option is caught).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/lib/testlib.sh"

MANDIR=${DOCS_MANDIR:-$top_srcdir/man}
COMPDIR=${DOCS_COMPDIR:-$top_srcdir/completions}
CMDS="serve expose connect"
COMPS="ptth.bash _ptth ptth.fish"

if ! "$PTTH" --dump-options >"$TMP/dump" 2>"$TMP/dump.err" ||
    [ ! -s "$TMP/dump" ]; then
    plan 1
    _tap_result 1 "ptth --dump-options lists the options"
    diag "PTTH=$PTTH" "$(cat "$TMP/dump.err")"
    exit 1
fi

# --- material, gathered once --------------------------------------------

# Help output and its exit status: $TMP/help.global (ptth --help) and
# $TMP/help.CMD, $TMP/help.global.st and $TMP/help.CMD.st.
"$PTTH" --help >"$TMP/help.global" 2>&1
echo $? >"$TMP/help.global.st"
for c in $CMDS; do
    "$PTTH" "$c" --help >"$TMP/help.$c" 2>&1
    echo $? >"$TMP/help.$c.st"
done

# Man pages with backslashes stripped, so `Fl \-token\-file` and
# `Fl -token-file` read the same: $TMP/man.global (ptth.1) and $TMP/man.CMD.
page_of() { # global|CMD -> file name
    if [ "$1" = global ]; then echo ptth.1; else echo "ptth-$1.1"; fi
}
for p in global $CMDS; do
    sed 's/\\//g' "$MANDIR/$(page_of "$p")" >"$TMP/man.$p" 2>/dev/null ||
        : >"$TMP/man.$p"
done

# What the bash and fish completions offer for "ptth [CMD] -": one word a
# line in $TMP/bash.{global,CMD} and $TMP/fish.{global,CMD}.
bash_offers() { # FILE [CMD]
    bash --norc --noprofile -c '
        source "$1" || exit 1
        f=$(complete -p ptth 2>/dev/null | sed -n "s/.*-F \([^ ]*\).*/\1/p")
        [ -n "$f" ] || exit 1
        shift
        COMP_WORDS=(ptth "$@" -)
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        "$f" ptth - "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"' bash "$@" 2>/dev/null
}
have_fish=no
command -v fish >/dev/null 2>&1 && have_fish=yes
fish_offers() { # FILE [CMD]
    # shellcheck disable=SC2016 # fish expands $argv, not bash
    fish --no-config -c 'source $argv[1]; or exit 1
        complete -C "ptth $argv[2] -"' "$1" "${2-}" 2>/dev/null | cut -f1
}
bash_offers "$COMPDIR/ptth.bash" >"$TMP/bash.global"
[ "$have_fish" = yes ] && fish_offers "$COMPDIR/ptth.fish" >"$TMP/fish.global"
for c in $CMDS; do
    bash_offers "$COMPDIR/ptth.bash" "$c" >"$TMP/bash.$c"
    [ "$have_fish" = yes ] &&
        fish_offers "$COMPDIR/ptth.fish" "$c" >"$TMP/fish.$c"
done

have_mandoc=no
command -v mandoc >/dev/null 2>&1 && have_mandoc=yes

# --- predicates -----------------------------------------------------------

# has_word FILE WORD: WORD occurs in FILE, not as part of a longer name
# (names are made of letters, digits, '_' and '-').
has_word() {
    grep -Eq -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$1"
}

# man_entry global|CMD FLAG: FLAG (--long or -s) opens an .It line as .Fl.
man_entry() {
    _f=${2#-}
    grep -E '^\.It[[:space:]]' "$TMP/man.$1" |
        grep -Eq -- "(^|[[:space:]])Fl $_f([^A-Za-z0-9_-]|\$)"
}

# man_env global|CMD NAME: NAME opens an .It line as .Ev.
man_env() {
    grep -E '^\.It[[:space:]]' "$TMP/man.$1" |
        grep -Eq -- "(^|[[:space:]])Ev $2([^A-Za-z0-9_-]|\$)"
}

# offered bash|fish global|CMD WORD: the completion offers WORD.
offered() {
    grep -Fxq -- "$3" "$TMP/$1.$2"
}

# help_ok global|CMD: its --help exited 0.
help_ok() {
    [ "$(cat "$TMP/help.$1.st")" = 0 ]
}

# exit_codes PAGE: the EXIT STATUS section has an .It entry for 0 to 8.
exit_codes() {
    _missing=
    _sect=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$MANDIR/$1")
    for _n in 0 1 2 3 4 5 6 7 8; do
        printf '%s\n' "$_sect" | grep -Eq "^\.It $_n\$" || _missing="$_missing $_n"
    done
    [ -z "$_missing" ] || {
        diag "$1: no EXIT STATUS entry for:$_missing"
        return 1
    }
}

lint() { # PAGE
    _out=$(mandoc -Tlint -Wwarning "$MANDIR/$1" 2>&1)
    [ -z "$_out" ] || {
        diag "$_out"
        return 1
    }
}

# known CMD|global --long: the option exists for CMD (or globally).
known() {
    awk -F '\t' -v c="$1" -v o="$2" \
        '($1 == c || $1 == "global") && $2 == o { f = 1 } END { exit !f }' \
        "$TMP/dump"
}

# stale_man global|CMD: every long option in the page's .It .Fl entries
# exists for that command.
stale_man() {
    _bad=
    # shellcheck disable=SC2013 # one option name a word
    for _o in $(grep -E '^\.It[[:space:]]' "$TMP/man.$1" |
        grep -oE "(^|[[:space:]])Fl -[a-z][a-z0-9-]*" | sed 's/.*Fl /-/'); do
        known "$1" "$_o" || _bad="$_bad $_o"
    done
    [ -z "$_bad" ] || {
        diag "$(page_of "$1") documents unknown options:$_bad"
        return 1
    }
}

# stale_comp FILE: every --long word in a completion file, comment lines
# aside, is an option of some command (--no-FLAG counts as FLAG).
stale_comp() {
    _bad=
    # shellcheck disable=SC2013 # one option name a word
    for _o in $(grep -Ev '^[[:space:]]*#' "$COMPDIR/$1" |
        grep -oE -- "--[a-z][a-z0-9-]*" |
        sed 's/-*$//' | sort -u); do
        case $_o in --no) continue ;; --no-*) _o=--${_o#--no-} ;; esac
        cut -f2 "$TMP/dump" | grep -Fxq -- "$_o" || _bad="$_bad $_o"
    done
    [ -z "$_bad" ] || {
        diag "$1 names unknown options:$_bad"
        return 1
    }
}

shell_parses() { # SHELL FILE
    case $1 in
    bash) bash -n "$2" ;;
    zsh) zsh -n "$2" ;;
    fish) fish --no-config -n "$2" ;;
    esac
}

# --- the checks, run twice: once to count them, once to run them ----------

MODE=count
COUNT=0
t() { # NAME CMD...
    if [ "$MODE" = count ]; then
        COUNT=$((COUNT + 1))
    else
        ok "$@"
    fi
}
tskip() { # REASON NAME
    if [ "$MODE" = count ]; then
        COUNT=$((COUNT + 1))
    else
        skip 1 "$1 ($2)"
    fi
}

checks() {
    for p in global $CMDS; do
        if [ "$p" = global ]; then hc="ptth --help"; else hc="ptth $p --help"; fi
        t "'$hc' exits 0" help_ok "$p"
    done

    while IFS="$(printf '\t')" read -r cmd long short _ _ _ env; do
        # Where this option must appear: the --help outputs and man pages.
        if [ "$cmd" = global ]; then
            helps="global $CMDS"
            pages="global $CMDS"
            comps="global $CMDS"
        else
            helps=$cmd
            pages=$cmd
            comps=$cmd
        fi
        for h in $helps; do
            if [ "$h" = global ]; then hc="ptth --help"; else hc="ptth $h --help"; fi
            t "$cmd $long: in '$hc'" has_word "$TMP/help.$h" "$long"
            [ "$short" = - ] ||
                t "$cmd $short: in '$hc'" has_word "$TMP/help.$h" "$short"
        done
        for p in $pages; do
            t "$cmd $long: .It Fl entry in $(page_of "$p")" man_entry "$p" "$long"
            [ "$short" = - ] ||
                t "$cmd $short: .It Fl entry in $(page_of "$p")" \
                    man_entry "$p" "$short"
        done
        if [ "$env" != - ]; then
            if [ "$cmd" = global ]; then p=global; else p=$cmd; fi
            t "$cmd $env: .It Ev entry in $(page_of "$p")" man_env "$p" "$env"
        fi
        for f in $COMPS; do
            t "$cmd $long: in completions/$f" has_word "$COMPDIR/$f" "$long"
        done
        for c in $comps; do
            if [ "$c" = global ]; then wh="'ptth -'"; else wh="'ptth $c -'"; fi
            t "$cmd $long: bash completes it after $wh" offered bash "$c" "$long"
            if [ "$have_fish" = yes ]; then
                t "$cmd $long: fish completes it after $wh" \
                    offered fish "$c" "$long"
            else
                tskip "fish not installed" "$cmd $long after $wh"
            fi
        done
    done <"$TMP/dump"

    for p in global $CMDS; do
        page=$(page_of "$p")
        t "$page: no undocumented or stale option entries" stale_man "$p"
        t "$page: EXIT STATUS lists 0 to 8" exit_codes "$page"
        if [ "$have_mandoc" = yes ]; then
            t "$page: mandoc -Tlint -Wwarning is silent" lint "$page"
        else
            tskip "mandoc not installed" "$page lint"
        fi
    done

    for f in $COMPS; do
        t "completions/$f: names no unknown option" stale_comp "$f"
        case $f in
        *.bash) sh=bash ;;
        *.fish) sh=fish ;;
        *) sh=zsh ;;
        esac
        if command -v "$sh" >/dev/null 2>&1; then
            t "completions/$f: $sh -n accepts it" shell_parses "$sh" "$COMPDIR/$f"
        else
            tskip "$sh not installed" "completions/$f syntax"
        fi
        for c in $CMDS help; do
            t "completions/$f: offers the command $c" has_word "$COMPDIR/$f" "$c"
        done
    done
}

checks
plan "$COUNT"
MODE=run
checks
