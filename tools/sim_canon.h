/*
** sim_canon.h — canonical training labels for the CNN tools (cnn_model -C,
** cnn_eval -C).
**
** Eq. 1 is not injective on what a mask shows: at p = 2 and Lratio = 1 every
** d draws the same circle, and near there (p ≈ 2, Lratio ≈ 1, any d) the
** shapes are ellipses to within a pixel. A mean-squared-error regression
** trained on the drawn labels then answers the average of the labels that
** give that mask (d ≈ 4, p ≈ 2, Lratio ≈ 1.1 — a faint rounded polygon), not
** one shape that explains it. The canonical label removes that ambiguity:
** when the moment ellipse re-simulates a row's mask (the crop at ≥ 1/2) at
** least as well as the drawn triplet, less `delta`, under the fit.h protocol,
** the label becomes that ellipse in eq. 1 form, (p, d, Lratio) =
** (2, 2, ellipse axis ratio). Every other label is kept.
*/
#ifndef NM_TOOLS_SIM_CANON_H
#define NM_TOOLS_SIM_CANON_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "../ext/fit.h"

/* One row: crop (size² bytes, the stored 8-bit form), label tg[3] = p, d,
** Lratio, replaced in place. Returns 1 when relabelled, 0 when kept, −1 on
** error (the label is then kept). */
static int canon_label(const uint8_t *crop, int size, double delta, float *tg) {
  size_t px = (size_t)size * size;
  uint8_t *m = malloc(px);
  if (!m) return -1;
  for (size_t i = 0; i < px; i++) m[i] = crop[i] >= 128;
  nm_fit_mask *fm = NULL;
  nm_error err;
  double jt = 0, je = 0, le = 1;
  int r = -1;
  if (nm_fit_mask_prepare(m, size, size, size, &fm, &err) == NM_OK) {
    if (nm_fit_jaccard(fm, tg[0], tg[1], tg[2], &jt, NULL, &err) == NM_OK &&
        nm_fit_baselines(fm, NULL, &je, &le, &err) == NM_OK) {
      r = 0;
      if (je >= jt - delta) {
        tg[0] = 2;
        tg[1] = 2;
        tg[2] = (float)(le >= 1 ? le : 1 / le);
        r = 1;
      }
    }
    nm_fit_mask_free(fm);
  }
  free(m);
  return r;
}

typedef struct canon_job {
  const uint8_t *img;
  int size;
  float *tg;
  size_t lo, hi, changed;
  double delta;
} canon_job;

static void *canon_range(void *arg) {
  canon_job *j = arg;
  size_t px = (size_t)j->size * j->size;
  for (size_t i = j->lo; i < j->hi; i++)
    if (canon_label(j->img + i * px, j->size, j->delta, j->tg + 3 * i) == 1) j->changed++;
  return NULL;
}

/* All n rows, `threads` threads (1..64); returns the number relabelled.
** Deterministic: every row depends on its own crop only. */
static size_t canon_labels(const uint8_t *img, size_t n, int size, double delta, float *tg,
                           int threads) {
  pthread_t th[64];
  canon_job jobs[64];
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  for (int k = 0; k < threads; k++) {
    jobs[k] = (canon_job){img, size, tg, n * k / threads, n * (k + 1) / threads, 0, delta};
    pthread_create(&th[k], NULL, canon_range, &jobs[k]);
  }
  size_t changed = 0;
  for (int k = 0; k < threads; k++) {
    pthread_join(th[k], NULL);
    changed += jobs[k].changed;
  }
  return changed;
}

#endif /* NM_TOOLS_SIM_CANON_H */
