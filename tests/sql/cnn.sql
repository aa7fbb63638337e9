-- requires: ../shared/data/au-tetra-prism
-- The CNN from SQL on real crops: a tiny seeded training run (same seed →
-- same bytes), a model stored by name, batched cnn_params = per-row
-- cnn_predict, cnn_eval diagnostics, interrupt-free defaults.
CREATE TABLE particle AS SELECT * FROM particles('../shared/data/au-tetra-prism/images/tetra_1-Au-tetra-1-30k-1-7.png',
  '{"labels":"../shared/data/au-tetra-prism/masks/tetra_1-Au-tetra-1-30k-1-7.png"}');
SELECT count(*) > 20 FROM particle;
-- targets: a made-up triplet per particle, so the net has something to fit
CREATE TABLE train AS SELECT crop, 2.0 + (rowid % 5) AS p, 3.0 AS d, 1.0 + (rowid % 3) * 0.5 AS lratio,
  CASE WHEN rowid % 5 = 0 THEN 'val' ELSE 'train' END AS split FROM particle;
CREATE TABLE m AS SELECT cnn_train(crop, p, d, lratio, '{"epochs":3,"batch":8,"seed":7,"arch":"c4k4s2p1,b,r,a,c8,b,r,a,a,a,d3"}', split) AS model FROM train;
CREATE TABLE m2 AS SELECT cnn_train(crop, p, d, lratio, '{"epochs":3,"batch":8,"seed":7,"arch":"c4k4s2p1,b,r,a,c8,b,r,a,a,a,d3"}', split) AS model FROM train;
SELECT 'same seed, same bytes', (SELECT model FROM m) = (SELECT model FROM m2);
SELECT 'report', json_extract(cnn_report(model), '$.epochs_run'), json_extract(cnn_report(model), '$.n_val') > 0,
       json_array_length(cnn_report(model), '$.curve') FROM m;
INSERT INTO nanomorph_models(name, kind, model) SELECT 'tiny', 'cnn', model FROM m;
-- batched table-valued function = per-row scalar, by name and by BLOB
SELECT 'params = predict', count(*), sum(abs(c.p - json_extract(cnn_predict(t.crop, 'tiny'), '$.p')) < 1e-4
                                      AND abs(c.d - json_extract(cnn_predict(t.crop, 'tiny'), '$.d')) < 1e-4
                                      AND abs(c.lratio - json_extract(cnn_predict(t.crop, 'tiny'), '$.lratio')) < 1e-4)
  FROM cnn_params('particle', 'tiny') c JOIN particle t ON t.rowid = c.rowid;
SELECT 'blob = name', (SELECT group_concat(round(d, 4)) FROM cnn_params('particle', (SELECT model FROM m)))
                    = (SELECT group_concat(round(d, 4)) FROM cnn_params('particle', 'tiny'));
SELECT 'default model', count(*), count(p) FROM cnn_params('particle');
SELECT 'other column', count(*) FROM cnn_params('train', NULL, 'crop');
SELECT 'predict keys', json_type(cnn_predict(crop), '$.p'), json_type(cnn_predict(crop), '$.d'),
       json_type(cnn_predict(crop), '$.lratio') FROM particle LIMIT 1;
-- diagnostics: n, RMSE keys, the Q-Q of d and RMSE by true p
SELECT 'eval', json_extract(e, '$.n'), json_type(e, '$.rmse.p'), json_type(e, '$.rmse.lratio'),
       json_array_length(e, '$.d_qq'), json_array_length(e, '$.rmse_by_p') > 0, json_extract(e, '$.d_by_true_d[0].d')
  FROM (SELECT cnn_eval('tiny', crop, p, d, lratio) AS e FROM train);
