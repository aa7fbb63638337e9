#!/usr/bin/env bash
# sources.sh ROOT.c... — the engine sources a fuzz target must link: the
# closure of ROOT over #include "x.h" lines, where ext/x.h stands for every
# ext/x*.c that includes it (scalebar.h -> scalebar.c, scalebar_detect.c)
# and formats/reader.h for the readers. Computed from the tree at make time,
# so a module that grows a new dependency does not break the fuzz build.
set -eu
declare -A seen=()
todo=("$@")
while [ ${#todo[@]} -gt 0 ]; do
  f=${todo[0]}; todo=("${todo[@]:1}")
  [ -f "$f" ] || continue
  [ -n "${seen[$f]:-}" ] && continue
  seen[$f]=1
  dir=$(dirname "$f")
  for inc in $(sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f"); do
    h=$(realpath -m --relative-to=. "$dir/$inc.h")
    todo+=("$h")
    case $h in
      ext/formats/reader.h) for c in ext/formats/*.c; do todo+=("$c"); done ;;
      ext/*.h)
        base=${h%.h}
        for c in "$base".c "$base"_*.c; do
          [ -f "$c" ] && grep -q "#include \"$(basename "$h")\"" "$c" && todo+=("$c")
        done ;;
    esac
  done
done
printf '%s\n' "${!seen[@]}" | grep '^ext/.*\.c$' | sort
