/*
** scalebar.c — reading a burned-in scale bar: measure the bar to a fraction
** of a pixel, find its label next to it, read the label with Tesseract, and
** turn "200 nm" over 371.4 px into nm per pixel.
**
** The geometry (where the bar is) comes from nm_scalebar_detect()
** (scalebar_detect.c). This file only answers when it is sure: a wrong pixel
** size is worse than none, so every doubtful step returns NAN with a reason:
** no label found, a label that is not "<number> <length unit>", a word
** Tesseract is not confident about, or a size outside what a TEM gives.
*/
#include "scalebar.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

#include "calib.h"

/* Built with -DNM_SCALEBAR_TRACE (only by tools/eval_scalebar's trace build)
** the reader tells on stderr which strips, lines and readings it tried; the
** engine proper never prints. */
#ifdef NM_SCALEBAR_TRACE
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif

/* Pixel sizes a transmission microscope produces, nm/px. Outside: a misread. */
#define PLAUSIBLE_MIN_NM_PER_PX 0.002
#define PLAUSIBLE_MAX_NM_PER_PX 200.0
/* Tesseract character confidence (0..100) below which a label is not trusted. */
#define MIN_SYMBOL_CONFIDENCE 50.0f
/* Height in px the label line is scaled to before OCR (Tesseract reads best
** with capitals around 30-40 px). */
#define OCR_LINE_HEIGHT 48
/* Coverage above which a pixel counts as label ink. Labels are drawn at the
** bar's own level; a high threshold keeps film texture out of the glyphs. */
#define INK_COVERAGE 0.5f
#define STRICT_INK_COVERAGE 0.75f
/* A third level for a white label running onto film nearly as bright
** (or a black one onto dark film): at 0.75 the film still joins it. */
#define STRICTEST_INK_COVERAGE 0.9f
/* A lost "0." stands right before the line: its point a digit gap from
** the first digit, its ring a point's cell further (0.19 line heights on
** seed 109 case 86). Ink of the label's level farther off in the band is
** not a lost "0." at the first ink level: the film beyond the edge of a
** white box the label is drawn in, 0.71 line heights off (seed 1 case 76),
** when the box's walks disagree and it was not taken for one. In line
** heights. */
#define LEAD_GAP 0.5
/* Label glyphs are drawn at the bar's own level, so their strokes reach
** it; film texture that merely crosses INK_COVERAGE mostly does not. */
#define GLYPH_PEAK_COVERAGE 0.85f
#define FAINT_GLYPH_PEAK_COVERAGE 0.6f

/* The label is rendered for Tesseract from coverage stretched so that ink
** at the label's own level is black and faint film texture touching it
** fades to white: coverage RENDER_BLACK_FROM..RENDER_WHITE_TO maps to
** white..black. Marks that never reach RENDER_MIN_PEAK (texture specks
** inside the line) are left out. */
#define RENDER_BLACK_FROM 0.25
#define RENDER_WHITE_TO 0.85
#define RENDER_MIN_PEAK 0.7f

/* ---- bar measurement ---------------------------------------------------- */

static int compare_floats(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Median of n values (n >= 1); sorts a scratch copy. */
static float median_of(float *values, int n) {
  qsort(values, (size_t)n, sizeof *values, compare_floats);
  return n % 2 ? values[n / 2] : 0.5f * (values[n / 2 - 1] + values[n / 2]);
}

typedef struct bar_levels {
  float bar, background;
} bar_levels;

/* Median of two rows just above (side 0) or below (side 1) the bar, over its
** length; NAN when they fall outside the image. */
static float side_level(const float *px, int w, int h, const nm_scalebar *sb, int side,
                        float *scratch) {
  int k = 0;
  for (int r = 2; r <= 3; r++) {
    int y = side ? sb->bar_y + sb->bar_h - 1 + r : sb->bar_y - r;
    if (y < 0 || y >= h) continue;
    for (int x = sb->bar_x; x < sb->bar_x + sb->bar_w; x++) scratch[k++] = px[(size_t)y * w + x];
  }
  return k ? median_of(scratch, k) : NAN;
}

/* Median over the middle half of the bar's columns on row y. */
static float row_level(const float *px, int w, const nm_scalebar *sb, int y, float *scratch) {
  int k = 0;
  for (int x = sb->bar_x + sb->bar_w / 4; x < sb->bar_x + 3 * sb->bar_w / 4; x++)
    scratch[k++] = px[(size_t)y * w + x];
  return k ? median_of(scratch, k) : NAN;
}

/* Candidate rectangles can miss a row or two of the bar where JPEG ringing
** broke a run: grow the rows up and down while the row's level stays nearer
** the bar's than the level two rows beyond the bar. */
static void snap_rows(const float *px, int w, int h, nm_scalebar *sb) {
  float *scratch = malloc(sizeof(float) * (size_t)(sb->bar_w > 0 ? sb->bar_w : 1));
  if (!scratch) return;
  float bar = row_level(px, w, sb, sb->bar_y + sb->bar_h / 2, scratch);
  /* The contrast of the bar with the rows around it, for telling a row
  ** inside the bar from one beside it when the row two beyond is still bar
  ** (a candidate holding only some of the bar's rows). */
  float contrast = 0;
  int reach = 2 * sb->bar_h + 6;
  for (int d = 2; d <= reach; d++)
    for (int side = 0; side < 2; side++) {
      int y = side ? sb->bar_y + sb->bar_h - 1 + d : sb->bar_y - d;
      if (y >= 0 && y < h) contrast = fmaxf(contrast, fabsf(row_level(px, w, sb, y, scratch) - bar));
    }
  for (int side = 0; side < 2; side++)
    for (int grown = 0; grown < 2 * sb->bar_h + 4; grown++) {
      int y = side ? sb->bar_y + sb->bar_h : sb->bar_y - 1;
      int beyond = side ? y + 2 : y - 2;
      if (y < 0 || y >= h || beyond < 0 || beyond >= h) break;
      float here = row_level(px, w, sb, y, scratch);
      float far = row_level(px, w, sb, beyond, scratch);
      int inside = fabsf(here - bar) < 0.1f * contrast && fabsf(far - bar) < 0.1f * contrast;
      if (!(fabsf(here - bar) < 0.5f * fabsf(far - bar)) && !inside) break;
      if (side) sb->bar_h++;
      else sb->bar_y--, sb->bar_h++;
    }
  free(scratch);
}

/* Bar level: median inside the bar box. Background: the rows just above and
** below it (the label never touches the bar there). A bar is darker than
** both sides or brighter than both, by comparable amounts; the edge of a
** solid box or of a dark region is not (it matches one side). */
static int measure_levels(const float *px, int w, int h, const nm_scalebar *sb,
                          bar_levels *out) {
  int n_bar = sb->bar_w * sb->bar_h;
  int n_side = 2 * (sb->bar_w + 8);
  float *scratch = malloc(sizeof(float) * (size_t)(n_bar > n_side ? n_bar : n_side));
  if (!scratch) return -1;
  int k = 0;
  for (int y = sb->bar_y; y < sb->bar_y + sb->bar_h; y++)
    for (int x = sb->bar_x; x < sb->bar_x + sb->bar_w; x++) scratch[k++] = px[(size_t)y * w + x];
  out->bar = median_of(scratch, k);
  float above = side_level(px, w, h, sb, 0, scratch);
  float below = side_level(px, w, h, sb, 1, scratch);
  free(scratch);
  if (isnan(above) || isnan(below)) return -1;
  float da = out->bar - above, db = out->bar - below;
  if (da * db <= 0 || fminf(fabsf(da), fabsf(db)) < 0.5f * fmaxf(fabsf(da), fabsf(db))) return -1;
  out->background = 0.5f * (above + below);
  return 0;
}

/* Length of the bar to a fraction of a pixel. In each row of the bar: the
** run of pixels more than half covered that contains the bar's middle, plus
** the coverage (0 background .. 1 bar) of the one pixel beyond each end —
** exact for an anti-aliased rectangle, and blind to texture or particles
** farther out. Coverage is relative to the row's own plateau so a partially
** covered edge row is not short. The median over rows resists JPEG ringing. */
/* Background beside one end of the bar (x_end: its first or last column):
** median of the rows two and three above and below it over a few columns
** around the end. Film under a bar is not flat; the global level would
** count a darker patch beside an end as bar. */
static float end_background(const float *px, int w, int h, const nm_scalebar *sb, int x_end,
                            float fallback) {
  float v[4 * 9];
  int k = 0;
  for (int x = x_end - 4; x <= x_end + 4; x++) {
    if (x < 0 || x >= w) continue;
    for (int r = 2; r <= 3; r++) {
      int ya = sb->bar_y - r, yb = sb->bar_y + sb->bar_h - 1 + r;
      if (ya >= 0) v[k++] = px[(size_t)ya * w + x];
      if (yb < h) v[k++] = px[(size_t)yb * w + x];
    }
  }
  return k ? median_of(v, k) : fallback;
}

/* Whether the film two and three pixels past the bar's ends (median
** coverage over the rows measured, `left` and `right`) is clean enough to
** trust the ends: under 0.5 (a particle at the bar's level is near 1;
** grainy film and lattice fringes reach 0.3-0.5). Film over 0.25 can lend
** the end's anti-aliased pixel up to half a pixel, so each such end needs
** the bar to be 50 px long for that half pixel to stay under 1 %. */
static int end_clean_enough(float left, float right, double length) {
  if (!(left < 0.5f && right < 0.5f)) return 0;
  double slack = (left >= 0.25f ? 0.5 : 0.0) + (right >= 0.25f ? 0.5 : 0.0);
  return slack <= 0.01 * length;
}

/* The two ends measured apart, when the rows' lengths disagree. Texture at
** the bar's level glued to an end moves that end of a row outwards, never
** inwards by more than the noise, and it rarely touches both ends of the
** same rows: so at each end the rows ending innermost (within 0.75 px of
** the innermost) mark the drawn end, when they are at least half of the
** rows (two at least) and no row runs past them by more than 3 px (a longer
** run is another structure at the bar's level), and past them the film is
** clean enough (end_clean_enough). NAN otherwise. */
static double measure_ends_apart(const float *starts, const float *ends, const float *beyond_l,
                                 const float *beyond_r, int rows, float *scratch) {
  if (rows < 3) return NAN;
  double at[2];
  float dirt_at[2];
  for (int end = 0; end < 2; end++) {
    const float *pos = end ? ends : starts, *beyond = end ? beyond_r : beyond_l;
    /* inward: larger starts, smaller ends */
    float inner = pos[0], outer = pos[0];
    for (int i = 1; i < rows; i++) {
      if (end ? pos[i] < inner : pos[i] > inner) inner = pos[i];
      if (end ? pos[i] > outer : pos[i] < outer) outer = pos[i];
    }
    if (fabsf(outer - inner) > 3.0f) return NAN;
    int k = 0;
    float *near = scratch, *clean = scratch + rows;
    for (int i = 0; i < rows; i++)
      if (fabsf(pos[i] - inner) <= 0.75f) near[k] = pos[i], clean[k] = beyond[i], k++;
    float dirt = k ? median_of(clean, k) : 1.0f;
    TRACE("    %s end: %d of %d rows within 0.75 px of the innermost, beyond %.2f\n",
          end ? "right" : "left", k, rows, dirt);
    if (k < 2 || 2 * k < rows) return NAN;
    dirt_at[end] = dirt;
    at[end] = median_of(near, k);
  }
  double length = at[1] - at[0];
  return end_clean_enough(dirt_at[0], dirt_at[1], length) ? length : NAN;
}

/* Length of the bar to a fraction of a pixel. In each row of the bar: the
** run of pixels more than half covered that contains the bar's middle, plus
** the coverage (0 background .. 1 bar) of the one pixel beyond each end —
** exact for an anti-aliased rectangle, and blind to texture or particles
** farther out. Coverage is relative to the row's own plateau and, at each
** end, to the background right there. The median over rows resists JPEG
** ringing. */
static double measure_bar_length(const float *px, int w, int h, const nm_scalebar *sb,
                                 const bar_levels *lv) {
  size_t n_rows = (size_t)(sb->bar_h > 0 ? sb->bar_h : 1);
  float *lengths = malloc(sizeof(float) * 11 * n_rows);
  float *plateau = malloc(sizeof(float) * (size_t)(sb->bar_w > 0 ? sb->bar_w : 1));
  if (!lengths || !plateau) {
    free(lengths);
    free(plateau);
    return NAN;
  }
  /* Per row, how covered the pixels two and three beyond each end are
  ** (the larger of the two): 0 where the end is clean. */
  float *beyond_l = lengths + n_rows, *beyond_r = lengths + 2 * n_rows, *kept = lengths + 3 * n_rows;
  /* Where each row starts and ends, to a fraction of a pixel (pixel x
  ** covers [x, x + 1)). */
  float *starts = lengths + 6 * n_rows, *ends = lengths + 7 * n_rows;
  float *corrected = lengths + 10 * n_rows; /* film past the ends taken out */
  float span = lv->bar - lv->background;
  float bg_left = end_background(px, w, h, sb, sb->bar_x, lv->background);
  float bg_right = end_background(px, w, h, sb, sb->bar_x + sb->bar_w - 1, lv->background);
  int rows = 0;
  for (int y = sb->bar_y; y < sb->bar_y + sb->bar_h && y < h; y++) {
    const float *row = px + (size_t)y * w;
    int m = 0;
    for (int x = sb->bar_x + sb->bar_w / 4; x < sb->bar_x + 3 * sb->bar_w / 4; x++)
      plateau[m++] = (row[x] - lv->background) / span;
    float level = m ? median_of(plateau, m) : 0;
    if (level < 0.5f) continue;
    float top = lv->background + level * span; /* this row's bar level, grey */
    /* An end whose local background is not clearly apart from the bar
    ** cannot be measured on this row. */
    if (fabsf(top - bg_left) < 0.5f * fabsf(span) || fabsf(top - bg_right) < 0.5f * fabsf(span))
      continue;
#define COVERAGE(x, bg) fminf(1.0f, fmaxf(0.0f, (row[(x)] - (bg)) / (top - (bg))))
    int mid = sb->bar_x + sb->bar_w / 2, left = mid, right = mid;
    while (left - 1 >= 0 && COVERAGE(left - 1, bg_left) > 0.5f) left--;
    while (right + 1 < w && COVERAGE(right + 1, bg_right) > 0.5f) right++;
    /* Interior pixels are whole; the run's end pixels and their outer
    ** neighbours carry the anti-aliased fractions. */
    double length = right - left - 1 + COVERAGE(left, bg_left) + COVERAGE(right, bg_right);
    TRACE("    row %d: %d-%d beyond %.2f %.2f | %.2f %.2f\n", y, left, right,
          left - 3 >= 0 ? COVERAGE(left - 3, bg_left) : -1, left - 2 >= 0 ? COVERAGE(left - 2, bg_left) : -1,
          right + 2 < w ? COVERAGE(right + 2, bg_right) : -1, right + 3 < w ? COVERAGE(right + 3, bg_right) : -1);
    if (left - 1 >= 0) length += COVERAGE(left - 1, bg_left);
    if (right + 1 < w) length += COVERAGE(right + 1, bg_right);
    starts[rows] = (float)(left + 1) - COVERAGE(left, bg_left) -
                   (left - 1 >= 0 ? COVERAGE(left - 1, bg_left) : 0.0f);
    ends[rows] = (float)right + COVERAGE(right, bg_right) +
                 (right + 1 < w ? COVERAGE(right + 1, bg_right) : 0.0f);
    /* Film of the bar's polarity right past an end (coverage f two and
    ** three pixels out, the smaller of the two, 0.15 to 0.75) is mixed into
    ** the end's anti-aliased pixels too: one reading c holds (c - f) / (1 -
    ** f) of the bar. Uncorrected, grainy film at 0.35-0.4 past both ends of a
    ** 61 px bar lent it a pixel (1.7 %). The corrected length is used only
    ** when every row agrees both ways (below). */
    float film_l = left - 3 >= 0 ? fminf(COVERAGE(left - 2, bg_left), COVERAGE(left - 3, bg_left)) : 0;
    float film_r = right + 3 < w ? fminf(COVERAGE(right + 2, bg_right), COVERAGE(right + 3, bg_right)) : 0;
    if (!(film_l >= 0.15f && film_l < 0.75f)) film_l = 0;
    if (!(film_r >= 0.15f && film_r < 0.75f)) film_r = 0;
#define END_L(x) fmaxf(0.0f, (COVERAGE(x, bg_left) - film_l) / (1.0f - film_l))
#define END_R(x) fmaxf(0.0f, (COVERAGE(x, bg_right) - film_r) / (1.0f - film_r))
    corrected[rows] = (float)(right - left - 1) + END_L(left) + END_R(right) +
                      (left - 1 >= 0 ? END_L(left - 1) : 0.0f) +
                      (right + 1 < w ? END_R(right + 1) : 0.0f);
#undef END_L
#undef END_R
    beyond_l[rows] = left - 3 >= 0 ? fmaxf(COVERAGE(left - 2, bg_left), COVERAGE(left - 3, bg_left)) : 1;
    beyond_r[rows] = right + 3 < w ? fmaxf(COVERAGE(right + 2, bg_right), COVERAGE(right + 3, bg_right)) : 1;
#undef COVERAGE
    lengths[rows++] = (float)length;
  }
#ifdef NM_SCALEBAR_TRACE
  TRACE("    row lengths:");
  for (int i = 0; i < rows; i++) TRACE(" %.2f", lengths[i]);
  TRACE("\n");
#endif
  /* (the median sorts a copy: lengths[i] stays row i's, beside beyond_l[i]
  ** and beyond_r[i]) */
  for (int i = 0; i < rows; i++) kept[i] = lengths[i];
  double length = rows ? median_of(kept, rows) : NAN;
  /* A drawn bar has vertical ends: its rows are equally long (JPEG moves an
  ** end by a fraction of a pixel). Rows that differ by more than 1.5 px (1 %
  ** of a long bar) end on texture of the bar's level; the median of such
  ** rows was 2.4 % long on a bright bar ending in bright film (fresh seed
  ** 53 case 100). Then the run is followed instead, with its own checks. */
  float lo = rows ? lengths[0] : 0, hi = lo;
  for (int i = 1; i < rows; i++) {
    if (lengths[i] < lo) lo = lengths[i];
    if (lengths[i] > hi) hi = lengths[i];
  }
  if (rows && hi - lo <= fmax(1.5, 0.01 * length)) {
    float clo = corrected[0], chi = clo;
    for (int i = 1; i < rows; i++) {
      if (corrected[i] < clo) clo = corrected[i];
      if (corrected[i] > chi) chi = corrected[i];
    }
    if (chi - clo <= fmax(1.5, 0.01 * length)) {
      for (int i = 0; i < rows; i++) kept[i] = corrected[i];
      length = median_of(kept, rows);
      TRACE("    film past the ends taken out: %.2f px\n", length);
    }
  } else if (rows) {
    /* Texture at the bar's level glued to an end lengthens a row, never
    ** shortens it by more than the noise: rows longer than the shortest by
    ** over a pixel are dropped when at least two thirds of the rows remain
    ** and, over those, the pixels beyond each end are clean enough
    ** (end_clean_enough). A bar ending on a
    ** particle has every row long and its ends unclean; a too-short row
    ** leaves too few within a pixel of it. No row may be longer by more
    ** than 3 px: glued texture adds a pixel or two, a row 10 px long runs
    ** into another structure at the bar's level (a bar drawn over an
    ** image's own bar, whose rows are then measured as the old bar's). */
    int n_kept = 0;
    for (int i = 0; i < rows; i++)
      if (lengths[i] <= lo + 1.0f) kept[n_kept++] = lengths[i];
    length = NAN;
    if (n_kept >= 2 && 3 * n_kept >= 2 * rows && hi <= lo + 3.0f) {
      float *bl = lengths + 4 * n_rows, *br = lengths + 5 * n_rows;
      int k = 0;
      for (int i = 0; i < rows; i++)
        if (lengths[i] <= lo + 1.0f) bl[k] = beyond_l[i], br[k] = beyond_r[i], k++;
      float clean_l = median_of(bl, k), clean_r = median_of(br, k);
      TRACE("    rows within 1 px of the shortest: %d of %d, ends beyond %.2f %.2f\n", n_kept,
            rows, clean_l, clean_r);
      length = median_of(kept, n_kept);
      if (!end_clean_enough(clean_l, clean_r, length)) length = NAN;
    }
    if (isnan(length))
      length = measure_ends_apart(starts, ends, beyond_l, beyond_r, rows, lengths + 8 * n_rows);
  }
  free(lengths);
  free(plateau);
  return length;
}

/* Second way to measure, for a bar whose end lies on a particle of its own
** polarity (a dark bar ending on a dark particle: the rows above and below
** that end are no background to measure against). A drawn bar is a run of
** constant level with sharp, vertical end caps; a particle is not. In each
** bar row the run at the row's bar level (within a noise tolerance) is
** followed from the middle outwards, across particles too, and its ends are
** measured against the level *beyond* them in the same row. Answered only
** when that level is clearly apart from the bar, the transition takes at
** most two pixels, every row starts and ends at the same place (within a
** pixel), and the rows above and below are not at the bar's level over
** half the run; verify_bar then repeats the corner check at the new ends (a
** run into a particle as dark as the bar, or along a dark band, fails
** these).
** On success the bar's box is widened to the run. NAN otherwise. */
static double measure_bar_run(const float *px, int w, int h, nm_scalebar *sb,
                              const bar_levels *lv) {
  int n = sb->bar_w > 0 ? sb->bar_w : 1;
  float *scratch = malloc(sizeof(float) * (size_t)n);
  float *lengths = malloc(sizeof(float) * (size_t)(sb->bar_h > 0 ? sb->bar_h : 1));
  if (!scratch || !lengths) {
    free(scratch);
    free(lengths);
    return NAN;
  }
  float span = lv->bar - lv->background;
  int rows = 0, lo_end = w, hi_end = -1, lo_start = w, hi_start = -1, run_x0 = w, run_x1 = -1;
  int unmeasured = 0;
  float widest_tol = 0;
  for (int y = sb->bar_y; y < sb->bar_y + sb->bar_h; y++) {
    const float *row = px + (size_t)y * w;
    int m = 0;
    for (int x = sb->bar_x + sb->bar_w / 4; x < sb->bar_x + 3 * sb->bar_w / 4; x++)
      scratch[m++] = row[x];
    if (m < 4) continue;
    float top = median_of(scratch, m);
    if ((top - lv->background) / span < 0.75f) continue; /* an anti-aliased edge row */
    for (int i = 0; i < m; i++) scratch[i] = fabsf(scratch[i] - top);
    float noise = 1.4826f * median_of(scratch, m);
    float tol = fmaxf(0.06f * fabsf(span), 2.5f * noise);
    int mid = sb->bar_x + sb->bar_w / 2, a = mid, b = mid;
    while (a - 1 >= 0 && fabsf(row[a - 1] - top) <= tol) a--;
    while (b + 1 < w && fabsf(row[b + 1] - top) <= tol) b++;
    if (a < 7 || b > w - 8 || b - a + 1 < sb->bar_w - 2) {
      unmeasured++;
      continue;
    }
    float v[4];
    for (int k = 0; k < 4; k++) v[k] = row[a - 2 - k];
    float bg_a = median_of(v, 4);
    for (int k = 0; k < 4; k++) v[k] = row[b + 2 + k];
    float bg_b = median_of(v, 4);
    float least = fmaxf(0.1f * fabsf(span), fmaxf(3.0f * noise, tol));
    if (fabsf(top - bg_a) < least || fabsf(top - bg_b) < least) {
      unmeasured++;
      continue;
    }
#define COVERAGE(x, bg) fminf(1.0f, fmaxf(0.0f, (row[(x)] - (bg)) / (top - (bg))))
    int left = mid, right = mid;
    while (left - 1 >= 0 && COVERAGE(left - 1, bg_a) > 0.5f) left--;
    while (right + 1 < w && COVERAGE(right + 1, bg_b) > 0.5f) right++;
    /* A sharp end cap: two pixels past the half-covered one is background. */
    if (left < 4 || right > w - 5 || COVERAGE(left - 2, bg_a) > 0.3f ||
        COVERAGE(right + 2, bg_b) > 0.3f) {
      unmeasured++;
      continue;
    }
    double length = right - left - 1 + COVERAGE(left, bg_a) + COVERAGE(right, bg_b) +
                    COVERAGE(left - 1, bg_a) + COVERAGE(right + 1, bg_b);
#undef COVERAGE
    lengths[rows++] = (float)length;
    if (tol > widest_tol) widest_tol = tol;
    if (left < lo_start) lo_start = left;
    if (left > hi_start) hi_start = left;
    if (right < lo_end) lo_end = right;
    if (right > hi_end) hi_end = right;
    if (left < run_x0) run_x0 = left;
    if (right > run_x1) run_x1 = right;
  }
  double length = NAN;
  if (rows >= 2 && 3 * unmeasured <= rows && hi_start - lo_start <= 1 && hi_end - lo_end <= 1) {
    float lmin = lengths[0], lmax = lengths[0];
    for (int i = 1; i < rows; i++) lmin = fminf(lmin, lengths[i]), lmax = fmaxf(lmax, lengths[i]);
    if (lmax - lmin <= 1.0f) length = median_of(lengths, rows);
  }
  free(scratch);
  free(lengths);
  if (isnan(length)) return NAN;
  /* Rows two above and below: background, or a particle the run could tell
  ** from the bar (not within its tolerance), never the bar's own level for
  ** long: a run into a particle as dark as the bar would be. */
  for (int side = 0; side < 2; side++) {
    int y = side ? sb->bar_y + sb->bar_h + 1 : sb->bar_y - 2;
    if (y < 0 || y >= h) return NAN;
    int at_bar = 0;
    for (int x = run_x0; x <= run_x1; x++)
      at_bar += fabsf(px[(size_t)y * w + x] - lv->bar) <= widest_tol;
    if (at_bar > 0.5 * (run_x1 - run_x0 + 1)) return NAN;
  }
  sb->bar_x = run_x0;
  sb->bar_w = run_x1 - run_x0 + 1;
  int box_x1 = sb->box_x + sb->box_w > run_x1 + 1 ? sb->box_x + sb->box_w : run_x1 + 1;
  if (run_x0 < sb->box_x) sb->box_x = run_x0;
  sb->box_w = box_x1 - sb->box_x;
  return length;
}

/* ---- bar candidates ------------------------------------------------------ */

/* Running minimum (or maximum) over a centred window of `len` samples along
** n values spaced `stride` apart, in O(n) (van Herk / Gil-Werman). Edges
** clamp. buf: 2*(n+len) floats of scratch. */
/* fmaxf/fminf semantics (a NaN operand loses) without a libm call, so the
** loops below vectorise. */
static inline float max_keep(float a, float b) { return (b > a || a != a) ? b : a; }
static inline float min_keep(float a, float b) { return (b < a || a != a) ? b : a; }

/* Running min or max over windows of `len` along `lines` adjacent lines at once
** (van Herk / Gil-Werman; edges replicated). Element i of line j is
** v[i * stride + j]: the vertical pass works on a block of adjacent columns, so
** every access is contiguous instead of striding down one column at a time.
** buf holds 2 * (n + len - 1) * lines floats. */
static void running_extreme(float *v, int n, size_t stride, int lines, int len, int is_max,
                            float *buf) {
  int half = len / 2, m = n + len - 1;
  float *pre = buf, *suf = buf + (size_t)m * lines;
  for (int i = 0, phase = 0; i < m; i++, phase = phase + 1 == len ? 0 : phase + 1) {
    int at = i - half < 0 ? 0 : i - half >= n ? n - 1 : i - half;
    const float *src = v + (size_t)at * stride;
    float *p = pre + (size_t)i * lines;
    if (phase == 0)
      memcpy(p, src, sizeof *p * (size_t)lines);
    else if (is_max)
      for (int j = 0; j < lines; j++) p[j] = max_keep(p[j - lines], src[j]);
    else
      for (int j = 0; j < lines; j++) p[j] = min_keep(p[j - lines], src[j]);
  }
  for (int i = m - 1; i >= 0; i--) {
    int at = i - half < 0 ? 0 : i - half >= n ? n - 1 : i - half;
    const float *src = v + (size_t)at * stride;
    float *s = suf + (size_t)i * lines;
    if (i == m - 1 || (i + 1) % len == 0)
      memcpy(s, src, sizeof *s * (size_t)lines);
    else if (is_max)
      for (int j = 0; j < lines; j++) s[j] = max_keep(s[j + lines], src[j]);
    else
      for (int j = 0; j < lines; j++) s[j] = min_keep(s[j + lines], src[j]);
  }
  for (int i = 0; i < n; i++) {
    float *dst = v + (size_t)i * stride;
    const float *s = suf + (size_t)i * lines, *p = pre + (size_t)(i + len - 1) * lines;
    if (is_max)
      for (int j = 0; j < lines; j++) dst[j] = max_keep(s[j], p[j]);
    else
      for (int j = 0; j < lines; j++) dst[j] = min_keep(s[j], p[j]);
  }
}

#define EXTREME_BLOCK 64 /* columns per vertical block */

/* Grey opening by a line of `len` px, horizontal (rows) or vertical. */
static void line_opening(float *img, int w, int h, int len, int vertical, float *buf) {
  for (int pass = 0; pass < 2; pass++) {
    if (vertical)
      for (int c = 0; c < w; c += EXTREME_BLOCK) {
        int lines = w - c < EXTREME_BLOCK ? w - c : EXTREME_BLOCK;
        running_extreme(img + c, h, (size_t)w, lines, len, pass == 1, buf);
      }
    else
      for (int r = 0; r < h; r++) running_extreme(img + (size_t)r * w, w, 1, 1, len, pass == 1, buf);
  }
}

#define MAX_BAR_CANDIDATES 6
#define MAX_LOOSE_CANDIDATES 8 /* of the second, loose pass (bars across particles) */
/* A strip is a bar candidate when at least this many times as long as its
** rows. Short thick bars exist: 8 % of the side long and 1.5 % thick is
** 5.3:1 (was 6, which missed them). */
#define BAR_MIN_ASPECT 4

typedef struct bar_candidate {
  nm_scalebar sb;
  int bright; /* 1 brighter than its surroundings, 0 darker */
} bar_candidate;

static int compare_bars(const void *a, const void *b) {
  const bar_candidate *x = a, *y = b;
  return (y->sb.bar_w > x->sb.bar_w) - (y->sb.bar_w < x->sb.bar_w);
}

/* Thin long structures of one polarity: what a horizontal line opening of
** length min_len keeps but a vertical one of max_thick removes. Rows of
** strong response are stacked into rectangles; those long and thin enough
** are bar candidates. Film texture does not survive the horizontal opening;
** vacuum, supports and solid annotation boxes do not survive the difference. */
static int bar_candidates_of_polarity(const float *px, int w, int h, float sign, int min_len,
                                      int max_thick, bar_candidate *out, int room,
                                      bar_candidate *loose, int loose_room, int *n_loose) {
  size_t n = (size_t)w * h;
  float *open_h = malloc(sizeof(float) * n), *open_v = malloc(sizeof(float) * n);
  int longest = w > h ? w : h;
  float *buf = malloc(sizeof(float) * 2 * EXTREME_BLOCK * (size_t)(longest + min_len + max_thick));
  int found = 0;
  if (!open_h || !open_v || !buf) goto done;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    open_h[i] = sign * px[i];
    lo = fminf(lo, open_h[i]);
    hi = fmaxf(hi, open_h[i]);
  }
  line_opening(open_h, w, h, min_len, 0, buf);
  memcpy(open_v, open_h, sizeof(float) * n);
  line_opening(open_v, w, h, max_thick, 1, buf);
  float threshold = 0.3f * (hi - lo);
  /* The second, loose pass: a bar crossing particles of its own polarity
  ** stands out from them by less than `threshold`, but a drawn bar is at
  ** the image's extreme level (black or white) along its whole length,
  ** where particles rarely are. */
  float loose_threshold = 0.05f * (hi - lo), extreme = hi - 0.06f * (hi - lo);
  *n_loose = 0;
  for (int pass = 0; pass < 2; pass++) {
  bar_candidate *dst = pass ? loose : out;
  int dst_room = pass ? loose_room : room, made = 0;
  /* Stack rows: a run continues an open rectangle when both ends match. */
  enum { MAX_OPEN = 64 };
  struct rect { int x0, x1, y, rows, seen; } open[MAX_OPEN];
  int n_open = 0;
  for (int y = 0; y <= h && made < dst_room; y++) {
    for (int r = 0; r < n_open; r++) open[r].seen = 0;
    int start = -1;
    for (int x = 0; y < h && x <= w; x++) {
      size_t i = (size_t)y * w + x;
      int on = x < w && (pass ? open_h[i] - open_v[i] > loose_threshold && open_h[i] >= extreme
                              : open_h[i] - open_v[i] > threshold);
      if (on && start < 0) start = x;
      if (on || start < 0) continue;
      if (x - start >= min_len) {
        int matched = 0;
        for (int r = 0; r < n_open && !matched; r++)
          if (!open[r].seen && abs(open[r].x0 - start) <= 3 && abs(open[r].x1 - x) <= 3) {
            open[r].rows++;
            open[r].seen = matched = 1;
          }
        if (!matched && n_open < MAX_OPEN) open[n_open++] = (struct rect){start, x, y, 1, 1};
      }
      start = -1;
    }
    /* Rectangles not continued on this row are complete. */
    for (int r = 0; r < n_open; r++) {
      if (open[r].seen) continue;
      const struct rect *c = &open[r];
      if (c->rows >= 2 && c->rows < max_thick && c->x1 - c->x0 >= BAR_MIN_ASPECT * c->rows &&
          made < dst_room) {
        dst[made].bright = sign > 0;
        nm_scalebar *sb = &dst[made++].sb;
        memset(sb, 0, sizeof *sb);
        sb->found = 1;
        sb->bar_x = sb->box_x = c->x0;
        sb->bar_y = sb->box_y = c->y;
        sb->bar_w = sb->box_w = c->x1 - c->x0;
        sb->bar_h = sb->box_h = c->rows;
      }
      open[r--] = open[--n_open];
    }
  }
  TRACE("  %s %s candidates: %d\n", pass ? "loose" : "strict", sign > 0 ? "bright" : "dark", made);
  if (pass) *n_loose = made;
  else found = made;
  }
done:
  free(open_h);
  free(open_v);
  free(buf);
  return found;
}

