/*
** vtab/cnn_params.c — the CNN over a whole table, batched.
**
**   CREATE TABLE shape AS SELECT * FROM cnn_params('particle');
**   SELECT * FROM cnn_params('particle', 'shape-v1');          -- a stored model
**   SELECT * FROM cnn_params('particle', NULL, 'my_crop');     -- default model, other column
**
** Columns: rowid (the source row's rowid), p, d, lratio. Hidden arguments:
** tbl (a table or view name in the main schema, required), model (a model
** BLOB or a name in nanomorph_models; NULL or absent = built-in weights),
** crop_column (default 'crop', holding crop PNG BLOBs).
**
** Rows are read with one prepared statement and predicted 256 at a time:
** one GEMM per layer per batch, not one network pass per row. A NULL crop
** gives a row with NULL p, d, lratio; a crop that is not a PNG of the
** model's size stops the scan with an error naming the rowid.
**
** Eponymous-only: cnn_params is a table-valued function, not a table one
** creates. It reads no files, so it is not DIRECTONLY.
*/
#include <stdlib.h>
#include <string.h>

#include "../ext/cnn.h"
#include "../udf/bind.h"
#include "../udf/cnn_model.h"
#include "../udf/register.h"

#define BATCH 256

enum { COL_ROWID, COL_P, COL_D, COL_LRATIO, COL_TBL, COL_MODEL, COL_CROPCOL };

typedef struct cp_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
} cp_vtab;

typedef struct cp_cursor {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *st;
  nm_cnn *net;
  int owned;
  int size;
  int done;        /* the statement has no more rows */
  int eof;
  int count, pos;  /* rows in the current batch, the current one */
  sqlite3_int64 rowid[BATCH];
  int valid[BATCH];
  float out[BATCH * 3];
  float *x;        /* BATCH crops */
  float *pred;
} cp_cursor;

