/*
** eval_scalebar — `make eval-scalebar`: the scale-bar reader on generated
** cases (default 240, seed 1) and on the real burned-in bars of
** ../shared/data/nanoshapes whose values its README states.
**   usage: eval_scalebar [cases [seed [verbose [only-case [dump-dir]]]]]
** The trace build (eval_scalebar_trace, ext/scalebar.c with
** -DNM_SCALEBAR_TRACE) also prints every strip, line and reading tried.
*/
#include <stdio.h>
#include <stdlib.h>

#include "scalebar_cases.h"

int main(int argc, char **argv) {
  int cases = argc > 1 ? atoi(argv[1]) : 240;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
  int verbose = argc > 3 ? atoi(argv[3]) : 1;
  int only = argc > 4 ? atoi(argv[4]) : -1;
  const char *dump_dir = argc > 5 ? argv[5] : NULL;
  scalebar_score s;
  if (scalebar_run_only(cases, seed, verbose, only, dump_dir, &s) != 0) {
    printf("eval-scalebar: skipped (../shared/data not present)\n");
    return 0;
  }
  printf("\nscale-bar reading, %d generated cases (seed %llu)\n", s.cases, (unsigned long long)seed);
  printf("| outcome | cases | share |\n| --- | --- | --- |\n");
  printf("| within 1 %% | %d | %.1f %% |\n", s.correct, 100.0 * s.correct / s.cases);
  printf("| NULL (not certain) | %d | %.1f %% |\n", s.abstained, 100.0 * s.abstained / s.cases);
  printf("| wrong by 1-2 %% | %d | %.1f %% |\n", s.wrong_1_2, 100.0 * s.wrong_1_2 / s.cases);
  printf("| wrong by > 2 %% | %d | %.1f %% |\n", s.wrong_over_2, 100.0 * s.wrong_over_2 / s.cases);
  static const char *styles[] = {"dark on image", "bright on image", "white in black box",
                                 "black in white box"};
  for (int i = 0; i < 4; i++)
    printf("  %-20s %d/%d\n", styles[i], s.by_style[i][1], s.by_style[i][0]);
  printf("  %-20s %d/%d\n  %-20s %d/%d\n", "lossless", s.by_jpeg[0][1], s.by_jpeg[0][0],
         "JPEG q40-95", s.by_jpeg[1][1], s.by_jpeg[1][0]);

  if (only >= 0) return 0;
  printf("\nreal burned-in bars (nanoshapes, values from its README)\n");
  printf("| image | label | README px | read nm/px | README nm/px | note |\n| --- | --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i < sizeof scalebar_real_bars / sizeof scalebar_real_bars[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "../shared/data/nanoshapes/images/%s", scalebar_real_bars[i].file);
    nm_image img;
    nm_error err;
    if (nm_image_read_file(path, NULL, &img, &err) != NM_OK) continue;
    nm_scalebar sb;
    nm_scalebar_read(img.px, img.width, img.height, &sb, &err);
    printf("| %s | %g nm | %g | %.4f | %.4f | %s%s |\n", scalebar_real_bars[i].file, scalebar_real_bars[i].nm,
           scalebar_real_bars[i].px, sb.nm_per_px, scalebar_real_bars[i].nm / scalebar_real_bars[i].px,
           isnan(sb.nm_per_px) ? sb.reason : "", isnan(sb.nm_per_px) ? "" : "");
    if (!isnan(sb.nm_per_px)) printf("|   | bar measured %.2f px |  |  |  |  |\n", sb.bar_length_px);
    nm_image_free(&img);
  }
  return 0;
}
