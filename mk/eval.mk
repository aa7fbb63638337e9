# Segmentation accuracy on ../shared/data (tools/eval.c): `make eval-seg`,
# part of `make eval`. EVAL_ARGS passes options, e.g. EVAL_ARGS='-v -s msa-bf-tem h=0.5'.
$(BUILD)/tools/eval: tools/eval.c tools/pairs_tsv.h tools/gt_labels.h tools/png_file.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

.PHONY: eval-seg
eval-seg: $(BUILD)/tools/eval
	nice $(BUILD)/tools/eval $(EVAL_ARGS)

EVAL_TARGETS += eval-seg

# The same sets at half and 1.5 times their pixel size (tools/rescale_sets.py,
# copies under $(BUILD)/rescaled; needs python3-pil): is the segmentation
# scale-free? Not part of `make eval` (it triples its time); see
# docs/accuracy.md "Scale robustness".
RESCALE_FACTORS ?= 0.5 1.5
.PHONY: eval-rescaled
eval-rescaled: $(BUILD)/tools/eval
	@for s in $(RESCALE_FACTORS); do \
	  /usr/bin/python3 tools/rescale_sets.py $$s $(BUILD)/rescaled/x$$s ../shared/data || exit 1; \
	  echo "pixel size x$$s:"; \
	  nice $(BUILD)/tools/eval -d $(BUILD)/rescaled/x$$s $(EVAL_ARGS) || exit 1; \
	done