/* Bar candidates of both polarities, longest first (at most `room`).
** Image-wide strips and strips on the first or last row are edges of the
** field, not bars. */
static int find_bar_candidates(const float *px, int w, int h, bar_candidate *out, int room) {
  int side = w < h ? w : h;
  int min_len = (side / 40 > 16 ? side / 40 : 16) | 1; /* odd: a centred window */
  int max_thick = (side / 33 > 4 ? side / 33 : 4) | 1;
  enum { ROOM = 256 };
  bar_candidate *found = malloc(sizeof(bar_candidate) * 4 * ROOM);
  if (!found) return -1;
  bar_candidate *loose = found + 2 * ROOM;
  int n_loose_bright = 0, n_loose_dark = 0;
  int n = bar_candidates_of_polarity(px, w, h, 1.0f, min_len, max_thick, found, ROOM, loose, ROOM,
                                     &n_loose_bright);
  n += bar_candidates_of_polarity(px, w, h, -1.0f, min_len, max_thick, found + n, ROOM,
                                  loose + n_loose_bright, ROOM, &n_loose_dark);
  int n_loose = n_loose_bright + n_loose_dark;
  qsort(found, (size_t)n, sizeof found[0], compare_bars);
  qsort(loose, (size_t)n_loose, sizeof loose[0], compare_bars);
  int n_kept = 0;
  for (int i = 0; i < n && n_kept < room - MAX_LOOSE_CANDIDATES; i++) {
    const nm_scalebar *c = &found[i].sb;
    if (c->bar_w > 0.6 * w || c->bar_y == 0 || c->bar_y + c->bar_h >= h) continue;
    out[n_kept++] = found[i];
  }
  /* Loose candidates come last, and only those no strict one already is. */
  int n_strict = n_kept;
  for (int i = 0; i < n_loose && n_kept < room; i++) {
    const nm_scalebar *c = &loose[i].sb;
    if (c->bar_w > 0.6 * w || c->bar_y == 0 || c->bar_y + c->bar_h >= h) continue;
    int known = 0;
    for (int j = 0; j < n_strict && !known; j++) {
      const nm_scalebar *o = &out[j].sb;
      known = out[j].bright == loose[i].bright && abs(o->bar_x - c->bar_x) <= 3 &&
              abs(o->bar_w - c->bar_w) <= 6 && abs(o->bar_y - c->bar_y) <= 2;
    }
    if (!known) out[n_kept++] = loose[i];
  }
  free(found);
  return n_kept;
}

/* A much shorter strip of the same polarity close to a longer, verified
** bar is a stroke of its label, never a second bar (a strip nearly as long
** as the bar is another bar: an image with its original bar and a second
** one drawn on export). (The opposite polarity near a bar
** is the margin of its annotation box, and the bar may be either; a strip
** that failed the bar check — the edge of a box — shadows nothing.) */
static int shadowed_by(const bar_candidate *c, const bar_candidate *bar) {
  if (c->bright != bar->bright) return 0;
  const nm_scalebar *a = &c->sb, *b = &bar->sb;
  int dx = a->bar_x > b->bar_x + b->bar_w ? a->bar_x - (b->bar_x + b->bar_w)
           : b->bar_x > a->bar_x + a->bar_w ? b->bar_x - (a->bar_x + a->bar_w) : 0;
  int dy = abs(a->bar_y - b->bar_y);
  return dx < a->bar_w && dy < a->bar_w / 2 && a->bar_w < 0.6 * b->bar_w;
}

/* ---- finding the label line ----------------------------------------------- */

typedef struct box {
  int x0, y0, x1, y1; /* inclusive-exclusive */
  int area;
  float peak; /* highest coverage of a component (1 = the bar's level) */
} box;

static int same_extent(const box *a, const box *b) {
  return a->x0 == b->x0 && a->y0 == b->y0 && a->x1 == b->x1 && a->y1 == b->y1;
}

typedef struct ink_window {
  int x0, y0, w, h;
  uint8_t *ink;  /* w*h: 1 where the pixel is closer to the bar's level */
  float *cov;    /* w*h: 0 background .. 1 bar level, clipped */
  int32_t *comp; /* component id per pixel, -1 none */
  int panel, px0, py0, px1, py1; /* a solid annotation box, window coords (inclusive) */
  int ox0, oy0, ox1, oy1;        /* ... its outermost walks */
} ink_window;

static void window_free(ink_window *win) {
  free(win->ink);
  free(win->cov);
  free(win->comp);
}

/* Walks from (x, y) by (dx, dy) while the pixel stays at the background
** level (within tol); the last such position along the walk. */
static int walk_flat(const float *px, int w, int h, int x, int y, int dx, int dy, float level,
                     float tol) {
  int last = dx ? x : y;
  for (;;) {
    x += dx, y += dy;
    if (x < 0 || y < 0 || x >= w || y >= h || fabsf(px[(size_t)y * w + x] - level) > tol)
      return last;
    last = dx ? x : y;
  }
}

