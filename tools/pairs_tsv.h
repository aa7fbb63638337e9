/*
** pairs_tsv.h — the one reader of a data set's pairs.tsv for the eval tools
** (eval, eval_shape, cnn_eval, cnn_spectrum). Each line of
** ../shared/data/<set>/pairs.tsv names an image, its ground truth and the
** ground truth's kind ("labels", "boxes", ...), paths relative to the set;
** lines that do not hold three fields (a header, a blank line) are skipped.
*/
#ifndef NM_TOOLS_PAIRS_TSV_H
#define NM_TOOLS_PAIRS_TSV_H

#include <stdio.h>
#include <string.h>

typedef struct pairs_row {
  char img[1024], gt[1024], kind[64];
  const char *img_base; /* the image's file name, inside img */
} pairs_row;

/* Opens ROOT/SET/pairs.tsv; NULL when the set is not there. */
static inline FILE *pairs_open(const char *root, const char *set) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/pairs.tsv", root, set);
  return fopen(path, "r");
}

/* Reads the next row with three fields into r; 0 at the end of the file. */
static inline int pairs_next(FILE *f, pairs_row *r) {
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%1023s %1023s %63s", r->img, r->gt, r->kind) != 3) continue;
    const char *slash = strrchr(r->img, '/');
    r->img_base = slash ? slash + 1 : r->img;
    return 1;
  }
  return 0;
}

#endif /* NM_TOOLS_PAIRS_TSV_H */
