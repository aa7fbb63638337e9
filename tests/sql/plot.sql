-- Figures as PNG BLOBs: signature, IHDR size (bytes 17..24 = width, height
-- big-endian), determinism, and every error path of the bindings.
CREATE TEMP TABLE t AS
  WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 199)
  SELECT i, i % 2 AS g, (i % 2) * 10 + ((i * 7919) % 100) / 25.0 AS v,
         (i % 2) * 3 + ((i * 31) % 17) / 10.0 AS p, 1 + (i % 2) + ((i * 13) % 7) / 10.0 AS d,
         1 + ((i * 17) % 11) / 10.0 AS l FROM s;
.mode list
SELECT 'hist', hex(substr(h, 1, 8)), hex(substr(h, 17, 8)) FROM (SELECT hist_png(v, g, '{"width":640,"height":480,"xlabel":"area (nm²)"}') AS h FROM t);
SELECT 'hist default size', hex(substr(hist_png(v, g), 17, 8)) FROM t;
SELECT 'hist deterministic', hist_png(v, g) = (SELECT hist_png(v, g) FROM t) FROM t;
SELECT 'hist changes with data', hist_png(v, g) <> (SELECT hist_png(v + (i = 0), g) FROM t) FROM t;
SELECT 'hist text groups', hex(substr(hist_png(v, CASE g WHEN 0 THEN 'cube' ELSE 'sphere' END), 1, 4)) FROM t;
SELECT 'hist NULLs skipped', hist_png(v, g) = (SELECT hist_png(v, g) FROM (SELECT * FROM t UNION ALL SELECT 999, 0, NULL, 0, 0, 0)) FROM t;
SELECT 'hist no rows', hist_png(v, g) IS NULL FROM t WHERE 0;
SELECT 'scatter3d', hex(substr(scatter3d_png(p, d, l, g, '{"azimuth":30,"elevation":20,"width":500,"height":400}'), 17, 8)) FROM t;
SELECT 'scatter3d default', hex(substr(scatter3d_png(p, d, l, g), 17, 8)) FROM t;
SELECT 'parallel', hex(substr(parallel_png('{"names":["v","p","d","L"]}', g, v, p, d, l), 17, 8)) FROM t;
SELECT 'pareto', hex(substr(pareto_png('{"names":"v,p,d,L","dpi":150,"width":1200,"height":900}', v, p, d, l), 17, 8)) FROM t;
SELECT 'pareto one row', pareto_png(NULL, v, p) FROM t WHERE i = 0;
SELECT 'dendrogram', hex(substr(dendrogram_png('[[0,1,0.5,2],[2,3,1.5,2],[4,5,3,4]]', '{"k":2}'), 17, 8));
SELECT 'linkage', hex(substr(linkage_png('{"k":2,"linkage":"average","width":900,"height":500}', v, p, d, l), 17, 8)) FROM t;
SELECT 'linkage unstandardized', length(linkage_png('{"standardize":false,"leaves":10}', v, p)) > 100 FROM t;
SELECT 'linkage deterministic', linkage_png(NULL, v, p) = (SELECT linkage_png(NULL, v, p) FROM t) FROM t;
SELECT 'dendrogram objects', length(dendrogram_png('[{"a":0,"b":1,"height":0.5,"size":2}]')) > 100;
SELECT 'confusion', hex(substr(confusion_png(g, (i % 7 = 0) + g), 17, 8)) FROM t;
SELECT 'confusion_json', hex(substr(confusion_json_png('{"labels":["a","b"],"matrix":[[3,1],[0,5]]}', '{"width":300,"height":300}'), 17, 8));
SELECT 'confusion_json bare', length(confusion_json_png('[[1,2,0],[0,4,1],[0,0,9]]')) > 100;
CREATE TEMP TABLE pics AS SELECT readfile('samples/msa-bf-tem_train_00.png') AS pic;
SELECT 'montage', hex(substr(montage_png(g, pic, '{"cell":32,"columns":5,"per_group":3}'), 1, 8)) FROM t, pics WHERE i < 10;
SELECT 'montage_all', hex(substr(montage_all_png(g, pic, '{"cell":16,"columns":10}'), 1, 8)) FROM t, pics WHERE i < 30;
SELECT 'overlay', hex(substr(overlay_png('samples/msa-bf-tem_train_00.png', g, 10 + i * 2, 20 + i, 30, 30), 17, 4)) FROM t WHERE i < 20;
SELECT 'overlay width', hex(substr(overlay_png('samples/msa-bf-tem_train_00.png', g, 10, 20, 30, 30, NULL, '{"width":256}'), 17, 4)) FROM t WHERE i < 5;
-- errors
SELECT hist_png(v, g, '{"bogus":1}') FROM t;
SELECT hist_png(v, g, '{"width":10}') FROM t;
SELECT hist_png(v, g, '{"":1}') FROM t;
SELECT hist_png(v, g, '{"width height":2}') FROM t;
SELECT hist_png(v, g, '[1]') FROM t;
SELECT hist_png(v, g, 'not json') FROM t;
SELECT hist_png('x', 1);
SELECT hist_png(1, x'00');
SELECT hist_png(1, 1.5);
SELECT scatter3d_png(p, d, l, g, '{"bins":3}') FROM t;
SELECT parallel_png(NULL, 1, 2);
SELECT parallel_png('{"names":["a"]}', g, v, p) FROM t;
SELECT pareto_png(NULL, 1);
SELECT linkage_png('{"linkage":"median"}', v, p) FROM t;
SELECT linkage_png(NULL, v) FROM t WHERE i = 0;
SELECT linkage_png(NULL);
SELECT dendrogram_png(1);
SELECT dendrogram_png('[[0,0,1,2]]');
SELECT dendrogram_png('[[0,1,1,3]]');
SELECT dendrogram_png('[[0,1,"x",2]]');
SELECT dendrogram_png('{}');
SELECT confusion_json_png('[[1,2],[3]]');
SELECT confusion_json_png('{"labels":["a"],"matrix":[[1,2],[3,4]]}');
SELECT montage_png(g, 'not a blob') FROM t;
SELECT montage_png(g, x'89504e47') FROM t;
SELECT montage_png(g, pic, '{"width":100}') FROM t, pics;
SELECT overlay_png(CASE WHEN i < 2 THEN 'samples/msa-bf-tem_train_00.png' ELSE 'samples/msa-bf-tem_test_05.png' END, g, 1, 1, 5, 5) FROM t WHERE i < 4;
SELECT overlay_png('samples/missing.png', g, 1, 1, 5, 5) FROM t WHERE i < 4;
SELECT overlay_png('samples/msa-bf-tem_train_00.png', g, 1, 1, -5, 5) FROM t WHERE i < 4;
SELECT overlay_png('samples/msa-bf-tem_train_00.png', g, 1, 1, 5, 5, 'mask') FROM t WHERE i < 4;
