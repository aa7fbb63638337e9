/* test_fit.c — re-simulation Jaccard, baselines and shape_fit on rendered shapes. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/fit.h"
#include "../../ext/shape.h"
#include "check.h"

#define DEG (M_PI / 180)

/* A w×w mask of eq. 1 (coverage ≥ ½), largest radius ≈ rad px. */
static uint8_t *render_mask(double p, double d, double l, double phi, double rad, int *w) {
  nm_shape s;
  nm_error err;
  nm_shape_init(&s, p, d, l, phi);
  double area, gx, gy, rmax;
  nm_shape_moments(&s, 2048, &area, &gx, &gy, &rmax);
  int W = (int)(2 * rad + 12);
  float *cov = calloc((size_t)W * W, sizeof(float));
  nm_shape_render(&s, W / 2.0 + 0.31, W / 2.0 - 0.17, rad / rmax, W, W, 8, 1.0f, cov, &err);
  uint8_t *m = malloc((size_t)W * W);
  for (int i = 0; i < W * W; i++) m[i] = cov[i] >= 0.5f;
  free(cov);
  *w = W;
  return m;
}

/* angle difference modulo the period, in degrees */
static double ang_diff(double a, double b, double period) {
  double x = fmod(fabs(a - b), period);
  return fmin(x, period - x) / DEG;
}

