/* fuzz_tiff.c — libFuzzer target for the tiff reader (see fuzz_common.h; run with make fuzz). */
#include "fuzz_common.h"

NM_FUZZ_TARGET(nm_read_tiff, seeds_tiff)
