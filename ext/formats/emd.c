/* formats/emd.c — placeholder until its reader lands. */
#include "reader.h"

nm_status nm_read_emd(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                       nm_error *err) {
  (void)opts;
  (void)out;
  return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: emd files are not read yet", src->name);
}

int nm_sniff_emd(const uint8_t *buf, size_t n) { (void)buf; (void)n; return 0; }
