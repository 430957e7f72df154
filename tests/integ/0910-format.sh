#!/bin/bash
# Every C file is formatted with the project's .clang-format.
. "$top_srcdir/tests/lib/testlib.sh"

command -v clang-format >/dev/null || skip_all "clang-format not installed"
cd "$top_srcdir" || exit 1
files=$(ls src/*.c src/*.h tests/unit/*.c tests/lib/*.h \
    tests/helpers/*.c fuzz/*.c 2>/dev/null)
set -- $files
plan $#
for f in "$@"; do
    ok "$f formatted" clang-format --dry-run -Werror "$f"
done
