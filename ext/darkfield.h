/*
** darkfield.h — segmentation of dark-field micrographs (HAADF STEM): bright
** metal particles, often only a few pixels across, on grey supports over
** black vacuum (three brightness levels), with JPEG blocks and support
** texture at the particles' own scale.
**
** nm_segment() hands the image here, after its contrast stretch and polarity
** decision, when the polarity is dark field and the "darkfield" option is on;
** it applies its own exclusions (edge, scale bar, too small) to the result.
*/
#ifndef NM_DARKFIELD_H
#define NM_DARKFIELD_H

#include <stdint.h>

#include "nm_common.h"

typedef struct nm_darkfield_opts {
  int enabled; /* "darkfield": true to use this pipeline for dark field */
} nm_darkfield_opts;

void nm_darkfield_opts_default(nm_darkfield_opts *o);
/* Sets one option whose key starts with "darkfield" (num for numbers and
** booleans, text for strings); unknown key or bad value → error naming it. */
nm_status nm_darkfield_opts_set(nm_darkfield_opts *o, const char *key, double num,
                                const char *text, nm_error *err);

/* I: w*h stretched to [0,1], particles bright. scale_px: typical particle
** diameter if the user gave one, else 0 (estimate it). labels: w*h, zeroed
** on entry; on success 1..*count mark the particles and *scale_out holds the
** diameter used. */
nm_status nm_darkfield_segment(const float *I, int w, int h, const nm_darkfield_opts *o,
                               double scale_px, const nm_progress *progress, int32_t *labels,
                               int *count, double *scale_out, nm_error *err);

#endif /* NM_DARKFIELD_H */
