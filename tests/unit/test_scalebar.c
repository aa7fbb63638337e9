/*
** test_scalebar — the scale-bar reader (ext/scalebar.c):
** - on 60 generated micrographs with known bars (tests/unit/scalebar_synth.h)
**   none is wrong by more than 2 % (the safety property: a wrong pixel size
**   is worse than none) and at least 85 % are read within 1 % (a regression
**   floor: 55/60 measured; the full 240-case sets of `make eval-scalebar`
**   and the other seeds are in docs/scalebar.md);
** - on the real burned-in bars of ../shared/data/nanoshapes whose lengths its
**   README states, every answer is within 1 % and all 5 are read;
** - an image with no bar gives NULL with a reason;
** - a label in a solid box is never read for an image's longer bar that runs
**   out of that box (a small synthetic image, no data needed).
** The data-driven parts need ../shared/data and say they skipped otherwise.
*/
#include "../../tools/scalebar_cases.h"
#include "check.h"

static void scalebar_real_bars_read_right(void) {
  int read = 0, tried = 0;
  for (size_t i = 0; i < sizeof scalebar_real_bars / sizeof scalebar_real_bars[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "../shared/data/nanoshapes/images/%s", scalebar_real_bars[i].file);
    nm_image img;
    nm_error err;
    if (nm_image_read_file(path, NULL, &img, &err) != NM_OK) continue;
    tried++;
    nm_scalebar sb;
    CHECK_OK(nm_scalebar_read(img.px, img.width, img.height, &sb, &err), err);
    if (isfinite(sb.nm_per_px)) {
      read++;
      CHECK_NEAR(sb.nm_per_px, scalebar_real_bars[i].nm / scalebar_real_bars[i].px, 0.01 * scalebar_real_bars[i].nm / scalebar_real_bars[i].px);
    }
    nm_image_free(&img);
  }
  if (!tried) {
    printf("test_scalebar: real bars skipped (../shared/data not present)\n");
    return;
  }
  CHECK(read == tried);
}

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

/* Single generated cases that each pinned a rule down: the label wider
** than its short bar (seed 29 case 39), a box whose walks start at the
** bar's JPEG-blurred corner (seed 2 case 210), a black box with bright
** film touching it (seed 29 case 81) — read within 1 %; and a '0.2 µm'
** whose '0.' merges with a bright particle at the strict ink level (seed 2
** case 185: read as '2 µm', 10x off, before the stand-free guard) — never
** wrong. Then those of the trimmed-rows round: a bar whose rows texture
** lengthened by 1-2 px at one end (seed 5 case 134), a short thick bar
** (seed 29 case 237, 5.3:1) — read within 1 % (the box walk stopped short,
** seed 5 case 210, and the '2 mm' vote, seed 29 case 93, are left to the
** eval to keep the test short); and a bar drawn over an
** image's own 386 px bar, whose rows the trimming would otherwise take for
** the old bar's (seed 5 case 208) — never wrong. And three '0.1 µm'
** labels of fresh seeds whose '0.' the strict ink levels broke into marks
** that were passed over, read '1 µm' (10x off) before the lost-'0.' check
** (seed 61 case 120, seed 67 case 223, seed 71 case 34), and an image's
** own label beside its bar half covered by a drawn box, read as that bar's
** when specks were left out of the stand-free count (seed 47 case 14) —
** never wrong. Then one case per rule of the round that followed, each
** read within 1 %: a bar on grainy film whose ends are measured apart
** (seed 13 case 103), a speck before the label read as a lone digit,
** '8 2nm' (seed 1 case 210), a mono '0.5um' whose dotted zero Tesseract
** reads '6' while its ink is a ring (seed 67 case 180), and a '100 nm'
** read at the strict level beside half-inked texture, whose trailing zero
** rules out a lost '0.' (seed 47 case 193), and a condensed '0.2 μm' read
** '02 um' by every rendering, whose ink shows a ring and a point (seed 2
** case 88). And a '0.5um' read '0 5um' whose lone '0' the lone-digit
** rule dropped as a speck, giving '5um' (10x off; found by the lead's blind
** check of fresh seeds, seed 79 case 91) — never wrong. Then the wrong
** answers of the blind checks on seeds 79-127, one per guard, each now
** NULL: a '0.2 µm' whose '0.' merged with a dark blob that passed for the
** number of '2 pm', a 'p' whose ink has no descender (seed 89 case 209);
** a '0.2 µm' whose '0.' merged with bright film and left the line '2 µm',
** the '0.' still at the label's level right before it (seed 109 case 86);
** a bar drawn in a box over an image's own bar, the old bar's label read
** for the old bar across the new one (seed 83 case 200); a '50 nm' read
** '30 nm' by the per-glyph tie-breaker against 7 of 10 readings (seed 89
** case 188). And two read within 1 % by rules of the same round: a 67 px
** bar whose ends lie on grainy film, 1.0 % long before the film was taken
** out of its end pixels (seed 103 case 202; seed 113 case 6, 61 px, film
** at 0.2 past one end and 0.35 past the other, 1.7 % long before), and an
** 8 px serif '10nm'
** whose bare '1' stem stood half a digit height before its '0', which
** ended the number there (seed 103 case 40). And a '1 um' in a white box
** whose walks disagreed, so the film beyond its edge, 0.71 line heights
** before the label, was taken for a lost '0.' at the first ink level
** (seed 1 case 76) — read within 1 %. */
static void pinned_cases(void) {
  static const struct { uint64_t seed; int index, must_read; } pins[] = {
      {29, 39, 1}, {2, 210, 1}, {29, 81, 1},   {2, 185, 0},   {5, 134, 1},  {29, 237, 1},
      {5, 208, 0},  {61, 120, 0}, {67, 223, 0}, {71, 34, 0},  {47, 14, 0},
      {13, 103, 1}, {1, 210, 1},  {67, 180, 1}, {47, 193, 1}, {2, 88, 1},  {79, 91, 0},
      {89, 209, -1}, {109, 86, -1}, {83, 200, -1}, {89, 188, -1}, {103, 202, 1}, {103, 40, 1},
      {1, 76, 1},   {113, 6, 1}};
  for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
    scalebar_score s;
    if (scalebar_run_only(240, pins[i].seed, 0, pins[i].index, NULL, &s) != 0) return;
    CHECK(s.cases == 1);
    CHECK(s.wrong_1_2 + s.wrong_over_2 == 0);
    if (pins[i].must_read == 1) CHECK(s.correct == 1);
    if (pins[i].must_read < 0) CHECK(s.abstained == 1); /* refused, not read */
  }
}

