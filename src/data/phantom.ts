// The built-in synthetic dataset: seeded cardiac short-axis cine MR volumes (end-diastole) in the image of
// ACDC, with ACDC's labels 0 background, 1 RV cavity, 2 LV myocardium, 3 LV cavity.
//
// Anatomy. Slice k = 0 is basal, k = nz − 1 apical; each slice sits at a relative long-axis position
// t ∈ [≈0, ≈1]. In a heart frame centred on the LV (u right, v down = posterior), every structure is a
// radius function of the angle about the LV centre, tabulated per slice: the LV cavity (an ellipse with
// low-order Fourier wobble) shrinks like a (generalised) half-ellipsoid towards the apex; the myocardium is a ring of
// nearly constant thickness (so relatively thicker at the apex); the RV cavity is a crescent on the septal
// side, bounded by the LV epicardium inside and a thin dark free wall (label 0) outside, whose thickness and
// angular extent fall to zero before the last slice. Papillary muscles and trabeculae (dark, labelled LV
// cavity as in ACDC), patchy epicardial fat, and at the base a bright atrium/outflow blob (label 0).
// Each subject belongs to one of ACDC's five groups (normal, dilated and hypertrophic cardiomyopathy, infarction
// with a thinned wall sector, abnormal RV), which scale its anatomy: a few labeled volumes cannot cover them all.
// Around it: a smooth body outline with air outside, subcutaneous fat (bright, as in bSSFP), skeletal muscle (as dark
// as myocardium), textured soft tissue with fat patches, lungs (dark), liver (mid grey, growing towards the
// apex), descending aorta (bright blood, label 0), spine and spinal canal.
// Image formation: through-plane partial volume (3 sub-positions per slice), in-plane Gaussian blur, a
// per-subject contrast curve (a power of the relative intensity), a smooth multiplicative bias field, then Rician noise (magnitude of signal + complex Gaussian noise).
// Intensities are float32 in a scanner-like range (blood ≈ 550–900 before bias).
//
// Everything is drawn from the seeded `Rng`; a subject depends only on (seed, index). On V8 (Node, Deno,
// Chromium) the output is bitwise reproducible.

import { Rng } from '../util/random.ts';
import type { Vec3, Volume } from '../volume/volume.ts';

/**
 * Bump this whenever a code change alters the generator's output (even by one bit). `PHANTOM_VERSION`
 * hashes it together with `PHANTOM_PARAMS` (every range and structural constant: sizes, spacings, anatomy,
 * organ placement, tissue intensities, noise, blur, bias), so editing a parameter changes the version by
 * itself. What the hash cannot see is code: the shape functions, the order of random draws, and the inline
 * texture amplitudes and thresholds in `generateSubject`; editing those needs this bump. The phantom test
 * suite pins a checksum of one subject per version, so a forgotten bump fails there.
 */
export const GENERATOR_REVISION = 'acdc-phantom r4';

type Range = readonly [number, number];

