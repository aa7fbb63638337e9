/*
** shape.h — the paper's eq. 1 (a superformula) and the simulator built on it.
**
**   R(θ) = [ (Lratio·|cos(d/2·(θ+φ))|)^p + |sin(d/2·(θ+φ))|^p ]^(−1/p)
**
** optionally times the authors' corner factor (a·|sin(d·(θ+φ))| + 1)^g
** (off when a = 0; their a(d), g(p) are not published, so here they are two
** constants). Angles are in radians; θ is measured from the image's +x axis
** towards +y, i.e. clockwise on screen because rows run downward. Every R(θ)
** is positive, so the curve is star-shaped around its origin and is drawn as
** the filled polygon through R(θ_k) at many equally spaced θ_k. For
** non-integer d the curve does not close at θ = 2π and the polygon closes
** it with a straight edge (still a valid, simple polygon).
**
** Unit scale: R = 1 where the cosine term vanishes (the major semi-axis when
** Lratio ≥ 1 and p ≤ 2); squarer shapes (p > 2) reach further at their
** corners. Callers scale by area or by extent, never by assuming R ≤ 1.
**
** The simulator (nm_sim_*) turns a seed and a row id into one training
** example in the canonical crop format (crop.h): draw (p, d, Lratio, φ),
** render the shape into a small grey micrograph (random frame size = the
** pixelation, random fill of the frame, sub-pixel position, random contrast
** and polarity, Poisson noise at a random dose, Gaussian blur as the
** microscope/denoiser), threshold it back with Otsu, keep the largest
** 8-connected component, fill its holes, and crop that mask with
** nm_crop_from_mask — so a simulated mask carries the pixelation and
** boundary noise of a segmented one, while the CNN input stays canonical.
*/
#ifndef NM_SHAPE_H
#define NM_SHAPE_H

#include <stdint.h>

#include "nm_common.h"

/* Harmonics of the outline perturbation ("wobble"): k = 2 .. NM_SHAPE_WOBBLE+1. */
#define NM_SHAPE_WOBBLE 8

typedef struct nm_shape {
  double p, d, lratio, phi;
  double corner_a, corner_g; /* corner factor; corner_a = 0 disables it */
  /* Outline perturbation of the simulator (zero = eq. 1 as printed): R(θ) is
  ** multiplied by 1 + Σ_k wob_amp[k]·cos((k+2)·θ + wob_phase[k]), a smooth,
  ** small irregularity like that of real particles and hand-drawn masks. The
  ** label stays the eq. 1 triplet. */
  double wob_amp[NM_SHAPE_WOBBLE], wob_phase[NM_SHAPE_WOBBLE];
} nm_shape;

/* Limits accepted by every function here (and by the SQL functions). */
#define NM_SHAPE_P_MIN 0.05
#define NM_SHAPE_P_MAX 1000.0
#define NM_SHAPE_D_MAX 64.0
#define NM_SHAPE_L_MAX 100.0
#define NM_SHAPE_MAX_SIZE 4096

/* Plain eq. 1 (no corner factor). */
void nm_shape_init(nm_shape *s, double p, double d, double lratio, double phi);
/* p, d, lratio in (0, max], all finite, corner_a ≥ 0. */
nm_status nm_shape_check(const nm_shape *s, nm_error *err);

double nm_shape_radius(const nm_shape *s, double theta);

/* n vertices (x, y interleaved) of the unit-scale polygon, θ_k = 2πk/n. */
void nm_shape_polygon(const nm_shape *s, int n, double *xy);

/* Area, centroid and the largest radius of the unit-scale polygon with n
** vertices (n ≥ 16; 2048 gives ~1e-6 relative accuracy on smooth shapes). */
void nm_shape_moments(const nm_shape *s, int n, double *area, double *gx,
                      double *gy, double *rmax);

/*
** Filled, anti-aliased rendering: out (w×h floats, row-major) receives the
** fraction of each pixel covered by the shape, placed with its polar origin
** at (cx, cy) and `scale` pixels per unit radius. Pixel (i, j) is the square
** [i, i+1)×[j, j+1). Coverage is exact along x and sampled at `sub`
** sub-scanlines per row (1..64; 16 is plenty). Values accumulate with
** `value` (out += value·coverage), so callers can draw on a background.
*/
nm_status nm_shape_render(const nm_shape *s, double cx, double cy, double scale,
                          int w, int h, int sub, float value, float *out,
                          nm_error *err);

