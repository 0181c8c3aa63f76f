#!/usr/bin/env python3
"""Generate test/golden/golden.json: reference values for glocal's ops.

What it generates
    Forward outputs and gradients, computed with PyTorch in float64, for the
    ops the TypeScript/WGSL runtime implements: 2-D convolutions (3x3 pad 1,
    2x2 TensorFlow "SAME", 1x1), training-mode batch norm (+ EMA update),
    softmax + soft Dice loss, softmax + class-weighted cross entropy,
    2x2/stride-2 max pooling, row-wise L2 normalisation, a dense (matmul)
    layer, and TensorFlow 1.x AdamOptimizer steps.

Conventions (the TS tests read the file with these assumptions)
    * Image tensors are NHWC, flattened row-major.
    * Conv weights are HWIO, i.e. [KH, KW, Cin, Cout] (TensorFlow layout).
    * Every tensor is written as {"shape": [...], "data": [...]} with float64
      values at full precision; scalars are plain JSON numbers.
    * Gradients come from loss = sum(y * dy) with a random upstream dy, except
      for the loss ops (softmax_dice, softmax_ce_weighted) whose upstream is 1.

How to run (from the repository root)
    OMP_NUM_THREADS=2 /usr/bin/python3 scripts/golden.py

    Use Debian's /usr/bin/python3 with the python3-torch package. The output is
    committed, so CI does not need torch; only rerun this when the cases change.
    The script verifies gradients with torch.autograd.gradcheck before writing.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)

OUT_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "test", "golden", "golden.json"
)


# ----------------------------------------------------------------- helpers


def T(t):
    """Serialise a tensor as {"shape", "data"} (float64, row-major)."""
    t = t.detach()
    return {"shape": list(t.shape), "data": t.double().flatten().tolist()}


def TI(t):
    """Serialise an integer tensor."""
    t = t.detach()
    return {"shape": list(t.shape), "data": [int(v) for v in t.flatten().tolist()]}


def U(*shape, lo=-1.0, hi=1.0):
    """Uniform random in [lo, hi), float64."""
    return torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo


def check(name, fn, inputs):
    """gradcheck fn on float64 leaf copies of inputs; abort on failure."""
    leaves = tuple(i.detach().clone().requires_grad_(True) for i in inputs)
    ok = gradcheck(fn, leaves, eps=1e-6, atol=1e-7, rtol=1e-5)
    if not ok:
        sys.exit(f"gradcheck failed for {name}")
    return ok


def grads(out, dy, inputs):
    """Gradients of sum(out * dy) with respect to inputs."""
    return torch.autograd.grad(out, inputs, grad_outputs=dy)


def forward_backward(fn, inputs):
    """y = fn(*inputs) on leaf copies, a random upstream gradient dy of y's shape (drawn after y), and the
    inputs' gradients under dy."""
    leaves = tuple(t.clone().requires_grad_(True) for t in inputs)
    y = fn(*leaves)
    dy = U(*y.shape)
    return y, dy, grads(y, dy, leaves)


# -------------------------------------------------------------------- conv


def conv_nhwc(x, w, b, pad):
    """x NHWC, w HWIO, b [Cout]; pad = (left, right, top, bottom); stride 1."""
    xc = x.permute(0, 3, 1, 2)  # NCHW
    wc = w.permute(3, 2, 0, 1)  # OIHW
    xc = F.pad(xc, pad)
    y = F.conv2d(xc, wc, b, stride=1)
    return y.permute(0, 2, 3, 1)  # NHWC


def conv_case(name, xshape, wshape, pad, pad_note):
    x = U(*xshape)
    w = U(*wshape)
    b = U(wshape[3])
    fn = lambda x_, w_, b_: conv_nhwc(x_, w_, b_, pad)
    check(name, fn, (x, w, b))
    y, dy, (dx, dw, db) = forward_backward(fn, (x, w, b))
    print(f"{name}: x{list(x.shape)} w{list(w.shape)} -> y{list(y.shape)}; gradcheck ok")
    return {
        "op": "conv2d",
        "stride": 1,
        "pad": {"top": pad[2], "bottom": pad[3], "left": pad[0], "right": pad[1]},
        "note": pad_note + " NHWC activations, HWIO weights; grads of sum(y*dy).",
        "x": T(x),
        "w": T(w),
        "b": T(b),
        "y": T(y),
        "dy": T(dy),
        "dx": T(dx),
        "dw": T(dw),
        "db": T(db),
    }


# --------------------------------------------------------------- batchnorm


