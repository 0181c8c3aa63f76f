// The 4×8 register tiles every GEMM of the nn kernels runs (gemm.ts, winograd.ts, winograd-grad.ts): 4 output
// rows, 2 vectors of 4 output columns, summed in the order of their inner index. Not re-exported by index.ts.

import { epBias, finish, storeCols } from './epilogue';
import { at } from './util';

@inline export function storeRow(y: usize, row: i32, N: i32, n: i32, lo: v128, hi: v128): void {
  const p = at(y, row * N + n);
  storeCols(p, finish(lo, n), n, N);
  if (N - n > 4) storeCols(p + 16, finish(hi, n + 4), n + 4, N);
}

/**
 * One 4×8 tile: rows at pixel bases a0…a3 (byte addresses), summed over ntaps taps (byte offsets at offs)
 * of kc consecutive floats each, against the packed panel bp; stored to rows m…m+rows−1, columns n…n+7 of y.
 */
export function tile(a0: usize, a1: usize, a2: usize, a3: usize, offs: usize, ntaps: i32, kc: i32, bp: usize,
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
@inline export function pixelBase(x: usize, p: i32, H: i32, W: i32, Hp: i32, Wp: i32, C: i32): usize {
  const b = p / (H * W), r = p % (H * W);
  return at(x, ((b * Hp + r / W) * Wp + r % W) * C);
}

/**
 * One 4×8 tile of the weight gradient over pixels k0…k1−1 of one chunk: rows are (tap, ci) pairs at byte
 * offsets o0…o3 from a pixel's window origin, columns co n…n+7 of the output gradient g (Co per pixel).
 */
export function wgradTile(x: usize, o0: usize, o1: usize, o2: usize, o3: usize, g: usize, Co: i32, n: i32,
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