/* walk_flat from one end of the bar along a row beside it, past at most
** three pixels that are off the level: JPEG rings and anti-aliasing blur
** the bar's corners into the rows just above and below it. */
static int walk_from_bar_end(const float *px, int w, int h, int x, int y, int dx, float level,
                             float tol) {
  for (int k = 0; k < 3; k++) {
    int nx = x + dx;
    if (nx < 0 || nx >= w || fabsf(px[(size_t)y * w + nx] - level) <= tol) break;
    x = nx;
  }
  return walk_flat(px, w, h, x, y, dx, 0, level, tol);
}

/* Share of the pixels along row (horizontal) or column `at`, from..to,
** that are not at the fill's level. */
static double off_fill(const float *px, int w, int h, int horizontal, int at, int from, int to,
                       float level, float tol) {
  if (at < 0 || at >= (horizontal ? h : w) || to < from) return 1;
  int off = 0;
  for (int k = from; k <= to; k++) {
    int x = horizontal ? k : at, y = horizontal ? at : k;
    if (x < 0 || y < 0 || x >= w || y >= h) continue;
    off += fabsf(px[(size_t)y * w + x] - level) > tol;
  }
  return (double)off / (to - from + 1);
}
/* The inner of a side's two walks: the larger for the left and top sides,
** the smaller for the right and bottom ones. */
static int inner_of_low_side(const int walk[2]) { return walk[0] > walk[1] ? walk[0] : walk[1]; }
static int inner_of_high_side(const int walk[2]) { return walk[0] < walk[1] ? walk[0] : walk[1]; }

/* A solid annotation box around the bar: the background beside the bar is
** flat (its spread a few % of the bar's contrast, where film texture is
** several times that) and continues past both ends of the bar. Its extent
** is walked along the margin rows above and below the bar and along the
** margin columns inside its left and right edges, at a tolerance of the
** fill's own noise. A box has straight edges, so the two walks of a side
** agree (within 2 px); film as bright as a white box can carry one walk
** past one edge, which then takes the inner of its walks. When more than
** one side disagrees it is no box but a flat patch of the field (vacuum
** beside a bar drawn on the image), whose label may lie on film outside
** it. Marks wholly outside the box are film, not its label. */
static int find_panel(const float *px, int w, int h, const nm_scalebar *sb, const bar_levels *lv,
                      int *x0, int *y0, int *x1, int *y1, int outer[4]) {
  float span = fabsf(lv->bar - lv->background);
  int rows[2] = {sb->bar_y - 2, sb->bar_y + sb->bar_h + 1};
  double dev = 0;
  int n = 0;
  for (int k = 0; k < 2; k++) {
    if (rows[k] < 0 || rows[k] >= h) return 0;
    for (int x = sb->bar_x; x < sb->bar_x + sb->bar_w; x++, n++)
      dev += fabsf(px[(size_t)rows[k] * w + x] - lv->background);
  }
  dev /= n;
  TRACE("    box? rows beside the bar deviate %.1f%% of the contrast\n", 100 * dev / span);
  if (!(dev <= 0.04 * span)) return 0;
  float tol = fmaxf(0.08f * span, 4.0f * (float)dev);
  int left[2], right[2], top[2], bottom[2];
  for (int k = 0; k < 2; k++) {
    left[k] = walk_from_bar_end(px, w, h, sb->bar_x, rows[k], -1, lv->background, tol);
    right[k] = walk_from_bar_end(px, w, h, sb->bar_x + sb->bar_w - 1, rows[k], 1, lv->background,
                                 tol);
  }
  int disagree = (abs(left[0] - left[1]) > 2) + (abs(right[0] - right[1]) > 2);
  TRACE("    box? left %d %d right %d %d\n", left[0], left[1], right[0], right[1]);
  if (disagree > 1) return 0;
  int l = inner_of_low_side(left), r = inner_of_high_side(right);
  if (l > sb->bar_x - 5 || r < sb->bar_x + sb->bar_w + 4) return 0;
  int cols[2] = {l + 2, r - 2};
  for (int k = 0; k < 2; k++) {
    top[k] = walk_flat(px, w, h, cols[k], sb->bar_y, 0, -1, lv->background, tol);
    bottom[k] = walk_flat(px, w, h, cols[k], sb->bar_y + sb->bar_h - 1, 0, 1, lv->background, tol);
  }
  disagree += (abs(top[0] - top[1]) > 2) + (abs(bottom[0] - bottom[1]) > 2);
  TRACE("    box? top %d %d bottom %d %d\n", top[0], top[1], bottom[0], bottom[1]);
  if (disagree > 1) return 0;
  /* A walk stopped short by a speck (JPEG ringing near the box's edge)
  ** makes the two walks of a side disagree the other way: then the outer
  ** walk ends on a straight edge (at least 90 % of the line beyond it is
  ** not fill) and the line beyond the inner walk is mostly fill. That
  ** side takes its outer walk (the inner one cut a label off the box). */
  int *walks[4] = {left, top, right, bottom};
  for (int side = 0; side < 4; side++) {
    int *wk = walks[side], horizontal = side == 1 || side == 3, outward = side < 2 ? -1 : 1;
    if (abs(wk[0] - wk[1]) <= 2) continue;
    int outer_at = (outward < 0 ? (wk[0] < wk[1] ? wk[0] : wk[1]) : (wk[0] > wk[1] ? wk[0] : wk[1]));
    int inner_at = wk[0] + wk[1] - outer_at;
    int from = horizontal ? l : inner_of_low_side(top), to = horizontal ? r : inner_of_high_side(bottom);
    if (off_fill(px, w, h, horizontal, outer_at + outward, from, to, lv->background, tol) >= 0.9 &&
        off_fill(px, w, h, horizontal, inner_at + outward, from, to, lv->background, tol) < 0.5) {
      TRACE("    box? side %d takes its outer walk %d (inner %d stopped short)\n", side, outer_at,
            inner_at);
      wk[0] = wk[1] = outer_at;
    }
  }
  l = inner_of_low_side(left), r = inner_of_high_side(right);
  int t = inner_of_low_side(top), b = inner_of_high_side(bottom);
  if (t > sb->bar_y - 3 || b < sb->bar_y + sb->bar_h + 2) return 0;
  /* A box's edge is straight: just beyond each side, along its whole
  ** length, lies something else than the fill. A walk stopped by noise
  ** in a flat field has the field beyond it. One side may fail (film as
  ** bright as a white box beyond it); a side on the image's border passes. */
  int crooked = 0;
  for (int side = 0; side < 4; side++) {
    int horizontal = side == 1 || side == 3;
    int at = side == 0   ? (left[0] < left[1] ? left[0] : left[1]) - 1
             : side == 1 ? (top[0] < top[1] ? top[0] : top[1]) - 1
             : side == 2 ? (right[0] > right[1] ? right[0] : right[1]) + 1
                         : (bottom[0] > bottom[1] ? bottom[0] : bottom[1]) + 1;
    if (at < 0 || at >= (horizontal ? h : w)) continue;
    int from = horizontal ? l : t, to = horizontal ? r : b, off = 0;
    for (int k = from; k <= to; k++) {
      float v = horizontal ? px[(size_t)at * w + k] : px[(size_t)k * w + at];
      off += fabsf(v - lv->background) > tol;
    }
    TRACE("    box? side %d: %d of %d beyond it are not fill\n", side, off, to - from + 1);
    crooked += off < 0.5 * (to - from + 1);
  }
  if (crooked > 1) return 0;
  *x0 = l, *x1 = r, *y0 = t, *y1 = b;
  outer[0] = left[0] < left[1] ? left[0] : left[1];
  outer[1] = top[0] < top[1] ? top[0] : top[1];
  outer[2] = right[0] > right[1] ? right[0] : right[1];
  outer[3] = bottom[0] > bottom[1] ? bottom[0] : bottom[1];
  return 1;
}

/* The region around the bar where its label can be: above, below or beside
** it, no farther than the bar is long and 15 % of the image height. */
static int window_make(const float *px, int w, int h, const nm_scalebar *sb,
                       const bar_levels *lv, float ink_level, ink_window *win) {
  int reach_y = (int)fmin(0.15 * h, 1.2 * sb->bar_w) + sb->bar_h;
  int reach_x = sb->bar_w;
  win->x0 = sb->bar_x - reach_x < 0 ? 0 : sb->bar_x - reach_x;
  win->y0 = sb->bar_y - reach_y < 0 ? 0 : sb->bar_y - reach_y;
  int x1 = sb->bar_x + sb->bar_w + reach_x > w ? w : sb->bar_x + sb->bar_w + reach_x;
  int y1 = sb->bar_y + sb->bar_h + reach_y > h ? h : sb->bar_y + sb->bar_h + reach_y;
  win->w = x1 - win->x0;
  win->h = y1 - win->y0;
  if (win->w <= 0 || win->h <= 0) return -1;
  size_t n = (size_t)win->w * (size_t)win->h;
  win->ink = malloc(n);
  win->comp = malloc(n * sizeof(int32_t));
  win->cov = malloc(n * sizeof(float));
  if (!win->ink || !win->comp || !win->cov) return -1;
  float span = lv->bar - lv->background;
  for (int y = 0; y < win->h; y++)
    for (int x = 0; x < win->w; x++) {
      float c = (px[(size_t)(y + win->y0) * w + (x + win->x0)] - lv->background) / span;
      c = c < 0 ? 0 : c > 1 ? 1 : c;
      win->cov[(size_t)y * win->w + x] = c;
      win->ink[(size_t)y * win->w + x] = c > ink_level;
    }
  int bx0, by0, bx1, by1, outer[4];
  win->panel = find_panel(px, w, h, sb, lv, &bx0, &by0, &bx1, &by1, outer);
  if (win->panel) TRACE("    box x %d-%d y %d-%d\n", bx0, bx1, by0, by1);
  if (win->panel) {
    win->px0 = bx0 - win->x0, win->px1 = bx1 - win->x0;
    win->py0 = by0 - win->y0, win->py1 = by1 - win->y0;
    win->ox0 = outer[0] - win->x0, win->oy0 = outer[1] - win->y0;
    win->ox1 = outer[2] - win->x0, win->oy1 = outer[3] - win->y0;
  }
  /* The bar itself is not part of the label. */
  for (int y = sb->bar_y - 1; y <= sb->bar_y + sb->bar_h; y++)
    for (int x = sb->bar_x - 2; x < sb->bar_x + sb->bar_w + 2; x++) {
      int wx = x - win->x0, wy = y - win->y0;
      if (wx >= 0 && wy >= 0 && wx < win->w && wy < win->h) win->ink[(size_t)wy * win->w + wx] = 0;
    }
  return 0;
}

/* 8-connected components of ink inside the window, as boxes. */
static int window_components(ink_window *win, box **boxes_out, int *count_out) {
  size_t n = (size_t)win->w * (size_t)win->h;
  for (size_t i = 0; i < n; i++) win->comp[i] = -1;
  /* A label in a solid box lies inside it: ink beyond the outermost walk
  ** of every side is film (a bright patch touching the box's edge would
  ** otherwise grow into the label's line). */
  if (win->panel)
    for (int y = 0; y < win->h; y++)
      for (int x = 0; x < win->w; x++)
        if (x < win->ox0 || x > win->ox1 || y < win->oy0 || y > win->oy1)
          win->ink[(size_t)y * win->w + x] = 0;
  int cap = 64, count = 0;
  box *boxes = malloc(sizeof(box) * (size_t)cap);
  int32_t *stack = malloc(sizeof(int32_t) * n);
  if (!boxes || !stack) {
    free(boxes);
    free(stack);
    return -1;
  }
  for (size_t start = 0; start < n; start++) {
    if (!win->ink[start] || win->comp[start] >= 0) continue;
    if (count == cap) {
      cap *= 2;
      box *grown = realloc(boxes, sizeof(box) * (size_t)cap);
      if (!grown) {
        free(boxes);
        free(stack);
        return -1;
      }
      boxes = grown;
    }
    box b = {win->w, win->h, 0, 0, 0, 0};
    size_t top = 0;
    stack[top++] = (int32_t)start;
    win->comp[start] = count;
    while (top) {
      int32_t i = stack[--top];
      int x = i % win->w, y = i / win->w;
      if (x < b.x0) b.x0 = x;
      if (y < b.y0) b.y0 = y;
      if (x + 1 > b.x1) b.x1 = x + 1;
      if (y + 1 > b.y1) b.y1 = y + 1;
      b.area++;
      if (win->cov[i] > b.peak) b.peak = win->cov[i];
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= win->w || ny >= win->h) continue;
          size_t j = (size_t)ny * win->w + nx;
          if (win->ink[j] && win->comp[j] < 0) {
            win->comp[j] = count;
            stack[top++] = (int32_t)j;
          }
        }
    }
    boxes[count++] = b;
  }
  free(stack);
  if (win->panel) {
    /* Marks wholly outside a solid box are film; they are no ink at all. */
    uint8_t *outside = calloc((size_t)(count > 0 ? count : 1), 1);
    if (!outside) {
      free(boxes);
      return -1;
    }
    for (int i = 0; i < count; i++) {
      const box *b = &boxes[i];
      outside[i] = b->x1 - 1 < win->px0 || b->x0 > win->px1 || b->y1 - 1 < win->py0 ||
                   b->y0 > win->py1;
      if (outside[i]) boxes[i] = (box){-10, -10, -10, -10, 0, 0};
    }
    for (size_t i = 0; i < n; i++)
      if (win->comp[i] >= 0 && outside[win->comp[i]]) win->ink[i] = 0, win->comp[i] = -1;
    free(outside);
  }
  *boxes_out = boxes;
  *count_out = count;
  return 0;
}

static int overlaps_vertically(const box *a, const box *b) {
  int top = a->y0 > b->y0 ? a->y0 : b->y0;
  int bottom = a->y1 < b->y1 ? a->y1 : b->y1;
  int ha = a->y1 - a->y0, hb = b->y1 - b->y0;
  return bottom - top >= 0.5 * (ha < hb ? ha : hb);
}

/* Character-sized components: between 5 px and half the window tall, not
** a hairline, and no wider than a few letters: small serif text touches
** ("nm", "2um" as one component), so a glyph may be up to four times as
** wide as tall. Dots (the decimal point) are admitted later, inside a line. */
static int is_glyph(const box *b, int win_h) {
  int bw = b->x1 - b->x0, bh = b->y1 - b->y0;
  return bh >= 5 && bh <= win_h / 2 && bw <= 4 * bh && b->area >= bh &&
         b->peak >= GLYPH_PEAK_COVERAGE;
}

/* A glyph whose strokes are too thin to reach the label's level (a serif
** '2' of a small label): it may join a line right beside the line's other
** glyphs, never start one. */
static int is_faint_glyph(const box *b, int win_h) {
  int bw = b->x1 - b->x0, bh = b->y1 - b->y0;
  return bh >= 5 && bh <= win_h / 2 && bw <= 2 * bh && b->area >= bh &&
         b->peak >= FAINT_GLYPH_PEAK_COVERAGE;
}

/* How many letters a glyph component holds (touching letters are one). */
static int letters_in(const box *b) {
  int bw = b->x1 - b->x0, bh = b->y1 - b->y0;
  int n = (int)lround(bw / (0.9 * bh));
  return n > 1 ? n : 1;
}

/* Thin strokes of a small serif glyph break apart (the arc and the foot of
** a '2'): two pieces that are not glyphs themselves, stacked with a small
** gap and overlapping horizontally by half the narrower, are one glyph. The
** first piece's box grows over both (the second keeps its own, so both
** still render). */
static void join_broken_glyphs(box *boxes, int count, int win_h) {
  for (int i = 0; i < count; i++) {
    if (is_glyph(&boxes[i], win_h) || boxes[i].area < 2) continue;
    for (int j = 0; j < count; j++) {
      box *a = &boxes[i];
      const box *b = &boxes[j];
      if (j == i || is_glyph(b, win_h) || b->area < 2) continue;
      int wa = a->x1 - a->x0, wb = b->x1 - b->x0;
      int ov = (a->x1 < b->x1 ? a->x1 : b->x1) - (a->x0 > b->x0 ? a->x0 : b->x0);
      int y0 = a->y0 < b->y0 ? a->y0 : b->y0, y1 = a->y1 > b->y1 ? a->y1 : b->y1;
      int gap = b->y0 >= a->y1 ? b->y0 - a->y1 : a->y0 >= b->y1 ? a->y0 - b->y1 : -1;
      if (ov < 0.5 * (wa < wb ? wa : wb) || gap < 0 || gap > fmax(2.0, 0.25 * (y1 - y0)))
        continue;
      box joined = {a->x0 < b->x0 ? a->x0 : b->x0, y0, a->x1 > b->x1 ? a->x1 : b->x1, y1,
                    a->area + b->area, a->peak > b->peak ? a->peak : b->peak};
      if (!is_glyph(&joined, win_h)) continue;
      *a = joined;
      break;
    }
  }
}

/* Grows a text line from a seed glyph: glyphs of similar height that share
** its band and lie within ~1.5 glyph heights of the line's ends; then the
** small marks (decimal point) inside the line's span. */
static box grow_line(const box *boxes, int count, int seed, int win_h) {
  box line = boxes[seed];
  int seed_h = line.y1 - line.y0;
  int changed = 1;
  while (changed) {
    changed = 0;
    for (int i = 0; i < count; i++) {
      const box *b = &boxes[i];
      int strong = is_glyph(b, win_h);
      if (!strong && !is_faint_glyph(b, win_h)) continue;
      int bh = b->y1 - b->y0;
      if (bh < 0.5 * seed_h || bh > 2.0 * seed_h) continue;
      if (!overlaps_vertically(b, &line)) continue;
      int gap = b->x0 >= line.x1 ? b->x0 - line.x1 : line.x0 >= b->x1 ? line.x0 - b->x1 : 0;
      if (gap > (strong ? 1.6 : 0.6) * seed_h) continue;
      if (b->x0 >= line.x0 && b->x1 <= line.x1 && b->y0 >= line.y0 && b->y1 <= line.y1) continue;
      if (b->x0 < line.x0) line.x0 = b->x0;
      if (b->x1 > line.x1) line.x1 = b->x1;
      if (b->y0 < line.y0) line.y0 = b->y0;
      if (b->y1 > line.y1) line.y1 = b->y1;
      changed = 1;
    }
  }
  return line;
}

/* The flag of a small serif '5' (or the top of a '7') breaks off its body
** and is too small to be a glyph, so a line grown from x-height letters and
** that body leaves it out, and Tesseract reads the rest as 'o' or 'J'. A
** piece right above (or below) a glyph of the line — overlapping it by half
** its own width, a gap of at most 2 px, at the label's ink level — is taken
** into the line, as long as the line grows by at most half its height.
** Texture touching the tops of letters is taken too, so this line is only
** read when the line as grown does not read. */
static box grow_line_caps(const box *boxes, int count, box line) {
  int lh = line.y1 - line.y0;
  box grown = line;
  for (int i = 0; i < count; i++) {
    const box *p = &boxes[i];
    if (p->area < 2 || p->peak < GLYPH_PEAK_COVERAGE || p->x0 < line.x0 || p->x1 > line.x1) continue;
    if (p->y0 >= line.y0 && p->y1 <= line.y1) continue; /* already inside */
    int pw = p->x1 - p->x0, ph = p->y1 - p->y0;
    if (ph > 0.5 * lh || pw > 1.5 * lh) continue;
    for (int j = 0; j < count; j++) {
      const box *g = &boxes[j];
      if (j == i || g->x0 < line.x0 || g->x1 > line.x1 || g->y0 < line.y0 || g->y1 > line.y1 ||
          g->y1 - g->y0 < 0.6 * lh)
        continue;
      int ov = (p->x1 < g->x1 ? p->x1 : g->x1) - (p->x0 > g->x0 ? p->x0 : g->x0);
      int gap = p->y1 <= g->y0 ? g->y0 - p->y1 : p->y0 >= g->y1 ? p->y0 - g->y1 : -1;
      if (ov < 0.5 * pw || gap < 0 || gap > 2) continue;
      if (p->y0 < grown.y0) grown.y0 = p->y0;
      if (p->y1 > grown.y1) grown.y1 = p->y1;
      break;
    }
  }
  if (grown.y1 - grown.y0 > 1.5 * lh) return line;
  return grown;
}

