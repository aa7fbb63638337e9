/* test_parallel.c — the threaded passes give the same bytes for any thread
** count: the separable filters, the EDT, Otsu, percentiles and the
** polarity blob test on fields large enough to be split (parallel.h), with
** 1, 2, 3 and 5 threads; and nm_slice covers [0, n) in aligned, disjoint
** pieces. Pattern from a fixed seed. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/filter.h"
#include "../../ext/morph.h"
#include "../../ext/parallel.h"
#include "../../ext/polarity.h"
#include "../../ext/threshold.h"
#include "check.h"

static unsigned seed_state = 7;
static double urand(void) {
  seed_state = seed_state * 1664525u + 1013904223u;
  return (seed_state >> 8) / 16777216.0;
}

enum { W = 517, H = 333, NOUT = 16 };

/* Every pass of interest on px, each result appended to out[k]. */
static void run_all(const float *px, float **out, double *scal, nm_blob_score *bs) {
  size_t n = (size_t)W * H;
  float *tmp = malloc(sizeof(float) * nm_filter_tmp_size(W, H));
  uint8_t *m = malloc(n);
  nm_gauss(px, out[0], W, H, 1.0, tmp);
  nm_gauss(px, out[1], W, H, 6.5, tmp);
  nm_minmax(px, out[2], W, H, 3, 0, tmp);
  nm_minmax(px, out[3], W, H, 17, 1, tmp);
  nm_box_mean(px, out[4], W, H, 5, tmp);
  nm_open(px, out[5], W, H, 4, tmp);
  memcpy(out[6], px, sizeof(float) * n);
  nm_close(out[6], out[6], W, H, 9, tmp); /* in place */
  for (size_t i = 0; i < n; i++) m[i] = px[i] > 0.55f;
  nm_error err = {0};
  CHECK_OK(nm_edt(m, W, H, 0, out[7], &err), err);
  CHECK_OK(nm_edt_sq(m, W, H, 1, out[8], &err), err);
  scal[0] = nm_otsu(px, n, NULL);
  scal[1] = nm_otsu(px, n, m);
  scal[2] = nm_percentile(px, n, 0.5);
  scal[3] = nm_percentile(px, n, 99.5);
  CHECK_OK(nm_polarity_blobs(px, W, H, 1.5, bs, &err), err);
  free(tmp);
  free(m);
}

int main(void) {
  size_t n = (size_t)W * H;
  /* blobs on a ramp with noise: every pass has real work on both phases */
  float *px = malloc(sizeof(float) * n);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double v = 0.2 + 0.3 * x / W + 0.1 * urand();
      int cx = (x / 23) * 23 + 11, cy = (y / 23) * 23 + 11;
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < 64) v += 0.4;
      px[(size_t)y * W + x] = (float)v;
    }
  float *ref[NOUT], *got[NOUT];
  for (int k = 0; k < NOUT; k++) {
    ref[k] = calloc(n, sizeof(float));
    got[k] = calloc(n, sizeof(float));
  }
  double rs[4], gs[4];
  nm_blob_score rb, gb;
  nm_threads_set(1);
  run_all(px, ref, rs, &rb);
  int counts[3] = {2, 3, 5};
  for (int c = 0; c < 3; c++) {
    nm_threads_set(counts[c]);
    CHECK(nm_threads_for(n) == counts[c]);
    run_all(px, got, gs, &gb);
    for (int k = 0; k < 9; k++) CHECK(memcmp(ref[k], got[k], sizeof(float) * n) == 0);
    CHECK(memcmp(rs, gs, sizeof rs) == 0);
    CHECK(memcmp(&rb, &gb, sizeof rb) == 0);
  }
  nm_threads_set(0);
  CHECK(nm_threads_for(16) == 1); /* small passes stay on one thread */

  /* slices: contiguous, disjoint, covering, aligned */
  int ns[4] = {0, 1, 100, 1031};
  for (int a = 0; a < 4; a++)
    for (int nt = 1; nt <= 7; nt++) {
      int prev = 0, ok = 1;
      for (int t = 0; t < nt; t++) {
        int lo, hi;
        nm_slice(ns[a], t, nt, 16, &lo, &hi);
        ok &= lo == prev && hi >= lo && (lo % 16 == 0 || lo == ns[a]);
        prev = hi;
      }
      CHECK(ok && prev == ns[a]);
    }
  for (int k = 0; k < NOUT; k++) {
    free(ref[k]);
    free(got[k]);
  }
  free(px);
  return check_summary("test_parallel");
}
