/*
** particles.c — particles(image [, options [, labels]]): one row per particle.
**
**   SELECT label, excluded, area, major_axis_nm FROM particles('samples/a.tif');
**   CREATE TABLE particle AS
**     SELECT m.path, p.* FROM micrographs('samples') m, particles(m.path) p;
**   SELECT * FROM particles('a.png', '{"labels":"a_labels.png"}');   -- your own labels
**   SELECT * FROM particles('a.png', NULL, readfile('a_mask.png'));  -- labels as a BLOB
**
** image: a path (TEXT) or the bytes of an image file (BLOB). options: a JSON
** object; the micrograph keys (frame, page, max_pixels, nm_per_px,
** scale_bar), `labels` (path of a label image to measure instead of
** segmenting) and every segmentation key. labels: a label image BLOB (or
** path), the same as the option.
**
** Columns: label, excluded (NULL or 'edge' / 'scale_bar' / 'outlier' /
** 'too_small' / 'texture'), the 30 features of ext/features.h in pixels (bbox and
** centroid among them), the size features in nm / nm² (NULL when the pixel
** size is unknown), nm_per_px, scale_px (segmentation's estimated particle
** diameter in px for this image; NULL with user labels), crop (the
** canonical CNN crop, 8-bit PNG,
** made only when the column is read) and mask (the particle's binary mask in
** its bounding box, 8-bit PNG, 255 = particle). Hidden: image, options, labels.
**
** It is an eponymous-only virtual table (no CREATE VIRTUAL TABLE), and
** DIRECTONLY because it reads files named by its arguments: schema objects
** (views, triggers) must not be able to make it read files.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/crop.h"
#include "../ext/particles.h"
#include "../udf/bind.h"
#include "../udf/register.h"

enum {
  COL_LABEL = 0,
  COL_EXCLUDED = 1,
  COL_FEAT = 2,
  COL_NM = COL_FEAT + NM_FEATURE_COUNT,
  COL_NM_PER_PX = COL_NM + NM_FEATURE_NM_COUNT,
  COL_SCALE_PX,
  COL_CROP,
  COL_MASK,
  COL_IMAGE,
  COL_OPTIONS,
  COL_LABELS
};

#define IDX_OPTIONS 1
#define IDX_LABELS 2

typedef struct particles_vtab {
  sqlite3_vtab base; /* must be first */
  sqlite3 *db;
} particles_vtab;

typedef struct particles_cursor {
  sqlite3_vtab_cursor base; /* must be first */
  nm_particle_set set;
  int *rows;     /* labels with at least one pixel, ascending */
  int n_rows;
  int i;
  double nm_per_px;
} particles_cursor;

static int is_whole_feature(int i) {
  /* area, bbox_x, bbox_y, bbox_w, bbox_h, convex_area, filled_area, euler_number */
  return i == 0 || (i >= 4 && i <= 7) || i == 12 || i == 17 || i == 18;
}