#define MAX_LABEL_CANDIDATES 4

typedef struct line_candidate {
  box line;
  double distance;
} line_candidate;

static int compare_candidates(const void *a, const void *b) {
  double x = ((const line_candidate *)a)->distance, y = ((const line_candidate *)b)->distance;
  return (x > y) - (x < y);
}

/* Label candidates: text lines of at least two glyphs that overlap the bar's
** horizontal extent or sit right beside it, nearest first (at most
** MAX_LABEL_CANDIDATES; texture or particles can make lines too, so the
** caller reads them in order until one is a label). */
static int find_label_lines(const ink_window *win, const box *boxes, int count,
                            const nm_scalebar *sb, line_candidate *out) {
  int bar_x0 = sb->bar_x - win->x0, bar_x1 = bar_x0 + sb->bar_w;
  int bar_y0 = sb->bar_y - win->y0, bar_y1 = bar_y0 + sb->bar_h;
  line_candidate found[64];
  int n = 0;
  for (int i = 0; i < count && n < 64; i++) {
    if (!is_glyph(&boxes[i], win->h)) continue;
    box line = grow_line(boxes, count, i, win->h);
    int duplicate = 0;
    for (int k = 0; k < n; k++)
      duplicate |= same_extent(&found[k].line, &line);
    if (duplicate) continue;
    int glyphs = 0;
    for (int j = 0; j < count; j++)
      if (is_glyph(&boxes[j], win->h) && boxes[j].x0 >= line.x0 && boxes[j].x1 <= line.x1 &&
          boxes[j].y0 >= line.y0 && boxes[j].y1 <= line.y1)
        glyphs += letters_in(&boxes[j]);
    if (glyphs < 2) {
      TRACE("      line x %d-%d y %d-%d: %d glyph\n", line.x0 + win->x0, line.x1 + win->x0,
            line.y0 + win->y0, line.y1 + win->y0, glyphs);
      continue;
    }
    /* Text is ink on background: a line box mostly of ink is the fill of a
    ** box or a particle, and text in it has the other polarity (another
    ** bar's label). */
    long inked = 0;
    for (int y = line.y0; y < line.y1; y++)
      for (int x = line.x0; x < line.x1; x++) inked += win->ink[(size_t)y * win->w + x];
    if (inked > 0.6 * (long)(line.x1 - line.x0) * (line.y1 - line.y0)) {
      TRACE("      line x %d-%d y %d-%d: mostly ink\n", line.x0 + win->x0, line.x1 + win->x0,
            line.y0 + win->y0, line.y1 + win->y0);
      continue;
    }
    int lh = line.y1 - line.y0;
    int dx = line.x1 < bar_x0 ? bar_x0 - line.x1 : line.x0 > bar_x1 ? line.x0 - bar_x1 : 0;
    int dy = line.y1 <= bar_y0 ? bar_y0 - line.y1 : line.y0 >= bar_y1 ? line.y0 - bar_y1 : 0;
    if (dx > 3 * lh || dy > 3 * lh) {
      TRACE("      line x %d-%d y %d-%d: far\n", line.x0 + win->x0, line.x1 + win->x0,
            line.y0 + win->y0, line.y1 + win->y0);
      continue;
    }
    /* The label belongs to the bar: above or below it, it overlaps the bar
    ** over most of its own width. */
    int overlap = (line.x1 < bar_x1 ? line.x1 : bar_x1) - (line.x0 > bar_x0 ? line.x0 : bar_x0);
    /* A label wider than a short bar ("500 nm" over a 46 px bar) holds the
    ** whole bar, centred under or over it. */
    int spans_bar = line.x0 <= bar_x0 && line.x1 >= bar_x1 &&
                    fabs(0.5 * (line.x0 + line.x1) - 0.5 * (bar_x0 + bar_x1)) <=
                        0.15 * (line.x1 - line.x0);
    if (dy > 0 && overlap < 0.5 * (line.x1 - line.x0) && !spans_bar) {
      TRACE("      line x %d-%d y %d-%d: off the bar\n", line.x0 + win->x0, line.x1 + win->x0,
            line.y0 + win->y0, line.y1 + win->y0);
      continue;
    }
    /* ... and is neither tiny nor huge beside it. */
    if (line.x1 - line.x0 < 0.15 * sb->bar_w) {
      TRACE("      line x %d-%d y %d-%d: tiny\n", line.x0 + win->x0, line.x1 + win->x0,
            line.y0 + win->y0, line.y1 + win->y0);
      continue;
    }
    /* A label is shorter than ~1.5 bars plus its own height, or it is not one. */
    if (line.x1 - line.x0 > 1.5 * sb->bar_w + 4 * lh) {
      TRACE("      line x %d-%d y %d-%d: long\n", line.x0 + win->x0, line.x1 + win->x0,
            line.y0 + win->y0, line.y1 + win->y0);
      continue;
    }
    found[n].line = line;
    found[n].distance = hypot(dx, dy);
    n++;
  }
  /* Lines grown from different seeds can be pieces of one label ("2 µm" out
  ** of "0.2 µm"); only whole lines are read, so a piece cannot pass alone. */
  int kept = 0;
  for (int i = 0; i < n; i++) {
    const box *a = &found[i].line;
    int piece = 0;
    for (int j = 0; j < n && !piece; j++) {
      const box *b = &found[j].line;
      int ix = (a->x1 < b->x1 ? a->x1 : b->x1) - (a->x0 > b->x0 ? a->x0 : b->x0);
      int iy = (a->y1 < b->y1 ? a->y1 : b->y1) - (a->y0 > b->y0 ? a->y0 : b->y0);
      long inter = ix > 0 && iy > 0 ? (long)ix * iy : 0;
      long area_a = (long)(a->x1 - a->x0) * (a->y1 - a->y0);
      long area_b = (long)(b->x1 - b->x0) * (b->y1 - b->y0);
      piece = j != i && inter > area_a / 2 && (area_b > area_a || (area_b == area_a && j < i));
    }
    if (!piece) found[kept++] = found[i];
  }
  n = kept;
  qsort(found, (size_t)n, sizeof found[0], compare_candidates);
  if (n > MAX_LABEL_CANDIDATES) n = MAX_LABEL_CANDIDATES;
  memcpy(out, found, sizeof found[0] * (size_t)n);
  return n;
}

/* ---- OCR ----------------------------------------------------------------- */

/* One Tesseract engine per process, initialised on first use, guarded by a
** mutex (a TessBaseAPI is not re-entrant), ended when the library unloads. */
static pthread_mutex_t ocr_lock = PTHREAD_MUTEX_INITIALIZER;
static TessBaseAPI *ocr_api;
static int ocr_failed;

static TessBaseAPI *ocr_engine(void) {
  if (ocr_api || ocr_failed) return ocr_api;
  TessBaseAPI *api = TessBaseAPICreate();
  if (!api || TessBaseAPIInit3(api, NULL, "eng") != 0) {
    if (api) TessBaseAPIDelete(api);
    ocr_failed = 1;
    return NULL;
  }
  TessBaseAPISetVariable(api, "debug_file", "/dev/null");
  TessBaseAPISetPageSegMode(api, PSM_SINGLE_LINE);
  ocr_api = api;
  return api;
}

__attribute__((destructor)) static void ocr_shutdown(void) {
  if (ocr_api) {
    TessBaseAPIEnd(ocr_api);
    TessBaseAPIDelete(ocr_api);
    ocr_api = NULL;
  }
}

/* Renders the label line dark on white for Tesseract, scaled so the line is
** OCR_LINE_HEIGHT tall, with a margin: grey levels (bilinear) from the
** coverage, but only near the components that lie wholly inside the line —
** a particle reaching into the line's box is left out. */
/* How a line is drawn for Tesseract: the coverage stretch (black_from ->
** white, white_to -> black; a lower pair thickens the strokes by about a
** pixel of the original, a higher pair thins them) and the interpolator
** (bilinear, or Catmull-Rom bicubic: smoother curves when a small label is
** scaled up 4x or more). A misread of one rendering rarely repeats under
** another; the votes of read_line need two that agree. */
typedef struct render_style {
  double black_from, white_to;
  int cubic;
} render_style;
static const render_style STYLE_PLAIN = {RENDER_BLACK_FROM, RENDER_WHITE_TO, 0};

static double cubic_weight(double t) {
  t = fabs(t);
  return t < 1 ? 1.5 * t * t * t - 2.5 * t * t + 1
         : t < 2 ? -0.5 * t * t * t + 2.5 * t * t - 4 * t + 2 : 0;
}

static unsigned char *render_line(const ink_window *win, const box *boxes, int count,
                                  const box *line, int line_height, const render_style *st,
                                  int *out_w, int *out_h) {
  if (!st) st = &STYLE_PLAIN;
  int lh = line->y1 - line->y0, lw = line->x1 - line->x0;
  uint8_t *keep = calloc((size_t)count, 1);
  uint8_t *near = calloc((size_t)lw * lh, 1);
  double scale = (double)line_height / lh;
  int pad = line_height / 2;
  int ow = (int)ceil(lw * scale) + 2 * pad, oh = line_height + 2 * pad;
  unsigned char *canvas = malloc((size_t)ow * (size_t)oh);
  if (!keep || !near || !canvas) {
    free(keep);
    free(near);
    free(canvas);
    return NULL;
  }
  for (int i = 0; i < count; i++)
    keep[i] = boxes[i].x0 >= line->x0 && boxes[i].x1 <= line->x1 && boxes[i].y0 >= line->y0 &&
              boxes[i].y1 <= line->y1 && boxes[i].peak >= RENDER_MIN_PEAK;
  for (int y = 0; y < lh; y++)
    for (int x = 0; x < lw; x++) {
      int32_t c = win->comp[(size_t)(y + line->y0) * win->w + (x + line->x0)];
      if (c < 0 || !keep[c]) continue;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int nx = x + dx, ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < lw && ny < lh) near[(size_t)ny * lw + nx] = 1;
        }
    }
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      double sx = (x - pad + 0.5) / scale - 0.5, sy = (y - pad + 0.5) / scale - 0.5;
      int ix = (int)floor(sx), iy = (int)floor(sy);
      double fx = sx - ix, fy = sy - iy, ink = 0;
      if (st->cubic) {
        for (int ky = -1; ky <= 2; ky++)
          for (int kx = -1; kx <= 2; kx++) {
            int cx = ix + kx, cy = iy + ky;
            if (cx < 0 || cy < 0 || cx >= lw || cy >= lh || !near[(size_t)cy * lw + cx]) continue;
            ink += cubic_weight(kx - fx) * cubic_weight(ky - fy) *
                   win->cov[(size_t)(cy + line->y0) * win->w + (cx + line->x0)];
          }
      } else {
        for (int k = 0; k < 4; k++) {
          int cx = ix + (k & 1), cy = iy + (k >> 1);
          double wgt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
          if (cx < 0 || cy < 0 || cx >= lw || cy >= lh || !near[(size_t)cy * lw + cx]) continue;
          ink += wgt * win->cov[(size_t)(cy + line->y0) * win->w + (cx + line->x0)];
        }
      }
      ink = (ink - st->black_from) / (st->white_to - st->black_from);
      ink = ink < 0 ? 0 : ink > 1 ? 1 : ink;
      canvas[(size_t)y * ow + x] = (unsigned char)lround(255.0 * (1.0 - ink));
    }
  free(keep);
  free(near);
  *out_w = ow;
  *out_h = oh;
  return canvas;
}

/* What Tesseract read on a line: its characters, each with its confidence
** and horizontal extent mapped back to window columns. */
#define MAX_OCR_SYMBOLS 40
typedef struct ocr_symbol {
  char utf8[8];
  float confidence;
  double x0, x1;  /* window columns */
  int word_start;
} ocr_symbol;

typedef struct ocr_reading {
  int n;
  ocr_symbol sym[MAX_OCR_SYMBOLS];
} ocr_reading;

/* Renders the line at `line_height` px and reads it. */
/* Characters a scale-bar label is written with, for the constrained pass. */
#define LABEL_ALPHABET "0123456789. nmu\xc2\xb5\xce\xbc"

static int ocr_line(const ink_window *win, const box *boxes, int count, const box *line,
                    int line_height, const render_style *st, const char *alphabet,
                    ocr_reading *out) {
  out->n = 0;
  int ow, oh;
  unsigned char *canvas = render_line(win, boxes, count, line, line_height, st, &ow, &oh);
  if (!canvas) return -1;
  double scale = (double)line_height / (line->y1 - line->y0);
  int pad = line_height / 2;
  pthread_mutex_lock(&ocr_lock);
  TessBaseAPI *api = ocr_engine();
  int status = -1;
  if (api) {
    TessBaseAPISetVariable(api, "tessedit_char_whitelist", alphabet ? alphabet : "");
    TessBaseAPISetImage(api, canvas, ow, oh, 1, ow);
    TessBaseAPISetSourceResolution(api, 300);
    if (TessBaseAPIRecognize(api, NULL) == 0) {
      TessResultIterator *it = TessBaseAPIGetIterator(api);
      if (it) {
        do {
          char *symbol = TessResultIteratorGetUTF8Text(it, RIL_SYMBOL);
          if (!symbol) continue;
          const TessPageIterator *pit = TessResultIteratorGetPageIteratorConst(it);
          int l = 0, t = 0, r = 0, btm = 0;
          if (out->n < MAX_OCR_SYMBOLS &&
              TessPageIteratorBoundingBox(pit, RIL_SYMBOL, &l, &t, &r, &btm)) {
            ocr_symbol *sy = &out->sym[out->n++];
            snprintf(sy->utf8, sizeof sy->utf8, "%s", symbol);
            sy->confidence = TessResultIteratorConfidence(it, RIL_SYMBOL);
            sy->x0 = (l - pad) / scale + line->x0;
            sy->x1 = (r - pad) / scale + line->x0;
            sy->word_start = TessPageIteratorIsAtBeginningOf(pit, RIL_WORD);
          }
          TessDeleteText(symbol);
        } while (TessResultIteratorNext(it, RIL_SYMBOL));
        TessResultIteratorDelete(it);
      }
      status = 0;
    }
    TessBaseAPIClear(api);
  }
  pthread_mutex_unlock(&ocr_lock);
  free(canvas);
  return status;
}

