# mk/cnn.mk — the shape CNN: default weights, accuracy and speed.
#
#   make model      trains samples/cnn-default.nmm from the simulated data set
#                   (MODEL_N crops of simulate(MODEL_N, MODEL_SEED)); the engine
#                   compiles that file in (ext/cnn_default_weights.S)
#   make eval-cnn   simulated test RMSEs + re-simulation Jaccard on real
#                   particles vs the moment ellipse (part of `make eval`)
#   make bench-cnn  batched inference crops/s vs PyTorch running the paper's
#                   net (part of `make bench`)

MODEL_N      ?= 65000
MODEL_SEED   ?= 42
# The committed weights: the default architecture (NM_CNN_DEFAULT_ARCH) for
# 14 epochs, within the 15-min budget on the shared 2-core machine (see
# docs/cnn.md).
MODEL_ARGS   ?= -e 14
MODEL_OUT    ?= samples/cnn-default.nmm
# One BLAS thread trains twice as fast as two on the shared, loaded machine
# (two threads spin against the other jobs); the bytes are the same either
# way (docs/cnn.md). The simulation still uses 2 threads (-j).
MODEL_BLAS_THREADS ?= 1

# The assembler .incbin's the weights: rebuild when they change.
$(BUILD)/ext/cnn_default_weights.o: samples/cnn-default.nmm

$(BUILD)/tools/cnn_model: tools/cnn_model.c tools/sim_opts_arg.h tools/sim_canon.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

.PHONY: model eval-cnn bench-cnn
model: $(BUILD)/tools/cnn_model
	OPENBLAS_NUM_THREADS=$(MODEL_BLAS_THREADS) nice $(BUILD)/tools/cnn_model -n $(MODEL_N) -s $(MODEL_SEED) -o $(MODEL_OUT) $(MODEL_ARGS) \
	  | tee $(BUILD)/model-report.json

$(BUILD)/tools/cnn_eval: tools/cnn_eval.c tools/pairs_tsv.h tools/gt_labels.h tools/sim_opts_arg.h tools/sim_canon.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

# CNN_EVAL_ARGS: e.g. '-m other.nmm' (default: the built-in model).
eval-cnn: $(BUILD)/tools/cnn_eval
	nice $(BUILD)/tools/cnn_eval -n $(MODEL_N) -s $(MODEL_SEED) $(CNN_EVAL_ARGS)

EVAL_TARGETS += eval-cnn

$(BUILD)/tools/cnn_bench: tools/cnn_bench.c $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

# Same machine, same moment: 3 rounds alternating our batched inference (the
# default net, and the paper's net in our engine) with PyTorch (Debian
# python3-torch, 2 threads) running the paper's net, then the medians and the
# median per-round ratio; then cnn_params() from SQL including PNG decoding.
# Without PyTorch our figures are still printed.
CNN_BENCH_ROUNDS ?= 3
bench-cnn: $(BUILD)/tools/cnn_bench $(BUILD)/nanomorph.so
	uptime
	-/usr/bin/python3 tools/cnn_torch_bench.py 2 8192 --ours $(BUILD)/tools/cnn_bench --rounds $(CNN_BENCH_ROUNDS)
	@printf '.load $(BUILD)/nanomorph\nCREATE TABLE c AS SELECT crop FROM particles(%s, %s);\nCREATE TABLE big AS SELECT c.crop FROM c, generate_series(1, 200);\n.timer on\nSELECT count(*), 0 AS cnn_params_batched FROM cnn_params(%s);\n' \
	  "'../shared/data/msa-bf-tem/images/train_00.png'" "'{\"labels\":\"../shared/data/msa-bf-tem/masks/train_00.png\"}'" "'big'" \
	  | sqlite3 :memory: 2>&1 || true

BENCH_TARGETS += bench-cnn

# Outline spectra of real and simulated crops (docs/cnn.md, round 5).
$(BUILD)/tools/cnn_spectrum: tools/cnn_spectrum.c tools/pairs_tsv.h tools/gt_labels.h tools/sim_opts_arg.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)
