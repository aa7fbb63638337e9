-- requires: ../shared/data
-- particles() on real micrographs: ground-truth labels brought in with the
-- `labels` option (16-bit/8-bit label images and binary masks), images
-- joined from a table, and invariants every feature must satisfy.
.mode list
CREATE TABLE pair(img TEXT, gt TEXT);
INSERT INTO pair VALUES
 ('../shared/data/au-tetra-prism/images/tetra_1-Au-tetra-1-30k-1-14.png',
  '../shared/data/au-tetra-prism/masks/tetra_1-Au-tetra-1-30k-1-14.png'),
 ('../shared/data/msa-bf-tem/images/test_00.png', '../shared/data/msa-bf-tem/masks/test_00.png'),
 ('../shared/data/msa-bf-tem/images/train_00.png', '../shared/data/msa-bf-tem/masks/train_00.png');
-- the join form: the argument comes from the left table
CREATE TABLE gtp AS
  SELECT pair.img, p.* FROM pair, particles(pair.img, json_object('labels', pair.gt)) p;
SELECT replace(img, '../shared/data/', ''), count(*) > 5, count(*) = count(DISTINCT label),
       sum(excluded = 'edge') > 0, sum(excluded IS NOT NULL AND excluded <> 'edge')
  FROM gtp GROUP BY img ORDER BY img;
-- invariants (count of violations, all 0)
SELECT sum(NOT (solidity > 0 AND solidity <= 1)), sum(NOT (extent > 0 AND extent <= 1)),
       sum(NOT (eccentricity >= 0 AND eccentricity < 1)), sum(minor_axis > major_axis),
       sum(min_feret > max_feret + 1e-9), sum(convex_area < area), sum(filled_area < area),
       sum(NOT (orientation > -90 AND orientation <= 90)),
       sum(NOT (max_feret_angle > -90 AND max_feret_angle <= 90)),
       sum(NOT (min_feret_angle > -90 AND min_feret_angle <= 90)), sum(circularity > 1),
       sum(max_feret < max(bbox_w, bbox_h) - 1e-9),
       sum(min_feret > min(bbox_w, bbox_h) + 1e-9),
       sum(NOT (centroid_x BETWEEN bbox_x AND bbox_x + bbox_w - 1)),
       sum(NOT (weighted_centroid_y BETWEEN bbox_y AND bbox_y + bbox_h - 1)),
       sum(NOT (min_intensity <= mean_intensity AND mean_intensity <= max_intensity)),
       sum(abs(aspect_ratio - major_axis / minor_axis) > 1e-9),
       sum(abs(equiv_diameter - sqrt(4 * area / pi())) > 1e-9),
       sum(convex_perimeter > perimeter * 1.2 + 4)
  FROM gtp;
-- a labels BLOB gives the same rows as the labels path
SELECT count(*) = (SELECT count(*) FROM gtp WHERE img LIKE '%test_00%'),
       sum(area) = (SELECT sum(area) FROM gtp WHERE img LIKE '%test_00%')
  FROM particles('../shared/data/msa-bf-tem/images/test_00.png', NULL,
                 readfile('../shared/data/msa-bf-tem/masks/test_00.png'));
-- segmentation of the same images: the same invariants hold
CREATE TABLE seg AS SELECT pair.img, p.* FROM pair, particles(pair.img) p;
SELECT count(DISTINCT img), count(*) > 10,
       sum(NOT (solidity > 0 AND solidity <= 1)) + sum(minor_axis > major_axis)
       + sum(convex_area < area) + sum(filled_area < area) + sum(circularity > 1)
       + sum(min_feret > max_feret + 1e-9)
  FROM seg;
-- every excluded value is one of the documented reasons
SELECT count(*) FROM seg
 WHERE excluded IS NOT NULL AND excluded NOT IN ('edge', 'scale_bar', 'outlier', 'too_small', 'texture');
-- crops and masks decode as particles again (a mask is its own label image)
SELECT sum(length(crop) > 60), sum((SELECT count(*) FROM particles(s.mask, NULL, s.mask)) >= 1)
  FROM (SELECT * FROM seg WHERE excluded IS NULL LIMIT 5) s;
-- a textured film: its grains cut into specks are marked 'texture' (over half
-- of this field's detections), unless the option turns that off
SELECT sum(excluded = 'texture') > 300, sum(excluded IS NULL) BETWEEN 150 AND 450
  FROM particles('../shared/data/tem-np-sparse/images/TEM_RAW_086_1.png');
SELECT count(*) FROM particles('../shared/data/tem-np-sparse/images/TEM_RAW_086_1.png',
                               '{"exclude_texture": false}') WHERE excluded = 'texture';
-- no scale bar here: the reader's refused candidate (a particle's straight
-- edge) excludes nothing, and no calibration comes of it
SELECT (SELECT nm_per_px_x IS NULL FROM micrographs(p)),
       (SELECT count(*) FROM particles(p) WHERE excluded = 'scale_bar')
  FROM (SELECT '../shared/data/au-tetra-prism/images/tetra_1-Au-tetra-1-30k-1-7.png' AS p);
