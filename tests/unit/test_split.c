/* test_split.c — the intensity-aware second split (split.h): convex hull
** areas and solidity of known shapes; a row of three squares touching face
** to face (their union is a convex rectangle, no neck for the distance
** transform) separated by lighter lines splits into three with the default
** options and stays one with split_intensity 0; an elongated textured
** particle of the same size with no line is not cut; the merge cap's weak
** cuts are undone where they end on no notch of the union's outline and
** kept where they end in notches; nm_merge_unsupported merges a cut with
** neither notch nor line and keeps one with either. Noise from a fixed
** seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/segment.h"
#include "../../ext/split.h"
#include "check.h"


static unsigned seed_state;
static double urand(void) {
  seed_state = seed_state * 1664525u + 1013904223u;
  return (seed_state >> 8) / 16777216.0;
}
static double nrand(void) {
  return (urand() + urand() + urand() + urand() - 2.0) * 1.7320508;
}

static int kept(const nm_segmentation *s) {
  int k = 0;
  for (int l = 1; l <= s->count; l++) k += s->excluded[l] == NM_EXCL_NONE;
  return k;
}

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  /* hull of the corners of a 3x2 block of pixels = 6; a triangle */
  {
    nm_ipt p[8] = {{0, 0}, {3, 0}, {0, 2}, {3, 2}, {1, 1}, {2, 1}, {1, 0}, {2, 2}}, s[18];
    CHECK_NEAR(nm_hull_area(p, 8, s), 6, 1e-9);
    nm_ipt t[3] = {{0, 0}, {4, 0}, {0, 4}}, s2[8];
    CHECK_NEAR(nm_hull_area(t, 3, s2), 8, 1e-9);
    CHECK_NEAR(nm_hull_area(t, 2, s2), 0, 1e-9);
  }
  /* solidity: a 10x10 square is 1; an L (a 20x10 bar over a 10x8 foot,
  ** 280 px) against its hull (20x18 less the 10x8/2 corner triangle the
  ** hull cuts off: 320) */
  {
    int w = 30, h = 30;
    int32_t *lab = calloc((size_t)w * h, sizeof(int32_t));
    for (int y = 0; y < 10; y++)
      for (int x = 0; x < 10; x++) lab[y * w + x] = 1;
    for (int y = 12; y < 32 - 2; y++)
      for (int x = 0; x < 20; x++)
        if (y - 12 < 10 || x < 10) lab[y * w + x] = 2;
    double sol[3];
    CHECK_OK(nm_label_solidity(lab, w, h, 2, sol, &err), err);
    CHECK_NEAR(sol[1], 1.0, 1e-9);
    CHECK_NEAR(sol[2], 280.0 / 320.0, 1e-9);
    free(lab);
  }
  int w = 300, h = 200;
  size_t n = (size_t)w * h;
  /* three 60 px squares in a row, touching (one piece of the first split:
  ** their union is a rectangle with no neck), particles bright at 1 on a
  ** film at 0, 5 px lines at 0.5 between them, noise 0.03 */
  {
    seed_state = 5;
    float *img = malloc(sizeof(float) * n);
    uint8_t *mask = calloc(n, 1);
    int32_t *lab = calloc(n, sizeof(int32_t));
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        double v = 0;
        if (y >= 70 && y < 130 && x >= 60 && x < 240) {
          int dx = (x - 60) % 60;
          v = (x - 60) >= 60 && (dx < 3 || dx >= 58) ? 0.5 : 1.0;
          mask[i] = 1;
          lab[i] = 1;
        }
        img[i] = (float)(v + 0.03 * nrand());
      }
    int count = 1;
    CHECK_OK(nm_split_merged(img, mask, w, h, lab, &count, 60, 0.35, 0, NULL, &err), err);
    CHECK(count == 1); /* power 0: nothing done */
    CHECK_OK(nm_split_merged(img, mask, w, h, lab, &count, 60, 0.35, 3, NULL, &err), err);
    /* each square one piece: the label at its centre covers 3600 +- 10 % */
    int32_t seen[3];
    for (int k = 0; k < 3; k++) {
      int32_t l = lab[100 * w + 90 + 60 * k];
      seen[k] = l;
      CHECK(l > 0);
      int64_t a = 0;
      for (size_t i = 0; i < n; i++) a += lab[i] == l;
      CHECK_NEAR(a, 3600, 360);
    }
    CHECK(seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2]);
    /* the same rectangle without the lines, strong texture inside: one piece */
    for (size_t i = 0; i < n; i++) {
      img[i] = (float)((mask[i] ? 1.0 : 0.0) + (mask[i] ? 0.15 : 0.03) * nrand());
      lab[i] = mask[i];
    }
    count = 1;
    CHECK_OK(nm_split_merged(img, mask, w, h, lab, &count, 60, 0.35, 3, NULL, &err), err);
    int32_t l0 = lab[100 * w + 150];
    int64_t a = 0;
    for (size_t i = 0; i < n; i++) a += mask[i] && lab[i] == l0;
    CHECK_NEAR(a, 180 * 60, 180 * 60 * 0.02);
    /* with a merge cap of 1.5 typical particles the weak cuts are merged
    ** back only up to that size: the texture cuts no longer chain into one
    ** piece of 3.8 typical particles (measured: 3 pieces, the largest 4637 px,
    ** a watershed piece no merge grew) */
    for (size_t i = 0; i < n; i++) lab[i] = mask[i];
    count = 1;
    CHECK_OK(nm_split_merged_nd(img, mask, NULL, w, h, lab, &count, 60, 0.35, 3, 1.5, 0, NULL, &err),
             err);
    {
      int64_t *ar = calloc((size_t)count + 1, sizeof(int64_t));
      for (size_t i = 0; i < n; i++)
        if (lab[i] > 0) ar[lab[i]]++;
      int pieces = 0;
      int64_t big = 0;
      for (int l = 1; l <= count; l++) {
        pieces += ar[l] > 0;
        if (ar[l] > big) big = ar[l];
      }
      CHECK(pieces >= 2);
      CHECK(big <= 180 * 60 / 2);
      free(ar);
    }
    /* ... but those cuts run across one convex piece, from hull to hull,
    ** ending in no notch (notch 3 px = max(2, 0.05 d)): undone whatever
    ** the cap, one piece (fails without the notch test) */
    for (size_t i = 0; i < n; i++) lab[i] = mask[i];
    count = 1;
    CHECK_OK(nm_split_merged_nd(img, mask, NULL, w, h, lab, &count, 60, 0.35, 3, 1.5, 3, NULL, &err),
             err);
    {
      int32_t lc = lab[100 * w + 150];
      int64_t ac = 0;
      for (size_t i = 0; i < n; i++) ac += mask[i] && lab[i] == lc;
      CHECK(ac == 180 * 60);
    }
    /* the same textured rectangle notched where squares would meet (V
    ** notches 8 px deep top and bottom at x = 120 and 180): the pieces the
    ** cap keeps meet in notches, and the notch test leaves them cut */
    for (int y = 70; y < 130; y++)
      for (int x = 60; x < 240; x++) {
        int dn = y - 70 < 130 - 1 - y ? y - 70 : 130 - 1 - y;
        int dx1 = abs(x - 120), dx2 = abs(x - 180), dxm = dx1 < dx2 ? dx1 : dx2;
        if (dn + 1 <= 8 - dxm) mask[(size_t)y * w + x] = 0;
      }
    for (size_t i = 0; i < n; i++) lab[i] = mask[i], img[i] = mask[i] ? img[i] : (float)(0.03 * nrand());
    count = 1;
    CHECK_OK(nm_split_merged_nd(img, mask, NULL, w, h, lab, &count, 60, 0.35, 3, 1.5, 3, NULL, &err),
             err);
    {
      int32_t la = lab[100 * w + 90], lb = lab[100 * w + 210];
      CHECK(la > 0 && lb > 0 && la != lb);
    }
    free(img);
    free(mask);
    free(lab);
  }
  /* nm_merge_unsupported: two labels cutting one uniform 80 px square
  ** straight across (no notch, no line) become one; two 60 px squares
  ** with rounded corners (8 px) touching face to face meet in notches and
  ** stay two; two sharp 60 px squares touching face to face along a 2 px
  ** line at half contrast stay two (no notch, but a line) */
  {
    seed_state = 11;
    int W2 = 200, H2 = 120;
    size_t n2 = (size_t)W2 * H2;
    float *img = malloc(sizeof(float) * n2);
    int32_t *lab = calloc(n2, sizeof(int32_t));
    for (int cs = 0; cs < 3; cs++) {
      for (size_t i = 0; i < n2; i++) img[i] = 0, lab[i] = 0;
      for (int y = 0; y < H2; y++)
        for (int x = 0; x < W2; x++) {
          size_t i = (size_t)y * W2 + x;
          int in = 0, l = 0;
          double v = 1.0;
          if (cs == 0) {
            in = x >= 60 && x < 140 && y >= 20 && y < 100;
            l = x < 100 ? 1 : 2;
          } else {
            int lx = x - 40, ly = y - 30;
            in = lx >= 0 && lx < 120 && ly >= 0 && ly < 60;
            int sx = lx % 60, cx = sx < 8 ? 8 - sx : sx > 51 ? sx - 51 : 0;
            int cy = ly < 8 ? 8 - ly : ly > 51 ? ly - 51 : 0;
            if (cs == 1 && in && cx * cx + cy * cy > 64) in = 0;
            l = lx < 60 ? 1 : 2;
            if (cs == 2 && in && (lx == 59 || lx == 60)) v = 0.5;
          }
          if (in) lab[i] = l;
          img[i] = (float)((in ? v : 0.0) + 0.02 * nrand());
        }
      CHECK_OK(nm_merge_unsupported(img, W2, H2, lab, 2, 60, 3, &err), err);
      int32_t la = lab[60 * W2 + (cs == 0 ? 70 : 60)], lb = lab[60 * W2 + (cs == 0 ? 130 : 140)];
      CHECK(la > 0 && lb > 0);
      CHECK(cs == 0 ? la == lb : la != lb);
    }
    free(img);
    free(lab);
  }
  /* one elongated particle (ellipse 180 x 60) with strong texture inside,
  ** no line: as large as the row of squares, and not cut */
  {
    seed_state = 9;
    float *px = malloc(sizeof(float) * n);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double ex = (x - 150) / 90.0, ey = (y - 100) / 30.0;
        int in = ex * ex + ey * ey <= 1;
        px[(size_t)y * w + x] = (float)((in ? 60 : 200) + (in ? 25 : 8) * nrand());
      }
    nm_segmentation s;
    CHECK_OK(nm_segment(px, w, h, NULL, NULL, &s, &err), err);
    CHECK(kept(&s) == 1);
    nm_segmentation_free(&s);
    free(px);
  }
  /* option range */
  {
    nm_segment_opts *o = nm_segment_opts_new();
    CHECK(nm_segment_opts_set(o, "split_intensity", -1, NULL, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "'split_intensity'") != NULL);
    CHECK(nm_segment_opts_set(o, "split_intensity", NAN, "high", &err) == NM_ERR_ARG);
    nm_segment_opts_free(o);
  }
  return check_summary("test_split");
}
