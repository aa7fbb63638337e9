/*
** features.h — the 30 per-particle measurements of SPEC §3, MATLAB regionprops
** conventions (pixel-centre coordinates, 8-connected objects, 4-connected
** background), in pixels, plus their conversion to nm / nm².
**
** Coordinates are 0-based: the centre of the top-left pixel is (0, 0), x to
** the right, y down. bbox_x/bbox_y are the column/row of the box's top-left
** pixel and bbox_w/bbox_h its size in pixels (MATLAB's BoundingBox is
** (bbox_x + 0.5, bbox_y + 0.5, bbox_w, bbox_h) and its Centroid is ours + 1).
** Angles are degrees in (-90, 90], counter-clockwise from +x as seen on the
** screen (y down), as MATLAB's Orientation.
**
** The exact definition of every feature (perimeter chain, convex hull of the
** pixel corners, Feret on that hull, ...) is in features.c's top comment and
** in docs/reference/particles.md.
**
** Pixels are square here: nm_micrograph_open() resamples non-square pixels
** before segmentation, so one nm_per_px converts every size.
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
** intensity features are then NAN). out has n_labels entries, out[k-1] for
** label k; a label with no pixel gets area 0 and NAN elsewhere. A pixel value
** outside 0..n_labels is an error. One pass over the image gathers moments,
** boxes and intensities; the rest is local work inside each label's box. */
nm_status nm_features_compute(const int32_t *labels, const float *intensity,
                              int width, int height, int n_labels,
                              nm_features *out, const nm_progress *progress,
                              nm_error *err);


/* Size features in nm / nm², in this order: area_nm2, perimeter_nm,
** major_axis_nm, minor_axis_nm, equiv_diameter_nm, max_feret_nm,
** min_feret_nm, convex_area_nm2, filled_area_nm2, convex_perimeter_nm. */
#define NM_FEATURE_NM_COUNT 10
const char *const *nm_feature_nm_names(void);
/* The i-th nm feature (0..9) of f for square pixels of nm_per_px nm; NAN when
** nm_per_px is not a finite positive number (pixel size unknown). */
double nm_feature_nm_value(const nm_features *f, int i, double nm_per_px);

/* The binary mask of label k inside the box (x0, y0, bw, bh) of a label
** image: out gets bw*bh bytes, `on` where the label is, 0 elsewhere (pixels
** of the box outside the image are 0). */
void nm_label_mask(const int32_t *labels, int width, int height, int32_t k,
                   int x0, int y0, int bw, int bh, uint8_t on, uint8_t *out);

#endif /* NM_FEATURES_H */
