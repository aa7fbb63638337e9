/* test_scalebar_detect.c — geometry of a burned-in scale bar: a synthetic
** micrograph with a bar + label, one with a bar in a solid white panel, and
** negatives (no bar; a flat dark band at the border is not a bar). */
#include <stdlib.h>
#include <string.h>

#include "../../ext/scalebar.h"
#include "check.h"

static unsigned st = 9;
static double noise(void) {
  st = st * 1664525u + 1013904223u;
  return ((st >> 8) / 16777216.0 - 0.5) * 20;
}

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  int w = 400, h = 300;
  float *px = malloc(sizeof(float) * w * h);
  /* grey noisy film with a few dark particles, a black bar 150 x 5 at the
  ** lower left and text strokes above it */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double v = 170 + noise();
      if ((x - 200) * (x - 200) + (y - 100) * (y - 100) < 400) v = 60 + noise();
      px[y * w + x] = (float)v;
    }
  for (int y = 270; y < 275; y++)
    for (int x = 30; x < 180; x++) px[y * w + x] = 0;
  for (int y = 245; y < 262; y++)
    for (int x = 60; x < 150; x++)
      if ((x / 5) % 2) px[y * w + x] = 0;
  nm_scalebar sb;
  CHECK_OK(nm_scalebar_detect(px, w, h, &sb, &err), err);
  CHECK(sb.found == 1);
  CHECK_NEAR(sb.bar_x, 30, 2);
  CHECK_NEAR(sb.bar_w, 150, 3);
  CHECK_NEAR(sb.bar_y, 270, 1);
  CHECK_NEAR(sb.bar_h, 5, 1);
  CHECK_NEAR(sb.bar_length_px, 150, 3);
  /* the box covers bar and label, not the particle */
  CHECK(sb.box_x <= 30 && sb.box_x + sb.box_w >= 180);
  CHECK(sb.box_y <= 245 && sb.box_y + sb.box_h >= 275);
  CHECK(sb.box_y > 120);
  CHECK(isnan(sb.nm_per_px));

  /* a white bar inside a solid black panel at the lower right: the box grows to the panel */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) px[y * w + x] = (float)(120 + noise());
  for (int y = 230; y < 290; y++)
    for (int x = 200; x < 390; x++) px[y * w + x] = 0;
  for (int y = 270; y < 274; y++)
    for (int x = 220; x < 340; x++) px[y * w + x] = 255;
  CHECK_OK(nm_scalebar_detect(px, w, h, &sb, &err), err);
  CHECK(sb.found == 1);
  CHECK_NEAR(sb.bar_w, 120, 3);
  CHECK(sb.box_x <= 201 && sb.box_x + sb.box_w >= 389);
  CHECK(sb.box_y <= 231 && sb.box_y + sb.box_h >= 289);

  /* negatives: noise only; a flat black band along the top edge (vacuum) */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) px[y * w + x] = (float)(120 + noise());
  CHECK_OK(nm_scalebar_detect(px, w, h, &sb, &err), err);
  CHECK(sb.found == 0);
  for (int y = 0; y < 30; y++)
    for (int x = 0; x < w; x++) px[y * w + x] = 0;
  CHECK_OK(nm_scalebar_detect(px, w, h, &sb, &err), err);
  CHECK(sb.found == 0);
  /* bad input */
  CHECK(nm_scalebar_detect(NULL, w, h, &sb, &err) == NM_ERR_ARG);
  free(px);
  return check_summary("test_scalebar_detect");
}
