/*
** test_features.c — the 30 features against answers known analytically:
** digital discs, rectangles, rotated ellipses, a ring, one pixel, lines,
** intensity statistics, the rotating calipers against brute force on random
** blobs, several labels measured in one pass and errors (the outlier rule:
** test_outliers.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/features.h"
#include "../../ext/segment.h"
#include "check.h"

#define W 160
#define H 140

static int32_t img[W * H];

static void clear(void) { memset(img, 0, sizeof img); }

static void disc(int32_t k, double cx, double cy, double r) {
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) img[y * W + x] = k;
}

static void rect(int32_t k, int x0, int y0, int w, int h) {
  for (int y = y0; y < y0 + h; y++)
    for (int x = x0; x < x0 + w; x++) img[y * W + x] = k;
}

/* Ellipse with semi-axes a > b, major axis at `deg` counter-clockwise on
** screen (y down). */
static void ellipse(int32_t k, double cx, double cy, double a, double b, double deg) {
  double t = deg * M_PI / 180, c = cos(t), s = sin(t);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double dx = x - cx, dy = -(y - cy); /* y up */
      double u = dx * c + dy * s, v = -dx * s + dy * c;
      if ((u * u) / (a * a) + (v * v) / (b * b) <= 1) img[y * W + x] = k;
    }
}

static nm_features one(int32_t n, const float *inten) {
  nm_features f[8];
  nm_error err;
  nm_error_clear(&err);
  memset(f, 0, sizeof f);
  nm_status st = nm_features_compute(img, inten, W, H, n, f, NULL, &err);
  CHECK_OK(st, err);
  return f[0];
}

static void test_disc(double r) {
  clear();
  disc(1, 80.3, 70.6, r);
  nm_features f = one(1, NULL);
  double area = M_PI * r * r;
  CHECK_NEAR(f.area / area, 1, 0.01);
  CHECK_NEAR(f.perimeter / (2 * M_PI * r), 1, 0.03);
  CHECK_NEAR(f.major_axis / (2 * r), 1, 0.01);
  CHECK_NEAR(f.minor_axis / (2 * r), 1, 0.01);
  CHECK(f.eccentricity < 0.15);
  CHECK(f.max_feret >= 2 * r && f.max_feret <= 2 * r + 1.5);
  CHECK(f.min_feret >= 2 * r - 0.5 && f.min_feret <= 2 * r + 1.01);
  /* the corner hull of a digital disc clips background pixel centres near its
  ** oblique edges: 0.96-0.98 for these radii (docs/reference/particles.md) */
  CHECK(f.solidity > 0.96 && f.solidity <= 1.0);
  CHECK_NEAR(f.centroid_x, 80.3, 0.1);
  CHECK_NEAR(f.centroid_y, 70.6, 0.1);
  CHECK_NEAR(f.euler_number, 1, 0);
  CHECK_NEAR(f.filled_area, f.area, 0);
  CHECK_NEAR(f.equiv_diameter, sqrt(4 * f.area / M_PI), 1e-9);
  CHECK(f.circularity > 0.85 && f.circularity <= 1.0);
  CHECK_NEAR(f.convex_perimeter / (2 * M_PI * (r + 0.5)), 1, 0.02);
  CHECK(isnan(f.mean_intensity));
}

