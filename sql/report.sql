-- sql/report.sql — every figure of SPEC §8 and a report.md, written into an
-- output folder from the tables sql/pipeline.sql made.
--
--   sqlite3 my.db -cmd '.load ./nanomorph' -cmd ".param set :out 'figures'" '.read sql/report.sql'
--
-- Parameters: :out  output folder (created if missing), default 'out'.
--
-- Files are written with writefile(), the sqlite3 shell's built-in fileio
-- function: this script runs in the `sqlite3` shell (not through a library
-- connection that lacks writefile). The figure functions themselves return
-- PNG BLOBs and work anywhere.
.bail on
DROP TABLE IF EXISTS temp.nm_out;
CREATE TEMP TABLE nm_out AS
SELECT rtrim(coalesce(:out, 'out'), '/') AS dir,
       (SELECT size_unit FROM classifier) AS unit,
       (SELECT k FROM classifier) AS k;

-- Every grouped particle with its predictors, group and pictures.
DROP TABLE IF EXISTS temp.nm_rows;
CREATE TEMP TABLE nm_rows AS
SELECT g.pid, g.grp, g.predicted, g.typicality, q.mid, q.path, q.crop, q.mask,
       q.bbox_x, q.bbox_y, q.bbox_w, q.bbox_h,
       CASE (SELECT unit FROM nm_out) WHEN 'nm' THEN q.major_axis_nm ELSE q.major_axis END AS size,
       q.circularity, q.eccentricity, q.solidity, q.extent, q.aspect_ratio, s.p, s.d, s.lratio
FROM grp g JOIN particle q USING (pid) JOIN shape s USING (pid)
ORDER BY g.grp, g.typicality, g.pid;

-- The figures: one row per file, name and PNG.
DROP TABLE IF EXISTS temp.nm_fig;
CREATE TEMP TABLE nm_fig(name TEXT PRIMARY KEY, title TEXT, png BLOB);

-- histograms with a normal fit per group, one per predictor
INSERT INTO nm_fig
SELECT 'hist_' || f.name || '.png', 'Histogram of ' || f.label,
       hist_png(CASE f.name WHEN 'size' THEN r.size WHEN 'circularity' THEN r.circularity
                  WHEN 'eccentricity' THEN r.eccentricity WHEN 'solidity' THEN r.solidity
                  WHEN 'extent' THEN r.extent WHEN 'aspect_ratio' THEN r.aspect_ratio
                  WHEN 'p' THEN r.p WHEN 'd' THEN r.d ELSE r.lratio END,
                r.grp, json_object('xlabel', f.label, 'title', f.label || ' per group, normal fit per group'))
FROM nm_rows r,
     (SELECT 1 AS i, 'size' AS name, 'size = major axis (' || (SELECT unit FROM nm_out) || ')' AS label
      UNION ALL SELECT 2, 'circularity', 'circularity' UNION ALL SELECT 3, 'eccentricity', 'eccentricity'
      UNION ALL SELECT 4, 'solidity', 'solidity' UNION ALL SELECT 5, 'extent', 'extent'
      UNION ALL SELECT 6, 'aspect_ratio', 'aspect ratio' UNION ALL SELECT 7, 'p', 'p (curvature)'
      UNION ALL SELECT 8, 'd', 'd (number of major axes)' UNION ALL SELECT 9, 'lratio', 'Lratio (axis ratio)') f
GROUP BY f.i ORDER BY f.i;

INSERT INTO nm_fig
SELECT 'scatter3d.png', '(p, d, Lratio) coloured by group',
       scatter3d_png(p, d, lratio, grp, '{"title":"shape triplets (p, d, Lratio) by group"}') FROM nm_rows;

INSERT INTO nm_fig
SELECT 'parallel.png', 'Parallel coordinates of the predictors',
       parallel_png(json_object('names', json_array('size (' || (SELECT unit FROM nm_out) || ')', 'circularity',
                                'eccentricity', 'solidity', 'extent', 'aspect ratio', 'p', 'd', 'Lratio'),
                                'title', 'predictors per particle; bold = group median'),
                    grp, size, circularity, eccentricity, solidity, extent, aspect_ratio, p, d, lratio)
FROM nm_rows;

INSERT INTO nm_fig
SELECT 'pareto.png', 'Pareto chart of the principal components',
       pareto_png('{"names":["size","circularity","eccentricity","solidity","extent","aspect ratio","p","d","Lratio"]}',
                  size, circularity, eccentricity, solidity, extent, aspect_ratio, p, d, lratio)
FROM nm_rows HAVING count(*) >= 2;

INSERT INTO nm_fig
SELECT 'dendrogram.png', 'Linkage tree (Ward, z-scored predictors)',
       linkage_png(json_object('k', (SELECT k FROM nm_out), 'linkage', 'ward',
                               'title', 'Ward linkage of the z-scored predictors, cut at K = ' || (SELECT k FROM nm_out)),
                   size, circularity, eccentricity, solidity, extent, aspect_ratio, p, d, lratio)
FROM nm_rows HAVING count(*) >= 2;

INSERT INTO nm_fig
SELECT 'confusion.png', 'Classifier confusion matrix (held-out test split)',
       confusion_json_png(svm_report, json_object('title',
         printf('SVM on the %d held-out particles: accuracy %.1f %%',
                json_extract(svm_report, '$.n_test'), 100 * json_extract(svm_report, '$.accuracy'))))
FROM classifier WHERE json_extract(svm_report, '$.n_test') > 0;

INSERT INTO nm_fig
SELECT 'montage.png', 'Exemplary particles per group (most typical first, up to 210)',
       montage_png(grp, crop, '{"title":"exemplary particles per group (canonical crops, most typical first)"}')
