// 3×3 stride-1 convolutions by Winograd's F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): each 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A over its 4×4 input tile d, so the
// convolution becomes 16 GEMMs over the channels with 16 multiplies per 4 outputs instead of 36. Tiles are
// processed in blocks of `tb` tiles: a block's transformed inputs and its 16 GEMM results stay in one task's
// scratch slot while the block is transformed, multiplied and transformed back (at 64 tiles and 32 channels about
// 260 KiB, within a core's L2; at 256 channels about 2 MiB, which is not).
//
// The order of every sum is fixed by the shapes alone (the GEMMs sum channels k = 0, 1, …, K−1) and a tile's
// result does not depend on its block, so neither the block size nor the thread that runs a block changes a bit.
//
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]

import { epBias, finish, loadEpilogue, storeCols } from './epilogue';
import { at } from './util';
import { inputTransform, storeTile, xiStride } from './winograd-tiles';

/**
 * Tap (dy, dx) of outputs n…n+3 for input k, as four lanes (zero past N). `flip`: the input gradient's weights,
 * w[2−dy, 2−dx, n, k] of HWIO weights whose Cout is K and Cin is N.
 */
@inline function taps4(w: usize, dy: i32, dx: i32, k: i32, n: i32, K: i32, N: i32, flip: bool): v128 {
  if (!flip && n + 4 <= N) return v128.load(at(w, ((dy * 3 + dx) * K + k) * N + n));
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, tap(w, dy, dx, k, n, K, N, flip));
  v = f32x4.replace_lane(v, 1, tap(w, dy, dx, k, n + 1, K, N, flip));
  v = f32x4.replace_lane(v, 2, tap(w, dy, dx, k, n + 2, K, N, flip));
  return f32x4.replace_lane(v, 3, tap(w, dy, dx, k, n + 3, K, N, flip));
}

@inline function tap(w: usize, dy: i32, dx: i32, k: i32, n: i32, K: i32, N: i32, flip: bool): f32 {
  if (n >= N) return 0;
  return load<f32>(at(w, flip ? (((2 - dy) * 3 + 2 - dx) * N + n) * K + k : ((dy * 3 + dx) * K + k) * N + n));
}

/**
 * U = G g Gᵀ for every (k, n) of HWIO 3×3 weights (K inputs, N outputs; `flip`: the input gradient's), packed as
 * 16 matrices U_ξ (ξ = 4·row + column), each in ⌈N/8⌉ zero-padded panels of K rows × 8 columns like packPanels.
 * Tasks: inputs k.
 */
export function winogradWeights(w: usize, K: i32, N: i32, flip: bool, dst: usize, t0: i32, t1: i32): void {
  const Np = ((N + 7) >> 3) * 8, size = <usize>(Np * K) << 2, half = f32x4.splat(0.5);
  for (let k = t0; k < t1; k++) {
    for (let n = 0; n < Np; n += 4) {
      const o = dst + (<usize>(((n >> 3) * K + k) * 8 + (n & 7)) << 2);
      // s = G g from kernel rows a, b, c (digit: column): rows a, (a + b + c)/2, (a − b + c)/2, c
      const a0 = taps4(w, 0, 0, k, n, K, N, flip), b0 = taps4(w, 1, 0, k, n, K, N, flip);
      const c0 = taps4(w, 2, 0, k, n, K, N, flip);
      const a1 = taps4(w, 0, 1, k, n, K, N, flip), b1 = taps4(w, 1, 1, k, n, K, N, flip);
      const c1 = taps4(w, 2, 1, k, n, K, N, flip);
      const a2 = taps4(w, 0, 2, k, n, K, N, flip), b2 = taps4(w, 1, 2, k, n, K, N, flip);
      const c2 = taps4(w, 2, 2, k, n, K, N, flip);
      storeRowU(o, size, a0, a1, a2, half);
      const m0 = mid(a0, b0, c0, half, false), m1 = mid(a1, b1, c1, half, false), m2 = mid(a2, b2, c2, half, false);
      const n0 = mid(a0, b0, c0, half, true), n1 = mid(a1, b1, c1, half, true), n2 = mid(a2, b2, c2, half, true);
      storeRowU(o + 4 * size, size, m0, m1, m2, half);
      storeRowU(o + 8 * size, size, n0, n1, n2, half);
      storeRowU(o + 12 * size, size, c0, c1, c2, half);
    }
  }
}

