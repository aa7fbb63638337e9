/*
** crop_figures.c — the pictures of docs/crop.md: real particles and
** simulated ones, each as its grey surroundings and as its canonical crop.
** Real particles come only from the CC BY 4.0 sets (nanoshapes, msa-bf-tem),
** since the figure is committed; au-tetra-prism may not be copied.
**
**   usage: crop_figures DATA_DIR OUT_DIR   (writes crop_real.png, crop_sim.png)
**
** Each row of a figure holds pairs (grey context | canonical crop), 64 px
** tiles. Real particles: interior ground-truth particles of nanoshapes
** and msa-bf-tem (the micrograph around the particle's box, and
** nm_crop_from_labels of its label). Simulated: simulate(…, 42) rows, the
** noisy small micrograph and the image column.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/crop.h"
#include "../ext/image.h"
#include "../ext/shape.h"
#include "gt_labels.h"
#include "png_file.h"

#define T NM_CROP_SIZE

/* grey patch (x0, y0, s×s) of img, min–max stretched, nearest-neighbour to T×T */
static void tile_grey(const float *px, int w, int h, double x0, double y0, double s, uint8_t *dst,
                      int stride) {
  float mn = 1e30f, mx = -1e30f;
  for (int y = 0; y < T; y++)
    for (int x = 0; x < T; x++) {
      int sx = (int)(x0 + (x + 0.5) * s / T), sy = (int)(y0 + (y + 0.5) * s / T);
      if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
      float v = px[(size_t)sy * w + sx];
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
  for (int y = 0; y < T; y++)
    for (int x = 0; x < T; x++) {
      int sx = (int)(x0 + (x + 0.5) * s / T), sy = (int)(y0 + (y + 0.5) * s / T);
      uint8_t v = 0;
      if (sx >= 0 && sy >= 0 && sx < w && sy < h && mx > mn)
        v = (uint8_t)(255 * (px[(size_t)sy * w + sx] - mn) / (mx - mn));
      dst[(size_t)y * stride + x] = v;
    }
}

static void tile_crop(const float *c, uint8_t *dst, int stride) {
  for (int y = 0; y < T; y++)
    for (int x = 0; x < T; x++) dst[(size_t)y * stride + x] = (uint8_t)(255 * c[y * T + x] + 0.5f);
}

/* up to `want` interior particles of one image pair, into tiles */
static int real_pairs(const char *img_path, const char *lab_path, int binary, int want,
                      uint8_t *fig, int W, int *slot, int max_slots) {
  nm_image im, lb;
  nm_read_opts ro;
  nm_error err;
  memset(&im, 0, sizeof im);
  memset(&lb, 0, sizeof lb);
  nm_read_opts_default(&ro);
  if (nm_image_read_file(img_path, &ro, &im, &err) || nm_image_read_file(lab_path, &ro, &lb, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    nm_image_free(&im);
    return 0;
  }
  int w = lb.width, h = lb.height, got = 0;
  int nl = 0;
  int32_t *lab = gt_labels(&lb, !binary, &nl);
  if (!lab) {
    fprintf(stderr, "crop_figures: cannot label %s\n", lab_path);
    nm_image_free(&im);
    nm_image_free(&lb);
    return 0;
  }
  float crop[T * T];
  for (int k = 1; k < 10000 && got < want && *slot < max_slots; k++) {
    int x0 = w, y0 = h, x1 = -1, y1 = -1, n = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        if (lab[(size_t)y * w + x] == k) {
          n++;
          x0 = x < x0 ? x : x0;
          x1 = x > x1 ? x : x1;
          y0 = y < y0 ? y : y0;
          y1 = y > y1 ? y : y1;
        }
    if (n == 0) {
      if (k > 64) break;
      continue;
    }
    if (n < 200 || x0 == 0 || y0 == 0 || x1 == w - 1 || y1 == h - 1) continue;
    if (nm_crop_from_labels(lab, w, h, k, x0, y0, x1 - x0 + 1, y1 - y0 + 1, T, crop, &err)) continue;
    int row = *slot / 4, col = *slot % 4;
    uint8_t *dst = fig + (size_t)row * T * W + col * 2 * T;
    double s = 1.3 * ((x1 - x0) > (y1 - y0) ? (x1 - x0 + 1) : (y1 - y0 + 1));
    tile_grey(im.px, im.width, im.height, 0.5 * (x0 + x1 + 1) - s / 2, 0.5 * (y0 + y1 + 1) - s / 2, s,
              dst, W);
    tile_crop(crop, dst + T, W);
    (*slot)++;
    got++;
  }
  free(lab);
  nm_image_free(&im);
  nm_image_free(&lb);
  return got;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: crop_figures DATA_DIR OUT_DIR\n");
    return 2;
  }
  const int ROWS = 4, W = 4 * 2 * T, H = ROWS * T;
  uint8_t *fig = calloc((size_t)W * H, 1);
  char a[4096], b[4096], out[4096];
  int slot = 0;
  /* only openly licensed sets (CC BY 4.0, see samples/README.md): the
  ** figure is committed */
  static const char *real[][3] = {
      {"nanoshapes", "images/Cu-s-16_0004.png", "masks/Cu-s-16_0004.png"},
      {"nanoshapes", "images/LZCu52_0022.png", "masks/LZCu52_0022.png"},
      {"nanoshapes", "images/Picture_0.png", "masks/Picture_0.png"},
      {"msa-bf-tem", "images/train_00.png", "masks/train_00.png"},
      {"msa-bf-tem", "images/test_05.png", "masks/test_05.png"}};
  static const int take[] = {4, 4, 4, 2, 2};
  for (int i = 0; i < 5; i++) {
    snprintf(a, sizeof a, "%s/%s/%s", argv[1], real[i][0], real[i][1]);
    snprintf(b, sizeof b, "%s/%s/%s", argv[1], real[i][0], real[i][2]);
    real_pairs(a, b, i >= 3, take[i], fig, W, &slot, ROWS * 4);
  }
  snprintf(out, sizeof out, "%s/crop_real.png", argv[2]);
  if (png_file_write(out, fig, W, H, 1)) return 1;

  memset(fig, 0, (size_t)W * H);
  nm_sim_opts o;
  nm_sim_opts_default(&o);
  float crop[T * T];
  for (int id = 0; id < ROWS * 4; id++) {
    float *grey = NULL;
    int gw, gh;
    nm_shape s;
    nm_error err;
    if (nm_sim_example(&o, 42, id, &s, crop, &grey, &gw, &gh, &err)) return 1;
    int row = id / 4, col = id % 4;
    uint8_t *dst = fig + (size_t)row * T * W + col * 2 * T;
    tile_grey(grey, gw, gh, 0, 0, gw, dst, W);
    tile_crop(crop, dst + T, W);
    free(grey);
  }
  snprintf(out, sizeof out, "%s/crop_sim.png", argv[2]);
  if (png_file_write(out, fig, W, H, 1)) return 1;
  free(fig);
  return 0;
}
