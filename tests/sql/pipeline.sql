-- requires: samples/msa-bf-tem_train_00.png
-- sql/pipeline.sql on the two msa-bf-tem tiles of samples/: the tables, their
-- row counts and value ranges, the statistics recomputed independently, and a
-- rerun that gives the same bytes. (pipeline_failure.sql: a failed or killed
-- run keeps the previous results; report.sql's files.)
.param set :images 'samples/msa-bf-tem_*.png'
.param set :seed 7
.output /dev/null
.read sql/pipeline.sql
.output stdout
.mode list
SELECT 'tables', group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table'
  AND name IN ('micrograph', 'particle', 'shape', 'grp', 'grp_stats', 'classifier', 'nm_pipeline_crop') ORDER BY name);
SELECT 'micrographs', count(*), sum(error IS NULL), sum(path LIKE 'samples/msa-bf-tem_%.png') FROM micrograph;
SELECT 'particles found >= measured >= 10', (SELECT count(*) FROM particle) >= count(*), count(*) >= 10
  FROM particle WHERE excluded IS NULL;
SELECT 'pid = rowid order, every particle has its micrograph',
  (SELECT count(*) FROM particle p LEFT JOIN micrograph m USING (mid) WHERE m.mid IS NULL OR m.path <> p.path) = 0,
  (SELECT min(pid) = 1 AND max(pid) = count(*) FROM particle);
SELECT 'one triplet per measured particle', count(*) = (SELECT count(*) FROM particle WHERE excluded IS NULL),
  sum(p IS NULL OR d IS NULL OR lratio IS NULL) FROM shape;
SELECT 'every grouped particle measured', count(*) = 0 FROM grp JOIN particle USING (pid) WHERE excluded IS NOT NULL;
SELECT 'groups 1..K', min(grp) = 1, max(grp) = (SELECT k FROM classifier), count(DISTINCT grp) = (SELECT k FROM classifier),
  count(*) = (SELECT count(*) FROM shape) FROM grp;
SELECT 'K in 2..12, method and data set named', k BETWEEN 2 AND 12,
  method IN ('kmeans', 'gmm', 'hclust/ward', 'hclust/average', 'hclust/complete', 'hclust/single'),
  dataset IN ('features', 'triplet', 'both'), silhouette BETWEEN -1 AND 1, ccc BETWEEN -1 AND 1,
  accuracy BETWEEN 0 AND 1, size_unit, seed, images FROM classifier;
SELECT 'compare has 9 rows', json_array_length(compare, '$.rows') FROM classifier;
SELECT 'svm model and predictions', substr(svm_model, 1, 5) = CAST('NMSVM' AS BLOB),
  (SELECT count(*) FROM grp WHERE predicted IS NULL OR predicted NOT IN (SELECT grp FROM grp)) FROM classifier;
SELECT 'typicality >= 0', count(*) = (SELECT count(*) FROM grp) FROM grp WHERE typicality >= 0;
-- grp_stats: per group and overall (grp NULL), every feature
SELECT 'stats rows', count(DISTINCT feature) >= 34, count(DISTINCT grp) = (SELECT k FROM classifier),
  sum(grp IS NULL) = count(DISTINCT feature) FROM grp_stats;
SELECT 'n adds up', sum(n) = (SELECT count(*) FROM grp) FROM grp_stats WHERE grp IS NOT NULL AND feature = 'size';
SELECT 'size = major axis in px (no pixel size in these tiles)', unit,
  abs(mean - (SELECT avg(major_axis) FROM particle JOIN grp USING (pid))) < 1e-9,
  abs(cv - sd / mean) < 1e-12, sd > 0 FROM grp_stats WHERE grp IS NULL AND feature = 'size';
SELECT 'SD recomputed per group within 1e-9', max(abs(s.sd - r.sd)) < 1e-9 FROM grp_stats s JOIN (
  SELECT grp, sqrt(sum((circularity - m) * (circularity - m)) / (count(*) - 1)) AS sd
  FROM particle JOIN grp USING (pid) JOIN (SELECT grp, avg(circularity) m FROM particle JOIN grp USING (pid) GROUP BY grp) USING (grp)
  GROUP BY grp HAVING count(*) > 1) r USING (grp) WHERE s.feature = 'circularity';
SELECT 'units', (SELECT unit FROM grp_stats WHERE feature = 'area' LIMIT 1), (SELECT unit FROM grp_stats WHERE feature = 'major_axis' LIMIT 1),
  (SELECT count(*) FROM grp_stats WHERE feature = 'major_axis_nm');
SELECT 'values in range', (SELECT count(*) FROM grp_stats WHERE feature IN ('circularity', 'solidity', 'extent', 'eccentricity')
  AND (mean < 0 OR mean > 1)), (SELECT count(*) FROM grp_stats WHERE feature = 'aspect_ratio' AND mean < 1);
-- rerun on the same database: same tables, same bytes
CREATE TEMP TABLE snap AS SELECT sha3_query('SELECT * FROM micrograph; SELECT * FROM particle; SELECT * FROM shape;
  SELECT * FROM grp; SELECT * FROM grp_stats; SELECT images, seed, dataset, method, k, silhouette, ccc, compare,
  cluster_model, svm_model, svm_report FROM classifier') AS h;
.output /dev/null
.read sql/pipeline.sql
.output stdout
SELECT 'rerun identical', h = sha3_query('SELECT * FROM micrograph; SELECT * FROM particle; SELECT * FROM shape;
  SELECT * FROM grp; SELECT * FROM grp_stats; SELECT images, seed, dataset, method, k, silhouette, ccc, compare,
  cluster_model, svm_model, svm_report FROM classifier') FROM snap;
SELECT 'rerun tables', count(*) FROM sqlite_master WHERE type = 'table';
