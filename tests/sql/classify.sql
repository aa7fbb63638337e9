-- The libsvm classifier: train (stratified 80/20, 10-fold CV grid search),
-- predict, report; integer and text labels; models by name; errors.
CREATE TABLE pts AS
WITH RECURSIVE r(i, s) AS (
  SELECT 0, 777 UNION ALL
  SELECT i + 1, (s * 1103515245 + 12345) % 2147483648 FROM r WHERE i < 299)
SELECT i, i % 3 AS grp, CASE i % 3 WHEN 0 THEN 'cube' WHEN 1 THEN 'octahedron' ELSE 'sphere' END AS shape,
       (i % 3) * 3 + ((s >> 4) % 1000) / 500.0 AS a,
       ((s >> 14) % 1000) / 1000.0 AS b
FROM r;
.mode list
CREATE TABLE clf AS SELECT svm_train(grp, a, b, '{"cv":10,"test":0.2,"seed":1}') AS model FROM pts;
SELECT 'blob', typeof(model), substr(model, 1, 5) = CAST('NMSVM' AS BLOB) FROM clf;
SELECT 'report', json_extract(r, '$.kernel'), json_extract(r, '$.n_train'), json_extract(r, '$.n_test'),
       json_extract(r, '$.accuracy') >= 0.9, json_array_length(r, '$.grid'), json_extract(r, '$.classes'),
       (SELECT sum(value) FROM json_each(r, '$.confusion[0]')) + (SELECT sum(value) FROM json_each(r, '$.confusion[1]'))
       + (SELECT sum(value) FROM json_each(r, '$.confusion[2]'))
FROM (SELECT svm_report(model) AS r FROM clf);
SELECT 'chosen C and gamma present', json_type(svm_report(model), '$.C'), json_type(svm_report(model), '$.gamma') FROM clf;
SELECT 'predict', svm_predict((SELECT model FROM clf), 0.5, 0.5), svm_predict((SELECT model FROM clf), 6.9, 0.5),
       typeof(svm_predict((SELECT model FROM clf), 3.5, 0.5));
SELECT 'train accuracy', round(avg(svm_predict((SELECT model FROM clf), a, b) = grp), 2) >= 0.95 FROM pts;
SELECT 'same seed same bytes', (SELECT svm_train(grp, a, b, '{"cv":10,"test":0.2,"seed":1}') FROM pts) = model FROM clf;
SELECT 'model_info', json_extract(model_info(model), '$.kind') FROM clf;
-- text labels come back as text; linear kernel; fixed C (no gamma for linear)
CREATE TABLE clf2 AS SELECT svm_train(shape, a, b, '{"kernel":"linear","C":[1,10],"cv":5}') AS model FROM pts;
SELECT 'text', svm_predict((SELECT model FROM clf2), 6.9, 0.5), json_extract(svm_report(model), '$.classes'),
       json_extract(svm_report(model), '$.gamma') FROM clf2;
-- no options argument: defaults
SELECT 'defaults', json_extract(svm_report(svm_train(grp, a, b)), '$.folds') FROM pts;
-- by name
INSERT INTO nanomorph_models(name, kind, model) SELECT 'clf', 'svm', model FROM clf;
SELECT 'by name', svm_predict('clf', 6.9, 0.5);
-- errors
SELECT svm_predict((SELECT model FROM clf), 1, 2, 3);
SELECT svm_predict((SELECT model FROM clf), 1);
SELECT svm_predict((SELECT model FROM clf), 1, NULL);
SELECT svm_predict((SELECT model FROM clf), 1, 'x');
SELECT svm_predict(x'00112233', 1, 2);
SELECT svm_predict(substr((SELECT model FROM clf), 1, 100), 1, 2);
SELECT svm_predict('nope', 1, 2);
SELECT svm_report(x'4e4d53564d0000000200');
SELECT svm_train(grp, a, NULL) FROM pts;
SELECT svm_train(NULL, a, b) FROM pts;
SELECT svm_train(1.5, a, b) FROM pts;
SELECT svm_train(1, a, b) FROM pts;
SELECT svm_train(grp, a, b, '{"kernel":"poly"}') FROM pts;
SELECT svm_train(grp, a, b, '{"test":1}') FROM pts;
SELECT svm_train(grp, a, b, '{"C":-1}') FROM pts;
SELECT svm_train(grp, a, b, '{"gamma":[]}') FROM pts;
SELECT svm_train(grp, a, b, '{"bogus":1}') FROM pts;
SELECT svm_train(grp, a, b, '{"cv":50}') FROM pts WHERE i < 20;
SELECT svm_train(grp) FROM pts;
SELECT svm_train(grp, a) FROM pts WHERE 0;
