// Scores of a label map against the truth (spec §7.1): 3-D Dice and HD95 per class, computed in the wasm
// preprocessing module (kernels/preprocess.ts, kernels/distance.ts), and the foreground mean of Dice.
import { Arena, checkLength, checkSize, preprocessModule } from './preprocess.ts';

/**
 * 3-D Dice per class between two label volumes (any numeric arrays of equal length holding integers
 * 0..K−1): d_k = 2|A_k ∩ B_k| / (|A_k| + |B_k|), counted over all voxels. A class absent from both is NaN
 * (sklearn would drop it and shift the later classes, spec §7.1 [QUIRK]; here indices stay fixed).
 * Values outside 0..K−1 or non-integers are refused.
 */
export async function dicePerClass(a: ArrayLike<number>, b: ArrayLike<number>, K: number): Promise<Float64Array> {
  checkSize('Dice', K);
  checkLength('Dice', b, a.length);
  const n = a.length;
  const m = await preprocessModule();
  const mem = new Arena(m);
  const pa = mem.alloc(4 * n),
    pb = mem.alloc(4 * n),
    counts = mem.alloc(12 * K);
  mem.commit();
  mem.f32(pa, n).set(a);
  mem.f32(pb, n).set(b);
  const bad = m.labelCounts(pa, pb, n, K, counts);
  if (bad > 0) throw new Error(`Dice: ${bad} voxels hold a value that is not a class 0..${K - 1}`);
  const c = mem.u32(counts, 3 * K);
  return Float64Array.from({ length: K }, (_, k) =>
    c[k] + c[K + k] === 0 ? NaN : (2 * c[2 * K + k]) / (c[k] + c[K + k]),
  );
}

/**
 * HD95 per class (mm), MedPy's definition: the 95th percentile (linear interpolation) of the distances from
 * every surface voxel of the prediction to the truth's surface and from every surface voxel of the truth to
 * the prediction's, together. NaN for the background and for a class missing from either volume.
 */
export async function hd95PerClass(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  dims: readonly [number, number, number],
  spacing: readonly [number, number, number],
  K: number,
): Promise<Float64Array> {
  const [nx, ny, nz] = dims,
    n = nx * ny * nz;
  checkSize('HD95', nx, ny, nz, K);
  checkLength('HD95', pred, n);
  checkLength('HD95', truth, n);
  const m = await preprocessModule();
  const out = new Float64Array(K).fill(NaN);
  const mem = new Arena(m);
  const pa = mem.alloc(4 * n),
    pb = mem.alloc(4 * n),
    sa = mem.alloc(n),
    sb = mem.alloc(n),
    d = mem.alloc(8 * n);
  const work = mem.alloc(m.edtWorkBytes(nx, ny, nz));
  mem.commit();
  mem.f32(pa, n).set(pred);
  mem.f32(pb, n).set(truth);
  for (let k = 1; k < K; k++) {
    const na = m.surfaceOf(pa, nx, ny, nz, k, sa),
      nb = m.surfaceOf(pb, nx, ny, nz, k, sb);
    if (!na || !nb) continue;
    const dist: number[] = [];
    for (const [from, to] of [
      [sa, sb],
      [sb, sa],
    ]) {
      m.edt3(to, nx, ny, nz, spacing[0], spacing[1], spacing[2], d, work);
      const surf = mem.u8(from, n),
        dd = mem.f64(d, n);
      for (let i = 0; i < n; i++) if (surf[i]) dist.push(Math.sqrt(dd[i]));
    }
    out[k] = percentileLinear(dist, 95);
  }
  return out;
}

/** numpy.percentile's default (linear interpolation between the closest ranks). */
export function percentileLinear(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b),
    pos = ((s.length - 1) * q) / 100,
    lo = Math.floor(pos);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (pos - lo) : s[lo];
}

/** Mean Dice over the foreground classes 1..K−1, skipping NaN (classes absent from both); NaN if none. */
export function meanForegroundDice(dice: ArrayLike<number>): number {
  let s = 0,
    n = 0;
  for (let k = 1; k < dice.length; k++)
    if (!Number.isNaN(dice[k])) {
      s += dice[k];
      n++;
    }
  return n ? s / n : NaN;
}
