/*
** test_scalebar — the scale-bar reader (ext/scalebar.c) on generated
** micrographs with known bars (tests/unit/scalebar_synth.h): at least 95 %
** read within 1 % of the truth and none wrong by more than 2 %; an image with
** no bar gives NULL with a reason. Needs ../shared/data for base images and
** says it skipped otherwise.
*/
#include "../../tools/scalebar_cases.h"
#include "check.h"

static void no_bar_gives_null(void) {
  int w = 256, h = 256;
  float *px = malloc(sizeof(float) * (size_t)w * h);
  for (int i = 0; i < w * h; i++) px[i] = 180.0f + (float)((i * 7919) % 13);
  nm_scalebar sb;
  nm_error err;
  CHECK_OK(nm_scalebar_read(px, w, h, &sb, &err), err);
  CHECK(isnan(sb.nm_per_px));
  CHECK(sb.reason[0] != 0);
  free(px);
}

int main(void) {
  no_bar_gives_null();
  scalebar_score s;
  if (scalebar_run(60, 7, 1, &s) != 0) {
    printf("test_scalebar: generated cases skipped (../shared/data not present)\n");
  } else {
    printf("scale bars: %d/%d within 1%%, %d NULL, %d wrong 1-2%%, %d wrong >2%%\n", s.correct,
           s.cases, s.abstained, s.wrong_1_2, s.wrong_over_2);
    CHECK(s.cases >= 55);
    CHECK(s.correct >= 0.95 * s.cases);
    CHECK(s.wrong_over_2 == 0);
  }
  return check_summary("test_scalebar");
}
