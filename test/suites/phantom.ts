// The synthetic ACDC-like dataset (src/data/phantom.ts): determinism, ranges, anatomy from base to apex,
// and that an intensity-threshold baseline stays far from solving it (so the method has room to show).
import { type TestCase, assert, assertBitwise } from '../harness.ts';
import { generateSubject, fnv1a, PHANTOM_VERSION, type PhantomSubject } from '../../src/data/phantom.ts';
import { spacingFromAffine, type Volume } from '../../src/volume/volume.ts';

const SEED = 1,
  SUBJECTS = 6;

/**
 * Output checksums per PHANTOM_VERSION for subject (SEED, 0) on V8 (Node, Deno, Chromium). A code change that
 * alters the output without bumping GENERATOR_REVISION fails here; after a bump, add the new pair.
 */
const KNOWN_CHECKSUMS: Record<string, string> = {
  '1462f2e0': '8a4872e8', // acdc-phantom r1
  '23fa0bf2': 'f256cc5e', // acdc-phantom r2: wider contrast, bias, noise, blur, heart size and pose; blood-pool inhomogeneity
  '0b676e28': '620264c7', // acdc-phantom r3: ACDC's five subject groups (NOR, DCM, HCM, MINF, ARV)
  '94210cb6': 'aa329680', // acdc-phantom r4: stronger group effects, a per-subject contrast curve
};

const cache = new Map<number, PhantomSubject>();
function subject(index: number): PhantomSubject {
  let s = cache.get(index);
  if (!s) {
    s = generateSubject(SEED, index);
    cache.set(index, s);
  }
  return s;
}
const subjects = () => Array.from({ length: SUBJECTS }, (_, i) => subject(i));

