// Host side of the AssemblyScript preprocessing module (kernels/preprocess.ts). The .wasm bytes are
// embedded in the bundle, so Node, Deno and browsers instantiate the very same module with no file paths.
//
// Conventions (all functions below):
// - A slice is row-major with x fastest: index = x + nx·y, the Volume type's i-fastest order; a volume's
//   slices along its k axis are stacked one after another (index = x + nx·(y + ny·z)). The host chooses the
//   axis: these functions always work on (i, j) slices along k.
// - A K-channel probability map is channel-last, index = (x + nx·y)·K + k (the network's NHWC output); a
//   stack of them is slice after slice.
// - Every wrapper copies its inputs into the module's memory (above its static data, growing the memory as
//   needed), runs, and returns fresh arrays; nothing keeps a view into wasm memory. The wrappers are async
//   only because the first call compiles the module; after that each runs synchronously to completion, so
//   concurrent callers cannot interleave inside the shared memory.
import wasmBytes from '../../dist/preprocess.wasm';

interface Exports {
  memory: WebAssembly.Memory;
  ensureMemory(bytes: number): number;
  heapBase(): number;
  percentile(src: number, scratch: number, n: number, q: number): number;
  normalizeRange(ptr: number, n: number, lo: number, hi: number): void;
  resize(
    src: number,
    nx: number,
    ny: number,
    dst: number,
    mx: number,
    my: number,
    C: number,
    nz: number,
    rx: number,
    ry: number,
    mode: number,
  ): void;
  shiftCopy(
    src: number,
    nx: number,
    ny: number,
    dst: number,
    mx: number,
    my: number,
    C: number,
    nz: number,
    dx: number,
    dy: number,
  ): void;
  resizeArgmax(
    src: number,
    cx: number,
    cy: number,
    K: number,
    dst: number,
    nx: number,
    ny: number,
    rx: number,
    ry: number,
    outU8: number,
  ): void;
  labelCounts(a: number, b: number, n: number, K: number, out: number): number;
  histogram(src: number, n: number, lo: number, hi: number, bins: number, hist: number): void;
  biasWorkBytes(degree: number, degreeZ: number, classes: number): number;
  biasTerms(degree: number, degreeZ: number): number;
  correctBiasField(
    src: number,
    dst: number,
    field: number,
    nx: number,
    ny: number,
    nz: number,
    thr: number,
    degree: number,
    degreeZ: number,
    classes: number,
    rounds: number,
    maxIter: number,
    logp: number,
    cls: number,
    work: number,
    coef: number,
  ): number;
  surfaceOf(labels: number, nx: number, ny: number, nz: number, k: number, surf: number): number;
  edtWorkBytes(nx: number, ny: number, nz: number): number;
  edt3(
    seed: number,
    nx: number,
    ny: number,
    nz: number,
    sx: number,
    sy: number,
    sz: number,
    out: number,
    work: number,
  ): void;
}

let instance: Exports | undefined;

export async function preprocessModule(): Promise<Exports> {
  if (!instance) {
    const module = await WebAssembly.compile(wasmBytes as BufferSource);
    const inst = await WebAssembly.instantiate(module, {});
    instance = inst.exports as unknown as Exports;
  }
  return instance;
}

/**
 * Byte offsets in the module's memory for one call: plan every buffer with `alloc`, then `commit` (grows the
 * memory once), then take views (views taken before a grow would be detached). Every arena starts at the
 * same place, so only one call's buffers live at a time: finish with one arena before awaiting anything.
 */
export class Arena {
  private top: number;
  constructor(private readonly m: Exports) {
    // above the module's static data (Math.log/exp tables); never 0, so 0 can mean "no buffer"
    this.top = align(Math.max(m.heapBase(), 64));
  }
  alloc(bytes: number): number {
    const p = this.top;
    this.top = align(p + Math.max(0, bytes));
    return p;
  }
  commit(): void {
    if (this.top > 0xffff0000) throw new Error(`preprocessing: ${this.top} bytes exceed the 4 GiB of wasm32 memory`);
    const have = this.m.ensureMemory(this.top) >>> 0;
    if (have < this.top) throw new Error(`preprocessing: could not grow wasm memory to ${this.top} bytes`);
  }
  f32(p: number, n: number): Float32Array {
    return new Float32Array(this.m.memory.buffer, p, n);
  }
  f64(p: number, n: number): Float64Array {
    return new Float64Array(this.m.memory.buffer, p, n);
  }
  u32(p: number, n: number): Uint32Array {
    return new Uint32Array(this.m.memory.buffer, p, n);
  }
  u8(p: number, n: number): Uint8Array {
    return new Uint8Array(this.m.memory.buffer, p, n);
  }
}

