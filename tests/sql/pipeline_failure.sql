-- requires: samples/msa-bf-tem_train_00.png
-- A failed run and a killed run of sql/pipeline.sql leave the previous
-- results exactly as they were; sql/report.sql then writes every figure and
-- report.md. Runs child sqlite3 processes on a file database in a fresh temp
-- directory (removed afterwards); the extension they load is the one this
-- shell was started with (read from the sqlite3 process's /proc/PID/cmdline).
.mode list
SELECT length(writefile('.nm_pipeline_failure_test.sh', '
set -u
p=$PPID; ext=
for i in 1 2 3 4; do
  # the shell splits "-cmd .load X" in place, so the path may be its own element
  ext=$(tr ''\0'' ''\n'' < /proc/$p/cmdline | sed -n -e ''/^\.load$/{n;p;q}'' -e ''s/^\.load //p'' | head -n 1)
  [ -n "$ext" ] && break
  p=$(awk ''{print $4}'' /proc/$p/stat)
done
# Under the sanitizer pass the runner preloads the ASan runtime and the
# extension''s libraries; bash itself deadlocks with those preloaded, so this
# script runs without them (see the .shell line) and gives them back to sqlite3.
sq() { LD_PRELOAD="${NM_PRELOAD:-}" sqlite3 "$@"; }
d=$(mktemp -d); trap ''rm -rf "$d"'' EXIT
db=$d/p.db
snap() { sq "$db" "SELECT sha3_query(''SELECT * FROM micrograph; SELECT * FROM particle; SELECT * FROM shape; SELECT * FROM grp; SELECT * FROM grp_stats; SELECT * FROM classifier'')"; }
run() { sq "$db" -cmd ".load $ext" -cmd ".param set :images ''samples/msa-bf-tem_*.png''" "$@" -cmd ''.read sql/pipeline.sql'' .quit; }
run > /dev/null 2>&1 && echo "first run: ok, grouped particles: $(sq "$db" "SELECT CASE WHEN count(*) > 0 THEN ''yes'' ELSE ''no'' END FROM grp")"
before=$(snap)
# a run that fails late (the classifier refuses the seed): rolled back
run -cmd ''.param set :seed -1'' > "$d/err" 2>&1; rc=$?
echo "failed run: exit status nonzero: $([ $rc -ne 0 ] && echo yes || echo no); error names the option: $(grep -c "seed" "$d/err" | sed "s/^[1-9][0-9]*$/yes/;s/^0$/no/")"
[ "$(snap)" = "$before" ] && echo "failed run: previous results kept" || echo "failed run: RESULTS CHANGED"
# a folder with no micrographs: a plain message, nothing changed
sq "$db" -cmd ".load $ext" -cmd ".param set :images ''no/such/folder/*.png''" -cmd ''.read sql/pipeline.sql'' .quit > "$d/err" 2>&1
echo "no images: $(grep -o "no readable micrograph matches :images" "$d/err")"
[ "$(snap)" = "$before" ] && echo "no images: previous results kept" || echo "no images: RESULTS CHANGED"
# a run killed inside its write transaction (its journal exists): rolled back on the next open
# (exec: $! is then the sqlite3 process itself, not a subshell around it)
( exec env LD_PRELOAD="${NM_PRELOAD:-}" sqlite3 "$db" -cmd ".load $ext" -cmd ".param set :images ''samples/msa-bf-tem_*.png''" -cmd ''.param set :seed 99'' -cmd ''.param set :k_max 3'' -cmd ''.read sql/pipeline.sql'' .quit > /dev/null 2>&1 ) & pid=$!
for i in $(seq 1 6000); do [ -s "$db-journal" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
if [ -s "$db-journal" ]; then kill -9 $pid; wait $pid 2>/dev/null; echo "killed run: killed inside its transaction"; else wait $pid; echo "killed run: finished before it could be killed"; fi
[ "$(snap)" = "$before" ] && echo "killed run: previous results kept" || echo "killed run: RESULTS CHANGED"
echo "integrity: $(sq "$db" "PRAGMA integrity_check")"
# the report from the kept results
sq "$db" -cmd ".load $ext" -cmd ".param set :out ''$d/out''" ''.read sql/report.sql'' > /dev/null 2>&1 && echo "report: ok"
echo "report: $(ls "$d/out" | grep -c "\.png$") figures, hist $(ls "$d/out" | grep -c "^hist_.*\.png$"), overlays $(ls "$d/out" | grep -c "^overlay_.*\.png$") of $(sq "$db" "SELECT count(DISTINCT mid) FROM grp JOIN particle USING (pid)"), report.md $(grep -c "^## " "$d/out/report.md") sections"
for f in "$d"/out/*.png; do head -c 8 "$f" | od -An -tx1 | tr -d " \n"; echo; done | sort | uniq -c | sed "s/^ */png signatures: /"
for f in scatter3d parallel pareto dendrogram confusion montage montage_all; do [ -s "$d/out/$f.png" ] || echo "missing: $f.png"; done
grep -o "([a-z_0-9]*\.png)" "$d/out/report.md" | tr -d "()" | while read -r f; do [ -s "$d/out/$f" ] || echo "report links a missing file: $f"; done
'));
.shell NM_PRELOAD="$LD_PRELOAD" LD_PRELOAD= bash .nm_pipeline_failure_test.sh; rm -f .nm_pipeline_failure_test.sh
