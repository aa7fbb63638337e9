#!/usr/bin/python3
"""The paper's shape CNN in PyTorch, inference speed only (`make bench-cnn`).

SPEC §5: 44x44x1 input, four 3x3 conv + batch-norm + ReLU blocks of 8, 16,
32, 32 filters, 2x2 average pools after the first two, dropout 0.2, dense to
3 (26,931 weights). Eval mode, batches of 256, the threads given (default 2,
the machine's cores). Prints one JSON line.
"""
import json
import sys
import time

import torch
from torch import nn


def paper_net():
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*block(1, 8), nn.AvgPool2d(2), *block(8, 16), nn.AvgPool2d(2),
                         *block(16, 32), *block(32, 32), nn.Dropout(0.2), nn.Flatten(),
                         nn.Linear(32 * 11 * 11, 3))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8192
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = paper_net().eval()
    weights = sum(p.numel() for p in net.parameters())
    x = torch.rand(n, 1, 44, 44)
    best = 0.0
    with torch.no_grad():
        net(x[:256])
        for _ in range(3):
            t = time.perf_counter()
            for i in range(0, n, 256):
                net(x[i:i + 256])
            best = max(best, n / (time.perf_counter() - t))
    print(json.dumps({"impl": "pytorch " + torch.__version__, "net": "paper (44 px)",
                      "weights": weights, "threads": threads, "crops_per_s": round(best)}))


if __name__ == "__main__":
    main()