static void test_rectangle(void) {
  clear();
  rect(1, 10, 20, 30, 12);
  nm_features f = one(1, NULL);
  CHECK_NEAR(f.area, 360, 0);
  CHECK_NEAR(f.bbox_x, 10, 0);
  CHECK_NEAR(f.bbox_y, 20, 0);
  CHECK_NEAR(f.bbox_w, 30, 0);
  CHECK_NEAR(f.bbox_h, 12, 0);
  CHECK_NEAR(f.extent, 1, 0);
  CHECK_NEAR(f.centroid_x, 24.5, 1e-12);
  CHECK_NEAR(f.centroid_y, 25.5, 1e-12);
  CHECK_NEAR(f.max_feret, sqrt(30.0 * 30 + 12 * 12), 1e-9);
  CHECK_NEAR(fabs(f.max_feret_angle), atan2(12, 30) * 180 / M_PI, 1e-6);
  CHECK_NEAR(f.min_feret, 12, 1e-9);
  CHECK_NEAR(f.min_feret_angle, 90, 1e-9);
  CHECK_NEAR(f.convex_area, 360, 0);
  CHECK_NEAR(f.solidity, 1, 0);
  CHECK_NEAR(f.convex_perimeter, 2 * (30 + 12), 1e-9);
  /* chain through the boundary pixel centres: 2·(29 + 11) */
  CHECK_NEAR(f.perimeter, 80, 1e-9);
  /* uniform rectangle: variances (w² )/12 exactly with the 1/12 term */
  CHECK_NEAR(f.major_axis, 4 * sqrt(30.0 * 30 / 12), 1e-9);
  CHECK_NEAR(f.minor_axis, 4 * sqrt(12.0 * 12 / 12), 1e-9);
  CHECK_NEAR(f.orientation, 0, 1e-9);
  CHECK_NEAR(f.aspect_ratio, 30.0 / 12, 1e-9);
  CHECK_NEAR(f.euler_number, 1, 0);

  clear();
  rect(1, 50, 10, 8, 40); /* tall: orientation 90 */
  f = one(1, NULL);
  CHECK_NEAR(f.orientation, 90, 1e-9);
  CHECK_NEAR(f.min_feret, 8, 1e-9);
  CHECK_NEAR(f.min_feret_angle, 0, 1e-9);
  CHECK_NEAR(fabs(f.max_feret_angle), 90 - atan2(8, 40) * 180 / M_PI, 1e-6);
}

static void test_ellipse_orientation(void) {
  const double angles[] = {-75, -45, -30, -10, 0, 15, 30, 45, 60, 80, 90};
  for (size_t i = 0; i < sizeof angles / sizeof *angles; i++) {
    clear();
    ellipse(1, 80, 70, 40, 15, angles[i]);
    nm_features f = one(1, NULL);
    double d = f.orientation - angles[i];
    if (d > 90) d -= 180;
    if (d < -90) d += 180;
    CHECK_NEAR(d, 0, 1.0);
    CHECK_NEAR(f.major_axis / 80, 1, 0.02);
    CHECK_NEAR(f.minor_axis / 30, 1, 0.04);
    CHECK_NEAR(f.eccentricity, sqrt(1 - (15.0 / 40) * (15.0 / 40)), 0.01);
    /* the longest caliper runs along the major axis */
    double dm = f.max_feret_angle - angles[i];
    if (dm > 90) dm -= 180;
    if (dm < -90) dm += 180;
    CHECK(fabs(dm) < 8);
    CHECK_NEAR(f.max_feret / 81, 1, 0.03);
    CHECK_NEAR(f.min_feret / 31, 1, 0.05);
  }
}

static void test_ring(void) {
  clear();
  disc(1, 80, 70, 30);
  disc(0, 80, 70, 15);
  nm_features f = one(1, NULL);
  CHECK_NEAR(f.euler_number, 0, 0);
  double hole = 0;
  clear();
  disc(1, 80, 70, 15);
  for (int i = 0; i < W * H; i++) hole += img[i] == 1;
  CHECK_NEAR(f.filled_area, f.area + hole, 0);
  CHECK(f.solidity < 0.8);

  /* A second label inside the hole counts as hole of the first. */
  clear();
  disc(1, 80, 70, 30);
  disc(0, 80, 70, 15);
  disc(2, 80, 70, 5);
  nm_features g[2];
  nm_error err;
  CHECK_OK(nm_features_compute(img, NULL, W, H, 2, g, NULL, &err), err);
  CHECK_NEAR(g[0].filled_area, f.filled_area, 0);
  CHECK_NEAR(g[0].euler_number, 0, 0);
  CHECK_NEAR(g[1].euler_number, 1, 0);

  /* Two one-pixel holes: euler −1, filled_area the whole rectangle. */
  clear();
  rect(1, 10, 10, 20, 10);
  img[14 * W + 14] = 0;
  img[14 * W + 20] = 0;
  f = one(1, NULL);
  CHECK_NEAR(f.euler_number, -1, 0);
  CHECK_NEAR(f.filled_area, 200, 0);
  CHECK_NEAR(f.area, 198, 0);
}

