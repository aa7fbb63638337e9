-- micrographs(pattern [, options]): one row per image file; header only
-- unless a scale bar must be read. Uses the samples/ shipped in the repository
-- and small files written to /tmp/nm_sqltest_mg/ by the shell's writefile().
.mode list
.headers on
-- the columns, in order
SELECT group_concat(name, ',') AS columns FROM pragma_table_xinfo('micrographs');
-- a directory: every image file in it (README.md and the .nmm model are not images)
SELECT path, format, width, height, channels, bits, pages, frames, mode, databar_rows, bytes, error
  FROM micrographs('samples', '{"scale_bar": false}');
-- a glob; the pixel size is unknown without the scale bar, and the note says why
SELECT path, nm_per_px, nm_per_px_x, nm_per_px_y, calibration_source, calibration_note
  FROM micrographs('samples/msa-bf-tem_*.png', '{"scale_bar": false}');
-- the user's nm_per_px always wins and says so
SELECT path, nm_per_px, nm_per_px_x, nm_per_px_y, calibration_source, calibration_note
  FROM micrographs('samples/msa-bf-tem_test_05.png', '{"nm_per_px": 0.5}');
-- with the scale bar read (the default), a pixel size is either from the bar or NULL with a reason
SELECT count(*) AS n, sum(calibration_source = 'scale_bar' AND nm_per_px > 0) = count(nm_per_px) AS consistent,
       sum(nm_per_px IS NULL AND calibration_note LIKE '%scale bar%') + count(nm_per_px) = count(*) AS explained
  FROM micrographs('samples/*.png');
-- no match: no rows, no error
SELECT count(*) AS none FROM micrographs('samples/*.tif');
SELECT count(*) AS none FROM micrographs('/nonexistent/dir/*.png');
-- as the right side of a join (the pattern comes from another table)
SELECT d.dir, count(m.path) AS files FROM (SELECT 'samples' AS dir) d, micrographs(d.dir, '{"scale_bar": false}') m GROUP BY d.dir;
SELECT count(*) AS files FROM micrographs WHERE pattern = 'samples' AND options = '{"scale_bar": false}';
-- bad files: a row each with the error, and the scan goes on
SELECT writefile('/tmp/nm_sqltest_mg/a_ok.tif', X'49492a00080000000a000001040001000000080000000101040001000000040000000201030001000000080000000301030001000000010000000601030001000000010000001101040001000000860000001501030001000000010000001601040001000000040000001701040001000000200000005301030001000000010000000000000000070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9') > 0 AS written;
SELECT writefile('/tmp/nm_sqltest_mg/b_truncated.png', substr(readfile('samples/msa-bf-tem_test_05.png'), 1, 100)) AS written;
SELECT writefile('/tmp/nm_sqltest_mg/c_empty.tif', X'') AS written;
SELECT writefile('/tmp/nm_sqltest_mg/d_text.png', 'not a picture') AS written;
SELECT writefile('/tmp/nm_sqltest_mg/e_notes.txt', 'notes') AS written;
SELECT path, format, width, height, bits, frames, bytes, error FROM micrographs('/tmp/nm_sqltest_mg/*');
-- a file named exactly is listed whatever its name
SELECT path, error FROM micrographs('/tmp/nm_sqltest_mg/e_notes.txt');
-- per-file option errors are row errors too
SELECT path, error FROM micrographs('/tmp/nm_sqltest_mg/a_ok.tif', '{"frame": 1}');
SELECT path, error FROM micrographs('/tmp/nm_sqltest_mg/a_ok.tif', '{"max_pixels": 31}');
SELECT path, width, error FROM micrographs('/tmp/nm_sqltest_mg/a_ok.tif', '{"max_pixels": 32, "page": 0}');
-- statement errors: arguments of the wrong type, bad JSON, unknown or bad options
SELECT * FROM micrographs();
SELECT * FROM micrographs;
SELECT * FROM micrographs(42);
SELECT * FROM micrographs(NULL);
SELECT * FROM micrographs(X'00');
SELECT * FROM micrographs('');
SELECT * FROM micrographs('samples', 42);
SELECT * FROM micrographs('samples', '{"frame": ');
SELECT * FROM micrographs('samples', '[1, 2]');
SELECT * FROM micrographs('samples', '{"bogus": 1}');
SELECT * FROM micrographs('samples', '{"frame": -1}');
SELECT * FROM micrographs('samples', '{"frame": 1.5}');
SELECT * FROM micrographs('samples', '{"max_pixels": 0}');
SELECT * FROM micrographs('samples', '{"nm_per_px": 0}');
SELECT * FROM micrographs('samples', '{"nm_per_px": "1 nm"}');
SELECT * FROM micrographs('samples', '{"scale_bar": 2}');
SELECT * FROM micrographs('samples', '{"scale_bar": null}');
-- it reads files: not allowed from a view (SQLITE_VTAB_DIRECTONLY)
CREATE VIEW v AS SELECT path FROM micrographs('samples');
SELECT * FROM v;