const align = (n: number) => Math.ceil(n / 16) * 16;

export function checkSize(what: string, ...dims: number[]): void {
  for (const d of dims)
    if (!(Number.isInteger(d) && d > 0))
      throw new Error(`${what}: sizes must be positive integers, got ${dims.join(' × ')}`);
}

export function checkLength(what: string, a: ArrayLike<number>, n: number): void {
  if (a.length !== n) throw new Error(`${what}: ${a.length} values, expected ${n}`);
}

/**
 * The paper's intensity normalisation (spec §6.2): x ← (x − p1) / (p99 − p1) with p1, p99 the 1st and 99th
 * percentiles over all voxels, without clipping. Returns a new array and the percentiles used.
 */
export async function normalizePercentiles(
  data: Float32Array,
): Promise<{ out: Float32Array; p1: number; p99: number }> {
  const m = await preprocessModule();
  const n = data.length;
  const mem = new Arena(m);
  const src = mem.alloc(4 * n),
    scratch = mem.alloc(4 * n);
  mem.commit();
  mem.f32(src, n).set(data);
  const p1 = m.percentile(src, scratch, n, 1);
  const p99 = m.percentile(src, scratch, n, 99);
  if (!(p99 > p1))
    throw new Error(`intensity normalisation: the volume is constant between its 1st and 99th percentiles (${p1})`);
  m.normalizeRange(src, n, p1, p99);
  return { out: mem.f32(src, n).slice(), p1, p99 };
}

// ------------------------------------------------------------------------------------------------------
// In-plane resampling (spec §6.3)
// ------------------------------------------------------------------------------------------------------

export type Interpolation = 'bilinear' | 'nearest';

export interface Slices {
  data: Float32Array;
  nx: number;
  ny: number;
  /** number of stacked slices (1 for a single slice) */
  nz: number;
}

/** Round half to even, as numpy's `np.round` (so `resampledSize` matches skimage's `rescale`). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Size after resampling n pixels of spacing s to spacing t: max(1, round(n·(s/t))) with round half to even,
 * exactly skimage `rescale`'s output shape (np.round(scale·shape), scale = s/t).
 */
export function resampledSize(n: number, spacing: number, target: number): number {
  if (!(spacing > 0 && target > 0))
    throw new Error(`resampling: spacings must be positive, got ${spacing} → ${target}`);
  return Math.max(1, roundHalfEven(n * (spacing / target)));
}

/**
 * Resize stacked slices (C channels, channel-last) from nx × ny to mx × my. Sampling convention (pixel
 * centres aligned, edges clamped): destination pixel X reads the source at u = (X + 0.5)·r − 0.5 with
 * r = source pixels per destination pixel, `ratio` if given, else nx/mx (skimage `resize`).
 * - bilinear: u clamped to [0, nx − 1], i.e. the border pixel is replicated (skimage mode 'edge'; the
 *   paper's skimage mode 'constant' instead blends with 0 in the outer half pixel when upsampling, a dark
 *   rim we do not reproduce). Computed in float64, rounded once to float32.
 * - nearest: the source pixel containing the destination centre, floor((X + 0.5)·r), clamped to nx − 1;
 *   values are copied exactly (labels).
 * No anti-aliasing prefilter (skimage ≥ 0.19 Gaussian-smooths before downsampling by default).
 */
