/*
** fit.h — analysis by synthesis: how well does an eq. 1 triplet describe a
** particle's mask, and which triplet describes it best.
**
** The re-simulation protocol (SPEC §5, issue 8 part 7), used for every number
** this module returns (triplets, circle and ellipse baselines alike):
**   1. the shape is eq. 1 for (p, d, Lratio) (shape.h), scaled so that its
**      area equals the mask's pixel count A;
**   2. its centroid is put on the mask's centroid (mean pixel centre);
**   3. it is rotated by φ = j·1°, j = 0..359 (or one symmetry period 360/d
**      for integer d), and the best φ is kept;
**   4. the score is the Jaccard index over pixel centres:
**      |mask ∩ shape| / |mask ∪ shape|, a pixel centre counting as inside
**      the shape when it lies inside its polygon of ≥ 512 vertices.
** The rotation search ranks all 1° steps with a polar estimate (the mask's
** pixels binned by angle and radius around the centroid against the shape's
** radius profile) and evaluates the exact score at the 3 best local maxima
** and their ±1° neighbours; the reported Jaccard is always an exact one.
** φ is reported in [0, 2π/d) for integer d (the shape repeats), else [0, 2π).
** Masks are w×h bytes, nonzero = particle, pixel centres at integer
** coordinates; the caller decides which component is the particle (the
** whole mask counts).
**
** Typical use (the CNN's evaluation, shape_fit(), resim_jaccard()):
**   nm_fit_mask *m; nm_fit_mask_prepare(bytes, w, h, w, &m, &err);
**   nm_fit_jaccard(m, p, d, lratio, &j, &phi, &err);     // one triplet
**   nm_fit_baselines(m, &jc, &je, &le, &err);            // circle, ellipse
**   nm_fit_opts o; nm_fit_opts_default(&o); nm_fit_result r;
**   nm_shape_fit(m, &o, &r, &err);                       // best triplet
**   nm_fit_mask_free(m);
** A prepared mask is read-only after preparation: one per thread is not
** needed, several threads may score against the same mask.
*/
#ifndef NM_FIT_H
#define NM_FIT_H

#include <stdint.h>

#include "nm_common.h"

typedef struct nm_fit_mask nm_fit_mask;

/* Masks larger than this many pixels (w*h) are refused (NM_ERR_TOOBIG). */
#define NM_FIT_MAX_PIXELS (1 << 24)

nm_status nm_fit_mask_prepare(const uint8_t *mask, int w, int h, int stride,
                              nm_fit_mask **out, nm_error *err);
void nm_fit_mask_free(nm_fit_mask *m);
/* The mask's pixel count and centroid. */
void nm_fit_mask_info(const nm_fit_mask *m, long *area, double *cx, double *cy);

/* Jaccard of eq. 1 (p, d, lratio) under the protocol above; phi_out (may be
** NULL) receives the best rotation. Any finite d in (0, 64] is accepted:
** non-integer d (a CNN's raw output) is drawn as printed, its curve closed
** by a straight edge. */
nm_status nm_fit_jaccard(const nm_fit_mask *m, double p, double d, double lratio,
                         double *jaccard, double *phi_out, nm_error *err);

/* One-shot convenience: prepare, score, free. */
nm_status nm_resim_jaccard(const uint8_t *mask, int w, int h, int stride,
                           double p, double d, double lratio, double *jaccard,
                           double *phi_out, nm_error *err);

/* The baselines under the same protocol: an equal-area circle, and the
** moment ellipse (axis ratio from the mask's second central moments, best
** rotation). ellipse_lratio (may be NULL) receives that axis ratio. */
nm_status nm_fit_baselines(const nm_fit_mask *m, double *circle, double *ellipse,
                           double *ellipse_lratio, nm_error *err);

/*
** shape_fit: maximise the Jaccard over (p, d, Lratio, φ). d is an integer
** in [d_min, d_max] (the simulator's d; a continuous d would re-introduce
** the open-curve artefact and one more dimension); for each d the search
** runs over (log p, Lratio) within the bounds, φ being solved by the
** rotation search at every step. Stages: a coarse grid over every d
** (estimates only), Nelder–Mead from the best grid points, from the start
** triplet when given (d rounded, and its neighbour), and from `restarts`
** seeded random points; the winner is scored exactly.
*/
typedef struct nm_fit_opts {
  int has_start;             /* 1 when start_* are set */
  double start_p, start_d, start_lratio;
  double p_min, p_max;       /* default 0.3, 40 */
  int d_min, d_max;          /* default 1, 6 */
  double lratio_min, lratio_max; /* default 1, 5 */
  int restarts;              /* extra random starts, default 1 */
  int grid_starts;           /* best grid points refined (≤ 2 per d), default 2 */
  int max_evals;             /* Nelder–Mead evaluations per start, default 30 */
  uint64_t seed;             /* default 1 */
} nm_fit_opts;

typedef struct nm_fit_result {
  double p, d, lratio, phi, jaccard;
  long evals; /* candidate shapes scored (estimates + exact) */
} nm_fit_result;

void nm_fit_opts_default(nm_fit_opts *o);
/* Options by name, as the SQL options JSON gives them: start ([p, d,
** lratio] array text), p, d, lratio ([min, max] array text or a number),
** restarts, grid_starts, max_evals, seed. Unknown keys are errors. */
nm_status nm_fit_opts_set(nm_fit_opts *o, const char *key, double num,
                          const char *text, nm_error *err);
nm_status nm_fit_opts_check(const nm_fit_opts *o, nm_error *err);

nm_status nm_shape_fit(const nm_fit_mask *m, const nm_fit_opts *o,
                       nm_fit_result *out, nm_error *err);

#endif /* NM_FIT_H */
