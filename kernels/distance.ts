// Surface distances for the 95th-percentile Hausdorff distance (HD95, as MedPy computes it): surface voxels of
// one class (in the class, with a 6-neighbour outside it or on the volume's border) and an exact separable
// squared Euclidean distance transform with anisotropic spacing (the lower envelope of parabolas of
// Felzenszwalb & Huttenlocher, one pass per axis). Volumes are x fastest: index = x + nx·(y + ny·z).

const INF: f64 = 1e30;

/** surf[i] = 1 where voxel i of `labels` (f32) is class k and on the class's surface, else 0; returns the count. */
export function surfaceOf(labels: usize, nx: i32, ny: i32, nz: i32, k: f32, surf: usize): i32 {
  let count = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z);
        let s: u8 = 0;
        if (load<f32>(labels + (<usize>i << 2)) == k) {
          if (x == 0 || y == 0 || z == 0 || x == nx - 1 || y == ny - 1 || z == nz - 1) s = 1;
          else if (load<f32>(labels + (<usize>(i - 1) << 2)) != k || load<f32>(labels + (<usize>(i + 1) << 2)) != k ||
            load<f32>(labels + (<usize>(i - nx) << 2)) != k || load<f32>(labels + (<usize>(i + nx) << 2)) != k ||
            load<f32>(labels + (<usize>(i - nx * ny) << 2)) != k || load<f32>(labels + (<usize>(i + nx * ny) << 2)) != k) s = 1;
        }
        store<u8>(surf + <usize>i, s);
        count += <i32>s;
      }
    }
  }
  return count;
}

/**
 * One axis of the transform, in place on `d` (f64): lines of `len` values, `stride` apart within a line,
 * starting at every offset of `starts` (count lines); spacing `s`. Scratch: v (i32), zz (f64, len + 1), f (f64, len).
 */
function pass(d: usize, len: i32, stride: i32, lineStarts: usize, lines: i32, s: f64, v: usize, zz: usize, f: usize): void {
  const s2 = s * s;
  for (let l = 0; l < lines; l++) {
    const base = load<i32>(lineStarts + (<usize>l << 2));
    for (let q = 0; q < len; q++) store<f64>(f + (<usize>q << 3), load<f64>(d + (<usize>(base + q * stride) << 3)));
    let k = 0;
    store<i32>(v, 0);
    store<f64>(zz, -INF);
    store<f64>(zz + 8, INF);
    for (let q = 1; q < len; q++) {
      const fq = load<f64>(f + (<usize>q << 3));
      if (fq >= INF) continue;
      let vk = load<i32>(v + (<usize>k << 2));
      let fv = load<f64>(f + (<usize>vk << 3));
      if (fv >= INF) { // no parabola yet: this one replaces the placeholder
        store<i32>(v + (<usize>k << 2), q);
        continue;
      }
      let sq = ((fq + s2 * <f64>q * <f64>q) - (fv + s2 * <f64>vk * <f64>vk)) / (2 * s2 * <f64>(q - vk));
      while (sq <= load<f64>(zz + (<usize>k << 3))) {
        k--;
        vk = load<i32>(v + (<usize>k << 2));
        fv = load<f64>(f + (<usize>vk << 3));
        sq = ((fq + s2 * <f64>q * <f64>q) - (fv + s2 * <f64>vk * <f64>vk)) / (2 * s2 * <f64>(q - vk));
      }
      k++;
      store<i32>(v + (<usize>k << 2), q);
      store<f64>(zz + (<usize>k << 3), sq);
      store<f64>(zz + (<usize>(k + 1) << 3), INF);
    }
    const v0 = load<i32>(v);
    if (load<f64>(f + (<usize>v0 << 3)) >= INF) continue; // no finite value on this line: it stays INF
    k = 0;
    for (let q = 0; q < len; q++) {
      while (load<f64>(zz + (<usize>(k + 1) << 3)) < <f64>q) k++;
      const vk = load<i32>(v + (<usize>k << 2));
      const dq = <f64>(q - vk) * s;
      store<f64>(d + (<usize>(base + q * stride) << 3), dq * dq + load<f64>(f + (<usize>vk << 3)));
    }
  }
}

/** Bytes of scratch edt3 needs after its n·8 output: line starts, v, z and f for the longest axis. */
export function edtWorkBytes(nx: i32, ny: i32, nz: i32): usize {
  const n = <usize>max(nx * ny, max(nx * nz, ny * nz));
  const m = <usize>max(nx, max(ny, nz));
  return 4 * n + 4 * m + 8 * (m + 2) + 8 * m;
}

/**
 * out[i] = squared distance (in mm²) from voxel i to the nearest voxel with seed[i] != 0 (u8), spacing
 * (sx, sy, sz); 1e30 everywhere when there is no seed. `work` holds edtWorkBytes bytes.
 */
export function edt3(seed: usize, nx: i32, ny: i32, nz: i32, sx: f64, sy: f64, sz: f64, out: usize, work: usize): void {
  const n = nx * ny * nz;
  for (let i = 0; i < n; i++) store<f64>(out + (<usize>i << 3), load<u8>(seed + <usize>i) ? 0 : INF);
  const m = max(nx, max(ny, nz));
  const starts = work, v = starts + 4 * <usize>max(nx * ny, max(nx * nz, ny * nz));
  const zz = v + 4 * <usize>m, f = zz + 8 * <usize>(m + 2);
  // x lines: one per (y, z)
  let c = 0;
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) { store<i32>(starts + (<usize>c << 2), nx * (y + ny * z)); c++; }
  pass(out, nx, 1, starts, c, sx, v, zz, f);
  c = 0;
  for (let z = 0; z < nz; z++) for (let x = 0; x < nx; x++) { store<i32>(starts + (<usize>c << 2), x + nx * ny * z); c++; }
  pass(out, ny, nx, starts, c, sy, v, zz, f);
  c = 0;
  for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) { store<i32>(starts + (<usize>c << 2), x + nx * y); c++; }
  pass(out, nz, nx * ny, starts, c, sz, v, zz, f);
}