export async function resizeSlices(
  src: Float32Array,
  nx: number,
  ny: number,
  mx: number,
  my: number,
  mode: Interpolation,
  opts: { channels?: number; nz?: number; ratio?: [number, number] } = {},
): Promise<Slices> {
  const C = opts.channels ?? 1,
    nz = opts.nz ?? 1;
  checkSize('resize', nx, ny, mx, my, C, nz);
  checkLength('resize', src, nx * ny * C * nz);
  const [rx, ry] = opts.ratio ?? [nx / mx, ny / my];
  if (!(rx > 0 && ry > 0)) throw new Error(`resize: ratios must be positive, got ${rx}, ${ry}`);
  const m = await preprocessModule();
  const mem = new Arena(m);
  const s = mem.alloc(4 * src.length),
    d = mem.alloc(4 * mx * my * C * nz);
  mem.commit();
  mem.f32(s, src.length).set(src);
  m.resize(s, nx, ny, d, mx, my, C, nz, rx, ry, mode === 'nearest' ? 1 : mode === 'bilinear' ? 0 : bad(mode));
  return { data: mem.f32(d, mx * my * C * nz).slice(), nx: mx, ny: my, nz };
}

function bad(mode: never): never {
  throw new Error(`unknown interpolation '${mode}'`);
}

/**
 * In-plane resampling of one slice (or `nz` stacked slices) from spacing (sx, sy) to the target spacing t
 * (mm), bilinear for images and nearest for labels (spec §6.3). Output size: resampledSize, i.e.
 * round(nx·sx/t) × round(ny·sy/t) with round half to even (skimage `rescale`). Sampling as `resizeSlices`
 * with r = t/s exactly (so output pixels have spacing t and the physical position of output pixel centre
 * X is (X + 0.5)·t from the slice's edge; skimage would use nx/mx, which differs by < 0.5/mx relatively).
 */
export async function resampleSlice(
  src: Float32Array,
  nx: number,
  ny: number,
  sx: number,
  sy: number,
  target: number,
  mode: Interpolation,
  nz = 1,
): Promise<Slices> {
  const mx = resampledSize(nx, sx, target),
    my = resampledSize(ny, sy, target);
  return resizeSlices(src, nx, ny, mx, my, mode, { nz, ratio: [target / sx, target / sy] });
}

// ------------------------------------------------------------------------------------------------------
// Centre crop / zero pad (spec §6.4) and its inverse
// ------------------------------------------------------------------------------------------------------

/**
 * The shift d with dst[X] = src[X + d] for a centre crop or pad of one axis from nSrc to nDst pixels, as the
 * paper's code: a crop (nSrc ≥ nDst) starts at (nSrc − nDst) // 2; a pad puts the source at
 * (nDst − nSrc) // 2, i.e. d = −((nDst − nSrc) // 2). The inverse of cropShift(a, b) is cropShift(b, a).
 */
export function cropShift(nSrc: number, nDst: number): number {
  return nSrc >= nDst ? (nSrc - nDst) >> 1 : -((nDst - nSrc) >> 1);
}

/**
 * Centre crop or zero pad (per axis independently) of stacked slices with C channels from nx × ny to
 * mx × my: dst[X, Y] = src[X + dx, Y + dy] with (dx, dy) = cropShift per axis, 0 outside the source.
 */
export async function cropOrPad(
  src: Float32Array,
  nx: number,
  ny: number,
  mx: number,
  my: number,
  opts: { channels?: number; nz?: number } = {},
): Promise<Float32Array> {
  const C = opts.channels ?? 1,
    nz = opts.nz ?? 1;
  checkSize('crop/pad', nx, ny, mx, my, C, nz);
  checkLength('crop/pad', src, nx * ny * C * nz);
  const m = await preprocessModule();
  const mem = new Arena(m);
  const s = mem.alloc(4 * src.length),
    d = mem.alloc(4 * mx * my * C * nz);
  mem.commit();
  mem.f32(s, src.length).set(src);
  m.shiftCopy(s, nx, ny, d, mx, my, C, nz, cropShift(nx, mx), cropShift(ny, my));
  return mem.f32(d, mx * my * C * nz).slice();
}

/**
 * The inverse of the crop/pad for predictions (spec §7.1 step 2): K-channel probabilities on the network
 * canvas (netX × netY) put back onto the resampled canvas (cx × cy), the inverse shift of
 * cropOrPad(cx × cy → netX × netY). Canvas pixels the network did not see (cropped away) get all-zero
 * probabilities; argmax of an all-zero vector is class 0, so they become background.
 */
