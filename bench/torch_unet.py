#!/usr/bin/env python3
"""PyTorch side of `npm run bench`: the paper's UNet (the same layers as src/model/unet.ts) timed on CUDA or CPU.

    python3 bench/torch_unet.py --device cuda --out torch.json            # GPU machine: fp32 and TF32
    python3 bench/torch_unet.py --device cpu --threads 2 --out torch.json  # this machine's CPU reference

Train step = forward, soft Dice loss (background included), backward, Adam 1e-3, loss read on the host; the
same definition as glocal's. Inference latency = host array -> device -> forward (BN inference) -> argmax ->
label map back on the host. Every figure is the median over timed repetitions after warm-up. Prints JSON.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def paper_channels(width):
    c = lambda n: max(4, round(n * width / 4) * 4)
    enc = [[c(16)] * 2, [c(32)] * 2, [c(64)] * 2, [c(128)] * 2, [c(128)] * 2, [c(128)] * 2]
    dec = [(c(128), [c(128)] * 2), (c(128), [c(128)] * 2), (c(64), [c(64)] * 2), (c(32), [c(32)] * 2), (c(16), [c(16)])]
    return enc, dec, [c(16), c(16)]


class Block(nn.Module):
    """conv (bias) -> BN (eps 1e-3, TF decay 0.99) -> ReLU; k = 2 is TF SAME (pad 0 before, 1 after)."""

    def __init__(self, cin, cout, k):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(cin, cout, k, padding=1 if k == 3 else 0)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x):
        if self.k == 2:
            x = F.pad(x, (0, 1, 0, 1))
        return F.relu(self.bn(self.conv(x)))


class PaperUNet(nn.Module):
    def __init__(self, classes=4, width=1.0):
        super().__init__()
        enc, dec, head = paper_channels(width)
        c = 1
        self.enc = nn.ModuleList()
        for level in enc:
            blocks = []
            for co in level:
                blocks.append(Block(c, co, 3))
                c = co
            self.enc.append(nn.Sequential(*blocks))
        skips = [lvl[-1] for lvl in enc]
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for i, (up, convs) in enumerate(dec):
            self.up.append(Block(c, up, 2))
            c = up + skips[len(enc) - 2 - i]
            blocks = []
            for co in convs:
                blocks.append(Block(c, co, 3))
                c = co
            self.dec.append(nn.Sequential(*blocks))
        blocks = []
        for co in head:
            blocks.append(Block(c, co, 3))
            c = co
        self.head = nn.Sequential(*blocks)
        self.logits = nn.Conv2d(c, classes, 3, padding=1, bias=False)

    def forward(self, x):
        levels = []
        for i, level in enumerate(self.enc):
            if i:
                x = F.max_pool2d(x, 2)
            x = level(x)
            levels.append(x)
        for i, (up, dec) in enumerate(zip(self.up, self.dec)):
            x = up(F.interpolate(x, scale_factor=2, mode="nearest"))
            x = dec(torch.cat([x, levels[len(levels) - 2 - i]], 1))
        return self.logits(self.head(x))


def dice_loss(z, onehot, smooth=1e-10):
    p = torch.softmax(z, 1)
    inter = (p * onehot).sum((2, 3))
    denom = p.sum((2, 3)) + onehot.sum((2, 3)) + smooth
    return 1 - (2 * inter / denom).mean()


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, reps, warm):
    for _ in range(warm):
        fn()
    sync(dev)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def gpu_ms(fn, dev, reps):
    """Median CUDA-event time of fn (device work only)."""
    if dev.type != "cuda":
        return None
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


def run(dev, size, batch, infer_size, infer_batches, width, reps, warm, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = PaperUNet(4, width).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(rng.random((batch, 1, size, size), dtype=np.float32)).to(dev)
    labels = torch.from_numpy(rng.integers(0, 4, (batch, size, size))).to(dev)
    onehot = F.one_hot(labels, 4).permute(0, 3, 1, 2).float().contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = dice_loss(model(x), onehot)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    out = {"train": {"batch": batch, "size": size}}
    out["train"]["wall_ms"] = timed(step, dev, reps, warm)
    out["train"]["gpu_ms"] = gpu_ms(step, dev, max(3, reps // 2))
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step()
        out["train"]["peak_bytes"] = torch.cuda.max_memory_allocated()
    model.eval()
    out["infer"] = {}
    for b in infer_batches:
        host = rng.random((b, 1, infer_size, infer_size), dtype=np.float32)

        def infer():
            with torch.inference_mode():
                return model(torch.from_numpy(host).to(dev)).argmax(1).to(torch.uint8).cpu().numpy()

        out["infer"][str(b)] = {"size": infer_size, "wall_ms": timed(infer, dev, max(reps, 20), warm),
                                "gpu_ms": gpu_ms(infer, dev, max(reps, 20))}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--infer-size", type=int, default=192)
    ap.add_argument("--infer-batches", default="1,8")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--modes", default="fp32,tf32", help="cuda only: fp32 (TF32 off) and/or tf32")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    res = {"torch": torch.__version__, "device": a.device, "threads": torch.get_num_threads(), "width": a.width}
    if dev.type == "cuda":
        res["gpu"] = torch.cuda.get_device_name(0)
        res["cudnn"] = torch.backends.cudnn.version()
        torch.backends.cudnn.benchmark = True
    batches = [int(b) for b in a.infer_batches.split(",") if b]
    modes = a.modes.split(",") if dev.type == "cuda" else ["fp32"]
    for m in modes:
        tf32 = m == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        r = run(dev, a.size, a.batch, a.infer_size, batches, a.width, a.reps, a.warm, 1)
        r["flags"] = {"torch.backends.cuda.matmul.allow_tf32": tf32, "torch.backends.cudnn.allow_tf32": tf32,
                      "cudnn.benchmark": dev.type == "cuda"}
        res[m] = r
        print(f"[torch {m}] train b{a.batch} {a.size}²: {r['train']['wall_ms']:.2f} ms; " +
              "; ".join(f"infer b{b}: {r['infer'][str(b)]['wall_ms']:.2f} ms" for b in batches), flush=True)
    text = json.dumps(res, indent=1)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(text)
        import os
        os.replace(a.out + ".tmp", a.out)
    else:
        print(text)


if __name__ == "__main__":
    main()
