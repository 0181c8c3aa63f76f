// The weight gradient of a 3×3 "SAME" convolution by Winograd's F(2×2, 3×3), the transpose of winograd.ts's
// forward pass: with V = Bᵀ d B of each input tile and dM = A dY Aᵀ of its 2×2 output-gradient tile,
// dU_ξ = Σ_tiles V_ξᵀ dM_ξ (16 GEMMs whose inner dimension is the tiles) and dw = Gᵀ dU G. Two kernels:
// winogradGradChunks transforms one chunk of chunkTiles tiles at a time into a task's scratch slot and sums its 16
// products there (the chunk's V and dM stay in cache: at 8 channels, 256 KiB), and winogradWeightsBack maps dU,
// the chunks added in order by sumChunks, to the 3×3 weights.
//
// Every dU element sums the tiles of a chunk one after the other and the chunks in chunk order: the chunk size is
// a constant, so neither the thread count nor the task split changes a bit.

import { storeCols } from './epilogue';
import { at } from './util';
import { inputTransform, storeTile, xiStride } from './winograd-tiles';


/** Four channels of output-gradient pixel (h, w), zero outside the image (the tiles' overhang). */
@inline function gradAt(g: usize, b: i32, h: i32, w: i32, H: i32, W: i32, N: i32, n: i32): v128 {
  return h < H && w < W ? v128.load(at(g, ((b * H + h) * W + w) * N + n)) : f32x4.splat(0);
}

/** Row (p, q) of A·X: (p, p + q, p − q, −q), into four consecutive matrices `xiBytes` apart. */
@inline function storeRowA(o: usize, xiBytes: usize, p: v128, q: v128): void {
  v128.store(o, p);
  v128.store(o + xiBytes, f32x4.add(p, q));
  v128.store(o + 2 * xiBytes, f32x4.sub(p, q));
  v128.store(o + 3 * xiBytes, f32x4.neg(q));
}

/**
 * dM = A dY Aᵀ for tiles q0…q0+count−1 of the output gradient g (NHWC, N channels): dM_ξ's row i at
 * m + (ξ·mXi + i·Np) floats.
 */
function gradTransform(g: usize, H: i32, W: i32, N: i32, th: i32, tw: i32, q0: i32, count: i32, m: usize, Np: i32,
  mXi: i32): void {
  const xiBytes = <usize>mXi << 2, per = th * tw, r0 = q0 % per;
  let b = q0 / per, ti = r0 / tw, tj = r0 % tw; // tile q0's image, row and column; then stepped, not divided
  for (let i = 0; i < count; i++) {
    const h = 2 * ti, w = 2 * tj;
    for (let n = 0; n < N; n += 4) {
      const d00 = gradAt(g, b, h, w, H, W, N, n), d01 = gradAt(g, b, h, w + 1, H, W, N, n);
      const d10 = gradAt(g, b, h + 1, w, H, W, N, n), d11 = gradAt(g, b, h + 1, w + 1, H, W, N, n);
      // rows of A dY: (d0, d0 + d1, d0 − d1, −d1); then each row times Aᵀ into ξ = 4·row + column
      const o = m + (<usize>(i * Np + n) << 2);
      storeRowA(o, xiBytes, d00, d01);
      storeRowA(o + 4 * xiBytes, xiBytes, f32x4.add(d00, d10), f32x4.add(d01, d11));
      storeRowA(o + 8 * xiBytes, xiBytes, f32x4.sub(d00, d10), f32x4.sub(d01, d11));
      storeRowA(o + 12 * xiBytes, xiBytes, f32x4.neg(d10), f32x4.neg(d11));
    }
    // the columns up to Np that no channel fills: zeros, so the GEMM never multiplies stale heap values
    const zero = f32x4.splat(0);
    for (let n = (N + 3) & ~3; n < Np; n += 4) {
      const o = m + (<usize>(i * Np + n) << 2);
      for (let row = 0; row < 4; row++) storeRowA(o + <usize>(row * 4) * xiBytes, xiBytes, zero, zero);
    }
    if (++tj == tw) {
      tj = 0;
      if (++ti == th) { ti = 0; b++; }
    }
  }
}