export async function uncropProbabilities(
  prob: Float32Array,
  netX: number,
  netY: number,
  K: number,
  cx: number,
  cy: number,
  nz = 1,
): Promise<Float32Array> {
  return cropOrPad(prob, netX, netY, cx, cy, { channels: K, nz });
}

// ------------------------------------------------------------------------------------------------------
// Predictions back to native labels (spec §7.1)
// ------------------------------------------------------------------------------------------------------

/** The geometry of one slice through the pipeline: native → resampled canvas → network input. */
export interface SliceGeometry {
  /** native in-plane size [nx, ny] and spacing [sx, sy] (mm) */
  native: [number, number];
  spacing: [number, number];
  /** target spacing (mm) */
  target: number;
  /** the resampled canvas: resampledSize per axis */
  canvas: [number, number];
  /** the network's input size */
  network: [number, number];
  /** canvas pixels per native pixel, sx/t and sy/t (the ratio for resampling predictions back) */
  toNative: [number, number];
}

export function sliceGeometry(
  nx: number,
  ny: number,
  sx: number,
  sy: number,
  target: number,
  netX: number,
  netY: number,
): SliceGeometry {
  checkSize('slice geometry', nx, ny, netX, netY);
  return {
    native: [nx, ny],
    spacing: [sx, sy],
    target,
    canvas: [resampledSize(nx, sx, target), resampledSize(ny, sy, target)],
    network: [netX, netY],
    toNative: [sx / target, sy / target],
  };
}

/**
 * Bilinear resize of a K-channel probability map (cx × cy, channel-last) to nx × ny, then argmax per pixel
 * (ties → the lowest class; all-zero → class 0). Sampling as `resizeSlices`; `ratio` defaults to cx/nx,
 * cy/ny (pass SliceGeometry.toNative to undo `resampleSlice` exactly). Labels as u8 (K ≤ 256) or float32.
 */
export async function resizeProbabilitiesArgmax(
  prob: Float32Array,
  cx: number,
  cy: number,
  K: number,
  nx: number,
  ny: number,
  opts?: { ratio?: [number, number]; out?: 'u8' },
): Promise<Uint8Array>;
export async function resizeProbabilitiesArgmax(
  prob: Float32Array,
  cx: number,
  cy: number,
  K: number,
  nx: number,
  ny: number,
  opts: { ratio?: [number, number]; out: 'f32' },
): Promise<Float32Array>;
export async function resizeProbabilitiesArgmax(
  prob: Float32Array,
  cx: number,
  cy: number,
  K: number,
  nx: number,
  ny: number,
  opts: { ratio?: [number, number]; out?: 'u8' | 'f32' } = {},
): Promise<Uint8Array | Float32Array> {
  checkSize('resize+argmax', cx, cy, K, nx, ny);
  checkLength('resize+argmax', prob, cx * cy * K);
  const u8 = (opts.out ?? 'u8') === 'u8';
  if (u8 && K > 256) throw new Error(`resize+argmax: ${K} classes do not fit u8 labels`);
  const [rx, ry] = opts.ratio ?? [cx / nx, cy / ny];
  const m = await preprocessModule();
  const mem = new Arena(m);
  const s = mem.alloc(4 * prob.length),
    d = mem.alloc((u8 ? 1 : 4) * nx * ny);
  mem.commit();
  mem.f32(s, prob.length).set(prob);
  m.resizeArgmax(s, cx, cy, K, d, nx, ny, rx, ry, u8 ? 1 : 0);
  return u8 ? mem.u8(d, nx * ny).slice() : mem.f32(d, nx * ny).slice();
}

/**
 * Network predictions of nz slices back to a native label volume (spec §7.1): per slice, uncrop the
 * K-channel probabilities (netX × netY, channel-last) onto the resampled canvas, bilinearly resize every
 * class map to the native nx × ny (ratio SliceGeometry.toNative), argmax. `probs` is one array of nz slices
 * (nz·netY·netX·K) or one array per slice. Returns labels x + nx·(y + ny·z), u8 or float32.
 */
