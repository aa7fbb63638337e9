/*
** gt_labels.h — a decoded ground-truth image as a label image, for the
** eval tools (eval, eval_shape, cnn_eval, cnn_spectrum, crop_figures). A
** label image keeps its values (0 = background); a binary mask becomes its
** 8-connected components, numbered by the engine's nm_label. The data sets
** say which kind each file is (pairs.tsv, pairs_tsv.h).
*/
#ifndef NM_TOOLS_GT_LABELS_H
#define NM_TOOLS_GT_LABELS_H

#include <stdint.h>
#include <stdlib.h>

#include "../ext/image.h"
#include "../ext/label.h"

/* Returns a malloc'd width x height label image and its largest label in
** *count; NULL when out of memory or when labelling the mask fails. */
static inline int32_t *gt_labels(const nm_image *gt, int is_labels, int *count) {
  size_t n = (size_t)gt->width * gt->height;
  int32_t *lab = malloc(sizeof(int32_t) * (n ? n : 1));
  *count = 0;
  if (!lab) return NULL;
  if (is_labels) {
    for (size_t i = 0; i < n; i++) {
      lab[i] = (int32_t)gt->px[i];
      if (lab[i] > *count) *count = lab[i];
    }
    return lab;
  }
  uint8_t *mask = malloc(n ? n : 1);
  nm_error err;
  if (mask)
    for (size_t i = 0; i < n; i++) mask[i] = gt->px[i] > 0;
  if (!mask || nm_label(mask, gt->width, gt->height, 1, lab, count, &err) != NM_OK) {
    free(mask);
    free(lab);
    *count = 0;
    return NULL;
  }
  free(mask);
  return lab;
}

#endif /* NM_TOOLS_GT_LABELS_H */
