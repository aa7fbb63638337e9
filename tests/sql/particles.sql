-- particles() on a hand-made label image whose features are known exactly.
-- fx.labels: 64x48 8-bit gray PNG, label values as gray levels:
--   1: rectangle x 4..23, y 5..14 (20x10 = 200 px)
--   2: digital disc (x-40)^2 + (y-24)^2 <= 64 (197 px)
--   3: ring 16 < (x-14)^2 + (y-34)^2 <= 81 (204 px, a 49 px hole)
--   4: rectangle x 58..63, y 30..39 touching the right border (edge)
--   5: one pixel at (50, 8)
-- fx.mask: the same with every particle 255 (a binary mask).
-- fx.micro: 128x128, six dark discs (60) on a bright field (200).
CREATE TABLE fx(name TEXT, img BLOB);
INSERT INTO fx VALUES
 ('labels', X'89504e470d0a1a0a0000000d4948445200000040000000300800000000842023c30000008b4944415478daedd5db0a80201004d06db7feff9703a3c8d26d74a4a29c2711e6205e4aa4a74d86443e0d4c7d0fde09dc12e5da4bc87a35a14a0a2ca04a0a8f03aa4582312bb0359580595a40013348c0fab100015bf142d84f8f2111701cfaaff10c24c6def7a0101017883ba0d074058d80fc29a040e61e2080771331408afbf06bac10985f1055fe6d6651cf05ac29749cc70000000049454e44ae426082'),
 ('mask', X'89504e470d0a1a0a0000000d4948445200000040000000300800000000842023c3000000824944415478daed954b0ec0200844b9ffa5e9aea91170944969aaac14e185f053e40847d4905f03f4e4e09b8077da9d312c8459cbcf6a05205dde72c0648b6a2602c706df548e110af0ad16fc5b3b0870bf0f08bdbabf0489b494cf8b718e0a3c099010d0fa80046a0424805f0514e0f4010258997a3552cf5abed9f55ff781ed2a1750309389450eb6140000000049454e44ae426082'),
 ('micro', X'89504e470d0a1a0a0000000d4948445200000080000000800800000000e6553e17000001564944415478daedd94112c3200c03c03c4cff1f9ed553af892d246012e51e77070816f41a9b9f2b800002082080000208200075416801bd72f83f1a40bb1c4008ae42b562bdfe1b7700a05bafffc61d00e8d6ebbf71340068d7fb3c80209f3c02806008b2085703b43b21b5a6a5bd801a506537e466549907c819152622f2f7959970c5cf8b336162790001bc0f80ad8015db60ad196d01ac6a45c702e834108008c066fc4cc1b100ecdc079eaa9801cf75bcbda03095d66e58f99c9d79a074c67626a2dd80da4d53002f06002541a6a00cc04e00d7166400ba338a76423e9c6800330175ba1b8e897f42e6f3406321391291084067c2de766a48c55ac00880bea4825f902908c0be13ae04c0002877437a784479809f204d229a5822924c38b34815a978ea33519c0bd6004600a6e09c290840724161df097d2778d9158db31b6a8e8076802d11d99f00020820800002082080ed801f1010158bb349ee100000000049454e44ae426082');
CREATE TEMP VIEW lab AS SELECT img FROM fx WHERE name = 'labels';

-- The label image measured as its own micrograph: intensity = label value.
.mode list
SELECT label, excluded, area, round(perimeter, 6), round(centroid_x, 6), round(centroid_y, 6),
       bbox_x, bbox_y, bbox_w, bbox_h
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab));
-- rectangle: extent 1, solidity 1, Feret = diagonal and short side, axes from 1/12-corrected moments
SELECT extent, solidity, convex_area, round(max_feret, 9) = round(sqrt(500.0), 9),
       min_feret, round(min_feret_angle, 6), round(orientation, 6),
       round(major_axis, 9) = round(4 * sqrt(400.0 / 12), 9),
       round(minor_axis, 9) = round(4 * sqrt(100.0 / 12), 9),
       round(aspect_ratio, 9) = 2.0, convex_perimeter, euler_number, filled_area
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) WHERE label = 1;
-- disc of radius 8: axes ~ 16, eccentricity ~ 0, equal-area diameter, solidity near 1
-- (a small disc centred on a pixel: the chain perimeter is +4 %, see the reference)
SELECT abs(major_axis - 16) < 0.2, abs(minor_axis - 16) < 0.2, eccentricity < 0.1,
       round(equiv_diameter, 9) = round(sqrt(4 * 197 / pi()), 9),
       solidity > 0.93, abs(perimeter / (2 * pi() * 8) - 1) < 0.05, circularity <= 1,
       max_feret BETWEEN 16 AND 17.5, min_feret BETWEEN 15.5 AND 17.01
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) WHERE label = 2;
-- ring: euler 0, holes filled in filled_area, centroid on the centre
SELECT euler_number, filled_area, filled_area - area, solidity < 0.85
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) WHERE label = 3;
-- one pixel: perimeter 0, circularity capped at 1, Feret of a unit square
SELECT area, perimeter, circularity, round(max_feret, 9) = round(sqrt(2.0), 9), min_feret,
       convex_area, convex_perimeter, round(major_axis, 9) = round(4 * sqrt(1.0 / 12), 9)
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) WHERE label = 5;
-- intensity features: the label image's own values
SELECT label, mean_intensity, min_intensity, max_intensity,
       round(weighted_centroid_x - centroid_x, 9), round(weighted_centroid_y - centroid_y, 9)
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab));
-- no pixel size: nm columns NULL
SELECT count(*), count(nm_per_px), count(area_nm2), count(perimeter_nm), count(major_axis_nm),
       count(minor_axis_nm), count(equiv_diameter_nm), count(max_feret_nm), count(min_feret_nm),
       count(convex_area_nm2), count(filled_area_nm2), count(convex_perimeter_nm)
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab));
-- with a pixel size: every nm column scales by it (nm²: its square)
SELECT label, nm_per_px, area_nm2 = area * 0.25, perimeter_nm = perimeter * 0.5,
       major_axis_nm = major_axis * 0.5, minor_axis_nm = minor_axis * 0.5,
       equiv_diameter_nm = equiv_diameter * 0.5, max_feret_nm = max_feret * 0.5,
       min_feret_nm = min_feret * 0.5, convex_area_nm2 = convex_area * 0.25,
       filled_area_nm2 = filled_area * 0.25, convex_perimeter_nm = convex_perimeter * 0.5
  FROM particles((SELECT img FROM lab), '{"nm_per_px": 0.5}', (SELECT img FROM lab));

