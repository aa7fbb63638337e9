/* test_segment_refine.c — per-particle outline refinement on blurred discs
** whose edge is known: the mid level of a logistic edge profile
** 1/(1+exp((r-R)/s)) lies exactly at r = R, whatever the particle's contrast,
** so a refined outline must enclose pi R^2 however loose or tight the
** starting outline was and whatever the particle's own contrast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/filter.h"
#include "../../ext/label.h"
#include "../../ext/rng.h"
#include "../../ext/segment_refine.h"
#include "check.h"

typedef struct blob {
  double x, y, R, c; /* centre, edge radius, contrast above background */
} blob;

static void render(float *img, int w, int h, const blob *b, int nb, double s) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double v = 0;
      for (int k = 0; k < nb; k++) {
        double r = hypot(x - b[k].x, y - b[k].y);
        v += b[k].c / (1 + exp((r - b[k].R) / s));
      }
      img[y * w + x] = (float)v;
    }
}

/* labels: disc of radius rk around each blob, label k+1 */
static void discs(int32_t *lab, int w, int h, const blob *b, int nb, const double *rk) {
  memset(lab, 0, sizeof(int32_t) * (size_t)w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < nb; k++)
        if (hypot(x - b[k].x, y - b[k].y) <= rk[k]) lab[y * w + x] = k + 1;
}

static void areas(const int32_t *lab, size_t n, int count, double *a) {
  for (int k = 0; k <= count; k++) a[k] = 0;
  for (size_t i = 0; i < n; i++)
    if (lab[i] > 0 && lab[i] <= count) a[lab[i]]++;
}

/* A radial particle at the centre of an RW x RW field, intensity f(r):
** raw is it blurred by `blur` px (0: as drawn), fn raw blurred by 1 px more,
** sm the drawing blurred by 4 px; lb scratch labels. */
enum { RW = 160 };
typedef struct radial_field {
  float *tr, *raw, *sm, *fn, *tmp;
  int32_t *lb;
} radial_field;

static radial_field radial_new(float (*f)(double), double blur) {
  radial_field F;
  size_t n = (size_t)RW * RW;
  F.tr = malloc(sizeof(float) * n), F.raw = malloc(sizeof(float) * n);
  F.sm = malloc(sizeof(float) * n), F.fn = malloc(sizeof(float) * n);
  F.tmp = malloc(sizeof(float) * nm_filter_tmp_size(RW, RW));
  F.lb = malloc(sizeof(int32_t) * n);
  for (int y = 0; y < RW; y++)
    for (int x = 0; x < RW; x++) F.tr[y * RW + x] = f(hypot(x - RW / 2, y - RW / 2));
  if (blur > 0) nm_gauss(F.tr, F.raw, RW, RW, blur, F.tmp);
  else memcpy(F.raw, F.tr, sizeof(float) * n);
  nm_gauss(F.tr, F.sm, RW, RW, 4, F.tmp);
  nm_gauss(F.raw, F.fn, RW, RW, 1, F.tmp);
  return F;
}

static void radial_free(radial_field *F) {
  free(F->tr), free(F->raw), free(F->sm), free(F->fn), free(F->tmp), free(F->lb);
}

/* lb: one particle, the disc of radius rr at the centre */
static void radial_disc(int32_t *lb, double rr) {
  for (int y = 0; y < RW; y++)
    for (int x = 0; x < RW; x++) lb[y * RW + x] = hypot(x - RW / 2, y - RW / 2) <= rr;
}

/* grey rim thinning from 1 at r = 12 to 0.5 at 24, then a step to 0 */
static float rim_step(double r) { return (float)(r < 12 ? 1 : r < 24 ? 1 - 0.5 * (r - 12) / 12 : 0); }

/* linear ramp from 1 at r = 14 to 0 at 24, no step */
static float ramp(double r) { return (float)(r < 14 ? 1 : r < 24 ? (24 - r) / 10 : 0); }

