/*
** filter.h — the image passes segmentation is built from: percentile
** contrast stretch, Gaussian blur (exact kernel for small sigma, three box
** passes above it, so the cost does not grow with sigma), box mean, median,
** flat square min/max filters (van Herk / Gil-Werman, O(1) per pixel for any
** size), grey opening/closing, and 2x block downsampling / bilinear upsampling.
**
** All images are row-major float, width*height. Borders replicate the edge
** pixel. Every function that needs scratch memory takes it from the caller
** (`tmp`, sized as documented) so that a pipeline allocates once, never per
** pixel. Functions may be called with out == in unless noted.
*/
#ifndef NM_FILTER_H
#define NM_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "nm_common.h"

/* Smallest and largest non-NaN value of px[0..n) (+inf / -inf when there is
** none), four lanes at a time. The values are exact; when both signs of
** zero occur and zero is the extreme, which of them is returned is not
** specified (callers that return the extreme itself rescan). */
void nm_range(const float *px, size_t n, float *lo, float *hi);

/* Value at percentile pct (0..100) of px[0..n), from a 4096-bin histogram
** between the min and the max (exact to 1/4096 of the range). NaNs ignored. */
float nm_percentile(const float *px, size_t n, double pct);
/* k-th smallest (0-based) of v[0..n), n > 0, k < n: quickselect, exact,
** reorders v (partitioned around k on return: v[i] <= v[k] for i < k,
** v[i] >= v[k] for i > k, so a second order statistic of the same values
** can be selected from one side only). No NaNs in v. */
float nm_select_kth(float *v, size_t n, size_t k);

/* Maps [lo_pct, hi_pct] percentiles to [0, 1], clipping outside. Returns 0
** when the image is flat (out is then all 0). */
int nm_stretch(const float *in, float *out, size_t n, double lo_pct, double hi_pct);

/* Gaussian blur, sigma in px (<= 0 copies). tmp: nm_filter_tmp_size(). */
void nm_gauss(const float *in, float *out, int w, int h, double sigma, float *tmp);

/* Mean over the (2r+1)^2 square. tmp: nm_filter_tmp_size(). */
void nm_box_mean(const float *in, float *out, int w, int h, int r, float *tmp);

/* Median over the (2r+1)^2 square of values in [0,1] (quantised to 256
** levels; Huang's sliding histogram, O(r) per pixel). out != in. */
void nm_median(const float *in, float *out, int w, int h, int r);

/* Min (is_max 0) or max (is_max 1) over the (2r+1)^2 square. tmp:
** nm_filter_tmp_size(). */
void nm_minmax(const float *in, float *out, int w, int h, int r, int is_max, float *tmp);

/* Grey opening (min then max: removes bright structures narrower than
** 2r+1) and closing (the dual). tmp as for nm_minmax. out != in. */
void nm_open(const float *in, float *out, int w, int h, int r, float *tmp);
void nm_close(const float *in, float *out, int w, int h, int r, float *tmp);

/* Scratch size in floats (`tmp`) that every function above accepts for a
** w x h image; radii are clamped to max(w, h). The first w*h floats are not
** touched by the filters (callers may keep an image there, as
** nm_threshold_local does). */
size_t nm_filter_tmp_size(int w, int h);

/* Mean of f x f blocks; out is ceil(w/f) x ceil(h/f). */
void nm_downsample(const float *in, int w, int h, int f, float *out);
/* Bilinear resize of the sw x sh image `in` (a downsample by f of w x h)
** back to w x h. */
void nm_upsample(const float *in, int sw, int sh, int f, float *out, int w, int h);

#endif /* NM_FILTER_H */