static void test_small(void) {
  clear();
  img[5 * W + 7] = 1;
  nm_features f = one(1, NULL);
  CHECK_NEAR(f.area, 1, 0);
  CHECK_NEAR(f.perimeter, 0, 0);
  CHECK_NEAR(f.circularity, 1, 0);
  CHECK_NEAR(f.convex_area, 1, 0);
  CHECK_NEAR(f.max_feret, M_SQRT2, 1e-12);
  CHECK_NEAR(f.min_feret, 1, 1e-12);
  CHECK_NEAR(f.convex_perimeter, 4, 1e-12);
  CHECK_NEAR(f.major_axis, 4 * sqrt(1.0 / 12), 1e-12);
  CHECK_NEAR(f.euler_number, 1, 0);

  /* horizontal line of 10: chain 2·9 */
  clear();
  rect(1, 3, 3, 10, 1);
  f = one(1, NULL);
  CHECK_NEAR(f.perimeter, 18, 1e-12);
  CHECK_NEAR(f.orientation, 0, 1e-12);
  /* diagonal line of 5 pixels: chain 2·4·√2, orientation −45 (down-right) */
  clear();
  for (int i = 0; i < 5; i++) img[(10 + i) * W + 10 + i] = 1;
  f = one(1, NULL);
  CHECK_NEAR(f.perimeter, 8 * M_SQRT2, 1e-12);
  CHECK_NEAR(f.orientation, -45, 1e-9);
  CHECK_NEAR(f.euler_number, 1, 0);
  /* the corner hull of a diagonal staircase passes exactly through the
  ** centres of the background pixels beside it: they are not inside */
  CHECK_NEAR(f.convex_area, 5, 0);

  /* L-shaped tromino: chain E, SW, N = 1 + √2 + 1 */
  clear();
  img[20 * W + 20] = 1;
  img[20 * W + 21] = 1;
  img[21 * W + 20] = 1;
  f = one(1, NULL);
  CHECK_NEAR(f.perimeter, 2 + M_SQRT2, 1e-12);
  CHECK_NEAR(f.convex_area, 3, 0);

  /* A one-pixel neck: two 3×3 squares joined diagonally through one pixel
  ** is traced around both lobes. */
  clear();
  rect(1, 30, 30, 3, 3);
  rect(1, 33, 33, 3, 3);
  f = one(1, NULL);
  CHECK_NEAR(f.perimeter, 8 + 8 + 2 * M_SQRT2, 1e-9);
  CHECK_NEAR(f.euler_number, 1, 0);
}

static void test_intensity(void) {
  static float inten[W * H];
  clear();
  rect(1, 10, 10, 4, 3);
  rect(2, 40, 40, 2, 2);
  double sum = 0, sx = 0, sy = 0, mn = 1e9, mx = -1e9;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      float v = (float)(x * 3 + y * 7 % 11 + 1);
      inten[y * W + x] = v;
      if (img[y * W + x] == 1) {
        sum += v;
        sx += v * x;
        sy += v * y;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
    }
  nm_features f[2];
  nm_error err;
  CHECK_OK(nm_features_compute(img, inten, W, H, 2, f, NULL, &err), err);
  CHECK_NEAR(f[0].mean_intensity, sum / 12, 1e-9);
  CHECK_NEAR(f[0].min_intensity, mn, 0);
  CHECK_NEAR(f[0].max_intensity, mx, 0);
  CHECK_NEAR(f[0].weighted_centroid_x, sx / sum, 1e-9);
  CHECK_NEAR(f[0].weighted_centroid_y, sy / sum, 1e-9);
  CHECK_NEAR(f[1].area, 4, 0);
  CHECK_NEAR(f[1].min_intensity, fmin(fmin(inten[40 * W + 40], inten[40 * W + 41]),
                                      fmin(inten[41 * W + 40], inten[41 * W + 41])), 0);
  CHECK(f[0].label == 1 && f[1].label == 2);
}