/** Every numeric constant of the generator (ranges are [lo, hi] of a uniform draw; mm unless noted). */
export const PHANTOM_PARAMS = {
  geometry: {
    slices: [8, 14] as Range, // integer, inclusive
    matrix: [160, 256] as Range, // nx and ny independently, even, inclusive
    spacing: [1.2, 1.8] as Range, // in-plane, isotropic
    coverage: [60, 100] as Range, // base-to-apex extent; slice thickness = coverage / slices, clamped:
    thickness: [5, 10] as Range,
    tStart: [0, 0.04] as Range, // relative long-axis position of the first (basal) slice
    tEnd: [0.97, 1.0] as Range, // ... and of the last (apical) slice
    subSampleOffset: 0.3, // through-plane partial volume: ± this fraction of the slice step, weights 1/4 1/2 1/4
    affineRotation: 0.1, // rad, each Euler angle of the (small) slice-to-world rotation
    originJitter: 40,
  },
  heart: {
    centreOffset: 35, // max |offset| of the LV centre from the image centre per axis (less in small FOVs)
    centreMargin: 75, // keep the LV centre this far from the FOV edge
    rotation: [-0.7, 0.7] as Range, // rad, in-plane rotation of the whole anatomy
    lvRadius: [16, 30] as Range, // LV cavity radius at the base
    apexShrink: [0.88, 0.95] as Range, // cavity radius ∝ (1 − (a·t)^p)^(1/p)
    apexPower: [1.5, 2] as Range,
    ellipticity: [0, 0.12] as Range,
    wobble: [0.01, 0.04] as Range, // amplitude of Fourier harmonics 2..4 of the boundaries
    wall: [5, 12] as Range, // myocardial wall thickness at the base
    wallApexGain: [0, 0.2] as Range, // wall · (1 + gain · t)
    rvDirection: [0.1, 0.5] as Range, // rad beyond π (pointing left and anterior)
    rvThickness: [14, 26] as Range, // maximal RV crescent thickness at the base
    rvHalfWrap: [1.0, 1.5] as Range, // rad, angular half-extent of the crescent on each side
    rvVanish: [0.78, 0.92] as Range, // t where the RV vanishes
    rvPower: [1.5, 2.5] as Range, // thickness ∝ 1 − (t / vanish)^power
    rvWall: [2, 3.5] as Range,
    fat: [2, 6] as Range, // epicardial fat thickness scale
    papRadius: [3, 4.5] as Range,
    papAngle: [0.6, 0.95] as Range, // rad either side of the lateral wall
    papDepth: [0.55, 0.7] as Range, // fraction of the cavity radius
    trabeculae: 2.5, // width of the trabeculated zone inside the endocardium
    laRadius: [14, 20] as Range, // basal atrium / outflow blob
    laExtent: [0.15, 0.25] as Range, // t where it has gone
  },
  body: {
    centre: [
      [-5, 20],
      [25, 45],
    ] as readonly Range[], // body centre relative to the LV centre
    axes: [
      [150, 185],
      [110, 135],
    ] as readonly Range[],
    rotation: [-0.15, 0.15] as Range,
    subcutFat: [6, 18] as Range,
    muscle: [8, 18] as Range,
    edgeWobble: 5, // mm, times a very smooth field (textureCells[3])
    lungL: [
      [70, 90],
      [-20, 10],
      [45, 65],
      [70, 95],
    ] as readonly Range[], // centre u, v; semi-axes
    lungR: [
      [-110, -85],
      [-10, 20],
      [45, 65],
      [70, 95],
    ] as readonly Range[],
    lungGap: [3, 8] as Range, // soft tissue between heart and lung
    liver: [
      [-60, -20],
      [70, 100],
      [70, 100],
      [45, 65],
    ] as readonly Range[],
    aorta: [
      [1.0, 1.4],
      [3, 10],
      [9, 13],
    ] as readonly Range[], // direction (rad), gap to the heart's outline, radius
    spine: [
      [-30, -10],
      [25, 40],
      [14, 18],
    ] as readonly Range[], // centre u, v relative to the aorta; radius
  },
  intensity: {
    blood: [550, 900] as Range, // LV blood, scanner units
    rvBlood: [0.75, 1.0] as Range, // × blood
    myocardium: [0.15, 0.35] as Range, // × blood
    muscle: [0.7, 1.4] as Range, // × myocardium
    fat: [0.55, 1.1] as Range,
    soft: [0.2, 0.6] as Range,
    lung: [0.04, 0.09] as Range,
    liver: [0.25, 0.65] as Range,
    aorta: [0.85, 1.05] as Range,
    spine: 0.4,
    csf: 0.85,
    noise: [0.03, 0.1] as Range, // Rician σ × blood
    flow: [0.03, 0.25] as Range, // blood-pool inhomogeneity (inflow, slow flow): amplitude of a texture × blood
    blur: [0.5, 1.2] as Range,
    gamma: [0.7, 1.5] as Range, // contrast of the sequence and scanner: signal ∝ (relative intensity)^gamma // in-plane Gaussian σ, pixels
    bias: 0.35, // |coefficient| of each term of the log bias polynomial
    biasSlice: 0.25,
    biasClamp: 0.8,
    textureCells: [25, 10, 4, 70] as readonly number[], // value-noise cell sizes (coarse, medium, fine, outline)
  },
  /**
   * ACDC's five subject groups, equally likely: multipliers of the subject's draws above. DCM: dilated LV, thin
   * wall, slow flow; HCM: thick wall, small cavity; MINF: dilated LV with a thinned infarct sector (half-width
   * in rad, wall × thinning); ARV: an enlarged RV reaching further towards the apex.
   */
  groups: {
    NOR: {},
    DCM: { lvRadius: 1.4, wall: 0.6, flow: 2.5 },
    HCM: { lvRadius: 0.7, wall: 1.9, papillary: 1.6 },
    MINF: { lvRadius: 1.15, flow: 1.5, infarctHalfWidth: [0.5, 1.0] as Range, infarctThinning: [0.3, 0.5] as Range },
    ARV: { rvThickness: 2.0, rvHalfWrap: 1.3, rvVanish: 1.08 },
  } as Record<
    string,
    {
      lvRadius?: number;
      wall?: number;
      flow?: number;
      papillary?: number;
      rvThickness?: number;
      rvHalfWrap?: number;
      rvVanish?: number;
      infarctHalfWidth?: Range;
      infarctThinning?: Range;
    }
  >,
  angleBins: 720, // resolution of the tabulated radius functions
};
deepFreeze(PHANTOM_PARAMS);

function deepFreeze(o: object): void {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  Object.freeze(o);
}

/** FNV-1a (32-bit) of a string's UTF-16 code units, as 8 hex digits. */
export function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Identifies the generator's output: FNV-1a of `GENERATOR_REVISION` + JSON of `PHANTOM_PARAMS`. Two builds
 * with the same version generate the same subjects for the same (seed, index).
 */
export const PHANTOM_VERSION: string = fnv1a(GENERATOR_REVISION + JSON.stringify(PHANTOM_PARAMS));

export interface PhantomMeta {
  seed: number;
  index: number;
  /** the seed of the subject's own random streams, from (seed, index) */
  subjectSeed: number;
  version: string;
  /** slice 0 is basal, the last slice apical */
  sliceOrder: 'base-to-apex';
  /** relative long-axis position of each slice (0 base, 1 apex) */
  slicePositions: number[];
  dims: Vec3;
  spacing: Vec3;
  heart: {
    /** LV centre in voxel coordinates (i, j) */
    centreVoxel: [number, number];
    rotationRad: number;
    /** ACDC's subject group: NOR, DCM, HCM, MINF or ARV */
    group: string;
    lvRadiusMm: number;
    wallMm: number;
    ellipticity: number;
    rvThicknessMm: number;
    rvVanishT: number;
    /** in-plane direction of the RV from the LV centre, in image coordinates (i right, j down) */
    rvDirectionRad: number;
  };
  intensity: { blood: number; myocardium: number; noiseSigma: number };
}

export interface PhantomSubject {
  image: Volume;
  label: Volume;
  meta: PhantomMeta;
}

