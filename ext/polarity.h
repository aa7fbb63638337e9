/*
** polarity.h — which phase of a micrograph is the particles: the test used
** when the histogram alone cannot tell (fields full of particles, grey
** supports), see choose_polarity in segment.c.
**
** A field of particles is a set of compact convex blobs; whatever lies
** between them (film, support, the gaps of a dense monolayer) is not: it is
** one connected region around them, or, between touching particles, thin
** cusped lines and concave triangles. So both phases of one global
** threshold are cut into pieces the way the segmentation cuts particles
** (watershed of the distance transform), and each phase is scored by the
** share of its area lying in pieces that look like particles: away from the
** image border, convex (solidity) and fat (area against the largest
** inscribed disc, which rejects thin gap lines, themselves convex).
** Pieces are measured, never counted, so specks of noise, which both phases
** have, weigh little against the particles' area.
*/
#ifndef NM_POLARITY_H
#define NM_POLARITY_H

#include "nm_common.h"

typedef struct nm_blob_score {
  double blob_frac[2];  /* [0] bright phase, [1] dark phase: blob area / phase area */
  double phase_frac[2]; /* area of each phase / field */
  int blobs[2];         /* number of blob-like pieces */
} nm_blob_score;

/* img: w*h, any range (a stretched micrograph). sigma: Gaussian denoising
** (px of img) before the threshold; the large-scale illumination (Gaussian
** of 1/8 of the field) is subtracted first, for both phases alike. Fields of
** 1024 / 2048 px and more are scored on 2x2 / 4x4 block means (sigma
** scaled with them, at least 1). */
nm_status nm_polarity_blobs(const float *img, int w, int h, double sigma, nm_blob_score *out,
                            nm_error *err);

#endif /* NM_POLARITY_H */
