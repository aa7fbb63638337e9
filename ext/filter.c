/*
** filter.c — separable image passes. Every 2-D filter here is two 1-D passes:
** rows (through a padded line buffer) into the caller's scratch image, then
** columns from there into the output, computed a whole row at a time so
** every pass runs at unit stride without transposing, and nothing is
** allocated per call. Each output value goes through the same float
** operations in the same order as a plain per-pixel loop would. On one
** thread the Gaussian and the box mean run their passes row by row through
** small row rings instead (box_stream, kern_stream: the image crosses
** memory once, not twice per pass), with the same operations per value, so
** the bytes do not depend on the thread count.
*/
#include "filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The column passes are element-wise over whole rows: let GCC vectorise them
** (at -O2 it only does so when no runtime alias check is needed). Vector
** lanes do the same IEEE operations as the scalar code, and no reduction is
** reordered, so the results are bit-identical. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

/* The whole-row loops below also get an AVX2 clone, picked at load time
** when the processor has it (GCC's function multi-versioning, through an
** ifunc): twice the lanes, the same IEEE operations per lane (AVX2 alone
** has no fused multiply-add, and ISO C mode does not contract a*b+c), so
** the same bytes out. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NM_CLONES
#endif

#if defined(__GNUC__)
/* Eight floats as one value (GCC/Clang vector extension): two SSE
** registers by default, one in the AVX2 clones; lane-wise IEEE operations. */
typedef float v8f __attribute__((vector_size(32)));
#define LD8(v, p) memcpy(&(v), (p), sizeof(v8f))
#define ST8(p, v) memcpy((p), &(v), sizeof(v8f))
#endif

/* Copies n floats. Not memcpy: for the row-sized copies into the padded
** line buffers (a few KiB, the destination offset by the padding) glibc
** picks `rep movsb`, which on the AMD machine measured ran at a fraction of
** the speed of plain vector moves (54 % of an exact-kernel Gaussian's time
** went into it). GCC would turn the loop back into memcpy without the
** attribute. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void copy_floats(float *d, const float *s, size_t n) {
  size_t i = 0;
#if defined(__GNUC__)
  for (; i + 8 <= n; i += 8) {
    v8f t;
    LD8(t, s + i);
    ST8(d + i, t);
  }
#endif
  for (; i < n; i++) d[i] = s[i];
}

/* row (w samples) into dst with r copies of its end samples on each side:
** the padded line every row pass reads (borders replicate). */
static void pad_row(float *dst, const float *row, int w, int r) {
  for (int i = 0; i < r; i++) dst[i] = row[0];
  copy_floats(dst + r, row, (size_t)w);
  for (int i = 0; i < r; i++) dst[r + w + i] = row[w - 1];
}

#define HIST_BINS 4096

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }
static int q8(float v) {
  int q = (int)(v * 256.0f);
  return q < 0 ? 0 : q > 255 ? 255 : q;
}

size_t nm_filter_tmp_size(int w, int h) {
  size_t m = (size_t)imax(w, h);
  return 2 * (size_t)w * (size_t)h + 12 * m + 64;
}

