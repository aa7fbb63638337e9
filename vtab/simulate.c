/*
** vtab/simulate.c — the simulated ground truth as a table.
**
**   SELECT * FROM simulate(10, 42);             -- id, image, p, d, lratio, phi, split
**   CREATE TABLE sim AS SELECT * FROM simulate(65000, 42);
**   SELECT count(*) FROM simulate(1000, 7, '{"d":[3,3],"p":[2,8]}') WHERE split = 'test';
**
** Arguments: n (rows, integer 0..NM_SIM_MAX_ROWS), seed (integer), options
** (JSON object, optional; keys in docs/reference/shape.md and ext/shape.h:
** p, d, lratio, phi, fill, frame, contrast, dose, blur as [min, max] or a
** number, corner_a, corner_g, noise, size; unknown keys are errors).
**
** Columns: id (0..n−1, also the rowid); image, the canonical crop (crop.h)
** of the shape after the noise model, as an 8-bit gray PNG; p, d, lratio,
** phi, the drawn eq. 1 parameters; split, 'train' / 'val' / 'test', exactly
** 7/1/2 of every ten consecutive ids, shuffled by the seed.
**
** Row id is a pure function of (seed, id, options): simulate(10, s) is the
** first ten rows of simulate(65000, s), and the same seed gives the same
** bytes. Rows are produced one by one as the statement steps (nothing is
** held in memory), and the image is only rendered when the image column is
** read, so `SELECT p, d FROM simulate(...)` is cheap. Being a stream, the
** statement stops at once on sqlite3_interrupt / Ctrl-C. Pure: no files.
*/
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/crop.h"
#include "../ext/shape.h"
#include "../udf/bind.h"
#include "../udf/register.h"

#define FNAME "simulate"
#define NM_SIM_MAX_ROWS 100000000LL

enum { COL_ID, COL_IMAGE, COL_P, COL_D, COL_LRATIO, COL_PHI, COL_SPLIT, COL_N, COL_SEED, COL_OPTIONS };

typedef struct sim_vtab {
  sqlite3_vtab base;
  sqlite3 *db; /* for json_each when parsing options */
} sim_vtab;

typedef struct sim_cursor {
  sqlite3_vtab_cursor base;
  sqlite3_int64 id, n;
  uint64_t seed;
  nm_sim_opts opts;
  nm_shape shape;   /* parameters of row id */
  int have_shape;
} sim_cursor;

/* xConnect: one fixed schema; the hidden columns are the arguments. */
static int sim_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err) {
  (void)aux;
  (void)argc;
  (void)argv;
  (void)err;
  int rc = sqlite3_declare_vtab(db,
      "CREATE TABLE x(id INTEGER, image BLOB, p REAL, d INTEGER, lratio REAL, phi REAL, split TEXT,"
      " n HIDDEN, seed HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sim_vtab *vt = sqlite3_malloc64(sizeof *vt);
  if (!vt) return SQLITE_NOMEM;
  memset(vt, 0, sizeof *vt);
  vt->db = db;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &vt->base;
  return SQLITE_OK;
}

/* xDisconnect */
static int sim_disconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* xOpen */
static int sim_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  sim_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

/* xClose */
static int sim_close(sqlite3_vtab_cursor *cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int set_error(sqlite3_vtab_cursor *cur, const char *fmt, const char *detail) {
  sqlite3_free(cur->pVtab->zErrMsg);
  cur->pVtab->zErrMsg = sqlite3_mprintf(fmt, detail);
  return SQLITE_ERROR;
}

/* An integer argument (REAL with an integral value accepted). */
static int int_arg(sqlite3_value *v, sqlite3_int64 *out) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_INTEGER) {
    *out = sqlite3_value_int64(v);
    return 1;
  }
  if (t == SQLITE_FLOAT) {
    double x = sqlite3_value_double(v);
    if (x == floor(x) && fabs(x) < 9.2e18) {
      *out = (sqlite3_int64)x;
      return 1;
    }
  }
  return 0;
}

static nm_status opt_set(void *target, const char *key, double num, const char *text,
                         nm_error *err) {
  return nm_sim_opts_set(target, key, num, text, err);
}

/* xFilter: argv = n, seed [, options] in that order (see xBestIndex). */
static int sim_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  (void)idxStr;
  sim_cursor *c = (sim_cursor *)cur;
  c->id = 0;
  c->n = 0;
  c->have_shape = 0;
  if (argc < 2 || (idxNum & 3) != 3)
    return set_error(cur, FNAME "(): n and seed are required%s", "");
  sqlite3_int64 n, seed;
  if (!int_arg(argv[0], &n) || n < 0 || n > NM_SIM_MAX_ROWS)
    return set_error(cur, FNAME "(): n must be an integer in 0..100000000%s",
                     sqlite3_value_type(argv[0]) == SQLITE_NULL ? ", got NULL" : "");
  if (!int_arg(argv[1], &seed))
    return set_error(cur, FNAME "(): seed must be an integer%s",
                     sqlite3_value_type(argv[1]) == SQLITE_NULL ? ", got NULL" : "");
  nm_sim_opts_default(&c->opts);
  if (argc > 2) {
    nm_error err;
    nm_error_clear(&err);
    sqlite3 *db = ((sim_vtab *)cur->pVtab)->db;
    if (nm_bind_options(db, argv[2], FNAME, opt_set, &c->opts, &err) != NM_OK)
      return set_error(cur, FNAME "(): %s", err.msg);
  }
  c->n = n;
  c->seed = (uint64_t)seed;
  return SQLITE_OK;
}