/* A label in a solid box owns only a bar inside that box. A white box drawn
** over an image holds '100 nm' and its own 100 px bar (beside the label,
** not under it); the image's own long thick bar runs just under the box and
** on past its right edge, under the label. The reader at HEAD before the
** rule paired the label with the long bar (0.303 nm/px; seed 137 case 208:
** 254 px for a drawn 125 px, 2x off). The answer must be the boxed bar's
** 1 nm/px within 1 %, or NULL — never the long bar's. A small synthetic
** image (600x400), drawn with Cairo on seeded texture. */
static void label_box_owns_only_its_bar(void) {
  int w = 600, h = 400;
  cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  CHECK(cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS);
  unsigned char *data = cairo_image_surface_get_data(surface);
  int stride = cairo_image_surface_get_stride(surface);
  uint64_t state = 137;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int v = 110 + (int)(synth_uniform(&state) * 40);
      uint32_t *p = (uint32_t *)(data + (size_t)y * stride) + x;
      *p = (uint32_t)v << 16 | (uint32_t)v << 8 | (uint32_t)v;
    }
  cairo_surface_mark_dirty(surface);
  cairo_t *cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 0.05, 0.05, 0.05); /* the image's own bar */
  cairo_rectangle(cr, 10, 334, 330, 11);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0.96, 0.96, 0.96); /* the drawn box over its left end */
  cairo_rectangle(cr, 4, 250, 296, 78);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, 140, 305, 100, 6); /* the box's own bar */
  cairo_fill(cr);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 30);
  cairo_move_to(cr, 24, 290);
  cairo_show_text(cr, "100 nm");
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  float *px = malloc(sizeof(float) * (size_t)w * h);
  CHECK(px != NULL);
  if (!px) {
    cairo_surface_destroy(surface);
    return;
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      px[(size_t)y * w + x] = (float)((((uint32_t *)(data + (size_t)y * stride))[x] >> 8) & 0xff);
  cairo_surface_destroy(surface);
  nm_scalebar sb;
  nm_error err;
  CHECK_OK(nm_scalebar_read(px, w, h, &sb, &err), err);
  double truth = 100.0 / 100.0;
  printf("label in a box beside a longer bar: %g nm/px (boxed bar %g), %s\n", sb.nm_per_px, truth,
         sb.reason);
  CHECK(isnan(sb.nm_per_px) || fabs(sb.nm_per_px - truth) <= 0.01 * truth);
  free(px);
}

int main(void) {
  pinned_cases();
  label_box_owns_only_its_bar();
  no_bar_gives_null();
  scalebar_real_bars_read_right();
  scalebar_score s;
  if (scalebar_run(60, 7, 0, &s) != 0) {
    printf("test_scalebar: generated cases skipped (../shared/data not present)\n");
  } else {
    printf("scale bars: %d/%d within 1%%, %d NULL, %d wrong 1-2%%, %d wrong >2%%\n", s.correct,
           s.cases, s.abstained, s.wrong_1_2, s.wrong_over_2);
    CHECK(s.cases >= 55);
    CHECK(s.correct >= 0.85 * s.cases);
    CHECK(s.wrong_over_2 == 0);
  }
  return check_summary("test_scalebar");
}
