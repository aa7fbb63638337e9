#!/usr/bin/env bash
# make demo: the whole analysis on samples/ — sql/pipeline.sql into demo.db,
# then sql/report.sql writes every figure and report.md into out/. Nothing is
# downloaded; the extension must be built already (make demo builds it first).
#   usage: scripts/demo.sh [extension.so]   (default: $BUILD/nanomorph.so, BUILD=build)
set -euo pipefail
cd "$(dirname "$0")/.."
so=${1:-${BUILD:-build}/nanomorph.so}
[ -f "$so" ] || { echo "demo: $so is missing; run 'make' first" >&2; exit 1; }
db=${DEMO_DB:-demo.db}
out=${DEMO_OUT:-out}
start=$(date +%s)
echo "demo: analysing samples/ into $db (pipeline: segmentation, features, CNN triplets, clustering, SVM)"
sqlite3 "$db" -cmd ".load ${so%.so}" -cmd ".param set :images 'samples'" '.read sql/pipeline.sql'
sqlite3 "$db" -cmd ".load ${so%.so}" -cmd ".param set :out '$out'" '.read sql/report.sql'
echo "demo: done in $(( $(date +%s) - start )) s"
echo "  database: $db   (tables micrograph, particle, shape, grp, grp_stats, classifier)"
echo "  report:   $out/report.md"
echo "  figures:  $out/*.png"