export async function probabilitiesToLabels(
  probs: Float32Array | Float32Array[],
  g: SliceGeometry,
  K: number,
  nz: number,
  out?: 'u8',
): Promise<Uint8Array>;
export async function probabilitiesToLabels(
  probs: Float32Array | Float32Array[],
  g: SliceGeometry,
  K: number,
  nz: number,
  out: 'f32',
): Promise<Float32Array>;
export async function probabilitiesToLabels(
  probs: Float32Array | Float32Array[],
  g: SliceGeometry,
  K: number,
  nz: number,
  out: 'u8' | 'f32' = 'u8',
): Promise<Uint8Array | Float32Array> {
  const [nx, ny] = g.native,
    [cx, cy] = g.canvas,
    [netX, netY] = g.network;
  checkSize('probabilities to labels', nx, ny, cx, cy, netX, netY, K, nz);
  const per = netX * netY * K;
  if (Array.isArray(probs)) {
    if (probs.length !== nz) throw new Error(`probabilities to labels: ${probs.length} slices, expected ${nz}`);
    probs.forEach((p, z) => checkLength(`probabilities to labels, slice ${z}`, p, per));
  } else checkLength('probabilities to labels', probs, per * nz);
  const u8 = out === 'u8',
    esz = u8 ? 1 : 4;
  if (u8 && K > 256) throw new Error(`probabilities to labels: ${K} classes do not fit u8 labels`);
  const m = await preprocessModule();
  const mem = new Arena(m);
  const net = mem.alloc(4 * per),
    canvas = mem.alloc(4 * cx * cy * K),
    labels = mem.alloc(esz * nx * ny * nz);
  mem.commit();
  const netView = mem.f32(net, per);
  const dx = cropShift(netX, cx),
    dy = cropShift(netY, cy);
  for (let z = 0; z < nz; z++) {
    netView.set(Array.isArray(probs) ? probs[z] : probs.subarray(z * per, (z + 1) * per));
    m.shiftCopy(net, netX, netY, canvas, cx, cy, K, 1, dx, dy);
    m.resizeArgmax(canvas, cx, cy, K, labels + esz * nx * ny * z, nx, ny, g.toNative[0], g.toNative[1], u8 ? 1 : 0);
  }
  return u8 ? mem.u8(labels, nx * ny * nz).slice() : mem.f32(labels, nx * ny * nz).slice();
}

/**
 * The forward pipeline on the (i, j) slices of a volume (spec §6.3–6.4): resample every slice to the target
 * spacing (bilinear for images, nearest for labels), then centre crop / zero pad to netX × netY.
 * Returns nz stacked network-size slices (x fastest).
 */
export async function prepareSlices(
  data: Float32Array,
  g: SliceGeometry,
  nz: number,
  mode: Interpolation,
): Promise<Float32Array> {
  const [nx, ny] = g.native,
    [sx, sy] = g.spacing;
  const r = await resampleSlice(data, nx, ny, sx, sy, g.target, mode, nz);
  return cropOrPad(r.data, r.nx, r.ny, g.network[0], g.network[1], { nz });
}

// ------------------------------------------------------------------------------------------------------
// Bias-field correction (stand-in for the paper's N4, spec §6.1)
// ------------------------------------------------------------------------------------------------------

/**
 * Otsu's threshold: a `bins`-bin histogram over [min, p99.9] (values above go to the last bin, so a few hot
 * voxels do not squeeze the histogram), the split maximising the between-class variance ω0·ω1·(μ0 − μ1)²
 * (bin centres as values, the first maximum on ties); returns the upper edge of the last bin of the lower
 * class, so `v > threshold` is the upper class.
 */
export async function otsuThreshold(data: Float32Array, bins = 256): Promise<number> {
  const n = data.length;
  if (n === 0) throw new Error('Otsu: empty input');
  const m = await preprocessModule();
  const mem = new Arena(m);
  const s = mem.alloc(4 * n),
    scratch = mem.alloc(4 * n),
    hist = mem.alloc(4 * bins);
  mem.commit();
  mem.f32(s, n).set(data);
  const lo = m.percentile(s, scratch, n, 0);
  let hi = m.percentile(s, scratch, n, 99.9);
  if (!(hi > lo)) hi = m.percentile(s, scratch, n, 100);
  if (!(hi > lo)) return lo;
  m.histogram(s, n, lo, hi, bins, hist);
  return otsuFromHistogram(mem.u32(hist, bins), lo, hi);
}