int main(void) {
  enum { W = 160, H = 100 };
  static float img[W * H];
  static int32_t lab[W * H], before[W * H];
  nm_error err;
  nm_error_clear(&err);
  double a[4];

  /* 1. a bright and a faint particle, both R = 18: starting outlines too
  ** loose (R + 6) and too tight (R - 6) come back to pi R^2 within 5 % */
  {
    blob b[2] = {{40, 50, 18, 1.0}, {115, 50, 18, 0.25}};
    render(img, W, H, b, 2, 2.0);
    const double starts[2][2] = {{24, 24}, {12, 12}};
    for (int t = 0; t < 2; t++) {
      discs(lab, W, H, b, 2, starts[t]);
      nm_refine_stats rs;
      CHECK_OK(nm_refine_outlines(img, W, H, lab, 2, 0.5, 0.6, 0, 0, NAN, 0, 1, &rs, &err), err);
      CHECK(rs.refined == 2);
      areas(lab, (size_t)W * H, 2, a);
      CHECK_NEAR(a[1], M_PI * 18 * 18, 0.05 * M_PI * 18 * 18);
      CHECK_NEAR(a[2], M_PI * 18 * 18, 0.05 * M_PI * 18 * 18);
    }
  }

  /* 2. a global level (0.2) too high for the faint particle and too low for
  ** the bright one: each particle's own mid level fixes both */
  {
    blob b[2] = {{40, 50, 15, 1.0}, {115, 50, 15, 0.3}};
    render(img, W, H, b, 2, 2.5);
    for (size_t i = 0; i < (size_t)W * H; i++) lab[i] = 0;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        if (img[y * W + x] > 0.2f) lab[y * W + x] = x < W / 2 ? 1 : 2;
    areas(lab, (size_t)W * H, 2, a);
    CHECK(a[1] > 1.15 * M_PI * 15 * 15); /* the premise: one too big */
    CHECK(a[2] < 0.85 * M_PI * 15 * 15); /* and one too small */
    CHECK_OK(nm_refine_outlines(img, W, H, lab, 2, 0.5, 0.6, 0, 0, NAN, 0, 1, NULL, &err), err);
    areas(lab, (size_t)W * H, 2, a);
    CHECK_NEAR(a[1], M_PI * 15 * 15, 0.06 * M_PI * 15 * 15);
    CHECK_NEAR(a[2], M_PI * 15 * 15, 0.06 * M_PI * 15 * 15);
    /* anchored half-way to the global level 0.2: the bright one stays
    ** between its own edge and the global outline */
    for (size_t i = 0; i < (size_t)W * H; i++)
      lab[i] = img[i] > 0.2f ? ((int)(i % W) < W / 2 ? 1 : 2) : 0;
    double aglob[3];
    areas(lab, (size_t)W * H, 2, aglob);
    CHECK_OK(nm_refine_outlines(img, W, H, lab, 2, 0.5, 0.6, 0, 0, 0.2, 0.5, 1, NULL, &err), err);
    areas(lab, (size_t)W * H, 2, a);
    CHECK(a[1] > 1.05 * M_PI * 15 * 15 && a[1] < 0.97 * aglob[1]);
  }

  /* 3. two touching particles of different labels: no pixel changes hands,
  ** and both keep a label */
  {
    blob b[2] = {{60, 50, 16, 1.0}, {92, 50, 16, 0.6}};
    render(img, W, H, b, 2, 1.5);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        lab[y * W + x] = img[y * W + x] > 0.15f ? (x < 76 ? 1 : 2) : 0;
    memcpy(before, lab, sizeof lab);
    CHECK_OK(nm_refine_outlines(img, W, H, lab, 2, 0.5, 0.6, 0, 0, NAN, 0, 1, NULL, &err), err);
    int swapped = 0;
    for (size_t i = 0; i < (size_t)W * H; i++)
      swapped += before[i] > 0 && lab[i] > 0 && before[i] != lab[i];
    CHECK(swapped == 0);
    areas(lab, (size_t)W * H, 2, a);
    CHECK(a[1] > 0.7 * M_PI * 16 * 16 && a[2] > 0.6 * M_PI * 16 * 16);
  }

  /* 4. a hollow particle (bright ring): the hole is filled with its label */
  {
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        double r = hypot(x - 80, y - 50);
        img[y * W + x] = r < 20 && r > 8 ? 1.0f : 0.0f;
        lab[y * W + x] = r < 20 ? 1 : 0;
      }
    CHECK_OK(nm_refine_outlines(img, W, H, lab, 1, 0.5, 0.6, 0, 0, NAN, 0, 1, NULL, &err), err);
    CHECK(lab[50 * W + 80] == 1);
  }

  /* 5. the steepest-iso-line search finds the logistic edge too */
  {
    blob b[1] = {{80, 50, 20, 1.0}};
    render(img, W, H, b, 1, 2.0);
    double r0[1] = {26};
    discs(lab, W, H, b, 1, r0);
    CHECK_OK(nm_refine_outlines(img, W, H, lab, 1, 0.5, 0.6, 1, 0, NAN, 0, 1, NULL, &err), err);
    areas(lab, (size_t)W * H, 1, a);
    CHECK_NEAR(a[1], M_PI * 20 * 20, 0.08 * M_PI * 20 * 20);
  }

  /* 5b. the per-image gate of the edge search: a particle with a sharp step
  ** at R = 20 (0.45 of its contrast) over a soft core (0.55, edge at r = 10,
  ** width 2): its steepest iso-line is the step, its mid level lies inside
  ** (r ~ 15). On a flat background (ring gradient 0) a ratio gate of 3 lets
  ** the steepest line through; with strong stripes in the background (ring
  ** gradient above the step's own) the fixed level stays, pixel for pixel */
  {
    int32_t *fixed = malloc(sizeof(int32_t) * (size_t)W * H);
    double r0[1] = {24};
    blob b[1] = {{80, 50, 20, 1.0}};
    for (int striped = 0; striped < 2; striped++) {
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          double r = hypot(x - 80, y - 50);
          double v = 0.45 / (1 + exp((r - 20) / 0.7)) + 0.55 / (1 + exp((r - 10) / 2));
          if (striped && r > 23) v += 0.25 * (1 + sin(x * 2.0));
          img[y * W + x] = (float)v;
        }
      discs(lab, W, H, b, 1, r0);
      CHECK_OK(nm_refine_outlines(img, W, H, lab, 1, 0.5, 0.6, 0, 0, NAN, 0, 1, NULL, &err), err);
      memcpy(fixed, lab, sizeof(int32_t) * (size_t)W * H);
      double af[2];
      areas(fixed, (size_t)W * H, 1, af);
      discs(lab, W, H, b, 1, r0);
      CHECK_OK(nm_refine_outlines(img, W, H, lab, 1, 0.5, 0.6, 1, 3, NAN, 0, 1, NULL, &err), err);
      areas(lab, (size_t)W * H, 1, a);
      if (!striped) {
        CHECK(af[1] < 0.8 * M_PI * 20 * 20); /* the mid level lies inside */
        CHECK_NEAR(a[1], M_PI * 20 * 20, 0.1 * M_PI * 20 * 20);
      } else {
        CHECK(memcmp(fixed, lab, sizeof(int32_t) * (size_t)W * H) == 0);
        /* and without the gate the steepest line would have been taken */
        discs(lab, W, H, b, 1, r0);
        CHECK_OK(nm_refine_outlines(img, W, H, lab, 1, 0.5, 0.6, 1, 0, NAN, 0, 1, NULL, &err),
                 err);
        areas(lab, (size_t)W * H, 1, a);
        CHECK(a[1] > af[1] * 1.2);
      }
    }
    free(fixed);
  }

  /* 7. a textured film (smoothed Gaussian noise over particle and film
  ** alike, robust sigma 0.4 of the contrast): the edge goes to 2 sigma above
  ** the film (segment_refine.c, noise_shift), i.e. where the logistic profile
  ** reaches that fraction, r = R + s ln(1/f - 1), as one piece; the same
  ** particle on a clean film keeps its half-contrast outline (pi R^2) */
  {
    enum { W2 = 200, H2 = 200 };
    float *im2 = malloc(sizeof(float) * W2 * H2), *nz = malloc(sizeof(float) * W2 * H2);
    float *tmp = malloc(sizeof(float) * nm_filter_tmp_size(W2, H2));
    int32_t *lb = malloc(sizeof(int32_t) * W2 * H2);
    nm_rng rng;
    nm_rng_seed(&rng, 7);
    for (int i = 0; i < W2 * H2; i++) im2[i] = (float)nm_rng_normal(&rng);
    nm_gauss(im2, nz, W2, H2, 1.5, tmp);
    /* robust sigma of the texture, scaled to 0.4 */
    for (int i = 0; i < W2 * H2; i++) im2[i] = fabsf(nz[i]);
    double sd = 1.4826 * nm_percentile(im2, (size_t)W2 * H2, 50);
    for (int i = 0; i < W2 * H2; i++) nz[i] = (float)(0.4 * nz[i] / sd);
    const double R = 24, s = 2;
    for (int noisy = 0; noisy < 2; noisy++) {
      for (int y = 0; y < H2; y++)
        for (int x = 0; x < W2; x++) {
          double r = hypot(x - 100, y - 100);
          im2[y * W2 + x] = (float)(1 / (1 + exp((r - R) / s)) + (noisy ? nz[y * W2 + x] : 0));
          lb[y * W2 + x] = r <= R + 3 ? 1 : 0;
        }
      CHECK_OK(nm_refine_outlines(im2, W2, H2, lb, 1, 0.5, 0.5, 0, 0, NAN, 0, 1, NULL, &err),
               err);
      areas(lb, (size_t)W2 * H2, 1, a);
      if (!noisy) {
        CHECK_NEAR(a[1], M_PI * R * R, 0.05 * M_PI * R * R);
      } else {
        double rf = R + s * log(1 / 0.8 - 1);
        CHECK_NEAR(a[1], M_PI * rf * rf, 0.1 * M_PI * rf * rf);
        CHECK(a[1] < 0.9 * M_PI * R * R);
        /* one piece */
        uint8_t *mk = malloc((size_t)W2 * H2);
        int32_t *cc = malloc(sizeof(int32_t) * W2 * H2);
        int ncc = 0;
        for (int i = 0; i < W2 * H2; i++) mk[i] = lb[i] == 1;
        CHECK_OK(nm_label(mk, W2, H2, 0, cc, &ncc, &err), err);
        CHECK(ncc == 1);
        free(mk);
        free(cc);
      }
    }
    free(im2);
    free(nz);
    free(tmp);
    free(lb);
  }

  /* 8. an asymmetric sharp edge: a grey rim thinning from 1 at r = 12 to
  ** 0.5 at R = 24, then a step to 0 (a projected wedge-edged crystal).
  ** Smoothed by 4 px, its steepest iso-line lies inside R; given a copy
  ** smoothed by 1 px, the outline comes back to the step (pi R^2 within
  ** 6 %), and is larger than without it. A clean background opens the gate
  ** on both copies */
  {
    const double R = 24;
    radial_field F = radial_new(rim_step, 0);
    double a_sm[2], a_fn[2];
    for (int k = 0; k < 2; k++) {
      radial_disc(F.lb, R + 3);
      CHECK_OK(nm_refine_outlines_fine(F.sm, k ? F.fn : NULL, k ? F.raw : NULL, RW, RW, F.lb, 1,
                                       0.5, 0.5, 1, 3, NAN, 0, 1, NULL, &err),
               err);
      areas(F.lb, (size_t)RW * RW, 1, k ? a_fn : a_sm);
    }
    CHECK_NEAR(a_fn[1], M_PI * R * R, 0.06 * M_PI * R * R);
    CHECK(a_sm[1] < 0.95 * a_fn[1]);
    radial_free(&F);
  }

  /* 9. a thinning rim with no step: intensity falling linearly from 1 at
  ** r = 14 to 0 at R = 24 (a wedge's edge), blurred by 1 px. Every level of
  ** the ramp is about as steep, so the steepest iso-line can be anywhere on
  ** it (its middle, r = 19, is 0.63 pi R^2); the particle ends at the
  ** ramp's foot. The outline moves out towards it but not past it: between
  ** 0.75 and 1.04 pi R^2 (the slope read within 0.75 px of a pixel outline
  ** comes out steeper than the ramp's, so the foot is under-reached:
  ** ~0.83 pi R^2 here) */
  {
    const double R = 24;
    radial_field F = radial_new(ramp, 1);
    radial_disc(F.lb, 19);
    CHECK_OK(nm_refine_outlines_fine(F.sm, F.fn, F.raw, RW, RW, F.lb, 1, 0.5, 0.5, 1, 3, NAN, 0, 1,
                                     NULL, &err),
             err);
    double a[2];
    areas(F.lb, (size_t)RW * RW, 1, a);
    CHECK(a[1] >= 0.75 * M_PI * R * R && a[1] <= 1.04 * M_PI * R * R);
    radial_free(&F);
  }

  /* 6. degenerate input */
  CHECK_OK(nm_refine_outlines(img, W, H, lab, 0, 0.5, 0.6, 0, 0, NAN, 0, 1, NULL, &err), err);
  CHECK(nm_refine_outlines(NULL, W, H, lab, 1, 0.5, 0.6, 0, 0, NAN, 0, 1, NULL, &err) == NM_ERR_ARG);
  return check_summary("segment_refine");
}
