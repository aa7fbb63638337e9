/*
** scalebar_cases.h — runs the scale-bar reader over generated cases
** (tests/unit/scalebar_synth.h) drawn on the micrographs of ../shared/data,
** and counts correct (within 1 %), NULL and wrong answers. Shared by the unit
** test (a subset) and `make eval-scalebar` (the full set).
*/
#ifndef NM_TOOLS_SCALEBAR_CASES_H
#define NM_TOOLS_SCALEBAR_CASES_H

#include <glob.h>

#include "../ext/image.h"
#include "../ext/scalebar.h"
#include "../tests/unit/scalebar_synth.h"
#include "png_file.h"

typedef struct scalebar_score {
  int cases, correct, abstained, wrong_1_2, wrong_over_2;
  int by_style[4][2];  /* [style][0 = cases, 1 = correct] */
  int by_jpeg[2][2];   /* [0 none, 1 jpeg][cases, correct] */
} scalebar_score;

/* The real burned-in bars of ../shared/data/nanoshapes whose label and
** length in px the data set's README states. */
static const struct {
  const char *file;
  double nm, px;
} scalebar_real_bars[] = {
    {"Cu-s11_0009.png", 200, 371}, {"Picture_0.png", 200, 371}, {"Cu-s-16_0004.png", 200, 221},
    {"LZCu52_0022.png", 500, 349}, {"Picture_3.png", 100, 259},
};

/* Base micrographs for the cases: every PNG under ../shared/data/<set>/images. */
static int scalebar_bases(glob_t *g) {
  return glob("../shared/data/[!n]*/images/*.png", 0, NULL, g) == 0 ? (int)g->gl_pathc : 0;
}

/* Writes the part of the drawn case around its bar (and label) as a PNG,
** for looking at a failure. */
static inline void scalebar_dump(const float *px, int w, int h, const synth_case *c, const char *path) {
  int side = w < h ? w : h;
  int m = (int)(0.12 * side);
  int x0 = c->bar_x - m, x1 = c->bar_x + c->bar_w + m, y0 = c->bar_y - m, y1 = c->bar_y + c->bar_h + m;
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > w) x1 = w;
  if (y1 > h) y1 = h;
  /* Scaled up 3x (nearest) so single pixels show when the crop is viewed. */
  enum { ZOOM = 3 };
  int cw = (x1 - x0) * ZOOM, ch = (y1 - y0) * ZOOM;
  unsigned char *crop = malloc((size_t)cw * ch);
  if (!crop) return;
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++) {
      float v = px[(size_t)(y / ZOOM + y0) * w + x / ZOOM + x0];
      crop[(size_t)y * cw + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
    }
  png_file_write(path, crop, cw, ch, 1);
  free(crop);
}

/* verbose: 0 silent, 1 print failures, 2 print every case. only >= 0 runs
** that one case and, with dump_dir, writes its crop there. */
static int scalebar_run_only(int n_cases, uint64_t seed, int verbose, int only,
                             const char *dump_dir, scalebar_score *score);
static inline int scalebar_run(int n_cases, uint64_t seed, int verbose, scalebar_score *score) {
  return scalebar_run_only(n_cases, seed, verbose, -1, NULL, score);
}
static int scalebar_run_only(int n_cases, uint64_t seed, int verbose, int only,
                             const char *dump_dir, scalebar_score *score) {
  memset(score, 0, sizeof *score);
  glob_t g;
  int n_files = scalebar_bases(&g);
  if (n_files == 0) return -1;
  for (int i = 0; i < n_cases; i++) {
    if (only >= 0 && i != only) continue;
    const char *path = g.gl_pathv[(size_t)((uint64_t)i * 7919u % (uint64_t)n_files)];
    nm_image img;
    nm_error err;
    if (nm_image_read_file(path, NULL, &img, &err) != NM_OK) continue;
    float *drawn = malloc(sizeof(float) * (size_t)img.width * img.height);
    synth_case c;
    if (!drawn || synth_draw(img.px, img.width, img.height, seed, i, &c, drawn) != 0) {
      free(drawn);
      nm_image_free(&img);
      continue;
    }
    if (dump_dir) {
      char out[512];
      snprintf(out, sizeof out, "%s/sb-%llu-%d.png", dump_dir, (unsigned long long)seed, i);
      scalebar_dump(drawn, img.width, img.height, &c, out);
    }
    nm_scalebar sb;
    nm_status st = nm_scalebar_read(drawn, img.width, img.height, &sb, &err);
    double rel = st == NM_OK && isfinite(sb.nm_per_px)
                     ? fabs(sb.nm_per_px - c.truth_nm_per_px) / c.truth_nm_per_px
                     : NAN;
    score->cases++;
    score->by_style[c.style][0]++;
    score->by_jpeg[c.jpeg_quality != 0][0]++;
    int ok = rel <= 0.01;
    if (ok) {
      score->correct++;
      score->by_style[c.style][1]++;
      score->by_jpeg[c.jpeg_quality != 0][1]++;
    } else if (isnan(rel)) {
      score->abstained++;
    } else if (rel <= 0.02) {
      score->wrong_1_2++;
    } else {
      score->wrong_over_2++;
    }
    if (verbose >= 2 || (verbose && !ok))
      printf("case %3d %-28s '%s' %-22s style %d corner %d q%-3d bar %.1f px: %s%.5g (truth %.5g, bar "
             "read %.2f) %s\n",
             i, strrchr(path, '/') + 1, c.label, c.font, c.style, c.corner, c.jpeg_quality,
             c.bar_px, ok ? "ok " : "", sb.nm_per_px, c.truth_nm_per_px, sb.bar_length_px,
             isnan(rel) ? sb.reason : "");
    free(drawn);
    nm_image_free(&img);
  }
  globfree(&g);
  return 0;
}

#endif /* NM_TOOLS_SCALEBAR_CASES_H */