/** The seed of subject `index` of dataset `seed` (both safe integers). */
export function subjectSeed(seed: number, index: number): number {
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(index)) {
    throw new Error(`phantom: seed and index must be safe integers, got ${seed}, ${index}`);
  }
  let h = 0x811c9dc5;
  const words = [seed >>> 0, Math.floor(seed / 4294967296) >>> 0, index >>> 0, Math.floor(index / 4294967296) >>> 0];
  for (const w of words) {
    for (let b = 0; b < 4; b++) {
      h ^= (w >>> (8 * b)) & 0xff;
      h = Math.imul(h, 0x01000193);
    }
  }
  // final avalanche (murmur3 fmix32) so neighbouring indices give unrelated streams
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const u = (rng: Rng, r: Range) => rng.uniform(r[0], r[1]);
const mix = (s: number, k: number) => subjectSeed(s, k);

// heart tissue codes
const NONE = 0,
  RV = 1,
  MYO = 2,
  LV = 3,
  RVWALL = 4,
  EPIFAT = 5,
  PAP = 6;
const LABEL_OF = [0, 1, 2, 3, 0, 0, 3];

/** A smooth random field (two octaves of bilinear value noise with smoothstep), roughly unit variance. */
function valueNoise(rng: Rng, nx: number, ny: number, cellPx: number, out: Float32Array): void {
  out.fill(0);
  for (const [cell, amp] of [
    [cellPx, 1.2],
    [cellPx / 2, 0.6],
  ] as const) {
    const c = Math.max(cell, 1.5);
    const gx = Math.ceil(nx / c) + 2,
      gy = Math.ceil(ny / c) + 2;
    const g = new Float32Array(gx * gy);
    for (let q = 0; q < g.length; q++) g[q] = rng.normal();
    const ox = rng.next(),
      oy = rng.next();
    const ix = new Int32Array(nx),
      wx = new Float32Array(nx);
    for (let i = 0; i < nx; i++) {
      const f = i / c + ox,
        f0 = Math.floor(f),
        w = f - f0;
      ix[i] = f0;
      wx[i] = w * w * (3 - 2 * w);
    }
    for (let j = 0; j < ny; j++) {
      const f = j / c + oy,
        j0 = Math.floor(f),
        w0 = f - j0,
        wy = w0 * w0 * (3 - 2 * w0);
      const r0 = j0 * gx,
        r1 = r0 + gx;
      for (let i = 0; i < nx; i++) {
        const a = ix[i],
          w = wx[i];
        const top = g[r0 + a] + (g[r0 + a + 1] - g[r0 + a]) * w;
        const bot = g[r1 + a] + (g[r1 + a + 1] - g[r1 + a]) * w;
        out[j * nx + i] += amp * (top + (bot - top) * wy);
      }
    }
  }
}

/** Separable Gaussian blur of one nx×ny slice in place (edges clamped). */
function blur2d(img: Float32Array, nx: number, ny: number, sigma: number, tmp: Float32Array): void {
  const R = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float64Array(2 * R + 1);
  let s = 0;
  for (let d = -R; d <= R; d++) s += k[d + R] = Math.exp(-(d * d) / (2 * sigma * sigma));
  for (let d = 0; d < k.length; d++) k[d] /= s;
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    for (let i = 0; i < nx; i++) {
      let acc = 0;
      for (let d = -R; d <= R; d++) acc += k[d + R] * img[row + Math.min(nx - 1, Math.max(0, i + d))];
      tmp[row + i] = acc;
    }
  }
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      let acc = 0;
      for (let d = -R; d <= R; d++) acc += k[d + R] * tmp[Math.min(ny - 1, Math.max(0, j + d)) * nx + i];
      img[j * nx + i] = acc;
    }
  }
}

interface Harmonics {
  amp: number[];
  phase: number[];
  drift: number[];
}

function harmonics(rng: Rng, ampRange: Range): Harmonics {
  const h: Harmonics = { amp: [], phase: [], drift: [] };
  for (let m = 2; m <= 4; m++) {
    h.amp.push(u(rng, ampRange) / (m - 1));
    h.phase.push(rng.uniform(0, 2 * Math.PI));
    h.drift.push(rng.uniform(-1, 1));
  }
  return h;
}

function wobble(h: Harmonics, phi: number, t: number): number {
  let s = 0;
  for (let m = 0; m < h.amp.length; m++) s += h.amp[m] * Math.cos((m + 2) * phi + h.phase[m] + h.drift[m] * t);
  return s;
}

/** Smallest signed difference a − b of two angles, in (−π, π]. */
function angleDiff(a: number, b: number): number {
  let d = (a - b) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d <= -Math.PI) d += 2 * Math.PI;
  return d;
}

interface SliceHeart {
  rc: Float32Array; // LV cavity radius per angle bin (NA + 1 entries, last = first)
  re: Float32Array; // epicardial radius
  rvOut: Float32Array; // outer radius of the RV cavity (= re where there is none)
  wallOut: Float32Array; // outer radius of the RV free wall
  fatOut: Float32Array; // outer radius of the epicardial fat
  rMax: number;
  pap: [number, number, number][]; // papillary muscles: u, v, radius
}

interface Subject {
  lvRadius: number;
  apexShrink: number;
  apexPower: number;
  ell: number;
  ellAngle: number;
  wall: number;
  wallGain: number;
  cavH: Harmonics;
  wallH: Harmonics;
  rvH: Harmonics;
  fatH: Harmonics;
  rvDir: number;
  rvT: number;
  rvWrapPlus: number;
  rvWrapMinus: number;
  rvVanish: number;
  rvPower: number;
  rvWall: number;
  fat: number;
  papR: number[];
  papA: number[];
  papD: number[];
  /** MINF: wall thinning over an angular sector (centre angle, half-width, wall factor at its centre) */
  infarct: { angle: number; half: number; thinning: number } | null;
}

