/* test_segment.c — the whole pipeline on synthetic micrographs with known
** answers: particle count, the split of touching discs, polarity (bright
** field, dark field, dark field over a grey support), the scale estimate
** (also on film whose texture passes the first threshold), edge and
** scale-bar exclusions, and option handling. Noise from a fixed seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/filter.h"
#include "../../ext/segment.h"
#include "check.h"

static unsigned seed_state;
static double urand(void) {
  seed_state = seed_state * 1664525u + 1013904223u;
  return (seed_state >> 8) / 16777216.0;
}
static double nrand(void) { /* sum of 4 uniforms, var 1 */
  return (urand() + urand() + urand() + urand() - 2.0) * 1.7320508;
}

typedef struct disc {
  double x, y, r;
} disc;

/* Background bg, discs at level fg, Gaussian noise sd; optional left half at
** level `vac` (dark-field vacuum) when vac >= 0. */
static float *render(int w, int h, const disc *d, int nd, double bg, double fg, double sd,
                     double vac) {
  float *px = malloc(sizeof(float) * (size_t)w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double v = (vac >= 0 && x < w / 3) ? vac : bg;
      for (int k = 0; k < nd; k++)
        if ((x - d[k].x) * (x - d[k].x) + (y - d[k].y) * (y - d[k].y) <= d[k].r * d[k].r) v = fg;
      px[y * w + x] = (float)(v + sd * nrand());
    }
  return px;
}

