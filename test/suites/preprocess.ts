// The AssemblyScript preprocessing module against TypeScript references (same .wasm in every runtime).
import { type TestCase, assert, assertClose, relErr } from '../harness.ts';
import {
  normalizePercentiles,
  preprocessModule,
  resizeSlices,
  resampleSlice,
  resampledSize,
  roundHalfEven,
  cropOrPad,
  cropShift,
  uncropProbabilities,
  resizeProbabilitiesArgmax,
  sliceGeometry,
  probabilitiesToLabels,
  prepareSlices,
  otsuThreshold,
  otsuFromHistogram,
  correctBiasField,
  biasMonomials,
} from '../../src/data/preprocess.ts';
import { dicePerClass, hd95PerClass, meanForegroundDice } from '../../src/data/metrics.ts';
import { Rng } from '../../src/util/random.ts';
import type { Vec3 } from '../../src/volume/volume.ts';

/** numpy's default percentile: linear interpolation between the closest ranks of the sorted values. */
function percentileRef(a: Float32Array, q: number): number {
  const s = Float64Array.from(a).sort();
  const pos = (q / 100) * (s.length - 1),
    k = Math.floor(pos);
  return k + 1 < s.length ? s[k] + (s[k + 1] - s[k]) * (pos - k) : s[k];
}

// ---- references ----------------------------------------------------------------------------------------

/** Where destination pixel X samples a source axis of n pixels, r source pixels per destination pixel. */
function axisBilinear(X: number, r: number, n: number): { i0: number; i1: number; w: number } {
  const u = Math.min(Math.max((X + 0.5) * r - 0.5, 0), n - 1); // centres aligned, edges clamped
  const i0 = Math.floor(u);
  return { i0, i1: Math.min(i0 + 1, n - 1), w: u - i0 };
}
const axisNearest = (X: number, r: number, n: number) => Math.min(Math.max(Math.floor((X + 0.5) * r), 0), n - 1);

function resizeRef(
  src: ArrayLike<number>,
  nx: number,
  ny: number,
  mx: number,
  my: number,
  C: number,
  nz: number,
  rx: number,
  ry: number,
  mode: 'bilinear' | 'nearest',
): Float32Array {
  const out = new Float32Array(mx * my * C * nz);
  for (let z = 0; z < nz; z++) {
    const at = (x: number, y: number, c: number) => src[(x + nx * y + nx * ny * z) * C + c];
    for (let Y = 0; Y < my; Y++) {
      for (let X = 0; X < mx; X++) {
        for (let c = 0; c < C; c++) {
          let v: number;
          if (mode === 'nearest') v = at(axisNearest(X, rx, nx), axisNearest(Y, ry, ny), c);
          else {
            const a = axisBilinear(X, rx, nx),
              b = axisBilinear(Y, ry, ny);
            const top = at(a.i0, b.i0, c) * (1 - a.w) + at(a.i1, b.i0, c) * a.w;
            const bot = at(a.i0, b.i1, c) * (1 - a.w) + at(a.i1, b.i1, c) * a.w;
            v = top * (1 - b.w) + bot * b.w;
          }
          out[(X + mx * Y + mx * my * z) * C + c] = v;
        }
      }
    }
  }
  return out;
}

/** The paper's crop_or_pad, per axis: a crop takes the centre window, a pad puts the source in the centre. */
function cropOrPadRef(src: ArrayLike<number>, nx: number, ny: number, mx: number, my: number, C = 1): Float32Array {
  const out = new Float32Array(mx * my * C);
  const place = (n: number, m: number) =>
    n >= m ? { s: Math.floor((n - m) / 2), d: 0, len: m } : { s: 0, d: Math.floor((m - n) / 2), len: n };
  const px = place(nx, mx),
    py = place(ny, my);
  for (let y = 0; y < py.len; y++) {
    for (let x = 0; x < px.len; x++) {
      for (let c = 0; c < C; c++) out[(px.d + x + mx * (py.d + y)) * C + c] = src[(px.s + x + nx * (py.s + y)) * C + c];
    }
  }
  return out;
}

function resizeArgmaxRef(
  prob: ArrayLike<number>,
  cx: number,
  cy: number,
  K: number,
  nx: number,
  ny: number,
  rx: number,
  ry: number,
): Uint8Array {
  const out = new Uint8Array(nx * ny);
  for (let Y = 0; Y < ny; Y++) {
    const b = axisBilinear(Y, ry, cy);
    for (let X = 0; X < nx; X++) {
      const a = axisBilinear(X, rx, cx);
      let best = 0,
        bestV = -Infinity;
      for (let k = 0; k < K; k++) {
        const at = (x: number, y: number) => prob[(x + cx * y) * K + k];
        const top = at(a.i0, b.i0) * (1 - a.w) + at(a.i1, b.i0) * a.w;
        const bot = at(a.i0, b.i1) * (1 - a.w) + at(a.i1, b.i1) * a.w;
        const p = top * (1 - b.w) + bot * b.w;
        if (p > bestV) {
          bestV = p;
          best = k;
        }
      }
      out[X + nx * Y] = best;
    }
  }
  return out;
}

