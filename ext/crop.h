/*
** crop.h — the canonical crop: the one function that turns a particle mask
** (real or simulated) into the CNN's input. Defined once; particles() and
** simulate() both call it, so the network sees one world.
**
** Format (version NM_CROP_VERSION): a size×size float image in [0,1], the
** particle's own binary mask, anti-aliased by area sampling, its centroid at
** the centre, scaled so that the farthest mask pixel from the centroid lies at
** NM_CROP_RADIUS_FRACTION·size, same orientation as the source. Imaging
** conditions (polarity, contrast, texture, absolute size, box framing) are
** normalised away by construction. Stored as an 8-bit gray PNG (value·255).
*/
#ifndef NM_CROP_H
#define NM_CROP_H

#include <stdint.h>

#include "nm_common.h"

#define NM_CROP_SIZE 64
#define NM_CROP_VERSION 1
#define NM_CROP_RADIUS_FRACTION 0.45

/* mask: w×h bytes (nonzero = particle), row stride `stride` bytes.
** out: size*size floats. Error when the mask is empty. */
nm_status nm_crop_from_mask(const uint8_t *mask, int w, int h, int stride,
                            int size, float *out, nm_error *err);

/* Convenience: the mask of label k inside a label image, restricted to the
** box (x0, y0, bw, bh). Same output as nm_crop_from_mask. */
nm_status nm_crop_from_labels(const int32_t *labels, int width, int height,
                              int32_t k, int x0, int y0, int bw, int bh,
                              int size, float *out, nm_error *err);

#endif /* NM_CROP_H */