FROM (SELECT grp, crop FROM nm_rows ORDER BY grp, typicality, pid);

INSERT INTO nm_fig
SELECT 'montage_all.png', 'All classified particles',
       montage_all_png(grp, crop, '{"title":"all classified particles"}')
FROM (SELECT grp, crop FROM nm_rows ORDER BY grp, typicality, pid);

INSERT INTO nm_fig
SELECT printf('overlay_%02d.png', mid), 'Groups on ' || path,
       overlay_png(path, grp, bbox_x, bbox_y, bbox_w, bbox_h, mask, json_object('title', path))
FROM nm_rows GROUP BY mid ORDER BY mid;

-- ---------------------------------------------------------------- report.md
DROP TABLE IF EXISTS temp.nm_md;
CREATE TEMP TABLE nm_md(i INTEGER PRIMARY KEY, line TEXT);
INSERT INTO nm_md(line) VALUES ('# nanomorph report'), ('');
INSERT INTO nm_md(line)
SELECT printf('%d micrographs from `%s` (%d unreadable), %d particles found, %d measured and grouped '
              || '(excluded: %s). Sizes are the major axis in **%s**%s.',
              (SELECT count(*) FROM micrograph), c.images, (SELECT count(*) FROM micrograph WHERE error IS NOT NULL),
              (SELECT count(*) FROM particle), (SELECT count(*) FROM grp),
              coalesce((SELECT group_concat(excluded || ' ' || n, ', ') FROM
                        (SELECT excluded, count(*) n FROM particle WHERE excluded IS NOT NULL GROUP BY 1)), 'none'),
              c.size_unit, CASE c.size_unit WHEN 'px' THEN ' (at least one micrograph has no pixel size)' ELSE '' END)
FROM classifier c;
INSERT INTO nm_md(line) VALUES (''), ('## Size');
INSERT INTO nm_md(line)
SELECT printf('Overall mean size %.4g ± %.3g %s (n = %d), size distribution σ/d = %.3f.',
              mean, sd, unit, n, cv)
FROM grp_stats WHERE grp IS NULL AND feature = 'size';
INSERT INTO nm_md(line) VALUES (''), ('## Shape groups');
INSERT INTO nm_md(line)
SELECT printf('%s on the %s data set, K = %d chosen by the mean silhouette (%.3f); cophenetic correlation of the data set %.4f. '
              || 'Every method and data set tried is in `classifier.compare`.',
              method, dataset, k, silhouette, ccc)
FROM classifier;
INSERT INTO nm_md(line) VALUES (''),
  ('| group | n | share | size | σ/d | p | d | Lratio | circularity | aspect ratio |'),
  ('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
INSERT INTO nm_md(line)
SELECT printf('| %s | %d | %.1f %% | %.4g ± %.3g %s | %.3f | %.3g ± %.2g | %.3g ± %.2g | %.3g ± %.2g | %.3g ± %.2g | %.3g ± %.2g |',
              coalesce(s.grp, 'all'), s.n, 100.0 * s.n / (SELECT n FROM grp_stats WHERE grp IS NULL AND feature = 'size'),
              s.mean, coalesce(s.sd, 0), s.unit, coalesce(s.cv, 0),
              p.mean, coalesce(p.sd, 0), d.mean, coalesce(d.sd, 0), l.mean, coalesce(l.sd, 0),
              ci.mean, coalesce(ci.sd, 0), ar.mean, coalesce(ar.sd, 0))
FROM grp_stats s
JOIN grp_stats p ON p.grp IS s.grp AND p.feature = 'p'
JOIN grp_stats d ON d.grp IS s.grp AND d.feature = 'd'
JOIN grp_stats l ON l.grp IS s.grp AND l.feature = 'lratio'
JOIN grp_stats ci ON ci.grp IS s.grp AND ci.feature = 'circularity'
JOIN grp_stats ar ON ar.grp IS s.grp AND ar.feature = 'aspect_ratio'
WHERE s.feature = 'size' ORDER BY s.grp IS NULL, s.grp;
INSERT INTO nm_md(line) VALUES (''), ('Mean and SD of every feature per group: table `grp_stats`.'), (''), ('## Classifier');
INSERT INTO nm_md(line)
SELECT printf('libsvm (%s kernel, C = %g, gamma = %g, %d-fold cross-validated grid search: %.1f %%) on %d training particles; '
              || 'accuracy on the %d held-out particles: **%.1f %%**.',
              json_extract(svm_report, '$.kernel'), json_extract(svm_report, '$.C'), json_extract(svm_report, '$.gamma'),
              json_extract(svm_report, '$.folds'), 100 * json_extract(svm_report, '$.cv_accuracy'),
              json_extract(svm_report, '$.n_train'), json_extract(svm_report, '$.n_test'), 100 * accuracy)
FROM classifier;
INSERT INTO nm_md(line) VALUES (''), ('## Figures'), ('');
INSERT INTO nm_md(line) SELECT printf('### %s%s![%s](%s)%s', title, char(10) || char(10), title, name, char(10)) FROM nm_fig ORDER BY rowid;

-- ---------------------------------------------------------------- write
SELECT count(writefile((SELECT dir FROM nm_out) || '/' || name, png)) || ' figures written to '
       || (SELECT dir FROM nm_out) || '/'
FROM nm_fig WHERE png IS NOT NULL;
SELECT 'report: ' || (SELECT dir FROM nm_out) || '/report.md ('
       || writefile((SELECT dir FROM nm_out) || '/report.md', group_concat(line, char(10)) || char(10)) || ' bytes)'
FROM (SELECT line FROM nm_md ORDER BY i);
