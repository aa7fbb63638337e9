/* test_polarity.c — the blob test of polarity.h and the automatic polarity
** of nm_segment on fields where the histogram misleads: particles covering
** 75-80 % of the field with narrow gaps (the most frequent level is the
** particles', and for bright particles nothing is above it, which the
** histogram cue alone reads as a bright-field film), in both polarities and
** at two sizes; and sparse bright particles on a mid-grey noisy support.
** Known limit, not tested: exactly touching small discs, whose gaps blur
** into round dots that look like particles too (docs/accuracy.md).
** Noise from a fixed seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/polarity.h"
#include "../../ext/segment.h"
#include "check.h"

static unsigned seed_state;
static double urand(void) {
  seed_state = seed_state * 1664525u + 1013904223u;
  return (seed_state >> 8) / 16777216.0;
}
static double nrand(void) {
  return (urand() + urand() + urand() + urand() - 2.0) * 1.7320508;
}

/* Hexagonal packing of discs of radius r, centre spacing s, level fg on bg,
** plus a linear illumination ramp and Gaussian noise sd. */
static float *hex_field(int w, int h, double r, double s, double bg, double fg, double sd) {
  float *px = malloc(sizeof(float) * (size_t)w * h);
  double dy = s * sqrt(3.0) / 2;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double v = bg;
      int row = (int)floor(y / dy);
      for (int j = row - 1; j <= row + 2; j++) {
        double cy = j * dy, off = (j & 1) ? s / 2 : 0;
        int col = (int)floor((x - off) / s);
        for (int i = col - 1; i <= col + 2; i++) {
          double cx = i * s + off;
          if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) v = fg;
        }
      }
      px[(size_t)y * w + x] = (float)(v + 0.1 * (fg - bg) * x / w + sd * nrand());
    }
  return px;
}

static float *stretch01(const float *px, size_t n) {
  float lo = px[0], hi = px[0];
  for (size_t i = 0; i < n; i++) lo = px[i] < lo ? px[i] : lo, hi = px[i] > hi ? px[i] : hi;
  float *o = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) o[i] = (px[i] - lo) / (hi - lo);
  return o;
}

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  int w = 256, h = 224;
  size_t n = (size_t)w * h;
  /* r 14 / spacing 30 (2 px gaps, discs cover ~79 % of the field) and
  ** r 24 / spacing 52 (4 px gaps, ~77 %), each as bright field (dark
  ** discs) and dark field (bright discs) */
  const double radius[2] = {14, 24}, spacing[2] = {30, 52};
  for (int k = 0; k < 2; k++)
    for (int dark = 0; dark < 2; dark++) {
      seed_state = 7 + (unsigned)(2 * k + dark);
      float *px = dark ? hex_field(w, h, radius[k], spacing[k], 190, 70, 14)
                       : hex_field(w, h, radius[k], spacing[k], 60, 200, 14);
      float *s01 = stretch01(px, n);
      nm_blob_score bs;
      CHECK_OK(nm_polarity_blobs(s01, w, h, 1.5, &bs, &err), err);
      /* the particle phase: most of its area in blob-like pieces; the
      ** gaps: hardly any */
      CHECK(bs.blob_frac[dark] > 0.5);
      CHECK(bs.blob_frac[!dark] < 0.2);
      CHECK(bs.phase_frac[dark] > 0.6);
      /* dark field: the automatic scale only looks at structures under
      ** 1/20 of the field (documented limit), so it is given; the
      ** polarity stays automatic */
      nm_segment_opts *o = nm_segment_opts_new();
      if (!dark) CHECK_OK(nm_segment_opts_set(o, "scale_px", 2 * radius[k], NULL, &err), err);
      nm_segmentation seg;
      CHECK_OK(nm_segment(px, w, h, o, NULL, &seg, &err), err);
      nm_segment_opts_free(o);
      CHECK(seg.dark_particles == dark);
      /* and the discs come out as particles: at least half of the
      ** interior ones (~40 and ~14) kept */
      int kept = 0;
      for (int l = 1; l <= seg.count; l++) kept += seg.excluded[l] == NM_EXCL_NONE;
      CHECK(kept >= (k ? 7 : 20));
      nm_segmentation_free(&seg);
      free(s01);
      free(px);
    }
  /* sparse bright particles (d = 12) on a mid-grey noisy support that
  ** fills the field: the most frequent level is mid-range with the
  ** particles above it */
  {
    seed_state = 11;
    float *px = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) px[i] = (float)(100 + 10 * nrand());
    for (int k = 0; k < 30; k++) {
      int cx = 12 + (k % 6) * 42, cy = 14 + (k / 6) * 44;
      for (int y = cy - 6; y <= cy + 6; y++)
        for (int x = cx - 6; x <= cx + 6; x++)
          if (x >= 0 && y >= 0 && x < w && y < h && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= 36)
            px[(size_t)y * w + x] += 80;
    }
    float *s01 = stretch01(px, n);
    nm_blob_score bs;
    CHECK_OK(nm_polarity_blobs(s01, w, h, 1.5, &bs, &err), err);
    CHECK(bs.blob_frac[0] > bs.blob_frac[1] + 0.2);
    nm_segmentation seg;
    CHECK_OK(nm_segment(px, w, h, NULL, NULL, &seg, &err), err);
    CHECK(seg.dark_particles == 0);
    nm_segmentation_free(&seg);
    free(s01);
    free(px);
  }
  /* errors are values */
  {
    nm_blob_score bs;
    float px[4] = {0, 1, 0, 1};
    CHECK(nm_polarity_blobs(px, 2, 2, 1, &bs, &err) == NM_ERR_ARG);
    CHECK(nm_polarity_blobs(NULL, 10, 10, 1, &bs, &err) == NM_ERR_ARG);
  }
  return check_summary("test_polarity");
}
