/* test_darkfield.c — the dark-field pipeline (darkfield.h) on a synthetic
** HAADF-like field whose answer is known: black vacuum on the left quarter,
** a grey support with texture (smooth bumps of 0.06 at 20-40 px, i.e. at the
** particles' own scale) and pixel noise (sd 0.02, fixed seed), and bright
** discs of four sizes (diameters 6, 10, 16, 26 px, +0.25 over the support),
** plus two touching discs. Asserts: every disc found once at its centre,
** its equivalent diameter within 1.5 px + 12 %, the touching pair split,
** nothing found on the bare textured support or in the vacuum; discs on a
** steep support gradient keep boxes within 2 px of theirs (the tilted
** support plane); and the option parser (keys, ranges, unknown key). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/darkfield.h"
#include "../../ext/segment.h"
#include "check.h"

static unsigned seed_state = 12345u;
static double urand(void) {
  seed_state = seed_state * 1664525u + 1013904223u;
  return (seed_state >> 8) / 16777216.0;
}
static double nrand(void) { return (urand() + urand() + urand() + urand() - 2.0) * 1.7320508; }

typedef struct disc {
  double x, y, d;
} disc;

/* antialiased cover of pixel (x, y) by the disc: 4x4 subsamples */
static double cover(const disc *c, int x, int y) {
  int in = 0;
  for (int j = 0; j < 4; j++)
    for (int i = 0; i < 4; i++) {
      double dx = x + (i + 0.5) / 4 - c->x, dy = y + (j + 0.5) / 4 - c->y;
      in += dx * dx + dy * dy <= c->d * c->d / 4;
    }
  return in / 16.0;
}

/* A 200 x 160 test field: film 0.3 with a faint ripple, the discs at
** contrast 0.2 (overlaps take the larger cover), a Gaussian support lump of
** height lump at (52, 80), noise 0.01 from the given seed. */
enum { FIELD_W = 200, FIELD_H = 160 };
static void draw_field(float *I, const disc *g, int n, double lump, unsigned seed) {
  seed_state = seed;
  for (int y = 0; y < FIELD_H; y++)
    for (int x = 0; x < FIELD_W; x++) {
      double dx = x - 52.0, dy = y - 80.0;
      double v = 0.3 + 0.02 * sin(x / 7.0) * sin(y / 9.0) +
                 lump * exp(-(dx * dx + dy * dy) / (2 * 8.0 * 8.0)), b = 0;
      for (int k = 0; k < n; k++) {
        double c = cover(&g[k], x, y);
        if (c > b) b = c;
      }
      I[(size_t)y * FIELD_W + x] = (float)(v + 0.2 * b + 0.01 * nrand());
    }
}

/* How many of the discs carry a label at their centre that no earlier disc
** carries: each particle found once, apart from its neighbours. */
static int found_apart(const int32_t *lab, int w, const disc *g, int n) {
  int found = 0;
  int32_t seen[16] = {0};
  for (int k = 0; k < n && k < 16; k++) {
    int32_t l = lab[(size_t)g[k].y * w + (size_t)g[k].x];
    int dup = 0;
    for (int j = 0; j < k; j++) dup |= l && seen[j] == l;
    seen[k] = l;
    found += l > 0 && !dup;
  }
  return found;
}

/* Draws the field (draw_field) into I, segments it with o into lab
** (*count labels) and returns how many discs are found apart. */
static int segment_field(float *I, int32_t *lab, const disc *g, int n, double lump,
                         unsigned seed, const nm_darkfield_opts *o, int *count) {
  nm_error err = {0};
  double scale = 0;
  draw_field(I, g, n, lump, seed);
  memset(lab, 0, sizeof(int32_t) * FIELD_W * FIELD_H);
  CHECK_OK(nm_darkfield_segment(I, FIELD_W, FIELD_H, o, 0, NULL, lab, count, &scale, &err), err);
  return found_apart(lab, FIELD_W, g, n);
}