/* xConnect: declares the columns. */
static int cp_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr) {
  (void)aux, (void)argc, (void)argv, (void)pzErr;
  int rc = sqlite3_declare_vtab(db,
      "CREATE TABLE x(rowid INTEGER, p REAL, d REAL, lratio REAL,"
      " tbl HIDDEN, model HIDDEN, crop_column HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  cp_vtab *v = sqlite3_malloc64(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

/* xDisconnect: frees the vtab. */
static int cp_disconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* xOpen: a zeroed cursor. */
static int cp_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **pp) {
  (void)vt;
  cp_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *pp = &c->base;
  return SQLITE_OK;
}

static void cp_reset(cp_cursor *c) {
  sqlite3_finalize(c->st);
  c->st = NULL;
  if (c->owned) nm_cnn_free(c->net);
  c->net = NULL;
  c->owned = 0;
  free(c->x);
  free(c->pred);
  c->x = c->pred = NULL;
  c->count = c->pos = 0;
  c->done = c->eof = 1;
}

/* xClose */
static int cp_close(sqlite3_vtab_cursor *cur) {
  cp_cursor *c = (cp_cursor *)cur;
  cp_reset(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int cp_error(cp_cursor *c, const char *fmt, const char *a, const char *b) {
  sqlite3_vtab *vt = c->base.pVtab;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf(fmt, a, b);
  return SQLITE_ERROR;
}

/* Reads up to BATCH rows and predicts the non-NULL crops in one call. */
static int cp_fill(cp_cursor *c) {
  size_t px = (size_t)c->size * c->size;
  int k = 0, nvalid = 0;
  c->count = c->pos = 0;
  while (k < BATCH && !c->done) {
    int rc = sqlite3_step(c->st);
    if (rc == SQLITE_DONE) {
      c->done = 1;
      break;
    }
    if (rc != SQLITE_ROW)
      return cp_error(c, "cnn_params(): %s%s", sqlite3_errmsg(sqlite3_db_handle(c->st)), "");
    c->rowid[k] = sqlite3_column_int64(c->st, 0);
    sqlite3_value *crop = sqlite3_column_value(c->st, 1);
    c->valid[k] = sqlite3_value_type(crop) != SQLITE_NULL;
    if (c->valid[k]) {
      nm_error err;
      if (nm_cnn_bind_crop(crop, c->size, c->x + (size_t)nvalid * px, &err) != NM_OK) {
        char id[32];
        sqlite3_snprintf(sizeof id, id, "%lld", c->rowid[k]);
        return cp_error(c, "cnn_params(): row %s: %s", id, err.msg);
      }
      nvalid++;
    }
    k++;
  }
  if (nvalid) {
    nm_error err;
    if (nm_cnn_predict(c->net, c->x, (size_t)nvalid, BATCH, c->pred, &err) != NM_OK)
      return cp_error(c, "cnn_params(): %s%s", err.msg, "");
  }
  for (int i = 0, j = 0; i < k; i++)
    if (c->valid[i]) {
      memcpy(c->out + i * 3, c->pred + j * 3, sizeof(float) * 3);
      j++;
    }
  c->count = k;
  c->eof = k == 0;
  return SQLITE_OK;
}

/* xNext: the next row of the batch, reading a new batch when it is used up. */
static int cp_next(sqlite3_vtab_cursor *cur) {
  cp_cursor *c = (cp_cursor *)cur;
  if (++c->pos < c->count) return SQLITE_OK;
  if (c->done) {
    c->eof = 1;
    return SQLITE_OK;
  }
  return cp_fill(c);
}

/* xColumn */
static int cp_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  cp_cursor *c = (cp_cursor *)cur;
  int i = c->pos;
  if (col == COL_ROWID) sqlite3_result_int64(ctx, c->rowid[i]);
  else if (col >= COL_P && col <= COL_LRATIO) {
    if (c->valid[i]) sqlite3_result_double(ctx, c->out[i * 3 + col - COL_P]);
    else sqlite3_result_null(ctx);
  }
  /* hidden argument columns read back as NULL */
  return SQLITE_OK;
}

/* xRowid: the position in the output. */
static int cp_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  cp_cursor *c = (cp_cursor *)cur;
  *pRowid = c->rowid[c->pos];
  return SQLITE_OK;
}

/* xEof */
static int cp_eof(sqlite3_vtab_cursor *cur) { return ((cp_cursor *)cur)->eof; }

/* xFilter: idxNum bit k set = hidden argument k (tbl, model, crop_column)
** present, in argv in that order. */
static int cp_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
  (void)idxStr;
  cp_cursor *c = (cp_cursor *)cur;
  cp_vtab *v = (cp_vtab *)cur->pVtab;
  cp_reset(c);
  sqlite3_value *tbl = NULL, *model = NULL, *cropcol = NULL;
  int i = 0;
  if (idxNum & 1) tbl = argv[i++];
  if (idxNum & 2) model = argv[i++];
  if (idxNum & 4) cropcol = argv[i++];
  (void)argc;
  if (!tbl || sqlite3_value_type(tbl) != SQLITE_TEXT)
    return cp_error(c, "cnn_params(): the first argument must be a table name%s%s", "", "");
  const char *col = "crop";
  if (cropcol && sqlite3_value_type(cropcol) != SQLITE_NULL) {
    if (sqlite3_value_type(cropcol) != SQLITE_TEXT)
      return cp_error(c, "cnn_params(): crop_column must be a column name%s%s", "", "");
    col = (const char *)sqlite3_value_text(cropcol);
  }
  nm_error err;
  nm_error_clear(&err);
  sqlite3_value *marg = model && sqlite3_value_type(model) != SQLITE_NULL ? model : NULL;
  if (nm_cnn_bind_model(v->db, marg, "cnn_params", &c->net, &c->owned, &err) != NM_OK)
    return cp_error(c, "cnn_params(): %s%s", err.msg, "");
  c->size = nm_cnn_input_size(c->net);
  size_t px = (size_t)c->size * c->size;
  c->x = malloc(sizeof(float) * px * BATCH);
  c->pred = malloc(sizeof(float) * 3 * BATCH);
  if (!c->x || !c->pred) return SQLITE_NOMEM;
  /* A double-quoted name that is no column would silently be read as a
  ** string literal by SQLite, so the column is looked up first. */
  const char *tname = (const char *)sqlite3_value_text(tbl);
  sqlite3_stmt *chk = NULL;
  int found = 0;
  if (sqlite3_prepare_v2(v->db, "SELECT 1 FROM pragma_table_xinfo(?1) WHERE name = ?2 COLLATE NOCASE",
                         -1, &chk, NULL) == SQLITE_OK) {
    sqlite3_bind_text(chk, 1, tname, -1, SQLITE_STATIC);
    sqlite3_bind_text(chk, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(chk) == SQLITE_ROW;
  }
  sqlite3_finalize(chk);
  char *sql = sqlite3_mprintf("SELECT rowid, \"%w\" FROM \"%w\"", col, tname);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(v->db, sql, -1, &c->st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return cp_error(c, "cnn_params(): %s%s", sqlite3_errmsg(v->db), "");
  if (!found) return cp_error(c, "cnn_params(): table %s has no column '%s'", tname, col);
  c->done = c->eof = 0;
  return cp_fill(c);
}

/* xBestIndex: tbl is required; model and crop_column optional. */
static int cp_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  int idx[3] = {-1, -1, -1};
  int unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn < COL_TBL) continue;
    if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ) {
      if (k->iColumn == COL_TBL) unusable = 1;
      continue;
    }
    idx[k->iColumn - COL_TBL] = i;
  }
  if (idx[0] < 0) {
    if (unusable) return SQLITE_CONSTRAINT;
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("cnn_params(): a table name is required: cnn_params('table' [, model [, crop_column]])");
    return SQLITE_ERROR;
  }
  int n = 0, mask = 0;
  for (int j = 0; j < 3; j++)
    if (idx[j] >= 0) {
      info->aConstraintUsage[idx[j]].argvIndex = ++n;
      info->aConstraintUsage[idx[j]].omit = 1;
      mask |= 1 << j;
    }
  info->idxNum = mask;
  info->estimatedCost = 1e6;
  info->estimatedRows = 100000;
  return SQLITE_OK;
}

static sqlite3_module cp_module = {
    0,              /* iVersion */
    0,              /* xCreate: eponymous-only */
    cp_connect,     /* xConnect */
    cp_best_index,  /* xBestIndex */
    cp_disconnect,  /* xDisconnect */
    0,              /* xDestroy */
    cp_open,        /* xOpen */
    cp_close,       /* xClose */
    cp_filter,      /* xFilter */
    cp_next,        /* xNext */
    cp_eof,         /* xEof */
    cp_column,      /* xColumn */
    cp_rowid,       /* xRowid */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

int nm_register_cnn_params(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  return sqlite3_create_module(db, "cnn_params", &cp_module, NULL);
}
