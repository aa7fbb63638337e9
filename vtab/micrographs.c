/*
** vtab/micrographs.c — micrographs(pattern [, options]): one row per image
** file matching a glob pattern (or every image file in a directory), with
** its geometry and the calibration nm_micrograph_open() settles for it.
**
** Eponymous table-valued function, DIRECTONLY (it reads files). Files are
** opened lazily, one per xNext, header only unless a scale bar has to be
** read; a file that cannot be read yields a row whose `error` says why.
*/
#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../ext/micrograph.h"
#include "../udf/bind.h"
#include "../udf/register.h"

#define FNAME "micrographs"

enum {
  COL_PATH, COL_FORMAT, COL_WIDTH, COL_HEIGHT, COL_CHANNELS, COL_BITS, COL_PAGES, COL_FRAMES,
  COL_NM, COL_NM_X, COL_NM_Y, COL_SOURCE, COL_NOTE, COL_MODE, COL_DATABAR, COL_BYTES, COL_ERROR,
  COL_PATTERN, COL_OPTIONS /* hidden: the arguments */
};

static const char *const SCHEMA =
    "CREATE TABLE x(path TEXT, format TEXT, width INTEGER, height INTEGER, channels INTEGER,"
    " bits INTEGER, pages INTEGER, frames INTEGER, nm_per_px REAL, nm_per_px_x REAL,"
    " nm_per_px_y REAL, calibration_source TEXT, calibration_note TEXT, mode TEXT,"
    " databar_rows INTEGER, bytes INTEGER, error TEXT,"
    " pattern HIDDEN, options HIDDEN)";

static const char *const IMAGE_EXT[] = {"png", "tif", "tiff", "dm3", "dm4",
                                        "ser", "emd", "mrc"};

typedef struct mg_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
} mg_vtab;

typedef struct mg_cursor {
  sqlite3_vtab_cursor base;
  char **paths;
  size_t n, i;
  nm_micrograph_opts opts;
  /* the current row */
  int loaded;
  nm_micrograph m;
  nm_status status;
  nm_error err;
  long long bytes;
  nm_bind_progress progress;
  int progress_on;
} mg_cursor;

static int has_image_ext(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return 0;
  for (size_t i = 0; i < sizeof IMAGE_EXT / sizeof IMAGE_EXT[0]; i++)
    if (!strcasecmp(dot + 1, IMAGE_EXT[i])) return 1;
  return 0;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_paths(mg_cursor *c) {
  for (size_t i = 0; i < c->n; i++) sqlite3_free(c->paths[i]);
  sqlite3_free(c->paths);
  c->paths = NULL;
  c->n = c->i = 0;
}

static int push_path(mg_cursor *c, size_t *cap, const char *path) {
  if (c->n == *cap) {
    size_t grown = *cap ? *cap * 2 : 16;
    char **p = sqlite3_realloc64(c->paths, grown * sizeof *p);
    if (!p) return SQLITE_NOMEM;
    c->paths = p;
    *cap = grown;
  }
  char *copy = sqlite3_mprintf("%s", path);
  if (!copy) return SQLITE_NOMEM;
  c->paths[c->n++] = copy;
  return SQLITE_OK;
}

static int has_wildcard(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* A directory: its image files, sorted. A pattern: its matches; with a
** wildcard only image files are kept (a README beside the TIFFs is not a
** micrograph), a pattern naming one file keeps it whatever its name, and
** even when it does not exist (its row then carries the error). */
static int expand(mg_cursor *c, const char *pattern, char **errmsg) {
  size_t cap = 0;
  int rc = SQLITE_OK;
  if (is_dir(pattern)) {
    DIR *d = opendir(pattern);
    if (!d) {
      *errmsg = sqlite3_mprintf(FNAME "(): %s: cannot open the directory", pattern);
      return SQLITE_ERROR;
    }
    size_t len = strlen(pattern);
    int slash = len > 0 && pattern[len - 1] == '/';
    struct dirent *e;
    while (rc == SQLITE_OK && (e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
      char *full = sqlite3_mprintf("%s%s%s", pattern, slash ? "" : "/", e->d_name);
      if (!full) {
        rc = SQLITE_NOMEM;
        break;
      }
      if (is_file(full)) rc = push_path(c, &cap, full);
      sqlite3_free(full);
    }
    closedir(d);
    if (rc == SQLITE_OK && c->n > 1) qsort(c->paths, c->n, sizeof *c->paths, cmp_str);
    return rc;
  }
  glob_t g;
  memset(&g, 0, sizeof g);
  int gr = glob(pattern, 0, NULL, &g);
  if (gr == GLOB_NOMATCH) {
    globfree(&g);
    /* A path named exactly that is missing is a row with the error (a typo
    ** must not look like an empty directory); a wildcard matching nothing
    ** is no rows. */
    return has_wildcard(pattern) ? SQLITE_OK : push_path(c, &cap, pattern);
  }
  if (gr != 0) {
    globfree(&g);
    if (gr == GLOB_NOSPACE) return SQLITE_NOMEM;
    *errmsg = sqlite3_mprintf(FNAME "(): %s: cannot read the directory of the pattern", pattern);
    return SQLITE_ERROR;
  }
  int wild = has_wildcard(pattern);
  for (size_t i = 0; rc == SQLITE_OK && i < g.gl_pathc; i++) {
    const char *p = g.gl_pathv[i];
    if (is_dir(p)) continue;
    if (wild && !has_image_ext(p)) continue;
    rc = push_path(c, &cap, p);
  }
  globfree(&g);
  return rc;
}

/* ---- vtab plumbing ---- */

static int mg_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **errmsg) {
  (void)aux;
  (void)argc;
  (void)argv;
  (void)errmsg;
  int rc = sqlite3_declare_vtab(db, SCHEMA);
  if (rc != SQLITE_OK) return rc;
  mg_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *out = &v->base;
  return SQLITE_OK;
}

static int mg_disconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* idxNum bit 1: pattern given, bit 2: options given; argv order follows. */
static int mg_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  int where[2] = {-1, -1};
  int unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn < COL_PATTERN) continue;
    int slot = k->iColumn - COL_PATTERN;
    if (k->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!k->usable) {
      unusable |= 1 << slot;
      continue;
    }
    where[slot] = i;
  }
  /* A hidden argument that exists but is not usable yet (a join feeding it):
  ** ask the planner for another order instead of failing. */
  if ((unusable & 1) && where[0] < 0) return SQLITE_CONSTRAINT;
  if ((unusable & 2) && where[1] < 0) return SQLITE_CONSTRAINT;
  if (where[0] < 0) {
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf(FNAME "(): the pattern argument is required");
    return SQLITE_ERROR;
  }
  int argv_i = 1;
  info->idxNum = 0;
  for (int s = 0; s < 2; s++) {
    if (where[s] < 0) continue;
    info->aConstraintUsage[where[s]].argvIndex = argv_i++;
    info->aConstraintUsage[where[s]].omit = 1;
    info->idxNum |= 1 << s;
  }
  info->estimatedCost = 1000;
  info->estimatedRows = 100;
  return SQLITE_OK;
}