/** (a + b + c)/2, or (a − b + c)/2 when `minus`: G's middle rows. */
@inline function mid(a: v128, b: v128, c: v128, half: v128, minus: bool): v128 {
  return f32x4.mul(f32x4.add(minus ? f32x4.sub(a, b) : f32x4.add(a, b), c), half);
}

/** Row (a, b, c) of s times Gᵀ: U's row (a, (a + b + c)/2, (a − b + c)/2, c), into four consecutive U_ξ. */
@inline function storeRowU(o: usize, size: usize, a: v128, b: v128, c: v128, half: v128): void {
  v128.store(o, a);
  v128.store(o + size, mid(a, b, c, half, false));
  v128.store(o + 2 * size, mid(a, b, c, half, true));
  v128.store(o + 3 * size, c);
}

/**
 * Rows i…i+3 of M_ξ, columns n…n+7: Σ_k V_ξ[row, k] · U_ξ[k, n…n+7], k = 0, 1, …, K−1 from zero (convGemm's tile
 * with one tap and no epilogue, the same additions in the same order, inlined: at 8 channels a call's overhead
 * matched its 64 multiply-adds). a0…a3: the rows' first floats (byte addresses), bp: the panel, out: row i's
 * column n.
 */
@inline function blockTile(a0: usize, a1: usize, a2: usize, a3: usize, K: i32, bp: usize, out: usize,
  rowBytes: usize): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let b = bp, p0 = a0, p1 = a1, p2 = a2, p3 = a3;
  for (let k = 0; k < K; k++) {
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
  storeTile(out, rowBytes, c00, c01, c10, c11, c20, c21, c30, c31);
}

/**
 * The 16 products of a block: M_ξ[i, :] = V_ξ[i, :] · U_ξ for its `count` tiles (M_ξ at m + ξ·mXi floats), all Np
 * columns stored; rows up to the next multiple of 4 are written too (the slot has tb rows, and tb is one).
 */
function blockGemms(v: usize, Kp: i32, vXi: i32, K: i32, U: usize, N: i32, m: usize, Np: i32, mXi: i32,
  count: i32): void {
  const panels = (N + 7) >> 3, size = panels * K * 8, aRow = <usize>Kp << 2, mRow = <usize>Np << 2;
  for (let xi = 0; xi < 16; xi++) {
    const vx = at(v, xi * vXi), mx = at(m, xi * mXi);
    for (let j = 0; j < panels; j++) {
      const bp = at(U, xi * size + j * K * 8);
      for (let i = 0; i < count; i += 4) {
        // rows past count repeat the last tile's (their results are never read)
        const a0 = vx + <usize>i * aRow;
        const a1 = i + 1 < count ? a0 + aRow : a0, a2 = i + 2 < count ? a0 + 2 * aRow : a0;
        const a3 = i + 3 < count ? a0 + 3 * aRow : a0;
        blockTile(a0, a1, a2, a3, K, bp, mx + <usize>i * mRow + (<usize>j << 5), mRow);
      }
    }
  }
}

/**
 * y = epilogue(Aᵀ M A + bias) for the block's tiles, four output channels at a time; pixels past H, W are cut. The
 * tiles' coordinates are stepped from q0's (integer division per tile cost as much as a thin layer's arithmetic).
 */
