#!/usr/bin/env python3
"""Segment a NIfTI-1 volume with a glocal ONNX model, outside glocal: numpy and onnxruntime only.

    python3 docs/onnx_segment.py MODEL.onnx IMAGE.nii[.gz] LABELS.(nii|nii.gz|npy)

Every preprocessing parameter comes from the model's metadata 'glocal.preprocessing' (written by
`glocal export-onnx`, recipe_version 1): reorientation to RAS, slice axis, bias field, p1/p99 normalisation,
in-plane resampling, centre crop/pad, and the way back to the input's grid. The labels land on the input's own
voxel grid: a .nii copies the input's header (uint8 labels), a .npy holds them as an array indexed [k, j, i].

Reproduction (test/suites/onnx-python.ts): on the same file, these labels equal glocal's on >= 99.9% of voxels.
Every step except two repeats glocal's float operations in the same order; the two exceptions are the bias-field
fit (the same normal equations, summed in another order) and the network (onnxruntime's CPU kernels against
glocal's). Both differ from glocal in the last bits, so only voxels whose top two classes nearly tie can differ.
"""

import gzip
import json
import struct
import sys

import numpy as np
import onnxruntime as ort

RECIPE_KEY = "glocal.preprocessing"
DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4", 1024: "i8", 1280: "u8"}