static int mg_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  mg_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static void clear_row(mg_cursor *c) {
  if (c->loaded) nm_micrograph_free(&c->m);
  c->loaded = 0;
  c->status = NM_OK;
  nm_error_clear(&c->err);
  c->bytes = -1;
}

static void stop_progress(mg_cursor *c) {
  if (c->progress_on) nm_bind_progress_end(&c->progress);
  c->progress_on = 0;
}

static int mg_close(sqlite3_vtab_cursor *cur) {
  mg_cursor *c = (mg_cursor *)cur;
  clear_row(c);
  stop_progress(c);
  free_paths(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* Opens the file at c->i: header only, pixels when the scale bar must be read. */
static int load_row(mg_cursor *c) {
  clear_row(c);
  if (c->i >= c->n) return SQLITE_OK;
  if (nm_progress_tick(&c->progress.progress, (double)c->i, (double)c->n, FNAME)) {
    sqlite3_free(c->base.pVtab->zErrMsg);
    c->base.pVtab->zErrMsg = sqlite3_mprintf(FNAME "(): interrupted");
    return SQLITE_INTERRUPT;
  }
  const char *path = c->paths[c->i];
  struct stat st;
  if (stat(path, &st) == 0) c->bytes = (long long)st.st_size;
  nm_micrograph_opts o = c->opts;
  o.header_only = 1;
  c->status = nm_micrograph_open(path, NULL, 0, &o, &c->m, &c->err);
  c->loaded = 1;
  if (c->status == NM_ERR_NOMEM) return SQLITE_NOMEM;
  if (c->status == NM_ERR_INTERRUPTED) return SQLITE_INTERRUPT;
  return SQLITE_OK;
}

static int mg_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
  (void)idxStr;
  mg_cursor *c = (mg_cursor *)cur;
  mg_vtab *v = (mg_vtab *)cur->pVtab;
  clear_row(c);
  stop_progress(c);
  free_paths(c);
  nm_micrograph_opts_default(&c->opts);
  sqlite3_value *pattern = NULL, *options = NULL;
  int k = 0;
  if ((idxNum & 1) && k < argc) pattern = argv[k++];
  if ((idxNum & 2) && k < argc) options = argv[k++];
  if (!pattern || sqlite3_value_type(pattern) != SQLITE_TEXT) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf(
        FNAME "(): pattern must be TEXT (a path, glob pattern or directory), not %s",
        !pattern || sqlite3_value_type(pattern) == SQLITE_NULL ? "NULL"
        : sqlite3_value_type(pattern) == SQLITE_BLOB          ? "a BLOB"
                                                              : "a number");
    return SQLITE_ERROR;
  }
  nm_error err;
  nm_error_clear(&err);
  if (options && nm_bind_options(v->db, options, FNAME, nm_micrograph_opts_set, &c->opts,
                                 &err) != NM_OK) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf(FNAME "(): %s", err.msg);
    return SQLITE_ERROR;
  }
  const char *pat = (const char *)sqlite3_value_text(pattern);
  if (!pat || !pat[0]) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf(FNAME "(): pattern is empty");
    return SQLITE_ERROR;
  }
  char *msg = NULL;
  int rc = expand(c, pat, &msg);
  if (rc != SQLITE_OK) {
    if (msg) {
      sqlite3_free(cur->pVtab->zErrMsg);
      cur->pVtab->zErrMsg = msg;
    }
    return rc;
  }
  nm_bind_progress_begin(&c->progress, v->db, FNAME);
  c->progress_on = 1;
  c->i = 0;
  return load_row(c);
}