/** Otsu's split of a histogram over [lo, hi] (see otsuThreshold). */
export function otsuFromHistogram(h: ArrayLike<number>, lo: number, hi: number): number {
  const bins = h.length,
    w = (hi - lo) / bins;
  let total = 0,
    sum = 0;
  for (let i = 0; i < bins; i++) {
    total += h[i];
    sum += h[i] * (i + 0.5);
  }
  let w0 = 0,
    s0 = 0,
    best = -1,
    bestT = 0;
  for (let t = 0; t < bins - 1; t++) {
    w0 += h[t];
    s0 += h[t] * (t + 0.5);
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const d = s0 / w0 - (sum - s0) / w1;
    const v = w0 * w1 * d * d;
    if (v > best) {
      best = v;
      bestT = t;
    }
  }
  return lo + (bestT + 1) * w;
}

export interface BiasFieldOptions {
  /** total degree of the log-field polynomial (default 3; at most 6) */
  degree?: number;
  /** highest power of z (default min(2, degree, nz − 1)); 0 fits the same 2-D field to every slice */
  degreeZ?: number;
  /** fit each k slice separately (2-D fields, degreeZ 0); default false (one 3-D field) */
  perSlice?: boolean;
  /**
   * the estimator (see correctBiasField): 0 the robust difference fit (default); 1 plain least squares on
   * log v; C ≥ 2 the difference fit refined by a piecewise-constant model with C intensity classes
   */
  classes?: number;
  /** most reweighted least-squares solves of the difference fit (default 10; it stops once f changes < 1e-4) */
  rounds?: number;
  /** most class fit / reassignment rounds when classes ≥ 2 (default 20) */
  maxIter?: number;
  /** the mask is v > threshold (and v > 0); default Otsu's threshold of the volume */
  threshold?: number;
  /** also return the multiplicative field g (out = in / g) */
  returnField?: boolean;
}

export interface BiasFieldResult {
  /** the corrected volume, in / g */
  data: Float32Array;
  /** g = exp(f) / mean over the mask of exp(f), when asked for */
  field?: Float32Array;
  threshold: number;
  /** voxels in the mask (summed over slices with perSlice) */
  maskCount: number;
  /** least-squares solves done (the largest over slices with perSlice) */
  iterations: number;
  /** log g as polynomial coefficients (see biasMonomials), per fit (one, or one per slice) */
  coefficients: Float64Array[];
  /** per fit: each class's mean intensity in the corrected volume (classes ≥ 1; NaN: a class emptied) */
  classMeans: Float64Array[];
}

/** The monomials x^a y^b z^c of the field, in coefficient order (coordinates scaled to [−1, 1] per axis). */
export function biasMonomials(degree: number, degreeZ: number): [number, number, number][] {
  const t: [number, number, number][] = [];
  for (let c = 0; c <= degreeZ; c++)
    for (let b = 0; b <= degree - c; b++) for (let a = 0; a <= degree - b - c; a++) t.push([a, b, c]);
  return t;
}

/** correctBiasField's options with their defaults, checked before any work; sz: slices fitted together. */
function biasFieldSettings(opts: BiasFieldOptions, nz: number) {
  const perSlice = opts.perSlice ?? false;
  const sz = perSlice ? 1 : nz;
  const degree = opts.degree ?? 3;
  const degreeZ = Math.min(opts.degreeZ ?? 2, degree, sz - 1);
  const classes = opts.classes ?? 0,
    maxIter = opts.maxIter ?? 20,
    rounds = opts.rounds ?? 10;
  if (!(Number.isInteger(degree) && degree >= 0 && degree <= 6))
    throw new Error(`bias field: degree must be 0..6, got ${degree}`);
  if (!(Number.isInteger(degreeZ) && degreeZ >= 0)) throw new Error(`bias field: degreeZ must be ≥ 0, got ${degreeZ}`);
  if (!(Number.isInteger(classes) && classes >= 0 && classes <= 32))
    throw new Error(`bias field: classes must be 0..32, got ${classes}`);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`bias field: rounds must be ≥ 1, got ${rounds}`);
  return { perSlice, sz, degree, degreeZ, classes, maxIter, rounds };
}

