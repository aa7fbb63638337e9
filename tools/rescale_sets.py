#!/usr/bin/python3
"""Copies of the ground-truth sets of ../shared/data at another pixel size.

    rescale_sets.py SCALE OUT_DIR [DATA_DIR]

Images are resampled by SCALE (box filter when shrinking: detector binning;
bicubic when enlarging), masks, label images and au-tetra-prism's overlap/
lenses by nearest neighbour, so that `tools/eval -d OUT_DIR` scores the same
particles at SCALE times their size in pixels. Every size the segmentation
uses is meant to follow the particle scale it estimates, not the pixel; this
is the check. haadf-stem-boxes is left out (box ground truth). Needs
python3-pil. The copies are test data derived at run time: keep them out of
the repository.
"""
import os
import sys

from PIL import Image

SETS = ["au-tetra-prism", "msa-bf-tem", "nanoshapes", "tem-np-sparse"]


def resample(src, dst, scale, labels):
    im = Image.open(src)
    w, h = im.size
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if labels:
        method = Image.NEAREST
    else:
        method = Image.BOX if scale < 1 else Image.BICUBIC
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    im.resize(size, method).save(dst)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    scale, out = float(sys.argv[1]), sys.argv[2]
    data = sys.argv[3] if len(sys.argv) > 3 else "../shared/data"
    if not 0.1 <= scale <= 4:
        sys.exit("rescale_sets.py: SCALE must be in 0.1..4")
    for name in SETS:
        pairs = os.path.join(data, name, "pairs.tsv")
        if not os.path.exists(pairs):
            continue
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(pairs) as f, open(os.path.join(out, name, "pairs.tsv"), "w") as g:
            for line in f:
                g.write(line)
                fields = line.split()
                if len(fields) < 2:
                    continue
                img, gt = fields[0], fields[1]
                lens = os.path.join("overlap", os.path.basename(gt))
                for rel, labels in ((img, False), (gt, True), (lens, True)):
                    src = os.path.join(data, name, rel)
                    if os.path.exists(src):
                        resample(src, os.path.join(out, name, rel), scale, labels)


if __name__ == "__main__":
    main()
