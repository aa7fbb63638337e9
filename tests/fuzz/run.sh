#!/usr/bin/env bash
# run.sh FUZZ_DIR TARGET SECONDS [CORPUS_ROOT]
# Runs one libFuzzer target for SECONDS. The seed corpus lives in
# FUZZ_DIR/corpus/TARGET, never in the repository, and is made at run time:
#   - copied from the format corpus beside the repository (CORPUS_ROOT,
#     ../shared/formats) when it is there, and from samples/;
#   - written by the target itself (NM_FUZZ_SEED_DIR, see fuzz_util.h):
#     valid model BLOBs, option lists, label images, small image files.
# A dictionary tests/fuzz/TARGET.dict is passed when it exists. Crashes go to
# FUZZ_DIR/artifacts/TARGET/, the log to FUZZ_DIR/logs/TARGET.log; one summary
# line is printed (and the first error lines on failure).
# Exit status: the fuzzer's (nonzero on a crash).
set -uo pipefail
fuzz_dir=$1 target=$2 seconds=$3 root=${4:-../shared/formats}
bin=$fuzz_dir/fuzz_$target
corpus=$fuzz_dir/corpus/$target
artifacts=$fuzz_dir/artifacts/$target
mkdir -p "$corpus" "$artifacts" "$fuzz_dir/logs"
case $target in
  png)  globs="samples/*.png" ;;
  tiff) globs="$root/tiff/*.tif $root/derived/*.tif" ;;
  dm)   globs="$root/dm/*.dm3 $root/dm/*.dm4 $root/dm/dtypes/*" ;;
  ser)  globs="$root/tia/*.ser" ;;
  emd)  globs="$root/emd/*.emd" ;;
  mrc)  globs="$root/mrc/*.mrc" ;;
  cnn_model) globs="samples/*.nmm" ;;
  svm_model|cluster_model|options|labels|segment) globs="" ;;
  *) echo "unknown fuzz target $target" >&2; exit 2 ;;
esac
copied=0
for f in $globs; do
  [ -f "$f" ] || continue
  cp -f "$f" "$corpus/seed-$(basename "$f" | tr ' ' _)" && copied=$((copied+1))
done
log=$fuzz_dir/logs/$target.log
dict=()
[ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
export NM_FUZZ_SEED_DIR=$corpus
# libhdf5 sizes some metadata buffers from header fields of the file (4 GB,
# 60 TB for a 7 KB file) and copes when malloc fails: for EMD, let such a
# request fail as it would outside ASan, and let the RSS limit (memory really
# used) judge instead of the per-malloc limit (docs/reliability.md, Limits).
asan=detect_leaks=1
extra=()
if [ "$target" = emd ]; then
  # libhdf5 1.10 itself leaks on some corrupt files (blocks it allocates, no
  # nanomorph frame); EMD leaks are checked by the unit tests under LSan.
  asan=detect_leaks=0:allocator_may_return_null=1
  extra=(-malloc_limit_mb=1048576)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-$asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$(date +%s)
# a fixed libFuzzer seed (FUZZ_SEED, default 1): a finding in CI can be replayed
"$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
  -print_final_stats=1 "${dict[@]}" "${extra[@]}" -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
rc=$?
wall=$(( $(date +%s) - start ))
files=$(find "$corpus" -type f | wc -l)
gen=$(find "$corpus" -type f -name 'gen-*' | wc -l)
seedinfo="$copied copied + $gen generated seeds, corpus now $files files"
[ $((copied + gen)) -gt 0 ] || seedinfo="no seeds (nothing under $root; fuzzing from an empty corpus), corpus now $files files"
if [ $rc -eq 0 ]; then
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$')
  echo "fuzz_$target: clean for ${seconds}s (${wall}s wall; ${runs:-?} runs, cov ${cov:-?}, peak ${rss:-?} MB; $seedinfo)"
else
  echo "fuzz_$target: FAILED (exit $rc after ${wall}s) — see $log and $artifacts/"
  grep -m8 -E 'ERROR|SUMMARY|runtime error|property failed|#[0-9] 0x' "$log"
fi
exit $rc