function checksum(...arrays: Float32Array[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Voxel count of each class in each slice: counts[k][c]. */
function sliceCounts(label: Volume): number[][] {
  const [nx, ny, nz] = label.dims,
    N = nx * ny;
  return Array.from({ length: nz }, (_, k) => {
    const c = [0, 0, 0, 0];
    for (let p = k * N; p < (k + 1) * N; p++) c[label.data[p]]++;
    return c;
  });
}

/** §3.2 partitions: S chunks of ⌊n/S⌋ consecutive slices (the last n mod S slices are left out). */
function partitions(n: number, S = 4): number[][] {
  const m = Math.floor(n / S);
  return Array.from({ length: S }, (_, s) => Array.from({ length: m }, (_, i) => s * m + i));
}

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

export interface BaselineResult {
  /** mean 3-D Dice over classes 1..3 */
  mean: number;
  /** Dice of RV, myocardium, LV */
  dice: [number, number, number];
  thresholds: [number, number];
}

/**
 * A per-volume intensity-threshold baseline with oracle thresholds: voxels ≥ t2 are blood, t1 ≤ v < t2
 * myocardium, the rest background; t1 ≤ t2 are chosen (over 128 intensity bins) to maximise the mean
 * foreground Dice against the truth. Blood becomes
 * - 'plain': LV (a threshold cannot tell LV from RV blood);
 * - 'split': RV where the voxel is nearer its slice's true RV centroid than the true LV centroid, else LV
 *   (an oracle septum);
 * - 'roi': as 'split', and everything outside the true heart's bounding box (dilated by 10 mm) per slice is
 *   background: an oracle localisation, showing that the information is there locally.
 */
export function thresholdBaseline(image: Volume, label: Volume, mode: 'plain' | 'split' | 'roi'): BaselineResult {
  const [nx, ny, nz] = image.dims,
    N = nx * ny,
    x = image.data,
    y = label.data;
  const sorted = Float32Array.from(x).sort();
  const lo = sorted[0],
    hi = sorted[Math.floor(0.999 * (sorted.length - 1))];
  const NB = 128;
  // cnt[(group * 4 + class) * NB + bin]; group 0: blood → LV, 1: blood → RV, 2: outside the ROI
  const cnt = new Float64Array(3 * 4 * NB);
  const pad = Math.ceil(10 / image.spacing[0]);
  for (let k = 0; k < nz; k++) {
    const cen = [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    let i0 = nx,
      i1 = -1,
      j0 = ny,
      j1 = -1;
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const c = y[k * N + j * nx + i];
        cen[c][0] += i;
        cen[c][1] += j;
        cen[c][2]++;
        if (c > 0) {
          i0 = Math.min(i0, i);
          i1 = Math.max(i1, i);
          j0 = Math.min(j0, j);
          j1 = Math.max(j1, j);
        }
      }
    const lv = cen[3],
      rv = cen[1];
    const split = mode !== 'plain' && rv[2] > 0 && lv[2] > 0;
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = k * N + j * nx + i;
        const bin = Math.min(NB - 1, Math.max(0, Math.floor(((x[p] - lo) / (hi - lo)) * NB)));
        let g = 0;
        if (mode === 'roi' && (i < i0 - pad || i > i1 + pad || j < j0 - pad || j > j1 + pad)) g = 2;
        else if (split) {
          const dl = (i - lv[0] / lv[2]) ** 2 + (j - lv[1] / lv[2]) ** 2;
          const dr = (i - rv[0] / rv[2]) ** 2 + (j - rv[1] / rv[2]) ** 2;
          if (dr < dl) g = 1;
        }
        cnt[(g * 4 + y[p]) * NB + bin]++;
      }
  }
  // cum[(g * 4 + c) * (NB + 1) + b] = count in bins < b
  const cum = new Float64Array(3 * 4 * (NB + 1));
  for (let gc = 0; gc < 12; gc++) {
    for (let b = 0; b < NB; b++) cum[gc * (NB + 1) + b + 1] = cum[gc * (NB + 1) + b] + cnt[gc * NB + b];
  }
  const range = (g: number, c: number, b0: number, b1: number) =>
    cum[(g * 4 + c) * (NB + 1) + b1] - cum[(g * 4 + c) * (NB + 1) + b0];
  const truth = [0, 1, 2, 3].map((c) => range(0, c, 0, NB) + range(1, c, 0, NB) + range(2, c, 0, NB));
  const dice = (tp: number, pred: number, t: number) => (pred + t === 0 ? 1 : (2 * tp) / (pred + t));
  let best: BaselineResult = { mean: -1, dice: [0, 0, 0], thresholds: [0, 0] };
  for (let b1 = 0; b1 <= NB; b1++) {
    for (let b2 = b1; b2 <= NB; b2++) {
      let myoPred = 0,
        lvPred = 0,
        rvPred = 0;
      for (let c = 0; c < 4; c++) {
        myoPred += range(0, c, b1, b2) + range(1, c, b1, b2);
        lvPred += range(0, c, b2, NB);
        rvPred += range(1, c, b2, NB);
      }
      const dMyo = dice(range(0, 2, b1, b2) + range(1, 2, b1, b2), myoPred, truth[2]);
      const dLv = dice(range(0, 3, b2, NB), lvPred, truth[3]);
      const dRv = dice(range(1, 1, b2, NB), rvPred, truth[1]);
      const m = (dRv + dMyo + dLv) / 3;
      if (m > best.mean) {
        const t = (b: number) => lo + ((hi - lo) * b) / NB;
        best = { mean: m, dice: [dRv, dMyo, dLv], thresholds: [t(b1), t(b2)] };
      }
    }
  }
  return best;
}

export const phantomCases: TestCase[] = [
  {
    name: 'phantom: PHANTOM_VERSION is a stable 8-hex-digit hash that pins the output',
    async run() {
      assert(fnv1a('') === '811c9dc5' && fnv1a('a') === 'e40c292c', 'FNV-1a test vectors');
      assert(
        typeof PHANTOM_VERSION === 'string' && /^[0-9a-f]{8}$/.test(PHANTOM_VERSION),
        `PHANTOM_VERSION '${PHANTOM_VERSION}'`,
      );
      const s = subject(0);
      assert(s.meta.version === PHANTOM_VERSION, 'meta.version is PHANTOM_VERSION');
      const sum = checksum(s.image.data, s.label.data);
      const want = KNOWN_CHECKSUMS[PHANTOM_VERSION];
      assert(
        want !== undefined,
        `PHANTOM_VERSION ${PHANTOM_VERSION} is new: add '${PHANTOM_VERSION}': '${sum}' to KNOWN_CHECKSUMS`,
      );
      assert(
        sum === want,
        `the output of version ${PHANTOM_VERSION} changed (checksum ${sum}, pinned ${want}): bump GENERATOR_REVISION in src/data/phantom.ts`,
      );
    },
  },
  {
    name: 'phantom: a subject is a deterministic function of (seed, index)',
    async run() {
      const a = subject(0),
        b = generateSubject(SEED, 0);
      assertBitwise('image (seed 1, index 0)', a.image.data, b.image.data);
      assertBitwise('label (seed 1, index 0)', a.label.data, b.label.data);
      assert(JSON.stringify(a.image.affine) === JSON.stringify(b.image.affine), 'same affine');
      const sums = new Set([
        checksum(a.image.data),
        checksum(subject(1).image.data),
        checksum(generateSubject(SEED + 1, 0).image.data),
      ]);
      assert(sums.size === 3, 'another index or another seed gives another volume');
      let threw = false;
      try {
        generateSubject(1.5, 0);
      } catch {
        threw = true;
      }
      assert(threw, 'a non-integer seed is refused');
    },
  },
  {
    name: 'phantom: geometry, affine, label values and intensity ranges',
    async run() {
      for (const s of subjects()) {
        const { image, label, meta } = s,
          [nx, ny, nz] = image.dims,
          what = image.source;
        assert(image.source === `phantom-${SEED}-${meta.index}`, `source '${image.source}'`);
        assert(nz >= 8 && nz <= 14, `${what}: ${nz} slices`);
        assert(nx >= 160 && nx <= 256 && ny >= 160 && ny <= 256, `${what}: matrix ${nx}×${ny}`);
        assert(image.data.length === nx * ny * nz && label.data.length === image.data.length, `${what}: data lengths`);
        assert(
          JSON.stringify(label.dims) === JSON.stringify(image.dims) &&
            JSON.stringify(label.affine) === JSON.stringify(image.affine),
          `${what}: label geometry`,
        );
        const [sx, sy, sz] = image.spacing;
        assert(sx === sy && sx >= 1.2 && sx <= 1.8, `${what}: in-plane spacing ${sx}, ${sy}`);
        assert(sz >= 5 && sz <= 10, `${what}: slice thickness ${sz}`);
        const a = image.affine,
          fromA = spacingFromAffine(a);
        assert(
          a.length === 16 && a[12] === 0 && a[13] === 0 && a[14] === 0 && a[15] === 1,
          `${what}: affine's last row`,
        );
        assert(
          fromA.every((v, i) => Math.abs(v - image.spacing[i]) < 1e-9),
          `${what}: affine columns ${fromA} vs spacing ${image.spacing}`,
        );
        assert(Math.abs(a[3]) + Math.abs(a[7]) + Math.abs(a[11]) > 1, `${what}: the affine has an origin`);
        const present = [0, 0, 0, 0];
        let lo = Infinity,
          hi = -Infinity;
        for (let p = 0; p < label.data.length; p++) {
          const c = label.data[p];
          assert(c === 0 || c === 1 || c === 2 || c === 3, `${what}: label value ${c}`);
          present[c]++;
          const v = image.data[p];
          if (!(v >= lo)) lo = v;
          if (!(v <= hi)) hi = v;
        }
        assert(
          present.every((n) => n > 0),
          `${what}: classes present ${present}`,
        );
        assert(
          Number.isFinite(lo) && Number.isFinite(hi) && lo >= 0 && hi > 300 && hi < 3000,
          `${what}: intensities in [${lo}, ${hi}]`,
        );
      }
    },
  },
  {
    name: 'phantom: base→apex: LV shrinks, the myocardium stays, the RV shrinks and vanishes',
    async run() {
      for (const s of subjects()) {
        const what = s.image.source,
          c = sliceCounts(s.label),
          nz = c.length;
        // quarters of the stack by position (k < nz/4 basal, k >= 3nz/4 apical)
        const basal = c.filter((_, k) => k < nz / 4),
          apical = c.filter((_, k) => k >= (3 * nz) / 4);
        const area = (p: number[][], cls: number) => mean(p.map((x) => x[cls]));
        assert(
          area(apical, 3) < 0.6 * area(basal, 3),
          `${what}: LV area apical ${area(apical, 3)} vs basal ${area(basal, 3)}`,
        );
        // overall decrease: LV area anticorrelates with the slice index
        const lv = c.map((x) => x[3]),
          ks = c.map((_, k) => k);
        const mk = mean(ks),
          ml = mean(lv);
        let cov = 0,
          vk = 0,
          vl = 0;
        for (let k = 0; k < nz; k++) {
          cov += (ks[k] - mk) * (lv[k] - ml);
          vk += (ks[k] - mk) ** 2;
          vl += (lv[k] - ml) ** 2;
        }
        assert(cov / Math.sqrt(vk * vl) < -0.8, `${what}: LV area per slice ${lv} does not decrease from base to apex`);
        assert(
          c.every((x) => x[2] > 0 && x[3] > 0),
          `${what}: LV and myocardium in every slice`,
        );
        const ratio = (p: number[][]) => area(p, 2) / area(p, 3);
        assert(
          ratio(apical) > 1.5 * ratio(basal),
          `${what}: myocardium/LV area ratio apical ${ratio(apical)} vs basal ${ratio(basal)}`,
        );
        assert(
          area(apical, 1) < 0.2 * area(basal, 1),
          `${what}: RV area apical ${area(apical, 1)} vs basal ${area(basal, 1)}`,
        );
        assert(c[nz - 1][1] === 0, `${what}: RV in the last slice (${c[nz - 1][1]} voxels)`);
        assert(c[0][1] > 0.3 * c[0][3], `${what}: the basal RV is substantial (${c[0][1]} vs LV ${c[0][3]})`);
      }
    },
  },
  {
    name: 'phantom: matching partitions (§3.2, S = 4) of different subjects look alike',
    async run() {
      // per partition: the shares of RV, myocardium and LV in its foreground, relative to the subject's mean
      // share over its partitions (subject groups differ in composition; the question is where along the axis)
      const feats = subjects().map((s) => {
        const c = sliceCounts(s.label);
        const shares = partitions(c.length).map((ks) => {
          const sum = [1, 2, 3].map((cls) => mean(ks.map((k) => c[k][cls])));
          const fg = sum[0] + sum[1] + sum[2];
          return sum.map((v) => v / fg);
        });
        const avg = [0, 1, 2].map((j) => mean(shares.map((f) => f[j])));
        return shares.map((f) => f.map((v, j) => v / avg[j]));
      });
      const dist = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
      // mean distance between partition p of subject a and partition q of subject b ≠ a, by |p − q|
      const d = [0, 0, 0, 0],
        n = [0, 0, 0, 0];
      for (let a = 0; a < feats.length; a++)
        for (let b = 0; b < feats.length; b++) {
          if (a !== b)
            for (let p = 0; p < 4; p++)
              for (let q = 0; q < 4; q++) {
                d[Math.abs(p - q)] += dist(feats[a][p], feats[b][q]);
                n[Math.abs(p - q)]++;
              }
        }
      const m = d.map((v, i) => v / n[i]),
        far = (d[2] + d[3]) / (n[2] + n[3]);
      assert(
        m[0] < m[1] && m[1] < m[2] && m[2] < m[3],
        `distance grows with the partition gap: ${m.map((v) => v.toFixed(3))}`,
      );
      assert(m[0] < 0.6 * far, `same partition ${m[0].toFixed(3)} vs two or more apart ${far.toFixed(3)}`);
    },
  },
  {
    name: 'phantom: an oracle intensity-threshold baseline scores <= 0.6 mean foreground Dice',
    async run() {
      const plain: number[] = [],
        split: number[] = [];
      for (const s of subjects()) {
        plain.push(thresholdBaseline(s.image, s.label, 'plain').mean);
        split.push(thresholdBaseline(s.image, s.label, 'split').mean);
      }
      const fmt = (a: number[]) => a.map((v) => v.toFixed(3)).join(', ');
      assert(mean(plain) <= 0.6, `plain threshold baseline: mean Dice ${mean(plain).toFixed(3)} (${fmt(plain)})`);
      assert(
        mean(split) <= 0.6,
        `threshold baseline with an oracle septum: mean Dice ${mean(split).toFixed(3)} (${fmt(split)})`,
      );
      assert(Math.max(...split) <= 0.68, `threshold baseline with an oracle septum, worst case: ${fmt(split)}`);
    },
  },
  {
    name: 'phantom: the task stays learnable: bright blood, dark myocardium against its surroundings',
    async run() {
      const roi: BaselineResult[] = [];
      for (const s of subjects()) {
        const { label, image } = s,
          y = label.data,
          x = image.data,
          [nx, ny, nz] = label.dims,
          N = nx * ny;
        const sums = [0, 0, 0, 0],
          n = [0, 0, 0, 0];
        for (let p = 0; p < y.length; p++) {
          sums[y[p]] += x[p];
          n[y[p]]++;
        }
        const m = sums.map((v, c) => v / n[c]);
        assert(m[3] > 1.8 * m[2] && m[1] > 1.8 * m[2], `${image.source}: class means ${m.map((v) => v.toFixed(0))}`);
        // background within 3 mm of the myocardium and not of the blood pools: the epicardial surroundings
        const r = Math.ceil(3 / image.spacing[0]);
        let ring = 0,
          nRing = 0;
        for (let k = 0; k < nz; k++)
          for (let j = r; j < ny - r; j++)
            for (let i = r; i < nx - r; i++) {
              const p = k * N + j * nx + i;
              if (y[p] !== 0) continue;
              let nearMyo = false,
                nearBlood = false;
              for (let dj = -r; dj <= r; dj++)
                for (let di = -r; di <= r; di++) {
                  const c = y[p + dj * nx + di];
                  if (c === 2) nearMyo = true;
                  else if (c !== 0) nearBlood = true;
                }
              if (nearMyo && !nearBlood) {
                ring += x[p];
                nRing++;
              }
            }
        assert(
          ring / nRing > 1.3 * m[2],
          `${image.source}: epicardial surroundings ${(ring / nRing).toFixed(0)} vs myocardium ${m[2].toFixed(0)}`,
        );
        roi.push(thresholdBaseline(image, label, 'roi'));
      }
      const fmt = (k: number) => roi.map((r) => r.dice[k].toFixed(2)).join(', ');
      assert(
        mean(roi.map((r) => r.dice[0])) >= 0.7 && mean(roi.map((r) => r.dice[2])) >= 0.75,
        `thresholds inside the true heart region separate the blood pools: RV ${fmt(0)}, LV ${fmt(2)}`,
      );
    },
  },
];
