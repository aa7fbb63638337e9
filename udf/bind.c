/*
** bind.c — shared glue between SQL values and engine calls (see bind.h).
*/
#include "bind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void nm_bind_error(sqlite3_context *ctx, const char *fname, const nm_error *err) {
  if (err->code == NM_ERR_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  char *msg = sqlite3_mprintf("%s(): %s", fname, err->msg[0] ? err->msg : "failed");
  if (!msg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
  if (err->code == NM_ERR_TOOBIG) sqlite3_result_error_code(ctx, SQLITE_TOOBIG);
  if (err->code == NM_ERR_INTERRUPTED) sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
}

void nm_bind_errorf(sqlite3_context *ctx, const char *fname, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *body = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  char *msg = body ? sqlite3_mprintf("%s(): %s", fname, body) : NULL;
  if (msg) sqlite3_result_error(ctx, msg, -1);
  else sqlite3_result_error_nomem(ctx);
  sqlite3_free(body);
  sqlite3_free(msg);
}

nm_status nm_bind_options(sqlite3 *db, sqlite3_value *json, const char *fname,
                          nm_opt_setter set, void *target, nm_error *err) {
  if (!json || sqlite3_value_type(json) == SQLITE_NULL) return NM_OK;
  if (sqlite3_value_type(json) != SQLITE_TEXT)
    return nm_fail(err, NM_ERR_ARG, "options must be a JSON object text");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
      "SELECT json_type(?1), key, type, value FROM json_each(?1)", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return nm_fail(err, NM_ERR_ARG, "cannot parse options: %s", sqlite3_errmsg(db));
  sqlite3_bind_value(st, 1, json);
  nm_status status = NM_OK;
  int rows = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows++ == 0) {
      const char *top = (const char *)sqlite3_column_text(st, 0);
      if (!top || strcmp(top, "object") != 0) {
        status = nm_fail(err, NM_ERR_ARG, "options must be a JSON object, got %s",
                         top ? top : "nothing");
        break;
      }
    }
    const char *key = (const char *)sqlite3_column_text(st, 1);
    const char *type = (const char *)sqlite3_column_text(st, 2);
    if (!key || !type) continue;
    if (!strcmp(type, "true") || !strcmp(type, "false")) {
      status = set(target, key, type[0] == 't' ? 1.0 : 0.0, NULL, err);
    } else if (!strcmp(type, "integer") || !strcmp(type, "real")) {
      status = set(target, key, sqlite3_column_double(st, 3), NULL, err);
    } else if (!strcmp(type, "text")) {
      status = set(target, key, NAN, (const char *)sqlite3_column_text(st, 3), err);
    } else if (!strcmp(type, "array") || !strcmp(type, "object")) {
      /* Arrays/objects arrive as their JSON text for setters that take lists. */
      status = set(target, key, NAN, (const char *)sqlite3_column_text(st, 3), err);
    } else {
      status = nm_fail(err, NM_ERR_ARG, "option '%s' must not be null", key);
    }
    if (status != NM_OK) break;
  }
  if (status == NM_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    status = nm_fail(err, NM_ERR_ARG, "options are not valid JSON");
  if (status == NM_OK && rows == 0) {
    /* json_each of "{}" yields no rows; of a scalar it yields one row. An empty
    ** object is fine, but "[]" or "" must still be refused. */
    sqlite3_reset(st);
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_prepare_v2(db, "SELECT json_type(?1)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_value(st, 1, json);
      rc = sqlite3_step(st);
      const char *top = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
      if (!top || strcmp(top, "object") != 0)
        status = nm_fail(err, NM_ERR_ARG, "options must be a JSON object");
    } else {
      status = nm_fail(err, NM_ERR_ARG, "options are not valid JSON");
    }
  }
  sqlite3_finalize(st);
  (void)fname;
  return status;
}

nm_status nm_bind_image_source(sqlite3_value *arg, const char **path, const void **buf,
                               int *n, nm_error *err) {
  *path = NULL;
  *buf = NULL;
  *n = 0;
  switch (sqlite3_value_type(arg)) {
    case SQLITE_TEXT:
      *path = (const char *)sqlite3_value_text(arg);
      if (!*path || !(*path)[0]) return nm_fail(err, NM_ERR_ARG, "image path is empty");
      return NM_OK;
    case SQLITE_BLOB:
      *buf = sqlite3_value_blob(arg);
      *n = sqlite3_value_bytes(arg);
      if (!*buf || *n <= 0) return nm_fail(err, NM_ERR_FORMAT, "image BLOB is empty");
      return NM_OK;
    case SQLITE_NULL:
      return nm_fail(err, NM_ERR_ARG, "image is NULL (expected a path or an image BLOB)");
    default:
      return nm_fail(err, NM_ERR_ARG,
                     "image must be a path (TEXT) or an image file BLOB, not a number");
  }
}

nm_status nm_bind_read_image(sqlite3_value *arg, const char *fname,
                             const nm_read_opts *opts, nm_image *out,
                             nm_error *err) {
  (void)fname;
  const char *path;
  const void *buf;
  int n;
  nm_status st = nm_bind_image_source(arg, &path, &buf, &n, err);
  if (st != NM_OK) return st;
  return path ? nm_image_read_file(path, opts, out, err)
              : nm_image_read_memory(buf, (size_t)n, "BLOB", opts, out, err);
}

int nm_bind_ensure_models_table(sqlite3 *db) {
  return sqlite3_exec(db,
      "CREATE TABLE IF NOT EXISTS main.nanomorph_models("
      " name TEXT PRIMARY KEY, kind TEXT NOT NULL,"
      " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
      " meta JSON, model BLOB NOT NULL)",
      NULL, NULL, NULL);
}

