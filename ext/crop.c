/*
** crop.c — the canonical crop (see crop.h for the format).
**
** Area sampling: every output pixel is split into S×S sub-samples, each mapped
** back into the mask (nearest mask pixel, pixel centres at integer
** coordinates) and the output value is the fraction that land on the
** particle. S grows with the downscale factor so that a large mask shrunk to
** 64 px still averages every mask pixel it covers (S ≥ 2 per mask pixel along
** each axis, capped at 16); pure float arithmetic in a fixed order, so equal
** masks give equal bytes.
*/
#include "crop.h"

#include <math.h>
#include <stdlib.h>

#include "image.h"

#define CROP_MAX_SIZE 4096
#define CROP_MIN_SUB 4
#define CROP_MAX_SUB 16

nm_status nm_crop_geometry(const uint8_t *mask, int w, int h, int stride,
                           double *cx, double *cy, double *radius,
                           nm_error *err) {
  if (!mask || w <= 0 || h <= 0 || stride < w)
    return nm_fail(err, NM_ERR_ARG, "crop: bad mask geometry %dx%d (stride %d)", w, h, stride);
  double sx = 0, sy = 0;
  long n = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *row = mask + (size_t)y * (size_t)stride;
    for (int x = 0; x < w; x++)
      if (row[x]) {
        sx += x;
        sy += y;
        n++;
      }
  }
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "crop: the mask is empty");
  double mx = sx / (double)n, my = sy / (double)n;
  double r2 = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *row = mask + (size_t)y * (size_t)stride;
    double dy = y - my;
    for (int x = 0; x < w; x++)
      if (row[x]) {
        double dx = x - mx, d2 = dx * dx + dy * dy;
        if (d2 > r2) r2 = d2;
      }
  }
  *cx = mx;
  *cy = my;
  /* + half a pixel: the farthest pixel's centre is inside the particle, its
  ** outer edge is where the boundary lies; this also keeps one-pixel masks
  ** from having radius 0. */
  *radius = sqrt(r2) + NM_CROP_PIXEL_EDGE;
  return NM_OK;
}

nm_status nm_crop_from_mask(const uint8_t *mask, int w, int h, int stride,
                            int size, float *out, nm_error *err) {
  if (size < 4 || size > CROP_MAX_SIZE)
    return nm_fail(err, NM_ERR_ARG, "crop: size %d outside 4..%d", size, CROP_MAX_SIZE);
  if (!out) return nm_fail(err, NM_ERR_ARG, "crop: no output buffer");
  double cx, cy, radius;
  nm_status st = nm_crop_geometry(mask, w, h, stride, &cx, &cy, &radius, err);
  if (st != NM_OK) return st;

  /* mask pixels per output pixel */
  double scale = radius / (NM_CROP_RADIUS_FRACTION * size);
  int sub = (int)ceil(2.0 * scale);
  if (sub < CROP_MIN_SUB) sub = CROP_MIN_SUB;
  if (sub > CROP_MAX_SUB) sub = CROP_MAX_SUB;
  double half = 0.5 * size, inv = 1.0 / (double)(sub * sub);

  /* Per-axis lookup of the mask index of each sub-sample: the mapping is
  ** separable, so compute it once per row/column (−1 = outside the mask). */
  int ns = size * sub;
  int *ix = malloc(sizeof(int) * (size_t)ns * 2);
  if (!ix) return nm_fail(err, NM_ERR_NOMEM, "crop: out of memory");
  int *iy = ix + ns;
  for (int k = 0; k < ns; k++) {
    double o = ((double)k + 0.5) / sub - half;
    double m = floor(cx + o * scale + 0.5);
    ix[k] = (m >= 0 && m < w) ? (int)m : -1;
    m = floor(cy + o * scale + 0.5);
    iy[k] = (m >= 0 && m < h) ? (int)m : -1;
  }
  for (int oy = 0; oy < size; oy++) {
    for (int ox = 0; ox < size; ox++) {
      int hits = 0;
      for (int b = 0; b < sub; b++) {
        int my = iy[oy * sub + b];
        if (my < 0) continue;
        const uint8_t *row = mask + (size_t)my * (size_t)stride;
        for (int a = 0; a < sub; a++) {
          int mx = ix[ox * sub + a];
          if (mx >= 0 && row[mx]) hits++;
        }
      }
      out[(size_t)oy * size + ox] = (float)(hits * inv);
    }
  }
  free(ix);
  return NM_OK;
}

nm_status nm_crop_from_labels(const int32_t *labels, int width, int height,
                              int32_t k, int x0, int y0, int bw, int bh,
                              int size, float *out, nm_error *err) {
  if (!labels || width <= 0 || height <= 0)
    return nm_fail(err, NM_ERR_ARG, "crop: bad label image %dx%d", width, height);
  if (bw <= 0 || bh <= 0 || x0 < 0 || y0 < 0 || x0 > width - bw || y0 > height - bh)
    return nm_fail(err, NM_ERR_ARG, "crop: box (%d,%d %dx%d) outside the %dx%d label image",
                   x0, y0, bw, bh, width, height);
  uint8_t *m = nm_malloc((size_t)bw, (size_t)bh, err);
  if (!m) return err ? err->code : NM_ERR_NOMEM;
  size_t n = 0;
  for (int y = 0; y < bh; y++) {
    const int32_t *row = labels + (size_t)(y0 + y) * (size_t)width + x0;
    for (int x = 0; x < bw; x++) n += (m[(size_t)y * bw + x] = row[x] == k);
  }
  nm_status st = n ? nm_crop_from_mask(m, bw, bh, bw, size, out, err)
                   : nm_fail(err, NM_ERR_ARG, "crop: label %d has no pixel in its box", (int)k);
  free(m);
  return st;
}

void nm_crop_to_u8(const float *crop, int size, uint8_t *out) {
  size_t n = (size_t)size * (size_t)size;
  for (size_t i = 0; i < n; i++) {
    float v = crop[i];
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    out[i] = (uint8_t)lrintf(v * 255.0f);
  }
}

nm_status nm_crop_encode_png(const float *crop, int size, unsigned char **png,
                             size_t *png_n, nm_error *err) {
  if (!crop || size < 1 || size > CROP_MAX_SIZE)
    return nm_fail(err, NM_ERR_ARG, "crop: bad crop size %d", size);
  uint8_t *u = nm_malloc((size_t)size, (size_t)size, err);
  if (!u) return err ? err->code : NM_ERR_NOMEM;
  nm_crop_to_u8(crop, size, u);
  nm_status st = nm_png_encode(u, size, size, 8, 1, png, png_n, err);
  free(u);
  return st;
}
