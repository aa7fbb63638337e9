# mk/shape.mk — eq. 1 renderer, simulator and analysis by synthesis.
#
#   make eval-shape   shape_fit vs circle / moment ellipse on real particles
#                     (part of `make eval`; needs ../shared/data)
#   make bench-shape  the same run, reporting shape_fit particles/s (part of `make bench`)
#   make docs-crop    regenerates docs/img/crop_*.png for docs/crop.md

$(BUILD)/tools/eval_shape: tools/eval_shape.c tools/pairs_tsv.h tools/gt_labels.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

$(BUILD)/tools/crop_figures: tools/crop_figures.c tools/gt_labels.h tools/png_file.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

.PHONY: eval-shape bench-shape docs-crop
eval-shape: $(BUILD)/tools/eval_shape
	nice $(BUILD)/tools/eval_shape ../shared/data

bench-shape: $(BUILD)/tools/eval_shape
	nice $(BUILD)/tools/eval_shape ../shared/data 300

docs-crop: $(BUILD)/tools/crop_figures
	$(BUILD)/tools/crop_figures ../shared/data docs/img

EVAL_TARGETS += eval-shape
BENCH_TARGETS += bench-shape
