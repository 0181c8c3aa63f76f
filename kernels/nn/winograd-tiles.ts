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
      const p0 = base + (<usize>c << 2), p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      // rows: t = Bᵀ d, one column (pixel) at a time
      let out = v + (<usize>(i * Kp + c) << 2);
      for (let col = 0; col < 4; col++) {
        const o = <usize>col * pixBytes;
        const d0 = v128.load(p0 + o), d1 = v128.load(p1 + o), d2 = v128.load(p2 + o), d3 = v128.load(p3 + o);
        // stored as column col of rows 0…3 of t, in the slots of ξ = 4·row + col, then transformed below
        v128.store(out + <usize>col * xiBytes, f32x4.sub(d0, d2));
        v128.store(out + <usize>(4 + col) * xiBytes, f32x4.add(d1, d2));
        v128.store(out + <usize>(8 + col) * xiBytes, f32x4.sub(d2, d1));
        v128.store(out + <usize>(12 + col) * xiBytes, f32x4.sub(d1, d3));
      }
      // columns: V = t B, each row of t in place
      for (let row = 0; row < 4; row++) {
        const o = out + <usize>(4 * row) * xiBytes;
        const t0 = v128.load(o), t1 = v128.load(o + xiBytes);
        const t2 = v128.load(o + 2 * xiBytes), t3 = v128.load(o + 3 * xiBytes);
        v128.store(o, f32x4.sub(t0, t2));
        v128.store(o + xiBytes, f32x4.add(t1, t2));
        v128.store(o + 2 * xiBytes, f32x4.sub(t2, t1));
        v128.store(o + 3 * xiBytes, f32x4.sub(t1, t3));
      }
    }
  }
}

/**
 * Floats between consecutive ξ in a block: tb rows of `cols`, plus one cache line, so that the 16 matrices a tile
 * touches do not all fall in one L1 set (a power-of-two stride would put them there).
 */
@inline export function xiStride(tb: i32, cols: i32): i32 {
  return tb * cols + 16;
}

