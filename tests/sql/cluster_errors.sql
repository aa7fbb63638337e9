-- Every bad input to the clustering functions is a clear error, never a crash.
CREATE TABLE t(a, b, c);
INSERT INTO t VALUES (1, 2, 3), (2, 3, 4), (3, 4, 5), (10, 11, 12), (11, 12, 13);
CREATE TABLE m AS SELECT kmeans_fit('{"k":2}', a, b) AS model FROM t;
.mode list
-- fewer rows than K
SELECT kmeans_fit('{"k":6}', a, b) FROM t;
SELECT gmm_fit('{"k":6}', a, b) FROM t;
SELECT kmeans_fit('{"k":"auto"}', a, b) FROM t;
-- K out of range
SELECT kmeans_fit('{"k":0}', a, b) FROM t;
SELECT kmeans_fit('{"k":1000}', a, b) FROM t;
SELECT kmeans_fit('{"k_min":1}', a, b) FROM t;
SELECT kmeans_fit('{"k_min":4,"k_max":3}', a, b) FROM t;
SELECT hclust_fit('{"k":7}', a, b) FROM t;
-- NULLs, non-numeric values
SELECT kmeans_fit('{"k":2}', a, NULL) FROM t;
SELECT kmeans_fit('{"k":2}', a, 'abc') FROM t;
SELECT kmeans_fit('{"k":2}', a, x'00') FROM t;
SELECT kmeans_label((SELECT model FROM m), 1, NULL);
SELECT kmeans_label((SELECT model FROM m), 1, 'x');
-- mismatched feature counts between fit and label
SELECT kmeans_label((SELECT model FROM m), 1, 2, 3);
SELECT kmeans_label((SELECT model FROM m));
-- wrong kind / corrupt / missing models
SELECT gmm_label((SELECT model FROM m), 1, 2);
SELECT hclust_label((SELECT model FROM m), 1, 2);
SELECT gmm_posterior((SELECT model FROM m), 1, 2);
SELECT kmeans_label('{"kind":"kmeans","version":1}', 1, 2);
SELECT kmeans_label('{"kind":"kmeans","version":2,"n_features":2,"k":2}', 1, 2);
SELECT kmeans_label('{"kind":"svm"}', 1, 2);
SELECT kmeans_label('{not json', 1, 2);
SELECT kmeans_label(replace((SELECT model FROM m), '"centroids":[[', '"centroids":[["x",'), 1, 2);
SELECT kmeans_label('no_such_model', 1, 2);
SELECT kmeans_label(42, 1, 2);
SELECT model_info(x'0102');
-- options
SELECT kmeans_fit('{"k":2,"linkage":"ward"}', a) FROM t;
SELECT kmeans_fit('{"k":"three"}', a) FROM t;
SELECT kmeans_fit('[1,2]', a) FROM t;
SELECT kmeans_fit('{"k":2', a) FROM t;
SELECT kmeans_fit(42, a) FROM t;
SELECT gmm_fit('{"covariance":"spherical"}', a) FROM t;
SELECT hclust_fit('{"linkage":"median"}', a) FROM t;
SELECT hclust_fit('{"k":2,"max_rows":3}', a) FROM t;
SELECT cluster_compare('{"triplet":[5],"k_max":3}', a, b) FROM t;
SELECT cluster_compare('{"triplet":[0,1],"k_max":3}', a, b) FROM t;
SELECT cluster_compare('{"methods":["kmeans","dbscan"]}', a, b) FROM t;
SELECT cluster_compare('{"triplet":"a"}', a, b) FROM t;
-- no rows, no features
SELECT kmeans_fit('{"k":2}', a) FROM t WHERE 0;
SELECT kmeans_fit('{"k":2}') FROM t;
SELECT adjusted_rand(a, NULL) FROM t;
-- a row too far from every mixture component to score (was NaN posteriors)
CREATE TABLE g AS SELECT gmm_fit('{"k":2,"seed":1}', a, b) AS model FROM t;
SELECT gmm_posterior((SELECT model FROM g), 1e160, 0);
SELECT gmm_label((SELECT model FROM g), 1e160, 0);
SELECT gmm_label((SELECT model FROM g), 1, 2);