function diceRef(a: ArrayLike<number>, b: ArrayLike<number>, K: number): number[] {
  const d: number[] = [];
  for (let k = 0; k < K; k++) {
    let na = 0,
      nb = 0,
      both = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === k) na++;
      if (b[i] === k) nb++;
      if (a[i] === k && b[i] === k) both++;
    }
    d.push(na + nb === 0 ? NaN : (2 * both) / (na + nb));
  }
  return d;
}

/** Solve A x = b (dense, float64) by Gaussian elimination with partial pivoting. */
function solveRef(A: number[][], b: number[]): number[] {
  const n = b.length,
    M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/**
 * Bias correction references, written densely (one design row per voxel or per neighbour pair):
 * 'plain': least squares of log v over the mask by the polynomial; 'difference': one Tukey-weighted least-
 * squares solve of f(x') − f(x) = log v(x') − log v(x) over neighbouring mask voxels, from f = 0.
 * Both then divide by exp(f) normalised to unit mean over the mask, f clamped to its range there.
 */
function biasRef(
  v: Float32Array,
  [nx, ny, nz]: number[],
  thr: number,
  degree: number,
  degreeZ: number,
  method: 'plain' | 'difference',
): Float64Array {
  const terms = biasMonomials(degree, degreeZ);
  const co = (i: number, n: number) => (n > 1 ? (2 * i - (n - 1)) / (n - 1) : 0);
  const phi = (i: number) => {
    const x = co(i % nx, nx),
      y = co(Math.floor(i / nx) % ny, ny),
      z = co(Math.floor(i / (nx * ny)), nz);
    return terms.map(([a, b, c]) => x ** a * y ** b * z ** c);
  };
  const inMask = (i: number) => v[i] > thr && v[i] > 0;
  const logv = (i: number) => Math.fround(Math.log(v[i]));
  // design rows (without the constant term, which the normalisation fixes) and targets
  const rows: { r: number[]; t: number }[] = [];
  if (method === 'plain') {
    for (let i = 0; i < v.length; i++) if (inMask(i)) rows.push({ r: phi(i), t: logv(i) });
  } else {
    const steps: [number, number][] = [
      [1, nx],
      [nx, ny],
      ...(nz > 1 && degreeZ > 0 ? [[nx * ny, nz] as [number, number]] : []),
    ];
    for (let i = 0; i < v.length; i++) {
      const pos = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
      steps.forEach(([step, n], axis) => {
        if (pos[axis] + 1 >= n || !inMask(i) || !inMask(i + step)) return;
        const p0 = phi(i),
          p1 = phi(i + step);
        rows.push({ r: p1.map((p, j) => p - p0[j]), t: logv(i + step) - logv(i) });
      });
    }
  }
  let w = rows.map(() => 1);
  if (method === 'difference') {
    const abs = rows.map((r) => Math.fround(Math.abs(r.t))).sort((a, b) => a - b);
    const cut = 4.685 * 1.4826 * abs[(abs.length - 1) >> 1];
    w = rows.map((r) => (Math.abs(r.t) < cut ? (1 - (r.t / cut) ** 2) ** 2 : 0));
  }
  const first = method === 'plain' ? 0 : 1; // the plain fit keeps the constant as an unknown
  const T = terms.length - first;
  const G = Array.from({ length: T }, () => new Array<number>(T).fill(0)),
    rhs = new Array<number>(T).fill(0);
  rows.forEach(({ r, t }, k) => {
    for (let j = 0; j < T; j++) {
      rhs[j] += w[k] * r[j + first] * t;
      for (let l = 0; l < T; l++) G[j][l] += w[k] * r[j + first] * r[l + first];
    }
  });
  const sol = solveRef(G, rhs);
  const f = (i: number) => phi(i).reduce((s, pj, j) => (j === 0 ? s : s + sol[j - first] * pj), 0);
  let fmin = Infinity,
    fmax = -Infinity,
    sum = 0,
    cnt = 0;
  for (let i = 0; i < v.length; i++) {
    if (!inMask(i)) continue;
    const fi = f(i);
    fmin = Math.min(fmin, fi);
    fmax = Math.max(fmax, fi);
    sum += Math.exp(fi);
    cnt++;
  }
  const logMean = Math.log(sum / cnt);
  return Float64Array.from(v, (vi, i) => vi / Math.exp(Math.min(Math.max(f(i), fmin), fmax) - logMean));
}

/** A piecewise-constant phantom: background 0, an ellipse of 100 holding a disc of 220 and a box of 160. */
function phantom(nx: number, ny: number, nz: number): { img: Float32Array; region: Int8Array } {
  const img = new Float32Array(nx * ny * nz),
    region = new Int8Array(nx * ny * nz).fill(-1);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const u = (2 * x) / (nx - 1) - 1,
          v = (2 * y) / (ny - 1) - 1,
          i = x + nx * (y + ny * z);
        let r = -1;
        if ((u * u) / 0.9 + (v * v) / 0.8 < 1) r = 0;
        if ((u + 0.3) ** 2 + (v - 0.2) ** 2 < 0.12 + 0.01 * z) r = 1;
        if (Math.abs(u - 0.4) < 0.25 && Math.abs(v + 0.3) < 0.2) r = 2;
        region[i] = r;
        img[i] = r < 0 ? 0 : [100, 220, 160][r];
      }
    }
  }
  return { img, region };
}