/* Letters, digits and the unit signs µ, μ, Å are text; the rest
** (including other non-ASCII marks Tesseract makes of specks: '»', '‘')
** is punctuation. */
static int is_punctuation_symbol(const char *u) {
  static const char *unit_signs[] = {"\xc2\xb5", "\xce\xbc", "\xc3\x85", "\xe2\x84\xab"};
  for (size_t i = 0; i < sizeof unit_signs / sizeof unit_signs[0]; i++)
    if (strstr(u, unit_signs[i])) return 0;
  for (; *u; u++)
    if ((*u >= '0' && *u <= '9') || (*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z'))
      return 0;
  return 1;
}

static int is_letter_symbol(const char *u) {
  return u[0] && !u[1] && ((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z'));
}

/* The symbols of the reading that are the label: leading words of
** punctuation or letters (JPEG specks, texture and box edges read as '|',
** '!', 'oI', 'H'; a label starts with its number) and trailing
** punctuation are dropped; nothing inside is touched. [*first, *last).
** ink_disagrees lets the dropped words cover only marks that cannot be
** digits. */
static void label_span(const ocr_reading *r, int *first, int *last) {
  int f = 0, l = r->n;
  for (;;) { /* leading words of punctuation or letters, before a digit */
    int e = f + 1;
    while (e < l && !r->sym[e].word_start) e++;
    int stray = f < l;
    for (int i = f; i < e && stray; i++)
      stray = is_punctuation_symbol(r->sym[i].utf8) || is_letter_symbol(r->sym[i].utf8);
    if (!stray || e >= l) break;
    f = e;
  }
  /* ... and leading punctuation glued to the first word ("*2 nm": a speck
  ** before the label), never a point (".5" is a number). */
  while (f + 1 < l && !r->sym[f + 1].word_start && is_punctuation_symbol(r->sym[f].utf8) &&
         strcmp(r->sym[f].utf8, ".") && strcmp(r->sym[f].utf8, ","))
    f++;
  for (;;) { /* trailing punctuation words */
    int s = l - 1;
    while (s > f && !r->sym[s].word_start) s--;
    int punct = s > f;
    for (int i = s; i < l && punct; i++) punct = is_punctuation_symbol(r->sym[i].utf8);
    if (!punct) break;
    l = s;
  }
  /* ... and punctuation glued to the end of the unit ("um:"). */
  while (l - 1 > f && !r->sym[l - 1].word_start && is_punctuation_symbol(r->sym[l - 1].utf8)) l--;
  *first = f;
  *last = l;
}

/* The text of symbols [first, last), words separated by one space, and the
** lowest confidence among them (one doubtful digit makes the label doubtful). */
static void span_text(const ocr_reading *r, int first, int last, char *text, size_t size,
                      float *least) {
  text[0] = 0;
  *least = last > first ? 100.0f : 0.0f;
  for (int i = first; i < last; i++) {
    if (r->sym[i].word_start && i > first) strncat(text, " ", size - strlen(text) - 1);
    strncat(text, r->sym[i].utf8, size - strlen(text) - 1);
    if (r->sym[i].confidence < *least) *least = r->sym[i].confidence;
  }
}

static int inside_line(const box *b, const box *line) {
  return b->x0 >= line->x0 && b->x1 <= line->x1 && b->y0 >= line->y0 && b->y1 <= line->y1;
}

/* Characters of the number as Tesseract spells them: digits, the decimal
** point or comma, 'l'/'I' for a one and 'O'/'o' for a zero (mapped by
** parse_label; ink_disagrees has checked that their marks are digit-tall,
** so an x-height 'o' is no zero). */
static int is_number_symbol(const char *u) {
  return u[0] && !u[1] &&
         ((u[0] >= '0' && u[0] <= '9') || u[0] == '.' || u[0] == ',' || u[0] == 'l' ||
          u[0] == 'I' || u[0] == 'O' || u[0] == 'o');
}

/* The ink of a label line, as columns: marks whose horizontal extents
** overlap by half the narrower are pieces of one glyph (a '5' broken by
** JPEG, the dot inside a mono '0'); glyphs side by side never overlap that
** much. Specks (under min_area) stay apart: one under a digit would make
** it descend. Left to right; `area` sums the pieces. */
#define MAX_COLUMNS 128
typedef struct column {
  int x0, y0, x1, y1, area;
} column;

static int label_columns(const box *boxes, int count, const box *line, double min_area,
                         column *cols) {
  int n = 0;
  for (int i = 0; i < count; i++) {
    const box *b = &boxes[i];
    if (!inside_line(b, line)) continue;
    if (n == MAX_COLUMNS) return -1;
    cols[n++] = (column){b->x0, b->y0, b->x1, b->y1, b->area};
  }
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < n && !changed; i++)
      for (int j = i + 1; j < n && !changed; j++) {
        int wi = cols[i].x1 - cols[i].x0, wj = cols[j].x1 - cols[j].x0;
        int ov = (cols[i].x1 < cols[j].x1 ? cols[i].x1 : cols[j].x1) -
                 (cols[i].x0 > cols[j].x0 ? cols[i].x0 : cols[j].x0);
        if (ov < 0.5 * (wi < wj ? wi : wj) || cols[i].area < min_area || cols[j].area < min_area)
          continue;
        if (cols[j].x0 < cols[i].x0) cols[i].x0 = cols[j].x0;
        if (cols[j].y0 < cols[i].y0) cols[i].y0 = cols[j].y0;
        if (cols[j].x1 > cols[i].x1) cols[i].x1 = cols[j].x1;
        if (cols[j].y1 > cols[i].y1) cols[i].y1 = cols[j].y1;
        cols[i].area += cols[j].area;
        cols[j] = cols[--n];
        changed = 1;
      }
  }
  for (int i = 1; i < n; i++) /* insertion sort by left edge */
    for (int j = i; j > 0 && cols[j].x0 < cols[j - 1].x0; j--) {
      column t = cols[j];
      cols[j] = cols[j - 1];
      cols[j - 1] = t;
    }
  return n;
}

/* Where the ink puts the label's number and unit (window columns), for
** reading them apart: the number's columns [num_x0, num_x1) hold `marks`
** glyphs (at most `room`); the unit starts at unit_x0. */
typedef struct label_split {
  int found;
  int num_x0, num_x1, unit_x0, marks, room, descends;
} label_split;

/* 1 when the column's ink reaches below the baseline by a fifth of the
** digit height in a stem on its left side only: the micro sign (µ or μ),
** which Tesseract reads as 'p', 'j', 'y', 'w' or "pu". An 'n' never
** descends; a speck under one is rarely a left-hand stem. */
static int descends_like_mu(const ink_window *win, const column *k, int baseline, double H) {
  if (k->y1 - baseline < 0.2 * H) return 0;
  int lo = k->x1, hi = k->x0 - 1;
  for (int y = baseline + 1; y < k->y1 && y < win->h; y++)
    for (int x = k->x0; x < k->x1; x++)
      if (win->ink[(size_t)y * win->w + x]) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
  return hi >= lo && hi < k->x0 + 0.5 * (k->x1 - k->x0);
}

/* Checks a reading against the ink, without trusting Tesseract's symbol
** boxes (LSTM boxes are often stretched over a neighbour). A skipped "0."
** of "0.2 µm" or point of "0.5" changes the value tenfold, and Tesseract
** still reports high confidence for what it did read. The number of a label
** is its leftmost columns that are digit-tall (top at the line's top,
** bottom on the baseline; letters of the unit stop at the x-height) or
** points (small, on the baseline). Leading thin columns may be skipped only
** as many as the punctuation words Tesseract read and label_span dropped (a
** box edge). Returns 1 (doubtful) unless the number's columns are no more
** than the characters read for it and can hold them all (touching digits
** make one wide column). *unit_descends: 1 when the first column after the
** number reaches below the baseline in a stem on its left — a 'µ', never an
** 'n' — 2 when it reaches below otherwise, 0 when it does not, -1 when
** there is no such column. */
static int glyph_is_ring(const ink_window *win, const box *g);

static int ink_disagrees(const ink_window *win, const box *boxes, int count, const box *line,
                         const ocr_reading *r, int first, int last, int *unit_descends,
                         label_split *split, int *lost_point) {
  *unit_descends = -1;
  if (lost_point) *lost_point = 0;
  if (split) split->found = 0;
  if (last <= first) return 1;
  int lh = line->y1 - line->y0;
  double min_area = fmax(3.0, 0.005 * lh * lh); /* smaller: a speck, or a point */
  column cols[MAX_COLUMNS];
  int n = label_columns(boxes, count, line, min_area, cols);
  if (n <= 0) return 1;
  int chars = 0; /* the number: the first word's leading number characters */
  while (first + chars < last && (chars == 0 || !r->sym[first + chars].word_start) &&
         is_number_symbol(r->sym[first + chars].utf8))
    chars++;
  /* A first guess of the baseline, for passing over stray marks: the lower
  ** median bottom of the columns at least half the line tall (descenders
  ** and texture only push bottoms down). */
  int bottoms[MAX_COLUMNS], nb = 0;
  for (int i = 0; i < n; i++)
    if (cols[i].y1 - cols[i].y0 >= 0.5 * lh) bottoms[nb++] = cols[i].y1;
  if (nb == 0) return 1;
  for (int i = 1; i < nb; i++)
    for (int j = i; j > 0 && bottoms[j] < bottoms[j - 1]; j--) {
      int t = bottoms[j];
      bottoms[j] = bottoms[j - 1];
      bottoms[j - 1] = t;
    }
  int line_base = bottoms[(nb - 1) / 2];
  /* Marks Tesseract read as stray words before the label (label_span
  ** dropped `first` symbols) may be passed over, as many: a box edge (thin,
  ** at least half the line tall) or a speck set apart from the label by
  ** more than a space and not digit-shaped. Never a point. */
  int c = 0;
  int passed[MAX_COLUMNS], n_passed = 0; /* columns passed over before the number */
  for (int skipped = 0; c < n; c++) {
    const column *k = &cols[c];
    if (k->area < min_area) continue;
    /* A small mark wholly in the upper part of the line is a speck of
    ** texture, never a digit (full height) nor a point (on the baseline). */
    if (k->y1 - k->y0 < 0.4 * lh && k->x1 - k->x0 < 0.4 * lh && k->y1 < line_base - 0.4 * lh)
      continue;
    passed[n_passed++] = c;
    {
      /* ... and a mark before a tall glyph that is much shorter than it and
      ** stops well below its top: digits share their height (a speck of
      ** texture that Tesseract did not even read). */
      int nx = c + 1;
      while (nx < n && cols[nx].area < min_area) nx++;
      if (nx < n) {
        int nh = cols[nx].y1 - cols[nx].y0;
        if (nh >= 0.5 * lh && k->y1 - k->y0 < 0.6 * nh && k->y0 > cols[nx].y0 + 0.25 * nh)
          continue;
      }
    }
    int next = c + 1;
    while (next < n && cols[next].area < min_area) next++;
    int w = k->x1 - k->x0, h = k->y1 - k->y0;
    int edge = w <= 0.35 * lh && h >= 0.5 * lh;
    int digit_like = h >= 0.6 * lh && abs(k->y1 - line_base) <= 0.15 * lh;
    int apart = next < n && cols[next].x0 - k->x1 >= 0.4 * lh && !digit_like;
    /* A blob of texture before the label that Tesseract did not even read:
    ** it ends well above the baseline the glyphs share, so it is no digit,
    ** and it stands apart from them. Passing it over only lets the real
    ** first digit fix the digits' band. */
    if (skipped == first && next < n && k->y1 < line_base - 0.15 * lh &&
        cols[next].x0 - k->x1 >= 0.2 * lh && !digit_like) continue;
    if (skipped == first) break;
    if (!edge && !apart) break;
    skipped++;
  }
  if (n_passed > 0 && passed[n_passed - 1] == c) n_passed--; /* the first digit itself */
  while (c < n && cols[c].area < min_area) c++;
  if (c == n) return 1;
  /* A label starts with a digit: it fixes the digits' top and baseline.
  ** Digits are most of the line's height; a mark under half of it is a
  ** speck, not the first digit (a speck before '10 nm', once the lone
  ** digit word Tesseract made of it was dropped, gave a 4 px band on a
  ** 35 px line, and every later check measured against that band). */
  int top = cols[c].y0, baseline = cols[c].y1, first_col = c, point_second = 0;
  double H = baseline - top;
  if (H < 4 || H < 0.5 * lh) return 1;
  /* The rules above pass over stray marks before the label; passing over
  ** a glyph loses it. At the strict ink levels the thin strokes of a
  ** '0' fall apart into two arcs (taken for box edges or for short marks
  ** before a tall '1') and its point vanishes: '0.1 µm' read '1 µm' on
  ** three fresh seeds (10x off). So when the number has no point, marks
  ** passed over within 1.5 H before its first digit must be small (under
  ** 0.05 H^2 together); a box edge the whole line tall does not count. */
  int has_point = 0;
  for (int i = first; i < first + chars; i++) has_point |= r->sym[i].utf8[0] == '.';
  if (!has_point) {
    double near_area = 0;
    for (int i = 0; i < n_passed; i++) {
      const column *k = &cols[passed[i]];
      int full_edge = k->x1 - k->x0 <= 0.35 * lh && k->y1 - k->y0 >= 0.9 * lh;
      if (!full_edge && k->x1 >= cols[c].x0 - 1.5 * H) near_area += k->area;
    }
    if (near_area >= 0.05 * H * H) {
      TRACE("        ink: %.0f px passed over right before the number (a lost '0.'?)\n", near_area);
      return 1;
    }
  }
  /* Digits reach the top, letters of the unit stop ~0.25 H lower; JPEG
  ** bleeds a pixel or two at the baseline. */
  double top_tol = fmax(0.15 * H, 1.0), tol = fmax(0.15 * H, 2.0);
  int marks = 0, room = 0, num_x0 = cols[c].x0, num_x1 = cols[c].x1;
  int widest_gap = 0, after_digit = 1; /* (a mono point stands apart from both digits) */
  /* Digits are set on equal advances: a thin '1' (a bare stem, under 0.3 H
  ** wide) stands in the middle of its cell, and the gap after its stem is a
  ** digit gap plus half of what it lacks of a digit's width (a 1 px serif
  ** '1' of an 8 px '10nm' stood 4 px = 0.5 H before its '0', and the number
  ** ended there as at a word space). Gaps after a digit are measured from
  ** the end of such a cell, at least 0.3 H past the stem's middle. */
  int cell_x1 = cols[c].x1;
  for (; c < n; c++) {
    const column *k = &cols[c];
    double w = k->x1 - k->x0, h = k->y1 - k->y0;
    /* (a speck merged on top of a digit may raise its top) */
    int tall = k->y0 <= top + top_tol && abs(k->y1 - baseline) <= tol && h <= 1.3 * H;
    /* A point sits on the baseline; a small mark floating above it, inside
    ** the number's band, is a speck of texture between two glyphs. A point
    ** covers ~0.02-0.04 H^2 (a third of that is still a point; a pixel of
    ** JPEG noise on the baseline of a 26 px label is not). */
    double on_base = fmax(1.5, 0.12 * H);
    int point = w <= 0.4 * H && h <= 0.4 * H && k->area >= 0.008 * H * H &&
                k->y0 >= baseline - 0.5 * H &&
                k->y0 < baseline && k->y1 >= baseline - on_base && k->y1 <= baseline + 0.3 * H;
    int speck = w <= 0.3 * H && h <= 0.3 * H && k->y0 > top + top_tol && k->y1 < baseline - on_base;
    if (k->area < min_area) { /* a speck over a glyph is part of it or texture */
      int over = 0;
      for (int j = 0; j < n && !over; j++)
        over = cols[j].area >= min_area && 2 * cols[j].x0 <= k->x0 + k->x1 &&
               k->x0 + k->x1 < 2 * cols[j].x1;
      if (over) continue;
    }
    /* A word space ends the number: digits are set close (in a mono font
    ** too: a '1' beside a '0' leaves ~0.3 H), the unit follows a space (an 'n' whose top texture raised to the
    ** digits' top is no fourth digit of '100 nm'). */
    int gap = k->x0 - (after_digit ? cell_x1 : num_x1);
    if (marks > 0 && tall && after_digit && k->area >= min_area &&
        gap >= fmax(0.45 * H, 2.0 * widest_gap + 2.0))
      break;
    if (tall && after_digit && k->area >= min_area && gap > widest_gap) widest_gap = gap;
    if (tall && k->area >= min_area) {
      num_x1 = k->x1;
      cell_x1 = w < 0.3 * H ? (int)fmax(k->x1, ceil(0.5 * (k->x0 + k->x1) + 0.3 * H)) : k->x1;
      after_digit = 1;
      marks++;
      room += w >= H ? (int)(w / (0.5 * H)) : 1;
    } else if (point) { /* a decimal point; one not followed by a digit is a speck */
      int next = c + 1;
      while (next < n && cols[next].area < min_area) next++;
      if (next == n || !(cols[next].y0 <= top + top_tol && abs(cols[next].y1 - baseline) <= tol))
        continue;
      num_x1 = k->x1;
      after_digit = 0;
      point_second |= marks == 1;
      marks++;
      room++;
    } else if (speck) {
      continue;
    } else if (k->area >= min_area) {
      break;
    }
  }
#ifdef NM_SCALEBAR_TRACE
  {
    TRACE("        ink: top %d base %d H %.0f lh %d marks %d room %d chars %d; columns", top,
          baseline, H, lh, marks, room, chars);
    for (int i = 0; i < n; i++)
      TRACE(" [%d-%d,%d-%d a%d]", cols[i].x0, cols[i].x1, cols[i].y0, cols[i].y1, cols[i].area);
    TRACE("\n");
  }
#endif
  while (c < n && cols[c].area < min_area) c++;
  if (c < n) {
    /* (2: it descends, but not in a stem on its left — no micro sign, though
    ** it may be a 'p'; 0: it does not descend at all) */
    *unit_descends = descends_like_mu(win, &cols[c], baseline, H)     ? 1
                     : cols[c].y1 - baseline >= 0.2 * H ? 2
                                                          : 0;
    if (split && marks > 0)
      *split = (label_split){1, num_x0, num_x1, cols[c].x0, marks, room, *unit_descends};
  }
  int agrees = marks > 0 && marks <= chars && chars <= room;
  /* A point Tesseract dropped: '02 um' for a condensed '0.2 µm' whose
  ** point sits close to both digits. No label starts with a zero and a
  ** digit, so the ink decides: when the number's second mark is a point on
  ** the baseline and its first is a ring (a zero, glyph_is_ring), the
  ** reading is '0.' and the rest (*lost_point: read_once puts the point
  ** back). Both must be seen in the ink; a blob and a speck are neither. */
  if (!agrees && lost_point && !has_point && point_second && marks == chars + 1 &&
      chars >= 2 && marks <= room && !strcmp(r->sym[first].utf8, "0") &&
      r->sym[first + 1].utf8[0] >= '0' && r->sym[first + 1].utf8[0] <= '9') {
    box g = {cols[first_col].x0, cols[first_col].y0, cols[first_col].x1, cols[first_col].y1, 0, 0};
    if (glyph_is_ring(win, &g)) {
      TRACE("        ink: a point after a ring '0' that the reading lost\n");
      *lost_point = 1;
      agrees = 1;
    }
  }
  return !agrees;
}

/* ---- parsing "<number> <unit>" -------------------------------------------- */

/* OCR spells micro as µ (U+00B5), μ (U+03BC) or u; Ångström as Å or A. */
static const char *canonical_unit(const char *s, size_t *len) {
  static const struct {
    const char *spelling, *unit;
  } table[] = {{"nm", "nm"},          {"\xc2\xb5m", "um"}, {"\xce\xbcm", "um"},
               {"um", "um"},          {"mm", "mm"},        {"\xc3\x85", "A"},
               {"\xe2\x84\xab", "A"}, {"A", "A"},          {"pm", "pm"}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    size_t n = strlen(table[i].spelling);
    if (strncmp(s, table[i].spelling, n) == 0) {
      *len = n;
      return table[i].unit;
    }
  }
  return NULL;
}

/* Accepts exactly one "<number><space?><unit>" and nothing else, read with
** every character at least MIN_SYMBOL_CONFIDENCE. */
static int is_punctuation_word(const char *w, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((w[i] >= '0' && w[i] <= '9') || (w[i] >= 'a' && w[i] <= 'z') ||
        (w[i] >= 'A' && w[i] <= 'Z') || (unsigned char)w[i] >= 0x80)
      return 0;
  return 1;
}

/* Drops leading and trailing words made only of punctuation (JPEG specks and
** box edges read as '|', '!', '{'); nothing inside the label is touched. */
static void strip_stray_marks(const char *text, char *out, size_t out_size) {
  const char *start = text, *end = text + strlen(text);
  for (;;) {
    while (*start == ' ') start++;
    const char *w = start;
    while (w < end && *w != ' ') w++;
    if (w == start || w >= end || !is_punctuation_word(start, (size_t)(w - start))) break;
    start = w;
  }
  for (;;) {
    while (end > start && end[-1] == ' ') end--;
    const char *w = end;
    while (w > start && w[-1] != ' ') w--;
    if (w == end || w == start || !is_punctuation_word(w, (size_t)(end - w))) break;
    end = w;
  }
  snprintf(out, out_size, "%.*s", (int)(end - start), start);
}

/* Scale bars are drawn at round lengths: 1, 2, 2.5, 3, 4 or 5 times a power
** of ten. A reading off that grid (206, 900, 5600) is a misread digit. */
static int is_round_bar_value(double v) {
  static const double mantissas[] = {1, 2, 2.5, 3, 4, 5};
  double scale = pow(10.0, floor(log10(v)));
  for (size_t i = 0; i < sizeof mantissas / sizeof mantissas[0]; i++)
    for (int up = 0; up <= 1; up++)
      if (fabs(v - mantissas[i] * scale * (up ? 10 : 1)) <= 1e-9 * v) return 1;
  return 0;
}

/* The micro sign as Tesseract misreads it; taken as micro only when the
** ink shows a micro sign's descender (ink_disagrees). */
static size_t micro_misread(const char *s) {
  static const char *spellings[] = {"pu", "j", "y", "q", "w"};
  for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
    size_t n = strlen(spellings[i]);
    if (strncmp(s, spellings[i], n) == 0 && s[n] == 'm' && (s[n + 1] == 0 || s[n + 1] == ' '))
      return n;
  }
  return 0;
}

/* unit_descends: whether the unit's first letter has a micro sign's
** descender (1), descends otherwise (2), does not descend (0) or is
** unknown (-1). */
static int parse_label(const char *raw, float least, int unit_descends, double *value,
                       char *unit, size_t unit_size, char *why, size_t why_size,
                       double *number_seen) {
  if (number_seen) *number_seen = NAN;
  char text[96];
  strip_stray_marks(raw, text, sizeof text);
  if (!text[0]) {
    snprintf(why, why_size, "scale bar found but its label could not be read");
    return -1;
  }
  const char *s = text;
  char *end;
  char number[32];
  size_t k = 0;
  /* 'l' and 'I' in the number are a one, 'O' and 'o' a zero (Tesseract's
  ** commonest slips; ink_disagrees has checked that the marks are
  ** digit-shaped). The number must start with a digit as read, so a unit
  ** word is never taken for one. */
  if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == 'l' || *s == 'I' || *s == 'O'))
    number[0] = 0;
  else
    while ((*s >= '0' && *s <= '9') || *s == '.' || *s == ',' || *s == 'l' || *s == 'I' ||
           *s == 'O' || *s == 'o') {
      if (k + 1 < sizeof number)
        number[k++] = *s == ',' ? '.' : *s == 'l' || *s == 'I' ? '1' : *s == 'O' || *s == 'o' ? '0' : *s;
      s++;
    }
  number[k] = 0;
  double v = strtod(number, &end);
  if (!k || *end || !(v > 0)) {
    snprintf(why, why_size, "scale bar label '%s' does not start with a number", text);
    return -1;
  }
  /* "05" is "0.5" with its point lost, never a label. */
  if (number[0] == '0' && number[1] != '.') {
    snprintf(why, why_size, "scale bar label '%s' has a leading zero (a lost point?)", text);
    return -1;
  }
  /* The number as read, for the agreement of readings (read_line), even when
  ** the rest of the label fails below: '90nm' for '50nm' is a misread. */
  if (number_seen) *number_seen = v;
  while (*s == ' ') s++;
  /* One dash or tilde between the number and the unit ("2—um", "2~um": a
  ** speck or the micro sign's tail in the gap) is passed over: the value
  ** is the number and the unit on either side of it, both still checked. */
  static const char *gap_marks[] = {"\xe2\x80\x94", "\xe2\x80\x93", "-", "~"};
  for (size_t i = 0; i < sizeof gap_marks / sizeof gap_marks[0]; i++)
    if (!strncmp(s, gap_marks[i], strlen(gap_marks[i]))) {
      s += strlen(gap_marks[i]);
      while (*s == ' ') s++;
      break;
    }
  /* The 'm' of a unit misread (its arches split or merged with texture):
  ** "nrr", "nrn", "un", "uni", "unt", "nin" are "nm" or "um". Only a whole
  ** unit word after its first letter is mended, and only to 'm': the
  ** first letter, which decides the value (n or u), is kept as read, and
  ** the micro descender check below still applies. */
  static const char *m_misreads[] = {"rr", "rn", "n", "ni", "nt", "in", "ri"};
  char mended[96];
  if (s[0] == 'n' || s[0] == 'u')
    for (size_t i = 0; i < sizeof m_misreads / sizeof m_misreads[0]; i++) {
      size_t n = strlen(m_misreads[i]);
      if (strncmp(s + 1, m_misreads[i], n) == 0 && (s[1 + n] == 0 || s[1 + n] == ' ')) {
        snprintf(mended, sizeof mended, "%cm%s", s[0], s + 1 + n);
        s = mended;
        break;
      }
    }
  size_t ulen = 0;
  const char *u = canonical_unit(s, &ulen);
  size_t misread = unit_descends == 1 ? micro_misread(s) : 0;
  if (misread) {
    u = "um";
    ulen = misread + 1;
  }
  if (u && !strcmp(u, "nm") && unit_descends == 1) {
    snprintf(why, why_size, "scale bar label '%s' reads 'n' where the ink descends like a 'µ'",
             text);
    return -1;
  }
  if (!u) {
    snprintf(why, why_size, "scale bar label '%s' has no length unit", text);
    return -1;
  }
  /* A 'p' descends like the micro sign it is usually misread for: a 'pm'
  ** whose unit ink has no descender is neither, and what Tesseract took
  ** for the unit is something else (the real '2' of '0.2 µm' after a '0.'
  ** merged with film into one wide blob that passed for the number). */
  if (!strcmp(u, "pm") && unit_descends == 0) {
    snprintf(why, why_size, "scale bar label '%s' reads 'p' where the ink has no descender",
             text);
    return -1;
  }
  s += ulen;
  while (*s == ' ') s++;
  if (*s) {
    snprintf(why, why_size, "scale bar label '%s' has extra text", text);
    return -1;
  }
  if (!is_round_bar_value(v)) {
    snprintf(why, why_size, "scale bar label '%s' is not a round bar length (misread?)", text);
    return -1;
  }
  if (least < MIN_SYMBOL_CONFIDENCE) {
    snprintf(why, why_size, "scale bar label '%s' read with low confidence (%.0f)", text,
             (double)least);
    return -1;
  }
  *value = v;
  snprintf(unit, unit_size, "%s", u);
  return 0;
}

