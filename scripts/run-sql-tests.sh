#!/usr/bin/env bash
# Runs every tests/sql/NAME.sql with the sqlite3 shell, the extension loaded,
# and compares stdout+stderr with tests/sql/NAME.expected. A test whose first
# lines say `-- requires: PATH` is skipped (and says so) when PATH is missing.
# Then checks that every SQL function and module the extension adds is used
# by at least one SQL test.
#   usage: scripts/run-sql-tests.sh build/nanomorph.so [name...]
set -uo pipefail
cd "$(dirname "$0")/.."
so=${1:-build/nanomorph.so}; shift || true
ext=${so%.so}
if [ -n "${NM_SANITIZE:-}" ]; then
  # The stock sqlite3 shell is not instrumented: the sanitizer runtimes must
  # be loaded first. (The extension pins itself in memory, so its libraries'
  # one-time allocations stay reachable after sqlite3_close.)
  PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=detect_leaks=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
PRELOAD=${PRELOAD:-}
run_sqlite() { timeout 600 env ${PRELOAD:+LD_PRELOAD="$PRELOAD"} sqlite3 "$@"; }
tests=("$@")
[ ${#tests[@]} -eq 0 ] && for f in tests/sql/*.sql; do tests+=("$(basename "$f" .sql)"); done
failed=0; passed=0; skipped=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for name in "${tests[@]}"; do
  sql=tests/sql/$name.sql; want=tests/sql/$name.expected
  missing=""
  while read -r req; do
    [ -e "$req" ] || missing="$req"
  done < <(sed -n 's/^-- requires: *//p' "$sql")
  if [ -n "$missing" ]; then
    echo "SKIP: $name (needs $missing, not present)"; skipped=$((skipped+1)); continue
  fi
  run_sqlite :memory: -cmd ".load $ext" < "$sql" > "$tmp/$name.out" 2>&1
  if [ -f "$want" ] && diff -u "$want" "$tmp/$name.out" > "$tmp/$name.diff"; then
    passed=$((passed+1))
  else
    echo "FAIL: $name"; [ -f "$want" ] && head -40 "$tmp/$name.diff" || echo "  (no $want)"
    failed=$((failed+1))
  fi
done
# Coverage: every function / module the extension registers appears in a test.
sqlite3 :memory: "SELECT name FROM pragma_function_list UNION SELECT name FROM pragma_module_list" | sort -u > "$tmp/base"
run_sqlite :memory: -cmd ".load $ext" "SELECT name FROM pragma_function_list UNION SELECT name FROM pragma_module_list" | sort -u > "$tmp/with"
uncovered=0; undocumented=0
for fn in $(comm -13 "$tmp/base" "$tmp/with"); do
  if ! grep -qiw -- "$fn" tests/sql/*.sql 2>/dev/null; then
    echo "UNTESTED: SQL function or module '$fn' appears in no tests/sql/*.sql"; uncovered=$((uncovered+1))
  fi
  if ! grep -qw -- "$fn" docs/reference.md 2>/dev/null; then
    echo "UNDOCUMENTED: SQL function or module '$fn' is not in docs/reference.md (scripts/build-reference.sh)"
    undocumented=$((undocumented+1))
  fi
done
echo "sql tests: $passed passed, $failed failed, $skipped skipped; $uncovered untested, $undocumented undocumented functions"
[ $failed -eq 0 ] && [ $uncovered -eq 0 ] && [ $undocumented -eq 0 ]
