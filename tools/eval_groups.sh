#!/bin/sh
# tools/eval_groups.sh NANOMORPH_SO — make eval-groups: runs tools/eval_groups.sql
# (k-means groups vs the Cube / Octahedron / Sphere classes of data/nanoshapes)
# in the sqlite3 shell with the extension loaded. Run from the repository root;
# skips (exit 0) when ../shared/data/nanoshapes is not there.
set -eu
so=${1:?usage: tools/eval_groups.sh path/to/nanomorph.so}
data=../shared/data/nanoshapes
for f in "$data/classes.tsv" "$data/pairs.tsv"; do
  if [ ! -f "$f" ]; then
    echo "eval-groups: skipped ($f not found)"
    exit 0
  fi
done
case "$so" in /*) ;; *) so="./$so" ;; esac
start=$(date +%s)
sqlite3 -bail -cmd ".load $so" :memory: < tools/eval_groups.sql
echo "eval-groups: $(( $(date +%s) - start )) s"
