-- simulate(n, seed [, options]): rows, determinism, splits, options, every error path.
.mode list
.headers off
SELECT 'rows', count(*), min(id), max(id) FROM simulate(25, 42);
SELECT 'empty', count(*) FROM simulate(0, 42);
-- parameter ranges (defaults) and exact 70/10/20 splits per ten ids
SELECT 'ranges', min(p) >= 0.5, max(p) <= 20, min(d), max(d), min(lratio) >= 1, max(lratio) <= 3,
       min(phi) >= 0, max(phi) < 2 * 3.14159266, sum(d = round(d)) = count(*)
  FROM simulate(2000, 7);
SELECT 'split', split, count(*) FROM simulate(1000, 42) GROUP BY split ORDER BY split;
SELECT 'split seed', (SELECT group_concat(split) FROM simulate(10, 1)) <> (SELECT group_concat(split) FROM simulate(10, 2));
-- images: canonical crops, 64x64 8-bit gray PNG
SELECT 'image', hex(substr(image, 1, 8)), hex(substr(image, 17, 10)) FROM simulate(1, 42);
-- same seed → same bytes; a prefix of a longer run; other seed → other data
SELECT 'same', (SELECT group_concat(hex(image)) FROM simulate(5, 42)) = (SELECT group_concat(hex(image)) FROM simulate(5, 42));
SELECT 'prefix', (SELECT group_concat(hex(image) || p) FROM simulate(5, 42)) =
                 (SELECT group_concat(hex(image) || p) FROM (SELECT * FROM simulate(50, 42) WHERE id < 5));
SELECT 'seed', (SELECT group_concat(p) FROM simulate(5, 42)) <> (SELECT group_concat(p) FROM simulate(5, 43));
SELECT 'rowid', count(*) FROM simulate(10, 1) WHERE rowid = id;
-- options
SELECT 'opts', min(d), max(d), min(p) >= 2, max(p) <= 8, min(lratio), max(lratio)
  FROM simulate(200, 3, '{"d":[3,3],"p":[2,8],"lratio":1.5}');
SELECT 'size', hex(substr(image, 17, 8)) FROM simulate(1, 3, '{"size":32,"noise":false,"frame":[40,40],"fill":[0.7,0.7]}');
SELECT 'noise off', count(DISTINCT image) FROM (SELECT image FROM simulate(3, 5, '{"noise":false}')
                                              UNION ALL SELECT image FROM simulate(3, 5));
SELECT 'all opts', count(*) FROM simulate(3, 5, '{"phi":[0,1],"fill":[0.5,0.6],"frame":[20,40],"contrast":[0.3,0.5],"dose":[100,200],"blur":[0.5,0.6],"corner_a":0.2,"corner_g":1.5,"noise":true,"size":48,"wobble":[0,0.02],"p_core":[2,4],"p_core_weight":0.5,"wobble_h2":0.5,"round_weight":0.2,"round_lratio":[1,1.2],"round_p":[1.9,2.1]}');
-- d = 1 stays reachable (default 2..6); p weighting off = plain log-uniform
SELECT 'd from 1', min(d), max(d) FROM simulate(300, 9, '{"d":[1,6]}');
SELECT 'p core', sum(p BETWEEN 2 AND 4) > 150 FROM simulate(200, 9, '{"p_core":[2,4],"p_core_weight":1}');
-- fitting a simulated crop recovers a shape close to its own triplet
SELECT 'sim fit', json_extract(shape_fit(image, '{"d":[3,3]}'), '$.jaccard') > 0.8 FROM simulate(1, 11, '{"d":3,"p":[3,6],"lratio":[1.5,2]}');
-- errors
SELECT * FROM simulate();
SELECT * FROM simulate(10);
SELECT * FROM simulate(NULL, 1);
SELECT * FROM simulate(-1, 1);
SELECT * FROM simulate(1.5, 1);
SELECT * FROM simulate('ten', 1);
SELECT * FROM simulate(1000000000, 1);
SELECT * FROM simulate(10, NULL);
SELECT * FROM simulate(10, 'x');
SELECT * FROM simulate(10, 1, '{"bogus":1}');
SELECT * FROM simulate(10, 1, '{"p":[5,1]}');
SELECT * FROM simulate(10, 1, '{"p":[0,1]}');
SELECT * FROM simulate(10, 1, '{"d":[1.5,3]}');
SELECT * FROM simulate(10, 1, '{"d":"three"}');
SELECT * FROM simulate(10, 1, '{"fill":[0.5,2]}');
SELECT * FROM simulate(10, 1, '{"size":4}');
SELECT * FROM simulate(10, 1, '{"noise":3}');
SELECT * FROM simulate(10, 1, '{"wobble":[0,0.5]}');
SELECT * FROM simulate(10, 1, '{"p_core_weight":2}');
SELECT * FROM simulate(10, 1, '{"round_weight":1.5}');
SELECT * FROM simulate(10, 1, '{"wobble_h2":[0,1]}');
SELECT * FROM simulate(10, 1, '{"p_core":"x"}');
SELECT * FROM simulate(10, 1, '[]');
SELECT * FROM simulate(10, 1, 'nope');
