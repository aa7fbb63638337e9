/*
** nanomorph.c — the extension's one entry point.
**
**   .load ./nanomorph
**   SELECT nanomorph_version();
**
** Registers every function and table-valued function (see udf/register.h).
** SQLITE_EXTENSION_INIT1 lives here and nowhere else.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <stddef.h>

#include "../udf/register.h"

static const nm_register_fn registrars[] = {
    nm_register_core,     nm_register_micrographs, nm_register_segment,
    nm_register_particles, nm_register_shape,      nm_register_simulate,
    nm_register_cnn,      nm_register_cnn_params,  nm_register_cluster,
    nm_register_classify, nm_register_plot,
};

#ifdef _WIN32
__declspec(dllexport)
#endif
__attribute__((visibility("default")))
int sqlite3_nanomorph_init(sqlite3 *db, char **pzErrMsg,
                           const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  for (size_t i = 0; i < sizeof registrars / sizeof registrars[0]; i++) {
    int rc = registrars[i](db, pzErrMsg);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
