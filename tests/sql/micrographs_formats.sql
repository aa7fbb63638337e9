-- requires: ../shared/formats
-- micrographs() over the microscope-file corpus: every format side by side,
-- the per-axis pixel size from the file's own metadata (9 significant digits),
-- where it came from, image vs diffraction, data bars, frames, and why a size
-- is NULL. Non-square pixels show the file's x and y; nm_per_px is the square
-- pixel particles() works in after resampling.
.mode list
.headers on
SELECT substr(path, 19) AS file, format, width, height, bits, frames,
       iif(nm_per_px IS NULL, NULL, printf('%.9g', nm_per_px)) AS nm, iif(nm_per_px_x IS NULL, NULL, printf('%.9g', nm_per_px_x)) AS nm_x,
       iif(nm_per_px_y IS NULL, NULL, printf('%.9g', nm_per_px_y)) AS nm_y, calibration_source AS source, mode, databar_rows AS bar,
       calibration_note AS note, error
  FROM micrographs('../shared/formats/*/*', '{"scale_bar": false}');
-- Olympus SIS: page 1 is the RGB preview, page 2 the 16-bit data; the calibration is on page 2
SELECT frames, channels, bits, calibration_source FROM micrographs('../shared/formats/tiff/olympus_SIS.tif', '{"frame": 1}');
-- a user value wins over the file's
SELECT nm_per_px, calibration_source, calibration_note FROM micrographs('../shared/formats/tiff/TVIPS_bin4.tif', '{"nm_per_px": 2}');
-- the SER series: frames past the end are a row error
SELECT frames, error FROM micrographs('../shared/formats/tia/64x64x5_TEM_preview_1.ser', '{"frame": 5}');