/* ---------------------------------------------------------------- simulator */

typedef struct nm_sim_opts {
  double p_min, p_max;            /* log-uniform            default 0.5, 20 */
  int d_min, d_max;               /* uniform integers       default 2, 6 */
  double lratio_min, lratio_max;  /* uniform                default 1, 3 */
  double phi_min, phi_max;        /* uniform                default 0, 2π */
  double fill_min, fill_max;      /* shape's largest extent over the frame side: 0.5, 0.9 */
  int frame_min, frame_max;       /* side of the small render, px, log-uniform: 32, 128 */
  double contrast_min, contrast_max; /* |particle − background|: 0.15, 0.8 */
  double dose_min, dose_max;      /* counts per pixel at intensity 1, log-uniform: 100, 4000 */
  double blur_min, blur_max;      /* Gaussian sigma before threshold, px: 0.4, 1.2 */
  double wobble_min, wobble_max;  /* RMS relative outline perturbation: 0, 0.05 */
  double wobble_h2;               /* weight of the wobble's harmonic 2 (an elongation,
                                     i.e. what Lratio of d = 2 describes): 1 */
  double round_weight;            /* probability that a row is a near-round ellipse:
                                     d = 2, Lratio and p uniform in round_lratio,
                                     round_p: 0 */
  double round_lratio_min, round_lratio_max; /* 1, 1.2 */
  double round_p_min, round_p_max;           /* 1.8, 2.3 */
  double p_core_min, p_core_max;  /* p weighting: with probability p_core_weight */
  double p_core_weight;           /* p is log-uniform in the core range (clipped to
                                     p), else in p: 1.5, 10, weight 0.9 */
  double corner_a, corner_g;      /* corner factor for every shape: 0, 1 */
  int noise;                      /* 0: no noise model, mask = coverage ≥ 1/2 (default 1) */
  int size;                       /* crop side (default NM_CROP_SIZE) */
} nm_sim_opts;

void nm_sim_opts_default(nm_sim_opts *o);

/*
** Sets one option by name, as the SQL options JSON gives it: a number
** (`num`, text NULL), or a JSON array text "[min, max]" for a range (a
** number sets min = max). Keys: p, d, lratio, phi, fill, frame, contrast,
** dose, blur, wobble, p_core, round_lratio, round_p (ranges), wobble_h2, p_core_weight,
** round_weight, corner_a, corner_g,
** noise, size. Unknown keys and bad
** values are errors naming the option.
*/
nm_status nm_sim_opts_set(nm_sim_opts *o, const char *key, double num,
                          const char *text, nm_error *err);
/* Whole-struct consistency (min ≤ max, ranges inside the limits). */
nm_status nm_sim_opts_check(const nm_sim_opts *o, nm_error *err);

/* Row `id` of the data set with this seed: split 0 = train, 1 = val,
** 2 = test, exactly 7/1/2 of every block of ten consecutive ids, the order
** within the block shuffled by the seed. */
int nm_sim_split(uint64_t seed, int64_t id);
const char *nm_sim_split_name(int split);

/* Draws row `id`'s triplet and φ (the same values nm_sim_example uses). */
void nm_sim_params(const nm_sim_opts *o, uint64_t seed, int64_t id, nm_shape *out);

/*
** Row `id` of the simulated data set: its shape and its canonical crop
** (o->size² floats). Same (opts, seed, id) → same bytes. grey, if not NULL,
** receives a malloc'd copy of the noisy micrograph (values 0..1, *gw×*gh)
** for illustration; free() it.
*/
nm_status nm_sim_example(const nm_sim_opts *o, uint64_t seed, int64_t id,
                         nm_shape *shape, float *crop, float **grey, int *gw,
                         int *gh, nm_error *err);

/* Otsu threshold of n floats (256-bin histogram over [min, max]); the value
** separating the two classes. Exposed for the fit and tests. */
double nm_otsu_float(const float *v, size_t n);

/*
** In place on a w×h byte mask: keep only the largest 8-connected component
** (ties: the first in raster order) and fill its holes (background not
** 4-connected to the border). Returns the component's pixel count (0 when
** the mask is empty). Returns −1 when out of memory.
*/
long nm_mask_largest_filled(uint8_t *mask, int w, int h);

#endif /* NM_SHAPE_H */
