#!/usr/bin/env bash
# Runs every unit test binary in $1/tests from the repository root.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
failed=0; n=0
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  n=$((n+1))
  if ! "$t"; then echo "FAIL: $t"; failed=$((failed+1)); fi
done
echo "unit tests: $((n-failed))/$n passed"
[ $failed -eq 0 ]
