#!/usr/bin/python3
"""Writes the clustering / classifier fixtures of tests/unit/test_cluster*.c
and test_classify.c, with reference values from Debian's python3-sklearn,
python3-scipy and libsvm-tools (svm-train).

    /usr/bin/python3 tools/make_cluster_fixtures.py      # from the repo root

Data files (tests/fixtures/cl_*.txt): first line "n d", then n rows of d
numbers, then (if present) a line "labels" and n integer labels.
References (tests/fixtures/cluster_ref.txt): "name value" lines, values
printed with 17 significant digits. Everything is seeded: rerunning writes
the same bytes (with the same library versions, recorded in the header).
"""
import os
import subprocess
import numpy as np
import scipy
import sklearn
from scipy.cluster.hierarchy import linkage, cophenet, fcluster
from scipy.spatial.distance import pdist
from sklearn.datasets import make_blobs, load_wine
from sklearn.metrics import silhouette_score, adjusted_rand_score

OUT = "tests/fixtures"
refs = []


def ref(name, value):
    refs.append("%s %.17g" % (name, float(value)))


def write_data(name, X, labels=None):
    with open(os.path.join(OUT, name), "w") as f:
        f.write("%d %d\n" % X.shape)
        for row in X:
            f.write(" ".join("%.17g" % v for v in row) + "\n")
        if labels is not None:
            f.write("labels\n")
            f.write(" ".join(str(int(v)) for v in labels) + "\n")


def tree_refs(tag, X):
    for m in ("ward", "average", "complete", "single"):
        Z = linkage(X, method=m)
        c, _ = cophenet(Z, pdist(X))
        ref("ccc_%s_%s" % (tag, m), c)
        ref("top_height_%s_%s" % (tag, m), Z[-1, 2])
        for k in (2, 3, 5):
            lab = fcluster(Z, k, criterion="maxclust")
            ref("cut_%s_%s_%d_silhouette" % (tag, m, k),
                silhouette_score(X, lab) if len(set(lab)) > 1 else 0)


rng = np.random.RandomState(7)
# 1. Three well separated blobs in 4-D (planted truth).
X1, y1 = make_blobs(n_samples=150, n_features=4, centers=3, cluster_std=1.0, random_state=0)
write_data("cl_blobs.txt", X1, y1)
ref("sil_blobs_truth", silhouette_score(X1, y1))
noisy = y1.copy()
flip = rng.choice(150, 30, replace=False)
noisy[flip] = rng.randint(0, 3, 30)
write_data("cl_blobs_noisy.txt", X1, noisy)
ref("sil_blobs_noisy", silhouette_score(X1, noisy))
ref("ari_blobs_truth_noisy", adjusted_rand_score(y1, noisy))
tree_refs("blobs", X1)

# 2. Structureless Gaussian cloud in 6-D with arbitrary 4-way labels (one
#    singleton cluster to exercise s(i) = 0).
X2 = rng.normal(size=(120, 6)) * np.array([1, 2, 0.5, 1, 3, 1])
y2 = rng.randint(0, 3, 120)
y2[17] = 3
write_data("cl_cloud.txt", X2, y2)
ref("sil_cloud", silhouette_score(X2, y2))
tree_refs("cloud", X2)

from sklearn.decomposition import PCA
pca = PCA().fit(X2)
for c, r in enumerate(pca.explained_variance_ratio_):
    ref("pca_cloud_ratio_%d" % c, r)
for c, v in enumerate(pca.explained_variance_):
    ref("pca_cloud_var_%d" % c, v)

# 3. ARI on label vectors of different cluster counts.
a = rng.randint(0, 4, 500)
b = np.where(rng.rand(500) < 0.6, a, rng.randint(0, 6, 500))
write_data("cl_ari.txt", np.column_stack([a, b]).astype(float))
ref("ari_pair", adjusted_rand_score(a, b))
ref("ari_pair_rev", adjusted_rand_score(b, a))

# 4. The classifier: wine (13 features, 3 classes) z-scored the way nanomorph
#    standardises (population SD), written in libsvm's format with every
#    feature explicit, then svm-train -v 10 for a few (C, gamma).
W = load_wine()
Xw = (W.data - W.data.mean(0)) / W.data.std(0)
yw = W.target + 1
with open(os.path.join(OUT, "cl_wine.libsvm"), "w") as f:
    for lab, row in zip(yw, Xw):
        f.write("%d %s\n" % (lab, " ".join("%d:%.17g" % (j + 1, v) for j, v in enumerate(row))))
for kern, C, g in (("rbf", 1, 0.1), ("rbf", 10, 0.01), ("rbf", 0.5, 1), ("linear", 1, 0)):
    args = ["svm-train", "-q", "-v", "10", "-c", str(C), "-t", "0" if kern == "linear" else "2"]
    if kern == "rbf":
        args += ["-g", str(g)]
    outp = subprocess.run(args + [os.path.join(OUT, "cl_wine.libsvm"), "/dev/null"],
                          capture_output=True, text=True, check=True).stdout
    acc = float(outp.split("=")[1].strip().rstrip("%"))
    # svm-train prints 6 digits: store the number of rows predicted right.
    ref("svmcv_%s_c%s_g%s_correct" % (kern, C, g), round(acc / 100 * len(yw)))

with open(os.path.join(OUT, "cluster_ref.txt"), "w") as f:
    f.write("# numpy %s scipy %s sklearn %s; tools/make_cluster_fixtures.py\n"
            % (np.__version__, scipy.__version__, sklearn.__version__))
    f.write("\n".join(refs) + "\n")
print("wrote %d reference values" % len(refs))
