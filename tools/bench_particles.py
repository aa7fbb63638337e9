#!/usr/bin/python3
"""bench_particles.py — segmentation + features: nanomorph beside scikit-image.

    /usr/bin/python3 tools/bench_particles.py --ext build/nanomorph \
        --synthetic build/bench/synthetic_2048.png [--data ../shared/data] [--repeat 3]

For each set (every image of each ../shared/data/<set>/pairs.tsv, and the
generated 2048x2048 image) it runs, in this one invocation:

  nanomorph     one sqlite3 process per set:
                SELECT count(*), ... FROM (VALUES ...) f,
                       particles(f.column1, '{"scale_bar":false}') p
                timed as a whole process (start-up, .load, decode, segmentation,
                the 30 features; crops are not made because no query reads them);
  scikit-image  in this Python process (imports not timed): imread, Otsu with
                automatic polarity, hole filling, small-object removal,
                Euclidean distance transform, peak_local_max markers, watershed,
                regionprops_table with the comparable features (area, perimeter,
                centroid, bbox, axes, eccentricity, orientation, convex area,
                solidity, extent, equivalent diameter, filled area, Euler number,
                max Feret, mean/min/max intensity, weighted centroid).

Each side counts its own particles (every row, excluded or not). It prints
particles/s for each and two ratios: of particles/s (the issue's measure) and
of wall time for the same images (the same work regardless of how many
particles each finds). The best of --repeat runs is kept for each side.
Not a test: numbers depend on the machine; record them in docs/benchmarks.md.

    /usr/bin/python3 tools/bench_particles.py --skimage-one IMAGE
runs the scikit-image side on one image and prints its particle count (to
time both sides as whole processes with an external timer);
    /usr/bin/python3 tools/bench_particles.py --skimage-features-one IMAGE LABELS
does the same for regionprops_table alone on a given label image.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def sql_quote(s):
    return "'" + s.replace("'", "''") + "'"


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_nanomorph(ext, images, repeat):
    """Best wall time of repeat runs, the counts, and that run's CPU time
    (user + system of the sqlite3 process, all its threads)."""
    values = ",".join("(%s)" % sql_quote(p) for p in images)
    sql = ("SELECT count(*), coalesce(sum(excluded IS NULL), 0) FROM (VALUES %s) f, "
           "particles(f.column1, '{\"scale_bar\":false}') p;" % values)
    best, out, cpu = None, None, None
    for _ in range(repeat):
        c0 = children_cpu()
        t0 = time.perf_counter()
        r = subprocess.run(["sqlite3", ":memory:", "-cmd", ".load " + ext, sql],
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        dc = children_cpu() - c0
        if r.returncode != 0 or "rror" in r.stderr:
            raise SystemExit("nanomorph failed: " + r.stderr.strip())
        if best is None or dt < best:
            best, out, cpu = dt, r.stdout.strip(), dc
    n, kept = (int(x) for x in out.split("|"))
    return best, n, kept, cpu


def skimage_pipeline(path):
    import numpy as np
    from scipy import ndimage as ndi
    from skimage import io, filters, measure, morphology, segmentation, feature, color

    img = io.imread(path)
    if img.ndim == 3:
        img = color.rgb2gray(img[..., :3])
    img = img.astype(np.float64)
    t = filters.threshold_otsu(img)
    binary = img < t
    if binary.mean() > 0.5:  # bright particles on a dark field
        binary = ~binary
    binary = ndi.binary_fill_holes(binary)
    binary = morphology.remove_small_objects(binary, 30)
    dist = ndi.distance_transform_edt(binary)
    comp = measure.label(binary)
    coords = feature.peak_local_max(dist, min_distance=7, labels=comp)
    markers = np.zeros(dist.shape, dtype=np.int32)
    markers[tuple(coords.T)] = np.arange(1, len(coords) + 1)
    labels = segmentation.watershed(-dist, markers, mask=binary)
    props = measure.regionprops_table(
        labels, intensity_image=img,
        properties=("label", "area", "perimeter", "centroid", "bbox", "major_axis_length",
                    "minor_axis_length", "eccentricity", "orientation", "area_convex",
                    "solidity", "extent", "equivalent_diameter", "area_filled", "euler_number",
                    "feret_diameter_max", "intensity_mean", "intensity_min", "intensity_max",
                    "centroid_weighted"))
    return len(props["label"])


def skimage_features_only(path, labels_path):
    import numpy as np
    from skimage import io, measure, color
    img = io.imread(path)
    if img.ndim == 3:
        img = color.rgb2gray(img[..., :3])
    labels = io.imread(labels_path).astype(np.int32)
    props = measure.regionprops_table(
        labels, intensity_image=img.astype(np.float64),
        properties=("label", "area", "perimeter", "centroid", "bbox", "major_axis_length",
                    "minor_axis_length", "eccentricity", "orientation", "area_convex",
                    "solidity", "extent", "equivalent_diameter", "area_filled", "euler_number",
                    "feret_diameter_max", "intensity_mean", "intensity_min", "intensity_max",
                    "centroid_weighted"))
    return len(props["label"])


def features_only(ext, image, labels, repeat):
    """The features alone: the same label image measured by both."""
    sql = ("SELECT count(*) FROM particles(%s, '{\"scale_bar\":false}', %s);"
           % (sql_quote(image), sql_quote(labels)))
    nbest = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run(["sqlite3", ":memory:", "-cmd", ".load " + ext, sql],
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0 or "rror" in r.stderr:
            raise SystemExit("nanomorph failed: " + r.stderr.strip())
        nbest = dt if nbest is None else min(nbest, dt)
        nn = int(r.stdout.strip())
    sbest = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        sn = skimage_features_only(image, labels)
        dt = time.perf_counter() - t0
        sbest = dt if sbest is None else min(sbest, dt)
    return nbest, nn, sbest, sn


def run_skimage(images, repeat):
    """Best wall time, the count, and that run's CPU time (this process)."""
    best, n, cpu = None, 0, None
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        count = sum(skimage_pipeline(p) for p in images)
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        if best is None or dt < best:
            best, n, cpu = dt, count, dc
    return best, n, cpu


