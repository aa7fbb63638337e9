/*
** features.h — the 30 per-particle measurements of SPEC §3, MATLAB regionprops
** conventions (pixel-centre coordinates, 8-connected objects), in pixels.
** Conversion to nm / nm² (per axis for non-square pixels) is done here too so
** that every binding gets the same numbers.
*/
#ifndef NM_FEATURES_H
#define NM_FEATURES_H

#include <stdint.h>

#include "nm_common.h"

typedef struct nm_features {
  int label;
  double area, perimeter, centroid_x, centroid_y;
  double bbox_x, bbox_y, bbox_w, bbox_h;
  double major_axis, minor_axis, eccentricity, orientation;
  double convex_area, solidity, extent, equiv_diameter, circularity;
  double filled_area, euler_number;
  double max_feret, max_feret_angle, min_feret, min_feret_angle;
  double mean_intensity, min_intensity, max_intensity;
  double weighted_centroid_x, weighted_centroid_y;
  double aspect_ratio, convex_perimeter;
} nm_features;

#define NM_FEATURE_COUNT 30

/* Names of the 30 features in table order ("area", ..., "convex_perimeter"). */
const char *const *nm_feature_names(void);
/* The i-th feature (0..29) of f, in the order of nm_feature_names(). */
double nm_feature_value(const nm_features *f, int i);

/* Measures labels 1..n_labels of a label image; intensity may be NULL (the
** intensity features are then NAN). out has n_labels entries, out[k-1] for label k. */
nm_status nm_features_compute(const int32_t *labels, const float *intensity,
                              int width, int height, int n_labels,
                              nm_features *out, const nm_progress *progress,
                              nm_error *err);

/* Flags extreme outliers among particles not yet excluded (excluded[label] ==
** 0): area beyond Q3 + 3·IQR of the population or solidity far below the rest
** (see features.c for the rule). Sets excluded[label] = NM_EXCL_OUTLIER.
** excluded has n_labels+1 entries indexed by label. */
void nm_flag_outliers(const nm_features *f, int n_labels, uint8_t *excluded);

#endif /* NM_FEATURES_H */
