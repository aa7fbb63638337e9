/* udf/cnn.c — placeholder until its owner lands the real bindings. */
#include "bind.h"
#include "register.h"

int nm_register_cnn(sqlite3 *db, char **pzErrMsg) {
  (void)db;
  (void)pzErrMsg;
  return SQLITE_OK;
}
