/*
** darkfield.h — segmentation of dark-field micrographs (HAADF STEM): bright
** metal particles, often only a few pixels across, on grey supports over
** black vacuum (three brightness levels), with JPEG blocks and support
** texture at the particles' own scale.
**
** nm_segment() hands the image here, after its contrast stretch and polarity
** decision, when the polarity is dark field and the "darkfield" option is on;
** it applies its own exclusions (edge, scale bar, too small) to the result.
**
** Method (docs/darkfield.md): a difference-of-Gaussians scale space finds
** bright blobs at every size between a few pixels and a tenth of the field
** (each blob its own scale, so one image may hold particles of very different
** sizes; a point beaten only by the coarser scale, where a particle merges
** with a neighbour or a lump, counts too when strong); each blob must stand out of the support texture around it (its
** band-pass response against a ring of the same response, by a z that
** rises with the number of maxima tested in the image and is shared among
** the scales by the sizes of the blobs a first pass finds; its core mean
** above every side of an annulus, the support being a tilted plane), which
** rejects the support's own texture wherever it is strong; each kept blob
** then grows by a watershed on intensity from its centre, limited to the
** pixels above its own level between the support plane and its core mean,
** so touching particles stay apart and outlines do not climb a support
** gradient.
*/
#ifndef NM_DARKFIELD_H
#define NM_DARKFIELD_H

#include <stdint.h>

#include "nm_common.h"

typedef struct nm_darkfield_opts {
  int enabled;   /* "darkfield": true to use this pipeline for dark field */
  double k;      /* "darkfield_k": a blob's band-pass (DoG) response must exceed
                 ** the median of the same response on a ring around it by k
                 ** robust sigmas of that ring (the local support texture) */
  double fp;     /* "darkfield_fp": and exceed the z that support texture alone
                 ** passes at about fp of the image's scale-space maxima (a
                 ** threshold that rises with the number of maxima tested; 0: k alone) */
  double prior;  /* "darkfield_prior": those fp are shared among the scale
                 ** levels by the sizes of the blobs that pass the plain
                 ** threshold (two stages), mixed with this share of the
                 ** uniform split (1: uniform, one threshold for all levels) */
  double prior_cap; /* "darkfield_prior_cap": a level's share of those passes
                 ** per maximum tested is at most this many times the uniform
                 ** split's, i.e. its threshold at most ln(cap)/tail under
                 ** the plain one (0: no cap) */
  double prior_bw; /* "darkfield_prior_bw": that size density's kernel width,
                 ** in natural log of the radius */
  double tail;   /* "darkfield_tail": that null's exponential tail rate, per unit z */
  double z0;     /* "darkfield_z0": that null's median z */
  double merged; /* "darkfield_merged": maxima in position and over the finer
                 ** scale that only the coarser scale beats are candidates too
                 ** (counted as tests, after the full maxima in "one blob per
                 ** particle") when their response exceeds this many robust
                 ** sigmas of their level (0: off) */
  double kc;     /* "darkfield_kc": and its core mean must exceed the median of
                 ** the intensity on a nearer ring by kc robust sigmas of it */
  double half_q; /* "darkfield_half_q": "every side of the ring" is this
                 ** quantile of each half-ring (0.5: its median); below the
                 ** median, a neighbour covering part of one half does not
                 ** raise it, while a support step covering the half does */
  int plane;     /* "darkfield_plane": the support under a particle is a plane
                 ** through its ring median tilted by the ring's slope (true)
                 ** or flat at the ring median (false) */
  double level;  /* "darkfield_level": extent = pixels above
                 ** support + level * (peak - support), in (0, 1) */
  double detect; /* "darkfield_detect": a scale-space maximum is a candidate
                 ** when its response exceeds this many robust sigmas of the
                 ** whole response image at its scale */
  double amin;   /* "darkfield_amin" / "darkfield_amax": a grown particle whose
                 ** area is under amin or over amax times its blob's disc
                 ** (pi r^2) is dropped (0: no bound) */
  double amax;
  double open;   /* "darkfield_open": a particle reaching farther than open x
                 ** its blob radius + 1 px from its centre is dropped (the
                 ** level did not close around it: support edge; 0: off) */
  double fdr;    /* "darkfield_fdr": per-image threshold on the blob z (at
                 ** least k): the lowest at which dark blobs passing the same
                 ** test are at most fdr times the bright ones (0: k alone) */
  double kmax;   /* "darkfield_kmax": the per-image threshold's ceiling */
  double edge;   /* "darkfield_edge": a blob whose principal curvatures differ
                 ** by more than this ratio is an edge or ridge, not a
                 ** particle (Lowe's test; 0: off) */
  double nms;    /* "darkfield_nms": a blob whose centre lies within nms x the
                 ** radius of a stronger kept blob is the same particle */
  double marker; /* "darkfield_marker": watershed marker = the blob's disc of
                 ** marker x its radius (pixels above its level) */
  double ring;   /* "darkfield_ring": outer radius of that ring, in blob radii */
  double floor;  /* "darkfield_floor": that ring's sigma is at least floor x the
                 ** robust sigma of the whole level (0: no floor) */
  double grow;   /* "darkfield_grow": outlines moved out by up to this many px
                 ** over pixels above support + grow_level (peak - support) */
  double grow_level; /* "darkfield_grow_level" */
  double grow_sigma; /* "darkfield_grow_sigma": the rim's level is read on the
                 ** image smoothed by this, px (1: the same as the tests) */
  double grow_r; /* "darkfield_grow_r": or up to this share of the blob radius
                 ** when that is more */
  double dmin;   /* "darkfield_dmin": smallest blob diameter looked for, px (0: 3 px) */
  double dmax;   /* "darkfield_dmax": largest, px (0: a tenth of the shorter side) */
} nm_darkfield_opts;

void nm_darkfield_opts_default(nm_darkfield_opts *o);
/* Sets one option whose key starts with "darkfield" (num for numbers and
** booleans, text for strings); unknown key or bad value → error naming it. */
nm_status nm_darkfield_opts_set(nm_darkfield_opts *o, const char *key, double num,
                                const char *text, nm_error *err);

/* I: w*h stretched to [0,1], particles bright. scale_px: typical particle
** diameter if the user gave one (blobs are then looked for between a
** quarter and four times it, within dmin/dmax if given), else 0. labels:
** w*h, zeroed on entry; on success 1..*count mark the particles and
** *scale_out holds the median equivalent diameter of those found (the
** diameter used for the too-small rule). *count = -1 (labels all 0) means
** declined: no blob stands out of its surroundings (a dense field of
** particles, where every ring around a particle holds particles; or an
** image under 8 px) and nm_segment runs its generic path instead. */
nm_status nm_darkfield_segment(const float *I, int w, int h, const nm_darkfield_opts *o,
                               double scale_px, const nm_progress *progress, int32_t *labels,
                               int *count, double *scale_out, nm_error *err);

#endif /* NM_DARKFIELD_H */
