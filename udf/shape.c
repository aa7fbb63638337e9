/*
** udf/shape.c — eq. 1 and analysis by synthesis in SQL.
**
**   SELECT writefile('cube.png', render_shape(8.0, 4, 1.0, 0.3));   -- p, d, Lratio, phi
**   SELECT render_shape(4, 3, 1.8, 0, 128, '{"fill":0.8,"canonical":true}');
**   SELECT resim_jaccard(mask, 4, 3, 1.8) FROM particle;              -- REAL in [0, 1]
**   SELECT shape_fit(mask) FROM particle;   -- {"p":..,"d":..,"lratio":..,"phi":..,"jaccard":..}
**   SELECT shape_fit(mask, '{"start":[4,3,1.8],"restarts":0}') FROM particle;
**   SELECT shape_baselines(mask) FROM particle;  -- {"circle":..,"ellipse":..,"ellipse_lratio":..}
**
** `mask` is a PNG BLOB of a binary mask (particles()' mask column: the
** particle's pixels in its bounding box, 255 = particle); values at or above
** half the format's range count as particle. The protocol behind every
** Jaccard is in ext/fit.h. All functions are pure (no file access).
** NULL mask or NULL parameter in resim_jaccard / shape_fit / shape_baselines
** gives NULL (as SQLite's built-ins do), so they run over tables with gaps;
** render_shape refuses NULL.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/crop.h"
#include "../ext/fit.h"
#include "../ext/shape.h"
#include "bind.h"
#include "register.h"

/* ------------------------------------------------------------ arguments */

static int arg_number(sqlite3_context *ctx, const char *fname, sqlite3_value *v,
                      const char *name, double *out) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
    *out = sqlite3_value_double(v);
    if (isfinite(*out)) return 1;
  }
  nm_bind_errorf(ctx, fname, "%s must be a finite number%s", name,
                 t == SQLITE_NULL ? ", got NULL" : "");
  return 0;
}

/* Decodes a mask BLOB into bytes (1 = particle). */
static nm_status mask_from_blob(sqlite3_value *v, uint8_t **out, int *w, int *h, nm_error *err) {
  *out = NULL;
  if (sqlite3_value_type(v) != SQLITE_BLOB)
    return nm_fail(err, NM_ERR_ARG, "mask must be a PNG BLOB (the particles() mask column)");
  int n = sqlite3_value_bytes(v);
  const void *buf = sqlite3_value_blob(v);
  if (!buf || n <= 0) return nm_fail(err, NM_ERR_FORMAT, "mask BLOB is empty");
  nm_read_opts ro;
  nm_read_opts_default(&ro);
  ro.max_pixels = NM_FIT_MAX_PIXELS;
  nm_image img;
  memset(&img, 0, sizeof img);
  nm_status st = nm_image_read_memory(buf, (size_t)n, "mask", &ro, &img, err);
  if (st != NM_OK) return st;
  size_t np = (size_t)img.width * (size_t)img.height;
  uint8_t *m = nm_malloc(np, 1, err);
  if (!m) {
    nm_image_free(&img);
    return err->code;
  }
  float thr = img.sample_float ? 0.5f : (float)(((1u << (img.bits > 16 ? 16 : img.bits)) - 1) / 2.0 + 0.5);
  size_t on = 0;
  for (size_t i = 0; i < np; i++) on += m[i] = img.px[i] >= thr;
  *w = img.width;
  *h = img.height;
  nm_image_free(&img);
  if (on == 0) {
    free(m);
    return nm_fail(err, NM_ERR_ARG, "mask has no particle pixel");
  }
  *out = m;
  return NM_OK;
}

static int any_null(int argc, sqlite3_value **argv) {
  for (int i = 0; i < argc; i++)
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) return 1;
  return 0;
}

/* ---------------------------------------------------------- render_shape */

typedef struct render_opts {
  double fill;
  int sub, canonical;
  nm_shape shape;
} render_opts;