function heartAt(S: Subject, t: number): SliceHeart {
  const NA = PHANTOM_PARAMS.angleBins;
  const rc = new Float32Array(NA + 1),
    re = new Float32Array(NA + 1),
    rvOut = new Float32Array(NA + 1);
  const wallOut = new Float32Array(NA + 1),
    fatOut = new Float32Array(NA + 1);
  const base = S.lvRadius * Math.max(0, 1 - (S.apexShrink * Math.max(0, t)) ** S.apexPower) ** (1 / S.apexPower);
  const wall = S.wall * (1 + S.wallGain * t);
  const tv = Math.max(0, t) / S.rvVanish;
  const g = tv >= 1 ? 0 : 1 - tv ** S.rvPower;
  const wrap = 0.7 + 0.3 * g;
  let rMax = 0;
  for (let a = 0; a < NA; a++) {
    const phi = (2 * Math.PI * a) / NA - Math.PI;
    const c = Math.cos(phi - S.ellAngle) / (1 + S.ell),
      s = Math.sin(phi - S.ellAngle) / (1 - S.ell);
    const cav = (base / Math.sqrt(c * c + s * s)) * (1 + wobble(S.cavH, phi, t));
    let wf = 1;
    if (S.infarct) {
      const di = angleDiff(phi, S.infarct.angle) / S.infarct.half;
      if (Math.abs(di) < 1) wf = 1 - (1 - S.infarct.thinning) * Math.cos((Math.PI / 2) * di) ** 2;
    }
    const ep = cav + wall * wf * (1 + 2 * wobble(S.wallH, phi, t));
    const d = angleDiff(phi, S.rvDir);
    const half = (d >= 0 ? S.rvWrapPlus : S.rvWrapMinus) * wrap;
    let T = 0;
    if (g > 0 && Math.abs(d) < half)
      T = S.rvT * g * Math.cos((Math.PI / 2) * (d / half)) ** 0.7 * (1 + 3 * wobble(S.rvH, phi, t));
    T = Math.max(0, T);
    const rw = T > 0 ? S.rvWall * Math.min(1, T / 3) : 0;
    const fatT = S.fat * (1.4 - t) * Math.max(0, 0.3 + 8 * wobble(S.fatH, phi, 0.5 * t));
    rc[a] = cav;
    re[a] = ep;
    rvOut[a] = ep + T;
    wallOut[a] = ep + T + rw;
    fatOut[a] = ep + T + rw + fatT;
    rMax = Math.max(rMax, fatOut[a]);
  }
  for (const arr of [rc, re, rvOut, wallOut, fatOut]) arr[NA] = arr[0];
  const pap: [number, number, number][] = [];
  const papScale = t < 0.1 || t > 0.9 ? 0 : Math.sin((Math.PI * (t - 0.1)) / 0.8);
  if (papScale > 0.2 && base > 8) {
    for (let p = 0; p < 2; p++) {
      const ang = S.rvDir + Math.PI + (p === 0 ? 1 : -1) * S.papA[p];
      const rr = S.papD[p] * base;
      pap.push([rr * Math.cos(ang), rr * Math.sin(ang), S.papR[p] * papScale]);
    }
  }
  return { rc, re, rvOut, wallOut, fatOut, rMax: rMax + 1, pap };
}

/** A tabulated radius function at an angle. */
function radiusAt(arr: Float32Array, angle: number): number {
  const NA = PHANTOM_PARAMS.angleBins;
  const f = (((angleDiff(angle, -Math.PI) + 2 * Math.PI) % (2 * Math.PI)) / (2 * Math.PI)) * NA;
  const b = Math.min(NA - 1, Math.floor(f));
  return arr[b] + (arr[b + 1] - arr[b]) * (f - b);
}

function heartTissue(h: SliceHeart, r: number, bin: number, w: number, uu: number, vv: number): number {
  if (r >= h.rMax) return NONE;
  const b1 = bin + 1;
  if (r < h.rc[bin] + (h.rc[b1] - h.rc[bin]) * w) {
    for (const [pu, pv, pr] of h.pap) if ((uu - pu) ** 2 + (vv - pv) ** 2 < pr * pr) return PAP;
    return LV;
  }
  if (r < h.re[bin] + (h.re[b1] - h.re[bin]) * w) return MYO;
  if (r < h.rvOut[bin] + (h.rvOut[b1] - h.rvOut[bin]) * w) return RV;
  if (r < h.wallOut[bin] + (h.wallOut[b1] - h.wallOut[bin]) * w) return RVWALL;
  if (r < h.fatOut[bin] + (h.fatOut[b1] - h.fatOut[bin]) * w) return EPIFAT;
  return NONE;
}

/** Level function of an axis-aligned ellipse: normalised radius − 1 (< 0 inside); callers perturb the level. */
function ellipseLevel(uu: number, vv: number, cu: number, cv: number, au: number, av: number): number {
  const a = (uu - cu) / au,
    b = (vv - cv) / av;
  return Math.sqrt(a * a + b * b) - 1;
}

type PhantomParams = typeof PHANTOM_PARAMS;

