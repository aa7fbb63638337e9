/* formats/dm.c — placeholder until its reader lands. */
#include "reader.h"

nm_status nm_read_dm(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                       nm_error *err) {
  (void)opts;
  (void)out;
  return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: dm files are not read yet", src->name);
}

int nm_sniff_dm(const uint8_t *buf, size_t n) { (void)buf; (void)n; return 0; }