def batchnorm_case():
    eps = 1e-3
    decay = 0.99
    C = 6
    x = U(3, 4, 5, C)
    gamma = 1.0 + 0.3 * U(C)
    beta = U(C)

    def fn(x_, g_, b_):
        mean = x_.mean(dim=(0, 1, 2))
        var = ((x_ - mean) ** 2).mean(dim=(0, 1, 2))  # biased
        return g_ * (x_ - mean) / torch.sqrt(var + eps) + b_

    check("batchnorm_train", fn, (x, gamma, beta))
    y, dy, (dx, dgamma, dbeta) = forward_backward(fn, (x, gamma, beta))

    n = x.shape[0] * x.shape[1] * x.shape[2]
    mean = x.mean(dim=(0, 1, 2))
    var_b = ((x - mean) ** 2).mean(dim=(0, 1, 2))
    var_u = var_b * n / (n - 1)
    assert torch.allclose(var_u, x.reshape(-1, C).var(dim=0, unbiased=True))

    rm_in = U(C, lo=-0.5, hi=0.5)
    rv_in = U(C, lo=0.5, hi=1.5)
    rm_out = decay * rm_in + (1 - decay) * mean
    rv_out = decay * rv_in + (1 - decay) * var_u
    print(f"batchnorm_train: x{list(x.shape)} C={C} n={n}; gradcheck ok")
    return {
        "op": "batchnorm_train",
        "eps": eps,
        "decay": decay,
        "note": (
            "Batch statistics over N,H,W. y = gamma*(x-mean)/sqrt(var_biased+eps)+beta. "
            "var_unbiased = var_biased*n/(n-1), n = N*H*W. "
            "running_mean_out = decay*running_mean_in + (1-decay)*mean; "
            "running_var_out_unbiased = decay*running_var_in + (1-decay)*var_unbiased. "
            "dx, dgamma, dbeta are grads of sum(y*dy) (statistics differentiated through)."
        ),
        "x": T(x),
        "gamma": T(gamma),
        "beta": T(beta),
        "y": T(y),
        "mean": T(mean),
        "var_biased": T(var_b),
        "var_unbiased": T(var_u),
        "dy": T(dy),
        "dx": T(dx),
        "dgamma": T(dgamma),
        "dbeta": T(dbeta),
        "running_mean_in": T(rm_in),
        "running_var_in": T(rv_in),
        "running_mean_out": T(rm_out),
        "running_var_out_unbiased": T(rv_out),
    }


# ------------------------------------------------------------ loss helpers


def random_onehot(shape_nhw, K):
    labels = torch.randint(0, K, shape_nhw)
    onehot = F.one_hot(labels, K).double()
    return labels, onehot


def softmax_dice_case():
    K = 4
    smooth = 1e-10
    logits = U(2, 4, 5, K, lo=-2.0, hi=2.0)
    labels, onehot = random_onehot((2, 4, 5), K)

    def fn(z):
        p = torch.softmax(z, dim=-1)
        inter = (p * onehot).sum(dim=(1, 2))  # [B, K]
        denom = p.sum(dim=(1, 2)) + onehot.sum(dim=(1, 2)) + smooth
        d = 2.0 * inter / denom
        return 1.0 - d.mean()

    check("softmax_dice", fn, (logits,))
    zr = logits.clone().requires_grad_(True)
    loss = fn(zr)
    (dlogits,) = torch.autograd.grad(loss, (zr,))
    probs = torch.softmax(logits, dim=-1)
    print(f"softmax_dice: logits{list(logits.shape)} loss={loss.item():.12g}; gradcheck ok")
    return {
        "op": "softmax_dice",
        "smooth": smooth,
        "note": (
            "p = softmax over channel (last axis). For each image b and class k "
            "(background included): D_bk = 2*sum_hw(p*y) / (sum_hw p + sum_hw y + smooth). "
            "loss = 1 - mean_{b,k} D_bk. dlogits = d loss / d logits (upstream 1)."
        ),
        "logits": T(logits),
        "labels": TI(labels),
        "onehot": T(onehot),
        "probs": T(probs),
        "loss": loss.item(),
        "dlogits": T(dlogits),
    }


def softmax_ce_weighted_case():
    K = 4
    weights = torch.tensor([0.1, 0.3, 0.3, 0.3])
    logits = U(2, 4, 5, K, lo=-2.0, hi=2.0)
    labels, onehot = random_onehot((2, 4, 5), K)

    def fn(z):
        logp = torch.log_softmax(z, dim=-1)
        per_pixel = -(weights * onehot * logp).sum(dim=-1)  # [N, H, W]
        return per_pixel.mean()

    check("softmax_ce_weighted", fn, (logits,))
    zr = logits.clone().requires_grad_(True)
    loss = fn(zr)
    (dlogits,) = torch.autograd.grad(loss, (zr,))
    print(f"softmax_ce_weighted: logits{list(logits.shape)} loss={loss.item():.12g}; gradcheck ok")
    return {
        "op": "softmax_ce_weighted",
        "note": (
            "per-pixel loss = -sum_k w_k * y_k * log softmax(z)_k; "
            "loss = mean over all N*H*W pixels. dlogits = d loss / d logits (upstream 1)."
        ),
        "logits": T(logits),
        "labels": TI(labels),
        "onehot": T(onehot),
        "weights": T(weights),
        "loss": loss.item(),
        "dlogits": T(dlogits),
    }


