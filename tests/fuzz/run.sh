#!/usr/bin/env bash
# run.sh FUZZ_DIR READER SECONDS [CORPUS_ROOT]
# Runs one libFuzzer target for SECONDS. The seed corpus is copied at run time
# from the format corpus beside the repository (../shared/formats) and from
# samples/ into FUZZ_DIR/corpus/READER — never into the repository. Crashes go
# to FUZZ_DIR/artifacts/READER/, the log to FUZZ_DIR/logs/READER.log; the last
# lines of the log are printed. Exit status: the fuzzer's (nonzero on a crash).
set -uo pipefail
fuzz_dir=$1 reader=$2 seconds=$3 root=${4:-../shared/formats}
bin=$fuzz_dir/fuzz_$reader
corpus=$fuzz_dir/corpus/$reader
artifacts=$fuzz_dir/artifacts/$reader
mkdir -p "$corpus" "$artifacts" "$fuzz_dir/logs"
case $reader in
  png)  globs="samples/*.png" ;;
  tiff) globs="$root/tiff/*.tif $root/derived/*.tif" ;;
  dm)   globs="$root/dm/*.dm3 $root/dm/*.dm4 $root/dm/dtypes/*" ;;
  ser)  globs="$root/tia/*.ser" ;;
  emd)  globs="$root/emd/*.emd" ;;
  mrc)  globs="$root/mrc/*.mrc" ;;
  *) echo "unknown reader $reader" >&2; exit 2 ;;
esac
seeds=0
for f in $globs; do
  [ -f "$f" ] || continue
  cp -f "$f" "$corpus/seed-$(basename "$f" | tr ' ' _)" && seeds=$((seeds+1))
done
[ $seeds -gt 0 ] || echo "fuzz_$reader: no seed files found under $root (fuzzing from an empty corpus)"
log=$fuzz_dir/logs/$reader.log
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
  echo "fuzz_$reader: clean for ${seconds}s ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs, $seeds seeds)"
else
  echo "fuzz_$reader: FAILED (exit $rc) — see $log and $artifacts/"
  grep -m5 -E 'ERROR|SUMMARY|runtime error' "$log"
fi
exit $rc
