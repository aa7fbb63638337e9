/* label.c — two-pass connected components with a union-find. */
#include "label.h"

#include <stdlib.h>
#include <string.h>

static int32_t uf_find(int32_t *p, int32_t x) {
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

static void uf_union(int32_t *p, int32_t a, int32_t b) {
  a = uf_find(p, a);
  b = uf_find(p, b);
  if (a < b) p[b] = a;
  else if (b < a) p[a] = b;
}

nm_status nm_label(const uint8_t *mask, int w, int h, int conn8, int32_t *labels,
                   int *count, nm_error *err) {
  size_t n = (size_t)w * h;
  /* at most one provisional label per two pixels of a row-run start; bound by n/2+2 */
  size_t cap = n / 2 + 2;
  int32_t *par = nm_malloc(cap, sizeof(int32_t), err);
  if (!par) return err ? err->code : NM_ERR_NOMEM;
  int32_t next = 1;
  par[0] = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *mr = mask + (size_t)y * w;
    int32_t *lr = labels + (size_t)y * w;
    const int32_t *up = y ? lr - w : NULL;
    for (int x = 0; x < w; x++) {
      if (!mr[x]) {
        lr[x] = 0;
        continue;
      }
      int32_t l = 0;
      if (x && mr[x - 1]) l = lr[x - 1];
      if (up) {
        int32_t c[3] = {conn8 && x ? up[x - 1] : 0, up[x], conn8 && x + 1 < w ? up[x + 1] : 0};
        for (int k = 0; k < 3; k++) {
          if (!c[k]) continue;
          if (!l) l = c[k];
          else if (c[k] != l) uf_union(par, l, c[k]);
        }
      }
      if (!l) {
        if ((size_t)next >= cap) { /* cannot happen with the bound above; be safe */
          free(par);
          return nm_fail(err, NM_ERR_NOMEM, "label: too many components");
        }
        l = next;
        par[next] = next;
        next++;
      }
      lr[x] = l;
    }
  }
  /* flatten: final numbers in order of the first pixel */
  int32_t *fin = nm_calloc((size_t)next, sizeof(int32_t), err);
  if (!fin) {
    free(par);
    return err ? err->code : NM_ERR_NOMEM;
  }
  int32_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!labels[i]) continue;
    int32_t r = uf_find(par, labels[i]);
    if (!fin[r]) fin[r] = ++k;
    labels[i] = fin[r];
  }
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
