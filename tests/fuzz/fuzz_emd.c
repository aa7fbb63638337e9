/* fuzz_emd.c — libFuzzer target for the emd reader (see fuzz_common.h; run with make fuzz). */
#include "fuzz_common.h"

NM_FUZZ_TARGET(nm_read_emd, seeds_emd)