function outputTransform(m: usize, Np: i32, mXi: i32, N: i32, y: usize, H: i32, W: i32, th: i32, tw: i32,
  q0: i32, count: i32): void {
  const xb = <usize>mXi << 2, per = th * tw, r0 = q0 % per;
  let b = q0 / per, ti = r0 / tw, tj = r0 % tw;
  for (let i = 0; i < count; i++) {
    const h = 2 * ti, w = 2 * tj;
    const px = at(y, ((b * H + h) * W + w) * N);
    const down = h + 1 < H, right = w + 1 < W;
    for (let n = 0; n < N; n += 4) {
      const p = m + (<usize>(i * Np + n) << 2);
      // rows: s = Aᵀ M (2×4), column c from ξ = c, 4 + c, 8 + c, 12 + c: (m0 + m1) + m2 and (m1 − m2) − m3
      const s00 = f32x4.add(f32x4.add(v128.load(p), v128.load(p + 4 * xb)), v128.load(p + 8 * xb));
      const s10 = f32x4.sub(f32x4.sub(v128.load(p + 4 * xb), v128.load(p + 8 * xb)), v128.load(p + 12 * xb));
      const s01 = f32x4.add(f32x4.add(v128.load(p + xb), v128.load(p + 5 * xb)), v128.load(p + 9 * xb));
      const s11 = f32x4.sub(f32x4.sub(v128.load(p + 5 * xb), v128.load(p + 9 * xb)), v128.load(p + 13 * xb));
      const s02 = f32x4.add(f32x4.add(v128.load(p + 2 * xb), v128.load(p + 6 * xb)), v128.load(p + 10 * xb));
      const s12 = f32x4.sub(f32x4.sub(v128.load(p + 6 * xb), v128.load(p + 10 * xb)), v128.load(p + 14 * xb));
      const s03 = f32x4.add(f32x4.add(v128.load(p + 3 * xb), v128.load(p + 7 * xb)), v128.load(p + 11 * xb));
      const s13 = f32x4.sub(f32x4.sub(v128.load(p + 7 * xb), v128.load(p + 11 * xb)), v128.load(p + 15 * xb));
      // columns: Y = s A (2×2)
      let y00 = f32x4.add(f32x4.add(s00, s01), s02), y01 = f32x4.sub(f32x4.sub(s01, s02), s03);
      let y10 = f32x4.add(f32x4.add(s10, s11), s12), y11 = f32x4.sub(f32x4.sub(s11, s12), s13);
      if (epBias != 0) {
        const bias = v128.load(at(epBias, n));
        y00 = f32x4.add(y00, bias);
        y01 = f32x4.add(y01, bias);
        y10 = f32x4.add(y10, bias);
        y11 = f32x4.add(y11, bias);
      }
      storeCols(at(px, n), finish(y00, n), n, N);
      if (right) storeCols(at(px, N + n), finish(y01, n), n, N);
      if (down) {
        storeCols(at(px, W * N + n), finish(y10, n), n, N);
        if (right) storeCols(at(px, (W + 1) * N + n), finish(y11, n), n, N);
      }
    }
    if (++tj == tw) {
      tj = 0;
      if (++ti == th) { ti = 0; b++; }
    }
  }
}

/**
 * A 3×3 "SAME" convolution of x (B images of H × W pixels of K floats, NHWC; ⌈H/2⌉ × ⌈W/2⌉ tiles each) with
 * weights from winogradWeights (N outputs), into NHWC y, the epilogue block ep applied (0: none). Blocks of tb
 * tiles (a multiple of 4); task t runs blocks t·blocksPerTask… in scratch slot t of winogradSlot(K, N, tb) floats.
 */
export function winogradConv(x: usize, K: i32, B: i32, H: i32, W: i32, U: usize, N: i32, y: usize, ep: usize, tb: i32,
  blocksPerTask: i32, scratch: usize, t0: i32, t1: i32): void {
  const th = (H + 1) >> 1, tw = (W + 1) >> 1, tiles = B * th * tw;
  const Kp = (K + 3) & ~3, Np = ((N + 7) >> 3) * 8, vXi = xiStride(tb, Kp), mXi = xiStride(tb, Np);
  loadEpilogue(ep);
  for (let t = t0; t < t1; t++) {
    const v = at(scratch, t * winogradSlot(K, N, tb)), m = at(v, 16 * vXi);
    for (let blk = t * blocksPerTask; blk < (t + 1) * blocksPerTask; blk++) {
      const q0 = blk * tb, count = min(tb, tiles - q0);
      if (count <= 0) break;
      inputTransform(x, H, W, K, th, tw, q0, count, v, Kp, vXi);
      blockGemms(v, Kp, vXi, K, U, N, m, Np, mXi, count);
      outputTransform(m, Np, mXi, N, y, H, W, th, tw, q0, count);
    }
  }
}

/** Floats of one task's scratch slot: V and M of a block of tb tiles (K inputs, N outputs). */
export function winogradSlot(K: i32, N: i32, tb: i32): i32 {
  return 16 * (xiStride(tb, (K + 3) & ~3) + xiStride(tb, ((N + 7) >> 3) * 8));
}