int main(void) {
  const int W = 320, H = 320;
  disc discs[32];
  int nd = 0;
  const double sizes[4] = {6, 10, 16, 26};
  /* a grid on the support (x >= 100), sizes cycling */
  for (int row = 0; row < 5; row++)
    for (int col = 0; col < 4; col++) {
      disc c = {118 + col * 50, 30 + row * 52, sizes[(row + col) % 4]};
      discs[nd++] = c;
    }
  /* the touching pair, d = 14, centres 14 apart */
  disc p1 = {290, 120, 14}, p2 = {290, 134, 14};
  discs[nd++] = p1;
  discs[nd++] = p2;

  float *I = malloc(sizeof(float) * W * H);
  int32_t *lab = calloc((size_t)W * H, sizeof(int32_t));
  CHECK(I && lab);
  if (!I || !lab) return 1;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double v;
      if (x < 80) v = 0.05; /* vacuum */
      else
        v = 0.45 + 0.03 * sin(x / 6.0) * sin(y / 5.0) + 0.03 * sin((x + 2 * y) / 11.0);
      /* soft support edge */
      if (x >= 80 && x < 86) v = 0.05 + (v - 0.05) * (x - 79) / 7.0;
      double b = 0;
      for (int k = 0; k < nd; k++) {
        double c = cover(&discs[k], x, y);
        if (c > b) b = c;
      }
      v += 0.25 * b + 0.02 * nrand();
      I[(size_t)y * W + x] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
    }

  nm_darkfield_opts o;
  nm_darkfield_opts_default(&o);
  CHECK(o.enabled == 1);
  nm_error err = {0};
  int count = 0;
  double scale = 0;
  CHECK_OK(nm_darkfield_segment(I, W, H, &o, 0, NULL, lab, &count, &scale, &err), err);

  /* each disc: its centre labelled, a label no other disc has */
  int *owner = calloc((size_t)count + 1, sizeof(int));
  long *area = calloc((size_t)count + 1, sizeof(long));
  CHECK(owner && area);
  if (!owner || !area) return 1;
  for (size_t i = 0; i < (size_t)W * H; i++)
    if (lab[i] > 0 && lab[i] <= count) area[lab[i]]++;
  int found = 0;
  for (int k = 0; k < nd; k++) {
    int32_t l = lab[(size_t)lround(discs[k].y - 0.5) * W + lround(discs[k].x - 0.5)];
    if (!l) {
      fprintf(stderr, "disc %d (d %.0f at %.0f,%.0f) not found\n", k, discs[k].d, discs[k].x,
              discs[k].y);
      continue;
    }
    CHECK(owner[l] == 0);
    owner[l] = k + 1;
    found++;
    double deq = sqrt(4.0 * area[l] / M_PI);
    CHECK_NEAR(deq, discs[k].d, 1.5 + 0.12 * discs[k].d);
  }
  CHECK(found == nd);
  /* nothing else: no label on the bare support, the vacuum or its edge
  ** (labels touching the image border are nm_segment's to exclude) */
  uint8_t *border = calloc((size_t)count + 1, 1);
  CHECK(border != NULL);
  if (!border) return 1;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      if (x == 0 || y == 0 || x == W - 1 || y == H - 1) border[lab[(size_t)y * W + x]] = 1;
  int extra = 0;
  for (int l = 1; l <= count; l++)
    if (!owner[l] && !border[l]) {
      extra++;
      for (size_t i = 0; i < (size_t)W * H; i++)
        if (lab[i] == l) {
          fprintf(stderr, "extra label %d at %zu,%zu area %ld\n", l, i % W, i / W, area[l]);
          break;
        }
    }
  CHECK(extra == 0);
  free(border);
  CHECK(scale > 6 && scale < 26);
  free(owner);
  free(area);

  /* the same through nm_segment: polarity finds dark field, the hook runs */
  nm_segment_opts *so = nm_segment_opts_new();
  CHECK(so != NULL);
  nm_segmentation seg;
  CHECK_OK(nm_segment(I, W, H, so, NULL, &seg, &err), err);
  CHECK(!seg.dark_particles);
  int kept = 0;
  for (int l = 1; l <= seg.count; l++) kept += !seg.excluded[l];
  CHECK(kept == nd);
  nm_segmentation_free(&seg);
  nm_segment_opts_free(so);

  /* options */
  CHECK(nm_darkfield_opts_set(&o, "darkfield", 0, NULL, &err) == NM_OK && o.enabled == 0);
  CHECK(nm_darkfield_opts_set(&o, "darkfield", 2, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_k", 4, NULL, &err) == NM_OK && o.k == 4);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_level", 1.5, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "darkfield_level") != NULL);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_dmax", 0, "x", &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfieldx", 1, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "unknown") != NULL);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_plane", 0, NULL, &err) == NM_OK && o.plane == 0);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_plane", 0.5, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_fp", -1, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_half_q", 0.3, NULL, &err) == NM_OK && o.half_q == 0.3);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_half_q", 1.5, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_prior", 1, NULL, &err) == NM_OK && o.prior == 1);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_prior", -0.1, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_grow_sigma", 0.1, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_prior_cap", 20, NULL, &err) == NM_OK && o.prior_cap == 20);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_prior_cap", -1, NULL, &err) == NM_ERR_ARG);

  /* discs on a support that brightens steeply to the right (0.2 over a
  ** disc's ring): the extent follows the tilted support, so a box stays
  ** within 2 px of its disc's (a flat support level let the outline run up
  ** the bright side); the same with darkfield_plane off leaks */
  {
    const int W2 = 240, H2 = 120;
    const disc g[3] = {{60, 60, 12}, {120, 60, 12}, {180, 60, 12}};
    for (int pass = 0; pass < 2; pass++) {
      seed_state = 777u;
      for (int y = 0; y < H2; y++)
        for (int x = 0; x < W2; x++) {
          double v = 0.1 + 0.006 * x;
          for (int k = 0; k < 3; k++) v += 0.2 * cover(&g[k], x, y);
          I[(size_t)y * W2 + x] = (float)(v + 0.01 * nrand());
        }
      nm_darkfield_opts_default(&o);
      o.plane = pass == 0;
      memset(lab, 0, sizeof(int32_t) * W2 * H2);
      CHECK_OK(nm_darkfield_segment(I, W2, H2, &o, 0, NULL, lab, &count, &scale, &err), err);
      int worst = 0, found2 = 0;
      for (int k = 0; k < 3; k++) {
        int32_t l = lab[(size_t)g[k].y * W2 + (size_t)g[k].x];
        if (!l) continue;
        found2++;
        int x0 = W2, x1 = -1, y0 = H2, y1 = -1;
        for (int y = 0; y < H2; y++)
          for (int x = 0; x < W2; x++)
            if (lab[(size_t)y * W2 + x] == l) {
              x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
              y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
        /* the disc covers [x - 6, x + 6): pixels x - 6 .. x + 5 */
        int e[4] = {(int)g[k].x - 6 - x0, x1 - ((int)g[k].x + 5), (int)g[k].y - 6 - y0,
                    y1 - ((int)g[k].y + 5)};
        for (int j = 0; j < 4; j++) worst = e[j] > worst ? e[j] : worst;
      }
      fprintf(stderr, "gradient support, plane %d: %d of 3 found, worst overshoot %d px\n",
              pass == 0, found2, worst);
      if (pass == 0) {
        CHECK(found2 == 3);
        CHECK(worst <= 2);
      }
    }
  }

  /* a particle with three neighbours on its left (a dense field): the
  ** median of its left half-ring is at the neighbours' level, its lower
  ** quartile (darkfield_half_q) is still the support's, so it is found
  ** with the neighbours; isolated reference discs on the same support */
  {
    const disc g[6] = {{100, 80, 10}, {89, 80, 10}, {94.5, 70.5, 10}, {94.5, 89.5, 10},
                       {40, 40, 10}, {160, 120, 10}};
    for (int pass = 0; pass < 2; pass++) {
      nm_darkfield_opts_default(&o);
      if (pass) o.half_q = 0.5;
      int found3 = segment_field(I, lab, g, 6, 0.0, 4242u, &o, &count);
      fprintf(stderr, "cluster, half_q %.2f: %d of 6 found apart\n", o.half_q, found3);
      if (!pass) CHECK(found3 == 6);
    }
  }

  /* a particle on a support lump larger than it, and a touching pair: at
  ** the coarser scale the lump and the particle (the two particles) make one
  ** blob stronger than the particle at its own, so the particle is a maximum
  ** in position and over the finer scale but not over the coarser one
  ** (darkfield_merged keeps such maxima as candidates). On this clean
  ** field both are found either way (printed); asserted: with the default
  ** every one is found once and nothing else is labelled */
  {
    const disc g[5] = {{50, 80, 10}, {120, 75, 10}, {120, 85, 10}, {170, 40, 10}, {170, 125, 10}};
    int found_on = -1;
    for (int pass = 0; pass < 2; pass++) {
      nm_darkfield_opts_default(&o);
      if (pass) o.merged = 0;
      int found4 = segment_field(I, lab, g, 5, 0.3, 777u, &o, &count);
      fprintf(stderr, "lump and pair, merged %g: %d of 5 found apart, %d labels\n", o.merged,
              found4, count);
      if (!pass) {
        found_on = found4;
        CHECK(count == 5);
      }
    }
    CHECK(found_on == 5);
  }
  CHECK(nm_darkfield_opts_set(&o, "darkfield_merged", 0, NULL, &err) == NM_OK && o.merged == 0);
  CHECK(nm_darkfield_opts_set(&o, "darkfield_merged", -1, NULL, &err) == NM_ERR_ARG);

  /* tiny and flat images: no particle, no error */
  memset(lab, 0, sizeof(int32_t) * W * H);
  nm_darkfield_opts_default(&o);
  CHECK_OK(nm_darkfield_segment(I, 5, 5, &o, 0, NULL, lab, &count, &scale, &err), err);
  CHECK(count == -1); /* declined */
  for (size_t i = 0; i < (size_t)W * H; i++) I[i] = 0.5f;
  CHECK_OK(nm_darkfield_segment(I, W, H, &o, 0, NULL, lab, &count, &scale, &err), err);
  CHECK(count == -1); /* declined */
  free(I);
  free(lab);
  return check_summary("darkfield");
}
