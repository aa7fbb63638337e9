# Segmentation accuracy on ../shared/data (tools/eval.c): `make eval-seg`,
# part of `make eval`. EVAL_ARGS passes options, e.g. EVAL_ARGS='-v -s msa-bf-tem h=0.5'.
$(BUILD)/tools/eval: tools/eval.c tools/pairs_tsv.h tools/gt_labels.h tools/png_file.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

.PHONY: eval-seg
eval-seg: $(BUILD)/tools/eval
	nice $(BUILD)/tools/eval $(EVAL_ARGS)

EVAL_TARGETS += eval-seg