/** The acquisition: slice count, matrix, spacing and the slices' long-axis positions. */
function drawAcquisition(rng: Rng, G: PhantomParams['geometry']) {
  const nz = G.slices[0] + rng.int(G.slices[1] - G.slices[0] + 1);
  const even = (r: Range) => 2 * (r[0] / 2 + rng.int((r[1] - r[0]) / 2 + 1));
  const nx = even(G.matrix),
    ny = even(G.matrix);
  const sp = u(rng, G.spacing);
  const thick = Math.min(G.thickness[1], Math.max(G.thickness[0], u(rng, G.coverage) / nz));
  const spacing: Vec3 = [sp, sp, thick];
  const t0 = u(rng, G.tStart),
    t1 = u(rng, G.tEnd);
  const tPos = Array.from({ length: nz }, (_, k) => t0 + ((t1 - t0) * k) / (nz - 1));
  const dt = G.subSampleOffset * ((t1 - t0) / (nz - 1));
  return { nx, ny, nz, sp, spacing, tPos, dt };
}

/** The heart's shape parameters, before the subject's group scales them. */
function drawHeart(rng: Rng, H: PhantomParams['heart']): Subject {
  return {
    lvRadius: u(rng, H.lvRadius),
    apexShrink: u(rng, H.apexShrink),
    apexPower: u(rng, H.apexPower),
    ell: u(rng, H.ellipticity),
    ellAngle: rng.uniform(0, Math.PI),
    wall: u(rng, H.wall),
    wallGain: u(rng, H.wallApexGain),
    cavH: harmonics(rng, H.wobble),
    wallH: harmonics(rng, H.wobble),
    rvH: harmonics(rng, H.wobble),
    fatH: harmonics(rng, H.wobble),
    rvDir: Math.PI + u(rng, H.rvDirection),
    rvT: u(rng, H.rvThickness),
    rvWrapPlus: u(rng, H.rvHalfWrap),
    rvWrapMinus: u(rng, H.rvHalfWrap),
    rvVanish: u(rng, H.rvVanish),
    rvPower: u(rng, H.rvPower),
    rvWall: u(rng, H.rvWall),
    fat: u(rng, H.fat),
    papR: [u(rng, H.papRadius), u(rng, H.papRadius)],
    papA: [u(rng, H.papAngle), u(rng, H.papAngle)],
    papD: [u(rng, H.papDepth), u(rng, H.papDepth)],
    infarct: null,
  };
}

/** Draw the subject's ACDC group from its own stream `grng` and scale the heart `S` by it; returns the group
 *  and its blood-flow gain. */
function applyGroup(S: Subject, grng: Rng, groups: PhantomParams['groups']): { group: string; flowGain: number } {
  const groupNames = Object.keys(groups),
    group = groupNames[grng.int(groupNames.length)],
    Gp = groups[group];
  S.lvRadius *= Gp.lvRadius ?? 1;
  S.wall *= Gp.wall ?? 1;
  S.papR = S.papR.map((r) => r * (Gp.papillary ?? 1));
  S.rvT *= Gp.rvThickness ?? 1;
  S.rvVanish = Math.min(0.99, S.rvVanish * (Gp.rvVanish ?? 1));
  S.rvWrapPlus *= Gp.rvHalfWrap ?? 1;
  S.rvWrapMinus *= Gp.rvHalfWrap ?? 1;
  if (Gp.infarctHalfWidth && Gp.infarctThinning) {
    S.infarct = {
      angle: grng.uniform(-Math.PI, Math.PI),
      half: u(grng, Gp.infarctHalfWidth),
      thinning: u(grng, Gp.infarctThinning),
    };
  }
  return { group, flowGain: Gp.flow ?? 1 };
}

/** The body outline and the organs around the heart, in the heart frame (aorta and spine: raw draws, placed
 *  once the heart's outline is known). */
function drawBody(rng: Rng, B: PhantomParams['body']) {
  const bc = [u(rng, B.centre[0]), u(rng, B.centre[1])],
    ba = [u(rng, B.axes[0]), u(rng, B.axes[1])];
  const brot = u(rng, B.rotation),
    bcr = Math.cos(brot),
    bsr = Math.sin(brot);
  const fsc = u(rng, B.subcutFat),
    musc = u(rng, B.muscle);
  const lungL = B.lungL.map((r) => u(rng, r)),
    lungR = B.lungR.map((r) => u(rng, r));
  const lungGap = u(rng, B.lungGap);
  const liver = B.liver.map((r) => u(rng, r)),
    ao = B.aorta.map((r) => u(rng, r)),
    sp0 = B.spine.map((r) => u(rng, r));
  return { bc, ba, bcr, bsr, fsc, musc, lungL, lungR, lungGap, liver, ao, sp0 };
}

/** Tissue intensities relative to LV blood, and the image formation's blur, contrast, bias and noise. */
function drawTones(rng: Rng, I: PhantomParams['intensity'], flowGain: number) {
  const blood = u(rng, I.blood),
    rvBlood = u(rng, I.rvBlood),
    myo = u(rng, I.myocardium);
  const muscle = myo * u(rng, I.muscle),
    fat = u(rng, I.fat),
    soft = u(rng, I.soft),
    lung = u(rng, I.lung);
  const liverI = u(rng, I.liver),
    aortaI = u(rng, I.aorta);
  const sigma = blood * u(rng, I.noise),
    blurSigma = u(rng, I.blur),
    flow = u(rng, I.flow) * flowGain;
  const gamma = u(rng, I.gamma);
  const bias = Array.from({ length: 5 }, () => rng.uniform(-I.bias, I.bias));
  const biasZ = rng.uniform(-I.biasSlice, I.biasSlice);
  return { blood, rvBlood, myo, muscle, fat, soft, lung, liverI, aortaI, sigma, blurSigma, flow, gamma, bias, biasZ };
}

type Body = ReturnType<typeof drawBody> & { aorta: number[]; spine: number[] };
type Tones = ReturnType<typeof drawTones>;

