/* test_concavity.c — the convexity-defect split (concavity.h).
**  - two 40 px squares overlapping at a corner (offset 28, 28: union 3056 px,
**    hull 3840 px, solidity 0.80, notches ~20 px deep) are cut into two
**    pieces of 1456..1600 px (which one keeps the 144 px overlap depends on
**    the cut), each nearly convex;
**  - a disc of the same scale is not cut;
**  - the convex hull of known points (split.h's nm_convex_hull);
**  - a field of twelve such pairs and nothing else: the median piece is
**    itself non-convex, so no piece is cut (irregular particles are not
**    evidence of overlap);
**  - in such an irregular field, a disc cut across its middle is merged back
**    (no neck), two discs meeting at a neck stay two;
**  - split_concave 0 leaves the labels untouched; bad allocation sizes are
**    not reached (labels are only read within the image). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/concavity.h"
#include "../../ext/label.h"
#include "../../ext/split.h"
#include "check.h"

static void pair_at(int32_t *lab, int w, int x0, int y0, int32_t l) {
  for (int y = 0; y < 68; y++)
    for (int x = 0; x < 68; x++) {
      int a = x < 40 && y < 40, b = x >= 28 && y >= 28;
      if (a || b) lab[(size_t)(y0 + y) * w + x0 + x] = l;
    }
}

static nm_concave_opts defaults(void) {
  nm_concave_opts o = {.min_solidity = 0.9, .depth = 0.05, .gain = 0.05, .margin = 0.03, .smooth = 0.1};
  return o;
}

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  {
    nm_ipt p[5] = {{0, 0}, {4, 0}, {4, 4}, {0, 4}, {2, 2}}, hull[12];
    size_t k = nm_convex_hull(p, 5, hull);
    CHECK(k == 5); /* four corners, the first repeated */
    CHECK(hull[0].x == hull[k - 1].x && hull[0].y == hull[k - 1].y);
  }
  int w = 200, h = 120;
  size_t n = (size_t)w * h;
  int32_t *lab = calloc(n, sizeof(int32_t));
  pair_at(lab, w, 10, 20, 1);
  /* a disc, r = 22, elsewhere */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if ((x - 150) * (x - 150) + (y - 60) * (y - 60) <= 22 * 22) lab[(size_t)y * w + x] = 2;
  double sol[3];
  CHECK_OK(nm_label_solidity(lab, w, h, 2, sol, &err), err);
  CHECK_NEAR(sol[1], 3056.0 / 3840.0, 1e-9);
  int count = 2;
  nm_concave_opts o = defaults();
  CHECK_OK(nm_split_concave(lab, w, h, &count, 45, &o, NULL, &err), err);
  CHECK(count == 3);
  int64_t ar[4] = {0};
  nm_label_areas(lab, n, count < 3 ? count : 3, ar);
  CHECK(ar[1] + ar[3] == 3056);
  CHECK(ar[1] >= 1400 && ar[1] <= 1660);
  CHECK(ar[3] >= 1400 && ar[3] <= 1660);
  CHECK(ar[2] > 0); /* the disc is untouched */
  if (count == 3) {
    double s2[4];
    CHECK_OK(nm_label_solidity(lab, w, h, 3, s2, &err), err);
    CHECK(s2[1] > 0.93 && s2[3] > 0.93);
    CHECK_NEAR(s2[2], sol[2], 1e-12);
  }
  /* off */
  memset(lab, 0, n * sizeof(int32_t));
  pair_at(lab, w, 10, 20, 1);
  count = 1;
  o.min_solidity = 0;
  CHECK_OK(nm_split_concave(lab, w, h, &count, 45, &o, NULL, &err), err);
  CHECK(count == 1);
  free(lab);
  /* a field of twelve pairs: the typical piece is the pair itself */
  w = 6 * 80, h = 2 * 80, n = (size_t)w * h;
  lab = calloc(n, sizeof(int32_t));
  for (int k = 0; k < 12; k++) pair_at(lab, w, (k % 6) * 80 + 4, (k / 6) * 80 + 4, k + 1);
  count = 12;
  o = defaults();
  CHECK_OK(nm_split_concave(lab, w, h, &count, 45, &o, NULL, &err), err);
  CHECK(count == 12);
  free(lab);
  /* the same irregular field with, in a third row, a disc (r = 20) cut
  ** across its middle into two labels, and two discs (r = 18, centres 34
  ** apart) meeting at a 12 px neck: the cut without a neck is merged back
  ** (its chord, 40 px, spans the halves' thickness, ~20 px), the neck stays
  ** (12 px against ~34 px); nothing else changes */
  w = 6 * 80, h = 3 * 80, n = (size_t)w * h;
  lab = calloc(n, sizeof(int32_t));
  for (int k = 0; k < 12; k++) pair_at(lab, w, (k % 6) * 80 + 4, (k / 6) * 80 + 4, k + 1);
  for (int y = 160; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      if ((x - 60) * (x - 60) + (y - 200) * (y - 200) <= 400) lab[i] = x < 60 ? 13 : 14;
      if ((x - 200) * (x - 200) + (y - 200) * (y - 200) <= 324) lab[i] = 15;
      if ((x - 234) * (x - 234) + (y - 200) * (y - 200) <= 324 && x > 217) lab[i] = 16;
    }
  int32_t *before = malloc(n * sizeof(int32_t));
  memcpy(before, lab, n * sizeof(int32_t));
  count = 16;
  CHECK_OK(nm_split_concave(lab, w, h, &count, 45, &o, NULL, &err), err);
  CHECK(count == 16);
  CHECK(lab[200 * w + 50] == lab[200 * w + 70] && lab[200 * w + 50] > 0);
  CHECK(lab[200 * w + 200] == 15 && lab[200 * w + 234] == 16);
  size_t changed = 0;
  for (size_t i = 0; i < n; i++) changed += before[i] != lab[i] && before[i] != 13 && before[i] != 14;
  CHECK(changed == 0);
  /* keep_cuts (segment.c: the cuts were read along lines of a smooth,
  ** sharp-edged image): the same field keeps the disc's cut, and nothing
  ** else changes either */
  memcpy(lab, before, n * sizeof(int32_t));
  count = 16;
  o.keep_cuts = 1;
  CHECK_OK(nm_split_concave(lab, w, h, &count, 45, &o, NULL, &err), err);
  CHECK(count == 16);
  CHECK(memcmp(before, lab, n * sizeof(int32_t)) == 0);
  free(before);
  free(lab);
  return check_summary("concavity");
}
