# nanomorph — build, test, bench, demo.
#
#   make            build build/nanomorph.so (loadable) + build/libnmengine.a
#   make demo       install missing packages (root) / print the apt-get line, build, run on samples/
#   make test       install step, build, every unit and SQL test, then again under ASan+UBSan
#   make test-fast  unit + SQL tests once, no sanitizer pass
#   make test-asan  the sanitizer pass alone
#   make eval       accuracy on ../shared/data      make bench   speed beside the peers
#   make model      train the default CNN weights   make fuzz    run every fuzz target
#
# BUILD=dir puts every artefact under dir (several builds can share a tree).

BUILD    ?= build
CC       ?= cc
PKGS     := openblas lapacke libpng libtiff-4 cairo hdf5 libcjson tesseract lept
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT      ?= -O2
SAN      ?=
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
               -I/usr/include/libsvm $(PKG_CFLAGS)
CFLAGS   = $(CFLAGS_BASE) $(OPT) -g $(SAN) $(EXTRA_CFLAGS)
LDLIBS   = $(PKG_LIBS) -lsvm -lm -lpthread -ldl

ENGINE_SRC := $(filter-out ext/nanomorph.c,$(wildcard ext/*.c ext/formats/*.c))
ENGINE_ASM := $(wildcard ext/*.S)
BIND_SRC   := ext/nanomorph.c $(wildcard vtab/*.c udf/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o) $(ENGINE_ASM:%.S=$(BUILD)/%.o)
BIND_OBJ   := $(BIND_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Targets that area files in mk/*.mk append to.
BENCH_TARGETS :=
EVAL_TARGETS  :=
FUZZ_TARGETS  :=

.PHONY: all deps test test-fast test-asan unit sql-tests eval bench demo model fuzz clean
all: $(BUILD)/nanomorph.so $(BUILD)/libnmengine.a nanomorph.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC   $<'
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -c $< -o $@

$(BUILD)/libnmengine.a: $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# -z defs: a symbol a header promises but nobody defines fails the link here,
# not at .load time.
$(BUILD)/nanomorph.so: $(BIND_OBJ) $(BUILD)/libnmengine.a
	$(CC) -shared $(SAN) -Wl,-z,defs -o $@ $(BIND_OBJ) $(BUILD)/libnmengine.a $(LDLIBS)

# `.load ./nanomorph` from the repository root finds this copy.
nanomorph.so: $(BUILD)/nanomorph.so
	@if [ "$(BUILD)" = build ]; then cp $< $@; fi

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	@echo '  TEST $@'
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

deps:
	@scripts/install-deps.sh

unit: $(UNIT_BIN)
	@scripts/run-unit-tests.sh $(BUILD)

sql-tests: $(BUILD)/nanomorph.so
	@scripts/run-sql-tests.sh $(BUILD)/nanomorph.so

test-fast: all unit sql-tests

test: deps
	$(MAKE) test-fast
	$(MAKE) test-asan

test-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build-asan/nanomorph.so unit-asan

unit-asan: $(UNIT_BIN)
	@NM_SANITIZE=1 scripts/run-unit-tests.sh $(BUILD)
	@NM_SANITIZE=1 scripts/run-sql-tests.sh $(BUILD)/nanomorph.so

demo: deps all
	@scripts/demo.sh

clean:
	rm -rf build build-asan build-* nanomorph.so

-include mk/*.mk

# after the includes: a rule's prerequisites are expanded when it is read, so
# the lists must already hold what mk/*.mk appended
eval: all $(EVAL_TARGETS)
bench: all $(BENCH_TARGETS)
fuzz: $(FUZZ_TARGETS)
-include $(ENGINE_OBJ:.o=.d) $(BIND_OBJ:.o=.d)