/** Mean over the regions (of each slice of `per` voxels, if given) of the coefficient of variation std/mean. */
function meanRegionCV(img: ArrayLike<number>, region: Int8Array, R: number, per = img.length): number {
  let cv = 0,
    parts = 0;
  for (let o = 0; o < img.length; o += per) {
    for (let r = 0; r < R; r++) {
      let n = 0,
        s = 0,
        s2 = 0;
      for (let i = o; i < o + per; i++)
        if (region[i] === r) {
          n++;
          s += img[i];
          s2 += img[i] * img[i];
        }
      if (n < 2) continue;
      const mean = s / n;
      cv += Math.sqrt(Math.max(0, s2 / n - mean * mean)) / mean;
      parts++;
    }
  }
  return cv / parts;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);

// ---- cases --------------------------------------------------------------------------------------------

/** Brute-force HD95 reference: surface voxels (6-neighbourhood, volume border counts as outside), all pairs. */
function hd95Ref(a: ArrayLike<number>, b: ArrayLike<number>, dims: number[], sp: number[], k: number): number {
  const [nx, ny, nz] = dims;
  const surface = (v: ArrayLike<number>) => {
    const pts: number[][] = [];
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const at = (xx: number, yy: number, zz: number) =>
            xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz ? -1 : v[xx + nx * (yy + ny * zz)];
          if (at(x, y, z) !== k) continue;
          if (
            [
              [1, 0, 0],
              [-1, 0, 0],
              [0, 1, 0],
              [0, -1, 0],
              [0, 0, 1],
              [0, 0, -1],
            ].some(([dx, dy, dz]) => at(x + dx, y + dy, z + dz) !== k)
          )
            pts.push([x * sp[0], y * sp[1], z * sp[2]]);
        }
    return pts;
  };
  const A = surface(a),
    B = surface(b);
  if (!A.length || !B.length) return NaN;
  const near = (P: number[][], Q: number[][]) =>
    P.map((p) => Math.sqrt(Math.min(...Q.map((q) => (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2))));
  const d = [...near(A, B), ...near(B, A)].sort((x, y) => x - y);
  const pos = 0.95 * (d.length - 1),
    lo = Math.floor(pos);
  return lo + 1 < d.length ? d[lo] + (d[lo + 1] - d[lo]) * (pos - lo) : d[lo];
}