void nm_range(const float *px, size_t n, float *lo_out, float *hi_out) {
  float lo = INFINITY, hi = -INFINITY;
  size_t i = 0;
#if defined(__SSE2__)
  /* minps(v, m) is v < m ? v : m lane by lane, the scalar comparison below
  ** (a NaN v loses): each lane's extreme is exact; two pairs of lanes hide
  ** the instruction latency */
  if (n >= 8) {
    __m128 l0 = _mm_set1_ps(INFINITY), l1 = l0, h0 = _mm_set1_ps(-INFINITY), h1 = h0;
    for (; i + 8 <= n; i += 8) {
      __m128 a = _mm_loadu_ps(px + i), b = _mm_loadu_ps(px + i + 4);
      l0 = _mm_min_ps(a, l0);
      h0 = _mm_max_ps(a, h0);
      l1 = _mm_min_ps(b, l1);
      h1 = _mm_max_ps(b, h1);
    }
    float L[8], Hh[8];
    _mm_storeu_ps(L, l0);
    _mm_storeu_ps(L + 4, l1);
    _mm_storeu_ps(Hh, h0);
    _mm_storeu_ps(Hh + 4, h1);
    for (int k = 0; k < 8; k++) {
      if (L[k] < lo) lo = L[k];
      if (Hh[k] > hi) hi = Hh[k];
    }
  }
#endif
  for (; i < n; i++) {
    float v = px[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  *lo_out = lo;
  *hi_out = hi;
}

/* nm_percentile's passes over slices of the pixels (parallel.h): range,
** then two interleaved integer counters per bin per slice (a run of equal
** pixels does not wait on one memory increment per pixel). Extrema and
** counts are exact: the merged result does not depend on the slicing. */
typedef struct pct_job {
  const float *px;
  int n;
  float lo, slo[64], shi[64];
  double sc;
  uint32_t *h2; /* 2 * HIST_BINS per slice */
  size_t cnt[64];
} pct_job;

static void pct_range(void *arg, int t, int nt) {
  pct_job *J = arg;
  int i0, i1;
  nm_slice(J->n, t, nt, 64, &i0, &i1);
  /* the values are exact; the sign of a zero extreme only matters when the
  ** image is flat, and then nm_percentile rescans */
  nm_range(J->px + i0, (size_t)(i1 - i0), &J->slo[t], &J->shi[t]);
}

static void pct_hist(void *arg, int t, int nt) {
  pct_job *J = arg;
  int i0, i1;
  nm_slice(J->n, t, nt, 64, &i0, &i1);
  uint32_t *h0 = J->h2 + (size_t)t * 2 * HIST_BINS, *h1 = h0 + HIST_BINS;
  const float *px = J->px;
  float lo = J->lo;
  double sc = J->sc;
  size_t cnt = 0;
  int i = i0;
  for (; i + 2 <= i1; i += 2) {
    float v0 = px[i], v1 = px[i + 1];
    if (v0 == v0) h0[(int)((v0 - lo) * sc)]++, cnt++;
    if (v1 == v1) h1[(int)((v1 - lo) * sc)]++, cnt++;
  }
  for (; i < i1; i++) {
    float v = px[i];
    if (v == v) h0[(int)((v - lo) * sc)]++, cnt++;
  }
  J->cnt[t] = cnt;
}

/* nm_percentile for k percentiles of the same pixels (k <= 2), one range
** and one histogram for all of them: out[i] is nm_percentile(px, n,
** pct[i]), the same value. */
static void percentiles(const float *px, size_t n, const double *pct, int k, float *out) {
  static const int nb = HIST_BINS;
  int nt = n <= (size_t)INT32_MAX ? nm_threads_for(n) : 1;
  if (nt > 64) nt = 64;
  uint32_t *h2 = NULL;
  if (n <= (size_t)INT32_MAX) {
    h2 = calloc((size_t)nt * 2 * HIST_BINS, sizeof(uint32_t));
    if (!h2 && nt > 1) {
      nt = 1;
      h2 = calloc(2 * HIST_BINS, sizeof(uint32_t));
    }
  }
  float lo = INFINITY, hi = -INFINITY;
  pct_job J;
  if (h2) {
    J.px = px;
    J.n = (int)n;
    J.h2 = h2;
    nm_parallel(nt, pct_range, &J);
    for (int t = 0; t < nt; t++) {
      if (J.slo[t] < lo) lo = J.slo[t];
      if (J.shi[t] > hi) hi = J.shi[t];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float v = px[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!(hi > lo)) {
    free(h2);
    /* flat: the first smallest value, as a plain scan finds it */
    lo = INFINITY;
    for (size_t i = 0; i < n; i++)
      if (px[i] < lo) lo = px[i];
    for (int q = 0; q < k; q++) out[q] = isfinite(lo) ? lo : 0.0f;
    return;
  }
  size_t hist[HIST_BINS];
  memset(hist, 0, sizeof hist);
  double sc = (nb - 1) / ((double)hi - lo);
  size_t cnt = 0;
  if (h2) {
    J.lo = lo;
    J.sc = sc;
    nm_parallel(nt, pct_hist, &J);
    for (int t = 0; t < nt; t++) {
      const uint32_t *s = h2 + (size_t)t * 2 * HIST_BINS;
      for (int b = 0; b < nb; b++) hist[b] += (size_t)s[b] + s[HIST_BINS + b];
      cnt += J.cnt[t];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float v = px[i];
      if (v != v) continue;
      hist[(int)((v - lo) * sc)]++;
      cnt++;
    }
  }
  free(h2);
  for (int q = 0; q < k; q++) {
    double target = pct[q] / 100.0 * (double)cnt;
    size_t acc = 0;
    int found = 0;
    for (int b = 0; b < nb && !found; b++) {
      acc += hist[b];
      if ((double)acc >= target) {
        out[q] = (float)(lo + (b + 0.5) / sc);
        found = 1;
      }
    }
    if (found) continue;
    /* (pct over 100) the first largest value, as a plain scan finds it */
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
      if (px[i] > mx) mx = px[i];
    out[q] = mx;
  }
}

float nm_percentile(const float *px, size_t n, double pct) {
  float v;
  percentiles(px, n, &pct, 1, &v);
  return v;
}

int nm_stretch(const float *in, float *out, size_t n, double lo_pct, double hi_pct) {
  double pc[2] = {lo_pct, hi_pct};
  float v[2];
  percentiles(in, n, pc, 2, v);
  float lo = v[0], hi = v[1];
  if (!(hi > lo)) {
    /* percentiles can coincide on a sparse image: fall back to min/max */
    pc[0] = 0, pc[1] = 100;
    percentiles(in, n, pc, 2, v);
    lo = v[0], hi = v[1];
  }
  if (!(hi > lo)) {
    for (size_t i = 0; i < n; i++) out[i] = 0;
    return 0;
  }
  float sc = 1.0f / (hi - lo);
  for (size_t i = 0; i < n; i++) {
    float v = (in[i] - lo) * sc;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v != v ? 0 : v;
  }
  return 1;
}

/* ---- 1-D line kernels: src has r replicated pixels of padding each side ---- */

/* scr: scratch of 2 * (n + 2r) + 2 floats */
typedef void (*line_fn)(const float *src, float *dst, int n, int r, void *arg, float *scr);

/* Runs fn over every row of in into out (in != out), through a padded line
** buffer. Line buffers come from lb (9 * max(w,h) + 4 floats for r <=
** max(w,h)). */
static void rows_pass(const float *in, float *out, int w, int h, int r, line_fn fn, void *arg,
                      float *lb) {
  int m = imax(w, h);
  float *src = lb, *scr = lb + (m + 2 * r + 2);
  for (int y = 0; y < h; y++) {
    pad_row(src, in + (size_t)y * w, w, r);
    fn(src, out + (size_t)y * w, w, r, arg, scr);
  }
}

static void line_box(const float *src, float *dst, int n, int r, void *arg, float *scr) {
  (void)arg;
  (void)scr;
  double s = 0;
  int k = 2 * r + 1;
  for (int i = 0; i < k; i++) s += src[i];
  float inv = 1.0f / (float)k;
  for (int i = 0; i < n; i++) {
    dst[i] = (float)s * inv;
    if (i + 1 < n) s += src[i + k] - src[i];
  }
}

/* Box mean of radius r along columns into dst (w x h), row by row with one
** running sum per column: unit stride, no transpose. Borders replicate.
** acc: w doubles (taken from the line buffers). src != dst. */
NM_CLONES static void box_cols(const float *src, float *dst, int w, int h, int r, int x0, int x1,
                     double *acc) {
  float inv = 1.0f / (float)(2 * r + 1);
  int nx = x1 - x0;
  src += x0;
  dst += x0;
  for (int x = 0; x < nx; x++) acc[x] = 0;
  for (int j = -r; j <= r; j++) {
    const float *row = src + (size_t)imin(imax(j, 0), h - 1) * w;
    for (int x = 0; x < nx; x++) acc[x] += row[x];
  }
  for (int y = 0; y < h; y++) {
    float *o = dst + (size_t)y * w;
    for (int x = 0; x < nx; x++) o[x] = (float)acc[x] * inv;
    if (y + 1 < h) {
      const float *add = src + (size_t)imin(y + r + 1, h - 1) * w;
      const float *sub = src + (size_t)imax(y - r, 0) * w;
      for (int x = 0; x < nx; x++) acc[x] += add[x] - sub[x];
    }
  }
}

#if defined(__SSE2__)
/* Four rows at once with the rows in the lanes of a vector: the rows are
** transposed into S (sample i of row j at S[4i + j], replicated past the
** ends), the running sums run as two vectors of two doubles, and the
** outputs, written over S behind the reads, are transposed back. Per row
** the operations are those of line_box: float differences converted to
** double and added in order, the sum rounded to float times 1/k. S: 4 (w +
** 2r) floats. */
static void box_rows4_sse2(const float *in, float *out, int w, int r, int y, float *S) {
  int k = 2 * r + 1;
  const float *R0 = in + (size_t)y * w, *R1 = R0 + w, *R2 = R1 + w, *R3 = R2 + w;
  for (int i = 0; i < r; i++) {
    float *s = S + 4 * (size_t)i, *t = S + 4 * (size_t)(r + w + i);
    s[0] = R0[0], s[1] = R1[0], s[2] = R2[0], s[3] = R3[0];
    t[0] = R0[w - 1], t[1] = R1[w - 1], t[2] = R2[w - 1], t[3] = R3[w - 1];
  }
  float *Si = S + 4 * (size_t)r;
  int x = 0;
  for (; x + 4 <= w; x += 4) {
    __m128 a = _mm_loadu_ps(R0 + x), b = _mm_loadu_ps(R1 + x), c = _mm_loadu_ps(R2 + x),
           d = _mm_loadu_ps(R3 + x);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(Si + 4 * (size_t)x, a);
    _mm_storeu_ps(Si + 4 * (size_t)x + 4, b);
    _mm_storeu_ps(Si + 4 * (size_t)x + 8, c);
    _mm_storeu_ps(Si + 4 * (size_t)x + 12, d);
  }
  for (; x < w; x++) {
    float *s = Si + 4 * (size_t)x;
    s[0] = R0[x], s[1] = R1[x], s[2] = R2[x], s[3] = R3[x];
  }
  __m128d lo = _mm_setzero_pd(), hi = _mm_setzero_pd();
  for (int i = 0; i < k; i++) {
    __m128 v = _mm_loadu_ps(S + 4 * (size_t)i);
    lo = _mm_add_pd(lo, _mm_cvtps_pd(v));
    hi = _mm_add_pd(hi, _mm_cvtps_pd(_mm_movehl_ps(v, v)));
  }
  __m128 inv = _mm_set1_ps(1.0f / (float)k);
  for (int i = 0; i < w; i++) {
    __m128 o = _mm_mul_ps(_mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)), inv);
    if (i + 1 < w) {
      __m128 dv = _mm_sub_ps(_mm_loadu_ps(S + 4 * (size_t)(i + k)), _mm_loadu_ps(S + 4 * (size_t)i));
      lo = _mm_add_pd(lo, _mm_cvtps_pd(dv));
      hi = _mm_add_pd(hi, _mm_cvtps_pd(_mm_movehl_ps(dv, dv)));
    }
    _mm_storeu_ps(S + 4 * (size_t)i, o); /* sample i is not read again */
  }
  float *O0 = out + (size_t)y * w, *O1 = O0 + w, *O2 = O1 + w, *O3 = O2 + w;
  for (x = 0; x + 4 <= w; x += 4) {
    __m128 a = _mm_loadu_ps(S + 4 * (size_t)x), b = _mm_loadu_ps(S + 4 * (size_t)x + 4),
           c = _mm_loadu_ps(S + 4 * (size_t)x + 8), d = _mm_loadu_ps(S + 4 * (size_t)x + 12);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(O0 + x, a);
    _mm_storeu_ps(O1 + x, b);
    _mm_storeu_ps(O2 + x, c);
    _mm_storeu_ps(O3 + x, d);
  }
  for (; x < w; x++) {
    const float *s = S + 4 * (size_t)x;
    O0[x] = s[0], O1[x] = s[1], O2[x] = s[2], O3[x] = s[3];
  }
}
#endif

/* line_box over rows [y0, y1), four at once: four independent running sums
** hide the latency of each one's chain of additions; each row's operations
** are those of line_box. Rows past a multiple of four go through rows_pass.
** lb: 4 (w + 2r) floats (SSE2), else four padded lines (4 (max(w,h) + 2r +
** 2) floats). */
static void box_rows(const float *in, float *out, int w, int h, int r, int y0, int y1,
                     float *lb) {
#if defined(__SSE2__)
  int y = y0;
  for (; y + 4 <= y1; y += 4) box_rows4_sse2(in, out, w, r, y, lb);
  (void)h;
  if (y < y1)
    rows_pass(in + (size_t)y * w, out + (size_t)y * w, w, y1 - y, r, line_box, NULL, lb);
#else
  int m = imax(w, h), k = 2 * r + 1;
  size_t stride = (size_t)m + 2 * (size_t)r + 2;
  float inv = 1.0f / (float)k;
  int y = y0;
  for (; y + 4 <= y1; y += 4) {
    const float *P[4];
    float *D[4];
    double sm[4];
    for (int j = 0; j < 4; j++) {
      float *src = lb + (size_t)j * stride;
      pad_row(src, in + (size_t)(y + j) * w, w, r);
      P[j] = src;
      D[j] = out + (size_t)(y + j) * w;
      sm[j] = 0;
    }
    for (int i = 0; i < k; i++) {
      sm[0] += P[0][i];
      sm[1] += P[1][i];
      sm[2] += P[2][i];
      sm[3] += P[3][i];
    }
    for (int i = 0; i < w; i++) {
      D[0][i] = (float)sm[0] * inv;
      D[1][i] = (float)sm[1] * inv;
      D[2][i] = (float)sm[2] * inv;
      D[3][i] = (float)sm[3] * inv;
      if (i + 1 < w) {
        sm[0] += P[0][i + k] - P[0][i];
        sm[1] += P[1][i + k] - P[1][i];
        sm[2] += P[2][i + k] - P[2][i];
        sm[3] += P[3][i + k] - P[3][i];
      }
    }
  }
  (void)h;
  if (y < y1)
    rows_pass(in + (size_t)y * w, out + (size_t)y * w, w, y1 - y, r, line_box, NULL, lb);
#endif
}

/* o[x] = sum over j = 0..2r of rows[j][x] * kern[j], the taps summed in
** order from 0 (eight outputs at a time in a register): both the row pass
** (rows[j] = the padded line shifted by j) and the column pass of the
** streamed Gaussian (rows[j] = the ring's rows) are this sum. r <= 7. */
NM_CLONES static void kernel_rows_sum(float *o, const float *const *rows, const float *kern,
                                      int r, int w) {
  int x0 = 0;
#if defined(__GNUC__)
  for (; x0 + 8 <= w; x0 += 8) {
    v8f acc = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j <= 2 * r; j++) {
      v8f t;
      LD8(t, rows[j] + x0);
      acc = acc + t * kern[j];
    }
    ST8(o + x0, acc);
  }
#endif
  for (int x = x0; x < w; x++) o[x] = 0.0f;
  for (int j = 0; j <= 2 * r; j++) {
    const float *row = rows[j];
    float kj = kern[j];
    for (int x = x0; x < w; x++) o[x] += row[x] * kj;
  }
}

/* The row pass of the exact kernel: each output sums its taps in order
** j = 0..2r from 0, the same float operations as a per-pixel loop. */
static void line_kernel(const float *src, float *dst, int n, int r, void *arg, float *scr) {
  (void)scr;
  const float *rows[15];
  for (int j = 0; j <= 2 * r; j++) rows[j] = src + j;
  kernel_rows_sum(dst, rows, arg, r, n);
}

/* The same sum along columns (borders replicate), from src into output
** rows [y0, y1) of dst (src != dst). */
static void cols_kernel(const float *src, float *dst, int w, int h, int r, const float *kern,
                        int y0, int y1) {
  const float *rows[15];
  for (int y = y0; y < y1; y++) {
    for (int j = 0; j <= 2 * r; j++) rows[j] = src + (size_t)imin(imax(y - r + j, 0), h - 1) * w;
    kernel_rows_sum(dst + (size_t)y * w, rows, kern, r, w);
  }
}

#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))

/* van Herk / Gil-Werman: block prefix and suffix extrema, 3 comparisons per
** sample whatever the window. Blocks of k = 2r+1 start at padded index 0. */
#define LINE_MINMAX(NAME, OP)                                               \
  static void NAME(const float *src, float *dst, int n, int r, float *scr) { \
    int k = 2 * r + 1, len = n + 2 * r;                                     \
    float *g = scr, *hh = scr + len + 1;                                    \
    for (int i = 0, c = 0; i < len; i++) {                                  \
      g[i] = c == 0 ? src[i] : OP(g[i - 1], src[i]);                        \
      if (++c == k) c = 0;                                                  \
    }                                                                       \
    for (int i = len - 1, c = (len - 1) % k; i >= 0; i--) {                 \
      hh[i] = (i == len - 1 || c == k - 1) ? src[i] : OP(hh[i + 1], src[i]); \
      c = c == 0 ? k - 1 : c - 1;                                           \
    }                                                                       \
    for (int i = 0; i < n; i++) dst[i] = OP(hh[i], g[i + k - 1]);           \
  }
LINE_MINMAX(line_max, VMAX)
LINE_MINMAX(line_min, VMIN)

static void line_minmax(const float *src, float *dst, int n, int r, void *arg, float *scr) {
  if (*(const int *)arg) line_max(src, dst, n, r, scr);
  else line_min(src, dst, n, r, scr);
}

/* Eight rows R[0..8) into the interleaved buffer S (sample i of row j at
** S[8i + j], replicated r past each end), and back: the interleaved values
** H[8x + j] into rows O[j], x < w. Whole 4 x 4 blocks go through SSE
** transposes (a scalar gather and scatter here were most of the min/max
** row pass). Pure data movement. */
static void il8_in(const float *const *R, int w, int r, float *S) {
  for (int i = 0; i < r; i++) {
    float *s = S + (size_t)8 * i, *t = S + (size_t)8 * (r + w + i);
    for (int j = 0; j < 8; j++) s[j] = R[j][0], t[j] = R[j][w - 1];
  }
  float *Si = S + (size_t)8 * r;
  int x = 0;
#if defined(__SSE2__)
  for (; x + 4 <= w; x += 4)
    for (int g = 0; g < 8; g += 4) {
      __m128 a = _mm_loadu_ps(R[g] + x), b = _mm_loadu_ps(R[g + 1] + x),
             c = _mm_loadu_ps(R[g + 2] + x), d = _mm_loadu_ps(R[g + 3] + x);
      _MM_TRANSPOSE4_PS(a, b, c, d);
      _mm_storeu_ps(Si + (size_t)8 * x + g, a);
      _mm_storeu_ps(Si + (size_t)8 * (x + 1) + g, b);
      _mm_storeu_ps(Si + (size_t)8 * (x + 2) + g, c);
      _mm_storeu_ps(Si + (size_t)8 * (x + 3) + g, d);
    }
#endif
  for (; x < w; x++)
    for (int j = 0; j < 8; j++) Si[(size_t)8 * x + j] = R[j][x];
}

static void il8_out(const float *H, int w, float *const *O) {
  int x = 0;
#if defined(__SSE2__)
  for (; x + 4 <= w; x += 4)
    for (int g = 0; g < 8; g += 4) {
      __m128 a = _mm_loadu_ps(H + (size_t)8 * x + g), b = _mm_loadu_ps(H + (size_t)8 * (x + 1) + g),
             c = _mm_loadu_ps(H + (size_t)8 * (x + 2) + g),
             d = _mm_loadu_ps(H + (size_t)8 * (x + 3) + g);
      _MM_TRANSPOSE4_PS(a, b, c, d);
      _mm_storeu_ps(O[g] + x, a);
      _mm_storeu_ps(O[g + 1] + x, b);
      _mm_storeu_ps(O[g + 2] + x, c);
      _mm_storeu_ps(O[g + 3] + x, d);
    }
#endif
  for (; x < w; x++)
    for (int j = 0; j < 8; j++) O[j][x] = H[(size_t)8 * x + j];
}

/* line_minmax over eight rows at once, the rows interleaved (sample i of
** row j at S[8i + j]) so that every step of the recurrences is one vector
** operation over eight independent rows; per row the comparisons are those
** of line_minmax, in the same order. Rows [y0, y1): groups of eight, the
** rest through line_minmax. il: 16 * (w + 2r) floats; lb: a line buffer. */
#define ROWS_MINMAX8(NAME, OP, LINE)                                              \
  NM_CLONES static void NAME(const float *in, float *out, int w, int r, int y0, int y1, float *il, \
                   float *lb) {                                                   \
    int k = 2 * r + 1, len = w + 2 * r;                                           \
    float *S = il, *H = il + (size_t)8 * len;                                     \
    int y = y0;                                                                   \
    for (; y + 8 <= y1; y += 8) {                                                 \
      const float *R[8];                                                          \
      float *O[8];                                                                \
      for (int j = 0; j < 8; j++) R[j] = in + (size_t)(y + j) * w;                \
      for (int j = 0; j < 8; j++) O[j] = out + (size_t)(y + j) * w;               \
      il8_in(R, w, r, S);                                                         \
      for (int i = len - 1, c = (len - 1) % k; i >= 0; i--) {                     \
        float *hd = H + (size_t)8 * i;                                            \
        const float *s = S + (size_t)8 * i;                                       \
        if (i == len - 1 || c == k - 1)                                           \
          for (int j = 0; j < 8; j++) hd[j] = s[j];                               \
        else                                                                      \
          for (int j = 0; j < 8; j++) hd[j] = OP(hd[8 + j], s[j]);                \
        c = c == 0 ? k - 1 : c - 1;                                               \
      }                                                                           \
      float run[8];                                                               \
      for (int t = 0, c = 0; t < len; t++) {                                      \
        const float *s = S + (size_t)8 * t;                                       \
        if (c == 0)                                                               \
          for (int j = 0; j < 8; j++) run[j] = s[j];                              \
        else                                                                      \
          for (int j = 0; j < 8; j++) run[j] = OP(run[j], s[j]);                  \
        if (++c == k) c = 0;                                                      \
        int x = t - (k - 1);                                                      \
        if (x >= 0) { /* the result over H[x], which is not read again */       \
          float *hd = H + (size_t)8 * x;                                          \
          for (int j = 0; j < 8; j++) hd[j] = OP(hd[j], run[j]);                  \
        }                                                                         \
      }                                                                           \
      il8_out(H, w, O);                                                           \
    }                                                                             \
    if (y < y1) {                                                                 \
      rows_pass(in + (size_t)y * w, out + (size_t)y * w, w, y1 - y, r, line_minmax, \
                (void *)&LINE, lb);                                               \
    }                                                                             \
  }
static const int is_max_1 = 1, is_max_0 = 0;
ROWS_MINMAX8(rows_max8, VMAX, is_max_1)
ROWS_MINMAX8(rows_min8, VMIN, is_max_0)

/* The same recurrences down the columns, whole rows at a time, over columns
** [x0, x1): the suffix extrema hh of padded rows 0..h-1 go straight into
** dst, the prefix extrema g run in one row (run: x1 - x0 floats), and
** dst[y] = OP(hh[y], g[y + k - 1]). */
#define COLS_MINMAX(NAME, OP)                                                    \
  NM_CLONES static void NAME(const float *src, float *dst, int w, int h, int r, int x0, int x1, \
                   float *run) {                                                 \
    int k = 2 * r + 1, len = h + 2 * r, nx = x1 - x0;                            \
    src += x0;                                                                   \
    dst += x0;                                                                   \
    for (int i = len - 1, c = (len - 1) % k; i >= 0; i--) {                      \
      const float *s = src + (size_t)imin(imax(i - r, 0), h - 1) * w;            \
      float *d = i < h ? dst + (size_t)i * w : run;                              \
      const float *prev = i + 1 < h ? dst + (size_t)(i + 1) * w : run;           \
      if (i == len - 1 || c == k - 1) copy_floats(d, s, (size_t)nx);            \
      else                                                                       \
        for (int x = 0; x < nx; x++) d[x] = OP(prev[x], s[x]);                   \
      c = c == 0 ? k - 1 : c - 1;                                                \
    }                                                                            \
    for (int t = 0, c = 0; t < len; t++) {                                       \
      const float *s = src + (size_t)imin(imax(t - r, 0), h - 1) * w;            \
      if (c == 0) copy_floats(run, s, (size_t)nx);                              \
      else                                                                       \
        for (int x = 0; x < nx; x++) run[x] = OP(run[x], s[x]);                  \
      if (++c == k) c = 0;                                                       \
      int y = t - (k - 1);                                                       \
      if (y >= 0) {                                                              \
        float *d = dst + (size_t)y * w;                                          \
        for (int x = 0; x < nx; x++) d[x] = OP(d[x], run[x]);                    \
      }                                                                          \
    }                                                                            \
  }
COLS_MINMAX(cols_max, VMAX)
COLS_MINMAX(cols_min, VMIN)

/* ---- passes over slices (parallel.h): rows, or columns in blocks of 16 ---- */

enum { P_BOX_ROWS, P_BOX_COLS, P_KERN_ROWS, P_KERN_COLS, P_MM_ROWS, P_MM_COLS };
#define MAXT 64

/* Per-slice scratch: line buffers (lb[0] is the caller's, from tmp, the
** others one allocation per call) and, for the min/max row pass, the
** interleaved buffers (NULL: the row pass runs line by line). */
typedef struct team {
  int nt;
  float *lb[MAXT], *il[MAXT];
  float *block;
} team;

typedef struct pass {
  int kind, w, h, r, is_max;
  const float *in;
  float *out;
  const float *kern;
  team *T;
} pass;

static size_t lb_size(int w, int h) { return 12 * (size_t)imax(w, h) + 64; }

static void team_init(team *T, int w, int h, int r, float *lb0, int interleave) {
  size_t lbs = lb_size(w, h), ils = interleave ? 16 * ((size_t)w + 2 * (size_t)r) : 0;
  int nt = nm_threads_for((size_t)w * h);
  if (nt > MAXT) nt = MAXT;
  if (nt > h) nt = h > 0 ? h : 1;
  T->block = NULL;
  for (;;) {
    size_t need = (size_t)(nt - 1) * lbs + (size_t)nt * ils;
    T->block = need ? malloc(need * sizeof(float)) : NULL;
    if (T->block || !need || nt == 1) break;
    nt = 1;
  }
  T->nt = nt;
  T->lb[0] = lb0;
  for (int t = 1; t < nt; t++) T->lb[t] = T->block ? T->block + (size_t)(t - 1) * lbs : lb0;
  for (int t = 0; t < nt; t++)
    T->il[t] = T->block && ils ? T->block + (size_t)(nt - 1) * lbs + (size_t)t * ils : NULL;
}

static void team_free(team *T) {
  free(T->block);
  T->block = NULL;
}

static void run_slice(void *arg, int t, int nt) {
  const pass *P = arg;
  float *lb = P->T->lb[t];
  int lo, hi;
  switch (P->kind) {
  case P_BOX_ROWS:
    nm_slice(P->h, t, nt, 4, &lo, &hi);
    box_rows(P->in, P->out, P->w, P->h, P->r, lo, hi, lb);
    break;
  case P_BOX_COLS:
    nm_slice(P->w, t, nt, 16, &lo, &hi);
    if (hi > lo) box_cols(P->in, P->out, P->w, P->h, P->r, lo, hi, (double *)(void *)lb);
    break;
  case P_KERN_ROWS:
    nm_slice(P->h, t, nt, 1, &lo, &hi);
    if (hi > lo)
      rows_pass(P->in + (size_t)lo * P->w, P->out + (size_t)lo * P->w, P->w, hi - lo, P->r,
                line_kernel, (void *)P->kern, lb);
    break;
  case P_KERN_COLS:
    nm_slice(P->h, t, nt, 1, &lo, &hi);
    cols_kernel(P->in, P->out, P->w, P->h, P->r, P->kern, lo, hi);
    break;
  case P_MM_ROWS:
    nm_slice(P->h, t, nt, 8, &lo, &hi);
    if (hi <= lo) break;
    if (P->T->il[t]) {
      if (P->is_max) rows_max8(P->in, P->out, P->w, P->r, lo, hi, P->T->il[t], lb);
      else rows_min8(P->in, P->out, P->w, P->r, lo, hi, P->T->il[t], lb);
    } else {
      rows_pass(P->in + (size_t)lo * P->w, P->out + (size_t)lo * P->w, P->w, hi - lo, P->r,
                line_minmax, (void *)&P->is_max, lb);
    }
    break;
  case P_MM_COLS:
    nm_slice(P->w, t, nt, 16, &lo, &hi);
    if (hi <= lo) break;
    if (P->is_max) cols_max(P->in, P->out, P->w, P->h, P->r, lo, hi, lb);
    else cols_min(P->in, P->out, P->w, P->h, P->r, lo, hi, lb);
    break;
  }
}

static void run_pass(team *T, int kind, const float *in, float *out, int w, int h, int r,
                     int is_max, const float *kern) {
  pass P = {kind, w, h, r, is_max, in, out, kern, T};
  nm_parallel(T->nt, run_slice, &P);
}

#if defined(__SSE2__)
/* ---- one thread: the box passes streamed through row rings ----
**
** With one thread, a cascade of box means (the Gaussian's three, or one)
** runs row by row instead of pass by pass: stage k keeps its row-pass
** output in a ring of rows (enough for its column window), and the column
** running sums turn them into its output rows, which go straight into the
** next stage's row pass. The image then crosses memory once in and once out
** instead of twice per pass. Every value goes through the operations of
** box_rows / box_cols in the same order (each row's sum runs from x = 0,
** each column's from y = 0), so the bytes are those of the passes. Rows
** are fetched in groups of four (box_rows4_sse2; a last short group row by
** row through line_box, as box_rows does). */
typedef struct bstage {
  int r, rs;          /* radius; ring rows (a multiple of 4) */
  float *ring;        /* rs rows: row-pass output row j at slot j % rs */
  double *acc;        /* column sums, w */
  float *grp;         /* the previous stage's output group (4 rows), stage > 0 */
  int have;           /* rows [0, have) fetched into the ring */
  int next;           /* next output row */
} bstage;

typedef struct bstream {
  const float *in;
  float *out;
  int w, h, nb;
  float *S, *line;    /* box_rows4_sse2 scratch; a padded line + scratch */
  bstage st[3];
} bstream;

static void bs_produce(bstream *B, int k, int y0, int y1, float *dst);

/* Fetches the next group of rows of stage k's row pass into its ring. */
static void bs_fetch(bstream *B, int k) {
  bstage *S = &B->st[k];
  int w = B->w, g0 = S->have, g1 = imin(g0 + 4, B->h);
  const float *src;
  if (k == 0) {
    src = B->in + (size_t)g0 * w;
  } else {
    bs_produce(B, k - 1, g0, g1, S->grp);
    src = S->grp;
  }
  float *dst = S->ring + (size_t)(g0 % S->rs) * w;
  if (g1 - g0 == 4) {
    box_rows4_sse2(src, dst, w, S->r, 0, B->S);
  } else {
    rows_pass(src, dst, w, g1 - g0, S->r, line_box, NULL, B->line);
  }
  S->have = g1;
}

static const float *bs_row(bstream *B, int k, int j) {
  bstage *S = &B->st[k];
  while (S->have <= j) bs_fetch(B, k);
  return S->ring + (size_t)(j % S->rs) * B->w;
}

NM_CLONES static void bs_cols_out(float *o, const double *acc, float inv, int w) {
  for (int x = 0; x < w; x++) o[x] = (float)acc[x] * inv;
}

NM_CLONES static void bs_cols_step(double *acc, const float *add, const float *sub, int w) {
  for (int x = 0; x < w; x++) acc[x] += add[x] - sub[x];
}

NM_CLONES static void bs_cols_add(double *acc, const float *row, int w) {
  for (int x = 0; x < w; x++) acc[x] += row[x];
}

/* Output rows [y0, y1) of stage k (the next ones in order) into dst. */
static void bs_produce(bstream *B, int k, int y0, int y1, float *dst) {
  bstage *S = &B->st[k];
  int w = B->w, h = B->h, r = S->r;
  float inv = 1.0f / (float)(2 * r + 1);
  for (int y = y0; y < y1; y++, dst += w) {
    if (y == 0) {
      for (int x = 0; x < w; x++) S->acc[x] = 0;
      for (int j = -r; j <= r; j++) bs_cols_add(S->acc, bs_row(B, k, imin(imax(j, 0), h - 1)), w);
    }
    bs_cols_out(dst, S->acc, inv, w);
    if (y + 1 < h) {
      const float *add = bs_row(B, k, imin(y + r + 1, h - 1));
      const float *sub = bs_row(B, k, imax(y - r, 0));
      bs_cols_step(S->acc, add, sub, w);
    }
  }
  S->next = y1;
}

/* Runs the cascade of nb box means of radii r[] from in to out (out may be
** in) in the second image of tmp and its line buffers; returns 0 (nothing
** done) when the rings do not fit there. */
static int box_stream(const float *in, float *out, int w, int h, const int *r, int nb,
                      float *tmp) {
  size_t n = (size_t)w * h, need = 0;
  int rmax = 0;
  for (int k = 0; k < nb; k++) {
    int rs = (2 * r[k] + 5 + 3) / 4 * 4;
    need += (size_t)rs * w + 2 * (size_t)w + 8 + (k ? 4 * (size_t)w : 0);
    rmax = imax(rmax, r[k]);
  }
  need += 4 * ((size_t)w + 2 * (size_t)rmax) + 3 * ((size_t)w + 2 * (size_t)rmax + 2) + 8;
  if (nb > 3 || need > n) return 0;
  bstream B;
  B.in = in, B.out = out, B.w = w, B.h = h, B.nb = nb;
  float *p = tmp + n;
  for (int k = 0; k < nb; k++) {
    bstage *S = &B.st[k];
    S->r = r[k];
    S->rs = (2 * r[k] + 5 + 3) / 4 * 4;
    S->acc = (double *)(void *)(((uintptr_t)p + 7) & ~(uintptr_t)7);
    p = (float *)(void *)(S->acc + w);
    S->ring = p;
    p += (size_t)S->rs * w;
    S->grp = k ? p : NULL;
    p += k ? 4 * (size_t)w : 0;
    S->have = S->next = 0;
  }
  B.S = p;
  p += 4 * ((size_t)w + 2 * (size_t)rmax);
  B.line = p;
  for (int y = 0; y < h; y += 4) {
    int y1 = imin(y + 4, h);
    bs_produce(&B, nb - 1, y, y1, out + (size_t)y * w);
  }
  return 1;
}
#endif

/* ---- one thread: the exact-kernel Gaussian streamed the same way ----
** The row pass of each input row (rows_pass's padded line through
** line_kernel) goes into a ring of 2r+2 rows, and each output row is
** cols_kernel's sum over the ring, as soon as its rows are in. Returns 0
** when the ring does not fit in the second image of tmp. */
static int kern_stream(const float *in, float *out, int w, int h, int r, const float *kern,
                       float *tmp) {
  size_t n = (size_t)w * h;
  int rs = 2 * r + 2;
  size_t need = (size_t)rs * w + 3 * ((size_t)w + 2 * (size_t)r + 2) + 8;
  if (r > 7 || need > n) return 0;
  float *ring = tmp + n, *lb = ring + (size_t)rs * w;
  int have = 0;
  const float *rows[15];
  for (int y = 0; y < h; y++) {
    int last = imin(y + r, h - 1);
    while (have <= last) {
      rows_pass(in + (size_t)have * w, ring + (size_t)(have % rs) * w, w, 1, r, line_kernel,
                (void *)kern, lb);
      have++;
    }
    for (int j = 0; j <= 2 * r; j++)
      rows[j] = ring + (size_t)(imin(imax(y - r + j, 0), h - 1) % rs) * w;
    kernel_rows_sum(out + (size_t)y * w, rows, kern, r, w);
  }
  return 1;
}

/* 2-D box mean: rows from in into tr, then columns from tr into out. */
static void box2d(team *T, const float *in, float *out, int w, int h, int r, float *tr) {
  run_pass(T, P_BOX_ROWS, in, tr, w, h, r, 0, NULL);
  run_pass(T, P_BOX_COLS, tr, out, w, h, r, 0, NULL);
}

void nm_box_mean(const float *in, float *out, int w, int h, int r, float *tmp) {
  r = imin(imax(r, 0), imax(w, h));
  float *lb = tmp + 2 * (size_t)w * h;
  team T;
  team_init(&T, w, h, r, lb, 0);
#if defined(__SSE2__)
  if (T.nt == 1 && box_stream(in, out, w, h, &r, 1, tmp)) {
    team_free(&T);
    return;
  }
#endif
  box2d(&T, in, out, w, h, r, tmp + (size_t)w * h);
  team_free(&T);
}

void nm_minmax(const float *in, float *out, int w, int h, int r, int is_max, float *tmp) {
  r = imin(imax(r, 0), imax(w, h));
  /* rows into tr, columns from tr into out (no transposes) */
  float *lb = tmp + 2 * (size_t)w * h, *tr = tmp + (size_t)w * h;
  team T;
  team_init(&T, w, h, r, lb, h >= 8);
  run_pass(&T, P_MM_ROWS, in, tr, w, h, r, is_max, NULL);
  run_pass(&T, P_MM_COLS, tr, out, w, h, r, is_max, NULL);
  team_free(&T);
}

void nm_open(const float *in, float *out, int w, int h, int r, float *tmp) {
  nm_minmax(in, out, w, h, r, 0, tmp);
  nm_minmax(out, out, w, h, r, 1, tmp);
}

void nm_close(const float *in, float *out, int w, int h, int r, float *tmp) {
  nm_minmax(in, out, w, h, r, 1, tmp);
  nm_minmax(out, out, w, h, r, 0, tmp);
}

void nm_gauss(const float *in, float *out, int w, int h, double sigma, float *tmp) {
  size_t n = (size_t)w * h;
  float *lb = tmp + 2 * n, *tr = tmp + n;
  if (!(sigma > 0)) {
    if (in != out) memcpy(out, in, sizeof(float) * n);
    return;
  }
  team T;
  if (sigma < 2.0) {
    int r = (int)ceil(3.0 * sigma);
    float kern[16];
    double s = 0;
    for (int j = -r; j <= r; j++) s += kern[j + r] = (float)exp(-0.5 * j * j / (sigma * sigma));
    for (int j = 0; j <= 2 * r; j++) kern[j] = (float)(kern[j] / s);
    team_init(&T, w, h, r, lb, 0);
    if (T.nt == 1 && kern_stream(in, out, w, h, r, kern, tmp)) {
      team_free(&T);
      return;
    }
    run_pass(&T, P_KERN_ROWS, in, tr, w, h, r, 0, kern);
    run_pass(&T, P_KERN_COLS, tr, out, w, h, r, 0, kern);
    team_free(&T);
    return;
  }
  /* Three box passes whose combined variance equals sigma^2 (box widths
  ** wl and wl+2 mixed so the variance is exact). */
  const int nb = 3;
  double wi = sqrt(12.0 * sigma * sigma / nb + 1.0);
  int wl = (int)floor(wi);
  if (wl % 2 == 0) wl--;
  int wu = wl + 2;
  double mi = (12.0 * sigma * sigma - nb * wl * wl - 4.0 * nb * wl - 3.0 * nb) / (-4.0 * wl - 4.0);
  int m = (int)lround(mi);
  const float *src = in;
  team_init(&T, w, h, 0, lb, 0);
#if defined(__SSE2__)
  if (T.nt == 1) {
    int rr[3];
    for (int i = 0; i < nb; i++) rr[i] = imin(((i < m ? wl : wu) - 1) / 2, imax(w, h));
    if (box_stream(in, out, w, h, rr, nb, tmp)) {
      team_free(&T);
      return;
    }
  }
#endif
  for (int i = 0; i < nb; i++) {
    int r = ((i < m ? wl : wu) - 1) / 2;
    r = imin(r, imax(w, h));
    box2d(&T, src, out, w, h, r, tr);
    src = out;
  }
  team_free(&T);
}

void nm_median(const float *in, float *out, int w, int h, int r) {
  if (r <= 0) {
    memcpy(out, in, sizeof(float) * (size_t)w * h);
    return;
  }
  int hist[256];
  int k = 2 * r + 1, half = (k * k) / 2;
#define Q(x, y) q8(in[(size_t)imin(imax(y, 0), h - 1) * w + imin(imax(x, 0), w - 1)])
  for (int y = 0; y < h; y++) {
    memset(hist, 0, sizeof hist);
    for (int dy = -r; dy <= r; dy++)
      for (int dx = -r; dx <= r; dx++) hist[Q(dx, y + dy)]++;
    for (int x = 0; x < w; x++) {
      if (x > 0) {
        for (int dy = -r; dy <= r; dy++) {
          hist[Q(x - r - 1, y + dy)]--;
          hist[Q(x + r, y + dy)]++;
        }
      }
      int acc = 0, b = 0;
      for (; b < 255; b++) {
        acc += hist[b];
        if (acc > half) break;
      }
      out[(size_t)y * w + x] = (b + 0.5f) / 256.0f;
    }
  }
#undef Q
}

void nm_downsample(const float *in, int w, int h, int f, float *out) {
  int sw = (w + f - 1) / f, sh = (h + f - 1) / f;
  for (int sy = 0; sy < sh; sy++)
    for (int sx = 0; sx < sw; sx++) {
      double s = 0;
      int c = 0;
      for (int y = sy * f; y < imin(h, sy * f + f); y++)
        for (int x = sx * f; x < imin(w, sx * f + f); x++) {
          s += in[(size_t)y * w + x];
          c++;
        }
      out[(size_t)sy * sw + sx] = (float)(s / c);
    }
}

/* Output pixel i of a factor-f upsampling reads source pixels *i0 and *i1
** (clamped to the n source pixels) with weight *t on *i1: pixel centres
** aligned, so the same formula serves rows and columns. */
static void upsample_source(int i, int f, int n, int *i0, int *i1, float *t) {
  double fi = (i + 0.5) / f - 0.5;
  if (fi < 0) fi = 0;
  if (fi > n - 1) fi = n - 1;
  *i0 = (int)fi;
  *i1 = imin(*i0 + 1, n - 1);
  *t = (float)(fi - *i0);
}

/* The per-pixel formula, for when the row buffers cannot be allocated. */
static void upsample_plain(const float *in, int sw, int sh, int f, float *out, int w, int h) {
  for (int y = 0; y < h; y++) {
    int y0, y1, x0, x1;
    float ty, tx;
    upsample_source(y, f, sh, &y0, &y1, &ty);
    for (int x = 0; x < w; x++) {
      upsample_source(x, f, sw, &x0, &x1, &tx);
      float a = in[(size_t)y0 * sw + x0] * (1 - tx) + in[(size_t)y0 * sw + x1] * tx;
      float b = in[(size_t)y1 * sw + x0] * (1 - tx) + in[(size_t)y1 * sw + x1] * tx;
      out[(size_t)y * w + x] = a * (1 - ty) + b * ty;
    }
  }
}

/* The same values as upsample_plain (the same float operations per pixel),
** but the horizontal interpolation of each source row is computed once and
** kept while the output rows that use it are written, and the vertical one
** runs over whole rows. */
void nm_upsample(const float *in, int sw, int sh, int f, float *out, int w, int h) {
  int *xi = malloc(2 * sizeof(int) * (size_t)w);
  float *buf = malloc(4 * sizeof(float) * (size_t)w);
  if (!xi || !buf) {
    free(xi);
    free(buf);
    upsample_plain(in, sw, sh, f, out, w, h);
    return;
  }
  float *tx = buf, *rows[2] = {buf + 2 * (size_t)w, buf + 3 * (size_t)w};
  int have[2] = {-1, -1};
  for (int x = 0; x < w; x++) upsample_source(x, f, sw, &xi[2 * x], &xi[2 * x + 1], &tx[x]);
  for (int y = 0; y < h; y++) {
    int y0, y1;
    float ty;
    upsample_source(y, f, sh, &y0, &y1, &ty);
    const float *r01[2];
    for (int k = 0; k < 2; k++) {
      int sy = k ? y1 : y0, slot = -1;
      for (int q = 0; q < 2; q++)
        if (have[q] == sy) slot = q;
      if (slot < 0) {
        /* the slot not holding the other row this output needs */
        int other = k ? y0 : y1;
        slot = have[0] == other && other != sy ? 1 : 0;
        if (k == 1 && have[slot] == y0) slot ^= 1;
        const float *src = in + (size_t)sy * sw;
        float *d = rows[slot];
        for (int x = 0; x < w; x++)
          d[x] = src[xi[2 * x]] * (1 - tx[x]) + src[xi[2 * x + 1]] * tx[x];
        have[slot] = sy;
      }
      r01[k] = rows[slot];
    }
    float *o = out + (size_t)y * w;
    const float *A = r01[0], *B = r01[1];
    float wy = 1 - ty;
    for (int x = 0; x < w; x++) o[x] = A[x] * wy + B[x] * ty;
  }
  free(xi);
  free(buf);
}

/* Moves the values of v[lo..hi) that satisfy `x < p` (le 0) or `x <= p`
** (le 1) to its front, keeping the others behind them; returns the end of
** the front part. Lomuto's scheme without a branch on the comparison (the
** swap is unconditional, the write index advances by the comparison's
** value): on data in no order, a branch per value mispredicts half the time,
** which is most of a plain partition's cost. */
static size_t partition_lt(float *v, size_t lo, size_t hi, float p, int le) {
  size_t w = lo;
  if (le) {
    for (size_t i = lo; i < hi; i++) {
      float x = v[i];
      size_t s = x <= p;
      v[i] = v[w];
      v[w] = x;
      w += s;
    }
  } else {
    for (size_t i = lo; i < hi; i++) {
      float x = v[i];
      size_t s = x < p;
      v[i] = v[w];
      v[w] = x;
      w += s;
    }
  }
  return w;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Quickselect: the pivot is the median of three values at pseudo-random
** places (a fixed sequence, so the same input is always reordered the same
** way; the partition's own reordering of sorted input cannot then starve
** it), the partition is branchless (partition_lt); a pivot that leaves
** almost nothing below it (often a run of values equal to it) has its
** equals split off too, so ties cannot make it quadratic. Ranges of 16 and
** fewer are insertion-sorted. The k-th value is unique whatever the
** algorithm, and v ends partitioned around k, as before. */
float nm_select_kth(float *v, size_t n, size_t k) {
  size_t lo = 0, hi = n;
  uint64_t st = 0x9E3779B97F4A7C15u;
  int rounds = 0;
  while (hi - lo > 16) {
    size_t len = hi - lo;
    if (++rounds > 200) {
      /* cannot happen but with absurd luck: bound the cost */
      qsort(v + lo, len, sizeof(float), cmp_float);
      return v[k];
    }
    st = st * 6364136223846793005u + 1442695040888963407u;
    float a = v[lo + (size_t)((st >> 33) % len)], b = v[lo + (size_t)((st >> 11) % len)],
          c = v[lo + (size_t)(((st >> 43) * len) >> 21)];
    float p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    size_t m = partition_lt(v, lo, hi, p, 0); /* [lo, m) < p */
    if (k < m) {
      hi = m;
      continue;
    }
    if ((m - lo) * 16 < len) {
      size_t e = partition_lt(v, m, hi, p, 1); /* [m, e) == p, not empty */
      if (k < e) return v[k];
      lo = e;
    } else {
      lo = m;
    }
  }
  for (size_t i = lo + 1; i < hi; i++) {
    float x = v[i];
    size_t j = i;
    while (j > lo && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
  return v[k];
}
