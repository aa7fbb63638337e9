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

#include <dlfcn.h>
#include <stddef.h>

#include "../udf/register.h"

static const nm_register_fn registrars[] = {
    nm_register_core,     nm_register_micrographs, nm_register_segment,
    nm_register_particles, nm_register_shape,      nm_register_simulate,
    nm_register_cnn,      nm_register_cnn_params,  nm_register_cluster,
    nm_register_classify, nm_register_plot,
};

/*
** sqlite3_close() dlcloses an extension. The libraries under this one keep
** process-wide state that must outlive that: OpenBLAS worker threads,
** Tesseract's engine, fontconfig's caches. Unloading them under running
** threads or with live caches crashes or leaks, so the extension marks
** itself (and with it its libraries) as never unloaded.
*/
static void pin_in_memory(void) {
  Dl_info self;
  if (dladdr((void *)pin_in_memory, &self) && self.dli_fname)
    (void)dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
__attribute__((visibility("default")))
int sqlite3_nanomorph_init(sqlite3 *db, char **pzErrMsg,
                           const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  pin_in_memory();
  for (size_t i = 0; i < sizeof registrars / sizeof registrars[0]; i++) {
    int rc = registrars[i](db, pzErrMsg);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