/* Brute-force Feret: the projections of every pixel corner on directions
** 0.1° apart, against the calipers on random unions of discs. */
static void test_feret_brute(void) {
  unsigned s = 12345;
  for (int trial = 0; trial < 20; trial++) {
    clear();
    int nb = 1 + trial % 4;
    for (int b = 0; b < nb; b++) {
      s = s * 1103515245u + 12345u;
      double cx = 50 + (s >> 16) % 40;
      s = s * 1103515245u + 12345u;
      double cy = 50 + (s >> 16) % 30;
      s = s * 1103515245u + 12345u;
      double r = 3 + (s >> 16) % 12;
      disc(1, cx, cy, r);
    }
    /* keep it one 8-connected piece is not required for Feret */
    nm_features f = one(1, NULL);
    double maxd = 0, minw = INFINITY;
    int cnt = 0;
    static double px[W * H * 4], py[W * H * 4];
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        if (img[y * W + x] == 1) {
          for (int c = 0; c < 4; c++) {
            px[cnt] = x + ((c & 1) ? 0.5 : -0.5);
            py[cnt] = y + ((c & 2) ? 0.5 : -0.5);
            cnt++;
          }
        }
    for (int deg = 0; deg < 3600; deg++) {
      double t = deg * M_PI / 1800, c = cos(t), sn = sin(t);
      double lo = INFINITY, hi = -INFINITY;
      for (int i = 0; i < cnt; i++) {
        double p = px[i] * c + py[i] * sn;
        if (p < lo) lo = p;
        if (p > hi) hi = p;
      }
      if (hi - lo > maxd) maxd = hi - lo;
      if (hi - lo < minw) minw = hi - lo;
    }
    CHECK_NEAR(f.max_feret, maxd, 1e-3);
    /* the sampled width overshoots its minimum by up to diameter·sin(0.05°) */
    CHECK(f.min_feret <= minw + 1e-9 && f.min_feret >= minw - maxd * 0.0009);
    CHECK(f.convex_area >= f.area && f.solidity <= 1);
  }
}

static void test_errors_and_gaps(void) {
  nm_error err;
  nm_features f[4];
  clear();
  rect(3, 5, 5, 3, 3);
  /* label 3 in an image said to hold 2 labels */
  CHECK(nm_features_compute(img, NULL, W, H, 2, f, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "outside 0..2") != NULL);
  img[0] = -4;
  CHECK(nm_features_compute(img, NULL, W, H, 3, f, NULL, &err) == NM_ERR_ARG);
  img[0] = 0;
  CHECK(nm_features_compute(NULL, NULL, W, H, 3, f, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_features_compute(img, NULL, 0, H, 3, f, NULL, &err) == NM_ERR_ARG);
  /* labels 1, 2 empty: area 0, the rest NAN */
  CHECK_OK(nm_features_compute(img, NULL, W, H, 3, f, NULL, &err), err);
  CHECK(f[0].area == 0 && isnan(f[0].perimeter) && f[0].label == 1);
  CHECK(f[2].area == 9 && f[2].label == 3);
  /* zero labels is fine */
  CHECK_OK(nm_features_compute(img, NULL, W, H, 0, NULL, NULL, &err), err);
  /* nm sizes */
  CHECK_NEAR(nm_feature_nm_value(&f[2], 0, 2.0), 36, 1e-12);
  CHECK(isnan(nm_feature_nm_value(&f[2], 0, NAN)));
  CHECK(isnan(nm_feature_nm_value(&f[2], 0, 0)));
  CHECK_NEAR(nm_feature_nm_value(&f[2], 9, 0.5), f[2].convex_perimeter * 0.5, 1e-12);
  const char *const *nm = nm_feature_nm_names();
  int n = 0;
  while (nm[n]) n++;
  CHECK(n == NM_FEATURE_NM_COUNT);
  const char *const *names = nm_feature_names();
  n = 0;
  while (names[n]) n++;
  CHECK(n == NM_FEATURE_COUNT);
  CHECK(nm_feature_value(&f[2], 0) == 9);
  CHECK(!strcmp(names[29], "convex_perimeter"));
  CHECK(nm_feature_value(&f[2], 29) == f[2].convex_perimeter);
  /* the mask helper */
  uint8_t mask[5 * 5];
  nm_label_mask(img, W, H, 3, 4, 4, 5, 5, 255, mask);
  int on = 0;
  for (int i = 0; i < 25; i++) on += mask[i] == 255;
  CHECK(on == 9 && mask[0] == 0 && mask[6] == 255);
}

static int stop_now(void *ctx, double done, double total, const char *what) {
  (void)ctx, (void)done, (void)total, (void)what;
  return 1;
}

static void test_interrupt(void) {
  clear();
  for (int k = 1; k <= 100; k++) rect(k, (k % 10) * 15, (k / 10) * 13, 5, 5);
  static nm_features f[100];
  nm_error err;
  nm_progress p = {stop_now, NULL};
  CHECK(nm_features_compute(img, NULL, W, H, 100, f, &p, &err) == NM_ERR_INTERRUPTED);
}

int main(void) {
  test_disc(12);
  test_disc(15.5);
  test_disc(17);
  test_rectangle();
  test_ellipse_orientation();
  test_ring();
  test_small();
  test_intensity();
  test_feret_brute();
  test_errors_and_gaps();
  test_interrupt();
  return check_summary("test_features");
}