-- A binary mask is split into 8-connected components, numbered in raster order.
SELECT label, excluded, area FROM particles((SELECT img FROM lab), NULL,
                                            (SELECT img FROM fx WHERE name = 'mask'));
-- The labels option takes a path (written here, read back).
SELECT writefile('/tmp/nm_particles_test_labels.png', img) > 0 FROM lab;
SELECT count(*), sum(area) FROM particles((SELECT img FROM lab),
                                          '{"labels":"/tmp/nm_particles_test_labels.png"}');
-- ... and a labels path as the third argument works the same way.
SELECT count(*) FROM particles((SELECT img FROM lab), NULL, '/tmp/nm_particles_test_labels.png');

-- A 16-bit label image with gaps and large values (7, 300, 60000): the rows
-- carry the user's own numbers (internally renumbered, so the cost follows the
-- particles present, not the largest value).
SELECT label, area, bbox_x, bbox_y, mean_intensity FROM particles(
  X'89504e470d0a1a0a0000000d4948445200000014000000141000000000f8729e92000000204944415478da6360a00d608742521432ea50dbc461075e25c0e0305038540100bc2720d85a28320e0000000049454e44ae426082', NULL,
  X'89504e470d0a1a0a0000000d4948445200000014000000141000000000f8729e92000000204944415478da6360a00d608742521432ea50dbc461075e25c0e0305038540100bc2720d85a28320e0000000049454e44ae426082');
-- mask column: 8-bit gray PNG of the bounding box, 255 = particle
SELECT label, hex(substr(mask, 1, 8)), hex(substr(mask, 17, 10))
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) WHERE label IN (1, 5);
-- crop column: the canonical 64x64 8-bit crop
SELECT label, hex(substr(crop, 17, 10))
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) WHERE label = 2;
-- mask read back as labels: the one particle, same area
SELECT p.label, (SELECT area FROM particles(p.mask, NULL, p.mask)) = p.area
  FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab)) p WHERE p.label IN (1, 2, 3);

-- The argument can come from a join (the table-valued function's argument as
-- a constraint); each row of the left side is one image.
SELECT f.name, count(p.label) FROM fx f, particles(f.img, NULL, f.img) p
 WHERE f.name IN ('labels', 'mask') GROUP BY f.name ORDER BY f.name;
SELECT f.name, count(*) FROM fx f JOIN particles p ON p.image = f.img AND p.labels = f.img
 WHERE f.name = 'labels' GROUP BY f.name;
-- ... and the issue's form: every file micrographs() lists (the two msa-bf-tem
-- samples committed in samples/), measured in one statement
SELECT count(DISTINCT m.path), count(*) > 5, sum(p.excluded IS NULL) > 5
  FROM micrographs('samples/msa-bf-tem_*.png') m, particles(m.path) p;

-- Segmentation of six clean discs: six whole particles, centred where drawn.
SELECT count(*), sum(excluded IS NULL) FROM particles((SELECT img FROM fx WHERE name = 'micro'));
SELECT round(centroid_x), round(centroid_y), abs(equiv_diameter / 2 - 10) < 2.5
  FROM particles((SELECT img FROM fx WHERE name = 'micro')) ORDER BY centroid_y, centroid_x;
-- scale_px: segmentation's particle diameter estimate (one value per image);
-- NULL when the labels are the user's
SELECT count(DISTINCT scale_px), min(scale_px) BETWEEN 10 AND 30
  FROM particles((SELECT img FROM fx WHERE name = 'micro'));
SELECT count(scale_px) FROM particles((SELECT img FROM lab), NULL, (SELECT img FROM lab));
-- The hidden columns are there but not in SELECT *.
SELECT count(*) FROM pragma_table_xinfo('particles') WHERE hidden;
SELECT group_concat(name, ',') FROM pragma_table_xinfo('particles');
