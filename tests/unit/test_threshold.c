/* test_threshold.c — Otsu on bimodal histograms and images, local threshold. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/filter.h"
#include "../../ext/threshold.h"
#include "check.h"

int main(void) {
  /* two equal Gaussians at bins 60 and 180: the threshold is midway */
  {
    double hist[256];
    for (int i = 0; i < 256; i++)
      hist[i] = exp(-0.5 * (i - 60) * (i - 60) / 100.0) + exp(-0.5 * (i - 180) * (i - 180) / 100.0);
    CHECK_NEAR(nm_otsu_hist(hist, 256), 120, 1);
    /* two spikes: any cut between them separates; the middle is chosen */
    memset(hist, 0, sizeof hist);
    hist[20] = 100;
    hist[200] = 300;
    int t = nm_otsu_hist(hist, 256);
    CHECK(t >= 20 && t < 200);
    CHECK_NEAR(t, 110, 1);
    /* one occupied bin: no threshold */
    memset(hist, 0, sizeof hist);
    hist[5] = 10;
    CHECK(nm_otsu_hist(hist, 256) == -1);
  }
  /* image: 30 % at 0.2, 70 % at 0.8 -> threshold between, splits exactly */
  {
    float px[1000];
    for (int i = 0; i < 1000; i++) px[i] = i < 300 ? 0.2f : 0.8f;
    double t = nm_otsu(px, 1000, NULL);
    CHECK(t > 0.2 && t < 0.8);
    int above = 0;
    for (int i = 0; i < 1000; i++) above += px[i] > t;
    CHECK(above == 700);
    /* a mask selecting only one level: no threshold */
    uint8_t m[1000];
    for (int i = 0; i < 1000; i++) m[i] = i < 300;
    CHECK(isnan(nm_otsu(px, 1000, m)));
  }
  /* local threshold under a steep illumination ramp: a dark spot on each side
  ** is found, which no global threshold could do */
  {
    int w = 120, h = 40;
    float *px = malloc(sizeof(float) * w * h);
    float *tmp = malloc(sizeof(float) * nm_filter_tmp_size(w, h));
    uint8_t *out = malloc((size_t)w * h);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        float v = x / (float)w; /* ramp 0..1 */
        if ((x - 20) * (x - 20) + (y - 20) * (y - 20) < 16) v += 0.3f;
        if ((x - 100) * (x - 100) + (y - 20) * (y - 20) < 16) v += 0.3f;
        px[y * w + x] = v;
      }
    nm_threshold_local(px, w, h, 10, 0.1f, out, tmp);
    CHECK(out[20 * w + 20] == 1);
    CHECK(out[20 * w + 100] == 1);
    CHECK(out[5 * w + 60] == 0);
    free(px);
    free(tmp);
    free(out);
  }
  {
    /* class contrast: 30 pixels at 10 and 70 at 30 split at 20 differ by
    ** exactly 20; with every value on one side there is no contrast */
    float px[100];
    for (int i = 0; i < 100; i++) px[i] = i < 30 ? 10.0f : 30.0f;
    CHECK(fabs(nm_class_contrast(px, 100, 20.0) - 20.0) < 1e-12);
    CHECK(fabs(nm_class_contrast(px, 100, nm_otsu(px, 100, NULL)) - 20.0) < 1e-12);
    CHECK(nm_class_contrast(px, 100, 40.0) == 0.0);
  }
  return check_summary("test_threshold");
}
