-- segment(image [, options]): the label image as a 16-bit gray PNG BLOB.
-- fx.micro: 128x128 8-bit PNG, six dark discs (60) of radius 8-12 on 200.
CREATE TABLE fx(name TEXT, img BLOB);
INSERT INTO fx VALUES ('micro', X'89504e470d0a1a0a0000000d4948445200000080000000800800000000e6553e17000001564944415478daedd94112c3200c03c03c4cff1f9ed553af892d246012e51e77070816f41a9b9f2b800002082080000208200075416801bd72f83f1a40bb1c4008ae42b562bdfe1b7700a05bafffc61d00e8d6ebbf71340068d7fb3c80209f3c02806008b2085703b43b21b5a6a5bd801a506537e466549907c819152622f2f7959970c5cf8b336162790001bc0f80ad8015db60ad196d01ac6a45c702e834108008c066fc4cc1b100ecdc079eaa9801cf75bcbda03095d66e58f99c9d79a074c67626a2dd80da4d53002f06002541a6a00cc04e00d7166400ba338a76423e9c6800330175ba1b8e897f42e6f3406321391291084067c2de766a48c55ac00880bea4825f902908c0be13ae04c0002877437a784479809f204d229a5822924c38b34815a978ea33519c0bd6004600a6e09c290840724161df097d2778d9158db31b6a8e8076802d11d99f00020820800002082080ed801f1010158bb349ee100000000049454e44ae426082');
CREATE TEMP VIEW mic AS SELECT img FROM fx WHERE name = 'micro';
.mode list
-- PNG signature, then IHDR: width 128, height 128, 16 bits, gray (colour type 0)
SELECT hex(substr(segment(img), 1, 8)), hex(substr(segment(img), 17, 10)) FROM mic;
-- deterministic, and a path gives the same bytes as the BLOB
SELECT segment(img) = segment(img) FROM mic;
SELECT writefile('/tmp/nm_segment_test_micro.png', img) > 0 FROM mic;
SELECT segment('/tmp/nm_segment_test_micro.png') = segment(img) FROM mic;
-- label k of segment() is the particle particles() reports as label k: fed
-- back as labels, every particle has the same area and box
SELECT count(*), sum(a.area = b.area AND a.bbox_x = b.bbox_x AND a.bbox_y = b.bbox_y
                     AND a.bbox_w = b.bbox_w AND a.bbox_h = b.bbox_h)
  FROM particles((SELECT img FROM mic)) a
  JOIN particles((SELECT img FROM mic), NULL, (SELECT segment(img) FROM mic)) b USING (label);
-- options: micrograph keys are accepted; labels is not an option of segment()
SELECT length(segment(img, '{"nm_per_px": 0.5, "scale_bar": false}')) > 100 FROM mic;
SELECT segment(img, '{}') = segment(img) FROM mic;
SELECT segment(img, '{"labels": "x.png"}') FROM mic;
SELECT segment(img, '{"bogus": true}') FROM mic;
SELECT segment(img, '{"nm_per_px": "big"}') FROM mic;
SELECT segment(img, 'not json') FROM mic;
SELECT segment(img, '"text"') FROM mic;
SELECT segment(img, 7) FROM mic;
-- bad images
SELECT segment('/nonexistent/nope.png');
SELECT segment(substr(img, 1, 120)) FROM mic;
SELECT segment(X'');
SELECT segment('');
SELECT segment(NULL);
SELECT segment(3.25);
-- wrong number of arguments
SELECT segment();
SELECT segment(1, 2, 3);
