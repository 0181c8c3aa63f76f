// Convolutions and matmuls as packed GEMMs with a 4×8 register tile of f32x4 accumulators (4 output rows,
// 2 vectors of 4 output columns), the "load-splat" shape of wasm SIMD GEMM microkernels: per k, two vector
// loads of the packed B row and one broadcast load per A row feed 8 multiply-adds (no FMA: wasm has none
// outside relaxed SIMD, whose results differ between CPUs).
//
// Every output sums its K products one after the other, k = 0, 1, …, K−1, starting from its bias (or 0):
// which task or tile computes it never changes its bits. The weight gradient's K (pixels) is split into
// chunks whose size the host derives from the shape alone; chunk partials are summed in chunk order.
//
// Addresses are byte offsets into linear memory; sizes are elements. A vector load may read up to 7 floats
// past a tensor's last column: the host keeps slack after every allocation, and those lanes are never stored.

import { at } from './util';
import { epBias, finish, loadEpilogue, storeCols } from './epilogue';

/** Output rows (pixels) per task of convGemm: 16 register tiles (src/ops/wasm.ts GEMM_TASK_ROWS is the same). */
const TASK_ROWS: i32 = 64;

/**
 * Pack B[k, n] = src[k·rs + n·cs] (element strides) into ⌈N/8⌉ panels of K rows × 8 columns, zero-padded:
 * panel j holds columns 8j…8j+7, row after row, so the microkernel reads it with unit stride.
 */
export function packPanels(src: usize, K: i32, N: i32, rs: i32, cs: i32, dst: usize): void {
  const panels = (N + 7) >> 3;
  for (let j = 0; j < panels; j++) {
    const out = dst + (<usize>(j * K * 8) << 2);
    for (let k = 0; k < K; k++) {
      for (let l = 0; l < 8; l++) {
        const n = j * 8 + l;
        const v: f32 = n < N ? load<f32>(at(src, k * rs + n * cs)) : 0;
        store<f32>(at(out, k * 8 + l), v);
      }
    }
  }
}

/**
 * The input gradient's B: rows k = t'·Co + co (taps flipped, t = taps−1−t'), columns ci, from HWIO weights
 * w[t, ci, co]. The input gradient is then a forward convolution of the padded output gradient.
 */
export function packFlipped(w: usize, taps: i32, Ci: i32, Co: i32, dst: usize): void {
  const panels = (Ci + 7) >> 3, K = taps * Co;
  for (let j = 0; j < panels; j++) {
    const out = dst + (<usize>(j * K * 8) << 2);
    for (let tf = 0; tf < taps; tf++) {
      const t = taps - 1 - tf;
      for (let co = 0; co < Co; co++) {
        const k = tf * Co + co;
        for (let l = 0; l < 8; l++) {
          const ci = j * 8 + l;
          const v: f32 = ci < Ci ? load<f32>(at(w, (t * Ci + ci) * Co + co)) : 0;
          store<f32>(at(out, k * 8 + l), v);
        }
      }
    }
  }
}

/** Zero-padded copy of NHWC x: pt/pb rows above/below, pl/pr columns left/right. Tasks: padded rows. */
export function padImage(x: usize, H: i32, W: i32, C: i32, pt: i32, pb: i32, pl: i32, pr: i32, dst: usize,
  r0: i32, r1: i32): void {
  const Hp = H + pt + pb, Wp = W + pl + pr, rowBytes = <usize>(Wp * C) << 2;
  for (let r = r0; r < r1; r++) {
    const b = r / Hp, h = r % Hp - pt;
    const out = dst + <usize>r * rowBytes;
    if (h < 0 || h >= H) {
      memory.fill(out, 0, rowBytes);
      continue;
    }
    memory.fill(out, 0, <usize>(pl * C) << 2);
    memory.copy(out + (<usize>(pl * C) << 2), at(x, ((b * H + h) * W) * C), <usize>(W * C) << 2);
    memory.fill(out + (<usize>((pl + W) * C) << 2), 0, <usize>(pr * C) << 2);
  }
}

/** Row-major transpose: dst[c, r] = src[r, c] for an R×C matrix. */
export function transpose(src: usize, R: i32, C: i32, dst: usize): void {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) store<f32>(at(dst, c * R + r), load<f32>(at(src, r * C + c)));
}

@inline function storeRow(y: usize, row: i32, N: i32, n: i32, lo: v128, hi: v128): void {
  const p = at(y, row * N + n);
  storeCols(p, finish(lo, n), n, N);
  if (N - n > 4) storeCols(p + 16, finish(hi, n + 4), n + 4, N);
}

