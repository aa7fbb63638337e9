/*
** label.h — connected components of a binary mask (4- or 8-connected), in
** raster order: labels 1..count numbered by their first pixel, two passes
** with a union-find over provisional labels (no recursion, no per-pixel
** allocation).
*/
#ifndef NM_LABEL_H
#define NM_LABEL_H

#include <stdint.h>

#include "nm_common.h"

/* labels[i] = 0 where mask[i] == 0, else the component number. */
nm_status nm_label(const uint8_t *mask, int w, int h, int conn8, int32_t *labels,
                   int *count, nm_error *err);

/* Pixel count per label: areas has count+1 entries (areas[0] = background). */
void nm_label_areas(const int32_t *labels, size_t n, int count, int64_t *areas);

/* Removes components with fewer than min_area pixels from mask (in place).
** Returns the number of components kept. scratch: w*h int32. */
nm_status nm_remove_small(uint8_t *mask, int w, int h, int conn8, int64_t min_area,
                          int32_t *scratch, int *kept, nm_error *err);

/* Union-find over int32 parents (p[x] == x at a root), shared by every
** pass that merges provisional labels or pieces: find with path halving,
** union keeps the smaller root (so merged labels keep raster order). */
static inline int32_t nm_uf_find(int32_t *p, int32_t x) {
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

static inline void nm_uf_union(int32_t *p, int32_t a, int32_t b) {
  a = nm_uf_find(p, a);
  b = nm_uf_find(p, b);
  if (a < b) p[b] = a;
  else if (b < a) p[a] = b;
}

/* m[p] = 1 where p is a particle pixel (label > 0) with no 4-neighbour of
** another particle, else 0: the mask whose distance transform measures
** depth inside a piece, a pixel touching a neighbouring piece counting as
** outline. */
void nm_label_untouched(const int32_t *labels, int w, int h, uint8_t *m);

/* Renumbers labels so that the used ones are 1..k in raster order of first
** pixel; returns k. map: max_label+1 int32 of scratch. */
int nm_relabel(int32_t *labels, size_t n, int max_label, int32_t *map);

#endif /* NM_LABEL_H */
