/*
** crop.h — the canonical crop: the one function that turns a particle mask
** (real or simulated) into the CNN's input. Defined once; particles() and
** simulate() both call it, so the network sees one world.
**
** Format (version NM_CROP_VERSION): a size×size float image in [0,1], the
** particle's own binary mask, anti-aliased by area sampling, its centroid at
** the centre, scaled so that the farthest mask pixel from the centroid lies at
** NM_CROP_RADIUS_FRACTION·size, same orientation as the source. Precisely:
** mask pixel (x, y) is the unit square centred on (x, y); the centroid is the
** mean of the particle pixels' centres; the radius R is the largest
** centre-to-centroid distance plus NM_CROP_PIXEL_EDGE (half a pixel, the
** outer edge); output pixel (i, j) covers [i, i+1)×[j, j+1) with the frame
** centre at (size/2, size/2) and one output pixel = R/(FRACTION·size) mask
** pixels; its value is the particle fraction of S×S sub-samples (S ≥ 4,
** ≥ 2 per mask pixel, ≤ 16), each taking the mask pixel it falls in. Imaging
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
#define NM_CROP_PIXEL_EDGE 0.5

/* mask: w×h bytes (nonzero = particle), row stride `stride` bytes.
** out: size*size floats. Error when the mask is empty. */
nm_status nm_crop_from_mask(const uint8_t *mask, int w, int h, int stride,
                            int size, float *out, nm_error *err);

/* Convenience: the mask of label k inside a label image, restricted to the
** box (x0, y0, bw, bh). Same output as nm_crop_from_mask. */
nm_status nm_crop_from_labels(const int32_t *labels, int width, int height,
                              int32_t k, int x0, int y0, int bw, int bh,
                              int size, float *out, nm_error *err);

/* The centroid (cx, cy, pixel-centre coordinates) and radius R defined above.
** Error when the mask is empty. */
nm_status nm_crop_geometry(const uint8_t *mask, int w, int h, int stride,
                           double *cx, double *cy, double *radius,
                           nm_error *err);

/* The stored form: value·255 rounded to 8 bits (out: size*size bytes). */
void nm_crop_to_u8(const float *crop, int size, uint8_t *out);

/* The stored form as a PNG (8-bit gray) in a malloc'd buffer; free() it. */
nm_status nm_crop_encode_png(const float *crop, int size, unsigned char **png,
                             size_t *png_n, nm_error *err);

#endif /* NM_CROP_H */