/**
 * One 4×8 tile: rows at pixel bases a0…a3 (byte addresses), summed over ntaps taps (byte offsets at offs)
 * of kc consecutive floats each, against the packed panel bp; stored to rows m…m+rows−1, columns n…n+7 of y.
 */
function tile(a0: usize, a1: usize, a2: usize, a3: usize, offs: usize, ntaps: i32, kc: i32, bp: usize,
  y: usize, m: i32, rows: i32, n: i32, N: i32): void {
  let init0 = f32x4.splat(0), init1 = f32x4.splat(0);
  if (epBias != 0) {
    init0 = v128.load(at(epBias, n));
    init1 = v128.load(at(epBias, n + 4));
  }
  let c00 = init0, c01 = init1, c10 = init0, c11 = init1, c20 = init0, c21 = init1, c30 = init0, c31 = init1;
  let b = bp;
  for (let t = 0; t < ntaps; t++) {
    const off = <usize>load<i32>(offs + (<usize>t << 2));
    let p0 = a0 + off, p1 = a1 + off, p2 = a2 + off, p3 = a3 + off;
    for (let k = 0; k < kc; k++) {
      const b0 = v128.load(b), b1 = v128.load(b, 16);
      const s0 = v128.load32_splat(p0), s1 = v128.load32_splat(p1);
      c00 = f32x4.add(c00, f32x4.mul(s0, b0));
      c01 = f32x4.add(c01, f32x4.mul(s0, b1));
      c10 = f32x4.add(c10, f32x4.mul(s1, b0));
      c11 = f32x4.add(c11, f32x4.mul(s1, b1));
      const s2 = v128.load32_splat(p2), s3 = v128.load32_splat(p3);
      c20 = f32x4.add(c20, f32x4.mul(s2, b0));
      c21 = f32x4.add(c21, f32x4.mul(s2, b1));
      c30 = f32x4.add(c30, f32x4.mul(s3, b0));
      c31 = f32x4.add(c31, f32x4.mul(s3, b1));
      b += 32;
      p0 += 4; p1 += 4; p2 += 4; p3 += 4;
    }
  }
  storeRow(y, m, N, n, c00, c01);
  if (rows > 1) storeRow(y, m + 1, N, n, c10, c11);
  if (rows > 2) storeRow(y, m + 2, N, n, c20, c21);
  if (rows > 3) storeRow(y, m + 3, N, n, c30, c31);
}

/** Byte address of output pixel p's window origin in the padded input (Hp × Wp pixels of C floats). */
@inline function pixelBase(x: usize, p: i32, H: i32, W: i32, Hp: i32, Wp: i32, C: i32): usize {
  const b = p / (H * W), r = p % (H * W);
  return at(x, ((b * Hp + r / W) * Wp + r % W) * C);
}

/**
 * Implicit-GEMM convolution (and, with one tap, a plain matmul): y[p, n] = epilogue(Σ_t Σ_c
 * x[base(p) + off_t + c] · B[t·kc + c, n]) for the M = B·H·W output pixels, N columns. Tasks t0…t1−1 are
 * blocks of TASK_ROWS pixels; within a block, each 4-row tile sweeps every column panel while its rows stay in L1.
 * ep: the epilogue block (see loadEpilogue), 0 for none.
 */
export function convGemm(x: usize, Hp: i32, Wp: i32, kc: i32, B: i32, H: i32, W: i32, offs: usize, ntaps: i32,
  packed: usize, N: i32, y: usize, ep: usize, t0: i32, t1: i32): void {
  loadEpilogue(ep);
  const M = B * H * W, K = ntaps * kc, panels = (N + 7) >> 3;
  const mEnd = min(M, t1 * TASK_ROWS);
  for (let m = t0 * TASK_ROWS; m < mEnd; m += 4) {
    const rows = min(4, mEnd - m);
    const a0 = pixelBase(x, m, H, W, Hp, Wp, kc);
    const a1 = rows > 1 ? pixelBase(x, m + 1, H, W, Hp, Wp, kc) : a0;
    const a2 = rows > 2 ? pixelBase(x, m + 2, H, W, Hp, Wp, kc) : a0;
    const a3 = rows > 3 ? pixelBase(x, m + 3, H, W, Hp, Wp, kc) : a0;
    for (let j = 0; j < panels; j++) {
      tile(a0, a1, a2, a3, offs, ntaps, kc, packed + (<usize>(j * K * 8) << 2), y, m, rows, j * 8, N);
    }
  }
}

/**
 * One 4×8 tile of the weight gradient over pixels k0…k1−1 of one chunk: rows are (tap, ci) pairs at byte
 * offsets o0…o3 from a pixel's window origin, columns co n…n+7 of the output gradient g (Co per pixel).
 */