/* Tesseract reads the micro sign as 'p'. A picometre bar that would make
** pixels smaller than an atom's hundredth is a micrometre bar. */
static void micro_read_as_p(double value, char *unit, double length) {
  if (!strcmp(unit, "pm") && value * nm_unit_to_nm(unit) / length < PLAUSIBLE_MIN_NM_PER_PX)
    snprintf(unit, 8, "um");
}

/* 1 when a word from symbol `from` on looks like a unit (as read, or as
** the micro sign and split 'm' are misread). */
static int unit_word_from(const ocr_reading *r, int from) {
  for (int i = from; i < r->n; i++) {
    if (i > from && !r->sym[i].word_start) continue;
    int j = i + 1;
    while (j < r->n && !r->sym[j].word_start) j++;
    char w[96];
    float least;
    size_t ulen;
    span_text(r, i, j, w, sizeof w, &least);
    if (canonical_unit(w, &ulen) || w[0] == 'n' || w[0] == 'u' || micro_misread(w) ||
        !strncmp(w, "\xc2\xb5", 2) || !strncmp(w, "\xce\xbc", 2))
      return 1;
  }
  return 0;
}

/* One reading of a line, checked: 2 when the whole label parses, 1 when
** only its first one or two words do and the rest is separate words to
** the right (a particle or speck beside the text; *cut is where the label
** ends, in window columns), 0 when it does not parse. */
static int read_once(const ink_window *win, const box *boxes, int count, const box *line,
                     int line_height, const render_style *st, const char *alphabet, double *value, char *unit,
                     size_t unit_size, double *cut, label_split *split, char *why,
                     size_t why_size, double *seen) {
  *seen = NAN;
  ocr_reading r;
  char text[96];
  float least;
  int first, last;
  if (ocr_line(win, boxes, count, line, line_height, st, alphabet, &r) != 0) {
    snprintf(why, why_size, "scale bar label could not be read (Tesseract unavailable)");
    return 0;
  }
  label_span(&r, &first, &last);
  /* A lone digit word before a whole label ('8 2nm', '3, 0.5um') is a
  ** speck read as a digit: a label has one number. It is dropped like a
  ** stray word, so the ink check must pass over its mark as a speck set
  ** apart from the label (a real digit split off by a wide gap, '2 5 nm',
  ** is digit-shaped and fails there; a speck it cannot pass over becomes
  ** the first digit and fails as under half the line's height); kept, its
  ** number would be taken for a dissenting reading of the label's. Never a
  ** lone '0': that is the '0' of '0.5um' whose point was lost, and dropping
  ** it reads '5um' (10x off). */
  {
    int e = first + 1;
    while (e < last && !r.sym[e].word_start) e++;
    const char *a = r.sym[first].utf8;
    if (e < last && e - first <= 2 && a[0] >= '1' && a[0] <= '9' && !a[1] &&
        (e - first == 1 || is_punctuation_symbol(r.sym[first + 1].utf8)) &&
        r.sym[e].utf8[0] >= '0' && r.sym[e].utf8[0] <= '9') {
      char rest[96], ignored[160], u_[8];
      float rest_least;
      double v_;
      span_text(&r, e, last, rest, sizeof rest, &rest_least);
      if (parse_label(rest, rest_least, -1, &v_, u_, sizeof u_, ignored, sizeof ignored, NULL) == 0)
        first = e;
    }
  }
  span_text(&r, first, last, text, sizeof text, &least);
#ifdef NM_SCALEBAR_TRACE
  {
    char all[96];
    float all_least;
    span_text(&r, 0, r.n, all, sizeof all, &all_least);
    TRACE("      read h%d %s%s line x%d-%d: '%s' -> '%s' (least %.0f)\n", line_height,
          !st ? "plain" : st->cubic ? "cubic" : st->black_from < 0.2 ? "thick" : "thin",
          alphabet ? " constrained" : "", line->x0, line->x1, all, text, least);
  }
#endif
  int descends, lost_point;
  if (ink_disagrees(win, boxes, count, line, &r, first, last, &descends, split, &lost_point)) {
    snprintf(why, why_size,
             "scale bar label read as '%.60s' but its number has other marks (a dropped '0.'?)",
             text);
    TRACE("        ink disagrees\n");
    return 0;
  }
  if (lost_point && text[0] == '0' && strlen(text) + 1 < sizeof text) {
    memmove(text + 2, text + 1, strlen(text + 1) + 1);
    text[1] = '.';
    TRACE("        mended: '%s'\n", text);
  }
  if (parse_label(text, least, descends, value, unit, unit_size, why, why_size, seen) == 0) {
    TRACE("        parses: %g %s\n", *value, unit);
    return 2;
  }
  TRACE("        fails: %s (number seen %g)\n", why, *seen);
  /* "200 nm e%": try the first one or two words alone — never when a
  ** later word looks like a unit ('2nn nm' for '200 nm': '2nn' alone,
  ** its 'nn' mended to 'nm', would be a label 100 times too small). */
  for (int words = 1, end = first + 1; words <= 2 && end < last; end++) {
    if (!r.sym[end].word_start) continue;
    if (unit_word_from(&r, end)) {
      words++;
      continue;
    }
    char part[96], ignored[160];
    float part_least;
    span_text(&r, first, end, part, sizeof part, &part_least);
    if (!ink_disagrees(win, boxes, count, line, &r, first, end, &descends, NULL, NULL) &&
        parse_label(part, part_least, descends, value, unit, unit_size, ignored,
                    sizeof ignored, NULL) == 0) {
      *cut = 0.5 * (r.sym[end - 1].x1 + r.sym[end].x0);
      TRACE("        cut after '%s': %g %s\n", part, *value, unit);
      return 1;
    }
    words++;
  }
  return 0;
}

/* The line without thin marks at its ends (a box edge, a speck of texture
** that Tesseract merges with the next digit); the box of what is left. */
static box trimmed_line(const box *boxes, int count, const box *line, double cut) {
  int lh = line->y1 - line->y0;
  box t = {line->x1, line->y0, line->x0, line->y1, 0, 0};
  int min_x = line->x1, max_x = line->x0;
  for (int i = 0; i < count; i++)
    if (inside_line(&boxes[i], line) && boxes[i].x1 <= cut) {
      if (boxes[i].x0 < min_x) min_x = boxes[i].x0;
      if (boxes[i].x1 > max_x) max_x = boxes[i].x1;
    }
  for (int i = 0; i < count; i++) {
    const box *b = &boxes[i];
    if (!inside_line(b, line) || b->x1 > cut) continue;
    int thin = b->x1 - b->x0 <= 0.3 * lh;
    if (thin && (b->x0 == min_x || b->x1 == max_x)) continue;
    if (b->x0 < t.x0) t.x0 = b->x0;
    if (b->x1 > t.x1) t.x1 = b->x1;
  }
  if (t.x1 <= t.x0) t = *line;
  return t;
}

/* Reads the number and the unit apart, each alone on its canvas and
** constrained to its own characters: where the ink (ink_disagrees) put
** them. Tesseract reading a whole label guesses letters from words ('201m'
** for '20 nm', 'T'' for '1'); a number alone is read as digits. The number
** read must have as many characters as its columns hold glyphs. 1 when the
** two read as a label. */
static int read_split(const ink_window *win, const box *boxes, int count, const box *line,
                      const label_split *sp, int line_height, double *value, char *unit,
                      size_t unit_size, double *seen) {
  *seen = NAN;
  box number = {sp->num_x0, line->y0, sp->num_x1, line->y1, 0, 0};
  box unit_box = {sp->unit_x0, line->y0, line->x1, line->y1, 0, 0};
  ocr_reading rn, ru;
  if (ocr_line(win, boxes, count, &number, line_height, NULL, "0123456789.", &rn) != 0 ||
      ocr_line(win, boxes, count, &unit_box, line_height, NULL, "nmu\xc2\xb5\xce\xbc", &ru) != 0)
    return 0;
  int digits = 0;
  for (int i = 0; i < rn.n; i++) digits += is_number_symbol(rn.sym[i].utf8);
  if (digits != rn.n || digits < sp->marks || digits > sp->room) {
    TRACE("      split h%d: number has %d symbols (%d digits), ink %d..%d\n", line_height, rn.n,
          digits, sp->marks, sp->room);
    return 0;
  }
  char text[96] = "", part[48];
  float least_n, least_u;
  for (int i = 0; i < rn.n; i++) strncat(text, rn.sym[i].utf8, sizeof text - strlen(text) - 1);
  least_n = 100.0f;
  for (int i = 0; i < rn.n; i++)
    if (rn.sym[i].confidence < least_n) least_n = rn.sym[i].confidence;
  span_text(&ru, 0, ru.n, part, sizeof part, &least_u);
  strncat(text, " ", sizeof text - strlen(text) - 1);
  strncat(text, part, sizeof text - strlen(text) - 1);
  char ignored[160];
  int ok = parse_label(text, least_n < least_u ? least_n : least_u, sp->descends, value, unit,
                       unit_size, ignored, sizeof ignored, seen) == 0;
  TRACE("      split h%d: '%s' -> %s\n", line_height, text, ok ? "parses" : ignored);
  return ok;
}

/* Reads one glyph alone (Tesseract's single-character mode, digits only):
** the character, or 0 when nothing single was read. A tie-breaker for
** readings of a whole line that disagree: a glyph read out of its line is
** not guessed from its neighbours ('0' beside '5' read '6'). */
static char ocr_glyph(const ink_window *win, const box *boxes, int count, const box *glyph,
                      int line_height, const render_style *st) {
  int ow, oh;
  unsigned char *canvas = render_line(win, boxes, count, glyph, line_height, st, &ow, &oh);
  if (!canvas) return 0;
  char got = 0;
  pthread_mutex_lock(&ocr_lock);
  TessBaseAPI *api = ocr_engine();
  /* Single-character mode returns nothing for some clean glyphs; those are
  ** read again as a one-word line. */
  for (int mode = 0; api && mode < 2 && !got; mode++) {
    TessBaseAPISetPageSegMode(api, mode ? PSM_SINGLE_WORD : PSM_SINGLE_CHAR);
    TessBaseAPISetVariable(api, "tessedit_char_whitelist", "0123456789");
    TessBaseAPISetImage(api, canvas, ow, oh, 1, ow);
    TessBaseAPISetSourceResolution(api, 300);
    char *text = TessBaseAPIGetUTF8Text(api);
    if (text) {
      int n = 0;
      for (const char *p = text; *p; p++)
        if (*p >= '0' && *p <= '9') got = *p, n++;
        else if (!isspace((unsigned char)*p)) n += 2;
      int conf = TessBaseAPIMeanTextConf(api);
      TRACE("        glyph x %d-%d h%d m%d: '%s' conf %d\n", glyph->x0, glyph->x1, line_height,
            mode, text, conf);
      if (n != 1 || conf < 50) got = 0;
      TessDeleteText(text);
    }
    TessBaseAPIClear(api);
    TessBaseAPISetPageSegMode(api, PSM_SINGLE_LINE);
  }
  pthread_mutex_unlock(&ocr_lock);
  free(canvas);
  return got;
}

/* The number of a split label read glyph by glyph: the components inside
** the number's columns grouped by overlapping columns, each group a digit
** unless it is short and sits on the baseline (a decimal point); NAN when
** a glyph does not read or the number is not one a label carries. */
#define MAX_GLYPHS 8
/* The number's glyphs (ink components inside its columns, at the render
** peak, grouped by overlapping columns), left to right: their count, or -1
** when there are more than MAX_GLYPHS. */
static int number_glyph_groups(const box *boxes, int count, const box *line,
                               const label_split *sp, box *g) {
  int n = 0;
  for (int i = 0; i < count; i++) {
    const box *b = &boxes[i];
    if (b->x0 < sp->num_x0 || b->x1 > sp->num_x1 || b->y0 < line->y0 || b->y1 > line->y1 ||
        b->peak < RENDER_MIN_PEAK)
      continue;
    int j = 0;
    while (j < n && !(b->x0 < g[j].x1 && g[j].x0 < b->x1)) j++;
    if (j == n) {
      if (n == MAX_GLYPHS) return -1;
      g[n++] = *b;
    } else {
      g[j].x0 = b->x0 < g[j].x0 ? b->x0 : g[j].x0;
      g[j].x1 = b->x1 > g[j].x1 ? b->x1 : g[j].x1;
      g[j].y0 = b->y0 < g[j].y0 ? b->y0 : g[j].y0;
      g[j].y1 = b->y1 > g[j].y1 ? b->y1 : g[j].y1;
    }
  }
  for (int i = 1; i < n; i++) /* left to right */
    for (int j = i; j > 0 && g[j].x0 < g[j - 1].x0; j--) {
      box t = g[j];
      g[j] = g[j - 1];
      g[j - 1] = t;
    }
  return n;
}

static double read_glyphs(const ink_window *win, const box *boxes, int count, const box *line,
                          const label_split *sp, int line_height, const render_style *st) {
  box g[MAX_GLYPHS];
  int n = number_glyph_groups(boxes, count, line, sp, g), top = line->y1, bottom = line->y0;
  if (n <= 0) return NAN;
  for (int i = 0; i < n; i++) {
    top = g[i].y0 < top ? g[i].y0 : top;
    bottom = g[i].y1 > bottom ? g[i].y1 : bottom;
  }
  int H = bottom - top;
  TRACE("      glyph groups %d H %d\n", n, H);
  if (H < 5) return NAN;
  char text[MAX_GLYPHS + 8] = "";
  int points = 0;
  for (int i = 0; i < n; i++) {
    if (g[i].y1 - g[i].y0 < H / 2) {
      if (g[i].y0 < top + H / 2 || i == 0 || i == n - 1 || points++) return NAN;
      text[i] = '.';
      continue;
    }
    if (g[i].y1 - g[i].y0 < (3 * H) / 4) return NAN;
    /* The glyph's box spans the whole number's height so its digits are
    ** drawn at the line's scale, with a margin of a third of H. */
    int m = H / 3;
    box one = {g[i].x0 - m, top - m, g[i].x1 + m, bottom + m, 0, 0};
    if (one.x0 < line->x0) one.x0 = line->x0;
    if (one.x1 > line->x1) one.x1 = line->x1;
    if (one.y0 < line->y0) one.y0 = line->y0;
    if (one.y1 > line->y1) one.y1 = line->y1;
    /* render_line draws only components wholly inside the box: the
    ** neighbours reaching into the margin are left out. */
    char c = ocr_glyph(win, boxes, count, &one, line_height, st);
    if (!c) return NAN;
    text[i] = c;
  }
  text[n] = 0;
  if (text[0] == '0' && n > 1 && text[1] != '.') return NAN;
  TRACE("      glyphs h%d: '%s'\n", line_height, text);
  return strtod(text, NULL);
}

/* Reads a label line. The plain reading at OCR_LINE_HEIGHT is trusted
** alone when it parses whole. Otherwise the line is read again — at two
** other scales, constrained to the characters labels use, and trimmed of
** thin end marks or of the separate words after a unit — and a value is
** accepted only when two readings give it and no reading gives another —
** nor another number: a reading whose number agrees with the ink but whose
** label fails ('90nm' beside two '30nm' for a serif '50nm') shows the
** digits are in doubt. A misread rarely repeats itself under a different
** rendering, but it can. */
#define MAX_EXTRA_READINGS 22

/* Floods lab (gw x gh cells) over 4-neighbours from the sp cells on stack
** (already set to `to`): every reached cell still 2 becomes `to`. Returns
** the cells filled, seeds included, and their first and last rows. */
static int flood4(unsigned char *lab, int gw, int gh, int *stack, int sp, unsigned char to,
                  int *y0, int *y1) {
  static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
  int size = 0;
  *y0 = gh, *y1 = -1;
  while (sp > 0) {
    int at = stack[--sp], x = at % gw, y = at / gw;
    size++;
    if (y < *y0) *y0 = y;
    if (y > *y1) *y1 = y;
    for (int d = 0; d < 4; d++) {
      int nx = x + dx[d], ny = y + dy[d];
      if (nx < 0 || ny < 0 || nx >= gw || ny >= gh || lab[ny * gw + nx] != 2) continue;
      lab[ny * gw + nx] = to;
      stack[sp++] = ny * gw + nx;
    }
  }
  return size;
}