static nm_status render_set(void *target, const char *key, double num, const char *text,
                            nm_error *err) {
  render_opts *o = target;
  if (text || !isfinite(num)) return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number", key);
  if (!strcmp(key, "fill")) {
    if (!(num > 0 && num <= 1)) return nm_fail(err, NM_ERR_ARG, "option 'fill' must be in (0, 1]");
    o->fill = num;
  } else if (!strcmp(key, "sub")) {
    if (num != floor(num) || num < 1 || num > 64)
      return nm_fail(err, NM_ERR_ARG, "option 'sub' must be an integer in 1..64");
    o->sub = (int)num;
  } else if (!strcmp(key, "canonical")) {
    if (num != 0 && num != 1) return nm_fail(err, NM_ERR_ARG, "option 'canonical' must be true or false");
    o->canonical = (int)num;
  } else if (!strcmp(key, "corner_a")) {
    if (!(num >= 0 && num <= 10)) return nm_fail(err, NM_ERR_ARG, "option 'corner_a' must be in [0, 10]");
    o->shape.corner_a = num;
  } else if (!strcmp(key, "corner_g")) {
    if (!(fabs(num) <= 10)) return nm_fail(err, NM_ERR_ARG, "option 'corner_g' must be in [-10, 10]");
    o->shape.corner_g = num;
  } else {
    return nm_fail(err, NM_ERR_ARG,
                   "option '%s' is unknown (known: fill, sub, canonical, corner_a, corner_g)", key);
  }
  return NM_OK;
}

