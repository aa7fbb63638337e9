/* fuzz_png.c — libFuzzer target for the png reader (see fuzz_common.h; run with make fuzz). */
#include "fuzz_common.h"

NM_FUZZ_TARGET(nm_read_png, seeds_png)