export const preprocessCases: TestCase[] = [
  {
    name: 'wasm preprocessing: percentiles and p1/p99 normalisation match the TypeScript reference',
    async run() {
      const m = await preprocessModule();
      assert(typeof m.percentile === 'function', 'the module exports percentile');
      const rng = new Rng(5);
      const base = Math.ceil(m.heapBase() / 16) * 16 + 64;
      for (const n of [1, 2, 7, 1000, 40_000]) {
        // a skewed distribution with ties, like MR intensities
        const a = new Float32Array(n).map(() => Math.floor(Math.exp(3 * rng.next()) * 100) / 10);
        if (n > 1) a[n - 1] = 1e4; // an outlier the percentiles must ignore
        for (const q of [0, 1, 37.5, 99, 100]) {
          m.ensureMemory(base + 8 * n + 16);
          new Float32Array(m.memory.buffer, base, n).set(a);
          const got = m.percentile(base, base + 4 * n, n, q),
            want = percentileRef(a, q);
          assert(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `n=${n} q=${q}: ${got} vs ${want}`);
        }
        if (n < 7) continue;
        const { out, p1, p99 } = await normalizePercentiles(a);
        const r1 = percentileRef(a, 1),
          r99 = percentileRef(a, 99);
        assertClose(
          `normalised n=${n}`,
          out,
          Array.from(a, (v) => (v - r1) / (r99 - r1)),
          1e-6,
        );
        assert(p1 === r1 && p99 === r99, `n=${n}: percentiles ${p1}, ${p99} vs ${r1}, ${r99}`);
        if (n >= 1000) assert(Math.max(...out) > 1.5, 'values above p99 are kept (no clipping)');
      }
    },
  },
  {
    name: 'wasm preprocessing: a constant volume is refused with a clear message',
    async run() {
      let msg = '';
      try {
        await normalizePercentiles(new Float32Array(100).fill(3));
      } catch (e) {
        msg = (e as Error).message;
      }
      assert(/constant/.test(msg), `expected a 'constant volume' error, got '${msg}'`);
    },
  },
  {
    name: 'wasm preprocessing: resampled sizes round half to even (numpy / skimage rescale)',
    async run() {
      assert(
        roundHalfEven(2.5) === 2 &&
          roundHalfEven(3.5) === 4 &&
          roundHalfEven(-2.5) === -2 &&
          roundHalfEven(2.4999) === 2 &&
          roundHalfEven(7) === 7,
        'round half to even',
      );
      assert(resampledSize(5, 1, 2) === 2 && resampledSize(7, 1, 2) === 4, 'n·s/t = 2.5 → 2, 3.5 → 4');
      assert(resampledSize(216, 1.5625, 1.36719) === Math.round(216 * (1.5625 / 1.36719)), 'ACDC-like size');
      assert(resampledSize(1, 0.1, 10) === 1, 'at least one pixel');
    },
  },
  {
    name: 'wasm preprocessing: in-plane resampling (bilinear, nearest) matches the TypeScript reference',
    async run() {
      const rng = new Rng(11);
      // [nx, ny, sx, sy, target]: down in x / up in y, both down, both up, a 1-pixel axis, ACDC-like
      for (const [nx, ny, sx, sy, t] of [
        [17, 23, 1.3, 0.9, 1.1],
        [32, 31, 0.7, 0.7, 1.36719],
        [9, 5, 2, 2, 0.8],
        [1, 7, 1, 1, 1.5],
        [40, 33, 1.5625, 1.5625, 1.36719],
      ]) {
        const img = Float32Array.from(rng.array(nx * ny, -2, 3));
        const lab = Float32Array.from({ length: nx * ny }, () => rng.int(4));
        const mx = resampledSize(nx, sx, t),
          my = resampledSize(ny, sy, t);
        const a = await resampleSlice(img, nx, ny, sx, sy, t, 'bilinear');
        assert(a.nx === mx && a.ny === my && a.nz === 1, `${nx}×${ny}: size ${a.nx}×${a.ny}, expected ${mx}×${my}`);
        assertClose(
          `bilinear ${nx}×${ny} → ${mx}×${my}`,
          a.data,
          resizeRef(img, nx, ny, mx, my, 1, 1, t / sx, t / sy, 'bilinear'),
          1e-6,
        );
        const b = await resampleSlice(lab, nx, ny, sx, sy, t, 'nearest');
        assert(
          same(b.data, resizeRef(lab, nx, ny, mx, my, 1, 1, t / sx, t / sy, 'nearest')),
          `nearest ${nx}×${ny} → ${mx}×${my}: labels differ`,
        );
      }
      // several channels and stacked slices, default ratio (sizes), odd sizes both ways
      for (const [nx, ny, mx, my, C, nz] of [
        [13, 8, 7, 19, 3, 2],
        [6, 6, 11, 5, 2, 3],
      ]) {
        const src = Float32Array.from(rng.array(nx * ny * C * nz, 0.1, 1));
        const got = await resizeSlices(src, nx, ny, mx, my, 'bilinear', { channels: C, nz });
        assertClose(
          `resize C=${C} nz=${nz}`,
          got.data,
          resizeRef(src, nx, ny, mx, my, C, nz, nx / mx, ny / my, 'bilinear'),
          1e-6,
        );
        const near = await resizeSlices(src, nx, ny, mx, my, 'nearest', { channels: C, nz });
        assert(
          same(near.data, resizeRef(src, nx, ny, mx, my, C, nz, nx / mx, ny / my, 'nearest')),
          `nearest C=${C} nz=${nz} differs`,
        );
      }
    },
  },
  {
    name: 'wasm preprocessing: resampling keeps pixel centres aligned (a linear ramp is reproduced, labels keep their values)',
    async run() {
      // I(x, y) = 2 + 0.5·x_mm − 0.25·y_mm sampled at pixel centres; bilinear resampling must give the ramp at
      // the new centres (x + 0.5)·t wherever no edge clamping happens.
      const nx = 30,
        ny = 22,
        sx = 1.2,
        sy = 0.8,
        t = 1.0;
      const ramp = (xm: number, ym: number) => 2 + 0.5 * xm - 0.25 * ym;
      const img = Float32Array.from({ length: nx * ny }, (_, i) =>
        ramp(((i % nx) + 0.5) * sx, (Math.floor(i / nx) + 0.5) * sy),
      );
      const r = await resampleSlice(img, nx, ny, sx, sy, t, 'bilinear');
      let worst = 0;
      for (let Y = 0; Y < r.ny; Y++) {
        for (let X = 0; X < r.nx; X++) {
          const xm = (X + 0.5) * t,
            ym = (Y + 0.5) * t;
          if (xm < 0.5 * sx || xm > (nx - 0.5) * sx || ym < 0.5 * sy || ym > (ny - 0.5) * sy) continue; // clamped border
          worst = Math.max(worst, Math.abs(r.data[X + r.nx * Y] - ramp(xm, ym)));
        }
      }
      assert(worst < 1e-5, `ramp off by ${worst}`);
      const lab = Float32Array.from({ length: nx * ny }, (_, i) => [0, 3, 7][(i * 7) % 3]);
      const n = await resampleSlice(lab, nx, ny, sx, sy, 0.37, 'nearest');
      assert(
        n.data.every((v) => v === 0 || v === 3 || v === 7),
        'nearest produces only source labels',
      );
    },
  },
  {
    name: "wasm preprocessing: centre crop / zero pad and its inverse match the paper's crop_or_pad",
    async run() {
      const rng = new Rng(21);
      // crop both axes (even and odd differences), pad both, crop one / pad the other, identity
      for (const [nx, ny, mx, my, C] of [
        [20, 17, 12, 12, 1],
        [7, 8, 12, 11, 1],
        [15, 6, 10, 9, 2],
        [5, 13, 8, 4, 3],
        [9, 9, 9, 9, 1],
      ]) {
        const src = Float32Array.from(rng.array(nx * ny * C, -1, 1, 0.01));
        const got = await cropOrPad(src, nx, ny, mx, my, { channels: C });
        assert(same(got, cropOrPadRef(src, nx, ny, mx, my, C)), `crop/pad ${nx}×${ny} → ${mx}×${my} C=${C} differs`);
        // the inverse for predictions: back onto the original canvas, zero where the crop dropped pixels
        const back = await uncropProbabilities(got, mx, my, C, nx, ny);
        assert(same(back, cropOrPadRef(got, mx, my, nx, ny, C)), `uncrop ${mx}×${my} → ${nx}×${ny} differs`);
        for (let i = 0; i < nx * ny; i++) {
          const x = i % nx,
            y = Math.floor(i / nx);
          const kept =
            x - cropShift(nx, mx) >= 0 &&
            x - cropShift(nx, mx) < mx &&
            y - cropShift(ny, my) >= 0 &&
            y - cropShift(ny, my) < my;
          for (let c = 0; c < C; c++) {
            const want = kept ? src[i * C + c] : 0;
            assert(
              back[i * C + c] === want,
              `round trip ${nx}×${ny} via ${mx}×${my}: pixel ${x},${y} is ${back[i * C + c]}, expected ${want}`,
            );
          }
        }
      }
      // stacked slices
      const s = Float32Array.from(rng.array(11 * 6 * 3, -1, 1, 0.01));
      const st = await cropOrPad(s, 11, 6, 8, 9, { nz: 3 });
      for (let z = 0; z < 3; z++) {
        assert(
          same(st.subarray(z * 72, (z + 1) * 72), cropOrPadRef(s.subarray(z * 66, (z + 1) * 66), 11, 6, 8, 9)),
          `stacked slice ${z} differs`,
        );
      }
    },
  },
  {
    name: 'wasm preprocessing: probabilities resized bilinearly then argmax match the TypeScript reference exactly',
    async run() {
      const rng = new Rng(31);
      for (const [cx, cy, K, nx, ny] of [
        [12, 10, 4, 17, 13],
        [20, 21, 3, 9, 14],
        [7, 7, 8, 7, 7],
        [16, 5, 2, 31, 3],
      ]) {
        // softmax-like probabilities
        const p = new Float32Array(cx * cy * K);
        for (let i = 0; i < cx * cy; i++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += p[i * K + k] = Math.exp(3 * rng.normal());
          for (let k = 0; k < K; k++) p[i * K + k] /= s;
        }
        const want = resizeArgmaxRef(p, cx, cy, K, nx, ny, cx / nx, cy / ny);
        const got = await resizeProbabilitiesArgmax(p, cx, cy, K, nx, ny);
        assert(same(got, want), `${cx}×${cy}×${K} → ${nx}×${ny}: labels differ`);
        const gotF = await resizeProbabilitiesArgmax(p, cx, cy, K, nx, ny, { out: 'f32', ratio: [0.8, 1.3] });
        assert(
          gotF instanceof Float32Array && same(gotF, resizeArgmaxRef(p, cx, cy, K, nx, ny, 0.8, 1.3)),
          `${cx}×${cy}×${K}: f32 labels with a given ratio differ`,
        );
      }
      const zero = await resizeProbabilitiesArgmax(new Float32Array(5 * 4 * 3), 5, 4, 3, 6, 6);
      assert(
        zero.every((v) => v === 0),
        'all-zero probabilities give class 0 (background)',
      );
    },
  },
  {
    name: 'wasm preprocessing: network predictions back to native labels (uncrop, bilinear resize, argmax) per volume',
    async run() {
      const rng = new Rng(41);
      // a crop case (canvas larger than the network) and a pad case (smaller), odd sizes
      for (const [nx, ny, sx, sy, t, netX, netY, K, nz] of [
        [23, 19, 1.6, 1.4, 1.1, 24, 16, 4, 3],
        [15, 12, 0.9, 1.0, 1.3, 16, 16, 3, 2],
      ]) {
        const g = sliceGeometry(nx, ny, sx, sy, t, netX, netY);
        const [cx, cy] = g.canvas;
        const per = netX * netY * K;
        const probs = Float32Array.from(rng.array(per * nz, 0, 1));
        const want = new Uint8Array(nx * ny * nz);
        for (let z = 0; z < nz; z++) {
          const canvas = cropOrPadRef(probs.subarray(z * per, (z + 1) * per), netX, netY, cx, cy, K);
          want.set(resizeArgmaxRef(canvas, cx, cy, K, nx, ny, sx / t, sy / t), z * nx * ny);
        }
        const got = await probabilitiesToLabels(probs, g, K, nz);
        assert(same(got, want), `${nx}×${ny}×${nz} via ${cx}×${cy} / ${netX}×${netY}: labels differ`);
        const slices = Array.from({ length: nz }, (_, z) => probs.slice(z * per, (z + 1) * per));
        const gotF = await probabilitiesToLabels(slices, g, K, nz, 'f32');
        assert(gotF instanceof Float32Array && same(gotF, want), 'per-slice input with float32 labels differs');
        // the crop case drops canvas pixels: they must come back as background
        if (cx > netX) assert(got[0] === 0 && got[nx - 1] === 0, 'pixels outside the crop are background');
      }
      // the forward pipeline followed by the inverse recovers a label volume of large structures
      const nx = 40,
        ny = 36,
        nz = 2,
        g = sliceGeometry(nx, ny, 1.25, 1.25, 1.5, 32, 32),
        K = 3;
      const lab = Float32Array.from({ length: nx * ny * nz }, (_, i) => {
        const x = i % nx,
          y = Math.floor(i / nx) % ny;
        return (x - 20) ** 2 + (y - 18) ** 2 < 64 ? 1 : x > 27 && y < 12 ? 2 : 0;
      });
      const net = await prepareSlices(lab, g, nz, 'nearest');
      assert(net.length === 32 * 32 * nz, 'network-size slices');
      const onehot = new Float32Array(net.length * K);
      net.forEach((l, i) => {
        onehot[i * K + l] = 1;
      });
      const back = await probabilitiesToLabels(onehot, g, K, nz);
      const d = await dicePerClass(lab, back, K);
      assert(d[1] > 0.9 && d[2] > 0.85, `round-trip Dice ${Array.from(d).join(', ')}`);
    },
  },
  {
    name: 'wasm HD95: exact distance transform matches brute-force surface distances (anisotropic spacing), 0 for identical volumes, NaN when absent',
    async run() {
      const rng = new Rng(77);
      const grids: { dims: Vec3; sp: Vec3 }[] = [
        { dims: [9, 7, 5], sp: [1, 1, 1] },
        { dims: [14, 11, 6], sp: [1.4, 0.9, 5] },
        { dims: [20, 6, 3], sp: [0.7, 2.5, 8] },
      ];
      for (const { dims, sp } of grids) {
        const n = dims[0] * dims[1] * dims[2];
        // blobs: class 1 a box, class 2 random voxels inside the rest; the prediction perturbs both
        const truth = new Float32Array(n),
          pred = new Float32Array(n);
        for (let z = 0; z < dims[2]; z++)
          for (let y = 0; y < dims[1]; y++)
            for (let x = 0; x < dims[0]; x++) {
              const i = x + dims[0] * (y + dims[1] * z);
              truth[i] = x > 1 && x < dims[0] - 3 && y > 0 && y < dims[1] - 2 ? 1 : rng.next() < 0.2 ? 2 : 0;
              pred[i] = rng.next() < 0.15 ? rng.int(3) : truth[i];
            }
        const got = await hd95PerClass(pred, truth, dims, sp, 4);
        for (const k of [1, 2]) {
          const want = hd95Ref(pred, truth, dims, sp, k);
          assert(Math.abs(got[k] - want) < 1e-9, `dims ${dims} class ${k}: HD95 ${got[k]} vs brute force ${want}`);
        }
        assert(Number.isNaN(got[0]) && Number.isNaN(got[3]), 'background and an absent class are NaN');
        const self = await hd95PerClass(truth, truth, dims, sp, 3);
        assert(self[1] === 0 && self[2] === 0, `identical volumes: ${self[1]}, ${self[2]}`);
      }
    },
  },
  {
    name: 'wasm preprocessing: 3-D Dice per class matches the TypeScript reference (NaN for an absent class)',
    async run() {
      const rng = new Rng(51);
      for (const [n, K] of [
        [1, 2],
        [37, 3],
        [5000, 4],
        [20_001, 8],
      ]) {
        const a = Float32Array.from({ length: n }, () => rng.int(K - 1)); // class K−1 absent from both
        const b = Uint8Array.from(a, (v) => (rng.next() < 0.3 ? rng.int(K - 1) : v));
        const got = await dicePerClass(a, b, K),
          want = diceRef(a, b, K);
        assert(got.length === K, 'K values');
        for (let k = 0; k < K; k++) {
          assert(
            Object.is(got[k], want[k]) || Math.abs(got[k] - want[k]) < 1e-12,
            `n=${n} K=${K} class ${k}: ${got[k]} vs ${want[k]}`,
          );
        }
        assert(Number.isNaN(got[K - 1]), 'an absent class is NaN');
        const fg = want.slice(1).filter((v) => !Number.isNaN(v));
        const mf = meanForegroundDice(got);
        assert(
          fg.length ? Math.abs(mf - fg.reduce((s, v) => s + v, 0) / fg.length) < 1e-12 : Number.isNaN(mf),
          `mean foreground Dice ${mf}`,
        );
      }
      assert(
        (await dicePerClass([0, 1, 1, 2], [0, 1, 1, 2], 3)).every((v) => v === 1),
        'identical volumes: Dice 1',
      );
      assert(Number.isNaN(meanForegroundDice([1, NaN, NaN])), 'no foreground class: NaN');
      let msg = '';
      try {
        await dicePerClass([0, 1, 5], [0, 1, 1], 3);
      } catch (e) {
        msg = (e as Error).message;
      }
      assert(/not a class/.test(msg), `labels outside 0..K−1 are refused, got '${msg}'`);
      msg = '';
      try {
        await dicePerClass([0, 1.5], [0, 1], 3);
      } catch (e) {
        msg = (e as Error).message;
      }
      assert(/not a class/.test(msg), `non-integer labels are refused, got '${msg}'`);
    },
  },
  {
    name: 'wasm preprocessing: Otsu threshold matches the TypeScript reference',
    async run() {
      const rng = new Rng(61);
      for (const n of [50, 3001]) {
        const v = Float32Array.from({ length: n }, () =>
          rng.next() < 0.4 ? Math.abs(5 * rng.normal()) : 100 + 20 * rng.normal(),
        );
        if (n > 1000) v[0] = 1e5; // a hot voxel above p99.9
        const lo = percentileRef(v, 0),
          hi = percentileRef(v, 99.9),
          bins = 64;
        const h = new Array<number>(bins).fill(0);
        for (const x of v)
          h[x >= hi ? bins - 1 : Math.min(bins - 1, Math.max(0, Math.floor((x - lo) * (bins / (hi - lo)))))]++;
        const want = otsuFromHistogram(h, lo, hi),
          got = await otsuThreshold(v, bins);
        assert(Math.abs(got - want) <= 1e-9 * Math.abs(want), `n=${n}: ${got} vs ${want}`);
        assert(got > 20 && got < 80, `n=${n}: the threshold ${got} separates the two modes`);
      }
    },
  },
  {
    name: 'wasm preprocessing: bias field fits (plain least squares, one robust difference solve) match the TypeScript reference',
    async run(env) {
      const rng = new Rng(71);
      const errs: number[] = [];
      env.report.biasFieldReferenceErrors = errs;
      for (const [nx, ny, nz, degree, degreeZ] of [
        [13, 11, 4, 2, 1],
        [20, 9, 1, 3, 0],
        [10, 12, 5, 3, 2],
      ]) {
        // a smooth field times two tissues, some background and a few holes in the mask
        const v = Float32Array.from({ length: nx * ny * nz }, (_, i) => {
          if (rng.next() < 0.1) return 0;
          const x = (i % nx) / nx,
            y = (Math.floor(i / nx) % ny) / ny;
          return (x + y > 0.9 ? 150 : 80) * Math.exp(0.3 * x - 0.2 * y * y) * (1 + 0.02 * rng.normal());
        });
        const thr = 10;
        const plain = await correctBiasField(v, [nx, ny, nz], {
          threshold: thr,
          classes: 1,
          degree,
          degreeZ,
          returnField: true,
        });
        errs.push(
          assertClose(
            `plain ${nx}×${ny}×${nz} degree ${degree}/${degreeZ}`,
            plain.data,
            biasRef(v, [nx, ny, nz], thr, degree, degreeZ, 'plain'),
            1e-5,
          ),
        );
        assert(
          plain.iterations === 1 && plain.coefficients[0].length === biasMonomials(degree, degreeZ).length,
          'one fit, T coefficients',
        );
        const rebuilt = Float32Array.from(v, (x, i) => x / plain.field![i]);
        assertClose('field = in / out', rebuilt, plain.data, 1e-6);
        const diff = await correctBiasField(v, [nx, ny, nz], {
          threshold: thr,
          classes: 0,
          rounds: 1,
          degree,
          degreeZ,
        });
        assert(diff.iterations === 1, `one difference solve, got ${diff.iterations}`);
        errs.push(
          assertClose(
            `difference ${nx}×${ny}×${nz} degree ${degree}/${degreeZ}`,
            diff.data,
            biasRef(v, [nx, ny, nz], thr, degree, degreeZ, 'difference'),
            1e-5,
          ),
        );
        // and the correction is not the identity, so the comparison means something
        assert(relErr(diff.data, v) > 1e-2, 'the field is not trivial');
      }
    },
  },
  {
    name: 'wasm preprocessing: bias field correction removes a smooth field from a piecewise-constant phantom',
    async run(env) {
      const rng = new Rng(81);
      const nx = 48,
        ny = 44,
        nz = 8,
        R = 3;
      const { img, region } = phantom(nx, ny, nz);
      const noisy = img.map((v) => v * (1 + 0.005 * rng.normal()));
      // a smooth multiplicative polynomial field (not exp of a polynomial), 0.37..1.21 over the volume
      const trueField = new Float64Array(img.length);
      for (let i = 0; i < img.length; i++) {
        const x = (2 * (i % nx)) / (nx - 1) - 1,
          y = (2 * (Math.floor(i / nx) % ny)) / (ny - 1) - 1,
          z = (2 * Math.floor(i / (nx * ny))) / (nz - 1) - 1;
        trueField[i] = 1 + 0.25 * x - 0.15 * y + 0.1 * x * y - 0.12 * x * x + 0.05 * z + 0.04 * y * y * y;
      }
      const biased = noisy.map((v, i) => v * trueField[i]);
      const before = meanRegionCV(biased, region, R),
        noiseCV = meanRegionCV(noisy, region, R);
      const report: Record<string, unknown> = { cvBefore: before, cvNoise: noiseCV };
      env.report.biasField = report;
      const inside = region.filter((r) => r >= 0).length;
      for (const classes of [0, 3]) {
        const res = await correctBiasField(biased, [nx, ny, nz], { classes, returnField: true });
        const after = meanRegionCV(res.data, region, R);
        // the estimated field against the true one normalised to unit mean over the mask
        let s = 0,
          n = 0,
          err = 0;
        const mask = (i: number) => biased[i] > res.threshold;
        for (let i = 0; i < img.length; i++)
          if (mask(i)) {
            s += trueField[i];
            n++;
          }
        for (let i = 0; i < img.length; i++)
          if (mask(i)) err += Math.abs(res.field![i] / (trueField[i] / (s / n)) - 1) / n;
        report[`classes${classes}`] = {
          cvAfter: after,
          drop: before / after,
          solves: res.iterations,
          threshold: res.threshold,
          mask: res.maskCount,
          phantom: inside,
          meanFieldError: err,
        };
        assert(
          res.threshold > 0 && res.maskCount >= 0.9 * inside && res.maskCount <= inside,
          `the Otsu mask (${res.threshold}, ${res.maskCount} voxels) is most of the phantom (${inside})`,
        );
        assert(
          after * 4 <= before,
          `classes ${classes}: coefficient of variation ${before.toFixed(4)} → ${after.toFixed(4)}, less than a 4× drop`,
        );
        assert(err < 0.02, `classes ${classes}: the estimated field is off by ${(100 * err).toFixed(2)}% on average`);
      }
      // per-slice 2-D fits: each slice is normalised on its own, so compare within slices
      const ps = await correctBiasField(biased, [nx, ny, nz], { perSlice: true });
      const beforePS = meanRegionCV(biased, region, R, nx * ny),
        afterPS = meanRegionCV(ps.data, region, R, nx * ny);
      report.perSlice = { cvBefore: beforePS, cvAfter: afterPS };
      assert(afterPS * 4 <= beforePS, `per slice: ${beforePS.toFixed(4)} → ${afterPS.toFixed(4)}`);
      // a phantom without bias is (nearly) left as it is
      const id = await correctBiasField(noisy, [nx, ny, nz]);
      const e = relErr(id.data, noisy);
      report.identityRelChange = e;
      assert(e < 2e-3, `an unbiased phantom changes by ${e} (relative)`);
    },
  },
];