/** What one slice's pixels share: the heart at its three sub-positions, the liver's and atrium's extent. */
interface SliceScene {
  hearts: SliceHeart[];
  rMax: number;
  liverScale: number;
  laU: number;
  laV: number;
  laRad: number;
}

/** The four texture fields of a slice at one pixel: coarse, medium, fine, and the body outline's. */
interface Texture {
  c: number;
  m: number;
  fi: number;
  outline: number;
}

/**
 * Intensity of everything but the heart at heart-frame (uu, vv), r from the LV centre; `outer` is the heart's
 * outline radius in this direction (−∞ where it was not needed).
 */
function surroundings(
  b: Body,
  tn: Tones,
  sc: SliceScene,
  uu: number,
  vv: number,
  r: number,
  outer: number,
  x: Texture,
) {
  const { c, m, fi } = x;
  const I = PHANTOM_PARAMS.intensity;
  const bu = uu - b.bc[0],
    bv = vv - b.bc[1];
  const pu = b.bcr * bu + b.bsr * bv,
    pv = -b.bsr * bu + b.bcr * bv;
  const q = Math.sqrt((pu / b.ba[0]) ** 2 + (pv / b.ba[1]) ** 2);
  const depth =
    (q > 1e-6 ? Math.sqrt(pu * pu + pv * pv) * (1 / q - 1) : 1e3) + PHANTOM_PARAMS.body.edgeWobble * x.outline;
  if (depth < 0) return 0;
  if (depth < b.fsc + 3 * x.outline) return tn.fat * (1 + 0.1 * c + 0.06 * m);
  if (depth < b.fsc + b.musc + 3 * x.outline + c) return tn.muscle * (1 + 0.08 * m + 0.05 * fi);
  let bg = tn.soft * (1 + 0.15 * c + 0.1 * m + 0.06 * fi);
  if (c + 0.5 * m > 1.3) bg = tn.fat * (0.85 + 0.1 * m); // mediastinal fat patches
  const inner = depth > b.fsc + b.musc + 8;
  const lungOk = inner && r - outer > b.lungGap + 2 * m;
  const [lungL, lungR, liver, aorta, spine] = [b.lungL, b.lungR, b.liver, b.aorta, b.spine];
  if (
    lungOk &&
    (ellipseLevel(uu, vv, lungL[0], lungL[1], lungL[2], lungL[3]) < 0.12 * c + 0.05 * m ||
      ellipseLevel(uu, vv, lungR[0], lungR[1], lungR[2], lungR[3]) < 0.12 * c + 0.05 * m)
  ) {
    bg = tn.lung * Math.max(0.2, 1 + 0.4 * m + 0.3 * fi);
    if (fi > 1.9) bg += 0.25; // pulmonary vessels
  }
  const ls = sc.liverScale;
  if (
    inner &&
    r - outer > 3 &&
    ellipseLevel(uu, vv, liver[0], liver[1], liver[2] * ls, liver[3] * ls) < 0.08 * c + 0.04 * m
  ) {
    bg = tn.liverI * (1 + 0.06 * c + 0.05 * m);
    if (fi > 2.3) bg *= 1.8; // hepatic vessels
  }
  if ((uu - aorta[0]) ** 2 + (vv - aorta[1]) ** 2 < aorta[2] ** 2) bg = tn.aortaI * (1 + 0.03 * m);
  const ds = (uu - spine[0]) ** 2 + (vv - spine[1]) ** 2;
  if (ds < spine[2] ** 2) bg = I.spine * (ds > (spine[2] - 2) ** 2 ? 0.6 : 1 + 0.2 * fi);
  if ((uu - spine[0]) ** 2 + (vv - spine[1] - spine[2] - 9) ** 2 < 49) bg = I.csf;
  if (sc.laRad > 1 && (uu - sc.laU) ** 2 + (vv - sc.laV) ** 2 < sc.laRad * sc.laRad) bg = 0.95 * (1 + 0.03 * m);
  return bg;
}

/** Intensity of heart tissue `code` of heart `h` (at angle bin + w, radius r); `bg` where it is none. */
function tissueIntensity(
  code: number,
  tn: Tones,
  h: SliceHeart,
  r: number,
  bin: number,
  w: number,
  x: Texture,
  bg: number,
) {
  const { c, m, fi } = x;
  switch (code) {
    case LV: {
      let v = 1 + 0.04 * c + tn.flow * m;
      const rcv = h.rc[bin] + (h.rc[bin + 1] - h.rc[bin]) * w;
      if (rcv - r < PHANTOM_PARAMS.heart.trabeculae && fi > 0) v *= 1 - 0.45 * Math.min(1, fi);
      return v;
    }
    case PAP:
      return tn.myo * (1.1 + 0.05 * fi);
    case MYO:
      return tn.myo * (1 + 0.05 * m + 0.03 * fi);
    case RV:
      return tn.rvBlood * (1 + 0.04 * c + tn.flow * m);
    case RVWALL:
      return tn.myo;
    case EPIFAT:
      return tn.fat * (1 + 0.08 * m);
    default:
      return bg;
  }
}

/** Image geometry of the heart frame: LV centre offset (mm) and the in-plane rotation's cosine and sine. */
interface Frame {
  nx: number;
  ny: number;
  sp: number;
  hx: number;
  hy: number;
  cr: number;
  sr: number;
}

/**
 * One slice's noise-free intensities into `sl` and labels into `lab` (nx × ny each), with through-plane
 * partial volume: the sub-positions t − dt, t, t + dt weigh 1/4, 1/2, 1/4; the label is the middle one's.
 */
