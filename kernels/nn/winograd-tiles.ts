// Shared by the Winograd F(2×2, 3×3) kernels (winograd.ts, winograd-grad.ts): the input tiles' transform, the
// stride between the 16 transformed matrices, and the store of their GEMMs' 4 × 8 register tiles. Not re-exported
// by index.ts.

import { at } from './util';

/**
 * V = Bᵀ d B for tiles q0…q0+count−1 of the input x (B images of H × W pixels of K floats, NHWC; tile (ti, tj)
 * covers pixels 2ti−1…2ti+2 × 2tj−1…2tj+2, zero outside the image, as "SAME" padding and whole tiles need), four
 * channels at a time, into v: V_ξ's row i at v + (ξ·vXi + i·Kp) floats. Border tiles take the zeros from bounds
 * checks instead of a padded copy: the same values, so the same bits.
 */
export function inputTransform(x: usize, H: i32, W: i32, K: i32, th: i32, tw: i32, q0: i32, count: i32, v: usize,
  Kp: i32, vXi: i32): void {
  const rowBytes = <usize>(W * K) << 2, pixBytes = <usize>K << 2, xiBytes = <usize>vXi << 2;
  const per = th * tw, r0 = q0 % per;
  let b = q0 / per, ti = r0 / tw, tj = r0 % tw; // tile q0's image, row and column; then stepped, not divided
  for (let i = 0; i < count; i++) {
    const h0 = 2 * ti - 1, w0 = 2 * tj - 1;
    const inside = h0 >= 0 && h0 + 3 < H && w0 >= 0 && w0 + 3 < W;
    for (let c = 0; c < K; c += 4) {
      const out = v + (<usize>(i * Kp + c) << 2);
      if (!inside) {
        borderTile(x, b, h0, w0, H, W, K, c, out, xiBytes);
        continue;
      }
      const p0 = at(x, ((b * H + h0) * W + w0) * K + c), p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      const pb = pixBytes;
      // row r of t = Bᵀ d (four pixels), then row r of V = t B, stored in the slots of ξ = 4·r + column
      const d00 = v128.load(p0), d01 = v128.load(p0 + pb), d02 = v128.load(p0 + 2 * pb), d03 = v128.load(p0 + 3 * pb);
      const d10 = v128.load(p1), d11 = v128.load(p1 + pb), d12 = v128.load(p1 + 2 * pb), d13 = v128.load(p1 + 3 * pb);
      const d20 = v128.load(p2), d21 = v128.load(p2 + pb), d22 = v128.load(p2 + 2 * pb), d23 = v128.load(p2 + 3 * pb);
      const d30 = v128.load(p3), d31 = v128.load(p3 + pb), d32 = v128.load(p3 + 2 * pb), d33 = v128.load(p3 + 3 * pb);
      transformTile(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, out, xiBytes);
    }
    if (++tj == tw) {
      tj = 0;
      if (++ti == th) { ti = 0; b++; }
    }
  }
}

/** Four channels (c…c+3) of pixel (h, w) of image b, zero outside the image. */
@inline function pixel(x: usize, b: i32, h: i32, w: i32, H: i32, W: i32, K: i32, c: i32): v128 {
  return h >= 0 && h < H && w >= 0 && w < W ? v128.load(at(x, ((b * H + h) * W + w) * K + c)) : f32x4.splat(0);
}

/** inputTransform's tile whose 4 × 4 pixels from (h0, w0) reach past the image. */
function borderTile(x: usize, b: i32, h0: i32, w0: i32, H: i32, W: i32, K: i32, c: i32, out: usize,
  xiBytes: usize): void {
  const h1 = h0 + 1, h2 = h0 + 2, h3 = h0 + 3, w1 = w0 + 1, w2 = w0 + 2, w3 = w0 + 3;
  transformTile(
    pixel(x, b, h0, w0, H, W, K, c), pixel(x, b, h0, w1, H, W, K, c), pixel(x, b, h0, w2, H, W, K, c),
    pixel(x, b, h0, w3, H, W, K, c), pixel(x, b, h1, w0, H, W, K, c), pixel(x, b, h1, w1, H, W, K, c),
    pixel(x, b, h1, w2, H, W, K, c), pixel(x, b, h1, w3, H, W, K, c), pixel(x, b, h2, w0, H, W, K, c),
    pixel(x, b, h2, w1, H, W, K, c), pixel(x, b, h2, w2, H, W, K, c), pixel(x, b, h2, w3, H, W, K, c),
    pixel(x, b, h3, w0, H, W, K, c), pixel(x, b, h3, w1, H, W, K, c), pixel(x, b, h3, w2, H, W, K, c),
    pixel(x, b, h3, w3, H, W, K, c), out, xiBytes);
}

/** V = Bᵀ d B of one tile's 4 × 4 pixels d (rows, then columns), row by row into the 16 ξ slots from out. */
@inline function transformTile(d00: v128, d01: v128, d02: v128, d03: v128, d10: v128, d11: v128, d12: v128,
  d13: v128, d20: v128, d21: v128, d22: v128, d23: v128, d30: v128, d31: v128, d32: v128, d33: v128, out: usize,
  xiBytes: usize): void {
  // rows of t = Bᵀ d: d0 − d2, d1 + d2, d2 − d1, d1 − d3 (each at four pixels)
  transformRow(f32x4.sub(d00, d20), f32x4.sub(d01, d21), f32x4.sub(d02, d22), f32x4.sub(d03, d23), out, xiBytes);
  transformRow(f32x4.add(d10, d20), f32x4.add(d11, d21), f32x4.add(d12, d22), f32x4.add(d13, d23),
    out + 4 * xiBytes, xiBytes);
  transformRow(f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12), f32x4.sub(d23, d13),
    out + 8 * xiBytes, xiBytes);
  transformRow(f32x4.sub(d10, d30), f32x4.sub(d11, d31), f32x4.sub(d12, d32), f32x4.sub(d13, d33),
    out + 12 * xiBytes, xiBytes);
}

/** One row (t0, t1, t2, t3) of t times B: (t0 − t2, t1 + t2, t2 − t1, t1 − t3) into four consecutive ξ slots. */
@inline function transformRow(t0: v128, t1: v128, t2: v128, t3: v128, out: usize, xiBytes: usize): void {
  v128.store(out, f32x4.sub(t0, t2));
  v128.store(out + xiBytes, f32x4.add(t1, t2));
  v128.store(out + 2 * xiBytes, f32x4.sub(t2, t1));
  v128.store(out + 3 * xiBytes, f32x4.sub(t1, t3));
}

/** A 4 × 8 register tile's rows (cRC: row R, columns 0–3 or 4–7) at out, out + rowBytes, … */
@inline export function storeTile(out: usize, rowBytes: usize, c00: v128, c01: v128, c10: v128, c11: v128, c20: v128,
  c21: v128, c30: v128, c31: v128): void {
  v128.store(out, c00);
  v128.store(out, c01, 16);
  v128.store(out + rowBytes, c10);
  v128.store(out + rowBytes, c11, 16);
  v128.store(out + 2 * rowBytes, c20);
  v128.store(out + 2 * rowBytes, c21, 16);
  v128.store(out + 3 * rowBytes, c30);
  v128.store(out + 3 * rowBytes, c31, 16);
}

/**
 * Floats between consecutive ξ in a block: tb rows of `cols`, plus one cache line, so that the 16 matrices a tile
 * touches do not all fall in one L1 set (a power-of-two stride would put them there).
 */
@inline export function xiStride(tb: i32, cols: i32): i32 {
  return tb * cols + 16;
}