static void render_shape_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *F = "render_shape";
  double p, d, l, phi, size = 64;
  if (!arg_number(ctx, F, argv[0], "p", &p) || !arg_number(ctx, F, argv[1], "d", &d) ||
      !arg_number(ctx, F, argv[2], "lratio", &l) || !arg_number(ctx, F, argv[3], "phi", &phi))
    return;
  if (argc > 4 && !arg_number(ctx, F, argv[4], "size", &size)) return;
  if (size != floor(size) || size < 8 || size > NM_SHAPE_MAX_SIZE) {
    nm_bind_errorf(ctx, F, "size must be an integer in 8..%d", NM_SHAPE_MAX_SIZE);
    return;
  }
  int S = (int)size;
  render_opts o;
  memset(&o, 0, sizeof o);
  o.fill = 0.9;
  o.sub = 16;
  nm_shape_init(&o.shape, p, d, l, phi);
  nm_error err;
  nm_error_clear(&err);
  if (argc > 5 &&
      nm_bind_options(sqlite3_context_db_handle(ctx), argv[5], F, render_set, &o, &err) != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  o.shape.p = p;
  o.shape.d = d;
  o.shape.lratio = l;
  o.shape.phi = phi;
  if (nm_shape_check(&o.shape, &err) != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  /* bounding box of the rotated shape → its larger side is fill·size, centred */
  enum { NB = 2048 };
  double *xy = malloc(sizeof(double) * 2 * NB);
  float *cov = calloc((size_t)S * S, sizeof(float));
  uint8_t *px = malloc((size_t)S * S);
  unsigned char *png = NULL;
  size_t png_n = 0;
  nm_status st = NM_OK;
  if (!xy || !cov || !px) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  nm_shape_polygon(&o.shape, NB, xy);
  double x0 = xy[0], x1 = xy[0], y0 = xy[1], y1 = xy[1];
  for (int k = 1; k < NB; k++) {
    x0 = fmin(x0, xy[2 * k]);
    x1 = fmax(x1, xy[2 * k]);
    y0 = fmin(y0, xy[2 * k + 1]);
    y1 = fmax(y1, xy[2 * k + 1]);
  }
  double scale = o.fill * S / fmax(x1 - x0, y1 - y0);
  double cx = 0.5 * S - scale * 0.5 * (x0 + x1), cy = 0.5 * S - scale * 0.5 * (y0 + y1);
  st = nm_shape_render(&o.shape, cx, cy, scale, S, S, o.sub, 1.0f, cov, &err);
  if (st != NM_OK) goto fail;
  if (o.canonical) {
    /* the canonical crop of the shape's mask (coverage ≥ ½) at this size */
    for (int i = 0; i < S * S; i++) px[i] = cov[i] >= 0.5f;
    st = nm_crop_from_mask(px, S, S, S, S, cov, &err);
    if (st != NM_OK) goto fail;
  }
  nm_crop_to_u8(cov, S, px);
  st = nm_png_encode(px, S, S, 8, 1, &png, &png_n, &err);
  if (st != NM_OK) goto fail;
  sqlite3_result_blob64(ctx, png, png_n, free);
  png = NULL;
  goto done;
fail:
  nm_bind_error(ctx, F, &err);
done:
  free(png);
  free(xy);
  free(cov);
  free(px);
}

/* ---------------------------------------------------------- resim_jaccard */

static void resim_jaccard_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *F = "resim_jaccard";
  if (any_null(argc, argv)) return;
  double p, d, l;
  if (!arg_number(ctx, F, argv[1], "p", &p) || !arg_number(ctx, F, argv[2], "d", &d) ||
      !arg_number(ctx, F, argv[3], "lratio", &l))
    return;
  nm_error err;
  nm_error_clear(&err);
  uint8_t *m;
  int w, h;
  double j;
  if (mask_from_blob(argv[0], &m, &w, &h, &err) != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  nm_status st = nm_resim_jaccard(m, w, h, w, p, d, l, &j, NULL, &err);
  free(m);
  if (st != NM_OK) nm_bind_error(ctx, F, &err);
  else sqlite3_result_double(ctx, j);
}

/* -------------------------------------------------------------- shape_fit */

static nm_status fit_set(void *target, const char *key, double num, const char *text,
                         nm_error *err) {
  return nm_fit_opts_set(target, key, num, text, err);
}

static void shape_fit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *F = "shape_fit";
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  nm_error err;
  nm_error_clear(&err);
  nm_fit_opts o;
  nm_fit_opts_default(&o);
  if (argc > 1 &&
      nm_bind_options(sqlite3_context_db_handle(ctx), argv[1], F, fit_set, &o, &err) != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  uint8_t *m;
  int w, h;
  if (mask_from_blob(argv[0], &m, &w, &h, &err) != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  nm_fit_mask *fm = NULL;
  nm_fit_result r;
  nm_status st = nm_fit_mask_prepare(m, w, h, w, &fm, &err);
  free(m);
  if (st == NM_OK) st = nm_shape_fit(fm, &o, &r, &err);
  nm_fit_mask_free(fm);
  if (st != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  char *js = sqlite3_mprintf("{\"p\":%.6g,\"d\":%d,\"lratio\":%.6g,\"phi\":%.6g,\"jaccard\":%.6g}",
                             r.p, (int)r.d, r.lratio, r.phi, r.jaccard);
  if (!js) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, js, -1, sqlite3_free);
}

/* -------------------------------------------------------- shape_baselines */

static void shape_baselines_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *F = "shape_baselines";
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  nm_error err;
  nm_error_clear(&err);
  uint8_t *m;
  int w, h;
  if (mask_from_blob(argv[0], &m, &w, &h, &err) != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  nm_fit_mask *fm = NULL;
  double jc = 0, je = 0, le = 0;
  nm_status st = nm_fit_mask_prepare(m, w, h, w, &fm, &err);
  free(m);
  if (st == NM_OK) st = nm_fit_baselines(fm, &jc, &je, &le, &err);
  nm_fit_mask_free(fm);
  if (st != NM_OK) {
    nm_bind_error(ctx, F, &err);
    return;
  }
  char *js = sqlite3_mprintf("{\"circle\":%.6g,\"ellipse\":%.6g,\"ellipse_lratio\":%.6g}", jc, je, le);
  if (!js) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, js, -1, sqlite3_free);
}

int nm_register_shape(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  static const struct {
    const char *name;
    int nargs;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
  } fns[] = {
      {"render_shape", 4, render_shape_func},   {"render_shape", 5, render_shape_func},
      {"render_shape", 6, render_shape_func},   {"resim_jaccard", 4, resim_jaccard_func},
      {"shape_fit", 1, shape_fit_func},         {"shape_fit", 2, shape_fit_func},
      {"shape_baselines", 1, shape_baselines_func},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    int rc = sqlite3_create_function(db, fns[i].name, fns[i].nargs, NM_PURE, NULL, fns[i].fn,
                                     NULL, NULL);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
