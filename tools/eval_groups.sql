-- tools/eval_groups.sql — make eval-groups: do shape groups recover the named
-- shapes? (SPEC.md §9, data/nanoshapes: Cube / Octahedron / Sphere per image.)
--
--   sqlite3 -bail -cmd '.load build/nanomorph.so' :memory: < tools/eval_groups.sql
--
-- Run from the repository root (tools/eval_groups.sh checks that the data set
-- is there first). Every number comes from the extension:
--   particles(image, {"labels": mask})  the ground-truth particles' features,
--                                       mask and crop (no segmentation);
--   cnn_params('gt')                    the built-in CNN's (p, d, lratio);
--   shape_fit(mask)                     the best eq. 1 triplet by re-simulation;
--   kmeans_fit / kmeans_label           k-means (k-means++, 10 restarts, seed 1,
--                                       features z-scored inside the model),
--                                       K by mean silhouette over 2..12 or K = 3;
--   adjusted_rand(class, group)         against the image's shape class.
-- Output: markdown tables (docs/accuracy-groups.md quotes them).

.bail on
.mode tabs
CREATE TEMP TABLE pairs(image TEXT, truth TEXT, kind TEXT);
.import ../shared/data/nanoshapes/pairs.tsv pairs
CREATE TEMP TABLE cls(image TEXT, class TEXT, annotated INTEGER);
.import --skip 1 ../shared/data/nanoshapes/classes.tsv cls

-- One row per annotated particle (all of them: `edge` marks the 137 that touch
-- the image border; a second table leaves those out).
CREATE TEMP TABLE gt AS
  SELECT c.image, c.class, p.label, p.excluded, p.solidity, p.circularity, p.extent,
         p.eccentricity, p.aspect_ratio, p.area, p.mask, p.crop
    FROM cls c JOIN pairs USING (image),
         particles('../shared/data/nanoshapes/' || c.image,
                   json_object('labels', '../shared/data/nanoshapes/' || pairs.truth)) p;

CREATE TEMP TABLE cnn AS SELECT rowid AS rid, p, d, lratio FROM cnn_params('gt');
CREATE TEMP TABLE fit AS
  SELECT rid, json_extract(j, '$.p') AS p, json_extract(j, '$.d') AS d,
         json_extract(j, '$.lratio') AS lratio, json_extract(j, '$.jaccard') AS jaccard
    FROM (SELECT rowid AS rid, shape_fit(mask) AS j FROM gt);

CREATE TEMP TABLE x AS
  SELECT g.rowid AS rid, g.class, g.excluded IS NULL AS inner_particle,
         g.solidity, g.circularity, g.extent, g.eccentricity, g.aspect_ratio,
         c.p AS cp, c.d AS cd, c.lratio AS cl, f.p AS fp, f.d AS fd, f.lratio AS fl
    FROM gt g JOIN cnn c ON c.rid = g.rowid JOIN fit f ON f.rid = g.rowid;

-- One fit per (subset, data set, K rule); the labels of every particle.
CREATE TEMP TABLE cases(id TEXT PRIMARY KEY, subset TEXT, dataset TEXT, krule TEXT, model TEXT);
CREATE TEMP TABLE assign(id TEXT, rid INTEGER, class TEXT, grp INTEGER);

-- The same eight fits on two subsets: s = 'all' (every annotated particle)
-- and s = 'inner' (edge particles left out).
CREATE TEMP VIEW subset_all AS SELECT * FROM x;
CREATE TEMP VIEW subset_inner AS SELECT * FROM x WHERE inner_particle;

-- (a) the five shape features
INSERT INTO cases SELECT 'all-a-auto', 'all', '(a) 5 shape features', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio) FROM subset_all;
INSERT INTO cases SELECT 'all-a-3', 'all', '(a) 5 shape features', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio) FROM subset_all;
INSERT INTO cases SELECT 'inner-a-auto', 'inner', '(a) 5 shape features', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio) FROM subset_inner;
INSERT INTO cases SELECT 'inner-a-3', 'inner', '(a) 5 shape features', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class, kmeans_label(c.model, solidity, circularity, extent, eccentricity, aspect_ratio)
  FROM cases c, x s WHERE c.id GLOB '*-a-*' AND (c.subset = 'all' OR s.inner_particle);

