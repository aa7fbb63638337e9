/* test_morph.c — EDT against brute force on random masks, disc erosion /
** dilation against their definitions, hole filling. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/morph.h"
#include "check.h"

static unsigned rng_state = 12345u;
static unsigned rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

static double brute(const uint8_t *m, int w, int h, int x, int y, int invert) {
  double best = 1e30;
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++) {
      int target = invert ? m[yy * w + xx] != 0 : m[yy * w + xx] == 0;
      if (!target) continue;
      double d = (double)(xx - x) * (xx - x) + (double)(yy - y) * (yy - y);
      if (d < best) best = d;
    }
  return best;
}

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  /* EDT: random masks of several densities and shapes, exact to float rounding */
  for (int trial = 0; trial < 16; trial++) {
    int w = 5 + (int)(rnd() % 40), h = 5 + (int)(rnd() % 40);
    /* percent foreground: dense masks, and sparse ones (whole rows and
    ** columns without a target under invert) */
    int density = trial < 8 ? 50 + (int)(rnd() % 49) : 1 + (int)(rnd() % 20);
    uint8_t *m = malloc((size_t)w * h);
    float *d = malloc(sizeof(float) * (size_t)w * h);
    for (int i = 0; i < w * h; i++) m[i] = (int)(rnd() % 100) < density;
    m[(rnd() % h) * w + rnd() % w] = 0; /* at least one background pixel */
    CHECK_OK(nm_edt_sq(m, w, h, 0, d, &err), err);
    int bad = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) bad += fabs(d[y * w + x] - brute(m, w, h, x, y, 0)) > 1e-3;
    CHECK(bad == 0);
    m[(rnd() % h) * w + rnd() % w] = 1;
    CHECK_OK(nm_edt_sq(m, w, h, 1, d, &err), err);
    bad = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) bad += fabs(d[y * w + x] - brute(m, w, h, x, y, 1)) > 1e-3;
    CHECK(bad == 0);
    free(m);
    free(d);
  }
  /* EDT of a single background pixel in the centre: radial distance */
  {
    int w = 31, h = 21;
    uint8_t m[31 * 21];
    float d[31 * 21];
    memset(m, 1, sizeof m);
    m[10 * w + 15] = 0;
    CHECK_OK(nm_edt(m, w, h, 0, d, &err), err);
    CHECK_NEAR(d[0], sqrt(15.0 * 15 + 10 * 10), 1e-4);
    CHECK_NEAR(d[10 * w + 30], 15.0, 1e-5);
    /* no background at all: capped at w + h */
    memset(m, 1, sizeof m);
    CHECK_OK(nm_edt(m, w, h, 0, d, &err), err);
    CHECK_NEAR(d[5 * w + 5], w + h, 1e-3);
  }
  /* disc erosion / dilation: a disc of radius 12 eroded by 4 is a disc of ~8 */
  {
    int w = 41, h = 41, c = 20;
    uint8_t m[41 * 41], e[41 * 41];
    float tmp[41 * 41];
    int area = 0, aexp = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int r2 = (x - c) * (x - c) + (y - c) * (y - c);
        m[y * w + x] = r2 <= 144;
        aexp += r2 <= 64;
      }
    CHECK_OK(nm_erode_disc(m, e, w, h, 4.0, tmp, &err), err);
    for (int i = 0; i < w * h; i++) area += e[i];
    CHECK_NEAR(area, aexp, 0.15 * aexp);
    CHECK_OK(nm_dilate_disc(e, e, w, h, 4.0, tmp, &err), err);
    int back = 0, outside = 0;
    for (int i = 0; i < w * h; i++) {
      back += e[i];
      outside += e[i] && !m[i];
    }
    int full = 0;
    for (int i = 0; i < w * h; i++) full += m[i];
    CHECK_NEAR(back, full, 0.08 * full); /* opening of a disc is nearly the disc */
    CHECK(outside == 0);
  }
  /* hole filling: a ring becomes a disc; a C shape open to the border stays */
  {
    int w = 30, h = 30;
    uint8_t m[900];
    int32_t q[900];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int r2 = (x - 15) * (x - 15) + (y - 15) * (y - 15);
        m[y * w + x] = r2 <= 100 && r2 >= 25;
      }
    nm_fill_holes(m, w, h, q);
    CHECK(m[15 * w + 15] == 1);
    CHECK(m[0] == 0);
    memset(m, 0, sizeof m);
    for (int y = 5; y < 25; y++) m[y * w + 5] = m[y * w + 6] = 1; /* a wall */
    for (int x = 5; x < 30; x++) m[5 * w + x] = m[24 * w + x] = 1;  /* reaching the edge */
    nm_fill_holes(m, w, h, q);
    CHECK(m[15 * w + 20] == 0); /* the inside is open at the right border */
  }
  /* disc erosion and dilation (whose row pass leaves out the parabolas
  ** beyond r^2) agree with thresholding the full squared EDT, on random
  ** blobs with salt noise, for radii from 0 to past the image */
  {
    int w = 97, h = 61;
    size_t n = (size_t)w * h;
    uint8_t *m = calloc(n, 1), *o = malloc(n);
    float *d = malloc(sizeof(float) * n), *full = malloc(sizeof(float) * n);
    unsigned s = 5;
    for (int b = 0; b < 12; b++) {
      s = s * 1103515245u + 12345u;
      int cx = (int)((s >> 8) % (unsigned)w);
      s = s * 1103515245u + 12345u;
      int cy = (int)((s >> 8) % (unsigned)h), r = 3 + b;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) m[(size_t)y * w + x] = 1;
    }
    for (size_t i = 0; i < n; i++) {
      s = s * 1103515245u + 12345u;
      if (((s >> 10) & 31) == 0) m[i] ^= 1;
    }
    double radii[7] = {0, 0.5, 1.5, 2.9, 6, 13.3, 500};
    int bad_e = 0, bad_d = 0;
    for (int k = 0; k < 7; k++) {
      float r2 = (float)(radii[k] * radii[k]);
      CHECK_OK(nm_edt_sq(m, w, h, 0, full, &err), err);
      CHECK_OK(nm_erode_disc(m, o, w, h, radii[k], d, &err), err);
      for (size_t i = 0; i < n; i++) bad_e += o[i] != (m[i] && full[i] > r2);
      CHECK_OK(nm_edt_sq(m, w, h, 1, full, &err), err);
      CHECK_OK(nm_dilate_disc(m, o, w, h, radii[k], d, &err), err);
      for (size_t i = 0; i < n; i++) bad_d += o[i] != (m[i] || full[i] <= r2);
    }
    CHECK(bad_e == 0);
    CHECK(bad_d == 0);
    free(m);
    free(o);
    free(d);
    free(full);
  }
  return check_summary("test_morph");
}
