#!/bin/bash
# Every libFuzzer target in fuzz/ builds and runs clean for FUZZ_SECONDS
# (default 10; CI gives it more) from its seed corpus.
# Each target runs FUZZ_SECONDS one after the other: give the watchdog room.
_n=$(ls "$top_srcdir"/fuzz/*_fuzz.c 2>/dev/null | wc -l)
TEST_TIMEOUT=$(( ${FUZZ_SECONDS:-10} * _n + 180 ))
. "$top_srcdir/tests/lib/testlib.sh"

command -v clang >/dev/null || skip_all "clang not installed"
echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' \
    >"$TMP/probe.c"
clang -fsanitize=fuzzer "$TMP/probe.c" -o "$TMP/probe" 2>/dev/null ||
    skip_all "clang cannot build libFuzzer targets (libclang-rt-dev missing)"

secs=${FUZZ_SECONDS:-10}

run_fuzz() {
    "$TMP/$1-fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 "$TMP/corpus-$1" >"$TMP/$1.log" 2>&1
}
targets=$(cd "$top_srcdir/fuzz" && ls *_fuzz.c)
set -- $targets
plan $(($# * 2))
mkdir -p "$TMP/cfg" && : >"$TMP/cfg/config.h"
for t in "$@"; do
    name=${t%_fuzz.c}
    srcs="$top_srcdir/fuzz/$t $top_srcdir/src/util.c"
    case $name in
    h1) srcs="$srcs $top_srcdir/src/h1.c" ;;
    static) srcs="$srcs $top_srcdir/src/static_util.c" ;;
    hdr) srcs="$srcs $top_srcdir/src/hdr.c" ;;
    esac
    ok "$name fuzz target builds" clang -g -O1 \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$TMP/cfg" -I"$top_srcdir/src" $srcs -o "$TMP/$name-fuzz"
    mkdir -p "$TMP/corpus-$name"
    cp "$top_srcdir/fuzz/corpus/$name/"* "$TMP/corpus-$name/" 2>/dev/null
    ok "$name fuzzes clean for ${secs}s" run_fuzz "$name" ||
        diag "$(tail -n 30 "$TMP/$name.log")"
done