function wgradTile(x: usize, o0: usize, o1: usize, o2: usize, o3: usize, g: usize, Co: i32, n: i32,
  k0: i32, k1: i32, H: i32, W: i32, Hp: i32, Wp: i32, Ci: i32, out: usize, m: i32, rows: i32, N: i32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let k = k0;
  while (k < k1) {
    // one output row of pixels at a time: the window origin then moves by Ci floats per pixel
    const q = k % W, run = min(k1 - k, W - q);
    let base = pixelBase(x, k, H, W, Hp, Wp, Ci);
    let gp = at(g, k * Co + n);
    for (let i = 0; i < run; i++) {
      const b0 = v128.load(gp), b1 = v128.load(gp, 16);
      const s0 = v128.load32_splat(base + o0), s1 = v128.load32_splat(base + o1);
      c00 = f32x4.add(c00, f32x4.mul(s0, b0));
      c01 = f32x4.add(c01, f32x4.mul(s0, b1));
      c10 = f32x4.add(c10, f32x4.mul(s1, b0));
      c11 = f32x4.add(c11, f32x4.mul(s1, b1));
      const s2 = v128.load32_splat(base + o2), s3 = v128.load32_splat(base + o3);
      c20 = f32x4.add(c20, f32x4.mul(s2, b0));
      c21 = f32x4.add(c21, f32x4.mul(s2, b1));
      c30 = f32x4.add(c30, f32x4.mul(s3, b0));
      c31 = f32x4.add(c31, f32x4.mul(s3, b1));
      base += <usize>Ci << 2;
      gp += <usize>Co << 2;
    }
    k += run;
  }
  storeRow(out, m, N, n, c00, c01);
  if (rows > 1) storeRow(out, m + 1, N, n, c10, c11);
  if (rows > 2) storeRow(out, m + 2, N, n, c20, c21);
  if (rows > 3) storeRow(out, m + 3, N, n, c30, c31);
}

/**
 * Weight gradient dw[t, ci, co] = Σ_p x[base(p) + off_t + ci] · g[p, co] over the M = B·H·W output pixels, in
 * chunks of chunkPix pixels: chunk c writes its sums to out + c·(taps·Ci·Co) floats. Task = (chunk, 4-row tile).
 */
export function convWgrad(x: usize, Hp: i32, Wp: i32, Ci: i32, g: usize, B: i32, H: i32, W: i32, Co: i32,
  offs: usize, ntaps: i32, chunkPix: i32, out: usize, t0: i32, t1: i32): void {
  loadEpilogue(0);
  const M = ntaps * Ci, tiles = (M + 3) >> 2, P = B * H * W, panels = (Co + 7) >> 3;
  for (let task = t0; task < t1; task++) {
    const chunk = task / tiles, m = (task % tiles) * 4, rows = min(4, M - m);
    const k0 = chunk * chunkPix, k1 = min(P, k0 + chunkPix);
    const dst = at(out, chunk * M * Co);
    const o0 = rowOffset(offs, m, Ci), o1 = rows > 1 ? rowOffset(offs, m + 1, Ci) : o0;
    const o2 = rows > 2 ? rowOffset(offs, m + 2, Ci) : o0, o3 = rows > 3 ? rowOffset(offs, m + 3, Ci) : o0;
    for (let j = 0; j < panels; j++) {
      wgradTile(x, o0, o1, o2, o3, g, Co, j * 8, k0, k1, H, W, Hp, Wp, Ci, dst, m, rows, Co);
    }
  }
}

@inline function rowOffset(offs: usize, m: i32, Ci: i32): usize {
  return <usize>load<i32>(offs + (<usize>(m / Ci) << 2)) + (<usize>(m % Ci) << 2);
}

/** out[i] = (Σ_c partial[c·len + i]) / divisor, chunks summed in order. Tasks: blocks of 1024 elements. */
export function sumChunks(partial: usize, chunks: i32, len: i32, divisor: f32, out: usize, t0: i32, t1: i32): void {
  const end = min(len, t1 * 1024);
  let i = t0 * 1024;
  const d = f32x4.splat(divisor);
  for (; i + 4 <= end; i += 4) {
    let s = v128.load(at(partial, i));
    for (let c = 1; c < chunks; c++) s = f32x4.add(s, v128.load(at(partial, c * len + i)));
    v128.store(at(out, i), f32x4.div(s, d));
  }
  for (; i < end; i++) {
    let s = load<f32>(at(partial, i));
    for (let c = 1; c < chunks; c++) s += load<f32>(at(partial, c * len + i));
    store<f32>(at(out, i), s / divisor);
  }
}
