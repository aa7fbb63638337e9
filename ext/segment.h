/*
** segment.h — from a gray micrograph to an instance label image (SPEC §2).
**
** The pipeline: contrast normalisation, denoising, background flattening,
** automatic polarity, threshold (Otsu or local), hole filling, small-object
** removal, Euclidean distance transform, marker-controlled watershed,
** per-particle erosion then equal dilation, and the exclusion of particles
** touching the border, lying in the scale bar / annotation box, or too small.
** No fixed pixel size anywhere: the particle scale of each image is estimated
** first and every radius, floor and h is derived from it, unless overridden.
**
** Outliers (size/solidity far from the population) are flagged later, from
** the features, by nm_outliers_flag() in outliers.h.
*/
#ifndef NM_SEGMENT_H
#define NM_SEGMENT_H

#include <stdint.h>

#include "nm_common.h"

typedef enum nm_exclusion {
  NM_EXCL_NONE = 0,
  NM_EXCL_EDGE,
  NM_EXCL_SCALE_BAR,
  NM_EXCL_OUTLIER,
  NM_EXCL_TOO_SMALL,
  NM_EXCL_TEXTURE
} nm_exclusion;

/* "edge", "scale_bar", "outlier", "too_small", "texture"; NULL for
** NM_EXCL_NONE. */
const char *nm_exclusion_name(nm_exclusion reason);

/* Options: the fields are private to segment.c's documentation; set them by
** key so that bindings need not know them and unknown keys are caught here. */
typedef struct nm_segment_opts nm_segment_opts;

nm_segment_opts *nm_segment_opts_new(void);          /* defaults; NULL on OOM */
void nm_segment_opts_free(nm_segment_opts *opts);
/* Sets one option from a JSON value: num is used for numbers/booleans, text
** for strings (text is NULL for numbers). Unknown key or bad value → error
** naming the key. */
nm_status nm_segment_opts_set(nm_segment_opts *opts, const char *key,
                              double num, const char *text, nm_error *err);
/* Keys accepted by nm_segment_opts_set, NULL-terminated (for docs and tests). */
const char *const *nm_segment_opts_keys(void);

typedef struct nm_segmentation {
  int width, height;
  int32_t *labels;   /* width*height; 0 background, 1..count particles */
  int count;
  uint8_t *excluded; /* count+1 entries indexed by label: nm_exclusion values */
  double scale_px;   /* estimated typical particle diameter, px */
  int dark_particles;/* 1 bright-field (dark particles), 0 dark-field */
} nm_segmentation;

/* Segments px (width*height floats, any range). */
nm_status nm_segment(const float *px, int width, int height,
                     const nm_segment_opts *opts, const nm_progress *progress,
                     nm_segmentation *out, nm_error *err);

void nm_segmentation_free(nm_segmentation *seg);

#endif /* NM_SEGMENT_H */
