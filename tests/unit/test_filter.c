/* test_filter.c — percentile stretch, Gaussian (exact and box-approximated)
** against its moments, min/max filters against brute force, opening. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/filter.h"
#include "../../ext/parallel.h"
#include "check.h"

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int main(void) {
  /* stretch: a ramp 0..999 maps its 1st/99th percentiles to 0 and 1 */
  {
    float in[1000], out[1000];
    for (int i = 0; i < 1000; i++) in[i] = (float)i;
    CHECK(nm_stretch(in, out, 1000, 1, 99) == 1);
    CHECK_NEAR(out[10], 0.0, 0.01);
    CHECK_NEAR(out[500], 0.5, 0.01);
    CHECK_NEAR(out[989], 1.0, 0.01);
    CHECK(out[0] == 0 && out[999] == 1);
    float flat[10] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    CHECK(nm_stretch(flat, out, 10, 1, 99) == 0);
  }
  /* Gaussian of an impulse: unit mass and variance sigma^2 in x, for an
  ** exact-kernel sigma and for a three-box sigma */
  {
    int w = 101, h = 101;
    float *in = calloc((size_t)w * h, sizeof(float)), *out = malloc(sizeof(float) * w * h);
    float *tmp = malloc(sizeof(float) * nm_filter_tmp_size(w, h));
    double sigmas[2] = {1.3, 6.0};
    for (int k = 0; k < 2; k++) {
      memset(in, 0, sizeof(float) * w * h);
      in[50 * w + 50] = 1;
      nm_gauss(in, out, w, h, sigmas[k], tmp);
      double m = 0, vx = 0, vy = 0;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          double v = out[y * w + x];
          m += v;
          vx += v * (x - 50) * (x - 50);
          vy += v * (y - 50) * (y - 50);
        }
      CHECK_NEAR(m, 1.0, 1e-4);
      /* three boxes of odd widths match sigma^2 to within ~6 % */
      CHECK_NEAR(vx, sigmas[k] * sigmas[k], 0.08 * sigmas[k] * sigmas[k]);
      CHECK_NEAR(vy, sigmas[k] * sigmas[k], 0.08 * sigmas[k] * sigmas[k]);
      CHECK(out[50 * w + 50] > out[50 * w + 53]); /* peaked at the impulse */
    }
    /* min/max against brute force with replicated borders */
    unsigned s = 7;
    for (int i = 0; i < w * h; i++) {
      s = s * 1103515245u + 12345u;
      in[i] = (float)((s >> 9) % 1000);
    }
    int r = 4, bad = 0;
    nm_minmax(in, out, w, h, r, 1, tmp);
    for (int y = 0; y < h; y += 7)
      for (int x = 0; x < w; x += 5) {
        float m = -1;
        for (int dy = -r; dy <= r; dy++)
          for (int dx = -r; dx <= r; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
            int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
            if (in[yy * w + xx] > m) m = in[yy * w + xx];
          }
        bad += out[y * w + x] != m;
      }
    CHECK(bad == 0);
    /* opening removes a bright square narrower than the window, keeps a wider one */
    memset(in, 0, sizeof(float) * w * h);
    for (int y = 10; y < 15; y++)
      for (int x = 10; x < 15; x++) in[y * w + x] = 1; /* 5 px */
    for (int y = 40; y < 70; y++)
      for (int x = 40; x < 70; x++) in[y * w + x] = 1; /* 30 px */
    nm_open(in, out, w, h, 4, tmp);                     /* 9 px window */
    CHECK(out[12 * w + 12] == 0);
    CHECK(out[55 * w + 55] == 1);
    CHECK(out[40 * w + 40] == 1);
    /* box mean of a constant is the constant */
    for (int i = 0; i < w * h; i++) in[i] = 2.5f;
    nm_box_mean(in, out, w, h, 7, tmp);
    CHECK_NEAR(out[0], 2.5, 1e-5);
    CHECK_NEAR(out[50 * w + 50], 2.5, 1e-5);
    free(in);
    free(out);
    free(tmp);
  }
  /* median removes salt noise */
  {
    int w = 20, h = 20;
    float in[400], out[400];
    for (int i = 0; i < 400; i++) in[i] = 0.5f;
    in[10 * w + 10] = 1.0f;
    nm_median(in, out, w, h, 1);
    CHECK_NEAR(out[10 * w + 10], 0.5, 1.0 / 256);
  }
  /* down/upsampling round trip of a smooth ramp */
  {
    int w = 40, h = 30;
    float in[1200], small[300], back[1200];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) in[y * w + x] = (float)(x + y);
    nm_downsample(in, w, h, 2, small);
    CHECK_NEAR(small[0], 1.0, 1e-5);
    nm_upsample(small, 20, 15, 2, back, w, h);
    CHECK_NEAR(back[15 * w + 20], 35.0, 0.01);
  }
  /* selection: the k-th value of a sorted copy, for random values, runs of
  ** ties, sorted and reversed input, and every k of small arrays; the
  ** values end partitioned around k */
  {
    enum { N = 3001 };
    static float v[N], srt[N];
    unsigned s = 11;
    int bad = 0, badpart = 0;
    for (int kind = 0; kind < 5; kind++)
      for (int n = 1; n <= N; n = n < 40 ? n + 1 : n * 3 + 1) {
        for (int i = 0; i < n; i++) {
          s = s * 1103515245u + 12345u;
          float r = (float)((s >> 9) % 100000) / 1000.0f;
          v[i] = kind == 0 ? r : kind == 1 ? (float)((s >> 9) % 3) : kind == 2 ? (float)i
               : kind == 3 ? (float)(n - i) : 5.0f;
        }
        memcpy(srt, v, sizeof(float) * (size_t)n);
        qsort(srt, (size_t)n, sizeof(float), cmp_f);
        size_t ks[3] = {0, (size_t)n / 2, (size_t)n - 1};
        for (int j = 0; j < 3; j++) {
          static float c[N];
          memcpy(c, v, sizeof(float) * (size_t)n);
          size_t k = ks[j];
          float got = nm_select_kth(c, (size_t)n, k);
          bad += got != srt[k] || c[k] != got;
          for (int i = 0; i < n; i++) badpart += (i < (int)k && c[i] > got) || (i > (int)k && c[i] < got);
        }
      }
    CHECK(bad == 0);
    CHECK(badpart == 0);
  }
  /* one thread (the passes streamed through row rings) and two (pass by
  ** pass over slices) give the same bytes, in place or not */
  {
    int w = 403, h = 377; /* over parallel.c's minimum work, h not a multiple of 4 */
    size_t n = (size_t)w * h;
    float *in = malloc(sizeof(float) * n), *a = malloc(sizeof(float) * n);
    float *b = malloc(sizeof(float) * n), *tmp = malloc(sizeof(float) * nm_filter_tmp_size(w, h));
    unsigned s = 3;
    for (size_t i = 0; i < n; i++) {
      s = s * 1103515245u + 12345u;
      in[i] = (float)((s >> 8) & 0xffff) / 65536.0f;
    }
    double sig[5] = {0.7, 1.0, 1.9, 5.0, 40.0};
    int diff = 0;
    for (int k = 0; k < 6; k++) {
      for (int inplace = 0; inplace < 2; inplace++) {
        float *res[2] = {a, b};
        for (int t = 0; t < 2; t++) {
          nm_threads_set(t + 1);
          float *src = in;
          if (inplace) {
            memcpy(res[t], in, sizeof(float) * n);
            src = res[t];
          }
          if (k < 5) nm_gauss(src, res[t], w, h, sig[k], tmp);
          else nm_box_mean(src, res[t], w, h, 9, tmp);
        }
        diff += memcmp(a, b, sizeof(float) * n) != 0;
      }
    }
    nm_threads_set(0);
    CHECK(diff == 0);
    free(in);
    free(a);
    free(b);
    free(tmp);
  }
  return check_summary("test_filter");
}
