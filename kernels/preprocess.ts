// Volume preprocessing in AssemblyScript, compiled by asconfig.json to one .wasm that Node, Deno and
// browsers load the same way (raw bindings, no imports). The host owns the memory layout: it places
// float32 arrays at byte offsets it chooses (growing memory as needed) and passes those offsets here.

/** Grow linear memory so that `bytes` bytes are addressable; returns the memory size in bytes. */
export function ensureMemory(bytes: usize): usize {
  const have = <usize>memory.size() << 16;
  if (bytes > have) memory.grow(<i32>((bytes - have + 0xffff) >> 16));
  return <usize>memory.size() << 16;
}

function swap(p: usize, i: i32, j: i32): void {
  const a = load<f32>(p + (<usize>i << 2));
  store<f32>(p + (<usize>i << 2), load<f32>(p + (<usize>j << 2)));
  store<f32>(p + (<usize>j << 2), a);
}

/** Rearrange p[lo..hi] so that p[k] holds the value a full sort would put there (Hoare quickselect). */
function select(p: usize, lo: i32, hi: i32, k: i32): void {
  while (hi > lo) {
    const pivot = load<f32>(p + (<usize>((lo + hi) >>> 1) << 2));
    let i = lo, j = hi;
    while (i <= j) {
      while (load<f32>(p + (<usize>i << 2)) < pivot) i++;
      while (load<f32>(p + (<usize>j << 2)) > pivot) j--;
      if (i <= j) { swap(p, i, j); i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The q-th percentile (0..100) of n float32 values at `src`, linearly interpolated between the two nearest
 * ranks (numpy's default). `scratch` must hold n floats; `src` is not modified.
 */
export function percentile(src: usize, scratch: usize, n: i32, q: f64): f64 {
  if (n <= 0) return NaN;
  memory.copy(scratch, src, <usize>n << 2);
  const pos = (q / 100.0) * <f64>(n - 1);
  const k = <i32>Math.floor(pos);
  select(scratch, 0, n - 1, k);
  const lower = <f64>load<f32>(scratch + (<usize>k << 2));
  if (k + 1 >= n) return lower;
  // the next rank is the minimum of the part above k
  let upper = Infinity;
  for (let i = k + 1; i < n; i++) upper = Math.min(upper, <f64>load<f32>(scratch + (<usize>i << 2)));
  return lower + (upper - lower) * (pos - <f64>k);
}

/** In place: x = (x - lo) / (hi - lo) for n float32 values at `ptr` (no clipping, as the paper). */
export function normalizeRange(ptr: usize, n: i32, lo: f32, hi: f32): void {
  const scale: f32 = <f32>1.0 / (hi - lo);
  const vlo = f32x4.splat(lo), vs = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = ptr + (<usize>i << 2);
    v128.store(a, f32x4.mul(f32x4.sub(v128.load(a), vlo), vs));
  }
  for (; i < n; i++) {
    const a = ptr + (<usize>i << 2);
    store<f32>(a, (load<f32>(a) - lo) * scale);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Memory convention for everything below. The host places its arrays at or above `heapBase()` (the end of
// this module's static data: Math.log/exp use lookup tables that live below it) and passes byte offsets.
// Nothing here allocates. Layouts:
//   slice         row-major, x fastest: index = x + nx·y (the Volume type's i-fastest order), float32
//   C channels    channel-last: index = (x + nx·y)·C + c (the network's NHWC output), float32
//   slice stacks  nz slices one after another (index + nx·ny·C·z), i.e. slices along the volume's k axis
// ---------------------------------------------------------------------------------------------------------

/** The first byte the host may use: everything below holds this module's static data. */
export function heapBase(): usize {
  return __heap_base;
}

@inline function ldf(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function stf(p: usize, i: i32, v: f32): void { store<f32>(p + (<usize>i << 2), v); }
@inline function ldd(p: usize, i: i32): f64 { return load<f64>(p + (<usize>i << 3)); }
@inline function std(p: usize, i: i32, v: f64): void { store<f64>(p + (<usize>i << 3), v); }

/**
 * Sampling convention shared by the resizing kernels (pixel centres aligned, edges clamped): destination
 * pixel X samples the source at u = (X + 0.5)·r − 0.5, r = source pixels per destination pixel (t/s for a
 * resampling from spacing s to spacing t). Bilinear: u is clamped to [0, n − 1], so the border is replicated
 * (skimage's mode 'edge'; the paper's mode 'constant' would blend with 0 in the outer half pixel when
 * upsampling). Nearest: the source pixel whose area contains the destination centre, floor((X + 0.5)·r),
 * clamped to n − 1 (a centre exactly on a pixel boundary goes to the higher pixel).
 * Returns the clamped u; bilinear then blends pixels floor(u) and min(floor(u) + 1, n − 1) with weight
 * u − floor(u) on the second.
 */
@inline function srcCoord(X: i32, r: f64, n: i32): f64 {
  let u = (<f64>X + 0.5) * r - 0.5;
  if (u < 0) u = 0;
  const top = <f64>(n - 1);
  if (u > top) u = top;
  return u;
}

@inline function nearestIndex(X: i32, r: f64, n: i32): i32 {
  const i = <i32>Math.floor((<f64>X + 0.5) * r);
  return i < n - 1 ? (i < 0 ? 0 : i) : n - 1;
}

/**
 * Resize nz stacked slices of nx × ny pixels with C channels (channel-last) to mx × my, sampling as
 * described at `srcCoord` with rx, ry source pixels per destination pixel. mode 0: bilinear (computed in
 * float64, rounded once to float32), mode 1: nearest (values copied exactly; use for labels).
 */
export function resize(src: usize, nx: i32, ny: i32, dst: usize, mx: i32, my: i32, C: i32, nz: i32, rx: f64, ry: f64, mode: i32): void {
  const srcSlice = nx * ny * C, dstSlice = mx * my * C;
  for (let z = 0; z < nz; z++) {
    const s = src + (<usize>(z * srcSlice) << 2), d = dst + (<usize>(z * dstSlice) << 2);
    for (let Y = 0; Y < my; Y++) {
      if (mode == 1) {
        const y = nearestIndex(Y, ry, ny);
        for (let X = 0; X < mx; X++) {
          const x = nearestIndex(X, rx, nx);
          const si = (x + nx * y) * C, di = (X + mx * Y) * C;
          for (let c = 0; c < C; c++) stf(d, di + c, ldf(s, si + c));
        }
        continue;
      }
      const v = srcCoord(Y, ry, ny);
      const y0 = <i32>v, y1 = y0 + 1 < ny ? y0 + 1 : y0;
      const fy = v - <f64>y0;
      for (let X = 0; X < mx; X++) {
        const u = srcCoord(X, rx, nx);
        const x0 = <i32>u, x1 = x0 + 1 < nx ? x0 + 1 : x0;
        const fx = u - <f64>x0;
        const i00 = (x0 + nx * y0) * C, i10 = (x1 + nx * y0) * C, i01 = (x0 + nx * y1) * C, i11 = (x1 + nx * y1) * C;
        const di = (X + mx * Y) * C;
        for (let c = 0; c < C; c++) {
          const top = <f64>ldf(s, i00 + c) * (1 - fx) + <f64>ldf(s, i10 + c) * fx;
          const bot = <f64>ldf(s, i01 + c) * (1 - fx) + <f64>ldf(s, i11 + c) * fx;
          stf(d, di + c, <f32>(top * (1 - fy) + bot * fy));
        }
      }
    }
  }
}

/**
 * Shifted copy of nz stacked slices (C channels, channel-last) from nx × ny to mx × my:
 * dst[X, Y] = src[X + dx, Y + dy] where that lies inside the source, else 0. This is the centre crop / zero
 * pad (and, with the opposite shifts, its inverse); the host computes the shifts (see cropShift there).
 */
export function shiftCopy(src: usize, nx: i32, ny: i32, dst: usize, mx: i32, my: i32, C: i32, nz: i32, dx: i32, dy: i32): void {
  // the destination columns [X0, X1) that have a source
  let X0 = -dx, X1 = nx - dx;
  if (X0 < 0) X0 = 0;
  if (X1 > mx) X1 = mx;
  const rowBytes = <usize>(mx * C) << 2;
  for (let z = 0; z < nz; z++) {
    const s = src + (<usize>(z * nx * ny * C) << 2), d = dst + (<usize>(z * mx * my * C) << 2);
    for (let Y = 0; Y < my; Y++) {
      const drow = d + <usize>Y * rowBytes;
      const y = Y + dy;
      if (y < 0 || y >= ny || X1 <= X0) { memory.fill(drow, 0, rowBytes); continue; }
      if (X0 > 0) memory.fill(drow, 0, <usize>(X0 * C) << 2);
      memory.copy(drow + (<usize>(X0 * C) << 2), s + (<usize>(((X0 + dx) + nx * y) * C) << 2), <usize>((X1 - X0) * C) << 2);
      if (X1 < mx) memory.fill(drow + (<usize>(X1 * C) << 2), 0, <usize>((mx - X1) * C) << 2);
    }
  }
}

/**
 * Bilinear resize of a K-channel (channel-last) probability map from cx × cy to nx × ny (sampling as at
 * `srcCoord`, r = source pixels per destination pixel), then argmax over the K channels per pixel; ties go
 * to the lowest class, so an all-zero pixel becomes class 0 (background). Labels are written as u8
 * (outU8 = 1) or float32 (outU8 = 0), row-major x fastest.
 */
export function resizeArgmax(src: usize, cx: i32, cy: i32, K: i32, dst: usize, nx: i32, ny: i32, rx: f64, ry: f64, outU8: i32): void {
  for (let Y = 0; Y < ny; Y++) {
    const v = srcCoord(Y, ry, cy);
    const y0 = <i32>v, y1 = y0 + 1 < cy ? y0 + 1 : y0;
    const fy = v - <f64>y0;
    for (let X = 0; X < nx; X++) {
      const u = srcCoord(X, rx, cx);
      const x0 = <i32>u, x1 = x0 + 1 < cx ? x0 + 1 : x0;
      const fx = u - <f64>x0;
      const i00 = (x0 + cx * y0) * K, i10 = (x1 + cx * y0) * K, i01 = (x0 + cx * y1) * K, i11 = (x1 + cx * y1) * K;
      let best = 0, bestV = -Infinity;
      for (let k = 0; k < K; k++) {
        const top = <f64>ldf(src, i00 + k) * (1 - fx) + <f64>ldf(src, i10 + k) * fx;
        const bot = <f64>ldf(src, i01 + k) * (1 - fx) + <f64>ldf(src, i11 + k) * fx;
        const p = top * (1 - fy) + bot * fy;
        if (p > bestV) { bestV = p; best = k; }
      }
      const o = X + nx * Y;
      if (outU8) store<u8>(dst + <usize>o, <u8>best);
      else stf(dst, o, <f32>best);
    }
  }
}

/**
 * Label counts for Dice between two label volumes a and b of n float32 values: writes 3·K u32 at `out`:
 * |A_k| (k < K), |B_k|, |A_k ∩ B_k|. A value that is not an integer in [0, K) counts in no class; returns
 * the number of voxels where a or b holds such a value (the host refuses those inputs).
 */
export function labelCounts(a: usize, b: usize, n: i32, K: i32, out: usize): i32 {
  memory.fill(out, 0, <usize>(3 * K) << 2);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const va = ldf(a, i), vb = ldf(b, i);
    // range test first, so the conversions below never see NaN or values outside i32
    const inA = va >= 0 && va < <f32>K, inB = vb >= 0 && vb < <f32>K;
    const la = inA ? <i32>va : -1, lb = inB ? <i32>vb : -1;
    const okA = inA && <f32>la == va;
    const okB = inB && <f32>lb == vb;
    if (!okA || !okB) bad++;
    if (okA) { const p = out + (<usize>la << 2); store<u32>(p, load<u32>(p) + 1); }
    if (okB) { const p = out + (<usize>(K + lb) << 2); store<u32>(p, load<u32>(p) + 1); }
    if (okA && okB && la == lb) { const p = out + (<usize>(2 * K + la) << 2); store<u32>(p, load<u32>(p) + 1); }
  }
  return bad;
}

/**
 * Histogram of n float32 values into `bins` u32 counters at `hist` over [lo, hi]: bin = floor((v − lo)·bins /
 * (hi − lo)), values below lo go to bin 0 and values at or above hi to the last bin; NaN is skipped.
 */
export function histogram(src: usize, n: i32, lo: f64, hi: f64, bins: i32, hist: usize): void {
  memory.fill(hist, 0, <usize>bins << 2);
  const scale = <f64>bins / (hi - lo);
  for (let i = 0; i < n; i++) {
    const v = <f64>ldf(src, i);
    if (v != v) continue;
    let b = bins - 1;
    if (v < hi) {
      const f = Math.floor((v - lo) * scale);
      b = f < 0 ? 0 : (f >= <f64>bins ? bins - 1 : <i32>f);
    }
    const p = hist + (<usize>b << 2);
    store<u32>(p, load<u32>(p) + 1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bias-field correction (a simple stand-in for N4, documented in src/data/preprocess.ts).
// Model on the mask M = {v > thr, v > 0}: log v(x) = a(x) + f(x) + noise, a the anatomy, f a polynomial of
// total degree ≤ d (power of z ≤ dz) in coordinates scaled to [−1, 1] per axis, without constant term.
// Three estimators of f, by `classes`:
//   0   the difference fit: robust least squares of f(x') − f(x) = log v(x') − log v(x) over neighbouring
//       mask voxels (a piecewise-smooth anatomy only contributes outliers at its edges);
//   1   plain least squares of log v = μ + f over the mask (the anatomy leaks into f; a reference method);
//   ≥ 2 the difference fit, then a piecewise-constant anatomy a = μ_c(x) with C classes: classes from a
//       1-D k-means of log v − f, then repeat { least-squares fit of (f, μ) for the fixed classes;
//       reassign each voxel to the nearest μ_c of log v − f } until no voxel changes class or maxIter fits.
// The normal equations use sums accumulated per image row, so a voxel costs a few multiply-adds; the small
// systems are solved by Cholesky (float64, tiny ridge).
// ---------------------------------------------------------------------------------------------------------

// The fit's state, set by biasLayout / correctBiasField for the kernels below (module globals: AssemblyScript
// has no closures, and the helpers run in the innermost loops).
let volNx = 0, volNy = 0, volNz = 0; // the volume (or slab) being corrected
let fitDegree = 0, fitDegreeZ = 0, nClasses = 0; // total degree d, degree in z, anatomy classes C
let nTerms = 0, nUnknowns = 0; // polynomial terms T (constant included); unknowns T − 1 + C of the class fit
let powSpan = 0, cubeSize = 0; // 2d + 1 powers per axis; powSpan³ entries of a (p, q, r) moment cube
let logVox: usize = 0, classOf: usize = 0; // per voxel: log v (f32), class (u8, 255 outside the mask)
// Workspace offsets (float64 arrays unless noted):
let momentsM: usize = 0, momentsB: usize = 0; // Σ X^p Y^q Z^r and Σ X^p Y^q Z^r log v over the mask (cubes)
let fieldW: usize = 0; // the field's coefficients, a cube indexed idx3(p, q, r)
let classMoments: usize = 0, classCount: usize = 0, classLogSum: usize = 0; // per class: cube, |M_c|, Σ log v
let classMean: usize = 0, classActive: usize = 0; // per class: μ_c, and 1 while it has voxels
let rowPowSums: usize = 0, rowLogSums: usize = 0; // per image row: Σ w X^p, Σ w X^p · (log v or its difference)
let rowClassPowSums: usize = 0, rowClassLogSums: usize = 0; // per image row and class: Σ X^p, Σ log v
let rowPoly: usize = 0, rowPoly2: usize = 0; // the field along a row as a polynomial in X (rowPolynomial)
let rowDiffSums: usize = 0; // per row, along x: Σ w g_a g_b (a D × D matrix)
let powDiff: usize = 0; // differences of powers between the two voxels of a pair
let powY: usize = 0, powZ: usize = 0; // powers of the row's Y and Z
let normalA: usize = 0, normalRhs: usize = 0, solution: usize = 0; // the normal equations (U × U, U, U)
let exponents: usize = 0; // per term j: its powers (a, b, c) of X, Y, Z as 3 i32
let residualSample: usize = 0; // f32 |residuals| for the robust scale
let layoutEnd: usize = 0;

/** Residuals sampled (evenly over the pairs) for the robust scale of the difference fit. */
const SAMPLES = 1 << 18;

/** The next `bytes` of the workspace being laid out (biasLayout). */
function take(bytes: usize): usize {
  const at = layoutEnd;
  layoutEnd += bytes;
  return at;
}

@inline function f64s(n: i32): usize { return take(<usize>n << 3); }

function biasLayout(work: usize, d: i32, dz: i32, C: i32): void {
  fitDegree = d; fitDegreeZ = dz; nClasses = C;
  powSpan = 2 * d + 1;
  cubeSize = powSpan * powSpan * powSpan;
  let T = 0;
  for (let c = 0; c <= dz; c++) for (let b = 0; b <= d - c; b++) for (let a = 0; a <= d - b - c; a++) T++;
  nTerms = T;
  nUnknowns = T - 1 + C;
  layoutEnd = (work + 7) & ~(<usize>7);
  momentsM = f64s(cubeSize);
  momentsB = f64s(cubeSize);
  fieldW = f64s(cubeSize);
  classMoments = f64s(C * cubeSize);
  classCount = f64s(C);
  classLogSum = f64s(C);
  classMean = f64s(C);
  classActive = f64s(C);
  rowPowSums = f64s(powSpan);
  rowLogSums = f64s(powSpan);
  rowClassPowSums = f64s(C * powSpan);
  rowClassLogSums = f64s(C);
  rowPoly = f64s(powSpan);
  rowPoly2 = f64s(powSpan);
  rowDiffSums = f64s(powSpan * powSpan);
  powDiff = f64s(powSpan);
  powY = f64s(powSpan);
  powZ = f64s(powSpan);
  normalA = f64s(nUnknowns * nUnknowns);
  normalRhs = f64s(nUnknowns);
  solution = f64s(nUnknowns);
  exponents = take(<usize>(3 * T) << 2);
  residualSample = take(<usize>SAMPLES << 2);
}

/** Bytes of workspace `correctBiasField` needs for these settings (beyond its per-voxel buffers). */
export function biasWorkBytes(degree: i32, degreeZ: i32, classes: i32): usize {
  biasLayout(0, degree, degreeZ, classes);
  return layoutEnd + 8;
}

/** Number of polynomial terms (the constant included) for these settings. */
export function biasTerms(degree: i32, degreeZ: i32): i32 {
  biasLayout(0, degree, degreeZ, 1);
  return nTerms;
}

@inline function idx3(p: i32, q: i32, r: i32): i32 { return p + powSpan * (q + powSpan * r); }
@inline function coord(i: i32, n: i32): f64 { return n > 1 ? (<f64>(2 * i - (n - 1))) / <f64>(n - 1) : 0; }
@inline function expA(j: i32): i32 { return load<i32>(exponents + (<usize>(3 * j) << 2)); }
@inline function expB(j: i32): i32 { return load<i32>(exponents + (<usize>(3 * j + 1) << 2)); }
@inline function expC(j: i32): i32 { return load<i32>(exponents + (<usize>(3 * j + 2) << 2)); }

function zeroF64(p: usize, n: i32): void { memory.fill(p, 0, <usize>n << 3); }

function powers(p: usize, x: f64, m: i32): void {
  let v = 1.0;
  for (let i = 0; i <= m; i++) { std(p, i, v); v *= x; }
}

/** row[p] = Σ_{q,r} W[p,q,r]·Y^q·Z^r: the field along the row as a polynomial in X (default rowPoly). */
function rowPolynomial(Y: f64, Z: f64, row: usize = 0): void {
  if (row == 0) row = rowPoly;
  powers(powY, Y, fitDegree);
  powers(powZ, Z, fitDegreeZ);
  for (let p = 0; p <= fitDegree; p++) {
    let s = 0.0;
    for (let r = 0; r <= fitDegreeZ && p + r <= fitDegree; r++) {
      for (let q = 0; p + q + r <= fitDegree; q++) s += ldd(fieldW, idx3(p, q, r)) * ldd(powY, q) * ldd(powZ, r);
    }
    std(row, p, s);
  }
}

@inline function horner(X: f64, row: usize = 0): f64 {
  if (row == 0) row = rowPoly;
  let f = ldd(row, fitDegree);
  for (let p = fitDegree - 1; p >= 0; p--) f = f * X + ldd(row, p);
  return f;
}

// ---- the difference fit: f from log-intensity differences of neighbouring mask voxels ----------------------
// For neighbours i, i' (along x, y or z, both in the mask) log v_i' − log v_i = f(x_i') − f(x_i) inside a
// tissue (exactly, for a piecewise-constant image times exp f); pairs across a tissue edge are outliers
// that the Tukey biweight removes (robust scale 1.4826·median |residual| over a sample of the pairs,
// cut-off 4.685 scales). Iteratively reweighted least squares, starting from f = 0. The normal equations
// are accumulated per row: along x through the differences g_a = X1^a − X0^a, along y and z through the
// power sums of X (the row's y and z are fixed).

// the Tukey cut-off; the residual sample's fill, its stride over the pairs, and the pair counter
let tukeyCut = 0.0, sampleCount = 0, sampleStride = 1, pairIndex = 0;

@inline function tukey(e: f64): f64 {
  const t = e / tukeyCut;
  return t * t < 1 ? (1 - t * t) * (1 - t * t) : 0;
}

/** Note a residual for the scale sample (every sampleStride-th pair) when sampling. */
@inline function sampleResidual(e: f64): void {
  if (pairIndex % sampleStride == 0 && sampleCount < SAMPLES) { stf(residualSample, sampleCount, <f32>Math.abs(e)); sampleCount++; }
  pairIndex++;
}

/** One pass over the neighbour pairs: sample residuals (accumulate = false) or add the weighted normal equations. */
function pairPass(accumulate: bool): void {
  pairsAlongX(accumulate);
  pairsAcrossRows(0, accumulate);
  if (volNz >= 2 && fitDegreeZ >= 1) pairsAcrossRows(1, accumulate);
}

/** The pairs (x, x + 1) within each row; the row's equations through the power differences g_a = X1^a − X0^a. */
function pairsAlongX(accumulate: bool): void {
  const d = fitDegree, D = powSpan;
  const nx = volNx, ny = volNy, nz = volNz;
  for (let z = 0; z < nz; z++) {
    const Z = coord(z, nz);
    for (let y = 0; y < ny; y++) {
      rowPolynomial(coord(y, ny), Z);
      if (accumulate) { zeroF64(rowDiffSums, D * D); zeroF64(rowLogSums, D); }
      let any = false;
      const base = nx * (y + ny * z);
      for (let x = 0; x + 1 < nx; x++) {
        const i = base + x;
        if (load<u8>(classOf + <usize>i) == 255 || load<u8>(classOf + <usize>(i + 1)) == 255) continue;
        const X0 = coord(x, nx), X1 = coord(x + 1, nx);
        const dl = <f64>ldf(logVox, i + 1) - <f64>ldf(logVox, i);
        const e = dl - (horner(X1) - horner(X0));
        if (!accumulate) { sampleResidual(e); continue; }
        const w = tukey(e);
        if (w == 0) continue;
        any = true;
        let p0 = X0, p1 = X1;
        for (let a = 1; a <= d; a++) { std(powDiff, a, p1 - p0); p0 *= X0; p1 *= X1; }
        for (let a = 1; a <= d; a++) {
          const ga = w * ldd(powDiff, a);
          std(rowLogSums, a, ldd(rowLogSums, a) + ga * dl);
          for (let b = 1; b <= d; b++) std(rowDiffSums, a * D + b, ldd(rowDiffSums, a * D + b) + ga * ldd(powDiff, b));
        }
      }
      if (any) addRowAlongX(coord(y, ny), Z);
    }
  }
}

/** Add one row's x-pair sums (rowDiffSums, rowLogSums) to the normal equations, times the row's Y and Z powers. */
function addRowAlongX(Y: f64, Z: f64): void {
  const T = nTerms, U = T - 1, D = powSpan;
  powers(powY, Y, 2 * fitDegree);
  powers(powZ, Z, 2 * fitDegreeZ);
  for (let j = 1; j < T; j++) {
    const aj = expA(j);
    if (aj == 0) continue;
    const bj = expB(j), cj = expC(j);
    std(normalRhs, j - 1, ldd(normalRhs, j - 1) + ldd(rowLogSums, aj) * ldd(powY, bj) * ldd(powZ, cj));
    for (let k = 1; k < T; k++) {
      const ak = expA(k);
      if (ak == 0) continue;
      const v = ldd(rowDiffSums, aj * D + ak) * ldd(powY, bj + expB(k)) * ldd(powZ, cj + expC(k));
      std(normalA, (j - 1) * U + (k - 1), ldd(normalA, (j - 1) * U + (k - 1)) + v);
    }
  }
}

/**
 * The pairs between two rows: dir 0, rows (y, z) and (y + 1, z); dir 1, rows (y, z) and (y, z + 1). Per row
 * the power sums of X; the differences g_q = M1^q − M0^q along the pair's axis M (Y or Z) are per row pair.
 */
function pairsAcrossRows(dir: i32, accumulate: bool): void {
  const d = fitDegree, D = powSpan;
  const nx = volNx, ny = volNy, nz = volNz;
  const zEnd = dir == 0 ? nz : nz - 1, yEnd = dir == 0 ? ny - 1 : ny;
  const step = dir == 0 ? nx : nx * ny;
  for (let z = 0; z < zEnd; z++) {
    for (let y = 0; y < yEnd; y++) {
      const Y0 = coord(y, ny), Z0 = coord(z, nz);
      const Y1 = dir == 0 ? coord(y + 1, ny) : Y0, Z1 = dir == 0 ? Z0 : coord(z + 1, nz);
      rowPolynomial(Y0, Z0, rowPoly);
      rowPolynomial(Y1, Z1, rowPoly2);
      if (accumulate) { zeroF64(rowPowSums, D); zeroF64(rowLogSums, D); }
      let any = false;
      const base = nx * (y + ny * z);
      for (let x = 0; x < nx; x++) {
        const i = base + x;
        if (load<u8>(classOf + <usize>i) == 255 || load<u8>(classOf + <usize>(i + step)) == 255) continue;
        const X = coord(x, nx);
        const dl = <f64>ldf(logVox, i + step) - <f64>ldf(logVox, i);
        const e = dl - (horner(X, rowPoly2) - horner(X, rowPoly));
        if (!accumulate) { sampleResidual(e); continue; }
        const w = tukey(e);
        if (w == 0) continue;
        any = true;
        let pw = w;
        for (let p = 0; p <= d; p++) { std(rowPowSums, p, ldd(rowPowSums, p) + pw); std(rowLogSums, p, ldd(rowLogSums, p) + pw * dl); pw *= X; }
        for (let p = d + 1; p <= 2 * d; p++) { std(rowPowSums, p, ldd(rowPowSums, p) + pw); pw *= X; }
      }
      if (any) addRowPair(dir, Y0, Z0, Y1, Z1);
    }
  }
}

/** Add one row pair's sums (rowPowSums, rowLogSums) to the normal equations (see pairsAcrossRows). */
function addRowPair(dir: i32, Y0: f64, Z0: f64, Y1: f64, Z1: f64): void {
  const d = fitDegree, T = nTerms, U = T - 1;
  // the other fixed coordinate's powers, and the differences along the pair's axis
  const other = dir == 0 ? Z0 : Y0, m0 = dir == 0 ? Y0 : Z0, m1 = dir == 0 ? Y1 : Z1;
  powers(powZ, other, 2 * d);
  let p0 = 1.0, p1 = 1.0;
  for (let q = 0; q <= d; q++) { std(powDiff, q, p1 - p0); p0 *= m0; p1 *= m1; }
  for (let j = 1; j < T; j++) {
    const mj = dir == 0 ? expB(j) : expC(j), oj = dir == 0 ? expC(j) : expB(j), aj = expA(j);
    if (mj == 0) continue;
    const gj = ldd(powDiff, mj);
    std(normalRhs, j - 1, ldd(normalRhs, j - 1) + ldd(rowLogSums, aj) * gj * ldd(powZ, oj));
    for (let k = 1; k < T; k++) {
      const mk = dir == 0 ? expB(k) : expC(k), ok = dir == 0 ? expC(k) : expB(k);
      if (mk == 0) continue;
      const v = ldd(rowPowSums, aj + expA(k)) * gj * ldd(powDiff, mk) * ldd(powZ, oj + ok);
      std(normalA, (j - 1) * U + (k - 1), ldd(normalA, (j - 1) * U + (k - 1)) + v);
    }
  }
}

/**
 * The difference fit (see above): at most `rounds` reweighted least-squares solves, fewer once a solve
 * changes f by less than 1e-4 anywhere in the box (Σ|Δw_j|, the coordinates lying in [−1, 1]); leaves f in
 * fieldW and returns the solves done.
 */
function differenceFit(rounds: i32): i32 {
  const T = nTerms, U = T - 1;
  zeroF64(fieldW, cubeSize);
  if (U < 1) return 0;
  const nx = volNx, ny = volNy, nz = volNz;
  const pairs = (nx - 1) * ny * nz + nx * (ny - 1) * nz + (nz > 1 && fitDegreeZ > 0 ? nx * ny * (nz - 1) : 0);
  let r = 0;
  while (r < rounds) {
    sampleCount = 0; pairIndex = 0;
    sampleStride = pairs > SAMPLES ? (pairs + SAMPLES - 1) / SAMPLES : 1;
    pairPass(false);
    if (sampleCount == 0) break;
    const k = (sampleCount - 1) >> 1;
    select(residualSample, 0, sampleCount - 1, k);
    const med = <f64>ldf(residualSample, k);
    tukeyCut = 4.685 * 1.4826 * med;
    if (!(tukeyCut > 1e-9)) tukeyCut = 1e-9;
    zeroF64(normalA, U * U);
    zeroF64(normalRhs, U);
    pairPass(true);
    choleskySolve(normalA, normalRhs, solution, U);
    r++;
    let change = 0.0;
    for (let j = 1; j < T; j++) {
      const at = idx3(expA(j), expB(j), expC(j));
      change += Math.abs(ldd(solution, j - 1) - ldd(fieldW, at));
      std(fieldW, at, ldd(solution, j - 1));
    }
    if (change < 1e-4) break;
  }
  return r;
}

/** Assign every mask voxel to the active class whose mean is nearest to log v − f; returns the changes. */
function assignClasses(): i32 {
  let changes = 0;
  for (let z = 0; z < volNz; z++) {
    const Z = coord(z, volNz);
    for (let y = 0; y < volNy; y++) {
      rowPolynomial(coord(y, volNy), Z);
      const base = volNx * (y + volNy * z);
      for (let x = 0; x < volNx; x++) {
        const i = base + x;
        const old = <i32>load<u8>(classOf + <usize>i);
        if (old == 255) continue;
        let r = <f64>ldf(logVox, i);
        r -= horner(coord(x, volNx));
        let best = old, bestD = Infinity;
        for (let c = 0; c < nClasses; c++) {
          if (ldd(classActive, c) == 0) continue;
          const dd = Math.abs(r - ldd(classMean, c));
          if (dd < bestD) { bestD = dd; best = c; }
        }
        if (best != old) { store<u8>(classOf + <usize>i, <u8>best); changes++; }
      }
    }
  }
  return changes;
}

/**
 * The initial classes: a 1-D k-means (Lloyd, means started evenly over the range) of log v − f over the
 * mask, f the current field (from the one-class fit, so a strong field does not split one tissue across
 * classes while merging two others).
 */
function initialClasses(): void {
  let rmin = Infinity, rmax = -Infinity;
  for (let z = 0; z < volNz; z++) {
    const Z = coord(z, volNz);
    for (let y = 0; y < volNy; y++) {
      rowPolynomial(coord(y, volNy), Z);
      const base = volNx * (y + volNy * z);
      for (let x = 0; x < volNx; x++) {
        const i = base + x;
        if (load<u8>(classOf + <usize>i) == 255) continue;
        const r = <f64>ldf(logVox, i) - horner(coord(x, volNx));
        rmin = Math.min(rmin, r);
        rmax = Math.max(rmax, r);
      }
    }
  }
  for (let c = 0; c < nClasses; c++) {
    std(classMean, c, rmin + (<f64>c + 0.5) / <f64>nClasses * (rmax - rmin));
    std(classActive, c, 1);
  }
  for (let it = 0; it < 100; it++) {
    const changes = assignClasses();
    zeroF64(classCount, nClasses);
    zeroF64(classLogSum, nClasses);
    for (let z = 0; z < volNz; z++) {
      const Z = coord(z, volNz);
      for (let y = 0; y < volNy; y++) {
        rowPolynomial(coord(y, volNy), Z);
        const base = volNx * (y + volNy * z);
        for (let x = 0; x < volNx; x++) {
          const i = base + x;
          const c = <i32>load<u8>(classOf + <usize>i);
          if (c == 255) continue;
          std(classCount, c, ldd(classCount, c) + 1);
          std(classLogSum, c, ldd(classLogSum, c) + <f64>ldf(logVox, i) - horner(coord(x, volNx)));
        }
      }
    }
    for (let c = 0; c < nClasses; c++) {
      if (ldd(classCount, c) > 0) std(classMean, c, ldd(classLogSum, c) / ldd(classCount, c));
      else std(classActive, c, 0);
    }
    if (changes == 0 && it > 0) break;
  }
}

/** Solve A x = b (U × U, symmetric positive semi-definite) by Cholesky with a tiny ridge. */
function choleskySolve(A: usize, b: usize, x: usize, U: i32): void {
  let maxd = 0.0;
  for (let j = 0; j < U; j++) maxd = Math.max(maxd, ldd(A, j * (U + 1)));
  const lam = 1e-12 * (maxd > 0 ? maxd : 1);
  for (let j = 0; j < U; j++) {
    let s = ldd(A, j * (U + 1)) + lam;
    for (let k = 0; k < j; k++) s -= ldd(A, j * U + k) * ldd(A, j * U + k);
    if (!(s > lam)) s = lam;
    const ljj = Math.sqrt(s);
    std(A, j * (U + 1), ljj);
    for (let i = j + 1; i < U; i++) {
      let t = ldd(A, i * U + j);
      for (let k = 0; k < j; k++) t -= ldd(A, i * U + k) * ldd(A, j * U + k);
      std(A, i * U + j, t / ljj);
    }
  }
  for (let i = 0; i < U; i++) {
    let t = ldd(b, i);
    for (let k = 0; k < i; k++) t -= ldd(A, i * U + k) * ldd(x, k);
    std(x, i, t / ldd(A, i * (U + 1)));
  }
  for (let i = U - 1; i >= 0; i--) {
    let t = ldd(x, i);
    for (let k = i + 1; k < U; k++) t -= ldd(A, k * U + i) * ldd(x, k);
    std(x, i, t / ldd(A, i * (U + 1)));
  }
}

/** Least-squares fit of the field (without constant) and the class means for the current classes. */
function fitField(): void {
  const d = fitDegree, dz = fitDegreeZ, C = nClasses, D = powSpan, T = nTerms, U = nUnknowns;
  zeroF64(classMoments, C * cubeSize);
  zeroF64(classCount, C);
  zeroF64(classLogSum, C);
  for (let z = 0; z < volNz; z++) {
    const Z = coord(z, volNz);
    for (let y = 0; y < volNy; y++) {
      zeroF64(rowClassPowSums, C * D);
      zeroF64(rowClassLogSums, C);
      let any = false;
      const base = volNx * (y + volNy * z);
      for (let x = 0; x < volNx; x++) {
        const i = base + x;
        const c = <i32>load<u8>(classOf + <usize>i);
        if (c == 255) continue;
        any = true;
        const X = coord(x, volNx);
        let pw = 1.0;
        const sc = rowClassPowSums + (<usize>(c * D) << 3);
        for (let p = 0; p <= d; p++) { std(sc, p, ldd(sc, p) + pw); pw *= X; }
        std(rowClassLogSums, c, ldd(rowClassLogSums, c) + <f64>ldf(logVox, i));
      }
      if (!any) continue;
      powers(powY, coord(y, volNy), d);
      powers(powZ, Z, dz);
      for (let c = 0; c < C; c++) {
        const sc = rowClassPowSums + (<usize>(c * D) << 3);
        if (ldd(sc, 0) == 0) continue;
        const mc = classMoments + (<usize>(c * cubeSize) << 3);
        for (let r = 0; r <= dz; r++) {
          for (let q = 0; q + r <= d; q++) {
            const yz = ldd(powY, q) * ldd(powZ, r);
            for (let p = 0; p + q + r <= d; p++) std(mc, idx3(p, q, r), ldd(mc, idx3(p, q, r)) + ldd(sc, p) * yz);
          }
        }
        std(classCount, c, ldd(classCount, c) + ldd(sc, 0));
        std(classLogSum, c, ldd(classLogSum, c) + ldd(rowClassLogSums, c));
      }
    }
  }
  for (let c = 0; c < C; c++) if (ldd(classCount, c) == 0) std(classActive, c, 0);
  // unknowns: the non-constant terms 1..T-1 at 0..T-2, then the C class means
  zeroF64(normalA, U * U);
  for (let j = 1; j < T; j++) {
    const aj = expA(j), bj = expB(j), cj = expC(j);
    for (let k = 1; k < T; k++) std(normalA, (j - 1) * U + (k - 1), ldd(momentsM, idx3(aj + expA(k), bj + expB(k), cj + expC(k))));
    std(normalRhs, j - 1, ldd(momentsB, idx3(aj, bj, cj)));
    for (let c = 0; c < C; c++) {
      const v = ldd(classMoments + (<usize>(c * cubeSize) << 3), idx3(aj, bj, cj));
      std(normalA, (j - 1) * U + (T - 1 + c), v);
      std(normalA, (T - 1 + c) * U + (j - 1), v);
    }
  }
  for (let c = 0; c < C; c++) {
    const act = ldd(classActive, c) != 0;
    std(normalA, (T - 1 + c) * (U + 1), act ? ldd(classCount, c) : 1);
    std(normalRhs, T - 1 + c, act ? ldd(classLogSum, c) : 0);
  }
  choleskySolve(normalA, normalRhs, solution, U);
  zeroF64(fieldW, cubeSize);
  for (let j = 1; j < T; j++) std(fieldW, idx3(expA(j), expB(j), expC(j)), ldd(solution, j - 1));
  for (let c = 0; c < C; c++) std(classMean, c, ldd(solution, T - 1 + c));
}

/** M[p,q,r] = Σ_M X^p Y^q Z^r (p+q+r ≤ 2d, r ≤ 2dz) and B[p,q,r] = Σ_M X^p Y^q Z^r log v (p+q+r ≤ d, r ≤ dz). */
function momentsOnMask(): void {
  const nx = volNx, ny = volNy, nz = volNz, d = fitDegree, dz = fitDegreeZ, cls = classOf, logp = logVox;
  zeroF64(momentsM, cubeSize);
  zeroF64(momentsB, cubeSize);
  const D = powSpan, d2 = 2 * d, dz2 = 2 * dz;
  for (let z = 0; z < nz; z++) {
    const Z = coord(z, nz);
    for (let y = 0; y < ny; y++) {
      zeroF64(rowPowSums, D);
      zeroF64(rowLogSums, D);
      let any = false;
      const base = nx * (y + ny * z);
      for (let x = 0; x < nx; x++) {
        const i = base + x;
        if (load<u8>(cls + <usize>i) == 255) continue;
        any = true;
        const X = coord(x, nx), l = <f64>ldf(logp, i);
        let pw = 1.0;
        for (let p = 0; p <= d; p++) { std(rowPowSums, p, ldd(rowPowSums, p) + pw); std(rowLogSums, p, ldd(rowLogSums, p) + pw * l); pw *= X; }
        for (let p = d + 1; p <= d2; p++) { std(rowPowSums, p, ldd(rowPowSums, p) + pw); pw *= X; }
      }
      if (!any) continue;
      powers(powY, coord(y, ny), d2);
      powers(powZ, Z, dz2);
      for (let r = 0; r <= dz2; r++) {
        for (let q = 0; q + r <= d2; q++) {
          const yz = ldd(powY, q) * ldd(powZ, r);
          for (let p = 0; p + q + r <= d2; p++) std(momentsM, idx3(p, q, r), ldd(momentsM, idx3(p, q, r)) + ldd(rowPowSums, p) * yz);
          if (r <= dz && q + r <= d) {
            for (let p = 0; p + q + r <= d; p++) std(momentsB, idx3(p, q, r), ldd(momentsB, idx3(p, q, r)) + ldd(rowLogSums, p) * yz);
          }
        }
      }
    }
  }
}

/**
 * Bias-field correction of an nx × ny × nz float32 volume (i fastest) at `src` into `dst` (may equal src):
 * dst = src / g with g = exp(f) / mean_M(exp f), f clamped to its range over the mask M (so the polynomial
 * cannot blow up where it extrapolates). `field` (0: none) receives g. `logp` (4·n bytes), `cls` (n bytes)
 * and `work` (biasWorkBytes) are scratch. `coef` receives float64: the T coefficients of log g in the
 * monomial order (for z-power c ≤ dz, y-power b ≤ d − c, x-power a ≤ d − b − c; the constant first), the C
 * class log-means of the corrected image (NaN for a class left empty), then |M|, min_M f, max_M f.
 * `rounds`: most reweighted solves of the difference fit; `maxIter`: most class fits (C ≥ 2).
 * Returns the number of least-squares solves done, or −1 when the mask is empty.
 */
export function correctBiasField(src: usize, dst: usize, field: usize, nx: i32, ny: i32, nz: i32, thr: f64, degree: i32, degreeZ: i32, classes: i32, rounds: i32, maxIter: i32, logp: usize, cls: usize, work: usize, coef: usize): i32 {
  biasLayout(work, degree, degreeZ, classes);
  volNx = nx; volNy = ny; volNz = nz; logVox = logp; classOf = cls;
  const T = nTerms, C = classes;
  const count = maskAndLog(src, nx * ny * nz, thr);
  if (count == 0) return -1;
  let t = 0;
  for (let c = 0; c <= degreeZ; c++) for (let b = 0; b <= degree - c; b++) for (let a = 0; a <= degree - b - c; a++) {
    store<i32>(exponents + (<usize>(3 * t) << 2), a);
    store<i32>(exponents + (<usize>(3 * t + 1) << 2), b);
    store<i32>(exponents + (<usize>(3 * t + 2) << 2), c);
    t++;
  }
  const fits = fitBiasField(C, rounds, maxIter);
  // normalise to unit mean over the mask, clamp to the mask's range, divide
  const sum = fieldRangeOnMask();
  const logMean = Math.log(sum / <f64>count);
  divideByField(src, dst, field, logMean);
  for (let j = 0; j < T; j++) std(coef, j, j == 0 ? -logMean : ldd(fieldW, idx3(expA(j), expB(j), expC(j))));
  for (let c = 0; c < C; c++) std(coef, T + c, ldd(classActive, c) != 0 ? ldd(classMean, c) + logMean : NaN);
  std(coef, T + C, <f64>count);
  std(coef, T + C + 1, fieldMin);
  std(coef, T + C + 2, fieldMax);
  return fits;
}

/** The mask {v > thr, v > 0}: log v into logVox and class 0 into classOf there, 0 and 255 elsewhere; returns |M|. */
function maskAndLog(src: usize, n: i32, thr: f64): i32 {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>ldf(src, i);
    if (v > thr && v > 0) {
      const l = <f32>Math.log(v);
      stf(logVox, i, l);
      store<u8>(classOf + <usize>i, 0);
      count++;
    } else {
      stf(logVox, i, 0);
      store<u8>(classOf + <usize>i, 255);
    }
  }
  return count;
}

/**
 * The field f into fieldW: C = 1, the one-class least-squares fit of log v; otherwise the difference fit, then
 * for C ≥ 2 classes by k-means of log v − f and alternating class fits / reassignments. Returns the solves.
 */
function fitBiasField(C: i32, rounds: i32, maxIter: i32): i32 {
  // the class fits' moments, which do not depend on the classes
  if (C >= 1) momentsOnMask();
  if (C == 1) {
    std(classActive, 0, 1);
    fitField();
    return 1;
  }
  let fits = differenceFit(rounds < 1 ? 1 : rounds);
  if (C >= 2) {
    initialClasses();
    for (let k = 0; k < maxIter; k++) {
      fitField();
      fits++;
      if (assignClasses() == 0) break;
    }
  }
  return fits;
}

// min and max of f over the mask (fieldRangeOnMask)
let fieldMin = 0.0, fieldMax = 0.0;

/** Sets fieldMin and fieldMax to f's range over the mask; returns Σ_M exp f. */
function fieldRangeOnMask(): f64 {
  let fmin = Infinity, fmax = -Infinity, sum = 0.0;
  for (let z = 0; z < volNz; z++) {
    const Z = coord(z, volNz);
    for (let y = 0; y < volNy; y++) {
      rowPolynomial(coord(y, volNy), Z);
      const base = volNx * (y + volNy * z);
      for (let x = 0; x < volNx; x++) {
        if (load<u8>(classOf + <usize>(base + x)) == 255) continue;
        const f = horner(coord(x, volNx));
        fmin = Math.min(fmin, f);
        fmax = Math.max(fmax, f);
        sum += Math.exp(f);
      }
    }
  }
  fieldMin = fmin;
  fieldMax = fmax;
  return sum;
}

/** dst = src / g with g = exp(f − logMean), f clamped to [fieldMin, fieldMax]; g into `field` unless 0. */
function divideByField(src: usize, dst: usize, field: usize, logMean: f64): void {
  const fmin = fieldMin, fmax = fieldMax;
  for (let z = 0; z < volNz; z++) {
    const Z = coord(z, volNz);
    for (let y = 0; y < volNy; y++) {
      rowPolynomial(coord(y, volNy), Z);
      const base = volNx * (y + volNy * z);
      for (let x = 0; x < volNx; x++) {
        const i = base + x;
        let f = horner(coord(x, volNx));
        if (f < fmin) f = fmin;
        if (f > fmax) f = fmax;
        const g = Math.exp(f - logMean);
        stf(dst, i, <f32>(<f64>ldf(src, i) / g));
        if (field) stf(field, i, <f32>g);
      }
    }
  }
}
