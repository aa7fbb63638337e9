/*
** tools/cnn_spectrum.c — outline spectra of canonical crops, real against
** simulated: how much of each harmonic of the radius function the network
** sees on real ground-truth masks and on the simulator's shapes (docs/cnn.md,
** round 5: the domain gap of round particles).
**
**   cnn_spectrum [-r ../shared/data] [-n 13000] [-s 42] [-S sim_options]
**
** For a crop: R(θ) at 360 angles around the crop centre (the centroid), the
** outermost 0.5 crossing of the bilinearly interpolated crop (8-bit stored
** form, as the network sees it); A_k = 2·|mean R(θ)·e^(−ikθ)| / mean R, the
** relative amplitude of harmonic k. Printed per group: n, the mean A_k for
** k = 2..16 and the RMS of harmonics 3..16 and 7..16. Groups: the real subsets
** (border particles and < 20 px left out, as in cnn_eval) and simulated rows
** 0..n−1 by drawn d, with the near-ellipses of d = 2 (Lratio < 1.25, p 1.6–2.6) apart.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ext/crop.h"
#include "../ext/image.h"
#include "../ext/label.h"
#include "../ext/shape.h"
#include "gt_labels.h"
#include "pairs_tsv.h"
#include "sim_opts_arg.h"

#define KMAX 16
#define NA 360

typedef struct group {
  const char *name;
  size_t n;
  double a[KMAX + 1];
  double hi3, hi7; /* sums of the per-crop RMS of harmonics 3..16 and 7..16 */
} group;

static double pix(const float *c, int size, double x, double y) {
  /* pixel (i, j) covers [i, i+1): its value sits at the centre */
  x -= 0.5, y -= 0.5;
  int i = (int)floor(x), j = (int)floor(y);
  double fx = x - i, fy = y - j, v = 0;
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) {
      int xi = i + dx, yj = j + dy;
      double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
      if (xi >= 0 && yj >= 0 && xi < size && yj < size) v += w * c[yj * size + xi];
    }
  return v;
}

static void spectrum(const float *c, int size, group *g) {
  double r[NA], mean = 0, c0 = size / 2.0;
  for (int t = 0; t < NA; t++) {
    double th = 2 * M_PI * t / NA, co = cos(th), si = sin(th), last = 0, prev = 1;
    for (double s = 0.02; s < c0; s += 0.02) {
      double v = pix(c, size, c0 + s * co, c0 + s * si);
      if (prev >= 0.5 && v < 0.5) last = s - 0.02 * (0.5 - v) / (prev - v + 1e-12);
      prev = v;
    }
    r[t] = last;
    mean += last / NA;
  }
  if (!(mean > 0)) return;
  double hi3 = 0, hi7 = 0;
  for (int k = 1; k <= KMAX; k++) {
    double re = 0, im = 0;
    for (int t = 0; t < NA; t++) {
      double th = 2 * M_PI * t / NA;
      re += r[t] * cos(k * th) / NA;
      im -= r[t] * sin(k * th) / NA;
    }
    double a = 2 * sqrt(re * re + im * im) / mean;
    g->a[k] += a;
    if (k >= 3) hi3 += 0.5 * a * a;
    if (k >= 7) hi7 += 0.5 * a * a;
  }
  g->hi3 += sqrt(hi3);
  g->hi7 += sqrt(hi7);
  g->n++;
}

static void print_group(const group *g) {
  if (!g->n) return;
  printf("| %s | %zu |", g->name, g->n);
  for (int k = 2; k <= KMAX; k++) printf(" %.4f", g->a[k] / g->n);
  printf(" | %.4f | %.4f |\n", g->hi3 / g->n, g->hi7 / g->n);
}