/**
 * dU_ξ's rows k…k+3, columns n…n+7 (out: row k's column n; rows rowBytes apart): Σ over the count tiles, in order,
 * of V_ξ[q, k…k+3] ⊗ dM_ξ[q, n…n+7], from pv (V's row 0, column k; vStep bytes a tile) and pm (dM's row 0, column
 * n; mStep bytes a tile). convWgrad's 4 × 8 register tile without its pixel-window addressing, inlined: the same
 * products added in the same order, with constant offsets where that tile kept a register per row.
 */
@inline function gradTile(pv: usize, vStep: usize, pm: usize, mStep: usize, count: i32, out: usize,
  rowBytes: usize): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let q = 0; q < count; q++) {
    const b0 = v128.load(pm), b1 = v128.load(pm, 16);
    const s0 = v128.load32_splat(pv), s1 = v128.load32_splat(pv, 4);
    c00 = f32x4.add(c00, f32x4.mul(s0, b0));
    c01 = f32x4.add(c01, f32x4.mul(s0, b1));
    c10 = f32x4.add(c10, f32x4.mul(s1, b0));
    c11 = f32x4.add(c11, f32x4.mul(s1, b1));
    const s2 = v128.load32_splat(pv, 8), s3 = v128.load32_splat(pv, 12);
    c20 = f32x4.add(c20, f32x4.mul(s2, b0));
    c21 = f32x4.add(c21, f32x4.mul(s2, b1));
    c30 = f32x4.add(c30, f32x4.mul(s3, b0));
    c31 = f32x4.add(c31, f32x4.mul(s3, b1));
    pv += vStep;
    pm += mStep;
  }
  storeTile(out, rowBytes, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** Floats of one task's scratch slot: V and dM of chunkTiles tiles (K inputs, N outputs). */
export function winogradGradSlot(K: i32, N: i32, chunkTiles: i32): i32 {
  return 16 * (xiStride(chunkTiles, (K + 3) & ~3) + xiStride(chunkTiles, ((N + 7) >> 3) * 8));
}

/**
 * dU of each chunk of tiles: the input x (K channels) and the output gradient g (N channels), both B images of
 * H × W, NHWC. Task t takes chunks t·chunksPerTask… in scratch slot t (winogradGradSlot floats): V and dM of the
 * chunk's tiles, then dU_ξ = Σ_q V_ξ[q]ᵀ dM_ξ[q] into partial + ((chunk·16 + ξ)·Kp·Np) floats
 * ([Kp rows][Np columns]; rows past K and columns past N hold nothing used).
 */
export function winogradGradChunks(x: usize, K: i32, g: usize, B: i32, H: i32, W: i32, N: i32, chunkTiles: i32,
  chunksPerTask: i32, scratch: usize, partial: usize, t0: i32, t1: i32): void {
  const th = (H + 1) >> 1, tw = (W + 1) >> 1, tiles = B * th * tw;
  const Kp = (K + 3) & ~3, Np = ((N + 7) >> 3) * 8, vXi = xiStride(chunkTiles, Kp), mXi = xiStride(chunkTiles, Np);
  for (let t = t0; t < t1; t++) {
    const v = at(scratch, t * winogradGradSlot(K, N, chunkTiles)), m = at(v, 16 * vXi);
    for (let chunk = t * chunksPerTask; chunk < (t + 1) * chunksPerTask; chunk++) {
      const q0 = chunk * chunkTiles, count = min(chunkTiles, tiles - q0);
      if (count <= 0) break;
      inputTransform(x, H, W, K, th, tw, q0, count, v, Kp, vXi);
      gradTransform(g, H, W, N, th, tw, q0, count, m, Np, mXi);
      for (let xi = 0; xi < 16; xi++) {
        const vx = at(v, xi * vXi), mx = at(m, xi * mXi), dst = at(partial, (chunk * 16 + xi) * Kp * Np);
        for (let k = 0; k < Kp; k += 4)
          for (let n = 0; n < Np; n += 8) {
            gradTile(vx + (<usize>k << 2), <usize>Kp << 2, mx + (<usize>n << 2), <usize>Np << 2, count,
              at(dst, k * Np + n), <usize>Np << 2);
          }
      }
    }
  }
}

/** (a + ½b + ½c, ½b − ½c, ½b + ½c + d): Gᵀ applied to (a, b, c, d). */
@inline function gt0(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(a, f32x4.mul(f32x4.add(b, c), f32x4.splat(0.5)));
}
@inline function gt1(b: v128, c: v128): v128 {
  return f32x4.mul(f32x4.sub(b, c), f32x4.splat(0.5));
}
@inline function gt2(b: v128, c: v128, d: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.add(b, c), f32x4.splat(0.5)), d);
}

