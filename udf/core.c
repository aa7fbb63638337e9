/*
** core.c — nanomorph_version() and the shared model table.
**
**   SELECT nanomorph_version();   -- '0.1.0 (crop v1)'
**
** At load time nanomorph_models(name TEXT PRIMARY KEY, kind, created, meta
** JSON, model BLOB) is created in the main database if it is missing and the
** database is writable; every function that takes a model accepts a BLOB or
** the name of a row in it.
*/
#include "bind.h"
#include "register.h"
#include "../ext/crop.h"

#define NM_VERSION "0.1.0"

static void version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  char buf[64];
  sqlite3_snprintf(sizeof buf, buf, "%s (crop v%d)", NM_VERSION, NM_CROP_VERSION);
  sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

int nm_register_core(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  int rc = sqlite3_create_function(db, "nanomorph_version", 0, NM_PURE, NULL,
                                   version_func, NULL, NULL);
  if (rc != SQLITE_OK) return rc;
  /* A read-only database cannot hold the table; functions then accept BLOBs only. */
  (void)nm_bind_ensure_models_table(db);
  return SQLITE_OK;
}