def read_nifti(path):
    """Frame 0 as float32 [i, j, k], the affine (sform, else qform, else pixdim), spacing and the raw header."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    end = next((e for e in "<>" if struct.unpack_from(e + "i", raw, 0)[0] == 348), None)
    if end is None:
        sys.exit(f"{path}: not a NIfTI-1 file")
    get = lambda fmt, off: struct.unpack_from(end + fmt, raw, off)  # noqa: E731
    dim, datatype, pixdim = get("8h", 40), get("h", 70)[0], get("8f", 76)
    vox_offset, (slope, inter), units = get("f", 108)[0], get("2f", 112), raw[123] & 7
    if datatype not in DTYPES:
        sys.exit(f"{path}: NIfTI datatype {datatype} is not supported here")
    shape = tuple(max(1, d) for d in dim[1:4])
    n = shape[0] * shape[1] * shape[2]
    data = np.frombuffer(raw, end + DTYPES[datatype], n, int(vox_offset))
    if not np.isfinite(slope) or slope == 0:
        slope, inter = 1.0, 0.0
    inter = inter if np.isfinite(inter) else 0.0
    if datatype == 16 and slope == 1 and inter == 0:
        vol = data.astype(np.float32)
    else:  # in float64, then rounded once (as glocal)
        vol = (data.astype(np.float64) * slope + inter).astype(np.float32)
    unit = {1: 1000.0, 3: 0.001}.get(units, 1.0)  # metre, micron → mm; mm and unknown stay
    affine = choose_affine(get, pixdim)
    affine[:3] *= unit
    lengths = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    # pixdim where it agrees with the affine, else the affine's column length
    spacing = [abs(pixdim[c + 1]) * unit for c in range(3)]
    spacing = [p if np.isfinite(p) and abs(p - L) <= 1e-4 * L else L for p, L in zip(spacing, lengths)]
    return vol.reshape(shape, order="F"), affine, [float(s) for s in spacing], raw[:348], end


def usable(a):
    if not np.all(np.isfinite(a)):
        return False
    s = np.sqrt((a[:3, :3] ** 2).sum(axis=0))
    return bool(np.all(s > 0) and abs(np.linalg.det(a[:3, :3])) > 1e-9 * s.prod())


def choose_affine(get, pixdim):
    pd = [abs(p) if np.isfinite(p) and p != 0 else 1.0 for p in pixdim]
    qform_code, sform_code = get("2h", 252)
    if sform_code > 0:
        a = np.vstack([np.array(get("12f", 280), dtype=np.float64).reshape(3, 4), [0, 0, 0, 1]])
        if usable(a):
            return a
    if qform_code > 0:
        b, c, d, qx, qy, qz = get("6f", 256)
        s = b * b + c * c + d * d
        if 1 - s < 1e-7:
            b, c, d, w = b / np.sqrt(s), c / np.sqrt(s), d / np.sqrt(s), 0.0
        else:
            w = np.sqrt(1 - s)
        R = np.array([
            [w * w + b * b - c * c - d * d, 2 * (b * c - w * d), 2 * (b * d + w * c)],
            [2 * (b * c + w * d), w * w + c * c - b * b - d * d, 2 * (c * d - w * b)],
            [2 * (b * d - w * c), 2 * (c * d + w * b), w * w + d * d - b * b - c * c],
        ])
        a = np.eye(4)
        a[:3, :3] = R * [pd[1], pd[2], (-1 if pixdim[0] < 0 else 1) * pd[3]]
        a[:3, 3] = [qx, qy, qz]
        if usable(a):
            return a
    return np.diag([pd[1], pd[2], pd[3], 1.0])


def canonical_axes(affine):
    """perm[a]: the voxel axis canonical axis a runs along; flip[a]: against it (nibabel's closest canonical)."""
    cos = affine[:3, :3] / np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    perm, flip, used = [-1, -1, -1], [False] * 3, [False] * 3
    for _ in range(3):
        best, bw, bj = -1.0, -1, -1
        for w in range(3):
            for j in range(3):
                if perm[w] < 0 and not used[j] and abs(cos[w, j]) > best:
                    best, bw, bj = abs(cos[w, j]), w, j
        perm[bw], flip[bw], used[bj] = bj, bool(cos[bw, bj] < 0), True
    return perm, flip


def slice_axis(spacing, tol):
    top = max(spacing)
    return next((a for a in (2, 1, 0) if spacing[a] >= top * (1 - tol)), 2)


def percentile(v, q):
    """glocal's percentile: position q/100·(n − 1), linear between the two nearest ranks, in float64."""
    n = v.size
    pos = (q / 100.0) * (n - 1)
    k = int(np.floor(pos))
    part = np.partition(v, [k, k + 1] if k + 1 < n else [k])
    lower = float(part[k])
    return lower if k + 1 >= n else lower + (float(part[k + 1]) - lower) * (pos - k)


def otsu(v, bins):
    lo, hi = percentile(v, 0), percentile(v, 99.9)
    if not hi > lo:
        hi = percentile(v, 100)
    if not hi > lo:
        return lo
    x = v[~np.isnan(v)].astype(np.float64)
    b = np.clip(np.floor((x - lo) * (bins / (hi - lo))), 0, bins - 1)
    h = np.bincount(np.where(x < hi, b, bins - 1).astype(np.int64), minlength=bins).tolist()
    total, s = sum(h), sum(c * (i + 0.5) for i, c in enumerate(h))
    w0 = s0 = 0.0
    best, best_t = -1.0, 0
    for t in range(bins - 1):
        w0 += h[t]
        s0 += h[t] * (t + 0.5)
        w1 = total - w0
        if w0 == 0 or w1 == 0:
            continue
        d = s0 / w0 - (s - s0) / w1
        if w0 * w1 * d * d > best:
            best, best_t = w0 * w1 * d * d, t
    return lo + (best_t + 1) * ((hi - lo) / bins)


def coords(n):
    return (2 * np.arange(n) - (n - 1)).astype(np.float64) / (n - 1) if n > 1 else np.zeros(1)


def monomials(degree, degree_z):
    return [(a, b, c) for c in range(degree_z + 1) for b in range(degree - c + 1) for a in range(degree - b - c + 1)]


def phi(terms, X, Y, Z):
    """The non-constant monomials at points (X, Y, Z): one column per term."""
    return np.stack([X**a * Y**b * Z**c for a, b, c in terms[1:]], axis=1)


def pair_chunks(logv, mask, terms, use_z):
    """Neighbouring mask pairs in glocal's order (along x, then y, then z; each z-y-x), a slab at a time:
    the pairs' monomial differences G and log differences dl."""
    nz, ny, nx = logv.shape
    X, Y, Z = coords(nx), coords(ny), coords(nz)
    steps = [(0, 0, 1), (0, 1, 0)] + ([(1, 0, 0)] if use_z else [])
    for dz, dy, dx in steps:
        for z in range(nz - dz):
            m = mask[z, : ny - dy, : nx - dx] & mask[z + dz, dy:, dx:]
            y, x = np.nonzero(m)
            if y.size == 0:
                continue
            a = phi(terms, X[x], Y[y], np.full(x.size, Z[z]))
            b = phi(terms, X[x + dx], Y[y + dy], np.full(x.size, Z[z + dz]))
            dl = logv[z + dz, y + dy, x + dx].astype(np.float64) - logv[z, y, x].astype(np.float64)
            yield b - a, dl


def difference_fit(logv, mask, terms, bf):
    """The robust difference fit of the field's coefficients (no constant): Tukey-weighted least squares."""
    nz, ny, nx = logv.shape
    use_z = nz >= 2 and max(t[2] for t in terms) >= 1
    rb = bf["robust"]
    samples = 1 << 18
    positions = (nx - 1) * ny * nz + nx * (ny - 1) * nz + (nx * ny * (nz - 1) if use_z else 0)
    stride = -(-positions // samples) if positions > samples else 1
    w = np.zeros(len(terms) - 1)
    for _ in range(rb["rounds"]):
        e = np.concatenate([dl - G @ w for G, dl in pair_chunks(logv, mask, terms, use_z)] or [np.zeros(0)])
        if e.size == 0:
            break
        sample = np.abs(e[::stride][:samples]).astype(np.float32)
        k = (sample.size - 1) >> 1
        cut = max(4.685 * 1.4826 * float(np.partition(sample, k)[k]), 1e-9)
        A, rhs = np.zeros((w.size, w.size)), np.zeros(w.size)
        for G, dl in pair_chunks(logv, mask, terms, use_z):
            t = (dl - G @ w) / cut
            wt = np.where(t * t < 1, (1 - t * t) ** 2, 0.0)
            A += G.T @ (G * wt[:, None])
            rhs += G.T @ (wt * dl)
        ridge = 1e-12 * (A.diagonal().max() if A.diagonal().max() > 0 else 1)
        new = np.linalg.solve(A + ridge * np.eye(w.size), rhs)
        change, w = np.abs(new - w).sum(), new
        if change < rb["stop_when_sum_abs_change_below"]:
            break
    return w


def correct_bias_field(work, bf):
    """work [z, y, x] float32 → v / g (glocal's correctBiasField with the recipe's parameters)."""
    nz, ny, nx = work.shape
    v = work.astype(np.float64)
    mask = (v > otsu(work.ravel(), bf["threshold"]["bins"])) & (v > 0)
    if not mask.any():
        sys.exit("bias field: no voxel above the mask threshold")
    logv = np.where(mask, np.log(np.where(mask, v, 1.0)), 0).astype(np.float32)
    terms = monomials(bf["degree"], min(2, bf["degree"], nz - 1))
    w = difference_fit(logv, mask, terms, bf)
    Z, Y, X = np.meshgrid(coords(nz), coords(ny), coords(nx), indexing="ij")
    f = (phi(terms, X.ravel(), Y.ravel(), Z.ravel()) @ w).reshape(work.shape)
    fm = f[mask]
    log_mean = np.log(np.exp(fm).sum() / fm.size)
    return (v / np.exp(np.clip(f, fm.min(), fm.max()) - log_mean)).astype(np.float32)


def normalise(work, it):
    flat = work.ravel()
    lo = np.float32(percentile(flat, it["low_percentile"]))
    hi = np.float32(percentile(flat, it["high_percentile"]))
    if not hi > lo:
        sys.exit(f"intensity normalisation: the volume is constant between its percentiles ({lo})")
    return (work - lo) * (np.float32(1.0) / (hi - lo))


def sample_axis(n_out, r, n):
    """Bilinear sampling along one axis: the two source indices and the weight of the second."""
    u = np.clip((np.arange(n_out) + 0.5) * r - 0.5, 0, n - 1)
    i0 = u.astype(np.int64)
    return i0, np.minimum(i0 + 1, n - 1), u - i0


def bilinear(a, mx, my, rx, ry):
    """a [z, y, x, ...] → [z, my, mx, ...], in float64 (glocal's resize / resizeArgmax sampling)."""
    x0, x1, fx = sample_axis(mx, rx, a.shape[2])
    y0, y1, fy = sample_axis(my, ry, a.shape[1])
    a = a.astype(np.float64)
    tail = (1,) * (a.ndim - 3)  # channels, if any, broadcast
    fx, fy = fx.reshape((1, 1, mx) + tail), fy.reshape((1, my, 1) + tail)
    top = a[:, y0][:, :, x0] * (1 - fx) + a[:, y0][:, :, x1] * fx
    bot = a[:, y1][:, :, x0] * (1 - fx) + a[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bot * fy


def crop_shift(n_src, n_dst):
    return (n_src - n_dst) >> 1 if n_src >= n_dst else -((n_dst - n_src) >> 1)


def shift_copy(a, mx, my):
    """a [z, y, x, ...] → [z, my, mx, ...] with dst[X, Y] = src[X + dx, Y + dy] (0 outside): centre crop / pad."""
    out = np.zeros((a.shape[0], my, mx) + a.shape[3:], a.dtype)
    dx, dy = crop_shift(a.shape[2], mx), crop_shift(a.shape[1], my)
    X0, X1 = max(0, -dx), min(mx, a.shape[2] - dx)
    Y0, Y1 = max(0, -dy), min(my, a.shape[1] - dy)
    if X1 > X0 and Y1 > Y0:
        out[:, Y0:Y1, X0:X1] = a[:, Y0 + dy : Y1 + dy, X0 + dx : X1 + dx]
    return out


def round_half_even_size(n, s, t):
    return max(1, round(n * (s / t)))


def check_recipe(r, session):
    if r.get("recipe_version") != 1:
        sys.exit(f"this script reads recipe_version 1, the model has {r.get('recipe_version')}")
    if not r["orientation"]["method"].startswith("closest canonical") or r["intensity"]["method"] != "percentile range":
        sys.exit("the model's recipe names a step this script does not implement")
    S, m = r["size"]["height"], r["input"]["h_w_multiple_of"]
    if S % m or r["size"]["width"] % m:
        sys.exit(f"network size {S} is not a multiple of {m}")
    if session.get_inputs()[0].name != r["input"]["name"]:
        sys.exit("the model's input is not the recipe's")


def segment(model_path, image_path):
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if RECIPE_KEY not in meta:
        sys.exit(f"{model_path}: no '{RECIPE_KEY}' metadata (export the model with glocal export-onnx)")
    r = json.loads(meta[RECIPE_KEY])
    check_recipe(r, session)
    vol, affine, spacing, header, end = read_nifti(image_path)
    perm, flip = canonical_axes(affine)
    canon = np.transpose(vol, perm)
    canon = np.flip(canon, [a for a in range(3) if flip[a]]) if any(flip) else canon
    cs = [spacing[p] for p in perm]
    axis = slice_axis(cs, r["slice_axis"]["relative_tolerance"])
    work = np.ascontiguousarray(np.moveaxis(canon, axis, 2).transpose(2, 1, 0))  # [z, y, x]
    sx, sy = [cs[a] for a in range(3) if a != axis]
    if r["bias_field"]["enabled"]:
        work = correct_bias_field(work, r["bias_field"])
    work = normalise(work, r["intensity"])
    t, S = r["spacing"]["in_plane_mm"], r["size"]["height"]
    nz, ny, nx = work.shape
    cx, cy = round_half_even_size(nx, sx, t), round_half_even_size(ny, sy, t)
    slices = shift_copy(bilinear(work, cx, cy, t / sx, t / sy).astype(np.float32), S, S)
    logits = session.run([r["output"]["name"]], {r["input"]["name"]: slices[:, None]})[0].astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32).transpose(0, 2, 3, 1)  # [z, y, x, K]
    native = bilinear(shift_copy(probs, cx, cy), nx, ny, sx / t, sy / t)
    labels = np.argmax(native, axis=3).astype(np.uint8).transpose(2, 1, 0)  # [x, y, z] of the working grid
    labels = np.moveaxis(labels, 2, axis)
    labels = np.flip(labels, [a for a in range(3) if flip[a]]) if any(flip) else labels
    return np.transpose(labels, np.argsort(perm)), header, end, r["output"]["classes"]


def write_labels(path, labels, header, end, classes):
    if path.endswith(".npy"):
        np.save(path, np.ascontiguousarray(labels.transpose(2, 1, 0)))
        return
    h = bytearray(header)
    struct.pack_into(end + "8h", h, 40, 3, *labels.shape, 1, 1, 1, 1)
    struct.pack_into(end + "2h", h, 70, 2, 8)  # uint8
    struct.pack_into(end + "f", h, 108, 352.0)
    struct.pack_into(end + "2f", h, 112, 1.0, 0.0)
    struct.pack_into(end + "2f", h, 124, float(classes - 1), 0.0)
    out = bytes(h) + b"\0\0\0\0" + labels.astype(np.uint8).tobytes(order="F")
    open(path, "wb").write(gzip.compress(out) if path.endswith(".gz") else out)


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    labels, header, end, classes = segment(argv[1], argv[2])
    write_labels(argv[3], labels, header, end, classes)
    counts = np.bincount(labels.ravel(), minlength=classes)
    print(f"wrote {argv[3]}: {'×'.join(map(str, labels.shape))} labels, voxels per class {counts.tolist()}")


if __name__ == "__main__":
    main(sys.argv)
