# mk/fuzz.mk — libFuzzer targets, one per image reader (png tiff dm ser emd mrc).
#
#   make fuzz          build every target, run each for FUZZ_SECONDS (default 60), one at a time
#   make fuzz-ci       the same for FUZZ_CI_SECONDS (default 60), FUZZ_JOBS (2) at a time
#   make fuzz-build    build only: $(BUILD)/fuzz/fuzz_<reader>
#   make fuzz-dm       one target (likewise fuzz-png, fuzz-tiff, fuzz-ser, fuzz-emd, fuzz-mrc)
#
# The engine's image sources are compiled again with clang under
# -fsanitize=fuzzer-no-link,address,undefined into $(BUILD)/fuzz/obj (only the
# decode path: image, calib, nm_common, formats/*), so the rest of the engine
# never has to build for fuzzing. -Werror is dropped here: clang warns about
# other things than gcc and a new warning must not stop a fuzz run.
# Seeds come from $(FUZZ_CORPUS_ROOT) (../shared/formats) at run time and are
# copied under $(BUILD)/fuzz/corpus — never into the repository.

FUZZ_CC          ?= clang
FUZZ_SECONDS     ?= 60
FUZZ_CI_SECONDS  ?= 60
FUZZ_JOBS        ?= 2
FUZZ_CORPUS_ROOT ?= ../shared/formats
FUZZ_READERS     := png tiff dm ser emd mrc
FUZZ_DIR          = $(BUILD)/fuzz
FUZZ_SAN         := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                    -fno-omit-frame-pointer
FUZZ_CFLAGS       = $(filter-out -Werror,$(CFLAGS_BASE)) -O1 -g $(FUZZ_SAN)
FUZZ_ENGINE_SRC  := ext/image.c ext/calib.c ext/nm_common.c $(wildcard ext/formats/*.c)
FUZZ_ENGINE_OBJ   = $(FUZZ_ENGINE_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS         = $(FUZZ_READERS:%=$(FUZZ_DIR)/fuzz_%)

FUZZ_TARGETS += fuzz-run

.PHONY: fuzz-build fuzz-run fuzz-ci $(FUZZ_READERS:%=fuzz-%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  FUZZCC $<'
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_ENGINE_OBJ)
	@echo '  FUZZLD $@'
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_ENGINE_OBJ) $(LDLIBS)

.SECONDARY: $(FUZZ_ENGINE_OBJ)

fuzz-build: $(FUZZ_BINS)

# One target at a time, each for FUZZ_SECONDS; every target runs even if one fails.
fuzz-run: fuzz-build
	@rc=0; for r in $(FUZZ_READERS); do \
	  tests/fuzz/run.sh $(FUZZ_DIR) $$r $(FUZZ_SECONDS) $(FUZZ_CORPUS_ROOT) || rc=1; \
	done; exit $$rc

# CI: every target for FUZZ_CI_SECONDS, FUZZ_JOBS at a time (2 cores).
fuzz-ci: fuzz-build
	@printf '%s\n' $(FUZZ_READERS) | xargs -P $(FUZZ_JOBS) -I{} \
	  tests/fuzz/run.sh $(FUZZ_DIR) {} $(FUZZ_CI_SECONDS) $(FUZZ_CORPUS_ROOT)

$(FUZZ_READERS:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_%
	@tests/fuzz/run.sh $(FUZZ_DIR) $* $(FUZZ_SECONDS) $(FUZZ_CORPUS_ROOT)

-include $(FUZZ_ENGINE_SRC:%.c=$(FUZZ_DIR)/obj/%.d)