/* xConnect: declares the schema built from the engine's feature names. */
static int particles_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                             sqlite3_vtab **ppVtab, char **pzErr) {
  (void)aux, (void)argc, (void)argv, (void)pzErr;
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendall(s, "CREATE TABLE x(label INTEGER, excluded TEXT");
  const char *const *names = nm_feature_names();
  for (int i = 0; i < NM_FEATURE_COUNT; i++)
    sqlite3_str_appendf(s, ", %s %s", names[i], is_whole_feature(i) ? "INTEGER" : "REAL");
  const char *const *nm = nm_feature_nm_names();
  for (int i = 0; i < NM_FEATURE_NM_COUNT; i++) sqlite3_str_appendf(s, ", %s REAL", nm[i]);
  sqlite3_str_appendall(s, ", nm_per_px REAL, scale_px REAL, crop BLOB, mask BLOB,"
                           " image HIDDEN, options HIDDEN, labels HIDDEN)");
  char *sql = sqlite3_str_finish(s);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_declare_vtab(db, sql);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  particles_vtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect */
static int particles_disconnect(sqlite3_vtab *vtab) {
  sqlite3_free(vtab);
  return SQLITE_OK;
}

/* xOpen */
static int particles_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **ppCursor) {
  (void)vtab;
  particles_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *ppCursor = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(particles_cursor *c) {
  nm_particle_set_free(&c->set);
  sqlite3_free(c->rows);
  c->rows = NULL;
  c->n_rows = 0;
  c->i = 0;
}

/* xClose */
static int particles_close(sqlite3_vtab_cursor *cur) {
  particles_cursor *c = (particles_cursor *)cur;
  cursor_reset(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int set_error(sqlite3_vtab *vtab, const nm_error *err) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("particles(): %s", err->msg[0] ? err->msg : "failed");
  switch (err->code) {
    case NM_ERR_NOMEM: return SQLITE_NOMEM;
    case NM_ERR_TOOBIG: return SQLITE_TOOBIG;
    case NM_ERR_INTERRUPTED: return SQLITE_INTERRUPT;
    default: return SQLITE_ERROR;
  }
}

/* xFilter: runs the whole pipeline for one image; rows are then served from
** memory. argv: image, then options (IDX_OPTIONS), then labels (IDX_LABELS). */
static int particles_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                            sqlite3_value **argv) {
  (void)idxStr;
  particles_cursor *c = (particles_cursor *)cur;
  particles_vtab *v = (particles_vtab *)cur->pVtab;
  cursor_reset(c);
  nm_error err;
  nm_error_clear(&err);
  if (argc < 1) {
    nm_fail(&err, NM_ERR_ARG, "needs an image argument");
    return set_error(cur->pVtab, &err);
  }
  sqlite3_value *image = argv[0];
  int a = 1;
  sqlite3_value *options = (idxNum & IDX_OPTIONS) && a < argc ? argv[a++] : NULL;
  sqlite3_value *labels = (idxNum & IDX_LABELS) && a < argc ? argv[a++] : NULL;

  nm_particles_opts *o = nm_particles_opts_new();
  if (!o) return SQLITE_NOMEM;
  nm_status st = nm_bind_options(v->db, options, "particles", nm_particles_opts_set, o, &err);
  if (st == NM_OK && labels) {
    switch (sqlite3_value_type(labels)) {
      case SQLITE_NULL: break;
      case SQLITE_BLOB:
        if (sqlite3_value_bytes(labels) <= 0) {
          st = nm_fail(&err, NM_ERR_FORMAT, "labels BLOB is empty");
          break;
        }
        nm_particles_opts_labels_blob(o, sqlite3_value_blob(labels),
                                      (size_t)sqlite3_value_bytes(labels));
        break;
      case SQLITE_TEXT:
        st = nm_particles_opts_set(o, "labels", NAN, (const char *)sqlite3_value_text(labels), &err);
        break;
      default:
        st = nm_fail(&err, NM_ERR_ARG, "labels must be a label image path (TEXT) or BLOB, not a number");
    }
  }
  const char *path = NULL;
  const void *buf = NULL;
  int n = 0;
  if (st == NM_OK) st = nm_bind_image_source(image, &path, &buf, &n, &err);
  if (st == NM_OK) {
    nm_bind_progress p;
    nm_bind_progress_begin(&p, v->db, "particles");
    st = nm_particles_run(path, buf, (size_t)n, o, 1, &p.progress, &c->set, &err);
    nm_bind_progress_end(&p);
  }
  nm_particles_opts_free(o);
  if (st != NM_OK) return set_error(cur->pVtab, &err);

  c->nm_per_px = nm_particle_set_nm_per_px(&c->set);
  int nl = c->set.n_labels;
  c->rows = sqlite3_malloc64((sqlite3_uint64)(nl > 0 ? nl : 1) * sizeof *c->rows);
  if (!c->rows) return SQLITE_NOMEM;
  for (int k = 1; k <= nl; k++)
    if (c->set.features[k - 1].area > 0) c->rows[c->n_rows++] = k;
  c->i = 0;
  return SQLITE_OK;
}

/* xNext */
static int particles_next(sqlite3_vtab_cursor *cur) {
  ((particles_cursor *)cur)->i++;
  return SQLITE_OK;
}

/* xEof */
static int particles_eof(sqlite3_vtab_cursor *cur) {
  particles_cursor *c = (particles_cursor *)cur;
  return c->i >= c->n_rows;
}

/* xRowid: the label is unique within one image. */
static int particles_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  particles_cursor *c = (particles_cursor *)cur;
  *pRowid = nm_particle_set_label(&c->set, c->rows[c->i]);
  return SQLITE_OK;
}

static void result_double(sqlite3_context *ctx, double v, int whole) {
  if (isnan(v) || isinf(v)) sqlite3_result_null(ctx);
  else if (whole) sqlite3_result_int64(ctx, (sqlite3_int64)v);
  else sqlite3_result_double(ctx, v);
}

static void result_crop(sqlite3_context *ctx, particles_cursor *c, const nm_features *f) {
  nm_error err;
  nm_error_clear(&err);
  float *crop = nm_malloc((size_t)NM_CROP_SIZE * NM_CROP_SIZE, sizeof *crop, &err);
  unsigned char *png = NULL;
  size_t png_n = 0;
  nm_status st = crop ? NM_OK : err.code;
  if (st == NM_OK)
    st = nm_crop_from_labels(c->set.labels, c->set.width, c->set.height, f->label,
                             (int)f->bbox_x, (int)f->bbox_y, (int)f->bbox_w, (int)f->bbox_h,
                             NM_CROP_SIZE, crop, &err);
  if (st == NM_OK) st = nm_crop_encode_png(crop, NM_CROP_SIZE, &png, &png_n, &err);
  free(crop);
  if (st == NM_OK) sqlite3_result_blob(ctx, png, (int)png_n, free);
  else nm_bind_error(ctx, "particles", &err);
}

