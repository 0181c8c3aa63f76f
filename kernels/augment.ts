// Fine-tuning augmentations (paper-spec §5.4) in AssemblyScript, part of the same .wasm as the
// preprocessing. Slices are float32, x fastest (index = x + nx·y); label maps are one-hot, channel-last
// (index = (x + nx·y)·K + k), so warped labels come out soft exactly as in the paper.

@inline function at(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline function put(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

/**
 * dst(x, y) = src(m00·x + m01·y + m02, m10·x + m11·y + m12) for every channel (C channels, channel-last),
 * bilinear (`nearest` = 0) or nearest (1), zero outside the source (the constant-0 fill of the paper's
 * rotations and of its zero padding after down-scaling). Coordinates are pixel centres.
 */
export function affineWarp(src: usize, dst: usize, nx: i32, ny: i32, C: i32,
  m00: f64, m01: f64, m02: f64, m10: f64, m11: f64, m12: f64, nearest: i32): void {
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const sx = m00 * <f64>x + m01 * <f64>y + m02;
      const sy = m10 * <f64>x + m11 * <f64>y + m12;
      const o = (x + nx * y) * C;
      if (nearest) {
        const ix = <i32>Math.round(sx), iy = <i32>Math.round(sy);
        const inside = ix >= 0 && iy >= 0 && ix < nx && iy < ny;
        for (let c = 0; c < C; c++) put(dst, o + c, inside ? at(src, (ix + nx * iy) * C + c) : 0);
        continue;
      }
      const x0 = <i32>Math.floor(sx), y0 = <i32>Math.floor(sy);
      const fx = <f32>(sx - <f64>x0), fy = <f32>(sy - <f64>y0);
      for (let c = 0; c < C; c++) {
        let v: f32 = 0;
        for (let j = 0; j < 2; j++) {
          const yy = y0 + j;
          if (yy < 0 || yy >= ny) continue;
          const wy: f32 = j ? fy : 1 - fy;
          for (let i = 0; i < 2; i++) {
            const xx = x0 + i;
            if (xx < 0 || xx >= nx) continue;
            const wx: f32 = i ? fx : 1 - fx;
            v += wx * wy * at(src, (xx + nx * yy) * C + c);
          }
        }
        put(dst, o + c, v);
      }
    }
  }
}

/** Keys' cubic convolution kernel (a = −0.5). */
@inline function cubic(t: f64): f64 {
  const a = Math.abs(t);
  if (a <= 1) return (1.5 * a - 2.5) * a * a + 1;
  if (a < 2) return ((-0.5 * a + 2.5) * a - 4) * a + 2;
  return 0;
}

@inline function reflect(i: i32, n: i32): i32 {
  // mirror about the edges (…, 1, 0 | 0, 1, …, n−1 | n−1, n−2, …), for n >= 1
  if (i >= 0 && i < n) return i;
  if (n == 1) return 0;
  const p = 2 * n;
  let j = i % p;
  if (j < 0) j += p;
  return j < n ? j : p - 1 - j;
}

/** v + Σ_i (wy · wx_i) · grid[row + c_i], term by term. */
@inline function rowTerms(v: f64, wy: f64, grid: usize, row: i32, c0: i32, c1: i32, c2: i32, c3: i32,
  wx0: f64, wx1: f64, wx2: f64, wx3: f64): f64 {
  v += wy * wx0 * <f64>at(grid, row + c0);
  v += wy * wx1 * <f64>at(grid, row + c1);
  v += wy * wx2 * <f64>at(grid, row + c2);
  v += wy * wx3 * <f64>at(grid, row + c3);
  return v;
}

/** Bytes of upsampleCubic's column table for nx output columns: 4 weights (f64) and 4 mirrored indices (i32) each. */
export function cubicColumnsBytes(nx: i32): i32 {
  return nx * 48;
}

/**
 * Upsample a gw×gh grid (e.g. the 3×3 displacement grid of the elastic deformation) to nx×ny with cubic
 * convolution and mirrored edges, pixel centres aligned. The paper's code uses skimage's order-3 spline
 * resize with mode 'reflect'; this is the cubic-convolution form of the same smooth upsampling.
 * v = Σ_j Σ_i (wy_j · wx_i) · grid, in that order. A row's weights and offsets are formed once per row, and the
 * columns' once per call into `cols` (cubicColumnsBytes(nx) bytes): the same values, so the same bits as forming
 * each for its term (the test compares with that formula).
 */
