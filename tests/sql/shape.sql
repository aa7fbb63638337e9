-- render_shape, resim_jaccard, shape_fit, shape_baselines: values and every error path.
.mode list
.headers off
-- a PNG of the requested size (IHDR width/height bytes)
SELECT 'png', hex(substr(render_shape(8.0, 4, 1.0, 0.3), 1, 8)), hex(substr(render_shape(8.0, 4, 1.0, 0.3, 100), 17, 8));
SELECT 'same bytes', render_shape(2, 3, 1.5, 0.1) = render_shape(2, 3, 1.5, 0.1), render_shape(2, 3, 1.5, 0.1) = render_shape(2, 3, 1.5, 0.2);
SELECT 'options', length(render_shape(4, 3, 1.8, 0, 64, '{"fill":0.5,"sub":4,"canonical":true,"corner_a":0.3,"corner_g":1}')) > 100;
SELECT 'canonical', hex(substr(render_shape(4, 3, 1.8, 0, 64, '{"canonical":true}'), 17, 8)),
       render_shape(4, 3, 1.8, 0, 64, '{"canonical":true}') <> render_shape(4, 3, 1.8, 0, 64);
-- a shape scores ~1 against itself; the circle and ellipse baselines are lower for a triangle
SELECT 'self', round(resim_jaccard(render_shape(4, 3, 1.8, 0.3, 96), 4, 3, 1.8), 2);
SELECT 'wrong d', resim_jaccard(render_shape(4, 3, 1.8, 0.3, 96), 4, 4, 1.8) < 0.9;
SELECT 'fit', json_extract(f, '$.d'), round(json_extract(f, '$.lratio'), 1), json_extract(f, '$.jaccard') > 0.97,
       json_extract(f, '$.p') BETWEEN 3 AND 5.5
  FROM (SELECT shape_fit(render_shape(4, 3, 1.8, 0.3, 96)) AS f);
SELECT 'fit start', json_extract(shape_fit(render_shape(4, 3, 1.8, 0.3, 96), '{"start":[3.5,3.2,1.6],"restarts":0,"grid_starts":1,"seed":3,"max_evals":30,"p":[0.5,20],"d":[1,6],"lratio":[1,3]}'), '$.jaccard') > 0.97;
SELECT 'fit d fixed', json_extract(shape_fit(render_shape(4, 3, 1.8, 0.3, 96), '{"d":4}'), '$.d');
SELECT 'baselines', json_extract(b, '$.circle') < json_extract(b, '$.ellipse') + 1e-9,
       json_extract(b, '$.ellipse') < 0.9, round(json_extract(b, '$.ellipse_lratio'), 1)
  FROM (SELECT shape_baselines(render_shape(4, 3, 1.8, 0.3, 96)) AS b);
SELECT 'ellipse', round(json_extract(shape_baselines(render_shape(2, 2, 2, 0.5, 96)), '$.ellipse'), 2);
-- NULL in, NULL out for the analysis functions
SELECT 'nulls', resim_jaccard(NULL, 1, 2, 1) IS NULL, resim_jaccard(render_shape(2,2,1,0), NULL, 2, 1) IS NULL,
       shape_fit(NULL) IS NULL, shape_baselines(NULL) IS NULL;
-- errors
SELECT render_shape(NULL, 4, 1, 0);
SELECT render_shape('x', 4, 1, 0);
SELECT render_shape(0, 4, 1, 0);
SELECT render_shape(2, 0, 1, 0);
SELECT render_shape(2, 100, 1, 0);
SELECT render_shape(2, 2, -1, 0);
SELECT render_shape(2, 2, 1, NULL);
SELECT render_shape(2, 2, 1, 0, 4);
SELECT render_shape(2, 2, 1, 0, 64.5);
SELECT render_shape(2, 2, 1, 0, 100000);
SELECT render_shape(2, 2, 1, 0, 64, '{"bogus":1}');
SELECT render_shape(2, 2, 1, 0, 64, '{"fill":2}');
SELECT render_shape(2, 2, 1, 0, 64, '{"sub":0}');
SELECT render_shape(2, 2, 1, 0, 64, '{"canonical":"yes"}');
SELECT render_shape(2, 2, 1, 0, 64, '[1,2]');
SELECT render_shape(2, 2, 1, 0, 64, 'not json');
SELECT resim_jaccard('mask.png', 2, 2, 1);
SELECT resim_jaccard(x'00010203', 2, 2, 1);
SELECT resim_jaccard(render_shape(2, 2, 1, 0), 'a', 2, 1);
SELECT resim_jaccard(render_shape(2, 2, 1, 0), 2, 2, 0);
SELECT resim_jaccard(render_shape(2, 2, 1, 0, 8, '{"fill":0.01}'), 2, 2, 1);
SELECT shape_fit(42);
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"bogus":1}');
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"start":[1,2]}');
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"start":[0,2,1]}');
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"d":[0,6]}');
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"p":[5,1]}');
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"max_evals":1}');
SELECT shape_fit(render_shape(2, 2, 1, 0), '{"restarts":-1}');
SELECT shape_baselines(x'89504E470D0A1A0A');
