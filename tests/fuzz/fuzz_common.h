/*
** fuzz_common.h — the body every reader's libFuzzer target shares.
**
** The input is handed straight to one reader (not through the sniffer), so
** mutations that break the magic bytes still exercise that reader's checks.
** The caller-side contract of image.c is reproduced: the image starts
** zeroed with an unknown calibration, and is freed whatever the status.
** The pixel cap is lowered so a header that claims a huge (but capped) image
** cannot push the fuzzer into its RSS limit; the cap check itself is what is
** being tested. When frame 0 reads and the file has more frames, the last
** frame is read too, to exercise the per-frame offset arithmetic.
** Seeds: run.sh copies the format corpus when it is there; every target also
** writes a few small valid files of its format (fuzz_seeds_formats.h), so
** fuzzing never starts from nothing.
*/
#ifndef NM_FUZZ_COMMON_H
#define NM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../ext/formats/reader.h"
#include "../../ext/image.h"
#include "fuzz_seeds_formats.h"

static void fuzz_one(nm_reader_fn reader, const uint8_t *data, size_t size, int frame,
                     int *frames) {
  nm_source src = {data, size, NULL, "fuzz-input"};
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  opts.max_pixels = (uint64_t)1 << 22;
  opts.frame = frame;
  nm_image im;
  memset(&im, 0, sizeof im);
  nm_calib_unknown(&im.calib, NULL);
  im.frames = 1;
  nm_error err = {0};
  nm_status s = reader(&src, &opts, &im, &err);
  if (s == NM_OK) {
    *frames = im.frames;
    /* Touch every pixel so a short buffer is caught by ASan. */
    volatile float sum = 0;
    if (im.px)
      for (size_t i = 0; i < (size_t)im.width * (size_t)im.height; i++) sum += im.px[i];
    (void)sum;
  } else if (err.msg[0] == 0) {
    __builtin_trap(); /* every failure must say why */
  }
  nm_image_free(&im);
}

static int fuzz_reader(nm_reader_fn reader, const uint8_t *data, size_t size) {
  int frames = 0;
  fuzz_one(reader, data, size, 0, &frames);
  if (frames > 1) fuzz_one(reader, data, size, frames - 1, &frames);
  return 0;
}

#define NM_FUZZ_TARGET(fn, seeds)                                          \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);            \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {           \
    return fuzz_reader(fn, data, size);                                    \
  }                                                                        \
  NM_FUZZ_INIT(seeds)

#endif /* NM_FUZZ_COMMON_H */
