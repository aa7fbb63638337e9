/* fuzz_mrc.c — libFuzzer target for the mrc reader (see fuzz_common.h; run with make fuzz). */
#include "fuzz_common.h"

NM_FUZZ_TARGET(nm_read_mrc, seeds_mrc)