/* 1 when the glyph's ink (coverage at least half) is a closed ring whose
** hole spans it: the largest region of background enclosed by the ink
** reaches within a fifth of the glyph's height of its top and of its
** bottom. That is a '0' and no other digit: the holes of 6 and 9 stay in
** one half, an 8 has two, the triangle of a 4 stops at its crossbar, a
** fifth or more above the foot of its stem; the dot inside a mono zero is
** an island in the hole, or splits it into a left and a right half that
** each span it. */
static int glyph_is_ring(const ink_window *win, const box *g) {
  int gw = g->x1 - g->x0, gh = g->y1 - g->y0;
  if (gw < 4 || gh < 7 || gw > 64 || gh > 96) return 0;
  /* 0 ink, 1 background reached from the box's border, 2 enclosed */
  unsigned char lab[96 * 64];
  int stack[96 * 64], sp = 0;
  for (int y = 0; y < gh; y++)
    for (int x = 0; x < gw; x++) {
      int wx = g->x0 + x, wy = g->y0 + y;
      int inked = wx >= 0 && wy >= 0 && wx < win->w && wy < win->h &&
                  win->cov[(size_t)wy * win->w + wx] >= 0.5f;
      lab[y * gw + x] = inked ? 0 : 2;
      if (!inked && (x == 0 || y == 0 || x == gw - 1 || y == gh - 1)) {
        lab[y * gw + x] = 1;
        stack[sp++] = y * gw + x;
      }
    }
  int y0, y1;
  flood4(lab, gw, gh, stack, sp, 1, &y0, &y1);
  /* The largest enclosed region (4-connected), by pixel count. */
  int best = 0, by0 = 0, by1 = 0, best_seed = -1;
  for (int i = 0; i < gw * gh; i++) {
    if (lab[i] != 2) continue;
    lab[i] = 3;
    stack[0] = i;
    int size = flood4(lab, gw, gh, stack, 1, 3, &y0, &y1);
    if (size > best) best = size, by0 = y0, by1 = y1, best_seed = i;
  }
  TRACE("        glyph x%d-%d y%d-%d: largest hole %d px, rows %d-%d\n", g->x0, g->x1, g->y0,
        g->y1, best, by0, by1);
  if (best_seed < 0 || best < 4) return 0;
  int margin = (gh + 2) / 5; /* a fifth, rounded */
  return by0 <= margin && by1 >= gh - 1 - margin;
}

/* 0 when a number, written out, has as many characters as the number has
** glyphs and shows anything but a zero where the ink is a ring ('6.5' or
** '9.5' for a mono '0.5' whose zero has a dot inside); 1 otherwise. */
static int number_fits_rings(double number, const char *ring, int n) {
  char s[32];
  snprintf(s, sizeof s, "%g", number);
  if ((int)strlen(s) != n) return 1;
  for (int i = 0; i < n; i++)
    if (ring[i] && s[i] != '0') return 0;
  return 1;
}

/* Every number read on every line of a label attempt (and its length in nm
** when the unit was read too): a later attempt at another ink level must
** agree with all of those read on its line. */
#define MAX_LOGGED 96
typedef struct reading_log {
  int n;
  box line[MAX_LOGGED];
  double number[MAX_LOGGED], nm[MAX_LOGGED];
} reading_log;

static void log_reading(reading_log *log, const box *line, double number, double nm) {
  if (!log || !isfinite(number) || log->n == MAX_LOGGED) return;
  log->line[log->n] = *line;
  log->number[log->n] = number;
  log->nm[log->n] = nm;
  log->n++;
}

static int read_line(const ink_window *win, const box *boxes, int count, const box *line,
                     double length, int *budget, double *value, char *unit, size_t unit_size,
                     char *why, size_t why_size, reading_log *log) {
  double v;
  char u[8];
  double cut = line->x1;
  label_split split = {0};
  enum { MAX_SEEN = 2 + MAX_EXTRA_READINGS };
  double seen[MAX_SEEN];
  unsigned char seen_free[MAX_SEEN]; /* read without a character whitelist */
  int n_seen = 0;
  int got = read_once(win, boxes, count, line, OCR_LINE_HEIGHT, NULL, NULL, &v, u, sizeof u, &cut,
                      &split, why, why_size, &seen[n_seen]);
  seen_free[n_seen] = 1;
  n_seen += isfinite(seen[n_seen]);
  if (got == 2) {
    /* Trusted only when a second rendering (34 px) reads the same value:
    ** a single reading can be wrong at 85 % confidence ('300nm' for a
    ** condensed '500nm', '200A' for '200 nm'). Otherwise it is one vote. */
    double v2;
    char u2[8], ignored[160];
    double c2 = line->x1, seen2;
    int got2 = read_once(win, boxes, count, line, 34, NULL, NULL, &v2, u2, sizeof u2, &c2, NULL,
                         ignored, sizeof ignored, &seen2);
    if (got2 == 2) {
      micro_read_as_p(v, u, length);
      micro_read_as_p(v2, u2, length);
      log_reading(log, line, v, v * nm_unit_to_nm(u));
      log_reading(log, line, v2, v2 * nm_unit_to_nm(u2));
      if (fabs(v * nm_unit_to_nm(u) - v2 * nm_unit_to_nm(u2)) <= 1e-9 * v * nm_unit_to_nm(u)) {
        *value = v;
        snprintf(unit, unit_size, "%s", u);
        return 0;
      }
    }
    if (isfinite(seen2) && n_seen < MAX_SEEN) seen_free[n_seen] = 1, seen[n_seen++] = seen2;
  }
  enum { MAX_VOTES = 12 };
  double votes_nm[MAX_VOTES], votes_v[MAX_VOTES];
  char votes_u[MAX_VOTES][8];
  int n_votes = 0;
  /* A vote whose pixel size no TEM gives ('2 mm' over 54 px for '2 µm')
  ** cannot be the label: its unit is a misread. It is not counted (its
  ** number is still among those seen, which must all agree). */
#define VOTE()                                                             \
  do {                                                                     \
    micro_read_as_p(v, u, length);                                         \
    double per_px_ = v * nm_unit_to_nm(u) / length;                        \
    if (!(per_px_ >= PLAUSIBLE_MIN_NM_PER_PX && per_px_ <= PLAUSIBLE_MAX_NM_PER_PX)) { \
      TRACE("        vote %g %s dropped: %g nm/px\n", v, u, per_px_);     \
      break;                                                               \
    }                                                                      \
    votes_nm[n_votes] = v * nm_unit_to_nm(u);                              \
    votes_v[n_votes] = v;                                                  \
    snprintf(votes_u[n_votes], sizeof votes_u[n_votes], "%s", u);          \
    n_votes++;                                                             \
  } while (0)
  if (got >= 1) VOTE();
  for (int k = 0; k < 2 && split.found && *budget > 0; k++) {
    (*budget)--;
    int g = read_split(win, boxes, count, line, &split, k ? 34 : OCR_LINE_HEIGHT, &v, u,
                       sizeof u, &seen[n_seen]);
    seen_free[n_seen] = 0;
    n_seen += isfinite(seen[n_seen]) && n_seen + 1 < MAX_SEEN;
    if (g) VOTE();
  }
  box trimmed = trimmed_line(boxes, count, line, got == 1 ? cut : line->x1);
  static const render_style thick = {0.10, 0.60, 0}, thin = {0.40, 0.95, 0},
                            smooth = {RENDER_BLACK_FROM, RENDER_WHITE_TO, 1};
  const struct { int height, constrained, trim; const render_style *style; } passes[] = {
      {OCR_LINE_HEIGHT, 0, 1, NULL}, {34, 0, 0, NULL}, {64, 0, 0, NULL},
      {OCR_LINE_HEIGHT, 1, 0, NULL}, {34, 1, 1, NULL},
      {OCR_LINE_HEIGHT, 0, 0, &thick}, {OCR_LINE_HEIGHT, 0, 0, &thin},
      {64, 0, 0, &smooth}, {OCR_LINE_HEIGHT, 1, 0, &thick},
  };
  char ignored[160];
  for (size_t k = 0; k < sizeof passes / sizeof passes[0] && *budget > 0; k++) {
    const box *which = passes[k].trim ? &trimmed : line;
    if (passes[k].trim && same_extent(which, line)) continue;
    (*budget)--;
    double c = line->x1;
    int g = read_once(win, boxes, count, which, passes[k].height, passes[k].style,
                      passes[k].constrained ? LABEL_ALPHABET : NULL, &v, u, sizeof u, &c, NULL,
                      ignored, sizeof ignored, &seen[n_seen]);
    seen_free[n_seen] = !passes[k].constrained;
    n_seen += isfinite(seen[n_seen]) && n_seen + 1 < MAX_SEEN;
    if (g && n_votes < MAX_VOTES) VOTE();
  }
#undef VOTE
  for (int k = 0; k < n_votes; k++) log_reading(log, line, votes_v[k], votes_nm[k]);
  for (int k = 0; k < n_seen; k++) log_reading(log, line, seen[k], NAN);
  TRACE("      votes %d\n", n_votes);
  if (n_votes < 2) return -1;
  int dissent = -1, dissent_seen = -1;
  for (int k = 1; k < n_votes && dissent < 0; k++)
    if (fabs(votes_nm[k] - votes_nm[0]) > 1e-9 * votes_nm[0]) dissent = k;
  for (int k = 0; k < n_seen && dissent < 0 && dissent_seen < 0; k++)
    if (fabs(seen[k] - votes_v[0]) > 1e-9 * votes_v[0]) dissent_seen = k;
  if ((dissent >= 0 || dissent_seen >= 0) && split.found) {
    /* Where the ink of a glyph of the number is a ring, the digit is a zero
    ** whatever Tesseract read there: readings with another digit in that
    ** place are misreads and are set aside (Tesseract reads the dotted
    ** zero of a mono font as '6': '6.5um', '566nm'). The rest must still
    ** agree, twice, with a free reading among them. */
    box g[MAX_GLYPHS];
    char ring[MAX_GLYPHS] = {0};
    int ng = number_glyph_groups(boxes, count, line, &split, g), rings = 0;
    for (int i = 0; i < ng; i++) rings += ring[i] = (char)glyph_is_ring(win, &g[i]);
    if (rings > 0) {
      int kept = 0;
      for (int k = 0; k < n_votes; k++)
        if (number_fits_rings(votes_v[k], ring, ng)) {
          votes_nm[kept] = votes_nm[k], votes_v[kept] = votes_v[k];
          memmove(votes_u[kept], votes_u[k], sizeof votes_u[k]);
          kept++;
        }
      TRACE("      %d of %d glyphs are rings: %d of %d votes fit\n", rings, ng, kept, n_votes);
      n_votes = kept;
      kept = 0;
      for (int k = 0; k < n_seen; k++)
        if (number_fits_rings(seen[k], ring, ng))
          seen[kept] = seen[k], seen_free[kept] = seen_free[k], kept++;
      n_seen = kept;
      if (n_votes < 2) return -1;
      dissent = dissent_seen = -1;
      for (int k = 1; k < n_votes && dissent < 0; k++)
        if (fabs(votes_nm[k] - votes_nm[0]) > 1e-9 * votes_nm[0]) dissent = k;
      for (int k = 0; k < n_seen && dissent < 0 && dissent_seen < 0; k++)
        if (fabs(seen[k] - votes_v[0]) > 1e-9 * votes_v[0]) dissent_seen = k;
    }
  }
  int chosen = 0;
  if ((dissent >= 0 || dissent_seen >= 0) && split.found) {
    /* The tie-breaker: the number read glyph by glyph under two renderings
    ** that agree, and the votes that read that number agreeing on the
    ** length in nm; the other votes are taken as misreads. */
    static const render_style smooth_g = {RENDER_BLACK_FROM, RENDER_WHITE_TO, 1};
    double g1 = read_glyphs(win, boxes, count, line, &split, OCR_LINE_HEIGHT, NULL);
    double g2 = isfinite(g1) ? read_glyphs(win, boxes, count, line, &split, 64, &smooth_g) : NAN;
    chosen = -1;
    if (isfinite(g1) && g1 > 0 && g1 == g2) {
      for (int k = 0; k < n_votes; k++) {
        if (fabs(votes_v[k] - g1) > 1e-9 * g1) continue;
        if (chosen < 0) chosen = k;
        else if (fabs(votes_nm[k] - votes_nm[chosen]) > 1e-9 * votes_nm[chosen]) {
          chosen = -1;
          break;
        }
      }
    }
    /* It breaks ties, never a majority: the glyphs are read under a digit
    ** whitelist, which forces a glyph Tesseract cannot tell into a digit
    ** (a JPEG-blurred serif '5' read '3' alone, where 7 of 10 readings of
    ** the line gave 50 and 3 gave 30). */
    for (int k = 0; chosen >= 0 && k < n_votes; k++) {
      int same = 0, with_chosen = 0;
      for (int j = 0; j < n_votes; j++) {
        same += fabs(votes_nm[j] - votes_nm[k]) <= 1e-9 * votes_nm[k];
        with_chosen += fabs(votes_nm[j] - votes_nm[chosen]) <= 1e-9 * votes_nm[chosen];
      }
      if (same > with_chosen) chosen = -1;
    }
    TRACE("      glyph tie-break: %g %g -> vote %d\n", g1, g2, chosen);
  } else if (dissent >= 0 || dissent_seen >= 0) {
    chosen = -1;
  }
  if (chosen < 0) {
    if (dissent >= 0)
      snprintf(why, why_size, "scale bar label readings disagree (%g %s, %g %s)", votes_v[0],
               votes_u[0], votes_v[dissent], votes_u[dissent]);
    else
      snprintf(why, why_size, "scale bar label readings disagree (%g %s, number read %g)",
               votes_v[0], votes_u[0], seen[dissent_seen]);
    return -1;
  }
  /* A glyph Tesseract cannot tell, forced through a digit whitelist,
  ** comes out a digit: a flagless serif '5' read 'J' by every free
  ** reading and '2' by three constrained ones (seed 1 case 126: 2.5 x
  ** off). The number must also be read without a whitelist. */
  int free_read = 0;
  for (int k = 0; k < n_seen; k++)
    free_read |= seen_free[k] && fabs(seen[k] - votes_v[chosen]) <= 1e-9 * votes_v[chosen];
  if (!free_read) {
    snprintf(why, why_size,
             "scale bar label number %g read only under a digit whitelist", votes_v[chosen]);
    return -1;
  }
  *value = votes_v[chosen];
  snprintf(unit, unit_size, "%s", votes_u[chosen]);
  return 0;
}

/* ---- the reader ---------------------------------------------------------- */

static nm_status give_up(nm_scalebar *out, const char *why) {
  out->nm_per_px = NAN;
  snprintf(out->reason, sizeof out->reason, "%s", why);
  return NM_OK;
}

/* 1 when, just inside one end of the strip, the rows above or below it
** are at the strip's own level (within a quarter of the contrast; film
** texture rarely gets that close to painted ink) where they are at the
** background along the middle: the strip turns a corner there. That is the margin of an
** annotation box between its edge and the bar inside it (the bar below the
** margin's middle, the box's side margins below its ends), or a frame; a
** bar has background beyond both its sides at its ends too. */
static int strip_turns_corner(const float *px, int w, int h, const nm_scalebar *sb,
                              const bar_levels *lv) {
  float *scratch = malloc(sizeof(float) * (size_t)(2 * sb->bar_w + 16));
  if (!scratch) return 1;
  int turns = 0;
  for (int side = 0; side < 2 && !turns; side++) {
    float middle = side_level(px, w, h, sb, side, scratch);
    if (isnan(middle)) continue;
    for (int end = 0; end < 2 && !turns; end++) {
      float v[8];
      int k = 0;
      int x0 = end ? sb->bar_x + sb->bar_w - 4 : sb->bar_x;
      for (int r = 2; r <= 3; r++) {
        int y = side ? sb->bar_y + sb->bar_h - 1 + r : sb->bar_y - r;
        if (y < 0 || y >= h) continue;
        for (int x = x0; x < x0 + 4; x++)
          if (x >= 0 && x < w) v[k++] = px[(size_t)y * w + x];
      }
      if (k < 4) continue;
      float at_end = median_of(v, k);
      turns = fabsf(at_end - lv->bar) < 0.25f * fabsf(lv->bar - middle);
    }
  }
  free(scratch);
  return turns;
}

/* The bar check and sub-pixel length of a candidate (no OCR): 0 when it is
** a bar, else -1 with the reason in out. */
static int verify_bar(const float *px, int width, int height, nm_scalebar *out,
                      bar_levels *levels) {
  out->value = NAN;
  out->unit[0] = 0;
  if (!out->found) return give_up(out, "no scale bar found and no calibration in the file"), -1;
  if (out->bar_w < 8 || out->bar_h < 1 || out->bar_x < 0 || out->bar_y < 0 ||
      out->bar_x + out->bar_w > width || out->bar_y + out->bar_h > height)
    return give_up(out, "scale bar too small or outside the image to measure"), -1;
  snap_rows(px, width, height, out);
  if (measure_levels(px, width, height, out, levels) != 0)
    return give_up(out, "scale bar has no contrast against its surroundings"), -1;
  if (strip_turns_corner(px, width, height, out, levels))
    return give_up(out, "strip turns a corner at its end (a box margin, not a bar)"), -1;
  double length = measure_bar_length(px, width, height, out, levels);
  if (!(length > 8) || fabs(length - out->bar_w) > 0.1 * out->bar_w + 2) {
    /* An end on a particle of the bar's polarity: follow the run. */
    nm_scalebar run = *out;
    length = measure_bar_run(px, width, height, &run, levels);
    if (!(length > 8) || fabs(length - run.bar_w) > 2 ||
        strip_turns_corner(px, width, height, &run, levels))
      return give_up(out, "scale bar length could not be measured"), -1;
    *out = run;
  }
  out->bar_length_px = length;
  return 0;
}

static nm_status read_label(const float *px, int width, int height, nm_scalebar *out,
                            const bar_levels *levels, const bar_candidate *others,
                            int n_others, nm_error *err);


/* Strips that pass the bar check are read, longest first, until one's label
** reads. Up to MAX_RAW_CANDIDATES strips are checked (cheap) and at most
** MAX_BAR_CANDIDATES verified bars are read (Tesseract, slow). When none
** reads, the reason is the longest verified bar's (or the longest strip's). */
#define MAX_RAW_CANDIDATES (48 + MAX_LOOSE_CANDIDATES)
nm_status nm_scalebar_read(const float *px, int width, int height, nm_scalebar *out,
                           nm_error *err) {
  if (!px || width <= 0 || height <= 0) return nm_fail(err, NM_ERR_ARG, "scale bar: empty image");
  bar_candidate raw[MAX_RAW_CANDIDATES], bars[MAX_BAR_CANDIDATES];
  int n = find_bar_candidates(px, width, height, raw, MAX_RAW_CANDIDATES);
  if (n < 0) return nm_fail(err, NM_ERR_NOMEM, "scale bar: out of memory");
  memset(out, 0, sizeof *out);
  out->value = NAN;
  give_up(out, "no scale bar found and no calibration in the file");
  int n_bars = 0, reported = 0;
  for (int i = 0; i < n && n_bars < MAX_BAR_CANDIDATES; i++) {
    int shadowed = 0;
    for (int j = 0; j < n_bars && !shadowed; j++) shadowed = shadowed_by(&raw[i], &bars[j]);
    if (shadowed) continue;
    nm_scalebar attempt = raw[i].sb;
    bar_levels levels;
    TRACE("  strip %d: x %d w %d y %d h %d %s\n", i, attempt.bar_x, attempt.bar_w, attempt.bar_y,
          attempt.bar_h, raw[i].bright ? "bright" : "dark");
    if (verify_bar(px, width, height, &attempt, &levels) != 0) {
      TRACE("    not a bar: %s\n", attempt.reason);
      if (i == 0) *out = attempt;
      continue;
    }
    bars[n_bars++] = raw[i];
    TRACE("    bar, length %.2f px\n", attempt.bar_length_px);
    nm_status status = read_label(px, width, height, &attempt, &levels, raw, n, err);
    TRACE("    -> %g nm/px %s\n", attempt.nm_per_px, attempt.reason);
    if (status != NM_OK) return status;
    if (!reported || isfinite(attempt.nm_per_px)) *out = attempt;
    reported = 1;
    if (isfinite(attempt.nm_per_px)) break;
  }
  return NM_OK;
}

nm_status nm_scalebar_measure(const float *px, int width, int height, nm_scalebar *out,
                              nm_error *err) {
  bar_levels levels;
  if (verify_bar(px, width, height, out, &levels) != 0) return NM_OK;
  return read_label(px, width, height, out, &levels, NULL, 0, err);
}

