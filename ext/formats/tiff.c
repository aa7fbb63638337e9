/* formats/tiff.c — placeholder until its reader lands. */
#include "reader.h"

nm_status nm_read_tiff(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                       nm_error *err) {
  (void)opts;
  (void)out;
  return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: tiff files are not read yet", src->name);
}
