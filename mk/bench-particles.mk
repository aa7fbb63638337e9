# mk/bench-particles.mk — speed of segmentation + features (part of `make bench`).
#
#   make bench-particles   particles/s of particles() on every shared micrograph
#                          set and on a generated 2048x2048 image (~800
#                          particles, seed 1), beside scikit-image (Otsu,
#                          distance transform, watershed, regionprops_table)
#                          run in the same invocation; prints the ratio.
#                          Reports wall and CPU time of both sides; nanomorph
#                          uses NM_THREADS threads (default: the cores the load
#                          average leaves free, at least 1),
#                          e.g. BENCH_PARTICLES_ARGS="--threads 1".
#   make synthetic         just the generated image (+ its 16-bit labels)
BENCH_TARGETS += bench-particles
.PHONY: bench-particles synthetic

$(BUILD)/tools/gen_synthetic: tools/gen_synthetic.c $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

$(BUILD)/bench/synthetic_2048.png: $(BUILD)/tools/gen_synthetic
	@mkdir -p $(dir $@)
	$(BUILD)/tools/gen_synthetic --size 2048 --count 800 --seed 1 $@ $(BUILD)/bench/synthetic_2048_labels.png

synthetic: $(BUILD)/bench/synthetic_2048.png

bench-particles: $(BUILD)/nanomorph.so $(BUILD)/bench/synthetic_2048.png
	nice /usr/bin/python3 tools/bench_particles.py --ext $(BUILD)/nanomorph \
	    --synthetic $(BUILD)/bench/synthetic_2048.png $(BENCH_PARTICLES_ARGS)