static int mg_next(sqlite3_vtab_cursor *cur) {
  mg_cursor *c = (mg_cursor *)cur;
  c->i++;
  int rc = load_row(c);
  if (c->i >= c->n) stop_progress(c);
  return rc;
}

static int mg_eof(sqlite3_vtab_cursor *cur) {
  mg_cursor *c = (mg_cursor *)cur;
  return c->i >= c->n;
}

static void result_size(sqlite3_context *ctx, double v) {
  if (isfinite(v) && v > 0) sqlite3_result_double(ctx, v);
  else sqlite3_result_null(ctx);
}

static int mg_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  mg_cursor *c = (mg_cursor *)cur;
  const nm_micrograph *m = &c->m;
  const nm_image *im = &m->img;
  int ok = c->loaded && c->status == NM_OK;
  if (col == COL_PATH) {
    sqlite3_result_text(ctx, c->paths[c->i], -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if (col == COL_BYTES) {
    if (c->bytes >= 0) sqlite3_result_int64(ctx, c->bytes);
    return SQLITE_OK;
  }
  if (col == COL_ERROR) {
    if (!ok) sqlite3_result_text(ctx, c->err.msg[0] ? c->err.msg : "cannot read", -1,
                                 SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if (!ok) return SQLITE_OK; /* NULL */
  int known = nm_calib_known(&im->calib);
  switch (col) {
    case COL_FORMAT: sqlite3_result_text(ctx, im->format, -1, SQLITE_TRANSIENT); break;
    case COL_WIDTH: sqlite3_result_int(ctx, m->file_width); break;
    case COL_HEIGHT: sqlite3_result_int(ctx, m->file_height); break;
    case COL_CHANNELS: sqlite3_result_int(ctx, im->channels); break;
    case COL_BITS: sqlite3_result_int(ctx, im->bits); break;
    case COL_PAGES:
    case COL_FRAMES: sqlite3_result_int(ctx, im->frames); break;
    case COL_NM:
      /* the square pixel particles() works in (after any resampling) */
      if (known) result_size(ctx, im->calib.nm_per_px_x);
      break;
    case COL_NM_X:
    case COL_NM_Y: {
      /* the file's own per-axis sizes (before any resampling), unless the
      ** user or the scale bar gave the size */
      int from_file = isfinite(m->file_nm_per_px_x) && strcmp(im->calib.source, "user") != 0;
      double v = from_file ? (col == COL_NM_X ? m->file_nm_per_px_x : m->file_nm_per_px_y)
                 : known   ? (col == COL_NM_X ? im->calib.nm_per_px_x : im->calib.nm_per_px_y)
                           : NAN;
      result_size(ctx, v);
      break;
    }
    case COL_SOURCE:
      if (im->calib.source[0]) sqlite3_result_text(ctx, im->calib.source, -1, SQLITE_TRANSIENT);
      break;
    case COL_NOTE:
      if (m->note[0]) sqlite3_result_text(ctx, m->note, -1, SQLITE_TRANSIENT);
      break;
    case COL_MODE:
      sqlite3_result_text(ctx, im->calib.mode == NM_MODE_DIFFRACTION ? "diffraction" : "image",
                          -1, SQLITE_STATIC);
      break;
    case COL_DATABAR: sqlite3_result_int(ctx, m->databar_rows); break;
    default: break;
  }
  return SQLITE_OK;
}

static int mg_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((mg_cursor *)cur)->i + 1;
  return SQLITE_OK;
}

static sqlite3_module micrographs_module = {
    0,               /* iVersion */
    0,               /* xCreate: eponymous only */
    mg_connect,      mg_best_index, mg_disconnect, 0, /* xDestroy */
    mg_open,         mg_close,      mg_filter,     mg_next,
    mg_eof,          mg_column,     mg_rowid,
    0, 0, 0, 0, 0, 0, 0, /* xUpdate .. xRename */
    0, 0, 0, 0,          /* xSavepoint .. xShadowName */
#if SQLITE_VERSION_NUMBER >= 3044000
    0,                   /* xIntegrity */
#endif
};

int nm_register_micrographs(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  return sqlite3_create_module(db, "micrographs", &micrographs_module, NULL);
}