static int kept(const nm_segmentation *s) {
  int k = 0;
  for (int l = 1; l <= s->count; l++) k += s->excluded[l] == NM_EXCL_NONE;
  return k;
}

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  int w = 240, h = 200;
  /* 3 x 3 grid of separate discs, r = 14 (dark field: the automatic scale
  ** only looks at structures under 1/20 of the field, documented limit, so
  ** that case is given scale_px) */
  disc grid[9];
  for (int k = 0; k < 9; k++) grid[k] = (disc){50.0 + 70 * (k % 3), 40.0 + 60 * (k / 3), 14};
  for (int polarity = 0; polarity < 2; polarity++) {
    seed_state = 1;
    /* bright field: dark discs (50) on bright film (200); dark field: the reverse */
    float *px = polarity ? render(w, h, grid, 9, 200, 50, 12, -1)
                         : render(w, h, grid, 9, 40, 190, 12, -1);
    nm_segmentation s;
    nm_segment_opts *o = nm_segment_opts_new();
    if (!polarity) CHECK_OK(nm_segment_opts_set(o, "scale_px", 28, NULL, &err), err);
    CHECK_OK(nm_segment(px, w, h, o, NULL, &s, &err), err);
    nm_segment_opts_free(o);
    CHECK(s.dark_particles == polarity);
    CHECK(kept(&s) == 9);
    CHECK_NEAR(s.scale_px, 28, 7);
    /* each disc's area within 10 % of pi r^2 */
    int64_t a = 0;
    int32_t l = s.labels[40 * w + 50];
    CHECK(l > 0);
    for (int i = 0; i < w * h; i++) a += s.labels[i] == l;
    CHECK_NEAR(a, M_PI * 14 * 14, 0.1 * M_PI * 14 * 14);
    nm_segmentation_free(&s);
    free(px);
  }
  /* dark field over a grey support with black vacuum on the left third: the
  ** bright discs (2 % of the field) are the particles, not the support */
  {
    seed_state = 2;
    disc d[12];
    for (int k = 0; k < 12; k++) d[k] = (disc){100.0 + 35 * (k % 4), 40.0 + 55 * (k / 4), 5};
    float *px = render(w, h, d, 12, 110, 200, 8, 5);
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w, h, NULL, NULL, &s, &err), err);
    CHECK(s.dark_particles == 0);
    CHECK(kept(&s) == 12);
    nm_segmentation_free(&s);
    free(px);
  }
  /* the same on a larger field, where discs of diameter 11 are well under
  ** the top-hat's 1/20 of the field: the granulometry finds their scale */
  {
    seed_state = 3;
    int w2 = 400, h2 = 320;
    disc d[20];
    for (int k = 0; k < 20; k++) d[k] = (disc){170.0 + 45 * (k % 5), 50.0 + 60 * (k / 5), 5};
    float *px = render(w2, h2, d, 20, 110, 200, 8, 5);
    nm_segmentation s;
    /* polarity given: 1.2 % of the field is under the automatic rule's
    ** documented floor; this block tests the scale */
    nm_segment_opts *o = nm_segment_opts_new();
    CHECK_OK(nm_segment_opts_set(o, "polarity", NAN, "bright", &err), err);
    CHECK_OK(nm_segment(px, w2, h2, o, NULL, &s, &err), err);
    nm_segment_opts_free(o);
    CHECK(s.dark_particles == 0);
    CHECK_NEAR(s.scale_px, 11, 4);
    CHECK(kept(&s) == 20);
    nm_segmentation_free(&s);
    free(px);
  }
  /* large particles (d ~ 140 px): steps 4-8a run on 2 x 2 block means and
  ** the outlines are placed at full resolution (segment.c, lowres_factor):
  ** every disc found, each area within 5 % of pi r^2, and an overlapping
  ** pair still split in two */
  {
    seed_state = 5;
    int w3 = 640, h3 = 640;
    disc g[8];
    int ng = 0;
    for (int k = 0; k < 6; k++) g[ng++] = (disc){110.0 + 200 * (k % 3), 90.0 + 170 * (k / 3), 70};
    /* the overlapping pair on the bottom row: centres 125 px apart */
    g[ng++] = (disc){180.0, 520.0, 70};
    g[ng++] = (disc){305.0, 520.0, 70};
    float *px = render(w3, h3, g, ng, 200, 60, 10, -1);
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w3, h3, NULL, NULL, &s, &err), err);
    CHECK(s.dark_particles == 1);
    CHECK(s.scale_px >= 128); /* the block-mean path is taken */
    CHECK(kept(&s) == 8);
    for (int k = 0; k < 6; k++) {
      int32_t l = s.labels[(int)g[k].y * w3 + (int)g[k].x];
      CHECK(l > 0);
      int64_t a = 0;
      for (int i = 0; i < w3 * h3; i++) a += s.labels[i] == l;
      CHECK_NEAR(a, M_PI * 70 * 70, 0.05 * M_PI * 70 * 70);
    }
    int32_t la = s.labels[520 * w3 + 140], lb = s.labels[520 * w3 + 345];
    CHECK(la > 0 && lb > 0 && la != lb);
    nm_segmentation_free(&s);
    free(px);
  }
  /* two touching (overlapping) discs split into two; a disc cut by the left
  ** border is kept with reason "edge" */
  {
    seed_state = 3;
    disc d[3] = {{100, 100, 20}, {134, 100, 20}, {5, 40, 15}};
    float *px = render(w, h, d, 3, 200, 60, 10, -1);
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w, h, NULL, NULL, &s, &err), err);
    CHECK(kept(&s) == 2);
    int32_t la = s.labels[100 * w + 100], lb = s.labels[100 * w + 134];
    CHECK(la > 0 && lb > 0 && la != lb);
    int32_t le = s.labels[40 * w + 3];
    CHECK(le > 0 && s.excluded[le] == NM_EXCL_EDGE);
    nm_segmentation_free(&s);
    free(px);
  }
  /* six dark discs (d = 32) sparse on a film whose texture (noise smoothed
  ** by 1.5 px, sd 40 against a contrast of 120) passes the first
  ** threshold: the area-weighted scale of that mask is the texture's
  ** (10 px); weighted by contrast the discs count, and the scale is theirs */
  {
    seed_state = 7;
    int w3 = 320, h3 = 320;
    size_t n3 = (size_t)w3 * h3;
    float *noise = malloc(sizeof(float) * n3), *sm = malloc(sizeof(float) * n3);
    float *tmp = malloc(sizeof(float) * nm_filter_tmp_size(w3, h3));
    float *px = malloc(sizeof(float) * n3);
    for (size_t i = 0; i < n3; i++) noise[i] = (float)nrand();
    nm_gauss(noise, sm, w3, h3, 1.5, tmp);
    double s2 = 0;
    for (size_t i = 0; i < n3; i++) s2 += sm[i] * sm[i];
    double sd = sqrt(s2 / (double)n3);
    for (int y = 0; y < h3; y++)
      for (int x = 0; x < w3; x++) {
        double t = 40 * sm[y * w3 + x] / sd, v = 200 + t;
        for (int k = 0; k < 6; k++) {
          double cx = 60 + 100 * (k % 3), cy = 90 + 140 * (k / 3);
          if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= 16 * 16) v = 80 + 0.3 * t;
        }
        px[y * w3 + x] = (float)v;
      }
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w3, h3, NULL, NULL, &s, &err), err);
    CHECK(s.dark_particles == 1);
    CHECK_NEAR(s.scale_px, 32, 6);
    for (int k = 0; k < 6; k++) {
      int32_t l = s.labels[(90 + 140 * (k / 3)) * w3 + 60 + 100 * (k % 3)];
      CHECK(l > 0 && s.excluded[l] == NM_EXCL_NONE);
    }
    nm_segmentation_free(&s);
    free(noise);
    free(sm);
    free(tmp);
    free(px);
  }
  /* a raft of 8 x 6 dark squares (side 32) separated only by faint 2-px
  ** lines (level 100 between particles at 60 and film at 200) that the
  ** binary gap cut does not find: the first mask is one block (inscribed
  ** diameter 192); the granulometry of the flattened image, whose openings
  ** cannot cross the lighter lines, gives the squares' scale (the gap-cut
  ** re-measure alone read 160) */
  {
    seed_state = 12;
    int w3 = 400, h3 = 320;
    float *px = malloc(sizeof(float) * (size_t)w3 * h3);
    for (int y = 0; y < h3; y++)
      for (int x = 0; x < w3; x++) {
        double v = 200;
        int gx = x - 60, gy = y - 60;
        if (gx >= 0 && gy >= 0 && gx < 8 * 32 && gy < 6 * 32)
          v = (gx % 32 < 2 || gy % 32 < 2) ? 100 : 60;
        px[y * w3 + x] = (float)(v + 5 * nrand());
      }
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w3, h3, NULL, NULL, &s, &err), err);
    CHECK(s.dark_particles == 1);
    CHECK_NEAR(s.scale_px, 32, 8);
    nm_segmentation_free(&s);
    free(px);
  }
  /* a burned-in scale bar and label below the particles: excluded as scale_bar */
  {
    seed_state = 4;
    float *px = render(w, h, grid, 6, 200, 60, 8, -1);
    for (int y = 178; y < 182; y++)
      for (int x = 20; x < 110; x++) px[y * w + x] = 0; /* bar */
    for (int y = 160; y < 172; y++)
      for (int x = 40; x < 90; x++)
        if ((x / 4) % 2) px[y * w + x] = 0; /* "text" strokes above it */
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w, h, NULL, NULL, &s, &err), err);
    CHECK(kept(&s) == 6);
    int32_t lbar = s.labels[180 * w + 60];
    CHECK(lbar == 0 || s.excluded[lbar] == NM_EXCL_SCALE_BAR);
    nm_segmentation_free(&s);
    free(px);
  }
  /* a non-finite pixel is an error naming it, not a crash in a histogram */
  {
    float *px = calloc((size_t)w * h, sizeof(float));
    px[5 * w + 7] = NAN;
    nm_segmentation s;
    CHECK(nm_segment(px, w, h, NULL, NULL, &s, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "not a finite number") != NULL);
    px[5 * w + 7] = INFINITY;
    CHECK(nm_segment(px, w, h, NULL, NULL, &s, &err) == NM_ERR_ARG);
    free(px);
  }
  /* options: every key listed, unknown keys and bad values are errors naming the key */
  {
    nm_segment_opts *o = nm_segment_opts_new();
    const char *const *keys = nm_segment_opts_keys();
    int nk = 0, has_pol = 0;
    for (; keys[nk]; nk++) has_pol |= !strcmp(keys[nk], "polarity");
    CHECK(nk >= 15 && has_pol);
    CHECK(nm_segment_opts_set(o, "nope", 1, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "option 'nope' is unknown") != NULL);
    CHECK(nm_segment_opts_set(o, "h", -1, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'h'") != NULL);
    CHECK(nm_segment_opts_set(o, "h_sharp", -1, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'h_sharp'") != NULL);
    CHECK_OK(nm_segment_opts_set(o, "h_sharp", 0.35, NULL, &err), err);
    CHECK(nm_segment_opts_set(o, "polarity", NAN, "sideways", &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'polarity'") != NULL);
    CHECK(nm_segment_opts_set(o, "split", 2, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_segment_opts_set(o, "refine", 1.5, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'refine'") != NULL);
    CHECK(nm_segment_opts_set(o, "refine_anchor", -0.1, NULL, &err) == NM_ERR_ARG);
    CHECK(nm_segment_opts_set(o, "granulometry", 0.5, NULL, &err) == NM_ERR_ARG);
    CHECK_OK(nm_segment_opts_set(o, "noise_k", 3, NULL, &err), err);
    CHECK_OK(nm_segment_opts_set(o, "split_merge_cap", 2, NULL, &err), err);
    CHECK(nm_segment_opts_set(o, "split_merge_cap", -1, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'split_merge_cap'") != NULL);
    CHECK(nm_segment_opts_set(o, "split_fine", 0.5, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'split_fine'") != NULL);
    CHECK_OK(nm_segment_opts_set(o, "refine_edge", 1, NULL, &err), err);
    CHECK(nm_segment_opts_set(o, "min_area", 0.5, "x", &err) == NM_ERR_ARG);
    CHECK_OK(nm_segment_opts_set(o, "polarity", NAN, "dark", &err), err);
    CHECK_OK(nm_segment_opts_set(o, "threshold", NAN, "local", &err), err);
    CHECK_OK(nm_segment_opts_set(o, "scale_px", 28, NULL, &err), err);
    /* forced options still segment the bright-field grid */
    seed_state = 5;
    float *px = render(w, h, grid, 9, 200, 50, 12, -1);
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w, h, o, NULL, &s, &err), err);
    CHECK(s.dark_particles == 1 && s.scale_px == 28);
    CHECK(kept(&s) == 9);
    nm_segmentation_free(&s);
    free(px);
    nm_segment_opts_free(o);
  }
  /* two squares touching face to face, separated only by a 4-px line
  ** lighter than the particles but on their side of the Otsu level: the
  ** mask is one rectangle whose distance map has no neck (one marker); the
  ** gap cut (a grey closing finds the line) splits it into the two squares */
  {
    int w = 200, h = 140;
    float *px = malloc(sizeof(float) * (size_t)w * h);
    seed_state = 11;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double v = 1.0;
        if (y >= 50 && y < 90 && x >= 59 && x < 141) v = (x >= 98 && x < 102) ? 0.4 : 0.2;
        px[y * w + x] = (float)(v + 0.01 * nrand());
      }
    for (int pass = 0; pass < 2; pass++) {
      nm_segment_opts *o = nm_segment_opts_new();
      if (pass == 0) CHECK_OK(nm_segment_opts_set(o, "gap_cut", 0, NULL, &err), err);
      /* the control isolates the gap cut: with the merge cap (sharp edges)
      ** the second split's cut along the line is kept even without it */
      if (pass == 0) CHECK_OK(nm_segment_opts_set(o, "split_merge_cap", 0, NULL, &err), err);
      /* a line this thin and shallow needs the unsmoothed image and a low
      ** depth fraction (the defaults favour wider gaps over texture) */
      if (pass == 1) CHECK_OK(nm_segment_opts_set(o, "gap_smooth", 0, NULL, &err), err);
      if (pass == 1) CHECK_OK(nm_segment_opts_set(o, "gap_cut", 0.08, NULL, &err), err);
      nm_segmentation s;
      CHECK_OK(nm_segment(px, w, h, o, NULL, &s, &err), err);
      CHECK(kept(&s) == (pass == 0 ? 1 : 2));
      if (pass == 1) {
        int la = s.labels[70 * w + 75], lb = s.labels[70 * w + 125];
        CHECK(la > 0 && lb > 0 && la != lb);
      }
      nm_segmentation_free(&s);
      nm_segment_opts_free(o);
    }
    free(px);
  }
  /* a raft: 3 x 3 squares of side 80 touching face to face, of three
  ** darknesses, separated only by 2 px lines at half contrast, on a clean
  ** film. The scale (~80 px) sets the denoising at 4 px, which all but
  ** erases such lines; the gap cut is off so that only the second split
  ** can find them. On the particle-scale smoothing most lines are lost
  ** (at most 4 pieces come out); on the 1 px copy (split_fine, sharp
  ** edges) every square, one label each */
  {
    int S = 80, L = 2, w = 2 * 60 + 3 * S, h = w;
    float *px = malloc(sizeof(float) * (size_t)w * h);
    seed_state = 7;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double v = 1.0;
        int rx = x - 60, ry = y - 60;
        if (rx >= 0 && ry >= 0 && rx < 3 * S && ry < 3 * S) {
          int cx = rx / S, cy = ry / S;
          v = 0.2 + 0.05 * ((cx + 2 * cy) % 3);
          if ((cx > 0 && rx % S < L) || (cy > 0 && ry % S < L)) v = 0.6;
        }
        px[y * w + x] = (float)(v + 0.012 * nrand());
      }
    for (int pass = 0; pass < 2; pass++) {
      nm_segment_opts *o = nm_segment_opts_new();
      CHECK_OK(nm_segment_opts_set(o, "gap_cut", 0, NULL, &err), err);
      CHECK_OK(nm_segment_opts_set(o, "split_fine", pass, NULL, &err), err);
      nm_segmentation s;
      CHECK_OK(nm_segment(px, w, h, o, NULL, &s, &err), err);
      CHECK(fabs(s.scale_px - S) < 0.1 * S);
      if (pass == 0) CHECK(kept(&s) <= 4);
      if (pass == 1) {
        CHECK(kept(&s) == 9);
        /* one label per square, at each square's centre */
        int seen[9], ok = 1;
        for (int k = 0; k < 9; k++) {
          int cx = 60 + (k % 3) * S + S / 2, cy = 60 + (k / 3) * S + S / 2;
          seen[k] = s.labels[(size_t)cy * w + cx];
          if (seen[k] <= 0) ok = 0;
          for (int j = 0; j < k; j++) ok &= seen[j] != seen[k];
        }
        CHECK(ok);
      }
      nm_segmentation_free(&s);
      nm_segment_opts_free(o);
    }
    free(px);
  }
  /* bad arguments */
  {
    nm_segmentation s;
    float one = 1;
    CHECK(nm_segment(NULL, 10, 10, NULL, NULL, &s, &err) == NM_ERR_ARG);
    CHECK(nm_segment(&one, 0, 10, NULL, NULL, &s, &err) == NM_ERR_ARG);
    /* a flat image: no particle, no crash */
    float flat[400];
    for (int i = 0; i < 400; i++) flat[i] = 7;
    CHECK_OK(nm_segment(flat, 20, 20, NULL, NULL, &s, &err), err);
    CHECK(kept(&s) == 0);
    nm_segmentation_free(&s);
    CHECK(strcmp(nm_exclusion_name(NM_EXCL_SCALE_BAR), "scale_bar") == 0);
    CHECK(nm_exclusion_name(NM_EXCL_NONE) == NULL);
  }
  return check_summary("test_segment");
}
