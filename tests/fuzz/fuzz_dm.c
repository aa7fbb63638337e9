/* fuzz_dm.c — libFuzzer target for the dm reader (see fuzz_common.h; run with make fuzz). */
#include "fuzz_common.h"

NM_FUZZ_TARGET(nm_read_dm, seeds_dm)
