# Scale-bar reading: the generated test set needs libjpeg (JPEG round trips).
$(BUILD)/tests/test_scalebar: tests/unit/scalebar_synth.h tools/scalebar_cases.h tools/png_file.h
$(BUILD)/tests/test_scalebar: LDLIBS += -ljpeg

$(BUILD)/tools/eval_scalebar: tools/eval_scalebar.c tools/scalebar_cases.h tools/png_file.h tests/unit/scalebar_synth.h $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS) -ljpeg

# The same tool with the reader built to trace its steps on stderr.
$(BUILD)/tools/eval_scalebar_trace: tools/eval_scalebar.c tools/scalebar_cases.h tools/png_file.h tests/unit/scalebar_synth.h ext/scalebar.c ext/scalebar_detect.c $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DNM_SCALEBAR_TRACE -o $@ $< ext/scalebar.c ext/scalebar_detect.c $(BUILD)/libnmengine.a $(LDLIBS) -ljpeg

.PHONY: eval-scalebar
eval-scalebar: $(BUILD)/tools/eval_scalebar
	$(BUILD)/tools/eval_scalebar

EVAL_TARGETS += eval-scalebar