def set_images(data, name):
    pairs = os.path.join(data, name, "pairs.tsv")
    out = []
    with open(pairs) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols and cols[0] and not cols[0].startswith("#") and cols[0] != "image":
                out.append(os.path.join(data, name, cols[0]))
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--skimage-one":
        # one image through the scikit-image pipeline, for whole-process timing
        print(skimage_pipeline(sys.argv[2]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--skimage-features-one":
        print(skimage_features_only(sys.argv[2], sys.argv[3]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", required=True, help="path of nanomorph.so without .so")
    ap.add_argument("--synthetic", required=True)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--only", action="append", help="measure only this set (repeatable)")
    ap.add_argument("--threads", type=int,
                    help="NM_THREADS for nanomorph (default: its own default, the core count)")
    a = ap.parse_args()
    if a.threads:
        os.environ["NM_THREADS"] = str(a.threads)

    import skimage
    sets = []
    if os.path.isdir(a.data):
        for name in sorted(os.listdir(a.data)):
            if os.path.isfile(os.path.join(a.data, name, "pairs.tsv")):
                sets.append((name, set_images(a.data, name)))
    else:
        print("note: %s not found; only the synthetic image is measured" % a.data)
    sets.append(("synthetic-2048", [a.synthetic]))
    if a.only:
        sets = [s for s in sets if s[0] in a.only]

    print("segmentation + features, best of %d; nanomorph = whole sqlite3 process "
          "(NM_THREADS=%s), scikit-image %s in-process (imports not timed); cpu = user + "
          "system of the best run" % (a.repeat, os.environ.get("NM_THREADS", "default"),
                                      skimage.__version__))
    hdr = "%-18s %6s | %9s %8s %8s %11s | %9s %8s %8s %11s | %8s %8s %8s" % (
        "set", "images", "nm parts", "nm s", "nm cpu", "nm parts/s", "sk parts", "sk s",
        "sk cpu", "sk parts/s", "ratio p/s", "ratio t", "ratio cpu")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for name, images in sets:
        nt, nn, nkept, nc = run_nanomorph(a.ext, images, a.repeat)
        st, sn, sc = run_skimage(images, a.repeat)
        npps, spps = nn / nt, sn / st
        row = dict(set=name, images=len(images), nm_particles=nn, nm_kept=nkept, nm_s=nt,
                   nm_cpu=nc, nm_pps=npps, sk_particles=sn, sk_s=st, sk_cpu=sc, sk_pps=spps,
                   ratio_pps=npps / spps if spps else float("inf"), ratio_time=st / nt,
                   ratio_cpu=sc / nc if nc else float("inf"))
        rows.append(row)
        print("%-18s %6d | %9d %8.2f %8.2f %11.0f | %9d %8.2f %8.2f %11.0f | %7.1fx %7.1fx %7.1fx" % (
            name, len(images), nn, nt, nc, npps, sn, st, sc, spps, row["ratio_pps"],
            row["ratio_time"], row["ratio_cpu"]))
        sys.stdout.flush()
    tn = sum(r["nm_particles"] for r in rows)
    tt = sum(r["nm_s"] for r in rows)
    sn = sum(r["sk_particles"] for r in rows)
    stt = sum(r["sk_s"] for r in rows)
    tc = sum(r["nm_cpu"] for r in rows)
    sct = sum(r["sk_cpu"] for r in rows)
    print("-" * len(hdr))
    print("%-18s %6d | %9d %8.2f %8.2f %11.0f | %9d %8.2f %8.2f %11.0f | %7.1fx %7.1fx %7.1fx" % (
        "all", sum(r["images"] for r in rows), tn, tt, tc, tn / tt, sn, stt, sct, sn / stt,
        (tn / tt) / (sn / stt), stt / tt, sct / tc if tc else float("inf")))
    lab = a.synthetic[:-4] + "_labels.png"
    if os.path.isfile(lab) and (not a.only or "synthetic-2048" in a.only):
        nt, nn, st, sn = features_only(a.ext, a.synthetic, lab, a.repeat)
        print()
        print("features only (decode + the same ground-truth label image measured; nanomorph whole "
              "process, regionprops_table in-process):")
        print("%-18s %6d | %9d %8.2f %11.0f | %9d %8.2f %11.0f | %7.1fx %7.1fx" % (
            "synthetic-labels", 1, nn, nt, nn / nt, sn, st, sn / st, (nn / nt) / (sn / st),
            st / nt))
        rows.append(dict(set="synthetic-labels (features only)", images=1, nm_particles=nn,
                         nm_s=nt, sk_particles=sn, sk_s=st))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
