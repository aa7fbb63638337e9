# mk/fuzz.mk — libFuzzer targets, one per input surface:
#   image decode   fuzz_{png,tiff,dm,ser,emd,mrc}  one per reader
#   model BLOBs    fuzz_cnn_model    nm_cnn_load
#                  fuzz_svm_model    nm_classify_load
#                  fuzz_cluster_model nm_clmodel_parse / nm_clmodel_info (JSON)
#   options        fuzz_options      every engine *_opts_set / nm_plot_opt_set
#   label images   fuzz_labels       nm_particles_run with a user label BLOB
#   pixels         fuzz_segment      nm_segment on drawn or raw pixel values
#
#   make fuzz          build every target, run each for FUZZ_SECONDS (default 60), one at a time
#   make fuzz-ci       every target for FUZZ_CI_SECONDS (default 60), FUZZ_JOBS (2) at a time
#   make fuzz-build    build only: $(BUILD)/fuzz/fuzz_<name>
#   make fuzz-dm       one target (likewise fuzz-<name> for every name above)
#
# The engine sources a target needs (and only those: FUZZ_SRC_<name>, the
# #include closure of its entry files) are compiled again with clang under -fsanitize=fuzzer-no-link,address,undefined
# into $(BUILD)/fuzz/obj, so the rest of the engine never has to build for
# fuzzing. -Werror is dropped here: clang warns about other things than gcc
# and a new warning must not stop a fuzz run.
# Seeds are made at run time under $(BUILD)/fuzz/corpus — never in the
# repository: copied from $(FUZZ_CORPUS_ROOT) (../shared/formats) and
# samples/ when present, and written by the targets themselves (valid model
# BLOBs, option lists, label images) — see tests/fuzz/run.sh.
#
# fuzz-ci runs 12 targets, 2 at a time: with FUZZ_CI_SECONDS=60 that is
# 6 rounds, about 6 minutes of wall time plus the build (docs/reliability.md).

FUZZ_CC          ?= clang
FUZZ_SECONDS     ?= 60
FUZZ_CI_SECONDS  ?= 60
FUZZ_JOBS        ?= 2
FUZZ_CORPUS_ROOT ?= ../shared/formats
FUZZ_READERS     := png tiff dm ser emd mrc
FUZZ_SURFACES    := cnn_model svm_model cluster_model options labels segment
FUZZ_ALL         := $(FUZZ_READERS) $(FUZZ_SURFACES)
FUZZ_DIR          = $(BUILD)/fuzz
FUZZ_SAN         := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                    -fno-omit-frame-pointer
FUZZ_CFLAGS       = $(filter-out -Werror,$(CFLAGS_BASE)) -O1 -g $(FUZZ_SAN)

# Engine sources per target: the #include closure of the target's entry
# sources (tests/fuzz/sources.sh), computed from the tree only when a fuzz
# goal is asked for, so a module that grows a dependency cannot break the
# fuzz build and other builds do not pay for the scan.
FUZZ_ROOTS_IMAGE         := ext/image.c
FUZZ_ROOTS_cnn_model     := ext/cnn.c
FUZZ_ROOTS_svm_model     := ext/classify.c
FUZZ_ROOTS_cluster_model := ext/clmodel.c
FUZZ_ROOTS_labels        := ext/particles.c
FUZZ_ROOTS_segment       := ext/segment.c
FUZZ_ROOTS_options       := ext/particles.c ext/fit.c ext/shape.c ext/plot.c
ifneq ($(filter fuzz% $(FUZZ_DIR)/%,$(MAKECMDGOALS)),)
fuzz_closure = $(shell tests/fuzz/sources.sh $(1))
FUZZ_SRC_IMAGE := $(call fuzz_closure,$(FUZZ_ROOTS_IMAGE))
$(foreach r,$(FUZZ_READERS),$(eval FUZZ_SRC_$(r) := $(FUZZ_SRC_IMAGE)))
$(foreach t,$(FUZZ_SURFACES),$(eval FUZZ_SRC_$(t) := $(call fuzz_closure,$(FUZZ_ROOTS_$(t)))))
# The default CNN weights are assembled, not included.
FUZZ_SRC_cnn_model += ext/cnn_default_weights.S
endif

fuzz_objs = $(patsubst %.S,$(FUZZ_DIR)/obj/%.o,$(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRC_$(1))))
FUZZ_ALL_SRC     := $(sort $(foreach t,$(FUZZ_ALL),$(FUZZ_SRC_$(t))))
FUZZ_ALL_OBJ      = $(sort $(foreach t,$(FUZZ_ALL),$(call fuzz_objs,$(t))))
FUZZ_BINS         = $(FUZZ_ALL:%=$(FUZZ_DIR)/fuzz_%)

FUZZ_TARGETS += fuzz-run

.PHONY: fuzz-build fuzz-run fuzz-ci $(FUZZ_ALL:%=fuzz-%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  FUZZCC $<'
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# The default CNN weights (.incbin samples/cnn-default.nmm, path relative to the root).
$(FUZZ_DIR)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) -c $< -o $@

$(FUZZ_DIR)/obj/ext/cnn_default_weights.o: samples/cnn-default.nmm

define fuzz_link_rule
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_common.h tests/fuzz/fuzz_util.h tests/fuzz/fuzz_seeds_formats.h $(call fuzz_objs,$(1))
	@echo '  FUZZLD $$@'
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< $(call fuzz_objs,$(1)) $(LDLIBS)
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call fuzz_link_rule,$(t))))

.SECONDARY: $(FUZZ_ALL_OBJ)

fuzz-build: $(FUZZ_BINS)

# One target at a time, each for FUZZ_SECONDS; every target runs even if one fails.
fuzz-run: fuzz-build
	@echo "fuzz: $(words $(FUZZ_ALL)) targets, $(FUZZ_SECONDS) s each, one at a time: $(FUZZ_ALL)"
	@rc=0; for r in $(FUZZ_ALL); do \
	  tests/fuzz/run.sh $(FUZZ_DIR) $$r $(FUZZ_SECONDS) $(FUZZ_CORPUS_ROOT) || rc=1; \
	done; exit $$rc

# CI: every target for FUZZ_CI_SECONDS, FUZZ_JOBS at a time (2 cores); the
# exit status is nonzero when any target failed.
fuzz-ci: fuzz-build
	@echo "fuzz-ci: $(words $(FUZZ_ALL)) targets, $(FUZZ_CI_SECONDS) s each, $(FUZZ_JOBS) at a time: $(FUZZ_ALL)"
	@start=$$(date +%s); \
	printf '%s\n' $(FUZZ_ALL) | xargs -P $(FUZZ_JOBS) -I{} \
	  tests/fuzz/run.sh $(FUZZ_DIR) {} $(FUZZ_CI_SECONDS) $(FUZZ_CORPUS_ROOT); rc=$$?; \
	echo "fuzz-ci: $$(( $$(date +%s) - start )) s wall, $$([ $$rc -eq 0 ] && echo all clean || echo FAILURES above)"; \
	exit $$rc

$(FUZZ_ALL:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_%
	@tests/fuzz/run.sh $(FUZZ_DIR) $* $(FUZZ_SECONDS) $(FUZZ_CORPUS_ROOT)

-include $(patsubst %.c,$(FUZZ_DIR)/obj/%.d,$(filter %.c,$(FUZZ_ALL_SRC)))