static int real_image(const char *path, const char *kind, group *g) {
  nm_read_opts ro;
  nm_read_opts_default(&ro);
  nm_image im = {0};
  nm_error err;
  if (nm_image_read_file(path, &ro, &im, &err) != NM_OK) {
    fprintf(stderr, "cnn_spectrum: %s\n", err.msg);
    return 1;
  }
  int w = im.width, h = im.height, count = 0;
  int32_t *lab = gt_labels(&im, !strcmp(kind, "labels"), &count);
  nm_image_free(&im);
  if (!lab) {
    fprintf(stderr, "cnn_spectrum: cannot label %s\n", path);
    return 1;
  }
  int *bx = malloc(sizeof(int) * (count + 1) * 4);
  long *area = calloc(count + 1, sizeof(long));
  for (int k = 0; k <= count; k++) bx[4 * k] = bx[4 * k + 1] = 1 << 30, bx[4 * k + 2] = bx[4 * k + 3] = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int k = lab[(size_t)y * w + x];
      if (k <= 0) continue;
      area[k]++;
      if (x < bx[4 * k]) bx[4 * k] = x;
      if (y < bx[4 * k + 1]) bx[4 * k + 1] = y;
      if (x > bx[4 * k + 2]) bx[4 * k + 2] = x;
      if (y > bx[4 * k + 3]) bx[4 * k + 3] = y;
    }
  float crop[NM_CROP_SIZE * NM_CROP_SIZE];
  uint8_t u[NM_CROP_SIZE * NM_CROP_SIZE];
  for (int k = 1; k <= count; k++) {
    int *b = bx + 4 * k;
    if (area[k] < 20 || b[0] == 0 || b[1] == 0 || b[2] == w - 1 || b[3] == h - 1) continue;
    if (nm_crop_from_labels(lab, w, h, k, b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1, NM_CROP_SIZE,
                            crop, &err) != NM_OK)
      continue;
    nm_crop_to_u8(crop, NM_CROP_SIZE, u);
    for (int i = 0; i < NM_CROP_SIZE * NM_CROP_SIZE; i++) crop[i] = u[i] / 255.0f;
    spectrum(crop, NM_CROP_SIZE, g);
  }
  free(lab);
  free(bx);
  free(area);
  return 0;
}

static int real_set(const char *root, const char *set, group *gs, int ng) {
  FILE *f = pairs_open(root, set);
  if (!f) {
    fprintf(stderr, "cnn_spectrum: cannot open %s/%s/pairs.tsv (skipped)\n", root, set);
    return 0;
  }
  char path[4096];
  pairs_row r;
  int rc = 0;
  while (!rc && pairs_next(f, &r)) {
    group *g = &gs[0];
    for (int i = 0; i < ng; i++)
      if (!strncmp(r.img_base, gs[i].name, strlen(gs[i].name))) g = &gs[i];
    snprintf(path, sizeof path, "%s/%s/%s", root, set, r.gt);
    rc = real_image(path, r.kind, g);
  }
  fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  const char *root = "../shared/data";
  size_t n = 13000;
  uint64_t seed = 42;
  nm_sim_opts so;
  nm_sim_opts_default(&so);
  int c;
  while ((c = getopt(argc, argv, "r:n:s:S:")) != -1) {
    if (c == 'r') root = optarg;
    else if (c == 'n') n = strtoull(optarg, NULL, 10);
    else if (c == 's') seed = strtoull(optarg, NULL, 10);
    else if (c == 'S') {
      if (!parse_sim_opts(optarg, &so)) return 2;
    } else {
      fprintf(stderr, "usage: %s [-r data_root] [-n sim_rows] [-s seed] [-S sim_options]\n", argv[0]);
      return 2;
    }
  }
  printf("| group | n | A_2 … A_16 | RMS 3–16 | RMS 7–16 |\n| --- | --- | --- | --- | --- |\n");
  group at[2] = {{.name = "tetra_"}, {.name = "prism_"}}, ms[1] = {{.name = "msa-bf-tem"}};
  if (real_set(root, "au-tetra-prism", at, 2) || real_set(root, "msa-bf-tem", ms, 1)) return 1;
  print_group(&at[0]);
  print_group(&at[1]);
  print_group(&ms[0]);
  group sim[7] = {{.name = "sim d=2 L<1.25 p 1.6-2.6"}, {.name = "sim d=2 other"}, {.name = "sim d=3"},
                  {.name = "sim d=4"}, {.name = "sim d=5"}, {.name = "sim d=6"}, {.name = "sim other"}};
  static float crop[NM_CROP_SIZE * NM_CROP_SIZE];
  static uint8_t u[NM_CROP_SIZE * NM_CROP_SIZE];
  if (so.size != NM_CROP_SIZE) return fprintf(stderr, "cnn_spectrum: size must be %d\n", NM_CROP_SIZE), 2;
  for (size_t i = 0; i < n; i++) {
    nm_shape s;
    nm_error err;
    if (nm_sim_example(&so, seed, (int64_t)i, &s, crop, NULL, NULL, NULL, &err) != NM_OK) {
      fprintf(stderr, "cnn_spectrum: row %zu: %s\n", i, err.msg);
      return 1;
    }
    nm_crop_to_u8(crop, NM_CROP_SIZE, u);
    for (int j = 0; j < NM_CROP_SIZE * NM_CROP_SIZE; j++) crop[j] = u[j] / 255.0f;
    int d = (int)lround(s.d);
    group *g = d == 2 ? &sim[s.lratio < 1.25 && s.p >= 1.6 && s.p <= 2.6 ? 0 : 1] : d >= 3 && d <= 6 ? &sim[d - 1] : &sim[6];
    spectrum(crop, NM_CROP_SIZE, g);
  }
  for (int i = 0; i < 7; i++) print_group(&sim[i]);
  return 0;
}