/** dU_ξ's (k, n…n+3). */
@inline function du(dU: usize, Kp: i32, Np: i32, xi: i32, k: i32, n: i32): v128 {
  return v128.load(at(dU, (xi * Kp + k) * Np + n));
}

/** Row (z0, z1, z2, z3) of Gᵀ dU times G: taps (row, 0…2) of dw for (k, n…n+3). */
@inline function storeTaps(dw: usize, K: i32, N: i32, row: i32, k: i32, n: i32, z0: v128, z1: v128, z2: v128,
  z3: v128): void {
  storeCols(at(dw, ((row * 3) * K + k) * N + n), gt0(z0, z1, z2), n, N);
  storeCols(at(dw, ((row * 3 + 1) * K + k) * N + n), gt1(z1, z2), n, N);
  storeCols(at(dw, ((row * 3 + 2) * K + k) * N + n), gt2(z1, z2, z3), n, N);
}

/** Step 3: dw = Gᵀ dU G into HWIO weights [3, 3, K, N] from dU ([16][Kp][Np], chunks summed). Tasks: inputs k. */
export function winogradWeightsBack(dU: usize, K: i32, N: i32, dw: usize, t0: i32, t1: i32): void {
  const Kp = (K + 3) & ~3, Np = ((N + 7) >> 3) * 8;
  for (let k = t0; k < t1; k++) {
    for (let n = 0; n < N; n += 4) {
      // Gᵀ over the rows of dU (rows ξ = 4·r + c of column c): zRC for result row R, column c of dU
      const a0 = du(dU, Kp, Np, 0, k, n), b0 = du(dU, Kp, Np, 4, k, n), c0 = du(dU, Kp, Np, 8, k, n);
      const d0 = du(dU, Kp, Np, 12, k, n);
      const a1 = du(dU, Kp, Np, 1, k, n), b1 = du(dU, Kp, Np, 5, k, n), c1 = du(dU, Kp, Np, 9, k, n);
      const d1 = du(dU, Kp, Np, 13, k, n);
      const a2 = du(dU, Kp, Np, 2, k, n), b2 = du(dU, Kp, Np, 6, k, n), c2 = du(dU, Kp, Np, 10, k, n);
      const d2 = du(dU, Kp, Np, 14, k, n);
      const a3 = du(dU, Kp, Np, 3, k, n), b3 = du(dU, Kp, Np, 7, k, n), c3 = du(dU, Kp, Np, 11, k, n);
      const d3 = du(dU, Kp, Np, 15, k, n);
      storeTaps(dw, K, N, 0, k, n, gt0(a0, b0, c0), gt0(a1, b1, c1), gt0(a2, b2, c2), gt0(a3, b3, c3));
      storeTaps(dw, K, N, 1, k, n, gt1(b0, c0), gt1(b1, c1), gt1(b2, c2), gt1(b3, c3));
      storeTaps(dw, K, N, 2, k, n, gt2(b0, c0, d0), gt2(b1, c1, d1), gt2(b2, c2, d2), gt2(b3, c3, d3));
    }
  }
}
