/* vtab/micrographs.c — placeholder until its owner lands the real bindings. */
#include "../udf/bind.h"
#include "../udf/register.h"

int nm_register_micrographs(sqlite3 *db, char **pzErrMsg) {
  (void)db;
  (void)pzErrMsg;
  return SQLITE_OK;
}