/* xNext: rows are computed on demand in xColumn. */
static int sim_next(sqlite3_vtab_cursor *cur) {
  sim_cursor *c = (sim_cursor *)cur;
  c->id++;
  c->have_shape = 0;
  return SQLITE_OK;
}

/* xEof */
static int sim_eof(sqlite3_vtab_cursor *cur) {
  sim_cursor *c = (sim_cursor *)cur;
  return c->id >= c->n;
}

/* xColumn */
static int sim_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  sim_cursor *c = (sim_cursor *)cur;
  if (!c->have_shape) {
    nm_sim_params(&c->opts, c->seed, c->id, &c->shape);
    c->have_shape = 1;
  }
  switch (col) {
    case COL_ID: sqlite3_result_int64(ctx, c->id); break;
    case COL_P: sqlite3_result_double(ctx, c->shape.p); break;
    case COL_D: sqlite3_result_int64(ctx, (sqlite3_int64)c->shape.d); break;
    case COL_LRATIO: sqlite3_result_double(ctx, c->shape.lratio); break;
    case COL_PHI: sqlite3_result_double(ctx, c->shape.phi); break;
    case COL_SPLIT:
      sqlite3_result_text(ctx, nm_sim_split_name(nm_sim_split(c->seed, c->id)), -1, SQLITE_STATIC);
      break;
    case COL_N: sqlite3_result_int64(ctx, c->n); break;
    case COL_SEED: sqlite3_result_int64(ctx, (sqlite3_int64)c->seed); break;
    case COL_OPTIONS: sqlite3_result_null(ctx); break;
    case COL_IMAGE: {
      int S = c->opts.size;
      float *crop = sqlite3_malloc64(sizeof(float) * (sqlite3_uint64)S * S);
      if (!crop) return SQLITE_NOMEM;
      nm_error err;
      nm_error_clear(&err);
      unsigned char *png = NULL;
      size_t png_n = 0;
      nm_status st = nm_sim_example(&c->opts, c->seed, c->id, NULL, crop, NULL, NULL, NULL, &err);
      if (st == NM_OK) st = nm_crop_encode_png(crop, S, &png, &png_n, &err);
      sqlite3_free(crop);
      if (st != NM_OK) {
        nm_bind_error(ctx, FNAME, &err);
        return SQLITE_ERROR;
      }
      sqlite3_result_blob64(ctx, png, png_n, free);
      break;
    }
    default: sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

/* xRowid: the id */
static int sim_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((sim_cursor *)cur)->id;
  return SQLITE_OK;
}

/*
** xBestIndex: n and seed are required, options optional, all by equality.
** Present but not usable yet (a join feeds them) → SQLITE_CONSTRAINT so the
** planner tries another order; absent → an error naming the argument.
*/
static int sim_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  int where[3] = {-1, -1, -1};
  int unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn < COL_N || k->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    int slot = k->iColumn - COL_N;
    if (!k->usable) {
      unusable |= 1 << slot;
      continue;
    }
    where[slot] = i;
  }
  for (int s = 0; s < 3; s++)
    if ((unusable >> s & 1) && where[s] < 0) return SQLITE_CONSTRAINT;
  if (where[0] < 0 || where[1] < 0) {
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf(FNAME "(): the n and seed arguments are required: simulate(n, seed [, options])");
    return SQLITE_ERROR;
  }
  int argv_i = 1;
  info->idxNum = 0;
  for (int s = 0; s < 3; s++) {
    if (where[s] < 0) continue;
    info->aConstraintUsage[where[s]].argvIndex = argv_i++;
    info->aConstraintUsage[where[s]].omit = 1;
    info->idxNum |= 1 << s;
  }
  /* rows come out in id order */
  if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_ID && !info->aOrderBy[0].desc)
    info->orderByConsumed = 1;
  info->estimatedCost = 1e6;
  info->estimatedRows = 65000;
  return SQLITE_OK;
}

static sqlite3_module sim_module = {
    .iVersion = 0,
    .xCreate = 0, /* eponymous only: simulate(...) in FROM */
    .xConnect = sim_connect,
    .xBestIndex = sim_best_index,
    .xDisconnect = sim_disconnect,
    .xDestroy = 0,
    .xOpen = sim_open,
    .xClose = sim_close,
    .xFilter = sim_filter,
    .xNext = sim_next,
    .xEof = sim_eof,
    .xColumn = sim_column,
    .xRowid = sim_rowid,
    /* read-only: no xUpdate, transactions, renames or shadow tables */
};

int nm_register_simulate(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  return sqlite3_create_module(db, "simulate", &sim_module, NULL);
}