# ------------------------------------------------------------- small ops


def maxpool_case():
    x = U(2, 4, 6, 3)

    def fn(x_):
        y = F.max_pool2d(x_.permute(0, 3, 1, 2), kernel_size=2, stride=2)
        return y.permute(0, 2, 3, 1)

    check("maxpool2", fn, (x,))
    y, dy, (dx,) = forward_backward(fn, (x,))
    print(f"maxpool2: x{list(x.shape)} -> y{list(y.shape)}; gradcheck ok")
    return {
        "op": "maxpool2",
        "kernel": 2,
        "stride": 2,
        "note": "2x2 window, stride 2, no padding, NHWC. dx routes dy to each window's max (no ties in data).",
        "x": T(x),
        "y": T(y),
        "dy": T(dy),
        "dx": T(dx),
    }


def l2normalize_case():
    eps = 1e-12
    x = U(3, 7)

    def fn(x_):
        ss = (x_ * x_).sum(dim=-1, keepdim=True)
        return x_ / torch.sqrt(torch.clamp(ss, min=eps))

    check("l2normalize", fn, (x,))
    y, dy, (dx,) = forward_backward(fn, (x,))
    print(f"l2normalize: x{list(x.shape)}; gradcheck ok")
    return {
        "op": "l2normalize",
        "eps": eps,
        "note": "Rows (last axis) normalised: y = x / sqrt(max(sum x^2, eps)).",
        "x": T(x),
        "y": T(y),
        "dy": T(dy),
        "dx": T(dx),
    }


def dense_case():
    x = U(3, 5)
    w = U(5, 4)
    fn = lambda x_, w_: x_ @ w_
    check("dense", fn, (x, w))
    y, dy, (dx, dw) = forward_backward(fn, (x, w))
    print(f"dense: x{list(x.shape)} w{list(w.shape)} -> y{list(y.shape)}; gradcheck ok")
    return {
        "op": "dense",
        "note": "y = x @ w (no bias); w is [in, out].",
        "x": T(x),
        "w": T(w),
        "y": T(y),
        "dy": T(dy),
        "dx": T(dx),
        "dw": T(dw),
    }


def adam_case():
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    p0 = U(10)
    gs = [U(10) for _ in range(3)]
    p = p0.clone()
    m = torch.zeros(10)
    v = torch.zeros(10)
    outs = []
    for t, g in enumerate(gs, start=1):
        lr_t = lr * (1 - b2**t) ** 0.5 / (1 - b1**t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr_t * m / (torch.sqrt(v) + eps)
        outs.append(p.clone())
    print(f"adam: p[10], 3 steps, |p3-p0|max={float((outs[2]-p0).abs().max()):.3e}")
    return {
        "op": "adam",
        "lr": lr,
        "beta1": b1,
        "beta2": b2,
        "epsilon": eps,
        "note": (
            "TensorFlow 1.x AdamOptimizer: lr_t = lr*sqrt(1-beta2^t)/(1-beta1^t); "
            "m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g^2; "
            "p -= lr_t*m/(sqrt(v)+epsilon). m, v start at 0; t = 1, 2, 3 with g1, g2, g3."
        ),
        "p0": T(p0),
        "g1": T(gs[0]),
        "g2": T(gs[1]),
        "g3": T(gs[2]),
        "p1": T(outs[0]),
        "p2": T(outs[1]),
        "p3": T(outs[2]),
    }


# -------------------------------------------------------------------- main


def main():
    cases = {}
    # F.pad on NCHW takes (left, right, top, bottom).
    cases["conv3x3"] = conv_case(
        "conv3x3", (2, 5, 6, 3), (3, 3, 3, 4), (1, 1, 1, 1), "Pad 1 on every side."
    )
    cases["conv2x2_same"] = conv_case(
        "conv2x2_same",
        (2, 5, 7, 3),
        (2, 2, 3, 4),
        (0, 1, 0, 1),
        "TensorFlow SAME for 2x2 kernel: pad 0 before, 1 after on H and W.",
    )
    cases["conv1x1"] = conv_case(
        "conv1x1", (2, 4, 5, 6), (1, 1, 6, 3), (0, 0, 0, 0), "No padding."
    )
    cases["batchnorm_train"] = batchnorm_case()
    cases["softmax_dice"] = softmax_dice_case()
    cases["softmax_ce_weighted"] = softmax_ce_weighted_case()
    cases["maxpool2"] = maxpool_case()
    cases["l2normalize"] = l2normalize_case()
    cases["dense"] = dense_case()
    cases["adam"] = adam_case()

    doc = {"generator": "scripts/golden.py", "torch": torch.__version__, "cases": cases}
    out = os.path.normpath(OUT_PATH)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    os.replace(tmp, out)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