nm_status nm_bind_model_bytes(sqlite3 *db, sqlite3_value *arg, const char *kind,
                              const char *fname, void **bytes, int *n,
                              nm_error *err) {
  *bytes = NULL;
  *n = 0;
  (void)fname;
  int type = sqlite3_value_type(arg);
  const char *text = type == SQLITE_TEXT ? (const char *)sqlite3_value_text(arg) : NULL;
  while (text && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) text++;
  if (type == SQLITE_BLOB || (text && *text == '{')) {
    /* The value is the model itself: a BLOB, or a JSON model's text (with a
    ** terminating NUL so JSON parsers may treat it as a string). */
    int len = sqlite3_value_bytes(arg);
    const void *src = type == SQLITE_BLOB ? sqlite3_value_blob(arg) : sqlite3_value_text(arg);
    char *copy = sqlite3_malloc64((sqlite3_uint64)(len > 0 ? len : 0) + 1);
    if (!copy) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
    if (len > 0) memcpy(copy, src, (size_t)len);
    copy[len > 0 ? len : 0] = 0;
    *bytes = copy;
    *n = len;
    return NM_OK;
  }
  if (type != SQLITE_TEXT)
    return nm_fail(err, NM_ERR_ARG, "model must be a model BLOB or the name of a row in nanomorph_models");
  const char *name = (const char *)sqlite3_value_text(arg);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT kind, model FROM nanomorph_models WHERE name = ?1",
                         -1, &st, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return nm_fail(err, NM_ERR_ARG, "no model named '%s' (there is no nanomorph_models table)", name);
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  nm_status status = NM_OK;
  if (sqlite3_step(st) != SQLITE_ROW) {
    status = nm_fail(err, NM_ERR_ARG, "no model named '%s' in nanomorph_models", name);
  } else {
    const char *row_kind = (const char *)sqlite3_column_text(st, 0);
    if (kind && (!row_kind || strcmp(row_kind, kind) != 0)) {
      status = nm_fail(err, NM_ERR_ARG, "model '%s' is of kind '%s', expected '%s'", name,
                       row_kind ? row_kind : "NULL", kind);
    } else {
      int len = sqlite3_column_bytes(st, 1);
      const void *src = sqlite3_column_blob(st, 1);
      void *copy = sqlite3_malloc64(len > 0 ? (sqlite3_uint64)len : 1);
      if (!copy) {
        status = nm_fail(err, NM_ERR_NOMEM, "out of memory");
      } else {
        if (len > 0 && src) memcpy(copy, src, (size_t)len);
        *bytes = copy;
        *n = len;
      }
    }
  }
  sqlite3_finalize(st);
  return status;
}

void *nm_bind_cached_model(sqlite3_context *ctx, int argi, sqlite3_value *arg,
                           const char *fname, nm_model_decode_fn decode,
                           void (*destroy)(void *)) {
  void *model = sqlite3_get_auxdata(ctx, argi);
  if (model) return model;
  nm_error err = {0};
  void *bytes = NULL;
  int n = 0;
  if (nm_bind_model_bytes(sqlite3_context_db_handle(ctx), arg, NULL, fname, &bytes, &n, &err) !=
      NM_OK) {
    nm_bind_error(ctx, fname, &err);
    return NULL;
  }
  model = decode(bytes, (size_t)n, &err);
  sqlite3_free(bytes);
  if (!model) {
    nm_bind_error(ctx, fname, &err);
    return NULL;
  }
  sqlite3_set_auxdata(ctx, argi, model, destroy);
  /* set_auxdata destroys the object at once when it is out of memory. */
  model = sqlite3_get_auxdata(ctx, argi);
  if (!model) sqlite3_result_error_nomem(ctx);
  return model;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
** SQLite 3.40 has no sqlite3_is_interrupted(). A nested statement stepped on
** the same connection fails with SQLITE_INTERRUPT once sqlite3_interrupt() was
** called (the flag is only cleared when no statement is running), so a cached
** "SELECT 1" is a portable probe. It costs microseconds; callers probe at most
** every few milliseconds.
*/
int nm_bind_interrupted(sqlite3 *db, sqlite3_stmt **probe) {
  if (!db) return 0;
  if (!*probe && sqlite3_prepare_v2(db, "SELECT 1", -1, probe, NULL) != SQLITE_OK) {
    sqlite3_finalize(*probe);
    *probe = NULL;
    return 0;
  }
  int rc = sqlite3_step(*probe);
  sqlite3_reset(*probe);
  return rc == SQLITE_INTERRUPT;
}

static int progress_tick(void *ctx, double done, double total, const char *what) {
  nm_bind_progress *p = ctx;
  if (p->interrupted) return 1;
  double t = now_seconds();
  if (t - p->last_probe >= 0.02) {
    p->last_probe = t;
    if (nm_bind_interrupted(p->db, &p->probe)) {
      p->interrupted = 1;
      return 1;
    }
  }
  if (t - p->last_print >= 0.25 && isatty(2)) {
    p->last_print = t;
    p->printed = 1;
    if (total > 0)
      fprintf(stderr, "\r%s: %s %.0f/%.0f (%.0f%%)   ", p->label, what ? what : "",
              done, total, 100.0 * done / total);
    else
      fprintf(stderr, "\r%s: %s %.0f   ", p->label, what ? what : "", done);
    fflush(stderr);
  }
  return 0;
}

void nm_bind_progress_begin(nm_bind_progress *p, sqlite3 *db, const char *label) {
  memset(p, 0, sizeof *p);
  p->progress.tick = progress_tick;
  p->progress.ctx = p;
  p->db = db;
  p->label = label;
  p->last_print = now_seconds();
}

void nm_bind_progress_end(nm_bind_progress *p) {
  if (p->printed) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
  sqlite3_finalize(p->probe);
  p->probe = NULL;
}
