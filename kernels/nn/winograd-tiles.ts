// Shared by the Winograd F(2×2, 3×3) kernels (winograd.ts, winograd-grad.ts): the input tiles' transform and the
// stride between the 16 transformed matrices. Not re-exported by index.ts.

import { at } from './util';

/**
 * V = Bᵀ d B for tiles q0…q0+count−1 of the padded input (Hp × Wp pixels of K floats; tile (ti, tj) of image b
 * starts at padded pixel (2ti, 2tj)), four channels at a time, into v: V_ξ's row i at v + (ξ·vXi + i·Kp) floats.
 */
export function inputTransform(x: usize, Hp: i32, Wp: i32, K: i32, th: i32, tw: i32, q0: i32, count: i32, v: usize,
  Kp: i32, vXi: i32): void {
  const rowBytes = <usize>(Wp * K) << 2, pixBytes = <usize>K << 2, xiBytes = <usize>vXi << 2;
  for (let i = 0; i < count; i++) {
    const q = q0 + i, b = q / (th * tw), r = q % (th * tw);
    const base = at(x, ((b * Hp + 2 * (r / tw)) * Wp + 2 * (r % tw)) * K);
    for (let c = 0; c < K; c += 4) {
      const p0 = base + (<usize>c << 2), out = v + (<usize>(i * Kp + c) << 2);
      // row r of t = Bᵀ d (four pixels), then row r of V = t B, stored in the slots of ξ = 4·r + column
      transformRow(p0, p0 + 2 * rowBytes, pixBytes, out, xiBytes, false); // d0 − d2
      transformRow(p0 + rowBytes, p0 + 2 * rowBytes, pixBytes, out + 4 * xiBytes, xiBytes, true); // d1 + d2
      transformRow(p0 + 2 * rowBytes, p0 + rowBytes, pixBytes, out + 8 * xiBytes, xiBytes, false); // d2 − d1
      transformRow(p0 + rowBytes, p0 + 3 * rowBytes, pixBytes, out + 12 * xiBytes, xiBytes, false); // d1 − d3
    }
  }
}

/**
 * One row of V: t = (a ± b) at each of the four pixels of input rows a and b (byte addresses, pixels pixBytes
 * apart), then (t0 − t2, t1 + t2, t2 − t1, t1 − t3) into four consecutive ξ slots from out.
 */
@inline function transformRow(a: usize, b: usize, pixBytes: usize, out: usize, xiBytes: usize, plus: bool): void {
  const t0 = rowT(a, b, plus), t1 = rowT(a + pixBytes, b + pixBytes, plus);
  const t2 = rowT(a + 2 * pixBytes, b + 2 * pixBytes, plus), t3 = rowT(a + 3 * pixBytes, b + 3 * pixBytes, plus);
  v128.store(out, f32x4.sub(t0, t2));
  v128.store(out + xiBytes, f32x4.add(t1, t2));
  v128.store(out + 2 * xiBytes, f32x4.sub(t2, t1));
  v128.store(out + 3 * xiBytes, f32x4.sub(t1, t3));
}

@inline function rowT(a: usize, b: usize, plus: bool): v128 {
  return plus ? f32x4.add(v128.load(a), v128.load(b)) : f32x4.sub(v128.load(a), v128.load(b));
}

/**
 * Floats between consecutive ξ in a block: tb rows of `cols`, plus one cache line, so that the 16 matrices a tile
 * touches do not all fall in one L1 set (a power-of-two stride would put them there).
 */
@inline export function xiStride(tb: i32, cols: i32): i32 {
  return tb * cols + 16;
}