/* A label beside its bar (not above or below it) is only the bar's when
** no other strip of the same polarity lies right above or below the label
** over most of its width: that strip would be the label's bar (the longer
** one may be the remains of another bar, or an edge). Image coordinates. */
static int label_claimed_elsewhere(const box *label, const nm_scalebar *bar, int bright,
                                   const bar_candidate *others, int n_others) {
  int lh = label->y1 - label->y0, lw = label->x1 - label->x0;
  if (label->x1 > bar->bar_x && label->x0 < bar->bar_x + bar->bar_w) {
    /* Above or below the bar: refused when another strip of the same
    ** polarity, apart from this bar's rows, lies over or under the label
    ** nearer than this bar does — the label is that strip's (a bar drawn
    ** beside an image's own bar, whose label it covers). */
    int gap = bar->bar_y >= label->y1 ? bar->bar_y - label->y1
              : label->y0 >= bar->bar_y + bar->bar_h ? label->y0 - (bar->bar_y + bar->bar_h) : 0;
    for (int i = 0; i < n_others; i++) {
      const nm_scalebar *o = &others[i].sb;
      if (others[i].bright != bright) continue;
      if (o->bar_y < bar->bar_y + bar->bar_h && bar->bar_y < o->bar_y + o->bar_h) continue;
      int ov = (label->x1 < o->bar_x + o->bar_w ? label->x1 : o->bar_x + o->bar_w) -
               (label->x0 > o->bar_x ? label->x0 : o->bar_x);
      int dy = o->bar_y >= label->y1 ? o->bar_y - label->y1
               : label->y0 >= o->bar_y + o->bar_h ? label->y0 - (o->bar_y + o->bar_h) : -1;
      if (ov >= 0.5 * lw && dy >= 0 && dy + 2 < gap) return 1;
      /* ... or a shorter strip (a third of the bar or more) lies between
      ** the label and the bar, under or over the label along most of its
      ** own length: a bar drawn in a box over an image's own bar, between
      ** that bar's visible end and its label ('100 nm' read as this bar's
      ** '10 nm', seed 83 case 200). */
      int between = bar->bar_y >= label->y1
                        ? o->bar_y >= label->y1 && o->bar_y + o->bar_h <= bar->bar_y
                        : o->bar_y + o->bar_h <= label->y0 &&
                              o->bar_y >= bar->bar_y + bar->bar_h;
      if (between && o->bar_w >= 0.3 * bar->bar_w && ov >= 0.5 * o->bar_w) return 1;
      /* ... or a strip lies right on top of or under the bar (a bar drawn
      ** over another bar): which label is whose cannot be told. */
      int bov = (bar->bar_x + bar->bar_w < o->bar_x + o->bar_w ? bar->bar_x + bar->bar_w
                                                                : o->bar_x + o->bar_w) -
                (bar->bar_x > o->bar_x ? bar->bar_x : o->bar_x);
      int bdy = o->bar_y >= bar->bar_y + bar->bar_h ? o->bar_y - (bar->bar_y + bar->bar_h)
                                                    : bar->bar_y - (o->bar_y + o->bar_h);
      if (bov >= 0.5 * o->bar_w && bdy <= (bar->bar_h > 3 ? bar->bar_h : 3)) return 1;
    }
    return 0;
  }
  for (int i = 0; i < n_others; i++) {
    const nm_scalebar *o = &others[i].sb;
    if (others[i].bright != bright || (o->bar_x == bar->bar_x && o->bar_y == bar->bar_y)) continue;
    int ov = (label->x1 < o->bar_x + o->bar_w ? label->x1 : o->bar_x + o->bar_w) -
             (label->x0 > o->bar_x ? label->x0 : o->bar_x);
    int dy = o->bar_y >= label->y1 ? o->bar_y - label->y1
             : label->y0 >= o->bar_y + o->bar_h ? label->y0 - (o->bar_y + o->bar_h) : -1;
    if (ov >= 0.5 * lw && dy >= 0 && dy <= 3 * lh) return 1;
  }
  return 0;
}

/* 1 when no ink lies beside the line in its band, within 0.8 of its height
** to the left or right. At the strict ink level a label's first glyphs can
** merge with a patch of the field as bright (dark) as the ink — '0.' of
** '0.2 µm' on a bright particle — and the line left is '2 µm', read right
** and checked right against its own ink. The merged glyphs still touch the
** band beside it; texture that the strict level parted from a label does
** not reach the label's own level there. (Specks of noisy film beside the
** line count too: leaving them out read an image's own label, beside a
** bar half covered by a drawn box, as that bar's — held-out seed 47 case 14,
** 8.6x off.) */
static int line_stands_free(const ink_window *win, const box *line) {
  int lh = line->y1 - line->y0, reach = (int)ceil(fmax(3.0, 0.8 * lh)), inked = 0;
  for (int side = 0; side < 2; side++) {
    int xa = side ? line->x1 : line->x0 - reach, xb = side ? line->x1 + reach : line->x0;
    for (int y = line->y0; y < line->y1; y++)
      for (int x = xa < 0 ? 0 : xa; x < xb && x < win->w; x++) inked += win->ink[(size_t)y * win->w + x];
  }
  TRACE("      %d ink pixels beside the line\n", inked);
  return inked < 3;
}

/* 1 when the band left of the line (1.2 line heights wide) holds few
** pixels at `coverage` of the bar's contrast or more (under 0.08 of the
** line height squared). At a strict ink level the thin strokes of a '0'
** and its point can fall below the ink altogether: the line left is
** '1 µm', read right and checked right against its own ink, 10x off.
** Their pixels still reach half the contrast beside the line (coverage
** INK_COVERAGE). At the first level the '0.' of '0.2 µm' can merge with
** a patch of film as bright as the label into one component too large to
** be a glyph, and the line starts at the '2'; the '0.' is still there at
** the label's own level (GLYPH_PEAK_COVERAGE), which film rarely reaches
** over that many pixels — counted only where it is ink (in a solid box,
** the film beyond the box's edge is not). Either way a number without a
** point is then not trusted. *nearest: how far the nearest such pixel is
** from the line, in line heights (INFINITY when there is none). */
static int lead_is_clear(const ink_window *win, const box *line, float coverage, int ink_only,
                         double *nearest) {
  int lh = line->y1 - line->y0, reach = (int)ceil(1.2 * lh), inked = 0, last = -1;
  for (int y = line->y0; y < line->y1; y++)
    for (int x = line->x0 - reach < 0 ? 0 : line->x0 - reach; x < line->x0; x++) {
      size_t i = (size_t)y * win->w + x;
      int here = win->cov[i] >= coverage && (!ink_only || win->ink[i]);
      inked += here;
      if (here && x > last) last = x;
    }
  *nearest = last >= 0 ? (double)(line->x0 - 1 - last) / lh : INFINITY;
  TRACE("      %d pixels at %.2f before the line, the nearest %.2f lh from it\n", inked,
        (double)coverage, *nearest);
  return inked < 0.08 * lh * lh;
}

/* 1 when the label sits in a solid box that the bar runs out of: a label
** drawn in a box owns only a bar inside that box. An image's own bar whose
** end a drawn box covers shows from the box's edge on, beside the drawn
** label; the label is the drawn bar's (seed 137 case 208: '100 nm' in a
** white box paired with the image's own thick bar, 2x off). The box is
** walked along two rows of the margin beside the label (below it, then
** above it), from the label's middle, at the fill's level there: the fill
** stands apart from the ink and from the bar's background, the two walks of each side agree (a box has
** straight edges; vacuum rarely does), the run spans most of the label,
** the column just beyond each edge, beside the label, is mostly not fill
** and the columns just inside them are fill.
** Image coordinates. */
static int label_boxed_apart(const float *px, int w, int h, const box *line,
                             const nm_scalebar *sb, const bar_levels *lv) {
  float span = fabsf(lv->bar - lv->background);
  int cx = (line->x0 + line->x1) / 2, lw = line->x1 - line->x0, lh = line->y1 - line->y0;
  if (cx - 2 < 0 || cx + 2 >= w || lw <= 0 || lh <= 0) return 0;
  for (int side = 0; side < 2; side++) {
    int rows[2] = {side ? line->y0 - 2 : line->y1 + 1, side ? line->y0 - 4 : line->y1 + 3};
    int usable = 1;
    for (int k = 0; k < 2; k++)
      usable &= rows[k] >= 0 && rows[k] < h;
    if (!usable) continue;
    float v[5];
    for (int k = 0; k < 5; k++) v[k] = px[(size_t)rows[0] * w + cx - 2 + k];
    float level = median_of(v, 5), fs = fabsf(lv->bar - level);
    /* The fill stands apart from the ink and from the field the bar lies
    ** on: a label on the bar's own background (dark vacuum reaching the
    ** image's edge beside a bright bar) is in no box of its own. */
    if (!(fs >= 0.5f * span) || !(fabsf(level - lv->background) >= 0.25f * span)) continue;
    float tol = 0.08f * fs;
    int l[2], r[2], flat = 1;
    for (int k = 0; k < 2; k++) {
      flat &= fabsf(px[(size_t)rows[k] * w + cx] - level) <= tol;
      l[k] = walk_flat(px, w, h, cx, rows[k], -1, 0, level, tol);
      r[k] = walk_flat(px, w, h, cx, rows[k], 1, 0, level, tol);
    }
    TRACE("      label box? side %d level %.3f fs %.3f span %.3f flat %d walks %d %d | %d %d\n", side,
          (double)level, (double)fs, (double)span, flat, l[0], l[1], r[0], r[1]);
    if (!flat || abs(l[0] - l[1]) > 2 || abs(r[0] - r[1]) > 2) continue;
    int bl = l[0] > l[1] ? l[0] : l[1], br = r[0] < r[1] ? r[0] : r[1];
    if (br - bl < 0.6 * lw) continue;
    int from = side ? line->y0 - 4 : line->y1 - lh / 2, to = side ? line->y0 + lh / 2 : line->y1 + 3;
    int ol = l[0] < l[1] ? l[0] : l[1], orr = r[0] > r[1] ? r[0] : r[1];
    if ((ol > 0 && off_fill(px, w, h, 0, ol - 1, from, to, level, tol) < 0.7) ||
        (orr < w - 1 && off_fill(px, w, h, 0, orr + 1, from, to, level, tol) < 0.7))
      continue;
    /* ... and the label lies between the box's side margins: two columns
    ** inside each edge are fill beside the label too (a flat patch of
    ** vacuum that a label on the image crosses is no box around it). */
    if (off_fill(px, w, h, 0, bl + 2, from, to, level, tol) > 0.1 ||
        off_fill(px, w, h, 0, br - 2, from, to, level, tol) > 0.1)
      continue;
    TRACE("      label box x %d-%d (rows %d %d), bar x %d-%d\n", bl, br, rows[0], rows[1],
          sb->bar_x, sb->bar_x + sb->bar_w - 1);
    return sb->bar_x + sb->bar_w - 1 > orr + 3 || sb->bar_x < ol - 3;
  }
  return 0;
}

/* One attempt at the label with the ink at `ink_level` of the bar's
** contrast: 1 when it reads (out->value, out->unit and the box set), 0 with
** the reason in why, -1 out of memory. */
static int read_label_at(const float *px, int width, int height, nm_scalebar *out,
                         const bar_levels *levels, const bar_candidate *others, int n_others,
                         float ink_level, reading_log *log, box *label_out, char *why_out,
                         size_t why_size) {
  double length = out->bar_length_px;
  ink_window win = {0};
  box *boxes = NULL;
  int count = 0;
  line_candidate lines[MAX_LABEL_CANDIDATES];
  box label = {0, 0, 0, 0, 0, 0};
  char why[160] = "";
  int ok = window_make(px, width, height, out, levels, ink_level, &win) == 0 &&
           window_components(&win, &boxes, &count) == 0;
  if (ok) join_broken_glyphs(boxes, count, win.h);
  if (!ok) {
    window_free(&win);
    free(boxes);
    return -1;
  }
  int n_lines = find_label_lines(&win, boxes, count, out, lines);
  TRACE("    ink at %.2f: %d label lines, %d components\n", ink_level, n_lines, count);
  if (n_lines == 0) snprintf(why, sizeof why, "scale bar found but no label next to it");
  int budget = MAX_EXTRA_READINGS;
  for (int i = 0; i < n_lines; i++) {
    /* The first candidate's failure is the one reported: it is the nearest. */
    char this_why[160] = "";
    box in_image = lines[i].line;
    in_image.x0 += win.x0, in_image.x1 += win.x0, in_image.y0 += win.y0, in_image.y1 += win.y0;
    TRACE("    line %d: x %d-%d y %d-%d\n", i, in_image.x0, in_image.x1, in_image.y0,
          in_image.y1);
    if (label_claimed_elsewhere(&in_image, out, levels->bar > levels->background, others,
                                n_others)) {
      snprintf(this_why, sizeof this_why,
               "scale bar label beside the bar sits on another bar-like strip");
    } else if (!win.panel && label_boxed_apart(px, width, height, &in_image, out, levels)) {
      snprintf(this_why, sizeof this_why,
               "scale bar label sits in a solid box that the bar runs out of");
    } else if (ink_level > INK_COVERAGE && !line_stands_free(&win, &lines[i].line)) {
      snprintf(this_why, sizeof this_why,
               "scale bar label runs into a bright or dark patch (a lost '0.'?)");
    } else {
      int got = read_line(&win, boxes, count, &lines[i].line, length, &budget, &out->value,
                          out->unit, sizeof out->unit, this_why, sizeof this_why, log);
      /* Failing that, the line with the broken-off tops of its glyphs. */
      box capped = grow_line_caps(boxes, count, lines[i].line);
      if (got != 0 && !same_extent(&capped, &lines[i].line)) {
        char ignored[160];
        got = read_line(&win, boxes, count, &capped, length, &budget, &out->value, out->unit,
                        sizeof out->unit, ignored, sizeof ignored, log);
        if (got == 0) lines[i].line = capped;
      }
      char number[32];
      snprintf(number, sizeof number, "%g", out->value);
      /* A label is written in its shortest form ('0.1 µm', never '0.10
      ** µm'): the digits a lost '0.' leaves never end in a zero. A number
      ** that does (10, 50, 200) lost no '0.'; a lost leading digit leaves
      ** a leading zero instead ('00 nm', refused), and a whole glyph of the
      ** label cannot vanish at a strict level while its neighbours, drawn
      ** with the same strokes, stay. */
      size_t digits = strlen(number);
      double nearest;
      int ends_in_zero = digits > 1 && number[digits - 1] == '0';
      if (got == 0 && !strchr(number, '.') && !ends_in_zero &&
          (ink_level > INK_COVERAGE
               ? !lead_is_clear(&win, &lines[i].line, INK_COVERAGE, 0, &nearest)
               : !lead_is_clear(&win, &lines[i].line, GLYPH_PEAK_COVERAGE, 1, &nearest) &&
                     nearest < LEAD_GAP)) {
        snprintf(this_why, sizeof this_why,
                 "scale bar label %g %s has ink right before it (a lost '0.'?)",
                 out->value, out->unit);
        TRACE("      refused: %s\n", this_why);
        got = -1;
      }
      if (got == 0) {
        label = lines[i].line;
        why[0] = 0;
        break;
      }
    }
    if (i == 0) snprintf(why, sizeof why, "%s", this_why);
  }
  if (!why[0]) {
    /* Extend the exclusion box over the label so segmentation skips it too. */
    int lx0 = label.x0 + win.x0, ly0 = label.y0 + win.y0;
    int lx1 = label.x1 + win.x0, ly1 = label.y1 + win.y0;
    int bx1 = out->box_x + out->box_w, by1 = out->box_y + out->box_h;
    if (lx0 < out->box_x) out->box_x = lx0;
    if (ly0 < out->box_y) out->box_y = ly0;
    out->box_w = (lx1 > bx1 ? lx1 : bx1) - out->box_x;
    out->box_h = (ly1 > by1 ? ly1 : by1) - out->box_y;
  }
  window_free(&win);
  free(boxes);
  snprintf(why_out, why_size, "%s", why);
  *label_out = label;
  return why[0] ? 0 : 1;
}

/* The label is looked for with the ink at half the bar's contrast; when
** that does not read, once more at STRICT_INK_COVERAGE and then at
** STRICTEST_INK_COVERAGE: a label drawn at the bar's own level on film whose
** texture reaches past half of it (dark grains beside a black label) comes
** apart from the texture there, and every check after it is the same. A
** number read at any earlier level on the same text must agree. The first
** attempt's reason is kept. */
static nm_status read_label(const float *px, int width, int height, nm_scalebar *out,
                            const bar_levels *levels, const bar_candidate *others,
                            int n_others, nm_error *err) {
  double length = out->bar_length_px;
  static const float ink_levels[] = {INK_COVERAGE, STRICT_INK_COVERAGE, STRICTEST_INK_COVERAGE};
  enum { LEVELS = sizeof ink_levels / sizeof ink_levels[0] };
  char why[160] = "", later[160];
  int got = 0;
  reading_log *logs = calloc(LEVELS, sizeof *logs);
  if (!logs) return nm_fail(err, NM_ERR_NOMEM, "scale bar: out of memory");
  box label;
  for (size_t k = 0; k < LEVELS && got == 0; k++) {
    got = read_label_at(px, width, height, out, levels, others, n_others, ink_levels[k],
                        &logs[k], &label, k ? later : why, k ? sizeof later : sizeof why);
    if (got < 0) {
      free(logs);
      return nm_fail(err, NM_ERR_NOMEM, "scale bar: out of memory");
    }
    /* A number read at an earlier level on the same text refuses another. */
    for (size_t m = 0; m < k; m++)
    for (int j = 0; got == 1 && j < logs[m].n; j++) {
      const box *b = &logs[m].line[j];
      int ix = (b->x1 < label.x1 ? b->x1 : label.x1) - (b->x0 > label.x0 ? b->x0 : label.x0);
      int iy = (b->y1 < label.y1 ? b->y1 : label.y1) - (b->y0 > label.y0 ? b->y0 : label.y0);
      long inter = ix > 0 && iy > 0 ? (long)ix * iy : 0;
      long small = (long)(label.x1 - label.x0) * (label.y1 - label.y0);
      long other = (long)(b->x1 - b->x0) * (b->y1 - b->y0);
      if (other < small) small = other;
      if (2 * inter <= small) continue;
      double nm = out->value * nm_unit_to_nm(out->unit);
      /* ... except a number only seen (its label failed) that is the
      ** start of this one, cut off by texture: '1' of '100 nm'. */
      char seen_s[32], read_s[32];
      snprintf(seen_s, sizeof seen_s, "%g", logs[m].number[j]);
      snprintf(read_s, sizeof read_s, "%g", out->value);
      size_t sl = strlen(seen_s);
      if (isnan(logs[m].nm[j]) && sl < strlen(read_s) && !strncmp(seen_s, read_s, sl) &&
          read_s[sl] >= '0' && read_s[sl] <= '9')
        continue;
      if (fabs(logs[m].number[j] - out->value) > 1e-9 * out->value ||
          (isfinite(logs[m].nm[j]) && fabs(logs[m].nm[j] - nm) > 1e-9 * nm)) {
        snprintf(why, sizeof why, "scale bar label readings disagree (%g %s, number read %g)",
                 out->value, out->unit, logs[m].number[j]);
        TRACE("    refused: %s\n", why);
        got = 0;
        k = LEVELS; /* no further level */
      }
    }
  }
  free(logs);
  if (got == 0) {
    out->value = NAN;
    return give_up(out, why);
  }
  micro_read_as_p(out->value, out->unit, length);
  double nm = out->value * nm_unit_to_nm(out->unit) / length;
  if (!(nm >= PLAUSIBLE_MIN_NM_PER_PX && nm <= PLAUSIBLE_MAX_NM_PER_PX)) {
    char msg[160];
    snprintf(msg, sizeof msg, "scale bar reads %g %s over %.1f px = %g nm/px, not a TEM pixel size",
             out->value, out->unit, length, nm);
    return give_up(out, msg);
  }
  out->nm_per_px = nm;
  out->reason[0] = 0;
  return NM_OK;
}
