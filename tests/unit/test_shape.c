/* test_shape.c — eq. 1 renderer properties, simulator determinism and splits. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/crop.h"
#include "../../ext/shape.h"
#include "check.h"

static double sum_f(const float *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  return s;
}

/* sqrt of the eigenvalue ratio of the image's second central moments */
static double axis_ratio(const float *v, int w, int h) {
  double s = 0, sx = 0, sy = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double a = v[y * w + x];
      s += a;
      sx += a * (x + 0.5);
      sy += a * (y + 0.5);
    }
  double mx = sx / s, my = sy / s, cxx = 0, cyy = 0, cxy = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double a = v[y * w + x], dx = x + 0.5 - mx, dy = y + 0.5 - my;
      cxx += a * dx * dx;
      cyy += a * dy * dy;
      cxy += a * dx * dy;
    }
  double tr = cxx + cyy, det = cxx * cyy - cxy * cxy;
  double l1 = tr / 2 + sqrt(tr * tr / 4 - det), l2 = tr / 2 - sqrt(tr * tr / 4 - det);
  return sqrt(l1 / l2);
}

int main(void) {
  nm_error err;
  nm_shape s;
  const int W = 96;
  float *img = calloc(W * W, sizeof(float)), *img2 = calloc(W * W, sizeof(float));

  /* p = 2, d = 2, Lratio = 1 is a disc: radius 1, area πr² within 1 %. */
  nm_shape_init(&s, 2, 2, 1, 0.7);
  for (int k = 0; k < 50; k++) CHECK_NEAR(nm_shape_radius(&s, k * 0.13), 1.0, 1e-12);
  double area, gx, gy, rmax;
  nm_shape_moments(&s, 2048, &area, &gx, &gy, &rmax);
  CHECK_NEAR(area, M_PI, 1e-4);
  CHECK_NEAR(gx, 0, 1e-9);
  CHECK_NEAR(gy, 0, 1e-9);
  double r = 20;
  CHECK_OK(nm_shape_render(&s, 47.3, 45.8, r, W, W, 16, 1.0f, img, &err), err);
  CHECK_NEAR(sum_f(img, W * W) / (M_PI * r * r), 1.0, 0.01);
  /* anti-aliased, coverage in [0, 1] */
  int partial = 0, ok = 1;
  for (int i = 0; i < W * W; i++) {
    partial += img[i] > 0.02f && img[i] < 0.98f;
    ok &= img[i] >= 0 && img[i] <= 1.0001f;
  }
  CHECK(ok);
  CHECK(partial > 60);
  /* a small disc too (r = 3 px) */
  memset(img, 0, sizeof(float) * W * W);
  CHECK_OK(nm_shape_render(&s, 10.5, 10.5, 3, W, W, 16, 1.0f, img, &err), err);
  CHECK_NEAR(sum_f(img, W * W) / (M_PI * 9), 1.0, 0.01);

  /* d-fold symmetry: R(θ + 2π/d) = R(θ), the centroid is the origin, and
  ** rendering at φ and φ + 2π/d gives the same image. */
  for (int d = 1; d <= 6; d++) {
    nm_shape_init(&s, 3.5, d, 1.8, 0.3);
    double maxdiff = 0;
    for (int k = 0; k < 100; k++) {
      double th = k * 0.0731;
      double a = nm_shape_radius(&s, th), b = nm_shape_radius(&s, th + 2 * M_PI / d);
      if (fabs(a - b) > maxdiff) maxdiff = fabs(a - b);
    }
    CHECK_NEAR(maxdiff, 0, 1e-9);
    nm_shape_moments(&s, 2048, &area, &gx, &gy, &rmax);
    if (d >= 2) {
      CHECK_NEAR(gx, 0, 1e-6);
      CHECK_NEAR(gy, 0, 1e-6);
    } else {
      CHECK(fabs(gx) + fabs(gy) > 0.01); /* d = 1 is asymmetric */
    }
    memset(img, 0, sizeof(float) * W * W);
    memset(img2, 0, sizeof(float) * W * W);
    CHECK_OK(nm_shape_render(&s, 48, 48, 25, W, W, 16, 1.0f, img, &err), err);
    s.phi += 2 * M_PI / d;
    CHECK_OK(nm_shape_render(&s, 48, 48, 25, W, W, 16, 1.0f, img2, &err), err);
    double md = 0;
    for (int i = 0; i < W * W; i++)
      if (fabs(img[i] - img2[i]) > md) md = fabs(img[i] - img2[i]);
    CHECK_NEAR(md, 0, 0.01);
    /* a rotation by a quarter of the period changes it (d ≥ 2 not a disc) */
    memset(img2, 0, sizeof(float) * W * W);
    s.phi += 0.25 * 2 * M_PI / d;
    CHECK_OK(nm_shape_render(&s, 48, 48, 25, W, W, 16, 1.0f, img2, &err), err);
    md = 0;
    for (int i = 0; i < W * W; i++)
      if (fabs(img[i] - img2[i]) > md) md = fabs(img[i] - img2[i]);
    CHECK(md > 0.5);
    /* rendered area equals the polygon area */
    CHECK_NEAR(sum_f(img, W * W) / (area * 625), 1.0, 0.01);
  }

  /* Lratio stretches the axis ratio: p = 2, d = 2 is an ellipse with axes
  ** 1 and 1/Lratio. */
  double ls[] = {1.0, 1.5, 2.0, 3.0};
  for (int i = 0; i < 4; i++) {
    nm_shape_init(&s, 2, 2, ls[i], 0.4);
    memset(img, 0, sizeof(float) * W * W);
    CHECK_OK(nm_shape_render(&s, 48, 48, 40, W, W, 16, 1.0f, img, &err), err);
    CHECK_NEAR(axis_ratio(img, W, W), ls[i], 0.02 * ls[i]);
    nm_shape_moments(&s, 2048, &area, NULL, NULL, NULL);
    CHECK_NEAR(area, M_PI / ls[i], 1e-3);
  }
  /* and for another family member it still grows monotonically */
  double prev = 0;
  for (int i = 0; i < 4; i++) {
    nm_shape_init(&s, 6, 2, ls[i], 0);
    memset(img, 0, sizeof(float) * W * W);
    CHECK_OK(nm_shape_render(&s, 48, 48, 30, W, W, 8, 1.0f, img, &err), err);
    double ar = axis_ratio(img, W, W);
    CHECK(ar >= prev - 1e-6);
    prev = ar;
  }
  /* large p (square) is stable; small p is star-like (smaller area) */
  nm_shape_init(&s, 1000, 4, 1, 0);
  CHECK(isfinite(nm_shape_radius(&s, 0.5)));
  nm_shape_init(&s, 0.5, 4, 1, 0);
  nm_shape_moments(&s, 4096, &area, NULL, NULL, &rmax);
  CHECK(area < 0.8 * M_PI);
  CHECK_NEAR(rmax, 1.0, 1e-3);

  /* the corner factor enlarges the shape between axes */
  nm_shape_init(&s, 2, 3, 1.5, 0);
  double r0 = nm_shape_radius(&s, M_PI / 6);
  s.corner_a = 0.5;
  CHECK(nm_shape_radius(&s, M_PI / 6) > r0);

  /* Errors. */
  nm_shape_init(&s, 0, 2, 1, 0);
  CHECK(nm_shape_check(&s, &err) == NM_ERR_ARG);
  nm_shape_init(&s, 2, NAN, 1, 0);
  CHECK(nm_shape_check(&s, &err) == NM_ERR_ARG);
  nm_shape_init(&s, 2, 2, -1, 0);
  CHECK(nm_shape_check(&s, &err) == NM_ERR_ARG);
  nm_shape_init(&s, 2, 2, 1, INFINITY);
  CHECK(nm_shape_check(&s, &err) == NM_ERR_ARG);
  nm_shape_init(&s, 2, 2, 1, 0);
  CHECK(nm_shape_render(&s, 0, 0, 10, 0, 10, 4, 1, img, &err) == NM_ERR_ARG);
  CHECK(nm_shape_render(&s, 0, 0, -1, 10, 10, 4, 1, img, &err) == NM_ERR_ARG);
  CHECK(nm_shape_render(&s, 0, 0, 1, 10, 10, 0, 1, img, &err) == NM_ERR_ARG);
  CHECK(nm_shape_render(&s, 1e300, 0, 1, 10, 10, 4, 1, img, &err) == NM_ERR_ARG);
  /* a shape entirely outside the frame draws nothing */
  memset(img, 0, sizeof(float) * W * W);
  CHECK_OK(nm_shape_render(&s, -500, 40, 10, W, W, 4, 1, img, &err), err);
  CHECK(sum_f(img, W * W) == 0);

  /* ------------------------------------------------------------ simulator */
  nm_sim_opts o;
  nm_sim_opts_default(&o);
  const int S = o.size;
  float *c1 = malloc(sizeof(float) * S * S), *c2 = malloc(sizeof(float) * S * S);
  nm_shape s1, s2;
  /* determinism: same seed/id → same bytes; other seed → other bytes */
  int same = 1, differ = 0;
  for (int id = 0; id < 20; id++) {
    CHECK_OK(nm_sim_example(&o, 42, id, &s1, c1, NULL, NULL, NULL, &err), err);
    CHECK_OK(nm_sim_example(&o, 42, id, &s2, c2, NULL, NULL, NULL, &err), err);
    same &= memcmp(c1, c2, sizeof(float) * S * S) == 0 && memcmp(&s1, &s2, sizeof s1) == 0;
    CHECK_OK(nm_sim_example(&o, 43, id, &s2, c2, NULL, NULL, NULL, &err), err);
    differ += memcmp(c1, c2, sizeof(float) * S * S) != 0;
    /* the image is a canonical crop: mass centred within half a pixel */
    double m = 0, mx = 0, my = 0;
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++) {
        m += c1[y * S + x];
        mx += c1[y * S + x] * (x + 0.5);
        my += c1[y * S + x] * (y + 0.5);
      }
    CHECK_NEAR(mx / m, S / 2.0, 0.5);
    CHECK_NEAR(my / m, S / 2.0, 0.5);
    nm_shape s3;
    nm_sim_params(&o, 42, id, &s3);
    CHECK(memcmp(&s1, &s3, sizeof s1) == 0);
  }
  CHECK(same);
  CHECK(differ == 20);
  /* noise off: the crop of the clean shape; it differs from the noisy one but
  ** keeps the triplet */
  nm_sim_opts oc = o;
  oc.noise = 0;
  CHECK_OK(nm_sim_example(&o, 5, 3, &s1, c1, NULL, NULL, NULL, &err), err);
  CHECK_OK(nm_sim_example(&oc, 5, 3, &s2, c2, NULL, NULL, NULL, &err), err);
  CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
  CHECK(memcmp(c1, c2, sizeof(float) * S * S) != 0);
  /* the grey micrograph is returned on request */
  float *grey = NULL;
  int gw = 0, gh = 0;
  CHECK_OK(nm_sim_example(&o, 5, 3, &s1, c1, &grey, &gw, &gh, &err), err);
  CHECK(grey && gw >= o.frame_min && gw <= o.frame_max && gh == gw);
  free(grey);

  /* parameter distributions stay in range and hit every d (default 2..6);
  ** p: 0.9 of the draws in the core [1.5, 10], the rest log-uniform over
  ** [0.5, 20] (of which ln(10/1.5)/ln(40) = 51 % is core too) → 95 %;
  ** wobble RMS in [0, 0.05] */
  int dh[7] = {0}, inr = 1, core = 0;
  double wmax = 0;
  for (int id = 0; id < 3000; id++) {
    nm_sim_params(&o, 1, id, &s1);
    inr &= s1.p >= 0.5 && s1.p <= 20 && s1.lratio >= 1 && s1.lratio <= 3 && s1.phi >= 0 &&
           s1.phi < 2 * M_PI && s1.d >= 2 && s1.d <= 6 && s1.d == floor(s1.d);
    if (s1.d >= 1 && s1.d <= 6) dh[(int)s1.d]++;
    core += s1.p >= 1.5 && s1.p <= 10;
    double ss = 0;
    for (int k = 0; k < NM_SHAPE_WOBBLE; k++) ss += 0.5 * s1.wob_amp[k] * s1.wob_amp[k];
    if (sqrt(ss) > wmax) wmax = sqrt(ss);
  }
  CHECK(inr);
  for (int d = 2; d <= 6; d++) CHECK_NEAR(dh[d], 600, 100);
  CHECK_NEAR(core / 3000.0, 0.9 + 0.1 * log(10 / 1.5) / log(40), 0.03);
  CHECK(wmax <= 0.05 + 1e-12 && wmax > 0.045);
  /* the d option still reaches d = 1, weight 0 is plain log-uniform */
  nm_sim_opts od = o;
  CHECK_OK(nm_sim_opts_set(&od, "d", NAN, "[1, 6]", &err), err);
  CHECK_OK(nm_sim_opts_set(&od, "p_core_weight", 0, NULL, &err), err);
  CHECK(nm_sim_opts_set(&od, "p_core_weight", 1.5, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&od, "wobble", NAN, "[0, 0.2]", &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&od, "p_core", NAN, "[3, 2]", &err) == NM_ERR_ARG);
  int d1 = 0;
  core = 0;
  for (int id = 0; id < 3000; id++) {
    nm_sim_params(&od, 1, id, &s1);
    d1 += s1.d == 1;
    core += s1.p >= 1.5 && s1.p <= 10;
  }
  CHECK_NEAR(d1, 500, 100);
  CHECK_NEAR(core / 3000.0, log(10 / 1.5) / log(40), 0.03);
  /* wobble: a perturbed outline, R(θ)·(1 + Σ a_k cos(kθ + φ_k)) */
  nm_shape sw;
  nm_shape_init(&sw, 2, 2, 1, 0);
  CHECK_NEAR(nm_shape_radius(&sw, 0.3), 1, 1e-12);
  sw.wob_amp[1] = 0.05; /* harmonic 3 */
  CHECK_NEAR(nm_shape_radius(&sw, 0), 1.05, 1e-12);
  CHECK_NEAR(nm_shape_radius(&sw, M_PI / 3), 0.95, 1e-12);
  CHECK_OK(nm_shape_check(&sw, &err), err);
  sw.wob_amp[0] = 0.6;
  CHECK(nm_shape_check(&sw, &err) == NM_ERR_ARG);
  /* wobble_h2 weights harmonic 2 only; round_weight turns a share of the
  ** rows into near-round ellipses and leaves the others as they were */
  {
    nm_sim_opts oh = o, orw = o, o0 = o;
    CHECK_OK(nm_sim_opts_set(&o0, "wobble_h2", 1, NULL, &err), err);
    CHECK_OK(nm_sim_opts_set(&o0, "round_weight", 0, NULL, &err), err);
    CHECK_OK(nm_sim_opts_set(&oh, "wobble_h2", 0, NULL, &err), err);
    CHECK_OK(nm_sim_opts_set(&orw, "round_weight", 0.3, NULL, &err), err);
    CHECK_OK(nm_sim_opts_set(&orw, "round_lratio", NAN, "[1, 1.2]", &err), err);
    CHECK(nm_sim_opts_set(&orw, "wobble_h2", 1.5, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_sim_opts_set(&orw, "round_weight", -0.1, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_sim_opts_set(&orw, "round_lratio", NAN, "[1.2, 1]", &err) == NM_ERR_ARG);
    int same_h = 1, moved_r = 0, kept_r = 1, round_r = 0;
    for (int id = 0; id < 2000; id++) {
      nm_shape a, b, c;
      nm_sim_params(&o0, 3, id, &a);
      nm_sim_params(&oh, 3, id, &b);
      nm_sim_params(&orw, 3, id, &c);
      same_h &= b.wob_amp[0] == 0 && b.p == a.p && b.d == a.d && b.lratio == a.lratio;
      for (int k = 1; k < NM_SHAPE_WOBBLE; k++) same_h &= b.wob_amp[k] == a.wob_amp[k];
      if (c.d != a.d || c.lratio != a.lratio) {
        moved_r++;
        kept_r &= c.d == 2 && c.lratio >= 1 && c.lratio <= 1.2 && c.p >= 1.8 && c.p <= 2.3;
      }
      round_r += c.d == 2 && c.lratio <= 1.2;
    }
    CHECK(same_h && kept_r);
    /* 30 % drawn round, plus d = 2 rows with Lratio ≤ 1.2 anyway (0.7·0.2·0.1) */
    CHECK_NEAR(round_r / 2000.0, 0.3 + 0.7 * 0.2 * 0.1, 0.03);
    CHECK_NEAR(moved_r / 2000.0, 0.3, 0.03);
  }

  /* splits: exactly 70/10/20 per block of ten, seed-dependent order */
  int sc[3] = {0}, moved = 0;
  for (int id = 0; id < 1000; id++) {
    int sp = nm_sim_split(42, id);
    sc[sp]++;
    moved += sp != nm_sim_split(7, id);
    CHECK(sp == nm_sim_split(42, id));
  }
  CHECK(sc[0] == 700 && sc[1] == 100 && sc[2] == 200);
  CHECK(moved > 100);
  CHECK(strcmp(nm_sim_split_name(1), "val") == 0);

  /* options */
  CHECK_OK(nm_sim_opts_set(&o, "p", NAN, "[1, 4]", &err), err);
  CHECK(o.p_min == 1 && o.p_max == 4);
  CHECK_OK(nm_sim_opts_set(&o, "d", 3, NULL, &err), err);
  CHECK(o.d_min == 3 && o.d_max == 3);
  CHECK(nm_sim_opts_set(&o, "bogus", 1, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "'bogus' is unknown") != NULL);
  CHECK(nm_sim_opts_set(&o, "d", 2.5, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "p", NAN, "[4, 1]", &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "p", NAN, "[1, 2, 3]", &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "p", NAN, "hello", &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "p", NAN, "[0, 2]", &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "fill", NAN, "[0.5, 1.5]", &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "noise", 2, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "size", 7, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_sim_opts_set(&o, "corner_a", NAN, "x", &err) == NM_ERR_ARG);
  CHECK_OK(nm_sim_opts_set(&o, "size", 32, NULL, &err), err);
  CHECK_OK(nm_sim_example(&o, 1, 1, &s1, c1, NULL, NULL, NULL, &err), err);
  CHECK(s1.d == 3 && s1.p >= 1 && s1.p <= 4);

  /* Otsu and the largest-filled-component helper */
  float bim[100];
  for (int i = 0; i < 100; i++) bim[i] = i < 60 ? 0.2f + 0.001f * i : 0.8f + 0.001f * i;
  double t = nm_otsu_float(bim, 100);
  CHECK(t > 0.26 && t <= 0.8);
  uint8_t m[144] = {0};
  /* a ring (8×8 square with a 4×4 hole) and a lone pixel */
  for (int y = 1; y < 9; y++)
    for (int x = 1; x < 9; x++) m[y * 12 + x] = !(y >= 3 && y < 7 && x >= 3 && x < 7);
  m[0] = 1; /* touches the ring diagonally at (1,1): 8-connected, same component */
  m[11 * 12 + 11] = 1; /* isolated */
  CHECK(nm_mask_largest_filled(m, 12, 12) == 65);
  CHECK(m[11 * 12 + 11] == 0 && m[5 * 12 + 5] == 1 && m[0] == 1);
  uint8_t z[4] = {0};
  CHECK(nm_mask_largest_filled(z, 2, 2) == 0);

  free(c1);
  free(c2);
  free(img);
  free(img2);
  return check_summary("test_shape");
}