function renderSlice(
  f: Frame,
  b: Body,
  tn: Tones,
  sc: SliceScene,
  tex: Float32Array[],
  sl: Float32Array,
  lab: Float32Array,
) {
  const [nC, nM, nF, nB] = tex,
    hk = sc.hearts,
    hc = hk[1];
  const NA = PHANTOM_PARAMS.angleBins;
  const cxImg = (f.nx - 1) / 2,
    cyImg = (f.ny - 1) / 2;
  for (let j = 0; j < f.ny; j++) {
    const y = (j - cyImg) * f.sp - f.hy;
    for (let i = 0; i < f.nx; i++) {
      const p = j * f.nx + i;
      const x = (i - cxImg) * f.sp - f.hx;
      const uu = f.cr * x + f.sr * y,
        vv = -f.sr * x + f.cr * y;
      const r = Math.sqrt(uu * uu + vv * vv);
      const t: Texture = { c: nC[p], m: nM[p], fi: nF[p], outline: nB[p] };
      // the angle about the LV centre, only where the heart or its distance to the lungs/liver matters
      const near = r < sc.rMax || r - hc.rMax <= Math.max(3, b.lungGap + 2 * t.m);
      let bin = 0,
        w = 0;
      if (near) {
        const a = ((Math.atan2(vv, uu) + Math.PI) / (2 * Math.PI)) * NA;
        bin = Math.min(NA - 1, Math.max(0, Math.floor(a)));
        w = a - bin;
      }
      const outer = near ? hc.fatOut[bin] + (hc.fatOut[bin + 1] - hc.fatOut[bin]) * w : -Infinity;
      const bg = surroundings(b, tn, sc, uu, vv, r, outer, t);
      let val = bg,
        label = 0;
      if (r < sc.rMax) {
        val = 0;
        for (let s = 0; s < 3; s++) {
          const code = heartTissue(hk[s], r, bin, w, uu, vv);
          val += (s === 1 ? 0.5 : 0.25) * tissueIntensity(code, tn, hk[s], r, bin, w, t, bg);
          if (s === 1) label = LABEL_OF[code];
        }
      }
      sl[p] = val;
      lab[p] = label;
    }
  }
}

/** The scanner's signal from a blurred slice: contrast curve, smooth bias field, then Rician noise. */
function acquireSlice(tn: Tones, t: number, sl: Float32Array, nx: number, ny: number, noise: Rng, img: Float32Array) {
  const I = PHANTOM_PARAMS.intensity,
    bias = tn.bias;
  const cxImg = (nx - 1) / 2,
    cyImg = (ny - 1) / 2;
  for (let j = 0; j < ny; j++) {
    const yn = (j - cyImg) / (ny / 2);
    for (let i = 0; i < nx; i++) {
      const xn = (i - cxImg) / (nx / 2);
      let lb =
        bias[0] * xn + bias[1] * yn + bias[2] * xn * xn + bias[3] * yn * yn + bias[4] * xn * yn + tn.biasZ * (t - 0.5);
      lb = Math.max(-I.biasClamp, Math.min(I.biasClamp, lb));
      const s0 = tn.blood * Math.exp(lb) * Math.pow(Math.max(0, sl[j * nx + i]), tn.gamma); // texture can dip below 0
      const re = s0 + tn.sigma * noise.normal(),
        im = tn.sigma * noise.normal();
      img[j * nx + i] = Math.sqrt(re * re + im * im);
    }
  }
}

/** Voxel → world: R · diag(spacing) for Euler angles `ea`, the origin such that the volume centre sits near
 *  the world origin (`origin`: its jitter). Row-major 4 × 4. */
function voxelToWorld(ea: number[], origin: number[], dims: Vec3, spacing: Vec3): number[] {
  const [a, b, g] = ea;
  const Rx = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const Ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const Rz = [Math.cos(g), -Math.sin(g), 0, Math.sin(g), Math.cos(g), 0, 0, 0, 1];
  const mul = (A: number[], Bm: number[]) =>
    Array.from(
      { length: 9 },
      (_, e) =>
        A[3 * Math.floor(e / 3)] * Bm[e % 3] +
        A[3 * Math.floor(e / 3) + 1] * Bm[3 + (e % 3)] +
        A[3 * Math.floor(e / 3) + 2] * Bm[6 + (e % 3)],
    );
  const R = mul(Rz, mul(Ry, Rx));
  const centre = [((dims[0] - 1) / 2) * spacing[0], ((dims[1] - 1) / 2) * spacing[1], ((dims[2] - 1) / 2) * spacing[2]];
  const affine: number[] = [];
  for (let row = 0; row < 3; row++) {
    const o = origin[row] - (R[3 * row] * centre[0] + R[3 * row + 1] * centre[1] + R[3 * row + 2] * centre[2]);
    affine.push(R[3 * row] * spacing[0], R[3 * row + 1] * spacing[1], R[3 * row + 2] * spacing[2], o);
  }
  affine.push(0, 0, 0, 1);
  return affine;
}

/** The basal atrium / outflow blob: radius, the long-axis position where it has gone, and its direction. */
interface Atrium {
  laR: number;
  laExt: number;
  laAng: number;
}

