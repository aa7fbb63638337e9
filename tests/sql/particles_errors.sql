-- particles(): every bad argument is a clear error naming the function, the
-- file or the option; never a crash or a partial table.
-- fx.labels: the 64x48 label image of particles.sql; fx.micro: six dark discs
-- (128x128); fx.rgb: a 64x48 RGB PNG; fx.small: a 10x10 gray PNG, all zero.
CREATE TABLE fx(name TEXT, img BLOB);
INSERT INTO fx VALUES
 ('labels', X'89504e470d0a1a0a0000000d4948445200000040000000300800000000842023c30000008b4944415478daedd5db0a80201004d06db7feff9703a3c8d26d74a4a29c2711e6205e4aa4a74d86443e0d4c7d0fde09dc12e5da4bc87a35a14a0a2ca04a0a8f03aa4582312bb0359580595a40013348c0fab100015bf142d84f8f2111701cfaaff10c24c6def7a0101017883ba0d074058d80fc29a040e61e2080771331408afbf06bac10985f1055fe6d6651cf05ac29749cc70000000049454e44ae426082'),
 ('micro', X'89504e470d0a1a0a0000000d4948445200000080000000800800000000e6553e17000001564944415478daedd94112c3200c03c03c4cff1f9ed553af892d246012e51e77070816f41a9b9f2b800002082080000208200075416801bd72f83f1a40bb1c4008ae42b562bdfe1b7700a05bafffc61d00e8d6ebbf71340068d7fb3c80209f3c02806008b2085703b43b21b5a6a5bd801a506537e466549907c819152622f2f7959970c5cf8b336162790001bc0f80ad8015db60ad196d01ac6a45c702e834108008c066fc4cc1b100ecdc079eaa9801cf75bcbda03095d66e58f99c9d79a074c67626a2dd80da4d53002f06002541a6a00cc04e00d7166400ba338a76423e9c6800330175ba1b8e897f42e6f3406321391291084067c2de766a48c55ac00880bea4825f902908c0be13ae04c0002877437a784479809f204d229a5822924c38b34815a978ea33519c0bd6004600a6e09c290840724161df097d2778d9158db31b6a8e8076802d11d99f00020820800002082080ed801f1010158bb349ee100000000049454e44ae426082'),
 ('rgb', X'89504e470d0a1a0a0000000d49484452000000400000003008020000002e29eb48000000434944415478daedcf310d00000803b0dddcdcf89789055e922635d054cf6b1110101010101010101010101010101010101010101010101010101010101010101010b85aaf9bd01f909872df0000000049454e44ae426082'),
 ('small', X'89504e470d0a1a0a0000000d494844520000000a0000000a0800000000a85990610000000c4944415478da6360a0270000006e000176a0a9cf0000000049454e44ae426082');
.mode list
-- missing file
SELECT count(*) FROM particles('/nonexistent/nope.png');
-- truncated PNG (the first 100 bytes of a valid one)
SELECT count(*) FROM particles((SELECT substr(img, 1, 100) FROM fx WHERE name = 'micro'));
-- not an image at all
SELECT count(*) FROM particles(X'00010203040506070809');
-- empty BLOB, empty path
SELECT count(*) FROM particles(X'');
SELECT count(*) FROM particles('');
-- wrong argument types
SELECT count(*) FROM particles(42);
SELECT count(*) FROM particles(NULL);
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), 42);
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'labels'), NULL, 3.5);
-- no image at all
SELECT count(*) FROM particles;
-- bad JSON, not an object, unknown option, bad values
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"nm_per_px": ');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '[1, 2]');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"bogus": 1}');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"nm_per_px": -1}');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"frame": 3}');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"max_pixels": 100}');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"labels": 5}');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"labels": null}');
-- labels: missing file, wrong size, not gray, not a label image, given twice
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), '{"labels": "/nonexistent/l.png"}');
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), NULL,
                               (SELECT img FROM fx WHERE name = 'labels'));
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'labels'), NULL,
                               (SELECT img FROM fx WHERE name = 'rgb'));
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'labels'), NULL,
                               (SELECT substr(img, 1, 60) FROM fx WHERE name = 'labels'));
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'labels'), '{"labels": "x.png"}',
                               (SELECT img FROM fx WHERE name = 'labels'));
-- an all-zero label image is fine: no particles
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'small'), NULL,
                               (SELECT img FROM fx WHERE name = 'small'));
-- a NULL labels argument means "segment"
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'), NULL, NULL);
-- a uniform image segments to nothing, not to an error
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'small'));
-- the statement after an error still works
SELECT count(*) FROM particles((SELECT img FROM fx WHERE name = 'micro'));
-- DIRECTONLY: a view (schema object) may not call it
CREATE VIEW v AS SELECT count(*) FROM particles('/nonexistent/x.png');
SELECT * FROM v;
