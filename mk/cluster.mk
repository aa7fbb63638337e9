# Shape groups: clustering + classifier bench (see tools/bench_cluster.py).
BENCH_TARGETS += bench-cluster
.PHONY: bench-cluster bench-cluster-quick cluster-fixtures

$(BUILD)/tools/bench_cluster: tools/bench_cluster.c $(BUILD)/libnmengine.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnmengine.a $(LDLIBS)

bench-cluster: $(BUILD)/tools/bench_cluster
	nice /usr/bin/python3 tools/bench_cluster.py $(BUILD)/tools/bench_cluster

bench-cluster-quick: $(BUILD)/tools/bench_cluster
	/usr/bin/python3 tools/bench_cluster.py $(BUILD)/tools/bench_cluster --quick

# Regenerates tests/fixtures/cl_* and cluster_ref.txt (needs python3-sklearn,
# python3-scipy, libsvm-tools).
cluster-fixtures:
	/usr/bin/python3 tools/make_cluster_fixtures.py

# SPEC §9 check: k-means groups vs the named shapes of data/nanoshapes
# (tools/eval_groups.sql through the sqlite3 shell; skips without ../shared/data).
.PHONY: eval-groups bench-cluster-ward
eval-groups: $(BUILD)/nanomorph.so
	nice tools/eval_groups.sh $(BUILD)/nanomorph.so
EVAL_TARGETS += eval-groups

# Ward part of bench-cluster alone (for profiling the linkage).
bench-cluster-ward: $(BUILD)/tools/bench_cluster
	nice /usr/bin/python3 tools/bench_cluster.py $(BUILD)/tools/bench_cluster --ward-only
