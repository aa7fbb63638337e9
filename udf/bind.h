/*
** bind.h — what every SQL binding (udf/, vtab/) shares: turning engine
** errors into SQL errors, JSON options into engine option setters (with
** SQLite's own json_each), image arguments (path or BLOB) into nm_image,
** model arguments (BLOB or a name in nanomorph_models) into bytes, and a
** progress callback that prints to a terminal and honours sqlite3_interrupt.
**
** Files that include this get SQLITE_EXTENSION_INIT3 (the api pointer lives
** in ext/nanomorph.c).
*/
#ifndef NM_BIND_H
#define NM_BIND_H

#include <sqlite3ext.h>

#include "../ext/image.h"
#include "../ext/nm_common.h"

SQLITE_EXTENSION_INIT3

/* Reports an engine error on ctx: "fname(): message". SQLITE_NOMEM / TOOBIG
** map to their own result codes. */
void nm_bind_error(sqlite3_context *ctx, const char *fname, const nm_error *err);

/* printf-style sqlite3_result_error with the function name prefixed. */
void nm_bind_errorf(sqlite3_context *ctx, const char *fname, const char *fmt, ...);

/*
** Options: iterates the top-level keys of a JSON object text with json_each
** and calls set(target, key, num, text, err) for each. A NULL value means "no
** options". Not an object / invalid JSON / a nested value → an error naming
** fname. Booleans arrive as num 0/1, strings as text (num = NAN), numbers as
** num (text = NULL). Returns NM_OK or the first error (err filled).
*/
typedef nm_status (*nm_opt_setter)(void *target, const char *key, double num,
                                   const char *text, nm_error *err);
nm_status nm_bind_options(sqlite3 *db, sqlite3_value *json, const char *fname,
                          nm_opt_setter set, void *target, nm_error *err);

/*
** Image arguments: TEXT is a path (read from disk), BLOB holds the bytes of an
** image file. NULL or another type is an error naming fname and the argument.
*/
nm_status nm_bind_read_image(sqlite3_value *arg, const char *fname,
                             const nm_read_opts *opts, nm_image *out,
                             nm_error *err);

/* The same argument rules without reading: *path is set for TEXT, *buf and *n
** for a BLOB (both point into the sqlite3_value). */
nm_status nm_bind_image_source(sqlite3_value *arg, const char **path, const void **buf,
                               int *n, nm_error *err);

/*
** Models: a BLOB is used as is, and so is a TEXT that begins with '{' (a
** JSON model, e.g. from kmeans_fit); any other TEXT names a row of
** nanomorph_models whose model column is returned. *bytes is sqlite3_malloc'd (free with
** sqlite3_free). kind, if not NULL, must match the row's kind column.
*/
nm_status nm_bind_model_bytes(sqlite3 *db, sqlite3_value *arg, const char *kind,
                              const char *fname, void **bytes, int *n,
                              nm_error *err);

/*
** A model argument decoded once per statement: the first call decodes the
** bytes (nm_bind_model_bytes) with `decode`, which returns a new engine
** object allocated with sqlite3_malloc (or NULL with err set), and caches it
** as auxdata of argument `argi`; later rows reuse it. On failure the error is
** reported on ctx and NULL returned. `destroy` frees what decode returned.
*/
typedef void *(*nm_model_decode_fn)(const void *bytes, size_t n, nm_error *err);
void *nm_bind_cached_model(sqlite3_context *ctx, int argi, sqlite3_value *arg,
                           const char *fname, nm_model_decode_fn decode,
                           void (*destroy)(void *));

/* Creates nanomorph_models(name TEXT PRIMARY KEY, kind, created, meta JSON,
** model BLOB) if it does not exist. Called at load time; failures (read-only
** database) are ignored there. */
int nm_bind_ensure_models_table(sqlite3 *db);

/*
** Progress: an nm_progress whose tick prints a one-line meter to stderr when
** stderr is a terminal (at most a few times a second) and returns nonzero when
** the statement was interrupted (sqlite3_interrupt / Ctrl-C). Call
** nm_bind_progress_end() after the work to finish the line and release.
*/
typedef struct nm_bind_progress {
  nm_progress progress;   /* pass &p.progress to the engine */
  sqlite3 *db;
  const char *label;
  double last_print;
  double last_probe;
  int printed;
  int interrupted;
  sqlite3_stmt *probe;
} nm_bind_progress;

void nm_bind_progress_begin(nm_bind_progress *p, sqlite3 *db, const char *label);
void nm_bind_progress_end(nm_bind_progress *p);
/* 1 when sqlite3_interrupt() was called on db during the current statement. */
int nm_bind_interrupted(sqlite3 *db, sqlite3_stmt **probe);

#endif /* NM_BIND_H */
