/* label.c — two-pass connected components (runs of a row, union-find). */
#include "label.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* End of the run of zero (want 0) or nonzero (want 1) bytes starting at x,
** eight bytes at a time while whole words qualify. */
static int run_end(const uint8_t *m, int x, int w, int want) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (x + 8 <= w) {
    uint64_t v;
    memcpy(&v, m + x, 8);
    int haszero = ((v - ones) & ~v & highs) != 0;
    if (want ? haszero : v != 0) break;
    x += 8;
  }
  while (x < w && (m[x] != 0) == want) x++;
  return x;
}

/* One run of foreground pixels [x0, x1) of a row and its provisional label. */
typedef struct run {
  int x0, x1;
  int32_t l;
} run;

/* Run-based two passes: each row's runs get a provisional label (the first
** run of the row above they touch, unions with the others), then the roots
** are numbered in order of their first pixel, which is the order of the
** first run, so the numbering is that of a plain raster scan. */
nm_status nm_label(const uint8_t *mask, int w, int h, int conn8, int32_t *labels,
                   int *count, nm_error *err) {
  size_t n = (size_t)w * h;
  /* at most ceil(w/2) runs per row */
  size_t cap = (size_t)(w / 2 + 1) * (size_t)h + 2;
  int32_t *par = nm_malloc(cap, sizeof(int32_t), err);
  run *rb = nm_malloc(2 * ((size_t)w / 2 + 1), sizeof(run), err);
  if (!par || !rb) {
    free(par);
    free(rb);
    return err ? err->code : NM_ERR_NOMEM;
  }
  if (cap > (size_t)INT32_MAX) {
    free(par);
    free(rb);
    return nm_fail(err, NM_ERR_NOMEM, "label: too many components");
  }
  run *prev = rb, *cur = rb + (w / 2 + 1);
  int nprev = 0;
  int32_t next = 1;
  par[0] = 0;
  int reach = conn8 ? 1 : 0; /* how far beyond its ends a run touches the row above */
  for (int y = 0; y < h; y++) {
    const uint8_t *mr = mask + (size_t)y * w;
    int32_t *lr = labels + (size_t)y * w;
    int ncur = 0, j = 0;
    int x = 0;
    while (x < w) {
      if (!mr[x]) {
        int z0 = x;
        x = run_end(mr, x, w, 0);
        memset(lr + z0, 0, sizeof(int32_t) * (size_t)(x - z0));
        continue;
      }
      int x0 = x;
      x = run_end(mr, x, w, 1);
      int32_t l = 0;
      /* runs above overlapping [x0 - reach, x + reach) */
      while (j < nprev && prev[j].x1 + reach <= x0) j++;
      for (int k = j; k < nprev && prev[k].x0 < x + reach; k++) {
        if (!l) l = prev[k].l;
        else if (prev[k].l != l) nm_uf_union(par, l, prev[k].l);
      }
      if (!l) {
        l = next;
        par[next] = next;
        next++;
      }
      cur[ncur].x0 = x0;
      cur[ncur].x1 = x;
      cur[ncur].l = l;
      ncur++;
      lr[x0] = l; /* provisional, on the run's first pixel only */
    }
    run *t = prev;
    prev = cur;
    cur = t;
    nprev = ncur;
  }
  free(rb);
  /* flatten: final numbers in order of the first pixel */
  int32_t *fin = nm_calloc((size_t)next, sizeof(int32_t), err);
  if (!fin) {
    free(par);
    return err ? err->code : NM_ERR_NOMEM;
  }
  int32_t k = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *mr = mask + (size_t)y * w;
    int32_t *lr = labels + (size_t)y * w;
    int x = 0;
    while (x < w) {
      if (!mr[x]) {
        x = run_end(mr, x, w, 0);
        continue;
      }
      int32_t r = nm_uf_find(par, lr[x]);
      if (!fin[r]) fin[r] = ++k;
      int32_t f = fin[r];
      int x1 = run_end(mr, x, w, 1);
      while (x < x1) lr[x++] = f;
    }
  }
  (void)n;
  free(fin);
  free(par);
  *count = k;
  return NM_OK;
}

void nm_label_areas(const int32_t *labels, size_t n, int count, int64_t *areas) {
  memset(areas, 0, sizeof(int64_t) * ((size_t)count + 1));
  for (size_t i = 0; i < n; i++) areas[labels[i]]++;
}

nm_status nm_remove_small(uint8_t *mask, int w, int h, int conn8, int64_t min_area,
                          int32_t *scratch, int *kept, nm_error *err) {
  int count = 0;
  nm_status st = nm_label(mask, w, h, conn8, scratch, &count, err);
  if (st) return st;
  int64_t *areas = nm_malloc((size_t)count + 1, sizeof(int64_t), err);
  if (!areas) return err ? err->code : NM_ERR_NOMEM;
  size_t n = (size_t)w * h;
  nm_label_areas(scratch, n, count, areas);
  int k = 0;
  for (int i = 1; i <= count; i++) k += areas[i] >= min_area;
  for (size_t i = 0; i < n; i++)
    if (scratch[i] && areas[scratch[i]] < min_area) mask[i] = 0;
  free(areas);
  if (kept) *kept = k;
  return NM_OK;
}

int nm_relabel(int32_t *labels, size_t n, int max_label, int32_t *map) {
  memset(map, 0, sizeof(int32_t) * ((size_t)max_label + 1));
  int k = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t l = labels[i];
    if (l <= 0) continue;
    if (!map[l]) map[l] = ++k;
    labels[i] = map[l];
  }
  return k;
}

void nm_label_untouched(const int32_t *labels, int w, int h, uint8_t *m) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t p = (size_t)y * w + x;
      int32_t l = labels[p];
      int fb = 0;
      if (l > 0) {
        if (x > 0 && labels[p - 1] > 0 && labels[p - 1] != l) fb = 1;
        if (x < w - 1 && labels[p + 1] > 0 && labels[p + 1] != l) fb = 1;
        if (y > 0 && labels[p - w] > 0 && labels[p - w] != l) fb = 1;
        if (y < h - 1 && labels[p + w] > 0 && labels[p + w] != l) fb = 1;
      }
      m[p] = l > 0 && !fb;
    }
}
