// Fine-tuning augmentation (paper-spec §5.4), computed in the wasm module (kernels/augment.ts):
//  1. per slice one of five affine options, uniformly: rotation U(−15°, 15°); isotropic scale U(0.95, 1.05)
//     rounded to 2 decimals; left-right flip with probability 0.5; rotation by k·45°; nothing. Bilinear for
//     the image, nearest for the labels, zero (background) outside. Slices with max ≤ 0.001 are left alone.
//  2. elastic deformation of slices [n0:] of the batch, n0 ~ U{1..18} (scaled to the batch size): a 3×3
//     grid of N(0, σ=5) pixel offsets per axis, upsampled (cubic) to the slice, warping the image and the
//     one-hot labels (which become soft), as the paper's code.
//  3. optional Mixup (α = 0.1): x = λ·x1 + (1−λ)·x2, y likewise, λ ~ Beta(α, α), partners drawn with
//     replacement.
// Deviation, deliberate: the paper's code draws the elastic grid with skimage's order-3 spline resize; this
// uses cubic convolution (see kernels/augment.ts). Intensity augmentation stays off in fine-tuning, as in the
// released code (§5.4: its output is discarded when deformation is on).

import { Arena, preprocessModule } from '../data/preprocess.ts';
import type { Rng } from '../util/random.ts';

interface AugmentExports {
  affineWarp(
    src: number,
    dst: number,
    nx: number,
    ny: number,
    C: number,
    m00: number,
    m01: number,
    m02: number,
    m10: number,
    m11: number,
    m12: number,
    nearest: number,
  ): void;
  upsampleCubic(grid: number, gw: number, gh: number, out: number, nx: number, ny: number, cols: number): void;
  cubicColumnsBytes(nx: number): number;
  flowWarp(src: number, dst: number, nx: number, ny: number, C: number, dxs: number, dys: number): void;
}

export interface AugmentOptions {
  affine: boolean;
  elastic: boolean;
  /** elastic displacement σ in pixels (paper: 5) */
  sigma: number;
  mixup: number | null;
}

export const PAPER_AUGMENT: AugmentOptions = { affine: true, elastic: true, sigma: 5, mixup: null };

/** dst → src pixel-centre map of the affine option drawn for one slice (null: leave the slice alone). */
export function drawAffine(rng: Rng, nx: number, ny: number): number[] | null {
  const cx = (nx - 1) / 2,
    cy = (ny - 1) / 2;
  const about = (a: number, b: number, c: number, d: number) => [
    a,
    b,
    cx - a * cx - b * cy,
    c,
    d,
    cy - c * cx - d * cy,
  ];
  const rot = (deg: number) => {
    const t = (deg * Math.PI) / 180,
      c = Math.cos(t),
      s = Math.sin(t);
    return about(c, -s, s, c);
  };
  switch (rng.int(5)) {
    case 0:
      return rot(rng.uniform(-15, 15));
    case 1: {
      const s = Math.round(rng.uniform(0.95, 1.05) * 100) / 100;
      return about(1 / s, 0, 0, 1 / s);
    }
    case 2:
      return rng.next() < 0.5 ? about(-1, 0, 0, 1) : null;
    case 3: {
      const k = rng.int(8);
      return k === 0 ? null : rot(45 * k);
    }
    default:
      return null;
  }
}

/** A Beta(α, α) draw from two Gamma(α) draws (Marsaglia–Tsang, with the α < 1 boost). */
function beta(rng: Rng, a: number): number {
  const gamma = (k: number): number => {
    if (k < 1) return gamma(k + 1) * Math.pow(Math.max(rng.next(), 1e-300), 1 / k);
    const d = k - 1 / 3,
      c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = rng.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = rng.next();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const g1 = gamma(a),
    g2 = gamma(a);
  return g1 + g2 > 0 ? g1 / (g1 + g2) : 0.5;
}

/**
 * Augment a batch in place: `images` B slices of S×S (x fastest), `labels` the matching integer label maps,
 * returning the images and one-hot (possibly soft) targets [B, S, S, K] ready for upload.
 */
export async function augmentBatch(
  images: Float32Array,
  labels: Float32Array,
  B: number,
  S: number,
  K: number,
  rng: Rng,
  o: AugmentOptions = PAPER_AUGMENT,
): Promise<{ x: Float32Array; y: Float32Array }> {
  const m = (await preprocessModule()) as unknown as AugmentExports;
  const P = S * S;
  const x = images.slice(),
    y = new Float32Array(B * P * K);
  const lab = labels.slice();
  const arena = new Arena(await preprocessModule());
  const src = arena.alloc(4 * P * K),
    dst = arena.alloc(4 * P * K),
    gx = arena.alloc(36),
    gy = arena.alloc(36);
  const fx = arena.alloc(4 * P),
    fy = arena.alloc(4 * P),
    cols = arena.alloc(m.cubicColumnsBytes(S));
  arena.commit();
  const warp = (data: Float32Array, off: number, C: number, t: number[], nearest: boolean) => {
    arena.f32(src, P * C).set(data.subarray(off, off + P * C));
    m.affineWarp(src, dst, S, S, C, t[0], t[1], t[2], t[3], t[4], t[5], nearest ? 1 : 0);
    data.set(arena.f32(dst, P * C), off);
  };
  for (let b = 0; b < B; b++) {
    if (!o.affine) break;
    let mx = -Infinity;
    for (let i = 0; i < P; i++) mx = Math.max(mx, x[b * P + i]);
    if (mx <= 0.001) continue;
    const t = drawAffine(rng, S, S);
    if (!t) continue;
    warp(x, b * P, 1, t, false);
    warp(lab, b * P, 1, t, true);
  }
  for (let i = 0; i < B * P; i++) {
    const k = lab[i];
    if (!(Number.isInteger(k) && k >= 0 && k < K)) throw new Error(`augment: label value ${k} outside 0..${K - 1}`);
    y[i * K + k] = 1;
  }
  if (o.elastic) {
    // the paper deforms slices [n0:] of its 20, n0 ~ U{1..18}; scaled to B slices
    const n0 = Math.max(1, Math.min(B - 1, Math.round(((1 + rng.int(18)) * B) / 20)));
    for (let b = n0; b < B; b++) {
      const g1 = arena.f32(gx, 9),
        g2 = arena.f32(gy, 9);
      for (let i = 0; i < 9; i++) g1[i] = rng.normal() * o.sigma;
      for (let i = 0; i < 9; i++) g2[i] = rng.normal() * o.sigma;
      m.upsampleCubic(gx, 3, 3, fx, S, S, cols);
      m.upsampleCubic(gy, 3, 3, fy, S, S, cols);
      arena.f32(src, P).set(x.subarray(b * P, (b + 1) * P));
      m.flowWarp(src, dst, S, S, 1, fx, fy);
      x.set(arena.f32(dst, P), b * P);
      arena.f32(src, P * K).set(y.subarray(b * P * K, (b + 1) * P * K));
      m.flowWarp(src, dst, S, S, K, fx, fy);
      y.set(arena.f32(dst, P * K), b * P * K);
    }
  }
  if (o.mixup !== null) {
    const x0 = x.slice(),
      y0 = y.slice();
    for (let b = 0; b < B; b++) {
      const l = beta(rng, o.mixup),
        i = rng.int(B),
        j = rng.int(B);
      for (let p = 0; p < P; p++) x[b * P + p] = l * x0[i * P + p] + (1 - l) * x0[j * P + p];
      for (let p = 0; p < P * K; p++) y[b * P * K + p] = l * y0[i * P * K + p] + (1 - l) * y0[j * P * K + p];
    }
  }
  return { x, y };
}
