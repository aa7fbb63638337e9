#!/usr/bin/python3
"""The paper's shape CNN in PyTorch, inference speed (`make bench-cnn`).

SPEC §5: 44x44x1 input, four 3x3 conv + batch-norm + ReLU blocks of 8, 16,
32, 32 filters, 2x2 average pools after the first two, dropout 0.2, dense to
3 (26,931 weights). Eval mode, batches of 256, the threads given (default 2,
the machine's cores). Prints one JSON line per measurement.

    cnn_torch_bench.py [THREADS [N]] [--ours CNN_BENCH] [--rounds R]

With --ours, R rounds alternate our engine (the cnn_bench program, run as a
child: the default net and the paper's net in our engine) with PyTorch, so
both see the same machine at nearly the same moment, and a last line gives
the medians and the median of the per-round ratios.
"""
import json
import statistics
import subprocess
import sys
import time


def paper_net(nn):
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*block(1, 8), nn.AvgPool2d(2), *block(8, 16), nn.AvgPool2d(2),
                         *block(16, 32), *block(32, 32), nn.Dropout(0.2), nn.Flatten(),
                         nn.Linear(32 * 11 * 11, 3))


def torch_rate(torch, net, x, n):
    best = 0.0
    with torch.no_grad():
        net(x[:256])
        for _ in range(3):
            t = time.perf_counter()
            for i in range(0, n, 256):
                net(x[i:i + 256])
            best = max(best, n / (time.perf_counter() - t))
    return best


def ours(cmd, n):
    out = subprocess.run([cmd, "-n", str(n)], check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for r in rows:
        print(json.dumps(r), flush=True)
    return {("default" if r["net"] == "default" else "paper"): r["crops_per_s"] for r in rows}


def main():
    args = sys.argv[1:]
    cmd, rounds = None, 1
    if "--ours" in args:
        i = args.index("--ours")
        cmd = args[i + 1]
        del args[i:i + 2]
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i:i + 2]
    threads = int(args[0]) if len(args) > 0 else 2
    n = int(args[1]) if len(args) > 1 else 8192
    try:
        import torch
        from torch import nn
    except ImportError as e:
        torch = None
        print(json.dumps({"impl": "pytorch", "error": str(e)}), flush=True)
    if torch is not None:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        net = paper_net(nn).eval()
        weights = sum(p.numel() for p in net.parameters())
        x = torch.rand(n, 1, 44, 44)
    res = {"default": [], "paper": [], "pytorch": []}
    for _ in range(rounds):
        if cmd:
            for k, v in ours(cmd, n).items():
                res[k].append(v)
        if torch is not None:
            rate = torch_rate(torch, net, x, n)
            res["pytorch"].append(rate)
            print(json.dumps({"impl": "pytorch " + torch.__version__, "net": "paper (44 px)",
                              "weights": weights, "threads": threads,
                              "crops_per_s": round(rate)}), flush=True)
    if cmd and res["pytorch"] and res["default"]:
        def ratio(k):
            return round(statistics.median(a / b for a, b in zip(res[k], res["pytorch"])), 2)
        print(json.dumps({"summary": "median of %d alternating rounds" % rounds,
                          "nanomorph_default": round(statistics.median(res["default"])),
                          "nanomorph_paper_net": round(statistics.median(res["paper"])),
                          "pytorch_paper_net": round(statistics.median(res["pytorch"])),
                          "ratio_default_vs_pytorch": ratio("default"),
                          "ratio_same_net_vs_pytorch": ratio("paper")}), flush=True)


if __name__ == "__main__":
    main()