-- (b) the CNN triplet
INSERT INTO cases SELECT 'all-b-auto', 'all', '(b) CNN triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', cp, cd, cl) FROM subset_all;
INSERT INTO cases SELECT 'all-b-3', 'all', '(b) CNN triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', cp, cd, cl) FROM subset_all;
INSERT INTO cases SELECT 'inner-b-auto', 'inner', '(b) CNN triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', cp, cd, cl) FROM subset_inner;
INSERT INTO cases SELECT 'inner-b-3', 'inner', '(b) CNN triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', cp, cd, cl) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class, kmeans_label(c.model, cp, cd, cl)
  FROM cases c, x s WHERE c.id GLOB '*-b-*' AND (c.subset = 'all' OR s.inner_particle);

-- (c) the shape_fit triplet
INSERT INTO cases SELECT 'all-c-auto', 'all', '(c) shape_fit triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', fp, fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'all-c-3', 'all', '(c) shape_fit triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', fp, fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'inner-c-auto', 'inner', '(c) shape_fit triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', fp, fd, fl) FROM subset_inner;
INSERT INTO cases SELECT 'inner-c-3', 'inner', '(c) shape_fit triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', fp, fd, fl) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class, kmeans_label(c.model, fp, fd, fl)
  FROM cases c, x s WHERE c.id GLOB '*-c-*' AND (c.subset = 'all' OR s.inner_particle);

-- (d) the five features + the CNN triplet (the paper's data set 3)
INSERT INTO cases SELECT 'all-d-auto', 'all', '(d) features + CNN triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, cp, cd, cl) FROM subset_all;
INSERT INTO cases SELECT 'all-d-3', 'all', '(d) features + CNN triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, cp, cd, cl) FROM subset_all;
INSERT INTO cases SELECT 'inner-d-auto', 'inner', '(d) features + CNN triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, cp, cd, cl) FROM subset_inner;
INSERT INTO cases SELECT 'inner-d-3', 'inner', '(d) features + CNN triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, cp, cd, cl) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class,
  kmeans_label(c.model, solidity, circularity, extent, eccentricity, aspect_ratio, cp, cd, cl)
  FROM cases c, x s WHERE c.id GLOB '*-d-*' AND (c.subset = 'all' OR s.inner_particle);

-- (e) the five features + the shape_fit triplet
INSERT INTO cases SELECT 'all-e-auto', 'all', '(e) features + shape_fit triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, fp, fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'all-e-3', 'all', '(e) features + shape_fit triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, fp, fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'inner-e-auto', 'inner', '(e) features + shape_fit triplet', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, fp, fd, fl) FROM subset_inner;
INSERT INTO cases SELECT 'inner-e-3', 'inner', '(e) features + shape_fit triplet', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, fp, fd, fl) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class,
  kmeans_label(c.model, solidity, circularity, extent, eccentricity, aspect_ratio, fp, fd, fl)
  FROM cases c, x s WHERE c.id GLOB '*-e-*' AND (c.subset = 'all' OR s.inner_particle);

