/*
** threshold.h — global and local thresholds, and the automatic polarity test.
**
** Otsu works on a histogram so that callers can threshold any subset of an
** image (a mask) without copying it. The local threshold compares each pixel
** with the mean of its neighbourhood (window from the particle scale), which
** is what survives uneven illumination. The polarity test decides whether the
** particles are the dark (bright-field) or the bright (dark-field) phase
** without assuming that the background covers most of the field.
*/
#ifndef NM_THRESHOLD_H
#define NM_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

#include "nm_common.h"

/* Otsu's threshold of a histogram of nbins bins: returns t such that bins
** 0..t form the lower class (the between-class variance is maximal).
** Returns -1 when fewer than two bins are occupied. */
int nm_otsu_hist(const double *hist, int nbins);

/* Otsu's threshold of the values px[i] (where mask is NULL or mask[i] != 0),
** in value units: values > threshold are the upper class. Uses 1024 bins
** between the min and max of the selected values; returns NAN when they are
** all equal or none is selected. */
double nm_otsu(const float *px, size_t n, const uint8_t *mask);

/* Contrast between the two classes of px split at t: the mean above t
** minus the mean at or below it; 0 when either class is empty. */
double nm_class_contrast(const float *px, size_t n, double t);

/* Local mean threshold: out[i] = 1 where px[i] > local_mean(r) + offset.
** local mean is the (2r+1)^2 box mean. tmp: nm_filter_tmp_size(w,h). */
void nm_threshold_local(const float *px, int w, int h, int r, float offset,
                        uint8_t *out, float *tmp);

#endif /* NM_THRESHOLD_H */
