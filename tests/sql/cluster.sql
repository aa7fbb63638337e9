-- Shape groups: k-means / GMM / hierarchical fits return JSON models; labels
-- apply them row by row; cluster_compare gives the methods x data sets table.
-- Data: four planted, well separated blobs in 3-D (deterministic LCG).
CREATE TABLE pts AS
WITH RECURSIVE r(i, s) AS (
  SELECT 0, 12345 UNION ALL
  SELECT i + 1, (s * 1103515245 + 12345) % 2147483648 FROM r WHERE i < 399)
SELECT i, i % 4 AS truth,
       (i % 4) * 10 + ((s >> 4) % 1000) / 1000.0 AS a,
       (i % 2) * 8 + ((s >> 14) % 1000) / 1000.0 AS b,
       ((s >> 20) % 1000) / 1000.0 + (i % 4) AS c
FROM r;
.mode list
-- k-means, K chosen by silhouette
CREATE TABLE km AS SELECT kmeans_fit('{"k":"auto","k_max":8,"seed":1}', a, b, c) AS model FROM pts;
SELECT 'k', json_extract(model, '$.k'), json_extract(model, '$.kind'), json_extract(model, '$.n_features'),
       json_array_length(model, '$.by_k'), json_extract(model, '$.silhouette_sampled') FROM km;
SELECT 'silhouette>0.8', json_extract(model, '$.silhouette') > 0.8 FROM km;
SELECT 'info has no centroids', json_extract(model_info(model), '$.centroids') IS NULL,
       json_extract(model_info(model), '$.k') FROM km;
SELECT 'ari', round(adjusted_rand(truth, kmeans_label((SELECT model FROM km), a, b, c)), 9) FROM pts;
-- same seed, same bytes
SELECT 'same bytes', (SELECT kmeans_fit('{"k":"auto","k_max":8,"seed":1}', a, b, c) FROM pts) = model FROM km;
-- fixed K, no standardisation, numeric text accepted
SELECT 'k=2', json_extract(kmeans_fit('{"k":2,"standardize":false}', a, b, c), '$.k') FROM pts;
SELECT 'text numbers', json_extract(kmeans_fit('{"k":2}', CAST(a AS TEXT), b), '$.k') FROM pts;
-- models by name
INSERT INTO nanomorph_models(name, kind, model) SELECT 'km4', 'kmeans', model FROM km;
SELECT 'by name', count(DISTINCT kmeans_label('km4', a, b, c)) FROM pts;
-- Gaussian mixtures
SELECT 'gmm', json_extract(m, '$.k'), json_extract(m, '$.covariance'),
       round(adjusted_rand(truth, gmm_label(m, a, b, c)), 9)
FROM pts, (SELECT gmm_fit('{"k":4,"seed":2}', a, b, c) AS m FROM pts);
SELECT 'gmm diag auto', json_extract(m, '$.k'), json_extract(m, '$.covariance')
FROM (SELECT gmm_fit('{"covariance":"diag","k_max":6}', a, b, c) AS m FROM pts);
SELECT 'posterior sums to 1', abs((SELECT sum(value) FROM json_each(gmm_posterior(m, 10.5, 8.5, 1.5))) - 1) < 1e-12,
       json_array_length(gmm_posterior(m, 10.5, 8.5, 1.5))
FROM (SELECT gmm_fit('{"k":4}', a, b, c) AS m FROM pts);
-- hierarchical, every linkage
SELECT 'hclust ' || l.value, json_extract(m, '$.k'), json_extract(m, '$.ccc') > 0.5,
       round(adjusted_rand(truth, hclust_label(m, a, b, c)), 9)
FROM json_each('["ward","average","complete","single"]') l,
     (SELECT 1) JOIN pts
     CROSS JOIN (SELECT hclust_fit(json_object('linkage', l2.value, 'k_max', 8), a, b, c) AS m, l2.value AS lk
                 FROM json_each('["ward","average","complete","single"]') l2, pts GROUP BY l2.value) h
WHERE h.lk = l.value GROUP BY l.value ORDER BY l.key;
-- the comparison table: triplet = column 2 (0-based), the rest = features
SELECT 'compare', json_extract(value, '$.dataset'), json_extract(value, '$.method'), json_extract(value, '$.k'),
       json_extract(value, '$.method_ccc') IS NOT NULL, json_extract(value, '$.ccc') IS NOT NULL
FROM (SELECT cluster_compare('{"triplet":[2],"k_max":6,"methods":["kmeans","hclust"]}', a, b, c) AS t FROM pts),
     json_each(t, '$.rows');
SELECT 'compare datasets', json_array_length(cluster_compare('{"k_max":4,"methods":["kmeans"]}', a, b, c), '$.rows') FROM pts;
-- adjusted Rand index on text labels
SELECT 'ari text', adjusted_rand(x, y) FROM (SELECT 'a' x, 'p' y UNION ALL SELECT 'a', 'p' UNION ALL SELECT 'b', 'q' UNION ALL SELECT 'b', 'q');
SELECT 'ari none', adjusted_rand(1, 2) FROM pts WHERE 0;
