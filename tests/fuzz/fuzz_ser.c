/* fuzz_ser.c — libFuzzer target for the ser reader (see fuzz_common.h; run with make fuzz). */
#include "fuzz_common.h"

NM_FUZZ_TARGET(nm_read_ser, seeds_ser)