export function upsampleCubic(grid: usize, gw: i32, gh: i32, out: usize, nx: i32, ny: i32, cols: usize): void {
  const scx = <f64>gw / <f64>nx, scy = <f64>gh / <f64>ny;
  for (let x = 0; x < nx; x++) {
    const gx = (<f64>x + 0.5) * scx - 0.5;
    const x0 = <i32>Math.floor(gx), c = cols + <usize>x * 48;
    store<f64>(c, cubic(gx - <f64>(x0 - 1)));
    store<f64>(c, cubic(gx - <f64>x0), 8);
    store<f64>(c, cubic(gx - <f64>(x0 + 1)), 16);
    store<f64>(c, cubic(gx - <f64>(x0 + 2)), 24);
    store<i32>(c, reflect(x0 - 1, gw), 32);
    store<i32>(c, reflect(x0, gw), 36);
    store<i32>(c, reflect(x0 + 1, gw), 40);
    store<i32>(c, reflect(x0 + 2, gw), 44);
  }
  for (let y = 0; y < ny; y++) {
    const gy = (<f64>y + 0.5) * scy - 0.5;
    const y0 = <i32>Math.floor(gy);
    const wy0 = cubic(gy - <f64>(y0 - 1)), wy1 = cubic(gy - <f64>y0);
    const wy2 = cubic(gy - <f64>(y0 + 1)), wy3 = cubic(gy - <f64>(y0 + 2));
    const r0 = reflect(y0 - 1, gh) * gw, r1 = reflect(y0, gh) * gw;
    const r2 = reflect(y0 + 1, gh) * gw, r3 = reflect(y0 + 2, gh) * gw;
    for (let x = 0; x < nx; x++) {
      const c = cols + <usize>x * 48;
      const wx0 = load<f64>(c), wx1 = load<f64>(c, 8), wx2 = load<f64>(c, 16), wx3 = load<f64>(c, 24);
      const c0 = load<i32>(c, 32), c1 = load<i32>(c, 36), c2 = load<i32>(c, 40), c3 = load<i32>(c, 44);
      let v = 0.0;
      v = rowTerms(v, wy0, grid, r0, c0, c1, c2, c3, wx0, wx1, wx2, wx3);
      v = rowTerms(v, wy1, grid, r1, c0, c1, c2, c3, wx0, wx1, wx2, wx3);
      v = rowTerms(v, wy2, grid, r2, c0, c1, c2, c3, wx0, wx1, wx2, wx3);
      v = rowTerms(v, wy3, grid, r3, c0, c1, c2, c3, wx0, wx1, wx2, wx3);
      put(out, x + nx * y, <f32>v);
    }
  }
}

/**
 * Elastic warp (TF dense_image_warp semantics, as the paper): out(x, y) = in(x − dx(x, y), y − dy(x, y)),
 * bilinear, sample positions clamped to the image, for C channels (channel-last).
 */
export function flowWarp(src: usize, dst: usize, nx: i32, ny: i32, C: i32, dxs: usize, dys: usize): void {
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const p = x + nx * y;
      let sx = <f64>x - <f64>at(dxs, p), sy = <f64>y - <f64>at(dys, p);
      sx = Math.min(Math.max(sx, 0), <f64>(nx - 1));
      sy = Math.min(Math.max(sy, 0), <f64>(ny - 1));
      const x0 = <i32>Math.min(Math.floor(sx), <f64>(nx - 2 < 0 ? 0 : nx - 2));
      const y0 = <i32>Math.min(Math.floor(sy), <f64>(ny - 2 < 0 ? 0 : ny - 2));
      const x1 = x0 + 1 < nx ? x0 + 1 : x0, y1 = y0 + 1 < ny ? y0 + 1 : y0;
      const fx = <f32>(sx - <f64>x0), fy = <f32>(sy - <f64>y0);
      let c = 0;
      if (C >= 4) {
        // four channels in the lanes: the same float32 operations per lane as the scalar line below
        const vfx = f32x4.splat(fx), vgx = f32x4.splat(1 - fx), vfy = f32x4.splat(fy), vgy = f32x4.splat(1 - fy);
        const pa = src + (<usize>((x0 + nx * y0) * C) << 2), pb = src + (<usize>((x1 + nx * y0) * C) << 2);
        const pd = src + (<usize>((x0 + nx * y1) * C) << 2), pe = src + (<usize>((x1 + nx * y1) * C) << 2);
        for (; c + 4 <= C; c += 4) {
          const o = <usize>c << 2;
          const top = f32x4.add(f32x4.mul(v128.load(pa + o), vgx), f32x4.mul(v128.load(pb + o), vfx));
          const bottom = f32x4.add(f32x4.mul(v128.load(pd + o), vgx), f32x4.mul(v128.load(pe + o), vfx));
          v128.store(dst + (<usize>(p * C + c) << 2), f32x4.add(f32x4.mul(top, vgy), f32x4.mul(bottom, vfy)));
        }
      }
      for (; c < C; c++) {
        const a = at(src, (x0 + nx * y0) * C + c), b = at(src, (x1 + nx * y0) * C + c);
        const d = at(src, (x0 + nx * y1) * C + c), e = at(src, (x1 + nx * y1) * C + c);
        put(dst, p * C + c, (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy);
      }
    }
  }
}
