/*
** particles.h — from a micrograph to measured particles: the pipeline that
** particles(), segment() and the bench share, so they cannot disagree.
**
**   1. nm_micrograph_open(): decode, crop a vendor data bar, settle the
**      calibration, resample non-square pixels to square;
**   2. either nm_segment() on the processed image, or the user's own label
**      image (option `labels`: 8/16-bit or float gray PNG/TIFF; a binary mask
**      is split into 8-connected components; other label images are
**      renumbered 1..k internally, label_value keeps each user value);
**   3. nm_features_compute() on the label image with the processed pixels as
**      intensity;
**   4. exclusions: segmentation's own (edge, scale_bar, too_small); user
**      labels touching the image border -> edge; particles overlapping the
**      scale-bar box that the calibration step found -> scale_bar; then
**      nm_outliers_flag() (outliers.h) among the rest (segmented images only: user labels
**      are taken as given).
**
** Options are set by key: the micrograph keys (frame, page, max_pixels,
** nm_per_px, scale_bar) go to nm_micrograph_opts_set, `labels` is ours, every
** other key goes to nm_segment_opts_set (which rejects unknown keys).
*/
#ifndef NM_PARTICLES_H
#define NM_PARTICLES_H

#include <stddef.h>
#include <stdint.h>

#include "features.h"
#include "micrograph.h"
#include "nm_common.h"
#include "segment.h"

/* Largest label value accepted in a user label image. */
#define NM_PARTICLES_MAX_LABEL (1 << 24)

typedef struct nm_particles_opts nm_particles_opts;

nm_particles_opts *nm_particles_opts_new(void);   /* defaults; NULL on OOM */
void nm_particles_opts_free(nm_particles_opts *o);
/* nm_opt_setter shape (target is an nm_particles_opts*). `labels` takes a
** path (text). With allow_labels = 0 (segment()) `labels` is unknown. */
nm_status nm_particles_opts_set(void *o, const char *key, double num,
                                const char *text, nm_error *err);
void nm_particles_opts_allow_labels(nm_particles_opts *o, int allow);
/* A label image held in memory (a BLOB), instead of the `labels` path; the
** bytes are not copied and must outlive nm_particles_run. */
void nm_particles_opts_labels_blob(nm_particles_opts *o, const void *buf, size_t n);

typedef struct nm_particle_set {
  nm_micrograph mg;        /* the processed image and its calibration */
  int width, height;       /* of the processed image = of labels */
  int32_t *labels;         /* width*height, 0 background */
  int n_labels;            /* largest label (labels may have gaps when user-given) */
  nm_features *features;   /* n_labels entries (NULL when not measured) */
  uint8_t *excluded;       /* n_labels+1 entries, nm_exclusion values */
  int32_t *label_value;    /* n_labels+1: the user's value of compact label k
                              (user label images with several values; labels
                              are renumbered 1..n_labels internally so the cost
                              follows the particles present), NULL = identity */
  int user_labels;         /* 1 when the labels came from the `labels` option */
  double scale_px;         /* segmentation's particle scale (NAN for user labels) */
  int dark_particles;      /* segmentation's polarity (-1 for user labels) */
} nm_particle_set;

/* Runs the pipeline on a path (buf NULL) or an image file held in memory.
** measure = 0 stops after the label image (segment()). On error `out` is
** empty and err names the file or option. */
nm_status nm_particles_run(const char *path, const void *buf, size_t n,
                           const nm_particles_opts *o, int measure,
                           const nm_progress *progress, nm_particle_set *out,
                           nm_error *err);

void nm_particle_set_free(nm_particle_set *s);

/* The label reported for internal label k (the user's value, or k). */
int nm_particle_set_label(const nm_particle_set *s, int k);

/* nm per pixel of the set (square pixels), NAN when unknown. */
double nm_particle_set_nm_per_px(const nm_particle_set *s);

#endif /* NM_PARTICLES_H */