/** All slices: textures from `tex`, then the heart and surroundings, blur, bias and noise from `noise`. */
function renderVolume(
  f: Frame,
  body: Body,
  tones: Tones,
  hearts: SliceHeart[][],
  tPos: number[],
  la: Atrium,
  tex: Rng,
  noise: Rng,
): { img: Float32Array; lab: Float32Array } {
  const { nx, ny, sp } = f,
    N = nx * ny,
    nz = tPos.length;
  const img = new Float32Array(N * nz),
    lab = new Float32Array(N * nz);
  const textures = [0, 1, 2, 3].map(() => new Float32Array(N));
  const sl = new Float32Array(N),
    tmp = new Float32Array(N);
  for (let k = 0; k < nz; k++) {
    const t = tPos[k];
    const hk = hearts[k];
    textures.forEach((field, q) => valueNoise(tex, nx, ny, PHANTOM_PARAMS.intensity.textureCells[q] / sp, field));
    const laScale = t >= la.laExt ? 0 : 1 - t / la.laExt;
    const laDist = radiusAt(hk[1].fatOut, la.laAng) + la.laR * laScale * 0.6;
    const scene: SliceScene = {
      hearts: hk,
      rMax: Math.max(hk[0].rMax, hk[1].rMax, hk[2].rMax),
      liverScale: 0.4 + 0.8 * t,
      laU: laDist * Math.cos(la.laAng),
      laV: laDist * Math.sin(la.laAng),
      laRad: la.laR * laScale,
    };
    renderSlice(f, body, tones, scene, textures, sl, lab.subarray(k * N, (k + 1) * N));
    blur2d(sl, nx, ny, tones.blurSigma, tmp);
    acquireSlice(tones, t, sl, nx, ny, noise, img.subarray(k * N, (k + 1) * N));
  }
  return { img, lab };
}

/**
 * Subject `index` of the synthetic dataset `seed`: a short-axis cine MR volume (end-diastole, slices base
 * to apex) and its label volume (0 background, 1 RV, 2 myocardium, 3 LV). Deterministic in (seed, index).
 * The random draws happen in a fixed order (acquisition, heart, group, atrium, body, tones, affine, then the
 * slices' textures and noise): reordering them changes every subject.
 */
export function generateSubject(seed: number, index: number): PhantomSubject {
  const sSeed = subjectSeed(seed, index);
  const P = PHANTOM_PARAMS,
    G = P.geometry,
    H = P.heart,
    I = P.intensity;
  const rng = new Rng(mix(sSeed, 1)); // geometry and anatomy
  const tex = new Rng(mix(sSeed, 2)); // textures
  const noise = new Rng(mix(sSeed, 3)); // Rician noise

  const { nx, ny, nz, sp, spacing, tPos, dt } = drawAcquisition(rng, G);
  const fovX = nx * sp,
    fovY = ny * sp;
  const lim = Math.max(0, Math.min(H.centreOffset, Math.min(fovX, fovY) / 2 - H.centreMargin));
  const hx = rng.uniform(-lim, lim),
    hy = rng.uniform(-lim, lim);
  const rot = u(rng, H.rotation),
    cr = Math.cos(rot),
    sr = Math.sin(rot);
  const S = drawHeart(rng, H);
  // the subject's group (its own stream, so the draws above do not depend on it)
  const { group, flowGain } = applyGroup(S, new Rng(mix(sSeed, 4)), P.groups);
  const rvDir = S.rvDir;
  const laR = u(rng, H.laRadius),
    laExt = u(rng, H.laExtent),
    laAng = rvDir + Math.PI + rng.uniform(0.6, 1.2);
  const drawn = drawBody(rng, P.body);
  // the heart's tables per slice (sub-positions t − dt, t, t + dt); the aorta sits outside the largest outline
  const hearts = tPos.map((t) => [heartAt(S, t - dt), heartAt(S, t), heartAt(S, t + dt)]);
  const outline = Math.max(...hearts.map((h) => h[1].rMax));
  const { ao, sp0 } = drawn;
  const aoD = outline + ao[1] + ao[2];
  const aorta = [aoD * Math.cos(ao[0]), aoD * Math.sin(ao[0]), ao[2]];
  const body: Body = { ...drawn, aorta, spine: [aorta[0] + sp0[0], aorta[1] + sp0[1], sp0[2]] };
  const tones = drawTones(rng, I, flowGain);
  // affine: small rotation, spacing, origin
  const ea = [0, 1, 2].map(() => rng.uniform(-G.affineRotation, G.affineRotation));
  const origin = [0, 1, 2].map(() => rng.uniform(-G.originJitter, G.originJitter));

  const frame: Frame = { nx, ny, sp, hx, hy, cr, sr };
  const { img, lab } = renderVolume(frame, body, tones, hearts, tPos, { laR, laExt, laAng }, tex, noise);

  const dims: Vec3 = [nx, ny, nz];
  const affine = voxelToWorld(ea, origin, dims, spacing);
  const source = `phantom-${seed}-${index}`;
  const rvImg = Math.atan2(Math.sin(rvDir) * cr + Math.cos(rvDir) * sr, Math.cos(rvDir) * cr - Math.sin(rvDir) * sr);
  return {
    image: { data: img, dims: [...dims], spacing: [...spacing], affine: [...affine], source },
    label: { data: lab, dims: [...dims], spacing: [...spacing], affine: [...affine], source: `${source}-label` },
    meta: {
      seed,
      index,
      subjectSeed: sSeed,
      version: PHANTOM_VERSION,
      sliceOrder: 'base-to-apex',
      slicePositions: tPos,
      dims,
      spacing,
      heart: {
        centreVoxel: [(nx - 1) / 2 + hx / sp, (ny - 1) / 2 + hy / sp],
        rotationRad: rot,
        group,
        lvRadiusMm: S.lvRadius,
        wallMm: S.wall,
        ellipticity: S.ell,
        rvThicknessMm: S.rvT,
        rvVanishT: S.rvVanish,
        rvDirectionRad: rvImg,
      },
      intensity: { blood: tones.blood, myocardium: tones.blood * tones.myo, noiseSigma: tones.sigma },
    },
  };
}