/**
 * Bias-field correction, a documented simpler stand-in for the paper's N4 (spec §6.1). Model on the mask
 * M = {v > threshold, v > 0} (default threshold: Otsu's): log v(x) = a(x) + f(x), a the anatomy, f a
 * polynomial of total degree `degree` (power of z ≤ degreeZ) in the voxel coordinates, each axis scaled to
 * [−1, 1] (the polynomial space does not depend on the spacing). The default estimator (classes 0) is a
 * robust difference fit: neighbouring mask voxels along x, y and z give f(x') − f(x) = log v(x') − log v(x)
 * wherever both lie in one tissue; the pairs that straddle a tissue edge are outliers, removed by Tukey's
 * biweight (scale 1.4826·median |residual| over ≤ 2^18 evenly spread pairs, cut-off 4.685 scales) in
 * iteratively reweighted least-squares solves (normal equations, Cholesky) from f = 0, until f changes by
 * less than 1e-4 or after `rounds` solves. The result is v / g with g = exp(f)
 * normalised to unit mean over the mask, f clamped to its range over the mask so the polynomial cannot blow
 * up where it extrapolates into the background (voxels outside the mask are divided by g as well).
 * classes 1 fits log v = μ + f by plain least squares (the anatomy leaks into f: kept as the simplest
 * reference); classes C ≥ 2 refines the difference fit with a piecewise-constant anatomy of C intensity
 * classes (k-means of log v − f, then alternating least-squares fits of f and the class means and
 * reassignments, at most maxIter).
 */
export async function correctBiasField(
  data: Float32Array,
  dims: [number, number, number],
  opts: BiasFieldOptions = {},
): Promise<BiasFieldResult> {
  const [nx, ny, nz] = dims;
  checkSize('bias field', nx, ny, nz);
  checkLength('bias field', data, nx * ny * nz);
  const { perSlice, sz, degree, degreeZ, classes, maxIter, rounds } = biasFieldSettings(opts, nz);
  const threshold = opts.threshold ?? (await otsuThreshold(data));
  const m = await preprocessModule();
  const n = data.length,
    per = nx * ny * sz,
    T = m.biasTerms(degree, degreeZ);
  const mem = new Arena(m);
  const src = mem.alloc(4 * n),
    dst = mem.alloc(4 * n),
    field = opts.returnField ? mem.alloc(4 * n) : 0;
  const logp = mem.alloc(4 * per),
    cls = mem.alloc(per),
    work = mem.alloc(m.biasWorkBytes(degree, degreeZ, classes));
  const coef = mem.alloc(8 * (T + classes + 3));
  mem.commit();
  mem.f32(src, n).set(data);
  const res: BiasFieldResult = {
    data: new Float32Array(0),
    threshold,
    maskCount: 0,
    iterations: 0,
    coefficients: [],
    classMeans: [],
  };
  for (let z0 = 0; z0 < nz; z0 += sz) {
    const off = 4 * nx * ny * z0;
    const it = m.correctBiasField(
      src + off,
      dst + off,
      field ? field + off : 0,
      nx,
      ny,
      sz,
      threshold,
      degree,
      degreeZ,
      classes,
      rounds,
      maxIter,
      logp,
      cls,
      work,
      coef,
    );
    if (it < 0) {
      if (!perSlice) throw new Error(`bias field: no voxel above the mask threshold ${threshold}`);
      // an empty slice (all background) is left as it is
      mem.f32(dst + off, nx * ny).set(mem.f32(src + off, nx * ny));
      if (field) mem.f32(field + off, nx * ny).fill(1);
      res.coefficients.push(new Float64Array(T));
      res.classMeans.push(new Float64Array(classes).fill(NaN));
      continue;
    }
    const c = mem.f64(coef, T + classes + 3);
    res.coefficients.push(c.slice(0, T));
    res.classMeans.push(c.slice(T, T + classes).map(Math.exp));
    res.maskCount += c[T + classes];
    res.iterations = Math.max(res.iterations, it);
  }
  res.data = mem.f32(dst, n).slice();
  if (field) res.field = mem.f32(field, n).slice();
  return res;
}
