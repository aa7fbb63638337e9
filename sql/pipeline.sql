-- sql/pipeline.sql — the whole analysis of SPEC §2–§8 in one transaction:
-- micrographs → particles (segmentation, 30 features, crops) → CNN triplets
-- (built-in default model, batched) → automatic clustering (data set by
-- cophenetic correlation, method by mean silhouette, K by mean silhouette)
-- → SVM trained on the groups → per-group statistics.
--
--   sqlite3 my.db -cmd '.load ./nanomorph' \
--           -cmd ".param set :images 'my_tems/*.tif'" '.read sql/pipeline.sql'
--
-- Parameters (.param set; every one optional, unset = NULL = the default):
--   :images     glob or directory of micrographs          default 'samples'
--   :nm_per_px  pixel size to use for every image (nm)   default: from each file / its scale bar
--   :k_max      largest K tried by the silhouette search  default 12 (capped at particles - 1)
--   :seed       seed of every random step                 default 1
--
-- Tables written (replaced as a whole on every run; see docs/reference/figures.md):
--   micrograph(mid, path, format, width, height, nm_per_px, calibration_source, error)
--   particle(pid, mid, path, label, excluded, <30 features px>, <size features nm>, nm_per_px, crop, mask)
--   shape(pid, p, d, lratio)
--   grp(pid, grp, predicted, typicality)
--   grp_stats(grp, feature, unit, n, mean, sd, cv)      grp NULL = all grouped particles
--   classifier(id, images, seed, k_max, size_unit, predictors, dataset, method, k, silhouette, ccc,
--              compare, cluster_model, svm_model, svm_report, accuracy, created)
--
-- Failure safety: everything runs inside BEGIN IMMEDIATE … COMMIT, with the
-- results staged in temp tables and the old tables swapped out only at the
-- end; `.bail on` makes the shell stop at the first error, so the
-- transaction is rolled back and the previous results stay as they were
-- (an interrupted or killed run is rolled back by SQLite's journal too).
.bail on
BEGIN IMMEDIATE;

-- ---------------------------------------------------------------- parameters
DROP TABLE IF EXISTS temp.nm_param;
CREATE TEMP TABLE nm_param AS
SELECT coalesce(:images, 'samples') AS images,
       CAST(:nm_per_px AS REAL) AS nm_per_px,
       CASE WHEN :nm_per_px IS NULL THEN NULL ELSE json_object('nm_per_px', CAST(:nm_per_px AS REAL)) END AS opts,
       CAST(coalesce(:k_max, 12) AS INTEGER) AS k_max,
       CAST(coalesce(:seed, 1) AS INTEGER) AS seed;

-- Checks that stop the run with a plain message (a trigger is the only place
-- plain SQL can raise an error; the message must be a literal).
DROP TABLE IF EXISTS temp.nm_check;
CREATE TEMP TABLE nm_check(what TEXT);
CREATE TEMP TRIGGER nm_check_images BEFORE INSERT ON nm_check WHEN NEW.what = 'images'
BEGIN SELECT raise(ABORT, 'pipeline.sql: no readable micrograph matches :images (default ''samples''); previous results kept'); END;
CREATE TEMP TRIGGER nm_check_particles BEFORE INSERT ON nm_check WHEN NEW.what = 'particles'
BEGIN SELECT raise(ABORT, 'pipeline.sql: fewer than 3 measured particles with a shape triplet, too few to group; previous results kept'); END;

-- ---------------------------------------------------------------- micrographs, particles
DROP TABLE IF EXISTS temp.nm_micrograph;
CREATE TEMP TABLE nm_micrograph AS
SELECT row_number() OVER (ORDER BY m.path) AS mid, m.path, m.format, m.width, m.height,
       m.nm_per_px, m.calibration_source, m.error
FROM nm_param, micrographs(nm_param.images, nm_param.opts) m
ORDER BY m.path;

INSERT INTO nm_check SELECT 'images' WHERE NOT EXISTS (SELECT 1 FROM nm_micrograph WHERE error IS NULL);

DROP TABLE IF EXISTS temp.nm_particle;
CREATE TEMP TABLE nm_particle AS
SELECT m.mid, m.path, p.*
FROM nm_micrograph m, nm_param, particles(m.path, nm_param.opts) p
WHERE m.error IS NULL
ORDER BY m.mid, p.label;   -- rowid = pid, stable for the same input

-- ---------------------------------------------------------------- CNN triplets
-- cnn_params reads a table of the main schema: a scratch table that lives
-- only inside this transaction.
DROP TABLE IF EXISTS main.nm_pipeline_crop;
CREATE TABLE main.nm_pipeline_crop(pid INTEGER PRIMARY KEY, crop BLOB);
INSERT INTO main.nm_pipeline_crop SELECT rowid, crop FROM nm_particle WHERE excluded IS NULL;
DROP TABLE IF EXISTS temp.nm_shape;
CREATE TEMP TABLE nm_shape AS SELECT rowid AS pid, p, d, lratio FROM cnn_params('nm_pipeline_crop');
DROP TABLE main.nm_pipeline_crop;

-- ---------------------------------------------------------------- predictors
-- Size is the major axis (the paper's "size"), in nm when every particle's
-- micrograph is calibrated, else in px for all (sizes in px from images of
-- different magnification would not compare; the report says which).
DROP TABLE IF EXISTS temp.nm_unit;
CREATE TEMP TABLE nm_unit AS
SELECT CASE WHEN count(*) > 0 AND count(major_axis_nm) = count(*) THEN 'nm' ELSE 'px' END AS size_unit
FROM nm_particle WHERE excluded IS NULL;

DROP TABLE IF EXISTS temp.nm_feat;
CREATE TEMP TABLE nm_feat AS
SELECT q.rowid AS pid,
       CASE u.size_unit WHEN 'nm' THEN q.major_axis_nm ELSE q.major_axis END AS size,
       q.circularity, q.eccentricity, q.solidity, q.extent, q.aspect_ratio,
       s.p, s.d, s.lratio
FROM nm_particle q JOIN nm_shape s ON s.pid = q.rowid, nm_unit u
WHERE q.excluded IS NULL AND s.p IS NOT NULL
ORDER BY q.rowid;

INSERT INTO nm_check SELECT 'particles' WHERE (SELECT count(*) FROM nm_feat) < 3;

-- ---------------------------------------------------------------- automatic clustering (SPEC §6)
-- cluster_compare: for the three data sets (features = columns 0-5, triplet
-- = 6-8, both) and the three methods, K by mean silhouette over 2..k_max,
-- the data set's cophenetic correlation (ccc) and each method's silhouette.
DROP TABLE IF EXISTS temp.nm_compare;
CREATE TEMP TABLE nm_compare AS
SELECT cluster_compare(json_object('triplet', json('[6,7,8]'),
                                   'k_max', max(2, min(p.k_max, (SELECT count(*) - 1 FROM nm_feat))),
                                   'seed', p.seed),
                       f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio,
                       f.p, f.d, f.lratio) AS report
FROM nm_feat f, nm_param p;

-- The choice: the data set with the highest ccc (how the paper compares data
-- sets), then within it the method with the highest mean silhouette at its
-- own best K (ties: k-means, the paper's winner, then GMM, then hierarchical).
DROP TABLE IF EXISTS temp.nm_choice;
CREATE TEMP TABLE nm_choice AS
WITH ds AS (
  SELECT json_extract(d.value, '$.dataset') AS dataset, json_extract(d.value, '$.ccc') AS ccc
  FROM nm_compare, json_each(nm_compare.report, '$.datasets') d
  ORDER BY ccc DESC, d.key LIMIT 1),
rows AS (
  SELECT json_extract(r.value, '$.dataset') AS dataset, json_extract(r.value, '$.method') AS method,
         json_extract(r.value, '$.k') AS k, json_extract(r.value, '$.silhouette') AS silhouette,
         json_extract(r.value, '$.linkage') AS linkage
  FROM nm_compare, json_each(nm_compare.report, '$.rows') r
  WHERE json_extract(r.value, '$.error') IS NULL AND json_extract(r.value, '$.k') IS NOT NULL)
SELECT rows.dataset, rows.method, rows.k, rows.silhouette, rows.linkage, ds.ccc,
       json_object('k', rows.k, 'seed', (SELECT seed FROM nm_param),
                   'linkage', coalesce(rows.linkage, 'ward')) AS fit_opts
FROM rows JOIN ds USING (dataset)
ORDER BY rows.silhouette DESC, CASE rows.method WHEN 'kmeans' THEN 0 WHEN 'gmm' THEN 1 ELSE 2 END
LIMIT 1;

-- Refit the chosen method on the chosen columns with the chosen K. SQL cannot
-- pick columns or functions at run time (and an aggregate inside CASE would
-- still be stepped), so each (data set, method) pair has its own branch and
-- only the chosen one has rows (GROUP BY: no rows, no fit).
DROP TABLE IF EXISTS temp.nm_model;
CREATE TEMP TABLE nm_model AS
SELECT kmeans_fit(json_remove(c.fit_opts, '$.linkage'),
         f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio, f.p, f.d, f.lratio) AS model
FROM nm_feat f, nm_choice c WHERE c.dataset = 'both' AND c.method = 'kmeans' GROUP BY c.method
UNION ALL
SELECT gmm_fit(json_remove(c.fit_opts, '$.linkage'),
         f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio, f.p, f.d, f.lratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'both' AND c.method = 'gmm' GROUP BY c.method
UNION ALL
SELECT hclust_fit(c.fit_opts,
         f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio, f.p, f.d, f.lratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'both' AND c.method = 'hclust' GROUP BY c.method
UNION ALL
SELECT kmeans_fit(json_remove(c.fit_opts, '$.linkage'),
         f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'features' AND c.method = 'kmeans' GROUP BY c.method
UNION ALL
SELECT gmm_fit(json_remove(c.fit_opts, '$.linkage'),
         f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'features' AND c.method = 'gmm' GROUP BY c.method
UNION ALL
SELECT hclust_fit(c.fit_opts,
         f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'features' AND c.method = 'hclust' GROUP BY c.method
UNION ALL
SELECT kmeans_fit(json_remove(c.fit_opts, '$.linkage'),
         f.p, f.d, f.lratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'triplet' AND c.method = 'kmeans' GROUP BY c.method
UNION ALL
SELECT gmm_fit(json_remove(c.fit_opts, '$.linkage'),
         f.p, f.d, f.lratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'triplet' AND c.method = 'gmm' GROUP BY c.method
UNION ALL
SELECT hclust_fit(c.fit_opts,
         f.p, f.d, f.lratio)
FROM nm_feat f, nm_choice c WHERE c.dataset = 'triplet' AND c.method = 'hclust' GROUP BY c.method;

DROP TABLE IF EXISTS temp.nm_grp;
CREATE TEMP TABLE nm_grp AS
SELECT f.pid,
       CASE c.dataset || '/' || c.method
         WHEN 'both/kmeans' THEN kmeans_label(m.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio, f.p, f.d, f.lratio)
         WHEN 'both/gmm' THEN gmm_label(m.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio, f.p, f.d, f.lratio)
         WHEN 'both/hclust' THEN hclust_label(m.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio, f.p, f.d, f.lratio)
         WHEN 'features/kmeans' THEN kmeans_label(m.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio)
         WHEN 'features/gmm' THEN gmm_label(m.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio)
         WHEN 'features/hclust' THEN hclust_label(m.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio)
         WHEN 'triplet/kmeans' THEN kmeans_label(m.model, f.p, f.d, f.lratio)
         WHEN 'triplet/gmm' THEN gmm_label(m.model, f.p, f.d, f.lratio)
         ELSE hclust_label(m.model, f.p, f.d, f.lratio) END AS grp
FROM nm_feat f, nm_choice c, nm_model m
ORDER BY f.pid;

-- ---------------------------------------------------------------- classifier (SPEC §7)
-- libsvm on all nine predictors (triplet + morphology), stratified 80/20
-- split, 10-fold cross-validated search on the training part.
DROP TABLE IF EXISTS temp.nm_svm;
CREATE TEMP TABLE nm_svm AS
SELECT svm_train(g.grp, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio,
                 f.p, f.d, f.lratio, json_object('cv', 10, 'test', 0.2, 'seed', p.seed)) AS model
FROM nm_feat f JOIN nm_grp g USING (pid), nm_param p;

-- ---------------------------------------------------------------- typicality
-- Distance of each particle to its group's mean in the z-scored predictor
-- space: the montage shows the most typical particles of each group first.
DROP TABLE IF EXISTS temp.nm_z;
CREATE TEMP TABLE nm_z AS
SELECT f.pid, g.grp, j.key AS feature,
       (j.value - avg(j.value) OVER (PARTITION BY j.key)) /
         nullif(sqrt(avg(j.value * j.value) OVER (PARTITION BY j.key) -
                     avg(j.value) OVER (PARTITION BY j.key) * avg(j.value) OVER (PARTITION BY j.key)), 0) AS z
FROM nm_feat f JOIN nm_grp g USING (pid),
     json_each(json_object('size', f.size, 'circularity', f.circularity, 'eccentricity', f.eccentricity,
                           'solidity', f.solidity, 'extent', f.extent, 'aspect_ratio', f.aspect_ratio,
                           'p', f.p, 'd', f.d, 'lratio', f.lratio)) j;
DROP TABLE IF EXISTS temp.nm_typ;
CREATE TEMP TABLE nm_typ AS
SELECT pid, sqrt(sum(dz * dz)) AS typicality FROM (
  SELECT pid, coalesce(z, 0) - coalesce(avg(z) OVER (PARTITION BY grp, feature), 0) AS dz FROM nm_z)
GROUP BY pid;

-- ---------------------------------------------------------------- statistics (SPEC §8)
-- Mean and SD (n - 1) of every feature per group and over all grouped
-- particles (grp NULL); cv = sd / mean, which for `size` is the paper's σ/d.
DROP TABLE IF EXISTS temp.nm_long;
CREATE TEMP TABLE nm_long AS
SELECT g.grp, j.key AS feature,
       CASE WHEN j.key LIKE '%\_nm' ESCAPE '\' OR j.key = 'nm_per_px' THEN 'nm'
            WHEN j.key LIKE '%\_nm2' ESCAPE '\' THEN 'nm²'
            WHEN j.key = 'size' THEN u.size_unit
            WHEN j.key IN ('area', 'convex_area', 'filled_area') THEN 'px²'
            WHEN j.key IN ('perimeter', 'centroid_x', 'centroid_y', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h',
                           'major_axis', 'minor_axis', 'equiv_diameter', 'max_feret', 'min_feret',
                           'weighted_centroid_x', 'weighted_centroid_y', 'convex_perimeter') THEN 'px'
            WHEN j.key LIKE '%angle' OR j.key = 'orientation' THEN 'deg'
            ELSE '' END AS unit,
       j.value AS v
FROM nm_grp g JOIN nm_feat f USING (pid) JOIN nm_particle q ON q.rowid = g.pid, nm_unit u,
     json_each(json_object(
       'size', f.size, 'p', f.p, 'd', f.d, 'lratio', f.lratio,
       'area', q.area, 'perimeter', q.perimeter, 'centroid_x', q.centroid_x, 'centroid_y', q.centroid_y,
       'bbox_x', q.bbox_x, 'bbox_y', q.bbox_y, 'bbox_w', q.bbox_w, 'bbox_h', q.bbox_h,
       'major_axis', q.major_axis, 'minor_axis', q.minor_axis, 'eccentricity', q.eccentricity,
       'orientation', q.orientation, 'convex_area', q.convex_area, 'solidity', q.solidity,
       'extent', q.extent, 'equiv_diameter', q.equiv_diameter, 'circularity', q.circularity,
       'filled_area', q.filled_area, 'euler_number', q.euler_number, 'max_feret', q.max_feret,
       'max_feret_angle', q.max_feret_angle, 'min_feret', q.min_feret, 'min_feret_angle', q.min_feret_angle,
       'mean_intensity', q.mean_intensity, 'min_intensity', q.min_intensity, 'max_intensity', q.max_intensity,
       'weighted_centroid_x', q.weighted_centroid_x, 'weighted_centroid_y', q.weighted_centroid_y,
       'aspect_ratio', q.aspect_ratio, 'convex_perimeter', q.convex_perimeter,
       'area_nm2', q.area_nm2, 'perimeter_nm', q.perimeter_nm, 'major_axis_nm', q.major_axis_nm,
       'minor_axis_nm', q.minor_axis_nm, 'equiv_diameter_nm', q.equiv_diameter_nm,
       'max_feret_nm', q.max_feret_nm, 'min_feret_nm', q.min_feret_nm,
       'convex_area_nm2', q.convex_area_nm2, 'filled_area_nm2', q.filled_area_nm2,
       'convex_perimeter_nm', q.convex_perimeter_nm)) j
WHERE j.value IS NOT NULL;

DROP TABLE IF EXISTS temp.nm_stats;
CREATE TEMP TABLE nm_stats AS
WITH per AS (
  SELECT grp, feature, unit, v FROM nm_long
  UNION ALL SELECT NULL, feature, unit, v FROM nm_long),
mom AS (
  SELECT grp, feature, unit, count(*) AS n, avg(v) AS mean FROM per GROUP BY grp, feature)
SELECT m.grp, m.feature, m.unit, m.n, m.mean,
       CASE WHEN m.n > 1 THEN sqrt(max(0, (SELECT sum((p.v - m.mean) * (p.v - m.mean)) FROM per p
                                           WHERE p.grp IS m.grp AND p.feature = m.feature)) / (m.n - 1)) END AS sd,
       NULL AS cv
FROM mom m;
UPDATE nm_stats SET cv = sd / mean WHERE mean <> 0 AND sd IS NOT NULL;

-- ---------------------------------------------------------------- swap in the results
DROP TABLE IF EXISTS main.micrograph;
CREATE TABLE main.micrograph(mid INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, format TEXT,
  width INTEGER, height INTEGER, nm_per_px REAL, calibration_source TEXT, error TEXT);
INSERT INTO main.micrograph SELECT * FROM nm_micrograph;

DROP TABLE IF EXISTS main.particle;
CREATE TABLE main.particle AS SELECT rowid AS pid, * FROM nm_particle ORDER BY rowid;
CREATE UNIQUE INDEX main.particle_pid ON particle(pid);

DROP TABLE IF EXISTS main.shape;
CREATE TABLE main.shape(pid INTEGER PRIMARY KEY, p REAL, d REAL, lratio REAL);
INSERT INTO main.shape SELECT pid, p, d, lratio FROM nm_shape ORDER BY pid;

DROP TABLE IF EXISTS main.grp;
CREATE TABLE main.grp(pid INTEGER PRIMARY KEY, grp INTEGER NOT NULL, predicted INTEGER, typicality REAL);
INSERT INTO main.grp
SELECT g.pid, g.grp,
       svm_predict(s.model, f.size, f.circularity, f.eccentricity, f.solidity, f.extent, f.aspect_ratio,
                   f.p, f.d, f.lratio),
       t.typicality
FROM nm_grp g JOIN nm_feat f USING (pid) LEFT JOIN nm_typ t USING (pid), nm_svm s ORDER BY g.pid;

DROP TABLE IF EXISTS main.grp_stats;
CREATE TABLE main.grp_stats(grp INTEGER, feature TEXT NOT NULL, unit TEXT, n INTEGER, mean REAL,
  sd REAL, cv REAL);
INSERT INTO main.grp_stats SELECT * FROM nm_stats ORDER BY grp IS NOT NULL, grp, feature;

DROP TABLE IF EXISTS main.classifier;
CREATE TABLE main.classifier(id INTEGER PRIMARY KEY, images TEXT, seed INTEGER, k_max INTEGER,
  size_unit TEXT, predictors TEXT, dataset TEXT, method TEXT, k INTEGER, silhouette REAL, ccc REAL,
  compare TEXT, cluster_model TEXT, svm_model BLOB, svm_report TEXT, accuracy REAL, created TEXT);
INSERT INTO main.classifier
SELECT 1, p.images, p.seed, p.k_max, u.size_unit,
       json('["size","circularity","eccentricity","solidity","extent","aspect_ratio","p","d","lratio"]'),
       c.dataset, c.method || coalesce('/' || c.linkage, ''), c.k, c.silhouette, c.ccc,
       cmp.report, m.model, s.model, svm_report(s.model),
       json_extract(svm_report(s.model), '$.accuracy'),
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
FROM nm_param p, nm_unit u, nm_choice c, nm_compare cmp, nm_model m, nm_svm s;

COMMIT;

SELECT 'pipeline: ' || (SELECT count(*) FROM micrograph WHERE error IS NULL) || ' micrographs, '
       || (SELECT count(*) FROM particle WHERE excluded IS NULL) || ' particles ('
       || (SELECT count(*) FROM particle) || ' found), '
       || (SELECT k FROM classifier) || ' groups by ' || (SELECT method || ' on ' || dataset FROM classifier)
       || ', classifier accuracy ' || coalesce(printf('%.1f %%', 100 * (SELECT accuracy FROM classifier)), 'n/a');
