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
import { loadEpilogue } from './epilogue';
import { pixelBase, tile, wgradTile } from './microkernel';

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
