-- requires: ../shared/formats
-- particles() uses the settled calibration: a file with non-square pixels
-- (DigitalMicrograph TIFF export, 0.168674 x 1.68674 um) is resampled to
-- square pixels of the finer size before segmentation, so one nm_per_px
-- converts every size; a user nm_per_px wins.
.mode list
SELECT round(max(nm_per_px), 4), min(nm_per_px) = max(nm_per_px), count(*) > 0
  FROM particles('../shared/formats/tiff/test_loading_image_saved_with_DM_stack.tif');
-- the label image has the resampled geometry: 68 x 680
SELECT hex(substr(segment('../shared/formats/tiff/test_loading_image_saved_with_DM_stack.tif'), 17, 8));
SELECT sum(abs(area_nm2 - area * nm_per_px * nm_per_px) > 1e-6 * area_nm2)
  FROM particles('../shared/formats/tiff/test_loading_image_saved_with_DM_stack.tif');
SELECT max(nm_per_px), sum(abs(major_axis_nm - major_axis * 2.5) > 1e-9)
  FROM particles('../shared/formats/tiff/test_loading_image_saved_with_DM_stack.tif',
                 '{"nm_per_px": 2.5}');
-- square file: nm sizes from the file's own calibration
SELECT round(max(nm_per_px), 4)
  FROM particles('../shared/formats/tiff/test_loading_image_saved_with_DM.tif');
-- a second frame of a multi-page file
SELECT count(*) >= 0
  FROM particles('../shared/formats/tiff/test_loading_image_saved_with_DM_stack.tif', '{"frame": 1}');
-- Zeiss CZ_SEM: the data zone (a framed white box over the bottom 34 of 384
-- rows, found in the pixels) is cropped before segmentation: the label image
-- is 512 x 350 and no particle reaches into the box
SELECT hex(substr(segment('../shared/formats/tiff/test_tiff_Zeiss_SEM_512pix.tif'), 17, 8));
SELECT count(*) > 0, max(bbox_y + bbox_h) <= 350, round(max(nm_per_px), 6)
  FROM particles('../shared/formats/tiff/test_tiff_Zeiss_SEM_512pix.tif');
