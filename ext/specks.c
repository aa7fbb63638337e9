/*
** specks.c — film texture specks among bright-field detections (specks.h).
*/
#include "specks.h"

#include <math.h>
#include <stdlib.h>

#include "filter.h"

typedef struct {
  double inside, ring; /* sums of the smoothed image */
  long n_inside, n_ring;
  int x0, y0, x1, y1;
} label_stats;

typedef struct {
  double contrast;
  long area;
  int label;
} ranked;

static int cmp_contrast(const void *a, const void *b) {
  double x = ((const ranked *)a)->contrast, y = ((const ranked *)b)->contrast;
  return (x > y) - (x < y);
}

static void gather_inside(const float *smooth, int w, int h, const int32_t *labels, int count,
                          label_stats *s) {
  for (int l = 1; l <= count; l++) {
    s[l].x0 = w;
    s[l].y0 = h;
    s[l].x1 = s[l].y1 = -1;
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int32_t l = labels[(size_t)y * w + x];
      if (l <= 0 || l > count) continue;
      label_stats *p = &s[l];
      p->inside += smooth[(size_t)y * w + x];
      p->n_inside++;
      if (x < p->x0) p->x0 = x;
      if (x > p->x1) p->x1 = x;
      if (y < p->y0) p->y0 = y;
      if (y > p->y1) p->y1 = y;
    }
}

/* the film around a label: unlabelled pixels of its box grown by r */
static void gather_ring(const float *smooth, int w, int h, const int32_t *labels, int r,
                        label_stats *p) {
  int x0 = p->x0 - r < 0 ? 0 : p->x0 - r, x1 = p->x1 + r >= w ? w - 1 : p->x1 + r;
  int y0 = p->y0 - r < 0 ? 0 : p->y0 - r, y1 = p->y1 + r >= h ? h - 1 : p->y1 + r;
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) {
      size_t i = (size_t)y * w + x;
      if (labels[i]) continue;
      p->ring += smooth[i];
      p->n_ring++;
    }
}

/* The contrast of the particle holding the median pixel, in contrast order. */
static double typical_contrast(ranked *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_contrast);
  double total = 0, run = 0;
  for (int i = 0; i < n; i++) total += (double)v[i].area;
  for (int i = 0; i < n; i++) {
    run += (double)v[i].area;
    if (run >= total / 2) return v[i].contrast;
  }
  return v[n - 1].contrast;
}

static int is_speck(const ranked *r, double max_area, double min_contrast) {
  return (double)r->area < max_area && r->contrast < min_contrast;
}

nm_status nm_specks_flag(const float *img, int w, int h, const int32_t *labels, int count,
                         double d, uint8_t mark, uint8_t *excluded, float *smooth, float *tmp,
                         int *flagged, nm_error *err) {
  if (flagged) *flagged = 0;
  if (count <= 0) return NM_OK;
  label_stats *s = nm_calloc((size_t)count + 1, sizeof *s, err);
  ranked *v = nm_calloc((size_t)count, sizeof *v, err);
  if (!s || !v) {
    free(s);
    free(v);
    return err ? err->code : NM_ERR_NOMEM;
  }
  nm_gauss(img, smooth, w, h, SPECK_SIGMA * d, tmp);
  gather_inside(smooth, w, h, labels, count, s);
  int n = 0, r = (int)(d / 2) + 1;
  for (int l = 1; l <= count; l++) {
    if (excluded[l] || !s[l].n_inside) continue;
    gather_ring(smooth, w, h, labels, r, &s[l]);
    if (!s[l].n_ring) continue;
    v[n].contrast = s[l].inside / s[l].n_inside - s[l].ring / s[l].n_ring;
    v[n].area = s[l].n_inside;
    v[n].label = l;
    n++;
  }
  if (n >= SPECK_MIN_COUNT) {
    double min_contrast = SPECK_CONTRAST * typical_contrast(v, n);
    double max_area = SPECK_AREA * M_PI * d * d / 4;
    int specks = 0;
    for (int i = 0; i < n; i++) specks += is_speck(&v[i], max_area, min_contrast);
    if (min_contrast > 0 && specks >= SPECK_SHARE * n) {
      for (int i = 0; i < n; i++)
        if (is_speck(&v[i], max_area, min_contrast)) excluded[v[i].label] = mark;
      if (flagged) *flagged = specks;
    }
  }
  free(s);
  free(v);
  return NM_OK;
}