int main(void) {
  nm_error err;
  int W;
  double j, phi;

  /* resim_jaccard = 1 ± 0.01 on a rendered shape with its own triplet, and
  ** the rotation it finds is the shape's own (φ on the 1° grid). */
  static const double cases[][4] = {
      {2, 2, 1.8, 30}, {4, 3, 1.6, 77}, {8, 4, 1.2, 13}, {1.5, 5, 2.0, 41},
      {3, 6, 1.4, 5},  {3, 1, 2.3, 200}, {12, 2, 2.5, 100}, {6, 3, 2.2, 250}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    double p = cases[c][0], d = cases[c][1], l = cases[c][2], ph = cases[c][3] * DEG;
    uint8_t *m = render_mask(p, d, l, ph, 35, &W);
    CHECK_OK(nm_resim_jaccard(m, W, W, W, p, d, l, &j, &phi, &err), err);
    CHECK_NEAR(j, 1.0, 0.01);
    CHECK(ang_diff(phi, ph, 2 * M_PI / d) <= 1.01);
    /* a wrong triplet scores clearly lower */
    double j2;
    CHECK_OK(nm_resim_jaccard(m, W, W, W, p, d == 6 ? 5 : d + 1, l, &j2, NULL, &err), err);
    CHECK(j2 < j - 0.03);
    free(m);
  }

  /* Baselines: a disc is its own circle and ellipse; an ellipse (p = 2,
  ** d = 2, Lratio = 2) is its own moment ellipse and beats the circle. */
  {
    uint8_t *m = render_mask(2, 2, 1, 0, 30, &W);
    nm_fit_mask *fm;
    CHECK_OK(nm_fit_mask_prepare(m, W, W, W, &fm, &err), err);
    double jc, je, le;
    CHECK_OK(nm_fit_baselines(fm, &jc, &je, &le, &err), err);
    CHECK_NEAR(jc, 1, 0.01);
    CHECK_NEAR(je, 1, 0.01);
    CHECK_NEAR(le, 1, 0.02);
    long area;
    double cx, cy;
    nm_fit_mask_info(fm, &area, &cx, &cy);
    CHECK_NEAR(area / (M_PI * 900), 1, 0.01);
    CHECK_NEAR(cx, W / 2.0 + 0.31 - 0.5, 0.05);
    nm_fit_mask_free(fm);
    free(m);
    m = render_mask(2, 2, 2, 0.6, 40, &W);
    CHECK_OK(nm_fit_mask_prepare(m, W, W, W, &fm, &err), err);
    CHECK_OK(nm_fit_baselines(fm, &jc, &je, &le, &err), err);
    CHECK_NEAR(je, 1, 0.01);
    CHECK_NEAR(le, 2, 0.06);
    CHECK(jc < 0.85);
    nm_fit_mask_free(fm);
    free(m);
  }

  /* shape_fit recovers a rendered shape's triplet. */
  static const double fits[][4] = {
      {4, 3, 1.8, 20}, {8, 4, 1.3, 61}, {2, 2, 2.0, 10}, {1.2, 5, 1.7, 33}, {10, 3, 2.5, 95}};
  for (size_t c = 0; c < sizeof fits / sizeof fits[0]; c++) {
    double p = fits[c][0], d = fits[c][1], l = fits[c][2], ph = fits[c][3] * DEG;
    uint8_t *m = render_mask(p, d, l, ph, 40, &W);
    nm_fit_mask *fm;
    CHECK_OK(nm_fit_mask_prepare(m, W, W, W, &fm, &err), err);
    nm_fit_opts o;
    nm_fit_opts_default(&o);
    nm_fit_result r, r2;
    CHECK_OK(nm_shape_fit(fm, &o, &r, &err), err);
    CHECK(r.d == d);
    CHECK_NEAR(log(r.p / p), 0, 0.35);
    CHECK_NEAR(r.lratio, l, 0.15);
    CHECK(r.jaccard >= 0.97);
    CHECK(ang_diff(r.phi, ph, 2 * M_PI / d) <= 3);
    /* its Jaccard is the protocol's number for the returned triplet */
    CHECK_OK(nm_fit_jaccard(fm, r.p, r.d, r.lratio, &j, NULL, &err), err);
    CHECK_NEAR(j, r.jaccard, 1e-12);
    /* deterministic */
    CHECK_OK(nm_shape_fit(fm, &o, &r2, &err), err);
    CHECK(memcmp(&r, &r2, sizeof r) == 0);
    /* from a nearby start (a CNN's guess, continuous d) it gets there too */
    CHECK_OK(nm_fit_opts_set(&o, "start", NAN, "[3.0, 3.4, 1.5]", &err), err);
    o.grid_starts = 1;
    o.restarts = 0;
    CHECK_OK(nm_shape_fit(fm, &o, &r2, &err), err);
    CHECK(r2.jaccard >= 0.97);
    nm_fit_mask_free(fm);
    free(m);
  }

  /* Non-integer d (raw CNN output) is scored, d = 1 too. */
  {
    uint8_t *m = render_mask(4, 3, 1.8, 0, 30, &W);
    CHECK_OK(nm_resim_jaccard(m, W, W, W, 4, 2.8, 1.8, &j, &phi, &err), err);
    CHECK(j > 0.5 && j < 0.99);
    free(m);
  }

  /* Errors. */
  {
    uint8_t z[16] = {0};
    nm_fit_mask *fm = NULL;
    CHECK(nm_fit_mask_prepare(z, 4, 4, 4, &fm, &err) == NM_ERR_ARG && fm == NULL);
    CHECK(nm_fit_mask_prepare(z, 0, 4, 4, &fm, &err) == NM_ERR_ARG);
    CHECK(nm_fit_mask_prepare(z, 4, 4, 3, &fm, &err) == NM_ERR_ARG);
    CHECK(nm_fit_mask_prepare(z, 1 << 13, 1 << 13, 1 << 13, &fm, &err) == NM_ERR_TOOBIG);
    z[5] = 1;
    CHECK(nm_resim_jaccard(z, 4, 4, 4, 0, 2, 1, &j, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_resim_jaccard(z, 4, 4, 4, 2, NAN, 1, &j, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_resim_jaccard(z, 4, 4, 4, 2, 2, -1, &j, NULL, &err) == NM_ERR_ARG);
    /* a one-pixel mask is valid */
    CHECK_OK(nm_resim_jaccard(z, 4, 4, 4, 2, 2, 1, &j, NULL, &err), err);
    CHECK(j > 0 && j <= 1);
    nm_fit_opts o;
    nm_fit_opts_default(&o);
    CHECK(nm_fit_opts_set(&o, "bogus", 1, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'bogus' is unknown") != NULL);
    CHECK(nm_fit_opts_set(&o, "start", NAN, "[1, 2]", &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "start", NAN, "[0, 2, 1]", &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "start", 3, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "d", NAN, "[0, 6]", &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "d", NAN, "[1.5, 6]", &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "p", NAN, "[5, 1]", &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "restarts", -1, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_fit_opts_set(&o, "max_evals", 2, NULL, &err) == NM_ERR_ARG);
    CHECK(o.has_start == 0 && o.restarts == 1 && o.d_min == 1); /* refused values left it alone */
    CHECK_OK(nm_fit_opts_set(&o, "d", 3, NULL, &err), err);
    CHECK(o.d_min == 3 && o.d_max == 3);
  }
  return check_summary("test_fit");
}
