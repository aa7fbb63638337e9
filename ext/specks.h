/*
** specks.h — film texture cut into specks, told apart from particles.
**
** On a strongly textured carbon film (bright field, particles a few times the
** grain size) the threshold that finds the particles also cuts the film's dark
** grains into hundreds of small specks: 600 of 900 detections on one
** tem-np-sparse field. Each speck is as dark as a particle at its own size;
** what it lacks is contrast at the particle's size, where the grain and the
** bright film around it average out. Isolated small faint detections are
** ambiguous (a small faint particle looks the same), so they are only
** called texture when they are a large share of the detections: then the
** film, not the sample, is being segmented.
*/
#ifndef NM_SPECKS_H
#define NM_SPECKS_H

#include <stdint.h>

#include "nm_common.h"

/* A speck: under SPECK_AREA x pi d^2/4 pixels, and with a contrast at the
** particle scale (image smoothed by SPECK_SIGMA x d; inside mean minus the mean
** of the unlabelled pixels within d/2 of its box) under SPECK_CONTRAST x the
** typical particle's (the contrast of the particle holding the median pixel
** when the eligible particles are sorted by contrast). Flagged only when specks
** are at least SPECK_SHARE of the eligible particles and there are at least
** SPECK_MIN_COUNT of those. Measured on ../shared/data: the share is
** 0.54-0.66 on the three textured fields and <= 0.18 on every other image. */
#define SPECK_AREA 0.25
#define SPECK_SIGMA 0.25
#define SPECK_CONTRAST 0.4
#define SPECK_SHARE 0.3
#define SPECK_MIN_COUNT 8

/* img: w x h, particles brighter than the film (bright field turned, as in
** segment.c); labels: 0 background, 1..count; d: the particle scale (px).
** Among the labels with excluded[l] == 0, sets excluded[l] = mark for the
** specks when the share rule holds. *flagged (may be NULL) gets their number.
** smooth and tmp: scratch of w*h and nm_filter_tmp_size(w, h) floats.
** Errors: NM_ERR_NOMEM. */
nm_status nm_specks_flag(const float *img, int w, int h, const int32_t *labels, int count,
                         double d, uint8_t mark, uint8_t *excluded, float *smooth, float *tmp,
                         int *flagged, nm_error *err);

#endif
