/*
** darkfield.c — see darkfield.h. Being written: until then the option is
** refused, and dark field goes through segment.c's top-hat path.
*/
#include "darkfield.h"

#include <string.h>

void nm_darkfield_opts_default(nm_darkfield_opts *o) { memset(o, 0, sizeof *o); }

nm_status nm_darkfield_opts_set(nm_darkfield_opts *o, const char *key, double num,
                                const char *text, nm_error *err) {
  (void)o;
  (void)num;
  (void)text;
  return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown", key);
}

nm_status nm_darkfield_segment(const float *I, int w, int h, const nm_darkfield_opts *o,
                               double scale_px, const nm_progress *progress, int32_t *labels,
                               int *count, double *scale_out, nm_error *err) {
  (void)I, (void)w, (void)h, (void)o, (void)scale_px, (void)progress, (void)labels;
  (void)count, (void)scale_out;
  return nm_fail(err, NM_ERR_ARG, "darkfield: not available");
}
