/*
** fuzz_util.h — what the non-reader libFuzzer targets share (model loaders,
** option setters, user label images).
**
** Seeds: a target that can make valid inputs with the engine does so in
** LLVMFuzzerInitialize, which libFuzzer calls before it reads the corpus;
** run.sh sets NM_FUZZ_SEED_DIR to the corpus directory (under $(BUILD), never
** the repository). Without the variable nothing is written.
**
** FUZZ_REQUIRE is the property check: it traps (a crash libFuzzer saves with
** its input) when a contract of the engine is broken without a sanitizer
** noticing — a failure without a message, a save that does not load back.
*/
#ifndef NM_FUZZ_UTIL_H
#define NM_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/nm_common.h"

#define FUZZ_REQUIRE(cond)                                                        \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      __builtin_trap();                                                           \
    }                                                                             \
  } while (0)

/* A failure must carry a message (errors are values that say why). */
#define FUZZ_FAILED_WITH_MESSAGE(st, err) FUZZ_REQUIRE((st) != NM_OK && (err).msg[0] != 0)

/* Writes one seed file into $NM_FUZZ_SEED_DIR (no-op when unset). */
static inline void fuzz_write_seed(const char *name, const void *bytes, size_t n) {
  const char *dir = getenv("NM_FUZZ_SEED_DIR");
  if (!dir || !dir[0] || !bytes) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/gen-%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(bytes, 1, n, f);
  fclose(f);
}

static inline int fuzz_seeding(void) {
  const char *dir = getenv("NM_FUZZ_SEED_DIR");
  return dir && dir[0];
}

#define NM_FUZZ_INIT(fn)                                   \
  int LLVMFuzzerInitialize(int *argc, char ***argv);       \
  int LLVMFuzzerInitialize(int *argc, char ***argv) {      \
    (void)argc;                                            \
    (void)argv;                                            \
    if (fuzz_seeding()) fn();                              \
    return 0;                                              \
  }

#endif /* NM_FUZZ_UTIL_H */
