/*
** morph.h — binary morphology on uint8 masks (nonzero = foreground):
** the exact Euclidean distance transform (Felzenszwalb & Huttenlocher's
** lower envelope of parabolas, linear time in the pixel count), disc
** erosion/dilation derived from it (so the cost does not depend on the
** radius), and hole filling.
*/
#ifndef NM_MORPH_H
#define NM_MORPH_H

#include <stdint.h>

#include "nm_common.h"

/* dist[i] = Euclidean distance from pixel i to the nearest pixel whose mask
** value is 0 (0 on those pixels). With invert, distances to the nearest
** nonzero pixel instead. Outside the image counts as neither: a mask with no
** target pixel at all gives dist = w + h everywhere. */
nm_status nm_edt(const uint8_t *mask, int w, int h, int invert, float *dist,
                 nm_error *err);

/* Squared version, exact integers stored in float (no sqrt). */
nm_status nm_edt_sq(const uint8_t *mask, int w, int h, int invert, float *dist2,
                    nm_error *err);

/* Erosion (keep pixels farther than r from the background) and dilation
** (add pixels within r of the foreground) by a Euclidean disc of radius r.
** in == out allowed. dist2: w*h floats of scratch (afterwards it holds
** squared distances that are exact only up to r^2). */
nm_status nm_erode_disc(const uint8_t *in, uint8_t *out, int w, int h, double r,
                        float *dist2, nm_error *err);
nm_status nm_dilate_disc(const uint8_t *in, uint8_t *out, int w, int h, double r,
                         float *dist2, nm_error *err);

/* Fills holes: background regions (4-connected) that do not reach the image
** border become foreground. queue: w*h int32 of scratch. In place. */
void nm_fill_holes(uint8_t *mask, int w, int h, int32_t *queue);

#endif /* NM_MORPH_H */