-- (c') and (e'): the same with ln p — p is an exponent that spans 0.3..40
-- (log-uniform in the simulator), so its raw z-score is dominated by a few
-- large values.
INSERT INTO cases SELECT 'all-f-auto', 'all', '(c′) shape_fit triplet, ln p', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', ln(fp), fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'all-f-3', 'all', '(c′) shape_fit triplet, ln p', '3',
  kmeans_fit('{"k":3,"seed":1}', ln(fp), fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'inner-f-auto', 'inner', '(c′) shape_fit triplet, ln p', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', ln(fp), fd, fl) FROM subset_inner;
INSERT INTO cases SELECT 'inner-f-3', 'inner', '(c′) shape_fit triplet, ln p', '3',
  kmeans_fit('{"k":3,"seed":1}', ln(fp), fd, fl) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class, kmeans_label(c.model, ln(fp), fd, fl)
  FROM cases c, x s WHERE c.id GLOB '*-f-*' AND (c.subset = 'all' OR s.inner_particle);
INSERT INTO cases SELECT 'all-g-auto', 'all', '(e′) features + shape_fit triplet, ln p', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, ln(fp), fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'all-g-3', 'all', '(e′) features + shape_fit triplet, ln p', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, ln(fp), fd, fl) FROM subset_all;
INSERT INTO cases SELECT 'inner-g-auto', 'inner', '(e′) features + shape_fit triplet, ln p', 'silhouette',
  kmeans_fit('{"k":"auto","k_min":2,"k_max":12,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, ln(fp), fd, fl) FROM subset_inner;
INSERT INTO cases SELECT 'inner-g-3', 'inner', '(e′) features + shape_fit triplet, ln p', '3',
  kmeans_fit('{"k":3,"seed":1}', solidity, circularity, extent, eccentricity, aspect_ratio, ln(fp), fd, fl) FROM subset_inner;
INSERT INTO assign SELECT c.id, s.rid, s.class,
  kmeans_label(c.model, solidity, circularity, extent, eccentricity, aspect_ratio, ln(fp), fd, fl)
  FROM cases c, x s WHERE c.id GLOB '*-g-*' AND (c.subset = 'all' OR s.inner_particle);

.mode markdown
SELECT 'particles' AS "data", count(*) AS n,
       sum(class = 'Cube') AS cube, sum(class = 'Octahedron') AS octahedron,
       sum(class = 'Sphere') AS sphere, sum(NOT inner_particle) AS "touching the border"
  FROM x;

-- The table of docs/accuracy-groups.md.
SELECT c.dataset AS "data set",
       CASE c.krule WHEN '3' THEN 'K = 3' ELSE 'K by silhouette (2..12)' END AS "K rule",
       json_extract(c.model, '$.k') AS K,
       printf('%.3f', json_extract(c.model, '$.silhouette')) AS silhouette,
       printf('%.3f', (SELECT adjusted_rand(a.class, a.grp) FROM assign a WHERE a.id = c.id)) AS "ARI",
       json_extract(c.model, '$.n') AS n
  FROM cases c WHERE c.subset = 'all' ORDER BY substr(c.id, instr(c.id, '-') + 1, 1), c.krule DESC;

SELECT c.dataset AS "data set (edge particles left out)",
       CASE c.krule WHEN '3' THEN 'K = 3' ELSE 'K by silhouette (2..12)' END AS "K rule",
       json_extract(c.model, '$.k') AS K,
       printf('%.3f', json_extract(c.model, '$.silhouette')) AS silhouette,
       printf('%.3f', (SELECT adjusted_rand(a.class, a.grp) FROM assign a WHERE a.id = c.id)) AS "ARI",
       json_extract(c.model, '$.n') AS n
  FROM cases c WHERE c.subset = 'inner' ORDER BY substr(c.id, instr(c.id, '-') + 1, 1), c.krule DESC;

-- What the groups are, at K = 3 on all particles: particles per class in each group.
SELECT c.dataset AS "data set, K = 3", a.grp AS "group",
       sum(a.class = 'Cube') AS cube, sum(a.class = 'Octahedron') AS octahedron,
       sum(a.class = 'Sphere') AS sphere
  FROM cases c JOIN assign a ON a.id = c.id
 WHERE c.subset = 'all' AND c.krule = '3'
 GROUP BY c.id, a.grp ORDER BY c.id, a.grp;

-- The inputs per class (mean ± SD), to read the table with.
SELECT class,
       printf('%.3f ± %.3f', avg(solidity), sqrt(avg(solidity * solidity) - avg(solidity) * avg(solidity))) AS solidity,
       printf('%.3f ± %.3f', avg(circularity), sqrt(avg(circularity * circularity) - avg(circularity) * avg(circularity))) AS circularity,
       printf('%.2f ± %.2f', avg(cp), sqrt(avg(cp * cp) - avg(cp) * avg(cp))) AS "CNN p",
       printf('%.2f ± %.2f', avg(cd), sqrt(avg(cd * cd) - avg(cd) * avg(cd))) AS "CNN d",
       printf('%.2f ± %.2f', avg(cl), sqrt(avg(cl * cl) - avg(cl) * avg(cl))) AS "CNN Lratio",
       printf('%.2f ± %.2f', avg(fp), sqrt(avg(fp * fp) - avg(fp) * avg(fp))) AS "fit p",
       printf('%.2f ± %.2f', avg(fd), sqrt(avg(fd * fd) - avg(fd) * avg(fd))) AS "fit d",
       printf('%.2f ± %.2f', avg(fl), sqrt(avg(fl * fl) - avg(fl) * avg(fl))) AS "fit Lratio"
  FROM x GROUP BY class ORDER BY class;
SELECT class, printf('%.3f', avg(jaccard)) AS "shape_fit Jaccard (mean)",
       sum(fd = 1) AS "d=1", sum(fd = 2) AS "d=2", sum(fd = 3) AS "d=3", sum(fd = 4) AS "d=4",
       sum(fd >= 5) AS "d≥5"
  FROM x JOIN fit USING (rid) GROUP BY class ORDER BY class;
