/*
** fuzz_emd.c — libFuzzer target for the EMD reader.
**
** nm_read_emd runs libhdf5 in a child process (libhdf5 1.10 crashes on some
** hostile files: docs/reliability.md, finding 5). libFuzzer cannot see
** coverage in a child, so each input is read twice:
**   1. through the forking reader, as in production. A child killed by a
**      signal (libhdf5 crashed) must come back as a clean NM_ERR_FORMAT; a
**      child that exited with status 1 printed a sanitizer report (ASan and
**      UBSan exit with 1; the reader's own child exits 0 or 2), so that is
**      a failure of this target, with the report above it in the log.
**   2. when the child survived, in this process (nm_read_emd_inprocess), for
**      coverage and in-process ASan checks of emd.c and cJSON. The results
**      must agree field by field and pixel by pixel: this checks the pipe
**      protocol. Inputs that crash libhdf5 are not run in-process.
** As in fuzz_common.h: lowered pixel cap, and the last frame is read too.
*/
#include <stdlib.h>
#include <sys/wait.h>

#include "../../ext/formats/emd_parse.h"
#include "fuzz_common.h"

static void fresh(nm_image *im) {
  memset(im, 0, sizeof *im);
  nm_calib_unknown(&im->calib, NULL);
  im->frames = 1;
}

static int same_calib(const nm_calib *a, const nm_calib *b) {
  return memcmp(&a->nm_per_px_x, &b->nm_per_px_x, sizeof(double)) == 0 &&
         memcmp(&a->nm_per_px_y, &b->nm_per_px_y, sizeof(double)) == 0 && a->mode == b->mode &&
         !strcmp(a->source, b->source) && !strcmp(a->reason, b->reason);
}

static int emd_one(const uint8_t *data, size_t size, int frame) {
  nm_source src = {data, size, NULL, "fuzz-input"};
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  opts.max_pixels = (uint64_t)1 << 22;
  opts.frame = frame;
  nm_image a, b;
  fresh(&a);
  fresh(&b);
  nm_error ea = {0}, eb = {0};
  int status = -1;
  nm_status sa = nm_read_emd_forked(&src, &opts, &a, &ea, &status);
  if (sa != NM_OK && ea.msg[0] == 0) __builtin_trap(); /* every failure must say why */
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
    __builtin_trap(); /* sanitizer report in the child (see its output above) */
  int frames = 0;
  if (status != -1 && WIFSIGNALED(status)) {
    if (sa != NM_ERR_FORMAT) __builtin_trap(); /* a dead child must be a format error */
  } else {
    nm_status sb = nm_read_emd_inprocess(&src, &opts, &b, &eb);
    if (sb != sa || (sa != NM_OK && strcmp(ea.msg, eb.msg) != 0)) __builtin_trap();
    if (sa == NM_OK) {
      size_t n = (size_t)a.width * (size_t)a.height;
      if (a.width != b.width || a.height != b.height || a.frames != b.frames ||
          a.bits != b.bits || a.sample_float != b.sample_float ||
          a.sample_signed != b.sample_signed || strcmp(a.format, b.format) != 0 ||
          !same_calib(&a.calib, &b.calib) || !a.px || !b.px ||
          memcmp(a.px, b.px, n * sizeof(float)) != 0)
        __builtin_trap();
      frames = a.frames;
    }
  }
  nm_image_free(&a);
  nm_image_free(&b);
  return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int frames = emd_one(data, size, 0);
  if (frames > 1) emd_one(data, size, frames - 1);
  return 0;
}

NM_FUZZ_INIT(seeds_emd)
