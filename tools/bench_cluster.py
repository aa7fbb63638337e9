#!/usr/bin/python3
"""make bench-cluster: nanomorph's clustering engine beside scikit-learn and
SciPy on the same data, in the same invocation (one after the other, never
at the same time).

  1. k-means, K = 2..12 chosen by mean silhouette, on 50,000 x 33
     standardised rows (six Gaussian blobs of unequal spread in 33-D, seed 0):
     nanomorph: greedy k-means++ and 10 restarts per K, then the silhouette
     of all 11 labelings in one pass, estimated (n > 20,000) from 10,000
     sampled rows scored against all 50,000;
     scikit-learn: KMeans(n_clusters=K, n_init=10) per K and
     silhouette_score(sample_size=20,000) per K (its estimate: 20,000
     sampled rows scored against each other) -- about the same number of
     distance pairs (5e8 vs 4e8 per K).
  2. Ward linkage on the first 20,000 rows: nanomorph nm_linkage
     (nearest-neighbour chain on centroids: float pre-filter, exact double
     evaluation of the survivors) vs scipy linkage(X, "ward") (pdist + its
     nearest-neighbour chain with Lance-Williams updates). Every merge of the
     two trees is compared, not only the top height.

usage: tools/bench_cluster.py BENCH_BINARY [--quick] [--ward-only]
(--ward-only: part 2 alone, for profiling the linkage)
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import sklearn
from scipy.cluster.hierarchy import linkage
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

binary = sys.argv[1]
quick = "--quick" in sys.argv
ward_only = "--ward-only" in sys.argv
N, D, NW = (50000, 33, 20000) if not quick else (5000, 33, 2000)

rng = np.random.RandomState(0)
centres = rng.normal(scale=3.0, size=(6, D))
spread = rng.uniform(0.6, 1.6, size=6)
lab = rng.randint(0, 6, N)
X = centres[lab] + rng.normal(size=(N, D)) * spread[lab, None]
X = (X - X.mean(0)) / X.std(0)
X = np.ascontiguousarray(X, dtype=np.float64)

tmp = tempfile.mkdtemp()
fx = os.path.join(tmp, "x.f64")
fw = os.path.join(tmp, "w.f64")
fz = os.path.join(tmp, "z.txt")
X.tofile(fx)
X[:NW].tofile(fw)


def run(args):
    """Runs the engine; returns its JSON, the wall time and the CPU time
    (user + system, all threads) of the process."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run([binary] + args, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return json.loads(out), wall, cpu


print("nanomorph clustering bench: %d x %d (k-means 2..12), Ward on %d rows" % (N, D, NW))
print("scikit-learn %s, SciPy %s, NumPy %s" % (sklearn.__version__, scipy.__version__, np.__version__))

print("load average before: %.2f %.2f %.2f" % os.getloadavg())
if not ward_only:
    ours, wall, _ = run(["kmeans", fx, str(N), str(D), "2", "12"])
    t = time.perf_counter()
    sk_sil, sk_inertia = [], []
    for k in range(2, 13):
        km = KMeans(n_clusters=k, n_init=10, random_state=1).fit(X)
        sk_inertia.append(km.inertia_)
        sk_sil.append(silhouette_score(X, km.labels_, sample_size=min(20000, N), random_state=1))
    sk_km = time.perf_counter() - t
    sk_k = 2 + int(np.argmax(sk_sil))
    print("k-means auto-K  nanomorph %.2f s (k-means %.2f + silhouette %.2f; process %.2f), K = %d"
          % (ours["total_s"], ours["kmeans_s"], ours["silhouette_s"], wall, ours["k"]))
    print("                scikit-learn %.2f s, K = %d    ratio %.2fx"
          % (sk_km, sk_k, sk_km / ours["total_s"]))
    print("  inertia ratio nanomorph/sklearn per K: %s"
          % " ".join("%.4f" % (a / b) for a, b in zip(ours["inertia"], sk_inertia)))
    print("  silhouette nanomorph: %s" % " ".join("%.3f" % v for v in ours["silhouette"]))
    print("  silhouette sklearn:   %s" % " ".join("%.3f" % v for v in sk_sil))

# The machine is shared: wall times swing with the load, so CPU times
# (process user + system, both BLAS threads included on our side; SciPy's
# linkage is single-threaded) are printed too.
wd, wall, cpu = run(["ward", fw, str(NW), str(D), fz])
t = time.perf_counter()
c = time.process_time()
Z = linkage(X[:NW], method="ward")
sp_cpu = time.process_time() - c
sp_w = time.perf_counter() - t
print("Ward %d rows     nanomorph %.2f s (process %.2f), SciPy %.2f s    ratio %.2fx"
      % (NW, wd["ward_s"], wall, sp_w, sp_w / wd["ward_s"]))
print("  CPU time       nanomorph process %.2f s, SciPy linkage %.2f s    ratio %.2fx"
      % (cpu, sp_cpu, sp_cpu / cpu))
print("  top merge height nanomorph %.9g, SciPy %.9g (rel. diff %.1e)"
      % (wd["top_height"], Z[-1, 2], abs(wd["top_height"] - Z[-1, 2]) / Z[-1, 2]))
ZN = np.loadtxt(fz, ndmin=2)
same = bool(np.all(ZN[:, [0, 1, 3]] == Z[:, [0, 1, 3]]))
rel = np.abs(ZN[:, 2] - Z[:, 2]) / np.maximum(Z[:, 2], 1e-300)
print("  all %d merges: same pairs and sizes as SciPy: %s; largest rel. height diff %.1e"
      % (NW - 1, "yes" if same else "NO", rel.max()))
print("load average after: %.2f %.2f %.2f" % os.getloadavg())
os.remove(fx)
os.remove(fw)
os.remove(fz)
os.rmdir(tmp)
