/*
** segment.c — segment(image [, options]): the label image of a micrograph.
**
**   SELECT writefile('labels.png', segment('samples/a.tif'));
**   SELECT segment(readfile('a.png'), '{"nm_per_px": 0.5, "threshold": "local"}');
**
** image is a path (TEXT) or the bytes of an image file (BLOB). The result is
** a 16-bit grayscale PNG BLOB of the processed micrograph's size (after a
** vendor data bar is cropped and non-square pixels are resampled): 0 is
** background, k is the particle that particles() reports with label k —
** excluded particles (edge, scale_bar, too_small) keep their label. More than
** 65535 particles cannot be held in 16 bits and is an error.
**
** Options: the micrograph keys (frame, page, max_pixels, nm_per_px,
** scale_bar) and every segmentation key (docs/reference/segmentation.md);
** an unknown key is an error. DIRECTONLY: it reads files named by its
** argument, so schema objects (views, triggers) must not call it.
*/
#include <stdlib.h>
#include <string.h>

#include "../ext/particles.h"
#include "bind.h"
#include "register.h"

static void segment_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fname = "segment";
  nm_error err;
  nm_error_clear(&err);
  nm_particles_opts *o = nm_particles_opts_new();
  if (!o) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  nm_particles_opts_allow_labels(o, 0);
  nm_particle_set set;
  memset(&set, 0, sizeof set);
  nm_status st = NM_OK;
  if (argc > 1)
    st = nm_bind_options(sqlite3_context_db_handle(ctx), argv[1], fname, nm_particles_opts_set,
                         o, &err);
  const char *path = NULL;
  const void *buf = NULL;
  int n = 0;
  if (st == NM_OK) st = nm_bind_image_source(argv[0], &path, &buf, &n, &err);
  if (st == NM_OK) {
    nm_bind_progress p;
    nm_bind_progress_begin(&p, sqlite3_context_db_handle(ctx), fname);
    st = nm_particles_run(path, buf, (size_t)n, o, 0, &p.progress, &set, &err);
    nm_bind_progress_end(&p);
  }
  if (st == NM_OK && set.n_labels > 65535)
    st = nm_fail(&err, NM_ERR_TOOBIG,
                 "%d particles do not fit a 16-bit label PNG (at most 65535); use particles()",
                 set.n_labels);
  unsigned char *png = NULL;
  size_t png_n = 0;
  if (st == NM_OK) {
    size_t np = (size_t)set.width * (size_t)set.height;
    uint16_t *u = nm_malloc(np, sizeof *u, &err);
    if (!u) {
      st = err.code;
    } else {
      for (size_t i = 0; i < np; i++) u[i] = (uint16_t)set.labels[i];
      st = nm_png_encode(u, set.width, set.height, 16, 1, &png, &png_n, &err);
      free(u);
    }
  }
  if (st == NM_OK && png_n > 0x7fffffff) {
    free(png);
    png = NULL;
    st = nm_fail(&err, NM_ERR_TOOBIG, "the label PNG is over 2 GiB");
  }
  if (st == NM_OK) sqlite3_result_blob(ctx, png, (int)png_n, free);
  else nm_bind_error(ctx, fname, &err);
  nm_particle_set_free(&set);
  nm_particles_opts_free(o);
}

int nm_register_segment(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  int rc = sqlite3_create_function(db, "segment", 1, NM_FILES, NULL, segment_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "segment", 2, NM_FILES, NULL, segment_func, NULL, NULL);
  return rc;
}