static void result_mask(sqlite3_context *ctx, particles_cursor *c, const nm_features *f) {
  nm_error err;
  nm_error_clear(&err);
  int bw = (int)f->bbox_w, bh = (int)f->bbox_h;
  uint8_t *m = nm_malloc((size_t)bw * (size_t)bh, 1, &err);
  unsigned char *png = NULL;
  size_t png_n = 0;
  nm_status st = m ? NM_OK : err.code;
  if (st == NM_OK) {
    nm_label_mask(c->set.labels, c->set.width, c->set.height, f->label, (int)f->bbox_x,
                  (int)f->bbox_y, bw, bh, 255, m);
    st = nm_png_encode(m, bw, bh, 8, 1, &png, &png_n, &err);
  }
  free(m);
  if (st == NM_OK && png_n > 0x7fffffff) {
    free(png);
    st = nm_fail(&err, NM_ERR_TOOBIG, "mask PNG over 2 GiB");
  }
  if (st == NM_OK) sqlite3_result_blob(ctx, png, (int)png_n, free);
  else nm_bind_error(ctx, "particles", &err);
}

/* xColumn */
static int particles_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  particles_cursor *c = (particles_cursor *)cur;
  int k = c->rows[c->i];
  const nm_features *f = &c->set.features[k - 1];
  if (col == COL_LABEL) {
    sqlite3_result_int(ctx, nm_particle_set_label(&c->set, k));
  } else if (col == COL_EXCLUDED) {
    const char *why = nm_exclusion_name((nm_exclusion)c->set.excluded[k]);
    if (why) sqlite3_result_text(ctx, why, -1, SQLITE_STATIC);
    else sqlite3_result_null(ctx);
  } else if (col >= COL_FEAT && col < COL_NM) {
    result_double(ctx, nm_feature_value(f, col - COL_FEAT), is_whole_feature(col - COL_FEAT));
  } else if (col >= COL_NM && col < COL_NM_PER_PX) {
    result_double(ctx, nm_feature_nm_value(f, col - COL_NM, c->nm_per_px), 0);
  } else if (col == COL_NM_PER_PX) {
    result_double(ctx, c->nm_per_px, 0);
  } else if (col == COL_SCALE_PX) {
    result_double(ctx, c->set.scale_px, 0);
  } else if (col == COL_CROP) {
    result_crop(ctx, c, f);
  } else if (col == COL_MASK) {
    result_mask(ctx, c, f);
  } else {
    sqlite3_result_null(ctx); /* hidden argument columns */
  }
  return SQLITE_OK;
}

/*
** xBestIndex: image is required, options and labels optional, all by
** equality. A required argument that is present but not usable yet (it
** comes from a table joined later) makes this plan impossible
** (SQLITE_CONSTRAINT) so the planner puts the other table first; an absent
** image is an error.
*/
static int particles_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  int idx[3] = {-1, -1, -1};
  int unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *p = &info->aConstraint[i];
    if (p->iColumn < COL_IMAGE) continue;
    int which = p->iColumn - COL_IMAGE;
    if (p->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!p->usable) {
      unusable |= 1 << which;
      continue;
    }
    idx[which] = i;
  }
  if (idx[0] < 0) {
    if (unusable & 1) return SQLITE_CONSTRAINT;
    sqlite3_free(vtab->zErrMsg);
    vtab->zErrMsg = sqlite3_mprintf("particles(): needs an image argument (a path or an image BLOB)");
    return SQLITE_ERROR;
  }
  if ((unusable & 2) && idx[1] < 0) return SQLITE_CONSTRAINT;
  if ((unusable & 4) && idx[2] < 0) return SQLITE_CONSTRAINT;
  int argv_i = 1, num = 0;
  info->aConstraintUsage[idx[0]].argvIndex = argv_i++;
  info->aConstraintUsage[idx[0]].omit = 1;
  if (idx[1] >= 0) {
    info->aConstraintUsage[idx[1]].argvIndex = argv_i++;
    info->aConstraintUsage[idx[1]].omit = 1;
    num |= IDX_OPTIONS;
  }
  if (idx[2] >= 0) {
    info->aConstraintUsage[idx[2]].argvIndex = argv_i++;
    info->aConstraintUsage[idx[2]].omit = 1;
    num |= IDX_LABELS;
  }
  info->idxNum = num;
  info->estimatedCost = 1e6;
  info->estimatedRows = 200;
  return SQLITE_OK;
}

static sqlite3_module particles_module = {
    0,                    /* iVersion */
    0,                    /* xCreate: NULL makes it eponymous-only */
    particles_connect,    /* xConnect */
    particles_best_index, /* xBestIndex */
    particles_disconnect, /* xDisconnect */
    0,                    /* xDestroy */
    particles_open,       /* xOpen */
    particles_close,      /* xClose */
    particles_filter,     /* xFilter */
    particles_next,       /* xNext */
    particles_eof,        /* xEof */
    particles_column,     /* xColumn */
    particles_rowid,      /* xRowid */
    0,                    /* xUpdate: read-only */
    0,                    /* xBegin */
    0,                    /* xSync */
    0,                    /* xCommit */
    0,                    /* xRollback */
    0,                    /* xFindFunction */
    0,                    /* xRename */
    0,                    /* xSavepoint */
    0,                    /* xRelease */
    0,                    /* xRollbackTo */
    0,                    /* xShadowName */
};

int nm_register_particles(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  return sqlite3_create_module(db, "particles", &particles_module, NULL);
}
